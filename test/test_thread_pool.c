/* test/test_thread_pool.c: the thread-pool executor.
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_thread_pool.py
 * (ThreadPoolExecutorTest) and the generic ExecutorTest in executor.py, plus
 * what cfut adds: option validation, lazy start, worker names, statistics,
 * many submitting threads, tasks submitting to executors. Map is not here
 * (a later issue). Concurrency is gated on th_gate, never on sleeps. */
#define _GNU_SOURCE
#include "harness.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* ---- helpers ---------------------------------------------------------- */

static executor_t *new_pool(int max_workers)
{
    executor_options o = { .max_workers = max_workers };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static future_t *submit(executor_t *ex, cfut_task_fn fn, const void *arg, size_t len)
{
    future_t *f = executor_submit(ex, fn, arg, len);
    CHECK(f != NULL);
    return f;
}

static executor_stats stats(executor_t *ex)
{
    executor_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    return s;
}

static int result_int(future_t *f)
{
    int v = INT_MIN;
    CHECK_STATUS(future_result_copy(f, -1, &v, sizeof v), CFUT_OK);
    return v;
}

static void release_all(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
}

/* x -> 2x */
static int task_double(cfut_task *t, const void *arg, size_t len)
{
    int x;
    if (len != sizeof x)
        return -1;
    memcpy(&x, arg, sizeof x);
    x *= 2;
    return cfut_return(t, &x, sizeof x);
}

/* (base, exp) -> base ** exp; executor.py's pow(2, 8). */
static int task_pow(cfut_task *t, const void *arg, size_t len)
{
    int a[2];
    if (len != sizeof a)
        return -1;
    memcpy(a, arg, sizeof a);
    int r = 1;
    for (int i = 0; i < a[1]; i++)
        r *= a[0];
    return cfut_return(t, &r, sizeof r);
}

static int task_nothing(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    return 0;
}

/* Blocks on a gate; posts `started` first. Returns `value`. */
typedef struct { th_gate *started, *go; int value; } gated_arg;

static int task_gated(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    gated_arg a;
    memcpy(&a, arg, sizeof a);
    if (a.started)
        th_gate_open(a.started, 1);
    if (a.go)
        th_gate_wait(a.go);
    return cfut_return(t, &a.value, sizeof a.value);
}

static future_t *submit_gated(executor_t *ex, th_gate *started, th_gate *go, int value)
{
    gated_arg a = { started, go, value };
    return submit(ex, task_gated, &a, sizeof a);
}

/* The worker's thread name. */
typedef struct { th_gate *started, *go; } name_arg;

static int task_thread_name(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    name_arg a = { NULL, NULL };
    if (arg)
        memcpy(&a, arg, sizeof a);
    if (a.started)
        th_gate_open(a.started, 1);
    if (a.go)
        th_gate_wait(a.go);
    char name[32] = "";
    int rc = pthread_getname_np(pthread_self(), name, sizeof name);
    if (rc != 0)
        return cfut_fail(t, rc, "pthread_getname_np: %s", strerror(rc));
    return cfut_return(t, name, strlen(name) + 1);
}

/* ---- executor_new ----------------------------------------------------- */

static void check_new_fails(executor_kind kind, const executor_options *o)
{
    executor_t *ex = (executor_t *)(uintptr_t)1; /* must be overwritten */
    CHECK_STATUS(executor_new(&ex, kind, o), CFUT_EINVAL);
    CHECK(ex == NULL);
}

/* Bad options are refused with CFUT_EINVAL and *out = NULL. */
static void test_new_bad_options(void)
{
    executor_options o = { .max_workers = -1 };
    check_new_fails(EXECUTOR_THREADS, &o);
    o = (executor_options){ .max_workers = INT_MIN };
    check_new_fails(EXECUTOR_THREADS, &o);
    o = (executor_options){ .start = (executor_start)99 };
    check_new_fails(EXECUTOR_THREADS, &o);
    o = (executor_options){ .initarg = NULL, .initarg_len = 5 };
    check_new_fails(EXECUTOR_THREADS, &o);
    o = (executor_options){ .task_timeout = NAN };
    check_new_fails(EXECUTOR_THREADS, &o);
    check_new_fails((executor_kind)99, NULL);
    check_new_fails((executor_kind)-1, NULL);
    CHECK_STATUS(executor_new(NULL, EXECUTOR_THREADS, NULL), CFUT_EINVAL);
}

/* A kind whose backend this build lacks is refused with *out = NULL; a
 * built kind gives a working handle. Either way *out is set. (EXECUTOR_MPI
 * is left to the MPI tests: creating one initialises MPI in this process.) */
static void test_new_other_kinds(void)
{
    executor_t *ex = (executor_t *)(uintptr_t)1;
    int rc = executor_new(&ex, EXECUTOR_PROCESSES, NULL);
    if (rc == CFUT_OK) {
        CHECK(ex != NULL && ex != (executor_t *)(uintptr_t)1);
        executor_free(ex);
    } else {
        CHECK_STATUS(rc, CFUT_EINVAL);
        CHECK(ex == NULL);
    }
}

/* executor.py: test_max_workers_negative. cfut takes 0 as "default", so only
 * negative numbers are refused; 0, NULL options and all-zero options work. */
static void test_max_workers_negative(void)
{
    for (int n = -1; n >= -3; n--) {
        executor_options o = { .max_workers = n };
        check_new_fails(EXECUTOR_THREADS, &o);
    }
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, NULL), CFUT_OK);
    CHECK(ex != NULL);
    executor_free(ex);
    executor_options zero;
    memset(&zero, 0, sizeof zero);
    ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &zero), CFUT_OK);
    CHECK(ex != NULL);
    int x = 21;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 42);
    future_release(f);
    executor_free(ex);
}

