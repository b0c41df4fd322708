/* The store's ordered index: issues newest first, in blocks, with the
 * fields list queries filter on. Not thread-safe; the store's lock covers it. */
#ifndef DISPATCHAI_GW_ORDER_H
#define DISPATCHAI_GW_ORDER_H

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One issue's position and the fields list queries filter on, kept together
 * so a filtered scan walks memory sequentially. Order: updated_ms desc, then
 * khash desc (a stable hash of the key, so cursors survive restarts and work
 * across gateway instances). */
struct gw_ent {
    int64_t updated_ms;
    uint64_t khash;
    const char *title_lc; /* borrowed from the store's issue */
    uint64_t tsig[2];     /* gw_bigram_sig of title_lc: most q scans stop here */
    uint32_t title_len;
    uint32_t id;          /* store slot */
    uint32_t repo;        /* repo id */
    uint32_t team;        /* suggested assignee id, 0 = none */
    uint8_t category, priority, state, type;
};

struct gw_order_blk;
struct gw_order {
    struct gw_order_blk **blk;
    size_t nblk, capblk;
    size_t n;
};

/* A position: block and index within it. */
struct gw_order_pos {
    size_t b, i;
};

void gw_order_init(struct gw_order *o);
void gw_order_free(struct gw_order *o);
/* 0 or -ENOMEM. The (updated_ms, khash) pair must not already be present. */
DAI_MUST_CHECK int gw_order_insert(struct gw_order *o, const struct gw_ent *e);
/* 0 or DAI_ENOTFOUND. */
int gw_order_remove(struct gw_order *o, int64_t updated_ms, uint64_t khash);
/* First position strictly after (ms, hash) in order; with after == false,
 * the very first position. */
struct gw_order_pos gw_order_seek(const struct gw_order *o, bool after, int64_t ms,
                                  uint64_t hash);
/* Entry at pos or NULL at the end; gw_order_next advances. */
const struct gw_ent *gw_order_at(const struct gw_order *o, struct gw_order_pos p);
struct gw_order_pos gw_order_next(const struct gw_order *o, struct gw_order_pos p);
/* The entry k places after pos within pos's block, or NULL (for prefetching). */
const struct gw_ent *gw_order_peek(const struct gw_order *o, struct gw_order_pos p, size_t k);
/* The oldest entry, or NULL when empty. */
const struct gw_ent *gw_order_last(const struct gw_order *o);

#endif
