/* Unit tests for the ingress's strict JSON extractor (ingress/extract.c):
 * grammar, UTF-8 and escape strictness, depth, duplicate keys, span walking,
 * and a differential run against jansson over thousands of mutated real
 * payloads (same accept/reject decision, same decoded strings). */
#include "../../ingress/extract.h"
#include "support/fixture.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PATHS[] = {"action", "issue.title", "issue.number", "issue.labels",
                                    "issue", "repository.owner.login", "issue.body"};
enum { X_ACTION, X_TITLE, X_NUMBER, X_LABELS, X_ISSUE, X_OWNER, X_BODY, X_N };

static struct ing_jpaths *paths(void)
{
    char err[128];
    struct ing_jpaths *p = ing_jpaths_new(PATHS, X_N, err, sizeof(err));
    assert_non_null(p);
    return p;
}

static int run(struct ing_jpaths *p, const char *doc, size_t len, struct ing_span *sp)
{
    char err[160];
    return ing_json_extract(p, doc, len, sp, err, sizeof(err));
}

static int run_s(struct ing_jpaths *p, const char *doc, struct ing_span *sp)
{
    return run(p, doc, strlen(doc), sp);
}

static void test_ingress_extract_finds_paths(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    const char *doc = " {\"action\" : \"opened\", \"issue\":{\"number\":123,\"title\":\"a\\\"b\","
                      "\"labels\":[{\"name\":\"bug\"}],\"body\":null,\"x\":[1,2,{\"title\":1}]},"
                      "\"repository\":{\"owner\":{\"login\":\"octo\"}},\"z\":-1.5e3}\n";
    char buf[32];
    long long n;

    (void)state;
    assert_int_equal(run_s(p, doc, sp), 0);
    assert_int_equal(sp[X_ACTION].type, ING_JT_STRING);
    assert_int_equal(sp[X_ACTION].len, 6);
    assert_memory_equal(doc + sp[X_ACTION].off, "opened", 6);
    assert_true(ing_json_str_eq(doc, &sp[X_ACTION], "opened"));
    assert_int_equal(sp[X_TITLE].flags & ING_JF_ESCAPED, ING_JF_ESCAPED);
    assert_int_equal(ing_json_unescape(doc, &sp[X_TITLE], buf, sizeof(buf)), 3);
    assert_string_equal(buf, "a\"b");
    assert_int_equal(ing_json_int(doc, &sp[X_NUMBER], &n), 0);
    assert_int_equal(n, 123);
    assert_int_equal(sp[X_LABELS].type, ING_JT_ARRAY);
    assert_int_equal(sp[X_ISSUE].type, ING_JT_OBJECT);
    assert_int_equal(doc[sp[X_ISSUE].off], '{');
    assert_int_equal(doc[sp[X_ISSUE].off + sp[X_ISSUE].len - 1], '}');
    assert_int_equal(sp[X_BODY].type, ING_JT_NULL);
    assert_true(ing_json_str_eq(doc, &sp[X_OWNER], "octo"));
    ing_jpaths_free(p);
}

static void test_ingress_extract_absent_and_wrong_types(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];

    (void)state;
    /* issue is a string here, so nothing below it can be found. */
    assert_int_equal(run_s(p, "{\"issue\":\"x\",\"action\":7}", sp), 0);
    assert_int_equal(sp[X_ISSUE].type, ING_JT_STRING);
    assert_int_equal(sp[X_TITLE].type, ING_JT_ABSENT);
    assert_int_equal(sp[X_ACTION].type, ING_JT_NUMBER);
    assert_int_equal(sp[X_ACTION].flags, ING_JF_INT);
    assert_int_equal(sp[X_OWNER].type, ING_JT_ABSENT);
    ing_jpaths_free(p);
}

