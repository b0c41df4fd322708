/* HMAC-SHA256 as GitHub uses it for X-Hub-Signature-256: signing,
 * "sha256=<hex>" parsing and constant-time verification. Pure
 * functions; thread-safe. */
#ifndef DISPATCHAI_HMAC_H
#define DISPATCHAI_HMAC_H

#include <dispatchai/err.h>
#include <stdbool.h>
#include <stddef.h>

#define DAI_SHA256_LEN 32
#define DAI_SHA256_HEX_LEN 64

/* out receives DAI_SHA256_LEN bytes. */
void dai_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                     unsigned char out[DAI_SHA256_LEN]);

/* Parse "sha256=<64 hex digits>" (prefix case-sensitive as GitHub sends it,
 * digits in either case). 0 or DAI_EBADSIG. */
DAI_MUST_CHECK int dai_hmac_parse_signature(const char *header, unsigned char out[DAI_SHA256_LEN]);

/* Verify a signature header against n secrets (for rotation); the comparison
 * is constant-time. 0 with the index of the matching secret in *which (may be
 * NULL), or DAI_EBADSIG (missing/malformed header or no match). */
DAI_MUST_CHECK int dai_hmac_verify_any(const char *const *secrets, size_t n, const void *body,
                                       size_t len, const char *header, size_t *which);

/* Write "sha256=<hex>" for body into out (at least 72 bytes). */
void dai_hmac_sign_header(const char *secret, const void *body, size_t len, char out[72]);

/* Constant-time equality of two buffers of the same length. */
bool dai_ct_equal(const void *a, const void *b, size_t n);

#endif
