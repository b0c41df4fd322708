/* Messages WebSocket clients send (subscribe, ping), parsed from JSON text. Pure. */
#ifndef DISPATCHAI_GW_WSMSG_H
#define DISPATCHAI_GW_WSMSG_H

#include "match.h"

#include <dispatchai/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_wsmsg_type { GW_WSMSG_SUBSCRIBE = 0, GW_WSMSG_PING };

struct gw_wsmsg {
    enum gw_wsmsg_type type;
    struct gw_match filter;  /* subscribe */
    bool has_since;
    uint64_t since;
};

/* Parse one text message. 0, or DAI_EINVAL with a message for an error reply. */
DAI_MUST_CHECK int gw_wsmsg_parse(const char *data, size_t len, struct gw_wsmsg *out, char *err,
                                  size_t errlen);
void gw_wsmsg_clear(struct gw_wsmsg *m);

#endif
