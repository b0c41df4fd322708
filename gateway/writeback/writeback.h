/* Write-back to GitHub: the gateway's outlet that puts each issue's
 * effective classification on the issue itself as labels, without ever
 * fighting a person. Pure decisions (plan.c: desired labels, the diff
 * against GitHub; history.c: who added or removed each label; mapping of a
 * person's label to a correction) are separate from the consumer that reads
 * issues.enriched in its own group and talks to GitHub (run.c).
 * Names are gw_wb_*. */
#ifndef DISPATCHAI_GW_WRITEBACK_H
#define DISPATCHAI_GW_WRITEBACK_H

#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/github.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- configuration (gateway options github.*) ---------------------------- */

enum gw_wb_mode { GW_WB_OFF = 0, GW_WB_DRY_RUN, GW_WB_ON };

struct gw_wb_config {
    char *mode;                          /* github.writeback: off | dry-run | on */
    struct dai_strlist repositories;     /* github.repositories (empty = all) */
    double min_confidence;               /* github.min_confidence */
    char *category_label[DAI_CAT_COUNT]; /* github.labels.<category> ("" = none) */
    bool priority_labels;                /* github.priority_labels */
    char *priority_prefix;               /* github.priority_label_prefix */
    int attempts;                        /* github.writeback_attempts */
    int retry_delay_ms;                  /* github.writeback_retry_delay */
    char *group;                         /* github.writeback_group */
    bool comment;                        /* github.comment: one bot comment, edited in place */
    struct dai_github_config api;        /* the client's own options */
    enum gw_wb_mode parsed_mode;         /* set by gw_wb_config_check */
};

#define GW_WB_LABEL_OPT(T, m, cat, env, idx, def)                                               \
    {"github.labels." cat, env, NULL, DAI_OPT_STR, def, offsetof(T, m.category_label[idx]), 0,  \
     0, 0, "Label written for category " cat " (empty = none)"}

#define GW_WB_OPTS(T, m)                                                                          \
    DAI_GITHUB_OPTS(T, m.api),                                                                    \
    {"github.writeback", "GITHUB_WRITEBACK", NULL, DAI_OPT_STR, "off", offsetof(T, m.mode), 0,  \
     0, 0, "Write classifications back to GitHub: off, dry-run (log and count only) or on"},     \
    {"github.repositories", "GITHUB_REPOSITORIES", NULL, DAI_OPT_STRLIST, NULL,                   \
     offsetof(T, m.repositories), 0, 0, 0,                                                        \
     "owner/repo names write-back may touch (empty = every repository of the installations)"},   \
    {"github.min_confidence", "GITHUB_MIN_CONFIDENCE", NULL, DAI_OPT_DOUBLE, "0.6",               \
     offsetof(T, m.min_confidence), 0, 1, 0,                                                      \
     "Automatic classifications below this confidence are not written (human ones always are)"}, \
    GW_WB_LABEL_OPT(T, m, "bug", "GITHUB_LABEL_BUG", DAI_CAT_BUG, "bug"),                         \
    GW_WB_LABEL_OPT(T, m, "feature_request", "GITHUB_LABEL_FEATURE_REQUEST",                      \
                    DAI_CAT_FEATURE_REQUEST, "enhancement"),                                      \
    GW_WB_LABEL_OPT(T, m, "enhancement", "GITHUB_LABEL_ENHANCEMENT", DAI_CAT_ENHANCEMENT,         \
                    "enhancement"),                                                               \
    GW_WB_LABEL_OPT(T, m, "documentation", "GITHUB_LABEL_DOCUMENTATION", DAI_CAT_DOCUMENTATION,   \
                    "documentation"),                                                             \
    GW_WB_LABEL_OPT(T, m, "question", "GITHUB_LABEL_QUESTION", DAI_CAT_QUESTION, "question"),     \
    GW_WB_LABEL_OPT(T, m, "security", "GITHUB_LABEL_SECURITY", DAI_CAT_SECURITY, "security"),     \
    {"github.priority_labels", "GITHUB_PRIORITY_LABELS", NULL, DAI_OPT_BOOL, "true",              \
     offsetof(T, m.priority_labels), 0, 0, 0, "Write the priority as a label"},                  \
    {"github.priority_label_prefix", "GITHUB_PRIORITY_LABEL_PREFIX", NULL, DAI_OPT_STR,           \
     "priority: ", offsetof(T, m.priority_prefix), 0, 0, 0,                                       \
     "Priority label text before the level (\"priority: high\")"},                               \
    {"github.writeback_attempts", "GITHUB_WRITEBACK_ATTEMPTS", NULL, DAI_OPT_INT, "3",            \
     offsetof(T, m.attempts), 1, 100, 0,                                                          \
     "Attempts at one issue's write-back while GitHub fails transiently, then it is given up"},  \
    {"github.writeback_retry_delay", "GITHUB_WRITEBACK_RETRY_DELAY", NULL, DAI_OPT_MS, "5s",      \
     offsetof(T, m.retry_delay_ms), 0, 3600000, 0,                                                \
     "Wait between those attempts (doubling)"},                                                   \
    {"github.writeback_group", "GITHUB_WRITEBACK_GROUP", NULL, DAI_OPT_STR,                       \
     "dispatchai-gateway-writeback", offsetof(T, m.group), 0, 0, 0,                               \
     "Consumer group of write-back (shared by every gateway of one deployment)"},                \
    {"github.comment", "GITHUB_COMMENT", NULL, DAI_OPT_BOOL, "false", offsetof(T, m.comment), 0, \
     0, 0, "Keep one bot comment with the classification on the issue, edited in place"}

