/* Read side of the store: the JSON bodies of GET /api/issues (a filtered scan
 * of the ordered index that splices stored event text, never re-serialising
 * it), GET /api/issues/{owner}/{repo}/{number}, /api/stats and /api/repos.
 * Every function holds the read lock while it builds its answer. */
#include "store_layout.h"

#include "query.h"
#include "text.h"

#include <dispatchai/buf.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)              \
    do {                    \
        int rc_ = (x);      \
        if (rc_)            \
            return rc_;     \
    } while (0)

/* Resolve a string set to ids (ids holds GW_MAX_VALUES, as many as a set
 * can hold); returns how many resolved. skip, if not NULL, is a value with a
 * meaning of its own that is never looked up. */
static unsigned resolve(const struct dai_map *map, const struct gw_strset *set, const char *skip,
                        uint32_t ids[GW_MAX_VALUES])
{
    unsigned n = 0;

    for (unsigned i = 0; i < set->n && n < GW_MAX_VALUES; i++) {
        uint64_t id;

        if (skip && strcmp(set->v[i], skip) == 0)
            continue;
        if (dai_map_get(map, set->v[i], strlen(set->v[i]), &id) == 0)
            ids[n++] = (uint32_t)id;
    }
    return n;
}

static bool in_ids(const uint32_t *ids, unsigned n, uint32_t v)
{
    for (unsigned i = 0; i < n; i++)
        if (ids[i] == v)
            return true;
    return false;
}

/* Substring test for q: memchr finds candidates for the first byte (SIMD in
 * glibc), so titles without it cost a few nanoseconds. */
static bool contains(const char *hay, size_t hn, const char *nd, size_t nn)
{
    const char *p = hay, *end;

    if (nn > hn)
        return false;
    end = hay + (hn - nn) + 1;
    while ((p = memchr(p, nd[0], (size_t)(end - p)))) {
        if (!memcmp(p + 1, nd + 1, nn - 1))
            return true;
        p++;
    }
    return false;
}

static bool in_mask(uint32_t mask, unsigned v)
{
    return !mask || (mask & (1u << v));
}

static int list_locked(struct gw_store *s, const struct gw_query *q, struct dai_buf *out)
{
    const struct gw_match *m = &q->m;
    /* team_ids: the resolved teams and, for "none", the id 0 after them. */
    uint32_t repo_ids[GW_MAX_VALUES], team_ids[GW_MAX_VALUES + 1];
    unsigned n_repo = resolve(&s->repo_map, &m->repos, NULL, repo_ids);
    unsigned n_team = 0, count = 0;
    bool none_team = false, more = false;
    const struct gw_ent *last = NULL;
    struct gw_order_pos pos;
    char cur[GW_CURSOR_MAX];

    /* "none" in assignee means "no suggested team" (team id 0), even if an
     * event from the topic names a team "none". */
    for (unsigned i = 0; i < m->teams.n; i++)
        if (strcmp(m->teams.v[i], "none") == 0)
            none_team = true;
    n_team = resolve(&s->team_map, &m->teams, "none", team_ids);
    if (none_team)
        team_ids[n_team++] = 0;

    TRY(dai_buf_append(out, "{\"items\":[", 10));
    /* A filter on values nobody has matches nothing: skip the scan. */
    if ((m->repos.n && !n_repo) || (m->teams.n && !n_team))
        goto done;
    pos = gw_order_seek(&s->order, q->has_cursor, q->cur_ms, q->cur_hash);
    for (const struct gw_ent *e = gw_order_at(&s->order, pos); e;
         pos = gw_order_next(&s->order, pos), e = gw_order_at(&s->order, pos)) {
        /* Newest first: once at or below since, nothing later qualifies. */
        if (q->has_since && e->updated_ms <= q->since_ms)
            break;
        if (!in_mask(m->categories, e->category) || !in_mask(m->priorities, e->priority) ||
            !in_mask(m->states, e->state) || !in_mask(m->types, e->type))
            continue;
        if (m->repos.n && !in_ids(repo_ids, n_repo, e->repo))
            continue;
        if (m->teams.n && !in_ids(team_ids, n_team, e->team))
            continue;
        if (q->qlen) {
            /* The signature rules most titles out without reading them. */
            if ((e->tsig[0] & q->qsig[0]) != q->qsig[0] ||
                (e->tsig[1] & q->qsig[1]) != q->qsig[1])
                continue;
            /* Titles live elsewhere: fetch a few entries ahead. */
            const struct gw_ent *ahead = gw_order_peek(&s->order, pos, 4);

            if (ahead)
                __builtin_prefetch(ahead->title_lc);
            if (!contains(e->title_lc, e->title_len, q->q, q->qlen))
                continue;
        }
        if (count == q->limit) {
            more = true;
            break;
        }
        if (count)
            TRY(dai_buf_append(out, ",", 1));
        TRY(dai_buf_append(out, s->iss[e->id].event, s->iss[e->id].event_len));
        count++;
        last = e;
    }
done:
    TRY(dai_buf_append(out, "],\"next_cursor\":", 16));
    if (more && last) {
        gw_cursor_encode(last->updated_ms, last->khash, cur);
        TRY(dai_buf_append_jstr(out, cur));
    } else {
        TRY(dai_buf_append(out, "null", 4));
    }
    return dai_buf_append(out, "}", 1);
}

