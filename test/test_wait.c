/* test/test_wait.c: futures_wait() over many futures.
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_wait.py (WaitTests,
 * ThreadPoolWaitTests) with a thread pool executor, plus the C contract:
 * the three conditions on user-made futures, duplicates, n == 0, invalid
 * arguments, timeouts that harm nothing, wake-ups by completion and by
 * cancel (CPython leaves wait() hanging on a cancel, python/cpython#87893;
 * cfut wakes it), and no lost wake-up when many threads complete at once.
 *
 * Difference from CPython kept in mind throughout: a cancelled future counts
 * as done at once (CPython's CANCELLED_FUTURE, not yet "notified", does not),
 * so the ports put cancelled futures among the done ones. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define LONG_WAIT 30.0
#define SHORT_TIMEOUT 0.05
#define SHORT_TIMEOUT_MIN 0.045

static const futures_return_when all_whens[] = {
    FUTURES_FIRST_COMPLETED, FUTURES_FIRST_EXCEPTION, FUTURES_ALL_COMPLETED,
};
static const char *const when_names[] = {
    "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED",
};
#define NWHENS 3

static void check_elapsed(double t0, double min, int line)
{
    double e = th_now() - t0;
    if (e < min)
        th_fail(__FILE__, line, "returned after %.3f s, before %.3f s", e, min);
}
#define CHECK_ELAPSED(t0, min) check_elapsed((t0), (min), __LINE__)

/* futures_wait() gives `want`; names the condition on failure. */
static void check_wait(future_t *const *fs, size_t n, double timeout,
                       futures_return_when when, int want, int line)
{
    int got = futures_wait(fs, n, timeout, when);
    if (got != want)
        th_fail(__FILE__, line, "futures_wait(n=%zu, %s): got %s, want %s", n,
                when_names[when], cfut_status_name(got), cfut_status_name(want));
}
#define CHECK_WAIT(fs, n, timeout, when, want)                                 \
    check_wait((fs), (n), (timeout), (when), (want), __LINE__)

/* fs[i] is done exactly when bit i of `done_mask` is set. */
static void check_partition(future_t *const *fs, size_t n, unsigned done_mask,
                            int line)
{
    for (size_t i = 0; i < n; i++) {
        bool want = (done_mask >> i) & 1u;
        if (future_done(fs[i]) != want)
            th_fail(__FILE__, line, "fs[%zu]: done() = %d, want %d", i, !want, want);
    }
}
#define CHECK_PARTITION(fs, n, mask) check_partition((fs), (n), (mask), __LINE__)

/* ---- Futures in each state (CPython's util.py) ---- */

typedef enum {
    K_PENDING,
    K_RUNNING,
    K_CANCELLED,
    K_CANCELLED_NOTIFIED,
    K_EXCEPTION,
    K_SUCCESSFUL,
} kind;

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
    }
    return f;
}

static void release_all(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
}

static void new_pending(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fs[i] = make_future(K_PENDING);
}

/* ---- Executor tasks ---- */

/* CPython's mul(x, y): arg two int32_t, result their product. */
static int mul_task(cfut_task *t, const void *arg, size_t len)
{
    int32_t xy[2];
    CHECK_EQ(len, sizeof xy);
    memcpy(xy, arg, sizeof xy);
    int32_t r = xy[0] * xy[1];
    return cfut_return(t, &r, sizeof r);
}

/* CPython's divmod(21, 0): fails. */
static int divzero_task(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return cfut_fail(t, 33, "division by zero");
}

/* CPython's event.wait: arg a th_gate pointer. */
static int gated_task(cfut_task *t, const void *arg, size_t len)
{
    (void)t;
    th_gate *g;
    CHECK_EQ(len, sizeof g);
    memcpy(&g, arg, sizeof g);
    th_gate_wait(g);
    return 0;
}

/* CPython's wait_and_raise(e). */
static int wait_and_fail_task(cfut_task *t, const void *arg, size_t len)
{
    th_gate *g;
    CHECK_EQ(len, sizeof g);
    memcpy(&g, arg, sizeof g);
    th_gate_wait(g);
    return cfut_fail(t, 44, "this is an exception");
}

/* Like gated_task, and says when it runs: arg a gate_pair pointer. */
typedef struct gate_pair {
    th_gate started, release;
} gate_pair;

static int started_gated_task(cfut_task *t, const void *arg, size_t len)
{
    gate_pair *g;
    CHECK_EQ(len, sizeof g);
    memcpy(&g, arg, sizeof g);
    th_gate_open(&g->started, 1);
    th_gate_wait(&g->release);
    int32_t one = 1;
    return cfut_return(t, &one, sizeof one);
}

/* Submits a started_gated_task and returns once it runs (so it is not
 * queued any more: a cancel of queued work cannot take it). */
static future_t *submit_running(executor_t *ex, gate_pair *g)
{
    th_gate_init(&g->started);
    th_gate_init(&g->release);
    future_t *f = executor_submit(ex, started_gated_task, &g, sizeof g);
    CHECK(f != NULL);
    th_gate_wait(&g->started);
    return f;
}

static void gates_fini(gate_pair *g)
{
    th_gate_destroy(&g->started);
    th_gate_destroy(&g->release);
}

static future_t *submit_mul(executor_t *ex, int32_t x, int32_t y)
{
    int32_t xy[2] = { x, y };
    future_t *f = executor_submit(ex, mul_task, xy, sizeof xy);
    CHECK(f != NULL);
    return f;
}

static future_t *submit_gated(executor_t *ex, cfut_task_fn fn, th_gate *g)
{
    future_t *f = executor_submit(ex, fn, &g, sizeof g);
    CHECK(f != NULL);
    return f;
}

