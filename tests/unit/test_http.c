/* Unit tests for the HTTP server: a real libmicrohttpd server on 127.0.0.1
 * port 0, driven with libcurl (and raw sockets where curl hides the wire):
 * built-in routes, 405, 413 by Content-Length and mid-upload, JSON errors,
 * keep-alive, suspend/resume across threads (including a thousand requests
 * suspended at once), clients that vanish while suspended, stop while
 * suspended, and the idle timeout. */
#include <dispatchai/http.h>
#include <dispatchai/metrics.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PENDING 2048

/* What the test handlers share with the test bodies. */
struct fx {
    struct dai_http_server *srv;
    struct dai_metrics *metrics;
    char base[64];
    size_t cap;                         /* body cap set by on_headers for /echo */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct dai_http_request *pending[MAX_PENDING]; /* suspended, waiting for the test */
    size_t n_pending;
    unsigned completed;
    unsigned last_status;
    unsigned on_request_calls;
    unsigned timeouts;                  /* on_timeout calls */
    unsigned handler_errors; /* cmocka asserts cannot run on server threads */
    bool ready;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*---- handlers ---------------------------------------------------------------*/

static enum dai_http_next h_headers(void *ud, struct dai_http_request *req)
{
    struct fx *fx = ud;

    dai_http_set_route(req, "test");
    if (!strcmp(dai_http_url(req), "/echo"))
        dai_http_set_body_max(req, fx->cap);
    if (!strcmp(dai_http_url(req), "/deny")) {
        if (dai_http_respond_error(req, 401, "unauthorized", "no token", NULL, 0))
            return DAI_HTTP_READ_BODY;
        return DAI_HTTP_RESPONDED;
    }
    return DAI_HTTP_READ_BODY;
}

static void h_request(void *ud, struct dai_http_request *req)
{
    struct fx *fx = ud;
    char msg[64];
    int rc = 0;

    pthread_mutex_lock(&fx->mu);
    fx->on_request_calls++;
    pthread_mutex_unlock(&fx->mu);
    if (!strcmp(dai_http_url(req), "/echo")) {
        rc = dai_http_respond(req, 200, "application/octet-stream", dai_http_body(req)->data,
                              dai_http_body(req)->len, NULL, 0);
    } else if (!strcmp(dai_http_url(req), "/suspend")) {
        dai_http_suspend(req);
        pthread_mutex_lock(&fx->mu);
        fx->pending[fx->n_pending++] = req;
        pthread_cond_broadcast(&fx->cond);
        pthread_mutex_unlock(&fx->mu);
    } else if (!strcmp(dai_http_url(req), "/race")) {
        /* The owner answers before on_request has even returned. */
        dai_http_suspend(req);
        snprintf(msg, sizeof(msg), "raced");
        rc = dai_http_resume_with(req, 200, "text/plain", msg, strlen(msg), NULL, 0);
    } else if (!strcmp(dai_http_url(req), "/early")) {
        /* Resume first, suspend second: the suspend must become a no-op. */
        snprintf(msg, sizeof(msg), "early");
        rc = dai_http_resume_with(req, 200, "text/plain", msg, strlen(msg), NULL, 0);
        dai_http_suspend(req);
    } else if (!strcmp(dai_http_url(req), "/silent")) {
        /* Neither answers nor suspends: the server must answer 500. */
    } else {
        rc = dai_http_respond_error(req, 404, "not_found", "no such resource", NULL, 0);
    }
    if (rc) {
        pthread_mutex_lock(&fx->mu);
        fx->handler_errors++;
        pthread_mutex_unlock(&fx->mu);
    }
}

static void h_complete(void *ud, struct dai_http_request *req)
{
    struct fx *fx = ud;

    pthread_mutex_lock(&fx->mu);
    fx->completed++;
    fx->last_status = dai_http_status(req);
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->mu);
}

