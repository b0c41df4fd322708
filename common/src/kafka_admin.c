/* Kafka administration on an existing client: whether topics exist (from
 * metadata, never auto-creating them), creating the missing ones with the
 * configured partitions and replication, and partition watermarks. Used at
 * start-up and by readiness checks; nothing here produces or consumes. */
#include <dispatchai/clock.h>
#include <dispatchai/kafka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Metadata of every topic (all_topics: never asks the broker to
 * auto-create the one we look for). */
static int metadata_all(rd_kafka_t *rk, int timeout_ms, const struct rd_kafka_metadata **md,
                        char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, md, timeout_ms);

    if (e) {
        snprintf(err, errlen, "Kafka metadata request failed: %s", rd_kafka_err2str(e));
        return e == RD_KAFKA_RESP_ERR__TIMED_OUT ? DAI_ETIMEOUT : DAI_EKAFKA;
    }
    return 0;
}

static const struct rd_kafka_metadata_topic *md_topic(const struct rd_kafka_metadata *md,
                                                      const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name) && !md->topics[i].err &&
            md->topics[i].partition_cnt > 0)
            return &md->topics[i];
    return NULL;
}

int dai_kafka_check_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms,
                           char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    int rc;

    if (!rk || (n && !topics))
        return DAI_EINVAL;
    rc = metadata_all(rk, timeout_ms, &md, err, errlen);
    if (rc)
        return rc == DAI_ETIMEOUT ? DAI_EKAFKA : rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!md_topic(md, topics[i])) {
            snprintf(err, errlen, "topic %s does not exist", topics[i]);
            rc = DAI_ENOTFOUND;
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Create the topics named in missing[0..n); TOPIC_ALREADY_EXISTS is fine
 * (another process won the race). */
static int create_topics(rd_kafka_t *rk, const struct dai_common_config *cfg,
                         const char *const *missing, size_t n, long long deadline, char *err,
                         size_t errlen)
{
    rd_kafka_NewTopic_t **nt = calloc(n, sizeof(*nt));
    rd_kafka_AdminOptions_t *ao = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t **tr;
    char errstr[512];
    size_t cnt = 0;
    int rc = 0;

    if (!nt)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(missing[i], cfg->topic_partitions > 0
                                                      ? cfg->topic_partitions : 3,
                                      cfg->topic_replication > 0 ? cfg->topic_replication : 1,
                                      errstr, sizeof(errstr));
        if (!nt[i]) {
            snprintf(err, errlen, "topic %s: %s", missing[i], errstr);
            rc = DAI_EINVAL;
            goto out;
        }
    }
    ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    q = rd_kafka_queue_new(rk);
    if (!ao || !q) {
        rc = -ENOMEM;
        goto out;
    }
    /* The operation timeout makes the controller wait until the topics
     * exist before it answers. */
    if (rd_kafka_AdminOptions_set_request_timeout(ao, dai_ms_left(deadline), errstr,
                                                  sizeof(errstr)) ||
        rd_kafka_AdminOptions_set_operation_timeout(ao, dai_ms_left(deadline), errstr,
                                                    sizeof(errstr))) {
        snprintf(err, errlen, "create topics: %s", errstr);
        rc = DAI_EINVAL;
        goto out;
    }
    rd_kafka_CreateTopics(rk, nt, n, ao, q);
    ev = rd_kafka_queue_poll(q, dai_ms_left(deadline) + 1000);
    if (!ev) {
        snprintf(err, errlen, "create topics: no answer in time");
        rc = DAI_ETIMEOUT;
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "create topics: %s", rd_kafka_event_error_string(ev));
        rc = DAI_EKAFKA;
        goto out;
    }
    res = rd_kafka_event_CreateTopics_result(ev);
    tr = res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);

        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, errlen, "create topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                     rd_kafka_topic_result_error_string(tr[i])
                         ? rd_kafka_topic_result_error_string(tr[i])
                         : rd_kafka_err2str(e));
            rc = DAI_EKAFKA;
            break;
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (ao)
        rd_kafka_AdminOptions_destroy(ao);
    for (size_t i = 0; i < n; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    return rc;
}

