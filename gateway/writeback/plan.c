/* What write-back writes: the labels a classification calls for, which of
 * them a person has the last word on, and the diff against the issue's
 * labels on GitHub — adds with POST only, removals only of labels our bot
 * added. Also the checks of the write-back settings and the mapping of a
 * person's label to a correction. Pure: no sockets, no clock. */
#include "writeback.h"

#include <dispatchai/json.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

int gw_wb_config_check(struct gw_wb_config *c, char *err, size_t errlen)
{
    if (!c->mode || strcmp(c->mode, "off") == 0) {
        c->parsed_mode = GW_WB_OFF;
    } else if (strcmp(c->mode, "dry-run") == 0) {
        c->parsed_mode = GW_WB_DRY_RUN;
    } else if (strcmp(c->mode, "on") == 0) {
        c->parsed_mode = GW_WB_ON;
    } else {
        snprintf(err, errlen, "github.writeback (GITHUB_WRITEBACK) must be off, dry-run or on, "
                 "not \"%.20s\"", c->mode);
        return DAI_ECONFIG;
    }
    for (int i = 0; i < DAI_CAT_COUNT; i++) {
        if (c->category_label[i] && strlen(c->category_label[i]) > 50) {
            snprintf(err, errlen, "github.labels.%s: GitHub label names have at most 50 "
                     "characters", dai_category_name((enum dai_category)i));
            return DAI_ECONFIG;
        }
    }
    if (!c->group || !c->group[0]) {
        snprintf(err, errlen, "github.writeback_group must not be empty");
        return DAI_ECONFIG;
    }
    if (!c->priority_prefix || strlen(c->priority_prefix) > 38) {
        snprintf(err, errlen, "github.priority_label_prefix: at most 38 characters");
        return DAI_ECONFIG;
    }
    if (c->parsed_mode != GW_WB_OFF && dai_github_auth_mode(&c->api) == DAI_GH_AUTH_NONE) {
        snprintf(err, errlen, "github.writeback is %s but no GitHub credentials are set: "
                 "GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY_FILE, or GITHUB_TOKEN", c->mode);
        return DAI_ECONFIG;
    }
    return 0;
}

static void set_add(struct gw_wb_set *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i], name) == 0)
            return;
    if (s->n < GW_WB_SET_MAX && strlen(name) <= GW_WB_LABEL_MAX)
        snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", name);
}

static bool set_has(const struct gw_wb_set *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i], name) == 0)
            return true;
    return false;
}

void gw_wb_desired(const struct gw_wb_config *c, const struct dai_classification *cls,
                   struct gw_wb_set *out)
{
    const char *cat = c->category_label[cls->category];

    out->n = 0;
    if (cat && cat[0])
        set_add(out, cat);
    if (c->priority_labels) {
        char l[GW_WB_LABEL_MAX + 1];
        snprintf(l, sizeof(l), "%s%s", c->priority_prefix, dai_priority_name(cls->priority));
        set_add(out, l);
    }
}

bool gw_wb_confident(const struct gw_wb_config *c, const struct dai_classification *cls)
{
    return cls->source == DAI_SRC_HUMAN || cls->confidence >= c->min_confidence;
}

int gw_wb_label_category(const struct gw_wb_config *c, const char *label)
{
    /* feature_request and enhancement share "enhancement" by default: a
     * label two categories name stands for the one listed first here. */
    static const enum dai_category order[] = {DAI_CAT_BUG, DAI_CAT_ENHANCEMENT,
                                              DAI_CAT_FEATURE_REQUEST, DAI_CAT_DOCUMENTATION,
                                              DAI_CAT_QUESTION, DAI_CAT_SECURITY};

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *l = c->category_label[order[i]];
        if (l && l[0] && strcasecmp(l, label) == 0)
            return (int)order[i];
    }
    return -1;
}

