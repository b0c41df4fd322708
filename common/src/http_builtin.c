/* The built-in routes every daemon serves: GET /health, /ready (asks the
 * daemon's ready callback) and /metrics (the Prometheus text). */
#include "http_internal.h"

#include <errno.h>
#include <string.h>

#define METRICS_TEXT_MAX (16 * 1024 * 1024)
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static bool is_get(const char *method)
{
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static int builtin_ready(struct dai_http_server *srv, struct dai_http_request *req)
{
    char why[256] = "";
    json_t *body;
    bool ok = true;
    int rc;

    if (srv->opt.ready)
        ok = srv->opt.ready(srv->opt.ready_ud, why, sizeof(why));
    if (ok)
        body = json_pack("{s:s}", "status", "ready");
    else
        body = json_pack("{s:s,s:s}", "status", "not_ready", "reason",
                         why[0] ? why : "not ready");
    if (!body)
        return -ENOMEM;
    rc = dai_http_respond_json(req, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, NULL,
                               0);
    json_decref(body);
    return rc;
}

static int builtin_metrics(struct dai_http_server *srv, struct dai_http_request *req)
{
    struct dai_buf b = {.max = METRICS_TEXT_MAX};
    int rc = 0;

    if (srv->opt.metrics)
        rc = dai_metrics_render(srv->opt.metrics, &b);
    if (rc)
        rc = dai_http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                    dai_strerror(rc), NULL, 0);
    else
        rc = dai_http_respond(req, MHD_HTTP_OK, METRICS_CONTENT_TYPE, b.data ? b.data : "",
                              b.len, NULL, 0);
    dai_buf_free(&b);
    return rc;
}

/* GET /health, /ready, /metrics. Returns false when the path is not built
 * in; else true with the result of queueing the answer in *rc. */
bool dai__http_builtin(struct dai_http_server *srv, struct dai_http_request *req, int *rc)
{
    static const struct dai_http_header allow[] = {{"Allow", "GET, HEAD"}};
    static const char body_ok[] = "{\"status\":\"ok\"}";

    if (!strcmp(req->url, "/health"))
        req->route = "health";
    else if (!strcmp(req->url, "/ready"))
        req->route = "ready";
    else if (!strcmp(req->url, "/metrics"))
        req->route = "metrics";
    else
        return false;
    if (!is_get(req->method))
        *rc = dai_http_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                     "only GET and HEAD are allowed here", allow, 1);
    else if (!strcmp(req->route, "health"))
        *rc = dai_http_respond(req, MHD_HTTP_OK, JSON_CONTENT_TYPE, body_ok, sizeof(body_ok) - 1,
                               NULL, 0);
    else if (!strcmp(req->route, "ready"))
        *rc = builtin_ready(srv, req);
    else
        *rc = builtin_metrics(srv, req);
    return true;
}
