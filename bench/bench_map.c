/* bench_map.c: mapping over arrays, in chunks, on both pools.
 *
 *   W1-map    200,000 no-op items (the task returns its integer argument)
 *             through executor_map(), every result checked. Figure: ns per
 *             item. On threads and on processes, with chunksize 1000 (as the
 *             Python peers in bench/peer_map.py) and 0 (cfut's own choice,
 *             min(4096, max(1, n / (4 * workers)))).
 *   map_call  executor_map_call(ex, (cfut_fn)sqrt, "d:d", ...) over
 *             10,000,000 doubles, on threads and on processes, next to the
 *             plain loop `y[i] = sqrt(x[i])` timed in the same run, results
 *             compared bit for bit. Figures: ns per item; loop / pool.
 *
 * Pools have their default size (threads: min(32, cpus + 4); processes:
 * cpus, start method forkserver) and are warm: each run makes fresh pools
 * and maps a few small chunks through them before the clock starts, so
 * what is timed is the map, not the workers' start. The Python peer does the
 * same (multiprocessing.Pool starts its workers in its constructor).
 *
 * Usage: bench_map [--runs N] [--json] [--quick] [--items N] [--chunksize N]
 *                  [--call-n N]
 * Prints the median and min-max of each figure over the runs (default 5), or
 * with --json one JSON object holding every run's figures (impl "cfut-map";
 * the keys w1map_threads_ns and w1map_processes_ns are the ones
 * peer_map.py prints for its pools). --quick shrinks everything to a smoke
 * test (used by meson test). */
#define _GNU_SOURCE
#include <cfut.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static long items = 200000;
static long chunk = 1000;
static long call_n = 10000000;

static void die(const char *what, int st)
{
    fprintf(stderr, "bench_map: %s: %s\n", what, cfut_status_name(st));
    exit(2);
}

static executor_t *warm_pool(executor_kind kind)
{
    executor_t *ex;
    int st = executor_new(&ex, kind, NULL);
    if (st != CFUT_OK)
        die("executor_new", st);
    int64_t in[64], out[64];
    for (int i = 0; i < 64; i++)
        in[i] = i;
    cfut_map_options o = {.chunksize = 1};
    st = executor_map(ex, echo, in, 64, sizeof *in, out, sizeof *out, NULL, &o);
    if (st != CFUT_OK)
        die("warm-up map", st);
    return ex;
}

/* ns per item of one executor_map over in[0..items) with chunksize cs. */
static double w1map(executor_t *ex, const int64_t *in, int64_t *out, size_t cs)
{
    memset(out, 0xff, (size_t)items * sizeof *out);
    cfut_map_options o = {.chunksize = cs};
    double t0 = now();
    int st = executor_map(ex, echo, in, (size_t)items, sizeof *in, out, sizeof *out, NULL, &o);
    double t1 = now();
    if (st != CFUT_OK)
        die("W1-map", st);
    for (long i = 0; i < items; i++)
        if (out[i] != i) {
            fprintf(stderr, "bench_map: W1-map item %ld returned %" PRId64 "\n", i, out[i]);
            exit(2);
        }
    return (t1 - t0) * 1e9 / (double)items;
}

/* ns per item of executor_map_call(sqrt) over x, checked against want. */
static double map_call(executor_t *ex, const double *x, double *y, const double *want)
{
    memset(y, 0, (size_t)call_n * sizeof *y);
    const void *in[] = {x};
    double t0 = now();
    int st = executor_map_call(ex, (cfut_fn)sqrt, "d:d", (size_t)call_n, y, in, NULL, NULL);
    double t1 = now();
    if (st != CFUT_OK)
        die("map_call", st);
    if (memcmp(y, want, (size_t)call_n * sizeof *y) != 0) {
        fprintf(stderr, "bench_map: map_call results differ from the loop's\n");
        exit(2);
    }
    return (t1 - t0) * 1e9 / (double)call_n;
}

struct run {
    double thr, thr_auto, proc, proc_auto;  /* W1-map ns/item */
    double loop, call_thr, call_proc;       /* map_call ns/item */
};

