/* The ingress daemon's private interfaces: configuration (options.c),
 * metrics (stats.c), the parsing worker pool (pool.c), publishing with
 * acknowledgement, de-duplication and bounded waits (publish.c, which
 * reports outcomes to a callback), the answer a failed publish gets
 * (answer.c), the webhook endpoint (webhook.c, the only writer of HTTP
 * answers), the HTTP server wiring (server.c) and the redrive sub-command
 * (redrive.c). The pure logic lives in extract.h, normalize.h and window.h. */
#ifndef DISPATCHAI_INGRESS_H
#define DISPATCHAI_INGRESS_H

#include "normalize.h"
#include "window.h"

#include <dispatchai/config.h>
#include <dispatchai/http.h>
#include <dispatchai/kafka.h>
#include <dispatchai/kafka_ready.h>
#include <dispatchai/metrics.h>
#include <dispatchai/ratelimit.h>
#include <stdbool.h>
#include <stddef.h>

#define ING_WEBHOOK_PATH "/webhook/github"

/* ---- options.c ----------------------------------------------------------- */

struct ing_config {
    struct dai_common_config common;
    size_t max_body;               /* http.max_body */
    size_t body_budget;            /* http.body_budget */
    char *secret;                  /* webhook.secret / GITHUB_WEBHOOK_SECRET */
    struct dai_strlist secrets;    /* webhook.secrets / GITHUB_WEBHOOK_SECRETS */
    bool insecure_skip_signature;  /* --insecure-skip-signature */
    struct dai_strlist events;     /* webhook.events */
    int publish_timeout_ms;        /* publish.timeout */
    int retry_after_s;             /* publish.retry_after */
    char *compression;             /* publish.compression */
    int workers;                   /* workers.threads */
    int queue_size;                /* workers.queue */
    int dedup_size;                /* dedup.size */
    int dedup_window_ms;           /* dedup.window */
    bool rl_enabled;               /* ratelimit.enabled */
    double rl_rate;                /* ratelimit.rate (per second) */
    double rl_burst;               /* ratelimit.burst */
    int rl_max_clients;            /* ratelimit.max_clients */
    /* Derived by ing_config_load: */
    const char **secret_v;         /* every configured secret (borrowed strings) */
    size_t n_secrets;
    bool accept[ING_EV_COUNT];     /* which normalised events are published */
    char retry_after[16];          /* publish.retry_after as a header value */
};

extern const struct dai_config_spec ing_config_spec;

/* Load and check the configuration (dai_config_load plus the ingress's own
 * rules: a secret unless insecure, known event names). Returns
 * DAI_CONFIG_RUN, DAI_CONFIG_EXITED (--help and friends) or DAI_ECONFIG with
 * the message in err. ing_config_free releases everything. */
DAI_MUST_CHECK int ing_config_load(struct ing_config *cfg, int argc, char **argv, char *err,
                                   size_t errlen);
/* The same for a sub-command (redrive): serving false drops the webhook
 * secret requirement, everything else is checked alike. */
DAI_MUST_CHECK int ing_config_load_for(struct ing_config *cfg, int argc, char **argv,
                                       bool serving, char *err, size_t errlen);
void ing_config_free(struct ing_config *cfg);

/* ---- stats.c ------------------------------------------------------------- */

