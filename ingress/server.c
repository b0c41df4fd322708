/* The ingress's HTTP server wiring: the dai_http options from the config,
 * readiness from the cached broker check (dai_kafka_ready), the gauges
 * refreshed at each /metrics scrape, and the graceful drain at SIGTERM. */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/log.h>

#include <stdio.h>
#include <time.h>

/* Gauges that are cheaper to read at scrape time than to keep current. */
static void collect(void *ud)
{
    struct ing_ctx *ctx = ud;

    dai_metric_set(ctx->stats->queue_depth, (double)ing_publisher_queue_depth(ctx->pub));
    dai_metric_set(ctx->stats->work_queue, (double)ing_pool_depth(ctx->pool));
}

struct dai_http_server *ing_server_start(struct ing_ctx *ctx, char *err, size_t errlen)
{
    const struct dai_common_config *c = &ctx->cfg->common;
    struct dai_http_options o = {
        .bind = c->http_bind,
        .port = c->http_port,
        .threads = c->http_threads,
        .max_connections = c->http_max_connections,
        .per_ip_connections = c->http_per_ip_connections,
        .idle_timeout_ms = c->http_idle_timeout_ms,
        .request_timeout_ms = c->http_request_timeout_ms,
        .max_body = ctx->cfg->max_body,
        .body_budget = ctx->cfg->body_budget,
        .busy_retry_after_s = ctx->cfg->retry_after_s,
        .metrics = ctx->metrics,
        .ready = dai_kafka_ready_check,
        .ready_ud = ctx->ready,
        .handlers = ing_webhook_handlers,
        .ud = ctx,
    };

    if (dai_metrics_on_collect(ctx->metrics, collect, ctx)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return dai_http_start(&o, err, errlen);
}

void ing_server_drain(struct ing_ctx *ctx, int timeout_ms)
{
    long long deadline = dai_mono_us() + (long long)timeout_ms * 1000;
    long long left;
    unsigned n;

    /* 1. No new connections; answers from now on carry Connection: close. */
    dai_http_quiesce(ctx->http);
    /* 2. Requests already in: let them finish while the broker acknowledges. */
    while ((n = dai_http_in_flight(ctx->http)) > 0 && dai_mono_us() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (n)
        DAI_WARN("shutdown: %u requests still in flight after the drain bound", n);
    /* 3. Workers finish their queue (later requests are answered 503). */
    ing_pool_close(ctx->pool);
    /* 4. Wait for the remaining acknowledgements, then 503 whatever still waits. */
    left = (deadline - dai_mono_us()) / 1000;
    ing_publisher_drain(ctx->pub, left > 0 ? (int)left : 0);
    /* 5. Nothing of ours is suspended any more: stop the server. */
    dai_http_stop(ctx->http);
    ctx->http = NULL;
}
