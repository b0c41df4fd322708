/* HTTP responses and request accessors: building and queueing a response
 * in the request's current phase (deferred while only the headers are known
 * and no body follows), JSON bodies and {"error":{...}} answers, and the
 * header/query/client-address lookups. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/*---- responses ------------------------------------------------------------*/

struct MHD_Response *dai__http_build_response(const char *content_type, const void *body,
                                              size_t len,
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

int dai__http_queue_response(struct dai_http_request *req, unsigned status,
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
    resp = dai__http_build_response(content_type, body, len, hdrs, n_hdrs);
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


/*---- request accessors ----------------------------------------------------*/

const char *dai_http_method(const struct dai_http_request *req)
{
    return req->method;
}

const char *dai_http_url(const struct dai_http_request *req)
{
    return req->url;
}

const struct dai_buf *dai_http_body(const struct dai_http_request *req)
{
    return &req->body;
}

void dai_http_set_body_max(struct dai_http_request *req, size_t max)
{
    req->body.max = max;
}

const char *dai_http_route(const struct dai_http_request *req)
{
    return req->route;
}

void dai_http_set_route(struct dai_http_request *req, const char *route)
{
    req->route = route;
}

long long dai_http_started_us(const struct dai_http_request *req)
{
    return req->started_us;
}

unsigned dai_http_status(const struct dai_http_request *req)
{
    return req->status;
}

void *dai_http_state(const struct dai_http_request *req)
{
    return req->state;
}

void dai_http_set_state(struct dai_http_request *req, void *state)
{
    req->state = state;
}

const char *dai_http_header(const struct dai_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *dai_http_query(const struct dai_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_walk {
    dai_http_arg_fn fn;
    void *ud;
    int rc;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct query_walk *w = cls;

    (void)kind;
    w->rc = w->fn(w->ud, key, value);
    return w->rc ? MHD_NO : MHD_YES;
}

int dai_http_query_each(const struct dai_http_request *req, dai_http_arg_fn fn, void *ud)
{
    struct query_walk w = {fn, ud, 0};

    if (!req || !fn)
        return DAI_EINVAL;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &w);
    return w.rc;
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
