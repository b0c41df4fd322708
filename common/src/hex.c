/* Hex digits, encoding and strict decoding (see hex.h). */
#include <dispatchai/hex.h>

#include <stdint.h>

void dai_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int dai_hex_digit(int c, unsigned *out)
{
    if (c >= '0' && c <= '9')
        *out = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *out = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        *out = (unsigned)(c - 'A' + 10);
    else
        return DAI_EPARSE;
    return 0;
}

int dai_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t outlen)
{
    if (!hex || outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
        return DAI_EPARSE;
    for (size_t i = 0; i < outlen; i++) {
        unsigned hi, lo;

        if (dai_hex_digit((unsigned char)hex[2 * i], &hi) ||
            dai_hex_digit((unsigned char)hex[2 * i + 1], &lo))
            return DAI_EPARSE;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
