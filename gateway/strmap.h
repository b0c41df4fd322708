/* String -> uint32 open-addressing map: the store's key, repository and
 * team indexes. Not thread-safe; the store's lock covers it. */
#ifndef DISPATCHAI_GW_STRMAP_H
#define DISPATCHAI_GW_STRMAP_H

#include <dispatchai/err.h>

#include <stddef.h>
#include <stdint.h>

struct gw_strmap_slot;
struct gw_strmap {
    struct gw_strmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

/* Keys are borrowed: the caller keeps each key's bytes alive and unchanged
 * while it is in the map (the store points at its own copies). */
void gw_strmap_init(struct gw_strmap *m);
void gw_strmap_free(struct gw_strmap *m);
/* 0 and *val, or DAI_ENOTFOUND. */
DAI_MUST_CHECK int gw_strmap_get(const struct gw_strmap *m, const char *key, size_t len,
                                 uint32_t *val);
/* Insert or replace; 0 or -ENOMEM. */
DAI_MUST_CHECK int gw_strmap_put(struct gw_strmap *m, const char *key, size_t len, uint32_t val);
/* 0 or DAI_ENOTFOUND. */
int gw_strmap_del(struct gw_strmap *m, const char *key, size_t len);

#endif
