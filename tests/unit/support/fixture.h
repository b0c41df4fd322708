/* Test support shared by the unit tests: GitHub payload fixtures and
 * temporary files holding a test's own input (config files, models). */
#ifndef DISPATCHAI_TEST_FIXTURE_H
#define DISPATCHAI_TEST_FIXTURE_H

#include <stddef.h>

/* Path of tests/fixtures/github/<name> (from this file's location, or
 * $DAI_FIXTURES_DIR) into out. */
void test_fixture_path(char *out, size_t n, const char *name);

/* The fixture's bytes, NUL-terminated (new, free()), length in *len; NULL if
 * it cannot be read. */
char *test_fixture_read(const char *name, size_t *len);

/* Write data to a new file /tmp/dai-test-<tag>-XXXXXX and put its path in
 * out (n >= 64). 0, or -1 if it cannot be created or written. The caller
 * unlinks it. */
int test_temp_file(char *out, size_t n, const char *tag, const void *data, size_t len);

#endif
