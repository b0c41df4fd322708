/* Unit tests for what WebSocket clients send and receive apart from framing:
 * gateway/wsmsg.c (subscribe/ping parsing and errors), gateway/updlog.c
 * (the resume log's bounds and ?since= decisions, before/after matching) and
 * gateway/frame.c (shared frames encoded by wslay). */
#include "../../gateway/frame.h"
#include "../../gateway/match.h"
#include "../../gateway/updlog.h"
#include "../../gateway/wsmsg.h"

#include <dispatchai/events.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int parse(const char *s, struct gw_wsmsg *m, char *err)
{
    return gw_wsmsg_parse(s, strlen(s), m, err, 200);
}

static void test_gw_wsmsg_subscribe_and_ping(void **state)
{
    struct gw_wsmsg m;
    char err[200];

    (void)state;
    assert_int_equal(parse("{\"type\":\"ping\"}", &m, err), 0);
    assert_int_equal(m.type, GW_WSMSG_PING);
    assert_int_equal(parse("{\"type\":\"subscribe\",\"filter\":{\"repos\":[\"Acme/W\"],"
                           "\"categories\":[\"bug\",\"security\"],\"priorities\":[\"high\"],"
                           "\"states\":[\"open\"],\"types\":[\"issue\"],"
                           "\"assignees\":[\"team-a\"]},\"since\":1234}", &m, err), 0);
    assert_int_equal(m.type, GW_WSMSG_SUBSCRIBE);
    assert_int_equal(m.filter.repos.n, 1);
    assert_string_equal(m.filter.repos.v[0], "acme/w");
    assert_int_equal(m.filter.categories, (1u << DAI_CAT_BUG) | (1u << DAI_CAT_SECURITY));
    assert_int_equal(m.filter.priorities, 1u << DAI_PRIO_HIGH);
    assert_true(m.has_since && m.since == 1234);
    gw_wsmsg_clear(&m);
    assert_int_equal(parse("{\"type\":\"subscribe\",\"filter\":{}}", &m, err), 0);
    assert_true(gw_match_empty(&m.filter));
    assert_false(m.has_since);
    gw_wsmsg_clear(&m);
    assert_int_equal(parse("{\"type\":\"subscribe\"}", &m, err), 0);
    gw_wsmsg_clear(&m);
}

