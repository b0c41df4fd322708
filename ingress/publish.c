/* Publishing with acknowledgement: the producer (acks=all, idempotent,
 * compressed), the de-duplication window, the requests waiting for a
 * delivery report and the timer that gives up when the broker is slower
 * than publish.timeout. Outcomes go to the on_published callback; answering
 * HTTP is webhook.c's. One mutex guards the window and the waiting lists;
 * it is held across the (non-blocking) produce call so a delivery report can
 * never overtake the bookkeeping of its own request. After a fatal producer
 * error the owner swaps in a new producer (ing_publisher_replace): prod is
 * only read or changed under mu, and the old one is destroyed outside it.
 * Semantics in docs/ingress.md ("Durability and de-duplication", "Failure
 * handling"). */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ing_publisher {
    const struct ing_config *cfg;
    struct ing_stats *st;
    struct dai_metrics *metrics;
    struct dai_producer *prod;      /* NULL while being replaced (under mu) */
    atomic_bool fatal;              /* the producer hit a fatal error: replace it */
    long test_fatal_after, acks;    /* test hook (ing_publisher_options) */
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* wakes the timer (CLOCK_MONOTONIC) */
    struct ing_dedup *dedup;
    struct ing_delivery *thead, *ttail; /* waiting requests, earliest deadline first */
    unsigned n_waiting;
    bool closed;                    /* draining: answer new publishes 503 */
    bool stop_timer;
    bool timer_started;
    pthread_t timer;
    ing_published_fn on_published;
    void *ud;
};

/*---- the waiting list (callers hold mu) -----------------------------------*/

static void wait_link(struct ing_publisher *p, struct ing_delivery *d)
{
    struct ing_delivery *at = p->ttail;

    /* Deadlines arrive almost in order; walk back from the tail. */
    while (at && at->deadline_us > d->deadline_us)
        at = at->tprev;
    d->tprev = at;
    d->tnext = at ? at->tnext : p->thead;
    if (d->tnext)
        d->tnext->tprev = d;
    else
        p->ttail = d;
    if (at)
        at->tnext = d;
    else
        p->thead = d;
    d->waiting = true;
    p->n_waiting++;
    dai_metric_set(p->st->waiting, (double)p->n_waiting);
}

static void wait_unlink(struct ing_publisher *p, struct ing_delivery *d)
{
    if (!d->waiting)
        return;
    if (d->tprev)
        d->tprev->tnext = d->tnext;
    else
        p->thead = d->tnext;
    if (d->tnext)
        d->tnext->tprev = d->tprev;
    else
        p->ttail = d->tprev;
    d->tprev = d->tnext = NULL;
    d->waiting = false;
    p->n_waiting--;
    dai_metric_set(p->st->waiting, (double)p->n_waiting);
}

/* Take d away from its entry (it is being answered by someone else). */
static void detach(struct ing_delivery *d)
{
    struct ing_dedup_entry *e = d->entry;
    struct ing_delivery **pp;

    if (!e)
        return;
    if (d->is_owner) {
        e->owner = NULL;
    } else {
        for (pp = (struct ing_delivery **)&e->waiters; *pp && *pp != d; pp = &(*pp)->wnext)
            ;
        if (*pp)
            *pp = d->wnext;
    }
    d->entry = NULL;
    d->wnext = NULL;
}

/*---- outcomes -----------------------------------------------------------------*/

static void report(struct ing_publisher *p, struct ing_delivery *d, enum ing_pub_result r,
                   int rc, int32_t partition, int64_t offset)
{
    const struct ing_pub_outcome o = {r, rc, partition, offset};

    p->on_published(p->ud, d, &o);
}

static void report_failed(struct ing_publisher *p, struct ing_delivery *d, int rc)
{
    report(p, d, ING_PUB_FAILED, rc, -1, -1);
}

/*---- delivery reports (producer poll thread) -------------------------------*/

