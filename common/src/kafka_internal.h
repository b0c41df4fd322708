/* Private to common/src/kafka*.c: what producers and consumers share.
 * Never included outside common/. */
#ifndef DISPATCHAI_KAFKA_INTERNAL_H
#define DISPATCHAI_KAFKA_INTERNAL_H

#include <dispatchai/kafka.h>
#include <dispatchai/log.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What producers and consumers share; the first member of both, and the
 * opaque librdkafka hands to every callback. */
struct kclient {
    rd_kafka_t *rk;
    char name[128]; /* client.id: log field and metric label */
    bool producer;
    dai_fatal_fn on_fatal; /* producers only; NULL: stop the daemon */
    void *fatal_ud;
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
struct dai_consumer {
    struct kclient k;
    dai_rebalance_fn on_rebalance;
    void *ud;
    /* dai_consumer_follow: the topic whose new partitions are assigned, how
     * often its metadata is asked for, when it was last, and how many
     * partitions are assigned (0..n-1). Consumer thread only. */
    char *follow_topic;
    long long follow_every_us, follow_last_us;
    int follow_parts;
    dai_partitions_fn follow_grow;
    void *follow_ud;
};

/* A partition list for topic with pos's partitions and offsets (new), or NULL. */
rd_kafka_topic_partition_list_t *dai__kafka_list_of(const char *topic,
                                                    const struct dai_kafka_pos *pos, size_t n);
/* kafka_assign.c: in dai_consumer_poll, assign partitions the followed
 * topic gained (at most once per follow interval). */
void dai__kafka_follow_tick(struct dai_consumer *c);

/* Log a client error, at DEBUG when the same code was logged recently, and
 * count it. */
void dai__kafka_log_client_error(struct kclient *k, enum dai_log_level level,
                                 rd_kafka_resp_err_t err, const char *what, const char *reason);
/* Set key=val on conf (nothing when val is NULL); DAI_ECONFIG with
 * "<origin><key>: reason" in err. */
int dai__kafka_conf_set(rd_kafka_conf_t *conf, const char *origin, const char *key,
                        const char *val, char *err, size_t errlen);
int dai__kafka_conf_set_list(rd_kafka_conf_t *conf, const char *origin, const struct dai_kv *kv,
                             size_t n, char *err, size_t errlen);
/* The part every client shares: bootstrap, client.id, statistics, callbacks
 * (k is their opaque). New conf or NULL with the reason in err. */
rd_kafka_conf_t *dai__kafka_conf_base(struct kclient *k, const struct dai_common_config *cfg,
                                      const char *client_id, bool metrics, char *err,
                                      size_t errlen);
/* The client metric families in reg (nothing when reg is NULL). */
void dai__kafka_register_metrics(struct kclient *k, struct dai_metrics *reg);

#endif
