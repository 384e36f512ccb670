/* test/test_as_completed.c: the as-completed iterator (futures_as_completed,
 * futures_next, futures_iter_pending, futures_iter_fd, futures_iter_free).
 *
 * Ports CPython's Lib/test/test_concurrent_futures/test_as_completed.py
 * (AsCompletedTests, with a thread pool executor) and adds the C contract:
 * owned references, the end marker repeated, per-call timeouts that leave
 * the iterator usable, completion order, duplicates, the pollable
 * descriptor, wake-ups by cancel, and freeing with futures not yielded.
 *
 * CPython's as_completed() timeout is a total deadline that ends the
 * iteration; futures_next()'s is per call and the iterator stays usable, so
 * the ports go on iterating after the timeout where that says more. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define LONG_WAIT 30.0
#define LONG_WAIT_MS 30000

static void check_elapsed(double t0, double min, int line)
{
    double e = th_now() - t0;
    if (e < min)
        th_fail(__FILE__, line, "returned after %.3f s, before %.3f s", e, min);
}
#define CHECK_ELAPSED(t0, min) check_elapsed((t0), (min), __LINE__)

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

static void new_pending(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fs[i] = make_future(K_PENDING);
}

static void release_all(future_t **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        future_release(fs[i]);
}

static futures_iter *iter_new(future_t *const *fs, size_t n)
{
    futures_iter *it = futures_as_completed(fs, n);
    CHECK(it != NULL);
    return it;
}

/* futures_next() must give CFUT_OK and a future: returns it (owned). */
static future_t *next_ok(futures_iter *it, double timeout, int line)
{
    future_t *out = (future_t *)&out; /* junk: must be overwritten */
    int rc = futures_next(it, timeout, &out);
    if (rc != CFUT_OK)
        th_fail(__FILE__, line, "futures_next: got %s, want CFUT_OK",
                cfut_status_name(rc));
    if (out == NULL)
        th_fail(__FILE__, line, "futures_next: end, want a future");
    if (!future_done(out))
        th_fail(__FILE__, line, "futures_next yielded a future that is not done");
    return out;
}
#define NEXT_OK(it, timeout) next_ok((it), (timeout), __LINE__)

/* futures_next() must say "the end": CFUT_OK with NULL. */
static void check_end(futures_iter *it, int line)
{
    future_t *out = (future_t *)&out;
    int rc = futures_next(it, 0, &out);
    if (rc != CFUT_OK || out != NULL)
        th_fail(__FILE__, line, "futures_next: got %s with %p, want the end",
                cfut_status_name(rc), (void *)out);
    if (futures_iter_pending(it) != 0)
        th_fail(__FILE__, line, "pending %zu at the end", futures_iter_pending(it));
}
#define CHECK_END(it) check_end((it), __LINE__)

/* futures_next() must time out with *out = NULL. */
static void check_timeout(futures_iter *it, double timeout, int line)
{
    future_t *out = (future_t *)&out;
    int rc = futures_next(it, timeout, &out);
    if (rc != CFUT_ETIMEDOUT || out != NULL)
        th_fail(__FILE__, line, "futures_next: got %s with %p, want CFUT_ETIMEDOUT",
                cfut_status_name(rc), (void *)out);
}
#define CHECK_NEXT_TIMEOUT(it, timeout) check_timeout((it), (timeout), __LINE__)

/* Index of f in fs, or -1. */
static int index_of(future_t *const *fs, size_t n, const future_t *f)
{
    for (size_t i = 0; i < n; i++)
        if (fs[i] == f)
            return (int)i;
    return -1;
}

/* Yields until the end or a timeout, marking seen[i] for fs[i]; every yield
 * must be one of fs and new. Returns the number of yields; *rc_out gets the
 * status that ended the loop. */
static size_t drain(futures_iter *it, double timeout, future_t *const *fs,
                    size_t n, bool *seen, int *rc_out, int line)
{
    size_t count = 0;
    for (;;) {
        future_t *out = (future_t *)&out;
        int rc = futures_next(it, timeout, &out);
        if (rc != CFUT_OK || out == NULL) {
            if (rc != CFUT_OK && out != NULL)
                th_fail(__FILE__, line, "futures_next %s left *out set",
                        cfut_status_name(rc));
            *rc_out = rc;
            return count;
        }
        int i = index_of(fs, n, out);
        if (i < 0)
            th_fail(__FILE__, line, "yielded a future not in the list");
        if (seen[i])
            th_fail(__FILE__, line, "yielded fs[%d] twice", i);
        if (!future_done(out))
            th_fail(__FILE__, line, "yielded fs[%d] before it was done", i);
        seen[i] = true;
        count++;
        future_release(out);
    }
}
#define DRAIN(it, timeout, fs, n, seen, rc)                                    \
    drain((it), (timeout), (fs), (n), (seen), (rc), __LINE__)

/* poll() on the iterator's descriptor: readable within timeout_ms? */
static bool fd_readable(futures_iter *it, int timeout_ms)
{
    int fd = futures_iter_fd(it);
    if (fd < 0)
        th_fail(__FILE__, __LINE__, "futures_iter_fd: -1 (%s)", strerror(errno));
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        th_fail(__FILE__, __LINE__, "poll: %s", strerror(errno));
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL)))
        th_fail(__FILE__, __LINE__, "poll: revents 0x%x", (unsigned)p.revents);
    return r > 0 && (p.revents & POLLIN);
}

