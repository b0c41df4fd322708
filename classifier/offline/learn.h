/* Training for the offline classifier: L2-regularised multinomial logistic
 * regression over sparse rows, fitted with L-BFGS, and temperature scaling.
 * Used by the training tool only; inference never links this. */
#ifndef DISPATCHAI_CLS_LEARN_H
#define DISPATCHAI_CLS_LEARN_H

#include <dispatchai/err.h>
#include <stddef.h>
#include <stdint.h>

/* Compressed sparse rows; all pointers borrowed. */
struct cls_sparse {
    const size_t *rowptr;  /* n_rows + 1 */
    const uint32_t *col;   /* column of each non-zero, < n_cols */
    const float *val;
    const int *y;          /* class of each row, 0..n_classes-1 */
    size_t n_rows;
    size_t n_cols;
    /* Optional per-column, per-class prior scale (n_cols * n_classes) or
     * NULL: class c scores sum_j x_j * scale[j][c] * theta[j][c], so theta's
     * L2 penalty shrinks columns with a small scale harder (NB weighting,
     * below). The returned w is scale * theta. */
    const float *scale;
};

struct cls_lr_opts {
    double c;              /* inverse regularisation: C * sum(loss) + |w|^2 / 2 */
    unsigned max_iter;
    double tol;            /* stop when the relative decrease falls below this */
    unsigned history;      /* L-BFGS memory */
};

/* Fit w (n_cols * n_classes, row-major) and bias (n_classes); 0 or -ENOMEM.
 * Deterministic for equal inputs. */
DAI_MUST_CHECK int cls_lr_train(const struct cls_sparse *x, unsigned n_classes,
                                const struct cls_lr_opts *o, float *w, float *bias);

/* Temperature t minimising the mean negative log-likelihood of
 * softmax(z / t) over n rows of 3 logits with labels y. */
float cls_fit_temperature(const float *z, const int *y, size_t n);

#endif
