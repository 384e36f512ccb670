/* test/test_shutdown.c: executor_shutdown and executor_free on the thread
 * pool.
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_shutdown.py
 * (ExecutorShutdownTest, ThreadPoolShutdownTest) and executor.py's
 * test_shutdown_race_issue12456. The interpreter-exit cases
 * (test_interpreter_shutdown, test_submit_after_interpreter_shutdown,
 * test_hang_gh83386) have no C counterpart: a C program that returns from
 * main() ends its threads. Concurrency is gated on th_gate, never on sleeps. */
#define _GNU_SOURCE
#include "harness.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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

static void nap(double seconds)
{
    struct timespec ts = { (time_t)seconds,
                           (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0)
        ;
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
    (void)t, (void)arg, (void)len;
    atomic_fetch_add(&ran_count, 1);
    return 0;
}

/* Posts `started`, blocks on `go` (if any), returns `value`. */
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

/* Posts `started`, then polls cfut_should_stop() for up to 20 s; returns
 * whether it was asked to stop (as an int result). */
static int task_until_stop(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    th_gate *started;
    memcpy(&started, arg, sizeof started);
    th_gate_open(started, 1);
    double end = th_now() + 20;
    int stopped = 0;
    while (!(stopped = cfut_should_stop(t)) && th_now() < end)
        nap(0.001);
    return cfut_return(t, &stopped, sizeof stopped);
}

/* ---- submit after shutdown, flags ------------------------------------- */

/* test_shutdown.py: test_run_after_shutdown. */
static void test_run_after_shutdown(void)
{
    executor_t *ex = new_pool(2);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    int x = 2;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK(future_done(f));
    CHECK_STATUS(future_status(f), CFUT_ESHUTDOWN);
    CHECK_STATUS(future_result(f, -1, NULL, NULL), CFUT_ESHUTDOWN);
    CHECK(future_error_message(f) != NULL);
    CHECK_EQ(future_error_code(f), 0);
    CHECK(!future_cancelled(f));
    future_release(f);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_started, 0);
    CHECK_EQ(s.completed + s.failed + s.cancelled + s.queued + s.running, 0);
    executor_free(ex);
}

/* Also after shutdown with WAIT, and after the pool has run work. */
static void test_run_after_shutdown_wait(void)
{
    executor_t *ex = new_pool(2);
    int x = 4;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 8);
    future_release(f);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    f = submit(ex, task_double, &x, sizeof x);
    CHECK_STATUS(future_result(f, -1, NULL, NULL), CFUT_ESHUTDOWN);
    future_release(f);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.failed, 0);
    executor_free(ex);
}

/* Idempotent; a later call may add WAIT. */
static void test_shutdown_idempotent(void)
{
    executor_t *ex = new_pool(2);
    int x = 1;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_done(f));
    CHECK_EQ(stats(ex).workers, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT | EXECUTOR_CANCEL_PENDING), CFUT_OK);
    CHECK_EQ(result_int(f), 2);
    future_release(f);
    executor_free(ex);
}

/* A later call can add EXECUTOR_CANCEL_PENDING: what is still queued then is
 * cancelled. */
static void test_shutdown_add_cancel_later(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 1);
    th_gate_wait(&started);
    future_t *fs[5];
    for (int i = 0; i < 5; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    for (int i = 0; i < 5; i++)
        CHECK(!future_done(fs[i]));
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    for (int i = 0; i < 5; i++) {
        CHECK(future_cancelled(fs[i]));
        CHECK_STATUS(future_status(fs[i]), CFUT_ECANCELLED);
    }
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(blocker), 1);
    future_release(blocker);
    release_all(fs, 5);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Unknown flag bits and NULL are refused, and a refused call does not shut
 * the executor down. */
static void test_shutdown_bad_flags(void)
{
    CHECK_STATUS(executor_shutdown(NULL, 0), CFUT_EINVAL);
    CHECK_STATUS(executor_shutdown(NULL, EXECUTOR_WAIT), CFUT_EINVAL);
    executor_t *ex = new_pool(1);
    CHECK_STATUS(executor_shutdown(ex, 16), CFUT_EINVAL);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT | 32), CFUT_EINVAL);
    CHECK_STATUS(executor_shutdown(ex, UINT_MAX), CFUT_EINVAL);
    CHECK_STATUS(executor_shutdown(ex, 1u << 31), CFUT_EINVAL);
    int x = 3;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 6);
    future_release(f);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT | EXECUTOR_CANCEL_PENDING |
                                       EXECUTOR_TERMINATE | EXECUTOR_KILL), CFUT_OK);
    executor_free(ex);
}