static void on_delivery(void *ud, void *opaque, int rc, int32_t partition, int64_t offset,
                        const char *errstr)
{
    struct ing_publisher *p = ud;
    struct ing_dedup_entry *e = opaque;
    struct ing_delivery *owner, *waiters, *w, *next;
    char guid[ING_GUID_MAX + 1];
    rd_kafka_t *inject = NULL;
    long long sent_us;

    pthread_mutex_lock(&p->mu);
    if (rc == 0 && p->test_fatal_after > 0 && ++p->acks == p->test_fatal_after && p->prod)
        inject = dai_producer_handle(p->prod);
    owner = e->owner;
    waiters = e->waiters;
    sent_us = e->sent_us;
    memcpy(guid, e->guid, sizeof(guid));
    if (owner) {
        wait_unlink(p, owner);
        owner->entry = NULL;
    }
    for (w = waiters; w; w = w->wnext) {
        wait_unlink(p, w);
        w->entry = NULL;
    }
    e->owner = NULL;
    e->waiters = NULL;
    /* Mark the GUID seen only now that the broker has it; a failure forgets
     * it so GitHub's redelivery is published again. */
    if (rc == 0)
        ing_dedup_commit(p->dedup, e, partition, offset, dai_now_ms());
    else
        ing_dedup_release(p->dedup, e);
    dai_metric_set(p->st->dedup_size, (double)ing_dedup_done_count(p->dedup));
    pthread_mutex_unlock(&p->mu);
    /* Still ours: only a fatal error, which this raises, leads to its
     * destruction, and never on this thread. */
    if (inject)
        rd_kafka_test_fatal_error(inject, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "fatal error injected by DAI_TEST_FATAL_AFTER_ACKS");

    dai_metric_observe(p->st->publish_latency, (double)(dai_mono_us() - sent_us) / 1e6);
    if (rc == 0 && !owner) {
        /* Its request was already answered 503: it is on the broker all the
         * same, and a redelivery of this GUID will be answered duplicate. */
        dai_metric_add(p->st->late_acks, 1);
        DAI_WARN("delivery acknowledged after its request timed out delivery_id=%s "
                 "partition=%" PRId32 " offset=%" PRId64, guid, partition, offset);
    }
    if (rc != 0)
        DAI_WARN("publish failed delivery_id=%s error=\"%s\"", guid,
                 errstr ? errstr : "unknown");
    if (owner)
        report(p, owner, rc == 0 ? ING_PUB_STORED : ING_PUB_FAILED, rc, partition, offset);
    for (w = waiters; w; w = next) {
        next = w->wnext;
        w->wnext = NULL;
        report(p, w, rc == 0 ? ING_PUB_DUPLICATE : ING_PUB_FAILED, rc, partition, offset);
    }
}

/*---- the timer: give up on requests past their deadline ------------------*/

