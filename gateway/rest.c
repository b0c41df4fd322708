/* The gateway's HTTP routes on common/src/http.c: routing, methods (405),
 * access control (401/403), readiness (503), CORS, and the REST handlers —
 * list/detail/stats/repos read the store, corrections are validated,
 * rate-limited (429) and published, answering once the broker acknowledged
 * them. /ws is handed to ws.c after the same checks. */
#include "rest.h"

#include "app.h"
#include "auth.h"
#include "consume.h"
#include "correction.h"
#include "cors.h"
#include "metrics.h"
#include "options.h"
#include "publish.h"
#include "query.h"
#include "static.h"
#include "store.h"
#include "text.h"
#include "ws.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/ratelimit.h>
#include <dispatchai/http.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_TYPE "application/json"

enum route { R_NONE = 0, R_ISSUES, R_ISSUE, R_CORRECTION, R_STATS, R_REPOS, R_WS };

struct path {
    enum route r;
    char repo[GW_MAX_VALUE_LEN + 2];
    long long number;
    bool bad_number;
};

static const struct {
    enum route r;
    const char *label;   /* metrics route label */
    const char *allow;   /* Allow header */
    unsigned need;       /* scope */
} routes[] = {
    {R_NONE, "other", "", 0},
    {R_ISSUES, "issues", "GET, HEAD, OPTIONS", GW_SCOPE_READ},
    {R_ISSUE, "issue", "GET, HEAD, OPTIONS", GW_SCOPE_READ},
    {R_CORRECTION, "correction", "POST, OPTIONS", GW_SCOPE_WRITE},
    {R_STATS, "stats", "GET, HEAD, OPTIONS", GW_SCOPE_READ},
    {R_REPOS, "repos", "GET, HEAD, OPTIONS", GW_SCOPE_READ},
    {R_WS, "ws", "GET", GW_SCOPE_READ},
};

/* A path segment of an owner or repository name (GitHub allows letters,
 * digits, '-', '_' and '.'). */
static bool name_segment(const char *s, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && !memcmp(s, "..", 2)))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void parse_path(const char *url, struct path *p)
{
    const char *seg[5];
    size_t len[5], n = 0;
    const char *s;
    uint64_t num;

    memset(p, 0, sizeof(*p));
    if (!strcmp(url, "/api/issues") || !strcmp(url, "/api/issues/"))
        p->r = R_ISSUES;
    else if (!strcmp(url, "/api/stats"))
        p->r = R_STATS;
    else if (!strcmp(url, "/api/repos"))
        p->r = R_REPOS;
    else if (!strcmp(url, "/ws"))
        p->r = R_WS;
    if (p->r || strncmp(url, "/api/issues/", 12) != 0)
        return;
    /* /api/issues/{owner}/{repo}/{number}[/correction] */
    s = url + 12;
    while (*s && n < 5) {
        const char *e = strchr(s, '/');

        seg[n] = s;
        len[n] = e ? (size_t)(e - s) : strlen(s);
        n++;
        if (!e)
            break;
        s = e + 1;
        if (!*s)
            return; /* trailing slash */
    }
    if (*s && n == 5)
        return;
    if (n == 3)
        p->r = R_ISSUE;
    else if (n == 4 && len[3] == 10 && !memcmp(seg[3], "correction", 10))
        p->r = R_CORRECTION;
    else
        return;
    if (!name_segment(seg[0], len[0]) || !name_segment(seg[1], len[1])) {
        p->r = R_NONE;
        return;
    }
    snprintf(p->repo, sizeof(p->repo), "%.*s/%.*s", (int)len[0], seg[0], (int)len[1], seg[1]);
    if (gw_parse_u64(seg[2], len[2], &num) || num == 0 || num > (1ULL << 53))
        p->bad_number = true;
    else
        p->number = (long long)num;
}

/* ---- responses ------------------------------------------------------------ */

static void respond(struct gw_app *app, struct dai_http_request *req, unsigned status,
                    const char *body, size_t len, const struct dai_http_header *extra,
                    size_t n_extra)
{
    struct dai_http_header h[8];
    size_t n = gw_cors_headers(app->cfg, req, h);

    /* Room is kept for Cache-Control after the extras. */
    for (size_t i = 0; i < n_extra && n + 1 < sizeof(h) / sizeof(h[0]); i++)
        h[n++] = extra[i];
    h[n++] = (struct dai_http_header){"Cache-Control", "no-store"};
    if (dai_http_respond(req, status, JSON_TYPE, body, len, h, n))
        DAI_WARN("response could not be queued route=%s status=%u", dai_http_route(req),
                 status);
}

