/* The offline classifier's public entry points (offline.h): loading the
 * weights file, and turning the linear model's calibrated class
 * probabilities plus rule signals into a full classification (category,
 * priority, effort, team, confidence, reasoning, tags, summary). Feature
 * extraction and scoring live in featurize.c and model.c. */
#include "offline.h"
#include "model.h"
#include "signals.h"

#include <dispatchai/utf8.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct cls_offline_ws {
    struct cls_feat_buf b;
};

#define SIG(x) (1u << CLS_SIG_##x)

/*---- loading ----------------------------------------------------------------*/

struct cls_offline_model *cls_offline_load(const char *path, char *err, size_t errlen)
{
    struct cls_offline_model *m = NULL;
    unsigned char *buf = NULL;
    struct stat st;
    FILE *f;

    if (!path) {
        snprintf(err, errlen, "no model path given");
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) || st.st_size <= 0 || st.st_size > (off_t)CLS_MODEL_MAX_BYTES) {
        snprintf(err, errlen, "%s: missing, empty or larger than %u bytes", path,
                 CLS_MODEL_MAX_BYTES);
        goto out;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: short read", path);
        goto out;
    }
    m = cls_model_decode(buf, (size_t)st.st_size, err, errlen);
out:
    free(buf);
    fclose(f);
    return m;
}

void cls_offline_free(struct cls_offline_model *m)
{
    if (!m)
        return;
    free(m->tab);
    free(m);
}

const char *cls_offline_version(const struct cls_offline_model *m)
{
    return m ? m->version : "offline-none";
}

struct cls_offline_ws *cls_offline_ws_new(void)
{
    return calloc(1, sizeof(struct cls_offline_ws));
}

void cls_offline_ws_free(struct cls_offline_ws *ws)
{
    free(ws);
}

/*---- text helpers -----------------------------------------------------------*/

/* Bounded, always NUL-terminated string builder that keeps its content
 * valid UTF-8: invalid bytes become '?', control characters a space, and a
 * multi-byte character is never cut. */
struct sb {
    char *p;
    size_t cap, len;
    bool full;
};

static void sb_init(struct sb *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->full = false;
    p[0] = '\0';
}

static void sb_text(struct sb *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n && !b->full) {
        int seq = dai_utf8_seq(u + i, n - i);
        size_t k = seq > 0 ? (size_t)seq : 1;
        char rep = 0;

        if (seq < 0) {
            rep = '?';
        } else if (k == 1 && (u[i] < 0x20 || u[i] == 0x7f)) {
            rep = ' ';
        }
        if (b->len + (rep ? 1 : k) + 1 > b->cap) {
            b->full = true;
            break;
        }
        if (rep) {
            b->p[b->len++] = rep;
        } else {
            memcpy(b->p + b->len, u + i, k);
            b->len += k;
        }
        i += k;
    }
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_text(b, s, strlen(s));
}

static void sb_fmt(struct sb *b, const char *fmt, ...) DAI_PRINTF(2, 3);

