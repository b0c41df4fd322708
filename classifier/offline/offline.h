/* The offline classifier: a deterministic, network-free model that turns an
 * issue's title, body, repository and labels into a full classification in
 * microseconds. Used when no LLM is configured and as the LLM's fallback.
 * The model is loaded once at start and is read-only afterwards, so
 * cls_offline_classify is thread-safe. */
#ifndef DISPATCHAI_CLS_OFFLINE_H
#define DISPATCHAI_CLS_OFFLINE_H

#include <dispatchai/events.h>
#include <stdbool.h>
#include <stddef.h>

/* A team the classifier may suggest, with the hints used to pick it. All
 * pointers are borrowed from the daemon's configuration. */
struct cls_team {
    const char *name;
    const char *description;
    const char *const *keywords; /* words in title/body */
    size_t n_keywords;
    const char *const *labels;   /* GitHub label names */
    size_t n_labels;
    const char *const *paths;    /* path fragments ("src/net/") mentioned in the text */
    size_t n_paths;
};

struct cls_teams {
    const struct cls_team *v;
    size_t n;
};

/* The text to classify; pointers borrowed for the call. */
struct cls_issue_text {
    const char *title;
    size_t title_len;
    const char *body;      /* may be NULL */
    size_t body_len;
    const char *repo;      /* "owner/name" or NULL */
    const char *const *labels;
    size_t n_labels;
    bool is_pull_request;
};

struct cls_offline_model;

/* Load a weights file. New model or NULL with the reason in err. */
struct cls_offline_model *cls_offline_load(const char *path, char *err, size_t errlen);
void cls_offline_free(struct cls_offline_model *m);
/* "offline-<model id>", for processing_metadata.model_version. Borrowed. */
const char *cls_offline_version(const struct cls_offline_model *m);

/* Classify. Fills every field of out (source = DAI_SRC_OFFLINE, confidence a
 * calibrated probability, suggested_assignee "" when no team fits). teams may
 * be NULL. Returns 0, or DAI_EINVAL for a NULL title. Thread-safe. */
DAI_MUST_CHECK int cls_offline_classify(const struct cls_offline_model *m,
                                        const struct cls_teams *teams,
                                        const struct cls_issue_text *in,
                                        struct dai_classification *out);

/* A per-thread scratch area for cls_offline_classify_ws, so hot loops skip
 * the allocation cls_offline_classify makes on every call. New or NULL. */
struct cls_offline_ws;
struct cls_offline_ws *cls_offline_ws_new(void);
void cls_offline_ws_free(struct cls_offline_ws *ws);

/* As cls_offline_classify, with a caller-owned workspace (one per thread).
 * Returns 0, or DAI_EINVAL for a NULL title or argument. */
DAI_MUST_CHECK int cls_offline_classify_ws(const struct cls_offline_model *m,
                                           const struct cls_teams *teams,
                                           const struct cls_issue_text *in,
                                           struct cls_offline_ws *ws,
                                           struct dai_classification *out);

#endif
