/* dispatchai-train: builds the offline classifier's weights file from the
 * labelled CSV (mode "train") and measures it by stratified k-fold
 * cross-validation (mode "eval": per-repository precision/recall/F1,
 * macro-F1, calibration and microseconds per issue). Feature extraction,
 * learning and the file format live in features.c, learn.c and model.c. */
#include "csv.h"
#include "learn.h"
#include "model.h"
#include "offline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const class_names[CLS_N_CLASSES] = {"bug", "feature", "question"};

struct doc {
    struct cls_issue_text text;
    int y;
    int repo;          /* index into the data set's repository list */
    struct cls_feat *f; /* raw counts, fold-independent */
    size_t nf;
};

struct opts {
    const char *mode;
    const char *data;
    const char *out;
    struct cls_feat_cfg cfg;
    struct cls_lr_opts lr;
    unsigned folds;
    unsigned long seed;
    unsigned repeats;
    bool loro;
    bool verbose;
};

struct dataset {
    struct cls_csv csv;
    struct doc *d;
    size_t n;
    const char *repos[CLS_MAX_REPOS];
    unsigned n_repos;
};

/* A fitted fold: full-size tables ready for cls_model_encode. */
struct fit {
    float *w;
    float *idf;
    float bias[CLS_N_CLASSES];
    const char *repos[CLS_MAX_REPOS];
    unsigned n_repos;
};

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared, busy machine the fairer measure of
 * single-threaded cost than wall time. */
static double cpu_sec(void)
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
    for (int c = 0; c < CLS_N_CLASSES; c++)
        if (!strcmp(s, class_names[c]))
            return c;
    return -1;
}

static int load_data(const char *path, struct dataset *ds)
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
        struct doc *d = &ds->d[ds->n];
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

