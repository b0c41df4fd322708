/* Unit tests for common/src/lifecycle.c: signal flags set via raise(), the
 * exit code after a signal or an internal stop, SIGPIPE ignored, and a wait
 * that a signal cuts short. Stop tests run in a forked child because the
 * stop flag is, by design, one-way for the life of the process. */
#include <dispatchai/clock.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Run fn in a child; its return value becomes the exit status (0 = pass,
 * else the number of the failed check). cmocka asserts cannot cross fork. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    int status = 0;

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int child_sigterm(void)
{
    if (dai_lifecycle_install())
        return 1;
    if (dai_lifecycle_stopping())
        return 2;
    if (raise(SIGTERM))
        return 3;
    if (!dai_lifecycle_stopping())
        return 4;
    if (dai_lifecycle_exit_code() != 0)
        return 5;
    return 0;
}

static int child_sigint(void)
{
    if (dai_lifecycle_install() || raise(SIGINT) || !dai_lifecycle_stopping())
        return 1;
    return dai_lifecycle_exit_code() == 0 ? 0 : 2;
}

static int child_request_stop(void)
{
    /* The request is logged; keep the test output clean. */
    if (dai_lifecycle_install() || dai_log_init("test", "error", "text", NULL))
        return 1;
    dai_lifecycle_request_stop("fatal kafka error");
    if (!dai_lifecycle_stopping())
        return 2;
    if (raise(SIGTERM)) /* a later signal does not turn it into a clean exit */
        return 3;
    return dai_lifecycle_exit_code() == 1 ? 0 : 4;
}

static int child_wait_after_stop_returns_at_once(void)
{
    long long t0;

    if (dai_lifecycle_install() || raise(SIGTERM))
        return 1;
    t0 = dai_mono_us();
    dai_lifecycle_wait(5000);
    dai_lifecycle_wait(5000);
    return dai_mono_us() - t0 < 1000000 ? 0 : 2;
}

static void test_lifecycle_sigterm_sets_stop(void **state)
{
    (void)state;
    assert_int_equal(in_child(child_sigterm), 0);
}

static void test_lifecycle_sigint_sets_stop(void **state)
{
    (void)state;
    assert_int_equal(in_child(child_sigint), 0);
}

static void test_lifecycle_request_stop_exit_code(void **state)
{
    (void)state;
    assert_int_equal(in_child(child_request_stop), 0);
}

static void test_lifecycle_wait_after_stop_returns_at_once(void **state)
{
    (void)state;
    assert_int_equal(in_child(child_wait_after_stop_returns_at_once), 0);
}

static void test_lifecycle_sighup_reopen_once(void **state)
{
    (void)state;
    assert_int_equal(dai_lifecycle_install(), 0);
    assert_false(dai_lifecycle_take_reopen());
    assert_int_equal(raise(SIGHUP), 0);
    assert_true(dai_lifecycle_take_reopen());
    assert_false(dai_lifecycle_take_reopen());
    assert_int_equal(raise(SIGHUP), 0);
    assert_int_equal(raise(SIGHUP), 0);
    assert_true(dai_lifecycle_take_reopen()); /* merged, never lost */
    assert_false(dai_lifecycle_take_reopen());
    assert_false(dai_lifecycle_stopping());
}

static void test_lifecycle_sigpipe_ignored(void **state)
{
    int fds[2];
    ssize_t w;

    (void)state;
    assert_int_equal(dai_lifecycle_install(), 0);
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    /* Without SIG_IGN this write would kill the test binary. */
    w = write(fds[1], "x", 1);
    assert_int_equal(w, -1);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
    assert_false(dai_lifecycle_stopping());
}

static void test_lifecycle_wait_times_out(void **state)
{
    long long t0;

    (void)state;
    assert_int_equal(dai_lifecycle_install(), 0);
    /* Signals raised by earlier tests left wake-ups pending (a wait after a
     * signal returns at once, by design); consume them first. */
    dai_lifecycle_wait(1);
    t0 = dai_mono_us();
    dai_lifecycle_wait(50);
    assert_true(dai_mono_us() - t0 >= 45000);
    dai_lifecycle_wait(0); /* returns at once */
}

static void *send_hup_later(void *arg)
{
    struct timespec ts = { 0, 50 * 1000000L };

    (void)arg;
    nanosleep(&ts, NULL);
    kill(getpid(), SIGHUP);
    return NULL;
}

static void test_lifecycle_signal_wakes_wait(void **state)
{
    pthread_t th;
    long long t0, elapsed;

    (void)state;
    assert_int_equal(dai_lifecycle_install(), 0);
    assert_false(dai_lifecycle_take_reopen());
    t0 = dai_mono_us();
    assert_int_equal(pthread_create(&th, NULL, send_hup_later, NULL), 0);
    dai_lifecycle_wait(10000);
    elapsed = dai_mono_us() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(elapsed < 5000000); /* woke long before the 10 s timeout */
    assert_true(dai_lifecycle_take_reopen());
    /* The wake-up byte was drained, so the next wait sleeps again. */
    t0 = dai_mono_us();
    dai_lifecycle_wait(30);
    assert_true(dai_mono_us() - t0 >= 25000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_sigterm_sets_stop),
        cmocka_unit_test(test_lifecycle_sigint_sets_stop),
        cmocka_unit_test(test_lifecycle_request_stop_exit_code),
        cmocka_unit_test(test_lifecycle_wait_after_stop_returns_at_once),
        cmocka_unit_test(test_lifecycle_sighup_reopen_once),
        cmocka_unit_test(test_lifecycle_sigpipe_ignored),
        cmocka_unit_test(test_lifecycle_wait_times_out),
        cmocka_unit_test(test_lifecycle_signal_wakes_wait),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
