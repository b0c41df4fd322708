/* Unit tests for gateway/store.c and gateway/view.c: applying enriched
 * events, every list filter checked against a brute-force reference, stable
 * cursor pagination while issues are updated between pages, detail with
 * history, the human-correction rule, deletions, body cuts, the event cap,
 * eviction, stats and repos, and rejected events. */
#include "../../gateway/match.h"
#include "../../gateway/query.h"
#include "../../gateway/store.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/events.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define BASE_MS 1767000000000LL

struct evspec {
    const char *repo;
    int number;
    const char *type;   /* "issue" | "pull_request" */
    const char *title;
    const char *state;
    const char *category, *priority, *team, *source;
    long long ms;
    const char *action;
    const char *body;
    const char *corrected_by;
};

static char *make_event(const struct evspec *e)
{
    char ts[32], created[32];
    const char *type = e->type ? e->type : "issue";
    bool pr = !strcmp(type, "pull_request");
    json_t *subj, *ev, *cls;
    char *out;
    char url[256], title[128];

    dai_rfc3339_ms(e->ms, ts);
    dai_rfc3339_ms(e->ms - 60000, created);
    snprintf(url, sizeof(url), "https://github.com/%s/issues/%d", e->repo, e->number);
    snprintf(title, sizeof(title), "Issue %d", e->number);
    subj = json_pack("{s:i,s:i,s:s,s:s,s:s,s:[],s:{s:s,s:i},s:[],s:s,s:s,s:s,s:b}", "id",
                     1000 + e->number, "number", e->number, "title", e->title ? e->title : title,
                     "body", e->body ? e->body : "body text", "state",
                     e->state ? e->state : "open", "labels", "user", "login", "octocat", "id", 1,
                     "assignees", "html_url", url, "created_at", created, "updated_at", created,
                     "is_pull_request", 0);
    cls = json_pack("{s:s,s:s,s:s,s:s?,s:f,s:s,s:[],s:s,s:s}", "category",
                    e->category ? e->category : "bug", "priority",
                    e->priority ? e->priority : "high", "effort_estimate", "small",
                    "suggested_assignee", e->team, "confidence", 0.75, "reasoning", "because",
                    "tags", "summary", "", "source", e->source ? e->source : "llm");
    if (e->corrected_by)
        json_object_set_new(cls, "corrected_by", json_string(e->corrected_by));
    ev = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s,s:b,s:{s:s,s:i}},s:{s:s,s:i},"
                   "s:o,s:o,s:{s:s,s:i,s:s,s:i}}",
                   "schema_version", 1, "event_type", pr ? "pull_request" : "issue", "action",
                   e->action ? e->action : "opened", "timestamp", ts, "delivery_id", "d-1",
                   "repository", "id", 7, "name", "x", "full_name", e->repo, "private", 0, "owner",
                   "login", "o", "id", 2, "sender", "login", "octocat", "id", 1,
                   pr ? "pull_request" : "issue", subj, "classification", cls,
                   "processing_metadata", "processed_at", ts, "processing_time_ms", 5,
                   "model_version", "offline-v1", "attempts", 1);
    assert_non_null(ev);
    out = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return out;
}

static int apply(struct gw_store *s, const struct evspec *e, struct gw_applied *a)
{
    char *json = make_event(e), err[256];
    struct gw_applied tmp;
    int rc = gw_store_apply(s, json, strlen(json), a ? a : &tmp, err, sizeof(err));

    free(json);
    return rc;
}

static struct gw_store *new_store(size_t max_body, size_t max_event, unsigned hist,
                                  size_t max_issues)
{
    struct gw_store_limits lim = {max_body, max_event, hist, max_issues};
    char err[128];
    struct gw_store *s = gw_store_new(&lim, err, sizeof(err));

    assert_non_null(s);
    return s;
}

static json_t *list(struct gw_store *s, const char *const *args)
{
    struct gw_query q;
    struct dai_buf b = {0};
    char err[200];
    json_t *out;

    gw_query_init(&q);
    for (size_t i = 0; args && args[i]; i += 2)
        assert_int_equal(gw_query_arg(&q, args[i], args[i + 1], err, sizeof(err)), 0);
    assert_int_equal(gw_store_list(s, &q, &b), 0);
    out = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(out);
    gw_query_clear(&q);
    dai_buf_free(&b);
    return out;
}

