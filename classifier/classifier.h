/* Private interfaces of the classifier daemon (issues.raw -> issues.enriched).
 * Pure logic (routing, prompt, verdict, backoff/breaker, key state, the
 * per-partition tracker, the pipeline) is kept apart from I/O (llm_client.c
 * on libcurl, consume.c and rebuild.c on Kafka) so it is unit-testable. */
#ifndef DISPATCHAI_CLASSIFIER_H
#define DISPATCHAI_CLASSIFIER_H

#include <dispatchai/dai.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "offline/offline.h"

/* Header on every enriched message we write: the 16-hex-digit hash of the
 * title+body the classification was computed from. The state rebuild reads it
 * back instead of guessing (a reused classification carries the hash of the
 * text it was made for, not of the event's current text). */
#define CLS_HDR_TEXT_HASH "x-dispatchai-text-hash"

/* Model names kept per job and per key ("gpt-4o-mini", "offline-..."). */
#define CLS_MODEL_LEN 64

/*---- configuration (options.c) ------------------------------------------*/

enum cls_rf { CLS_RF_JSON_SCHEMA = 0, CLS_RF_JSON_OBJECT, CLS_RF_NONE };
enum cls_auth { CLS_AUTH_BEARER = 0, CLS_AUTH_API_KEY };

struct cls_config {
    struct dai_common_config common;
    char *group_id;
    char *transactional_id;    /* "" = dispatchai-classifier-<hostname> */
    int txn_interval_ms;
    int txn_max_messages;
    int txn_timeout_ms;
    size_t max_message_bytes;
    int max_buffered;
    int rebuild_timeout_ms;
    char *unseen;              /* "llm" or "offline" */
    char *llm_base_url;        /* "" = no LLM */
    char *llm_api_key;
    char *llm_model;
    char *llm_response_format; /* json_schema | json_object | none */
    char *llm_auth;            /* bearer | api-key */
    char *llm_query;           /* extra query string, e.g. api-version=... */
    char *llm_prompt_file;
    int llm_timeout_ms;
    int llm_connect_timeout_ms;
    int llm_max_concurrency;
    int llm_max_retries;
    int llm_backoff_base_ms;
    int llm_backoff_max_ms;
    int llm_retry_after_max_ms;
    int llm_max_tokens;
    double llm_temperature;
    int llm_max_title_chars;
    int llm_max_body_chars;
    size_t llm_max_response_bytes;
    int breaker_failures;
    int breaker_open_ms;
    int breaker_open_max_ms;
    char *offline_model;
    bool classify_jsonl;       /* CLI mode */
    bool force_offline;        /* --offline */
};

extern const struct dai_config_spec cls_config_spec;

/* Check cross-field rules after loading (enum-like strings). 0 or DAI_ECONFIG. */
DAI_MUST_CHECK int cls_config_check(const struct cls_config *cfg, char *err, size_t errlen);
enum cls_rf cls_config_rf(const struct cls_config *cfg);
enum cls_auth cls_config_auth(const struct cls_config *cfg);

/*---- teams (teams.c) ------------------------------------------------------*/

/* Owned storage behind a struct cls_teams view. */
struct cls_team_set {
    struct cls_teams view;     /* what the offline classifier and the prompt read */
    struct cls_team *teams;
    char **strings;            /* every string we strdup'd, freed together */
    size_t n_strings;
    const char **ptrs;         /* the keyword/label/path arrays */
};

/* Read the "teams" list from the config file (NULL doc = no teams). Names
 * must be unique, 1..63 chars of [A-Za-z0-9._-]. 0 or DAI_ECONFIG + err. */
DAI_MUST_CHECK int cls_teams_load(const struct dai_config_doc *doc, struct cls_team_set *out,
                                  char *err, size_t errlen);
void cls_teams_free(struct cls_team_set *t);
/* The configured spelling of a team name matched case-insensitively (and
 * ignoring a "team-" / "@" prefix the LLM may add), or NULL. Borrowed. */
const char *cls_teams_match(const struct cls_teams *t, const char *name);

/*---- routing (router.c) ---------------------------------------------------*/

