/* Configuration loader: four passes over a daemon's option table (defaults,
 * libconfig file, environment, command line), one validation step,
 * --help/--version/--print-config and the kafka.producer/consumer
 * pass-through. Value syntax is config_values.c's, structured sections
 * config_sections.c's. What the options mean is the daemons'
 * (<daemon>/options.c); this file never logs, it returns messages. */
#include "config_doc.h"

#include <dispatchai/config.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <float.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef DAI_VERSION
#define DAI_VERSION "0.0.0"
#endif

#define PT_PRODUCER "kafka.producer"
#define PT_CONSUMER "kafka.consumer"

/* Where an option's current value came from, for error messages. */
struct origin {
    char *where; /* "file:line", "env VAR", "--flag" or "default" */
    char *raw;   /* the value as written there */
};

/* One option or pass-through assignment collected from argv. */
struct cli_set {
    const struct dai_opt *opt; /* NULL: pass-through */
    struct dai_kvlist *pt;
    const char *name; /* pass-through property name */
    size_t namelen;
    const char *value;
    const char *flag; /* argv text after "--", up to '=' */
    size_t flaglen;
};

struct cli {
    struct cli_set *v;
    size_t n;
    const char *config;
    bool help, version, print;
    int rc;
    char err[512];
};

struct loader {
    const struct dai_config_spec *spec;
    void *target;
    struct dai_common_config *common;
    struct origin *orig;
    const char *path; /* config file being read */
    char *err;
    size_t errlen;
};

/*---- small helpers ------------------------------------------------------*/

static int fail(struct loader *ld, const char *where, const char *key, const char *fmt, ...)
    DAI_PRINTF(4, 5);

/* "where: key: message"; the key is left out when where is "--key" itself. */
static int fail(struct loader *ld, const char *where, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!ld->err || !ld->errlen)
        return DAI_ECONFIG;
    if (!key || (where[0] == '-' && strcmp(where + 2, key) == 0))
        snprintf(ld->err, ld->errlen, "%s: %s", where, msg);
    else
        snprintf(ld->err, ld->errlen, "%s: %s: %s", where, key, msg);
    return DAI_ECONFIG;
}

static char *xasprintf(const char *fmt, ...) DAI_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static void *field(const struct loader *ld, const struct dai_opt *o)
{
    return (char *)ld->target + o->offset;
}

/*---- key/value lists (pass-through) ------------------------------------*/

static void kvlist_free(struct dai_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Set key (first keylen bytes) to value, replacing an earlier setting. */
static int kvlist_set(struct dai_kvlist *l, const char *key, size_t keylen, const char *value)
{
    char *v = strdup(value);
    struct dai_kv *grown;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i].key) == keylen && memcmp(l->v[i].key, key, keylen) == 0) {
            free(l->v[i].value);
            l->v[i].value = v;
            return 0;
        }
    }
    grown = realloc(l->v, (l->n + 1) * sizeof(*l->v));
    if (!grown)
        goto fail;
    l->v = grown;
    l->v[l->n].key = strndup(key, keylen);
    if (!l->v[l->n].key)
        goto fail;
    l->v[l->n].value = v;
    l->n++;
    return 0;
fail:
    free(v);
    return -ENOMEM;
}

/* librdkafka properties that carry credentials. */
static bool pt_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strstr(key, "oauthbearer.config") || strstr(key, "key.pem");
}

static int set_passthrough(struct loader *ld, struct dai_kvlist *l, const char *name,
                           size_t namelen, const char *value, const char *where)
{
    char *key = strndup(name, namelen);
    bool secret = key && pt_is_secret(key);

    free(key);
    if (!key || kvlist_set(l, name, namelen, value))
        return fail(ld, where, NULL, "out of memory");
    if (secret)
        dai_log_add_secret(value);
    return 0;
}

/*---- setting one option -------------------------------------------------*/

static const char *type_name(enum dai_opt_type t)
{
    switch (t) {
    case DAI_OPT_STR: return "STR";
    case DAI_OPT_INT: return "INT";
    case DAI_OPT_BOOL: return "BOOL";
    case DAI_OPT_SIZE: return "SIZE";
    case DAI_OPT_DOUBLE: return "NUM";
    case DAI_OPT_MS: return "DURATION";
    case DAI_OPT_STRLIST: return "LIST";
    }
    return "?";
}

