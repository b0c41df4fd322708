/* The readiness watcher: one thread per watcher asks the broker for the
 * topics' metadata every READY_PERIOD_MS and caches the outcome under a
 * mutex; readers only copy it. The client can be swapped (a producer
 * replaced after a fatal error): the swap waits for a check in progress, so
 * the old client is never used after it. */
#include <dispatchai/kafka_ready.h>

#include <dispatchai/clock.h>
#include <dispatchai/kafka.h>
#include <dispatchai/log.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READY_PERIOD_MS 1000
#define READY_TIMEOUT_MS 2000
#define READY_MAX_TOPICS 8

struct dai_kafka_ready {
    rd_kafka_t *rk;
    char *topics[READY_MAX_TOPICS];
    size_t n_topics;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ok, stop;
    bool checking; /* the thread is using rk outside mu */
    char why[256];
    pthread_t thread;
};

static void *ready_main(void *arg)
{
    struct dai_kafka_ready *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        rd_kafka_t *rk = r->rk;
        char why[256] = "";
        struct timespec ts;
        long long until;
        int rc;

        if (rk) {
            r->checking = true;
            pthread_mutex_unlock(&r->mu);
            rc = dai_kafka_check_topics(rk, (const char *const *)r->topics, r->n_topics,
                                        READY_TIMEOUT_MS, why, sizeof(why));
            pthread_mutex_lock(&r->mu);
            r->checking = false;
            pthread_cond_broadcast(&r->cv); /* a swap may be waiting for this check */
            /* A state change, not an error: worth one line in the daemon's log.
             * A check of a client swapped out meanwhile says nothing. */
            if (r->rk == rk && !rc != r->ok)
                DAI_INFO("readiness changed ready=%s%s%s", rc ? "false" : "true",
                         rc ? " reason=" : "", rc ? why : "");
            if (r->rk == rk) {
                r->ok = rc == 0;
                snprintf(r->why, sizeof(r->why), "%s", rc ? why : "");
            }
        }
        until = dai_mono_us() + (long long)READY_PERIOD_MS * 1000;
        ts.tv_sec = (time_t)(until / 1000000);
        ts.tv_nsec = (long)(until % 1000000) * 1000;
        if (!r->stop)
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void free_topics(struct dai_kafka_ready *r)
{
    for (size_t i = 0; i < r->n_topics; i++)
        free(r->topics[i]);
}

struct dai_kafka_ready *dai_kafka_ready_new(rd_kafka_t *rk, const char *const *topics, size_t n,
                                            char *err, size_t errlen)
{
    struct dai_kafka_ready *r;
    pthread_condattr_t ca;

    if (!rk || n > READY_MAX_TOPICS) {
        snprintf(err, errlen, "readiness: no client or more than %d topics", READY_MAX_TOPICS);
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (; r->n_topics < n; r->n_topics++) {
        r->topics[r->n_topics] = strdup(topics[r->n_topics]);
        if (!r->topics[r->n_topics]) {
            free_topics(r);
            free(r);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    r->rk = rk;
    snprintf(r->why, sizeof(r->why), "broker not checked yet");
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, ready_main, r)) {
        snprintf(err, errlen, "cannot start the readiness thread");
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free_topics(r);
        free(r);
        return NULL;
    }
    return r;
}

bool dai_kafka_ready_check(void *ud, char *why, size_t n)
{
    struct dai_kafka_ready *r = ud;
    bool ok;

    pthread_mutex_lock(&r->mu);
    ok = r->ok;
    if (!ok)
        snprintf(why, n, "%s", r->why);
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void dai_kafka_ready_set_client(struct dai_kafka_ready *r, rd_kafka_t *rk, const char *why)
{
    pthread_mutex_lock(&r->mu);
    r->rk = rk;
    if (!rk) {
        if (r->ok)
            DAI_INFO("readiness changed ready=false reason=%s", why ? why : "no client");
        r->ok = false;
        snprintf(r->why, sizeof(r->why), "%s", why ? why : "no client");
    }
    while (r->checking)
        pthread_cond_wait(&r->cv, &r->mu);
    /* Check the new client now rather than at the next period. */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void dai_kafka_ready_free(struct dai_kafka_ready *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free_topics(r);
    free(r);
}
