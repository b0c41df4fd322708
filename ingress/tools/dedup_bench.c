/* ingress-dedup-bench: what the delivery de-duplication table costs per
 * operation, on the ingress's own workload: GUID-shaped keys, a table held
 * at its capacity (each new delivery pushes the oldest out), and duplicate
 * lookups of recent GUIDs. It uses only the ing_dedup interface, so
 * scripts/bench-dedup can build it against an older dedup.c and compare.
 * Prints one line per measure: the median of the runs, in CPU ns per
 * operation. */
#include "window.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAPACITY 100000
#define INSERTS 200000 /* per run, after the table was filled */
#define LOOKUPS 1000000
#define RUNS 7

/* CPU time of this thread, not wall time: on a shared machine the wall
 * clock also counts the time other processes ran. */
static long long cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A GitHub delivery GUID looks like a UUID: 36 characters. */
static void make_guid(char out[37])
{
    uint64_t a = next_rand(), b = next_rand();

    snprintf(out, 37, "%08x-%04x-11f0-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a & 0xffff),
             (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffULL));
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return v[n / 2];
}

int main(void)
{
    size_t total = CAPACITY + (size_t)INSERTS * RUNS;
    char (*guids)[37] = malloc(total * sizeof(*guids));
    uint32_t *probe = malloc(LOOKUPS * sizeof(*probe));
    double ins[RUNS], hit[RUNS], miss[RUNS];
    struct ing_dedup *d = ing_dedup_new(CAPACITY, 1LL << 50);
    struct ing_dedup_entry *e;
    size_t next = 0;
    long long now = 1, t0;
    int rc;

    if (!guids || !probe || !d) {
        fprintf(stderr, "ingress-dedup-bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < total; i++)
        make_guid(guids[i]);
    for (; next < CAPACITY; next++) {
        rc = ing_dedup_claim(d, guids[next], now, &e);
        if (rc != ING_DEDUP_NEW)
            return 1;
        ing_dedup_commit(d, e, 0, (int64_t)next, now);
    }
    for (int r = 0; r < RUNS; r++) {
        /* Insert: claim a new GUID and acknowledge it; the oldest goes. */
        t0 = cpu_ns();
        for (int i = 0; i < INSERTS; i++, next++) {
            rc = ing_dedup_claim(d, guids[next], now, &e);
            if (rc != ING_DEDUP_NEW)
                return 1;
            ing_dedup_commit(d, e, 0, (int64_t)next, now);
        }
        ins[r] = (double)(cpu_ns() - t0) / INSERTS;
        /* Duplicate: a redelivery of a GUID still in the window. */
        for (int i = 0; i < LOOKUPS; i++)
            probe[i] = (uint32_t)(next - 1 - next_rand() % CAPACITY);
        t0 = cpu_ns();
        for (int i = 0; i < LOOKUPS; i++)
            if (ing_dedup_claim(d, guids[probe[i]], now, &e) != ING_DEDUP_DONE)
                return 1;
        hit[r] = (double)(cpu_ns() - t0) / LOOKUPS;
        /* Miss: an unknown GUID, claimed and then released (publish failed). */
        t0 = cpu_ns();
        for (int i = 0; i < LOOKUPS; i++) {
            size_t g = (size_t)(next_rand() % (size_t)CAPACITY); /* long forgotten */

            if (ing_dedup_claim(d, guids[g], now, &e) != ING_DEDUP_NEW)
                return 1;
            ing_dedup_release(d, e);
        }
        miss[r] = (double)(cpu_ns() - t0) / LOOKUPS;
    }
    printf("insert (claim new + commit, table full at %d): %.1f ns/op\n", CAPACITY,
           median(ins, RUNS));
    printf("duplicate lookup (claim of a known GUID):      %.1f ns/op\n", median(hit, RUNS));
    printf("unknown GUID (claim + release):                %.1f ns/op\n", median(miss, RUNS));
    ing_dedup_free(d);
    free(guids);
    free(probe);
    return 0;
}
