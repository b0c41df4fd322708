/* Following issues.enriched: every partition is assigned by hand from the
 * beginning (read_committed, a throw-away group id, no commits — so gateway
 * instances never share or move offsets), partitions added to the topic
 * later are picked up from their beginning too, each message is applied to the
 * store, and — once the view has caught up with the end offsets seen at
 * start — handed to the WebSocket fan-out. Readiness and lag are tracked here.
 * Runs on the main thread until the process is asked to stop. */
#include "consume.h"

#include "fanout.h"
#include "metrics.h"
#include "options.h"
#include "store.h"

#include <dispatchai/clock.h>
#include <dispatchai/instance.h>
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often the topic's metadata is checked for added partitions. */
#define FOLLOW_EVERY_MS 5000

enum phase { PH_CONNECTING = 0, PH_CATCHING_UP, PH_LIVE };

struct gw_follower {
    const struct gw_config *cfg;
    struct gw_store *store;
    struct gw_fanout *fanout;
    struct gw_metrics *m;
    struct dai_consumer *c;
    const char *topic;

    int nparts;
    int64_t *end_at_start; /* high watermarks when we assigned */
    int64_t *next;         /* next offset to read, per partition */
    int64_t *applied;      /* offset after the last message the store took in (atomic) */
    /* applied arrays replaced when the topic grew: other threads may still
     * read them, so they are freed with the follower. */
    int64_t **retired;
    int n_retired;
    bool *at_end;
    atomic_int phase;
    atomic_int parts_done;
    atomic_int parts_total;
    long long started_us, last_lag_us;
    unsigned long long skipped;
};

struct gw_follower *gw_follower_new(const struct gw_config *cfg, struct gw_store *store,
                                    struct gw_fanout *fanout, struct gw_metrics *metrics,
                                    char *err, size_t errlen)
{
    struct gw_follower *f = calloc(1, sizeof(*f));
    char group[160];
    struct dai_kv defaults[] = {
        /* EOF events tell us when a partition reached its end (catch-up). */
        {"enable.partition.eof", "true"},
        /* Live updates should not wait for a fuller fetch. */
        {"fetch.wait.max.ms", "100"},
        /* The replay is CPU-bound (JSON parsing), so a deep prefetch buys
         * nothing and would sit in RSS (librdkafka's default is 64 MiB). */
        {"queued.max.messages.kbytes", "16384"},
    };
    struct dai_consumer_options o = {
        .cfg = &cfg->common,
        .client_id = "dispatchai-gateway",
        .group_id = group,
        .defaults = defaults,
        .n_defaults = sizeof(defaults) / sizeof(defaults[0]),
        .subscribe = false,
        .read_committed = true,
        .auto_commit = false,
        .offset_reset = "earliest",
        .metrics = metrics->reg,
    };

    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* librdkafka wants a group id even for manual assignment. It is unique
     * per process and nothing is ever committed under it. */
    dai_instance_name("dispatchai-gateway", group, sizeof(group));
    f->cfg = cfg;
    f->store = store;
    f->fanout = fanout;
    f->m = metrics;
    f->topic = cfg->common.topic_enriched;
    f->c = dai_consumer_new(&o, err, errlen);
    if (!f->c) {
        free(f);
        return NULL;
    }
    return f;
}

void gw_follower_free(struct gw_follower *f)
{
    if (!f)
        return;
    dai_consumer_close(f->c);
    free(f->end_at_start);
    free(f->next);
    free(f->applied);
    for (int i = 0; i < f->n_retired; i++)
        free(f->retired[i]);
    free(f->retired);
    free(f->at_end);
    free(f);
}

bool gw_follower_ready(const struct gw_follower *f, char *why, size_t n)
{
    int ph = atomic_load(&((struct gw_follower *)f)->phase);

    if (ph == PH_LIVE)
        return true;
    if (ph == PH_CONNECTING)
        snprintf(why, n, "connecting to Kafka and reading the end offsets of the topic");
    else
        snprintf(why, n, "catching up: %d of %d partitions replayed",
                 atomic_load(&((struct gw_follower *)f)->parts_done),
                 atomic_load(&((struct gw_follower *)f)->parts_total));
    return false;
}

/* The topic has n partitions now (from the consumer's follow, or read at
 * start): the new ones start empty and count as caught up, since nothing on
 * them is in the replay the view waits for. Idempotent. */
