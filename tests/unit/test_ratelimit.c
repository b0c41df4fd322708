/* Unit tests for common/src/ratelimit.c: burst, refusal with retry time,
 * refill, separate keys, the bounded key table, per-minute use (the
 * gateway's corrections), client keys (IPv4 by address, IPv6 by /64) and the
 * per-process hash seed behind the table. */
#include <dispatchai/map.h>
#include <dispatchai/ratelimit.h>

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void take(struct dai_ratelimit *rl, const char *key, long long now,
                 struct dai_rl_result *r)
{
    dai_ratelimit_take(rl, key, strlen(key), now, r);
}

/* Take one token for a client address, keyed as the daemons key it. */
static bool take_addr(struct dai_ratelimit *rl, const char *addr, long long now)
{
    unsigned char key[DAI_RL_KEY_MAX];
    struct dai_rl_result r;

    dai_ratelimit_take(rl, key, dai_ratelimit_client_key(addr, key), now, &r);
    return r.allowed;
}

static void test_ratelimit_burst_then_refuse(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(2.0, 3.0, 100); /* 2/s, burst 3 */
    struct dai_rl_result r;

    (void)state;
    for (int i = 0; i < 3; i++) {
        take(rl, "10.0.0.1", 1000, &r);
        assert_true(r.allowed);
        assert_int_equal(r.limit, 3);
        assert_int_equal(r.remaining, 2 - i);
    }
    take(rl, "10.0.0.1", 1000, &r);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_ms, 500); /* one token at 2/s */
    assert_int_equal(r.reset_ms, 1500);      /* three tokens */
    dai_ratelimit_free(rl);
}

static void test_ratelimit_refills(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(2.0, 3.0, 100);
    struct dai_rl_result r;

    (void)state;
    for (int i = 0; i < 3; i++)
        take(rl, "c", 0, &r);
    take(rl, "c", 499, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 2);
    take(rl, "c", 500, &r);
    assert_true(r.allowed);
    /* Never more than the burst, however long the client was away. */
    take(rl, "c", 1000000, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 2);
    dai_ratelimit_free(rl);
}

static void test_ratelimit_keys_are_separate(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(1.0, 1.0, 100);
    struct dai_rl_result r;

    (void)state;
    take(rl, "a", 0, &r);
    assert_true(r.allowed);
    take(rl, "a", 0, &r);
    assert_false(r.allowed);
    take(rl, "b", 0, &r);
    assert_true(r.allowed);
    assert_int_equal(dai_ratelimit_keys(rl), 2);
    dai_ratelimit_free(rl);
}

static void test_ratelimit_table_is_bounded(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(1.0, 1.0, 4);
    struct dai_rl_result r;
    char addr[32];

    (void)state;
    take(rl, "keep", 0, &r);
    for (int i = 0; i < 100; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        take(rl, addr, 0, &r);
        assert_true(r.allowed);
        if (i % 2 == 0) {
            take(rl, "keep", 0, &r); /* recently seen: stays */
            assert_false(r.allowed);
        }
    }
    assert_int_equal(dai_ratelimit_keys(rl), 4);
    dai_ratelimit_free(rl);
}

static void test_ratelimit_bad_arguments(void **state)
{
    (void)state;
    assert_null(dai_ratelimit_new(0, 1, 10));
    assert_null(dai_ratelimit_new(1, 0.5, 10));
    assert_null(dai_ratelimit_new(1, 1, 0));
}

/* The gateway's use: per_minute corrections, a minute's worth of burst. */
static void test_ratelimit_per_minute(void **state)
{
    struct dai_ratelimit *r = dai_ratelimit_new(3 / 60.0, 3, 64);
    struct dai_rl_result res;

    (void)state;
    for (int i = 0; i < 3; i++) {
        take(r, "ops", 1000, &res);
        assert_true(res.allowed);
    }
    take(r, "ops", 1000, &res); /* burst used up */
    assert_false(res.allowed);
    assert_int_equal(res.retry_after_ms, 20000);
    take(r, "bot", 1000, &res); /* per name */
    assert_true(res.allowed);
    take(r, "ops", 21000, &res); /* 20 s = one token back */
    assert_true(res.allowed);
    take(r, "ops", 21000, &res);
    assert_false(res.allowed);
    dai_ratelimit_free(r);
}

/* Issue 14 item 11: an IPv6 host picks addresses from its /64 at will, so a
 * bucket per IPv6 address is no limit at all. Two addresses of one /64
 * share a bucket; another /64 has its own; IPv4 stays per address, also
 * when it arrives IPv4-mapped on a dual-stack socket. */
