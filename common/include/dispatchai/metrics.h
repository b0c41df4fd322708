/* Metrics: counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format 0.0.4. Every operation is thread-safe.
 * Label values are passed as a variadic list of const char *, exactly as many
 * as the family declares (none for an unlabelled family). */
#ifndef DISPATCHAI_METRICS_H
#define DISPATCHAI_METRICS_H

#include <dispatchai/err.h>
#include <dispatchai/buf.h>
#include <stddef.h>

struct dai_metrics;
struct dai_metric;

/* New registry (NULL on OOM); free with dai_metrics_free (NULL is fine). */
struct dai_metrics *dai_metrics_new(void);
void dai_metrics_free(struct dai_metrics *reg);

/* Register a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: comma-separated
 * label names or NULL. Returns a handle owned by the registry (valid until
 * dai_metrics_free), or NULL on OOM / bad name. Registering the same name
 * twice returns the existing family. */
struct dai_metric *dai_metric_counter(struct dai_metrics *reg, const char *name, const char *help,
                                      const char *labels);
struct dai_metric *dai_metric_gauge(struct dai_metrics *reg, const char *name, const char *help,
                                    const char *labels);
/* bounds: ascending upper bounds (the +Inf bucket is implicit), copied. */
struct dai_metric *dai_metric_histogram(struct dai_metrics *reg, const char *name,
                                        const char *help, const char *labels,
                                        const double *bounds, size_t n_bounds);

/* Default latency buckets in seconds, 0.5 ms .. 30 s. */
extern const double dai_latency_buckets[];
extern const size_t dai_latency_buckets_n;

/* Counter/gauge add (counters ignore negative deltas), gauge set, histogram observe. */
void dai_metric_add(struct dai_metric *m, double delta, ...);
void dai_metric_set(struct dai_metric *m, double value, ...);
void dai_metric_observe(struct dai_metric *m, double value, ...);
/* Current value of a counter/gauge child (0 when never touched; for a
 * histogram, its number of observations); for tests. */
double dai_metric_value(struct dai_metric *m, ...);
/* Drop every child of a labelled gauge (e.g. before re-publishing per-partition lag). */
void dai_metric_reset(struct dai_metric *m);

/* A callback run at the start of each render, to refresh gauges that are
 * cheaper to read on demand (queue depths, client counts). */
typedef void (*dai_metrics_collect_fn)(void *ud);
DAI_MUST_CHECK int dai_metrics_on_collect(struct dai_metrics *reg, dai_metrics_collect_fn fn,
                                          void *ud);

/* Render every family into out (replacing its content). 0 or -ENOMEM/DAI_ETOOBIG. */
DAI_MUST_CHECK int dai_metrics_render(struct dai_metrics *reg, struct dai_buf *out);

#endif