static void *timer_main(void *arg)
{
    struct ing_publisher *p = arg;

    pthread_mutex_lock(&p->mu);
    while (!p->stop_timer) {
        long long now = dai_mono_us(), until;
        struct ing_delivery *expired = NULL, *d;
        struct timespec ts;

        while (p->thead && p->thead->deadline_us <= now) {
            d = p->thead;
            wait_unlink(p, d);
            detach(d);
            d->wnext = expired;
            expired = d;
        }
        if (expired) {
            pthread_mutex_unlock(&p->mu);
            for (d = expired; d;) {
                struct ing_delivery *next = d->wnext;
                d->wnext = NULL;
                report_failed(p, d, DAI_ETIMEOUT);
                d = next;
            }
            pthread_mutex_lock(&p->mu);
            continue;
        }
        /* Sleep until the earliest deadline, at most 100 ms. */
        until = now + 100000;
        if (p->thead && p->thead->deadline_us < until)
            until = p->thead->deadline_us;
        ts.tv_sec = (time_t)(until / 1000000);
        ts.tv_nsec = (long)(until % 1000000) * 1000;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*---- publishing ------------------------------------------------------------------*/

/* Claim d's GUID and produce one message for it; hdrs[0..nh) are sent as
 * they are. The outcome is reported here (duplicate, refusal) or later by the
 * delivery report or the timer. */
static void publish(struct ing_publisher *p, struct ing_delivery *d, const char *topic,
                    const void *key, size_t klen, const void *value, size_t len,
                    const struct dai_kafka_header *h, size_t nh)
{
    struct ing_dedup_entry *e;
    int32_t part;
    int64_t off;
    int state, rc;

    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        report_failed(p, d, -ECANCELED);
        return;
    }
    if (!p->prod) {
        /* Being replaced after a fatal error: a redelivery will find the new one. */
        pthread_mutex_unlock(&p->mu);
        report_failed(p, d, DAI_EKAFKA);
        return;
    }
    state = ing_dedup_claim(p->dedup, d->guid, dai_now_ms(), &e);
    switch (state) {
    case ING_DEDUP_DONE:
        part = e->partition;
        off = e->offset;
        pthread_mutex_unlock(&p->mu);
        report(p, d, ING_PUB_DUPLICATE, 0, part, off);
        return;
    case ING_DEDUP_IN_FLIGHT:
        /* The same GUID is being published right now: share its outcome. */
        d->entry = e;
        d->is_owner = false;
        d->wnext = e->waiters;
        e->waiters = d;
        wait_link(p, d);
        pthread_mutex_unlock(&p->mu);
        return;
    case ING_DEDUP_NEW:
        break;
    default:
        pthread_mutex_unlock(&p->mu);
        report_failed(p, d, -ENOMEM);
        return;
    }
    e->owner = d;
    e->sent_us = dai_mono_us();
    d->entry = e;
    d->is_owner = true;
    /* block_ms 0: a full producer queue is answered at once rather than
     * stalling a worker (and every request queued behind it). */
    rc = dai_producer_send(p->prod, topic, key, klen, (void *)value, len, false, h, nh, e, 0);
    if (rc) {
        e->owner = NULL;
        d->entry = NULL;
        ing_dedup_release(p->dedup, e);
        pthread_mutex_unlock(&p->mu);
        report_failed(p, d, rc);
        return;
    }
    wait_link(p, d);
    pthread_mutex_unlock(&p->mu);
    /* d may already be reported and freed by the delivery report. */
}

size_t ing_delivery_headers(const struct ing_delivery *d, struct dai_kafka_header *h)
{
    size_t nh = 0;

    h[nh++] = (struct dai_kafka_header){DAI_HDR_DELIVERY, d->guid, strlen(d->guid)};
    h[nh++] = (struct dai_kafka_header){DAI_HDR_EVENT, ing_event_name(d->event),
                                        strlen(ing_event_name(d->event))};
    if (d->hook_id[0])
        h[nh++] = (struct dai_kafka_header){DAI_HDR_HOOK_ID, d->hook_id, strlen(d->hook_id)};
    h[nh++] = (struct dai_kafka_header){DAI_HDR_CORRELATION, d->guid, strlen(d->guid)};
    h[nh++] = (struct dai_kafka_header){DAI_HDR_CONTENT_TYPE, DAI_CONTENT_TYPE_JSON,
                                        sizeof(DAI_CONTENT_TYPE_JSON) - 1};
    return nh;
}

void ing_publish(struct ing_publisher *p, struct ing_delivery *d, const void *value, size_t len)
{
    struct dai_kafka_header h[6];
    size_t nh = ing_delivery_headers(d, h);

    h[nh++] = (struct dai_kafka_header){DAI_HDR_SCHEMA, DAI_SCHEMA_VERSION_STR,
                                        sizeof(DAI_SCHEMA_VERSION_STR) - 1};
    publish(p, d, p->cfg->common.topic_raw, d->info.key, d->info.key_len, value, len, h, nh);
}

void ing_publish_dead_letter(struct ing_publisher *p, struct ing_delivery *d,
                             const void *payload, size_t len)
{
    struct dai_kafka_header h[8];
    char received[24];
    size_t nh = ing_delivery_headers(d, h);

    /* The value is GitHub's payload, not one of our schemas: no
     * schema-version. The receive time lets a re-drive keep the event's
     * timestamp. */
    snprintf(received, sizeof(received), "%lld", d->received_ms);
    h[nh++] = (struct dai_kafka_header){DAI_HDR_DLQ_REASON, d->dlq_reason, strlen(d->dlq_reason)};
    h[nh++] = (struct dai_kafka_header){DAI_HDR_DLQ_SOURCE, DAI_DLQ_SOURCE_INGRESS,
                                        sizeof(DAI_DLQ_SOURCE_INGRESS) - 1};
    h[nh++] = (struct dai_kafka_header){DAI_HDR_DLQ_RECEIVED, received, strlen(received)};
    publish(p, d, p->cfg->common.topic_dlq, d->guid, strlen(d->guid), payload, len, h, nh);
}

/*---- life cycle --------------------------------------------------------------------*/

static void on_fatal(void *ud)
{
    struct ing_publisher *p = ud;

    atomic_store(&p->fatal, true);
}

/* The producer, the same at start and after a fatal error. */
static struct dai_producer *producer_new(struct ing_publisher *p, char *err, size_t errlen)
{
    struct dai_producer_options po = {0};
    /* Durability first: every replica has it, exactly once per producer
     * session, in order per key. lz4 measured best for our ~2 KB JSON
     * events (docs/ingress.md). linger 5 ms: at 2 ms librdkafka's broker
     * thread wakes so often it doubled our CPU per delivery (measured).
     * message.timeout.ms, longer than the HTTP wait, bounds how long an
     * unacknowledged message may still land after its request got 503: a
     * message the broker takes a little late still lands (and its redelivery
     * is a duplicate) instead of failing. */
    struct dai_kv defaults[] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"compression.type", p->cfg->compression},
        {"linger.ms", "5"},
        {"socket.nagle.disable", "true"},
        {"message.timeout.ms", "60000"},
        {"queue.buffering.max.messages", "200000"},
    };

    po.cfg = &p->cfg->common;
    po.client_id = "dispatchai-ingress";
    po.defaults = (const struct dai_kv *)defaults;
    po.n_defaults = sizeof(defaults) / sizeof(defaults[0]);
    po.on_delivery = on_delivery;
    po.on_fatal = on_fatal;
    po.ud = p;
    po.metrics = p->metrics;
    po.poll_thread = true;
    return dai_producer_new(&po, err, errlen);
}

