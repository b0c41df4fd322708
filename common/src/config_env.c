/* Passes 0 and 2 of the configuration loader: the built-in defaults and the
 * environment variables. */
#include "config_loader.h"

#include <stdlib.h>

int dai__config_apply_defaults(struct loader *ld)
{
    int rc = 0;

    for (size_t i = 0; i < ld->spec->n_opts && !rc; i++) {
        if (ld->spec->opts[i].def)
            rc = dai__config_set_text(ld, i, ld->spec->opts[i].def, "default");
    }
    return rc;
}

int dai__config_apply_env(struct loader *ld)
{
    int rc = 0;

    for (size_t i = 0; i < ld->spec->n_opts && !rc; i++) {
        const struct dai_opt *o = &ld->spec->opts[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        char *where;

        /* Compose files often pass VAR= for "unset"; only strings take it. */
        if (!v || (!v[0] && o->type != DAI_OPT_STR && o->type != DAI_OPT_STRLIST))
            continue;
        where = dai__config_xasprintf("env %s", o->env);
        if (!where)
            return dai__config_fail(ld, "env", o->key, "out of memory");
        rc = dai__config_set_text(ld, i, v, where);
        free(where);
    }
    return rc;
}
