/* Failure handling for LLM calls as pure logic: which outcomes are worth a
 * retry, how long to wait (exponential backoff with jitter, Retry-After as a
 * floor), and the circuit breaker's closed/open/half-open state machine. The
 * LLM client owns the clock, the randomness and the lock. */
#include "breaker.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const err_names[CLS_LLM_ERR_COUNT] = {
    "none", "timeout", "connect", "rate_limited", "server_error",
    "malformed", "client_error", "invalid_reply", "too_big",
};

const char *cls_llm_err_name(enum cls_llm_err e)
{
    return (e >= 0 && e < CLS_LLM_ERR_COUNT) ? err_names[e] : "unknown";
}

bool cls_llm_err_retryable(enum cls_llm_err e)
{
    switch (e) {
    case CLS_LLM_ERR_TIMEOUT:
    case CLS_LLM_ERR_CONNECT:
    case CLS_LLM_ERR_RATE_LIMITED:
    case CLS_LLM_ERR_SERVER:
    case CLS_LLM_ERR_MALFORMED:
        return true;
    default:
        return false;
    }
}

enum cls_llm_err cls_llm_err_classify(int curl_code, long http_status)
{
    switch (curl_code) {
    case CURLE_OK:
        break;
    case CURLE_OPERATION_TIMEDOUT:
        return CLS_LLM_ERR_TIMEOUT;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        /* our write callback refuses data past llm.max_response_bytes */
        return CLS_LLM_ERR_TOO_BIG;
    default:
        /* resolve/connect/TLS/send/recv/empty reply: the server is not
         * answering properly; another attempt may reach a healthy one. */
        return CLS_LLM_ERR_CONNECT;
    }
    if (http_status == 200)
        return CLS_LLM_ERR_NONE;
    if (http_status == 429)
        return CLS_LLM_ERR_RATE_LIMITED;
    if (http_status == 408 || http_status >= 500)
        return CLS_LLM_ERR_SERVER;
    if (http_status >= 200 && http_status < 300)
        return CLS_LLM_ERR_MALFORMED;
    return CLS_LLM_ERR_CLIENT;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

int cls_backoff_delay(const struct cls_backoff *b, int retry, int retry_after_ms, uint64_t *rng)
{
    long long d;
    int shift;

    if (retry < 1 || retry > b->max_retries)
        return -1;
    if (retry_after_ms > b->retry_after_max_ms)
        return -1;
    shift = retry - 1 > 20 ? 20 : retry - 1;
    d = (long long)b->base_ms << shift;
    if (d > b->max_ms)
        d = b->max_ms;
    /* Equal jitter: keep half of the delay so retries never collapse to zero,
     * randomise the other half so a burst of failed calls does not come back
     * in lockstep. */
    if (d > 1)
        d = d / 2 + (long long)(xorshift64(rng) % (uint64_t)(d / 2 + 1));
    if (retry_after_ms >= 0 && d < retry_after_ms)
        d = retry_after_ms;
    return (int)d;
}

int cls_retry_after_parse(const char *value, long long now_unix_ms)
{
    struct tm tm;
    const char *end;
    char *num_end;
    long secs;
    long long at_ms, delta;

    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        errno = 0;
        secs = strtol(value, &num_end, 10);
        while (*num_end == ' ' || *num_end == '\t' || *num_end == '\r' || *num_end == '\n')
            num_end++;
        if (errno || *num_end || secs < 0)
            return -1;
        return secs > 86400 ? 86400 * 1000 : (int)secs * 1000;
    }
    /* HTTP-date, IMF-fixdate form: "Wed, 21 Oct 2015 07:28:00 GMT". */
    memset(&tm, 0, sizeof(tm));
    end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    at_ms = (long long)timegm(&tm) * 1000;
    delta = at_ms - now_unix_ms;
    if (delta < 0)
        return 0;
    return delta > 86400000LL ? 86400000 : (int)delta;
}

/*---- circuit breaker ------------------------------------------------------*/

void cls_breaker_init(struct cls_breaker *b, int threshold, int open_ms, int open_max_ms)
{
    memset(b, 0, sizeof(*b));
    b->threshold = threshold > 0 ? threshold : 1;
    b->open_base_ms = b->open_ms = open_ms;
    b->open_max_ms = open_max_ms > open_ms ? open_max_ms : open_ms;
}

static void set_state(struct cls_breaker *b, enum cls_breaker_state s)
{
    if (b->state != s)
        b->transitions++;
    b->state = s;
}

static void trip(struct cls_breaker *b, long long now_ms)
{
    set_state(b, CLS_BREAKER_OPEN);
    b->open_until_ms = now_ms + b->open_ms;
}

bool cls_breaker_allow(struct cls_breaker *b, long long now_ms, bool *probe)
{
    *probe = false;
    switch (b->state) {
    case CLS_BREAKER_CLOSED:
        return true;
    case CLS_BREAKER_OPEN:
        if (now_ms < b->open_until_ms)
            return false;
        set_state(b, CLS_BREAKER_HALF_OPEN);
        *probe = true;
        return true;
    case CLS_BREAKER_HALF_OPEN:
        /* exactly one probe at a time; everyone else goes offline */
        return false;
    }
    return false;
}

void cls_breaker_success(struct cls_breaker *b, long long now_ms, bool probe)
{
    (void)now_ms; /* kept for symmetry with failure; closing needs no clock */
    if (probe || b->state == CLS_BREAKER_CLOSED) {
        set_state(b, CLS_BREAKER_CLOSED);
        b->failures = 0;
        b->open_ms = b->open_base_ms;
    }
    /* A straggler from before the breaker opened proves little about the
     * server now: the probe decides. */
}

void cls_breaker_failure(struct cls_breaker *b, long long now_ms, bool probe)
{
    if (probe) {
        long long next = (long long)b->open_ms * 2;
        b->open_ms = next > b->open_max_ms ? b->open_max_ms : (int)next;
        trip(b, now_ms);
        return;
    }
    if (b->state != CLS_BREAKER_CLOSED)
        return;
    if (++b->failures >= b->threshold) {
        b->failures = 0;
        trip(b, now_ms);
    }
}

const char *cls_breaker_state_name(enum cls_breaker_state s)
{
    switch (s) {
    case CLS_BREAKER_CLOSED: return "closed";
    case CLS_BREAKER_OPEN: return "open";
    case CLS_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}
