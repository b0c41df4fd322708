/* The gateway's parts as the HTTP routes see them: main.c fills one struct
 * gw_app and hands it to the routes (rest.c, ws.c) as their user data. Every
 * member is owned by main.c and outlives the HTTP server. */
#ifndef DISPATCHAI_GW_APP_H
#define DISPATCHAI_GW_APP_H

struct gw_config;
struct gw_store;
struct gw_fanout;
struct gw_publisher;
struct gw_follower;
struct gw_metrics;
struct dai_ratelimit;

struct gw_app {
    const struct gw_config *cfg;
    struct gw_store *store;
    struct gw_fanout *fanout;
    struct gw_publisher *publisher;
    struct gw_follower *follower;
    struct gw_metrics *metrics;
    struct dai_ratelimit *limiter; /* corrections per token name; NULL: no limit */
    struct dai_ratelimit *auth_failures; /* wrong tokens per client address; NULL: no limit */
};

#endif
