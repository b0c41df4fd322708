/* Unit tests for common/src/instance.c: the name carries prefix, hostname
 * and pid, differs between calls (the random part), and is always
 * terminated when the buffer is short. */
#include <dispatchai/instance.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_instance_name_parts(void **state)
{
    char a[256], b[256], host[64] = "host", want[160];

    (void)state;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    snprintf(want, sizeof(want), "dispatchai-x-%s-%d-", host, (int)getpid());
    dai_instance_name("dispatchai-x", a, sizeof(a));
    dai_instance_name("dispatchai-x", b, sizeof(b));
    assert_int_equal(strncmp(a, want, strlen(want)), 0);
    assert_int_equal(strlen(a), strlen(want) + 12);
    assert_string_not_equal(a, b); /* same host and pid: the random part differs */
}

static void test_instance_name_truncates(void **state)
{
    char s[8];

    (void)state;
    memset(s, 'z', sizeof(s));
    dai_instance_name("dispatchai-classifier", s, sizeof(s));
    assert_int_equal(strlen(s), sizeof(s) - 1);
    assert_string_equal(s, "dispatc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_name_parts),
        cmocka_unit_test(test_instance_name_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
