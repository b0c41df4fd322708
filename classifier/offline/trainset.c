/* The trainer's data side: CSV rows to labelled documents, raw feature
 * counts, stratified folds, one fit (document frequencies, TF-IDF rows with
 * per-repository copies, NB log-count ratios, logistic regression) and k-fold
 * cross-validation scored through the shipped path. Reporting and the
 * command line are in train.c. */
#include "trainset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double cls_now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared, busy machine the fairer measure of
 * single-threaded cost than wall time. */
double cls_cpu_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: a fixed, portable PRNG so folds are the same everywhere */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*---- data -------------------------------------------------------------------*/

static int label_of(const char *s)
{
    static const char *const class_names[CLS_N_CLASSES] = {"bug", "feature", "question"};

    for (int c = 0; c < CLS_N_CLASSES; c++)
        if (!strcmp(s, class_names[c]))
            return c;
    return -1;
}

int cls_dataset_load(const char *path, struct cls_dataset *ds)
{
    char err[256];
    int rc, crepo, clabel, ctitle, cbody;

    memset(ds, 0, sizeof(*ds));
    rc = cls_csv_read_file(path, &ds->csv, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "dispatchai-train: %s\n", err);
        return rc;
    }
    crepo = cls_csv_column(&ds->csv, "repo");
    clabel = cls_csv_column(&ds->csv, "label");
    ctitle = cls_csv_column(&ds->csv, "title");
    cbody = cls_csv_column(&ds->csv, "body");
    if (crepo < 0 || clabel < 0 || ctitle < 0 || cbody < 0) {
        fprintf(stderr, "dispatchai-train: %s: need columns repo, label, title, body\n", path);
        return DAI_EPARSE;
    }
    ds->d = calloc(ds->csv.n_rows, sizeof(*ds->d));
    if (!ds->d)
        return -ENOMEM;
    for (size_t r = 1; r < ds->csv.n_rows; r++) {
        const struct cls_csv_row *row = &ds->csv.rows[r];
        struct cls_doc *d = &ds->d[ds->n];
        int y;
        unsigned k;

        if (row->n == 1 && row->len[0] == 0)
            continue; /* blank line */
        if (row->n != ds->csv.rows[0].n) {
            fprintf(stderr, "dispatchai-train: %s: record %zu has %zu fields\n", path, r, row->n);
            return DAI_EPARSE;
        }
        y = label_of(row->field[clabel]);
        if (y < 0) {
            fprintf(stderr, "dispatchai-train: record %zu: unknown label '%s'\n", r,
                    row->field[clabel]);
            return DAI_EPARSE;
        }
        for (k = 0; k < ds->n_repos; k++)
            if (!strcmp(ds->repos[k], row->field[crepo]))
                break;
        if (k == ds->n_repos) {
            if (k == CLS_MAX_REPOS || strlen(row->field[crepo]) >= CLS_REPO_LEN) {
                fprintf(stderr, "dispatchai-train: too many or too long repository names\n");
                return DAI_EINVAL;
            }
            ds->repos[ds->n_repos++] = row->field[crepo];
        }
        d->y = y;
        d->repo = (int)k;
        d->text.title = row->field[ctitle];
        d->text.title_len = row->len[ctitle];
        d->text.body = row->field[cbody];
        d->text.body_len = row->len[cbody];
        d->text.repo = row->field[crepo];
        ds->n++;
    }
    return 0;
}

int cls_dataset_extract(struct cls_dataset *ds, const struct cls_feat_cfg *cfg)
{
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_lexicon lex;

    if (!b)
        return -ENOMEM;
    cls_lexicon_init(&lex);
    for (size_t i = 0; i < ds->n; i++) {
        struct cls_doc *d = &ds->d[i];
        cls_feat_extract(cfg, &lex, &d->text, b);
        free(d->f);
        d->f = malloc((b->n ? b->n : 1) * sizeof(*d->f));
        if (!d->f) {
            free(b);
            return -ENOMEM;
        }
        memcpy(d->f, b->v, b->n * sizeof(*d->f));
        d->nf = b->n;
    }
    free(b);
    return 0;
}

