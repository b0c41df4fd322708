/* The log sink: levelled lines on stderr or a file, as text or JSON, with
 * registered secrets masked and each line written by a single write(2) so
 * lines from different threads never interleave. JSON mode splits a message
 * into its leading text and trailing key=value fields. Deciding what to log
 * (and never logging payloads) is the callers' job. */
#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/log.h>
#include <dispatchai/utf8.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MSG_MAX (64 * 1024) /* longer messages are cut and marked */
#define TRUNC_MARK "...(truncated)"

/* The sink is one of the two mutable globals CONTRIBUTING.md allows; every field
 * below except level is guarded by mu. level is atomic so DAI_DEBUG() can
 * test it without the lock. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int cur_level = DAI_LOG_INFO;
static enum dai_log_format cur_format = DAI_LOG_TEXT;
static char cur_service[64] = "dispatchai";
static char *cur_path; /* NULL: stderr */
static int cur_fd = -1;
static char **secrets; /* longest first, so a secret containing another is masked whole */
static size_t n_secrets;

static const char *const level_text[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const level_json[] = { "debug", "info", "warn", "error" };

/*---- configuration ------------------------------------------------------*/

int dai_log_parse_level(const char *s, enum dai_log_level *out)
{
    for (int i = DAI_LOG_DEBUG; s && i <= DAI_LOG_ERROR; i++) {
        if (strcasecmp(s, level_json[i]) == 0) {
            *out = (enum dai_log_level)i;
            return 0;
        }
    }
    if (s && strcasecmp(s, "warning") == 0) {
        *out = DAI_LOG_WARN;
        return 0;
    }
    return DAI_EINVAL;
}

int dai_log_parse_format(const char *s, enum dai_log_format *out)
{
    if (s && strcasecmp(s, "text") == 0) {
        *out = DAI_LOG_TEXT;
        return 0;
    }
    if (s && strcasecmp(s, "json") == 0) {
        *out = DAI_LOG_JSON;
        return 0;
    }
    return DAI_EINVAL;
}

static int open_sink(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    return fd < 0 ? -errno : fd;
}

int dai_log_init(const char *service, const char *level, const char *format, const char *file)
{
    enum dai_log_level lvl = DAI_LOG_INFO;
    enum dai_log_format fmt = DAI_LOG_TEXT;
    char *path = NULL;
    int fd = -1, old_fd;
    char *old_path;

    if (level && dai_log_parse_level(level, &lvl))
        return DAI_EINVAL;
    if (format && dai_log_parse_format(format, &fmt))
        return DAI_EINVAL;
    if (file && file[0]) {
        path = strdup(file);
        if (!path)
            return -ENOMEM;
        fd = open_sink(path);
        if (fd < 0) {
            free(path);
            return fd;
        }
    }
    pthread_mutex_lock(&mu);
    snprintf(cur_service, sizeof(cur_service), "%s",
             service && service[0] ? service : "dispatchai");
    cur_format = fmt;
    atomic_store(&cur_level, (int)lvl);
    old_fd = cur_fd;
    old_path = cur_path;
    cur_fd = fd;
    cur_path = path;
    pthread_mutex_unlock(&mu);
    if (old_fd >= 0)
        close(old_fd);
    free(old_path);
    return 0;
}

bool dai_log_enabled(enum dai_log_level level)
{
    return (int)level >= atomic_load(&cur_level);
}

void dai_log_add_secret(const char *secret)
{
    size_t len, pos;
    char *copy, **grown;

    if (!secret || strlen(secret) < 4)
        return;
    len = strlen(secret);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_secrets; i++) {
        if (strcmp(secrets[i], secret) == 0)
            goto out;
    }
    copy = strdup(secret);
    grown = copy ? realloc(secrets, (n_secrets + 1) * sizeof(*secrets)) : NULL;
    if (!grown) {
        free(copy);
        goto out;
    }
    secrets = grown;
    for (pos = 0; pos < n_secrets && strlen(secrets[pos]) >= len; pos++)
        ;
    memmove(secrets + pos + 1, secrets + pos, (n_secrets - pos) * sizeof(*secrets));
    secrets[pos] = copy;
    n_secrets++;
out:
    pthread_mutex_unlock(&mu);
}

