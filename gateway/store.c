/* The in-memory triage view: the effective latest enriched event per issue or
 * pull request (bodies cut to a cap), a bounded classification history, the
 * human-correction rule, per-repository counters and the ordered index that
 * list queries scan. One writer (the consumer) under a write lock; readers
 * (REST) under the read lock. Response building lives in view.c, the
 * bookkeeping (names, counters, slots) in store_index.c. */
#include "store_layout.h"

#include "text.h"

#include <dispatchai/buf.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/utf8.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifecycle -------------------------------------------------------------- */

struct gw_store *gw_store_new(const struct gw_store_limits *lim, char *err, size_t errlen)
{
    struct gw_store *s = calloc(1, sizeof(*s));
    pthread_rwlockattr_t attr;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->lim = *lim;
    if (s->lim.history == 0)
        s->lim.history = 1;
    if (s->lim.max_issues == 0)
        s->lim.max_issues = SIZE_MAX;
    dai_map_init(&s->keys);
    dai_map_init(&s->repo_map);
    dai_map_init(&s->team_map);
    gw_order_init(&s->order);
    /* Prefer the writer: a steady stream of list queries must not starve the
     * consumer, or the view (and every WebSocket client) falls behind. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_rwlock_init(&s->lock, &attr)) {
        pthread_rwlockattr_destroy(&attr);
        free(s);
        snprintf(err, errlen, "rwlock init failed");
        return NULL;
    }
    pthread_rwlockattr_destroy(&attr);
    /* Team id 0 is "no suggested assignee". */
    s->teams = calloc(16, sizeof(*s->teams));
    s->teams_cap = 16;
    if (!s->teams || !(s->teams[0] = strdup(""))) {
        gw_store_free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->n_teams = 1;
    return s;
}

void gw_store_free(struct gw_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_iss; i++)
        if (s->iss[i].used)
            gw_store_issue_release(s, &s->iss[i]);
    free(s->iss);
    free(s->free_ids);
    for (size_t i = 0; i < s->n_repos; i++) {
        free(s->repos[i].name);
        free(s->repos[i].name_lc);
    }
    free(s->repos);
    for (size_t i = 0; i < s->n_teams; i++)
        free(s->teams[i]);
    free(s->teams);
    dai_map_free(&s->keys);
    dai_map_free(&s->repo_map);
    dai_map_free(&s->team_map);
    gw_order_free(&s->order);
    dai_buf_free(&s->scratch);
    free(s->removed);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* ---- apply ------------------------------------------------------------------ */

/* Replace an over-long body member with its cut and mark it. 1 if it cut,
 * 0 if the body fits, -ENOMEM. */
static int cut_body(json_t *obj, size_t max)
{
    json_t *b = json_object_get(obj, "body");
    const char *v;
    size_t len, cut;

    if (!json_is_string(b))
        return 0;
    v = json_string_value(b);
    len = json_string_length(b);
    if (len <= max)
        return 0;
    cut = dai_utf8_cut(v, len, max);
    if (json_object_set_new(obj, "body", json_stringn(v, cut)) ||
        json_object_set_new(obj, "body_truncated", json_true()))
        return -ENOMEM;
    return 1;
}

static char *memdup0(const char *p, size_t n)
{
    char *out = malloc(n + 1);

    if (out) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
    return out;
}

static int state_of(const char *st)
{
    if (strcmp(st, "open") == 0)
        return GW_STATE_OPEN;
    if (strcmp(st, "closed") == 0)
        return GW_STATE_CLOSED;
    return GW_STATE_OTHER;
}

static char *dump_new(struct gw_store *s, const json_t *v, size_t *len)
{
    char *out;

    if (dai_json_dump(v, &s->scratch))
        return NULL;
    out = malloc(s->scratch.len + 1);
    if (!out)
        return NULL;
    memcpy(out, s->scratch.data, s->scratch.len + 1);
    *len = s->scratch.len;
    return out;
}

/* A history entry: the classification as it arrived plus when, by which
 * model, for which action, and whether it became the effective one. */
static char *history_entry(struct gw_store *s, const json_t *cls, const json_t *pm,
                           const char *action, bool applied)
{
    json_t *h = json_deep_copy(cls);
    char *out = NULL;
    size_t len;

    if (!h)
        return NULL;
    if (json_object_set(h, "processed_at", json_object_get(pm, "processed_at")) ||
        json_object_set(h, "model_version", json_object_get(pm, "model_version")) ||
        json_object_set_new(h, "event_action", json_string(action)) ||
        json_object_set_new(h, "applied", json_boolean(applied)))
        goto out;
    out = dump_new(s, h, &len);
out:
    json_decref(h);
    return out;
}

static uint64_t history_sig(const struct dai_classification *c, bool applied)
{
    char buf[DAI_TEAM_LEN + DAI_ACTOR_LEN + DAI_NOTE_LEN + 32];
    int n = snprintf(buf, sizeof(buf), "%d|%d|%d|%d|%d|%s|%s|%s", c->category, c->priority,
                     c->effort, c->source, applied, c->suggested_assignee, c->corrected_by,
                     c->note);

    return dai_fnv64(DAI_FNV64_BASIS, buf, n > 0 ? (size_t)n : 0);
}


struct parsed {
    json_t *ev;
    const char *raw; /* the message as received */
    size_t raw_len;
    struct dai_subject sub;
    struct dai_classification c;
    const char *action;
    int64_t updated_ms;
    char key[512];
    char key_lc[512];
    size_t key_len;
};

static int parse_event(const char *json, size_t len, struct parsed *p, char *err, size_t errlen)
{
    json_t *pm;
    int rc;

    p->raw = json;
    p->raw_len = len;
    p->ev = dai_json_parse(json, len, err, errlen);
    if (!p->ev)
        return DAI_EPARSE;
    rc = dai_enriched_event_validate(p->ev, err, errlen);
    if (!rc)
        rc = dai_event_subject(p->ev, &p->sub);
    if (!rc)
        rc = dai_classification_from_json(json_object_get(p->ev, "classification"), &p->c, err,
                                          errlen);
    if (rc) {
        if (!err[0])
            snprintf(err, errlen, "event has no issue or pull_request subject");
        return DAI_ESCHEMA;
    }
    pm = json_object_get(p->ev, "processing_metadata");
    if (gw_parse_time_ms(dai_json_str(pm, "processed_at", ""), &p->updated_ms)) {
        snprintf(err, errlen, "processing_metadata.processed_at: not an RFC 3339 timestamp");
        return DAI_ESCHEMA;
    }
    p->action = dai_json_str(p->ev, "action", "");
    rc = dai_event_key(p->key, sizeof(p->key), p->sub.repo, p->sub.type, p->sub.number,
                       &p->key_len);
    if (rc) {
        snprintf(err, errlen, "event key longer than %zu bytes", sizeof(p->key) - 1);
        return DAI_ESCHEMA;
    }
    gw_lower(p->key, p->key_len + 1, p->key_lc);
    return 0;
}

/* Decide the effective event per the human-correction rule (docs/api.md):
 * a human classification stays effective until a later human correction;
 * automatic events still update everything else about the issue. A human
 * event changes only the classification of the issue it corrects. */
static int effective_event(struct parsed *p, struct gw_issue_rec *old,
                           json_t **eff, bool *human_kept)
{
    json_t *ev = p->ev;

    *human_kept = false;
    if (p->c.source == DAI_SRC_HUMAN && old) {
        json_t *base = json_loadb(old->event, old->event_len, 0, NULL);

        if (!base)
            return -ENOMEM;
        if (json_object_set(base, "classification", json_object_get(ev, "classification")) ||
            json_object_set(base, "processing_metadata",
                            json_object_get(ev, "processing_metadata"))) {
            json_decref(base);
            return -ENOMEM;
        }
        *eff = base;
        return 0;
    }
    if (p->c.source != DAI_SRC_HUMAN && old && old->human) {
        json_t *hc = json_loads(old->human, 0, NULL);

        if (!hc || json_object_set_new(ev, "classification", hc))
            return -ENOMEM;
        *human_kept = true;
    }
    *eff = json_incref(ev);
    return 0;
}

/* Everything an update needs that can fail, prepared before the record is
 * touched so an allocation failure leaves the view as it was. */
struct prep {
    char *text;      /* effective event JSON */
    size_t tlen;
    char *title_lc;
    char *human;     /* new human classification, if this is a correction */
    char *hist;      /* history entry to push, or NULL */
    char **hist_arr; /* history ring for a new issue */
    uint32_t repo, team;
    struct dai_classification ec; /* effective classification */
    int state, type;
    bool human_kept;
};

static void prep_free(struct prep *pr)
{
    free(pr->text);
    free(pr->title_lc);
    free(pr->human);
    free(pr->hist);
    free(pr->hist_arr);
}

static int prepare(struct gw_store *s, struct parsed *p, struct gw_issue_rec *old,
                   struct prep *pr, char *err, size_t errlen)
{
    /* Held: effective_event may replace the event's classification. */
    json_t *eff = NULL, *cls = json_incref(json_object_get(p->ev, "classification"));
    json_t *pm = json_object_get(p->ev, "processing_metadata");
    struct dai_subject sub; /* borrowed from eff: used before eff is released */
    char cerr[160];
    size_t tl;
    int rc, c1, c2;

