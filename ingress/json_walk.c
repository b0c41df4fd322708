/* Reading what ing_json_extract validated: stepping through the members of an
 * object or the items of an array span, and turning string and number spans
 * into values. The input is known to be well-formed JSON, so these walks
 * check bounds but not grammar. */
#include "extract.h"

#include <dispatchai/hex.h>
#include <dispatchai/utf8.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Four hex digits at p (bounds checked by the caller) into *out; 0 or DAI_EPARSE. */
int ing_json_hex4(const unsigned char *p, unsigned long *out)
{
    unsigned long v = 0;
    unsigned h;

    for (int i = 0; i < 4; i++) {
        if (dai_hex_digit(p[i], &h))
            return DAI_EPARSE;
        v = (v << 4) | h;
    }
    *out = v;
    return 0;
}

/*---- walking validated spans ---------------------------------------------*/

/* The byte after the closing quote of a validated string whose content
 * starts at p: jump between quotes with memchr and skip the escaped ones (an
 * odd number of backslashes before them). */
static uint32_t skip_string(const char *d, uint32_t p, uint32_t end)
{
    for (;;) {
        const char *q = memchr(d + p, '"', end - p);
        uint32_t at, n = 0;

        if (!q)
            return end; /* not reached on validated input */
        at = (uint32_t)(q - d);
        while (at - n > p && d[at - n - 1] == '\\')
            n++;
        if (n % 2 == 0)
            return at + 1;
        p = at + 1;
    }
}

/* Skip one validated value starting at p; returns the byte after it. */
static uint32_t skip_value(const char *d, uint32_t p, uint32_t end)
{
    int depth = 0;

    do {
        char c = d[p];

        if (c == '"') {
            p = skip_string(d, p + 1, end);
        } else if (c == '{' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ']') {
            depth--;
            p++;
        } else if (depth > 0) {
            p++; /* separators, whitespace and scalars inside a container */
        } else {
            while (p < end && d[p] != ',' && d[p] != '}' && d[p] != ']' && d[p] != ' ' &&
                   d[p] != '\n' && d[p] != '\r' && d[p] != '\t')
                p++;
        }
    } while (depth > 0 && p < end);
    return p;
}

static uint32_t skip_blank(const char *d, uint32_t p, uint32_t end)
{
    while (p < end && (d[p] == ' ' || d[p] == '\n' || d[p] == '\r' || d[p] == '\t'))
        p++;
    return p;
}

static void span_at(const char *d, uint32_t p, uint32_t next, struct ing_span *out)
{
    out->flags = 0;
    switch (d[p]) {
    case '"':
        out->type = ING_JT_STRING;
        out->off = p + 1;
        out->len = next - p - 2;
        if (memchr(d + p + 1, '\\', out->len))
            out->flags = ING_JF_ESCAPED;
        return;
    case '{': out->type = ING_JT_OBJECT; break;
    case '[': out->type = ING_JT_ARRAY; break;
    case 't': out->type = ING_JT_TRUE; break;
    case 'f': out->type = ING_JT_FALSE; break;
    case 'n': out->type = ING_JT_NULL; break;
    default:
        out->type = ING_JT_NUMBER;
        if (!memchr(d + p, '.', next - p) && !memchr(d + p, 'e', next - p) &&
            !memchr(d + p, 'E', next - p))
            out->flags = ING_JF_INT;
        break;
    }
    out->off = p;
    out->len = next - p;
}

/* Position of the next element inside a container span: *pos is 0 before the
 * first one, else the offset just after the previous element. */
static bool next_item(const char *d, const struct ing_span *c, uint32_t *pos, uint32_t *at)
{
    uint32_t end = c->off + c->len - 1; /* the closing bracket */
    uint32_t p = *pos ? *pos : c->off + 1;

    p = skip_blank(d, p, end);
    if (p < end && d[p] == ',')
        p = skip_blank(d, p + 1, end);
    if (p >= end)
        return false;
    *at = p;
    return true;
}

bool ing_json_array_next(const char *data, const struct ing_span *arr, uint32_t *pos,
                         struct ing_span *elem)
{
    uint32_t at, next;

    if (arr->type != ING_JT_ARRAY || !next_item(data, arr, pos, &at))
        return false;
    next = skip_value(data, at, arr->off + arr->len - 1);
    span_at(data, at, next, elem);
    *pos = next;
    return true;
}

bool ing_json_object_next(const char *data, const struct ing_span *obj, uint32_t *pos,
                          struct ing_span *key, struct ing_span *val)
{
    uint32_t end = obj->off + obj->len - 1;
    uint32_t at, next;

    if (obj->type != ING_JT_OBJECT || !next_item(data, obj, pos, &at))
        return false;
    next = skip_value(data, at, end);
    span_at(data, at, next, key);
    at = skip_blank(data, next, end);
    at = skip_blank(data, at + 1, end); /* past ':' */
    next = skip_value(data, at, end);
    span_at(data, at, next, val);
    *pos = next;
    return true;
}

/*---- string helpers -------------------------------------------------------*/

/* Append code point cp as UTF-8 to out[*o..n). False if it does not fit. */
static bool put_utf8(char *out, size_t n, size_t *o, unsigned long cp)
{
    unsigned char b[4];
    size_t k = dai_utf8_encode(cp, b);

    if (k == 0 || *o + k >= n)
        return false;
    memcpy(out + *o, b, k);
    *o += k;
    return true;
}

int ing_json_unescape(const char *data, const struct ing_span *s, char *out, size_t n)
{
    const unsigned char *p = (const unsigned char *)data + s->off;
    const unsigned char *end = p + s->len;
    size_t o = 0;

    if (s->type != ING_JT_STRING || n == 0)
        return DAI_EINVAL;
    while (p < end) {
        unsigned long cp = 0;

        if (*p != '\\') {
            if (o + 1 >= n)
                return DAI_ETOOBIG;
            out[o++] = (char)*p++;
            continue;
        }
        switch (p[1]) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (ing_json_hex4(p + 2, &cp))
                return DAI_EPARSE; /* not from ing_json_extract */
            break;
        default: cp = p[1]; break;
        }
        if (p[1] != 'u') {
            p += 2;
        } else if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* Validated: a low surrogate escape follows. */
            unsigned long lo = 0xDC00;

            if (ing_json_hex4(p + 8, &lo))
                return DAI_EPARSE;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 12;
        } else {
            p += 6;
        }
        if (!put_utf8(out, n, &o, cp))
            return DAI_ETOOBIG;
    }
    out[o] = '\0';
    return (int)o;
}

bool ing_json_str_eq(const char *data, const struct ing_span *s, const char *lit)
{
    size_t n = strlen(lit);
    char buf[ING_JSON_MAX_KEY];
    int len;

    if (s->type != ING_JT_STRING)
        return false;
    if (!(s->flags & ING_JF_ESCAPED))
        return s->len == n && memcmp(data + s->off, lit, n) == 0;
    len = ing_json_unescape(data, s, buf, sizeof(buf));
    return len >= 0 && (size_t)len == n && memcmp(buf, lit, n) == 0;
}

int ing_json_int(const char *data, const struct ing_span *s, long long *out)
{
    char buf[32];
    char *end;
    long long v;

    if (s->type != ING_JT_NUMBER || !(s->flags & ING_JF_INT) || s->len >= sizeof(buf))
        return DAI_EINVAL;
    memcpy(buf, data + s->off, s->len);
    buf[s->len] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno || *end != '\0')
        return DAI_EINVAL;
    *out = v;
    return 0;
}
