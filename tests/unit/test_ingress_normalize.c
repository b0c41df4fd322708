/* Unit tests for the ingress's normalisation (ingress/normalize.c) and
 * form decoding (ingress/form.c): every fixture in tests/fixtures/github is
 * normalised, re-parsed, validated with common's schema check and compared
 * field by field with jansson's reading of the original payload. */
#include "../../ingress/normalize.h"
#include "support/fixture.h"

#include <dispatchai/events.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUID "72d3162e-cc78-11e3-81ab-4c9367dc0958"
#define NOW_MS 1764410400123LL /* 2025-11-29T10:00:00.123Z */

static struct ing_normalizer *norm;

static int setup(void **state)
{
    char err[128];

    (void)state;
    norm = ing_normalizer_new(err, sizeof(err));
    return norm ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ing_normalizer_free(norm);
    return 0;
}

static char *load(const char *name, size_t *len)
{
    char *buf = test_fixture_read(name, len);

    if (!buf)
        fail_msg("cannot read fixture %s", name);
    return buf;
}

static json_t *parse(const char *s, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(s, n, 0, &e);
    if (!v)
        fail_msg("not JSON: %s", e.text);
    return v;
}

/* Normalise a fixture; returns the parsed event (new) and the info. */
static json_t *normalize_fixture(const char *name, enum ing_event ev, struct ing_event_info *info,
                                 json_t **payload)
{
    struct dai_buf out = {0};
    char err[256];
    size_t len;
    char *doc = load(name, &len);
    json_t *evj;
    int rc;

    rc = ing_normalize(norm, ev, doc, len, GUID, NOW_MS, &out, info, err, sizeof(err));
    if (rc)
        fail_msg("%s: %s (%d)", name, err, rc);
    evj = parse(out.data, out.len);
    if (dai_raw_event_validate(evj, err, sizeof(err)))
        fail_msg("%s: output does not validate: %s\n%s", name, err, out.data);
    *payload = parse(doc, len);
    free(doc);
    dai_buf_free(&out);
    return evj;
}

static void same(const json_t *a, const json_t *b, const char *what)
{
    if (!json_equal((json_t *)a, (json_t *)b)) {
        char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
        fail_msg("%s differs: %s vs %s", what, sa ? sa : "(absent)", sb ? sb : "(absent)");
    }
}

