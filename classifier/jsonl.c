/* --classify-jsonl: classify JSON lines from a stream, for operators' dry
 * runs and the offline model's evaluation. Each line is a raw event (as on
 * the raw topic) or a bare {"title","body","repo","labels"}; each yields one
 * output line, in input order: the classification, or an error object for a
 * line that cannot be read. With an LLM, up to `window` lines are in flight
 * at once. No Kafka. */
#include "jsonl.h"

#include "llm_client.h"
#include "pipeline.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (4u << 20)
#define MAX_LABELS 32

struct slot {
    long line;
    json_t *doc;                 /* the parsed input (keeps the text alive) */
    json_t *id;                  /* borrowed from doc, or NULL */
    struct cls_issue_text in;
    const char *labels[MAX_LABELS];
    json_t *output;              /* finished line (new), NULL while pending */
};

struct run {
    FILE *out;
    const struct cls_offline_model *offline;
    const struct cls_teams *teams;
    struct cls_llm *llm;
    struct cls_offline_ws *ws;
    struct slot *ring;
    size_t window, head, count; /* ring of pending lines, oldest at head */
    int failures;
};

static json_t *error_line(long line, const json_t *id, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:{s:s,s:s},s:I}", "error", "code", code, "message", msg, "line",
                          (json_int_t)line);

    if (o && id)
        json_object_set(o, "id", (json_t *)id);
    return o;
}

static json_t *result_line(const json_t *id, const struct dai_classification *c)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:f,s:s,s:s}", "category",
                          dai_category_name(c->category), "priority",
                          dai_priority_name(c->priority), "effort_estimate",
                          dai_effort_name(c->effort), "suggested_assignee",
                          c->suggested_assignee[0] ? c->suggested_assignee : NULL, "confidence",
                          c->confidence, "reasoning", c->reasoning, "source",
                          dai_source_name(c->source));

    if (o && id && json_object_set(o, "id", (json_t *)id)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Read the text to classify out of a line: a raw event or a bare object. */
static int read_input(struct slot *s, char *err, size_t errlen)
{
    struct dai_subject subj;
    const json_t *title, *body, *labels, *l;
    size_t i;

    memset(&s->in, 0, sizeof(s->in));
    s->in.labels = s->labels;
    if (json_object_get(s->doc, "issue") || json_object_get(s->doc, "pull_request")) {
        if (dai_event_subject(s->doc, &subj)) {
            snprintf(err, errlen, "a raw event needs repository.full_name and the issue's "
                     "number");
            return DAI_ESCHEMA;
        }
        cls_issue_text_from_event(s->doc, &subj, &s->in, s->labels, MAX_LABELS);
        return 0;
    }
    title = json_object_get(s->doc, "title");
    body = json_object_get(s->doc, "body");
    if (!json_is_string(title)) {
        snprintf(err, errlen, "\"title\" must be a string (or give a raw event)");
        return DAI_ESCHEMA;
    }
    if (body && !json_is_string(body) && !json_is_null(body)) {
        snprintf(err, errlen, "\"body\" must be a string or null");
        return DAI_ESCHEMA;
    }
    s->in.title = json_string_value(title);
    s->in.title_len = json_string_length(title);
    s->in.body = json_is_string(body) ? json_string_value(body) : "";
    s->in.body_len = json_is_string(body) ? json_string_length(body) : 0;
    s->in.repo = dai_json_str(s->doc, "repo", NULL);
    labels = json_object_get(s->doc, "labels");
    json_array_foreach(labels, i, l) {
        const char *name = json_is_string(l) ? json_string_value(l) : dai_json_str(l, "name", NULL);
        if (name && s->in.n_labels < MAX_LABELS)
            s->labels[s->in.n_labels++] = name;
    }
    return 0;
}

static void finish_offline(struct run *r, struct slot *s)
{
    struct dai_classification c;

    if (cls_offline_classify_ws(r->offline, r->teams, &s->in, r->ws, &c))
        s->output = error_line(s->line, s->id, "unclassifiable", "the classifier refused it");
    else
        s->output = result_line(s->id, &c);
}

static void on_result(void *ud, const struct cls_llm_result *res)
{
    struct run *r = ud;
    struct slot *s = res->req_ud;

    if (res->ok)
        s->output = result_line(s->id, &res->cls);
    else
        finish_offline(r, s);
}

/* Print finished lines from the head of the ring, in input order. */
static void flush_done(struct run *r)
{
    while (r->count && r->ring[r->head].output) {
        struct slot *s = &r->ring[r->head];
        char *line = json_dumps(s->output, JSON_COMPACT);

        if (json_object_get(s->output, "error"))
            r->failures++;
        if (line) {
            fputs(line, r->out);
            fputc('\n', r->out);
            free(line);
        }
        json_decref(s->output);
        json_decref(s->doc);
        memset(s, 0, sizeof(*s));
        r->head = (r->head + 1) % r->window;
        r->count--;
    }
    fflush(r->out);
}

static void wait_for_room(struct run *r, size_t room)
{
    while (r->count > r->window - room) {
        if (r->llm) {
            cls_llm_wait(r->llm, 100);
            cls_llm_drain(r->llm, on_result, r);
        }
        flush_done(r);
    }
}

static void take_line(struct run *r, long lineno, const char *text, size_t len)
{
    struct slot *s;
    char err[200];

    wait_for_room(r, 1);
    s = &r->ring[(r->head + r->count) % r->window];
    r->count++;
    s->line = lineno;
    s->doc = dai_json_parse(text, len, err, sizeof(err));
    if (!s->doc || !json_is_object(s->doc)) {
        s->output = error_line(lineno, NULL, "invalid_json",
                               s->doc ? "a line must be a JSON object" : err);
        return;
    }
    s->id = json_object_get(s->doc, "id");
    if (read_input(s, err, sizeof(err))) {
        s->output = error_line(lineno, s->id, "invalid_input", err);
        return;
    }
    if (!r->llm || cls_llm_submit(r->llm, &s->in, s) != 0)
        finish_offline(r, s);
}

int cls_jsonl_run(FILE *in, FILE *out, const struct cls_offline_model *offline,
                  const struct cls_teams *teams, struct cls_llm *llm, int window)
{
    struct run r = {.out = out, .offline = offline, .teams = teams, .llm = llm};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;

    r.window = window > 0 ? (size_t)window : 1;
    r.ring = calloc(r.window, sizeof(*r.ring));
    r.ws = cls_offline_ws_new();
    if (!r.ring || !r.ws) {
        free(r.ring);
        cls_offline_ws_free(r.ws);
        return -ENOMEM;
    }
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue; /* blank lines are not inputs */
        if ((size_t)n > MAX_LINE) {
            wait_for_room(&r, 1);
            r.ring[(r.head + r.count) % r.window] =
                (struct slot){.line = lineno,
                              .output = error_line(lineno, NULL, "too_long",
                                                   "a line may hold at most 4 MiB")};
            r.count++;
            continue;
        }
        take_line(&r, lineno, line, (size_t)n);
        flush_done(&r);
    }
    wait_for_room(&r, r.window);
    free(line);
    free(r.ring);
    cls_offline_ws_free(r.ws);
    DAI_DEBUG("classify-jsonl done lines=%ld errors=%d", lineno, r.failures);
    return 0;
}
