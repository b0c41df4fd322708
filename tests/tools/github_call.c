/* github_call: drives the common GitHub client for the integration tests.
 * Configuration from the documented environment variables (GITHUB_API_URL,
 * GITHUB_APP_ID, ...); commands on stdin, one per line:
 *   METHOD PATH [JSON-BODY]   (GET POST PATCH DELETE; "If-None-Match: ETAG"
 *                             may follow the path as "PATH|ETAG")
 *   login
 *   sleep MS
 * One JSON line per command on stdout, then {"stats": ...}. Judging the
 * answers is the tests' job. */
#include <dispatchai/github.h>
#include <dispatchai/clock.h>
#include <dispatchai/log.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *env(const char *name, const char *def)
{
    const char *v = getenv(name);

    return (char *)(v ? v : def);
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);

    return v ? (int)strtol(v, NULL, 10) : def;
}

static void print(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    if (s)
        puts(s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static int parse_method(const char *s, enum dai_github_method *m)
{
    static const char *const names[] = {"GET", "POST", "PATCH", "DELETE"};

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (enum dai_github_method)i;
            return 0;
        }
    return -1;
}

int main(void)
{
    struct dai_github_config cfg = {
        .api_url = env("GITHUB_API_URL", "https://api.github.com"),
        .app_id = env("GITHUB_APP_ID", ""),
        .private_key_file = env("GITHUB_APP_PRIVATE_KEY_FILE", ""),
        .installation_id = env("GITHUB_APP_INSTALLATION_ID", ""),
        .token = env("GITHUB_TOKEN", ""),
        .write_interval_ms = env_int("GITHUB_WRITE_INTERVAL_MS", 1000),
        .timeout_ms = env_int("GITHUB_TIMEOUT_MS", 10000),
        .max_retries = env_int("GITHUB_MAX_RETRIES", 4),
        .max_rate_waits = env_int("GITHUB_MAX_RATE_WAITS", 6),
        .max_wait_ms = env_int("GITHUB_MAX_WAIT_MS", 3600000),
        .token_margin_ms = env_int("GITHUB_TOKEN_REFRESH_MARGIN_MS", 600000),
    };
    long long inst = strtoll(env("GITHUB_CALL_INSTALLATION", "0"), NULL, 10);
    struct dai_github *gh;
    struct dai_github_stats st;
    char err[512], line[8192];
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (dai_log_init("github_call", "info", "text", NULL) != 0)
        return 2;
    gh = dai_github_new(&cfg, NULL, err, sizeof(err));
    if (!gh) {
        fprintf(stderr, "github_call: %s\n", err);
        return 2;
    }
    while (fgets(line, sizeof(line), stdin)) {
        char *nl = strchr(line, '\n'), *path, *body, *etag;
        struct dai_github_response r = {0};
        enum dai_github_method m;
        long long t0 = dai_mono_us();

        if (nl)
            *nl = '\0';
        if (!line[0])
            continue;
        if (strncmp(line, "sleep ", 6) == 0) {
            usleep((useconds_t)strtol(line + 6, NULL, 10) * 1000);
            print(json_pack("{s:s}", "slept", line + 6));
            continue;
        }
        if (strcmp(line, "login") == 0) {
            char login[128] = "";
            rc = dai_github_login(gh, login, sizeof(login), err, sizeof(err));
            print(json_pack("{s:i,s:s,s:s}", "rc", rc, "login", login, "err", rc ? err : ""));
            continue;
        }
        path = strchr(line, ' ');
        if (!path)
            continue;
        *path++ = '\0';
        body = strchr(path, ' ');
        if (body)
            *body++ = '\0';
        etag = strchr(path, '|');
        if (etag)
            *etag++ = '\0';
        if (parse_method(line, &m)) {
            print(json_pack("{s:s}", "error", "bad method"));
            continue;
        }
        err[0] = '\0';
        rc = dai_github_request(gh, inst, m, path, body, etag, &r, err, sizeof(err));
        print(json_pack("{s:i,s:I,s:s,s:i,s:I,s:s,s:s%}", "rc", rc, "status", (json_int_t)r.status,
                        "etag", r.meta.etag, "waits", r.waits, "ms",
                        (json_int_t)((dai_mono_us() - t0) / 1000), "err", err, "body",
                        r.body.data ? r.body.data : "", r.body.len));
        dai_buf_free(&r.body);
    }
    dai_github_get_stats(gh, &st);
    print(json_pack("{s:{s:I,s:I,s:I,s:I}}", "stats", "requests", (json_int_t)st.requests,
                    "token_requests", (json_int_t)st.token_requests, "waits",
                    (json_int_t)st.waits, "errors", (json_int_t)st.errors));
    dai_github_free(gh);
    dai_log_shutdown();
    curl_global_cleanup();
    return 0;
}
