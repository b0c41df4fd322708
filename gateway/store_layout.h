/* The store's private layout, shared by store.c (writes) and view.c (reads);
 * nothing else includes it. The store's interface is store.h. */
#ifndef DISPATCHAI_GW_STORE_LAYOUT_H
#define DISPATCHAI_GW_STORE_LAYOUT_H

#include "match.h"
#include "order.h"
#include "store.h"

#include <dispatchai/buf.h>
#include <dispatchai/events.h>
#include <dispatchai/map.h>

#include <pthread.h>

struct gw_counts {
    size_t total;
    size_t cat[DAI_CAT_COUNT];
    size_t prio[DAI_PRIO_COUNT];
    size_t state[GW_STATE_COUNT];
    size_t source[DAI_SRC_COUNT];
    size_t type[GW_TYPE_COUNT];
};

struct gw_repo_rec {
    char *name;    /* as first seen ("Owner/Repo") */
    char *name_lc; /* map key */
    struct gw_counts c;
};

struct gw_issue_rec {
    char *key;       /* "Owner/Repo:issue:12" as in the event */
    char *key_lc;    /* map key */
    size_t key_len;
    char *event;     /* effective latest event, compact JSON */
    size_t event_len;
    char *title_lc;
    char *human;     /* the effective human classification (JSON) or NULL */
    char **hist;     /* ring of lim.history JSON entries */
    unsigned hist_n, hist_head;
    uint64_t hist_sig;
    int64_t updated_ms;
    uint64_t khash;
    size_t bytes;    /* accounted heap bytes of this record */
    uint32_t repo, team;
    uint8_t category, priority, effort, source, state, type;
    bool used;
};

struct gw_store {
    pthread_rwlock_t lock;
    struct gw_store_limits lim;

    struct gw_issue_rec *iss;
    size_t n_iss, iss_cap;
    uint32_t *free_ids;
    size_t n_free, free_cap;
    struct dai_map keys; /* key_lc -> slot */

    struct gw_repo_rec *repos;
    size_t n_repos, repos_cap;
    struct dai_map repo_map;

    char **teams; /* lower-case; [0] = "" */
    size_t n_teams, teams_cap;
    struct dai_map team_map;

    struct gw_order order;
    struct gw_counts total;
    size_t issues, bytes;
    unsigned long long applied, rejected, human_kept, evicted;

    struct dai_buf scratch; /* writer's serialisation buffer */
    char *removed;          /* last removal's event text (see gw_applied) */
    char removed_key[512];
};

/* ---- store_index.c: bookkeeping for the apply path (write lock held) ---- */

/* Free an issue record's strings and history; the slot is left zeroed. */
void gw_store_issue_release(struct gw_store *s, struct gw_issue_rec *is);
/* Interned id of a repository / team name (lower-cased key; added when
 * new). 0 or -ENOMEM. Team "" is id 0, "no team". */
DAI_MUST_CHECK int gw_store_intern_repo(struct gw_store *s, const char *name, uint32_t *id);
DAI_MUST_CHECK int gw_store_intern_team(struct gw_store *s, const char *name, uint32_t *id);
/* Add (d = 1) or remove (d = -1) an issue from the total and its repository's counters. */
void gw_store_account(struct gw_store *s, struct gw_issue_rec *is, long d);
/* The filter selectors of an issue (strings borrowed from the store). */
void gw_store_sel_of(const struct gw_store *s, const struct gw_issue_rec *is, struct gw_sel *out);
/* Accounted heap bytes of an issue record. */
size_t gw_store_issue_bytes(const struct gw_store *s, const struct gw_issue_rec *is);
/* A free issue slot (reused or new). 0 or -ENOMEM. */
DAI_MUST_CHECK int gw_store_alloc_slot(struct gw_store *s, uint32_t *id);
/* Return slot id to the free list (the record must be released already). */
void gw_store_free_slot(struct gw_store *s, uint32_t id);
/* The ordered-index entry of an issue in slot id. */
struct gw_ent gw_store_ent_of(const struct gw_issue_rec *is, uint32_t id);
/* Take the issue in slot id out of the index, maps and counters and free it. */
void gw_store_remove_issue(struct gw_store *s, uint32_t id);

#endif
