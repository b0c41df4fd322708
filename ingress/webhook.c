/* POST /webhook/github: the checks that need only headers (method, event,
 * delivery GUID, media type, size, rate limit) on the MHD thread, then the
 * suspended request goes to a worker that verifies the signature, decodes,
 * normalises and hands the event to publish.c. Also owns the one log line
 * and the counters per delivery (ing_finish), also for bodies that missed
 * common's request timeout. */
#include "ingress.h"

#include <dispatchai/clock.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_TYPE "application/json"

static const char PONG[] = "{\"status\":\"pong\"}";
static const char IGNORED[] = "{\"status\":\"ignored\"}";

/*---- answers and the delivery log line ----------------------------------*/

static void count(struct ing_stats *st, enum ing_event ev, enum ing_reason reason,
                  const char *outcome)
{
    const char *e = ing_event_name(ev);

    if (reason != ING_R_COUNT)
        dai_metric_add(st->rejected, 1, e, ing_reason_name(reason));
    else if (!strcmp(outcome, "accepted"))
        dai_metric_add(st->accepted, 1, e);
    else if (!strcmp(outcome, "duplicate"))
        dai_metric_add(st->duplicates, 1, e);
    else if (!strcmp(outcome, "dead_lettered"))
        dai_metric_add(st->dead_letters, 1, e);
    else
        dai_metric_add(st->ignored, 1, e);
}

/* The X-GitHub-Event value for the log line: at most 32 bytes of
 * [a-z0-9_.-], anything else replaced, so a client cannot forge log fields.
 * The metric label stays the bounded ing_event_name. */
static void event_text(const char *h, char out[33])
{
    size_t i = 0;

    for (; h && h[i] && i < 32; i++) {
        char c = h[i];
        out[i] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  c == '.') ? c : '?';
    }
    if (i == 0)
        out[i++] = '-';
    out[i] = '\0';
}

/* The one line per delivery: ids, what it was, what we answered, how long it
 * took. Never the body, the signature or anything from the payload but the
 * (sanitised) action and the key. */
static void log_delivery(const char *guid, const char *event, const struct ing_event_info *info,
                         unsigned status, const char *outcome, long long started_us,
                         const char *why)
{
    double ms = (double)(dai_mono_us() - started_us) / 1000.0;
    enum dai_log_level lvl = status >= 500 ? DAI_LOG_WARN : DAI_LOG_INFO;
    char action[ING_ACTION_MAX + 8], key[DAI_LOG_VALUE_MAX];

    if (!dai_log_enabled(lvl))
        return;
    /* action and key come from the payload: quoted when they would not stay
     * one field (GUID and event are validated or sanitised already). */
    dai_log(lvl, "delivery delivery_id=%s event=%s action=%s key=%s status=%u outcome=%s "
            "latency_ms=%.2f%s%s", guid && *guid ? guid : "-", event,
            dai_log_value(action, sizeof(action), info && info->action[0] ? info->action : "-"),
            dai_log_value(key, sizeof(key), info && info->key_len ? info->key : "-"), status,
            outcome, ms, why ? " error=" : "", why ? why : "");
}

/* Answer d (from any thread): log the delivery line, count it, resume the
 * request. reason is ING_R_COUNT for successes. d must not be used
 * afterwards. */
static void finish(struct ing_delivery *d, unsigned status, const char *body, size_t len,
                   enum ing_reason reason, const char *outcome,
                   const struct dai_http_header *hdrs, size_t n_hdrs)
{
    struct dai_http_header all[8];
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < n_hdrs && n < 7; i++)
        all[n++] = hdrs[i];
    /* While stopping, keep-alive clients are told to reconnect elsewhere. */
    if (dai_lifecycle_stopping())
        all[n++] = (struct dai_http_header){"Connection", "close"};
    count(d->ctx->stats, d->event, reason, outcome);
    log_delivery(d->guid, d->event_name, &d->info, status, outcome, dai_http_started_us(d->req),
                 reason != ING_R_COUNT && status >= 500 ? outcome : NULL);
    rc = dai_http_resume_with(d->req, status, JSON_TYPE, body, len, all, n);
    if (rc && rc != -ECANCELED)
        DAI_ERROR("cannot answer delivery_id=%s: %s", d->guid, dai_strerror(rc));
    /* d may be freed from here on (on_complete on an MHD thread). */
}

/* Answer d with {"error":{"code","message"}} (the code is the reason's name). */
static void finish_error(struct ing_delivery *d, unsigned status, enum ing_reason reason,
                         const char *message, const struct dai_http_header *hdrs,
                         size_t n_hdrs)
{
    char body[512];
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", ing_reason_name(reason), "message",
                          message);
    int len = 0;

    if (j) {
        size_t n = json_dumpb(j, body, sizeof(body), JSON_COMPACT);
        len = n < sizeof(body) ? (int)n : 0;
        json_decref(j);
    }
    if (len == 0)
        len = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"\"}}",
                       ing_reason_name(reason));
    finish(d, status, body, (size_t)len, reason, ing_reason_name(reason), hdrs, n_hdrs);
}

