/* GET /ws: the RFC 6455 opening handshake on libmicrohttpd — header checks,
 * Sec-WebSocket-Accept, origin policy, the initial filter and ?since= from
 * the query string — then a 101 response whose upgrade callback hands the
 * socket to the fan-out loop. Everything after the handshake is fanout.c's
 * and session.c's. Authorisation was decided by rest.c before we get here. */
#include "ws.h"

#include "app.h"
#include "cors.h"
#include "fanout.h"
#include "match.h"
#include "options.h"
#include "text.h"

#include <dispatchai/http.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Each element of a comma-separated header value, trimmed: fn(b, n, ud) until
 * it returns true; true if one did. */
static bool each_item(const char *value, bool (*fn)(const char *, size_t, void *), void *ud)
{
    const char *p = value;

    while (p && *p) {
        const char *end = strchr(p, ',');
        const char *b = p, *e = end ? end : p + strlen(p);

        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (fn(b, (size_t)(e - b), ud))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

struct token_want {
    const char *token;
    size_t len;
};

static bool is_token(const char *b, size_t n, void *ud)
{
    const struct token_want *w = ud;

    return n == w->len && strncasecmp(b, w->token, n) == 0;
}

/* True if the comma-separated header value contains token (any case). */
static bool has_token(const char *value, const char *token)
{
    struct token_want w = {token, strlen(token)};

    return each_item(value, is_token, &w);
}

int gw_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, char *err, size_t errlen)
{
    unsigned char raw[20];
    int n;

    if (!method || strcmp(method, "GET") != 0) {
        snprintf(err, errlen, "the WebSocket handshake is a GET request");
        return 405;
    }
    if (!upgrade) {
        snprintf(err, errlen, "this endpoint speaks WebSocket: send Upgrade: websocket");
        return 426;
    }
    if (!has_token(upgrade, "websocket")) {
        snprintf(err, errlen, "Upgrade must be websocket");
        return 400;
    }
    if (!connection || !has_token(connection, "upgrade")) {
        snprintf(err, errlen, "Connection must include Upgrade");
        return 400;
    }
    if (!version || strcmp(version, "13") != 0) {
        snprintf(err, errlen, "Sec-WebSocket-Version must be 13");
        return 426;
    }
    /* 16 random bytes in standard base64: 24 characters ending in "==". */
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=') {
        snprintf(err, errlen, "Sec-WebSocket-Key must be 16 bytes in base64");
        return 400;
    }
    n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
    if (n != 18) { /* EVP_DecodeBlock counts the padding as two zero bytes */
        snprintf(err, errlen, "Sec-WebSocket-Key must be 16 bytes in base64");
        return 400;
    }
    return 0;
}


struct found {
    const char *p;
    size_t n;
};

static bool token_item(const char *b, size_t n, void *ud)
{
    struct found *f = ud;
    size_t pl = strlen(GW_WS_TOKEN_PROTOCOL);

    if (n <= pl || strncmp(b, GW_WS_TOKEN_PROTOCOL, pl) != 0)
        return false;
    f->p = b + pl;
    f->n = n - pl;
    return true;
}

static bool protocol_item(const char *b, size_t n, void *ud)
{
    (void)ud;
    return n == strlen(GW_WS_PROTOCOL) && !strncmp(b, GW_WS_PROTOCOL, n);
}

const char *gw_ws_protocol_token(const char *header, size_t *len)
{
    struct found f = {NULL, 0};

    if (!header || !each_item(header, token_item, &f))
        return NULL;
    *len = f.n;
    return f.p;
}

bool gw_ws_protocol_offered(const char *header)
{
    return header && each_item(header, protocol_item, NULL);
}

