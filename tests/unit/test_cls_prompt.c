/* Unit tests for classifier/prompt.c: template rendering (teams, reply
 * format), UTF-8-safe truncation, the user message and the Chat Completions
 * request for each response format, the bounds and member order of the reply
 * schema, the decision-only retry, and the repair turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../classifier/offline/offline.h"
#include "../../classifier/prompt.h"
#include <dispatchai/dai.h>

static const char *const kw[] = {"api", "database"};
static const struct cls_team team_v[] = {
    {.name = "backend", .description = "Server-side APIs", .keywords = kw, .n_keywords = 2},
    {.name = "docs", .description = "Documentation"},
};
static const struct cls_teams teams = {team_v, 2};

static void init(struct cls_prompt *p, const char *tmpl)
{
    char err[128];

    assert_int_equal(cls_prompt_init(p, tmpl, &teams, err, sizeof(err)), 0);
    p->model = "test-model";
    p->temperature = 0.0;
    p->max_tokens = 300;
    p->max_title_chars = 20;
    p->max_body_chars = 30;
}

static void test_cls_prompt_renders_placeholders(void **state)
{
    struct cls_prompt p;

    (void)state;
    init(&p, "You triage issues.\nTEAMS:\n{{teams}}\nFORMAT:\n{{format}}\nEnd.");
    assert_non_null(strstr(p.system, "TEAMS:\n- backend: Server-side APIs (topics: api, "
                                     "database)\n- docs: Documentation\nFORMAT:"));
    assert_non_null(strstr(p.system, "\"feature_request\""));
    assert_non_null(strstr(p.system, "\"extra_large\""));
    assert_non_null(strstr(p.system, "\"critical\""));
    assert_null(strstr(p.system, "{{"));
    assert_true(strlen(p.system) > 0 && strcmp(p.system + strlen(p.system) - 4, "End.") == 0);
    cls_prompt_free(&p);
}

static void test_cls_prompt_appends_missing_sections(void **state)
{
    struct cls_prompt p;
    char err[64];

    (void)state;
    init(&p, "Classify this.");
    assert_true(strncmp(p.system, "Classify this.\n\nTeams:\n- backend", 32) == 0);
    assert_non_null(strstr(p.system, "Reply with exactly one JSON object"));
    cls_prompt_free(&p);
    assert_int_equal(cls_prompt_init(&p, "", &teams, err, sizeof(err)), DAI_EINVAL);
}

static void test_cls_prompt_truncates_utf8(void **state)
{
    /* "héllo wörld": é and ö are two bytes each */
    const char *s = "h\xC3\xA9llo w\xC3\xB6rld";
    char *t;

    (void)state;
    t = cls_truncate_utf8(s, strlen(s), 2);
    assert_string_equal(t, "h\xC3\xA9\xE2\x80\xA6");
    free(t);
    t = cls_truncate_utf8(s, strlen(s), 8);
    assert_string_equal(t, "h\xC3\xA9llo w\xC3\xB6\xE2\x80\xA6");
    free(t);
    t = cls_truncate_utf8(s, strlen(s), 100);
    assert_string_equal(t, s);
    free(t);
    t = cls_truncate_utf8(NULL, 0, 5);
    assert_string_equal(t, "");
    free(t);
}

static void test_cls_prompt_user_message(void **state)
{
    struct cls_prompt p;
    const char *labels[] = {"bug", "ui"};
    struct cls_issue_text in = {
        .title = "Crash when saving a very long file name",
        .body = "Steps: open, type, save. It crashes every single time.",
        .repo = "acme/app", .labels = labels, .n_labels = 2, .is_pull_request = false};
    struct cls_issue_text pr = {.title = "Fix", .body = NULL, .repo = NULL};
    char *u;

    (void)state;
    init(&p, "x");
    in.title_len = strlen(in.title);
    in.body_len = strlen(in.body);
    u = cls_prompt_user(&p, &in);
    assert_string_equal(u, "Repository: acme/app\nKind: issue\nLabels: bug, ui\n"
                           "Title: Crash when saving a \xE2\x80\xA6\n"
                           "Body:\nSteps: open, type, save. It cr\xE2\x80\xA6");
    free(u);
    pr.title_len = 3;
    pr.is_pull_request = true;
    u = cls_prompt_user(&p, &pr);
    assert_string_equal(u, "Repository: unknown\nKind: pull request\nLabels: none\n"
                           "Title: Fix\nBody:\n(empty)");
    free(u);
    cls_prompt_free(&p);
}