static void fail(struct gw_app *app, struct dai_http_request *req, unsigned status,
                 const char *code, const char *message, const struct dai_http_header *extra,
                 size_t n_extra)
{
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    if (text)
        respond(app, req, status, text, strlen(text), extra, n_extra);
    else
        respond(app, req, 500, "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}",
                52, NULL, 0);
    free(text);
    json_decref(body);
}

static void respond_buf(struct gw_app *app, struct dai_http_request *req, int rc,
                        struct dai_buf *b)
{
    if (rc == DAI_ENOTFOUND)
        fail(app, req, 404, "not_found", "no such issue or pull request", NULL, 0);
    else if (rc)
        fail(app, req, 500, "internal", dai_strerror(rc), NULL, 0);
    else
        respond(app, req, 200, b->data, b->len, NULL, 0);
    dai_buf_free(b);
}

/* ---- reads ---------------------------------------------------------------- */

struct args {
    struct gw_query *q;
    const char *only;   /* the one argument allowed (stats: repo), or NULL */
    const char **value; /* its value */
    char err[200];
    int rc;
};

static int each_arg(void *ud, const char *key, const char *value)
{
    struct args *a = ud;

    if (a->q) {
        a->rc = gw_query_arg(a->q, key, value, a->err, sizeof(a->err));
    } else if (a->only && !strcmp(key, a->only) && value && *value) {
        *a->value = value;
    } else {
        snprintf(a->err, sizeof(a->err), "unknown or empty query parameter \"%.40s\"", key);
        a->rc = DAI_EINVAL;
    }
    return a->rc;
}

static void get_issues(struct gw_app *app, struct dai_http_request *req)
{
    struct dai_buf b = {0};
    struct gw_query q;
    struct args a = {.q = &q};
    int rc;

    gw_query_init(&q);
    a.rc = dai_http_query_each(req, each_arg, &a);
    if (a.rc) {
        fail(app, req, 400, "bad_request", a.err, NULL, 0);
    } else {
        rc = gw_store_list(app->store, &q, &b);
        respond_buf(app, req, rc, &b);
    }
    gw_query_clear(&q);
    dai_buf_free(&b);
}

static void get_simple(struct gw_app *app, struct dai_http_request *req, enum route r,
                       const struct path *p)
{
    struct dai_buf b = {0};
    const char *repo = NULL;
    struct args a = {.only = r == R_STATS ? "repo" : NULL, .value = &repo};
    int rc;

    a.rc = dai_http_query_each(req, each_arg, &a);
    if (a.rc) {
        fail(app, req, 400, "bad_request", a.err, NULL, 0);
        return;
    }
    if (r == R_STATS) {
        if (repo && strlen(repo) > GW_MAX_VALUE_LEN) {
            fail(app, req, 400, "bad_request", "repo: too long", NULL, 0);
            return;
        }
        rc = gw_store_stats_json(app->store, repo, &b);
    } else if (r == R_REPOS) {
        rc = gw_store_repos_json(app->store, &b);
    } else {
        rc = gw_store_get(app->store, p->repo, p->number, &b);
    }
    respond_buf(app, req, rc, &b);
}

/* ---- corrections ---------------------------------------------------------- */

struct published {
    struct gw_app *app;
    struct dai_http_request *req;
    json_t *answer; /* the 202 body, completed with partition/offset */
    struct dai_http_header cors[3];
    size_t n_cors;
    char origin[256];
};

/* A failed publish: only a transient failure is 503 + Retry-After (a retry
 * can succeed); an event the broker can never take is 413, a refusal for
 * good 500 (dai_kafka_err_rc decides which is which). */
static unsigned failed_status(int rc, const char **code, const char **message)
{
    if (rc == DAI_ETOOBIG) {
        *code = "correction_too_large";
        *message = "the corrected event is larger than the broker accepts";
        return 413;
    }
    if (rc == DAI_EREFUSED) {
        *code = "broker_refused";
        *message = "the broker refuses the correction (check the topic and its permissions)";
        return 500;
    }
    *code = "unavailable";
    *message = "the broker did not accept the correction; retry later";
    return 503;
}