/* ---- Executor tasks ---- */

static int mul_task(cfut_task *t, const void *arg, size_t len)
{
    int32_t xy[2];
    CHECK_EQ(len, sizeof xy);
    memcpy(xy, arg, sizeof xy);
    int32_t r = xy[0] * xy[1];
    return cfut_return(t, &r, sizeof r);
}

/* CPython's time.sleep(long): arg a th_gate pointer; result the int32_t 1. */
static int gated_task(cfut_task *t, const void *arg, size_t len)
{
    th_gate *g;
    CHECK_EQ(len, sizeof g);
    memcpy(&g, arg, sizeof g);
    th_gate_wait(g);
    int32_t one = 1;
    return cfut_return(t, &one, sizeof one);
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

static future_t *submit_gated(executor_t *ex, th_gate *g)
{
    future_t *f = executor_submit(ex, gated_task, &g, sizeof g);
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

/* ---- A thread blocked in futures_next() ---- */

typedef struct consumer {
    futures_iter *it;
    th_gate ready;
    int rc;
    future_t *out;
    bool done_at_yield;   /* future_done(out) right after the yield */
    int status_at_yield;  /* future_status(out) right after the yield */
    th_thread *thread;
} consumer;

static void consumer_main(void *p)
{
    consumer *c = p;
    th_gate_open(&c->ready, 1);
    c->rc = futures_next(c->it, -1, &c->out);
    c->done_at_yield = future_done(c->out);
    c->status_at_yield = c->out ? future_status(c->out) : -1;
}

static void consumer_start(consumer *c, futures_iter *it)
{
    c->it = it;
    c->rc = -1;
    c->out = NULL;
    th_gate_init(&c->ready);
    c->thread = th_spawn(consumer_main, c);
    th_gate_wait(&c->ready); /* it is about to block */
}

/* Joins the consumer and checks it got a future that was already done when
 * futures_next() returned it. */
static void consumer_join(consumer *c)
{
    th_join(c->thread);
    th_gate_destroy(&c->ready);
    CHECK_STATUS(c->rc, CFUT_OK);
    CHECK(c->out != NULL);
    CHECK(c->done_at_yield);
    CHECK(c->status_at_yield != CFUT_ETIMEDOUT);
}

/* ======================= CPython ports ======================= */

/* test_as_completed.py: AsCompletedTests.test_no_timeout */
static void test_no_timeout(void)
{
    executor_t *ex = new_executor(2);
    future_t *fs[5] = { make_future(K_CANCELLED_NOTIFIED),
                        make_future(K_EXCEPTION), make_future(K_SUCCESSFUL),
                        submit_mul(ex, 2, 21), submit_mul(ex, 7, 6) };
    futures_iter *it = iter_new(fs, 5);
    CHECK_EQ(futures_iter_pending(it), 5);
    bool seen[5] = { false };
    int rc;
    CHECK_EQ(DRAIN(it, -1, fs, 5, seen, &rc), 5);
    CHECK_STATUS(rc, CFUT_OK); /* ended by the end marker */
    CHECK_END(it);
    CHECK_EQ(int_result(fs[3]), 42);
    CHECK_EQ(int_result(fs[4]), 42);
    futures_iter_free(it);
    executor_free(ex);
    release_all(fs, 5);
}

/* test_as_completed.py: AsCompletedTests.test_future_times_out: the three
 * done futures come out, then the wait for the gated one times out (for
 * timeout 0 and a short one); here the iterator then goes on. */
static void test_future_times_out(void)
{
    static const double timeouts[] = { 0, 0.1 };
    executor_t *ex = new_executor(1);
    for (size_t k = 0; k < 2; k++) {
        th_gate event;
        th_gate_init(&event);
        future_t *fs[4] = { make_future(K_CANCELLED_NOTIFIED),
                            make_future(K_EXCEPTION), make_future(K_SUCCESSFUL),
                            submit_gated(ex, &event) };
        futures_iter *it = iter_new(fs, 4);
        bool seen[4] = { false };
        int rc;
        double t0 = th_now();
        CHECK_EQ(DRAIN(it, timeouts[k], fs, 4, seen, &rc), 3);
        CHECK_STATUS(rc, CFUT_ETIMEDOUT);
        CHECK_ELAPSED(t0, timeouts[k] * 0.95);
        CHECK(seen[0] && seen[1] && seen[2] && !seen[3]);
        CHECK(!future_done(fs[3]));
        CHECK_EQ(futures_iter_pending(it), 1);

        th_gate_open(&event, 1);
        future_t *f = NEXT_OK(it, LONG_WAIT);
        CHECK(f == fs[3]);
        CHECK_EQ(int_result(f), 1);
        future_release(f);
        CHECK_END(it);
        futures_iter_free(it);
        th_gate_destroy(&event);
        release_all(fs, 4);
    }
    executor_free(ex);
}

/* test_as_completed.py: AsCompletedTests.test_duplicate_futures */
static void test_duplicate_futures(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *f1 = submit_gated(ex, &event);
    future_t *fs[3] = { f1, f1, f1 };
    futures_iter *it = iter_new(fs, 3);
    CHECK_EQ(futures_iter_pending(it), 1);
    th_gate_open(&event, 1);
    bool seen[3] = { false };
    int rc;
    CHECK_EQ(DRAIN(it, LONG_WAIT, fs, 1, seen, &rc), 1);
    CHECK_STATUS(rc, CFUT_OK);
    CHECK_END(it);
    futures_iter_free(it);
    executor_free(ex);
    th_gate_destroy(&event);
    future_release(f1);
}

/* test_as_completed.py: AsCompletedTests.test_free_reference_yielded_future:
 * the iterator drops its reference to a future once it yields it. C cannot
 * watch a refcount; here each future's last reference is the one yielded,
 * and valgrind/ASan report a leak or a use after free otherwise. */
static void test_free_reference_yielded_future(void)
{
    enum { N = 10 };
    future_t *fs[N];
    new_pending(fs, 8);
    fs[8] = make_future(K_CANCELLED_NOTIFIED);
    fs[9] = make_future(K_SUCCESSFUL);
    futures_iter *it = iter_new(fs, N);
    /* The done ones: give up our references; the yielded ones are the last. */
    future_release(fs[8]);
    future_release(fs[9]);
    for (int i = 0; i < 2; i++) {
        future_t *f = NEXT_OK(it, 0);
        CHECK(f == fs[8] || f == fs[9]);
        future_release(f); /* frees it */
    }
    CHECK_NEXT_TIMEOUT(it, 0);
    CHECK_EQ(futures_iter_pending(it), 8);

    /* Complete one at a time; the yielded reference is the last one. */
    for (int i = 0; i < 8; i++) {
        future_t *g = fs[i];
        CHECK_STATUS(future_set_result(g, "test", 4), CFUT_OK);
        future_release(g); /* the iterator keeps it alive */
        future_t *f = NEXT_OK(it, LONG_WAIT);
        CHECK(f == g);
        const void *data;
        size_t len;
        CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
        CHECK_EQ(len, 4);
        CHECK(memcmp(data, "test", 4) == 0);
        future_release(f); /* frees it */
        CHECK_EQ(futures_iter_pending(it), (size_t)(7 - i));
    }
    CHECK_END(it);
    futures_iter_free(it);
}

/* test_as_completed.py: AsCompletedTests.test_correct_timeout_exception_msg:
 * "2 (of 4) futures unfinished" -- in C, futures_iter_pending(). */
static void test_correct_timeout_exception_msg(void)
{
    future_t *fs[4] = { make_future(K_CANCELLED_NOTIFIED), make_future(K_PENDING),
                        make_future(K_RUNNING), make_future(K_SUCCESSFUL) };
    futures_iter *it = iter_new(fs, 4);
    CHECK_EQ(futures_iter_pending(it), 4);
    bool seen[4] = { false };
    int rc;
    CHECK_EQ(DRAIN(it, 0, fs, 4, seen, &rc), 2);
    CHECK_STATUS(rc, CFUT_ETIMEDOUT);
    CHECK(seen[0] && !seen[1] && !seen[2] && seen[3]);
    CHECK_EQ(futures_iter_pending(it), 2);
    futures_iter_free(it);
    release_all(fs, 4);
}

/* ======================= The C contract ======================= */

/* Bad input gives NULL / CFUT_EINVAL, never a crash. */
static void test_invalid_arguments(void)
{
    CHECK(futures_as_completed(NULL, 1) == NULL);
    CHECK(futures_as_completed(NULL, 5) == NULL);
    future_t *d = make_future(K_SUCCESSFUL);
    future_t *with_null[3] = { d, NULL, d };
    CHECK(futures_as_completed(with_null, 3) == NULL);
    future_t *only_null[1] = { NULL };
    CHECK(futures_as_completed(only_null, 1) == NULL);

    future_t *out = (future_t *)&out;
    CHECK_STATUS(futures_next(NULL, 0, &out), CFUT_EINVAL);
    CHECK(out == NULL);
    CHECK_STATUS(futures_next(NULL, -1, NULL), CFUT_EINVAL);
    futures_iter *it = iter_new(&d, 1);
    CHECK_STATUS(futures_next(it, 0, NULL), CFUT_EINVAL);
    /* The refused call consumed nothing. */
    CHECK_EQ(futures_iter_pending(it), 1);
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == d);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);

    CHECK_EQ(futures_iter_pending(NULL), 0);
    CHECK_EQ(futures_iter_fd(NULL), -1);
    futures_iter_free(NULL);
    future_release(d);
}