static void h_timeout(void *ud, struct dai_http_request *req)
{
    struct fx *fx = ud;

    pthread_mutex_lock(&fx->mu);
    fx->timeouts += strcmp(dai_http_route(req), "test") == 0;
    pthread_mutex_unlock(&fx->mu);
}

static bool h_ready(void *ud, char *why, size_t n)
{
    struct fx *fx = ud;
    bool ok;

    pthread_mutex_lock(&fx->mu);
    ok = fx->ready;
    pthread_mutex_unlock(&fx->mu);
    if (!ok)
        snprintf(why, n, "broker unreachable");
    return ok;
}

/* The next fx_start's http body budget (0 = none). */
static size_t fx_body_budget;

static struct fx *fx_start(int threads, int idle_ms, int per_ip, int request_timeout_ms)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct dai_http_options o = {0};
    char err[256];

    assert_non_null(fx);
    pthread_mutex_init(&fx->mu, NULL);
    pthread_cond_init(&fx->cond, NULL);
    fx->metrics = dai_metrics_new();
    fx->cap = 1024;
    o.bind = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    o.max_connections = 4000;
    o.per_ip_connections = per_ip;
    o.idle_timeout_ms = idle_ms;
    o.request_timeout_ms = request_timeout_ms;
    o.max_body = 4096;
    o.body_budget = fx_body_budget;
    o.busy_retry_after_s = 7;
    o.metrics = fx->metrics;
    o.ready = h_ready;
    o.ready_ud = fx;
    o.handlers.on_headers = h_headers;
    o.handlers.on_request = h_request;
    o.handlers.on_complete = h_complete;
    o.handlers.on_timeout = h_timeout;
    o.ud = fx;
    fx->srv = dai_http_start(&o, err, sizeof(err));
    if (!fx->srv)
        fail_msg("dai_http_start: %s", err);
    assert_true(dai_http_port(fx->srv) > 0);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", dai_http_port(fx->srv));
    return fx;
}

static void fx_stop(struct fx *fx)
{
    dai_http_stop(fx->srv);
    assert_int_equal(fx->handler_errors, 0);
    dai_metrics_free(fx->metrics);
    pthread_mutex_destroy(&fx->mu);
    pthread_cond_destroy(&fx->cond);
    free(fx);
}

/* Wait until at least n requests are parked in fx->pending. */
static void wait_pending(struct fx *fx, size_t n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    pthread_mutex_lock(&fx->mu);
    while (fx->n_pending < n && now_ms() < deadline) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&fx->cond, &fx->mu, &ts);
    }
    pthread_mutex_unlock(&fx->mu);
    assert_true(fx->n_pending >= n);
}

static void wait_completed(struct fx *fx, unsigned n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    unsigned got;

    for (;;) {
        pthread_mutex_lock(&fx->mu);
        got = fx->completed;
        pthread_mutex_unlock(&fx->mu);
        if (got >= n || now_ms() > deadline)
            break;
        usleep(5000);
    }
    assert_true(got >= n);
}

/*---- curl helpers -----------------------------------------------------------*/

struct reply {
    long status;
    struct dai_buf body;
    struct dai_buf headers;
    curl_off_t uploaded;
    CURLcode rc;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct dai_buf *b = ud;

    return dai_buf_append(b, p, sz * n) ? 0 : sz * n;
}

static void reply_free(struct reply *r)
{
    dai_buf_free(&r->body);
    dai_buf_free(&r->headers);
}

static CURL *easy_new(struct reply *r, const char *url)
{
    CURL *c = curl_easy_init();

    assert_non_null(c);
    memset(r, 0, sizeof(*r));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static void easy_done(CURL *c, struct reply *r)
{
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &r->uploaded);
}

