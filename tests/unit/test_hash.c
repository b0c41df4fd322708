/* Unit tests for common/src/hash.c: the stable FNV-1a 64 gives its
 * reference values (cursors, Kafka text-hash headers and the offline
 * model's features depend on them across versions), and the seeded hash is
 * deterministic within a process and depends on the seed. */
#include <dispatchai/hash.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_hash_fnv64_reference_values(void **state)
{
    uint64_t h;

    (void)state;
    /* Published FNV-1a 64 test vectors. */
    assert_true(dai_fnv64(DAI_FNV64_BASIS, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(dai_fnv64(DAI_FNV64_BASIS, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(dai_fnv64(DAI_FNV64_BASIS, "foobar", 6) == 0x85944171f73967e8ULL);
    /* Byte by byte or in pieces: the same value. */
    h = DAI_FNV64_BASIS;
    for (const char *p = "foobar"; *p; p++)
        h = dai_fnv64_byte(h, (unsigned char)*p);
    assert_true(h == 0x85944171f73967e8ULL);
    assert_true(dai_fnv64(dai_fnv64(DAI_FNV64_BASIS, "foo", 3), "bar", 3) == h);
}

static void test_hash_seeded_depends_on_the_seed(void **state)
{
    uint64_t s = dai_hash_seed();

    (void)state;
    assert_true(s == dai_hash_seed());
    assert_true(dai_hash64("key", 3) == dai_hash64("key", 3));
    assert_true(dai_hash64("key", 3) == dai_hash64_more(s, "key", 3));
    assert_true(dai_hash64_more(s, "key", 3) != dai_hash64_more(s + 1, "key", 3));
    assert_true(dai_hash64("key", 3) != dai_fnv64(DAI_FNV64_BASIS, "key", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_fnv64_reference_values),
        cmocka_unit_test(test_hash_seeded_depends_on_the_seed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
