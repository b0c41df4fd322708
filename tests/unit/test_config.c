/* Unit tests for common/src/config.c: precedence defaults < file < env <
 * CLI, parsing of every option type, errors that name the key and its
 * source (file:line, env VAR, --flag), unknown keys and flags, librdkafka
 * pass-through, string lists, structured sections, file search order, and
 * --help / --version / --print-config (with secrets masked). */
#include <dispatchai/config.h>
#include <dispatchai/log.h>

#include "support/fixture.h"

#include <errno.h>
#include <limits.h>
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

#ifndef DAI_VERSION
#define DAI_VERSION "0.0.0"
#endif

struct tcfg {
    struct dai_common_config common;
    size_t max_body;
    bool insecure;
    double temperature;
    int llm_timeout_ms;
    char *secret;
    struct dai_strlist repos;
    struct dai_strlist tokens;
    bool offline;
};

#define OFF(f) offsetof(struct tcfg, f)

static const struct dai_opt opts[] = {
    DAI_COMMON_OPTS(struct tcfg),
    { "http.port", "UNIT_PORT", NULL, DAI_OPT_INT, "8000", OFF(common.http_port), 1, 65535, 0,
      "HTTP listen port" },
    { "http.max_body", "UNIT_MAX_BODY", NULL, DAI_OPT_SIZE, "25MiB", OFF(max_body), 1024,
      1 << 30, 0, "Largest accepted request body" },
    { "webhook.insecure_skip_signature", NULL, "insecure-skip-signature", DAI_OPT_BOOL, "false",
      OFF(insecure), 0, 0, 0, "Accept unsigned deliveries (development only)" },
    { "llm.temperature", "UNIT_TEMPERATURE", NULL, DAI_OPT_DOUBLE, "0.2", OFF(temperature), 0, 2,
      0, "Sampling temperature" },
    { "llm.timeout", "UNIT_LLM_TIMEOUT", NULL, DAI_OPT_MS, "30s", OFF(llm_timeout_ms), 100,
      600000, 0, "Total timeout of one LLM call" },
    { "github.webhook_secret", "UNIT_WEBHOOK_SECRET", NULL, DAI_OPT_STR, NULL, OFF(secret), 0, 0,
      DAI_OPT_SECRET, "Webhook HMAC secret" },
    { "github.repos", "UNIT_REPOS", NULL, DAI_OPT_STRLIST, "a/b", OFF(repos), 0, 0, 0,
      "Repositories accepted" },
    { "auth.tokens", "UNIT_TOKENS", NULL, DAI_OPT_STRLIST, NULL, OFF(tokens), 0, 0,
      DAI_OPT_SECRET, "API tokens" },
    { "offline", NULL, NULL, DAI_OPT_BOOL, "false", OFF(offline), 0, 0, DAI_OPT_CLI_ONLY,
      "Classify without the LLM" },
};

static const char *const sections[] = { "teams" };

static const struct dai_config_spec spec = {
    "unittest", "unit-test daemon", opts, sizeof(opts) / sizeof(opts[0]), sections, 1,
};

struct fx {
    struct tcfg cfg;
    struct dai_config_doc *doc;
    char path[64];
    char err[512];
    char out_path[64];
};

static void clear_env(void)
{
    for (size_t i = 0; i < spec.n_opts; i++) {
        if (opts[i].env)
            unsetenv(opts[i].env);
    }
    unsetenv("DISPATCHAI_CONFIG");
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    clear_env();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    dai_config_free(&spec, &f->cfg);
    dai_config_doc_free(f->doc);
    if (f->path[0])
        unlink(f->path);
    if (f->out_path[0])
        unlink(f->out_path);
    clear_env();
    dai_log_shutdown();
    free(f);
    return 0;
}

static void write_conf(struct fx *f, const char *text)
{
    assert_int_equal(test_temp_file(f->path, sizeof(f->path), "cfg", text, strlen(text)), 0);
}