static int record_origin(struct loader *ld, size_t idx, const char *where, const char *raw)
{
    struct origin *o = &ld->orig[idx];
    char *w = strdup(where), *r = strdup(raw);

    if (!w || !r) {
        free(w);
        free(r);
        return fail(ld, where, ld->spec->opts[idx].key, "out of memory");
    }
    free(o->where);
    free(o->raw);
    o->where = w;
    o->raw = r;
    return 0;
}

/* Parse text as option idx's type into the target; where names the source. */
static int set_text(struct loader *ld, size_t idx, const char *text, const char *where)
{
    const struct dai_opt *o = &ld->spec->opts[idx];
    void *f = field(ld, o);
    struct dai_strlist l;
    char *s;

    switch (o->type) {
    case DAI_OPT_STR:
        s = strdup(text);
        if (!s)
            return fail(ld, where, o->key, "out of memory");
        free(*(char **)f);
        *(char **)f = s;
        if (o->flags & DAI_OPT_SECRET)
            dai_log_add_secret(s);
        break;
    case DAI_OPT_INT:
        if (dai_parse_int(text, (int *)f))
            return fail(ld, where, o->key, "\"%s\" is not an integer", text);
        break;
    case DAI_OPT_BOOL:
        if (dai_parse_bool(text, (bool *)f))
            return fail(ld, where, o->key,
                        "\"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)", text);
        break;
    case DAI_OPT_SIZE:
        if (dai_parse_size(text, (size_t *)f))
            return fail(ld, where, o->key, "\"%s\" is not a size (e.g. 512, 64KiB, 25MiB, 1GiB)",
                        text);
        break;
    case DAI_OPT_DOUBLE:
        if (dai_parse_double(text, (double *)f))
            return fail(ld, where, o->key, "\"%s\" is not a number", text);
        break;
    case DAI_OPT_MS:
        if (dai_parse_ms(text, (int *)f))
            return fail(ld, where, o->key, "\"%s\" is not a duration (e.g. 250ms, 10s, 2m, 1h)",
                        text);
        break;
    case DAI_OPT_STRLIST:
        if (dai_strlist_split(text, ',', &l))
            return fail(ld, where, o->key, "out of memory");
        dai_strlist_free((struct dai_strlist *)f);
        *(struct dai_strlist *)f = l;
        for (size_t i = 0; (o->flags & DAI_OPT_SECRET) && i < l.n; i++)
            dai_log_add_secret(l.v[i]);
        break;
    }
    return record_origin(ld, idx, where, text);
}

/*---- pass 1: the file ---------------------------------------------------*/

static char *where_of(const struct loader *ld, const config_setting_t *s)
{
    const char *file = config_setting_source_file(s);

    return xasprintf("%s:%u", file ? file : ld->path, (unsigned)config_setting_source_line(s));
}

/* Text form of a scalar setting; new string or NULL if not a scalar. */
static char *scalar_text(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: return strdup(config_setting_get_string(s));
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return xasprintf("%lld", config_setting_get_int64(s));
    case CONFIG_TYPE_FLOAT: return xasprintf("%.17g", config_setting_get_float(s));
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
            return fail(ld, where, o->key, "expected a list of strings");
        }
        if (dai_strlist_push(&l, v, strlen(v))) {
            dai_strlist_free(&l);
            return fail(ld, where, o->key, "out of memory");
        }
    }
    dai_strlist_free((struct dai_strlist *)field(ld, o));
    *(struct dai_strlist *)field(ld, o) = l;
    for (size_t i = 0; (o->flags & DAI_OPT_SECRET) && i < l.n; i++)
        dai_log_add_secret(l.v[i]);
    raw = xasprintf("(list of %d)", n);
    if (!raw)
        return fail(ld, where, o->key, "out of memory");
    rc = record_origin(ld, idx, where, raw);
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
        return fail(ld, where, o->key, "can only be set on the command line");
    if (type == CONFIG_TYPE_GROUP)
        return fail(ld, where, o->key, "expected a value, not a group");
    if (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST) {
        if (o->type == DAI_OPT_STRLIST)
            return file_strlist(ld, idx, s, where);
        return fail(ld, where, o->key, "expected a single value, not a list");
    }
    if (o->type == DAI_OPT_STR && type != CONFIG_TYPE_STRING)
        return fail(ld, where, o->key, "expected a string in double quotes");
    text = scalar_text(s);
    if (!text)
        return fail(ld, where, o->key, "out of memory");
    rc = set_text(ld, idx, text, where);
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
            rc = fail(ld, ld->path, path, "out of memory");
        } else if (!text) {
            rc = fail(ld, where, NULL, "%s.%s: expected a single value", path, name);
        } else {
            /* libconfig names cannot contain '.', so the file spells
             * linger.ms as linger_ms; no librdkafka property has a '_'. */
            for (char *c = name; *c; c++)
                *c = *c == '_' ? '.' : *c;
            rc = set_passthrough(ld, l, name, strlen(name), text, where);
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

/* The option named name[0..len); CLI aliases only count when alias is set. */
static const struct dai_opt *find_opt(const struct dai_config_spec *spec, const char *name,
                                      size_t len, bool alias, size_t *idx)
{
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct dai_opt *o = &spec->opts[i];

        if ((strlen(o->key) == len && memcmp(o->key, name, len) == 0) ||
            (alias && o->cli && strlen(o->cli) == len && memcmp(o->cli, name, len) == 0)) {
            *idx = i;
            return o;
        }
    }
    return NULL;
}

