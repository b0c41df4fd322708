/* Feature extraction for the offline classifier: one pass over the title and
 * one over the body prefix turn tokens (tokenize.c) into hashed word n-grams
 * (prose and code lines in separate blocks) and title character n-grams,
 * collect lexicon signals (lexicon.c) and structural ones (signals.c) as
 * meta features, then weigh everything by TF-IDF. Knows nothing about
 * weights or categories (model.c, offline.c). */
#include "featurize.h"

#include "lexicon.h"
#include "signals.h"
#include "tokenize.h"

#include <math.h>
#include <string.h>

#define NS_TITLE1 0x7469746c65310000ULL
#define NS_TITLE2 0x7469746c65320000ULL
#define NS_BODY1 0x626f647931000000ULL
#define NS_BODY2 0x626f647932000000ULL
#define NS_BODY3 0x626f647933000000ULL
#define NS_TCHAR 0x7463686172000000ULL
#define NS_META 0x6d65746100000000ULL
#define NS_CODE1 0x636f646531000000ULL
#define NS_CODE2 0x636f646532000000ULL

/* Multiply-shift: the top bits of the product depend on every input bit. */
static uint32_t row_of(uint64_t h, uint64_t ns, unsigned bits)
{
    return (uint32_t)(((h ^ ns) * CLS_K_MUL) >> (64 - bits));
}

uint32_t cls_feat_da_row(uint32_t idx, unsigned k, unsigned bits)
{
    return (uint32_t)(cls_mix64((uint64_t)idx * CLS_K_MUL +
                                (uint64_t)(k + 1) * 0xd1b54a32d192ed03ULL) >>
                      (64 - bits));
}

static bool num_classes(const struct cls_feat_cfg *cfg)
{
    return (cfg->flags & CLS_FEAT_NUM_CLASSES) != 0;
}