/* An executor that never ran anything shuts down at once, starting no
 * worker. */
static void test_shutdown_unused(void)
{
    executor_t *ex = new_pool(4);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_started, 0);
    CHECK_EQ(s.workers, 0);
    executor_free(ex);
    ex = new_pool(4);
    executor_free(ex); /* free without shutdown, nothing ever submitted */
}

static void test_free_null(void)
{
    executor_free(NULL);
}

/* ---- queued work still runs ------------------------------------------- */

/* test_shutdown.py: test_hang_issue12364: 50 queued tasks, shutdown without
 * waiting, every result still arrives. */
static void test_hang_issue12364(void)
{
    enum { N = 50 };
    executor_t *ex = new_pool(5);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(result_int(fs[i]), 2 * i);
    release_all(fs, N);
    executor_free(ex);
}

/* Queued behind a gated task when shutdown(0) is called: they run once the
 * gate opens (no cancel flag). */
static void test_shutdown_keeps_queued(void)
{
    enum { N = 10 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, -1);
    th_gate_wait(&started);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK_EQ(stats(ex).queued, N);
    th_gate_open(&go, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        CHECK_EQ(result_int(fs[i]), 2 * i);
    }
    CHECK_EQ(stats(ex).completed, N + 1);
    future_release(blocker);
    release_all(fs, N);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* test_shutdown.py: test_shutdown_no_wait (ThreadPoolShutdownTest). */
static void test_shutdown_no_wait(void)
{
    enum { N = 10 };
    executor_t *ex = new_pool(5);
    future_t *fs[N];
    for (int i = 0; i < N; i++) {
        int x = i - 5;
        fs[i] = submit(ex, task_double, &x, sizeof x);
    }
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    executor_free(ex); /* joins the workers */
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        CHECK_EQ(result_int(fs[i]), 2 * (i - 5));
    }
    release_all(fs, N);
}

/* ---- cancel_futures --------------------------------------------------- */

/* test_shutdown.py: test_cancel_futures. With the workers gated, the counts
 * are exact: everything queued is cancelled, the running tasks finish. */
static void test_cancel_futures(void)
{
    enum { W = 2, N = 50 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(W);
    future_t *fs[N];
    for (int i = 0; i < W; i++)
        fs[i] = submit_gated(ex, &started, &go, i);
    for (int i = 0; i < W; i++)
        th_gate_wait(&started);
    for (int i = W; i < N; i++)
        fs[i] = submit(ex, task_count_run, NULL, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    size_t cancelled = 0;
    for (int i = 0; i < N; i++)
        cancelled += future_cancelled(fs[i]);
    CHECK_EQ(cancelled, N - W);
    for (int i = W; i < N; i++)
        CHECK_STATUS(future_status(fs[i]), CFUT_ECANCELLED);
    for (int i = 0; i < W; i++)
        CHECK(!future_done(fs[i]));
    th_gate_open(&go, W);
    for (int i = 0; i < W; i++)
        CHECK_EQ(result_int(fs[i]), i);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(atomic_load(&ran_count), 0);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, N - W);
    CHECK_EQ(s.completed, W);
    CHECK_EQ(s.failed, 0);
    CHECK_EQ(s.queued, 0);
    release_all(fs, N);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Without gating, as CPython does it: quick tasks, 5 workers, shutdown with
 * cancel. Every future is done afterwards, cancelled or successful. */
static void test_cancel_futures_ungated(void)
{
    enum { N = 50 };
    executor_t *ex = new_pool(5);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING | EXECUTOR_WAIT), CFUT_OK);
    size_t cancelled = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        if (future_cancelled(fs[i])) {
            cancelled++;
        } else {
            CHECK_EQ(result_int(fs[i]), 2 * i);
            ok++;
        }
    }
    CHECK_EQ(cancelled + ok, N);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, cancelled);
    CHECK_EQ(s.completed, ok);
    release_all(fs, N);
    executor_free(ex);
}

