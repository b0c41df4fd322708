/* Writes one finished job of the pipeline: renders the enriched event or the
 * dead letter, copies the raw message's tracing headers and adds ours, and
 * produces it into the transaction consume.c has open. */
#include "writer.h"

#include "state.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/kafka.h>
#include <dispatchai/log.h>

#include <stdlib.h>
#include <string.h>

/* How long a send may wait for room in the producer queue. */
#define SEND_TIMEOUT_MS 30000

void cls_writer_log(struct cls_writer *w, const struct cls_job *job, const char *key)
{
    long long ms = (dai_mono_us() - job->t0_us) / 1000;
    char k[DAI_LOG_VALUE_MAX];

    CLS_OBSERVE(w->m->event_latency, (double)ms / 1e3);
    if (job->out == CLS_OUT_DLQ) {
        CLS_ADD(w->m->dlq, 1, job->dlq_code);
        /* The detail (in the dlq-reason header) may quote bytes of the
         * payload; the log gets the code only. */
        DAI_WARN("dead-lettered partition=%d offset=%lld reason=%s bytes=%zu",
                 (int)job->partition, (long long)job->offset, job->dlq_code, job->len);
        return;
    }
    if (job->route == CLS_ROUTE_REUSE) {
        CLS_ADD(w->m->reused, 1);
        DAI_DEBUG("reused key=%s category=%s source=%s partition=%d offset=%lld",
                  dai_log_value(k, sizeof(k), key),
                  dai_category_name(job->cls.category), dai_source_name(job->cls.source),
                  (int)job->partition, (long long)job->offset);
        return;
    }
    CLS_ADD(w->m->classified, 1, dai_source_name(job->cls.source),
            dai_category_name(job->cls.category));
    /* The key comes from the payload (repository.full_name). */
    dai_log_value(k, sizeof(k), key);
    DAI_INFO("classified key=%s category=%s priority=%s source=%s model=%s attempts=%d "
             "latency_ms=%lld%s%s partition=%d offset=%lld",
             k, dai_category_name(job->cls.category), dai_priority_name(job->cls.priority),
             dai_source_name(job->cls.source), job->model_version, job->attempts, ms,
             job->fallback[0] ? " fallback=" : "", job->fallback, (int)job->partition,
             (long long)job->offset);
}

/* Copy a tracing header of the raw message onto the output. */
static size_t copy_header(const rd_kafka_message_t *m, const char *name,
                          struct dai_kafka_header *h, size_t n)
{
    size_t len;
    const char *v = dai_kafka_msg_header(m, name, &len);

    if (!v)
        return n;
    h[n].name = name;
    h[n].value = v;
    h[n].len = len;
    return n + 1;
}

int cls_writer_produce(struct cls_writer *w, struct cls_job *job)
{
    static const char *const trace[] = {DAI_HDR_DELIVERY, DAI_HDR_EVENT, DAI_HDR_HOOK_ID,
                                        DAI_HDR_CORRELATION};
    const rd_kafka_message_t *m = job->msg;
    struct dai_kafka_header h[12];
    char hash[24], part[16], off[24];
    const char *topic, *key;
    size_t n = 0, klen, vlen;
    char *value;
    int rc;

    w->out.max = w->cfg->max_message_bytes;
    rc = cls_job_render(job, &w->out);
    if (rc == DAI_ETOOBIG && job->out == CLS_OUT_ENRICHED) {
        cls_job_make_dlq(job, "enriched_too_big", "the enriched event exceeds "
                         "kafka.max_message_bytes");
        rc = cls_job_render(job, &w->out);
    }
    if (rc == DAI_ETOOBIG) {
        /* Not even the original fits: the dead letter records where it was
         * and why, without the payload, so the partition still moves on. */
        size_t used = strlen(job->dlq_reason);
        snprintf(job->dlq_reason + used, sizeof(job->dlq_reason) - used,
                 " (payload of %zu bytes not copied)", job->len);
        dai_buf_reset(&w->out);
        rc = dai_buf_append(&w->out, "", 0);
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(trace) / sizeof(trace[0]); i++)
        n = copy_header(m, trace[i], h, n);
    h[n++] = (struct dai_kafka_header){DAI_HDR_SCHEMA, DAI_SCHEMA_VERSION_STR,
                                       strlen(DAI_SCHEMA_VERSION_STR)};
    h[n++] = (struct dai_kafka_header){DAI_HDR_CONTENT_TYPE, DAI_CONTENT_TYPE_JSON,
                                       strlen(DAI_CONTENT_TYPE_JSON)};
    if (job->out == CLS_OUT_DLQ) {
        topic = w->cfg->common.topic_dlq;
        snprintf(part, sizeof(part), "%d", (int)job->partition);
        snprintf(off, sizeof(off), "%lld", (long long)job->offset);
        h[n++] = (struct dai_kafka_header){DAI_HDR_DLQ_REASON, job->dlq_reason,
                                           strlen(job->dlq_reason)};
        h[n++] = (struct dai_kafka_header){DAI_HDR_DLQ_TOPIC, w->cfg->common.topic_raw,
                                           strlen(w->cfg->common.topic_raw)};
        h[n++] = (struct dai_kafka_header){DAI_HDR_DLQ_PARTITION, part, strlen(part)};
        h[n++] = (struct dai_kafka_header){DAI_HDR_DLQ_OFFSET, off, strlen(off)};
    } else {
        topic = w->cfg->common.topic_enriched;
        snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)job->cls_hash);
        h[n++] = (struct dai_kafka_header){CLS_HDR_TEXT_HASH, hash, 16};
    }
    /* Same key as the raw event; a raw event without one gets the computed
     * key so the enriched topic stays partitioned by issue. */
    key = job->mkey;
    klen = job->mklen;
    if ((!key || !klen) && job->ks) {
        key = job->ks->key;
        klen = strlen(key);
    }
    vlen = w->out.len; /* a dead letter's bytes may hold NULs: never strlen them */
    value = dai_buf_take(&w->out);
    rc = dai_producer_send(w->producer, topic, key, klen, value, vlen, true, h, n, NULL,
                           SEND_TIMEOUT_MS);
    if (rc) {
        free(value);
        return rc;
    }
    CLS_ADD(w->m->produced, 1, topic);
    return 0;
}

void cls_writer_free(struct cls_writer *w)
{
    dai_buf_free(&w->out);
}
