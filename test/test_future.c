/* test/test_future.c: the future itself: states, results, errors, timeouts,
 * done callbacks, waiters, and the misuse paths.
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_future.py
 * (FutureTests) to the C API. Not ported: test_repr and test_class_str (no
 * repr in C; status names are checked in test_error.c), the two
 * test_done_callback_raises* cases (C callbacks cannot raise; the nearest
 * thing, a callback that calls back into cfut, is covered below). */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Bound on waits that must succeed: a failure reports instead of hanging
 * (the case timeout is the real backstop). */
#define LONG_WAIT 30.0
/* A deadline the tests let really elapse, and the least time it must take. */
#define SHORT_TIMEOUT 0.05
#define SHORT_TIMEOUT_MIN 0.045

/* The call that started at t0 took at least `min` seconds (time itself is
 * under test here: a deadline must not expire early). */
static void check_elapsed(double t0, double min, int line)
{
    double e = th_now() - t0;
    if (e < min)
        th_fail(__FILE__, line, "returned after %.3f s, before %.3f s", e, min);
}
#define CHECK_ELAPSED(t0, min) check_elapsed((t0), (min), __LINE__)

/* ---- Futures in each state (CPython's util.py: PENDING_FUTURE, ...) ---- */

typedef enum {
    K_PENDING,
    K_RUNNING,
    K_CANCELLED,
    K_CANCELLED_NOTIFIED, /* cancelled, then set_running_or_notify_cancel() */
    K_EXCEPTION,          /* set_error(5, "OSError") */
    K_SUCCESSFUL,         /* result: int32_t 42 */
    K_COUNT
} kind;

static const char *const kind_names[K_COUNT] = {
    "pending", "running", "cancelled", "cancelled_notified", "exception",
    "successful",
};

static future_t *make_future(kind k)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    int32_t v = 42;
    switch (k) {
    case K_PENDING:
        break;
    case K_RUNNING:
        CHECK(future_set_running_or_notify_cancel(f));
        break;
    case K_CANCELLED:
        CHECK(future_cancel(f));
        break;
    case K_CANCELLED_NOTIFIED:
        CHECK(future_cancel(f));
        CHECK(!future_set_running_or_notify_cancel(f));
        break;
    case K_EXCEPTION:
        CHECK_STATUS(future_set_error(f, 5, "OSError"), CFUT_OK);
        break;
    case K_SUCCESSFUL:
        CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
        break;
    default:
        th_fail(__FILE__, __LINE__, "bad kind %d", (int)k);
    }
    return f;
}

static void make_all(future_t *fs[K_COUNT])
{
    for (int k = 0; k < K_COUNT; k++)
        fs[k] = make_future((kind)k);
}

static void release_all(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
}

static int32_t int_result(future_t *f)
{
    int32_t v = -1;
    CHECK_STATUS(future_result_copy(f, 0, &v, sizeof v), CFUT_OK);
    return v;
}

/* ---- Callback recording ---- */

enum { LOG_MAX = 64 };

typedef struct cb_log {
    pthread_mutex_t mu;
    int n;
    int ids[LOG_MAX];
    pthread_t threads[LOG_MAX];
    future_t *futures[LOG_MAX];
    bool done[LOG_MAX];
} cb_log;

typedef struct cb_entry {
    cb_log *log;
    int id;
} cb_entry;

static void log_init(cb_log *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

static void log_fini(cb_log *l) { pthread_mutex_destroy(&l->mu); }

static int log_count(cb_log *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void log_cb(future_t *f, void *user)
{
    cb_entry *e = user;
    cb_log *l = e->log;
    bool done = future_done(f);
    pthread_mutex_lock(&l->mu);
    if (l->n < LOG_MAX) {
        l->ids[l->n] = e->id;
        l->threads[l->n] = pthread_self();
        l->futures[l->n] = f;
        l->done[l->n] = done;
    }
    l->n++;
    pthread_mutex_unlock(&l->mu);
}

static void count_cb(future_t *f, void *user)
{
    (void)f;
    atomic_fetch_add((atomic_int *)user, 1);
}

/* ---- A thread blocked on a future ---- */

typedef enum { OP_WAIT, OP_RESULT } wait_op;

typedef struct waiter {
    future_t *f;
    wait_op op;
    th_gate ready; /* opened just before the thread blocks */
    int rc;
    int32_t value;
    th_thread *thread;
} waiter;

static void waiter_main(void *p)
{
    waiter *w = p;
    th_gate_open(&w->ready, 1);
    if (w->op == OP_WAIT)
        w->rc = future_wait(w->f, -1);
    else
        w->rc = future_result_copy(w->f, -1, &w->value, sizeof w->value);
}

static void waiter_start(waiter *w, future_t *f, wait_op op)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->op = op;
    w->rc = -1;
    th_gate_init(&w->ready);
    w->thread = th_spawn(waiter_main, w);
    /* The thread is about to block; if the completion comes first, the wait
     * returns at once, which is fine too. */
    th_gate_wait(&w->ready);
}

static void waiter_join(waiter *w)
{
    th_join(w->thread);
    th_gate_destroy(&w->ready);
}

/* ---- Executor tasks ---- */

typedef struct gate_pair {
    th_gate started; /* the task opens it once it runs */
    th_gate release; /* the task waits on it */
} gate_pair;

static void gates_init(gate_pair *g)
{
    th_gate_init(&g->started);
    th_gate_init(&g->release);
}

static void gates_fini(gate_pair *g)
{
    th_gate_destroy(&g->started);
    th_gate_destroy(&g->release);
}

/* arg: a gate_pair pointer. Result: one byte, cfut_should_stop() once
 * released. */
static int gated_task(cfut_task *t, const void *arg, size_t len)
{
    gate_pair *g;
    CHECK_EQ(len, sizeof g);
    memcpy(&g, arg, sizeof g);
    th_gate_open(&g->started, 1);
    th_gate_wait(&g->release);
    unsigned char stop = cfut_should_stop(t);
    return cfut_return(t, &stop, sizeof stop);
}

static int echo_task(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

static atomic_int tasks_ran;

static int counting_task(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    atomic_fetch_add(&tasks_ran, 1);
    return 0;
}

static executor_t *one_worker_executor(void)
{
    executor_options o = { .max_workers = 1 };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static future_t *submit_gated(executor_t *ex, gate_pair *g)
{
    return executor_submit(ex, gated_task, &g, sizeof g);
}

/* ======================= States ======================= */

/* A new future is PENDING, with no outcome yet. */
static void test_new_is_pending(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(!future_done(f));
    CHECK(!future_running(f));
    CHECK(!future_cancelled(f));
    CHECK_STATUS(future_status(f), CFUT_ETIMEDOUT);
    CHECK_EQ(future_error_code(f), 0);
    CHECK(future_error_message(f) == NULL);
    CHECK_STATUS(future_wait(f, 0), CFUT_ETIMEDOUT);
    future_release(f);
}

/* retain returns its argument; the future lives until the last release. */
static void test_retain_release(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(future_retain(f) == f);
    CHECK(future_retain(f) == f);
    future_release(f);
    future_release(f);
    int32_t v = 9;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK(future_retain(f) == f);
    future_release(f);
    CHECK_EQ(int_result(f), 9);
    future_release(f);
    CHECK(future_retain(NULL) == NULL);
    future_release(NULL);
}

/* test_future.py: FutureTests.test_cancelled */
static void test_cancelled(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    static const bool want[K_COUNT] = { false, false, true, true, false, false };
    for (int k = 0; k < K_COUNT; k++) {
        if (future_cancelled(fs[k]) != want[k])
            th_fail(__FILE__, __LINE__, "%s: cancelled() = %d", kind_names[k],
                    !want[k]);
    }
    release_all(fs, K_COUNT);
}

/* test_future.py: FutureTests.test_done */
static void test_done(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    static const bool want[K_COUNT] = { false, false, true, true, true, true };
    for (int k = 0; k < K_COUNT; k++) {
        if (future_done(fs[k]) != want[k])
            th_fail(__FILE__, __LINE__, "%s: done() = %d", kind_names[k], !want[k]);
    }
    release_all(fs, K_COUNT);
}

/* test_future.py: FutureTests.test_running */
static void test_running(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    static const bool want[K_COUNT] = { false, true, false, false, false, false };
    for (int k = 0; k < K_COUNT; k++) {
        if (future_running(fs[k]) != want[k])
            th_fail(__FILE__, __LINE__, "%s: running() = %d", kind_names[k],
                    !want[k]);
    }
    release_all(fs, K_COUNT);
}

/* test_future.py: FutureTests.test_cancel: cancel works on PENDING and on an
 * already cancelled future; RUNNING and FINISHED futures are left alone. */
static void test_cancel(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);

    CHECK(future_cancel(fs[K_PENDING]));
    CHECK(future_cancelled(fs[K_PENDING]));
    CHECK(future_done(fs[K_PENDING]));
    CHECK_STATUS(future_status(fs[K_PENDING]), CFUT_ECANCELLED);

    CHECK(!future_cancel(fs[K_RUNNING]));
    CHECK(future_running(fs[K_RUNNING]));
    CHECK(!future_done(fs[K_RUNNING]));
    CHECK(!future_cancelled(fs[K_RUNNING]));

    CHECK(future_cancel(fs[K_CANCELLED]));
    CHECK(future_cancelled(fs[K_CANCELLED]));

    CHECK(future_cancel(fs[K_CANCELLED_NOTIFIED]));
    CHECK(future_cancelled(fs[K_CANCELLED_NOTIFIED]));

    CHECK(!future_cancel(fs[K_EXCEPTION]));
    CHECK(!future_cancelled(fs[K_EXCEPTION]));
    CHECK_STATUS(future_status(fs[K_EXCEPTION]), CFUT_ETASK);
    CHECK_EQ(future_error_code(fs[K_EXCEPTION]), 5);

    CHECK(!future_cancel(fs[K_SUCCESSFUL]));
    CHECK(!future_cancelled(fs[K_SUCCESSFUL]));
    CHECK_EQ(int_result(fs[K_SUCCESSFUL]), 42);

    /* The running one can still finish normally. */
    int32_t v = 1;
    CHECK_STATUS(future_set_result(fs[K_RUNNING], &v, sizeof v), CFUT_OK);
    CHECK_EQ(int_result(fs[K_RUNNING]), 1);
    release_all(fs, K_COUNT);
}

/* Python's set_running_or_notify_cancel(): PENDING -> RUNNING (true),
 * CANCELLED -> false; any other state is misuse (false, nothing changes). */
static void test_set_running_or_notify_cancel(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(future_set_running_or_notify_cancel(f));
    CHECK(future_running(f));
    CHECK(!future_done(f));
    CHECK_STATUS(future_status(f), CFUT_ETIMEDOUT);
    /* RUNNING again: misuse, still running. */
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK(future_running(f));
    CHECK(!future_cancel(f));
    int32_t v = 3;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK(!future_running(f));
    /* FINISHED: misuse, the result stays. */
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK(!future_running(f));
    CHECK(future_done(f));
    CHECK_EQ(int_result(f), 3);
    future_release(f);

    /* CANCELLED: false, and it stays cancelled (and cancel() still true). */
    atomic_int calls = 0;
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &calls), CFUT_OK);
    CHECK(future_cancel(f));
    CHECK_EQ(atomic_load(&calls), 1);
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK(future_cancelled(f));
    CHECK(!future_running(f));
    CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
    CHECK(future_cancel(f));
    CHECK_EQ(atomic_load(&calls), 1);
    future_release(f);

    /* Failed: misuse too. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, 1, "x"), CFUT_OK);
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    future_release(f);
}

/* future_status(): CFUT_ETIMEDOUT while not done, then the final status. */
static void test_status(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    static const int want[K_COUNT] = {
        CFUT_ETIMEDOUT, CFUT_ETIMEDOUT, CFUT_ECANCELLED, CFUT_ECANCELLED,
        CFUT_ETASK, CFUT_OK,
    };
    for (int k = 0; k < K_COUNT; k++) {
        int got = future_status(fs[k]);
        if (got != want[k])
            th_fail(__FILE__, __LINE__, "%s: status %s, want %s", kind_names[k],
                    cfut_status_name(got), cfut_status_name(want[k]));
    }
    release_all(fs, K_COUNT);
}

/* ======================= Results ======================= */

/* test_future.py: FutureTests.test_result_with_timeout (timeout=0 polls). */
static void test_result_with_timeout(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    static const int want[K_COUNT] = {
        CFUT_ETIMEDOUT, CFUT_ETIMEDOUT, CFUT_ECANCELLED, CFUT_ECANCELLED,
        CFUT_ETASK, CFUT_OK,
    };
    for (int k = 0; k < K_COUNT; k++) {
        const void *data = &want; /* junk: must be overwritten */
        size_t len = 12345;
        int got = future_result(fs[k], 0, &data, &len);
        if (got != want[k])
            th_fail(__FILE__, __LINE__, "%s: result %s, want %s", kind_names[k],
                    cfut_status_name(got), cfut_status_name(want[k]));
        if (want[k] == CFUT_OK) {
            CHECK(data != NULL);
            CHECK_EQ(len, sizeof(int32_t));
            int32_t v;
            memcpy(&v, data, sizeof v);
            CHECK_EQ(v, 42);
        } else {
            CHECK(data == NULL);
            CHECK_EQ(len, 0);
        }
    }
    release_all(fs, K_COUNT);
}

/* test_future.py: FutureTests.test_exception_with_timeout: the error of each
 * state (C: future_error_code/_message, read without waiting). */
static void test_exception_with_timeout(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    for (int k = 0; k < K_COUNT; k++) {
        const char *msg = future_error_message(fs[k]);
        int code = future_error_code(fs[k]);
        switch ((kind)k) {
        case K_PENDING:
        case K_RUNNING:
        case K_SUCCESSFUL:
            if (msg != NULL || code != 0)
                th_fail(__FILE__, __LINE__, "%s: message %s code %d",
                        kind_names[k], msg ? msg : "(null)", code);
            break;
        case K_CANCELLED:
        case K_CANCELLED_NOTIFIED:
            if (msg == NULL || code != 0)
                th_fail(__FILE__, __LINE__, "%s: message %s code %d",
                        kind_names[k], msg ? msg : "(null)", code);
            break;
        case K_EXCEPTION:
            CHECK_STR(msg, "OSError");
            CHECK_EQ(code, 5);
            break;
        default:
            break;
        }
    }
    release_all(fs, K_COUNT);
}

/* The bytes are copied at set_result; the future owns them. */
static void test_set_result_copies_data(void)
{
    char buf[16] = "hello";
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_result(f, buf, 6), CFUT_OK);
    memset(buf, 'X', sizeof buf);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK(data != (const void *)buf);
    CHECK_EQ(len, 6);
    CHECK_STR((const char *)data, "hello");
    /* The same bytes every time. */
    const void *again = NULL;
    CHECK_STATUS(future_result(f, -1, &again, NULL), CFUT_OK);
    CHECK(again == data);
    future_release(f);
}

