/* `dispatchai-classifier eval`: labelled issues through the configured
 * backend, exactly as the daemon classifies them, and the figures that say
 * whether it is good enough: per-class and per-repository precision, recall
 * and F1, macro-F1, the confusion matrix, latency percentiles, tokens and
 * cost. Data loading (eval_data.c), the metrics (eval_metrics.c, pure) and
 * the run with its report (eval.c) are separate. */
#ifndef DISPATCHAI_CLS_EVAL_H
#define DISPATCHAI_CLS_EVAL_H

#include "llm_client.h"
#include "offline/offline.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*---- the labelled data (eval_data.c) ----------------------------------------*/

/* One labelled issue; strings borrowed from the data set. */
struct cls_eval_issue {
    const char *repo;   /* "" when the data has none */
    const char *label;  /* the gold label as written in the data */
    const char *title;
    const char *body;
};

struct cls_eval_data {
    struct cls_eval_issue *v;
    size_t n;
    void *owner;        /* whatever holds the strings (CSV table or JSON array) */
    bool owner_is_json;
};

/* Read FILE.csv (header with title, label and optionally body, repo; other
 * columns ignored) or FILE.jsonl / FILE.json lines ({"title","body","repo",
 * "label"}), chosen by the file name's ending. Rows without a title or label
 * are an error naming the line. 0, -errno, DAI_EPARSE/DAI_ESCHEMA + err. */
DAI_MUST_CHECK int cls_eval_data_load(const char *path, struct cls_eval_data *out, char *err,
                                      size_t errlen);
void cls_eval_data_free(struct cls_eval_data *d);

/*---- label mapping and metrics (eval_metrics.c, pure) ----------------------*/

#define CLS_EVAL_MAX_CLASSES 32
#define CLS_EVAL_NAME_LEN 48

/* "from=to,from=to": names (our categories or the data's labels) read as
 * another; the data's taxonomy is what is scored. */
struct cls_label_map {
    char from[CLS_EVAL_MAX_CLASSES][CLS_EVAL_NAME_LEN];
    char to[CLS_EVAL_MAX_CLASSES][CLS_EVAL_NAME_LEN];
    size_t n;
};

/* Parse a mapping ("" = none). 0 or DAI_ECONFIG with the bad entry in err. */
DAI_MUST_CHECK int cls_label_map_parse(const char *text, struct cls_label_map *out, char *err,
                                       size_t errlen);
/* The mapped name (borrowed: from the map or name itself). */
const char *cls_label_map_apply(const struct cls_label_map *m, const char *name);

/* One classified issue as the metrics see it. */
struct cls_eval_outcome {
    int gold, pred;            /* class indices */
    int repo;                  /* repository index */
    double latency_ms;
    long long prompt_tokens, completion_tokens;
    bool by_llm;               /* false: offline (configured, or a fallback) */
    bool finished;             /* classified (a stopped run reports only these) */
    char fallback[32];         /* why an LLM-bound issue went offline, "" otherwise */
};

struct cls_prf {
    double precision, recall, f1;
    size_t tp, predicted, support;
};

/* Interning of class and repository names, in first-seen order. Gold classes
 * come first (cls_eval_names_add with gold = true marks them); a predicted
 * name outside the data's labels gets a column of its own (always wrong). */
struct cls_eval_names {
    char (*name)[CLS_EVAL_NAME_LEN * 2];
    bool *gold;
    size_t n, cap;
};

/* Index of name, added when new; -ENOMEM. */
int cls_eval_names_add(struct cls_eval_names *t, const char *name, bool gold);
void cls_eval_names_free(struct cls_eval_names *t);

/* Per-class scores over outcomes (repo < 0: all, else that repository only).
 * prf has n_classes entries. Macro-F1 is the mean over the gold classes that
 * occur in the selection (classes only ever predicted are not averaged in,
 * their errors already lower the others' precision). Returns macro-F1 and
 * sets *accuracy and *n (issues selected) when non-NULL. */
double cls_eval_scores(const struct cls_eval_outcome *o, size_t n, int repo,
                       const struct cls_eval_names *classes, struct cls_prf *prf,
                       double *accuracy, size_t *selected);
/* The q-quantile (0..1) of values, nearest-rank; sorts values in place. 0 when n = 0. */
double cls_eval_quantile(double *values, size_t n, double q);

struct cls_eval_prices {
    double prompt_per_mtok, completion_per_mtok; /* 0 = unknown */
};

/* The whole report as a new JSON object (NULL on OOM): see docs/classifier.md. */
json_t *cls_eval_report(const struct cls_eval_outcome *o, size_t n,
                        const struct cls_eval_names *classes,
                        const struct cls_eval_names *repos,
                        const struct cls_eval_prices *prices, const char *backend,
                        double wall_s);

/*---- the run (eval.c) ------------------------------------------------------*/

struct cls_eval_options {
    const char *data_path;
    const char *label_map;      /* as for cls_label_map_parse */
    size_t limit;               /* 0 = every issue */
    int concurrency;            /* LLM requests in flight */
    bool json;                  /* the report as JSON on out */
    bool progress;              /* a progress line on err_out */
    struct cls_eval_prices prices;
};

/* Classify every issue as the daemon would (the LLM when llm is non-NULL,
 * with the daemon's offline fallback; else offline) and print the report on
 * out. Stopped early (SIGINT/SIGTERM), the report covers the issues finished
 * and DAI_ETIMEOUT is returned. 0, or a negative code after printing the
 * reason on err_out. */
DAI_MUST_CHECK int cls_eval_run(const struct cls_eval_options *opt,
                                const struct cls_offline_model *offline,
                                const struct cls_teams *teams, struct cls_llm *llm,
                                const char *llm_model, FILE *out, FILE *err_out);

#endif
