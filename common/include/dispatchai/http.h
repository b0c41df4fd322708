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
#include <stdbool.h>
#include <stddef.h>

struct dai_http_server;

struct dai_http_header {
    const char *name;
    const char *value;
};

/* One request. Owned by the server; valid from on_headers until on_complete.
 * Opaque: read and set it through the accessors below. */
struct dai_http_request;

enum dai_http_next {
    DAI_HTTP_READ_BODY = 0, /* accumulate the body, then call on_request */
    DAI_HTTP_RESPONDED = 1  /* the handler queued a response already (e.g. 405/413/401) */
};

struct dai_http_handlers {
    /* Headers are complete (optional). May set the body cap, the route and
     * the state (dai_http_set_*), or answer at once. */
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
    /* Request body bytes buffered at once, over all connections (0 = no
     * bound). A body with a Content-Length is admitted only when its whole
     * announced size fits, else answered 503 + Retry-After before a byte of
     * it is read; a chunked body is charged as it arrives (503 mid-upload
     * when it no longer fits). Buffers grow as bytes arrive, never past the
     * announced length. */
    size_t body_budget;
    int busy_retry_after_s;  /* Retry-After of that 503 (default 1) */
    bool allow_upgrade;      /* allow dai_http_upgrade (WebSocket) */
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

/* Request accessors. Strings are borrowed, valid for the request's life. */
const char *dai_http_method(const struct dai_http_request *req);
/* The path, without the query string. */
const char *dai_http_url(const struct dai_http_request *req);
const char *dai_http_header(const struct dai_http_request *req, const char *name);
const char *dai_http_query(const struct dai_http_request *req, const char *name);
/* fn(ud, key, value) for each query argument in order (value NULL for a bare
 * "?key"); 0 to go on, a negative code to stop. Returns 0 or that code. */
typedef int (*dai_http_arg_fn)(void *ud, const char *key, const char *value);
DAI_MUST_CHECK int dai_http_query_each(const struct dai_http_request *req, dai_http_arg_fn fn,
                                       void *ud);
/* The body received so far (all of it in on_request); borrowed. */
const struct dai_buf *dai_http_body(const struct dai_http_request *req);
/* This request's body cap (from on_headers; default: options.max_body).
 * Nothing is reserved up front: the buffer grows as bytes arrive, never past
 * the announced Content-Length (see options.body_budget). */
void dai_http_set_body_max(struct dai_http_request *req, size_t max);
/* The metrics label: a string literal ("other" until set). */
const char *dai_http_route(const struct dai_http_request *req);
void dai_http_set_route(struct dai_http_request *req, const char *route);
/* dai_mono_us() when the headers arrived. */
long long dai_http_started_us(const struct dai_http_request *req);
/* Status of the response queued, 0 before one is. */
unsigned dai_http_status(const struct dai_http_request *req);
/* The handler's own per-request state (NULL until set; freed by the handler
 * in on_complete). */
void *dai_http_state(const struct dai_http_request *req);
void dai_http_set_state(struct dai_http_request *req, void *state);
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

/* An upgraded connection (e.g. a WebSocket) after its 101 was sent. */
struct dai_http_upgraded;
/* Runs once, on a server thread, when the 101 is out: fd is the socket, now
 * the callee's to read and write (but not to close); extra holds bytes the
 * client sent after its request (borrowed for the call). The callee ends the
 * connection with dai_http_upgraded_close(up), exactly once, from any thread. */
typedef void (*dai_http_upgrade_fn)(void *ud, int fd, const char *extra, size_t extra_len,
                                    struct dai_http_upgraded *up);
/* Answer 101 Switching Protocols with hdrs (copied) and hand the socket to fn
 * (needs allow_upgrade). From on_headers/on_request only; on_complete runs
 * after fn. 0, -ENOMEM or DAI_EINVAL. */
DAI_MUST_CHECK int dai_http_upgrade(struct dai_http_request *req,
                                    const struct dai_http_header *hdrs, size_t n_hdrs,
                                    dai_http_upgrade_fn fn, void *ud);
/* Close an upgraded connection (its socket is closed by the server). 0 or
 * DAI_EINVAL. */
int dai_http_upgraded_close(struct dai_http_upgraded *up);

#endif
