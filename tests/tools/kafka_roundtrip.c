/* kafka_roundtrip: a small CLI over the common Kafka helpers, for the
 * integration tests. `produce N` sends N keyed messages with headers through
 * dai_producer (acks=all, idempotent) and waits for every delivery report;
 * `consume N` reads N messages through dai_consumer (read_committed) and prints
 * one JSON line per message. Checking what came back is the tests' job. */
#include <dispatchai/clock.h>
#include <dispatchai/json.h>
#include <dispatchai/kafka.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct args {
    const char *bootstrap;
    const char *topic;
    const char *group;
    const char *mode;
    long n;
    long keys;
    long partitions;
    long timeout_ms;
    bool no_create;
};

struct acks {
    pthread_mutex_t mu;
    long ok, failed;
    char first_err[256];
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kafka_roundtrip --bootstrap HOST:PORT --topic TOPIC [options] produce N\n"
            "       kafka_roundtrip --bootstrap HOST:PORT --topic TOPIC [options] consume N\n"
            "options:\n"
            "  --keys K          produce over K keys \"key-0\"..\"key-(K-1)\" (default 7)\n"
            "  --partitions P    create the topic with P partitions if absent (default 3)\n"
            "  --group G         consumer group (default: a new one, so reading starts at\n"
            "                    the beginning)\n"
            "  --timeout-ms MS   give up after MS milliseconds; also the delivery timeout\n"
            "                    of each message (default 60000)\n"
            "  --no-create       produce without checking or creating the topic first\n"
            "produce prints one summary JSON line; consume prints one JSON line per message:\n"
            "  {\"key\":..,\"headers\":{..},\"value\":..,\"partition\":..,\"offset\":..}\n");
}

static int parse_long(const char *s, long min, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},     {"keys", required_argument, NULL, 'k'},
        {"partitions", required_argument, NULL, 'p'}, {"timeout-ms", required_argument, NULL, 'T'},
        {"no-create", no_argument, NULL, 'n'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    a->keys = 7;
    a->partitions = 3;
    a->timeout_ms = 60000;
    while ((c = getopt_long(argc, argv, "b:t:g:k:p:T:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->bootstrap = optarg; break;
        case 't': a->topic = optarg; break;
        case 'g': a->group = optarg; break;
        case 'k': if (parse_long(optarg, 1, &a->keys)) return -1; break;
        case 'p': if (parse_long(optarg, 1, &a->partitions)) return -1; break;
        case 'T': if (parse_long(optarg, 1, &a->timeout_ms)) return -1; break;
        case 'n': a->no_create = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (!a->bootstrap || !a->topic || argc - optind != 2)
        return -1;
    a->mode = argv[optind];
    if (strcmp(a->mode, "produce") && strcmp(a->mode, "consume"))
        return -1;
    return parse_long(argv[optind + 1], 0, &a->n);
}

static void on_delivery(void *ud, void *msg_opaque, int rc, int32_t partition, int64_t offset,
                        const char *errstr)
{
    struct acks *k = ud;

    (void)msg_opaque;
    (void)partition;
    (void)offset;
    pthread_mutex_lock(&k->mu);
    if (rc == 0) {
        k->ok++;
    } else {
        if (!k->failed)
            snprintf(k->first_err, sizeof(k->first_err), "%s", errstr ? errstr : "?");
        k->failed++;
    }
    pthread_mutex_unlock(&k->mu);
}

static int do_produce(const struct args *a, struct dai_common_config *cfg)
{
    /* Durability first: every acknowledgement means all in-sync replicas
     * have the message, and retries cannot duplicate or reorder it. */
    char delivery_ms[32];
    const struct dai_kv defs[] = {{"acks", "all"},
                                  {"enable.idempotence", "true"},
                                  {"linger.ms", "5"},
                                  {"message.timeout.ms", delivery_ms}};
    struct dai_producer_options o = {0};
    struct acks k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *topics[] = {a->topic};
    struct dai_producer *p;
    long *seq = calloc((size_t)a->keys, sizeof(long));
    char err[512];
    int left, rc;

    if (!seq)
        return 1;
    snprintf(delivery_ms, sizeof(delivery_ms), "%ld", a->timeout_ms);
    o.cfg = cfg;
    o.client_id = "kafka-roundtrip-producer";
    o.defaults = defs;
    o.n_defaults = sizeof(defs) / sizeof(defs[0]);
    o.on_delivery = on_delivery;
    o.ud = &k;
    o.poll_thread = true;
    p = dai_producer_new(&o, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "kafka_roundtrip: %s\n", err);
        free(seq);
        return 1;
    }
    rc = a->no_create ? 0
                      : dai_kafka_ensure_topics(dai_producer_handle(p), cfg, topics, 1,
                                                (int)a->timeout_ms, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "kafka_roundtrip: %s\n", err);
        goto out;
    }
    for (long i = 0; i < a->n; i++) {
        long kidx = i % a->keys;
        char key[32], value[128], sq[32], corr[32];
        struct dai_kafka_header h[3];
        int vlen;

        snprintf(key, sizeof(key), "key-%ld", kidx);
        snprintf(sq, sizeof(sq), "%ld", seq[kidx]);
        snprintf(corr, sizeof(corr), "rt-%ld", i);
        vlen = snprintf(value, sizeof(value), "{\"key\":\"%s\",\"seq\":%ld,\"i\":%ld}", key,
                        seq[kidx], i);
        seq[kidx]++;
        h[0] = (struct dai_kafka_header){"x-seq", sq, strlen(sq)};
        h[1] = (struct dai_kafka_header){"correlation-id", corr, strlen(corr)};
        h[2] = (struct dai_kafka_header){"content-type", "application/json", 16};
        rc = dai_producer_send(p, a->topic, key, strlen(key), value, (size_t)vlen, false, h, 3,
                               NULL, (int)a->timeout_ms);
        if (rc) {
            fprintf(stderr, "kafka_roundtrip: send %ld: %s\n", i, dai_strerror(rc));
            goto out;
        }
    }
out:
    left = dai_producer_free(p, (int)a->timeout_ms);
    pthread_mutex_lock(&k.mu);
    printf("{\"produced\":%ld,\"acked\":%ld,\"failed\":%ld,\"unsent\":%d}\n", a->n, k.ok,
           k.failed, left);
    if (k.failed)
        fprintf(stderr, "kafka_roundtrip: first delivery error: %s\n", k.first_err);
    rc = rc || k.ok != a->n;
    pthread_mutex_unlock(&k.mu);
    free(seq);
    return rc ? 1 : 0;
}

static json_t *message_json(const rd_kafka_message_t *m)
{
    json_t *o = json_object(), *hs = json_object();
    rd_kafka_headers_t *hdrs = NULL;
    const char *name;
    const void *val;
    size_t sz;

    if (!o || !hs)
        goto fail;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &sz); i++)
            if (json_object_set_new(hs, name, val ? json_stringn(val, sz) : json_null()))
                goto fail;
    }
    if (json_object_set_new(o, "key", m->key ? json_stringn(m->key, m->key_len) : json_null()) ||
        json_object_set_new(o, "headers", hs))
        goto fail_hs_owned;
    if (json_object_set_new(o, "value",
                            m->payload ? json_stringn(m->payload, m->len) : json_null()) ||
        json_object_set_new(o, "partition", json_integer(m->partition)) ||
        json_object_set_new(o, "offset", json_integer(m->offset)))
        goto fail_hs_owned;
    return o;
