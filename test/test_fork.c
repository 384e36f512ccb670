/* test/test_fork.c: fork() while thread pools run (suite 'fork'; TSan does
 * not support forking a threaded process, so it skips this suite).
 *
 * In a child forked while a pool has a running (gated) task and a queued
 * one, the inherited futures become done with CFUT_EBROKEN, executor_submit
 * on the inherited executor gives CFUT_EBROKEN, executor_free on it returns
 * promptly (no worker to join), and a new executor works. The parent is
 * unaffected. Ports CPython's test_thread_pool.py
 * test_process_fork_from_a_threadpool (bpo-43944) and
 * test_hang_global_shutdown_lock (bpo-45021).
 *
 * Also the fork start method's own fork() while another thread walks the
 * loader's list (test_fork_worker_while_walking). */
#define _GNU_SOURCE
#include "harness.h"
#include "fnref.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Under a sanitizer or valgrind, fork() is much slower (ASan's quarantine
 * and shadow memory make the address space large): the fork loops run
 * fewer rounds there. */
static bool slow_fork(void) { return TH_ASAN || TH_TSAN || RUNNING_ON_VALGRIND; }

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

static int result_int(future_t *f)
{
    int v = INT_MIN;
    CHECK_STATUS(future_result_copy(f, -1, &v, sizeof v), CFUT_OK);
    return v;
}

static int task_double(cfut_task *t, const void *arg, size_t len)
{
    int x;
    if (len != sizeof x)
        return -1;
    memcpy(&x, arg, sizeof x);
    x *= 2;
    return cfut_return(t, &x, sizeof x);
}

static atomic_int ran_count;

static int task_count_run(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int n = atomic_fetch_add(&ran_count, 1) + 1;
    return cfut_return(t, &n, sizeof n);
}

static atomic_int cb_calls;

static void count_cb(future_t *f, void *user)
{
    (void)f, (void)user;
    atomic_fetch_add(&cb_calls, 1);
}

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

/* How long a child may take: its own waits are 3 * th_scale() at most. */
static double child_limit(void) { return 2 + 4 * th_scale(); }

/* fork() with flushed stdio. The parent kills a child it cannot reap in
 * child_limit() (see reap_child); the child's own alarm (alarms are not
 * inherited) ends it should the parent die first. */
static pid_t fork_child(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0)
        alarm((unsigned)(child_limit() + 5));
    return pid;
}

