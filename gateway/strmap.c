/* A string -> uint32 hash map with open addressing, linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short after many
 * removals). Keys are borrowed; the map stores their hash next to the pointer
 * so probing rarely touches key bytes. */
#include "strmap.h"

#include "text.h"

#include <stdbool.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gw_strmap_slot {
    const char *key; /* NULL = empty */
    uint64_t hash;
    uint32_t len;
    uint32_t val;
};

void gw_strmap_init(struct gw_strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void gw_strmap_free(struct gw_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static size_t find(const struct gw_strmap *m, const char *key, size_t len, uint64_t h, bool *hit)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;

    for (;;) {
        const struct gw_strmap_slot *s = &m->slots[i];

        if (!s->key) {
            *hit = false;
            return i;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            *hit = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

int gw_strmap_get(const struct gw_strmap *m, const char *key, size_t len, uint32_t *val)
{
    bool hit;
    size_t i;

    if (!m->cap)
        return DAI_ENOTFOUND;
    i = find(m, key, len, gw_hash64(key, len), &hit);
    if (!hit)
        return DAI_ENOTFOUND;
    *val = m->slots[i].val;
    return 0;
}

static int grow(struct gw_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct gw_strmap_slot *old = m->slots, *ns = calloc(ncap, sizeof(*ns));
    size_t ocap = m->cap;

    if (!ns)
        return -ENOMEM;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        bool hit;
        size_t j;

        if (!old[i].key)
            continue;
        j = find(m, old[i].key, old[i].len, old[i].hash, &hit);
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

int gw_strmap_put(struct gw_strmap *m, const char *key, size_t len, uint32_t val)
{
    uint64_t h = gw_hash64(key, len);
    bool hit;
    size_t i;

    if (len > UINT32_MAX)
        return DAI_EINVAL;
    /* Keep the load factor at or below 1/2: probe sequences stay short. */
    if ((m->n + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    i = find(m, key, len, h, &hit);
    if (!hit)
        m->n++;
    m->slots[i].key = key;
    m->slots[i].hash = h;
    m->slots[i].len = (uint32_t)len;
    m->slots[i].val = val;
    return 0;
}

int gw_strmap_del(struct gw_strmap *m, const char *key, size_t len)
{
    size_t mask, i, j;
    bool hit;

    if (!m->cap)
        return DAI_ENOTFOUND;
    mask = m->cap - 1;
    i = find(m, key, len, gw_hash64(key, len), &hit);
    if (!hit)
        return DAI_ENOTFOUND;
    /* Backward shift: move later members of the cluster into the hole when
     * their home slot is not between the hole and their current slot. */
    j = i;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        home = (size_t)m->slots[j].hash & mask;
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->n--;
    return 0;
}