void dai_log_reopen(void)
{
    int fd, old = -1;

    pthread_mutex_lock(&mu);
    if (cur_path) {
        fd = open_sink(cur_path);
        /* On failure keep writing to the old (possibly rotated) file rather
         * than losing lines. */
        if (fd >= 0) {
            old = cur_fd;
            cur_fd = fd;
        }
    }
    pthread_mutex_unlock(&mu);
    if (old >= 0)
        close(old);
}

void dai_log_shutdown(void)
{
    pthread_mutex_lock(&mu);
    if (cur_fd >= 0)
        close(cur_fd);
    cur_fd = -1;
    free(cur_path);
    cur_path = NULL;
    for (size_t i = 0; i < n_secrets; i++)
        free(secrets[i]);
    free(secrets);
    secrets = NULL;
    n_secrets = 0;
    cur_format = DAI_LOG_TEXT;
    snprintf(cur_service, sizeof(cur_service), "dispatchai");
    atomic_store(&cur_level, (int)DAI_LOG_INFO);
    pthread_mutex_unlock(&mu);
}

/*---- masking (caller holds mu) ------------------------------------------*/

/* Copy msg with every registered secret replaced by "***". */
static int mask_secrets(const char *msg, size_t len, struct dai_buf *out)
{
    struct dai_buf tmp = { 0 };
    int rc = dai_buf_append(out, msg, len);

    for (size_t i = 0; i < n_secrets && !rc; i++) {
        size_t slen = strlen(secrets[i]);
        const char *p = out->data, *end = out->data + out->len, *hit;

        hit = memmem(p, (size_t)(end - p), secrets[i], slen);
        if (!hit)
            continue;
        dai_buf_reset(&tmp);
        while (hit && !rc) {
            rc = dai_buf_append(&tmp, p, (size_t)(hit - p));
            if (!rc)
                rc = dai_buf_append(&tmp, "***", 3);
            p = hit + slen;
            hit = memmem(p, (size_t)(end - p), secrets[i], slen);
        }
        if (!rc)
            rc = dai_buf_append(&tmp, p, (size_t)(end - p));
        if (!rc) {
            struct dai_buf swap = *out;

            *out = tmp;
            tmp = swap;
        }
    }
    dai_buf_free(&tmp);
    return rc;
}

/* A message cut at MSG_MAX may end with the first bytes of a secret; drop
 * any tail that is a prefix of one so no part of it reaches the sink. */
static void cut_secret_prefix(struct dai_buf *b)
{
    for (size_t i = 0; i < n_secrets; i++) {
        size_t slen = strlen(secrets[i]);

        for (size_t k = slen - 1; k > 0; k--) {
            if (k <= b->len && memcmp(b->data + b->len - k, secrets[i], k) == 0) {
                b->len -= k;
                b->data[b->len] = '\0';
                break;
            }
        }
    }
}

/*---- line building ------------------------------------------------------*/

/* JSON string body (no quotes); invalid UTF-8 becomes U+FFFD. */
static int json_escape(struct dai_buf *b, const char *s, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };

            rc = dai_buf_append(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            rc = dai_buf_appendf(b, "\\u%04x", c);
            i++;
        } else {
            int k = dai_utf8_seq(s + i, n - i);

            if (k > 0) {
                rc = dai_buf_append(b, s + i, (size_t)k);
                i += (size_t)k;
            } else {
                rc = dai_buf_append(b, "\\ufffd", 6);
                i++;
            }
        }
    }
    return rc;
}

/* Text mode keeps one event per line: control characters are escaped. */
static int text_escape(struct dai_buf *b, const char *s, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\n')
            rc = dai_buf_append(b, "\\n", 2);
        else if (c == '\r')
            rc = dai_buf_append(b, "\\r", 2);
        else if (c == '\t')
            rc = dai_buf_append(b, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            rc = dai_buf_appendf(b, "\\x%02x", c);
        else
            rc = dai_buf_append(b, s + i, 1);
    }
    return rc;
}

