/* Pass 1 of the configuration loader: find and read the libconfig file and
 * walk it, setting options, pass-through properties, and skipping the
 * structured sections the daemon reads itself (config_sections.c). */
#include "config_loader.h"

#include <dispatchai/log.h>

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *where_of(const struct loader *ld, const config_setting_t *s)
{
    const char *file = config_setting_source_file(s);

    return dai__config_xasprintf("%s:%u", file ? file : ld->path,
                                 (unsigned)config_setting_source_line(s));
}

/* Text form of a scalar setting; new string or NULL if not a scalar. */
static char *scalar_text(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: return strdup(config_setting_get_string(s));
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return dai__config_xasprintf("%lld", config_setting_get_int64(s));
    case CONFIG_TYPE_FLOAT: return dai__config_xasprintf("%.17g", config_setting_get_float(s));
    case CONFIG_TYPE_BOOL: return strdup(config_setting_get_bool(s) ? "true" : "false");
    default: return NULL;
    }
}

static int file_strlist(struct loader *ld, size_t idx, const config_setting_t *s,
                        const char *where)
{
    const struct dai_opt *o = &ld->spec->opts[idx];
    struct dai_strlist l = { 0 };
    int n = config_setting_length(s), rc;
    char *raw;

    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(s, i);

        if (!v) {
            dai_strlist_free(&l);
            return dai__config_fail(ld, where, o->key, "expected a list of strings");
        }
        if (dai_strlist_push(&l, v, strlen(v))) {
            dai_strlist_free(&l);
            return dai__config_fail(ld, where, o->key, "out of memory");
        }
    }
    dai_strlist_free((struct dai_strlist *)config_field(ld, o));
    *(struct dai_strlist *)config_field(ld, o) = l;
    for (size_t i = 0; (o->flags & DAI_OPT_SECRET) && i < l.n; i++)
        dai_log_add_secret(l.v[i]);
    raw = dai__config_xasprintf("(list of %d)", n);
    if (!raw)
        return dai__config_fail(ld, where, o->key, "out of memory");
    rc = dai__config_record_origin(ld, idx, where, raw);
    free(raw);
    return rc;
}

static int file_option(struct loader *ld, size_t idx, const config_setting_t *s,
                       const char *where)
{
    const struct dai_opt *o = &ld->spec->opts[idx];
    int type = config_setting_type(s);
    char *text;
    int rc;

    if (o->flags & DAI_OPT_CLI_ONLY)
        return dai__config_fail(ld, where, o->key, "can only be set on the command line");
    if (type == CONFIG_TYPE_GROUP)
        return dai__config_fail(ld, where, o->key, "expected a value, not a group");
    if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
        if (o->type == DAI_OPT_STRLIST)
            return file_strlist(ld, idx, s, where);
        return dai__config_fail(ld, where, o->key, "expected a single value, not a list");
    }
    if (o->type == DAI_OPT_STR && type != CONFIG_TYPE_STRING)
        return dai__config_fail(ld, where, o->key, "expected a string in double quotes");
    text = scalar_text(s);
    if (!text)
        return dai__config_fail(ld, where, o->key, "out of memory");
    rc = dai__config_set_text(ld, idx, text, where);
    free(text);
    return rc;
}

static int file_passthrough(struct loader *ld, struct dai_kvlist *l, const char *path,
                            const config_setting_t *grp)
{
    int n = config_setting_length(grp), rc = 0;

    for (int i = 0; i < n && !rc; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        char *where = where_of(ld, m), *text = scalar_text(m);
        char *name = strdup(config_setting_name(m));

        if (!where || !name) {
            rc = dai__config_fail(ld, ld->path, path, "out of memory");
        } else if (!text) {
            rc = dai__config_fail(ld, where, NULL, "%s.%s: expected a single value", path, name);
        } else {
            /* libconfig names cannot contain '.', so the file spells
             * linger.ms as linger_ms; no librdkafka property has a '_'. */
            for (char *c = name; *c; c++)
                *c = *c == '_' ? '.' : *c;
            rc = dai__config_set_passthrough(ld, l, name, strlen(name), text, where);
        }
        free(where);
        free(text);
        free(name);
    }
    return rc;
}

static bool is_section(const struct loader *ld, const char *path)
{
    for (size_t i = 0; i < ld->spec->n_sections; i++) {
        if (ld->spec->sections[i] && strcmp(ld->spec->sections[i], path) == 0)
            return true;
    }
    return false;
}
int dai__config_walk_group(struct loader *ld, const config_setting_t *grp, const char *prefix)
{
    int n = config_setting_length(grp), rc = 0;

    for (int i = 0; i < n && !rc; i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        char *path = prefix ? dai__config_xasprintf("%s.%s", prefix, config_setting_name(s))
                            : strdup(config_setting_name(s));
        char *where = where_of(ld, s);
        size_t idx;

        if (!path || !where) {
            rc = dai__config_fail(ld, ld->path, NULL, "out of memory");
        } else if (is_section(ld, path)) {
            rc = 0;
        } else if (dai__config_find_opt(ld->spec, path, strlen(path), false, &idx)) {
            rc = file_option(ld, idx, s, where);
        } else if (strcmp(path, PT_PRODUCER) == 0 || strcmp(path, PT_CONSUMER) == 0) {
            if (!config_setting_is_group(s))
                rc = dai__config_fail(ld, where, path, "expected a group of librdkafka properties");
            else
                rc = file_passthrough(ld, strcmp(path, PT_PRODUCER) == 0
                                              ? &ld->common->producer_props
                                              : &ld->common->consumer_props,
                                      path, s);
        } else if (config_setting_is_group(s)) {
            rc = dai__config_walk_group(ld, s, path);
        } else {
            rc = dai__config_fail(ld, where, NULL, "unknown key '%s'", path);
        }
        free(path);
        free(where);
    }
    return rc;
}

/* Resolve and read the file: --config, else $DISPATCHAI_CONFIG, else
 * ./config/<program>.conf when it exists. *out is NULL when none. */
int dai__config_read_file(struct loader *ld, const char *cli_path, struct dai_config_doc **out)
{
    const char *env = getenv("DISPATCHAI_CONFIG"), *path = cli_path, *source = "--config";
    char deflt[256];
    struct dai_config_doc *d;

    *out = NULL;
    if (!path && env && env[0]) {
        path = env;
        source = "env DISPATCHAI_CONFIG";
    }
    if (!path) {
        snprintf(deflt, sizeof(deflt), "config/%s.conf", ld->spec->program);
        if (access(deflt, F_OK) != 0)
            return 0;
        path = deflt;
        source = NULL;
    }
    if (access(path, R_OK) != 0) {
        if (source)
            return dai__config_fail(ld, source, NULL, "cannot read %s: %s", path, strerror(errno));
        return dai__config_fail(ld, path, NULL, "cannot read: %s", strerror(errno));
    }
    d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return dai__config_fail(ld, path, NULL, "out of memory");
    }
    config_init(&d->cfg);
    ld->path = d->path;
    if (config_read_file(&d->cfg, path) != CONFIG_TRUE) {
        const char *f = config_error_file(&d->cfg);

        if (ld->err && ld->errlen)
            snprintf(ld->err, ld->errlen, "%s:%d: %s", f ? f : path, config_error_line(&d->cfg),
                     config_error_text(&d->cfg));
        dai_config_doc_free(d);
        return DAI_ECONFIG;
    }
    *out = d;
    return 0;
}