void cls_dataset_free(struct cls_dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++)
        free(ds->d[i].f);
    free(ds->d);
    cls_csv_free(&ds->csv);
}

/* Stratified folds: each (repository, label) group is shuffled with the seed
 * and dealt round-robin, so every fold holds the same mix. */
int cls_make_folds(const struct cls_dataset *ds, unsigned k, unsigned long seed, int *fold)
{
    size_t *idx = malloc((ds->n ? ds->n : 1) * sizeof(*idx));
    uint64_t s = seed;
    unsigned deal = 0;

    if (!idx)
        return -ENOMEM;
    for (unsigned r = 0; r < ds->n_repos; r++)
        for (int c = 0; c < CLS_N_CLASSES; c++) {
            size_t m = 0;
            for (size_t i = 0; i < ds->n; i++)
                if (ds->d[i].repo == (int)r && ds->d[i].y == c)
                    idx[m++] = i;
            for (size_t i = m; i > 1; i--) {
                size_t j = (size_t)(rng_next(&s) % i), t = idx[i - 1];
                idx[i - 1] = idx[j];
                idx[j] = t;
            }
            /* continue dealing where the previous group stopped so fold sizes stay even */
            for (size_t i = 0; i < m; i++)
                fold[idx[i]] = (int)(deal++ % k);
        }
    free(idx);
    return 0;
}

/*---- fitting ----------------------------------------------------------------*/

void cls_fit_free(struct cls_fit *f)
{
    free(f->w);
    free(f->idf);
    memset(f, 0, sizeof(*f));
}

/* NB weighting after Wang & Manning (2012), one class against the rest:
 * r[j][c] = log((a + p[j][c]) / |a + p[.][c]|) - log((a + q[j][c]) / |a + q[.][c]|)
 * where p counts the training documents of class c holding column j and q
 * those of the other classes. Returned as the prior scale
 * (1 - beta) + beta * |r| of each column and class, so words that tell the
 * classes apart are shrunk less than words every class uses. New or NULL. */
static float *nb_scale(const size_t *rowptr, const uint32_t *col, const float *val,
                       const int *y, size_t n_rows, size_t n_cols, double a, double beta)
{
    double *cnt = calloc(n_cols * CLS_N_CLASSES, sizeof(*cnt));
    float *sc = malloc(n_cols * CLS_N_CLASSES * sizeof(*sc));
    double pn[CLS_N_CLASSES] = {0}, qn[CLS_N_CLASSES] = {0};

    if (!cnt || !sc) {
        free(cnt);
        free(sc);
        return NULL;
    }
    for (size_t i = 0; i < n_rows; i++)
        for (size_t j = rowptr[i]; j < rowptr[i + 1]; j++)
            if (val[j] > 0)
                cnt[(size_t)col[j] * CLS_N_CLASSES + y[i]] += 1;
    for (size_t j = 0; j < n_cols; j++) {
        const double *cj = cnt + j * CLS_N_CLASSES;
        double all = cj[0] + cj[1] + cj[2];
        for (int c = 0; c < CLS_N_CLASSES; c++) {
            pn[c] += a + cj[c];
            qn[c] += a + all - cj[c];
        }
    }
    for (size_t j = 0; j < n_cols; j++) {
        const double *cj = cnt + j * CLS_N_CLASSES;
        double all = cj[0] + cj[1] + cj[2];
        for (int c = 0; c < CLS_N_CLASSES; c++) {
            double r = log((a + cj[c]) / pn[c]) - log((a + all - cj[c]) / qn[c]);
            sc[j * CLS_N_CLASSES + c] = (float)((1 - beta) + beta * fabs(r));
        }
    }
    free(cnt);
    return sc;
}