struct tok {
    const char *start, *end; /* whole token */
    const char *key, *val;
    size_t klen, vlen;
    bool kv, quoted;
};

static bool is_key_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Next whitespace-separated token at or after p; false at the end. A token
 * is key=value when the key is [A-Za-z_][A-Za-z0-9_.-]* and the value is
 * either a run of non-space bytes or a "double-quoted" string (\" and \\
 * escapes) followed by a space or the end. */
static bool next_tok(const char *p, const char *end, struct tok *t)
{
    const char *q;

    while (p < end && is_space(*p))
        p++;
    if (p >= end)
        return false;
    memset(t, 0, sizeof(*t));
    t->start = p;
    for (q = p; q < end && is_key_char(*q, q == p); q++)
        ;
    if (q > p && q < end && *q == '=') {
        t->key = p;
        t->klen = (size_t)(q - p);
        q++;
        if (q < end && *q == '"') {
            const char *r = q + 1;

            while (r < end && *r != '"')
                r += (*r == '\\' && r + 1 < end) ? 2 : 1;
            if (r < end && (r + 1 == end || is_space(r[1]))) {
                t->kv = t->quoted = true;
                t->val = q + 1;
                t->vlen = (size_t)(r - q - 1);
                t->end = r + 1;
                return true;
            }
        } else {
            t->kv = true;
            t->val = q;
        }
    }
    for (q = p; q < end && !is_space(*q); q++)
        ;
    t->end = q;
    if (t->kv)
        t->vlen = (size_t)(q - t->val);
    return true;
}

static int json_field(struct dai_buf *b, const struct tok *t)
{
    static const char *const reserved[] = { "ts", "level", "service", "msg" };
    int rc = dai_buf_append(b, ",\"", 2);

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]) && !rc; i++) {
        if (t->klen == strlen(reserved[i]) && memcmp(t->key, reserved[i], t->klen) == 0)
            rc = dai_buf_append(b, "_", 1); /* never shadow the envelope */
    }
    if (!rc)
        rc = json_escape(b, t->key, t->klen);
    if (!rc)
        rc = dai_buf_append(b, "\":\"", 3);
    if (t->quoted) {
        /* Escape whole runs between \" and \\ so multi-byte UTF-8 stays intact. */
        const char *v = t->val, *end = t->val + t->vlen, *run = v;

        while (!rc && v < end) {
            if (*v == '\\' && v + 1 < end && (v[1] == '"' || v[1] == '\\')) {
                rc = json_escape(b, run, (size_t)(v - run));
                run = v + 1; /* the escaped character starts the next run */
                v += 2;
            } else {
                v++;
            }
        }
        if (!rc)
            rc = json_escape(b, run, (size_t)(end - run));
    } else if (!rc) {
        rc = json_escape(b, t->val, t->vlen);
    }
    if (!rc)
        rc = dai_buf_append(b, "\"", 1);
    return rc;
}

/* True when a key=value token after t repeats t's key (the last one wins). */
static bool key_repeats(const struct tok *t, const char *end)
{
    struct tok u;
    const char *p = t->end;

    while (next_tok(p, end, &u)) {
        if (u.klen == t->klen && memcmp(u.key, t->key, t->klen) == 0)
            return true;
        p = u.end;
    }
    return false;
}

static int build_json(struct dai_buf *b, const char *ts, enum dai_log_level level,
                      const char *msg, size_t len)
{
    const char *end = msg + len, *tail = NULL, *p = msg, *text_end;
    struct tok t;
    int rc;

    /* The fields are the longest run of key=value tokens ending the message. */
    while (next_tok(p, end, &t)) {
        if (!t.kv)
            tail = NULL;
        else if (!tail)
            tail = t.start;
        p = t.end;
    }
    text_end = tail ? tail : end;
    while (text_end > msg && is_space(text_end[-1]))
        text_end--;
    rc = dai_buf_appendf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"", ts,
                         level_json[level]);
    if (!rc)
        rc = json_escape(b, cur_service, strlen(cur_service));
    if (!rc)
        rc = dai_buf_append(b, "\",\"msg\":\"", 9);
    if (!rc)
        rc = json_escape(b, msg, (size_t)(text_end - msg));
    if (!rc)
        rc = dai_buf_append(b, "\"", 1);
    for (p = tail; p && !rc && next_tok(p, end, &t); p = t.end) {
        if (!key_repeats(&t, end))
            rc = json_field(b, &t);
    }
    if (!rc)
        rc = dai_buf_append(b, "}\n", 2);
    return rc;
}

