/* The message contract between the daemons: raw events on issues.raw,
 * enriched events on issues.enriched (docs/events.md, docs/schemas/).
 *
 * Raw event (schema_version 1): schema_version, event_type ("issue",
 * "issue_comment", "pull_request"), action, timestamp (receive time, RFC 3339
 * UTC), delivery_id, repository {id, name, full_name, private, owner {login,
 * id}, html_url}, sender {login, id, type}, optional changes (list of changed
 * field names for "edited"), and the subject:
 *   issue / issue_comment events: issue {id, number, title, body, state,
 *     labels [{name, color}], user {login, id}, assignees [{login, id}],
 *     html_url, created_at, updated_at, is_pull_request}; issue_comment events
 *     add comment {id, body, user, html_url, created_at, updated_at};
 *   pull_request events: pull_request {the issue fields plus draft, merged,
 *     head_ref, base_ref}.
 * Enriched event: the raw event unchanged plus classification {...} and
 * processing_metadata {processed_at, processing_time_ms, model_version,
 * attempts}.
 *
 * Key: "{repository.full_name}:{subject}:{number}" where subject is "issue" or
 * "pull_request" — the thing the event is about, so every event of one issue
 * (including its comments) shares a key, a partition and an order. */
#ifndef DISPATCHAI_EVENTS_H
#define DISPATCHAI_EVENTS_H

#include <dispatchai/err.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DAI_SCHEMA_VERSION 1
#define DAI_SCHEMA_VERSION_STR "1"

/* Kafka header names. */
#define DAI_HDR_DELIVERY "x-github-delivery"
#define DAI_HDR_EVENT "x-github-event"
#define DAI_HDR_HOOK_ID "x-github-hook-id"
#define DAI_HDR_CORRELATION "correlation-id"
#define DAI_HDR_SCHEMA "schema-version"
#define DAI_HDR_CONTENT_TYPE "content-type"
#define DAI_CONTENT_TYPE_JSON "application/json"
/* Dead-letter headers. */
#define DAI_HDR_DLQ_REASON "dlq-reason"
#define DAI_HDR_DLQ_TOPIC "dlq-original-topic"
#define DAI_HDR_DLQ_PARTITION "dlq-original-partition"
#define DAI_HDR_DLQ_OFFSET "dlq-original-offset"
/* Dead letters written by the ingress: the value is GitHub's payload as
 * received (not a raw event), dlq-source says so, dlq-received-at is the
 * receive time (Unix ms) a re-drive gives the event. */
#define DAI_HDR_DLQ_SOURCE "dlq-source"
#define DAI_HDR_DLQ_RECEIVED "dlq-received-at"
#define DAI_DLQ_SOURCE_INGRESS "ingress"

/* ---- classification vocabulary ----------------------------------------- */

enum dai_category {
    DAI_CAT_BUG = 0,
    DAI_CAT_FEATURE_REQUEST,
    DAI_CAT_ENHANCEMENT,
    DAI_CAT_DOCUMENTATION,
    DAI_CAT_QUESTION,
    DAI_CAT_SECURITY,
    DAI_CAT_COUNT
};
enum dai_priority { DAI_PRIO_CRITICAL = 0, DAI_PRIO_HIGH, DAI_PRIO_MEDIUM, DAI_PRIO_LOW, DAI_PRIO_COUNT };
enum dai_effort { DAI_EFFORT_SMALL = 0, DAI_EFFORT_MEDIUM, DAI_EFFORT_LARGE, DAI_EFFORT_EXTRA_LARGE, DAI_EFFORT_COUNT };
enum dai_source { DAI_SRC_LLM = 0, DAI_SRC_OFFLINE, DAI_SRC_HUMAN, DAI_SRC_COUNT };

/* Names as they appear in JSON ("bug", "feature_request", ...). */
const char *dai_category_name(enum dai_category c);
const char *dai_priority_name(enum dai_priority p);
const char *dai_effort_name(enum dai_effort e);
const char *dai_source_name(enum dai_source s);
/* Parse a name (exact, lower case) into *out; 0, or DAI_EINVAL for an
 * unknown name or NULL (then *out is untouched). */
