/* The store's bookkeeping, shared by store.c's apply path: interned
 * repository and team names, counters per repository and in total, issue
 * slots (reused through a free list) and their entries in the ordered index.
 * Callers hold the write lock. */
#include "store_layout.h"

#include "text.h"

#include <dispatchai/map.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gw_store_issue_release(struct gw_store *s, struct gw_issue_rec *is)
{
    free(is->key);
    free(is->key_lc);
    free(is->event);
    free(is->title_lc);
    free(is->human);
    if (is->hist) {
        for (unsigned i = 0; i < s->lim.history; i++)
            free(is->hist[i]);
        free(is->hist);
    }
    memset(is, 0, sizeof(*is));
}

/* ---- interning -------------------------------------------------------------- */

int gw_store_intern_repo(struct gw_store *s, const char *name, uint32_t *id)
{
    size_t len = strlen(name);
    char *lc = malloc(len + 1);
    struct gw_repo_rec *r;
    uint64_t found;
    int rc;

    if (!lc)
        return -ENOMEM;
    gw_lower(name, len, lc);
    lc[len] = '\0';
    if (dai_map_get(&s->repo_map, lc, len, &found) == 0) {
        free(lc);
        *id = (uint32_t)found;
        return 0;
    }
    if (s->n_repos == s->repos_cap) {
        size_t ncap = s->repos_cap ? s->repos_cap * 2 : 16;
        struct gw_repo_rec *nr = realloc(s->repos, ncap * sizeof(*nr));

        if (!nr) {
            free(lc);
            return -ENOMEM;
        }
        s->repos = nr;
        s->repos_cap = ncap;
    }
    r = &s->repos[s->n_repos];
    memset(r, 0, sizeof(*r));
    r->name = strdup(name);
    r->name_lc = lc;
    if (!r->name) {
        free(lc);
        return -ENOMEM;
    }
    rc = dai_map_put(&s->repo_map, r->name_lc, len, s->n_repos);
    if (rc) {
        free(r->name);
        free(lc);
        return rc;
    }
    *id = (uint32_t)s->n_repos++;
    return 0;
}

int gw_store_intern_team(struct gw_store *s, const char *name, uint32_t *id)
{
    size_t len = strlen(name);
    uint64_t found;
    char *lc;
    int rc;

    if (len == 0) {
        *id = 0;
        return 0;
    }
    lc = malloc(len + 1);
    if (!lc)
        return -ENOMEM;
    gw_lower(name, len, lc);
    lc[len] = '\0';
    if (dai_map_get(&s->team_map, lc, len, &found) == 0) {
        free(lc);
        *id = (uint32_t)found;
        return 0;
    }
    if (s->n_teams == s->teams_cap) {
        char **nt = realloc(s->teams, s->teams_cap * 2 * sizeof(*nt));

        if (!nt) {
            free(lc);
            return -ENOMEM;
        }
        s->teams = nt;
        s->teams_cap *= 2;
    }
    rc = dai_map_put(&s->team_map, lc, len, s->n_teams);
    if (rc) {
        free(lc);
        return rc;
    }
    s->teams[s->n_teams] = lc;
    *id = (uint32_t)s->n_teams++;
    return 0;
}

/* ---- counters --------------------------------------------------------------- */

static void counts_add(struct gw_counts *c, const struct gw_issue_rec *is, long d)
{
    c->total += (size_t)d;
    c->cat[is->category] += (size_t)d;
    c->prio[is->priority] += (size_t)d;
    c->state[is->state] += (size_t)d;
    c->source[is->source] += (size_t)d;
    c->type[is->type] += (size_t)d;
}

void gw_store_account(struct gw_store *s, struct gw_issue_rec *is, long d)
{
    counts_add(&s->total, is, d);
    counts_add(&s->repos[is->repo].c, is, d);
}

void gw_store_sel_of(const struct gw_store *s, const struct gw_issue_rec *is, struct gw_sel *out)
{
    out->repo = s->repos[is->repo].name_lc;
    out->team = s->teams[is->team];
    out->category = is->category;
    out->priority = is->priority;
    out->state = is->state;
    out->type = is->type;
}

size_t gw_store_issue_bytes(const struct gw_store *s, const struct gw_issue_rec *is)
{
    size_t b = sizeof(*is) + sizeof(struct gw_ent) + 48 /* map slots at load <= 1/2 */ +
               2 * (is->key_len + 1) + is->event_len + 1 +
               (is->title_lc ? strlen(is->title_lc) + 1 : 0) +
               (is->human ? strlen(is->human) + 1 : 0) + s->lim.history * sizeof(char *);

    for (unsigned i = 0; i < is->hist_n; i++)
        b += strlen(is->hist[(is->hist_head + i) % s->lim.history]) + 1;
    return b;
}

/* ---- slots ------------------------------------------------------------------ */

int gw_store_alloc_slot(struct gw_store *s, uint32_t *id)
{
    if (s->n_free) {
        *id = s->free_ids[--s->n_free];
        return 0;
    }
    if (s->n_iss == s->iss_cap) {
        size_t ncap = s->iss_cap ? s->iss_cap * 2 : 1024;
        struct gw_issue_rec *ni;

        if (ncap > UINT32_MAX)
            return -ENOMEM;
        ni = realloc(s->iss, ncap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        s->iss = ni;
        s->iss_cap = ncap;
    }
    memset(&s->iss[s->n_iss], 0, sizeof(s->iss[0]));
    *id = (uint32_t)s->n_iss++;
    return 0;
}

void gw_store_free_slot(struct gw_store *s, uint32_t id)
{
    if (s->n_free == s->free_cap) {
        size_t ncap = s->free_cap ? s->free_cap * 2 : 256;
        uint32_t *nf = realloc(s->free_ids, ncap * sizeof(*nf));

        if (!nf)
            return; /* the slot is leaked for reuse, not for memory: harmless */
        s->free_ids = nf;
        s->free_cap = ncap;
    }
    s->free_ids[s->n_free++] = id;
}

struct gw_ent gw_store_ent_of(const struct gw_issue_rec *is, uint32_t id)
{
    size_t tl = strlen(is->title_lc);
    struct gw_ent e = {
        .updated_ms = is->updated_ms,
        .khash = is->khash,
        .title_lc = is->title_lc,
        .title_len = (uint32_t)tl,
        .id = id,
        .repo = is->repo,
        .team = is->team,
        .category = is->category,
        .priority = is->priority,
        .state = is->state,
        .type = is->type,
    };

    gw_bigram_sig(is->title_lc, tl, e.tsig);
    return e;
}

void gw_store_remove_issue(struct gw_store *s, uint32_t id)
{
    struct gw_issue_rec *is = &s->iss[id];

    (void)gw_order_remove(&s->order, is->updated_ms, is->khash); /* present by construction */
    (void)dai_map_del(&s->keys, is->key_lc, is->key_len);
    gw_store_account(s, is, -1);
    s->bytes -= is->bytes;
    s->issues--;
    gw_store_issue_release(s, is);
    gw_store_free_slot(s, id);
}

