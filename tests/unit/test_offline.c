/* Unit tests for the offline classifier (classifier/offline): weights-file
 * loading and its error paths, output validity for every field on awkward
 * inputs, determinism, clear-cut examples, rules (documentation, security,
 * labels, priority), team hints, and the CSV reader used for training. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "csv.h"
#include "learn.h"
#include "model.h"
#include "offline.h"
#include "support/fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLS_TEST_MODEL
#define CLS_TEST_MODEL "classifier/model/offline-model.bin"
#endif

struct fixture {
    struct cls_offline_model *m;
    unsigned char *img; /* the model file's bytes */
    size_t len;
};

static const char *model_path(void)
{
    const char *env = getenv("DAI_OFFLINE_MODEL");
    return env && env[0] ? env : CLS_TEST_MODEL;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[256];
    FILE *f;

    if (!fx)
        return -1;
    fx->m = cls_offline_load(model_path(), err, sizeof(err));
    if (!fx->m) {
        fprintf(stderr, "cannot load %s: %s\n", model_path(), err);
        free(fx);
        return -1;
    }
    f = fopen(model_path(), "rb");
    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) || ftell(f) <= 0) {
        fclose(f);
        return -1;
    }
    fx->len = (size_t)ftell(f);
    rewind(f);
    fx->img = malloc(fx->len);
    if (!fx->img || fread(fx->img, 1, fx->len, f) != fx->len) {
        fclose(f);
        return -1;
    }
    fclose(f);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    cls_offline_free(fx->m);
    free(fx->img);
    free(fx);
    return 0;
}

/*---- helpers ----------------------------------------------------------------*/

static bool valid_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        size_t k = *u < 0x80 ? 1 : (*u & 0xe0) == 0xc0 ? 2 : (*u & 0xf0) == 0xe0 ? 3
                 : (*u & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || (k == 2 && *u < 0xc2))
            return false;
        for (size_t i = 1; i < k; i++)
            if ((u[i] & 0xc0) != 0x80)
                return false;
        if (*u < 0x20)
            return false;
        u += k;
    }
    return true;
}

