/* Unit tests for common/src/hmac.c: GitHub's documented test vector, hex
 * coding, "sha256=" header parsing (malformed, truncated, non-hex, case) and
 * verification against several secrets for rotation. */
#include <dispatchai/hex.h>
#include <dispatchai/hmac.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define SECRET "It's a Secret to Everybody"
#define BODY "Hello, World!"
#define VECTOR "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/* HMAC-SHA256(SECRET, "") from Python's hmac module. */
#define EMPTY_VECTOR "66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40"

static int verify1(const char *secret, const char *body, const char *header)
{
    const char *secrets[] = { secret };

    return dai_hmac_verify_any(secrets, 1, body, strlen(body), header, NULL);
}

static void test_hmac_github_vector(void **state)
{
    unsigned char mac[DAI_SHA256_LEN];
    char hex[DAI_SHA256_HEX_LEN + 1], header[72];

    (void)state;
    dai_hmac_sha256(SECRET, strlen(SECRET), BODY, strlen(BODY), mac);
    dai_hex_encode(mac, sizeof(mac), hex);
    assert_string_equal(hex, VECTOR);
    dai_hmac_sign_header(SECRET, BODY, strlen(BODY), header);
    assert_string_equal(header, "sha256=" VECTOR);
    assert_int_equal(verify1(SECRET, BODY, "sha256=" VECTOR), 0);
}

static void test_hmac_uppercase_hex_accepted(void **state)
{
    char upper[] = "sha256=" VECTOR;

    (void)state;
    for (char *p = upper + 7; *p; p++) {
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    }
    assert_int_equal(verify1(SECRET, BODY, upper), 0);
}

static void test_hmac_missing_prefix_rejected(void **state)
{
    (void)state;
    assert_int_equal(verify1(SECRET, BODY, VECTOR), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, "sha1=" VECTOR), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, "SHA256=" VECTOR), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, " sha256=" VECTOR), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, ""), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, NULL), DAI_EBADSIG);
}

static void test_hmac_wrong_length_rejected(void **state)
{
    char longer[] = "sha256=" VECTOR "0";
    char shorter[] = "sha256=" VECTOR;

    (void)state;
    shorter[strlen(shorter) - 1] = '\0';
    assert_int_equal(verify1(SECRET, BODY, longer), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, shorter), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, "sha256=ab"), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, "sha256="), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, "sha256=" VECTOR " "), DAI_EBADSIG);
}

static void test_hmac_non_hex_rejected(void **state)
{
    char bad[] = "sha256=" VECTOR;
    unsigned char out[DAI_SHA256_LEN];

    (void)state;
    bad[20] = 'g';
    assert_int_equal(dai_hmac_parse_signature(bad, out), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, BODY, bad), DAI_EBADSIG);
}

static void test_hmac_wrong_secret_or_body_rejected(void **state)
{
    (void)state;
    assert_int_equal(verify1("not the secret", BODY, "sha256=" VECTOR), DAI_EBADSIG);
    assert_int_equal(verify1(SECRET, "Hello, World?", "sha256=" VECTOR), DAI_EBADSIG);
}

static void test_hmac_empty_body(void **state)
{
    char header[72];

    (void)state;
    dai_hmac_sign_header(SECRET, NULL, 0, header);
    assert_string_equal(header, "sha256=" EMPTY_VECTOR);
    assert_int_equal(verify1(SECRET, "", "sha256=" EMPTY_VECTOR), 0);
    assert_int_equal(verify1(SECRET, "", "sha256=" VECTOR), DAI_EBADSIG);
}

/* The index of the matching secret, or the error. */
static int which_of(const char *const *secrets, size_t n, const char *header)
{
    size_t which = 99;
    int rc = dai_hmac_verify_any(secrets, n, BODY, strlen(BODY), header, &which);

    return rc ? rc : (int)which;
}

