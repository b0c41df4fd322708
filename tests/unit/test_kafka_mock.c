/* Fault-injection tests for kafka.c against librdkafka's in-process mock
 * cluster (rdkafka_mock.h): broker errors injected into Produce and EndTxn,
 * brokers taken down, full queues, and the topic/watermark helpers. The mock
 * stands in for failures only; the real round trip is tested against a real
 * broker in tests/integration/test_kafka_roundtrip.py. */
#include <dispatchai/kafka.h>
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>
#include <dispatchai/metrics.h>

#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_BROKERS 3
/* Kafka protocol ApiKeys (fixed by the wire protocol; librdkafka's own
 * names for them live in a header it does not install). */
#define API_PRODUCE 0
#define API_END_TXN 26

struct mock {
    rd_kafka_t *owner; /* the handle the mock cluster hangs off */
    rd_kafka_mock_cluster_t *mc;
    struct dai_common_config cfg;
    struct dai_metrics *metrics;
};

/* Delivery reports, collected from the producer's poll thread. */
struct drs {
    pthread_mutex_t mu;
    int ok, failed;
    int32_t last_partition;
    int64_t last_offset;
    char last_err[256];
    int opaque_sum;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_delivery(void *ud, void *msg_opaque, int rc, int32_t partition, int64_t offset,
                        const char *errstr)
{
    struct drs *d = ud;

    pthread_mutex_lock(&d->mu);
    if (rc == 0) {
        d->ok++;
        d->last_partition = partition;
        d->last_offset = offset;
    } else {
        d->failed++;
        snprintf(d->last_err, sizeof(d->last_err), "%s", errstr ? errstr : "(none)");
    }
    d->opaque_sum += (int)(intptr_t)msg_opaque;
    pthread_mutex_unlock(&d->mu);
}

static int drs_total(struct drs *d)
{
    int n;

    pthread_mutex_lock(&d->mu);
    n = d->ok + d->failed;
    pthread_mutex_unlock(&d->mu);
    return n;
}

static void wait_reports(struct drs *d, int n, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (drs_total(d) < n && now_ms() < deadline)
        usleep(10000);
    assert_int_equal(drs_total(d), n);
}

static int setup(void **state)
{
    struct mock *m = calloc(1, sizeof(*m));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];

    if (!m || !conf)
        return -1;
    /* The owner handle never connects; keep its "no bootstrap.servers"
     * notice out of the output. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return -1;
    m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->owner)
        return -1;
    m->mc = rd_kafka_mock_cluster_new(m->owner, N_BROKERS);
    if (!m->mc)
        return -1;
    if (rd_kafka_mock_topic_create(m->mc, "t3", 3, 1) ||
        rd_kafka_mock_topic_create(m->mc, "t1", 1, 1))
        return -1;
    m->cfg.kafka_bootstrap = (char *)rd_kafka_mock_cluster_bootstraps(m->mc);
    m->cfg.topic_partitions = 3;
    m->cfg.topic_replication = 1;
    m->cfg.kafka_stats_interval_ms = 100;
    m->metrics = dai_metrics_new();
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    struct mock *m = *state;

    dai_metrics_free(m->metrics);
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->owner);
    free(m);
    return 0;
}

static struct dai_producer *producer(struct mock *m, struct drs *d, const struct dai_kv *defs,
                                     size_t n_defs, const char *txn_id)
{
    struct dai_producer_options o = {0};
    struct dai_producer *p;
    char err[512];

    pthread_mutex_init(&d->mu, NULL);
    o.cfg = &m->cfg;
    o.client_id = "test-producer";
    o.defaults = defs;
    o.n_defaults = n_defs;
    o.transactional_id = txn_id;
    o.on_delivery = on_delivery;
    o.ud = d;
    o.metrics = m->metrics;
    o.poll_thread = true;
    p = dai_producer_new(&o, err, sizeof(err));
    if (!p)
        fail_msg("dai_producer_new: %s", err);
    return p;
}

static void set_brokers(struct mock *m, bool up)
{
    for (int32_t id = 1; id <= N_BROKERS; id++)
        assert_int_equal(up ? rd_kafka_mock_broker_set_up(m->mc, id)
                            : rd_kafka_mock_broker_set_down(m->mc, id),
                         0);
}

static bool metrics_contain(struct mock *m, const char *needle)
{
    struct dai_buf out = {0};
    bool found;

    assert_int_equal(dai_metrics_render(m->metrics, &out), 0);
    found = out.data && strstr(out.data, needle);
    dai_buf_free(&out);
    return found;
}

static void wait_metric(struct mock *m, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (!metrics_contain(m, needle) && now_ms() < deadline)
        usleep(20000);
    if (!metrics_contain(m, needle))
        fail_msg("metrics never showed: %s", needle);
}

/*---- producer -------------------------------------------------------------*/

static void test_kafka_mock_delivery_reports_offsets(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);
    const struct dai_kafka_header h[] = {{"x-github-event", "issues", 6}};
    char *v = strdup("taken value");

