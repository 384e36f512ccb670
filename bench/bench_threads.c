/* bench_threads.c: the thread pool's cost, in three workloads.
 *
 *   W1 throughput  200,000 tasks that return their integer argument: all
 *                  submitted, then every result collected and checked.
 *                  Figure: ns per task (wall time / tasks).
 *   W2 latency     one submit + result round trip, 20,000 in sequence on an
 *                  idle pool. Figures: median and p99 in microseconds.
 *   W3 scaling     a CPU-bound pure function (a 2e7-step integer hash chain)
 *                  over 8 items with 2 workers. Figure: speedup over the
 *                  sequential loop timed in the same run.
 *
 * W1 and W2 use the default pool size (min(32, cpus + 4), like Python's
 * ThreadPoolExecutor), or --threads N; each run makes fresh executors, so
 * worker start-up is included, as it is for the Python peer
 * (bench/peer_python.py) and the C peers (peer_glib.c, peer_uv.c,
 * peer_naive.c, which run as many threads).
 *
 * Usage: bench_threads [--runs N] [--json] [--quick] [--w1-tasks N]
 *                      [--w2-trips N] [--w3-steps N] [--w3-items N]
 *                      [--w3-workers N] [--w3-warm] [--threads N]
 * --w3-warm starts W3's workers before its clock starts (they meet at a
 * barrier, so that every one of them exists and runs), to show how much of
 * W3 is a fresh pool's start: bench/run does not use it, as the Python
 * peer's W3 includes its start-up too.
 * Prints the median and min-max of each figure over the runs (default 5), or
 * with --json one JSON object holding every run's figures, which bench/run
 * reads. --quick shrinks everything to a smoke test (used by meson test). */
#define _GNU_SOURCE
#include <cfut.h>

#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static long w1_tasks = 200000;
static long w2_trips = 20000;
static long w3_steps = 20000000;
static long w3_items = 8;
static int w3_workers = 2;
static bool w3_warm;
static int threads; /* W1 and W2; 0: the default */

static void die(const char *what, int st)
{
    fprintf(stderr, "bench_threads: %s: %s\n", what, cfut_status_name(st));
    exit(2);
}

/* The CPU-bound pure function. The same chain is in peer_python.py (there
 * masked to 32 bits), so both compute the same checksum. */
static int chain_task(cfut_task *t, const void *arg, size_t len)
{
    uint32_t seed;
    memcpy(&seed, arg, sizeof seed);
    uint32_t h = chain(seed, (uint64_t)w3_steps);
    return cfut_return(t, &h, sizeof h);
}

/* --w3-warm: each of W3's workers takes one of these, and none returns
 * before all have arrived. */
static atomic_int w3_arrived;

static int barrier_task(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    atomic_fetch_add(&w3_arrived, 1);
    while (atomic_load(&w3_arrived) < w3_workers)
        sched_yield();
    return cfut_return(t, NULL, 0);
}

static double w1_throughput(size_t *started)
{
    executor_options opts = {.max_workers = threads};
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_THREADS, &opts);
    if (st != CFUT_OK)
        die("executor_new", st);
    future_t **fs = malloc((size_t)w1_tasks * sizeof *fs);
    if (!fs)
        die("malloc", CFUT_ENOMEM);

    double t0 = now();
    for (long i = 0; i < w1_tasks; i++) {
        int64_t v = i;
        fs[i] = executor_submit(ex, echo, &v, sizeof v);
    }
    for (long i = 0; i < w1_tasks; i++) {
        int64_t v = -1;
        st = future_result_copy(fs[i], -1, &v, sizeof v);
        if (st != CFUT_OK)
            die("W1 result", st);
        if (v != i) {
            fprintf(stderr, "bench_threads: W1 task %ld returned %" PRId64 "\n", i, v);
            exit(2);
        }
        future_release(fs[i]);
    }
    double t1 = now();

    executor_stats s;
    executor_get_stats(ex, &s);
    *started = s.workers_started;
    free(fs);
    executor_free(ex);
    return (t1 - t0) * 1e9 / (double)w1_tasks;
}

static void w2_latency(double *median_us, double *p99_us)
{
    executor_options opts = {.max_workers = threads};
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_THREADS, &opts);
    if (st != CFUT_OK)
        die("executor_new", st);
    double *lat = malloc((size_t)w2_trips * sizeof *lat);
    if (!lat)
        die("malloc", CFUT_ENOMEM);

    long warm = w2_trips / 20 + 1;
    for (long i = -warm; i < w2_trips; i++) {
        int64_t v = i, r = 0;
        double t0 = now();
        future_t *f = executor_submit(ex, echo, &v, sizeof v);
        st = future_result_copy(f, -1, &r, sizeof r);
        double t1 = now();
        future_release(f);
        if (st != CFUT_OK || r != v)
            die("W2 result", st != CFUT_OK ? st : CFUT_ESERIALIZE);
        if (i >= 0)
            lat[i] = (t1 - t0) * 1e6;
    }
    qsort(lat, (size_t)w2_trips, sizeof *lat, cmp_double);
    *median_us = quantile(lat, (size_t)w2_trips, 0.5);
    *p99_us = quantile(lat, (size_t)w2_trips, 0.99);
    free(lat);
    executor_free(ex);
}

