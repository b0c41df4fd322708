/* Updates as WebSocket clients see them (sequence number, shared frame, the
 * issue's filter fields before and after) and the bounded resume log that
 * lets a reconnecting client catch up with ?since=<seq>. Bounded by entries
 * and by bytes; the oldest entries go first. Owned by the fan-out thread. */
#include "updlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t sel_strlen(const struct gw_sel *s)
{
    return strlen(s->repo ? s->repo : "") + 1 + strlen(s->team ? s->team : "") + 1;
}

static char *copy_sel(char *p, const struct gw_sel *from, struct gw_sel *to)
{
    size_t a = strlen(from->repo ? from->repo : ""), b = strlen(from->team ? from->team : "");

    *to = *from;
    memcpy(p, from->repo ? from->repo : "", a + 1);
    to->repo = p;
    p += a + 1;
    memcpy(p, from->team ? from->team : "", b + 1);
    to->team = p;
    return p + b + 1;
}

struct gw_update *gw_update_new(uint64_t seq, struct gw_frame *frame, const struct gw_sel *before,
                                const struct gw_sel *after)
{
    struct gw_update *u = calloc(1, sizeof(*u));
    char *p;

    if (!u)
        return NULL;
    u->strs = malloc((before ? sel_strlen(before) : 0) + sel_strlen(after));
    if (!u->strs) {
        free(u);
        return NULL;
    }
    u->seq = seq;
    p = copy_sel(u->strs, after, &u->after);
    if (before) {
        u->has_before = true;
        copy_sel(p, before, &u->before);
    }
    u->frame = frame;
    return u;
}

void gw_update_free(struct gw_update *u)
{
    if (!u)
        return;
    gw_frame_unref(u->frame);
    free(u->strs);
    free(u);
}

bool gw_update_matches(const struct gw_update *u, const struct gw_match *m)
{
    return gw_match_sel(m, &u->after) || (u->has_before && gw_match_sel(m, &u->before));
}

int gw_updlog_init(struct gw_updlog *l, size_t max_entries, size_t max_bytes)
{
    memset(l, 0, sizeof(*l));
    if (max_entries == 0)
        max_entries = 1;
    l->ring = calloc(max_entries, sizeof(*l->ring));
    if (!l->ring)
        return -ENOMEM;
    l->cap = max_entries;
    l->max_bytes = max_bytes;
    return 0;
}

void gw_updlog_free(struct gw_updlog *l)
{
    for (size_t i = 0; i < l->n; i++)
        gw_update_free(l->ring[(l->head + i) % l->cap]);
    free(l->ring);
    memset(l, 0, sizeof(*l));
}

static void drop_oldest(struct gw_updlog *l)
{
    struct gw_update *u = l->ring[l->head];

    l->bytes -= u->frame->len;
    gw_update_free(u);
    l->ring[l->head] = NULL;
    l->head = (l->head + 1) % l->cap;
    l->n--;
}

void gw_updlog_push(struct gw_updlog *l, struct gw_update *u)
{
    if (l->n == l->cap)
        drop_oldest(l);
    l->ring[(l->head + l->n) % l->cap] = u;
    l->n++;
    l->bytes += u->frame->len;
    /* Keep at least the newest entry even if it alone exceeds the byte cap. */
    while (l->max_bytes && l->bytes > l->max_bytes && l->n > 1)
        drop_oldest(l);
}

const struct gw_update *gw_updlog_at(const struct gw_updlog *l, size_t i)
{
    return i < l->n ? l->ring[(l->head + i) % l->cap] : NULL;
}

long gw_updlog_resume_index(const struct gw_updlog *l, uint64_t since, uint64_t last_seq)
{
    size_t lo = 0, hi = l->n;

    if (since > last_seq)
        return -1; /* from the future: another process or instance */
    if (since == last_seq)
        return (long)l->n;
    /* The entry right after since must still be held: the oldest held entry
     * may not be newer than since + 1. */
    if (l->n == 0 || gw_updlog_at(l, 0)->seq > since + 1)
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (gw_updlog_at(l, mid)->seq <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo;
}