/* Load with an optional file (passed as --config) and NULL-terminated flags. */
static int loadv(struct fx *f, const char *conf, va_list ap)
{
    char *argv[32];
    int argc = 0;
    const char *a;

    argv[argc++] = "dispatchai-unittest";
    if (conf) {
        write_conf(f, conf);
        argv[argc++] = "--config";
        argv[argc++] = f->path;
    }
    while ((a = va_arg(ap, const char *)) && argc < 31)
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    f->err[0] = '\0';
    return dai_config_load(&spec, &f->cfg, argc, argv, &f->doc, f->err, sizeof(f->err));
}

static int load(struct fx *f, const char *conf, ...)
{
    va_list ap;
    int rc;

    va_start(ap, conf);
    rc = loadv(f, conf, ap);
    va_end(ap);
    return rc;
}

/* Like load, with stdout captured into *out (new string). */
static int load_capture(struct fx *f, char **out, const char *conf, ...)
{
    va_list ap;
    int rc, saved, fd;
    FILE *fp;
    long n;

    snprintf(f->out_path, sizeof(f->out_path), "/tmp/dai-test-out-XXXXXX");
    fd = mkstemp(f->out_path);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    va_start(ap, conf);
    rc = loadv(f, conf, ap);
    va_end(ap);
    fflush(stdout);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(fd);
    fp = fopen(f->out_path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    *out = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(*out, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    return rc;
}

static void expect_err(struct fx *f, const char *fmt, ...)
{
    char want[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    assert_string_equal(f->err, want);
}

/*---- precedence and types -----------------------------------------------*/

static void test_config_defaults(void **state)
{
    struct fx *f = *state;
    struct tcfg *c = &f->cfg;

    assert_int_equal(load(f, NULL, NULL), DAI_CONFIG_RUN);
    assert_null(f->doc);
    assert_null(c->common.config_file);
    assert_string_equal(c->common.program, "unittest");
    assert_string_equal(c->common.kafka_bootstrap, "127.0.0.1:19092");
    assert_string_equal(c->common.topic_raw, "issues.raw");
    assert_string_equal(c->common.topic_enriched, "issues.enriched");
    assert_string_equal(c->common.topic_dlq, "issues.raw.dlq");
    assert_int_equal(c->common.topic_partitions, 3);
    assert_true(c->common.ensure_topics);
    assert_int_equal(c->common.kafka_stats_interval_ms, 5000);
    assert_string_equal(c->common.log_level, "info");
    assert_string_equal(c->common.log_file, "");
    assert_int_equal(c->common.http_port, 8000);
    assert_int_equal(c->common.http_idle_timeout_ms, 30000);
    assert_int_equal(c->max_body, 25u << 20);
    assert_false(c->insecure);
    assert_true(c->temperature == 0.2);
    assert_int_equal(c->llm_timeout_ms, 30000);
    assert_null(c->secret);
    assert_int_equal(c->repos.n, 1);
    assert_string_equal(c->repos.v[0], "a/b");
    assert_int_equal(c->tokens.n, 0);
    assert_int_equal(c->common.producer_props.n, 0);
}

static void test_config_precedence_file_env_cli(void **state)
{
    struct fx *f = *state;
    struct tcfg *c = &f->cfg;

    setenv("UNIT_PORT", "8200", 1);
    setenv("KAFKA_TOPIC_RAW_ISSUES", "env.raw", 1);
    assert_int_equal(load(f,
                          "http = { port = 8100; threads = 4; };\n"
                          "kafka = { topic_raw = \"file.raw\"; topic_enriched = \"file.enr\"; };\n"
                          "log = { level = \"debug\"; };\n",
                          "--http.port=8300", NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(c->common.http_port, 8300);                  /* CLI > env > file */
    assert_string_equal(c->common.topic_raw, "env.raw");          /* env > file */
    assert_string_equal(c->common.topic_enriched, "file.enr");    /* file > default */
    assert_string_equal(c->common.log_level, "debug");
    assert_int_equal(c->common.http_threads, 4);
    assert_string_equal(c->common.topic_dlq, "issues.raw.dlq");   /* default */
    assert_string_equal(c->common.config_file, f->path);
    assert_non_null(f->doc);
}

static void test_config_types_from_file(void **state)
{
    struct fx *f = *state;
    struct tcfg *c = &f->cfg;

    assert_int_equal(load(f,
                          "http = { max_body = \"64KiB\"; idle_timeout = 1500; };\n"
                          "llm = { timeout = \"2m\"; temperature = 1; };\n"
                          "webhook = { insecure_skip_signature = true; };\n"
                          "kafka = { ensure_topics = \"no\"; statistics_interval = 0; };\n"
                          "github = { repos = [\"x/y\", \"z/w\"];\n"
                          "           webhook_secret = \"abcd1234\"; };\n"
                          "auth = { tokens = (\"t1-long\"); };\n",
                          NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(c->max_body, 64 * 1024);
    assert_int_equal(c->common.http_idle_timeout_ms, 1500);
    assert_int_equal(c->llm_timeout_ms, 120000);
    assert_true(c->temperature == 1.0);
    assert_true(c->insecure);
    assert_false(c->common.ensure_topics);
    assert_int_equal(c->common.kafka_stats_interval_ms, 0);
    assert_int_equal(c->repos.n, 2);
    assert_string_equal(c->repos.v[0], "x/y");
    assert_string_equal(c->repos.v[1], "z/w");
    assert_string_equal(c->secret, "abcd1234");
    assert_int_equal(c->tokens.n, 1);
    assert_string_equal(c->tokens.v[0], "t1-long");
}

static void test_config_size_float_and_int_forms(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, "http = { max_body = 2048; };\nllm = { temperature = 0.75; };\n"
                             "github = { repos = \"p/q, r/s\"; };\n",
                          NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.max_body, 2048);
    assert_true(f->cfg.temperature == 0.75);
    assert_int_equal(f->cfg.repos.n, 2);
    assert_string_equal(f->cfg.repos.v[1], "r/s");
}

static void test_config_parse_size(void **state)
{
    size_t v;

    (void)state;
    assert_int_equal(dai_parse_size("123", &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(dai_parse_size("64KiB", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(dai_parse_size("25MiB", &v), 0);
    assert_int_equal(v, 26214400);
    assert_int_equal(dai_parse_size(" 1 gib ", &v), 0);
    assert_int_equal(v, 1u << 30);
    assert_int_equal(dai_parse_size("7B", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(dai_parse_size("1.5MiB", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size("10KB", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size("-1", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size("", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size("MiB", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size("99999999999TiB", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_size(NULL, &v), DAI_EINVAL);
}

static void test_config_parse_ms(void **state)
{
    int v;

    (void)state;
    assert_int_equal(dai_parse_ms("250", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(dai_parse_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(dai_parse_ms("10s", &v), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(dai_parse_ms("2m", &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(dai_parse_ms("3min", &v), 0);
    assert_int_equal(v, 180000);
    assert_int_equal(dai_parse_ms("1h", &v), 0);
    assert_int_equal(v, 3600000);
    assert_int_equal(dai_parse_ms("5 s", &v), 0);
    assert_int_equal(v, 5000);
    assert_int_equal(dai_parse_ms("-5", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_ms("1.5s", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_ms("10x", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_ms("s", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_ms("3000000h", &v), DAI_EINVAL);
}

static void test_config_parse_bool(void **state)
{
    static const char *const yes[] = { "true", "TRUE", "yes", "On", "1" };
    static const char *const no[] = { "false", "No", "off", "0" };
    bool v;

    (void)state;
    for (size_t i = 0; i < 5; i++) {
        v = false;
        assert_int_equal(dai_parse_bool(yes[i], &v), 0);
        assert_true(v);
    }
    for (size_t i = 0; i < 4; i++) {
        v = true;
        assert_int_equal(dai_parse_bool(no[i], &v), 0);
        assert_false(v);
    }
    assert_int_equal(dai_parse_bool("maybe", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_bool("", &v), DAI_EINVAL);
    assert_int_equal(dai_parse_bool("2", &v), DAI_EINVAL);
}

static void test_config_strlist_split(void **state)
{
    struct dai_strlist l;

    (void)state;
    assert_int_equal(dai_strlist_split(" a, b ,,c ", ',', &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "a");
    assert_string_equal(l.v[1], "b");
    assert_string_equal(l.v[2], "c");
    dai_strlist_free(&l);
    assert_null(l.v);
    assert_int_equal(dai_strlist_split(" , ", ',', &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(dai_strlist_split("x:y", ':', &l), 0);
    assert_int_equal(l.n, 2);
    dai_strlist_free(&l);
    dai_strlist_free(NULL);
}

static void test_config_strlist_from_env_and_cli(void **state)
{
    struct fx *f = *state;

    setenv("UNIT_REPOS", "x/1, ,x/2", 1);
    setenv("UNIT_TOKENS", "tok-aaaa,tok-bbbb", 1);
    assert_int_equal(load(f, NULL, "--auth.tokens", "tok-cccc", NULL), DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.repos.n, 2);
    assert_string_equal(f->cfg.repos.v[1], "x/2");
    assert_int_equal(f->cfg.tokens.n, 1);
    assert_string_equal(f->cfg.tokens.v[0], "tok-cccc");
}

/*---- errors -------------------------------------------------------------*/

static void test_config_file_bounds_error_names_file_line(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, "# ports\nhttp = {\n  port = 70000;\n};\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:3: http.port: 70000 is out of range (1..65535)", f->path);
    assert_null(f->doc);
    assert_null(f->cfg.common.kafka_bootstrap); /* nothing half-loaded is left */
}

static void test_config_env_errors_name_variable(void **state)
{
    struct fx *f = *state;

    setenv("UNIT_PORT", "abc", 1);
    assert_int_equal(load(f, NULL, NULL), DAI_ECONFIG);
    expect_err(f, "env UNIT_PORT: http.port: \"abc\" is not an integer");
    setenv("UNIT_PORT", "0", 1);
    assert_int_equal(load(f, NULL, NULL), DAI_ECONFIG);
    expect_err(f, "env UNIT_PORT: http.port: 0 is out of range (1..65535)");
    unsetenv("UNIT_PORT");
    setenv("UNIT_MAX_BODY", "lots", 1);
    assert_int_equal(load(f, NULL, NULL), DAI_ECONFIG);
    expect_err(f, "env UNIT_MAX_BODY: http.max_body: \"lots\" is not a size "
                  "(e.g. 512, 64KiB, 25MiB, 1GiB)");
    unsetenv("UNIT_MAX_BODY");
    setenv("LOG_LEVEL", "verbose", 1);
    assert_int_equal(load(f, NULL, NULL), DAI_ECONFIG);
    expect_err(f, "env LOG_LEVEL: log.level: \"verbose\" is not a log level "
                  "(debug, info, warn, error)");
}

static void test_config_cli_errors_name_flag(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, NULL, "--http.port=99999", NULL), DAI_ECONFIG);
    expect_err(f, "--http.port: 99999 is out of range (1..65535)");
    assert_int_equal(load(f, NULL, "--http.port", "abc", NULL), DAI_ECONFIG);
    expect_err(f, "--http.port: \"abc\" is not an integer");
    assert_int_equal(load(f, NULL, "--llm.timeout=50ms", NULL), DAI_ECONFIG);
    expect_err(f, "--llm.timeout: 50ms is out of range (100ms..10m)");
    assert_int_equal(load(f, NULL, "--http.max_body=2GiB", NULL), DAI_ECONFIG);
    expect_err(f, "--http.max_body: 2GiB is out of range (1KiB..1GiB)");
    assert_int_equal(load(f, NULL, "--llm.temperature=2.5", NULL), DAI_ECONFIG);
    expect_err(f, "--llm.temperature: 2.5 is out of range (0..2)");
    assert_int_equal(load(f, NULL, "--insecure-skip-signature=maybe", NULL), DAI_ECONFIG);
    expect_err(f, "--insecure-skip-signature: webhook.insecure_skip_signature: \"maybe\" is not "
                  "a boolean (true/false, yes/no, on/off, 1/0)");
    assert_int_equal(load(f, NULL, "--log.format=xml", NULL), DAI_ECONFIG);
    expect_err(f, "--log.format: \"xml\" is not a log format (text, json)");
}

static void test_config_unknown_key_in_file(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, "http = {\n  prot = 1;\n};\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:2: unknown key 'http.prot'", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "\n\nbogus = { a = 1; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:3: unknown key 'bogus.a'", f->path);
}

static void test_config_file_type_errors(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, "http = { port = \"abc\"; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: http.port: \"abc\" is not an integer", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "http = { port = 1.5; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: http.port: \"1.5\" is not an integer", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "kafka = { topic_raw = 5; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: kafka.topic_raw: expected a string in double quotes", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "http = { port = [1, 2]; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: http.port: expected a single value, not a list", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "github = { repos = [1, 2]; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: github.repos: expected a list of strings", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "offline = true;\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: offline: can only be set on the command line", f->path);
}

static void test_config_syntax_error_names_line(void **state)
{
    struct fx *f = *state;
    char want[128];

    assert_int_equal(load(f, "http = {\n  port = ;\n};\n", NULL), DAI_ECONFIG);
    snprintf(want, sizeof(want), "%s:2: ", f->path);
    assert_memory_equal(f->err, want, strlen(want));
}

static void test_config_missing_file_errors(void **state)
{
    struct fx *f = *state;
    char *argv[] = { "prog", "--config", "/nonexistent/dai.conf", NULL };

    assert_int_equal(dai_config_load(&spec, &f->cfg, 3, argv, NULL, f->err, sizeof(f->err)),
                     DAI_ECONFIG);
    expect_err(f, "--config: cannot read /nonexistent/dai.conf: No such file or directory");
    setenv("DISPATCHAI_CONFIG", "/nonexistent/env.conf", 1);
    assert_int_equal(load(f, NULL, NULL), DAI_ECONFIG);
    expect_err(f, "env DISPATCHAI_CONFIG: cannot read /nonexistent/env.conf: "
                  "No such file or directory");
}

static void test_config_unknown_cli_flag(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, NULL, "--nope=1", NULL), DAI_ECONFIG);
    assert_non_null(strstr(f->err, "unknown option --nope"));
    assert_int_equal(load(f, NULL, "extra", NULL), DAI_ECONFIG);
    assert_non_null(strstr(f->err, "unexpected argument 'extra'"));
    assert_int_equal(load(f, NULL, "--http.port", NULL), DAI_ECONFIG);
    assert_non_null(strstr(f->err, "--http.port needs a value"));
    assert_int_equal(load(f, NULL, "--http.bind", "--http.port=1", NULL), DAI_ECONFIG);
    assert_non_null(strstr(f->err, "--http.bind needs a value"));
    assert_int_equal(load(f, NULL, "--kafka.producer.", "1", NULL), DAI_ECONFIG);
    assert_non_null(strstr(f->err, "unknown option --kafka.producer."));
}

/*---- CLI forms and pass-through -----------------------------------------*/

static void test_config_cli_forms(void **state)
{
    struct fx *f = *state;
    struct tcfg *c = &f->cfg;

    assert_int_equal(load(f, NULL, "--http.port", "8123", "--insecure-skip-signature", "--offline",
                          "--github.repos=a/b, c/d", "--http.bind=127.0.0.1", "--llm.timeout",
                          "45s", NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(c->common.http_port, 8123);
    assert_true(c->insecure); /* bare bool flag means true */
    assert_true(c->offline);
    assert_int_equal(c->repos.n, 2);
    assert_string_equal(c->repos.v[1], "c/d");
    assert_string_equal(c->common.http_bind, "127.0.0.1");
    assert_int_equal(c->llm_timeout_ms, 45000);
    dai_config_free(&spec, c);
    assert_int_equal(load(f, NULL, "--webhook.insecure_skip_signature", "off",
                          "--kafka.ensure_topics=false", NULL),
                     DAI_CONFIG_RUN);
    assert_false(c->insecure);
    assert_false(c->common.ensure_topics);
}

static const char *kv_get(const struct dai_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0)
            return l->v[i].value;
    }
    return NULL;
}

static void test_config_passthrough_props(void **state)
{
    struct fx *f = *state;
    const struct dai_kvlist *p = &f->cfg.common.producer_props, *cs = &f->cfg.common.consumer_props;

    assert_int_equal(load(f,
                          "kafka = {\n"
                          "  producer = { linger_ms = 5; compression_type = \"lz4\";\n"
                          "               enable_idempotence = true; batch_size = 1.5; };\n"
                          "  consumer = { fetch_wait_max_ms = 100; };\n"
                          "};\n",
                          "--kafka.producer.linger.ms=7", "--kafka.consumer.client.rack", "r1",
                          NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(p->n, 4);
    assert_string_equal(kv_get(p, "linger.ms"), "7"); /* CLI replaced the file's value */
    assert_string_equal(kv_get(p, "compression.type"), "lz4");
    assert_string_equal(kv_get(p, "enable.idempotence"), "true");
    assert_string_equal(kv_get(p, "batch.size"), "1.5");
    assert_int_equal(cs->n, 2);
    assert_string_equal(kv_get(cs, "fetch.wait.max.ms"), "100");
    assert_string_equal(kv_get(cs, "client.rack"), "r1");
}

static void test_config_passthrough_errors(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, "kafka = {\n  producer = {\n    nested = { a = 1; };\n  };\n};\n",
                          NULL),
                     DAI_ECONFIG);
    expect_err(f, "%s:3: kafka.producer.nested: expected a single value", f->path);
    unlink(f->path);
    assert_int_equal(load(f, "kafka = { consumer = 5; };\n", NULL), DAI_ECONFIG);
    expect_err(f, "%s:1: kafka.consumer: expected a group of librdkafka properties", f->path);
}

/*---- file search ----------------------------------------------------------*/

static void test_config_file_search_order(void **state)
{
    struct fx *f = *state;
    char dir[] = "/tmp/dai-test-cwd-XXXXXX", cwd[PATH_MAX], other[] = "/tmp/dai-test-env-XXXXXX";
    FILE *fp;
    int fd;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(mkdir("config", 0700), 0);
    fp = fopen("config/unittest.conf", "w");
    assert_non_null(fp);
    fputs("http = { port = 9001; };\n", fp);
    fclose(fp);
    fd = mkstemp(other);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "http = { port = 9002; };\n", 25), 25);
    close(fd);

    assert_int_equal(load(f, NULL, NULL), DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.common.http_port, 9001);
    assert_string_equal(f->cfg.common.config_file, "config/unittest.conf");
    dai_config_free(&spec, &f->cfg);
    dai_config_doc_free(f->doc);
    setenv("DISPATCHAI_CONFIG", other, 1);
    assert_int_equal(load(f, NULL, NULL), DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.common.http_port, 9002);
    dai_config_free(&spec, &f->cfg);
    dai_config_doc_free(f->doc);
    assert_int_equal(load(f, NULL, "--config=config/unittest.conf", NULL), DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.common.http_port, 9001);

    unlink(other);
    unlink("config/unittest.conf");
    rmdir("config");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);
}

/*---- structured sections --------------------------------------------------*/

struct teams {
    char names[4][32];
    size_t n_keywords[4];
    char where[4][128];
    size_t n;
};

static int collect_team(const struct dai_config_elem *el, size_t index, void *ud, char *err,
                        size_t errlen)
{
    struct teams *t = ud;
    struct dai_strlist kw;
    const char *name = dai_config_elem_str(el, "name");

    assert_int_equal(index, t->n);
    if (!name) {
        snprintf(err, errlen, "%s: teams: name is required", dai_config_elem_where(el));
        return DAI_ECONFIG;
    }
    if (dai_config_elem_strlist(el, "keywords", &kw)) {
        snprintf(err, errlen, "%s: keywords must be a list of strings", dai_config_elem_where(el));
        return DAI_ECONFIG;
    }
    snprintf(t->names[t->n], sizeof(t->names[0]), "%s", name);
    t->n_keywords[t->n] = kw.n;
    snprintf(t->where[t->n], sizeof(t->where[0]), "%s", dai_config_elem_where(el));
    t->n++;
    dai_strlist_free(&kw);
    return 0;
}

static void test_config_structured_sections(void **state)
{
    struct fx *f = *state;
    struct teams t = { 0 };
    char want[128];

    assert_int_equal(load(f,
                          "teams = (\n"
                          "  { name = \"backend\"; keywords = [\"api\", \"db\"]; },\n"
                          "  { name = \"ui\"; keywords = (\"css\"); },\n"
                          "  { name = \"ops\"; }\n"
                          ");\n",
                          NULL),
                     DAI_CONFIG_RUN);
    assert_non_null(f->doc);
    assert_int_equal(dai_config_doc_each(f->doc, "teams", collect_team, &t, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(t.n, 3);
    assert_string_equal(t.names[0], "backend");
    assert_int_equal(t.n_keywords[0], 2);
    assert_string_equal(t.names[1], "ui");
    assert_int_equal(t.n_keywords[1], 1);
    assert_string_equal(t.names[2], "ops");
    assert_int_equal(t.n_keywords[2], 0);
    snprintf(want, sizeof(want), "%s:3", f->path);
    assert_string_equal(t.where[1], want);
    /* Absent paths and a NULL doc visit nothing. */
    t.n = 0;
    assert_int_equal(dai_config_doc_each(f->doc, "nothing.here", collect_team, &t, f->err,
                                         sizeof(f->err)),
                     0);
    assert_int_equal(dai_config_doc_each(NULL, "teams", collect_team, &t, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(t.n, 0);
}

static void test_config_structured_section_errors(void **state)
{
    struct fx *f = *state;
    struct teams t = { 0 };

    assert_int_equal(load(f,
                          "http = { port = 8080; };\n"
                          "teams = (\n"
                          "  { name = \"backend\"; },\n"
                          "  { name = \"ui\"; keywords = \"css\"; }\n"
                          ");\n",
                          NULL),
                     DAI_CONFIG_RUN);
    assert_int_equal(dai_config_doc_each(f->doc, "teams", collect_team, &t, f->err, sizeof(f->err)),
                     DAI_ECONFIG);
    expect_err(f, "%s:4: keywords must be a list of strings", f->path);
    assert_int_equal(t.n, 1);
    assert_int_equal(dai_config_doc_each(f->doc, "http.port", collect_team, &t, f->err,
                                         sizeof(f->err)),
                     DAI_ECONFIG);
    expect_err(f, "%s:1: http.port: expected a list or group", f->path);
}

/*---- --help, --version, --print-config ------------------------------------*/

static void test_config_help_lists_every_option(void **state)
{
    struct fx *f = *state;
    char *out = NULL;

    /* --help wins even over a mistake elsewhere on the line. */
    assert_int_equal(load_capture(f, &out, NULL, "--bogus", "--help", NULL), DAI_CONFIG_EXITED);
    for (size_t i = 0; i < spec.n_opts; i++) {
        char want[128];

        snprintf(want, sizeof(want), "--%s=", opts[i].key);
        assert_non_null(strstr(out, want));
        if (opts[i].env)
            assert_non_null(strstr(out, opts[i].env));
        assert_non_null(strstr(out, opts[i].help));
    }
    assert_non_null(strstr(out, "Usage: dispatchai-unittest"));
    assert_non_null(strstr(out, "env UNIT_MAX_BODY; default 25MiB; range 1KiB..1GiB"));
    assert_non_null(strstr(out, "--insecure-skip-signature"));
    assert_non_null(strstr(out, "--kafka.producer.NAME=VALUE"));
    assert_null(f->cfg.common.kafka_bootstrap);
    free(out);
}

static void test_config_version(void **state)
{
    struct fx *f = *state;
    char *out = NULL;

    assert_int_equal(load_capture(f, &out, NULL, "--version", NULL), DAI_CONFIG_EXITED);
    assert_string_equal(out, "dispatchai-unittest " DAI_VERSION "\n");
    free(out);
}

static void test_config_print_config_masks_secrets(void **state)
{
    struct fx *f = *state;
    char *out = NULL;

    setenv("UNIT_WEBHOOK_SECRET", "hush-hush-secret", 1);
    setenv("UNIT_TOKENS", "tok-aaaa,tok-bbbb", 1);
    assert_int_equal(load_capture(f, &out,
                                  "kafka = { producer = { sasl_password = \"pw-1234\"; }; };\n",
                                  "--print-config", "--kafka.producer.linger.ms=5", NULL),
                     DAI_CONFIG_EXITED);
    assert_null(strstr(out, "hush"));
    assert_null(strstr(out, "tok-a"));
    assert_null(strstr(out, "pw-1234"));
    assert_non_null(strstr(out, "\ngithub.webhook_secret = ***\n"));
    assert_non_null(strstr(out, "\nauth.tokens = ***,***\n"));
    assert_non_null(strstr(out, "\nkafka.producer.sasl.password = ***\n"));
    assert_non_null(strstr(out, "\nkafka.producer.linger.ms = 5\n"));
    assert_non_null(strstr(out, "\nhttp.port = 8000\n"));
    assert_non_null(strstr(out, "\nhttp.max_body = 26214400\n"));
    assert_non_null(strstr(out, "\nllm.timeout = 30000ms\n"));
    assert_non_null(strstr(out, "\nkafka.ensure_topics = true\n"));
    assert_non_null(strstr(out, "\ngithub.repos = a/b\n"));
    assert_non_null(strstr(out, "\nlog.file = \n"));
    assert_null(f->cfg.secret); /* freed on the way out */
    free(out);
}

static void test_config_secrets_registered_with_log(void **state)
{
    struct fx *f = *state;
    char buf[512] = { 0 };
    int fd;
    ssize_t n;

    /* out_path, so teardown removes the file even when a check fails. */
    snprintf(f->out_path, sizeof(f->out_path), "/tmp/dai-test-cfglog-XXXXXX");
    fd = mkstemp(f->out_path);
    assert_true(fd >= 0);
    setenv("UNIT_WEBHOOK_SECRET", "hush-hush-secret", 1);
    assert_int_equal(load(f, NULL, "--kafka.consumer.sasl.password=pw-5678", NULL), DAI_CONFIG_RUN);
    assert_int_equal(dai_log_init("unittest", "info", "text", f->out_path), 0);
    DAI_INFO("leak attempt secret=%s password=%s", f->cfg.secret, "pw-5678");
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    assert_null(strstr(buf, "hush"));
    assert_null(strstr(buf, "pw-5678"));
    assert_non_null(strstr(buf, "leak attempt secret=*** password=***"));
    close(fd);
}

static void test_config_empty_env_keeps_numbers(void **state)
{
    struct fx *f = *state;

    setenv("UNIT_PORT", "", 1);
    setenv("LOG_FILE", "", 1);
    setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092", 1);
    assert_int_equal(load(f, "log = { file = \"/tmp/x.log\"; };\n", NULL), DAI_CONFIG_RUN);
    assert_int_equal(f->cfg.common.http_port, 8000);
    assert_string_equal(f->cfg.common.log_file, ""); /* strings take the empty value */
    assert_string_equal(f->cfg.common.kafka_bootstrap, "broker:9092");
}

static void test_config_free_is_idempotent(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, NULL, "--kafka.producer.acks=all", NULL), DAI_CONFIG_RUN);
    dai_config_free(&spec, &f->cfg);
    assert_null(f->cfg.common.kafka_bootstrap);
    assert_null(f->cfg.repos.v);
    assert_int_equal(f->cfg.common.producer_props.n, 0);
    dai_config_free(&spec, &f->cfg);
    dai_config_free(&spec, NULL);
    dai_config_doc_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_defaults),
        T(test_config_precedence_file_env_cli),
        T(test_config_types_from_file),
        T(test_config_size_float_and_int_forms),
        T(test_config_parse_size),
        T(test_config_parse_ms),
        T(test_config_parse_bool),
        T(test_config_strlist_split),
        T(test_config_strlist_from_env_and_cli),
        T(test_config_file_bounds_error_names_file_line),
        T(test_config_env_errors_name_variable),
        T(test_config_cli_errors_name_flag),
        T(test_config_unknown_key_in_file),
        T(test_config_file_type_errors),
        T(test_config_syntax_error_names_line),
        T(test_config_missing_file_errors),
        T(test_config_unknown_cli_flag),
        T(test_config_cli_forms),
        T(test_config_passthrough_props),
        T(test_config_passthrough_errors),
        T(test_config_file_search_order),
        T(test_config_structured_sections),
        T(test_config_structured_section_errors),
        T(test_config_help_lists_every_option),
        T(test_config_version),
        T(test_config_print_config_masks_secrets),
        T(test_config_secrets_registered_with_log),
        T(test_config_empty_env_keeps_numbers),
        T(test_config_free_is_idempotent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