typedef struct { atomic_int calls; pthread_t thread; } cb_record;

static void record_cb(future_t *f, void *user)
{
    (void)f;
    cb_record *r = user;
    r->thread = pthread_self();
    atomic_fetch_add(&r->calls, 1);
}

/* Cancelled futures' callbacks run in the thread calling shutdown, before it
 * returns (even without WAIT). */
static void test_cancel_futures_callbacks(void)
{
    enum { Q = 6 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 0);
    th_gate_wait(&started);
    future_t *fs[Q];
    cb_record rec[Q];
    for (int i = 0; i < Q; i++) {
        fs[i] = submit(ex, task_count_run, NULL, 0);
        memset(&rec[i], 0, sizeof rec[i]);
        CHECK_STATUS(future_add_done_callback(fs[i], record_cb, &rec[i]), CFUT_OK);
    }
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    for (int i = 0; i < Q; i++) {
        CHECK_EQ(atomic_load(&rec[i].calls), 1);
        CHECK(pthread_equal(rec[i].thread, pthread_self()));
    }
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(blocker), 0);
    future_release(blocker);
    release_all(fs, Q);
    executor_free(ex);
    for (int i = 0; i < Q; i++)
        CHECK_EQ(atomic_load(&rec[i].calls), 1);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* CANCEL_PENDING leaves running tasks to finish, asking them to stop. */
static void test_cancel_pending_running_finish(void)
{
    th_gate started;
    th_gate_init(&started);
    executor_t *ex = new_pool(2);
    th_gate *sp = &started;
    future_t *a = submit(ex, task_until_stop, &sp, sizeof sp);
    future_t *b = submit(ex, task_until_stop, &sp, sizeof sp);
    th_gate_wait(&started);
    th_gate_wait(&started);
    future_t *queued = submit(ex, task_count_run, NULL, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING | EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_cancelled(queued));
    CHECK_EQ(result_int(a), 1);
    CHECK_EQ(result_int(b), 1);
    CHECK(!future_cancelled(a) && !future_cancelled(b));
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 2);
    CHECK_EQ(s.cancelled, 1);
    CHECK_EQ(s.workers, 0);
    future_release(a);
    future_release(b);
    future_release(queued);
    executor_free(ex);
    th_gate_destroy(&started);
}

/* TERMINATE and KILL cannot kill threads: they act as CANCEL_PENDING, and
 * without WAIT return while a task is still gated. */
static void terminate_like(unsigned flag)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 5);
    th_gate_wait(&started);
    future_t *queued = submit(ex, task_count_run, NULL, 0);
    CHECK_STATUS(executor_shutdown(ex, flag), CFUT_OK);
    CHECK(!future_done(blocker)); /* returned without waiting for it */
    CHECK(future_cancelled(queued));
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(blocker), 5);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(atomic_load(&ran_count), 0);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, 1);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.workers_lost, 0);
    future_release(blocker);
    future_release(queued);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

static void test_terminate_acts_as_cancel_pending(void) { terminate_like(EXECUTOR_TERMINATE); }
static void test_kill_acts_as_cancel_pending(void) { terminate_like(EXECUTOR_KILL); }

/* TERMINATE asks running tasks to stop too. */
static void test_terminate_sets_should_stop(void)
{
    th_gate started;
    th_gate_init(&started);
    executor_t *ex = new_pool(1);
    th_gate *sp = &started;
    future_t *f = submit(ex, task_until_stop, &sp, sizeof sp);
    th_gate_wait(&started);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_TERMINATE | EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_done(f));
    CHECK_EQ(result_int(f), 1);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
}

/* test_shutdown.py: test_cancel_futures_wait_false: shutdown with cancel and
 * no wait, then free: the task either ran or was cancelled. */
static void test_cancel_futures_wait_false(void)
{
    executor_t *ex = new_pool(0);
    int x = 21;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    executor_free(ex);
    CHECK(future_done(f));
    if (!future_cancelled(f))
        CHECK_EQ(result_int(f), 42);
    else
        CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
    future_release(f);
}

/* ---- WAIT and no WAIT ------------------------------------------------- */