static void nap(double seconds)
{
    struct timespec ts = { (time_t)seconds,
                           (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Reaps the child within `limit` seconds; if it is still running then, it
 * is killed (so no hung child outlives the case: a hang inside fork()'s
 * child handlers happens before the child's alarm() is armed) and false is
 * returned. Polls waitpid: the child's exit is what is awaited. */
static bool reap_child(pid_t pid, double limit, int *st)
{
    double end = th_now() + limit;
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            th_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
        if (th_now() > end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, st, 0) < 0 && errno == EINTR)
                ;
            return false;
        }
        nap(0.0005);
    }
}

/* The child's verdict: it exits 0 when all its CHECKs passed (a failed CHECK
 * exits 1 after printing why). */
static void check_child(pid_t pid)
{
    int st;
    if (!reap_child(pid, child_limit(), &st))
        th_fail(__FILE__, __LINE__, "child %d hung (killed after %.0f s)", (int)pid, child_limit());
    if (WIFSIGNALED(st))
        th_fail(__FILE__, __LINE__, "child killed by signal %d (%s)", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

/* Ends a child that passed its checks, with status 0. Under valgrind, exit
 * would run memcheck's leak check over everything the child inherited from
 * the parent (not the child's to free) and fail it; exec'ing a trivial
 * program ends the child without that check. A failed CHECK still exits
 * non-zero through th_fail(). */
static _Noreturn void child_pass(void)
{
    if (RUNNING_ON_VALGRIND)
        execl("/bin/true", "true", (char *)NULL);
    _exit(0);
}

/* In a child: a fresh executor runs work. */
static void check_new_executor_works(void)
{
    executor_t *ex = new_pool(2);
    for (int i = 0; i < 5; i++) {
        future_t *f = submit(ex, task_double, &i, sizeof i);
        CHECK_EQ(result_int(f), 2 * i);
        future_release(f);
    }
    executor_free(ex);
}

/* ---- cases ------------------------------------------------------------ */

/* A running (gated) and a queued task at fork time. */
static void test_fork_busy_pool(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(1);
    int x = 8;
    future_t *done = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(done), 16);
    gated_arg a = { &started, &go, 5 };
    future_t *running = submit(ex, task_gated, &a, sizeof a);
    th_gate_wait(&started);
    future_t *queued = submit(ex, task_count_run, NULL, 0);
    atomic_store(&cb_calls, 0);
    CHECK_STATUS(future_add_done_callback(queued, count_cb, NULL), CFUT_OK);

    pid_t pid = fork_child();
    if (pid == 0) {
        /* Child: the inherited pending futures end as broken, and their
         * callbacks run (here, once). */
        CHECK_EQ(atomic_load(&cb_calls), 1);
        future_t *pending[2] = { running, queued };
        for (int i = 0; i < 2; i++) {
            CHECK_STATUS(future_wait(pending[i], 3 * th_scale()), CFUT_OK);
            CHECK(future_done(pending[i]));
            CHECK_STATUS(future_status(pending[i]), CFUT_EBROKEN);
            CHECK_STATUS(future_result(pending[i], 0, NULL, NULL), CFUT_EBROKEN);
            CHECK(future_error_message(pending[i]) != NULL);
        }
        /* A future that was done before the fork keeps its result. */
        CHECK_EQ(result_int(done), 16);
        /* Submitting to the inherited executor: broken. */
        future_t *f = submit(ex, task_count_run, NULL, 0);
        CHECK_STATUS(future_wait(f, 3 * th_scale()), CFUT_OK);
        CHECK_STATUS(future_status(f), CFUT_EBROKEN);
        future_release(f);
        /* No worker here; shutdown with WAIT and free return at once (there
         * is nothing to join). */
        executor_stats s;
        CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
        CHECK_EQ(s.workers, 0);
        CHECK_EQ(s.running, 0);
        CHECK_EQ(s.queued, 0);
        CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
        executor_free(ex);
        CHECK_EQ(atomic_load(&ran_count), 0);
        CHECK_EQ(atomic_load(&cb_calls), 1);
        future_release(running);
        future_release(queued);
        future_release(done);
        check_new_executor_works();
        CHECK_EQ(atomic_load(&ran_count), 0);
        child_pass();
    }
    check_child(pid);

    /* Parent: untouched by the child's view of things. */
    CHECK(future_running(running));
    CHECK(!future_done(queued));
    CHECK_EQ(atomic_load(&cb_calls), 0);
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(running), 5);
    CHECK_EQ(result_int(queued), 1);
    future_t *more = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(more), 16);
    future_release(more);
    future_release(running);
    future_release(queued);
    future_release(done);
    executor_free(ex);
    CHECK_EQ(atomic_load(&cb_calls), 1); /* ran in the worker, joined by now */
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* A pool with only idle workers at fork time. */
static void test_fork_idle_pool(void)
{
    executor_t *ex = new_pool(3);
    int x = 3;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 6);
    future_release(f);

    pid_t pid = fork_child();
    if (pid == 0) {
        f = submit(ex, task_double, &x, sizeof x);
        CHECK_STATUS(future_wait(f, 3 * th_scale()), CFUT_OK);
        CHECK_STATUS(future_status(f), CFUT_EBROKEN);
        future_release(f);
        executor_free(ex);
        check_new_executor_works();
        child_pass();
    }
    check_child(pid);
    f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 6);
    future_release(f);
    executor_free(ex);
}