/* The hash a token contributes to n-grams (the lexicon always sees t->h). */
static uint64_t word_hash(const struct cls_feat_cfg *cfg, const struct cls_tok *t)
{
    return (cfg->flags & CLS_FEAT_STEM) ? cls_tok_stem_hash(t) : t->h;
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

/* ---- counting ------------------------------------------------------------- */

static void add(struct cls_feat_buf *b, unsigned blk, uint32_t row)
{
    uint32_t key = (uint32_t)blk << 24 | row;
    uint32_t mask = 2 * CLS_FEAT_MAX - 1;
    uint32_t s = (uint32_t)(((uint64_t)(key + 1) * CLS_K_MUL) >> 40) & mask;

    while (b->table[s]) {
        struct cls_feat *f = &b->v[b->table[s] - 1];
        if (f->idx == row && f->blk == blk) {
            f->val += 1.0f;
            return;
        }
        s = (s + 1) & mask;
    }
    if (b->n >= CLS_FEAT_MAX)
        return; /* cap: documents this long are well past the point of signal */
    b->v[b->n].idx = row;
    b->v[b->n].blk = (uint16_t)blk;
    b->v[b->n].slot = (uint16_t)s;
    b->v[b->n].val = 1.0f;
    b->n++;
    b->table[s] = (uint16_t)b->n;
}

static void add_meta(struct cls_feat_buf *b, const struct cls_feat_cfg *cfg, uint64_t h)
{
    if (cfg->blk_weight[CLS_BLK_META] > 0)
        add(b, CLS_BLK_META, row_of(h, NS_META, cfg->bits));
}

static void add_meta_str(struct cls_feat_buf *b, const struct cls_feat_cfg *cfg, const char *s,
                         unsigned v)
{
    add_meta(b, cfg, cls_hash_pair(cls_hash_token(s, strlen(s)), v));
}

/* Issue-template answers found by cls_sig_lines become meta features. */
struct answer_sink {
    const struct cls_feat_cfg *cfg;
    struct cls_feat_buf *b;
};

static void add_answer(void *ud, uint64_t h)
{
    struct answer_sink *a = ud;

    add_meta(a->b, a->cfg, h);
}

/* Identifiers: the parts of a camelCase or snake_case word (useEffect,
 * tf_keras, getElementById) as extra unigrams of the same block, so the
 * words inside an identifier meet the same words in prose. Parts of one
 * letter are skipped; a word that does not split adds nothing. */
static void add_parts(struct cls_feat_buf *b, const struct cls_feat_cfg *cfg, unsigned blk,
                      uint64_t ns, const struct cls_tok *t)
{
    struct cls_tok part[8];
    size_t np = 0, start = 0, n = t->n > 64 ? 64 : t->n;

    if (t->kind != CLS_TOK_WORD)
        return;
    for (size_t i = 1; i <= n && np < 8; i++) {
        bool cut = i == n || t->s[i] == '_' || t->s[i] == '\'' ||
                   (is_upper(t->s[i]) && is_lower(t->s[i - 1])) ||
                   (is_upper(t->s[i]) && i + 1 < n && is_upper(t->s[i - 1]) &&
                    is_lower(t->s[i + 1]));
        if (!cut)
            continue;
        if (i - start >= 2 && t->s[start] != '_') {
            uint64_t h = DAI_FNV64_BASIS;
            for (size_t j = start; j < i; j++)
                h = dai_fnv64_byte(h, cls_lc(t->s[j]));
            part[np].s = t->s + start;
            part[np].n = i - start;
            part[np].h = h;
            part[np].kind = CLS_TOK_WORD;
            np++;
        }
        start = (i < n && (t->s[i] == '_' || t->s[i] == '\'')) ? i + 1 : i;
    }
    if (np < 2)
        return;
    for (size_t i = 0; i < np; i++)
        add(b, blk, row_of(word_hash(cfg, &part[i]), ns, cfg->bits));
}

/* Character 2..5-grams of one word padded with spaces (fastText/char_wb style). */
static void add_char_ngrams(struct cls_feat_buf *b, const struct cls_feat_cfg *cfg,
                            const struct cls_tok *t)
{
    unsigned char w[34];
    size_t n = t->n > 32 ? 32 : t->n;

    w[0] = ' ';
    for (size_t i = 0; i < n; i++)
        w[i + 1] = cls_lc(t->s[i]);
    w[n + 1] = ' ';
    n += 2;
    for (size_t len = 2; len <= 5; len++)
        for (size_t i = 0; i + len <= n; i++)
            add(b, CLS_BLK_TCHAR,
                row_of(cls_hash_token((const char *)w + i, len) + len, NS_TCHAR, cfg->bits));
}

static void do_title(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                     const struct cls_issue_text *in, struct cls_feat_buf *b)
{
    const unsigned char *p = (const unsigned char *)in->title;
    const unsigned char *end = p + in->title_len;
    uint64_t prev = cls_hash_token("\x01tstart", 7);
    bool version = false, on = cfg->blk_weight[CLS_BLK_TITLE] > 0;
    bool chars = cfg->blk_weight[CLS_BLK_TCHAR] > 0;
    struct cls_tok t;
    uint64_t rprev = prev;

    while (cls_tok_next(&p, end, num_classes(cfg), &version, &t)) {
        uint64_t wh = word_hash(cfg, &t), bg = cls_hash_pair(prev, wh);
        if (on) {
            add(b, CLS_BLK_TITLE, row_of(wh, NS_TITLE1, cfg->bits));
            add(b, CLS_BLK_TITLE, row_of(bg, NS_TITLE2, cfg->bits));
            if (cfg->flags & CLS_FEAT_SPLIT)
                add_parts(b, cfg, CLS_BLK_TITLE, NS_TITLE1, &t);
        }
        if (chars && t.kind == CLS_TOK_WORD)
            add_char_ngrams(b, cfg, &t);
        b->sig.title |= cls_lexicon_find(lex, t.h) |
                        cls_lexicon_find(lex, wh == t.h && prev == rprev
                                                  ? bg
                                                  : cls_hash_pair(rprev, t.h));
        prev = wh;
        rprev = t.h;
    }
    if (on)
        add(b, CLS_BLK_TITLE,
            row_of(cls_hash_pair(prev, cls_hash_token("\x01tend", 5)), NS_TITLE2, cfg->bits));
    if (version)
        b->sig.title |= 1u << CLS_SIG_VERSION;
    cls_sig_title(in->title, in->title_len, &b->sig);
}

size_t cls_feat_title_words(const struct cls_feat_cfg *cfg, const char *title, size_t n,
                            struct cls_title_word *out, size_t max)
{
    const unsigned char *p = (const unsigned char *)title, *end = p + n;
    bool version = false;
    struct cls_tok t;
    size_t k = 0;

    while (k < max && cls_tok_next(&p, end, num_classes(cfg), &version, &t)) {
        if (t.kind != CLS_TOK_WORD || t.n < 2)
            continue;
        out[k].off = (size_t)(t.s - (const unsigned char *)title);
        out[k].len = t.n;
        out[k].row = row_of(word_hash(cfg, &t), NS_TITLE1, cfg->bits);
        k++;
    }
    return k;
}

/* Word n-gram state of one stream of tokens (prose or code). */
struct chain {
    uint64_t w1, w2; /* n-gram hashes of the last two tokens */
    uint64_t r1;     /* raw hash of the last token, for lexicon bigrams */
    size_t n;        /* tokens so far */
};

/* Tokens of s[0..n) into block blk: unigrams, bigrams (and trigrams) when
 * asked, identifier parts, and lexicon signals of the body. */
static void body_tokens(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                        const char *s, size_t n, unsigned blk, uint64_t ns1, uint64_t ns2,
                        unsigned grams, struct chain *ch, bool *version, struct cls_feat_buf *b)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    bool on = cfg->blk_weight[blk] > 0, split = cfg->flags & CLS_FEAT_SPLIT;
    struct cls_tok t;

    while (cls_tok_next(&p, end, num_classes(cfg), version, &t)) {
        uint64_t wh = word_hash(cfg, &t), bg = cls_hash_pair(ch->w1, wh);
        if (on) {
            add(b, blk, row_of(wh, ns1, cfg->bits));
            if (grams >= 2 && ch->n)
                add(b, blk, row_of(bg, ns2, cfg->bits));
            if (grams >= 3 && ch->n > 1)
                add(b, blk, row_of(cls_hash_pair(ch->w2, bg), NS_BODY3, cfg->bits));
            if (split)
                add_parts(b, cfg, blk, ns1, &t);
        }
        if (ch->n)
            b->sig.body |= cls_lexicon_find(lex, wh == t.h && ch->w1 == ch->r1 ? bg
                                                                      : cls_hash_pair(ch->r1, t.h));
        b->sig.body |= cls_lexicon_find(lex, t.h);
        ch->w2 = ch->w1;
        ch->w1 = wh;
        ch->r1 = t.h;
        ch->n++;
    }
}