static void request(struct fx *fx, const char *method, const char *path, const char *body,
                    struct reply *r)
{
    char url[256];
    CURL *c;

    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    c = easy_new(r, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    r->rc = curl_easy_perform(c);
    easy_done(c, r);
    curl_easy_cleanup(c);
}

static bool has_header(const struct reply *r, const char *line)
{
    return r->headers.data && strcasestr(r->headers.data, line) != NULL;
}

/*---- tests ------------------------------------------------------------------*/

static void test_http_health_and_keepalive(void **state)
{
    struct fx *fx = fx_start(2, 30000, 0, 0);
    struct reply r1, r2;
    char url[128];
    long connects = -1;
    CURL *c;
    (void)state;

    snprintf(url, sizeof(url), "%s/health", fx->base);
    c = easy_new(&r1, url);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    easy_done(c, &r1);
    assert_int_equal(r1.status, 200);
    assert_string_equal(r1.body.data, "{\"status\":\"ok\"}");
    assert_true(has_header(&r1, "Content-Type: application/json"));
    /* The same handle again: the connection must have been kept alive. */
    reply_free(&r1);
    memset(&r2, 0, sizeof(r2));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r2.body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r2.headers);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0);
    easy_done(c, &r2);
    assert_int_equal(r2.status, 200);
    reply_free(&r2);
    curl_easy_cleanup(c);
    fx_stop(fx);
}

static void test_http_ready_follows_callback(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    request(fx, "GET", "/ready", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data,
                        "{\"status\":\"not_ready\",\"reason\":\"broker unreachable\"}");
    reply_free(&r);
    pthread_mutex_lock(&fx->mu);
    fx->ready = true;
    pthread_mutex_unlock(&fx->mu);
    request(fx, "GET", "/ready", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"status\":\"ready\"}");
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_metrics_exposition(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    request(fx, "GET", "/health", NULL, &r);
    reply_free(&r);
    request(fx, "GET", "/nowhere", NULL, &r);
    assert_int_equal(r.status, 404);
    reply_free(&r);
    wait_completed(fx, 2, 5000);
    request(fx, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body.data, "# TYPE dai_http_requests_total counter\n"));
    assert_non_null(
        strstr(r.body.data, "dai_http_requests_total{route=\"health\",status=\"200\"} 1\n"));
    assert_non_null(
        strstr(r.body.data, "dai_http_requests_total{route=\"test\",status=\"404\"} 1\n"));
    assert_non_null(strstr(r.body.data,
                           "dai_http_request_duration_seconds_count{route=\"health\"} 1\n"));
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_method_not_allowed(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    request(fx, "POST", "/health", "{}", &r);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: GET, HEAD"));
    assert_string_equal(r.body.data, "{\"error\":{\"code\":\"method_not_allowed\","
                                     "\"message\":\"only GET and HEAD are allowed here\"}}");
    reply_free(&r);
    request(fx, "DELETE", "/metrics", NULL, &r);
    assert_int_equal(r.status, 405);
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_on_headers_answers(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    request(fx, "POST", "/deny", "secret payload", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body.data,
                        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"no token\"}}");
    reply_free(&r);
    assert_int_equal(fx->on_request_calls, 0);
    fx_stop(fx);
}

static void test_http_echo_body_within_cap(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    char body[1025];
    (void)state;

    memset(body, 'a', 1024);
    body[1024] = '\0';
    request(fx, "POST", "/echo", body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1024);
    assert_memory_equal(r.body.data, body, 1024);
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_413_by_content_length(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    char body[1026];
    (void)state;

    memset(body, 'b', 1025);
    body[1025] = '\0';
    request(fx, "POST", "/echo", body, &r);
    assert_int_equal(r.status, 413);
    assert_true(has_header(&r, "Connection: close"));
    assert_string_equal(r.body.data, "{\"error\":{\"code\":\"payload_too_large\","
                                     "\"message\":\"request body exceeds 1024 bytes\"}}");
    reply_free(&r);
    assert_int_equal(fx->on_request_calls, 0);
    wait_completed(fx, 1, 5000);
    assert_int_equal(fx->last_status, 413);
    fx_stop(fx);
}

struct upload {
    size_t total; /* bytes to offer */
    size_t sent;
};

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t room = sz * n, left = u->total - u->sent;
    size_t k = room < left ? room : left;

    memset(p, 'c', k);
    u->sent += k;
    return k;
}

static void chunked_post(struct fx *fx, const char *path, size_t total, struct reply *r,
                         struct upload *u)
{
    struct curl_slist *h = NULL;
    char url[128];
    CURL *c;

    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    c = easy_new(r, url);
    u->total = total;
    u->sent = 0;
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, u);
    r->rc = curl_easy_perform(c);
    easy_done(c, r);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
}

static void test_http_413_by_chunked_body(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct upload u;
    struct reply r;
    (void)state;

    /* Within the cap, chunked works. */
    chunked_post(fx, "/echo", 1000, &r, &u);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1000);
    reply_free(&r);

    /* 64 MiB offered against a 1 KiB cap: the 413 must arrive long before
     * the upload could have finished. */
    chunked_post(fx, "/echo", (size_t)64 << 20, &r, &u);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body.data, "{\"error\":{\"code\":\"payload_too_large\","
                                     "\"message\":\"request body exceeds 1024 bytes\"}}");
    assert_true(u.sent < (size_t)8 << 20);
    reply_free(&r);
    wait_completed(fx, 2, 5000);
    assert_int_equal(fx->last_status, 413);
    assert_int_equal(fx->on_request_calls, 1);
    assert_int_equal(dai_http_in_flight(fx->srv), 0);
    fx_stop(fx);
}

