/* Messages WebSocket clients send: {"type":"subscribe","filter":{...},
 * "since":N} and {"type":"ping"}. Parsing is strict — unknown types, fields
 * or filter values are reported back to the client as errors rather than
 * silently ignored. */
#include "wsmsg.h"

#include <dispatchai/json.h>

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    enum gw_field f;
} filter_keys[] = {
    {"repos", GW_F_REPO},   {"categories", GW_F_CATEGORY}, {"priorities", GW_F_PRIORITY},
    {"states", GW_F_STATE}, {"types", GW_F_TYPE},          {"assignees", GW_F_TEAM},
};

static int parse_filter(const json_t *f, struct gw_match *m, char *err, size_t errlen)
{
    const char *key;
    const json_t *v;

    if (!f || json_is_null(f))
        return 0; /* no filter = everything */
    if (!json_is_object(f)) {
        snprintf(err, errlen, "filter: must be an object");
        return DAI_EINVAL;
    }
    json_object_foreach((json_t *)f, key, v) {
        int field = -1;
        size_t i;
        const json_t *item;

        for (i = 0; i < sizeof(filter_keys) / sizeof(filter_keys[0]); i++)
            if (strcmp(key, filter_keys[i].name) == 0)
                field = (int)filter_keys[i].f;
        if (field < 0) {
            snprintf(err, errlen, "filter: unknown field \"%.40s\" (repos, categories, "
                     "priorities, states, types, assignees)", key);
            return DAI_EINVAL;
        }
        if (!json_is_array(v)) {
            snprintf(err, errlen, "filter.%s: must be an array of strings", key);
            return DAI_EINVAL;
        }
        json_array_foreach(v, i, item) {
            int rc;

            if (!json_is_string(item)) {
                snprintf(err, errlen, "filter.%s[%zu]: must be a string", key, i);
                return DAI_EINVAL;
            }
            rc = gw_match_add(m, (enum gw_field)field, json_string_value(item),
                              json_string_length(item), err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int gw_wsmsg_parse(const char *data, size_t len, struct gw_wsmsg *out, char *err, size_t errlen)
{
    json_t *msg;
    const char *type, *key;
    const json_t *v;
    int rc = DAI_EINVAL;

    memset(out, 0, sizeof(*out));
    msg = dai_json_parse(data, len, err, errlen);
    if (!msg)
        return DAI_EINVAL;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "message: must be a JSON object");
        goto out;
    }
    type = dai_json_str(msg, "type", NULL);
    if (!type) {
        snprintf(err, errlen, "type: missing or not a string");
        goto out;
    }
    if (strcmp(type, "ping") == 0) {
        out->type = GW_WSMSG_PING;
        rc = 0;
        goto out;
    }
    if (strcmp(type, "subscribe") != 0) {
        snprintf(err, errlen, "type: \"%.40s\" is not subscribe or ping", type);
        goto out;
    }
    out->type = GW_WSMSG_SUBSCRIBE;
    json_object_foreach(msg, key, v) {
        if (strcmp(key, "type") && strcmp(key, "filter") && strcmp(key, "since")) {
            snprintf(err, errlen, "subscribe: unknown field \"%.40s\"", key);
            goto out;
        }
    }
    v = json_object_get(msg, "since");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(err, errlen, "since: must be a non-negative integer");
            goto out;
        }
        out->has_since = true;
        out->since = (uint64_t)json_integer_value(v);
    }
    rc = parse_filter(json_object_get(msg, "filter"), &out->filter, err, errlen);
out:
    if (rc)
        gw_match_clear(&out->filter);
    json_decref(msg);
    return rc;
}

void gw_wsmsg_clear(struct gw_wsmsg *m)
{
    gw_match_clear(&m->filter);
}
