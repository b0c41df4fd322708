/* Request paths and bodies for GitHub: one percent-encoded path segment (a
 * label name), the labels-add body and the comment body. Pure. */
#include <dispatchai/github.h>

#include <string.h>

int dai_github_append_segment(struct dai_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        unsigned char c = *p;
        /* RFC 3986 unreserved characters stay; everything else (spaces,
         * ':' in "priority: high", '/', UTF-8 bytes) is encoded. */
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = dai_buf_append(b, p, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = dai_buf_append(b, enc, 3);
        }
    }
    return rc;
}

int dai_github_labels_body(const char *const *labels, size_t n, struct dai_buf *b)
{
    int rc;

    dai_buf_reset(b);
    rc = dai_buf_append(b, "{\"labels\":[", 11);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = dai_buf_append(b, ",", 1);
        if (!rc)
            rc = dai_buf_append_jstr(b, labels[i]);
    }
    if (!rc)
        rc = dai_buf_append(b, "]}", 2);
    return rc;
}

int dai_github_comment_body(const char *text, struct dai_buf *b)
{
    int rc;

    dai_buf_reset(b);
    rc = dai_buf_append(b, "{\"body\":", 8);
    if (!rc)
        rc = dai_buf_append_jstr(b, text);
    if (!rc)
        rc = dai_buf_append(b, "}", 1);
    return rc;
}