void gw_ws_accept(const char *key, char out[29])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

    SHA1((const unsigned char *)buf, n > 0 ? (size_t)n : 0, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

/* ---- upgrade ---------------------------------------------------------------- */

/* Per request (its state): the session's start parameters until the
 * upgrade callback moves them to the fan-out loop. rest.c frees it in
 * on_complete, which MHD runs after the upgrade callback. */
struct ws_pending {
    struct gw_app *app;
    struct gw_ws_start start;
};

static void on_upgrade(void *ud, int fd, const char *extra, size_t extra_len,
                       struct dai_http_upgraded *up)
{
    struct ws_pending *p = ud;

    gw_fanout_adopt(p->app->fanout, fd, up, extra, extra_len, &p->start);
}

void gw_ws_pending_free(void *state)
{
    struct ws_pending *p = state;

    if (!p)
        return;
    gw_match_clear(&p->start.filter);
    free(p);
}

static int ws_error(struct dai_http_request *req, unsigned status, const char *code,
                    const char *msg)
{
    static const struct dai_http_header h426[] = {{"Sec-WebSocket-Version", "13"},
                                                  {"Upgrade", "websocket"}};
    static const struct dai_http_header allow[] = {{"Allow", "GET"}};

    if (status == 426)
        return dai_http_respond_error(req, status, code, msg, h426, 2);
    if (status == 405)
        return dai_http_respond_error(req, status, code, msg, allow, 1);
    return dai_http_respond_error(req, status, code, msg, NULL, 0);
}

/* Query arguments of /ws: since, token (checked by rest.c) and the filter. */
static int ws_arg(void *ud, const char *key, const char *value)
{
    static const struct {
        const char *name;
        enum gw_field f;
    } fields[] = {
        {"repos", GW_F_REPO},   {"categories", GW_F_CATEGORY}, {"priorities", GW_F_PRIORITY},
        {"states", GW_F_STATE}, {"types", GW_F_TYPE},          {"assignees", GW_F_TEAM},
    };
    struct {
        struct gw_ws_start *start;
        char *err;
        size_t errlen;
        int rc;
    } *ctx = ud;

    if (!value)
        value = "";
    if (strcmp(key, "token") == 0)
        return 0;
    if (strcmp(key, "since") == 0) {
        if (gw_parse_u64(value, strlen(value), &ctx->start->since)) {
            snprintf(ctx->err, ctx->errlen, "since: expected a sequence number");
            ctx->rc = DAI_EINVAL;
            return ctx->rc;
        }
        ctx->start->has_since = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(key, fields[i].name) == 0) {
            ctx->rc = gw_match_add_csv(&ctx->start->filter, fields[i].f, value, ctx->err,
                                       ctx->errlen);
            return ctx->rc;
        }
    snprintf(ctx->err, ctx->errlen, "unknown query parameter \"%.40s\"", key);
    ctx->rc = DAI_EINVAL;
    return ctx->rc;
}

void gw_ws_handle(struct gw_app *app, struct dai_http_request *req, const char *who)
{
    const char *key = dai_http_header(req, "Sec-WebSocket-Key");
    const char *origin = dai_http_header(req, "Origin");
    struct ws_pending *p;
    struct dai_http_header hdrs[] = {{"Upgrade", "websocket"},
                                     {"Sec-WebSocket-Accept", NULL},
                                     {"Sec-WebSocket-Protocol", GW_WS_PROTOCOL}};
    char err[200], accept[29];
    struct {
        struct gw_ws_start *start;
        char *err;
        size_t errlen;
        int rc;
    } ctx;
    int status, rc;

    status = gw_ws_check_handshake(dai_http_method(req), dai_http_header(req, "Upgrade"),
                                   dai_http_header(req, "Connection"),
                                   dai_http_header(req, "Sec-WebSocket-Version"), key, err,
                                   sizeof(err));
    if (status) {
        rc = ws_error(req, (unsigned)status,
                      status == 405 ? "method_not_allowed"
                      : status == 426 ? "upgrade_required" : "bad_handshake", err);
        goto done;
    }
    /* Browsers always send Origin; other clients usually do not and are
     * left to the token check. */
    if (origin && !gw_ws_origin_allowed(app->cfg, origin)) {
        rc = ws_error(req, 403, "origin_forbidden", "this Origin may not open a WebSocket");
        goto done;
    }
    if (gw_fanout_clients(app->fanout) >= (unsigned)app->cfg->ws_max_clients) {
        rc = ws_error(req, 503, "too_many_clients", "the WebSocket client limit is reached");
        goto done;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        rc = ws_error(req, 500, "internal", "out of memory");
        goto done;
    }
    p->app = app;
    snprintf(p->start.who, sizeof(p->start.who), "%s", who);
    ctx.start = &p->start;
    ctx.err = err;
    ctx.errlen = sizeof(err);
    ctx.rc = 0;
    ctx.rc = dai_http_query_each(req, ws_arg, &ctx);
    if (ctx.rc) {
        gw_ws_pending_free(p);
        rc = ws_error(req, 400, "bad_request", err);
        goto done;
    }
    dai_http_set_state(req, p); /* freed by on_complete, after the upgrade callback ran */
    gw_ws_accept(key, accept);
    hdrs[1].value = accept;
    /* A client that offers our subprotocol (a browser sending its token
     * there) must get it selected, or the browser drops the connection. */
    rc = dai_http_upgrade(req, hdrs,
                          gw_ws_protocol_offered(dai_http_header(req, "Sec-WebSocket-Protocol"))
                              ? 3 : 2,
                          on_upgrade, p);
    if (rc == -ENOMEM)
        rc = ws_error(req, 500, "internal", "cannot build the upgrade response");
done:
    if (rc)
        DAI_WARN("websocket handshake answer failed rc=%d", rc);
}
