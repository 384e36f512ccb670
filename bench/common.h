/* bench/common.h: what cfut's benchmark programs share: stats.h (the clock,
 * statistics, argument parsing) and the workloads' task functions. */
#ifndef CFUT_BENCH_COMMON_H
#define CFUT_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cfut.h"
#include "stats.h"

/* W1/W2: a task returning its argument. */
int echo(cfut_task *t, const void *arg, size_t len);
/* W3: a fixed integer hash chain of `steps` steps (pure, CPU-bound). */
uint32_t chain(uint32_t h, uint64_t steps);

#endif
