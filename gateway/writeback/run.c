/* The write-back consumer: reads issues.enriched in its own consumer group
 * (dispatchai-gateway-writeback, so with several gateways each issue is
 * written by exactly one), waits until the view has the same event, takes
 * the effective classification from the store (what REST shows),
 * reads the labels (ETag) and, when needed, its label events from
 * GitHub, and applies plan.c's decision — or, in dry-run, logs and counts
 * it. A person's taxonomy label becomes a human correction. Offsets are
 * committed only after an issue was written or given up. Its own thread;
 * nothing here touches /ready or blocks the view. */
#include "writeback.h"

#include "../consume.h"
#include "../correction.h"
#include "../options.h"
#include "../publish.h"
#include "../store.h"

#include <dispatchai/clock.h>
#include <dispatchai/json.h>
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/map.h>
#include <dispatchai/metrics.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VIEW_WAIT_MS 30000
#define ETAG_CACHE_MAX 50000
#define EVENT_PAGES_MAX 20

enum outcome { OUT_DONE = 0, OUT_TRANSIENT, OUT_PERMANENT, OUT_STOPPING };

/* Labels as GitHub last showed them, for conditional GETs. */
struct cached_labels {
    char *key;
    char etag[128];
    struct dai_strlist names;
};

struct gw_writeback {
    const struct gw_config *cfg;
    const struct gw_wb_config *wb;
    struct gw_store *store;
    struct gw_follower *follower;
    struct gw_publisher *publisher;
    struct dai_github *gh;
    struct dai_consumer *c;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    char bot[128];
    struct dai_map etags;
    struct dai_metric *m_events, *m_writes, *m_dry_run;
    /* correction acknowledgements */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ack_rc;
    bool acked;
};

/*---- small helpers -----------------------------------------------------------*/

static bool stopping(struct gw_writeback *w)
{
    return atomic_load(&w->stop) || dai_lifecycle_stopping();
}

static bool pause_ms(struct gw_writeback *w, long long ms)
{
    long long deadline = dai_mono_us() + ms * 1000;

    while (!stopping(w)) {
        long long left = (deadline - dai_mono_us()) / 1000;
        if (left <= 0)
            return true;
        dai_lifecycle_wait(left > 100 ? 100 : (int)left);
    }
    return false;
}

static void count(struct gw_writeback *w, const char *outcome)
{
    dai_metric_add(w->m_events, 1, outcome);
}

/* owner/repo as GitHub allows it: safe in a path without escaping. */
static bool repo_name_ok(const char *r)
{
    int slashes = 0;

    for (const char *p = r; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return false;
    }
    return slashes == 1 && r[0] != '/';
}

static bool repo_allowed(const struct gw_wb_config *wb, const char *repo)
{
    if (!wb->repositories.n)
        return true;
    for (size_t i = 0; i < wb->repositories.n; i++)
        if (strcasecmp(wb->repositories.v[i], repo) == 0)
            return true;
    return false;
}

/* An answer's class for write-back: 2xx/304 fine, GitHub's "this will not
 * work" statuses permanent, anything else transient. */
