/* Action routing: which raw events ask for a (re)classification, the text
 * hash that tells an edited title/body from an untouched one, and the
 * decision between classifying and reusing the key's latest classification.
 * Pure functions; the pipeline applies them. */
#include "router.h"

#include <dispatchai/hash.h>

#include <string.h>

static bool action_in(const char *action, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(action, *set) == 0)
            return true;
    return false;
}

bool cls_router_is_classifying(const char *event_type, const char *action,
                               const json_t *changes)
{
    static const char *const classify_actions[] = {"opened", "edited", "reopened", NULL};
    size_t i;
    const json_t *c;

    if (!event_type || !action)
        return false;
    /* Comments never change what an issue is about; only the issue and pull
     * request events themselves do. */
    if (strcmp(event_type, "issue") != 0 && strcmp(event_type, "pull_request") != 0)
        return false;
    if (!action_in(action, classify_actions))
        return false;
    if (strcmp(action, "edited") != 0 || !json_is_array(changes))
        return true;
    /* An edit of the milestone or base branch alone keeps the text: reuse. */
    json_array_foreach(changes, i, c) {
        const char *f = json_string_value(c);
        if (f && (strcmp(f, "title") == 0 || strcmp(f, "body") == 0))
            return true;
    }
    return false;
}

uint64_t cls_text_hash(const char *title, const char *body)
{
    uint64_t h;

    /* Stable (hash.h): the value travels in Kafka headers between runs. */
    title = title ? title : "";
    body = body ? body : "";
    h = dai_fnv64(DAI_FNV64_BASIS, title, strlen(title));
    /* A separator byte that cannot occur in the text keeps "ab"+"c" and
     * "a"+"bc" apart. */
    h = dai_fnv64_byte(h, 0xff);
    return dai_fnv64(h, body, strlen(body));
}

enum cls_route cls_router_decide(bool classifying, bool has_state, uint64_t state_hash,
                                 uint64_t text_hash)
{
    /* The promise: an issue whose title and body are unchanged since its last
     * classification is never classified again, whatever the action. */
    if (has_state && state_hash == text_hash)
        return CLS_ROUTE_REUSE;
    if (classifying)
        return CLS_ROUTE_CLASSIFY;
    return has_state ? CLS_ROUTE_REUSE : CLS_ROUTE_UNSEEN;
}

const char *cls_route_name(enum cls_route r)
{
    switch (r) {
    case CLS_ROUTE_CLASSIFY: return "classify";
    case CLS_ROUTE_REUSE: return "reuse";
    case CLS_ROUTE_UNSEEN: return "unseen";
    }
    return "unknown";
}
