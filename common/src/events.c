/* The raw/enriched event contract: classification vocabulary, conversion of
 * classifications to and from JSON with validation, subject extraction, keys
 * and schema validation. Building a raw event from a GitHub payload is the
 * ingress's job (ingress/normalize.c); this file only defines what is valid. */
#include <dispatchai/clock.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/utf8.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const category_names[DAI_CAT_COUNT] = {
    "bug", "feature_request", "enhancement", "documentation", "question", "security"};
static const char *const priority_names[DAI_PRIO_COUNT] = {"critical", "high", "medium", "low"};
static const char *const effort_names[DAI_EFFORT_COUNT] = {"small", "medium", "large",
                                                           "extra_large"};
static const char *const source_names[DAI_SRC_COUNT] = {"llm", "offline", "human"};

static const char *name_of(const char *const *names, int n, int v)
{
    return (v >= 0 && v < n) ? names[v] : "unknown";
}

/* 0 with *out = the index of s in names, or DAI_EINVAL (unknown or NULL). */
static int parse_name(const char *const *names, int n, const char *s, int *out)
{
    if (!s)
        return DAI_EINVAL;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    return DAI_EINVAL;
}

const char *dai_category_name(enum dai_category c)
{
    return name_of(category_names, DAI_CAT_COUNT, (int)c);
}
const char *dai_priority_name(enum dai_priority p)
{
    return name_of(priority_names, DAI_PRIO_COUNT, (int)p);
}
const char *dai_effort_name(enum dai_effort e)
{
    return name_of(effort_names, DAI_EFFORT_COUNT, (int)e);
}
const char *dai_source_name(enum dai_source s)
{
    return name_of(source_names, DAI_SRC_COUNT, (int)s);
}
bool dai_team_name_valid(const char *s, size_t n)
{
    if (n == 0 || n >= DAI_TEAM_LEN || (n == 4 && strncasecmp(s, "none", 4) == 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int dai_category_parse(const char *s, enum dai_category *out)
{
    int i, rc = parse_name(category_names, DAI_CAT_COUNT, s, &i);

    if (rc == 0)
        *out = (enum dai_category)i;
    return rc;
}
int dai_priority_parse(const char *s, enum dai_priority *out)
{
    int i, rc = parse_name(priority_names, DAI_PRIO_COUNT, s, &i);

    if (rc == 0)
        *out = (enum dai_priority)i;
    return rc;
}
int dai_effort_parse(const char *s, enum dai_effort *out)
{
    int i, rc = parse_name(effort_names, DAI_EFFORT_COUNT, s, &i);

    if (rc == 0)
        *out = (enum dai_effort)i;
    return rc;
}
int dai_source_parse(const char *s, enum dai_source *out)
{
    int i, rc = parse_name(source_names, DAI_SRC_COUNT, s, &i);

    if (rc == 0)
        *out = (enum dai_source)i;
    return rc;
}

/* Copy src into dst (size n), cutting at a UTF-8 character boundary so a
 * truncated string is still valid UTF-8 for jansson. */
static void copy_utf8(char *dst, size_t n, const char *src)
{
    size_t len = dai_utf8_cut(src, strlen(src), n - 1);

    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int set_str(json_t *obj, const char *key, const char *val)
{
    return json_object_set_new(obj, key, val ? json_string(val) : json_null());
}

json_t *dai_classification_to_json(const struct dai_classification *c)
{
    json_t *o = json_object();
    json_t *tags = json_array();
    int rc = 0;

    if (!o || !tags)
        goto fail;
    for (unsigned i = 0; i < c->n_tags && i < DAI_MAX_TAGS; i++)
        rc |= json_array_append_new(tags, json_string(c->tags[i]));
    rc |= set_str(o, "category", dai_category_name(c->category));
    rc |= set_str(o, "priority", dai_priority_name(c->priority));
    rc |= set_str(o, "effort_estimate", dai_effort_name(c->effort));
    rc |= set_str(o, "suggested_assignee", c->suggested_assignee[0] ? c->suggested_assignee : NULL);
    rc |= json_object_set_new(o, "confidence", json_real(c->confidence));
    rc |= set_str(o, "reasoning", c->reasoning);
    rc |= json_object_set_new(o, "tags", tags);
    tags = NULL;
    rc |= set_str(o, "summary", c->summary);
    rc |= set_str(o, "source", dai_source_name(c->source));
    if (c->source == DAI_SRC_HUMAN) {
        rc |= set_str(o, "corrected_by", c->corrected_by);
        rc |= set_str(o, "note", c->note[0] ? c->note : NULL);
    }
    if (rc)
        goto fail;
    return o;
fail:
    json_decref(tags);
    json_decref(o);
    return NULL;
}

static int enum_member(const json_t *obj, const char *key, const char *const *names, int n,
                       int *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        snprintf(err, errlen, "classification.%s: missing or not a string", key);
        return DAI_ESCHEMA;
    }
    if (parse_name(names, n, json_string_value(v), out)) {
        snprintf(err, errlen, "classification.%s: \"%.40s\" is not an allowed value", key,
                 json_string_value(v));
        return DAI_ESCHEMA;
    }
    return 0;
}

/* An optional string member: absent/null → "", other types are an error. */
static int opt_string(const json_t *obj, const char *key, char *dst, size_t n, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(obj, key);

    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "classification.%s: not a string", key);
        return DAI_ESCHEMA;
    }
    copy_utf8(dst, n, json_string_value(v));
    return 0;
}

int dai_classification_from_json(const json_t *obj, struct dai_classification *out, char *err,
                                 size_t errlen)
{
    const json_t *conf, *tags;
    int v, rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "classification: not an object");
        return DAI_ESCHEMA;
    }
    rc = enum_member(obj, "category", category_names, DAI_CAT_COUNT, &v, err, errlen);
    if (rc)
        return rc;
    out->category = (enum dai_category)v;
    rc = enum_member(obj, "priority", priority_names, DAI_PRIO_COUNT, &v, err, errlen);
    if (rc)
        return rc;
    out->priority = (enum dai_priority)v;
    rc = enum_member(obj, "effort_estimate", effort_names, DAI_EFFORT_COUNT, &v, err, errlen);
    if (rc)
        return rc;
    out->effort = (enum dai_effort)v;
    /* source is optional on input (an LLM reply does not carry it). */
    if (json_object_get(obj, "source")) {
        rc = enum_member(obj, "source", source_names, DAI_SRC_COUNT, &v, err, errlen);
        if (rc)
            return rc;
        out->source = (enum dai_source)v;
    }

    conf = json_object_get(obj, "confidence");
    if (!json_is_number(conf) || !isfinite(json_number_value(conf)) ||
        json_number_value(conf) < 0.0 || json_number_value(conf) > 1.0) {
        snprintf(err, errlen, "classification.confidence: missing or not a number in 0..1");
        return DAI_ESCHEMA;
    }
    out->confidence = json_number_value(conf);

    rc = opt_string(obj, "suggested_assignee", out->suggested_assignee,
                    sizeof(out->suggested_assignee), err, errlen);
    if (!rc)
        rc = opt_string(obj, "reasoning", out->reasoning, sizeof(out->reasoning), err, errlen);
    if (!rc)
        rc = opt_string(obj, "summary", out->summary, sizeof(out->summary), err, errlen);
    if (!rc)
        rc = opt_string(obj, "corrected_by", out->corrected_by, sizeof(out->corrected_by), err,
                        errlen);
    if (!rc)
        rc = opt_string(obj, "note", out->note, sizeof(out->note), err, errlen);
    if (rc)
        return rc;

    tags = json_object_get(obj, "tags");
    if (tags && !json_is_null(tags)) {
        size_t i;
        const json_t *t;

        if (!json_is_array(tags) || json_array_size(tags) > DAI_MAX_TAGS) {
            snprintf(err, errlen, "classification.tags: not an array of at most %d strings",
                     DAI_MAX_TAGS);
            return DAI_ESCHEMA;
        }
        json_array_foreach(tags, i, t) {
            if (!json_is_string(t)) {
                snprintf(err, errlen, "classification.tags[%zu]: not a string", i);
                return DAI_ESCHEMA;
            }
            copy_utf8(out->tags[out->n_tags++], DAI_TAG_LEN, json_string_value(t));
        }
    }
    return 0;
}

