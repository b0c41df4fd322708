/* GET /api/issues parameters (filters, q, since, limit) and the opaque
 * cursors of its pages. Pure. */
#ifndef DISPATCHAI_GW_QUERY_H
#define DISPATCHAI_GW_QUERY_H

#include "match.h"

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_LIMIT_DEFAULT 50
#define GW_LIMIT_MAX 500

struct gw_query {
    struct gw_match m;
    char q[GW_MAX_Q + 1]; /* lower-case title substring */
    size_t qlen;
    uint64_t qsig[2];
    bool has_since;
    int64_t since_ms;
    unsigned limit;
    bool has_cursor;
    int64_t cur_ms;
    uint64_t cur_hash;
};

void gw_query_init(struct gw_query *q);
void gw_query_clear(struct gw_query *q);
/* Apply one query-string argument. Unknown names, bad values, empty values
 * → DAI_EINVAL with a message. */
DAI_MUST_CHECK int gw_query_arg(struct gw_query *q, const char *name, const char *value,
                                char *err, size_t errlen);
/* Opaque cursor text for a position (out holds GW_CURSOR_MAX bytes). */
#define GW_CURSOR_MAX 48
void gw_cursor_encode(int64_t ms, uint64_t hash, char out[GW_CURSOR_MAX]);
DAI_MUST_CHECK int gw_cursor_decode(const char *s, int64_t *ms, uint64_t *hash);

#endif