static int num_of(const json_t *item)
{
    const json_t *subj = json_object_get(item, "issue");

    if (!subj)
        subj = json_object_get(item, "pull_request");
    return (int)json_integer_value(json_object_get(subj, "number"));
}

/* ---- a fixed population for filter checks ---- */

static const char *const REPOS[] = {"acme/widgets", "acme/gadgets", "Other/Thing"};
static const char *const CATS[] = {"bug", "feature_request", "question", "security"};
static const char *const PRIOS[] = {"critical", "high", "medium", "low"};
static const char *const TEAMS[] = {"team-backend", "team-frontend", NULL};
#define POP 60

static struct evspec pop(int i)
{
    static char titles[POP + 1][64];
    struct evspec e = {0};

    snprintf(titles[i], sizeof(titles[i]), "%s problem number %d",
             i % 5 == 0 ? "Crash" : "Slow", i);
    e.repo = REPOS[i % 3];
    e.number = i;
    e.type = i % 4 == 0 ? "pull_request" : "issue";
    e.title = titles[i];
    e.state = i % 3 == 1 ? "closed" : "open";
    e.category = CATS[i % 4];
    e.priority = PRIOS[(i / 2) % 4];
    e.team = TEAMS[i % 3];
    e.ms = BASE_MS + (i % 7) * 1000 + i; /* some near-ties, none equal */
    return e;
}

static bool pop_match(int i, const char *repo, const char *cat, const char *prio,
                      const char *state, const char *type, const char *team, const char *q,
                      long long since)
{
    struct evspec e = pop(i);

    if (repo && strcasecmp(e.repo, repo))
        return false;
    if (cat && strcmp(e.category, cat))
        return false;
    if (prio && strcmp(e.priority, prio))
        return false;
    if (state && strcmp(e.state, state))
        return false;
    if (type && strcmp(e.type, type))
        return false;
    if (team && (!e.team || strcmp(e.team, team)))
        return false;
    if (q && !strcasestr(e.title, q))
        return false;
    if (since >= 0 && e.ms <= since)
        return false;
    return true;
}

static void check_filter(struct gw_store *s, const char *const *args, const char *repo,
                         const char *cat, const char *prio, const char *state, const char *type,
                         const char *team, const char *q, long long since)
{
    json_t *r = list(s, args);
    json_t *items = json_object_get(r, "items");
    size_t expect = 0, i;
    long long prev = -1;
    json_t *it;

    for (int k = 1; k <= POP; k++)
        expect += pop_match(k, repo, cat, prio, state, type, team, q, since);
    assert_int_equal(json_array_size(items), expect);
    json_array_foreach(items, i, it) {
        int n = num_of(it);
        long long ms = pop(n).ms;

        assert_true(pop_match(n, repo, cat, prio, state, type, team, q, since));
        if (prev >= 0)
            assert_true(ms <= prev); /* newest first */
        prev = ms;
    }
    json_decref(r);
}