static executor_t *new_executor(int max_workers)
{
    executor_options o = { .max_workers = max_workers };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static int32_t int_result(future_t *f)
{
    int32_t v = -1;
    CHECK_STATUS(future_result_copy(f, LONG_WAIT, &v, sizeof v), CFUT_OK);
    return v;
}

/* ---- A thread blocked in futures_wait() ---- */

typedef struct waiter {
    future_t *const *fs;
    size_t n;
    futures_return_when when;
    double timeout;
    th_gate ready;
    int rc;
    th_thread *thread;
} waiter;

static void waiter_main(void *p)
{
    waiter *w = p;
    th_gate_open(&w->ready, 1);
    w->rc = futures_wait(w->fs, w->n, w->timeout, w->when);
}

/* Starts a thread blocked in futures_wait(fs, n, -1, when) and returns once
 * it is about to block (if the completion comes before it blocks, the wait
 * returns at once: both orders must work). */
static void waiter_start(waiter *w, future_t *const *fs, size_t n,
                         futures_return_when when)
{
    w->fs = fs;
    w->n = n;
    w->when = when;
    w->timeout = -1;
    w->rc = -1;
    th_gate_init(&w->ready);
    w->thread = th_spawn(waiter_main, w);
    th_gate_wait(&w->ready);
}

static int waiter_join(waiter *w)
{
    th_join(w->thread);
    th_gate_destroy(&w->ready);
    return w->rc;
}

/* ======================= CPython ports ======================= */

/* test_wait.py: WaitTests.test_20369: duplicates in the list. */
static void test_20369(void)
{
    executor_t *ex = new_executor(2);
    future_t *f = submit_mul(ex, 1, 2);
    future_t *fs[2] = { f, f };
    CHECK_WAIT(fs, 2, LONG_WAIT, FUTURES_ALL_COMPLETED, CFUT_OK);
    CHECK(future_done(f));
    CHECK_EQ(int_result(f), 2);
    executor_free(ex);
    future_release(f);
}

/* test_wait.py: WaitTests.test_first_completed (CANCELLED_FUTURE, done here,
 * is checked on its own at the end). */
static void test_first_completed(void)
{
    executor_t *ex = new_executor(2);
    th_gate event;
    th_gate_init(&event);
    future_t *f1 = submit_mul(ex, 21, 2);
    future_t *f2 = submit_gated(ex, gated_task, &event);
    future_t *fs[2] = { f1, f2 };
    CHECK_WAIT(fs, 2, LONG_WAIT, FUTURES_FIRST_COMPLETED, CFUT_OK);
    CHECK_PARTITION(fs, 2, 0x1);
    CHECK_EQ(int_result(f1), 42);

    /* cfut: a cancelled future is done, so it satisfies FIRST_COMPLETED. */
    future_t *c = make_future(K_CANCELLED);
    future_t *fs2[2] = { c, f2 };
    CHECK_WAIT(fs2, 2, LONG_WAIT, FUTURES_FIRST_COMPLETED, CFUT_OK);
    CHECK_PARTITION(fs2, 2, 0x1);

    th_gate_open(&event, 1);
    CHECK_STATUS(future_wait(f2, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    future_release(c);
    future_release(f1);
    future_release(f2);
}

/* test_wait.py: WaitTests.test_first_completed_some_already_completed */
static void test_first_completed_some_already_completed(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *f1 = submit_gated(ex, gated_task, &event);
    future_t *fs[3] = { make_future(K_CANCELLED_NOTIFIED),
                        make_future(K_SUCCESSFUL), f1 };
    CHECK_WAIT(fs, 3, LONG_WAIT, FUTURES_FIRST_COMPLETED, CFUT_OK);
    CHECK_PARTITION(fs, 3, 0x3);
    th_gate_open(&event, 1);
    CHECK_STATUS(future_wait(f1, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    release_all(fs, 3);
}

/* test_wait.py: WaitTests.test_first_exception */
typedef struct after_f1 {
    future_t *f1;
    th_gate *event1;
} after_f1;

static void wait_for_future1(void *p)
{
    after_f1 *a = p;
    future_wait(a->f1, -1);
    th_gate_open(a->event1, 1);
}

static void test_first_exception(void)
{
    executor_t *ex = new_executor(4);
    th_gate event1, event2;
    th_gate_init(&event1);
    th_gate_init(&event2);
    future_t *f1 = submit_mul(ex, 2, 21);
    future_t *f2 = submit_gated(ex, wait_and_fail_task, &event1);
    future_t *f3 = submit_gated(ex, gated_task, &event2);
    /* f1 completes before f2 fails. */
    after_f1 a = { f1, &event1 };
    th_thread *t = th_spawn(wait_for_future1, &a);

    future_t *fs[3] = { f1, f2, f3 };
    CHECK_WAIT(fs, 3, LONG_WAIT, FUTURES_FIRST_EXCEPTION, CFUT_OK);
    CHECK_PARTITION(fs, 3, 0x3);
    CHECK_EQ(int_result(f1), 42);
    CHECK_STATUS(future_status(f2), CFUT_ETASK);
    CHECK_EQ(future_error_code(f2), 44);
    CHECK_STR(future_error_message(f2), "this is an exception");

    th_join(t);
    th_gate_open(&event2, 1);
    CHECK_STATUS(future_wait(f3, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event1);
    th_gate_destroy(&event2);
    release_all(fs, 3);
}

/* test_wait.py: WaitTests.test_first_exception_some_already_complete: a
 * success and cancels do not satisfy FIRST_EXCEPTION; the failing task
 * does. */
static void test_first_exception_some_already_complete(void)
{
    executor_t *ex = new_executor(2);
    th_gate event;
    th_gate_init(&event);
    th_gate hold; /* keeps f1 from failing before the wait starts */
    th_gate_init(&hold);
    future_t *f1 = submit_gated(ex, wait_and_fail_task, &hold);
    future_t *f2 = submit_gated(ex, gated_task, &event);
    future_t *fs[5] = { make_future(K_SUCCESSFUL), make_future(K_CANCELLED),
                        make_future(K_CANCELLED_NOTIFIED), f1, f2 };
    /* Before f1 fails: nothing satisfies the condition. */
    CHECK_WAIT(fs, 5, 0, FUTURES_FIRST_EXCEPTION, CFUT_ETIMEDOUT);
    th_gate_open(&hold, 1);
    CHECK_WAIT(fs, 5, LONG_WAIT, FUTURES_FIRST_EXCEPTION, CFUT_OK);
    CHECK_PARTITION(fs, 5, 0xF);
    CHECK_STATUS(future_status(f1), CFUT_ETASK);

    /* The same with an executor task that fails at once (divmod(21, 0)). */
    future_t *f3 = executor_submit(ex, divzero_task, NULL, 0);
    CHECK(f3 != NULL);
    future_t *gs[4] = { fs[0], fs[1], f3, f2 };
    CHECK_WAIT(gs, 4, LONG_WAIT, FUTURES_FIRST_EXCEPTION, CFUT_OK);
    CHECK_PARTITION(gs, 4, 0x7);
    CHECK_STATUS(future_status(f3), CFUT_ETASK);
    CHECK_EQ(future_error_code(f3), 33);

    th_gate_open(&event, 1);
    CHECK_STATUS(future_wait(f2, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    th_gate_destroy(&hold);
    release_all(fs, 5);
    future_release(f3);
}

/* test_wait.py: WaitTests.test_first_exception_one_already_failed */
static void test_first_exception_one_already_failed(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *f1 = submit_gated(ex, gated_task, &event);
    future_t *fs[2] = { make_future(K_EXCEPTION), f1 };
    CHECK_WAIT(fs, 2, LONG_WAIT, FUTURES_FIRST_EXCEPTION, CFUT_OK);
    CHECK_PARTITION(fs, 2, 0x1);
    th_gate_open(&event, 1);
    CHECK_STATUS(future_wait(f1, LONG_WAIT), CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    release_all(fs, 2);
}

/* test_wait.py: WaitTests.test_all_completed */
static void test_all_completed(void)
{
    executor_t *ex = new_executor(2);
    future_t *f1 = executor_submit(ex, divzero_task, NULL, 0);
    CHECK(f1 != NULL);
    future_t *f2 = submit_mul(ex, 2, 21);
    future_t *fs[5] = { make_future(K_SUCCESSFUL),
                        make_future(K_CANCELLED_NOTIFIED),
                        make_future(K_EXCEPTION), f1, f2 };
    CHECK_WAIT(fs, 5, LONG_WAIT, FUTURES_ALL_COMPLETED, CFUT_OK);
    CHECK_PARTITION(fs, 5, 0x1F);
    CHECK_STATUS(future_status(f1), CFUT_ETASK);
    CHECK_EQ(int_result(f2), 42);
    executor_free(ex);
    release_all(fs, 5);
}

/* test_wait.py: WaitTests.test_timeout */
static void test_timeout(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *f = submit_gated(ex, gated_task, &event);
    future_t *fs[4] = { make_future(K_CANCELLED_NOTIFIED),
                        make_future(K_EXCEPTION), make_future(K_SUCCESSFUL), f };
    double t0 = th_now();
    CHECK_WAIT(fs, 4, SHORT_TIMEOUT, FUTURES_ALL_COMPLETED, CFUT_ETIMEDOUT);
    CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);
    CHECK_PARTITION(fs, 4, 0x7);
    th_gate_open(&event, 1);
    CHECK_STATUS(future_wait(f, LONG_WAIT), CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    release_all(fs, 4);
}

/* test_wait.py: ThreadPoolWaitTests.test_pending_calls_race: 100 tasks
 * released at once, waited with ALL_COMPLETED. */
static void test_pending_calls_race(void)
{
    enum { N = 100 };
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, NULL), CFUT_OK);
    th_gate event;
    th_gate_init(&event);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit_gated(ex, gated_task, &event);
    th_gate_open(&event, N);
    CHECK_WAIT(fs, N, LONG_WAIT, FUTURES_ALL_COMPLETED, CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        CHECK_STATUS(future_status(fs[i]), CFUT_OK);
    }
    executor_free(ex);
    th_gate_destroy(&event);
    release_all(fs, N);
}

/* ======================= The C contract ======================= */

/* n == 0 holds at once for every condition, even with timeout -1 and NULL fs. */
static void test_n_zero(void)
{
    future_t *p = make_future(K_PENDING);
    future_t *fs[1] = { p };
    for (int w = 0; w < NWHENS; w++) {
        CHECK_WAIT(NULL, 0, -1, all_whens[w], CFUT_OK);
        CHECK_WAIT(NULL, 0, 0, all_whens[w], CFUT_OK);
        CHECK_WAIT(fs, 0, -1, all_whens[w], CFUT_OK);
    }
    CHECK(!future_done(p));
    future_release(p);
}

/* NULL fs with n > 0, a NULL element, an unknown condition: CFUT_EINVAL,
 * also when the other futures would satisfy the condition. */
static void test_invalid_arguments(void)
{
    future_t *d = make_future(K_SUCCESSFUL);
    future_t *p = make_future(K_PENDING);
    for (int w = 0; w < NWHENS; w++) {
        CHECK_WAIT(NULL, 1, 0, all_whens[w], CFUT_EINVAL);
        CHECK_WAIT(NULL, 3, -1, all_whens[w], CFUT_EINVAL);
        future_t *a[2] = { d, NULL };
        CHECK_WAIT(a, 2, 0, all_whens[w], CFUT_EINVAL);
        CHECK_WAIT(a, 2, -1, all_whens[w], CFUT_EINVAL);
        future_t *b[3] = { p, NULL, d };
        CHECK_WAIT(b, 3, -1, all_whens[w], CFUT_EINVAL);
        future_t *c[1] = { NULL };
        CHECK_WAIT(c, 1, -1, all_whens[w], CFUT_EINVAL);
    }
    future_t *ok[2] = { d, p };
    static const int bad_whens[] = { 3, 4, 99, -1 };
    for (size_t i = 0; i < sizeof bad_whens / sizeof bad_whens[0]; i++) {
        int rc = futures_wait(ok, 2, -1, (futures_return_when)bad_whens[i]);
        if (rc != CFUT_EINVAL)
            th_fail(__FILE__, __LINE__, "when=%d: got %s", bad_whens[i],
                    cfut_status_name(rc));
        rc = futures_wait(ok, 1, 0, (futures_return_when)bad_whens[i]);
        if (rc != CFUT_EINVAL)
            th_fail(__FILE__, __LINE__, "when=%d (done future): got %s",
                    bad_whens[i], cfut_status_name(rc));
    }
    /* Nothing was harmed. */
    CHECK(!future_done(p));
    CHECK_STATUS(future_status(d), CFUT_OK);
    future_release(d);
    future_release(p);
}

/* timeout 0 polls each condition over each kind of future. */
static void test_poll(void)
{
    future_t *pend = make_future(K_PENDING), *run = make_future(K_RUNNING),
             *canc = make_future(K_CANCELLED), *exc = make_future(K_EXCEPTION),
             *succ = make_future(K_SUCCESSFUL);
    struct {
        future_t *fs[3];
        size_t n;
        int want[NWHENS]; /* FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED */
    } cases[] = {
        { { pend }, 1, { CFUT_ETIMEDOUT, CFUT_ETIMEDOUT, CFUT_ETIMEDOUT } },
        { { run }, 1, { CFUT_ETIMEDOUT, CFUT_ETIMEDOUT, CFUT_ETIMEDOUT } },
        { { pend, run }, 2, { CFUT_ETIMEDOUT, CFUT_ETIMEDOUT, CFUT_ETIMEDOUT } },
        { { succ }, 1, { CFUT_OK, CFUT_OK, CFUT_OK } },
        { { exc }, 1, { CFUT_OK, CFUT_OK, CFUT_OK } },
        { { canc }, 1, { CFUT_OK, CFUT_OK, CFUT_OK } },
        { { succ, pend }, 2, { CFUT_OK, CFUT_ETIMEDOUT, CFUT_ETIMEDOUT } },
        { { canc, pend }, 2, { CFUT_OK, CFUT_ETIMEDOUT, CFUT_ETIMEDOUT } },
        { { exc, pend }, 2, { CFUT_OK, CFUT_OK, CFUT_ETIMEDOUT } },
        { { run, exc }, 2, { CFUT_OK, CFUT_OK, CFUT_ETIMEDOUT } },
        { { succ, canc, exc }, 3, { CFUT_OK, CFUT_OK, CFUT_OK } },
        { { succ, canc }, 2, { CFUT_OK, CFUT_OK, CFUT_OK } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int w = 0; w < NWHENS; w++) {
            int got = futures_wait(cases[i].fs, cases[i].n, 0, all_whens[w]);
            if (got != cases[i].want[w])
                th_fail(__FILE__, __LINE__, "case %zu, %s: got %s, want %s", i,
                        when_names[w], cfut_status_name(got),
                        cfut_status_name(cases[i].want[w]));
        }
    }
    future_release(pend);
    future_release(run);
    future_release(canc);
    future_release(exc);
    future_release(succ);
}

/* FIRST_EXCEPTION: a cancel is not an exception; a failure with code 0 is;
 * without any failure it waits for all. */
static void test_first_exception_semantics(void)
{
    future_t *c1 = make_future(K_CANCELLED), *c2 = make_future(K_CANCELLED);
    future_t *p = make_future(K_PENDING);
    future_t *a[2] = { c1, p };
    double t0 = th_now();
    CHECK_WAIT(a, 2, SHORT_TIMEOUT, FUTURES_FIRST_EXCEPTION, CFUT_ETIMEDOUT);
    CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);
    future_t *b[2] = { c1, c2 };
    CHECK_WAIT(b, 2, 0, FUTURES_FIRST_EXCEPTION, CFUT_OK);

    future_t *zero = make_future(K_PENDING);
    CHECK_STATUS(future_set_error(zero, 0, "code zero"), CFUT_OK);
    future_t *z[2] = { p, zero };
    CHECK_WAIT(z, 2, 0, FUTURES_FIRST_EXCEPTION, CFUT_OK);

    /* A success does not satisfy it while another is pending... */
    future_t *s = make_future(K_SUCCESSFUL);
    future_t *sp[2] = { s, p };
    CHECK_WAIT(sp, 2, SHORT_TIMEOUT, FUTURES_FIRST_EXCEPTION, CFUT_ETIMEDOUT);
    /* ...and a blocked FIRST_EXCEPTION wait wakes on a failure. */
    waiter w;
    waiter_start(&w, sp, 2, FUTURES_FIRST_EXCEPTION);
    CHECK_STATUS(future_set_error(p, 7, "late failure"), CFUT_OK);
    CHECK_STATUS(waiter_join(&w), CFUT_OK);

    future_release(c1);
    future_release(c2);
    future_release(p);
    future_release(zero);
    future_release(s);
}

/* FIRST_EXCEPTION with no failure at all is ALL_COMPLETED: a blocked wait
 * returns only once the last future is done. */
static void test_first_exception_no_failure_waits_for_all(void)
{
    future_t *fs[3];
    new_pending(fs, 3);
    waiter w;
    waiter_start(&w, fs, 3, FUTURES_FIRST_EXCEPTION);
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    CHECK(future_cancel(fs[1]));
    CHECK_STATUS(future_set_result(fs[2], "x", 1), CFUT_OK);
    CHECK_STATUS(waiter_join(&w), CFUT_OK);
    CHECK_PARTITION(fs, 3, 0x7);

    /* Timed: with one still pending it times out. */
    future_t *gs[3];
    new_pending(gs, 3);
    CHECK_STATUS(future_set_result(gs[0], NULL, 0), CFUT_OK);
    CHECK(future_cancel(gs[2]));
    CHECK_WAIT(gs, 3, SHORT_TIMEOUT, FUTURES_FIRST_EXCEPTION, CFUT_ETIMEDOUT);
    CHECK_PARTITION(gs, 3, 0x5);
    release_all(fs, 3);
    release_all(gs, 3);
}

/* ALL_COMPLETED over user futures: times out until the last one is done. */
static void test_all_completed_user_futures(void)
{
    future_t *fs[4];
    new_pending(fs, 4);
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    CHECK_STATUS(future_set_error(fs[1], 1, "e"), CFUT_OK);
    CHECK(future_cancel(fs[2]));
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_ETIMEDOUT);
    CHECK(future_set_running_or_notify_cancel(fs[3]));
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_ETIMEDOUT);
    CHECK_STATUS(future_set_result(fs[3], NULL, 0), CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_OK);
    CHECK_WAIT(fs, 4, -1, FUTURES_ALL_COMPLETED, CFUT_OK);
    release_all(fs, 4);
}

/* A timed-out wait takes its time and harms nothing: the futures stay
 * pending, complete later, run their callbacks once. */
static void count_cb(future_t *f, void *user)
{
    (void)f;
    atomic_fetch_add((atomic_int *)user, 1);
}

static void test_timeout_leaves_futures_alive(void)
{
    for (int w = 0; w < NWHENS; w++) {
        atomic_int calls = 0;
        future_t *fs[2];
        new_pending(fs, 2);
        CHECK_STATUS(future_add_done_callback(fs[0], count_cb, &calls), CFUT_OK);
        double t0 = th_now();
        CHECK_WAIT(fs, 2, SHORT_TIMEOUT, all_whens[w], CFUT_ETIMEDOUT);
        CHECK_ELAPSED(t0, SHORT_TIMEOUT_MIN);
        CHECK_PARTITION(fs, 2, 0);
        CHECK_STATUS(future_status(fs[0]), CFUT_ETIMEDOUT);
        CHECK_EQ(atomic_load(&calls), 0);
        int32_t v = 6;
        CHECK_STATUS(future_set_result(fs[0], &v, sizeof v), CFUT_OK);
        CHECK_EQ(atomic_load(&calls), 1);
        CHECK_STATUS(future_set_error(fs[1], 2, "x"), CFUT_OK);
        CHECK_WAIT(fs, 2, 0, all_whens[w], CFUT_OK);
        CHECK_EQ(int_result(fs[0]), 6);
        CHECK_EQ(atomic_load(&calls), 1);
        release_all(fs, 2);
    }
}

/* Waiting changes nothing: repeated waits, results and states stay. */
static void test_wait_is_read_only(void)
{
    future_t *fs[3] = { make_future(K_SUCCESSFUL), make_future(K_EXCEPTION),
                        make_future(K_CANCELLED) };
    for (int round = 0; round < 3; round++)
        for (int w = 0; w < NWHENS; w++)
            CHECK_WAIT(fs, 3, 0, all_whens[w], CFUT_OK);
    CHECK_EQ(int_result(fs[0]), 42);
    CHECK_STATUS(future_status(fs[1]), CFUT_ETASK);
    CHECK_EQ(future_error_code(fs[1]), 5);
    CHECK(future_cancelled(fs[2]));
    release_all(fs, 3);
}

/* Duplicates count once: [a, a, b, a] needs a and b, and a single completion
 * of a counts once however often it is listed. */
static void test_duplicates(void)
{
    /* Polling. */
    future_t *a = make_future(K_PENDING), *b = make_future(K_PENDING);
    future_t *fs[4] = { a, a, b, a };
    CHECK_STATUS(future_set_result(a, NULL, 0), CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_FIRST_COMPLETED, CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_ETIMEDOUT);
    CHECK_WAIT(fs, 4, 0, FUTURES_FIRST_EXCEPTION, CFUT_ETIMEDOUT);
    CHECK_STATUS(future_set_result(b, NULL, 0), CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_ALL_COMPLETED, CFUT_OK);
    CHECK_WAIT(fs, 4, 0, FUTURES_FIRST_EXCEPTION, CFUT_OK);
    future_release(a);
    future_release(b);

    /* Blocked, each condition: complete a (listed three times), then b. */
    for (int w = 0; w < NWHENS; w++) {
        a = make_future(K_PENDING);
        b = make_future(K_PENDING);
        future_t *gs[4] = { a, a, b, a };
        waiter wt;
        waiter_start(&wt, gs, 4, all_whens[w]);
        CHECK_STATUS(future_set_result(a, NULL, 0), CFUT_OK);
        CHECK_STATUS(future_set_error(b, 3, "b"), CFUT_OK);
        CHECK_STATUS(waiter_join(&wt), CFUT_OK);
        future_release(a);
        future_release(b);
    }

    /* Only one distinct future, listed twice, blocked: its completion ends
     * an ALL_COMPLETED wait. */
    a = make_future(K_PENDING);
    future_t *aa[2] = { a, a };
    waiter wt;
    waiter_start(&wt, aa, 2, FUTURES_ALL_COMPLETED);
    CHECK_STATUS(future_set_result(a, NULL, 0), CFUT_OK);
    CHECK_STATUS(waiter_join(&wt), CFUT_OK);
    future_release(a);

    /* Same, ended by a cancel. */
    a = make_future(K_PENDING);
    aa[0] = aa[1] = a;
    waiter_start(&wt, aa, 2, FUTURES_ALL_COMPLETED);
    CHECK(future_cancel(a));
    CHECK_STATUS(waiter_join(&wt), CFUT_OK);
    future_release(a);
}

/* A wait with duplicates that times out leaves nothing registered behind:
 * completing (and freeing) the futures afterwards is safe. */
static void test_duplicates_timeout_then_complete(void)
{
    for (int w = 0; w < NWHENS; w++) {
        future_t *a = make_future(K_PENDING), *b = make_future(K_PENDING);
        future_t *fs[5] = { a, b, a, a, b };
        CHECK_WAIT(fs, 5, 0.01, all_whens[w], CFUT_ETIMEDOUT);
        CHECK_WAIT(fs, 5, 0, all_whens[w], CFUT_ETIMEDOUT);
        CHECK(future_cancel(a));
        CHECK_STATUS(future_set_result(b, NULL, 0), CFUT_OK);
        CHECK_WAIT(fs, 5, 0, all_whens[w], CFUT_OK);
        future_release(a);
        future_release(b);
    }
}

/* A blocked futures_wait(-1) wakes on completion, for each condition. */
static void test_wait_woken_by_completion(void)
{
    for (int w = 0; w < NWHENS; w++) {
        future_t *fs[3];
        new_pending(fs, 3);
        waiter wt;
        waiter_start(&wt, fs, 3, all_whens[w]);
        switch (all_whens[w]) {
        case FUTURES_FIRST_COMPLETED:
            CHECK_STATUS(future_set_result(fs[1], NULL, 0), CFUT_OK);
            CHECK_STATUS(waiter_join(&wt), CFUT_OK);
            CHECK_PARTITION(fs, 3, 0x2);
            break;
        case FUTURES_FIRST_EXCEPTION:
            CHECK_STATUS(future_set_error(fs[2], 1, "boom"), CFUT_OK);
            CHECK_STATUS(waiter_join(&wt), CFUT_OK);
            CHECK_PARTITION(fs, 3, 0x4);
            break;
        case FUTURES_ALL_COMPLETED:
            CHECK_STATUS(future_set_result(fs[2], NULL, 0), CFUT_OK);
            CHECK(future_set_running_or_notify_cancel(fs[0]));
            CHECK_STATUS(future_set_error(fs[1], 1, "boom"), CFUT_OK);
            CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
            CHECK_STATUS(waiter_join(&wt), CFUT_OK);
            CHECK_PARTITION(fs, 3, 0x7);
            break;
        }
        release_all(fs, 3);
    }
}

/* A blocked futures_wait(-1) wakes on cancel (python/cpython#87893). */
static void test_wait_woken_by_cancel(void)
{
    for (int w = 0; w < NWHENS; w++) {
        future_t *fs[3];
        new_pending(fs, 3);
        waiter wt;
        waiter_start(&wt, fs, 3, all_whens[w]);
        if (all_whens[w] == FUTURES_FIRST_COMPLETED) {
            CHECK(future_cancel(fs[0]));
            CHECK_STATUS(waiter_join(&wt), CFUT_OK);
            CHECK_PARTITION(fs, 3, 0x1);
        } else {
            /* Cancels are not exceptions: FIRST_EXCEPTION needs all three. */
            for (int i = 0; i < 3; i++)
                CHECK(future_cancel(fs[i]));
            CHECK_STATUS(waiter_join(&wt), CFUT_OK);
            CHECK_PARTITION(fs, 3, 0x7);
        }
        release_all(fs, 3);
    }
}

/* Cancelling a queued executor task wakes a wait on it. */
static void test_executor_cancel_wakes_wait(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *blocker = submit_gated(ex, gated_task, &event);
    future_t *queued = submit_mul(ex, 3, 4);
    future_t *fs[1] = { queued };
    waiter wt;
    waiter_start(&wt, fs, 1, FUTURES_ALL_COMPLETED);
    CHECK(future_cancel(queued));
    CHECK_STATUS(waiter_join(&wt), CFUT_OK);
    CHECK(future_cancelled(queued));
    CHECK(!future_done(blocker));
    th_gate_open(&event, 1);
    future_t *both[2] = { blocker, queued };
    CHECK_WAIT(both, 2, LONG_WAIT, FUTURES_ALL_COMPLETED, CFUT_OK);
    executor_free(ex);
    th_gate_destroy(&event);
    future_release(blocker);
    future_release(queued);
}

/* executor_shutdown(CANCEL_PENDING) cancels queued futures: that wakes a
 * wait on them too. */
static void test_shutdown_cancel_wakes_wait(void)
{
    executor_t *ex = new_executor(1);
    gate_pair g;
    future_t *blocker = submit_running(ex, &g);
    future_t *q[2] = { submit_mul(ex, 1, 1), submit_mul(ex, 2, 2) };
    waiter wt;
    waiter_start(&wt, q, 2, FUTURES_ALL_COMPLETED);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    CHECK_STATUS(waiter_join(&wt), CFUT_OK);
    CHECK(future_cancelled(q[0]) && future_cancelled(q[1]));
    CHECK(!future_done(blocker));
    th_gate_open(&g.release, 1);
    CHECK_STATUS(future_wait(blocker, LONG_WAIT), CFUT_OK);
    CHECK_EQ(int_result(blocker), 1);
    executor_free(ex);
    gates_fini(&g);
    future_release(blocker);
    release_all(q, 2);
}

/* Several threads wait on the same set; one series of completions wakes all. */
static void test_many_waiters(void)
{
    enum { NW = 6, NF = 10 };
    future_t *fs[NF];
    new_pending(fs, NF);
    waiter w[NW];
    for (int i = 0; i < NW; i++)
        waiter_start(&w[i], fs, NF, all_whens[i % NWHENS]);
    for (int i = 0; i < NF; i++) {
        if (i % 3 == 0)
            CHECK(future_cancel(fs[i]));
        else
            CHECK_STATUS(future_set_result(fs[i], NULL, 0), CFUT_OK);
    }
    for (int i = 0; i < NW; i++)
        CHECK_STATUS(waiter_join(&w[i]), CFUT_OK);
    release_all(fs, NF);
}

/* 100 futures completed at once by 10 threads while another thread waits:
 * no lost wake-up, for each condition; FIRST_EXCEPTION without failures
 * returns only when all are done. */
enum { MANY = 100, COMPLETERS = 10 };

typedef struct completer {
    future_t **fs;
    int first, count;
    th_gate *start;
    int mode; /* 0: results only; 1: results, errors and cancels */
    int failures;
} completer;

static void completer_main(void *p)
{
    completer *c = p;
    th_gate_wait(c->start);
    for (int i = c->first; i < c->first + c->count; i++) {
        int32_t v = i;
        int rc;
        if (c->mode == 1 && i % 7 == 3)
            rc = future_set_error(c->fs[i], i, "failed %d", i);
        else if (c->mode == 1 && i % 5 == 1)
            rc = future_cancel(c->fs[i]) ? CFUT_OK : CFUT_ESTATE;
        else
            rc = future_set_result(c->fs[i], &v, sizeof v);
        if (rc != CFUT_OK)
            c->failures++;
    }
}

static void test_many_completers(void)
{
    for (int round = 0; round < 12; round++) {
        futures_return_when when = all_whens[round % NWHENS];
        int mode = (round / NWHENS) % 2;
        future_t *fs[MANY];
        new_pending(fs, MANY);
        th_gate start;
        th_gate_init(&start);
        completer c[COMPLETERS];
        th_thread *t[COMPLETERS];
        for (int i = 0; i < COMPLETERS; i++) {
            /* Thread i completes fs[10 i .. 10 i + 9]. */
            c[i] = (completer){ fs, i * (MANY / COMPLETERS), MANY / COMPLETERS,
                                &start, mode, 0 };
            t[i] = th_spawn(completer_main, &c[i]);
        }
        waiter w;
        waiter_start(&w, fs, MANY, when);
        th_gate_open(&start, COMPLETERS);
        CHECK_STATUS(waiter_join(&w), CFUT_OK);
        for (int i = 0; i < COMPLETERS; i++) {
            th_join(t[i]);
            CHECK_EQ(c[i].failures, 0);
        }
        for (int i = 0; i < MANY; i++)
            CHECK(future_done(fs[i]));
        CHECK_WAIT(fs, MANY, 0, when, CFUT_OK);
        th_gate_destroy(&start);
        release_all(fs, MANY);
    }
}

/* The "no failure means all" rule seen from the waiter: when a blocked
 * FIRST_EXCEPTION / ALL_COMPLETED wait returns, every future is done. */
typedef struct checking_waiter {
    future_t **fs;
    size_t n;
    futures_return_when when;
    th_gate ready;
    int rc;
    size_t done_after;
} checking_waiter;

static void checking_waiter_main(void *p)
{
    checking_waiter *w = p;
    th_gate_open(&w->ready, 1);
    w->rc = futures_wait(w->fs, w->n, -1, w->when);
    for (size_t i = 0; i < w->n; i++)
        w->done_after += future_done(w->fs[i]);
}

static void test_many_completers_all_done_on_return(void)
{
    for (int round = 0; round < 10; round++) {
        future_t *fs[MANY];
        new_pending(fs, MANY);
        th_gate start;
        th_gate_init(&start);
        completer c[COMPLETERS];
        th_thread *t[COMPLETERS];
        for (int i = 0; i < COMPLETERS; i++) {
            c[i] = (completer){ fs, i * (MANY / COMPLETERS), MANY / COMPLETERS,
                                &start, 0, 0 };
            t[i] = th_spawn(completer_main, &c[i]);
        }
        checking_waiter w = { .fs = fs, .n = MANY, .rc = -1,
                              .when = round % 2 ? FUTURES_FIRST_EXCEPTION
                                                : FUTURES_ALL_COMPLETED };
        th_gate_init(&w.ready);
        th_thread *wt = th_spawn(checking_waiter_main, &w);
        th_gate_wait(&w.ready);
        th_gate_open(&start, COMPLETERS);
        th_join(wt);
        CHECK_STATUS(w.rc, CFUT_OK);
        CHECK_EQ(w.done_after, MANY);
        for (int i = 0; i < COMPLETERS; i++)
            th_join(t[i]);
        th_gate_destroy(&w.ready);
        th_gate_destroy(&start);
        release_all(fs, MANY);
    }
}

/* Executor futures released by their tasks in parallel with user futures in
 * one wait: 64 tasks on 8 workers plus a user future completed last. */
static void test_mixed_executor_and_user_futures(void)
{
    enum { N = 64 };
    executor_t *ex = new_executor(8);
    future_t *fs[N + 1];
    for (int i = 0; i < N; i++)
        fs[i] = submit_mul(ex, i, 3);
    fs[N] = make_future(K_PENDING);
    CHECK_WAIT(fs, N + 1, 0, FUTURES_ALL_COMPLETED, CFUT_ETIMEDOUT);
    waiter w;
    waiter_start(&w, fs, N + 1, FUTURES_ALL_COMPLETED);
    for (int i = 0; i < N; i++)
        CHECK_STATUS(future_wait(fs[i], LONG_WAIT), CFUT_OK);
    CHECK_STATUS(future_set_result(fs[N], NULL, 0), CFUT_OK);
    CHECK_STATUS(waiter_join(&w), CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(int_result(fs[i]), i * 3);
    executor_free(ex);
    release_all(fs, N + 1);
}

/* When a blocked futures_wait() returns CFUT_OK, the waiting thread sees the
 * future that satisfied it as done (future_done(), future_status() not
 * CFUT_ETIMEDOUT): "read future_done() to partition" must work at once. One
 * waiter thread, blocked each time the main thread completes one of two
 * fresh futures. */
enum { PING_PONG = 300 };

typedef struct ping_pong {
    future_t *fs[PING_PONG][2];
    th_gate about_to_wait;
    int not_done, bad_rc;
} ping_pong;

static void ping_pong_waiter(void *p)
{
    ping_pong *pp = p;
    for (int k = 0; k < PING_PONG; k++) {
        th_gate_open(&pp->about_to_wait, 1);
        futures_return_when when = all_whens[k % NWHENS];
        if (futures_wait(pp->fs[k], 2, -1, when) != CFUT_OK)
            pp->bad_rc++;
        future_t *f = pp->fs[k][k % 2];
        if (!future_done(f) || future_status(f) == CFUT_ETIMEDOUT)
            pp->not_done++;
    }
}

static void test_wait_returns_with_future_done(void)
{
    ping_pong *pp = calloc(1, sizeof *pp);
    CHECK(pp != NULL);
    for (int k = 0; k < PING_PONG; k++) {
        new_pending(pp->fs[k], 2);
        /* ALL_COMPLETED and FIRST_EXCEPTION need the other one done too. */
        if (all_whens[k % NWHENS] != FUTURES_FIRST_COMPLETED)
            CHECK_STATUS(future_set_result(pp->fs[k][1 - k % 2], NULL, 0), CFUT_OK);
    }
    th_gate_init(&pp->about_to_wait);
    th_thread *t = th_spawn(ping_pong_waiter, pp);
    for (int k = 0; k < PING_PONG; k++) {
        th_gate_wait(&pp->about_to_wait);
        future_t *f = pp->fs[k][k % 2];
        if (k % 3 == 0)
            CHECK(future_cancel(f));
        else if (k % 3 == 1)
            CHECK_STATUS(future_set_error(f, k, "e"), CFUT_OK);
        else
            CHECK_STATUS(future_set_result(f, &k, sizeof k), CFUT_OK);
    }
    th_join(t);
    if (pp->not_done || pp->bad_rc)
        th_fail(__FILE__, __LINE__, "of %d waits: %d returned before the future "
                "read as done, %d did not return CFUT_OK", PING_PONG,
                pp->not_done, pp->bad_rc);
    th_gate_destroy(&pp->about_to_wait);
    for (int k = 0; k < PING_PONG; k++)
        release_all(pp->fs[k], 2);
    free(pp);
}

TH_CASES(
    TH_CASE(test_20369),
    TH_CASE(test_first_completed),
    TH_CASE(test_first_completed_some_already_completed),
    TH_CASE(test_first_exception),
    TH_CASE(test_first_exception_some_already_complete),
    TH_CASE(test_first_exception_one_already_failed),
    TH_CASE(test_all_completed),
    TH_CASE(test_timeout),
    TH_CASE(test_pending_calls_race),
    TH_CASE(test_n_zero),
    TH_CASE(test_invalid_arguments),
    TH_CASE(test_poll),
    TH_CASE(test_first_exception_semantics),
    TH_CASE(test_first_exception_no_failure_waits_for_all),
    TH_CASE(test_all_completed_user_futures),
    TH_CASE(test_timeout_leaves_futures_alive),
    TH_CASE(test_wait_is_read_only),
    TH_CASE(test_duplicates),
    TH_CASE(test_duplicates_timeout_then_complete),
    TH_CASE(test_wait_woken_by_completion),
    TH_CASE(test_wait_woken_by_cancel),
    TH_CASE(test_executor_cancel_wakes_wait),
    TH_CASE(test_shutdown_cancel_wakes_wait),
    TH_CASE(test_many_waiters),
    TH_CASE(test_many_completers),
    TH_CASE(test_many_completers_all_done_on_return),
    TH_CASE(test_mixed_executor_and_user_futures),
    TH_CASE(test_wait_returns_with_future_done),
)
