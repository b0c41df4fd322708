/* A token bucket per token name for corrections: per_minute tokens refill
 * per minute and the bucket holds per_minute, so a client can burst a minute's
 * worth and then keeps the average. A mutex guards the small table; names
 * are the configured token names, so the table never outgrows the config. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    char name[64];
    double tokens;
    long long at_ms;
};

struct gw_ratelimit {
    pthread_mutex_t mu;
    double per_minute;
    struct bucket *v;
    size_t n, cap;
};

struct gw_ratelimit *gw_ratelimit_new(int per_minute)
{
    struct gw_ratelimit *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->per_minute = per_minute;
    return r;
}

void gw_ratelimit_free(struct gw_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->v);
    free(r);
}

static struct bucket *find(struct gw_ratelimit *r, const char *name, long long now_ms)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        struct bucket *nv = realloc(r->v, ncap * sizeof(*nv));

        if (!nv)
            return NULL;
        r->v = nv;
        r->cap = ncap;
    }
    memset(&r->v[r->n], 0, sizeof(r->v[0]));
    snprintf(r->v[r->n].name, sizeof(r->v[0].name), "%s", name);
    r->v[r->n].tokens = r->per_minute;
    r->v[r->n].at_ms = now_ms;
    return &r->v[r->n++];
}

bool gw_ratelimit_take(struct gw_ratelimit *r, const char *name, long long now_ms, int *retry_s)
{
    struct bucket *b;
    bool ok;

    *retry_s = 0;
    if (!r || r->per_minute <= 0)
        return true;
    pthread_mutex_lock(&r->mu);
    b = find(r, name, now_ms);
    if (!b) {
        pthread_mutex_unlock(&r->mu);
        return true; /* out of memory: do not turn that into refusals */
    }
    if (now_ms > b->at_ms) {
        b->tokens += (double)(now_ms - b->at_ms) * r->per_minute / 60000.0;
        if (b->tokens > r->per_minute)
            b->tokens = r->per_minute;
        b->at_ms = now_ms;
    }
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else
        *retry_s = (int)((1.0 - b->tokens) * 60.0 / r->per_minute) + 1;
    pthread_mutex_unlock(&r->mu);
    return ok;
}