static void test_gw_store_filters_match_reference(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 5, 1000000);
    char since[32];

    (void)state;
    for (int i = 1; i <= POP; i++) {
        struct evspec e = pop(i);
        assert_int_equal(apply(s, &e, NULL), 0);
    }
    {
        const char *a[] = {"limit", "500", NULL};
        check_filter(s, a, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "repo", "ACME/Widgets", NULL};
        check_filter(s, a, "acme/widgets", NULL, NULL, NULL, NULL, NULL, NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "category", "security", NULL};
        check_filter(s, a, NULL, "security", NULL, NULL, NULL, NULL, NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "priority", "critical", "state", "open", NULL};
        check_filter(s, a, NULL, NULL, "critical", "open", NULL, NULL, NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "type", "pull_request", NULL};
        check_filter(s, a, NULL, NULL, NULL, NULL, "pull_request", NULL, NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "assignee", "TEAM-frontend", NULL};
        check_filter(s, a, NULL, NULL, NULL, NULL, NULL, "team-frontend", NULL, -1);
    }
    {
        const char *a[] = {"limit", "500", "q", "cRaSh", "state", "closed", NULL};
        check_filter(s, a, NULL, NULL, NULL, "closed", NULL, NULL, "crash", -1);
    }
    dai_rfc3339_ms(BASE_MS + 4000, since);
    {
        const char *a[] = {"limit", "500", "since", since, NULL};
        check_filter(s, a, NULL, NULL, NULL, NULL, NULL, NULL, NULL, BASE_MS + 4000);
    }
    {
        /* Exactly an issue's time: "after" excludes that issue itself. */
        char exact[32];
        const char *a[] = {"limit", "500", "since", exact, NULL};

        snprintf(exact, sizeof(exact), "%lld", pop(12).ms);
        check_filter(s, a, NULL, NULL, NULL, NULL, NULL, NULL, NULL, pop(12).ms);
    }
    {
        const char *a[] = {"limit", "500", "repo", "nobody/nothing", NULL};
        check_filter(s, a, "nobody/nothing", NULL, NULL, NULL, NULL, NULL, NULL, -1);
    }
    {
        /* assignee=none: issues without a suggested team */
        const char *a[] = {"limit", "500", "assignee", "none", NULL};
        json_t *r = list(s, a);
        size_t i;
        json_t *it;

        assert_int_equal(json_array_size(json_object_get(r, "items")), POP / 3);
        json_array_foreach(json_object_get(r, "items"), i, it)
            assert_true(json_is_null(json_object_get(json_object_get(it, "classification"),
                                                     "suggested_assignee")));
        json_decref(r);
    }
    gw_store_free(s);
}

static void test_gw_store_pagination_is_stable_under_updates(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 5, 1000000);
    bool seen[POP + 1] = {false}, updated[POP + 1] = {false};
    char cursor[GW_CURSOR_MAX] = "";
    int pages = 0, upd = 0;

    (void)state;
    for (int i = 1; i <= POP; i++) {
        struct evspec e = pop(i);
        assert_int_equal(apply(s, &e, NULL), 0);
    }
    for (;;) {
        const char *a[] = {"limit", "7", cursor[0] ? "cursor" : NULL, cursor, NULL};
        json_t *r = list(s, a), *it;
        const json_t *nc = json_object_get(r, "next_cursor");
        size_t i;

        json_array_foreach(json_object_get(r, "items"), i, it) {
            int n = num_of(it);

            assert_false(seen[n]); /* never twice */
            seen[n] = true;
        }
        pages++;
        /* Between pages, bump an unseen and a seen issue to the top. */
        for (int k = 1 + pages; k <= POP; k += 11) {
            if (!seen[k] && !updated[k]) {
                struct evspec e = pop(k);

                e.ms = BASE_MS + 100000 + upd++;
                assert_int_equal(apply(s, &e, NULL), 0);
                updated[k] = true;
                break;
            }
        }
        if (json_is_null(nc)) {
            assert_true(json_array_size(json_object_get(r, "items")) <= 7);
            json_decref(r);
            break;
        }
        assert_int_equal(json_array_size(json_object_get(r, "items")), 7);
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(nc));
        json_decref(r);
        assert_true(pages < 50);
    }
    /* Everything not moved above the cursor during the walk was seen. */
    for (int k = 1; k <= POP; k++)
        if (!updated[k])
            assert_true(seen[k]);
    assert_true(upd > 0);
    gw_store_free(s);
}

static json_t *detail(struct gw_store *s, const char *repo, int n)
{
    struct dai_buf b = {0};
    json_t *d;

    assert_int_equal(gw_store_get(s, repo, n, &b), 0);
    d = json_loadb(b.data, b.len, 0, NULL);
    dai_buf_free(&b);
    assert_non_null(d);
    return d;
}

static const char *eff(json_t *d, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(d, "latest"), "classification"), field));
}

