/* Origin policy for browsers: the CORS allow-list of the REST API and the
 * origins that may open /ws (listed or public URLs, loopback at our port —
 * by default nothing else, so no other web page can read the live feed).
 * Decides only; rest.c and ws.c write the answers. */
#include "cors.h"

#include "options.h"
#include "text.h"

#include <dispatchai/http.h>

#include <stdio.h>
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

/* The origin ("scheme://host[:port]", lower case, the scheme's default
 * port dropped, as browsers send it) of an http(s) URL into out; false if url
 * is not one or does not fit. */
static bool url_origin(const char *url, char *out, size_t cap)
{
    size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    const char *host = url + skip, *end;
    size_t n;

    if (!skip)
        return false;
    end = host + strcspn(host, "/?#");
    n = (size_t)(end - url);
    if (end == host || n >= cap)
        return false;
    gw_lower(url, n, out);
    out[n] = '\0';
    if ((skip == 7 && n > 3 && !strcmp(out + n - 3, ":80")) ||
        (skip == 8 && n > 4 && !strcmp(out + n - 4, ":443")))
        out[n - (skip == 7 ? 3 : 4)] = '\0';
    return true;
}

static bool is_wildcard(const char *bind)
{
    return !bind || !*bind || !strcmp(bind, "0.0.0.0") || !strcmp(bind, "::") ||
           !strcmp(bind, "[::]");
}

bool gw_ws_origin_allowed(const struct gw_config *cfg, const char *origin)
{
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
    const char *bind = cfg->common.http_bind;
    char want[300], got[300];

    if (!url_origin(origin, got, sizeof(got)))
        return false; /* "null" (sandboxed pages, file:), other schemes */
    for (size_t i = 0; i < cfg->cors_origins.n; i++) {
        if (!strcmp(cfg->cors_origins.v[i], "*"))
            return true;
        if (url_origin(cfg->cors_origins.v[i], want, sizeof(want)) && !strcmp(want, got))
            return true;
    }
    for (size_t i = 0; i < cfg->public_urls.n; i++)
        if (url_origin(cfg->public_urls.v[i], want, sizeof(want)) && !strcmp(want, got))
            return true;
    /* The dashboard opened on this machine at our own port. Never the Host
     * header: with DNS rebinding an attacker's name points at us and the
     * page's Origin matches whatever Host it sends. Loopback names cannot be
     * rebound, and a specific bind address is ours. */
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        snprintf(want, sizeof(want), "http://%s:%d", loopback[i], cfg->common.http_port);
        if (!strcmp(want, got))
            return true;
    }
    if (!is_wildcard(bind)) {
        snprintf(want, sizeof(want), strchr(bind, ':') ? "http://[%s]:%d" : "http://%s:%d", bind,
                 cfg->common.http_port);
        gw_lower(want, strlen(want), want);
        if (!strcmp(want, got))
            return true;
    }
    return false;
}