/* n == 0: an iterator that is at its end at once, again and again. */
static void test_empty(void)
{
    future_t *p = make_future(K_PENDING);
    future_t *const lists[2][1] = { { NULL }, { p } };
    for (int k = 0; k < 2; k++) {
        futures_iter *it = futures_as_completed(k ? lists[1] : NULL, 0);
        CHECK(it != NULL);
        CHECK_EQ(futures_iter_pending(it), 0);
        CHECK(fd_readable(it, 0));
        for (int i = 0; i < 3; i++)
            CHECK_END(it);
        future_t *out = (future_t *)&out;
        CHECK_STATUS(futures_next(it, -1, &out), CFUT_OK);
        CHECK(out == NULL);
        CHECK(fd_readable(it, 0));
        futures_iter_free(it);
    }
    CHECK(!future_done(p));
    future_release(p);
}

/* After the last future, CFUT_OK with NULL every time, whatever the timeout. */
static void test_end_repeats(void)
{
    future_t *fs[2] = { make_future(K_SUCCESSFUL), make_future(K_PENDING) };
    futures_iter *it = iter_new(fs, 2);
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == fs[0]);
    future_release(f);
    CHECK_STATUS(future_set_error(fs[1], 2, "x"), CFUT_OK);
    f = NEXT_OK(it, 0);
    CHECK(f == fs[1]);
    CHECK_STATUS(future_status(f), CFUT_ETASK);
    future_release(f);
    static const double timeouts[] = { 0, -1, 0.01, LONG_WAIT };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 4; i++) {
            future_t *out = (future_t *)&out;
            CHECK_STATUS(futures_next(it, timeouts[i], &out), CFUT_OK);
            CHECK(out == NULL);
            CHECK_EQ(futures_iter_pending(it), 0);
        }
    }
    futures_iter_free(it);
    release_all(fs, 2);
}

