/* Unit tests for gateway/static.c, the embedded dashboard files: content
 * types, exact-name lookup that no spelling of a parent directory gets
 * through (checked against a table that holds such names on purpose),
 * 404/405, ETag revalidation, gzip negotiation — first on the pure decision
 * function, then over a real libmicrohttpd server on 127.0.0.1 with a raw
 * socket client, so percent-encoded paths arrive exactly as a browser or an
 * attacker would send them. */
#include "../../gateway/static.h"

#include <dispatchai/http.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const unsigned char DATA[] = "hello";
static const unsigned char GZ[] = "\x1f\x8b-pretend";

/* A table with traps: entries whose names a path-normalising lookup could be
 * tricked into reaching. None of them may ever be served. */
static const struct gw_asset FAKE[] = {
    {"/web/index.html", DATA, 5, GZ, 10, "\"idx\"", "\"idx-gz\""},
    {"/web/app.js", DATA, 5, NULL, 0, "\"app\"", NULL},
    {"/web/../gateway.h", DATA, 5, NULL, 0, "\"t1\"", NULL},
    {"/web/.env", DATA, 5, NULL, 0, "\"t2\"", NULL},
    {"/web//app.js", DATA, 5, NULL, 0, "\"t3\"", NULL},
    {"/web/./app.js", DATA, 5, NULL, 0, "\"t4\"", NULL},
    {"/web/a%2fb", DATA, 5, NULL, 0, "\"t5\"", NULL},
    {"/web/dir/", DATA, 5, NULL, 0, "\"t6\"", NULL},
    {"/web/x\\y", DATA, 5, NULL, 0, "\"t7\"", NULL},
};
#define NFAKE (sizeof(FAKE) / sizeof(FAKE[0]))

static void decide(const char *method, const char *path, const char *inm, const char *ae,
                   struct gw_static_reply *r)
{
    gw_static_decide(method, path, inm, ae, FAKE, NFAKE, r);
}

/*---- pure ---------------------------------------------------------------*/

