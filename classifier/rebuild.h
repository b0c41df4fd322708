/* The state reader (rebuild.c): reads issues.enriched back into the per-key
 * state, at start, on assignment and after an abort. */
#ifndef DISPATCHAI_CLS_REBUILD_H
#define DISPATCHAI_CLS_REBUILD_H

#include "metrics.h"
#include "options.h"
#include "state.h"

#include <dispatchai/err.h>

#include <librdkafka/rdkafka.h>

#include <stddef.h>

/* The state reader: reads issues.enriched (read_committed) into the key
 * table: the partitions matching the raw ones we own, or every partition when
 * the two topics' partition counts differ. */
struct cls_rebuild;

struct cls_rebuild *cls_rebuild_new(const struct cls_config *cfg, struct cls_state *state,
                                    struct cls_metrics *metrics, char *err, size_t errlen);
void cls_rebuild_free(struct cls_rebuild *r);
/* Add the raw topic's partitions in `parts` (newly assigned; NULL for none)
 * to the ones read, then read until every partition read is at least at its
 * end offset as of now. Only call with no open transaction of our own. 0,
 * DAI_ETIMEOUT or DAI_EKAFKA. */
DAI_MUST_CHECK int cls_rebuild_catch_up(struct cls_rebuild *r,
                                        const rd_kafka_topic_partition_list_t *parts,
                                        int timeout_ms, char *err, size_t errlen);
/* Stop reading the raw topic's partitions in `parts` (revoked; nothing when
 * every partition is read). Their keys stay until the next catch-up with an
 * assignment: dropped there if the partition did not come back, kept (and
 * read on from where they were) if it did. */
void cls_rebuild_release(struct cls_rebuild *r, const rd_kafka_topic_partition_list_t *parts);
/* Apply whatever is already fetched, without blocking (keeps state fresh). */
void cls_rebuild_poll(struct cls_rebuild *r, int max_msgs);

#endif