static const json_t *get(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

/* The subject object of our event against GitHub's object. */
static void check_subject(const json_t *ours, const json_t *gh, bool pr)
{
    static const char *const copied[] = {"id", "number", "title", "body", "state", "html_url",
                                         "created_at", "updated_at"};
    size_t i;
    const json_t *l;

    for (i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
        same(get(ours, copied[i]), get(gh, copied[i]), copied[i]);
    same(get(get(ours, "user"), "login"), get(get(gh, "user"), "login"), "user.login");
    same(get(get(ours, "user"), "id"), get(get(gh, "user"), "id"), "user.id");
    assert_int_equal(json_array_size(get(ours, "labels")), json_array_size(get(gh, "labels")));
    json_array_foreach(get(gh, "labels"), i, l) {
        const json_t *o = json_array_get(get(ours, "labels"), i);
        same(get(o, "name"), get(l, "name"), "label name");
        same(get(o, "color"), get(l, "color"), "label color");
        assert_int_equal(json_object_size(o), 2);
    }
    assert_int_equal(json_array_size(get(ours, "assignees")),
                     json_array_size(get(gh, "assignees")));
    json_array_foreach(get(gh, "assignees"), i, l) {
        const json_t *o = json_array_get(get(ours, "assignees"), i);
        same(get(o, "login"), get(l, "login"), "assignee login");
        same(get(o, "id"), get(l, "id"), "assignee id");
    }
    if (pr) {
        same(get(ours, "draft"), get(gh, "draft"), "draft");
        same(get(ours, "merged"), get(gh, "merged"), "merged");
        same(get(ours, "head_ref"), get(get(gh, "head"), "ref"), "head_ref");
        same(get(ours, "base_ref"), get(get(gh, "base"), "ref"), "base_ref");
        assert_null(get(ours, "is_pull_request"));
    } else {
        assert_true(json_is_boolean(get(ours, "is_pull_request")));
        assert_int_equal(json_is_true(get(ours, "is_pull_request")),
                         json_is_object(get(gh, "pull_request")));
    }
}

static void check_common(const json_t *ev, const json_t *gh, const char *event_type)
{
    const json_t *r = get(ev, "repository"), *gr = get(gh, "repository");

    assert_int_equal(json_integer_value(get(ev, "schema_version")), 1);
    assert_string_equal(json_string_value(get(ev, "event_type")), event_type);
    same(get(ev, "action"), get(gh, "action"), "action");
    assert_string_equal(json_string_value(get(ev, "timestamp")), "2025-11-29T10:00:00.123Z");
    assert_string_equal(json_string_value(get(ev, "delivery_id")), GUID);
    same(get(r, "id"), get(gr, "id"), "repository.id");
    same(get(r, "name"), get(gr, "name"), "repository.name");
    same(get(r, "full_name"), get(gr, "full_name"), "repository.full_name");
    same(get(r, "private"), get(gr, "private"), "repository.private");
    same(get(r, "html_url"), get(gr, "html_url"), "repository.html_url");
    same(get(get(r, "owner"), "login"), get(get(gr, "owner"), "login"), "owner.login");
    same(get(get(r, "owner"), "id"), get(get(gr, "owner"), "id"), "owner.id");
    same(get(get(ev, "sender"), "login"), get(get(gh, "sender"), "login"), "sender.login");
    same(get(get(ev, "sender"), "id"), get(get(gh, "sender"), "id"), "sender.id");
    same(get(get(ev, "sender"), "type"), get(get(gh, "sender"), "type"), "sender.type");
}

static void test_ingress_normalize_issues_fixtures(void **state)
{
    static const char *const names[] = {
        "issues.opened.json",   "issues.edited.json",  "issues.closed.json",
        "issues.reopened.json", "issues.labeled.json", "issues.assigned.json",
        "issues.opened.null_body.json"};
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct ing_event_info info;
        json_t *gh, *ev = normalize_fixture(names[i], ING_EV_ISSUES, &info, &gh);
        char key[64];

        check_common(ev, gh, "issue");
        check_subject(get(ev, "issue"), get(gh, "issue"), false);
        assert_null(get(ev, "pull_request"));
        assert_null(get(ev, "comment"));
        snprintf(key, sizeof(key), "testorg/testrepo:issue:%lld",
                 json_integer_value(get(get(gh, "issue"), "number")));
        assert_string_equal(info.key, key);
        assert_int_equal(info.key_len, strlen(key));
        assert_string_equal(info.event_type, "issue");
        assert_string_equal(info.action, json_string_value(get(gh, "action")));
        json_decref(ev);
        json_decref(gh);
    }
}

/* GitHub's pinned/unpinned deliveries carry no issue.state: accepted, and the
 * event simply has no state (not a made-up one). */
static void test_ingress_normalize_pinned_without_state(void **state)
{
    static const char *const names[] = {"issues.pinned.json", "issues.unpinned.json"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct ing_event_info info;
        json_t *gh, *ev = normalize_fixture(names[i], ING_EV_ISSUES, &info, &gh);

        assert_null(get(get(gh, "issue"), "state"));
        check_common(ev, gh, "issue");
        assert_null(get(get(ev, "issue"), "state"));
        same(get(get(ev, "issue"), "title"), get(get(gh, "issue"), "title"), "title");
        assert_string_equal(info.key, "testorg/testrepo:issue:123");
        json_decref(ev);
        json_decref(gh);
    }
}

/* Members GitHub leaves out of some actions are optional; absent lists are
 * empty. */
static void test_ingress_normalize_optional_members(void **state)
{
    struct dai_buf out = {0};
    struct ing_event_info info;
    char err[160];
    const char *doc = "{\"action\":\"pinned\",\"repository\":{\"id\":1,\"name\":\"r\","
                      "\"full_name\":\"o/r\",\"private\":false,\"owner\":{\"login\":\"o\","
                      "\"id\":2}},\"sender\":{\"login\":\"s\",\"id\":3},\"issue\":{\"id\":5,"
                      "\"number\":6,\"title\":\"t\",\"user\":{\"login\":\"u\",\"id\":4},"
                      "\"html_url\":\"h\",\"created_at\":\"c\",\"updated_at\":null}}";
    json_t *ev, *issue;

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, doc, strlen(doc), GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    ev = parse(out.data, out.len);
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), 0);
    issue = (json_t *)get(ev, "issue");
    assert_null(get(issue, "state"));
    assert_int_equal(json_array_size(get(issue, "labels")), 0);
    assert_true(json_is_array(get(issue, "labels")));
    assert_true(json_is_array(get(issue, "assignees")));
    json_decref(ev);
    dai_buf_free(&out);
}