static void on_published(void *ud, int rc, int32_t partition, int64_t offset,
                         const char *errstr)
{
    struct published *pb = ud;
    struct dai_http_header h[5];
    size_t n = 0;
    char *text = NULL;
    unsigned status = 202;

    for (size_t i = 0; i < pb->n_cors; i++)
        h[n++] = pb->cors[i];
    h[n++] = (struct dai_http_header){"Cache-Control", "no-store"};
    if (rc == 0) {
        if (!json_object_set_new(pb->answer, "partition", json_integer(partition)) &&
            !json_object_set_new(pb->answer, "offset", json_integer(offset)))
            text = json_dumps(pb->answer, JSON_COMPACT);
        dai_metric_add(pb->app->metrics->corrections, 1, "accepted");
    } else {
        const char *code, *message;
        json_t *e;

        status = failed_status(rc, &code, &message);
        e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
        DAI_WARN("correction not published: %s", errstr ? errstr : dai_strerror(rc));
        text = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        if (status == 503)
            h[n++] = (struct dai_http_header){"Retry-After", "1"};
        dai_metric_add(pb->app->metrics->corrections, 1, "failed");
    }
    rc = dai_http_resume_with(pb->req, text ? status : 500, JSON_TYPE, text ? text : "",
                              text ? strlen(text) : 0, h, n);
    /* -ECANCELED: the server stopped and answered the request already. */
    if (rc && rc != -ECANCELED)
        DAI_WARN("correction answer could not be delivered rc=%d", rc);
    free(text);
    json_decref(pb->answer);
    free(pb);
}

static void post_correction(struct gw_app *app, struct dai_http_request *req,
                            const struct path *p, const char *who)
{
    const char *ctype = dai_http_header(req, "Content-Type");
    json_t *latest = NULL, *ev = NULL;
    struct published *pb = NULL;
    const struct dai_buf *body;
    struct dai_subject sub;
    char err[300], key[512], retry[24];
    struct dai_rl_result rl;
    char *text = NULL;
    int rc;

    if (ctype && strncasecmp(ctype, "application/json", 16) != 0) {
        fail(app, req, 415, "unsupported_media_type", "send the correction as application/json",
             NULL, 0);
        dai_metric_add(app->metrics->corrections, 1, "invalid");
        return;
    }
    if (app->limiter)
        dai_ratelimit_take(app->limiter, who, strlen(who), dai_mono_us() / 1000, &rl);
    if (app->limiter && !rl.allowed) {
        struct dai_http_header h = {"Retry-After", retry};

        snprintf(retry, sizeof(retry), "%lld", (rl.retry_after_ms + 999) / 1000);
        fail(app, req, 429, "rate_limited", "too many corrections for this token; slow down",
             &h, 1);
        dai_metric_add(app->metrics->corrections, 1, "rate_limited");
        return;
    }
    latest = gw_store_latest(app->store, p->repo, p->number, &rc);
    if (!latest) {
        if (rc == DAI_ENOTFOUND)
            fail(app, req, 404, "not_found", "no such issue or pull request", NULL, 0);
        else
            fail(app, req, 500, "internal", dai_strerror(rc), NULL, 0);
        dai_metric_add(app->metrics->corrections, 1, rc == DAI_ENOTFOUND ? "not_found" : "error");
        return;
    }
    body = dai_http_body(req);
    ev = gw_correction_build(latest, body->data ? body->data : "", body->len, who, dai_now_ms(),
                             err, sizeof(err));
    json_decref(latest);
    if (!ev) {
        fail(app, req, 400, "invalid_correction", err, NULL, 0);
        dai_metric_add(app->metrics->corrections, 1, "invalid");
        return;
    }
    pb = calloc(1, sizeof(*pb));
    text = json_dumps(ev, JSON_COMPACT);
    if (!pb || !text || dai_event_subject(ev, &sub) ||
        dai_event_key(key, sizeof(key), sub.repo, sub.type, sub.number, NULL))
        goto oom;
    pb->app = app;
    pb->req = req;
    pb->answer = json_pack("{s:s,s:s,s:O}", "status", "accepted", "key", key, "classification",
                           json_object_get(ev, "classification"));
    if (!pb->answer)
        goto oom;
    pb->n_cors = gw_cors_headers(app->cfg, req, pb->cors);
    if (pb->n_cors) {
        /* The Origin value lives in MHD's request memory; keep a copy for
         * the answer built on the producer's thread. */
        snprintf(pb->origin, sizeof(pb->origin), "%s", pb->cors[0].value);
        pb->cors[0].value = pb->origin;
    }
    dai_http_suspend(req);
    rc = gw_publisher_send(app->publisher, key, text, strlen(text), on_published, pb);
    if (rc) {
        const char *code, *message;
        unsigned status = failed_status(rc, &code, &message);
        struct dai_http_header h[5];
        char answer[256];
        size_t n = 0;
        int len;

        if (status == 503)
            message = "the producer queue is full or the broker is unreachable";
        len = snprintf(answer, sizeof(answer), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                       code, message);
        for (size_t i = 0; i < pb->n_cors; i++)
            h[n++] = pb->cors[i];
        if (status == 503)
            h[n++] = (struct dai_http_header){"Retry-After", "1"};
        dai_metric_add(app->metrics->corrections, 1, "failed");
        if (dai_http_resume_with(req, status, JSON_TYPE, answer, (size_t)len, h, n))
            DAI_WARN("correction refusal could not be queued");
        json_decref(pb->answer);
        free(pb);
    }
    free(text);
    json_decref(ev);
    return;
oom:
    if (pb)
        json_decref(pb->answer);
    free(pb);
    free(text);
    json_decref(ev);
    fail(app, req, 500, "internal", "out of memory", NULL, 0);
}