/* Parse the mode and check the label settings. 0 or DAI_ECONFIG + err. */
DAI_MUST_CHECK int gw_wb_config_check(struct gw_wb_config *c, char *err, size_t errlen);

/* ---- pure decisions ---------------------------------------------------------- */

#define GW_WB_LABEL_MAX 100 /* GitHub caps label names at 50 characters */
#define GW_WB_SET_MAX 8

struct gw_wb_set {
    char v[GW_WB_SET_MAX][GW_WB_LABEL_MAX + 1];
    unsigned n;
};

/* The labels a classification calls for: the category's label and, when
 * enabled, the priority label. */
void gw_wb_desired(const struct gw_wb_config *c, const struct dai_classification *cls,
                   struct gw_wb_set *out);
/* True when write-back writes for this classification (human ones always;
 * automatic ones at or above github.min_confidence). */
bool gw_wb_confident(const struct gw_wb_config *c, const struct dai_classification *cls);
/* Which category / priority a label stands for, or -1. Case-insensitive, as
 * GitHub's label names are. */
int gw_wb_label_category(const struct gw_wb_config *c, const char *label);
int gw_wb_label_priority(const struct gw_wb_config *c, const char *label);
/* True when write-back manages this label (a category or priority label). */
bool gw_wb_managed(const struct gw_wb_config *c, const char *label);

/* Who last touched each label of one issue, from GitHub's issue events
 * (labeled/unlabeled, oldest first). */
struct gw_wb_touch {
    char name[GW_WB_LABEL_MAX + 1];
    bool labeled; /* the last event was "labeled" (else "unlabeled") */
    bool by_bot;  /* ... by our bot */
};
struct gw_wb_history {
    struct gw_wb_touch *v;
    size_t n, cap;
};

/* Fold one page of GET .../issues/{n}/events (a JSON array; later pages
 * after earlier ones) into h. bot: our login. 0, -ENOMEM or DAI_EPARSE. */
DAI_MUST_CHECK int gw_wb_history_add(struct gw_wb_history *h, const json_t *events,
                                     const char *bot);
/* The last touch of a label, or NULL. */
const struct gw_wb_touch *gw_wb_history_find(const struct gw_wb_history *h, const char *name);
void gw_wb_history_free(struct gw_wb_history *h);

struct gw_wb_plan {
    struct gw_wb_set add, remove;
    bool need_history; /* decide again with the events */
    unsigned kept_removed_by_person; /* desired labels a person removed: never re-added */
};

/* Diff the desired labels against the current ones (names as on
 * GitHub). Only adds desired labels that are missing — except ones a person
 * removed — and only removes managed labels that are no longer desired and
 * that our bot added. history NULL = not read yet: when the decision needs
 * it, plan->need_history is set and nothing else. */
void gw_wb_plan(const struct gw_wb_config *c, const struct gw_wb_set *desired,
                const char *const *current, size_t n_current, const struct gw_wb_history *history,
                struct gw_wb_plan *plan);

/* A person's labeled webhook as a correction: the JSON body of a REST
 * correction ({"category": …} / {"priority": …}) into out (n bytes), or 0
 * when the label means nothing to us. Returns its length. */
size_t gw_wb_correction_for_label(const struct gw_wb_config *c, const char *label, char *out,
                                  size_t n);

/* The bot comment: a marker GitHub does not render, then the classification,
 * its confidence and reasoning. Written into b (replacing its content). */
#define GW_WB_COMMENT_MARKER "<!-- dispatchai:classification -->"
DAI_MUST_CHECK int gw_wb_comment_render(const struct dai_classification *cls, struct dai_buf *b);

/* The id of our comment in one page of GET .../issues/{n}/comments (a JSON
 * array): written by bot and carrying the marker. 0 when none; *body gets
 * its text (borrowed from comments). */
long long gw_wb_comment_find(const json_t *comments, const char *bot, const char **body);

/* ---- the consumer ---------------------------------------------------------------- */

struct gw_config;
struct gw_store;
struct gw_follower;
struct gw_publisher;
struct dai_metrics;

struct gw_writeback;

/* Start the write-back consumer thread (mode dry-run or on); NULL with the
 * reason in err. Nothing here is tied to /ready. */
struct gw_writeback *gw_writeback_start(const struct gw_config *cfg,
                                        const struct gw_wb_config *wb, struct gw_store *store,
                                        struct gw_follower *follower,
                                        struct gw_publisher *publisher, struct dai_metrics *reg,
                                        char *err, size_t errlen);
/* Stop the thread (after its current issue; GitHub waits end early when the
 * process stops), leave the group, free. NULL is fine. */
void gw_writeback_stop(struct gw_writeback *w);

#endif
