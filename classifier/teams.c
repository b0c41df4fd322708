/* The team list for suggested_assignee: read from the `teams` section of the
 * classifier's config file into owned storage behind a struct cls_teams view
 * (what the offline classifier and the prompt read), validated once, and
 * matched against names an LLM returns. */
#include "teams.h"

#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TEAMS 256

struct load_ctx {
    struct cls_team_set *set;
    size_t cap_strings;
    struct dai_strlist lists[MAX_TEAMS][3];
};

static int keep(struct cls_team_set *t, size_t *cap, char *s)
{
    if (t->n_strings == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        char **v = realloc(t->strings, ncap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->strings = v;
        *cap = ncap;
    }
    t->strings[t->n_strings++] = s;
    return 0;
}

static int on_team(const struct dai_config_elem *el, size_t index, void *ud, char *err,
                   size_t errlen)
{
    static const char *const list_names[3] = {"keywords", "labels", "paths"};
    struct load_ctx *ctx = ud;
    struct cls_team_set *t = ctx->set;
    struct cls_team *team;
    const char *name = dai_config_elem_str(el, "name");
    const char *desc = dai_config_elem_str(el, "description");
    char *copy;
    int rc;

    if (index >= MAX_TEAMS) {
        snprintf(err, errlen, "%s: teams: at most %d teams", dai_config_elem_where(el), MAX_TEAMS);
        return DAI_ECONFIG;
    }
    if (!name || !dai_team_name_valid(name, strlen(name))) {
        snprintf(err, errlen, "%s: teams[%zu].name: required, 1-%d characters of A-Z a-z 0-9 . _ - (not \"none\")",
                 dai_config_elem_where(el), index, DAI_TEAM_LEN - 1);
        return DAI_ECONFIG;
    }
    for (size_t i = 0; i < t->view.n; i++) {
        if (strcasecmp(t->teams[i].name, name) == 0) {
            snprintf(err, errlen, "%s: teams[%zu].name: \"%s\" appears twice",
                     dai_config_elem_where(el), index, name);
            return DAI_ECONFIG;
        }
    }
    team = &t->teams[t->view.n];
    memset(team, 0, sizeof(*team));
    copy = strdup(name);
    if (!copy || keep(t, &ctx->cap_strings, copy)) {
        free(copy);
        return -ENOMEM;
    }
    team->name = copy;
    copy = strdup(desc ? desc : "");
    if (!copy || keep(t, &ctx->cap_strings, copy)) {
        free(copy);
        return -ENOMEM;
    }
    team->description = copy;
    for (int k = 0; k < 3; k++) {
        rc = dai_config_elem_strlist(el, list_names[k], &ctx->lists[index][k]);
        if (rc) {
            snprintf(err, errlen, "%s: teams[%zu].%s: must be a list of strings",
                     dai_config_elem_where(el), index, list_names[k]);
            return DAI_ECONFIG;
        }
    }
    t->view.n++;
    return 0;
}

int cls_teams_load(const struct dai_config_doc *doc, struct cls_team_set *out, char *err,
                   size_t errlen)
{
    struct load_ctx *ctx;
    size_t total = 0, at = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    ctx = calloc(1, sizeof(*ctx));
    out->teams = calloc(MAX_TEAMS, sizeof(*out->teams));
    if (!ctx || !out->teams) {
        rc = -ENOMEM;
        goto fail;
    }
    ctx->set = out;
    out->view.v = out->teams;
    rc = dai_config_doc_each(doc, "teams", on_team, ctx, err, errlen);
    if (rc)
        goto fail;
    /* Move the hint lists into one pointer array; the strings themselves are
     * stolen from the strlists into our string list. */
    for (size_t i = 0; i < out->view.n; i++)
        for (int k = 0; k < 3; k++)
            total += ctx->lists[i][k].n;
    out->ptrs = calloc(total ? total : 1, sizeof(*out->ptrs));
    if (!out->ptrs) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < out->view.n; i++) {
        struct cls_team *team = &out->teams[i];
        for (int k = 0; k < 3; k++) {
            struct dai_strlist *l = &ctx->lists[i][k];
            const char *const *start = out->ptrs + at;
            for (size_t j = 0; j < l->n; j++) {
                rc = keep(out, &ctx->cap_strings, l->v[j]);
                if (rc)
                    goto fail;
                out->ptrs[at++] = l->v[j];
                l->v[j] = NULL;
            }
            if (k == 0) {
                team->keywords = start;
                team->n_keywords = l->n;
            } else if (k == 1) {
                team->labels = start;
                team->n_labels = l->n;
            } else {
                team->paths = start;
                team->n_paths = l->n;
            }
        }
    }
    rc = 0;
fail:
    if (ctx) {
        for (size_t i = 0; i < MAX_TEAMS; i++)
            for (int k = 0; k < 3; k++)
                dai_strlist_free(&ctx->lists[i][k]);
        free(ctx);
    }
    if (rc)
        cls_teams_free(out);
    return rc;
}

void cls_teams_free(struct cls_team_set *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_strings; i++)
        free(t->strings[i]);
    free(t->strings);
    free(t->ptrs);
    free(t->teams);
    memset(t, 0, sizeof(*t));
}

const char *cls_teams_match(const struct cls_teams *t, const char *name)
{
    if (!t || !name)
        return NULL;
    while (*name == ' ' || *name == '@')
        name++;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->n; i++)
            if (strcasecmp(t->v[i].name, name) == 0)
                return t->v[i].name;
        /* Models like to decorate names ("team-backend" for "backend"). */
        if (strncasecmp(name, "team-", 5) != 0 && strncasecmp(name, "team_", 5) != 0)
            break;
        name += 5;
    }
    return NULL;
}