static void test_gw_static_content_types(void **state)
{
    (void)state;
    assert_string_equal(gw_static_content_type("/web/index.html"), "text/html; charset=utf-8");
    assert_string_equal(gw_static_content_type("/web/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(gw_static_content_type("/web/style.css"), "text/css; charset=utf-8");
    assert_string_equal(gw_static_content_type("/web/favicon.svg"), "image/svg+xml");
    assert_string_equal(gw_static_content_type("/web/logo.png"), "image/png");
    assert_string_equal(gw_static_content_type("/web/data.json"), "application/json");
    assert_string_equal(gw_static_content_type("/web/INDEX.HTML"), "text/html; charset=utf-8");
    assert_string_equal(gw_static_content_type("/web/archive.tar.gz"), "application/octet-stream");
    assert_string_equal(gw_static_content_type("/web/Makefile"), "application/octet-stream");
    /* A dot in a directory name is not an extension. */
    assert_string_equal(gw_static_content_type("/web.css/readme"), "application/octet-stream");
    assert_string_equal(gw_static_content_type("/web/trailing."), "application/octet-stream");
    assert_string_equal(gw_static_content_type(NULL), "application/octet-stream");
}

static void test_gw_static_owns_root_and_web(void **state)
{
    (void)state;
    assert_true(gw_static_owns("/"));
    assert_true(gw_static_owns("/web/app.js"));
    assert_true(gw_static_owns("/web/../../etc/passwd")); /* ours, so that we refuse it */
    assert_true(gw_static_owns("/web"));
    assert_false(gw_static_owns("/api/issues"));
    assert_false(gw_static_owns("/ws"));
    assert_false(gw_static_owns("/health"));
    assert_false(gw_static_owns("/webhook"));
    assert_false(gw_static_owns(""));
    assert_false(gw_static_owns(NULL));
}

static void test_gw_static_finds_exact_names(void **state)
{
    (void)state;
    assert_ptr_equal(gw_static_find("/", FAKE, NFAKE), &FAKE[0]);
    assert_ptr_equal(gw_static_find("/web/index.html", FAKE, NFAKE), &FAKE[0]);
    assert_ptr_equal(gw_static_find("/web/app.js", FAKE, NFAKE), &FAKE[1]);
    assert_null(gw_static_find("/web/APP.JS", FAKE, NFAKE));
    assert_null(gw_static_find("/web/app.js.map", FAKE, NFAKE));
    assert_null(gw_static_find("/web/app", FAKE, NFAKE));
    assert_null(gw_static_find("/web/", FAKE, NFAKE));
    assert_null(gw_static_find("/web", FAKE, NFAKE));
    assert_null(gw_static_find("", FAKE, NFAKE));
    assert_null(gw_static_find(NULL, FAKE, NFAKE));
}

static void test_gw_static_refuses_traversal(void **state)
{
    static const char *const bad[] = {
        "/web/../gateway.h", "/web/.env", "/web//app.js", "/web/./app.js", "/web/a%2fb",
        "/web/dir/", "/web/x\\y", "/web/../../../../etc/passwd", "/../web/app.js",
        "//web/app.js", "/web/app.js/", "/web/app.js/.", "/web/app.js/..", "/web/..",
        "/web/app.js\r\nX: y", "/web/app.js?x", "/web/app.js#x", "/web/\xc0\xae\xc0\xae/x",
        "web/app.js", "/web/ app.js",
    };
    char longp[400];
    struct gw_static_reply r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        decide("GET", bad[i], NULL, NULL, &r);
        if (r.status != 404)
            fail_msg("path %zu (%s) got %u, want 404", i, bad[i], r.status);
        assert_null(r.asset);
    }
    /* Over-long names are refused before any comparison. */
    memset(longp, 'a', sizeof(longp) - 1);
    memcpy(longp, "/web/", 5);
    longp[sizeof(longp) - 1] = '\0';
    assert_null(gw_static_find(longp, FAKE, NFAKE));
}

static void test_gw_static_unknown_is_404(void **state)
{
    struct gw_static_reply r;

    (void)state;
    decide("GET", "/web/missing.js", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    decide("HEAD", "/web/missing.js", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
}

static void test_gw_static_methods(void **state)
{
    static const char *const refused[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", ""};
    struct gw_static_reply r;

    (void)state;
    decide("GET", "/web/app.js", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_ptr_equal(r.asset, &FAKE[1]);
    decide("HEAD", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        decide(refused[i], "/web/app.js", NULL, NULL, &r);
        assert_int_equal(r.status, 405);
    }
    decide(NULL, "/", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    /* 405 wins over 404: the method is wrong whatever the path. */
    decide("POST", "/web/nope", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
}

static void test_gw_static_etag_revalidation(void **state)
{
    struct gw_static_reply r;

    (void)state;
    decide("GET", "/web/app.js", "\"app\"", NULL, &r);
    assert_int_equal(r.status, 304);
    assert_string_equal(r.etag, "\"app\"");
    decide("GET", "/web/app.js", "W/\"app\"", NULL, &r); /* weak comparison */
    assert_int_equal(r.status, 304);
    decide("GET", "/web/app.js", "\"x\", \"y\" ,\"app\"", NULL, &r);
    assert_int_equal(r.status, 304);
    decide("GET", "/web/app.js", "*", NULL, &r);
    assert_int_equal(r.status, 304);
    decide("GET", "/web/app.js", "\"ap\"", NULL, &r);
    assert_int_equal(r.status, 200);
    decide("GET", "/web/app.js", "\"app", NULL, &r); /* unterminated */
    assert_int_equal(r.status, 200);
    decide("GET", "/web/app.js", "\"app\"x", NULL, &r);
    assert_int_equal(r.status, 200);
    decide("GET", "/web/app.js", "", NULL, &r);
    assert_int_equal(r.status, 200);
    decide("GET", "/web/app.js", " , ,", NULL, &r);
    assert_int_equal(r.status, 200);
    /* The gzip variant has its own validator: the identity one does not
     * revalidate it, and vice versa. */
    decide("GET", "/", "\"idx\"", "gzip", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.gzip);
    decide("GET", "/", "\"idx-gz\"", "gzip", &r);
    assert_int_equal(r.status, 304);
    decide("GET", "/", "\"idx-gz\"", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_false(r.gzip);
}

static void test_gw_static_gzip_negotiation(void **state)
{
    static const struct {
        const char *ae;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"gzip, deflate, br", true},
        {"br;q=1.0, gzip;q=0.8", true},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"gzip;q=0.001", true},
        {"deflate, x-gzip", true},
        {"identity", false},
        {"*", true},
        {"*;q=0", false},
        {"*, gzip;q=0", false},
        {"gzipx", false},
        {"br", false},
    };
    struct gw_static_reply r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        decide("GET", "/", NULL, cases[i].ae, &r);
        assert_int_equal(r.status, 200);
        if (r.gzip != cases[i].gzip)
            fail_msg("Accept-Encoding %s: gzip=%d, want %d", cases[i].ae ? cases[i].ae : "(none)",
                     r.gzip, cases[i].gzip);
        assert_string_equal(r.etag, r.gzip ? "\"idx-gz\"" : "\"idx\"");
    }
    /* An asset without a gzip copy is always sent as is. */
    decide("GET", "/web/app.js", NULL, "gzip", &r);
    assert_false(r.gzip);
}

/* The generated table holds the real dashboard: an index, a script and a
 * stylesheet, each with a known type, a quoted validator, and a gzip copy
 * that really is gzip. */
static void test_gw_static_embedded_dashboard(void **state)
{
    const struct gw_asset *idx, *js, *css;

    (void)state;
    assert_true(gw_web_assets_n >= 3);
    idx = gw_static_find("/", gw_web_assets, gw_web_assets_n);
    js = gw_static_find("/web/app.js", gw_web_assets, gw_web_assets_n);
    css = gw_static_find("/web/style.css", gw_web_assets, gw_web_assets_n);
    assert_non_null(idx);
    assert_non_null(js);
    assert_non_null(css);
    assert_true(idx->len > 15);
    assert_memory_equal(idx->data, "<!doctype html>", 15);
    assert_non_null(memmem(idx->data, idx->len, "/web/app.js", 11));
    for (size_t i = 0; i < gw_web_assets_n; i++) {
        const struct gw_asset *a = &gw_web_assets[i];

        assert_int_equal(strncmp(a->path, GW_STATIC_PREFIX, strlen(GW_STATIC_PREFIX)), 0);
        assert_ptr_equal(gw_static_find(a->path, gw_web_assets, gw_web_assets_n), a);
        assert_string_not_equal(gw_static_content_type(a->path), "application/octet-stream");
        assert_true(a->len > 0);
        assert_int_equal(a->etag[0], '"');
        assert_int_equal(a->etag[strlen(a->etag) - 1], '"');
        if (a->gz) {
            assert_true(a->gz_len < a->len);
            assert_int_equal(a->gz[0], 0x1f);
            assert_int_equal(a->gz[1], 0x8b);
            assert_non_null(a->gz_etag);
            assert_string_not_equal(a->gz_etag, a->etag);
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(gw_web_assets[j].etag, a->etag);
    }
}

/*---- over HTTP ------------------------------------------------------------*/

struct srv {
    struct dai_http_server *http;
    int port;
};

static void h_request(void *ud, struct dai_http_request *req)
{
    int rc;

    (void)ud;
    if (gw_static_owns(dai_http_url(req)))
        rc = gw_static_serve(req, dai_http_url(req));
    else
        rc = dai_http_respond_error(req, 418, "elsewhere", "not a static path", NULL, 0);
    (void)rc; /* a failed queue shows up as the client's missing answer */
}

static int srv_setup(void **state)
{
    struct srv *s = calloc(1, sizeof(*s));
    struct dai_http_options o = {0};
    char err[256];

    if (!s)
        return -1;
    o.bind = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.max_connections = 64;
    o.idle_timeout_ms = 5000;
    o.max_body = 4096;
    o.handlers.on_request = h_request;
    s->http = dai_http_start(&o, err, sizeof(err));
    if (!s->http) {
        fprintf(stderr, "dai_http_start: %s\n", err);
        free(s);
        return -1;
    }
    s->port = dai_http_port(s->http);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    struct srv *s = *state;

    dai_http_stop(s->http);
    free(s);
    return 0;
}

struct resp {
    unsigned status;
    char head[4096]; /* status line and headers, NUL-terminated */
    char *body;
    size_t body_len;
    char raw[262144];
};

/* Send a raw request (Connection: close) and read until EOF. */
static void raw_request(int port, const char *req, struct resp *r)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t got = 0;
    char *end;

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        assert_true(poll(&p, 1, 5000) == 1);
        n = recv(fd, r->raw + got, sizeof(r->raw) - 1 - got, 0);
        assert_true(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
        assert_true(got < sizeof(r->raw) - 1);
    }
    close(fd);
    r->raw[got] = '\0';
    end = strstr(r->raw, "\r\n\r\n");
    assert_non_null(end);
    assert_true((size_t)(end - r->raw) < sizeof(r->head));
    memcpy(r->head, r->raw, (size_t)(end - r->raw) + 2);
    r->head[end - r->raw + 2] = '\0';
    r->body = end + 4;
    r->body_len = got - (size_t)(r->body - r->raw);
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %u", &r->status), 1);
}

/* Value of a response header (case-insensitive name), copied into out. */
static bool header(const struct resp *r, const char *name, char *out, size_t n)
{
    size_t len = strlen(name);

    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");

        if (eol && strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;

            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(eol - v), v);
            return true;
        }
    }
    return false;
}

static void get(int port, const char *method, const char *path, const char *extra,
                struct resp *r)
{
    char req[1024];

    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
             method, path, extra ? extra : "");
    raw_request(port, req, r);
}

static void test_gw_static_http_index_and_headers(void **state)
{
    struct srv *s = *state;
    struct resp *r = calloc(1, sizeof(*r));
    const struct gw_asset *idx = gw_static_find("/", gw_web_assets, gw_web_assets_n);
    char v[512];

    assert_non_null(r);
    get(s->port, "GET", "/", NULL, r);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_true(header(r, "ETag", v, sizeof(v)));
    assert_string_equal(v, idx->etag);
    assert_true(header(r, "Cache-Control", v, sizeof(v)));
    assert_string_equal(v, "no-cache");
    assert_true(header(r, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    assert_true(header(r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "script-src 'self'"));
    assert_false(header(r, "Content-Encoding", v, sizeof(v)));
    assert_int_equal(r->body_len, idx->len);
    assert_memory_equal(r->body, idx->data, idx->len);

    get(s->port, "GET", "/web/app.js", NULL, r);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/javascript; charset=utf-8");
    get(s->port, "GET", "/web/style.css", NULL, r);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/css; charset=utf-8");
    free(r);
}

static void test_gw_static_http_revalidate_and_gzip(void **state)
{
    struct srv *s = *state;
    struct resp *r = calloc(1, sizeof(*r));
    const struct gw_asset *js = gw_static_find("/web/app.js", gw_web_assets, gw_web_assets_n);
    char v[512], extra[256];

    assert_non_null(r);
    snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", js->etag);
    get(s->port, "GET", "/web/app.js", extra, r);
    assert_int_equal(r->status, 304);
    assert_int_equal(r->body_len, 0);
    assert_true(header(r, "ETag", v, sizeof(v)));
    assert_string_equal(v, js->etag);

    assert_non_null(js->gz); /* a 30 KiB script always compresses */
    get(s->port, "GET", "/web/app.js", "Accept-Encoding: gzip, br\r\n", r);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Encoding", v, sizeof(v)));
    assert_string_equal(v, "gzip");
    assert_true(header(r, "Vary", v, sizeof(v)));
    assert_string_equal(v, "Accept-Encoding");
    assert_int_equal(r->body_len, js->gz_len);
    assert_memory_equal(r->body, js->gz, js->gz_len);
    free(r);
}

static void test_gw_static_http_head_404_405(void **state)
{
    struct srv *s = *state;
    struct resp *r = calloc(1, sizeof(*r));
    const struct gw_asset *css = gw_static_find("/web/style.css", gw_web_assets, gw_web_assets_n);
    char v[512], want[32];

    assert_non_null(r);
    get(s->port, "HEAD", "/web/style.css", NULL, r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_true(header(r, "Content-Length", v, sizeof(v)));
    snprintf(want, sizeof(want), "%zu", css->len);
    assert_string_equal(v, want);

    get(s->port, "GET", "/web/nope.js", NULL, r);
    assert_int_equal(r->status, 404);
    assert_true(header(r, "Content-Type", v, sizeof(v)));
    assert_non_null(strstr(v, "application/json"));
    assert_non_null(strstr(r->body, "\"code\":\"not_found\""));

    get(s->port, "DELETE", "/web/app.js", NULL, r);
    assert_int_equal(r->status, 405);
    assert_true(header(r, "Allow", v, sizeof(v)));
    assert_string_equal(v, "GET, HEAD");
    assert_non_null(strstr(r->body, "\"code\":\"method_not_allowed\""));
    free(r);
}

/* Whatever the encoding, a path that leaves /web/ never reads anything: the
 * server decodes %2e and %2f before we see the path, and the lookup refuses
 * every form. The body must be the JSON error, never a file. */
static void test_gw_static_http_traversal_refused(void **state)
{
    static const char *const bad[] = {
        "/web/../gateway/static.c", "/web/%2e%2e/gateway/static.c", "/web/%2E%2E%2Fstatic.c",
        "/web/..%2fstatic.c", "/web/%252e%252e/static.c", "/web/.%2e/.%2e/etc/passwd",
        "/web//etc/passwd", "/web/%00app.js", "/web/app.js%20",
        "/web/..%5cstatic.c", "/web/%c0%ae%c0%ae/static.c", "/web/./index.html",
    };
    struct srv *s = *state;
    struct resp *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        get(s->port, "GET", bad[i], NULL, r);
        /* 404 from us, or 400 if the HTTP layer refuses the request line. */
        if (r->status != 404 && r->status != 400)
            fail_msg("%s: status %u", bad[i], r->status);
        assert_null(strstr(r->body, "#include"));
        assert_null(strstr(r->body, "root:"));
    }
    /* MHD decodes %00 into a NUL that ends the path string, so the most a
     * trailing %00 can reach is the embedded file named before it. */
    get(s->port, "GET", "/web/app.js%00.html", NULL, r);
    if (r->status == 200) {
        const struct gw_asset *js = gw_static_find("/web/app.js", gw_web_assets, gw_web_assets_n);
        char v[128];

        assert_true(header(r, "Content-Type", v, sizeof(v)));
        assert_string_equal(v, "text/javascript; charset=utf-8");
        assert_int_equal(r->body_len, js->len);
    } else {
        assert_true(r->status == 404 || r->status == 400);
    }
    free(r);
}

int main(void)
{
    /* One group (the unit runner reads one cmocka summary per binary); the
     * HTTP tests each get a fresh server on a free port. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gw_static_content_types),
        cmocka_unit_test(test_gw_static_owns_root_and_web),
        cmocka_unit_test(test_gw_static_finds_exact_names),
        cmocka_unit_test(test_gw_static_refuses_traversal),
        cmocka_unit_test(test_gw_static_unknown_is_404),
        cmocka_unit_test(test_gw_static_methods),
        cmocka_unit_test(test_gw_static_etag_revalidation),
        cmocka_unit_test(test_gw_static_gzip_negotiation),
        cmocka_unit_test(test_gw_static_embedded_dashboard),
        cmocka_unit_test_setup_teardown(test_gw_static_http_index_and_headers, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_gw_static_http_revalidate_and_gzip, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_gw_static_http_head_404_405, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_gw_static_http_traversal_refused, srv_setup,
                                        srv_teardown),
    };

    return cmocka_run_group_tests_name("gw_static", tests, NULL, NULL);
}
