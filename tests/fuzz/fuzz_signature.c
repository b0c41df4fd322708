/* Fuzz the X-Hub-Signature-256 header parser and verifier: the first line of
 * the input is the header value, the rest is the body. */
#include <dispatchai/hmac.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const secrets[] = {"It's a Secret to Everybody", "rotated-secret"};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = malloc(hlen + 1);
    unsigned char mac[DAI_SHA256_LEN];
    size_t which = 0;
    int rc;

    if (!header)
        return 0;
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    rc = dai_hmac_parse_signature(header, mac);
    if (rc != 0 && rc != DAI_EBADSIG)
        abort();
    rc = dai_hmac_verify_any(secrets, 2, nl ? nl + 1 : data + size, nl ? size - hlen - 1 : 0,
                             header, &which);
    if (rc != DAI_EBADSIG && (rc != 0 || which > 1))
        abort();
    free(header);
    return 0;
}
