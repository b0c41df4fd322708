/* Kafka on librdkafka, the only code that touches its configuration: client
 * confs built from the common config, daemon defaults and kafka.producer.* /
 * kafka.consumer.* pass-through (in that order, so operators win), and the
 * error/log/statistics callbacks every client shares (statistics become
 * metrics). Producers and transactions are kafka_producer.c's, consumers
 * kafka_consumer.c's; topic creation, checks and watermarks are in
 * kafka_admin.c. What to produce and when to commit is the daemons' business. */
#include "kafka_internal.h"

#include <dispatchai/clock.h>
#include <dispatchai/json.h>
#include <dispatchai/lifecycle.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The same client error logged again within this window goes to DEBUG:
 * librdkafka repeats transport errors on every reconnect attempt while a
 * broker is down. */
#define ERROR_LOG_INTERVAL_US (10 * 1000000LL)

/*---- small helpers -------------------------------------------------------*/

/* Log a client error, at DEBUG when the same code was logged recently. */
void dai__kafka_log_client_error(struct kclient *k, enum dai_log_level level,
                                 rd_kafka_resp_err_t err,
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
    dai_log(level, "%s client=%s code=%s reason=%s", what, k->name, rd_kafka_err2name(err),
            dai_log_value(q, sizeof(q), reason));
}

/*---- callbacks -----------------------------------------------------------*/

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kclient *k = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512], q[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));

        dai_metric_add(k->m_errors, 1, k->name, rd_kafka_err2name(orig));
        dai_log(DAI_LOG_ERROR, "kafka fatal error, %s client=%s code=%s reason=%s",
                k->on_fatal ? "replacing the client" : "stopping", k->name,
                rd_kafka_err2name(orig), dai_log_value(q, sizeof(q), buf));
        if (k->on_fatal)
            k->on_fatal(k->fatal_ud);
        else
            dai_lifecycle_request_stop("kafka fatal error");
        return;
    }
    /* Everything else is reported for information: librdkafka recovers by
     * itself (reconnects, retries) and fails messages through their
     * delivery reports when it cannot. */
    dai__kafka_log_client_error(k, DAI_LOG_WARN, (rd_kafka_resp_err_t)err, "kafka client error",
                                reason);
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
    dai_log(l, "kafka log client=%s facility=%s msg=%s", rd_kafka_name(rk), fac,
            dai_log_value(q, sizeof(q), buf));
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
            end = dai_json_int(p, "ls_offset", -1);
            if (end < 0)
                end = dai_json_int(p, "hi_offset", -1);
            /* Lag as the application sees it: from the next offset it will
             * be given (app_offset), else from the committed offset. Offsets
             * committed through transactions never show up as committed
             * here, so librdkafka's own consumer_lag would stay -1. */
            pos = dai_json_int(p, "app_offset", -1);
            if (pos < 0)
                pos = dai_json_int(p, "committed_offset", -1);
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
        dai_metric_set(k->m_queue, (double)dai_json_int(root, "msg_cnt", 0), k->name);
    pthread_mutex_lock(&k->mu);
    add_delta(k->m_tx, k->name, dai_json_int(root, "txmsgs", 0), &k->last_tx);
    add_delta(k->m_rx, k->name, dai_json_int(root, "rxmsgs", 0), &k->last_rx);
    pthread_mutex_unlock(&k->mu);
    brokers = json_object_get(root, "brokers");
    json_object_foreach((json_t *)brokers, bname, b) {
        const json_t *rtt = json_object_get(b, "rtt");

        /* Bootstrap and logical (coordinator) entries have no node id. */
        if (dai_json_int(b, "nodeid", -1) < 0 || !rtt)
            continue;
        dai_metric_set(k->m_rtt, (double)dai_json_int(rtt, "avg", 0) / 1e6, k->name, bname);
    }
    if (!k->producer)
        stats_consumer_lag(k, root);
    json_decref(root);
    return 0;
}

void dai__kafka_register_metrics(struct kclient *k, struct dai_metrics *reg)
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

int dai__kafka_conf_set(rd_kafka_conf_t *conf, const char *origin, const char *key, const char *val,
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

int dai__kafka_conf_set_list(rd_kafka_conf_t *conf, const char *origin, const struct dai_kv *kv,
                         size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc = dai__kafka_conf_set(conf, origin, kv[i].key, kv[i].value, err, errlen);

        if (rc)
            return rc;
    }
    return 0;
}

/* The part every client shares: bootstrap, client.id, statistics, callbacks. */
rd_kafka_conf_t *dai__kafka_conf_base(struct kclient *k, const struct dai_common_config *cfg,
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
    if (dai__kafka_conf_set(conf, "", "bootstrap.servers", cfg->kafka_bootstrap, err, errlen) ||
        dai__kafka_conf_set(conf, "", "client.id", k->name, err, errlen) ||
        dai__kafka_conf_set(conf, "", "statistics.interval.ms", num, err, errlen) ||
        /* Brokers close idle connections (connections.max.idle.ms); that is
         * not worth a warning every ten minutes. */
        dai__kafka_conf_set(conf, "", "log.connection.close", "false", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return conf;
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