/*---- publish outcomes --------------------------------------------------------*/

static void answer_stored(struct ing_delivery *d, bool duplicate, int32_t partition,
                          int64_t offset)
{
    const char *status = duplicate ? "duplicate" : d->dead_letter ? "dead_lettered" : "accepted";
    struct dai_buf b = {0};
    int rc;

    rc = dai_buf_appendf(&b, "{\"status\":\"%s\",\"delivery_id\":\"%s\",\"key\":", status,
                         d->guid);
    if (!rc)
        rc = d->info.key_len ? dai_buf_append_jstr(&b, d->info.key)
                             : dai_buf_append(&b, "null", 4);
    if (!rc && d->dead_letter && !duplicate) {
        rc = dai_buf_append(&b, ",\"reason\":", 10);
        if (!rc)
            rc = dai_buf_append_jstr(&b, d->dlq_reason);
    }
    if (!rc)
        rc = dai_buf_appendf(&b, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}",
                             partition, offset);
    if (rc) {
        const struct dai_http_header h[] = {{"Retry-After", d->ctx->cfg->retry_after}};
        finish_error(d, 503, ING_R_INTERNAL, "out of memory", h, 1);
    } else {
        finish(d, duplicate ? 200 : 202, b.data, b.len, ING_R_COUNT, status, NULL, 0);
    }
    dai_buf_free(&b);
}

/* Failures go through ing_answer_for: only a transient one carries
 * Retry-After (a 503 tells GitHub to redeliver). */
static void answer_failed(struct ing_delivery *d, int rc)
{
    const struct dai_http_header h[] = {{"Retry-After", d->ctx->cfg->retry_after}};
    struct ing_answer a;

    ing_answer_for(rc, &a);
    finish_error(d, a.status, a.reason, a.message, h, a.retry_after ? 1 : 0);
}

void ing_webhook_published(void *ud, struct ing_delivery *d, const struct ing_pub_outcome *o)
{
    (void)ud;
    if (o->result == ING_PUB_FAILED)
        answer_failed(d, o->rc);
    else
        answer_stored(d, o->result == ING_PUB_DUPLICATE, o->partition, o->offset);
}

/* A refusal decided from the headers alone (no delivery state yet). */
static enum dai_http_next refuse(struct ing_ctx *ctx, struct dai_http_request *req,
                                 enum ing_event ev, const char *guid, unsigned status,
                                 enum ing_reason reason, const char *message,
                                 const struct dai_http_header *hdrs, size_t n_hdrs)
{
    char event[33];
    int rc;

    event_text(dai_http_header(req, "X-GitHub-Event"), event);
    count(ctx->stats, ev, reason, NULL);
    log_delivery(guid, event, NULL, status, ing_reason_name(reason), dai_http_started_us(req), NULL);
    rc = dai_http_respond_error(req, status, ing_reason_name(reason), message, hdrs, n_hdrs);
    if (rc)
        DAI_ERROR("cannot queue a %u response: %s", status, dai_strerror(rc));
    return DAI_HTTP_RESPONDED;
}

/*---- MHD handlers -------------------------------------------------------------*/

static bool hook_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 24 && strspn(s, "0123456789") == n;
}

static enum dai_http_next on_headers(void *ud, struct dai_http_request *req)
{
    static const struct dai_http_header allow[] = {{"Allow", "POST"}};
    struct ing_ctx *ctx = ud;
    const struct ing_config *cfg = ctx->cfg;
    const char *evh, *guid, *ct, *cl, *sig, *hook;
    enum ing_event ev;
    struct ing_delivery *d;
    unsigned long long clen = 0;
    bool form;

    if (strcmp(dai_http_url(req), ING_WEBHOOK_PATH) != 0) {
        if (dai_http_respond_error(req, 404, "not_found", "no such resource", NULL, 0))
            DAI_ERROR("cannot queue a 404 response");
        return DAI_HTTP_RESPONDED;
    }
    dai_http_set_route(req, "webhook");
    evh = dai_http_header(req, "X-GitHub-Event");
    ev = ing_event_parse(evh);
    guid = dai_http_header(req, "X-GitHub-Delivery");
    if (!ing_guid_valid(guid))
        guid = NULL; /* never log or echo what failed validation */
    dai_metric_add(ctx->stats->received, 1, ing_event_name(ev));

