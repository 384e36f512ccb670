/* test/test_task.c: what a task sees and reports, on the thread pool.
 *
 * cfut_return / cfut_fail / the return code, cfut_current, cfut_should_stop
 * (cancel of a running future, shutdown with a cancel flag, task_timeout),
 * and how executor_submit treats its arguments. CPython has no task object;
 * the closest ports are noted per case (test_concurrent_futures/executor.py
 * ExecutorTest, test_future.py on results and exceptions). */
#define _GNU_SOURCE
#include "harness.h"

#include <limits.h>
#include <math.h>
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

static executor_t *new_pool_timeout(int max_workers, double task_timeout)
{
    executor_options o = { .max_workers = max_workers, .task_timeout = task_timeout };
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

static void nap(double seconds)
{
    struct timespec ts = { (time_t)seconds,
                           (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Polls cfut_should_stop() for at most `limit` seconds. Polling, not
 * synchronisation: the flag is what the test observes. */
static bool poll_should_stop(const cfut_task *t, double limit)
{
    double end = th_now() + limit;
    while (!cfut_should_stop(t)) {
        if (th_now() > end)
            return false;
        nap(0.001);
    }
    return true;
}

/* Expects a failed future: status, code, and no result bytes. */
static void check_failed(future_t *f, int status, int code)
{
    const void *data = (const void *)1;
    size_t len = 99;
    CHECK_STATUS(future_result(f, -1, &data, &len), status);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    CHECK_STATUS(future_status(f), status);
    CHECK_EQ(future_error_code(f), code);
    CHECK(future_error_message(f) != NULL);
    CHECK(future_done(f));
    CHECK(!future_running(f));
}

/* ---- tasks ------------------------------------------------------------ */

static int task_return_arg(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

static int task_no_return(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)arg, (void)len;
    return 0;
}

static int task_return_empty(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return cfut_return(t, NULL, 0);
}

static int task_return_twice(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int rc = cfut_return(t, "first", 5);
    if (rc != CFUT_OK)
        return 100 + rc;
    return cfut_return(t, "second!", 7);
}

/* Returns the int it was given (as a task's own failure code). */
static int task_return_code(cfut_task *t, const void *arg, size_t len)
{
    (void)t;
    int code;
    if (len != sizeof code)
        return -1000;
    memcpy(&code, arg, sizeof code);
    return code;
}

static int task_fail_fmt(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int rc = cfut_fail(t, 7, "bad %s %d", "thing", 3);
    return rc == 7 ? 7 : 1000 + rc;
}

static int task_fail_then_zero(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    (void)cfut_fail(t, 11, "failed but returned zero");
    return 0;
}

static int task_fail_then_other(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    (void)cfut_fail(t, 12, "said twelve");
    return 9;
}

static int task_return_then_fail(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    if (cfut_return(t, "result", 6) != CFUT_OK)
        return 1000;
    return cfut_fail(t, 13, "changed my mind");
}

static int task_fail_then_return(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    (void)cfut_fail(t, 14, "too late to succeed");
    (void)cfut_return(t, "result", 6);
    return 0;
}

static int task_fail_code_zero(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return cfut_fail(t, 0, "zero is a failure too");
}

static int task_fail_null_fmt(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return cfut_fail(t, 5, NULL);
}

enum { LONG_MSG = 10000 };

static int task_fail_long(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    char *msg = malloc(LONG_MSG + 1);
    if (!msg)
        return 1;
    memset(msg, 'x', LONG_MSG);
    msg[LONG_MSG] = '\0';
    memcpy(msg, "long:", 5);
    int rc = cfut_fail(t, 3, "%s", msg);
    free(msg);
    return rc;
}

/* Checks the misuse answers from inside a task, then returns "ab". */
static int task_null_misuse(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    if (cfut_return(t, "ab", 2) != CFUT_OK)
        return 1;
    if (cfut_return(t, NULL, 5) != CFUT_EINVAL)
        return 2;
    if (cfut_return(NULL, "x", 1) != CFUT_EINVAL)
        return 3;
    if (cfut_fail(NULL, 4, "x") != CFUT_EINVAL)
        return 4;
    if (cfut_should_stop(NULL))
        return 5;
    return 0;
}

enum { BIG = 1 << 20 };

static unsigned char big_byte(size_t i) { return (unsigned char)((i * 131u) ^ (i >> 8)); }

static int task_return_big(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    unsigned char *buf = malloc(BIG);
    if (!buf)
        return 1;
    for (size_t i = 0; i < BIG; i++)
        buf[i] = big_byte(i);
    int rc = cfut_return(t, buf, BIG);
    memset(buf, 0, BIG); /* the result was copied */
    free(buf);
    return rc;
}

/* Sums the argument bytes: result is (len, sum). */
typedef struct { size_t len; unsigned long sum; bool null_arg; } arg_digest;

static int task_digest(cfut_task *t, const void *arg, size_t len)
{
    arg_digest d = { len, 0, arg == NULL };
    for (size_t i = 0; i < len; i++)
        d.sum += ((const unsigned char *)arg)[i];
    return cfut_return(t, &d, sizeof d);
}

/* ---- results and failures --------------------------------------------- */

/* executor.py: ExecutorTest.test_submit (pow(2, 8) == 256), bytes in C. */
static void test_return_value(void)
{
    executor_t *ex = new_pool(2);
    future_t *f = submit(ex, task_return_arg, "hello", 5);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK_EQ(len, 5);
    CHECK(memcmp(data, "hello", 5) == 0);
    CHECK_STATUS(future_status(f), CFUT_OK);
    CHECK_EQ(future_error_code(f), 0);
    CHECK(future_error_message(f) == NULL);
    CHECK(future_done(f) && !future_cancelled(f) && !future_running(f));
    future_release(f);
    executor_free(ex);
}

/* A task that returns 0 without cfut_return succeeds with an empty result
 * (Python: a function returning None). */
static void test_return_nothing(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_no_return, NULL, 0);
    const void *data = NULL;
    size_t len = 99;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK_EQ(len, 0);
    CHECK(future_error_message(f) == NULL);
    future_release(f);
    executor_free(ex);
}

static void test_return_empty(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_return_empty, NULL, 0);
    const void *data = NULL;
    size_t len = 99;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK_EQ(len, 0);
    future_release(f);
    executor_free(ex);
}

static void test_return_twice_last_wins(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_return_twice, NULL, 0);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK_EQ(len, 7);
    CHECK(memcmp(data, "second!", 7) == 0);
    future_release(f);
    executor_free(ex);
}

/* cfut_return copies: the task scribbles over its buffer afterwards. */
static void test_return_large_copied(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_return_big, NULL, 0);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK_EQ(len, BIG);
    const unsigned char *p = data;
    for (size_t i = 0; i < BIG; i++)
        if (p[i] != big_byte(i))
            CHECK_EQ(p[i], big_byte(i));
    future_release(f);
    executor_free(ex);
}

