/* Unit tests for common/src/utf8.c: validation as RFC 3629 and RFC 6455
 * need it (overlongs, surrogates, truncation, > U+10FFFF), the reason a
 * sequence is refused, character-safe cuts and character counting. */
#include <dispatchai/utf8.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define V(s) dai_utf8_valid(s, sizeof(s) - 1)

static void test_utf8_accepts_valid(void **state)
{
    (void)state;
    assert_true(V(""));
    assert_true(V("plain ascii"));
    assert_true(V("h\xc3\xa9llo"));                 /* é */
    assert_true(V("\xe2\x82\xac"));                 /* € */
    assert_true(V("\xf0\x9f\x98\x80"));             /* emoji */
    assert_true(V("\xed\x9f\xbf"));                 /* U+D7FF, just below surrogates */
    assert_true(V("\xf4\x8f\xbf\xbf"));             /* U+10FFFF */
    assert_true(dai_utf8_valid("a\0b", 3));          /* NUL is a valid code point */
}

static void test_utf8_rejects_invalid(void **state)
{
    (void)state;
    assert_false(V("\x80"));                        /* lone continuation */
    assert_false(V("\xc0\xaf"));                    /* overlong '/' */
    assert_false(V("\xc1\xbf"));                    /* overlong */
    assert_false(V("\xe0\x80\xaf"));                /* overlong 3-byte */
    assert_false(V("\xf0\x80\x80\xaf"));            /* overlong 4-byte */
    assert_false(V("\xed\xa0\x80"));                /* U+D800 surrogate */
    assert_false(V("\xf4\x90\x80\x80"));            /* U+110000 */
    assert_false(V("\xf5\x80\x80\x80"));
    assert_false(V("\xff"));
    assert_false(V("\xe2\x82"));                    /* truncated */
    assert_false(V("ok\xc3"));                      /* truncated at the end */
    assert_false(V("\xe2\x28\xa1"));                /* bad continuation */
}

static void test_utf8_cut_keeps_characters(void **state)
{
    const char *s = "ab\xe2\x82\xac"; /* "ab€", 5 bytes */

    (void)state;
    assert_int_equal(dai_utf8_cut(s, 5, 10), 5);
    assert_int_equal(dai_utf8_cut(s, 5, 5), 5);
    assert_int_equal(dai_utf8_cut(s, 5, 4), 2); /* never half a € */
    assert_int_equal(dai_utf8_cut(s, 5, 3), 2);
    assert_int_equal(dai_utf8_cut(s, 5, 2), 2);
    assert_int_equal(dai_utf8_cut(s, 5, 0), 0);
}

static void test_utf8_seq_lengths_and_reasons(void **state)
{
    (void)state;
    assert_int_equal(dai_utf8_seq("a", 1), 1);
    assert_int_equal(dai_utf8_seq("\xc3\xa9", 2), 2);
    assert_int_equal(dai_utf8_seq("\xe2\x82\xac", 3), 3);
    assert_int_equal(dai_utf8_seq("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(dai_utf8_seq("\xe2\x82\xacz", 4), 3); /* only the first character */
    assert_int_equal(dai_utf8_seq("\x80", 1), DAI_UTF8_BAD_LEAD);
    assert_int_equal(dai_utf8_seq("\xc0\xaf", 2), DAI_UTF8_BAD_LEAD);
    assert_int_equal(dai_utf8_seq("\xff", 1), DAI_UTF8_BAD_LEAD);
    assert_int_equal(dai_utf8_seq("\xe2\x82", 2), DAI_UTF8_TRUNCATED);
    assert_int_equal(dai_utf8_seq("\xed\xa0\x80", 3), DAI_UTF8_BAD_SEQ); /* surrogate */
    assert_int_equal(dai_utf8_seq("\xe2\x28\xa1", 3), DAI_UTF8_BAD_SEQ);
}

static void test_utf8_head_counts_characters(void **state)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac!"; /* "aé€!": 4 characters, 7 bytes */

    (void)state;
    assert_int_equal(dai_utf8_head(s, 7, 0), 0);
    assert_int_equal(dai_utf8_head(s, 7, 1), 1);
    assert_int_equal(dai_utf8_head(s, 7, 2), 3);
    assert_int_equal(dai_utf8_head(s, 7, 3), 6);
    assert_int_equal(dai_utf8_head(s, 7, 4), 7);
    assert_int_equal(dai_utf8_head(s, 7, 99), 7);
    assert_int_equal(dai_utf8_head(s, 2, 9), 2); /* a cut buffer ends where it ends */
}

static void test_utf8_encode_round_trips(void **state)
{
    static const unsigned long cps[] = { 0, 0x41, 0x7F, 0x80, 0xE9, 0x7FF, 0x800, 0x20AC,
                                         0xD7FF, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF };
    unsigned char b[4];

    (void)state;
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        size_t k = dai_utf8_encode(cps[i], b);

        assert_true(k >= 1 && k <= 4);
        assert_int_equal(dai_utf8_seq(b, k), (int)k);
    }
    assert_int_equal(dai_utf8_encode(0x20AC, b), 3);
    assert_memory_equal(b, "\xe2\x82\xac", 3);
    assert_int_equal(dai_utf8_encode(0x110000, b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_accepts_valid),
        cmocka_unit_test(test_utf8_rejects_invalid),
        cmocka_unit_test(test_utf8_cut_keeps_characters),
        cmocka_unit_test(test_utf8_seq_lengths_and_reasons),
        cmocka_unit_test(test_utf8_head_counts_characters),
        cmocka_unit_test(test_utf8_encode_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