static void test_ingress_extract_duplicate_keys_last_wins(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    const char *doc = "{\"issue\":{\"title\":\"first\",\"number\":1},\"issue\":{\"number\":2},"
                      "\"action\":\"a\",\"action\":\"b\"}";
    long long n;

    (void)state;
    assert_int_equal(run_s(p, doc, sp), 0);
    /* The second "issue" has no title: the first one's must not leak through. */
    assert_int_equal(sp[X_TITLE].type, ING_JT_ABSENT);
    assert_int_equal(ing_json_int(doc, &sp[X_NUMBER], &n), 0);
    assert_int_equal(n, 2);
    assert_true(ing_json_str_eq(doc, &sp[X_ACTION], "b"));
    ing_jpaths_free(p);
}

static void test_ingress_extract_escaped_key_matches(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];

    (void)state;
    assert_int_equal(run_s(p, "{\"\\u0061ction\":\"opened\"}", sp), 0);
    assert_true(ing_json_str_eq("{\"\\u0061ction\":\"opened\"}", &sp[X_ACTION], "opened"));
    ing_jpaths_free(p);
}

/* \u0000 is valid JSON (GitHub bodies hold it): scanned, not refused; the
 * normaliser applies the NUL rule. */
static void test_ingress_extract_accepts_nul_escape(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];

    (void)state;
    assert_int_equal(run_s(p, "{\"action\":\"a\\u0000b\"}", sp), 0);
    assert_int_equal(sp[X_ACTION].type, ING_JT_STRING);
    ing_jpaths_free(p);
}

static void test_ingress_extract_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "", "   ", "[]", "\"s\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
        "{,}", "{\"a\":1 \"b\":2}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":01}", "{\"a\":-}",
        "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":+1}", "{\"a\":tru}",
        "{\"a\":nul}", "{\"a\":True}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800x\"}",
        "{\"a\":\"tab\there\"}", "{\"a\":1} x", "{\"a\":1}{}", "{'a':1}", "{a:1}",
        "\xef\xbb\xbf{}", "{\"a\":NaN}", "{\"a\":Infinity}",
        /* invalid UTF-8: stray continuation, overlong, surrogate, > U+10FFFF, truncated */
        "{\"a\":\"\x80\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xc1\xbf\"}",
        "{\"a\":\"\xe0\x80\x80\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\xff\"}",
    };
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (run_s(p, bad[i], sp) != DAI_EPARSE)
            fail_msg("accepted malformed document #%zu: %s", i, bad[i]);
    }
    /* An embedded NUL byte after a valid document is trailing data. */
    assert_int_equal(run(p, "{\"a\":1}\0", 8, sp), DAI_EPARSE);
    ing_jpaths_free(p);
}

static void test_ingress_extract_accepts_valid_edge_cases(void **state)
{
    static const char *const good[] = {
        "{}", " \t\r\n{ } \n", "{\"a\":[]}", "{\"a\":{}}", "{\"a\":-0}", "{\"a\":0.5e-7}",
        "{\"a\":1E+2}", "{\"a\":\"\\/\\b\\f\\n\\r\\t\\\\\\\"\"}", "{\"a\":\"\\ud83d\\ude80\"}",
        "{\"a\":\"\xf0\x9f\x9a\x80 \xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf\"}", "{\"\":\"\"}",
        "{\"a\":[true,false,null,1,\"x\",{\"b\":[[]]}]}", "{\"a\":\"\\u00e9\\uFFFF\"}",
    };
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (run_s(p, good[i], sp) != 0)
            fail_msg("rejected valid document #%zu: %s", i, good[i]);
    ing_jpaths_free(p);
}

static void test_ingress_extract_depth_limit(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    char doc[400];
    size_t n = 0;

    (void)state;
    /* {"a": + 63 '[' ... ']' + }: depth 64 is fine, 65 is not. */
    for (int depth = 64; depth <= 65; depth++) {
        n = 0;
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"a\":");
        for (int i = 1; i < depth; i++)
            doc[n++] = '[';
        for (int i = 1; i < depth; i++)
            doc[n++] = ']';
        doc[n++] = '}';
        assert_int_equal(run(p, doc, n, sp), depth == 64 ? 0 : DAI_EPARSE);
    }
    ing_jpaths_free(p);
}

