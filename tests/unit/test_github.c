/* Unit tests for the pure parts of the GitHub client: the App JWT (signature
 * verified with the public key, claims), response-header parsing (rate
 * limits, retry-after, ETag, Link), the wait decisions, the token refresh
 * rule, path segments and request bodies. No sockets. */
#include <dispatchai/github.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* base64url (no padding) → bytes; returns the length. */
static size_t unb64url(const char *s, size_t n, unsigned char *out)
{
    char tmp[4096];
    size_t m = 0;
    int len;

    assert_true(n + 4 < sizeof(tmp));
    for (size_t i = 0; i < n; i++)
        tmp[m++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (m % 4)
        tmp[m++] = '=';
    len = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)m);
    assert_true(len >= 0);
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t i = n; i % 4; i++)
        len--;
    return (size_t)len;
}

static void test_github_jwt_verifies_with_public_key(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048), *pub;
    char jwt[DAI_GITHUB_JWT_MAX];
    unsigned char part[2048], sig[1024];
    const char *dot1, *dot2;
    size_t n, siglen;
    BIO *bio;
    EVP_MD_CTX *md;
    json_t *claims, *hdr;

    (void)state;
    assert_non_null(key);
    assert_int_equal(dai_github_jwt("123456", key, 1700000000, jwt, sizeof(jwt)), 0);
    dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strchr(jwt, '='));

    n = unb64url(jwt, (size_t)(dot1 - jwt), part);
    hdr = json_loadb((const char *)part, n, 0, NULL);
    assert_non_null(hdr);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "RS256");
    json_decref(hdr);
    n = unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), part);
    claims = json_loadb((const char *)part, n, 0, NULL);
    assert_non_null(claims);
    assert_int_equal(json_integer_value(json_object_get(claims, "iat")), 1700000000 - 60);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), 1700000000 + 540);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "123456");
    /* GitHub refuses exp more than 10 minutes after iat. */
    assert_true(json_integer_value(json_object_get(claims, "exp")) -
                    json_integer_value(json_object_get(claims, "iat")) <= 600);
    json_decref(claims);

    /* Verify with the public half only, as GitHub does. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pub);
    siglen = unb64url(dot2 + 1, strlen(dot2 + 1), sig);
    assert_int_equal(siglen, 256);
    md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
                                      (size_t)(dot2 - jwt)), 1);
    /* A changed byte of the signed text no longer verifies. */
    jwt[3] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    assert_int_not_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
                                          (size_t)(dot2 - jwt)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
}

static void test_github_jwt_rejects_bad_input(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    char jwt[DAI_GITHUB_JWT_MAX], small[64];

    (void)state;
    assert_int_equal(dai_github_jwt("", key, 1, jwt, sizeof(jwt)), DAI_EINVAL);
    assert_int_equal(dai_github_jwt("12\"3", key, 1, jwt, sizeof(jwt)), DAI_EINVAL);
    assert_int_equal(dai_github_jwt("123", NULL, 1, jwt, sizeof(jwt)), DAI_EINVAL);
    assert_int_equal(dai_github_jwt("123", key, 1, small, sizeof(small)), DAI_ETOOBIG);
    EVP_PKEY_free(key);
}