int gw_wb_label_priority(const struct gw_wb_config *c, const char *label)
{
    size_t n = strlen(c->priority_prefix);

    if (!c->priority_labels || strncasecmp(label, c->priority_prefix, n) != 0)
        return -1;
    for (int p = 0; p < DAI_PRIO_COUNT; p++)
        if (strcasecmp(label + n, dai_priority_name((enum dai_priority)p)) == 0)
            return p;
    return -1;
}

bool gw_wb_managed(const struct gw_wb_config *c, const char *label)
{
    return gw_wb_label_category(c, label) >= 0 || gw_wb_label_priority(c, label) >= 0;
}

static bool current_has(const char *const *cur, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(cur[i], name) == 0)
            return true;
    return false;
}

void gw_wb_plan(const struct gw_wb_config *c, const struct gw_wb_set *desired,
                const char *const *current, size_t n_current, const struct gw_wb_history *history,
                struct gw_wb_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    for (unsigned i = 0; i < desired->n; i++) {
        const struct gw_wb_touch *t;

        if (current_has(current, n_current, desired->v[i]))
            continue;
        if (!history) {
            plan->need_history = true;
            return;
        }
        /* A person took this label off: they have the last word. */
        t = gw_wb_history_find(history, desired->v[i]);
        if (t && !t->labeled && !t->by_bot) {
            plan->kept_removed_by_person++;
            continue;
        }
        set_add(&plan->add, desired->v[i]);
    }
    for (size_t i = 0; i < n_current; i++) {
        const struct gw_wb_touch *t;

        if (set_has(desired, current[i]) || !gw_wb_managed(c, current[i]))
            continue;
        if (!history) {
            plan->need_history = true;
            plan->add.n = 0;
            return;
        }
        /* Only what our bot put there, and nobody re-applied since. */
        t = gw_wb_history_find(history, current[i]);
        if (t && t->labeled && t->by_bot)
            set_add(&plan->remove, current[i]);
    }
}

size_t gw_wb_correction_for_label(const struct gw_wb_config *c, const char *label, char *out,
                                  size_t n)
{
    int cat = gw_wb_label_category(c, label), prio = gw_wb_label_priority(c, label);
    int len = 0;

    if (cat >= 0)
        len = snprintf(out, n, "{\"category\":\"%s\"}", dai_category_name((enum dai_category)cat));
    else if (prio >= 0)
        len = snprintf(out, n, "{\"priority\":\"%s\"}", dai_priority_name((enum dai_priority)prio));
    return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

int gw_wb_comment_render(const struct dai_classification *cls, struct dai_buf *b)
{
    int rc;

    dai_buf_reset(b);
    rc = dai_buf_appendf(b, GW_WB_COMMENT_MARKER "\n**DispatchAI triage**: %s, priority %s, "
                         "effort %s", dai_category_name(cls->category),
                         dai_priority_name(cls->priority), dai_effort_name(cls->effort));
    if (!rc && cls->suggested_assignee[0])
        rc = dai_buf_appendf(b, ", suggested team %s", cls->suggested_assignee);
    if (!rc && cls->source == DAI_SRC_HUMAN)
        rc = dai_buf_appendf(b, ".\n\nSet by a person (%s).",
                             cls->corrected_by[0] ? cls->corrected_by : "unknown");
    else if (!rc)
        rc = dai_buf_appendf(b, " (confidence %.2f, %s).", cls->confidence,
                             dai_source_name(cls->source));
    if (!rc && cls->source != DAI_SRC_HUMAN && cls->reasoning[0])
        rc = dai_buf_appendf(b, "\n\n> %s", cls->reasoning);
    return rc;
}

long long gw_wb_comment_find(const json_t *comments, const char *bot, const char **body)
{
    const json_t *c;
    size_t i;

    json_array_foreach(comments, i, c) {
        const char *who = dai_json_str(json_object_get(c, "user"), "login", "");
        const char *text = dai_json_str(c, "body", "");
        long long id = dai_json_int(c, "id", 0);

        if (id > 0 && strcasecmp(who, bot) == 0 && strstr(text, GW_WB_COMMENT_MARKER)) {
            *body = text;
            return id;
        }
    }
    return 0;
}
