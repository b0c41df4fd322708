/* The gateway's Prometheus metrics, registered once at start. */
#ifndef DISPATCHAI_GW_METRICS_H
#define DISPATCHAI_GW_METRICS_H

#include <dispatchai/err.h>
#include <dispatchai/metrics.h>

struct gw_metrics {
    struct dai_metrics *reg;
    struct dai_metric *tracked, *store_bytes, *applied, *rejected, *human_kept, *evicted;
    struct dai_metric *lag, *caught_up, *catchup_seconds;
    struct dai_metric *ws_clients, *ws_connections, *ws_sent, *ws_slow, *ws_closed;
    struct dai_metric *ws_resumes, *ws_fanout;
    struct dai_metric *corrections;
};

DAI_MUST_CHECK int gw_metrics_init(struct gw_metrics *m, struct dai_metrics *reg);

#endif
