/* jansson helpers: typed getters with defaults, dotted-path lookup, compact
 * dumps into a dai_buf, depth-limited parsing of untrusted documents, and the
 * quoted JSON string writer. Event shapes and validation live in events.c. */
#include <dispatchai/json.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*---- getters ------------------------------------------------------------*/

const char *dai_json_str(const json_t *obj, const char *key, const char *def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : def;
}

long long dai_json_int(const json_t *obj, const char *key, long long def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

double dai_json_real(const json_t *obj, const char *key, double def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? json_number_value(v) : def;
}

bool dai_json_bool(const json_t *obj, const char *key, bool def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* Segments are object keys; on an array a segment of decimal digits is an
 * index ("labels.0.name"). Empty segments never match. */
json_t *dai_json_path(const json_t *root, const char *path)
{
    json_t *cur = (json_t *)root; /* jansson's getters are not const-correct */
    char seg[256];

    if (!root || !path)
        return NULL;
    while (cur) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);

        if (n == 0 || n >= sizeof(seg))
            return NULL;
        memcpy(seg, path, n);
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx;

            if (seg[0] < '0' || seg[0] > '9')
                return NULL;
            errno = 0;
            idx = strtoul(seg, &end, 10);
            if (errno || *end)
                return NULL;
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
        if (!dot)
            return cur;
        path = dot + 1;
    }
    return NULL;
}

/*---- dump and parse -----------------------------------------------------*/

struct dump_ctx {
    struct dai_buf *b;
    int rc;
};

static int dump_cb(const char *buf, size_t size, void *data)
{
    struct dump_ctx *ctx = data;

    ctx->rc = dai_buf_append(ctx->b, buf, size);
    return ctx->rc ? -1 : 0;
}

int dai_json_dump(const json_t *v, struct dai_buf *b)
{
    struct dump_ctx ctx = { b, 0 };
    int rc;

    if (!v)
        return DAI_EINVAL;
    dai_buf_reset(b);
    rc = dai_buf_reserve(b, 0); /* an empty dump still yields "" */
    if (rc)
        return rc;
    /* jansson >= 2.8 keeps object keys in insertion order without flags. */
    if (json_dump_callback(v, dump_cb, &ctx, JSON_COMPACT | JSON_ENCODE_ANY)) {
        dai_buf_reset(b);
        return ctx.rc ? ctx.rc : -ENOMEM;
    }
    return 0;
}

/* jansson's own limit (JSON_PARSER_MAX_DEPTH) is 2048 and compiled in, so we
 * scan the bytes ourselves first: cheap, and a hostile document never gets
 * to build a deep tree. Brackets inside strings do not count. */
static int depth_exceeds(const char *p, size_t len, int limit)
{
    int depth = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char c = p[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

size_t dai_json_replace_nul(char *text, size_t len)
{
    size_t n = 0;
    char *p = text, *end = text + len;

    while ((p = memmem(p, (size_t)(end - p), "\\u0000", 6)) != NULL) {
        size_t run = 0;

        /* An even run of backslashes before it: this backslash starts an escape. */
        while (p - run > text && p[-1 - (ptrdiff_t)run] == '\\')
            run++;
        if (run % 2 == 0) {
            memcpy(p + 2, "fffd", 4);
            n++;
        }
        p += 6;
    }
    return n;
}

json_t *dai_json_parse(const char *data, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    char *copy = NULL;
    json_t *v;

    if (err && errlen)
        err[0] = '\0';
    if (!data) {
        if (err && errlen)
            snprintf(err, errlen, "no document");
        return NULL;
    }
    if (depth_exceeds(data, len, DAI_JSON_MAX_DEPTH)) {
        if (err && errlen)
            snprintf(err, errlen, "nesting deeper than %d levels", DAI_JSON_MAX_DEPTH);
        return NULL;
    }
    /* NUL becomes U+FFFD before jansson sees it (on a copy; rare), so no
     * string of ours ever holds an embedded NUL that C code would cut at. */
    if (memmem(data, len, "\\u0000", 6)) {
        copy = malloc(len ? len : 1);
        if (!copy) {
            if (err && errlen)
                snprintf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(copy, data, len);
        dai_json_replace_nul(copy, len);
        data = copy;
    }
    /* Flags 0: GitHub payloads are parsed as sent (duplicate keys keep the
     * last value); only objects/arrays at the top. */
    v = json_loadb(data, len, 0, &jerr);
    free(copy);
    if (!v && err && errlen)
        snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return v;
}

/*---- JSON strings -----------------------------------------------------*/

/* Runs of plain bytes are appended whole; only the escapes are built. */
int dai_buf_append_jstr(struct dai_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    int rc = dai_buf_append(b, "\"", 1);

    for (; !rc && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6];
        size_t n = 0;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else {
            continue;
        }
        rc = dai_buf_append(b, run, (size_t)(s - run));
        if (!rc)
            rc = dai_buf_append(b, esc, n);
        run = s + 1;
    }
    if (!rc)
        rc = dai_buf_append(b, run, (size_t)(s - run));
    return rc ? rc : dai_buf_append(b, "\"", 1);
}
