/* Unit tests for gateway/text.c: RFC 3339 parsing, base64url, strict
 * integers and ASCII lower-casing. UTF-8 and hashing are common's
 * (test_utf8.c, test_hash.c). */
#include "../../gateway/text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_gw_text_parse_time(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(gw_parse_time_ms("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05Z", &ms), 0);
    assert_int_equal(ms, 1701424805000LL);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05.123Z", &ms), 0);
    assert_int_equal(ms, 1701424805123LL);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05.1Z", &ms), 0);
    assert_int_equal(ms, 1701424805100LL);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05.123456Z", &ms), 0);
    assert_int_equal(ms, 1701424805123LL);
    assert_int_equal(gw_parse_time_ms("2023-12-01T12:00:05+02:00", &ms), 0);
    assert_int_equal(ms, 1701424805000LL);
    assert_int_equal(gw_parse_time_ms("2024-02-29T00:00:00Z", &ms), 0); /* leap day */
    assert_int_equal(gw_parse_time_ms("2023-13-01T10:00:05Z", &ms), DAI_EPARSE);
    assert_int_equal(gw_parse_time_ms("2023-12-01 10:00:05", &ms), DAI_EPARSE);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05Zjunk", &ms), DAI_EPARSE);
    assert_int_equal(gw_parse_time_ms("2023-12-01T10:00:05.Z", &ms), DAI_EPARSE);
    assert_int_equal(gw_parse_time_ms("yesterday", &ms), DAI_EPARSE);
    assert_int_equal(gw_parse_time_ms(NULL, &ms), DAI_EPARSE);
}

static void test_gw_text_b64url_round_trip(void **state)
{
    unsigned char in[64], out[64];
    char enc[100];

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t el = gw_b64url_encode(in, n, enc);

        assert_int_equal(strlen(enc), el);
        assert_null(strchr(enc, '='));
        assert_null(strchr(enc, '+'));
        assert_int_equal(gw_b64url_decode(enc, el, out, sizeof(out)), (int)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(gw_b64url_decode("a", 1, out, sizeof(out)), DAI_EPARSE);
    assert_int_equal(gw_b64url_decode("ab+c", 4, out, sizeof(out)), DAI_EPARSE);
    assert_int_equal(gw_b64url_decode("ab=c", 4, out, sizeof(out)), DAI_EPARSE);
    assert_int_equal(gw_b64url_decode("AB", 2, out, sizeof(out)), DAI_EPARSE); /* stray bits */
    assert_int_equal(gw_b64url_decode("AAAA", 4, out, 2), DAI_EPARSE);        /* over cap */
}

static void test_gw_text_parse_u64_is_strict(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(gw_parse_u64("0", 1, &v), 0);
    assert_true(v == 0);
    assert_int_equal(gw_parse_u64("1234567890123", 13, &v), 0);
    assert_true(v == 1234567890123ULL);
    assert_int_equal(gw_parse_u64("", 0, &v), DAI_EPARSE);
    assert_int_equal(gw_parse_u64("-1", 2, &v), DAI_EPARSE);
    assert_int_equal(gw_parse_u64("+1", 2, &v), DAI_EPARSE);
    assert_int_equal(gw_parse_u64(" 1", 2, &v), DAI_EPARSE);
    assert_int_equal(gw_parse_u64("1x", 2, &v), DAI_EPARSE);
    assert_int_equal(gw_parse_u64("99999999999999999999", 20, &v), DAI_EPARSE);
}

static void test_gw_text_lower(void **state)
{
    char lc[8];

    (void)state;
    gw_lower("AbC-9", 5, lc);
    assert_memory_equal(lc, "abc-9", 5);
}

static void test_gw_text_bigram_sig_never_hides_a_match(void **state)
{
    uint64_t seed = 12345, hs[2], ns[2];
    char hay[200], nd[20];

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t hn = 1 + (size_t)(round % 150), start, nn;

        for (size_t i = 0; i < hn; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            hay[i] = (char)('a' + (seed >> 33) % 27); /* letters and '{' */
        }
        start = (size_t)(seed >> 20) % hn;
        nn = 1 + (size_t)(seed >> 40) % 12;
        if (start + nn > hn)
            nn = hn - start;
        memcpy(nd, hay + start, nn);
        gw_bigram_sig(hay, hn, hs);
        gw_bigram_sig(nd, nn, ns);
        assert_true((hs[0] & ns[0]) == ns[0] && (hs[1] & ns[1]) == ns[1]);
    }
    /* And it does filter: unrelated text rarely has every bit. */
    gw_bigram_sig("slow page after upgrade", 23, hs);
    gw_bigram_sig("zzzznotfound", 12, ns);
    assert_false((hs[0] & ns[0]) == ns[0] && (hs[1] & ns[1]) == ns[1]);
    gw_bigram_sig("x", 1, ns);
    assert_true(ns[0] == 0 && ns[1] == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_text_parse_time),
        cmocka_unit_test(test_gw_text_b64url_round_trip),
        cmocka_unit_test(test_gw_text_parse_u64_is_strict),
        cmocka_unit_test(test_gw_text_lower),
        cmocka_unit_test(test_gw_text_bigram_sig_never_hides_a_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
