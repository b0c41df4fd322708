/* Kafka producers: an optional poll thread that runs delivery reports,
 * sending with a bounded wait for room in the queue, flush and free (purging
 * what is left so every message gets its report), and transactions with
 * outcomes mapped to retry/abort/fatal. */
#include "kafka_internal.h"

#include <dispatchai/clock.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dai_producer {
    struct kclient k;
    dai_delivery_fn on_delivery;
    void *ud;
    pthread_t thread;
    bool has_thread;
    atomic_bool stop;
    /* Senders blocked on a full queue, and flushers, wait here; every
     * delivery report makes room and wakes them. */
    pthread_mutex_t room_mu;
    pthread_cond_t room_cond;
    atomic_int waiters;
};
static void wake_waiters(struct dai_producer *p)
{
    if (atomic_load(&p->waiters) == 0)
        return;
    pthread_mutex_lock(&p->room_mu);
    pthread_cond_broadcast(&p->room_cond);
    pthread_mutex_unlock(&p->room_mu);
}

/* Wait up to ms for a delivery report (which frees room in the queue). */
static void wait_room(struct dai_producer *p, int ms)
{
    struct timespec ts;

    if (!p->has_thread) {
        /* Nobody else serves reports: serve them here. */
        rd_kafka_poll(p->k.rk, ms);
        return;
    }
    dai_realtime_after_ms(ms, &ts);
    atomic_fetch_add(&p->waiters, 1);
    pthread_mutex_lock(&p->room_mu);
    pthread_cond_timedwait(&p->room_cond, &p->room_mu, &ts);
    pthread_mutex_unlock(&p->room_mu);
    atomic_fetch_sub(&p->waiters, 1);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dai_producer *p = opaque;

    (void)rk;
    dai_metric_add(p->k.m_dr, 1, p->k.name, m->err ? "error" : "ok");
    if (p->on_delivery)
        p->on_delivery(p->ud, m->_private, dai_kafka_err_rc(m->err), m->partition, m->offset,
                       m->err ? rd_kafka_err2str(m->err) : NULL);
    wake_waiters(p);
}

static void *poll_main(void *arg)
{
    struct dai_producer *p = arg;

    /* 100 ms bounds how long dai_producer_free waits for this thread. */
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->k.rk, 100);
    return NULL;
}

struct dai_producer *dai_producer_new(const struct dai_producer_options *opt, char *err,
                                      size_t errlen)
{
    struct dai_producer *p;
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!opt) {
        snprintf(err, errlen, "no producer options");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->k.producer = true;
    p->k.on_fatal = opt->on_fatal;
    p->k.fatal_ud = opt->ud;
    p->on_delivery = opt->on_delivery;
    p->ud = opt->ud;
    pthread_mutex_init(&p->k.mu, NULL);
    pthread_mutex_init(&p->room_mu, NULL);
    pthread_cond_init(&p->room_cond, NULL);
    conf = dai__kafka_conf_base(&p->k, opt->cfg, opt->client_id, opt->metrics != NULL, err, errlen);
    if (!conf)
        goto fail;
    if (dai__kafka_conf_set(conf, "", "transactional.id", opt->transactional_id, err, errlen) ||
        dai__kafka_conf_set_list(conf, "default ", opt->defaults, opt->n_defaults, err, errlen) ||
        dai__kafka_conf_set_list(conf, "kafka.producer.", opt->cfg->producer_props.v,
                                 opt->cfg->producer_props.n, err, errlen))
        goto fail_conf;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    dai__kafka_register_metrics(&p->k, opt->metrics);
    p->k.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->k.rk) {
        snprintf(err, errlen, "cannot create Kafka producer: %s", errstr);
        goto fail_conf;
    }
    conf = NULL; /* owned by rk now */
    if (opt->poll_thread) {
        if (pthread_create(&p->thread, NULL, poll_main, p)) {
            snprintf(err, errlen, "cannot start the producer poll thread");
            rd_kafka_destroy(p->k.rk);
            goto fail;
        }
        p->has_thread = true;
    }
    return p;
fail_conf:
    rd_kafka_conf_destroy(conf);
fail:
    pthread_cond_destroy(&p->room_cond);
    pthread_mutex_destroy(&p->room_mu);
    pthread_mutex_destroy(&p->k.mu);
    free(p);
    return NULL;
}

int dai_producer_send(struct dai_producer *p, const char *topic, const void *key, size_t klen,
                      void *value, size_t vlen, bool take_value,
                      const struct dai_kafka_header *hdrs, size_t n_hdrs, void *msg_opaque,
                      int block_ms)
{
    long long deadline = dai_mono_us() + (long long)(block_ms > 0 ? block_ms : 0) * 1000;
    rd_kafka_headers_t *h = NULL;
    rd_kafka_resp_err_t e;

    if (!p || !topic || (n_hdrs && !hdrs))
        return DAI_EINVAL;
    if (n_hdrs) {
        h = rd_kafka_headers_new(n_hdrs);
        for (size_t i = 0; i < n_hdrs; i++) {
            if (rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value,
                                    (ssize_t)hdrs[i].len)) {
                rd_kafka_headers_destroy(h);
                return DAI_EINVAL;
            }
        }
    }
    for (;;) {
        e = rd_kafka_producev(p->k.rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen),
                              RD_KAFKA_V_VALUE(value, vlen),
                              RD_KAFKA_V_MSGFLAGS(take_value ? RD_KAFKA_MSG_F_FREE
                                                             : RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(msg_opaque),
                              RD_KAFKA_V_END);
        if (!e)
            return 0; /* the headers (and a taken value) belong to librdkafka now */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || dai_ms_left(deadline) == 0)
            break;
        /* Wait in slices: room may appear without a report (a purge). */
        wait_room(p, dai_ms_left(deadline) < 100 ? dai_ms_left(deadline) : 100);
    }
    /* On failure librdkafka took nothing: the headers and the value are ours. */
    if (h)
        rd_kafka_headers_destroy(h);
    return dai_kafka_err_rc(e);
}