enum cls_route {
    CLS_ROUTE_CLASSIFY = 0, /* new or changed text on a classifying action */
    CLS_ROUTE_REUSE,        /* carry the key's latest classification */
    CLS_ROUTE_UNSEEN        /* non-classifying event for a never-classified issue */
};

/* Does this event (type/action/changes) ask for a classification? issues and
 * pull requests opened/reopened, and edited unless `changes` lists neither
 * title nor body. */
bool cls_router_is_classifying(const char *event_type, const char *action,
                               const json_t *changes);
/* 64-bit FNV-1a over title, a separator and body. */
uint64_t cls_text_hash(const char *title, const char *body);
enum cls_route cls_router_decide(bool classifying, bool has_state, uint64_t state_hash,
                                 uint64_t text_hash);
const char *cls_route_name(enum cls_route r);

/*---- prompt (prompt.c) ----------------------------------------------------*/

struct cls_prompt {
    char *system;              /* rendered system prompt (new) */
    json_t *schema;            /* the json_schema response_format object (new) */
    int max_title_chars;
    int max_body_chars;
    const char *model;         /* borrowed from the config */
    double temperature;
    int max_tokens;
};

/* Render the template ({{teams}} and {{categories}} placeholders; the team
 * list is appended when {{teams}} is absent) and build the JSON schema.
 * 0 or -ENOMEM / DAI_EINVAL + err. */
DAI_MUST_CHECK int cls_prompt_init(struct cls_prompt *p, const char *template_text,
                                   const struct cls_teams *teams, char *err, size_t errlen);
void cls_prompt_free(struct cls_prompt *p);
/* Read a whole (small) file into a new string. 0 or -errno / DAI_ETOOBIG. */
DAI_MUST_CHECK int cls_read_file(const char *path, size_t max, char **out);
/* The user message: repository, kind, labels, title and body, each truncated
 * at a UTF-8 boundary. New string or NULL on OOM. */
char *cls_prompt_user(const struct cls_prompt *p, const struct cls_issue_text *in);
/* A Chat Completions request body (new object) for one issue. */
json_t *cls_prompt_request(const struct cls_prompt *p, const struct cls_issue_text *in,
                           enum cls_rf rf);
/* Replace the response_format of a request built above (downgrade). */
DAI_MUST_CHECK int cls_prompt_set_format(const struct cls_prompt *p, json_t *req,
                                         enum cls_rf rf);
/* Append the invalid assistant reply and a correction turn to req. 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_prompt_add_repair(json_t *req, const char *bad_reply,
                                         const char *problem);
/* Copy at most max_chars characters of s (len bytes) into a new string,
 * cutting at a UTF-8 boundary and marking the cut with "…". */
char *cls_truncate_utf8(const char *s, size_t len, int max_chars);

/*---- reply parsing and validation (verdict.c) ----------------------------*/

struct cls_completion {
    char *content;             /* choices[0].message.content (new) */
    char model[64];            /* "model" of the reply, "" if absent */
    char finish_reason[32];
    long long prompt_tokens, completion_tokens;
};

/* Parse a 200 response body of /chat/completions. 0, DAI_EPARSE (not JSON or
 * not a chat completion: no choices[0].message.content string) + err. */
DAI_MUST_CHECK int cls_verdict_completion(const char *body, size_t len,
                                          struct cls_completion *out, char *err, size_t errlen);
void cls_completion_free(struct cls_completion *c);
/* The message of an OpenAI-style error body {"error":{"message",...}} into
 * out (empty when absent). */
void cls_verdict_error_message(const char *body, size_t len, char *out, size_t n);
/* Parse and validate the assistant's content into out (source = LLM). Code
 * fences and text around the object are tolerated; enum values are matched
 * case-insensitively with spaces/hyphens read as underscores; the assignee
 * must be a configured team (or null / "none"); extra tags beyond 5 are
 * dropped. 0 or DAI_ESCHEMA / DAI_EPARSE with the first problem in err. */
DAI_MUST_CHECK int cls_verdict_parse(const char *content, size_t len,
                                     const struct cls_teams *teams,
                                     struct dai_classification *out, char *err, size_t errlen);

/*---- retry policy and circuit breaker (breaker.c) ------------------------*/

