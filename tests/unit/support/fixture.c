/* Reads GitHub payload fixtures for unit tests, so the tests that need real
 * payloads share one loader, and writes the temporary input files tests
 * hand to loaders that take a path. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void test_fixture_path(char *out, size_t n, const char *name)
{
    const char *dir = getenv("DAI_FIXTURES_DIR");
    const char *slash = strrchr(__FILE__, '/');

    if (dir)
        snprintf(out, n, "%s/%s", dir, name);
    else /* tests/unit/support/ → tests/fixtures/github/ */
        snprintf(out, n, "%.*s/../../fixtures/github/%s",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".", name);
}

char *test_fixture_read(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    char *buf = NULL;
    long n;

    test_fixture_path(path, sizeof(path), name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
out:
    fclose(f);
    return buf;
}

int test_temp_file(char *out, size_t n, const char *tag, const void *data, size_t len)
{
    int fd;
    ssize_t w;

    if (snprintf(out, n, "/tmp/dai-test-%s-XXXXXX", tag) >= (int)n)
        return -1;
    fd = mkstemp(out);
    if (fd < 0)
        return -1;
    w = write(fd, data, len);
    close(fd);
    if (w != (ssize_t)len) {
        unlink(out);
        return -1;
    }
    return 0;
}
