/* The webhook signature policy: X-Hub-Signature-256 over the exact raw body
 * against every configured secret (rotation), or nothing in the explicit
 * insecure mode. The HMAC itself is common's (dai_hmac_verify_any); this
 * file decides what counts as signed and how a refusal is explained. */
#include "window.h"

#include <dispatchai/hmac.h>

#include <string.h>

int ing_verify(const struct ing_verifier *v, const void *body, size_t len, const char *header)
{
    if (v->skip)
        return 0;
    if (!header || v->n == 0)
        return DAI_EBADSIG;
    return dai_hmac_verify_any(v->secrets, v->n, body, len, header, NULL);
}

const char *ing_verify_reason(const char *header)
{
    size_t n;

    if (!header || !*header)
        return "missing X-Hub-Signature-256 header";
    if (strncmp(header, "sha256=", 7) != 0)
        return "X-Hub-Signature-256 must be sha256=<64 hex digits>";
    n = strlen(header + 7);
    if (n != 64 || strspn(header + 7, "0123456789abcdefABCDEF") != 64)
        return "X-Hub-Signature-256 must be sha256=<64 hex digits>";
    return "signature does not match";
}