static void test_ingress_extract_walks_arrays_and_objects(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N], el, k, v;
    const char *doc = "{\"issue\":{\"labels\":[ {\"name\":\"bug\", \"color\":\"d73a4a\"} ,"
                      "{\"name\":\"a\\\"b\",\"x\":[1,{\"y\":\"]}\"}]}, 7 ,\"s\",null ]}}";
    uint32_t pos = 0, mpos;
    int n = 0;
    char buf[16];

    (void)state;
    assert_int_equal(run_s(p, doc, sp), 0);
    while (ing_json_array_next(doc, &sp[X_LABELS], &pos, &el)) {
        switch (n++) {
        case 0:
            assert_int_equal(el.type, ING_JT_OBJECT);
            mpos = 0;
            assert_true(ing_json_object_next(doc, &el, &mpos, &k, &v));
            assert_true(ing_json_str_eq(doc, &k, "name"));
            assert_true(ing_json_str_eq(doc, &v, "bug"));
            assert_true(ing_json_object_next(doc, &el, &mpos, &k, &v));
            assert_true(ing_json_str_eq(doc, &k, "color"));
            assert_false(ing_json_object_next(doc, &el, &mpos, &k, &v));
            break;
        case 1:
            mpos = 0;
            assert_true(ing_json_object_next(doc, &el, &mpos, &k, &v));
            assert_int_equal(ing_json_unescape(doc, &v, buf, sizeof(buf)), 3);
            assert_string_equal(buf, "a\"b");
            assert_true(ing_json_object_next(doc, &el, &mpos, &k, &v));
            assert_int_equal(v.type, ING_JT_ARRAY);
            assert_false(ing_json_object_next(doc, &el, &mpos, &k, &v));
            break;
        case 2:
            assert_int_equal(el.type, ING_JT_NUMBER);
            assert_int_equal(el.len, 1);
            break;
        case 3:
            assert_true(ing_json_str_eq(doc, &el, "s"));
            break;
        case 4:
            assert_int_equal(el.type, ING_JT_NULL);
            break;
        }
    }
    assert_int_equal(n, 5);
    ing_jpaths_free(p);
}

static void test_ingress_extract_int_range(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    const char *big = "{\"issue\":{\"number\":92233720368547758070}}";
    const char *real = "{\"issue\":{\"number\":1.0}}";
    long long n;

    (void)state;
    assert_int_equal(run_s(p, big, sp), 0);
    assert_int_equal(ing_json_int(big, &sp[X_NUMBER], &n), DAI_EINVAL);
    assert_int_equal(run_s(p, real, sp), 0);
    assert_int_equal(ing_json_int(real, &sp[X_NUMBER], &n), DAI_EINVAL);
    ing_jpaths_free(p);
}

static void test_ingress_extract_unescape_limits(void **state)
{
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    const char *doc = "{\"action\":\"\\u00e9\\ud83d\\ude80x\"}";
    char buf[16];

    (void)state;
    assert_int_equal(run_s(p, doc, sp), 0);
    assert_int_equal(ing_json_unescape(doc, &sp[X_ACTION], buf, sizeof(buf)), 7);
    assert_string_equal(buf, "\xc3\xa9\xf0\x9f\x9a\x80x");
    assert_int_equal(ing_json_unescape(doc, &sp[X_ACTION], buf, 7), DAI_ETOOBIG);
    ing_jpaths_free(p);
}

static void test_ingress_extract_path_errors(void **state)
{
    static const char *const dup[] = {"a.b", "a.b"};
    static const char *const empty[] = {"a..b"};
    char err[128];

    (void)state;
    assert_null(ing_jpaths_new(dup, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "twice"));
    assert_null(ing_jpaths_new(empty, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "empty"));
}

/*---- differential test against jansson ------------------------------------*/

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Compare the decoded string at a span with jansson's value for the same path. */
static void same_string(const char *doc, const struct ing_span *s, const json_t *jv)
{
    static char buf[1 << 16];
    int n;

    if (!json_is_string(jv)) {
        assert_int_not_equal(s->type, ING_JT_STRING);
        return;
    }
    assert_int_equal(s->type, ING_JT_STRING);
    n = ing_json_unescape(doc, s, buf, sizeof(buf));
    assert_true(n >= 0);
    assert_int_equal((size_t)n, json_string_length(jv));
    assert_memory_equal(buf, json_string_value(jv), (size_t)n);
}

