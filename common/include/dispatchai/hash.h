/* Hashing, of two kinds that must not be mixed up:
 *  - seeded: XXH3 under this process's random seed, for in-memory tables
 *    whose keys come from outside (map.h uses it). An outsider cannot
 *    compute where a key lands, so cannot send keys that all collide. The
 *    value differs from run to run: never store it or send it anywhere.
 *  - stable: FNV-1a 64, the same in every process and every version, for
 *    values that are stored or sent -- cursors, the text hash in Kafka
 *    headers, the offline model's feature ids. Never index a table of
 *    outside keys with it.
 * A leaf: depends on the C library and libxxhash only. */
#ifndef DISPATCHAI_HASH_H
#define DISPATCHAI_HASH_H

#include <stddef.h>
#include <stdint.h>

/* This process's seed: random (getrandom), fixed for the process's life. */
uint64_t dai_hash_seed(void);
/* Seeded XXH3 of n bytes. */
uint64_t dai_hash64(const void *p, size_t n);
/* A key of several parts: start with h = dai_hash_seed() and feed each part
 * in turn (h = dai_hash64_more(h, part, len)); part boundaries count, so
 * ("ab", "c") and ("a", "bc") hash differently. */
uint64_t dai_hash64_more(uint64_t h, const void *p, size_t n);

#define DAI_FNV64_BASIS 0xcbf29ce484222325ULL
#define DAI_FNV64_PRIME 0x100000001b3ULL

/* Stable FNV-1a 64: one more byte into h (start from DAI_FNV64_BASIS). */
static inline uint64_t dai_fnv64_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * DAI_FNV64_PRIME;
}
/* Stable FNV-1a 64 of n more bytes into h (start from DAI_FNV64_BASIS). */
uint64_t dai_fnv64(uint64_t h, const void *p, size_t n);

#endif
