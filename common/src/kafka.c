/* Kafka on librdkafka, the only file that touches its configuration: client
 * confs built from the common config, daemon defaults and kafka.producer.* /
 * kafka.consumer.* pass-through (in that order, so operators win); the
 * error/log/statistics callbacks (statistics become metrics); producers with
 * an optional poll thread, delivery reports and transactions; consumers with
 * rebalance handling. Topic creation, checks and watermarks are in
 * kafka_admin.c. What to produce and when to commit is the daemons' business. */
#include <dispatchai/clock.h>
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The same client error logged again within this window goes to DEBUG:
 * librdkafka repeats transport errors on every reconnect attempt while a
 * broker is down. */
#define ERROR_LOG_INTERVAL_US (10 * 1000000LL)

/* What producers and consumers share; the first member of both, and the
 * opaque librdkafka hands to every callback. */
struct kclient {
    rd_kafka_t *rk;
    char name[128]; /* client.id: log field and metric label */
    bool producer;
    struct dai_metric *m_queue, *m_tx, *m_rx, *m_rtt, *m_lag, *m_errors, *m_dr;
    pthread_mutex_t mu; /* the fields below */
    int64_t last_tx, last_rx;
    /* When each recent error code was last logged; a broker outage
     * alternates several codes (_TRANSPORT, _ALL_BROKERS_DOWN, ...). */
    struct {
        rd_kafka_resp_err_t code;
        long long us;
    } logged[8];
};

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

struct dai_consumer {
    struct kclient k;
    dai_rebalance_fn on_rebalance;
    void *ud;
};

/*---- small helpers -------------------------------------------------------*/

/* Copy s into out as the inside of a "quoted" log value (\" and \\). */
static const char *quote(const char *s, char *out, size_t n)
{
    size_t j = 0;

    for (; s && *s && j + 2 < n; s++) {
        if (*s == '"' || *s == '\\')
            out[j++] = '\\';
        out[j++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    out[j] = '\0';
    return out;
}

/* Log a client error, at DEBUG when the same code was logged recently. */
static void log_client_error(struct kclient *k, enum dai_log_level level, rd_kafka_resp_err_t err,
                             const char *what, const char *reason)
{
    long long now = dai_mono_us();
    char q[512];
    bool repeat;
    size_t slot = 0;

    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < sizeof(k->logged) / sizeof(k->logged[0]); i++) {
        if (k->logged[i].us && k->logged[i].code == err) {
            slot = i;
            break;
        }
        if (k->logged[i].us < k->logged[slot].us)
            slot = i; /* otherwise reuse the stalest slot */
    }
    repeat = k->logged[slot].us && k->logged[slot].code == err &&
             now - k->logged[slot].us < ERROR_LOG_INTERVAL_US;
    if (!repeat) {
        k->logged[slot].code = err;
        k->logged[slot].us = now;
    }
    pthread_mutex_unlock(&k->mu);
    dai_metric_add(k->m_errors, 1, k->name, rd_kafka_err2name(err));
    if (repeat && level < DAI_LOG_ERROR)
        level = DAI_LOG_DEBUG;
    if (!dai_log_enabled(level))
        return;
    dai_log(level, "%s client=%s code=%s reason=\"%s\"", what, k->name, rd_kafka_err2name(err),
            quote(reason, q, sizeof(q)));
}

/*---- callbacks -----------------------------------------------------------*/

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kclient *k = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512], q[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));

        dai_metric_add(k->m_errors, 1, k->name, rd_kafka_err2name(orig));
        dai_log(DAI_LOG_ERROR, "kafka fatal error, stopping client=%s code=%s reason=\"%s\"",
                k->name, rd_kafka_err2name(orig), quote(buf, q, sizeof(q)));
        dai_lifecycle_request_stop("kafka fatal error");
        return;
    }
    /* Everything else is reported for information: librdkafka recovers by
     * itself (reconnects, retries) and fails messages through their
     * delivery reports when it cannot. */
    log_client_error(k, DAI_LOG_WARN, (rd_kafka_resp_err_t)err, "kafka client error", reason);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum dai_log_level l;
    char q[1024];

    /* syslog levels: 0-2 error, 3-4 warning, 5-6 notice/info, 7 debug.
     * librdkafka logs every failed (re)connect at LOG_ERR; those are
     * transient and also reach error_cb, so they are warnings here. */
    if (level <= 2)
        l = DAI_LOG_ERROR;
    else if (level <= 4)
        l = DAI_LOG_WARN;
    else if (level <= 6)
        l = DAI_LOG_INFO;
    else
        l = DAI_LOG_DEBUG;
    if (!dai_log_enabled(l))
        return;
    dai_log(l, "kafka log client=%s facility=%s msg=\"%s\"", rd_kafka_name(rk), fac,
            quote(buf, q, sizeof(q)));
}

