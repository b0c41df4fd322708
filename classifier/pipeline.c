/* The pipeline between consumer and producer: each raw message becomes a job
 * that is parsed (or dead-lettered), routed (classify / reuse / never seen),
 * parked behind pending jobs of its key, classified by the LLM (via ops) or
 * offline, and handed out in offset order per partition — per-key order and
 * one output per input are decided here. No Kafka, no HTTP; single-threaded. */
#include "pipeline.h"

#include "router.h"
#include "state.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 32

struct partq {
    int32_t id;
    struct cls_job *head, *tail;
    size_t n;
    size_t in_flight;
};

struct cls_pipeline {
    struct cls_pipeline_options opt;
    struct cls_offline_ws *ws; /* scratch of the offline classifier (one thread) */
    struct cls_state *state;
    struct partq *parts;
    size_t n_parts, cap_parts;
    size_t buffered;
    struct cls_job *detached; /* dropped while in flight, awaiting their answer */
};

struct cls_pipeline *cls_pipeline_new(const struct cls_pipeline_options *opt,
                                      struct cls_state *state, char *err, size_t errlen)
{
    struct cls_pipeline *p;

    if (!opt->offline || !opt->ops.llm_submit || !opt->ops.release || !state) {
        snprintf(err, errlen, "pipeline: offline model, state and ops are required");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "pipeline: out of memory");
        return NULL;
    }
    p->opt = *opt;
    p->state = state;
    p->ws = cls_offline_ws_new();
    if (!p->ws) {
        snprintf(err, errlen, "pipeline: out of memory");
        free(p);
        return NULL;
    }
    return p;
}

static void job_free(struct cls_pipeline *p, struct cls_job *job)
{
    if (job->msg)
        p->opt.ops.release(p->opt.ops.ud, job->msg);
    json_decref(job->raw);
    free(job);
}

void cls_pipeline_free(struct cls_pipeline *p)
{
    struct cls_job *j, *next;

    if (!p)
        return;
    for (size_t i = 0; i < p->n_parts; i++)
        for (j = p->parts[i].head; j; j = next) {
            next = j->next;
            job_free(p, j);
        }
    for (j = p->detached; j; j = next) {
        next = j->next;
        job_free(p, j);
    }
    free(p->parts);
    cls_offline_ws_free(p->ws);
    free(p);
}

static struct partq *part_find(const struct cls_pipeline *p, int32_t id)
{
    for (size_t i = 0; i < p->n_parts; i++)
        if (p->parts[i].id == id)
            return &p->parts[i];
    return NULL;
}

static struct partq *part_get(struct cls_pipeline *p, int32_t id)
{
    struct partq *q = part_find(p, id);

    if (q)
        return q;
    if (p->n_parts == p->cap_parts) {
        size_t ncap = p->cap_parts ? p->cap_parts * 2 : 8;
        struct partq *v = realloc(p->parts, ncap * sizeof(*v));
        if (!v)
            return NULL;
        p->parts = v;
        p->cap_parts = ncap;
    }
    q = &p->parts[p->n_parts++];
    memset(q, 0, sizeof(*q));
    q->id = id;
    return q;
}

void cls_job_make_dlq(struct cls_job *job, const char *code, const char *detail)
{
    job->out = CLS_OUT_DLQ;
    job->phase = CLS_JOB_DONE;
    snprintf(job->dlq_code, sizeof(job->dlq_code), "%s", code);
    snprintf(job->dlq_reason, sizeof(job->dlq_reason), "%s%s%s", code,
             detail && *detail ? ": " : "", detail ? detail : "");
}

void cls_issue_text_from_event(const json_t *ev, const struct dai_subject *s,
                               struct cls_issue_text *out, const char **labels, size_t max_labels)
{
    const json_t *arr = json_object_get(s->object, "labels"), *l;
    size_t i;