int dai_producer_outq_len(struct dai_producer *p)
{
    return p ? rd_kafka_outq_len(p->k.rk) : 0;
}

int dai_producer_flush(struct dai_producer *p, int timeout_ms)
{
    long long deadline;
    int n;

    if (!p)
        return 0;
    if (!p->has_thread) {
        rd_kafka_flush(p->k.rk, timeout_ms);
        return rd_kafka_outq_len(p->k.rk);
    }
    /* The poll thread serves the reports (they must keep running there, not
     * here); just wait for the queue to drain. */
    deadline = dai_mono_us() + (long long)timeout_ms * 1000;
    while ((n = rd_kafka_outq_len(p->k.rk)) > 0 && dai_ms_left(deadline) > 0)
        wait_room(p, dai_ms_left(deadline) < 10 ? dai_ms_left(deadline) : 10);
    return n;
}

void dai_producer_poll(struct dai_producer *p, int timeout_ms)
{
    if (p)
        rd_kafka_poll(p->k.rk, timeout_ms);
}

rd_kafka_t *dai_producer_handle(struct dai_producer *p)
{
    return p ? p->k.rk : NULL;
}

int dai_producer_free(struct dai_producer *p, int flush_timeout_ms)
{
    long long deadline;
    int left;

    if (!p)
        return 0;
    left = dai_producer_flush(p, flush_timeout_ms);
    if (p->has_thread) {
        atomic_store(&p->stop, true);
        pthread_join(p->thread, NULL);
        p->has_thread = false;
    }
    if (left > 0) {
        /* Fail what is left so every owner hears back through its delivery
         * report (error "purged"): ingress requests waiting on a report are
         * answered instead of hanging. These reports run on this thread. */
        rd_kafka_purge(p->k.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        deadline = dai_mono_us() + 2000000;
        while (rd_kafka_outq_len(p->k.rk) > 0 && dai_ms_left(deadline) > 0)
            rd_kafka_poll(p->k.rk, 50);
    }
    rd_kafka_destroy(p->k.rk);
    pthread_cond_destroy(&p->room_cond);
    pthread_mutex_destroy(&p->room_mu);
    pthread_mutex_destroy(&p->k.mu);
    free(p);
    return left;
}

/*---- transactions ----------------------------------------------------------*/

static int txn_result(rd_kafka_error_t *e, const char *what, char *err, size_t errlen)
{
    int rc;

    if (!e)
        return 0;
    snprintf(err, errlen, "%s: %s (%s)", what, rd_kafka_error_string(e), rd_kafka_error_name(e));
    if (rd_kafka_error_is_fatal(e))
        rc = DAI_ETXN_FATAL;
    else if (rd_kafka_error_txn_requires_abort(e))
        rc = DAI_ETXN_ABORT;
    else if (rd_kafka_error_is_retriable(e))
        rc = DAI_ETXN_RETRY;
    else
        rc = DAI_EKAFKA;
    rd_kafka_error_destroy(e);
    return rc;
}

int dai_txn_init(struct dai_producer *p, int timeout_ms, char *err, size_t errlen)
{
    if (!p)
        return DAI_EINVAL;
    return txn_result(rd_kafka_init_transactions(p->k.rk, timeout_ms), "init transactions", err,
                      errlen);
}

int dai_txn_begin(struct dai_producer *p, char *err, size_t errlen)
{
    if (!p)
        return DAI_EINVAL;
    return txn_result(rd_kafka_begin_transaction(p->k.rk), "begin transaction", err, errlen);
}

int dai_txn_send_offsets(struct dai_producer *p, struct dai_consumer *consumer,
                         const char *topic, const struct dai_kafka_pos *offsets, size_t n,
                         int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_consumer_group_metadata_t *gm;
    rd_kafka_topic_partition_list_t *l;
    int rc;

    if (!p || !consumer || !topic || (n && !offsets))
        return DAI_EINVAL;
    gm = rd_kafka_consumer_group_metadata(consumer->k.rk);
    if (!gm) {
        snprintf(err, errlen, "send offsets: the consumer has no group metadata");
        return DAI_EKAFKA;
    }
    l = dai__kafka_list_of(topic, offsets, n);
    if (!l) {
        rd_kafka_consumer_group_metadata_destroy(gm);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = txn_result(rd_kafka_send_offsets_to_transaction(p->k.rk, l, gm, timeout_ms),
                    "send offsets to transaction", err, errlen);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_group_metadata_destroy(gm);
    return rc;
}

int dai_txn_commit(struct dai_producer *p, int timeout_ms, char *err, size_t errlen)
{
    if (!p)
        return DAI_EINVAL;
    return txn_result(rd_kafka_commit_transaction(p->k.rk, timeout_ms), "commit transaction",
                      err, errlen);
}

int dai_txn_abort(struct dai_producer *p, int timeout_ms, char *err, size_t errlen)
{
    if (!p)
        return DAI_EINVAL;
    return txn_result(rd_kafka_abort_transaction(p->k.rk, timeout_ms), "abort transaction", err,
                      errlen);
}
