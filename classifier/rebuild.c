/* The state reader: a group-less consumer of the enriched topic
 * (read_committed, from the beginning) that applies each record to the key
 * table, so a (re)started or newly assigned instance never sends an unchanged
 * issue to the LLM again. An issue's raw and enriched records share the key
 * and the partitioner, so when both topics have the same partition count it
 * reads only the enriched partitions matching the raw ones we own, and drops
 * their keys on revoke; otherwise it reads every partition. Catch-up reads to
 * the end as of the call; which record wins is the state table's call. */
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
    bool *want;         /* per partition: ours (read it), when not `all` */
    bool *held;         /* revoked, keys and position kept until the next
                         * assignment says whether it came back */
    bool all;           /* partition counts differ: read every partition */
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
    free(r->want);
    free(r->held);
    free(r);
}

static bool wanted(const struct cls_rebuild *r, int p)
{
    return p >= 0 && p < r->n_parts && (r->all || r->want[p]);
}

/* Grow the per-partition arrays to n (the topic may have grown); new
 * partitions start at the beginning, not wanted. */
static int grow(struct cls_rebuild *r, int n)
{
    int64_t *pos;
    bool *want, *held;

    if (n <= r->n_parts)
        return 0;
    pos = realloc(r->pos, (size_t)n * sizeof(*pos));
    if (!pos)
        return -ENOMEM;
    r->pos = pos;
    want = realloc(r->want, (size_t)n * sizeof(*want));
    if (!want)
        return -ENOMEM;
    r->want = want;
    held = realloc(r->held, (size_t)n * sizeof(*held));
    if (!held)
        return -ENOMEM;
    r->held = held;
    for (int i = r->n_parts; i < n; i++) {
        r->pos[i] = 0;
        r->want[i] = false;
        r->held[i] = false;
    }
    r->n_parts = n;
    return 0;
}

/* Assign the partitions we read, each at its position (0: the beginning). */
static int assign_wanted(struct cls_rebuild *r, char *err, size_t errlen)
{
    struct dai_kafka_pos *l = calloc((size_t)(r->n_parts ? r->n_parts : 1), sizeof(*l));
    size_t n = 0;
    int rc;

    if (!l)
        return -ENOMEM;
    for (int i = 0; i < r->n_parts; i++)
        if (wanted(r, i))
            l[n++] = (struct dai_kafka_pos){i, r->pos[i] > 0 ? r->pos[i]
                                                             : DAI_KAFKA_OFFSET_BEGINNING};
    rc = dai_consumer_assign(r->c, r->cfg->common.topic_enriched, l, n, err, errlen);
    free(l);
    return rc;
}

/* Decide once whether partitions line up: same count on both topics. When
 * they do not (or the raw topic cannot be read), read everything for good. */
static void check_counts(struct cls_rebuild *r, int n_enriched, int timeout_ms)
{
    int64_t *lo = NULL, *hi = NULL;
    char err[256] = "";
    int n_raw = 0, rc;

    if (r->all)
        return;
    rc = dai_kafka_watermarks(dai_consumer_handle(r->c), r->cfg->common.topic_raw, timeout_ms,
                              &lo, &hi, &n_raw, err, sizeof(err));
    free(lo);
    free(hi);
    if (!rc && n_raw == n_enriched)
        return;
    r->all = true;
    if (rc)
        DAI_WARN("state reader reads every partition of %s: partitions of %s unknown: %s",
                 r->cfg->common.topic_enriched, r->cfg->common.topic_raw, err);
    else
        DAI_WARN("state reader reads every partition of %s: it has %d partitions, %s has %d "
                 "(keys line up only with equal counts)",
                 r->cfg->common.topic_enriched, n_enriched, r->cfg->common.topic_raw, n_raw);
}

/* One message from the reader: apply a record or note an end marker. */
static void take(struct cls_rebuild *r, rd_kafka_message_t *m)
{
    const char *hdr;
    size_t hlen;
    int rc;

    if (!wanted(r, m->partition))
        return; /* fetched before its partition was released */
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
    rc = cls_state_apply_record(r->state, m->key, m->key_len, m->payload, m->len, hdr, hlen,
                                m->partition);
    r->records++;
    CLS_ADD(r->m ? r->m->state_rebuilt : NULL, 1);
    if (rc < 0)
        DAI_DEBUG("state record skipped partition=%d offset=%lld: %s", (int)m->partition,
                  (long long)m->offset, dai_strerror(rc));
}

/* Partition i of parts when it is one of the raw topic's, else -1. */
static int32_t raw_part(const struct cls_rebuild *r, const rd_kafka_topic_partition_list_t *parts,
                        int i)
{
    const rd_kafka_topic_partition_t *e = &parts->elems[i];

    return strcmp(e->topic, r->cfg->common.topic_raw) == 0 ? e->partition : -1;
}

/* Partitions revoked earlier and not in this assignment are someone else's
 * now: their keys go, and a later assignment reads them from the start. */
static void drop_not_returned(struct cls_rebuild *r)
{
    size_t dropped = 0;
    int n = 0;

    for (int p = 0; p < r->n_parts; p++) {
        if (!r->held[p])
            continue;
        r->held[p] = false;
        r->pos[p] = 0;
        dropped += cls_state_drop_partition(r->state, p);
        n++;
    }
    if (n)
        DAI_INFO("state of moved partitions dropped partitions=%d keys_dropped=%zu keys=%zu", n,
                 dropped, cls_state_count(r->state));
}

int cls_rebuild_catch_up(struct cls_rebuild *r, const rd_kafka_topic_partition_list_t *parts,
                         int timeout_ms, char *err, size_t errlen)
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
    check_counts(r, n, timeout_ms);
    rc = grow(r, n);
    for (int i = 0; !rc && parts && i < parts->cnt; i++) {
        int32_t p = raw_part(r, parts, i);

        if (p >= 0 && p < r->n_parts) {
            r->want[p] = true;
            r->held[p] = false; /* back again: read on from where we stopped */
        }
    }
    if (!rc && parts)
        drop_not_returned(r);
    if (!rc)
        rc = assign_wanted(r, err, errlen);
    while (!rc) {
        bool behind = false;
        rd_kafka_message_t *m;

        for (int i = 0; i < n; i++)
            if (wanted(r, i) && r->pos[i] < hi[i])
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

void cls_rebuild_release(struct cls_rebuild *r, const rd_kafka_topic_partition_list_t *parts)
{
    char err[256];
    bool changed = false;

    if (r->all)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = raw_part(r, parts, i);

        if (p < 0 || p >= r->n_parts || !r->want[p])
            continue;
        /* An eager rebalance revokes everything and hands most of it
         * straight back: keep the keys and the position until the next
         * assignment shows which partitions really moved. */
        r->want[p] = false;
        r->held[p] = true;
        changed = true;
    }
    if (changed && assign_wanted(r, err, sizeof(err)))
        DAI_WARN("state reader: cannot stop reading released partitions: %s", err);
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