/* Without WAIT, shutdown returns while a task is gated. */
static void test_shutdown_no_wait_returns_promptly(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(2);
    future_t *f = submit_gated(ex, &started, &go, 8);
    th_gate_wait(&started);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK(future_running(f));
    CHECK(!future_done(f));
    CHECK_EQ(stats(ex).running, 1);
    th_gate_open(&go, 1);
    CHECK_EQ(result_int(f), 8);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* With WAIT, every future is done and every worker gone when it returns. */
static void test_shutdown_wait_waits(void)
{
    enum { N = 20 };
    th_gate go;
    th_gate_init(&go);
    executor_t *ex = new_pool(3);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit_gated(ex, NULL, &go, i);
    th_gate_open(&go, N);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK(future_done(fs[i]));
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.completed, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(result_int(fs[i]), i);
    release_all(fs, N);
    executor_free(ex);
    th_gate_destroy(&go);
}

/* test_shutdown.py: test_threads_terminate: 3 gated tasks make 3 workers;
 * after shutdown(WAIT) none is left. */
static void test_threads_terminate(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(5);
    future_t *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = submit_gated(ex, &started, &go, i);
    for (int i = 0; i < 3; i++)
        th_gate_wait(&started);
    CHECK_EQ(stats(ex).workers, 3);
    th_gate_open(&go, 3);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.workers_started, 3);
    release_all(fs, 3);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* test_shutdown.py: test_hang_gh94440: a future submitted and cancelled
 * right before shutdown(WAIT) does not hang it. */
static void test_hang_gh94440(void)
{
    executor_t *ex = new_pool(1);
    int x = 0;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK_EQ(result_int(f), 0);
    future_release(f);
    f = submit(ex, task_double, &x, sizeof x);
    (void)future_cancel(f);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_done(f));
    future_release(f);
    executor_free(ex);
}

/* The same, with the cancel certain: the worker is gated when it happens. */
static void test_hang_gh94440_gated(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 0);
    th_gate_wait(&started);
    int x = 0;
    future_t *f = submit(ex, task_double, &x, sizeof x);
    CHECK(future_cancel(f));
    th_gate_open(&go, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_done(blocker));
    future_release(blocker);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* executor.py: test_shutdown_race_issue12456: submit worker_count + 1 tasks
 * and shut down at once. */
static void test_shutdown_race_issue12456(void)
{
    enum { W = 5 };
    executor_t *ex = new_pool(W);
    future_t *fs[W + 1];
    for (int i = 0; i < W + 1; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    executor_free(ex);
    for (int i = 0; i < W + 1; i++)
        CHECK_EQ(result_int(fs[i]), 2 * i);
    release_all(fs, W + 1);
}

/* ---- executor_free ---------------------------------------------------- */

/* test_shutdown.py: test_del_shutdown / test_context_manager_shutdown:
 * executor_free without shutdown waits for queued work to run. */
static void test_free_without_shutdown_runs_queued(void)
{
    enum { N = 10 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&ran_count, 0);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 3);
    th_gate_wait(&started);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_count_run, NULL, 0);
    th_gate_open(&go, 1);
    executor_free(ex);
    CHECK_EQ(atomic_load(&ran_count), N);
    CHECK_EQ(result_int(blocker), 3);
    for (int i = 0; i < N; i++)
        CHECK_STATUS(future_status(fs[i]), CFUT_OK);
    future_release(blocker);
    release_all(fs, N);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* free after shutdown(0) with a task still gated: free joins it. */