/* The result is aligned like malloc's memory, small (kept inline) or large,
 * so a caller may read a long double or an __int128 in place. */
static void test_result_aligned(void)
{
    static const size_t sizes[] = {0, 1, 8, 16, 17, 4096};
    unsigned char buf[4096] = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        future_t *f = future_new();
        CHECK(f != NULL);
        CHECK_STATUS(future_set_result(f, buf, sizes[i]), CFUT_OK);
        const void *data = NULL;
        CHECK_STATUS(future_result(f, 0, &data, NULL), CFUT_OK);
        CHECK_EQ((uintptr_t)data % _Alignof(max_align_t), 0);
        future_release(f);
    }
}

/* A big result comes back intact. */
static void test_large_result(void)
{
    enum { N = 1 << 20 };
    unsigned char *buf = malloc(N);
    CHECK(buf != NULL);
    for (size_t i = 0; i < N; i++)
        buf[i] = (unsigned char)(i * 7 + (i >> 8));
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_result(f, buf, N), CFUT_OK);
    const void *data;
    size_t len;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK_EQ(len, N);
    CHECK(memcmp(data, buf, N) == 0);
    unsigned char *out = calloc(1, N);
    CHECK(out != NULL);
    CHECK_STATUS(future_result_copy(f, 0, out, N), CFUT_OK);
    CHECK(memcmp(out, buf, N) == 0);
    free(out);
    free(buf);
    future_release(f);
}

/* An empty result: CFUT_OK with a non-NULL pointer and length 0. */
static void test_empty_result(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_OK);
    CHECK(future_done(f));
    const void *data = NULL;
    size_t len = 99;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK_EQ(len, 0);
    char out = 'k';
    CHECK_STATUS(future_result_copy(f, 0, &out, 0), CFUT_OK);
    CHECK_EQ(out, 'k');
    CHECK_STATUS(future_result_copy(f, 0, &out, 1), CFUT_ESERIALIZE);
    CHECK_EQ(out, 'k');
    CHECK(future_error_message(f) == NULL);
    future_release(f);

    /* Non-NULL data with len 0 too. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_result(f, "abc", 0), CFUT_OK);
    data = NULL;
    len = 99;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK_EQ(len, 0);
    future_release(f);
}

/* NULL data with len > 0 is refused and changes nothing. */
static void test_set_result_null_data(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_result(f, NULL, 4), CFUT_EINVAL);
    CHECK(!future_done(f));
    CHECK_STATUS(future_status(f), CFUT_ETIMEDOUT);
    int32_t v = 8;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK_EQ(int_result(f), 8);
    future_release(f);
}

/* future_result()'s out-parameters are optional. */
static void test_result_optional_outputs(void)
{
    future_t *f = make_future(K_SUCCESSFUL);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_OK);
    const void *data = NULL;
    CHECK_STATUS(future_result(f, 0, &data, NULL), CFUT_OK);
    CHECK(data != NULL);
    size_t len = 0;
    CHECK_STATUS(future_result(f, 0, NULL, &len), CFUT_OK);
    CHECK_EQ(len, sizeof(int32_t));
    future_release(f);

    f = make_future(K_EXCEPTION);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ETASK);
    len = 7;
    CHECK_STATUS(future_result(f, 0, NULL, &len), CFUT_ETASK);
    CHECK_EQ(len, 0);
    future_release(f);

    f = make_future(K_PENDING);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ETIMEDOUT);
    future_release(f);
}

/* future_result_copy(): exactly `size` bytes, else CFUT_ESERIALIZE with
 * `out` untouched; failures and timeouts leave `out` alone too. */