/* future_result_copy on a task's result: exact size only. */
static void test_result_copy_size(void)
{
    executor_t *ex = new_pool(1);
    int v = 256;
    future_t *f = submit(ex, task_return_arg, &v, sizeof v);
    long wrong = 7;
    CHECK_STATUS(future_result_copy(f, -1, &wrong, sizeof wrong), CFUT_ESERIALIZE);
    CHECK_EQ(wrong, 7);
    int out = 0;
    CHECK_STATUS(future_result_copy(f, -1, &out, sizeof out), CFUT_OK);
    CHECK_EQ(out, 256);
    future_release(f);
    executor_free(ex);
}

/* A non-zero return without cfut_fail: CFUT_ETASK with that code and a
 * message naming it (Python: the task raised; test_future.py exception()). */
static void test_nonzero_return(void)
{
    executor_t *ex = new_pool(1);
    int code = 42;
    future_t *f = submit(ex, task_return_code, &code, sizeof code);
    check_failed(f, CFUT_ETASK, 42);
    CHECK_CONTAINS(future_error_message(f), "42");
    future_release(f);
    code = -3;
    f = submit(ex, task_return_code, &code, sizeof code);
    check_failed(f, CFUT_ETASK, -3);
    CHECK_CONTAINS(future_error_message(f), "-3");
    future_release(f);
    code = INT_MIN;
    f = submit(ex, task_return_code, &code, sizeof code);
    check_failed(f, CFUT_ETASK, INT_MIN);
    future_release(f);
    executor_free(ex);
}

