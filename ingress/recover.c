/* Recovery from a fatal producer error (librdkafka's idempotent producer
 * gives up after, e.g., a sequence desynchronisation when a broker comes
 * back): librdkafka's remedy is a new producer instance, which gets a new
 * producer id. The readiness watcher lets go of the old client first, so
 * nothing uses it once it is destroyed. docs/ingress.md ("Failure handling"). */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

/* More replacements than this within RECOVER_WINDOW_US mean the broker keeps
 * failing us: stop and let the supervisor (and an operator) see it. */
#define RECOVER_MAX_TRIES 5
#define RECOVER_WINDOW_US (60 * 1000000LL)

void ing_recover_producer(struct ing_ctx *ctx)
{
    long long now = dai_mono_us();
    char err[512];

    if (now - ctx->recover_window_us > RECOVER_WINDOW_US) {
        ctx->recover_window_us = now;
        ctx->recover_tries = 0;
    }
    if (++ctx->recover_tries > RECOVER_MAX_TRIES) {
        DAI_ERROR("the producer failed fatally %d times within %lld s, stopping",
                  RECOVER_MAX_TRIES, RECOVER_WINDOW_US / 1000000);
        dai_lifecycle_request_stop("kafka fatal error");
        return;
    }
    dai_kafka_ready_set_client(ctx->ready, NULL, "replacing the producer after a fatal error");
    if (ing_publisher_replace(ctx->pub, err, sizeof(err))) {
        DAI_ERROR("cannot replace the producer after a fatal error attempt=%d error=\"%s\"",
                  ctx->recover_tries, err);
        return; /* the main loop tries again */
    }
    dai_kafka_ready_set_client(ctx->ready, ing_publisher_handle(ctx->pub), NULL);
    dai_metric_add(ctx->stats->producer_restarts, 1);
    DAI_INFO("producer replaced after a fatal error attempt=%d", ctx->recover_tries);
}
