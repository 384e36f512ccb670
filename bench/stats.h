/* bench/stats.h: what every benchmark program shares, cfut's and its C
 * peers' alike: the clock, statistics and argument parsing. Nothing here
 * depends on cfut, so the peers (peer_glib.c, peer_uv.c, peer_naive.c) link
 * it without the library. */
#ifndef CFUT_BENCH_STATS_H
#define CFUT_BENCH_STATS_H

#include <stddef.h>

/* Monotonic seconds. */
double now(void);
int cmp_double(const void *a, const void *b);
/* The q-quantile of sorted v[0..n), nearest rank. */
double quantile(const double *v, size_t n, double q);
/* Sorts v and returns its median. */
double median_of(double *v, size_t n);
/* Prints "label median unit [min - max]" (sorts v). */
void summary(const char *label, const char *unit, double *v, int n);
/* The positive integer after argv[*i] (advancing *i); exits 2 otherwise. */
long arg_long(int argc, char **argv, int *i);
/* cfut's default thread-pool size, min(32, cpus + 4) with the CPUs of the
 * affinity mask (include/cfut/executor.h): the C peers run as many threads,
 * so W1 and W2 compare pools of the same size. */
int default_threads(void);

#endif
