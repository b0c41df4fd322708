/* One WebSocket connection after the upgrade: wslay's frame layer parses and
 * unmasks client frames, and this file applies RFC 6455's message rules on
 * top — masking, reserved bits and opcodes, fragmentation, control frames,
 * UTF-8 of text, the size cap, the closing handshake with the right status
 * codes — and keeps the bounded send queue of pre-encoded frames (written
 * with writev, several frames per call). Every input a peer controls is
 * bounded: bytes read per turn, queued pongs, pings per second. Socket I/O
 * goes through hooks, so the whole protocol is unit-tested over memory. No
 * threads, no timers. */
#include "session.h"

#include <dispatchai/clock.h>
#include <dispatchai/utf8.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define IOV_BATCH 16

struct fq {
    struct gw_frame **v;
    size_t cap, head, n;
};

struct gw_session {
    struct gw_session_limits lim;
    struct gw_session_io io;
    wslay_frame_context_ptr fctx;
    enum gw_session_state state;

    /* input */
    unsigned char *pre;
    size_t pre_len, pre_off;
    bool eof, rx_error, rx_failed;
    bool starved; /* the last read found nothing (EAGAIN, EOF or error) */
    bool in_frame;
    uint8_t fr_opcode;
    bool fr_fin;
    uint64_t fr_left;
    int msg_opcode; /* -1: no data message in progress */
    unsigned char *msg;
    size_t msg_len, msg_cap;
    unsigned char ctl[125];
    size_t ctl_len;
    long long last_rx_us;
    size_t rx_turn;               /* bytes read in this gw_session_on_readable call */
    long long ping_window_us;     /* start of the current one-second ping window */
    unsigned pings_in_window;
    char ping_payload[16];        /* what our latest ping carried */
    size_t ping_len;
    unsigned long long pings_sent;

    /* output */
    struct gw_frame *cur;
    size_t cur_off;
    bool cur_is_data;
    struct fq ctrl, data;
    size_t data_bytes;
    struct gw_frame *close_frame; /* our close frame, for identity until sent */
    bool close_queued;
    uint16_t close_code;
    bool close_sent, close_received;
    unsigned long long frames_sent;
};

/* ---- frame queues ------------------------------------------------------------ */

static int fq_push(struct fq *q, struct gw_frame *f)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 8;
        struct gw_frame **nv = malloc(ncap * sizeof(*nv));

        if (!nv)
            return -ENOMEM;
        for (size_t i = 0; i < q->n; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->cap = ncap;
        q->head = 0;
    }
    q->v[(q->head + q->n) % q->cap] = f;
    q->n++;
    return 0;
}

static struct gw_frame *fq_peek(const struct fq *q, size_t i)
{
    return i < q->n ? q->v[(q->head + i) % q->cap] : NULL;
}

static struct gw_frame *fq_pop(struct fq *q)
{
    struct gw_frame *f = q->v[q->head];

    q->head = (q->head + 1) % q->cap;
    q->n--;
    return f;
}

static void fq_clear(struct fq *q)
{
    while (q->n)
        gw_frame_unref(fq_pop(q));
}

/* ---- lifecycle --------------------------------------------------------------- */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *ud)
{
    struct gw_session *s = ud;
    ssize_t r;

    (void)flags;
    if (s->pre_off < s->pre_len) {
        size_t n = s->pre_len - s->pre_off;

        if (n > len)
            n = len;
        memcpy(buf, s->pre + s->pre_off, n);
        s->pre_off += n;
        return (ssize_t)n;
    }
    if (s->rx_turn >= s->lim.read_budget) {
        /* Budget spent: wslay sees "want read", we see starved and yield. */
        s->starved = true;
        errno = EAGAIN;
        return -1;
    }
    if (len > s->lim.read_budget - s->rx_turn)
        len = s->lim.read_budget - s->rx_turn;
    r = s->io.read(s->io.ud, buf, len);
    if (r > 0) {
        s->rx_turn += (size_t)r;
        return r;
    }
    if (r == 0)
        s->eof = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        s->rx_error = true;
    /* wslay reports this as "want read"; starved/eof/rx_error tell us why
     * (an interrupted read is simply tried again). */
    s->starved = !(r < 0 && errno == EINTR);
    return -1;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *ud)
{
    /* Only the receive side of this context is used; frames are encoded by
     * gw_frame_new. */
    (void)data;
    (void)len;
    (void)flags;
    (void)ud;
    return -1;
}

