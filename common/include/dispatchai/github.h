/* GitHub REST client (libcurl): App (JWT → installation token) or token
 * authentication, GitHub's documented rate-limit rules, bounded jittered
 * retries of transient failures, writes serialised per installation, and
 * metrics. The pure parts — JWT signing, header parsing, wait decisions, the
 * token refresh rule, request paths and bodies — are separate functions so
 * they are tested without sockets. Secrets never reach logs or metrics.
 * Thread-safe: several threads may share one client. */
#ifndef DISPATCHAI_GITHUB_H
#define DISPATCHAI_GITHUB_H

#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/json.h>
#include <dispatchai/metrics.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- configuration ----------------------------------------------------- */

struct dai_github_config {
    char *api_url;              /* github.api_url / GITHUB_API_URL */
    char *app_id;               /* github.app_id / GITHUB_APP_ID ("" = no App) */
    char *private_key_file;     /* github.private_key_file / GITHUB_APP_PRIVATE_KEY_FILE */
    char *installation_id;      /* github.installation_id / GITHUB_APP_INSTALLATION_ID */
    char *token;                /* github.token / GITHUB_TOKEN (secret) */
    int write_interval_ms;      /* github.write_interval: gap between writes per installation */
    int timeout_ms;             /* github.timeout: one request, connect included */
    int max_retries;            /* github.max_retries: transient failures per request */
    int max_rate_waits;         /* github.max_rate_waits: rate-limit waits per request */
    int max_wait_ms;            /* github.max_wait: longest single wait before giving up */
    int token_margin_ms;        /* github.token_refresh_margin */
};

/* The options of struct dai_github_config, embedded as member m of T. */
#define DAI_GITHUB_OPTS(T, m)                                                                     \
    {"github.api_url", "GITHUB_API_URL", NULL, DAI_OPT_STR, "https://api.github.com",            \
     offsetof(T, m.api_url), 0, 0, 0,                                                             \
     "GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3)"},                 \
    {"github.app_id", "GITHUB_APP_ID", NULL, DAI_OPT_STR, "", offsetof(T, m.app_id), 0, 0, 0,    \
     "GitHub App id (with github.private_key_file; preferred over github.token)"},                \
    {"github.private_key_file", "GITHUB_APP_PRIVATE_KEY_FILE", NULL, DAI_OPT_STR, "",             \
     offsetof(T, m.private_key_file), 0, 0, 0, "PEM file of the GitHub App's private key"},      \
    {"github.installation_id", "GITHUB_APP_INSTALLATION_ID", NULL, DAI_OPT_STR, "",               \
     offsetof(T, m.installation_id), 0, 0, 0,                                                     \
     "Fixed App installation id (empty = the installation.id each event carries)"},              \
    {"github.token", "GITHUB_TOKEN", NULL, DAI_OPT_STR, "", offsetof(T, m.token), 0, 0,           \
     DAI_OPT_SECRET, "Fine-grained personal access token, used when no App is configured"},      \
    {"github.write_interval", "GITHUB_WRITE_INTERVAL", NULL, DAI_OPT_MS, "1s",                    \
     offsetof(T, m.write_interval_ms), 0, 60000, 0,                                               \
     "Least time between two writes to one installation (GitHub asks for 1 s)"},                 \
    {"github.timeout", "GITHUB_TIMEOUT", NULL, DAI_OPT_MS, "15s", offsetof(T, m.timeout_ms),    \
     100, 300000, 0, "Timeout of one GitHub request, connection included"},                      \
    {"github.max_retries", "GITHUB_MAX_RETRIES", NULL, DAI_OPT_INT, "4",                          \
     offsetof(T, m.max_retries), 0, 20, 0,                                                        \
     "Retries of a request after 5xx answers or connection errors (jittered backoff)"},          \
    {"github.max_rate_waits", "GITHUB_MAX_RATE_WAITS", NULL, DAI_OPT_INT, "6",                    \
     offsetof(T, m.max_rate_waits), 0, 100, 0,                                                    \
     "Rate-limit waits one request may sit through before it is given up"},                      \
    {"github.max_wait", "GITHUB_MAX_WAIT", NULL, DAI_OPT_MS, "1h", offsetof(T, m.max_wait_ms),  \
     1000, 86400000, 0, "Longest single rate-limit wait; a longer one gives the request up"},    \
    {"github.token_refresh_margin", "GITHUB_TOKEN_REFRESH_MARGIN", NULL, DAI_OPT_MS, "10m",       \
     offsetof(T, m.token_margin_ms), 0, 3600000, 0,                                               \
     "Renew an installation token when this little (or a quarter of its life) is left"}

