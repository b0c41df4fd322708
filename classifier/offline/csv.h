/* RFC 4180 CSV reader for the training tool: quoted fields may hold commas,
 * doubled quotes and newlines. Reads a whole file into memory and splits it
 * into rows of NUL-terminated fields. */
#ifndef DISPATCHAI_CLS_CSV_H
#define DISPATCHAI_CLS_CSV_H

#include <dispatchai/err.h>
#include <stddef.h>

struct cls_csv_row {
    char **field; /* borrowed from the table */
    size_t *len;
    size_t n;
};

struct cls_csv {
    char *buf;                /* all field bytes, unescaped, NUL-separated */
    char **fields;
    size_t *lens;
    struct cls_csv_row *rows; /* rows[0] is the header */
    size_t n_rows;
};

/* Parse len bytes of CSV text. 0, -ENOMEM, or DAI_EPARSE (unterminated quote,
 * stray quote) with the line number in err. On success *out owns its memory;
 * release it with cls_csv_free(). */
DAI_MUST_CHECK int cls_csv_parse(const char *text, size_t len, struct cls_csv *out, char *err,
                                 size_t errlen);
/* Read and parse a file; -errno on I/O errors, else as cls_csv_parse. */
DAI_MUST_CHECK int cls_csv_read_file(const char *path, struct cls_csv *out, char *err,
                                     size_t errlen);
/* Column index of name in the header row, or -1. */
int cls_csv_column(const struct cls_csv *csv, const char *name);
void cls_csv_free(struct cls_csv *csv);

#endif
