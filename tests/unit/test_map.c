/* Unit tests for common/src/map.c: insert, find, replace, delete (backward
 * shift, so no tombstones pile up), growth, iteration, pointer values, and
 * that the placement of keys depends on the seed. */
#include <dispatchai/map.h>

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

static void test_map_put_get_replace(void **state)
{
    struct dai_map m;
    uint64_t v = 0;

    (void)state;
    dai_map_init(&m);
    assert_int_equal(dai_map_get(&m, "a", 1, &v), DAI_ENOTFOUND); /* empty, no table */
    assert_int_equal(dai_map_put(&m, "a/b:issue:1", 11, 1), 0);
    assert_int_equal(dai_map_put(&m, "a/b:issue:10", 12, 10), 0);
    assert_int_equal(dai_map_get(&m, "a/b:issue:1", 11, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(dai_map_get(&m, "a/b:issue:10", 12, &v), 0);
    assert_int_equal(v, 10);
    /* A prefix is another key; so is the empty key. */
    assert_int_equal(dai_map_get(&m, "a/b:issue:", 10, &v), DAI_ENOTFOUND);
    assert_int_equal(dai_map_get(&m, "", 0, &v), DAI_ENOTFOUND);
    assert_int_equal(dai_map_put(&m, "", 0, 7), 0);
    assert_int_equal(dai_map_get(&m, "", 0, &v), 0);
    assert_int_equal(v, 7);
    /* Replacing keeps the count. */
    assert_int_equal(dai_map_put(&m, "a/b:issue:1", 11, 99), 0);
    assert_int_equal(dai_map_get(&m, "a/b:issue:1", 11, &v), 0);
    assert_int_equal(v, 99);
    assert_int_equal(m.n, 3);
    assert_int_equal(dai_map_put(&m, NULL, 0, 1), DAI_EINVAL);
    dai_map_free(&m);
    assert_int_equal(m.n, 0);
    assert_int_equal(dai_map_get(&m, "", 0, &v), DAI_ENOTFOUND);
}

/* Binary keys: bytes after a NUL count. */
static void test_map_binary_keys(void **state)
{
    static const unsigned char k1[] = { 6, 0, 1, 2 }, k2[] = { 6, 0, 1, 3 };
    struct dai_map m;
    uint64_t v;

    (void)state;
    dai_map_init(&m);
    assert_int_equal(dai_map_put(&m, k1, sizeof(k1), 1), 0);
    assert_int_equal(dai_map_put(&m, k2, sizeof(k2), 2), 0);
    assert_int_equal(dai_map_get(&m, k1, sizeof(k1), &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(dai_map_get(&m, k2, sizeof(k2), &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(dai_map_get(&m, k1, 2, &v), DAI_ENOTFOUND);
    dai_map_free(&m);
}

/* Thousands of random puts, deletes and gets against a plain array: with
 * backward-shift deletion every key stays reachable, however many removals
 * happened in its cluster (the failure a tombstone-free table can have). */
static void test_map_matches_reference(void **state)
{
    static char keys[NKEYS][32];
    static bool present[NKEYS];
    static uint64_t vals[NKEYS];
    struct dai_map m;
    size_t n = 0;

    (void)state;
    dai_map_init(&m);
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "org/repo:issue:%d", i);
    for (int step = 0; step < 60000; step++) {
        int k = (int)(next_rand() % NKEYS);
        uint64_t v;

        switch (next_rand() % 3) {
        case 0:
            vals[k] = (uint64_t)step << 20;
            assert_int_equal(dai_map_put(&m, keys[k], strlen(keys[k]), vals[k]), 0);
            n += !present[k];
            present[k] = true;
            break;
        case 1:
            assert_int_equal(dai_map_del(&m, keys[k], strlen(keys[k])),
                             present[k] ? 0 : DAI_ENOTFOUND);
            n -= present[k];
            present[k] = false;
            break;
        default:
            if (present[k]) {
                assert_int_equal(dai_map_get(&m, keys[k], strlen(keys[k]), &v), 0);
                assert_true(v == vals[k]);
            } else {
                assert_int_equal(dai_map_get(&m, keys[k], strlen(keys[k]), &v), DAI_ENOTFOUND);
            }
        }
        assert_int_equal(m.n, n);
    }
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(dai_map_get(&m, keys[k], strlen(keys[k]), NULL),
                         present[k] ? 0 : DAI_ENOTFOUND);
    dai_map_free(&m);
}

/* Delete-heavy churn in a table that never grows: an open-addressing table
 * with tombstones would fill with them and lookups of absent keys would scan
 * it all; here the table stays at its reserved size and works. */
static void test_map_churn_leaves_no_tombstones(void **state)
{
    char key[32];
    struct dai_map m;
    size_t cap;

    (void)state;
    dai_map_init(&m);
    assert_int_equal(dai_map_reserve(&m, 64), 0);
    cap = m.cap;
    assert_true(cap >= 128);
    for (int i = 0; i < 100000; i++) {
        char *k = malloc(32);

        assert_non_null(k);
        snprintf(k, 32, "guid-%d", i);
        assert_int_equal(dai_map_put_ptr(&m, k, strlen(k), k), 0);
        if (i >= 50) {
            snprintf(key, sizeof(key), "guid-%d", i - 50);
            char *old = dai_map_get_ptr(&m, key, strlen(key));

            assert_non_null(old);
            assert_int_equal(dai_map_del(&m, key, strlen(key)), 0);
            free(old);
        }
    }
    assert_int_equal(m.n, 50);
    assert_int_equal(m.cap, cap); /* never grew */
    assert_null(dai_map_get_ptr(&m, "guid-0", 6));
    for (int i = 100000 - 50; i < 100000; i++) {
        snprintf(key, sizeof(key), "guid-%d", i);
        assert_non_null(dai_map_get_ptr(&m, key, strlen(key)));
    }
    /* Free the survivors by iterating. */
    {
        size_t pos = 0, seen = 0;
        uint64_t v;

        while (dai_map_next(&m, &pos, NULL, NULL, &v)) {
            free((void *)(uintptr_t)v);
            seen++;
        }
        assert_int_equal(seen, 50);
    }
    dai_map_free(&m);
}

static void test_map_grows_and_reserves(void **state)
{
    static char keys[NKEYS][16];
    struct dai_map m;

    (void)state;
    dai_map_init(&m);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        assert_int_equal(dai_map_put(&m, keys[i], strlen(keys[i]), (uint64_t)i), 0);
        assert_true(m.n * 2 <= m.cap); /* load factor at most 1/2 */
    }
    for (int i = 0; i < NKEYS; i++) {
        uint64_t v;

        assert_int_equal(dai_map_get(&m, keys[i], strlen(keys[i]), &v), 0);
        assert_true(v == (uint64_t)i);
    }
    dai_map_free(&m);
    dai_map_init(&m);
    assert_int_equal(dai_map_reserve(&m, 1000), 0);
    assert_true(m.cap >= 2000);
    {
        size_t cap = m.cap;

        for (int i = 0; i < 1000; i++)
            assert_int_equal(dai_map_put(&m, keys[i], strlen(keys[i]), 1), 0);
        assert_int_equal(m.cap, cap);
    }
    assert_int_equal(dai_map_reserve(&m, 10), 0); /* never shrinks */
    assert_int_equal(m.n, 1000);
    dai_map_free(&m);
}

static void test_map_iteration_visits_each_key_once(void **state)
{
    static char keys[500][16];
    static int seen[500];
    struct dai_map m;
    const void *k;
    size_t len, pos = 0, count = 0;
    uint64_t v;

    (void)state;
    dai_map_init(&m);
    assert_false(dai_map_next(&m, &pos, &k, &len, &v)); /* empty map */
    for (int i = 0; i < 500; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
        assert_int_equal(dai_map_put(&m, keys[i], strlen(keys[i]), (uint64_t)i), 0);
    }
    for (int i = 0; i < 500; i += 2)
        assert_int_equal(dai_map_del(&m, keys[i], strlen(keys[i])), 0);
    pos = 0;
    while (dai_map_next(&m, &pos, &k, &len, &v)) {
        assert_true(v < 500);
        assert_ptr_equal(k, keys[v]);
        assert_int_equal(len, strlen(keys[v]));
        seen[v]++;
        count++;
    }
    assert_int_equal(count, 250);
    for (int i = 0; i < 500; i++)
        assert_int_equal(seen[i], i % 2 ? 1 : 0);
    dai_map_free(&m);
}

/* The seed decides where keys land: two maps with different seeds put the
 * same keys in different home slots (so keys an outsider crafted to collide
 * under one seed do not collide under another), while one seed is
 * deterministic. The process seed itself is fixed for the process and
 * almost surely not zero. */
static void test_map_seed_changes_placement(void **state)
{
    struct dai_map a, b, a2;
    char key[32];
    int differ = 0, same_a = 0, collide_a = 0, collide_b = 0;
    size_t home0_a, home0_b;

    (void)state;
    dai_map_init_seeded(&a, 1);
    dai_map_init_seeded(&a2, 1);
    dai_map_init_seeded(&b, 2);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "203.0.113.%d", i);
        size_t ha = dai_map_home(&a, key, strlen(key), 1024);
        size_t hb = dai_map_home(&b, key, strlen(key), 1024);

        differ += ha != hb;
        same_a += ha == dai_map_home(&a2, key, strlen(key), 1024);
    }
    assert_int_equal(same_a, 1000);
    assert_true(differ > 990); /* about 1 in 1024 may agree by chance */
    /* Keys chosen to share one home slot under seed 1 scatter under seed 2. */
    home0_a = dai_map_home(&a, "x0", 2, 1024);
    home0_b = dai_map_home(&b, "x0", 2, 1024);
    for (int i = 1; i < 2000000 && collide_a < 20; i++) {
        snprintf(key, sizeof(key), "x%d", i);
        if (dai_map_home(&a, key, strlen(key), 1024) != home0_a)
            continue;
        collide_a++;
        collide_b += dai_map_home(&b, key, strlen(key), 1024) == home0_b;
    }
    assert_int_equal(collide_a, 20);
    assert_true(collide_b <= 2);
    /* Multi-part keys: part boundaries count. */
    {
        uint64_t s0 = dai_hash_seed();

        assert_true(dai_hash64_more(dai_hash64_more(s0, "ab", 2), "c", 1) !=
                    dai_hash64_more(dai_hash64_more(s0, "a", 1), "bc", 2));
        assert_true(dai_hash64_more(s0, "abc", 3) == dai_hash64_more(s0, "abc", 3));
    }
    /* The process seed is stable within the process. */
    assert_true(dai_hash_seed() == dai_hash_seed());
    assert_true(dai_hash64("abc", 3) == dai_hash64("abc", 3));
    {
        struct dai_map p;

        dai_map_init(&p);
        assert_true(p.seed == dai_hash_seed());
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_put_get_replace),
        cmocka_unit_test(test_map_binary_keys),
        cmocka_unit_test(test_map_matches_reference),
        cmocka_unit_test(test_map_churn_leaves_no_tombstones),
        cmocka_unit_test(test_map_grows_and_reserves),
        cmocka_unit_test(test_map_iteration_visits_each_key_once),
        cmocka_unit_test(test_map_seed_changes_placement),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