int dai_kafka_ensure_topics(rd_kafka_t *rk, const struct dai_common_config *cfg,
                            const char *const *topics, size_t n, int timeout_ms, char *err,
                            size_t errlen)
{
    long long deadline = dai_mono_us() + (long long)timeout_ms * 1000;
    const struct rd_kafka_metadata *md = NULL;
    const struct timespec pause = {0, 100 * 1000000L};
    const char **missing;
    size_t n_missing = 0;
    int rc;

    if (!rk || !cfg || (n && !topics))
        return DAI_EINVAL;
    if (!n)
        return 0;
    missing = calloc(n, sizeof(*missing));
    if (!missing)
        return -ENOMEM;
    rc = metadata_all(rk, dai_ms_left(deadline), &md, err, errlen);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (!md_topic(md, topics[i]))
            missing[n_missing++] = topics[i];
    rd_kafka_metadata_destroy(md);
    if (!n_missing)
        goto out;
    rc = create_topics(rk, cfg, missing, n_missing, deadline, err, errlen);
    /* Creation answered; wait until this client's metadata shows every
     * topic, so a produce or subscribe right after does not race it. */
    while (!rc) {
        size_t absent = 0;

        rc = metadata_all(rk, dai_ms_left(deadline), &md, err, errlen);
        if (rc)
            break;
        for (size_t i = 0; i < n_missing; i++)
            absent += md_topic(md, missing[i]) == NULL;
        rd_kafka_metadata_destroy(md);
        if (!absent)
            break;
        if (dai_ms_left(deadline) == 0) {
            snprintf(err, errlen, "created topics did not appear in metadata in time");
            rc = DAI_ETIMEOUT;
            break;
        }
        nanosleep(&pause, NULL);
    }
out:
    free(missing);
    return rc;
}

int dai_kafka_watermarks(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t **low,
                         int64_t **high, int *n_out, char *err, size_t errlen)
{
    long long deadline = dai_mono_us() + (long long)timeout_ms * 1000;
    const struct rd_kafka_metadata *md = NULL;
    const struct rd_kafka_metadata_topic *t;
    int64_t *lo = NULL, *hi = NULL;
    int n, rc;

    if (!rk || !topic || !low || !high || !n_out)
        return DAI_EINVAL;
    *low = *high = NULL;
    *n_out = 0;
    rc = metadata_all(rk, timeout_ms, &md, err, errlen);
    if (rc)
        return rc;
    t = md_topic(md, topic);
    if (!t) {
        snprintf(err, errlen, "topic %s does not exist", topic);
        rd_kafka_metadata_destroy(md);
        return DAI_ENOTFOUND;
    }
    n = t->partition_cnt;
    lo = calloc((size_t)n, sizeof(*lo));
    hi = calloc((size_t)n, sizeof(*hi));
    if (!lo || !hi) {
        rc = -ENOMEM;
        goto out;
    }
    /* Indexed by partition id (ids run 0..n-1; metadata order is not
     * guaranteed). */
    for (int i = 0; i < n && !rc; i++) {
        int32_t id = t->partitions[i].id;
        rd_kafka_resp_err_t e;

        if (id < 0 || id >= n) {
            snprintf(err, errlen, "topic %s: unexpected partition id %d", topic, (int)id);
            rc = DAI_EKAFKA;
            break;
        }
        e = rd_kafka_query_watermark_offsets(rk, topic, id, &lo[id], &hi[id],
                                             dai_ms_left(deadline));
        if (e) {
            snprintf(err, errlen, "watermarks of %s [%d]: %s", topic, (int)id,
                     rd_kafka_err2str(e));
            rc = e == RD_KAFKA_RESP_ERR__TIMED_OUT ? DAI_ETIMEOUT : DAI_EKAFKA;
        }
    }
out:
    rd_kafka_metadata_destroy(md);
    if (rc) {
        free(lo);
        free(hi);
        return rc;
    }
    *low = lo;
    *high = hi;
    *n_out = n;
    return 0;
}
