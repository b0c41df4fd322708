/* The parsing worker pool: a bounded ring of suspended deliveries and a few
 * threads that verify, decode and normalise them, so the MHD threads only
 * read sockets. A full ring is reported to the caller (who answers 503)
 * instead of blocking a socket thread. */
#include "ingress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct worker {
    pthread_t tid;
    struct ing_pool *pool;
    struct dai_buf scratch, event;
    bool started;
};

struct ing_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ing_delivery **ring;
    int cap, head, count;
    bool closing;
    ing_work_fn fn;
    void *ud;
    struct worker *w;
    int n;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct ing_pool *p = w->pool;

    for (;;) {
        struct ing_delivery *d;

        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !p->closing)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->count == 0) {
            /* Closing and nothing left: what was queued is always processed. */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        d = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ud, d, &w->scratch, &w->event);
    }
}

struct ing_pool *ing_pool_new(int threads, int capacity, size_t max_event, ing_work_fn fn,
                              void *ud, char *err, size_t errlen)
{
    struct ing_pool *p = calloc(1, sizeof(*p));
    int rc;

    if (!p || threads < 1 || capacity < 1) {
        snprintf(err, errlen, p ? "invalid pool size" : "out of memory");
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->ring = calloc((size_t)capacity, sizeof(*p->ring));
    p->w = calloc((size_t)threads, sizeof(*p->w));
    if (!p->ring || !p->w) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    p->cap = capacity;
    p->fn = fn;
    p->ud = ud;
    for (int i = 0; i < threads; i++) {
        p->w[i].pool = p;
        p->w[i].scratch.max = max_event;
        p->w[i].event.max = max_event;
        rc = pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]);
        if (rc) {
            snprintf(err, errlen, "cannot start worker thread: %s", dai_strerror(-rc));
            goto fail;
        }
        p->w[i].started = true;
        p->n++;
    }
    return p;
fail:
    ing_pool_close(p);
    ing_pool_free(p);
    return NULL;
}

int ing_pool_submit(struct ing_pool *p, struct ing_delivery *d)
{
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        rc = -ECANCELED;
    } else if (p->count == p->cap) {
        rc = DAI_EQUEUEFULL;
    } else {
        p->ring[(p->head + p->count) % p->cap] = d;
        p->count++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int ing_pool_depth(struct ing_pool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void ing_pool_close(struct ing_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; p->w && i < p->n; i++) {
        if (p->w[i].started)
            pthread_join(p->w[i].tid, NULL);
        p->w[i].started = false;
    }
}

void ing_pool_free(struct ing_pool *p)
{
    if (!p)
        return;
    for (int i = 0; p->w && i < p->n; i++) {
        dai_buf_free(&p->w[i].scratch);
        dai_buf_free(&p->w[i].event);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p->ring);
    free(p);
}
