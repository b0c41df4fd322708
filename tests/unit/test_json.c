/* Unit tests for common/src/json.c: typed getters and their defaults, dotted
 * paths, compact dumps into a capped buffer, and depth-limited parsing. */
#include <dispatchai/json.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_json_getters_defaults(void **state)
{
    json_t *o = json_pack("{s:s, s:I, s:f, s:b, s:n, s:i}", "s", "text", "i", (json_int_t)1 << 40,
                          "r", 2.5, "b", 1, "null", "small", 7);

    (void)state;
    assert_non_null(o);
    assert_string_equal(dai_json_str(o, "s", "d"), "text");
    assert_string_equal(dai_json_str(o, "i", "d"), "d");
    assert_string_equal(dai_json_str(o, "missing", "d"), "d");
    assert_null(dai_json_str(o, "null", NULL));
    assert_true(dai_json_int(o, "i", 0) == 1LL << 40);
    assert_int_equal(dai_json_int(o, "r", -1), -1); /* reals do not truncate to ints */
    assert_int_equal(dai_json_int(o, "s", -1), -1);
    assert_true(dai_json_real(o, "r", 0) == 2.5);
    assert_true(dai_json_real(o, "small", 0) == 7.0); /* ints convert */
    assert_true(dai_json_real(o, "s", 9.5) == 9.5);
    assert_true(dai_json_bool(o, "b", false));
    assert_false(dai_json_bool(o, "small", false));
    assert_true(dai_json_bool(o, "null", true));
    assert_string_equal(dai_json_str(NULL, "s", "d"), "d");
    json_decref(o);
}

static void test_json_path_lookup(void **state)
{
    json_error_t e;
    json_t *root = json_loads("{\"repository\":{\"owner\":{\"login\":\"testorg\"}},"
                              "\"labels\":[{\"name\":\"bug\"},{\"name\":\"ui\"}]}",
                              0, &e);

    (void)state;
    assert_non_null(root);
    assert_string_equal(json_string_value(dai_json_path(root, "repository.owner.login")),
                        "testorg");
    assert_string_equal(json_string_value(dai_json_path(root, "labels.1.name")), "ui");
    assert_null(dai_json_path(root, "labels.2.name"));
    assert_null(dai_json_path(root, "labels.x"));
    assert_null(dai_json_path(root, "repository.owner.login.more"));
    assert_null(dai_json_path(root, "repository..owner"));
    assert_null(dai_json_path(root, "nope"));
    assert_null(dai_json_path(NULL, "a"));
    assert_ptr_equal(dai_json_path(root, "repository"), json_object_get(root, "repository"));
    json_decref(root);
}

static void test_json_dump_compact_in_order(void **state)
{
    struct dai_buf b = { 0 };
    json_t *o = json_object();

    (void)state;
    assert_int_equal(json_object_set_new(o, "zeta", json_integer(1)), 0);
    assert_int_equal(json_object_set_new(o, "alpha", json_pack("[s,b]", "x", 0)), 0);
    assert_int_equal(json_object_set_new(o, "mid", json_string("é\"")), 0);
    assert_int_equal(dai_json_dump(o, &b), 0);
    assert_string_equal(b.data, "{\"zeta\":1,\"alpha\":[\"x\",false],\"mid\":\"é\\\"\"}");
    /* The buffer is replaced, not appended to. */
    assert_int_equal(dai_json_dump(json_object_get(o, "zeta"), &b), 0);
    assert_string_equal(b.data, "1");
    assert_int_equal(dai_json_dump(NULL, &b), DAI_EINVAL);
    json_decref(o);
    dai_buf_free(&b);
}

static void test_json_dump_respects_cap(void **state)
{
    struct dai_buf b = { .max = 10 };
    json_t *o = json_pack("{s:s}", "key", "a value longer than ten bytes");

    (void)state;
    assert_int_equal(dai_json_dump(o, &b), DAI_ETOOBIG);
    assert_int_equal(b.len, 0);
    json_decref(o);
    dai_buf_free(&b);
}

static void test_json_parse_ok_and_errors(void **state)
{
    char err[128];
    const char *doc = "{\"a\": [1, 2, {\"b\": \"]]]{{{\"}]}";
    json_t *v = dai_json_parse(doc, strlen(doc), err, sizeof(err));

    (void)state;
    assert_non_null(v);
    assert_string_equal(json_string_value(dai_json_path(v, "a.2.b")), "]]]{{{");
    json_decref(v);
    v = dai_json_parse("{\"a\": }", 7, err, sizeof(err));
    assert_null(v);
    assert_non_null(strstr(err, "line 1"));
    v = dai_json_parse("\"just a string\"", 15, err, sizeof(err));
    assert_null(v); /* the top level must be an object or array */
    v = dai_json_parse("{\"a\":1} trailing", 16, err, sizeof(err));
    assert_null(v);
    v = dai_json_parse(NULL, 0, err, sizeof(err));
    assert_null(v);
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);

    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth + i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

static void test_json_parse_rejects_deep_nesting(void **state)
{
    char err[128];
    char *ok = nested(DAI_JSON_MAX_DEPTH), *deep = nested(DAI_JSON_MAX_DEPTH + 1);
    json_t *v;
    /* Brackets inside strings do not count toward the depth. */
    const char *quoted = "{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "[[[[[[[[[[[[\\\"[\"}";

    (void)state;
    v = dai_json_parse(ok, strlen(ok), err, sizeof(err));
    assert_non_null(v);
    json_decref(v);
    v = dai_json_parse(deep, strlen(deep), err, sizeof(err));
    assert_null(v);
    assert_non_null(strstr(err, "nesting deeper than 64"));
    v = dai_json_parse(quoted, strlen(quoted), err, sizeof(err));
    assert_non_null(v);
    json_decref(v);
    free(ok);
    free(deep);
}

/* The NUL rule: \u0000 in a string is read as U+FFFD; "\\u0000" (an escaped
 * backslash, then text) is not a NUL and stays. */
static void test_json_nul_becomes_replacement_char(void **state)
{
    static const char doc[] = "{\"t\":\"a\\u0000b\",\"lit\":\"\\\\u0000\","
                              "\"odd\":\"\\\\\\u0000\"}";
    char text[] = "\"\\u0000\\\\u0000\\\\\\u0000\"";
    char err[128];
    json_t *v;

    (void)state;
    assert_int_equal(dai_json_replace_nul(text, strlen(text)), 2);
    assert_string_equal(text, "\"\\ufffd\\\\u0000\\\\\\ufffd\"");
    v = dai_json_parse(doc, sizeof(doc) - 1, err, sizeof(err));
    assert_non_null(v);
    assert_string_equal(dai_json_str(v, "t", ""), "a\xef\xbf\xbd" "b");
    assert_string_equal(dai_json_str(v, "lit", ""), "\\u0000");
    assert_string_equal(dai_json_str(v, "odd", ""), "\\\xef\xbf\xbd");
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nul_becomes_replacement_char),
        cmocka_unit_test(test_json_getters_defaults),
        cmocka_unit_test(test_json_path_lookup),
        cmocka_unit_test(test_json_dump_compact_in_order),
        cmocka_unit_test(test_json_dump_respects_cap),
        cmocka_unit_test(test_json_parse_ok_and_errors),
        cmocka_unit_test(test_json_parse_rejects_deep_nesting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
