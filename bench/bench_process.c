/* bench_process.c: the process pool's cost, in five workloads.
 *
 *   W1 throughput  200,000 tasks that return their integer argument: all
 *                  submitted, then every result collected and checked.
 *                  Figure: ns per task (wall time / tasks).
 *   W2 latency     one submit + result round trip, 20,000 in sequence on an
 *                  idle pool. Figures: median and p99 in microseconds.
 *   W3 scaling     a CPU-bound pure function (the 2e7-step integer hash chain
 *                  of bench_threads.c) over 8 items with 2 workers. Figure:
 *                  speedup over the sequential loop timed in the same run.
 *   W4 large value a 1 MiB argument, its Adler-32 checksum returned, 500
 *                  round trips in sequence. Figures: median round trip (us),
 *                  and the checksum alone in the caller, so the transport's
 *                  share is visible.
 *   W5 start       what a worker costs to start, per start method: "cold" is
 *                  executor_new(1 worker) + one round trip + executor_free;
 *                  "replace" is one round trip on a pool with
 *                  max_tasks_per_worker = 1 (a new worker for every task).
 *
 * W1 to W4 use the default start method (forkserver). W1, W2 and W4 use the
 * default pool size (cpus); each run makes fresh executors, so worker
 * start-up is included, as it is for the Python peer (bench/peer_python.py
 * --pool processes).
 *
 * Worker processes do not see what main() did to globals (forkserver and
 * spawn workers start from a fresh program image), so every parameter a task
 * needs travels in its argument.
 *
 * Usage: bench_process [--runs N] [--json] [--quick] [--w1-tasks N]
 *                      [--w2-trips N] [--w3-steps N] [--w3-items N]
 *                      [--w3-workers N] [--w3-warm] [--w4-bytes N]
 *                      [--w4-trips N] [--w5-reps N]
 * --w3-warm starts W3's workers before its clock starts (one 1-step chain
 * each), to show how much of W3 is worker start-up; bench/run does not use
 * it, as the Python peer's W3 includes its start-up too.
 * Prints the median and min-max of each figure over the runs (default 5), or
 * with --json one JSON object holding every run's figures, which bench/run
 * reads. --quick shrinks everything to a smoke test (used by meson test). */
#define _GNU_SOURCE
#include <cfut.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "remote.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif

static long w1_tasks = 200000;
static long w2_trips = 20000;
static long w3_steps = 20000000;
static long w3_items = 8;
static int w3_workers = 2;
static bool w3_warm;
static long w4_bytes = 1 << 20;
static long w4_trips = 500;
static long w5_reps = 20;

static void die(const char *what, future_t *f, int st)
{
    fprintf(stderr, "bench_process: %s: %s%s%s\n", what, cfut_status_name(st),
            f && future_error_message(f) ? ": " : "",
            f && future_error_message(f) ? future_error_message(f) : "");
    exit(2);
}

static executor_t *pool(int max_workers, executor_start start, unsigned max_tasks)
{
    executor_options opts = {
        .max_workers = max_workers,
        .start = start,
        .max_tasks_per_worker = max_tasks,
        .name_prefix = "bench",
    };
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_PROCESSES, &opts);
    if (st != CFUT_OK)
        die("executor_new", NULL, st);
    return ex;
}

/* The W4 buffer: the same bytes as peer_python.py's w4_buffer(). */
static unsigned char *w4_buffer(size_t n)
{
    unsigned char *b = malloc(n);
    if (!b)
        die("malloc", NULL, CFUT_ENOMEM);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 2654435761u) >> 13);
    return b;
}

static double w1_throughput(void)
{
    executor_t *ex = pool(0, EXECUTOR_START_DEFAULT, 0);
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
            fprintf(stderr, "bench_process: W1 task %ld returned %" PRId64 "\n", i, v);
            exit(2);
        }
        future_release(fs[i]);
    }
    double t1 = now();

    free(fs);
    executor_free(ex);
    return (t1 - t0) * 1e9 / (double)w1_tasks;
}

static void w2_latency(double *median_us, double *p99_us)
{
    executor_t *ex = pool(0, EXECUTOR_START_DEFAULT, 0);
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
}

static const executor_start w5_methods[] = {
    EXECUTOR_START_FORKSERVER, EXECUTOR_START_FORK, EXECUTOR_START_SPAWN,
};
static const char *const w5_names[] = {"forkserver", "fork", "spawn"};
enum { W5_METHODS = 3 };

struct run {
    double w1_ns, w2_med_us, w2_p99_us;
    struct w3_figures w3;
    double w4_med_us, w4_local_us;
    uint32_t w4_checksum;
    double w5_cold_ms[W5_METHODS], w5_replace_ms[W5_METHODS];
};

