/* bench/peer.c: see peer.h. */
#define _GNU_SOURCE
#include "peer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peer_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
    exit(2);
}

static double w1_throughput(const peer *p, int threads, long tasks)
{
    void *pool = p->open(threads);
    double t0 = now();
    p->w1(pool, tasks);
    double t1 = now();
    p->close(pool);
    return (t1 - t0) * 1e9 / (double)tasks;
}

static void w2_latency(const peer *p, int threads, long trips, double *median_us,
                       double *p99_us)
{
    double *lat = malloc((size_t)trips * sizeof *lat);
    if (!lat)
        peer_die("out of memory");
    void *pool = p->open(threads);
    long warm = trips / 20 + 1;
    for (long i = -warm; i < trips; i++) {
        double t0 = now();
        int64_t r = p->trip(pool, i);
        double t1 = now();
        if (r != i) {
            fprintf(stderr, "%s: W2 trip %ld returned %" PRId64 "\n",
                    program_invocation_short_name, i, r);
            exit(2);
        }
        if (i >= 0)
            lat[i] = (t1 - t0) * 1e6;
    }
    p->close(pool);
    qsort(lat, (size_t)trips, sizeof *lat, cmp_double);
    *median_us = quantile(lat, (size_t)trips, 0.5);
    *p99_us = quantile(lat, (size_t)trips, 0.99);
    free(lat);
}

struct run {
    double w1_ns, w2_med_us, w2_p99_us;
};

int peer_main(int argc, char **argv, const peer *p)
{
    long w1_tasks = 200000, w2_trips = 20000;
    int runs = 5, json = 0, threads = default_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs"))
            runs = (int)arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick"))
            w1_tasks = 2000, w2_trips = 200, runs = 1;
        else if (!strcmp(argv[i], "--w1-tasks"))
            w1_tasks = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--w2-trips"))
            w2_trips = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--threads"))
            threads = (int)arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--json] [--quick] [--w1-tasks N]"
                    " [--w2-trips N] [--threads N]\n", argv[0]);
            return 2;
        }
    }

    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!r)
        peer_die("out of memory");
    for (int k = 0; k < runs; k++) {
        r[k].w1_ns = w1_throughput(p, threads, w1_tasks);
        w2_latency(p, threads, w2_trips, &r[k].w2_med_us, &r[k].w2_p99_us);
        if (!json)
            fprintf(stderr, "run %d: W1 %.0f ns/task, W2 %.1f/%.1f us\n", k + 1,
                    r[k].w1_ns, r[k].w2_med_us, r[k].w2_p99_us);
    }

    if (json) {
        printf("{\"impl\": \"%s\", \"version\": \"%s\", \"params\": {\"w1_tasks\": %ld, "
               "\"w2_trips\": %ld, \"threads\": %d}, \"runs\": [",
               p->impl, p->version, w1_tasks, w2_trips, threads);
        for (int k = 0; k < runs; k++)
            printf("%s{\"w1_ns_per_task\": %.3f, \"w2_median_us\": %.3f, "
                   "\"w2_p99_us\": %.3f}", k ? ", " : "", r[k].w1_ns, r[k].w2_med_us,
                   r[k].w2_p99_us);
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            peer_die("out of memory");
        printf("%s %s, %d threads, %d runs: median [min - max]\n", p->title, p->version,
               threads, runs);
#define FIG(field, label, unit)                                                \
    do {                                                                       \
        for (int k = 0; k < runs; k++)                                         \
            v[k] = r[k].field;                                                 \
        summary(label, unit, v, runs);                                         \
    } while (0)
        FIG(w1_ns, "W1 throughput", "ns");
        FIG(w2_med_us, "W2 latency median", "us");
        FIG(w2_p99_us, "W2 latency p99", "us");
#undef FIG
        free(v);
    }
    free(r);
    return 0;
}
