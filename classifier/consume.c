/* The consume-transform-produce loop: feeds the pipeline from the raw topic,
 * shuttles LLM work and answers, and writes each partition's finished prefix
 * (enriched events, dead letters) in a Kafka transaction with the consumed
 * offsets. Owns transaction boundaries, rebalances, abort/rewind,
 * back-pressure and graceful stop; classification is the pipeline's. */
#include "consume.h"

#include "llm_client.h"
#include "metrics.h"
#include "pipeline.h"
#include "rebuild.h"
#include "state.h"
#include "writer.h"

#include <dispatchai/clock.h>
#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/instance.h>
#include <dispatchai/kafka.h>
#include <dispatchai/kafka_ready.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 1024
#define OP_TIMEOUT_MS 30000
#define TXN_RETRIES 5

struct part {
    int32_t id;
    int64_t next;      /* next offset to commit (last written + 1), -1 = nothing yet */
    int64_t committed; /* what the group has for it, -1 = unknown */
};

struct cls_daemon {
    struct cls_runtime rt;
    const struct cls_config *cfg;
    struct cls_metrics *m;
    struct cls_state *state;
    struct cls_pipeline *pipe;
    struct cls_rebuild *rebuild;
    struct dai_consumer *consumer;
    struct dai_producer *producer;
    struct dai_kafka_ready *ready; /* cached broker check for /ready */
    char txn_id[256];
    const char *topics[3];
    struct part parts[MAX_PARTS];
    int n_parts;
    bool txn_open;
    long long txn_started_us;
    int txn_msgs;
    bool paused;
    bool fatal;
    atomic_bool rebuilt;       /* the first read-back of the enriched topic is done */
    struct cls_writer writer;
    long long last_lag_us;
};

/*---- small helpers -------------------------------------------------------*/

static struct part *part_of(struct cls_daemon *d, int32_t id)
{
    for (int i = 0; i < d->n_parts; i++)
        if (d->parts[i].id == id)
            return &d->parts[i];
    return NULL;
}

static void fatal(struct cls_daemon *d, const char *what, const char *err)
{
    DAI_ERROR("%s: %s; stopping (a restart resumes from the last committed transaction)", what,
              err);
    d->fatal = true;
    dai_lifecycle_request_stop(what);
}

/* The partitions we own (new array, *n of them) with their next offsets;
 * only_advanced: just the partitions written since their last commit. */
static struct dai_kafka_pos *offsets_list(struct cls_daemon *d, bool only_advanced, size_t *n)
{
    struct dai_kafka_pos *l = calloc((size_t)d->n_parts + 1, sizeof(*l));

    *n = 0;
    for (int i = 0; l && i < d->n_parts; i++) {
        struct part *p = &d->parts[i];
        if (only_advanced && (p->next < 0 || p->next == p->committed))
            continue;
        l[(*n)++] = (struct dai_kafka_pos){p->id, p->next};
    }
    return l;
}

/*---- the pipeline's view of the LLM ---------------------------------------*/

static int submit(void *ud, struct cls_job *job, const struct cls_issue_text *in)
{
    struct cls_daemon *d = ud;

    if (!d->rt.llm)
        return DAI_ENOTFOUND;
    return cls_llm_submit(d->rt.llm, in, job);
}

static void release(void *ud, void *msg)
{
    (void)ud;
    rd_kafka_message_destroy(msg);
}

static void on_llm_result(void *ud, const struct cls_llm_result *r)
{
    struct cls_daemon *d = ud;

    cls_pipeline_llm_done(d->pipe, r->req_ud, r->ok ? &r->cls : NULL, r->model, r->attempts,
                          r->why);
}

static void drain_llm(struct cls_daemon *d)
{
    if (d->rt.llm)
        cls_llm_drain(d->rt.llm, on_llm_result, d);
}

/*---- transactions -----------------------------------------------------------*/

/* Run one transactional step, retrying what librdkafka calls retriable. */
#define TXN_STEP(rc, call)                                                        \
    do {                                                                          \
        for (int try_ = 0; try_ < TXN_RETRIES; try_++) {                          \
            (rc) = (call);                                                        \
            if ((rc) != DAI_ETXN_RETRY)                                           \
                break;                                                            \
            usleep(100000);                                                       \
        }                                                                         \
    } while (0)