/* ---- submit ----------------------------------------------------------- */

/* executor.py: ExecutorTest.test_submit. */
static void test_submit(void)
{
    executor_t *ex = new_pool(5);
    int a[2] = { 2, 8 };
    future_t *f = submit(ex, task_pow, a, sizeof a);
    CHECK_EQ(result_int(f), 256);
    future_release(f);
    executor_free(ex);
}

/* Many submissions, every result where it belongs. */
static void test_submit_many(void)
{
    enum { N = 500 };
    executor_t *ex = new_pool(4);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    for (int i = 0; i < N; i++)
        CHECK_EQ(result_int(fs[i]), 2 * i);
    release_all(fs, N);
    executor_free(ex);
}

/* executor.py: test_no_stale_references. A future released at once still
 * runs its task, and nothing leaks (valgrind checks the leak half). */
static void test_discarded_future_still_runs(void)
{
    th_gate ran;
    th_gate_init(&ran);
    executor_t *ex = new_pool(2);
    for (int i = 0; i < 10; i++) {
        gated_arg a = { &ran, NULL, i };
        future_release(submit(ex, task_gated, &a, sizeof a));
    }
    for (int i = 0; i < 10; i++)
        th_gate_wait(&ran);
    executor_free(ex);
    th_gate_destroy(&ran);
}

/* ---- workers: lazy start, reuse, saturation --------------------------- */

/* No thread before the first submit; one after it. */
static void test_lazy_start(void)
{
    executor_t *ex = new_pool(4);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.workers_started, 0);
    CHECK_EQ(s.idle, 0);
    int x = 1;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 2);
    future_release(f);
    s = stats(ex);
    CHECK_EQ(s.workers_started, 1);
    CHECK_EQ(s.workers, 1);
    executor_free(ex);
}

/* test_thread_pool.py: test_idle_thread_reuse. */
static void test_idle_thread_reuse(void)
{
    executor_t *ex = new_pool(0);
    int pairs[3][2] = { { 21, 1 }, { 6, 1 }, { 3, 1 } };
    for (int i = 0; i < 3; i++) {
        future_t *f = submit(ex, task_pow, pairs[i], sizeof pairs[i]);
        CHECK_EQ(result_int(f), pairs[i][0]);
        future_release(f);
    }
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_started, 1);
    CHECK_EQ(s.workers, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_free(ex);
}

/* The same, many times: a worker that has just completed a future counts as
 * idle for the next submit (no race that starts a second worker). */
static void test_idle_thread_reuse_loop(void)
{
    executor_t *ex = new_pool(8);
    for (int i = 0; i < 300; i++) {
        future_t *f = submit(ex, task_double, &i, sizeof i);
        CHECK_EQ(result_int(f), 2 * i);
        future_release(f);
        CHECK_EQ(stats(ex).workers_started, 1);
    }
    executor_free(ex);
}

/* fs[0..n) are gated tasks (submit_gated, value i): all n start, each
 * within TH_LONG_WAIT, and run at once; then the gate opens, each returns
 * its own value, and they are released. */
static void check_all_at_once(executor_t *ex, future_t **fs, int n, th_gate *started,
                              th_gate *go)
{
    for (int i = 0; i < n; i++)
        if (!th_gate_timedwait(started, TH_LONG_WAIT))
            th_fail(__FILE__, __LINE__, "%d of %d tasks started (%zu workers)", i, n,
                    stats(ex).workers);
    CHECK_EQ(stats(ex).running, (size_t)n);
    th_gate_open(go, (unsigned)n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(result_int(fs[i]), i);
    release_all(fs, (size_t)n);
}

/* After a saturating batch, the idle workers take the next batch: no new
 * thread, and all of them run at once again. */
static void test_idle_workers_reused_after_saturation(void)
{
    enum { W = 4 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(W);
    for (int round = 0; round < 3; round++) {
        future_t *fs[W];
        for (int i = 0; i < W; i++)
            fs[i] = submit_gated(ex, &started, &go, i);
        check_all_at_once(ex, fs, W, &started, &go);
        CHECK_EQ(stats(ex).workers_started, W);
    }
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* The same with every worker asleep first: a submission wakes a sleeping
 * worker only when no other is on its way, and each woken worker wakes the
 * next while work is queued (idle_claim), so all W still start at once.
 * The pause lets the idle workers' 50 us spin end: the bound itself is
 * what the case is about, so it sleeps. */
static void test_sleeping_workers_all_wake_for_a_burst(void)
{
    enum { W = 4 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(W);
    for (int round = 0; round < 3; round++) {
        if (round > 0)
            nanosleep(&(struct timespec){0, 5000000}, NULL);
        future_t *fs[W];
        for (int i = 0; i < W; i++)
            fs[i] = submit_gated(ex, &started, &go, i);
        check_all_at_once(ex, fs, W, &started, &go);
    }
    CHECK_EQ(stats(ex).workers_started, W);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* ---- a burst wider than the idle workers -------------------------------- */

/* A warm pool has `idle` idle workers of `max`; a burst of more tasks must
 * still get a worker per task up to max (CPython: a submission that finds
 * no idle worker starts one). The burst has to be queued before the first
 * worker it signals gets going: with CAP_SYS_NICE (CI runs as root) the
 * submitting thread holds the only CPU the process may use (SCHED_FIFO)
 * while it submits, which makes it deterministic; without, the case runs
 * BURST_ROUNDS times, and a broken pool fails most of them. */
enum { BURST_ROUNDS = 20 };

/* Pins the process to one CPU if this thread may take SCHED_FIFO; true if
 * it may. */
static bool pin_for_bursts(void)
{
    struct sched_param fifo = {.sched_priority = 1}, other = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) != 0)
        return false;
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &other), 0);
    cpu_set_t all, one;
    CHECK_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &all))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    CHECK_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    return true;
}

