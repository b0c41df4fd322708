/* Following issues.enriched: read from the beginning into the store, report
 * readiness once caught up, hand every applied event to the fan-out loop. */
#ifndef DISPATCHAI_GW_CONSUME_H
#define DISPATCHAI_GW_CONSUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* The offset after the last message of partition the store has taken in
 * (applied or skipped); 0 before any, -1 before partitions are assigned.
 * Any thread: write-back waits on it to read the same state as REST. */
int64_t gw_follower_applied(const struct gw_follower *f, int32_t partition);
void gw_follower_free(struct gw_follower *f);

#endif
