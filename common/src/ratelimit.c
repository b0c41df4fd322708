/* Keyed token buckets (see ratelimit.h): buckets indexed by a seeded
 * dai_map and ordered most recently seen first, behind one mutex. A bucket
 * is allocated the first time its key is seen, up to max_keys; from then on
 * the least recently seen one is reused, so a full table allocates nothing.
 * Turning a refusal into 429 and headers is each daemon's job. */
#include <dispatchai/map.h>
#include <dispatchai/ratelimit.h>

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    unsigned char key[DAI_RL_KEY_MAX];
    size_t len;
    double tokens;
    long long last_ms;
    struct bucket *prev, *next; /* most recently seen first */
};

struct dai_ratelimit {
    pthread_mutex_t mu;
    double rate; /* tokens per second */
    double burst;
    size_t max_keys, n;
    struct dai_map map; /* key -> struct bucket * */
    struct bucket *mru, *lru;
};

struct dai_ratelimit *dai_ratelimit_new(double rate, double burst, size_t max_keys)
{
    struct dai_ratelimit *rl;

    if (!(rate > 0) || !(burst >= 1) || max_keys == 0)
        return NULL;
    rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    dai_map_init(&rl->map);
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst;
    rl->max_keys = max_keys;
    return rl;
}

void dai_ratelimit_free(struct dai_ratelimit *rl)
{
    if (!rl)
        return;
    for (struct bucket *b = rl->mru, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&rl->mu);
    dai_map_free(&rl->map);
    free(rl);
}

static void lru_unlink(struct dai_ratelimit *rl, struct bucket *b)
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

static void lru_push(struct dai_ratelimit *rl, struct bucket *b)
{
    b->prev = NULL;
    b->next = rl->mru;
    if (rl->mru)
        rl->mru->prev = b;
    else
        rl->lru = b;
    rl->mru = b;
}

/* NULL only when out of memory. */
static struct bucket *find_or_add(struct dai_ratelimit *rl, const unsigned char *key, size_t len,
                                  long long now_ms)
{
    struct bucket *b = dai_map_get_ptr(&rl->map, key, len);

    if (b)
        return b;
    if (rl->n >= rl->max_keys) {
        /* Reuse the least recently seen key's bucket. */
        b = rl->lru;
        lru_unlink(rl, b);
        (void)dai_map_del(&rl->map, b->key, b->len);
        rl->n--;
    } else {
        b = malloc(sizeof(*b));
        if (!b)
            return NULL;
    }
    memset(b, 0, sizeof(*b));
    memcpy(b->key, key, len);
    b->len = len;
    b->tokens = rl->burst;
    b->last_ms = now_ms;
    if (dai_map_put_ptr(&rl->map, b->key, len, b)) {
        free(b);
        return NULL;
    }
    lru_push(rl, b);
    rl->n++;
    return b;
}

void dai_ratelimit_take(struct dai_ratelimit *rl, const void *key, size_t len, long long now_ms,
                        struct dai_rl_result *out)
{
    double per_ms = rl->rate / 1000.0;
    struct bucket *b;

    if (len > DAI_RL_KEY_MAX)
        len = DAI_RL_KEY_MAX;
    out->limit = (long long)rl->burst;
    pthread_mutex_lock(&rl->mu);
    b = find_or_add(rl, key, len, now_ms);
    if (!b) {
        pthread_mutex_unlock(&rl->mu);
        out->allowed = true; /* never turn an internal failure into refusals */
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

void dai_ratelimit_peek(struct dai_ratelimit *rl, const void *key, size_t len, long long now_ms,
                        struct dai_rl_result *out)
{
    double per_ms = rl->rate / 1000.0, tokens = rl->burst;
    struct bucket *b;

    if (len > DAI_RL_KEY_MAX)
        len = DAI_RL_KEY_MAX;
    out->limit = (long long)rl->burst;
    pthread_mutex_lock(&rl->mu);
    b = dai_map_get_ptr(&rl->map, key, len);
    if (b) {
        tokens = b->tokens;
        if (now_ms > b->last_ms)
            tokens = fmin(rl->burst, tokens + (double)(now_ms - b->last_ms) * per_ms);
    }
    pthread_mutex_unlock(&rl->mu);
    out->allowed = tokens >= 1.0;
    out->remaining = (long long)floor(tokens);
    out->retry_after_ms = out->allowed ? 0 : (long long)ceil((1.0 - tokens) / per_ms);
    out->reset_ms = (long long)ceil((rl->burst - tokens) / per_ms);
}

size_t dai_ratelimit_keys(struct dai_ratelimit *rl)
{
    size_t n;

    pthread_mutex_lock(&rl->mu);
    n = rl->n;
    pthread_mutex_unlock(&rl->mu);
    return n;
}

/* A tag byte keeps the three kinds of key apart: 4 bytes of IPv4 can never
 * equal the text of some other address. */
enum { KEY_V4 = 4, KEY_V6_64 = 6, KEY_TEXT = 't' };

size_t dai_ratelimit_client_key(const char *addr, unsigned char key[DAI_RL_KEY_MAX])
{
    static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    unsigned char a[16];
    size_t n;

    if (inet_pton(AF_INET, addr, a) == 1) {
        key[0] = KEY_V4;
        memcpy(key + 1, a, 4);
        return 5;
    }
    if (inet_pton(AF_INET6, addr, a) == 1) {
        if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
            key[0] = KEY_V4;
            memcpy(key + 1, a + 12, 4);
            return 5;
        }
        key[0] = KEY_V6_64;
        memcpy(key + 1, a, 8);
        return 9;
    }
    n = strnlen(addr, DAI_RL_KEY_MAX - 1);
    key[0] = KEY_TEXT;
    memcpy(key + 1, addr, n);
    return n + 1;
}