enum cls_llm_err {
    CLS_LLM_ERR_NONE = 0,
    CLS_LLM_ERR_TIMEOUT,       /* retryable */
    CLS_LLM_ERR_CONNECT,       /* retryable */
    CLS_LLM_ERR_RATE_LIMITED,  /* 429, retryable */
    CLS_LLM_ERR_SERVER,        /* 5xx / 408, retryable */
    CLS_LLM_ERR_MALFORMED,     /* 200 without a chat completion, retryable */
    CLS_LLM_ERR_CLIENT,        /* other 4xx: not retryable */
    CLS_LLM_ERR_INVALID_REPLY, /* content failed validation: repair once */
    CLS_LLM_ERR_TOO_BIG,       /* response over llm.max_response_bytes */
    CLS_LLM_ERR_COUNT
};
const char *cls_llm_err_name(enum cls_llm_err e);
bool cls_llm_err_retryable(enum cls_llm_err e);
/* Map a transfer outcome: curl_code is a CURLcode (0 = transfer completed),
 * http_status the response status. */
enum cls_llm_err cls_llm_err_classify(int curl_code, long http_status);

struct cls_backoff {
    int base_ms;               /* delay before the first retry, before jitter */
    int max_ms;                /* cap of the exponential delay */
    int retry_after_max_ms;    /* a longer Retry-After means: give up now */
    int max_retries;
};

/* Delay before retry number `retry` (1 = first retry): "equal jitter"
 * exponential backoff, base*2^(retry-1) capped at max, of which the upper
 * half is random; a server's Retry-After (ms, or -1) is a floor. Returns -1
 * when the retry budget is spent or Retry-After exceeds retry_after_max_ms.
 * rng: caller-owned xorshift state (never 0). */
int cls_backoff_delay(const struct cls_backoff *b, int retry, int retry_after_ms, uint64_t *rng);
/* Retry-After as milliseconds from now: delta-seconds or an HTTP-date; -1
 * when absent or unparseable. */
int cls_retry_after_parse(const char *value, long long now_unix_ms);

enum cls_breaker_state { CLS_BREAKER_CLOSED = 0, CLS_BREAKER_OPEN, CLS_BREAKER_HALF_OPEN };

/* Consecutive failures open the breaker for open_ms; then one probe request
 * is let through (half-open); its success closes the breaker, its failure
 * re-opens it for twice as long (up to open_max_ms). Not thread-safe: the
 * LLM client guards it with its lock. */
struct cls_breaker {
    enum cls_breaker_state state;
    int failures;
    int threshold;
    int open_base_ms, open_ms, open_max_ms;
    long long open_until_ms;
    unsigned transitions;      /* counts state changes, for logs/tests */
};

void cls_breaker_init(struct cls_breaker *b, int threshold, int open_ms, int open_max_ms);
/* May a request go to the LLM now? *probe is set when this request is the
 * half-open probe (report its outcome with probe = true). */
bool cls_breaker_allow(struct cls_breaker *b, long long now_ms, bool *probe);
void cls_breaker_success(struct cls_breaker *b, long long now_ms, bool probe);
void cls_breaker_failure(struct cls_breaker *b, long long now_ms, bool probe);
const char *cls_breaker_state_name(enum cls_breaker_state s);

/*---- metrics (metrics.c) --------------------------------------------------*/

struct cls_metrics {
    struct dai_metrics *reg;     /* borrowed */
    struct dai_metric *consumed;        /* total */
    struct dai_metric *classified;      /* {source,category} */
    struct dai_metric *reused;          /* total */
    struct dai_metric *dlq;             /* {reason} */
    struct dai_metric *produced;        /* {topic} */
    struct dai_metric *llm_latency;     /* histogram, seconds */
    struct dai_metric *llm_requests;    /* {outcome} */
    struct dai_metric *llm_errors;      /* {kind} */
    struct dai_metric *llm_tokens;      /* {kind} */
    struct dai_metric *llm_in_flight;   /* gauge */
    struct dai_metric *circuit_state;   /* gauge 0 closed, 1 open, 2 half-open */
    struct dai_metric *fallbacks;       /* {reason} */
    struct dai_metric *lag;             /* gauge {partition} */
    struct dai_metric *buffered;        /* gauge: consumed, not yet emitted */
    struct dai_metric *txn;             /* {outcome} commit/abort */
    struct dai_metric *txn_duration;    /* histogram, seconds */
    struct dai_metric *event_latency;   /* histogram, seconds: consume -> produce */
    struct dai_metric *state_keys;      /* gauge */
    struct dai_metric *state_rebuilt;   /* counter: records read back */
};

