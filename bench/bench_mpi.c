/* bench_mpi.c: the MPI backend's cost, in the four workloads of
 * bench_process.c, run under mpiexec:
 *
 *     mpiexec -n 3 --mca pml ob1 bench/bench_mpi [options]
 *
 *   W1 throughput  200,000 tasks that return their integer argument: all
 *                  submitted, then every result collected and checked.
 *                  Figure: ns per task (wall time / tasks).
 *   W2 latency     one submit + result round trip, 20,000 in sequence on an
 *                  idle pool. Figures: median and p99 in microseconds.
 *   W3 scaling     the CPU-bound 2e7-step integer hash chain of
 *                  bench_threads.c over 8 items with 2 serving ranks.
 *                  Figure: speedup over the sequential loop, timed on rank 0
 *                  in the same run while the pool is open and idle (so the
 *                  serving ranks nap in their receive loop instead of
 *                  spinning in a collective).
 *   W4 large value a 1 MiB argument, its Adler-32 checksum returned, 500
 *                  round trips in sequence. Figures: median round trip (us),
 *                  and the checksum alone on rank 0, so the transport's
 *                  share is visible.
 *
 * Every rank runs main() and makes the same executor_new(EXECUTOR_MPI)
 * calls, one per workload and run (each workload gets a fresh executor, as
 * in bench_process.c, but the ranks already run: there is no start-up cost
 * to include); the serving ranks get NULL back and go on to the next call.
 * Only rank 0 prints. max_workers defaults to the serving ranks (N - 1).
 *
 * Usage: bench_mpi [--runs N] [--json] [--quick] [--w1-tasks N]
 *                  [--w2-trips N] [--w3-steps N] [--w3-items N]
 *                  [--w3-workers N] [--w4-bytes N] [--w4-trips N]
 * Every rank must get the same options. Prints the median and min-max of
 * each figure over the runs (default 5), or with --json one JSON object
 * holding every run's figures (the shape bench_process --json writes,
 * "impl": "cfut-mpi"). --quick shrinks everything to a smoke test. */
#define _GNU_SOURCE
#include <cfut.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "remote.h"

static long w1_tasks = 200000;
static long w2_trips = 20000;
static long w3_steps = 20000000;
static long w3_items = 8;
static int w3_workers = 2;
static long w4_bytes = 1 << 20;
static long w4_trips = 500;

static void die(const char *what, future_t *f, int st)
{
    fprintf(stderr, "bench_mpi: %s: %s%s%s\n", what, cfut_status_name(st),
            f && future_error_message(f) ? ": " : "",
            f && future_error_message(f) ? future_error_message(f) : "");
    exit(2);
}

/* Every rank: rank 0 gets the executor, the others serve and get NULL. */
static executor_t *pool(int max_workers)
{
    executor_options opts = {.max_workers = max_workers, .name_prefix = "bench"};
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_MPI, &opts);
    if (st != CFUT_OK)
        die("executor_new (run under mpiexec -n 3)", NULL, st);
    return ex;
}

static unsigned char *w4_buffer(size_t n)
{
    unsigned char *b = malloc(n);
    if (!b)
        die("malloc", NULL, CFUT_ENOMEM);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 2654435761u) >> 13);
    return b;
}

/* Each workload returns false on a serving rank (nothing measured). */

static bool w1_throughput(double *ns)
{
    executor_t *ex = pool(0);
    if (!ex)
        return false;
    future_t **fs = malloc((size_t)w1_tasks * sizeof *fs);
    if (!fs)
        die("malloc", NULL, CFUT_ENOMEM);
    double t0 = now();
    for (long i = 0; i < w1_tasks; i++) {
        int64_t v = i;
        fs[i] = executor_submit(ex, echo, &v, sizeof v);
    }
    for (long i = 0; i < w1_tasks; i++) {
        int64_t v = -1;
        int st = future_result_copy(fs[i], -1, &v, sizeof v);
        if (st != CFUT_OK)
            die("W1 result", fs[i], st);
        if (v != i) {
            fprintf(stderr, "bench_mpi: W1 task %ld returned %" PRId64 "\n", i, v);
            exit(2);
        }
        future_release(fs[i]);
    }
    double t1 = now();
    free(fs);
    executor_free(ex);
    *ns = (t1 - t0) * 1e9 / (double)w1_tasks;
    return true;
}

