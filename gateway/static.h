/* The dashboard's static files (gateway/web/), embedded into the gateway at
 * build time by scripts/gen-web-assets (gateway/web/module.mk) and served at
 * GET / and GET /web/<name>. Serving never touches the file system, so no
 * request path can reach a file outside the embedded set.
 *
 * Threads: everything here is read-only after start; any thread may call. */
#ifndef DISPATCHAI_GW_STATIC_H
#define DISPATCHAI_GW_STATIC_H

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>

struct dai_http_request;

/* One embedded file, as generated (every pointer is static data). */
struct gw_asset {
    const char *path;          /* URL path: "/web/app.js" */
    const unsigned char *data; /* the file's bytes */
    size_t len;
    const unsigned char *gz;   /* gzip of data, or NULL when gzip does not pay */
    size_t gz_len;
    const char *etag;          /* strong validator of data: "\"<hex>\"" */
    const char *gz_etag;       /* validator of the gzip variant, or NULL */
};

/* The generated table (build/gen/gateway/web_assets.c). */
extern const struct gw_asset gw_web_assets[];
extern const size_t gw_web_assets_n;

#define GW_STATIC_PREFIX "/web/"
#define GW_STATIC_INDEX "/web/index.html"

/* True for the URL paths this module answers: "/" and "/web/..." (the
 * router sends those here and everything else elsewhere). */
bool gw_static_owns(const char *path);

/* Content-Type for a file name by its extension; unknown extensions get
 * "application/octet-stream" (and nosniff keeps browsers from guessing). */
const char *gw_static_content_type(const char *path);

/* The asset for a URL path, or NULL. "/" is the index. Only exact names of
 * embedded files match: "..", "//", "\\", "%" (MHD has already decoded the
 * path), control bytes and anything longer than 255 bytes never do. */
const struct gw_asset *gw_static_find(const char *path, const struct gw_asset *table, size_t n);

/* What to answer, decided without I/O (unit-tested on its own). */
struct gw_static_reply {
    unsigned status;              /* 200, 304, 404 or 405 */
    const struct gw_asset *asset; /* for 200 and 304 */
    bool gzip;                    /* send the gzip variant (Content-Encoding: gzip) */
    const char *etag;             /* the chosen variant's validator */
};

/* method: "GET", "HEAD", ...; if_none_match and accept_encoding may be NULL. */
void gw_static_decide(const char *method, const char *path, const char *if_none_match,
                      const char *accept_encoding, const struct gw_asset *table, size_t n,
                      struct gw_static_reply *out);

/* Answer req for path from the embedded table: 200 (GET; HEAD without body),
 * 304 when If-None-Match matches, 404 as a JSON error for anything not
 * embedded, 405 with Allow for other methods. Sets the route to "web".
 * Call from on_headers or on_request. Returns dai_http_respond's result. */
DAI_MUST_CHECK int gw_static_serve(struct dai_http_request *req, const char *path);

#endif