static void test_free_after_shutdown(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(2);
    future_t *f = submit_gated(ex, &started, &go, 4);
    th_gate_wait(&started);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    th_gate_open(&go, 1);
    executor_free(ex);
    CHECK(future_done(f));
    CHECK_EQ(result_int(f), 4);
    future_release(f);
    /* And after shutdown with WAIT. */
    ex = new_pool(2);
    int x = 5;
    f = submit(ex, task_double, &x, sizeof x);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_free(ex);
    CHECK_EQ(result_int(f), 10);
    future_release(f);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

static int cb_after_free_calls;

static void count_cb(future_t *f, void *user)
{
    (void)f, (void)user;
    cb_after_free_calls++;
}

/* Futures outlive their executor: results, errors, cancellations, and
 * callbacks added later (run at once). */
static int task_fail(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return cfut_fail(t, 17, "gone but not forgotten");
}

static void test_futures_outlive_executor(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    future_t *blocker = submit_gated(ex, &started, &go, 6);
    th_gate_wait(&started);
    int x = 50;
    future_t *ok = submit(ex, task_double, &x, sizeof x);
    future_t *bad = submit(ex, task_fail, NULL, 0);
    future_t *cancelled = submit(ex, task_double, &x, sizeof x);
    CHECK(future_cancel(cancelled));
    th_gate_open(&go, 1);
    executor_free(ex);

    CHECK_EQ(result_int(blocker), 6);
    CHECK_EQ(result_int(ok), 100);
    CHECK_STATUS(future_result(bad, -1, NULL, NULL), CFUT_ETASK);
    CHECK_EQ(future_error_code(bad), 17);
    CHECK_STR(future_error_message(bad), "gone but not forgotten");
    CHECK_STATUS(future_status(cancelled), CFUT_ECANCELLED);
    future_t *all[4] = { blocker, ok, bad, cancelled };
    CHECK_STATUS(futures_wait(all, 4, 0, FUTURES_ALL_COMPLETED), CFUT_OK);
    for (int i = 0; i < 4; i++)
        CHECK_STATUS(future_add_done_callback(all[i], count_cb, NULL), CFUT_OK);
    CHECK_EQ(cb_after_free_calls, 4);
    /* The executor's reference is gone: ours is the last one. */
    for (int i = 0; i < 4; i++)
        future_release(all[i]);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* ---- shutdown from inside a task -------------------------------------- */

typedef struct {
    executor_t *ex;
    future_t *other;   /* a running task on another worker */
    th_gate *about_to; /* posted right before the shutdown call */
} inner_shutdown_arg;

typedef struct { int rc; bool other_done; } inner_shutdown_seen;

static int task_shutdown_wait(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    inner_shutdown_arg a;
    memcpy(&a, arg, sizeof a);
    if (a.about_to)
        th_gate_open(a.about_to, 1);
    inner_shutdown_seen s;
    s.rc = executor_shutdown(a.ex, EXECUTOR_WAIT);
    s.other_done = a.other ? future_done(a.other) : true;
    return cfut_return(t, &s, sizeof s);
}

/* WAIT from inside one of the executor's own tasks waits for the other
 * workers only (not for itself: no deadlock). */
static void test_shutdown_wait_from_inside_task(void)
{
    th_gate started, go, about_to;
    th_gate_init(&started);
    th_gate_init(&go);
    th_gate_init(&about_to);
    executor_t *ex = new_pool(2);
    future_t *other = submit_gated(ex, &started, &go, 12);
    th_gate_wait(&started);
    inner_shutdown_arg a = { ex, other, &about_to };
    future_t *f = submit(ex, task_shutdown_wait, &a, sizeof a);
    th_gate_wait(&about_to);
    /* Whether the call blocks is what is under test: give a shutdown that
     * wrongly returns at once the time to do so before `other` can end.
     * (A correct one blocks until the gate opens, whatever the timing.) */
    nap(0.05);
    th_gate_open(&go, 1);
    inner_shutdown_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK_STATUS(s.rc, CFUT_OK);
    CHECK(s.other_done);
    CHECK_EQ(result_int(other), 12);
    future_t *late = submit(ex, task_double, &s.rc, sizeof s.rc);
    CHECK_STATUS(future_status(late), CFUT_ESHUTDOWN);
    future_release(late);
    future_release(f);
    future_release(other);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
    th_gate_destroy(&about_to);
}

typedef struct { executor_t *ex; th_gate *go; } gated_shutdown_arg;

static int task_gated_shutdown_wait(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    gated_shutdown_arg a;
    memcpy(&a, arg, sizeof a);
    th_gate_wait(a.go);
    int rc = executor_shutdown(a.ex, EXECUTOR_WAIT);
    return cfut_return(t, &rc, sizeof rc);
}

/* The same with one worker: the caller's is the only one, so it returns at
 * once; work queued behind it still runs afterwards. */
static void test_shutdown_wait_from_inside_single_worker(void)
{
    executor_t *ex = new_pool(1);
    th_gate go;
    th_gate_init(&go);
    gated_shutdown_arg a = { ex, &go };
    future_t *f = submit(ex, task_gated_shutdown_wait, &a, sizeof a);
    int x = 9;
    future_t *queued = submit(ex, task_double, &x, sizeof x);
    th_gate_open(&go, 1); /* queued before the shutdown, never refused */
    int rc;
    CHECK_STATUS(future_result_copy(f, -1, &rc, sizeof rc), CFUT_OK);
    CHECK_STATUS(rc, CFUT_OK);
    CHECK(future_status(queued) == CFUT_OK || future_status(queued) == CFUT_ETIMEDOUT);
    executor_free(ex);
    CHECK_EQ(result_int(queued), 18);
    future_release(queued);
    future_release(f);
    th_gate_destroy(&go);
}

/* ---- concurrent shutdown ---------------------------------------------- */

typedef struct { executor_t *ex; unsigned flags; int rc; } shut_arg;

static void shutdown_main(void *p)
{
    shut_arg *a = p;
    a->rc = executor_shutdown(a->ex, a->flags);
}

/* Several threads shut the same executor down at once, with and without
 * WAIT: all succeed, and the WAIT callers return after the work is done. */
static void test_concurrent_shutdowns(void)
{
    enum { T = 6, N = 30 };
    executor_t *ex = new_pool(3);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_double, &i, sizeof i);
    shut_arg args[T];
    th_thread *th[T];
    for (int i = 0; i < T; i++) {
        args[i] = (shut_arg){ ex, i % 2 ? EXECUTOR_WAIT : 0u, -1 };
        th[i] = th_spawn(shutdown_main, &args[i]);
    }
    for (int i = 0; i < T; i++)
        th_join(th[i]);
    for (int i = 0; i < T; i++)
        CHECK_STATUS(args[i].rc, CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        CHECK_EQ(result_int(fs[i]), 2 * i);
    }
    CHECK_EQ(stats(ex).workers, 0);
    release_all(fs, N);
    executor_free(ex);
}

typedef struct {
    executor_t *ex;
    th_gate *ready;
    int ok, refused, other;
} racer;

static void racer_main(void *p)
{
    racer *r = p;
    th_gate_open(r->ready, 1);
    for (int i = 0; i < 2000; i++) {
        future_t *f = executor_submit(r->ex, task_double, &i, sizeof i);
        int v = -1;
        int rc = future_result_copy(f, -1, &v, sizeof v);
        if (rc == CFUT_OK && v == 2 * i)
            r->ok++;
        else if (rc == CFUT_ESHUTDOWN)
            r->refused++;
        else
            r->other++;
        future_release(f);
        if (rc == CFUT_ESHUTDOWN)
            break;
    }
}

/* Submitting threads race a shutdown: each submission either runs to a
 * correct result or is refused with CFUT_ESHUTDOWN; none hangs or is lost,
 * and once one is refused, all later ones are. */
static void test_submit_shutdown_race(void)
{
    enum { T = 4 };
    th_gate ready;
    th_gate_init(&ready);
    executor_t *ex = new_pool(2);
    racer rs[T];
    th_thread *th[T];
    for (int i = 0; i < T; i++) {
        rs[i] = (racer){ ex, &ready, 0, 0, 0 };
        th[i] = th_spawn(racer_main, &rs[i]);
    }
    for (int i = 0; i < T; i++)
        th_gate_wait(&ready);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    for (int i = 0; i < T; i++)
        th_join(th[i]);
    int ok = 0;
    for (int i = 0; i < T; i++) {
        CHECK_EQ(rs[i].other, 0);
        ok += rs[i].ok;
    }
    future_t *late = submit(ex, task_double, &ok, sizeof ok);
    CHECK_STATUS(future_status(late), CFUT_ESHUTDOWN);
    future_release(late);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, ok);
    CHECK_EQ(s.failed, 0);
    executor_free(ex);
    th_gate_destroy(&ready);
}