static void test_result_copy_wrong_size(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    uint32_t v = 0xA1B2C3D4u;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);

    unsigned char out[16];
    memset(out, 0x5A, sizeof out);
    CHECK_STATUS(future_result_copy(f, 0, out, 2), CFUT_ESERIALIZE);
    CHECK_STATUS(future_result_copy(f, 0, out, 8), CFUT_ESERIALIZE);
    CHECK_STATUS(future_result_copy(f, 0, out, 0), CFUT_ESERIALIZE);
    CHECK_STATUS(future_result_copy(f, -1, out, sizeof out), CFUT_ESERIALIZE);
    for (size_t i = 0; i < sizeof out; i++)
        CHECK_EQ(out[i], 0x5A);
    /* The future is unharmed. */
    CHECK(future_done(f));
    CHECK_STATUS(future_status(f), CFUT_OK);
    uint32_t got = 0;
    CHECK_STATUS(future_result_copy(f, 0, &got, sizeof got), CFUT_OK);
    CHECK_EQ(got, 0xA1B2C3D4u);
    future_release(f);

    /* Failure and timeout statuses pass through, out untouched. */
    f = make_future(K_EXCEPTION);
    got = 77;
    CHECK_STATUS(future_result_copy(f, 0, &got, sizeof got), CFUT_ETASK);
    CHECK_EQ(got, 77);
    future_release(f);
    f = make_future(K_CANCELLED);
    CHECK_STATUS(future_result_copy(f, 0, &got, sizeof got), CFUT_ECANCELLED);
    CHECK_EQ(got, 77);
    future_release(f);
    f = make_future(K_PENDING);
    CHECK_STATUS(future_result_copy(f, 0, &got, sizeof got), CFUT_ETIMEDOUT);
    CHECK_EQ(got, 77);
    future_release(f);
}

/* future_wait() is CFUT_OK for every done future, cancelled included, and
 * CFUT_ETIMEDOUT for the others. */
static void test_wait_done_states(void)
{
    future_t *fs[K_COUNT];
    make_all(fs);
    for (int k = 0; k < K_COUNT; k++) {
        bool done = k != K_PENDING && k != K_RUNNING;
        int want = done ? CFUT_OK : CFUT_ETIMEDOUT;
        int got = future_wait(fs[k], 0);
        if (got != want)
            th_fail(__FILE__, __LINE__, "%s: wait(0) %s", kind_names[k],
                    cfut_status_name(got));
        if (done) {
            CHECK_STATUS(future_wait(fs[k], -1), CFUT_OK);
            CHECK_STATUS(future_wait(fs[k], LONG_WAIT), CFUT_OK);
        }
    }
    release_all(fs, K_COUNT);
}

/* A wait that times out takes its time, leaves the future alive and
 * completable; a later completion is seen by every reader. */
static void test_timeout_keeps_future_alive(void)
{
    atomic_int calls = 0;
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &calls), CFUT_OK);

    double t0 = th_now();
    CHECK_STATUS(future_wait(f, SHORT_TIMEOUT), CFUT_ETIMEDOUT);
    CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);

    const void *data = &calls;
    size_t len = 3;
    t0 = th_now();
    CHECK_STATUS(future_result(f, SHORT_TIMEOUT, &data, &len), CFUT_ETIMEDOUT);
    CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);

    int32_t v = -3;
    t0 = th_now();
    CHECK_STATUS(future_result_copy(f, SHORT_TIMEOUT, &v, sizeof v), CFUT_ETIMEDOUT);
    CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);
    CHECK_EQ(v, -3);

    CHECK(!future_done(f));
    CHECK(!future_cancelled(f));
    CHECK_STATUS(future_status(f), CFUT_ETIMEDOUT);
    CHECK_EQ(atomic_load(&calls), 0);

    v = 17;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 1);
    CHECK_STATUS(future_wait(f, SHORT_TIMEOUT), CFUT_OK);
    CHECK_EQ(int_result(f), 17);
    future_release(f);

    /* Same, completed with an error after a timed-out wait. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_wait(f, 0.01), CFUT_ETIMEDOUT);
    CHECK_STATUS(future_set_error(f, 4, "late"), CFUT_OK);
    CHECK_STATUS(future_wait(f, 0), CFUT_OK);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ETASK);
    future_release(f);

    /* And cancelled after one. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_result(f, 0.01, NULL, NULL), CFUT_ETIMEDOUT);
    CHECK(future_cancel(f));
    CHECK_STATUS(future_result(f, 0.01, NULL, NULL), CFUT_ECANCELLED);
    future_release(f);
}

/* ======================= Errors ======================= */

/* set_error(): status CFUT_ETASK, the code (0 included) and the formatted
 * message; a NULL format gives an empty message. */
static void test_set_error_fields(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    char word[8] = "thing";
    CHECK_STATUS(future_set_error(f, 7, "bad %s %d", word, 3), CFUT_OK);
    memset(word, 'Z', sizeof word - 1); /* the message was copied */
    CHECK(future_done(f));
    CHECK(!future_cancelled(f));
    CHECK(!future_running(f));
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 7);
    CHECK_STR(future_error_message(f), "bad thing 3");
    const void *data = f;
    size_t len = 5;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_ETASK);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    future_release(f);

    /* Code 0 is still a failure. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, 0, "zero"), CFUT_OK);
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 0);
    CHECK_STR(future_error_message(f), "zero");
    CHECK_STATUS(future_wait(f, 0), CFUT_OK);
    future_release(f);

    /* Negative codes are kept as given. */
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, -12, "%s", "negative"), CFUT_OK);
    CHECK_EQ(future_error_code(f), -12);
    CHECK_STR(future_error_message(f), "negative");
    future_release(f);

    /* No format: an empty message, not NULL. */
    f = future_new();
    CHECK(f != NULL);
    const char *nofmt = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
    CHECK_STATUS(future_set_error(f, 2, nofmt), CFUT_OK);
#pragma GCC diagnostic pop
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 2);
    CHECK(future_error_message(f) != NULL);
    CHECK_STR(future_error_message(f), "");
    future_release(f);

    /* A long message is kept whole. */
    enum { LONG_MSG = 1000 };
    char *big = malloc(LONG_MSG + 1);
    CHECK(big != NULL);
    for (int i = 0; i < LONG_MSG; i++)
        big[i] = (char)('a' + i % 26);
    big[LONG_MSG] = '\0';
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, 1, "<%s>", big), CFUT_OK);
    const char *m = future_error_message(f);
    CHECK(m != NULL);
    CHECK_EQ(strlen(m), LONG_MSG + 2);
    CHECK(m[0] == '<' && m[LONG_MSG + 1] == '>');
    CHECK(memcmp(m + 1, big, LONG_MSG) == 0);
    free(big);
    future_release(f);

    /* set_error from RUNNING. */
    f = future_new();
    CHECK(f != NULL);
    CHECK(future_set_running_or_notify_cancel(f));
    CHECK_STATUS(future_set_error(f, 9, "while running"), CFUT_OK);
    CHECK(!future_running(f));
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    future_release(f);
}

/* future_error_message(): NULL while not done and on success, non-NULL for
 * every failure, cancel included; future_error_code() 0 unless CFUT_ETASK. */
static void test_error_accessors(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(future_error_message(f) == NULL);
    CHECK_EQ(future_error_code(f), 0);
    CHECK(future_set_running_or_notify_cancel(f));
    CHECK(future_error_message(f) == NULL);
    CHECK_EQ(future_error_code(f), 0);
    CHECK_STATUS(future_set_result(f, "r", 1), CFUT_OK);
    CHECK(future_error_message(f) == NULL);
    CHECK_EQ(future_error_code(f), 0);
    future_release(f);

    f = future_new();
    CHECK(f != NULL);
    CHECK(future_cancel(f));
    CHECK(future_error_message(f) != NULL);
    CHECK_EQ(future_error_code(f), 0);
    future_release(f);
}

/* test_future.py: FutureTests.test_multiple_set_result */
static void test_multiple_set_result(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    int32_t one = 1, two = 2;
    CHECK_STATUS(future_set_result(f, &one, sizeof one), CFUT_OK);
    CHECK_STATUS(future_set_result(f, &two, sizeof two), CFUT_ESTATE);
    CHECK(future_done(f));
    CHECK_EQ(int_result(f), 1);
    /* Any other completion is refused too. */
    CHECK_STATUS(future_set_error(f, 3, "late"), CFUT_ESTATE);
    CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_ESTATE);
    CHECK(!future_cancel(f));
    CHECK_STATUS(future_status(f), CFUT_OK);
    CHECK(future_error_message(f) == NULL);
    CHECK_EQ(int_result(f), 1);
    future_release(f);
}

/* test_future.py: FutureTests.test_multiple_set_exception */
static void test_multiple_set_exception(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, 11, "ValueError"), CFUT_OK);
    CHECK_STATUS(future_set_error(f, 12, "Exception"), CFUT_ESTATE);
    int32_t v = 5;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_ESTATE);
    CHECK(!future_cancel(f));
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 11);
    CHECK_STR(future_error_message(f), "ValueError");
    future_release(f);
}

/* A cancelled future cannot be completed. */
static void test_set_result_on_cancelled(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(future_cancel(f));
    int32_t v = 5;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_ESTATE);
    CHECK_STATUS(future_set_error(f, 1, "x"), CFUT_ESTATE);
    CHECK(future_cancelled(f));
    CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ECANCELLED);
    future_release(f);

    /* Also after set_running_or_notify_cancel() said false. */
    f = make_future(K_CANCELLED_NOTIFIED);
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_ESTATE);
    CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
    future_release(f);
}

/* ======================= Blocking waits ======================= */

typedef struct completer {
    future_t *f;
    th_gate go; /* opened by the main thread right before it blocks */
    int how;    /* 0 result 42, 1 cancel, 2 error */
    int rc;
} completer;

static void completer_main(void *p)
{
    completer *c = p;
    th_gate_wait(&c->go);
    int32_t v = 42;
    if (c->how == 0)
        c->rc = future_set_result(c->f, &v, sizeof v);
    else if (c->how == 1)
        c->rc = future_cancel(c->f) ? CFUT_OK : CFUT_ESTATE;
    else
        c->rc = future_set_error(c->f, 21, "OSError");
}

