/* What the LLM client does after a reply that arrived (HTTP 200): accept it,
 * send one repair turn, ask again for less (the decision only) or with more
 * room (max_tokens raised), or give up and classify offline. Pure: no I/O,
 * no state of its own; llm_client.c keeps the history per request. Every
 * retry changes the request, so none repeats an identical, deterministic
 * call, and the number of retries is bounded (at most one of each kind). */
#ifndef DISPATCHAI_CLS_REPLY_POLICY_H
#define DISPATCHAI_CLS_REPLY_POLICY_H

#include <stdbool.h>

enum cls_reply_kind {
    CLS_REPLY_OK = 0,  /* the content validated (even if finish_reason says it was cut) */
    CLS_REPLY_INVALID, /* complete, but not a valid classification */
    CLS_REPLY_CUT      /* invalid because generation stopped at max_tokens */
};

/* parse_rc: cls_verdict_parse's result; finish_reason: choices[0]'s ("" if absent). */
enum cls_reply_kind cls_reply_kind_of(int parse_rc, const char *finish_reason);

struct cls_reply_history {
    bool repaired;      /* a repair turn was sent */
    bool decision_only; /* the decision-only answer was asked for */
    bool tokens_raised; /* max_tokens was raised once */
    int max_tokens;     /* of the last request; 0 = not sent (server default) */
};

enum cls_reply_step {
    CLS_STEP_ACCEPT = 0,
    CLS_STEP_REPAIR,        /* show the model its invalid reply and the problem */
    CLS_STEP_DECISION_ONLY, /* cut: ask for the five decision members only */
    CLS_STEP_MORE_TOKENS,   /* cut again: the same request with cls_reply_more_tokens() */
    CLS_STEP_GIVE_UP        /* classify offline */
};

enum cls_reply_step cls_reply_next(enum cls_reply_kind kind, const struct cls_reply_history *h);
/* The raised max_tokens: twice the last one, at most CLS_REPLY_MAX_TOKENS_CAP. */
#define CLS_REPLY_MAX_TOKENS_CAP 100000
int cls_reply_more_tokens(int max_tokens);
/* Low-cardinality names for logs and metrics. */
const char *cls_reply_kind_name(enum cls_reply_kind kind);

#endif