static int begin_txn(struct cls_daemon *d)
{
    char err[512];
    int rc;

    if (d->txn_open)
        return 0;
    TXN_STEP(rc, dai_txn_begin(d->producer, err, sizeof(err)));
    if (rc) {
        fatal(d, "cannot begin a transaction", err);
        return rc;
    }
    d->txn_open = true;
    d->txn_started_us = dai_mono_us();
    d->txn_msgs = 0;
    return 0;
}

static void rewind_to_committed(struct cls_daemon *d);

/* Abort the open transaction. rewind: seek back to the committed offsets and
 * redo everything since (the partitions stay ours); otherwise the caller is
 * giving the partitions up and the next owner redoes it. */
static void abort_txn(struct cls_daemon *d, const char *why, bool rewind)
{
    char err[512];
    int rc;

    DAI_WARN("aborting the transaction: %s", why);
    TXN_STEP(rc, dai_txn_abort(d->producer, OP_TIMEOUT_MS, err, sizeof(err)));
    d->txn_open = false;
    CLS_ADD(d->m->txn, 1, "abort");
    if (rc) {
        fatal(d, "cannot abort the transaction", err);
        return;
    }
    for (int i = 0; i < d->n_parts; i++)
        d->parts[i].next = d->parts[i].committed;
    if (rewind)
        rewind_to_committed(d);
}

/* Send the written prefix's offsets and commit. 0, or an error after which
 * the transaction has been aborted (or the daemon is stopping). */
static int commit_txn(struct cls_daemon *d, bool rewind_on_abort)
{
    struct dai_kafka_pos *offs;
    long long t0 = dai_mono_us();
    char err[512];
    size_t n_offs;
    int rc = 0;

    if (!d->txn_open)
        return 0;
    offs = offsets_list(d, true, &n_offs);
    if (!offs)
        return -ENOMEM;
    /* Wait for the acks before the offsets go in: then nothing of ours can
     * land after a partition's new owner looked at the topic's end. */
    if (dai_producer_flush(d->producer, d->cfg->txn_timeout_ms) > 0)
        rc = DAI_ETXN_ABORT;
    if (!rc && n_offs > 0)
        TXN_STEP(rc, dai_txn_send_offsets(d->producer, d->consumer, d->cfg->common.topic_raw,
                                          offs, n_offs, OP_TIMEOUT_MS, err, sizeof(err)));
    if (!rc)
        TXN_STEP(rc, dai_txn_commit(d->producer, OP_TIMEOUT_MS, err, sizeof(err)));
    else if (rc == DAI_ETXN_ABORT && !err[0])
        snprintf(err, sizeof(err), "messages still unacknowledged after txn.timeout");
    free(offs);
    if (rc == DAI_ETXN_FATAL) {
        fatal(d, "transaction failed", err);
        return rc;
    }
    if (rc) {
        abort_txn(d, err, rewind_on_abort);
        return rc;
    }
    d->txn_open = false;
    for (int i = 0; i < d->n_parts; i++)
        if (d->parts[i].next >= 0)
            d->parts[i].committed = d->parts[i].next;
    CLS_ADD(d->m->txn, 1, "commit");
    CLS_OBSERVE(d->m->txn_duration, (double)(dai_mono_us() - t0) / 1e6);
    DAI_DEBUG("transaction committed messages=%d ms=%lld", d->txn_msgs,
              (dai_mono_us() - t0) / 1000);
    return 0;
}

/* Write every partition's finished prefix into the open transaction. */
static void emit_ready(struct cls_daemon *d)
{
    int32_t ids[MAX_PARTS];
    size_t n = cls_pipeline_partitions(d->pipe, ids, MAX_PARTS);
    char err[64];

    for (size_t i = 0; i < n && i < MAX_PARTS && !d->fatal; i++) {
        struct part *p = part_of(d, ids[i]);
        struct cls_job *job;

        if (!p)
            continue;
        while ((job = cls_pipeline_ready(d->pipe, ids[i])) != NULL) {
            const char *key = job->ks ? job->ks->key : "-";
            int rc;

            if (begin_txn(d))
                return;
            rc = cls_writer_produce(&d->writer, job);
            if (rc) {
                snprintf(err, sizeof(err), "produce failed: %s", dai_strerror(rc));
                abort_txn(d, err, true);
                return;
            }
            cls_writer_log(&d->writer, job, key);
            p->next = job->offset + 1;
            d->txn_msgs++;
            cls_pipeline_pop(d->pipe, ids[i]);
        }
    }
    CLS_SET(d->m->buffered, (double)cls_pipeline_buffered(d->pipe));
}