/* shutdown(WAIT) from outside and from inside a task at the same time: the
 * outside caller joins the workers, the task's call waits for the others;
 * neither may wait on the other (a deadlock: the outside join waits for the
 * task's worker, which waits to join). */
static void test_shutdown_wait_inside_and_outside(void)
{
    th_gate go;
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    gated_shutdown_arg a = { ex, &go };
    future_t *f = submit(ex, task_gated_shutdown_wait, &a, sizeof a);
    shut_arg outside = { ex, EXECUTOR_WAIT, -1 };
    th_thread *th = th_spawn(shutdown_main, &outside);
    /* Wait (bounded) until the outside shutdown has begun. */
    double end = th_now() + 10;
    for (;;) {
        int x = 0;
        future_t *probe = submit(ex, task_double, &x, sizeof x);
        int st = future_status(probe);
        future_release(probe);
        if (st == CFUT_ESHUTDOWN)
            break;
        CHECK(th_now() < end);
        nap(0.0005);
    }
    th_gate_open(&go, 1);
    int rc = future_wait(f, 10);
    if (rc != CFUT_OK)
        th_fail(__FILE__, __LINE__, "deadlock: the task's shutdown(WAIT) did not return "
                "while another thread's shutdown(WAIT) was joining its worker");
    CHECK_EQ(result_int(f), CFUT_OK);
    th_join(th);
    CHECK_STATUS(outside.rc, CFUT_OK);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&go);
}

