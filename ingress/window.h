/* The ingress's bounded in-memory tables: the delivery de-duplication window
 * (dedup.c) and the signature policy (verify.c); the per-client rate limit
 * is common's ratelimit.h. Pure logic with an injected clock, unit-tested alone. */
#ifndef DISPATCHAI_INGRESS_WINDOW_H
#define DISPATCHAI_INGRESS_WINDOW_H

#include "normalize.h"

#include <dispatchai/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- dedup.c ------------------------------------------------------------ */

/* One delivery GUID the ingress knows about. In flight: its message was
 * handed to the producer and the broker has not answered yet (the entry is
 * pinned and never evicted). Done: the broker acknowledged it at
 * partition/offset; it stays until the window or the capacity pushes it out. */
struct ing_dedup_entry {
    char guid[ING_GUID_MAX + 1]; /* the table's key */
    size_t guid_len;
    bool done;
    int32_t partition;
    int64_t offset;
    long long done_ms;
    struct ing_dedup_entry *older, *newer; /* acknowledged entries, oldest first */
    long long sent_us; /* the caller's: when the message went to the producer */
    void *owner;   /* the caller's: the request that publishes it (in flight only) */
    void *waiters; /* the caller's: requests waiting for the outcome */
};

enum ing_dedup_state {
    ING_DEDUP_NEW = 0,   /* unknown: an in-flight entry was inserted, publish it */
    ING_DEDUP_IN_FLIGHT, /* another request is publishing it: wait for its outcome */
    ING_DEDUP_DONE       /* acknowledged before: a duplicate */
};

struct ing_dedup;

/* New table remembering up to capacity acknowledged GUIDs, each for at most
 * window_ms after its acknowledgement (capacity 0: nothing is remembered
 * after the acknowledgement; in-flight GUIDs are always tracked). NULL on OOM.
 * Not thread-safe: the caller serialises every call. */
struct ing_dedup *ing_dedup_new(size_t capacity, long long window_ms);
void ing_dedup_free(struct ing_dedup *d);

/* Look guid up (a valid GUID) at time now_ms; when unknown, insert it in
 * flight. *e receives the entry (borrowed; valid until commit/release or, for
 * done entries, until the next call). Returns an ing_dedup_state or -ENOMEM. */
DAI_MUST_CHECK int ing_dedup_claim(struct ing_dedup *d, const char *guid, long long now_ms,
                                   struct ing_dedup_entry **e);
/* The broker acknowledged e: it becomes done (and may be evicted at once when
 * capacity is 0; e must not be used after this call). */
void ing_dedup_commit(struct ing_dedup *d, struct ing_dedup_entry *e, int32_t partition,
                      int64_t offset, long long now_ms);
/* Publishing e failed: forget it so a redelivery publishes again. Frees e. */
void ing_dedup_release(struct ing_dedup *d, struct ing_dedup_entry *e);
/* Entries right now: acknowledged ones and in-flight ones. */
size_t ing_dedup_done_count(const struct ing_dedup *d);
size_t ing_dedup_in_flight_count(const struct ing_dedup *d);

/* ---- verify.c ----------------------------------------------------------- */

/* The signature policy: the secrets a delivery may be signed with (several
 * during a rotation), or none at all in insecure mode. Borrowed strings. */
struct ing_verifier {
    const char *const *secrets;
    size_t n;
    bool skip; /* --insecure-skip-signature: accept deliveries unverified */
};

/* Check X-Hub-Signature-256 (header, may be NULL) over the exact raw body.
 * Returns 0 (also in insecure mode), or DAI_EBADSIG when the header is
 * missing, malformed or matches no secret.
 * Constant time in the signature; thread-safe. */
DAI_MUST_CHECK int ing_verify(const struct ing_verifier *v, const void *body, size_t len,
                              const char *header);
/* Why a signature was refused, for the error message (never echoes it). */
const char *ing_verify_reason(const char *header);

#endif
