/* Metrics registry: counter, gauge and histogram families with labels, and
 * their updates. Each family has its own mutex and a hash table of children;
 * once a child exists, an update is a hash, a lookup and an add under that
 * mutex, with no allocation. The text exposition is metrics_render.c's job;
 * serving it over HTTP is http.c's. */
#include "metrics_internal.h"

#include <dispatchai/map.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Children per family. Label values come from code, but some (route, status,
 * partition) are derived from input; past the cap new label sets are dropped
 * rather than growing memory without bound. */
#define MAX_CHILDREN 10000

const double dai_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,   0.5,   1,      2.5,   5,    10,   30};
const size_t dai_latency_buckets_n = sizeof(dai_latency_buckets) / sizeof(dai_latency_buckets[0]);

/*---- registry ------------------------------------------------------------*/

struct dai_metrics *dai_metrics_new(void)
{
    struct dai_metrics *reg = calloc(1, sizeof(*reg));

    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->render_mu, NULL);
    return reg;
}

static void family_free(struct dai_metric *f)
{
    struct child *c, *next;

    for (c = f->head; c; c = next) {
        next = c->next;
        free(c);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->table);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void dai_metrics_free(struct dai_metrics *reg)
{
    struct dai_metric *f, *next;

    if (!reg)
        return;
    for (f = reg->head; f; f = next) {
        next = f->next;
        family_free(f);
    }
    free(reg->coll);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->render_mu);
    free(reg);
}

int dai_metrics_on_collect(struct dai_metrics *reg, dai_metrics_collect_fn fn, void *ud)
{
    int rc = 0;

    if (!reg || !fn)
        return DAI_EINVAL;
    pthread_mutex_lock(&reg->mu);
    if (reg->n_coll == reg->cap_coll) {
        size_t ncap = reg->cap_coll ? reg->cap_coll * 2 : 4;
        struct collector *p = realloc(reg->coll, ncap * sizeof(*p));

        if (!p) {
            rc = -ENOMEM;
            goto out;
        }
        reg->coll = p;
        reg->cap_coll = ncap;
    }
    reg->coll[reg->n_coll].fn = fn;
    reg->coll[reg->n_coll].ud = ud;
    reg->n_coll++;
out:
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

/*---- registration --------------------------------------------------------*/

static bool valid_name(const char *s, bool metric)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (metric && c == ':');

        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Split "a, b,c" into trimmed, validated label names (new strings in out). */
static int parse_labels(const char *labels, bool histogram, char **out, size_t *n_out)
{
    const char *p = labels;
    size_t n = 0;

    *n_out = 0;
    if (!labels)
        return 0;
    while (*p) {
        const char *start, *end;
        size_t len;

        while (*p == ' ' || *p == '\t')
            p++;
        start = p;
        while (*p && *p != ',')
            p++;
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        len = (size_t)(end - start);
        if (n == MAX_LABELS || len == 0)
            goto fail;
        out[n] = strndup(start, len);
        if (!out[n])
            goto fail;
        n++;
        /* Names starting with "__" are reserved by Prometheus; "le" is the
         * bucket label of histograms. */
        if (!valid_name(out[n - 1], false) || !strncmp(out[n - 1], "__", 2) ||
            (histogram && !strcmp(out[n - 1], "le")))
            goto fail;
        for (size_t i = 0; i + 1 < n; i++)
            if (!strcmp(out[i], out[n - 1]))
                goto fail;
        if (*p == ',') {
            p++;
            if (!*p)
                goto fail;
        }
    }
    *n_out = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        free(out[i]);
    return DAI_EINVAL;
}

static size_t child_size(const struct dai_metric *f, const char *const *values)
{
    size_t sz = sizeof(struct child) + f->n_labels * sizeof(char *);

    if (f->kind == KIND_HISTOGRAM)
        sz += (f->n_bounds + 1) * sizeof(uint64_t);
    for (size_t i = 0; i < f->n_labels; i++)
        sz += strlen(values[i]) + 1;
    return sz;
}

/* Seeded (map.h): label values can come from requests. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = dai_hash_seed();

    for (size_t i = 0; i < n; i++)
        h = dai_hash64_more(h, values[i], strlen(values[i]));
    return h;
}

/* Double the hash table. Called with f->mu held; on OOM the old table stays. */
static void grow_table(struct dai_metric *f)
{
    size_t nsize = f->table_size * 2;
    struct child **t = calloc(nsize, sizeof(*t));

    if (!t)
        return;
    for (struct child *c = f->head; c; c = c->next) {
        size_t i = (size_t)(c->hash & (nsize - 1));

        c->hnext = t[i];
        t[i] = c;
    }
    free(f->table);
    f->table = t;
    f->table_size = nsize;
}

/* Find the child for these label values, creating it when create is true.
 * Called with f->mu held. NULL when absent (or on OOM / past the cap). */
static struct child *child_get(struct dai_metric *f, const char *const *values, bool create)
{
    uint64_t h = hash_values(values, f->n_labels);
    size_t idx = (size_t)(h & (f->table_size - 1));
    struct child *c;
    char *s;

    for (c = f->table[idx]; c; c = c->hnext) {
        size_t i;

        if (c->hash != h)
            continue;
        for (i = 0; i < f->n_labels; i++)
            if (strcmp(c->values[i], values[i]))
                break;
        if (i == f->n_labels)
            return c;
    }
    if (!create || f->n_children >= MAX_CHILDREN)
        return NULL;
    c = calloc(1, child_size(f, values));
    if (!c)
        return NULL;
    c->hash = h;
    s = (char *)&c->values[f->n_labels];
    if (f->kind == KIND_HISTOGRAM) {
        c->buckets = (uint64_t *)(void *)s;
        s += (f->n_bounds + 1) * sizeof(uint64_t);
    }
    for (size_t i = 0; i < f->n_labels; i++) {
        size_t len = strlen(values[i]) + 1;

        memcpy(s, values[i], len);
        c->values[i] = s;
        s += len;
    }
    c->hnext = f->table[idx];
    f->table[idx] = c;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    f->n_children++;
    if (f->n_children > f->table_size)
        grow_table(f);
    return c;
}

static bool same_shape(const struct dai_metric *f, enum kind kind, char **labels, size_t n,
                       const double *bounds, size_t n_bounds)
{
    if (f->kind != kind || f->n_labels != n || f->n_bounds != n_bounds)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]))
            return false;
    for (size_t i = 0; i < n_bounds; i++)
        if (f->bounds[i] != bounds[i])
            return false;
    return true;
}