struct run {
    double w1_ns, w2_med_us, w2_p99_us;
    struct w3_figures w3;
    size_t w1_started;
};

static void w3_scaling(struct run *r)
{
    uint32_t *want = malloc((size_t)w3_items * sizeof *want);
    long nfs = w3_items > w3_workers ? w3_items : w3_workers; /* --w3-warm uses one each */
    future_t **fs = malloc((size_t)nfs * sizeof *fs);
    if (!want || !fs)
        die("malloc", CFUT_ENOMEM);

    double t0 = now();
    for (long i = 0; i < w3_items; i++)
        want[i] = chain((uint32_t)i + 1, (uint64_t)w3_steps);
    double t1 = now();

    executor_options opts = { .max_workers = w3_workers };
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_THREADS, &opts);
    if (st != CFUT_OK)
        die("executor_new", st);
    atomic_store(&w3_arrived, 0);
    for (int i = 0; w3_warm && i < w3_workers; i++)
        fs[i] = executor_submit(ex, barrier_task, NULL, 0);
    for (int i = 0; w3_warm && i < w3_workers; i++) {
        st = future_wait(fs[i], -1);
        if (st != CFUT_OK || future_status(fs[i]) != CFUT_OK)
            die("W3 warm-up", future_status(fs[i]));
        future_release(fs[i]);
    }
    double t2 = now();
    for (long i = 0; i < w3_items; i++) {
        uint32_t seed = (uint32_t)i + 1;
        fs[i] = executor_submit(ex, chain_task, &seed, sizeof seed);
    }
    uint32_t sum = 0;
    for (long i = 0; i < w3_items; i++) {
        uint32_t h = 0;
        st = future_result_copy(fs[i], -1, &h, sizeof h);
        if (st != CFUT_OK)
            die("W3 result", st);
        if (h != want[i]) {
            fprintf(stderr, "bench_threads: W3 item %ld: %" PRIu32 " vs %" PRIu32 "\n",
                    i, h, want[i]);
            exit(2);
        }
        sum ^= h;
        future_release(fs[i]);
    }
    double t3 = now();
    executor_free(ex);

    r->w3.seq_s = t1 - t0;
    r->w3.pool_s = t3 - t2;
    r->w3.checksum = sum;
    /* The same items without a pool: the ceiling, and a pool's shape. */
    w3_without_pool(&r->w3, false, w3_items, w3_workers, (uint64_t)w3_steps, want);
    free(want);
    free(fs);
}

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
        else if (!strcmp(argv[i], "--w3-warm"))
            w3_warm = true;
        else if (!strcmp(argv[i], "--threads"))
            threads = (int)arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--json] [--quick] [--w1-tasks N]"
                    " [--w2-trips N] [--w3-steps N] [--w3-items N] [--w3-workers N]"
                    " [--w3-warm] [--threads N]\n",
                    argv[0]);
            return 2;
        }
    }

    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!r)
        die("calloc", CFUT_ENOMEM);
    for (int k = 0; k < runs; k++) {
        r[k].w1_ns = w1_throughput(&r[k].w1_started);
        w2_latency(&r[k].w2_med_us, &r[k].w2_p99_us);
        w3_scaling(&r[k]);
        if (!json)
            fprintf(stderr, "run %d: W1 %.0f ns/task, W2 %.1f/%.1f us, W3 x%.2f (ceiling x%.2f)\n",
                    k + 1, r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us,
                    r[k].w3.speedup, r[k].w3.ceiling_speedup);
    }

    if (json) {
        printf("{\"impl\": \"cfut\", \"version\": \"%s\", \"params\": "
               "{\"w1_tasks\": %ld, \"w2_trips\": %ld, \"w3_steps\": %ld, "
               "\"w3_items\": %ld, \"w3_workers\": %d, \"threads\": %d}, \"runs\": [",
               cfut_version_string(), w1_tasks, w2_trips, w3_steps, w3_items,
               w3_workers, threads ? threads : default_threads());
        for (int k = 0; k < runs; k++) {
            printf("%s{\"w1_ns_per_task\": %.3f, \"w2_median_us\": %.3f, "
                   "\"w2_p99_us\": %.3f, ",
                   k ? ", " : "", r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us);
            w3_print_json(&r[k].w3);
            printf(", \"w1_workers_started\": %zu}", r[k].w1_started);
        }
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            die("malloc", CFUT_ENOMEM);
        printf("cfut %s thread pool, %d runs: median [min - max]\n",
               cfut_version_string(), runs);
#define FIG(field, label, unit)                                                \
    do {                                                                       \
        for (int k = 0; k < runs; k++)                                         \
            v[k] = r[k].field;                                                 \
        summary(label, unit, v, runs);                                         \
    } while (0)
        FIG(w1_ns, "W1 throughput", "ns");
        FIG(w2_med_us, "W2 latency median", "us");
        FIG(w2_p99_us, "W2 latency p99", "us");
        FIG(w3.seq_s, "W3 sequential", "s");
        FIG(w3.pool_s, "W3 pool", "s");
        FIG(w3.speedup, "W3 speedup", "x");
        FIG(w3.ceiling_speedup, "W3 ceiling: caller + 1 bare", "x");
        FIG(w3.shape_speedup, "W3 2 bare, caller waits", "x");
#undef FIG
        free(v);
    }
    free(r);
    return 0;
}
