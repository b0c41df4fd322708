/* Clocks and RFC 3339 timestamps. A leaf: depends on the C library only. */
#ifndef DISPATCHAI_CLOCK_H
#define DISPATCHAI_CLOCK_H

#include <time.h>

long long dai_now_ms(void);  /* wall clock, ms since epoch */
long long dai_mono_us(void); /* monotonic clock, microseconds */

/* Milliseconds from now until a dai_mono_us() deadline, clamped to 0..1 h
 * (a timeout argument for librdkafka and poll). */
int dai_ms_left(long long deadline_us);

/* The CLOCK_REALTIME instant ms milliseconds from now, as
 * pthread_cond_timedwait wants its deadline. */
void dai_realtime_after_ms(int ms, struct timespec *ts);

/* Format a UNIX time in milliseconds as RFC 3339 UTC ("2026-11-29T10:00:00.123Z").
 * out must hold 32 bytes. Years outside 0..9999 give "0000-00-00T00:00:00.000Z". */
void dai_rfc3339_ms(long long unix_ms, char out[32]);

#endif
