/* The run of `dispatchai-classifier eval`: every labelled issue through the
 * configured backend the way the daemon classifies it (the LLM client with
 * its retries and reply policy, the offline model as fallback; or the offline
 * model alone), a progress line on a terminal, and the report as text or
 * JSON. Figures come from eval_metrics.c. */
#include "eval.h"
#include "model_name.h"

#include <dispatchai/clock.h>
#include <dispatchai/json.h>
#include <dispatchai/lifecycle.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pending {
    size_t idx;
    long long t0_us;
};

struct run {
    const struct cls_eval_options *opt;
    const struct cls_offline_model *offline;
    const struct cls_teams *teams;
    struct cls_offline_ws *ws;
    const struct cls_eval_data *data;
    struct cls_label_map map;
    struct cls_eval_names classes, repos;
    struct cls_eval_outcome *out;
    struct pending *pend;
    size_t n, done, in_flight;
    char llm_model[CLS_MODEL_LEN]; /* as the server reported it */
    long long t_start_us, t_progress_us;
    FILE *err_out;
    int rc;
};

static void text_of(const struct cls_eval_issue *is, struct cls_issue_text *in)
{
    memset(in, 0, sizeof(*in));
    in->title = is->title;
    in->title_len = strlen(is->title);
    in->body = is->body;
    in->body_len = strlen(is->body);
    in->repo = is->repo[0] ? is->repo : NULL;
}

/* Record the class the backend chose for issue idx. */
static void record(struct run *r, size_t idx, const struct dai_classification *c, bool by_llm,
                   const char *fallback, long long t0_us)
{
    struct cls_eval_outcome *o = &r->out[idx];
    const char *pred = cls_label_map_apply(&r->map, dai_category_name(c->category));
    int k = cls_eval_names_add(&r->classes, pred, false);

    if (k < 0) {
        r->rc = -ENOMEM;
        k = 0;
    }
    o->pred = k;
    o->by_llm = by_llm;
    snprintf(o->fallback, sizeof(o->fallback), "%s", fallback ? fallback : "");
    o->latency_ms = (double)(dai_mono_us() - t0_us) / 1000.0;
    o->finished = true;
    r->done++;
}

static void classify_offline(struct run *r, size_t idx, const char *fallback, long long t0_us)
{
    struct cls_issue_text in;
    struct dai_classification c;

    text_of(&r->data->v[idx], &in);
    if (cls_offline_classify_ws(r->offline, r->teams, &in, r->ws, &c)) {
        /* only a NULL title is refused, which the loader never lets through */
        memset(&c, 0, sizeof(c));
        r->rc = DAI_EINVAL;
    }
    record(r, idx, &c, false, fallback, t0_us);
}

static void on_result(void *ud, const struct cls_llm_result *res)
{
    struct run *r = ud;
    struct pending *p = res->req_ud;
    struct cls_eval_outcome *o = &r->out[p->idx];

    r->in_flight--;
    o->prompt_tokens = res->prompt_tokens;
    o->completion_tokens = res->completion_tokens;
    if (res->ok) {
        if (!r->llm_model[0])
            snprintf(r->llm_model, sizeof(r->llm_model), "%s", res->model);
        record(r, p->idx, &res->cls, true, "", p->t0_us);
    } else {
        classify_offline(r, p->idx, res->why, p->t0_us);
    }
}

static void progress(struct run *r, bool last)
{
    long long now = dai_mono_us();
    double el;

    if (!r->opt->progress || (!last && now - r->t_progress_us < 250000))
        return;
    r->t_progress_us = now;
    el = (double)(now - r->t_start_us) / 1e6;
    fprintf(r->err_out, "\r\033[Keval: %zu/%zu issues (%.0f%%), %.1f/s, %.0f s", r->done, r->n,
            r->n ? 100.0 * (double)r->done / (double)r->n : 100.0,
            el > 0 ? (double)r->done / el : 0.0, el);
    if (last)
        fputc('\n', r->err_out);
    fflush(r->err_out);
}

