/* Pass 3 of the configuration loader: the command line. argv is collected
 * first (so --help works despite other mistakes) and applied after the
 * environment pass. */
#include "config_loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
int dai__config_parse_cli(const struct dai_config_spec *spec, struct dai_common_config *common,
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
        set->opt = dai__config_find_opt(spec, flag, len, true, &idx);
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

int dai__config_apply_cli(struct loader *ld, const struct cli *c)
{
    int rc = 0;

    for (size_t i = 0; i < c->n && !rc; i++) {
        const struct cli_set *set = &c->v[i];
        char *where = dai__config_xasprintf("--%.*s", (int)set->flaglen, set->flag);

        if (!where)
            return dai__config_fail(ld, "command line", NULL, "out of memory");
        if (set->opt)
            rc = dai__config_set_text(ld, (size_t)(set->opt - ld->spec->opts), set->value, where);
        else
            rc = dai__config_set_passthrough(ld, set->pt, set->name, set->namelen, set->value,
                                             where);
        free(where);
    }
    return rc;
}