static void test_fail_message(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_fmt, NULL, 0);
    check_failed(f, CFUT_ETASK, 7);
    CHECK_STR(future_error_message(f), "bad thing 3");
    future_release(f);
    executor_free(ex);
}

/* cfut_fail stands whatever the task returns afterwards. */
static void test_fail_then_return_zero(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_then_zero, NULL, 0);
    check_failed(f, CFUT_ETASK, 11);
    CHECK_STR(future_error_message(f), "failed but returned zero");
    future_release(f);
    executor_free(ex);
}

static void test_fail_then_return_other_code(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_then_other, NULL, 0);
    check_failed(f, CFUT_ETASK, 12);
    CHECK_STR(future_error_message(f), "said twelve");
    future_release(f);
    executor_free(ex);
}

/* cfut_fail drops an earlier result, and a later cfut_return does not undo
 * the failure. */
static void test_fail_drops_result(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_return_then_fail, NULL, 0);
    check_failed(f, CFUT_ETASK, 13);
    CHECK_STR(future_error_message(f), "changed my mind");
    future_release(f);
    f = submit(ex, task_fail_then_return, NULL, 0);
    check_failed(f, CFUT_ETASK, 14);
    CHECK_STR(future_error_message(f), "too late to succeed");
    future_release(f);
    executor_free(ex);
}

static void test_fail_code_zero(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_code_zero, NULL, 0);
    check_failed(f, CFUT_ETASK, 0);
    CHECK_STR(future_error_message(f), "zero is a failure too");
    future_release(f);
    executor_free(ex);
}

static void test_fail_null_fmt(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_null_fmt, NULL, 0);
    check_failed(f, CFUT_ETASK, 5);
    future_release(f);
    executor_free(ex);
}

static void test_fail_long_message(void)
{
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_fail_long, NULL, 0);
    check_failed(f, CFUT_ETASK, 3);
    const char *m = future_error_message(f);
    CHECK(strncmp(m, "long:xxxxxxxxxx", 15) == 0);
    future_release(f);
    executor_free(ex);
}

/* Misuse from outside any task, and (task_null_misuse) from inside one:
 * CFUT_EINVAL, and a refused cfut_return leaves the earlier result. */
static void test_null_task_misuse(void)
{
    CHECK_STATUS(cfut_return(NULL, "x", 1), CFUT_EINVAL);
    CHECK_STATUS(cfut_return(NULL, NULL, 0), CFUT_EINVAL);
    CHECK_STATUS(cfut_fail(NULL, 3, "x"), CFUT_EINVAL);
    CHECK(!cfut_should_stop(NULL));

    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_null_misuse, NULL, 0);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK_EQ(len, 2);
    CHECK(memcmp(data, "ab", 2) == 0);
    future_release(f);
    executor_free(ex);
}

/* A failing task does not hurt the pool: the next task runs (test_deadlock.py
 * test_error_during_func_exec_on_worker, for threads). */
static void test_failure_does_not_break_pool(void)
{
    executor_t *ex = new_pool(1);
    for (int i = 0; i < 20; i++) {
        int code = i % 2 ? 0 : 1 + i;
        future_t *f = submit(ex, task_return_code, &code, sizeof code);
        if (code) {
            check_failed(f, CFUT_ETASK, code);
        } else {
            CHECK_STATUS(future_result(f, -1, NULL, NULL), CFUT_OK);
        }
        future_release(f);
    }
    executor_free(ex);
}

