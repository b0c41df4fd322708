/* HTTP server on libmicrohttpd (0.9.75): the MHD daemon and its options, the
 * per-request life cycle (headers → capped, time-bounded body → handler → response),
 * built-in /health, /ready and /metrics, JSON error responses, suspend/resume
 * for answers produced on other threads, and per-request metrics. Routing,
 * authentication and the access log belong to the daemons. */
#include "http_deadline.h"

#include <dispatchai/clock.h>
#include <dispatchai/http.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1024 * 1024)
/* After an over-cap chunked body was answered with 413, the rest of the
 * upload is read and dropped (so the client sees the answer instead of a
 * reset) up to this much; beyond it the connection is closed. */
#define DISCARD_MAX (1024 * 1024)
#define METRICS_TEXT_MAX (16 * 1024 * 1024)
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_CONTENT_TYPE "application/json"

enum phase {
    PH_HEADERS = 0, /* first call: headers complete, nothing decided */
    PH_BODY,        /* accumulating the body */
    PH_HANDLER,     /* on_request is running */
    PH_SUSPENDED,   /* suspended; waiting for the owner's resume */
    PH_RESPONDED,   /* a response is queued, or deferred to the final call */
    PH_DISCARD      /* 413 written for an over-cap chunked body; dropping the rest */
};

/* The request as http.c sees it; handlers get &hr->r. */
struct http_req {
    struct dai_http_request r;
    struct http_req *snext, *sprev; /* srv->susp list, under susp_mu */
    bool has_body;                  /* Content-Length > 0 or Transfer-Encoding */
    bool owner_holds;   /* suspended and the owner has not called resume_with yet */
    bool orphaned;      /* answered by the server at stop while the owner held it */
    bool mhd_done;      /* MHD completed the request */
    atomic_bool timed_out; /* answered 408 by the request timeout */
    struct http_dl_node dl; /* on srv->dl while the body arrives */
    size_t discarded;
};

struct dai_http_server {
    struct MHD_Daemon *d;
    struct dai_http_options opt;
    int port;
    atomic_uint in_flight;
    struct http_deadlines *dl;  /* NULL without a request timeout */
    struct http_req *susp_head; /* suspended, not yet resumed; under susp_mu */
    bool stopping;              /* under susp_mu */
    struct dai_metric *m_requests, *m_duration, *m_in_flight;
    atomic_bool starting; /* MHD's worker threads may log while start returns */
    char start_err[256];
};

/* Suspend/resume bookkeeping of every server. A process-wide lock, not a
 * per-server one, because an owner may resume a request after its server was
 * stopped and freed (see dai_http_stop); the lock must outlive the server.
 * Lock order: susp_mu before MHD's internal mutexes (MHD_resume_connection is
 * called with it held); it is never taken inside an MHD callback that runs
 * under MHD's cleanup mutex (those are for upgraded connections only). */
static pthread_mutex_t susp_mu = PTHREAD_MUTEX_INITIALIZER;

static struct http_req *req_of(struct dai_http_request *req)
{
    return (struct http_req *)(void *)req;
}

/*---- responses ------------------------------------------------------------*/

static struct MHD_Response *build_response(const char *content_type, const void *body, size_t len,
                                           const struct dai_http_header *hdrs, size_t n_hdrs)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer(len, len ? (void *)body : NULL,
                                           MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return NULL;
    if (content_type && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                content_type) != MHD_YES)
        goto fail;
    for (size_t i = 0; i < n_hdrs; i++)
        if (MHD_add_response_header(resp, hdrs[i].name, hdrs[i].value) != MHD_YES)
            goto fail;
    return resp;
fail:
    MHD_destroy_response(resp);
    return NULL;
}

/* Queue resp (stolen) for req in the current phase. MHD 0.9.75 closes the
 * connection after any response queued in the first access-handler call, so
 * a response decided while only the headers are known is deferred to the
 * final call when no body follows (keep-alive survives), and queued at once
 * when a body follows (MHD then refuses the upload and closes). */
static int queue_now_or_defer(struct http_req *hr, unsigned status, struct MHD_Response *resp)
{
    struct dai_http_request *req = &hr->r;
    int rc = 0;

    if (req->status || req->pending_ ||
        (req->phase_ != PH_HEADERS && req->phase_ != PH_HANDLER)) {
        rc = DAI_EINVAL; /* one response per request, from the MHD thread */
    } else if (req->phase_ == PH_HEADERS && !hr->has_body) {
        req->pending_ = resp;
        req->pending_status_ = status;
        req->status = status;
        req->phase_ = PH_RESPONDED;
        return 0;
    } else if (MHD_queue_response(req->conn, status, resp) != MHD_YES) {
        rc = DAI_EINVAL;
    } else {
        req->status = status;
        if (req->phase_ == PH_HEADERS)
            req->phase_ = PH_RESPONDED;
    }
    MHD_destroy_response(resp);
    return rc;
}

