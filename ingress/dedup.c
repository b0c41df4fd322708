/* The delivery de-duplication window: GUIDs of deliveries the broker
 * acknowledged (bounded by a capacity and a time window, oldest out first)
 * plus the GUIDs being published right now, so a concurrent second delivery
 * of the same GUID waits for the first instead of publishing twice. What a
 * caller does with waiting requests is publish.c's business.
 *
 * GUID -> entry lives in common's seeded dai_map, keyed by the entry's own
 * copy of the GUID. Entries are separate allocations because callers hold
 * pointers to them (freed, not recycled, so a stale pointer stays visible
 * to the sanitizers). */
#include "window.h"

#include <dispatchai/map.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 1024

struct ing_dedup {
    struct dai_map map; /* guid -> struct ing_dedup_entry * */
    size_t capacity;
    long long window_ms;
    size_t n_done, n_in_flight;
    struct ing_dedup_entry *oldest, *newest; /* done entries in acknowledgement order */
};

struct ing_dedup *ing_dedup_new(size_t capacity, long long window_ms)
{
    struct ing_dedup *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    dai_map_init(&d->map);
    if (dai_map_reserve(&d->map, capacity < INITIAL_SLOTS ? capacity : INITIAL_SLOTS)) {
        free(d);
        return NULL;
    }
    d->capacity = capacity;
    d->window_ms = window_ms;
    return d;
}

void ing_dedup_free(struct ing_dedup *d)
{
    size_t pos = 0;
    uint64_t v;

    if (!d)
        return;
    while (dai_map_next(&d->map, &pos, NULL, NULL, &v))
        free((void *)(uintptr_t)v);
    dai_map_free(&d->map);
    free(d);
}

/* Take e out of the table and free it. */
static void forget(struct ing_dedup *d, struct ing_dedup_entry *e)
{
    (void)dai_map_del(&d->map, e->guid, e->guid_len); /* present by construction */
    free(e);
}

static void drop_oldest(struct ing_dedup *d)
{
    struct ing_dedup_entry *e = d->oldest;

    d->oldest = e->newer;
    if (d->oldest)
        d->oldest->older = NULL;
    else
        d->newest = NULL;
    d->n_done--;
    forget(d, e);
}

/* Forget acknowledged entries past the window or beyond the capacity. */
static void expire(struct ing_dedup *d, long long now_ms)
{
    while (d->oldest && (d->n_done > d->capacity || now_ms - d->oldest->done_ms > d->window_ms))
        drop_oldest(d);
}

int ing_dedup_claim(struct ing_dedup *d, const char *guid, long long now_ms,
                    struct ing_dedup_entry **e)
{
    size_t len = strlen(guid);
    struct ing_dedup_entry *it;

    expire(d, now_ms);
    it = dai_map_get_ptr(&d->map, guid, len);
    if (it) {
        *e = it;
        return it->done ? ING_DEDUP_DONE : ING_DEDUP_IN_FLIGHT;
    }
    if (len > ING_GUID_MAX)
        return -EINVAL;
    it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    memcpy(it->guid, guid, len + 1);
    it->guid_len = len;
    if (dai_map_put_ptr(&d->map, it->guid, len, it)) {
        free(it);
        return -ENOMEM;
    }
    d->n_in_flight++;
    *e = it;
    return ING_DEDUP_NEW;
}

void ing_dedup_commit(struct ing_dedup *d, struct ing_dedup_entry *e, int32_t partition,
                      int64_t offset, long long now_ms)
{
    if (e->done)
        return;
    e->done = true;
    e->partition = partition;
    e->offset = offset;
    e->done_ms = now_ms;
    e->owner = NULL;
    e->waiters = NULL;
    e->older = d->newest;
    e->newer = NULL;
    if (d->newest)
        d->newest->newer = e;
    else
        d->oldest = e;
    d->newest = e;
    d->n_in_flight--;
    d->n_done++;
    expire(d, now_ms);
}

void ing_dedup_release(struct ing_dedup *d, struct ing_dedup_entry *e)
{
    if (e->done)
        return; /* acknowledged entries leave only through the window */
    d->n_in_flight--;
    forget(d, e);
}

size_t ing_dedup_done_count(const struct ing_dedup *d)
{
    return d->n_done;
}

size_t ing_dedup_in_flight_count(const struct ing_dedup *d)
{
    return d->n_in_flight;
}
