/* Load client for scripts/bench-gateway (built by that script; not part of
 * the daemons).
 *
 *   ws:   N WebSocket clients on one epoll loop (server frames parsed in
 *         place from 64+ KiB reads), while a librdkafka producer writes events to the enriched
 *         topic at a steady rate. Each event carries its produce time in
 *         delivery_id ("bench-<unix µs>"), so every client measures produce
 *         → receipt lag. Prints delivered msgs/s, lag percentiles, closes.
 *   http: GET latency over one keep-alive connection for each path given.
 *
 * Output is "key=value" lines for the driver script to parse. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double p)
{
    size_t i;

    if (!n)
        return 0;
    i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* ---- ws mode ---------------------------------------------------------------- */

/* The receive side parses server frames in place from large reads: the load
 * tool must stay cheaper than the server it measures (the gateway's own
 * framing is wslay's; this only reads unmasked, unfragmented server frames,
 * and answers pings so keepalive holds). */
#define RBUF (256 * 1024)

struct client {
    int fd;
    bool open;
    unsigned char *buf;
    size_t len;
    unsigned long long msgs;
};

static uint32_t *lags;
static size_t n_lags, cap_lags;
/* Per-second lag histograms over the window (1 ms buckets up to 5 s). */
#define SEC_MAX 600
#define HBUCKETS 5001
static uint32_t (*sec_hist)[HBUCKETS];
static atomic_llong produced, prod_start_us, prod_end_us;
static unsigned long long total_msgs, closes;
static long long window_start, window_end; /* steady window (mono µs) */
static unsigned long long window_msgs;

static void on_text(struct client *c, const unsigned char *p, size_t n)
{
    static const char mark[] = "\"delivery_id\":\"bench-";
    const char *m = memmem(p, n < 512 ? n : 512, mark, sizeof(mark) - 1);
    long long t, now = now_us(), mono = mono_us();

    if (!m)
        return; /* hello etc. */
    t = strtoll(m + sizeof(mark) - 1, NULL, 10);
    c->msgs++;
    total_msgs++;
    if (mono >= window_start && mono < window_end) {
        size_t sec = (size_t)((mono - window_start) / 1000000);
        long long ms = (now > t ? now - t : 0) / 1000;

        window_msgs++;
        if (sec < SEC_MAX)
            sec_hist[sec][ms < HBUCKETS - 1 ? ms : HBUCKETS - 1]++;
        /* Percentiles cover the steady window only, not the warm-up. */
        if (n_lags == cap_lags) {
            cap_lags = cap_lags ? cap_lags * 2 : 1 << 20;
            lags = realloc(lags, cap_lags * sizeof(*lags));
        }
        lags[n_lags++] = (uint32_t)(now > t ? now - t : 0);
    }
}