static void test_github_key_load(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048), *back;
    char path[] = "/tmp/dai-gh-key-XXXXXX", err[256];
    int fd = mkstemp(path);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    {
        /* GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY") files. */
        BIO *bio = BIO_new_fd(fd, BIO_CLOSE);
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL,
                                                              NULL), 1);
        BIO_free(bio);
    }
    back = dai_github_key_load(path, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_null(dai_github_key_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a PEM private key"));
    unlink(path);
    assert_null(dai_github_key_load(path, err, sizeof(err)));
    EVP_PKEY_free(key);
}

static void feed(struct dai_github_meta *m, const char *line)
{
    dai_github_meta_header(m, line, strlen(line), 1000);
}

static void test_github_meta_headers(void **state)
{
    struct dai_github_meta m;

    (void)state;
    dai_github_meta_init(&m);
    assert_int_equal(m.rl_remaining, -1);
    feed(&m, "X-RateLimit-Remaining: 4999\r\n");
    feed(&m, "x-ratelimit-reset:1700003600\r\n");
    feed(&m, "ETag: W/\"abc123\"\r\n");
    feed(&m, "Retry-After: 30\r\n");
    feed(&m, "Content-Type: application/json\r\n");
    assert_int_equal(m.rl_remaining, 4999);
    assert_int_equal(m.rl_reset, 1700003600);
    assert_string_equal(m.etag, "W/\"abc123\"");
    assert_int_equal(m.retry_after_s, 30);
    /* An HTTP date is turned into seconds from now (1000 = 00:16:40 1970). */
    feed(&m, "Retry-After: Thu, 01 Jan 1970 00:17:40 GMT\r\n");
    assert_int_equal(m.retry_after_s, 60);
    feed(&m, "Retry-After: soon\r\n");
    assert_int_equal(m.retry_after_s, -1);
    feed(&m, "x-ratelimit-remaining: -3\r\n");
    assert_int_equal(m.rl_remaining, -1);
    feed(&m, "Link: <https://api.github.com/repositories/1/issues?page=2>; rel=\"next\", "
             "<https://api.github.com/repositories/1/issues?page=9>; rel=\"last\"\r\n");
    assert_string_equal(m.next, "https://api.github.com/repositories/1/issues?page=2");
}

static void test_github_link_next(void **state)
{
    char out[256];
    const char *last_first = "<https://x/i?page=1>; rel=\"prev\", <https://x/i?page=3>; "
                             "rel=\"next\"";
    const char *none = "<https://x/i?page=1>; rel=\"first\", <https://x/i?page=5>; rel=\"last\"";

    (void)state;
    assert_int_equal(dai_github_link_next(last_first, strlen(last_first), out, sizeof(out)), 0);
    assert_string_equal(out, "https://x/i?page=3");
    assert_int_equal(dai_github_link_next(none, strlen(none), out, sizeof(out)), DAI_ENOTFOUND);
    assert_int_equal(dai_github_link_next(last_first, strlen(last_first), out, 5), DAI_ETOOBIG);
    assert_int_equal(dai_github_link_next("", 0, out, sizeof(out)), DAI_ENOTFOUND);
}

static const struct dai_github_policy policy = {
    .max_retries = 3, .max_rate_waits = 4, .max_wait_ms = 3600000, .base_ms = 500,
    .cap_ms = 30000};

static void test_github_decide_retry_after(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w;

    (void)state;
    dai_github_meta_init(&m);
    m.retry_after_s = 7;
    assert_int_equal(dai_github_decide(&policy, 403, &m, "{\"message\":\"You have exceeded a "
                                       "secondary rate limit\"}", 100, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 7000);
    assert_int_equal(dai_github_decide(&policy, 429, &m, NULL, 100, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 7000);
}

static void test_github_decide_remaining_zero_waits_until_reset(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w;

    (void)state;
    dai_github_meta_init(&m);
    m.rl_remaining = 0;
    m.rl_reset = 1300;
    assert_int_equal(dai_github_decide(&policy, 403, &m, "{\"message\":\"API rate limit "
                                       "exceeded for installation\"}", 1000, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 301000);
}

static void test_github_decide_secondary_without_retry_after(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    const char *body = "{\"message\":\"You have exceeded a secondary rate limit and have been "
                       "temporarily blocked from content creation.\"}";
    long long w;

    (void)state;
    dai_github_meta_init(&m);
    m.rl_remaining = 4000;
    assert_int_equal(dai_github_decide(&policy, 403, &m, body, 1000, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 60000);
    assert_int_equal(dai_github_decide(&policy, 403, &m, body, 1000, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 120000);
    assert_int_equal(dai_github_decide(&policy, 403, &m, body, 1000, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    assert_int_equal(w, 240000);
    assert_int_equal(dai_github_decide(&policy, 403, &m, body, 1000, 0, &a, &w),
                     DAI_GH_RETRY_RATE);
    /* max_rate_waits = 4 */
    assert_int_equal(dai_github_decide(&policy, 403, &m, body, 1000, 0, &a, &w),
                     DAI_GH_GIVE_UP);
}

static void test_github_decide_permission_403_is_final(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w;

    (void)state;
    dai_github_meta_init(&m);
    m.rl_remaining = 4000;
    assert_int_equal(dai_github_decide(&policy, 403, &m, "{\"message\":\"Resource not "
                                       "accessible by integration\"}", 1000, 0, &a, &w),
                     DAI_GH_DONE);
    assert_int_equal(dai_github_decide(&policy, 404, &m, NULL, 1000, 0, &a, &w), DAI_GH_DONE);
    assert_int_equal(dai_github_decide(&policy, 422, &m, NULL, 1000, 0, &a, &w), DAI_GH_DONE);
    assert_int_equal(dai_github_decide(&policy, 200, &m, NULL, 1000, 0, &a, &w), DAI_GH_DONE);
    assert_int_equal(dai_github_decide(&policy, 304, &m, NULL, 1000, 0, &a, &w), DAI_GH_DONE);
}

static void test_github_decide_transient_bounded_jitter(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w, prev_floor = 0;

    (void)state;
    dai_github_meta_init(&m);
    for (int i = 0; i < 3; i++) {
        long long base = 500LL << i;
        assert_int_equal(dai_github_decide(&policy, i == 1 ? 0 : 502, &m, NULL, 0,
                                           (unsigned)(i * 7919 + 13), &a, &w),
                         DAI_GH_RETRY_TRANSIENT);
        assert_true(w >= base / 2 && w <= base);
        assert_true(base / 2 > prev_floor);
        prev_floor = base / 2;
    }
    assert_int_equal(dai_github_decide(&policy, 503, &m, NULL, 0, 0, &a, &w), DAI_GH_GIVE_UP);
    /* The jitter differs with the random number. */
    {
        struct dai_github_attempts b = {0}, c = {0};
        long long wb, wc;
        (void)dai_github_decide(&policy, 500, &m, NULL, 0, 1, &b, &wb);
        (void)dai_github_decide(&policy, 500, &m, NULL, 0, 200, &c, &wc);
        assert_int_not_equal(wb, wc);
    }
}

static void test_github_decide_401_renews_once(void **state)
{
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w;

    (void)state;
    dai_github_meta_init(&m);
    assert_int_equal(dai_github_decide(&policy, 401, &m, NULL, 0, 0, &a, &w), DAI_GH_REAUTH);
    assert_int_equal(dai_github_decide(&policy, 401, &m, NULL, 0, 0, &a, &w), DAI_GH_DONE);
}

static void test_github_decide_too_long_wait_gives_up(void **state)
{
    struct dai_github_policy p = policy;
    struct dai_github_meta m;
    struct dai_github_attempts a = {0};
    long long w;

    (void)state;
    p.max_wait_ms = 5000;
    dai_github_meta_init(&m);
    m.retry_after_s = 6;
    assert_int_equal(dai_github_decide(&p, 429, &m, NULL, 0, 0, &a, &w), DAI_GH_GIVE_UP);
}

static void test_github_token_refresh_rule(void **state)
{
    (void)state;
    /* A one-hour token with a 10-minute margin: renewed when a quarter
     * (15 min) is left, the earlier of the two. */
    assert_true(dai_github_token_usable(0, 3600, 0, 600));
    assert_true(dai_github_token_usable(0, 3600, 2699, 600));
    assert_false(dai_github_token_usable(0, 3600, 2700, 600));
    /* A 10-minute token: the margin comes first. */
    assert_true(dai_github_token_usable(0, 600, 0, 120));
    assert_false(dai_github_token_usable(0, 600, 480, 120));
    assert_false(dai_github_token_usable(0, 3600, 3600, 0));
    assert_false(dai_github_token_usable(0, 3600, 4000, 0));
}

static void test_github_parse_time(void **state)
{
    long long t;

    (void)state;
    assert_int_equal(dai_github_parse_time("2016-07-11T22:14:10Z", &t), 0);
    assert_int_equal(t, 1468275250);
    assert_int_equal(dai_github_parse_time("2016-07-11T22:14:10.123Z", &t), 0);
    assert_int_equal(t, 1468275250);
    assert_int_equal(dai_github_parse_time("2016-07-11 22:14", &t), DAI_EPARSE);
    assert_int_equal(dai_github_parse_time("2016-07-11T22:14:10+02:00", &t), DAI_EPARSE);
}

static void test_github_segment_and_bodies(void **state)
{
    struct dai_buf b = {0};
    const char *labels[] = {"bug", "priority: high", "say \"hi\""};

    (void)state;
    assert_int_equal(dai_github_append_segment(&b, "priority: high/ü"), 0);
    assert_string_equal(b.data, "priority%3A%20high%2F%C3%BC");
    assert_int_equal(dai_github_labels_body(labels, 3, &b), 0);
    assert_string_equal(b.data, "{\"labels\":[\"bug\",\"priority: high\",\"say \\\"hi\\\"\"]}");
    assert_int_equal(dai_github_labels_body(labels, 0, &b), 0);
    assert_string_equal(b.data, "{\"labels\":[]}");
    assert_int_equal(dai_github_comment_body("line\nnext", &b), 0);
    assert_string_equal(b.data, "{\"body\":\"line\\u000anext\"}");
    dai_buf_free(&b);
}

static void test_github_auth_mode(void **state)
{
    struct dai_github_config c = {.app_id = "", .private_key_file = "", .token = ""};

    (void)state;
    assert_int_equal(dai_github_auth_mode(&c), DAI_GH_AUTH_NONE);
    c.token = "ghp_x";
    assert_int_equal(dai_github_auth_mode(&c), DAI_GH_AUTH_TOKEN);
    c.app_id = "1";
    assert_int_equal(dai_github_auth_mode(&c), DAI_GH_AUTH_TOKEN);
    c.private_key_file = "/k.pem";
    assert_int_equal(dai_github_auth_mode(&c), DAI_GH_AUTH_APP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_github_jwt_verifies_with_public_key),
        cmocka_unit_test(test_github_jwt_rejects_bad_input),
        cmocka_unit_test(test_github_key_load),
        cmocka_unit_test(test_github_meta_headers),
        cmocka_unit_test(test_github_link_next),
        cmocka_unit_test(test_github_decide_retry_after),
        cmocka_unit_test(test_github_decide_remaining_zero_waits_until_reset),
        cmocka_unit_test(test_github_decide_secondary_without_retry_after),
        cmocka_unit_test(test_github_decide_permission_403_is_final),
        cmocka_unit_test(test_github_decide_transient_bounded_jitter),
        cmocka_unit_test(test_github_decide_401_renews_once),
        cmocka_unit_test(test_github_decide_too_long_wait_gives_up),
        cmocka_unit_test(test_github_token_refresh_rule),
        cmocka_unit_test(test_github_parse_time),
        cmocka_unit_test(test_github_segment_and_bodies),
        cmocka_unit_test(test_github_auth_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
