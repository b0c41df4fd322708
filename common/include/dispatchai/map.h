/* A hash map from byte-string keys to 64-bit values (or pointers), with the
 * seeded hash of hash.h so keys chosen from outside cannot be made to collide.
 *
 * Open addressing with linear probing at a load factor of at most 1/2, and
 * backward-shift deletion: a removal moves the rest of its cluster back
 * instead of leaving a tombstone, so lookups stay short after any number of
 * removals. Each slot keeps the key's full hash, so probing compares key
 * bytes only on a hash match, and growing never rehashes a key.
 *
 * Keys are borrowed: the caller keeps each key's bytes alive and unchanged
 * while it is in the map (typically the key lives in the value it maps to).
 * No allocation happens on put except when the table doubles; reserve()
 * sizes it up front. Not thread-safe: the caller serialises access.
 *
 * Depends on the C library, libxxhash, hash.h and the result codes only. */
#ifndef DISPATCHAI_MAP_H
#define DISPATCHAI_MAP_H

#include <dispatchai/err.h>
#include <dispatchai/hash.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dai_map_slot;
struct dai_map {
    struct dai_map_slot *slots;
    size_t cap; /* power of two, or 0 before the first put */
    size_t n;   /* keys in the map */
    uint64_t seed;
};

/* An empty map hashing with the process seed; allocates nothing. */
void dai_map_init(struct dai_map *m);
/* The same with a seed of the caller's choice (tests of the placement). */
void dai_map_init_seeded(struct dai_map *m, uint64_t seed);
/* Frees the table (not the keys or the values); m is empty and usable again. */
void dai_map_free(struct dai_map *m);
/* Size the table so that n keys in all fit without growing. 0 or -ENOMEM. */
DAI_MUST_CHECK int dai_map_reserve(struct dai_map *m, size_t n);

/* Insert key -> val, or replace the value of a key already present (the
 * stored key pointer then becomes this one). 0, -ENOMEM or DAI_EINVAL (no
 * key pointer, or a key of 4 GiB or more). */
DAI_MUST_CHECK int dai_map_put(struct dai_map *m, const void *key, size_t len, uint64_t val);
/* 0 and *val (when val is not NULL), or DAI_ENOTFOUND. */
DAI_MUST_CHECK int dai_map_get(const struct dai_map *m, const void *key, size_t len,
                               uint64_t *val);
/* Remove key. 0 or DAI_ENOTFOUND. */
int dai_map_del(struct dai_map *m, const void *key, size_t len);

/* Pointer values: the same map with the value as a pointer (borrowed; the
 * map never frees it). get_ptr returns NULL when the key is absent. */
DAI_MUST_CHECK int dai_map_put_ptr(struct dai_map *m, const void *key, size_t len, void *val);
void *dai_map_get_ptr(const struct dai_map *m, const void *key, size_t len);

/* Visit every key: start with *pos = 0; each call that returns true fills
 * the outputs (any may be NULL) and advances *pos. The order is the table's,
 * not the insertion order. The map must not change during a walk. */
bool dai_map_next(const struct dai_map *m, size_t *pos, const void **key, size_t *len,
                  uint64_t *val);

/* Where key's probe sequence starts in a table of cap slots (cap a power of
 * two) under m's seed: exposed so a test can show two seeds place keys
 * differently. */
size_t dai_map_home(const struct dai_map *m, const void *key, size_t len, size_t cap);

#endif
