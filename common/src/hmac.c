/* HMAC-SHA256 for GitHub's X-Hub-Signature-256: one-shot OpenSSL HMAC, hex
 * coding, "sha256=<hex>" parsing and constant-time verification against one
 * or more secrets (rotation). Which secrets to use, and what to do with a
 * mismatch, is the caller's business (ingress/verify.c). */
#include <dispatchai/hex.h>
#include <dispatchai/hmac.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>

#define SIG_PREFIX "sha256="
#define SIG_PREFIX_LEN (sizeof(SIG_PREFIX) - 1)

/* OpenSSL 3 refuses a NULL key or data pointer even with length 0. */
static int hmac_compute(const void *key, size_t keylen, const void *data, size_t len,
                        unsigned char out[DAI_SHA256_LEN])
{
    static const unsigned char empty[1];
    unsigned int outlen = 0;

    if (keylen > 0x7fffffff)
        return DAI_EINVAL;
    if (!HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, len ? data : empty, len, out,
              &outlen) ||
        outlen != DAI_SHA256_LEN)
        return DAI_EINVAL;
    return 0;
}

void dai_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                     unsigned char out[DAI_SHA256_LEN])
{
    /* Cannot fail with a working libcrypto; if it does, the zero MAC never
     * verifies because dai_hmac_verify_any checks hmac_compute's result. */
    if (hmac_compute(key, keylen, data, len, out))
        memset(out, 0, DAI_SHA256_LEN);
}

int dai_hmac_parse_signature(const char *header, unsigned char out[DAI_SHA256_LEN])
{
    size_t len;

    if (!header || strncmp(header, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
        return DAI_EBADSIG;
    header += SIG_PREFIX_LEN;
    len = strlen(header);
    if (dai_hex_decode(header, len, out, DAI_SHA256_LEN))
        return DAI_EBADSIG;
    return 0;
}

int dai_hmac_verify_any(const char *const *secrets, size_t n, const void *body, size_t len,
                        const char *header, size_t *which)
{
    unsigned char want[DAI_SHA256_LEN], got[DAI_SHA256_LEN];
    bool matched = false;
    size_t match = 0;

    if (dai_hmac_parse_signature(header, want))
        return DAI_EBADSIG;
    /* Every secret is tried even after a match so the time taken does not
     * reveal which one matched. Empty secrets are skipped: anyone can sign
     * with an empty key, so it must never authenticate a delivery. */
    for (size_t i = 0; i < n; i++) {
        if (!secrets[i] || !secrets[i][0])
            continue;
        if (hmac_compute(secrets[i], strlen(secrets[i]), body, len, got))
            continue;
        if (CRYPTO_memcmp(got, want, DAI_SHA256_LEN) == 0 && !matched) {
            matched = true;
            match = i;
        }
    }
    OPENSSL_cleanse(got, sizeof(got));
    if (!matched)
        return DAI_EBADSIG;
    if (which)
        *which = match;
    return 0;
}

void dai_hmac_sign_header(const char *secret, const void *body, size_t len, char out[72])
{
    unsigned char mac[DAI_SHA256_LEN];

    dai_hmac_sha256(secret, strlen(secret), body, len, mac);
    memcpy(out, SIG_PREFIX, SIG_PREFIX_LEN);
    dai_hex_encode(mac, DAI_SHA256_LEN, out + SIG_PREFIX_LEN);
}

bool dai_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
