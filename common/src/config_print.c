/* --help and --print-config (secrets masked) for the configuration loader. */
#include "config_loader.h"

#include <stdbool.h>
#include <stdio.h>

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
void dai__config_print_help(const struct dai_config_spec *spec)
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
            dai__config_fmt_bound(o, o->min, lo, sizeof(lo));
            dai__config_fmt_bound(o, o->max, hi, sizeof(hi));
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
    const void *f = config_field(ld, o);
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

void dai__config_print_config(const struct loader *ld)
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
                   dai__config_pt_is_secret(pt[k]->v[i].key) ? "***" : pt[k]->v[i].value);
    }
}
