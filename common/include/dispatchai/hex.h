/* Hexadecimal digits: one digit's value, lower-case encoding and strict
 * decoding. A leaf: depends on the project's result codes only. */
#ifndef DISPATCHAI_HEX_H
#define DISPATCHAI_HEX_H

#include <dispatchai/err.h>
#include <stddef.h>

/* The value of one hex digit (either case) in *out: 0, or DAI_EPARSE (and
 * *out untouched) when c is not one. */
DAI_MUST_CHECK int dai_hex_digit(int c, unsigned *out);

/* Lower-case hex; out holds 2*n + 1 bytes (NUL-terminated). */
void dai_hex_encode(const unsigned char *in, size_t n, char *out);

/* Decode exactly 2*outlen hex digits (either case). 0 or DAI_EPARSE. */
DAI_MUST_CHECK int dai_hex_decode(const char *hex, size_t hexlen, unsigned char *out,
                                  size_t outlen);

#endif