/* Register every family (reg may be NULL: all handles NULL, and the metric
 * calls below become no-ops). 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_metrics_init(struct cls_metrics *m, struct dai_metrics *reg);
/* NULL-tolerant wrappers so pure modules need no registry in tests. */
#define CLS_ADD(m, ...) do { if (m) dai_metric_add((m), __VA_ARGS__); } while (0)
#define CLS_SET(m, ...) do { if (m) dai_metric_set((m), __VA_ARGS__); } while (0)
#define CLS_OBSERVE(m, ...) do { if (m) dai_metric_observe((m), __VA_ARGS__); } while (0)

/*---- per-key state (state.c) ----------------------------------------------*/

/* The latest classification known for one issue/PR key, plus the bookkeeping
 * the pipeline needs to keep one key's events in order. */
struct cls_keystate {
    char *key;                 /* "owner/repo:issue:123" (new) */
    uint64_t text_hash;        /* of the text `classification` was made for */
    char *classification;      /* compact JSON (new) or NULL when never classified */
    char model_version[CLS_MODEL_LEN];
    int32_t partition;         /* raw partition that last fed this key */
    bool live;                 /* fed by a partition we own right now */
    struct cls_job *busy;      /* the job whose classification is pending */
    struct cls_job *wait_head, *wait_tail; /* later jobs of this key, in order */
    struct cls_keystate *next; /* hash chain */
};

struct cls_state;

struct cls_state *cls_state_new(void);
void cls_state_free(struct cls_state *s);
/* Borrowed entry or NULL. */
struct cls_keystate *cls_state_get(struct cls_state *s, const char *key);
/* Borrowed entry, created empty when absent; NULL on OOM. */
struct cls_keystate *cls_state_upsert(struct cls_state *s, const char *key);
/* Store a classification for the key (copies). 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_state_set(struct cls_keystate *ks, uint64_t text_hash,
                                 const struct dai_classification *c, const char *model_version);
/* Read the stored classification back. 0, DAI_ENOTFOUND or DAI_ESCHEMA. */
DAI_MUST_CHECK int cls_state_classification(const struct cls_keystate *ks,
                                            struct dai_classification *out);
size_t cls_state_count(const struct cls_state *s);
/* Visit every entry (the callback must not add or remove entries). */
void cls_state_each(struct cls_state *s, void (*fn)(struct cls_keystate *ks, void *ud), void *ud);

/* Apply one enriched record read back from the enriched topic (message key,
 * value, and our text-hash header, NULL on records others wrote such as
 * human corrections). Keys we are feeding right now (live) keep our own,
 * newer state; a human correction still applies to them when it is about
 * the same text. Returns 1 when applied, 0 when skipped, DAI_ESCHEMA when
 * unreadable, -ENOMEM. */
int cls_state_apply_record(struct cls_state *s, const char *key, size_t klen, const void *value,
                           size_t len, const char *text_hash_hdr, size_t hdr_len);

/*---- the pipeline (pipeline.c) --------------------------------------------*/

enum cls_job_phase { CLS_JOB_WAITING = 0, CLS_JOB_IN_FLIGHT, CLS_JOB_DONE };
enum cls_job_out { CLS_OUT_ENRICHED = 0, CLS_OUT_DLQ };

