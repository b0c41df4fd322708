/* Corrections per token: one token bucket per name. Thread-safe. */
#ifndef DISPATCHAI_GW_RATELIMIT_H
#define DISPATCHAI_GW_RATELIMIT_H

#include <stdbool.h>

struct gw_ratelimit;
struct gw_ratelimit *gw_ratelimit_new(int per_minute);
void gw_ratelimit_free(struct gw_ratelimit *r);
/* True if name may act now (a token bucket per name, burst = per_minute);
 * otherwise *retry_s receives the seconds to wait. Thread-safe. */
bool gw_ratelimit_take(struct gw_ratelimit *r, const char *name, long long now_ms, int *retry_s);

#endif