/* Why a delivery was not accepted (the "reason" label and the error code). */
enum ing_reason {
    ING_R_METHOD = 0,      /* 405 */
    ING_R_NOT_FOUND,       /* 404 */
    ING_R_MISSING_EVENT,   /* 400 */
    ING_R_BAD_DELIVERY,    /* 400: missing or malformed X-GitHub-Delivery */
    ING_R_MEDIA_TYPE,      /* 415 */
    ING_R_TOO_LARGE,       /* 413 */
    ING_R_RATE_LIMITED,    /* 429 */
    ING_R_SIGNATURE,       /* 401 */
    ING_R_INVALID_BODY,    /* 400: not a JSON object / bad form encoding */
    ING_R_OVERLOADED,      /* 503: worker queue or producer queue full */
    ING_R_TIMEOUT,         /* 503: no acknowledgement within publish.timeout */
    ING_R_BROKER,          /* 503: the broker refused or the publish failed (transient) */
    ING_R_PUBLISH_TOO_LARGE, /* 413: the event is larger than the broker takes */
    ING_R_PUBLISH_REFUSED, /* 500: the broker refuses it for good (topic, ACLs) */
    ING_R_SHUTTING_DOWN,   /* 503 */
    ING_R_REQUEST_TIMEOUT, /* 408: the body did not arrive within http.request_timeout */
    ING_R_INTERNAL,        /* 500 */
    ING_R_COUNT
};
const char *ing_reason_name(enum ing_reason r); /* "bad_signature", ... (static) */

struct ing_stats {
    struct dai_metric *received;    /* {event} */
    struct dai_metric *accepted;    /* {event} */
    struct dai_metric *rejected;    /* {event,reason} */
    struct dai_metric *duplicates;  /* {event} */
    struct dai_metric *ignored;     /* {event} */
    struct dai_metric *dead_letters; /* {event}: acknowledged on the dead-letter topic */
    struct dai_metric *late_acks;   /* acknowledged after the request was answered 503 */
    struct dai_metric *publish_latency; /* produce → delivery report, seconds */
    struct dai_metric *process_time;    /* verify + parse + normalise, seconds */
    struct dai_metric *waiting;     /* requests waiting for the broker */
    struct dai_metric *queue_depth; /* producer queue (messages not yet acknowledged) */
    struct dai_metric *work_queue;  /* deliveries waiting for a parsing worker */
    struct dai_metric *dedup_size;  /* acknowledged GUIDs remembered */
    struct dai_metric *producer_restarts; /* producers replaced after a fatal error */
};

/* Register the families in reg (borrowed). 0 or -ENOMEM. */
DAI_MUST_CHECK int ing_stats_init(struct ing_stats *st, struct dai_metrics *reg);

/* ---- per-request state ----------------------------------------------------- */

struct ing_ctx;

/* One webhook request, from its headers to its answer. Created in
 * on_headers, freed in on_complete. Between the suspend and the single
 * resume exactly one component owns it at a time: the worker queue, a worker,
 * then publish.c (under its lock) until it reports the outcome. Whoever
 * answers must not touch it afterwards, because the request may be completed
 * and freed at once. */
struct ing_delivery {
    struct ing_ctx *ctx;
    struct dai_http_request *req;
    enum ing_event event;
    char event_name[33];          /* X-GitHub-Event as sent, sanitised (for the log) */
    char guid[ING_GUID_MAX + 1];
    char hook_id[24];
    char signature[80];           /* X-Hub-Signature-256 (not logged) */
    bool has_signature;
    bool form;                    /* application/x-www-form-urlencoded */
    long long received_ms;        /* wall clock, for the event's timestamp */
    long long deadline_us;        /* monotonic: answer 503 after this */
    struct ing_event_info info;
    bool submitted;               /* on_request ran (the body arrived in full) */
    bool timed_out;               /* answered 408 by the request timeout */
    bool dead_letter;             /* published to the dead-letter topic */
    char dlq_reason[192];         /* why the normaliser could not map it */
    /* publish.c's, under its lock */
    struct ing_dedup_entry *entry;
    bool is_owner;                /* publishing entry (else waiting for it) */
    bool waiting;                 /* linked in the timeout list */
    struct ing_delivery *tprev, *tnext;
    struct ing_delivery *wnext;   /* next waiter on the same entry */
};

/* ---- pool.c -------------------------------------------------------------- */

typedef void (*ing_work_fn)(void *ud, struct ing_delivery *d, struct dai_buf *scratch,
                            struct dai_buf *event);