    rc = effective_event(p, old, &eff, &pr->human_kept);
    if (rc)
        goto out;
    rc = -ENOMEM;
    /* A correction's eff is the stored event, already cut when stored. */
    c1 = cut_body((json_t *)p->sub.object, s->lim.max_body);
    c2 = cut_body(json_object_get(eff, "comment"), s->lim.max_body);
    if (c1 < 0 || c2 < 0)
        goto out;
    /* Serialising costs as much as parsing: an event we did not change is
     * kept byte for byte as it came (it is valid JSON, jansson said so). */
    if (eff == p->ev && !pr->human_kept && !c1 && !c2) {
        pr->text = memdup0(p->raw, p->raw_len);
        pr->tlen = p->raw_len;
    } else {
        pr->text = dump_new(s, eff, &pr->tlen);
    }
    if (!pr->text)
        goto out;
    if (pr->tlen > s->lim.max_event) {
        snprintf(err, errlen, "event is %zu bytes after cutting bodies (store.max_event %zu)",
                 pr->tlen, s->lim.max_event);
        rc = DAI_ETOOBIG;
        goto out;
    }
    if (dai_event_subject(eff, &sub) ||
        dai_classification_from_json(json_object_get(eff, "classification"), &pr->ec, cerr,
                                     sizeof(cerr))) {
        rc = DAI_ESCHEMA; /* not reachable: both parts were validated */
        goto out;
    }
    pr->state = state_of(sub.state);
    pr->type = strcmp(sub.type, "pull_request") == 0 ? GW_TYPE_PR : GW_TYPE_ISSUE;
    rc = gw_store_intern_repo(s, sub.repo, &pr->repo);
    if (!rc)
        rc = gw_store_intern_team(s, pr->ec.suggested_assignee, &pr->team);
    if (rc)
        goto out;
    rc = -ENOMEM;
    tl = strlen(sub.title);
    pr->title_lc = malloc(tl + 1);
    if (!pr->title_lc)
        goto out;
    gw_lower(sub.title, tl, pr->title_lc);
    pr->title_lc[tl] = '\0';
    if (p->c.source == DAI_SRC_HUMAN) {
        size_t hl;

        pr->human = dump_new(s, cls, &hl);
        if (!pr->human)
            goto out;
    }
    /* History: human corrections always; automatic ones when they differ
     * from the last entry (comment events re-classify without news). */
    if (p->c.source == DAI_SRC_HUMAN || !old || old->hist_n == 0 ||
        history_sig(&p->c, !pr->human_kept) != old->hist_sig) {
        pr->hist = history_entry(s, cls, pm, p->action, !pr->human_kept);
        if (!pr->hist)
            goto out;
    }
    if (!old) {
        pr->hist_arr = calloc(s->lim.history, sizeof(*pr->hist_arr));
        if (!pr->hist_arr)
            goto out;
    }
    rc = 0;
out:
    json_decref(cls);
    json_decref(eff);
    return rc;
}

/* Install a prepared update into a record that is out of the index and the
 * counters. Cannot fail; takes the prepared buffers. */
static void install(struct gw_store *s, struct gw_issue_rec *is, const struct parsed *p,
                    struct prep *pr)
{
    is->repo = pr->repo;
    is->team = pr->team;
    is->category = (uint8_t)pr->ec.category;
    is->priority = (uint8_t)pr->ec.priority;
    is->effort = (uint8_t)pr->ec.effort;
    is->source = (uint8_t)pr->ec.source;
    is->state = (uint8_t)pr->state;
    is->type = (uint8_t)pr->type;
    is->updated_ms = p->updated_ms;
    free(is->event);
    is->event = pr->text;
    is->event_len = pr->tlen;
    pr->text = NULL;
    free(is->title_lc);
    is->title_lc = pr->title_lc;
    pr->title_lc = NULL;
    if (pr->human) {
        free(is->human);
        is->human = pr->human;
        pr->human = NULL;
    }
    if (pr->hist_arr) {
        is->hist = pr->hist_arr;
        pr->hist_arr = NULL;
    }
    if (pr->hist) {
        unsigned cap = s->lim.history;

        if (is->hist_n == cap) {
            free(is->hist[is->hist_head]);
            is->hist[is->hist_head] = pr->hist;
            is->hist_head = (is->hist_head + 1) % cap;
        } else {
            is->hist[(is->hist_head + is->hist_n) % cap] = pr->hist;
            is->hist_n++;
        }
        is->hist_sig = history_sig(&p->c, !pr->human_kept);
        pr->hist = NULL;
    }
}

static int apply_removal(struct gw_store *s, struct parsed *p, bool exists, uint32_t id,
                         struct gw_applied *out, char *err, size_t errlen)
{
    struct prep pr;
    int rc;

