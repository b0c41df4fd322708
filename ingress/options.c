/* The ingress's option table (every key is documented in
 * config/ingress.conf and docs/configuration.md) and the checks that go
 * beyond one value: a webhook secret is required unless the operator asked
 * for the insecure mode, only events we can normalise may be accepted, and
 * no producer pass-through may weaken what a 202 promises. */
#include "ingress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OFF(f) offsetof(struct ing_config, f)

static const struct dai_opt opts[] = {
    DAI_COMMON_OPTS(struct ing_config),
    {"http.port", "INGRESS_PORT", NULL, DAI_OPT_INT, "8000", OFF(common.http_port), 0, 65535, 0,
     "Port of the webhook endpoint"},
    {"http.max_body", "INGRESS_MAX_BODY", NULL, DAI_OPT_SIZE, "25MiB", OFF(max_body), 1024,
     1073741824.0, 0, "Largest webhook body accepted (GitHub caps deliveries at 25 MiB)"},
    {"http.body_budget", "INGRESS_BODY_BUDGET", NULL, DAI_OPT_SIZE, "256MiB", OFF(body_budget),
     1048576.0, 68719476736.0, 0,
     "Request body bytes buffered at once over all connections; a delivery that does not fit "
     "is answered 503 + Retry-After before its body is read"},
    {"webhook.secret", "GITHUB_WEBHOOK_SECRET", NULL, DAI_OPT_STR, "", OFF(secret), 0, 0,
     DAI_OPT_SECRET, "Webhook secret (X-Hub-Signature-256)"},
    {"webhook.secrets", "GITHUB_WEBHOOK_SECRETS", NULL, DAI_OPT_STRLIST, "", OFF(secrets), 0, 0,
     DAI_OPT_SECRET, "More accepted secrets, for rotation (comma-separated in the environment)"},
    {"webhook.insecure_skip_signature", NULL, "insecure-skip-signature", DAI_OPT_BOOL, "false",
     OFF(insecure_skip_signature), 0, 0, DAI_OPT_CLI_ONLY,
     "Accept unsigned deliveries (development only; logged loudly)"},
    {"webhook.events", "INGRESS_EVENTS", NULL, DAI_OPT_STRLIST, "issues,issue_comment,pull_request",
     OFF(events), 0, 0, 0, "Events published (others are answered 202 ignored)"},
    {"publish.timeout", "INGRESS_PUBLISH_TIMEOUT", NULL, DAI_OPT_MS, "5s", OFF(publish_timeout_ms),
     100, 9000, 0, "Longest wait for the broker's acknowledgement before answering 503"},
    {"publish.retry_after", "INGRESS_RETRY_AFTER", NULL, DAI_OPT_INT, "5", OFF(retry_after_s), 1,
     3600, 0, "Retry-After (seconds) sent with 503"},
    {"publish.compression", "INGRESS_COMPRESSION", NULL, DAI_OPT_STR, "lz4", OFF(compression), 0,
     0, 0, "Message compression: none, gzip, snappy, lz4 or zstd"},
    {"workers.threads", "INGRESS_WORKERS", NULL, DAI_OPT_INT, "2", OFF(workers), 1, 64, 0,
     "Threads that verify and parse deliveries (off the socket threads)"},
    {"workers.queue", "INGRESS_WORK_QUEUE", NULL, DAI_OPT_INT, "8192", OFF(queue_size), 1,
     1000000, 0, "Deliveries waiting for a worker before 503"},
    {"dedup.size", "INGRESS_DEDUP_SIZE", NULL, DAI_OPT_INT, "100000", OFF(dedup_size), 0,
     10000000, 0, "Acknowledged delivery GUIDs remembered (0 = no de-duplication window)"},
    {"dedup.window", "INGRESS_DEDUP_WINDOW", NULL, DAI_OPT_MS, "72h", OFF(dedup_window_ms), 1000,
     2073600000, 0, "How long an acknowledged GUID is remembered"},
    {"ratelimit.enabled", "INGRESS_RATELIMIT", NULL, DAI_OPT_BOOL, "false", OFF(rl_enabled), 0, 0,
     0, "Per-client token bucket on the webhook (IPv4 address or IPv6 /64)"},
    {"ratelimit.rate", "INGRESS_RATELIMIT_RATE", NULL, DAI_OPT_DOUBLE, "50", OFF(rl_rate), 0.001,
     1e9, 0, "Requests per second refilled per client"},
    {"ratelimit.burst", "INGRESS_RATELIMIT_BURST", NULL, DAI_OPT_DOUBLE, "100", OFF(rl_burst), 1,
     1e9, 0, "Bucket size per client"},
    {"ratelimit.max_clients", "INGRESS_RATELIMIT_CLIENTS", NULL, DAI_OPT_INT, "10000",
     OFF(rl_max_clients), 1, 10000000, 0, "Clients tracked (least recently seen out)"},
};

const struct dai_config_spec ing_config_spec = {
    .program = "ingress",
    .summary = "GitHub webhooks in, acknowledged issues.raw events out",
    .opts = opts,
    .n_opts = sizeof(opts) / sizeof(opts[0]),
};

