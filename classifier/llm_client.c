/* The LLM client: OpenAI-compatible Chat Completions on one thread driving a
 * libcurl multi handle (up to llm.max_concurrency requests at once), with
 * retries (backoff + jitter, Retry-After), the reply policy (repair turn,
 * smaller or longer retry after a cut reply: reply_policy.c), response-format
 * downgrade and the circuit breaker. Callers submit and drain on their own
 * thread; prompts and reply validation are prompt.c and verdict.c. */
#include "llm_client.h"

#include "reply_policy.h"
#include "verdict.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/err.h>
#include <dispatchai/log.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct llm_req {
    void *ud;
    json_t *body;              /* the request; messages grow on repair */
    enum cls_rf rf;            /* response_format in body */
    int attempts;              /* HTTP requests started */
    int retries;               /* retryable failures so far */
    struct cls_reply_history hist; /* what the reply policy already tried */
    bool probe;                /* this attempt is the breaker's half-open probe */
    long long due_ms;          /* monotonic ms at which a delayed retry may start */
    long long started_us;
    CURL *easy;
    char *payload;             /* body of the current attempt */
    struct dai_buf resp;       /* capped at llm.max_response_bytes */
    int retry_after_ms;
    int slot;                  /* index in cls_llm.slots while running */
    struct cls_llm_result result;
    struct llm_req *next;
};

struct list {
    struct llm_req *head, *tail;
};

struct cls_llm {
    const struct cls_config *cfg;
    const struct cls_prompt *prompt;
    const struct cls_teams *teams;
    struct cls_metrics *m;
    char *url;
    struct curl_slist *headers;
    CURLM *multi;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    struct list incoming, done;
    struct cls_breaker breaker;
    size_t pending;
    bool stop;
    /* thread only */
    struct list queue, delayed;
    struct llm_req **slots;    /* running transfers, llm.max_concurrency */
    int active;
    uint64_t rng;
    atomic_int rf;             /* sticky after a downgrade */
};

static long long mono_ms(void)
{
    return dai_mono_us() / 1000;
}

static void push(struct list *l, struct llm_req *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static struct llm_req *pop(struct list *l)
{
    struct llm_req *r = l->head;

    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = NULL;
        r->next = NULL;
    }
    return r;
}

static void req_free(struct llm_req *r)
{
    if (!r)
        return;
    json_decref(r->body);
    free(r->payload);
    dai_buf_free(&r->resp);
    free(r);
}

static void publish_breaker(struct cls_llm *l)
{
    static const double code[] = {0, 1, 2};
    CLS_SET(l->m ? l->m->circuit_state : NULL, code[l->breaker.state]);
}

/* Hand a finished request to the consumer thread. */
static void finish(struct cls_llm *l, struct llm_req *r, bool ok, const char *why)
{
    r->result.req_ud = r->ud;
    r->result.ok = ok;
    r->result.attempts = r->attempts;
    if (!ok) {
        snprintf(r->result.why, sizeof(r->result.why), "%s", why);
        CLS_ADD(l->m ? l->m->fallbacks : NULL, 1, why);
    }
    pthread_mutex_lock(&l->mu);
    push(&l->done, r);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/*---- one HTTP attempt ----------------------------------------------------*/

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct llm_req *r = ud;

    /* Returning less than given makes curl fail with CURLE_WRITE_ERROR: the
     * cap on the response body (llm.max_response_bytes). */
    return dai_buf_append(&r->resp, data, size * n) ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct llm_req *r = ud;
    size_t len = size * n;
    char value[128];

    if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        size_t vl = len - 12 < sizeof(value) - 1 ? len - 12 : sizeof(value) - 1;
        memcpy(value, data + 12, vl);
        value[vl] = '\0';
        r->retry_after_ms = cls_retry_after_parse(value, dai_now_ms());
    }
    return len;
}

