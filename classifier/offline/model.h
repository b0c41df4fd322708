/* The offline classifier's weights: the in-memory model, the versioned
 * binary weights file (header, quantised tables, CRC-32 trailer) and linear
 * scoring. Private to classifier/offline/; the daemon sees only offline.h. */
#ifndef DISPATCHAI_CLS_MODEL_H
#define DISPATCHAI_CLS_MODEL_H

#include "featurize.h"

#define CLS_N_CLASSES 3 /* bug, feature, question: the trained classes */
enum cls_class { CLS_BUG = 0, CLS_FEATURE, CLS_QUESTION };

#define CLS_MAX_REPOS 16
#define CLS_REPO_LEN 64
#define CLS_MODEL_MAGIC "DAIOFFM1"
#define CLS_MODEL_FORMAT 2
#define CLS_MODEL_MAX_BYTES (5u * 1024 * 1024)

struct cls_offline_model {
    struct cls_feat_cfg cfg;
    struct cls_lexicon lex;
    int16_t *tab;         /* 2^bits rows of quantised {w_bug, w_feature, w_question, idf} */
    float wscale[CLS_N_CLASSES]; /* weight = tab[row * 4 + c] * wscale[c] */
    float idf_scale;             /* idf = tab[row * 4 + 3] * idf_scale; 0 = unseen row */
    float bias[CLS_N_CLASSES];
    float temperature;    /* softmax(z / temperature), fitted by cross-validation */
    unsigned n_train;
    unsigned n_repos;     /* repositories with their own feature copies */
    char repos[CLS_MAX_REPOS][CLS_REPO_LEN];
    char version[48];     /* "offline-v<format>-<crc>" */
};

/* Everything a trainer hands to cls_model_encode. Pointers are borrowed. */
struct cls_model_params {
    struct cls_feat_cfg cfg;
    const float *w;       /* 2^bits * 3, row-major */
    const float *idf;     /* 2^bits, 0 = row never seen */
    float bias[CLS_N_CLASSES];
    float temperature;
    unsigned n_train;
    unsigned n_repos;
    const char *const *repos;
};

/* Encode a weights file image. *out is new (caller frees). 0 or -ENOMEM,
 * DAI_EINVAL for out-of-range parameters. */
DAI_MUST_CHECK int cls_model_encode(const struct cls_model_params *p, unsigned char **out,
                                    size_t *len);
/* Decode and validate an image (size, magic, version, CRC, ranges). New model
 * or NULL with the reason in err. */
struct cls_offline_model *cls_model_decode(const unsigned char *buf, size_t len, char *err,
                                           size_t errlen);
/* Write an image atomically (temp file + rename). 0 or -errno. */
DAI_MUST_CHECK int cls_model_write(const char *path, const unsigned char *buf, size_t len);

/* Quantise an idf table to 8 bits (q = 0 only for unseen rows) exactly as
 * the weights file stores it; *scale is the step. */
void cls_model_quantize_idf(const float *idf, size_t rows, int16_t *q, float *scale);

/* Index of repo in the model's repository list (case-insensitive), or -1. */
int cls_model_repo_index(const struct cls_offline_model *m, const char *repo);

/* Extract features of in into b and compute the raw class scores z (before
 * temperature). b->sig holds the signals afterwards. */
void cls_model_logits(const struct cls_offline_model *m, const struct cls_issue_text *in,
                      struct cls_feat_buf *b, float z[CLS_N_CLASSES]);

/* softmax(z / t) into p. */
void cls_softmax(const float z[CLS_N_CLASSES], float t, float p[CLS_N_CLASSES]);

uint32_t cls_crc32(const unsigned char *p, size_t n);

#endif