/* NUL in title and body (\u0000) is written as U+FFFD; an escaped backslash
 * before "u0000" is text and stays. */
static void test_ingress_normalize_nul_becomes_replacement_char(void **state)
{
    struct dai_buf out = {0};
    struct ing_event_info info;
    char err[160];
    const char *doc = "{\"action\":\"opened\",\"repository\":{\"id\":1,\"name\":\"r\","
                      "\"full_name\":\"o/r\",\"private\":false,\"owner\":{\"login\":\"o\","
                      "\"id\":2}},\"sender\":{\"login\":\"s\",\"id\":3},\"issue\":{\"id\":5,"
                      "\"number\":6,\"title\":\"a\\u0000b\",\"body\":\"\\\\u0000 \\u0000\","
                      "\"user\":{\"login\":\"u\",\"id\":4},\"state\":\"open\","
                      "\"html_url\":\"h\",\"created_at\":\"c\",\"updated_at\":null}}";
    json_t *ev, *issue;

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, doc, strlen(doc), GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    ev = parse(out.data, out.len);
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), 0);
    issue = (json_t *)get(ev, "issue");
    assert_string_equal(json_string_value(get(issue, "title")), "a\xef\xbf\xbd" "b");
    assert_string_equal(json_string_value(get(issue, "body")), "\\u0000 \xef\xbf\xbd");
    json_decref(ev);
    dai_buf_free(&out);
}

static void test_ingress_normalize_null_body_stays_null(void **state)
{
    struct ing_event_info info;
    json_t *gh, *ev = normalize_fixture("issues.opened.null_body.json", ING_EV_ISSUES, &info, &gh);

    (void)state;
    assert_true(json_is_null(get(get(ev, "issue"), "body")));
    assert_int_equal(json_array_size(get(get(ev, "issue"), "labels")), 0);
    assert_string_equal(info.key, "testorg/testrepo:issue:125");
    json_decref(ev);
    json_decref(gh);
}

static void test_ingress_normalize_edited_lists_changes(void **state)
{
    struct ing_event_info info;
    json_t *gh, *ev = normalize_fixture("issues.edited.json", ING_EV_ISSUES, &info, &gh);
    const json_t *ch = get(ev, "changes");

    (void)state;
    assert_int_equal(json_array_size(ch), 2);
    assert_string_equal(json_string_value(json_array_get(ch, 0)), "title");
    assert_string_equal(json_string_value(json_array_get(ch, 1)), "body");
    json_decref(ev);
    json_decref(gh);

    ev = normalize_fixture("issues.opened.json", ING_EV_ISSUES, &info, &gh);
    assert_null(get(ev, "changes"));
    json_decref(ev);
    json_decref(gh);
}

static void test_ingress_normalize_comment_on_issue(void **state)
{
    struct ing_event_info info;
    json_t *gh, *ev = normalize_fixture("issue_comment.created.json", ING_EV_ISSUE_COMMENT, &info,
                                        &gh);
    const json_t *c = get(ev, "comment"), *gc = get(gh, "comment");

    (void)state;
    check_common(ev, gh, "issue_comment");
    check_subject(get(ev, "issue"), get(gh, "issue"), false);
    same(get(c, "id"), get(gc, "id"), "comment.id");
    /* This fixture writes non-ASCII as \u escapes (with a surrogate pair). */
    same(get(c, "body"), get(gc, "body"), "comment.body");
    assert_non_null(strstr(json_string_value(get(c, "body")), "\xf0\x9f\x91\x8d"));
    same(get(c, "html_url"), get(gc, "html_url"), "comment.html_url");
    same(get(c, "created_at"), get(gc, "created_at"), "comment.created_at");
    same(get(c, "updated_at"), get(gc, "updated_at"), "comment.updated_at");
    same(get(get(c, "user"), "login"), get(get(gc, "user"), "login"), "comment.user.login");
    /* A comment is keyed by the issue it belongs to. */
    assert_string_equal(info.key, "testorg/testrepo:issue:123");
    assert_string_equal(info.event_type, "issue_comment");
    json_decref(ev);
    json_decref(gh);
}