struct bg_post {
    struct fx *fx;
    const char *body;
    struct reply r;
    pthread_t th;
};

static void *bg_post_suspend(void *arg)
{
    struct bg_post *b = arg;

    request(b->fx, "POST", "/suspend", b->body, &b->r);
    return NULL;
}

/* The body budget: a body that does not fit next to those in flight is 503 +
 * Retry-After (before it is read, or mid-upload when chunked); once they
 * complete their bytes are released and the same request is served. */
static void test_http_body_budget(void **state)
{
    static char held[901], big[1002];
    struct bg_post b;
    struct upload u;
    struct reply r;
    struct fx *fx;
    (void)state;

    fx_body_budget = 1000;
    fx = fx_start(2, 30000, 0, 0);
    fx_body_budget = 0;
    memset(held, 'h', sizeof(held) - 1);
    memset(big, 'b', sizeof(big) - 1);
    /* Over the budget on its own: refused before the body is read. */
    request(fx, "POST", "/echo", big, &r);
    assert_int_equal(r.status, 503);
    assert_true(has_header(&r, "Retry-After: 7"));
    assert_non_null(strstr(r.body.data, "\"overloaded\""));
    reply_free(&r);
    assert_int_equal(fx->on_request_calls, 0);
    /* 900 bytes held by a suspended request... */
    b = (struct bg_post){.fx = fx, .body = held};
    assert_int_equal(pthread_create(&b.th, NULL, bg_post_suspend, &b), 0);
    wait_pending(fx, 1, 5000);
    /* ...leave no room for 200 more, with or without a Content-Length. */
    request(fx, "POST", "/echo", big + 800, &r);
    assert_int_equal(r.status, 503);
    reply_free(&r);
    chunked_post(fx, "/echo", 200, &r, &u);
    assert_int_equal(r.status, 503);
    assert_true(has_header(&r, "Retry-After: 7"));
    reply_free(&r);
    /* A body-less request is never refused. */
    request(fx, "GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    assert_int_equal(dai_http_resume_with(fx->pending[0], 202, "text/plain", "ok", 2, NULL, 0),
                     0);
    assert_int_equal(pthread_join(b.th, NULL), 0);
    assert_int_equal(b.r.status, 202);
    reply_free(&b.r);
    wait_completed(fx, 5, 5000);
    /* Released: the same 200 bytes now pass, both ways. */
    request(fx, "POST", "/echo", big + 800, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 201);
    reply_free(&r);
    chunked_post(fx, "/echo", 200, &r, &u);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_unanswered_is_500(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    request(fx, "GET", "/silent", NULL, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body.data, "\"code\":\"internal\""));
    reply_free(&r);
    fx_stop(fx);
}

