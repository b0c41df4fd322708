/* Per-client-address token buckets for the optional webhook rate limit:
 * a bounded table (least recently seen client out first) behind one mutex.
 * Turning a refusal into 429 and X-RateLimit-* headers is webhook.c's job. */
#include "window.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_MAX 64

struct bucket {
    char addr[ADDR_MAX];
    uint32_t hash;
    double tokens;
    long long last_ms;
    struct bucket *hnext;
    struct bucket *prev, *next; /* most recently seen first */
};

struct ing_ratelimit {
    pthread_mutex_t mu;
    double rate;  /* tokens per second */
    double burst;
    size_t max_clients, n;
    struct bucket **buckets;
    size_t mask;
    struct bucket *mru, *lru;
};

static uint32_t hash_addr(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h ^ (h >> 13);
}

struct ing_ratelimit *ing_ratelimit_new(double rate, double burst, size_t max_clients)
{
    struct ing_ratelimit *rl;
    size_t nb = 256;

    if (!(rate > 0) || !(burst >= 1) || max_clients == 0)
        return NULL;
    rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    while (nb < max_clients && nb < ((size_t)1 << 24))
        nb <<= 1;
    rl->buckets = calloc(nb, sizeof(*rl->buckets));
    if (!rl->buckets) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    rl->mask = nb - 1;
    rl->rate = rate;
    rl->burst = burst;
    rl->max_clients = max_clients;
    return rl;
}

void ing_ratelimit_free(struct ing_ratelimit *rl)
{
    struct bucket *b, *next;

    if (!rl)
        return;
    for (b = rl->mru; b; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&rl->mu);
    free(rl->buckets);
    free(rl);
}

static void lru_unlink(struct ing_ratelimit *rl, struct bucket *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        rl->mru = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        rl->lru = b->prev;
    b->prev = b->next = NULL;
}

static void lru_push(struct ing_ratelimit *rl, struct bucket *b)
{
    b->prev = NULL;
    b->next = rl->mru;
    if (rl->mru)
        rl->mru->prev = b;
    else
        rl->lru = b;
    rl->mru = b;
}

static void unhash(struct ing_ratelimit *rl, struct bucket *b)
{
    struct bucket **pp = &rl->buckets[b->hash & rl->mask];

    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
}

static struct bucket *find_or_add(struct ing_ratelimit *rl, const char *addr, long long now_ms)
{
    uint32_t h = hash_addr(addr);
    struct bucket *b;

    for (b = rl->buckets[h & rl->mask]; b; b = b->hnext)
        if (b->hash == h && strcmp(b->addr, addr) == 0)
            return b;
    if (rl->n >= rl->max_clients) {
        /* Reuse the least recently seen client's bucket. */
        b = rl->lru;
        lru_unlink(rl, b);
        unhash(rl, b);
        rl->n--;
    } else {
        b = malloc(sizeof(*b));
        if (!b)
            return NULL;
    }
    memset(b, 0, sizeof(*b));
    memcpy(b->addr, addr, strnlen(addr, ADDR_MAX - 1));
    b->hash = h;
    b->tokens = rl->burst;
    b->last_ms = now_ms;
    b->hnext = rl->buckets[h & rl->mask];
    rl->buckets[h & rl->mask] = b;
    lru_push(rl, b);
    rl->n++;
    return b;
}

void ing_ratelimit_take(struct ing_ratelimit *rl, const char *client, long long now_ms,
                        struct ing_rl_result *out)
{
    char addr[ADDR_MAX] = {0};
    struct bucket *b;
    double per_ms = rl->rate / 1000.0;

    memcpy(addr, client, strnlen(client, ADDR_MAX - 1));
    out->limit = (long long)rl->burst;
    pthread_mutex_lock(&rl->mu);
    b = find_or_add(rl, addr, now_ms);
    if (!b) {
        /* Out of memory: let the request through rather than refuse everyone. */
        pthread_mutex_unlock(&rl->mu);
        out->allowed = true;
        out->remaining = 0;
        out->retry_after_ms = 0;
        out->reset_ms = 0;
        return;
    }
    if (now_ms > b->last_ms) {
        b->tokens = fmin(rl->burst, b->tokens + (double)(now_ms - b->last_ms) * per_ms);
        b->last_ms = now_ms;
    }
    if (b != rl->mru) {
        lru_unlink(rl, b);
        lru_push(rl, b);
    }
    out->allowed = b->tokens >= 1.0;
    if (out->allowed)
        b->tokens -= 1.0;
    out->remaining = (long long)floor(b->tokens);
    out->retry_after_ms = out->allowed ? 0 : (long long)ceil((1.0 - b->tokens) / per_ms);
    out->reset_ms = (long long)ceil((rl->burst - b->tokens) / per_ms);
    pthread_mutex_unlock(&rl->mu);
}

size_t ing_ratelimit_clients(struct ing_ratelimit *rl)
{
    size_t n;

    pthread_mutex_lock(&rl->mu);
    n = rl->n;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
