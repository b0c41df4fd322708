/* Deadlines for request bodies (private to common/src/http*.c): requests
 * whose body is still arriving, oldest first, and a thread that hands each
 * one still there timeout_ms after its headers to an expire callback. */
#ifndef DISPATCHAI_HTTP_DEADLINE_H
#define DISPATCHAI_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>

enum http_dl_state { HTTP_DL_IDLE = 0, HTTP_DL_WAITING, HTTP_DL_EXPIRED };

/* Embedded in the request; zero-initialised means idle. */
struct http_dl_node {
    struct http_dl_node *next, *prev;
    long long start_us; /* dai_mono_us() of the headers */
    enum http_dl_state state; /* under the watcher's lock */
    bool added;         /* owner thread only: between add and remove */
};

/* Called on the watcher thread with the watcher's lock held, so
 * http_dl_remove of the same node waits until it returns. */
typedef void (*http_dl_expire_fn)(void *ud, struct http_dl_node *n);

struct http_deadlines;
/* NULL with a message in err when the thread cannot start. */
struct http_deadlines *dai__http_dl_new(int timeout_ms, http_dl_expire_fn expire, void *ud,
                                        char *err, size_t errlen);
/* Stops the thread; nodes still waiting are simply forgotten. NULL is fine. */
void dai__http_dl_free(struct http_deadlines *dl);
void dai__http_dl_add(struct http_deadlines *dl, struct http_dl_node *n, long long start_us);
/* Take n off the list. False when it expired (its request was already
 * answered 408), true when it was waiting or never added. */
bool dai__http_dl_remove(struct http_deadlines *dl, struct http_dl_node *n);

#endif
