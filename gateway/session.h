/* One WebSocket connection's protocol state on wslay: reading client
 * frames, the bounded send queue, closing handshake. No sockets of its own —
 * I/O goes through hooks, so tests run it over memory. One thread per session. */
#ifndef DISPATCHAI_GW_SESSION_H
#define DISPATCHAI_GW_SESSION_H

#include "frame.h"

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Defaults for the limits left 0. One client must not make the fan-out
 * thread work for it alone or hold memory without bound: input is read in
 * turns of at most GW_SESSION_READ_BUDGET bytes, at most
 * GW_SESSION_CTRL_QUEUE control frames (pongs) wait for a peer that does not
 * read, and a peer pinging faster than GW_SESSION_PINGS_PER_S is closed. */
#define GW_SESSION_READ_BUDGET (64u * 1024)
#define GW_SESSION_CTRL_QUEUE 8
#define GW_SESSION_PINGS_PER_S 10

struct gw_session_limits {
    size_t max_message;   /* largest client message (1009 beyond) */
    size_t queue_msgs;    /* data frames queued before 1013 */
    size_t queue_bytes;
    size_t read_budget;   /* bytes read per gw_session_on_readable call */
    size_t ctrl_queue;    /* control frames queued before 1008 */
    unsigned pings_per_s; /* client pings per second before 1008 */
};

struct gw_session;

/* I/O hooks so the protocol logic runs over a socket or, in tests, memory.
 * read: like recv(2) (-1 + errno EAGAIN when nothing is there, 0 at EOF);
 * writev: like writev(2). */
struct gw_session_io {
    ssize_t (*read)(void *ud, void *buf, size_t len);
    ssize_t (*writev)(void *ud, const struct iovec *iov, int n);
    /* A complete text message from the client. */
    void (*on_text)(void *ud, const char *data, size_t len);
    void *ud;
};

enum gw_session_state {
    GW_SESS_OPEN = 0,
    GW_SESS_CLOSING,  /* close frame queued or sent; waiting for the peer's */
    GW_SESS_DONE      /* the TCP connection should be closed now */
};

struct gw_session *gw_session_new(const struct gw_session_limits *lim,
                                  const struct gw_session_io *io);
void gw_session_free(struct gw_session *s);
/* Bytes MHD read past the upgrade request; they are parsed before the socket. */
DAI_MUST_CHECK int gw_session_preload(struct gw_session *s, const void *data, size_t len);
/* Read and process what is available, up to the read budget. True when the
 * budget ran out first: call again on the next loop turn even if the socket
 * does not signal again (part of the input may sit in the frame decoder). */
bool gw_session_on_readable(struct gw_session *s);
/* Write as much as the socket takes. */
void gw_session_on_writable(struct gw_session *s);
/* Queue a data frame (reference taken). DAI_EQUEUEFULL when the bounded
 * queue would overflow — the session then closes itself with 1013 — or
 * DAI_EINVAL when closing. */
DAI_MUST_CHECK int gw_session_send(struct gw_session *s, struct gw_frame *f);
/* Queue a text message (framed here). Same results as gw_session_send. */
DAI_MUST_CHECK int gw_session_send_text(struct gw_session *s, const char *text, size_t len);
/* Protocol ping (keepalive). */
void gw_session_ping(struct gw_session *s);
/* Start the closing handshake with code and reason (queued data dropped when
 * drop_queue, e.g. for 1013). */
void gw_session_close(struct gw_session *s, uint16_t code, const char *reason, bool drop_queue);
enum gw_session_state gw_session_state(const struct gw_session *s);
bool gw_session_want_write(const struct gw_session *s);
size_t gw_session_queued(const struct gw_session *s);
/* Monotonic µs the peer last showed it is alive: a complete data message,
 * or a pong answering our latest ping (its own pings do not count, so a
 * client that only pings cannot hold a connection open). */
long long gw_session_last_rx_us(const struct gw_session *s);
/* The code of the close frame this side queued (0 if none yet). */
uint16_t gw_session_close_code(const struct gw_session *s);
/* Our close frame is fully written (time to half-close the socket). */
bool gw_session_close_sent(const struct gw_session *s);
/* Data frames written completely so far. */
unsigned long long gw_session_frames_sent(const struct gw_session *s);

#endif
