/* Unit tests for common/src/log.c: text and JSON line formats, the split of
 * a message into msg + key=value fields, secret masking in both modes,
 * level filtering, the stderr and file sinks, re-open after rotation, and
 * whole lines under concurrent writers. Each test logs into a temp dir. */
#include <dispatchai/log.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
    char dir[64];
    char path[128];
    char rotated[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/dai-test-log-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/app.log", f->dir);
    snprintf(f->rotated, sizeof(f->rotated), "%s/app.log.1", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    dai_log_shutdown();
    unlink(f->path);
    unlink(f->rotated);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Whole file as a new string ("" if missing). */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *s;
    long n;

    if (!fp)
        return strdup("");
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    s = calloc(1, (size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, fp) != (size_t)n)
        s[0] = '\0';
    fclose(fp);
    return s;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static bool matches(const char *s, const char *pattern)
{
    regex_t re;
    int rc;

    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

/* The single JSON line in the log, parsed. */
static json_t *json_line(const char *path)
{
    char *s = slurp(path);
    json_error_t e;
    json_t *v;

    assert_int_equal(count_lines(s), 1);
    v = json_loads(s, 0, &e);
    if (!v)
        fail_msg("not JSON (%s): %s", e.text, s);
    free(s);
    return v;
}

#define TS_RE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "

static void test_log_text_format(void **state)
{
    struct fixture *f = *state;
    char *s;

    assert_int_equal(dai_log_init("ingress", "info", "text", f->path), 0);
    DAI_INFO("delivery accepted delivery=%s size=%d", "abc-123", 12);
    DAI_ERROR("publish failed topic=issues.raw");
    s = slurp(f->path);
    assert_int_equal(count_lines(s), 2);
    assert_true(matches(s, TS_RE "INFO ingress: delivery accepted delivery=abc-123 size=12\n"));
    assert_true(matches(strchr(s, '\n') + 1,
                        TS_RE "ERROR ingress: publish failed topic=issues.raw\n$"));
    free(s);
}

static void test_log_level_filter(void **state)
{
    struct fixture *f = *state;
    char *s;

    assert_int_equal(dai_log_init("svc", "warn", "text", f->path), 0);
    assert_false(dai_log_enabled(DAI_LOG_INFO));
    assert_true(dai_log_enabled(DAI_LOG_WARN));
    DAI_DEBUG("hidden debug");
    DAI_INFO("hidden info");
    DAI_WARN("shown warn");
    s = slurp(f->path);
    assert_int_equal(count_lines(s), 1);
    assert_non_null(strstr(s, "WARN svc: shown warn"));
    free(s);
}

static void test_log_json_fields(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    assert_int_equal(dai_log_init("ingress", "debug", "json", f->path), 0);
    DAI_DEBUG("delivery accepted delivery=abc-123 repo=\"testorg/test repo\" size=%d empty=", 12);
    v = json_line(f->path);
    assert_true(matches(json_string_value(json_object_get(v, "ts")),
                        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"));
    assert_string_equal(json_string_value(json_object_get(v, "level")), "debug");
    assert_string_equal(json_string_value(json_object_get(v, "service")), "ingress");
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "delivery accepted");
    assert_string_equal(json_string_value(json_object_get(v, "delivery")), "abc-123");
    assert_string_equal(json_string_value(json_object_get(v, "repo")), "testorg/test repo");
    assert_string_equal(json_string_value(json_object_get(v, "size")), "12");
    assert_string_equal(json_string_value(json_object_get(v, "empty")), "");
    assert_int_equal(json_object_size(v), 8);
    json_decref(v);
}

static void test_log_json_only_trailing_pairs_are_fields(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
    DAI_INFO("retrying x=1 after \"broker down\" attempt=3 err=\"said \\\"no\\\"\" "
             "title=\"caf\xc3\xa9 \\\\ cr\xc3\xa8me\"");
    v = json_line(f->path);
    assert_string_equal(json_string_value(json_object_get(v, "msg")),
                        "retrying x=1 after \"broker down\"");
    assert_null(json_object_get(v, "x"));
    assert_string_equal(json_string_value(json_object_get(v, "attempt")), "3");
    assert_string_equal(json_string_value(json_object_get(v, "err")), "said \"no\"");
    assert_string_equal(json_string_value(json_object_get(v, "title")),
                        "caf\xc3\xa9 \\ cr\xc3\xa8me");
    json_decref(v);
}

/* Values from requests go through dai_log_value: whatever they contain, the
 * line keeps exactly the fields the caller wrote, each with the whole value. */
static void test_log_value_cannot_inject_fields(void **state)
{
    static const char *const hostile[] = {
        "opened level=error injected=yes", "x\" injected=\"1", "a\\\" b=c", "tab\tb=1",
        "new\nline=2", "\"", "", "plain-value_1.2", "caf\xc3\xa9 cr\xc3\xa8me",
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        char a[DAI_LOG_VALUE_MAX], k[DAI_LOG_VALUE_MAX];
        json_t *v;
        const char *got;

        unlink(f->path);
        assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
        DAI_INFO("delivery action=%s key=%s status=%u", dai_log_value(a, sizeof(a), hostile[i]),
                 dai_log_value(k, sizeof(k), hostile[i]), 202u);
        v = json_line(f->path);
        /* ts, level, service, msg + exactly our three fields. */
        assert_int_equal(json_object_size(v), 7);
        assert_null(json_object_get(v, "injected"));
        assert_string_equal(json_string_value(json_object_get(v, "status")), "202");
        got = json_string_value(json_object_get(v, "action"));
        assert_non_null(got);
        assert_string_equal(json_string_value(json_object_get(v, "key")), got);
        /* Printable values come back exactly; control bytes as \xHH. */
        if (!strpbrk(hostile[i], "\t\n"))
            assert_string_equal(got, hostile[i][0] ? hostile[i] : "");
        json_decref(v);
        dai_log_shutdown();
    }
}

static void test_log_value_quoting_and_cut(void **state)
{
    char out[16];

    (void)state;
    assert_string_equal(dai_log_value(out, sizeof(out), "opened"), "opened");
    assert_string_equal(dai_log_value(out, sizeof(out), NULL), "-");
    assert_string_equal(dai_log_value(out, sizeof(out), ""), "\"\"");
    assert_string_equal(dai_log_value(out, sizeof(out), "a b"), "\"a b\"");
    assert_string_equal(dai_log_value(out, sizeof(out), "a\"b\\"), "\"a\\\"b\\\\\"");
    assert_string_equal(dai_log_value(out, sizeof(out), "a\x01"), "\"a\\x01\"");
    /* Too long: cut, still one balanced quoted value. */
    assert_string_equal(dai_log_value(out, sizeof(out), "0123456789abcdefgh"),
                        "\"0123456789abc\"");
    assert_string_equal(dai_log_value(out, sizeof(out), "0123456789abc\"d"),
                        "\"0123456789abc\"");
}

static void test_log_json_reserved_and_duplicate_keys(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
    DAI_INFO("odd level=trace msg=hi a=1 a=2");
    v = json_line(f->path);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "odd");
    assert_string_equal(json_string_value(json_object_get(v, "_level")), "trace");
    assert_string_equal(json_string_value(json_object_get(v, "_msg")), "hi");
    assert_string_equal(json_string_value(json_object_get(v, "a")), "2");
    json_decref(v);
}

static void test_log_json_escapes_hostile_text(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
    DAI_INFO("title \"quoted\" \\ back\nnext\tline bad=\xff\xfe utf8=caf\xc3\xa9");
    v = json_line(f->path);
    assert_string_equal(json_string_value(json_object_get(v, "msg")),
                        "title \"quoted\" \\ back\nnext\tline");
    assert_string_equal(json_string_value(json_object_get(v, "bad")), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(v, "utf8")), "caf\xc3\xa9");
    json_decref(v);
}

static void test_log_text_keeps_one_line_per_event(void **state)
{
    struct fixture *f = *state;
    char *s;

    assert_int_equal(dai_log_init("svc", "info", "text", f->path), 0);
    DAI_INFO("injected\nFAKE ERROR line\r\x01");
    s = slurp(f->path);
    assert_int_equal(count_lines(s), 1);
    assert_non_null(strstr(s, "injected\\nFAKE ERROR line\\r\\x01\n"));
    free(s);
}

static void test_log_masks_secrets_text(void **state)
{
    struct fixture *f = *state;
    char *s;

    assert_int_equal(dai_log_init("svc", "info", "text", f->path), 0);
    dai_log_add_secret("s3cr3t-value");
    dai_log_add_secret("abc"); /* too short: ignored, or every "abc" would vanish */
    DAI_INFO("calling url=https://x/?k=s3cr3t-value auth=s3cr3t-values abc");
    s = slurp(f->path);
    assert_null(strstr(s, "s3cr3t"));
    assert_non_null(strstr(s, "calling url=https://x/?k=*** auth=***s abc\n"));
    free(s);
}

static void test_log_masks_secrets_json(void **state)
{
    struct fixture *f = *state;
    char *s;
    json_t *v;

    assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
    dai_log_add_secret("my token with space");
    dai_log_add_secret("ghp_abcdef");
    DAI_INFO("token ghp_abcdef in text header=\"my token with space\" key=ghp_abcdef");
    s = slurp(f->path);
    assert_null(strstr(s, "ghp_abcdef"));
    assert_null(strstr(s, "with space"));
    free(s);
    v = json_line(f->path);
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "token *** in text");
    assert_string_equal(json_string_value(json_object_get(v, "key")), "***");
    assert_string_equal(json_string_value(json_object_get(v, "header")), "***");
    json_decref(v);
}

static void test_log_masks_longest_secret_first(void **state)
{
    struct fixture *f = *state;
    char *s;

    assert_int_equal(dai_log_init("svc", "info", "text", f->path), 0);
    dai_log_add_secret("abcd");
    dai_log_add_secret("abcdefgh");
    DAI_INFO("v=abcdefgh w=abcd");
    s = slurp(f->path);
    assert_non_null(strstr(s, "svc: v=*** w=***\n"));
    free(s);
}

static void test_log_long_message_cut_without_leaking(void **state)
{
    struct fixture *f = *state;
    size_t n = 64 * 1024 - 1 - 3; /* the secret's first 3 bytes fit, the rest is cut */
    char *big = malloc(n + 1), *s;

    assert_int_equal(dai_log_init("svc", "info", "text", f->path), 0);
    dai_log_add_secret("SECRETVALUE");
    memset(big, 'a', n);
    big[n] = '\0';
    DAI_INFO("%sSECRETVALUE and more", big);
    s = slurp(f->path);
    assert_int_equal(count_lines(s), 1);
    assert_null(strstr(s, "SEC"));
    assert_non_null(strstr(s, "aaa...(truncated)\n"));
    assert_true(strlen(s) < 64 * 1024 + 100);
    free(s);
    free(big);
}

static void test_log_stderr_sink(void **state)
{
    struct fixture *f = *state;
    int saved = dup(STDERR_FILENO), fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *s;

    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dai_log_init("gw", "info", "text", ""), 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    DAI_WARN("to stderr n=1");
    dai_log_reopen(); /* no-op for stderr */
    DAI_WARN("still stderr n=2");
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);
    s = slurp(f->path);
    assert_int_equal(count_lines(s), 2);
    assert_non_null(strstr(s, "WARN gw: to stderr n=1\n"));
    assert_non_null(strstr(s, "WARN gw: still stderr n=2\n"));
    free(s);
}