static void w3_scaling(struct run *r)
{
    uint32_t *want = malloc((size_t)w3_items * sizeof *want);
    long nfs = w3_items > w3_workers ? w3_items : w3_workers; /* --w3-warm uses one each */
    future_t **fs = malloc((size_t)nfs * sizeof *fs);
    if (!want || !fs)
        die("malloc", NULL, CFUT_ENOMEM);

    double t0 = now();
    for (long i = 0; i < w3_items; i++)
        want[i] = chain((uint32_t)i + 1, (uint64_t)w3_steps);
    double t1 = now();

    executor_t *ex = pool(w3_workers, EXECUTOR_START_DEFAULT, 0);
    struct chain_arg one = {.steps = 1}; /* its padding is zero too */
    for (int i = 0; w3_warm && i < w3_workers; i++)
        fs[i] = executor_submit(ex, chain_task, &one, sizeof one);
    for (int i = 0; w3_warm && i < w3_workers; i++) {
        int st = future_wait(fs[i], -1);
        if (st != CFUT_OK || future_status(fs[i]) != CFUT_OK)
            die("W3 warm-up", fs[i], future_status(fs[i]));
        future_release(fs[i]);
    }
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
            fprintf(stderr, "bench_process: W3 item %ld: %" PRIu32 " vs %" PRIu32 "\n",
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
    w3_without_pool(&r->w3, true, w3_items, w3_workers, (uint64_t)w3_steps, want);
    free(want);
    free(fs);
}

static void w4_large(double *median_us, double *local_us, uint32_t *checksum)
{
    size_t n = (size_t)w4_bytes;
    unsigned char *buf = w4_buffer(n);
    double *lat = malloc((size_t)w4_trips * sizeof *lat);
    if (!lat)
        die("malloc", NULL, CFUT_ENOMEM);

    /* The checksum alone, here: what the worker spends of each round trip. */
    uint32_t want = 0;
    for (long i = 0; i < w4_trips; i++) {
        double t0 = now();
        want = adler32_of(buf, n);
        lat[i] = (now() - t0) * 1e6;
    }
    *local_us = median_of(lat, (size_t)w4_trips);

    executor_t *ex = pool(0, EXECUTOR_START_DEFAULT, 0);
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
}

/* One round trip of echo on ex, checked. */
static void round_trip(executor_t *ex, const char *what)
{
    int64_t v = 7, r = 0;
    future_t *f = executor_submit(ex, echo, &v, sizeof v);
    int st = future_result_copy(f, -1, &r, sizeof r);
    if (st != CFUT_OK || r != v)
        die(what, f, st != CFUT_OK ? st : CFUT_ESERIALIZE);
    future_release(f);
}

/* Workers made by fork and spawn are this process's children, and the pool
 * sees them exit through pidfds. Where pidfd_open() is missing (valgrind
 * 3.19, kernels before 5.3, some seccomp profiles) this version of the pool
 * never sees such a worker exit, and a pool that replaces workers waits for
 * ever: those start methods are skipped there rather than hang. */
static bool have_pidfd(void)
{
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    if (fd >= 0) {
        close((int)fd);
        return true;
    }
#endif
    return false;
}

static bool w5_skipped(int m)
{
    static int pidfds = -1;
    if (pidfds < 0)
        pidfds = have_pidfd();
    if (!pidfds && w5_methods[m] != EXECUTOR_START_FORKSERVER)
        return true;
#ifdef TSAN
    return w5_methods[m] == EXECUTOR_START_FORK; /* TSan cannot follow it */
#else
    return false;
#endif
}

/* Start costs of method m: cold pool to first result, and one worker
 * replacement (max_tasks_per_worker = 1), medians in milliseconds. */
static void w5_start(int m, double *cold_ms, double *replace_ms)
{
    double *v = malloc((size_t)w5_reps * sizeof *v);
    if (!v)
        die("malloc", NULL, CFUT_ENOMEM);
    for (long i = 0; i < w5_reps; i++) {
        double t0 = now();
        executor_t *ex = pool(1, w5_methods[m], 0);
        round_trip(ex, "W5 cold");
        executor_free(ex);
        v[i] = (now() - t0) * 1e3;
    }
    *cold_ms = median_of(v, (size_t)w5_reps);

    executor_t *ex = pool(1, w5_methods[m], 1);
    round_trip(ex, "W5 replace"); /* the forkserver, if any, is up */
    for (long i = 0; i < w5_reps; i++) {
        double t0 = now();
        round_trip(ex, "W5 replace");
        v[i] = (now() - t0) * 1e3;
    }
    *replace_ms = median_of(v, (size_t)w5_reps);
    executor_stats s;
    executor_get_stats(ex, &s);
    if (s.workers_started < (size_t)w5_reps + 1) {
        fprintf(stderr, "bench_process: W5 %s: %zu workers for %ld tasks\n", w5_names[m],
                s.workers_started, w5_reps + 1);
        exit(2);
    }
    executor_free(ex);
    free(v);
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
            w4_trips = 20;
            w5_reps = 2;
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
        else if (!strcmp(argv[i], "--w4-bytes"))
            w4_bytes = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w4-trips"))
            w4_trips = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w5-reps"))
            w5_reps = arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--json] [--quick] [--w1-tasks N]"
                    " [--w2-trips N] [--w3-steps N] [--w3-items N] [--w3-workers N]"
                    " [--w3-warm] [--w4-bytes N] [--w4-trips N] [--w5-reps N]\n", argv[0]);
            return 2;
        }
    }

    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!r)
        die("calloc", NULL, CFUT_ENOMEM);
    for (int m = 0; m < W5_METHODS; m++)
        if (w5_skipped(m))
            fprintf(stderr, "bench_process: W5 %s skipped (%s)\n", w5_names[m],
                    have_pidfd() ? "ThreadSanitizer cannot follow a fork"
                                 : "no pidfd_open() here");
    for (int k = 0; k < runs; k++) {
        r[k].w1_ns = w1_throughput();
        w2_latency(&r[k].w2_med_us, &r[k].w2_p99_us);
        w3_scaling(&r[k]);
        w4_large(&r[k].w4_med_us, &r[k].w4_local_us, &r[k].w4_checksum);
        for (int m = 0; m < W5_METHODS; m++)
            if (!w5_skipped(m))
                w5_start(m, &r[k].w5_cold_ms[m], &r[k].w5_replace_ms[m]);
        if (!json)
            fprintf(stderr, "run %d: W1 %.0f ns/task, W2 %.1f/%.1f us, W3 x%.2f (ceiling "
                    "x%.2f), W4 %.0f us, W5 cold %.2f/%.2f/%.2f ms\n", k + 1, r[k].w1_ns,
                    r[k].w2_med_us, r[k].w2_p99_us, r[k].w3.speedup,
                    r[k].w3.ceiling_speedup, r[k].w4_med_us, r[k].w5_cold_ms[0],
                    r[k].w5_cold_ms[1], r[k].w5_cold_ms[2]);
    }

    if (json) {
        printf("{\"impl\": \"cfut-processes\", \"version\": \"%s\", \"params\": "
               "{\"w1_tasks\": %ld, \"w2_trips\": %ld, \"w3_steps\": %ld, "
               "\"w3_items\": %ld, \"w3_workers\": %d, \"w4_bytes\": %ld, "
               "\"w4_trips\": %ld, \"w4_checksum\": \"adler32 (%s)\", \"w5_reps\": %ld, "
               "\"start\": \"forkserver\"}, \"runs\": [",
               cfut_version_string(), w1_tasks, w2_trips, w3_steps, w3_items,
               w3_workers, w4_bytes, w4_trips, adler_impl, w5_reps);
        for (int k = 0; k < runs; k++) {
            printf("%s{\"w1_ns_per_task\": %.3f, \"w2_median_us\": %.3f, "
                   "\"w2_p99_us\": %.3f, ",
                   k ? ", " : "", r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us);
            w3_print_json(&r[k].w3);
            printf(", \"w4_median_us\": %.3f, \"w4_local_us\": %.3f, "
                   "\"w4_checksum\": %" PRIu32,
                   r[k].w4_med_us, r[k].w4_local_us, r[k].w4_checksum);
            for (int m = 0; m < W5_METHODS; m++)
                if (!w5_skipped(m))
                    printf(", \"w5_cold_ms_%s\": %.4f, \"w5_replace_ms_%s\": %.4f",
                           w5_names[m], r[k].w5_cold_ms[m], w5_names[m],
                           r[k].w5_replace_ms[m]);
            printf("}");
        }
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            die("malloc", NULL, CFUT_ENOMEM);
        printf("cfut %s process pool (forkserver), %d runs: median [min - max]\n"
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
        FIG(w3.seq_s, "W3 sequential", "s");
        FIG(w3.pool_s, "W3 pool", "s");
        FIG(w3.speedup, "W3 speedup", "x");
        FIG(w3.ceiling_speedup, "W3 ceiling: caller + 1 bare", "x");
        FIG(w3.shape_speedup, "W3 2 bare, caller waits", "x");
        FIG(w4_med_us, "W4 1 MiB round trip", "us");
        FIG(w4_local_us, "W4 checksum alone", "us");
        for (int m = 0; m < W5_METHODS; m++) {
            if (w5_skipped(m))
                continue;
            char label[64];
            snprintf(label, sizeof label, "W5 %s cold start", w5_names[m]);
            FIG(w5_cold_ms[m], label, "ms");
            snprintf(label, sizeof label, "W5 %s replace", w5_names[m]);
            FIG(w5_replace_ms[m], label, "ms");
        }
#undef FIG
        free(v);
    }
    free(r);
    return 0;
}
