/* The fan-out's shared state, between fanout.c (what other threads call:
 * start, stop, publish, adopt) and fanout_loop.c (the epoll thread itself);
 * nothing else includes it. Which thread may touch which member is noted
 * member by member. */
#ifndef DISPATCHAI_GW_FANOUT_LAYOUT_H
#define DISPATCHAI_GW_FANOUT_LAYOUT_H

#include "fanout.h"
#include "updlog.h"

#include <dispatchai/buf.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client; /* one session, fanout_loop.c's */

/* An upgraded socket on its way from an MHD thread to the loop. */
struct adopt {
    int fd;
    struct dai_http_upgraded *up;
    char *extra;
    size_t extra_len;
    struct gw_ws_start start;
    struct adopt *next;
};

struct gw_fanout {
    struct gw_fanout_options opt;
    pthread_t th;
    bool started;
    int epfd, evfd;

    pthread_mutex_t mu; /* inbox and adoptions */
    struct gw_update **inbox;
    size_t inbox_n, inbox_cap;
    struct adopt *adopts;
    bool closed;        /* under mu: no more adoptions */

    atomic_bool stopping;
    atomic_uint n_clients;
    atomic_uint_fast64_t last_seq; /* consumer side */
    uint64_t next_seq;             /* consumer thread only */
    struct dai_buf scratch;        /* consumer thread only */
    long long stop_deadline_us;

    /* loop thread only */
    struct gw_updlog log;
    uint64_t loop_seq; /* newest sequence number the loop has processed */
    struct client *clients;
    struct client *graveyard; /* destroyed this loop turn, freed at its end */
    unsigned long turn;
    unsigned n_rx_more;       /* clients with rx_more set */
};

/* The loop thread's body (pthread start routine; arg is the struct gw_fanout). */
void *gw_fanout_loop(void *arg);

#endif
