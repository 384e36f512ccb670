/* test/test_init.c: worker initializers on the thread pool.
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_init.py
 * (InitializerMixin, FailingInitializerMixin, for ThreadPoolExecutor), and
 * checks what cfut promises beyond it: the initializer runs once in every
 * worker before that worker's first task, with cfut_current() set; a failing
 * initializer breaks the executor, failing queued and later submissions with
 * CFUT_EBROKEN carrying the initializer's code and message. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>

/* ---- helpers ---------------------------------------------------------- */

static executor_t *new_pool_init(int max_workers, cfut_task_fn init,
                                 const void *initarg, size_t initarg_len)
{
    executor_options o = { .max_workers = max_workers, .initializer = init,
                           .initarg = initarg, .initarg_len = initarg_len };
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

static void release_all(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
}

/* What the initializer leaves behind, per worker thread and overall. */
static _Thread_local int tls_init_calls;
static _Thread_local bool tls_init_ok;      /* cfut_current() == its task */
static _Thread_local char tls_initarg[64];
static _Thread_local size_t tls_initarg_len;
static atomic_int init_calls;
static atomic_int task_runs;

/* Records its call; checks cfut_current() and cfut_should_stop(). */
static int init_record(cfut_task *t, const void *arg, size_t len)
{
    atomic_fetch_add(&init_calls, 1);
    tls_init_calls++;
    tls_init_ok = t != NULL && cfut_current() == t && !cfut_should_stop(t);
    tls_initarg_len = len;
    if (len <= sizeof tls_initarg && len > 0)
        memcpy(tls_initarg, arg, len);
    return 0;
}

typedef struct {
    int init_calls_here; /* on this worker thread */
    bool init_ok;
    bool current_is_task;
    size_t initarg_len;
    char initarg[64];
} worker_seen;

typedef struct { th_gate *started, *go; } gate_pair;

/* Reports what the initializer left on this thread. Gated if asked. */
static int task_report(cfut_task *t, const void *arg, size_t len)
{
    atomic_fetch_add(&task_runs, 1);
    worker_seen s;
    memset(&s, 0, sizeof s);
    s.init_calls_here = tls_init_calls;
    s.init_ok = tls_init_ok;
    s.current_is_task = cfut_current() == t;
    s.initarg_len = tls_initarg_len;
    memcpy(s.initarg, tls_initarg, sizeof s.initarg);
    if (len == sizeof(gate_pair)) {
        gate_pair g;
        memcpy(&g, arg, sizeof g);
        if (g.started)
            th_gate_open(g.started, 1);
        if (g.go)
            th_gate_wait(g.go);
    }
    return cfut_return(t, &s, sizeof s);
}

static worker_seen seen_of(future_t *f)
{
    worker_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    return s;
}

/* ---- working initializers --------------------------------------------- */

/* test_init.py: InitializerMixin.test_initializer: initializer("initialized")
 * runs before the tasks, which see its effect. */
static void test_initializer(void)
{
    enum { W = 2 };
    atomic_store(&init_calls, 0);
    executor_t *ex = new_pool_init(W, init_record, "initialized", 12);
    future_t *fs[W];
    for (int i = 0; i < W; i++)
        fs[i] = submit(ex, task_report, NULL, 0);
    for (int i = 0; i < W; i++) {
        worker_seen s = seen_of(fs[i]);
        CHECK_EQ(s.initarg_len, 12);
        CHECK_STR(s.initarg, "initialized");
        CHECK_EQ(s.init_calls_here, 1);
    }
    release_all(fs, W);
    executor_free(ex);
}

/* In every worker, once, before its first task; cfut_current() is the
 * initializer's task while it runs. Saturation forces every worker. */
static void test_initializer_every_worker(void)
{
    enum { W = 4, MORE = 40 };
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&init_calls, 0);
    executor_t *ex = new_pool_init(W, init_record, NULL, 0);
    CHECK_EQ(atomic_load(&init_calls), 0); /* lazily, with the workers */
    future_t *fs[W];
    gate_pair g = { &started, &go };
    for (int i = 0; i < W; i++)
        fs[i] = submit(ex, task_report, &g, sizeof g);
    for (int i = 0; i < W; i++)
        th_gate_wait(&started);
    CHECK_EQ(atomic_load(&init_calls), W);
    CHECK_EQ(stats(ex).workers_started, W);
    th_gate_open(&go, W);
    for (int i = 0; i < W; i++) {
        worker_seen s = seen_of(fs[i]);
        CHECK_EQ(s.init_calls_here, 1);
        CHECK(s.init_ok);
        CHECK(s.current_is_task);
        CHECK_EQ(s.initarg_len, 0);
    }
    release_all(fs, W);

    future_t *more[MORE];
    for (int i = 0; i < MORE; i++)
        more[i] = submit(ex, task_report, NULL, 0);
    for (int i = 0; i < MORE; i++)
        CHECK_EQ(seen_of(more[i]).init_calls_here, 1);
    release_all(more, MORE);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(atomic_load(&init_calls), (int)s.workers_started);
    CHECK_EQ(s.completed, W + MORE);
    CHECK_EQ(s.failed, 0);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Once per worker, however many tasks it runs. */
static void test_initializer_once_per_worker(void)
{
    atomic_store(&init_calls, 0);
    executor_t *ex = new_pool_init(1, init_record, "x", 1);
    for (int i = 0; i < 50; i++) {
        future_t *f = submit(ex, task_report, NULL, 0);
        CHECK_EQ(seen_of(f).init_calls_here, 1);
        future_release(f);
    }
    CHECK_EQ(atomic_load(&init_calls), 1);
    executor_free(ex);
    CHECK_EQ(atomic_load(&init_calls), 1);
}

/* No initializer runs for an executor that never started a worker. */
static void test_initializer_lazy(void)
{
    atomic_store(&init_calls, 0);
    executor_t *ex = new_pool_init(3, init_record, NULL, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_free(ex);
    CHECK_EQ(atomic_load(&init_calls), 0);
}

/* initarg is copied at executor_new. */
static void test_initarg_copied(void)
{
    char buf[16] = "original";
    executor_t *ex = new_pool_init(1, init_record, buf, sizeof buf);
    memset(buf, 'X', sizeof buf);
    future_t *f = submit(ex, task_report, NULL, 0);
    worker_seen s = seen_of(f);
    CHECK_EQ(s.initarg_len, 16);
    CHECK_STR(s.initarg, "original");
    future_release(f);
    executor_free(ex);
}

/* A non-NULL initarg with length 0 is fine; the initializer sees 0. */
static void test_initarg_empty(void)
{
    executor_t *ex = new_pool_init(1, init_record, "ignored", 0);
    future_t *f = submit(ex, task_report, NULL, 0);
    worker_seen s = seen_of(f);
    CHECK_EQ(s.initarg_len, 0);
    CHECK(s.init_ok);
    future_release(f);
    executor_free(ex);
}

/* ---- failing initializers --------------------------------------------- */

/* Waits on the gate passed in initarg (if any), then fails with code 42. */
static int init_fail(cfut_task *t, const void *arg, size_t len)
{
    atomic_fetch_add(&init_calls, 1);
    if (len == sizeof(th_gate *)) {
        th_gate *g;
        memcpy(&g, arg, sizeof g);
        th_gate_wait(g);
    }
    return cfut_fail(t, 42, "error in initializer %d", 1);
}

static int task_count(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    atomic_fetch_add(&task_runs, 1);
    return 0;
}

static void check_broken(future_t *f, int code, const char *msg_part)
{
    const void *data = (const void *)1;
    size_t len = 3;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_EBROKEN);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    CHECK_STATUS(future_status(f), CFUT_EBROKEN);
    CHECK_EQ(future_error_code(f), code);
    CHECK(future_error_message(f) != NULL);
    CHECK_CONTAINS(future_error_message(f), msg_part);
    CHECK(!future_cancelled(f));
}

/* test_init.py: FailingInitializerMixin.test_initializer: the future fails
 * as broken, and from then on submit fails too. */
static void test_failing_initializer(void)
{
    atomic_store(&task_runs, 0);
    executor_t *ex = new_pool_init(2, init_fail, NULL, 0);
    future_t *f = submit(ex, task_count, NULL, 0);
    check_broken(f, 42, "error in initializer 1");
    future_release(f);
    for (int i = 0; i < 3; i++) {
        f = submit(ex, task_count, NULL, 0);
        CHECK(future_done(f)); /* refused at once */
        check_broken(f, 42, "error in initializer 1");
        future_release(f);
    }
    CHECK_EQ(atomic_load(&task_runs), 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_free(ex);
}

/* Everything queued while the initializer runs fails with CFUT_EBROKEN when
 * it fails; no task runs; stats.failed counts them. */
static void test_failing_initializer_fails_queued(void)
{
    enum { N = 6 };
    th_gate go;
    th_gate_init(&go);
    atomic_store(&task_runs, 0);
    atomic_store(&init_calls, 0);
    th_gate *gp = &go;
    executor_t *ex = new_pool_init(1, init_fail, &gp, sizeof gp);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_count, NULL, 0);
    for (int i = 0; i < N; i++)
        CHECK(!future_done(fs[i]));
    th_gate_open(&go, 1);
    CHECK_STATUS(futures_wait(fs, N, -1, FUTURES_ALL_COMPLETED), CFUT_OK);
    for (int i = 0; i < N; i++)
        check_broken(fs[i], 42, "error in initializer 1");
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(atomic_load(&task_runs), 0);
    CHECK_EQ(atomic_load(&init_calls), 1);
    executor_stats s = stats(ex);
    CHECK_EQ(s.failed, N);
    CHECK_EQ(s.completed, 0);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.workers, 0);
    CHECK_EQ(s.workers_lost, 0);
    release_all(fs, N);
    executor_free(ex);
    th_gate_destroy(&go);
}