/* Two tasks of the same pool both shut it down with WAIT: each waits for
 * the other workers, so each must be able to finish without the other's
 * call returning first (no deadlock). */
typedef struct { executor_t *ex; th_gate *started, *go; } twin_arg;

static int task_twin_shutdown(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    twin_arg a;
    memcpy(&a, arg, sizeof a);
    th_gate_open(a.started, 1);
    th_gate_wait(a.go);
    int rc = executor_shutdown(a.ex, EXECUTOR_WAIT);
    return cfut_return(t, &rc, sizeof rc);
}

static void test_shutdown_wait_from_two_tasks(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(2);
    twin_arg a = { ex, &started, &go };
    future_t *fs[2];
    for (int i = 0; i < 2; i++)
        fs[i] = submit(ex, task_twin_shutdown, &a, sizeof a);
    th_gate_wait(&started);
    th_gate_wait(&started);
    th_gate_open(&go, 2);
    if (futures_wait(fs, 2, 10, FUTURES_ALL_COMPLETED) != CFUT_OK)
        th_fail(__FILE__, __LINE__, "deadlock: two tasks calling executor_shutdown(WAIT) "
                "on their own pool wait on each other");
    for (int i = 0; i < 2; i++)
        CHECK_EQ(result_int(fs[i]), CFUT_OK);
    release_all(fs, 2);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

TH_CASES(
    TH_CASE(test_run_after_shutdown),
    TH_CASE(test_run_after_shutdown_wait),
    TH_CASE(test_shutdown_idempotent),
    TH_CASE(test_shutdown_add_cancel_later),
    TH_CASE(test_shutdown_bad_flags),
    TH_CASE(test_shutdown_unused),
    TH_CASE(test_free_null),
    TH_CASE(test_hang_issue12364),
    TH_CASE(test_shutdown_keeps_queued),
    TH_CASE(test_shutdown_no_wait),
    TH_CASE(test_cancel_futures),
    TH_CASE(test_cancel_futures_ungated),
    TH_CASE(test_cancel_futures_callbacks),
    TH_CASE(test_cancel_pending_running_finish),
    TH_CASE(test_terminate_acts_as_cancel_pending),
    TH_CASE(test_kill_acts_as_cancel_pending),
    TH_CASE(test_terminate_sets_should_stop),
    TH_CASE(test_cancel_futures_wait_false),
    TH_CASE(test_shutdown_no_wait_returns_promptly),
    TH_CASE(test_shutdown_wait_waits),
    TH_CASE(test_threads_terminate),
    TH_CASE(test_hang_gh94440),
    TH_CASE(test_hang_gh94440_gated),
    TH_CASE(test_shutdown_race_issue12456),
    TH_CASE(test_free_without_shutdown_runs_queued),
    TH_CASE(test_free_after_shutdown),
    TH_CASE(test_futures_outlive_executor),
    TH_CASE(test_shutdown_wait_from_inside_task),
    TH_CASE(test_shutdown_wait_from_inside_single_worker),
    TH_CASE(test_concurrent_shutdowns),
    TH_CASE(test_submit_shutdown_race),
    TH_CASE(test_shutdown_wait_inside_and_outside),
    TH_CASE(test_shutdown_wait_from_two_tasks),
)