static void test_cls_prompt_request_formats(void **state)
{
    struct cls_prompt p;
    struct cls_issue_text in = {.title = "t", .title_len = 1, .body = "b", .body_len = 1};
    json_t *req, *rf, *schema;

    (void)state;
    init(&p, "sys");
    req = cls_prompt_request(&p, &in, CLS_RF_JSON_SCHEMA);
    assert_non_null(req);
    assert_string_equal(dai_json_str(req, "model", ""), "test-model");
    assert_int_equal(dai_json_int(req, "max_tokens", 0), 300);
    assert_int_equal(json_array_size(json_object_get(req, "messages")), 2);
    assert_string_equal(dai_json_str(json_array_get(json_object_get(req, "messages"), 0), "role",
                                     ""), "system");
    rf = json_object_get(req, "response_format");
    assert_string_equal(dai_json_str(rf, "type", ""), "json_schema");
    assert_true(json_is_true(json_object_get(json_object_get(rf, "json_schema"), "strict")));
    schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    assert_int_equal(json_array_size(json_object_get(schema, "required")), 8);
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    /* the assignee enum is the team list plus null */
    {
        json_t *e = dai_json_path(schema, "properties.suggested_assignee.enum");
        assert_int_equal(json_array_size(e), 3);
        assert_string_equal(json_string_value(json_array_get(e, 0)), "backend");
        assert_true(json_is_null(json_array_get(e, 2)));
        e = dai_json_path(schema, "properties.category.enum");
        assert_int_equal(json_array_size(e), DAI_CAT_COUNT);
    }
    /* downgrade in place */
    assert_int_equal(cls_prompt_set_format(&p, req, CLS_RF_JSON_OBJECT, false), 0);
    assert_string_equal(dai_json_str(json_object_get(req, "response_format"), "type", ""),
                        "json_object");
    assert_int_equal(cls_prompt_set_format(&p, req, CLS_RF_NONE, false), 0);
    assert_null(json_object_get(req, "response_format"));
    json_decref(req);

    p.max_tokens = 0;
    req = cls_prompt_request(&p, &in, CLS_RF_NONE);
    assert_null(json_object_get(req, "max_tokens"));
    assert_null(json_object_get(req, "response_format"));
    json_decref(req);
    cls_prompt_free(&p);
}

/* Every string member of a schema has maxLength (or an enum), every array
 * maxItems with bounded items; counts the bounded members. */
static int count_bounds(const json_t *schema, bool *all_bounded)
{
    const json_t *props = json_object_get(schema, "properties"), *v;
    const char *name;
    int n = 0;

    json_object_foreach((json_t *)props, name, v) {
        const json_t *type = json_object_get(v, "type");
        const char *t = json_is_string(type) ? json_string_value(type) : "string";
        bool has;

        if (json_object_get(v, "enum"))
            continue;
        if (!strcmp(t, "string"))
            has = json_is_integer(json_object_get(v, "maxLength"));
        else if (!strcmp(t, "array"))
            has = json_is_integer(json_object_get(v, "maxItems")) &&
                  json_is_integer(dai_json_path((json_t *)v, "items.maxLength"));
        else
            continue; /* confidence: a number, checked by the validator */
        n += has;
        if (!has)
            *all_bounded = false;
    }
    return n;
}

static void test_cls_prompt_schema_bounds_and_order(void **state)
{
    static const char *const order[] = {"category", "priority", "effort_estimate",
                                        "suggested_assignee", "confidence", "tags", "summary",
                                        "reasoning"};
    struct cls_prompt p;
    const char *name;
    json_t *v;
    size_t i = 0;
    bool all;

    (void)state;
    init(&p, "sys");
    /* bounded: tags, summary and reasoning all carry limits */
    all = true;
    assert_int_equal(count_bounds(p.schema, &all), 3);
    assert_true(all);
    assert_int_equal(dai_json_int(dai_json_path(p.schema, "properties.tags"), "maxItems", 0),
                     CLS_MAX_TAGS);
    assert_int_equal(dai_json_int(dai_json_path(p.schema, "properties.reasoning"), "maxLength",
                                  0), CLS_REASONING_MAX_CHARS);
    /* the decision comes before the free text, in properties and required */
    json_object_foreach(json_object_get(p.schema, "properties"), name, v)
        assert_string_equal(name, order[i++]);
    assert_int_equal(i, 8);
    for (i = 0; i < 8; i++)
        assert_string_equal(json_string_value(json_array_get(json_object_get(p.schema,
                                                                             "required"), i)),
                            order[i]);
    /* the unbounded rung has no limits at all */
    all = true;
    assert_int_equal(count_bounds(p.schema_unbounded, &all), 0);
    /* decision only: the five decision members, nothing free-form */
    assert_int_equal(json_object_size(json_object_get(p.schema_decision, "properties")), 5);
    assert_int_equal(json_array_size(json_object_get(p.schema_decision, "required")), 5);
    assert_null(dai_json_path(p.schema_decision, "properties.reasoning"));
    assert_non_null(dai_json_path(p.schema_decision, "properties.confidence"));
    assert_null(dai_json_path(p.schema_decision_unbounded, "properties.tags"));
    /* the instructions state the same bounds and order */
    assert_non_null(strstr(p.system, "in this order"));
    assert_non_null(strstr(p.system, "(at most 200 characters)"));
    assert_true(strstr(p.system, "\"confidence\"") < strstr(p.system, "\"reasoning\""));
    cls_prompt_free(&p);
}

