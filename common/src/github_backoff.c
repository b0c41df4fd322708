/* What to do after one GitHub answer: GitHub's documented rate-limit rules
 * (retry-after, remaining 0 until reset, a minute then doubling for the
 * secondary limit), bounded jittered backoff for 5xx and connection errors,
 * one token renewal after a 401 — and when an installation token must be
 * renewed. Pure: the client brings the clock and the randomness. */
#include <dispatchai/github.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define SECONDARY_FIRST_MS 60000LL

/* GitHub words a secondary-limit 403 as "You have exceeded a secondary rate
 * limit"; a primary one as "API rate limit exceeded". A 403 saying neither
 * is a permission problem and retrying it cannot help. */
static bool says_rate_limit(const char *body)
{
    return body && (strstr(body, "secondary rate limit") || strstr(body, "rate limit exceeded") ||
                    strstr(body, "abuse detection"));
}

static long long transient_wait(const struct dai_github_policy *p, int n, unsigned rnd)
{
    long long w = p->base_ms;

    for (int i = 0; i < n && w < p->cap_ms; i++)
        w *= 2;
    if (w > p->cap_ms)
        w = p->cap_ms;
    /* Half fixed, half random: spread retries of many clients apart while
     * keeping a floor under each wait. */
    return w / 2 + (w > 1 ? (long long)(rnd % (unsigned long long)(w / 2 + 1)) : 0);
}

enum dai_github_verdict dai_github_decide(const struct dai_github_policy *p, long status,
                                          const struct dai_github_meta *m, const char *body,
                                          long long now_s, unsigned rnd,
                                          struct dai_github_attempts *a, long long *wait_ms)
{
    long long w = -1;

    *wait_ms = 0;
    if (status == 0 || status == 500 || status == 502 || status == 503 || status == 504) {
        if (a->transient >= p->max_retries)
            return DAI_GH_GIVE_UP;
        *wait_ms = transient_wait(p, a->transient, rnd);
        a->transient++;
        return DAI_GH_RETRY_TRANSIENT;
    }
    if (status == 401) {
        if (a->reauthed)
            return DAI_GH_DONE;
        a->reauthed = true;
        return DAI_GH_REAUTH;
    }
    if (status != 403 && status != 429)
        return DAI_GH_DONE;
    if (m->retry_after_s >= 0) {
        w = m->retry_after_s * 1000;
    } else if (m->rl_remaining == 0 && m->rl_reset >= 0) {
        /* One extra second: the reset instant is rounded down to a second. */
        w = (m->rl_reset > now_s ? m->rl_reset - now_s : 0) * 1000 + 1000;
    } else if (status == 429 || says_rate_limit(body)) {
        w = SECONDARY_FIRST_MS;
        for (int i = 0; i < a->secondary && w < p->max_wait_ms; i++)
            w *= 2;
        a->secondary++;
    } else {
        return DAI_GH_DONE; /* a 403 for want of permission */
    }
    if (a->rate >= p->max_rate_waits || w > p->max_wait_ms)
        return DAI_GH_GIVE_UP;
    a->rate++;
    *wait_ms = w;
    return DAI_GH_RETRY_RATE;
}

bool dai_github_token_usable(long long issued_s, long long expires_s, long long now_s,
                             long long margin_s)
{
    long long left = expires_s - now_s;
    long long quarter = (expires_s - issued_s) / 4;

    return left > quarter && left > margin_s;
}

int dai_github_parse_time(const char *s, long long *out)
{
    struct tm tm;
    const char *end;

    if (!s)
        return DAI_EPARSE;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return DAI_EPARSE;
    if (*end == '.') /* fractional seconds: dropped */
        while (*++end >= '0' && *end <= '9')
            ;
    if (strcmp(end, "Z") != 0)
        return DAI_EPARSE;
    *out = (long long)timegm(&tm);
    return 0;
}
