/* Strict, allocation-free JSON validation with field extraction: one pass
 * over a webhook payload checks the whole document (grammar, UTF-8, escapes,
 * depth) and records the spans of a fixed set of dotted paths. A full
 * jansson tree of a 12 KB payload costs ~250 us; this pass is what lets the
 * ingress parse off the hot budget (docs/ingress.md has the numbers).
 * Turning spans into our event is normalize.c's job. */
#include "extract.h"

#include <dispatchai/utf8.h>

#include <errno.h>
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 256

/* Trie of the wanted paths. Node 0 is the root (the top object). */
struct node {
    const char *name;  /* segment (points into names) */
    size_t nlen;
    int slot;          /* index into spans, or -1 for an inner-only node */
    int first_child;
    int next_sibling;
    int sub_begin;     /* slots of this node's subtree: subtree[sub_begin..sub_end) */
    int sub_end;
};

struct ing_jpaths {
    struct node nodes[MAX_NODES];
    int n_nodes;
    size_t n_paths;
    int subtree[MAX_NODES * 8];
    int n_subtree;
    char *names; /* copies of all paths, '.' replaced by NUL */
};

/* Byte classes for the string fast path: 0 = ordinary printable ASCII. */
enum { C_PLAIN = 0, C_QUOTE, C_BSLASH, C_CTRL, C_HIGH };
static const unsigned char str_class[256] = {
    [0 ... 0x1f] = C_CTRL, ['"'] = C_QUOTE, ['\\'] = C_BSLASH, [0x80 ... 0xff] = C_HIGH,
};

/*---- path compilation -----------------------------------------------------*/

static int find_child(const struct ing_jpaths *p, int parent, const char *name, size_t nlen)
{
    for (int c = p->nodes[parent].first_child; c >= 0; c = p->nodes[c].next_sibling)
        if (p->nodes[c].nlen == nlen && memcmp(p->nodes[c].name, name, nlen) == 0)
            return c;
    return -1;
}

static int add_child(struct ing_jpaths *p, int parent, const char *name, size_t nlen)
{
    struct node *n;
    int id = p->n_nodes;

    if (id >= MAX_NODES)
        return -1;
    p->n_nodes++;
    n = &p->nodes[id];
    n->name = name;
    n->nlen = nlen;
    n->slot = -1;
    n->first_child = -1;
    /* Prepend: sibling order does not matter for lookups. */
    n->next_sibling = p->nodes[parent].first_child;
    p->nodes[parent].first_child = id;
    return id;
}

/* Record each node's subtree slots (DFS) so a repeated key can clear what an
 * earlier occurrence of the same member left behind. */
static void collect_subtree(struct ing_jpaths *p, int node, int *out, int *n)
{
    if (p->nodes[node].slot >= 0)
        out[(*n)++] = p->nodes[node].slot;
    for (int c = p->nodes[node].first_child; c >= 0; c = p->nodes[c].next_sibling)
        collect_subtree(p, c, out, n);
}

struct ing_jpaths *ing_jpaths_new(const char *const *paths, size_t n, char *err, size_t errlen)
{
    struct ing_jpaths *p = calloc(1, sizeof(*p));
    size_t total = 0, pos = 0;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (n == 0 || n >= MAX_NODES) {
        snprintf(err, errlen, "between 1 and %d paths are supported", MAX_NODES - 1);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        total += strlen(paths[i]) + 1;
    p->names = malloc(total);
    if (!p->names) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p->nodes[0] = (struct node){.slot = -1, .first_child = -1, .next_sibling = -1};
    p->n_nodes = 1;
    p->n_paths = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);
        char *copy = p->names + pos;
        int cur = 0;

        memcpy(copy, paths[i], len + 1);
        pos += len + 1;
        for (char *seg = copy; seg;) {
            char *dot = strchr(seg, '.');
            size_t slen = dot ? (size_t)(dot - seg) : strlen(seg);
            int c;

            if (dot)
                *dot = '\0';
            if (slen == 0) {
                snprintf(err, errlen, "path \"%s\" has an empty segment", paths[i]);
                goto fail;
            }
            c = find_child(p, cur, seg, slen);
            if (c < 0)
                c = add_child(p, cur, seg, slen);
            if (c < 0) {
                snprintf(err, errlen, "too many path segments (max %d)", MAX_NODES);
                goto fail;
            }
            cur = c;
            seg = dot ? dot + 1 : NULL;
        }
        if (p->nodes[cur].slot >= 0) {
            snprintf(err, errlen, "path \"%s\" is listed twice", paths[i]);
            goto fail;
        }
        p->nodes[cur].slot = (int)i;
    }
    for (int i = 0; i < p->n_nodes; i++) {
        p->nodes[i].sub_begin = p->n_subtree;
        collect_subtree(p, i, p->subtree, &p->n_subtree);
        p->nodes[i].sub_end = p->n_subtree;
    }
    return p;