/* While on (and pinned), no thread of the pool runs: this one keeps the CPU. */
static void hold_cpu(bool pinned, bool on)
{
    struct sched_param sp = {.sched_priority = on ? 1 : 0};
    if (pinned)
        CHECK_EQ(pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp), 0);
}

static executor_t *warm_pool(int max, int idle)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(max);
    future_t *fs[8];
    for (int i = 0; i < idle; i++)
        fs[i] = submit_gated(ex, &started, &go, i);
    check_all_at_once(ex, fs, idle, &started, &go);
    CHECK_EQ(stats(ex).idle, (size_t)idle);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
    return ex;
}

/* Two idle workers, max 8, a burst of 8 gated tasks: all 8 run at once. */
static void test_burst_wider_than_idle_workers_all_start(void)
{
    enum { N = 8 };
    bool pinned = pin_for_bursts();
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    for (int round = 0; round < (pinned ? 1 : BURST_ROUNDS); round++) {
        executor_t *ex = warm_pool(N, 2);
        future_t *fs[N];
        hold_cpu(pinned, true);
        for (int i = 0; i < N; i++)
            fs[i] = submit_gated(ex, &started, &go, i);
        hold_cpu(pinned, false);
        check_all_at_once(ex, fs, N, &started, &go);
        executor_free(ex);
    }
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* A_i waits until B_i, submitted after it in the same burst, has run. */
static sem_t b_ran[2];

static int task_wait_for_b(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    int i;
    memcpy(&i, arg, sizeof i);
    while (sem_wait(&b_ran[i]) != 0)
        ;
    return cfut_return(t, &i, sizeof i);
}

static int task_b(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    int i;
    memcpy(&i, arg, sizeof i);
    sem_post(&b_ran[i]);
    return cfut_return(t, &i, sizeof i);
}

/* Two idle workers, max 4: A0, A1, B0, B1, where A_i waits for B_i. Four
 * tasks and four workers allowed, so no deadlock of the caller's making:
 * the pool must start the two workers the Bs need. */
static void test_tasks_waiting_on_later_ones_in_a_burst(void)
{
    bool pinned = pin_for_bursts();
    for (int round = 0; round < (pinned ? 1 : BURST_ROUNDS); round++) {
        for (int i = 0; i < 2; i++)
            CHECK_EQ(sem_init(&b_ran[i], 0, 0), 0);
        executor_t *ex = warm_pool(4, 2);
        const int ids[2] = {0, 1};
        future_t *f[4];
        hold_cpu(pinned, true);
        f[0] = submit(ex, task_wait_for_b, &ids[0], sizeof ids[0]);
        f[1] = submit(ex, task_wait_for_b, &ids[1], sizeof ids[1]);
        f[2] = submit(ex, task_b, &ids[0], sizeof ids[0]);
        f[3] = submit(ex, task_b, &ids[1], sizeof ids[1]);
        hold_cpu(pinned, false);
        for (int i = 0; i < 4; i++)
            if (future_wait(f[i], TH_LONG_WAIT) != CFUT_OK)
                th_fail(__FILE__, __LINE__, "round %d: task %d never finished (%zu workers, "
                        "%zu queued)", round, i, stats(ex).workers, stats(ex).queued);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(result_int(f[i]), i % 2);
        release_all(f, 4);
        executor_free(ex);
        for (int i = 0; i < 2; i++)
            sem_destroy(&b_ran[i]);
    }
}

/* Saturates a pool of `w` workers with n gated tasks and checks that exactly
 * `w` run and the rest wait in the queue. */
static void saturate(executor_t *ex, size_t w, size_t n)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    future_t **fs = calloc(n, sizeof *fs);
    CHECK(fs != NULL);
    for (size_t i = 0; i < n; i++)
        fs[i] = submit_gated(ex, &started, &go, (int)i);
    for (size_t i = 0; i < w; i++)
        th_gate_wait(&started);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, w);
    CHECK_EQ(s.workers_started, w);
    CHECK_EQ(s.running, w);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.queued, n - w);
    CHECK_EQ(s.completed, 0);
    size_t running = 0;
    for (size_t i = 0; i < n; i++)
        running += future_running(fs[i]);
    CHECK_EQ(running, w);
    th_gate_open(&go, (unsigned)n);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(result_int(fs[i]), (int)i);
    release_all(fs, n);
    free(fs);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    s = stats(ex);
    CHECK_EQ(s.workers_started, w);
    CHECK_EQ(s.completed, n);
    CHECK_EQ(s.workers, 0);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* test_thread_pool.py: test_saturation (4 workers, 15 * 4 tasks). */
