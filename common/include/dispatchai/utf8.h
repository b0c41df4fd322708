/* UTF-8 as RFC 3629 defines it (no overlongs, no UTF-16 surrogates, nothing
 * above U+10FFFF): checking one sequence or a whole buffer, and cutting
 * text without splitting a character. The one UTF-8 module of the project:
 * JSON scanning, WebSocket text frames (RFC 6455), log lines and stored or
 * prompted text all use it. A leaf: depends on the C library only. */
#ifndef DISPATCHAI_UTF8_H
#define DISPATCHAI_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Why dai_utf8_seq refused a sequence. */
enum {
    DAI_UTF8_BAD_LEAD = -1,  /* a byte that cannot start a character */
    DAI_UTF8_TRUNCATED = -2, /* the buffer ends inside the character */
    DAI_UTF8_BAD_SEQ = -3    /* a wrong continuation byte (overlong, surrogate, > U+10FFFF) */
};

/* Length (1..4) of the well-formed character at p[0..n) (n >= 1), or one of
 * the negative reasons above. */
int dai_utf8_seq(const void *p, size_t n);

/* Encode code point cp (at most U+10FFFF, surrogates included: the
 * caller decides what it accepts) into out; returns 1..4, or 0 above
 * U+10FFFF. */
size_t dai_utf8_encode(unsigned long cp, unsigned char out[4]);

/* True if [p, p+n) is well-formed UTF-8. NUL is a valid character. */
bool dai_utf8_valid(const void *p, size_t n);

/* Largest length <= max that does not split a character of s[0..n). */
size_t dai_utf8_cut(const char *s, size_t n, size_t max);

/* Bytes taken by the first max_chars characters of s[0..n) (each byte that
 * is not a continuation byte starts one). */
size_t dai_utf8_head(const char *s, size_t n, size_t max_chars);

#endif
