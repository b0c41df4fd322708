/* Unit tests for classifier/pipeline.c: output in offset order per partition
 * while LLM calls finish out of order, per-key ordering (later events of an
 * issue wait for its pending classification), reuse of unchanged text,
 * never-seen issues, dead letters, LLM fallback, and dropping a partition
 * with calls in flight. The LLM and the offline classifier are fakes here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../classifier/offline/offline.h"
#include "../../classifier/pipeline.h"
#include "../../classifier/state.h"
#include <dispatchai/dai.h>

/*---- fakes -------------------------------------------------------------*/

/* The offline classifier: documentation if the title says "doc", else bug. */
struct cls_offline_ws {
    int unused;
};

struct cls_offline_ws *cls_offline_ws_new(void)
{
    return calloc(1, sizeof(struct cls_offline_ws));
}

void cls_offline_ws_free(struct cls_offline_ws *ws)
{
    free(ws);
}

int cls_offline_classify_ws(const struct cls_offline_model *m, const struct cls_teams *teams,
                            const struct cls_issue_text *in, struct cls_offline_ws *ws,
                            struct dai_classification *out)
{
    (void)m;
    (void)teams;
    assert_non_null(ws);
    memset(out, 0, sizeof(*out));
    out->category = strstr(in->title, "doc") ? DAI_CAT_DOCUMENTATION : DAI_CAT_BUG;
    out->priority = DAI_PRIO_MEDIUM;
    out->effort = DAI_EFFORT_SMALL;
    out->confidence = 0.4;
    out->source = DAI_SRC_OFFLINE;
    snprintf(out->summary, sizeof(out->summary), "offline");
    return 0;
}

const char *cls_offline_version(const struct cls_offline_model *m)
{
    (void)m;
    return "offline-test";
}

struct fake {
    bool llm_up;
    struct cls_job *submitted[64];
    size_t n_submitted;
    int released;
    char msgs[64];
    int next_msg;
};

static int fake_submit(void *ud, struct cls_job *job, const struct cls_issue_text *in)
{
    struct fake *f = ud;

    assert_non_null(in->title);
    if (!f->llm_up)
        return -1;
    f->submitted[f->n_submitted++] = job;
    return 0;
}

static void fake_release(void *ud, void *msg)
{
    struct fake *f = ud;

    assert_non_null(msg);
    f->released++;
}

static struct fake F;
static struct cls_state *S;
static struct cls_pipeline *P;
static bool unseen_offline;

static int setup(void **state)
{
    static const char model_dummy = 0;
    struct cls_pipeline_options o = {
        .offline = (const struct cls_offline_model *)&model_dummy,
        .unseen_offline = unseen_offline,
        .max_event_bytes = 4096,
        .ops = {.llm_submit = fake_submit, .release = fake_release, .ud = &F},
    };
    char err[64];

    (void)state;
    memset(&F, 0, sizeof(F));
    F.llm_up = true;
    S = cls_state_new();
    P = cls_pipeline_new(&o, S, err, sizeof(err));
    assert_non_null(P);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cls_pipeline_free(P);
    cls_state_free(S);
    return 0;
}