DAI_MUST_CHECK int dai_category_parse(const char *s, enum dai_category *out);
DAI_MUST_CHECK int dai_priority_parse(const char *s, enum dai_priority *out);
DAI_MUST_CHECK int dai_effort_parse(const char *s, enum dai_effort *out);
DAI_MUST_CHECK int dai_source_parse(const char *s, enum dai_source *out);

#define DAI_MAX_TAGS 5
#define DAI_TAG_LEN 32
#define DAI_TEAM_LEN 64
#define DAI_REASONING_LEN 512
#define DAI_SUMMARY_LEN 256
#define DAI_ACTOR_LEN 64
#define DAI_NOTE_LEN 512

/* A team name as suggested_assignee carries it: 1 to DAI_TEAM_LEN - 1 bytes
 * of A-Z a-z 0-9 '.' '_' '-', and never "none" (any case), which filters
 * mean as "no suggested team". */
bool dai_team_name_valid(const char *s, size_t n);

struct dai_classification {
    enum dai_category category;
    enum dai_priority priority;
    enum dai_effort effort;
    char suggested_assignee[DAI_TEAM_LEN]; /* "" = null */
    double confidence;                     /* 0..1 */
    char reasoning[DAI_REASONING_LEN];
    char tags[DAI_MAX_TAGS][DAI_TAG_LEN];
    unsigned n_tags;
    char summary[DAI_SUMMARY_LEN];
    enum dai_source source;
    char corrected_by[DAI_ACTOR_LEN];      /* human corrections only, else "" */
    char note[DAI_NOTE_LEN];               /* human corrections only, else "" */
};

/* New JSON object for a classification (NULL on OOM). */
json_t *dai_classification_to_json(const struct dai_classification *c);
/* Validate and read a classification object: every enum, range and type is
 * checked; strings longer than the fields are truncated at a UTF-8 boundary.
 * 0 or DAI_ESCHEMA with the first problem in err. */
DAI_MUST_CHECK int dai_classification_from_json(const json_t *obj, struct dai_classification *out,
                                                char *err, size_t errlen);

/* ---- events ------------------------------------------------------------- */

/* What an event is about, read from a raw or enriched event (pointers borrowed). */
struct dai_subject {
    const char *type;        /* "issue" or "pull_request" */
    const char *repo;        /* repository.full_name */
    long long number;
    const json_t *object;    /* the issue or pull_request object */
    const char *title;       /* "" when absent */
    const char *body;        /* "" when absent or null */
    const char *state;
};

/* 0 or DAI_ESCHEMA. */
DAI_MUST_CHECK int dai_event_subject(const json_t *ev, struct dai_subject *out);

/* Write the key into out: "owner/repo:issue:123", its length into *len (may
 * be NULL). 0, or DAI_ETOOBIG if it does not fit. */
DAI_MUST_CHECK int dai_event_key(char *out, size_t n, const char *full_name, const char *subject,
                                 long long number, size_t *len);

/* Validate a raw event against schema version 1 (types of every required
 * field; nulls allowed where GitHub sends them). 0 or DAI_ESCHEMA + err. */
DAI_MUST_CHECK int dai_raw_event_validate(const json_t *ev, char *err, size_t errlen);
/* Validate an enriched event (raw part + classification + processing_metadata). */
DAI_MUST_CHECK int dai_enriched_event_validate(const json_t *ev, char *err, size_t errlen);

struct dai_processing_meta {
    long long processed_at_ms;
    long long processing_time_ms;
    const char *model_version;   /* "offline-v1", "gpt-4o-mini", "human" */
    int attempts;
};

/* New enriched event: a shallow copy of raw (members shared by reference)
 * plus classification and processing_metadata. NULL on OOM. */
json_t *dai_enriched_event_new(const json_t *raw, const struct dai_classification *c,
                               const struct dai_processing_meta *meta);

#endif