static const char *const compressions[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* "202 means on the broker": every in-sync replica has the message (acks
 * all), retries cannot duplicate or reorder it (idempotence, which librdkafka
 * keeps ordered with at most 5 requests in flight). A kafka.producer.*
 * pass-through that weakens this is refused rather than silently obeyed. */
static int check_durability(const struct dai_kvlist *props, char *err, size_t errlen)
{
    for (size_t i = 0; i < props->n; i++) {
        const char *k = props->v[i].key, *v = props->v[i].value;

        if (!strcmp(k, "acks") || !strcmp(k, "request.required.acks")) {
            if (strcmp(v, "all") && strcmp(v, "-1")) {
                snprintf(err, errlen, "kafka.producer.%s=%s would weaken the durability "
                         "promise (202 only once every in-sync replica has the delivery): it "
                         "must be all (or -1)", k, v);
                return DAI_ECONFIG;
            }
        } else if (!strcmp(k, "enable.idempotence")) {
            if (strcasecmp(v, "true")) {
                snprintf(err, errlen, "kafka.producer.enable.idempotence=%s would let broker "
                         "retries duplicate or reorder deliveries: it must stay true", v);
                return DAI_ECONFIG;
            }
        } else if (!strcmp(k, "max.in.flight") ||
                   !strcmp(k, "max.in.flight.requests.per.connection")) {
            char *end;
            long n;

            errno = 0;
            n = strtol(v, &end, 10);
            if (errno || end == v || *end || n < 1 || n > 5) {
                snprintf(err, errlen, "kafka.producer.%s=%s: the idempotent producer keeps "
                         "deliveries in order only with 1 to 5 requests in flight", k, v);
                return DAI_ECONFIG;
            }
        }
    }
    return 0;
}

int ing_config_load(struct ing_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    return ing_config_load_for(cfg, argc, argv, true, err, errlen);
}

int ing_config_load_for(struct ing_config *cfg, int argc, char **argv, bool serving, char *err,
                        size_t errlen)
{
    bool known;
    int rc = dai_config_load(&ing_config_spec, cfg, argc, argv, NULL, err, errlen);

    if (rc != DAI_CONFIG_RUN)
        return rc;
    snprintf(cfg->retry_after, sizeof(cfg->retry_after), "%d", cfg->retry_after_s);
    cfg->secret_v = calloc(cfg->secrets.n + 1, sizeof(*cfg->secret_v));
    if (!cfg->secret_v) {
        snprintf(err, errlen, "out of memory");
        return DAI_ECONFIG;
    }
    if (cfg->secret && cfg->secret[0])
        cfg->secret_v[cfg->n_secrets++] = cfg->secret;
    for (size_t i = 0; i < cfg->secrets.n; i++)
        if (cfg->secrets.v[i][0])
            cfg->secret_v[cfg->n_secrets++] = cfg->secrets.v[i];
    if (serving && cfg->n_secrets == 0 && !cfg->insecure_skip_signature) {
        snprintf(err, errlen, "webhook.secret: no webhook secret configured (set "
                 "GITHUB_WEBHOOK_SECRET, webhook.secret or webhook.secrets; "
                 "--insecure-skip-signature disables verification for development)");
        return DAI_ECONFIG;
    }
    for (size_t i = 0; i < cfg->events.n; i++) {
        enum ing_event ev = ing_event_parse(cfg->events.v[i]);

        if (ev >= ING_EV_COUNT) {
            snprintf(err, errlen, "webhook.events: \"%s\" cannot be published (choose from "
                     "issues, issue_comment, pull_request)", cfg->events.v[i]);
            return DAI_ECONFIG;
        }
        cfg->accept[ev] = true;
    }
    known = false;
    for (size_t i = 0; i < sizeof(compressions) / sizeof(compressions[0]); i++)
        known |= strcmp(cfg->compression, compressions[i]) == 0;
    if (!known) {
        snprintf(err, errlen, "publish.compression: \"%s\" is not none, gzip, snappy, lz4 or "
                 "zstd", cfg->compression);
        return DAI_ECONFIG;
    }
    if (check_durability(&cfg->common.producer_props, err, errlen))
        return DAI_ECONFIG;
    if (cfg->body_budget < cfg->max_body) {
        snprintf(err, errlen, "http.body_budget (%zu bytes) must be at least http.max_body "
                 "(%zu bytes), or the largest delivery could never be admitted",
                 cfg->body_budget, cfg->max_body);
        return DAI_ECONFIG;
    }
    if (cfg->publish_timeout_ms >= cfg->common.http_request_timeout_ms) {
        snprintf(err, errlen, "publish.timeout (%d ms) must be shorter than "
                 "http.request_timeout (%d ms)", cfg->publish_timeout_ms,
                 cfg->common.http_request_timeout_ms);
        return DAI_ECONFIG;
    }
    return DAI_CONFIG_RUN;
}

void ing_config_free(struct ing_config *cfg)
{
    free(cfg->secret_v);
    cfg->secret_v = NULL;
    dai_config_free(&ing_config_spec, cfg);
}