static void run_llm(struct run *r, struct cls_llm *llm)
{
    size_t next = 0;
    size_t window = r->opt->concurrency > 0 ? (size_t)r->opt->concurrency : 1;

    while (r->done < r->n && !dai_lifecycle_stopping()) {
        while (next < r->n && r->in_flight < window) {
            struct cls_issue_text in;
            struct pending *p = &r->pend[next];

            p->idx = next++;
            p->t0_us = dai_mono_us();
            text_of(&r->data->v[p->idx], &in);
            if (cls_llm_submit(llm, &in, p) == 0)
                r->in_flight++;
            else
                classify_offline(r, p->idx, "circuit_open", p->t0_us); /* as the daemon does */
        }
        cls_llm_wait(llm, 200);
        cls_llm_drain(llm, on_result, r);
        progress(r, false);
    }
}

static void run_offline(struct run *r)
{
    for (size_t i = 0; i < r->n && !dai_lifecycle_stopping(); i++) {
        classify_offline(r, i, "", dai_mono_us());
        progress(r, false);
    }
}

/*---- printing ---------------------------------------------------------------*/

static double num(const json_t *o, const char *path)
{
    return json_number_value(dai_json_path((json_t *)o, path));
}

static void print_text(FILE *f, const json_t *rep)
{
    const json_t *labels = json_object_get(rep, "labels"), *repos, *v, *usage, *src, *why;
    const char *name;
    size_t i, j;

    fprintf(f, "dispatchai-classifier eval: %lld issues, backend %s, %.1f s\n\n",
            (long long)json_integer_value(json_object_get(rep, "issues")),
            dai_json_str(rep, "backend", ""), num(rep, "wall_seconds"));
    fprintf(f, "%-24s %9s %7s %7s %8s %9s\n", "class", "precision", "recall", "f1", "support",
            "predicted");
    json_object_foreach(json_object_get(rep, "classes"), name, v)
        fprintf(f, "%-24.24s %9.3f %7.3f %7.3f %8lld %9lld\n", name, num(v, "precision"),
                num(v, "recall"), num(v, "f1"),
                (long long)json_integer_value(json_object_get(v, "support")),
                (long long)json_integer_value(json_object_get(v, "predicted")));
    fprintf(f, "\nmacro-F1 %.3f (mean over repositories %.3f), accuracy %.3f\n\n",
            num(rep, "macro_f1"), num(rep, "macro_f1_repo_mean"), num(rep, "accuracy"));

    repos = json_object_get(rep, "repositories");
    fprintf(f, "%-32s %6s %9s %7s %8s %8s\n", "repository", "n", "precision", "recall",
            "macro-F1", "accuracy");
    json_object_foreach((json_t *)repos, name, v)
        fprintf(f, "%-32.32s %6lld %9.3f %7.3f %8.3f %8.3f\n", *name ? name : "(none)",
                (long long)json_integer_value(json_object_get(v, "n")), num(v, "precision"),
                num(v, "recall"), num(v, "macro_f1"), num(v, "accuracy"));

    fprintf(f, "\nconfusion matrix (rows: label, columns: predicted)\n%-16s", "");
    json_array_foreach(labels, i, v)
        fprintf(f, " %13.13s", json_string_value(v));
    json_array_foreach(json_object_get(rep, "confusion"), i, v) {
        const char *label = json_string_value(json_array_get(labels, i));
        const json_t *cell;

        /* a class only ever predicted has no row: no issue carries that label */
        if (!json_integer_value(
                json_object_get(json_object_get(json_object_get(rep, "classes"), label),
                                "support")))
            continue;
        fprintf(f, "\n%-16.16s", label);
        json_array_foreach(v, j, cell)
            fprintf(f, " %13lld", (long long)json_integer_value(cell));
    }
    v = json_object_get(rep, "latency_ms");
    fprintf(f, "\n\nlatency per issue (ms): mean %.3f, p50 %.3f, p90 %.3f, p99 %.3f, max %.3f\n",
            num(v, "mean"), num(v, "p50"), num(v, "p90"), num(v, "p99"), num(v, "max"));
    src = json_object_get(rep, "sources");
    fprintf(f, "classified by: llm %lld, offline %lld", (long long)num(src, "llm"),
            (long long)num(src, "offline"));
    why = json_object_get(src, "fallback_reasons");
    if (json_object_size(why)) {
        const char *sep = " (fallbacks: ";
        json_object_foreach((json_t *)why, name, v) {
            fprintf(f, "%s%s %lld", sep, name, (long long)json_integer_value(v));
            sep = ", ";
        }
        fputc(')', f);
    }
    usage = json_object_get(rep, "usage");
    fprintf(f, "\ntokens: prompt %lld, completion %lld, %.1f per issue\n",
            (long long)num(usage, "prompt_tokens"), (long long)num(usage, "completion_tokens"),
            num(usage, "tokens_per_issue"));
    if (json_object_get(usage, "cost_per_1000_issues"))
        fprintf(f, "cost: %.4f per 1,000 issues (%.4f for this run)\n",
                num(usage, "cost_per_1000_issues"), num(usage, "cost_total"));
    else
        fprintf(f, "cost: no price configured (llm.price_prompt_per_mtok, "
                   "llm.price_completion_per_mtok)\n");
}

