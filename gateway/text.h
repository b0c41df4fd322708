/* Small pure helpers of the gateway: RFC 3339 times, base64url,
 * title bigram signatures, strict decimals (UTF-8 is common's utf8.h). No
 * state, no I/O. */
#ifndef DISPATCHAI_GW_TEXT_H
#define DISPATCHAI_GW_TEXT_H

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3339 timestamp ("2026-01-02T03:04:05.678Z", "+02:00" offsets) to Unix
 * milliseconds. 0 or DAI_EPARSE. */
DAI_MUST_CHECK int gw_parse_time_ms(const char *s, int64_t *out);
/* ASCII lower-casing of n bytes into out (which may equal s). */
void gw_lower(const char *s, size_t n, char *out);
/* base64url without padding. gw_b64url_encode writes 4*ceil(n/3) + 1 bytes
 * at most and returns the length; decode returns the decoded length or
 * DAI_EPARSE (bad character, impossible length, or more than cap bytes). */
size_t gw_b64url_encode(const void *in, size_t n, char *out);
DAI_MUST_CHECK int gw_b64url_decode(const char *in, size_t n, void *out, size_t cap);
/* A 128-bit Bloom signature of the byte bigrams of s: if needle occurs in
 * hay, every bit of sig(needle) is set in sig(hay). Needles under 2 bytes
 * give an empty signature (no filtering). */
void gw_bigram_sig(const char *s, size_t n, uint64_t sig[2]);
/* Strict unsigned decimal (no sign, no spaces, no leading '+'); 0 or DAI_EPARSE. */
DAI_MUST_CHECK int gw_parse_u64(const char *s, size_t n, uint64_t *out);

#endif