/* Done futures first (in some order), then in completion order, also when
 * several complete before the next call. */
static void test_completion_order(void)
{
    /* fs: p0 d1 p2 d3 p4 */
    future_t *fs[5] = { make_future(K_PENDING), make_future(K_SUCCESSFUL),
                        make_future(K_PENDING), make_future(K_CANCELLED),
                        make_future(K_PENDING) };
    futures_iter *it = iter_new(fs, 5);
    /* Completed after creation but before the first next: after d1, d3. */
    CHECK_STATUS(future_set_result(fs[4], NULL, 0), CFUT_OK);
    future_t *a = NEXT_OK(it, 0), *b = NEXT_OK(it, 0);
    CHECK((a == fs[1] && b == fs[3]) || (a == fs[3] && b == fs[1]));
    future_release(a);
    future_release(b);
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == fs[4]);
    future_release(f);
    CHECK_NEXT_TIMEOUT(it, 0);
    /* One at a time: p2 then p0. */
    CHECK_STATUS(future_set_error(fs[2], 1, "e"), CFUT_OK);
    f = NEXT_OK(it, 0);
    CHECK(f == fs[2]);
    future_release(f);
    CHECK(future_cancel(fs[0]));
    f = NEXT_OK(it, 0);
    CHECK(f == fs[0]);
    CHECK(future_cancelled(f));
    CHECK_STATUS(future_status(f), CFUT_ECANCELLED);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);
    release_all(fs, 5);
}

static void test_completion_order_batched(void)
{
    enum { N = 6 };
    static const int order[N] = { 3, 1, 5, 0, 4, 2 };
    future_t *fs[N];
    new_pending(fs, N);
    futures_iter *it = iter_new(fs, N);
    CHECK_NEXT_TIMEOUT(it, 0);
    for (int i = 0; i < N; i++) {
        future_t *g = fs[order[i]];
        if (i == 2)
            CHECK(future_cancel(g));
        else if (i == 4)
            CHECK_STATUS(future_set_error(g, 1, "e"), CFUT_OK);
        else
            CHECK_STATUS(future_set_result(g, &i, sizeof i), CFUT_OK);
    }
    CHECK_EQ(futures_iter_pending(it), N);
    for (int i = 0; i < N; i++) {
        future_t *f = NEXT_OK(it, 0);
        int got = index_of(fs, N, f);
        if (got != order[i])
            th_fail(__FILE__, __LINE__, "yield %d: fs[%d], want fs[%d]", i, got,
                    order[i]);
        future_release(f);
    }
    CHECK_END(it);
    futures_iter_free(it);
    release_all(fs, N);
}

/* futures_next() hands out a new reference; the iterator holds its own, so
 * the caller may release every future right after creating it. */
static void test_owned_references(void)
{
    enum { N = 4 };
    future_t *fs[N];
    new_pending(fs, N);
    future_t *keep[N]; /* to complete them, and to compare pointers */
    for (int i = 0; i < N; i++)
        keep[i] = future_retain(fs[i]);
    futures_iter *it = iter_new(fs, N);
    release_all(fs, N); /* only `keep` and the iterator hold them now */
    for (int i = 0; i < N; i++) {
        int32_t v = 100 + i;
        CHECK_STATUS(future_set_result(keep[i], &v, sizeof v), CFUT_OK);
        future_release(keep[i]); /* now only the iterator */
    }
    bool seen[N] = { false };
    for (int i = 0; i < N; i++) {
        future_t *f = NEXT_OK(it, 0);
        int k = index_of(keep, N, f);
        CHECK(k >= 0 && !seen[k]);
        seen[k] = true;
        /* Ours: retain/release keeps it, result readable until we drop it. */
        future_t *again = future_retain(f);
        CHECK(again == f);
        future_release(again);
        CHECK_EQ(int_result(f), 100 + k);
        future_release(f);
    }
    CHECK_END(it);
    futures_iter_free(it);
}

/* A wait that times out returns CFUT_ETIMEDOUT with *out NULL after the
 * timeout and leaves the iterator usable. */
