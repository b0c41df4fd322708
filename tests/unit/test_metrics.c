/* Unit tests for the metrics registry: exact Prometheus 0.0.4 text for
 * counters, gauges and histograms with labels, escaping of label values and
 * help text, number formatting, registration rules, collectors, resets, the
 * output cap, and exact totals when several threads update at once. */
#include <dispatchai/metrics.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

static struct dai_metrics *reg_new(void)
{
    struct dai_metrics *reg = dai_metrics_new();

    assert_non_null(reg);
    return reg;
}

static void render_equals(struct dai_metrics *reg, const char *want)
{
    struct dai_buf out = {0};

    assert_int_equal(dai_metrics_render(reg, &out), 0);
    assert_string_equal(out.data, want);
    dai_buf_free(&out);
}

static void test_metrics_counter_with_labels(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *c = dai_metric_counter(reg, "dai_http_requests_total",
                                              "HTTP requests by route and status", "route, status");
    (void)state;
    assert_non_null(c);
    dai_metric_add(c, 1, "webhook", "202");
    dai_metric_add(c, 2, "webhook", "202");
    dai_metric_add(c, 1, "health", "200");
    dai_metric_add(c, -5, "health", "200"); /* counters never go down */
    assert_true(dai_metric_value(c, "webhook", "202") == 3);
    assert_true(dai_metric_value(c, "nope", "0") == 0);
    render_equals(reg, "# HELP dai_http_requests_total HTTP requests by route and status\n"
                       "# TYPE dai_http_requests_total counter\n"
                       "dai_http_requests_total{route=\"webhook\",status=\"202\"} 3\n"
                       "dai_http_requests_total{route=\"health\",status=\"200\"} 1\n");
    dai_metrics_free(reg);
}

static void test_metrics_gauge_unlabelled_starts_at_zero(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *g = dai_metric_gauge(reg, "dai_in_flight", "Requests in flight", NULL);
    (void)state;
    render_equals(reg, "# HELP dai_in_flight Requests in flight\n"
                       "# TYPE dai_in_flight gauge\n"
                       "dai_in_flight 0\n");
    dai_metric_add(g, 5);
    dai_metric_add(g, -2);
    render_equals(reg, "# HELP dai_in_flight Requests in flight\n"
                       "# TYPE dai_in_flight gauge\n"
                       "dai_in_flight 3\n");
    dai_metric_set(g, -0.25);
    assert_true(dai_metric_value(g) == -0.25);
    dai_metrics_free(reg);
}

static void test_metrics_histogram_cumulative_buckets(void **state)
{
    static const double bounds[] = {0.1, 0.5, 1};
    struct dai_metrics *reg = reg_new();
    struct dai_metric *h =
        dai_metric_histogram(reg, "dai_latency_seconds", "Latency", "route", bounds, 3);
    (void)state;
    assert_non_null(h);
    dai_metric_observe(h, 0.05, "a");
    dai_metric_observe(h, 0.1, "a"); /* le is inclusive: lands in 0.1 */
    dai_metric_observe(h, 0.7, "a");
    dai_metric_observe(h, 3, "a");   /* only +Inf */
    dai_metric_observe(h, 0.2, "b");
    assert_true(dai_metric_value(h, "a") == 4);
    render_equals(reg, "# HELP dai_latency_seconds Latency\n"
                       "# TYPE dai_latency_seconds histogram\n"
                       "dai_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"
                       "dai_latency_seconds_bucket{route=\"a\",le=\"0.5\"} 2\n"
                       "dai_latency_seconds_bucket{route=\"a\",le=\"1\"} 3\n"
                       "dai_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"
                       "dai_latency_seconds_sum{route=\"a\"} 3.85\n"
                       "dai_latency_seconds_count{route=\"a\"} 4\n"
                       "dai_latency_seconds_bucket{route=\"b\",le=\"0.1\"} 0\n"
                       "dai_latency_seconds_bucket{route=\"b\",le=\"0.5\"} 1\n"
                       "dai_latency_seconds_bucket{route=\"b\",le=\"1\"} 1\n"
                       "dai_latency_seconds_bucket{route=\"b\",le=\"+Inf\"} 1\n"
                       "dai_latency_seconds_sum{route=\"b\"} 0.2\n"
                       "dai_latency_seconds_count{route=\"b\"} 1\n");
    dai_metrics_free(reg);
}

