/* The classifier's metric families (metrics.c), and NULL-tolerant update
 * macros so pure modules run in tests without a registry. */
#ifndef DISPATCHAI_CLS_METRICS_H
#define DISPATCHAI_CLS_METRICS_H

#include <dispatchai/err.h>
#include <dispatchai/metrics.h>

struct cls_metrics {
    struct dai_metrics *reg;     /* borrowed */
    struct dai_metric *consumed;        /* total */
    struct dai_metric *classified;      /* {source,category} */
    struct dai_metric *reused;          /* total */
    struct dai_metric *dlq;             /* {reason} */
    struct dai_metric *produced;        /* {topic} */
    struct dai_metric *llm_latency;     /* histogram, seconds */
    struct dai_metric *llm_requests;    /* {outcome} */
    struct dai_metric *llm_errors;      /* {kind} */
    struct dai_metric *llm_tokens;      /* {kind} */
    struct dai_metric *llm_in_flight;   /* gauge */
    struct dai_metric *circuit_state;   /* gauge 0 closed, 1 open, 2 half-open */
    struct dai_metric *fallbacks;       /* {reason} */
    struct dai_metric *lag;             /* gauge {partition} */
    struct dai_metric *buffered;        /* gauge: consumed, not yet emitted */
    struct dai_metric *txn;             /* {outcome} commit/abort */
    struct dai_metric *txn_duration;    /* histogram, seconds */
    struct dai_metric *event_latency;   /* histogram, seconds: consume -> produce */
    struct dai_metric *state_keys;      /* gauge */
    struct dai_metric *state_rebuilt;   /* counter: records read back */
    struct dai_metric *takeover;        /* histogram, seconds: assignment -> state ready */
};

/* Register every family (reg may be NULL: all handles NULL, and the metric
 * calls below become no-ops). 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_metrics_init(struct cls_metrics *m, struct dai_metrics *reg);
/* NULL-tolerant wrappers so pure modules need no registry in tests. */
#define CLS_ADD(m, ...) do { if (m) dai_metric_add((m), __VA_ARGS__); } while (0)
#define CLS_SET(m, ...) do { if (m) dai_metric_set((m), __VA_ARGS__); } while (0)
#define CLS_OBSERVE(m, ...) do { if (m) dai_metric_observe((m), __VA_ARGS__); } while (0)

#endif
