/* Unit tests for classifier/verdict.c: the Chat Completions envelope, error
 * bodies, and validation of the assistant's JSON (code fences, sloppy
 * spelling, out-of-enum values, ranges, teams). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../classifier/offline/offline.h"
#include "../../classifier/teams.h"
#include "../../classifier/verdict.h"
#include <dispatchai/dai.h>

static const struct cls_team team_v[] = {
    {.name = "backend", .description = "APIs"},
    {.name = "frontend", .description = "UI"},
};
static const struct cls_teams teams = {team_v, 2};

#define GOOD                                                                               \
    "{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"medium\","         \
    "\"suggested_assignee\":\"backend\",\"confidence\":0.82,\"reasoning\":\"Crash.\","   \
    "\"tags\":[\"crash\",\"api\"],\"summary\":\"The API crashes.\"}"

static int parse(const char *s, struct dai_classification *c, char *err, size_t n)
{
    return cls_verdict_parse(s, strlen(s), &teams, c, err, n);
}

static void test_cls_verdict_completion_envelope(void **state)
{
    const char *body =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
        "\"model\":\"gpt-4o-mini-2024\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"{}\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":30,\"total_tokens\":150}}";
    struct cls_completion c;
    char err[128];

    (void)state;
    assert_int_equal(cls_verdict_completion(body, strlen(body), &c, err, sizeof(err)), 0);
    assert_string_equal(c.content, "{}");
    assert_string_equal(c.model, "gpt-4o-mini-2024");
    assert_string_equal(c.finish_reason, "stop");
    assert_int_equal(c.prompt_tokens, 120);
    assert_int_equal(c.completion_tokens, 30);
    cls_completion_free(&c);
}

static void test_cls_verdict_completion_malformed(void **state)
{
    const char *bad[] = {
        "not json", "{\"choices\":[]}", "{\"choices\":[{\"message\":{\"content\":5}}]}",
        "[1,2]", "{\"object\":\"chat.completion\"}",
    };
    const char *refusal =
        "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"}}]}";
    struct cls_completion c;
    char err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cls_verdict_completion(bad[i], strlen(bad[i]), &c, err, sizeof(err)),
                         DAI_EPARSE);
        assert_null(c.content);
    }
    /* a refusal is an (empty) answer: the repair turn deals with it */
    assert_int_equal(cls_verdict_completion(refusal, strlen(refusal), &c, err, sizeof(err)), 0);
    assert_string_equal(c.content, "");
    cls_completion_free(&c);
}

static void test_cls_verdict_error_message(void **state)
{
    const char *b = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
                    "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    char msg[64];

    (void)state;
    cls_verdict_error_message(b, strlen(b), msg, sizeof(msg));
    assert_string_equal(msg, "Rate limit reached");
    cls_verdict_error_message("{\"error\":\"plain\"}", 17, msg, sizeof(msg));
    assert_string_equal(msg, "plain");
    cls_verdict_error_message("<html>", 6, msg, sizeof(msg));
    assert_string_equal(msg, "");
}

static void test_cls_verdict_valid_reply(void **state)
{
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_int_equal(parse(GOOD, &c, err, sizeof(err)), 0);
    assert_int_equal(c.category, DAI_CAT_BUG);
    assert_int_equal(c.priority, DAI_PRIO_HIGH);
    assert_int_equal(c.effort, DAI_EFFORT_MEDIUM);
    assert_string_equal(c.suggested_assignee, "backend");
    assert_true(c.confidence > 0.81 && c.confidence < 0.83);
    assert_int_equal(c.n_tags, 2);
    assert_string_equal(c.tags[1], "api");
    assert_string_equal(c.summary, "The API crashes.");
    assert_int_equal(c.source, DAI_SRC_LLM);
}

static void test_cls_verdict_tolerates_fences_and_prose(void **state)
{
    const char *fenced = "```json\n" GOOD "\n```";
    const char *bare_fence = "```\n" GOOD "```\nHope this helps!";
    const char *prose = "Sure! Here is the classification:\n" GOOD "\nLet me know.";
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_int_equal(parse(fenced, &c, err, sizeof(err)), 0);
    assert_int_equal(c.category, DAI_CAT_BUG);
    assert_int_equal(parse(bare_fence, &c, err, sizeof(err)), 0);
    assert_int_equal(parse(prose, &c, err, sizeof(err)), 0);
    assert_string_equal(c.suggested_assignee, "backend");
}

