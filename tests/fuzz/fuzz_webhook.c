/* Fuzz webhook body handling: form decoding (first byte odd) and
 * normalisation of the payload for the event chosen by the first byte. The
 * oracle: whatever ing_normalize accepts must come out as valid JSON that
 * passes the raw-event schema validator. */
#include "../../ingress/normalize.h"

#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ing_normalizer *norm;
    struct dai_buf form = {.max = 1 << 20}, out = {.max = 1 << 20};
    struct ing_event_info info;
    char err[256];
    const char *payload;
    size_t len;
    enum ing_event ev;

    if (size < 1)
        return 0;
    if (!norm && !(norm = ing_normalizer_new(err, sizeof(err))))
        abort();
    ev = (enum ing_event)((data[0] >> 1) % ING_EV_COUNT);
    payload = (const char *)data + 1;
    len = size - 1;
    if (data[0] & 1) {
        if (ing_form_payload(payload, len, &form, err, sizeof(err)) != 0)
            goto done;
        payload = form.data;
        len = form.len;
    }
    if (ing_normalize(norm, ev, payload, len, "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                      1764410400123LL, &out, &info, err, sizeof(err)) == 0) {
        json_error_t je;
        json_t *v = json_loadb(out.data, out.len, 0, &je);

        if (!v) {
            fprintf(stderr, "normalised output is not JSON: %s\n", je.text);
            abort();
        }
        if (dai_raw_event_validate(v, err, sizeof(err)) != 0) {
            fprintf(stderr, "normalised output fails the schema: %s\n", err);
            abort();
        }
        json_decref(v);
    }
done:
    dai_buf_free(&form);
    dai_buf_free(&out);
    return 0;
}
