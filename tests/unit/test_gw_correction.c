/* Unit tests for gateway/correction.c: a correction merges the given fields
 * into the effective classification, marks it human with the token's name,
 * refreshes the metadata and validates as an enriched event; every invalid
 * body is refused with a message naming the problem. */
#include "../../gateway/correction.h"

#include <dispatchai/events.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static json_t *latest(void)
{
    json_t *ev = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s,s:b,s:{s:s,s:i}},s:{s:s,s:i},"
        "s:{s:i,s:i,s:s,s:s,s:s,s:[],s:{s:s,s:i},s:[],s:s,s:s,s:s},"
        "s:{s:s,s:s,s:s,s:s,s:f,s:s,s:[s],s:s,s:s},s:{s:s,s:i,s:s,s:i}}",
        "schema_version", 1, "event_type", "issue", "action", "opened", "timestamp",
        "2025-01-01T00:00:00Z", "delivery_id", "d1", "repository", "id", 1, "name", "w",
        "full_name", "acme/w", "private", 0, "owner", "login", "acme", "id", 2, "sender", "login",
        "u", "id", 3, "issue", "id", 9, "number", 42, "title", "Crash", "body", "b", "state",
        "open", "labels", "user", "login", "u", "id", 3, "assignees", "html_url", "https://x",
        "created_at", "2025-01-01T00:00:00Z", "updated_at", "2025-01-01T00:00:00Z",
        "classification", "category", "bug", "priority", "high", "effort_estimate", "small",
        "suggested_assignee", "team-backend", "confidence", 0.7, "reasoning", "LLM says bug",
        "tags", "crash", "summary", "App crashes", "source", "llm", "processing_metadata",
        "processed_at", "2025-01-01T00:00:01Z", "processing_time_ms", 900, "model_version",
        "gpt-x", "attempts", 1);
    char err[200];

    assert_non_null(ev);
    assert_int_equal(dai_enriched_event_validate(ev, err, sizeof(err)), 0);
    return ev;
}

static json_t *build(const char *body, char *err, size_t errlen)
{
    json_t *l = latest();
    json_t *ev = gw_correction_build(l, body, strlen(body), "ops", 1767000000123LL, err, errlen);

    json_decref(l);
    return ev;
}

static const char *cls(json_t *ev, const char *k)
{
    return json_string_value(json_object_get(json_object_get(ev, "classification"), k));
}

static void test_gw_correction_merges_fields(void **state)
{
    char err[300];
    json_t *ev = build("{\"category\":\"security\",\"note\":\"CVE pending\"}", err, sizeof(err));
    json_t *pm;

    (void)state;
    assert_non_null(ev);
    assert_string_equal(cls(ev, "category"), "security");
    assert_string_equal(cls(ev, "priority"), "high");           /* kept */
    assert_string_equal(cls(ev, "effort_estimate"), "small");   /* kept */
    assert_string_equal(cls(ev, "suggested_assignee"), "team-backend");
    assert_string_equal(cls(ev, "summary"), "App crashes");
    assert_string_equal(cls(ev, "source"), "human");
    assert_string_equal(cls(ev, "corrected_by"), "ops");
    assert_string_equal(cls(ev, "note"), "CVE pending");
    assert_true(json_real_value(json_object_get(json_object_get(ev, "classification"),
                                                "confidence")) == 1.0);
    pm = json_object_get(ev, "processing_metadata");
    assert_string_equal(json_string_value(json_object_get(pm, "model_version")), "human");
    assert_string_equal(json_string_value(json_object_get(pm, "processed_at")),
                        "2025-12-29T09:20:00.123Z");
    assert_non_null(strstr(json_string_value(json_object_get(ev, "delivery_id")),
                           "correction-"));
    /* The subject is the latest one, untouched. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "issue"),
                                                          "title")), "Crash");
    assert_int_equal(dai_enriched_event_validate(ev, err, sizeof(err)), 0);
    json_decref(ev);

    ev = build("{\"priority\":\"low\",\"effort_estimate\":\"extra_large\","
               "\"suggested_assignee\":null,\"tags\":[\"a\",\"b\"],\"summary\":\"s\"}",
               err, sizeof(err));
    assert_non_null(ev);
    assert_string_equal(cls(ev, "priority"), "low");
    assert_string_equal(cls(ev, "effort_estimate"), "extra_large");
    assert_true(json_is_null(json_object_get(json_object_get(ev, "classification"),
                                             "suggested_assignee")));
    assert_true(json_is_null(json_object_get(json_object_get(ev, "classification"), "note")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(ev, "classification"),
                                                     "tags")), 2);
    json_decref(ev);
}

static void test_gw_correction_rejects_invalid_bodies(void **state)
{
    static const struct {
        const char *body;
        const char *says;
    } bad[] = {
        {"", "line"},
        {"not json", "line"},
        {"[1,2]", "object"},
        {"{}", "nothing to correct"},
        {"{\"note\":\"only a note\"}", "nothing to correct"},
        {"{\"category\":\"bugz\"}", "category"},
        {"{\"category\":7}", "category"},
        {"{\"priority\":\"urgent\"}", "priority"},
        {"{\"effort_estimate\":\"huge\"}", "effort_estimate"},
        {"{\"source\":\"llm\",\"category\":\"bug\"}", "unknown field"},
        {"{\"category\":\"bug\",\"corrected_by\":\"mallory\"}", "unknown field"},
        {"{\"suggested_assignee\":5}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"none\"}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"NONE\"}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"\"}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"team backend\"}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"team/backend\"}", "suggested_assignee"},
        {"{\"suggested_assignee\":\"t\\u00e9am\"}", "suggested_assignee"},
        {"{\"tags\":\"x\"}", "tags"},
        {"{\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}", "tags"},
        {"{\"tags\":[\"\"]}", "tags[0]"},
        {"{\"summary\":null}", "summary"},
        {"{\"category\":\"bug\",\"note\":7}", "note"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[300] = "";
        json_t *ev = build(bad[i].body, err, sizeof(err));

        if (ev)
            fail_msg("accepted: %s", bad[i].body);
        if (!strstr(err, bad[i].says))
            fail_msg("body %s: message \"%s\" does not mention %s", bad[i].body, err,
                     bad[i].says);
    }
}

static void test_gw_correction_length_limits(void **state)
{
    char body[1200], err[300];
    json_t *ev;

    (void)state;
    snprintf(body, sizeof(body), "{\"suggested_assignee\":\"%0*d\"}", DAI_TEAM_LEN, 0);
    ev = build(body, err, sizeof(err));
    assert_null(ev);
    assert_non_null(strstr(err, "suggested_assignee"));
    snprintf(body, sizeof(body), "{\"suggested_assignee\":\"%0*d\"}", DAI_TEAM_LEN - 1, 0);
    ev = build(body, err, sizeof(err));
    assert_non_null(ev);
    json_decref(ev);
    snprintf(body, sizeof(body), "{\"category\":\"bug\",\"note\":\"%0*d\"}", DAI_NOTE_LEN, 0);
    ev = build(body, err, sizeof(err));
    assert_null(ev);
    assert_non_null(strstr(err, "note"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_correction_merges_fields),
        cmocka_unit_test(test_gw_correction_rejects_invalid_bodies),
        cmocka_unit_test(test_gw_correction_length_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
