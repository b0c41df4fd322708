/* The LLM prompt (prompt.c): system prompt and JSON schema built once, the
 * per-issue Chat Completions request, and the repair turn. Pure. */
#ifndef DISPATCHAI_CLS_PROMPT_H
#define DISPATCHAI_CLS_PROMPT_H

#include "options.h"
#include "offline/offline.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds of the free-text members asked of the LLM (in the schema and the
 * instructions). Within DAI_TAG_LEN / DAI_SUMMARY_LEN / DAI_REASONING_LEN
 * bytes for ASCII; longer UTF-8 is cut at a character boundary on storage. */
#define CLS_MAX_TAGS DAI_MAX_TAGS
#define CLS_TAG_MAX_CHARS 24
#define CLS_SUMMARY_MAX_CHARS 160
#define CLS_REASONING_MAX_CHARS 200

struct cls_prompt {
    char *system;              /* rendered system prompt (new) */
    /* the reply's json_schema (new each): bounded / unbounded, full /
     * decision only (category, priority, effort, assignee, confidence) */
    json_t *schema, *schema_unbounded, *schema_decision, *schema_decision_unbounded;
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
/* Replace the response_format of a request built above (downgrade), with the
 * decision-only schema when decision_only. 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_prompt_set_format(const struct cls_prompt *p, json_t *req,
                                         enum cls_rf rf, bool decision_only);
/* Ask for the decision only (after a reply cut at max_tokens): the smaller
 * schema, and a note saying so on the last user turn. 0, -ENOMEM, DAI_EINVAL. */
DAI_MUST_CHECK int cls_prompt_decision_only(const struct cls_prompt *p, json_t *req,
                                            enum cls_rf rf);
/* Append the invalid assistant reply and a correction turn to req. 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_prompt_add_repair(json_t *req, const char *bad_reply,
                                         const char *problem);
/* Copy at most max_chars characters of s (len bytes) into a new string,
 * cutting at a UTF-8 boundary and marking the cut with "…". */
char *cls_truncate_utf8(const char *s, size_t len, int max_chars);

#endif