    for (int i = 1; i <= 5; i++)
        assert_int_equal(dai_producer_send(p, "t1", "k", 1, "hello", 5, false, h, 1,
                                           (void *)(intptr_t)i, 100),
                         0);
    /* librdkafka frees a taken value (ASan checks both directions). */
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, v, strlen(v), true, NULL, 0, NULL, 100),
                     0);
    assert_int_equal(dai_producer_flush(p, 5000), 0);
    wait_reports(&d, 6, 5000);
    assert_int_equal(d.ok, 6);
    assert_int_equal(d.opaque_sum, 15);
    assert_int_equal(d.last_partition, 0);
    assert_int_equal(d.last_offset, 5);
    wait_metric(m, "dai_kafka_delivery_reports_total{client=\"test-producer\",result=\"ok\"} 6\n",
                2000);
    wait_metric(m, "dai_kafka_tx_messages_total{client=\"test-producer\"} 6\n", 3000);
    wait_metric(m, "dai_kafka_producer_queue_messages{client=\"test-producer\"} 0\n", 3000);
    wait_metric(m, "dai_kafka_broker_rtt_avg_seconds{client=\"test-producer\",broker=", 3000);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

static void test_kafka_mock_injected_error_fails_delivery(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);

    /* A non-retriable broker error: the report must say so, once. */
    rd_kafka_mock_push_request_errors(m->mc, API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    wait_reports(&d, 1, 5000);
    assert_int_equal(d.failed, 1);
    assert_non_null(strstr(d.last_err, "too large"));
    wait_metric(m,
                "dai_kafka_delivery_reports_total{client=\"test-producer\",result=\"error\"} 1\n",
                2000);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

static void test_kafka_mock_retriable_errors_are_retried(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);

    rd_kafka_mock_push_request_errors(m->mc, API_PRODUCE, 2,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    wait_reports(&d, 1, 10000);
    assert_int_equal(d.ok, 1);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

static void test_kafka_mock_broker_down_times_out(void **state)
{
    static const struct dai_kv defs[] = {{"message.timeout.ms", "600"}};
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, defs, 1, NULL);

    set_brokers(m, false);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    wait_reports(&d, 1, 5000);
    assert_int_equal(d.failed, 1);
    assert_non_null(strstr(d.last_err, "timed out"));
    set_brokers(m, true);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

static void test_kafka_mock_queue_full_waits_then_fails(void **state)
{
    static const struct dai_kv defs[] = {{"queue.buffering.max.messages", "1"},
                                         {"message.timeout.ms", "30000"}};
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, defs, 2, NULL);
    char *v = strdup("not taken on failure");
    long long t0;
    int rc;

    set_brokers(m, false); /* the first message stays queued */
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "one", 3, false, NULL, 0, NULL, 0), 0);
    t0 = now_ms();
    rc = dai_producer_send(p, "t1", "k", 1, v, strlen(v), true, NULL, 0, NULL, 300);
    assert_int_equal(rc, DAI_EQUEUEFULL);
    assert_true(now_ms() - t0 >= 290);
    free(v); /* the caller still owns a value that was not taken */
    /* outq_len also counts queued requests and unserved events. */
    assert_true(dai_producer_outq_len(p) >= 1);
    /* A sender blocked on a full queue proceeds once room appears. */
    set_brokers(m, true);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "two", 3, false, NULL, 0, NULL, 10000),
                     0);
    assert_int_equal(dai_producer_flush(p, 10000), 0);
    wait_reports(&d, 2, 5000);
    assert_int_equal(d.ok, 2);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