    (void)ev; /* everything we read lives in the subject; kept for future fields */
    memset(out, 0, sizeof(*out));
    out->title = s->title;
    out->title_len = strlen(s->title);
    out->body = s->body;
    out->body_len = strlen(s->body);
    out->repo = s->repo;
    out->is_pull_request = strcmp(s->type, "pull_request") == 0;
    out->labels = labels;
    json_array_foreach(arr, i, l) {
        const char *name = dai_json_str(l, "name", NULL);
        if (name && out->n_labels < max_labels)
            labels[out->n_labels++] = name;
    }
}

static void remember(struct cls_pipeline *p, struct cls_job *job)
{
    job->cls_hash = job->text_hash;
    /* Failure to store only costs a repeat classification later; the output
     * of this job is unaffected, so it is not an error for the event. */
    if (cls_state_set(job->ks, job->text_hash, &job->cls, job->model_version)) {
        char k[DAI_LOG_VALUE_MAX];

        DAI_WARN("state update failed key=%s", dai_log_value(k, sizeof(k), job->ks->key));
    }
    CLS_SET(p->opt.metrics ? p->opt.metrics->state_keys : NULL, (double)cls_state_count(p->state));
}

static void classify_offline(struct cls_pipeline *p, struct cls_job *job, const char *why)
{
    const char *labels[MAX_LABELS];
    struct cls_issue_text in;

    cls_issue_text_from_event(job->raw, &job->subj, &in, labels, MAX_LABELS);
    if (cls_offline_classify_ws(p->opt.offline, p->opt.teams, &in, p->ws, &job->cls)) {
        cls_job_make_dlq(job, "unclassifiable", "the offline classifier refused the text");
        return;
    }
    job->cls.source = DAI_SRC_OFFLINE;
    snprintf(job->model_version, sizeof(job->model_version), "%s",
             cls_offline_version(p->opt.offline));
    snprintf(job->fallback, sizeof(job->fallback), "%s", why ? why : "");
    job->phase = CLS_JOB_DONE;
    remember(p, job);
}

/* Decide what a job whose key has nothing pending needs, and do it. */
static void evaluate(struct cls_pipeline *p, struct cls_job *job)
{
    struct cls_keystate *ks = job->ks;
    const char *labels[MAX_LABELS];
    struct cls_issue_text in;
    int rc;

    job->route = cls_router_decide(job->classifying, ks->classification != NULL, ks->text_hash,
                                   job->text_hash);
    if (job->route == CLS_ROUTE_REUSE) {
        if (cls_state_classification(ks, &job->cls) == 0) {
            snprintf(job->model_version, sizeof(job->model_version), "%s", ks->model_version);
            job->cls_hash = ks->text_hash;
            job->attempts = 0;
            job->phase = CLS_JOB_DONE;
            return;
        }
        job->route = CLS_ROUTE_UNSEEN; /* unreadable entry: classify afresh */
    }
    if (job->route == CLS_ROUTE_UNSEEN && p->opt.unseen_offline) {
        classify_offline(p, job, "");
        return;
    }
    cls_issue_text_from_event(job->raw, &job->subj, &in, labels, MAX_LABELS);
    rc = p->opt.ops.llm_submit(p->opt.ops.ud, job, &in);
    if (rc != 0) {
        /* DAI_ENOTFOUND: no LLM at all, offline is the plan, not a fallback */
        classify_offline(p, job, rc == DAI_ENOTFOUND ? "" : "unavailable");
        return;
    }
    job->phase = CLS_JOB_IN_FLIGHT;
    ks->busy = job;
    part_find(p, job->partition)->in_flight++;
}

/* Run the key's parked jobs until one of them has to wait for the LLM. */
static void key_resume(struct cls_pipeline *p, struct cls_keystate *ks)
{
    while (!ks->busy && ks->wait_head) {
        struct cls_job *job = ks->wait_head;

        ks->wait_head = job->key_next;
        if (!ks->wait_head)
            ks->wait_tail = NULL;
        job->key_next = NULL;
        evaluate(p, job);
    }
}