/* With several workers all stuck in a failing initializer: the same. */
static void test_failing_initializer_many_workers(void)
{
    enum { N = 12 };
    th_gate go;
    th_gate_init(&go);
    atomic_store(&task_runs, 0);
    th_gate *gp = &go;
    executor_t *ex = new_pool_init(4, init_fail, &gp, sizeof gp);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(ex, task_count, NULL, 0);
    th_gate_open(&go, 64);
    for (int i = 0; i < N; i++)
        check_broken(fs[i], 42, "error in initializer");
    executor_free(ex);
    CHECK_EQ(atomic_load(&task_runs), 0);
    release_all(fs, N);
    th_gate_destroy(&go);
}

/* An initializer that just returns non-zero: its code, a message naming it. */
static int init_return_7(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    return 7;
}

static void test_failing_initializer_return_code(void)
{
    executor_t *ex = new_pool_init(1, init_return_7, NULL, 0);
    future_t *f = submit(ex, task_count, NULL, 0);
    check_broken(f, 7, "7");
    future_release(f);
    executor_free(ex);
}

/* cfut_fail with code 0 is still a failure. */
static int init_fail_zero(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    (void)cfut_fail(t, 0, "zero but broken");
    return 0;
}

static void test_failing_initializer_code_zero(void)
{
    executor_t *ex = new_pool_init(1, init_fail_zero, NULL, 0);
    future_t *f = submit(ex, task_count, NULL, 0);
    check_broken(f, 0, "zero but broken");
    future_release(f);
    executor_free(ex);
}