static void test_cls_prompt_decision_only_retry(void **state)
{
    struct cls_prompt p;
    struct cls_issue_text in = {.title = "t", .title_len = 1, .body = "b", .body_len = 1};
    json_t *req, *schema, *msgs;
    const char *user;

    (void)state;
    init(&p, "sys");
    req = cls_prompt_request(&p, &in, CLS_RF_JSON_SCHEMA);
    assert_int_equal(cls_prompt_decision_only(&p, req, CLS_RF_JSON_SCHEMA), 0);
    schema = dai_json_path(req, "response_format.json_schema.schema");
    assert_true(json_equal(schema, p.schema_decision));
    msgs = json_object_get(req, "messages");
    assert_int_equal(json_array_size(msgs), 2); /* the same turns, nothing echoed */
    user = dai_json_str(json_array_get(msgs, 1), "content", "");
    assert_non_null(strstr(user, "Title: t"));
    assert_non_null(strstr(user, "give only \"category\""));
    /* a later downgrade keeps asking for the decision only */
    assert_int_equal(cls_prompt_set_format(&p, req, CLS_RF_JSON_SCHEMA_UNBOUNDED, true), 0);
    assert_true(json_equal(dai_json_path(req, "response_format.json_schema.schema"),
                           p.schema_decision_unbounded));
    json_decref(req);

    /* without a schema only the words change */
    req = cls_prompt_request(&p, &in, CLS_RF_JSON_OBJECT);
    assert_int_equal(cls_prompt_decision_only(&p, req, CLS_RF_JSON_OBJECT), 0);
    assert_string_equal(dai_json_str(json_object_get(req, "response_format"), "type", ""),
                        "json_object");
    assert_non_null(strstr(dai_json_str(json_array_get(json_object_get(req, "messages"), 1),
                                        "content", ""), "give only"));
    json_decref(req);
    cls_prompt_free(&p);
}

static void test_cls_prompt_repair_turn(void **state)
{
    struct cls_prompt p;
    struct cls_issue_text in = {.title = "t", .title_len = 1};
    json_t *req, *msgs;

    (void)state;
    init(&p, "sys");
    req = cls_prompt_request(&p, &in, CLS_RF_JSON_OBJECT);
    assert_int_equal(cls_prompt_add_repair(req, "{\"category\":\"urgent\"}",
                                           "category: \"urgent\" is not an allowed value"),
                     0);
    msgs = json_object_get(req, "messages");
    assert_int_equal(json_array_size(msgs), 4);
    assert_string_equal(dai_json_str(json_array_get(msgs, 2), "role", ""), "assistant");
    assert_string_equal(dai_json_str(json_array_get(msgs, 2), "content", ""),
                        "{\"category\":\"urgent\"}");
    assert_string_equal(dai_json_str(json_array_get(msgs, 3), "role", ""), "user");
    assert_non_null(strstr(dai_json_str(json_array_get(msgs, 3), "content", ""),
                           "\"urgent\" is not an allowed value"));
    json_decref(req);
    cls_prompt_free(&p);
}

static void test_cls_prompt_no_teams(void **state)
{
    struct cls_prompt p;
    char err[64];
    json_t *e;

    (void)state;
    assert_int_equal(cls_prompt_init(&p, "{{teams}}", NULL, err, sizeof(err)), 0);
    assert_non_null(strstr(p.system, "no teams are configured"));
    e = dai_json_path(p.schema, "properties.suggested_assignee.enum");
    assert_int_equal(json_array_size(e), 1);
    cls_prompt_free(&p);
}

static void test_cls_prompt_shipped_template(void **state)
{
    struct cls_prompt p;
    char *tmpl = NULL, err[64];

    (void)state;
    /* config/prompt.txt must render: both placeholders present, no leftovers */
    assert_int_equal(cls_read_file("config/prompt.txt", 65536, &tmpl), 0);
    assert_non_null(strstr(tmpl, "{{teams}}"));
    assert_non_null(strstr(tmpl, "{{format}}"));
    assert_int_equal(cls_prompt_init(&p, tmpl, &teams, err, sizeof(err)), 0);
    assert_null(strstr(p.system, "{{"));
    /* not appended a second time: the template places the list itself */
    assert_non_null(strstr(p.system, "Teams:\n- backend"));
    assert_null(strstr(strstr(p.system, "Teams:\n") + 1, "Teams:\n"));
    free(tmpl);
    cls_prompt_free(&p);
    assert_true(cls_read_file("config/does-not-exist.txt", 100, &tmpl) < 0);
    assert_int_equal(cls_read_file("config/prompt.txt", 10, &tmpl), DAI_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_prompt_renders_placeholders),
        cmocka_unit_test(test_cls_prompt_appends_missing_sections),
        cmocka_unit_test(test_cls_prompt_truncates_utf8),
        cmocka_unit_test(test_cls_prompt_user_message),
        cmocka_unit_test(test_cls_prompt_request_formats),
        cmocka_unit_test(test_cls_prompt_schema_bounds_and_order),
        cmocka_unit_test(test_cls_prompt_decision_only_retry),
        cmocka_unit_test(test_cls_prompt_repair_turn),
        cmocka_unit_test(test_cls_prompt_no_teams),
        cmocka_unit_test(test_cls_prompt_shipped_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
