/* Daemon-specific structured sections of the configuration file (lists of
 * groups such as teams or API tokens): iteration and typed accessors with
 * "file:line" for messages. Which sections exist and what they mean is the
 * daemons' business. */
#include "config_doc.h"

#include <dispatchai/config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*---- structured sections ------------------------------------------------*/

void dai_config_doc_free(struct dai_config_doc *doc)
{
    if (!doc)
        return;
    config_destroy(&doc->cfg);
    free(doc->path);
    free(doc);
}

int dai_config_doc_each(const struct dai_config_doc *doc, const char *path, dai_config_elem_fn fn,
                        void *ud, char *err, size_t errlen)
{
    const config_setting_t *s;
    int n, rc;

    if (!doc || !path)
        return 0;
    s = config_lookup(&doc->cfg, path);
    if (!s)
        return 0;
    if (!config_setting_is_aggregate(s)) {
        if (err && errlen)
            snprintf(err, errlen, "%s:%u: %s: expected a list or group", doc->path,
                     (unsigned)config_setting_source_line(s), path);
        return DAI_ECONFIG;
    }
    n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        struct dai_config_elem el = { config_setting_get_elem(s, (unsigned)i), doc };

        rc = fn(&el, (size_t)i, ud, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* name NULL means the element itself (for lists of plain strings). */
static const config_setting_t *elem_member(const struct dai_config_elem *el, const char *name)
{
    if (!el || !el->s)
        return NULL;
    if (!name)
        return el->s;
    return config_setting_is_group(el->s) ? config_setting_get_member(el->s, name) : NULL;
}

const char *dai_config_elem_str(const struct dai_config_elem *el, const char *name)
{
    const config_setting_t *m = elem_member(el, name);

    return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m) : NULL;
}

int dai_config_elem_strlist(const struct dai_config_elem *el, const char *name,
                            struct dai_strlist *out)
{
    const config_setting_t *m = elem_member(el, name);
    int n;

    out->v = NULL;
    out->n = 0;
    if (!m)
        return 0;
    if (config_setting_type(m) != CONFIG_TYPE_ARRAY && config_setting_type(m) != CONFIG_TYPE_LIST)
        return DAI_ECONFIG;
    n = config_setting_length(m);
    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(m, i);

        if (!v || dai_strlist_push(out, v, strlen(v))) {
            dai_strlist_free(out);
            return v ? -ENOMEM : DAI_ECONFIG;
        }
    }
    return 0;
}

const char *dai_config_elem_where(const struct dai_config_elem *el)
{
    static _Thread_local char buf[512];
    const char *file;

    if (!el || !el->s)
        return "?";
    file = config_setting_source_file(el->s);
    snprintf(buf, sizeof(buf), "%s:%u", file ? file : el->doc->path,
             (unsigned)config_setting_source_line(el->s));
    return buf;
}
