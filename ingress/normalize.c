/* Builds the raw event (docs/events.md, schema version 1) from a verified
 * GitHub payload: the extractor finds the ~60 fields we keep, this file
 * checks their types against the schema and writes compact JSON directly,
 * copying strings in their already-validated escaped form. It owns the key
 * rule's inputs (full_name, subject, number); the HTTP side is webhook.c's. */
#include "normalize.h"

#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Field paths; one enum per path, in the same order as paths[] below. The
 * issue and pull_request subjects share one layout (SUBJ_* offsets). */
enum {
    SUBJ_OBJ = 0, SUBJ_ID, SUBJ_NUMBER, SUBJ_TITLE, SUBJ_BODY, SUBJ_STATE, SUBJ_LABELS,
    SUBJ_USER_LOGIN, SUBJ_USER_ID, SUBJ_ASSIGNEES, SUBJ_HTML_URL, SUBJ_CREATED, SUBJ_UPDATED,
    SUBJ_PR, SUBJ_DRAFT, SUBJ_MERGED, SUBJ_HEAD_REF, SUBJ_BASE_REF, SUBJ_N
};

enum {
    P_ACTION = 0,
    P_REPO, P_REPO_ID, P_REPO_NAME, P_REPO_FULL, P_REPO_PRIVATE, P_REPO_OWNER_LOGIN,
    P_REPO_OWNER_ID, P_REPO_HTML_URL,
    P_SENDER, P_SENDER_LOGIN, P_SENDER_ID, P_SENDER_TYPE,
    P_CHANGES,
    P_INSTALLATION_ID, P_LABEL_NAME,
    P_COMMENT, P_COMMENT_ID, P_COMMENT_BODY, P_COMMENT_USER_LOGIN, P_COMMENT_USER_ID,
    P_COMMENT_HTML_URL, P_COMMENT_CREATED, P_COMMENT_UPDATED,
    P_ISSUE,
    P_PR = P_ISSUE + SUBJ_N,
    P_COUNT = P_PR + SUBJ_N
};

#define SUBJECT_PATHS(s)                                                                       \
    s, s ".id", s ".number", s ".title", s ".body", s ".state", s ".labels", s ".user.login",  \
        s ".user.id", s ".assignees", s ".html_url", s ".created_at", s ".updated_at",         \
        s ".pull_request", s ".draft", s ".merged", s ".head.ref", s ".base.ref"

static const char *const paths[P_COUNT] = {
    "action",
    "repository", "repository.id", "repository.name", "repository.full_name",
    "repository.private", "repository.owner.login", "repository.owner.id",
    "repository.html_url",
    "sender", "sender.login", "sender.id", "sender.type",
    "changes",
    "installation.id", "label.name",
    "comment", "comment.id", "comment.body", "comment.user.login", "comment.user.id",
    "comment.html_url", "comment.created_at", "comment.updated_at",
    SUBJECT_PATHS("issue"),
    SUBJECT_PATHS("pull_request"),
};

struct ing_normalizer {
    struct ing_jpaths *paths;
};

static const char *const event_names[] = {"issues", "issue_comment", "pull_request", "ping",
                                          "other"};

enum ing_event ing_event_parse(const char *name)
{
    if (!name)
        return ING_EV_OTHER;
    for (int i = 0; i < ING_EV_OTHER; i++)
        if (strcmp(name, event_names[i]) == 0)
            return (enum ing_event)i;
    return ING_EV_OTHER;
}

const char *ing_event_name(enum ing_event ev)
{
    return (unsigned)ev <= ING_EV_OTHER ? event_names[ev] : "other";
}

struct ing_normalizer *ing_normalizer_new(char *err, size_t errlen)
{
    struct ing_normalizer *n = calloc(1, sizeof(*n));

    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->paths = ing_jpaths_new(paths, P_COUNT, err, errlen);
    if (!n->paths) {
        free(n);
        return NULL;
    }
    return n;
}

void ing_normalizer_free(struct ing_normalizer *n)
{
    if (!n)
        return;
    ing_jpaths_free(n->paths);
    free(n);
}