struct bg {
    struct fx *fx;
    const char *path;
    struct reply r;
    pthread_t th;
};

static void *bg_get(void *arg)
{
    struct bg *b = arg;

    request(b->fx, "GET", b->path, NULL, &b->r);
    return NULL;
}

static void test_http_suspend_resume_other_thread(void **state)
{
    /* One server thread: /health must still be served while a request is
     * suspended, proving the suspended request holds no thread. */
    struct fx *fx = fx_start(1, 30000, 0, 0);
    static const struct dai_http_header hdr[] = {{"Retry-After", "3"}};
    struct bg b = {.fx = fx, .path = "/suspend"};
    struct reply r;
    (void)state;

    assert_int_equal(pthread_create(&b.th, NULL, bg_get, &b), 0);
    wait_pending(fx, 1, 5000);
    request(fx, "GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    /* The client can see the answer before the server has noted completion. */
    wait_completed(fx, 1, 5000);
    assert_int_equal(dai_http_in_flight(fx->srv), 1);
    assert_int_equal(dai_http_resume_with(fx->pending[0], 202, "application/json",
                                          "{\"status\":\"accepted\"}", 21, hdr, 1),
                     0);
    assert_int_equal(pthread_join(b.th, NULL), 0);
    assert_int_equal(b.r.status, 202);
    assert_string_equal(b.r.body.data, "{\"status\":\"accepted\"}");
    assert_true(has_header(&b.r, "Retry-After: 3"));
    reply_free(&b.r);
    wait_completed(fx, 2, 5000);
    assert_int_equal(dai_http_in_flight(fx->srv), 0);
    fx_stop(fx);
}

static void test_http_resume_races_ahead(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    (void)state;

    for (int i = 0; i < 50; i++) {
        request(fx, "GET", i % 2 ? "/race" : "/early", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.data, i % 2 ? "raced" : "early");
        reply_free(&r);
    }
    fx_stop(fx);
}

struct resumer {
    struct fx *fx;
    size_t n;
};

static void *resume_all(void *arg)
{
    struct resumer *rs = arg;
    char body[32];

    for (size_t i = 0; i < rs->n; i++) {
        struct dai_http_request *req = rs->fx->pending[i];
        const char *id = dai_http_query(req, "id");

        snprintf(body, sizeof(body), "done-%s", id ? id : "?");
        if (dai_http_resume_with(req, 200, "text/plain", body, strlen(body), NULL, 0))
            return NULL;
    }
    return rs;
}

#define MANY 1000

static void test_http_thousand_suspended(void **state)
{
    struct fx *fx = fx_start(2, 60000, 0, 0);
    static struct reply rs[MANY];
    CURL *easy[MANY];
    CURLM *m = curl_multi_init();
    struct resumer res = {.fx = fx, .n = MANY};
    pthread_t th;
    bool resumed = false;
    int running = 1;
    long long deadline = now_ms() + 60000;
    void *ret = NULL;
    (void)state;

    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    for (int i = 0; i < MANY; i++) {
        char url[128];

        snprintf(url, sizeof(url), "%s/suspend?id=%d", fx->base, i);
        easy[i] = easy_new(&rs[i], url);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &rs[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    while (running && now_ms() < deadline) {
        size_t parked;

        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 20, NULL);
        pthread_mutex_lock(&fx->mu);
        parked = fx->n_pending;
        pthread_mutex_unlock(&fx->mu);
        if (!resumed && parked == MANY) {
            /* Every request is suspended at once; now answer them all from
             * another thread. */
            assert_int_equal(dai_http_in_flight(fx->srv), MANY);
            assert_int_equal(pthread_create(&th, NULL, resume_all, &res), 0);
            resumed = true;
        }
    }
    assert_true(resumed);
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_ptr_equal(ret, &res);
    assert_int_equal(running, 0);
    for (int i = 0; i < MANY; i++) {
        char want[32];

        easy_done(easy[i], &rs[i]);
        snprintf(want, sizeof(want), "done-%d", i);
        assert_int_equal(rs[i].status, 200);
        assert_string_equal(rs[i].body.data, want);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        reply_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    wait_completed(fx, MANY, 10000);
    assert_int_equal(dai_http_in_flight(fx->srv), 0);
    fx_stop(fx);
}

static void test_http_client_gone_while_suspended(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 0);
    struct reply r;
    char url[128];
    CURL *c;
    (void)state;

    snprintf(url, sizeof(url), "%s/suspend", fx->base);
    c = easy_new(&r, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    reply_free(&r);
    wait_pending(fx, 1, 5000);
    /* The client is gone; the owner still resumes, and the server must
     * complete the request without crashing or leaking. */
    assert_int_equal(dai_http_in_flight(fx->srv), 1);
    assert_int_equal(dai_http_resume_with(fx->pending[0], 200, "text/plain", "late", 4, NULL, 0),
                     0);
    wait_completed(fx, 1, 5000);
    assert_int_equal(dai_http_in_flight(fx->srv), 0);
    request(fx, "GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    fx_stop(fx);
}

static void test_http_stop_while_suspended(void **state)
{
    struct fx *fx = fx_start(2, 30000, 0, 0);
    struct bg b = {.fx = fx, .path = "/suspend"};
    struct dai_http_request *req;
    (void)state;

    assert_int_equal(pthread_create(&b.th, NULL, bg_get, &b), 0);
    wait_pending(fx, 1, 5000);
    req = fx->pending[0];
    dai_http_stop(fx->srv);
    fx->srv = NULL;
    assert_int_equal(pthread_join(b.th, NULL), 0);
    assert_true(b.r.status == 503 || b.r.rc != CURLE_OK);
    reply_free(&b.r);
    assert_int_equal(fx->completed, 1);
    /* The owner's resume comes after the stop: it only releases. */
    assert_int_equal(dai_http_resume_with(req, 200, "text/plain", "late", 4, NULL, 0),
                     -ECANCELED);
    fx_stop(fx);
}

static void test_http_quiesce_keeps_in_flight(void **state)
{
    struct fx *fx = fx_start(2, 30000, 0, 0);
    struct bg b = {.fx = fx, .path = "/suspend"};
    struct reply r;
    (void)state;

    assert_int_equal(pthread_create(&b.th, NULL, bg_get, &b), 0);
    wait_pending(fx, 1, 5000);
    dai_http_quiesce(fx->srv);
    /* No new connections... */
    request(fx, "GET", "/health", NULL, &r);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
    reply_free(&r);
    /* ...but the request in flight is still answered. */
    assert_int_equal(dai_http_resume_with(fx->pending[0], 200, "text/plain", "drained", 7, NULL,
                                          0),
                     0);
    assert_int_equal(pthread_join(b.th, NULL), 0);
    assert_int_equal(b.r.status, 200);
    assert_string_equal(b.r.body.data, "drained");
    reply_free(&b.r);
    wait_completed(fx, 1, 5000);
    assert_int_equal(dai_http_in_flight(fx->srv), 0);
    fx_stop(fx);
}

static int connect_raw(struct fx *fx)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)dai_http_port(fx->srv));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Milliseconds until the server closes fd (recv returns 0 or an error), or -1. */
static long long ms_until_closed(int fd, int timeout_ms)
{
    long long start = now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];

    while (now_ms() - start < timeout_ms) {
        if (poll(&p, 1, 50) == 1) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);

            if (n <= 0)
                return now_ms() - start;
        }
    }
    return -1;
}

