/* Write-back's GitHub side for one issue: its labels read with a
 * conditional GET (cached ETag), its label events read only when a decision
 * depends on them, the plan of plan.c applied with POST/DELETE (never PUT),
 * and the optional single comment kept in line. In dry-run the same reads
 * happen and the writes are logged and counted instead. */
#include "sync.h"

#include <dispatchai/json.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETAG_CACHE_MAX 50000
#define EVENT_PAGES_MAX 20

/* Labels as GitHub last showed them, for conditional GETs. */
struct cached_labels {
    char *key;
    char etag[128];
    struct dai_strlist names;
};

/* An answer's class for write-back: 2xx/304 fine, GitHub's "this will not
 * work" statuses permanent, anything else transient. */
enum gw_wb_outcome gw_wb_classify(int rc, long status)
{
    if (rc == -ENOMEM || rc == DAI_ETIMEOUT || rc == DAI_EAUTH)
        return rc == DAI_ETIMEOUT && dai_lifecycle_stopping() ? GW_WB_STOPPING : GW_WB_TRANSIENT;
    if (rc)
        return GW_WB_PERMANENT;
    if ((status >= 200 && status < 300) || status == 304)
        return GW_WB_DONE;
    if (status == 401 || status == 403 || status == 404 || status == 410 || status == 422)
        return GW_WB_PERMANENT;
    return GW_WB_TRANSIENT;
}

/*---- GitHub reads ---------------------------------------------------------------*/

static void cache_free(struct cached_labels *e)
{
    if (!e)
        return;
    dai_strlist_free(&e->names);
    free(e->key);
    free(e);
}

void gw_wb_sync_cache_clear(struct gw_wb_sync *w)
{
    size_t pos = 0;
    uint64_t v;

    /* The map only borrows its keys (each entry's own copy): free the
     * entries after the walk, never during it. */
    while (dai_map_next(&w->etags, &pos, NULL, NULL, &v))
        cache_free((struct cached_labels *)(uintptr_t)v);
    dai_map_free(&w->etags);
    dai_map_init(&w->etags);
}

static void cache_drop(struct gw_wb_sync *w, const char *key)
{
    struct cached_labels *e = dai_map_get_ptr(&w->etags, key, strlen(key));

    if (e) {
        (void)dai_map_del(&w->etags, key, strlen(key));
        cache_free(e);
    }
}

static int names_of(const struct dai_buf *body, struct dai_strlist *out)
{
    json_t *arr = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const json_t *l;
    size_t i;
    int rc = 0;

    if (!json_is_array(arr)) {
        json_decref(arr);
        return DAI_EPARSE;
    }
    json_array_foreach(arr, i, l) {
        const char *n = dai_json_str(l, "name", NULL);
        if (n && (rc = dai_strlist_push(out, n, strlen(n))) != 0)
            break;
    }
    json_decref(arr);
    return rc;
}

/* The labels now; *names borrowed from the cache until the next call. */
static enum gw_wb_outcome read_labels(struct gw_wb_sync *w, long long inst, const char *repo,
                                long long number, const char *key,
                                const struct dai_strlist **names)
{
    struct cached_labels *e = dai_map_get_ptr(&w->etags, key, strlen(key));
    struct dai_github_response r = {0};
    struct dai_strlist fresh = {0};
    char path[512], err[512];
    enum gw_wb_outcome o;
    int rc;

    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels?per_page=100", repo, number);
    rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, e ? e->etag : NULL, &r, err,
                            sizeof(err));
    o = gw_wb_classify(rc, r.status);
    if (o != GW_WB_DONE) {
        DAI_WARN("write-back cannot read labels repo=%s number=%lld status=%ld error=%s", repo,
                 number, r.status, rc ? err : "HTTP error");
        goto out;
    }
    if (r.status == 304 && e) {
        *names = &e->names;
        goto out;
    }
    if (names_of(&r.body, &fresh)) {
        DAI_WARN("write-back: labels answer is not a list repo=%s number=%lld", repo, number);
        dai_strlist_free(&fresh);
        o = GW_WB_TRANSIENT;
        goto out;
    }
    if (!e) {
        if (w->etags.n >= ETAG_CACHE_MAX)
            gw_wb_sync_cache_clear(w);
        e = calloc(1, sizeof(*e));
        if (e)
            e->key = strdup(key);
        if (!e || !e->key || dai_map_put_ptr(&w->etags, e->key, strlen(e->key), e)) {
            cache_free(e);
            dai_strlist_free(&fresh);
            o = GW_WB_TRANSIENT;
            goto out;
        }
    }
    dai_strlist_free(&e->names);
    e->names = fresh;
    snprintf(e->etag, sizeof(e->etag), "%s", r.meta.etag);
    *names = &e->names;
