/* bench/common.c: see common.h. */
#include "common.h"

int echo(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

uint32_t chain(uint32_t h, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++) {
        h ^= h >> 13;
        h = h * 0x5bd1e995u + (uint32_t)i;
    }
    return h;
}