/*---- writing ------------------------------------------------------------*/

/* One output document being written; the first error sticks in rc so the
 * writers can be chained without checking every append. */
struct out {
    struct dai_buf *b;
    const char *src; /* the payload */
    const struct ing_span *sp;
    int rc;
    char *err;
    size_t errlen;
};

static void raw(struct out *o, const char *s, size_t n)
{
    if (!o->rc)
        o->rc = dai_buf_append(o->b, s, n);
}

/* s must be a string literal (the "" s "" makes anything else a compile error). */
#define LIT(o, s) raw((o), "" s "", sizeof(s) - 1)

/* ,"name": */
static void name(struct out *o, const char *n, bool first)
{
    if (!first)
        LIT(o, ",");
    LIT(o, "\"");
    raw(o, n, strlen(n));
    LIT(o, "\":");
}

static void span_raw(struct out *o, const struct ing_span *s)
{
    if (s->type == ING_JT_STRING) {
        LIT(o, "\"");
        raw(o, o->src + s->off, s->len);
        LIT(o, "\"");
    } else {
        raw(o, o->src + s->off, s->len);
    }
}

static int schema_error(struct out *o, const char *field, const char *want)
{
    if (!o->rc) {
        snprintf(o->err, o->errlen, "%s: missing or not %s", field, want);
        o->rc = DAI_ESCHEMA;
    }
    return o->rc;
}

enum kind { K_STR, K_STR_NULL, K_INT, K_BOOL };

static bool kind_ok(const char *src, const struct ing_span *s, enum kind k)
{
    long long v;

    switch (k) {
    case K_STR: return s->type == ING_JT_STRING;
    case K_STR_NULL: return s->type == ING_JT_STRING || s->type == ING_JT_NULL;
    /* Integers must fit in long long: jansson downstream rejects larger ones. */
    case K_INT: return ing_json_int(src, s, &v) == 0;
    case K_BOOL: return s->type == ING_JT_TRUE || s->type == ING_JT_FALSE;
    }
    return false;
}

/* Write a required member: it must be present with the schema's type. */
static void req(struct out *o, const char *n, bool first, const struct ing_span *s, enum kind k,
                const char *field)
{
    if (o->rc)
        return;
    if (!kind_ok(o->src, s, k)) {
        schema_error(o, field, k == K_INT ? "an integer" : k == K_BOOL ? "a boolean"
                     : k == K_STR ? "a string" : "a string or null");
        return;
    }
    name(o, n, first);
    span_raw(o, s);
}

/* Write an optional member only when present with the right type (a wrong
 * type is dropped rather than failing the delivery: nothing requires it). */
static void opt(struct out *o, const char *n, const struct ing_span *s, enum kind k)
{
    if (o->rc || !kind_ok(o->src, s, k))
        return;
    name(o, n, false);
    span_raw(o, s);
}

static void user(struct out *o, const char *n, const struct ing_span *login,
                 const struct ing_span *id, const char *field)
{
    char f[64];

    name(o, n, false);
    LIT(o, "{");
    snprintf(f, sizeof(f), "%s.login", field);
    req(o, "login", true, login, K_STR, f);
    snprintf(f, sizeof(f), "%s.id", field);
    req(o, "id", false, id, K_INT, f);
    LIT(o, "}");
}