static int build_text(struct dai_buf *b, const char *ts, enum dai_log_level level,
                      const char *msg, size_t len)
{
    int rc = dai_buf_appendf(b, "%s %s %s: ", ts, level_text[level], cur_service);

    if (!rc)
        rc = text_escape(b, msg, len);
    if (!rc)
        rc = dai_buf_append(b, "\n", 1);
    return rc;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report a failing log sink */
        p += w;
        n -= (size_t)w;
    }
}

/*---- values from outside -----------------------------------------------*/

static bool plain_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '"' && c != '\\';
}

const char *dai_log_value(char *out, size_t n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t len, w = 0, i;
    bool plain;

    if (n < 3) {
        if (n)
            out[0] = '\0';
        return out;
    }
    if (!s)
        s = "-";
    len = strlen(s);
    plain = len > 0;
    for (i = 0; i < len && plain; i++)
        plain = plain_byte((unsigned char)s[i]);
    if (plain && len < n) {
        memcpy(out, s, len + 1);
        return out;
    }
    /* Room is kept for the closing quote and the NUL; an escape that does
     * not fit is dropped whole, so the quoting always balances. */
    out[w++] = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[4];
        size_t k = 0;

        if (c == '"' || c == '\\') {
            e[k++] = '\\';
            e[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            e[k++] = '\\';
            e[k++] = 'x';
            e[k++] = hex[c >> 4];
            e[k++] = hex[c & 15];
        } else {
            e[k++] = (char)c;
        }
        if (w + k + 2 > n)
            break;
        memcpy(out + w, e, k);
        w += k;
    }
    out[w++] = '"';
    out[w] = '\0';
    return out;
}

/*---- dai_log ------------------------------------------------------------*/

void dai_log(enum dai_log_level level, const char *fmt, ...)
{
    char stackbuf[1024], *msg = stackbuf, ts[32];
    struct dai_buf masked = { 0 }, line = { 0 };
    bool truncated = false;
    va_list ap;
    int n, rc;

    if (level < DAI_LOG_DEBUG || level > DAI_LOG_ERROR || !dai_log_enabled(level))
        return;
    dai_rfc3339_ms(dai_now_ms(), ts);
    va_start(ap, fmt);
    n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(stackbuf)) {
        size_t size = (size_t)n + 1 > MSG_MAX ? MSG_MAX : (size_t)n + 1;

        truncated = (size_t)n + 1 > MSG_MAX;
        msg = malloc(size);
        if (!msg)
            return;
        va_start(ap, fmt);
        n = vsnprintf(msg, size, fmt, ap);
        va_end(ap);
        if (n < 0)
            goto out;
        if ((size_t)n >= size)
            n = (int)size - 1;
    }

    pthread_mutex_lock(&mu);
    rc = mask_secrets(msg, (size_t)n, &masked);
    if (!rc && truncated) {
        cut_secret_prefix(&masked);
        rc = dai_buf_append(&masked, TRUNC_MARK, sizeof(TRUNC_MARK) - 1);
    }
    if (!rc && cur_format == DAI_LOG_JSON)
        rc = build_json(&line, ts, level, masked.data, masked.len);
    else if (!rc)
        rc = build_text(&line, ts, level, masked.data, masked.len);
    if (!rc)
        write_all(cur_fd >= 0 ? cur_fd : STDERR_FILENO, line.data, line.len);
    pthread_mutex_unlock(&mu);
out:
    dai_buf_free(&masked);
    dai_buf_free(&line);
    if (msg != stackbuf)
        free(msg);
}