int gw_store_list(struct gw_store *s, const struct gw_query *q, struct dai_buf *out)
{
    int rc;

    dai_buf_reset(out);
    pthread_rwlock_rdlock(&s->lock);
    rc = list_locked(s, q, out);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Slot of repo/number (issue or pull request; GitHub numbers them in one
 * sequence per repository), or DAI_ENOTFOUND. Caller holds a lock. */
static int find_issue(struct gw_store *s, const char *repo, long long number, uint32_t *id)
{
    static const char *const types[] = {"issue", "pull_request"};
    char key[512];

    for (size_t i = 0; i < 2; i++) {
        uint64_t found;
        size_t len;

        if (dai_event_key(key, sizeof(key), repo, types[i], number, &len))
            return DAI_ENOTFOUND;
        gw_lower(key, len, key);
        if (dai_map_get(&s->keys, key, len, &found) == 0) {
            *id = (uint32_t)found;
            return 0;
        }
    }
    return DAI_ENOTFOUND;
}

static int get_locked(struct gw_store *s, const char *repo, long long number,
                      struct dai_buf *out)
{
    const struct gw_issue_rec *is;
    uint32_t id;

    if (find_issue(s, repo, number, &id))
        return DAI_ENOTFOUND;
    is = &s->iss[id];
    TRY(dai_buf_append(out, "{\"key\":", 7));
    TRY(dai_buf_append_jstr(out, is->key));
    TRY(dai_buf_append(out, ",\"latest\":", 10));
    TRY(dai_buf_append(out, is->event, is->event_len));
    TRY(dai_buf_appendf(out, ",\"human_override\":%s,\"history\":[",
                        is->human ? "true" : "false"));
    for (unsigned i = 0; i < is->hist_n; i++) {
        const char *h = is->hist[(is->hist_head + i) % s->lim.history];

        if (i)
            TRY(dai_buf_append(out, ",", 1));
        TRY(dai_buf_append(out, h, strlen(h)));
    }
    return dai_buf_append(out, "]}", 2);
}

int gw_store_get(struct gw_store *s, const char *repo, long long number, struct dai_buf *out)
{
    int rc;

    dai_buf_reset(out);
    pthread_rwlock_rdlock(&s->lock);
    rc = get_locked(s, repo, number, out);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

json_t *gw_store_latest(struct gw_store *s, const char *repo, long long number, int *rc)
{
    json_t *ev = NULL;
    uint32_t id;

    pthread_rwlock_rdlock(&s->lock);
    *rc = find_issue(s, repo, number, &id);
    if (!*rc) {
        ev = json_loadb(s->iss[id].event, s->iss[id].event_len, 0, NULL);
        if (!ev)
            *rc = -ENOMEM;
    }
    pthread_rwlock_unlock(&s->lock);
    return ev;
}

static int append_counts(struct dai_buf *b, const char *name, const size_t *v, int n,
                         const char *(*label)(int))
{
    TRY(dai_buf_appendf(b, ",\"%s\":{", name));
    for (int i = 0; i < n; i++)
        TRY(dai_buf_appendf(b, "%s\"%s\":%zu", i ? "," : "", label(i), v[i]));
    return dai_buf_append(b, "}", 1);
}

static const char *cat_label(int i)
{
    return dai_category_name((enum dai_category)i);
}

static const char *prio_label(int i)
{
    return dai_priority_name((enum dai_priority)i);
}

static const char *src_label(int i)
{
    return dai_source_name((enum dai_source)i);
}

static int stats_locked(struct gw_store *s, const char *repo, struct dai_buf *out)
{
    static const struct gw_counts zero;
    const struct gw_counts *c = &s->total;
    bool first = true;
    uint64_t rid = 0;
    bool one = false;

    if (repo) {
        size_t len = strlen(repo);
        char lc[GW_MAX_VALUE_LEN + 1];

        if (len > GW_MAX_VALUE_LEN)
            return DAI_EINVAL;
        gw_lower(repo, len, lc);
        lc[len] = '\0';
        c = &zero;
        if (dai_map_get(&s->repo_map, lc, len, &rid) == 0) {
            c = &s->repos[rid].c;
            one = true;
        }
    }
    TRY(dai_buf_appendf(out, "{\"total\":%zu", c->total));
    TRY(append_counts(out, "by_category", c->cat, DAI_CAT_COUNT, cat_label));
    TRY(append_counts(out, "by_priority", c->prio, DAI_PRIO_COUNT, prio_label));
    TRY(append_counts(out, "by_state", c->state, GW_STATE_COUNT, gw_state_name));
    TRY(append_counts(out, "by_source", c->source, DAI_SRC_COUNT, src_label));
    TRY(append_counts(out, "by_type", c->type, GW_TYPE_COUNT, gw_type_name));
    TRY(dai_buf_append(out, ",\"by_repository\":{", 18));
    for (size_t i = 0; i < s->n_repos; i++) {
        if (s->repos[i].c.total == 0 || (repo && (!one || i != rid)))
            continue;
        if (!first)
            TRY(dai_buf_append(out, ",", 1));
        first = false;
        TRY(dai_buf_append_jstr(out, s->repos[i].name));
        TRY(dai_buf_appendf(out, ":%zu", s->repos[i].c.total));
    }
    return dai_buf_append(out, "}}", 2);
}

int gw_store_stats_json(struct gw_store *s, const char *repo, struct dai_buf *out)
{
    int rc;

    dai_buf_reset(out);
    pthread_rwlock_rdlock(&s->lock);
    rc = stats_locked(s, repo, out);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static int cmp_repo_name(const void *a, const void *b)
{
    const struct gw_repo_rec *const *x = a, *const *y = b;

    return strcmp((*x)->name_lc, (*y)->name_lc);
}

static int repos_locked(struct gw_store *s, struct dai_buf *out)
{
    const struct gw_repo_rec **v = malloc((s->n_repos ? s->n_repos : 1) * sizeof(*v));
    size_t n = 0;
    int rc = 0;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < s->n_repos; i++)
        if (s->repos[i].c.total)
            v[n++] = &s->repos[i];
    qsort(v, n, sizeof(*v), cmp_repo_name);
    rc = dai_buf_append(out, "{\"items\":[", 10);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct gw_counts *c = &v[i]->c;

        rc = dai_buf_append(out, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
        if (!rc)
            rc = dai_buf_append_jstr(out, v[i]->name);
        if (!rc)
            rc = dai_buf_appendf(out,
                                 ",\"total\":%zu,\"issues\":%zu,\"pull_requests\":%zu,"
                                 "\"open\":%zu,\"closed\":%zu}",
                                 c->total, c->type[GW_TYPE_ISSUE], c->type[GW_TYPE_PR],
                                 c->state[GW_STATE_OPEN], c->state[GW_STATE_CLOSED]);
    }
    if (!rc)
        rc = dai_buf_append(out, "]}", 2);
    free(v);
    return rc;
}

int gw_store_repos_json(struct gw_store *s, struct dai_buf *out)
{
    int rc;

    dai_buf_reset(out);
    pthread_rwlock_rdlock(&s->lock);
    rc = repos_locked(s, out);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}