static int start(struct cls_llm *l, struct llm_req *r)
{
    const struct cls_config *cfg = l->cfg;
    enum cls_rf known = (enum cls_rf)atomic_load(&l->rf);
    CURL *e;

    /* Built before another request learnt the server refuses this format:
     * use the rung that works instead of being refused once more. */
    if (known > r->rf && cls_prompt_set_format(l->prompt, r->body, known,
                                               r->hist.decision_only) == 0)
        r->rf = known;
    free(r->payload);
    r->payload = json_dumps(r->body, JSON_COMPACT);
    e = curl_easy_init();
    if (!r->payload || !e) {
        curl_easy_cleanup(e);
        return -ENOMEM;
    }
    dai_buf_reset(&r->resp);
    r->resp.max = cfg->llm_max_response_bytes;
    r->retry_after_ms = -1;
    curl_easy_setopt(e, CURLOPT_URL, l->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->payload));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->llm_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->llm_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dispatchai-classifier/" DAI_VERSION);
    r->easy = e;
    r->attempts++;
    r->started_us = dai_mono_us();
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        r->easy = NULL;
        return DAI_EINVAL;
    }
    for (r->slot = 0; l->slots[r->slot]; r->slot++)
        ;
    l->slots[r->slot] = r;
    l->active++;
    return 0;
}

/* Start queued requests while there is room, asking the breaker each time. */
static void start_queued(struct cls_llm *l)
{
    while (l->active < l->cfg->llm_max_concurrency && l->queue.head) {
        struct llm_req *r = pop(&l->queue);
        bool allowed = true, probe = r->probe;

        /* A probe sent again after a response-format downgrade is still the
         * probe: asking the half-open breaker again would refuse it. */
        if (!probe) {
            pthread_mutex_lock(&l->mu);
            allowed = cls_breaker_allow(&l->breaker, mono_ms(), &probe);
            publish_breaker(l);
            pthread_mutex_unlock(&l->mu);
        }
        if (!allowed) {
            finish(l, r, false, "circuit_open");
            continue;
        }
        if (probe && !r->probe)
            DAI_INFO("llm circuit half-open: sending a probe request");
        r->probe = probe;
        if (start(l, r)) {
            finish(l, r, false, "internal");
            if (probe) {
                pthread_mutex_lock(&l->mu);
                cls_breaker_failure(&l->breaker, mono_ms(), true);
                pthread_mutex_unlock(&l->mu);
            }
        }
    }
}

static void record_breaker(struct cls_llm *l, struct llm_req *r, bool ok)
{
    enum cls_breaker_state before;

    pthread_mutex_lock(&l->mu);
    before = l->breaker.state;
    if (ok)
        cls_breaker_success(&l->breaker, mono_ms(), r->probe);
    else
        cls_breaker_failure(&l->breaker, mono_ms(), r->probe);
    publish_breaker(l);
    if (before != l->breaker.state) {
        if (l->breaker.state == CLS_BREAKER_OPEN)
            DAI_WARN("llm circuit opened: classifying offline open_ms=%d", l->breaker.open_ms);
        else if (l->breaker.state == CLS_BREAKER_CLOSED)
            DAI_INFO("llm circuit closed: the LLM answers again");
    }
    pthread_mutex_unlock(&l->mu);
    r->probe = false;
}

static bool mentions_format(const char *msg)
{
    static const char *const words[] = {"response_format", "json_schema", "json_object",
                                        "schema", "structured"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasestr(msg, words[i]))
            return true;
    return false;
}

static const char *rf_name(enum cls_rf rf)
{
    switch (rf) {
    case CLS_RF_JSON_SCHEMA: return "json_schema";
    case CLS_RF_JSON_SCHEMA_UNBOUNDED: return "json_schema without length bounds";
    case CLS_RF_JSON_OBJECT: return "json_object";
    case CLS_RF_NONE: break;
    }
    return "plain instructions";
}

/* A 400 that complains about response_format: step down one rung (bounded
 * schema -> unbounded schema -> json_object -> plain instructions), remember
 * it for later requests, try again. */