/* ---- pure parts ---------------------------------------------------------- */

/* The App JWT (RS256) for app_id at now_s: iat = now - 60 (clock drift),
 * exp = now + 540 (10 minutes after iat, 9 ahead), iss = app_id. key is
 * borrowed (an RSA private key). Writes the token into out; 0, DAI_ETOOBIG
 * or DAI_EINVAL (bad key or app id). */
#define DAI_GITHUB_JWT_MAX 2048
DAI_MUST_CHECK int dai_github_jwt(const char *app_id, EVP_PKEY *key, long long now_s, char *out,
                                  size_t n);
/* Read an RSA private key from a PEM file (PKCS#1 or PKCS#8). New key or
 * NULL with a reason in err that never contains key material. */
EVP_PKEY *dai_github_key_load(const char *path, char *err, size_t errlen);

/* What a response's headers say. */
struct dai_github_meta {
    long long rl_remaining;     /* x-ratelimit-remaining, -1 when absent */
    long long rl_reset;         /* x-ratelimit-reset (epoch s), -1 when absent */
    long long retry_after_s;    /* retry-after in seconds, -1 when absent */
    char etag[128];             /* "" when absent */
    char next[1024];            /* Link rel="next" URL, "" when absent or too long */
};

void dai_github_meta_init(struct dai_github_meta *m);
/* Feed one raw header line ("Name: value\r\n", as libcurl hands it over);
 * unknown headers are ignored. now_s turns an HTTP-date retry-after into
 * seconds. */
void dai_github_meta_header(struct dai_github_meta *m, const char *line, size_t len,
                            long long now_s);
/* The URL of rel="next" in a Link header value into out; 0, DAI_ENOTFOUND
 * or DAI_ETOOBIG. */
DAI_MUST_CHECK int dai_github_link_next(const char *value, size_t len, char *out, size_t n);

enum dai_github_verdict {
    DAI_GH_DONE = 0,        /* hand the answer to the caller (success or not) */
    DAI_GH_RETRY_TRANSIENT, /* 5xx / connection error: retry after wait_ms */
    DAI_GH_RETRY_RATE,      /* rate limited: retry after wait_ms */
    DAI_GH_REAUTH,          /* 401: renew the installation token, then retry once */
    DAI_GH_GIVE_UP,         /* retries or waits exhausted */
};

struct dai_github_policy {
    int max_retries, max_rate_waits;
    long long max_wait_ms;
    long long base_ms;      /* first transient backoff (doubles each time) */
    long long cap_ms;       /* largest transient backoff */
};

/* Per-request counters the decision reads and updates. */
struct dai_github_attempts {
    int transient;          /* transient retries so far */
    int rate;               /* rate-limit waits so far */
    int secondary;          /* secondary-limit waits without retry-after so far */
    bool reauthed;
};

/* Decide what to do with one attempt's outcome. status is the HTTP status or
 * 0 for a transport failure; body (may be NULL) lets a secondary-limit 403
 * be told from a permission 403; rnd is a random number for the jitter.
 * *wait_ms receives the wait before the retry. Rules (GitHub's docs):
 * 403/429 with retry-after: that long; x-ratelimit-remaining 0: until
 * x-ratelimit-reset; secondary 403/429 without either: 60 s, doubling;
 * 5xx / transport: base·2^n with jitter, capped; 401: renew once. */
