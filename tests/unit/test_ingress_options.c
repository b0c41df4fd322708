/* Unit tests for the ingress's configuration rules (ingress/options.c): a
 * secret is required unless --insecure-skip-signature, secrets from the
 * environment and the rotation list are merged, only publishable events and
 * known codecs are accepted, and the publish bound stays under the request
 * timeout. */
#include "../../ingress/ingress.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static int load(struct ing_config *cfg, int argc, char **argv, char *err, size_t n)
{
    memset(cfg, 0, sizeof(*cfg));
    return ing_config_load(cfg, argc, argv, err, n);
}

static int setup(void **state)
{
    (void)state;
    /* Nothing from the caller's environment or a config file may leak in. */
    unsetenv("GITHUB_WEBHOOK_SECRET");
    unsetenv("GITHUB_WEBHOOK_SECRETS");
    unsetenv("INGRESS_EVENTS");
    unsetenv("INGRESS_COMPRESSION");
    unsetenv("INGRESS_PUBLISH_TIMEOUT");
    unsetenv("INGRESS_REQUEST_TIMEOUT");
    setenv("DISPATCHAI_CONFIG", "/dev/null", 1);
    return 0;
}

static void test_ingress_options_secret_required(void **state)
{
    char *argv[] = {"ingress", "--config", "/dev/null"};
    struct ing_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, 3, argv, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "GITHUB_WEBHOOK_SECRET"));
    ing_config_free(&cfg);
}

static void test_ingress_options_insecure_flag(void **state)
{
    char *argv[] = {"ingress", "--config", "/dev/null", "--insecure-skip-signature"};
    struct ing_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, 4, argv, err, sizeof(err)), DAI_CONFIG_RUN);
    assert_true(cfg.insecure_skip_signature);
    assert_int_equal(cfg.n_secrets, 0);
    ing_config_free(&cfg);
}

static void test_ingress_options_secrets_merge(void **state)
{
    char *argv[] = {"ingress", "--config", "/dev/null"};
    struct ing_config cfg;
    char err[512];

    (void)state;
    setenv("GITHUB_WEBHOOK_SECRET", "current-secret", 1);
    setenv("GITHUB_WEBHOOK_SECRETS", "old-secret, older-secret", 1);
    assert_int_equal(load(&cfg, 3, argv, err, sizeof(err)), DAI_CONFIG_RUN);
    assert_int_equal(cfg.n_secrets, 3);
    assert_string_equal(cfg.secret_v[0], "current-secret");
    assert_string_equal(cfg.secret_v[1], "old-secret");
    assert_string_equal(cfg.secret_v[2], "older-secret");
    /* Defaults: all three events, lz4, 5 s publish bound, 25 MiB. */
    assert_true(cfg.accept[ING_EV_ISSUES] && cfg.accept[ING_EV_ISSUE_COMMENT] &&
                cfg.accept[ING_EV_PULL_REQUEST]);
    assert_string_equal(cfg.compression, "lz4");
    assert_int_equal(cfg.publish_timeout_ms, 5000);
    assert_int_equal(cfg.max_body, 25u * 1024 * 1024);
    assert_int_equal(cfg.common.http_port, 8000);
    assert_false(cfg.rl_enabled);
    ing_config_free(&cfg);
    unsetenv("GITHUB_WEBHOOK_SECRETS");
    unsetenv("GITHUB_WEBHOOK_SECRET");
}

static void test_ingress_options_events_and_codecs(void **state)
{
    char *ok[] = {"ingress", "--config", "/dev/null", "--webhook.secret=s3cret-value",
                  "--webhook.events=issues", "--publish.compression=zstd"};
    char *bad_ev[] = {"ingress", "--config", "/dev/null", "--webhook.secret=s3cret-value",
                      "--webhook.events=issues,push"};
    char *bad_codec[] = {"ingress", "--config", "/dev/null", "--webhook.secret=s3cret-value",
                         "--publish.compression=brotli"};
    char *bad_timeouts[] = {"ingress", "--config", "/dev/null", "--webhook.secret=s3cret-value",
                            "--publish.timeout=9s", "--http.request_timeout=5s"};
    struct ing_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load(&cfg, 6, ok, err, sizeof(err)), DAI_CONFIG_RUN);
    assert_true(cfg.accept[ING_EV_ISSUES]);
    assert_false(cfg.accept[ING_EV_ISSUE_COMMENT]);
    assert_false(cfg.accept[ING_EV_PULL_REQUEST]);
    assert_string_equal(cfg.compression, "zstd");
    ing_config_free(&cfg);
    assert_int_equal(load(&cfg, 5, bad_ev, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "\"push\""));
    ing_config_free(&cfg);
    assert_int_equal(load(&cfg, 5, bad_codec, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "brotli"));
    ing_config_free(&cfg);
    assert_int_equal(load(&cfg, 6, bad_timeouts, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "publish.timeout"));
    ing_config_free(&cfg);
}

static void test_ingress_options_publish_bound_under_github_timeout(void **state)
{
    char *argv[] = {"ingress", "--config", "/dev/null", "--webhook.secret=s3cret-value",
                    "--publish.timeout=10s"};
    struct ing_config cfg;
    char err[512];

    (void)state;
    /* GitHub gives up after 10 s: the bound must stay under it. */
    assert_int_equal(load(&cfg, 5, argv, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "publish.timeout"));
    ing_config_free(&cfg);
}

/* Producer pass-throughs that would make a 202 mean less than "on every
 * in-sync replica, once, in order" are refused at start; safe ones pass. */
static void test_ingress_options_durability_cannot_be_weakened(void **state)
{
    static const char *const weak[] = {
        "--kafka.producer.acks=1", "--kafka.producer.acks=0",
        "--kafka.producer.request.required.acks=1", "--kafka.producer.enable.idempotence=false",
        "--kafka.producer.max.in.flight=6",
        "--kafka.producer.max.in.flight.requests.per.connection=100",
        "--kafka.producer.max.in.flight=0",
    };
    static const char *const fine[] = {
        "--kafka.producer.acks=all", "--kafka.producer.acks=-1",
        "--kafka.producer.enable.idempotence=true", "--kafka.producer.max.in.flight=5",
        "--kafka.producer.linger.ms=20",
    };
    struct ing_config cfg;
    char err[512];

    (void)state;
    setenv("GITHUB_WEBHOOK_SECRET", "s3cret-value", 1);
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        char *argv[] = {"ingress", "--config", "/dev/null", (char *)weak[i]};

        err[0] = '\0';
        assert_int_equal(load(&cfg, 4, argv, err, sizeof(err)), DAI_ECONFIG);
        assert_non_null(strstr(err, "kafka.producer."));
        ing_config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        char *argv[] = {"ingress", "--config", "/dev/null", (char *)fine[i]};

        assert_int_equal(load(&cfg, 4, argv, err, sizeof(err)), DAI_CONFIG_RUN);
        ing_config_free(&cfg);
    }
    unsetenv("GITHUB_WEBHOOK_SECRET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ingress_options_durability_cannot_be_weakened, setup),
        cmocka_unit_test(test_ingress_options_secret_required),
        cmocka_unit_test(test_ingress_options_insecure_flag),
        cmocka_unit_test(test_ingress_options_secrets_merge),
        cmocka_unit_test(test_ingress_options_events_and_codecs),
        cmocka_unit_test(test_ingress_options_publish_bound_under_github_timeout),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