    memset(&pr, 0, sizeof(pr));
    rc = prepare(s, p, exists ? &s->iss[id] : NULL, &pr, err, errlen);
    if (rc) {
        prep_free(&pr);
        return rc;
    }
    free(s->removed);
    s->removed = pr.text; /* kept until the next apply: out->event points here */
    pr.text = NULL;
    snprintf(s->removed_key, sizeof(s->removed_key), "%s", p->key);
    out->kind = GW_APPLY_REMOVED;
    out->event = s->removed;
    out->event_len = pr.tlen;
    out->key = s->removed_key;
    /* The issue is gone: "after" repeats "before" (or the event's own
     * selectors) so subscribers of that issue's filter hear about it. */
    out->after.repo = s->repos[pr.repo].name_lc;
    out->after.team = s->teams[pr.team];
    out->after.category = pr.ec.category;
    out->after.priority = pr.ec.priority;
    out->after.state = pr.state;
    out->after.type = pr.type;
    if (exists)
        gw_store_remove_issue(s, id);
    prep_free(&pr);
    s->applied++;
    return 0;
}

static int apply_locked(struct gw_store *s, struct parsed *p, struct gw_applied *out, char *err,
                        size_t errlen)
{
    struct gw_issue_rec *is;
    struct prep pr;
    uint64_t found = 0;
    bool exists = dai_map_get(&s->keys, p->key_lc, p->key_len, &found) == 0;
    uint32_t id = (uint32_t)found;
    struct gw_ent e;
    int rc;

    memset(out, 0, sizeof(*out));
    if (exists) {
        gw_store_sel_of(s, &s->iss[id], &out->before);
        out->has_before = true;
    }
    if (strcmp(p->action, "deleted") == 0 &&
        strcmp(dai_json_str(p->ev, "event_type", ""), "issue_comment") != 0)
        return apply_removal(s, p, exists, id, out, err, errlen);

    memset(&pr, 0, sizeof(pr));
    rc = prepare(s, p, exists ? &s->iss[id] : NULL, &pr, err, errlen);
    if (rc)
        goto fail;
    if (!exists) {
        /* Make room first, so the new issue is never the one evicted. */
        if (s->issues >= s->lim.max_issues && gw_order_last(&s->order)) {
            gw_store_remove_issue(s, gw_order_last(&s->order)->id);
            s->evicted++;
            out->evicted = true;
        }
        rc = gw_store_alloc_slot(s, &id);
        if (rc)
            goto fail;
        is = &s->iss[id];
        is->key = strdup(p->key);
        is->key_lc = strdup(p->key_lc);
        is->key_len = p->key_len;
        is->khash = dai_fnv64(DAI_FNV64_BASIS, p->key_lc, p->key_len);
        if (!is->key || !is->key_lc || dai_map_put(&s->keys, is->key_lc, is->key_len, id)) {
            gw_store_issue_release(s, is);
            gw_store_free_slot(s, id);
            rc = -ENOMEM;
            goto fail;
        }
        is->used = true;
        s->issues++;
    } else {
        is = &s->iss[id];
        (void)gw_order_remove(&s->order, is->updated_ms, is->khash); /* present */
        gw_store_account(s, is, -1);
        s->bytes -= is->bytes;
    }
    install(s, is, p, &pr);
    prep_free(&pr);
    is->bytes = gw_store_issue_bytes(s, is);
    s->bytes += is->bytes;
    gw_store_account(s, is, +1);
    e = gw_store_ent_of(is, id);
    rc = gw_order_insert(&s->order, &e);
    if (rc) {
        /* Out of memory for an index block: drop the issue rather than keep
         * a record the index does not know. */
        gw_store_remove_issue(s, id);
        return rc;
    }
    s->applied++;
    if (pr.human_kept)
        s->human_kept++;
    out->kind = GW_APPLY_UPDATED;
    out->event = is->event;
    out->event_len = is->event_len;
    out->key = is->key;
    out->human_kept = pr.human_kept;
    gw_store_sel_of(s, is, &out->after);
    return 0;
fail:
    prep_free(&pr);
    return rc;
}

int gw_store_apply(struct gw_store *s, const char *json, size_t len, struct gw_applied *out,
                   char *err, size_t errlen)
{
    struct parsed p;
    int rc;

    memset(&p, 0, sizeof(p));
    err[0] = '\0';
    rc = parse_event(json, len, &p, err, errlen);
    if (rc) {
        json_decref(p.ev);
        pthread_rwlock_wrlock(&s->lock);
        s->rejected++;
        pthread_rwlock_unlock(&s->lock);
        return rc;
    }
    pthread_rwlock_wrlock(&s->lock);
    rc = apply_locked(s, &p, out, err, errlen);
    if (rc == DAI_ETOOBIG)
        s->rejected++;
    pthread_rwlock_unlock(&s->lock);
    json_decref(p.ev);
    return rc;
}

void gw_store_get_stats(struct gw_store *s, struct gw_store_stats *st)
{
    pthread_rwlock_rdlock(&s->lock);
    st->issues = s->issues;
    st->bytes = s->bytes;
    st->applied = s->applied;
    st->rejected = s->rejected;
    st->human_kept = s->human_kept;
    st->evicted = s->evicted;
    pthread_rwlock_unlock(&s->lock);
}