    if (strcmp(dai_http_method(req), "POST") != 0)
        return refuse(ctx, req, ev, guid, 405, ING_R_METHOD, "only POST is allowed here",
                      allow, 1);
    if (ctx->rl) {
        struct dai_rl_result r;
        char addr[64], ra[24], lim[24], rem[24], reset[24];
        unsigned char key[DAI_RL_KEY_MAX];

        dai_http_client_addr(req, addr);
        dai_ratelimit_take(ctx->rl, key, dai_ratelimit_client_key(addr, key),
                           dai_mono_us() / 1000, &r);
        if (!r.allowed) {
            const struct dai_http_header h[] = {{"Retry-After", ra},
                                                {"X-RateLimit-Limit", lim},
                                                {"X-RateLimit-Remaining", rem},
                                                {"X-RateLimit-Reset", reset}};
            snprintf(ra, sizeof(ra), "%lld", (r.retry_after_ms + 999) / 1000);
            snprintf(lim, sizeof(lim), "%lld", r.limit);
            snprintf(rem, sizeof(rem), "%lld", r.remaining);
            snprintf(reset, sizeof(reset), "%lld", (dai_now_ms() + r.reset_ms + 999) / 1000);
            return refuse(ctx, req, ev, guid, 429, ING_R_RATE_LIMITED,
                          "too many requests from this address", h, 4);
        }
    }
    if (!evh || !*evh)
        return refuse(ctx, req, ev, guid, 400, ING_R_MISSING_EVENT,
                      "the X-GitHub-Event header is required", NULL, 0);
    if (!guid)
        return refuse(ctx, req, ev, guid, 400, ING_R_BAD_DELIVERY,
                      "X-GitHub-Delivery must be 1-64 characters of [A-Za-z0-9._-]", NULL, 0);
    ct = dai_http_header(req, "Content-Type");
    form = ing_content_type_is(ct, "application/x-www-form-urlencoded");
    if (!form && !ing_content_type_is(ct, "application/json"))
        return refuse(ctx, req, ev, guid, 415, ING_R_MEDIA_TYPE,
                      "Content-Type must be application/json or "
                      "application/x-www-form-urlencoded", NULL, 0);
    cl = dai_http_header(req, "Content-Length");
    if (cl) {
        char *end;

        errno = 0;
        clen = strtoull(cl, &end, 10);
        if (errno || end == cl)
            clen = 0;
        if (clen > cfg->max_body) {
            char msg[96];
            snprintf(msg, sizeof(msg), "request body exceeds %zu bytes", cfg->max_body);
            return refuse(ctx, req, ev, guid, 413, ING_R_TOO_LARGE, msg, NULL, 0);
        }
    }

    d = calloc(1, sizeof(*d));
    if (!d) {
        if (dai_http_respond_error(req, 500, "internal", "out of memory", NULL, 0))
            DAI_ERROR("cannot queue a 500 response");
        return DAI_HTTP_RESPONDED;
    }
    d->ctx = ctx;
    d->req = req;
    d->event = ev;
    event_text(evh, d->event_name);
    d->form = form;
    d->received_ms = dai_now_ms();
    snprintf(d->guid, sizeof(d->guid), "%s", guid);
    hook = dai_http_header(req, "X-GitHub-Hook-ID");
    if (hook_id_ok(hook))
        snprintf(d->hook_id, sizeof(d->hook_id), "%s", hook);
    sig = dai_http_header(req, "X-Hub-Signature-256");
    if (sig) {
        d->has_signature = true;
        /* An over-long header cannot be valid; keep something that fails. */
        if (strlen(sig) < sizeof(d->signature))
            snprintf(d->signature, sizeof(d->signature), "%s", sig);
        else
            snprintf(d->signature, sizeof(d->signature), "invalid");
    }
    dai_http_set_state(req, d);
    /* Nothing is reserved here: common admits the body against
     * http.body_budget and grows the buffer as bytes arrive, never past the
     * announced length. */
    dai_http_set_body_max(req, cfg->max_body);
    return DAI_HTTP_READ_BODY;
}

static void on_request(void *ud, struct dai_http_request *req)
{
    static const char busy[] = "the ingress is overloaded";
    struct ing_ctx *ctx = ud;
    struct ing_delivery *d = dai_http_state(req);
    int rc;

    if (!d) {
        if (dai_http_respond_error(req, 500, "internal", "no request state", NULL, 0))
            DAI_ERROR("cannot queue a 500 response");
        return;
    }
    d->submitted = true;
    d->deadline_us = dai_mono_us() + (long long)ctx->cfg->publish_timeout_ms * 1000;
    dai_http_suspend(req);
    rc = ing_pool_submit(ctx->pool, d);
    if (rc) {
        const struct dai_http_header h[] = {{"Retry-After", ctx->cfg->retry_after}};
        finish_error(d, 503, rc == -ECANCELED ? ING_R_SHUTTING_DOWN : ING_R_OVERLOADED,
                         rc == -ECANCELED ? "the ingress is shutting down" : busy, h, 1);
    }
}

