/* Origin policy: which browser origins may call the REST API (CORS response
 * headers, preflights) and open a WebSocket. Used by rest.c and ws.c alike;
 * decides only, never answers. Read-only configuration, so any thread. */
#ifndef DISPATCHAI_GW_CORS_H
#define DISPATCHAI_GW_CORS_H

#include <stdbool.h>
#include <stddef.h>

struct gw_config;
struct dai_http_request;
struct dai_http_header;

/* True if origin is in gateway.cors_origins (or that list holds "*"). */
bool gw_origin_allowed(const struct gw_config *cfg, const char *origin);
/* CORS response headers for req into hdrs (at most 3); returns the count.
 * The header values are borrowed from req. */
size_t gw_cors_headers(const struct gw_config *cfg, struct dai_http_request *req,
                       struct dai_http_header *hdrs);
/* May a browser page from origin (its Origin header) open /ws? Yes for
 * gateway.cors_origins, gateway.public_urls, and http://127.0.0.1, localhost
 * or [::1] (or the http.bind address) at http.port; no for anything else —
 * the Host header is never trusted (DNS rebinding chooses it). */
bool gw_ws_origin_allowed(const struct gw_config *cfg, const char *origin);

#endif