static bool commit_due(const struct cls_daemon *d)
{
    return d->txn_open && (d->txn_msgs >= d->cfg->txn_max_messages ||
                           dai_mono_us() - d->txn_started_us >=
                               (long long)d->cfg->txn_interval_ms * 1000);
}

/*---- assignment, rewind -------------------------------------------------------*/

/* Ask the group for the committed offsets of our partitions from index
 * `first` on (blocks until pending transactional commits are settled:
 * read_committed consumers ask for stable offsets). Partitions before `first`
 * are left alone: with the cooperative assignor an increment arrives while
 * the partitions we keep have progress in the open transaction, and resetting
 * theirs would commit stale offsets with it (their records then run twice). */
static void fetch_committed(struct cls_daemon *d, int first)
{
    size_t n, skip;
    struct dai_kafka_pos *l = offsets_list(d, false, &n);
    char err[256];
    int rc;

    if (!l)
        return;
    /* offsets_list keeps the order of d->parts: the ones kept come first. */
    skip = first <= 0 ? 0 : (size_t)first < n ? (size_t)first : n;
    if (skip == n) {
        free(l);
        return;
    }
    rc = dai_consumer_committed(d->consumer, d->cfg->common.topic_raw, l + skip, n - skip,
                                OP_TIMEOUT_MS, err, sizeof(err));
    for (size_t i = skip; !rc && i < n; i++) {
        struct part *p = part_of(d, l[i].partition);
        if (p && l[i].offset >= 0)
            p->committed = p->next = l[i].offset;
    }
    if (rc)
        DAI_WARN("cannot read committed offsets: %s", err);
    free(l);
}

static void rewind_to_committed(struct cls_daemon *d)
{
    struct dai_kafka_pos *l;
    char err[256];
    size_t n;

    for (int i = 0; i < d->n_parts; i++)
        cls_pipeline_drop_partition(d->pipe, d->parts[i].id);
    fetch_committed(d, 0);
    l = offsets_list(d, false, &n);
    if (!l)
        return;
    for (size_t i = 0; i < n; i++)
        if (l[i].offset < 0)
            l[i].offset = DAI_KAFKA_OFFSET_BEGINNING;
    if (dai_consumer_seek(d->consumer, d->cfg->common.topic_raw, l, n, OP_TIMEOUT_MS, err,
                          sizeof(err)))
        fatal(d, "cannot rewind to the committed offsets", err);
    free(l);
    /* The state of keys we wrote in the aborted transaction stays as we
     * computed it: those classifications are real, and re-reading them saves
     * LLM calls (docs/classifier.md, "limits"). */
    if (cls_rebuild_catch_up(d->rebuild, NULL, d->cfg->rebuild_timeout_ms, err, sizeof(err)))
        DAI_WARN("state catch-up after abort incomplete: %s", err);
    DAI_INFO("rewound to the committed offsets partitions=%d", d->n_parts);
}

/* Let the LLM calls in flight finish (up to the shutdown timeout) and write
 * what is ready. */
static void finish_in_flight(struct cls_daemon *d)
{
    long long deadline = dai_mono_us() + (long long)d->cfg->common.shutdown_timeout_ms * 1000;

    while (!d->fatal && d->rt.llm && cls_pipeline_in_flight(d->pipe, -1) > 0 &&
           dai_mono_us() < deadline) {
        cls_llm_wait(d->rt.llm, 50);
        drain_llm(d);
        emit_ready(d);
    }
    emit_ready(d);
}

/* Finish what is in flight for the partitions being revoked (bounded), write
 * it, commit, and forget them and their keys. */
static void on_revoke(struct cls_daemon *d, const rd_kafka_topic_partition_list_t *parts)
{

    finish_in_flight(d);
    if (!d->fatal)
        (void)commit_txn(d, false); /* on failure it aborted: the next owner redoes it */
    for (int i = 0; i < parts->cnt; i++) {
        struct part *p = part_of(d, parts->elems[i].partition);
        if (strcmp(parts->elems[i].topic, d->cfg->common.topic_raw) != 0 || !p)
            continue;
        cls_pipeline_drop_partition(d->pipe, p->id);
        *p = d->parts[--d->n_parts];
    }
    cls_rebuild_release(d->rebuild, parts);
    CLS_SET(d->m->state_keys, (double)cls_state_count(d->state));
    DAI_INFO("partitions released keys=%zu", cls_state_count(d->state));
    d->paused = false;
    d->last_lag_us = 0;
    CLS_SET(d->m->buffered, (double)cls_pipeline_buffered(d->pipe));
}

