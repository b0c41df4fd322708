/* The life cycle of one request, as MHD drives it: headers (built-ins, the
 * handler's on_headers, the Content-Length cap) → capped, time-bounded body
 * → on_request → response, and completion with its metrics. Where MHD
 * cannot queue a response (mid-upload), the 413 and 408 answers are written
 * raw onto the socket. */
#include "http_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* After an over-cap chunked body was answered with 413, the rest of the
 * upload is read and dropped (so the client sees the answer instead of a
 * reset) up to this much; beyond it the connection is closed. */
#define DISCARD_MAX (1024 * 1024)

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

/*---- the body budget -------------------------------------------------------*/

/* Take n bytes from the server's body budget; false when they do not fit. */
static bool budget_take(struct dai_http_server *srv, struct http_req *hr, size_t n)
{
    size_t cur = atomic_load(&srv->body_bytes);

    do {
        if (srv->opt.body_budget && (cur > srv->opt.body_budget ||
                                     n > srv->opt.body_budget - cur))
            return false;
    } while (!atomic_compare_exchange_weak(&srv->body_bytes, &cur, cur + n));
    hr->charged += n;
    dai_metric_add(srv->m_body_bytes, (double)n);
    return true;
}

static void budget_release(struct dai_http_server *srv, struct http_req *hr)
{
    if (!hr->charged)
        return;
    atomic_fetch_sub(&srv->body_bytes, hr->charged);
    dai_metric_add(srv->m_body_bytes, -(double)hr->charged);
    hr->charged = 0;
}

static int refuse_busy(struct dai_http_server *srv, struct dai_http_request *req)
{
    const struct dai_http_header h[] = {{"Retry-After", srv->retry_after}};

    dai_metric_add(srv->m_body_refused, 1);
    return dai_http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded",
                                  "too many request bodies in flight; retry later", h, 1);
}

/* The headers are in: built-ins, the handler's on_headers, the Content-Length
 * check, the body budget. */
static enum MHD_Result headers_phase(struct dai_http_server *srv, struct http_req *hr)
{
    struct dai_http_request *req = &hr->r;
    unsigned long long clen;
    int rc = 0;

    hr->has_body = request_has_body(req->conn, &clen);
    if (dai__http_builtin(srv, req, &rc))
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
    if (hr->has_body && clen > 0 && clen != ULLONG_MAX) {
        /* The whole announced size must fit before a byte is read, but it
         * is only charged, not allocated: the buffer grows as bytes arrive
         * and never past the announced length (MHD enforces it). */
        if (!budget_take(srv, hr, (size_t)clen))
            return refuse_busy(srv, req) ? MHD_NO : MHD_YES;
        req->body.max = (size_t)clen;
    }
    req->phase_ = PH_BODY;
    if (srv->dl && hr->has_body)
        dai__http_dl_add(srv->dl, &hr->dl, req->started_us);
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

/* A chunked body outgrew its cap (413) or the body budget (503) mid-upload.
 * MHD 0.9.75 refuses MHD_queue_response() until the whole request is read
 * (only the HEADERS_PROCESSED and FULL_REQ_RECEIVED states accept one), so
 * the answer is written straight onto the socket (this server never uses
 * TLS, and MHD has nothing of its own to send in this state) and the
 * connection is closed once the client stops sending. Returns false when the
 * write fails. */
static bool write_raw_refusal(struct dai_http_server *srv, struct http_req *hr, bool busy)
{
    const union MHD_ConnectionInfo *ci;
    char body[160], msg[448], extra[48] = "";
    int blen, mlen;
    ssize_t w;

    ci = MHD_get_connection_info(hr->r.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    if (busy) {
        blen = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"overloaded\",\"message\":"
                        "\"too many request bodies in flight; retry later\"}}");
        snprintf(extra, sizeof(extra), "Retry-After: %s\r\n", srv->retry_after);
    } else {
        blen = snprintf(body, sizeof(body),
                        "{\"error\":{\"code\":\"payload_too_large\","
                        "\"message\":\"request body exceeds %zu bytes\"}}",
                        hr->r.body.max);
    }
    mlen = snprintf(msg, sizeof(msg),
                    "HTTP/1.1 %s\r\n"
                    "Connection: close\r\n%s"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    busy ? "503 Service Unavailable" : "413 Payload Too Large", extra, blen, body);
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

    pthread_mutex_lock(&dai__http_susp_mu);
    early = req->pending_ != NULL && !req->suspended_;
    orphaned = hr->orphaned;
    pthread_mutex_unlock(&dai__http_susp_mu);
    if (req->suspended_)
        return MHD_YES; /* the owner resumes it; the next call queues the answer */
    if (early)
        return dai__http_queue_pending(hr);
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

enum MHD_Result dai__http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct dai_http_server *srv = cls;
    struct http_req *hr = *con_cls;
    bool busy;
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
            if (!dai__http_dl_remove(srv->dl, &hr->dl))
                return MHD_NO;
            return run_handler(srv, hr);
        }
        /* A chunked body is charged as it arrives. */
        busy = false;
        if (hr->r.body.len + *upload_data_size > hr->charged &&
            hr->r.body.len + *upload_data_size <= hr->r.body.max)
            busy = !budget_take(srv, hr, hr->r.body.len + *upload_data_size - hr->charged);
        rc = busy ? DAI_ETOOBIG : dai_buf_append(&hr->r.body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (rc == DAI_ETOOBIG) {
            if (!dai__http_dl_remove(srv->dl, &hr->dl))
                return MHD_NO;
            hr->r.status = busy ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_CONTENT_TOO_LARGE;
            hr->r.phase_ = PH_DISCARD;
            dai_buf_free(&hr->r.body);
            budget_release(srv, hr);
            if (busy)
                dai_metric_add(srv->m_body_refused, 1);
            if (!write_raw_refusal(srv, hr, busy))
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
        return dai__http_queue_pending(hr);
    case PH_RESPONDED:
        /* A response decided while only the headers were known. */
        return hr->r.pending_ ? dai__http_queue_pending(hr) : MHD_YES;
    case PH_HEADERS:
    case PH_HANDLER:
        break;
    }
    return MHD_NO;
}

void dai__http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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
    (void)dai__http_dl_remove(srv->dl, &hr->dl);
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
    /* The body is freed with the request right after this (or, when its
     * owner still holds it after the server stopped, soon after). */
    budget_release(srv, hr);
    if (srv->opt.handlers.on_complete)
        srv->opt.handlers.on_complete(srv->opt.ud, &hr->r);
    /* suspended_ is only written on this connection's own thread, so it can
     * be read without the lock; upgraded connections (whose completion MHD
     * reports under its own mutex) never take dai__http_susp_mu here. */
    if (hr->r.suspended_ || hr->orphaned) {
        pthread_mutex_lock(&dai__http_susp_mu);
        hr->mhd_done = true;
        free_now = !hr->owner_holds;
        pthread_mutex_unlock(&dai__http_susp_mu);
    }
    if (free_now)
        dai__http_req_free(hr);
}

/* The request timeout (on the deadline thread, its lock held, so the request
 * cannot complete and its descriptor cannot be closed meanwhile): answer 408
 * on the raw socket — MHD cannot queue a response before the whole body is
 * in — and shut it down; MHD then sees the end of the stream and completes
 * the request. */
void dai__http_on_body_timeout(void *ud, struct http_dl_node *n)
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
