/* Fuzz the untrusted-JSON entry point (depth limit before jansson) and the
 * event validators that every consumer runs on what it parsed. */
#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <stdint.h>

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct dai_subject subj;
    struct dai_classification c;
    json_t *v = dai_json_parse((const char *)data, size, err, sizeof(err));

    if (!v)
        return 0;
    /* Results depend on the input; only crashes and sanitizer reports matter. */
    sink = dai_raw_event_validate(v, err, sizeof(err));
    sink = dai_enriched_event_validate(v, err, sizeof(err));
    sink = dai_event_subject(v, &subj);
    sink = dai_classification_from_json(json_object_get(v, "classification"), &c, err,
                                        sizeof(err));
    json_decref(v);
    return 0;
}