static void test_hmac_rotation_returns_matching_index(void **state)
{
    const char *secrets[] = { "previous-secret", SECRET, "next-secret" };
    const char *only_old[] = { "previous-secret", "next-secret" };
    char header[72];

    (void)state;
    assert_int_equal(which_of(secrets, 3, "sha256=" VECTOR), 1);
    dai_hmac_sign_header("next-secret", BODY, strlen(BODY), header);
    assert_int_equal(which_of(secrets, 3, header), 2);
    assert_int_equal(which_of(only_old, 2, "sha256=" VECTOR), DAI_EBADSIG);
    assert_int_equal(which_of(secrets, 0, "sha256=" VECTOR), DAI_EBADSIG);
}

static void test_hmac_empty_secret_never_matches(void **state)
{
    const char *secrets[] = { "", NULL, SECRET };
    char header[72];

    (void)state;
    /* A delivery signed with an empty key must not pass an empty slot. */
    dai_hmac_sign_header("", BODY, strlen(BODY), header);
    assert_int_equal(which_of(secrets, 3, header), DAI_EBADSIG);
    assert_int_equal(which_of(secrets, 3, "sha256=" VECTOR), 2);
}

static void test_hmac_hex_decode(void **state)
{
    unsigned char out[3];

    (void)state;
    assert_int_equal(dai_hex_decode("00fFa0", 6, out, 3), 0);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0xa0);
    assert_int_equal(dai_hex_decode("00ff", 4, out, 3), DAI_EPARSE);
    assert_int_equal(dai_hex_decode("00ffa", 5, out, 3), DAI_EPARSE);
    assert_int_equal(dai_hex_decode("0x0fa0", 6, out, 3), DAI_EPARSE);
}

static void test_hmac_hex_digit_result_convention(void **state)
{
    unsigned v = 99;

    (void)state;
    assert_int_equal(dai_hex_digit('7', &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(dai_hex_digit('b', &v), 0);
    assert_int_equal(v, 11);
    assert_int_equal(dai_hex_digit('F', &v), 0);
    assert_int_equal(v, 15);
    v = 99;
    assert_int_equal(dai_hex_digit('g', &v), DAI_EPARSE);
    assert_int_equal(dai_hex_digit(0, &v), DAI_EPARSE);
    assert_int_equal(dai_hex_digit(0xC3, &v), DAI_EPARSE);
    assert_int_equal(v, 99); /* untouched on failure */
}

static void test_hmac_hex_encode_lowercase(void **state)
{
    const unsigned char in[] = { 0x00, 0xab, 0xcd, 0xef, 0x10 };
    char out[2 * sizeof(in) + 1];

    (void)state;
    dai_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00abcdef10");
}

static void test_hmac_ct_equal(void **state)
{
    (void)state;
    assert_true(dai_ct_equal("abcdef", "abcdef", 6));
    assert_false(dai_ct_equal("abcdef", "abcdeg", 6));
    assert_false(dai_ct_equal("xbcdef", "abcdef", 6));
    assert_true(dai_ct_equal("a", "b", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_github_vector),
        cmocka_unit_test(test_hmac_hex_digit_result_convention),
        cmocka_unit_test(test_hmac_uppercase_hex_accepted),
        cmocka_unit_test(test_hmac_missing_prefix_rejected),
        cmocka_unit_test(test_hmac_wrong_length_rejected),
        cmocka_unit_test(test_hmac_non_hex_rejected),
        cmocka_unit_test(test_hmac_wrong_secret_or_body_rejected),
        cmocka_unit_test(test_hmac_empty_body),
        cmocka_unit_test(test_hmac_rotation_returns_matching_index),
        cmocka_unit_test(test_hmac_empty_secret_never_matches),
        cmocka_unit_test(test_hmac_hex_decode),
        cmocka_unit_test(test_hmac_hex_encode_lowercase),
        cmocka_unit_test(test_hmac_ct_equal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
