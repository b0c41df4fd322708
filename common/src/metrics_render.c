/* Rendering of a metrics registry in the Prometheus text exposition format
 * 0.0.4: runs the collectors, then writes every family in registration order
 * and every child in creation order. */
#include "metrics_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* Shortest text that reads back as the same double; integral values never
 * use an exponent ("1234567", not "1.234567e+06"). */
static void format_number(double v, char out[40])
{
    if (isnan(v)) {
        snprintf(out, 40, "NaN");
    } else if (isinf(v)) {
        snprintf(out, 40, v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        snprintf(out, 40, "0"); /* also for -0 */
    } else if (v == floor(v) && fabs(v) < 1e17) {
        snprintf(out, 40, "%.0f", v);
    } else {
        snprintf(out, 40, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, 40, "%.17g", v);
    }
}

static int append_escaped(struct dai_buf *out, const char *s, bool quote)
{
    const char *run = s;
    int rc;

    for (const char *p = s;; p++) {
        const char *esc = NULL;

        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '\n')
            esc = "\\n";
        else if (quote && *p == '"')
            esc = "\\\"";
        else if (*p)
            continue;
        rc = dai_buf_append(out, run, (size_t)(p - run));
        if (rc || !*p)
            return rc;
        rc = dai_buf_append(out, esc, 2);
        if (rc)
            return rc;
        run = p + 1;
    }
}

/* name{l1="v1",...[,le="bound"]} */
static int append_series(struct dai_buf *out, const struct dai_metric *f, const char *suffix,
                         const struct child *c, const char *le)
{
    int rc = dai_buf_appendf(out, "%s%s", f->name, suffix);

    if (rc)
        return rc;
    if (f->n_labels == 0 && !le)
        return 0;
    rc = dai_buf_append(out, "{", 1);
    for (size_t i = 0; !rc && i < f->n_labels; i++) {
        rc = dai_buf_appendf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (!rc)
            rc = append_escaped(out, c->values[i], true);
        if (!rc)
            rc = dai_buf_append(out, "\"", 1);
    }
    if (!rc && le)
        rc = dai_buf_appendf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    if (!rc)
        rc = dai_buf_append(out, "}", 1);
    return rc;
}

static int append_sample(struct dai_buf *out, const struct dai_metric *f, const char *suffix,
                         const struct child *c, const char *le, double v)
{
    char num[40];
    int rc = append_series(out, f, suffix, c, le);

    if (rc)
        return rc;
    format_number(v, num);
    return dai_buf_appendf(out, " %s\n", num);
}

static int render_family(struct dai_buf *out, const struct dai_metric *f)
{
    int rc = 0;

    if (f->help[0]) {
        rc = dai_buf_appendf(out, "# HELP %s ", f->name);
        if (!rc)
            rc = append_escaped(out, f->help, false);
        if (!rc)
            rc = dai_buf_append(out, "\n", 1);
    }
    if (!rc)
        rc = dai_buf_appendf(out, "# TYPE %s %s\n", f->name, kind_names[f->kind]);
    for (const struct child *c = f->head; !rc && c; c = c->next) {
        uint64_t cum = 0;
        char le[40];

        if (f->kind != KIND_HISTOGRAM) {
            rc = append_sample(out, f, "", c, NULL, c->value);
            continue;
        }
        for (size_t i = 0; !rc && i <= f->n_bounds; i++) {
            cum += c->buckets[i];
            if (i < f->n_bounds)
                format_number(f->bounds[i], le);
            else
                snprintf(le, sizeof(le), "+Inf");
            rc = append_sample(out, f, "_bucket", c, le, (double)cum);
        }
        if (!rc)
            rc = append_sample(out, f, "_sum", c, NULL, c->value);
        if (!rc)
            rc = append_sample(out, f, "_count", c, NULL, (double)c->count);
    }
    return rc;
}

int dai_metrics_render(struct dai_metrics *reg, struct dai_buf *out)
{
    struct collector *coll = NULL;
    size_t n_coll;
    int rc = 0;

    if (!reg || !out)
        return DAI_EINVAL;
    dai_buf_reset(out);
    pthread_mutex_lock(&reg->render_mu);

    /* Run the collectors on a copy of the list and without reg->mu, so a
     * collector may register families or update metrics. */
    pthread_mutex_lock(&reg->mu);
    n_coll = reg->n_coll;
    if (n_coll) {
        coll = malloc(n_coll * sizeof(*coll));
        if (coll)
            memcpy(coll, reg->coll, n_coll * sizeof(*coll));
    }
    pthread_mutex_unlock(&reg->mu);
    if (n_coll && !coll) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_coll; i++)
        coll[i].fn(coll[i].ud);

    pthread_mutex_lock(&reg->mu);
    for (struct dai_metric *f = reg->head; !rc && f; f = f->next) {
        pthread_mutex_lock(&f->mu);
        rc = render_family(out, f);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&reg->mu);
    /* An empty registry still yields a valid (empty) NUL-terminated text. */
    if (!rc && !out->data)
        rc = dai_buf_append(out, "", 0);
out:
    pthread_mutex_unlock(&reg->render_mu);
    free(coll);
    return rc;
}