/* Unit tests for classifier/breaker.c: error classification, backoff with
 * jitter and Retry-After, Retry-After parsing, and the circuit breaker's
 * closed -> open -> half-open -> closed/open state machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "../../classifier/breaker.h"
#include <dispatchai/dai.h>

static void test_cls_breaker_error_kinds(void **state)
{
    (void)state;
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 200), CLS_LLM_ERR_NONE);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 429), CLS_LLM_ERR_RATE_LIMITED);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 500), CLS_LLM_ERR_SERVER);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 503), CLS_LLM_ERR_SERVER);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 408), CLS_LLM_ERR_SERVER);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 401), CLS_LLM_ERR_CLIENT);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 400), CLS_LLM_ERR_CLIENT);
    assert_int_equal(cls_llm_err_classify(CURLE_OK, 204), CLS_LLM_ERR_MALFORMED);
    assert_int_equal(cls_llm_err_classify(CURLE_OPERATION_TIMEDOUT, 0), CLS_LLM_ERR_TIMEOUT);
    assert_int_equal(cls_llm_err_classify(CURLE_COULDNT_CONNECT, 0), CLS_LLM_ERR_CONNECT);
    assert_int_equal(cls_llm_err_classify(CURLE_GOT_NOTHING, 0), CLS_LLM_ERR_CONNECT);
    assert_int_equal(cls_llm_err_classify(CURLE_WRITE_ERROR, 200), CLS_LLM_ERR_TOO_BIG);

    assert_true(cls_llm_err_retryable(CLS_LLM_ERR_TIMEOUT));
    assert_true(cls_llm_err_retryable(CLS_LLM_ERR_RATE_LIMITED));
    assert_true(cls_llm_err_retryable(CLS_LLM_ERR_SERVER));
    assert_true(cls_llm_err_retryable(CLS_LLM_ERR_CONNECT));
    assert_false(cls_llm_err_retryable(CLS_LLM_ERR_CLIENT));
    assert_false(cls_llm_err_retryable(CLS_LLM_ERR_INVALID_REPLY));
    assert_false(cls_llm_err_retryable(CLS_LLM_ERR_TOO_BIG));
    assert_string_equal(cls_llm_err_name(CLS_LLM_ERR_RATE_LIMITED), "rate_limited");
}

static void test_cls_breaker_backoff_grows_with_jitter(void **state)
{
    struct cls_backoff b = {.base_ms = 100, .max_ms = 1000, .retry_after_max_ms = 5000,
                            .max_retries = 6};
    uint64_t rng = 42;
    bool varied = false;
    int first = -1;

    (void)state;
    for (int i = 0; i < 200; i++) {
        int d1 = cls_backoff_delay(&b, 1, -1, &rng);
        int d2 = cls_backoff_delay(&b, 2, -1, &rng);
        int d3 = cls_backoff_delay(&b, 3, -1, &rng);
        int d6 = cls_backoff_delay(&b, 6, -1, &rng);

        /* equal jitter: [d/2, d] for d = base * 2^(n-1), capped */
        assert_in_range(d1, 50, 100);
        assert_in_range(d2, 100, 200);
        assert_in_range(d3, 200, 400);
        assert_in_range(d6, 500, 1000);
        if (first < 0)
            first = d1;
        else if (d1 != first)
            varied = true;
    }
    assert_true(varied);
}

static void test_cls_breaker_backoff_budget_and_retry_after(void **state)
{
    struct cls_backoff b = {.base_ms = 100, .max_ms = 1000, .retry_after_max_ms = 5000,
                            .max_retries = 3};
    uint64_t rng = 7;

    (void)state;
    assert_int_equal(cls_backoff_delay(&b, 4, -1, &rng), -1);
    assert_int_equal(cls_backoff_delay(&b, 0, -1, &rng), -1);
    /* Retry-After is a floor... */
    assert_int_equal(cls_backoff_delay(&b, 1, 3000, &rng), 3000);
    /* ...but never lowers a longer backoff */
    assert_true(cls_backoff_delay(&b, 3, 1, &rng) >= 200);
    /* and one longer than we are willing to wait means give up */
    assert_int_equal(cls_backoff_delay(&b, 1, 6000, &rng), -1);
    b.max_retries = 0;
    assert_int_equal(cls_backoff_delay(&b, 1, -1, &rng), -1);
}

