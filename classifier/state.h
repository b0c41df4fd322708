/* Per-key state (state.c): the latest classification of every issue/PR key,
 * fed by our own output and by the read-back of the enriched topic. */
#ifndef DISPATCHAI_CLS_STATE_H
#define DISPATCHAI_CLS_STATE_H

#include "model_name.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header on every enriched message we write: the 16-hex-digit hash of the
 * title+body the classification was computed from. The state rebuild reads it
 * back instead of guessing (a reused classification carries the hash of the
 * text it was made for, not of the event's current text). */
#define CLS_HDR_TEXT_HASH "x-dispatchai-text-hash"

/* The latest classification known for one issue/PR key, plus the bookkeeping
 * the pipeline needs to keep one key's events in order. */
struct cls_keystate {
    char *key;                 /* "owner/repo:issue:123" (new) */
    uint64_t text_hash;        /* of the text `classification` was made for */
    char *classification;      /* compact JSON (new) or NULL when never classified */
    char model_version[CLS_MODEL_LEN];
    int32_t partition;         /* raw partition that last fed this key */
    int32_t home;              /* enriched partition its records were read from (-1 none) */
    bool live;                 /* fed by a partition we own right now */
    struct cls_job *busy;      /* the job whose classification is pending */
    struct cls_job *wait_head, *wait_tail; /* later jobs of this key, in order */
};

struct cls_state;

struct cls_state *cls_state_new(void);
void cls_state_free(struct cls_state *s);
/* Borrowed entry or NULL. */
struct cls_keystate *cls_state_get(struct cls_state *s, const char *key);
/* Borrowed entry, created empty when absent; NULL on OOM. */
struct cls_keystate *cls_state_upsert(struct cls_state *s, const char *key);
/* Store a classification for the key (copies). 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_state_set(struct cls_keystate *ks, uint64_t text_hash,
                                 const struct dai_classification *c, const char *model_version);
/* Read the stored classification back. 0, DAI_ENOTFOUND or DAI_ESCHEMA. */
DAI_MUST_CHECK int cls_state_classification(const struct cls_keystate *ks,
                                            struct dai_classification *out);
size_t cls_state_count(const struct cls_state *s);
/* Visit every entry (the callback must not add or remove entries). */
void cls_state_each(struct cls_state *s, void (*fn)(struct cls_keystate *ks, void *ud), void *ud);
/* Forget the keys of one partition (a revoked one): those read back from
 * enriched partition `partition`, and those never read back that raw
 * partition `partition` fed (same partition counts: the same keys). Keys
 * with pipeline jobs attached stay. Returns how many were dropped. */
size_t cls_state_drop_partition(struct cls_state *s, int32_t partition);

/* Apply one enriched record read back from partition `partition` of the
 * enriched topic (message key, value, and our text-hash header, NULL on records others wrote such as
 * human corrections). Keys we are feeding right now (live) keep our own,
 * newer state; a human correction still applies to them when it is about
 * the same text. Returns 1 when applied, 0 when skipped, DAI_ESCHEMA when
 * unreadable, -ENOMEM. */
int cls_state_apply_record(struct cls_state *s, const char *key, size_t klen, const void *value,
                           size_t len, const char *text_hash_hdr, size_t hdr_len,
                           int32_t partition);

#endif
