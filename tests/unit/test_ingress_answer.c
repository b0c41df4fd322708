/* Unit tests for the answer to a failed publish (ingress/answer.c) and the
 * classification of librdkafka errors it rests on (common/src/kafka_errors.c):
 * a 503 with Retry-After only where a redelivery can succeed. */
#include "../../ingress/ingress.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static struct ing_answer answer(rd_kafka_resp_err_t e)
{
    struct ing_answer a;

    ing_answer_for(dai_kafka_err_rc(e), &a);
    return a;
}

static void test_ingress_answer_message_too_large_is_413_without_retry(void **state)
{
    struct ing_answer a = answer(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);

    (void)state;
    assert_int_equal(a.status, 413);
    assert_false(a.retry_after);
    assert_int_equal(a.reason, ING_R_PUBLISH_TOO_LARGE);
    a = answer(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE);
    assert_int_equal(a.status, 413);
}

static void test_ingress_answer_refusals_are_500_without_retry(void **state)
{
    static const rd_kafka_resp_err_t final[] = {
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT,
    };

    (void)state;
    for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
        struct ing_answer a = answer(final[i]);
        assert_int_equal(a.status, 500);
        assert_false(a.retry_after);
        assert_int_equal(a.reason, ING_R_PUBLISH_REFUSED);
    }
}

static void test_ingress_answer_transient_errors_are_503_with_retry(void **state)
{
    static const rd_kafka_resp_err_t transient[] = {
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__FATAL,
    };

    (void)state;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        struct ing_answer a = answer(transient[i]);
        assert_int_equal(a.status, 503);
        assert_true(a.retry_after);
        assert_int_equal(a.reason, ING_R_BROKER);
    }
    assert_int_equal(answer(RD_KAFKA_RESP_ERR__QUEUE_FULL).reason, ING_R_OVERLOADED);
    assert_int_equal(dai_kafka_err_rc(RD_KAFKA_RESP_ERR_NO_ERROR), 0);
}

static void test_ingress_answer_local_failures(void **state)
{
    struct ing_answer a;

    (void)state;
    ing_answer_for(DAI_ETIMEOUT, &a);
    assert_int_equal(a.status, 503);
    assert_true(a.retry_after);
    assert_int_equal(a.reason, ING_R_TIMEOUT);
    ing_answer_for(-ECANCELED, &a);
    assert_int_equal(a.status, 503);
    assert_int_equal(a.reason, ING_R_SHUTTING_DOWN);
    ing_answer_for(-ENOMEM, &a);
    assert_int_equal(a.status, 503);
    assert_true(a.retry_after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_answer_message_too_large_is_413_without_retry),
        cmocka_unit_test(test_ingress_answer_refusals_are_500_without_retry),
        cmocka_unit_test(test_ingress_answer_transient_errors_are_503_with_retry),
        cmocka_unit_test(test_ingress_answer_local_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