static void send_pong(struct client *c, const unsigned char *p, size_t n)
{
    unsigned char f[2 + 4 + 125];
    static const unsigned char key[4] = {1, 2, 3, 4};

    f[0] = 0x8A;
    f[1] = (unsigned char)(0x80 | n);
    memcpy(f + 2, key, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = p[i] ^ key[i % 4];
    if (send(c->fd, f, 6 + n, MSG_NOSIGNAL) < 0)
        c->open = false;
}

/* Parse every complete frame in c->buf; keeps a partial one. */
static void parse(struct client *c)
{
    size_t off = 0;

    while (c->len - off >= 2) {
        const unsigned char *b = c->buf + off;
        size_t n = b[1] & 0x7f, h = 2;

        if (n == 126) {
            if (c->len - off < 4)
                break;
            n = (size_t)b[2] << 8 | b[3];
            h = 4;
        } else if (n == 127) {
            if (c->len - off < 10)
                break;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | b[2 + i];
            h = 10;
        }
        if (c->len - off < h + n)
            break;
        switch (b[0] & 0x0f) {
        case 0x1: on_text(c, b + h, n); break;
        case 0x9: send_pong(c, b + h, n); break;
        case 0x8:
            closes++;
            fprintf(stderr, "client fd=%d closed by server code=%u\n", c->fd,
                    n >= 2 ? (unsigned)b[h] << 8 | b[h + 1] : 0);
            c->open = false;
            return;
        default: break;
        }
        off += h + n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_readable(struct client *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);

        if (r > 0) {
            c->len += (size_t)r;
            parse(c);
            if (!c->open)
                return;
            if (c->len == RBUF) {
                fprintf(stderr, "client fd=%d: frame larger than the buffer\n", c->fd);
                c->open = false;
                return;
            }
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        c->open = false;
        return;
    }
}

struct prod_args {
    const char *bootstrap, *topic, *tmpl;
    double rate;
    double seconds;
    int keys;
};

/* Expand @TS@ and @NUM@ in the template. */
static size_t expand(const char *tmpl, long long ts, int num, char *out, size_t cap)
{
    size_t o = 0;

    for (const char *p = tmpl; *p && o + 32 < cap;) {
        if (!strncmp(p, "@TS@", 4)) {
            o += (size_t)snprintf(out + o, cap - o, "%lld", ts);
            p += 4;
        } else if (!strncmp(p, "@NUM@", 5)) {
            o += (size_t)snprintf(out + o, cap - o, "%d", num);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return o;
}

static void *producer(void *arg)
{
    struct prod_args *a = arg;
    char err[512], key[128];
    size_t cap = strlen(a->tmpl) + 256;
    char *buf = malloc(cap);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    long long start, total = (long long)(a->rate * a->seconds);

    rd_kafka_conf_set(conf, "bootstrap.servers", a->bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        exit(1);
    }
    start = mono_us();
    atomic_store(&prod_start_us, start);
    for (long long i = 0; i < total; i++) {
        long long due = start + (long long)((double)i * 1e6 / a->rate);
        int num = (int)(i % a->keys) + 1;
        size_t len;

        while (mono_us() < due) {
            rd_kafka_poll(rk, 0);
            long long left = due - mono_us();
            if (left > 200)
                usleep((useconds_t)(left > 2000 ? 1000 : left - 100));
        }
        len = expand(a->tmpl, now_us(), num, buf, cap);
        snprintf(key, sizeof(key), "bench/load:issue:%d", num);
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(a->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END) == 0)
            atomic_fetch_add(&produced, 1);
        rd_kafka_poll(rk, 0);
    }
    atomic_store(&prod_end_us, mono_us());
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    free(buf);
    return NULL;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;

    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    b[n] = '\0';
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
        b[--n] = '\0';
    fclose(f);
    return b;
}

static void ws_handshake(int fd, int port, const char *token)
{
    char req[512], resp[2048];
    size_t got = 0;
    int n = snprintf(req, sizeof(req),
                     "GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     token, port);

    if (send(fd, req, (size_t)n, 0) != n)
        exit(1);
    /* Read exactly the response head, byte by byte: the hello frame may
     * follow at once and belongs to the frame parser. */
    while (got < sizeof(resp) - 1) {
        if (recv(fd, resp + got, 1, 0) != 1) {
            fprintf(stderr, "handshake: connection closed\n");
            exit(1);
        }
        got++;
        if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
            break;
    }
    resp[got] = '\0';
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "handshake refused: %.80s\n", resp);
        exit(1);
    }
}

static int ws_mode(int argc, char **argv)
{
    int port = 0, nclients = 1000, keys = 5000;
    double rate = 200, seconds = 30, warm = 3;
    const char *token = "", *bootstrap = NULL, *topic = NULL, *tmpl_path = NULL;
    struct client *cl;
    struct prod_args pa;
    pthread_t th;
    int ep;
    long long t_end;
    unsigned failed = 0;

    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--clients")) nclients = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rate")) rate = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--seconds")) seconds = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--warmup")) warm = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--keys")) keys = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--token")) token = argv[i + 1];
        else if (!strcmp(argv[i], "--bootstrap")) bootstrap = argv[i + 1];
        else if (!strcmp(argv[i], "--topic")) topic = argv[i + 1];
        else if (!strcmp(argv[i], "--template")) tmpl_path = argv[i + 1];
    }
    if (!port || !bootstrap || !topic || !tmpl_path) {
        fprintf(stderr, "ws: --port --bootstrap --topic --template are required\n");
        return 2;
    }
    cl = calloc((size_t)nclients, sizeof(*cl));
    sec_hist = calloc(SEC_MAX, sizeof(*sec_hist));
    ep = epoll_create1(0);
    for (int i = 0; i < nclients; i++) {
        struct epoll_event ev = {.events = EPOLLIN};

        cl[i].fd = connect_to(port);
        ws_handshake(cl[i].fd, port, token);
        fcntl(cl[i].fd, F_SETFL, fcntl(cl[i].fd, F_GETFL) | O_NONBLOCK);
        cl[i].buf = malloc(RBUF);
        cl[i].open = true;
        ev.data.ptr = &cl[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
    }
    printf("clients_connected=%d\n", nclients);
    fflush(stdout);
    pa = (struct prod_args){bootstrap, topic, read_file(tmpl_path), rate, seconds + warm, keys};
    window_start = mono_us() + (long long)(warm * 1e6);
    window_end = window_start + (long long)(seconds * 1e6);
    pthread_create(&th, NULL, producer, &pa);
    t_end = window_end + 5000000; /* time for the tail to arrive */
    while (mono_us() < t_end) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);

        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;

            if (!c->open)
                continue;
            on_readable(c);
            if (!c->open) {
                failed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
        }
        if (atomic_load(&prod_end_us) && total_msgs >= (unsigned long long)atomic_load(&produced) *
                                                           (unsigned long long)nclients)
            break;
    }
    pthread_join(th, NULL);
    qsort(lags, n_lags, sizeof(*lags), cmp_u32);
    printf("produced=%lld\n", (long long)atomic_load(&produced));
    printf("expected=%lld\n", (long long)atomic_load(&produced) * nclients);
    printf("delivered=%llu\n", total_msgs);
    printf("window_seconds=%.1f\n", seconds);
    printf("window_msgs_per_s=%.0f\n", (double)window_msgs / seconds);
    printf("lag_p50_ms=%.2f\n", pct(lags, n_lags, 0.50) / 1000.0);
    printf("lag_p90_ms=%.2f\n", pct(lags, n_lags, 0.90) / 1000.0);
    printf("lag_p99_ms=%.2f\n", pct(lags, n_lags, 0.99) / 1000.0);
    printf("lag_max_ms=%.2f\n", n_lags ? lags[n_lags - 1] / 1000.0 : 0.0);
    printf("server_closes=%llu\n", closes);
    printf("per_second_p99_ms=");
    for (int sec = 0; sec < (int)seconds && sec < SEC_MAX; sec++) {
        unsigned long long tot = 0, acc = 0;
        int b = 0;

        for (int k = 0; k < HBUCKETS; k++)
            tot += sec_hist[sec][k];
        for (; b < HBUCKETS && tot; b++) {
            acc += sec_hist[sec][b];
            if (acc * 100 >= tot * 99)
                break;
        }
        printf("%s%d", sec ? "," : "", b);
    }
    printf("\n");
    printf("connections_lost=%u\n", failed);
    for (int i = 0; i < nclients; i++) {
        free(cl[i].buf);
        close(cl[i].fd);
    }
    return 0;
}