static int walk_group(struct loader *ld, const config_setting_t *grp, const char *prefix)
{
    int n = config_setting_length(grp), rc = 0;

    for (int i = 0; i < n && !rc; i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        char *path = prefix ? xasprintf("%s.%s", prefix, config_setting_name(s))
                            : strdup(config_setting_name(s));
        char *where = where_of(ld, s);
        size_t idx;

        if (!path || !where) {
            rc = fail(ld, ld->path, NULL, "out of memory");
        } else if (is_section(ld, path)) {
            rc = 0;
        } else if (find_opt(ld->spec, path, strlen(path), false, &idx)) {
            rc = file_option(ld, idx, s, where);
        } else if (strcmp(path, PT_PRODUCER) == 0 || strcmp(path, PT_CONSUMER) == 0) {
            if (!config_setting_is_group(s))
                rc = fail(ld, where, path, "expected a group of librdkafka properties");
            else
                rc = file_passthrough(ld, strcmp(path, PT_PRODUCER) == 0
                                              ? &ld->common->producer_props
                                              : &ld->common->consumer_props,
                                      path, s);
        } else if (config_setting_is_group(s)) {
            rc = walk_group(ld, s, path);
        } else {
            rc = fail(ld, where, NULL, "unknown key '%s'", path);
        }
        free(path);
        free(where);
    }
    return rc;
}

/* Resolve and read the file: --config, else $DISPATCHAI_CONFIG, else
 * ./config/<program>.conf when it exists. *out is NULL when none. */
static int read_file(struct loader *ld, const char *cli_path, struct dai_config_doc **out)
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
            return fail(ld, source, NULL, "cannot read %s: %s", path, strerror(errno));
        return fail(ld, path, NULL, "cannot read: %s", strerror(errno));
    }
    d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return fail(ld, path, NULL, "out of memory");
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

/*---- pass 3: the command line -------------------------------------------*/

static bool flag_is(const char *flag, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(flag, name, len) == 0;
}

static void cli_error(struct cli *c, const char *fmt, ...) DAI_PRINTF(2, 3);
static void cli_error(struct cli *c, const char *fmt, ...)
{
    va_list ap;

    if (c->rc)
        return; /* report the first problem */
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    c->rc = DAI_ECONFIG;
}

/* Collect argv into c without applying anything, so --help works even with
 * other mistakes on the line and flags can be applied after the env pass. */
