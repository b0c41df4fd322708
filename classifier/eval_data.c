/* The labelled data of `dispatchai-classifier eval`: a CSV file with a header
 * (title, label, and optionally body and repo) or JSON lines with the same
 * members, read whole into memory. The format follows the file's ending. */
#include "eval.h"
#include "offline/csv.h"

#include <dispatchai/json.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE (4u << 20)

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int load_csv(const char *path, struct cls_eval_data *out, char *err, size_t errlen)
{
    struct cls_csv *csv = calloc(1, sizeof(*csv));
    int title, label, body, repo, rc;

    if (!csv)
        return -ENOMEM;
    rc = cls_csv_read_file(path, csv, err, errlen);
    if (rc) {
        free(csv);
        return rc;
    }
    out->owner = csv;
    title = cls_csv_column(csv, "title");
    label = cls_csv_column(csv, "label");
    body = cls_csv_column(csv, "body");
    repo = cls_csv_column(csv, "repo");
    if (title < 0 || label < 0) {
        snprintf(err, errlen, "%s: the header needs the columns title and label (body and repo "
                 "are optional)", path);
        return DAI_ESCHEMA;
    }
    out->v = calloc(csv->n_rows ? csv->n_rows : 1, sizeof(*out->v));
    if (!out->v)
        return -ENOMEM;
    for (size_t r = 1; r < csv->n_rows; r++) {
        const struct cls_csv_row *row = &csv->rows[r];
        struct cls_eval_issue *is = &out->v[out->n];

        if (row->n == 1 && row->len[0] == 0)
            continue; /* a blank line */
        if ((size_t)title >= row->n || (size_t)label >= row->n || !row->len[label]) {
            snprintf(err, errlen, "%s: row %zu has no title or no label", path, r + 1);
            return DAI_ESCHEMA;
        }
        is->title = row->field[title];
        is->label = row->field[label];
        is->body = body >= 0 && (size_t)body < row->n ? row->field[body] : "";
        is->repo = repo >= 0 && (size_t)repo < row->n ? row->field[repo] : "";
        out->n++;
    }
    return 0;
}

static int load_jsonl(const char *path, struct cls_eval_data *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    json_t *all = json_array();
    char *line = NULL, perr[160];
    size_t cap = 0, lineno = 0, n_alloc = 0;
    ssize_t len;
    int rc = 0;

    if (!f || !all) {
        rc = f ? -ENOMEM : -errno;
        if (f)
            fclose(f);
        json_decref(all);
        return rc;
    }
    out->owner = all;
    out->owner_is_json = true;
    while ((len = getline(&line, &cap, f)) >= 0) {
        json_t *doc;
        const char *title, *label;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if ((size_t)len > MAX_LINE) {
            snprintf(err, errlen, "%s:%zu: a line may hold at most 4 MiB", path, lineno);
            rc = DAI_ETOOBIG;
            break;
        }
        doc = dai_json_parse(line, (size_t)len, perr, sizeof(perr));
        title = dai_json_str(doc, "title", NULL);
        label = dai_json_str(doc, "label", NULL);
        if (!doc || !title || !label || !*label) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno,
                     doc ? "needs the strings \"title\" and \"label\"" : perr);
            json_decref(doc);
            rc = doc ? DAI_ESCHEMA : DAI_EPARSE;
            break;
        }
        if (json_array_append_new(all, doc)) {
            rc = -ENOMEM;
            break;
        }
        if (out->n == n_alloc) {
            size_t ncap = n_alloc ? n_alloc * 2 : 256;
            struct cls_eval_issue *v = realloc(out->v, ncap * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            out->v = v;
            n_alloc = ncap;
        }
        /* the strings live in doc, which the array keeps alive */
        out->v[out->n++] = (struct cls_eval_issue){.title = title, .label = label,
                                                   .body = dai_json_str(doc, "body", ""),
                                                   .repo = dai_json_str(doc, "repo", "")};
    }
    if (!rc && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    return rc;
}

int cls_eval_data_load(const char *path, struct cls_eval_data *out, char *err, size_t errlen)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!path || !*path) {
        snprintf(err, errlen, "--data FILE.csv or FILE.jsonl is required");
        return DAI_EINVAL;
    }
    err[0] = '\0';
    rc = ends_with(path, ".csv") ? load_csv(path, out, err, errlen)
                                 : load_jsonl(path, out, err, errlen);
    if (!rc && out->n == 0) {
        snprintf(err, errlen, "%s: no labelled issues", path);
        rc = DAI_ESCHEMA;
    }
    if (rc) {
        if (!err[0])
            snprintf(err, errlen, "%s: %s", path, dai_strerror(rc));
        cls_eval_data_free(out);
    }
    return rc;
}

void cls_eval_data_free(struct cls_eval_data *d)
{
    if (!d)
        return;
    if (d->owner_is_json) {
        json_decref(d->owner);
    } else if (d->owner) {
        cls_csv_free(d->owner);
        free(d->owner);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}