static void test_ingress_normalize_comment_on_pull_request(void **state)
{
    struct ing_event_info info;
    struct dai_subject subj;
    json_t *gh, *ev = normalize_fixture("issue_comment.created.pull_request.json",
                                        ING_EV_ISSUE_COMMENT, &info, &gh);
    char key[64];
    size_t klen = 0;

    (void)state;
    check_common(ev, gh, "issue_comment");
    check_subject(get(ev, "issue"), get(gh, "issue"), false);
    assert_true(json_is_true(get(get(ev, "issue"), "is_pull_request")));
    assert_string_equal(info.key, "testorg/testrepo:pull_request:124");
    /* Same key as common's reading of the event. */
    assert_int_equal(dai_event_subject(ev, &subj), 0);
    assert_int_equal(dai_event_key(key, sizeof(key), subj.repo, subj.type, subj.number, &klen),
                     0);
    assert_int_equal(klen, strlen(info.key));
    assert_string_equal(key, info.key);
    json_decref(ev);
    json_decref(gh);
}

static void test_ingress_normalize_pull_request_fixtures(void **state)
{
    static const char *const names[] = {"pull_request.opened.json",
                                        "pull_request.synchronize.json",
                                        "pull_request.closed.json"};
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct ing_event_info info;
        json_t *gh, *ev = normalize_fixture(names[i], ING_EV_PULL_REQUEST, &info, &gh);

        check_common(ev, gh, "pull_request");
        check_subject(get(ev, "pull_request"), get(gh, "pull_request"), true);
        assert_null(get(ev, "issue"));
        assert_string_equal(info.key, "testorg/testrepo:pull_request:124");
        json_decref(ev);
        json_decref(gh);
    }
}

static void test_ingress_normalize_output_is_small(void **state)
{
    struct dai_buf out = {0};
    struct ing_event_info info;
    char err[128];
    size_t len;
    char *doc = load("pull_request.opened.json", &len);

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_PULL_REQUEST, doc, len, GUID, NOW_MS, &out, &info,
                                   err, sizeof(err)), 0);
    /* The event keeps what triage needs, not GitHub's ~28 KB of URLs. */
    assert_true(out.len < len / 5);
    free(doc);
    dai_buf_free(&out);
}

/* Run the normaliser on a literal and return its result code and message. */
static int norm_str(enum ing_event ev, const char *doc, char *err, size_t errlen)
{
    struct dai_buf out = {0};
    struct ing_event_info info;
    int rc = ing_normalize(norm, ev, doc, strlen(doc), GUID, NOW_MS, &out, &info, err, errlen);
    dai_buf_free(&out);
    return rc;
}

#define REPO "\"repository\":{\"id\":1,\"name\":\"r\",\"full_name\":\"o/r\",\"private\":false," \
             "\"owner\":{\"login\":\"o\",\"id\":2}}"
#define SENDER "\"sender\":{\"login\":\"s\",\"id\":3}"
#define USER "\"user\":{\"login\":\"u\",\"id\":4}"
#define ISSUE_OK "\"issue\":{\"id\":5,\"number\":6,\"title\":\"t\",\"state\":\"open\"," \
                 "\"labels\":[],\"assignees\":[]," USER ",\"html_url\":\"h\"," \
                 "\"created_at\":\"c\",\"updated_at\":null}"