/* ---- arguments -------------------------------------------------------- */

typedef struct { th_gate *started, *go; } gate_pair;

static int task_gated(cfut_task *t, const void *arg, size_t len)
{
    (void)t, (void)len;
    gate_pair g;
    memcpy(&g, arg, sizeof g);
    if (g.started)
        th_gate_open(g.started, 1);
    th_gate_wait(g.go);
    return 0;
}

/* A pool of one worker that a gated task holds: what is submitted next
 * stays queued until held_pool_release(). */
typedef struct {
    th_gate started, go;
    executor_t *ex;
    future_t *blocker;
} held_pool;

static void held_pool_init(held_pool *h)
{
    th_gate_init(&h->started);
    th_gate_init(&h->go);
    h->ex = new_pool(1);
    gate_pair g = { &h->started, &h->go };
    h->blocker = submit(h->ex, task_gated, &g, sizeof g);
    th_gate_wait(&h->started);
}

static void held_pool_release(held_pool *h)
{
    th_gate_open(&h->go, 1);
}

/* After held_pool_release(): the blocker finished; everything is freed. */
static void held_pool_free(held_pool *h)
{
    CHECK_STATUS(future_result(h->blocker, -1, NULL, NULL), CFUT_OK);
    future_release(h->blocker);
    executor_free(h->ex);
    th_gate_destroy(&h->started);
    th_gate_destroy(&h->go);
}

/* The argument bytes are copied at submit: the caller overwrites its buffer
 * while the task is still queued behind a gated one. */
static void test_arg_copied(void)
{
    held_pool h;
    held_pool_init(&h);
    char buf[64];
    memset(buf, 'a', sizeof buf);
    future_t *f = submit(h.ex, task_return_arg, buf, sizeof buf);
    memset(buf, 'z', sizeof buf);
    CHECK(!future_done(f));

    held_pool_release(&h);
    const void *data = NULL;
    size_t len = 0;
    CHECK_STATUS(future_result(f, -1, &data, &len), CFUT_OK);
    CHECK_EQ(len, sizeof buf);
    for (size_t i = 0; i < len; i++)
        CHECK_EQ(((const char *)data)[i], 'a');
    future_release(f);
    held_pool_free(&h);
}

/* The argument sizes on either side of each place a task keeps its
 * argument until it completes (16 bytes inline in the future, 64 in the
 * task's allocation, the heap beyond): each arrives intact while the caller
 * overwrites its buffer, its result replaces it, and a queued task of each
 * size is cancelled cleanly (the sanitizer and valgrind runs check the
 * memory). */
static void test_arg_every_size(void)
{
    static const size_t sizes[] = {1, 8, 15, 16, 17, 40, 63, 64, 65, 300};
    enum { N = sizeof sizes / sizeof sizes[0] };
    held_pool h;
    held_pool_init(&h);
    future_t *run[N], *cancelled[N];
    unsigned char buf[300];
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            buf[j] = (unsigned char)(i * 31 + j);
        run[i] = submit(h.ex, task_return_arg, buf, sizes[i]);
        cancelled[i] = submit(h.ex, task_return_arg, buf, sizes[i]);
        memset(buf, 0xee, sizeof buf);
    }
    for (size_t i = 0; i < N; i++)
        CHECK(future_cancel(cancelled[i]));
    held_pool_release(&h);
    for (size_t i = 0; i < N; i++) {
        const void *data = NULL;
        size_t len = 0;
        CHECK_STATUS(future_result(run[i], -1, &data, &len), CFUT_OK);
        CHECK_EQ(len, sizes[i]);
        for (size_t j = 0; j < len; j++)
            CHECK_EQ(((const unsigned char *)data)[j], (unsigned char)(i * 31 + j));
        CHECK_STATUS(future_status(cancelled[i]), CFUT_ECANCELLED);
        future_release(run[i]);
        future_release(cancelled[i]);
    }
    held_pool_free(&h);
}