static void test_saturation(void)
{
    executor_t *ex = new_pool(4);
    saturate(ex, 4, 15 * 4);
    executor_free(ex);
}

/* One worker: strictly one task at a time. */
static void test_saturation_one_worker(void)
{
    executor_t *ex = new_pool(1);
    saturate(ex, 1, 10);
    executor_free(ex);
}

static size_t affinity_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    return (size_t)CPU_COUNT(&set);
}

static size_t default_workers(void)
{
    size_t n = affinity_cpus() + 4;
    return n < 32 ? n : 32;
}

/* test_thread_pool.py: test_default_workers, min(32, cpus + 4), seen
 * through saturation. */
static void test_default_workers(void)
{
    size_t want = default_workers();
    executor_t *ex = new_pool(0);
    saturate(ex, want, want + 3);
    executor_free(ex);
}

/* The default counts the CPUs in the affinity mask, not the machine's. */
static void test_default_workers_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    if (CPU_COUNT(&set) < 2)
        th_skip("needs at least 2 CPUs in the affinity mask");
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &one);
            break;
        }
    }
    CHECK_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    CHECK_EQ(affinity_cpus(), 1);
    executor_t *ex = new_pool(0);
    saturate(ex, 5, 8);
    executor_free(ex);
}

/* ---- worker names ----------------------------------------------------- */

/* Runs `w` tasks at once (so `w` workers exist) and returns their names. */
static void worker_names(executor_t *ex, size_t w, char names[][32])
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    future_t *fs[32];
    CHECK(w <= 32);
    name_arg a = { &started, &go };
    for (size_t i = 0; i < w; i++)
        fs[i] = submit(ex, task_thread_name, &a, sizeof a);
    for (size_t i = 0; i < w; i++)
        th_gate_wait(&started);
    th_gate_open(&go, (unsigned)w);
    for (size_t i = 0; i < w; i++) {
        const void *data;
        size_t len;
        CHECK_STATUS(future_result(fs[i], -1, &data, &len), CFUT_OK);
        CHECK(len >= 1 && len <= 16);
        memcpy(names[i], data, len);
        CHECK_EQ(names[i][len - 1], '\0');
    }
    release_all(fs, w);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* "<prefix>_<n>": returns n, or -1 if the name is not of that form. */
static long name_index(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '_')
        return -1;
    const char *d = name + pl + 1;
    if (!*d)
        return -1;
    long n = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        n = n * 10 + (*d - '0');
    }
    return n;
}

/* test_shutdown.py: test_thread_names_assigned: "SpecialPool_[0-4]", one
 * number per worker. */
static void test_thread_names_assigned(void)
{
    enum { W = 5 };
    executor_options o = { .max_workers = W, .name_prefix = "SpecialPool" };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    char names[W][32];
    worker_names(ex, W, names);
    bool seen[W] = { false };
    for (int i = 0; i < W; i++) {
        long n = name_index(names[i], "SpecialPool");
        if (n < 0 || n >= W)
            th_fail(__FILE__, __LINE__, "worker name \"%s\" is not SpecialPool_[0-%d]",
                    names[i], W - 1);
        CHECK(!seen[n]);
        seen[n] = true;
    }
    executor_free(ex);
}

/* The prefix is copied at executor_new. */
static void test_thread_names_prefix_copied(void)
{
    char prefix[16] = "copied";
    executor_options o = { .max_workers = 1, .name_prefix = prefix };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    strcpy(prefix, "clobbered");
    char names[1][32];
    worker_names(ex, 1, names);
    CHECK(name_index(names[0], "copied") >= 0);
    executor_free(ex);
}

/* test_shutdown.py: test_thread_names_default: "cfut<id>_<n>", distinct
 * per executor. */