static void intake(struct cls_pipeline *p, struct cls_job *job)
{
    char err[160], key[512];
    int rc;

    if (p->opt.max_event_bytes && job->len > p->opt.max_event_bytes) {
        snprintf(err, sizeof(err), "%zu bytes, more than %zu", job->len, p->opt.max_event_bytes);
        cls_job_make_dlq(job, "too_big", err);
        return;
    }
    job->raw = dai_json_parse(job->value ? job->value : "", job->len, err, sizeof(err));
    if (!job->raw) {
        cls_job_make_dlq(job, "invalid_json", err);
        return;
    }
    if (dai_raw_event_validate(job->raw, err, sizeof(err)) != 0) {
        cls_job_make_dlq(job, "schema", err);
        return;
    }
    if (dai_event_subject(job->raw, &job->subj) != 0) {
        cls_job_make_dlq(job, "schema", "no issue or pull_request subject");
        return;
    }
    rc = dai_event_key(key, sizeof(key), job->subj.repo, job->subj.type, job->subj.number, NULL);
    if (rc) {
        cls_job_make_dlq(job, "schema", "repository name too long for a key");
        return;
    }
    job->ks = cls_state_upsert(p->state, key);
    if (!job->ks) {
        cls_job_make_dlq(job, "internal", "out of memory");
        return;
    }
    job->ks->live = true;
    job->ks->partition = job->partition;
    job->text_hash = cls_text_hash(job->subj.title, job->subj.body);
    job->classifying = cls_router_is_classifying(dai_json_str(job->raw, "event_type", ""),
                                                 dai_json_str(job->raw, "action", ""),
                                                 json_object_get(job->raw, "changes"));
    if (job->ks->busy) {
        /* An earlier event of this issue is still being classified: this one
         * must see its result (reuse it, or compare text against it). */
        if (job->ks->wait_tail)
            job->ks->wait_tail->key_next = job;
        else
            job->ks->wait_head = job;
        job->ks->wait_tail = job;
        return;
    }
    evaluate(p, job);
}

void cls_pipeline_add(struct cls_pipeline *p, void *msg, int32_t partition, int64_t offset,
                      const void *key, size_t klen, const void *value, size_t len)
{
    struct cls_job *job = calloc(1, sizeof(*job));
    struct partq *q = part_get(p, partition);

    if (!job || !q) {
        /* Without memory for the job we cannot keep the promise of an output
         * for this input; stop so the message is re-read after a restart. */
        free(job);
        p->opt.ops.release(p->opt.ops.ud, msg);
        dai_lifecycle_request_stop("out of memory in the classifier pipeline");
        return;
    }
    job->msg = msg;
    job->partition = partition;
    job->offset = offset;
    job->mkey = key;
    job->mklen = klen;
    job->value = value;
    job->len = len;
    job->t0_us = dai_mono_us();
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->n++;
    p->buffered++;
    CLS_ADD(p->opt.metrics ? p->opt.metrics->consumed : NULL, 1);
    intake(p, job);
}

void cls_pipeline_llm_done(struct cls_pipeline *p, struct cls_job *job,
                           const struct dai_classification *c, const char *model, int attempts,
                           const char *why)
{
    struct cls_keystate *ks;

    if (job->detached) {
        struct cls_job **pp = &p->detached;
        while (*pp && *pp != job)
            pp = &(*pp)->next;
        if (*pp)
            *pp = job->next;
        job_free(p, job);
        return;
    }
    ks = job->ks;
    job->attempts = attempts;
    if (c) {
        job->cls = *c;
        job->cls.source = DAI_SRC_LLM;
        snprintf(job->model_version, sizeof(job->model_version), "%s", model ? model : "");
        job->phase = CLS_JOB_DONE;
        remember(p, job);
    } else {
        classify_offline(p, job, why && *why ? why : "llm_failed");
    }
    part_find(p, job->partition)->in_flight--;
    if (ks->busy == job)
        ks->busy = NULL;
    key_resume(p, ks);
}

struct cls_job *cls_pipeline_ready(struct cls_pipeline *p, int32_t partition)
{
    struct partq *q = part_find(p, partition);

