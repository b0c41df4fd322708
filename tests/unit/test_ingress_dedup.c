/* Unit tests for the ingress's de-duplication window (ingress/dedup.c):
 * claim/commit/release, concurrent claims of one GUID, capacity and time
 * eviction (oldest first), and that in-flight GUIDs are never evicted. */
#include "../../ingress/window.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define HOUR (3600LL * 1000)

static int claim(struct ing_dedup *d, const char *g, long long now, struct ing_dedup_entry **e)
{
    int rc = ing_dedup_claim(d, g, now, e);
    assert_true(rc >= 0);
    return rc;
}

static void test_ingress_dedup_claim_commit_duplicate(void **state)
{
    struct ing_dedup *d = ing_dedup_new(100, HOUR);
    struct ing_dedup_entry *e, *e2;

    (void)state;
    assert_int_equal(claim(d, "g-1", 0, &e), ING_DEDUP_NEW);
    assert_string_equal(e->guid, "g-1");
    assert_false(e->done);
    /* A second delivery while the first is in flight must wait for it. */
    assert_int_equal(claim(d, "g-1", 1, &e2), ING_DEDUP_IN_FLIGHT);
    assert_ptr_equal(e, e2);
    assert_int_equal(ing_dedup_in_flight_count(d), 1);
    ing_dedup_commit(d, e, 2, 41, 5);
    assert_int_equal(claim(d, "g-1", 6, &e2), ING_DEDUP_DONE);
    assert_int_equal(e2->partition, 2);
    assert_int_equal(e2->offset, 41);
    assert_int_equal(ing_dedup_in_flight_count(d), 0);
    assert_int_equal(ing_dedup_done_count(d), 1);
    assert_int_equal(claim(d, "g-2", 7, &e2), ING_DEDUP_NEW);
    ing_dedup_free(d);
}

static void test_ingress_dedup_release_allows_republish(void **state)
{
    struct ing_dedup *d = ing_dedup_new(100, HOUR);
    struct ing_dedup_entry *e;

    (void)state;
    assert_int_equal(claim(d, "g-1", 0, &e), ING_DEDUP_NEW);
    ing_dedup_release(d, e); /* the broker refused it: not seen */
    assert_int_equal(ing_dedup_in_flight_count(d), 0);
    assert_int_equal(claim(d, "g-1", 1, &e), ING_DEDUP_NEW);
    ing_dedup_free(d);
}

static void test_ingress_dedup_capacity_evicts_oldest(void **state)
{
    struct ing_dedup *d = ing_dedup_new(3, HOUR);
    struct ing_dedup_entry *e;
    char g[16];

    (void)state;
    for (int i = 0; i < 5; i++) {
        snprintf(g, sizeof(g), "g-%d", i);
        assert_int_equal(claim(d, g, i, &e), ING_DEDUP_NEW);
        ing_dedup_commit(d, e, 0, i, i);
    }
    assert_int_equal(ing_dedup_done_count(d), 3);
    assert_int_equal(claim(d, "g-4", 10, &e), ING_DEDUP_DONE);
    assert_int_equal(claim(d, "g-2", 10, &e), ING_DEDUP_DONE);
    assert_int_equal(claim(d, "g-1", 10, &e), ING_DEDUP_NEW); /* forgotten */
    ing_dedup_free(d);
}

static void test_ingress_dedup_window_expires(void **state)
{
    struct ing_dedup *d = ing_dedup_new(100, HOUR);
    struct ing_dedup_entry *e;

    (void)state;
    assert_int_equal(claim(d, "old", 0, &e), ING_DEDUP_NEW);
    ing_dedup_commit(d, e, 0, 1, 0);
    assert_int_equal(claim(d, "new", HOUR / 2, &e), ING_DEDUP_NEW);
    ing_dedup_commit(d, e, 0, 2, HOUR / 2);
    assert_int_equal(claim(d, "old", HOUR, &e), ING_DEDUP_DONE);
    assert_int_equal(claim(d, "old", HOUR + 1, &e), ING_DEDUP_NEW);
    assert_int_equal(claim(d, "new", HOUR + 1, &e), ING_DEDUP_DONE);
    ing_dedup_free(d);
}

static void test_ingress_dedup_in_flight_never_evicted(void **state)
{
    struct ing_dedup *d = ing_dedup_new(2, 10);
    struct ing_dedup_entry *pinned, *e;
    char g[16];

    (void)state;
    assert_int_equal(claim(d, "pinned", 0, &pinned), ING_DEDUP_NEW);
    for (int i = 0; i < 50; i++) {
        snprintf(g, sizeof(g), "g-%d", i);
        assert_int_equal(claim(d, g, i * 100, &e), ING_DEDUP_NEW);
        ing_dedup_commit(d, e, 0, i, i * 100);
    }
    /* Long past the window and many commits later, still in flight. */
    assert_int_equal(claim(d, "pinned", 100000, &e), ING_DEDUP_IN_FLIGHT);
    assert_ptr_equal(e, pinned);
    ing_dedup_commit(d, pinned, 1, 99, 100000);
    assert_int_equal(claim(d, "pinned", 100001, &e), ING_DEDUP_DONE);
    ing_dedup_free(d);
}

static void test_ingress_dedup_capacity_zero_tracks_in_flight_only(void **state)
{
    struct ing_dedup *d = ing_dedup_new(0, HOUR);
    struct ing_dedup_entry *e;

    (void)state;
    assert_int_equal(claim(d, "g", 0, &e), ING_DEDUP_NEW);
    assert_int_equal(claim(d, "g", 0, &e), ING_DEDUP_IN_FLIGHT);
    ing_dedup_commit(d, e, 0, 0, 0);
    assert_int_equal(ing_dedup_done_count(d), 0);
    assert_int_equal(claim(d, "g", 1, &e), ING_DEDUP_NEW);
    ing_dedup_free(d);
}

static void test_ingress_dedup_many_entries(void **state)
{
    struct ing_dedup *d = ing_dedup_new(50000, HOUR);
    struct ing_dedup_entry *e;
    char g[48];

    (void)state;
    for (int i = 0; i < 60000; i++) {
        snprintf(g, sizeof(g), "%08x-0000-4000-8000-%012d", i, i);
        assert_int_equal(claim(d, g, i, &e), ING_DEDUP_NEW);
        ing_dedup_commit(d, e, i % 3, i, i);
    }
    assert_int_equal(ing_dedup_done_count(d), 50000);
    for (int i = 0; i < 60000; i += 997) {
        snprintf(g, sizeof(g), "%08x-0000-4000-8000-%012d", i, i);
        assert_int_equal(claim(d, g, 60000, &e), i < 10000 ? ING_DEDUP_NEW : ING_DEDUP_DONE);
        if (i < 10000)
            ing_dedup_release(d, e);
        else
            assert_int_equal(e->offset, i);
    }
    ing_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_dedup_claim_commit_duplicate),
        cmocka_unit_test(test_ingress_dedup_release_allows_republish),
        cmocka_unit_test(test_ingress_dedup_capacity_evicts_oldest),
        cmocka_unit_test(test_ingress_dedup_window_expires),
        cmocka_unit_test(test_ingress_dedup_in_flight_never_evicted),
        cmocka_unit_test(test_ingress_dedup_capacity_zero_tracks_in_flight_only),
        cmocka_unit_test(test_ingress_dedup_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
