/* Kafka on librdkafka: producers and consumers built from the common config
 * (plus kafka.producer.* / kafka.consumer.* pass-through properties), a poll
 * thread that runs delivery reports, transactions with outcomes mapped to
 * retry/abort/fatal, topic creation at start, readiness checks, and
 * librdkafka statistics exposed as metrics. Fatal client errors are logged and
 * ask the process to stop (dai_lifecycle_request_stop). */
#ifndef DISPATCHAI_KAFKA_H
#define DISPATCHAI_KAFKA_H

#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/metrics.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dai_kafka_header {
    const char *name;
    const void *value;
    size_t len;
};

/* A partition of one topic and an offset: a position, or one of the
 * DAI_KAFKA_OFFSET_* values. */
struct dai_kafka_pos {
    int32_t partition;
    int64_t offset;
};
#define DAI_KAFKA_OFFSET_BEGINNING RD_KAFKA_OFFSET_BEGINNING
#define DAI_KAFKA_OFFSET_END RD_KAFKA_OFFSET_END
/* No committed offset (dai_consumer_committed). */
#define DAI_KAFKA_OFFSET_NONE RD_KAFKA_OFFSET_INVALID

struct dai_consumer;

/* ---- producer ---------------------------------------------------------- */

/* A delivery report, run on the producer's poll thread (or in
 * dai_producer_poll without one; messages that dai_producer_free has to purge
 * report on the thread calling it). rc is 0 when the broker acknowledged the
 * message (partition/offset valid), else dai_kafka_err_rc's code with errstr
 * (static text). Every message that dai_producer_send accepted gets exactly
 * one report. */
typedef void (*dai_delivery_fn)(void *ud, void *msg_opaque, int rc, int32_t partition,
                                int64_t offset, const char *errstr);
/* A fatal producer error (logged already), run on the poll thread. The
 * producer is unusable from then on; the owner replaces it from another
 * thread (never from this callback). */
typedef void (*dai_fatal_fn)(void *ud);

struct dai_producer_options {
    const struct dai_common_config *cfg;  /* borrowed for the call */
    const char *client_id;                /* e.g. "dispatchai-ingress" */
    /* Daemon defaults, applied before kafka.producer.* so operators can override. */
    const struct dai_kv *defaults;
    size_t n_defaults;
    const char *transactional_id;         /* non-NULL: transactional producer */
    dai_delivery_fn on_delivery;          /* NULL: reports are counted only */
    void *ud;
    struct dai_metrics *metrics;          /* borrowed; NULL = no metrics */
    bool poll_thread;                     /* run rd_kafka_poll on an own thread */
    dai_fatal_fn on_fatal;                /* NULL: a fatal error stops the daemon (exit 1) */
};

struct dai_producer;

struct dai_producer *dai_producer_new(const struct dai_producer_options *opt, char *err,
                                      size_t errlen);

/* Produce one message. With take_value, librdkafka frees value (malloc'd) once
 * it is done with it — but only when this returns 0; on failure the caller
 * still owns it. Otherwise the value is copied. Returns 0, DAI_EQUEUEFULL
 * (after waiting up to block_ms for room), or dai_kafka_err_rc's code. */
DAI_MUST_CHECK int dai_producer_send(struct dai_producer *p, const char *topic, const void *key,
                                     size_t klen, void *value, size_t vlen, bool take_value,
                                     const struct dai_kafka_header *hdrs, size_t n_hdrs,
                                     void *msg_opaque, int block_ms);

/* Messages not yet acknowledged or failed. */
int dai_producer_outq_len(struct dai_producer *p);
/* Wait for outstanding messages; returns how many are still queued. */
int dai_producer_flush(struct dai_producer *p, int timeout_ms);
/* Serve delivery reports on the caller's thread (when poll_thread is false). */
void dai_producer_poll(struct dai_producer *p, int timeout_ms);
rd_kafka_t *dai_producer_handle(struct dai_producer *p);
/* Flush up to flush_timeout_ms, then destroy. Returns messages left unsent;
 * those are purged first, so their owners still get a (failed) delivery
 * report. NULL is fine. */
int dai_producer_free(struct dai_producer *p, int flush_timeout_ms);

/* Transactions: 0 or DAI_ETXN_RETRY / DAI_ETXN_ABORT / DAI_ETXN_FATAL, message in err. */
DAI_MUST_CHECK int dai_txn_init(struct dai_producer *p, int timeout_ms, char *err, size_t errlen);
DAI_MUST_CHECK int dai_txn_begin(struct dai_producer *p, char *err, size_t errlen);
/* Commit with the transaction, for consumer's group, the next offsets to
 * consume (last processed + 1) of n partitions of topic. */
DAI_MUST_CHECK int dai_txn_send_offsets(struct dai_producer *p, struct dai_consumer *consumer,
                                        const char *topic, const struct dai_kafka_pos *offsets,
                                        size_t n, int timeout_ms, char *err, size_t errlen);
DAI_MUST_CHECK int dai_txn_commit(struct dai_producer *p, int timeout_ms, char *err,
                                  size_t errlen);
DAI_MUST_CHECK int dai_txn_abort(struct dai_producer *p, int timeout_ms, char *err,
                                 size_t errlen);

/* ---- consumer ---------------------------------------------------------- */

/* Partitions assigned (assigned = true) or revoked, run inside
 * dai_consumer_poll before the assignment changes. */
typedef void (*dai_rebalance_fn)(void *ud, const rd_kafka_topic_partition_list_t *parts,
                                 bool assigned);

