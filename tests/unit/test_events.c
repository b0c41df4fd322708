/* Unit tests for the event contract: keys, vocabulary, classification
 * round trips and validation, subjects, raw/enriched schema validation. */
#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

static const char *RAW_ISSUE =
    "{\"schema_version\":1,\"event_type\":\"issue\",\"action\":\"opened\","
    "\"timestamp\":\"2026-11-29T10:00:00.000Z\",\"delivery_id\":\"d-1\","
    "\"repository\":{\"id\":1,\"name\":\"testrepo\",\"full_name\":\"testorg/testrepo\","
    "\"private\":false,\"owner\":{\"login\":\"testorg\",\"id\":9},\"html_url\":\"https://x\"},"
    "\"sender\":{\"login\":\"octocat\",\"id\":2,\"type\":\"User\"},"
    "\"issue\":{\"id\":10,\"number\":123,\"title\":\"Crash on start\",\"body\":null,"
    "\"state\":\"open\",\"labels\":[{\"name\":\"bug\",\"color\":\"d73a4a\"}],"
    "\"user\":{\"login\":\"octocat\",\"id\":2},\"assignees\":[],\"html_url\":\"https://x/123\","
    "\"created_at\":\"2026-11-29T09:00:00Z\",\"updated_at\":\"2026-11-29T09:00:00Z\","
    "\"is_pull_request\":false}}";

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    return v;
}

static void test_events_key_format(void **state)
{
    char key[64];
    size_t len = 0;
    (void)state;
    assert_int_equal(dai_event_key(key, sizeof(key), "testorg/testrepo", "issue", 123, &len), 0);
    assert_int_equal(len, 26);
    assert_string_equal(key, "testorg/testrepo:issue:123");
    assert_int_equal(dai_event_key(key, 10, "testorg/testrepo", "issue", 123, &len),
                     DAI_ETOOBIG);
}

static void test_events_vocabulary_round_trip(void **state)
{
    enum dai_category cat;
    enum dai_priority prio;
    enum dai_effort effort;
    enum dai_source src;
    (void)state;
    for (int i = 0; i < DAI_CAT_COUNT; i++) {
        assert_int_equal(dai_category_parse(dai_category_name((enum dai_category)i), &cat), 0);
        assert_int_equal(cat, i);
    }
    for (int i = 0; i < DAI_PRIO_COUNT; i++) {
        assert_int_equal(dai_priority_parse(dai_priority_name((enum dai_priority)i), &prio), 0);
        assert_int_equal(prio, i);
    }
    for (int i = 0; i < DAI_EFFORT_COUNT; i++) {
        assert_int_equal(dai_effort_parse(dai_effort_name((enum dai_effort)i), &effort), 0);
        assert_int_equal(effort, i);
    }
    for (int i = 0; i < DAI_SRC_COUNT; i++) {
        assert_int_equal(dai_source_parse(dai_source_name((enum dai_source)i), &src), 0);
        assert_int_equal(src, i);
    }
    assert_string_equal(dai_category_name(DAI_CAT_FEATURE_REQUEST), "feature_request");
    assert_string_equal(dai_effort_name(DAI_EFFORT_EXTRA_LARGE), "extra_large");
}

/* An unknown name (wrong case, NULL, empty) is DAI_EINVAL and leaves *out
 * as it was, so a caller can pre-set a default. */
static void test_events_parse_unknown_leaves_out(void **state)
{
    enum dai_category cat = DAI_CAT_SECURITY;
    enum dai_priority prio = DAI_PRIO_LOW;
    enum dai_effort effort = DAI_EFFORT_LARGE;
    enum dai_source src = DAI_SRC_HUMAN;
    (void)state;
    assert_int_equal(dai_category_parse("Bug", &cat), DAI_EINVAL);
    assert_int_equal(dai_category_parse(NULL, &cat), DAI_EINVAL);
    assert_int_equal(dai_category_parse("", &cat), DAI_EINVAL);
    assert_int_equal(cat, DAI_CAT_SECURITY);
    assert_int_equal(dai_priority_parse("urgent", &prio), DAI_EINVAL);
    assert_int_equal(prio, DAI_PRIO_LOW);
    assert_int_equal(dai_effort_parse("huge", &effort), DAI_EINVAL);
    assert_int_equal(effort, DAI_EFFORT_LARGE);
    assert_int_equal(dai_source_parse("bot", &src), DAI_EINVAL);
    assert_int_equal(src, DAI_SRC_HUMAN);
}

