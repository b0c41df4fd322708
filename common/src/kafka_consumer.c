/* Kafka consumers: subscription or manual assignment, rebalance handling
 * (eager and cooperative), polling with error logging, and close. */
#include "kafka_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        dai__kafka_log_client_error(&c->k, DAI_LOG_ERROR, err, "kafka rebalance failed",
                                    rd_kafka_err2str(err));
        if (c->on_rebalance)
            c->on_rebalance(c->ud, parts, false);
        ae = rd_kafka_assign(rk, NULL);
        break;
    }
    if (e) {
        dai__kafka_log_client_error(&c->k, DAI_LOG_ERROR, rd_kafka_error_code(e),
                                    "kafka assign failed",
                                    rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (ae) {
        dai__kafka_log_client_error(&c->k, DAI_LOG_ERROR, ae, "kafka assign failed",
                                    rd_kafka_err2str(ae));
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
    conf = dai__kafka_conf_base(&c->k, opt->cfg, opt->client_id, opt->metrics != NULL, err, errlen);
    if (!conf)
        goto fail;
    if (dai__kafka_conf_set(conf, "", "group.id", opt->group_id, err, errlen) ||
        /* Set both ways: librdkafka's own default is read_committed. */
        dai__kafka_conf_set(conf, "", "isolation.level",
                            opt->read_committed ? "read_committed" : "read_uncommitted", err,
                            errlen) ||
        dai__kafka_conf_set(conf, "", "enable.auto.commit", opt->auto_commit ? "true" : "false",
                            err, errlen) ||
        /* Without auto-commit the caller commits explicit offsets (or sends
         * them to a transaction); nothing may be stored behind its back. */
        dai__kafka_conf_set(conf, "", "enable.auto.offset.store",
                            opt->auto_commit ? "true" : "false", err, errlen) ||
        dai__kafka_conf_set(conf, "", "auto.offset.reset",
                            opt->offset_reset && *opt->offset_reset ? opt->offset_reset
                                                                    : "earliest",
                            err, errlen) ||
        dai__kafka_conf_set_list(conf, "default ", opt->defaults, opt->n_defaults, err, errlen) ||
        dai__kafka_conf_set_list(conf, "kafka.consumer.", opt->cfg->consumer_props.v,
                                 opt->cfg->consumer_props.n, err, errlen))
        goto fail_conf;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    dai__kafka_register_metrics(&c->k, opt->metrics);
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
    if (c->follow_topic)
        dai__kafka_follow_tick(c);
    m = rd_kafka_consumer_poll(c->k.rk, timeout_ms);
    if (m && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        snprintf(what, sizeof(what), "kafka consume error topic=%s partition=%d offset=%lld",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
                 (long long)m->offset);
        dai__kafka_log_client_error(&c->k, DAI_LOG_WARN, m->err, what, rd_kafka_message_errstr(m));
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
        dai__kafka_log_client_error(&c->k, DAI_LOG_WARN, e, "kafka consumer close",
                                    rd_kafka_err2str(e));
    rd_kafka_destroy(c->k.rk);
    pthread_mutex_destroy(&c->k.mu);
    free(c->follow_topic);
    free(c);
}
