/* Unit tests for classifier/eval_metrics.c: the label mapping, per-class and
 * per-repository precision/recall/F1, macro-F1 over the data's classes, the
 * confusion matrix, latency quantiles, tokens and cost — on a small case
 * worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../classifier/eval.h"

#include <dispatchai/json.h>

#define NEAR(a, b) assert_true((a) > (b) - 1e-9 && (a) < (b) + 1e-9)

static void test_cls_eval_label_map(void **state)
{
    struct cls_label_map m;
    char err[160];

    (void)state;
    assert_int_equal(cls_label_map_parse(" feature_request = feature,enhancement=feature,,", &m,
                                         err, sizeof(err)), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(cls_label_map_apply(&m, "Feature_Request"), "feature");
    assert_string_equal(cls_label_map_apply(&m, "bug"), "bug");
    assert_int_equal(cls_label_map_parse("", &m, err, sizeof(err)), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(cls_label_map_parse("bug", &m, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "\"bug\""));
    assert_int_equal(cls_label_map_parse("a=", &m, err, sizeof(err)), DAI_ECONFIG);
}

static void test_cls_eval_quantile(void **state)
{
    double v[] = {4, 1, 3, 2};

    (void)state;
    NEAR(cls_eval_quantile(v, 4, 0.5), 2);
    NEAR(cls_eval_quantile(v, 4, 0.9), 4);
    NEAR(cls_eval_quantile(v, 4, 0.0), 1);
    NEAR(cls_eval_quantile(v, 0, 0.5), 0);
}

/* Two gold classes (bug, feature), one class only ever predicted
 * (documentation), two repositories. */
static void fixture(struct cls_eval_names *classes, struct cls_eval_names *repos,
                    struct cls_eval_outcome *o)
{
    static const struct {
        int gold, pred, repo;
    } rows[] = {{0, 0, 0}, {0, 1, 0}, {1, 1, 1}, {1, 2, 1}};

    memset(classes, 0, sizeof(*classes));
    memset(repos, 0, sizeof(*repos));
    assert_int_equal(cls_eval_names_add(classes, "bug", true), 0);
    assert_int_equal(cls_eval_names_add(classes, "feature", true), 1);
    assert_int_equal(cls_eval_names_add(classes, "documentation", false), 2);
    assert_int_equal(cls_eval_names_add(classes, "bug", false), 0); /* stays gold */
    assert_int_equal(cls_eval_names_add(repos, "acme/a", false), 0);
    assert_int_equal(cls_eval_names_add(repos, "acme/b", false), 1);
    for (int i = 0; i < 4; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        o[i].gold = rows[i].gold;
        o[i].pred = rows[i].pred;
        o[i].repo = rows[i].repo;
        o[i].latency_ms = i + 1;
        o[i].prompt_tokens = 1000;
        o[i].completion_tokens = 100;
        o[i].by_llm = i != 3;
    }
    snprintf(o[3].fallback, sizeof(o[3].fallback), "length");
}

static void test_cls_eval_scores(void **state)
{
    struct cls_eval_names classes, repos;
    struct cls_eval_outcome o[4];
    struct cls_prf prf[3];
    double acc, macro;
    size_t n;

    (void)state;
    fixture(&classes, &repos, o);
    macro = cls_eval_scores(o, 4, -1, &classes, prf, &acc, &n);
    assert_int_equal(n, 4);
    NEAR(acc, 0.5);
    NEAR(prf[0].precision, 1.0);
    NEAR(prf[0].recall, 0.5);
    NEAR(prf[0].f1, 2.0 / 3.0);
    NEAR(prf[1].precision, 0.5);
    NEAR(prf[1].f1, 0.5);
    assert_int_equal(prf[2].predicted, 1);
    assert_int_equal(prf[2].support, 0);
    /* the mean over the data's classes: documentation is not averaged in */
    NEAR(macro, (2.0 / 3.0 + 0.5) / 2);
    /* one repository: only its own gold classes count */
    macro = cls_eval_scores(o, 4, 0, &classes, prf, &acc, &n);
    assert_int_equal(n, 2);
    NEAR(macro, 2.0 / 3.0);
    cls_eval_names_free(&classes);
    cls_eval_names_free(&repos);
}

static void test_cls_eval_report(void **state)
{
    struct cls_eval_names classes, repos;
    struct cls_eval_outcome o[4];
    struct cls_eval_prices prices = {1.0, 2.0};
    json_t *rep, *conf;

    (void)state;
    fixture(&classes, &repos, o);
    rep = cls_eval_report(o, 4, &classes, &repos, &prices, "llm test", 2.0);
    assert_non_null(rep);
    NEAR(json_number_value(json_object_get(rep, "macro_f1")), (2.0 / 3.0 + 0.5) / 2);
    NEAR(json_number_value(json_object_get(rep, "macro_f1_repo_mean")), 2.0 / 3.0);
    NEAR(json_number_value(dai_json_path(rep, "repositories.acme/b.macro_f1")), 2.0 / 3.0);
    /* rows: label, columns: predicted, in the order of "labels" */
    conf = json_object_get(rep, "confusion");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(conf, 0), 1)), 1);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(conf, 1), 2)), 1);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(conf, 2), 0)), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(rep, "labels"), 2)),
                        "documentation");
    NEAR(json_number_value(dai_json_path(rep, "latency_ms.p50")), 2);
    NEAR(json_number_value(dai_json_path(rep, "latency_ms.max")), 4);
    NEAR(json_number_value(dai_json_path(rep, "latency_ms.mean")), 2.5);
    assert_int_equal(json_integer_value(dai_json_path(rep, "sources.llm")), 3);
    assert_int_equal(json_integer_value(dai_json_path(rep, "sources.fallback_reasons.length")),
                     1);
    assert_int_equal(json_integer_value(dai_json_path(rep, "usage.prompt_tokens")), 4000);
    /* per issue 1000 x 1.0 + 100 x 2.0 per million = 0.0012; per 1,000 issues 1.2 */
    NEAR(json_number_value(dai_json_path(rep, "usage.cost_per_1000_issues")), 1.2);
    json_decref(rep);

    /* no price configured: no cost claimed */
    prices.prompt_per_mtok = prices.completion_per_mtok = 0;
    rep = cls_eval_report(o, 4, &classes, &repos, &prices, "offline", 0.1);
    assert_null(dai_json_path(rep, "usage.cost_per_1000_issues"));
    json_decref(rep);
    cls_eval_names_free(&classes);
    cls_eval_names_free(&repos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_eval_label_map),
        cmocka_unit_test(test_cls_eval_quantile),
        cmocka_unit_test(test_cls_eval_scores),
        cmocka_unit_test(test_cls_eval_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