struct ing_pool;

/* threads workers taking deliveries from a queue of at most capacity; each
 * worker has two reusable buffers (scratch for form decoding, event for the
 * normalised event). NULL with err on failure. */
struct ing_pool *ing_pool_new(int threads, int capacity, size_t max_event, ing_work_fn fn,
                              void *ud, char *err, size_t errlen);
/* Queue d. 0, DAI_EQUEUEFULL when full, or -ECANCELED once closing. */
DAI_MUST_CHECK int ing_pool_submit(struct ing_pool *p, struct ing_delivery *d);
int ing_pool_depth(struct ing_pool *p);
/* Refuse new work, let the workers finish what is queued, join them. */
void ing_pool_close(struct ing_pool *p);
void ing_pool_free(struct ing_pool *p);

/* ---- publish.c ----------------------------------------------------------- */

struct ing_publisher;

/* What became of a publish. publish.c only reports it; webhook.c decides the
 * HTTP answer (ing_answer_for), so the layering is one-way. */
enum ing_pub_result {
    ING_PUB_STORED = 0, /* the broker has it: partition/offset */
    ING_PUB_DUPLICATE,  /* this GUID is on the broker already: its partition/offset */
    ING_PUB_FAILED      /* not stored; rc says why */
};

struct ing_pub_outcome {
    enum ing_pub_result result;
    /* ING_PUB_FAILED: DAI_EQUEUEFULL (producer queue full), DAI_ETIMEOUT (no
     * acknowledgement within publish.timeout), DAI_EKAFKA (transient broker
     * error), DAI_ETOOBIG / DAI_EREFUSED (final, see dai_kafka_err_rc),
     * -ECANCELED (shutting down), -ENOMEM. */
    int rc;
    int32_t partition;
    int64_t offset;
};

/* Called exactly once per ing_publish/ing_publish_dead_letter, from any
 * thread (a worker, the poll thread, the timer). d is the callee's from then
 * on; the publisher never touches it again. */
typedef void (*ing_published_fn)(void *ud, struct ing_delivery *d,
                                 const struct ing_pub_outcome *o);

struct ing_publisher_options {
    const struct ing_config *cfg;
    struct dai_metrics *metrics;
    struct ing_stats *stats;
    ing_published_fn on_published;
    void *ud;
    /* Tests only (DAI_TEST_FATAL_AFTER_ACKS): raise a fatal producer error
     * right after this many acknowledgements; 0 = never. */
    long test_fatal_after;
};

/* Producer (acks=all, idempotent, compressed), de-duplication window and the
 * timer that gives up on requests the broker is too slow for. NULL with err. */
struct ing_publisher *ing_publisher_new(const struct ing_publisher_options *opt, char *err,
                                        size_t errlen);
/* Publish d's event (value[0..len), copied) to the raw topic under
 * d->info.key, or attach d to an identical delivery already in flight, or
 * report it as a duplicate. Reports d's outcome exactly once; d belongs to
 * the publisher until then. Thread-safe. */
void ing_publish(struct ing_publisher *p, struct ing_delivery *d, const void *value, size_t len);
/* The same for a delivery the normaliser cannot map: the original payload
 * (copied) goes to the dead-letter topic keyed by the delivery GUID, with
 * d->dlq_reason and the delivery's GitHub headers (docs/events.md). */
void ing_publish_dead_letter(struct ing_publisher *p, struct ing_delivery *d,
                             const void *payload, size_t len);
rd_kafka_t *ing_publisher_handle(struct ing_publisher *p);
int ing_publisher_queue_depth(struct ing_publisher *p);
/* True after a fatal producer error until ing_publisher_replace succeeds. */
bool ing_publisher_needs_replace(struct ing_publisher *p);
/* Replace the producer (same configuration, new producer id): answer every
 * request waiting on the old one as a transient failure (DAI_EKAFKA),
 * destroy it (purging what it still holds), create the new one. Meanwhile
 * publishes are answered DAI_EKAFKA. Not concurrent with itself, drain or
 * free (the main thread calls them all). 0, or DAI_EKAFKA with err (then
 * there is no producer and it may be called again). */