static void on_assign(struct cls_daemon *d, const rd_kafka_topic_partition_list_t *parts)
{
    long long t0 = dai_mono_us(), took_us;
    char err[256];
    int rc, first_new = d->n_parts;

    /* Before the first event of a new partition: read back what the enriched
     * topic holds for it up to now, including what the previous owner
     * committed on its way out. This is the takeover time. */
    rc = cls_rebuild_catch_up(d->rebuild, parts, d->cfg->rebuild_timeout_ms, err, sizeof(err));
    if (rc)
        DAI_WARN("state rebuild incomplete: %s (unchanged issues may be classified again)",
                 err);
    for (int i = 0; i < parts->cnt && d->n_parts < MAX_PARTS; i++) {
        if (strcmp(parts->elems[i].topic, d->cfg->common.topic_raw) != 0 ||
            part_of(d, parts->elems[i].partition))
            continue;
        d->parts[d->n_parts++] = (struct part){parts->elems[i].partition, -1, -1};
    }
    fetch_committed(d, first_new);
    d->paused = false;
    d->last_lag_us = 0; /* publish the new partitions' lag at once */
    took_us = dai_mono_us() - t0;
    CLS_OBSERVE(d->m->takeover, (double)took_us / 1e6);
    CLS_SET(d->m->state_keys, (double)cls_state_count(d->state));
    DAI_INFO("partitions ready partitions=%d keys=%zu catch_up_ms=%lld", d->n_parts,
             cls_state_count(d->state), took_us / 1000);
}

static void on_rebalance(void *ud, const rd_kafka_topic_partition_list_t *parts, bool assigned)
{
    struct cls_daemon *d = ud;

    if (assigned)
        on_assign(d, parts);
    else
        on_revoke(d, parts);
}

/*---- back-pressure and lag ------------------------------------------------------*/

static void set_paused(struct cls_daemon *d, bool pause)
{
    struct dai_kafka_pos *l;
    size_t n;

    if (pause == d->paused || d->n_parts == 0)
        return;
    l = offsets_list(d, false, &n);
    if (!l)
        return;
    /* A failure leaves fetching as it was; the next call tries again. */
    if (dai_consumer_pause(d->consumer, d->cfg->common.topic_raw, l, n, pause)) {
        free(l);
        return;
    }
    free(l);
    d->paused = pause;
    DAI_DEBUG("consumption %s buffered=%zu", pause ? "paused" : "resumed",
              cls_pipeline_buffered(d->pipe));
}

static void publish_lag(struct cls_daemon *d)
{
    char pid[16];

    if (dai_mono_us() - d->last_lag_us < 1000000)
        return;
    d->last_lag_us = dai_mono_us();
    dai_metric_reset(d->m->lag);
    for (int i = 0; i < d->n_parts; i++) {
        int64_t lo = -1, hi = -1, base = d->parts[i].committed;

        /* cached from fetch responses: no broker round-trip here */
        if (dai_consumer_cached_watermarks(d->consumer, d->cfg->common.topic_raw,
                                           d->parts[i].id, &lo, &hi))
            continue;
        if (base < 0)
            base = lo;
        snprintf(pid, sizeof(pid), "%d", (int)d->parts[i].id);
        CLS_SET(d->m->lag, (double)(hi > base ? hi - base : 0), pid);
    }
    CLS_SET(d->m->state_keys, (double)cls_state_count(d->state));
}

/*---- lifecycle ------------------------------------------------------------------*/

static const struct dai_kv producer_defaults[] = {
    {"linger.ms", "5"},
};
/* Room for headers and framing above kafka.max_message_bytes, which we
 * enforce ourselves: a message we decided to send must never be refused
 * locally (that would abort and redo the same transaction forever). */
#define MSG_OVERHEAD (64 * 1024)

