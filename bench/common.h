/* bench/common.h: what every benchmark program shares: the clock, the
 * workloads' task functions, statistics and argument parsing. */
#ifndef CFUT_BENCH_COMMON_H
#define CFUT_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cfut.h"

/* Monotonic seconds. */
double now(void);
/* W1/W2: a task returning its argument. */
int echo(cfut_task *t, const void *arg, size_t len);
/* W3: a fixed integer hash chain of `steps` steps (pure, CPU-bound). */
uint32_t chain(uint32_t h, uint64_t steps);
int cmp_double(const void *a, const void *b);
/* The q-quantile of sorted v[0..n). */
double quantile(const double *v, size_t n, double q);
/* Sorts v and returns its median. */
double median_of(double *v, size_t n);
/* Prints "label median unit [min - max]" (sorts v). */
void summary(const char *label, const char *unit, double *v, int n);
/* The positive integer after argv[*i] (advancing *i); exits 2 otherwise. */
long arg_long(int argc, char **argv, int *i);

#endif