/* An executor made before the fork that never started a worker. */
static void test_fork_unstarted_pool(void)
{
    executor_t *ex = new_pool(2);
    pid_t pid = fork_child();
    if (pid == 0) {
        int x = 1;
        future_t *f = submit(ex, task_double, &x, sizeof x);
        CHECK_STATUS(future_wait(f, 3 * th_scale()), CFUT_OK);
        /* Either it is inherited-and-broken, or it may start its workers
         * here: both are sound for a pool with no thread yet. */
        int st = future_status(f);
        if (st == CFUT_OK)
            CHECK_EQ(result_int(f), 2);
        else
            CHECK_STATUS(st, CFUT_EBROKEN);
        future_release(f);
        executor_free(ex);
        check_new_executor_works();
        child_pass();
    }
    check_child(pid);
    int x = 4;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 8);
    future_release(f);
    executor_free(ex);
}

/* Forks from inside a task. The child (a copy of the worker thread) runs
 * child_body, which exits (0: passed); the task returns the child's exit
 * status. */
static int fork_in_task(cfut_task *t, const void *arg, size_t len,
                        void (*child_body)(const void *arg, size_t len))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return cfut_fail(t, errno, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm((unsigned)(child_limit() + 5));
        child_body(arg, len); /* exits */
        _exit(2);
    }
    int st;
    if (!reap_child(pid, child_limit(), &st))
        return cfut_fail(t, 99, "child %d hung", (int)pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return cfut_return(t, &code, sizeof code);
}

static _Noreturn void child_uses_cfut(const void *arg, size_t len)
{
    (void)arg, (void)len;
    check_new_executor_works();
    child_pass();
}

/* test_thread_pool.py: test_process_fork_from_a_threadpool: a task forks; the
 * child (a copy of a worker thread) uses cfut and exits 0. */
static int task_fork(cfut_task *t, const void *arg, size_t len)
{
    return fork_in_task(t, arg, len, child_uses_cfut);
}

static void test_process_fork_from_a_threadpool(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fork, NULL, 0);
    CHECK_EQ(result_int(f), 0);
    future_release(f);
    executor_free(ex);
}

/* A task that forks reads its argument in the child, as one that forks and
 * execs a command it was given would. The argument lives in the task's
 * future until it completes, and the fork handler fails the inherited
 * futures: the forking task's own must keep its argument intact. Sizes:
 * inline (8, 16), in the task's tail (40), on the heap (100). */
static unsigned char arg_byte(size_t len, size_t i) { return (unsigned char)(len * 7 + i * 13 + 1); }

static _Noreturn void child_checks_arg(const void *arg, size_t len)
{
    const unsigned char *a = arg;
    for (size_t i = 0; i < len; i++)
        if (a[i] != arg_byte(len, i))
            _exit(1);
    child_pass();
}

static int task_fork_reads_arg(cfut_task *t, const void *arg, size_t len)
{
    return fork_in_task(t, arg, len, child_checks_arg);
}

static void test_fork_child_keeps_task_argument(void)
{
    static const size_t sizes[] = {8, 16, 40, 100};
    executor_t *ex = new_pool(1);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char buf[100];
        for (size_t i = 0; i < sizes[k]; i++)
            buf[i] = arg_byte(sizes[k], i);
        future_t *f = submit(ex, task_fork_reads_arg, buf, sizes[k]);
        CHECK_EQ(result_int(f), 0);
        future_release(f);
    }
    executor_free(ex);
}

/* test_thread_pool.py: test_hang_global_shutdown_lock: fork repeatedly while
 * a pool keeps resubmitting to itself and another thread keeps submitting
 * to a second pool; every child must be able to make and free executors
 * (no lock left held across the fork). */
static atomic_bool chain_stop;

static int task_chain(cfut_task *t, const void *arg, size_t len)
{
    (void)t;
    if (atomic_load(&chain_stop))
        return 0;
    future_release(executor_submit(*(executor_t *const *)arg, task_chain, arg, len));
    return 0;
}

typedef struct { executor_t *ex; int bad; } spinner;

