/* Configuration: one option table per daemon, filled in four passes —
 * built-in defaults < libconfig file < environment variables < command-line
 * flags — followed by one validation step. Each daemon's config struct starts
 * with `struct dai_common_config common;` and its option table starts with
 * DAI_COMMON_OPTS(its struct), so the Kafka/log settings are named and
 * documented once.
 *
 * Keys are dotted paths ("kafka.bootstrap_servers"); in the file they are
 * nested groups (kafka = { bootstrap_servers = "..."; };), on the command line
 * --kafka.bootstrap_servers=VALUE (or --kafka.bootstrap_servers VALUE).
 * Errors name the key and where the bad value came from (file:line, env VAR or
 * --flag). */
#ifndef DISPATCHAI_CONFIG_H
#define DISPATCHAI_CONFIG_H

#include <dispatchai/err.h>
#include <stdbool.h>
#include <stddef.h>

enum dai_opt_type {
    DAI_OPT_STR,      /* char * (new, freed by dai_config_free) */
    DAI_OPT_INT,      /* int */
    DAI_OPT_BOOL,     /* bool: true/false/yes/no/on/off/1/0; a bare --flag means true */
    DAI_OPT_SIZE,     /* size_t: 123, 64KiB, 25MiB, 1GiB */
    DAI_OPT_DOUBLE,   /* double */
    DAI_OPT_MS,       /* int milliseconds: 250, 250ms, 10s, 2m */
    DAI_OPT_STRLIST   /* struct dai_strlist: file list/array, env and CLI comma-separated */
};

enum {
    DAI_OPT_SECRET = 1u << 0,   /* masked by --print-config; registered with the log masker */
    DAI_OPT_CLI_ONLY = 1u << 1, /* not read from the file (modes such as --offline) */
};

struct dai_strlist {
    char **v; /* new strings */
    size_t n;
};

struct dai_opt {
    const char *key;     /* dotted file/CLI key */
    const char *env;     /* environment variable or NULL */
    const char *cli;     /* extra CLI alias without dashes (e.g. "insecure-skip-signature") or NULL */
    enum dai_opt_type type;
    const char *def;     /* default as text (NULL = unset/empty) */
    size_t offset;       /* offsetof(target struct, field) */
    double min, max;     /* numeric bounds when min < max */
    unsigned flags;
    const char *help;    /* one line for --help and docs */
};

/* A librdkafka property passed through as kafka.producer.<name> / kafka.consumer.<name>.
 * In the file use a group with '_' for '.': kafka = { producer = { linger_ms = 5; }; }; */
struct dai_kv {
    char *key;
    char *value;
};
struct dai_kvlist {
    struct dai_kv *v;
    size_t n;
};

struct dai_common_config {
    char *kafka_bootstrap;      /* kafka.bootstrap_servers / KAFKA_BOOTSTRAP_SERVERS */
    char *topic_raw;            /* kafka.topic_raw / KAFKA_TOPIC_RAW_ISSUES */
    char *topic_enriched;       /* kafka.topic_enriched / KAFKA_TOPIC_ENRICHED_ISSUES */
    char *topic_dlq;            /* kafka.topic_dlq / KAFKA_TOPIC_DLQ */
    int topic_partitions;       /* kafka.topic_partitions (3) */
    int topic_replication;      /* kafka.topic_replication (1) */
    bool ensure_topics;         /* kafka.ensure_topics (true) */
    int kafka_stats_interval_ms;/* kafka.statistics_interval_ms (5000, 0 = off) */
    char *log_level;            /* log.level / LOG_LEVEL */
    char *log_format;           /* log.format / LOG_FORMAT */
    char *log_file;             /* log.file / LOG_FILE ("" = stderr) */
    char *http_bind;            /* http.bind (0.0.0.0) */
    int http_port;              /* http.port (daemon-specific default and env) */
    int http_threads;           /* http.threads */
    int http_max_connections;   /* http.max_connections */
    int http_per_ip_connections;/* http.per_ip_connections (0 = unlimited) */
    int http_idle_timeout_ms;   /* http.idle_timeout */
    int http_request_timeout_ms;/* http.request_timeout */
    int shutdown_timeout_ms;    /* shutdown_timeout (bounded drain on SIGTERM) */
    struct dai_kvlist producer_props; /* kafka.producer.* */
    struct dai_kvlist consumer_props; /* kafka.consumer.* */
    /* Set by the loader, not options: */
    char *config_file;          /* file actually read, or NULL */
    const char *program;        /* e.g. "ingress" (borrowed from the spec) */
};