/* Fails with a message of arg[0] 'm's, after reading every argument byte. */
static int task_fail_sized(cfut_task *t, const void *arg, size_t len)
{
    const unsigned char *a = arg;
    char msg[128];
    size_t n = a[0];
    for (size_t i = 1; i < len; i++)
        if (a[i] != (unsigned char)i)
            return cfut_fail(t, 2, "argument byte %zu changed", i);
    memset(msg, 'm', n);
    msg[n] = 0;
    return cfut_fail(t, 9, "%s", msg);
}

/* A failure's message takes the place of the argument too: messages on
 * either side of 16 bytes with their NUL, after arguments of each size. */
static void test_fail_message_every_length(void)
{
    static const size_t lens[] = {0, 1, 14, 15, 16, 17, 100};
    static const size_t arg_sizes[] = {1, 16, 17, 64, 65};
    executor_t *ex = new_pool(1);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t k = 0; k < sizeof arg_sizes / sizeof arg_sizes[0]; k++) {
            unsigned char arg[65];
            for (size_t j = 0; j < sizeof arg; j++)
                arg[j] = (unsigned char)j;
            arg[0] = (unsigned char)lens[i];
            future_t *f = submit(ex, task_fail_sized, arg, arg_sizes[k]);
            check_failed(f, CFUT_ETASK, 9);
            const char *m = future_error_message(f);
            CHECK(m != NULL);
            CHECK_EQ(strlen(m), lens[i]);
            CHECK(strspn(m, "m") == lens[i]);
            future_release(f);
        }
    }
    executor_free(ex);
}

static void test_arg_empty(void)
{
    executor_t *ex = new_pool(1);
    arg_digest d;
    future_t *f = submit(ex, task_digest, NULL, 0);
    CHECK_STATUS(future_result_copy(f, -1, &d, sizeof d), CFUT_OK);
    CHECK_EQ(d.len, 0);
    future_release(f);
    /* A non-NULL pointer with length 0 is fine too. */
    f = submit(ex, task_digest, "ignored", 0);
    CHECK_STATUS(future_result_copy(f, -1, &d, sizeof d), CFUT_OK);
    CHECK_EQ(d.len, 0);
    future_release(f);
    executor_free(ex);
}

static void test_arg_large(void)
{
    unsigned char *buf = malloc(BIG);
    CHECK(buf != NULL);
    unsigned long want = 0;
    for (size_t i = 0; i < BIG; i++) {
        buf[i] = big_byte(i);
        want += buf[i];
    }
    executor_t *ex = new_pool(1);
    future_t *f = submit(ex, task_digest, buf, BIG);
    memset(buf, 0, BIG);
    free(buf);
    arg_digest d;
    CHECK_STATUS(future_result_copy(f, -1, &d, sizeof d), CFUT_OK);
    CHECK_EQ(d.len, BIG);
    CHECK(!d.null_arg);
    CHECK_EQ(d.sum, want);
    future_release(f);
    executor_free(ex);
}

/* Invalid submissions: a done future failed with CFUT_EINVAL, never NULL. */
static void test_submit_invalid(void)
{
    executor_t *ex = new_pool(1);
    future_t *fs[3];
    fs[0] = submit(NULL, task_no_return, NULL, 0);
    fs[1] = submit(ex, NULL, NULL, 0);
    fs[2] = submit(ex, task_no_return, NULL, 4);
    for (int i = 0; i < 3; i++) {
        CHECK(future_done(fs[i]));
        check_failed(fs[i], CFUT_EINVAL, 0);
        CHECK(!future_cancelled(fs[i]));
        future_release(fs[i]);
    }
    executor_free(ex);
}

/* ---- cfut_current ----------------------------------------------------- */

typedef struct { cfut_task *param, *current; bool stop; } current_seen;

static int task_report_current(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    current_seen s = { t, cfut_current(), cfut_should_stop(t) };
    return cfut_return(t, &s, sizeof s);
}

