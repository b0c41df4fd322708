/* The classifier's configuration: every option (options.c) and the checks
 * across fields run after loading. */
#ifndef DISPATCHAI_CLS_OPTIONS_H
#define DISPATCHAI_CLS_OPTIONS_H

#include <dispatchai/config.h>
#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>

/* The response_format ladder, strongest first: a server that refuses one is
 * asked for the next (llm_client.c). */
enum cls_rf {
    CLS_RF_JSON_SCHEMA = 0,       /* schema with maxLength/maxItems bounds */
    CLS_RF_JSON_SCHEMA_UNBOUNDED, /* the same schema without the bounds */
    CLS_RF_JSON_OBJECT,
    CLS_RF_NONE
};
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
    double price_prompt_per_mtok;     /* cost per million tokens, 0 = unknown */
    double price_completion_per_mtok;
    bool classify_jsonl;       /* CLI mode */
    bool force_offline;        /* --offline */
    bool eval;                 /* `dispatchai-classifier eval` (set by main) */
    char *eval_data;
    int eval_limit;
    int eval_concurrency;      /* 0 = llm.max_concurrency */
    bool eval_json;
    char *eval_label_map;
};

extern const struct dai_config_spec cls_config_spec;

/* Check cross-field rules after loading (enum-like strings). 0 or DAI_ECONFIG. */
DAI_MUST_CHECK int cls_config_check(const struct cls_config *cfg, char *err, size_t errlen);
enum cls_rf cls_config_rf(const struct cls_config *cfg);
enum cls_auth cls_config_auth(const struct cls_config *cfg);

#endif
