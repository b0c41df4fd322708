/* Retry policy and circuit breaker of the LLM client (breaker.c): error
 * kinds, backoff with jitter, Retry-After, breaker states. Pure. */
#ifndef DISPATCHAI_CLS_BREAKER_H
#define DISPATCHAI_CLS_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum cls_llm_err {
    CLS_LLM_ERR_NONE = 0,
    CLS_LLM_ERR_TIMEOUT,       /* retryable */
    CLS_LLM_ERR_CONNECT,       /* retryable */
    CLS_LLM_ERR_RATE_LIMITED,  /* 429, retryable */
    CLS_LLM_ERR_SERVER,        /* 5xx / 408, retryable */
    CLS_LLM_ERR_MALFORMED,     /* 200 without a chat completion, retryable */
    CLS_LLM_ERR_CLIENT,        /* other 4xx: not retryable */
    CLS_LLM_ERR_INVALID_REPLY, /* content failed validation: repair once */
    CLS_LLM_ERR_TOO_BIG,       /* response over llm.max_response_bytes */
    CLS_LLM_ERR_COUNT
};
const char *cls_llm_err_name(enum cls_llm_err e);
bool cls_llm_err_retryable(enum cls_llm_err e);
/* Map a transfer outcome: curl_code is a CURLcode (0 = transfer completed),
 * http_status the response status. */
enum cls_llm_err cls_llm_err_classify(int curl_code, long http_status);

struct cls_backoff {
    int base_ms;               /* delay before the first retry, before jitter */
    int max_ms;                /* cap of the exponential delay */
    int retry_after_max_ms;    /* a longer Retry-After means: give up now */
    int max_retries;
};

/* Delay before retry number `retry` (1 = first retry): "equal jitter"
 * exponential backoff, base*2^(retry-1) capped at max, of which the upper
 * half is random; a server's Retry-After (ms, or -1) is a floor. Returns -1
 * when the retry budget is spent or Retry-After exceeds retry_after_max_ms.
 * rng: caller-owned xorshift state (never 0). */
int cls_backoff_delay(const struct cls_backoff *b, int retry, int retry_after_ms, uint64_t *rng);
/* Retry-After as milliseconds from now: delta-seconds or an HTTP-date; -1
 * when absent or unparseable. */
int cls_retry_after_parse(const char *value, long long now_unix_ms);

enum cls_breaker_state { CLS_BREAKER_CLOSED = 0, CLS_BREAKER_OPEN, CLS_BREAKER_HALF_OPEN };

/* Consecutive failures open the breaker for open_ms; then one probe request
 * is let through (half-open); its success closes the breaker, its failure
 * re-opens it for twice as long (up to open_max_ms). Not thread-safe: the
 * LLM client guards it with its lock. */
struct cls_breaker {
    enum cls_breaker_state state;
    int failures;
    int threshold;
    int open_base_ms, open_ms, open_max_ms;
    long long open_until_ms;
    unsigned transitions;      /* counts state changes, for logs/tests */
};

void cls_breaker_init(struct cls_breaker *b, int threshold, int open_ms, int open_max_ms);
/* May a request go to the LLM now? *probe is set when this request is the
 * half-open probe (report its outcome with probe = true). */
bool cls_breaker_allow(struct cls_breaker *b, long long now_ms, bool *probe);
void cls_breaker_success(struct cls_breaker *b, long long now_ms, bool probe);
void cls_breaker_failure(struct cls_breaker *b, long long now_ms, bool probe);
const char *cls_breaker_state_name(enum cls_breaker_state s);

#endif
