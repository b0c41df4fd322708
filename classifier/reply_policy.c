/* The retry decision after an LLM reply that arrived; see reply_policy.h. */
#include "reply_policy.h"

#include <string.h>

enum cls_reply_kind cls_reply_kind_of(int parse_rc, const char *finish_reason)
{
    if (parse_rc == 0)
        return CLS_REPLY_OK;
    return finish_reason && strcmp(finish_reason, "length") == 0 ? CLS_REPLY_CUT
                                                                  : CLS_REPLY_INVALID;
}

enum cls_reply_step cls_reply_next(enum cls_reply_kind kind, const struct cls_reply_history *h)
{
    switch (kind) {
    case CLS_REPLY_OK:
        return CLS_STEP_ACCEPT;
    case CLS_REPLY_INVALID:
        /* A repair echoes the bad reply: worth it for a wrong value, never
         * for a cut one (that would only make the next prompt longer). */
        return h->repaired ? CLS_STEP_GIVE_UP : CLS_STEP_REPAIR;
    case CLS_REPLY_CUT:
        /* Less to write is cheaper than more room, so it comes first. */
        if (!h->decision_only)
            return CLS_STEP_DECISION_ONLY;
        if (!h->tokens_raised && h->max_tokens > 0 && h->max_tokens < CLS_REPLY_MAX_TOKENS_CAP)
            return CLS_STEP_MORE_TOKENS;
        return CLS_STEP_GIVE_UP;
    }
    return CLS_STEP_GIVE_UP;
}

int cls_reply_more_tokens(int max_tokens)
{
    if (max_tokens <= 0)
        return 0;
    return max_tokens >= CLS_REPLY_MAX_TOKENS_CAP / 2 ? CLS_REPLY_MAX_TOKENS_CAP : max_tokens * 2;
}

const char *cls_reply_kind_name(enum cls_reply_kind kind)
{
    switch (kind) {
    case CLS_REPLY_OK: return "ok";
    case CLS_REPLY_INVALID: return "invalid_reply";
    case CLS_REPLY_CUT: return "length";
    }
    return "unknown";
}
