/* The gateway's option table (defaults < config/gateway.conf < env < CLI,
 * loaded by common/src/config.c), the checks that span options, and the API
 * token table from gateway.api_tokens / GATEWAY_API_TOKENS or the file's
 * gateway.tokens list. Every key is documented in config/gateway.conf. */
#include "options.h"

#include "auth.h"

#include <dispatchai/log.h>

#include <stdio.h>
#include <string.h>

#define O(field) offsetof(struct gw_config, field)

static const struct dai_opt gw_opts[] = {
    DAI_COMMON_OPTS(struct gw_config),
    {"http.port", "GATEWAY_PORT", NULL, DAI_OPT_INT, "8002", O(common.http_port), 0, 65535, 0,
     "Port of the REST API, the WebSocket endpoint and /health, /ready, /metrics"},
    {"gateway.public_read", "GATEWAY_PUBLIC_READ", NULL, DAI_OPT_BOOL, "false", O(public_read),
     0, 0, 0, "Allow reads (REST GETs and /ws) without a token; corrections always need write"},
    {"gateway.api_tokens", "GATEWAY_API_TOKENS", NULL, DAI_OPT_STR, "", O(api_tokens), 0, 0,
     DAI_OPT_SECRET,
     "name:token:scope+scope,... (replaces gateway.tokens when set; scopes read, write)"},
    {"gateway.cors_origins", "GATEWAY_CORS_ORIGINS", NULL, DAI_OPT_STRLIST, NULL,
     O(cors_origins), 0, 0, 0, "Origins allowed cross-origin (\"*\" = any; empty = none)"},
    {"gateway.public_urls", "GATEWAY_PUBLIC_URLS", NULL, DAI_OPT_STRLIST, NULL, O(public_urls),
     0, 0, 0,
     "URLs browsers reach this gateway at (https://triage.example.com); pages from there may "
     "open /ws. Loopback on http.port always may"},
    {"gateway.max_request_body", "GATEWAY_MAX_REQUEST_BODY", NULL, DAI_OPT_SIZE, "16KiB",
     O(max_request_body), 256, 1 << 20, 0, "Largest correction request body (413 beyond)"},
    {"gateway.corrections_per_minute", "GATEWAY_CORRECTIONS_PER_MINUTE", NULL, DAI_OPT_INT, "120",
     O(corrections_per_minute), 0, 1000000, 0,
     "Corrections per token per minute, with an equal burst (429 beyond; 0 = no limit)"},
    {"gateway.auth_failures_per_minute", "GATEWAY_AUTH_FAILURES_PER_MINUTE", NULL, DAI_OPT_INT,
     "10", O(auth_failures_per_minute), 0, 1000000, 0,
     "Wrong tokens per client address per minute, with an equal burst (429 beyond; 0 = no "
     "limit)"},
    {"gateway.correction_timeout", "GATEWAY_CORRECTION_TIMEOUT", NULL, DAI_OPT_MS, "10s",
     O(correction_timeout_ms), 100, 300000, 0,
     "How long a correction waits for the broker's acknowledgement (503 beyond)"},
    {"store.max_body", "GATEWAY_STORE_MAX_BODY", NULL, DAI_OPT_SIZE, "4KiB", O(store_max_body),
     0, 1 << 20, 0, "Issue/comment body bytes kept per event (cut at a UTF-8 boundary)"},
    {"store.max_event", "GATEWAY_STORE_MAX_EVENT", NULL, DAI_OPT_SIZE, "64KiB",
     O(store_max_event), 1024, 16 << 20, 0,
     "Largest stored event after the cut; bigger events are skipped and counted"},
    {"store.history", "GATEWAY_STORE_HISTORY", NULL, DAI_OPT_INT, "10", O(store_history), 1, 1000,
     0, "Classification history entries kept per issue"},
    {"store.max_issues", "GATEWAY_STORE_MAX_ISSUES", NULL, DAI_OPT_INT, "1000000",
     O(store_max_issues), 1, 100000000, 0,
     "Issues held; beyond it the least recently updated issue is evicted"},
    {"ws.max_clients", "GATEWAY_WS_MAX_CLIENTS", NULL, DAI_OPT_INT, "10000", O(ws_max_clients), 1,
     1000000, 0, "Concurrent WebSocket clients (503 beyond)"},
    {"ws.queue_messages", "GATEWAY_WS_QUEUE_MESSAGES", NULL, DAI_OPT_INT, "1024",
     O(ws_queue_messages), 1, 1000000, 0,
     "Messages queued for one client before it is closed with 1013"},
    {"ws.queue_bytes", "GATEWAY_WS_QUEUE_BYTES", NULL, DAI_OPT_SIZE, "4MiB", O(ws_queue_bytes),
     1024, 1 << 30, 0, "Bytes queued for one client before it is closed with 1013"},
    {"ws.max_message", "GATEWAY_WS_MAX_MESSAGE", NULL, DAI_OPT_SIZE, "64KiB", O(ws_max_message),
     125, 16 << 20, 0, "Largest message a client may send (1009 beyond)"},
    {"ws.socket_sndbuf", "GATEWAY_WS_SOCKET_SNDBUF", NULL, DAI_OPT_SIZE, "256KiB",
     O(ws_socket_sndbuf), 0, 64 << 20, 0,
     "Kernel send buffer per WebSocket (0 = kernel autotuning, up to MiBs per client)"},
    {"ws.ping_interval", "GATEWAY_WS_PING_INTERVAL", NULL, DAI_OPT_MS, "20s",
     O(ws_ping_interval_ms), 100, 3600000, 0, "Protocol ping to each client this often"},
    {"ws.idle_timeout", "GATEWAY_WS_IDLE_TIMEOUT", NULL, DAI_OPT_MS, "60s", O(ws_idle_timeout_ms),
     200, 86400000, 0, "Close (1001) a client that sent nothing, not even a pong, this long"},
    {"ws.close_timeout", "GATEWAY_WS_CLOSE_TIMEOUT", NULL, DAI_OPT_MS, "3s",
     O(ws_close_timeout_ms), 10, 600000, 0,
     "After our close frame, wait this long for the client's before dropping the socket"},
    {"ws.batch_delay", "GATEWAY_WS_BATCH_DELAY", NULL, DAI_OPT_MS, "5ms", O(ws_batch_delay_ms),
     0, 1000, 0,
     "Hold updates up to this long so several go out in one write per client (0 = at once)"},
    {"ws.resume_entries", "GATEWAY_WS_RESUME_ENTRIES", NULL, DAI_OPT_INT, "10000",
     O(ws_resume_entries), 1, 10000000, 0, "Updates kept for ?since= resumes"},
    {"ws.resume_bytes", "GATEWAY_WS_RESUME_BYTES", NULL, DAI_OPT_SIZE, "64MiB", O(ws_resume_bytes),
     1024, (double)(1ULL << 36), 0, "Bytes of updates kept for resumes"},
    GW_WB_OPTS(struct gw_config, writeback),
};