int dai_http_queue_response(struct dai_http_request *req, unsigned status,
                            struct MHD_Response *resp)
{
    if (!req || !resp || req->status || req->pending_ ||
        (req->phase_ != PH_HEADERS && req->phase_ != PH_HANDLER))
        return DAI_EINVAL;
    if (MHD_queue_response(req->conn, status, resp) != MHD_YES)
        return DAI_EINVAL;
    req->status = status;
    if (req->phase_ == PH_HEADERS)
        req->phase_ = PH_RESPONDED;
    return 0;
}

int dai_http_respond(struct dai_http_request *req, unsigned status, const char *content_type,
                     const void *body, size_t len, const struct dai_http_header *hdrs,
                     size_t n_hdrs)
{
    struct MHD_Response *resp;

    if (!req)
        return DAI_EINVAL;
    resp = build_response(content_type, body, len, hdrs, n_hdrs);
    if (!resp)
        return -ENOMEM;
    return queue_now_or_defer(req_of(req), status, resp);
}

int dai_http_respond_json(struct dai_http_request *req, unsigned status, const json_t *body,
                          const struct dai_http_header *hdrs, size_t n_hdrs)
{
    struct dai_buf b = {0};
    int rc = dai_json_dump(body, &b);

    if (!rc)
        rc = dai_http_respond(req, status, JSON_CONTENT_TYPE, b.data, b.len, hdrs,
                              n_hdrs);
    dai_buf_free(&b);
    return rc;
}

static json_t *error_body(const char *code, const char *message)
{
    return json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error", "message",
                     message ? message : "");
}

int dai_http_respond_error(struct dai_http_request *req, unsigned status, const char *code,
                           const char *message, const struct dai_http_header *hdrs, size_t n_hdrs)
{
    json_t *body = error_body(code, message);
    int rc;

    if (!body)
        return -ENOMEM;
    rc = dai_http_respond_json(req, status, body, hdrs, n_hdrs);
    json_decref(body);
    return rc;
}

/* Queue the response stored in pending_ (deferred, early-resumed or resumed).
 * MHD_NO closes the connection when there is nothing sensible to send. */
static enum MHD_Result queue_pending(struct http_req *hr)
{
    struct dai_http_request *req = &hr->r;
    struct MHD_Response *resp;
    unsigned status;
    enum MHD_Result ret;