static void test_ingress_normalize_minimal_and_missing_fields(void **state)
{
    char err[160];

    (void)state;
    /* Minimal valid payload: absent body becomes null. */
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," SENDER ","
                              ISSUE_OK "}", err, sizeof(err)), 0);
    assert_int_equal(norm_str(ING_EV_ISSUES, "{" REPO "," SENDER "," ISSUE_OK "}", err,
                              sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "action"));
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," SENDER "," ISSUE_OK "}",
                              err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "repository"));
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," ISSUE_OK "}", err,
                              sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "sender"));
    /* issue_comment needs a comment; pull_request needs a pull_request. */
    assert_int_equal(norm_str(ING_EV_ISSUE_COMMENT, "{\"action\":\"created\"," REPO "," SENDER
                              "," ISSUE_OK "}", err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "comment"));
    assert_int_equal(norm_str(ING_EV_PULL_REQUEST, "{\"action\":\"opened\"," REPO "," SENDER
                              "," ISSUE_OK "}", err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "pull_request"));
    /* Wrong types. */
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," SENDER ","
                              "\"issue\":{\"id\":5,\"number\":\"6\"}}", err, sizeof(err)),
                     DAI_ESCHEMA);
    assert_non_null(strstr(err, "issue.number"));
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," SENDER ","
                              "\"issue\":{\"id\":5.5,\"number\":6}}", err, sizeof(err)),
                     DAI_ESCHEMA);
    assert_non_null(strstr(err, "issue.id"));
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," SENDER ","
                              "\"issue\":{\"id\":5,\"number\":6,\"title\":\"t\",\"state\":\"open\","
                              "\"labels\":[{\"color\":\"x\"}],\"assignees\":[]," USER "}}",
                              err, sizeof(err)), DAI_ESCHEMA);
    assert_non_null(strstr(err, "labels[].name"));
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"," REPO "," SENDER ","
                              "\"issue\":{\"id\":5,\"number\":6,\"title\":\"t\",\"state\":\"open\","
                              "\"labels\":{},\"assignees\":[]," USER "}}",
                              err, sizeof(err)), DAI_ESCHEMA);
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\",\"repository\":{\"id\":1,"
                              "\"name\":\"r\",\"full_name\":\"\",\"private\":false,\"owner\":"
                              "{\"login\":\"o\",\"id\":2}}," SENDER "," ISSUE_OK "}", err,
                              sizeof(err)), DAI_ESCHEMA);
}

/* Write-back needs the App installation and the label a labeled/unlabeled
 * action is about; both are kept, and left out when absent or mistyped. */
static void test_ingress_normalize_installation_and_label(void **state)
{
    static const char doc[] = "{\"action\":\"labeled\"," REPO "," SENDER "," ISSUE_OK
                              ",\"label\":{\"id\":9,\"name\":\"priority: high\","
                              "\"color\":\"ff0000\"},\"installation\":{\"id\":4242,"
                              "\"node_id\":\"MDIz\"}}";
    static const char bad[] = "{\"action\":\"opened\"," REPO "," SENDER "," ISSUE_OK
                              ",\"installation\":{\"id\":\"x\"}}";
    struct dai_buf out = {0};
    struct ing_event_info info;
    char err[160];
    json_t *ev, *gh;

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, doc, sizeof(doc) - 1, GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    ev = parse(out.data, out.len);
    assert_int_equal(dai_raw_event_validate(ev, err, sizeof(err)), 0);
    assert_int_equal(json_integer_value(dai_json_path(ev, "installation.id")), 4242);
    assert_null(dai_json_path(ev, "installation.node_id"));
    assert_string_equal(json_string_value(dai_json_path(ev, "label.name")), "priority: high");
    assert_null(dai_json_path(ev, "label.color"));
    json_decref(ev);
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, bad, sizeof(bad) - 1, GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    ev = parse(out.data, out.len);
    assert_null(json_object_get(ev, "installation"));
    assert_null(json_object_get(ev, "label"));
    json_decref(ev);
    /* The fixture of a person's label: no installation (a repository hook). */
    ev = normalize_fixture("issues.labeled.json", ING_EV_ISSUES, &info, &gh);
    assert_string_equal(json_string_value(dai_json_path(ev, "label.name")), "area: ui");
    assert_null(json_object_get(ev, "installation"));
    json_decref(ev);
    json_decref(gh);
    dai_buf_free(&out);
}