/* ---- dispatch ------------------------------------------------------------- */

static void preflight(struct gw_app *app, struct dai_http_request *req, const char *allow)
{
    const char *origin = dai_http_header(req, "Origin");
    struct dai_http_header h[8];
    size_t n;

    if (!origin || !gw_origin_allowed(app->cfg, origin)) {
        fail(app, req, 403, "cors_forbidden", "this Origin is not allowed", NULL, 0);
        return;
    }
    n = gw_cors_headers(app->cfg, req, h);
    h[n++] = (struct dai_http_header){"Access-Control-Allow-Methods", allow};
    h[n++] = (struct dai_http_header){"Access-Control-Allow-Headers",
                                      "Authorization, Content-Type"};
    h[n++] = (struct dai_http_header){"Access-Control-Max-Age", "600"};
    if (dai_http_respond(req, 204, NULL, "", 0, h, n))
        DAI_WARN("preflight answer could not be queued");
}

static bool method_ok(enum route r, const char *m)
{
    if (r == R_CORRECTION)
        return !strcmp(m, "POST");
    if (r == R_WS)
        return !strcmp(m, "GET");
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

static enum dai_http_next on_headers(void *ud, struct dai_http_request *req)
{
    struct gw_app *app = ud;
    struct path p;

    parse_path(dai_http_url(req), &p);
    dai_http_set_route(req, routes[p.r].label);
    /* Only corrections carry a body; anything else gets a token cap so a
     * stray upload is refused with 413 instead of being buffered. */
    dai_http_set_body_max(req, p.r == R_CORRECTION ? app->cfg->max_request_body : 1024);
    return DAI_HTTP_READ_BODY;
}

struct client_key {
    unsigned char key[DAI_RL_KEY_MAX];
    size_t len;
};

/* Before a presented token is checked: has this client address used up its
 * failed attempts? Then 429 with Retry-After (and true), whatever the token,
 * so guessing cannot go on. Fills k for counting a failure afterwards. */
static bool throttled(struct gw_app *app, struct dai_http_request *req, struct client_key *k)
{
    struct dai_rl_result rl;
    char addr[64], retry[24];

    if (!app->auth_failures)
        return false;
    dai_http_client_addr(req, addr);
    k->len = dai_ratelimit_client_key(addr, k->key);
    dai_ratelimit_peek(app->auth_failures, k->key, k->len, dai_mono_us() / 1000, &rl);
    if (rl.allowed)
        return false;
    snprintf(retry, sizeof(retry), "%lld", (rl.retry_after_ms + 999) / 1000);
    {
        struct dai_http_header h = {"Retry-After", retry};

        DAI_DEBUG("authentication throttled client=%s", addr);
        fail(app, req, 429, "too_many_failures",
             "too many failed authentications from this address; wait before trying again", &h,
             1);
    }
    return true;
}

static void on_request(void *ud, struct dai_http_request *req)
{
    struct gw_app *app = ud;
    struct path p;
    const char *token = NULL, *who = "anonymous", *authz;
    size_t tlen = 0;
    char why[160];
    struct client_key rl_key = {{0}, 0};

    if (gw_static_owns(dai_http_url(req))) {
        /* The dashboard's files are public: they hold no data, and the
         * dashboard asks for a token before it calls the API. */
        if (gw_static_serve(req, dai_http_url(req)))
            DAI_WARN("static answer could not be queued");
        return;
    }
    parse_path(dai_http_url(req), &p);
    if (p.r == R_NONE) {
        fail(app, req, 404, "not_found", "no such resource", NULL, 0);
        return;
    }
    if (!strcmp(dai_http_method(req), "OPTIONS") && p.r != R_WS) {
        preflight(app, req, routes[p.r].allow);
        return;
    }
    if (!method_ok(p.r, dai_http_method(req))) {
        struct dai_http_header h = {"Allow", routes[p.r].allow};

        fail(app, req, 405, "method_not_allowed", "method not allowed here", &h, 1);
        return;
    }
    authz = dai_http_header(req, "Authorization");
    if (authz) {
        token = gw_auth_bearer(authz, &tlen);
        if (!token) {
            struct dai_http_header h = {"WWW-Authenticate", "Bearer realm=\"dispatchai\""};

            fail(app, req, 401, "unauthorized", "use Authorization: Bearer <token>", &h, 1);
            return;
        }
    } else if (p.r == R_WS) {
        /* Browsers cannot set headers on a WebSocket handshake: the token
         * rides in a subprotocol (kept out of URLs and so of proxy logs), or
         * in ?token= for older clients. */
        token = gw_ws_protocol_token(dai_http_header(req, "Sec-WebSocket-Protocol"), &tlen);
        if (!token && dai_http_query(req, "token")) {
            token = dai_http_query(req, "token");
            tlen = strlen(token);
        }
    }
    if (token && throttled(app, req, &rl_key))
        return;
    switch (gw_auth_decide(app->cfg->auth, app->cfg->public_read, token, tlen,
                           routes[p.r].need, &who)) {
    case GW_AUTHZ_OK:
        break;
    case GW_AUTHZ_MISSING: {
        struct dai_http_header h = {"WWW-Authenticate", "Bearer realm=\"dispatchai\""};

        fail(app, req, 401, "unauthorized", "a token is required", &h, 1);
        return;
    }
    case GW_AUTHZ_INVALID: {
        struct dai_http_header h = {"WWW-Authenticate",
                                    "Bearer realm=\"dispatchai\", error=\"invalid_token\""};
        struct dai_rl_result rl;

        if (app->auth_failures)
            dai_ratelimit_take(app->auth_failures, rl_key.key, rl_key.len,
                               dai_mono_us() / 1000, &rl);

        fail(app, req, 401, "unauthorized", "unknown token", &h, 1);
        return;
    }
    case GW_AUTHZ_FORBIDDEN:
        fail(app, req, 403, "forbidden",
             routes[p.r].need == GW_SCOPE_WRITE ? "this token lacks the write scope"
                                                : "this token lacks the read scope",
             NULL, 0);
        return;
    }
    if (!gw_follower_ready(app->follower, why, sizeof(why))) {
        struct dai_http_header h = {"Retry-After", "1"};

        fail(app, req, 503, "not_ready", why, &h, 1);
        return;
    }
    if (p.bad_number) {
        fail(app, req, 400, "bad_request", "the issue number must be a positive integer", NULL,
             0);
        return;
    }
    switch (p.r) {
    case R_ISSUES: get_issues(app, req); break;
    case R_ISSUE:
    case R_STATS:
    case R_REPOS: get_simple(app, req, p.r, &p); break;
    case R_CORRECTION: post_correction(app, req, &p, who); break;
    case R_WS: gw_ws_handle(app, req, who); break;
    case R_NONE: break;
    }
}

static void on_complete(void *ud, struct dai_http_request *req)
{
    (void)ud;
    if (dai_http_state(req) && !strcmp(dai_http_route(req), "ws"))
        gw_ws_pending_free(dai_http_state(req));
    dai_http_set_state(req, NULL);
}

void gw_rest_handlers(struct dai_http_handlers *h)
{
    h->on_headers = on_headers;
    h->on_request = on_request;
    h->on_complete = on_complete;
}
