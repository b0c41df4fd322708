/* The request-body deadline watcher: a list of requests in arrival order
 * (so the oldest is always first) and one thread that wakes five times a
 * second to expire the ones past their deadline. What expiring means (an
 * answer on the socket, counters) is the caller's, via the callback. */
#include "http_deadline.h"

#include <dispatchai/clock.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The bound is kept within this much of timeout_ms. */
#define TICK_US 200000LL

struct http_deadlines {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_dl_node *head, *tail;
    long long timeout_us;
    http_dl_expire_fn expire;
    void *ud;
    bool stop;
    pthread_t thread;
};

static void unlink_node(struct http_deadlines *dl, struct http_dl_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        dl->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        dl->tail = n->prev;
    n->prev = n->next = NULL;
}

static void *watch_main(void *arg)
{
    struct http_deadlines *dl = arg;

    pthread_mutex_lock(&dl->mu);
    while (!dl->stop) {
        long long now = dai_mono_us();
        struct timespec ts;

        while (dl->head && dl->head->start_us + dl->timeout_us <= now) {
            struct http_dl_node *n = dl->head;

            unlink_node(dl, n);
            n->state = HTTP_DL_EXPIRED;
            dl->expire(dl->ud, n);
        }
        now += TICK_US;
        ts.tv_sec = (time_t)(now / 1000000);
        ts.tv_nsec = (long)(now % 1000000) * 1000;
        pthread_cond_timedwait(&dl->cv, &dl->mu, &ts);
    }
    pthread_mutex_unlock(&dl->mu);
    return NULL;
}

struct http_deadlines *dai__http_dl_new(int timeout_ms, http_dl_expire_fn expire, void *ud,
                                        char *err, size_t errlen)
{
    struct http_deadlines *dl = calloc(1, sizeof(*dl));
    pthread_condattr_t ca;

    if (!dl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dl->timeout_us = (long long)timeout_ms * 1000;
    dl->expire = expire;
    dl->ud = ud;
    pthread_mutex_init(&dl->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dl->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&dl->thread, NULL, watch_main, dl)) {
        snprintf(err, errlen, "cannot start the request timeout thread");
        pthread_cond_destroy(&dl->cv);
        pthread_mutex_destroy(&dl->mu);
        free(dl);
        return NULL;
    }
    return dl;
}

void dai__http_dl_free(struct http_deadlines *dl)
{
    if (!dl)
        return;
    pthread_mutex_lock(&dl->mu);
    dl->stop = true;
    pthread_cond_signal(&dl->cv);
    pthread_mutex_unlock(&dl->mu);
    pthread_join(dl->thread, NULL);
    pthread_cond_destroy(&dl->cv);
    pthread_mutex_destroy(&dl->mu);
    free(dl);
}

void dai__http_dl_add(struct http_deadlines *dl, struct http_dl_node *n, long long start_us)
{
    n->added = true;
    pthread_mutex_lock(&dl->mu);
    n->start_us = start_us;
    n->state = HTTP_DL_WAITING;
    n->next = NULL;
    n->prev = dl->tail;
    if (dl->tail)
        dl->tail->next = n;
    else
        dl->head = n;
    dl->tail = n;
    pthread_mutex_unlock(&dl->mu);
}

bool dai__http_dl_remove(struct http_deadlines *dl, struct http_dl_node *n)
{
    bool expired;

    if (!dl || !n->added)
        return true;
    n->added = false;
    pthread_mutex_lock(&dl->mu);
    if (n->state == HTTP_DL_WAITING)
        unlink_node(dl, n);
    expired = n->state == HTTP_DL_EXPIRED;
    n->state = HTTP_DL_IDLE;
    pthread_mutex_unlock(&dl->mu);
    return !expired;
}