static void test_http_idle_timeout_closes(void **state)
{
    struct fx *fx = fx_start(1, 1000, 0, 0);
    int fd = connect_raw(fx);
    long long ms;
    (void)state;

    ms = ms_until_closed(fd, 5000);
    assert_true(ms >= 500 && ms < 4000);
    close(fd);
    fx_stop(fx);
}

/* A body trickling in (never idle) is cut off at request_timeout with a
 * complete 408 answer; the handler hears of it, on_request never runs. */
static void test_http_request_timeout_408(void **state)
{
    struct fx *fx = fx_start(1, 30000, 0, 1000);
    static const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    static const char want_body[] =
        "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request body was too slow\"}}";
    int fd = connect_raw(fx);
    char buf[1024], want_len[32];
    size_t got = 0;
    long long start = now_ms();
    bool closed = false;
    (void)state;

    assert_int_equal(send(fd, head, sizeof(head) - 1, 0), (ssize_t)(sizeof(head) - 1));
    /* One byte every 200 ms: well inside the 30 s idle timeout. */
    while (!closed && now_ms() - start < 5000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
            break;
        if (poll(&p, 1, 200) == 1) {
            ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

            if (n <= 0)
                closed = true;
            else
                got += (size_t)n;
        }
    }
    while (!closed && now_ms() - start < 6000) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

        if (n <= 0)
            closed = true;
        else
            got += (size_t)n;
    }
    buf[got] = '\0';
    assert_true(now_ms() - start < 2500);
    assert_true(got > 12);
    assert_memory_equal(buf, "HTTP/1.1 408", 12);
    snprintf(want_len, sizeof(want_len), "Content-Length: %zu\r\n", sizeof(want_body) - 1);
    assert_non_null(strstr(buf, want_len));
    assert_non_null(strstr(buf, "\r\n\r\n"));
    assert_string_equal(strstr(buf, "\r\n\r\n") + 4, want_body);
    close(fd);
    wait_completed(fx, 1, 3000);
    pthread_mutex_lock(&fx->mu);
    assert_int_equal(fx->timeouts, 1);
    assert_int_equal(fx->on_request_calls, 0);
    pthread_mutex_unlock(&fx->mu);
    /* The server goes on serving, and a body in time is not cut off. */
    {
        struct reply r = {0};
        request(fx, "POST", "/echo", "hello", &r);
        assert_int_equal(r.status, 200);
        reply_free(&r);
    }
    fx_stop(fx);
}

