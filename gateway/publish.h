/* Corrections produced to issues.enriched; each send reports its outcome
 * once through a callback on the producer's poll thread. */
#ifndef DISPATCHAI_GW_PUBLISH_H
#define DISPATCHAI_GW_PUBLISH_H

#include <dispatchai/err.h>

#include <stddef.h>
#include <stdint.h>

struct gw_config;
struct dai_metrics;

typedef void (*gw_published_fn)(void *ud, int rc, int32_t partition, int64_t offset,
                                const char *errstr);
struct gw_publisher;

struct gw_publisher *gw_publisher_new(const struct gw_config *cfg, struct dai_metrics *reg,
                                      char *err, size_t errlen);
/* Produce one event (value copied) keyed by key; done runs exactly once, on
 * the producer's poll thread, when the broker acknowledged it or gave up.
 * 0, or DAI_EQUEUEFULL/DAI_EKAFKA (done will not run). */
DAI_MUST_CHECK int gw_publisher_send(struct gw_publisher *p, const char *key, const char *value,
                                     size_t len, gw_published_fn done, void *ud);
void gw_publisher_free(struct gw_publisher *p, int flush_timeout_ms);

#endif