/* ---- http mode ----------------------------------------------------------------- */

static int http_get(int fd, const char *path, const char *token, size_t *bytes)
{
    static char buf[1 << 22];
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                     path, token);
    size_t got = 0, head = 0, clen = 0;
    int status = 0;

    if (send(fd, req, (size_t)n, 0) != n)
        return -1;
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof(buf) - got - 1, 0);
        char *e;

        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = '\0';
        if (!head && (e = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "content-length:");

            head = (size_t)(e - buf) + 4;
            status = (int)strtol(buf + 9, NULL, 10);
            clen = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        }
        if (head && got >= head + clen)
            break;
    }
    *bytes = clen;
    return status;
}

static int http_mode(int argc, char **argv)
{
    int port = 0, n = 1000, fd;
    const char *token = "";
    int first = 2;

    while (first + 1 < argc && !strncmp(argv[first], "--", 2)) {
        if (!strcmp(argv[first], "--port")) port = (int)strtol(argv[first + 1], NULL, 10);
        else if (!strcmp(argv[first], "--n")) n = (int)strtol(argv[first + 1], NULL, 10);
        else if (!strcmp(argv[first], "--token")) token = argv[first + 1];
        first += 2;
    }
    fd = connect_to(port);
    for (int p = first; p < argc; p++) {
        uint32_t *lat = calloc((size_t)n, sizeof(*lat));
        size_t bytes = 0;
        int st = 0;

        for (int i = 0; i < 50; i++) /* warm-up */
            st = http_get(fd, argv[p], token, &bytes);
        for (int i = 0; i < n; i++) {
            long long t0 = mono_us();

            st = http_get(fd, argv[p], token, &bytes);
            lat[i] = (uint32_t)(mono_us() - t0);
            if (st != 200) {
                fprintf(stderr, "GET %s -> %d\n", argv[p], st);
                return 1;
            }
        }
        qsort(lat, (size_t)n, sizeof(*lat), cmp_u32);
        printf("path=%s n=%d bytes=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", argv[p], n, bytes,
               pct(lat, (size_t)n, 0.5) / 1000.0, pct(lat, (size_t)n, 0.99) / 1000.0,
               lat[n - 1] / 1000.0);
        fflush(stdout);
        free(lat);
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "ws"))
        return ws_mode(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "http"))
        return http_mode(argc, argv);
    fprintf(stderr, "usage: %s ws|http [options]\n", argv[0]);
    return 2;
}
