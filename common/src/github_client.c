/* The GitHub REST client: requests with GitHub's headers (one exchange is
 * github_exchange.c's), App or token authentication with one cached installation token per
 * installation, the retry loop driven by dai_github_decide, writes
 * serialised and spaced per installation, and the dai_github_* metrics.
 * JWTs, header parsing and wait rules are in the pure github_*.c files. */
#include <dispatchai/github.h>
#include <dispatchai/clock.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "github_internal.h"

/*---- setup ----------------------------------------------------------------*/

enum dai_github_auth dai_github_auth_mode(const struct dai_github_config *cfg)
{
    if (cfg->app_id && cfg->app_id[0] && cfg->private_key_file && cfg->private_key_file[0])
        return DAI_GH_AUTH_APP;
    if (cfg->token && cfg->token[0])
        return DAI_GH_AUTH_TOKEN;
    return DAI_GH_AUTH_NONE;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct dai_github *gh = ud;

    (void)h;
    (void)access;
    pthread_mutex_lock(&gh->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct dai_github *gh = ud;

    (void)h;
    pthread_mutex_unlock(&gh->share_mu[data]);
}

static void inst_init(struct inst *in, long long id)
{
    memset(in, 0, sizeof(*in));
    in->id = id;
    pthread_mutex_init(&in->token_mu, NULL);
    pthread_mutex_init(&in->write_mu, NULL);
    atomic_store(&in->rl_remaining, -1);
    atomic_store(&in->rl_reset, -1);
}

static void inst_destroy(struct inst *in)
{
    pthread_mutex_destroy(&in->token_mu);
    pthread_mutex_destroy(&in->write_mu);
    OPENSSL_cleanse(in->token, sizeof(in->token));
}

static int parse_id(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return (errno || end == s || *end || *out <= 0) ? DAI_EINVAL : 0;
}

struct dai_github *dai_github_new(const struct dai_github_config *cfg, struct dai_metrics *reg,
                                  char *err, size_t errlen)
{
    struct dai_github *gh = calloc(1, sizeof(*gh));
    size_t n;

    if (!gh) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    gh->cfg = cfg;
    gh->auth = dai_github_auth_mode(cfg);
    pthread_mutex_init(&gh->mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&gh->share_mu[i], NULL);
    inst_init(&gh->token_inst, 0);
    gh->policy = (struct dai_github_policy){
        .max_retries = cfg->max_retries,
        .max_rate_waits = cfg->max_rate_waits,
        .max_wait_ms = cfg->max_wait_ms,
        .base_ms = 500,
        .cap_ms = 30000,
    };
    if (gh->auth == DAI_GH_AUTH_NONE) {
        snprintf(err, errlen, "no GitHub credentials: set github.app_id and "
                 "github.private_key_file (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE) or "
                 "github.token (GITHUB_TOKEN)");
        goto fail;
    }
    if (cfg->installation_id && cfg->installation_id[0] &&
        parse_id(cfg->installation_id, &gh->fixed_inst)) {
        snprintf(err, errlen, "github.installation_id must be a positive number");
        goto fail;
    }
    if (gh->auth == DAI_GH_AUTH_APP) {
        gh->key = dai_github_key_load(cfg->private_key_file, err, errlen);
        if (!gh->key)
            goto fail;
    } else {
        dai_log_add_secret(cfg->token);
    }
    n = strlen(cfg->api_url);
    while (n > 0 && cfg->api_url[n - 1] == '/')
        n--;
    if (n < 8 || (strncmp(cfg->api_url, "https://", 8) && strncmp(cfg->api_url, "http://", 7))) {
        snprintf(err, errlen, "github.api_url must be an http(s) URL");
        goto fail;
    }
    gh->base = strndup(cfg->api_url, n);
    gh->share = curl_share_init();
    if (!gh->base || !gh->share) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    curl_share_setopt(gh->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(gh->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(gh->share, CURLSHOPT_USERDATA, gh);
    curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    if (reg) {
        gh->m_requests = dai_metric_counter(reg, "dai_github_requests_total",
                                            "GitHub requests by kind and answer class",
                                            "kind,status");
        gh->m_remaining = dai_metric_gauge(reg, "dai_github_rate_limit_remaining",
                                           "x-ratelimit-remaining of the last answer",
                                           "installation");
        gh->m_waits = dai_metric_counter(reg, "dai_github_retry_waits_total",
                                         "Waits before a retry, by reason", "reason");
        gh->m_wait_s = dai_metric_counter(reg, "dai_github_retry_wait_seconds_total",
                                          "Seconds spent waiting before retries", "reason");
        gh->m_errors = dai_metric_counter(reg, "dai_github_errors_total",
                                          "Requests given up or failed before an answer",
                                          "reason");
        gh->m_tokens = dai_metric_counter(reg, "dai_github_token_requests_total",
                                          "Installation tokens requested", NULL);
    }
    return gh;
fail:
    dai_github_free(gh);
    return NULL;
}

void dai_github_free(struct dai_github *gh)
{
    struct inst *in, *next;

    if (!gh)
        return;
    for (in = gh->insts; in; in = next) {
        next = in->next;
        inst_destroy(in);
        free(in);
    }
    inst_destroy(&gh->token_inst);
    if (gh->share)
        curl_share_cleanup(gh->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&gh->share_mu[i]);
    pthread_mutex_destroy(&gh->mu);
    EVP_PKEY_free(gh->key);
    free(gh->base);
    free(gh);
}

void dai_github_get_stats(struct dai_github *gh, struct dai_github_stats *st)
{
    st->requests = atomic_load(&gh->requests);
    st->token_requests = atomic_load(&gh->token_requests);
    st->waits = atomic_load(&gh->waits);
    st->errors = atomic_load(&gh->errors);
}

/*---- authentication ----------------------------------------------------------------*/

static int url_for(struct dai_github *gh, const char *path, char *out, size_t n, char *err,
                   size_t errlen)
{
    size_t bl = strlen(gh->base);
    int len;

    /* A full URL (Link next) must be under our API URL: tokens go nowhere else. */
    if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
        if (strncmp(path, gh->base, bl) != 0 || (path[bl] != '/' && path[bl] != '\0')) {
            snprintf(err, errlen, "URL outside github.api_url refused");
            return DAI_EINVAL;
        }
        len = snprintf(out, n, "%s", path);
    } else {
        len = snprintf(out, n, "%s%s", gh->base, path);
    }
    if (len < 0 || (size_t)len >= n) {
        snprintf(err, errlen, "request URL too long");
        return DAI_ETOOBIG;
    }
    return 0;
}

static int jwt_auth(struct dai_github *gh, char *out, size_t n, char *err, size_t errlen)
{
    char jwt[DAI_GITHUB_JWT_MAX];
    int rc = dai_github_jwt(gh->cfg->app_id, gh->key, (long long)time(NULL), jwt, sizeof(jwt));

    if (rc) {
        snprintf(err, errlen, "cannot sign the App JWT: %s", dai_strerror(rc));
        return DAI_EAUTH;
    }
    snprintf(out, n, "Bearer %s", jwt);
    OPENSSL_cleanse(jwt, sizeof(jwt));
    return 0;
}

static int run(struct dai_github *gh, struct inst *in, const char *kind,
               enum dai_github_method method, const char *url, const char *body, const char *inm,
               bool jwt, struct dai_github_response *resp, char *err, size_t errlen);

/* Exchange a fresh JWT for an installation token; called with in->token_mu held. */
static int fetch_token(struct dai_github *gh, struct inst *in, char *err, size_t errlen)
{
    struct dai_github_response r = {0};
    char path[96], url[2048];
    json_t *doc = NULL;
    const char *tok, *exp;
    long long expires;
    int rc;

    snprintf(path, sizeof(path), "/app/installations/%lld/access_tokens", in->id);
    rc = url_for(gh, path, url, sizeof(url), err, errlen);
    if (rc)
        return rc;
    atomic_fetch_add(&gh->token_requests, 1);
    if (gh->m_tokens)
        dai_metric_add(gh->m_tokens, 1);
    rc = run(gh, in, "token", DAI_GH_POST, url, NULL, NULL, true, &r, err, errlen);
    if (rc)
        goto done;
    if (r.status != 201 && r.status != 200) {
        snprintf(err, errlen, "installation token for installation %lld refused: HTTP %ld",
                 in->id, r.status);
        rc = DAI_EAUTH;
        goto done;
    }
    doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    tok = dai_json_str(doc, "token", NULL);
    exp = dai_json_str(doc, "expires_at", NULL);
    if (!tok || !exp || strlen(tok) >= sizeof(in->token) ||
        dai_github_parse_time(exp, &expires)) {
        snprintf(err, errlen, "installation token answer without token/expires_at");
        rc = DAI_EAUTH;
        goto done;
    }
    snprintf(in->token, sizeof(in->token), "%s", tok);
    dai_log_add_secret(in->token);
    in->issued_s = (long long)time(NULL);
    in->expires_s = expires;
    DAI_INFO("github installation token obtained installation=%lld expires_in_s=%lld", in->id,
             expires - in->issued_s);
done:
    if (doc) {
        /* The token's text lives in jansson's copy too. */
        json_t *t = json_object_get(doc, "token");
        if (json_is_string(t))
            OPENSSL_cleanse((void *)json_string_value(t), json_string_length(t));
        json_decref(doc);
    }
    if (r.body.data)
        OPENSSL_cleanse(r.body.data, r.body.len);
    dai_buf_free(&r.body);
    return rc;
}

/* The Authorization value for a request on behalf of in. */
static int auth_for(struct dai_github *gh, struct inst *in, bool renew, char *out, size_t n,
                    char *err, size_t errlen)
{
    int rc = 0;

    if (gh->auth == DAI_GH_AUTH_TOKEN) {
        snprintf(out, n, "Bearer %s", gh->cfg->token);
        return 0;
    }
    pthread_mutex_lock(&in->token_mu);
    if (renew || !in->token[0] ||
        !dai_github_token_usable(in->issued_s, in->expires_s, (long long)time(NULL),
                                 gh->cfg->token_margin_ms / 1000))
        rc = fetch_token(gh, in, err, errlen);
    if (!rc)
        snprintf(out, n, "Bearer %s", in->token);
    pthread_mutex_unlock(&in->token_mu);
    return rc;
}

/*---- the retry loop ---------------------------------------------------------------------*/

static const char *wait_reason(enum dai_github_verdict v, const struct dai_github_meta *m)
{
    if (v == DAI_GH_RETRY_TRANSIENT)
        return "transient";
    if (m->retry_after_s >= 0)
        return "retry_after";
    return m->rl_remaining == 0 ? "rate_limit" : "secondary";
}

static int run(struct dai_github *gh, struct inst *in, const char *kind,
               enum dai_github_method method, const char *url, const char *body, const char *inm,
               bool jwt, struct dai_github_response *resp, char *err, size_t errlen)
{
    struct dai_github_attempts a = {0};
    char auth[DAI_GITHUB_JWT_MAX + 16], xerr[512];
    bool renew = false;
    int rc;

    /* A JWT request has no token to renew. */
    a.reauthed = jwt;
    resp->waits = 0;
    for (;;) {
        enum dai_github_verdict v;
        long long wait;
        int xrc;

        if (!dai__github_wait_for_quota(gh, in, err, errlen)) {
            dai__github_count_error(gh, "give_up");
            return DAI_ETIMEOUT;
        }
        rc = jwt ? jwt_auth(gh, auth, sizeof(auth), err, errlen)
                 : auth_for(gh, in, renew, auth, sizeof(auth), err, errlen);
        if (rc) {
            dai__github_count_error(gh, "auth");
            return rc;
        }
        renew = false;
        xerr[0] = '\0';
        xrc = dai__github_exchange(gh, method, url, auth, body, inm, resp, xerr, sizeof(xerr));
        OPENSSL_cleanse(auth, sizeof(auth));
        dai__github_count_request(gh, kind, resp->status);
        if (xrc)
            dai__github_count_error(gh, "transport");
        else if (!jwt)
            dai__github_note_quota(gh, in, &resp->meta);
        v = dai_github_decide(&gh->policy, resp->status, &resp->meta,
                              resp->body.data, (long long)time(NULL), dai__github_rnd32(), &a, &wait);
        switch (v) {
        case DAI_GH_DONE:
            return 0;
        case DAI_GH_REAUTH:
            DAI_WARN("github answered 401; renewing the installation token installation=%lld",
                     in->id);
            renew = true;
            continue;
        case DAI_GH_GIVE_UP:
            dai__github_count_error(gh, "give_up");
            if (resp->status)
                snprintf(err, errlen, "%s %s: gave up after HTTP %ld", dai__github_method_name(method), url,
                         resp->status);
            else
                snprintf(err, errlen, "gave up: %s", xerr);
            return DAI_ETIMEOUT;
        case DAI_GH_RETRY_TRANSIENT:
        case DAI_GH_RETRY_RATE: {
            const char *why = wait_reason(v, &resp->meta);
            char xq[DAI_LOG_VALUE_MAX]; /* curl's text has spaces: one quoted field */

            DAI_WARN("github request will be retried method=%s status=%ld reason=%s wait_ms=%lld%s%s",
                     dai__github_method_name(method), resp->status, why, wait, xerr[0] ? " error=" : "",
                     xerr[0] ? dai_log_value(xq, sizeof(xq), xerr) : "");
            dai__github_count_wait(gh, why, wait);
            resp->waits++;
            if (!dai__github_pause_ms(wait)) {
                snprintf(err, errlen, "stopping");
                return DAI_ETIMEOUT;
            }
            continue;
        }
        }
    }
}

static struct inst *inst_get(struct dai_github *gh, long long id)
{
    struct inst *in;

    if (gh->auth == DAI_GH_AUTH_TOKEN)
        return &gh->token_inst;
    pthread_mutex_lock(&gh->mu);
    for (in = gh->insts; in; in = in->next)
        if (in->id == id)
            break;
    if (!in) {
        in = malloc(sizeof(*in));
        if (in) {
            inst_init(in, id);
            in->next = gh->insts;
            gh->insts = in;
        }
    }
    pthread_mutex_unlock(&gh->mu);
    return in;
}

int dai_github_request(struct dai_github *gh, long long installation,
                       enum dai_github_method method, const char *path, const char *body,
                       const char *if_none_match, struct dai_github_response *resp, char *err,
                       size_t errlen)
{
    char url[2048];
    struct inst *in;
    bool write = method != DAI_GH_GET;
    int rc;

    if (installation <= 0)
        installation = gh->fixed_inst;
    if (gh->auth == DAI_GH_AUTH_APP && installation <= 0) {
        snprintf(err, errlen, "no installation id (the event has none and "
                 "github.installation_id is not set)");
        return DAI_EAUTH;
    }
    rc = url_for(gh, path, url, sizeof(url), err, errlen);
    if (rc)
        return rc;
    in = inst_get(gh, installation);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (write) {
        long long gap_us;

        pthread_mutex_lock(&in->write_mu);
        gap_us = in->last_write_us + (long long)gh->cfg->write_interval_ms * 1000 - dai_mono_us();
        if (in->last_write_us && gap_us > 0 && !dai__github_pause_ms((gap_us + 999) / 1000)) {
            pthread_mutex_unlock(&in->write_mu);
            snprintf(err, errlen, "stopping");
            return DAI_ETIMEOUT;
        }
    }
    rc = run(gh, in, write ? "write" : "read", method, url, body, if_none_match, false, resp, err,
             errlen);
    if (write) {
        in->last_write_us = dai_mono_us();
        pthread_mutex_unlock(&in->write_mu);
    }
    return rc;
}

int dai_github_login(struct dai_github *gh, char *out, size_t n, char *err, size_t errlen)
{
    struct dai_github_response r = {0};
    char url[2048];
    json_t *doc = NULL;
    const char *name;
    int rc;

    pthread_mutex_lock(&gh->mu);
    snprintf(out, n, "%s", gh->login);
    pthread_mutex_unlock(&gh->mu);
    if (out[0])
        return 0;
    rc = url_for(gh, gh->auth == DAI_GH_AUTH_APP ? "/app" : "/user", url, sizeof(url), err,
                 errlen);
    if (rc)
        return rc;
    rc = run(gh, &gh->token_inst, "read", DAI_GH_GET, url, NULL, NULL,
             gh->auth == DAI_GH_AUTH_APP, &r, err, errlen);
    if (rc)
        goto done;
    if (r.status != 200) {
        snprintf(err, errlen, "GET %s answered HTTP %ld", gh->auth == DAI_GH_AUTH_APP ? "/app" :
                 "/user", r.status);
        rc = r.status == 401 || r.status == 403 ? DAI_EAUTH : DAI_ETIMEOUT;
        goto done;
    }
    doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    name = dai_json_str(doc, gh->auth == DAI_GH_AUTH_APP ? "slug" : "login", NULL);
    if (!name || !name[0] || strlen(name) + 6 > sizeof(gh->login)) {
        snprintf(err, errlen, "GitHub's answer names no %s",
                 gh->auth == DAI_GH_AUTH_APP ? "slug" : "login");
        rc = DAI_EPARSE;
        goto done;
    }
    pthread_mutex_lock(&gh->mu);
    snprintf(gh->login, sizeof(gh->login), gh->auth == DAI_GH_AUTH_APP ? "%s[bot]" : "%s", name);
    snprintf(out, n, "%s", gh->login);
    pthread_mutex_unlock(&gh->mu);
done:
    json_decref(doc);
    dai_buf_free(&r.body);
    return rc;
}
