/* bench/remote.h: the tasks the process-pool and MPI benchmarks send to
 * their workers (bench_process.c, bench_mpi.c). */
#ifndef CFUT_BENCH_REMOTE_H
#define CFUT_BENCH_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "cfut.h"

/* W3: chain() over a seed; the steps travel with it, a worker's globals
 * being its own. */
struct chain_arg {
    uint64_t steps;
    uint32_t seed;
};
int chain_task(cfut_task *t, const void *arg, size_t len);

/* W4: Adler-32 (RFC 1950) of the argument, the checksum Python's
 * zlib.adler32 computes. With zlib (the usual build) it is the very function
 * Python's zlib module calls, so the workers of both sides do the same work
 * on the same bytes; without, a plain C version gives the same value, about
 * half as fast. adler_impl says which. */
extern const char adler_impl[];
uint32_t adler32_of(const unsigned char *p, size_t n);
int checksum_task(cfut_task *t, const void *arg, size_t len);

#endif