static void test_events_classification_round_trip(void **state)
{
    struct dai_classification c = {0}, back;
    char err[256];
    json_t *j;
    (void)state;

    c.category = DAI_CAT_SECURITY;
    c.priority = DAI_PRIO_CRITICAL;
    c.effort = DAI_EFFORT_LARGE;
    snprintf(c.suggested_assignee, sizeof(c.suggested_assignee), "team-security");
    c.confidence = 0.91;
    snprintf(c.reasoning, sizeof(c.reasoning), "mentions CVE");
    snprintf(c.tags[0], DAI_TAG_LEN, "cve");
    snprintf(c.tags[1], DAI_TAG_LEN, "auth");
    c.n_tags = 2;
    snprintf(c.summary, sizeof(c.summary), "Token leak in logs.");
    c.source = DAI_SRC_HUMAN;
    snprintf(c.corrected_by, sizeof(c.corrected_by), "ops");

    j = dai_classification_to_json(&c);
    assert_non_null(j);
    assert_string_equal(dai_json_str(j, "category", ""), "security");
    assert_string_equal(dai_json_str(j, "corrected_by", ""), "ops");
    assert_true(json_is_null(json_object_get(j, "note")));
    assert_int_equal(dai_classification_from_json(j, &back, err, sizeof(err)), 0);
    assert_int_equal(back.category, DAI_CAT_SECURITY);
    assert_int_equal(back.priority, DAI_PRIO_CRITICAL);
    assert_int_equal(back.effort, DAI_EFFORT_LARGE);
    assert_int_equal(back.source, DAI_SRC_HUMAN);
    assert_int_equal(back.n_tags, 2);
    assert_string_equal(back.tags[1], "auth");
    assert_string_equal(back.suggested_assignee, "team-security");
    json_decref(j);

    /* A null assignee comes back as "" and an LLM-style object without source is fine. */
    c.suggested_assignee[0] = '\0';
    c.source = DAI_SRC_LLM;
    j = dai_classification_to_json(&c);
    assert_true(json_is_null(json_object_get(j, "suggested_assignee")));
    assert_null(json_object_get(j, "corrected_by"));
    json_object_del(j, "source");
    assert_int_equal(dai_classification_from_json(j, &back, err, sizeof(err)), 0);
    assert_string_equal(back.suggested_assignee, "");
    json_decref(j);
}

static void expect_invalid(const char *doc, const char *needle)
{
    struct dai_classification c;
    char err[256] = "";
    json_t *j = load(doc);
    assert_int_equal(dai_classification_from_json(j, &c, err, sizeof(err)), DAI_ESCHEMA);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    json_decref(j);
}

static void test_events_classification_rejects_bad_values(void **state)
{
    (void)state;
    expect_invalid("{\"category\":\"bugz\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":0.5}", "category");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"urgent\",\"effort_estimate\":\"small\","
                   "\"confidence\":0.5}", "priority");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"huge\","
                   "\"confidence\":0.5}", "effort_estimate");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":1.5}", "confidence");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":\"high\"}", "confidence");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":0.5,\"tags\":[1]}", "tags");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":0.5,\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}", "tags");
    expect_invalid("{\"category\":\"bug\",\"priority\":\"low\",\"effort_estimate\":\"small\","
                   "\"confidence\":0.5,\"reasoning\":7}", "reasoning");
    expect_invalid("[]", "not an object");
}

