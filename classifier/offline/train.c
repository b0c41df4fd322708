/* dispatchai-train: builds the offline classifier's weights file from the
 * labelled CSV (mode "train") and measures it by stratified k-fold
 * cross-validation (mode "eval": per-repository precision/recall/F1,
 * macro-F1, calibration and microseconds per issue), plus "bench". Data
 * handling and fitting live in trainset.c, learning in learn.c, features in
 * featurize.c and the file format in model.c. */
#include "trainset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feature switches of the command line: "--stem 1" sets CLS_FEAT_STEM. */
static const struct {
    const char *opt;
    unsigned flag;
} flag_opts[] = {
    {"--trigrams", CLS_FEAT_BODY_TRIGRAMS}, {"--numclass", CLS_FEAT_NUM_CLASSES},
    {"--stem", CLS_FEAT_STEM},              {"--split", CLS_FEAT_SPLIT},
    {"--code", CLS_FEAT_CODE},              {"--binary", CLS_FEAT_BINARY},
    {"--quote", CLS_FEAT_QUOTE},            {"--code-bigrams", CLS_FEAT_CODE_BIGRAMS},
};

static unsigned flag_of(const char *opt)
{
    for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++)
        if (!strcmp(opt, flag_opts[i].opt))
            return flag_opts[i].flag;
    return 0;
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
static struct prf score(const struct cls_dataset *ds, const float *z, int r)
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

static double repo_avg_macro(const struct cls_dataset *ds, const float *z)
{
    double sum = 0;
    for (unsigned r = 0; r < ds->n_repos; r++)
        sum += score(ds, z, (int)r).macro;
    return ds->n_repos ? sum / ds->n_repos : 0;
}

/* Mean NLL and 10-bin expected calibration error of softmax(z / t). */
static void calibration(const struct cls_dataset *ds, const float *z, const float *t, double *nll,
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

static void print_report(const struct cls_dataset *ds, const struct cls_train_opts *o,
                         const float *z, const int *fold, const struct cls_cv_result *res)
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
    if (res->classified) {
        double n = (double)res->classified;
        printf("speed, 1 thread, %zu held-out issues, full classification (category, "
               "priority, effort, tags, summary, reasoning):\n", res->classified);
        printf("  cls_offline_classify:    %6.2f us/issue CPU (%6.0f issues/s); wall %.2f "
               "us/issue\n", 1e6 * res->cpu / n, n / res->cpu, 1e6 * res->seconds / n);
        printf("  cls_offline_classify_ws: %6.2f us/issue CPU (%6.0f issues/s), workspace "
               "reused\n", 1e6 * res->cpu_ws / n, n / res->cpu_ws);
    }
    printf("model file: %zu bytes (%.2f MB)\n", res->model_bytes,
           (double)res->model_bytes / (1024.0 * 1024.0));
    free(t1);
    free(tc);
}

/*---- modes ------------------------------------------------------------------*/

