/* The `redrive` sub-command: reads the dead-letter topic from where the last
 * run stopped (consumer group dispatchai-ingress-redrive) to its end as of
 * the start, normalises each of the ingress's dead letters again and
 * publishes what now maps to the raw topic through the same publisher as the
 * webhook (same key, headers, delivery id and receive time). What still cannot
 * be mapped is put back at the end of the dead-letter topic with its new
 * reason, so nothing is lost; other writers' dead letters are left alone.
 * Offsets are committed per partition only up to the first record whose
 * publish failed, so a failed run is simply run again (at-least-once). */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDRIVE_GROUP "dispatchai-ingress-redrive"
#define META_TIMEOUT_MS 10000
#define IDLE_LIMIT_MS 30000   /* no progress this long while not at the end: give up */
#define FLUSH_TIMEOUT_MS 30000

/* One dead letter being re-driven; the delivery is handed to the publisher,
 * whose callback finds the rest through it (first member). */
struct item {
    struct ing_delivery d;
    int32_t partition;
    int64_t offset;
    bool put_back;  /* still unmappable: re-appended to the dead-letter topic */
};

struct redrive {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned outstanding;
    unsigned redriven, put_back, skipped, failed, read;
    int n_parts;
    int64_t *first_failed; /* per partition: lowest failed offset, or -1 */
    int64_t *next;         /* per partition: next offset to commit when nothing failed */
};

static void on_published(void *ud, struct ing_delivery *d, const struct ing_pub_outcome *o)
{
    struct item *it = (struct item *)d;
    struct redrive *r = ud;

    pthread_mutex_lock(&r->mu);
    if (o->result == ING_PUB_FAILED) {
        r->failed++;
        if (r->first_failed[it->partition] < 0 || it->offset < r->first_failed[it->partition])
            r->first_failed[it->partition] = it->offset;
        DAI_WARN("redrive: publish failed delivery_id=%s dlq_partition=%" PRId32
                 " dlq_offset=%" PRId64 " error=\"%s\"", d->guid, it->partition, it->offset,
                 dai_strerror(o->rc));
    } else if (it->put_back) {
        r->put_back++;
    } else {
        char key[DAI_LOG_VALUE_MAX];

        r->redriven++;
        DAI_INFO("redriven delivery_id=%s key=%s partition=%" PRId32 " offset=%" PRId64
                 "%s", d->guid, dai_log_value(key, sizeof(key), d->info.key), o->partition,
                 o->offset,
                 o->result == ING_PUB_DUPLICATE ? " duplicate=true" : "");
    }
    r->outstanding--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    free(it);
}

