/* GET /ws: the RFC 6455 opening handshake and the upgrade that hands the
 * socket to the fan-out loop. The handshake checks are pure (unit-tested). */
#ifndef DISPATCHAI_GW_WS_H
#define DISPATCHAI_GW_WS_H

#include <stddef.h>

struct gw_app;
struct dai_http_request;

/* Validate upgrade request headers. 0, or the HTTP status to answer (400,
 * 426) with a message. key must be 24 base64 characters decoding to 16 bytes. */
int gw_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, char *err, size_t errlen);
/* Sec-WebSocket-Accept for key (out holds 29 bytes). */
void gw_ws_accept(const char *key, char out[29]);

/* GET /ws: validate and upgrade (from on_request, authorised already).
 * May leave a pending start in the request state (dai_http_state): free it with gw_ws_pending_free
 * in on_complete. */
void gw_ws_handle(struct gw_app *app, struct dai_http_request *req, const char *who);
void gw_ws_pending_free(void *state);

#endif