static void test_ingress_normalize_rejects_non_json(void **state)
{
    char err[160];

    (void)state;
    assert_int_equal(norm_str(ING_EV_ISSUES, "", err, sizeof(err)), DAI_EPARSE);
    assert_int_equal(norm_str(ING_EV_ISSUES, "[1]", err, sizeof(err)), DAI_EPARSE);
    assert_int_equal(norm_str(ING_EV_ISSUES, "{\"action\":\"opened\"", err, sizeof(err)),
                     DAI_EPARSE);
    assert_non_null(strstr(err, "offset"));
    assert_int_equal(norm_str(ING_EV_PING, "{}", err, sizeof(err)), DAI_EINVAL);
    assert_int_equal(norm_str(ING_EV_OTHER, "{}", err, sizeof(err)), DAI_EINVAL);
}

static void test_ingress_normalize_escaped_full_name_in_key(void **state)
{
    struct dai_buf out = {0};
    struct ing_event_info info;
    char err[160];
    const char *doc = "{\"action\":\"op\\u0065ned\\n\",\"repository\":{\"id\":1,\"name\":\"r\","
                      "\"full_name\":\"o\\/r\",\"private\":true,\"owner\":{\"login\":\"o\","
                      "\"id\":2}}," SENDER "," ISSUE_OK "}";
    json_t *ev;

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, doc, strlen(doc), GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    assert_string_equal(info.key, "o/r:issue:6");
    assert_string_equal(info.action, "opened?"); /* printable for the log line */
    ev = parse(out.data, out.len);
    assert_string_equal(json_string_value(get(ev, "action")), "opened\n");
    assert_true(json_is_true(get(get(ev, "repository"), "private")));
    assert_true(json_is_null(get(get(ev, "issue"), "body")));
    json_decref(ev);
    dai_buf_free(&out);
}

static void test_ingress_normalize_output_cap(void **state)
{
    struct dai_buf out = {.max = 64};
    struct ing_event_info info;
    char err[160];
    size_t len;
    char *doc = load("issues.opened.json", &len);

    (void)state;
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, doc, len, GUID, NOW_MS, &out, &info, err,
                                   sizeof(err)), DAI_ETOOBIG);
    free(doc);
    dai_buf_free(&out);
}

static void test_ingress_normalize_event_names(void **state)
{
    (void)state;
    assert_int_equal(ing_event_parse("issues"), ING_EV_ISSUES);
    assert_int_equal(ing_event_parse("issue_comment"), ING_EV_ISSUE_COMMENT);
    assert_int_equal(ing_event_parse("pull_request"), ING_EV_PULL_REQUEST);
    assert_int_equal(ing_event_parse("ping"), ING_EV_PING);
    assert_int_equal(ing_event_parse("push"), ING_EV_OTHER);
    assert_int_equal(ing_event_parse("other"), ING_EV_OTHER);
    assert_int_equal(ing_event_parse(NULL), ING_EV_OTHER);
    assert_int_equal(ing_event_parse("Issues"), ING_EV_OTHER);
    assert_string_equal(ing_event_name(ING_EV_PULL_REQUEST), "pull_request");
}

static void test_ingress_normalize_guid_and_content_type(void **state)
{
    char long_guid[80];

    (void)state;
    assert_true(ing_guid_valid(GUID));
    assert_true(ing_guid_valid("abc_DEF.1"));
    assert_false(ing_guid_valid(""));
    assert_false(ing_guid_valid(NULL));
    assert_false(ing_guid_valid("a b"));
    assert_false(ing_guid_valid("a\"b"));
    assert_false(ing_guid_valid("a\nb"));
    memset(long_guid, 'a', 64);
    long_guid[64] = '\0';
    assert_true(ing_guid_valid(long_guid));
    long_guid[64] = 'a';
    long_guid[65] = '\0';
    assert_false(ing_guid_valid(long_guid));

    assert_true(ing_content_type_is("application/json", "application/json"));
    assert_true(ing_content_type_is("Application/JSON; charset=utf-8", "application/json"));
    assert_true(ing_content_type_is(" application/json ;x", "application/json"));
    assert_false(ing_content_type_is("application/jsonx", "application/json"));
    assert_false(ing_content_type_is("text/plain", "application/json"));
    assert_false(ing_content_type_is(NULL, "application/json"));
}

