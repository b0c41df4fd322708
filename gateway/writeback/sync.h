/* Write-back's GitHub side, shared by run.c (the consumer) and sync.c:
 * the outcome of one issue's write-back, and the state used to bring one
 * issue's labels and comment on GitHub in line. Private to the module. */
#ifndef DISPATCHAI_GW_WRITEBACK_SYNC_H
#define DISPATCHAI_GW_WRITEBACK_SYNC_H

#include "writeback.h"

#include <dispatchai/github.h>
#include <dispatchai/map.h>
#include <dispatchai/metrics.h>

#include <stdbool.h>

enum gw_wb_outcome { GW_WB_DONE = 0, GW_WB_TRANSIENT, GW_WB_PERMANENT, GW_WB_STOPPING };

struct gw_wb_sync {
    const struct gw_wb_config *wb;
    struct dai_github *gh;
    char bot[128];              /* our login; set before the first issue */
    struct dai_map etags;       /* issue key -> labels as GitHub last showed them */
    struct dai_metric *m_writes, *m_dry_run;
};

/* An answer's class: 2xx/304 done, GitHub's "this will not work" statuses
 * permanent, everything else transient (rc from dai_github_request). */
enum gw_wb_outcome gw_wb_classify(int rc, long status);
/* Bring one issue in line with desired (and, with github.comment, the
 * comment with cls): read its labels (ETag) and, when needed, its label
 * events, then write — or, in dry-run, log and count. *wrote: something
 * was (or would be) written. */
enum gw_wb_outcome gw_wb_reconcile(struct gw_wb_sync *w, long long inst, const char *repo,
                                   long long number, const char *key,
                                   const struct gw_wb_set *desired,
                                   const struct dai_classification *cls, bool *wrote);
/* Drop every cached label list. */
void gw_wb_sync_cache_clear(struct gw_wb_sync *w);

#endif