static void test_gw_wsmsg_errors(void **state)
{
    static const struct {
        const char *msg, *says;
    } bad[] = {
        {"hello", "line"},
        {"[]", "object"},
        {"{}", "type"},
        {"{\"type\":\"unsubscribe\"}", "unsubscribe"},
        {"{\"type\":\"subscribe\",\"filter\":[]}", "filter"},
        {"{\"type\":\"subscribe\",\"filter\":{\"colours\":[\"red\"]}}", "colours"},
        {"{\"type\":\"subscribe\",\"filter\":{\"categories\":\"bug\"}}", "categories"},
        {"{\"type\":\"subscribe\",\"filter\":{\"categories\":[\"bugz\"]}}", "bugz"},
        {"{\"type\":\"subscribe\",\"filter\":{\"priorities\":[1]}}", "priorities[0]"},
        {"{\"type\":\"subscribe\",\"since\":-1}", "since"},
        {"{\"type\":\"subscribe\",\"since\":\"5\"}", "since"},
        {"{\"type\":\"subscribe\",\"extra\":1}", "extra"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_wsmsg m;
        char err[200] = "";

        assert_int_equal(parse(bad[i].msg, &m, err), DAI_EINVAL);
        if (!strstr(err, bad[i].says))
            fail_msg("%s: \"%s\" does not mention %s", bad[i].msg, err, bad[i].says);
        assert_true(gw_match_empty(&m.filter)); /* nothing half-parsed is kept */
    }
}

static struct gw_update *upd(uint64_t seq, size_t payload, const char *repo, int cat)
{
    static char buf[4096];
    struct gw_sel after = {.repo = repo, .team = "", .category = cat, .priority = 0};
    struct gw_frame *f;

    memset(buf, 'x', payload);
    f = gw_frame_new(0x1, buf, payload);
    assert_non_null(f);
    return gw_update_new(seq, f, NULL, &after);
}

static void test_gw_updlog_resume_decisions(void **state)
{
    struct gw_updlog l;

    (void)state;
    assert_int_equal(gw_updlog_init(&l, 4, 0), 0);
    assert_int_equal(gw_updlog_resume_index(&l, 100, 100), 0);  /* nothing missed */
    assert_int_equal(gw_updlog_resume_index(&l, 99, 100), -1);  /* missed, nothing held */
    for (uint64_t s = 101; s <= 106; s++)
        gw_updlog_push(&l, upd(s, 10, "a/b", 0));
    /* Holds 103..106 (4 entries). */
    assert_int_equal(l.n, 4);
    assert_true(gw_updlog_at(&l, 0)->seq == 103);
    assert_int_equal(gw_updlog_resume_index(&l, 106, 106), 4);  /* up to date */
    assert_int_equal(gw_updlog_resume_index(&l, 105, 106), 3);
    assert_int_equal(gw_updlog_resume_index(&l, 102, 106), 0);  /* 103 is the next one */
    assert_int_equal(gw_updlog_resume_index(&l, 101, 106), -1); /* 102 is gone */
    assert_int_equal(gw_updlog_resume_index(&l, 0, 106), -1);   /* older process */
    assert_int_equal(gw_updlog_resume_index(&l, 107, 106), -1); /* from the future */
    gw_updlog_free(&l);
}

static void test_gw_updlog_byte_bound(void **state)
{
    struct gw_updlog l;

    (void)state;
    assert_int_equal(gw_updlog_init(&l, 100, 1000), 0);
    for (uint64_t s = 1; s <= 20; s++)
        gw_updlog_push(&l, upd(s, 200, "a/b", 0));
    assert_true(l.bytes <= 1000);
    assert_true(l.n >= 4 && l.n <= 5);
    assert_true(gw_updlog_at(&l, l.n - 1)->seq == 20);
    gw_updlog_push(&l, upd(21, 3000, "a/b", 0)); /* bigger than the cap: kept alone */
    assert_int_equal(l.n, 1);
    gw_updlog_free(&l);
}

static void test_gw_update_matches_before_or_after(void **state)
{
    struct gw_sel before = {.repo = "a/b", .team = "", .category = DAI_CAT_BUG};
    struct gw_sel after = {.repo = "a/b", .team = "", .category = DAI_CAT_QUESTION};
    struct gw_frame *f = gw_frame_new(0x1, "{}", 2);
    struct gw_update *u = gw_update_new(1, f, &before, &after);
    struct gw_match bugs = {.categories = 1u << DAI_CAT_BUG};
    struct gw_match docs = {.categories = 1u << DAI_CAT_DOCUMENTATION};

    (void)state;
    assert_true(gw_update_matches(u, &bugs)); /* it left the bug view: bug watchers learn it */
    assert_false(gw_update_matches(u, &docs));
    gw_update_free(u);
}

static void test_gw_frame_encoding(void **state)
{
    static unsigned char big[70000];
    struct gw_frame *f;

    (void)state;
    f = gw_frame_new(0x1, "hi", 2);
    assert_int_equal(f->len, 4);
    assert_memory_equal(f->data, "\x81\x02hi", 4);
    gw_frame_unref(f);
    f = gw_frame_new(0x1, big, 300);
    assert_int_equal(f->len, 304);
    assert_memory_equal(f->data, "\x81\x7e\x01\x2c", 4);
    gw_frame_unref(f);
    f = gw_frame_new(0x1, big, sizeof(big));
    assert_int_equal(f->len, sizeof(big) + 10);
    assert_int_equal(f->data[1], 127);
    gw_frame_unref(f);
    f = gw_frame_close(1013, "slow");
    assert_memory_equal(f->data, "\x88\x06\x03\xf5slow", 8);
    gw_frame_ref(f);
    gw_frame_unref(f);
    gw_frame_unref(f);
    assert_null(gw_frame_new(0x9, big, 126)); /* control frames stay <= 125 bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_wsmsg_subscribe_and_ping),
        cmocka_unit_test(test_gw_wsmsg_errors),
        cmocka_unit_test(test_gw_updlog_resume_decisions),
        cmocka_unit_test(test_gw_updlog_byte_bound),
        cmocka_unit_test(test_gw_update_matches_before_or_after),
        cmocka_unit_test(test_gw_frame_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
