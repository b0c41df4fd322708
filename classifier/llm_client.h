/* The LLM client (llm_client.c): a thread driving concurrent Chat Completions
 * requests over libcurl with retries, the breaker and one repair turn. */
#ifndef DISPATCHAI_CLS_LLM_CLIENT_H
#define DISPATCHAI_CLS_LLM_CLIENT_H

#include "breaker.h"
#include "metrics.h"
#include "model_name.h"
#include "offline/offline.h"
#include "options.h"
#include "prompt.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <stdbool.h>
#include <stddef.h>

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
    long long prompt_tokens, completion_tokens; /* summed over the attempts that answered */
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

#endif