static void test_cls_breaker_retry_after_parse(void **state)
{
    /* 2015-10-21 07:28:00 UTC */
    long long at = 1445412480000LL;

    (void)state;
    assert_int_equal(cls_retry_after_parse("2", 0), 2000);
    assert_int_equal(cls_retry_after_parse(" 0\r\n", 0), 0);
    assert_int_equal(cls_retry_after_parse("120", 0), 120000);
    assert_int_equal(cls_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", at - 1500), 1500);
    assert_int_equal(cls_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", at + 5000), 0);
    assert_int_equal(cls_retry_after_parse("soon", 0), -1);
    assert_int_equal(cls_retry_after_parse("-3", 0), -1);
    assert_int_equal(cls_retry_after_parse("5s", 0), -1);
    assert_int_equal(cls_retry_after_parse(NULL, 0), -1);
}

static void test_cls_breaker_opens_after_threshold(void **state)
{
    struct cls_breaker b;
    bool probe;

    (void)state;
    cls_breaker_init(&b, 3, 1000, 8000);
    assert_true(cls_breaker_allow(&b, 0, &probe));
    assert_false(probe);
    cls_breaker_failure(&b, 10, false);
    cls_breaker_failure(&b, 20, false);
    /* a success in between resets the count */
    cls_breaker_success(&b, 25, false);
    cls_breaker_failure(&b, 30, false);
    cls_breaker_failure(&b, 40, false);
    assert_int_equal(b.state, CLS_BREAKER_CLOSED);
    cls_breaker_failure(&b, 50, false);
    assert_int_equal(b.state, CLS_BREAKER_OPEN);
    assert_false(cls_breaker_allow(&b, 60, &probe));
    assert_false(cls_breaker_allow(&b, 1049, &probe));
    assert_string_equal(cls_breaker_state_name(b.state), "open");
}

static void test_cls_breaker_probe_closes_or_reopens(void **state)
{
    struct cls_breaker b;
    bool probe;

    (void)state;
    cls_breaker_init(&b, 1, 1000, 3000);
    cls_breaker_failure(&b, 0, false);
    assert_int_equal(b.state, CLS_BREAKER_OPEN);

    /* after the open time exactly one probe goes through */
    assert_true(cls_breaker_allow(&b, 1000, &probe));
    assert_true(probe);
    assert_int_equal(b.state, CLS_BREAKER_HALF_OPEN);
    assert_false(cls_breaker_allow(&b, 1001, &probe));

    /* a failed probe re-opens for twice as long */
    cls_breaker_failure(&b, 1100, true);
    assert_int_equal(b.state, CLS_BREAKER_OPEN);
    assert_false(cls_breaker_allow(&b, 3099, &probe));
    assert_true(cls_breaker_allow(&b, 3100, &probe));
    assert_true(probe);
    cls_breaker_failure(&b, 3200, true);
    /* capped at open_max */
    assert_false(cls_breaker_allow(&b, 6199, &probe));
    assert_true(cls_breaker_allow(&b, 6200, &probe));

    /* stragglers while half-open change nothing */
    cls_breaker_failure(&b, 6250, false);
    cls_breaker_success(&b, 6260, false);
    assert_int_equal(b.state, CLS_BREAKER_HALF_OPEN);

    /* a successful probe closes and resets the open time */
    cls_breaker_success(&b, 6300, true);
    assert_int_equal(b.state, CLS_BREAKER_CLOSED);
    assert_true(cls_breaker_allow(&b, 6301, &probe));
    assert_false(probe);
    cls_breaker_failure(&b, 7000, false);
    assert_false(cls_breaker_allow(&b, 7999, &probe));
    assert_true(cls_breaker_allow(&b, 8000, &probe));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_breaker_error_kinds),
        cmocka_unit_test(test_cls_breaker_backoff_grows_with_jitter),
        cmocka_unit_test(test_cls_breaker_backoff_budget_and_retry_after),
        cmocka_unit_test(test_cls_breaker_retry_after_parse),
        cmocka_unit_test(test_cls_breaker_opens_after_threshold),
        cmocka_unit_test(test_cls_breaker_probe_closes_or_reopens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
