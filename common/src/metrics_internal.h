/* Private to common/src/metrics*.c: the registry's data structures, shared
 * by the registry and updates (metrics.c) and the text exposition
 * (metrics_render.c). Never included outside common/. */
#ifndef DISPATCHAI_METRICS_INTERNAL_H
#define DISPATCHAI_METRICS_INTERNAL_H

#include <dispatchai/metrics.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A family declares at most this many labels; label values are gathered from
 * the variadic list into an array of this size on the stack. */
#define MAX_LABELS 8

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct child {
    struct child *hnext; /* hash chain */
    struct child *next;  /* creation order, for stable output */
    uint64_t hash;
    double value;        /* counter/gauge value; histogram sum */
    uint64_t count;      /* histogram observations */
    uint64_t *buckets;   /* histogram: n_bounds + 1 non-cumulative counts (last = +Inf) */
    char *values[];      /* n_labels label values, stored in the same block */
};

struct dai_metric {
    struct dai_metric *next;
    enum kind kind;
    char *name;
    char *help;
    size_t n_labels;
    char *labels[MAX_LABELS];
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t mu; /* guards everything below */
    struct child **table;
    size_t table_size;  /* power of two */
    size_t n_children;
    struct child *head, *tail;
};

struct collector {
    dai_metrics_collect_fn fn;
    void *ud;
};

struct dai_metrics {
    pthread_mutex_t mu;        /* the family list and the collector array */
    pthread_mutex_t render_mu; /* one render at a time, so collectors never run concurrently */
    struct dai_metric *head, *tail;
    struct collector *coll;
    size_t n_coll, cap_coll;
};

#endif