/* With CLS_FEAT_CODE, lines inside ``` / ~~~ fences, stack-trace lines (and
 * with CLS_FEAT_QUOTE quoted "> " lines) feed CLS_BLK_CODE, normalised on
 * its own, so a long log or snippet does not drown the prose words of the
 * body block. Prose bigrams do not reach across a code line. */
static void body_by_lines(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                          const char *s, size_t n, bool *version, struct cls_feat_buf *b)
{
    struct chain prose = {0}, code = {0};
    unsigned pg = (cfg->flags & CLS_FEAT_BODY_TRIGRAMS) ? 3 : 2;
    unsigned cg = (cfg->flags & CLS_FEAT_CODE_BIGRAMS) ? 2 : 1;
    bool fence = false;
    size_t i = 0;

    prose.w1 = prose.r1 = cls_hash_token("\x01bstart", 7);
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n, j = i, ll;
        const char *l;

        while (j < e && (s[j] == ' ' || s[j] == '\t'))
            j++;
        l = s + j;
        ll = e - j;
        if (cls_sig_is_fence(l, ll)) {
            fence = !fence;
            code.n = 0;
        } else if (ll && (fence || cls_sig_is_trace(l, ll, j - i) ||
                          ((cfg->flags & CLS_FEAT_QUOTE) && l[0] == '>'))) {
            body_tokens(cfg, lex, l, ll, CLS_BLK_CODE, NS_CODE1, NS_CODE2, cg, &code, version,
                        b);
            prose.n = 0;
        } else if (ll) {
            body_tokens(cfg, lex, l, ll, CLS_BLK_BODY, NS_BODY1, NS_BODY2, pg, &prose, version,
                        b);
        }
        i = e + 1;
    }
}