struct cls_daemon *cls_daemon_new(const struct cls_runtime *rt, char *err, size_t errlen)
{
    const struct cls_config *cfg = rt->cfg;
    struct cls_daemon *d = calloc(1, sizeof(*d));
    char timeout[32];
    struct dai_kv pdefaults[3];
    char maxbytes[32];
    static const struct dai_kv cdefaults[] = {
        /* A restarted instance must not wait 45 s for its dead self's session. */
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
        /* Partitions added to issues.raw join the group's assignment at the next metadata
         * refresh (librdkafka's default is 5 min); they are read from the beginning. */
        {"topic.metadata.refresh.interval.ms", "10000"},
    };
    struct cls_pipeline_options po;
    char e2[512];
    int rc;

    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->rt = *rt;
    d->cfg = cfg;
    d->m = rt->metrics;
    d->topics[0] = cfg->common.topic_raw;
    d->topics[1] = cfg->common.topic_enriched;
    d->topics[2] = cfg->common.topic_dlq;
    /* Unique per instance by default: correctness does not need a stable id
     * (KIP-447, docs/classifier.md), and two instances sharing one would
     * fence each other forever. */
    if (cfg->transactional_id[0])
        snprintf(d->txn_id, sizeof(d->txn_id), "%s", cfg->transactional_id);
    else
        dai_instance_name("dispatchai-classifier", d->txn_id, sizeof(d->txn_id));
    d->state = cls_state_new();
    if (!d->state) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    po = (struct cls_pipeline_options){
        .offline = rt->offline,
        .teams = rt->teams,
        .unseen_offline = strcmp(cfg->unseen, "offline") == 0,
        .max_event_bytes = cfg->max_message_bytes,
        .metrics = rt->metrics,
        .ops = {.llm_submit = submit, .release = release, .ud = d},
    };
    d->pipe = cls_pipeline_new(&po, d->state, err, errlen);
    if (!d->pipe)
        goto fail;
    snprintf(timeout, sizeof(timeout), "%d", cfg->txn_timeout_ms);
    pdefaults[0] = producer_defaults[0];
    pdefaults[1] = (struct dai_kv){"transaction.timeout.ms", timeout};
    snprintf(maxbytes, sizeof(maxbytes), "%zu", cfg->max_message_bytes + MSG_OVERHEAD);
    pdefaults[2] = (struct dai_kv){"message.max.bytes", maxbytes};
    d->producer = dai_producer_new(
        &(struct dai_producer_options){.cfg = &cfg->common,
                                       .client_id = "dispatchai-classifier",
                                       .defaults = pdefaults,
                                       .n_defaults = 3,
                                       .transactional_id = d->txn_id,
                                       .metrics = rt->registry,
                                       .poll_thread = true},
        err, errlen);
    if (!d->producer)
        goto fail;
    d->writer = (struct cls_writer){.cfg = cfg, .m = rt->metrics, .producer = d->producer};
    d->ready = dai_kafka_ready_new(dai_producer_handle(d->producer), d->topics, 3, err, errlen);
    if (!d->ready)
        goto fail;
    if (cfg->common.ensure_topics) {
        rc = dai_kafka_ensure_topics(dai_producer_handle(d->producer), &cfg->common, d->topics,
                                     3, OP_TIMEOUT_MS, e2, sizeof(e2));
        if (rc) {
            snprintf(err, errlen, "cannot create topics: %s", e2);
            goto fail;
        }
    }
    /* Fences a previous incarnation with our transactional.id and aborts
     * whatever it left open (after kill -9, say). */
    TXN_STEP(rc, dai_txn_init(d->producer, OP_TIMEOUT_MS, e2, sizeof(e2)));
    if (rc) {
        snprintf(err, errlen, "cannot initialise transactions (transactional.id %s): %s",
                 d->txn_id, e2);
        goto fail;
    }
    d->rebuild = cls_rebuild_new(cfg, d->state, rt->metrics, err, errlen);
    if (!d->rebuild)
        goto fail;
    d->consumer = dai_consumer_new(
        &(struct dai_consumer_options){.cfg = &cfg->common,
                                       .client_id = "dispatchai-classifier",
                                       .group_id = cfg->group_id,
                                       .defaults = cdefaults,
                                       .n_defaults = sizeof(cdefaults) / sizeof(cdefaults[0]),
                                       .topics = d->topics,
                                       .n_topics = 1,
                                       .subscribe = true,
                                       .read_committed = true,
                                       .auto_commit = false,
                                       .offset_reset = "earliest",
                                       .on_rebalance = on_rebalance,
                                       .ud = d,
                                       .metrics = rt->registry},
        err, errlen);
    if (!d->consumer)
        goto fail;
    DAI_INFO("classifier consuming topic=%s group=%s transactional_id=%s llm=%s",
             cfg->common.topic_raw, cfg->group_id, d->txn_id, rt->llm ? "on" : "off");
    return d;
fail:
    cls_daemon_free(d);
    return NULL;
}