/* One consumed raw message from intake to emission. */
struct cls_job {
    void *msg;                  /* the transport's message (released by ops->release) */
    const char *value;          /* borrowed from msg */
    size_t len;
    const char *mkey;           /* message key, borrowed from msg (may be NULL) */
    size_t mklen;
    int32_t partition;
    int64_t offset;
    long long t0_us;            /* consumed at (dai_mono_us) */
    json_t *raw;                /* parsed event (new) or NULL when dead-lettered */
    struct dai_subject subj;    /* borrowed from raw */
    struct cls_keystate *ks;    /* borrowed from the state table */
    uint64_t text_hash;         /* of this event's title+body */
    uint64_t cls_hash;          /* of the text its classification was made for */
    bool classifying;           /* action asks for classification */
    enum cls_route route;
    enum cls_job_phase phase;
    enum cls_job_out out;
    bool detached;              /* dropped while in flight: freed when the LLM answers */
    char dlq_code[24];          /* low-cardinality reason (metrics label) */
    char dlq_reason[200];       /* the dlq-reason header: code and detail */
    struct dai_classification cls;
    char model_version[CLS_MODEL_LEN];
    int attempts;
    char fallback[32];          /* why an LLM-bound job went offline, "" otherwise */
    struct cls_job *next;       /* partition order */
    struct cls_job *key_next;   /* wait list of its key */
};

/* What the pipeline needs from the outside world. */
struct cls_pipeline_ops {
    /* Send job to the LLM. 0 = in flight (cls_pipeline_llm_done follows),
     * DAI_ENOTFOUND = no LLM configured, other non-zero = unavailable now
     * (breaker open): either way the job is classified offline. */
    int (*llm_submit)(void *ud, struct cls_job *job, const struct cls_issue_text *in);
    /* Give the transport message back (after emission or when dropped). */
    void (*release)(void *ud, void *msg);
    void *ud;
};

struct cls_pipeline_options {
    const struct cls_offline_model *offline; /* borrowed */
    const struct cls_teams *teams;           /* borrowed */
    bool unseen_offline;                     /* classify never-seen issues offline */
    size_t max_event_bytes;                  /* larger raw messages are dead-lettered */
    struct cls_metrics *metrics;             /* borrowed, may be NULL */
    struct cls_pipeline_ops ops;
};

struct cls_pipeline;

struct cls_pipeline *cls_pipeline_new(const struct cls_pipeline_options *opt,
                                      struct cls_state *state, char *err, size_t errlen);
void cls_pipeline_free(struct cls_pipeline *p); /* drops every job */

/* Take one consumed message: parses, routes and either finishes it at once
 * (reuse, offline, dead letter) or parks it behind its key / sends it to the
 * LLM. Never fails: anything unprocessable becomes a dead letter. */
void cls_pipeline_add(struct cls_pipeline *p, void *msg, int32_t partition, int64_t offset,
                      const void *key, size_t klen, const void *value, size_t len);
/* The LLM finished job: ok with *c (source LLM), or not (c NULL, `why` the
 * fallback reason) in which case the job is classified offline. Wakes the
 * key's waiting jobs. */
void cls_pipeline_llm_done(struct cls_pipeline *p, struct cls_job *job,
                           const struct dai_classification *c, const char *model, int attempts,
                           const char *why);
/* The finished prefix of a partition, oldest first: peek the head, and pop it
 * once it has been written out (pop releases the message). */
struct cls_job *cls_pipeline_ready(struct cls_pipeline *p, int32_t partition);
void cls_pipeline_pop(struct cls_pipeline *p, int32_t partition);
/* Forget every job of a partition (revoked or rewound): jobs in flight are
 * detached and their late LLM results ignored; keys fed by the partition stop
 * being live. */
void cls_pipeline_drop_partition(struct cls_pipeline *p, int32_t partition);
/* Jobs consumed but not yet popped, over all partitions / for one. */
size_t cls_pipeline_buffered(const struct cls_pipeline *p);
size_t cls_pipeline_buffered_in(const struct cls_pipeline *p, int32_t partition);
/* Jobs waiting for the LLM in this partition (or all with partition -1). */
size_t cls_pipeline_in_flight(const struct cls_pipeline *p, int32_t partition);
/* Partitions with jobs (for iteration): fills up to n ids, returns the count. */
size_t cls_pipeline_partitions(const struct cls_pipeline *p, int32_t *ids, size_t n);

/* Build the output value of a finished job: the enriched event (new string
 * in out) or the original bytes for a dead letter. 0, -ENOMEM or DAI_ETOOBIG
 * (the caller then dead-letters the job with reason "enriched_too_big"). */
