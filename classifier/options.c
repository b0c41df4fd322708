/* The classifier's option table (defaults < config/classifier.conf < env <
 * CLI, loaded by common/src/config.c) and the checks that span options. Every
 * key is documented in config/classifier.conf and docs/configuration.md. */
#include "options.h"

#include <dispatchai/config.h>
#include <dispatchai/err.h>

#include <stdio.h>
#include <string.h>

#define O(field) offsetof(struct cls_config, field)

static const struct dai_opt cls_opts[] = {
    DAI_COMMON_OPTS(struct cls_config),
    {"http.port", "CLASSIFIER_PORT", NULL, DAI_OPT_INT, "8001", O(common.http_port), 0, 65535, 0,
     "Port for /health, /ready and /metrics"},
    {"kafka.group_id", "CLASSIFIER_GROUP_ID", NULL, DAI_OPT_STR, "dispatchai-classifier",
     O(group_id), 0, 0, 0, "Consumer group on the raw topic"},
    {"kafka.transactional_id", "CLASSIFIER_TRANSACTIONAL_ID", NULL, DAI_OPT_STR, "",
     O(transactional_id), 0, 0, 0,
     "Unique per running instance (\"\" = dispatchai-classifier-<hostname>-<pid>-<random>)"},
    {"kafka.max_message_bytes", "CLASSIFIER_MAX_MESSAGE_BYTES", NULL, DAI_OPT_SIZE, "1000000",
     O(max_message_bytes), 1024, 1e9, 0,
     "Largest message written; bigger enriched events go to the dead-letter topic"},
    {"txn.commit_interval", "CLASSIFIER_TXN_INTERVAL", NULL, DAI_OPT_MS, "100ms",
     O(txn_interval_ms), 1, 60000, 0, "Commit the open transaction at least this often"},
    {"txn.max_messages", "CLASSIFIER_TXN_MAX_MESSAGES", NULL, DAI_OPT_INT, "2000",
     O(txn_max_messages), 1, 1000000, 0, "...or once it holds this many outputs"},
    {"txn.timeout", "CLASSIFIER_TXN_TIMEOUT", NULL, DAI_OPT_MS, "60s", O(txn_timeout_ms), 1000,
     900000, 0, "transaction.timeout.ms: the broker aborts a transaction left open this long"},
    {"pipeline.max_buffered", "CLASSIFIER_MAX_BUFFERED", NULL, DAI_OPT_INT, "5000",
     O(max_buffered), 1, 1000000, 0,
     "Consumed but unwritten events before consumption pauses"},
    {"state.rebuild_timeout", "CLASSIFIER_REBUILD_TIMEOUT", NULL, DAI_OPT_MS, "120s",
     O(rebuild_timeout_ms), 1000, 3600000, 0,
     "Bound on reading the enriched topic back at start and on each assignment"},
    {"classify.unseen", "CLASSIFIER_UNSEEN", NULL, DAI_OPT_STR, "llm", O(unseen), 0, 0, 0,
     "How an issue first seen through a non-classifying event is classified: llm or offline"},
    {"llm.base_url", "LLM_BASE_URL", NULL, DAI_OPT_STR, "", O(llm_base_url), 0, 0, 0,
     "OpenAI-compatible API base, e.g. https://api.example.com/v1 (\"\" = offline only)"},
    {"llm.api_key", "LLM_API_KEY", NULL, DAI_OPT_STR, "", O(llm_api_key), 0, 0, DAI_OPT_SECRET,
     "API key (never logged; prefer the environment variable)"},
    {"llm.model", "LLM_MODEL", NULL, DAI_OPT_STR, "gpt-4o-mini", O(llm_model), 0, 0, 0,
     "Model name sent in each request"},
    {"llm.auth", "LLM_AUTH", NULL, DAI_OPT_STR, "bearer", O(llm_auth), 0, 0, 0,
     "How the key is sent: bearer (Authorization header) or api-key (Azure's api-key header)"},
    {"llm.query", "LLM_QUERY", NULL, DAI_OPT_STR, "", O(llm_query), 0, 0, 0,
     "Extra query string for every request, e.g. api-version=2024-10-21"},
    {"llm.response_format", "LLM_RESPONSE_FORMAT", NULL, DAI_OPT_STR, "json_schema",
     O(llm_response_format), 0, 0, 0,
     "json_schema, json_object or none; json_schema falls back by itself if refused"},
    {"llm.prompt_file", "LLM_PROMPT_FILE", NULL, DAI_OPT_STR, "config/prompt.txt",
     O(llm_prompt_file), 0, 0, 0, "System prompt template ({{teams}}, {{format}})"},
    {"llm.timeout", "LLM_TIMEOUT", NULL, DAI_OPT_MS, "30s", O(llm_timeout_ms), 100, 600000, 0,
     "Total time for one HTTP request"},
    {"llm.connect_timeout", "LLM_CONNECT_TIMEOUT", NULL, DAI_OPT_MS, "5s",
     O(llm_connect_timeout_ms), 100, 60000, 0, "Time to establish the connection"},
    {"llm.max_concurrency", "LLM_MAX_CONCURRENCY", NULL, DAI_OPT_INT, "16",
     O(llm_max_concurrency), 1, 1024, 0, "Concurrent LLM requests"},
    {"llm.max_retries", "LLM_MAX_RETRIES", NULL, DAI_OPT_INT, "3", O(llm_max_retries), 0, 20, 0,
     "Retries after 429/5xx/timeouts before the offline fallback"},
    {"llm.backoff_base", "LLM_BACKOFF_BASE", NULL, DAI_OPT_MS, "500ms", O(llm_backoff_base_ms),
     1, 60000, 0, "First retry delay (doubles per retry, with jitter)"},
    {"llm.backoff_max", "LLM_BACKOFF_MAX", NULL, DAI_OPT_MS, "10s", O(llm_backoff_max_ms), 1,
     600000, 0, "Cap of the retry delay"},
    {"llm.retry_after_max", "LLM_RETRY_AFTER_MAX", NULL, DAI_OPT_MS, "30s",
     O(llm_retry_after_max_ms), 0, 3600000, 0,
     "A longer Retry-After means: fall back now instead of waiting"},
    {"llm.max_tokens", "LLM_MAX_TOKENS", NULL, DAI_OPT_INT, "400", O(llm_max_tokens), 0, 100000,
     0, "max_tokens of the reply (0 = not sent)"},
    {"llm.temperature", "LLM_TEMPERATURE", NULL, DAI_OPT_DOUBLE, "0", O(llm_temperature), 0, 2,
     0, "Sampling temperature"},
    {"llm.max_title_chars", "LLM_MAX_TITLE_CHARS", NULL, DAI_OPT_INT, "300",
     O(llm_max_title_chars), 1, 100000, 0, "Title characters sent to the LLM"},
    {"llm.max_body_chars", "LLM_MAX_BODY_CHARS", NULL, DAI_OPT_INT, "4000",
     O(llm_max_body_chars), 0, 1000000, 0, "Body characters sent to the LLM"},
    {"llm.max_response_bytes", "LLM_MAX_RESPONSE_BYTES", NULL, DAI_OPT_SIZE, "1MiB",
     O(llm_max_response_bytes), 1024, 1 << 30, 0, "Cap on one LLM response body"},
    {"llm.price_prompt_per_mtok", "LLM_PRICE_PROMPT_PER_MTOK", NULL, DAI_OPT_DOUBLE, "0",
     O(price_prompt_per_mtok), 0, 1e6, 0,
     "Price of a million prompt tokens, for eval's cost per 1,000 issues (0 = unknown)"},
    {"llm.price_completion_per_mtok", "LLM_PRICE_COMPLETION_PER_MTOK", NULL, DAI_OPT_DOUBLE, "0",
     O(price_completion_per_mtok), 0, 1e6, 0, "Price of a million completion tokens (0 = unknown)"},
    {"llm.breaker_failures", "LLM_BREAKER_FAILURES", NULL, DAI_OPT_INT, "5",
     O(breaker_failures), 1, 10000, 0, "Consecutive failed requests that open the breaker"},
    {"llm.breaker_open", "LLM_BREAKER_OPEN", NULL, DAI_OPT_MS, "30s", O(breaker_open_ms), 10,
     3600000, 0, "How long the open breaker sends everything offline before a probe"},
    {"llm.breaker_open_max", "LLM_BREAKER_OPEN_MAX", NULL, DAI_OPT_MS, "5m",
     O(breaker_open_max_ms), 10, 86400000, 0, "Cap of the open time, doubled per failed probe"},
    {"offline.model", "CLASSIFIER_OFFLINE_MODEL", NULL, DAI_OPT_STR,
     "classifier/model/offline-model.bin", O(offline_model), 0, 0, 0,
     "Weights file of the offline classifier"},
    {"cli.classify_jsonl", NULL, "classify-jsonl", DAI_OPT_BOOL, "false", O(classify_jsonl), 0, 0,
     DAI_OPT_CLI_ONLY, "Classify JSON lines from stdin to stdout and exit"},
    {"cli.offline", NULL, "offline", DAI_OPT_BOOL, "false", O(force_offline), 0, 0,
     DAI_OPT_CLI_ONLY,
     "With --classify-jsonl or eval: use the offline classifier even when an LLM is configured"},
    {"eval.data", NULL, "data", DAI_OPT_STR, "", O(eval_data), 0, 0, DAI_OPT_CLI_ONLY,
     "With eval: the labelled issues, FILE.csv (title, label, body, repo) or FILE.jsonl"},
    {"eval.limit", NULL, "limit", DAI_OPT_INT, "0", O(eval_limit), 0, 1e9, DAI_OPT_CLI_ONLY,
     "With eval: only the first N issues (0 = all)"},
    {"eval.concurrency", NULL, "concurrency", DAI_OPT_INT, "0", O(eval_concurrency), 0, 1024,
     DAI_OPT_CLI_ONLY, "With eval: LLM requests in flight (0 = llm.max_concurrency)"},
    {"eval.json", NULL, "json", DAI_OPT_BOOL, "false", O(eval_json), 0, 0, DAI_OPT_CLI_ONLY,
     "With eval: print the report as JSON"},
    {"eval.label_map", NULL, "label-map", DAI_OPT_STR,
     "feature_request=feature,enhancement=feature,security=bug", O(eval_label_map), 0, 0, 0,
     "With eval: from=to pairs reading our categories (or the data's labels) in the data's "
     "taxonomy"},
};

