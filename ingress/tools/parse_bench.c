/* ingress-parse-bench: what one delivery's parsing costs, on real fixture
 * payloads: a full jansson parse (the approach we did not take) against the
 * strict extractor alone and the whole normalisation (extract + write our
 * event), plus HMAC-SHA256 for scale. Run by scripts/bench-ingress. */
#include "../normalize.h"

#include <dispatchai/clock.h>
#include <dispatchai/hmac.h>
#include <dispatchai/json.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Median of `rounds` rounds of `iters` calls, in microseconds per call. */
#define MEASURE(result, iters, body)                                                            \
    do {                                                                                       \
        long long t_[15];                                                                      \
        for (int r_ = 0; r_ < 15; r_++) {                                                       \
            long long s_ = dai_mono_us();                                                      \
            for (int i_ = 0; i_ < (iters); i_++) {                                             \
                body;                                                                          \
            }                                                                                  \
            t_[r_] = dai_mono_us() - s_;                                                       \
        }                                                                                      \
        qsort(t_, 15, sizeof(t_[0]), cmp_ll);                                                  \
        (result) = (double)t_[7] / (iters);                                                    \
    } while (0)

int main(int argc, char **argv)
{
    char err[256];
    struct ing_normalizer *n = ing_normalizer_new(err, sizeof(err));
    struct dai_buf out = {0};
    struct ing_event_info info;

    if (!n || argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE.json...\n", argv[0]);
        return 2;
    }
    printf("%-42s %7s %9s %9s %9s %9s %7s\n", "payload", "bytes", "jansson", "extract",
           "normalize", "hmac", "out");
    for (int a = 1; a < argc; a++) {
        size_t len;
        char *doc = slurp(argv[a], &len);
        const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        enum ing_event ev = ING_EV_ISSUES;
        double t_js, t_ex, t_norm, t_hmac;
        unsigned char mac[DAI_SHA256_LEN];
        volatile int sink = 0;
        const int iters = 2000;

        if (!doc) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            return 1;
        }
        if (!strncmp(base, "pull_request", 12))
            ev = ING_EV_PULL_REQUEST;
        else if (!strncmp(base, "issue_comment", 13))
            ev = ING_EV_ISSUE_COMMENT;
        else if (strncmp(base, "issues", 6))
            continue;
        /* jansson is ~20x slower: fewer calls give the same confidence. */
        MEASURE(t_js, iters / 10, {
            json_error_t e;
            json_t *j = json_loadb(doc, len, 0, &e);
            sink += j != NULL;
            json_decref(j);
        });
        MEASURE(t_norm, iters, {
            sink += ing_normalize(n, ev, doc, len, "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                                  1764410400123LL, &out, &info, err, sizeof(err));
        });
        {
            /* The extractor alone: a one-path set still validates everything. */
            static const char *const one[] = {"action"};
            struct ing_jpaths *p = ing_jpaths_new(one, 1, err, sizeof(err));
            struct ing_span sp[1];
            MEASURE(t_ex, iters, { sink += ing_json_extract(p, doc, len, sp, err, sizeof(err)); });
            ing_jpaths_free(p);
        }
        MEASURE(t_hmac, iters, { dai_hmac_sha256("secret", 6, doc, len, mac); sink += mac[0]; });
        printf("%-42s %7zu %7.1fus %7.1fus %7.1fus %7.1fus %7zu\n", base, len, t_js, t_ex,
               t_norm, t_hmac, out.len);
        (void)sink;
        free(doc);
    }
    dai_buf_free(&out);
    ing_normalizer_free(n);
    return 0;
}