static bool downgrade(struct cls_llm *l, struct llm_req *r)
{
    char msg[256];
    enum cls_rf next;

    if (r->rf == CLS_RF_NONE)
        return false;
    cls_verdict_error_message(r->resp.data ? r->resp.data : "", r->resp.len, msg, sizeof(msg));
    if (!mentions_format(msg))
        return false;
    next = (enum cls_rf)(r->rf + 1);
    if (cls_prompt_set_format(l->prompt, r->body, next, r->hist.decision_only))
        return false;
    /* Only ever down: a request still holding an older rung must not raise
     * the shared level back up. */
    for (int cur = atomic_load(&l->rf); cur < (int)next;)
        if (atomic_compare_exchange_weak(&l->rf, &cur, (int)next)) {
            char why[128]; /* the server's text: cut, and kept to one field */

            DAI_WARN("llm server refused response_format, using %s from now on reason=%s",
                     rf_name(next), dai_log_value(why, sizeof(why), msg));
            break;
        }
    r->rf = next;
    return true;
}

/* A failed attempt: count it, then retry after a backoff or give up. */
static void failed(struct cls_llm *l, struct llm_req *r, enum cls_llm_err kind, long status)
{
    struct cls_backoff b = {l->cfg->llm_backoff_base_ms, l->cfg->llm_backoff_max_ms,
                            l->cfg->llm_retry_after_max_ms, l->cfg->llm_max_retries};
    int delay;

    CLS_ADD(l->m ? l->m->llm_errors : NULL, 1, cls_llm_err_name(kind));
    /* An oversized reply says nothing about the server's health. */
    if (kind != CLS_LLM_ERR_TOO_BIG)
        record_breaker(l, r, false);
    if (!cls_llm_err_retryable(kind)) {
        DAI_WARN("llm request failed kind=%s status=%ld attempt=%d: classifying offline",
                 cls_llm_err_name(kind), status, r->attempts);
        finish(l, r, false, cls_llm_err_name(kind));
        return;
    }
    r->retries++;
    delay = cls_backoff_delay(&b, r->retries, r->retry_after_ms, &l->rng);
    DAI_DEBUG("llm request failed kind=%s status=%ld attempt=%d retry_in_ms=%d",
              cls_llm_err_name(kind), status, r->attempts, delay);
    if (delay < 0) {
        finish(l, r, false, cls_llm_err_name(kind));
        return;
    }
    r->due_ms = mono_ms() + delay;
    push(&l->delayed, r);
}

/* Apply the reply policy's next step to the request; false when it cannot
 * be applied (out of memory) and the request should give up. */
static bool retry_step(struct cls_llm *l, struct llm_req *r, enum cls_reply_step step,
                       const struct cls_completion *c, const char *problem)
{
    int tokens;

    switch (step) {
    case CLS_STEP_REPAIR:
        r->hist.repaired = true;
        return cls_prompt_add_repair(r->body, c->content, problem) == 0;
    case CLS_STEP_DECISION_ONLY:
        r->hist.decision_only = true;
        return cls_prompt_decision_only(l->prompt, r->body, r->rf) == 0;
    case CLS_STEP_MORE_TOKENS:
        tokens = cls_reply_more_tokens(r->hist.max_tokens);
        r->hist.tokens_raised = true;
        r->hist.max_tokens = tokens;
        return json_object_set_new(r->body, "max_tokens", json_integer(tokens)) == 0;
    case CLS_STEP_ACCEPT:
    case CLS_STEP_GIVE_UP:
        break;
    }
    return false;
}

/* A 200 answer: validate it, then accept it or let the reply policy decide
 * the retry (each one changes the request) or the offline fallback. */