static void test_http_per_ip_limit(void **state)
{
    struct fx *fx = fx_start(1, 30000, 1, 0);
    int a = connect_raw(fx), b;
    static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512];
    ssize_t n;
    (void)state;

    /* The first connection is served... */
    assert_int_equal(send(a, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    n = recv(a, buf, sizeof(buf) - 1, 0);
    assert_true(n > 12);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    /* ...a second one from the same address while it is open is dropped. */
    b = connect_raw(fx);
    assert_true(ms_until_closed(b, 3000) >= 0);
    close(a);
    close(b);
    fx_stop(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_health_and_keepalive),
        cmocka_unit_test(test_http_ready_follows_callback),
        cmocka_unit_test(test_http_metrics_exposition),
        cmocka_unit_test(test_http_method_not_allowed),
        cmocka_unit_test(test_http_on_headers_answers),
        cmocka_unit_test(test_http_echo_body_within_cap),
        cmocka_unit_test(test_http_413_by_content_length),
        cmocka_unit_test(test_http_413_by_chunked_body),
        cmocka_unit_test(test_http_body_budget),
        cmocka_unit_test(test_http_unanswered_is_500),
        cmocka_unit_test(test_http_suspend_resume_other_thread),
        cmocka_unit_test(test_http_resume_races_ahead),
        cmocka_unit_test(test_http_thousand_suspended),
        cmocka_unit_test(test_http_client_gone_while_suspended),
        cmocka_unit_test(test_http_stop_while_suspended),
        cmocka_unit_test(test_http_quiesce_keeps_in_flight),
        cmocka_unit_test(test_http_idle_timeout_closes),
        cmocka_unit_test(test_http_request_timeout_408),
        cmocka_unit_test(test_http_per_ip_limit),
    };
    struct rlimit rl;
    int rc;

    /* A thousand client sockets plus a thousand server sockets in one process. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