    return (q && q->head && q->head->phase == CLS_JOB_DONE) ? q->head : NULL;
}

void cls_pipeline_pop(struct cls_pipeline *p, int32_t partition)
{
    struct partq *q = part_find(p, partition);
    struct cls_job *job;

    if (!q || !q->head)
        return;
    job = q->head;
    q->head = job->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    p->buffered--;
    job_free(p, job);
}

static void unpark(struct cls_job *job)
{
    struct cls_keystate *ks = job->ks;
    struct cls_job **pp = &ks->wait_head, *prev = NULL;

    while (*pp && *pp != job) {
        prev = *pp;
        pp = &(*pp)->key_next;
    }
    if (!*pp)
        return;
    *pp = job->key_next;
    if (ks->wait_tail == job)
        ks->wait_tail = prev;
}

static void unlive(struct cls_keystate *ks, void *ud)
{
    int32_t partition = *(const int32_t *)ud;

    if (ks->partition == partition)
        ks->live = false;
}

void cls_pipeline_drop_partition(struct cls_pipeline *p, int32_t partition)
{
    struct partq *q = part_find(p, partition);
    struct cls_job *job, *next;
    struct cls_keystate **resume = NULL;
    size_t n_resume = 0;

    cls_state_each(p->state, unlive, &partition);
    if (!q)
        return;
    resume = calloc(q->n ? q->n : 1, sizeof(*resume));
    for (job = q->head; job; job = next) {
        next = job->next;
        job->next = NULL;
        p->buffered--;
        if (job->phase == CLS_JOB_WAITING && job->ks) {
            unpark(job);
        } else if (job->phase == CLS_JOB_IN_FLIGHT) {
            /* The LLM client still holds this job; keep it until it answers. */
            if (job->ks->busy == job) {
                job->ks->busy = NULL;
                if (resume)
                    resume[n_resume++] = job->ks;
            }
            job->detached = true;
            p->opt.ops.release(p->opt.ops.ud, job->msg);
            job->msg = NULL;
            job->next = p->detached;
            p->detached = job;
            continue;
        }
        job_free(p, job);
    }
    /* Keys normally live in one partition; if one also had jobs parked from
     * another partition, they may run now. */
    *q = p->parts[--p->n_parts];
    for (size_t i = 0; i < n_resume; i++)
        key_resume(p, resume[i]);
    free(resume);
}

size_t cls_pipeline_buffered(const struct cls_pipeline *p)
{
    return p->buffered;
}

size_t cls_pipeline_buffered_in(const struct cls_pipeline *p, int32_t partition)
{
    const struct partq *q = part_find(p, partition);

    return q ? q->n : 0;
}

size_t cls_pipeline_in_flight(const struct cls_pipeline *p, int32_t partition)
{
    size_t n = 0;

    if (partition >= 0) {
        const struct partq *q = part_find(p, partition);
        return q ? q->in_flight : 0;
    }
    for (size_t i = 0; i < p->n_parts; i++)
        n += p->parts[i].in_flight;
    return n;
}

size_t cls_pipeline_partitions(const struct cls_pipeline *p, int32_t *ids, size_t n)
{
    size_t i;

    for (i = 0; i < p->n_parts && i < n; i++)
        ids[i] = p->parts[i].id;
    return p->n_parts;
}

int cls_job_render(const struct cls_job *job, struct dai_buf *out)
{
    struct dai_processing_meta meta;
    json_t *ev;
    int rc;

    dai_buf_reset(out);
    if (job->out == CLS_OUT_DLQ)
        return dai_buf_append(out, job->value ? job->value : "", job->len);
    meta.processed_at_ms = dai_now_ms();
    meta.processing_time_ms = (dai_mono_us() - job->t0_us) / 1000;
    meta.model_version = job->model_version;
    meta.attempts = job->attempts;
    ev = dai_enriched_event_new(job->raw, &job->cls, &meta);
    if (!ev)
        return -ENOMEM;
    rc = dai_json_dump(ev, out);
    json_decref(ev);
    return rc;
}