static void do_body(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                    const struct cls_issue_text *in, struct cls_feat_buf *b)
{
    size_t n = in->body_len < cfg->body_max ? in->body_len : cfg->body_max;
    bool version = false;

    if (cfg->flags & CLS_FEAT_CODE) {
        body_by_lines(cfg, lex, in->body, n, &version, b);
    } else {
        struct chain ch = {0};
        ch.w1 = ch.r1 = cls_hash_token("\x01bstart", 7);
        body_tokens(cfg, lex, in->body, n, CLS_BLK_BODY, NS_BODY1, NS_BODY2,
                    (cfg->flags & CLS_FEAT_BODY_TRIGRAMS) ? 3 : 2, &ch, &version, b);
    }
    if (version)
        b->sig.body |= 1u << CLS_SIG_VERSION;
    cls_sig_lines(in->body, n, &b->sig, add_answer,
                  &(struct answer_sink){.cfg = cfg, .b = b});
}

static unsigned bin3(unsigned v, unsigned a, unsigned c)
{
    return v == 0 ? 0 : v < a ? 1 : v < c ? 2 : 3;
}

static void do_meta(const struct cls_feat_cfg *cfg, const struct cls_issue_text *in,
                    struct cls_feat_buf *b)
{
    const struct cls_signals *s = &b->sig;
    size_t bl = s->body_len;

    for (unsigned k = 0; k < CLS_SIG_COUNT; k++) {
        if (s->title & (1u << k))
            add_meta_str(b, cfg, "t", k);
        if (s->body & (1u << k))
            add_meta_str(b, cfg, "b", k);
    }
    add_meta_str(b, cfg, "trace", bin3(s->trace_lines, 4, 16));
    add_meta_str(b, cfg, "code", bin3(s->code_blocks / 2, 2, 4));
    add_meta_str(b, cfg, "check", bin3(s->checkboxes, 4, 8));
    add_meta_str(b, cfg, "blen", bl == 0 ? 0 : bl < 200 ? 1 : bl < 1000 ? 2 : bl < 4000 ? 3 : 4);
    add_meta_str(b, cfg, "tlen", bin3((unsigned)in->title_len, 30, 70));
    if (s->prefix[0])
        add_meta(b, cfg, cls_hash_pair(cls_hash_token("pfx", 3),
                                   cls_hash_token(s->prefix, strlen(s->prefix))));
    if (in->is_pull_request)
        add_meta_str(b, cfg, "pr", 1);
}

void cls_feat_extract(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                      const struct cls_issue_text *in, struct cls_feat_buf *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->table[b->v[i].slot] = 0;
    b->n = 0;
    memset(&b->sig, 0, sizeof(b->sig));
    b->sig.body_len = in->body ? in->body_len : 0;
    if (in->title)
        do_title(cfg, lex, in, b);
    if (in->body && in->body_len)
        do_body(cfg, lex, in, b);
    do_meta(cfg, in, b);
}

void cls_feat_weigh(const struct cls_feat_cfg *cfg, const int16_t *q, size_t stride,
                    float idf_scale, struct cls_feat_buf *b)
{
    float ss[CLS_BLK_COUNT] = {0}, scale[CLS_BLK_COUNT];
    size_t o = 0;

    /* the table is megabytes and every row is a cache miss: fetch ahead */
    for (size_t i = 0; i < b->n && i < 16; i++)
        __builtin_prefetch(q + (size_t)b->v[i].idx * stride);
    for (size_t i = 0; i < b->n; i++) {
        struct cls_feat *f = &b->v[i];
        int16_t w;
        if (i + 16 < b->n)
            __builtin_prefetch(q + (size_t)b->v[i + 16].idx * stride);
        w = q[(size_t)f->idx * stride];
        b->table[f->slot] = 0;
        if (w <= 0)
            continue;
        f->val = ((cfg->flags & CLS_FEAT_BINARY) ? 1.0f : 1.0f + logf(f->val)) * (float)w *
                 idf_scale;
        ss[f->blk] += f->val * f->val;
        b->v[o++] = *f;
    }
    b->n = o;
    for (unsigned k = 0; k < CLS_BLK_COUNT; k++)
        scale[k] = ss[k] > 0 ? cfg->blk_weight[k] / sqrtf(ss[k]) : 0;
    for (size_t i = 0; i < b->n; i++)
        b->v[i].val *= scale[b->v[i].blk];
}
