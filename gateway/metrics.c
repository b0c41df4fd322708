/* The gateway's metric families (names and help in one place); the values
 * are fed by the follower, the fan-out loop and the REST handlers. Request
 * counts and latency per route come from common/src/http.c. */
#include "metrics.h"

#include <dispatchai/metrics.h>

#include <errno.h>

int gw_metrics_init(struct gw_metrics *m, struct dai_metrics *reg)
{
    m->reg = reg;
    m->tracked = dai_metric_gauge(reg, "gateway_tracked_issues",
                                  "Issues and pull requests in the view", NULL);
    m->store_bytes = dai_metric_gauge(reg, "gateway_store_bytes",
                                      "Heap bytes accounted to the view", NULL);
    m->applied = dai_metric_counter(reg, "gateway_events_applied_total",
                                    "Enriched events applied to the view", NULL);
    m->rejected = dai_metric_counter(reg, "gateway_events_rejected_total",
                                     "Enriched events skipped, by reason", "reason");
    m->human_kept = dai_metric_counter(
        reg, "gateway_human_overrides_total",
        "Automatic classifications kept from taking effect by a human correction", NULL);
    m->evicted = dai_metric_counter(reg, "gateway_evicted_issues_total",
                                    "Issues dropped because store.max_issues was reached", NULL);
    m->lag = dai_metric_gauge(reg, "gateway_consumer_lag",
                              "Messages of issues.enriched not yet applied, by partition",
                              "partition");
    m->caught_up = dai_metric_gauge(reg, "gateway_caught_up",
                                    "1 once the view reached the end offsets seen at start", NULL);
    m->catchup_seconds = dai_metric_gauge(reg, "gateway_catchup_seconds",
                                          "Time the initial replay of issues.enriched took", NULL);
    m->ws_clients = dai_metric_gauge(reg, "gateway_ws_clients", "Connected WebSocket clients",
                                     NULL);
    m->ws_connections = dai_metric_counter(reg, "gateway_ws_connections_total",
                                           "WebSocket connections accepted", NULL);
    m->ws_sent = dai_metric_counter(reg, "gateway_ws_messages_sent_total",
                                    "Data messages written completely to WebSocket clients",
                                    NULL);
    m->ws_slow = dai_metric_counter(reg, "gateway_ws_slow_disconnects_total",
                                    "Clients closed with 1013 because their send queue overflowed",
                                    NULL);
    m->ws_closed = dai_metric_counter(reg, "gateway_ws_closed_total",
                                      "WebSocket connections ended, by the close code we sent "
                                      "(or \"none\")", "code");
    m->ws_resumes = dai_metric_counter(reg, "gateway_ws_resumes_total",
                                       "Resumes with since=, by result (replayed, resync)",
                                       "result");
    m->ws_fanout = dai_metric_histogram(
        reg, "gateway_ws_fanout_seconds",
        "From the consumer handing an update over to its frames written (or queued) for every "
        "subscribed client", NULL, dai_latency_buckets, dai_latency_buckets_n);
    m->corrections = dai_metric_counter(reg, "gateway_corrections_total",
                                        "Correction requests, by result", "result");
    if (!m->tracked || !m->store_bytes || !m->applied || !m->rejected || !m->human_kept ||
        !m->evicted || !m->lag || !m->caught_up || !m->catchup_seconds || !m->ws_clients ||
        !m->ws_connections || !m->ws_sent || !m->ws_slow || !m->ws_closed || !m->ws_resumes ||
        !m->ws_fanout || !m->corrections)
        return -ENOMEM;
    return 0;
}
