/* L2-regularised multinomial logistic regression with L-BFGS (two-loop
 * recursion, backtracking Armijo line search), optionally with a per-column,
 * per-class prior scale (NB weighting), and one-parameter temperature
 * scaling. Knows sparse matrices and labels, not issues or features. */
#include "learn.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAXC 8

struct problem {
    const struct cls_sparse *x;
    unsigned k;
    double c;
    size_t nw; /* n_cols * k, then k biases */
};

/* The prior scale of entry j's column for class c; 1 without NB weighting.
 * float like the values, so val * scale rounds as the trained model did
 * (and multiplying by 1.0f is exact: unscaled fits are unchanged). */
static inline float prior_scale(const struct cls_sparse *x, size_t j, unsigned c, unsigned k)
{
    return x->scale ? x->scale[(size_t)x->col[j] * k + c] : 1.0f;
}

/* f(theta) and its gradient g; theta = [w (n_cols x k) | bias (k)]. */
static double objective(const struct problem *pr, const double *th, double *g)
{
    const struct cls_sparse *x = pr->x;
    unsigned k = pr->k;
    const double *bias = th + pr->nw;
    double *gb = g + pr->nw;
    double f = 0;

    memset(g, 0, (pr->nw + k) * sizeof(*g));
    for (size_t i = 0; i < x->n_rows; i++) {
        double z[MAXC], mx = -INFINITY, s = 0;
        for (unsigned c = 0; c < k; c++)
            z[c] = bias[c];
        for (size_t j = x->rowptr[i]; j < x->rowptr[i + 1]; j++) {
            const double *wr = th + (size_t)x->col[j] * k;
            for (unsigned c = 0; c < k; c++)
                z[c] += x->val[j] * prior_scale(x, j, c, k) * wr[c];
        }
        for (unsigned c = 0; c < k; c++)
            mx = fmax(mx, z[c]);
        for (unsigned c = 0; c < k; c++) {
            z[c] = exp(z[c] - mx);
            s += z[c];
        }
        f += log(s) - log(z[x->y[i]]);
        for (unsigned c = 0; c < k; c++) {
            z[c] = pr->c * (z[c] / s - (x->y[i] == (int)c));
            gb[c] += z[c];
        }
        for (size_t j = x->rowptr[i]; j < x->rowptr[i + 1]; j++) {
            double *gr = g + (size_t)x->col[j] * k;
            for (unsigned c = 0; c < k; c++)
                gr[c] += x->val[j] * prior_scale(x, j, c, k) * z[c];
        }
    }
    f *= pr->c;
    for (size_t i = 0; i < pr->nw; i++) {
        f += 0.5 * th[i] * th[i];
        g[i] += th[i];
    }
    return f;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int cls_lr_train(const struct cls_sparse *x, unsigned n_classes, const struct cls_lr_opts *o,
                 float *w, float *bias)
{
    struct problem pr = {x, n_classes, o->c, x->n_cols * n_classes};
    size_t n = pr.nw + n_classes;
    unsigned m = o->history ? o->history : 8, have = 0, head = 0;
    double *th = NULL, *g = NULL, *d = NULL, *th2 = NULL, *g2 = NULL, *s = NULL, *yv = NULL;
    double *rho = NULL, *alpha = NULL, f;
    int rc = -ENOMEM;

    if (n_classes > MAXC)
        return -EINVAL;
    th = calloc(n, sizeof(*th));
    g = calloc(n, sizeof(*g));
    d = calloc(n, sizeof(*d));
    th2 = calloc(n, sizeof(*th2));
    g2 = calloc(n, sizeof(*g2));
    s = calloc((size_t)m * n, sizeof(*s));
    yv = calloc((size_t)m * n, sizeof(*yv));
    rho = calloc(m, sizeof(*rho));
    alpha = calloc(m, sizeof(*alpha));
    if (!th || !g || !d || !th2 || !g2 || !s || !yv || !rho || !alpha)
        goto out;
    f = objective(&pr, th, g);
    for (unsigned it = 0; it < o->max_iter; it++) {
        double gd, step, f2 = 0, gn = sqrt(dot(g, g, n));
        bool ok = false;

        if (gn < 1e-8)
            break;
        /* two-loop recursion: d = -H g */
        for (size_t i = 0; i < n; i++)
            d[i] = -g[i];
        for (unsigned h = 0; h < have; h++) {
            unsigned j = (head + m - 1 - h) % m;
            alpha[j] = rho[j] * dot(s + (size_t)j * n, d, n);
            for (size_t i = 0; i < n; i++)
                d[i] -= alpha[j] * yv[(size_t)j * n + i];
        }
        if (have) {
            unsigned j = (head + m - 1) % m;
            double gamma = dot(s + (size_t)j * n, yv + (size_t)j * n, n) /
                           dot(yv + (size_t)j * n, yv + (size_t)j * n, n);
            for (size_t i = 0; i < n; i++)
                d[i] *= gamma;
        }
        for (unsigned h = have; h-- > 0;) {
            unsigned j = (head + m - 1 - h) % m;
            double beta = rho[j] * dot(yv + (size_t)j * n, d, n);
            for (size_t i = 0; i < n; i++)
                d[i] += s[(size_t)j * n + i] * (alpha[j] - beta);
        }
        gd = dot(g, d, n);
        if (gd >= 0) { /* not a descent direction: restart from steepest descent */
            for (size_t i = 0; i < n; i++)
                d[i] = -g[i];
            gd = -gn * gn;
            have = 0;
        }
        step = have ? 1.0 : 1.0 / gn;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t i = 0; i < n; i++)
                th2[i] = th[i] + step * d[i];
            f2 = objective(&pr, th2, g2);
            if (f2 <= f + 1e-4 * step * gd) {
                ok = true;
                break;
            }
            step *= 0.5;
        }
        if (!ok)
            break;
        {
            double *sj = s + (size_t)head * n, *yj = yv + (size_t)head * n, sy;
            for (size_t i = 0; i < n; i++) {
                sj[i] = th2[i] - th[i];
                yj[i] = g2[i] - g[i];
            }
            sy = dot(sj, yj, n);
            if (sy > 1e-12) {
                rho[head] = 1.0 / sy;
                head = (head + 1) % m;
                if (have < m)
                    have++;
            }
        }
        memcpy(th, th2, n * sizeof(*th));
        memcpy(g, g2, n * sizeof(*g));
        if ((f - f2) / fmax(fabs(f2), 1.0) < o->tol) {
            f = f2;
            break;
        }
        f = f2;
    }
    for (size_t i = 0; i < pr.nw; i++)
        w[i] = (float)(x->scale ? th[i] * x->scale[i] : th[i]);
    for (unsigned c = 0; c < n_classes; c++)
        bias[c] = (float)th[pr.nw + c];
    rc = 0;
out:
    free(th);
    free(g);
    free(d);
    free(th2);
    free(g2);
    free(s);
    free(yv);
    free(rho);
    free(alpha);
    return rc;
}

static double nll_at(const float *z, const int *y, size_t n, double t)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        double mx = fmax(fmax(z[i * 3], z[i * 3 + 1]), z[i * 3 + 2]), s = 0;
        for (int c = 0; c < 3; c++)
            s += exp((z[i * 3 + c] - mx) / t);
        sum += log(s) - (z[i * 3 + y[i]] - mx) / t;
    }
    return n ? sum / (double)n : 0;
}

float cls_fit_temperature(const float *z, const int *y, size_t n)
{
    /* golden-section search on log t; the NLL is unimodal in t */
    double a = log(0.05), b = log(20.0), r = (sqrt(5.0) - 1) / 2;
    double c = b - r * (b - a), d = a + r * (b - a);
    double fc = nll_at(z, y, n, exp(c)), fd = nll_at(z, y, n, exp(d));

    for (int i = 0; i < 60; i++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = nll_at(z, y, n, exp(c));
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = nll_at(z, y, n, exp(d));
        }
    }
    return (float)exp((a + b) / 2);
}