static void handle_reply(struct cls_llm *l, struct llm_req *r)
{
    struct cls_completion c;
    enum cls_reply_kind kind;
    enum cls_reply_step step;
    char err[200];
    int rc;

    rc = cls_verdict_completion(r->resp.data ? r->resp.data : "", r->resp.len, &c, err,
                                sizeof(err));
    if (rc) {
        /* 200 without a chat completion: a broken proxy or server; retry. */
        CLS_ADD(l->m ? l->m->llm_requests : NULL, 1, "error");
        failed(l, r, CLS_LLM_ERR_MALFORMED, 200);
        return;
    }
    record_breaker(l, r, true);
    CLS_ADD(l->m ? l->m->llm_tokens : NULL, (double)c.prompt_tokens, "prompt");
    CLS_ADD(l->m ? l->m->llm_tokens : NULL, (double)c.completion_tokens, "completion");
    r->result.prompt_tokens += c.prompt_tokens;
    r->result.completion_tokens += c.completion_tokens;
    rc = cls_verdict_parse(c.content, strlen(c.content), l->teams, &r->result.cls, err,
                           sizeof(err));
    kind = cls_reply_kind_of(rc, c.finish_reason);
    step = cls_reply_next(kind, &r->hist);
    if (step == CLS_STEP_ACCEPT) {
        snprintf(r->result.model, sizeof(r->result.model), "%s",
                 c.model[0] ? c.model : l->cfg->llm_model);
        CLS_ADD(l->m ? l->m->llm_requests : NULL, 1, "ok");
        finish(l, r, true, "");
    } else {
        const char *name = cls_reply_kind_name(kind);

        CLS_ADD(l->m ? l->m->llm_errors : NULL, 1, name);
        CLS_ADD(l->m ? l->m->llm_requests : NULL, 1,
                kind == CLS_REPLY_CUT ? "length" : "invalid");
        if (dai_log_enabled(DAI_LOG_DEBUG)) {
            char why[DAI_LOG_VALUE_MAX]; /* may quote the model's reply */

            DAI_DEBUG("llm reply %s problem=%s completion_tokens=%lld max_tokens=%d next=%d",
                      name, dai_log_value(why, sizeof(why), err), c.completion_tokens,
                      r->hist.max_tokens, (int)step);
        }
        if (step != CLS_STEP_GIVE_UP && retry_step(l, r, step, &c, err)) {
            push(&l->queue, r);
        } else {
            if (kind == CLS_REPLY_CUT)
                DAI_WARN("llm reply cut at max_tokens=%d even for the decision alone: "
                         "classifying offline (raise llm.max_tokens)", r->hist.max_tokens);
            finish(l, r, false, name);
        }
    }
    cls_completion_free(&c);
}

static void done_transfer(struct cls_llm *l, CURL *e, CURLcode cc)
{
    struct llm_req *r = NULL;
    long status = 0;
    enum cls_llm_err kind;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(l->multi, e);
    curl_easy_cleanup(e);
    r->easy = NULL;
    l->slots[r->slot] = NULL;
    l->active--;
    CLS_OBSERVE(l->m ? l->m->llm_latency : NULL, (double)(dai_mono_us() - r->started_us) / 1e6);

    kind = cls_llm_err_classify((int)cc, status);
    if (kind == CLS_LLM_ERR_NONE) {
        handle_reply(l, r);
        return;
    }
    CLS_ADD(l->m ? l->m->llm_requests : NULL, 1, "error");
    if (kind == CLS_LLM_ERR_CLIENT && status == 400 && downgrade(l, r)) {
        push(&l->queue, r);
        return;
    }
    failed(l, r, kind, status);
}

/* Move due retries to the queue; returns ms until the next one (or cap). */
static int release_due(struct cls_llm *l, int cap)
{
    struct list keep = {0};
    struct llm_req *r;
    long long now = mono_ms();
    int wait = cap;
    bool open;

    pthread_mutex_lock(&l->mu);
    open = l->breaker.state == CLS_BREAKER_OPEN && now < l->breaker.open_until_ms;
    pthread_mutex_unlock(&l->mu);
    while ((r = pop(&l->delayed)) != NULL) {
        if (open) {
            /* No point waiting out a backoff the breaker will refuse. */
            finish(l, r, false, "circuit_open");
        } else if (r->due_ms <= now) {
            push(&l->queue, r);
        } else {
            if (r->due_ms - now < wait)
                wait = (int)(r->due_ms - now);
            push(&keep, r);
        }
    }
    l->delayed = keep;
    return wait;
}

