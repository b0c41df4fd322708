/* Reading GitHub's response headers: rate-limit state, retry-after (seconds
 * or an HTTP date), the ETag for conditional requests and the Link header's
 * next page. Pure: lines in, fields out. */
#include <dispatchai/github.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void dai_github_meta_init(struct dai_github_meta *m)
{
    m->rl_remaining = -1;
    m->rl_reset = -1;
    m->retry_after_s = -1;
    m->etag[0] = '\0';
    m->next[0] = '\0';
}

/* A non-negative decimal filling v[0..n) exactly; -1 otherwise. */
static long long number(const char *v, size_t n)
{
    long long x = 0;

    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* "Fri, 04 Dec 2026 22:00:00 GMT" → seconds from now (0 when past); -1 if unparsable. */
static long long http_date_delay(const char *v, size_t n, long long now_s)
{
    char tmp[64];
    struct tm tm;
    const char *end;
    long long at;

    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    memset(&tm, 0, sizeof(tm));
    end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    at = (long long)timegm(&tm);
    return at > now_s ? at - now_s : 0;
}

static bool named(const char *line, size_t nlen, const char *name)
{
    return strlen(name) == nlen && strncasecmp(line, name, nlen) == 0;
}

void dai_github_meta_header(struct dai_github_meta *m, const char *line, size_t len,
                            long long now_s)
{
    const char *colon = memchr(line, ':', len);
    const char *v, *end = line + len;
    size_t nlen, vlen;

    if (!colon)
        return;
    nlen = (size_t)(colon - line);
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    vlen = (size_t)(end - v);
    if (named(line, nlen, "x-ratelimit-remaining")) {
        m->rl_remaining = number(v, vlen);
    } else if (named(line, nlen, "x-ratelimit-reset")) {
        m->rl_reset = number(v, vlen);
    } else if (named(line, nlen, "retry-after")) {
        long long s = number(v, vlen);
        m->retry_after_s = s >= 0 ? s : http_date_delay(v, vlen, now_s);
    } else if (named(line, nlen, "etag")) {
        if (vlen < sizeof(m->etag)) {
            memcpy(m->etag, v, vlen);
            m->etag[vlen] = '\0';
        }
    } else if (named(line, nlen, "link")) {
        if (dai_github_link_next(v, vlen, m->next, sizeof(m->next)) != 0)
            m->next[0] = '\0';
    }
}

/* Link: <https://api.github.com/...&page=2>; rel="next", <...>; rel="last" */
int dai_github_link_next(const char *value, size_t len, char *out, size_t n)
{
    const char *p = value, *end = value + len;

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p)), *gt, *stop, *q;

        if (!lt)
            break;
        gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
            break;
        /* The parameters of this link run to the next '<' (URLs in Link
         * values are enclosed, so a ',' inside one cannot confuse us). */
        stop = memchr(gt, '<', (size_t)(end - gt));
        if (!stop)
            stop = end;
        for (q = gt; q + 3 <= stop; q++) {
            size_t rest = (size_t)(stop - q);
            if (rest >= 10 && strncasecmp(q, "rel=\"next\"", 10) == 0)
                break;
            if (rest >= 8 && strncasecmp(q, "rel=next", 8) == 0 &&
                (rest == 8 || q[8] == ';' || q[8] == ',' || isspace((unsigned char)q[8])))
                break;
        }
        if (q + 3 <= stop) {
            size_t ulen = (size_t)(gt - lt - 1);
            if (ulen + 1 > n)
                return DAI_ETOOBIG;
            memcpy(out, lt + 1, ulen);
            out[ulen] = '\0';
            return 0;
        }
        p = stop;
    }
    return DAI_ENOTFOUND;
}