static void test_events_classification_truncates_at_utf8_boundary(void **state)
{
    char doc[2048], big[700];
    struct dai_classification c;
    char err[128];
    json_t *j;
    (void)state;

    /* 300 two-byte characters: 600 bytes, more than the 512-byte field. */
    for (int i = 0; i < 300; i++) {
        big[2 * i] = (char)0xC3;
        big[2 * i + 1] = (char)0xA9;
    }
    big[600] = '\0';
    snprintf(doc, sizeof(doc), "{\"category\":\"bug\",\"priority\":\"low\","
             "\"effort_estimate\":\"small\",\"confidence\":0,\"reasoning\":\"%s\"}", big);
    j = load(doc);
    assert_int_equal(dai_classification_from_json(j, &c, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.reasoning) % 2, 0);
    assert_true(strlen(c.reasoning) < DAI_REASONING_LEN);
    json_decref(j);
}

static void test_events_subject_of_issue_and_pr(void **state)
{
    struct dai_subject s;
    json_t *ev = load(RAW_ISSUE);
    (void)state;

    assert_int_equal(dai_event_subject(ev, &s), 0);
    assert_string_equal(s.type, "issue");
    assert_string_equal(s.repo, "testorg/testrepo");
    assert_int_equal(s.number, 123);
    assert_string_equal(s.title, "Crash on start");
    assert_string_equal(s.body, ""); /* null body */

    /* A comment on a pull request is about the pull request. */
    json_object_set_new(json_object_get(ev, "issue"), "is_pull_request", json_true());
    assert_int_equal(dai_event_subject(ev, &s), 0);
    assert_string_equal(s.type, "pull_request");

    json_object_del(ev, "issue");
    assert_int_equal(dai_event_subject(ev, &s), DAI_ESCHEMA);
    json_decref(ev);
}

static void test_events_raw_validation(void **state)
{
    char err[256];
    json_t *ev = load(RAW_ISSUE);
    (void)state;

    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), 0);

    json_object_set_new(ev, "schema_version", json_integer(2));
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "schema_version"));
    json_object_set_new(ev, "schema_version", json_integer(1));

    json_object_set_new(ev, "event_type", json_string("push"));
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), DAI_ESCHEMA);
    json_object_set_new(ev, "event_type", json_string("issue_comment"));
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "comment"));
    json_object_set_new(ev, "event_type", json_string("issue"));

    json_object_set_new(json_object_get(ev, "issue"), "number", json_string("123"));
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "issue.number"));
    json_object_set_new(json_object_get(ev, "issue"), "number", json_integer(123));

    json_array_append_new(json_object_get(json_object_get(ev, "issue"), "labels"),
                          json_integer(5));
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "labels"));
    json_decref(ev);
}

static void test_events_enriched_build_and_validate(void **state)
{
    struct dai_classification c = {0};
    struct dai_processing_meta meta = {1764410400123LL, 42, "offline-v1", 1};
    char err[256];
    json_t *raw = load(RAW_ISSUE), *ev;
    (void)state;

    c.category = DAI_CAT_BUG;
    c.priority = DAI_PRIO_HIGH;
    c.effort = DAI_EFFORT_MEDIUM;
    c.confidence = 0.8;
    c.source = DAI_SRC_OFFLINE;
    ev = dai_enriched_event_new(raw, &c, &meta);
    assert_non_null(ev);
    assert_null(json_object_get(raw, "classification")); /* raw is left unchanged */
    assert_int_equal(dai_enriched_event_validate(ev, err, sizeof(err)), 0);
    assert_string_equal(dai_json_str(json_object_get(ev, "processing_metadata"), "processed_at",
                                     ""), "2025-11-29T10:00:00.123Z");
    assert_string_equal(dai_json_str(json_object_get(ev, "classification"), "source", ""),
                        "offline");
    /* A raw event is not a valid enriched event. */
    assert_int_equal(dai_enriched_event_validate(raw, err, sizeof(err)), DAI_ESCHEMA);
    json_decref(ev);
    json_decref(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_key_format),
        cmocka_unit_test(test_events_vocabulary_round_trip),
        cmocka_unit_test(test_events_parse_unknown_leaves_out),
        cmocka_unit_test(test_events_classification_round_trip),
        cmocka_unit_test(test_events_classification_rejects_bad_values),
        cmocka_unit_test(test_events_classification_truncates_at_utf8_boundary),
        cmocka_unit_test(test_events_subject_of_issue_and_pr),
        cmocka_unit_test(test_events_raw_validation),
        cmocka_unit_test(test_events_enriched_build_and_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