static bool bounded(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_valid(const struct dai_classification *c)
{
    assert_true((unsigned)c->category < DAI_CAT_COUNT);
    assert_true((unsigned)c->priority < DAI_PRIO_COUNT);
    assert_true((unsigned)c->effort < DAI_EFFORT_COUNT);
    assert_int_equal(c->source, DAI_SRC_OFFLINE);
    assert_true(isfinite(c->confidence));
    assert_true(c->confidence > 0.0 && c->confidence <= 1.0);
    assert_true(bounded(c->reasoning, sizeof(c->reasoning)));
    assert_true(strlen(c->reasoning) > 10);
    assert_true(valid_utf8(c->reasoning));
    assert_true(bounded(c->summary, sizeof(c->summary)));
    assert_true(strlen(c->summary) > 3);
    assert_true(valid_utf8(c->summary));
    assert_true(bounded(c->suggested_assignee, sizeof(c->suggested_assignee)));
    assert_true(valid_utf8(c->suggested_assignee));
    assert_true(c->n_tags >= 1 && c->n_tags <= DAI_MAX_TAGS);
    for (unsigned i = 0; i < c->n_tags; i++) {
        assert_true(bounded(c->tags[i], DAI_TAG_LEN));
        assert_true(c->tags[i][0] != '\0');
        assert_true(valid_utf8(c->tags[i]));
    }
    assert_string_equal(c->corrected_by, "");
    assert_string_equal(c->note, "");
}

static struct cls_issue_text text_of(const char *title, const char *body)
{
    struct cls_issue_text t;
    memset(&t, 0, sizeof(t));
    t.title = title;
    t.title_len = title ? strlen(title) : 0;
    t.body = body;
    t.body_len = body ? strlen(body) : 0;
    return t;
}

static struct dai_classification classify(const struct cls_offline_model *m,
                                          const struct cls_teams *teams,
                                          const struct cls_issue_text *t)
{
    struct dai_classification c;
    assert_int_equal(cls_offline_classify(m, teams, t, &c), 0);
    check_valid(&c);
    return c;
}

static struct dai_classification classify_tb(const struct cls_offline_model *m, const char *title,
                                             const char *body)
{
    struct cls_issue_text t = text_of(title, body);
    return classify(m, NULL, &t);
}

static void expect_load_error(const void *buf, size_t len, const char *needle)
{
    char path[128], err[256] = "";
    struct cls_offline_model *m;

    assert_int_equal(test_temp_file(path, sizeof(path), "offline", buf, len), 0);
    m = cls_offline_load(path, err, sizeof(err));
    assert_null(m);
    assert_non_null(strstr(err, needle));
    unlink(path);
}

/*---- loading ----------------------------------------------------------------*/

static void test_offline_load_missing_file(void **state)
{
    char err[256] = "";
    (void)state;
    assert_null(cls_offline_load("/nonexistent/dir/model.bin", err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));
    assert_null(cls_offline_load(NULL, err, sizeof(err)));
}

static void test_offline_load_truncated(void **state)
{
    struct fixture *fx = *state;
    expect_load_error(fx->img, fx->len / 2, "truncated");
    expect_load_error(fx->img, fx->len - 1, "truncated");
    expect_load_error(fx->img, 40, "too short");
    expect_load_error(fx->img, 0, "empty");
}

static void test_offline_load_bad_checksum(void **state)
{
    struct fixture *fx = *state;
    unsigned char *copy = malloc(fx->len);
    assert_non_null(copy);
    memcpy(copy, fx->img, fx->len);
    copy[fx->len / 2] ^= 0x01;
    expect_load_error(copy, fx->len, "checksum");
    memcpy(copy, fx->img, fx->len);
    copy[fx->len - 1] ^= 0x80; /* the trailer itself */
    expect_load_error(copy, fx->len, "checksum");
    free(copy);
}

static void test_offline_load_bad_header(void **state)
{
    struct fixture *fx = *state;
    unsigned char *copy = malloc(fx->len);
    assert_non_null(copy);
    memcpy(copy, fx->img, fx->len);
    copy[0] = 'X';
    expect_load_error(copy, fx->len, "magic");
    memcpy(copy, fx->img, fx->len);
    copy[8] = 99; /* format version */
    expect_load_error(copy, fx->len, "format");
    free(copy);
}

static void test_offline_encode_decode_roundtrip(void **state)
{
    size_t rows = (size_t)1 << 16;
    float *w = calloc(rows * 3, sizeof(float)), *idf = calloc(rows, sizeof(float));
    const char *repos[] = {"acme/widgets"};
    struct cls_model_params p;
    struct cls_offline_model *m;
    unsigned char *img;
    size_t len;
    char err[256];

    (void)state;
    assert_non_null(w);
    assert_non_null(idf);
    memset(&p, 0, sizeof(p));
    p.cfg.bits = 16;
    p.cfg.body_max = 4000;
    p.cfg.blk_weight[CLS_BLK_TITLE] = 1;
    p.cfg.blk_weight[CLS_BLK_BODY] = 1;
    p.cfg.da_weight = 1;
    for (size_t i = 0; i < rows; i += 7) {
        w[i * 3] = 0.5f;
        w[i * 3 + 2] = -1.25f;
        idf[i] = 3.0f;
    }
    p.w = w;
    p.idf = idf;
    p.bias[1] = 0.25f;
    p.temperature = 1.5f;
    p.n_train = 10;
    p.n_repos = 1;
    p.repos = repos;
    assert_int_equal(cls_model_encode(&p, &img, &len), 0);
    m = cls_model_decode(img, len, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->cfg.bits, 16);
    assert_true(fabsf(m->temperature - 1.5f) < 1e-6f);
    assert_true(fabsf(m->bias[1] - 0.25f) < 1e-6f);
    assert_true(fabsf(m->tab[7 * 4 + 2] * m->wscale[2] + 1.25f) < 1e-3f);
    assert_int_equal(m->tab[1 * 4 + 3], 0); /* unseen row stays unseen */
    assert_int_equal(cls_model_repo_index(m, "ACME/Widgets"), 0);
    assert_int_equal(cls_model_repo_index(m, "other/repo"), -1);
    assert_true(!strncmp(cls_offline_version(m), "offline-v2-", 11));
    cls_offline_free(m);
    p.temperature = 0; /* invalid */
    free(img);
    assert_int_equal(cls_model_encode(&p, &img, &len), DAI_EINVAL);
    free(w);
    free(idf);
}

static void test_offline_version(void **state)
{
    struct fixture *fx = *state;
    assert_true(!strncmp(cls_offline_version(fx->m), "offline-v2-", 11));
    assert_int_equal(strlen(cls_offline_version(fx->m)), 19);
}

/*---- validity ---------------------------------------------------------------*/

static void test_offline_invalid_arguments(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;
    struct cls_issue_text t = text_of(NULL, "body");

    assert_int_equal(cls_offline_classify(fx->m, NULL, &t, &c), DAI_EINVAL);
    t = text_of("title", NULL);
    assert_int_equal(cls_offline_classify(NULL, NULL, &t, &c), DAI_EINVAL);
    assert_int_equal(cls_offline_classify(fx->m, NULL, NULL, &c), DAI_EINVAL);
    assert_int_equal(cls_offline_classify(fx->m, NULL, &t, NULL), DAI_EINVAL);
}

static void test_offline_valid_on_awkward_inputs(void **state)
{
    struct fixture *fx = *state;
    size_t huge_len = 3 * 1024 * 1024;
    char *huge = malloc(huge_len + 1);
    char bin_title[64], bin_body[4096];
    char long_title[20000];
    struct cls_issue_text t;

    assert_non_null(huge);
    for (size_t i = 0; i < huge_len; i++)
        huge[i] = "crash error at foo() ```\n- [ ] how do I ? "[i % 41];
    huge[huge_len] = '\0';
    for (size_t i = 0; i < sizeof(bin_title); i++)
        bin_title[i] = (char)(0x80 + (i * 37) % 128); /* no valid UTF-8 at all */
    for (size_t i = 0; i < sizeof(bin_body); i++)
        bin_body[i] = (char)((i * 131 + 7) % 256);
    memset(long_title, 'a', sizeof(long_title));
    for (size_t i = 5; i < sizeof(long_title); i += 6)
        long_title[i] = ' ';

    classify_tb(fx->m, "", NULL);
    classify_tb(fx->m, "", "");
    classify_tb(fx->m, "Crash", NULL);
    classify_tb(fx->m, "   ", "\n\n\n");
    classify_tb(fx->m, "?", "?");
    classify_tb(fx->m, "[]:", "### \n\n###");
    classify_tb(fx->m, "[unterminated prefix", "**");
    classify_tb(fx->m, "Big body", huge);
    classify_tb(fx->m, "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x90\x9b emoji title",
                "r\xc3\xa9sum\xc3\xa9");
    classify_tb(fx->m, "ctrl\x01\x02\x1b[31m chars\t\r\n", "body\x7f");
    t = text_of("x", NULL);
    t.title = bin_title;
    t.title_len = sizeof(bin_title);
    t.body = bin_body;
    t.body_len = sizeof(bin_body);
    classify(fx->m, NULL, &t);
    t.title = long_title;
    t.title_len = sizeof(long_title);
    classify(fx->m, NULL, &t);
    /* embedded NULs inside the given lengths */
    t.title = "a\0b\0c";
    t.title_len = 5;
    t.body = "x\0y";
    t.body_len = 3;
    classify(fx->m, NULL, &t);
    /* body pointer NULL with a non-zero length is treated as no body */
    t = text_of("Something broke", NULL);
    t.body_len = 100;
    classify(fx->m, NULL, &t);
    /* an unknown repository, a pull request, labels with odd bytes */
    {
        const char *labels[] = {"\xff\xfe", "", "area: ui"};
        t = text_of("Fix the build on arm64", "This PR fixes the linker error.");
        t.repo = "someone/else";
        t.is_pull_request = true;
        t.labels = labels;
        t.n_labels = 3;
        classify(fx->m, NULL, &t);
    }
    free(huge);
}

static void test_offline_summary_and_tags(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;
    char long_title[600];

    c = classify_tb(fx->m, "[DevTools Bug]: Cannot add node \"1\" because it exists", "Crash");
    assert_non_null(strstr(c.summary, ": Cannot add node \"1\" because it exists"));
    assert_null(strstr(c.summary, "DevTools"));
    c = classify_tb(fx->m, "", NULL);
    assert_non_null(strstr(c.summary, "(untitled issue)"));
    memset(long_title, 'w', sizeof(long_title) - 1);
    long_title[sizeof(long_title) - 1] = '\0';
    c = classify_tb(fx->m, long_title, NULL);
    assert_true(strlen(c.summary) < DAI_SUMMARY_LEN);
    assert_non_null(strstr(c.summary, "..."));
    c = classify_tb(fx->m, "  multiple    spaces\tand\nnewlines  ", "x");
    assert_non_null(strstr(c.summary, "Multiple spaces and newlines"));
    /* many signals at once: tags stay capped */
    c = classify_tb(fx->m, "Security: crash and data loss regression, slow and hangs (build docs)",
                    "Traceback (most recent call last):\n  File \"x.py\", line 1\nsteps to "
                    "reproduce\n");
    assert_int_equal(c.n_tags, DAI_MAX_TAGS);
}

static void test_offline_deterministic(void **state)
{
    struct fixture *fx = *state;
    struct cls_offline_ws *ws = cls_offline_ws_new();
    struct dai_classification a, b, c;
    struct cls_issue_text t = text_of("TypeError when calling useEffect cleanup twice",
                                      "### Steps to reproduce\n1. run\n```\nTypeError: x\n```");

    assert_non_null(ws);
    t.repo = "facebook/react";
    assert_int_equal(cls_offline_classify(fx->m, NULL, &t, &a), 0);
    assert_int_equal(cls_offline_classify_ws(fx->m, NULL, &t, ws, &b), 0);
    /* something else in between must not leak into the next result */
    classify_tb(fx->m, "How do I install this?", "help please");
    assert_int_equal(cls_offline_classify_ws(fx->m, NULL, &t, ws, &c), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_equal(&a, &c, sizeof(a));
    cls_offline_ws_free(ws);
    cls_offline_ws_free(NULL);
}

/*---- behaviour --------------------------------------------------------------*/

static void test_offline_clear_cut_examples(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;

    c = classify_tb(fx->m, "Segmentation fault when loading a large model",
                    "### Describe the bug\nThe process crashes with SIGSEGV.\n\n### Steps to "
                    "reproduce\n1. load model\n2. crash\n\n```\nTraceback (most recent call "
                    "last):\n  File \"run.py\", line 3, in <module>\n```\nExpected behavior: no "
                    "crash. Version 2.13.0");
    assert_int_equal(c.category, DAI_CAT_BUG);
    assert_int_equal(c.priority, DAI_PRIO_HIGH);

    c = classify_tb(fx->m, "Feature request: add support for exporting to ONNX",
                    "It would be nice to have an option to export models to ONNX. Describe the "
                    "solution you'd like: a new export API. Alternatives considered: none.");
    assert_true(c.category == DAI_CAT_FEATURE_REQUEST || c.category == DAI_CAT_ENHANCEMENT);

    c = classify_tb(fx->m, "How do I configure the proxy settings?",
                    "I'm new to this and could not find how to set a proxy. Is there a way to do "
                    "it? Any help is appreciated, thanks!");
    assert_int_equal(c.category, DAI_CAT_QUESTION);
    assert_int_equal(c.priority, DAI_PRIO_LOW);
    assert_non_null(strstr(c.summary, "?"));
}

static void test_offline_confidence_calibrated_not_constant(void **state)
{
    struct fixture *fx = *state;
    const char *titles[] = {"Crash on start", "Add dark mode", "How to build on Windows?",
                            "Question about API", "Wrong result from matmul",
                            "Support for Python 3.12", "x", "Why is this slow?"};
    double lo = 1, hi = 0;

    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
        struct dai_classification c = classify_tb(fx->m, titles[i], "");
        lo = fmin(lo, c.confidence);
        hi = fmax(hi, c.confidence);
        assert_true(c.confidence >= 1.0 / 3.0 - 1e-6); /* top of three classes */
    }
    assert_true(hi - lo > 0.05);
    assert_true(fx->m->temperature > 0.2f && fx->m->temperature < 5.0f);
}

static void test_offline_enhancement_split(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;

    c = classify_tb(fx->m, "Feature request: improve performance of the file search",
                    "It would be nice if the existing search were faster on large folders.");
    assert_int_equal(c.category, DAI_CAT_ENHANCEMENT);
    assert_non_null(strstr(c.reasoning, "enhancement"));
}

static void test_offline_documentation_rule(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;

    c = classify_tb(fx->m, "Typo in the README installation section",
                    "The docs say `pip install foo` but it should be `pip install foo-bar`.");
    assert_int_equal(c.category, DAI_CAT_DOCUMENTATION);
    assert_int_equal(c.priority, DAI_PRIO_LOW);
    assert_int_equal(c.effort, DAI_EFFORT_SMALL);
    c = classify_tb(fx->m, "docs: document the --verbose flag", "");
    assert_int_equal(c.category, DAI_CAT_DOCUMENTATION);
}

static void test_offline_security_rule(void **state)
{
    struct fixture *fx = *state;
    struct dai_classification c;

    c = classify_tb(fx->m, "XSS vulnerability in markdown preview",
                    "A crafted link runs script in the webview.");
    assert_int_equal(c.category, DAI_CAT_SECURITY);
    assert_true(c.priority <= DAI_PRIO_HIGH);
    assert_non_null(strstr(c.reasoning, "security"));
    c = classify_tb(fx->m, "Remote code execution via crafted file leads to crash", "");
    assert_int_equal(c.category, DAI_CAT_SECURITY);
    assert_int_equal(c.priority, DAI_PRIO_CRITICAL);
}

static void test_offline_labels_and_priority(void **state)
{
    struct fixture *fx = *state;
    const char *l1[] = {"type: bug", "P0"};
    const char *l2[] = {"good first issue", "documentation"};
    struct cls_issue_text t = text_of("How do I do X?", "question body");
    struct dai_classification c;

    t.labels = l1;
    t.n_labels = 2;
    c = classify(fx->m, NULL, &t);
    assert_int_equal(c.category, DAI_CAT_BUG);
    assert_int_equal(c.priority, DAI_PRIO_CRITICAL);
    t.labels = l2;
    c = classify(fx->m, NULL, &t);
    assert_int_equal(c.category, DAI_CAT_DOCUMENTATION);
    assert_int_equal(c.effort, DAI_EFFORT_SMALL);

    c = classify_tb(fx->m, "Wallet data loss after crash: corrupted wallet.dat",
                    "After the node crashed the wallet file is corrupt and funds are missing.");
    assert_int_equal(c.category, DAI_CAT_BUG);
    assert_int_equal(c.priority, DAI_PRIO_CRITICAL);
}

static void test_offline_team_hints(void **state)
{
    struct fixture *fx = *state;
    const char *net_kw[] = {"proxy", "socket", "tor"};
    const char *net_labels[] = {"area/net"};
    const char *net_paths[] = {"src/net/"};
    const char *ui_kw[] = {"button", "theme", "dark mode"};
    const char *ui_labels[] = {"area/ui"};
    struct cls_team tv[] = {
        {"networking", "P2P and proxies", net_kw, 3, net_labels, 1, net_paths, 1},
        {"frontend", "UI", ui_kw, 3, ui_labels, 1, NULL, 0},
    };
    struct cls_teams teams = {tv, 2};
    const char *labels[] = {"area/net"};
    struct cls_issue_text t;
    struct dai_classification c;

    t = text_of("Button colour is wrong in the dark theme", "The save button is invisible.");
    c = classify(fx->m, &teams, &t);
    assert_string_equal(c.suggested_assignee, "frontend");
    assert_non_null(strstr(c.reasoning, "frontend"));

    t = text_of("Connection drops", "See src/net/connman.cpp line 10.");
    c = classify(fx->m, &teams, &t);
    assert_string_equal(c.suggested_assignee, "networking");

    t = text_of("Something is off", "no hints here");
    t.labels = labels;
    t.n_labels = 1;
    c = classify(fx->m, &teams, &t);
    assert_string_equal(c.suggested_assignee, "networking");

    /* whole words only: "tor" must not match "editor" or "history" */
    t = text_of("Editor history is lost", "the editor forgets its history");
    c = classify(fx->m, &teams, &t);
    assert_string_equal(c.suggested_assignee, "");

    /* no teams configured */
    c = classify_tb(fx->m, "Button broken", "");
    assert_string_equal(c.suggested_assignee, "");
}

static void test_offline_repo_copy_changes_scores_only_for_known_repos(void **state)
{
    struct fixture *fx = *state;
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_issue_text t = text_of("Add a keyboard shortcut to move tabs", "would be nice");
    float z1[3], z2[3], z3[3];

    assert_non_null(b);
    t.repo = "nobody/unknown";
    cls_model_logits(fx->m, &t, b, z1);
    t.repo = NULL;
    cls_model_logits(fx->m, &t, b, z2);
    assert_memory_equal(z1, z2, sizeof(z1));
    if (fx->m->n_repos) {
        t.repo = fx->m->repos[0];
        cls_model_logits(fx->m, &t, b, z3);
        assert_true(memcmp(z1, z3, sizeof(z1)) != 0);
    }
    free(b);
}

/*---- features -----------------------------------------------------------------*/

/* A feature configuration with only the blocks a test looks at. */
static struct cls_feat_cfg feat_cfg(unsigned flags)
{
    struct cls_feat_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.bits = 18;
    cfg.body_max = 4000;
    cfg.flags = flags;
    cfg.blk_weight[CLS_BLK_TITLE] = 1;
    cfg.blk_weight[CLS_BLK_BODY] = 1;
    cfg.blk_weight[CLS_BLK_CODE] = 1;
    return cfg;
}

static size_t count_blk(const struct cls_feat_buf *b, unsigned blk)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->v[i].blk == blk;
    return n;
}

