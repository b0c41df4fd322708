/* Updates as sent to WebSocket clients, numbered, and the bounded resume
 * log they are kept in for ?since=. Only the fan-out thread touches them. */
#ifndef DISPATCHAI_GW_UPDLOG_H
#define DISPATCHAI_GW_UPDLOG_H

#include "frame.h"
#include "match.h"

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One applied event as sent to WebSocket clients. */
struct gw_update {
    uint64_t seq;
    long long received_us;    /* dai_mono_us() when the consumer handed it over */
    struct gw_frame *frame;   /* {"type":"issue_update","seq":N,"data":...} */
    bool has_before;
    char *strs;               /* backing store for the selectors' strings */
    struct gw_sel before, after;
};

/* New update (strings copied); NULL on OOM. frame is stolen. */
struct gw_update *gw_update_new(uint64_t seq, struct gw_frame *frame, const struct gw_sel *before,
                                const struct gw_sel *after);
void gw_update_free(struct gw_update *u);
/* Delivered when the issue matched the filter before or after the update, so
 * a client also learns that an issue left its view. */
bool gw_update_matches(const struct gw_update *u, const struct gw_match *m);

struct gw_updlog {
    struct gw_update **ring;
    size_t cap, head, n;     /* entries ring[head .. head+n) oldest first */
    size_t bytes, max_bytes;
};

DAI_MUST_CHECK int gw_updlog_init(struct gw_updlog *l, size_t max_entries, size_t max_bytes);
void gw_updlog_free(struct gw_updlog *l);
/* Append (steals u), evicting the oldest beyond the bounds. */
void gw_updlog_push(struct gw_updlog *l, struct gw_update *u);
/* Resume: index (0 = oldest) of the first entry with seq > since, n if
 * since is the newest seq, or -1 when updates after since are no longer held
 * (or since is from the future / another process). */
long gw_updlog_resume_index(const struct gw_updlog *l, uint64_t since, uint64_t last_seq);
const struct gw_update *gw_updlog_at(const struct gw_updlog *l, size_t i);

#endif