/* The members name/color (labels) or login/id (assignees) of each element. */
static void object_list(struct out *o, const char *n, const struct ing_span *arr, bool labels,
                        const char *field)
{
    struct ing_span el, k, v;
    uint32_t pos = 0;
    bool first = true;

    if (o->rc)
        return;
    if (arr->type != ING_JT_ARRAY) {
        schema_error(o, field, "an array");
        return;
    }
    name(o, n, false);
    LIT(o, "[");
    while (!o->rc && ing_json_array_next(o->src, arr, &pos, &el)) {
        struct ing_span a = {0}, b = {0};
        uint32_t mpos = 0;

        if (el.type != ING_JT_OBJECT) {
            schema_error(o, field, "an array of objects");
            return;
        }
        /* Last occurrence wins, as everywhere else. */
        while (ing_json_object_next(o->src, &el, &mpos, &k, &v)) {
            if (ing_json_str_eq(o->src, &k, labels ? "name" : "login"))
                a = v;
            else if (ing_json_str_eq(o->src, &k, labels ? "color" : "id"))
                b = v;
        }
        if (!first)
            LIT(o, ",");
        LIT(o, "{");
        first = false;
        if (labels) {
            req(o, "name", true, &a, K_STR, "labels[].name");
            if (b.type == ING_JT_STRING || b.type == ING_JT_NULL) {
                name(o, "color", false);
                span_raw(o, &b);
            }
        } else {
            req(o, "login", true, &a, K_STR, "assignees[].login");
            req(o, "id", false, &b, K_INT, "assignees[].id");
        }
        LIT(o, "}");
    }
    LIT(o, "]");
}

static void list_or_empty(struct out *o, const char *n, const struct ing_span *arr, bool labels,
                          const char *field)
{
    if (arr->type == ING_JT_ABSENT || arr->type == ING_JT_NULL) {
        if (!o->rc) {
            name(o, n, false);
            LIT(o, "[]");
        }
        return;
    }
    object_list(o, n, arr, labels, field);
}

static void subject(struct out *o, const char *n, const struct ing_span *s, bool is_pr_event)
{
    char f[96];

#define F(x) (snprintf(f, sizeof(f), "%s.%s", n, x), f)
    if (o->rc)
        return;
    if (s[SUBJ_OBJ].type != ING_JT_OBJECT) {
        schema_error(o, n, "an object");
        return;
    }
    name(o, n, false);
    LIT(o, "{");
    req(o, "id", true, &s[SUBJ_ID], K_INT, F("id"));
    req(o, "number", false, &s[SUBJ_NUMBER], K_INT, F("number"));
    req(o, "title", false, &s[SUBJ_TITLE], K_STR, F("title"));
    /* GitHub sends null for an empty body; absent is treated the same way. */
    if (s[SUBJ_BODY].type == ING_JT_ABSENT) {
        name(o, "body", false);
        LIT(o, "null");
    } else {
        req(o, "body", false, &s[SUBJ_BODY], K_STR_NULL, F("body"));
    }
    /* GitHub omits state from some actions (issues pinned/unpinned) and
     * labels from others: absent means unknown (no state) or none. */
    if (s[SUBJ_STATE].type != ING_JT_ABSENT && s[SUBJ_STATE].type != ING_JT_NULL)
        req(o, "state", false, &s[SUBJ_STATE], K_STR, F("state"));
    list_or_empty(o, "labels", &s[SUBJ_LABELS], true, F("labels"));
    user(o, "user", &s[SUBJ_USER_LOGIN], &s[SUBJ_USER_ID], F("user"));
    list_or_empty(o, "assignees", &s[SUBJ_ASSIGNEES], false, F("assignees"));
    req(o, "html_url", false, &s[SUBJ_HTML_URL], K_STR, F("html_url"));
    req(o, "created_at", false, &s[SUBJ_CREATED], K_STR, F("created_at"));
    req(o, "updated_at", false, &s[SUBJ_UPDATED], K_STR_NULL, F("updated_at"));
    if (is_pr_event) {
        opt(o, "draft", &s[SUBJ_DRAFT], K_BOOL);
        opt(o, "merged", &s[SUBJ_MERGED], K_BOOL);
        opt(o, "head_ref", &s[SUBJ_HEAD_REF], K_STR);
        opt(o, "base_ref", &s[SUBJ_BASE_REF], K_STR);
    } else {
        name(o, "is_pull_request", false);
        if (s[SUBJ_PR].type == ING_JT_OBJECT)
            LIT(o, "true");
        else
            LIT(o, "false");
    }
    LIT(o, "}");
#undef F
}

