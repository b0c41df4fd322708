/* Filters shared by REST list queries and WebSocket subscriptions: value
 * sets per field, parsed from requests, tested against one issue's selectors.
 * Pure; a struct gw_match belongs to one thread at a time. */
#ifndef DISPATCHAI_GW_MATCH_H
#define DISPATCHAI_GW_MATCH_H

#include <dispatchai/err.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_state { GW_STATE_OPEN = 0, GW_STATE_CLOSED, GW_STATE_OTHER, GW_STATE_COUNT };
enum gw_type { GW_TYPE_ISSUE = 0, GW_TYPE_PR, GW_TYPE_COUNT };

#define GW_MAX_VALUES 32   /* values per filter field */
#define GW_MAX_VALUE_LEN 200
#define GW_MAX_Q 256

struct gw_strset {
    char *v[GW_MAX_VALUES]; /* new, lower-case */
    unsigned n;
};

/* Bitmasks: bit i set = enum value i accepted; 0 = any. String sets: empty = any. */
struct gw_match {
    uint32_t categories, priorities, states, types;
    struct gw_strset repos, teams;
};

enum gw_field {
    GW_F_REPO = 0,
    GW_F_CATEGORY,
    GW_F_PRIORITY,
    GW_F_STATE,
    GW_F_TYPE,
    GW_F_TEAM,
    GW_F_COUNT
};

/* What filters look at for one issue (strings lower-case, borrowed). */
struct gw_sel {
    const char *repo;
    const char *team; /* "" = none */
    int category, priority, state, type;
};

/* Add one value to a field (already URL-/JSON-decoded). 0 or DAI_EINVAL with
 * a message in err naming the field and value. */
DAI_MUST_CHECK int gw_match_add(struct gw_match *m, enum gw_field f, const char *val,
                                size_t len, char *err, size_t errlen);
/* Split a comma-separated list and add each item (empty items rejected). */
DAI_MUST_CHECK int gw_match_add_csv(struct gw_match *m, enum gw_field f, const char *csv,
                                    char *err, size_t errlen);
bool gw_match_empty(const struct gw_match *m);
bool gw_match_sel(const struct gw_match *m, const struct gw_sel *s);
void gw_match_clear(struct gw_match *m);
/* New JSON object describing the filter ({"repos":[...],...}); NULL on OOM. */
json_t *gw_match_to_json(const struct gw_match *m);
const char *gw_state_name(int s);
const char *gw_type_name(int t);
/* Parse a value a client may filter by into *out; 0, or DAI_EINVAL (then
 * *out is untouched). "other" is not a state a client can ask for. */
DAI_MUST_CHECK int gw_state_parse(const char *s, enum gw_state *out);
DAI_MUST_CHECK int gw_type_parse(const char *s, enum gw_type *out);

#endif
