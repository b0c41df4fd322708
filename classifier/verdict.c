/* Reading the LLM's answer: the Chat Completions envelope (choices, usage,
 * error objects) and the assistant's content, which is unwrapped from code
 * fences or surrounding prose, normalised where a model's spelling is merely
 * sloppy ("Feature Request"), and then validated strictly (enums, ranges,
 * types, configured team names) before it becomes a classification. */
#include "verdict.h"

#include "teams.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int cls_verdict_completion(const char *body, size_t len, struct cls_completion *out, char *err,
                           size_t errlen)
{
    json_t *doc, *choice, *msg, *content, *usage;
    int rc = DAI_EPARSE;

    memset(out, 0, sizeof(*out));
    doc = dai_json_parse(body, len, err, errlen);
    if (!doc)
        return DAI_EPARSE;
    choice = json_array_get(json_object_get(doc, "choices"), 0);
    msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "reply has no choices[0].message");
        goto out;
    }
    content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        out->content = strdup(json_string_value(content));
    } else if (json_is_string(json_object_get(msg, "refusal")) || json_is_null(content)) {
        /* A refusal or an empty message is an answer, just not a usable one:
         * the repair turn (then the offline classifier) handles it. */
        out->content = strdup("");
    } else {
        snprintf(err, errlen, "reply has no choices[0].message.content string");
        goto out;
    }
    if (!out->content) {
        rc = -ENOMEM;
        goto out;
    }
    copy_field(out->model, sizeof(out->model), dai_json_str(doc, "model", ""));
    copy_field(out->finish_reason, sizeof(out->finish_reason),
               dai_json_str(choice, "finish_reason", ""));
    usage = json_object_get(doc, "usage");
    out->prompt_tokens = dai_json_int(usage, "prompt_tokens", 0);
    out->completion_tokens = dai_json_int(usage, "completion_tokens", 0);
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

void cls_completion_free(struct cls_completion *c)
{
    if (!c)
        return;
    free(c->content);
    c->content = NULL;
}

void cls_verdict_error_message(const char *body, size_t len, char *out, size_t n)
{
    char err[64];
    json_t *doc = dai_json_parse(body, len, err, sizeof(err));
    const json_t *e = json_object_get(doc, "error");
    const char *msg = json_is_string(e) ? json_string_value(e) : dai_json_str(e, "message", "");

    snprintf(out, n, "%s", msg ? msg : "");
    json_decref(doc);
}

/* The JSON object inside the content: after an opening code fence if there
 * is one, from the first '{' to the last '}'. */
static bool locate_object(const char *s, size_t len, const char **start, size_t *olen)
{
    const char *end = s + len, *fence = NULL, *open, *close = NULL;

    for (const char *p = s; p + 3 <= end; p++)
        if (p[0] == '`' && p[1] == '`' && p[2] == '`') {
            fence = p;
            break;
        }
    if (fence) {
        const char *nl = memchr(fence, '\n', (size_t)(end - fence));
        const char *fend = NULL;

        s = nl ? nl + 1 : fence + 3;
        for (const char *p = s; p + 3 <= end; p++)
            if (p[0] == '`' && p[1] == '`' && p[2] == '`') {
                fend = p;
                break;
            }
        if (fend)
            end = fend;
    }
    open = memchr(s, '{', (size_t)(end - s));
    if (!open)
        return false;
    for (const char *p = end; p > open; p--)
        if (p[-1] == '}') {
            close = p;
            break;
        }
    if (!close)
        return false;
    *start = open;
    *olen = (size_t)(close - open);
    return true;
}

struct synonym {
    const char *from, *to;
};

static const struct synonym synonyms[] = {
    {"feature", "feature_request"}, {"feature_requests", "feature_request"},
    {"docs", "documentation"},      {"doc", "documentation"},
    {"xl", "extra_large"},          {"x_large", "extra_large"},
    {"very_large", "extra_large"},  {"med", "medium"},
};