static bool w2_latency(double *median_us, double *p99_us)
{
    executor_t *ex = pool(0);
    if (!ex)
        return false;
    double *lat = malloc((size_t)w2_trips * sizeof *lat);
    if (!lat)
        die("malloc", NULL, CFUT_ENOMEM);
    long warm = w2_trips / 20 + 1;
    for (long i = -warm; i < w2_trips; i++) {
        int64_t v = i, r = 0;
        double t0 = now();
        future_t *f = executor_submit(ex, echo, &v, sizeof v);
        int st = future_result_copy(f, -1, &r, sizeof r);
        double t1 = now();
        if (st != CFUT_OK || r != v)
            die("W2 result", f, st != CFUT_OK ? st : CFUT_ESERIALIZE);
        future_release(f);
        if (i >= 0)
            lat[i] = (t1 - t0) * 1e6;
    }
    qsort(lat, (size_t)w2_trips, sizeof *lat, cmp_double);
    *median_us = quantile(lat, (size_t)w2_trips, 0.5);
    *p99_us = quantile(lat, (size_t)w2_trips, 0.99);
    free(lat);
    executor_free(ex);
    return true;
}

static bool w3_scaling(double *seq_s, double *pool_s, uint32_t *checksum)
{
    executor_t *ex = pool(w3_workers);
    if (!ex)
        return false;
    uint32_t *want = malloc((size_t)w3_items * sizeof *want);
    future_t **fs = malloc((size_t)w3_items * sizeof *fs);
    if (!want || !fs)
        die("malloc", NULL, CFUT_ENOMEM);

    /* The sequential loop, while the pool is open and idle. */
    double t0 = now();
    for (long i = 0; i < w3_items; i++)
        want[i] = chain((uint32_t)i + 1, (uint64_t)w3_steps);
    double t1 = now();

    double t2 = now();
    for (long i = 0; i < w3_items; i++) {
        struct chain_arg a;
        memset(&a, 0, sizeof a); /* its padding travels too: make it defined */
        a.steps = (uint64_t)w3_steps;
        a.seed = (uint32_t)i + 1;
        fs[i] = executor_submit(ex, chain_task, &a, sizeof a);
    }
    uint32_t sum = 0;
    for (long i = 0; i < w3_items; i++) {
        uint32_t h = 0;
        int st = future_result_copy(fs[i], -1, &h, sizeof h);
        if (st != CFUT_OK)
            die("W3 result", fs[i], st);
        if (h != want[i]) {
            fprintf(stderr, "bench_mpi: W3 item %ld: %" PRIu32 " vs %" PRIu32 "\n", i, h,
                    want[i]);
            exit(2);
        }
        sum ^= h;
        future_release(fs[i]);
    }
    double t3 = now();
    executor_free(ex);
    *seq_s = t1 - t0;
    *pool_s = t3 - t2;
    *checksum = sum;
    free(want);
    free(fs);
    return true;
}

static bool w4_large(double *median_us, double *local_us, uint32_t *checksum)
{
    executor_t *ex = pool(0);
    if (!ex)
        return false;
    size_t n = (size_t)w4_bytes;
    unsigned char *buf = w4_buffer(n);
    double *lat = malloc((size_t)w4_trips * sizeof *lat);
    if (!lat)
        die("malloc", NULL, CFUT_ENOMEM);

    uint32_t want = 0;
    for (long i = 0; i < w4_trips; i++) {
        double t0 = now();
        want = adler32_of(buf, n);
        lat[i] = (now() - t0) * 1e6;
    }
    *local_us = median_of(lat, (size_t)w4_trips);

    long warm = w4_trips / 20 + 1;
    for (long i = -warm; i < w4_trips; i++) {
        uint32_t c = 0;
        double t0 = now();
        future_t *f = executor_submit(ex, checksum_task, buf, n);
        int st = future_result_copy(f, -1, &c, sizeof c);
        double t1 = now();
        if (st != CFUT_OK || c != want)
            die("W4 result", f, st != CFUT_OK ? st : CFUT_ESERIALIZE);
        future_release(f);
        if (i >= 0)
            lat[i] = (t1 - t0) * 1e6;
    }
    *median_us = median_of(lat, (size_t)w4_trips);
    *checksum = want;
    executor_free(ex);
    free(lat);
    free(buf);
    return true;
}

struct run {
    double w1_ns, w2_med_us, w2_p99_us, w3_seq_s, w3_pool_s, w3_speedup;
    uint32_t w3_checksum;
    double w4_med_us, w4_local_us;
    uint32_t w4_checksum;
};

