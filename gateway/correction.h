/* Human corrections: a correction request body validated against the
 * issue's current event, turned into the event to publish. Pure. */
#ifndef DISPATCHAI_GW_CORRECTION_H
#define DISPATCHAI_GW_CORRECTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GW_CORRECTION_MAX_BODY 16384

/* Validate a correction request body against the current effective event and
 * build the event to publish: a copy of latest with classification replaced
 * (source "human", corrected_by = who, confidence 1) and fresh
 * processing_metadata. Returns a new event, or NULL with a 400-worthy
 * message in err. */
json_t *gw_correction_build(const json_t *latest, const char *body, size_t len,
                            const char *who, int64_t now_ms, char *err, size_t errlen);

#endif