static void test_timeout_keeps_iterator_usable(void)
{
    future_t *fs[2];
    new_pending(fs, 2);
    futures_iter *it = iter_new(fs, 2);
    CHECK_NEXT_TIMEOUT(it, 0);
    double t0 = th_now();
    CHECK_NEXT_TIMEOUT(it, 0.05);
    CHECK_ELAPSED(t0, 0.045);
    CHECK_EQ(futures_iter_pending(it), 2);
    CHECK(!future_done(fs[0]) && !future_done(fs[1]));
    CHECK_STATUS(future_set_result(fs[1], NULL, 0), CFUT_OK);
    future_t *f = NEXT_OK(it, 0.05);
    CHECK(f == fs[1]);
    future_release(f);
    CHECK_NEXT_TIMEOUT(it, 0.01);
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    f = NEXT_OK(it, 0);
    CHECK(f == fs[0]);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);
    release_all(fs, 2);
}

/* futures_iter_pending(): distinct futures not yet yielded; a completion
 * alone does not change it, a yield does. */
static void test_pending_count(void)
{
    future_t *fs[3];
    new_pending(fs, 3);
    futures_iter *it = iter_new(fs, 3);
    CHECK_EQ(futures_iter_pending(it), 3);
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    CHECK_EQ(futures_iter_pending(it), 3);
    future_t *f = NEXT_OK(it, 0);
    CHECK_EQ(futures_iter_pending(it), 2);
    future_release(f);
    CHECK_NEXT_TIMEOUT(it, 0);
    CHECK_EQ(futures_iter_pending(it), 2);
    CHECK(future_cancel(fs[2]));
    CHECK(future_cancel(fs[1]));
    CHECK_EQ(futures_iter_pending(it), 2);
    release_all(fs, 3);
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK_EQ(futures_iter_pending(it), 1);
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK_EQ(futures_iter_pending(it), 0);
    CHECK_END(it);
    futures_iter_free(it);
}

/* Duplicates: each distinct future once, counted once. */
static void test_duplicates(void)
{
    future_t *a = make_future(K_PENDING), *b = make_future(K_SUCCESSFUL);
    future_t *fs[6] = { a, b, a, b, a, a };
    futures_iter *it = iter_new(fs, 6);
    CHECK_EQ(futures_iter_pending(it), 2);
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == b);
    future_release(f);
    CHECK_EQ(futures_iter_pending(it), 1);
    CHECK_NEXT_TIMEOUT(it, 0);
    CHECK_STATUS(future_set_result(a, NULL, 0), CFUT_OK);
    f = NEXT_OK(it, 0);
    CHECK(f == a);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);
    future_release(a);
    future_release(b);
}

/* A thread blocked in futures_next(-1) wakes on completion, error, cancel;
 * also with several futures, only one of which completes. */
static void test_next_woken(void)
{
    for (int how = 0; how < 3; how++) {
        future_t *fs[3];
        new_pending(fs, 3);
        futures_iter *it = iter_new(fs, 3);
        consumer c;
        consumer_start(&c, it);
        if (how == 0)
            CHECK_STATUS(future_set_result(fs[1], "r", 1), CFUT_OK);
        else if (how == 1)
            CHECK_STATUS(future_set_error(fs[1], 9, "e"), CFUT_OK);
        else
            CHECK(future_cancel(fs[1]));
        consumer_join(&c);
        CHECK_STATUS(c.rc, CFUT_OK);
        CHECK(c.out == fs[1]);
        future_release(c.out);
        CHECK_EQ(futures_iter_pending(it), 2);

        /* The last two, by cancel: the consumer wakes for each. */
        consumer_start(&c, it);
        CHECK(future_cancel(fs[2]));
        consumer_join(&c);
        CHECK_STATUS(c.rc, CFUT_OK);
        CHECK(c.out == fs[2]);
        future_release(c.out);
        consumer_start(&c, it);
        CHECK(future_cancel(fs[0]));
        consumer_join(&c);
        CHECK(c.out == fs[0]);
        future_release(c.out);
        CHECK_END(it);
        futures_iter_free(it);
        release_all(fs, 3);
    }
}

/* The descriptor is readable exactly when futures_next() would not block. */
static void test_fd_poll(void)
{
    future_t *fs[3];
    new_pending(fs, 3);
    futures_iter *it = iter_new(fs, 3);
    int fd = futures_iter_fd(it);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) != -1);
    CHECK_EQ(futures_iter_fd(it), fd); /* the same one every time */

    CHECK(!fd_readable(it, 0));      /* all pending */
    CHECK(!fd_readable(it, 20));
    CHECK(future_set_running_or_notify_cancel(fs[0]));
    CHECK(!fd_readable(it, 0));      /* running is not done */

    CHECK_STATUS(future_set_result(fs[1], NULL, 0), CFUT_OK);
    CHECK(fd_readable(it, 0));       /* one done */
    CHECK(fd_readable(it, 0));       /* polling consumes nothing */
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == fs[1]);
    future_release(f);
    CHECK(!fd_readable(it, 0));      /* consumed, the others pending */
    CHECK_NEXT_TIMEOUT(it, 0);
    CHECK(!fd_readable(it, 0));      /* a timeout changes nothing */

    /* Two done: readable until both are consumed. */
    CHECK_STATUS(future_set_error(fs[0], 1, "e"), CFUT_OK);
    CHECK(future_cancel(fs[2]));
    CHECK(fd_readable(it, 0));
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK(fd_readable(it, 0));
    f = NEXT_OK(it, 0);
    future_release(f);
    /* All yielded: readable (next would return the end at once). */
    CHECK(fd_readable(it, 0));
    CHECK_END(it);
    CHECK(fd_readable(it, 0));
    CHECK_EQ(futures_iter_fd(it), fd);
    futures_iter_free(it);
    release_all(fs, 3);
}

