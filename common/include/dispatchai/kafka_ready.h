/* Cached broker readiness: a background thread checks every second that the
 * broker answers and the given topics exist, so an HTTP /ready never blocks a
 * socket thread on a broker round-trip (it reads the last answer). */
#ifndef DISPATCHAI_KAFKA_READY_H
#define DISPATCHAI_KAFKA_READY_H

#include <dispatchai/err.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

struct dai_kafka_ready;

/* Start the watcher. rk is borrowed and must outlive it (free the watcher
 * before the client); topics are copied. Until the first check finishes the
 * answer is "not ready". New watcher or NULL with the reason in err. */
struct dai_kafka_ready *dai_kafka_ready_new(rd_kafka_t *rk, const char *const *topics, size_t n,
                                            char *err, size_t errlen);
/* The last answer: true, or false with the reason in why. Never blocks on the
 * broker; thread-safe. Shaped as dai_http_options.ready (ud = the watcher). */
bool dai_kafka_ready_check(void *ud, char *why, size_t n);
/* Watch rk instead from now on (borrowed as in _new); NULL: answer "not
 * ready" with why until a client is set. Returns once no check uses the
 * previous client any more, so the caller may destroy it. Thread-safe. */
void dai_kafka_ready_set_client(struct dai_kafka_ready *r, rd_kafka_t *rk, const char *why);
/* Stop the thread (waits for a check in progress, at most its timeout) and
 * free. NULL is fine. */
void dai_kafka_ready_free(struct dai_kafka_ready *r);

#endif
