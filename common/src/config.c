/* Configuration loader: four passes over a daemon's option table (defaults,
 * libconfig file, environment, command line) and one validation step. This
 * file holds the order of the passes and the validation; each pass has its
 * own file (config_file.c, config_env.c, config_cli.c), setting one option is
 * config_set.c's and --help/--print-config config_print.c's. Value syntax is
 * config_values.c's, structured sections config_sections.c's. What the
 * options mean is the daemons' (<daemon>/options.c); this code never logs,
 * it returns messages. */
#include "config_loader.h"

#include <dispatchai/log.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*---- validation ------------------------------------------------------*/

static bool numeric_value(const struct loader *ld, const struct dai_opt *o, double *v)
{
    const void *f = config_field(ld, o);

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
        const char *s = o->type == DAI_OPT_STR ? *(char **)config_field(ld, o) : NULL;
        char lo[32], hi[32];
        double v;
        union { enum dai_log_level l; enum dai_log_format f; } parsed;

        if (!src->where)
            continue; /* never set: zero, and no bounds were promised for it */
        if (o->min < o->max && numeric_value(ld, o, &v) && (v < o->min || v > o->max)) {
            dai__config_fmt_bound(o, o->min, lo, sizeof(lo));
            dai__config_fmt_bound(o, o->max, hi, sizeof(hi));
            return dai__config_fail(ld, src->where, o->key, "%s is out of range (%s..%s)",
                                    src->raw, lo, hi);
        }
        /* The log settings are checked here so a typo fails at start with
         * the key and the source, not later inside dai_log_init. */
        if (s && strcmp(o->key, "log.level") == 0 &&
            dai_log_parse_level(s, &parsed.l))
            return dai__config_fail(ld, src->where, o->key,
                                    "\"%s\" is not a log level (debug, info, warn, error)", s);
        if (s && strcmp(o->key, "log.format") == 0 &&
            dai_log_parse_format(s, &parsed.f))
            return dai__config_fail(ld, src->where, o->key,
                                    "\"%s\" is not a log format (text, json)", s);
    }
    return 0;
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
        return dai__config_fail(&ld, "config", NULL, "no option table");
    ld.common->program = spec->program;
    ld.orig = calloc(spec->n_opts ? spec->n_opts : 1, sizeof(*ld.orig));
    if (!ld.orig || dai__config_parse_cli(spec, ld.common, argc, argv, &cli)) {
        rc = dai__config_fail(&ld, "config", NULL, "out of memory");
        goto out;
    }
    if (cli.help || cli.version) {
        if (cli.help)
            dai__config_print_help(spec);
        else
            printf("dispatchai-%s %s\n", spec->program, DAI_VERSION);
        fflush(stdout);
        rc = DAI_CONFIG_EXITED;
        goto out;
    }
    if (cli.rc) {
        rc = dai__config_fail(&ld, "command line", NULL, "%s", cli.err);
        goto out;
    }
    rc = dai__config_apply_defaults(&ld);
    if (!rc)
        rc = dai__config_read_file(&ld, cli.config, &d);
    if (!rc && d) {
        ld.common->config_file = strdup(d->path);
        rc = ld.common->config_file ? dai__config_walk_group(&ld, config_root_setting(&d->cfg),
                                                             NULL)
                                    : dai__config_fail(&ld, d->path, NULL, "out of memory");
    }
    if (!rc)
        rc = dai__config_apply_env(&ld);
    if (!rc)
        rc = dai__config_apply_cli(&ld, &cli);
    if (!rc)
        rc = validate(&ld);
    if (!rc && cli.print) {
        dai__config_print_config(&ld);
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
    dai__config_kvlist_free(&common->producer_props);
    dai__config_kvlist_free(&common->consumer_props);
    free(common->config_file);
    common->config_file = NULL;
}
