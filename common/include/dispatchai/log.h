/* Levelled logging: one line per event on stderr (or a file), as text or JSON.
 * Messages are written as "what happened key=value key=value"; in JSON mode the
 * key=value pairs become fields. Registered secrets are masked in every line.
 * Thread-safe. */
#ifndef DISPATCHAI_LOG_H
#define DISPATCHAI_LOG_H

#include <dispatchai/err.h>
#include <stdbool.h>
#include <stddef.h>

enum dai_log_level { DAI_LOG_DEBUG = 0, DAI_LOG_INFO, DAI_LOG_WARN, DAI_LOG_ERROR };
enum dai_log_format { DAI_LOG_TEXT = 0, DAI_LOG_JSON };

/* Configure the log sink. level: debug|info|warn|error; format: text|json;
 * service: name written in every line (borrowed string literal); file: NULL or
 * "" for stderr, else a path opened in append mode (re-opened by dai_log_reopen).
 * Returns 0, DAI_EINVAL for a bad level/format, or -errno if the file cannot
 * be opened. May be called again to reconfigure. */
DAI_MUST_CHECK int dai_log_init(const char *service, const char *level, const char *format,
                                const char *file);

/* Parse "debug|info|warn|error" / "text|json"; 0 or DAI_EINVAL. */
DAI_MUST_CHECK int dai_log_parse_level(const char *s, enum dai_log_level *out);
DAI_MUST_CHECK int dai_log_parse_format(const char *s, enum dai_log_format *out);

bool dai_log_enabled(enum dai_log_level level);

/* Write one line. Never call from a signal handler. */
void dai_log(enum dai_log_level level, const char *fmt, ...) DAI_PRINTF(2, 3);

/* A value from outside (a request, a payload, a peer's message) made safe to
 * log as the value of one key=value field, so it can never end the field
 * early and add fields of its own (JSON mode splits fields at spaces): a
 * non-empty value without whitespace, control bytes, '"' or '\\' is copied
 * as it is; anything else is written "quoted" with '"' and '\\' escaped and
 * control bytes as \xHH, cut (between escapes) to fit out[n]. Log it as
 * key=%s, never inside quotes of your own. s NULL logs as "-". Returns out. */
const char *dai_log_value(char *out, size_t n, const char *s);
#define DAI_LOG_VALUE_MAX 256 /* a buffer size that fits most values */

/* Mask every later occurrence of this value (copied) in log lines with "***".
 * Values shorter than 4 bytes are ignored. For API keys, webhook secrets, tokens. */
void dai_log_add_secret(const char *secret);

/* Re-open the log file after rotation (SIGHUP). No-op when logging to stderr. */
void dai_log_reopen(void);

/* Release the sink and the secret list (at exit). */
void dai_log_shutdown(void);

#define DAI_DEBUG(...) \
    do { if (dai_log_enabled(DAI_LOG_DEBUG)) dai_log(DAI_LOG_DEBUG, __VA_ARGS__); } while (0)
#define DAI_INFO(...) dai_log(DAI_LOG_INFO, __VA_ARGS__)
#define DAI_WARN(...) dai_log(DAI_LOG_WARN, __VA_ARGS__)
#define DAI_ERROR(...) dai_log(DAI_LOG_ERROR, __VA_ARGS__)

#endif