static int grow(void *ud, int n)
{
    struct gw_follower *f = ud;
    int64_t *end_at_start, *next, *applied, **retired;
    bool *at_end;

    if (n <= f->nparts)
        return 0;
    /* applied is read by other threads (gw_follower_applied): a new array
     * is published and the old one kept, never realloc'd under a reader. */
    applied = calloc((size_t)n, sizeof(*applied));
    retired = realloc(f->retired, (size_t)(f->n_retired + 1) * sizeof(*retired));
    if (retired)
        f->retired = retired;
    if (!applied || !retired) {
        free(applied);
        return -ENOMEM;
    }
    end_at_start = realloc(f->end_at_start, (size_t)n * sizeof(*end_at_start));
    if (end_at_start)
        f->end_at_start = end_at_start;
    next = realloc(f->next, (size_t)n * sizeof(*next));
    if (next)
        f->next = next;
    at_end = realloc(f->at_end, (size_t)n * sizeof(*at_end));
    if (at_end)
        f->at_end = at_end;
    if (!end_at_start || !next || !at_end) {
        free(applied);
        return -ENOMEM;
    }
    if (f->nparts)
        memcpy(applied, f->applied, (size_t)f->nparts * sizeof(*applied));
    f->retired[f->n_retired++] = f->applied;
    __atomic_store_n(&f->applied, applied, __ATOMIC_RELEASE);
    for (int i = f->nparts; i < n; i++) {
        f->end_at_start[i] = 0;
        f->next[i] = 0;
        f->at_end[i] = true;
    }
    atomic_fetch_add(&f->parts_done, n - f->nparts);
    atomic_store(&f->parts_total, n);
    f->nparts = n;
    return 0;
}

/* Ensure the topic, read its end offsets and assign every partition from the
 * beginning, following the topic as it gains partitions. 0, or an error to
 * retry after a pause. */
static int start(struct gw_follower *f, char *err, size_t errlen)
{
    rd_kafka_t *rk = dai_consumer_handle(f->c);
    const char *topics[] = {f->topic};
    int64_t *low = NULL, *high = NULL;
    int n = 0, rc, done = 0, assigned = 0;

    if (f->cfg->common.ensure_topics) {
        rc = dai_kafka_ensure_topics(rk, &f->cfg->common, topics, 1, 10000, err, errlen);
        if (rc)
            return rc;
    }
    rc = dai_kafka_watermarks(rk, f->topic, 10000, &low, &high, &n, err, errlen);
    if (rc)
        return rc;
    f->end_at_start = calloc((size_t)n, sizeof(*f->end_at_start));
    f->next = calloc((size_t)n, sizeof(*f->next));
    f->applied = calloc((size_t)n, sizeof(*f->applied));
    f->at_end = calloc((size_t)n, sizeof(*f->at_end));
    if (!f->end_at_start || !f->next || !f->applied || !f->at_end) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        f->end_at_start[i] = high[i];
        f->next[i] = low[i];
        /* An empty partition (or one whose data all expired) is caught up. */
        f->at_end[i] = high[i] <= low[i];
        done += f->at_end[i];
    }
    rc = dai_consumer_follow(f->c, f->topic, FOLLOW_EVERY_MS, 10000, grow, f, &assigned, err,
                             errlen);
    if (rc)
        goto out;
    f->nparts = n;
    atomic_store(&f->parts_done, done);
    atomic_store(&f->parts_total, n); /* last: readers index the arrays by it */
    /* Partitions added between the two metadata reads are new ones; should
     * there be no memory to track them, their events still reach the store. */
    if (assigned > n && grow(f, assigned))
        DAI_WARN("out of memory tracking partitions topic=%s partitions=%d", f->topic,
                 assigned);
    DAI_INFO("following topic=%s partitions=%d from=beginning", f->topic, f->nparts);
out:
    if (rc) {
        free(f->end_at_start);
        free(f->next);
        free(f->applied);
        free(f->at_end);
        f->end_at_start = f->next = f->applied = NULL;
        f->at_end = NULL;
    }
    free(low);
    free(high);
    return rc;
}

static void mark_at_end(struct gw_follower *f, int p)
{
    if (p < 0 || p >= f->nparts || f->at_end[p])
        return;
    f->at_end[p] = true;
    atomic_fetch_add(&f->parts_done, 1);
}

static void maybe_live(struct gw_follower *f)
{
    struct gw_store_stats st;
    double secs;

    if (atomic_load(&f->phase) != PH_CATCHING_UP || atomic_load(&f->parts_done) < f->nparts)
        return;
    secs = (double)(dai_mono_us() - f->started_us) / 1e6;
    gw_store_get_stats(f->store, &st);
    dai_metric_set(f->m->catchup_seconds, secs);
    dai_metric_set(f->m->caught_up, 1);
    /* The replay freed a parse tree per event and librdkafka's fetch
     * buffers: hand the free pages back instead of keeping them in RSS. */
    malloc_trim(0);
    atomic_store(&f->phase, PH_LIVE);
    DAI_INFO("caught up issues=%zu events=%llu skipped=%llu seconds=%.3f", st.issues, st.applied,
             f->skipped, secs);
}

static const char *reason_of(int rc)
{
    switch (rc) {
    case DAI_EPARSE: return "parse";
    case DAI_ESCHEMA: return "schema";
    case DAI_ETOOBIG: return "too_big";
    default: return "internal";
    }
}

