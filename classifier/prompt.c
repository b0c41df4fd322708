/* Prompt building for the LLM: the system prompt rendered from the operator's
 * template file (team list and reply format filled in), the per-issue user
 * message with title/body truncated at UTF-8 boundaries, the Chat Completions
 * request body with its response_format (JSON schema, JSON object or plain
 * instructions) and the repair turn after an invalid reply. No I/O besides
 * reading the template file once at start. */
#include "prompt.h"

#include <dispatchai/buf.h>
#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/utf8.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REPAIR_ECHO_CHARS 2000

int cls_read_file(const char *path, size_t max, char **out)
{
    struct dai_buf b = {.max = max};
    char chunk[4096];
    FILE *f;
    size_t n;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return -errno;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = dai_buf_append(&b, chunk, n);
        if (rc)
            break;
    }
    if (!rc && ferror(f))
        rc = -EIO;
    fclose(f);
    if (!rc && !b.data)
        rc = dai_buf_append(&b, "", 0);
    if (rc) {
        dai_buf_free(&b);
        return rc;
    }
    *out = dai_buf_take(&b);
    return 0;
}

char *cls_truncate_utf8(const char *s, size_t len, int max_chars)
{
    size_t i;
    char *out;

    if (!s)
        s = "";
    i = dai_utf8_head(s, len, max_chars > 0 ? (size_t)max_chars : 0);
    out = malloc(i + 4);
    if (!out)
        return NULL;
    memcpy(out, s, i);
    if (i < len) {
        memcpy(out + i, "\xE2\x80\xA6", 3); /* "…": tell the model text was cut */
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static int render_teams(struct dai_buf *b, const struct cls_teams *teams)
{
    int rc = 0;

    if (!teams || teams->n == 0)
        return dai_buf_appendf(b, "(no teams are configured: suggested_assignee must be null)");
    for (size_t i = 0; i < teams->n && !rc; i++) {
        const struct cls_team *t = &teams->v[i];
        rc = dai_buf_appendf(b, "%s- %s: %s", i ? "\n" : "", t->name,
                             t->description ? t->description : "");
        if (!rc && t->n_keywords) {
            rc = dai_buf_appendf(b, " (topics: ");
            for (size_t k = 0; k < t->n_keywords && !rc; k++)
                rc = dai_buf_appendf(b, "%s%s", k ? ", " : "", t->keywords[k]);
            if (!rc)
                rc = dai_buf_appendf(b, ")");
        }
    }
    return rc;
}

static int render_list(struct dai_buf *b, const char *(*name)(int), int n)
{
    int rc = 0;

    for (int i = 0; i < n && !rc; i++)
        rc = dai_buf_appendf(b, "%s\"%s\"", i ? ", " : "", name(i));
    return rc;
}

static const char *cat_name(int i) { return dai_category_name((enum dai_category)i); }
static const char *prio_name(int i) { return dai_priority_name((enum dai_priority)i); }
static const char *effort_name(int i) { return dai_effort_name((enum dai_effort)i); }

/* The reply format, generated from the same enums and bounds the validator
 * and the schema use so the instructions can never drift from what we accept.
 * The decision comes first, free text last: a reply cut at max_tokens then
 * loses the least useful part. */
static int render_format(struct dai_buf *b)
{
    int rc = dai_buf_appendf(b, "Reply with exactly one JSON object and nothing else, with these "
                                "members in this order:\n- \"category\": one of ");
    if (!rc)
        rc = render_list(b, cat_name, DAI_CAT_COUNT);
    if (!rc)
        rc = dai_buf_appendf(b, "\n- \"priority\": one of ");
    if (!rc)
        rc = render_list(b, prio_name, DAI_PRIO_COUNT);
    if (!rc)
        rc = dai_buf_appendf(b, "\n- \"effort_estimate\": one of ");
    if (!rc)
        rc = render_list(b, effort_name, DAI_EFFORT_COUNT);
    if (!rc)
        rc = dai_buf_appendf(
            b, "\n- \"suggested_assignee\": the name of one team from the team list, or null\n"
               "- \"confidence\": a number from 0 to 1\n"
               "- \"tags\": an array of at most %d short lower-case keywords (each at most %d "
               "characters)\n"
               "- \"summary\": one sentence summarising the issue (at most %d characters)\n"
               "- \"reasoning\": one or two short sentences explaining the choice (at most %d "
               "characters)",
            CLS_MAX_TAGS, CLS_TAG_MAX_CHARS, CLS_SUMMARY_MAX_CHARS, CLS_REASONING_MAX_CHARS);
    return rc;
}

/* Replace every occurrence of `ph` in the template; returns whether it was found. */
static int substitute(struct dai_buf *out, const char *tmpl, const char *ph, const char *value,
                      bool *found)
{
    const char *p = tmpl, *hit;
    size_t phl = strlen(ph);
    int rc = 0;

    *found = false;
    while (!rc && (hit = strstr(p, ph)) != NULL) {
        rc = dai_buf_append(out, p, (size_t)(hit - p));
        if (!rc)
            rc = dai_buf_append(out, value, strlen(value));
        p = hit + phl;
        *found = true;
    }
    if (!rc)
        rc = dai_buf_append(out, p, strlen(p));
    return rc;
}

static json_t *enum_array(const char *(*name)(int), int n)
{
    json_t *a = json_array();

    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(name(i)))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* A string member, with its length bound when `bounded`. */
static json_t *string_member(int max_chars, bool bounded)
{
    return bounded ? json_pack("{s:s,s:i}", "type", "string", "maxLength", max_chars)
                   : json_pack("{s:s}", "type", "string");
}

/* The json_schema of the reply. Member order is the order a grammar-driven
 * server generates in: the decision (category ... confidence) before the free
 * text. `bounded` adds maxLength/maxItems to every free string and array, so
 * a constrained decoder cannot loop inside a member
 * (llama.cpp's grammar enforces them); some strict servers refuse these
 * keywords, hence the unbounded variant the client steps down to.
 * `decision_only` leaves out tags, summary and reasoning: the smaller answer
 * asked for after a reply was cut at max_tokens. New object or NULL. */
static json_t *build_schema(const struct cls_teams *teams, bool bounded, bool decision_only)
{
    json_t *teams_enum = json_array(), *props = NULL, *required = NULL, *tags;
    size_t i;

    for (i = 0; teams && teams_enum && i < teams->n; i++)
        if (json_array_append_new(teams_enum, json_string(teams->v[i].name)))
            goto fail;
    if (!teams_enum || json_array_append_new(teams_enum, json_null()))
        goto fail;
    /* confidence stays unbounded: llama.cpp's grammar for a number with
     * minimum/maximum stalls generation; the validator checks 0..1. */
    props = json_pack("{s:{s:s,s:o},s:{s:s,s:o},s:{s:s,s:o},s:{s:[ss],s:o},s:{s:s}}", "category",
                      "type", "string", "enum", enum_array(cat_name, DAI_CAT_COUNT), "priority",
                      "type", "string", "enum", enum_array(prio_name, DAI_PRIO_COUNT),
                      "effort_estimate", "type", "string", "enum",
                      enum_array(effort_name, DAI_EFFORT_COUNT), "suggested_assignee", "type",
                      "string", "null", "enum", teams_enum, "confidence", "type", "number");
    teams_enum = NULL; /* stolen by json_pack (also on failure) */
    required = json_pack("[sssss]", "category", "priority", "effort_estimate",
                         "suggested_assignee", "confidence");
    if (!props || !required)
        goto fail;
    if (!decision_only) {
        tags = bounded ? json_pack("{s:s,s:o,s:i}", "type", "array", "items",
                                   string_member(CLS_TAG_MAX_CHARS, true), "maxItems", CLS_MAX_TAGS)
                       : json_pack("{s:s,s:o}", "type", "array", "items",
                                   string_member(0, false));
        if (json_object_set_new(props, "tags", tags) ||
            json_object_set_new(props, "summary", string_member(CLS_SUMMARY_MAX_CHARS, bounded)) ||
            json_object_set_new(props, "reasoning",
                                string_member(CLS_REASONING_MAX_CHARS, bounded)) ||
            json_array_append_new(required, json_string("tags")) ||
            json_array_append_new(required, json_string("summary")) ||
            json_array_append_new(required, json_string("reasoning")))
            goto fail;
    }
    return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required",
                     required, "additionalProperties", 0);
fail:
    json_decref(teams_enum);
    json_decref(props);
    json_decref(required);
    return NULL;
}

int cls_prompt_init(struct cls_prompt *p, const char *template_text,
                    const struct cls_teams *teams, char *err, size_t errlen)
{
    struct dai_buf teams_txt = {0}, format_txt = {0}, a = {0}, b = {0};
    bool has_teams, has_format;
    int rc;

    memset(p, 0, sizeof(*p));
    if (!template_text || !*template_text) {
        snprintf(err, errlen, "the prompt template is empty");
        return DAI_EINVAL;
    }
    rc = render_teams(&teams_txt, teams);
    if (!rc)
        rc = render_format(&format_txt);
    if (!rc)
        rc = substitute(&a, template_text, "{{teams}}", teams_txt.data, &has_teams);
    if (!rc)
        rc = substitute(&b, a.data, "{{format}}", format_txt.data, &has_format);
    /* A template without the placeholders still gets both: the model cannot
     * pick a team it was never told about. */
    if (!rc && !has_teams)
        rc = dai_buf_appendf(&b, "\n\nTeams:\n%s", teams_txt.data);
    if (!rc && !has_format)
        rc = dai_buf_appendf(&b, "\n\n%s", format_txt.data);
    if (rc)
        goto fail;
    p->system = dai_buf_take(&b);
    p->schema = build_schema(teams, true, false);
    p->schema_unbounded = build_schema(teams, false, false);
    p->schema_decision = build_schema(teams, true, true);
    p->schema_decision_unbounded = build_schema(teams, false, true);
    if (!p->schema || !p->schema_unbounded || !p->schema_decision ||
        !p->schema_decision_unbounded) {
        rc = -ENOMEM;
        goto fail;
    }
    dai_buf_free(&teams_txt);
    dai_buf_free(&format_txt);
    dai_buf_free(&a);
    return 0;
fail:
    snprintf(err, errlen, "cannot build the prompt: %s", dai_strerror(rc));
    dai_buf_free(&teams_txt);
    dai_buf_free(&format_txt);
    dai_buf_free(&a);
    dai_buf_free(&b);
    cls_prompt_free(p);
    return rc;
}

void cls_prompt_free(struct cls_prompt *p)
{
    if (!p)
        return;
    free(p->system);
    json_decref(p->schema);
    json_decref(p->schema_unbounded);
    json_decref(p->schema_decision);
    json_decref(p->schema_decision_unbounded);
    p->system = NULL;
    p->schema = p->schema_unbounded = p->schema_decision = p->schema_decision_unbounded = NULL;
}

char *cls_prompt_user(const struct cls_prompt *p, const struct cls_issue_text *in)
{
    struct dai_buf b = {0};
    char *title = cls_truncate_utf8(in->title, in->title_len, p->max_title_chars);
    char *body = cls_truncate_utf8(in->body, in->body ? in->body_len : 0, p->max_body_chars);
    int rc = (!title || !body) ? -ENOMEM : 0;

    if (!rc)
        rc = dai_buf_appendf(&b, "Repository: %s\nKind: %s\nLabels: ",
                             in->repo && *in->repo ? in->repo : "unknown",
                             in->is_pull_request ? "pull request" : "issue");
    for (size_t i = 0; !rc && i < in->n_labels; i++)
        rc = dai_buf_appendf(&b, "%s%s", i ? ", " : "", in->labels[i]);
    if (!rc)
        rc = dai_buf_appendf(&b, "%s\nTitle: %s\nBody:\n%s", in->n_labels ? "" : "none", title,
                             *body ? body : "(empty)");
    free(title);
    free(body);
    if (rc) {
        dai_buf_free(&b);
        return NULL;
    }
    return dai_buf_take(&b);
}

static json_t *response_format(const struct cls_prompt *p, enum cls_rf rf, bool decision_only)
{
    const json_t *schema;

    switch (rf) {
    case CLS_RF_JSON_SCHEMA:
    case CLS_RF_JSON_SCHEMA_UNBOUNDED:
        schema = rf == CLS_RF_JSON_SCHEMA
                     ? (decision_only ? p->schema_decision : p->schema)
                     : (decision_only ? p->schema_decision_unbounded : p->schema_unbounded);
        return json_pack("{s:s,s:{s:s,s:b,s:O}}", "type", "json_schema", "json_schema", "name",
                         "issue_classification", "strict", 1, "schema", schema);
    case CLS_RF_JSON_OBJECT:
        return json_pack("{s:s}", "type", "json_object");
    case CLS_RF_NONE:
        break;
    }
    return NULL;
}

int cls_prompt_set_format(const struct cls_prompt *p, json_t *req, enum cls_rf rf,
                          bool decision_only)
{
    json_t *fmt;

    if (rf == CLS_RF_NONE) {
        /* json_object_del fails only when the key is absent: nothing to do */
        (void)json_object_del(req, "response_format");
        return 0;
    }
    fmt = response_format(p, rf, decision_only);
    if (!fmt)
        return -ENOMEM;
    return json_object_set_new(req, "response_format", fmt) ? -ENOMEM : 0;
}

int cls_prompt_decision_only(const struct cls_prompt *p, json_t *req, enum cls_rf rf)
{
    json_t *msgs = json_object_get(req, "messages");
    json_t *user = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *text = dai_json_str(user, "content", NULL);
    struct dai_buf b = {0};
    int rc;

    if (!text)
        return DAI_EINVAL;
    /* Said in words too: without a schema the instruction is all the model
     * has, and with one it explains the smaller schema. */
    rc = dai_buf_appendf(&b, "%s\n\n(Keep the reply short: give only \"category\", "
                         "\"priority\", \"effort_estimate\", \"suggested_assignee\" and "
                         "\"confidence\".)", text);
    if (!rc)
        rc = json_object_set_new(user, "content", json_string(b.data)) ? -ENOMEM : 0;
    dai_buf_free(&b);
    if (!rc)
        rc = cls_prompt_set_format(p, req, rf, true);
    return rc;
}

json_t *cls_prompt_request(const struct cls_prompt *p, const struct cls_issue_text *in,
                           enum cls_rf rf)
{
    char *user = cls_prompt_user(p, in);
    json_t *req;

    if (!user)
        return NULL;
    req = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:f}", "model", p->model ? p->model : "",
                    "messages", "role", "system", "content", p->system, "role", "user",
                    "content", user, "temperature", p->temperature);
    free(user);
    if (!req)
        return NULL;
    if (p->max_tokens > 0 &&
        json_object_set_new(req, "max_tokens", json_integer(p->max_tokens)))
        goto fail;
    if (cls_prompt_set_format(p, req, rf, false))
        goto fail;
    return req;
fail:
    json_decref(req);
    return NULL;
}

int cls_prompt_add_repair(json_t *req, const char *bad_reply, const char *problem)
{
    json_t *msgs = json_object_get(req, "messages");
    char *echo = cls_truncate_utf8(bad_reply, bad_reply ? strlen(bad_reply) : 0,
                                   REPAIR_ECHO_CHARS);
    char fix[512];
    int rc = -ENOMEM;

    if (!json_is_array(msgs) || !echo)
        goto out;
    snprintf(fix, sizeof(fix),
             "Your reply was not valid: %s. Reply again with only the JSON object described "
             "above: no prose, no code fences, every member present, values exactly as listed.",
             problem && *problem ? problem : "it could not be read");
    if (json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "assistant", "content",
                                              *echo ? echo : "(empty)")))
        goto out;
    if (json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", fix)))
        goto out;
    rc = 0;
out:
    free(echo);
    return rc;
}