static void test_gw_store_human_correction_rule(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 10, 1000000);
    struct evspec e = {.repo = "acme/widgets", .number = 7, .title = "Original title",
                       .category = "bug", .priority = "high", .ms = BASE_MS};
    struct gw_applied a;
    json_t *d, *h;

    (void)state;
    assert_int_equal(apply(s, &e, &a), 0);
    assert_false(a.has_before);
    /* A human correction built from a stale copy: only its classification
     * may count, the title and state stay those of the latest event. */
    e.source = "human";
    e.corrected_by = "ops";
    e.category = "question";
    e.priority = "low";
    e.title = "Stale title";
    e.ms = BASE_MS + 1000;
    assert_int_equal(apply(s, &e, &a), 0);
    assert_true(a.has_before);
    assert_int_equal(a.before.category, DAI_CAT_BUG);
    assert_int_equal(a.after.category, DAI_CAT_QUESTION);
    d = detail(s, "acme/widgets", 7);
    assert_string_equal(eff(d, "source"), "human");
    assert_string_equal(eff(d, "corrected_by"), "ops");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(d, "latest"), "issue"), "title")),
                        "Original title");
    json_decref(d);

    /* A later automatic classification: state changes apply, the human
     * classification stays. */
    e = (struct evspec){.repo = "acme/widgets", .number = 7, .title = "Edited title",
                        .state = "closed", .category = "feature_request",
                        .priority = "critical", .ms = BASE_MS + 2000, .action = "closed"};
    assert_int_equal(apply(s, &e, &a), 0);
    assert_true(a.human_kept);
    assert_int_equal(a.after.category, DAI_CAT_QUESTION);
    assert_int_equal(a.after.state, GW_STATE_CLOSED);
    d = detail(s, "ACME/Widgets", 7);
    assert_true(json_is_true(json_object_get(d, "human_override")));
    assert_string_equal(eff(d, "category"), "question");
    assert_string_equal(eff(d, "source"), "human");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(d, "latest"), "issue"), "state")),
                        "closed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(d, "latest"), "issue"), "title")),
                        "Edited title");
    h = json_object_get(d, "history");
    assert_int_equal(json_array_size(h), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "category")),
                        "bug");
    assert_true(json_is_true(json_object_get(json_array_get(h, 1), "applied")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 2), "category")),
                        "feature_request");
    assert_true(json_is_false(json_object_get(json_array_get(h, 2), "applied")));
    json_decref(d);

    /* A second human correction replaces the first. */
    e = (struct evspec){.repo = "acme/widgets", .number = 7, .category = "security",
                        .priority = "critical", .source = "human", .corrected_by = "lead",
                        .ms = BASE_MS + 3000};
    assert_int_equal(apply(s, &e, NULL), 0);
    d = detail(s, "acme/widgets", 7);
    assert_string_equal(eff(d, "category"), "security");
    assert_string_equal(eff(d, "corrected_by"), "lead");
    json_decref(d);
    {
        struct gw_store_stats st;

        gw_store_get_stats(s, &st);
        assert_int_equal(st.issues, 1);
        assert_int_equal(st.human_kept, 1);
    }
    gw_store_free(s);
}

static void test_gw_store_history_is_bounded_and_deduplicated(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 3, 1000000);
    struct evspec e = {.repo = "a/b", .number = 1, .category = "bug", .ms = BASE_MS};
    json_t *d;

    (void)state;
    assert_int_equal(apply(s, &e, NULL), 0);
    e.ms++;
    assert_int_equal(apply(s, &e, NULL), 0); /* same classification: no new entry */
    d = detail(s, "a/b", 1);
    assert_int_equal(json_array_size(json_object_get(d, "history")), 1);
    json_decref(d);
    for (int i = 0; i < 6; i++) {
        e.ms++;
        e.category = i % 2 ? "bug" : "question";
        assert_int_equal(apply(s, &e, NULL), 0);
    }
    d = detail(s, "a/b", 1);
    assert_int_equal(json_array_size(json_object_get(d, "history")), 3); /* the newest 3 */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(d, "history"), 2), "category")),
                        "bug");
    json_decref(d);
    gw_store_free(s);
}