struct dai_consumer_options {
    const struct dai_common_config *cfg;
    const char *client_id;
    const char *group_id;                 /* required by librdkafka even for manual assign */
    const struct dai_kv *defaults;
    size_t n_defaults;
    const char *const *topics;            /* subscribed when subscribe is true */
    size_t n_topics;
    bool subscribe;                       /* false: the caller assigns partitions itself */
    bool read_committed;
    bool auto_commit;
    const char *offset_reset;             /* "earliest" (default) or "latest" */
    dai_rebalance_fn on_rebalance;
    void *ud;
    /* borrowed; NULL = no metrics. dai_kafka_consumer_lag{topic,partition} is
     * re-published whole at each statistics tick: one consumer per registry. */
    struct dai_metrics *metrics;
};

struct dai_consumer *dai_consumer_new(const struct dai_consumer_options *opt, char *err,
                                      size_t errlen);
/* Next message, event error or NULL after timeout_ms. The caller destroys it
 * with rd_kafka_message_destroy. Errors inside messages (m->err) other than
 * partition EOF are logged here and returned for the caller to skip. */
rd_kafka_message_t *dai_consumer_poll(struct dai_consumer *c, int timeout_ms);
rd_kafka_t *dai_consumer_handle(struct dai_consumer *c);
/* Leave the group (commits nothing by itself unless auto_commit) and destroy. NULL is fine. */
void dai_consumer_close(struct dai_consumer *c);

/* Manual assignment (subscribe = false). These return 0, or DAI_EKAFKA /
 * DAI_ETIMEOUT / -ENOMEM with the reason in err where there is one. */

/* Replace the assignment with n partitions of topic, each read from its offset. */
DAI_MUST_CHECK int dai_consumer_assign(struct dai_consumer *c, const char *topic,
                                       const struct dai_kafka_pos *pos, size_t n, char *err,
                                       size_t errlen);
/* The followed topic now has n_parts partitions (more than before); run in
 * dai_consumer_poll before the new ones are assigned. 0, or a negative code
 * to leave them unassigned until the next metadata check (e.g. -ENOMEM). */
typedef int (*dai_partitions_fn)(void *ud, int n_parts);
/* Assign every partition topic has now from the beginning, and from then on
 * follow it: dai_consumer_poll asks for the topic's metadata every every_ms
 * and assigns partitions added since, from the beginning (so no message on
 * them is missed), after on_grow (may be NULL) accepted them. *n_parts
 * receives the partitions assigned now. */
DAI_MUST_CHECK int dai_consumer_follow(struct dai_consumer *c, const char *topic, int every_ms,
                                       int timeout_ms, dai_partitions_fn on_grow, void *ud,
                                       int *n_parts, char *err, size_t errlen);
/* Move n assigned partitions of topic to their offsets. */
DAI_MUST_CHECK int dai_consumer_seek(struct dai_consumer *c, const char *topic,
                                     const struct dai_kafka_pos *pos, size_t n, int timeout_ms,
                                     char *err, size_t errlen);
/* The group's committed offsets of n partitions of topic, into pos[i].offset
 * (DAI_KAFKA_OFFSET_NONE where nothing is committed). With read_committed it
 * waits for pending transactional commits. */
DAI_MUST_CHECK int dai_consumer_committed(struct dai_consumer *c, const char *topic,
                                          struct dai_kafka_pos *pos, size_t n, int timeout_ms,
                                          char *err, size_t errlen);
/* Stop (pause = true) or restart fetching n partitions of topic (offsets ignored). */
DAI_MUST_CHECK int dai_consumer_pause(struct dai_consumer *c, const char *topic,
                                      const struct dai_kafka_pos *pos, size_t n, bool pause);
/* Low and high watermarks of a partition as last seen in fetch responses (no
 * broker round trip). 0, or DAI_ENOTFOUND when none are known yet. */
DAI_MUST_CHECK int dai_consumer_cached_watermarks(struct dai_consumer *c, const char *topic,
                                                  int32_t partition, int64_t *low,
                                                  int64_t *high);

/* ---- helpers ----------------------------------------------------------- */

/* How a produce error is to be treated (pure): 0 for no error; DAI_ETOOBIG
 * when this message can never fit (message or batch larger than a client,
 * topic or broker limit); DAI_EREFUSED when the cluster refuses it for good
 * (invalid topic, not authorised, a record the broker rejects) — retrying the
 * same message cannot succeed until an operator changes something;
 * DAI_EQUEUEFULL for a full local queue; DAI_EKAFKA for everything transient
 * (timeouts, leader changes, a broker that is down, a topic not created yet). */
int dai_kafka_err_rc(rd_kafka_resp_err_t e);

/* A header's value (borrowed from the message, not NUL-terminated; "" for a
 * header without value) or NULL; *len receives its length. */
const char *dai_kafka_msg_header(const rd_kafka_message_t *m, const char *name, size_t *len);

/* Create the topics that do not exist (partitions/replication from cfg). */
DAI_MUST_CHECK int dai_kafka_ensure_topics(rd_kafka_t *rk, const struct dai_common_config *cfg,
                                           const char *const *topics, size_t n, int timeout_ms,
                                           char *err, size_t errlen);
/* 0 when the broker answers metadata and every topic exists; else DAI_EKAFKA
 * or DAI_ENOTFOUND with the reason in err. For /ready. */
DAI_MUST_CHECK int dai_kafka_check_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                                          int timeout_ms, char *err, size_t errlen);
/* Low/high watermarks of every partition of topic: *n_out partitions, arrays
 * new (free()). For catch-up checks. */
DAI_MUST_CHECK int dai_kafka_watermarks(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                        int64_t **low, int64_t **high, int *n_out, char *err,
                                        size_t errlen);

#endif