/*---- public -----------------------------------------------------------------*/

int cls_eval_run(const struct cls_eval_options *opt, const struct cls_offline_model *offline,
                 const struct cls_teams *teams, struct cls_llm *llm, const char *llm_model,
                 FILE *out, FILE *err_out)
{
    struct cls_eval_data data;
    struct run r = {.opt = opt, .offline = offline, .teams = teams, .data = &data,
                    .err_out = err_out};
    char err[512], backend[CLS_MODEL_LEN + 16];
    json_t *rep = NULL;
    bool stopped = false;
    int rc;

    rc = cls_label_map_parse(opt->label_map, &r.map, err, sizeof(err));
    if (!rc)
        rc = cls_eval_data_load(opt->data_path, &data, err, sizeof(err));
    if (rc) {
        fprintf(err_out, "dispatchai-classifier eval: %s\n", err);
        return rc;
    }
    r.n = opt->limit && opt->limit < data.n ? opt->limit : data.n;
    r.out = calloc(r.n, sizeof(*r.out));
    r.pend = calloc(r.n, sizeof(*r.pend));
    r.ws = cls_offline_ws_new();
    rc = (!r.out || !r.pend || !r.ws) ? -ENOMEM : 0;
    /* The data's labels are the classes scored, in first-seen order. */
    for (size_t i = 0; !rc && i < r.n; i++) {
        const struct cls_eval_issue *is = &data.v[i];
        int g = cls_eval_names_add(&r.classes, cls_label_map_apply(&r.map, is->label), true);
        int p = cls_eval_names_add(&r.repos, is->repo, false);

        if (g < 0 || p < 0)
            rc = -ENOMEM;
        r.out[i].gold = g;
        r.out[i].repo = p;
    }
    r.t_start_us = dai_mono_us();
    if (!rc) {
        if (llm)
            run_llm(&r, llm);
        else
            run_offline(&r);
        progress(&r, true);
        rc = r.rc;
    }
    if (!rc && r.done < r.n) {
        /* Interrupted: the figures for what was finished are still worth having. */
        size_t k = 0;

        for (size_t i = 0; i < r.n; i++)
            if (r.out[i].finished)
                r.out[k++] = r.out[i];
        fprintf(err_out, "dispatchai-classifier eval: stopped after %zu of %zu issues; the "
                "report covers those\n", k, r.n);
        r.n = k;
        stopped = true;
    }
    if (!rc) {
        snprintf(backend, sizeof(backend), "%s%s", llm ? "llm " : "",
                 llm ? (r.llm_model[0] ? r.llm_model : llm_model) : cls_offline_version(offline));
        rep = cls_eval_report(r.out, r.n, &r.classes, &r.repos, &opt->prices, backend,
                              (double)(dai_mono_us() - r.t_start_us) / 1e6);
        rc = rep ? 0 : -ENOMEM;
    }
    if (!rc && opt->json) {
        char *s = json_dumps(rep, JSON_INDENT(2));
        rc = s ? 0 : -ENOMEM;
        if (s)
            fprintf(out, "%s\n", s);
        free(s);
    } else if (!rc) {
        print_text(out, rep);
    }
    if (rc)
        fprintf(err_out, "dispatchai-classifier eval: %s\n", dai_strerror(rc));
    else if (stopped)
        rc = DAI_ETIMEOUT;
    json_decref(rep);
    cls_eval_names_free(&r.classes);
    cls_eval_names_free(&r.repos);
    cls_offline_ws_free(r.ws);
    free(r.out);
    free(r.pend);
    cls_eval_data_free(&data);
    return rc;
}
