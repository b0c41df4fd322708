/* UTF-8 checks and character-safe cuts (see utf8.h). */
#include <dispatchai/utf8.h>

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

int dai_utf8_seq(const void *p, size_t n)
{
    const unsigned char *s = p;
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return DAI_UTF8_BAD_LEAD; /* continuation, C0/C1 overlongs, F5..FF */
    }
    if (n < need)
        return DAI_UTF8_TRUNCATED;
    if (s[1] < lo || s[1] > hi)
        return DAI_UTF8_BAD_SEQ;
    for (size_t k = 2; k < need; k++)
        if (!is_cont(s[k]))
            return DAI_UTF8_BAD_SEQ;
    return (int)need;
}

size_t dai_utf8_encode(unsigned long cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return 0;
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

bool dai_utf8_valid(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;

    while (i < n) {
        int k;

        if (s[i] < 0x80) { /* the common case, without a call */
            i++;
            continue;
        }
        k = dai_utf8_seq(s + i, n - i);
        if (k < 0)
            return false;
        i += (size_t)k;
    }
    return true;
}

size_t dai_utf8_cut(const char *s, size_t n, size_t max)
{
    size_t len;

    if (n <= max)
        return n;
    len = max;
    /* Back up over continuation bytes to the start of the cut character. */
    while (len > 0 && is_cont((unsigned char)s[len]))
        len--;
    return len;
}

size_t dai_utf8_head(const char *s, size_t n, size_t max_chars)
{
    size_t i = 0;

    for (size_t chars = 0; i < n && chars < max_chars; chars++) {
        i++;
        while (i < n && is_cont((unsigned char)s[i]))
            i++;
    }
    return i;
}