/* Row of the first title feature: the title's only word's unigram. */
static uint32_t title_row(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                          struct cls_feat_buf *b, const char *word)
{
    struct cls_issue_text t = text_of(word, NULL);
    cls_feat_extract(cfg, lex, &t, b);
    assert_true(b->n >= 1);
    assert_int_equal(b->v[0].blk, CLS_BLK_TITLE);
    return b->v[0].idx;
}

static void test_offline_code_lines_feed_code_block(void **state)
{
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_lexicon lex;
    struct cls_feat_cfg on = feat_cfg(CLS_FEAT_CODE), off = feat_cfg(0);
    const char *body = "the widget renders twice\n```js\nconst value = useThing(props);\n"
                       "return value;\n```\n    at render (app.js:10:3)\nthanks for looking\n";
    struct cls_issue_text t = text_of("Widget renders twice", body);
    size_t prose_on, prose_off;

    (void)state;
    assert_non_null(b);
    cls_lexicon_init(&lex);
    cls_feat_extract(&off, &lex, &t, b);
    assert_int_equal(count_blk(b, CLS_BLK_CODE), 0);
    prose_off = count_blk(b, CLS_BLK_BODY);
    assert_int_equal(b->sig.trace_lines, 1);
    assert_int_equal(b->sig.code_blocks, 2);

    cls_feat_extract(&on, &lex, &t, b);
    /* const value useThing props return | at render app js : 10 3: 12 distinct
     * unigrams (the fence's "js" tag is not a token) */
    assert_int_equal(count_blk(b, CLS_BLK_CODE), 12);
    prose_on = count_blk(b, CLS_BLK_BODY);
    /* 7 prose words and 3 + 2 bigrams: none reaches across the code */
    assert_int_equal(prose_on, 12);
    assert_true(prose_on < prose_off);
    /* signals still see every line */
    assert_int_equal(b->sig.trace_lines, 1);
    assert_int_equal(b->sig.code_blocks, 2);
    assert_true(b->sig.body & (1u << CLS_SIG_THANKS));

    /* an unclosed fence runs to the end; an empty body adds nothing */
    t = text_of("x", "```\nint main(void)");
    cls_feat_extract(&on, &lex, &t, b);
    assert_int_equal(count_blk(b, CLS_BLK_BODY), 0);
    assert_int_equal(count_blk(b, CLS_BLK_CODE), 3);
    t = text_of("x", "");
    cls_feat_extract(&on, &lex, &t, b);
    assert_int_equal(count_blk(b, CLS_BLK_CODE) + count_blk(b, CLS_BLK_BODY), 0);
    free(b);
}

