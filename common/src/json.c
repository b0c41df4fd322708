/* jansson helpers: the capped byte buffer (dai_buf), typed getters with
 * defaults, dotted-path lookup, compact dumps, depth-limited parsing of
 * untrusted documents, and the clock/timestamp helpers every module shares.
 * Event shapes and validation live in events.c, not here. */
#include <dispatchai/json.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*---- dai_buf ------------------------------------------------------------*/

int dai_buf_reserve(struct dai_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (extra > SIZE_MAX - 1 - b->len)
        return DAI_ETOOBIG;
    if (b->max && b->len + extra > b->max)
        return DAI_ETOOBIG;
    need = b->len + extra + 1; /* room for the terminating NUL */
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    /* Never allocate past the cap: a capped buffer holds at most max + NUL. */
    if (b->max && ncap > b->max + 1)
        ncap = b->max + 1;
    p = realloc(b->data, ncap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int dai_buf_append(struct dai_buf *b, const void *data, size_t len)
{
    int rc = dai_buf_reserve(b, len);

    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int dai_buf_appendf(struct dai_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    rc = dai_buf_reserve(b, 0);
    if (rc)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DAI_EINVAL;
    if ((size_t)n >= b->cap - b->len) {
        /* The first attempt may have written a truncated tail; the NUL at
         * the old length is restored on every failure path below. */
        b->data[b->len] = '\0';
        rc = dai_buf_reserve(b, (size_t)n);
        if (rc)
            return rc;
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->data[b->len] = '\0';
            return DAI_EINVAL;
        }
    }
    b->len += (size_t)n;
    return 0;
}

void dai_buf_reset(struct dai_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void dai_buf_free(struct dai_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

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

char *dai_buf_take(struct dai_buf *b)
{
    char *s = b->data;

    if (!s)
        return calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}

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

json_t *dai_json_parse(const char *data, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
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
    /* Flags 0: GitHub payloads are parsed as sent (duplicate keys keep the
     * last value); only objects/arrays at the top and no NUL in strings. */
    v = json_loadb(data, len, 0, &jerr);
    if (!v && err && errlen)
        snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return v;
}

/*---- time ---------------------------------------------------------------*/

void dai_rfc3339_ms(long long unix_ms, char out[32])
{
    long long secs = unix_ms / 1000;
    long long ms = unix_ms % 1000;
    time_t t;
    struct tm tm;

    if (ms < 0) { /* floor division so pre-1970 times stay correct */
        ms += 1000;
        secs -= 1;
    }
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, 32, "0000-00-00T00:00:00.000Z");
        return;
    }
    if (strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
        snprintf(out, 32, "0000-00-00T00:00:00.000Z");
        return;
    }
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

long long dai_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long dai_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int dai_ms_left(long long deadline_us)
{
    long long left = (deadline_us - dai_mono_us()) / 1000;

    return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}
