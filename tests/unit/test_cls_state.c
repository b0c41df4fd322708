/* Unit tests for classifier/state.c: the per-key table (upsert, growth,
 * classification round trip) and applying enriched records read back from
 * the enriched topic (own vs. foreign records, live keys, human corrections). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../classifier/router.h"
#include "../../classifier/state.h"
#include <dispatchai/dai.h>

static void fill(struct dai_classification *c, enum dai_category cat, enum dai_source src)
{
    memset(c, 0, sizeof(*c));
    c->category = cat;
    c->priority = DAI_PRIO_LOW;
    c->effort = DAI_EFFORT_SMALL;
    c->confidence = 0.5;
    c->source = src;
    snprintf(c->summary, sizeof(c->summary), "sum");
    if (src == DAI_SRC_HUMAN)
        snprintf(c->corrected_by, sizeof(c->corrected_by), "alice");
}

/* An enriched event as the classifier (or the gateway) would write it. */
static char *enriched(const char *repo, int number, const char *title, const char *body,
                      enum dai_category cat, enum dai_source src, const char *model)
{
    struct dai_classification c;
    json_t *ev = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:i,s:s,s:s,s:b,s:{s:s,s:i},s:s},"
                           "s:{s:s,s:i,s:s},s:{s:i,s:i,s:s,s:s,s:s,s:[],s:{s:s,s:i},s:[],"
                           "s:s,s:s,s:s}}",
                           "schema_version", 1, "event_type", "issue", "action", "opened",
                           "timestamp", "2026-11-29T10:00:00.000Z", "delivery_id", "d",
                           "repository", "id", 1, "name", "r", "full_name", repo, "private", 0,
                           "owner", "login", "o", "id", 2, "html_url", "https://x",
                           "sender", "login", "u", "id", 3, "type", "User",
                           "issue", "id", 100 + number, "number", number, "title", title,
                           "body", body, "state", "open", "labels", "user", "login", "u", "id",
                           3, "assignees", "html_url", "https://x/1", "created_at",
                           "2026-11-29T09:00:00Z", "updated_at", "2026-11-29T09:00:00Z");
    struct dai_processing_meta meta = {1, 2, model, 1};
    json_t *en;
    char *s;

    assert_non_null(ev);
    fill(&c, cat, src);
    en = dai_enriched_event_new(ev, &c, &meta);
    s = json_dumps(en, JSON_COMPACT);
    json_decref(en);
    json_decref(ev);
    return s;
}

static void test_cls_state_upsert_and_grow(void **state)
{
    struct cls_state *s = cls_state_new();
    char key[64];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "o/r:issue:%d", i);
        assert_non_null(cls_state_upsert(s, key));
    }
    assert_int_equal(cls_state_count(s), 5000);
    assert_non_null(cls_state_get(s, "o/r:issue:4999"));
    assert_ptr_equal(cls_state_upsert(s, "o/r:issue:7"), cls_state_get(s, "o/r:issue:7"));
    assert_int_equal(cls_state_count(s), 5000);
    assert_null(cls_state_get(s, "o/r:issue:5000"));
    assert_int_equal(cls_state_get(s, "o/r:issue:3")->partition, -1);
    cls_state_free(s);
}

static void test_cls_state_classification_round_trip(void **state)
{
    struct cls_state *s = cls_state_new();
    struct cls_keystate *ks = cls_state_upsert(s, "o/r:issue:1");
    struct dai_classification in, out;

    (void)state;
    assert_int_equal(cls_state_classification(ks, &out), DAI_ENOTFOUND);
    fill(&in, DAI_CAT_SECURITY, DAI_SRC_LLM);
    snprintf(in.tags[0], DAI_TAG_LEN, "cve");
    in.n_tags = 1;
    snprintf(in.suggested_assignee, DAI_TEAM_LEN, "backend");
    assert_int_equal(cls_state_set(ks, 99, &in, "gpt-x"), 0);
    assert_int_equal(cls_state_classification(ks, &out), 0);
    assert_int_equal(out.category, DAI_CAT_SECURITY);
    assert_int_equal(out.source, DAI_SRC_LLM);
    assert_string_equal(out.tags[0], "cve");
    assert_string_equal(out.suggested_assignee, "backend");
    assert_true(ks->text_hash == 99);
    assert_string_equal(ks->model_version, "gpt-x");
    cls_state_free(s);
}