static void test_offline_stem_and_split(void **state)
{
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_lexicon lex;
    struct cls_feat_cfg st = feat_cfg(CLS_FEAT_STEM), plain = feat_cfg(0);
    struct cls_feat_cfg sp = feat_cfg(CLS_FEAT_SPLIT);
    const char *same[][4] = {{"crash", "crashes", "crashed", "crashing"},
                             {"update", "updates", "updated", "updating"},
                             {"library", "libraries", "Library", "LIBRARIES"},
                             {"stop", "stops", "stopped", "stopping"}};
    struct cls_issue_text t;
    size_t with, without;

    (void)state;
    assert_non_null(b);
    cls_lexicon_init(&lex);
    for (size_t g = 0; g < sizeof(same) / sizeof(same[0]); g++) {
        uint32_t r0 = title_row(&st, &lex, b, same[g][0]);
        for (int k = 1; k < 4; k++)
            assert_int_equal(title_row(&st, &lex, b, same[g][k]), r0);
    }
    /* different words stay apart; short words, -ss and -us words are kept */
    assert_true(title_row(&st, &lex, b, "crash") != title_row(&st, &lex, b, "cache"));
    assert_int_equal(title_row(&st, &lex, b, "class"), title_row(&plain, &lex, b, "class"));
    assert_int_equal(title_row(&st, &lex, b, "status"), title_row(&plain, &lex, b, "status"));
    assert_int_equal(title_row(&st, &lex, b, "its"), title_row(&plain, &lex, b, "its"));
    /* without the switch every form has its own row */
    assert_true(title_row(&plain, &lex, b, "crashes") != title_row(&plain, &lex, b, "crash"));
    /* the lexicon sees the words as written either way */
    t = text_of("crashes", NULL);
    cls_feat_extract(&st, &lex, &t, b);
    assert_true(b->sig.title & (1u << CLS_SIG_CRASH));

    /* identifiers add their parts as unigrams: use Effect, tf keras, get Element By Id */
    t = text_of("x", "useEffect tf_keras getElementById");
    cls_feat_extract(&plain, &lex, &t, b);
    without = count_blk(b, CLS_BLK_BODY);
    cls_feat_extract(&sp, &lex, &t, b);
    with = count_blk(b, CLS_BLK_BODY);
    assert_int_equal(with - without, 2 + 2 + 4); /* "By" and "Id" count too */
    t = text_of("x", "plain words only _private don't");
    cls_feat_extract(&plain, &lex, &t, b);
    without = count_blk(b, CLS_BLK_BODY);
    cls_feat_extract(&sp, &lex, &t, b);
    assert_int_equal(count_blk(b, CLS_BLK_BODY), without);
    free(b);
}

