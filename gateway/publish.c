/* Publishing human corrections to issues.enriched: an idempotent producer
 * (acks=all) whose delivery reports, run on the producer's poll thread, tell
 * the waiting request whether the broker has the event. The event itself is
 * built by correction.c; every gateway instance applies it when it comes
 * back through the topic, this one included. */
#include "publish.h"

#include "options.h"

#include <dispatchai/events.h>
#include <dispatchai/kafka.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_publisher {
    struct dai_producer *p;
    const char *topic; /* borrowed from the config */
};

struct pending {
    gw_published_fn done;
    void *ud;
};

static void on_delivery(void *ud, void *msg_opaque, int rc, int32_t partition, int64_t offset,
                        const char *errstr)
{
    struct pending *pd = msg_opaque;

    (void)ud;
    if (!pd)
        return;
    pd->done(pd->ud, rc, partition, offset, errstr);
    free(pd);
}

struct gw_publisher *gw_publisher_new(const struct gw_config *cfg, struct dai_metrics *reg,
                                      char *err, size_t errlen)
{
    char timeout[16];
    struct dai_kv defaults[] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"linger.ms", "1"},
        {"message.timeout.ms", timeout},
    };
    struct dai_producer_options o = {
        .cfg = &cfg->common,
        .client_id = "dispatchai-gateway",
        .defaults = defaults,
        .n_defaults = sizeof(defaults) / sizeof(defaults[0]),
        .on_delivery = on_delivery,
        .metrics = reg,
        .poll_thread = true,
    };
    struct gw_publisher *pub = calloc(1, sizeof(*pub));

    if (!pub) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(timeout, sizeof(timeout), "%d", cfg->correction_timeout_ms);
    o.ud = pub;
    pub->topic = cfg->common.topic_enriched;
    pub->p = dai_producer_new(&o, err, errlen);
    if (!pub->p) {
        free(pub);
        return NULL;
    }
    return pub;
}

int gw_publisher_send(struct gw_publisher *pub, const char *key, const char *value, size_t len,
                      gw_published_fn done, void *ud)
{
    struct pending *pd = malloc(sizeof(*pd));
    unsigned char r[16];
    char corr[37];
    struct dai_kafka_header hdrs[3];
    int rc;

    if (!pd)
        return -ENOMEM;
    pd->done = done;
    pd->ud = ud;
    /* correlation-id: a random (version 4) UUID, as docs/events.md says. */
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(corr, sizeof(corr),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    hdrs[0] = (struct dai_kafka_header){DAI_HDR_CONTENT_TYPE, DAI_CONTENT_TYPE_JSON,
                                        strlen(DAI_CONTENT_TYPE_JSON)};
    hdrs[1] = (struct dai_kafka_header){DAI_HDR_SCHEMA, DAI_SCHEMA_VERSION_STR,
                                        strlen(DAI_SCHEMA_VERSION_STR)};
    hdrs[2] = (struct dai_kafka_header){DAI_HDR_CORRELATION, corr, strlen(corr)};
    /* block_ms 0: an MHD thread must never wait on the broker. */
    rc = dai_producer_send(pub->p, pub->topic, key, strlen(key), (void *)value, len, false, hdrs,
                           3, pd, 0);
    if (rc)
        free(pd);
    return rc;
}

void gw_publisher_free(struct gw_publisher *pub, int flush_timeout_ms)
{
    int left;

    if (!pub)
        return;
    left = dai_producer_free(pub->p, flush_timeout_ms);
    if (left > 0)
        DAI_WARN("corrections not acknowledged at shutdown count=%d", left);
    free(pub);
}