static void *run(void *arg)
{
    struct cls_llm *l = arg;
    struct llm_req *r;
    CURLMsg *msg;
    int running, left, wait;

    for (;;) {
        pthread_mutex_lock(&l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        while ((r = pop(&l->incoming)) != NULL)
            push(&l->queue, r);
        pthread_mutex_unlock(&l->mu);

        wait = release_due(l, 100);
        start_queued(l);
        curl_multi_perform(l->multi, &running);
        while ((msg = curl_multi_info_read(l->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                done_transfer(l, msg->easy_handle, msg->data.result);
        if (l->queue.head && l->active < l->cfg->llm_max_concurrency)
            continue; /* repairs/downgrades queued just now */
        curl_multi_poll(l->multi, NULL, 0, wait, NULL);
    }
    return NULL;
}

/*---- public ----------------------------------------------------------------*/

static int build_url_headers(struct cls_llm *l)
{
    const struct cls_config *cfg = l->cfg;
    struct dai_buf b = {0};
    size_t blen = strlen(cfg->llm_base_url);
    struct curl_slist *h = NULL, *t;
    int rc;

    while (blen && cfg->llm_base_url[blen - 1] == '/')
        blen--;
    rc = dai_buf_appendf(&b, "%.*s/chat/completions%s%s", (int)blen, cfg->llm_base_url,
                         cfg->llm_query[0] ? "?" : "", cfg->llm_query);
    if (rc)
        return rc;
    l->url = dai_buf_take(&b);
    h = curl_slist_append(h, "Content-Type: application/json");
    if (h && (t = curl_slist_append(h, "Accept: application/json")))
        h = t;
    if (h && (t = curl_slist_append(h, "Expect:")))
        h = t;
    if (h && cfg->llm_api_key[0]) {
        rc = dai_buf_appendf(&b, "%s%s",
                             cls_config_auth(cfg) == CLS_AUTH_API_KEY ? "api-key: "
                                                                      : "Authorization: Bearer ",
                             cfg->llm_api_key);
        t = rc ? NULL : curl_slist_append(h, b.data);
        /* curl copied the header; wipe ours so the key lives in one place */
        if (b.data)
            memset(b.data, 0, b.len);
        dai_buf_free(&b);
        if (!t) {
            curl_slist_free_all(h);
            return -ENOMEM;
        }
        h = t;
    }
    l->headers = h;
    return h ? 0 : -ENOMEM;
}

struct cls_llm *cls_llm_new(const struct cls_llm_options *opt, char *err, size_t errlen)
{
    struct cls_llm *l = calloc(1, sizeof(*l));
    const struct cls_config *cfg = opt->cfg;

    if (!l) {
        snprintf(err, errlen, "llm: out of memory");
        return NULL;
    }
    l->cfg = cfg;
    l->prompt = opt->prompt;
    l->teams = opt->teams;
    l->m = opt->metrics;
    l->rng = (uint64_t)dai_mono_us() ^ ((uint64_t)(uintptr_t)l << 16) ^ 0x9e3779b97f4a7c15ULL;
    atomic_init(&l->rf, (int)cls_config_rf(cfg));
    cls_breaker_init(&l->breaker, cfg->breaker_failures, cfg->breaker_open_ms,
                     cfg->breaker_open_max_ms);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->slots = calloc((size_t)cfg->llm_max_concurrency, sizeof(*l->slots));
    if (!l->slots || build_url_headers(l)) {
        snprintf(err, errlen, "llm: out of memory");
        goto fail;
    }
    l->multi = curl_multi_init();
    if (!l->multi) {
        snprintf(err, errlen, "llm: curl_multi_init failed");
        goto fail;
    }
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->llm_max_concurrency);
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)cfg->llm_max_concurrency);
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        snprintf(err, errlen, "llm: cannot start the client thread");
        goto fail;
    }
    l->thread_started = true;
    publish_breaker(l);
    return l;
fail:
    cls_llm_free(l);
    return NULL;
}