/* A raw event per docs/events.md; changes may be NULL. Returns a new string. */
static char *raw(const char *type, const char *action, int number, const char *title,
                 const char *body, const char *changes)
{
    const char *subject = strcmp(type, "pull_request") == 0 ? "pull_request" : "issue";
    json_t *ev = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s,s:b,s:{s:s,s:i},s:s},"
                           "s:{s:s,s:i,s:s},s:{s:i,s:i,s:s,s:s,s:s,s:[{s:s}],s:{s:s,s:i},s:[],"
                           "s:s,s:s,s:s}}",
                           "schema_version", 1, "event_type", type, "action", action,
                           "timestamp", "2026-11-29T10:00:00.000Z", "delivery_id", "d",
                           "repository", "id", 1, "name", "r", "full_name", "o/r", "private", 0,
                           "owner", "login", "o", "id", 2, "html_url", "https://x",
                           "sender", "login", "u", "id", 3, "type", "User",
                           subject, "id", 100 + number, "number", number, "title", title,
                           "body", body, "state", "open", "labels", "name", "bug", "user",
                           "login", "u", "id", 3, "assignees", "html_url", "https://x/1",
                           "created_at", "2026-11-29T09:00:00Z", "updated_at",
                           "2026-11-29T09:00:00Z");
    char *s;

    assert_non_null(ev);
    if (strcmp(type, "issue_comment") == 0)
        json_object_set_new(ev, "comment", json_pack("{s:i,s:s,s:{s:s,s:i},s:s}", "id", 5,
                                                     "body", "me too", "user", "login", "u",
                                                     "id", 3, "created_at", "2026"));
    if (changes)
        json_object_set_new(ev, "changes", json_loads(changes, 0, NULL));
    s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return s;
}

/* Feed one message; the pipeline borrows value until the job is popped, so
 * the strings are kept until the end of the test. */
static char *kept[64];
static size_t n_kept;

static void add(int32_t part, int64_t off, char *value)
{
    kept[n_kept++] = value;
    cls_pipeline_add(P, &F.msgs[F.next_msg++], part, off, "k", 1, value, strlen(value));
}

static void free_kept(void)
{
    while (n_kept)
        free(kept[--n_kept]);
}

static void llm_ok(struct cls_job *job, enum dai_category cat)
{
    struct dai_classification c;

    memset(&c, 0, sizeof(c));
    c.category = cat;
    c.priority = DAI_PRIO_HIGH;
    c.effort = DAI_EFFORT_LARGE;
    c.confidence = 0.9;
    c.source = DAI_SRC_LLM;
    cls_pipeline_llm_done(P, job, &c, "fake-llm", 1, NULL);
}

/*---- tests -------------------------------------------------------------*/

static void test_cls_pipeline_orders_output_per_partition(void **state)
{
    struct cls_job *j;

    (void)state;
    add(0, 10, raw("issue", "opened", 1, "A", "a", NULL));
    add(0, 11, raw("issue", "opened", 2, "B", "b", NULL));
    add(1, 5, raw("issue", "opened", 3, "C", "c", NULL));
    assert_int_equal(F.n_submitted, 3);
    assert_int_equal(cls_pipeline_in_flight(P, -1), 3);
    assert_null(cls_pipeline_ready(P, 0));

    /* B and C answer first: C may go out, B must wait for A */
    llm_ok(F.submitted[1], DAI_CAT_FEATURE_REQUEST);
    llm_ok(F.submitted[2], DAI_CAT_QUESTION);
    assert_null(cls_pipeline_ready(P, 0));
    j = cls_pipeline_ready(P, 1);
    assert_non_null(j);
    assert_int_equal(j->offset, 5);
    cls_pipeline_pop(P, 1);

    llm_ok(F.submitted[0], DAI_CAT_BUG);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->offset, 10);
    assert_int_equal(j->cls.category, DAI_CAT_BUG);
    assert_string_equal(j->model_version, "fake-llm");
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->offset, 11);
    assert_int_equal(j->cls.category, DAI_CAT_FEATURE_REQUEST);
    cls_pipeline_pop(P, 0);
    assert_null(cls_pipeline_ready(P, 0));
    assert_int_equal(cls_pipeline_buffered(P), 0);
    assert_int_equal(F.released, 3);
    free_kept();
}

