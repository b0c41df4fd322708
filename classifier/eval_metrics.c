/* The figures of `dispatchai-classifier eval`: the label mapping between our
 * categories and a data set's taxonomy, name interning, per-class precision,
 * recall and F1, macro-F1 (overall and per repository), the confusion
 * matrix, latency quantiles, tokens and cost, assembled into one JSON
 * report. Pure: no I/O, no clock. */
#include "eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*---- label mapping ----------------------------------------------------------*/

static int copy_trimmed(char *dst, size_t n, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= n)
        return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

int cls_label_map_parse(const char *text, struct cls_label_map *out, char *err, size_t errlen)
{
    const char *p = text ? text : "";

    memset(out, 0, sizeof(*out));
    while (*p) {
        const char *end = strchr(p, ','), *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p);

        eq = memchr(p, '=', len);
        if (len == 0) {
            p += end ? 1 : 0;
            continue;
        }
        if (out->n == CLS_EVAL_MAX_CLASSES) {
            snprintf(err, errlen, "label map: more than %d entries", CLS_EVAL_MAX_CLASSES);
            return DAI_ECONFIG;
        }
        if (!eq || copy_trimmed(out->from[out->n], CLS_EVAL_NAME_LEN, p, (size_t)(eq - p)) ||
            copy_trimmed(out->to[out->n], CLS_EVAL_NAME_LEN, eq + 1, len - (size_t)(eq - p) - 1)) {
            snprintf(err, errlen, "label map: \"%.*s\" is not from=to (names of 1..%d chars)",
                     (int)(len > 60 ? 60 : len), p, CLS_EVAL_NAME_LEN - 1);
            return DAI_ECONFIG;
        }
        out->n++;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

const char *cls_label_map_apply(const struct cls_label_map *m, const char *name)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (strcasecmp(m->from[i], name) == 0)
            return m->to[i];
    return name;
}

/*---- names ------------------------------------------------------------------*/

int cls_eval_names_add(struct cls_eval_names *t, const char *name, bool gold)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0) {
            t->gold[i] = t->gold[i] || gold;
            return (int)i;
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *nv = realloc(t->name, cap * sizeof(*t->name));
        bool *ng;

        if (!nv)
            return -ENOMEM;
        t->name = nv;
        ng = realloc(t->gold, cap * sizeof(*t->gold));
        if (!ng)
            return -ENOMEM;
        t->gold = ng;
        t->cap = cap;
    }
    snprintf(t->name[t->n], sizeof(t->name[t->n]), "%s", name);
    t->gold[t->n] = gold;
    return (int)t->n++;
}

void cls_eval_names_free(struct cls_eval_names *t)
{
    free(t->name);
    free(t->gold);
    memset(t, 0, sizeof(*t));
}

/*---- scores -----------------------------------------------------------------*/

