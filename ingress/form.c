/* Decoding of application/x-www-form-urlencoded webhook bodies: GitHub's
 * "form" content type sends the JSON payload as the single field payload=.
 * The signature covers the encoded body, so decoding happens after
 * verification (webhook.c); this file only decodes. */
#include "normalize.h"

#include <dispatchai/hex.h>

#include <stdio.h>
#include <string.h>

/* Percent-decode s[0..n) into out. */
static int decode(const char *s, size_t n, struct dai_buf *out, char *err, size_t errlen)
{
    size_t i = 0;
    char *w;
    int rc;

    dai_buf_reset(out);
    /* The decoded text is never longer than the encoded one. */
    rc = dai_buf_reserve(out, n);
    if (rc)
        return rc;
    w = out->data;
    while (i < n) {
        const char *pct = memchr(s + i, '%', n - i);
        size_t run = pct ? (size_t)(pct - (s + i)) : n - i;
        unsigned hi, lo;

        for (size_t k = 0; k < run; k++)
            *w++ = s[i + k] == '+' ? ' ' : s[i + k];
        i += run;
        if (i >= n)
            break;
        if (n - i < 3 || dai_hex_digit((unsigned char)s[i + 1], &hi) ||
            dai_hex_digit((unsigned char)s[i + 2], &lo)) {
            snprintf(err, errlen, "form body: malformed %%-escape at offset %zu", i);
            return DAI_EPARSE;
        }
        *w++ = (char)(hi << 4 | lo);
        i += 3;
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int ing_form_payload(const char *body, size_t len, struct dai_buf *out, char *err,
                     size_t errlen)
{
    const char *val = NULL;
    size_t vlen = 0, i = 0;

    while (i < len) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t flen = amp ? (size_t)(amp - (body + i)) : len - i;
        const char *f = body + i;

        /* Field names GitHub sends are plain; "payload" is matched as is. */
        if (flen >= 8 && memcmp(f, "payload=", 8) == 0) {
            if (val) {
                snprintf(err, errlen, "form body: more than one payload field");
                return DAI_EPARSE;
            }
            val = f + 8;
            vlen = flen - 8;
        }
        i += flen + 1;
    }
    if (!val) {
        snprintf(err, errlen, "form body: no payload field");
        return DAI_EPARSE;
    }
    return decode(val, vlen, out, err, errlen);
}