fail:
    ing_jpaths_free(p);
    return NULL;
}

void ing_jpaths_free(struct ing_jpaths *p)
{
    if (!p)
        return;
    free(p->names);
    free(p);
}

size_t ing_jpaths_count(const struct ing_jpaths *p)
{
    return p->n_paths;
}

/*---- the validating scanner ----------------------------------------------*/

struct scan {
    const unsigned char *base;
    const unsigned char *p;
    const unsigned char *end;
    const struct ing_jpaths *paths;
    struct ing_span *spans;
    const char *why;
    int depth;
};

static int fail_at(struct scan *s, const char *why)
{
    s->why = why;
    return DAI_EPARSE;
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (common's utf8.h). */
static int utf8_seq(struct scan *s)
{
    int n = dai_utf8_seq(s->p, (size_t)(s->end - s->p));

    if (n == DAI_UTF8_BAD_LEAD)
        return fail_at(s, "invalid UTF-8 lead byte");
    if (n == DAI_UTF8_TRUNCATED)
        return fail_at(s, "truncated UTF-8 sequence");
    if (n < 0)
        return fail_at(s, "invalid UTF-8 sequence");
    s->p += n;
    return 0;
}

/* A backslash escape at s->p (pointing at the backslash). */
static int escape(struct scan *s)
{
    unsigned long u, lo;

    if (s->end - s->p < 2)
        return fail_at(s, "unterminated string");
    switch (s->p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        s->p += 2;
        return 0;
    case 'u':
        break;
    default:
        return fail_at(s, "invalid escape");
    }
    if (s->end - s->p < 6 || ing_json_hex4(s->p + 2, &u))
        return fail_at(s, "invalid \\u escape");
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail_at(s, "unpaired low surrogate");
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (s->end - s->p < 12 || s->p[6] != '\\' || s->p[7] != 'u' ||
            ing_json_hex4(s->p + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return fail_at(s, "unpaired high surrogate");
        s->p += 12;
        return 0;
    }
    s->p += 6;
    return 0;
}

/* Skip 16-byte blocks holding nothing but plain printable ASCII (no quote,
 * backslash, control or non-ASCII byte); the byte loop does the rest. Bodies
 * are most of a payload, so this is most of the scan. */
static void skip_plain(struct scan *s)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);

    while (s->end - s->p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s->p);
        /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" also
         * catches them, along with the control characters. */
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                _mm_cmpeq_epi8(v, bslash)),
                                   _mm_cmplt_epi8(v, space));
        if (_mm_movemask_epi8(bad))
            return;
        s->p += 16;
    }
#else
    (void)s;
#endif
}

/* A string at s->p (the opening quote). On success out (if not NULL) covers
 * the raw bytes between the quotes. */
static int string(struct scan *s, struct ing_span *out)
{
    const unsigned char *start = ++s->p;
    uint8_t flags = 0;
    int rc;

    for (;;) {
        /* Fast path: most payload bytes are plain ASCII. */
        skip_plain(s);
        while (s->p < s->end && str_class[*s->p] == C_PLAIN)
            s->p++;
        if (s->p >= s->end)
            return fail_at(s, "unterminated string");
        switch (str_class[*s->p]) {
        case C_QUOTE:
            if (out) {
                out->off = (uint32_t)(start - s->base);
                out->len = (uint32_t)(s->p - start);
                out->type = ING_JT_STRING;
                out->flags = flags;
            }
            s->p++;
            return 0;
        case C_BSLASH:
            flags |= ING_JF_ESCAPED;
            rc = escape(s);
            break;
        case C_CTRL:
            return fail_at(s, "control character in string");
        default:
            rc = utf8_seq(s);
            break;
        }
        if (rc)
            return rc;
    }
}