static void test_kafka_mock_free_purges_and_reports(void **state)
{
    static const struct dai_kv defs[] = {{"message.timeout.ms", "60000"}};
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, defs, 1, NULL);

    /* Broker down: the flush cannot finish, so free must fail what is left
     * through delivery reports instead of dropping it silently. */
    set_brokers(m, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 0), 0);
    assert_true(dai_producer_free(p, 300) >= 3);
    assert_int_equal(drs_total(&d), 3);
    assert_int_equal(d.failed, 3);
    assert_non_null(strstr(d.last_err, "urge"));
    set_brokers(m, true);
}

static void test_kafka_mock_config_errors_name_the_key(void **state)
{
    static const struct dai_kv bad[] = {{"no.such.property", "1"}};
    struct mock *m = *state;
    struct dai_producer_options o = {0};
    struct dai_common_config cfg = m->cfg;
    struct dai_kv pass[] = {{"linger.ms", "not-a-number"}};
    char err[512];

    o.cfg = &m->cfg;
    o.defaults = bad;
    o.n_defaults = 1;
    assert_null(dai_producer_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "no.such.property"));
    cfg.producer_props.v = pass;
    cfg.producer_props.n = 1;
    o.cfg = &cfg;
    o.n_defaults = 0;
    assert_null(dai_producer_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "kafka.producer.linger.ms"));
    cfg.kafka_bootstrap = NULL;
    assert_null(dai_producer_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "bootstrap"));
}

/*---- consumer ---------------------------------------------------------------*/

struct rebalances {
    int assigned, revoked;
};

static void on_rebalance(void *ud, const rd_kafka_topic_partition_list_t *parts, bool assigned)
{
    struct rebalances *r = ud;

    if (assigned)
        r->assigned += parts->cnt;
    else
        r->revoked += parts->cnt;
}

static struct dai_consumer *consumer_with(struct mock *m, const char *topic, bool subscribe,
                                          struct rebalances *rb, const struct dai_kv *defs,
                                          size_t n_defs)
{
    const char *topics[] = {topic};
    struct dai_consumer_options o = {0};
    struct dai_consumer *c;
    char err[512];

    o.cfg = &m->cfg;
    o.client_id = "test-consumer";
    o.group_id = "test-group";
    o.topics = topics;
    o.n_topics = 1;
    o.subscribe = subscribe;
    o.read_committed = true;
    o.on_rebalance = on_rebalance;
    o.ud = rb;
    o.metrics = m->metrics;
    o.defaults = defs;
    o.n_defaults = n_defs;
    c = dai_consumer_new(&o, err, sizeof(err));
    if (!c)
        fail_msg("dai_consumer_new: %s", err);
    return c;
}

static struct dai_consumer *consumer(struct mock *m, const char *topic, bool subscribe,
                                     struct rebalances *rb)
{
    return consumer_with(m, topic, subscribe, rb, NULL, 0);
}

static void consume_headers_and_rebalance(struct mock *m, const struct dai_kv *defs,
                                          size_t n_defs)
{
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);
    struct rebalances rb = {0};
    struct dai_consumer *c;
    const struct dai_kafka_header h[] = {{"correlation-id", "abc-123", 7}, {"empty", NULL, 0}};
    long long deadline;
    int got = 0;

    for (int i = 0; i < 6; i++) {
        char key[16];

        snprintf(key, sizeof(key), "key-%d", i % 3);
        assert_int_equal(dai_producer_send(p, "t3", key, strlen(key), "payload", 7, false, h, 2,
                                           NULL, 100),
                         0);
    }
    assert_int_equal(dai_producer_flush(p, 5000), 0);
    assert_int_equal(dai_producer_free(p, 1000), 0);

    c = consumer_with(m, "t3", true, &rb, defs, n_defs);
    deadline = now_ms() + 20000;
    while (got < 6 && now_ms() < deadline) {
        rd_kafka_message_t *msg = dai_consumer_poll(c, 100);
        const char *v;
        size_t len;

        if (!msg)
            continue;
        if (!msg->err) {
            got++;
            v = dai_kafka_msg_header(msg, "correlation-id", &len);
            assert_non_null(v);
            assert_int_equal(len, 7);
            assert_memory_equal(v, "abc-123", 7);
            v = dai_kafka_msg_header(msg, "empty", &len);
            assert_non_null(v);
            assert_int_equal(len, 0);
            assert_null(dai_kafka_msg_header(msg, "absent", &len));
            assert_int_equal(msg->len, 7);
        }
        rd_kafka_message_destroy(msg);
    }
    assert_int_equal(got, 6);
    assert_int_equal(rb.assigned, 3);
    dai_consumer_close(c);
    assert_int_equal(rb.revoked, 3);
}

