/* The HTTP server on libmicrohttpd (0.9.75): the MHD daemon and its options,
 * per-request metrics families, quiesce and stop. Routing, authentication and
 * the access log belong to the daemons. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct dai_http_server *srv = cls;
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&srv->starting)) {
        /* Start-up failures are reported through err by dai_http_start
         * (the message is cut to fit). */
        memcpy(srv->start_err, msg, n < sizeof(srv->start_err) ? n + 1 : sizeof(srv->start_err));
        srv->start_err[sizeof(srv->start_err) - 1] = '\0';
        return;
    }
    /* MHD's messages at run time are about individual clients (malformed
     * requests, resets); interesting when debugging, noise otherwise. */
    DAI_DEBUG("http server message: %s", msg);
}

static int resolve_bind(const char *bind, int port, struct sockaddr_storage *ss, char *err,
                        size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(bind && *bind ? bind : NULL, NULL, &hints, &ai);
    if (rc || !ai) {
        snprintf(err, errlen, "http.bind %s: %s", bind ? bind : "", gai_strerror(rc));
        if (ai)
            freeaddrinfo(ai);
        return DAI_ECONFIG;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(ai);
    return 0;
}

struct dai_http_server *dai_http_start(const struct dai_http_options *opt, char *err,
                                       size_t errlen)
{
    struct dai_http_server *srv;
    struct sockaddr_storage ss;
    struct MHD_OptionItem ops[10];
    const union MHD_DaemonInfo *info;
    unsigned flags;
    size_t n = 0;

    if (!opt || opt->port < 0 || opt->port > 65535 || opt->threads < 0) {
        snprintf(err, errlen, "invalid HTTP server options");
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->opt = *opt;
    if (srv->opt.max_body == 0)
        srv->opt.max_body = DEFAULT_MAX_BODY;
    if (resolve_bind(opt->bind, opt->port, &ss, err, errlen))
        goto fail;
    if (opt->metrics) {
        srv->m_requests = dai_metric_counter(opt->metrics, "dai_http_requests_total",
                                             "HTTP requests by route and status", "route,status");
        srv->m_duration = dai_metric_histogram(
            opt->metrics, "dai_http_request_duration_seconds",
            "Time from request headers to completion", "route", dai_latency_buckets,
            dai_latency_buckets_n);
        srv->m_in_flight = dai_metric_gauge(opt->metrics, "dai_http_requests_in_flight",
                                            "Requests between headers and completion", NULL);
        srv->m_body_bytes = dai_metric_gauge(opt->metrics, "dai_http_body_bytes_in_flight",
                                             "Request body bytes admitted and not yet "
                                             "released (bounded by the body budget)", NULL);
        srv->m_body_refused = dai_metric_counter(opt->metrics, "dai_http_body_budget_refused_total",
                                                 "Requests answered 503 because their body did "
                                                 "not fit the body budget", NULL);
    }
    snprintf(srv->retry_after, sizeof(srv->retry_after), "%d",
             opt->busy_retry_after_s > 0 ? opt->busy_retry_after_s : 1);

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG;
    if (opt->allow_upgrade)
        flags |= MHD_ALLOW_UPGRADE;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                       (intptr_t)dai__http_on_completed, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv};
    if (opt->threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opt->threads, NULL};
    if (opt->max_connections > 0)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, opt->max_connections,
                                           NULL};
    if (opt->per_ip_connections > 0)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                           opt->per_ip_connections, NULL};
    if (opt->idle_timeout_ms > 0)
        /* MHD counts whole seconds; round up so a short timeout never becomes 0 (= none). */
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                           (opt->idle_timeout_ms + 999) / 1000, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    if (opt->request_timeout_ms > 0) {
        srv->dl = dai__http_dl_new(opt->request_timeout_ms, dai__http_on_body_timeout, srv, err,
                                   errlen);
        if (!srv->dl)
            goto fail;
    }
    atomic_store(&srv->starting, true);
    srv->d = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL, dai__http_on_access, srv,
                              MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    atomic_store(&srv->starting, false);
    if (!srv->d) {
        snprintf(err, errlen, "cannot start HTTP server on %s:%d: %s",
                 opt->bind ? opt->bind : "*", opt->port,
                 srv->start_err[0] ? srv->start_err : "libmicrohttpd refused the options");
        goto fail;
    }
    info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : opt->port;
    return srv;
fail:
    dai__http_dl_free(srv->dl);
    free(srv);
    return NULL;
}

int dai_http_port(const struct dai_http_server *srv)
{
    return srv ? srv->port : -1;
}

void dai_http_quiesce(struct dai_http_server *srv)
{
    MHD_socket fd;

    if (!srv || !srv->d)
        return;
    /* MHD hands the listening socket back; closing it now makes new
     * clients fail fast instead of waiting in the accept backlog. */
    fd = MHD_quiesce_daemon(srv->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

unsigned dai_http_in_flight(const struct dai_http_server *srv)
{
    return srv ? atomic_load(&((struct dai_http_server *)srv)->in_flight) : 0;
}

void dai_http_stop(struct dai_http_server *srv)
{
    static const char body[] =
        "{\"error\":{\"code\":\"shutting_down\",\"message\":\"the server is stopping\"}}";
    struct http_req *hr;

    if (!srv)
        return;
    /* Requests still suspended would make MHD_stop_daemon abort the
     * process. Answer them 503 here; their owners still call
     * dai_http_resume_with once, which then only releases the request. */
    pthread_mutex_lock(&dai__http_susp_mu);
    srv->stopping = true;
    while ((hr = srv->susp_head)) {
        dai__http_susp_unlink(srv, hr);
        hr->orphaned = true;
        hr->r.resumed_ = true;
        hr->r.pending_ = dai__http_build_response(JSON_CONTENT_TYPE, body, sizeof(body) - 1,
                                                  NULL, 0);
        hr->r.pending_status_ = MHD_HTTP_SERVICE_UNAVAILABLE;
        MHD_resume_connection(hr->r.conn);
    }
    pthread_mutex_unlock(&dai__http_susp_mu);
    /* The timeout thread touches connections: gone before MHD closes them. */
    dai__http_dl_free(srv->dl);
    srv->dl = NULL;
    MHD_stop_daemon(srv->d);
    free(srv);
}