/* Readable at once when futures were done before the iterator was made. */
static void test_fd_initially_done(void)
{
    future_t *fs[2] = { make_future(K_EXCEPTION), make_future(K_PENDING) };
    futures_iter *it = iter_new(fs, 2);
    CHECK(fd_readable(it, 0));
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == fs[0]);
    future_release(f);
    CHECK(!fd_readable(it, 0));
    CHECK(future_cancel(fs[1]));
    CHECK(fd_readable(it, 0));
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK(fd_readable(it, 0));
    CHECK_END(it);
    futures_iter_free(it);
    release_all(fs, 2);
}

/* The descriptor asked for only after some yields still tells the truth. */
static void test_fd_late(void)
{
    future_t *fs[3];
    new_pending(fs, 3);
    futures_iter *it = iter_new(fs, 3);
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    future_t *f = NEXT_OK(it, 0);
    future_release(f);
    CHECK_STATUS(future_set_result(fs[1], NULL, 0), CFUT_OK);
    CHECK(fd_readable(it, 0)); /* first call to futures_iter_fd() */
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK(!fd_readable(it, 0));
    CHECK_STATUS(future_set_result(fs[2], NULL, 0), CFUT_OK);
    CHECK(fd_readable(it, 0));
    f = NEXT_OK(it, 0);
    future_release(f);
    CHECK(fd_readable(it, 0));
    futures_iter_free(it);
    release_all(fs, 3);
}

/* poll() blocked on the descriptor wakes when another thread completes or
 * cancels a future. */
typedef struct poke {
    future_t *f;
    th_gate go;
    int how;
    int rc;
} poke;

static void poke_main(void *p)
{
    poke *k = p;
    th_gate_wait(&k->go);
    if (k->how == 0)
        k->rc = future_cancel(k->f) ? CFUT_OK : CFUT_ESTATE;
    else
        k->rc = future_set_result(k->f, NULL, 0);
}

static void test_fd_woken_from_other_thread(void)
{
    for (int how = 0; how < 2; how++) {
        future_t *fs[2];
        new_pending(fs, 2);
        futures_iter *it = iter_new(fs, 2);
        CHECK(!fd_readable(it, 0));
        poke k = { .f = fs[1], .how = how, .rc = -1 };
        th_gate_init(&k.go);
        th_thread *t = th_spawn(poke_main, &k);
        th_gate_open(&k.go, 1); /* main is about to poll */
        CHECK(fd_readable(it, LONG_WAIT_MS));
        th_join(t);
        CHECK_STATUS(k.rc, CFUT_OK);
        future_t *f = NEXT_OK(it, 0);
        CHECK(f == fs[1]);
        future_release(f);
        CHECK(!fd_readable(it, 0));
        th_gate_destroy(&k.go);
        futures_iter_free(it);
        release_all(fs, 2);
    }
}

/* Freeing the iterator with futures not yet yielded releases its references
 * (valgrind checks the leak), and the futures it still watched may
 * complete afterwards (nothing of the iterator is left registered). */
static void test_free_with_unyielded(void)
{
    /* Done but not yielded, and released by the caller. */
    future_t *fs[3] = { make_future(K_SUCCESSFUL), make_future(K_CANCELLED),
                        make_future(K_EXCEPTION) };
    futures_iter *it = iter_new(fs, 3);
    release_all(fs, 3);
    future_t *f = NEXT_OK(it, 0);
    future_release(f);
    futures_iter_free(it);

    /* Pending, with the descriptor made: free, then complete them. */
    future_t *gs[4];
    new_pending(gs, 4);
    it = iter_new(gs, 4);
    CHECK(!fd_readable(it, 0));
    CHECK_NEXT_TIMEOUT(it, 0.01);
    futures_iter_free(it);
    CHECK_STATUS(future_set_result(gs[0], NULL, 0), CFUT_OK);
    CHECK(future_cancel(gs[1]));
    CHECK_STATUS(future_set_error(gs[2], 1, "e"), CFUT_OK);
    release_all(gs, 3);
    future_release(gs[3]); /* never completed */

    /* Pending ones whose only other reference the caller dropped. */
    future_t *hs[2];
    new_pending(hs, 2);
    it = iter_new(hs, 2);
    release_all(hs, 2);
    futures_iter_free(it);
}