/* Main blocks in `op` on a future another thread completes "how". */
static int block_main_on_completer(int how, future_t **fp)
{
    completer c = { .f = future_new(), .how = how, .rc = -1 };
    CHECK(c.f != NULL);
    th_gate_init(&c.go);
    th_thread *t = th_spawn(completer_main, &c);
    th_gate_open(&c.go, 1); /* "main is about to wait" */
    int32_t v = 0;
    int rc = future_result_copy(c.f, LONG_WAIT, &v, sizeof v);
    th_join(t);
    th_gate_destroy(&c.go);
    CHECK_STATUS(c.rc, CFUT_OK);
    if (rc == CFUT_OK)
        CHECK_EQ(v, 42);
    *fp = c.f;
    return rc;
}

/* test_future.py: FutureTests.test_result_with_success */
static void test_result_with_success(void)
{
    future_t *f;
    CHECK_STATUS(block_main_on_completer(0, &f), CFUT_OK);
    CHECK(future_done(f));
    future_release(f);
}

/* test_future.py: FutureTests.test_result_with_cancel */
static void test_result_with_cancel(void)
{
    future_t *f;
    CHECK_STATUS(block_main_on_completer(1, &f), CFUT_ECANCELLED);
    CHECK(future_cancelled(f));
    future_release(f);
}

/* test_future.py: FutureTests.test_exception_with_success */
static void test_exception_with_success(void)
{
    future_t *f;
    CHECK_STATUS(block_main_on_completer(2, &f), CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 21);
    CHECK_STR(future_error_message(f), "OSError");
    future_release(f);
}

/* A thread blocked in future_wait(-1) / future_result(-1) wakes on
 * set_result, set_error and cancel. */
static void test_waiter_woken(void)
{
    for (int how = 0; how < 3; how++) {
        for (int op = 0; op < 2; op++) {
            future_t *f = future_new();
            CHECK(f != NULL);
            waiter w;
            waiter_start(&w, f, (wait_op)op);
            int32_t v = 42;
            if (how == 0)
                CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
            else if (how == 1)
                CHECK(future_cancel(f));
            else
                CHECK_STATUS(future_set_error(f, 3, "e"), CFUT_OK);
            waiter_join(&w);
            int want = op == OP_WAIT ? CFUT_OK
                       : how == 0    ? CFUT_OK
                       : how == 1    ? CFUT_ECANCELLED
                                     : CFUT_ETASK;
            CHECK_STATUS(w.rc, want);
            if (op == OP_RESULT && how == 0)
                CHECK_EQ(w.value, 42);
            future_release(f);
        }
    }
}

/* Many threads blocked on one future all wake, for completion and cancel;
 * also on a RUNNING future. */
static void test_many_waiters_woken(void)
{
    enum { NW = 8 };
    for (int how = 0; how < 2; how++) {
        future_t *f = future_new();
        CHECK(f != NULL);
        if (how == 0)
            CHECK(future_set_running_or_notify_cancel(f));
        waiter w[NW];
        for (int i = 0; i < NW; i++)
            waiter_start(&w[i], f, (wait_op)(i % 2));
        int32_t v = 42;
        if (how == 0)
            CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
        else
            CHECK(future_cancel(f));
        for (int i = 0; i < NW; i++) {
            waiter_join(&w[i]);
            int want = w[i].op == OP_WAIT || how == 0 ? CFUT_OK : CFUT_ECANCELLED;
            CHECK_STATUS(w[i].rc, want);
            if (w[i].op == OP_RESULT && how == 0)
                CHECK_EQ(w[i].value, 42);
        }
        future_release(f);
    }
}

/* ======================= Done callbacks ======================= */

typedef struct seen {
    int calls;
    int status;
    int32_t value;
    int code;
    char msg[64];
    bool cancelled;
    bool done;
} seen;

static void seeing_cb(future_t *f, void *user)
{
    seen *s = user;
    s->calls++;
    s->done = future_done(f);
    s->cancelled = future_cancelled(f);
    s->status = future_result_copy(f, 0, &s->value, sizeof s->value);
    s->code = future_error_code(f);
    const char *m = future_error_message(f);
    snprintf(s->msg, sizeof s->msg, "%s", m ? m : "(null)");
}

/* test_future.py: FutureTests.test_done_callback_with_result */
static void test_done_callback_with_result(void)
{
    seen s = { 0 };
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, seeing_cb, &s), CFUT_OK);
    CHECK_EQ(s.calls, 0);
    int32_t v = 5;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK_EQ(s.calls, 1);
    CHECK(s.done);
    CHECK_STATUS(s.status, CFUT_OK);
    CHECK_EQ(s.value, 5);
    CHECK_STR(s.msg, "(null)");
    future_release(f);
}

/* test_future.py: FutureTests.test_done_callback_with_exception */
static void test_done_callback_with_exception(void)
{
    seen s = { 0 };
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, seeing_cb, &s), CFUT_OK);
    CHECK_STATUS(future_set_error(f, 8, "test"), CFUT_OK);
    CHECK_EQ(s.calls, 1);
    CHECK(s.done);
    CHECK_STATUS(s.status, CFUT_ETASK);
    CHECK_EQ(s.code, 8);
    CHECK_STR(s.msg, "test");
    future_release(f);
}

/* test_future.py: FutureTests.test_done_callback_with_cancel */
static void test_done_callback_with_cancel(void)
{
    seen s = { 0 };
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, seeing_cb, &s), CFUT_OK);
    CHECK(future_cancel(f));
    CHECK_EQ(s.calls, 1);
    CHECK(s.cancelled);
    CHECK(s.done);
    CHECK_STATUS(s.status, CFUT_ECANCELLED);
    future_release(f);
}

/* test_future.py: FutureTests.test_done_callback_already_successful,
 * test_done_callback_already_failed, test_done_callback_already_cancelled:
 * registered on a done future, the callback runs at once, in the caller's
 * thread, before add_done_callback() returns. */
static void test_done_callback_already_done(void)
{
    static const kind ks[] = { K_SUCCESSFUL, K_EXCEPTION, K_CANCELLED,
                               K_CANCELLED_NOTIFIED };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        future_t *f = make_future(ks[i]);
        seen s = { 0 };
        cb_log log;
        log_init(&log);
        cb_entry e = { &log, 1 };
        CHECK_STATUS(future_add_done_callback(f, seeing_cb, &s), CFUT_OK);
        CHECK_STATUS(future_add_done_callback(f, log_cb, &e), CFUT_OK);
        CHECK_EQ(s.calls, 1);
        CHECK_EQ(log.n, 1);
        CHECK(pthread_equal(log.threads[0], pthread_self()));
        CHECK(log.futures[0] == f);
        switch (ks[i]) {
        case K_SUCCESSFUL:
            CHECK_STATUS(s.status, CFUT_OK);
            CHECK_EQ(s.value, 42);
            break;
        case K_EXCEPTION:
            CHECK_STATUS(s.status, CFUT_ETASK);
            CHECK_EQ(s.code, 5);
            CHECK_STR(s.msg, "OSError");
            break;
        default:
            CHECK(s.cancelled);
            CHECK_STATUS(s.status, CFUT_ECANCELLED);
            break;
        }
        log_fini(&log);
        future_release(f);
    }
}

/* Registered on a done future from another thread: runs in that thread. */
typedef struct late_reg {
    future_t *f;
    cb_log *log;
    cb_entry e;
    int rc;
    int count_after;
    pthread_t self;
} late_reg;

static void late_register_main(void *p)
{
    late_reg *r = p;
    r->self = pthread_self();
    r->rc = future_add_done_callback(r->f, log_cb, &r->e);
    r->count_after = log_count(r->log);
}

static void test_done_callback_already_done_other_thread(void)
{
    future_t *f = make_future(K_SUCCESSFUL);
    cb_log log;
    log_init(&log);
    late_reg r = { .f = f, .log = &log, .e = { &log, 1 } };
    th_join(th_spawn(late_register_main, &r));
    CHECK_STATUS(r.rc, CFUT_OK);
    CHECK_EQ(r.count_after, 1);
    CHECK_EQ(log.n, 1);
    CHECK(pthread_equal(log.threads[0], r.self));
    log_fini(&log);
    future_release(f);
}

/* Callbacks run in registration order, each once (a callback registered twice
 * runs twice), and all before the completing call returns. */
static void test_done_callback_order(void)
{
    for (int how = 0; how < 3; how++) {
        enum { N = 10 };
        cb_log log;
        log_init(&log);
        cb_entry e[N];
        future_t *f = future_new();
        CHECK(f != NULL);
        for (int i = 0; i < N; i++) {
            e[i] = (cb_entry){ &log, i };
            CHECK_STATUS(future_add_done_callback(f, log_cb, &e[i]), CFUT_OK);
        }
        CHECK_STATUS(future_add_done_callback(f, log_cb, &e[3]), CFUT_OK);
        CHECK_EQ(log_count(&log), 0);
        if (how == 0)
            CHECK_STATUS(future_set_result(f, "x", 1), CFUT_OK);
        else if (how == 1)
            CHECK_STATUS(future_set_error(f, 1, "y"), CFUT_OK);
        else
            CHECK(future_cancel(f));
        CHECK_EQ(log_count(&log), N + 1);
        for (int i = 0; i < N; i++) {
            CHECK_EQ(log.ids[i], i);
            CHECK(log.done[i]);
            CHECK(log.futures[i] == f);
            CHECK(pthread_equal(log.threads[i], pthread_self()));
        }
        CHECK_EQ(log.ids[N], 3);
        log_fini(&log);
        future_release(f);
    }
}

