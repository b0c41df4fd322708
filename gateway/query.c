/* GET /api/issues parameters: each query-string argument is validated into a
 * struct gw_query (unknown names and bad values are errors, never ignored),
 * and list positions travel as opaque cursors — base64url of a version byte,
 * the position (updated_ms, key hash) and a check value. */
#include "query.h"

#include "text.h"

#include <dispatchai/hash.h>

#include <stdio.h>
#include <string.h>

void gw_query_init(struct gw_query *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = GW_LIMIT_DEFAULT;
}

void gw_query_clear(struct gw_query *q)
{
    gw_match_clear(&q->m);
    gw_query_init(q);
}

static int parse_since(const char *v, int64_t *out)
{
    uint64_t n;

    if (gw_parse_u64(v, strlen(v), &n) == 0) {
        if (n > (uint64_t)INT64_MAX)
            return DAI_EPARSE;
        *out = (int64_t)n;
        return 0;
    }
    return gw_parse_time_ms(v, out);
}

int gw_query_arg(struct gw_query *q, const char *name, const char *value, char *err,
                 size_t errlen)
{
    static const struct {
        const char *name;
        enum gw_field f;
    } fields[] = {
        {"repo", GW_F_REPO},   {"category", GW_F_CATEGORY}, {"priority", GW_F_PRIORITY},
        {"state", GW_F_STATE}, {"type", GW_F_TYPE},         {"assignee", GW_F_TEAM},
    };
    size_t vlen;

    if (!value)
        value = "";
    vlen = strlen(value);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(name, fields[i].name) == 0)
            return gw_match_add_csv(&q->m, fields[i].f, value, err, errlen);
    if (strcmp(name, "q") == 0) {
        if (vlen == 0 || vlen > GW_MAX_Q) {
            snprintf(err, errlen, "q: must be 1 to %d bytes", GW_MAX_Q);
            return DAI_EINVAL;
        }
        gw_lower(value, vlen, q->q);
        q->q[vlen] = '\0';
        q->qlen = vlen;
        gw_bigram_sig(q->q, vlen, q->qsig);
        return 0;
    }
    if (strcmp(name, "since") == 0) {
        if (parse_since(value, &q->since_ms)) {
            snprintf(err, errlen, "since: expected an RFC 3339 timestamp or Unix milliseconds");
            return DAI_EINVAL;
        }
        q->has_since = true;
        return 0;
    }
    if (strcmp(name, "limit") == 0) {
        uint64_t n;

        if (gw_parse_u64(value, vlen, &n) || n < 1 || n > GW_LIMIT_MAX) {
            snprintf(err, errlen, "limit: expected an integer from 1 to %d", GW_LIMIT_MAX);
            return DAI_EINVAL;
        }
        q->limit = (unsigned)n;
        return 0;
    }
    if (strcmp(name, "cursor") == 0) {
        if (gw_cursor_decode(value, &q->cur_ms, &q->cur_hash)) {
            snprintf(err, errlen, "cursor: not a cursor returned by this API");
            return DAI_EINVAL;
        }
        q->has_cursor = true;
        return 0;
    }
    snprintf(err, errlen, "unknown query parameter \"%.40s\"", name);
    return DAI_EINVAL;
}

/* ---- cursors --------------------------------------------------------------- */

#define CURSOR_VERSION 1
#define CURSOR_RAW 21

static uint32_t cursor_check(const unsigned char *raw)
{
    /* Not a secret: it only tells a mangled cursor from a real one. */
    return (uint32_t)(dai_fnv64(DAI_FNV64_BASIS, raw, 17) >> 17) ^ 0x6a09e667u;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void gw_cursor_encode(int64_t ms, uint64_t hash, char out[GW_CURSOR_MAX])
{
    unsigned char raw[CURSOR_RAW];
    uint32_t chk;

    raw[0] = CURSOR_VERSION;
    put64(raw + 1, (uint64_t)ms);
    put64(raw + 9, hash);
    chk = cursor_check(raw);
    raw[17] = (unsigned char)(chk >> 24);
    raw[18] = (unsigned char)(chk >> 16);
    raw[19] = (unsigned char)(chk >> 8);
    raw[20] = (unsigned char)chk;
    gw_b64url_encode(raw, sizeof(raw), out);
}

int gw_cursor_decode(const char *s, int64_t *ms, uint64_t *hash)
{
    unsigned char raw[CURSOR_RAW + 1];
    size_t n = strlen(s);
    uint32_t chk;
    int len;

    if (n == 0 || n >= GW_CURSOR_MAX)
        return DAI_EPARSE;
    len = gw_b64url_decode(s, n, raw, sizeof(raw));
    if (len != CURSOR_RAW || raw[0] != CURSOR_VERSION)
        return DAI_EPARSE;
    chk = (uint32_t)raw[17] << 24 | (uint32_t)raw[18] << 16 | (uint32_t)raw[19] << 8 | raw[20];
    if (chk != cursor_check(raw))
        return DAI_EPARSE;
    *ms = (int64_t)get64(raw + 1);
    *hash = get64(raw + 9);
    return 0;
}