static void test_thread_names_default(void)
{
    enum { W = 3 };
    executor_t *a = new_pool(W), *b = new_pool(W);
    char na[W][32], nb[W][32];
    worker_names(a, W, na);
    worker_names(b, W, nb);
    char pa[32] = "", pb[32] = "";
    for (int k = 0; k < 2; k++) {
        char (*names)[32] = k ? nb : na;
        char *prefix = k ? pb : pa;
        for (int i = 0; i < W; i++) {
            const char *us = strrchr(names[i], '_');
            if (strncmp(names[i], "cfut", 4) != 0 || !us || us == names[i] + 4)
                th_fail(__FILE__, __LINE__, "default worker name \"%s\" is not cfut<id>_<n>",
                        names[i]);
            for (const char *c = names[i] + 4; c < us; c++)
                CHECK(*c >= '0' && *c <= '9');
            size_t pl = (size_t)(us - names[i]);
            if (!*prefix) {
                memcpy(prefix, names[i], pl);
                prefix[pl] = '\0';
            }
            long n = name_index(names[i], prefix);
            if (n < 0 || n >= W)
                th_fail(__FILE__, __LINE__, "worker name \"%s\" is not %s_[0-%d]",
                        names[i], prefix, W - 1);
        }
    }
    if (strcmp(pa, pb) == 0)
        th_fail(__FILE__, __LINE__, "two executors share the default prefix \"%s\"", pa);
    executor_free(a);
    executor_free(b);
}

/* Names longer than the kernel's 15 bytes are cut, not refused. The prefix
 * is what gets cut: "_<n>" stays, so the workers' names stay distinct. */
static void test_thread_names_truncated(void)
{
    executor_options o = { .max_workers = 2, .name_prefix = "averyveryverylongprefix" };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    char names[2][32];
    worker_names(ex, 2, names);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(strlen(names[i]), 15);
        long n = name_index(names[i], "averyveryvery");
        if (n < 0 || n > 1)
            th_fail(__FILE__, __LINE__, "worker name \"%s\" is not averyveryvery_[01]",
                    names[i]);
    }
    CHECK(strcmp(names[0], names[1]) != 0);
    executor_free(ex);
}

/* Workers run with signals blocked, so process-directed signals go to the
 * application's own threads (STYLE.md: libuv's workers do the same). */
static int task_sigmask(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    sigset_t cur;
    int rc = pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (rc != 0)
        return cfut_fail(t, rc, "pthread_sigmask: %s", strerror(rc));
    int blocked = sigismember(&cur, SIGINT) + sigismember(&cur, SIGTERM) +
                  sigismember(&cur, SIGUSR1) + sigismember(&cur, SIGCHLD);
    return cfut_return(t, &blocked, sizeof blocked);
}

static void test_workers_block_signals(void)
{
    sigset_t none, old;
    sigemptyset(&none);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &none, &old), 0);
    executor_t *ex = new_pool(2);
    future_t *f = submit(ex, task_sigmask, NULL, 0);
    CHECK_EQ(result_int(f), 4);
    future_release(f);
    executor_free(ex);
    /* The submitting thread's own mask is left as it was. */
    sigset_t now;
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    CHECK(!sigismember(&now, SIGINT));
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

/* ---- cancel ----------------------------------------------------------- */

static atomic_int ran_count;

static int task_count_run(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    atomic_fetch_add(&ran_count, 1);
    return 0;
}

typedef struct { atomic_int calls; pthread_t thread; bool done_inside, cancelled_inside; } cb_record;

static void record_cb(future_t *f, void *user)
{
    cb_record *r = user;
    r->thread = pthread_self();
    r->done_inside = future_done(f);
    r->cancelled_inside = future_cancelled(f);
    atomic_fetch_add(&r->calls, 1);
}

/* Cancel of queued futures: true, CFUT_ECANCELLED, callbacks run in the
 * cancelling thread before cancel returns, the tasks never run, and
 * stats.cancelled counts them. */
static void test_cancel_queued(void)
{
    enum { Q = 5 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 1);
    th_gate_wait(&started);
    future_t *fs[Q];
    cb_record rec[Q];
    for (int i = 0; i < Q; i++) {
        fs[i] = submit(ex, task_count_run, NULL, 0);
        memset(&rec[i], 0, sizeof rec[i]);
        CHECK_STATUS(future_add_done_callback(fs[i], record_cb, &rec[i]), CFUT_OK);
    }
    CHECK_EQ(stats(ex).queued, Q);
    for (int i = 0; i < Q; i++) {
        CHECK(!future_running(fs[i]));
        CHECK(future_cancel(fs[i]));
        CHECK_EQ(atomic_load(&rec[i].calls), 1);
        CHECK(pthread_equal(rec[i].thread, pthread_self()));
        CHECK(rec[i].done_inside && rec[i].cancelled_inside);
        CHECK(future_cancel(fs[i])); /* again: still true */
        CHECK(future_cancelled(fs[i]));
        CHECK(future_done(fs[i]));
        CHECK_STATUS(future_status(fs[i]), CFUT_ECANCELLED);
        CHECK_STATUS(future_wait(fs[i], -1), CFUT_OK);
        CHECK(future_error_message(fs[i]) != NULL);
        CHECK_EQ(future_error_code(fs[i]), 0);
    }
    executor_stats s = stats(ex);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.cancelled, Q);
    CHECK_EQ(s.running, 1);
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(blocker), 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(atomic_load(&ran_count), 0);
    for (int i = 0; i < Q; i++)
        CHECK_EQ(atomic_load(&rec[i].calls), 1);
    s = stats(ex);
    CHECK_EQ(s.cancelled, Q);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.failed, 0);
    future_release(blocker);
    release_all(fs, Q);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Cancelling some of the queue: the others still run, in order. */
