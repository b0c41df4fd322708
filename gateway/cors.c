/* Origin policy for browsers: the CORS allow-list of the REST API and the
 * origins that may open /ws. Decides only; rest.c and ws.c write the answers. */
#include "cors.h"

#include "options.h"

#include <dispatchai/http.h>

#include <string.h>
#include <strings.h>

bool gw_origin_allowed(const struct gw_config *cfg, const char *origin)
{
    for (size_t i = 0; i < cfg->cors_origins.n; i++)
        if (!strcmp(cfg->cors_origins.v[i], "*") ||
            !strcasecmp(cfg->cors_origins.v[i], origin))
            return true;
    return false;
}

size_t gw_cors_headers(const struct gw_config *cfg, struct dai_http_request *req,
                       struct dai_http_header *h)
{
    const char *origin = dai_http_header(req, "Origin");

    if (!origin || !gw_origin_allowed(cfg, origin))
        return 0;
    h[0] = (struct dai_http_header){"Access-Control-Allow-Origin", origin};
    h[1] = (struct dai_http_header){"Vary", "Origin"};
    h[2] = (struct dai_http_header){"Access-Control-Expose-Headers", "Retry-After"};
    return 3;
}

/* The page that opens the socket was served by this gateway (the
 * dashboard): its Origin is http(s)://<our Host header>. */
static bool same_origin(const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");

    return p && host && (!strncasecmp(origin, "http://", 7) || !strncasecmp(origin, "https://", 8))
           && !strcasecmp(p + 3, host);
}

bool gw_ws_origin_allowed(const struct gw_config *cfg, const char *origin, const char *host)
{
    /* Browsers always send Origin; other clients usually do not. With an
     * allow-list configured, a browser page from elsewhere is refused. */
    if (!cfg->cors_origins.n)
        return true;
    return gw_origin_allowed(cfg, origin) || same_origin(origin, host);
}
