/* Turning a verified GitHub payload into our raw event (normalize.c) and
 * decoding form-encoded bodies (form.c): the ingress's pure logic, with no
 * I/O, so it is unit-tested and fuzzed without sockets. */
#ifndef DISPATCHAI_INGRESS_NORMALIZE_H
#define DISPATCHAI_INGRESS_NORMALIZE_H

#include "extract.h"

#include <dispatchai/err.h>
#include <dispatchai/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The webhook events the ingress normalises (X-GitHub-Event values). */
enum ing_event {
    ING_EV_ISSUES = 0,
    ING_EV_ISSUE_COMMENT,
    ING_EV_PULL_REQUEST,
    ING_EV_COUNT,
    ING_EV_PING = ING_EV_COUNT, /* answered, never published */
    ING_EV_OTHER                /* anything else: ignored */
};

/* Map an X-GitHub-Event header value to an ing_event (NULL → ING_EV_OTHER). */
enum ing_event ing_event_parse(const char *name);
/* "issues", "issue_comment", "pull_request", "ping", "other" (static). */
const char *ing_event_name(enum ing_event ev);

#define ING_KEY_MAX 320    /* full_name (<= 256 bytes) + ":pull_request:" + number */
#define ING_ACTION_MAX 48

/* What the webhook needs to know about a normalised event (for the Kafka key,
 * the response and the log line). */
struct ing_event_info {
    char key[ING_KEY_MAX];      /* "owner/repo:issue:123" */
    size_t key_len;
    char action[ING_ACTION_MAX]; /* decoded, printable ASCII only (for logs) */
    const char *event_type;     /* "issue", "issue_comment", "pull_request" (static) */
    long long number;
};

/* Compiled field paths; immutable, shared by all workers. */
struct ing_normalizer;
struct ing_normalizer *ing_normalizer_new(char *err, size_t errlen);
void ing_normalizer_free(struct ing_normalizer *n);

/* Validate payload[0..len) and write the raw event (schema version 1,
 * docs/events.md) for event ev into out (replacing its content; out->max caps
 * it). delivery_id must be a validated delivery GUID, receive_ms the receive
 * time. Strings are copied from the payload in their escaped form, so no
 * decoding or re-encoding happens. Returns 0; DAI_EPARSE for a payload that is
 * not a JSON object; DAI_ESCHEMA when a field the event schema requires is
 * missing or has the wrong type (err names it); DAI_ETOOBIG/-ENOMEM from out.
 * Thread-safe. */
DAI_MUST_CHECK int ing_normalize(const struct ing_normalizer *n, enum ing_event ev,
                                 const char *payload, size_t len, const char *delivery_id,
                                 long long receive_ms, struct dai_buf *out,
                                 struct ing_event_info *info, char *err, size_t errlen);

/* ---- form.c ------------------------------------------------------------ */

/* Decode the "payload" field of an application/x-www-form-urlencoded body
 * into out (replacing its content; '+' is a space, %XX a byte). Returns 0;
 * DAI_EPARSE for a malformed escape, a missing payload field or a repeated
 * one; DAI_ETOOBIG/-ENOMEM from out. */
DAI_MUST_CHECK int ing_form_payload(const char *body, size_t len, struct dai_buf *out,
                                    char *err, size_t errlen);

/* True when a Content-Type header value names the media type mt
 * (case-insensitive, parameters such as "; charset=utf-8" ignored). */
bool ing_content_type_is(const char *header, const char *mt);

/* A delivery GUID we accept: 1..64 bytes of [A-Za-z0-9._-]. GitHub sends
 * UUIDs; anything else is refused before it reaches a log, a header or a key. */
#define ING_GUID_MAX 64
bool ing_guid_valid(const char *s);

#endif
