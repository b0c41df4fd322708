/* Training-side data handling for dispatchai-train: the labelled data set,
 * fold-independent feature extraction, stratified folds, fitting one model
 * and k-fold cross-validation through the shipped inference path. Used by
 * train.c only; the daemon never links it. */
#ifndef DISPATCHAI_CLS_TRAINSET_H
#define DISPATCHAI_CLS_TRAINSET_H

#include "csv.h"
#include "learn.h"
#include "model.h"

/* One labelled issue; text points into the data set's CSV buffer. */
struct cls_doc {
    struct cls_issue_text text;
    int y;
    int repo;          /* index into the data set's repository list */
    struct cls_feat *f; /* raw counts, fold-independent */
    size_t nf;
};

/* Command-line settings of the trainer. */
struct cls_train_opts {
    const char *mode;
    const char *data;
    const char *out;
    struct cls_feat_cfg cfg;
    struct cls_lr_opts lr;
    double nb_alpha;   /* NB weighting: smoothing count, 0 = off */
    double nb_beta;    /* prior scale (1 - beta) + beta * |log-count ratio| */
    unsigned folds;
    unsigned long seed;
    unsigned repeats;
    bool loro;
    bool verbose;
};

/* The whole CSV; owns the text every cls_doc points into. */
struct cls_dataset {
    struct cls_csv csv;
    struct cls_doc *d;
    size_t n;
    const char *repos[CLS_MAX_REPOS];
    unsigned n_repos;
};

/* A fitted fold: full-size tables ready for cls_model_encode. */
struct cls_fit {
    float *w;
    float *idf;
    float bias[CLS_N_CLASSES];
    const char *repos[CLS_MAX_REPOS];
    unsigned n_repos;
};

/* Result of a cross-validation run; z is new (caller frees). */
struct cls_cv_result {
    float *z;        /* out-of-fold logits, n * 3 */
    double seconds;    /* wall time spent in cls_offline_classify */
    double cpu;        /* ... thread CPU time */
    double cpu_ws;     /* CPU time in cls_offline_classify_ws with one reused workspace */
    size_t classified;
    size_t model_bytes;
};
double cls_now_sec(void);
/* CPU time of this thread: on a shared, busy machine the fairer measure of
 * single-threaded cost than wall time. */
double cls_cpu_sec(void);

/* Read the CSV (columns repo, label, title, body; labels bug/feature/
 * question). 0 or negative; the reason is printed to stderr (a tool). */
DAI_MUST_CHECK int cls_dataset_load(const char *path, struct cls_dataset *ds);
/* Extract raw feature counts of every document with cfg. 0 or -ENOMEM. */
DAI_MUST_CHECK int cls_dataset_extract(struct cls_dataset *ds, const struct cls_feat_cfg *cfg);
void cls_dataset_free(struct cls_dataset *ds);

/* Stratified k-fold assignment (per repository and label), fixed by seed. */
DAI_MUST_CHECK int cls_make_folds(const struct cls_dataset *ds, unsigned k, unsigned long seed,
                                  int *fold);

/* Fit on the documents with use[i] set (idf from those documents only).
 * 0 or -ENOMEM; out's tables are new, release with cls_fit_free. */
DAI_MUST_CHECK int cls_fit_model(const struct cls_dataset *ds, const bool *use,
                                 const struct cls_train_opts *o, struct cls_fit *out);
void cls_fit_free(struct cls_fit *f);
/* Weights-file image of a fit (quantised exactly as shipped); *img is new. */
DAI_MUST_CHECK int cls_fit_encode(const struct cls_fit *f, const struct cls_train_opts *o,
                                  float temperature, unsigned n, unsigned char **img,
                                  size_t *len);

/* k-fold CV with the given fold of each document: every fold is scored by a
 * model fitted on the others, through encode → decode → classify, and timed. */
DAI_MUST_CHECK int cls_cross_validate(const struct cls_dataset *ds,
                                      const struct cls_train_opts *o, const int *fold,
                                      unsigned n_folds, struct cls_cv_result *res);

#endif