enum dai_github_verdict dai_github_decide(const struct dai_github_policy *p, long status,
                                          const struct dai_github_meta *m, const char *body,
                                          long long now_s, unsigned rnd,
                                          struct dai_github_attempts *a, long long *wait_ms);

/* The token refresh rule: true while a token obtained at issued_s and
 * expiring at expires_s may still be used at now_s — that is while more than
 * a quarter of its lifetime and more than margin_s remain. */
bool dai_github_token_usable(long long issued_s, long long expires_s, long long now_s,
                             long long margin_s);
/* GitHub's expires_at ("2026-12-04T22:00:00Z") to epoch seconds; 0 or DAI_EPARSE. */
DAI_MUST_CHECK int dai_github_parse_time(const char *s, long long *out);

/* Append s percent-encoded as one path segment (a label name in DELETE
 * .../labels/{name}). 0, -ENOMEM or DAI_ETOOBIG. */
DAI_MUST_CHECK int dai_github_append_segment(struct dai_buf *b, const char *s);
/* {"labels":["a","b"]} into b (replacing its content). */
DAI_MUST_CHECK int dai_github_labels_body(const char *const *labels, size_t n,
                                          struct dai_buf *b);
/* {"body":"..."} into b (replacing its content). */
DAI_MUST_CHECK int dai_github_comment_body(const char *text, struct dai_buf *b);

/* ---- the client ------------------------------------------------------------ */

enum dai_github_auth { DAI_GH_AUTH_NONE = 0, DAI_GH_AUTH_APP, DAI_GH_AUTH_TOKEN };

/* Which authentication a configuration selects: the App when app_id and
 * private_key_file are set, else the token, else none. */
enum dai_github_auth dai_github_auth_mode(const struct dai_github_config *cfg);

/* No request method replaces an issue's labels: PUT is deliberately absent. */
enum dai_github_method { DAI_GH_GET = 0, DAI_GH_POST, DAI_GH_PATCH, DAI_GH_DELETE };

struct dai_github_response {
    long status;                /* HTTP status of the last attempt; 0 = no answer */
    struct dai_buf body;        /* capped; zero-initialise, dai_buf_free when done */
    struct dai_github_meta meta;
    int waits;                  /* rate-limit and transient waits this request sat through */
};

struct dai_github;

/* New client; reads the App's private key now. reg (borrowed, may be NULL)
 * gets dai_github_* metrics. NULL with the reason in err. */
struct dai_github *dai_github_new(const struct dai_github_config *cfg, struct dai_metrics *reg,
                                  char *err, size_t errlen);
void dai_github_free(struct dai_github *gh);

/* One request on behalf of installation (ignored for token authentication;
 * 0 = the configured github.installation_id). path starts with "/" and is
 * appended to the API URL, or is a full URL under it (a Link next URL).
 * body: JSON text or NULL. if_none_match: an ETag or NULL (a 304 then costs
 * no quota). Writes (every method but GET) are serialised per installation
 * and spaced by github.write_interval. Waits (rate limits, backoff) return
 * early when the process is stopping.
 * Returns 0 when an answer is in resp (any status, including 4xx; a 5xx
 * after the retries ran out), DAI_EAUTH when no credentials or installation
 * token could be had, DAI_ETIMEOUT when the connection kept failing or a
 * wait was too long, or -ENOMEM. err says why. */
DAI_MUST_CHECK int dai_github_request(struct dai_github *gh, long long installation,
                                      enum dai_github_method method, const char *path,
                                      const char *body, const char *if_none_match,
                                      struct dai_github_response *resp, char *err,
                                      size_t errlen);

/* The login our writes appear under: "<slug>[bot]" from GET /app for an
 * App, the user's login from GET /user for a token. Cached after the first
 * success. 0 or an error as dai_github_request. */
DAI_MUST_CHECK int dai_github_login(struct dai_github *gh, char *out, size_t n, char *err,
                                    size_t errlen);

struct dai_github_stats {
    unsigned long long requests, token_requests, waits, errors;
};
void dai_github_get_stats(struct dai_github *gh, struct dai_github_stats *st);

#endif
