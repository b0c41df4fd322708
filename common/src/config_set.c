/* Setting one option of the configuration loader, shared by every pass:
 * error messages naming the source, parsing text into the option's field
 * (and remembering where it came from), kafka pass-through lists, finding
 * an option by name, and bounds as an operator writes them. */
#include "config_loader.h"

#include <dispatchai/log.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*---- small helpers ------------------------------------------------------*/

/* "where: key: message"; the key is left out when where is "--key" itself. */
int dai__config_fail(struct loader *ld, const char *where, const char *key, const char *fmt, ...)
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

char *dai__config_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/*---- key/value lists (pass-through) ------------------------------------*/

void dai__config_kvlist_free(struct dai_kvlist *l)
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
bool dai__config_pt_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strstr(key, "oauthbearer.config") || strstr(key, "key.pem");
}

int dai__config_set_passthrough(struct loader *ld, struct dai_kvlist *l, const char *name,
                           size_t namelen, const char *value, const char *where)
{
    char *key = strndup(name, namelen);
    bool secret = key && dai__config_pt_is_secret(key);

    free(key);
    if (!key || kvlist_set(l, name, namelen, value))
        return dai__config_fail(ld, where, NULL, "out of memory");
    if (secret)
        dai_log_add_secret(value);
    return 0;
}
/*---- setting one option -------------------------------------------------*/
int dai__config_record_origin(struct loader *ld, size_t idx, const char *where, const char *raw)
{
    struct origin *o = &ld->orig[idx];
    char *w = strdup(where), *r = strdup(raw);

    if (!w || !r) {
        free(w);
        free(r);
        return dai__config_fail(ld, where, ld->spec->opts[idx].key, "out of memory");
    }
    free(o->where);
    free(o->raw);
    o->where = w;
    o->raw = r;
    return 0;
}

/* Parse text as option idx's type into the target; where names the source. */
int dai__config_set_text(struct loader *ld, size_t idx, const char *text, const char *where)
{
    const struct dai_opt *o = &ld->spec->opts[idx];
    void *f = config_field(ld, o);
    struct dai_strlist l;
    char *s;

    switch (o->type) {
    case DAI_OPT_STR:
        s = strdup(text);
        if (!s)
            return dai__config_fail(ld, where, o->key, "out of memory");
        free(*(char **)f);
        *(char **)f = s;
        if (o->flags & DAI_OPT_SECRET)
            dai_log_add_secret(s);
        break;
    case DAI_OPT_INT:
        if (dai_parse_int(text, (int *)f))
            return dai__config_fail(ld, where, o->key, "\"%s\" is not an integer", text);
        break;
    case DAI_OPT_BOOL:
        if (dai_parse_bool(text, (bool *)f))
            return dai__config_fail(ld, where, o->key,
                                    "\"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)",
                                    text);
        break;
    case DAI_OPT_SIZE:
        if (dai_parse_size(text, (size_t *)f))
            return dai__config_fail(ld, where, o->key,
                                    "\"%s\" is not a size (e.g. 512, 64KiB, 25MiB, 1GiB)",
                                    text);
        break;
    case DAI_OPT_DOUBLE:
        if (dai_parse_double(text, (double *)f))
            return dai__config_fail(ld, where, o->key, "\"%s\" is not a number", text);
        break;
    case DAI_OPT_MS:
        if (dai_parse_ms(text, (int *)f))
            return dai__config_fail(ld, where, o->key,
                                    "\"%s\" is not a duration (e.g. 250ms, 10s, 2m, 1h)",
                                    text);
        break;
    case DAI_OPT_STRLIST:
        if (dai_strlist_split(text, ',', &l))
            return dai__config_fail(ld, where, o->key, "out of memory");
        dai_strlist_free((struct dai_strlist *)f);
        *(struct dai_strlist *)f = l;
        for (size_t i = 0; (o->flags & DAI_OPT_SECRET) && i < l.n; i++)
            dai_log_add_secret(l.v[i]);
        break;
    }
    return dai__config_record_origin(ld, idx, where, text);
}
/* The option named name[0..len); CLI aliases only count when alias is set. */
const struct dai_opt *dai__config_find_opt(const struct dai_config_spec *spec, const char *name,
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
/* Bounds as written by an operator: 30s rather than 30000, 25MiB, etc. */
void dai__config_fmt_bound(const struct dai_opt *o, double v, char *out, size_t n)
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