fail:
    json_decref(hs);
fail_hs_owned:
    json_decref(o);
    return NULL;
}

static int do_consume(const struct args *a, struct dai_common_config *cfg)
{
    const char *topics[] = {a->topic};
    struct dai_consumer_options o = {0};
    struct dai_consumer *c;
    struct dai_buf line = {0};
    char group[96], err[512];
    long got = 0;
    long long deadline = dai_mono_us() + (long long)a->timeout_ms * 1000;

    snprintf(group, sizeof(group), "kafka-roundtrip-%ld-%lld", (long)getpid(), dai_now_ms());
    o.cfg = cfg;
    o.client_id = "kafka-roundtrip-consumer";
    o.group_id = a->group ? a->group : group;
    o.topics = topics;
    o.n_topics = 1;
    o.subscribe = true;
    o.read_committed = true;
    o.auto_commit = false;
    o.offset_reset = "earliest";
    c = dai_consumer_new(&o, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "kafka_roundtrip: %s\n", err);
        return 1;
    }
    while (got < a->n && dai_mono_us() < deadline) {
        rd_kafka_message_t *m = dai_consumer_poll(c, 100);
        json_t *j;

        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m); /* logged by dai_consumer_poll */
            continue;
        }
        j = message_json(m);
        rd_kafka_message_destroy(m);
        if (!j || dai_json_dump(j, &line)) {
            json_decref(j);
            fprintf(stderr, "kafka_roundtrip: out of memory\n");
            break;
        }
        json_decref(j);
        printf("%s\n", line.data);
        got++;
    }
    fflush(stdout);
    dai_buf_free(&line);
    dai_consumer_close(c);
    if (got < a->n) {
        fprintf(stderr, "kafka_roundtrip: consumed %ld of %ld messages before the timeout\n", got,
                a->n);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct dai_common_config cfg = {0};
    struct args a = {0};

    if (parse_args(argc, argv, &a)) {
        usage(stderr);
        return 2;
    }
    if (dai_log_init("kafka_roundtrip", getenv("LOG_LEVEL") ? getenv("LOG_LEVEL") : "warn",
                     "text", NULL)) {
        fprintf(stderr, "kafka_roundtrip: bad LOG_LEVEL\n");
        return 2;
    }
    cfg.kafka_bootstrap = (char *)a.bootstrap;
    cfg.topic_partitions = (int)a.partitions;
    cfg.topic_replication = 1;
    return !strcmp(a.mode, "produce") ? do_produce(&a, &cfg) : do_consume(&a, &cfg);
}
