/* Feature extraction for the offline classifier: one pass over the title and
 * one over the body prefix produce hashed word n-grams (prose and code lines
 * in separate blocks), title character n-grams, lexicon signals and
 * structural signals (template answers, traces, code fences, checkboxes),
 * then TF-IDF weighting. Knows nothing about weights or categories (model.c,
 * offline.c). */
#include "featurize.h"

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
#define K_MUL 0x9e3779b97f4a7c15ULL

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

uint64_t cls_hash_token(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= lc((unsigned char)s[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_pair(uint64_t a, uint64_t b)
{
    return mix64(a * K_MUL + b);
}

/* Multiply-shift: the top bits of the product depend on every input bit. */
static uint32_t row_of(uint64_t h, uint64_t ns, unsigned bits)
{
    return (uint32_t)(((h ^ ns) * K_MUL) >> (64 - bits));
}

uint32_t cls_feat_da_row(uint32_t idx, unsigned k, unsigned bits)
{
    return (uint32_t)(mix64((uint64_t)idx * K_MUL + (uint64_t)(k + 1) * 0xd1b54a32d192ed03ULL) >>
                      (64 - bits));
}

/* ---- lexicon -------------------------------------------------------------- */

struct lex_entry {
    const char *phrase; /* one word, or two separated by one space */
    enum cls_sig sig;
};

static const struct lex_entry lex_entries[] = {
    {"how do", CLS_SIG_HOWTO}, {"how can", CLS_SIG_HOWTO}, {"how to", CLS_SIG_HOWTO},
    {"how should", CLS_SIG_HOWTO}, {"it possible", CLS_SIG_HOWTO}, {"a way", CLS_SIG_HOWTO},
    {"possible to", CLS_SIG_HOWTO}, {"any way", CLS_SIG_HOWTO}, {"best way", CLS_SIG_HOWTO},
    {"correct way", CLS_SIG_HOWTO}, {"right way", CLS_SIG_HOWTO},
    {"be nice", CLS_SIG_WISH}, {"be great", CLS_SIG_WISH}, {"be useful", CLS_SIG_WISH},
    {"be helpful", CLS_SIG_WISH}, {"would like", CLS_SIG_WISH}, {"i'd like", CLS_SIG_WISH},
    {"feature request", CLS_SIG_WISH}, {"please add", CLS_SIG_WISH},
    {"add support", CLS_SIG_WISH}, {"to see", CLS_SIG_WISH}, {"nice to", CLS_SIG_WISH},
    {"suggestion", CLS_SIG_WISH}, {"proposal", CLS_SIG_WISH}, {"propose", CLS_SIG_WISH},
    {"suggest", CLS_SIG_WISH}, {"wish", CLS_SIG_WISH},
    {"error", CLS_SIG_ERROR}, {"errors", CLS_SIG_ERROR}, {"exception", CLS_SIG_ERROR},
    {"exceptions", CLS_SIG_ERROR}, {"fail", CLS_SIG_ERROR}, {"fails", CLS_SIG_ERROR},
    {"failed", CLS_SIG_ERROR}, {"failing", CLS_SIG_ERROR}, {"failure", CLS_SIG_ERROR},
    {"crash", CLS_SIG_CRASH}, {"crashes", CLS_SIG_CRASH}, {"crashed", CLS_SIG_CRASH},
    {"crashing", CLS_SIG_CRASH}, {"segfault", CLS_SIG_CRASH}, {"sigsegv", CLS_SIG_CRASH},
    {"segmentation", CLS_SIG_CRASH}, {"core dumped", CLS_SIG_CRASH}, {"abort", CLS_SIG_CRASH},
    {"aborted", CLS_SIG_CRASH}, {"panic", CLS_SIG_CRASH}, {"fatal", CLS_SIG_CRASH},
    {"assertion", CLS_SIG_CRASH},
    {"hang", CLS_SIG_HANG}, {"hangs", CLS_SIG_HANG}, {"hanging", CLS_SIG_HANG},
    {"freeze", CLS_SIG_HANG}, {"freezes", CLS_SIG_HANG}, {"frozen", CLS_SIG_HANG},
    {"deadlock", CLS_SIG_HANG}, {"unresponsive", CLS_SIG_HANG}, {"stuck", CLS_SIG_HANG},
    {"data loss", CLS_SIG_DATALOSS}, {"lost data", CLS_SIG_DATALOSS},
    {"loses data", CLS_SIG_DATALOSS}, {"lose data", CLS_SIG_DATALOSS},
    {"lost funds", CLS_SIG_DATALOSS}, {"funds lost", CLS_SIG_DATALOSS},
    {"corrupt", CLS_SIG_DATALOSS}, {"corrupted", CLS_SIG_DATALOSS},
    {"corruption", CLS_SIG_DATALOSS}, {"dataloss", CLS_SIG_DATALOSS},
    {"security", CLS_SIG_SECURITY}, {"vulnerability", CLS_SIG_SECURITY},
    {"vulnerabilities", CLS_SIG_SECURITY}, {"vulnerable", CLS_SIG_SECURITY},
    {"cve", CLS_SIG_SECURITY}, {"exploit", CLS_SIG_SECURITY}, {"exploitable", CLS_SIG_SECURITY},
    {"xss", CLS_SIG_SECURITY}, {"csrf", CLS_SIG_SECURITY}, {"rce", CLS_SIG_SECURITY},
    {"remote code", CLS_SIG_SECURITY}, {"buffer overflow", CLS_SIG_SECURITY},
    {"privilege escalation", CLS_SIG_SECURITY}, {"code execution", CLS_SIG_SECURITY},
    {"information disclosure", CLS_SIG_SECURITY}, {"sql injection", CLS_SIG_SECURITY},
    {"regression", CLS_SIG_REGRESSION}, {"regressed", CLS_SIG_REGRESSION},
    {"used to", CLS_SIG_REGRESSION}, {"no longer", CLS_SIG_REGRESSION},
    {"stopped working", CLS_SIG_REGRESSION}, {"after updating", CLS_SIG_REGRESSION},
    {"after upgrading", CLS_SIG_REGRESSION}, {"since updating", CLS_SIG_REGRESSION},
    {"since upgrading", CLS_SIG_REGRESSION}, {"worked before", CLS_SIG_REGRESSION},
    {"docs", CLS_SIG_DOCS}, {"documentation", CLS_SIG_DOCS}, {"doc", CLS_SIG_DOCS},
    {"typo", CLS_SIG_DOCS}, {"typos", CLS_SIG_DOCS}, {"readme", CLS_SIG_DOCS},
    {"docstring", CLS_SIG_DOCS}, {"docstrings", CLS_SIG_DOCS}, {"tutorial", CLS_SIG_DOCS},
    {"improve", CLS_SIG_IMPROVE}, {"improves", CLS_SIG_IMPROVE}, {"improved", CLS_SIG_IMPROVE},
    {"improvement", CLS_SIG_IMPROVE}, {"improvements", CLS_SIG_IMPROVE},
    {"enhance", CLS_SIG_IMPROVE}, {"enhancement", CLS_SIG_IMPROVE}, {"better", CLS_SIG_IMPROVE},
    {"faster", CLS_SIG_IMPROVE}, {"optimize", CLS_SIG_IMPROVE}, {"optimise", CLS_SIG_IMPROVE},
    {"optimization", CLS_SIG_IMPROVE}, {"refactor", CLS_SIG_IMPROVE},
    {"simplify", CLS_SIG_IMPROVE}, {"more efficient", CLS_SIG_IMPROVE},
    {"slow", CLS_SIG_PERF}, {"slower", CLS_SIG_PERF}, {"performance", CLS_SIG_PERF},
    {"latency", CLS_SIG_PERF}, {"memory usage", CLS_SIG_PERF}, {"memory leak", CLS_SIG_PERF},
    {"leak", CLS_SIG_PERF}, {"cpu usage", CLS_SIG_PERF}, {"throughput", CLS_SIG_PERF},
    {"build", CLS_SIG_BUILD}, {"building", CLS_SIG_BUILD}, {"compile", CLS_SIG_BUILD},
    {"compiling", CLS_SIG_BUILD}, {"compiler", CLS_SIG_BUILD}, {"cmake", CLS_SIG_BUILD},
    {"linker", CLS_SIG_BUILD}, {"undefined reference", CLS_SIG_BUILD},
    {"install", CLS_SIG_BUILD}, {"installation", CLS_SIG_BUILD}, {"installing", CLS_SIG_BUILD},
    {"makefile", CLS_SIG_BUILD}, {"bazel", CLS_SIG_BUILD},
    {"why", CLS_SIG_QWORD}, {"what", CLS_SIG_QWORD}, {"how", CLS_SIG_QWORD},
    {"which", CLS_SIG_QWORD}, {"where", CLS_SIG_QWORD}, {"whether", CLS_SIG_QWORD},
    {"can i", CLS_SIG_QWORD}, {"should i", CLS_SIG_QWORD}, {"do i", CLS_SIG_QWORD},
    {"is it", CLS_SIG_QWORD}, {"does it", CLS_SIG_QWORD},
    {"thanks", CLS_SIG_THANKS}, {"thank", CLS_SIG_THANKS}, {"please", CLS_SIG_THANKS},
    {"help", CLS_SIG_THANKS}, {"anyone", CLS_SIG_THANKS}, {"somebody", CLS_SIG_THANKS},
    {"advice", CLS_SIG_THANKS},
    {"fix", CLS_SIG_FIXWORD}, {"fixes", CLS_SIG_FIXWORD}, {"fixed", CLS_SIG_FIXWORD},
    {"fixing", CLS_SIG_FIXWORD}, {"resolves", CLS_SIG_FIXWORD}, {"closes", CLS_SIG_FIXWORD},
    {"this pr", CLS_SIG_FIXWORD},
    {"add", CLS_SIG_ADDWORD}, {"adds", CLS_SIG_ADDWORD}, {"adding", CLS_SIG_ADDWORD},
    {"support", CLS_SIG_ADDWORD}, {"allow", CLS_SIG_ADDWORD}, {"allows", CLS_SIG_ADDWORD},
    {"implement", CLS_SIG_ADDWORD}, {"provide", CLS_SIG_ADDWORD}, {"option", CLS_SIG_ADDWORD},
    {"introduce", CLS_SIG_ADDWORD}, {"ability to", CLS_SIG_ADDWORD},
    {"bug", CLS_SIG_BUGWORD}, {"bugs", CLS_SIG_BUGWORD}, {"broken", CLS_SIG_BUGWORD},
    {"wrong", CLS_SIG_BUGWORD}, {"incorrect", CLS_SIG_BUGWORD}, {"unexpected", CLS_SIG_BUGWORD},
    {"doesn't work", CLS_SIG_BUGWORD}, {"not working", CLS_SIG_BUGWORD},
    {"does not", CLS_SIG_BUGWORD},
    {"rewrite", CLS_SIG_BIG}, {"redesign", CLS_SIG_BIG}, {"migrate", CLS_SIG_BIG},
    {"migration", CLS_SIG_BIG}, {"overhaul", CLS_SIG_BIG}, {"architecture", CLS_SIG_BIG},
    {"repro", CLS_SIG_REPRO}, {"reproduce", CLS_SIG_REPRO}, {"reproducible", CLS_SIG_REPRO},
    {"reproduction", CLS_SIG_REPRO},
    {"expected behavior", CLS_SIG_EXPECTED}, {"expected behaviour", CLS_SIG_EXPECTED},
    {"expected result", CLS_SIG_EXPECTED}, {"actual behavior", CLS_SIG_EXPECTED},
    {"actual behaviour", CLS_SIG_EXPECTED}, {"current behavior", CLS_SIG_EXPECTED},
    {"current behaviour", CLS_SIG_EXPECTED},
};

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

static uint64_t lex_key(uint64_t k)
{
    return k ? k : 1;
}

void cls_lexicon_init(struct cls_lexicon *lex)
{
    memset(lex, 0, sizeof(*lex));
    for (size_t i = 0; i < sizeof(lex_entries) / sizeof(lex_entries[0]); i++) {
        const char *p = lex_entries[i].phrase;
        const char *sp = strchr(p, ' ');
        uint64_t k;
        size_t s;

        if (sp)
            k = hash_pair(cls_hash_token(p, (size_t)(sp - p)),
                          cls_hash_token(sp + 1, strlen(sp + 1)));
        else
            k = cls_hash_token(p, strlen(p));
        k = lex_key(k);
        s = (size_t)(k & (CLS_LEX_SLOTS - 1));
        while (lex->key[s] && lex->key[s] != k)
            s = (s + 1) & (CLS_LEX_SLOTS - 1);
        lex->key[s] = k;
        lex->bits[s] |= 1u << lex_entries[i].sig;
    }
}

static uint32_t lex_find(const struct cls_lexicon *lex, uint64_t k)
{
    size_t s;

    k = lex_key(k);
    s = (size_t)(k & (CLS_LEX_SLOTS - 1));
    while (lex->key[s]) {
        if (lex->key[s] == k)
            return lex->bits[s];
        s = (s + 1) & (CLS_LEX_SLOTS - 1);
    }
    return 0;
}

/* ---- tokeniser ------------------------------------------------------------ */

enum { CH_OTHER = 0, CH_ALPHA, CH_DIGIT, CH_APOS, CH_PUNCT };

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

struct tok {
    const unsigned char *s;
    size_t n;
    uint64_t h;
    int kind; /* CH_ALPHA, CH_DIGIT or CH_PUNCT */
};

/* Next token in [*pp, end); false at the end. Words are [A-Za-z_][A-Za-z0-9_']*
 * (bytes >= 0x80 count as letters, so any encoding tokenises), numbers are
 * digit runs, and ?!`#*[]: are one-character tokens. The hash is computed in
 * the same pass (it is the tokeniser's main cost). */
static bool next_token(const unsigned char **pp, const unsigned char *end, unsigned flags,
                       bool *version, struct tok *t)
{
    const unsigned char *p = *pp;
    uint64_t h = 0xcbf29ce484222325ULL;
    int c = CH_OTHER;

    while (p < end) {
        c = char_classes[*p];
        if (c != CH_OTHER && c != CH_APOS)
            break;
        p++;
    }
    if (p >= end) {
        *pp = p;
        return false;
    }
    t->s = p;
    t->kind = c;
    if (c == CH_PUNCT) {
        h = (h ^ *p) * 0x100000001b3ULL;
        p++;
    } else if (c == CH_DIGIT) {
        while (p < end && char_classes[*p] == CH_DIGIT) {
            h = (h ^ *p) * 0x100000001b3ULL;
            p++;
        }
        if (p + 1 < end && *p == '.' && char_classes[p[1]] == CH_DIGIT)
            *version = true;
    } else {
        while (p < end && char_classes[*p] != CH_OTHER && char_classes[*p] != CH_PUNCT) {
            h = (h ^ lc(*p)) * 0x100000001b3ULL;
            p++;
        }
    }
    t->n = (size_t)(p - t->s);
    *pp = p;
    if (c == CH_DIGIT && (flags & CLS_FEAT_NUM_CLASSES) && t->n >= 3)
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
static uint64_t stem_hash(const struct tok *t)
{
    unsigned char w[32];
    size_t n = t->n, k;
    uint64_t h = 0xcbf29ce484222325ULL;
    bool undouble = false;

    if (t->kind != CH_ALPHA || n < 4 || n > sizeof(w))
        return t->h;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = lc(t->s[i]);
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
        h = (h ^ w[i]) * 0x100000001b3ULL;
    return h;
}

/* The hash a token contributes to n-grams (the lexicon always sees t->h). */
static uint64_t word_hash(const struct cls_feat_cfg *cfg, const struct tok *t)
{
    return (cfg->flags & CLS_FEAT_STEM) ? stem_hash(t) : t->h;
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
    uint32_t s = (uint32_t)(((uint64_t)(key + 1) * K_MUL) >> 40) & mask;

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
    add_meta(b, cfg, hash_pair(cls_hash_token(s, strlen(s)), v));
}

/* Identifiers: the parts of a camelCase or snake_case word (useEffect,
 * tf_keras, getElementById) as extra unigrams of the same block, so the
 * words inside an identifier meet the same words in prose. Parts of one
 * letter are skipped; a word that does not split adds nothing. */
static void add_parts(struct cls_feat_buf *b, const struct cls_feat_cfg *cfg, unsigned blk,
                      uint64_t ns, const struct tok *t)
{
    struct tok part[8];
    size_t np = 0, start = 0, n = t->n > 64 ? 64 : t->n;

    if (t->kind != CH_ALPHA)
        return;
    for (size_t i = 1; i <= n && np < 8; i++) {
        bool cut = i == n || t->s[i] == '_' || t->s[i] == '\'' ||
                   (is_upper(t->s[i]) && is_lower(t->s[i - 1])) ||
                   (is_upper(t->s[i]) && i + 1 < n && is_upper(t->s[i - 1]) &&
                    is_lower(t->s[i + 1]));
        if (!cut)
            continue;
        if (i - start >= 2 && t->s[start] != '_') {
            uint64_t h = 0xcbf29ce484222325ULL;
            for (size_t j = start; j < i; j++)
                h = (h ^ lc(t->s[j])) * 0x100000001b3ULL;
            part[np].s = t->s + start;
            part[np].n = i - start;
            part[np].h = h;
            part[np].kind = CH_ALPHA;
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
                            const struct tok *t)
{
    unsigned char w[34];
    size_t n = t->n > 32 ? 32 : t->n;

    w[0] = ' ';
    for (size_t i = 0; i < n; i++)
        w[i + 1] = lc(t->s[i]);
    w[n + 1] = ' ';
    n += 2;
    for (size_t len = 2; len <= 5; len++)
        for (size_t i = 0; i + len <= n; i++)
            add(b, CLS_BLK_TCHAR,
                row_of(cls_hash_token((const char *)w + i, len) + len, NS_TCHAR, cfg->bits));
}

static void title_prefix(const struct cls_issue_text *in, struct cls_signals *sig)
{
    const char *t = in->title;
    size_t n = in->title_len, i = 0, o = 0, end;

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
        unsigned char c = lc((unsigned char)t[i]);
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

static void do_title(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                     const struct cls_issue_text *in, struct cls_feat_buf *b)
{
    const unsigned char *p = (const unsigned char *)in->title;
    const unsigned char *end = p + in->title_len;
    uint64_t prev = cls_hash_token("\x01tstart", 7);
    bool version = false, on = cfg->blk_weight[CLS_BLK_TITLE] > 0;
    bool chars = cfg->blk_weight[CLS_BLK_TCHAR] > 0;
    struct tok t;
    size_t last = in->title_len;

    uint64_t rprev = prev;

    while (next_token(&p, end, cfg->flags, &version, &t)) {
        uint64_t wh = word_hash(cfg, &t), bg = hash_pair(prev, wh);
        if (on) {
            add(b, CLS_BLK_TITLE, row_of(wh, NS_TITLE1, cfg->bits));
            add(b, CLS_BLK_TITLE, row_of(bg, NS_TITLE2, cfg->bits));
            if (cfg->flags & CLS_FEAT_SPLIT)
                add_parts(b, cfg, CLS_BLK_TITLE, NS_TITLE1, &t);
        }
        if (chars && t.kind == CH_ALPHA)
            add_char_ngrams(b, cfg, &t);
        b->sig.title |= lex_find(lex, t.h) |
                        lex_find(lex, wh == t.h && prev == rprev ? bg : hash_pair(rprev, t.h));
        prev = wh;
        rprev = t.h;
    }
    if (on)
        add(b, CLS_BLK_TITLE,
            row_of(hash_pair(prev, cls_hash_token("\x01tend", 5)), NS_TITLE2, cfg->bits));
    if (version)
        b->sig.title |= 1u << CLS_SIG_VERSION;
    while (last && (in->title[last - 1] == ' ' || in->title[last - 1] == '\t' ||
                    in->title[last - 1] == '\n' || in->title[last - 1] == '\r'))
        last--;
    if (last && in->title[last - 1] == '?')
        b->sig.title |= 1u << CLS_SIG_QMARK;
    title_prefix(in, &b->sig);
}

size_t cls_feat_title_words(const struct cls_feat_cfg *cfg, const char *title, size_t n,
                            struct cls_title_word *out, size_t max)
{
    const unsigned char *p = (const unsigned char *)title, *end = p + n;
    bool version = false;
    struct tok t;
    size_t k = 0;

    while (k < max && next_token(&p, end, cfg->flags, &version, &t)) {
        if (t.kind != CH_ALPHA || t.n < 2)
            continue;
        out[k].off = (size_t)(t.s - (const unsigned char *)title);
        out[k].len = t.n;
        out[k].row = row_of(word_hash(cfg, &t), NS_TITLE1, cfg->bits);
        k++;
    }
    return k;
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
        unsigned char c = lc((unsigned char)s[i]);
        if (c >= 'a' && c <= 'z') {
            if (!in_word) {
                words++;
                if (words > 1) {
                    *h = (*h ^ '_') * 0x100000001b3ULL;
                    used++;
                }
            }
            in_word = true;
            *h = (*h ^ c) * 0x100000001b3ULL;
            used++;
        } else if (c == ' ' || c == '\t') {
            in_word = false;
        }
    }
    return words;
}

/* A stack-trace line: JS/Java "at f (...)" (indented), Python frames, gdb/
 * backtrace frames "#3 0x...". l is the line without its indent. */
static bool trace_line(const char *l, size_t ll, size_t indent)
{
    return (indent && starts(l, ll, "at ")) || starts(l, ll, "File \"") ||
           starts(l, ll, "Traceback (most") ||
           (l[0] == '#' && ll > 2 && l[1] >= '0' && l[1] <= '9' && memmem(l, ll, " 0x", 3));
}

/* Line-structure pass over the body prefix: headings with short answers
 * ("### Issue Type" / "Support"), fences, checkboxes, trace lines. */
static void do_lines(const struct cls_feat_cfg *cfg, const char *s, size_t n,
                     struct cls_feat_buf *b)
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
        if (starts(l, ll, "```") || starts(l, ll, "~~~")) {
            b->sig.code_blocks++;
            pending = 0;
            continue;
        }
        if ((l[0] == '-' || l[0] == '*') && ll >= 5 && l[1] == ' ' && l[2] == '[' &&
            (l[3] == ' ' || l[3] == 'x' || l[3] == 'X') && l[4] == ']')
            b->sig.checkboxes++;
        if (trace_line(l, ll, indent))
            b->sig.trace_lines++;
        if (starts(l, ll, "Type: <b>")) {
            uint64_t h = cls_hash_token("vstype", 6);
            hash_letters(l + 9, ll - 9, 24, &h);
            add_meta(b, cfg, h);
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
                add_meta(b, cfg, h);
            pending = 0; /* only the first line after a heading is its answer */
        }
    }
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
    struct tok t;

    while (next_token(&p, end, cfg->flags, version, &t)) {
        uint64_t wh = word_hash(cfg, &t), bg = hash_pair(ch->w1, wh);
        if (on) {
            add(b, blk, row_of(wh, ns1, cfg->bits));
            if (grams >= 2 && ch->n)
                add(b, blk, row_of(bg, ns2, cfg->bits));
            if (grams >= 3 && ch->n > 1)
                add(b, blk, row_of(hash_pair(ch->w2, bg), NS_BODY3, cfg->bits));
            if (split)
                add_parts(b, cfg, blk, ns1, &t);
        }
        if (ch->n)
            b->sig.body |= lex_find(lex, wh == t.h && ch->w1 == ch->r1 ? bg
                                                                      : hash_pair(ch->r1, t.h));
        b->sig.body |= lex_find(lex, t.h);
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
        if (starts(l, ll, "```") || starts(l, ll, "~~~")) {
            fence = !fence;
            code.n = 0;
        } else if (ll && (fence || trace_line(l, ll, j - i) ||
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
    do_lines(cfg, in->body, n, b);
    if (b->sig.trace_lines)
        b->sig.body |= 1u << CLS_SIG_TRACE;
    if (b->sig.code_blocks >= 2)
        b->sig.body |= 1u << CLS_SIG_CODE;
    if (b->sig.checkboxes)
        b->sig.body |= 1u << CLS_SIG_CHECKBOX;
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
        add_meta(b, cfg, hash_pair(cls_hash_token("pfx", 3),
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
