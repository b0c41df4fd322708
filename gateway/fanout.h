/* The WebSocket event loop: one epoll thread owns every session and the
 * resume log; the consumer hands it updates, MHD hands it upgraded sockets. */
#ifndef DISPATCHAI_GW_FANOUT_H
#define DISPATCHAI_GW_FANOUT_H

#include "match.h"
#include "session.h"

#include <dispatchai/err.h>
#include <dispatchai/http.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_applied;
struct gw_metrics;

struct gw_fanout_options {
    struct gw_session_limits limits;
    int ping_interval_ms, idle_timeout_ms, close_timeout_ms;
    int batch_delay_ms;  /* hold updates this long so several share one write per client */
    unsigned max_clients;
    size_t resume_entries, resume_bytes;
    size_t sndbuf;
    struct gw_metrics *metrics;
};

struct gw_fanout;

/* Start the loop thread. NULL with the reason in err. */
struct gw_fanout *gw_fanout_new(const struct gw_fanout_options *opt, char *err, size_t errlen);
/* Close every session with 1001, wait up to timeout_ms for the goodbyes,
 * stop the thread and release the sockets. Later adoptions are refused.
 * Call before dai_http_stop (MHD must not stop with upgraded sockets open). */
void gw_fanout_stop(struct gw_fanout *f, int timeout_ms);
/* Free after dai_http_stop. NULL is fine. */
void gw_fanout_free(struct gw_fanout *f);
/* From the consumer thread only: number the update, frame it once, hand it
 * to the loop. 0 or -ENOMEM (the update is then lost for WebSocket clients
 * and counted; REST still has it). */
DAI_MUST_CHECK int gw_fanout_publish(struct gw_fanout *f, const struct gw_applied *a);
/* The newest sequence number handed out (any thread). */
uint64_t gw_fanout_last_seq(const struct gw_fanout *f);
/* Sessions connected or being adopted (any thread; for the max_clients check). */
unsigned gw_fanout_clients(const struct gw_fanout *f);

struct gw_ws_start {
    struct gw_match filter;  /* moved in: the caller's copy is emptied */
    bool has_since;
    uint64_t since;
    char who[64];
};

/* From the upgrade callback: take over the socket (up is closed with
 * dai_http_upgraded_close when the session ends). extra holds bytes the
 * server read past the request (copied). */
void gw_fanout_adopt(struct gw_fanout *f, int fd, struct dai_http_upgraded *up, const char *extra,
                     size_t extra_len, struct gw_ws_start *start);

#endif
