/* The issues in list order (newest first), as a sorted array cut into
 * blocks of at most BLK entries: insert and remove move at most one block's
 * entries, a seek is two binary searches, and a scan reads entries
 * sequentially. Entries carry the filter fields so scans do not chase
 * pointers. Not thread-safe; the store locks around it. */
#include "order.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLK 256

struct gw_order_blk {
    size_t n;
    struct gw_ent e[BLK];
};

/* a comes before b in list order. */
static inline bool before(int64_t ams, uint64_t ah, int64_t bms, uint64_t bh)
{
    return ams > bms || (ams == bms && ah > bh);
}

void gw_order_init(struct gw_order *o)
{
    memset(o, 0, sizeof(*o));
}

void gw_order_free(struct gw_order *o)
{
    for (size_t i = 0; i < o->nblk; i++)
        free(o->blk[i]);
    free(o->blk);
    memset(o, 0, sizeof(*o));
}

/* Index of the first block whose last entry is not before (ms, h), i.e. the
 * block that holds or should hold (ms, h); nblk if it goes after all. */
static size_t find_block(const struct gw_order *o, int64_t ms, uint64_t h)
{
    size_t lo = 0, hi = o->nblk;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct gw_order_blk *b = o->blk[mid];
        const struct gw_ent *last = &b->e[b->n - 1];

        if (before(last->updated_ms, last->khash, ms, h))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index in block b whose entry is not before (ms, h). */
static size_t find_in(const struct gw_order_blk *b, int64_t ms, uint64_t h)
{
    size_t lo = 0, hi = b->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (before(b->e[mid].updated_ms, b->e[mid].khash, ms, h))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int insert_block(struct gw_order *o, size_t at, struct gw_order_blk *b)
{
    if (o->nblk == o->capblk) {
        size_t ncap = o->capblk ? o->capblk * 2 : 16;
        struct gw_order_blk **nb = realloc(o->blk, ncap * sizeof(*nb));

        if (!nb)
            return -ENOMEM;
        o->blk = nb;
        o->capblk = ncap;
    }
    memmove(&o->blk[at + 1], &o->blk[at], (o->nblk - at) * sizeof(*o->blk));
    o->blk[at] = b;
    o->nblk++;
    return 0;
}

int gw_order_insert(struct gw_order *o, const struct gw_ent *e)
{
    size_t bi, i;
    struct gw_order_blk *b;

    if (o->nblk == 0) {
        /* The first entry: a block of one (find_block needs non-empty blocks). */
        b = malloc(sizeof(*b));
        if (!b)
            return -ENOMEM;
        b->n = 1;
        b->e[0] = *e;
        if (insert_block(o, 0, b)) {
            free(b);
            return -ENOMEM;
        }
        o->n++;
        return 0;
    }
    bi = find_block(o, e->updated_ms, e->khash);
    if (bi == o->nblk)
        bi--; /* after everything: append to the last block */
    b = o->blk[bi];
    if (b->n == BLK) {
        /* Split in halves; the new block takes the upper half. */
        struct gw_order_blk *nb = malloc(sizeof(*nb));

        if (!nb)
            return -ENOMEM;
        nb->n = BLK / 2;
        memcpy(nb->e, &b->e[BLK / 2], (BLK / 2) * sizeof(b->e[0]));
        if (insert_block(o, bi + 1, nb)) {
            free(nb);
            return -ENOMEM;
        }
        b->n = BLK / 2;
        if (!before(e->updated_ms, e->khash, nb->e[0].updated_ms, nb->e[0].khash))
            b = nb;
    }
    i = find_in(b, e->updated_ms, e->khash);
    memmove(&b->e[i + 1], &b->e[i], (b->n - i) * sizeof(b->e[0]));
    b->e[i] = *e;
    b->n++;
    o->n++;
    return 0;
}

int gw_order_remove(struct gw_order *o, int64_t ms, uint64_t h)
{
    size_t bi = find_block(o, ms, h), i;
    struct gw_order_blk *b;

    if (bi == o->nblk)
        return DAI_ENOTFOUND;
    b = o->blk[bi];
    i = find_in(b, ms, h);
    if (i == b->n || b->e[i].updated_ms != ms || b->e[i].khash != h)
        return DAI_ENOTFOUND;
    memmove(&b->e[i], &b->e[i + 1], (b->n - i - 1) * sizeof(b->e[0]));
    b->n--;
    o->n--;
    if (b->n == 0) {
        free(b);
        memmove(&o->blk[bi], &o->blk[bi + 1], (o->nblk - bi - 1) * sizeof(*o->blk));
        o->nblk--;
    } else if (bi + 1 < o->nblk && b->n + o->blk[bi + 1]->n <= BLK / 2) {
        /* Merge small neighbours so a churned index does not fragment. */
        struct gw_order_blk *nx = o->blk[bi + 1];

        memcpy(&b->e[b->n], nx->e, nx->n * sizeof(nx->e[0]));
        b->n += nx->n;
        free(nx);
        memmove(&o->blk[bi + 1], &o->blk[bi + 2], (o->nblk - bi - 2) * sizeof(*o->blk));
        o->nblk--;
    }
    return 0;
}

static struct gw_order_pos normalise(const struct gw_order *o, struct gw_order_pos p)
{
    while (p.b < o->nblk && p.i >= o->blk[p.b]->n) {
        p.b++;
        p.i = 0;
    }
    return p;
}

struct gw_order_pos gw_order_seek(const struct gw_order *o, bool after, int64_t ms, uint64_t h)
{
    struct gw_order_pos p = {0, 0};

    if (after && o->nblk) {
        p.b = find_block(o, ms, h);
        if (p.b < o->nblk) {
            const struct gw_order_blk *b = o->blk[p.b];

            p.i = find_in(b, ms, h);
            if (p.i < b->n && b->e[p.i].updated_ms == ms && b->e[p.i].khash == h)
                p.i++; /* strictly after */
        }
    }
    return normalise(o, p);
}

const struct gw_ent *gw_order_at(const struct gw_order *o, struct gw_order_pos p)
{
    if (p.b >= o->nblk)
        return NULL;
    return &o->blk[p.b]->e[p.i];
}

struct gw_order_pos gw_order_next(const struct gw_order *o, struct gw_order_pos p)
{
    p.i++;
    return normalise(o, p);
}

const struct gw_ent *gw_order_peek(const struct gw_order *o, struct gw_order_pos p, size_t k)
{
    if (p.b >= o->nblk || p.i + k >= o->blk[p.b]->n)
        return NULL;
    return &o->blk[p.b]->e[p.i + k];
}

const struct gw_ent *gw_order_last(const struct gw_order *o)
{
    if (!o->nblk)
        return NULL;
    return &o->blk[o->nblk - 1]->e[o->blk[o->nblk - 1]->n - 1];
}
