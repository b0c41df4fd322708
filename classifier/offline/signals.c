/* Structural signals of an issue's text: the title's question mark and
 * "[tag]" / "word:" prefix, and one pass over the body's lines for code
 * fences, checkboxes, stack traces and issue-template answers. Signal names
 * for explanations. */
#include "signals.h"

#include "tokenize.h"

#include <string.h>

static const char *const sig_names[CLS_SIG_COUNT] = {
    [CLS_SIG_HOWTO] = "how-to",         [CLS_SIG_WISH] = "wish",
    [CLS_SIG_ERROR] = "error",          [CLS_SIG_CRASH] = "crash",
    [CLS_SIG_HANG] = "hang",            [CLS_SIG_DATALOSS] = "data-loss",
    [CLS_SIG_SECURITY] = "security",    [CLS_SIG_REGRESSION] = "regression",
    [CLS_SIG_DOCS] = "docs",            [CLS_SIG_IMPROVE] = "improve",
    [CLS_SIG_PERF] = "performance",     [CLS_SIG_BUILD] = "build",
    [CLS_SIG_QWORD] = "question-word",  [CLS_SIG_THANKS] = "asks-help",
    [CLS_SIG_FIXWORD] = "fix",          [CLS_SIG_ADDWORD] = "add",
    [CLS_SIG_BUGWORD] = "bug-word",     [CLS_SIG_BIG] = "large-change",
    [CLS_SIG_TRACE] = "stack-trace",
    [CLS_SIG_CODE] = "code-block",      [CLS_SIG_CHECKBOX] = "checkboxes",
    [CLS_SIG_VERSION] = "version",      [CLS_SIG_QMARK] = "title-question-mark",
    [CLS_SIG_PREFIX] = "title-prefix",  [CLS_SIG_REPRO] = "repro-steps",
    [CLS_SIG_EXPECTED] = "expected-vs-actual",
};

const char *cls_sig_name(enum cls_sig s)
{
    return (unsigned)s < CLS_SIG_COUNT ? sig_names[s] : "?";
}

static void title_prefix(const char *t, size_t n, struct cls_signals *sig)
{
    size_t i = 0, o = 0, end;

    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    if (i < n && t[i] == '[') {
        const char *close = memchr(t + i, ']', n - i);
        if (!close || (size_t)(close - t) - i > 40)
            return;
        end = (size_t)(close - t);
        i++;
    } else {
        const char *colon = memchr(t + i, ':', n - i < 24 ? n - i : 24);
        if (!colon)
            return;
        end = (size_t)(colon - t);
    }
    for (; i < end && o + 1 < sizeof(sig->prefix); i++) {
        unsigned char c = cls_lc((unsigned char)t[i]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            sig->prefix[o++] = (char)c;
        else if (o && sig->prefix[o - 1] != ' ')
            sig->prefix[o++] = ' ';
    }
    while (o && sig->prefix[o - 1] == ' ')
        o--;
    sig->prefix[o] = '\0';
    if (o)
        sig->title |= 1u << CLS_SIG_PREFIX;
}

void cls_sig_title(const char *title, size_t n, struct cls_signals *sig)
{
    size_t last = n;

    while (last && (title[last - 1] == ' ' || title[last - 1] == '\t' ||
                    title[last - 1] == '\n' || title[last - 1] == '\r'))
        last--;
    if (last && title[last - 1] == '?')
        sig->title |= 1u << CLS_SIG_QMARK;
    title_prefix(title, n, sig);
}

static bool starts(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && !memcmp(s, lit, l);
}

/* Hash of the letters of s[0..n) (lower-cased), at most max of them; spaces
 * between words are kept as one '_' so answers stay distinguishable. Returns
 * the number of words seen. */
static unsigned hash_letters(const char *s, size_t n, size_t max, uint64_t *h)
{
    unsigned words = 0;
    size_t used = 0;
    bool in_word = false;

    for (size_t i = 0; i < n && used < max; i++) {
        unsigned char c = cls_lc((unsigned char)s[i]);
        if (c >= 'a' && c <= 'z') {
            if (!in_word) {
                words++;
                if (words > 1) {
                    *h = dai_fnv64_byte(*h, '_');
                    used++;
                }
            }
            in_word = true;
            *h = dai_fnv64_byte(*h, c);
            used++;
        } else if (c == ' ' || c == '\t') {
            in_word = false;
        }
    }
    return words;
}

/* A stack-trace line: JS/Java "at f (...)" (indented), Python frames, gdb/
 * backtrace frames "#3 0x...". l is the line without its indent. */
bool cls_sig_is_trace(const char *l, size_t ll, size_t indent)
{
    return (indent && starts(l, ll, "at ")) || starts(l, ll, "File \"") ||
           starts(l, ll, "Traceback (most") ||
           (l[0] == '#' && ll > 2 && l[1] >= '0' && l[1] <= '9' && memmem(l, ll, " 0x", 3));
}

bool cls_sig_is_fence(const char *l, size_t ll)
{
    return starts(l, ll, "```") || starts(l, ll, "~~~");
}

void cls_sig_lines(const char *s, size_t n, struct cls_signals *sig,
                   void (*on_answer)(void *ud, uint64_t h), void *ud)
{
    size_t i = 0;
    uint64_t pending = 0; /* hash of the last heading awaiting its answer */

    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n, j = i, indent;
        const char *l;
        size_t ll;

        while (j < e && (s[j] == ' ' || s[j] == '\t'))
            j++;
        indent = j - i;
        l = s + j;
        ll = e - j;
        while (ll && (l[ll - 1] == '\r' || l[ll - 1] == ' '))
            ll--;
        i = e + 1;
        if (!ll)
            continue;
        if (cls_sig_is_fence(l, ll)) {
            sig->code_blocks++;
            pending = 0;
            continue;
        }
        if ((l[0] == '-' || l[0] == '*') && ll >= 5 && l[1] == ' ' && l[2] == '[' &&
            (l[3] == ' ' || l[3] == 'x' || l[3] == 'X') && l[4] == ']')
            sig->checkboxes++;
        if (cls_sig_is_trace(l, ll, indent))
            sig->trace_lines++;
        if (starts(l, ll, "Type: <b>")) {
            uint64_t h = cls_hash_token("vstype", 6);
            hash_letters(l + 9, ll - 9, 24, &h);
            on_answer(ud, h);
        }
        if (l[0] == '#' || starts(l, ll, "**")) {
            size_t k = 0;
            uint64_t h = cls_hash_token("kv", 2);
            while (k < ll && (l[k] == '#' || l[k] == '*'))
                k++;
            if (k < ll && l[k] == ' ' && hash_letters(l + k, ll - k, 30, &h)) {
                pending = h;
                continue;
            }
        }
        if (pending) {
            uint64_t h = pending ^ 0x3d;
            unsigned w = hash_letters(l, ll, 40, &h);
            if (w >= 1 && w <= 4)
                on_answer(ud, h);
            pending = 0; /* only the first line after a heading is its answer */
        }
    }
    if (sig->trace_lines)
        sig->body |= 1u << CLS_SIG_TRACE;
    if (sig->code_blocks >= 2)
        sig->body |= 1u << CLS_SIG_CODE;
    if (sig->checkboxes)
        sig->body |= 1u << CLS_SIG_CHECKBOX;
}