/* Exactly once: later completion attempts do not run callbacks again. */
static void test_done_callback_exactly_once(void)
{
    atomic_int a = 0, b = 0;
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &a), CFUT_OK);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &b), CFUT_OK);
    CHECK(future_set_running_or_notify_cancel(f));
    CHECK_EQ(atomic_load(&a), 0); /* RUNNING is not done */
    CHECK_STATUS(future_set_result(f, "1", 1), CFUT_OK);
    CHECK_STATUS(future_set_result(f, "2", 1), CFUT_ESTATE);
    CHECK_STATUS(future_set_error(f, 1, "3"), CFUT_ESTATE);
    CHECK(!future_cancel(f));
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK_STATUS(future_wait(f, 0), CFUT_OK);
    CHECK_EQ(atomic_load(&a), 1);
    CHECK_EQ(atomic_load(&b), 1);
    future_release(f);

    atomic_store(&a, 0);
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &a), CFUT_OK);
    CHECK(future_cancel(f));
    CHECK(future_cancel(f));
    CHECK(!future_set_running_or_notify_cancel(f));
    CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_ESTATE);
    CHECK_EQ(atomic_load(&a), 1);
    future_release(f);
}

/* The callback runs in the thread that completes the future, before that
 * thread's set_result() returns. */
typedef struct remote_complete {
    future_t *f;
    cb_log *log;
    pthread_t self;
    int rc;
    int count_after;
} remote_complete;

static void remote_complete_main(void *p)
{
    remote_complete *r = p;
    r->self = pthread_self();
    r->rc = future_set_result(r->f, "z", 1);
    r->count_after = log_count(r->log);
}

static void test_done_callback_in_completing_thread(void)
{
    cb_log log;
    log_init(&log);
    cb_entry e1 = { &log, 1 }, e2 = { &log, 2 };
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, log_cb, &e1), CFUT_OK);
    CHECK_STATUS(future_add_done_callback(f, log_cb, &e2), CFUT_OK);
    remote_complete r = { .f = f, .log = &log, .rc = -1 };
    th_join(th_spawn(remote_complete_main, &r));
    CHECK_STATUS(r.rc, CFUT_OK);
    CHECK_EQ(r.count_after, 2);
    CHECK_EQ(log.n, 2);
    CHECK(pthread_equal(log.threads[0], r.self));
    CHECK(pthread_equal(log.threads[1], r.self));
    CHECK(!pthread_equal(log.threads[0], pthread_self()));
    CHECK_EQ(log.ids[0], 1);
    CHECK_EQ(log.ids[1], 2);
    log_fini(&log);
    future_release(f);
}

/* The callback gets the future and its own user pointer. */
static void test_done_callback_arguments(void)
{
    cb_log log;
    log_init(&log);
    cb_entry e[3] = { { &log, 10 }, { &log, 20 }, { &log, 30 } };
    future_t *f = future_new(), *g = future_new();
    CHECK(f != NULL && g != NULL);
    CHECK_STATUS(future_add_done_callback(f, log_cb, &e[0]), CFUT_OK);
    CHECK_STATUS(future_add_done_callback(g, log_cb, &e[1]), CFUT_OK);
    CHECK_STATUS(future_add_done_callback(f, log_cb, &e[2]), CFUT_OK);
    CHECK_STATUS(future_set_result(g, NULL, 0), CFUT_OK);
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.ids[0], 20);
    CHECK(log.futures[0] == g);
    CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_OK);
    CHECK_EQ(log.n, 3);
    CHECK_EQ(log.ids[1], 10);
    CHECK_EQ(log.ids[2], 30);
    CHECK(log.futures[1] == f && log.futures[2] == f);
    log_fini(&log);
    future_release(f);
    future_release(g);
}

/* A callback may release its future, even the last reference: here the
 * caller hands its only reference to the first callback, and the later
 * callbacks still run. Valgrind/ASan catch a use after free. */
static void releasing_cb(future_t *f, void *user)
{
    atomic_fetch_add((atomic_int *)user, 1);
    future_release(f);
}

static void test_done_callback_releases_future(void)
{
    for (int how = 0; how < 4; how++) {
        atomic_int released = 0, after = 0;
        future_t *f = future_new();
        CHECK(f != NULL);
        if (how == 3) {
            /* Already done: the callback runs inside add_done_callback(). */
            CHECK_STATUS(future_set_result(f, "d", 1), CFUT_OK);
            CHECK_STATUS(future_add_done_callback(f, releasing_cb, &released),
                         CFUT_OK);
            CHECK_EQ(atomic_load(&released), 1);
            continue; /* f is gone */
        }
        CHECK_STATUS(future_add_done_callback(f, releasing_cb, &released), CFUT_OK);
        CHECK_STATUS(future_add_done_callback(f, count_cb, &after), CFUT_OK);
        /* From here on the callback owns the only reference. */
        if (how == 0)
            CHECK_STATUS(future_set_result(f, "r", 1), CFUT_OK);
        else if (how == 1)
            CHECK_STATUS(future_set_error(f, 1, "e"), CFUT_OK);
        else
            CHECK(future_cancel(f));
        CHECK_EQ(atomic_load(&released), 1);
        CHECK_EQ(atomic_load(&after), 1);
    }

    /* Same from another thread, with the main thread holding nothing. */
    atomic_int released = 0;
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, releasing_cb, &released), CFUT_OK);
    cb_log log;
    log_init(&log);
    remote_complete r = { .f = f, .log = &log, .rc = -1 };
    th_join(th_spawn(remote_complete_main, &r));
    CHECK_STATUS(r.rc, CFUT_OK);
    CHECK_EQ(atomic_load(&released), 1);
    log_fini(&log);
}

/* A callback may register another callback on the same (done) future: it
 * runs at once, inside the add_done_callback() call; the remaining
 * callbacks keep their order and all finish before the completion returns. */
typedef struct nest {
    future_t *f;
    int seq[8];
    int n;
    int add_rc;
} nest;

static void nest_inner(future_t *f, void *user)
{
    nest *s = user;
    CHECK(f == s->f);
    s->seq[s->n++] = 2;
}

static void nest_outer(future_t *f, void *user)
{
    nest *s = user;
    s->seq[s->n++] = 1;
    s->add_rc = future_add_done_callback(f, nest_inner, s);
    s->seq[s->n++] = 3;
}

static void nest_last(future_t *f, void *user)
{
    (void)f;
    nest *s = user;
    s->seq[s->n++] = 4;
}

static void test_done_callback_registers_callback(void)
{
    for (int how = 0; how < 3; how++) {
        nest s = { .add_rc = -1 };
        s.f = future_new();
        CHECK(s.f != NULL);
        CHECK_STATUS(future_add_done_callback(s.f, nest_outer, &s), CFUT_OK);
        CHECK_STATUS(future_add_done_callback(s.f, nest_last, &s), CFUT_OK);
        if (how == 0)
            CHECK_STATUS(future_set_result(s.f, NULL, 0), CFUT_OK);
        else if (how == 1)
            CHECK_STATUS(future_set_error(s.f, 2, "x"), CFUT_OK);
        else
            CHECK(future_cancel(s.f));
        CHECK_EQ(s.n, 4);
        CHECK_STATUS(s.add_rc, CFUT_OK);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(s.seq[i], i + 1);
        future_release(s.f);
    }

    /* On an already done future: everything happens inside the add. */
    nest s = { .add_rc = -1 };
    s.f = make_future(K_SUCCESSFUL);
    CHECK_STATUS(future_add_done_callback(s.f, nest_outer, &s), CFUT_OK);
    CHECK_EQ(s.n, 3);
    CHECK_STATUS(s.add_rc, CFUT_OK);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(s.seq[i], i + 1);
    future_release(s.f);
}

/* A callback may call any cfut function on its future: no lock is held. */
typedef struct api_seen {
    int calls;
    int wait_rc, wait_forever_rc, result_rc, copy_rc, status, set_rc, err_rc;
    int32_t value;
    size_t len;
    bool done, running, cancel_rc, notify_rc;
    int nested_calls;
} api_seen;

static void nested_count_cb(future_t *f, void *user)
{
    (void)f;
    ((api_seen *)user)->nested_calls++;
}

static void api_cb(future_t *f, void *user)
{
    api_seen *s = user;
    s->calls++;
    s->wait_rc = future_wait(f, 0);
    s->wait_forever_rc = future_wait(f, -1);
    const void *data = NULL;
    s->result_rc = future_result(f, -1, &data, &s->len);
    s->copy_rc = future_result_copy(f, LONG_WAIT, &s->value, sizeof s->value);
    s->status = future_status(f);
    s->done = future_done(f);
    s->running = future_running(f);
    s->cancel_rc = future_cancel(f);
    s->notify_rc = future_set_running_or_notify_cancel(f);
    s->set_rc = future_set_result(f, "no", 2);
    s->err_rc = future_set_error(f, 1, "no");
    future_release(future_retain(f));
    future_add_done_callback(f, nested_count_cb, s);
}