static void test_log_reopen_after_rotation(void **state)
{
    struct fixture *f = *state;
    char *old, *cur;

    assert_int_equal(dai_log_init("svc", "info", "text", f->path), 0);
    DAI_INFO("before rotation");
    assert_int_equal(rename(f->path, f->rotated), 0);
    DAI_INFO("still to the rotated file");
    dai_log_reopen();
    DAI_INFO("after reopen");
    old = slurp(f->rotated);
    cur = slurp(f->path);
    assert_int_equal(count_lines(old), 2);
    assert_int_equal(count_lines(cur), 1);
    assert_non_null(strstr(cur, "after reopen"));
    assert_null(strstr(old, "after reopen"));
    free(old);
    free(cur);
}

static void test_log_init_errors(void **state)
{
    enum dai_log_level l;
    enum dai_log_format fm;

    (void)state;
    assert_int_equal(dai_log_init("svc", "verbose", "text", NULL), DAI_EINVAL);
    assert_int_equal(dai_log_init("svc", "info", "xml", NULL), DAI_EINVAL);
    assert_int_equal(dai_log_init("svc", "info", "text", "/nonexistent-dir/x.log"), -ENOENT);
    assert_int_equal(dai_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, DAI_LOG_WARN);
    assert_int_equal(dai_log_parse_level("error", &l), 0);
    assert_int_equal(l, DAI_LOG_ERROR);
    assert_int_equal(dai_log_parse_level(NULL, &l), DAI_EINVAL);
    assert_int_equal(dai_log_parse_format("json", &fm), 0);
    assert_int_equal(fm, DAI_LOG_JSON);
}

