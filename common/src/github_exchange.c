/* One HTTP exchange with GitHub (libcurl, GitHub's headers, the answer's
 * body and headers captured), the client's waits, and its metrics and quota
 * bookkeeping. The retry loop that drives them is in github_client.c. */
#include "github_internal.h"

#include <dispatchai/clock.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*---- one HTTP exchange -------------------------------------------------------*/

struct exchange {
    struct dai_github_response *resp;
    long long now_s;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct exchange *x = ud;
    size_t n = size * nmemb;

    return dai_buf_append(&x->resp->body, p, n) ? 0 : n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct exchange *x = ud;
    size_t n = size * nmemb;

    /* A new status line (after a 100 Continue) starts a new header set. */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        dai_github_meta_init(&x->resp->meta);
    else
        dai_github_meta_header(&x->resp->meta, p, n, x->now_s);
    return n;
}

const char *dai__github_method_name(enum dai_github_method m)
{
    switch (m) {
    case DAI_GH_POST:
        return "POST";
    case DAI_GH_PATCH:
        return "PATCH";
    case DAI_GH_DELETE:
        return "DELETE";
    default:
        return "GET";
    }
}

/* One attempt. auth is the whole Authorization value ("Bearer …"). Returns
 * 0 with resp->status set, or -1 for a transport failure (status 0; the
 * curl message in err). */
int dai__github_exchange(struct dai_github *gh, enum dai_github_method method, const char *url,
                    const char *auth, const char *body, const char *inm,
                    struct dai_github_response *resp, char *err, size_t errlen)
{
    struct exchange x = {.resp = resp, .now_s = (long long)time(NULL)};
    struct curl_slist *h = NULL, *t;
    char line[DAI_GITHUB_JWT_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
    CURL *e = curl_easy_init();
    CURLcode cc;
    int rc = -1;

    resp->status = 0;
    dai_buf_reset(&resp->body);
    resp->body.max = BODY_MAX;
    dai_github_meta_init(&resp->meta);
    if (!e) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    snprintf(line, sizeof(line), "Authorization: %s", auth);
    t = curl_slist_append(h, "Accept: application/vnd.github+json");
    if (t)
        t = curl_slist_append(h = t, "X-GitHub-Api-Version: 2022-11-28");
    if (t)
        t = curl_slist_append(h = t, line);
    if (t)
        t = curl_slist_append(h = t, "Expect:");
    if (t && body)
        t = curl_slist_append(h = t, "Content-Type: application/json");
    if (t && inm && inm[0]) {
        char inm_line[200];
        snprintf(inm_line, sizeof(inm_line), "If-None-Match: %s", inm);
        t = curl_slist_append(h = t, inm_line);
    }
    OPENSSL_cleanse(line, sizeof(line));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    h = t;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "DispatchAI/" DAI_VERSION);
    curl_easy_setopt(e, CURLOPT_SHARE, gh->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)gh->cfg->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)gh->cfg->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
    /* Never follow redirects: the Authorization header must not travel on. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (method != DAI_GH_GET)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, dai__github_method_name(method));
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (method == DAI_GH_POST) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", dai__github_method_name(method), url,
                 cerr[0] ? cerr : curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = 0;
done:
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

/*---- waits and bookkeeping ------------------------------------------------------*/

/* Sleep ms, returning false early when the process is stopping. */
bool dai__github_pause_ms(long long ms)
{
    long long deadline = dai_mono_us() + ms * 1000;

    while (!dai_lifecycle_stopping()) {
        long long left = (deadline - dai_mono_us()) / 1000;
        if (left <= 0)
            return true;
        dai_lifecycle_wait(left > 200 ? 200 : (int)left);
    }
    return false;
}

unsigned dai__github_rnd32(void)
{
    unsigned r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (unsigned)dai_mono_us();
    return r;
}

void dai__github_count_request(struct dai_github *gh, const char *kind, long status)
{
    char cls[24];

    atomic_fetch_add(&gh->requests, 1);
    if (status == 0)
        snprintf(cls, sizeof(cls), "error");
    else
        snprintf(cls, sizeof(cls), "%ldxx", status / 100);
    if (gh->m_requests)
        dai_metric_add(gh->m_requests, 1, kind, cls);
}

void dai__github_count_wait(struct dai_github *gh, const char *reason, long long ms)
{
    atomic_fetch_add(&gh->waits, 1);
    if (gh->m_waits) {
        dai_metric_add(gh->m_waits, 1, reason);
        dai_metric_add(gh->m_wait_s, (double)ms / 1000.0, reason);
    }
}

void dai__github_count_error(struct dai_github *gh, const char *reason)
{
    atomic_fetch_add(&gh->errors, 1);
    if (gh->m_errors)
        dai_metric_add(gh->m_errors, 1, reason);
}

void dai__github_note_quota(struct dai_github *gh, struct inst *in, const struct dai_github_meta *m)
{
    char id[24];

    if (m->rl_remaining < 0)
        return;
    atomic_store(&in->rl_remaining, m->rl_remaining);
    atomic_store(&in->rl_reset, m->rl_reset);
    if (gh->m_remaining) {
        snprintf(id, sizeof(id), "%lld", in->id);
        dai_metric_set(gh->m_remaining, (double)m->rl_remaining, id);
    }
}

/* With the quota used up, nothing is sent before the reset. false when the
 * process stops meanwhile or the wait is beyond github.max_wait. */
bool dai__github_wait_for_quota(struct dai_github *gh, struct inst *in, char *err, size_t errlen)
{
    long long now = (long long)time(NULL);
    long long reset = atomic_load(&in->rl_reset);
    long long ms;

    if (atomic_load(&in->rl_remaining) != 0 || reset <= now)
        return true;
    ms = (reset - now) * 1000 + 1000;
    if (ms > gh->cfg->max_wait_ms) {
        snprintf(err, errlen, "rate limit used up until %lld, beyond github.max_wait", reset);
        return false;
    }
    DAI_WARN("github rate limit used up installation=%lld wait_ms=%lld", in->id, ms);
    dai__github_count_wait(gh, "rate_limit", ms);
    if (!dai__github_pause_ms(ms)) {
        snprintf(err, errlen, "stopping");
        return false;
    }
    atomic_store(&in->rl_remaining, -1);
    return true;
}

