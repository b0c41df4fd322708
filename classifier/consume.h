/* The classifier daemon's Kafka loop (consume.c): consumes issues.raw, runs
 * the pipeline and writes issues.enriched and dead letters in transactions
 * with the consumed offsets. */
#ifndef DISPATCHAI_CLS_CONSUME_H
#define DISPATCHAI_CLS_CONSUME_H

#include "llm_client.h"
#include "metrics.h"
#include "offline/offline.h"
#include "options.h"

#include <dispatchai/err.h>
#include <dispatchai/metrics.h>

#include <stdbool.h>
#include <stddef.h>

struct cls_runtime {
    const struct cls_config *cfg;
    struct cls_metrics *metrics;
    struct dai_metrics *registry;
    const struct cls_offline_model *offline;
    const struct cls_teams *teams;
    struct cls_llm *llm;       /* NULL = offline only */
};

struct cls_daemon;

struct cls_daemon *cls_daemon_new(const struct cls_runtime *rt, char *err, size_t errlen);
/* Consume until dai_lifecycle_stopping(); then drain, commit and leave the
 * group. 0, or a negative code after a fatal Kafka error. */
DAI_MUST_CHECK int cls_daemon_run(struct cls_daemon *d);
/* /ready: the state is rebuilt, and the last background check found the
 * broker answering and the topics there (never blocks on the broker). */
bool cls_daemon_ready(void *d, char *why, size_t n);
void cls_daemon_free(struct cls_daemon *d);

#endif