static void test_current(void)
{
    CHECK(cfut_current() == NULL);
    executor_t *ex = new_pool(2);
    future_t *f = submit(ex, task_report_current, NULL, 0);
    current_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK(s.param != NULL);
    CHECK(s.current == s.param);
    CHECK(!s.stop);
    CHECK(cfut_current() == NULL);
    future_release(f);
    executor_free(ex);
    CHECK(cfut_current() == NULL);
}

/* A task that submits to another executor and waits: cfut_current() is
 * still its own task after the wait; the inner task sees its own. */
typedef struct { executor_t *inner; } nest_arg;
typedef struct { cfut_task *outer_before, *outer_after, *outer_param; current_seen inner; } nest_seen;

static int task_nested_current(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    nest_arg a;
    memcpy(&a, arg, sizeof a);
    nest_seen s;
    memset(&s, 0, sizeof s);
    s.outer_param = t;
    s.outer_before = cfut_current();
    future_t *f = executor_submit(a.inner, task_report_current, NULL, 0);
    int rc = future_result_copy(f, -1, &s.inner, sizeof s.inner);
    future_release(f);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "inner task: %s", cfut_status_name(rc));
    s.outer_after = cfut_current();
    return cfut_return(t, &s, sizeof s);
}

static void test_current_nested(void)
{
    executor_t *outer = new_pool(1), *inner = new_pool(1);
    nest_arg a = { inner };
    future_t *f = submit(outer, task_nested_current, &a, sizeof a);
    nest_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK(s.outer_before == s.outer_param);
    CHECK(s.outer_after == s.outer_param);
    CHECK(s.inner.current == s.inner.param);
    CHECK(s.inner.current != NULL);
    CHECK(s.inner.current != s.outer_param);
    future_release(f);
    executor_free(outer);
    executor_free(inner);
}

/* ---- cfut_should_stop ------------------------------------------------- */

typedef struct {
    th_gate *started;   /* posted when the task runs */
    th_gate *go;        /* NULL: don't wait */
    double limit;       /* how long to poll for the stop request */
    int code_on_stop;   /* return this once asked to stop (0: return "stopped") */
} stop_arg;

typedef struct { bool stop_at_start, stopped; double waited; } stop_seen;

static int task_until_stop(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    stop_arg a;
    memcpy(&a, arg, sizeof a);
    stop_seen s = { cfut_should_stop(t), false, 0 };
    double t0 = th_now();
    if (a.started)
        th_gate_open(a.started, 1);
    if (a.go)
        th_gate_wait(a.go);
    s.stopped = poll_should_stop(t, a.limit);
    s.waited = th_now() - t0;
    if (s.stopped && a.code_on_stop)
        return cfut_fail(t, a.code_on_stop, "stopped after %.3f s", s.waited);
    return cfut_return(t, &s, sizeof s);
}

/* Cancelling a running future fails (Python: cancel() is False once
 * running; test_future.py test_cancel) but asks the task to stop; the outcome
 * is what the task reports. */
static void test_should_stop_on_cancel_running(void)
{
    th_gate started;
    th_gate_init(&started);
    executor_t *ex = new_pool(1);
    stop_arg a = { &started, NULL, 20.0, 0 };
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    th_gate_wait(&started);
    CHECK(future_running(f));
    CHECK(!future_cancel(f));
    CHECK(!future_cancelled(f));
    stop_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK(!s.stop_at_start);
    CHECK(s.stopped);
    CHECK(!future_cancelled(f));
    CHECK(!future_cancel(f)); /* finished: still false */
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
}

/* Cancel of a running task, and the task fails once asked: ETASK with its
 * code, not CFUT_ECANCELLED. */
static void test_should_stop_cancel_task_fails(void)
{
    th_gate started;
    th_gate_init(&started);
    executor_t *ex = new_pool(1);
    stop_arg a = { &started, NULL, 20.0, 77 };
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    th_gate_wait(&started);
    CHECK(!future_cancel(f));
    check_failed(f, CFUT_ETASK, 77);
    CHECK_CONTAINS(future_error_message(f), "stopped after");
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
}