static int64_t jint(const json_t *obj, const char *key, int64_t def)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* Counter from an absolute librdkafka total: add what grew since last time. */
static void add_delta(struct dai_metric *m, const char *client, int64_t now, int64_t *last)
{
    if (now > *last)
        dai_metric_add(m, (double)(now - *last), client);
    *last = now;
}

static void stats_consumer_lag(struct kclient *k, const json_t *root)
{
    const json_t *topics = json_object_get(root, "topics"), *t;
    const char *tname;

    dai_metric_reset(k->m_lag);
    json_object_foreach((json_t *)topics, tname, t) {
        const json_t *parts = json_object_get(t, "partitions"), *p;
        const char *pname;

        json_object_foreach((json_t *)parts, pname, p) {
            const json_t *fs = json_object_get(p, "fetch_state");
            int64_t end, pos;

            /* "-1" is librdkafka's internal unassigned partition; partitions
             * that are not being fetched have no meaningful lag. */
            if (!strcmp(pname, "-1") || !json_is_string(fs) ||
                !strcmp(json_string_value(fs), "none"))
                continue;
            end = jint(p, "ls_offset", -1);
            if (end < 0)
                end = jint(p, "hi_offset", -1);
            /* Lag as the application sees it: from the next offset it will
             * be given (app_offset), else from the committed offset. Offsets
             * committed through transactions never show up as committed
             * here, so librdkafka's own consumer_lag would stay -1. */
            pos = jint(p, "app_offset", -1);
            if (pos < 0)
                pos = jint(p, "committed_offset", -1);
            if (end < 0 || pos < 0)
                continue;
            dai_metric_set(k->m_lag, (double)(end > pos ? end - pos : 0), tname, pname);
        }
    }
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct kclient *k = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    const json_t *brokers, *b;
    const char *bname;

    (void)rk;
    if (!root)
        return 0; /* 0: librdkafka frees the JSON buffer */
    if (k->producer)
        dai_metric_set(k->m_queue, (double)jint(root, "msg_cnt", 0), k->name);
    pthread_mutex_lock(&k->mu);
    add_delta(k->m_tx, k->name, jint(root, "txmsgs", 0), &k->last_tx);
    add_delta(k->m_rx, k->name, jint(root, "rxmsgs", 0), &k->last_rx);
    pthread_mutex_unlock(&k->mu);
    brokers = json_object_get(root, "brokers");
    json_object_foreach((json_t *)brokers, bname, b) {
        const json_t *rtt = json_object_get(b, "rtt");

        /* Bootstrap and logical (coordinator) entries have no node id. */
        if (jint(b, "nodeid", -1) < 0 || !rtt)
            continue;
        dai_metric_set(k->m_rtt, (double)jint(rtt, "avg", 0) / 1e6, k->name, bname);
    }
    if (!k->producer)
        stats_consumer_lag(k, root);
    json_decref(root);
    return 0;
}

static void register_metrics(struct kclient *k, struct dai_metrics *reg)
{
    if (!reg)
        return;
    k->m_queue = dai_metric_gauge(reg, "dai_kafka_producer_queue_messages",
                                  "Messages waiting in the producer's queues", "client");
    k->m_tx = dai_metric_counter(reg, "dai_kafka_tx_messages_total",
                                 "Messages sent to brokers", "client");
    k->m_rx = dai_metric_counter(reg, "dai_kafka_rx_messages_total",
                                 "Messages received from brokers", "client");
    k->m_rtt = dai_metric_gauge(reg, "dai_kafka_broker_rtt_avg_seconds",
                                "Average broker round-trip time", "client,broker");
    k->m_lag = dai_metric_gauge(reg, "dai_kafka_consumer_lag",
                                "Messages between the consumer's position and the end",
                                "topic,partition");
    k->m_errors = dai_metric_counter(reg, "dai_kafka_errors_total",
                                     "Client errors reported by librdkafka", "client,code");
    k->m_dr = dai_metric_counter(reg, "dai_kafka_delivery_reports_total",
                                 "Delivery reports by result", "client,result");
}

/*---- configuration -------------------------------------------------------*/

static int conf_set(rd_kafka_conf_t *conf, const char *origin, const char *key, const char *val,
                    char *err, size_t errlen)
{
    char errstr[512];

    if (!val)
        return 0;
    if (rd_kafka_conf_set(conf, key, val, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s%s: %s", origin, key, errstr);
        return DAI_ECONFIG;
    }
    return 0;
}

static int conf_set_list(rd_kafka_conf_t *conf, const char *origin, const struct dai_kv *kv,
                         size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = conf_set(conf, origin, kv[i].key, kv[i].value, err, errlen);

        if (rc)
            return rc;
    }
    return 0;
}