double cls_eval_scores(const struct cls_eval_outcome *o, size_t n, int repo,
                       const struct cls_eval_names *classes, struct cls_prf *prf,
                       double *accuracy, size_t *selected)
{
    size_t ok = 0, sel = 0, averaged = 0;
    double macro = 0;

    memset(prf, 0, classes->n * sizeof(*prf));
    for (size_t i = 0; i < n; i++) {
        if (repo >= 0 && o[i].repo != repo)
            continue;
        sel++;
        prf[o[i].gold].support++;
        prf[o[i].pred].predicted++;
        if (o[i].gold == o[i].pred) {
            prf[o[i].gold].tp++;
            ok++;
        }
    }
    for (size_t c = 0; c < classes->n; c++) {
        struct cls_prf *s = &prf[c];

        s->precision = s->predicted ? (double)s->tp / (double)s->predicted : 0;
        s->recall = s->support ? (double)s->tp / (double)s->support : 0;
        s->f1 = s->precision + s->recall > 0
                    ? 2 * s->precision * s->recall / (s->precision + s->recall) : 0;
        if (classes->gold[c] && s->support) {
            macro += s->f1;
            averaged++;
        }
    }
    if (accuracy)
        *accuracy = sel ? (double)ok / (double)sel : 0;
    if (selected)
        *selected = sel;
    return averaged ? macro / (double)averaged : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cls_eval_quantile(double *values, size_t n, double q)
{
    size_t rank;

    if (n == 0)
        return 0;
    qsort(values, n, sizeof(*values), cmp_double);
    /* nearest rank: the smallest value with at least q*n values at or below it */
    rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    return values[(rank > n ? n : rank) - 1];
}

/*---- the report -------------------------------------------------------------*/

static json_t *class_table(const struct cls_eval_names *classes, const struct cls_prf *prf)
{
    json_t *t = json_object();

    for (size_t c = 0; t && c < classes->n; c++) {
        json_t *row = json_pack("{s:f,s:f,s:f,s:I,s:I}", "precision", prf[c].precision,
                                "recall", prf[c].recall, "f1", prf[c].f1, "support",
                                (json_int_t)prf[c].support, "predicted",
                                (json_int_t)prf[c].predicted);
        if (json_object_set_new(t, classes->name[c], row)) {
            json_decref(t);
            return NULL;
        }
    }
    return t;
}

static json_t *confusion(const struct cls_eval_outcome *o, size_t n, size_t k)
{
    size_t *m = calloc(k ? k * k : 1, sizeof(*m));
    json_t *rows = json_array();

    for (size_t i = 0; m && i < n; i++)
        m[(size_t)o[i].gold * k + (size_t)o[i].pred]++;
    for (size_t g = 0; m && rows && g < k; g++) {
        json_t *row = json_array();
        for (size_t p = 0; row && p < k; p++)
            if (json_array_append_new(row, json_integer((json_int_t)m[g * k + p]))) {
                json_decref(row);
                row = NULL;
            }
        if (!row || json_array_append_new(rows, row)) {
            json_decref(rows);
            rows = NULL;
        }
    }
    free(m);
    return rows;
}

static json_t *name_list(const struct cls_eval_names *t)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < t->n; i++)
        if (json_array_append_new(a, json_string(t->name[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *latency(const struct cls_eval_outcome *o, size_t n)
{
    double *v = malloc((n ? n : 1) * sizeof(*v)), sum = 0, p50, p90, p99, max;

    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = o[i].latency_ms;
        sum += v[i];
    }
    /* one statement each: the quantiles sort v, which max reads */
    p50 = cls_eval_quantile(v, n, 0.50);
    p90 = cls_eval_quantile(v, n, 0.90);
    p99 = cls_eval_quantile(v, n, 0.99);
    max = n ? v[n - 1] : 0.0;
    free(v);
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "mean", n ? sum / (double)n : 0.0, "p50", p50,
                     "p90", p90, "p99", p99, "max", max);
}

static json_t *sources(const struct cls_eval_outcome *o, size_t n)
{
    json_t *reasons = json_object();
    size_t llm = 0;

    for (size_t i = 0; reasons && i < n; i++) {
        if (o[i].by_llm) {
            llm++;
        } else if (o[i].fallback[0]) {
            json_int_t had = json_integer_value(json_object_get(reasons, o[i].fallback));
            if (json_object_set_new(reasons, o[i].fallback, json_integer(had + 1))) {
                json_decref(reasons);
                return NULL;
            }
        }
    }
    if (!reasons)
        return NULL;
    return json_pack("{s:I,s:I,s:o}", "llm", (json_int_t)llm, "offline", (json_int_t)(n - llm),
                     "fallback_reasons", reasons);
}

static json_t *usage(const struct cls_eval_outcome *o, size_t n,
                     const struct cls_eval_prices *prices)
{
    long long pt = 0, ct = 0;
    json_t *u;

    for (size_t i = 0; i < n; i++) {
        pt += o[i].prompt_tokens;
        ct += o[i].completion_tokens;
    }
    u = json_pack("{s:I,s:I,s:f}", "prompt_tokens", (json_int_t)pt, "completion_tokens",
                  (json_int_t)ct, "tokens_per_issue", n ? (double)(pt + ct) / (double)n : 0.0);
    if (!u)
        return NULL;
    /* The cost is only claimed when a price was configured. */
    if (prices && (prices->prompt_per_mtok > 0 || prices->completion_per_mtok > 0) && n) {
        double cost = ((double)pt * prices->prompt_per_mtok +
                       (double)ct * prices->completion_per_mtok) / 1e6;
        if (json_object_set_new(u, "cost_per_1000_issues",
                                json_real(cost / (double)n * 1000.0)) ||
            json_object_set_new(u, "cost_total", json_real(cost))) {
            json_decref(u);
            return NULL;
        }
    }
    return u;
}

json_t *cls_eval_report(const struct cls_eval_outcome *o, size_t n,
                        const struct cls_eval_names *classes,
                        const struct cls_eval_names *repos,
                        const struct cls_eval_prices *prices, const char *backend,
                        double wall_s)
{
    struct cls_prf *prf = calloc(classes->n ? classes->n : 1, sizeof(*prf));
    json_t *rep = NULL, *by_repo = json_object();
    double acc, macro, repo_sum = 0;
    size_t sel, repos_scored = 0;

    if (!prf || !by_repo)
        goto fail;
    for (size_t r = 0; r < repos->n; r++) {
        double racc, rmacro = cls_eval_scores(o, n, (int)r, classes, prf, &racc, &sel);
        double p = 0, rc = 0;
        size_t k = 0;

        if (!sel)
            continue;
        for (size_t c = 0; c < classes->n; c++)
            if (classes->gold[c] && prf[c].support) {
                p += prf[c].precision;
                rc += prf[c].recall;
                k++;
            }
        repo_sum += rmacro;
        repos_scored++;
        if (json_object_set_new(by_repo, repos->name[r],
                                json_pack("{s:I,s:f,s:f,s:f,s:f,s:o}", "n", (json_int_t)sel,
                                          "precision", k ? p / (double)k : 0.0, "recall",
                                          k ? rc / (double)k : 0.0, "macro_f1", rmacro,
                                          "accuracy", racc, "classes",
                                          class_table(classes, prf))))
            goto fail;
    }
    macro = cls_eval_scores(o, n, -1, classes, prf, &acc, &sel);
    rep = json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:o,s:O,s:o,s:o,s:o,s:o,s:o}", "backend",
                    backend ? backend : "", "issues", (json_int_t)n, "macro_f1", macro,
                    "macro_f1_repo_mean", repos_scored ? repo_sum / (double)repos_scored : 0.0,
                    "accuracy", acc, "wall_seconds", wall_s, "classes",
                    class_table(classes, prf), "repositories", by_repo, "labels",
                    name_list(classes), "confusion", confusion(o, n, classes->n), "latency_ms",
                    latency(o, n), "sources", sources(o, n), "usage", usage(o, n, prices));
fail:
    json_decref(by_repo);
    free(prf);
    return rep;
}