    pthread_mutex_lock(&susp_mu);
    resp = req->pending_;
    status = req->pending_status_;
    req->pending_ = NULL;
    pthread_mutex_unlock(&susp_mu);
    if (!resp) {
        /* The owner's response could not be built (OOM): try a bare 500. */
        resp = build_response(NULL, NULL, 0, NULL, 0);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        if (!resp)
            return MHD_NO;
    }
    req->status = status;
    req->phase_ = PH_RESPONDED;
    ret = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*---- suspend / resume ----------------------------------------------------*/

static void susp_link(struct dai_http_server *srv, struct http_req *hr)
{
    hr->sprev = NULL;
    hr->snext = srv->susp_head;
    if (srv->susp_head)
        srv->susp_head->sprev = hr;
    srv->susp_head = hr;
}

static void susp_unlink(struct dai_http_server *srv, struct http_req *hr)
{
    if (hr->sprev)
        hr->sprev->snext = hr->snext;
    else if (srv->susp_head == hr)
        srv->susp_head = hr->snext;
    if (hr->snext)
        hr->snext->sprev = hr->sprev;
    hr->snext = hr->sprev = NULL;
}

void dai_http_suspend(struct dai_http_request *req)
{
    struct http_req *hr = req_of(req);
    struct dai_http_server *srv = req->srv_;

    if (req->phase_ != PH_HANDLER)
        return;
    pthread_mutex_lock(&susp_mu);
    if (req->resumed_ || req->suspended_) {
        /* The owner already answered (it raced ahead): nothing to wait for. */
    } else if (srv->stopping) {
        /* MHD must not see a new suspended connection while it stops: the
         * server answers 503 itself and the owner's resume only releases. */
        hr->owner_holds = true;
        hr->orphaned = true;
        req->resumed_ = true;
    } else {
        MHD_suspend_connection(req->conn);
        req->suspended_ = true;
        req->phase_ = PH_SUSPENDED;
        hr->owner_holds = true;
        susp_link(srv, hr);
    }
    pthread_mutex_unlock(&susp_mu);
}

static void req_free(struct http_req *hr)
{
    if (hr->r.pending_)
        MHD_destroy_response(hr->r.pending_);
    dai_buf_free(&hr->r.body);
    free(hr);
}

int dai_http_resume_with(struct dai_http_request *req, unsigned status, const char *content_type,
                         const void *body, size_t len, const struct dai_http_header *hdrs,
                         size_t n_hdrs)
{
    struct http_req *hr = req_of(req);
    struct MHD_Response *resp;
    bool free_now = false;
    int rc = 0;

    if (!req)
        return DAI_EINVAL;
    /* Built before taking the lock: MHD copies the body. A NULL response is
     * still stored so the request is resumed (and answered 500), never
     * left hanging. */
    resp = build_response(content_type, body, len, hdrs, n_hdrs);
    pthread_mutex_lock(&susp_mu);
    if (hr->orphaned) {
        /* dai_http_stop answered it already; this call only releases it. */
        hr->owner_holds = false;
        free_now = hr->mhd_done;
        rc = -ECANCELED;
    } else if (req->resumed_ || req->pending_ || req->status) {
        rc = DAI_EINVAL; /* resumed twice, or already answered */
    } else {
        rc = resp ? 0 : -ENOMEM;
        req->pending_ = resp;
        req->pending_status_ = status;
        req->resumed_ = true;
        resp = NULL;
        if (req->suspended_) {
            susp_unlink(req->srv_, hr);
            hr->owner_holds = false;
            /* Under susp_mu so dai_http_stop cannot reach MHD_stop_daemon
             * between our bookkeeping and MHD's: MHD aborts the process if
             * it stops with a connection still suspended. After this call
             * req may be completed and freed on an MHD thread at any time. */
            MHD_resume_connection(req->conn);
        }
        /* Not suspended yet: on_request is still running on the MHD thread,
         * which queues pending_ when it returns. */
    }
    pthread_mutex_unlock(&susp_mu);
    if (resp)
        MHD_destroy_response(resp);
    if (free_now)
        req_free(hr);
    return rc;
}

/*---- built-in routes ------------------------------------------------------*/

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
static bool builtin(struct dai_http_server *srv, struct dai_http_request *req, int *rc)
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

/*---- the access handler ---------------------------------------------------*/

static bool request_has_body(struct MHD_Connection *conn, unsigned long long *clen)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);

    *clen = 0;
    if (cl) {
        char *end = NULL;

        /* MHD has already rejected a malformed Content-Length with 400. */
        errno = 0;
        *clen = strtoull(cl, &end, 10);
        if (errno || end == cl)
            *clen = ULLONG_MAX;
    }
    return (te && *te) || *clen > 0;
}

/* The headers are in: built-ins, the handler's on_headers, the Content-Length
 * check. */
static enum MHD_Result headers_phase(struct dai_http_server *srv, struct http_req *hr)
{
    struct dai_http_request *req = &hr->r;
    unsigned long long clen;
    int rc = 0;

    hr->has_body = request_has_body(req->conn, &clen);
    if (builtin(srv, req, &rc))
        goto decided;
    if (srv->opt.handlers.on_headers &&
        srv->opt.handlers.on_headers(srv->opt.ud, req) == DAI_HTTP_RESPONDED)
        goto decided;
    if (req->status || req->pending_)
        goto decided;
    if (req->body.max == 0)
        req->body.max = DEFAULT_MAX_BODY;
    if (clen > req->body.max) {
        char msg[96];

        /* Answer before reading a byte of the body; MHD then drops the
         * upload and closes the connection after the response. */
        snprintf(msg, sizeof(msg), "request body exceeds %zu bytes", req->body.max);
        if (dai_http_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", msg,
                                   NULL, 0))
            return MHD_NO;
        return MHD_YES;
    }
    req->phase_ = PH_BODY;
    if (srv->dl && hr->has_body)
        http_dl_add(srv->dl, &hr->dl, req->started_us);
    return MHD_YES;