static void test_ingress_extract_matches_jansson_on_mutations(void **state)
{
    static const char *const fixtures[] = {"issues.opened.json", "issue_comment.created.json",
                                           "issues.edited.json", "pull_request.opened.json"};
    static const unsigned char interesting[] = {'"', '\\', '{', '}', '[', ']', ',', ':', '0',
                                                '-', 'e', '.', 'u', 'n', ' ', 0x00, 0x1f, 0x7f,
                                                0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xf0, 0xf5, 0xff};
    struct ing_jpaths *p = paths();
    struct ing_span sp[X_N];
    int accepted = 0, rejected = 0, total = 0;

    (void)state;
    for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
        size_t len = 0;
        char *orig, *doc;

        orig = test_fixture_read(fixtures[f], &len);
        if (!orig)
            fail_msg("cannot read fixture %s", fixtures[f]);
        doc = malloc(len);
        assert_non_null(doc);
        for (int iter = 0; iter < 2500; iter++) {
            json_error_t jerr;
            json_t *j;
            int mut = 1 + (int)(rng() % 3), rc;

            memcpy(doc, orig, len);
            for (int m = 0; m < mut; m++) {
                size_t at = (size_t)(rng() % len);
                doc[at] = (rng() & 1) ? (char)interesting[rng() % sizeof(interesting)]
                                      : (char)(rng() & 0xff);
            }
            /* \u0000 is valid JSON and the extractor takes it (the NUL rule
             * is applied later, by the normaliser). */
            j = json_loadb(doc, len, JSON_ALLOW_NUL, &jerr);
            /* jansson refuses integers beyond long long and reals that
             * overflow; RFC 8259 does not, and neither do we. */
            if (!j && (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow")))
                continue;
            if (j && !json_is_object(j)) {
                json_decref(j);
                continue;
            }
            rc = run(p, doc, len, sp);
            total++;
            if ((rc == 0) != (j != NULL))
                fail_msg("%s mutation %d: extractor %s, jansson %s (%s)", fixtures[f], iter,
                         rc == 0 ? "accepted" : "rejected", j ? "accepted" : "rejected",
                         j ? "" : jerr.text);
            if (j) {
                accepted++;
                same_string(doc, &sp[X_ACTION], json_object_get(j, "action"));
                same_string(doc, &sp[X_TITLE],
                            json_object_get(json_object_get(j, "issue"), "title"));
                same_string(doc, &sp[X_BODY],
                            json_object_get(json_object_get(j, "issue"), "body"));
                same_string(doc, &sp[X_OWNER],
                            json_object_get(json_object_get(json_object_get(j, "repository"),
                                                            "owner"), "login"));
                json_decref(j);
            } else {
                rejected++;
            }
        }
        free(doc);
        free(orig);
    }
    /* Both outcomes must have been exercised for the comparison to mean anything. */
    assert_true(accepted > 500);
    assert_true(rejected > 500);
    print_message("differential: %d documents, %d accepted, %d rejected by both\n", total,
                  accepted, rejected);
    ing_jpaths_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_extract_finds_paths),
        cmocka_unit_test(test_ingress_extract_absent_and_wrong_types),
        cmocka_unit_test(test_ingress_extract_duplicate_keys_last_wins),
        cmocka_unit_test(test_ingress_extract_escaped_key_matches),
        cmocka_unit_test(test_ingress_extract_accepts_nul_escape),
        cmocka_unit_test(test_ingress_extract_rejects_malformed),
        cmocka_unit_test(test_ingress_extract_accepts_valid_edge_cases),
        cmocka_unit_test(test_ingress_extract_depth_limit),
        cmocka_unit_test(test_ingress_extract_walks_arrays_and_objects),
        cmocka_unit_test(test_ingress_extract_int_range),
        cmocka_unit_test(test_ingress_extract_unescape_limits),
        cmocka_unit_test(test_ingress_extract_path_errors),
        cmocka_unit_test(test_ingress_extract_matches_jansson_on_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
