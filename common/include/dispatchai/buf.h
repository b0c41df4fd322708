/* A growable byte buffer with a hard size cap, for building responses, log
 * lines and Kafka payloads without guessing sizes up front. A leaf: it
 * depends on the C library and the project's result codes only. */
#ifndef DISPATCHAI_BUF_H
#define DISPATCHAI_BUF_H

#include <dispatchai/err.h>
#include <stddef.h>

/* max == 0 means no cap. The data is always NUL-terminated after a
 * successful append. Zero-initialise to start; set max before the first
 * append to cap it (curl's dynbuf "toobig"). */
struct dai_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/* Make room for extra more bytes (plus the NUL). 0, -ENOMEM or DAI_ETOOBIG;
 * on failure the content is unchanged. */
DAI_MUST_CHECK int dai_buf_reserve(struct dai_buf *b, size_t extra);
DAI_MUST_CHECK int dai_buf_append(struct dai_buf *b, const void *data, size_t len);
DAI_MUST_CHECK int dai_buf_appendf(struct dai_buf *b, const char *fmt, ...) DAI_PRINTF(2, 3);
void dai_buf_reset(struct dai_buf *b); /* len = 0, keeps memory */
void dai_buf_free(struct dai_buf *b);  /* frees memory, keeps max */
char *dai_buf_take(struct dai_buf *b); /* new string (caller frees); the buffer is emptied */

#endif