/* Several iterators over the same futures are independent. */
static void test_independent_iterators(void)
{
    future_t *fs[3];
    new_pending(fs, 3);
    futures_iter *a = iter_new(fs, 3), *b = iter_new(fs, 3);
    CHECK_STATUS(future_set_result(fs[2], NULL, 0), CFUT_OK);
    future_t *f = NEXT_OK(a, 0);
    CHECK(f == fs[2]);
    future_release(f);
    CHECK_EQ(futures_iter_pending(b), 3);
    CHECK(fd_readable(b, 0));
    CHECK(!fd_readable(a, 0));
    futures_iter_free(b); /* one gone; the other goes on */
    CHECK_STATUS(future_set_result(fs[0], NULL, 0), CFUT_OK);
    CHECK(future_cancel(fs[1]));
    bool seen[3] = { false };
    int rc;
    CHECK_EQ(DRAIN(a, 0, fs, 3, seen, &rc), 2);
    CHECK_STATUS(rc, CFUT_OK);
    CHECK(seen[0] && seen[1]);
    futures_iter_free(a);
    release_all(fs, 3);
}

/* 100 futures completed at once by 10 threads while one thread consumes:
 * each yielded once, none lost. Odd rounds drive the consumer with poll():
 * once the descriptor is readable, futures_next(0) must not time out. */
enum { MANY = 100, COMPLETERS = 10 };

typedef struct completer {
    future_t **fs;
    int first, count;
    th_gate *start;
    int failures;
} completer;

static void completer_main(void *p)
{
    completer *c = p;
    th_gate_wait(c->start);
    for (int i = c->first; i < c->first + c->count; i++) {
        int rc;
        if (i % 9 == 4)
            rc = future_cancel(c->fs[i]) ? CFUT_OK : CFUT_ESTATE;
        else if (i % 7 == 3)
            rc = future_set_error(c->fs[i], i, "failed %d", i);
        else
            rc = future_set_result(c->fs[i], &i, sizeof i);
        if (rc != CFUT_OK)
            c->failures++;
    }
}

static void test_many_completers(void)
{
    for (int round = 0; round < 8; round++) {
        bool use_poll = round % 2;
        future_t *fs[MANY];
        new_pending(fs, MANY);
        futures_iter *it = iter_new(fs, MANY);
        th_gate start;
        th_gate_init(&start);
        completer c[COMPLETERS];
        th_thread *t[COMPLETERS];
        for (int i = 0; i < COMPLETERS; i++) {
            c[i] = (completer){ fs, i * (MANY / COMPLETERS), MANY / COMPLETERS,
                                &start, 0 };
            t[i] = th_spawn(completer_main, &c[i]);
        }
        th_gate_open(&start, COMPLETERS);
        bool seen[MANY] = { false };
        for (int k = 0; k < MANY; k++) {
            future_t *f;
            if (use_poll) {
                if (!fd_readable(it, LONG_WAIT_MS))
                    th_fail(__FILE__, __LINE__, "yield %d: not readable", k);
                f = NEXT_OK(it, 0);
            } else {
                f = NEXT_OK(it, LONG_WAIT);
            }
            int i = index_of(fs, MANY, f);
            CHECK(i >= 0);
            if (seen[i])
                th_fail(__FILE__, __LINE__, "fs[%d] yielded twice", i);
            seen[i] = true;
            CHECK_EQ(futures_iter_pending(it), (size_t)(MANY - k - 1));
            future_release(f);
        }
        CHECK(fd_readable(it, 0));
        CHECK_END(it);
        for (int i = 0; i < COMPLETERS; i++) {
            th_join(t[i]);
            CHECK_EQ(c[i].failures, 0);
        }
        futures_iter_free(it);
        th_gate_destroy(&start);
        release_all(fs, MANY);
    }
}

/* Executor futures released by the caller right after making the iterator:
 * the iterator keeps them; results come through it. */
static void test_executor_released_futures(void)
{
    enum { N = 8 };
    executor_t *ex = new_executor(4);
    th_gate event;
    th_gate_init(&event);
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = i % 2 ? submit_gated(ex, &event) : submit_mul(ex, i, 10);
    futures_iter *it = iter_new(fs, N);
    release_all(fs, N);
    th_gate_open(&event, N / 2);
    int ones = 0, sum = 0;
    for (int k = 0; k < N; k++) {
        future_t *f = NEXT_OK(it, LONG_WAIT);
        int32_t v = int_result(f);
        if (v == 1)
            ones++;
        else
            sum += v;
        future_release(f);
    }
    CHECK_EQ(ones, N / 2);
    CHECK_EQ(sum, (0 + 2 + 4 + 6) * 10);
    CHECK_END(it);
    futures_iter_free(it);
    executor_free(ex);
    th_gate_destroy(&event);
}

/* Cancelling a queued executor task wakes a consumer blocked in
 * futures_next() and makes the descriptor readable. */
static void test_executor_cancel_wakes_iterator(void)
{
    executor_t *ex = new_executor(1);
    th_gate event;
    th_gate_init(&event);
    future_t *blocker = submit_gated(ex, &event);
    future_t *queued = submit_mul(ex, 6, 7);
    future_t *fs[2] = { blocker, queued };
    futures_iter *it = iter_new(fs, 2);
    CHECK(!fd_readable(it, 0));
    consumer c;
    consumer_start(&c, it);
    CHECK(future_cancel(queued));
    consumer_join(&c);
    CHECK_STATUS(c.rc, CFUT_OK);
    CHECK(c.out == queued);
    CHECK(future_cancelled(c.out));
    future_release(c.out);
    CHECK(!fd_readable(it, 0));
    th_gate_open(&event, 1);
    CHECK(fd_readable(it, LONG_WAIT_MS));
    future_t *f = NEXT_OK(it, 0);
    CHECK(f == blocker);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);
    executor_free(ex);
    th_gate_destroy(&event);
    release_all(fs, 2);
}

