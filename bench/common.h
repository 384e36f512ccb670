/* bench/common.h: what cfut's benchmark programs share: stats.h (the clock,
 * statistics, argument parsing) and the workloads' task functions. */
#ifndef CFUT_BENCH_COMMON_H
#define CFUT_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfut.h"
#include "stats.h"

/* W1/W2: a task returning its argument. */
int echo(cfut_task *t, const void *arg, size_t len);
/* W3: a fixed integer hash chain of `steps` steps (pure, CPU-bound). */
uint32_t chain(uint32_t h, uint64_t steps);

/* W3 without a pool: chain(i + 1, steps) for i < items, the items split
 * over `workers` shares (item i in share i % workers) with no queue, each
 * share on a bare thread or forked process. Fills out[] and returns the wall
 * time in seconds, thread or fork start included, as a pool's W3 counts its
 * start.
 * - caller_computes: the calling thread computes share 0, so there are
 *   only as many threads as CPUs (a thread made while the caller runs goes
 *   to the idle CPU). The ceiling: the most two CPUs give this work here.
 * - otherwise `workers` threads or children compute while the caller waits
 *   for them: a pool's shape (three threads, two of them new, on two CPUs),
 *   without a pool. Linux sometimes starts both new threads on one CPU and
 *   moves one only milliseconds later; this figure pays for that as a
 *   pool does. */
double chain_bare_threads(long items, int workers, bool caller_computes, uint64_t steps,
                          uint32_t *out);
double chain_bare_processes(long items, int workers, bool caller_computes, uint64_t steps,
                            uint32_t *out);

/* One W3 run's figures: times in seconds, speedups over the sequential
 * loop. */
struct w3_figures {
    double seq_s, pool_s, speedup;
    double ceiling_s, ceiling_speedup, shape_s, shape_speedup;
    uint32_t checksum;
};

/* Completes w, whose seq_s, pool_s and checksum the caller measured: times
 * the same items without a pool, both ways above (threads, or with
 * `processes` forked children), checks their results against want[], and
 * computes the speedups. */
void w3_without_pool(struct w3_figures *w, bool processes, long items, int workers,
                     uint64_t steps, const uint32_t *want);

/* W3's part of a run's JSON object: "w3_seq_s": ..., "w3_checksum": N (no
 * comma before or after). */
void w3_print_json(const struct w3_figures *w);

#endif
