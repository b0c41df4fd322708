/* Unit tests for classifier/teams.c and classifier/options.c: the teams
 * section read through the config loader (names, descriptions, hint lists,
 * validation errors with file:line) and the classifier's cross-option checks,
 * including the shipped config/classifier.conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../classifier/options.h"
#include "../../classifier/teams.h"
#include <dispatchai/dai.h>
#include "support/fixture.h"

static char path[64];

static int load(const char *text, struct cls_config *cfg, struct cls_team_set *teams, char *err,
                size_t errlen)
{
    char arg[96];
    char *argv[] = {"dispatchai-classifier", arg, NULL};
    struct dai_config_doc *doc = NULL;
    int rc;

    assert_int_equal(test_temp_file(path, sizeof(path), "cls-teams", text, strlen(text)), 0);
    snprintf(arg, sizeof(arg), "--config=%s", path);
    memset(cfg, 0, sizeof(*cfg));
    rc = dai_config_load(&cls_config_spec, cfg, 2, argv, &doc, err, errlen);
    if (rc == 0)
        rc = cls_teams_load(doc, teams, err, errlen);
    dai_config_doc_free(doc);
    unlink(path);
    return rc;
}

static void test_cls_teams_loads_section(void **state)
{
    struct cls_config cfg;
    struct cls_team_set t;
    char err[256];

    (void)state;
    assert_int_equal(load("teams = ( { name = \"backend\"; description = \"APIs\";\n"
                          "  keywords = [\"api\", \"db\"]; labels = [\"backend\"]; },\n"
                          "  { name = \"web-ui\"; paths = [\"web/\"]; } );\n",
                          &cfg, &t, err, sizeof(err)),
                     0);
    assert_int_equal(t.view.n, 2);
    assert_string_equal(t.view.v[0].name, "backend");
    assert_string_equal(t.view.v[0].description, "APIs");
    assert_int_equal(t.view.v[0].n_keywords, 2);
    assert_string_equal(t.view.v[0].keywords[1], "db");
    assert_int_equal(t.view.v[0].n_labels, 1);
    assert_int_equal(t.view.v[0].n_paths, 0);
    assert_string_equal(t.view.v[1].name, "web-ui");
    assert_string_equal(t.view.v[1].description, "");
    assert_string_equal(t.view.v[1].paths[0], "web/");
    assert_string_equal(cls_teams_match(&t.view, "Web-UI"), "web-ui");
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);
}

static void test_cls_teams_rejects_bad_entries(void **state)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"teams = ( { description = \"no name\"; } );", "name"},
        {"teams = ( { name = \"has space\"; } );", "name"},
        {"teams = ( { name = \"a\"; }, { name = \"A\"; } );", "twice"},
        {"teams = ( { name = \"a\"; keywords = \"api\"; } );", "keywords"},
        {"teams = ( { name = \"a\"; labels = [1, 2]; } );", "labels"},
    };
    struct cls_config cfg;
    struct cls_team_set t;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load(cases[i].text, &cfg, &t, err, sizeof(err)), DAI_ECONFIG);
        assert_non_null(strstr(err, cases[i].needle));
        assert_non_null(strstr(err, "cls-teams-")); /* names the file */
        dai_config_free(&cls_config_spec, &cfg);
    }
}

static void test_cls_teams_none_configured(void **state)
{
    struct cls_config cfg;
    struct cls_team_set t;
    char err[256];

    (void)state;
    assert_int_equal(load("llm = { model = \"m\"; };", &cfg, &t, err, sizeof(err)), 0);
    assert_int_equal(t.view.n, 0);
    assert_null(cls_teams_match(&t.view, "backend"));
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);
}

static void test_cls_teams_config_checks(void **state)
{
    struct cls_config cfg;
    struct cls_team_set t;
    char err[256];

    (void)state;
    assert_int_equal(load("classify = { unseen = \"sometimes\"; };", &cfg, &t, err, sizeof(err)),
                     0);
    assert_int_equal(cls_config_check(&cfg, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "classify.unseen"));
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);

    assert_int_equal(load("llm = { base_url = \"ftp://x\"; };", &cfg, &t, err, sizeof(err)), 0);
    assert_int_equal(cls_config_check(&cfg, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "llm.base_url"));
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);

    assert_int_equal(load("llm = { response_format = \"json_object\"; auth = \"api-key\"; };",
                          &cfg, &t, err, sizeof(err)),
                     0);
    assert_int_equal(cls_config_check(&cfg, err, sizeof(err)), 0);
    assert_int_equal(cls_config_rf(&cfg), CLS_RF_JSON_OBJECT);
    assert_int_equal(cls_config_auth(&cfg), CLS_AUTH_API_KEY);
    /* defaults */
    assert_int_equal(cfg.common.http_port, 8001);
    assert_int_equal(cfg.llm_max_concurrency, 16);
    assert_string_equal(cfg.group_id, "dispatchai-classifier");
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);
}

static void test_cls_teams_shipped_config(void **state)
{
    char *argv[] = {"dispatchai-classifier", "--config=config/classifier.conf", NULL};
    struct dai_config_doc *doc = NULL;
    struct cls_config cfg;
    struct cls_team_set t;
    char err[256];

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(dai_config_load(&cls_config_spec, &cfg, 2, argv, &doc, err, sizeof(err)), 0);
    assert_int_equal(cls_config_check(&cfg, err, sizeof(err)), 0);
    assert_int_equal(cls_teams_load(doc, &t, err, sizeof(err)), 0);
    assert_true(t.view.n >= 3);
    assert_string_equal(cfg.llm_prompt_file, "config/prompt.txt");
    assert_int_equal(access(cfg.offline_model, R_OK), 0);
    dai_config_doc_free(doc);
    cls_teams_free(&t);
    dai_config_free(&cls_config_spec, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_teams_loads_section),
        cmocka_unit_test(test_cls_teams_rejects_bad_entries),
        cmocka_unit_test(test_cls_teams_none_configured),
        cmocka_unit_test(test_cls_teams_config_checks),
        cmocka_unit_test(test_cls_teams_shipped_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
