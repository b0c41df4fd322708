/* dispatchai-classifier: wires the classifier together — configuration,
 * logging, teams, the offline model, the prompt and LLM client, metrics and
 * the HTTP server — then runs either the Kafka loop or --classify-jsonl, and
 * tears everything down in reverse order. No logic of its own. */
#include "consume.h"
#include "eval.h"
#include "jsonl.h"
#include "llm_client.h"
#include "metrics.h"
#include "offline/offline.h"
#include "options.h"
#include "prompt.h"
#include "teams.h"

#include <dispatchai/config.h>
#include <dispatchai/err.h>
#include <dispatchai/http.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROMPT_MAX (256u << 10)

struct app {
    struct cls_config cfg;
    struct cls_team_set teams;
    struct cls_offline_model *offline;
    struct cls_prompt prompt;
    struct dai_metrics *registry;
    struct cls_metrics metrics;
    struct cls_llm *llm;
};

static int load(struct app *a, int argc, char **argv)
{
    struct dai_config_doc *doc = NULL;
    bool eval = argc > 1 && strcmp(argv[1], "eval") == 0;
    char err[512];
    int rc;

    if (eval) {
        /* "eval" takes argv[0]'s place: the loader reads the options after it */
        argc--;
        argv++;
    }
    rc = dai_config_load(&cls_config_spec, &a->cfg, argc, argv, &doc, err, sizeof(err));
    if (rc == DAI_CONFIG_EXITED)
        return 1;
    if (rc == 0)
        rc = cls_config_check(&a->cfg, err, sizeof(err));
    if (rc == 0)
        rc = cls_teams_load(doc, &a->teams, err, sizeof(err));
    dai_config_doc_free(doc);
    if (rc) {
        fprintf(stderr, "dispatchai-classifier: %s\n", err);
        return -1;
    }
    a->cfg.eval = eval;
    if (eval && a->cfg.eval_concurrency > 0)
        a->cfg.llm_max_concurrency = a->cfg.eval_concurrency;
    rc = dai_log_init("classifier", a->cfg.common.log_level, a->cfg.common.log_format,
                      a->cfg.common.log_file);
    if (rc) {
        fprintf(stderr, "dispatchai-classifier: cannot open the log: %s\n", dai_strerror(rc));
        return -1;
    }
    return 0;
}

/* The classifiers: the offline model always (it is the fallback), the LLM
 * when one is configured and not switched off with --offline. */
static int init_classifiers(struct app *a)
{
    const struct cls_config *cfg = &a->cfg;
    char err[512], *tmpl = NULL;
    int rc;

    a->offline = cls_offline_load(cfg->offline_model, err, sizeof(err));
    if (!a->offline) {
        DAI_ERROR("cannot load the offline model path=%s: %s", cfg->offline_model, err);
        return -1;
    }
    if (!cfg->llm_base_url[0] || cfg->force_offline) {
        DAI_INFO("no LLM %s: every issue is classified offline model=%s",
                 cfg->force_offline ? "(--offline)" : "configured (llm.base_url is empty)",
                 cls_offline_version(a->offline));
        return 0;
    }
    rc = cls_read_file(cfg->llm_prompt_file, PROMPT_MAX, &tmpl);
    if (rc) {
        DAI_ERROR("cannot read llm.prompt_file path=%s: %s", cfg->llm_prompt_file,
                  dai_strerror(rc));
        return -1;
    }
    rc = cls_prompt_init(&a->prompt, tmpl, &a->teams.view, err, sizeof(err));
    free(tmpl);
    if (rc) {
        DAI_ERROR("llm.prompt_file path=%s: %s", cfg->llm_prompt_file, err);
        return -1;
    }
    a->prompt.model = cfg->llm_model;
    a->prompt.temperature = cfg->llm_temperature;
    a->prompt.max_tokens = cfg->llm_max_tokens;
    a->prompt.max_title_chars = cfg->llm_max_title_chars;
    a->prompt.max_body_chars = cfg->llm_max_body_chars;
    a->llm = cls_llm_new(&(struct cls_llm_options){.cfg = cfg, .prompt = &a->prompt,
                                                   .teams = &a->teams.view,
                                                   .metrics = &a->metrics},
                         err, sizeof(err));
    if (!a->llm) {
        DAI_ERROR("%s", err);
        return -1;
    }
    DAI_INFO("llm configured model=%s concurrency=%d response_format=%s teams=%zu",
             cfg->llm_model, cfg->llm_max_concurrency, cfg->llm_response_format,
             a->teams.view.n);
    return 0;
}