static void test_kafka_mock_consume_eager(void **state)
{
    consume_headers_and_rebalance(*state, NULL, 0);
}

static void test_kafka_mock_consume_cooperative(void **state)
{
    /* Incremental assign/unassign: the callback still sees every partition
     * come and go exactly once. */
    static const struct dai_kv coop[] = {{"partition.assignment.strategy", "cooperative-sticky"}};

    consume_headers_and_rebalance(*state, coop, 1);
}

static void test_kafka_mock_consumer_lag_metric(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);
    struct rebalances rb = {0};
    struct dai_consumer *c;
    struct dai_kafka_pos parts[] = {{0, DAI_KAFKA_OFFSET_BEGINNING}};
    char err[256];
    int64_t lo = -1, hi = -1, off[2] = {-1, -1};
    long long deadline;
    int got = 0;

    for (int i = 0; i < 10; i++)
        assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100),
                         0);
    assert_int_equal(dai_producer_free(p, 5000), 0);

    /* Manual assignment; read four messages, then pause so the position
     * stays at 4 while statistics keep flowing through the poll. */
    c = consumer(m, "t1", false, &rb);
    assert_int_equal(dai_consumer_assign(c, "t1", parts, 1, err, sizeof(err)), 0);
    deadline = now_ms() + 10000;
    while (got < 4 && now_ms() < deadline) {
        rd_kafka_message_t *msg = dai_consumer_poll(c, 100);

        if (msg && !msg->err)
            got++;
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    assert_int_equal(got, 4);
    assert_int_equal(dai_consumer_pause(c, "t1", parts, 1, true), 0);
    deadline = now_ms() + 5000;
    while (!metrics_contain(m, "dai_kafka_consumer_lag{topic=\"t1\",partition=\"0\"} 6\n") &&
           now_ms() < deadline) {
        rd_kafka_message_t *msg = dai_consumer_poll(c, 50);

        if (msg)
            rd_kafka_message_destroy(msg);
    }
    assert_true(metrics_contain(m, "dai_kafka_consumer_lag{topic=\"t1\",partition=\"0\"} 6\n"));
    assert_true(metrics_contain(m, "dai_kafka_rx_messages_total{client=\"test-consumer\"}"));
    /* The watermarks fetches brought, without asking the broker. */
    assert_int_equal(dai_consumer_cached_watermarks(c, "t1", 0, &lo, &hi), 0);
    assert_true(lo == 0 && hi == 10);
    assert_int_equal(dai_consumer_cached_watermarks(c, "t1", 7, &lo, &hi), DAI_ENOTFOUND);
    /* Seek back past what was read and resume: offsets 8 and 9 come next. */
    parts[0].offset = 8;
    assert_int_equal(dai_consumer_seek(c, "t1", parts, 1, 5000, err, sizeof(err)), 0);
    assert_int_equal(dai_consumer_pause(c, "t1", parts, 1, false), 0);
    got = 0;
    deadline = now_ms() + 10000;
    while (got < 2 && now_ms() < deadline) {
        rd_kafka_message_t *msg = dai_consumer_poll(c, 100);

        if (msg && !msg->err)
            off[got++] = msg->offset;
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    assert_true(off[0] == 8 && off[1] == 9);
    dai_consumer_close(c);
}

/*---- helpers ------------------------------------------------------------------*/

static void test_kafka_mock_topics_and_watermarks(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, NULL);
    rd_kafka_t *rk = dai_producer_handle(p);
    const char *have[] = {"t1", "t3"};
    const char *missing[] = {"t3", "not-there"};
    int64_t *lo = NULL, *hi = NULL;
    int64_t total = 0;
    int n = 0;
    char err[512];

    assert_int_equal(dai_kafka_check_topics(rk, have, 2, 5000, err, sizeof(err)), 0);
    assert_int_equal(dai_kafka_check_topics(rk, missing, 2, 5000, err, sizeof(err)),
                     DAI_ENOTFOUND);
    assert_non_null(strstr(err, "not-there"));
    /* Existing topics need no creation at all. */
    assert_int_equal(dai_kafka_ensure_topics(rk, &m->cfg, have, 2, 5000, err, sizeof(err)), 0);
    /* The mock has no CreateTopics: the failure must come back, naming it. */
    assert_true(dai_kafka_ensure_topics(rk, &m->cfg, missing, 2, 1000, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "create topic"));

    for (int i = 0; i < 7; i++) {
        char key[16];

        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(dai_producer_send(p, "t3", key, strlen(key), "v", 1, false, NULL, 0,
                                           NULL, 100),
                         0);
    }
    assert_int_equal(dai_producer_flush(p, 5000), 0);
    assert_int_equal(dai_kafka_watermarks(rk, "t3", 5000, &lo, &hi, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        assert_int_equal(lo[i], 0);
        total += hi[i] - lo[i];
    }
    assert_int_equal(total, 7);
    free(lo);
    free(hi);
    assert_int_equal(dai_kafka_watermarks(rk, "not-there", 2000, &lo, &hi, &n, err, sizeof(err)),
                     DAI_ENOTFOUND);

    set_brokers(m, false);
    assert_int_equal(dai_kafka_check_topics(rk, have, 2, 500, err, sizeof(err)), DAI_EKAFKA);
    set_brokers(m, true);
    assert_int_equal(dai_producer_free(p, 1000), 0);
}

/*---- transactions -------------------------------------------------------------*/

static void test_kafka_mock_txn_outcomes(void **state)
{
    struct mock *m = *state;
    struct drs d = {0};
    struct dai_producer *p = producer(m, &d, NULL, 0, "test-txn");
    char err[512];

    /* Coordinator unreachable: init times out, and may be called again. */
    set_brokers(m, false);
    assert_int_equal(dai_txn_init(p, 500, err, sizeof(err)), DAI_ETXN_RETRY);
    set_brokers(m, true);
    assert_int_equal(dai_txn_init(p, 10000, err, sizeof(err)), 0);

    /* A clean transaction. */
    assert_int_equal(dai_txn_begin(p, err, sizeof(err)), 0);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    assert_int_equal(dai_txn_commit(p, 10000, err, sizeof(err)), 0);

    /* An abortable error on commit: abort, then the producer works on. */
    assert_int_equal(dai_txn_begin(p, err, sizeof(err)), 0);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    rd_kafka_mock_push_request_errors(m->mc, API_END_TXN, 1,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    assert_int_equal(dai_txn_commit(p, 10000, err, sizeof(err)), DAI_ETXN_ABORT);
    assert_non_null(strstr(err, "commit transaction"));
    assert_int_equal(dai_txn_abort(p, 10000, err, sizeof(err)), 0);
    assert_int_equal(dai_txn_begin(p, err, sizeof(err)), 0);
    assert_int_equal(dai_txn_commit(p, 10000, err, sizeof(err)), 0);

    /* Fenced: fatal, and the process is asked to stop. */
    assert_false(dai_lifecycle_stopping());
    assert_int_equal(dai_txn_begin(p, err, sizeof(err)), 0);
    assert_int_equal(dai_producer_send(p, "t1", "k", 1, "v", 1, false, NULL, 0, NULL, 100), 0);
    rd_kafka_mock_push_request_errors(m->mc, API_END_TXN, 1,
                                      RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    assert_int_equal(dai_txn_commit(p, 10000, err, sizeof(err)), DAI_ETXN_FATAL);
    /* The fatal error reaches error_cb on the poll thread. */
    for (long long deadline = now_ms() + 5000; !dai_lifecycle_stopping() && now_ms() < deadline;)
        usleep(10000);
    assert_true(dai_lifecycle_stopping());
    dai_producer_free(p, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kafka_mock_delivery_reports_offsets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_injected_error_fails_delivery, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_retriable_errors_are_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_broker_down_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_queue_full_waits_then_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_free_purges_and_reports, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_config_errors_name_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_consume_eager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_consume_cooperative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_consumer_lag_metric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_mock_topics_and_watermarks, setup, teardown),
        /* Last: a fatal error asks the whole (test) process to stop. */
        cmocka_unit_test_setup_teardown(test_kafka_mock_txn_outcomes, setup, teardown),
    };

    /* librdkafka's own chatter about downed mock brokers is expected here. */
    if (dai_log_init("test_kafka_mock", getenv("TEST_LOG_LEVEL") ? getenv("TEST_LOG_LEVEL")
                                                                  : "error",
                     "text", NULL))
        return 1;
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