static void spinner_main(void *p)
{
    spinner *s = p;
    for (int i = 0; !atomic_load(&chain_stop); i++) {
        future_t *f = executor_submit(s->ex, task_double, &i, sizeof i);
        int v = 0;
        if (future_result_copy(f, -1, &v, sizeof v) != CFUT_OK || v != 2 * i)
            s->bad++;
        future_release(f);
    }
}

static void test_hang_global_shutdown_lock(void)
{
    if (TH_ASAN) /* forks while two threads allocate: see harness.h */
        th_skip("gcc 12's libasan does not lock its allocator around fork()");
    atomic_store(&chain_stop, false);
    executor_t *self_pool = new_pool(1);
    executor_t *other = new_pool(2);
    future_release(submit(self_pool, task_chain, &self_pool, sizeof self_pool));
    spinner sp = { other, 0 };
    th_thread *th = th_spawn(spinner_main, &sp);
    for (int i = 0; i < 30; i++) {
        pid_t pid = fork_child();
        if (pid == 0) {
            check_new_executor_works();
            executor_free(self_pool);
            executor_free(other);
            child_pass();
        }
        check_child(pid);
    }
    atomic_store(&chain_stop, true);
    th_join(th);
    CHECK_EQ(sp.bad, 0);
    executor_free(self_pool);
    executor_free(other);
}

/* A grandchild: fork in a child that itself made pools after a fork. */
static void test_fork_twice(void)
{
    executor_t *ex = new_pool(2);
    int x = 1;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 2);
    future_release(f);
    pid_t pid = fork_child();
    if (pid == 0) {
        executor_t *mine = new_pool(2);
        f = submit(mine, task_double, &x, sizeof x);
        CHECK_EQ(result_int(f), 2);
        future_release(f);
        pid_t gpid = fork_child();
        if (gpid == 0) {
            f = submit(mine, task_double, &x, sizeof x);
            CHECK_STATUS(future_wait(f, 3 * th_scale()), CFUT_OK);
            CHECK_STATUS(future_status(f), CFUT_EBROKEN);
            future_release(f);
            executor_free(mine);
            executor_free(ex);
            check_new_executor_works();
            child_pass();
        }
        check_child(gpid);
        f = submit(mine, task_double, &x, sizeof x);
        CHECK_EQ(result_int(f), 2);
        future_release(f);
        executor_free(mine);
        executor_free(ex);
        child_pass();
    }
    check_child(pid);
    executor_free(ex);
}


/* fork() while another thread is inside the library on a queued future
 * (creating and freeing an as-completed iterator on it takes and drops the
 * future's internal lock over and over): the child must still fail the
 * inherited future promptly instead of waiting on a lock whose holder does
 * not exist in the child. */
typedef struct { future_t *f; atomic_bool stop; atomic_long rounds; } watcher;

static void watcher_main(void *p)
{
    watcher *w = p;
    while (!atomic_load(&w->stop)) {
        futures_iter *it = futures_as_completed(&w->f, 1);
        futures_iter_free(it);
        (void)futures_wait(&w->f, 1, 1e-9, FUTURES_FIRST_COMPLETED);
        atomic_fetch_add(&w->rounds, 1);
    }
}

static void test_fork_while_future_in_use(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    gated_arg a = { &started, &go, 1 };
    future_t *running = submit(ex, task_gated, &a, sizeof a);
    th_gate_wait(&started);
    future_t *queued = submit(ex, task_count_run, NULL, 0);
    watcher w = { queued, false, 0 };
    th_thread *th[2] = { th_spawn(watcher_main, &w), th_spawn(watcher_main, &w) };
    int forks = slow_fork() ? 30 : 500;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork_child();
        if (pid == 0) {
            CHECK_STATUS(future_wait(queued, 3 * th_scale()), CFUT_OK);
            CHECK_STATUS(future_status(queued), CFUT_EBROKEN);
            child_pass();
        }
        check_child(pid);
    }
    atomic_store(&w.stop, true);
    th_join(th[0]);
    th_join(th[1]);
    CHECK(!future_done(queued));
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(running), 1);
    CHECK_STATUS(future_wait(queued, -1), CFUT_OK);
    future_release(running);
    future_release(queued);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* fork() while workers are finishing tasks: in the child every inherited
 * future ends done -- with its result if it completed before the fork,
 * CFUT_EBROKEN otherwise -- including one whose task had returned but whose
 * future was not yet completed when the fork happened. */