static const char *const gw_sections[] = {"gateway.tokens"};

static const struct dai_config_spec gw_spec = {
    .program = "gateway",
    .summary = "Live triage state of issues.enriched over REST and WebSocket",
    .opts = gw_opts,
    .n_opts = sizeof(gw_opts) / sizeof(gw_opts[0]),
    .sections = gw_sections,
    .n_sections = 1,
};

/* One element of gateway.tokens: { name = "..."; token = "..."; scopes = [..]; } */
static int token_elem(const struct dai_config_elem *el, size_t index, void *ud, char *err,
                      size_t errlen)
{
    struct gw_auth *auth = ud;
    const char *name = dai_config_elem_str(el, "name");
    const char *token = dai_config_elem_str(el, "token");
    struct dai_strlist scopes = {0};
    unsigned bits = 0;
    char msg[200];
    int rc;

    (void)index;
    if (!name || !token) {
        snprintf(err, errlen, "%s: gateway.tokens: each entry needs name and token strings",
                 dai_config_elem_where(el));
        return DAI_ECONFIG;
    }
    rc = dai_config_elem_strlist(el, "scopes", &scopes);
    if (rc) {
        snprintf(err, errlen, "%s: gateway.tokens: scopes must be a list of strings",
                 dai_config_elem_where(el));
        return DAI_ECONFIG;
    }
    for (size_t i = 0; i < scopes.n; i++) {
        unsigned b = gw_scope_parse(scopes.v[i], strlen(scopes.v[i]));

        if (!b) {
            snprintf(err, errlen, "%s: gateway.tokens: unknown scope \"%.20s\" (read, write)",
                     dai_config_elem_where(el), scopes.v[i]);
            dai_strlist_free(&scopes);
            return DAI_ECONFIG;
        }
        bits |= b;
    }
    dai_strlist_free(&scopes);
    rc = gw_auth_add(auth, name, token, bits, msg, sizeof(msg));
    if (rc) {
        snprintf(err, errlen, "%s: gateway.tokens: %s", dai_config_elem_where(el), msg);
        return DAI_ECONFIG;
    }
    dai_log_add_secret(token);
    return 0;
}

