/* The gateway's configuration: the option table and the token table built
 * from it. Read-only after gw_options_load. */
#ifndef DISPATCHAI_GW_OPTIONS_H
#define DISPATCHAI_GW_OPTIONS_H

#include "writeback/writeback.h"

#include <dispatchai/config.h>
#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>

struct gw_auth;

struct gw_config {
    struct dai_common_config common;
    bool public_read;               /* gateway.public_read / GATEWAY_PUBLIC_READ */
    char *api_tokens;               /* gateway.api_tokens / GATEWAY_API_TOKENS (secret) */
    struct dai_strlist cors_origins;/* gateway.cors_origins / GATEWAY_CORS_ORIGINS */
    struct dai_strlist public_urls; /* gateway.public_urls / GATEWAY_PUBLIC_URLS */
    size_t max_request_body;        /* gateway.max_request_body */
    int corrections_per_minute;     /* gateway.corrections_per_minute (0 = no limit) */
    int auth_failures_per_minute;   /* gateway.auth_failures_per_minute (0 = no limit) */
    int correction_timeout_ms;      /* gateway.correction_timeout */
    size_t store_max_body;          /* store.max_body */
    size_t store_max_event;         /* store.max_event */
    int store_history;              /* store.history */
    int store_max_issues;           /* store.max_issues */
    int ws_max_clients;             /* ws.max_clients */
    int ws_queue_messages;          /* ws.queue_messages */
    size_t ws_queue_bytes;          /* ws.queue_bytes */
    size_t ws_max_message;          /* ws.max_message */
    size_t ws_socket_sndbuf;        /* ws.socket_sndbuf (0 = kernel default) */
    int ws_ping_interval_ms;        /* ws.ping_interval */
    int ws_idle_timeout_ms;         /* ws.idle_timeout */
    int ws_close_timeout_ms;        /* ws.close_timeout */
    int ws_batch_delay_ms;          /* ws.batch_delay */
    int ws_resume_entries;          /* ws.resume_entries */
    size_t ws_resume_bytes;         /* ws.resume_bytes */
    struct gw_wb_config writeback;  /* github.* (write-back and the GitHub client) */
    /* Built by gw_options_load from the tokens above or gateway.tokens. */
    struct gw_auth *auth;
};

/* Load config (defaults < config/gateway.conf < env < CLI) and the token
 * table. DAI_CONFIG_RUN, DAI_CONFIG_EXITED (--help/--version printed) or
 * DAI_ECONFIG with a message that never contains a token. */
DAI_MUST_CHECK int gw_options_load(struct gw_config *cfg, int argc, char **argv, char *err,
                                   size_t errlen);
void gw_options_free(struct gw_config *cfg);

#endif