static void test_fork_while_tasks_complete(void)
{
    enum { N = 256 };
    int rounds = slow_fork() ? 150 : 1000;
    executor_t *ex = new_pool(8);
    for (int round = 0; round < rounds; round++) {
        future_t *fs[N];
        for (int i = 0; i < N; i++)
            fs[i] = submit(ex, task_double, &i, sizeof i);
        pid_t pid = fork_child();
        if (pid == 0) {
            int rc = futures_wait(fs, N, 3 * th_scale(), FUTURES_ALL_COMPLETED);
            if (rc != CFUT_OK) {
                for (int i = 0; i < N; i++)
                    if (!future_done(fs[i]))
                        fprintf(stderr, "# round %d: future %d still %s in the child\n",
                                round, i, future_running(fs[i]) ? "running" : "pending");
            }
            CHECK_STATUS(rc, CFUT_OK);
            for (int i = 0; i < N; i++) {
                int st = future_status(fs[i]);
                if (st == CFUT_OK)
                    CHECK_EQ(result_int(fs[i]), 2 * i);
                else
                    CHECK_STATUS(st, CFUT_EBROKEN);
            }
            child_pass();
        }
        check_child(pid);
        for (int i = 0; i < N; i++) {
            CHECK_EQ(result_int(fs[i]), 2 * i);
            future_release(fs[i]);
        }
    }
    executor_free(ex);
}

/* A fork-started worker forked while another thread of ours walks the
 * loader's list (cfut__fnref_of, as every process-pool submission does)
 * must not inherit glibc's dl_load_write_lock held: it would hang in its
 * first resolve (the soak found it). One task per worker, so every task
 * forks; a thread resolves without pause meanwhile. */
static atomic_bool walking;

static void walker_main(void *arg)
{
    (void)arg;
    cfut__fnref fr;
    while (atomic_load(&walking))
        CHECK_STATUS(cfut__fnref_of((cfut_fn)task_double, &fr), CFUT_OK);
}

static void test_fork_worker_while_walking(void)
{
    if (TH_ASAN) /* forks while a thread allocates: see tools.h */
        th_skip("gcc 12's libasan does not lock its allocator around fork()");
    executor_options o = {.max_workers = 1, .start = EXECUTOR_START_FORK,
                          .max_tasks_per_worker = 1};
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
    atomic_store(&walking, true);
    th_thread *th = th_spawn(walker_main, NULL);
    int n = RUNNING_ON_VALGRIND ? 5 : 60;
    for (int i = 0; i < n; i++) {
        future_t *f = submit(ex, task_double, &i, sizeof i);
        int v = -1;
        CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &v, sizeof v), CFUT_OK);
        CHECK_EQ(v, 2 * i);
        future_release(f);
    }
    atomic_store(&walking, false);
    th_join(th);
    executor_stats st;
    executor_get_stats(ex, &st);
    CHECK_EQ(st.workers_started, (size_t)n);
    executor_free(ex);
}

/* A fork-started worker must not complete the futures it inherits: doing
 * so notifies their waiters, and a waiter's lock (an iterator's, here taken
 * without pause by another thread) may be held at the fork by a thread the
 * worker does not have. Seen under valgrind as a worker hung before its
 * first task. */
static atomic_bool polling;

static void poller_main(void *arg)
{
    futures_iter *it = arg;
    while (atomic_load(&polling)) {
        future_t *got = NULL;
        CHECK_STATUS(futures_next(it, 0, &got), CFUT_ETIMEDOUT);
    }
}