/* A header's value as a C string in out (empty when absent or too long). */
static bool header(const rd_kafka_message_t *m, const char *name, char *out, size_t n)
{
    size_t len;
    const char *v = dai_kafka_msg_header(m, name, &len);

    out[0] = '\0';
    if (!v || len >= n)
        return false;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

/* Turn one dead letter into a publish (or a skip). Returns false when it is
 * not the ingress's (left alone). */
static bool handle(struct redrive *r, struct ing_publisher *pub, const struct ing_normalizer *norm,
                   const struct ing_config *cfg, const rd_kafka_message_t *m,
                   struct dai_buf *event)
{
    char source[16], event_name[33], received[24], err[256];
    struct item *it;
    char *end;
    int rc;

    if (!header(m, DAI_HDR_DLQ_SOURCE, source, sizeof(source)) ||
        strcmp(source, DAI_DLQ_SOURCE_INGRESS) != 0)
        return false;
    it = calloc(1, sizeof(*it));
    if (!it) {
        DAI_ERROR("redrive: out of memory");
        return false;
    }
    it->partition = m->partition;
    it->offset = m->offset;
    header(m, DAI_HDR_EVENT, event_name, sizeof(event_name));
    it->d.event = ing_event_parse(event_name);
    snprintf(it->d.event_name, sizeof(it->d.event_name), "%s", ing_event_name(it->d.event));
    if (!header(m, DAI_HDR_DELIVERY, it->d.guid, sizeof(it->d.guid)) ||
        !ing_guid_valid(it->d.guid) || it->d.event >= ING_EV_COUNT) {
        free(it);
        return false; /* not written by us after all: no GUID or no event we publish */
    }
    header(m, DAI_HDR_HOOK_ID, it->d.hook_id, sizeof(it->d.hook_id));
    it->d.received_ms = 0;
    if (header(m, DAI_HDR_DLQ_RECEIVED, received, sizeof(received))) {
        errno = 0;
        it->d.received_ms = strtoll(received, &end, 10);
        if (errno || *end)
            it->d.received_ms = 0;
    }
    if (it->d.received_ms <= 0)
        it->d.received_ms = dai_now_ms();
    it->d.deadline_us = dai_mono_us() + (long long)cfg->publish_timeout_ms * 1000;

    pthread_mutex_lock(&r->mu);
    r->outstanding++;
    pthread_mutex_unlock(&r->mu);
    rc = ing_normalize(norm, it->d.event, m->payload ? m->payload : "", m->len, it->d.guid,
                       it->d.received_ms, event, &it->d.info, err, sizeof(err));
    if (rc == 0) {
        ing_publish(pub, &it->d, event->data, event->len);
    } else {
        /* Still not mappable (or not JSON): back to the end of the topic,
         * with today's reason, for a later release to try again. */
        it->put_back = true;
        it->d.dead_letter = true;
        snprintf(it->d.dlq_reason, sizeof(it->d.dlq_reason), "%s: %.170s",
                 rc == DAI_ESCHEMA ? "schema" : rc == DAI_EPARSE ? "invalid_json" : "internal",
                 err);
        char why[DAI_LOG_VALUE_MAX];

        DAI_WARN("redrive: still cannot be mapped delivery_id=%s dlq_partition=%" PRId32
                 " dlq_offset=%" PRId64 " reason=%s", it->d.guid, m->partition, m->offset,
                 dai_log_value(why, sizeof(why), it->d.dlq_reason));
        ing_publish_dead_letter(pub, &it->d, m->payload ? m->payload : "", m->len);
    }
    return true;
}

/* Start positions: the group's committed offsets, else the low watermark. */
static rd_kafka_topic_partition_list_t *start_positions(rd_kafka_t *rk, const char *topic,
                                                        const int64_t *low, int n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);

    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    if (rd_kafka_committed(rk, l, META_TIMEOUT_MS)) {
        rd_kafka_topic_partition_list_destroy(l);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (l->elems[i].offset < low[i])
            l->elems[i].offset = low[i];
    }
    return l;
}

/* True once every partition's position has reached its end as of the start
 * (a partition nothing was read from yet is at its start position). */
static bool at_end(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *start,
                   rd_kafka_topic_partition_list_t *pos, const int64_t *high, int n)
{
    if (rd_kafka_position(rk, pos))
        return false;
    for (int i = 0; i < n; i++) {
        int64_t p = pos->elems[i].offset >= 0 ? pos->elems[i].offset : start->elems[i].offset;
        if (p < high[i])
            return false;
    }
    return true;
}

