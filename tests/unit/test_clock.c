/* Unit tests for common/src/clock.c: RFC 3339 formatting, the clocks and
 * the deadline helper. */
#include <dispatchai/clock.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_clock_rfc3339_ms(void **state)
{
    char out[32];

    (void)state;
    dai_rfc3339_ms(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    dai_rfc3339_ms(1795946400123LL, out);
    assert_string_equal(out, "2026-11-29T10:00:00.123Z");
    dai_rfc3339_ms(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    dai_rfc3339_ms(951782400007LL, out); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.007Z");
}

static void test_clock_clocks_advance(void **state)
{
    long long w0 = dai_now_ms(), m0 = dai_mono_us(), m1;

    (void)state;
    assert_true(w0 > 1700000000000LL); /* after Nov 2023: the clock is in ms */
    do {
        m1 = dai_mono_us();
    } while (m1 == m0);
    assert_true(m1 > m0);
}

static void test_clock_ms_left_clamps(void **state)
{
    long long now = dai_mono_us();
    int left;

    (void)state;
    assert_int_equal(dai_ms_left(now - 5000000), 0);           /* passed */
    assert_int_equal(dai_ms_left(now + 10LL * 3600000000), 3600000); /* capped at 1 h */
    left = dai_ms_left(now + 2000000);
    assert_true(left > 1000 && left <= 2000);
}

static void test_clock_realtime_after_ms(void **state)
{
    struct timespec now, at;
    long long d;

    (void)state;
    clock_gettime(CLOCK_REALTIME, &now);
    dai_realtime_after_ms(1999, &at);
    assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
    d = (at.tv_sec - now.tv_sec) * 1000LL + (at.tv_nsec - now.tv_nsec) / 1000000L;
    assert_true(d >= 1999 && d < 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_rfc3339_ms),
        cmocka_unit_test(test_clock_clocks_advance),
        cmocka_unit_test(test_clock_ms_left_clamps),
        cmocka_unit_test(test_clock_realtime_after_ms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
