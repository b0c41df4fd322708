/* The pipeline (pipeline.c): one consumed raw message from intake to its
 * output, in offset order per partition and in event order per key. Pure
 * logic: the transport and the LLM are reached through cls_pipeline_ops. */
#ifndef DISPATCHAI_CLS_PIPELINE_H
#define DISPATCHAI_CLS_PIPELINE_H

#include "metrics.h"
#include "model_name.h"
#include "offline/offline.h"
#include "router.h"
#include "state.h"

#include <dispatchai/buf.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cls_job_phase { CLS_JOB_WAITING = 0, CLS_JOB_IN_FLIGHT, CLS_JOB_DONE };
enum cls_job_out { CLS_OUT_ENRICHED = 0, CLS_OUT_DLQ };

/* One consumed raw message from intake to emission. */
struct cls_job {
    void *msg;                  /* the transport's message (released by ops->release) */
    const char *value;          /* borrowed from msg */
    size_t len;
    const char *mkey;           /* message key, borrowed from msg (may be NULL) */
    size_t mklen;
    int32_t partition;
    int64_t offset;
    long long t0_us;            /* consumed at (dai_mono_us) */
    json_t *raw;                /* parsed event (new) or NULL when dead-lettered */
    struct dai_subject subj;    /* borrowed from raw */
    struct cls_keystate *ks;    /* borrowed from the state table */
    uint64_t text_hash;         /* of this event's title+body */
    uint64_t cls_hash;          /* of the text its classification was made for */
    bool classifying;           /* action asks for classification */
    enum cls_route route;
    enum cls_job_phase phase;
    enum cls_job_out out;
    bool detached;              /* dropped while in flight: freed when the LLM answers */
    char dlq_code[24];          /* low-cardinality reason (metrics label) */
    char dlq_reason[200];       /* the dlq-reason header: code and detail */
    struct dai_classification cls;
    char model_version[CLS_MODEL_LEN];
    int attempts;
    char fallback[32];          /* why an LLM-bound job went offline, "" otherwise */
    struct cls_job *next;       /* partition order */
    struct cls_job *key_next;   /* wait list of its key */
};

/* What the pipeline needs from the outside world. */
struct cls_pipeline_ops {
    /* Send job to the LLM. 0 = in flight (cls_pipeline_llm_done follows),
     * DAI_ENOTFOUND = no LLM configured, other non-zero = unavailable now
     * (breaker open): either way the job is classified offline. */
    int (*llm_submit)(void *ud, struct cls_job *job, const struct cls_issue_text *in);
    /* Give the transport message back (after emission or when dropped). */
    void (*release)(void *ud, void *msg);
    void *ud;
};

struct cls_pipeline_options {
    const struct cls_offline_model *offline; /* borrowed */
    const struct cls_teams *teams;           /* borrowed */
    bool unseen_offline;                     /* classify never-seen issues offline */
    size_t max_event_bytes;                  /* larger raw messages are dead-lettered */
    struct cls_metrics *metrics;             /* borrowed, may be NULL */
    struct cls_pipeline_ops ops;
};

struct cls_pipeline;

struct cls_pipeline *cls_pipeline_new(const struct cls_pipeline_options *opt,
                                      struct cls_state *state, char *err, size_t errlen);
void cls_pipeline_free(struct cls_pipeline *p); /* drops every job */

/* Take one consumed message: parses, routes and either finishes it at once
 * (reuse, offline, dead letter) or parks it behind its key / sends it to the
 * LLM. Never fails: anything unprocessable becomes a dead letter. */
void cls_pipeline_add(struct cls_pipeline *p, void *msg, int32_t partition, int64_t offset,
                      const void *key, size_t klen, const void *value, size_t len);
/* The LLM finished job: ok with *c (source LLM), or not (c NULL, `why` the
 * fallback reason) in which case the job is classified offline. Wakes the
 * key's waiting jobs. */
void cls_pipeline_llm_done(struct cls_pipeline *p, struct cls_job *job,
                           const struct dai_classification *c, const char *model, int attempts,
                           const char *why);
/* The finished prefix of a partition, oldest first: peek the head, and pop it
 * once it has been written out (pop releases the message). */
struct cls_job *cls_pipeline_ready(struct cls_pipeline *p, int32_t partition);
void cls_pipeline_pop(struct cls_pipeline *p, int32_t partition);
/* Forget every job of a partition (revoked or rewound): jobs in flight are
 * detached and their late LLM results ignored; keys fed by the partition stop
 * being live. */
void cls_pipeline_drop_partition(struct cls_pipeline *p, int32_t partition);
/* Jobs consumed but not yet popped, over all partitions / for one. */
size_t cls_pipeline_buffered(const struct cls_pipeline *p);
size_t cls_pipeline_buffered_in(const struct cls_pipeline *p, int32_t partition);
/* Jobs waiting for the LLM in this partition (or all with partition -1). */
size_t cls_pipeline_in_flight(const struct cls_pipeline *p, int32_t partition);
/* Partitions with jobs (for iteration): fills up to n ids, returns the count. */
size_t cls_pipeline_partitions(const struct cls_pipeline *p, int32_t *ids, size_t n);

/* Build the output value of a finished job: the enriched event (new string
 * in out) or the original bytes for a dead letter. 0, -ENOMEM or DAI_ETOOBIG
 * (the caller then dead-letters the job with reason "enriched_too_big"). */
DAI_MUST_CHECK int cls_job_render(const struct cls_job *job, struct dai_buf *out);
/* Turn a job into a dead letter: code is a short label, detail free text. */
void cls_job_make_dlq(struct cls_job *job, const char *code, const char *detail);
/* The text fields of a raw event for the classifiers (borrowed from ev). */
void cls_issue_text_from_event(const json_t *ev, const struct dai_subject *s,
                               struct cls_issue_text *out, const char **labels, size_t max_labels);

#endif
