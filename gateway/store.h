/* The in-memory triage view (store.c applies events, view.c answers
 * reads). The consumer thread is the only writer; HTTP threads read under the
 * store's read lock. Its private layout is in store_layout.h. */
#ifndef DISPATCHAI_GW_STORE_H
#define DISPATCHAI_GW_STORE_H

#include "match.h"

#include <dispatchai/err.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct dai_buf;
struct gw_query;

struct gw_store_limits {
    size_t max_body;    /* subject/comment body bytes kept (UTF-8 safe cut) */
    size_t max_event;   /* stored event JSON cap after the cut */
    unsigned history;   /* classification history entries per issue */
    size_t max_issues;  /* the least recently updated issue is evicted beyond this */
};

enum gw_apply_kind {
    GW_APPLY_UPDATED = 0, /* new or changed issue */
    GW_APPLY_REMOVED,     /* action "deleted": the issue left the view */
};

/* The outcome of applying one event; pointers are borrowed from the store and
 * valid until the next gw_store_apply (only the applying thread may read
 * them, and it is the only writer). */
struct gw_applied {
    enum gw_apply_kind kind;
    const char *event;   /* the effective stored event JSON */
    size_t event_len;
    const char *key;
    bool has_before;
    struct gw_sel before, after;
    bool human_kept;     /* an automatic classification was overridden by a human one */
    bool evicted;        /* applying evicted the oldest issue (max_issues) */
};

struct gw_store_stats {
    size_t issues;
    size_t bytes;        /* accounted heap bytes of the view */
    unsigned long long applied, rejected, human_kept, evicted;
};

struct gw_store;

struct gw_store *gw_store_new(const struct gw_store_limits *lim, char *err, size_t errlen);
void gw_store_free(struct gw_store *s);

/* Apply one enriched event (JSON text from issues.enriched). Returns 0 with
 * *out filled, DAI_EPARSE/DAI_ESCHEMA/DAI_ETOOBIG with the reason in err
 * (the event is skipped), or -ENOMEM. Takes the write lock. */
DAI_MUST_CHECK int gw_store_apply(struct gw_store *s, const char *json, size_t len,
                                  struct gw_applied *out, char *err, size_t errlen);

/* Responses, written into out (replacing its content) under the read lock. */
DAI_MUST_CHECK int gw_store_list(struct gw_store *s, const struct gw_query *q,
                                 struct dai_buf *out);
/* {"key","latest","history","human_override"}; DAI_ENOTFOUND if unknown. */
DAI_MUST_CHECK int gw_store_get(struct gw_store *s, const char *repo, long long number,
                                struct dai_buf *out);
DAI_MUST_CHECK int gw_store_stats_json(struct gw_store *s, const char *repo, struct dai_buf *out);
DAI_MUST_CHECK int gw_store_repos_json(struct gw_store *s, struct dai_buf *out);
/* A new copy of an issue's effective latest event (for corrections), or NULL
 * with *rc = DAI_ENOTFOUND / -ENOMEM. */
json_t *gw_store_latest(struct gw_store *s, const char *repo, long long number, int *rc);
void gw_store_get_stats(struct gw_store *s, struct gw_store_stats *st);

#endif
