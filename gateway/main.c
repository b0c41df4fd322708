/* dispatchai-gateway: wires the gateway together — config, logging, metrics,
 * the store, the WebSocket loop, the correction publisher, the HTTP server
 * and the follower of issues.enriched, which runs on this thread until a
 * signal — and tears it down in reverse. No logic of its own. */
#include "app.h"
#include "auth.h"
#include "consume.h"
#include "fanout.h"
#include "metrics.h"
#include "options.h"
#include "publish.h"
#include "rest.h"
#include "store.h"
#include "writeback/writeback.h"

#include <dispatchai/config.h>
#include <dispatchai/http.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>
#include <dispatchai/ratelimit.h>

#include <curl/curl.h>
#include <stdio.h>

/* Correction buckets: one per token name. */
#define GW_LIMIT_NAMES 4096
#define GW_LIMIT_ADDRS 65536

static bool ready(void *ud, char *why, size_t n)
{
    const struct gw_app *app = ud;

    return gw_follower_ready(app->follower, why, n);
}

static void serve(struct gw_config *cfg, struct gw_metrics *m)
{
    struct gw_store_limits lim = {
        .max_body = cfg->store_max_body,
        .max_event = cfg->store_max_event,
        .history = (unsigned)cfg->store_history,
        .max_issues = (size_t)cfg->store_max_issues,
    };
    struct gw_fanout_options fo = {
        .limits = {.max_message = cfg->ws_max_message,
                   .queue_msgs = (size_t)cfg->ws_queue_messages,
                   .queue_bytes = cfg->ws_queue_bytes},
        .ping_interval_ms = cfg->ws_ping_interval_ms,
        .idle_timeout_ms = cfg->ws_idle_timeout_ms,
        .close_timeout_ms = cfg->ws_close_timeout_ms,
        .batch_delay_ms = cfg->ws_batch_delay_ms,
        .max_clients = (unsigned)cfg->ws_max_clients,
        .resume_entries = (size_t)cfg->ws_resume_entries,
        .resume_bytes = cfg->ws_resume_bytes,
        .sndbuf = cfg->ws_socket_sndbuf,
        .metrics = m,
    };
    struct gw_app app = {.cfg = cfg, .metrics = m};
    struct dai_http_options ho = {
        .bind = cfg->common.http_bind,
        .port = cfg->common.http_port,
        .threads = cfg->common.http_threads,
        .max_connections = cfg->common.http_max_connections,
        .per_ip_connections = cfg->common.http_per_ip_connections,
        .idle_timeout_ms = cfg->common.http_idle_timeout_ms,
        .request_timeout_ms = cfg->common.http_request_timeout_ms,
        .max_body = cfg->max_request_body,
        .allow_upgrade = true,
        .metrics = m->reg,
        .ready = ready,
        .ready_ud = &app,
        .ud = &app,
    };
    struct dai_http_server *srv = NULL;
    struct gw_writeback *wb = NULL;
    char err[512];

    gw_rest_handlers(&ho.handlers);
    app.store = gw_store_new(&lim, err, sizeof(err));
    if (app.store)
        app.fanout = gw_fanout_new(&fo, err, sizeof(err));
    if (app.fanout)
        app.publisher = gw_publisher_new(cfg, m->reg, err, sizeof(err));
    if (app.publisher)
        app.follower = gw_follower_new(cfg, app.store, app.fanout, m, err, sizeof(err));
    if (app.follower) {
        int per_min = cfg->corrections_per_minute;

        /* A minute's worth of burst; keyed by token name, so the configured
         * tokens (far fewer than GW_LIMIT_NAMES) never push each other out. */
        int fails = cfg->auth_failures_per_minute;

        if (per_min > 0)
            app.limiter = dai_ratelimit_new(per_min / 60.0, per_min, GW_LIMIT_NAMES);
        /* Keyed by client address (IPv6 by /64); the least recently seen
         * address is forgotten beyond GW_LIMIT_ADDRS. */
        if (fails > 0)
            app.auth_failures = dai_ratelimit_new(fails / 60.0, fails, GW_LIMIT_ADDRS);
        if ((per_min <= 0 || app.limiter) && (fails <= 0 || app.auth_failures))
            srv = dai_http_start(&ho, err, sizeof(err));
        else
            snprintf(err, sizeof(err), "out of memory");
    }
    /* Write-back is a consumer of its own: GitHub's state never holds up
     * the view, the REST API or /ready. */
    if (srv && cfg->writeback.parsed_mode != GW_WB_OFF) {
        wb = gw_writeback_start(cfg, &cfg->writeback, app.store, app.follower, app.publisher,
                                m->reg, err, sizeof(err));
        if (!wb) {
            dai_http_stop(srv);
            srv = NULL;
        }
    }
    if (!srv) {
        DAI_ERROR("gateway cannot start: %s", err);
        dai_lifecycle_request_stop("start-up failed");
    } else {
        if (!gw_auth_count(cfg->auth) && !cfg->public_read)
            DAI_WARN("no API tokens configured and gateway.public_read is false: every "
                     "request will be refused with 401");
        DAI_INFO("gateway listening port=%d tokens=%zu public_read=%s topic=%s",
                 dai_http_port(srv), gw_auth_count(cfg->auth), cfg->public_read ? "true" : "false",
                 cfg->common.topic_enriched);
        gw_follower_run(app.follower);
        DAI_INFO("gateway stopping");
    }
    /* Stop accepting, say goodbye to WebSocket clients (MHD must not stop
     * with upgraded sockets open), stop HTTP, then Kafka. */
    dai_http_quiesce(srv);
    gw_fanout_stop(app.fanout, cfg->ws_close_timeout_ms < 2000 ? cfg->ws_close_timeout_ms : 2000);
    dai_http_stop(srv);
    gw_writeback_stop(wb);
    gw_follower_free(app.follower);
    gw_publisher_free(app.publisher, cfg->common.shutdown_timeout_ms);
    gw_fanout_free(app.fanout);
    dai_ratelimit_free(app.limiter);
    dai_ratelimit_free(app.auth_failures);
    gw_store_free(app.store);
}

int main(int argc, char **argv)
{
    struct gw_config cfg;
    struct gw_metrics m;
    struct dai_metrics *reg = NULL;
    char err[512];
    int rc;

    rc = gw_options_load(&cfg, argc, argv, err, sizeof(err));
    if (rc == DAI_CONFIG_EXITED)
        return 0;
    if (rc != DAI_CONFIG_RUN) {
        fprintf(stderr, "dispatchai-gateway: %s\n", err);
        return 2;
    }
    rc = dai_log_init("gateway", cfg.common.log_level, cfg.common.log_format,
                      cfg.common.log_file);
    if (rc) {
        fprintf(stderr, "dispatchai-gateway: logging: %s\n", dai_strerror(rc));
        gw_options_free(&cfg);
        return 2;
    }
    reg = dai_metrics_new();
    /* Once, before any thread: the write-back client uses libcurl. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !reg || gw_metrics_init(&m, reg) ||
        dai_lifecycle_install()) {
        DAI_ERROR("gateway cannot start: out of memory or signal set-up failed");
        rc = 1;
    } else {
        serve(&cfg, &m);
        rc = dai_lifecycle_exit_code();
    }
    dai_metrics_free(reg);
    curl_global_cleanup();
    gw_options_free(&cfg);
    dai_log_shutdown();
    return rc;
}