static void apply_one(struct gw_follower *f, const rd_kafka_message_t *m)
{
    struct gw_applied a;
    char err[256], why[DAI_LOG_VALUE_MAX];
    int rc;

    if (m->partition >= 0 && m->partition < f->nparts) {
        f->next[m->partition] = m->offset + 1;
        if (m->offset + 1 >= f->end_at_start[m->partition])
            mark_at_end(f, m->partition);
    }
    if (!m->payload) {
        rc = DAI_EPARSE;
        snprintf(err, sizeof(err), "empty message");
    } else {
        rc = gw_store_apply(f->store, m->payload, m->len, &a, err, sizeof(err));
    }
    if (rc) {
        f->skipped++;
        dai_metric_add(f->m->rejected, 1, reason_of(rc));
        /* Sizes and positions only: the payload may hold anything. */
        DAI_WARN("enriched event skipped topic=%s partition=%d offset=%lld bytes=%zu reason=%s",
                 f->topic, (int)m->partition, (long long)m->offset, m->len,
                 dai_log_value(why, sizeof(why), err));
        return;
    }
    dai_metric_add(f->m->applied, 1);
    if (a.human_kept)
        dai_metric_add(f->m->human_kept, 1);
    if (a.evicted)
        dai_metric_add(f->m->evicted, 1);
    /* Before catch-up nobody can be connected (/ws answers 503), and the
     * resume log should start with live updates. */
    if (atomic_load(&f->phase) == PH_LIVE && gw_fanout_publish(f->fanout, &a))
        DAI_WARN("update not sent to WebSocket clients (out of memory) key_bytes=%zu",
                 strlen(a.key));
}

static void apply_message(struct gw_follower *f, const rd_kafka_message_t *m)
{
    apply_one(f, m);
    /* Published after the store has it (applied or skipped): write-back
     * waits for this before it reads the issue's effective state. */
    if (m->partition >= 0 && m->partition < f->nparts)
        __atomic_store_n(&f->applied[m->partition], m->offset + 1, __ATOMIC_RELEASE);
}

int64_t gw_follower_applied(const struct gw_follower *f, int32_t partition)
{
    /* parts_total is stored after the arrays exist. */
    if (partition < 0 || partition >= atomic_load(&((struct gw_follower *)f)->parts_total))
        return -1;
    return __atomic_load_n(&__atomic_load_n(&f->applied, __ATOMIC_ACQUIRE)[partition],
                           __ATOMIC_ACQUIRE);
}

static void update_lag(struct gw_follower *f)
{
    struct gw_store_stats st;

    for (int p = 0; p < f->nparts; p++) {
        int64_t lo, hi;
        char label[16];

        /* Cached by librdkafka from fetch responses: no broker round trip. */
        if (dai_consumer_cached_watermarks(f->c, f->topic, p, &lo, &hi))
            continue;
        snprintf(label, sizeof(label), "%d", p);
        dai_metric_set(f->m->lag, (double)(hi > f->next[p] ? hi - f->next[p] : 0), label);
    }
    gw_store_get_stats(f->store, &st);
    dai_metric_set(f->m->tracked, (double)st.issues);
    dai_metric_set(f->m->store_bytes, (double)st.bytes);
}

void gw_follower_run(struct gw_follower *f)
{
    char err[512];
    long long last_warn = 0;

    f->started_us = dai_mono_us();
    while (!dai_lifecycle_stopping() && atomic_load(&f->phase) == PH_CONNECTING) {
        if (start(f, err, sizeof(err)) == 0) {
            atomic_store(&f->phase, PH_CATCHING_UP);
            break;
        }
        if (dai_mono_us() - last_warn > 10 * 1000000LL) {
            DAI_WARN("cannot start following topic=%s: %s (retrying)", f->topic, err);
            last_warn = dai_mono_us();
        }
        dai_lifecycle_wait(1000);
    }
    maybe_live(f);
    while (!dai_lifecycle_stopping()) {
        rd_kafka_message_t *m = dai_consumer_poll(f->c, 100);

        if (dai_lifecycle_take_reopen())
            dai_log_reopen();
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->partition >= 0 && m->partition < f->nparts) {
                    f->next[m->partition] = m->offset;
                    if (m->offset >= f->end_at_start[m->partition])
                        mark_at_end(f, m->partition);
                }
            } else if (!m->err) {
                apply_message(f, m);
            }
            /* Other errors were logged by dai_consumer_poll; librdkafka
             * recovers from them by itself. */
            rd_kafka_message_destroy(m);
            maybe_live(f);
        }
        if (dai_mono_us() - f->last_lag_us > 1000000) {
            update_lag(f);
            f->last_lag_us = dai_mono_us();
        }
    }
}