static void test_ratelimit_ipv6_by_64(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(1.0, 1.0, 100);
    unsigned char k1[DAI_RL_KEY_MAX], k2[DAI_RL_KEY_MAX];
    size_t n1, n2;

    (void)state;
    assert_true(take_addr(rl, "2001:db8:1:2::1", 0));
    assert_false(take_addr(rl, "2001:db8:1:2:ffff::2", 0)); /* same /64: same bucket */
    assert_false(take_addr(rl, "2001:DB8:1:2:a:b:c:d", 0)); /* any spelling */
    assert_true(take_addr(rl, "2001:db8:1:3::1", 0));       /* the next /64 */
    assert_true(take_addr(rl, "192.0.2.1", 0));
    assert_true(take_addr(rl, "192.0.2.2", 0)); /* IPv4: per address */
    assert_false(take_addr(rl, "::ffff:192.0.2.1", 0)); /* mapped = the IPv4 address */
    dai_ratelimit_free(rl);

    n1 = dai_ratelimit_client_key("2001:db8::1", k1);
    n2 = dai_ratelimit_client_key("2001:db8::ffff:1", k2);
    assert_int_equal(n1, n2);
    assert_memory_equal(k1, k2, n1);
    n1 = dai_ratelimit_client_key("10.1.2.3", k1);
    n2 = dai_ratelimit_client_key("::ffff:10.1.2.3", k2);
    assert_int_equal(n1, n2);
    assert_memory_equal(k1, k2, n1);
    /* Not an address (a Unix socket peer, say): the text is the key. */
    n1 = dai_ratelimit_client_key("unix", k1);
    n2 = dai_ratelimit_client_key("10.1.2.3", k2);
    assert_true(n1 != n2 || memcmp(k1, k2, n1) != 0);
}

/* The table's hash is seeded per process: another process (this binary run
 * again) draws another seed, so keys that collide in one ingress do not
 * collide in the next, and no one outside can compute the placement. */
static uint64_t child_seed(void)
{
    char exe[4096], cmd[4200], line[64] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    uint64_t s = 0;
    FILE *p;

    assert_true(n > 0);
    exe[n] = '\0';
    snprintf(cmd, sizeof(cmd), "'%s' --print-seed", exe);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    assert_int_equal(sscanf(line, "%" SCNx64, &s), 1);
    return s;
}

static void test_ratelimit_hash_seed_differs_per_process(void **state)
{
    uint64_t a = child_seed(), b = child_seed(), mine = dai_hash_seed();

    (void)state;
    assert_true(a != b);
    assert_true(a != mine && b != mine);
    assert_true(mine == dai_hash_seed()); /* fixed for the process's life */
}

/* peek reports what a take would decide without taking or adding a bucket:
 * the gateway checks failed logins this way before it checks a token. */
static void test_ratelimit_peek_takes_nothing(void **state)
{
    struct dai_ratelimit *rl = dai_ratelimit_new(1.0, 2, 16);
    struct dai_rl_result r;

    (void)state;
    assert_non_null(rl);
    dai_ratelimit_peek(rl, "a", 1, 1000, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 2);
    assert_int_equal(dai_ratelimit_keys(rl), 0);
    dai_ratelimit_take(rl, "a", 1, 1000, &r);
    dai_ratelimit_take(rl, "a", 1, 1000, &r);
    for (int i = 0; i < 3; i++) {
        dai_ratelimit_peek(rl, "a", 1, 1000, &r);
        assert_false(r.allowed);
        assert_int_equal(r.retry_after_ms, 1000);
    }
    dai_ratelimit_peek(rl, "a", 1, 2000, &r); /* refilled by one, nothing taken */
    assert_true(r.allowed);
    dai_ratelimit_peek(rl, "a", 1, 2000, &r);
    assert_true(r.allowed);
    dai_ratelimit_free(rl);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_refuse),
        cmocka_unit_test(test_ratelimit_refills),
        cmocka_unit_test(test_ratelimit_peek_takes_nothing),
        cmocka_unit_test(test_ratelimit_keys_are_separate),
        cmocka_unit_test(test_ratelimit_table_is_bounded),
        cmocka_unit_test(test_ratelimit_bad_arguments),
        cmocka_unit_test(test_ratelimit_per_minute),
        cmocka_unit_test(test_ratelimit_ipv6_by_64),
        cmocka_unit_test(test_ratelimit_hash_seed_differs_per_process),
    };

    if (argc == 2 && strcmp(argv[1], "--print-seed") == 0) {
        printf("%" PRIx64 "\n", dai_hash_seed());
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