static void test_cls_pipeline_key_waits_for_pending(void **state)
{
    struct cls_job *j;

    (void)state;
    add(0, 0, raw("issue", "opened", 7, "Crash", "x", NULL));
    add(0, 1, raw("issue", "labeled", 7, "Crash", "x", NULL));
    add(0, 2, raw("issue_comment", "created", 7, "Crash", "x", NULL));
    /* only the first asks the LLM; the others wait for its answer */
    assert_int_equal(F.n_submitted, 1);
    assert_int_equal(cls_pipeline_buffered_in(P, 0), 3);
    llm_ok(F.submitted[0], DAI_CAT_SECURITY);
    for (int64_t off = 0; off < 3; off++) {
        j = cls_pipeline_ready(P, 0);
        assert_non_null(j);
        assert_int_equal(j->offset, off);
        assert_int_equal(j->cls.category, DAI_CAT_SECURITY);
        assert_int_equal(j->attempts, off == 0 ? 1 : 0);
        assert_int_equal(j->route, off == 0 ? CLS_ROUTE_CLASSIFY : CLS_ROUTE_REUSE);
        cls_pipeline_pop(P, 0);
    }
    assert_int_equal(F.n_submitted, 1);
    free_kept();
}

static void test_cls_pipeline_edit_while_pending(void **state)
{
    struct cls_job *j;

    (void)state;
    add(0, 0, raw("issue", "opened", 8, "Old title", "x", NULL));
    add(0, 1, raw("issue", "edited", 8, "New title", "x", "[\"title\"]"));
    add(0, 2, raw("issue", "edited", 8, "New title", "x", "[\"title\"]"));
    assert_int_equal(F.n_submitted, 1);
    llm_ok(F.submitted[0], DAI_CAT_BUG);
    /* the edit has new text: it goes to the LLM; the duplicate edit waits */
    assert_int_equal(F.n_submitted, 2);
    llm_ok(F.submitted[1], DAI_CAT_ENHANCEMENT);
    assert_int_equal(F.n_submitted, 2);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.category, DAI_CAT_BUG);
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.category, DAI_CAT_ENHANCEMENT);
    assert_int_equal(j->route, CLS_ROUTE_CLASSIFY);
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.category, DAI_CAT_ENHANCEMENT);
    assert_int_equal(j->route, CLS_ROUTE_REUSE);
    cls_pipeline_pop(P, 0);
    free_kept();
}

static void test_cls_pipeline_unchanged_never_resent(void **state)
{
    (void)state;
    add(0, 0, raw("issue", "opened", 9, "Same", "body", NULL));
    llm_ok(F.submitted[0], DAI_CAT_QUESTION);
    add(0, 1, raw("issue", "reopened", 9, "Same", "body", NULL));
    add(0, 2, raw("issue", "edited", 9, "Same", "body", "[\"body\"]"));
    add(0, 3, raw("issue", "edited", 9, "Other", "body", "[\"milestone\"]"));
    add(0, 4, raw("issue", "opened", 9, "Same", "body", NULL)); /* redelivery */
    assert_int_equal(F.n_submitted, 1);
    for (int i = 0; i < 5; i++) {
        struct cls_job *j = cls_pipeline_ready(P, 0);
        assert_non_null(j);
        assert_int_equal(j->cls.category, DAI_CAT_QUESTION);
        cls_pipeline_pop(P, 0);
    }
    /* a real text change is classified again */
    add(0, 5, raw("issue", "edited", 9, "Same", "body v2", "[\"body\"]"));
    assert_int_equal(F.n_submitted, 2);
    free_kept();
}

static void test_cls_pipeline_pull_requests(void **state)
{
    (void)state;
    add(2, 0, raw("pull_request", "opened", 3, "Add docs", "x", NULL));
    add(2, 1, raw("pull_request", "closed", 3, "Add docs", "x", NULL));
    assert_int_equal(F.n_submitted, 1);
    assert_non_null(cls_state_get(S, "o/r:pull_request:3"));
    llm_ok(F.submitted[0], DAI_CAT_DOCUMENTATION);
    assert_non_null(cls_pipeline_ready(P, 2));
    cls_pipeline_pop(P, 2);
    assert_int_equal(cls_pipeline_ready(P, 2)->route, CLS_ROUTE_REUSE);
    cls_pipeline_pop(P, 2);
    free_kept();
}

