/* Private to common/src/http*.c: the request and server as the HTTP modules
 * see them, and the functions they share. Never included outside common/. */
#ifndef DISPATCHAI_HTTP_INTERNAL_H
#define DISPATCHAI_HTTP_INTERNAL_H

#include "http_deadline.h"

#include <dispatchai/clock.h>
#include <dispatchai/http.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define DEFAULT_MAX_BODY (1024 * 1024)
#define JSON_CONTENT_TYPE "application/json"

enum phase {
    PH_HEADERS = 0, /* first call: headers complete, nothing decided */
    PH_BODY,        /* accumulating the body */
    PH_HANDLER,     /* on_request is running */
    PH_SUSPENDED,   /* suspended; waiting for the owner's resume */
    PH_RESPONDED,   /* a response is queued, or deferred to the final call */
    PH_DISCARD      /* 413/503 written for a chunked body; dropping the rest */
};

struct dai_http_request {
    struct MHD_Connection *conn;
    const char *method;     /* borrowed from MHD for the request's life */
    const char *url;        /* path without the query string */
    struct dai_buf body;    /* the body so far; body.max is the cap */
    const char *route;      /* metrics label; a string literal */
    long long started_us;   /* dai_mono_us() when the headers arrived */
    unsigned status;        /* status of the response queued, once queued */
    void *state;            /* the handler's own per-request state */
    struct dai_http_server *srv_;
    struct MHD_Response *pending_;
    unsigned pending_status_;
    int phase_;
    bool suspended_;
    bool resumed_;
    dai_http_upgrade_fn upgrade_fn; /* set by dai_http_upgrade */
    void *upgrade_ud;
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
    size_t charged;     /* body bytes taken from srv->body_bytes (released at completion) */
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
    struct dai_metric *m_body_bytes, *m_body_refused;
    atomic_size_t body_bytes;   /* charged by requests in flight (opt.body_budget) */
    char retry_after[16];       /* opt.busy_retry_after_s as a header value */
    atomic_bool starting; /* MHD's worker threads may log while start returns */
    char start_err[256];
};

/* Suspend/resume bookkeeping of every server (defined in http_suspend.c). A
 * process-wide lock, not a per-server one, because an owner may resume a
 * request after its server was stopped and freed (see dai_http_stop); the
 * lock must outlive the server. Lock order: before MHD's internal mutexes
 * (MHD_resume_connection is called with it held); it is never taken inside
 * an MHD callback that runs under MHD's cleanup mutex (those are for upgraded
 * connections only). */
extern pthread_mutex_t dai__http_susp_mu;

static inline struct http_req *req_of(struct dai_http_request *req)
{
    return (struct http_req *)(void *)req;
}

/* http.c: a new response with the body copied, or NULL. */
struct MHD_Response *dai__http_build_response(const char *content_type, const void *body,
                                              size_t len, const struct dai_http_header *hdrs,
                                              size_t n_hdrs);
/* http.c: queue resp (borrowed) at once, from on_headers/on_request; records
 * req->status. 0 or DAI_EINVAL. */
int dai__http_queue_response(struct dai_http_request *req, unsigned status,
                             struct MHD_Response *resp);
/* http_suspend.c */
/* Queue the response stored in pending_ (deferred or resumed). */
enum MHD_Result dai__http_queue_pending(struct http_req *hr);
void dai__http_susp_unlink(struct dai_http_server *srv, struct http_req *hr);
void dai__http_req_free(struct http_req *hr);

/* http_builtin.c: GET /health, /ready, /metrics. False when the path is not
 * built in; else true with the result of queueing the answer in *rc. */
bool dai__http_builtin(struct dai_http_server *srv, struct dai_http_request *req, int *rc);

/* http_phases.c: the MHD callbacks. */
enum MHD_Result dai__http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls);
void dai__http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe);
void dai__http_on_body_timeout(void *ud, struct http_dl_node *n);

#endif
