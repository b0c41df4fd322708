/* Filters shared by REST queries and WebSocket subscriptions: values are
 * validated against the enums (category, priority, state, type) or kept as
 * lower-case strings (repositories, teams); matching is OR within a field and
 * AND across fields. The store resolves string sets to ids for fast scans. */
#include "match.h"

#include "text.h"

#include <dispatchai/events.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[GW_STATE_COUNT] = {"open", "closed", "other"};
static const char *const type_names[GW_TYPE_COUNT] = {"issue", "pull_request"};
static const char *const field_names[GW_F_COUNT] = {"repo",  "category", "priority",
                                                    "state", "type",     "assignee"};

const char *gw_state_name(int s)
{
    return (s >= 0 && s < GW_STATE_COUNT) ? state_names[s] : "other";
}

const char *gw_type_name(int t)
{
    return (t >= 0 && t < GW_TYPE_COUNT) ? type_names[t] : "issue";
}

int gw_state_parse(const char *s, enum gw_state *out)
{
    /* "other" is what the store files unknown states under; it is not a
     * state a client can ask for. */
    for (int i = 0; i < GW_STATE_OTHER; i++)
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum gw_state)i;
            return 0;
        }
    return DAI_EINVAL;
}

int gw_type_parse(const char *s, enum gw_type *out)
{
    for (int i = 0; i < GW_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum gw_type)i;
            return 0;
        }
    return DAI_EINVAL;
}

static int add_str(struct gw_strset *set, const char *val, size_t len, const char *field,
                   char *err, size_t errlen)
{
    char *v;

    if (len > GW_MAX_VALUE_LEN) {
        snprintf(err, errlen, "%s: value longer than %d bytes", field, GW_MAX_VALUE_LEN);
        return DAI_EINVAL;
    }
    for (unsigned i = 0; i < set->n; i++)
        if (strlen(set->v[i]) == len && strncasecmp(set->v[i], val, len) == 0)
            return 0; /* duplicate */
    if (set->n == GW_MAX_VALUES) {
        snprintf(err, errlen, "%s: more than %d values", field, GW_MAX_VALUES);
        return DAI_EINVAL;
    }
    v = malloc(len + 1);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    gw_lower(val, len, v);
    v[len] = '\0';
    set->v[set->n++] = v;
    return 0;
}

int gw_match_add(struct gw_match *m, enum gw_field f, const char *val, size_t len, char *err,
                 size_t errlen)
{
    char tmp[48];
    int rc = DAI_EINVAL;
    unsigned bit = 0;
    uint32_t *mask = NULL;

    if ((unsigned)f >= GW_F_COUNT) {
        snprintf(err, errlen, "unknown filter field");
        return DAI_EINVAL;
    }
    if (len == 0) {
        snprintf(err, errlen, "%s: empty value", field_names[f]);
        return DAI_EINVAL;
    }
    if (memchr(val, '\0', len)) {
        snprintf(err, errlen, "%s: value contains a NUL byte", field_names[f]);
        return DAI_EINVAL;
    }
    if (f == GW_F_REPO)
        return add_str(&m->repos, val, len, field_names[f], err, errlen);
    if (f == GW_F_TEAM)
        return add_str(&m->teams, val, len, field_names[f], err, errlen);
    if (len < sizeof(tmp)) {
        memcpy(tmp, val, len);
        tmp[len] = '\0';
        switch (f) {
        case GW_F_CATEGORY: {
            enum dai_category v = 0;

            rc = dai_category_parse(tmp, &v);
            bit = (unsigned)v;
            mask = &m->categories;
            break;
        }
        case GW_F_PRIORITY: {
            enum dai_priority v = 0;

            rc = dai_priority_parse(tmp, &v);
            bit = (unsigned)v;
            mask = &m->priorities;
            break;
        }
        case GW_F_STATE: {
            enum gw_state v = 0;

            rc = gw_state_parse(tmp, &v);
            bit = (unsigned)v;
            mask = &m->states;
            break;
        }
        case GW_F_TYPE: {
            enum gw_type v = 0;

            rc = gw_type_parse(tmp, &v);
            bit = (unsigned)v;
            mask = &m->types;
            break;
        }
        default: break;
        }
    }
    if (rc || !mask) {
        snprintf(err, errlen, "%s: \"%.*s\" is not an allowed value", field_names[f],
                 (int)(len > 40 ? 40 : len), val);
        return DAI_EINVAL;
    }
    *mask |= 1u << bit;
    return 0;
}

int gw_match_add_csv(struct gw_match *m, enum gw_field f, const char *csv, char *err,
                     size_t errlen)
{
    const char *p = csv;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = gw_match_add(m, f, p, len, err, errlen);

        if (rc)
            return rc;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

bool gw_match_empty(const struct gw_match *m)
{
    return !m->categories && !m->priorities && !m->states && !m->types && !m->repos.n &&
           !m->teams.n;
}

static bool in_set(const struct gw_strset *set, const char *s)
{
    if (!set->n)
        return true;
    for (unsigned i = 0; i < set->n; i++)
        if (strcmp(set->v[i], s) == 0 || (!s[0] && strcmp(set->v[i], "none") == 0))
            return true;
    return false;
}

static bool in_mask(uint32_t mask, int v)
{
    return !mask || (v >= 0 && v < 32 && (mask & (1u << v)));
}

bool gw_match_sel(const struct gw_match *m, const struct gw_sel *s)
{
    return in_mask(m->categories, s->category) && in_mask(m->priorities, s->priority) &&
           in_mask(m->states, s->state) && in_mask(m->types, s->type) &&
           in_set(&m->repos, s->repo ? s->repo : "") && in_set(&m->teams, s->team ? s->team : "");
}

static void clear_set(struct gw_strset *set)
{
    for (unsigned i = 0; i < set->n; i++)
        free(set->v[i]);
    set->n = 0;
}

void gw_match_clear(struct gw_match *m)
{
    clear_set(&m->repos);
    clear_set(&m->teams);
    memset(m, 0, sizeof(*m));
}

static int put_mask(json_t *o, const char *key, uint32_t mask, int n, const char *(*name)(int))
{
    json_t *a = json_array();

    if (!a)
        return -1;
    for (int i = 0; i < n; i++)
        if (mask & (1u << i))
            if (json_array_append_new(a, json_string(name(i)))) {
                json_decref(a);
                return -1;
            }
    return json_object_set_new(o, key, a);
}

static int put_set(json_t *o, const char *key, const struct gw_strset *set)
{
    json_t *a = json_array();

    if (!a)
        return -1;
    for (unsigned i = 0; i < set->n; i++)
        if (json_array_append_new(a, json_string(set->v[i]))) {
            json_decref(a);
            return -1;
        }
    return json_object_set_new(o, key, a);
}

static const char *cat_name(int i)
{
    return dai_category_name((enum dai_category)i);
}

static const char *prio_name(int i)
{
    return dai_priority_name((enum dai_priority)i);
}

json_t *gw_match_to_json(const struct gw_match *m)
{
    json_t *o = json_object();
    int rc = 0;

    if (!o)
        return NULL;
    rc |= put_set(o, "repos", &m->repos);
    rc |= put_mask(o, "categories", m->categories, DAI_CAT_COUNT, cat_name);
    rc |= put_mask(o, "priorities", m->priorities, DAI_PRIO_COUNT, prio_name);
    rc |= put_mask(o, "states", m->states, GW_STATE_OTHER, gw_state_name);
    rc |= put_mask(o, "types", m->types, GW_TYPE_COUNT, gw_type_name);
    rc |= put_set(o, "assignees", &m->teams);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}