static int parse_cli(const struct dai_config_spec *spec, struct dai_common_config *common,
                     int argc, char **argv, struct cli *c)
{
    c->v = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*c->v));
    if (!c->v)
        return -ENOMEM;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *flag, *eq, *value;
        struct cli_set *set = &c->v[c->n];
        size_t len, idx;

        if (strcmp(a, "-h") == 0) {
            c->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            cli_error(c, "unexpected argument '%s' (options look like --key=value; see --help)", a);
            continue;
        }
        flag = a + 2;
        eq = strchr(flag, '=');
        len = eq ? (size_t)(eq - flag) : strlen(flag);
        value = eq ? eq + 1 : NULL;
        if (flag_is(flag, len, "help") || flag_is(flag, len, "version") ||
            flag_is(flag, len, "print-config")) {
            c->help |= flag[0] == 'h';
            c->version |= flag[0] == 'v';
            c->print |= flag[0] == 'p';
            continue;
        }
        set->flag = flag;
        set->flaglen = len;
        set->opt = find_opt(spec, flag, len, true, &idx);
        set->pt = NULL;
        if (!set->opt && !flag_is(flag, len, "config")) {
            /* sizeof counts the NUL, which stands in for the '.' here */
            size_t plen = sizeof(PT_PRODUCER);

            if (len > plen && memcmp(flag, PT_PRODUCER ".", plen) == 0)
                set->pt = &common->producer_props;
            else if (len > plen && memcmp(flag, PT_CONSUMER ".", plen) == 0)
                set->pt = &common->consumer_props;
            if (!set->pt) {
                cli_error(c, "unknown option --%.*s (see --help)", (int)len, flag);
                continue;
            }
            set->name = flag + plen;
            set->namelen = len - plen;
        }
        if (!value && set->opt && set->opt->type == DAI_OPT_BOOL) {
            bool b;

            /* A bare bool flag means true; "--flag false" is also accepted. */
            value = "true";
            if (i + 1 < argc && dai_parse_bool(argv[i + 1], &b) == 0)
                value = argv[++i];
        } else if (!value) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                cli_error(c, "--%.*s needs a value", (int)len, flag);
                continue;
            }
            value = argv[++i];
        }
        if (flag_is(flag, len, "config")) {
            c->config = value;
            continue;
        }
        set->value = value;
        c->n++;
    }
    return 0;
}

static int apply_cli(struct loader *ld, const struct cli *c)
{
    int rc = 0;

    for (size_t i = 0; i < c->n && !rc; i++) {
        const struct cli_set *set = &c->v[i];
        char *where = xasprintf("--%.*s", (int)set->flaglen, set->flag);

        if (!where)
            return fail(ld, "command line", NULL, "out of memory");
        if (set->opt)
            rc = set_text(ld, (size_t)(set->opt - ld->spec->opts), set->value, where);
        else
            rc = set_passthrough(ld, set->pt, set->name, set->namelen, set->value, where);
        free(where);
    }
    return rc;
}

/*---- passes 0 and 2, validation -----------------------------------------*/

static int apply_defaults(struct loader *ld)
{
    int rc = 0;

    for (size_t i = 0; i < ld->spec->n_opts && !rc; i++) {
        if (ld->spec->opts[i].def)
            rc = set_text(ld, i, ld->spec->opts[i].def, "default");
    }
    return rc;
}