/* Lower-case, trim, spaces/hyphens to underscores, a few common synonyms.
 * Anything still outside the enum fails validation afterwards. */
static int normalise_enum(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    char buf[64];
    size_t n = 0;

    if (!v)
        return 0; /* missing or wrong type: the validator reports it */
    while (*v && isspace((unsigned char)*v))
        v++;
    for (; *v && n < sizeof(buf) - 1; v++) {
        unsigned char ch = (unsigned char)*v;
        buf[n++] = (ch == ' ' || ch == '-') ? '_' : (char)tolower(ch);
    }
    while (n > 0 && buf[n - 1] == '_')
        n--;
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
        if (strcmp(buf, synonyms[i].from) == 0) {
            snprintf(buf, sizeof(buf), "%s", synonyms[i].to);
            break;
        }
    return json_object_set_new(obj, key, json_string(buf)) ? -ENOMEM : 0;
}

static bool means_nobody(const char *s)
{
    static const char *const nobody[] = {"", "none", "null", "n/a", "unassigned", "nobody"};

    for (size_t i = 0; i < sizeof(nobody) / sizeof(nobody[0]); i++)
        if (strcasecmp(s, nobody[i]) == 0)
            return true;
    return false;
}

int cls_verdict_parse(const char *content, size_t len, const struct cls_teams *teams,
                      struct dai_classification *out, char *err, size_t errlen)
{
    const char *start;
    size_t olen;
    json_t *obj, *v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!content || !locate_object(content, len, &start, &olen)) {
        snprintf(err, errlen, "the reply contains no JSON object");
        return DAI_EPARSE;
    }
    obj = dai_json_parse(start, olen, err, errlen);
    if (!obj)
        return DAI_EPARSE;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "the reply is not a JSON object");
        rc = DAI_EPARSE;
        goto out;
    }
    rc = normalise_enum(obj, "category");
    if (!rc)
        rc = normalise_enum(obj, "priority");
    if (!rc)
        rc = normalise_enum(obj, "effort_estimate");
    if (rc)
        goto out;

    v = json_object_get(obj, "suggested_assignee");
    if (json_is_string(v)) {
        const char *name = json_string_value(v);
        const char *team = means_nobody(name) ? NULL : cls_teams_match(teams, name);

        if (!team && !means_nobody(name)) {
            snprintf(err, errlen, "suggested_assignee: \"%.40s\" is not one of the teams", name);
            rc = DAI_ESCHEMA;
            goto out;
        }
        rc = json_object_set_new(obj, "suggested_assignee", team ? json_string(team) : json_null())
                 ? -ENOMEM : 0;
    } else if (v && !json_is_null(v)) {
        snprintf(err, errlen, "suggested_assignee: not a string or null");
        rc = DAI_ESCHEMA;
    }
    if (rc)
        goto out;

    /* A confidence of 85 is a percentage, a common sloppiness of small models
     * (a grammar bounds integers, not every server bounds numbers). */
    v = json_object_get(obj, "confidence");
    if (json_is_number(v) && json_number_value(v) > 1.0 && json_number_value(v) <= 100.0 &&
        json_object_set_new(obj, "confidence", json_real(json_number_value(v) / 100.0))) {
        rc = -ENOMEM;
        goto out;
    }
    /* More than five tags is verbosity, not a wrong answer: keep the first five. */
    v = json_object_get(obj, "tags");
    while (json_is_array(v) && json_array_size(v) > DAI_MAX_TAGS)
        if (json_array_remove(v, json_array_size(v) - 1))
            break;
    /* The source is ours to say; whatever the model wrote there is ignored. */
    if (json_object_set_new(obj, "source", json_string("llm"))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = dai_classification_from_json(obj, out, err, errlen);
    if (!rc && out->source != DAI_SRC_LLM)
        rc = DAI_ESCHEMA;
out:
    json_decref(obj);
    return rc;
}
