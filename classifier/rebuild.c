/* The state reader: a group-less consumer of the enriched topic
 * (read_committed, every partition, from the beginning) that applies each
 * record to the key table, so a (re)started or newly assigned instance never
 * sends an unchanged issue to the LLM again. Catch-up reads to the end as of
 * the call; which record wins is the state table's call. */
#include "rebuild.h"

#include "state.h"

#include <dispatchai/clock.h>
#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cls_rebuild {
    const struct cls_config *cfg;
    struct cls_state *state;
    struct cls_metrics *m;
    struct dai_consumer *c;
    int n_parts;
    int64_t *pos;       /* next offset to read per partition */
    long long records;
};

struct cls_rebuild *cls_rebuild_new(const struct cls_config *cfg, struct cls_state *state,
                                    struct cls_metrics *metrics, char *err, size_t errlen)
{
    struct cls_rebuild *r = calloc(1, sizeof(*r));
    static const struct dai_kv defaults[] = {
        /* EOF markers tell "caught up" apart from "nothing fetched yet". */
        {"enable.partition.eof", "true"},
        {"fetch.wait.max.ms", "100"},
        /* Only ever read, never committed: keep the prefetch small. */
        {"queued.max.messages.kbytes", "16384"},
    };
    char group[300];

    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = cfg;
    r->state = state;
    r->m = metrics;
    /* librdkafka wants a group id even for a manually assigned consumer; it
     * never joins or commits. */
    snprintf(group, sizeof(group), "%s-state-reader", cfg->group_id);
    r->c = dai_consumer_new(&(struct dai_consumer_options){.cfg = &cfg->common,
                                                           .client_id =
                                                               "dispatchai-classifier-state",
                                                           .group_id = group,
                                                           .defaults = defaults,
                                                           .n_defaults = 3,
                                                           .subscribe = false,
                                                           .read_committed = true,
                                                           .auto_commit = false,
                                                           .offset_reset = "earliest"},
                            err, errlen);
    if (!r->c) {
        free(r);
        return NULL;
    }
    return r;
}

void cls_rebuild_free(struct cls_rebuild *r)
{
    if (!r)
        return;
    dai_consumer_close(r->c);
    free(r->pos);
    free(r);
}

/* Assign every partition: the ones we read already at their positions, new
 * ones (the topic may have grown) from the beginning. */
static int assign_all(struct cls_rebuild *r, int n, char *err, size_t errlen)
{
    struct dai_kafka_pos *l;
    int64_t *pos;
    int rc;

    if (n <= r->n_parts)
        return 0;
    pos = realloc(r->pos, (size_t)n * sizeof(*pos));
    if (!pos)
        return -ENOMEM;
    r->pos = pos;
    l = calloc((size_t)n, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        if (i >= r->n_parts)
            r->pos[i] = 0;
        l[i] = (struct dai_kafka_pos){i, i < r->n_parts ? r->pos[i] : DAI_KAFKA_OFFSET_BEGINNING};
    }
    rc = dai_consumer_assign(r->c, r->cfg->common.topic_enriched, l, (size_t)n, err, errlen);
    free(l);
    if (rc)
        return rc;
    r->n_parts = n;
    return 0;
}

/* One message from the reader: apply a record or note an end marker. */
static void take(struct cls_rebuild *r, rd_kafka_message_t *m)
{
    const char *hdr;
    size_t hlen;
    int rc;

    if (m->partition < 0 || m->partition >= r->n_parts)
        return;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* the end as read_committed sees it (past aborted data and markers) */
        if (m->offset > r->pos[m->partition])
            r->pos[m->partition] = m->offset;
        return;
    }
    if (m->err)
        return;
    r->pos[m->partition] = m->offset + 1;
    hdr = dai_kafka_msg_header(m, CLS_HDR_TEXT_HASH, &hlen);
    rc = cls_state_apply_record(r->state, m->key, m->key_len, m->payload, m->len, hdr, hlen);
    r->records++;
    CLS_ADD(r->m ? r->m->state_rebuilt : NULL, 1);
    if (rc < 0)
        DAI_DEBUG("state record skipped partition=%d offset=%lld: %s", (int)m->partition,
                  (long long)m->offset, dai_strerror(rc));
}

int cls_rebuild_catch_up(struct cls_rebuild *r, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = dai_mono_us() + (long long)timeout_ms * 1000, t0 = dai_mono_us();
    long long before = r->records;
    int64_t *lo = NULL, *hi = NULL;
    int n = 0, rc;

    /* A topic created a moment ago may not have its leaders yet: retry
     * transient errors until the deadline. */
    for (;;) {
        rc = dai_kafka_watermarks(dai_consumer_handle(r->c), r->cfg->common.topic_enriched,
                                  timeout_ms, &lo, &hi, &n, err, errlen);
        if (rc == DAI_ENOTFOUND)
            return 0; /* nothing was ever written */
        if (!rc)
            break;
        if (dai_mono_us() + 200000 >= deadline)
            return rc;
        dai_lifecycle_wait(200);
    }
    rc = assign_all(r, n, err, errlen);
    while (!rc) {
        bool behind = false;
        rd_kafka_message_t *m;

        for (int i = 0; i < n; i++)
            if (r->pos[i] < hi[i])
                behind = true;
        if (!behind)
            break;
        if (dai_lifecycle_stopping()) {
            snprintf(err, errlen, "stopping");
            rc = DAI_ETIMEOUT;
            break;
        }
        if (dai_mono_us() >= deadline) {
            snprintf(err, errlen, "read back %lld records of %s, not at its end after %d ms",
                     r->records - before, r->cfg->common.topic_enriched, timeout_ms);
            rc = DAI_ETIMEOUT;
            break;
        }
        m = dai_consumer_poll(r->c, 100);
        if (m) {
            take(r, m);
            rd_kafka_message_destroy(m);
        }
    }
    free(lo);
    free(hi);
    if (!rc)
        DAI_DEBUG("state caught up records=%lld keys=%zu ms=%lld", r->records - before,
                  cls_state_count(r->state), (dai_mono_us() - t0) / 1000);
    return rc;
}

void cls_rebuild_poll(struct cls_rebuild *r, int max_msgs)
{
    for (int i = 0; i < max_msgs && r->n_parts > 0; i++) {
        rd_kafka_message_t *m = dai_consumer_poll(r->c, 0);

        if (!m)
            break;
        take(r, m);
        rd_kafka_message_destroy(m);
    }
}