static int apply_env(struct loader *ld)
{
    int rc = 0;

    for (size_t i = 0; i < ld->spec->n_opts && !rc; i++) {
        const struct dai_opt *o = &ld->spec->opts[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        char *where;

        /* Compose files often pass VAR= for "unset"; only strings take it. */
        if (!v || (!v[0] && o->type != DAI_OPT_STR && o->type != DAI_OPT_STRLIST))
            continue;
        where = xasprintf("env %s", o->env);
        if (!where)
            return fail(ld, "env", o->key, "out of memory");
        rc = set_text(ld, i, v, where);
        free(where);
    }
    return rc;
}

/* Bounds as written by an operator: 30s rather than 30000, 25MiB, etc. */
static void fmt_bound(const struct dai_opt *o, double v, char *out, size_t n)
{
    static const struct { long long mult; const char *unit; } ms[] = {
        { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
    }, sz[] = {
        { 1ll << 40, "TiB" }, { 1ll << 30, "GiB" }, { 1ll << 20, "MiB" }, { 1ll << 10, "KiB" },
    };
    long long iv = (long long)v;

    if (o->type == DAI_OPT_DOUBLE) {
        snprintf(out, n, "%g", v);
        return;
    }
    for (size_t i = 0; o->type == DAI_OPT_MS && iv && i < 3; i++) {
        if (iv % ms[i].mult == 0) {
            snprintf(out, n, "%lld%s", iv / ms[i].mult, ms[i].unit);
            return;
        }
    }
    for (size_t i = 0; o->type == DAI_OPT_SIZE && iv && i < 4; i++) {
        if (iv % sz[i].mult == 0) {
            snprintf(out, n, "%lld%s", iv / sz[i].mult, sz[i].unit);
            return;
        }
    }
    snprintf(out, n, "%lld%s", iv, o->type == DAI_OPT_MS ? "ms" : "");
}

static bool numeric_value(const struct loader *ld, const struct dai_opt *o, double *v)
{
    const void *f = field(ld, o);

    switch (o->type) {
    case DAI_OPT_INT:
    case DAI_OPT_MS: *v = *(const int *)f; return true;
    case DAI_OPT_SIZE: *v = (double)*(const size_t *)f; return true;
    case DAI_OPT_DOUBLE: *v = *(const double *)f; return true;
    default: return false;
    }
}

static int validate(struct loader *ld)
{
    for (size_t i = 0; i < ld->spec->n_opts; i++) {
        const struct dai_opt *o = &ld->spec->opts[i];
        const struct origin *src = &ld->orig[i];
        const char *s = o->type == DAI_OPT_STR ? *(char **)field(ld, o) : NULL;
        char lo[32], hi[32];
        double v;
        union { enum dai_log_level l; enum dai_log_format f; } parsed;

        if (!src->where)
            continue; /* never set: zero, and no bounds were promised for it */
        if (o->min < o->max && numeric_value(ld, o, &v) && (v < o->min || v > o->max)) {
            fmt_bound(o, o->min, lo, sizeof(lo));
            fmt_bound(o, o->max, hi, sizeof(hi));
            return fail(ld, src->where, o->key, "%s is out of range (%s..%s)", src->raw, lo, hi);
        }
        /* The log settings are checked here so a typo fails at start with
         * the key and the source, not later inside dai_log_init. */
        if (s && strcmp(o->key, "log.level") == 0 &&
            dai_log_parse_level(s, &parsed.l))
            return fail(ld, src->where, o->key,
                        "\"%s\" is not a log level (debug, info, warn, error)", s);
        if (s && strcmp(o->key, "log.format") == 0 &&
            dai_log_parse_format(s, &parsed.f))
            return fail(ld, src->where, o->key, "\"%s\" is not a log format (text, json)", s);
    }
    return 0;
}

/*---- --help, --version, --print-config ----------------------------------*/

static void print_help(const struct dai_config_spec *spec)
{
    printf("dispatchai-%s %s: %s\n\n", spec->program, DAI_VERSION,
           spec->summary ? spec->summary : "");
    printf("Usage: dispatchai-%s [--config PATH] [--KEY=VALUE | --KEY VALUE ...]\n\n",
           spec->program);
    printf("Settings come from built-in defaults, then the file (--config PATH, else\n"
           "$DISPATCHAI_CONFIG, else ./config/%s.conf if present), then environment\n"
           "variables, then flags; later sources win.\n\nOptions:\n",
           spec->program);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const struct dai_opt *o = &spec->opts[i];
        char lo[32], hi[32];

        printf("  --%s=%s", o->key, type_name(o->type));
        if (o->cli)
            printf(", --%s", o->cli);
        printf("\n      env %s; default %s%s%s", o->env ? o->env : "(none)",
               o->def && o->def[0] ? "" : "(empty)", o->def ? o->def : "",
               o->flags & DAI_OPT_CLI_ONLY ? "; command line only" : "");
        if (o->min < o->max) {
            fmt_bound(o, o->min, lo, sizeof(lo));
            fmt_bound(o, o->max, hi, sizeof(hi));
            printf("; range %s..%s", lo, hi);
        }
        printf("\n      %s\n", o->help ? o->help : "");
    }
    printf("  --kafka.producer.NAME=VALUE, --kafka.consumer.NAME=VALUE\n"
           "      librdkafka property passed through (in the file: kafka = { producer =\n"
           "      { NAME_WITH_UNDERSCORES = VALUE; }; };)\n"
           "  --config=PATH\n      configuration file\n"
           "  --print-config\n      print the effective configuration (secrets masked) and exit\n"
           "  --version\n      print the version and exit\n"
           "  --help, -h\n      print this help and exit\n");
}

static void print_value(const struct loader *ld, const struct dai_opt *o)
{
    const void *f = field(ld, o);
    const struct dai_strlist *l;
    const char *s;

    switch (o->type) {
    case DAI_OPT_STR:
        s = *(char *const *)f;
        fputs(s && s[0] && (o->flags & DAI_OPT_SECRET) ? "***" : s ? s : "", stdout);
        break;
    case DAI_OPT_INT: printf("%d", *(const int *)f); break;
    case DAI_OPT_BOOL: fputs(*(const bool *)f ? "true" : "false", stdout); break;
    case DAI_OPT_SIZE: printf("%zu", *(const size_t *)f); break;
    case DAI_OPT_DOUBLE: printf("%g", *(const double *)f); break;
    case DAI_OPT_MS: printf("%dms", *(const int *)f); break;
    case DAI_OPT_STRLIST:
        l = f;
        for (size_t i = 0; i < l->n; i++)
            printf("%s%s", i ? "," : "", (o->flags & DAI_OPT_SECRET) ? "***" : l->v[i]);
        break;
    }
}

static void print_config(const struct loader *ld)
{
    const struct dai_kvlist *pt[2] = { &ld->common->producer_props, &ld->common->consumer_props };
    static const char *const pt_name[2] = { PT_PRODUCER, PT_CONSUMER };

    printf("# dispatchai-%s %s, config file: %s\n", ld->spec->program, DAI_VERSION,
           ld->common->config_file ? ld->common->config_file : "(none)");
    for (size_t i = 0; i < ld->spec->n_opts; i++) {
        printf("%s = ", ld->spec->opts[i].key);
        print_value(ld, &ld->spec->opts[i]);
        putchar('\n');
    }
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < pt[k]->n; i++)
            printf("%s.%s = %s\n", pt_name[k], pt[k]->v[i].key,
                   pt_is_secret(pt[k]->v[i].key) ? "***" : pt[k]->v[i].value);
    }
}