/* Value of the k-th feature of block blk, in extraction order. */
static float blk_val(const struct cls_feat_buf *b, unsigned blk, size_t k)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].blk == blk && k-- == 0)
            return b->v[i].val;
    fail_msg("block %u has too few features", blk);
    return 0;
}

static void test_offline_binary_tf(void **state)
{
    struct cls_feat_buf *b = calloc(1, sizeof(*b));
    struct cls_lexicon lex;
    struct cls_feat_cfg bin = feat_cfg(CLS_FEAT_BINARY), tf = feat_cfg(0);
    struct cls_issue_text t = text_of("x", "error error error error warning");
    int16_t *q = malloc(((size_t)1 << 18) * sizeof(*q));

    (void)state;
    assert_non_null(b);
    assert_non_null(q);
    for (size_t i = 0; i < (size_t)1 << 18; i++)
        q[i] = 10;
    cls_lexicon_init(&lex);
    /* body features in order: error, error error, warning, error warning */
    cls_feat_extract(&bin, &lex, &t, b);
    cls_feat_weigh(&bin, q, 1, 0.1f, b);
    assert_true(fabsf(blk_val(b, CLS_BLK_BODY, 0) - blk_val(b, CLS_BLK_BODY, 2)) < 1e-6f);
    cls_feat_extract(&tf, &lex, &t, b);
    cls_feat_weigh(&tf, q, 1, 0.1f, b);
    /* 1 + ln 4 against 1 */
    assert_true(fabsf(blk_val(b, CLS_BLK_BODY, 0) / blk_val(b, CLS_BLK_BODY, 2) -
                      (1.0f + logf(4.0f))) < 1e-4f);
    free(q);
    free(b);
}

