/* Unit tests for the gateway's write-back decisions (gateway/writeback/
 * plan.c, history.c): labels from a classification, the confidence rule, the
 * diff against GitHub's labels that never undoes a person, the label history
 * from GitHub's issue events, label → correction mapping, mode checks. No
 * sockets. */
#include "../../gateway/writeback/writeback.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define BOT "dispatchai[bot]"

static struct gw_wb_config defaults(void)
{
    struct gw_wb_config c;

    memset(&c, 0, sizeof(c));
    c.mode = "on";
    c.min_confidence = 0.6;
    c.category_label[DAI_CAT_BUG] = "bug";
    c.category_label[DAI_CAT_FEATURE_REQUEST] = "enhancement";
    c.category_label[DAI_CAT_ENHANCEMENT] = "enhancement";
    c.category_label[DAI_CAT_DOCUMENTATION] = "documentation";
    c.category_label[DAI_CAT_QUESTION] = "question";
    c.category_label[DAI_CAT_SECURITY] = "security";
    c.priority_labels = true;
    c.priority_prefix = "priority: ";
    c.group = "dispatchai-gateway-writeback";
    c.api.token = "t0ken-for-tests";
    c.api.app_id = "";
    c.api.private_key_file = "";
    return c;
}

static struct dai_classification cls(enum dai_category cat, enum dai_priority p, double conf,
                                     enum dai_source src)
{
    struct dai_classification c;

    memset(&c, 0, sizeof(c));
    c.category = cat;
    c.priority = p;
    c.confidence = conf;
    c.source = src;
    return c;
}

/* A history from a JSON array of GitHub issue events. */
static void history(struct gw_wb_history *h, const char *events)
{
    json_t *arr = json_loads(events, 0, NULL);

    assert_non_null(arr);
    assert_int_equal(gw_wb_history_add(h, arr, BOT), 0);
    json_decref(arr);
}

#define EV(kind, who, label)                                                                     \
    "{\"id\":1,\"event\":\"" kind "\",\"actor\":{\"login\":\"" who "\"},\"label\":{\"name\":\"" \
    label "\",\"color\":\"ffffff\"},\"created_at\":\"2026-01-01T00:00:00Z\"}"

static void test_gw_writeback_desired_labels(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_BUG, DAI_PRIO_HIGH, 0.9, DAI_SRC_LLM);
    struct gw_wb_set s;

    (void)state;
    gw_wb_desired(&c, &k, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0], "bug");
    assert_string_equal(s.v[1], "priority: high");
    k.category = DAI_CAT_FEATURE_REQUEST;
    c.priority_labels = false;
    gw_wb_desired(&c, &k, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0], "enhancement");
    c.category_label[DAI_CAT_FEATURE_REQUEST] = "";
    gw_wb_desired(&c, &k, &s);
    assert_int_equal(s.n, 0);
}

static void test_gw_writeback_confidence_rule(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification low = cls(DAI_CAT_BUG, DAI_PRIO_LOW, 0.59, DAI_SRC_LLM);
    struct dai_classification edge = cls(DAI_CAT_BUG, DAI_PRIO_LOW, 0.6, DAI_SRC_OFFLINE);
    struct dai_classification human = cls(DAI_CAT_BUG, DAI_PRIO_LOW, 0.0, DAI_SRC_HUMAN);

    (void)state;
    assert_false(gw_wb_confident(&c, &low));
    assert_true(gw_wb_confident(&c, &edge));
    assert_true(gw_wb_confident(&c, &human));
}

static void test_gw_writeback_label_meaning(void **state)
{
    struct gw_wb_config c = defaults();
    char body[96];

    (void)state;
    assert_int_equal(gw_wb_label_category(&c, "Bug"), DAI_CAT_BUG);
    /* Shared by two categories: the label means enhancement. */
    assert_int_equal(gw_wb_label_category(&c, "enhancement"), DAI_CAT_ENHANCEMENT);
    assert_int_equal(gw_wb_label_category(&c, "help wanted"), -1);
    assert_int_equal(gw_wb_label_priority(&c, "priority: critical"), DAI_PRIO_CRITICAL);
    assert_int_equal(gw_wb_label_priority(&c, "Priority: Low"), DAI_PRIO_LOW);
    assert_int_equal(gw_wb_label_priority(&c, "priority: urgent"), -1);
    assert_true(gw_wb_managed(&c, "question"));
    assert_false(gw_wb_managed(&c, "wontfix"));
    assert_true(gw_wb_correction_for_label(&c, "documentation", body, sizeof(body)) > 0);
    assert_string_equal(body, "{\"category\":\"documentation\"}");
    assert_true(gw_wb_correction_for_label(&c, "priority: medium", body, sizeof(body)) > 0);
    assert_string_equal(body, "{\"priority\":\"medium\"}");
    assert_int_equal(gw_wb_correction_for_label(&c, "needs triage", body, sizeof(body)), 0);
    c.priority_labels = false;
    assert_int_equal(gw_wb_correction_for_label(&c, "priority: medium", body, sizeof(body)), 0);
}

