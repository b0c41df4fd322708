/* The process's hash seed, seeded XXH3, and the stable FNV-1a (see hash.h). */
#include <dispatchai/hash.h>

#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/*---- seeded -------------------------------------------------------------*/

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static uint64_t process_seed;

static void seed_init(void)
{
    uint64_t s = 0;
    struct timespec ts;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s) && s)
        goto done;
    /* No entropy yet (very early boot) or no getrandom: a weaker seed from
     * the clock, the pid and an address still differs per process. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = XXH3_64bits_withSeed(&ts, sizeof(ts), (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&ts);
done:
    process_seed = s;
}

uint64_t dai_hash_seed(void)
{
    pthread_once(&seed_once, seed_init);
    return process_seed;
}

uint64_t dai_hash64(const void *p, size_t n)
{
    return XXH3_64bits_withSeed(p, n, dai_hash_seed());
}

uint64_t dai_hash64_more(uint64_t h, const void *p, size_t n)
{
    return XXH3_64bits_withSeed(p, n, h);
}

/*---- stable -------------------------------------------------------------*/

uint64_t dai_fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = dai_fnv64_byte(h, s[i]);
    return h;
}
