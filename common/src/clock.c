/* Wall and monotonic clocks, deadline arithmetic and RFC 3339 formatting. */
#include <dispatchai/clock.h>

#include <stdio.h>

void dai_rfc3339_ms(long long unix_ms, char out[32])
{
    long long secs = unix_ms / 1000;
    long long ms = unix_ms % 1000;
    time_t t;
    struct tm tm;

    if (ms < 0) { /* floor division so pre-1970 times stay correct */
        ms += 1000;
        secs -= 1;
    }
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, 32, "0000-00-00T00:00:00.000Z");
        return;
    }
    if (strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
        snprintf(out, 32, "0000-00-00T00:00:00.000Z");
        return;
    }
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

long long dai_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long dai_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int dai_ms_left(long long deadline_us)
{
    long long left = (deadline_us - dai_mono_us()) / 1000;

    return left < 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
}

void dai_realtime_after_ms(int ms, struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
