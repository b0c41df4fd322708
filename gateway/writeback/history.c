/* Who last put on or took off each label of an issue, read from GitHub's
 * issue events. This is how write-back remembers which labels it added:
 * GitHub keeps the record, for every gateway instance and across restarts,
 * and it also shows what a person did since. Pure. */
#include "writeback.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct gw_wb_touch *gw_wb_history_find(const struct gw_wb_history *h, const char *name)
{
    for (size_t i = 0; h && i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return &h->v[i];
    return NULL;
}

int gw_wb_history_add(struct gw_wb_history *h, const json_t *events, const char *bot)
{
    const json_t *ev;
    size_t i;

    if (!json_is_array(events))
        return DAI_EPARSE;
    json_array_foreach(events, i, ev) {
        const char *kind = dai_json_str(ev, "event", "");
        const char *name = dai_json_str(json_object_get(ev, "label"), "name", NULL);
        const char *actor = dai_json_str(json_object_get(ev, "actor"), "login", "");
        struct gw_wb_touch *t;
        bool labeled = strcmp(kind, "labeled") == 0;

        if ((!labeled && strcmp(kind, "unlabeled") != 0) || !name ||
            strlen(name) > GW_WB_LABEL_MAX)
            continue;
        t = (struct gw_wb_touch *)gw_wb_history_find(h, name);
        if (!t) {
            if (h->n == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 8;
                struct gw_wb_touch *v = realloc(h->v, cap * sizeof(*v));
                if (!v)
                    return -ENOMEM;
                h->v = v;
                h->cap = cap;
            }
            t = &h->v[h->n++];
            memcpy(t->name, name, strlen(name) + 1);
        }
        t->labeled = labeled;
        t->by_bot = bot && bot[0] && strcasecmp(actor, bot) == 0;
    }
    return 0;
}

void gw_wb_history_free(struct gw_wb_history *h)
{
    free(h->v);
    memset(h, 0, sizeof(*h));
}
