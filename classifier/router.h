/* Routing (router.c): whether an event is classified, reuses its key's
 * latest classification, or is a never-seen issue. Pure. */
#ifndef DISPATCHAI_CLS_ROUTER_H
#define DISPATCHAI_CLS_ROUTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum cls_route {
    CLS_ROUTE_CLASSIFY = 0, /* new or changed text on a classifying action */
    CLS_ROUTE_REUSE,        /* carry the key's latest classification */
    CLS_ROUTE_UNSEEN        /* non-classifying event for a never-classified issue */
};

/* Does this event (type/action/changes) ask for a classification? issues and
 * pull requests opened/reopened, and edited unless `changes` lists neither
 * title nor body. */
bool cls_router_is_classifying(const char *event_type, const char *action,
                               const json_t *changes);
/* Stable FNV-1a 64 (hash.h) over title, a separator and body. */
uint64_t cls_text_hash(const char *title, const char *body);
enum cls_route cls_router_decide(bool classifying, bool has_state, uint64_t state_hash,
                                 uint64_t text_hash);
const char *cls_route_name(enum cls_route r);

#endif
