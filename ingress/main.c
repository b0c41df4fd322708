/* dispatchai-ingress: wires the configuration, the publisher, the parsing
 * workers and the HTTP server together, waits for a signal, and drains in
 * reverse order. No logic of its own (see ingress.h for the parts). */
#include "ingress.h"

#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_TIMEOUT_MS 5000
#define ENSURE_TIMEOUT_MS 10000

static void warn_insecure(void)
{
    for (int i = 0; i < 3; i++)
        DAI_WARN("INSECURE: --insecure-skip-signature is set; webhook signatures are NOT "
                 "verified and anyone who can reach this port can publish events");
}

static void ensure_topic(struct ing_ctx *ctx)
{
    /* The dead-letter topic too: a delivery we cannot map is acknowledged
     * only once it is there. */
    const char *topics[2] = {ctx->cfg->common.topic_raw, ctx->cfg->common.topic_dlq};
    char err[512];

    if (!ctx->cfg->common.ensure_topics)
        return;
    /* A broker that is down at start is not fatal: /ready says so, and the
     * producer connects (and deliveries are accepted) once it is back. */
    if (dai_kafka_ensure_topics(ing_publisher_handle(ctx->pub), &ctx->cfg->common, topics, 2,
                                ENSURE_TIMEOUT_MS, err, sizeof(err)))
        DAI_WARN("cannot ensure topics %s, %s: %s", topics[0], topics[1], err);
}

int main(int argc, char **argv)
{
    struct ing_config cfg = {0};
    struct ing_stats stats = {0};
    struct ing_ctx ctx = {.cfg = &cfg, .stats = &stats};
    struct ing_publisher_options po = {.cfg = &cfg, .stats = &stats,
                                       .on_published = ing_webhook_published, .ud = &ctx};
    const char *fatal_after = getenv("DAI_TEST_FATAL_AFTER_ACKS");
    char err[512];
    int rc, left, code = 1;

    if (argc > 1 && strcmp(argv[1], "redrive") == 0)
        return ing_redrive_main(argc - 1, argv + 1);
    rc = ing_config_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == DAI_CONFIG_EXITED) {
        ing_config_free(&cfg);
        return 0;
    }
    if (rc != DAI_CONFIG_RUN) {
        fprintf(stderr, "dispatchai-ingress: %s\n", err);
        ing_config_free(&cfg);
        return 2;
    }
    if (dai_log_init("ingress", cfg.common.log_level, cfg.common.log_format,
                     cfg.common.log_file) || dai_lifecycle_install()) {
        fprintf(stderr, "dispatchai-ingress: cannot set up logging or signals\n");
        ing_config_free(&cfg);
        return 1;
    }
    if (cfg.insecure_skip_signature)
        warn_insecure();
    ctx.verifier = (struct ing_verifier){cfg.secret_v, cfg.n_secrets, cfg.insecure_skip_signature};

    ctx.metrics = dai_metrics_new();
    if (!ctx.metrics || ing_stats_init(&stats, ctx.metrics)) {
        DAI_ERROR("cannot create metrics: out of memory");
        goto out;
    }
    po.metrics = ctx.metrics;
    po.test_fatal_after = fatal_after ? strtol(fatal_after, NULL, 10) : 0;
    ctx.norm = ing_normalizer_new(err, sizeof(err));
    if (!ctx.norm)
        goto fail;
    if (cfg.rl_enabled) {
        ctx.rl = dai_ratelimit_new(cfg.rl_rate, cfg.rl_burst, (size_t)cfg.rl_max_clients);
        if (!ctx.rl) {
            DAI_ERROR("cannot create the rate limiter");
            goto out;
        }
    }
    ctx.pub = ing_publisher_new(&po, err, sizeof(err));
    if (!ctx.pub)
        goto fail;
    ensure_topic(&ctx);
    ctx.ready = dai_kafka_ready_new(ing_publisher_handle(ctx.pub),
                                    (const char *const[]){cfg.common.topic_raw}, 1, err,
                                    sizeof(err));
    if (!ctx.ready)
        goto fail;
    ctx.pool = ing_pool_new(cfg.workers, cfg.queue_size, cfg.max_body, ing_webhook_process, &ctx,
                            err, sizeof(err));
    if (!ctx.pool)
        goto fail;
    ctx.http = ing_server_start(&ctx, err, sizeof(err));
    if (!ctx.http)
        goto fail;
    DAI_INFO("ingress listening port=%d path=%s topic=%s secrets=%zu compression=%s workers=%d "
             "ratelimit=%s", dai_http_port(ctx.http), ING_WEBHOOK_PATH, cfg.common.topic_raw,
             cfg.n_secrets, cfg.compression, cfg.workers, cfg.rl_enabled ? "on" : "off");

    while (!dai_lifecycle_stopping()) {
        dai_lifecycle_wait(200);
        if (dai_lifecycle_take_reopen())
            dai_log_reopen();
        if (ing_publisher_needs_replace(ctx.pub))
            ing_recover_producer(&ctx);
    }
    DAI_INFO("stopping: draining in-flight deliveries (up to %d ms)",
             cfg.common.shutdown_timeout_ms);
    ing_server_drain(&ctx, cfg.common.shutdown_timeout_ms);
    code = dai_lifecycle_exit_code();
    goto out;
fail:
    DAI_ERROR("cannot start: %s", err);
out:
    if (ctx.http) {
        ing_pool_close(ctx.pool);
        ing_publisher_drain(ctx.pub, 0);
        dai_http_stop(ctx.http);
    }
    ing_pool_close(ctx.pool);
    /* The readiness thread uses the producer's handle: stop it first. */
    dai_kafka_ready_free(ctx.ready);
    left = ing_publisher_free(ctx.pub, FLUSH_TIMEOUT_MS);
    if (left > 0)
        DAI_WARN("shutdown: %d messages were never acknowledged (their requests were "
                 "answered 503)", left);
    ing_pool_free(ctx.pool);
    dai_ratelimit_free(ctx.rl);
    ing_normalizer_free(ctx.norm);
    dai_metrics_free(ctx.metrics);
    DAI_INFO("stopped");
    dai_log_shutdown();
    ing_config_free(&cfg);
    return code;
}