static void test_cls_verdict_normalises_spelling(void **state)
{
    const char *s = "{\"category\":\" Feature Request \",\"priority\":\"LOW\","
                    "\"effort_estimate\":\"extra-large\",\"suggested_assignee\":\"Team-Frontend\","
                    "\"confidence\":1,\"reasoning\":\"r\",\"tags\":[],\"summary\":\"s\","
                    "\"source\":\"human\"}";
    const char *none = "{\"category\":\"docs\",\"priority\":\"medium\",\"effort_estimate\":"
                       "\"small\",\"suggested_assignee\":\"none\",\"confidence\":0}";
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_int_equal(parse(s, &c, err, sizeof(err)), 0);
    assert_int_equal(c.category, DAI_CAT_FEATURE_REQUEST);
    assert_int_equal(c.priority, DAI_PRIO_LOW);
    assert_int_equal(c.effort, DAI_EFFORT_EXTRA_LARGE);
    assert_string_equal(c.suggested_assignee, "frontend");
    /* the model does not get to claim another source */
    assert_int_equal(c.source, DAI_SRC_LLM);
    /* missing texts are tolerated, "none" is no team */
    assert_int_equal(parse(none, &c, err, sizeof(err)), 0);
    assert_int_equal(c.category, DAI_CAT_DOCUMENTATION);
    assert_string_equal(c.suggested_assignee, "");
    assert_string_equal(c.reasoning, "");
}

static void test_cls_verdict_rejects_invalid(void **state)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"category\":\"urgent\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5}", "category"},
        {"{\"category\":\"bug\",\"priority\":\"p0\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5}", "priority"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"huge\","
         "\"confidence\":0.5}", "effort_estimate"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":150}", "confidence"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":-0.1}", "confidence"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":\"0.5\"}", "confidence"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\"}",
         "confidence"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5,\"suggested_assignee\":\"marketing\"}", "suggested_assignee"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5,\"suggested_assignee\":7}", "suggested_assignee"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5,\"tags\":\"a,b\"}", "tags"},
        {"{\"category\":\"bug\",\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5,\"summary\":[1]}", "summary"},
        {"{\"category\":5,\"priority\":\"high\",\"effort_estimate\":\"small\","
         "\"confidence\":0.5}", "category"},
        {"I cannot classify this issue.", "no JSON object"},
        {"{\"category\":\"bug\",", ""},
        {"", "no JSON object"},
    };
    struct dai_classification c;
    char err[160];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_true(parse(cases[i].json, &c, err, sizeof(err)) < 0);
        assert_non_null(strstr(err, cases[i].needle));
    }
}

static void test_cls_verdict_trims_extra_tags(void **state)
{
    const char *s = "{\"category\":\"question\",\"priority\":\"low\",\"effort_estimate\":"
                    "\"small\",\"confidence\":0.4,\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\","
                    "\"f\",\"g\"]}";
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_int_equal(parse(s, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n_tags, 5);
    assert_string_equal(c.tags[4], "e");
}

static void test_cls_verdict_confidence_percentage(void **state)
{
    const char *s = "{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":"
                    "\"small\",\"confidence\":85}";
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_int_equal(parse(s, &c, err, sizeof(err)), 0);
    assert_true(c.confidence > 0.849 && c.confidence < 0.851);
}

static void test_cls_verdict_no_teams_configured(void **state)
{
    const struct cls_teams none = {NULL, 0};
    struct dai_classification c;
    char err[128];

    (void)state;
    assert_true(cls_verdict_parse(GOOD, strlen(GOOD), &none, &c, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "backend"));
    assert_string_equal(cls_teams_match(&teams, "@backend"), "backend");
    assert_string_equal(cls_teams_match(&teams, "FRONTEND"), "frontend");
    assert_null(cls_teams_match(&teams, "back"));
    assert_null(cls_teams_match(NULL, "backend"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_verdict_completion_envelope),
        cmocka_unit_test(test_cls_verdict_completion_malformed),
        cmocka_unit_test(test_cls_verdict_error_message),
        cmocka_unit_test(test_cls_verdict_valid_reply),
        cmocka_unit_test(test_cls_verdict_tolerates_fences_and_prose),
        cmocka_unit_test(test_cls_verdict_normalises_spelling),
        cmocka_unit_test(test_cls_verdict_rejects_invalid),
        cmocka_unit_test(test_cls_verdict_trims_extra_tags),
        cmocka_unit_test(test_cls_verdict_confidence_percentage),
        cmocka_unit_test(test_cls_verdict_no_teams_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