out:
    dai_buf_free(&r.body);
    return o;
}

static enum gw_wb_outcome read_history(struct gw_wb_sync *w, long long inst, const char *repo,
                                 long long number, struct gw_wb_history *h)
{
    struct dai_github_response r = {0};
    char path[1024], err[512];
    enum gw_wb_outcome o = GW_WB_DONE;

    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/events?per_page=100", repo, number);
    for (int page = 0; page < EVENT_PAGES_MAX && path[0]; page++) {
        json_t *arr;
        int rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, NULL, &r, err,
                                    sizeof(err));

        o = gw_wb_classify(rc, r.status);
        if (o != GW_WB_DONE) {
            DAI_WARN("write-back cannot read label events repo=%s number=%lld status=%ld "
                     "error=%s", repo, number, r.status, rc ? err : "HTTP error");
            break;
        }
        arr = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        rc = gw_wb_history_add(h, arr, w->bot);
        json_decref(arr);
        if (rc) {
            o = GW_WB_TRANSIENT;
            break;
        }
        snprintf(path, sizeof(path), "%s", r.meta.next);
    }
    dai_buf_free(&r.body);
    return o;
}

/*---- writing ------------------------------------------------------------------------*/

static enum gw_wb_outcome write_plan(struct gw_wb_sync *w, long long inst, const char *repo,
                               long long number, const char *key, const struct gw_wb_plan *p)
{
    struct dai_github_response r = {0};
    struct dai_buf body = {0};
    char path[600], err[512];
    enum gw_wb_outcome o = GW_WB_DONE;
    int rc;

    if (w->wb->parsed_mode == GW_WB_DRY_RUN) {
        for (unsigned i = 0; i < p->add.n; i++) {
            DAI_INFO("would add label \"%s\" to %s#%lld", p->add.v[i], repo, number);
            dai_metric_add(w->m_dry_run, 1, "label_add");
        }
        for (unsigned i = 0; i < p->remove.n; i++) {
            DAI_INFO("would remove label \"%s\" from %s#%lld", p->remove.v[i], repo, number);
            dai_metric_add(w->m_dry_run, 1, "label_remove");
        }
        return GW_WB_DONE;
    }
    if (p->add.n) {
        const char *names[GW_WB_SET_MAX];

        for (unsigned i = 0; i < p->add.n; i++)
            names[i] = p->add.v[i];
        /* POST adds to what is there; PUT (and PATCH with labels) would
         * replace a person's labels, so neither is ever used. */
        snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels", repo, number);
        rc = dai_github_labels_body(names, p->add.n, &body);
        if (!rc)
            rc = dai_github_request(w->gh, inst, DAI_GH_POST, path, body.data, NULL, &r, err,
                                    sizeof(err));
        o = gw_wb_classify(rc, r.status);
        dai_metric_add(w->m_writes, (double)p->add.n, "label_add",
                       o == GW_WB_DONE ? "ok" : "error");
        if (o != GW_WB_DONE)
            DAI_WARN("write-back: adding labels failed repo=%s number=%lld status=%ld error=%s",
                     repo, number, r.status, rc ? err : "HTTP error");
        else
            DAI_INFO("write-back added labels repo=%s number=%lld count=%u", repo, number,
                     p->add.n);
    }
    for (unsigned i = 0; o == GW_WB_DONE && i < p->remove.n; i++) {
        struct dai_buf seg = {0};

        rc = dai_github_append_segment(&seg, p->remove.v[i]);
        if (!rc) {
            snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels/%s", repo, number,
                     seg.data);
            rc = dai_github_request(w->gh, inst, DAI_GH_DELETE, path, NULL, NULL, &r, err,
                                    sizeof(err));
        }
        dai_buf_free(&seg);
        /* Already gone (someone was faster) is what we wanted. */
        o = (!rc && r.status == 404) ? GW_WB_DONE : gw_wb_classify(rc, r.status);
        dai_metric_add(w->m_writes, 1, "label_remove", o == GW_WB_DONE ? "ok" : "error");
        if (o != GW_WB_DONE)
            DAI_WARN("write-back: removing label failed repo=%s number=%lld status=%ld error=%s",
                     repo, number, r.status, rc ? err : "HTTP error");
    }
    cache_drop(w, key);
    dai_buf_free(&body);
    dai_buf_free(&r.body);
    return o;
}