/* executor_shutdown(CANCEL_PENDING) wakes a consumer blocked on a queued
 * future; the running one still completes and comes out last. */
static void test_shutdown_cancel_wakes_iterator(void)
{
    executor_t *ex = new_executor(1);
    gate_pair g;
    future_t *fs[2] = { submit_running(ex, &g), submit_mul(ex, 5, 5) };
    futures_iter *it = iter_new(fs, 2);
    consumer c;
    consumer_start(&c, it);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    consumer_join(&c);
    CHECK(c.out == fs[1]);
    CHECK_STATUS(future_status(c.out), CFUT_ECANCELLED);
    future_release(c.out);
    CHECK_NEXT_TIMEOUT(it, 0);
    th_gate_open(&g.release, 1);
    future_t *f = NEXT_OK(it, LONG_WAIT);
    CHECK(f == fs[0]);
    CHECK_EQ(int_result(f), 1);
    future_release(f);
    CHECK_END(it);
    futures_iter_free(it);
    executor_free(ex);
    gates_fini(&g);
    release_all(fs, 2);
}

/* A yielded future is done as seen by the consumer the moment
 * futures_next() returns it (future_done() true, future_result(f, 0) not
 * CFUT_ETIMEDOUT), also when the descriptor said it was ready. One
 * consumer thread, blocked in futures_next(-1) (or poll()) each time the
 * main thread completes the next future. */
enum { PING_PONG = 300 };

typedef struct ping_pong {
    futures_iter *it;
    bool use_poll;
    th_gate about_to_wait;
    int not_done, timed_out, bad_rc;
} ping_pong;

static void ping_pong_consumer(void *p)
{
    ping_pong *pp = p;
    for (int k = 0; k < PING_PONG; k++) {
        th_gate_open(&pp->about_to_wait, 1);
        future_t *f = NULL;
        int rc;
        if (pp->use_poll) {
            if (!fd_readable(pp->it, LONG_WAIT_MS)) {
                pp->bad_rc++;
                return;
            }
            rc = futures_next(pp->it, 0, &f);
        } else {
            rc = futures_next(pp->it, -1, &f);
        }
        if (rc != CFUT_OK || !f) {
            pp->bad_rc++;
            return;
        }
        if (!future_done(f))
            pp->not_done++;
        if (future_result(f, 0, NULL, NULL) == CFUT_ETIMEDOUT)
            pp->timed_out++;
        future_release(f);
    }
}

static void test_yielded_future_is_done(void)
{
    for (int mode = 0; mode < 2; mode++) {
        future_t *fs[PING_PONG];
        new_pending(fs, PING_PONG);
        ping_pong pp = { .it = iter_new(fs, PING_PONG), .use_poll = mode == 1 };
        th_gate_init(&pp.about_to_wait);
        th_thread *t = th_spawn(ping_pong_consumer, &pp);
        for (int k = 0; k < PING_PONG; k++) {
            th_gate_wait(&pp.about_to_wait);
            if (k % 3 == 2)
                CHECK(future_cancel(fs[k]));
            else
                CHECK_STATUS(future_set_result(fs[k], &k, sizeof k), CFUT_OK);
        }
        th_join(t);
        if (pp.bad_rc || pp.not_done || pp.timed_out)
            th_fail(__FILE__, __LINE__,
                    "%s: of %d yields, %d not done, %d with future_result(0) = "
                    "CFUT_ETIMEDOUT, %d failed",
                    mode ? "poll+next(0)" : "next(-1)", PING_PONG, pp.not_done,
                    pp.timed_out, pp.bad_rc);
        CHECK_END(pp.it);
        futures_iter_free(pp.it);
        th_gate_destroy(&pp.about_to_wait);
        release_all(fs, PING_PONG);
    }
}

TH_CASES(
    TH_CASE(test_no_timeout),
    TH_CASE(test_future_times_out),
    TH_CASE(test_duplicate_futures),
    TH_CASE(test_free_reference_yielded_future),
    TH_CASE(test_correct_timeout_exception_msg),
    TH_CASE(test_invalid_arguments),
    TH_CASE(test_empty),
    TH_CASE(test_end_repeats),
    TH_CASE(test_completion_order),
    TH_CASE(test_completion_order_batched),
    TH_CASE(test_owned_references),
    TH_CASE(test_timeout_keeps_iterator_usable),
    TH_CASE(test_pending_count),
    TH_CASE(test_duplicates),
    TH_CASE(test_next_woken),
    TH_CASE(test_fd_poll),
    TH_CASE(test_fd_initially_done),
    TH_CASE(test_fd_late),
    TH_CASE(test_fd_woken_from_other_thread),
    TH_CASE(test_free_with_unyielded),
    TH_CASE(test_independent_iterators),
    TH_CASE(test_many_completers),
    TH_CASE(test_executor_released_futures),
    TH_CASE(test_executor_cancel_wakes_iterator),
    TH_CASE(test_shutdown_cancel_wakes_iterator),
    TH_CASE(test_yielded_future_is_done),
)