static void test_cancel_some_queued(void)
{
    enum { Q = 10 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, -1);
    th_gate_wait(&started);
    future_t *fs[Q];
    for (int i = 0; i < Q; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    for (int i = 0; i < Q; i += 2)
        CHECK(future_cancel(fs[i]));
    th_gate_open(&go, 1);
    for (int i = 0; i < Q; i++) {
        if (i % 2 == 0) {
            CHECK_STATUS(future_result(fs[i], -1, NULL, NULL), CFUT_ECANCELLED);
        } else {
            CHECK_EQ(result_int(fs[i]), 2 * i);
        }
    }
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, Q / 2);
    CHECK_EQ(s.completed, Q / 2 + 1);
    future_release(blocker);
    release_all(fs, Q);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Cancel races the worker taking the task: exactly one side wins each time.
 * A cancelled task never runs; an uncancelled one runs once; the counters
 * agree (cancel is decided under the queue lock). */
static void test_cancel_race(void)
{
    enum { N = 2000 };
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(2);
    size_t cancelled = 0;
    for (int i = 0; i < N; i++) {
        future_t *f = submit(ex, task_count_run, NULL, 0);
        bool c = future_cancel(f);
        CHECK_STATUS(future_wait(f, -1), CFUT_OK);
        if (c) {
            CHECK(future_cancelled(f));
            CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
            cancelled++;
        } else {
            CHECK(!future_cancelled(f));
            CHECK_STATUS(future_status(f), CFUT_OK);
        }
        future_release(f);
    }
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, cancelled);
    CHECK_EQ(s.completed, N - cancelled);
    CHECK_EQ(atomic_load(&ran_count), (int)(N - cancelled));
    executor_free(ex);
}

/* cancel() of a running or finished executor future: false, unchanged. */
static void test_cancel_running_or_finished(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *f = submit_gated(ex, &started, &go, 3);
    th_gate_wait(&started);
    CHECK(future_running(f));
    CHECK(!future_cancel(f));
    CHECK(future_running(f));
    CHECK(!future_done(f));
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(f), 3);
    CHECK(!future_cancel(f));
    CHECK(!future_cancelled(f));
    CHECK_STATUS(future_status(f), CFUT_OK);
    future_release(f);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.completed, 1);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Executor futures cannot be completed by hand (Python: only the executor
 * calls set_result on its futures). */
static void test_executor_future_not_settable(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *running = submit_gated(ex, &started, &go, 5);
    th_gate_wait(&started);
    future_t *queued = submit(ex, task_nothing, NULL, 0);
    future_t *fs[2] = { running, queued };
    for (int i = 0; i < 2; i++) {
        CHECK_STATUS(future_set_result(fs[i], "x", 1), CFUT_EINVAL);
        CHECK_STATUS(future_set_error(fs[i], 1, "no"), CFUT_EINVAL);
        CHECK(!future_set_running_or_notify_cancel(fs[i]));
        CHECK(!future_done(fs[i]));
    }
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(running), 5);
    CHECK_STATUS(future_result(queued, -1, NULL, NULL), CFUT_OK);
    CHECK_STATUS(future_set_result(running, "x", 1), CFUT_EINVAL);
    release_all(fs, 2);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* A result wait that times out leaves the executor future usable. */
static void test_result_timeout_then_ok(void)
{
    th_gate go;
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *f = submit_gated(ex, NULL, &go, 9);
    const void *data = (const void *)1;
    size_t len = 5;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_ETIMEDOUT);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    CHECK_STATUS(future_result(f, 0.02, NULL, NULL), CFUT_ETIMEDOUT);
    CHECK_STATUS(future_wait(f, 0.01), CFUT_ETIMEDOUT);
    CHECK_STATUS(future_status(f), CFUT_ETIMEDOUT);
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(f), 9);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&go);
}

/* ---- callbacks on executor futures ------------------------------------ */

/* A callback registered before completion runs once, in the worker thread
 * that completed the future, with the future done. */
static void test_done_callback_in_worker(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *f = submit_gated(ex, &started, &go, 1);
    th_gate_wait(&started);
    cb_record r;
    memset(&r, 0, sizeof r);
    r.thread = pthread_self();
    CHECK_STATUS(future_add_done_callback(f, record_cb, &r), CFUT_OK);
    CHECK_EQ(atomic_load(&r.calls), 0);
    th_gate_open(&go, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(atomic_load(&r.calls), 1);
    CHECK(!pthread_equal(r.thread, pthread_self()));
    CHECK(r.done_inside);
    CHECK(!r.cancelled_inside);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* A done callback may submit to the same executor and read its own result
 * (no lock held while it runs: no deadlock). */
typedef struct { executor_t *ex; future_t *next; int seen; th_gate *done; } chain_cb;

static void submit_from_cb(future_t *f, void *user)
{
    chain_cb *c = user;
    int v = -1;
    if (future_result_copy(f, 0, &v, sizeof v) == CFUT_OK)
        c->seen = v;
    int x = v + 1;
    c->next = executor_submit(c->ex, task_double, &x, sizeof x);
    th_gate_open(c->done, 1);
}

static void test_submit_from_done_callback(void)
{
    th_gate go, done;
    th_gate_init(&go);
    th_gate_init(&done);
    executor_t *ex = new_pool(1);
    future_t *f = submit_gated(ex, NULL, &go, 20);
    chain_cb c = { ex, NULL, 0, &done };
    CHECK_STATUS(future_add_done_callback(f, submit_from_cb, &c), CFUT_OK);
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(f), 20);
    /* Waiters wake before callbacks run: wait for the callback itself. */
    th_gate_wait(&done);
    CHECK(c.next != NULL);
    CHECK_EQ(c.seen, 20);
    CHECK_EQ(result_int(c.next), 42);
    future_release(c.next);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&go);
    th_gate_destroy(&done);
}