static void changes(struct out *o, const struct ing_span *c)
{
    struct ing_span k, v;
    uint32_t pos = 0;
    bool first = true;

    if (o->rc || c->type != ING_JT_OBJECT)
        return;
    name(o, "changes", false);
    LIT(o, "[");
    while (ing_json_object_next(o->src, c, &pos, &k, &v)) {
        if (!first)
            LIT(o, ",");
        first = false;
        span_raw(o, &k);
    }
    LIT(o, "]");
}

/* Decoded action, reduced to printable ASCII for log lines. */
static void action_text(const char *src, const struct ing_span *s, char *out, size_t n)
{
    int len = ing_json_unescape(src, s, out, n);

    if (len < 0) {
        snprintf(out, n, "?");
        return;
    }
    for (int i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
}

int ing_normalize(const struct ing_normalizer *n, enum ing_event ev, const char *payload,
                  size_t len, const char *delivery_id, long long receive_ms, struct dai_buf *out,
                  struct ing_event_info *info, char *err, size_t errlen)
{
    struct ing_span sp[P_COUNT];
    struct out o = {.b = out, .src = payload, .sp = sp, .err = err, .errlen = errlen};
    const struct ing_span *subj;
    char ts[32], full[260];
    const char *subject_type;
    int rc, flen;

    memset(info, 0, sizeof(*info));
    if ((unsigned)ev >= ING_EV_COUNT) {
        snprintf(err, errlen, "event %s is not normalised", ing_event_name(ev));
        return DAI_EINVAL;
    }
    rc = ing_json_extract(n->paths, payload, len, sp, err, errlen);
    if (rc)
        return rc;

    subj = ev == ING_EV_PULL_REQUEST ? &sp[P_PR] : &sp[P_ISSUE];
    info->event_type = ev == ING_EV_ISSUES ? "issue"
                     : ev == ING_EV_ISSUE_COMMENT ? "issue_comment" : "pull_request";
    /* The subject decides the key: a comment on a pull request shares the
     * pull request's key (dai_event_subject reads it the same way). */
    subject_type = (ev == ING_EV_PULL_REQUEST || subj[SUBJ_PR].type == ING_JT_OBJECT)
                   ? "pull_request" : "issue";
    if (sp[P_ACTION].type != ING_JT_STRING)
        return schema_error(&o, "action", "a string");
    if (sp[P_REPO_FULL].type != ING_JT_STRING)
        return schema_error(&o, "repository.full_name", "a string");
    if (subj[SUBJ_OBJ].type != ING_JT_OBJECT)
        return schema_error(&o, ev == ING_EV_PULL_REQUEST ? "pull_request" : "issue",
                            "an object");
    if (ing_json_int(payload, &subj[SUBJ_NUMBER], &info->number))
        return schema_error(&o, ev == ING_EV_PULL_REQUEST ? "pull_request.number"
                                                         : "issue.number", "an integer");
    flen = ing_json_unescape(payload, &sp[P_REPO_FULL], full, sizeof(full));
    if (flen <= 0 || flen > 256 || memchr(full, '\0', (size_t)flen)) {
        snprintf(err, errlen, "repository.full_name: empty or longer than 256 bytes");
        return DAI_ESCHEMA;
    }
    rc = dai_event_key(info->key, sizeof(info->key), full, subject_type, info->number,
                       &info->key_len);
    if (rc)
        return rc;
    action_text(payload, &sp[P_ACTION], info->action, sizeof(info->action));

    dai_buf_reset(out);
    /* Titles and bodies dominate; one reservation avoids regrowth. */
    rc = dai_buf_reserve(out, 1024 + subj[SUBJ_TITLE].len + subj[SUBJ_BODY].len +
                                  sp[P_COMMENT_BODY].len);
    if (rc)
        return rc;
    dai_rfc3339_ms(receive_ms, ts);
    LIT(&o, "{\"schema_version\":" DAI_SCHEMA_VERSION_STR ",\"event_type\":\"");
    raw(&o, info->event_type, strlen(info->event_type));
    LIT(&o, "\"");
    req(&o, "action", false, &sp[P_ACTION], K_STR, "action");
    name(&o, "timestamp", false);
    LIT(&o, "\"");
    raw(&o, ts, strlen(ts));
    LIT(&o, "\",\"delivery_id\":\"");
    raw(&o, delivery_id, strlen(delivery_id));
    LIT(&o, "\"");

    name(&o, "repository", false);
    LIT(&o, "{");
    req(&o, "id", true, &sp[P_REPO_ID], K_INT, "repository.id");
    req(&o, "name", false, &sp[P_REPO_NAME], K_STR, "repository.name");
    req(&o, "full_name", false, &sp[P_REPO_FULL], K_STR, "repository.full_name");
    req(&o, "private", false, &sp[P_REPO_PRIVATE], K_BOOL, "repository.private");
    user(&o, "owner", &sp[P_REPO_OWNER_LOGIN], &sp[P_REPO_OWNER_ID], "repository.owner");
    opt(&o, "html_url", &sp[P_REPO_HTML_URL], K_STR);
    LIT(&o, "}");

    name(&o, "sender", false);
    LIT(&o, "{");
    req(&o, "login", true, &sp[P_SENDER_LOGIN], K_STR, "sender.login");
    req(&o, "id", false, &sp[P_SENDER_ID], K_INT, "sender.id");
    opt(&o, "type", &sp[P_SENDER_TYPE], K_STR);
    LIT(&o, "}");

    changes(&o, &sp[P_CHANGES]);
    /* The App installation the delivery came through: write-back needs it
     * to act on the issue; absent for repository webhooks. */
    if (!o.rc && kind_ok(payload, &sp[P_INSTALLATION_ID], K_INT)) {
        name(&o, "installation", false);
        LIT(&o, "{");
        req(&o, "id", true, &sp[P_INSTALLATION_ID], K_INT, "installation.id");
        LIT(&o, "}");
    }
    /* The label a labeled/unlabeled action is about. */
    if (!o.rc && sp[P_LABEL_NAME].type == ING_JT_STRING) {
        name(&o, "label", false);
        LIT(&o, "{");
        req(&o, "name", true, &sp[P_LABEL_NAME], K_STR, "label.name");
        LIT(&o, "}");
    }
    subject(&o, ev == ING_EV_PULL_REQUEST ? "pull_request" : "issue", subj,
            ev == ING_EV_PULL_REQUEST);

    if (ev == ING_EV_ISSUE_COMMENT && !o.rc) {
        if (sp[P_COMMENT].type != ING_JT_OBJECT)
            return schema_error(&o, "comment", "an object");
        name(&o, "comment", false);
        LIT(&o, "{");
        req(&o, "id", true, &sp[P_COMMENT_ID], K_INT, "comment.id");
        if (sp[P_COMMENT_BODY].type == ING_JT_ABSENT) {
            name(&o, "body", false);
            LIT(&o, "null");
        } else {
            req(&o, "body", false, &sp[P_COMMENT_BODY], K_STR_NULL, "comment.body");
        }
        user(&o, "user", &sp[P_COMMENT_USER_LOGIN], &sp[P_COMMENT_USER_ID], "comment.user");
        opt(&o, "html_url", &sp[P_COMMENT_HTML_URL], K_STR);
        req(&o, "created_at", false, &sp[P_COMMENT_CREATED], K_STR, "comment.created_at");
        opt(&o, "updated_at", &sp[P_COMMENT_UPDATED], K_STR_NULL);
        LIT(&o, "}");
    }
    LIT(&o, "}");
    /* NUL in text becomes U+FFFD (docs/events.md, "NUL in text"); the copied
     * spans keep their escaped form, so this is a same-length rewrite. */
    if (!o.rc)
        dai_json_replace_nul(out->data, out->len);
    return o.rc;
}

/*---- small validators ------------------------------------------------------*/

bool ing_guid_valid(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= ING_GUID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

bool ing_content_type_is(const char *header, const char *mt)
{
    size_t n = strlen(mt);

    if (!header)
        return false;
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncasecmp(header, mt, n) != 0)
        return false;
    header += n;
    while (*header == ' ' || *header == '\t')
        header++;
    return *header == '\0' || *header == ';';
}
