/* bench_memory.c: what pending work and idle pools cost, on both pools.
 *
 *   memory     bytes per outstanding future: a pool of one worker runs a
 *              gate task that blocks; 1,000,000 no-op tasks are submitted
 *              behind it, so their futures are all pending (queued). Figure:
 *              the growth of this process's resident set (/proc/self/statm)
 *              over the submissions, divided by the count; the caller's
 *              array of future pointers is made and touched before the
 *              first reading. For the process pool the workers' growth (the
 *              forkserver and the worker, found through
 *              /proc/PID/task/TID/children) is given too. Then the queued
 *              tasks are cancelled (executor_shutdown(CANCEL_PENDING)), the
 *              gate opened, and every future checked to be cancelled.
 *   idle CPU   a pool of the default size runs 1,000 no-op tasks, then sits
 *              with no work for 5 s while this thread sleeps. Figure: CPU
 *              time used meanwhile, in % of one core: getrusage(RUSAGE_SELF)
 *              for the threads (the pool's workers, and for processes its
 *              manager), plus for the process pool utime + stime of every
 *              descendant (/proc/PID/stat: the forkserver and the workers,
 *              which are alive, so RUSAGE_CHILDREN would not count them).
 *
 * The thread pool's gate is a semaphore; the process pool's is a FIFO: the
 * gate task opens it for reading and blocks, and this process's open for
 * writing returns only once the task is in it.
 *
 * Usage: bench_memory [--runs N] [--json] [--quick] [--futures N]
 *                     [--process-futures N] [--idle-ms N]
 * Prints the median and min-max of each figure over the runs (default 5), or
 * with --json one JSON object (impl "cfut-memory") holding every run's
 * figures, which bench/run reads. --quick shrinks everything to a smoke test
 * (used by meson test). */
#define _GNU_SOURCE
#include <cfut.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static long futures = 1000000;
static long process_futures = 1000000;
static long idle_ms = 5000;
static long warm_tasks = 1000;

static void die(const char *what, int st)
{
    fprintf(stderr, "bench_memory: %s: %s\n", what, cfut_status_name(st));
    exit(2);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "bench_memory: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* A /proc file's first line, or "" when it cannot be read (a process that
 * just exited). */
static void read_line(const char *path, char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(buf, (int)size, f))
        buf[0] = 0;
    fclose(f);
}

/* Resident bytes of process pid (0: this one). */
static double rss_bytes(pid_t pid)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    read_line(path, line, sizeof line);
    unsigned long size = 0, resident = 0;
    if (sscanf(line, "%lu %lu", &size, &resident) != 2)
        return 0;
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* utime + stime of process pid in seconds (all its threads). */
static double cpu_of(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    read_line(path, line, sizeof line);
    const char *p = strrchr(line, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct tree {
    double cpu_s, rss;
    int procs;
} tree;

/* Adds up every descendant of pid: each thread's children file lists the
 * processes that thread forked. */
static void descendants(pid_t pid, tree *t)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char cpath[300], line[4096];
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, e->d_name);
        read_line(cpath, line, sizeof line);
        char *save = NULL;
        for (char *tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
            pid_t child = (pid_t)atoi(tok);
            t->cpu_s += cpu_of(child);
            t->rss += rss_bytes(child);
            t->procs++;
            descendants(child, t);
        }
    }
    closedir(d);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static executor_t *pool(executor_kind kind, int max_workers)
{
    executor_options opts = {.max_workers = max_workers, .name_prefix = "benchmem"};
    executor_t *ex;
    int st = executor_new(&ex, kind, &opts);
    if (st != CFUT_OK)
        die("executor_new", st);
    return ex;
}

/* The thread pool's gate: tells the caller it runs, then waits. */
typedef struct sem_gate {
    sem_t running, open;
} sem_gate;

static int sem_gate_task(cfut_task *t, const void *arg, size_t len)
{
    sem_gate *g;
    memcpy(&g, arg, sizeof g);
    sem_post(&g->running);
    while (sem_wait(&g->open) != 0)
        continue; /* EINTR */
    return cfut_return(t, NULL, 0);
}