static void test_gw_store_deleted_issue_leaves(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 3, 1000000);
    struct evspec e = {.repo = "a/b", .number = 1, .ms = BASE_MS};
    struct gw_applied a;
    struct dai_buf b = {0};

    (void)state;
    assert_int_equal(apply(s, &e, NULL), 0);
    e.number = 2;
    assert_int_equal(apply(s, &e, NULL), 0);
    e.action = "deleted";
    e.ms++;
    assert_int_equal(apply(s, &e, &a), 0);
    assert_int_equal(a.kind, GW_APPLY_REMOVED);
    assert_true(a.has_before);
    assert_non_null(strstr(a.event, "\"deleted\""));
    assert_int_equal(gw_store_get(s, "a/b", 2, &b), DAI_ENOTFOUND);
    assert_int_equal(gw_store_stats_json(s, NULL, &b), 0);
    assert_non_null(strstr(b.data, "\"total\":1"));
    dai_buf_free(&b);
    gw_store_free(s);
}

static void test_gw_store_caps_bodies_and_events(void **state)
{
    struct gw_store *s = new_store(100, 2048, 3, 1000000);
    char *body = malloc(10001), err[200];
    struct evspec e = {.repo = "a/b", .number = 1, .ms = BASE_MS};
    json_t *d, *issue;
    char *json;
    struct gw_applied a;

    (void)state;
    memset(body, 'x', 10000);
    memcpy(body + 98, "\xe2\x82\xac", 3); /* a euro sign straddling the cut */
    body[10000] = '\0';
    e.body = body;
    assert_int_equal(apply(s, &e, NULL), 0);
    d = detail(s, "a/b", 1);
    issue = json_object_get(json_object_get(d, "latest"), "issue");
    assert_int_equal(json_string_length(json_object_get(issue, "body")), 98);
    assert_true(json_is_true(json_object_get(issue, "body_truncated")));
    json_decref(d);
    /* A title that alone exceeds max_event: skipped with a reason. */
    memset(body, 'y', 5000);
    body[5000] = '\0';
    e.title = body;
    e.body = "short";
    e.number = 2;
    json = make_event(&e);
    assert_int_equal(gw_store_apply(s, json, strlen(json), &a, err, sizeof(err)), DAI_ETOOBIG);
    assert_non_null(strstr(err, "max_event"));
    free(json);
    free(body);
    gw_store_free(s);
}

static void test_gw_store_evicts_least_recently_updated(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 3, 3);
    struct dai_buf b = {0};
    struct gw_applied a;

    (void)state;
    for (int i = 1; i <= 5; i++) {
        struct evspec e = {.repo = "a/b", .number = i, .ms = BASE_MS + i};

        assert_int_equal(apply(s, &e, &a), 0);
        assert_int_equal(a.evicted, i > 3);
    }
    assert_int_equal(gw_store_get(s, "a/b", 1, &b), DAI_ENOTFOUND);
    assert_int_equal(gw_store_get(s, "a/b", 2, &b), DAI_ENOTFOUND);
    assert_int_equal(gw_store_get(s, "a/b", 5, &b), 0);
    dai_buf_free(&b);
    gw_store_free(s);
}

static void test_gw_store_stats_and_repos(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 3, 1000000);
    struct dai_buf b = {0};
    json_t *j;

    (void)state;
    for (int i = 1; i <= POP; i++) {
        struct evspec e = pop(i);
        assert_int_equal(apply(s, &e, NULL), 0);
    }
    assert_int_equal(gw_store_stats_json(s, NULL, &b), 0);
    j = json_loads(b.data, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), POP);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "by_category"),
                                                        "security")), POP / 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "by_repository"),
                                                        "Other/Thing")), POP / 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "by_state"),
                                                        "closed")), POP / 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "by_source"),
                                                        "llm")), POP);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "by_type"),
                                                        "pull_request")), POP / 4);
    json_decref(j);
    assert_int_equal(gw_store_stats_json(s, "acme/GADGETS", &b), 0);
    j = json_loads(b.data, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), POP / 3);
    assert_int_equal(json_object_size(json_object_get(j, "by_repository")), 1);
    json_decref(j);
    assert_int_equal(gw_store_stats_json(s, "no/such", &b), 0);
    assert_non_null(strstr(b.data, "\"total\":0"));
    assert_int_equal(gw_store_repos_json(s, &b), 0);
    j = json_loads(b.data, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "items"), 0), "name")),
                        "acme/gadgets"); /* sorted by name */
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "items"), 2), "total")),
                     POP / 3);
    json_decref(j);
    dai_buf_free(&b);
    gw_store_free(s);
}