int main(int argc, char **argv)
{
    int runs = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs"))
            runs = (int)arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick"))
            items = 2000, call_n = 20000, runs = 1;
        else if (!strcmp(argv[i], "--items"))
            items = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--chunksize"))
            chunk = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--call-n"))
            call_n = arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--json] [--quick] [--items N]"
                    " [--chunksize N] [--call-n N]\n", argv[0]);
            return 2;
        }
    }

    int64_t *in = malloc((size_t)items * sizeof *in), *out = malloc((size_t)items * sizeof *out);
    double *x = malloc((size_t)call_n * sizeof *x), *y = malloc((size_t)call_n * sizeof *y);
    double *want = malloc((size_t)call_n * sizeof *want);
    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!in || !out || !x || !y || !want || !r)
        die("malloc", CFUT_ENOMEM);
    for (long i = 0; i < items; i++)
        in[i] = i;
    for (long i = 0; i < call_n; i++)
        x[i] = (double)i * 0.5;

    for (int k = 0; k < runs; k++) {
        executor_t *ex = warm_pool(EXECUTOR_THREADS);
        r[k].thr = w1map(ex, in, out, (size_t)chunk);
        r[k].thr_auto = w1map(ex, in, out, 0);
        executor_free(ex);
        ex = warm_pool(EXECUTOR_PROCESSES);
        r[k].proc = w1map(ex, in, out, (size_t)chunk);
        r[k].proc_auto = w1map(ex, in, out, 0);
        executor_free(ex);

        memset(want, 0, (size_t)call_n * sizeof *want);
        double t0 = now();
        for (long i = 0; i < call_n; i++)
            want[i] = sqrt(x[i]);
        r[k].loop = (now() - t0) * 1e9 / (double)call_n;
        ex = warm_pool(EXECUTOR_THREADS);
        r[k].call_thr = map_call(ex, x, y, want);
        executor_free(ex);
        ex = warm_pool(EXECUTOR_PROCESSES);
        r[k].call_proc = map_call(ex, x, y, want);
        executor_free(ex);
        if (!json)
            fprintf(stderr, "run %d: W1-map %.0f/%.0f ns/item (threads/processes), "
                    "sqrt %.1f/%.1f/%.1f ns/item (loop/threads/processes)\n", k + 1,
                    r[k].thr, r[k].proc, r[k].loop, r[k].call_thr, r[k].call_proc);
    }

    if (json) {
        printf("{\"impl\": \"cfut-map\", \"version\": \"%s\", \"params\": {\"w1map_items\": "
               "%ld, \"w1map_chunksize\": %ld, \"map_call_n\": %ld, \"map_call_fn\": "
               "\"sqrt\"}, \"runs\": [", cfut_version_string(), items, chunk, call_n);
        for (int k = 0; k < runs; k++)
            printf("%s{\"w1map_threads_ns\": %.3f, \"w1map_threads_auto_ns\": %.3f, "
                   "\"w1map_processes_ns\": %.3f, \"w1map_processes_auto_ns\": %.3f, "
                   "\"map_call_loop_ns\": %.3f, \"map_call_threads_ns\": %.3f, "
                   "\"map_call_processes_ns\": %.3f}", k ? ", " : "", r[k].thr,
                   r[k].thr_auto, r[k].proc, r[k].proc_auto, r[k].loop, r[k].call_thr,
                   r[k].call_proc);
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            die("malloc", CFUT_ENOMEM);
        printf("cfut %s map, %d runs: median [min - max]\n", cfut_version_string(), runs);
        char label[64];
#define FIG(expr, text, unit)                                                  \
    do {                                                                       \
        for (int k = 0; k < runs; k++)                                         \
            v[k] = (expr);                                                     \
        summary(text, unit, v, runs);                                          \
    } while (0)
        snprintf(label, sizeof label, "W1-map threads, chunksize %ld", chunk);
        FIG(r[k].thr, label, "ns/item");
        FIG(r[k].thr_auto, "W1-map threads, chunksize 0 (auto)", "ns/item");
        snprintf(label, sizeof label, "W1-map processes, chunksize %ld", chunk);
        FIG(r[k].proc, label, "ns/item");
        FIG(r[k].proc_auto, "W1-map processes, chunksize 0 (auto)", "ns/item");
        FIG(r[k].loop, "sqrt: the plain loop", "ns/item");
        FIG(r[k].call_thr, "sqrt: executor_map_call, threads", "ns/item");
        FIG(r[k].call_proc, "sqrt: executor_map_call, processes", "ns/item");
        FIG(r[k].call_thr / r[k].loop, "sqrt: threads / loop", "x");
        FIG(r[k].call_proc / r[k].loop, "sqrt: processes / loop", "x");
#undef FIG
        free(v);
    }
    free(in);
    free(out);
    free(x);
    free(y);
    free(want);
    free(r);
    return 0;
}