static int number(struct scan *s, struct ing_span *out)
{
    const unsigned char *start = s->p;
    uint8_t flags = ING_JF_INT;

    if (*s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return fail_at(s, "truncated number");
    if (*s->p == '0') {
        s->p++;
    } else if (*s->p >= '1' && *s->p <= '9') {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    } else {
        return fail_at(s, "invalid number");
    }
    if (s->p < s->end && *s->p == '.') {
        flags = 0;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return fail_at(s, "invalid number fraction");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        flags = 0;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return fail_at(s, "invalid number exponent");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (out) {
        out->off = (uint32_t)(start - s->base);
        out->len = (uint32_t)(s->p - start);
        out->type = ING_JT_NUMBER;
        out->flags = flags;
    }
    return 0;
}

static int literal(struct scan *s, const char *word, size_t n, uint8_t type, struct ing_span *out)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail_at(s, "invalid literal");
    if (out) {
        out->off = (uint32_t)(s->p - s->base);
        out->len = (uint32_t)n;
        out->type = type;
        out->flags = 0;
    }
    s->p += n;
    return 0;
}

static int value(struct scan *s, int node);

/* Which child of node a member key names (-1: not wanted). */
static int member_node(struct scan *s, int node, const struct ing_span *key)
{
    const struct ing_jpaths *p = s->paths;
    const char *name = (const char *)s->base + key->off;
    char buf[ING_JSON_MAX_KEY];
    size_t nlen = key->len;

    if (node < 0 || p->nodes[node].first_child < 0)
        return -1;
    if (key->flags & ING_JF_ESCAPED) {
        int n = ing_json_unescape((const char *)s->base, key, buf, sizeof(buf));
        if (n < 0)
            return -1; /* longer than any path segment */
        name = buf;
        nlen = (size_t)n;
    }
    return find_child(p, node, name, nlen);
}

static int object(struct scan *s, int node)
{
    struct ing_span key;
    int rc;

    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->end || *s->p != '"')
            return fail_at(s, "expected a member name");
        rc = string(s, &key);
        if (rc)
            return rc;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return fail_at(s, "expected ':'");
        s->p++;
        skip_ws(s);
        rc = value(s, member_node(s, node, &key));
        if (rc)
            return rc;
        skip_ws(s);
        if (s->p >= s->end)
            return fail_at(s, "unterminated object");
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return fail_at(s, "expected ',' or '}'");
        s->p++;
        skip_ws(s);
    }
}

static int array(struct scan *s)
{
    int rc;

    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        /* Array elements are never path targets: paths name members only. */
        rc = value(s, -1);
        if (rc)
            return rc;
        skip_ws(s);
        if (s->p >= s->end)
            return fail_at(s, "unterminated array");
        if (*s->p == ']') {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return fail_at(s, "expected ',' or ']'");
        s->p++;
        skip_ws(s);
    }
}

/* One value at s->p (whitespace already skipped). node >= 0: the path trie
 * node this value sits at, so its span and its subtree are recorded. */
static int value(struct scan *s, int node)
{
    const struct node *n = node >= 0 ? &s->paths->nodes[node] : NULL;
    struct ing_span *out = n && n->slot >= 0 ? &s->spans[n->slot] : NULL;
    const unsigned char *start = s->p;
    int rc;

    if (n) /* a repeated member replaces everything its first occurrence set */
        for (int i = n->sub_begin; i < n->sub_end; i++)
            s->spans[s->paths->subtree[i]] = (struct ing_span){0};
    if (s->p >= s->end)
        return fail_at(s, "expected a value");
    switch (*s->p) {
    case '"':
        return string(s, out);
    case '{':
    case '[':
        if (++s->depth > ING_JSON_MAX_DEPTH)
            return fail_at(s, "nesting too deep");
        if (*s->p == '{')
            rc = object(s, n && n->first_child >= 0 ? node : -1);
        else
            rc = array(s);
        s->depth--;
        if (rc)
            return rc;
        if (out) {
            out->off = (uint32_t)(start - s->base);
            out->len = (uint32_t)(s->p - start);
            out->type = *start == '{' ? ING_JT_OBJECT : ING_JT_ARRAY;
            out->flags = 0;
        }
        return 0;
    case 't':
        return literal(s, "true", 4, ING_JT_TRUE, out);
    case 'f':
        return literal(s, "false", 5, ING_JT_FALSE, out);
    case 'n':
        return literal(s, "null", 4, ING_JT_NULL, out);
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return number(s, out);
        return fail_at(s, "unexpected character");
    }
}

int ing_json_extract(const struct ing_jpaths *p, const char *data, size_t len,
                     struct ing_span *spans, char *err, size_t errlen)
{
    struct scan s = {
        .base = (const unsigned char *)data,
        .p = (const unsigned char *)data,
        .end = (const unsigned char *)data + len,
        .paths = p,
        .spans = spans,
    };
    int rc;

    memset(spans, 0, p->n_paths * sizeof(*spans));
    if (len >= UINT32_MAX) {
        snprintf(err, errlen, "document too large");
        return DAI_EPARSE;
    }
    skip_ws(&s);
    if (s.p >= s.end) {
        snprintf(err, errlen, "empty document");
        return DAI_EPARSE;
    }
    if (*s.p != '{') {
        snprintf(err, errlen, "offset %zu: the document is not a JSON object",
                 (size_t)(s.p - s.base));
        return DAI_EPARSE;
    }
    rc = value(&s, 0);
    if (!rc) {
        skip_ws(&s);
        if (s.p < s.end)
            rc = fail_at(&s, "trailing data after the document");
    }
    if (rc) {
        snprintf(err, errlen, "offset %zu: %s", (size_t)(s.p - s.base), s.why);
        memset(spans, 0, p->n_paths * sizeof(*spans));
    }
    return rc;
}