/* ---- tasks that submit ------------------------------------------------ */

typedef struct { executor_t *ex; int x; } fwd_arg;

/* Submits x to the other executor, waits, returns its result + 1. */
static int task_forward(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    fwd_arg a;
    memcpy(&a, arg, sizeof a);
    future_t *f = executor_submit(a.ex, task_double, &a.x, sizeof a.x);
    int v = 0;
    int rc = future_result_copy(f, -1, &v, sizeof v);
    future_release(f);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "inner: %s", cfut_status_name(rc));
    v += 1;
    return cfut_return(t, &v, sizeof v);
}

/* A task submits to another executor and waits on it. */
static void test_task_submits_to_other_executor(void)
{
    executor_t *outer = new_pool(2), *inner = new_pool(1);
    future_t *fs[10];
    for (int i = 0; i < 10; i++) {
        fwd_arg a = { inner, i };
        fs[i] = submit(outer, task_forward, &a, sizeof a);
    }
    for (int i = 0; i < 10; i++)
        CHECK_EQ(result_int(fs[i]), 2 * i + 1);
    release_all(fs, 10);
    executor_free(outer);
    executor_free(inner);
}

/* A task submits to its own executor and waits (with a free worker). */
static void test_task_submits_to_own_executor(void)
{
    executor_t *ex = new_pool(2);
    fwd_arg a = { ex, 7 };
    future_t *f = submit(ex, task_forward, &a, sizeof a);
    CHECK_EQ(result_int(f), 15);
    future_release(f);
    executor_free(ex);
}

/* test_thread_pool.py test_hang_global_shutdown_lock's recursive
 * submit(submit, pool), without the fork: a chain of tasks each submitting
 * the next to its own one-worker pool and dropping the future. */
typedef struct { executor_t *ex; th_gate *done; int left; } chain_arg;

static int task_chain(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    chain_arg a;
    memcpy(&a, arg, sizeof a);
    if (a.left == 0) {
        th_gate_open(a.done, 1);
        return 0;
    }
    a.left--;
    future_t *f = executor_submit(a.ex, task_chain, &a, sizeof a);
    int st = future_status(f);
    future_release(f);
    if (st != CFUT_ETIMEDOUT && st != CFUT_OK)
        return cfut_fail(t, st, "resubmit: %s", cfut_status_name(st));
    return 0;
}

static void test_self_submit_chain(void)
{
    th_gate done;
    th_gate_init(&done);
    executor_t *ex = new_pool(1);
    chain_arg a = { ex, &done, 200 };
    future_release(submit(ex, task_chain, &a, sizeof a));
    th_gate_wait(&done);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 201);
    CHECK_EQ(s.failed, 0);
    CHECK_EQ(s.workers_started, 1);
    executor_free(ex);
    th_gate_destroy(&done);
}

/* ---- many submitting threads ------------------------------------------ */

enum { SUBMITTERS = 8, PER_THREAD = 1000 };

typedef struct { executor_t *ex; int id; int bad; } submitter;

static void submitter_main(void *p)
{
    submitter *s = p;
    future_t **fs = calloc(PER_THREAD, sizeof *fs);
    if (!fs) {
        s->bad = -1;
        return;
    }
    for (int i = 0; i < PER_THREAD; i++) {
        int x = s->id * PER_THREAD + i;
        fs[i] = executor_submit(s->ex, task_double, &x, sizeof x);
    }
    for (int i = 0; i < PER_THREAD; i++) {
        int v = -1;
        if (!fs[i] || future_result_copy(fs[i], -1, &v, sizeof v) != CFUT_OK ||
            v != 2 * (s->id * PER_THREAD + i))
            s->bad++;
        future_release(fs[i]);
    }
    free(fs);
}

/* 8 threads x 1000 tasks submitted concurrently: every result is right and
 * the statistics add up. */
