/* Suspend/resume: a handler hands its request to another thread, which
 * answers it later through dai_http_resume_with without holding a server
 * thread meanwhile. */
#include "http_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

pthread_mutex_t dai__http_susp_mu = PTHREAD_MUTEX_INITIALIZER;

static void susp_link(struct dai_http_server *srv, struct http_req *hr)
{
    hr->sprev = NULL;
    hr->snext = srv->susp_head;
    if (srv->susp_head)
        srv->susp_head->sprev = hr;
    srv->susp_head = hr;
}

void dai__http_susp_unlink(struct dai_http_server *srv, struct http_req *hr)
{
    if (hr->sprev)
        hr->sprev->snext = hr->snext;
    else if (srv->susp_head == hr)
        srv->susp_head = hr->snext;
    if (hr->snext)
        hr->snext->sprev = hr->sprev;
    hr->snext = hr->sprev = NULL;
}

/* Queue the response stored in pending_ (deferred, early-resumed or resumed).
 * MHD_NO closes the connection when there is nothing sensible to send. */
enum MHD_Result dai__http_queue_pending(struct http_req *hr)
{
    struct dai_http_request *req = &hr->r;
    struct MHD_Response *resp;
    unsigned status;
    enum MHD_Result ret;

    pthread_mutex_lock(&dai__http_susp_mu);
    resp = req->pending_;
    status = req->pending_status_;
    req->pending_ = NULL;
    pthread_mutex_unlock(&dai__http_susp_mu);
    if (!resp) {
        /* The owner's response could not be built (OOM): try a bare 500. */
        resp = dai__http_build_response(NULL, NULL, 0, NULL, 0);
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

void dai_http_suspend(struct dai_http_request *req)
{
    struct http_req *hr = req_of(req);
    struct dai_http_server *srv = req->srv_;

    if (req->phase_ != PH_HANDLER)
        return;
    pthread_mutex_lock(&dai__http_susp_mu);
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
    pthread_mutex_unlock(&dai__http_susp_mu);
}

void dai__http_req_free(struct http_req *hr)
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
    resp = dai__http_build_response(content_type, body, len, hdrs, n_hdrs);
    pthread_mutex_lock(&dai__http_susp_mu);
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
            dai__http_susp_unlink(req->srv_, hr);
            hr->owner_holds = false;
            /* Under dai__http_susp_mu so dai_http_stop cannot reach MHD_stop_daemon
             * between our bookkeeping and MHD's: MHD aborts the process if
             * it stops with a connection still suspended. After this call
             * req may be completed and freed on an MHD thread at any time. */
            MHD_resume_connection(req->conn);
        }
        /* Not suspended yet: on_request is still running on the MHD thread,
         * which queues pending_ when it returns. */
    }
    pthread_mutex_unlock(&dai__http_susp_mu);
    if (resp)
        MHD_destroy_response(resp);
    if (free_now)
        dai__http_req_free(hr);
    return rc;
}