int dai_event_key(char *out, size_t n, const char *full_name, const char *subject,
                  long long number, size_t *len)
{
    int w = snprintf(out, n, "%s:%s:%lld", full_name, subject, number);

    if (w < 0 || (size_t)w >= n)
        return DAI_ETOOBIG;
    if (len)
        *len = (size_t)w;
    return 0;
}

static const char *str_or_empty(const json_t *obj, const char *key)
{
    const char *s = dai_json_str(obj, key, NULL);
    return s ? s : "";
}

int dai_event_subject(const json_t *ev, struct dai_subject *out)
{
    const json_t *repo = json_object_get(ev, "repository");
    const json_t *obj = json_object_get(ev, "pull_request");
    const json_t *num;

    memset(out, 0, sizeof(*out));
    out->type = "pull_request";
    if (!json_is_object(obj)) {
        obj = json_object_get(ev, "issue");
        out->type = dai_json_bool(obj, "is_pull_request", false) ? "pull_request" : "issue";
    }
    if (!json_is_object(obj) || !json_is_object(repo))
        return DAI_ESCHEMA;
    out->repo = dai_json_str(repo, "full_name", NULL);
    num = json_object_get(obj, "number");
    if (!out->repo || !json_is_integer(num))
        return DAI_ESCHEMA;
    out->number = json_integer_value(num);
    out->object = obj;
    out->title = str_or_empty(obj, "title");
    out->body = str_or_empty(obj, "body");
    out->state = str_or_empty(obj, "state");
    return 0;
}

