/* Token buckets, one per key: burst tokens, refilled at rate per second.
 * The one rate limiter of the project -- the ingress's per-client webhook
 * limit and the gateway's per-token correction limit both use it.
 *
 * Keys are byte strings (a client key from dai_ratelimit_client_key, a token
 * name, ...) of at most DAI_RL_KEY_MAX bytes, longer ones are cut. The table
 * holds at most max_keys buckets (allocated as keys first appear; a full
 * table allocates nothing); beyond that the least recently seen key is
 * forgotten and starts again with a full bucket. Keys are hashed with the
 * process's random seed (map.h), so senders cannot aim at one slot.
 * Pure logic with an injected clock; thread-safe (one mutex). */
#ifndef DISPATCHAI_RATELIMIT_H
#define DISPATCHAI_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#define DAI_RL_KEY_MAX 64

struct dai_rl_result {
    bool allowed;
    long long limit;          /* the bucket size (X-RateLimit-Limit) */
    long long remaining;      /* whole tokens left after this request */
    long long retry_after_ms; /* when refused: until one token is back */
    long long reset_ms;       /* until the bucket is full again */
};

struct dai_ratelimit;

/* NULL on OOM or bad arguments (rate > 0, burst >= 1, max_keys >= 1). */
struct dai_ratelimit *dai_ratelimit_new(double rate, double burst, size_t max_keys);
void dai_ratelimit_free(struct dai_ratelimit *rl);

/* Take one token from key's bucket at monotonic time now_ms. */
void dai_ratelimit_take(struct dai_ratelimit *rl, const void *key, size_t len, long long now_ms,
                        struct dai_rl_result *out);
/* Would a take be allowed now? Fills out as take would, but takes nothing
 * and adds no bucket (for limits on failures: check before the attempt, take
 * only when it failed). */
void dai_ratelimit_peek(struct dai_ratelimit *rl, const void *key, size_t len, long long now_ms,
                        struct dai_rl_result *out);
size_t dai_ratelimit_keys(struct dai_ratelimit *rl);

/* The bucket key for a client address as text (dai_http_client_addr): an
 * IPv4 address by itself, an IPv6 address by its /64 -- one subscriber's
 * network, where a host picks new addresses at will -- and an IPv4-mapped
 * IPv6 address as the IPv4 address. Any other text is its own key (cut at
 * DAI_RL_KEY_MAX - 1 bytes). Returns the key length. */
size_t dai_ratelimit_client_key(const char *addr, unsigned char key[DAI_RL_KEY_MAX]);

#endif