static void test_done_callback_calls_future_api(void)
{
    api_seen s = { 0 };
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, api_cb, &s), CFUT_OK);
    int32_t v = 7;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    CHECK_EQ(s.calls, 1);
    CHECK_STATUS(s.wait_rc, CFUT_OK);
    CHECK_STATUS(s.wait_forever_rc, CFUT_OK);
    CHECK_STATUS(s.result_rc, CFUT_OK);
    CHECK_EQ(s.len, sizeof v);
    CHECK_STATUS(s.copy_rc, CFUT_OK);
    CHECK_EQ(s.value, 7);
    CHECK_STATUS(s.status, CFUT_OK);
    CHECK(s.done);
    CHECK(!s.running);
    CHECK(!s.cancel_rc);
    CHECK(!s.notify_rc);
    CHECK_STATUS(s.set_rc, CFUT_ESTATE);
    CHECK_STATUS(s.err_rc, CFUT_ESTATE);
    CHECK_EQ(s.nested_calls, 1);
    CHECK_EQ(int_result(f), 7);
    future_release(f);

    /* From a cancel: cancel() inside the callback says true. */
    memset(&s, 0, sizeof s);
    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, api_cb, &s), CFUT_OK);
    CHECK(future_cancel(f));
    CHECK_EQ(s.calls, 1);
    CHECK_STATUS(s.wait_rc, CFUT_OK);
    CHECK_STATUS(s.result_rc, CFUT_ECANCELLED);
    CHECK_STATUS(s.status, CFUT_ECANCELLED);
    CHECK(s.cancel_rc);
    CHECK(!s.notify_rc);
    CHECK_STATUS(s.set_rc, CFUT_ESTATE);
    CHECK_EQ(s.nested_calls, 1);
    future_release(f);
}

/* Waiters are woken before callbacks run, and callbacks hold no lock: a
 * callback can wait for a thread that was blocked on the same future. */
typedef struct after_waiters {
    future_t *f;
    th_gate ready, woke;
    int wait_rc;
    bool saw_waiter;
} after_waiters;

static void after_waiters_thread(void *p)
{
    after_waiters *a = p;
    th_gate_open(&a->ready, 1);
    a->wait_rc = future_wait(a->f, -1);
    th_gate_open(&a->woke, 1);
}

static void after_waiters_cb(future_t *f, void *user)
{
    (void)f;
    after_waiters *a = user;
    a->saw_waiter = th_gate_timedwait(&a->woke, 10.0);
}

static void test_done_callback_after_waiters_woken(void)
{
    for (int how = 0; how < 2; how++) {
        after_waiters a = { .wait_rc = -1 };
        a.f = future_new();
        CHECK(a.f != NULL);
        th_gate_init(&a.ready);
        th_gate_init(&a.woke);
        CHECK_STATUS(future_add_done_callback(a.f, after_waiters_cb, &a), CFUT_OK);
        th_thread *t = th_spawn(after_waiters_thread, &a);
        th_gate_wait(&a.ready);
        if (how == 0)
            CHECK_STATUS(future_set_result(a.f, NULL, 0), CFUT_OK);
        else
            CHECK(future_cancel(a.f));
        CHECK(a.saw_waiter);
        th_join(t);
        CHECK_STATUS(a.wait_rc, CFUT_OK);
        th_gate_destroy(&a.ready);
        th_gate_destroy(&a.woke);
        future_release(a.f);
    }
}

/* A failed registration (NULL future or NULL callback) never runs. */
static void test_done_callback_null(void)
{
    atomic_int calls = 0;
    CHECK_STATUS(future_add_done_callback(NULL, count_cb, &calls), CFUT_EINVAL);
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, NULL, &calls), CFUT_EINVAL);
    CHECK_STATUS(future_add_done_callback(f, count_cb, &calls), CFUT_OK);
    CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_OK);
    CHECK_EQ(atomic_load(&calls), 1);
    /* Done future: NULL callback still refused, nothing runs. */
    CHECK_STATUS(future_add_done_callback(f, NULL, NULL), CFUT_EINVAL);
    CHECK_STATUS(future_add_done_callback(NULL, count_cb, &calls), CFUT_EINVAL);
    CHECK_EQ(atomic_load(&calls), 1);
    future_release(f);
}

/* Registrations racing the completion: every callback runs exactly once,
 * either at completion or at once in the registering thread. */
typedef struct racing_reg {
    future_t *f;
    th_gate *start;
    atomic_int *count;
    int failures;
} racing_reg;

enum { REG_THREADS = 4, REG_EACH = 200 };

static void racing_reg_main(void *p)
{
    racing_reg *r = p;
    th_gate_wait(r->start);
    for (int i = 0; i < REG_EACH; i++)
        if (future_add_done_callback(r->f, count_cb, r->count) != CFUT_OK)
            r->failures++;
}

static void test_done_callback_concurrent_registration(void)
{
    for (int round = 0; round < 5; round++) {
        atomic_int count = 0;
        th_gate start;
        th_gate_init(&start);
        future_t *f = future_new();
        CHECK(f != NULL);
        racing_reg r[REG_THREADS];
        th_thread *t[REG_THREADS];
        for (int i = 0; i < REG_THREADS; i++) {
            r[i] = (racing_reg){ f, &start, &count, 0 };
            t[i] = th_spawn(racing_reg_main, &r[i]);
        }
        th_gate_open(&start, REG_THREADS);
        if (round % 2)
            CHECK(future_cancel(f));
        else
            CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_OK);
        for (int i = 0; i < REG_THREADS; i++) {
            th_join(t[i]);
            CHECK_EQ(r[i].failures, 0);
        }
        CHECK_EQ(atomic_load(&count), REG_THREADS * REG_EACH);
        th_gate_destroy(&start);
        future_release(f);
    }
}

/* An executor's future runs its callbacks in the worker thread that
 * completed it, exactly once. */
typedef struct exec_cb {
    th_gate ran;
    pthread_t thread;
    atomic_int calls;
    int status;
} exec_cb;

static void exec_callback(future_t *f, void *user)
{
    exec_cb *c = user;
    c->thread = pthread_self();
    c->status = future_status(f);
    atomic_fetch_add(&c->calls, 1);
    th_gate_open(&c->ran, 1);
}