DAI_MUST_CHECK int cls_job_render(const struct cls_job *job, struct dai_buf *out);
/* Turn a job into a dead letter: code is a short label, detail free text. */
void cls_job_make_dlq(struct cls_job *job, const char *code, const char *detail);
/* The text fields of a raw event for the classifiers (borrowed from ev). */
void cls_issue_text_from_event(const json_t *ev, const struct dai_subject *s,
                               struct cls_issue_text *out, const char **labels, size_t max_labels);

/*---- LLM client (llm_client.c) --------------------------------------------*/

struct cls_llm_options {
    const struct cls_config *cfg;     /* borrowed for the client's life */
    const struct cls_prompt *prompt;  /* borrowed for the client's life */
    const struct cls_teams *teams;    /* borrowed for the client's life */
    struct cls_metrics *metrics;      /* borrowed, may be NULL */
};

struct cls_llm_result {
    void *req_ud;              /* as given to cls_llm_submit */
    bool ok;
    struct dai_classification cls; /* when ok */
    char model[CLS_MODEL_LEN];
    int attempts;              /* HTTP requests made */
    char why[32];              /* fallback reason when !ok */
};

struct cls_llm;

/* Start the client thread. New client or NULL + err. */
struct cls_llm *cls_llm_new(const struct cls_llm_options *opt, char *err, size_t errlen);
/* Stop the thread (in-flight transfers are cancelled) and free. NULL is fine. */
void cls_llm_free(struct cls_llm *l);
/* Queue a classification request. 0, or DAI_EQUEUEFULL when the breaker
 * refuses new work right now (classify offline instead), -ENOMEM. */
DAI_MUST_CHECK int cls_llm_submit(struct cls_llm *l, const struct cls_issue_text *in,
                                  void *req_ud);
/* Deliver finished requests on the caller's thread; returns how many. */
size_t cls_llm_drain(struct cls_llm *l, void (*fn)(void *ud, const struct cls_llm_result *r),
                     void *ud);
/* Wait up to timeout_ms for a finished request (returns early on one). */
void cls_llm_wait(struct cls_llm *l, int timeout_ms);
/* Requests submitted and not yet drained. */
size_t cls_llm_pending(struct cls_llm *l);
enum cls_breaker_state cls_llm_breaker_state(struct cls_llm *l);

/*---- Kafka consume-transform-produce loop (consume.c, rebuild.c) ---------*/

struct cls_runtime {
    const struct cls_config *cfg;
    struct cls_metrics *metrics;
    struct dai_metrics *registry;
    const struct cls_offline_model *offline;
    const struct cls_teams *teams;
    struct cls_llm *llm;       /* NULL = offline only */
};

struct cls_daemon;

struct cls_daemon *cls_daemon_new(const struct cls_runtime *rt, char *err, size_t errlen);
/* Consume until dai_lifecycle_stopping(); then drain, commit and leave the
 * group. 0, or a negative code after a fatal Kafka error. */
DAI_MUST_CHECK int cls_daemon_run(struct cls_daemon *d);
/* /ready: broker answers and the topics exist. */
bool cls_daemon_ready(void *d, char *why, size_t n);
void cls_daemon_free(struct cls_daemon *d);

/* The state reader: reads issues.enriched (read_committed, every partition)
 * into the key table. */
struct cls_rebuild;

struct cls_rebuild *cls_rebuild_new(const struct cls_config *cfg, struct cls_state *state,
                                    struct cls_metrics *metrics, char *err, size_t errlen);
void cls_rebuild_free(struct cls_rebuild *r);
/* Read until every partition is at least at its end offset as of now. Only
 * call with no open transaction of our own. 0, DAI_ETIMEOUT or DAI_EKAFKA. */
DAI_MUST_CHECK int cls_rebuild_catch_up(struct cls_rebuild *r, int timeout_ms, char *err,
                                        size_t errlen);
/* Apply whatever is already fetched, without blocking (keeps state fresh). */
void cls_rebuild_poll(struct cls_rebuild *r, int max_msgs);

/*---- command-line classification (jsonl.c) --------------------------------*/

/* --classify-jsonl: one JSON line per input line on out. llm may be NULL
 * (offline). Returns 0 (errors per line are written as error lines). */
DAI_MUST_CHECK int cls_jsonl_run(FILE *in, FILE *out, const struct cls_offline_model *offline,
                                 const struct cls_teams *teams, struct cls_llm *llm,
                                 int window);

#endif
