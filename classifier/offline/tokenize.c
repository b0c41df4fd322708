/* The offline classifier's tokeniser: one pass over the bytes splits words,
 * numbers and one-character tokens and hashes each; and the light stemmer
 * that lets inflections share a feature row. */
#include "tokenize.h"

#include <string.h>

uint64_t cls_hash_token(const char *s, size_t n)
{
    uint64_t h = DAI_FNV64_BASIS;

    for (size_t i = 0; i < n; i++)
        h = dai_fnv64_byte(h, cls_lc((unsigned char)s[i]));
    return h;
}

/* Character classes indexed by byte: 0 other, 1 letter (A-Z a-z _ and every
 * byte >= 0x80), 2 digit, 3 apostrophe, 4 one-character token ?!`#*[]: */
static const unsigned char char_classes[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 4, 0, 4, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 0, 0, 0, 0, 4,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 4, 0, 1,
    4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* The hash is computed in the same pass: it is the tokeniser's main cost. */
bool cls_tok_next(const unsigned char **pp, const unsigned char *end, bool num_classes,
                  bool *version, struct cls_tok *t)
{
    const unsigned char *p = *pp;
    uint64_t h = DAI_FNV64_BASIS;
    int c = CLS_TOK_OTHER;

    while (p < end) {
        c = char_classes[*p];
        if (c != CLS_TOK_OTHER && c != CLS_TOK_APOS)
            break;
        p++;
    }
    if (p >= end) {
        *pp = p;
        return false;
    }
    t->s = p;
    t->kind = c;
    if (c == CLS_TOK_PUNCT) {
        h = dai_fnv64_byte(h, *p);
        p++;
    } else if (c == CLS_TOK_NUMBER) {
        while (p < end && char_classes[*p] == CLS_TOK_NUMBER) {
            h = dai_fnv64_byte(h, *p);
            p++;
        }
        if (p + 1 < end && *p == '.' && char_classes[p[1]] == CLS_TOK_NUMBER)
            *version = true;
    } else {
        while (p < end && char_classes[*p] != CLS_TOK_OTHER &&
               char_classes[*p] != CLS_TOK_PUNCT) {
            h = dai_fnv64_byte(h, cls_lc(*p));
            p++;
        }
    }
    t->n = (size_t)(p - t->s);
    *pp = p;
    if (c == CLS_TOK_NUMBER && num_classes && t->n >= 3)
        t->h = cls_hash_token("000000", t->n < 6 ? t->n : 6);
    else
        t->h = h;
    return true;
}

static bool has_vowel(const unsigned char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] == 'a' || w[i] == 'e' || w[i] == 'i' || w[i] == 'o' || w[i] == 'u' ||
            w[i] == 'y')
            return true;
    return false;
}

/* Light suffix stripping so crash/crashes/crashed/crashing, update/updated/
 * updating or library/libraries share a row: one of -ies/-sses/-ing/-ed/-ly/-s
 * (not -ss/-us/-is), a doubled final consonant after -ing/-ed, then a final
 * -e. Deliberately crude (an S-stemmer plus a little): the rows only need to
 * agree with each other, not to be words. ASCII letter words of 4..32 bytes;
 * anything else keeps its own hash. */
uint64_t cls_tok_stem_hash(const struct cls_tok *t)
{
    unsigned char w[32];
    size_t n = t->n, k;
    uint64_t h = DAI_FNV64_BASIS;
    bool undouble = false;

    if (t->kind != CLS_TOK_WORD || n < 4 || n > sizeof(w))
        return t->h;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = cls_lc(t->s[i]);
        if (c < 'a' || c > 'z')
            return t->h;
        w[i] = c;
    }
    k = n;
    if (n > 4 && !memcmp(w + n - 3, "ies", 3)) {
        k = n - 2;
        w[k - 1] = 'y';
    } else if (n > 4 && !memcmp(w + n - 4, "sses", 4)) {
        k = n - 2;
    } else if (n >= 6 && !memcmp(w + n - 3, "ing", 3) && has_vowel(w, n - 3)) {
        k = n - 3;
        undouble = true;
    } else if (n >= 5 && !memcmp(w + n - 2, "ed", 2) && has_vowel(w, n - 2)) {
        k = n - 2;
        undouble = true;
    } else if (n >= 6 && !memcmp(w + n - 2, "ly", 2)) {
        k = n - 2;
    } else if (w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i') {
        k = n - 1;
    }
    if (undouble && k >= 4 && w[k - 1] == w[k - 2] && w[k - 1] != 'l' && w[k - 1] != 's' &&
        w[k - 1] != 'z')
        k--;
    if (k >= 4 && w[k - 1] == 'e')
        k--;
    if (k == n)
        return t->h;
    for (size_t i = 0; i < k; i++)
        h = dai_fnv64_byte(h, w[i]);
    return h;
}