static int extract_all(struct dataset *ds, const struct cls_feat_cfg *cfg)
{
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_lexicon lex;

    if (!b)
        return -ENOMEM;
    cls_lexicon_init(&lex);
    for (size_t i = 0; i < ds->n; i++) {
        struct doc *d = &ds->d[i];
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

static void free_data(struct dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++)
        free(ds->d[i].f);
    free(ds->d);
    cls_csv_free(&ds->csv);
}

/* Stratified folds: each (repository, label) group is shuffled with the seed
 * and dealt round-robin, so every fold holds the same mix. */
static void make_folds(const struct dataset *ds, unsigned k, unsigned long seed, int *fold)
{
    size_t *idx = malloc(ds->n * sizeof(*idx));
    uint64_t s = seed;
    unsigned deal = 0;

    if (!idx) {
        for (size_t i = 0; i < ds->n; i++)
            fold[i] = (int)(i % k);
        return;
    }
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
}

/*---- fitting ----------------------------------------------------------------*/

static void fit_free(struct fit *f)
{
    free(f->w);
    free(f->idf);
    memset(f, 0, sizeof(*f));
}

/* Fit on the documents with use[i] set. */
static int fit_model(const struct dataset *ds, const bool *use, const struct opts *o,
                     struct fit *out)
{
    const struct cls_feat_cfg *cfg = &o->cfg;
    size_t rows = (size_t)1 << cfg->bits, n_train = 0, nnz = 0, n_cols = 0;
    uint32_t *stamp = NULL, *col = NULL;
    int16_t *idfq = NULL;
    float idf_scale;
    int32_t *colmap = NULL, repo_map[CLS_MAX_REPOS];
    size_t *rowptr = NULL;
    float *val = NULL, *wc = NULL;
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
    {
        struct cls_sparse x = {rowptr, col, val, y, n_train, n_cols};
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
    fit_free(out);
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
    return rc;
}

/* Encode a fit into a file image (quantised as shipped). */
static int encode_fit(const struct fit *f, const struct opts *o, float temperature, unsigned n,
                      unsigned char **img, size_t *len)
{
    struct cls_model_params p = {
        .cfg = o->cfg, .w = f->w, .idf = f->idf, .temperature = temperature,
        .n_train = n, .n_repos = f->n_repos, .repos = f->repos,
    };
    memcpy(p.bias, f->bias, sizeof(p.bias));
    return cls_model_encode(&p, img, len);
}

/*---- cross-validation -------------------------------------------------------*/

struct cv_result {
    float *z;        /* out-of-fold logits, n * 3 */
    double seconds;  /* time spent in cls_offline_classify */
    double seconds_ws; /* ... in cls_offline_classify_ws with one reused workspace */
    size_t classified;
    size_t model_bytes;
};

/* k-fold CV: for every fold, fit on the others and score the fold through the
 * shipped path (encode → decode → cls_offline_classify). */
static int cross_validate(const struct dataset *ds, const struct opts *o, unsigned long seed,
                          const int *fold_in, unsigned n_folds, struct cv_result *res)
{
    int *fold = malloc(ds->n * sizeof(*fold));
    bool *use = malloc(ds->n * sizeof(*use));
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_offline_ws *ws = cls_offline_ws_new();
    int rc = -ENOMEM;

    memset(res, 0, sizeof(*res));
    res->z = malloc(ds->n * 3 * sizeof(float));
    if (!fold || !use || !b || !ws || !res->z)
        goto out;
    if (fold_in)
        memcpy(fold, fold_in, ds->n * sizeof(*fold));
    else
        make_folds(ds, n_folds, seed, fold);
    for (unsigned k = 0; k < n_folds; k++) {
        struct fit f;
        unsigned char *img = NULL;
        size_t len = 0, n_tr = 0;
        struct cls_offline_model *m;
        char err[256];
        double t0;

        for (size_t i = 0; i < ds->n; i++) {
            use[i] = fold[i] != (int)k;
            n_tr += use[i];
        }
        if (n_tr == ds->n)
            continue; /* empty fold */
        rc = fit_model(ds, use, o, &f);
        if (rc)
            goto out;
        rc = encode_fit(&f, o, 1.0f, (unsigned)n_tr, &img, &len);
        fit_free(&f);
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
        t0 = now_sec();
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
        res->seconds += now_sec() - t0;
        t0 = now_sec();
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
        res->seconds_ws += now_sec() - t0;
        cls_offline_free(m);
    }
    rc = 0;
out:
    if (rc) {
        free(res->z);
        res->z = NULL;
    }
    free(fold);
    free(use);
    free(b);
    cls_offline_ws_free(ws);
    return rc;
}

/*---- metrics ----------------------------------------------------------------*/

struct prf {
    double p[CLS_N_CLASSES], r[CLS_N_CLASSES], f[CLS_N_CLASSES], macro, acc;
    size_t n;
};

static int argmax3(const float *z)
{
    int best = 0;
    for (int c = 1; c < CLS_N_CLASSES; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* Scores over documents of repository r (r < 0: all). */
static struct prf score(const struct dataset *ds, const float *z, int r)
{
    size_t tp[CLS_N_CLASSES] = {0}, pred[CLS_N_CLASSES] = {0}, gold[CLS_N_CLASSES] = {0}, ok = 0;
    struct prf s;

    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < ds->n; i++) {
        int p;
        if (r >= 0 && ds->d[i].repo != r)
            continue;
        p = argmax3(z + i * 3);
        pred[p]++;
        gold[ds->d[i].y]++;
        if (p == ds->d[i].y) {
            tp[p]++;
            ok++;
        }
        s.n++;
    }
    for (int c = 0; c < CLS_N_CLASSES; c++) {
        s.p[c] = pred[c] ? (double)tp[c] / (double)pred[c] : 0;
        s.r[c] = gold[c] ? (double)tp[c] / (double)gold[c] : 0;
        s.f[c] = s.p[c] + s.r[c] > 0 ? 2 * s.p[c] * s.r[c] / (s.p[c] + s.r[c]) : 0;
        s.macro += s.f[c] / CLS_N_CLASSES;
    }
    s.acc = s.n ? (double)ok / (double)s.n : 0;
    return s;
}

static double repo_avg_macro(const struct dataset *ds, const float *z)
{
    double sum = 0;
    for (unsigned r = 0; r < ds->n_repos; r++)
        sum += score(ds, z, (int)r).macro;
    return ds->n_repos ? sum / ds->n_repos : 0;
}

/* Mean NLL and 10-bin expected calibration error of softmax(z / t). */
static void calibration(const struct dataset *ds, const float *z, const float *t, double *nll,
                        double *ece)
{
    double bin_conf[10] = {0}, bin_acc[10] = {0};
    size_t bin_n[10] = {0};

    *nll = 0;
    *ece = 0;
    for (size_t i = 0; i < ds->n; i++) {
        float p[CLS_N_CLASSES];
        int a;
        unsigned bin;
        cls_softmax(z + i * 3, t[i], p);
        a = argmax3(p);
        *nll -= log(fmax(p[ds->d[i].y], 1e-12));
        bin = (unsigned)(p[a] * 10);
        if (bin > 9)
            bin = 9;
        bin_conf[bin] += p[a];
        bin_acc[bin] += a == ds->d[i].y;
        bin_n[bin]++;
    }
    for (int k = 0; k < 10; k++)
        if (bin_n[k])
            *ece += fabs(bin_acc[k] - bin_conf[k]) / (double)ds->n;
    *nll /= (double)ds->n;
}

static void print_report(const struct dataset *ds, const struct opts *o, const float *z,
                         const int *fold, const struct cv_result *res)
{
    double avg = 0, qavg = 0, nll1, ece1, nllt, ecet;
    float *t1 = malloc(ds->n * sizeof(float)), *tc = malloc(ds->n * sizeof(float));
    struct prf all = score(ds, z, -1);

    printf("%-24s %-17s %-17s %-17s %8s %6s\n", "repository", "bug P/R/F1", "feature P/R/F1",
           "question P/R/F1", "macro-F1", "acc");
    for (unsigned r = 0; r <= ds->n_repos; r++) {
        struct prf s = r < ds->n_repos ? score(ds, z, (int)r) : all;
        printf("%-24s", r < ds->n_repos ? ds->repos[r] : "(all issues pooled)");
        for (int c = 0; c < CLS_N_CLASSES; c++)
            printf(" %.2f/%.2f/%.3f   ", s.p[c], s.r[c], s.f[c]);
        printf(" %8.3f %6.3f\n", s.macro, s.acc);
        if (r < ds->n_repos) {
            avg += s.macro / ds->n_repos;
            qavg += s.f[CLS_QUESTION] / ds->n_repos;
        }
    }
    printf("\nmacro-F1 averaged over the %u repositories: %.3f\n", ds->n_repos, avg);
    printf("question F1: %.3f averaged over repositories, %.3f pooled\n", qavg,
           all.f[CLS_QUESTION]);
    if (t1 && tc && fold) {
        /* cross-fitted temperature: fold k's issues use a temperature fitted
         * on the out-of-fold logits of the other folds */
        for (unsigned k = 0; k < o->folds; k++) {
            size_t m = 0;
            float *zz = malloc(ds->n * 3 * sizeof(float));
            int *yy = malloc(ds->n * sizeof(int));
            float t;
            if (!zz || !yy) {
                free(zz);
                free(yy);
                break;
            }
            for (size_t i = 0; i < ds->n; i++)
                if (fold[i] != (int)k) {
                    memcpy(zz + m * 3, z + i * 3, 3 * sizeof(float));
                    yy[m++] = ds->d[i].y;
                }
            t = cls_fit_temperature(zz, yy, m);
            for (size_t i = 0; i < ds->n; i++) {
                t1[i] = 1.0f;
                if (fold[i] == (int)k)
                    tc[i] = t;
            }
            free(zz);
            free(yy);
        }
        calibration(ds, z, t1, &nll1, &ece1);
        calibration(ds, z, tc, &nllt, &ecet);
        printf("calibration: NLL %.3f / ECE %.3f at T=1; NLL %.3f / ECE %.3f with the "
               "cross-fitted temperature\n", nll1, ece1, nllt, ecet);
    }
    if (res->classified)
        printf("speed: %.2f us/issue (%.0f issues/s), cls_offline_classify, 1 thread, %zu "
               "issues\n", 1e6 * res->seconds / (double)res->classified,
               (double)res->classified / res->seconds, res->classified);
    if (res->classified)
        printf("speed: %.2f us/issue (%.0f issues/s), cls_offline_classify_ws (reused "
               "workspace), 1 thread\n", 1e6 * res->seconds_ws / (double)res->classified,
               (double)res->classified / res->seconds_ws);
    printf("model file: %zu bytes (%.2f MB)\n", res->model_bytes,
           (double)res->model_bytes / (1024.0 * 1024.0));
    free(t1);
    free(tc);
}

/*---- modes ------------------------------------------------------------------*/

static int mode_eval(const struct dataset *ds, const struct opts *o)
{
    double sum = 0, sumsq = 0, t0 = now_sec();
    int *fold = malloc(ds->n * sizeof(*fold));
    int rc = 0;

    if (!fold)
        return -ENOMEM;
    if (o->loro) {
        struct cv_result res;
        for (size_t i = 0; i < ds->n; i++)
            fold[i] = ds->d[i].repo;
        printf("leave-one-repository-out: each repository scored by a model trained on the "
               "others\n\n");
        rc = cross_validate(ds, o, o->seed, fold, ds->n_repos, &res);
        if (!rc) {
            struct opts o2 = *o;
            o2.folds = ds->n_repos;
            print_report(ds, &o2, res.z, fold, &res);
            free(res.z);
        }
        free(fold);
        return rc;
    }
    printf("%u-fold stratified cross-validation (seed %lu%s), %zu issues, %u repositories\n",
           o->folds, o->seed, o->repeats > 1 ? ", first repeat" : "", ds->n, ds->n_repos);
    printf("features: bits=%u body_max=%u weights title=%.2f body=%.2f title-chars=%.2f "
           "meta=%.2f repo-copy=%.2f trigrams=%s; LR C=%g\n\n", o->cfg.bits, o->cfg.body_max,
           o->cfg.blk_weight[CLS_BLK_TITLE], o->cfg.blk_weight[CLS_BLK_BODY],
           o->cfg.blk_weight[CLS_BLK_TCHAR], o->cfg.blk_weight[CLS_BLK_META], o->cfg.da_weight,
           o->cfg.flags & CLS_FEAT_BODY_TRIGRAMS ? "yes" : "no", o->lr.c);
    for (unsigned rep = 0; rep < o->repeats; rep++) {
        struct cv_result res;
        double a;
        make_folds(ds, o->folds, o->seed + rep, fold);
        rc = cross_validate(ds, o, o->seed + rep, fold, o->folds, &res);
        if (rc)
            break;
        a = repo_avg_macro(ds, res.z);
        sum += a;
        sumsq += a * a;
        if (rep == 0)
            print_report(ds, o, res.z, fold, &res);
        else
            printf("repeat %u (seed %lu): macro-F1 averaged over repositories %.3f\n", rep,
                   o->seed + rep, a);
        free(res.z);
    }
    if (!rc && o->repeats > 1) {
        double mean = sum / o->repeats;
        printf("mean over %u repeats: %.4f (sd %.4f)\n", o->repeats, mean,
               sqrt(fmax(0, sumsq / o->repeats - mean * mean)));
    }
    printf("wall time: %.1f s\n", now_sec() - t0);
    free(fold);
    return rc;
}

static int mode_train(const struct dataset *ds, const struct opts *o)
{
    struct cv_result res;
    int *fold = malloc(ds->n * sizeof(*fold)), *y = malloc(ds->n * sizeof(*y));
    bool *use = malloc(ds->n * sizeof(*use));
    unsigned char *img = NULL;
    struct fit f;
    size_t len = 0;
    float t;
    int rc = -ENOMEM;

    if (!fold || !y || !use)
        goto out;
    /* The temperature comes from out-of-fold logits, so it reflects how the
     * model behaves on issues it has not seen. */
    make_folds(ds, o->folds, o->seed, fold);
    rc = cross_validate(ds, o, o->seed, fold, o->folds, &res);
    if (rc)
        goto out;
    for (size_t i = 0; i < ds->n; i++) {
        y[i] = ds->d[i].y;
        use[i] = true;
    }
    t = cls_fit_temperature(res.z, y, ds->n);
    fprintf(stderr, "dispatchai-train: cross-validated macro-F1 %.3f, temperature %.3f\n",
            repo_avg_macro(ds, res.z), t);
    free(res.z);
    rc = fit_model(ds, use, o, &f);
    if (rc)
        goto out;
    rc = encode_fit(&f, o, t, (unsigned)ds->n, &img, &len);
    fit_free(&f);
    if (rc)
        goto out;
    if (len > CLS_MODEL_MAX_BYTES) {
        fprintf(stderr, "dispatchai-train: model is %zu bytes, over the 5 MB cap\n", len);
        rc = DAI_ETOOBIG;
        goto out;
    }
    rc = cls_model_write(o->out, img, len);
    if (rc) {
        fprintf(stderr, "dispatchai-train: %s: %s\n", o->out, strerror(-rc));
        goto out;
    }
    printf("wrote %s: %zu bytes, %zu issues, checksum %08x\n", o->out, len, ds->n,
           cls_crc32(img, len - 4));
out:
    free(img);
    free(fold);
    free(y);
    free(use);
    return rc;
}

/* Time cls_offline_classify_ws over the data set with a weights file. */
static int mode_bench(const struct dataset *ds, const struct opts *o)
{
    char err[256];
    struct cls_offline_model *m = cls_offline_load(o->out, err, sizeof(err));
    struct cls_offline_ws *ws = cls_offline_ws_new();
    double t0, c0, best = 1e9, best_cpu = 1e9;
    int rc = 0;

    if (!m || !ws) {
        fprintf(stderr, "dispatchai-train: %s\n", m ? "out of memory" : err);
        cls_offline_free(m);
        cls_offline_ws_free(ws);
        return DAI_EINVAL;
    }
    for (unsigned rep = 0; rep < o->repeats && !rc; rep++) {
        t0 = now_sec();
        c0 = cpu_sec();
        for (size_t i = 0; i < ds->n && !rc; i++) {
            struct dai_classification c;
            rc = cls_offline_classify_ws(m, NULL, &ds->d[i].text, ws, &c);
        }
        best_cpu = fmin(best_cpu, cpu_sec() - c0);
        best = fmin(best, now_sec() - t0);
    }
    if (!rc)
        printf("%s: best of %u runs over %zu issues, 1 thread: %.2f us/issue wall (%.0f "
               "issues/s), %.2f us/issue CPU (%.0f issues/s)\n", o->out, o->repeats, ds->n,
               1e6 * best / (double)ds->n, (double)ds->n / best,
               1e6 * best_cpu / (double)ds->n, (double)ds->n / best_cpu);
    cls_offline_free(m);
    cls_offline_ws_free(ws);
    return rc;
}

/*---- command line -----------------------------------------------------------*/

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dispatchai-train train --data FILE.csv --out MODEL.bin [options]\n"
            "       dispatchai-train eval  --data FILE.csv [--repeats N] [--loro] [options]\n"
            "       dispatchai-train bench --data FILE.csv --out MODEL.bin [--repeats N]\n"
            "options (defaults are the shipped model's settings):\n"
            "  --bits N         hash table rows 2^N (16..22)\n"
            "  --c X            inverse L2 regularisation of the logistic regression\n"
            "  --iter N         L-BFGS iterations\n"
            "  --w-title X --w-body X --w-tchar X --w-meta X   block weights (0 = off)\n"
            "  --repo-copy X    weight of the per-repository feature copy (0 = off)\n"
            "  --body-max N     body bytes used\n"
            "  --trigrams 0|1   body word trigrams\n"
            "  --numclass 0|1   collapse numbers of 3+ digits\n"
            "  --folds N --seed N   cross-validation folds and seed\n"
            "  --verbose\n");
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void default_opts(struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.bits = 18;
    o->cfg.body_max = 8000;
    o->cfg.flags = 0;
    o->cfg.blk_weight[CLS_BLK_TITLE] = 1.0f;
    o->cfg.blk_weight[CLS_BLK_BODY] = 1.0f;
    o->cfg.blk_weight[CLS_BLK_TCHAR] = 0.0f;
    o->cfg.blk_weight[CLS_BLK_META] = 0.5f;
    o->cfg.da_weight = 1.0f;
    o->lr.c = 10;
    o->lr.max_iter = 300;
    o->lr.tol = 1e-6;
    o->lr.history = 8;
    o->folds = 5;
    o->seed = 42;
    o->repeats = 1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    default_opts(o);
    if (argc < 2)
        return -1;
    o->mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (!strcmp(a, "--loro")) {
            o->loro = true;
            continue;
        }
        if (!strcmp(a, "--verbose")) {
            o->verbose = true;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        if (!strcmp(a, "--data")) {
            o->data = argv[++i];
            continue;
        }
        if (!strcmp(a, "--out")) {
            o->out = argv[++i];
            continue;
        }
        if (parse_num(argv[++i], 0, 1e9, &v)) {
            fprintf(stderr, "dispatchai-train: bad value for %s\n", a);
            return -1;
        }
        if (!strcmp(a, "--bits") && v >= 16 && v <= 22)
            o->cfg.bits = (unsigned)v;
        else if (!strcmp(a, "--c") && v > 0)
            o->lr.c = v;
        else if (!strcmp(a, "--iter") && v >= 1)
            o->lr.max_iter = (unsigned)v;
        else if (!strcmp(a, "--w-title") && v <= 100)
            o->cfg.blk_weight[CLS_BLK_TITLE] = (float)v;
        else if (!strcmp(a, "--w-body") && v <= 100)
            o->cfg.blk_weight[CLS_BLK_BODY] = (float)v;
        else if (!strcmp(a, "--w-tchar") && v <= 100)
            o->cfg.blk_weight[CLS_BLK_TCHAR] = (float)v;
        else if (!strcmp(a, "--w-meta") && v <= 100)
            o->cfg.blk_weight[CLS_BLK_META] = (float)v;
        else if (!strcmp(a, "--repo-copy") && v <= 100)
            o->cfg.da_weight = (float)v;
        else if (!strcmp(a, "--body-max") && v <= 65536)
            o->cfg.body_max = (unsigned)v;
        else if (!strcmp(a, "--trigrams") && v <= 1)
            o->cfg.flags = v ? (o->cfg.flags | CLS_FEAT_BODY_TRIGRAMS)
                             : (o->cfg.flags & ~CLS_FEAT_BODY_TRIGRAMS);
        else if (!strcmp(a, "--numclass") && v <= 1)
            o->cfg.flags = v ? (o->cfg.flags | CLS_FEAT_NUM_CLASSES)
                             : (o->cfg.flags & ~CLS_FEAT_NUM_CLASSES);
        else if (!strcmp(a, "--folds") && v >= 2 && v <= 100)
            o->folds = (unsigned)v;
        else if (!strcmp(a, "--seed"))
            o->seed = (unsigned long)v;
        else if (!strcmp(a, "--repeats") && v >= 1 && v <= 100)
            o->repeats = (unsigned)v;
        else {
            fprintf(stderr, "dispatchai-train: unknown option or value out of range: %s\n", a);
            return -1;
        }
    }
    if (!o->data ||
        (strcmp(o->mode, "train") && strcmp(o->mode, "eval") && strcmp(o->mode, "bench")) ||
        (strcmp(o->mode, "eval") && !o->out))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct dataset ds;
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    rc = load_data(o.data, &ds);
    if (!rc)
        rc = extract_all(&ds, &o.cfg);
    if (!rc && ds.n < o.folds) {
        fprintf(stderr, "dispatchai-train: %zu issues are too few for %u folds\n", ds.n, o.folds);
        rc = DAI_EINVAL;
    }
    if (!rc)
        rc = !strcmp(o.mode, "train")   ? mode_train(&ds, &o)
             : !strcmp(o.mode, "bench") ? mode_bench(&ds, &o)
                                        : mode_eval(&ds, &o);
    free_data(&ds);
    if (rc && rc != DAI_EPARSE && rc != DAI_EINVAL && rc != DAI_ETOOBIG && rc > -1000)
        fprintf(stderr, "dispatchai-train: %s\n", strerror(-rc));
    return rc ? 1 : 0;
}
