/* Fuzz config-file parsing: the input is written to an in-memory file and
 * loaded through the full option table machinery (every option type, a
 * structured section and the Kafka pass-through groups). */
#include <dispatchai/config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int sink; /* results are input-dependent; crashes matter */

struct fuzz_cfg {
    struct dai_common_config common;
    int port;
    size_t max_body;
    bool flag;
    double ratio;
    struct dai_strlist secrets;
};

static const struct dai_opt opts[] = {
    DAI_COMMON_OPTS(struct fuzz_cfg),
    {"http.port", NULL, NULL, DAI_OPT_INT, "8000", offsetof(struct fuzz_cfg, port), 1, 65535, 0,
     "port"},
    {"webhook.max_body", NULL, NULL, DAI_OPT_SIZE, "25MiB", offsetof(struct fuzz_cfg, max_body),
     0, 0, 0, "cap"},
    {"webhook.flag", NULL, NULL, DAI_OPT_BOOL, "false", offsetof(struct fuzz_cfg, flag), 0, 0, 0,
     "flag"},
    {"webhook.ratio", NULL, NULL, DAI_OPT_DOUBLE, "0.5", offsetof(struct fuzz_cfg, ratio), 0, 1,
     0, "ratio"},
    {"webhook.secrets", NULL, NULL, DAI_OPT_STRLIST, NULL, offsetof(struct fuzz_cfg, secrets), 0,
     0, DAI_OPT_SECRET, "secrets"},
};

static int visit(const struct dai_config_elem *el, size_t index, void *ud, char *err,
                 size_t errlen)
{
    struct dai_strlist l = {0};
    (void)index, (void)ud, (void)err, (void)errlen;
    (void)dai_config_elem_str(el, "name");
    if (dai_config_elem_strlist(el, "keywords", &l) == 0)
        dai_strlist_free(&l);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const sections[] = {"teams"};
    const struct dai_config_spec spec = {"fuzz", "fuzz target", opts,
                                         sizeof(opts) / sizeof(opts[0]), sections, 1};
    struct fuzz_cfg cfg;
    struct dai_config_doc *doc = NULL;
    char path[64], err[512];
    char *argv[] = {"fuzz", "--config", path, NULL};
    int fd = memfd_create("fuzz-config", 0);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    memset(&cfg, 0, sizeof(cfg));
    if (dai_config_load(&spec, &cfg, 3, argv, &doc, err, sizeof(err)) == DAI_CONFIG_RUN) {
        sink = dai_config_doc_each(doc, "teams", visit, NULL, err, sizeof(err));
        dai_config_doc_free(doc);
        dai_config_free(&spec, &cfg);
    }
    close(fd);
    return 0;
}