static void free_list(struct list *li)
{
    struct llm_req *r;

    while ((r = pop(li)) != NULL)
        req_free(r);
}

void cls_llm_free(struct cls_llm *l)
{
    struct llm_req *r;

    if (!l)
        return;
    if (l->thread_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_mutex_unlock(&l->mu);
        curl_multi_wakeup(l->multi);
        pthread_join(l->thread, NULL);
    }
    /* Transfers still running are abandoned; their requests are freed. */
    for (int i = 0; l->slots && i < l->cfg->llm_max_concurrency; i++) {
        r = l->slots[i];
        if (!r)
            continue;
        curl_multi_remove_handle(l->multi, r->easy);
        curl_easy_cleanup(r->easy);
        req_free(r);
    }
    free(l->slots);
    if (l->multi)
        curl_multi_cleanup(l->multi);
    free_list(&l->incoming);
    free_list(&l->done);
    free_list(&l->queue);
    free_list(&l->delayed);
    curl_slist_free_all(l->headers);
    free(l->url);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int cls_llm_submit(struct cls_llm *l, const struct cls_issue_text *in, void *req_ud)
{
    struct llm_req *r;
    long long now = mono_ms();
    bool refuse;

    pthread_mutex_lock(&l->mu);
    /* Fast path while the breaker is open: offline at once, no thread hop. */
    refuse = (l->breaker.state == CLS_BREAKER_OPEN && now < l->breaker.open_until_ms) ||
             l->breaker.state == CLS_BREAKER_HALF_OPEN;
    pthread_mutex_unlock(&l->mu);
    if (refuse) {
        CLS_ADD(l->m ? l->m->fallbacks : NULL, 1, "circuit_open");
        return DAI_EQUEUEFULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->ud = req_ud;
    r->rf = (enum cls_rf)atomic_load(&l->rf);
    r->hist.max_tokens = l->prompt->max_tokens;
    r->body = cls_prompt_request(l->prompt, in, r->rf);
    if (!r->body) {
        free(r);
        return -ENOMEM;
    }
    pthread_mutex_lock(&l->mu);
    push(&l->incoming, r);
    l->pending++;
    CLS_SET(l->m ? l->m->llm_in_flight : NULL, (double)l->pending);
    pthread_mutex_unlock(&l->mu);
    curl_multi_wakeup(l->multi);
    return 0;
}

size_t cls_llm_drain(struct cls_llm *l, void (*fn)(void *ud, const struct cls_llm_result *r),
                     void *ud)
{
    struct list got;
    struct llm_req *r;
    size_t n = 0;

    pthread_mutex_lock(&l->mu);
    got = l->done;
    l->done.head = l->done.tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while ((r = pop(&got)) != NULL) {
        fn(ud, &r->result);
        req_free(r);
        n++;
    }
    if (n) {
        pthread_mutex_lock(&l->mu);
        l->pending -= n;
        CLS_SET(l->m ? l->m->llm_in_flight : NULL, (double)l->pending);
        pthread_mutex_unlock(&l->mu);
    }
    return n;
}

void cls_llm_wait(struct cls_llm *l, int timeout_ms)
{
    struct timespec ts;

    dai_realtime_after_ms(timeout_ms, &ts);
    pthread_mutex_lock(&l->mu);
    if (!l->done.head && !l->stop)
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    pthread_mutex_unlock(&l->mu);
}

size_t cls_llm_pending(struct cls_llm *l)
{
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->pending;
    pthread_mutex_unlock(&l->mu);
    return n;
}

enum cls_breaker_state cls_llm_breaker_state(struct cls_llm *l)
{
    enum cls_breaker_state s;

    pthread_mutex_lock(&l->mu);
    s = l->breaker.state;
    pthread_mutex_unlock(&l->mu);
    return s;
}