static void test_done_callback_executor(void)
{
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    exec_cb c = { .status = -1 };
    th_gate_init(&c.ran);
    future_t *f = submit_gated(ex, &g);
    CHECK(f != NULL);
    CHECK_STATUS(future_add_done_callback(f, exec_callback, &c), CFUT_OK);
    th_gate_wait(&g.started);
    CHECK_EQ(atomic_load(&c.calls), 0);
    th_gate_open(&g.release, 1);
    CHECK(th_gate_timedwait(&c.ran, LONG_WAIT));
    CHECK_STATUS(future_wait(f, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    CHECK_EQ(atomic_load(&c.calls), 1);
    CHECK(!pthread_equal(c.thread, pthread_self()));
    CHECK_STATUS(c.status, CFUT_OK);
    th_gate_destroy(&c.ran);
    gates_fini(&g);
    future_release(f);
}

/* ======================= Thread safety ======================= */

/* Many threads race to complete one future: exactly one wins, the others get
 * CFUT_ESTATE, the result is the winner's, callbacks run once. */
typedef struct racer {
    future_t *f;
    th_gate *start;
    int32_t value;
    int rc;
} racer;

static void racer_main(void *p)
{
    racer *r = p;
    th_gate_wait(r->start);
    if (r->value % 3 == 2)
        r->rc = future_set_error(r->f, r->value, "racer %d", (int)r->value);
    else
        r->rc = future_set_result(r->f, &r->value, sizeof r->value);
}

static void test_concurrent_completion_one_wins(void)
{
    enum { NT = 8, ROUNDS = 30 };
    for (int round = 0; round < ROUNDS; round++) {
        th_gate start;
        th_gate_init(&start);
        atomic_int calls = 0;
        future_t *f = future_new();
        CHECK(f != NULL);
        CHECK_STATUS(future_add_done_callback(f, count_cb, &calls), CFUT_OK);
        racer r[NT];
        th_thread *t[NT];
        for (int i = 0; i < NT; i++) {
            r[i] = (racer){ f, &start, (int32_t)i, -1 };
            t[i] = th_spawn(racer_main, &r[i]);
        }
        th_gate_open(&start, NT);
        int winner = -1;
        for (int i = 0; i < NT; i++) {
            th_join(t[i]);
            if (r[i].rc == CFUT_OK) {
                CHECK_EQ(winner, -1);
                winner = i;
            } else {
                CHECK_STATUS(r[i].rc, CFUT_ESTATE);
            }
        }
        CHECK(winner >= 0);
        CHECK_EQ(atomic_load(&calls), 1);
        if (winner % 3 == 2) {
            CHECK_STATUS(future_status(f), CFUT_ETASK);
            CHECK_EQ(future_error_code(f), winner);
        } else {
            CHECK_EQ(int_result(f), winner);
        }
        th_gate_destroy(&start);
        future_release(f);
    }
}

/* cancel() against set_result() and set_running_or_notify_cancel():
 * exactly one of them takes effect. Two long-lived threads spin until the
 * main thread starts a round, so their calls overlap closely; many rounds
 * (fewer under valgrind, where CFUT_TEST_TIMEOUT_MULT is set). */
typedef struct duel {
    future_t *_Atomic f;
    atomic_int go;     /* round number to run */
    int rounds;
    th_gate done;      /* each duelist opens it once per round */
    int what[2];       /* per duelist: 0 cancel, 1 set_result, 2 set_running */
    int rc[2];         /* status, or 1/0 for the bool calls */
} duel;

typedef struct duelist {
    duel *d;
    int me;
} duelist;

static void duelist_main(void *p)
{
    duelist *x = p;
    duel *d = x->d;
    for (int k = 1; k <= d->rounds; k++) {
        for (unsigned spin = 0; atomic_load(&d->go) < k; spin++)
            if (spin % 64 == 63)
                sched_yield();
        future_t *f = atomic_load(&d->f);
        int what = d->what[x->me], rc;
        if (what == 0)
            rc = future_cancel(f);
        else if (what == 1)
            rc = future_set_result(f, "w", 1);
        else
            rc = future_set_running_or_notify_cancel(f);
        d->rc[x->me] = rc;
        th_gate_open(&d->done, 1);
    }
}

static int scaled_rounds(int n)
{
    const char *m = getenv("CFUT_TEST_TIMEOUT_MULT");
    double mult = m ? atof(m) : 1;
    return mult > 1 ? (int)(n / mult) : n;
}

static void test_concurrent_cancel_races(void)
{
    duel d = { .rounds = scaled_rounds(20000) };
    atomic_init(&d.go, 0);
    atomic_init(&d.f, NULL);
    th_gate_init(&d.done);
    duelist x0 = { &d, 0 }, x1 = { &d, 1 };
    th_thread *t0 = th_spawn(duelist_main, &x0);
    th_thread *t1 = th_spawn(duelist_main, &x1);
    int both_won = 0, cancel_wins = 0, other_wins = 0;
    for (int k = 1; k <= d.rounds; k++) {
        int other = 1 + k % 2;
        int ci = k % 4 < 2; /* alternate which thread cancels */
        d.what[ci] = 0;
        d.what[1 - ci] = other;
        future_t *f = future_new();
        CHECK(f != NULL);
        atomic_store(&d.f, f);
        atomic_store(&d.go, k);
        th_gate_wait(&d.done);
        th_gate_wait(&d.done);
        int crc = d.rc[ci], orc = d.rc[1 - ci];
        if (crc) {
            cancel_wins++;
            CHECK(future_cancelled(f));
            if (other == 1)
                CHECK_STATUS(orc, CFUT_ESTATE);
            else if (orc)
                both_won++; /* set_running said "run it" and cancel said "cancelled" */
        } else {
            other_wins++;
            CHECK(!future_cancelled(f));
            if (other == 1) {
                CHECK_STATUS(orc, CFUT_OK);
                CHECK_STATUS(future_status(f), CFUT_OK);
            } else {
                CHECK_EQ(orc, 1);
                CHECK(future_running(f));
                CHECK_STATUS(future_set_result(f, NULL, 0), CFUT_OK);
            }
        }
        CHECK(future_done(f));
        future_release(f);
    }
    th_join(t0);
    th_join(t1);
    th_gate_destroy(&d.done);
    if (both_won)
        th_fail(__FILE__, __LINE__,
                "in %d of %d rounds future_cancel() and "
                "future_set_running_or_notify_cancel() both returned true",
                both_won, d.rounds / 2);
    CHECK_INT(cancel_wins + other_wins, ==, d.rounds);
}

/* test_future.py: FutureTests.test_get_snapshot: readers on many threads see
 * one consistent finished state. */
typedef struct snapshot_reader {
    future_t *f;
    th_gate *start;
    int bad;
} snapshot_reader;

static void snapshot_main(void *p)
{
    snapshot_reader *r = p;
    th_gate_wait(r->start);
    for (int i = 0; i < 1000; i++) {
        const void *data = NULL;
        size_t len = 0;
        int32_t v = 0;
        if (!future_done(r->f) || future_cancelled(r->f) || future_running(r->f) ||
            future_result(r->f, 0, &data, &len) != CFUT_OK || len != sizeof v ||
            future_status(r->f) != CFUT_OK || future_error_message(r->f) != NULL ||
            future_error_code(r->f) != 0)
            r->bad++;
        else if (memcpy(&v, data, sizeof v), v != 100)
            r->bad++;
    }
}

static void test_get_snapshot(void)
{
    /* Pending, finished, failed, cancelled: what a snapshot shows. */
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK(!future_done(f) && !future_cancelled(f));
    CHECK(future_error_message(f) == NULL);
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ETIMEDOUT);
    future_release(f);
    f = make_future(K_SUCCESSFUL);
    CHECK(future_done(f) && !future_cancelled(f));
    CHECK_EQ(int_result(f), 42);
    CHECK(future_error_message(f) == NULL);
    future_release(f);
    f = make_future(K_EXCEPTION);
    CHECK(future_done(f) && !future_cancelled(f));
    CHECK_STATUS(future_result(f, 0, NULL, NULL), CFUT_ETASK);
    CHECK_STR(future_error_message(f), "OSError");
    future_release(f);
    f = make_future(K_CANCELLED);
    CHECK(future_done(f) && future_cancelled(f));
    future_release(f);

    enum { NT = 4 };
    f = future_new();
    CHECK(f != NULL);
    int32_t v = 100;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    th_gate start;
    th_gate_init(&start);
    snapshot_reader r[NT];
    th_thread *t[NT];
    for (int i = 0; i < NT; i++) {
        r[i] = (snapshot_reader){ f, &start, 0 };
        t[i] = th_spawn(snapshot_main, &r[i]);
    }
    th_gate_open(&start, NT);
    for (int i = 0; i < NT; i++) {
        th_join(t[i]);
        CHECK_EQ(r[i].bad, 0);
    }
    th_gate_destroy(&start);
    future_release(f);
}

/* retain/release from many threads at once keep the count exact. */
typedef struct refs_arg {
    future_t *f;
    th_gate *start;
} refs_arg;

static void refs_main(void *p)
{
    refs_arg *a = p;
    th_gate_wait(a->start);
    for (int i = 0; i < 2000; i++) {
        future_t *g = future_retain(a->f);
        if (i % 2)
            (void)future_done(g);
        future_release(g);
    }
}

static void test_concurrent_retain_release(void)
{
    enum { NT = 8 };
    future_t *f = future_new();
    CHECK(f != NULL);
    th_gate start;
    th_gate_init(&start);
    refs_arg a = { f, &start };
    th_thread *t[NT];
    for (int i = 0; i < NT; i++)
        t[i] = th_spawn(refs_main, &a);
    th_gate_open(&start, NT);
    int32_t v = 1;
    CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_OK);
    for (int i = 0; i < NT; i++)
        th_join(t[i]);
    CHECK_EQ(int_result(f), 1);
    th_gate_destroy(&start);
    future_release(f); /* the last one: valgrind reports a leak otherwise */
}

/* ======================= Executor futures ======================= */

/* A future owned by an executor cannot be completed or started by hand:
 * CFUT_EINVAL / false, whether queued, running or finished. */
static void test_executor_future_not_settable(void)
{
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    future_t *running = submit_gated(ex, &g);
    th_gate_wait(&g.started);
    int32_t seven = 7;
    future_t *queued = executor_submit(ex, echo_task, &seven, sizeof seven);
    CHECK(running != NULL && queued != NULL);

    future_t *both[2] = { queued, running };
    for (int i = 0; i < 2; i++) {
        future_t *f = both[i];
        int32_t v = 99;
        CHECK_STATUS(future_set_result(f, &v, sizeof v), CFUT_EINVAL);
        CHECK_STATUS(future_set_error(f, 1, "no"), CFUT_EINVAL);
        CHECK(!future_set_running_or_notify_cancel(f));
        CHECK(!future_done(f));
    }
    CHECK(!future_running(queued));
    CHECK(future_running(running));

    th_gate_open(&g.release, 1);
    int32_t got = 0;
    CHECK_STATUS(future_result_copy(queued, LONG_WAIT, &got, sizeof got), CFUT_OK);
    CHECK_EQ(got, 7);
    unsigned char stop = 9;
    CHECK_STATUS(future_result_copy(running, LONG_WAIT, &stop, 1), CFUT_OK);
    CHECK_EQ(stop, 0);

    /* Finished: refused (EINVAL or ESTATE) and the result stays. */
    int rc = future_set_result(queued, NULL, 0);
    CHECK(rc == CFUT_EINVAL || rc == CFUT_ESTATE);
    rc = future_set_error(queued, 1, "no");
    CHECK(rc == CFUT_EINVAL || rc == CFUT_ESTATE);
    CHECK(!future_set_running_or_notify_cancel(queued));
    CHECK_EQ(int_result(queued), 7);

    executor_free(ex);
    gates_fini(&g);
    future_release(queued);
    future_release(running);
}

/* Cancelling a queued executor task: true, callbacks run in the cancelling
 * thread, the task never runs. */
static void test_cancel_queued_executor_task(void)
{
    atomic_store(&tasks_ran, 0);
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    future_t *blocker = submit_gated(ex, &g);
    th_gate_wait(&g.started);
    future_t *queued = executor_submit(ex, counting_task, NULL, 0);
    CHECK(!future_done(queued));
    cb_log log;
    log_init(&log);
    cb_entry e = { &log, 1 };
    CHECK_STATUS(future_add_done_callback(queued, log_cb, &e), CFUT_OK);

    CHECK(future_cancel(queued));
    CHECK_EQ(log_count(&log), 1);
    CHECK(pthread_equal(log.threads[0], pthread_self()));
    CHECK(future_cancelled(queued));
    CHECK(future_done(queued));
    CHECK(!future_running(queued));
    CHECK_STATUS(future_status(queued), CFUT_ECANCELLED);
    CHECK_STATUS(future_wait(queued, 0), CFUT_OK);
    CHECK(future_error_message(queued) != NULL);
    CHECK(future_cancel(queued));
    CHECK_EQ(log_count(&log), 1);

    th_gate_open(&g.release, 1);
    CHECK_STATUS(future_wait(blocker, LONG_WAIT), CFUT_OK);
    executor_free(ex); /* waits for queued work: the cancelled one is gone */
    CHECK_EQ(atomic_load(&tasks_ran), 0);
    CHECK_STATUS(future_status(queued), CFUT_ECANCELLED);
    log_fini(&log);
    gates_fini(&g);
    future_release(blocker);
    future_release(queued);
}

