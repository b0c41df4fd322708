/* What github_client.c (requests, authentication, the retry loop) and
 * github_exchange.c (one HTTP exchange, waits, metrics bookkeeping) share.
 * Never included outside common/src. */
#ifndef DAI_GITHUB_INTERNAL_H
#define DAI_GITHUB_INTERNAL_H

#include <dispatchai/github.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define BODY_MAX (8u << 20)
#define TOKEN_MAX 512

struct inst {
    long long id;
    pthread_mutex_t token_mu; /* held while a token is fetched: one at a time */
    char token[TOKEN_MAX];
    long long issued_s, expires_s;
    pthread_mutex_t write_mu; /* writes go out one at a time */
    long long last_write_us;
    atomic_llong rl_remaining, rl_reset;
    struct inst *next;
};

struct dai_github {
    const struct dai_github_config *cfg;
    enum dai_github_auth auth;
    EVP_PKEY *key;
    long long fixed_inst;
    char *base;                /* api_url without a trailing '/' */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_mutex_t mu;        /* insts, login */
    struct inst *insts;
    struct inst token_inst;    /* token authentication: one pseudo-installation */
    char login[128];
    struct dai_github_policy policy;
    atomic_ullong requests, token_requests, waits, errors;
    struct dai_metric *m_requests, *m_remaining, *m_waits, *m_wait_s, *m_errors, *m_tokens;
};

/* One attempt. auth is the whole Authorization value ("Bearer …"). Returns
 * 0 with resp->status set, or -1 for a transport failure (status 0; the
 * curl message in err). */
int dai__github_exchange(struct dai_github *gh, enum dai_github_method method, const char *url,
                         const char *auth, const char *body, const char *inm,
                         struct dai_github_response *resp, char *err, size_t errlen);
/* "GET", "POST", … for logs. */
const char *dai__github_method_name(enum dai_github_method m);
/* Sleep ms unless the process is stopping; false if it is. */
bool dai__github_pause_ms(long long ms);
unsigned dai__github_rnd32(void);
void dai__github_count_request(struct dai_github *gh, const char *kind, long status);
void dai__github_count_wait(struct dai_github *gh, const char *reason, long long ms);
void dai__github_count_error(struct dai_github *gh, const char *reason);
/* Remember an answer's quota figures for the installation. */
void dai__github_note_quota(struct dai_github *gh, struct inst *in, const struct dai_github_meta *m);
/* With the installation's quota at 0, wait until its reset; false if stopping. */
bool dai__github_wait_for_quota(struct dai_github *gh, struct inst *in, char *err, size_t errlen);

#endif