decided:
    if (rc || (!req->status && !req->pending_)) {
        /* The answer could not be queued, or on_headers claimed to have
         * answered but did not: close rather than hang. */
        return MHD_NO;
    }
    req->phase_ = PH_RESPONDED;
    return MHD_YES;
}

/* A chunked body outgrew its cap mid-upload. MHD 0.9.75 refuses
 * MHD_queue_response() until the whole request is read (only the
 * HEADERS_PROCESSED and FULL_REQ_RECEIVED states accept one), so the 413 is
 * written straight onto the socket (this server never uses TLS, and MHD has
 * nothing of its own to send in this state) and the connection is closed
 * once the client stops sending. Returns false when the write fails. */
static bool write_raw_413(struct http_req *hr)
{
    const union MHD_ConnectionInfo *ci;
    char body[160], msg[384];
    int blen, mlen;
    ssize_t w;

    ci = MHD_get_connection_info(hr->r.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    blen = snprintf(body, sizeof(body),
                    "{\"error\":{\"code\":\"payload_too_large\","
                    "\"message\":\"request body exceeds %zu bytes\"}}",
                    hr->r.body.max);
    mlen = snprintf(msg, sizeof(msg),
                    "HTTP/1.1 413 Payload Too Large\r\n"
                    "Connection: close\r\n"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    blen, body);
    if (mlen <= 0 || (size_t)mlen >= sizeof(msg))
        return false;
    w = send(ci->connect_fd, msg, (size_t)mlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    return w == mlen;
}

static enum MHD_Result run_handler(struct dai_http_server *srv, struct http_req *hr)
{
    struct dai_http_request *req = &hr->r;
    bool early, orphaned;

    req->phase_ = PH_HANDLER;
    if (srv->opt.handlers.on_request)
        srv->opt.handlers.on_request(srv->opt.ud, req);
    else if (dai_http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such resource",
                                    NULL, 0))
        return MHD_NO;

    pthread_mutex_lock(&susp_mu);
    early = req->pending_ != NULL && !req->suspended_;
    orphaned = hr->orphaned;
    pthread_mutex_unlock(&susp_mu);
    if (req->suspended_)
        return MHD_YES; /* the owner resumes it; the next call queues the answer */
    if (early)
        return queue_pending(hr);
    if (req->status)
        return MHD_YES;
    if (orphaned)
        return dai_http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                                      "the server is stopping", NULL, 0)
                   ? MHD_NO
                   : MHD_YES;
    /* The handler neither answered nor suspended. */
    return dai_http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "the request was not answered", NULL, 0)
               ? MHD_NO
               : MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct dai_http_server *srv = cls;
    struct http_req *hr = *con_cls;
    int rc;

    (void)version;
    if (!hr) {
        hr = calloc(1, sizeof(*hr));
        if (!hr)
            return MHD_NO;
        hr->r.conn = conn;
        hr->r.method = method;
        hr->r.url = url; /* MHD has already cut the query string off */
        hr->r.route = "other";
        hr->r.started_us = dai_mono_us();
        hr->r.body.max = srv->opt.max_body;
        hr->r.srv_ = srv;
        *con_cls = hr;
        atomic_fetch_add(&srv->in_flight, 1);
        dai_metric_add(srv->m_in_flight, 1);
        return headers_phase(srv, hr);
    }

    switch ((enum phase)hr->r.phase_) {
    case PH_BODY:
        if (*upload_data_size == 0) {
            /* Too late when the timeout has answered 408 already. */
            if (!http_dl_remove(srv->dl, &hr->dl))
                return MHD_NO;
            return run_handler(srv, hr);
        }
        rc = dai_buf_append(&hr->r.body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (rc == DAI_ETOOBIG) {
            if (!http_dl_remove(srv->dl, &hr->dl))
                return MHD_NO;
            hr->r.status = MHD_HTTP_CONTENT_TOO_LARGE;
            hr->r.phase_ = PH_DISCARD;
            dai_buf_free(&hr->r.body);
            if (!write_raw_413(hr))
                return MHD_NO;
            /* Linger briefly for the client to read the answer and close.
             * MHD 0.9.75 with epoll (edge-triggered) misses an EOF that
             * arrives together with the last data (it treats the short read
             * as "drained"), so the client's close alone may go unnoticed;
             * the short timeout guarantees the connection ends. */
            MHD_set_connection_option(hr->r.conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
            return MHD_YES;
        }
        return rc ? MHD_NO : MHD_YES;
    case PH_DISCARD:
        if (*upload_data_size == 0)
            return MHD_NO; /* the whole body is in; the answer is already sent */
        hr->discarded += *upload_data_size;
        *upload_data_size = 0;
        return hr->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
    case PH_SUSPENDED:
        /* Resumed: the owner's response is in pending_. */
        return queue_pending(hr);
    case PH_RESPONDED:
        /* A response decided while only the headers were known. */
        return hr->r.pending_ ? queue_pending(hr) : MHD_YES;
    case PH_HEADERS:
    case PH_HANDLER:
        break;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct dai_http_server *srv = cls;
    struct http_req *hr = *con_cls;
    char status[16];
    bool free_now = true;

    (void)conn;
    (void)toe;
    if (!hr)
        return;
    *con_cls = NULL;
    /* Before MHD closes the descriptor: the timeout thread may be using it
     * (and, once this returns, timed_out is final). */
    (void)http_dl_remove(srv->dl, &hr->dl);
    if (atomic_load(&hr->timed_out))
        snprintf(status, sizeof(status), "408");
    else if (hr->r.status)
        snprintf(status, sizeof(status), "%u", hr->r.status);
    else
        snprintf(status, sizeof(status), "aborted");
    dai_metric_add(srv->m_requests, 1, hr->r.route, status);
    dai_metric_observe(srv->m_duration, (double)(dai_mono_us() - hr->r.started_us) / 1e6,
                       hr->r.route);
    dai_metric_add(srv->m_in_flight, -1);
    atomic_fetch_sub(&srv->in_flight, 1);
    if (srv->opt.handlers.on_complete)
        srv->opt.handlers.on_complete(srv->opt.ud, &hr->r);
    /* suspended_ is only written on this connection's own thread, so it can
     * be read without the lock; upgraded connections (whose completion MHD
     * reports under its own mutex) never take susp_mu here. */
    if (hr->r.suspended_ || hr->orphaned) {
        pthread_mutex_lock(&susp_mu);
        hr->mhd_done = true;
        free_now = !hr->owner_holds;
        pthread_mutex_unlock(&susp_mu);
    }
    if (free_now)
        req_free(hr);
}

/* The request timeout (on the deadline thread, its lock held, so the request
 * cannot complete and its descriptor cannot be closed meanwhile): answer 408
 * on the raw socket — MHD cannot queue a response before the whole body is
 * in — and shut it down; MHD then sees the end of the stream and completes
 * the request. */
static void on_body_timeout(void *ud, struct http_dl_node *n)
{
    static const char body[] =
        "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request body was too slow\"}}";
    struct dai_http_server *srv = ud;
    struct http_req *hr = (struct http_req *)((char *)n - offsetof(struct http_req, dl));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(hr->r.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char msg[256];
    int len;

    atomic_store(&hr->timed_out, true);
    if (srv->opt.handlers.on_timeout)
        srv->opt.handlers.on_timeout(srv->opt.ud, &hr->r);
    if (!ci)
        return;
    len = snprintf(msg, sizeof(msg),
                   "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                   "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
                   sizeof(body) - 1, body);
    /* Best effort: a client that stopped reading misses the answer; the
     * shutdown is what frees the connection. */
    if (len > 0 && (size_t)len < sizeof(msg) &&
        send(ci->connect_fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        DAI_DEBUG("could not send the 408 answer");
    shutdown(ci->connect_fd, SHUT_RDWR);
}

/*---- server ---------------------------------------------------------------*/

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct dai_http_server *srv = cls;
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&srv->starting)) {
        /* Start-up failures are reported through err by dai_http_start
         * (the message is cut to fit). */
        memcpy(srv->start_err, msg, n < sizeof(srv->start_err) ? n + 1 : sizeof(srv->start_err));
        srv->start_err[sizeof(srv->start_err) - 1] = '\0';
        return;
    }
    /* MHD's messages at run time are about individual clients (malformed
     * requests, resets); interesting when debugging, noise otherwise. */
    DAI_DEBUG("http server message: %s", msg);
}

static int resolve_bind(const char *bind, int port, struct sockaddr_storage *ss, char *err,
                        size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(bind && *bind ? bind : NULL, NULL, &hints, &ai);
    if (rc || !ai) {
        snprintf(err, errlen, "http.bind %s: %s", bind ? bind : "", gai_strerror(rc));
        if (ai)
            freeaddrinfo(ai);
        return DAI_ECONFIG;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(ai);
    return 0;
}

struct dai_http_server *dai_http_start(const struct dai_http_options *opt, char *err,
                                       size_t errlen)
{
    struct dai_http_server *srv;
    struct sockaddr_storage ss;
    struct MHD_OptionItem ops[10];
    const union MHD_DaemonInfo *info;
    unsigned flags;
    size_t n = 0;

    if (!opt || opt->port < 0 || opt->port > 65535 || opt->threads < 0) {
        snprintf(err, errlen, "invalid HTTP server options");
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->opt = *opt;
    if (srv->opt.max_body == 0)
        srv->opt.max_body = DEFAULT_MAX_BODY;
    if (resolve_bind(opt->bind, opt->port, &ss, err, errlen))
        goto fail;
    if (opt->metrics) {
        srv->m_requests = dai_metric_counter(opt->metrics, "dai_http_requests_total",
                                             "HTTP requests by route and status", "route,status");
        srv->m_duration = dai_metric_histogram(
            opt->metrics, "dai_http_request_duration_seconds",
            "Time from request headers to completion", "route", dai_latency_buckets,
            dai_latency_buckets_n);
        srv->m_in_flight = dai_metric_gauge(opt->metrics, "dai_http_requests_in_flight",
                                            "Requests between headers and completion", NULL);
    }

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG;
    if (opt->allow_upgrade)
        flags |= MHD_ALLOW_UPGRADE;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv};
    if (opt->threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opt->threads, NULL};
    if (opt->max_connections > 0)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, opt->max_connections,
                                           NULL};
    if (opt->per_ip_connections > 0)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                           opt->per_ip_connections, NULL};
    if (opt->idle_timeout_ms > 0)
        /* MHD counts whole seconds; round up so a short timeout never becomes 0 (= none). */
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                           (opt->idle_timeout_ms + 999) / 1000, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    if (opt->request_timeout_ms > 0) {
        srv->dl = http_dl_new(opt->request_timeout_ms, on_body_timeout, srv, err, errlen);
        if (!srv->dl)
            goto fail;
    }
    atomic_store(&srv->starting, true);
    srv->d = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL, on_access, srv,
                              MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    atomic_store(&srv->starting, false);
    if (!srv->d) {
        snprintf(err, errlen, "cannot start HTTP server on %s:%d: %s",
                 opt->bind ? opt->bind : "*", opt->port,
                 srv->start_err[0] ? srv->start_err : "libmicrohttpd refused the options");
        goto fail;
    }
    info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : opt->port;
    return srv;
fail:
    http_dl_free(srv->dl);
    free(srv);
    return NULL;
}

int dai_http_port(const struct dai_http_server *srv)
{
    return srv ? srv->port : -1;
}

void dai_http_quiesce(struct dai_http_server *srv)
{
    MHD_socket fd;

    if (!srv || !srv->d)
        return;
    /* MHD hands the listening socket back; closing it now makes new
     * clients fail fast instead of waiting in the accept backlog. */
    fd = MHD_quiesce_daemon(srv->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

unsigned dai_http_in_flight(const struct dai_http_server *srv)
{
    return srv ? atomic_load(&((struct dai_http_server *)srv)->in_flight) : 0;
}

void dai_http_stop(struct dai_http_server *srv)
{
    static const char body[] =
        "{\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is stopping\"}}";
    struct http_req *hr;

    if (!srv)
        return;
    /* Requests still suspended would make MHD_stop_daemon abort the
     * process. Answer them 503 here; their owners still call
     * dai_http_resume_with once, which then only releases the request. */
    pthread_mutex_lock(&susp_mu);
    srv->stopping = true;
    while ((hr = srv->susp_head)) {
        susp_unlink(srv, hr);
        hr->orphaned = true;
        hr->r.resumed_ = true;
        hr->r.pending_ = build_response(JSON_CONTENT_TYPE, body, sizeof(body) - 1,
                                        NULL, 0);
        hr->r.pending_status_ = MHD_HTTP_SERVICE_UNAVAILABLE;
        MHD_resume_connection(hr->r.conn);
    }
    pthread_mutex_unlock(&susp_mu);
    /* The timeout thread touches connections: gone before MHD closes them. */
    http_dl_free(srv->dl);
    srv->dl = NULL;
    MHD_stop_daemon(srv->d);
    free(srv);
}

/*---- request accessors ----------------------------------------------------*/

const char *dai_http_header(const struct dai_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *dai_http_query(const struct dai_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void dai_http_client_addr(const struct dai_http_request *req, char out[64])
{
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *sa;

    out[0] = '\0';
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  64);
}
