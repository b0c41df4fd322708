/* Manual partition assignment for consumers that place themselves (no group
 * subscription): assign, follow a topic as it gains partitions, seek,
 * committed offsets, pause/resume and cached watermarks, all in terms of
 * one topic and struct dai_kafka_pos so daemons never build librdkafka
 * partition lists. */
#include "kafka_internal.h"

#include <dispatchai/clock.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a follow tick may wait for the topic's metadata: it runs on the
 * consumer's thread, between polls. */
#define FOLLOW_METADATA_TIMEOUT_MS 2000

rd_kafka_topic_partition_list_t *dai__kafka_list_of(const char *topic,
                                                    const struct dai_kafka_pos *pos, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n ? (int)n : 1);

    for (size_t i = 0; l && i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, pos[i].partition)->offset = pos[i].offset;
    return l;
}

/* Check the arguments every call below takes and build their list (*l, new). */
static int list_for(const struct dai_consumer *c, const char *topic,
                    const struct dai_kafka_pos *pos, size_t n,
                    rd_kafka_topic_partition_list_t **l, char *err, size_t errlen)
{
    if (!c || !topic || (n && !pos))
        return DAI_EINVAL;
    *l = dai__kafka_list_of(topic, pos, n);
    if (!*l) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static int kafka_failed(rd_kafka_resp_err_t e, const char *what, const char *topic, char *err,
                        size_t errlen)
{
    snprintf(err, errlen, "%s %s: %s", what, topic, rd_kafka_err2str(e));
    return e == RD_KAFKA_RESP_ERR__TIMED_OUT ? DAI_ETIMEOUT : DAI_EKAFKA;
}

int dai_consumer_assign(struct dai_consumer *c, const char *topic, const struct dai_kafka_pos *pos,
                        size_t n, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    int rc = list_for(c, topic, pos, n, &l, err, errlen);

    if (rc)
        return rc;
    e = rd_kafka_assign(c->k.rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e ? kafka_failed(e, "assign", topic, err, errlen) : 0;
}

/* Partitions of topic in the cluster's metadata now, into *n. */
static int partition_count(struct dai_consumer *c, const char *topic, int timeout_ms, int *n,
                           char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->k.rk, topic, NULL);
    rd_kafka_resp_err_t e;
    int rc = 0;

    if (!rkt)
        return kafka_failed(rd_kafka_last_error(), "metadata of", topic, err, errlen);
    e = rd_kafka_metadata(c->k.rk, 0, rkt, &md, timeout_ms);
    if (e) {
        rc = kafka_failed(e, "metadata of", topic, err, errlen);
    } else if (md->topic_cnt < 1 || md->topics[0].err) {
        snprintf(err, errlen, "metadata of %s: %s", topic,
                 md->topic_cnt < 1 ? "no such topic" : rd_kafka_err2str(md->topics[0].err));
        rc = DAI_ENOTFOUND;
    } else {
        *n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Partitions from..to-1 of the followed topic, from the beginning (new). */
static struct dai_kafka_pos *from_beginning(int from, int to)
{
    struct dai_kafka_pos *pos = calloc((size_t)(to - from), sizeof(*pos));

    for (int i = from; pos && i < to; i++)
        pos[i - from] = (struct dai_kafka_pos){i, DAI_KAFKA_OFFSET_BEGINNING};
    return pos;
}

int dai_consumer_follow(struct dai_consumer *c, const char *topic, int every_ms, int timeout_ms,
                        dai_partitions_fn on_grow, void *ud, int *n_parts, char *err,
                        size_t errlen)
{
    struct dai_kafka_pos *pos;
    char *name;
    int n = 0, rc;

    if (!c || !topic || every_ms <= 0 || !n_parts)
        return DAI_EINVAL;
    *n_parts = 0;
    rc = partition_count(c, topic, timeout_ms, &n, err, errlen);
    if (rc)
        return rc;
    pos = from_beginning(0, n);
    name = strdup(topic);
    if ((n && !pos) || !name) {
        free(pos);
        free(name);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = dai_consumer_assign(c, topic, pos, (size_t)n, err, errlen);
    free(pos);
    if (rc) {
        free(name);
        return rc;
    }
    free(c->follow_topic);
    c->follow_topic = name;
    c->follow_parts = n;
    c->follow_grow = on_grow;
    c->follow_ud = ud;
    c->follow_every_us = (long long)every_ms * 1000;
    c->follow_last_us = dai_mono_us();
    *n_parts = n;
    return 0;
}

void dai__kafka_follow_tick(struct dai_consumer *c)
{
    rd_kafka_topic_partition_list_t *l;
    struct dai_kafka_pos *pos;
    rd_kafka_error_t *e;
    char err[256];
    int n = 0, added;

    if (dai_mono_us() - c->follow_last_us < c->follow_every_us)
        return;
    c->follow_last_us = dai_mono_us();
    if (partition_count(c, c->follow_topic, FOLLOW_METADATA_TIMEOUT_MS, &n, err, sizeof(err))) {
        /* Metadata fails while brokers are away; the next tick asks again. */
        dai_log(DAI_LOG_DEBUG, "kafka follow: %s", err);
        return;
    }
    if (n <= c->follow_parts)
        return; /* Kafka never removes partitions */
    added = n - c->follow_parts;
    pos = from_beginning(c->follow_parts, n);
    l = pos ? dai__kafka_list_of(c->follow_topic, pos, (size_t)added) : NULL;
    free(pos);
    if (!l)
        return; /* out of memory: retried at the next tick */
    if (c->follow_grow && c->follow_grow(c->follow_ud, n)) {
        rd_kafka_topic_partition_list_destroy(l);
        return; /* asked again at the next tick */
    }
    e = rd_kafka_incremental_assign(c->k.rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        dai__kafka_log_client_error(&c->k, DAI_LOG_ERROR, rd_kafka_error_code(e),
                                    "kafka assign failed", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return;
    }
    dai_log(DAI_LOG_INFO, "kafka partitions added client=%s topic=%s count=%d partitions=%d",
            c->k.name, c->follow_topic, added, n);
    c->follow_parts = n;
}

int dai_consumer_seek(struct dai_consumer *c, const char *topic, const struct dai_kafka_pos *pos,
                      size_t n, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_error_t *e;
    int rc = list_for(c, topic, pos, n, &l, err, errlen);

    if (rc)
        return rc;
    e = rd_kafka_seek_partitions(c->k.rk, l, timeout_ms);
    if (e) {
        snprintf(err, errlen, "seek %s: %s", topic, rd_kafka_error_string(e));
        rc = rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT ? DAI_ETIMEOUT : DAI_EKAFKA;
        rd_kafka_error_destroy(e);
    }
    for (int i = 0; !rc && i < l->cnt; i++) {
        if (l->elems[i].err) {
            snprintf(err, errlen, "seek %s [%d]: %s", topic, (int)l->elems[i].partition,
                     rd_kafka_err2str(l->elems[i].err));
            rc = DAI_EKAFKA;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int dai_consumer_committed(struct dai_consumer *c, const char *topic, struct dai_kafka_pos *pos,
                           size_t n, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    int rc = list_for(c, topic, pos, n, &l, err, errlen);

    if (rc)
        return rc;
    e = rd_kafka_committed(c->k.rk, l, timeout_ms);
    /* librdkafka keeps the list's order. */
    for (size_t i = 0; !e && i < n; i++)
        pos[i].offset = l->elems[i].err || l->elems[i].offset < 0 ? DAI_KAFKA_OFFSET_NONE
                                                                  : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return e ? kafka_failed(e, "committed offsets of", topic, err, errlen) : 0;
}

int dai_consumer_pause(struct dai_consumer *c, const char *topic, const struct dai_kafka_pos *pos,
                       size_t n, bool pause)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    int rc = list_for(c, topic, pos, n, &l, NULL, 0);

    if (rc)
        return rc;
    e = pause ? rd_kafka_pause_partitions(c->k.rk, l) : rd_kafka_resume_partitions(c->k.rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e ? DAI_EKAFKA : 0;
}

int dai_consumer_cached_watermarks(struct dai_consumer *c, const char *topic, int32_t partition,
                                   int64_t *low, int64_t *high)
{
    if (!c || !topic || !low || !high)
        return DAI_EINVAL;
    if (rd_kafka_get_watermark_offsets(c->k.rk, topic, partition, low, high) || *high < 0)
        return DAI_ENOTFOUND;
    return 0;
}