/*---- form bodies ------------------------------------------------------------*/

static char *urlencode(const char *s, size_t n, size_t *outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = malloc(3 * n + 16), *w = o;

    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *w++ = (char)c;
        } else if (c == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *outlen = (size_t)(w - o);
    return o;
}

static void test_ingress_normalize_form_round_trip(void **state)
{
    struct dai_buf dec = {0}, out = {0};
    struct ing_event_info info;
    char err[160];
    size_t len, elen;
    char *doc = load("issues.opened.json", &len);
    char *enc = urlencode(doc, len, &elen);
    char *body = malloc(elen + 32);

    (void)state;
    assert_non_null(body);
    memcpy(body, "payload=", 8);
    memcpy(body + 8, enc, elen);
    assert_int_equal(ing_form_payload(body, elen + 8, &dec, err, sizeof(err)), 0);
    assert_int_equal(dec.len, len);
    assert_memory_equal(dec.data, doc, len);
    assert_int_equal(ing_normalize(norm, ING_EV_ISSUES, dec.data, dec.len, GUID, NOW_MS, &out,
                                   &info, err, sizeof(err)), 0);
    assert_string_equal(info.key, "testorg/testrepo:issue:123");
    free(doc);
    free(enc);
    free(body);
    dai_buf_free(&dec);
    dai_buf_free(&out);
}

static void test_ingress_normalize_form_fields(void **state)
{
    struct dai_buf dec = {0};
    char err[160];

    (void)state;
#define FORM(s) ing_form_payload((s), strlen(s), &dec, err, sizeof(err))
    assert_int_equal(FORM("a=1&payload=%7B%22x%22%3A+1%7d&b=2"), 0);
    assert_string_equal(dec.data, "{\"x\": 1}");
    assert_int_equal(FORM("payload="), 0);
    assert_int_equal(dec.len, 0);
    assert_int_equal(FORM("payload=%zz"), DAI_EPARSE);
    assert_non_null(strstr(err, "escape"));
    assert_int_equal(FORM("payload=%4"), DAI_EPARSE);
    assert_int_equal(FORM("payload=abc%"), DAI_EPARSE);
    assert_int_equal(FORM("payloadx=1"), DAI_EPARSE);
    assert_non_null(strstr(err, "no payload"));
    assert_int_equal(FORM(""), DAI_EPARSE);
    assert_int_equal(FORM("payload=1&payload=2"), DAI_EPARSE);
    assert_non_null(strstr(err, "more than one"));
    assert_int_equal(FORM("x=%ZZ&payload=%41"), 0); /* other fields are not decoded */
    assert_string_equal(dec.data, "A");
#undef FORM
    dai_buf_free(&dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_normalize_issues_fixtures),
        cmocka_unit_test(test_ingress_normalize_pinned_without_state),
        cmocka_unit_test(test_ingress_normalize_optional_members),
        cmocka_unit_test(test_ingress_normalize_nul_becomes_replacement_char),
        cmocka_unit_test(test_ingress_normalize_null_body_stays_null),
        cmocka_unit_test(test_ingress_normalize_edited_lists_changes),
        cmocka_unit_test(test_ingress_normalize_comment_on_issue),
        cmocka_unit_test(test_ingress_normalize_comment_on_pull_request),
        cmocka_unit_test(test_ingress_normalize_pull_request_fixtures),
        cmocka_unit_test(test_ingress_normalize_output_is_small),
        cmocka_unit_test(test_ingress_normalize_minimal_and_missing_fields),
        cmocka_unit_test(test_ingress_normalize_installation_and_label),
        cmocka_unit_test(test_ingress_normalize_rejects_non_json),
        cmocka_unit_test(test_ingress_normalize_escaped_full_name_in_key),
        cmocka_unit_test(test_ingress_normalize_output_cap),
        cmocka_unit_test(test_ingress_normalize_event_names),
        cmocka_unit_test(test_ingress_normalize_guid_and_content_type),
        cmocka_unit_test(test_ingress_normalize_form_round_trip),
        cmocka_unit_test(test_ingress_normalize_form_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