/* Fit on the documents with use[i] set. */
int cls_fit_model(const struct cls_dataset *ds, const bool *use, const struct cls_train_opts *o,
                  struct cls_fit *out)
{
    const struct cls_feat_cfg *cfg = &o->cfg;
    size_t rows = (size_t)1 << cfg->bits, n_train = 0, nnz = 0, n_cols = 0;
    uint32_t *stamp = NULL, *col = NULL;
    int16_t *idfq = NULL;
    float idf_scale;
    int32_t *colmap = NULL, repo_map[CLS_MAX_REPOS];
    size_t *rowptr = NULL;
    float *val = NULL, *wc = NULL, *nbs = NULL;
    int *y = NULL;
    struct cls_feat_buf *b = NULL;
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    out->w = calloc(rows * 3, sizeof(float));
    out->idf = calloc(rows, sizeof(float));
    stamp = calloc(rows, sizeof(*stamp));
    idfq = malloc(rows * sizeof(*idfq));
    colmap = malloc(rows * sizeof(*colmap));
    b = calloc(1, sizeof(*b));
    if (!out->w || !out->idf || !stamp || !idfq || !colmap || !b)
        goto fail;
    /* repositories with their own feature copies: those present in training */
    for (unsigned r = 0; r < ds->n_repos; r++) {
        repo_map[r] = -1;
        for (size_t i = 0; i < ds->n; i++)
            if (use[i] && ds->d[i].repo == (int)r) {
                repo_map[r] = (int32_t)out->n_repos;
                out->repos[out->n_repos++] = ds->repos[r];
                break;
            }
    }
    /* document frequencies → smoothed idf, as in scikit-learn */
    for (size_t i = 0; i < ds->n; i++) {
        if (!use[i])
            continue;
        n_train++;
        for (size_t j = 0; j < ds->d[i].nf; j++) {
            uint32_t r = ds->d[i].f[j].idx;
            if (stamp[r] != i + 1) {
                stamp[r] = (uint32_t)(i + 1);
                out->idf[r] += 1.0f;
            }
        }
        nnz += ds->d[i].nf * 2;
    }
    for (size_t r = 0; r < rows; r++)
        out->idf[r] = out->idf[r] > 0
                          ? (float)(log((1.0 + (double)n_train) / (1.0 + out->idf[r])) + 1.0)
                          : 0.0f;
    /* train on the idf the shipped model will use, quantisation included */
    cls_model_quantize_idf(out->idf, rows, idfq, &idf_scale);
    rowptr = malloc((n_train + 1) * sizeof(*rowptr));
    col = malloc((nnz ? nnz : 1) * sizeof(*col));
    val = malloc((nnz ? nnz : 1) * sizeof(*val));
    y = malloc((n_train ? n_train : 1) * sizeof(*y));
    if (!rowptr || !col || !val || !y)
        goto fail;
    for (size_t r = 0; r < rows; r++)
        colmap[r] = -1;
    nnz = 0;
    n_train = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int k = repo_map[ds->d[i].repo];
        if (!use[i])
            continue;
        rowptr[n_train] = nnz;
        y[n_train++] = ds->d[i].y;
        memcpy(b->v, ds->d[i].f, ds->d[i].nf * sizeof(*b->v));
        for (size_t j = 0; j < ds->d[i].nf; j++)
            b->v[j].slot = 0; /* scratch table; weigh only clears it */
        b->n = ds->d[i].nf;
        cls_feat_weigh(cfg, idfq, 1, idf_scale, b);
        for (size_t j = 0; j < b->n; j++) {
            uint32_t rr[2] = {b->v[j].idx, 0};
            float vv[2] = {b->v[j].val, b->v[j].val * cfg->da_weight};
            int nr = 1;
            if (cfg->da_weight > 0 && k >= 0) {
                rr[1] = cls_feat_da_row(rr[0], (unsigned)k, cfg->bits);
                nr = 2;
            }
            for (int t = 0; t < nr; t++) {
                if (colmap[rr[t]] < 0)
                    colmap[rr[t]] = (int32_t)n_cols++;
                col[nnz] = (uint32_t)colmap[rr[t]];
                val[nnz++] = vv[t];
            }
        }
    }
    rowptr[n_train] = nnz;
    wc = malloc((n_cols ? n_cols : 1) * 3 * sizeof(*wc));
    if (!wc)
        goto fail;
    if (o->nb_alpha > 0) {
        nbs = nb_scale(rowptr, col, val, y, n_train, n_cols, o->nb_alpha, o->nb_beta);
        if (!nbs)
            goto fail;
    }
    {
        struct cls_sparse x = {rowptr, col, val, y, n_train, n_cols, nbs};
        rc = cls_lr_train(&x, CLS_N_CLASSES, &o->lr, wc, out->bias);
        if (rc)
            goto fail;
    }
    for (size_t r = 0; r < rows; r++)
        if (colmap[r] >= 0)
            memcpy(out->w + r * 3, wc + (size_t)colmap[r] * 3, 3 * sizeof(float));
    if (o->verbose)
        fprintf(stderr, "  fit: %zu docs, %zu columns, %zu non-zeros\n", n_train, n_cols, nnz);
    rc = 0;
    goto done;