static void test_fork_worker_while_iterating(void)
{
    if (TH_ASAN) /* forks while a thread allocates: see tools.h */
        th_skip("gcc 12's libasan does not lock its allocator around fork()");
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *threads = new_pool(1);
    gated_arg a = { &started, &go, 7 };
    future_t *gated = submit(threads, task_gated, &a, sizeof a);
    th_gate_wait(&started);
    futures_iter *it = futures_as_completed(&gated, 1);
    CHECK(it != NULL);
    atomic_store(&polling, true);
    th_thread *th = th_spawn(poller_main, it);

    executor_options o = {.max_workers = 1, .start = EXECUTOR_START_FORK,
                          .max_tasks_per_worker = 1};
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
    int n = RUNNING_ON_VALGRIND ? 5 : 60;
    for (int i = 0; i < n; i++) {
        future_t *f = submit(ex, task_double, &i, sizeof i);
        int v = -1;
        CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &v, sizeof v), CFUT_OK);
        CHECK_EQ(v, 2 * i);
        future_release(f);
    }
    executor_free(ex);
    atomic_store(&polling, false);
    th_join(th);
    th_gate_open(&go, 1);
    future_t *got = NULL;
    CHECK_STATUS(futures_next(it, TH_LONG_WAIT, &got), CFUT_OK);
    CHECK(got == gated);
    future_release(got);
    CHECK_EQ(result_int(gated), 7);
    futures_iter_free(it);
    future_release(gated);
    executor_free(threads);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* An as-completed iterator's descriptor is shared with a child across
 * fork(); the child completes the futures it inherited (EBROKEN) and must
 * not make the parent's descriptor readable: the parent's futures are still
 * pending (the soak found it: a poll() loop spun). */
static void test_fork_leaves_iterator_fd(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    gated_arg a = { &started, &go, 5 };
    future_t *running = submit(ex, task_gated, &a, sizeof a);
    th_gate_wait(&started);
    futures_iter *it = futures_as_completed(&running, 1);
    CHECK(it != NULL);
    int fd = futures_iter_fd(it);
    CHECK_INT(fd, >=, 0);
    struct pollfd p = { fd, POLLIN, 0 };
    CHECK_EQ(poll(&p, 1, 0), 0);

    pid_t pid = fork_child();
    if (pid == 0) {
        CHECK_STATUS(future_wait(running, 3 * th_scale()), CFUT_OK);
        CHECK_STATUS(future_status(running), CFUT_EBROKEN);
        future_t *got = NULL;
        CHECK_STATUS(futures_next(it, 3 * th_scale(), &got), CFUT_OK);
        CHECK(got == running);
        future_release(got); /* yielded: owned */
        futures_iter_free(it);
        executor_free(ex);
        future_release(running);
        child_pass();
    }
    check_child(pid);
    /* The child is gone and our future still pending: nothing to read. */
    p.revents = 0;
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK(!future_done(running));
    th_gate_open(&go, 1);
    p.revents = 0;
    CHECK_EQ(poll(&p, 1, (int)(TH_LONG_WAIT * 1000)), 1);
    future_t *got = NULL;
    CHECK_STATUS(futures_next(it, 0, &got), CFUT_OK);
    CHECK(got == running);
    future_release(got); /* yielded: owned */
    CHECK_EQ(result_int(running), 5);
    futures_iter_free(it);
    future_release(running);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

TH_CASES(
    TH_CASE(test_fork_worker_while_walking),
    TH_CASE(test_fork_leaves_iterator_fd),
    TH_CASE(test_fork_worker_while_iterating),
    TH_CASE(test_fork_busy_pool),
    TH_CASE(test_fork_idle_pool),
    TH_CASE(test_fork_unstarted_pool),
    TH_CASE(test_fork_child_keeps_task_argument),
    TH_CASE(test_process_fork_from_a_threadpool),
    TH_CASE(test_hang_global_shutdown_lock),
    TH_CASE(test_fork_twice),
    TH_CASE(test_fork_while_future_in_use),
    TH_CASE(test_fork_while_tasks_complete),
)