int main(int argc, char **argv)
{
    int runs = 5;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs"))
            runs = (int)arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick")) {
            w1_tasks = 2000;
            w2_trips = 200;
            w3_steps = 200000;
            w4_trips = 20;
            runs = 1;
        } else if (!strcmp(argv[i], "--w1-tasks"))
            w1_tasks = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w2-trips"))
            w2_trips = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w3-steps"))
            w3_steps = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w3-items"))
            w3_items = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w3-workers"))
            w3_workers = (int)arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w4-bytes"))
            w4_bytes = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w4-trips"))
            w4_trips = arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: mpiexec -n 3 %s [--runs N] [--json] [--quick]"
                    " [--w1-tasks N] [--w2-trips N] [--w3-steps N] [--w3-items N]"
                    " [--w3-workers N] [--w4-bytes N] [--w4-trips N]\n", argv[0]);
            return 2;
        }
    }

    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!r)
        die("calloc", NULL, CFUT_ENOMEM);
    bool serving = false;
    for (int k = 0; k < runs; k++) {
        /* A serving rank gets false from each and goes on to the next
         * executor_new, in step with rank 0. */
        serving |= !w1_throughput(&r[k].w1_ns);
        serving |= !w2_latency(&r[k].w2_med_us, &r[k].w2_p99_us);
        serving |= !w3_scaling(&r[k].w3_seq_s, &r[k].w3_pool_s, &r[k].w3_checksum);
        serving |= !w4_large(&r[k].w4_med_us, &r[k].w4_local_us, &r[k].w4_checksum);
        if (serving)
            continue;
        r[k].w3_speedup = r[k].w3_seq_s / r[k].w3_pool_s;
        if (!json)
            fprintf(stderr, "run %d: W1 %.0f ns/task, W2 %.1f/%.1f us, W3 x%.2f, W4 %.0f us\n",
                    k + 1, r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us, r[k].w3_speedup,
                    r[k].w4_med_us);
    }
    if (serving) {
        free(r);
        return 0;
    }

    if (json) {
        printf("{\"impl\": \"cfut-mpi\", \"version\": \"%s\", \"params\": "
               "{\"w1_tasks\": %ld, \"w2_trips\": %ld, \"w3_steps\": %ld, "
               "\"w3_items\": %ld, \"w3_workers\": %d, \"w4_bytes\": %ld, "
               "\"w4_trips\": %ld, \"w4_checksum\": \"adler32 (%s)\"}, \"runs\": [",
               cfut_version_string(), w1_tasks, w2_trips, w3_steps, w3_items, w3_workers,
               w4_bytes, w4_trips, adler_impl);
        for (int k = 0; k < runs; k++)
            printf("%s{\"w1_ns_per_task\": %.3f, \"w2_median_us\": %.3f, "
                   "\"w2_p99_us\": %.3f, \"w3_seq_s\": %.6f, \"w3_pool_s\": %.6f, "
                   "\"w3_speedup\": %.4f, \"w3_checksum\": %" PRIu32 ", "
                   "\"w4_median_us\": %.3f, \"w4_local_us\": %.3f, "
                   "\"w4_checksum\": %" PRIu32 "}",
                   k ? ", " : "", r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us, r[k].w3_seq_s,
                   r[k].w3_pool_s, r[k].w3_speedup, r[k].w3_checksum, r[k].w4_med_us,
                   r[k].w4_local_us, r[k].w4_checksum);
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            die("malloc", NULL, CFUT_ENOMEM);
        printf("cfut %s MPI backend, %d runs: median [min - max]\n"
               "  (W4 checksum: adler32, %s)\n", cfut_version_string(), runs, adler_impl);
#define FIG(expr, label, unit)                                                 \
    do {                                                                       \
        for (int k = 0; k < runs; k++)                                         \
            v[k] = r[k].expr;                                                  \
        summary(label, unit, v, runs);                                         \
    } while (0)
        FIG(w1_ns, "W1 throughput", "ns");
        FIG(w2_med_us, "W2 latency median", "us");
        FIG(w2_p99_us, "W2 latency p99", "us");
        FIG(w3_seq_s, "W3 sequential", "s");
        FIG(w3_pool_s, "W3 pool", "s");
        FIG(w3_speedup, "W3 speedup", "x");
        FIG(w4_med_us, "W4 1 MiB round trip", "us");
        FIG(w4_local_us, "W4 checksum alone", "us");
#undef FIG
        free(v);
    }
    free(r);
    return 0;
}