struct ing_publisher *ing_publisher_new(const struct ing_publisher_options *opt, char *err,
                                        size_t errlen)
{
    const struct ing_config *cfg = opt->cfg;
    struct ing_publisher *p = calloc(1, sizeof(*p));
    pthread_condattr_t ca;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->st = opt->stats;
    p->metrics = opt->metrics;
    p->test_fatal_after = opt->test_fatal_after;
    p->on_published = opt->on_published;
    p->ud = opt->ud;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->dedup = ing_dedup_new((size_t)cfg->dedup_size, cfg->dedup_window_ms);
    if (!p->dedup) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p->prod = producer_new(p, err, errlen);
    if (!p->prod)
        goto fail;
    if (pthread_create(&p->timer, NULL, timer_main, p)) {
        snprintf(err, errlen, "cannot start the publish timer thread");
        goto fail;
    }
    p->timer_started = true;
    return p;
fail:
    if (ing_publisher_free(p, 0))
        DAI_WARN("messages left unsent while failing to start");
    return NULL;
}

bool ing_publisher_needs_replace(struct ing_publisher *p)
{
    return atomic_load(&p->fatal);
}

/* Take every waiting request off its entry (callers hold mu); returns them
 * linked through wnext. */
static struct ing_delivery *take_waiting(struct ing_publisher *p)
{
    struct ing_delivery *all = NULL, *d;

    while ((d = p->thead)) {
        wait_unlink(p, d);
        detach(d);
        d->wnext = all;
        all = d;
    }
    return all;
}

static void report_all_failed(struct ing_publisher *p, struct ing_delivery *all, int rc)
{
    for (struct ing_delivery *d = all, *next; d; d = next) {
        next = d->wnext;
        d->wnext = NULL;
        report_failed(p, d, rc);
    }
}

int ing_publisher_replace(struct ing_publisher *p, char *err, size_t errlen)
{
    struct dai_producer *old, *prod;
    struct ing_delivery *all;

    pthread_mutex_lock(&p->mu);
    old = p->prod;
    p->prod = NULL; /* publishes are answered 503 until the new one is in */
    all = take_waiting(p);
    pthread_mutex_unlock(&p->mu);
    /* Transient: the old producer may still have written some of them, and
     * a redelivery then puts a second copy there; only a 202 promises anything. */
    report_all_failed(p, all, DAI_EKAFKA);
    /* Purges what is left; the reports (failed, no request attached any
     * more) forget those GUIDs so their redeliveries are published again. */
    dai_producer_free(old, 0);
    /* Cleared before the new producer exists, so its own fatal error is seen. */
    atomic_store(&p->fatal, false);
    prod = producer_new(p, err, errlen);
    if (!prod) {
        atomic_store(&p->fatal, true); /* try again */
        return DAI_EKAFKA;
    }
    pthread_mutex_lock(&p->mu);
    p->prod = prod;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

rd_kafka_t *ing_publisher_handle(struct ing_publisher *p)
{
    rd_kafka_t *rk;

    pthread_mutex_lock(&p->mu);
    rk = dai_producer_handle(p->prod);
    pthread_mutex_unlock(&p->mu);
    return rk;
}

int ing_publisher_queue_depth(struct ing_publisher *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = dai_producer_outq_len(p->prod);
    pthread_mutex_unlock(&p->mu);
    return n;
}

unsigned ing_publisher_waiting(struct ing_publisher *p)
{
    unsigned n;

    pthread_mutex_lock(&p->mu);
    n = p->n_waiting;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void ing_publisher_drain(struct ing_publisher *p, int timeout_ms)
{
    long long deadline = dai_mono_us() + (long long)timeout_ms * 1000;
    struct ing_delivery *all;

    /* Acknowledgements keep arriving on the poll thread meanwhile. */
    while (ing_publisher_waiting(p) > 0 && dai_mono_us() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    all = take_waiting(p);
    pthread_mutex_unlock(&p->mu);
    report_all_failed(p, all, -ECANCELED);
}

int ing_publisher_free(struct ing_publisher *p, int flush_timeout_ms)
{
    int left = 0;

    if (!p)
        return 0;
    /* Reports still arriving during the flush find no request attached
     * (drained) and only update the window. */
    if (p->prod)
        left = dai_producer_free(p->prod, flush_timeout_ms);
    if (p->timer_started) {
        pthread_mutex_lock(&p->mu);
        p->stop_timer = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->timer, NULL);
    }
    ing_dedup_free(p->dedup);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return left;
}