static int mode_eval(const struct cls_dataset *ds, const struct cls_train_opts *o)
{
    double sum = 0, sumsq = 0, t0 = cls_now_sec();
    int *fold = malloc(ds->n * sizeof(*fold));
    int rc = 0;

    if (!fold)
        return -ENOMEM;
    if (o->loro) {
        struct cls_cv_result res;
        for (size_t i = 0; i < ds->n; i++)
            fold[i] = ds->d[i].repo;
        printf("leave-one-repository-out: each repository scored by a model trained on the "
               "others\n\n");
        rc = cls_cross_validate(ds, o, fold, ds->n_repos, &res);
        if (!rc) {
            struct cls_train_opts o2 = *o;
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
           "meta=%.2f code=%.2f repo-copy=%.2f; LR C=%g, NB alpha=%g beta=%g\nswitches:",
           o->cfg.bits, o->cfg.body_max, o->cfg.blk_weight[CLS_BLK_TITLE],
           o->cfg.blk_weight[CLS_BLK_BODY], o->cfg.blk_weight[CLS_BLK_TCHAR],
           o->cfg.blk_weight[CLS_BLK_META], o->cfg.blk_weight[CLS_BLK_CODE], o->cfg.da_weight,
           o->lr.c, o->nb_alpha, o->nb_beta);
    for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++)
        printf(" %s %d", flag_opts[i].opt, (o->cfg.flags & flag_opts[i].flag) ? 1 : 0);
    printf("\n\n");
    for (unsigned rep = 0; rep < o->repeats; rep++) {
        struct cls_cv_result res;
        double a;
        rc = cls_make_folds(ds, o->folds, o->seed + rep, fold);
        if (!rc)
            rc = cls_cross_validate(ds, o, fold, o->folds, &res);
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
    printf("wall time: %.1f s\n", cls_now_sec() - t0);
    free(fold);
    return rc;
}

static int mode_train(const struct cls_dataset *ds, const struct cls_train_opts *o)
{
    struct cls_cv_result res;
    int *fold = malloc(ds->n * sizeof(*fold)), *y = malloc(ds->n * sizeof(*y));
    bool *use = malloc(ds->n * sizeof(*use));
    unsigned char *img = NULL;
    struct cls_fit f;
    size_t len = 0;
    float t;
    int rc = -ENOMEM;

    if (!fold || !y || !use)
        goto out;
    /* The temperature comes from out-of-fold logits, so it reflects how the
     * model behaves on issues it has not seen. */
    rc = cls_make_folds(ds, o->folds, o->seed, fold);
    if (!rc)
        rc = cls_cross_validate(ds, o, fold, o->folds, &res);
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
    rc = cls_fit_model(ds, use, o, &f);
    if (rc)
        goto out;
    rc = cls_fit_encode(&f, o, t, (unsigned)ds->n, &img, &len);
    cls_fit_free(&f);
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
static int mode_bench(const struct cls_dataset *ds, const struct cls_train_opts *o)
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
        t0 = cls_now_sec();
        c0 = cls_cpu_sec();
        for (size_t i = 0; i < ds->n && !rc; i++) {
            struct dai_classification c;
            rc = cls_offline_classify_ws(m, NULL, &ds->d[i].text, ws, &c);
        }
        best_cpu = fmin(best_cpu, cls_cpu_sec() - c0);
        best = fmin(best, cls_now_sec() - t0);
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
            "  --nb A           NB weighting: smoothing count of the log-count ratios (0 = off)\n"
            "  --nb-beta B      prior scale (1 - B) + B * |log-count ratio|, 0..1\n"
            "  --w-title X --w-body X --w-tchar X --w-meta X --w-code X   block weights (0 = off)\n"
            "  --repo-copy X    weight of the per-repository feature copy (0 = off)\n"
            "  --body-max N     body bytes used\n"
            "  --code 0|1       code-fence and stack-trace lines feed the code block\n"
            "  --quote 0|1      ... and so do quoted '> ' lines\n"
            "  --code-bigrams 0|1   word bigrams in the code block too\n"
            "  --trigrams 0|1   body word trigrams\n"
            "  --numclass 0|1   collapse numbers of 3+ digits\n"
            "  --stem 0|1       light suffix stripping of words\n"
            "  --split 0|1      camelCase/snake_case words also add their parts\n"
            "  --binary 0|1     term frequency 1 instead of 1 + ln tf\n"
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

static void default_opts(struct cls_train_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.bits = 18;
    o->cfg.body_max = 2000;
    o->cfg.flags = CLS_FEAT_NUM_CLASSES | CLS_FEAT_CODE;
    o->cfg.blk_weight[CLS_BLK_TITLE] = 0.5f;
    o->cfg.blk_weight[CLS_BLK_BODY] = 1.0f;
    o->cfg.blk_weight[CLS_BLK_TCHAR] = 0.0f;
    o->cfg.blk_weight[CLS_BLK_META] = 0.5f;
    o->cfg.blk_weight[CLS_BLK_CODE] = 1.0f;
    o->cfg.da_weight = 1.0f;
    o->lr.c = 10;
    o->nb_alpha = 1;
    o->nb_beta = 1;
    o->lr.max_iter = 300;
    o->lr.tol = 1e-6;
    o->lr.history = 8;
    o->folds = 5;
    o->seed = 42;
    o->repeats = 1;
}

static int parse_args(int argc, char **argv, struct cls_train_opts *o)
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
        else if (!strcmp(a, "--nb"))
            o->nb_alpha = v;
        else if (!strcmp(a, "--nb-beta") && v <= 1)
            o->nb_beta = v;
        else if (!strcmp(a, "--w-code") && v <= 100)
            o->cfg.blk_weight[CLS_BLK_CODE] = (float)v;
        else if (flag_of(a) && v <= 1)
            o->cfg.flags = v ? (o->cfg.flags | flag_of(a)) : (o->cfg.flags & ~flag_of(a));
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
    struct cls_train_opts o;
    struct cls_dataset ds;
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    rc = cls_dataset_load(o.data, &ds);
    if (!rc)
        rc = cls_dataset_extract(&ds, &o.cfg);
    if (!rc && ds.n < o.folds) {
        fprintf(stderr, "dispatchai-train: %zu issues are too few for %u folds\n", ds.n, o.folds);
        rc = DAI_EINVAL;
    }
    if (!rc)
        rc = !strcmp(o.mode, "train")   ? mode_train(&ds, &o)
             : !strcmp(o.mode, "bench") ? mode_bench(&ds, &o)
                                        : mode_eval(&ds, &o);
    cls_dataset_free(&ds);
    /* every other failure was reported where it happened */
    if (rc == -ENOMEM)
        fprintf(stderr, "dispatchai-train: out of memory\n");
    return rc ? 1 : 0;
}
