/* HTTP server helpers on libmicrohttpd: a thread-pool server with built-in
 * GET /health, GET /ready and GET /metrics, request-body accumulation with a
 * cap (413 without reading the rest), JSON responses and errors in the shape
 * {"error":{"code","message"}}, and suspend/resume so a handler can answer
 * later from another thread without holding a server thread.
 * Per-request metrics (dai_http_requests_total{route,status} and
 * dai_http_request_duration_seconds{route}) are recorded here. */
#ifndef DISPATCHAI_HTTP_H
#define DISPATCHAI_HTTP_H

#include <dispatchai/err.h>
#include <dispatchai/buf.h>
#include <dispatchai/metrics.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct dai_http_server;

struct dai_http_header {
    const char *name;
    const char *value;
};

/* One request. Owned by the server; valid from on_headers until on_complete. */
struct dai_http_request {
    struct MHD_Connection *conn;
    const char *method;     /* borrowed from MHD for the request's life */
    const char *url;        /* path without the query string */
    struct dai_buf body;    /* the body so far; body.max is the cap (set it in on_headers) */
    const char *route;      /* metrics label; a string literal set by the handler ("other") */
    long long started_us;   /* dai_mono_us() when the headers arrived */
    unsigned status;        /* status of the response queued, once queued */
    void *state;            /* the handler's own per-request state */
    /* private to common/src/http*.c */
    struct dai_http_server *srv_;
    struct MHD_Response *pending_;
    unsigned pending_status_;
    int phase_;
    bool suspended_;
    bool resumed_;
};

enum dai_http_next {
    DAI_HTTP_READ_BODY = 0, /* accumulate the body, then call on_request */
    DAI_HTTP_RESPONDED = 1  /* the handler queued a response already (e.g. 405/413/401) */
};

struct dai_http_handlers {
    /* Headers are complete (optional). May set req->body.max, req->route,
     * req->state, or answer at once. */
    enum dai_http_next (*on_headers)(void *ud, struct dai_http_request *req);
    /* The whole body arrived. Must either queue a response (dai_http_respond*)
     * or call dai_http_suspend() and later dai_http_resume_with(). */
    void (*on_request)(void *ud, struct dai_http_request *req);
    /* The request is finished (answered, or the client went away): free state. */
    void (*on_complete)(void *ud, struct dai_http_request *req);
    /* Optional: the body missed request_timeout_ms and the server is about to
     * answer 408 and shut the connection (on_request will not be called;
     * on_complete still is). Runs on the timeout thread: count or log only. */
    void (*on_timeout)(void *ud, struct dai_http_request *req);
};

struct dai_http_options {
    const char *bind;        /* "0.0.0.0", "127.0.0.1", "::" */
    int port;                /* 0 = any free port (see dai_http_port) */
    int threads;
    int max_connections;
    int per_ip_connections;  /* 0 = unlimited */
    int idle_timeout_ms;
    /* A body still incomplete this long after its headers is answered 408 and
     * its connection shut down: a client trickling bytes is never idle.
     * 0 = no bound. */
    int request_timeout_ms;
    size_t max_body;         /* default body cap for every request */
    bool allow_upgrade;      /* allow MHD_create_response_for_upgrade (WebSocket) */
    struct dai_metrics *metrics;                    /* borrowed; may be NULL */
    bool (*ready)(void *ud, char *why, size_t n);   /* NULL = always ready */
    void *ready_ud;
    struct dai_http_handlers handlers;
    void *ud;
};

/* Start serving. New server or NULL with the reason in err. */
struct dai_http_server *dai_http_start(const struct dai_http_options *opt, char *err,
                                       size_t errlen);
int dai_http_port(const struct dai_http_server *srv);
/* Stop accepting new connections; in-flight requests continue. */
void dai_http_quiesce(struct dai_http_server *srv);
/* Requests between headers and completion, right now. */
unsigned dai_http_in_flight(const struct dai_http_server *srv);
/* Stop and free (closes every connection). NULL is fine. Requests still
 * suspended are answered 503 here (their owners' later resume_with returns
 * -ECANCELED and releases them); resume them first for a clean drain. */
void dai_http_stop(struct dai_http_server *srv);

/* Request accessors (borrowed from MHD, valid for the request's life). */
const char *dai_http_header(const struct dai_http_request *req, const char *name);
const char *dai_http_query(const struct dai_http_request *req, const char *name);
/* Client address as text (e.g. "127.0.0.1"); out holds 64 bytes. */
void dai_http_client_addr(const struct dai_http_request *req, char out[64]);

/* Queue a response now (from on_headers/on_request only). The body is copied.
 * Returns 0 or DAI_EINVAL/-ENOMEM. */
DAI_MUST_CHECK int dai_http_respond(struct dai_http_request *req, unsigned status,
                                    const char *content_type, const void *body, size_t len,
                                    const struct dai_http_header *hdrs, size_t n_hdrs);
DAI_MUST_CHECK int dai_http_respond_json(struct dai_http_request *req, unsigned status,
                                         const json_t *body, const struct dai_http_header *hdrs,
                                         size_t n_hdrs);
/* {"error":{"code":code,"message":message}} */
DAI_MUST_CHECK int dai_http_respond_error(struct dai_http_request *req, unsigned status,
                                          const char *code, const char *message,
                                          const struct dai_http_header *hdrs, size_t n_hdrs);

/* Suspend from on_request; then, from any thread, exactly one resume.
 * Call dai_http_suspend before handing req to another thread; a resume that
 * races ahead of on_request's return is safe. The server thread is free while
 * the request waits: MHD does not watch a suspended socket, so neither idle
 * timeouts nor a client that goes away end it early — only the resume does.
 * Who frees what: req (and its body) belong to the server; the owner (whoever
 * got req) must call dai_http_resume_with exactly once and must not touch req
 * afterwards, because on_complete (where the handler frees req->state) may run
 * on a server thread before resume_with even returns. If the client went away,
 * the resume still completes the request (on_complete sees status set but the
 * send failed). resume_with copies body and headers. Returns 0; -ENOMEM (the
 * client then gets a bare 500, still resumed); DAI_EINVAL if req was already
 * answered or resumed; -ECANCELED if dai_http_stop had to answer the request
 * itself (503) — on_complete has then already run, and this call only released
 * the request. */
void dai_http_suspend(struct dai_http_request *req);
DAI_MUST_CHECK int dai_http_resume_with(struct dai_http_request *req, unsigned status,
                                        const char *content_type, const void *body, size_t len,
                                        const struct dai_http_header *hdrs, size_t n_hdrs);

/* Queue a response the caller built (borrowed: the caller still destroys it),
 * e.g. MHD_create_response_for_upgrade() for a WebSocket handshake (needs
 * allow_upgrade). From on_headers/on_request only; records req->status. A
 * response queued from on_headers makes MHD close the connection after it
 * (fine for an upgrade, which takes the socket over). 0 or DAI_EINVAL. */
DAI_MUST_CHECK int dai_http_queue_response(struct dai_http_request *req, unsigned status,
                                           struct MHD_Response *resp);

#endif