static void sb_fmt(struct sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_text(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static bool ieq(const char *a, const char *b)
{
    return !strcasecmp(a, b);
}

static bool icontains(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/*---- labels -----------------------------------------------------------------*/

struct label_hints {
    int category;    /* enum dai_category or -1 */
    int priority;    /* enum dai_priority or -1 */
    int effort;      /* enum dai_effort or -1 */
    const char *which;
};

static void read_labels(const struct cls_issue_text *in, struct label_hints *h)
{
    h->category = h->priority = h->effort = -1;
    h->which = NULL;
    for (size_t i = 0; i < in->n_labels; i++) {
        const char *l = in->labels ? in->labels[i] : NULL;
        int cat = -1;
        if (!l)
            continue;
        if (icontains(l, "security") || icontains(l, "vulnerab"))
            cat = DAI_CAT_SECURITY;
        else if (icontains(l, "doc"))
            cat = DAI_CAT_DOCUMENTATION;
        else if (icontains(l, "question") || icontains(l, "support"))
            cat = DAI_CAT_QUESTION;
        else if (icontains(l, "enhancement") || icontains(l, "improvement"))
            cat = DAI_CAT_ENHANCEMENT;
        else if (icontains(l, "feature"))
            cat = DAI_CAT_FEATURE_REQUEST;
        else if (icontains(l, "bug") || icontains(l, "regression") || icontains(l, "crash"))
            cat = DAI_CAT_BUG;
        /* security outranks everything, then the first label seen */
        if (cat >= 0 && (h->category < 0 || cat == DAI_CAT_SECURITY)) {
            h->category = cat;
            h->which = l;
        }
        if (ieq(l, "p0") || icontains(l, "critical") || icontains(l, "blocker") ||
            icontains(l, "sev1"))
            h->priority = DAI_PRIO_CRITICAL;
        else if ((ieq(l, "p1") || icontains(l, "high")) && h->priority != DAI_PRIO_CRITICAL)
            h->priority = DAI_PRIO_HIGH;
        else if ((ieq(l, "p2") || icontains(l, "medium")) && h->priority < 0)
            h->priority = DAI_PRIO_MEDIUM;
        else if ((ieq(l, "p3") || icontains(l, "low") || icontains(l, "minor") ||
                  icontains(l, "trivial")) && h->priority < 0)
            h->priority = DAI_PRIO_LOW;
        if (icontains(l, "good first issue") || icontains(l, "size/s") || icontains(l, "easy"))
            h->effort = DAI_EFFORT_SMALL;
        else if (icontains(l, "epic") || icontains(l, "size/xl"))
            h->effort = DAI_EFFORT_EXTRA_LARGE;
    }
}

/*---- teams ------------------------------------------------------------------*/

/* Whole-word (for alphanumeric edges), case-insensitive search of a keyword
 * in text[0..n); text is already lower-case ASCII where it matters. */
static bool has_word(const char *text, size_t n, const char *kw)
{
    size_t kl = strlen(kw);
    char low[128];

    if (!kl || kl >= sizeof(low) || kl > n)
        return false;
    for (size_t i = 0; i < kl; i++)
        low[i] = (char)((kw[i] >= 'A' && kw[i] <= 'Z') ? kw[i] + 32 : kw[i]);
    for (const char *p = memmem(text, n, low, kl); p;
         p = memmem(p + 1, n - (size_t)(p + 1 - text), low, kl)) {
        size_t at = (size_t)(p - text);
        bool left = at == 0 || !isalnum((unsigned char)text[at - 1]) ||
                    !isalnum((unsigned char)low[0]);
        bool right = at + kl >= n || !isalnum((unsigned char)text[at + kl]) ||
                     !isalnum((unsigned char)low[kl - 1]);
        if (left && right)
            return true;
        if (at + 1 >= n)
            break;
    }
    return false;
}

/* Best team by hints: label match 3, path fragment 2, keyword in the title 2,
 * keyword in the body 1. Ties go to the team listed first. */
static const struct cls_team *pick_team(const struct cls_teams *teams,
                                        const struct cls_issue_text *in, const char **why)
{
    char title[512], body[4096];
    size_t tn = in->title_len < sizeof(title) ? in->title_len : sizeof(title);
    size_t bn = in->body ? (in->body_len < sizeof(body) ? in->body_len : sizeof(body)) : 0;
    const struct cls_team *best = NULL;
    int best_score = 0;

    *why = NULL;
    if (!teams || !teams->v || !teams->n)
        return NULL;
    for (size_t i = 0; i < tn; i++)
        title[i] = (char)tolower((unsigned char)in->title[i]);
    for (size_t i = 0; i < bn; i++)
        body[i] = (char)tolower((unsigned char)in->body[i]);
    for (size_t t = 0; t < teams->n; t++) {
        const struct cls_team *tm = &teams->v[t];
        const char *reason = NULL;
        int score = 0;

        for (size_t l = 0; l < tm->n_labels && tm->labels; l++)
            for (size_t k = 0; k < in->n_labels && in->labels; k++)
                if (tm->labels[l] && in->labels[k] && ieq(tm->labels[l], in->labels[k])) {
                    score += 3;
                    reason = reason ? reason : tm->labels[l];
                }
        for (size_t p = 0; p < tm->n_paths && tm->paths; p++) {
            const char *frag = tm->paths[p];
            if (frag && (has_word(title, tn, frag) || has_word(body, bn, frag))) {
                score += 2;
                reason = reason ? reason : frag;
            }
        }
        for (size_t k = 0; k < tm->n_keywords && tm->keywords; k++) {
            const char *kw = tm->keywords[k];
            if (!kw)
                continue;
            if (has_word(title, tn, kw)) {
                score += 2;
                reason = reason ? reason : kw;
            } else if (has_word(body, bn, kw)) {
                score += 1;
                reason = reason ? reason : kw;
            }
        }
        if (score > best_score && tm->name && tm->name[0]) {
            best = tm;
            best_score = score;
            *why = reason;
        }
    }
    return best;
}

/*---- classification ---------------------------------------------------------*/

static const char *const class_names[CLS_N_CLASSES] = {"bug", "feature", "question"};

static const char *cat_name(enum dai_category c)
{
    static const char *const names[DAI_CAT_COUNT] = {
        "bug", "feature_request", "enhancement", "documentation", "question", "security"};
    return (unsigned)c < DAI_CAT_COUNT ? names[c] : "bug";
}

static void add_tag(struct dai_classification *out, const char *tag)
{
    if (out->n_tags >= DAI_MAX_TAGS)
        return;
    for (unsigned i = 0; i < out->n_tags; i++)
        if (!strcmp(out->tags[i], tag))
            return;
    snprintf(out->tags[out->n_tags++], DAI_TAG_LEN, "%s", tag);
}

/* "Bug report: Cannot add node in the store." from the title, prefix
 * ("[DevTools Bug]:", "feat:") removed, whitespace collapsed. */
static void make_summary(const struct cls_issue_text *in, const struct cls_signals *sig,
                         enum dai_category cat, struct dai_classification *out)
{
    static const char *const kind[DAI_CAT_COUNT] = {"Bug report", "Feature request",
                                                    "Enhancement", "Documentation",
                                                    "Question", "Security report"};
    const char *t = in->title;
    size_t n = in->title_len, i = 0, e;
    char clean[DAI_SUMMARY_LEN];
    size_t o = 0;
    bool space = false;
    struct sb b;

    /* drop a "[Tag]" or "word:" prefix; the category already says it */
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    if (sig->prefix[0] && i < n && t[i] == '[') {
        const char *close = memchr(t + i, ']', n - i);
        if (close)
            i = (size_t)(close - t) + 1;
        while (i < n && (t[i] == ' ' || t[i] == '\t'))
            i++;
        if (i < n && t[i] == ':')
            i++;
    } else if (sig->prefix[0]) {
        const char *colon = memchr(t + i, ':', n - i);
        if (colon)
            i = (size_t)(colon - t) + 1;
    }
    for (; i < n && o + 1 < sizeof(clean); i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < sizeof(clean))
            clean[o++] = ' ';
        space = false;
        clean[o++] = (char)c;
    }
    e = o;
    while (e && (clean[e - 1] == '.' || clean[e - 1] == '!' || clean[e - 1] == '?' ||
                 clean[e - 1] == ':' || clean[e - 1] == ';' || clean[e - 1] == ','))
        e--;
    sb_init(&b, out->summary, sizeof(out->summary) - 4);
    sb_str(&b, kind[cat]);
    sb_str(&b, ": ");
    if (!e) {
        sb_str(&b, "(untitled issue)");
    } else {
        size_t start = b.len;
        sb_text(&b, clean, e);
        if (b.p[start] >= 'a' && b.p[start] <= 'z')
            b.p[start] = (char)(b.p[start] - 32);
    }
    b.cap = sizeof(out->summary);
    if (b.full) {
        b.full = false;
        sb_str(&b, "...");
    } else {
        sb_str(&b, cat == DAI_CAT_QUESTION ? "?" : ".");
    }
}

/* Function words carry weight in the model but explain nothing to a reader. */
static bool stopword(const char *w, size_t n)
{
    static const char *const stop[] = {"the", "a", "an", "to", "of", "in", "on", "for", "with",
                                       "when", "and", "or", "is", "it", "be", "by", "from", "at",
                                       "as", "this", "that", "after", "into", "using", "while",
                                       "are", "was", "if", "my", "we", "can", "should"};
    for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
        if (strlen(stop[i]) == n && !strncasecmp(stop[i], w, n))
            return true;
    return false;
}

static void explain(const struct cls_offline_model *m, const struct cls_issue_text *in,
                    const float p[CLS_N_CLASSES], int cls, const struct cls_signals *sig,
                    const char *rule, const char *team, const char *team_why,
                    struct dai_classification *out)
{
    struct cls_title_word w[32];
    size_t nw = cls_feat_title_words(&m->cfg, in->title, in->title_len, w, 32);
    int top[3] = {-1, -1, -1};
    float topv[3] = {0, 0, 0};
    unsigned shown = 0;
    struct sb b;

    sb_init(&b, out->reasoning, sizeof(out->reasoning));
    sb_fmt(&b, "offline linear model: %s %.2f, %s %.2f, %s %.2f", class_names[0], p[0],
           class_names[1], p[1], class_names[2], p[2]);
    /* title words that pushed hardest towards the chosen class */
    for (size_t i = 0; i < nw; i++) {
        const int16_t *row = m->tab + (size_t)w[i].row * 4;
        float wc[CLS_N_CLASSES];
        float v;
        for (int c = 0; c < CLS_N_CLASSES; c++)
            wc[c] = (float)row[c] * m->wscale[c];
        v = wc[cls] - (wc[0] + wc[1] + wc[2]) / 3.0f;
        bool dup = false;
        for (int k = 0; k < 3; k++)
            if (top[k] >= 0 && w[top[k]].len == w[i].len &&
                !strncasecmp(in->title + w[top[k]].off, in->title + w[i].off, w[i].len))
                dup = true;
        if (dup || v <= 0 || stopword(in->title + w[i].off, w[i].len))
            continue;
        for (int k = 0; k < 3; k++)
            if (top[k] < 0 || v > topv[k]) {
                for (int j = 2; j > k; j--) {
                    top[j] = top[j - 1];
                    topv[j] = topv[j - 1];
                }
                top[k] = (int)i;
                topv[k] = v;
                break;
            }
    }
    for (int k = 0; k < 3; k++) {
        if (top[k] < 0)
            break;
        sb_str(&b, k ? ", '" : "; title words: '");
        sb_text(&b, in->title + w[top[k]].off, w[top[k]].len < 24 ? w[top[k]].len : 24);
        sb_str(&b, "'");
    }
    for (unsigned s = 0; s < CLS_SIG_COUNT && shown < 6; s++) {
        uint32_t bit = 1u << s;
        if (s == CLS_SIG_QWORD || s == CLS_SIG_THANKS || s == CLS_SIG_ADDWORD)
            continue; /* too common to be worth naming */
        if ((sig->title | sig->body) & bit) {
            sb_str(&b, shown ? ", " : "; signals: ");
            sb_str(&b, cls_sig_name((enum cls_sig)s));
            sb_str(&b, sig->title & bit ? " (title)" : "");
            shown++;
        }
    }
    if (sig->prefix[0]) {
        sb_str(&b, "; title prefix '");
        sb_str(&b, sig->prefix);
        sb_str(&b, "'");
    }
    if (rule) {
        sb_str(&b, "; rule: ");
        sb_str(&b, rule);
    }
    if (team) {
        sb_str(&b, "; team ");
        sb_str(&b, team);
        if (team_why) {
            sb_str(&b, " via hint '");
            sb_str(&b, team_why);
            sb_str(&b, "'");
        }
    }
}

int cls_offline_classify_ws(const struct cls_offline_model *m, const struct cls_teams *teams,
                            const struct cls_issue_text *in, struct cls_offline_ws *ws,
                            struct dai_classification *out)
{
    struct cls_issue_text text;
    const struct cls_signals *sig;
    struct label_hints lh;
    const struct cls_team *team;
    const char *team_why = NULL, *rule = NULL;
    float z[CLS_N_CLASSES], p[CLS_N_CLASSES];
    uint32_t any;
    int cls = 0;
    enum dai_category cat;
    enum dai_priority prio;
    enum dai_effort effort;
    double conf;

    if (!m || !in || !ws || !out || !in->title)
        return DAI_EINVAL;
    memset(out, 0, sizeof(*out));
    text = *in;
    if (!text.body)
        text.body_len = 0;
    cls_model_logits(m, &text, &ws->b, z);
    cls_softmax(z, m->temperature, p);
    for (int c = 1; c < CLS_N_CLASSES; c++)
        if (p[c] > p[cls])
            cls = c;
    sig = &ws->b.sig;
    any = sig->title | sig->body;
    read_labels(&text, &lh);

    /* category: the model's class, refined by rules; labels set by people win */
    cat = cls == CLS_BUG ? DAI_CAT_BUG : cls == CLS_QUESTION ? DAI_CAT_QUESTION
                                                                : DAI_CAT_FEATURE_REQUEST;
    conf = p[cls];
    if (cat == DAI_CAT_FEATURE_REQUEST && (sig->title & (SIG(IMPROVE) | SIG(PERF)))) {
        cat = DAI_CAT_ENHANCEMENT;
        rule = "improves existing behaviour (enhancement)";
    }
    if (lh.category >= 0) {
        cat = (enum dai_category)lh.category;
        conf = 0.95;
        rule = "label set on the issue";
    } else if (sig->title & SIG(SECURITY)) {
        cat = DAI_CAT_SECURITY;
        conf = 0.6 + 0.3 * (p[CLS_BUG] + p[CLS_FEATURE]);
        rule = "security wording in the title";
    } else if ((sig->title & SIG(DOCS)) ||
               (sig->prefix[0] && (!strncmp(sig->prefix, "doc", 3)))) {
        cat = DAI_CAT_DOCUMENTATION;
        conf = 0.55 + 0.35 * (1.0 - p[CLS_QUESTION]);
        rule = "documentation wording in the title";
    }

    /* priority */
    if (cat == DAI_CAT_SECURITY)
        prio = (any & (SIG(CRASH) | SIG(DATALOSS))) ? DAI_PRIO_CRITICAL : DAI_PRIO_HIGH;
    else if (cat == DAI_CAT_BUG && (any & SIG(DATALOSS)))
        prio = DAI_PRIO_CRITICAL;
    else if (cat == DAI_CAT_BUG &&
             ((sig->title & (SIG(CRASH) | SIG(HANG) | SIG(REGRESSION))) ||
              (sig->body & SIG(REGRESSION)) || sig->trace_lines >= 4))
        prio = DAI_PRIO_HIGH;
    else if (cat == DAI_CAT_BUG || cat == DAI_CAT_FEATURE_REQUEST)
        prio = DAI_PRIO_MEDIUM;
    else
        prio = DAI_PRIO_LOW;
    if (lh.priority >= 0)
        prio = (enum dai_priority)lh.priority;

    /* effort */
    switch (cat) {
    case DAI_CAT_QUESTION:
    case DAI_CAT_DOCUMENTATION:
        effort = DAI_EFFORT_SMALL;
        break;
    case DAI_CAT_FEATURE_REQUEST:
        effort = (any & SIG(BIG)) ? DAI_EFFORT_EXTRA_LARGE
                 : sig->body_len > 1500 ? DAI_EFFORT_LARGE : DAI_EFFORT_MEDIUM;
        break;
    case DAI_CAT_ENHANCEMENT:
        effort = (any & SIG(BIG)) ? DAI_EFFORT_LARGE : DAI_EFFORT_MEDIUM;
        break;
    default:
        effort = (any & (SIG(HANG) | SIG(DATALOSS) | SIG(BIG))) ? DAI_EFFORT_LARGE
                 : (sig->body_len < 400 && !sig->trace_lines) ? DAI_EFFORT_SMALL
                                                              : DAI_EFFORT_MEDIUM;
        break;
    }
    if (lh.effort >= 0)
        effort = (enum dai_effort)lh.effort;

    team = pick_team(teams, &text, &team_why);
    if (team)
        snprintf(out->suggested_assignee, sizeof(out->suggested_assignee), "%s", team->name);

    /* tags: category first, then the strongest signals, at most DAI_MAX_TAGS */
    add_tag(out, cat_name(cat));
    if (any & SIG(SECURITY))
        add_tag(out, "security");
    if (any & SIG(DATALOSS))
        add_tag(out, "data-loss");
    if (any & SIG(CRASH))
        add_tag(out, "crash");
    if (any & SIG(REGRESSION))
        add_tag(out, "regression");
    if (any & SIG(HANG))
        add_tag(out, "hang");
    if (any & SIG(PERF))
        add_tag(out, "performance");
    if (sig->title & SIG(BUILD))
        add_tag(out, "build");
    if (sig->title & SIG(DOCS))
        add_tag(out, "docs");
    if (sig->trace_lines)
        add_tag(out, "stack-trace");
    if (any & SIG(REPRO))
        add_tag(out, "has-repro");
    if (!sig->body_len)
        add_tag(out, "needs-info");
    if (text.is_pull_request)
        add_tag(out, "pull-request");

    out->category = cat;
    out->priority = prio;
    out->effort = effort;
    out->confidence = conf < 0 ? 0 : conf > 1 ? 1 : conf;
    out->source = DAI_SRC_OFFLINE;
    make_summary(&text, sig, cat, out);
    explain(m, &text, p, cls, sig, rule, team ? out->suggested_assignee : NULL, team_why, out);
    return 0;
}

int cls_offline_classify(const struct cls_offline_model *m, const struct cls_teams *teams,
                         const struct cls_issue_text *in, struct dai_classification *out)
{
    struct cls_offline_ws *ws;
    int rc;

    if (!m || !in || !out || !in->title)
        return DAI_EINVAL;
    ws = cls_offline_ws_new();
    if (!ws)
        return -ENOMEM;
    rc = cls_offline_classify_ws(m, teams, in, ws, out);
    cls_offline_ws_free(ws);
    return rc;
}