/* Register every token of a name:token:scopes list with the log masker
 * (the whole value is masked already; a token may also appear alone). */
static void mask_list(const char *spec)
{
    const char *p = spec;

    while (*p) {
        const char *end = strchr(p, ',');
        const char *c1, *c2;
        char tok[520];

        if (!end)
            end = p + strlen(p);
        c1 = memchr(p, ':', (size_t)(end - p));
        c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
        if (c2 && (size_t)(c2 - c1 - 1) < sizeof(tok)) {
            memcpy(tok, c1 + 1, (size_t)(c2 - c1 - 1));
            tok[c2 - c1 - 1] = '\0';
            dai_log_add_secret(tok);
        }
        p = *end ? end + 1 : end;
    }
}

int gw_options_load(struct gw_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct dai_config_doc *doc = NULL;
    char msg[256];
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    rc = dai_config_load(&gw_spec, cfg, argc, argv, &doc, err, errlen);
    if (rc != DAI_CONFIG_RUN)
        return rc;
    cfg->auth = gw_auth_new();
    if (!cfg->auth) {
        snprintf(err, errlen, "out of memory");
        rc = DAI_ECONFIG;
        goto fail;
    }
    if (cfg->api_tokens && cfg->api_tokens[0]) {
        mask_list(cfg->api_tokens);
        if (gw_auth_parse_list(cfg->auth, cfg->api_tokens, msg, sizeof(msg))) {
            snprintf(err, errlen, "gateway.api_tokens (GATEWAY_API_TOKENS): %s", msg);
            rc = DAI_ECONFIG;
            goto fail;
        }
    } else {
        rc = dai_config_doc_each(doc, "gateway.tokens", token_elem, cfg->auth, err, errlen);
        if (rc) {
            rc = DAI_ECONFIG;
            goto fail;
        }
    }
    if (cfg->ws_idle_timeout_ms <= cfg->ws_ping_interval_ms) {
        snprintf(err, errlen, "ws.idle_timeout (%d ms) must be longer than ws.ping_interval "
                 "(%d ms), or clients that answer every ping still time out",
                 cfg->ws_idle_timeout_ms, cfg->ws_ping_interval_ms);
        rc = DAI_ECONFIG;
        goto fail;
    }
    rc = gw_wb_config_check(&cfg->writeback, err, errlen);
    if (rc)
        goto fail;
    dai_config_doc_free(doc);
    return DAI_CONFIG_RUN;
fail:
    dai_config_doc_free(doc);
    gw_options_free(cfg);
    return rc;
}

void gw_options_free(struct gw_config *cfg)
{
    gw_auth_free(cfg->auth);
    cfg->auth = NULL;
    dai_config_free(&gw_spec, cfg);
}