static void test_gw_store_rejects_bad_events(void **state)
{
    struct gw_store *s = new_store(4096, 65536, 3, 1000000);
    struct gw_applied a;
    char err[256];
    struct gw_store_stats st;
    const char *no_cls = "{\"schema_version\":1,\"event_type\":\"issue\"}";

    (void)state;
    assert_int_equal(gw_store_apply(s, "{nope", 5, &a, err, sizeof(err)), DAI_EPARSE);
    assert_true(strlen(err) > 0);
    assert_int_equal(gw_store_apply(s, no_cls, strlen(no_cls), &a, err, sizeof(err)),
                     DAI_ESCHEMA);
    {
        struct evspec e = {.repo = "a/b", .number = 1, .ms = BASE_MS};
        char *json = make_event(&e);
        char *p = strstr(json, "\"processed_at\":\"");

        assert_non_null(p);
        memcpy(p + 16, "XXXX", 4); /* not a timestamp any more */
        assert_int_equal(gw_store_apply(s, json, strlen(json), &a, err, sizeof(err)),
                         DAI_ESCHEMA);
        free(json);
    }
    gw_store_get_stats(s, &st);
    assert_int_equal(st.issues, 0);
    assert_int_equal(st.rejected, 3);
    gw_store_free(s);
}

/* A filter naming as many teams as a set holds, every one of them existing
 * (the 32nd is even called "none", as an event from the topic may say), plus
 * "none": every resolved id and the "no team" id fit (this once overran a
 * stack array, caught by ASan), and the answer is exactly those issues. */
static void test_gw_store_team_filter_with_every_value_resolving(void **state)
{
    struct gw_store *s = new_store(1024, 65536, 4, 1000);
    char names[GW_MAX_VALUES][16], csv[GW_MAX_VALUES * 16];
    size_t used = 0;
    json_t *r;

    (void)state;
    for (int i = 0; i < GW_MAX_VALUES; i++) {
        struct evspec e = {.repo = "acme/teams", .number = i + 1, .ms = BASE_MS + i * 1000};

        if (i == GW_MAX_VALUES - 1)
            snprintf(names[i], sizeof(names[i]), "none");
        else
            snprintf(names[i], sizeof(names[i]), "team-%02d", i);
        e.team = names[i];
        assert_int_equal(apply(s, &e, NULL), 0);
        used += (size_t)snprintf(csv + used, sizeof(csv) - used, "%s%s", i ? "," : "", names[i]);
    }
    {
        struct evspec e = {.repo = "acme/teams", .number = 100, .ms = BASE_MS + 99000};

        assert_int_equal(apply(s, &e, NULL), 0); /* no team at all */
    }
    {
        const char *a[] = {"limit", "500", "assignee", csv, NULL};

        r = list(s, a);
        /* team-00..team-30 by name, and "none" = the issue without a team. */
        assert_int_equal(json_array_size(json_object_get(r, "items")), GW_MAX_VALUES);
        json_decref(r);
    }
    gw_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_store_team_filter_with_every_value_resolving),
        cmocka_unit_test(test_gw_store_filters_match_reference),
        cmocka_unit_test(test_gw_store_pagination_is_stable_under_updates),
        cmocka_unit_test(test_gw_store_human_correction_rule),
        cmocka_unit_test(test_gw_store_history_is_bounded_and_deduplicated),
        cmocka_unit_test(test_gw_store_deleted_issue_leaves),
        cmocka_unit_test(test_gw_store_caps_bodies_and_events),
        cmocka_unit_test(test_gw_store_evicts_least_recently_updated),
        cmocka_unit_test(test_gw_store_stats_and_repos),
        cmocka_unit_test(test_gw_store_rejects_bad_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
