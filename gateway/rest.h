/* The gateway's HTTP routes: routing, access control, readiness, the REST
 * handlers; /ws is passed on to ws.c and static files to static.c. */
#ifndef DISPATCHAI_GW_REST_H
#define DISPATCHAI_GW_REST_H

struct dai_http_handlers;

/* The dai_http handlers of the gateway; ud is the struct gw_app (app.h). */
void gw_rest_handlers(struct dai_http_handlers *h);

#endif