/* ---- schema validation ---------------------------------------------------- */

enum want { W_STR, W_STR_NULL, W_INT, W_INT_NULL, W_BOOL, W_OBJ, W_ARR, W_NUM };

struct field {
    const char *name;
    enum want want;
};

static bool matches(const json_t *v, enum want w)
{
    switch (w) {
    case W_STR: return json_is_string(v);
    case W_STR_NULL: return json_is_string(v) || json_is_null(v);
    case W_INT: return json_is_integer(v);
    case W_INT_NULL: return json_is_integer(v) || json_is_null(v);
    case W_BOOL: return json_is_boolean(v);
    case W_OBJ: return json_is_object(v);
    case W_ARR: return json_is_array(v);
    case W_NUM: return json_is_number(v);
    }
    return false;
}

static int check_fields(const json_t *obj, const char *where, const struct field *f, size_t n,
                        char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s: missing or not an object", where);
        return DAI_ESCHEMA;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, f[i].name);
        if (!v || !matches(v, f[i].want)) {
            snprintf(err, errlen, "%s.%s: %s", where, f[i].name,
                     v ? "has the wrong type" : "is missing");
            return DAI_ESCHEMA;
        }
    }
    return 0;
}

#define CHECK(obj, where, fields)                                                              \
    do {                                                                                       \
        int rc_ = check_fields((obj), (where), (fields), sizeof(fields) / sizeof((fields)[0]), \
                               err, errlen);                                                   \
        if (rc_)                                                                               \
            return rc_;                                                                        \
    } while (0)

static const struct field top_fields[] = {
    {"schema_version", W_INT}, {"event_type", W_STR}, {"action", W_STR},
    {"timestamp", W_STR},      {"delivery_id", W_STR}, {"repository", W_OBJ},
    {"sender", W_OBJ},
};
static const struct field repo_fields[] = {
    {"id", W_INT}, {"name", W_STR}, {"full_name", W_STR}, {"private", W_BOOL}, {"owner", W_OBJ},
};
static const struct field user_fields[] = {{"login", W_STR}, {"id", W_INT}};
static const struct field subject_fields[] = {
    {"id", W_INT},       {"number", W_INT},     {"title", W_STR},         {"body", W_STR_NULL},
    {"labels", W_ARR},   {"user", W_OBJ},       {"assignees", W_ARR},     {"html_url", W_STR},
    {"created_at", W_STR}, {"updated_at", W_STR_NULL},
};
static const struct field comment_fields[] = {
    {"id", W_INT}, {"body", W_STR_NULL}, {"user", W_OBJ}, {"created_at", W_STR},
};
static const struct field label_fields[] = {{"name", W_STR}};