static void test_cls_pipeline_unseen_goes_to_llm(void **state)
{
    struct cls_job *j;

    (void)state;
    /* a comment on an issue we never saw: classified once, like an open */
    add(0, 0, raw("issue_comment", "created", 11, "Old issue", "b", NULL));
    assert_int_equal(F.n_submitted, 1);
    assert_int_equal(F.submitted[0]->route, CLS_ROUTE_UNSEEN);
    llm_ok(F.submitted[0], DAI_CAT_BUG);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.source, DAI_SRC_LLM);
    cls_pipeline_pop(P, 0);
    add(0, 1, raw("issue_comment", "created", 11, "Old issue", "b", NULL));
    assert_int_equal(F.n_submitted, 1);
    free_kept();
}

static void test_cls_pipeline_unseen_offline_when_configured(void **state)
{
    struct cls_job *j;

    (void)state;
    add(0, 0, raw("issue", "closed", 12, "A doc gap", "b", NULL));
    assert_int_equal(F.n_submitted, 0);
    j = cls_pipeline_ready(P, 0);
    assert_non_null(j);
    assert_int_equal(j->cls.source, DAI_SRC_OFFLINE);
    assert_int_equal(j->cls.category, DAI_CAT_DOCUMENTATION);
    assert_string_equal(j->model_version, "offline-test");
    assert_string_equal(j->fallback, "");
    cls_pipeline_pop(P, 0);
    free_kept();
}

static void test_cls_pipeline_dead_letters_keep_moving(void **state)
{
    struct dai_buf out = {0};
    struct cls_job *j;
    char *big = malloc(5000);

    (void)state;
    memset(big, 'x', 4999);
    big[4999] = '\0';
    add(0, 0, raw("issue", "opened", 1, "A", "a", NULL));
    add(0, 1, strdup("{not json"));
    add(0, 2, strdup("{\"schema_version\":1}"));
    add(0, 3, big);
    add(0, 4, strdup("{\"schema_version\":2,\"event_type\":\"issue\",\"action\":\"opened\","
                     "\"timestamp\":\"t\",\"delivery_id\":\"d\",\"repository\":{},"
                     "\"sender\":{}}"));
    add(1, 0, strdup(""));
    /* dead letters are finished at once; the other partition is not held up */
    j = cls_pipeline_ready(P, 1);
    assert_non_null(j);
    assert_int_equal(j->out, CLS_OUT_DLQ);
    assert_string_equal(j->dlq_code, "invalid_json");
    cls_pipeline_pop(P, 1);
    assert_null(cls_pipeline_ready(P, 0));
    llm_ok(F.submitted[0], DAI_CAT_BUG);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->out, CLS_OUT_ENRICHED);
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_string_equal(j->dlq_code, "invalid_json");
    assert_non_null(strstr(j->dlq_reason, "invalid_json: "));
    assert_int_equal(cls_job_render(j, &out), 0);
    assert_string_equal(out.data, "{not json"); /* the original bytes, unchanged */
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_string_equal(j->dlq_code, "schema");
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_string_equal(j->dlq_code, "too_big");
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_string_equal(j->dlq_code, "schema");
    assert_non_null(strstr(j->dlq_reason, "version"));
    cls_pipeline_pop(P, 0);
    assert_int_equal(cls_pipeline_buffered(P), 0);
    dai_buf_free(&out);
    free_kept();
}

static void test_cls_pipeline_llm_failure_falls_back(void **state)
{
    struct cls_job *j;

    (void)state;
    add(0, 0, raw("issue", "opened", 4, "Broken doc link", "b", NULL));
    add(0, 1, raw("issue", "labeled", 4, "Broken doc link", "b", NULL));
    cls_pipeline_llm_done(P, F.submitted[0], NULL, NULL, 4, "timeout");
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.source, DAI_SRC_OFFLINE);
    assert_int_equal(j->cls.category, DAI_CAT_DOCUMENTATION);
    assert_int_equal(j->attempts, 4);
    assert_string_equal(j->fallback, "timeout");
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(j->cls.source, DAI_SRC_OFFLINE);
    assert_int_equal(j->route, CLS_ROUTE_REUSE);
    cls_pipeline_pop(P, 0);
    /* the offline answer counts as this text's classification */
    add(0, 2, raw("issue", "reopened", 4, "Broken doc link", "b", NULL));
    assert_int_equal(F.n_submitted, 1);

    /* with the LLM unavailable (breaker open) jobs are classified offline at once */
    F.llm_up = false;
    add(0, 3, raw("issue", "opened", 5, "New", "b", NULL));
    cls_pipeline_pop(P, 0);
    j = cls_pipeline_ready(P, 0);
    assert_non_null(j);
    assert_int_equal(j->cls.source, DAI_SRC_OFFLINE);
    assert_string_equal(j->fallback, "unavailable");
    cls_pipeline_pop(P, 0);
    free_kept();
}

