/* The capped growable byte buffer (see buf.h). Every failure leaves the
 * content as it was, NUL-terminated. */
#include <dispatchai/buf.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dai_buf_reserve(struct dai_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (extra > SIZE_MAX - 1 - b->len)
        return DAI_ETOOBIG;
    if (b->max && b->len + extra > b->max)
        return DAI_ETOOBIG;
    need = b->len + extra + 1; /* room for the terminating NUL */
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    /* Never allocate past the cap: a capped buffer holds at most max + NUL. */
    if (b->max && ncap > b->max + 1)
        ncap = b->max + 1;
    p = realloc(b->data, ncap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int dai_buf_append(struct dai_buf *b, const void *data, size_t len)
{
    int rc = dai_buf_reserve(b, len);

    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int dai_buf_appendf(struct dai_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    rc = dai_buf_reserve(b, 0);
    if (rc)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DAI_EINVAL;
    if ((size_t)n >= b->cap - b->len) {
        /* The first attempt may have written a truncated tail; the NUL at
         * the old length is restored on every failure path below. */
        b->data[b->len] = '\0';
        rc = dai_buf_reserve(b, (size_t)n);
        if (rc)
            return rc;
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->data[b->len] = '\0';
            return DAI_EINVAL;
        }
    }
    b->len += (size_t)n;
    return 0;
}

void dai_buf_reset(struct dai_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void dai_buf_free(struct dai_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *dai_buf_take(struct dai_buf *b)
{
    char *s = b->data;

    if (!s)
        return calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}