static int genmask_cb(uint8_t *buf, size_t len, void *ud)
{
    (void)buf;
    (void)len;
    (void)ud;
    return -1;
}

struct gw_session *gw_session_new(const struct gw_session_limits *lim,
                                  const struct gw_session_io *io)
{
    struct wslay_frame_callbacks cb = {send_cb, recv_cb, genmask_cb};
    struct gw_session *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->lim = *lim;
    if (!s->lim.read_budget)
        s->lim.read_budget = GW_SESSION_READ_BUDGET;
    if (!s->lim.ctrl_queue)
        s->lim.ctrl_queue = GW_SESSION_CTRL_QUEUE;
    if (!s->lim.pings_per_s)
        s->lim.pings_per_s = GW_SESSION_PINGS_PER_S;
    s->io = *io;
    s->msg_opcode = -1;
    s->last_rx_us = dai_mono_us();
    if (wslay_frame_context_init(&s->fctx, &cb, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void gw_session_free(struct gw_session *s)
{
    if (!s)
        return;
    wslay_frame_context_free(s->fctx);
    gw_frame_unref(s->cur);
    fq_clear(&s->ctrl);
    fq_clear(&s->data);
    free(s->ctrl.v);
    free(s->data.v);
    free(s->msg);
    free(s->pre);
    free(s);
}

int gw_session_preload(struct gw_session *s, const void *data, size_t len)
{
    if (!len)
        return 0;
    s->pre = malloc(len);
    if (!s->pre)
        return -ENOMEM;
    memcpy(s->pre, data, len);
    s->pre_len = len;
    return 0;
}

/* ---- closing ----------------------------------------------------------------- */

void gw_session_close(struct gw_session *s, uint16_t code, const char *reason, bool drop_queue)
{
    struct gw_frame *f;

    (void)drop_queue; /* the close frame is the last frame: queued data can never follow it */
    if (s->close_queued || s->state == GW_SESS_DONE)
        return;
    /* Queued pongs and pings are pointless once we close, and a peer that
     * does not read must still get the close frame first. A frame already
     * partly written stays in cur, so the byte stream stays whole. */
    fq_clear(&s->ctrl);
    fq_clear(&s->data);
    s->data_bytes = 0;
    f = gw_frame_close(code, reason);
    if (!f || fq_push(&s->ctrl, f)) {
        gw_frame_unref(f);
        s->state = GW_SESS_DONE; /* cannot even say goodbye: just drop it */
        return;
    }
    s->close_frame = f;
    s->close_queued = true;
    s->close_code = code;
    s->state = GW_SESS_CLOSING;
}

/* Fail the connection (RFC 6455 7.1.7): stop parsing, send close(code). */
static void fail(struct gw_session *s, uint16_t code, const char *reason)
{
    s->rx_failed = true;
    gw_session_close(s, code, reason, true);
}

static bool close_code_valid(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* ---- receiving --------------------------------------------------------------- */

static void queue_ctrl(struct gw_session *s, uint8_t opcode, const void *p, size_t n)
{
    struct gw_frame *f;

    if (s->close_queued)
        return; /* nothing may follow our close frame */
    if (s->ctrl.n >= s->lim.ctrl_queue) {
        /* The peer sends control frames but does not read the answers. */
        fail(s, 1008, "control frames are not being read");
        return;
    }
    f = gw_frame_new(opcode, p, n);
    if (!f || fq_push(&s->ctrl, f)) {
        gw_frame_unref(f);
        s->state = GW_SESS_DONE;
    }
}

static void end_control(struct gw_session *s)
{
    switch (s->fr_opcode) {
    case WSLAY_PING: {
        long long now = dai_mono_us();

        if (now - s->ping_window_us >= 1000000) {
            s->ping_window_us = now;
            s->pings_in_window = 0;
        }
        if (++s->pings_in_window > s->lim.pings_per_s) {
            fail(s, 1008, "too many pings");
            return;
        }
        queue_ctrl(s, WSLAY_PONG, s->ctl, s->ctl_len);
        break;
    }
    case WSLAY_PONG:
        /* Only the answer to our latest ping proves the peer reads. */
        if (s->ping_len && s->ctl_len == s->ping_len &&
            !memcmp(s->ctl, s->ping_payload, s->ping_len))
            s->last_rx_us = dai_mono_us();
        break;
    case WSLAY_CONNECTION_CLOSE: {
        unsigned code = 0;

        if (s->ctl_len == 1) {
            fail(s, 1002, "close frame with a 1-byte payload");
            return;
        }
        if (s->ctl_len >= 2) {
            code = (unsigned)s->ctl[0] << 8 | s->ctl[1];
            if (!close_code_valid(code)) {
                fail(s, 1002, "invalid close code");
                return;
            }
            if (!dai_utf8_valid(s->ctl + 2, s->ctl_len - 2)) {
                fail(s, 1007, "close reason is not UTF-8");
                return;
            }
        }
        s->close_received = true;
        /* Echo the peer's code (or an empty close if it sent none). */
        if (!s->close_queued) {
            struct gw_frame *f = gw_frame_new(WSLAY_CONNECTION_CLOSE, s->ctl, code ? 2 : 0);

            fq_clear(&s->data);
            s->data_bytes = 0;
            if (!f || fq_push(&s->ctrl, f)) {
                gw_frame_unref(f);
                s->state = GW_SESS_DONE;
                return;
            }
            s->close_frame = f;
            s->close_queued = true;
            s->close_code = (uint16_t)code;
            s->state = GW_SESS_CLOSING;
        } else if (s->close_sent) {
            s->state = GW_SESS_DONE;
        }
        break;
    }
    default:
        break;
    }
}

static void end_data(struct gw_session *s)
{
    if (!s->fr_fin)
        return;
    if (s->msg_opcode == WSLAY_BINARY_FRAME) {
        fail(s, 1003, "binary messages are not supported");
        return;
    }
    if (!dai_utf8_valid(s->msg, s->msg_len)) {
        fail(s, 1007, "text message is not valid UTF-8");
        return;
    }
    s->msg_opcode = -1;
    s->last_rx_us = dai_mono_us();
    /* After our close frame the peer's data is discarded (RFC 6455 1.4). */
    if (!s->close_queued && s->io.on_text)
        s->io.on_text(s->io.ud, (const char *)s->msg, s->msg_len);
    s->msg_len = 0;
}

static bool start_frame(struct gw_session *s, const struct wslay_frame_iocb *io)
{
    uint8_t op = io->opcode;

    if (io->rsv) {
        fail(s, 1002, "reserved bits set without an extension");
        return false;
    }
    if (!io->mask) {
        fail(s, 1002, "client frames must be masked");
        return false;
    }
    if (wslay_is_ctrl_frame(op)) {
        if (op != WSLAY_CONNECTION_CLOSE && op != WSLAY_PING && op != WSLAY_PONG) {
            fail(s, 1002, "reserved opcode");
            return false;
        }
        s->ctl_len = 0;
    } else if (op == WSLAY_CONTINUATION_FRAME) {
        if (s->msg_opcode < 0) {
            fail(s, 1002, "continuation without a message");
            return false;
        }
    } else if (op == WSLAY_TEXT_FRAME || op == WSLAY_BINARY_FRAME) {
        if (s->msg_opcode >= 0) {
            fail(s, 1002, "new message inside a fragmented one");
            return false;
        }
        s->msg_opcode = op;
        s->msg_len = 0;
    } else {
        fail(s, 1002, "reserved opcode");
        return false;
    }
    if (!wslay_is_ctrl_frame(op) && io->payload_length > s->lim.max_message - s->msg_len) {
        fail(s, 1009, "message too big");
        return false;
    }
    if (!wslay_is_ctrl_frame(op) && s->msg_cap < s->msg_len + io->payload_length) {
        size_t need = s->msg_len + (size_t)io->payload_length;
        unsigned char *nm = realloc(s->msg, need ? need : 1);

        if (!nm) {
            fail(s, 1011, "out of memory");
            return false;
        }
        s->msg = nm;
        s->msg_cap = need;
    }
    s->in_frame = true;
    s->fr_opcode = op;
    s->fr_fin = io->fin;
    s->fr_left = io->payload_length;
    return true;
}

/* Once the connection failed, bytes are read and dropped until the peer
 * closes, so our close frame is not lost to a TCP reset — within the same
 * read budget, so a peer that keeps sending cannot hold the loop. */
static bool drain(struct gw_session *s)
{
    unsigned char buf[4096];

    while (s->rx_turn < s->lim.read_budget) {
        ssize_t r = s->io.read(s->io.ud, buf, sizeof(buf));

        if (r > 0) {
            s->rx_turn += (size_t)r;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            s->state = GW_SESS_DONE;
        return false;
    }
    return true;
}

bool gw_session_on_readable(struct gw_session *s)
{
    s->rx_turn = 0;
    while (s->state != GW_SESS_DONE) {
        struct wslay_frame_iocb io;
        ssize_t r;

        if (s->rx_failed || s->close_received)
            return drain(s);
        memset(&io, 0, sizeof(io));
        s->starved = false;
        r = wslay_frame_recv(s->fctx, &io);
        if (r == WSLAY_ERR_WANT_READ) {
            if (s->eof || s->rx_error)
                s->state = GW_SESS_DONE; /* gone without a close frame */
            /* A short read that did not complete a header is not the end
             * of what the socket holds: only stop when a read came back
             * empty. */
            if (s->state == GW_SESS_DONE)
                return false;
            if (s->starved)
                return s->rx_turn >= s->lim.read_budget;
            continue;
        }
        if (r == WSLAY_ERR_PROTO) {
            /* Frame-level violations: control frame too long or fragmented,
             * non-minimal length encoding, 64-bit length with the top bit. */
            fail(s, 1002, "malformed frame");
            return false;
        }
        if (r < 0) {
            fail(s, 1011, "frame decoder error");
            return false;
        }
        if (!s->in_frame && !start_frame(s, &io))
            return false;
        if (io.data_length) {
            if (wslay_is_ctrl_frame(s->fr_opcode)) {
                memcpy(s->ctl + s->ctl_len, io.data, io.data_length);
                s->ctl_len += io.data_length;
            } else {
                memcpy(s->msg + s->msg_len, io.data, io.data_length);
                s->msg_len += io.data_length;
            }
            s->fr_left -= io.data_length;
        }
        if (s->fr_left == 0) {
            s->in_frame = false;
            if (wslay_is_ctrl_frame(s->fr_opcode))
                end_control(s);
            else
                end_data(s);
        }
    }
    return false;
}

/* ---- sending ----------------------------------------------------------------- */

int gw_session_send(struct gw_session *s, struct gw_frame *f)
{
    if (s->state != GW_SESS_OPEN)
        return DAI_EINVAL;
    if (s->data.n >= s->lim.queue_msgs || s->data_bytes + f->len > s->lim.queue_bytes) {
        gw_session_close(s, 1013, "send queue overflow", true);
        return DAI_EQUEUEFULL;
    }
    if (fq_push(&s->data, gw_frame_ref(f))) {
        gw_frame_unref(f);
        gw_session_close(s, 1011, "out of memory", true);
        return -ENOMEM;
    }
    s->data_bytes += f->len;
    return 0;
}

int gw_session_send_text(struct gw_session *s, const char *text, size_t len)
{
    struct gw_frame *f;
    int rc;

    if (s->state != GW_SESS_OPEN)
        return DAI_EINVAL;
    f = gw_frame_new(WSLAY_TEXT_FRAME, text, len);
    if (!f)
        return -ENOMEM;
    rc = gw_session_send(s, f);
    gw_frame_unref(f);
    return rc;
}

void gw_session_ping(struct gw_session *s)
{
    int n;

    if (s->state != GW_SESS_OPEN)
        return;
    /* A payload of its own per ping, so only a pong to this one counts. */
    n = snprintf(s->ping_payload, sizeof(s->ping_payload), "ka%llu", ++s->pings_sent);
    s->ping_len = n > 0 ? (size_t)n : 0;
    queue_ctrl(s, WSLAY_PING, s->ping_payload, s->ping_len);
}

static void frame_done(struct gw_session *s, struct gw_frame *f, bool is_data)
{
    if (is_data)
        s->frames_sent++;
    if (f == s->close_frame) {
        s->close_sent = true;
        s->close_frame = NULL;
        if (s->close_received)
            s->state = GW_SESS_DONE;
    }
    gw_frame_unref(f);
}

void gw_session_on_writable(struct gw_session *s)
{
    while (s->state != GW_SESS_DONE) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        size_t ci = 0, di = 0;
        ssize_t w;

        if (s->cur) {
            iov[n].iov_base = s->cur->data + s->cur_off;
            iov[n].iov_len = s->cur->len - s->cur_off;
            n++;
        }
        /* Control frames go first, data frames after; never past a close. */
        for (; n < IOV_BATCH && ci < s->ctrl.n; ci++) {
            struct gw_frame *f = fq_peek(&s->ctrl, ci);

            iov[n].iov_base = f->data;
            iov[n].iov_len = f->len;
            n++;
        }
        for (; n < IOV_BATCH && di < s->data.n && ci == s->ctrl.n; di++) {
            struct gw_frame *f = fq_peek(&s->data, di);

            iov[n].iov_base = f->data;
            iov[n].iov_len = f->len;
            n++;
        }
        if (n == 0)
            return;
        w = s->io.writev(s->io.ud, iov, n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                s->state = GW_SESS_DONE;
            return;
        }
        /* Consume w bytes in the order they were offered. */
        if (s->cur) {
            size_t left = s->cur->len - s->cur_off;

            if ((size_t)w < left) {
                s->cur_off += (size_t)w;
                return;
            }
            w -= (ssize_t)left;
            frame_done(s, s->cur, s->cur_is_data);
            s->cur = NULL;
        }
        while (ci > 0 || di > 0) {
            bool is_data = ci == 0;
            struct gw_frame *f = is_data ? fq_pop(&s->data) : fq_pop(&s->ctrl);

            if (is_data) {
                di--;
                s->data_bytes -= f->len;
            } else {
                ci--;
            }
            if ((size_t)w < f->len) {
                s->cur = f;
                s->cur_off = (size_t)w;
                s->cur_is_data = is_data;
                return;
            }
            w -= (ssize_t)f->len;
            frame_done(s, f, is_data);
            if (s->state == GW_SESS_DONE)
                return;
        }
    }
}

enum gw_session_state gw_session_state(const struct gw_session *s)
{
    return s->state;
}

bool gw_session_want_write(const struct gw_session *s)
{
    return s->state != GW_SESS_DONE && (s->cur || s->ctrl.n || s->data.n);
}

size_t gw_session_queued(const struct gw_session *s)
{
    return s->data.n;
}

long long gw_session_last_rx_us(const struct gw_session *s)
{
    return s->last_rx_us;
}

uint16_t gw_session_close_code(const struct gw_session *s)
{
    return s->close_code;
}

bool gw_session_close_sent(const struct gw_session *s)
{
    return s->close_sent;
}

unsigned long long gw_session_frames_sent(const struct gw_session *s)
{
    return s->frames_sent;
}