static void test_offline_flags_validated(void **state)
{
    struct fixture *fx = *state;
    unsigned char *img = malloc(fx->len);
    uint32_t crc;

    assert_non_null(img);
    memcpy(img, fx->img, fx->len);
    img[16 + 3] = 0x80; /* an unknown feature switch, CRC fixed up */
    crc = cls_crc32(img, fx->len - 4);
    for (int i = 0; i < 4; i++)
        img[fx->len - 4 + i] = (unsigned char)(crc >> (8 * i));
    expect_load_error(img, fx->len, "invalid values");
    free(img);
}

/* NB prior scales: a scale of 1 is plain LR, a scale of 0 silences a column,
 * and the weights come back multiplied by the scale. */
static void test_offline_lr_prior_scale(void **state)
{
    /* 6 rows, 3 columns: column 0 marks class 0, column 1 class 1, column 2 class 2 */
    size_t rowptr[7] = {0, 2, 4, 6, 8, 10, 12};
    uint32_t col[12] = {0, 2, 0, 1, 1, 0, 1, 2, 2, 1, 2, 0};
    float val[12] = {1, .2f, 1, .3f, 1, .1f, 1, .2f, 1, .3f, 1, .1f};
    int y[6] = {0, 0, 1, 1, 2, 2};
    float one[9], zero0[9], w1[9], w2[9], w3[9], b1[3], b2[3], b3[3];
    struct cls_lr_opts o = {.c = 10, .max_iter = 200, .tol = 1e-9, .history = 8};
    struct cls_sparse x = {rowptr, col, val, y, 6, 3, NULL};

    (void)state;
    for (int i = 0; i < 9; i++) {
        one[i] = 1;
        zero0[i] = i < 3 ? 0 : 1;
    }
    assert_int_equal(cls_lr_train(&x, 3, &o, w1, b1), 0);
    x.scale = one;
    assert_int_equal(cls_lr_train(&x, 3, &o, w2, b2), 0);
    for (int i = 0; i < 9; i++)
        assert_true(fabsf(w1[i] - w2[i]) < 1e-5f);
    assert_true(w1[0] > 0 && w1[4] > 0 && w1[8] > 0);
    x.scale = zero0;
    assert_int_equal(cls_lr_train(&x, 3, &o, w3, b3), 0);
    for (int c = 0; c < 3; c++)
        assert_true(w3[c] == 0.0f);
    assert_true(w3[4] > 0 && w3[8] > 0);
}