/* The first worker's initializer works, the second's fails: the task already
 * running on the first worker finishes normally; what was queued for the
 * second, and everything after, is CFUT_EBROKEN. */
static int init_second_fails(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    if (atomic_fetch_add(&init_calls, 1) == 0)
        return 0;
    return cfut_fail(t, 9, "second worker refused");
}

static int task_gated_value(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    gate_pair g;
    memcpy(&g, arg, sizeof g);
    th_gate_open(g.started, 1);
    th_gate_wait(g.go);
    int v = 99;
    return cfut_return(t, &v, sizeof v);
}

static void test_failing_initializer_running_task_finishes(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    atomic_store(&init_calls, 0);
    executor_t *ex = new_pool_init(2, init_second_fails, NULL, 0);
    gate_pair g = { &started, &go };
    future_t *running = submit(ex, task_gated_value, &g, sizeof g);
    th_gate_wait(&started);
    future_t *b = submit(ex, task_count, NULL, 0);
    check_broken(b, 9, "second worker refused");
    CHECK_EQ(atomic_load(&init_calls), 2);
    future_t *c = submit(ex, task_count, NULL, 0);
    CHECK(future_done(c));
    check_broken(c, 9, "second worker refused");
    CHECK(!future_done(running));
    th_gate_open(&go, 1);
    int v = 0;
    CHECK_STATUS(future_result_copy(running, -1, &v, sizeof v), CFUT_OK);
    CHECK_EQ(v, 99);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.workers, 0);
    future_release(running);
    future_release(b);
    future_release(c);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* A broken executor still shuts down and frees cleanly, with or without an
 * explicit shutdown, and cancel flags change nothing for done futures. */
static void test_failing_initializer_shutdown_free(void)
{
    executor_t *ex = new_pool_init(3, init_fail, NULL, 0);
    future_t *f = submit(ex, task_count, NULL, 0);
    CHECK_STATUS(future_wait(f, -1), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    CHECK_STATUS(future_status(f), CFUT_EBROKEN);
    CHECK(!future_cancel(f));
    future_t *late = submit(ex, task_count, NULL, 0);
    /* Shut down and broken: either reason is a fair refusal. */
    CHECK(future_status(late) == CFUT_ESHUTDOWN || future_status(late) == CFUT_EBROKEN);
    future_release(late);
    executor_free(ex);
    future_release(f);

    ex = new_pool_init(3, init_fail, NULL, 0);
    f = submit(ex, task_count, NULL, 0);
    executor_free(ex);
    CHECK_STATUS(future_status(f), CFUT_EBROKEN);
    future_release(f);
}

TH_CASES(
    TH_CASE(test_initializer),
    TH_CASE(test_initializer_every_worker),
    TH_CASE(test_initializer_once_per_worker),
    TH_CASE(test_initializer_lazy),
    TH_CASE(test_initarg_copied),
    TH_CASE(test_initarg_empty),
    TH_CASE(test_failing_initializer),
    TH_CASE(test_failing_initializer_fails_queued),
    TH_CASE(test_failing_initializer_many_workers),
    TH_CASE(test_failing_initializer_return_code),
    TH_CASE(test_failing_initializer_code_zero),
    TH_CASE(test_failing_initializer_running_task_finishes),
    TH_CASE(test_failing_initializer_shutdown_free),
)
