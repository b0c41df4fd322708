/* Instance names: hostname and pid make the name readable in broker tools,
 * the random part makes it unique. */
#include <dispatchai/instance.h>

#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void dai_instance_name(const char *prefix, char *out, size_t n)
{
    char host[64] = "host";
    uint64_t rnd = 0;

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        rnd = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
              ((uint64_t)getpid() << 32);
    }
    snprintf(out, n, "%s-%s-%d-%012llx", prefix, host, (int)getpid(),
             (unsigned long long)(rnd & 0xffffffffffffULL));
}