/* Cancelling one running task does not ask its neighbours to stop. */
static void test_should_stop_is_per_task(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(2);
    stop_arg a = { &started, NULL, 20.0, 0 };
    stop_arg b = { &started, &go, 0.0, 0 };
    future_t *fa = submit(ex, task_until_stop, &a, sizeof a);
    future_t *fb = submit(ex, task_until_stop, &b, sizeof b);
    th_gate_wait(&started);
    th_gate_wait(&started);
    CHECK(!future_cancel(fa));
    stop_seen s;
    CHECK_STATUS(future_result_copy(fa, -1, &s, sizeof s), CFUT_OK);
    CHECK(s.stopped);
    th_gate_open(&go, 1);
    CHECK_STATUS(future_result_copy(fb, -1, &s, sizeof s), CFUT_OK);
    CHECK(!s.stopped);
    future_release(fa);
    future_release(fb);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* Shutdown with EXECUTOR_CANCEL_PENDING asks running tasks to stop. */
static void test_should_stop_on_shutdown_cancel(void)
{
    th_gate started;
    th_gate_init(&started);
    executor_t *ex = new_pool(1);
    stop_arg a = { &started, NULL, 20.0, 0 };
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    th_gate_wait(&started);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    stop_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK(!s.stop_at_start);
    CHECK(s.stopped);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
}

/* A plain shutdown (no cancel flag) does not ask running tasks to stop. */
static void test_should_stop_not_on_plain_shutdown(void)
{
    th_gate started, go;
    th_gate_init(&started);
    th_gate_init(&go);
    executor_t *ex = new_pool(1);
    stop_arg a = { &started, &go, 0.0, 0 };
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    th_gate_wait(&started);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    th_gate_open(&go, 1);
    stop_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    CHECK(!s.stopped);
    future_release(f);
    executor_free(ex);
    th_gate_destroy(&started);
    th_gate_destroy(&go);
}

/* task_timeout: cfut_should_stop() turns true once the task has run that
 * long (time is what is under test here, so the task polls). */
static void test_task_timeout_sets_should_stop(void)
{
    executor_t *ex = new_pool_timeout(1, 0.05);
    stop_arg a = { NULL, NULL, 20.0, 0 };
    double t0 = th_now(); /* the deadline is set after this, when it starts */
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    stop_seen s;
    CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
    double took = th_now() - t0;
    CHECK(!s.stop_at_start);
    CHECK(s.stopped);
    /* Not s.waited: the task's own clock starts after the worker set the
     * deadline, later still under valgrind. */
    CHECK(took >= 0.05);
    future_release(f);
    executor_free(ex);
}

/* The outcome after task_timeout is whatever the task reports: here a
 * failure with its own code (threads cannot be killed: no EDEADLINE). */
static void test_task_timeout_outcome_is_tasks(void)
{
    executor_t *ex = new_pool_timeout(1, 0.05);
    stop_arg a = { NULL, NULL, 20.0, 31 };
    future_t *f = submit(ex, task_until_stop, &a, sizeof a);
    check_failed(f, CFUT_ETASK, 31);
    future_release(f);
    executor_free(ex);
}

/* task_timeout counts from the task's start: a task queued for longer than
 * the timeout behind another does not start with the stop flag set. */
static void test_task_timeout_counts_from_start(void)
{
    executor_t *ex = new_pool_timeout(1, 0.05);
    stop_arg a = { NULL, NULL, 20.0, 0 };
    future_t *first = submit(ex, task_until_stop, &a, sizeof a);
    future_t *second = submit(ex, task_report_current, NULL, 0);
    stop_seen s;
    CHECK_STATUS(future_result_copy(first, -1, &s, sizeof s), CFUT_OK);
    CHECK(s.stopped);
    current_seen c;
    CHECK_STATUS(future_result_copy(second, -1, &c, sizeof c), CFUT_OK);
    CHECK(!c.stop);
    future_release(first);
    future_release(second);
    executor_free(ex);
}

/* task_timeout <= 0 means none: a task that runs 0.1 s is not asked to stop. */
static void test_task_timeout_none(void)
{
    double timeouts[] = { 0.0, -1.0 };
    for (int i = 0; i < 2; i++) {
        executor_t *ex = new_pool_timeout(1, timeouts[i]);
        stop_arg a = { NULL, NULL, 0.1, 0 };
        future_t *f = submit(ex, task_until_stop, &a, sizeof a);
        stop_seen s;
        CHECK_STATUS(future_result_copy(f, -1, &s, sizeof s), CFUT_OK);
        CHECK(!s.stopped);
        future_release(f);
        executor_free(ex);
    }
}

/* A task that finishes well inside its timeout never sees the flag. */
static void test_task_timeout_not_reached(void)
{
    executor_t *ex = new_pool_timeout(2, 30.0);
    for (int i = 0; i < 10; i++) {
        future_t *f = submit(ex, task_report_current, NULL, 0);
        current_seen c;
        CHECK_STATUS(future_result_copy(f, -1, &c, sizeof c), CFUT_OK);
        CHECK(!c.stop);
        future_release(f);
    }
    executor_free(ex);
}

/* task_timeout = NaN is refused; infinity, and timeouts too large for a
 * nanosecond clock, mean never. */
static void test_task_timeout_nan_inf(void)
{
    executor_options o = { .max_workers = 1, .task_timeout = NAN };
    executor_t *ex = (executor_t *)&o;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_EINVAL);
    CHECK(ex == NULL);
    double huge[] = { INFINITY, 1e12, 1e300 };
    for (int i = 0; i < 3; i++) {
        o.task_timeout = huge[i];
        CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
        future_t *f = submit(ex, task_report_current, NULL, 0);
        current_seen c;
        CHECK_STATUS(future_result_copy(f, -1, &c, sizeof c), CFUT_OK);
        if (c.stop)
            th_fail(__FILE__, __LINE__, "task_timeout %g: cfut_should_stop() true at once",
                    huge[i]);
        future_release(f);
        executor_free(ex);
    }
}

