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

int dai_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dai_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t outlen)
{
    if (!hex || outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
        return DAI_EPARSE;
    for (size_t i = 0; i < outlen; i++) {
        int hi = dai_hex_digit((unsigned char)hex[2 * i]);
        int lo = dai_hex_digit((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return DAI_EPARSE;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