static void test_cls_state_apply_records(void **state)
{
    struct cls_state *s = cls_state_new();
    char *a = enriched("o/r", 1, "Crash", "boom", DAI_CAT_BUG, DAI_SRC_LLM, "m1");
    char *b = enriched("o/r", 1, "Crash", "boom", DAI_CAT_QUESTION, DAI_SRC_LLM, "m2");
    const char *key = "o/r:issue:1";
    struct cls_keystate *ks;
    struct dai_classification c;
    char hdr[17];

    (void)state;
    snprintf(hdr, sizeof(hdr), "%016llx", 0xabcULL);
    /* our record: the hash comes from the header */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), a, strlen(a), hdr, 16, 0), 1);
    ks = cls_state_get(s, key);
    assert_non_null(ks);
    assert_true(ks->text_hash == 0xabc);
    assert_string_equal(ks->model_version, "m1");
    /* a later record for a key nobody feeds here replaces it */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), b, strlen(b), hdr, 16, 0), 1);
    assert_int_equal(cls_state_classification(ks, &c), 0);
    assert_int_equal(c.category, DAI_CAT_QUESTION);
    /* without a header (someone else's record) the hash is the event's text */
    assert_int_equal(cls_state_apply_record(s, NULL, 0, a, strlen(a), NULL, 0, 0), 1);
    assert_true(ks->text_hash == cls_text_hash("Crash", "boom"));
    /* garbage is reported, not applied */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), "nope", 4, hdr, 16, 0),
                     DAI_ESCHEMA);
    free(a);
    free(b);
    cls_state_free(s);
}

static void test_cls_state_live_keys_keep_own_state(void **state)
{
    struct cls_state *s = cls_state_new();
    const char *key = "o/r:issue:2";
    char *old = enriched("o/r", 2, "T", "B", DAI_CAT_BUG, DAI_SRC_LLM, "m1");
    char *human = enriched("o/r", 2, "T", "B", DAI_CAT_FEATURE_REQUEST, DAI_SRC_HUMAN, "human");
    char *human_other = enriched("o/r", 2, "T2", "B", DAI_CAT_DOCUMENTATION, DAI_SRC_HUMAN,
                                 "human");
    struct cls_keystate *ks = cls_state_upsert(s, key);
    struct dai_classification c;
    char hdr[17];

    (void)state;
    fill(&c, DAI_CAT_ENHANCEMENT, DAI_SRC_LLM);
    assert_int_equal(cls_state_set(ks, cls_text_hash("T", "B"), &c, "m9"), 0);
    ks->live = true;
    snprintf(hdr, sizeof(hdr), "%016llx", 0x1ULL);
    /* an older record of ours does not roll a live key back */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), old, strlen(old), hdr, 16, 0), 0);
    /* a human correction of a different text does not apply either */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), human_other,
                                            strlen(human_other), NULL, 0, 0), 0);
    assert_int_equal(cls_state_classification(ks, &c), 0);
    assert_int_equal(c.category, DAI_CAT_ENHANCEMENT);
    /* a human correction of the same text wins */
    assert_int_equal(cls_state_apply_record(s, key, strlen(key), human, strlen(human), NULL, 0, 0),
                     1);
    assert_int_equal(cls_state_classification(ks, &c), 0);
    assert_int_equal(c.category, DAI_CAT_FEATURE_REQUEST);
    assert_int_equal(c.source, DAI_SRC_HUMAN);
    assert_string_equal(c.corrected_by, "alice");
    free(old);
    free(human);
    free(human_other);
    cls_state_free(s);
}

/* A revoked partition's keys go; the other partition's keys and a key with
 * a job attached stay; a key never read back goes with the raw partition that
 * fed it. */
static void test_cls_state_drop_partition(void **state)
{
    struct cls_state *s = cls_state_new();
    char key[64];
    size_t n0 = 0;

    (void)state;
    for (int i = 0; i < 3000; i++) {
        char *v = enriched("o/r", i, "T", "B", DAI_CAT_BUG, DAI_SRC_LLM, "m1");

        snprintf(key, sizeof(key), "o/r:issue:%d", i);
        assert_int_equal(cls_state_apply_record(s, key, strlen(key), v, strlen(v), NULL, 0,
                                                i % 3),
                         1);
        n0 += i % 3 == 0;
        free(v);
    }
    cls_state_upsert(s, "o/r:issue:fed")->partition = 0; /* classified here, not read back */
    cls_state_get(s, "o/r:issue:3")->busy = (struct cls_job *)1;
    assert_int_equal(cls_state_count(s), 3001);
    assert_int_equal(cls_state_drop_partition(s, 0), n0 + 1 - 1);
    assert_int_equal(cls_state_count(s), 3001 - n0);
    assert_non_null(cls_state_get(s, "o/r:issue:3"));
    assert_null(cls_state_get(s, "o/r:issue:0"));
    assert_null(cls_state_get(s, "o/r:issue:fed"));
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "o/r:issue:%d", i);
        if (i % 3 != 0)
            assert_non_null(cls_state_get(s, key));
    }
    assert_int_equal(cls_state_drop_partition(s, 0), 0);
    cls_state_get(s, "o/r:issue:3")->busy = NULL;
    assert_int_equal(cls_state_drop_partition(s, 1), 1000);
    assert_int_equal(cls_state_drop_partition(s, 2), 1000);
    assert_int_equal(cls_state_drop_partition(s, 0), 1);
    assert_int_equal(cls_state_count(s), 0);
    cls_state_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_state_upsert_and_grow),
        cmocka_unit_test(test_cls_state_classification_round_trip),
        cmocka_unit_test(test_cls_state_apply_records),
        cmocka_unit_test(test_cls_state_live_keys_keep_own_state),
        cmocka_unit_test(test_cls_state_drop_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
