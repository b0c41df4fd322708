/* The WebSocket event loop: one thread and one epoll set serve every
 * upgraded socket. Updates arrive from the consumer through an eventfd-
 * signalled inbox, go into the resume log, and are offered to each session
 * whose subscription matches (the same pre-encoded frame for all). Also here:
 * hello/subscribe/ping handling, ?since= resumes paced from the log, protocol
 * keepalive, idle and close timeouts, and shutdown with 1001. Each turn reads
 * every readable session up to its read budget (round robin: a session with
 * input left over is read again next turn), so one busy peer cannot starve
 * the others or the timers. Protocol rules themselves are session.c's; the
 * calls from other threads are fanout.c's. */
#include "fanout_layout.h"

#include "metrics.h"
#include "session.h"
#include "updlog.h"
#include "wsmsg.h"

#include <dispatchai/buf.h>
#include <dispatchai/clock.h>
#include <dispatchai/http.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 250
#define MAX_EVENTS 256

struct client {
    struct gw_fanout *f;
    int fd;
    struct dai_http_upgraded *up;
    struct gw_session *s;
    struct gw_match filter;
    char who[64];
    long long last_ping_us, closing_since_us;
    uint32_t events;
    bool shut_wr, overflowed, dead;
    bool rx_more;        /* its read budget ran out with input left */
    unsigned long rx_turn; /* the loop turn it was last read in */
    bool replaying;
    uint64_t replay_next; /* next sequence number to replay */
    struct client *prev, *next;
};

/* ---- small helpers ----------------------------------------------------------- */

static ssize_t io_read(void *ud, void *buf, size_t len)
{
    struct client *c = ud;

    return recv(c->fd, buf, len, 0);
}

static ssize_t io_writev(void *ud, const struct iovec *iov, int n)
{
    struct client *c = ud;
    struct msghdr mh;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = (struct iovec *)iov;
    mh.msg_iovlen = (size_t)n;
    return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void send_json(struct client *c, json_t *msg)
{
    struct dai_buf b = {0};

    if (msg && dai_json_dump(msg, &b) == 0 && gw_session_send_text(c->s, b.data, b.len))
        DAI_DEBUG("websocket reply dropped: the session is closing fd=%d", c->fd);
    dai_buf_free(&b);
    json_decref(msg);
}

static void send_error(struct client *c, const char *code, const char *message)
{
    send_json(c, json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "code", code,
                           "message", message));
}

/* ---- resume ------------------------------------------------------------------ */

/* Start replaying updates after since (or tell the client to resync). */
static void begin_resume(struct client *c, uint64_t since)
{
    struct gw_fanout *f = c->f;
    long idx = gw_updlog_resume_index(&f->log, since, f->loop_seq);

    if (idx < 0) {
        c->replaying = false;
        dai_metric_add(f->opt.metrics->ws_resumes, 1, "resync");
        send_json(c, json_pack("{s:s,s:I}", "type", "resync_required", "seq",
                               (json_int_t)f->loop_seq));
        return;
    }
    dai_metric_add(f->opt.metrics->ws_resumes, 1, "replayed");
    c->replaying = true;
    c->replay_next = since + 1;
}

/* Feed replayed updates while the session's queue has room, so a long
 * resume never overflows it; live updates wait in the log meanwhile. */
static void pump_replay(struct client *c)
{
    struct gw_fanout *f = c->f;
    size_t room_until = f->opt.limits.queue_msgs / 2 + 1;

    while (c->replaying && gw_session_state(c->s) == GW_SESS_OPEN &&
           gw_session_queued(c->s) < room_until) {
        long idx = gw_updlog_resume_index(&f->log, c->replay_next - 1, f->loop_seq);
        const struct gw_update *u;

        if (idx < 0) {
            /* What we still had to replay fell out of the log meanwhile. */
            begin_resume(c, c->replay_next - 1);
            return;
        }
        u = gw_updlog_at(&f->log, (size_t)idx);
        if (!u) {
            c->replaying = false; /* caught up: live from here on */
            return;
        }
        c->replay_next = u->seq + 1;
        if (gw_update_matches(u, &c->filter) && gw_session_send(c->s, u->frame))
            return;
    }
}