static void test_concurrent_submitters(void)
{
    executor_t *ex = new_pool(4);
    submitter subs[SUBMITTERS];
    th_thread *th[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (submitter){ ex, i, 0 };
        th[i] = th_spawn(submitter_main, &subs[i]);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        th_join(th[i]);
    for (int i = 0; i < SUBMITTERS; i++)
        CHECK_EQ(subs[i].bad, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, SUBMITTERS * PER_THREAD);
    CHECK_EQ(s.failed, 0);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK(s.workers_started >= 1 && s.workers_started <= 4);
    executor_free(ex);
}

/* ---- statistics ------------------------------------------------------- */

static int task_code(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    int code;
    memcpy(&code, arg, sizeof code);
    if (code < 0)
        return cfut_fail(t, -code, "failed with %d", -code);
    return code;
}

/* Exact counts once the executor is quiescent; refused submissions (EINVAL,
 * ESHUTDOWN) count nowhere. */
static void test_stats_exact_when_quiescent(void)
{
    executor_t *ex = new_pool(3);
    int codes[] = { 0, 0, 0, 5, -6, 0, 7 };
    enum { N = sizeof codes / sizeof codes[0] };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_code, &codes[i], sizeof codes[i]);
    CHECK_STATUS(futures_wait(fs, N, -1, FUTURES_ALL_COMPLETED), CFUT_OK);
    future_t *bad1 = submit(ex, NULL, NULL, 0);
    future_t *bad2 = submit(ex, task_code, NULL, 3);
    CHECK_STATUS(future_status(bad1), CFUT_EINVAL);
    CHECK_STATUS(future_status(bad2), CFUT_EINVAL);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    future_t *late = submit(ex, task_code, &codes[0], sizeof codes[0]);
    CHECK_STATUS(future_status(late), CFUT_ESHUTDOWN);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 4);
    CHECK_EQ(s.failed, 3);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.workers_lost, 0);
    CHECK(s.workers_started >= 1 && s.workers_started <= 3);
    release_all(fs, N);
    future_release(bad1);
    future_release(bad2);
    future_release(late);
    executor_free(ex);
}

/* While running and idle: idle workers are counted, nothing lost. */
static void test_stats_idle(void)
{
    enum { W = 3 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(W);
    future_t *fs[W];
    for (int i = 0; i < W; i++)
        fs[i] = submit_gated(ex, &started, &go, i);
    for (int i = 0; i < W; i++)
        th_gate_wait(&started);
    th_gate_open(&go, W);
    CHECK_STATUS(futures_wait(fs, W, -1, FUTURES_ALL_COMPLETED), CFUT_OK);
    /* Completed futures' workers are idle: the next W submissions start no
     * thread (see test_idle_thread_reuse). */
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, W);
    CHECK_EQ(s.idle, W);
    CHECK_EQ(s.workers_started, W);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.completed, W);
    CHECK_EQ(s.workers_lost, 0);
    release_all(fs, W);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    s = stats(ex);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.idle, 0);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

static void test_stats_null(void)
{
    executor_stats s;
    memset(&s, 0xff, sizeof s);
    CHECK_STATUS(executor_get_stats(NULL, &s), CFUT_EINVAL);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.completed, 0);
    CHECK_EQ(s.workers_started, 0);
    CHECK_STATUS(executor_get_stats(NULL, NULL), CFUT_EINVAL);
    executor_t *ex = new_pool(1);
    CHECK_STATUS(executor_get_stats(ex, NULL), CFUT_EINVAL);
    executor_free(ex);
}

TH_CASES(
    TH_CASE(test_new_bad_options),
    TH_CASE(test_new_other_kinds),
    TH_CASE(test_max_workers_negative),
    TH_CASE(test_submit),
    TH_CASE(test_submit_many),
    TH_CASE(test_discarded_future_still_runs),
    TH_CASE(test_lazy_start),
    TH_CASE(test_idle_thread_reuse),
    TH_CASE(test_idle_thread_reuse_loop),
    TH_CASE(test_idle_workers_reused_after_saturation),
    TH_CASE(test_sleeping_workers_all_wake_for_a_burst),
    TH_CASE(test_burst_wider_than_idle_workers_all_start),
    TH_CASE(test_tasks_waiting_on_later_ones_in_a_burst),
    TH_CASE(test_saturation),
    TH_CASE(test_saturation_one_worker),
    TH_CASE(test_default_workers),
    TH_CASE(test_default_workers_affinity),
    TH_CASE(test_thread_names_assigned),
    TH_CASE(test_thread_names_prefix_copied),
    TH_CASE(test_thread_names_default),
    TH_CASE(test_thread_names_truncated),
    TH_CASE(test_workers_block_signals),
    TH_CASE(test_cancel_queued),
    TH_CASE(test_cancel_some_queued),
    TH_CASE(test_cancel_race),
    TH_CASE(test_cancel_running_or_finished),
    TH_CASE(test_executor_future_not_settable),
    TH_CASE(test_result_timeout_then_ok),
    TH_CASE(test_done_callback_in_worker),
    TH_CASE(test_submit_from_done_callback),
    TH_CASE(test_task_submits_to_other_executor),
    TH_CASE(test_task_submits_to_own_executor),
    TH_CASE(test_self_submit_chain),
    TH_CASE(test_concurrent_submitters),
    TH_CASE(test_stats_exact_when_quiescent),
    TH_CASE(test_stats_idle),
    TH_CASE(test_stats_null),
)
