/* Unit tests for the ingress's signature policy (ingress/verify.c):
 * GitHub's documented vector, malformed headers, rotation across several
 * secrets, empty bodies and the explicit insecure mode. */
#include "../../ingress/window.h"

#include <dispatchai/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#define SECRET "It's a Secret to Everybody"
#define BODY "Hello, World!"
#define GOOD "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static const char *const one[] = {SECRET};

static int verify(const struct ing_verifier *v, const char *body, const char *hdr)
{
    return ing_verify(v, body, strlen(body), hdr);
}

static void test_ingress_verify_github_vector(void **state)
{
    struct ing_verifier v = {one, 1, false};

    (void)state;
    assert_int_equal(verify(&v, BODY, GOOD), 0);
    assert_int_equal(verify(&v, "Hello, World?", GOOD), DAI_EBADSIG);
    assert_string_equal(ing_verify_reason(GOOD), "signature does not match");
}

static void test_ingress_verify_malformed_headers(void **state)
{
    struct ing_verifier v = {one, 1, false};
    static const char *const bad[] = {
        NULL, "",
        /* missing prefix */
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        /* SHA-1 style prefix */
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        /* too short, too long, non-hex */
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e170",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
        "sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(&v, BODY, bad[i]) != DAI_EBADSIG)
            fail_msg("accepted malformed signature #%zu", i);
        assert_string_not_equal(ing_verify_reason(bad[i]), "signature does not match");
    }
    assert_string_equal(ing_verify_reason(NULL), "missing X-Hub-Signature-256 header");
}

static void test_ingress_verify_uppercase_hex(void **state)
{
    struct ing_verifier v = {one, 1, false};

    (void)state;
    assert_int_equal(verify(&v, BODY, "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C4"
                                      "6F4379C8B043E17"), 0);
}

static void test_ingress_verify_empty_body(void **state)
{
    struct ing_verifier v = {one, 1, false};
    char hdr[72];

    (void)state;
    dai_hmac_sign_header(SECRET, "", 0, hdr);
    assert_int_equal(verify(&v, "", hdr), 0);
    assert_int_equal(verify(&v, BODY, hdr), DAI_EBADSIG);
}

static void test_ingress_verify_rotation(void **state)
{
    static const char *const secrets[] = {"old-secret-2023", "new-secret-2024"};
    struct ing_verifier v = {secrets, 2, false};
    char hdr[72];

    (void)state;
    dai_hmac_sign_header("new-secret-2024", BODY, strlen(BODY), hdr);
    assert_int_equal(verify(&v, BODY, hdr), 0);
    dai_hmac_sign_header("old-secret-2023", BODY, strlen(BODY), hdr);
    assert_int_equal(verify(&v, BODY, hdr), 0);
    dai_hmac_sign_header("other", BODY, strlen(BODY), hdr);
    assert_int_equal(verify(&v, BODY, hdr), DAI_EBADSIG);
}

static void test_ingress_verify_no_secret_refuses(void **state)
{
    static const char *const empty[] = {""};
    struct ing_verifier none = {NULL, 0, false};
    struct ing_verifier blank = {empty, 1, false};
    char hdr[72];

    (void)state;
    dai_hmac_sign_header("", BODY, strlen(BODY), hdr);
    /* No secret, or an empty one, never authenticates anything. */
    assert_int_equal(verify(&none, BODY, hdr), DAI_EBADSIG);
    assert_int_equal(verify(&blank, BODY, hdr), DAI_EBADSIG);
}

static void test_ingress_verify_insecure_mode(void **state)
{
    struct ing_verifier v = {NULL, 0, true};

    (void)state;
    assert_int_equal(verify(&v, BODY, NULL), 0);
    assert_int_equal(verify(&v, BODY, "garbage"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_verify_github_vector),
        cmocka_unit_test(test_ingress_verify_malformed_headers),
        cmocka_unit_test(test_ingress_verify_uppercase_hex),
        cmocka_unit_test(test_ingress_verify_empty_body),
        cmocka_unit_test(test_ingress_verify_rotation),
        cmocka_unit_test(test_ingress_verify_no_secret_refuses),
        cmocka_unit_test(test_ingress_verify_insecure_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
