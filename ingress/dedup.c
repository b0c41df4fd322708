/* The delivery de-duplication window: GUIDs of deliveries the broker
 * acknowledged (bounded by a capacity and a time window, oldest out first)
 * plus the GUIDs being published right now, so a concurrent second delivery
 * of the same GUID waits for the first instead of publishing twice. What a
 * caller does with waiting requests is publish.c's business. */
#include "window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ing_dedup {
    struct ing_dedup_entry **buckets;
    size_t mask;
    size_t capacity;
    long long window_ms;
    uint32_t seed;
    size_t n_done, n_in_flight;
    struct ing_dedup_entry *oldest, *newest; /* done entries in acknowledgement order */
};

static uint32_t hash_guid(uint32_t seed, const char *s)
{
    uint32_t h = 2166136261u ^ seed;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h ^ (h >> 15);
}

struct ing_dedup *ing_dedup_new(size_t capacity, long long window_ms)
{
    struct ing_dedup *d = calloc(1, sizeof(*d));
    size_t nb = 1024;
    struct timespec ts;

    if (!d)
        return NULL;
    while (nb < capacity && nb < ((size_t)1 << 30))
        nb <<= 1;
    d->buckets = calloc(nb, sizeof(*d->buckets));
    if (!d->buckets) {
        free(d);
        return NULL;
    }
    d->mask = nb - 1;
    d->capacity = capacity;
    d->window_ms = window_ms;
    /* GUIDs come from signed deliveries, but a per-process seed costs nothing
     * and keeps chain lengths independent of what senders choose. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    d->seed = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 16)) ^ (uint32_t)(uintptr_t)d;
    return d;
}

void ing_dedup_free(struct ing_dedup *d)
{
    if (!d)
        return;
    for (size_t i = 0; i <= d->mask; i++) {
        struct ing_dedup_entry *e = d->buckets[i], *next;
        for (; e; e = next) {
            next = e->hnext;
            free(e);
        }
    }
    free(d->buckets);
    free(d);
}

static void unhash(struct ing_dedup *d, struct ing_dedup_entry *e)
{
    struct ing_dedup_entry **pp = &d->buckets[e->hash & d->mask];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
}

static void drop_oldest(struct ing_dedup *d)
{
    struct ing_dedup_entry *e = d->oldest;

    d->oldest = e->newer;
    if (d->oldest)
        d->oldest->older = NULL;
    else
        d->newest = NULL;
    unhash(d, e);
    d->n_done--;
    free(e);
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
    uint32_t h = hash_guid(d->seed, guid);
    struct ing_dedup_entry *it;
    size_t len = strlen(guid);

    expire(d, now_ms);
    for (it = d->buckets[h & d->mask]; it; it = it->hnext) {
        if (it->hash == h && strcmp(it->guid, guid) == 0) {
            *e = it;
            return it->done ? ING_DEDUP_DONE : ING_DEDUP_IN_FLIGHT;
        }
    }
    if (len > ING_GUID_MAX)
        return -EINVAL;
    it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    memcpy(it->guid, guid, len + 1);
    it->hash = h;
    it->hnext = d->buckets[h & d->mask];
    d->buckets[h & d->mask] = it;
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
    unhash(d, e);
    d->n_in_flight--;
    free(e);
}

size_t ing_dedup_done_count(const struct ing_dedup *d)
{
    return d->n_done;
}

size_t ing_dedup_in_flight_count(const struct ing_dedup *d)
{
    return d->n_in_flight;
}