/* The process pool's gate: the argument is a FIFO's path. */
static int fifo_gate_task(cfut_task *t, const void *arg, size_t len)
{
    int fd = open(arg, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cfut_fail(t, errno, "open %s: %s", (const char *)arg, strerror(errno));
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        continue;
    close(fd);
    return cfut_return(t, NULL, 0);
}

typedef struct mem_figures {
    double bytes, worker_bytes, submit_ns;
} mem_figures;

/* n futures pending behind a gate on a one-worker pool of this kind. */
static mem_figures pending_futures(executor_kind kind, long n)
{
    mem_figures m = {0};
    future_t **fs = malloc((size_t)n * sizeof *fs);
    if (!fs)
        die("malloc", CFUT_ENOMEM);
    /* Touched with a pattern, not zeros: the compiler turns malloc + memset
     * 0 into calloc, which leaves fresh pages untouched, and the array then
     * grew the resident set during the measurement (8 bytes per future,
     * in the first run of a process only). */
    memset(fs, 0xa5, (size_t)n * sizeof *fs);
    malloc_trim(0); /* what earlier runs freed is not counted as new */

    executor_t *ex = pool(kind, 1);
    sem_gate sg;
    char dir[] = "/tmp/cfut-bench-XXXXXX", fifo[64];
    future_t *gate;
    int fd = -1;
    if (kind == EXECUTOR_THREADS) {
        sem_init(&sg.running, 0, 0);
        sem_init(&sg.open, 0, 0);
        sem_gate *p = &sg;
        gate = executor_submit(ex, sem_gate_task, &p, sizeof p);
        while (sem_wait(&sg.running) != 0)
            continue;
    } else {
        if (!mkdtemp(dir))
            die_errno("mkdtemp");
        snprintf(fifo, sizeof fifo, "%s/gate", dir);
        if (mkfifo(fifo, 0600) != 0)
            die_errno("mkfifo");
        gate = executor_submit(ex, fifo_gate_task, fifo, strlen(fifo) + 1);
        fd = open(fifo, O_WRONLY | O_CLOEXEC); /* returns once the gate runs */
        if (fd < 0)
            die_errno("open the gate");
    }

    tree w0 = {0}, w1 = {0};
    descendants(getpid(), &w0);
    double r0 = rss_bytes(0), t0 = now();
    for (long i = 0; i < n; i++) {
        int64_t v = i;
        fs[i] = executor_submit(ex, echo, &v, sizeof v);
    }
    double t1 = now(), r1 = rss_bytes(0);
    descendants(getpid(), &w1);
    m.bytes = (r1 - r0) / (double)n;
    m.worker_bytes = (w1.rss - w0.rss) / (double)n;
    m.submit_ns = (t1 - t0) * 1e9 / (double)n;

    for (long i = 0; i < n; i++)
        if (future_done(fs[i]))
            die("a future behind the gate is done", future_status(fs[i]));
    int st = executor_shutdown(ex, EXECUTOR_CANCEL_PENDING);
    if (st != CFUT_OK)
        die("executor_shutdown", st);
    if (kind == EXECUTOR_THREADS) {
        sem_post(&sg.open);
    } else {
        if (write(fd, "x", 1) != 1)
            die_errno("open the gate");
        close(fd);
    }
    executor_free(ex);
    if ((st = future_status(gate)) != CFUT_OK)
        die("the gate task", st);
    future_release(gate);
    for (long i = 0; i < n; i++) {
        if (!future_cancelled(fs[i]))
            die("a queued future was not cancelled", future_status(fs[i]));
        future_release(fs[i]);
    }
    free(fs);
    if (kind == EXECUTOR_THREADS) {
        sem_destroy(&sg.running);
        sem_destroy(&sg.open);
    } else {
        unlink(fifo);
        rmdir(dir);
    }
    malloc_trim(0);
    return m;
}

typedef struct idle_figures {
    double self_pct, children_pct;
    int children;
} idle_figures;

/* CPU used by an idle pool of this kind (default size) that has run work. */
static idle_figures idle_cpu(executor_kind kind)
{
    idle_figures f = {0};
    executor_t *ex = pool(kind, 0);
    future_t **fs = malloc((size_t)warm_tasks * sizeof *fs);
    if (!fs)
        die("malloc", CFUT_ENOMEM);
    for (long i = 0; i < warm_tasks; i++) {
        int64_t v = i;
        fs[i] = executor_submit(ex, echo, &v, sizeof v);
    }
    for (long i = 0; i < warm_tasks; i++) {
        int64_t v = -1;
        int st = future_result_copy(fs[i], -1, &v, sizeof v);
        if (st != CFUT_OK || v != i)
            die("warm-up task", st != CFUT_OK ? st : CFUT_ESERIALIZE);
        future_release(fs[i]);
    }
    free(fs);

    tree c0 = {0}, c1 = {0};
    descendants(getpid(), &c0);
    double s0 = self_cpu(), t0 = now();
    /* Sleeping is the measurement here: the pool has nothing to do. */
    struct timespec ts = {idle_ms / 1000, (idle_ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
    double s1 = self_cpu(), t1 = now();
    descendants(getpid(), &c1);
    f.self_pct = (s1 - s0) / (t1 - t0) * 100;
    f.children_pct = (c1.cpu_s - c0.cpu_s) / (t1 - t0) * 100;
    f.children = c1.procs;
    executor_free(ex);
    return f;
}

struct run {
    mem_figures mt, mp;
    idle_figures it, ip;
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
            futures = process_futures = 10000, idle_ms = 200, warm_tasks = 100, runs = 1;
        else if (!strcmp(argv[i], "--futures"))
            futures = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--process-futures"))
            process_futures = arg_long(argc, argv, &i);
        else if (!strcmp(argv[i], "--idle-ms"))
            idle_ms = arg_long(argc, argv, &i);
        else {
            fprintf(stderr, "usage: %s [--runs N] [--json] [--quick] [--futures N]"
                    " [--process-futures N] [--idle-ms N]\n", argv[0]);
            return 2;
        }
    }

    struct run *r = calloc((size_t)runs, sizeof *r);
    if (!r)
        die("calloc", CFUT_ENOMEM);
    for (int k = 0; k < runs; k++) {
        r[k].mt = pending_futures(EXECUTOR_THREADS, futures);
        r[k].mp = pending_futures(EXECUTOR_PROCESSES, process_futures);
        r[k].it = idle_cpu(EXECUTOR_THREADS);
        r[k].ip = idle_cpu(EXECUTOR_PROCESSES);
        if (!json)
            fprintf(stderr, "run %d: %.0f/%.0f bytes per pending future "
                    "(threads/processes), idle %.3f/%.3f%% of a core\n", k + 1,
                    r[k].mt.bytes, r[k].mp.bytes, r[k].it.self_pct,
                    r[k].ip.self_pct + r[k].ip.children_pct);
    }

    if (json) {
        printf("{\"impl\": \"cfut-memory\", \"version\": \"%s\", \"params\": "
               "{\"futures\": %ld, \"process_futures\": %ld, \"idle_ms\": %ld, "
               "\"warm_tasks\": %ld}, \"runs\": [", cfut_version_string(), futures,
               process_futures, idle_ms, warm_tasks);
        for (int k = 0; k < runs; k++)
            printf("%s{\"mem_threads_bytes\": %.2f, \"mem_threads_submit_ns\": %.1f, "
                   "\"mem_processes_bytes\": %.2f, \"mem_processes_worker_bytes\": %.2f, "
                   "\"mem_processes_submit_ns\": %.1f, \"idle_threads_pct\": %.4f, "
                   "\"idle_processes_pct\": %.4f, \"idle_processes_self_pct\": %.4f, "
                   "\"idle_processes_children_pct\": %.4f, \"idle_processes_children\": %d}",
                   k ? ", " : "", r[k].mt.bytes, r[k].mt.submit_ns, r[k].mp.bytes,
                   r[k].mp.worker_bytes, r[k].mp.submit_ns, r[k].it.self_pct,
                   r[k].ip.self_pct + r[k].ip.children_pct, r[k].ip.self_pct,
                   r[k].ip.children_pct, r[k].ip.children);
        printf("]}\n");
    } else {
        double *v = malloc((size_t)runs * sizeof *v);
        if (!v)
            die("malloc", CFUT_ENOMEM);
        printf("cfut %s memory and idle CPU, %d runs: median [min - max]\n",
               cfut_version_string(), runs);
#define FIG(expr, label, unit)                                                 \
    do {                                                                       \
        for (int k = 0; k < runs; k++)                                         \
            v[k] = (expr);                                                     \
        summary(label, unit, v, runs);                                         \
    } while (0)
        FIG(r[k].mt.bytes, "threads: bytes per pending future", "B");
        FIG(r[k].mt.submit_ns, "threads: submit behind the gate", "ns");
        FIG(r[k].mp.bytes, "processes: bytes per pending future", "B");
        FIG(r[k].mp.worker_bytes, "processes: workers' bytes per future", "B");
        FIG(r[k].mp.submit_ns, "processes: submit behind the gate", "ns");
        FIG(r[k].it.self_pct, "threads: idle CPU", "% core");
        FIG(r[k].ip.self_pct + r[k].ip.children_pct, "processes: idle CPU", "% core");
        FIG(r[k].ip.self_pct, "processes: idle CPU, this process", "% core");
        FIG(r[k].ip.children_pct, "processes: idle CPU, workers", "% core");
#undef FIG
        free(v);
    }
    free(r);
    return 0;
}
