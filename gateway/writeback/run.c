/* The write-back consumer: reads issues.enriched in its own consumer group
 * (dispatchai-gateway-writeback, so with several gateways each issue is
 * written by exactly one), waits until the view has the same event, takes
 * the effective classification from the store (what REST shows),
 * and hands the issue to sync.c, which brings GitHub in line (or, in
 * dry-run, logs and counts). A person's taxonomy label becomes a human
 * correction. Offsets are
 * committed only after an issue was written or given up. Its own thread;
 * nothing here touches /ready or blocks the view. */
#include "sync.h"
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

struct gw_writeback {
    const struct gw_config *cfg;
    const struct gw_wb_config *wb;
    struct gw_store *store;
    struct gw_follower *follower;
    struct gw_publisher *publisher;
    struct gw_wb_sync sync;     /* the GitHub side (sync.c) */
    struct dai_consumer *c;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    struct dai_metric *m_events;
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

static enum gw_wb_outcome publish_correction(struct gw_writeback *w, const json_t *latest,
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
        return GW_WB_PERMANENT;
    }
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return GW_WB_TRANSIENT;
    pthread_mutex_lock(&w->mu);
    w->acked = false;
    pthread_mutex_unlock(&w->mu);
    rc = gw_publisher_send(w->publisher, key, text, strlen(text), on_published, w);
    free(text);
    if (rc)
        return GW_WB_TRANSIENT;
    pthread_mutex_lock(&w->mu);
    /* The producer reports every message exactly once (delivery timeout). */
    while (!w->acked)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->ack_rc;
    pthread_mutex_unlock(&w->mu);
    dai_metric_add(w->sync.m_writes, 1, "correction", rc ? "error" : "ok");
    if (rc)
        return GW_WB_TRANSIENT;
    DAI_INFO("GitHub label became a human correction key=%s by=%s", key, by);
    return GW_WB_DONE;
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

static enum gw_wb_outcome handle(struct gw_writeback *w, const rd_kafka_message_t *m)
{
    struct dai_classification cls, eff;
    struct dai_subject subj;
    struct gw_wb_set desired;
    char err[256], key[512], repo[256], body[96];
    const char *action, *sender, *label;
    json_t *ev, *latest = NULL;
    long long inst;
    enum gw_wb_outcome o = GW_WB_DONE;
    int rc;

    ev = m->payload ? dai_json_parse(m->payload, m->len, err, sizeof(err)) : NULL;
    if (!ev || dai_event_subject(ev, &subj) ||
        dai_classification_from_json(json_object_get(ev, "classification"), &cls, err,
                                     sizeof(err))) {
        count(w, "invalid");
        json_decref(ev);
        return GW_WB_DONE;
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
    if (cls.source != DAI_SRC_HUMAN && strcasecmp(sender, w->sync.bot) == 0) {
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
        o = latest ? publish_correction(w, latest, key, body, sender) : GW_WB_DONE;
        count(w, o == GW_WB_DONE ? "correction" : "correction_failed");
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

        o = gw_wb_reconcile(&w->sync, inst, repo, subj.number, key, &desired, &eff, &wrote);
        if (o == GW_WB_DONE) {
            count(w, wrote ? (w->wb->parsed_mode == GW_WB_DRY_RUN ? "dry_run" : "written")
                           : "unchanged");
            break;
        }
        if (o == GW_WB_PERMANENT) {
            count(w, "permanent_error");
            o = GW_WB_DONE;
            break;
        }
        if (o == GW_WB_STOPPING)
            break;
        if (attempt + 1 >= w->wb->attempts) {
            DAI_WARN("write-back gave up repo=%s number=%lld attempts=%d", repo, subj.number,
                     attempt + 1);
            count(w, "gave_up");
            o = GW_WB_DONE;
            break;
        }
        if (!pause_ms(w, (long long)w->wb->retry_delay_ms << (attempt < 10 ? attempt : 10))) {
            o = GW_WB_STOPPING;
            break;
        }
    }
done:
    json_decref(latest);
    json_decref(ev);
    return o == GW_WB_TRANSIENT ? GW_WB_DONE : o;
}

/*---- the thread -------------------------------------------------------------------------*/

static void *run(void *ud)
{
    struct gw_writeback *w = ud;
    rd_kafka_t *rk = dai_consumer_handle(w->c);

    while (!stopping(w) && !w->sync.bot[0]) {
        char err[512];
        /* Without our login, our own writes' echoes could not be told apart. */
        if (!dai_github_login(w->sync.gh, w->sync.bot, sizeof(w->sync.bot), err, sizeof(err))) {
            DAI_INFO("write-back acting as login=%s mode=%s", w->sync.bot, w->wb->mode);
            break;
        }
        w->sync.bot[0] = '\0';
        DAI_WARN("write-back cannot learn its GitHub login (retrying in 5 s): %s", err);
        pause_ms(w, 5000);
    }
    while (!stopping(w)) {
        rd_kafka_message_t *m = dai_consumer_poll(w->c, 100);
        enum gw_wb_outcome o;
        rd_kafka_resp_err_t e;

        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        o = handle(w, m);
        if (o != GW_WB_STOPPING) {
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
    w->sync.wb = wb;
    w->store = store;
    w->follower = follower;
    w->publisher = publisher;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    dai_map_init(&w->sync.etags);
    w->m_events = dai_metric_counter(reg, "dai_gateway_writeback_events_total",
                                     "Enriched events seen by write-back, by outcome", "outcome");
    w->sync.m_writes = dai_metric_counter(reg, "dai_gateway_writeback_writes_total",
                                          "Writes to GitHub by kind and outcome", "kind,outcome");
    w->sync.m_dry_run = dai_metric_counter(reg, "dai_gateway_writeback_dry_run_would_write_total",
                                           "Writes dry-run mode would have made, by kind",
                                           "kind");
    if (!w->m_events || !w->sync.m_writes || !w->sync.m_dry_run) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->sync.gh = dai_github_new(&wb->api, reg, err, errlen);
    if (!w->sync.gh)
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
    dai_github_free(w->sync.gh);
    gw_wb_sync_cache_clear(&w->sync);
    dai_map_free(&w->sync.etags);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