static void test_gw_writeback_plan_adds_missing_only(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_BUG, DAI_PRIO_HIGH, 0.9, DAI_SRC_LLM);
    const char *cur[] = {"help wanted", "Bug"};
    struct gw_wb_history h = {0};
    struct gw_wb_set want;
    struct gw_wb_plan p;

    (void)state;
    gw_wb_desired(&c, &k, &want);
    /* A missing label: the history decides whether a person removed it. */
    gw_wb_plan(&c, &want, cur, 2, NULL, &p);
    assert_true(p.need_history);
    assert_int_equal(p.add.n, 0);
    gw_wb_plan(&c, &want, cur, 2, &h, &p);
    assert_false(p.need_history);
    assert_int_equal(p.add.n, 1);
    assert_string_equal(p.add.v[0], "priority: high");
    assert_int_equal(p.remove.n, 0);
}

static void test_gw_writeback_plan_same_state_is_noop(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_BUG, DAI_PRIO_HIGH, 0.9, DAI_SRC_LLM);
    const char *cur[] = {"bug", "priority: high", "wontfix"};
    struct gw_wb_set want;
    struct gw_wb_plan p;

    (void)state;
    gw_wb_desired(&c, &k, &want);
    /* Nothing missing, nothing managed to take off: no history read, no write. */
    gw_wb_plan(&c, &want, cur, 3, NULL, &p);
    assert_false(p.need_history);
    assert_int_equal(p.add.n + p.remove.n, 0);
}

static void test_gw_writeback_plan_never_readds_what_a_person_removed(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_BUG, DAI_PRIO_HIGH, 0.9, DAI_SRC_LLM);
    const char *cur[] = {"priority: high"};
    struct gw_wb_history h = {0};
    struct gw_wb_set want;
    struct gw_wb_plan p;

    (void)state;
    history(&h, "[" EV("labeled", BOT, "bug") "," EV("unlabeled", "alice", "bug") "]");
    gw_wb_desired(&c, &k, &want);
    gw_wb_plan(&c, &want, cur, 1, &h, &p);
    assert_int_equal(p.add.n, 0);
    assert_int_equal(p.kept_removed_by_person, 1);
    gw_wb_history_free(&h);
    /* Our own removal does not count as a person's: the label comes back. */
    history(&h, "[" EV("labeled", BOT, "bug") "," EV("unlabeled", BOT, "bug") "]");
    gw_wb_plan(&c, &want, cur, 1, &h, &p);
    assert_int_equal(p.add.n, 1);
    gw_wb_history_free(&h);
}

static void test_gw_writeback_plan_removes_only_own_labels(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_QUESTION, DAI_PRIO_LOW, 0.9, DAI_SRC_HUMAN);
    const char *cur[] = {"bug", "priority: high", "documentation", "help wanted", "security"};
    struct gw_wb_history h = {0};
    struct gw_wb_set want;
    struct gw_wb_plan p;

    (void)state;
    history(&h, "[" EV("labeled", BOT, "bug") "," EV("labeled", BOT, "priority: high") ","
                EV("labeled", "bob", "documentation") "," EV("labeled", BOT, "security") ","
                EV("unlabeled", "carol", "security") "," EV("labeled", "carol", "security")
                "," EV("assigned", BOT, "x") "]");
    gw_wb_desired(&c, &k, &want);
    gw_wb_plan(&c, &want, cur, 5, &h, &p);
    assert_int_equal(p.add.n, 2);
    assert_string_equal(p.add.v[0], "question");
    assert_string_equal(p.add.v[1], "priority: low");
    /* Only the two our bot put there; documentation and security are a
     * person's (carol re-applied security herself), help wanted unmanaged. */
    assert_int_equal(p.remove.n, 2);
    assert_string_equal(p.remove.v[0], "bug");
    assert_string_equal(p.remove.v[1], "priority: high");
    gw_wb_history_free(&h);
}

static void test_gw_writeback_plan_converges(void **state)
{
    struct gw_wb_config c = defaults();
    struct dai_classification k = cls(DAI_CAT_DOCUMENTATION, DAI_PRIO_MEDIUM, 0.8, DAI_SRC_LLM);
    const char *after[] = {"help wanted", "documentation", "priority: medium"};
    struct gw_wb_set want;
    struct gw_wb_plan p;

    (void)state;
    gw_wb_desired(&c, &k, &want);
    gw_wb_plan(&c, &want, after, 3, NULL, &p);
    assert_false(p.need_history);
    assert_int_equal(p.add.n + p.remove.n, 0);
}