static enum outcome classify(int rc, long status)
{
    if (rc == -ENOMEM || rc == DAI_ETIMEOUT || rc == DAI_EAUTH)
        return rc == DAI_ETIMEOUT && dai_lifecycle_stopping() ? OUT_STOPPING : OUT_TRANSIENT;
    if (rc)
        return OUT_PERMANENT;
    if ((status >= 200 && status < 300) || status == 304)
        return OUT_DONE;
    if (status == 401 || status == 403 || status == 404 || status == 410 || status == 422)
        return OUT_PERMANENT;
    return OUT_TRANSIENT;
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

static void cache_clear(struct gw_writeback *w)
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

static void cache_drop(struct gw_writeback *w, const char *key)
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
static enum outcome read_labels(struct gw_writeback *w, long long inst, const char *repo,
                                long long number, const char *key,
                                const struct dai_strlist **names)
{
    struct cached_labels *e = dai_map_get_ptr(&w->etags, key, strlen(key));
    struct dai_github_response r = {0};
    struct dai_strlist fresh = {0};
    char path[512], err[512];
    enum outcome o;
    int rc;

    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels?per_page=100", repo, number);
    rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, e ? e->etag : NULL, &r, err,
                            sizeof(err));
    o = classify(rc, r.status);
    if (o != OUT_DONE) {
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
        o = OUT_TRANSIENT;
        goto out;
    }
    if (!e) {
        if (w->etags.n >= ETAG_CACHE_MAX)
            cache_clear(w);
        e = calloc(1, sizeof(*e));
        if (e)
            e->key = strdup(key);
        if (!e || !e->key || dai_map_put_ptr(&w->etags, e->key, strlen(e->key), e)) {
            cache_free(e);
            dai_strlist_free(&fresh);
            o = OUT_TRANSIENT;
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

static enum outcome read_history(struct gw_writeback *w, long long inst, const char *repo,
                                 long long number, struct gw_wb_history *h)
{
    struct dai_github_response r = {0};
    char path[1024], err[512];
    enum outcome o = OUT_DONE;

    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/events?per_page=100", repo, number);
    for (int page = 0; page < EVENT_PAGES_MAX && path[0]; page++) {
        json_t *arr;
        int rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, NULL, &r, err,
                                    sizeof(err));

        o = classify(rc, r.status);
        if (o != OUT_DONE) {
            DAI_WARN("write-back cannot read label events repo=%s number=%lld status=%ld "
                     "error=%s", repo, number, r.status, rc ? err : "HTTP error");
            break;
        }
        arr = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        rc = gw_wb_history_add(h, arr, w->bot);
        json_decref(arr);
        if (rc) {
            o = OUT_TRANSIENT;
            break;
        }
        snprintf(path, sizeof(path), "%s", r.meta.next);
    }
    dai_buf_free(&r.body);
    return o;
}

/*---- writing ------------------------------------------------------------------------*/

static enum outcome write_plan(struct gw_writeback *w, long long inst, const char *repo,
                               long long number, const char *key, const struct gw_wb_plan *p)
{
    struct dai_github_response r = {0};
    struct dai_buf body = {0};
    char path[600], err[512];
    enum outcome o = OUT_DONE;
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
        return OUT_DONE;
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
        o = classify(rc, r.status);
        dai_metric_add(w->m_writes, (double)p->add.n, "label_add",
                       o == OUT_DONE ? "ok" : "error");
        if (o != OUT_DONE)
            DAI_WARN("write-back: adding labels failed repo=%s number=%lld status=%ld error=%s",
                     repo, number, r.status, rc ? err : "HTTP error");
        else
            DAI_INFO("write-back added labels repo=%s number=%lld count=%u", repo, number,
                     p->add.n);
    }
    for (unsigned i = 0; o == OUT_DONE && i < p->remove.n; i++) {
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
        o = (!rc && r.status == 404) ? OUT_DONE : classify(rc, r.status);
        dai_metric_add(w->m_writes, 1, "label_remove", o == OUT_DONE ? "ok" : "error");
        if (o != OUT_DONE)
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
static enum outcome sync_comment(struct gw_writeback *w, long long inst, const char *repo,
                                 long long number, const struct dai_classification *cls,
                                 bool *wrote)
{
    struct dai_github_response r = {0};
    struct dai_buf text = {0}, body = {0};
    char path[1024], err[512];
    const char *old = NULL;
    long long id = 0;
    enum outcome o = OUT_DONE;
    int rc;

    if (gw_wb_comment_render(cls, &text) || dai_github_comment_body(text.data, &body)) {
        o = OUT_TRANSIENT;
        goto out;
    }
    snprintf(path, sizeof(path), "/repos/%s/issues/%lld/comments?per_page=100", repo, number);
    for (int page = 0; page < EVENT_PAGES_MAX && path[0] && !id; page++) {
        json_t *arr;

        rc = dai_github_request(w->gh, inst, DAI_GH_GET, path, NULL, NULL, &r, err, sizeof(err));
        o = classify(rc, r.status);
        if (o != OUT_DONE)
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
    o = classify(rc, r.status);
    dai_metric_add(w->m_writes, 1, id ? "comment_edit" : "comment_post",
                   o == OUT_DONE ? "ok" : "error");
out:
    if (o != OUT_DONE && o != OUT_STOPPING)
        DAI_WARN("write-back: comment not synced repo=%s number=%lld status=%ld", repo, number,
                 r.status);
    dai_buf_free(&text);
    dai_buf_free(&body);
    dai_buf_free(&r.body);
    return o;
}

static enum outcome reconcile(struct gw_writeback *w, long long inst, const char *repo,
                              long long number, const char *key, const struct gw_wb_set *desired,
                              const struct dai_classification *cls, bool *wrote)
{
    const struct dai_strlist *names = NULL;
    struct gw_wb_history h = {0};
    struct gw_wb_plan plan;
    enum outcome o;

    *wrote = false;
    o = read_labels(w, inst, repo, number, key, &names);
    if (o != OUT_DONE)
        return o;
    gw_wb_plan(w->wb, desired, (const char *const *)names->v, names->n, NULL, &plan);
    if (plan.need_history) {
        /* Copy: reading the history may not touch the cache, but be safe
         * against a later change of the cache's ownership rules. */
        struct dai_strlist cur = {0};
        for (size_t i = 0; i < names->n; i++)
            if (dai_strlist_push(&cur, names->v[i], strlen(names->v[i]))) {
                dai_strlist_free(&cur);
                return OUT_TRANSIENT;
            }
        o = read_history(w, inst, repo, number, &h);
        if (o == OUT_DONE)
            gw_wb_plan(w->wb, desired, (const char *const *)cur.v, cur.n, &h, &plan);
        dai_strlist_free(&cur);
        gw_wb_history_free(&h);
        if (o != OUT_DONE)
            return o;
    }
    if (plan.kept_removed_by_person)
        DAI_INFO("write-back leaves labels a person removed repo=%s number=%lld count=%u", repo,
                 number, plan.kept_removed_by_person);
    if (plan.add.n || plan.remove.n) {
        *wrote = true;
        o = write_plan(w, inst, repo, number, key, &plan);
        if (o != OUT_DONE)
            return o;
    }
    return w->wb->comment ? sync_comment(w, inst, repo, number, cls, wrote) : OUT_DONE;
}

/*---- a person's label -> correction ------------------------------------------------------*/

static void on_published(void *ud, int rc, int32_t partition, int64_t offset, const char *errstr)
{
    struct gw_writeback *w = ud;

    (void)partition;
    (void)offset;
    (void)errstr;
    pthread_mutex_lock(&w->mu);
    w->ack_rc = rc;
    w->acked = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static enum outcome publish_correction(struct gw_writeback *w, const json_t *latest,
                                       const char *key, const char *body, const char *who)
{
    char err[256], by[DAI_ACTOR_LEN];
    json_t *ev;
    char *text;
    int rc;

    snprintf(by, sizeof(by), "github:%s", who);
    ev = gw_correction_build(latest, body, strlen(body), by, dai_now_ms(), err, sizeof(err));
    if (!ev) {
        DAI_WARN("write-back: label correction not built key=%s: %s", key, err);
        return OUT_PERMANENT;
    }
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return OUT_TRANSIENT;
    pthread_mutex_lock(&w->mu);
    w->acked = false;
    pthread_mutex_unlock(&w->mu);
    rc = gw_publisher_send(w->publisher, key, text, strlen(text), on_published, w);
    free(text);
    if (rc)
        return OUT_TRANSIENT;
    pthread_mutex_lock(&w->mu);
    /* The producer reports every message exactly once (delivery timeout). */
    while (!w->acked)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->ack_rc;
    pthread_mutex_unlock(&w->mu);
    dai_metric_add(w->m_writes, 1, "correction", rc ? "error" : "ok");
    if (rc)
        return OUT_TRANSIENT;
    DAI_INFO("GitHub label became a human correction key=%s by=%s", key, by);
    return OUT_DONE;
}

/*---- one message --------------------------------------------------------------------*/

static void wait_for_view(struct gw_writeback *w, const rd_kafka_message_t *m)
{
    long long deadline = dai_mono_us() + (long long)VIEW_WAIT_MS * 1000;

    while (!stopping(w) && gw_follower_applied(w->follower, m->partition) <= m->offset) {
        if (dai_mono_us() > deadline) {
            DAI_WARN("write-back: the view has not reached partition=%d offset=%lld; using the "
                     "event as it is", (int)m->partition, (long long)m->offset);
            return;
        }
        dai_lifecycle_wait(20);
    }
}

static enum outcome handle(struct gw_writeback *w, const rd_kafka_message_t *m)
{
    struct dai_classification cls, eff;
    struct dai_subject subj;
    struct gw_wb_set desired;
    char err[256], key[512], repo[256], body[96];
    const char *action, *sender, *label;
    json_t *ev, *latest = NULL;
    long long inst;
    enum outcome o = OUT_DONE;
    int rc;

    ev = m->payload ? dai_json_parse(m->payload, m->len, err, sizeof(err)) : NULL;
    if (!ev || dai_event_subject(ev, &subj) ||
        dai_classification_from_json(json_object_get(ev, "classification"), &cls, err,
                                     sizeof(err))) {
        count(w, "invalid");
        json_decref(ev);
        return OUT_DONE;
    }
    snprintf(repo, sizeof(repo), "%s", subj.repo);
    if (!repo_name_ok(repo) || !repo_allowed(w->wb, repo)) {
        count(w, "not_allowed");
        goto done;
    }
    if (dai_event_key(key, sizeof(key), repo, subj.type, subj.number, NULL)) {
        count(w, "invalid");
        goto done;
    }
    action = dai_json_str(ev, "action", "");
    sender = dai_json_str(json_object_get(ev, "sender"), "login", "");
    label = dai_json_str(json_object_get(ev, "label"), "name", NULL);
    /* Our own writes (labels, the comment) come back as webhooks from our
     * bot: nothing to do. A correction built from such an event has source
     * human and is written like any other. */
    if (cls.source != DAI_SRC_HUMAN && strcasecmp(sender, w->bot) == 0) {
        count(w, "own_echo");
        goto done;
    }
    /* A person's label webhook, as classified by the classifier. */
    if (cls.source != DAI_SRC_HUMAN &&
        (strcmp(action, "labeled") == 0 || strcmp(action, "unlabeled") == 0)) {
        if (strcmp(action, "labeled") != 0 || !label ||
            !gw_wb_correction_for_label(w->wb, label, body, sizeof(body))) {
            count(w, "person_label"); /* respected through the label history */
            goto done;
        }
        wait_for_view(w, m);
        latest = gw_store_latest(w->store, repo, subj.number, &rc);
        o = latest ? publish_correction(w, latest, key, body, sender) : OUT_DONE;
        count(w, o == OUT_DONE ? "correction" : "correction_failed");
        goto done;
    }
    wait_for_view(w, m);
    latest = gw_store_latest(w->store, repo, subj.number, &rc);
    if (!latest && strcmp(action, "deleted") == 0) {
        count(w, "deleted");
        goto done;
    }
    eff = cls;
    if (latest && dai_classification_from_json(json_object_get(latest, "classification"), &eff,
                                               err, sizeof(err)))
        eff = cls;
    if (!gw_wb_confident(w->wb, &eff)) {
        count(w, "below_confidence");
        goto done;
    }
    inst = dai_json_int(json_object_get(ev, "installation"), "id", 0);
    if (!inst && latest)
        inst = dai_json_int(json_object_get(latest, "installation"), "id", 0);
    /* An App acts through an installation; a repository webhook carries
     * none, and retrying cannot conjure one up. */
    if (!inst && dai_github_auth_mode(&w->wb->api) == DAI_GH_AUTH_APP &&
        !(w->wb->api.installation_id && w->wb->api.installation_id[0])) {
        count(w, "no_installation");
        goto done;
    }
    gw_wb_desired(w->wb, &eff, &desired);
    for (int attempt = 0;; attempt++) {
        bool wrote;

        o = reconcile(w, inst, repo, subj.number, key, &desired, &eff, &wrote);
        if (o == OUT_DONE) {
            count(w, wrote ? (w->wb->parsed_mode == GW_WB_DRY_RUN ? "dry_run" : "written")
                           : "unchanged");
            break;
        }
        if (o == OUT_PERMANENT) {
            count(w, "permanent_error");
            o = OUT_DONE;
            break;
        }
        if (o == OUT_STOPPING)
            break;
        if (attempt + 1 >= w->wb->attempts) {
            DAI_WARN("write-back gave up repo=%s number=%lld attempts=%d", repo, subj.number,
                     attempt + 1);
            count(w, "gave_up");
            o = OUT_DONE;
            break;
        }
        if (!pause_ms(w, (long long)w->wb->retry_delay_ms << (attempt < 10 ? attempt : 10))) {
            o = OUT_STOPPING;
            break;
        }
    }
done:
    json_decref(latest);
    json_decref(ev);
    return o == OUT_TRANSIENT ? OUT_DONE : o;
}

/*---- the thread -------------------------------------------------------------------------*/

static void *run(void *ud)
{
    struct gw_writeback *w = ud;
    rd_kafka_t *rk = dai_consumer_handle(w->c);

    while (!stopping(w) && !w->bot[0]) {
        char err[512];
        /* Without our login, our own writes' echoes could not be told apart. */
        if (dai_github_login(w->gh, w->bot, sizeof(w->bot), err, sizeof(err)) == 0) {
            DAI_INFO("write-back acting as login=%s mode=%s", w->bot, w->wb->mode);
            break;
        }
        w->bot[0] = '\0';
        DAI_WARN("write-back cannot learn its GitHub login (retrying in 5 s): %s", err);
        pause_ms(w, 5000);
    }
    while (!stopping(w)) {
        rd_kafka_message_t *m = dai_consumer_poll(w->c, 100);
        enum outcome o;
        rd_kafka_resp_err_t e;

        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        o = handle(w, m);
        if (o != OUT_STOPPING) {
            e = rd_kafka_commit_message(rk, m, 1);
            if (e)
                DAI_WARN("write-back offset commit failed partition=%d offset=%lld: %s",
                         (int)m->partition, (long long)m->offset, rd_kafka_err2str(e));
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

struct gw_writeback *gw_writeback_start(const struct gw_config *cfg,
                                        const struct gw_wb_config *wb, struct gw_store *store,
                                        struct gw_follower *follower,
                                        struct gw_publisher *publisher, struct dai_metrics *reg,
                                        char *err, size_t errlen)
{
    struct gw_writeback *w = calloc(1, sizeof(*w));
    const char *topics[] = {cfg->common.topic_enriched};
    struct dai_kv defaults[] = {
        /* Join quickly and notice a dead member quickly. */
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
    };
    struct dai_consumer_options o = {
        .cfg = &cfg->common,
        .client_id = "dispatchai-gateway-writeback",
        .group_id = wb->group,
        .defaults = defaults,
        .n_defaults = sizeof(defaults) / sizeof(defaults[0]),
        .topics = topics,
        .n_topics = 1,
        .subscribe = true,
        .read_committed = true,
        .auto_commit = false,
        .offset_reset = "earliest",
    };

    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    w->wb = wb;
    w->store = store;
    w->follower = follower;
    w->publisher = publisher;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    dai_map_init(&w->etags);
    w->m_events = dai_metric_counter(reg, "dai_gateway_writeback_events_total",
                                     "Enriched events seen by write-back, by outcome", "outcome");
    w->m_writes = dai_metric_counter(reg, "dai_gateway_writeback_writes_total",
                                     "Writes to GitHub by kind and outcome", "kind,outcome");
    w->m_dry_run = dai_metric_counter(reg, "dai_gateway_writeback_dry_run_would_write_total",
                                      "Writes dry-run mode would have made, by kind", "kind");
    if (!w->m_events || !w->m_writes || !w->m_dry_run) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->gh = dai_github_new(&wb->api, reg, err, errlen);
    if (!w->gh)
        goto fail;
    w->c = dai_consumer_new(&o, err, errlen);
    if (!w->c)
        goto fail;
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, errlen, "cannot start the write-back thread");
        goto fail;
    }
    w->started = true;
    DAI_INFO("write-back started mode=%s group=%s repositories=%zu", wb->mode, wb->group,
             wb->repositories.n);
    return w;
fail:
    gw_writeback_stop(w);
    return NULL;
}

void gw_writeback_stop(struct gw_writeback *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    if (w->started)
        pthread_join(w->thread, NULL);
    dai_consumer_close(w->c);
    dai_github_free(w->gh);
    cache_clear(w);
    dai_map_free(&w->etags);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