bool cls_daemon_ready(void *ud, char *why, size_t n)
{
    struct cls_daemon *d = ud;

    if (!atomic_load(&d->rebuilt)) {
        snprintf(why, n, "rebuilding the classification state from the enriched topic");
        return false;
    }
    return dai_kafka_ready_check(d->ready, why, n);
}

/* Take what the consumer has, up to a batch, without waiting once started. */
static void intake(struct cls_daemon *d, int timeout_ms)
{
    rd_kafka_message_t *m = dai_consumer_poll(d->consumer, timeout_ms);
    int n = 0;

    while (m) {
        if (m->err || !part_of(d, m->partition) ||
            strcmp(rd_kafka_topic_name(m->rkt), d->cfg->common.topic_raw) != 0) {
            /* errors were logged by dai_consumer_poll; EOF is just a marker */
            rd_kafka_message_destroy(m);
        } else {
            cls_pipeline_add(d->pipe, m, m->partition, m->offset, m->key, m->key_len,
                             m->payload, m->len);
        }
        if (d->fatal || ++n >= 1000 ||
            cls_pipeline_buffered(d->pipe) >= (size_t)d->cfg->max_buffered)
            break;
        m = dai_consumer_poll(d->consumer, 0);
    }
}

/* After SIGTERM: let in-flight calls finish for up to shutdown_timeout,
 * write what is done and commit. The rest is redone by whoever comes next. */
static void drain(struct cls_daemon *d)
{
    set_paused(d, true);
    finish_in_flight(d);
    if (!d->fatal)
        (void)commit_txn(d, false);
    DAI_INFO("stopping: drained, %zu events left for the next owner",
             cls_pipeline_buffered(d->pipe));
}

/* Read the whole enriched topic once before taking work, so the first
 * assignment only has to catch up on the last moments. */
static void initial_rebuild(struct cls_daemon *d)
{
    long long t0 = dai_mono_us();
    char err[256];

    if (cls_rebuild_catch_up(d->rebuild, NULL, d->cfg->rebuild_timeout_ms, err, sizeof(err)))
        DAI_WARN("state rebuild incomplete: %s (unchanged issues may be classified again)",
                 err);
    DAI_INFO("state rebuilt from topic=%s keys=%zu ms=%lld", d->cfg->common.topic_enriched,
             cls_state_count(d->state), (dai_mono_us() - t0) / 1000);
    CLS_SET(d->m->state_keys, (double)cls_state_count(d->state));
    atomic_store(&d->rebuilt, true);
}

int cls_daemon_run(struct cls_daemon *d)
{
    initial_rebuild(d);
    while (!dai_lifecycle_stopping() && !d->fatal) {
        bool busy = d->rt.llm && cls_llm_pending(d->rt.llm) > 0;
        int timeout = busy ? 5 : (d->txn_open ? 20 : 100);

        if (cls_pipeline_buffered(d->pipe) >= (size_t)d->cfg->max_buffered)
            set_paused(d, true);
        else if (d->paused && cls_pipeline_buffered(d->pipe) <= (size_t)d->cfg->max_buffered / 2)
            set_paused(d, false);
        intake(d, timeout);
        drain_llm(d);
        emit_ready(d);
        if (commit_due(d))
            (void)commit_txn(d, true);
        cls_rebuild_poll(d->rebuild, 500);
        publish_lag(d);
    }
    if (!d->fatal)
        drain(d);
    else if (d->txn_open)
        abort_txn(d, "stopping after a fatal error", false);
    return d->fatal ? DAI_EKAFKA : 0;
}

void cls_daemon_free(struct cls_daemon *d)
{
    int left;

    if (!d)
        return;
    /* Leaving the group runs on_revoke one last time (commit of anything
     * still finished), then the producer flushes. */
    dai_consumer_close(d->consumer);
    d->consumer = NULL;
    if (d->txn_open && d->producer)
        abort_txn(d, "closing", false);
    cls_rebuild_free(d->rebuild);
    dai_kafka_ready_free(d->ready); /* it uses the producer's handle */
    left = dai_producer_free(d->producer, 5000);
    if (left > 0)
        DAI_WARN("producer closed with %d messages unsent (their transaction was aborted)",
                 left);
    cls_pipeline_free(d->pipe);
    cls_state_free(d->state);
    cls_writer_free(&d->writer);
    free(d);
}