/*---- dai_config_load ----------------------------------------------------*/

int dai_config_load(const struct dai_config_spec *spec, void *target, int argc, char **argv,
                    struct dai_config_doc **doc, char *err, size_t errlen)
{
    struct loader ld = { spec, target, target, NULL, "", err, errlen };
    struct cli cli = { 0 };
    struct dai_config_doc *d = NULL;
    int rc;

    if (doc)
        *doc = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!spec || !target || !spec->program)
        return fail(&ld, "config", NULL, "no option table");
    ld.common->program = spec->program;
    ld.orig = calloc(spec->n_opts ? spec->n_opts : 1, sizeof(*ld.orig));
    if (!ld.orig || parse_cli(spec, ld.common, argc, argv, &cli)) {
        rc = fail(&ld, "config", NULL, "out of memory");
        goto out;
    }
    if (cli.help || cli.version) {
        if (cli.help)
            print_help(spec);
        else
            printf("dispatchai-%s %s\n", spec->program, DAI_VERSION);
        fflush(stdout);
        rc = DAI_CONFIG_EXITED;
        goto out;
    }
    if (cli.rc) {
        rc = fail(&ld, "command line", NULL, "%s", cli.err);
        goto out;
    }
    rc = apply_defaults(&ld);
    if (!rc)
        rc = read_file(&ld, cli.config, &d);
    if (!rc && d) {
        ld.common->config_file = strdup(d->path);
        rc = ld.common->config_file ? walk_group(&ld, config_root_setting(&d->cfg), NULL)
                                    : fail(&ld, d->path, NULL, "out of memory");
    }
    if (!rc)
        rc = apply_env(&ld);
    if (!rc)
        rc = apply_cli(&ld, &cli);
    if (!rc)
        rc = validate(&ld);
    if (!rc && cli.print) {
        print_config(&ld);
        fflush(stdout);
        rc = DAI_CONFIG_EXITED;
    }
out:
    for (size_t i = 0; ld.orig && i < spec->n_opts; i++) {
        free(ld.orig[i].where);
        free(ld.orig[i].raw);
    }
    free(ld.orig);
    free(cli.v);
    if (rc != DAI_CONFIG_RUN) {
        /* Nothing half-loaded escapes: the caller may still call
         * dai_config_free, which is then a no-op. */
        dai_config_free(spec, target);
        dai_config_doc_free(d);
        return rc;
    }
    if (doc)
        *doc = d;
    else
        dai_config_doc_free(d);
    return DAI_CONFIG_RUN;
}

void dai_config_free(const struct dai_config_spec *spec, void *target)
{
    struct dai_common_config *common = target;

    if (!spec || !target)
        return;
    for (size_t i = 0; i < spec->n_opts; i++) {
        void *f = (char *)target + spec->opts[i].offset;

        if (spec->opts[i].type == DAI_OPT_STR) {
            free(*(char **)f);
            *(char **)f = NULL;
        } else if (spec->opts[i].type == DAI_OPT_STRLIST) {
            dai_strlist_free(f);
        }
    }
    kvlist_free(&common->producer_props);
    kvlist_free(&common->consumer_props);
    free(common->config_file);
    common->config_file = NULL;
}