static int run(struct ing_config *cfg, struct redrive *r)
{
    struct ing_stats stats = {0};
    struct dai_metrics *reg = dai_metrics_new();
    struct ing_publisher_options po = {.cfg = cfg, .stats = &stats, .on_published = on_published,
                                       .ud = r};
    struct dai_consumer_options co = {.cfg = &cfg->common, .client_id = "dispatchai-redrive",
                                      .group_id = REDRIVE_GROUP, .read_committed = true};
    struct ing_normalizer *norm = NULL;
    struct ing_publisher *pub = NULL;
    struct dai_consumer *c = NULL;
    rd_kafka_topic_partition_list_t *start = NULL, *pos = NULL, *commit = NULL;
    struct dai_buf event = {.max = cfg->max_body};
    int64_t *low = NULL, *high = NULL;
    long long last_progress;
    char err[512];
    int n = 0, code = 1;
    rd_kafka_resp_err_t e;

    po.metrics = reg;
    if (!reg || ing_stats_init(&stats, reg)) {
        DAI_ERROR("redrive: out of memory");
        goto out;
    }
    norm = ing_normalizer_new(err, sizeof(err));
    if (norm)
        pub = ing_publisher_new(&po, err, sizeof(err));
    if (pub)
        c = dai_consumer_new(&co, err, sizeof(err));
    if (!c) {
        DAI_ERROR("redrive: cannot start: %s", err);
        goto out;
    }
    if (dai_kafka_watermarks(dai_consumer_handle(c), cfg->common.topic_dlq, META_TIMEOUT_MS,
                             &low, &high, &n, err, sizeof(err))) {
        DAI_ERROR("redrive: cannot read %s: %s", cfg->common.topic_dlq, err);
        goto out;
    }
    r->n_parts = n;
    r->first_failed = malloc((size_t)n * sizeof(int64_t));
    r->next = malloc((size_t)n * sizeof(int64_t));
    start = start_positions(dai_consumer_handle(c), cfg->common.topic_dlq, low, n);
    if (!r->first_failed || !r->next || !start) {
        DAI_ERROR("redrive: cannot read the committed positions of group " REDRIVE_GROUP);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        r->first_failed[i] = -1;
        r->next[i] = high[i];
    }
    pos = rd_kafka_topic_partition_list_copy(start);
    e = rd_kafka_assign(dai_consumer_handle(c), start);
    if (e) {
        DAI_ERROR("redrive: cannot assign %s: %s", cfg->common.topic_dlq, rd_kafka_err2str(e));
        goto out;
    }
    last_progress = dai_mono_us();
    while (!dai_lifecycle_stopping() && !at_end(dai_consumer_handle(c), start, pos, high, n)) {
        rd_kafka_message_t *m = dai_consumer_poll(c, 100);

        if (!m) {
            if (dai_mono_us() - last_progress > (long long)IDLE_LIMIT_MS * 1000) {
                DAI_ERROR("redrive: no progress for %d ms before the end of %s", IDLE_LIMIT_MS,
                          cfg->common.topic_dlq);
                goto out;
            }
            continue;
        }
        last_progress = dai_mono_us();
        /* Only what was there at the start: put-back letters wait for the next run. */
        if (!m->err && m->partition < n && m->offset < high[m->partition]) {
            r->read++;
            if (!handle(r, pub, norm, cfg, m, &event))
                r->skipped++;
        }
        rd_kafka_message_destroy(m);
    }
    /* Every publish reports once; the publisher's own timer bounds the wait. */
    pthread_mutex_lock(&r->mu);
    while (r->outstanding > 0)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    if (dai_lifecycle_stopping()) {
        DAI_WARN("redrive: interrupted; nothing committed");
        goto out;
    }
    commit = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(commit, cfg->common.topic_dlq, i)->offset =
            r->first_failed[i] >= 0 ? r->first_failed[i] : r->next[i];
    e = rd_kafka_commit(dai_consumer_handle(c), commit, 0);
    if (e) {
        DAI_ERROR("redrive: cannot commit positions: %s", rd_kafka_err2str(e));
        goto out;
    }
    code = r->failed ? 1 : 0;
out:
    printf("redrive: read=%u redriven=%u still_unmappable=%u skipped=%u failed=%u\n", r->read,
           r->redriven, r->put_back, r->skipped, r->failed);
    fflush(stdout);
    if (commit)
        rd_kafka_topic_partition_list_destroy(commit);
    if (start)
        rd_kafka_topic_partition_list_destroy(start);
    if (pos)
        rd_kafka_topic_partition_list_destroy(pos);
    dai_consumer_close(c);
    if (pub)
        ing_publisher_drain(pub, 0);
    if (ing_publisher_free(pub, FLUSH_TIMEOUT_MS) > 0)
        code = 1;
    ing_normalizer_free(norm);
    dai_buf_free(&event);
    free(low);
    free(high);
    dai_metrics_free(reg);
    return code;
}

int ing_redrive_main(int argc, char **argv)
{
    struct ing_config cfg = {0};
    struct redrive r = {0};
    char err[512];
    int rc, code;

    rc = ing_config_load_for(&cfg, argc, argv, false, err, sizeof(err));
    if (rc == DAI_CONFIG_EXITED) {
        ing_config_free(&cfg);
        return 0;
    }
    if (rc != DAI_CONFIG_RUN) {
        fprintf(stderr, "dispatchai-ingress redrive: %s\n", err);
        ing_config_free(&cfg);
        return 2;
    }
    if (dai_log_init("ingress-redrive", cfg.common.log_level, cfg.common.log_format,
                     cfg.common.log_file) || dai_lifecycle_install()) {
        fprintf(stderr, "dispatchai-ingress redrive: cannot set up logging or signals\n");
        ing_config_free(&cfg);
        return 1;
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    DAI_INFO("redrive: from %s to %s (group " REDRIVE_GROUP ")", cfg.common.topic_dlq,
             cfg.common.topic_raw);
    code = run(&cfg, &r);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    free(r.first_failed);
    free(r.next);
    dai_log_shutdown();
    ing_config_free(&cfg);
    return code;
}