TH_CASES(
    TH_CASE(test_return_value),
    TH_CASE(test_return_nothing),
    TH_CASE(test_return_empty),
    TH_CASE(test_return_twice_last_wins),
    TH_CASE(test_return_large_copied),
    TH_CASE(test_result_copy_size),
    TH_CASE(test_nonzero_return),
    TH_CASE(test_fail_message),
    TH_CASE(test_fail_then_return_zero),
    TH_CASE(test_fail_then_return_other_code),
    TH_CASE(test_fail_drops_result),
    TH_CASE(test_fail_code_zero),
    TH_CASE(test_fail_null_fmt),
    TH_CASE(test_fail_long_message),
    TH_CASE(test_null_task_misuse),
    TH_CASE(test_failure_does_not_break_pool),
    TH_CASE(test_arg_copied),
    TH_CASE(test_arg_every_size),
    TH_CASE(test_fail_message_every_length),
    TH_CASE(test_arg_empty),
    TH_CASE(test_arg_large),
    TH_CASE(test_submit_invalid),
    TH_CASE(test_current),
    TH_CASE(test_current_nested),
    TH_CASE(test_should_stop_on_cancel_running),
    TH_CASE(test_should_stop_cancel_task_fails),
    TH_CASE(test_should_stop_is_per_task),
    TH_CASE(test_should_stop_on_shutdown_cancel),
    TH_CASE(test_should_stop_not_on_plain_shutdown),
    TH_CASE(test_task_timeout_sets_should_stop),
    TH_CASE(test_task_timeout_outcome_is_tasks),
    TH_CASE(test_task_timeout_counts_from_start),
    TH_CASE(test_task_timeout_none),
    TH_CASE(test_task_timeout_not_reached),
    TH_CASE(test_task_timeout_nan_inf),
)