/*---- CSV --------------------------------------------------------------------*/

static void test_offline_csv_quoting(void **state)
{
    const char *text = "repo,label,title,body\r\n"
                       "a/b,bug,\"Comma, inside\",\"line1\nline2 \"\"quoted\"\"\"\n"
                       "c/d,question,plain,\n";
    struct cls_csv csv;
    char err[128];

    (void)state;
    assert_int_equal(cls_csv_parse(text, strlen(text), &csv, err, sizeof(err)), 0);
    assert_int_equal(csv.n_rows, 3);
    assert_int_equal(cls_csv_column(&csv, "body"), 3);
    assert_int_equal(cls_csv_column(&csv, "nope"), -1);
    assert_string_equal(csv.rows[1].field[2], "Comma, inside");
    assert_string_equal(csv.rows[1].field[3], "line1\nline2 \"quoted\"");
    assert_string_equal(csv.rows[2].field[3], "");
    assert_int_equal(csv.rows[2].n, 4);
    cls_csv_free(&csv);
}

static void test_offline_csv_errors(void **state)
{
    struct cls_csv csv;
    char err[128];

    (void)state;
    assert_int_equal(cls_csv_parse("a,\"open\n", 8, &csv, err, sizeof(err)), DAI_EPARSE);
    assert_non_null(strstr(err, "unterminated"));
    assert_int_equal(cls_csv_parse("a,b\"c\n", 6, &csv, err, sizeof(err)), DAI_EPARSE);
    assert_int_equal(cls_csv_parse("\"a\"x\n", 5, &csv, err, sizeof(err)), DAI_EPARSE);
    assert_true(cls_csv_read_file("/nonexistent.csv", &csv, err, sizeof(err)) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_load_missing_file),
        cmocka_unit_test(test_offline_encode_decode_roundtrip),
        cmocka_unit_test(test_offline_csv_quoting),
        cmocka_unit_test(test_offline_csv_errors),
        cmocka_unit_test(test_offline_code_lines_feed_code_block),
        cmocka_unit_test(test_offline_stem_and_split),
        cmocka_unit_test(test_offline_binary_tf),
        cmocka_unit_test(test_offline_lr_prior_scale),
        cmocka_unit_test(test_offline_load_truncated),
        cmocka_unit_test(test_offline_load_bad_checksum),
        cmocka_unit_test(test_offline_load_bad_header),
        cmocka_unit_test(test_offline_flags_validated),
        cmocka_unit_test(test_offline_version),
        cmocka_unit_test(test_offline_invalid_arguments),
        cmocka_unit_test(test_offline_valid_on_awkward_inputs),
        cmocka_unit_test(test_offline_summary_and_tags),
        cmocka_unit_test(test_offline_deterministic),
        cmocka_unit_test(test_offline_clear_cut_examples),
        cmocka_unit_test(test_offline_confidence_calibrated_not_constant),
        cmocka_unit_test(test_offline_enhancement_split),
        cmocka_unit_test(test_offline_documentation_rule),
        cmocka_unit_test(test_offline_security_rule),
        cmocka_unit_test(test_offline_labels_and_priority),
        cmocka_unit_test(test_offline_team_hints),
        cmocka_unit_test(test_offline_repo_copy_changes_scores_only_for_known_repos),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
