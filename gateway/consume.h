/* Following issues.enriched: read from the beginning into the store, report
 * readiness once caught up, hand every applied event to the fan-out loop. */
#ifndef DISPATCHAI_GW_CONSUME_H
#define DISPATCHAI_GW_CONSUME_H

#include <stdbool.h>
#include <stddef.h>

struct gw_config;
struct gw_store;
struct gw_fanout;
struct gw_metrics;

struct gw_follower;

struct gw_follower *gw_follower_new(const struct gw_config *cfg, struct gw_store *store,
                                    struct gw_fanout *fanout, struct gw_metrics *metrics,
                                    char *err, size_t errlen);
/* Read from the beginning, catch up, then follow until the process stops. */
void gw_follower_run(struct gw_follower *f);
/* Caught up with the end offsets seen at start (any thread). */
bool gw_follower_ready(const struct gw_follower *f, char *why, size_t n);
void gw_follower_free(struct gw_follower *f);

#endif