#define DAI_OPT_OFF(type, field) offsetof(type, field)

/* The options every daemon has. http.port's default and env differ per daemon,
 * so the daemon lists http.port itself. */
#define DAI_COMMON_OPTS(T)                                                                        \
    {"kafka.bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", NULL, DAI_OPT_STR, "127.0.0.1:19092", \
     offsetof(T, common.kafka_bootstrap), 0, 0, 0, "Kafka bootstrap servers (host:port,...)"},   \
    {"kafka.topic_raw", "KAFKA_TOPIC_RAW_ISSUES", NULL, DAI_OPT_STR, "issues.raw",                \
     offsetof(T, common.topic_raw), 0, 0, 0, "Topic of normalised raw events"},                   \
    {"kafka.topic_enriched", "KAFKA_TOPIC_ENRICHED_ISSUES", NULL, DAI_OPT_STR, "issues.enriched", \
     offsetof(T, common.topic_enriched), 0, 0, 0, "Topic of classified events"},                  \
    {"kafka.topic_dlq", "KAFKA_TOPIC_DLQ", NULL, DAI_OPT_STR, "issues.raw.dlq",                   \
     offsetof(T, common.topic_dlq), 0, 0, 0, "Dead-letter topic for unprocessable raw events"},   \
    {"kafka.topic_partitions", "KAFKA_TOPIC_PARTITIONS", NULL, DAI_OPT_INT, "3",                  \
     offsetof(T, common.topic_partitions), 1, 10000, 0, "Partitions for topics created at start"},\
    {"kafka.topic_replication", "KAFKA_TOPIC_REPLICATION", NULL, DAI_OPT_INT, "1",                \
     offsetof(T, common.topic_replication), 1, 10, 0, "Replication factor for created topics"},   \
    {"kafka.ensure_topics", "KAFKA_ENSURE_TOPICS", NULL, DAI_OPT_BOOL, "true",                    \
     offsetof(T, common.ensure_topics), 0, 0, 0, "Create missing topics at start"},               \
    {"kafka.statistics_interval", "KAFKA_STATISTICS_INTERVAL", NULL, DAI_OPT_MS, "5s",            \
     offsetof(T, common.kafka_stats_interval_ms), 0, 3600000, 0,                                  \
     "librdkafka statistics period exposed as metrics (0 = off)"},                                \
    {"log.level", "LOG_LEVEL", NULL, DAI_OPT_STR, "info", offsetof(T, common.log_level), 0, 0, 0,\
     "debug, info, warn or error"},                                                               \
    {"log.format", "LOG_FORMAT", NULL, DAI_OPT_STR, "text", offsetof(T, common.log_format), 0, 0, \
     0, "text or json"},                                                                          \
    {"log.file", "LOG_FILE", NULL, DAI_OPT_STR, "", offsetof(T, common.log_file), 0, 0, 0,        \
     "Log to this file instead of stderr (re-opened on SIGHUP)"},                                 \
    {"http.bind", "HTTP_BIND", NULL, DAI_OPT_STR, "0.0.0.0", offsetof(T, common.http_bind), 0, 0, \
     0, "Address the HTTP server listens on"},                                                    \
    {"http.threads", "HTTP_THREADS", NULL, DAI_OPT_INT, "2", offsetof(T, common.http_threads), 1, \
     64, 0, "HTTP server threads"},                                                               \
    {"http.max_connections", "HTTP_MAX_CONNECTIONS", NULL, DAI_OPT_INT, "4096",                   \
     offsetof(T, common.http_max_connections), 1, 1000000, 0, "Concurrent connection limit"},     \
    {"http.per_ip_connections", "HTTP_PER_IP_CONNECTIONS", NULL, DAI_OPT_INT, "0",                \
     offsetof(T, common.http_per_ip_connections), 0, 1000000, 0,                                  \
     "Concurrent connections per client address (0 = unlimited)"},                                \
    {"http.idle_timeout", "HTTP_IDLE_TIMEOUT", NULL, DAI_OPT_MS, "30s",                           \
     offsetof(T, common.http_idle_timeout_ms), 1000, 3600000, 0,                                  \
     "Close connections idle for this long"},                                                     \
    {"http.request_timeout", "HTTP_REQUEST_TIMEOUT", NULL, DAI_OPT_MS, "30s",                     \
     offsetof(T, common.http_request_timeout_ms), 1000, 600000, 0,                                \
     "A request body still incomplete this long after its headers: 408, connection closed"},     \
    {"shutdown_timeout", "SHUTDOWN_TIMEOUT", NULL, DAI_OPT_MS, "10s",                             \
     offsetof(T, common.shutdown_timeout_ms), 0, 600000, 0,                                       \
     "Bound on the drain at SIGTERM/SIGINT"}