/* The part every client shares: bootstrap, client.id, statistics, callbacks. */
static rd_kafka_conf_t *conf_base(struct kclient *k, const struct dai_common_config *cfg,
                                  const char *client_id, bool metrics, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf;
    char num[32];

    if (!cfg || !cfg->kafka_bootstrap || !*cfg->kafka_bootstrap) {
        snprintf(err, errlen, "kafka.bootstrap_servers is not set");
        return NULL;
    }
    conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(k->name, sizeof(k->name), "%s", client_id && *client_id ? client_id : "dispatchai");
    snprintf(num, sizeof(num), "%d", metrics ? cfg->kafka_stats_interval_ms : 0);
    if (conf_set(conf, "", "bootstrap.servers", cfg->kafka_bootstrap, err, errlen) ||
        conf_set(conf, "", "client.id", k->name, err, errlen) ||
        conf_set(conf, "", "statistics.interval.ms", num, err, errlen) ||
        /* Brokers close idle connections (connections.max.idle.ms); that is
         * not worth a warning every ten minutes. */
        conf_set(conf, "", "log.connection.close", "false", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return conf;
}

/*---- producer ------------------------------------------------------------*/

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
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
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
        p->on_delivery(p->ud, m->_private, m->err ? DAI_EKAFKA : 0, m->partition, m->offset,
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
    p->on_delivery = opt->on_delivery;
    p->ud = opt->ud;
    pthread_mutex_init(&p->k.mu, NULL);
    pthread_mutex_init(&p->room_mu, NULL);
    pthread_cond_init(&p->room_cond, NULL);
    conf = conf_base(&p->k, opt->cfg, opt->client_id, opt->metrics != NULL, err, errlen);
    if (!conf)
        goto fail;
    if (conf_set(conf, "", "transactional.id", opt->transactional_id, err, errlen) ||
        conf_set_list(conf, "default ", opt->defaults, opt->n_defaults, err, errlen) ||
        conf_set_list(conf, "kafka.producer.", opt->cfg->producer_props.v,
                      opt->cfg->producer_props.n, err, errlen))
        goto fail_conf;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    register_metrics(&p->k, opt->metrics);
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
    return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? DAI_EQUEUEFULL : DAI_EKAFKA;
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

int dai_txn_send_offsets(struct dai_producer *p, rd_kafka_t *consumer,
                         const rd_kafka_topic_partition_list_t *offsets, int timeout_ms,
                         char *err, size_t errlen)
{
    rd_kafka_consumer_group_metadata_t *gm;
    int rc;

    if (!p || !consumer || !offsets)
        return DAI_EINVAL;
    gm = rd_kafka_consumer_group_metadata(consumer);
    if (!gm) {
        snprintf(err, errlen, "send offsets: the consumer has no group metadata");
        return DAI_EKAFKA;
    }
    rc = txn_result(rd_kafka_send_offsets_to_transaction(p->k.rk, offsets, gm, timeout_ms),
                    "send offsets to transaction", err, errlen);
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

/*---- consumer --------------------------------------------------------------*/

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct dai_consumer *c = opaque;
    const char *proto = rd_kafka_rebalance_protocol(rk);
    /* COOPERATIVE (cooperative-sticky) hands out increments; EAGER replaces
     * the whole assignment. */
    bool coop = proto && !strcmp(proto, "COOPERATIVE");
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t ae = RD_KAFKA_RESP_ERR_NO_ERROR;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        dai_log(DAI_LOG_INFO, "kafka partitions assigned client=%s count=%d protocol=%s",
                c->k.name, parts->cnt, coop ? "cooperative" : "eager");
        if (c->on_rebalance)
            c->on_rebalance(c->ud, parts, true);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            ae = rd_kafka_assign(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        dai_log(rd_kafka_assignment_lost(rk) ? DAI_LOG_WARN : DAI_LOG_INFO,
                "kafka partitions revoked client=%s count=%d lost=%s", c->k.name, parts->cnt,
                rd_kafka_assignment_lost(rk) ? "true" : "false");
        if (c->on_rebalance)
            c->on_rebalance(c->ud, parts, false);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            ae = rd_kafka_assign(rk, NULL);
        break;
    default:
        log_client_error(&c->k, DAI_LOG_ERROR, err, "kafka rebalance failed",
                         rd_kafka_err2str(err));
        if (c->on_rebalance)
            c->on_rebalance(c->ud, parts, false);
        ae = rd_kafka_assign(rk, NULL);
        break;
    }
    if (e) {
        log_client_error(&c->k, DAI_LOG_ERROR, rd_kafka_error_code(e), "kafka assign failed",
                         rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (ae) {
        log_client_error(&c->k, DAI_LOG_ERROR, ae, "kafka assign failed", rd_kafka_err2str(ae));
    }
}

struct dai_consumer *dai_consumer_new(const struct dai_consumer_options *opt, char *err,
                                      size_t errlen)
{
    struct dai_consumer *c;
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_resp_err_t e;
    char errstr[512];

    if (!opt || !opt->group_id || !*opt->group_id) {
        snprintf(err, errlen, "a consumer needs a group id");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->on_rebalance = opt->on_rebalance;
    c->ud = opt->ud;
    pthread_mutex_init(&c->k.mu, NULL);
    conf = conf_base(&c->k, opt->cfg, opt->client_id, opt->metrics != NULL, err, errlen);
    if (!conf)
        goto fail;
    if (conf_set(conf, "", "group.id", opt->group_id, err, errlen) ||
        /* Set both ways: librdkafka's own default is read_committed. */
        conf_set(conf, "", "isolation.level",
                 opt->read_committed ? "read_committed" : "read_uncommitted", err, errlen) ||
        conf_set(conf, "", "enable.auto.commit", opt->auto_commit ? "true" : "false", err,
                 errlen) ||
        /* Without auto-commit the caller commits explicit offsets (or sends
         * them to a transaction); nothing may be stored behind its back. */
        conf_set(conf, "", "enable.auto.offset.store", opt->auto_commit ? "true" : "false",
                 err, errlen) ||
        conf_set(conf, "", "auto.offset.reset",
                 opt->offset_reset && *opt->offset_reset ? opt->offset_reset : "earliest", err,
                 errlen) ||
        conf_set_list(conf, "default ", opt->defaults, opt->n_defaults, err, errlen) ||
        conf_set_list(conf, "kafka.consumer.", opt->cfg->consumer_props.v,
                      opt->cfg->consumer_props.n, err, errlen))
        goto fail_conf;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    register_metrics(&c->k, opt->metrics);
    c->k.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!c->k.rk) {
        snprintf(err, errlen, "cannot create Kafka consumer: %s", errstr);
        goto fail_conf;
    }
    conf = NULL; /* owned by rk now */
    /* One queue for everything: error/log/stats callbacks and rebalances run
     * inside dai_consumer_poll. */
    rd_kafka_poll_set_consumer(c->k.rk);
    if (opt->subscribe) {
        if (!opt->n_topics || !opt->topics) {
            snprintf(err, errlen, "subscribe asked without topics");
            goto fail_rk;
        }
        subs = rd_kafka_topic_partition_list_new((int)opt->n_topics);
        for (size_t i = 0; i < opt->n_topics; i++)
            rd_kafka_topic_partition_list_add(subs, opt->topics[i], RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(c->k.rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (e) {
            snprintf(err, errlen, "cannot subscribe: %s", rd_kafka_err2str(e));
            goto fail_rk;
        }
    }
    return c;
fail_rk:
    rd_kafka_destroy(c->k.rk);
    goto fail;
fail_conf:
    rd_kafka_conf_destroy(conf);
fail:
    pthread_mutex_destroy(&c->k.mu);
    free(c);
    return NULL;
}

rd_kafka_message_t *dai_consumer_poll(struct dai_consumer *c, int timeout_ms)
{
    rd_kafka_message_t *m;
    char what[384];

    if (!c)
        return NULL;
    m = rd_kafka_consumer_poll(c->k.rk, timeout_ms);
    if (m && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        snprintf(what, sizeof(what), "kafka consume error topic=%s partition=%d offset=%lld",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
                 (long long)m->offset);
        log_client_error(&c->k, DAI_LOG_WARN, m->err, what, rd_kafka_message_errstr(m));
    }
    return m;
}

rd_kafka_t *dai_consumer_handle(struct dai_consumer *c)
{
    return c ? c->k.rk : NULL;
}

void dai_consumer_close(struct dai_consumer *c)
{
    rd_kafka_resp_err_t e;

    if (!c)
        return;
    /* Leaves the group; the revoke runs the rebalance callback one last
     * time, on this thread. */
    e = rd_kafka_consumer_close(c->k.rk);
    if (e)
        log_client_error(&c->k, DAI_LOG_WARN, e, "kafka consumer close", rd_kafka_err2str(e));
    rd_kafka_destroy(c->k.rk);
    pthread_mutex_destroy(&c->k.mu);
    free(c);
}

/*---- helpers ---------------------------------------------------------------*/

const char *dai_kafka_msg_header(const rd_kafka_message_t *m, const char *name, size_t *len)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t sz = 0;

    if (len)
        *len = 0;
    if (!m || !name || rd_kafka_message_headers(m, &h) || !h)
        return NULL;
    if (rd_kafka_header_get_last(h, name, &v, &sz))
        return NULL;
    if (len)
        *len = sz;
    return v ? (const char *)v : "";
}
