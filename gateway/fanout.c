/* The fan-out as other threads see it: starting and stopping the loop
 * thread, the consumer's publish (number an update, frame it once, put it in
 * the inbox) and MHD's adoption of upgraded sockets, each handed over under
 * the mutex and signalled through the eventfd. The loop itself is
 * fanout_loop.c's. */
#include "fanout_layout.h"

#include "frame.h"
#include "store.h"
#include "updlog.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/http.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void wake(struct gw_fanout *f)
{
    uint64_t one = 1;

    /* A full counter still wakes the loop; nothing to do on failure. */
    if (write(f->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        DAI_DEBUG("fanout wake failed errno=%d", errno);
}

/* ---- public ----------------------------------------------------------------------- */

struct gw_fanout *gw_fanout_new(const struct gw_fanout_options *opt, char *err, size_t errlen)
{
    struct gw_fanout *f = calloc(1, sizeof(*f));
    struct epoll_event ev;

    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->opt = *opt;
    f->epfd = f->evfd = -1;
    pthread_mutex_init(&f->mu, NULL);
    /* Sequence numbers start at the start time in ms x 1000: a seq from an
     * earlier process is below every seq of this one, so a stale ?since=
     * gets resync_required instead of a wrong replay. */
    f->next_seq = (uint64_t)dai_now_ms() * 1000;
    f->loop_seq = f->next_seq;
    atomic_store(&f->last_seq, f->next_seq);
    if (gw_updlog_init(&f->log, opt->resume_entries, opt->resume_bytes)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    f->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->epfd < 0 || f->evfd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->evfd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&f->th, NULL, gw_fanout_loop, f) != 0) {
        snprintf(err, errlen, "cannot start the WebSocket thread");
        goto fail;
    }
    f->started = true;
    return f;
fail:
    gw_fanout_free(f);
    return NULL;
}

void gw_fanout_stop(struct gw_fanout *f, int timeout_ms)
{
    struct adopt *a;

    if (!f || !f->started)
        return;
    pthread_mutex_lock(&f->mu);
    f->closed = true;
    pthread_mutex_unlock(&f->mu);
    f->stop_deadline_us = dai_mono_us() + (long long)timeout_ms * 1000;
    atomic_store(&f->stopping, true);
    wake(f);
    pthread_join(f->th, NULL);
    f->started = false;
    /* Adoptions that raced with the stop. */
    pthread_mutex_lock(&f->mu);
    a = f->adopts;
    f->adopts = NULL;
    pthread_mutex_unlock(&f->mu);
    while (a) {
        struct adopt *nx = a->next;

        (void)dai_http_upgraded_close(a->up);
        gw_match_clear(&a->start.filter);
        free(a->extra);
        free(a);
        a = nx;
    }
}

void gw_fanout_free(struct gw_fanout *f)
{
    if (!f)
        return;
    gw_fanout_stop(f, 0);
    for (size_t i = 0; i < f->inbox_n; i++)
        gw_update_free(f->inbox[i]);
    free(f->inbox);
    gw_updlog_free(&f->log);
    if (f->epfd >= 0)
        close(f->epfd);
    if (f->evfd >= 0)
        close(f->evfd);
    dai_buf_free(&f->scratch);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int gw_fanout_publish(struct gw_fanout *f, const struct gw_applied *a)
{
    uint64_t seq = f->next_seq + 1;
    struct gw_frame *frame;
    struct gw_update *u;
    int rc;

    dai_buf_reset(&f->scratch);
    rc = dai_buf_appendf(&f->scratch, "{\"type\":\"issue_update\",\"seq\":%llu,\"removed\":%s,"
                         "\"data\":", (unsigned long long)seq,
                         a->kind == GW_APPLY_REMOVED ? "true" : "false");
    if (!rc)
        rc = dai_buf_append(&f->scratch, a->event, a->event_len);
    if (!rc)
        rc = dai_buf_append(&f->scratch, "}", 1);
    if (rc)
        return rc;
    frame = gw_frame_new(0x1 /* text */, f->scratch.data, f->scratch.len);
    if (!frame)
        return -ENOMEM;
    u = gw_update_new(seq, frame, a->has_before ? &a->before : NULL, &a->after);
    if (!u) {
        gw_frame_unref(frame);
        return -ENOMEM;
    }
    u->received_us = dai_mono_us();
    pthread_mutex_lock(&f->mu);
    if (f->inbox_n == f->inbox_cap) {
        size_t ncap = f->inbox_cap ? f->inbox_cap * 2 : 64;
        struct gw_update **ni = realloc(f->inbox, ncap * sizeof(*ni));

        if (!ni) {
            pthread_mutex_unlock(&f->mu);
            gw_update_free(u);
            return -ENOMEM;
        }
        f->inbox = ni;
        f->inbox_cap = ncap;
    }
    f->inbox[f->inbox_n++] = u;
    pthread_mutex_unlock(&f->mu);
    f->next_seq = seq;
    atomic_store(&f->last_seq, seq);
    wake(f);
    return 0;
}

uint64_t gw_fanout_last_seq(const struct gw_fanout *f)
{
    return atomic_load(&((struct gw_fanout *)f)->last_seq);
}

unsigned gw_fanout_clients(const struct gw_fanout *f)
{
    return atomic_load(&((struct gw_fanout *)f)->n_clients);
}

void gw_fanout_adopt(struct gw_fanout *f, int fd, struct dai_http_upgraded *up, const char *extra,
                     size_t extra_len, struct gw_ws_start *start)
{
    struct adopt *a = calloc(1, sizeof(*a));

    if (a && extra_len) {
        a->extra = malloc(extra_len);
        if (a->extra)
            memcpy(a->extra, extra, extra_len);
    }
    pthread_mutex_lock(&f->mu);
    if (!a || (extra_len && !a->extra) || f->closed) {
        pthread_mutex_unlock(&f->mu);
        if (a)
            free(a->extra);
        free(a);
        gw_match_clear(&start->filter);
        (void)dai_http_upgraded_close(up);
        return;
    }
    a->fd = fd;
    a->up = up;
    a->extra_len = extra_len;
    a->start = *start;
    memset(&start->filter, 0, sizeof(start->filter));
    a->next = f->adopts;
    f->adopts = a;
    atomic_fetch_add(&f->n_clients, 1);
    pthread_mutex_unlock(&f->mu);
    wake(f);
}