struct dai_config_spec {
    const char *program;          /* "ingress", "classifier", "gateway" */
    const char *summary;          /* one line for --help */
    const struct dai_opt *opts;
    size_t n_opts;
    /* Dotted paths of structured sections the daemon reads itself through
     * dai_config_doc_each (e.g. "teams"); the loader skips them instead of
     * rejecting them as unknown keys. kafka.producer/kafka.consumer are
     * always allowed. */
    const char *const *sections;
    size_t n_sections;
};

struct dai_config_doc; /* the parsed file, kept for daemon-specific structured sections */

enum { DAI_CONFIG_RUN = 0, DAI_CONFIG_EXITED = 1 };

/* Load the configuration into target (a zeroed struct that starts with
 * struct dai_common_config). The file is --config PATH, else env
 * DISPATCHAI_CONFIG, else ./config/<program>.conf if it exists, else none.
 * Handles --help, --version and --print-config itself (prints to stdout and
 * returns DAI_CONFIG_EXITED). Returns DAI_CONFIG_RUN, or DAI_ECONFIG with a
 * message naming the key and its source in err. On success *doc (if doc is
 * not NULL) receives the parsed file (new; dai_config_doc_free) or NULL.
 * On any other result target is already freed (dai_config_free is a no-op). */
DAI_MUST_CHECK int dai_config_load(const struct dai_config_spec *spec, void *target, int argc,
                                   char **argv, struct dai_config_doc **doc, char *err,
                                   size_t errlen);

/* Free everything dai_config_load allocated in target. */
void dai_config_free(const struct dai_config_spec *spec, void *target);
void dai_config_doc_free(struct dai_config_doc *doc);

/* Parse helpers shared with daemons' structured sections (0 or DAI_EINVAL). */
DAI_MUST_CHECK int dai_parse_size(const char *s, size_t *out);
DAI_MUST_CHECK int dai_parse_ms(const char *s, int *out);
DAI_MUST_CHECK int dai_parse_bool(const char *s, bool *out);
/* A whole decimal int / finite real, surrounding blanks allowed. */
DAI_MUST_CHECK int dai_parse_int(const char *s, int *out);
DAI_MUST_CHECK int dai_parse_double(const char *s, double *out);

/* Daemon-specific structured sections (lists of groups such as teams or API
 * tokens). Visits each element of the list or group at `path` in the file;
 * the callback gets an accessor for that element. Returns 0 (also when the
 * path is absent or doc is NULL), the callback's non-zero result, or
 * DAI_ECONFIG with "file:line: path: message" in err. */
struct dai_config_elem;
typedef int (*dai_config_elem_fn)(const struct dai_config_elem *el, size_t index, void *ud,
                                  char *err, size_t errlen);
DAI_MUST_CHECK int dai_config_doc_each(const struct dai_config_doc *doc, const char *path,
                                       dai_config_elem_fn fn, void *ud, char *err,
                                       size_t errlen);
/* Accessors on one element: a string member (borrowed until the doc is freed;
 * NULL if absent or not a string), a string list member (new strlist; empty if
 * absent; DAI_ECONFIG if not a list of strings), and "file:line" for messages.
 * A NULL name means the element itself (for lists of plain strings). */
const char *dai_config_elem_str(const struct dai_config_elem *el, const char *name);
DAI_MUST_CHECK int dai_config_elem_strlist(const struct dai_config_elem *el, const char *name,
                                           struct dai_strlist *out);
const char *dai_config_elem_where(const struct dai_config_elem *el); /* static buffer per thread */

void dai_strlist_free(struct dai_strlist *l);
/* Append a copy of s[0..len): 0 or -ENOMEM. */
DAI_MUST_CHECK int dai_strlist_push(struct dai_strlist *l, const char *s, size_t len);
/* Split "a,b , c" into a new strlist (trimmed, empty items dropped). */
DAI_MUST_CHECK int dai_strlist_split(const char *csv, char sep, struct dai_strlist *out);

#endif
