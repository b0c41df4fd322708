/* Human corrections: validate a POST .../correction body against the
 * classification vocabulary and build the enriched event the gateway
 * publishes for it — the current effective event with the corrected
 * classification (source "human", corrected_by = the token's name) and fresh
 * processing metadata. Pure: publishing is publish.c's job. */
#include "correction.h"

#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/hex.h>
#include <dispatchai/json.h>

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static const char *const allowed[] = {"category", "priority", "effort_estimate",
                                      "suggested_assignee", "tags", "summary", "note"};

/* body[key] for an enum parser: NULL if absent, "" (which no parser accepts)
 * if it is not a string. */
static const char *enum_text(const json_t *body, const char *key)
{
    const json_t *v = json_object_get(body, key);

    if (!v)
        return NULL;
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The vocabulary lists come from common's name functions, so the message
 * cannot drift from what the parsers accept. */
static const char *category_at(int i)
{
    return dai_category_name((enum dai_category)i);
}
static const char *priority_at(int i)
{
    return dai_priority_name((enum dai_priority)i);
}
static const char *effort_at(int i)
{
    return dai_effort_name((enum dai_effort)i);
}

/* DAI_EINVAL with "key: must be one of ..." in err. */
static int enum_error(const char *key, const char *(*name_at)(int), int n, char *err,
                      size_t errlen)
{
    char list[160] = "";
    size_t used = 0;

    for (int i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", name_at(i));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    snprintf(err, errlen, "%s: must be one of %s", key, list);
    return DAI_EINVAL;
}

static int string_field(const json_t *body, const char *key, bool nullable, char *dst,
                        size_t cap, char *err, size_t errlen)
{
    const json_t *v = json_object_get(body, key);
    size_t len;

    if (!v)
        return 1; /* absent: keep */
    if (json_is_null(v) && nullable) {
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: must be a string%s", key, nullable ? " or null" : "");
        return DAI_EINVAL;
    }
    len = json_string_length(v);
    if (len >= cap || memchr(json_string_value(v), '\0', len)) {
        snprintf(err, errlen, "%s: at most %zu bytes, no NUL", key, cap - 1);
        return DAI_EINVAL;
    }
    memcpy(dst, json_string_value(v), len + 1);
    return 0;
}

static int tags_field(const json_t *body, struct dai_classification *c, char *err, size_t errlen)
{
    const json_t *v = json_object_get(body, "tags"), *t;
    size_t i;

    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > DAI_MAX_TAGS) {
        snprintf(err, errlen, "tags: must be an array of at most %d strings", DAI_MAX_TAGS);
        return DAI_EINVAL;
    }
    json_array_foreach(v, i, t) {
        size_t len = json_string_length(t);

        if (!json_is_string(t) || len == 0 || len >= DAI_TAG_LEN) {
            snprintf(err, errlen, "tags[%zu]: must be a string of 1 to %d bytes", i,
                     DAI_TAG_LEN - 1);
            return DAI_EINVAL;
        }
    }
    c->n_tags = 0;
    json_array_foreach(v, i, t) memcpy(c->tags[c->n_tags++], json_string_value(t),
                                       json_string_length(t) + 1);
    return 0;
}

/* Apply the body to c; 0 or DAI_EINVAL with the first problem. */
static int apply_body(const json_t *body, struct dai_classification *c, char *err, size_t errlen)
{
    const char *key, *text;
    const json_t *v;
    bool any = false;
    int rc;

    if (!json_is_object(body)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return DAI_EINVAL;
    }
    json_object_foreach((json_t *)body, key, v) {
        bool ok = false;

        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            snprintf(err, errlen, "unknown field \"%.40s\"", key);
            return DAI_EINVAL;
        }
        if (strcmp(key, "note") != 0)
            any = true;
    }
    if (!any) {
        snprintf(err, errlen, "nothing to correct: give at least one of category, priority, "
                 "effort_estimate, suggested_assignee, tags, summary");
        return DAI_EINVAL;
    }
    text = enum_text(body, "category");
    if (text && dai_category_parse(text, &c->category))
        return enum_error("category", category_at, DAI_CAT_COUNT, err, errlen);
    text = enum_text(body, "priority");
    if (text && dai_priority_parse(text, &c->priority))
        return enum_error("priority", priority_at, DAI_PRIO_COUNT, err, errlen);
    text = enum_text(body, "effort_estimate");
    if (text && dai_effort_parse(text, &c->effort))
        return enum_error("effort_estimate", effort_at, DAI_EFFORT_COUNT, err, errlen);
    rc = string_field(body, "suggested_assignee", true, c->suggested_assignee,
                      sizeof(c->suggested_assignee), err, errlen);
    if (rc < 0)
        return rc;
    /* Each distinct name becomes a team of the view: only names a team can
     * have, and not the filter word "none". */
    v = json_object_get(body, "suggested_assignee");
    if (json_is_string(v) && !dai_team_name_valid(json_string_value(v), json_string_length(v))) {
        snprintf(err, errlen, "suggested_assignee: a team name of 1 to %d characters A-Z a-z "
                 "0-9 . _ - (not \"none\"), or null", DAI_TEAM_LEN - 1);
        return DAI_EINVAL;
    }
    rc = string_field(body, "summary", false, c->summary, sizeof(c->summary), err, errlen);
    if (rc < 0)
        return rc;
    c->note[0] = '\0';
    rc = string_field(body, "note", true, c->note, sizeof(c->note), err, errlen);
    if (rc < 0)
        return rc;
    return tags_field(body, c, err, errlen);
}

json_t *gw_correction_build(const json_t *latest, const char *body, size_t len, const char *who,
                            int64_t now_ms, char *err, size_t errlen)
{
    struct dai_classification c;
    struct dai_processing_meta meta = {
        .processed_at_ms = now_ms, .processing_time_ms = 0, .model_version = "human",
        .attempts = 1};
    json_t *req = NULL, *ev = NULL;
    unsigned char rnd[8];
    char ts[32], did[40], hex[17];
    char verr[200];

    req = dai_json_parse(body, len, err, errlen);
    if (!req)
        return NULL;
    if (dai_classification_from_json(json_object_get(latest, "classification"), &c, verr,
                                     sizeof(verr))) {
        snprintf(err, errlen, "the stored classification is invalid: %s", verr);
        goto fail;
    }
    if (apply_body(req, &c, err, errlen))
        goto fail;
    c.source = DAI_SRC_HUMAN;
    c.confidence = 1.0;
    c.reasoning[0] = '\0';
    snprintf(c.corrected_by, sizeof(c.corrected_by), "%s", who);

    ev = dai_enriched_event_new(latest, &c, &meta);
    if (!ev) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A new delivery id and timestamp: this is a new event, not a replay of
     * the one it corrects. */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    dai_hex_encode(rnd, sizeof(rnd), hex);
    snprintf(did, sizeof(did), "correction-%s", hex);
    dai_rfc3339_ms(now_ms, ts);
    if (json_object_set_new(ev, "delivery_id", json_string(did)) ||
        json_object_set_new(ev, "timestamp", json_string(ts))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (dai_enriched_event_validate(ev, verr, sizeof(verr))) {
        snprintf(err, errlen, "the corrected event is invalid: %s", verr);
        goto fail;
    }
    json_decref(req);
    return ev;
fail:
    json_decref(req);
    json_decref(ev);
    return NULL;
}