/* ---- client messages ---------------------------------------------------------- */

static void on_text(void *ud, const char *data, size_t len)
{
    struct client *c = ud;
    struct gw_wsmsg msg;
    char err[256];

    if (gw_wsmsg_parse(data, len, &msg, err, sizeof(err))) {
        send_error(c, "bad_message", err);
        return;
    }
    if (msg.type == GW_WSMSG_PING) {
        send_json(c, json_pack("{s:s,s:I}", "type", "pong", "seq", (json_int_t)c->f->loop_seq));
        gw_wsmsg_clear(&msg);
        return;
    }
    gw_match_clear(&c->filter);
    c->filter = msg.filter; /* moved */
    memset(&msg.filter, 0, sizeof(msg.filter));
    send_json(c, json_pack("{s:s,s:o,s:I}", "type", "subscribed", "filter",
                           gw_match_to_json(&c->filter), "seq", (json_int_t)c->f->loop_seq));
    if (msg.has_since)
        begin_resume(c, msg.since);
}

/* ---- clients ----------------------------------------------------------------- */

static void update_events(struct client *c)
{
    struct epoll_event ev;
    uint32_t want = EPOLLIN | EPOLLRDHUP;

    if (gw_session_want_write(c->s))
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(c->f->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = want;
}

static void set_rx_more(struct client *c, bool more)
{
    if (more != c->rx_more)
        c->f->n_rx_more += more ? 1 : (unsigned)-1;
    c->rx_more = more;
}

/* One read turn for c: at most its budget, remembering whether input is left. */
static void read_client(struct client *c)
{
    c->rx_turn = c->f->turn;
    set_rx_more(c, gw_session_on_readable(c->s));
}

static void destroy(struct client *c)
{
    struct gw_fanout *f = c->f;
    char code[16];
    uint16_t sent = gw_session_close_code(c->s);

    set_rx_more(c, false);
    if (sent)
        snprintf(code, sizeof(code), "%u", sent);
    else
        snprintf(code, sizeof(code), "none");
    dai_metric_add(f->opt.metrics->ws_closed, 1, code);
    epoll_ctl(f->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->prev)
        c->prev->next = c->next;
    else
        f->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    gw_session_free(c->s);
    gw_match_clear(&c->filter);
    /* The HTTP server owns the socket: it closes it for us. */
    if (dai_http_upgraded_close(c->up))
        DAI_DEBUG("websocket upgrade close refused fd=%d", c->fd);
    atomic_fetch_sub(&f->n_clients, 1);
    dai_metric_set(f->opt.metrics->ws_clients, (double)atomic_load(&f->n_clients));
    /* Events for c may still sit in this turn's epoll batch: free later. */
    c->dead = true;
    c->s = NULL;
    c->next = f->graveyard;
    f->graveyard = c;
}

static void bury(struct gw_fanout *f)
{
    while (f->graveyard) {
        struct client *c = f->graveyard;

        f->graveyard = c->next;
        free(c);
    }
}

/* After any activity: replay, write, half-close, finish, re-arm. Returns
 * false when the client is gone. */
static bool service(struct client *c)
{
    unsigned long long before = gw_session_frames_sent(c->s);

    if (c->replaying)
        pump_replay(c);
    if (gw_session_want_write(c->s))
        gw_session_on_writable(c->s);
    if (gw_session_frames_sent(c->s) != before)
        dai_metric_add(c->f->opt.metrics->ws_sent,
                       (double)(gw_session_frames_sent(c->s) - before));
    if (gw_session_state(c->s) == GW_SESS_CLOSING) {
        if (!c->closing_since_us)
            c->closing_since_us = dai_mono_us();
        if (gw_session_close_sent(c->s) && !c->shut_wr) {
            /* Our close frame is out: FIN after it, keep reading for the
             * peer's close (or EOF) until close_timeout. */
            shutdown(c->fd, SHUT_WR);
            c->shut_wr = true;
        }
    }
    if (gw_session_state(c->s) == GW_SESS_DONE) {
        destroy(c);
        return false;
    }
    update_events(c);
    return true;
}

static void adopt_one(struct gw_fanout *f, struct adopt *a)
{
    struct gw_session_io io = {io_read, io_writev, on_text, NULL};
    struct client *c = calloc(1, sizeof(*c));
    struct epoll_event ev;
    int one = 1, fl;
    json_t *hello;

    if (!c)
        goto refuse;
    c->f = f;
    c->fd = a->fd;
    c->up = a->up;
    c->filter = a->start.filter; /* moved */
    memset(&a->start.filter, 0, sizeof(a->start.filter));
    snprintf(c->who, sizeof(c->who), "%s", a->start.who);
    io.ud = c;
    c->s = gw_session_new(&f->opt.limits, &io);
    if (!c->s || gw_session_preload(c->s, a->extra, a->extra_len))
        goto refuse;
    fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        goto refuse;
    /* Updates are small and latency matters more than segment count. */
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (f->opt.sndbuf) {
        int sz = (int)f->opt.sndbuf;

        /* A fixed buffer also bounds kernel memory per slow client. */
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        goto refuse;
    c->events = ev.events;
    c->last_ping_us = dai_mono_us();
    c->next = f->clients;
    if (f->clients)
        f->clients->prev = c;
    f->clients = c;
    dai_metric_add(f->opt.metrics->ws_connections, 1);
    dai_metric_set(f->opt.metrics->ws_clients, (double)atomic_load(&f->n_clients));

    hello = json_pack("{s:s,s:I,s:s,s:s,s:o,s:i}", "type", "hello", "seq",
                      (json_int_t)f->loop_seq, "server", "dispatchai-gateway", "version",
                      DAI_VERSION, "filter", gw_match_to_json(&c->filter), "ping_interval_ms",
                      f->opt.ping_interval_ms);
    send_json(c, hello);
    if (a->start.has_since)
        begin_resume(c, a->start.since);
    /* The client may have sent frames with its handshake. */
    read_client(c);
    service(c);
    return;
refuse:
    if (c) {
        gw_session_free(c->s);
        gw_match_clear(&c->filter);
        free(c);
    }
    DAI_WARN("websocket session could not be set up fd=%d", a->fd);
    (void)dai_http_upgraded_close(a->up);
    atomic_fetch_sub(&f->n_clients, 1);
}

/* ---- updates ------------------------------------------------------------------ */

static void deliver(struct gw_fanout *f, struct gw_update *u)
{
    f->loop_seq = u->seq;
    gw_updlog_push(&f->log, u); /* the log owns u; u stays valid for this call */
    for (struct client *c = f->clients; c; c = c->next) {
        int rc;

        if (c->replaying || gw_session_state(c->s) != GW_SESS_OPEN ||
            !gw_update_matches(u, &c->filter))
            continue;
        rc = gw_session_send(c->s, u->frame);
        if (rc == DAI_EQUEUEFULL && !c->overflowed) {
            c->overflowed = true;
            dai_metric_add(f->opt.metrics->ws_slow, 1);
            DAI_INFO("websocket client too slow, closing code=1013 fd=%d who=%s queued=%zu",
                     c->fd, c->who, gw_session_queued(c->s));
        }
    }
}

/* Microseconds until the inbox should be delivered: 0 = now, -1 = empty.
 * With ws.batch_delay, updates wait until the oldest is that old, so a
 * burst goes out in one write per client instead of one per update. */
static long long inbox_due_in(struct gw_fanout *f, long long now)
{
    long long due = -1;

    pthread_mutex_lock(&f->mu);
    if (f->adopts) {
        due = 0;
    } else if (f->inbox_n) {
        due = f->inbox[0]->received_us + (long long)f->opt.batch_delay_ms * 1000 - now;
        if (due < 0)
            due = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return due;
}

static void drain_inbox(struct gw_fanout *f)
{
    struct gw_update **batch;
    struct adopt *adopts;
    long long batch_us[256];
    size_t n;

    pthread_mutex_lock(&f->mu);
    batch = f->inbox;
    n = f->inbox_n;
    f->inbox = NULL;
    f->inbox_n = f->inbox_cap = 0;
    adopts = f->adopts;
    f->adopts = NULL;
    pthread_mutex_unlock(&f->mu);

    for (size_t i = 0; i < n; i++) {
        /* deliver() hands the update to the log, which may free it. */
        batch_us[i < 256 ? i : 255] = batch[i]->received_us;
        deliver(f, batch[i]);
    }
    free(batch);
    if (n > 256)
        n = 256; /* timings of a huge batch: the last one stands for the rest */
    /* One write per client per batch: whatever the batch queued goes out
     * together. */
    if (n) {
        long long done;

        for (struct client *c = f->clients, *nx; c; c = nx) {
            nx = c->next;
            service(c);
        }
        done = dai_mono_us();
        for (size_t i = 0; i < n; i++)
            dai_metric_observe(f->opt.metrics->ws_fanout,
                               (double)(done - batch_us[i]) / 1e6);
    }
    while (adopts) {
        struct adopt *a = adopts;

        adopts = a->next;
        adopt_one(f, a);
        gw_match_clear(&a->start.filter);
        free(a->extra);
        free(a);
    }
}

/* ---- timers and shutdown ---------------------------------------------------------- */

static void tick(struct gw_fanout *f, long long now)
{
    long long idle = (long long)f->opt.idle_timeout_ms * 1000;
    long long ping = (long long)f->opt.ping_interval_ms * 1000;
    long long closing = (long long)f->opt.close_timeout_ms * 1000;

    for (struct client *c = f->clients, *nx; c; c = nx) {
        nx = c->next;
        switch (gw_session_state(c->s)) {
        case GW_SESS_OPEN:
            if (now - gw_session_last_rx_us(c->s) > idle) {
                gw_session_close(c->s, 1001, "idle timeout", true);
            } else if (now - c->last_ping_us >= ping) {
                gw_session_ping(c->s);
                c->last_ping_us = now;
            }
            break;
        case GW_SESS_CLOSING:
            if (c->closing_since_us && now - c->closing_since_us > closing) {
                destroy(c);
                continue;
            }
            break;
        case GW_SESS_DONE:
            break;
        }
        service(c);
    }
}

static void begin_stop(struct gw_fanout *f)
{
    for (struct client *c = f->clients, *nx; c; c = nx) {
        nx = c->next;
        gw_session_close(c->s, 1001, "server shutting down", true);
        service(c);
    }
}

void *gw_fanout_loop(void *arg)
{
    struct gw_fanout *f = arg;
    struct epoll_event evs[MAX_EVENTS];
    long long next_tick = dai_mono_us() + TICK_MS * 1000LL;
    bool stopping = false;

    for (;;) {
        long long now = dai_mono_us();
        int timeout = (int)((next_tick - now) / 1000), n;
        long long due = inbox_due_in(f, now);

        if (due == 0) {
            drain_inbox(f);
            now = dai_mono_us();
        } else if (due > 0 && due / 1000 < timeout) {
            timeout = (int)((due + 999) / 1000);
        }
        if (atomic_load(&f->stopping) && !stopping) {
            stopping = true;
            begin_stop(f);
        }
        if (stopping && (!f->clients || now > f->stop_deadline_us))
            break;
        if (timeout < 0 || f->n_rx_more)
            timeout = 0; /* input is waiting in a session already */
        n = epoll_wait(f->epfd, evs, MAX_EVENTS, timeout);
        f->turn++;
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;

            if (!c) {
                uint64_t cnt;

                /* Only a wake-up: the inbox is looked at once per turn. */
                if (read(f->evfd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
                    DAI_DEBUG("fanout eventfd read failed errno=%d", errno);
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                read_client(c);
            if (gw_session_state(c->s) != GW_SESS_DONE && (evs[i].events & EPOLLOUT))
                gw_session_on_writable(c->s);
            service(c);
        }
        /* Sessions whose budget ran out last turn and that epoll did not
         * report again (their input sits in the frame decoder). */
        for (struct client *c = f->clients, *nx; c && f->n_rx_more; c = nx) {
            nx = c->next;
            if (c->rx_more && c->rx_turn != f->turn) {
                read_client(c);
                service(c);
            }
        }
        now = dai_mono_us();
        if (now >= next_tick) {
            tick(f, now);
            next_tick = now + TICK_MS * 1000LL;
        }
        bury(f);
    }
    while (f->clients)
        destroy(f->clients);
    bury(f);
    return NULL;
}

