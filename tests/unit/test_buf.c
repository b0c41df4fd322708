/* Unit tests for common/src/buf.c: appends, formatted appends that grow,
 * take/reset/free, and the hard cap. */
#include <dispatchai/buf.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_buf_append_and_take(void **state)
{
    struct dai_buf b = { 0 };
    char *s;

    (void)state;
    assert_int_equal(dai_buf_append(&b, "abc", 3), 0);
    assert_int_equal(dai_buf_appendf(&b, "-%d-%s", 42, "x"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abc-42-x");
    dai_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(dai_buf_append(&b, "z", 1), 0);
    s = dai_buf_take(&b);
    assert_string_equal(s, "z");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    s = dai_buf_take(&b); /* an empty buffer still yields a string */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

static void test_buf_appendf_grows(void **state)
{
    struct dai_buf b = { 0 };
    char big[1000];

    (void)state;
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(dai_buf_appendf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    assert_int_equal(b.data[1001], '\0');
    dai_buf_free(&b);
}

static void test_buf_cap_enforced(void **state)
{
    struct dai_buf b = { .max = 8 };

    (void)state;
    assert_int_equal(dai_buf_append(&b, "12345678", 8), 0);
    assert_int_equal(dai_buf_append(&b, "9", 1), DAI_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    dai_buf_reset(&b);
    assert_int_equal(dai_buf_appendf(&b, "%s", "123456789"), DAI_ETOOBIG);
    assert_string_equal(b.data, "");
    dai_buf_free(&b);
    assert_int_equal(b.max, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_and_take),
        cmocka_unit_test(test_buf_appendf_grows),
        cmocka_unit_test(test_buf_cap_enforced),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