/* The body missed http.request_timeout: common answers 408 and closes the
 * connection; the delivery is counted and logged here. */
static void on_timeout(void *ud, struct dai_http_request *req)
{
    struct ing_ctx *ctx = ud;
    struct ing_delivery *d = dai_http_state(req);

    if (!d)
        return;
    d->timed_out = true;
    count(ctx->stats, d->event, ING_R_REQUEST_TIMEOUT, NULL);
    log_delivery(d->guid, d->event_name, NULL, 408, "request_timeout", dai_http_started_us(req), NULL);
}

static void on_complete(void *ud, struct dai_http_request *req)
{
    struct ing_ctx *ctx = ud;
    struct ing_delivery *d = dai_http_state(req);

    if (!d)
        return;
    dai_http_set_state(req, NULL);
    if (!d->submitted && !d->timed_out) {
        /* Never reached on_request: the body was refused mid-way (a chunked
         * body over the cap, answered 413 by the server) or the client left. */
        if (dai_http_status(req) == 413) {
            count(ctx->stats, d->event, ING_R_TOO_LARGE, NULL);
            log_delivery(d->guid, d->event_name, NULL, 413, "payload_too_large",
                         dai_http_started_us(req), NULL);
        } else if (dai_http_status(req) == 503) {
            /* The body did not fit http.body_budget (answered by common). */
            count(ctx->stats, d->event, ING_R_OVERLOADED, NULL);
            log_delivery(d->guid, d->event_name, NULL, 503, "overloaded",
                         dai_http_started_us(req), NULL);
        } else {
            DAI_DEBUG("delivery abandoned by the client delivery_id=%s", d->guid);
        }
    }
    free(d);
}

const struct dai_http_handlers ing_webhook_handlers = {
    .on_headers = on_headers,
    .on_request = on_request,
    .on_complete = on_complete,
    .on_timeout = on_timeout,
};

/*---- the worker: verify, decode, normalise, publish ---------------------------*/

void ing_webhook_process(void *ud, struct ing_delivery *d, struct dai_buf *scratch,
                         struct dai_buf *event)
{
    struct ing_ctx *ctx = ud;
    const struct dai_buf *body = dai_http_body(d->req);
    const char *payload = body->data ? body->data : "";
    size_t len = body->len;
    long long t0 = dai_mono_us();
    char err[256];
    int rc;

    /* Signature first, over the exact bytes received, for every event: a
     * forged ping or an unknown event gets 401 like anything else. */
    rc = ing_verify(&ctx->verifier, payload, len, d->has_signature ? d->signature : NULL);
    if (rc < 0) {
        finish_error(d, 401, ING_R_SIGNATURE,
                         ing_verify_reason(d->has_signature ? d->signature : NULL), NULL, 0);
        return;
    }
    if (d->event == ING_EV_PING) {
        finish(d, 200, PONG, sizeof(PONG) - 1, ING_R_COUNT, "pong", NULL, 0);
        return;
    }
    if (d->event == ING_EV_OTHER || !ctx->cfg->accept[d->event]) {
        finish(d, 202, IGNORED, sizeof(IGNORED) - 1, ING_R_COUNT, "ignored", NULL, 0);
        return;
    }
    if (d->form) {
        rc = ing_form_payload(payload, len, scratch, err, sizeof(err));
        if (rc) {
            finish_error(d, rc == DAI_EPARSE ? 400 : 500,
                             rc == DAI_EPARSE ? ING_R_INVALID_BODY : ING_R_INTERNAL, err, NULL, 0);
            return;
        }
        payload = scratch->data ? scratch->data : "";
        len = scratch->len;
    }
    rc = ing_normalize(ctx->norm, d->event, payload, len, d->guid, d->received_ms, event,
                       &d->info, err, sizeof(err));
    dai_metric_observe(ctx->stats->process_time, (double)(dai_mono_us() - t0) / 1e6);
    switch (rc) {
    case 0:
        ing_publish(ctx->pub, d, event->data, event->len);
        return;
    case DAI_EPARSE:
        finish_error(d, 400, ING_R_INVALID_BODY, err, NULL, 0);
        return;
    case DAI_ESCHEMA:
        /* Signed and well-formed, but not a shape we can map: never lost,
         * acknowledged once it is on the dead-letter topic. */
        d->dead_letter = true;
        snprintf(d->dlq_reason, sizeof(d->dlq_reason), "schema: %.180s", err);
        ing_publish_dead_letter(ctx->pub, d, payload, len);
        return;
    default:
        finish_error(d, 500, ING_R_INTERNAL, dai_strerror(rc), NULL, 0);
        return;
    }
}