static const char *const cls_sections[] = {"teams"};

const struct dai_config_spec cls_config_spec = {
    .program = "classifier",
    .summary = "classify raw GitHub issue events into issues.enriched (exactly once)",
    .opts = cls_opts,
    .n_opts = sizeof(cls_opts) / sizeof(cls_opts[0]),
    .sections = cls_sections,
    .n_sections = sizeof(cls_sections) / sizeof(cls_sections[0]),
};

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

int cls_config_check(const struct cls_config *cfg, char *err, size_t errlen)
{
    static const char *const unseen[] = {"llm", "offline", NULL};
    static const char *const formats[] = {"json_schema", "json_object", "none", NULL};
    static const char *const auths[] = {"bearer", "api-key", NULL};
    const char *base = cfg->llm_base_url;

    if (!one_of(cfg->unseen, unseen)) {
        snprintf(err, errlen, "classify.unseen: \"%s\" is not llm or offline", cfg->unseen);
        return DAI_ECONFIG;
    }
    if (!one_of(cfg->llm_response_format, formats)) {
        snprintf(err, errlen, "llm.response_format: \"%s\" is not json_schema, json_object or "
                 "none", cfg->llm_response_format);
        return DAI_ECONFIG;
    }
    if (!one_of(cfg->llm_auth, auths)) {
        snprintf(err, errlen, "llm.auth: \"%s\" is not bearer or api-key", cfg->llm_auth);
        return DAI_ECONFIG;
    }
    if (base[0] && strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        snprintf(err, errlen, "llm.base_url: must start with http:// or https://");
        return DAI_ECONFIG;
    }
    if (cfg->llm_backoff_base_ms > cfg->llm_backoff_max_ms) {
        snprintf(err, errlen, "llm.backoff_base: larger than llm.backoff_max");
        return DAI_ECONFIG;
    }
    if (!cfg->offline_model[0]) {
        snprintf(err, errlen, "offline.model: required (the fallback classifier)");
        return DAI_ECONFIG;
    }
    return 0;
}

enum cls_rf cls_config_rf(const struct cls_config *cfg)
{
    if (strcmp(cfg->llm_response_format, "json_object") == 0)
        return CLS_RF_JSON_OBJECT;
    if (strcmp(cfg->llm_response_format, "none") == 0)
        return CLS_RF_NONE;
    return CLS_RF_JSON_SCHEMA;
}

enum cls_auth cls_config_auth(const struct cls_config *cfg)
{
    return strcmp(cfg->llm_auth, "api-key") == 0 ? CLS_AUTH_API_KEY : CLS_AUTH_BEARER;
}
