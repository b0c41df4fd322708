/* RFC 4180 CSV parsing for the offline classifier's training tool. Owns
 * quoting, escaped quotes, CRLF/LF line ends and multi-line fields; knows
 * nothing about what the columns mean (train.c does). */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 64;
    void *np;

    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap *= 2;
    np = realloc(*p, ncap * elem);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}

int cls_csv_parse(const char *text, size_t len, struct cls_csv *out, char *err, size_t errlen)
{
    size_t i = 0, o = 0, line = 1;
    size_t nf = 0, fcap = 0, nr = 0, rcap = 0;
    size_t *starts = NULL; /* field start offsets into buf, then converted */
    size_t *rowfirst = NULL;
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    /* Unescaping only shrinks, plus one NUL per field (at most len + 1). */
    out->buf = malloc(2 * len + 2);
    if (!out->buf)
        return -ENOMEM;
    while (i < len) {
        /* start of a row */
        if (grow((void **)&rowfirst, &rcap, nr + 2, sizeof(*rowfirst)))
            goto fail;
        rowfirst[nr++] = nf;
        for (;;) {
            if (grow((void **)&starts, &fcap, nf + 2, sizeof(*starts)))
                goto fail;
            starts[nf++] = o;
            if (i < len && text[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) {
                        snprintf(err, errlen, "unterminated quoted field (line %zu)", line);
                        rc = DAI_EPARSE;
                        goto fail;
                    }
                    if (text[i] == '"') {
                        if (i + 1 < len && text[i + 1] == '"') {
                            out->buf[o++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (text[i] == '\n')
                        line++;
                    out->buf[o++] = text[i++];
                }
                if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    snprintf(err, errlen, "garbage after closing quote (line %zu)", line);
                    rc = DAI_EPARSE;
                    goto fail;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"') {
                        snprintf(err, errlen, "stray quote in unquoted field (line %zu)", line);
                        rc = DAI_EPARSE;
                        goto fail;
                    }
                    out->buf[o++] = text[i++];
                }
            }
            out->buf[o++] = '\0';
            if (i < len && text[i] == ',') {
                i++;
                continue;
            }
            if (i < len && text[i] == '\r')
                i++;
            if (i < len && text[i] == '\n') {
                i++;
                line++;
            }
            break;
        }
    }
    out->fields = malloc((nf + 1) * sizeof(*out->fields));
    out->lens = malloc((nf + 1) * sizeof(*out->lens));
    out->rows = malloc((nr + 1) * sizeof(*out->rows));
    if (!out->fields || !out->lens || !out->rows)
        goto fail;
    for (size_t f = 0; f < nf; f++) {
        out->fields[f] = out->buf + starts[f];
        out->lens[f] = strlen(out->fields[f]);
    }
    for (size_t r = 0; r < nr; r++) {
        size_t end = r + 1 < nr ? rowfirst[r + 1] : nf;
        out->rows[r].field = out->fields + rowfirst[r];
        out->rows[r].len = out->lens + rowfirst[r];
        out->rows[r].n = end - rowfirst[r];
    }
    out->n_rows = nr;
    free(starts);
    free(rowfirst);
    return 0;
fail:
    free(starts);
    free(rowfirst);
    cls_csv_free(out);
    return rc;
}

int cls_csv_read_file(const char *path, struct cls_csv *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long sz;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    sz = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET)) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot size file", path);
        fclose(f);
        return rc;
    }
    text = malloc((size_t)sz + 1);
    if (!text) {
        fclose(f);
        return -ENOMEM;
    }
    if (fread(text, 1, (size_t)sz, f) != (size_t)sz) {
        snprintf(err, errlen, "%s: short read", path);
        free(text);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    rc = cls_csv_parse(text, (size_t)sz, out, err, errlen);
    free(text);
    return rc;
}

int cls_csv_column(const struct cls_csv *csv, const char *name)
{
    if (!csv->n_rows)
        return -1;
    for (size_t i = 0; i < csv->rows[0].n; i++)
        if (!strcmp(csv->rows[0].field[i], name))
            return (int)i;
    return -1;
}

void cls_csv_free(struct cls_csv *csv)
{
    if (!csv)
        return;
    free(csv->buf);
    free(csv->fields);
    free(csv->lens);
    free(csv->rows);
    memset(csv, 0, sizeof(*csv));
}
