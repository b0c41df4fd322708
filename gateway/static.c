/* Serving the embedded dashboard files: URL → asset lookup by exact name,
 * content types, ETag revalidation (304), gzip negotiation and the response
 * headers browsers need (CSP, nosniff). The bytes themselves come from the
 * table scripts/gen-web-assets generates; routing "/" and "/web/..." here is
 * the router's job. */
#include "static.h"

#include <dispatchai/http.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PATH_LEN 255

/* The dashboard loads only its own files and talks only to its own origin
 * (REST and the WebSocket: CSP 3 lets 'self' cover ws:/wss: on the same
 * host and port). No inline script or style, so an injected title can never
 * run code even if escaping were missed somewhere. */
#define CSP                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

bool gw_static_owns(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    return path[1] == '\0' || strcmp(path, "/web") == 0 ||
           strncmp(path, GW_STATIC_PREFIX, strlen(GW_STATIC_PREFIX)) == 0;
}

const char *gw_static_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"ico", "image/x-icon"},
        {"json", "application/json"},
        {"webmanifest", "application/manifest+json"},
        {"txt", "text/plain; charset=utf-8"},
    };
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *dot = path ? strrchr(slash ? slash : path, '.') : NULL;

    if (dot && dot[1]) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}

/* Only plain names can match: letters, digits, '-', '_', '.', '/' — and no
 * segment may be empty or start with a dot ("..", ".", dotfiles). The table
 * lookup is exact anyway; this keeps odd input away from it and documents
 * that no spelling of a parent directory can ever get through. */
static bool plain_path(const char *path)
{
    size_t n = 0;

    if (path[0] != '/')
        return false;
    for (const char *p = path; *p; p++, n++) {
        unsigned char c = (unsigned char)*p;

        if (n >= MAX_PATH_LEN)
            return false;
        if (c == '/') {
            if (p[1] == '/' || p[1] == '.' || p[1] == '\0')
                return p[1] == '\0' && p == path; /* only "/" itself may end in '/' */
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

const struct gw_asset *gw_static_find(const char *path, const struct gw_asset *table, size_t n)
{
    if (!path || !plain_path(path))
        return NULL;
    if (strcmp(path, "/") == 0)
        path = GW_STATIC_INDEX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].path, path) == 0)
            return &table[i];
    return NULL;
}

/* Skip optional whitespace (RFC 9110 OWS). */
static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Does the If-None-Match list name etag? Weak comparison (RFC 9110 13.1.2):
 * a "W/" prefix is ignored. "*" matches any current representation. */
static bool etag_listed(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;

    while (*(p = ows(p))) {
        const char *start, *end;

        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        start = p;
        if (*p == '"') {
            end = strchr(p + 1, '"');
            if (!end)
                return false; /* malformed: never a match */
            end++;
        } else {
            end = p + strcspn(p, ", \t");
        }
        p = ows(end);
        /* A member is the tag alone: "abc"x is malformed and matches nothing. */
        if ((*p == ',' || *p == '\0') && (size_t)(end - start) == elen &&
            memcmp(start, etag, elen) == 0)
            return true;
        p += strcspn(p, ","); /* skip junk up to the next member */
    }
    return false;
}

/* Parse a qvalue after ";q=" (0, 0.x, 1, 1.000); anything odd counts as 1,
 * the default, since refusing gzip because of a typo would help nobody. */
static bool q_zero(const char *p, const char *end)
{
    while (p < end && *p != ';')
        p++;
    while (p < end) {
        p = ows(p + 1); /* past ';' */
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p < end && *p == '0') {
                for (p++; p < end && (*p == '.' || *p == '0'); p++)
                    ;
                p = ows(p);
                return p >= end || *p == ';';
            }
            return false;
        }
        while (p < end && *p != ';')
            p++;
    }
    return false;
}

/* Does Accept-Encoding accept gzip? An explicit "gzip" member decides;
 * otherwise "*" with a non-zero q does. */
static bool accepts_gzip(const char *ae)
{
    int star = -1;

    if (!ae)
        return false;
    for (const char *p = ae; *p;) {
        const char *end = p + strcspn(p, ",");
        const char *tok = ows(p);
        size_t tlen = strcspn(tok, ";, \t");

        if (tok + tlen > end)
            tlen = (size_t)(end - tok);
        if ((tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            return !q_zero(tok + tlen, end);
        if (tlen == 1 && *tok == '*')
            star = !q_zero(tok + 1, end);
        p = *end ? end + 1 : end;
    }
    return star == 1;
}

void gw_static_decide(const char *method, const char *path, const char *if_none_match,
                      const char *accept_encoding, const struct gw_asset *table, size_t n,
                      struct gw_static_reply *out)
{
    memset(out, 0, sizeof(*out));
    if (!method || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        out->status = 405;
        return;
    }
    out->asset = gw_static_find(path, table, n);
    if (!out->asset) {
        out->status = 404;
        return;
    }
    out->gzip = out->asset->gz && out->asset->gz_etag && accepts_gzip(accept_encoding);
    out->etag = out->gzip ? out->asset->gz_etag : out->asset->etag;
    out->status = if_none_match && etag_listed(if_none_match, out->etag) ? 304 : 200;
}

int gw_static_serve(struct dai_http_request *req, const char *path)
{
    static const struct dai_http_header allow[] = {{"Allow", "GET, HEAD"}};
    struct gw_static_reply r;
    struct dai_http_header h[7];
    size_t nh = 0;

    dai_http_set_route(req, "web");
    gw_static_decide(dai_http_method(req), path, dai_http_header(req, "If-None-Match"),
                     dai_http_header(req, "Accept-Encoding"), gw_web_assets, gw_web_assets_n,
                     &r);
    if (r.status == 405)
        return dai_http_respond_error(req, 405, "method_not_allowed",
                                      "only GET and HEAD are allowed here", allow, 1);
    if (r.status == 404)
        return dai_http_respond_error(req, 404, "not_found", "no such file", NULL, 0);

    h[nh++] = (struct dai_http_header){"ETag", r.etag};
    /* Revalidate every time: file names carry no version, and a 304 costs
     * one round trip with no body. */
    h[nh++] = (struct dai_http_header){"Cache-Control", "no-cache"};
    h[nh++] = (struct dai_http_header){"X-Content-Type-Options", "nosniff"};
    h[nh++] = (struct dai_http_header){"Referrer-Policy", "no-referrer"};
    h[nh++] = (struct dai_http_header){"Content-Security-Policy", CSP};
    if (r.asset->gz)
        h[nh++] = (struct dai_http_header){"Vary", "Accept-Encoding"};
    if (r.status == 304)
        return dai_http_respond(req, 304, NULL, NULL, 0, h, nh);
    if (r.gzip)
        h[nh++] = (struct dai_http_header){"Content-Encoding", "gzip"};
    return dai_http_respond(req, 200, gw_static_content_type(r.asset->path),
                            r.gzip ? r.asset->gz : r.asset->data,
                            r.gzip ? r.asset->gz_len : r.asset->len, h, nh);
}
