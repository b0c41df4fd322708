/* Unit tests for the ingress's per-client token buckets
 * (ingress/ratelimit.c): burst, refusal with retry time, refill, separate
 * clients and the bounded client table. */
#include "../../ingress/window.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

static void test_ingress_ratelimit_burst_then_refuse(void **state)
{
    struct ing_ratelimit *rl = ing_ratelimit_new(2.0, 3.0, 100); /* 2/s, burst 3 */
    struct ing_rl_result r;

    (void)state;
    for (int i = 0; i < 3; i++) {
        ing_ratelimit_take(rl, "10.0.0.1", 1000, &r);
        assert_true(r.allowed);
        assert_int_equal(r.limit, 3);
        assert_int_equal(r.remaining, 2 - i);
    }
    ing_ratelimit_take(rl, "10.0.0.1", 1000, &r);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_ms, 500); /* one token at 2/s */
    assert_int_equal(r.reset_ms, 1500);      /* three tokens */
    ing_ratelimit_free(rl);
}

static void test_ingress_ratelimit_refills(void **state)
{
    struct ing_ratelimit *rl = ing_ratelimit_new(2.0, 3.0, 100);
    struct ing_rl_result r;

    (void)state;
    for (int i = 0; i < 3; i++)
        ing_ratelimit_take(rl, "c", 0, &r);
    ing_ratelimit_take(rl, "c", 499, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 2);
    ing_ratelimit_take(rl, "c", 500, &r);
    assert_true(r.allowed);
    /* Never more than the burst, however long the client was away. */
    ing_ratelimit_take(rl, "c", 1000000, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 2);
    ing_ratelimit_free(rl);
}

static void test_ingress_ratelimit_clients_are_separate(void **state)
{
    struct ing_ratelimit *rl = ing_ratelimit_new(1.0, 1.0, 100);
    struct ing_rl_result r;

    (void)state;
    ing_ratelimit_take(rl, "a", 0, &r);
    assert_true(r.allowed);
    ing_ratelimit_take(rl, "a", 0, &r);
    assert_false(r.allowed);
    ing_ratelimit_take(rl, "b", 0, &r);
    assert_true(r.allowed);
    assert_int_equal(ing_ratelimit_clients(rl), 2);
    ing_ratelimit_free(rl);
}

static void test_ingress_ratelimit_table_is_bounded(void **state)
{
    struct ing_ratelimit *rl = ing_ratelimit_new(1.0, 1.0, 4);
    struct ing_rl_result r;
    char addr[32];

    (void)state;
    ing_ratelimit_take(rl, "keep", 0, &r);
    for (int i = 0; i < 100; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        ing_ratelimit_take(rl, addr, 0, &r);
        assert_true(r.allowed);
        if (i % 2 == 0) {
            ing_ratelimit_take(rl, "keep", 0, &r); /* recently seen: stays */
            assert_false(r.allowed);
        }
    }
    assert_int_equal(ing_ratelimit_clients(rl), 4);
    ing_ratelimit_free(rl);
}

static void test_ingress_ratelimit_bad_arguments(void **state)
{
    (void)state;
    assert_null(ing_ratelimit_new(0, 1, 10));
    assert_null(ing_ratelimit_new(1, 0.5, 10));
    assert_null(ing_ratelimit_new(1, 1, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_ratelimit_burst_then_refuse),
        cmocka_unit_test(test_ingress_ratelimit_refills),
        cmocka_unit_test(test_ingress_ratelimit_clients_are_separate),
        cmocka_unit_test(test_ingress_ratelimit_table_is_bounded),
        cmocka_unit_test(test_ingress_ratelimit_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