int ing_publisher_replace(struct ing_publisher *p, char *err, size_t errlen);
/* Requests waiting for the broker right now. */
unsigned ing_publisher_waiting(struct ing_publisher *p);
/* Shutdown: wait up to timeout_ms for outstanding acknowledgements, then
 * report every request still waiting as -ECANCELED. Later publishes are
 * reported -ECANCELED at once. */
void ing_publisher_drain(struct ing_publisher *p, int timeout_ms);
/* Flush (bounded), destroy the producer, free. Returns messages left unsent. */
int ing_publisher_free(struct ing_publisher *p, int flush_timeout_ms);

/* The headers every message of delivery d carries (x-github-delivery,
 * x-github-event, x-github-hook-id when known, correlation-id, content-type;
 * docs/events.md) into h (room for 5); returns how many. Values borrowed from d. */
size_t ing_delivery_headers(const struct ing_delivery *d, struct dai_kafka_header *h);

/* ---- redrive.c ----------------------------------------------------------- */

/* `dispatchai-ingress redrive [options]`: re-drive the ingress's dead letters
 * into the raw topic once the normaliser can map them (docs/operations.md).
 * argv[0] is "redrive". Returns the process exit code. */
int ing_redrive_main(int argc, char **argv);

/* ---- answer.c ------------------------------------------------------------ */

/* The HTTP answer to a failed publish (pure): transient failures are 503
 * with Retry-After (GitHub may redeliver), final ones 413 or 500 without
 * it, because retrying the same delivery cannot succeed. */
struct ing_answer {
    unsigned status;
    enum ing_reason reason;
    bool retry_after;
    const char *message; /* static */
};
void ing_answer_for(int rc, struct ing_answer *a);

/* ---- webhook.c / server.c -------------------------------------------------- */

/* Everything the request handlers need; owned by main. */
struct ing_ctx {
    const struct ing_config *cfg;
    struct ing_verifier verifier;
    struct ing_normalizer *norm;
    struct dai_ratelimit *rl;     /* NULL when the rate limit is off */
    struct ing_pool *pool;
    struct ing_publisher *pub;
    struct ing_stats *stats;
    struct dai_metrics *metrics;
    struct dai_http_server *http;
    struct dai_kafka_ready *ready;
    /* ing_recover_producer's bound (main thread only). */
    int recover_tries;
    long long recover_window_us;
};


/* The webhook's MHD handlers (ud = struct ing_ctx *). */
extern const struct dai_http_handlers ing_webhook_handlers;
/* The worker function: verify, decode, normalise, publish (ud = ctx). */
void ing_webhook_process(void *ud, struct ing_delivery *d, struct dai_buf *scratch,
                         struct dai_buf *event);
/* The publisher's outcome callback (ing_published_fn, ud = ctx): answers d. */
void ing_webhook_published(void *ud, struct ing_delivery *d, const struct ing_pub_outcome *o);

/* Start the HTTP server for ctx (port, limits, timeouts from cfg). */
struct dai_http_server *ing_server_start(struct ing_ctx *ctx, char *err, size_t errlen);
/* Graceful stop: stop accepting, wait (bounded) for in-flight requests,
 * drain the pool and the publisher, stop the server. */
void ing_server_drain(struct ing_ctx *ctx, int timeout_ms);

/* ---- recover.c ----------------------------------------------------------- */

/* From the main loop, after a fatal producer error: replace the producer
 * while /ready answers "not ready", count and log it. More than a few
 * replacements within a minute (failed or failing again at once) stop the
 * daemon (exit 1), as a fatal error did before. */
void ing_recover_producer(struct ing_ctx *ctx);

#endif