/* Cancelling a running executor task fails (false, state unchanged) but the
 * task sees cfut_should_stop(); its outcome is what it reports. */
static void test_cancel_running_executor_task(void)
{
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    future_t *f = submit_gated(ex, &g);
    th_gate_wait(&g.started);
    CHECK(future_running(f));
    CHECK(!future_cancel(f));
    CHECK(future_running(f));
    CHECK(!future_cancelled(f));
    CHECK(!future_done(f));
    th_gate_open(&g.release, 1);
    unsigned char stop = 0;
    CHECK_STATUS(future_result_copy(f, LONG_WAIT, &stop, 1), CFUT_OK);
    CHECK_EQ(stop, 1);
    CHECK(!future_cancelled(f));
    CHECK(!future_cancel(f));
    executor_free(ex);
    gates_fini(&g);
    future_release(f);
}

/* The only reference to an executor's future is released by its callback,
 * run on the worker (completion) or in the cancelling thread (cancel):
 * valgrind/ASan report a use after free if the executor touches it after. */
typedef struct release_on_done {
    th_gate ran;
    atomic_int calls;
} release_on_done;

static void release_on_done_cb(future_t *f, void *user)
{
    release_on_done *r = user;
    atomic_fetch_add(&r->calls, 1);
    future_release(f);
    th_gate_open(&r->ran, 1);
}

static void test_done_callback_releases_executor_future(void)
{
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    release_on_done r1 = { .calls = 0 }, r2 = { .calls = 0 };
    th_gate_init(&r1.ran);
    th_gate_init(&r2.ran);
    future_t *running = submit_gated(ex, &g);
    th_gate_wait(&g.started);
    future_t *queued = executor_submit(ex, counting_task, NULL, 0);
    CHECK_STATUS(future_add_done_callback(running, release_on_done_cb, &r1), CFUT_OK);
    CHECK_STATUS(future_add_done_callback(queued, release_on_done_cb, &r2), CFUT_OK);
    /* From here on the callbacks own the only references we had. */
    CHECK(future_cancel(queued));
    CHECK_EQ(atomic_load(&r2.calls), 1);
    th_gate_open(&g.release, 1);
    CHECK(th_gate_timedwait(&r1.ran, LONG_WAIT));
    executor_free(ex);
    CHECK_EQ(atomic_load(&r1.calls), 1);
    th_gate_destroy(&r1.ran);
    th_gate_destroy(&r2.ran);
    gates_fini(&g);
}

/* cancel() races the worker taking queued tasks: for each future exactly one
 * side wins. cancel() true <=> cancelled <=> the task never ran; each
 * future's callback runs once. */
enum { RACE_TASKS = 200 };
static atomic_int ran_index[RACE_TASKS];

static int index_task(cfut_task *t, const void *arg, size_t len)
{
    int32_t i;
    CHECK_EQ(len, sizeof i);
    memcpy(&i, arg, sizeof i);
    atomic_fetch_add(&ran_index[i], 1);
    return cfut_return(t, &i, sizeof i);
}

static void test_cancel_races_worker(void)
{
    executor_t *ex = one_worker_executor();
    gate_pair g;
    gates_init(&g);
    future_t *blocker = submit_gated(ex, &g);
    th_gate_wait(&g.started);
    future_t *fs[RACE_TASKS];
    atomic_int calls[RACE_TASKS];
    bool cancelled[RACE_TASKS];
    for (int32_t i = 0; i < RACE_TASKS; i++) {
        atomic_init(&calls[i], 0);
        fs[i] = executor_submit(ex, index_task, &i, sizeof i);
        CHECK(fs[i] != NULL);
        CHECK_STATUS(future_add_done_callback(fs[i], count_cb, &calls[i]), CFUT_OK);
    }
    /* The odd ones while the worker is held: all cancelled. */
    for (int i = RACE_TASKS - 1; i >= 0; i -= 2)
        cancelled[i] = future_cancel(fs[i]);
    /* The even ones from the near end, racing the released worker. */
    th_gate_open(&g.release, 1);
    for (int i = 0; i < RACE_TASKS; i += 2)
        cancelled[i] = future_cancel(fs[i]);
    executor_free(ex);
    for (int i = 0; i < RACE_TASKS; i++) {
        CHECK(future_done(fs[i]));
        CHECK_EQ(atomic_load(&calls[i]), 1);
        if (i % 2)
            CHECK(cancelled[i]);
        if (cancelled[i]) {
            CHECK(future_cancelled(fs[i]));
            CHECK_STATUS(future_status(fs[i]), CFUT_ECANCELLED);
            CHECK_EQ(atomic_load(&ran_index[i]), 0);
        } else {
            CHECK(!future_cancelled(fs[i]));
            CHECK_EQ(atomic_load(&ran_index[i]), 1);
            CHECK_EQ(int_result(fs[i]), i);
        }
    }
    gates_fini(&g);
    future_release(blocker);
    release_all(fs, RACE_TASKS);
}

/* ======================= NULL arguments ======================= */

static void test_null_arguments(void)
{
    CHECK(!future_done(NULL));
    CHECK(!future_running(NULL));
    CHECK(!future_cancelled(NULL));
    CHECK(!future_cancel(NULL));
    CHECK(!future_set_running_or_notify_cancel(NULL));
    CHECK(future_retain(NULL) == NULL);
    future_release(NULL);
    CHECK_STATUS(future_wait(NULL, 0), CFUT_EINVAL);
    CHECK_STATUS(future_wait(NULL, -1), CFUT_EINVAL);
    const void *data = &data;
    size_t len = 5;
    CHECK_STATUS(future_result(NULL, -1, &data, &len), CFUT_EINVAL);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    CHECK_STATUS(future_result(NULL, 0, NULL, NULL), CFUT_EINVAL);
    int32_t v = 3;
    CHECK_STATUS(future_result_copy(NULL, -1, &v, sizeof v), CFUT_EINVAL);
    CHECK_EQ(v, 3);
    CHECK_STATUS(future_status(NULL), CFUT_EINVAL);
    CHECK_EQ(future_error_code(NULL), 0);
    CHECK(future_error_message(NULL) == NULL);
    CHECK_STATUS(future_set_result(NULL, &v, sizeof v), CFUT_EINVAL);
    CHECK_STATUS(future_set_result(NULL, NULL, 0), CFUT_EINVAL);
    CHECK_STATUS(future_set_error(NULL, 1, "x"), CFUT_EINVAL);
    atomic_int calls = 0;
    CHECK_STATUS(future_add_done_callback(NULL, count_cb, &calls), CFUT_EINVAL);
    CHECK_EQ(atomic_load(&calls), 0);

    /* result_copy into NULL with a non-zero size. */
    future_t *f = make_future(K_SUCCESSFUL);
    CHECK_STATUS(future_result_copy(f, 0, NULL, sizeof(int32_t)), CFUT_EINVAL);
    CHECK_EQ(int_result(f), 42);
    future_release(f);
}

TH_CASES(
    TH_CASE(test_new_is_pending),
    TH_CASE(test_retain_release),
    TH_CASE(test_cancelled),
    TH_CASE(test_done),
    TH_CASE(test_running),
    TH_CASE(test_cancel),
    TH_CASE(test_set_running_or_notify_cancel),
    TH_CASE(test_status),
    TH_CASE(test_result_with_timeout),
    TH_CASE(test_exception_with_timeout),
    TH_CASE(test_set_result_copies_data),
    TH_CASE(test_result_aligned),
    TH_CASE(test_large_result),
    TH_CASE(test_empty_result),
    TH_CASE(test_set_result_null_data),
    TH_CASE(test_result_optional_outputs),
    TH_CASE(test_result_copy_wrong_size),
    TH_CASE(test_wait_done_states),
    TH_CASE(test_timeout_keeps_future_alive),
    TH_CASE(test_set_error_fields),
    TH_CASE(test_error_accessors),
    TH_CASE(test_multiple_set_result),
    TH_CASE(test_multiple_set_exception),
    TH_CASE(test_set_result_on_cancelled),
    TH_CASE(test_result_with_success),
    TH_CASE(test_result_with_cancel),
    TH_CASE(test_exception_with_success),
    TH_CASE(test_waiter_woken),
    TH_CASE(test_many_waiters_woken),
    TH_CASE(test_done_callback_with_result),
    TH_CASE(test_done_callback_with_exception),
    TH_CASE(test_done_callback_with_cancel),
    TH_CASE(test_done_callback_already_done),
    TH_CASE(test_done_callback_already_done_other_thread),
    TH_CASE(test_done_callback_order),
    TH_CASE(test_done_callback_exactly_once),
    TH_CASE(test_done_callback_in_completing_thread),
    TH_CASE(test_done_callback_arguments),
    TH_CASE(test_done_callback_releases_future),
    TH_CASE(test_done_callback_registers_callback),
    TH_CASE(test_done_callback_calls_future_api),
    TH_CASE(test_done_callback_after_waiters_woken),
    TH_CASE(test_done_callback_null),
    TH_CASE(test_done_callback_concurrent_registration),
    TH_CASE(test_done_callback_executor),
    TH_CASE(test_concurrent_completion_one_wins),
    TH_CASE(test_concurrent_cancel_races),
    TH_CASE(test_get_snapshot),
    TH_CASE(test_concurrent_retain_release),
    TH_CASE(test_executor_future_not_settable),
    TH_CASE(test_cancel_queued_executor_task),
    TH_CASE(test_cancel_running_executor_task),
    TH_CASE(test_done_callback_releases_executor_future),
    TH_CASE(test_cancel_races_worker),
    TH_CASE(test_null_arguments),
)