static void test_gw_writeback_history_parsing(void **state)
{
    struct gw_wb_history h = {0};
    const struct gw_wb_touch *t;
    json_t *notarray = json_object();

    (void)state;
    history(&h, "[" EV("labeled", "Dispatchai[BOT]", "bug") "]");
    history(&h, "[{\"event\":\"labeled\",\"actor\":null,\"label\":{\"name\":\"ghost\"}},"
                "{\"event\":\"labeled\"},{\"event\":\"renamed\",\"label\":{\"name\":\"bug\"}}]");
    t = gw_wb_history_find(&h, "BUG");
    assert_non_null(t);
    assert_true(t->labeled && t->by_bot);
    t = gw_wb_history_find(&h, "ghost");
    assert_non_null(t);
    assert_false(t->by_bot);
    assert_null(gw_wb_history_find(&h, "nothing"));
    assert_int_equal(gw_wb_history_add(&h, notarray, BOT), DAI_EPARSE);
    json_decref(notarray);
    gw_wb_history_free(&h);
}

static void test_gw_writeback_comment(void **state)
{
    struct dai_classification k = cls(DAI_CAT_BUG, DAI_PRIO_HIGH, 0.87, DAI_SRC_LLM);
    struct dai_buf b = {0};
    const char *body = NULL;
    json_t *page;

    (void)state;
    snprintf(k.reasoning, sizeof(k.reasoning), "A crash with a stack trace.");
    assert_int_equal(gw_wb_comment_render(&k, &b), 0);
    assert_non_null(strstr(b.data, GW_WB_COMMENT_MARKER));
    assert_non_null(strstr(b.data, "bug, priority high"));
    assert_non_null(strstr(b.data, "confidence 0.87, llm"));
    assert_non_null(strstr(b.data, "> A crash with a stack trace."));
    k.source = DAI_SRC_HUMAN;
    snprintf(k.corrected_by, sizeof(k.corrected_by), "github:alice");
    assert_int_equal(gw_wb_comment_render(&k, &b), 0);
    assert_non_null(strstr(b.data, "Set by a person (github:alice)"));
    assert_null(strstr(b.data, "confidence"));
    /* Ours = by our bot and with the marker; a person quoting it is not. */
    page = json_pack("[{s:I,s:{s:s},s:s},{s:I,s:{s:s},s:s},{s:I,s:{s:s},s:s}]",
                     "id", (json_int_t)11, "user", "login", "alice", "body",
                     "> " GW_WB_COMMENT_MARKER " quoted", "id", (json_int_t)12, "user", "login",
                     BOT, "body", "another bot note", "id", (json_int_t)13, "user", "login",
                     "Dispatchai[bot]", "body", b.data);
    assert_int_equal(gw_wb_comment_find(page, BOT, &body), 13);
    assert_string_equal(body, b.data);
    json_decref(page);
    page = json_array();
    assert_int_equal(gw_wb_comment_find(page, BOT, &body), 0);
    json_decref(page);
    dai_buf_free(&b);
}

static void test_gw_writeback_config_check(void **state)
{
    struct gw_wb_config c = defaults();
    char err[256];

    (void)state;
    assert_int_equal(gw_wb_config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(c.parsed_mode, GW_WB_ON);
    c.mode = "dry-run";
    assert_int_equal(gw_wb_config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(c.parsed_mode, GW_WB_DRY_RUN);
    c.mode = "yes";
    assert_int_equal(gw_wb_config_check(&c, err, sizeof(err)), DAI_ECONFIG);
    c.mode = "on";
    c.api.token = "";
    assert_int_equal(gw_wb_config_check(&c, err, sizeof(err)), DAI_ECONFIG);
    assert_non_null(strstr(err, "credentials"));
    c.mode = "off";
    assert_int_equal(gw_wb_config_check(&c, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_writeback_desired_labels),
        cmocka_unit_test(test_gw_writeback_confidence_rule),
        cmocka_unit_test(test_gw_writeback_label_meaning),
        cmocka_unit_test(test_gw_writeback_plan_adds_missing_only),
        cmocka_unit_test(test_gw_writeback_plan_same_state_is_noop),
        cmocka_unit_test(test_gw_writeback_plan_never_readds_what_a_person_removed),
        cmocka_unit_test(test_gw_writeback_plan_removes_only_own_labels),
        cmocka_unit_test(test_gw_writeback_plan_converges),
        cmocka_unit_test(test_gw_writeback_history_parsing),
        cmocka_unit_test(test_gw_writeback_comment),
        cmocka_unit_test(test_gw_writeback_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
