/* The ingress's HTTP server wiring: the dai_http options from the config,
 * readiness (a background thread asks the broker for the raw topic's
 * metadata every second so /ready never blocks a socket thread), the gauges
 * refreshed at each /metrics scrape, and the graceful drain at SIGTERM. */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/log.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READY_PERIOD_MS 1000
#define READY_TIMEOUT_MS 2000

struct ing_ready {
    rd_kafka_t *rk;
    char *topic;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ok, stop;
    char why[256];
    pthread_t thread;
};

static void *ready_main(void *arg)
{
    struct ing_ready *r = arg;
    const char *topics[1] = {r->topic};

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        char why[256] = "";
        struct timespec ts;
        long long until;
        int rc;

        pthread_mutex_unlock(&r->mu);
        rc = dai_kafka_check_topics(r->rk, topics, 1, READY_TIMEOUT_MS, why, sizeof(why));
        pthread_mutex_lock(&r->mu);
        if (!rc != r->ok)
            DAI_INFO("readiness changed ready=%s%s%s", rc ? "false" : "true",
                     rc ? " reason=" : "", rc ? why : "");
        r->ok = rc == 0;
        snprintf(r->why, sizeof(r->why), "%s", rc ? why : "");
        until = dai_mono_us() + (long long)READY_PERIOD_MS * 1000;
        ts.tv_sec = (time_t)(until / 1000000);
        ts.tv_nsec = (long)(until % 1000000) * 1000;
        if (!r->stop)
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct ing_ready *ing_ready_new(rd_kafka_t *rk, const char *topic, char *err, size_t errlen)
{
    struct ing_ready *r = calloc(1, sizeof(*r));
    pthread_condattr_t ca;

    if (!r || !(r->topic = strdup(topic))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->rk = rk;
    snprintf(r->why, sizeof(r->why), "broker not checked yet");
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, ready_main, r)) {
        snprintf(err, errlen, "cannot start the readiness thread");
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r->topic);
        free(r);
        return NULL;
    }
    return r;
}

bool ing_ready_check(void *ud, char *why, size_t n)
{
    struct ing_ready *r = ud;
    bool ok;

    pthread_mutex_lock(&r->mu);
    ok = r->ok;
    if (!ok)
        snprintf(why, n, "%s", r->why);
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void ing_ready_free(struct ing_ready *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->topic);
    free(r);
}

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
        .metrics = ctx->metrics,
        .ready = ing_ready_check,
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
