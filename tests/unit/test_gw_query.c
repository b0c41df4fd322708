/* Unit tests for gateway/query.c and gateway/match.c: every GET /api/issues
 * parameter and its errors, opaque cursors (round trip, tampering), and
 * filter matching as WebSocket subscriptions use it. */
#include "../../gateway/match.h"
#include "../../gateway/query.h"

#include <dispatchai/events.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int arg(struct gw_query *q, const char *n, const char *v)
{
    char err[200];
    int rc = gw_query_arg(q, n, v, err, sizeof(err));

    if (rc)
        assert_true(strlen(err) > 0); /* every refusal says why */
    return rc;
}

static void test_gw_query_filters(void **state)
{
    struct gw_query q;

    (void)state;
    gw_query_init(&q);
    assert_int_equal(q.limit, GW_LIMIT_DEFAULT);
    assert_int_equal(arg(&q, "repo", "Acme/Widgets,acme/other"), 0);
    assert_int_equal(q.m.repos.n, 2);
    assert_string_equal(q.m.repos.v[0], "acme/widgets"); /* lower-cased */
    assert_int_equal(arg(&q, "category", "bug,security"), 0);
    assert_int_equal(q.m.categories, (1u << DAI_CAT_BUG) | (1u << DAI_CAT_SECURITY));
    assert_int_equal(arg(&q, "priority", "critical"), 0);
    assert_int_equal(q.m.priorities, 1u << DAI_PRIO_CRITICAL);
    assert_int_equal(arg(&q, "state", "closed"), 0);
    assert_int_equal(q.m.states, 1u << GW_STATE_CLOSED);
    assert_int_equal(arg(&q, "type", "pull_request"), 0);
    assert_int_equal(q.m.types, 1u << GW_TYPE_PR);
    assert_int_equal(arg(&q, "assignee", "Team-Backend"), 0);
    assert_string_equal(q.m.teams.v[0], "team-backend");
    assert_int_equal(arg(&q, "q", "Crash ON Start"), 0);
    assert_string_equal(q.q, "crash on start");
    assert_int_equal(arg(&q, "since", "2023-12-01T10:00:05Z"), 0);
    assert_true(q.has_since && q.since_ms == 1701424805000LL);
    assert_int_equal(arg(&q, "since", "1701424805001"), 0);
    assert_true(q.since_ms == 1701424805001LL);
    assert_int_equal(arg(&q, "limit", "500"), 0);
    assert_int_equal(q.limit, 500);
    gw_query_clear(&q);
    assert_int_equal(q.m.repos.n, 0);
}

static void test_gw_query_rejects_bad_values(void **state)
{
    struct gw_query q;
    char big[300];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gw_query_init(&q);
    assert_int_equal(arg(&q, "category", "bugs"), DAI_EINVAL);
    assert_int_equal(arg(&q, "category", "bug,"), DAI_EINVAL); /* empty item */
    assert_int_equal(arg(&q, "priority", "urgent"), DAI_EINVAL);
    assert_int_equal(arg(&q, "state", "other"), DAI_EINVAL);  /* internal bucket only */
    assert_int_equal(arg(&q, "type", "pr"), DAI_EINVAL);
    assert_int_equal(arg(&q, "repo", ""), DAI_EINVAL);
    assert_int_equal(arg(&q, "repo", NULL), DAI_EINVAL);
    assert_int_equal(arg(&q, "q", ""), DAI_EINVAL);
    assert_int_equal(arg(&q, "q", big), DAI_EINVAL);
    assert_int_equal(arg(&q, "since", "last week"), DAI_EINVAL);
    assert_int_equal(arg(&q, "since", "-5"), DAI_EINVAL);
    assert_int_equal(arg(&q, "limit", "0"), DAI_EINVAL);
    assert_int_equal(arg(&q, "limit", "501"), DAI_EINVAL);
    assert_int_equal(arg(&q, "limit", "10x"), DAI_EINVAL);
    assert_int_equal(arg(&q, "limit", ""), DAI_EINVAL);
    assert_int_equal(arg(&q, "cursor", "not-a-cursor"), DAI_EINVAL);
    assert_int_equal(arg(&q, "page", "2"), DAI_EINVAL);        /* unknown parameter */
    gw_query_clear(&q);
}

static void test_gw_query_cursor_round_trip(void **state)
{
    char c[GW_CURSOR_MAX], bad[GW_CURSOR_MAX];
    int64_t ms;
    uint64_t h;

    (void)state;
    gw_cursor_encode(1701424805123LL, 0xfeedfacecafebeefULL, c);
    assert_true(strlen(c) < GW_CURSOR_MAX);
    assert_int_equal(gw_cursor_decode(c, &ms, &h), 0);
    assert_true(ms == 1701424805123LL && h == 0xfeedfacecafebeefULL);
    /* Flip one character anywhere: the check value catches it. */
    for (size_t i = 0; i < strlen(c); i++) {
        memcpy(bad, c, sizeof(bad));
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(gw_cursor_decode(bad, &ms, &h), 0);
    }
    assert_int_not_equal(gw_cursor_decode("", &ms, &h), 0);
    assert_int_not_equal(gw_cursor_decode("AAAA", &ms, &h), 0);
}

static void test_gw_match_semantics(void **state)
{
    struct gw_match m;
    struct gw_sel s = {.repo = "acme/widgets", .team = "team-backend",
                       .category = DAI_CAT_BUG, .priority = DAI_PRIO_HIGH,
                       .state = GW_STATE_OPEN, .type = GW_TYPE_ISSUE};
    char err[128];

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_true(gw_match_empty(&m));
    assert_true(gw_match_sel(&m, &s)); /* empty = everything */
    assert_int_equal(gw_match_add_csv(&m, GW_F_CATEGORY, "feature_request,bug", err,
                                      sizeof(err)), 0);
    assert_true(gw_match_sel(&m, &s)); /* OR within a field */
    assert_int_equal(gw_match_add_csv(&m, GW_F_REPO, "ACME/widgets", err, sizeof(err)), 0);
    assert_true(gw_match_sel(&m, &s));
    assert_int_equal(gw_match_add_csv(&m, GW_F_PRIORITY, "low", err, sizeof(err)), 0);
    assert_false(gw_match_sel(&m, &s)); /* AND across fields */
    gw_match_clear(&m);
    assert_int_equal(gw_match_add_csv(&m, GW_F_TEAM, "none", err, sizeof(err)), 0);
    assert_false(gw_match_sel(&m, &s));
    s.team = "";
    assert_true(gw_match_sel(&m, &s)); /* "none" = no suggested team */
    gw_match_clear(&m);
    assert_int_equal(gw_match_add(&m, GW_F_REPO, "a\0b", 3, err, sizeof(err)), DAI_EINVAL);
    gw_match_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_query_filters),
        cmocka_unit_test(test_gw_query_rejects_bad_values),
        cmocka_unit_test(test_gw_query_cursor_round_trip),
        cmocka_unit_test(test_gw_match_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
