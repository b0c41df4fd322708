/* Fuzz the gateway's client input: query-string arguments of GET /api/issues
 * (including the opaque cursor) and WebSocket client messages. The input's
 * first byte picks which; the oracle for cursors is the round trip: a cursor
 * that decodes re-encodes to one that decodes to the same position. */
#include "../../gateway/query.h"
#include "../../gateway/wsmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_query(const char *s, size_t n)
{
    struct gw_query q;
    char err[256], *copy = malloc(n + 1), *save = NULL, *arg;

    if (!copy)
        return;
    memcpy(copy, s, n);
    copy[n] = '\0';
    gw_query_init(&q);
    /* name=value pairs separated by '&', as MHD would hand them over (decoded). */
    for (arg = strtok_r(copy, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(arg, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (gw_query_arg(&q, arg, eq + 1, err, sizeof(err)) != 0)
            break;
    }
    gw_query_clear(&q);
    free(copy);
}

static void fuzz_cursor(const char *s, size_t n)
{
    char text[GW_CURSOR_MAX * 2], again[GW_CURSOR_MAX];
    int64_t ms, ms2;
    uint64_t hash, hash2;

    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    memcpy(text, s, n);
    text[n] = '\0';
    if (gw_cursor_decode(text, &ms, &hash) != 0)
        return;
    gw_cursor_encode(ms, hash, again);
    if (gw_cursor_decode(again, &ms2, &hash2) != 0 || ms2 != ms || hash2 != hash)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_wsmsg m;
    char err[256];

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_query((const char *)data + 1, size - 1);
        break;
    case 1:
        fuzz_cursor((const char *)data + 1, size - 1);
        break;
    default:
        memset(&m, 0, sizeof(m));
        if (gw_wsmsg_parse((const char *)data + 1, size - 1, &m, err, sizeof(err)) == 0)
            gw_wsmsg_clear(&m);
        break;
    }
    return 0;
}