static struct dai_metric *family_new(struct dai_metrics *reg, enum kind kind, const char *name,
                                     const char *help, const char *labels, const double *bounds,
                                     size_t n_bounds)
{
    char *lv[MAX_LABELS];
    size_t n_labels = 0;
    struct dai_metric *f = NULL, *found = NULL;
    const char *no_values[1] = {NULL};

    if (!reg || !valid_name(name, true))
        return NULL;
    if (kind == KIND_HISTOGRAM) {
        if (n_bounds == 0 || !bounds)
            return NULL;
        for (size_t i = 0; i < n_bounds; i++)
            if (isnan(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]) ||
                isinf(bounds[i]))
                return NULL;
    }
    if (parse_labels(labels, kind == KIND_HISTOGRAM, lv, &n_labels))
        return NULL;

    pthread_mutex_lock(&reg->mu);
    for (struct dai_metric *g = reg->head; g; g = g->next) {
        if (!strcmp(g->name, name)) {
            found = g;
            break;
        }
    }
    if (found) {
        f = same_shape(found, kind, lv, n_labels, bounds, n_bounds) ? found : NULL;
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        goto out;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->table_size = 16;
    f->table = calloc(f->table_size, sizeof(*f->table));
    if (kind == KIND_HISTOGRAM) {
        f->bounds = malloc(n_bounds * sizeof(double));
        if (f->bounds)
            memcpy(f->bounds, bounds, n_bounds * sizeof(double));
        f->n_bounds = n_bounds;
    }
    pthread_mutex_init(&f->mu, NULL);
    for (size_t i = 0; i < n_labels; i++) {
        f->labels[i] = lv[i];
        lv[i] = NULL;
    }
    f->n_labels = n_labels;
    n_labels = 0;
    if (!f->name || !f->help || !f->table || (kind == KIND_HISTOGRAM && !f->bounds))
        goto oom;
    /* An unlabelled family has exactly one child; create it now so it
     * renders as 0 before the first update, as client libraries do. */
    if (f->n_labels == 0 && !child_get(f, no_values, true))
        goto oom;
    if (reg->tail)
        reg->tail->next = f;
    else
        reg->head = f;
    reg->tail = f;
    goto out;
oom:
    family_free(f);
    f = NULL;
out:
    pthread_mutex_unlock(&reg->mu);
    for (size_t i = 0; i < n_labels; i++)
        free(lv[i]);
    return f;
}

