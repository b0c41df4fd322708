/* The LLM's reply (verdict.c): the Chat Completions envelope and the
 * validation of the classification inside it. Pure. */
#ifndef DISPATCHAI_CLS_VERDICT_H
#define DISPATCHAI_CLS_VERDICT_H

#include "offline/offline.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <stddef.h>

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
 * must be a configured team (or null / "none"); a confidence in (1, 100] is
 * read as a percentage; extra tags beyond 5 are dropped. 0 or DAI_ESCHEMA / DAI_EPARSE with the first problem in err. */
DAI_MUST_CHECK int cls_verdict_parse(const char *content, size_t len,
                                     const struct cls_teams *teams,
                                     struct dai_classification *out, char *err, size_t errlen);

#endif