/* One bot comment per issue: found on GitHub (so restarts and other gateway
 * instances see it too), posted when missing, edited when it says something
 * else, left alone when it matches. */
static enum gw_wb_outcome sync_comment(struct gw_wb_sync *w, long long inst, const char *repo,
                                 long long number, const struct dai_classification *cls,
                                 bool *wrote)
{
    struct dai_github_response r = {0};
    struct dai_buf text = {0}, body = {0};
    char path[1024], err[512];
    const char *old = NULL;
    long long id = 0;
    enum gw_wb_outcome o = GW_WB_DONE;
    int rc;

    if (gw_wb_comment_render(cls, &text) || dai_github_comment_body(text.data, &body)) {
        o = GW_WB_TRANSIENT;
        goto out;
    }
    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/comments?per_page=100", repo, number);
    for (int page = 0; page < EVENT_PAGES_MAX && path[0] && !id; page++) {
        json_t *arr;

        rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, NULL, &r, err, sizeof(err));
        o = gw_wb_classify(rc, r.status);
        if (o != GW_WB_DONE)
            goto out;
        arr = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        id = json_is_array(arr) ? gw_wb_comment_find(arr, w->bot, &old) : 0;
        if (id && strcmp(old, text.data) == 0)
            id = -1; /* ours, and already right */
        json_decref(arr);
        snprintf(path, sizeof(path), "%s", r.meta.next);
    }
    if (id < 0)
        goto out;
    *wrote = true;
    if (w->wb->parsed_mode == GW_WB_DRY_RUN) {
        DAI_INFO("would %s the triage comment on %s#%lld", id ? "edit" : "post", repo, number);
        dai_metric_add(w->m_dry_run, 1, id ? "comment_edit" : "comment_post");
        goto out;
    }
    if (id)
        snprintf(path, sizeof(path), "/repos/%s/issues/comments/%lld", repo, id);
    else
        snprintf(path, sizeof(path), "/repos/%s/issues/%lld/comments", repo, number);
    rc = dai_github_request(w->gh, inst, id ? DAI_GH_PATCH : DAI_GH_POST, path, body.data, NULL,
                            &r, err, sizeof(err));
    o = gw_wb_classify(rc, r.status);
    dai_metric_add(w->m_writes, 1, id ? "comment_edit" : "comment_post",
                   o == GW_WB_DONE ? "ok" : "error");
out:
    if (o != GW_WB_DONE && o != GW_WB_STOPPING)
        DAI_WARN("write-back: comment not synced repo=%s number=%lld status=%ld", repo, number,
                 r.status);
    dai_buf_free(&text);
    dai_buf_free(&body);
    dai_buf_free(&r.body);
    return o;
}

enum gw_wb_outcome gw_wb_reconcile(struct gw_wb_sync *w, long long inst, const char *repo,
                              long long number, const char *key, const struct gw_wb_set *desired,
                              const struct dai_classification *cls, bool *wrote)
{
    const struct dai_strlist *names = NULL;
    struct gw_wb_history h = {0};
    struct gw_wb_plan plan;
    enum gw_wb_outcome o;

    *wrote = false;
    o = read_labels(w, inst, repo, number, key, &names);
    if (o != GW_WB_DONE)
        return o;
    gw_wb_plan(w->wb, desired, (const char *const *)names->v, names->n, NULL, &plan);
    if (plan.need_history) {
        /* Copy: reading the history may not touch the cache, but be safe
         * against a later change of the cache's ownership rules. */
        struct dai_strlist cur = {0};
        for (size_t i = 0; i < names->n; i++)
            if (dai_strlist_push(&cur, names->v[i], strlen(names->v[i]))) {
                dai_strlist_free(&cur);
                return GW_WB_TRANSIENT;
            }
        o = read_history(w, inst, repo, number, &h);
        if (o == GW_WB_DONE)
            gw_wb_plan(w->wb, desired, (const char *const *)cur.v, cur.n, &h, &plan);
        dai_strlist_free(&cur);
        gw_wb_history_free(&h);
        if (o != GW_WB_DONE)
            return o;
    }
    if (plan.kept_removed_by_person)
        DAI_INFO("write-back leaves labels a person removed repo=%s number=%lld count=%u", repo,
                 number, plan.kept_removed_by_person);
    if (plan.add.n || plan.remove.n) {
        *wrote = true;
        o = write_plan(w, inst, repo, number, key, &plan);
        if (o != GW_WB_DONE)
            return o;
    }
    return w->wb->comment ? sync_comment(w, inst, repo, number, cls, wrote) : GW_WB_DONE;
}
