/* Unit tests for the gateway's index structure gateway/order.c (the blocked
 * sorted array behind newest-first lists), checked against a simple
 * reference through thousands of random operations. The key maps are
 * common's dai_map (tests/unit/test_map.c). */
#include "../../gateway/order.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NKEYS 3000

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct ref {
    int64_t ms;
    uint64_t h;
    bool in;
};

static int cmp_desc(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;

    if (x->ms != y->ms)
        return x->ms > y->ms ? -1 : 1;
    if (x->h != y->h)
        return x->h > y->h ? -1 : 1;
    return 0;
}

static void check_order(const struct gw_order *o, struct ref *r, size_t n)
{
    static struct ref sorted[NKEYS];
    size_t k = 0;
    struct gw_order_pos p;

    for (size_t i = 0; i < n; i++)
        if (r[i].in)
            sorted[k++] = r[i];
    qsort(sorted, k, sizeof(sorted[0]), cmp_desc);
    assert_int_equal(o->n, k);
    p = gw_order_seek(o, false, 0, 0);
    for (size_t i = 0; i < k; i++, p = gw_order_next(o, p)) {
        const struct gw_ent *e = gw_order_at(o, p);

        assert_non_null(e);
        assert_true(e->updated_ms == sorted[i].ms && e->khash == sorted[i].h);
    }
    assert_null(gw_order_at(o, p));
    if (k) {
        assert_true(gw_order_last(o)->updated_ms == sorted[k - 1].ms);
        /* Seeking after the i-th entry lands on the (i+1)-th. */
        for (size_t i = 0; i < k; i += 97) {
            const struct gw_ent *e;

            p = gw_order_seek(o, true, sorted[i].ms, sorted[i].h);
            e = gw_order_at(o, p);
            if (i + 1 < k) {
                assert_non_null(e);
                assert_true(e->updated_ms == sorted[i + 1].ms && e->khash == sorted[i + 1].h);
            } else {
                assert_null(e);
            }
        }
    } else {
        assert_null(gw_order_last(o));
    }
}

static void test_gw_order_matches_reference(void **state)
{
    static struct ref r[NKEYS];
    struct gw_order o;

    (void)state;
    gw_order_init(&o);
    for (int i = 0; i < NKEYS; i++) {
        /* Few distinct times, so ties on ms are common and the hash decides. */
        r[i].ms = (int64_t)(next_rand() % 200);
        r[i].h = next_rand();
    }
    for (int step = 0; step < 40000; step++) {
        int k = (int)(next_rand() % NKEYS);

        if (!r[k].in) {
            struct gw_ent e = {.updated_ms = r[k].ms, .khash = r[k].h, .id = (uint32_t)k};

            assert_int_equal(gw_order_insert(&o, &e), 0);
            r[k].in = true;
        } else if (next_rand() % 2) {
            assert_int_equal(gw_order_remove(&o, r[k].ms, r[k].h), 0);
            r[k].in = false;
            /* An update: the issue comes back with a newer time. */
            if (next_rand() % 2) {
                struct gw_ent e;

                r[k].ms += 1 + (int64_t)(next_rand() % 50);
                e = (struct gw_ent){.updated_ms = r[k].ms, .khash = r[k].h, .id = (uint32_t)k};
                assert_int_equal(gw_order_insert(&o, &e), 0);
                r[k].in = true;
            }
        }
        if (step % 5000 == 0)
            check_order(&o, r, NKEYS);
    }
    check_order(&o, r, NKEYS);
    assert_int_equal(gw_order_remove(&o, -5, 1), DAI_ENOTFOUND);
    gw_order_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_order_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