static void test_metrics_histogram_unlabelled(void **state)
{
    static const double bounds[] = {1, 2.5};
    struct dai_metrics *reg = reg_new();
    struct dai_metric *h = dai_metric_histogram(reg, "x_seconds", NULL, NULL, bounds, 2);
    (void)state;
    dai_metric_observe(h, 2);
    render_equals(reg, "# TYPE x_seconds histogram\n"
                       "x_seconds_bucket{le=\"1\"} 0\n"
                       "x_seconds_bucket{le=\"2.5\"} 1\n"
                       "x_seconds_bucket{le=\"+Inf\"} 1\n"
                       "x_seconds_sum 2\n"
                       "x_seconds_count 1\n");
    dai_metrics_free(reg);
}

static void test_metrics_escaping(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *g = dai_metric_gauge(reg, "esc", "back\\slash and\nnewline \"kept\"", "v");
    (void)state;
    dai_metric_set(g, 1, "a\\b\"c\nd");
    dai_metric_set(g, 2, (const char *)NULL);
    render_equals(reg, "# HELP esc back\\\\slash and\\nnewline \"kept\"\n"
                       "# TYPE esc gauge\n"
                       "esc{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                       "esc{v=\"\"} 2\n");
    dai_metrics_free(reg);
}

static void test_metrics_number_format(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *g = dai_metric_gauge(reg, "n", NULL, "k");
    (void)state;
    dai_metric_set(g, 1234567890123.0, "big");
    dai_metric_set(g, 0.1, "tenth");
    dai_metric_set(g, 1.0 / 3.0, "third");
    dai_metric_set(g, -0.0, "negzero");
    dai_metric_set(g, 1e-7, "tiny");
    render_equals(reg, "# TYPE n gauge\n"
                       "n{k=\"big\"} 1234567890123\n"
                       "n{k=\"tenth\"} 0.1\n"
                       "n{k=\"third\"} 0.33333333333333331\n"
                       "n{k=\"negzero\"} 0\n"
                       "n{k=\"tiny\"} 1e-07\n");
    dai_metrics_free(reg);
}

static void test_metrics_registration_rules(void **state)
{
    static const double good[] = {1, 2};
    static const double bad[] = {2, 1};
    struct dai_metrics *reg = reg_new();
    struct dai_metric *a = dai_metric_counter(reg, "a_total", "A", "x,y");
    (void)state;
    assert_non_null(a);
    assert_ptr_equal(dai_metric_counter(reg, "a_total", "other help", "x, y"), a);
    assert_null(dai_metric_gauge(reg, "a_total", "A", "x,y"));      /* other type */
    assert_null(dai_metric_counter(reg, "a_total", "A", "x"));      /* other labels */
    assert_null(dai_metric_counter(reg, "1bad", "A", NULL));
    assert_null(dai_metric_counter(reg, "bad-name", "A", NULL));
    assert_null(dai_metric_counter(reg, "b_total", "B", "x,x"));
    assert_null(dai_metric_counter(reg, "b_total", "B", "x,"));
    assert_null(dai_metric_counter(reg, "b_total", "B", "__reserved"));
    assert_null(dai_metric_counter(reg, "b_total", "B", "a,b,c,d,e,f,g,h,i"));
    assert_null(dai_metric_histogram(reg, "h", "H", "le", good, 2));
    assert_null(dai_metric_histogram(reg, "h", "H", NULL, bad, 2));
    assert_null(dai_metric_histogram(reg, "h", "H", NULL, good, 0));
    assert_non_null(dai_metric_counter(reg, "ns:sub_total", "colons allowed", NULL));
    /* NULL handles are accepted everywhere, so optional metrics need no checks. */
    dai_metric_add(NULL, 1);
    dai_metric_observe(NULL, 1);
    dai_metric_reset(NULL);
    assert_true(dai_metric_value(NULL) == 0);
    dai_metrics_free(reg);
    dai_metrics_free(NULL);
}

static void refresh(void *ud)
{
    struct dai_metric *g = ud;

    dai_metric_add(g, 1);
}

static void test_metrics_collect_runs_before_render(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *g = dai_metric_gauge(reg, "renders", "Renders so far", NULL);
    (void)state;
    assert_int_equal(dai_metrics_on_collect(reg, refresh, g), 0);
    render_equals(reg, "# HELP renders Renders so far\n# TYPE renders gauge\nrenders 1\n");
    render_equals(reg, "# HELP renders Renders so far\n# TYPE renders gauge\nrenders 2\n");
    dai_metrics_free(reg);
}

static void test_metrics_reset_drops_children(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *lag = dai_metric_gauge(reg, "lag", "Lag", "topic,partition");
    (void)state;
    dai_metric_set(lag, 10, "t", "0");
    dai_metric_set(lag, 20, "t", "1");
    dai_metric_reset(lag);
    dai_metric_set(lag, 5, "t", "2");
    render_equals(reg, "# HELP lag Lag\n# TYPE lag gauge\nlag{topic=\"t\",partition=\"2\"} 5\n");
    dai_metrics_free(reg);
}

static void test_metrics_render_respects_cap(void **state)
{
    struct dai_metrics *reg = reg_new();
    struct dai_metric *g = dai_metric_gauge(reg, "g", "a gauge with a long help text", "k");
    struct dai_buf out = {.max = 32};
    (void)state;
    dai_metric_set(g, 1, "some-label-value");
    assert_int_equal(dai_metrics_render(reg, &out), DAI_ETOOBIG);
    dai_buf_free(&out);
    dai_metrics_free(reg);
}

static void test_metrics_latency_buckets(void **state)
{
    (void)state;
    assert_true(dai_latency_buckets_n >= 10);
    assert_true(dai_latency_buckets[0] == 0.0005);
    assert_true(dai_latency_buckets[dai_latency_buckets_n - 1] == 30);
    for (size_t i = 1; i < dai_latency_buckets_n; i++)
        assert_true(dai_latency_buckets[i] > dai_latency_buckets[i - 1]);
}

#define THREADS 8
#define ITERS 20000

struct worker {
    struct dai_metrics *reg;
    int id;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    /* Registering from every thread must hand back the same families. */
    struct dai_metric *c = dai_metric_counter(w->reg, "ops_total", "Ops", "parity");
    struct dai_metric *h = dai_metric_histogram(w->reg, "op_seconds", "Op time", NULL,
                                                dai_latency_buckets, dai_latency_buckets_n);
    struct dai_metric *g = dai_metric_gauge(w->reg, "level", "Level", NULL);
    struct dai_buf out = {0};

    for (int i = 0; i < ITERS; i++) {
        dai_metric_add(c, 1, (i + w->id) % 2 ? "odd" : "even");
        dai_metric_observe(h, 0.001);
        dai_metric_add(g, 1);
        dai_metric_add(g, -1);
        if (i % 5000 == 0 && dai_metrics_render(w->reg, &out) != 0)
            return NULL;
    }
    dai_buf_free(&out);
    return w;
}

static void test_metrics_threads_exact_totals(void **state)
{
    struct dai_metrics *reg = reg_new();
    pthread_t th[THREADS];
    struct worker w[THREADS];
    struct dai_metric *c, *h, *g;
    struct dai_buf out = {0};
    char line[128];
    (void)state;

    for (int i = 0; i < THREADS; i++) {
        w[i].reg = reg;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;

        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_ptr_equal(ret, &w[i]);
    }
    c = dai_metric_counter(reg, "ops_total", "Ops", "parity");
    h = dai_metric_histogram(reg, "op_seconds", "Op time", NULL, dai_latency_buckets,
                             dai_latency_buckets_n);
    g = dai_metric_gauge(reg, "level", "Level", NULL);
    assert_true(dai_metric_value(c, "odd") == THREADS * ITERS / 2);
    assert_true(dai_metric_value(c, "even") == THREADS * ITERS / 2);
    assert_true(dai_metric_value(h) == THREADS * ITERS);
    assert_true(dai_metric_value(g) == 0);
    assert_int_equal(dai_metrics_render(reg, &out), 0);
    snprintf(line, sizeof(line),
             "op_seconds_bucket{le=\"0.0005\"} 0\nop_seconds_bucket{le=\"0.001\"} %d\n",
             THREADS * ITERS);
    assert_non_null(strstr(out.data, line));
    snprintf(line, sizeof(line), "op_seconds_count %d\n", THREADS * ITERS);
    assert_non_null(strstr(out.data, line));
    dai_buf_free(&out);
    dai_metrics_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counter_with_labels),
        cmocka_unit_test(test_metrics_gauge_unlabelled_starts_at_zero),
        cmocka_unit_test(test_metrics_histogram_cumulative_buckets),
        cmocka_unit_test(test_metrics_histogram_unlabelled),
        cmocka_unit_test(test_metrics_escaping),
        cmocka_unit_test(test_metrics_number_format),
        cmocka_unit_test(test_metrics_registration_rules),
        cmocka_unit_test(test_metrics_collect_runs_before_render),
        cmocka_unit_test(test_metrics_reset_drops_children),
        cmocka_unit_test(test_metrics_render_respects_cap),
        cmocka_unit_test(test_metrics_latency_buckets),
        cmocka_unit_test(test_metrics_threads_exact_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