static int check_subject(const json_t *obj, const char *where, char *err, size_t errlen)
{
    size_t i;
    const json_t *l;

    CHECK(obj, where, subject_fields);
    /* state is optional: GitHub omits it from some actions (issues pinned). */
    if (json_object_get(obj, "state") && !json_is_string(json_object_get(obj, "state"))) {
        snprintf(err, errlen, "%s.state: has the wrong type", where);
        return DAI_ESCHEMA;
    }
    CHECK(json_object_get(obj, "user"), "subject.user", user_fields);
    json_array_foreach(json_object_get(obj, "labels"), i, l) CHECK(l, "subject.labels[]",
                                                                   label_fields);
    json_array_foreach(json_object_get(obj, "assignees"), i, l) CHECK(l, "subject.assignees[]",
                                                                      user_fields);
    return 0;
}

int dai_raw_event_validate(const json_t *ev, char *err, size_t errlen)
{
    const char *type;
    int rc;

    CHECK(ev, "event", top_fields);
    if (json_integer_value(json_object_get(ev, "schema_version")) != DAI_SCHEMA_VERSION) {
        snprintf(err, errlen, "event.schema_version: unsupported version %lld",
                 (long long)json_integer_value(json_object_get(ev, "schema_version")));
        return DAI_ESCHEMA;
    }
    CHECK(json_object_get(ev, "repository"), "repository", repo_fields);
    CHECK(json_object_get(ev, "sender"), "sender", user_fields);
    type = json_string_value(json_object_get(ev, "event_type"));
    if (strcmp(type, "issue") == 0) {
        rc = check_subject(json_object_get(ev, "issue"), "issue", err, errlen);
    } else if (strcmp(type, "issue_comment") == 0) {
        rc = check_subject(json_object_get(ev, "issue"), "issue", err, errlen);
        if (!rc)
            CHECK(json_object_get(ev, "comment"), "comment", comment_fields);
    } else if (strcmp(type, "pull_request") == 0) {
        rc = check_subject(json_object_get(ev, "pull_request"), "pull_request", err, errlen);
    } else {
        snprintf(err, errlen, "event.event_type: \"%.40s\" is not issue, issue_comment or "
                 "pull_request", type);
        return DAI_ESCHEMA;
    }
    return rc;
}

static const struct field meta_fields[] = {
    {"processed_at", W_STR}, {"processing_time_ms", W_INT}, {"model_version", W_STR},
    {"attempts", W_INT},
};

int dai_enriched_event_validate(const json_t *ev, char *err, size_t errlen)
{
    struct dai_classification c;
    int rc = dai_raw_event_validate(ev, err, errlen);

    if (rc)
        return rc;
    rc = dai_classification_from_json(json_object_get(ev, "classification"), &c, err, errlen);
    if (rc)
        return rc;
    if (!json_object_get(json_object_get(ev, "classification"), "source")) {
        snprintf(err, errlen, "classification.source: is missing");
        return DAI_ESCHEMA;
    }
    CHECK(json_object_get(ev, "processing_metadata"), "processing_metadata", meta_fields);
    return 0;
}

json_t *dai_enriched_event_new(const json_t *raw, const struct dai_classification *c,
                               const struct dai_processing_meta *meta)
{
    char ts[32];
    json_t *ev = json_copy((json_t *)raw); /* shallow: members are shared, not copied */
    json_t *cls = dai_classification_to_json(c);
    json_t *pm = json_object();
    int rc = 0;

    if (!ev || !cls || !pm)
        goto fail;
    dai_rfc3339_ms(meta->processed_at_ms, ts);
    rc |= json_object_set_new(pm, "processed_at", json_string(ts));
    rc |= json_object_set_new(pm, "processing_time_ms", json_integer(meta->processing_time_ms));
    rc |= json_object_set_new(pm, "model_version",
                              json_string(meta->model_version ? meta->model_version : "unknown"));
    rc |= json_object_set_new(pm, "attempts", json_integer(meta->attempts));
    rc |= json_object_set_new(ev, "classification", cls);
    cls = NULL;
    rc |= json_object_set_new(ev, "processing_metadata", pm);
    pm = NULL;
    if (rc)
        goto fail;
    return ev;
fail:
    json_decref(cls);
    json_decref(pm);
    json_decref(ev);
    return NULL;
}
