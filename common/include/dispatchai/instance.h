/* A name for one running process: "<prefix>-<hostname>-<pid>-<12 hex random
 * digits>". Unique even where every container has the same hostname
 * (compose pins it) and the same pid (each is pid 1 in its namespace). Used
 * for Kafka ids that must differ between instances. Leaf: depends on nothing
 * of ours. */
#ifndef DISPATCHAI_INSTANCE_H
#define DISPATCHAI_INSTANCE_H

#include <stddef.h>

/* Write the name into out (n bytes, truncated to fit, always terminated).
 * Never fails: without a random source the random part comes from the
 * clock. */
void dai_instance_name(const char *prefix, char *out, size_t n);

#endif
