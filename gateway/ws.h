/* GET /ws: the RFC 6455 opening handshake and the upgrade that hands the
 * socket to the fan-out loop. The handshake checks are pure (unit-tested). */
#ifndef DISPATCHAI_GW_WS_H
#define DISPATCHAI_GW_WS_H

#include <stdbool.h>
#include <stddef.h>

struct gw_app;
struct dai_http_request;

/* Validate upgrade request headers. 0, or the HTTP status to answer (400,
 * 426) with a message. key must be 24 base64 characters decoding to 16 bytes. */
int gw_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, char *err, size_t errlen);
/* Sec-WebSocket-Accept for key (out holds 29 bytes). */
void gw_ws_accept(const char *key, char out[29]);

/* The subprotocol a client offers to say it speaks this API, and the prefix
 * of the one that carries its token: "Sec-WebSocket-Protocol: dispatchai.v1,
 * dispatchai.token.<token>". The answer selects GW_WS_PROTOCOL only, so the
 * token never comes back. */
#define GW_WS_PROTOCOL "dispatchai.v1"
#define GW_WS_TOKEN_PROTOCOL "dispatchai.token."

/* The token in a Sec-WebSocket-Protocol header value (a comma-separated
 * list), or NULL; *len receives its length. Borrowed from header. */
const char *gw_ws_protocol_token(const char *header, size_t *len);
/* True if the header value offers GW_WS_PROTOCOL. */
bool gw_ws_protocol_offered(const char *header);

/* GET /ws: validate and upgrade (from on_request, authorised already).
 * May leave a pending start in the request state (dai_http_state): free it with gw_ws_pending_free
 * in on_complete. */
void gw_ws_handle(struct gw_app *app, struct dai_http_request *req, const char *who);
void gw_ws_pending_free(void *state);

#endif
