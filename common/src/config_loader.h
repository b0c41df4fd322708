/* Private to common/src/config*.c: the loader's state shared by its passes
 * (config.c, config_set.c, config_file.c, config_env.c, config_cli.c,
 * config_print.c).
 * Never included outside common/. */
#ifndef DISPATCHAI_CONFIG_LOADER_H
#define DISPATCHAI_CONFIG_LOADER_H

#include "config_doc.h"

#include <dispatchai/config.h>

#include <stdbool.h>
#include <stddef.h>

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

static inline void *config_field(const struct loader *ld, const struct dai_opt *o)
{
    return (char *)ld->target + o->offset;
}

/* config_set.c */
/* "where: key: message" into ld->err; returns DAI_ECONFIG. */
int dai__config_fail(struct loader *ld, const char *where, const char *key, const char *fmt, ...)
    DAI_PRINTF(4, 5);
/* New string or NULL. */
char *dai__config_xasprintf(const char *fmt, ...) DAI_PRINTF(1, 2);
/* Free a pass-through list (stays usable, empty). */
void dai__config_kvlist_free(struct dai_kvlist *l);
/* librdkafka properties that carry credentials. */
bool dai__config_pt_is_secret(const char *key);
int dai__config_set_passthrough(struct loader *ld, struct dai_kvlist *l, const char *name,
                                size_t namelen, const char *value, const char *where);
int dai__config_record_origin(struct loader *ld, size_t idx, const char *where, const char *raw);
/* Parse text as option idx's type into the target; where names the source. */
int dai__config_set_text(struct loader *ld, size_t idx, const char *text, const char *where);
/* The option named name[0..len); CLI aliases only count when alias is set. */
const struct dai_opt *dai__config_find_opt(const struct dai_config_spec *spec, const char *name,
                                           size_t len, bool alias, size_t *idx);
/* Bounds as written by an operator: 30s rather than 30000, 25MiB, etc. */
void dai__config_fmt_bound(const struct dai_opt *o, double v, char *out, size_t n);

/* config_file.c: pass 1. *out is NULL when there is no file. */
int dai__config_read_file(struct loader *ld, const char *cli_path, struct dai_config_doc **out);
int dai__config_walk_group(struct loader *ld, const config_setting_t *grp, const char *prefix);

/* config_env.c: passes 0 and 2. */
int dai__config_apply_defaults(struct loader *ld);
int dai__config_apply_env(struct loader *ld);

/* config_cli.c: pass 3, collected by parse_cli, applied by apply_cli. */
int dai__config_parse_cli(const struct dai_config_spec *spec, struct dai_common_config *common,
                          int argc, char **argv, struct cli *c);
int dai__config_apply_cli(struct loader *ld, const struct cli *c);

/* config_print.c */
void dai__config_print_help(const struct dai_config_spec *spec);
void dai__config_print_config(const struct loader *ld);

#endif