static void test_cls_pipeline_drop_partition(void **state)
{
    struct cls_job *inflight;

    (void)state;
    add(0, 0, raw("issue", "opened", 1, "A", "a", NULL));
    add(0, 1, raw("issue", "labeled", 1, "A", "a", NULL));
    add(0, 2, strdup("junk"));
    add(1, 0, raw("issue", "opened", 2, "B", "b", NULL));
    inflight = F.submitted[0];
    assert_true(cls_state_get(S, "o/r:issue:1")->live);
    cls_pipeline_drop_partition(P, 0);
    assert_int_equal(cls_pipeline_buffered(P), 1);
    assert_int_equal(cls_pipeline_buffered_in(P, 0), 0);
    assert_int_equal(F.released, 3);
    assert_false(cls_state_get(S, "o/r:issue:1")->live);
    assert_true(cls_state_get(S, "o/r:issue:2")->live);
    assert_null(cls_state_get(S, "o/r:issue:1")->busy);
    /* the late answer of a dropped job is swallowed (and freed: ASan checks) */
    llm_ok(inflight, DAI_CAT_BUG);
    assert_null(cls_pipeline_ready(P, 0));
    /* the partition comes back: its key is classified afresh, not stuck */
    add(0, 0, raw("issue", "opened", 1, "A", "a", NULL));
    assert_int_equal(F.n_submitted, 3);
    free_kept();
}

static void test_cls_pipeline_renders_valid_enriched(void **state)
{
    struct dai_buf out = {0};
    struct cls_job *j;
    json_t *ev;
    char err[160];

    (void)state;
    add(0, 0, raw("issue", "opened", 1, "A", "a", NULL));
    llm_ok(F.submitted[0], DAI_CAT_BUG);
    j = cls_pipeline_ready(P, 0);
    assert_int_equal(cls_job_render(j, &out), 0);
    ev = json_loads(out.data, 0, NULL);
    assert_non_null(ev);
    assert_int_equal(dai_enriched_event_validate(ev, err, sizeof(err)), 0);
    assert_string_equal(dai_json_str(json_object_get(ev, "classification"), "source", ""), "llm");
    assert_string_equal(dai_json_str(json_object_get(ev, "processing_metadata"),
                                     "model_version", ""), "fake-llm");
    assert_int_equal(dai_json_int(json_object_get(ev, "processing_metadata"), "attempts", -1), 1);
    assert_string_equal(dai_json_str(ev, "action", ""), "opened");
    json_decref(ev);
    /* a cap on the output turns into DAI_ETOOBIG for the caller to dead-letter */
    out.max = 50;
    assert_int_equal(cls_job_render(j, &out), DAI_ETOOBIG);
    cls_pipeline_pop(P, 0);
    dai_buf_free(&out);
    free_kept();
}

static int setup_unseen_offline(void **state)
{
    unseen_offline = true;
    setup(state);
    unseen_offline = false;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cls_pipeline_orders_output_per_partition, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_key_waits_for_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_edit_while_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_unchanged_never_resent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_pull_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_unseen_goes_to_llm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_unseen_offline_when_configured,
                                        setup_unseen_offline, teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_dead_letters_keep_moving, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_llm_failure_falls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_drop_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cls_pipeline_renders_valid_enriched, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
