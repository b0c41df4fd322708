/* Small pure text helpers the gateway needs in several places: RFC 3339
 * parsing, ASCII case folding, base64url and strict integer parsing. No allocation, no I/O. */
#include "text.h"

#include <string.h>

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no timezone state (timegm) is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int gw_parse_time_ms(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
    const char *p;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (!s || strlen(s) < 20)
        return DAI_EPARSE;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return DAI_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return DAI_EPARSE;
    p = s + 19;
    if (*p == '.') {
        int nd = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return DAI_EPARSE;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return DAI_EPARSE;
        p += 6;
    } else {
        return DAI_EPARSE;
    }
    if (*p)
        return DAI_EPARSE;
    if (sec == 60)
        sec = 59; /* a leap second sorts with the second before it */
    *out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
            (int64_t)sign * (oh * 3600 + om * 60)) * 1000 + ms;
    return 0;
}

void gw_lower(const char *s, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t gw_b64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *s = in;
    size_t o = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int gw_b64url_decode(const char *in, size_t n, void *out, size_t cap)
{
    unsigned char *d = out;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (n % 4 == 1)
        return DAI_EPARSE;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);

        if (v < 0)
            return DAI_EPARSE;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return DAI_EPARSE;
            d[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so every byte string has one encoding. */
    if (acc & ((1u << bits) - 1))
        return DAI_EPARSE;
    return (int)o;
}

void gw_bigram_sig(const char *s, size_t n, uint64_t sig[2])
{
    sig[0] = sig[1] = 0;
    for (size_t i = 1; i < n; i++) {
        /* A multiplicative hash of the pair; its top 7 bits pick the bit. */
        uint32_t h = ((uint32_t)(unsigned char)s[i - 1] << 8 | (unsigned char)s[i]) * 2654435761u;
        unsigned bit = h >> 25;

        sig[bit >> 6] |= 1ULL << (bit & 63);
    }
}

int gw_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 19)
        return DAI_EPARSE;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DAI_EPARSE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}
