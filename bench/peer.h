/* bench/peer.h: the frame shared by the C peers of bench_threads.c (GLib's
 * GThreadPool, libuv's uv_queue_work, the naive pool of peer_naive.c). Each
 * peer says how to make its pool, run W1 on it and make one W2 round trip;
 * peer_main() does the rest as bench_threads does it: the same options, the
 * same clock, the same figures, the same text and JSON output, so that
 * bench/run and bench/report.py treat every program alike.
 *
 *   W1 throughput  `tasks` no-op tasks (each returns its integer argument):
 *                  all submitted, then every result collected and checked.
 *                  Figure: ns per task, timed around w1() (the pool is made
 *                  before the clock starts and freed after it stops, as
 *                  bench_threads makes its executor).
 *   W2 latency     one round trip of one no-op task, `trips` in sequence after
 *                  trips / 20 + 1 warm-up trips on the same pool. Figures:
 *                  median and p99 in microseconds.
 *
 * Both use `threads` worker threads: by default default_threads(), the size of
 * cfut's default pool that bench_threads uses. */
#ifndef CFUT_BENCH_PEER_H
#define CFUT_BENCH_PEER_H

#include <stdint.h>

#include "stats.h"

typedef struct peer {
    const char *impl;    /* the JSON "impl": "glib", "libuv", "naive" */
    const char *title;   /* what the text summary calls it */
    const char *version; /* the peer's version */
    /* A pool of `threads` workers (exits 2 when it cannot be made). */
    void *(*open)(int threads);
    /* W1 on the pool; exits 2 on a wrong or missing result. */
    void (*w1)(void *pool, long tasks);
    /* One round trip: submits the no-op task with argument v and returns its
     * result once collected. */
    int64_t (*trip)(void *pool, int64_t v);
    void (*close)(void *pool);
} peer;

/* Runs W1 and W2 as the command line says (bench_threads's options, with
 * --threads N) and prints the summary or the JSON line. Returns the exit
 * status. */
int peer_main(int argc, char **argv, const peer *p);
/* Prints "<program>: <what>" on stderr and exits 2. */
void peer_die(const char *what);

#endif