fail:
    cls_fit_free(out);
done:
    free(stamp);
    free(idfq);
    free(colmap);
    free(b);
    free(rowptr);
    free(col);
    free(val);
    free(y);
    free(wc);
    free(nbs);
    return rc;
}

/* Encode a fit into a file image (quantised as shipped). */
int cls_fit_encode(const struct cls_fit *f, const struct cls_train_opts *o, float temperature,
                   unsigned n, unsigned char **img, size_t *len)
{
    struct cls_model_params p = {
        .cfg = o->cfg, .w = f->w, .idf = f->idf, .temperature = temperature,
        .n_train = n, .n_repos = f->n_repos, .repos = f->repos,
    };
    memcpy(p.bias, f->bias, sizeof(p.bias));
    return cls_model_encode(&p, img, len);
}

/*---- cross-validation -------------------------------------------------------*/

int cls_cross_validate(const struct cls_dataset *ds, const struct cls_train_opts *o,
                       const int *fold, unsigned n_folds, struct cls_cv_result *res)
{
    bool *use = malloc(ds->n * sizeof(*use));
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_offline_ws *ws = cls_offline_ws_new();
    int rc = -ENOMEM;

    memset(res, 0, sizeof(*res));
    res->z = malloc(ds->n * 3 * sizeof(float));
    if (!use || !b || !ws || !res->z)
        goto out;
    for (unsigned k = 0; k < n_folds; k++) {
        struct cls_fit f;
        unsigned char *img = NULL;
        size_t len = 0, n_tr = 0;
        struct cls_offline_model *m;
        char err[256];
        double t0, c0;

        for (size_t i = 0; i < ds->n; i++) {
            use[i] = fold[i] != (int)k;
            n_tr += use[i];
        }
        if (n_tr == ds->n)
            continue; /* empty fold */
        rc = cls_fit_model(ds, use, o, &f);
        if (rc)
            goto out;
        rc = cls_fit_encode(&f, o, 1.0f, (unsigned)n_tr, &img, &len);
        cls_fit_free(&f);
        if (rc)
            goto out;
        m = cls_model_decode(img, len, err, sizeof(err));
        free(img);
        if (!m) {
            fprintf(stderr, "dispatchai-train: %s\n", err);
            rc = DAI_EINVAL;
            goto out;
        }
        res->model_bytes = len;
        for (size_t i = 0; i < ds->n; i++)
            if (!use[i])
                cls_model_logits(m, &ds->d[i].text, b, res->z + i * 3);
        /* timing: the public entry point, one issue at a time, single thread */
        t0 = cls_now_sec();
        c0 = cls_cpu_sec();
        for (size_t i = 0; i < ds->n; i++) {
            struct dai_classification c;
            if (use[i])
                continue;
            rc = cls_offline_classify(m, NULL, &ds->d[i].text, &c);
            if (rc) {
                cls_offline_free(m);
                goto out;
            }
            res->classified++;
        }
        res->seconds += cls_now_sec() - t0;
        res->cpu += cls_cpu_sec() - c0;
        c0 = cls_cpu_sec();
        for (size_t i = 0; i < ds->n; i++) {
            struct dai_classification c;
            if (use[i])
                continue;
            rc = cls_offline_classify_ws(m, NULL, &ds->d[i].text, ws, &c);
            if (rc) {
                cls_offline_free(m);
                goto out;
            }
        }
        res->cpu_ws += cls_cpu_sec() - c0;
        cls_offline_free(m);
    }
    rc = 0;
out:
    if (rc) {
        free(res->z);
        res->z = NULL;
    }
    free(use);
    free(b);
    cls_offline_ws_free(ws);
    return rc;
}