#define N_THREADS 8
#define N_LINES 400

static void *log_many(void *arg)
{
    long id = (long)arg;

    for (int i = 0; i < N_LINES; i++)
        DAI_INFO("concurrent line with some padding to make it longer than a few bytes "
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx thread=%ld i=%d", id, i);
    return NULL;
}

static void test_log_threads_never_interleave(void **state)
{
    struct fixture *f = *state;
    pthread_t th[N_THREADS];
    char *s, *line, *nl;
    size_t n = 0;

    assert_int_equal(dai_log_init("svc", "info", "json", f->path), 0);
    for (long i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_many, (void *)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    s = slurp(f->path);
    for (line = s; *line; line = nl + 1) {
        json_error_t e;
        json_t *v;

        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        v = json_loads(line, 0, &e);

        if (!v)
            fail_msg("line %zu is not whole JSON: %s", n, line);
        assert_non_null(json_object_get(v, "thread"));
        json_decref(v);
        n++;
    }
    assert_int_equal(n, N_THREADS * N_LINES);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_text_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_json_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_value_cannot_inject_fields, setup, teardown),
        cmocka_unit_test(test_log_value_quoting_and_cut),
        cmocka_unit_test_setup_teardown(test_log_json_only_trailing_pairs_are_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_json_reserved_and_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_json_escapes_hostile_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_text_keeps_one_line_per_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_secrets_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_secrets_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_longest_secret_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_long_message_cut_without_leaking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_stderr_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_reopen_after_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_init_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_threads_never_interleave, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