struct dai_metric *dai_metric_counter(struct dai_metrics *reg, const char *name, const char *help,
                                      const char *labels)
{
    return family_new(reg, KIND_COUNTER, name, help, labels, NULL, 0);
}

struct dai_metric *dai_metric_gauge(struct dai_metrics *reg, const char *name, const char *help,
                                    const char *labels)
{
    return family_new(reg, KIND_GAUGE, name, help, labels, NULL, 0);
}

struct dai_metric *dai_metric_histogram(struct dai_metrics *reg, const char *name,
                                        const char *help, const char *labels,
                                        const double *bounds, size_t n_bounds)
{
    return family_new(reg, KIND_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/*---- updates -------------------------------------------------------------*/

/* Gather exactly f->n_labels label values; NULL values become "". */
static void gather(const struct dai_metric *f, va_list ap, const char **values)
{
    for (size_t i = 0; i < f->n_labels; i++) {
        const char *v = va_arg(ap, const char *);

        values[i] = v ? v : "";
    }
}

void dai_metric_add(struct dai_metric *m, double delta, ...)
{
    const char *values[MAX_LABELS];
    struct child *c;
    va_list ap;

    if (!m || m->kind == KIND_HISTOGRAM || isnan(delta))
        return;
    if (m->kind == KIND_COUNTER && delta < 0)
        return;
    va_start(ap, delta);
    gather(m, ap, values);
    va_end(ap);
    pthread_mutex_lock(&m->mu);
    c = child_get(m, values, true);
    if (c)
        c->value += delta;
    pthread_mutex_unlock(&m->mu);
}

void dai_metric_set(struct dai_metric *m, double value, ...)
{
    const char *values[MAX_LABELS];
    struct child *c;
    va_list ap;

    if (!m || m->kind != KIND_GAUGE)
        return;
    va_start(ap, value);
    gather(m, ap, values);
    va_end(ap);
    pthread_mutex_lock(&m->mu);
    c = child_get(m, values, true);
    if (c)
        c->value = value;
    pthread_mutex_unlock(&m->mu);
}

void dai_metric_observe(struct dai_metric *m, double value, ...)
{
    const char *values[MAX_LABELS];
    struct child *c;
    size_t lo = 0, hi;
    va_list ap;

    if (!m || m->kind != KIND_HISTOGRAM || isnan(value))
        return;
    va_start(ap, value);
    gather(m, ap, values);
    va_end(ap);
    /* First bucket whose upper bound is >= value ("le" is inclusive);
     * n_bounds means the +Inf bucket. */
    hi = m->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->bounds[mid] < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    pthread_mutex_lock(&m->mu);
    c = child_get(m, values, true);
    if (c) {
        c->buckets[lo]++;
        c->count++;
        c->value += value;
    }
    pthread_mutex_unlock(&m->mu);
}

double dai_metric_value(struct dai_metric *m, ...)
{
    const char *values[MAX_LABELS];
    struct child *c;
    double v = 0;
    va_list ap;

    if (!m)
        return 0;
    va_start(ap, m);
    gather(m, ap, values);
    va_end(ap);
    pthread_mutex_lock(&m->mu);
    c = child_get(m, values, false);
    if (c)
        v = m->kind == KIND_HISTOGRAM ? (double)c->count : c->value;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void dai_metric_reset(struct dai_metric *m)
{
    struct child *c, *next;

    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->n_labels == 0) {
        /* Keep the single child so the family still renders. */
        c = m->head;
        c->value = 0;
        c->count = 0;
        if (c->buckets)
            memset(c->buckets, 0, (m->n_bounds + 1) * sizeof(uint64_t));
    } else {
        for (c = m->head; c; c = next) {
            next = c->next;
            free(c);
        }
        memset(m->table, 0, m->table_size * sizeof(*m->table));
        m->head = m->tail = NULL;
        m->n_children = 0;
    }
    pthread_mutex_unlock(&m->mu);
}