static int serve(struct app *a)
{
    struct cls_runtime rt = {.cfg = &a->cfg, .metrics = &a->metrics, .registry = a->registry,
                             .offline = a->offline, .teams = &a->teams.view, .llm = a->llm};
    const struct dai_common_config *c = &a->cfg.common;
    struct dai_http_server *http = NULL;
    struct cls_daemon *d;
    char err[512];
    int rc;

    d = cls_daemon_new(&rt, err, sizeof(err));
    if (!d) {
        DAI_ERROR("cannot start: %s", err);
        return -1;
    }
    http = dai_http_start(&(struct dai_http_options){.bind = c->http_bind,
                                                     .port = c->http_port,
                                                     .threads = c->http_threads,
                                                     .max_connections = c->http_max_connections,
                                                     .per_ip_connections =
                                                         c->http_per_ip_connections,
                                                     .idle_timeout_ms = c->http_idle_timeout_ms,
                                                     .request_timeout_ms =
                                                         c->http_request_timeout_ms,
                                                     .max_body = 4096,
                                                     .metrics = a->registry,
                                                     .ready = cls_daemon_ready,
                                                     .ready_ud = d},
                          err, sizeof(err));
    if (!http) {
        DAI_ERROR("cannot start the HTTP server port=%d: %s", c->http_port, err);
        cls_daemon_free(d);
        return -1;
    }
    DAI_INFO("classifier started http_port=%d", dai_http_port(http));
    rc = cls_daemon_run(d);
    /* HTTP first: /ready reads the daemon, so no request may outlive it. */
    dai_http_quiesce(http);
    dai_http_stop(http);
    cls_daemon_free(d);
    return rc;
}

static int run_eval(struct app *a)
{
    const struct cls_config *cfg = &a->cfg;
    struct cls_eval_options opt = {
        .data_path = cfg->eval_data,
        .label_map = cfg->eval_label_map,
        .limit = (size_t)cfg->eval_limit,
        .concurrency = cfg->llm_max_concurrency,
        .json = cfg->eval_json,
        .progress = isatty(STDERR_FILENO),
        .prices = {cfg->price_prompt_per_mtok, cfg->price_completion_per_mtok},
    };

    return cls_eval_run(&opt, a->offline, &a->teams.view, a->llm, cfg->llm_model, stdout,
                        stderr) ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct app a;
    int rc;

    memset(&a, 0, sizeof(a));
    /* Before any thread exists (libcurl's rule). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "dispatchai-classifier: curl_global_init failed\n");
        return 1;
    }
    rc = load(&a, argc, argv);
    if (rc) {
        dai_config_free(&cls_config_spec, &a.cfg);
        cls_teams_free(&a.teams);
        curl_global_cleanup();
        return rc > 0 ? 0 : 2;
    }
    rc = dai_lifecycle_install();
    a.registry = dai_metrics_new();
    if (rc || !a.registry || cls_metrics_init(&a.metrics, a.registry)) {
        DAI_ERROR("cannot set up signals or metrics");
        rc = -1;
    }
    if (!rc)
        rc = init_classifiers(&a);
    if (!rc && a.cfg.eval)
        rc = run_eval(&a);
    else if (!rc && a.cfg.classify_jsonl)
        rc = cls_jsonl_run(stdin, stdout, a.offline, &a.teams.view, a.llm,
                           a.cfg.llm_max_concurrency);
    else if (!rc)
        rc = serve(&a);

    cls_llm_free(a.llm);
    cls_prompt_free(&a.prompt);
    cls_offline_free(a.offline);
    dai_metrics_free(a.registry);
    cls_teams_free(&a.teams);
    dai_config_free(&cls_config_spec, &a.cfg);
    dai_log_shutdown();
    curl_global_cleanup();
    if (rc)
        return 1;
    return dai_lifecycle_exit_code();
}
