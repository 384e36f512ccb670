/* test/test_map.c: map over arrays, streams and C functions
 * (executor_map, executor_map_start / cfut_map_next / cfut_map_close,
 * executor_map_pull, executor_map_call; include/cfut/map.h).
 *
 * Ports CPython's map tests from Lib/test/test_concurrent_futures/
 * executor.py (ExecutorTest): test_map, test_map_exception,
 * test_map_timeout_from_callable, test_map_timeout, test_map_close,
 * test_map_buffersize_*, test_shutdown_race_issue12456. Adapted where cfut
 * differs on purpose (issue #4, map.h): a failing item fails only itself,
 * also inside a chunk, and iteration goes on after it (CPython raises and
 * the chunk is lost); buffersize 0 means "no bound" (CPython refuses 0 and
 * negative values: test_map_buffersize_value_validation; a C size_t has no
 * wrong type: _type_validation has no counterpart); an input with no length
 * is a pull source (executor_map_pull) where CPython takes an iterator.
 * test_max_workers_negative belongs to executor creation (test_thread_pool,
 * test_process_pool); test_free_reference and test_no_stale_references are
 * covered by valgrind's leak check on every case.
 *
 * Beyond CPython: statuses per item and the first failure in input order;
 * unordered iteration; chunksize 0/1/7/1000; buffersize exactness (counted
 * through executor_get_stats and through a pull source); the deadline
 * cancelling what has not started; progress callbacks; results of the wrong
 * size; executor_map_call over libm and static functions; a worker crash
 * inside a chunk; bad arguments.
 *
 * Every case runs on the thread pool (_threads) and on the process pool
 * with the default start method (_processes). Tasks wait on FIFOs (an
 * "xgate": works across processes), never on sleeps; time is slept on only
 * where it is the subject (map deadlines). */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- time and backends -------------------------------------------------- */

typedef struct be {
    executor_kind kind;
} be;

static const be THREADS = {EXECUTOR_THREADS};
static const be PROCESSES = {EXECUTOR_PROCESSES};

static bool remote(be b) { return b.kind == EXECUTOR_PROCESSES; }

static executor_t *ex_new(be b, int max_workers)
{
    executor_options o;
    memset(&o, 0, sizeof o);
    o.max_workers = max_workers;
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, b.kind, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static executor_stats stats(executor_t *ex)
{
    executor_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    return s;
}

/* Tasks the executor has taken in, in any state. */
static size_t submitted(executor_t *ex)
{
    executor_stats s = stats(ex);
    return s.queued + s.running + s.completed + s.failed + s.cancelled;
}

/* test_<fn>_threads and test_<fn>_processes. */
#define ON_BOTH(fn)                                                            \
    static void test_##fn##_threads(void) { fn(THREADS); }                     \
    static void test_##fn##_processes(void) { fn(PROCESSES); }
#define BOTH_CASES(fn) TH_CASE(test_##fn##_threads), TH_CASE(test_##fn##_processes)

/* ---- cross-process gates -------------------------------------------------- */

/* th_xgate (harness.h): a task that carries the paths writes its item's
 * value (an int32) to "started" when it begins, and a gated one then waits
 * for a byte from "go". Waits for the next start report; returns the
 * item's value. */
static int xgate_started(th_xgate *g)
{
    int32_t v;
    th_xgate_read(g, &v, sizeof v, __FILE__, __LINE__);
    return v;
}

/* The start reports not read yet, into seen[] (by value); their count. */
static int xgate_drain(th_xgate *g, bool *seen, int nseen)
{
    int count = 0;
    int32_t v;
    while (read(g->sfd, &v, sizeof v) == (ssize_t)sizeof v) {
        CHECK(v >= 0 && v < nseen);
        seen[v] = true;
        count++;
    }
    return count;
}

/* ---- tasks ---------------------------------------------------------------- */

enum {
    OP_OK,            /* result: value * 2, an int64 */
    OP_FAIL,          /* cfut_fail(100 + value) */
    OP_FAIL_TIMEDOUT, /* cfut_fail(CFUT_ETIMEDOUT): the task's own code */
    OP_GATE,          /* wait for the gate, then as OP_OK */
    OP_GATE_BOUNDED,  /* the same, giving up after 20 s (a "time.sleep(6)") */
    OP_CRASH,         /* SIGSEGV */
    OP_SHORT,         /* a 4-byte result */
    OP_UNTIL_STOP,    /* poll cfut_should_stop() (20 s at most), then OK */
};

/* One item of task_item: what to do, and the gate's paths ("" : none). */
typedef struct mitem {
    char started[64], go[64];
    int32_t value, op;
} mitem;

static mitem item(const th_xgate *g, int value, int op)
{
    mitem it;
    memset(&it, 0, sizeof it);
    if (g) {
        memcpy(it.started, g->started, sizeof it.started);
        if (op == OP_GATE || op == OP_GATE_BOUNDED)
            memcpy(it.go, g->go, sizeof it.go);
    }
    it.value = value;
    it.op = op;
    return it;
}

static int wait_go(const char *path, int timeout_ms)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char c;
    ssize_t n = -1;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* gave up */
        n = read(fd, &c, 1);
        if (n == 1 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break; /* another reader may have taken the byte: poll again */
    }
    close(fd);
    return n == 1 ? 0 : -1;
}

static int task_item(cfut_task *t, const void *arg, size_t len)
{
    mitem it;
    if (len != sizeof it)
        return cfut_fail(t, 1000, "task_item: %zu-byte argument", len);
    memcpy(&it, arg, sizeof it);
    if (it.started[0]) {
        int fd = open(it.started, O_WRONLY | O_CLOEXEC);
        int32_t v = it.value;
        if (fd < 0 || write(fd, &v, sizeof v) != (ssize_t)sizeof v)
            return cfut_fail(t, 1001, "reporting the start: %s", strerror(errno));
        close(fd);
    }
    if (it.op == OP_GATE && wait_go(it.go, -1) != 0)
        return cfut_fail(t, 1002, "waiting for the gate: %s", strerror(errno));
    if (it.op == OP_GATE_BOUNDED)
        wait_go(it.go, 20000);
    if (it.op == OP_UNTIL_STOP) {
        for (int k = 0; k < 20000 && !cfut_should_stop(t); k++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    int64_t r = (int64_t)it.value * 2;
    switch (it.op) {
    case OP_FAIL:
        return cfut_fail(t, 100 + it.value, "item %d failed", it.value);
    case OP_FAIL_TIMEDOUT:
        return cfut_fail(t, CFUT_ETIMEDOUT, "a timeout of the task's own");
    case OP_CRASH: {
        volatile int *volatile bad = (volatile int *)(uintptr_t)16;
        signal(SIGSEGV, SIG_DFL);
        *bad = 1;
        raise(SIGSEGV);
        break;
    }
    case OP_SHORT: {
        int32_t s = it.value;
        return cfut_return(t, &s, sizeof s);
    }
    }
    return cfut_return(t, &r, sizeof r);
}

/* Plain tasks over small items. */
typedef struct pair { int64_t a, b; } pair;

static int task_pow(cfut_task *t, const void *arg, size_t len)
{
    pair p;
    if (len != sizeof p)
        return cfut_fail(t, 1000, "task_pow: %zu-byte argument", len);
    memcpy(&p, arg, sizeof p);
    int64_t r = 1;
    for (int64_t k = 0; k < p.b; k++)
        r *= p.a;
    return cfut_return(t, &r, sizeof r);
}

/* divmod(a, b): {a / b, a % b}; b == 0 fails (ZeroDivisionError). */
static int task_divmod(cfut_task *t, const void *arg, size_t len)
{
    pair p;
    if (len != sizeof p)
        return cfut_fail(t, 1000, "task_divmod: %zu-byte argument", len);
    memcpy(&p, arg, sizeof p);
    if (p.b == 0)
        return cfut_fail(t, 1, "integer division or modulo by zero");
    pair r = {p.a / p.b, p.a % p.b};
    return cfut_return(t, &r, sizeof r);
}

static int task_add(cfut_task *t, const void *arg, size_t len)
{
    pair p;
    if (len != sizeof p)
        return cfut_fail(t, 1000, "task_add: %zu-byte argument", len);
    memcpy(&p, arg, sizeof p);
    int64_t r = p.a + p.b;
    return cfut_return(t, &r, sizeof r);
}

/* str(x): the digits, without a NUL (results of varying size). */
static int task_str(cfut_task *t, const void *arg, size_t len)
{
    int64_t x;
    if (len != sizeof x)
        return cfut_fail(t, 1000, "task_str: %zu-byte argument", len);
    memcpy(&x, arg, sizeof x);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)x);
    return cfut_return(t, buf, (size_t)n);
}

static int task_inc(cfut_task *t, const void *arg, size_t len)
{
    int32_t x;
    if (len != sizeof x)
        return cfut_fail(t, 1000, "task_inc: %zu-byte argument", len);
    memcpy(&x, arg, sizeof x);
    x++;
    return cfut_return(t, &x, sizeof x);
}

/* ---- plain C functions for executor_map_call -------------------------------- */

static int64_t c_add(int64_t a, int64_t b) { return a + b; }
static int32_t s_len(const char *s) { return s ? (int32_t)strlen(s) : -1; }
static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static uint64_t y_hash(const void *p, size_t n) { return n ? fnv(p, n) : 12345; }
static int p_isnull(const void *p) { return p == NULL; }
static int32_t no_args(void) { return 4242; }
static int crash_if_one(int x)
{
    if (x == 1) {
        volatile int *volatile bad = (volatile int *)(uintptr_t)16;
        signal(SIGSEGV, SIG_DFL);
        *bad = 1;
        raise(SIGSEGV);
    }
    return x + 100;
}

static int seen_by_note[64];
static void note(int i)
{
    if (i >= 0 && i < 64)
        __atomic_add_fetch(&seen_by_note[i], 1, __ATOMIC_RELAXED);
}

static signed char id_c(signed char x) { return x; }
static unsigned char id_C(unsigned char x) { return x; }
static short id_h(short x) { return x; }
static unsigned short id_H(unsigned short x) { return x; }
static int id_i(int x) { return x; }
static unsigned id_I(unsigned x) { return x; }
static long id_l(long x) { return x; }
static unsigned long id_L(unsigned long x) { return x; }
static int64_t id_q(int64_t x) { return x; }
static uint64_t id_Q(uint64_t x) { return x; }
static size_t id_z(size_t x) { return x; }
static float id_f(float x) { return x; }
static double id_d(double x) { return x; }

static int not_code = 3; /* data, not a function */

/* An object pointer as a function pointer (ISO C has no cast for it). */
static cfut_fn as_fn(void *p)
{
    cfut_fn fn;
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

/* ---- iterating --------------------------------------------------------------- */

static cfut_map *start(executor_t *ex, cfut_task_fn fn, const void *items, size_t n,
                       size_t item_size, const cfut_map_options *o)
{
    cfut_map *m = executor_map_start(ex, fn, items, n, item_size, o);
    CHECK(m != NULL);
    return m;
}

/* The next item must be index `idx`, succeeded, with the int64 `value`. */
#define NEXT_I64(m, idx, value) next_i64((m), (idx), (value), __LINE__)
static void next_i64(cfut_map *m, size_t idx, int64_t value, int line)
{
    size_t i = 12345;
    const void *data = NULL;
    size_t len = 99;
    int st = cfut_map_next(m, &i, &data, &len);
    if (st != CFUT_OK || i != idx || !data || len != 8)
        th_fail(__FILE__, line, "next: %s, index %zu (want %zu), %zu bytes",
                cfut_status_name(st), i, idx, len);
    int64_t v;
    memcpy(&v, data, 8);
    if (v != value)
        th_fail(__FILE__, line, "item %zu: %lld, want %lld", idx, (long long)v,
                (long long)value);
}

/* The next item must be index `idx`, failed with `status`. */
#define NEXT_FAIL(m, idx, status) next_fail((m), (idx), (status), __LINE__)
static void next_fail(cfut_map *m, size_t idx, int status, int line)
{
    size_t i = 12345;
    const void *data = (const void *)1;
    size_t len = 99;
    int st = cfut_map_next(m, &i, &data, &len);
    if (st != status || i != idx || data != NULL || len != 0)
        th_fail(__FILE__, line, "next: %s (want %s), index %zu (want %zu), data %p len %zu",
                cfut_status_name(st), cfut_status_name(status), i, idx, data, len);
}

/* The iteration must be over. */
#define NEXT_END(m) next_end((m), __LINE__)
static void next_end(cfut_map *m, int line)
{
    size_t i = 12345;
    const void *data = (const void *)1;
    size_t len = 99;
    int st = cfut_map_next(m, &i, &data, &len);
    if (st != CFUT_OK || i != SIZE_MAX || data != NULL || len != 0)
        th_fail(__FILE__, line, "want the end: %s, index %zu, data %p len %zu",
                cfut_status_name(st), i, data, len);
}

/* The next item's index and status (a success must carry data). */
static int next_any(cfut_map *m, size_t *idx)
{
    const void *data = NULL;
    size_t len = 0;
    int st = cfut_map_next(m, idx, &data, &len);
    if (st == CFUT_OK && *idx != SIZE_MAX)
        CHECK(data != NULL);
    return st;
}

/* ---- test_map ------------------------------------------------------------------ */

/* executor.py test_map: map(pow, range(10), range(10)) equals the builtin
 * map, also with chunksize=3; here with chunksize 0 (chosen), 1, 3, 7 and
 * 1000, over 10 and 2500 items: results in input order, every status
 * CFUT_OK, and CFUT_OK returned. */
static void map_basic(be b)
{
    executor_t *ex = ex_new(b, 3);
    static const size_t sizes[] = {0, 1, 3, 7, 1000};
    for (size_t n = 10; n <= 2500; n = n == 10 ? 2500 : 5000) {
        pair *in = malloc(n * sizeof *in);
        int64_t *out = malloc(n * sizeof *out);
        int *st = malloc(n * sizeof *st);
        CHECK(in && out && st);
        for (size_t i = 0; i < n; i++)
            in[i] = (pair){(int64_t)(i % 10), (int64_t)(i % 10)};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            cfut_map_options o = {.chunksize = sizes[k]};
            memset(out, 0xee, n * sizeof *out);
            memset(st, 0x7f, n * sizeof *st);
            CHECK_STATUS(executor_map(ex, task_pow, in, n, sizeof *in, out, sizeof *out, st, &o),
                         CFUT_OK);
            for (size_t i = 0; i < n; i++) {
                int64_t want = 1;
                for (size_t e = 0; e < i % 10; e++)
                    want *= (int64_t)(i % 10);
                if (st[i] != CFUT_OK || out[i] != want)
                    th_fail(__FILE__, __LINE__, "n %zu chunksize %zu item %zu: %s %lld", n,
                            sizes[k], i, cfut_status_name(st[i]), (long long)out[i]);
            }
        }
        free(in);
        free(out);
        free(st);
    }
    executor_free(ex);
}
ON_BOTH(map_basic)

/* How many tasks (chunks) a map makes: chunksize c gives ceil(n / c);
 * chunksize 0 gives min(4096, max(1, n / (4 * workers))) per chunk. */
static void chunk_counts(be b)
{
    int workers = 2;
    static const struct {
        size_t n, chunksize, tasks;
    } cases[] = {
        {100, 1, 100},  {100, 7, 15},   {100, 1000, 1}, {10, 0, 10}, /* 10/8 -> 1 */
        {1000, 0, 8},   /* 1000/8 = 125 per chunk */
        {100000, 0, 25}, /* 100000/8 = 12500 -> 4096 per chunk: 25 chunks */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        executor_t *ex = ex_new(b, workers);
        size_t n = cases[k].n;
        int32_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
        CHECK(in && out);
        for (size_t i = 0; i < n; i++)
            in[i] = (int32_t)i;
        cfut_map_options o = {.chunksize = cases[k].chunksize};
        CHECK_STATUS(executor_map(ex, task_inc, in, n, sizeof *in, out, sizeof *out, NULL, &o),
                     CFUT_OK);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ(out[i], (int32_t)i + 1);
        executor_stats s = stats(ex);
        if (s.completed != cases[k].tasks)
            th_fail(__FILE__, __LINE__, "n %zu chunksize %zu: %zu tasks, want %zu", n,
                    cases[k].chunksize, s.completed, cases[k].tasks);
        CHECK_EQ(s.failed + s.cancelled, 0);
        free(in);
        free(out);
        executor_free(ex);
    }
}
ON_BOTH(chunk_counts)

/* ---- failures ---------------------------------------------------------------- */

/* executor.py test_map_exception: divmod over [5]*4 and [2, 3, 0, 5]: the
 * failure comes at its own position and iteration goes on after it, to the
 * end (twice). Then with chunksize=3 and [2, 0, 3, 5]: the failing item
 * fails only itself, not its chunk (CPython loses the chunk). */
static void map_exception(be b)
{
    executor_t *ex = ex_new(b, 2);
    pair in1[4] = {{5, 2}, {5, 3}, {5, 0}, {5, 5}};
    cfut_map *m = start(ex, task_divmod, in1, 4, sizeof(pair), NULL);
    const void *data;
    size_t len, idx;
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 0 && len == sizeof(pair));
    CHECK(memcmp(data, &(pair){2, 1}, sizeof(pair)) == 0);
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 1 && len == sizeof(pair));
    CHECK(memcmp(data, &(pair){1, 2}, sizeof(pair)) == 0);
    NEXT_FAIL(m, 2, CFUT_ETASK);
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 3 && len == sizeof(pair));
    CHECK(memcmp(data, &(pair){1, 0}, sizeof(pair)) == 0);
    NEXT_END(m);
    NEXT_END(m);
    cfut_map_close(m);

    pair in2[4] = {{5, 2}, {5, 0}, {5, 3}, {5, 5}};
    cfut_map_options o = {.chunksize = 3};
    m = start(ex, task_divmod, in2, 4, sizeof(pair), &o);
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 0 && memcmp(data, &(pair){2, 1}, sizeof(pair)) == 0);
    NEXT_FAIL(m, 1, CFUT_ETASK);
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 2 && memcmp(data, &(pair){1, 2}, sizeof(pair)) == 0);
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 3 && memcmp(data, &(pair){1, 0}, sizeof(pair)) == 0);
    NEXT_END(m);
    NEXT_END(m);
    cfut_map_close(m);

    /* The eager form: statuses per item, failed items' results untouched. */
    pair out[4];
    int st[4];
    memset(out, 0xee, sizeof out);
    CHECK_STATUS(executor_map(ex, task_divmod, in2, 4, sizeof(pair), out, sizeof(pair), st, &o),
                 CFUT_ETASK);
    CHECK_STATUS(st[0], CFUT_OK);
    CHECK_STATUS(st[1], CFUT_ETASK);
    CHECK_STATUS(st[2], CFUT_OK);
    CHECK_STATUS(st[3], CFUT_OK);
    CHECK(memcmp(&out[0], &(pair){2, 1}, sizeof(pair)) == 0);
    CHECK_EQ(out[1].a, (int64_t)0xeeeeeeeeeeeeeeeeull);
    CHECK(memcmp(&out[3], &(pair){1, 0}, sizeof(pair)) == 0);
    executor_free(ex);
}
ON_BOTH(map_exception)

/* executor_map returns the first failure in input order, whatever the
 * order in which items end (ordered and unordered, several chunk sizes);
 * each failure at its own index, with its own status. */
static void first_failure(be b)
{
    executor_t *ex = ex_new(b, 3);
    enum { N = 40 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(NULL, i, OP_OK);
    in[7] = item(NULL, 7, OP_SHORT);          /* CFUT_ESERIALIZE */
    in[12] = item(NULL, 12, OP_FAIL);         /* CFUT_ETASK */
    in[30] = item(NULL, 30, OP_FAIL_TIMEDOUT); /* CFUT_ETASK too */
    static const size_t sizes[] = {1, 7, 1000, 0};
    for (int u = 0; u < 2; u++) {
        for (size_t k = 0; k < 4; k++) {
            cfut_map_options o = {.chunksize = sizes[k], .unordered = u};
            int64_t out[N];
            int st[N];
            memset(st, 0x7f, sizeof st);
            CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st,
                                      &o),
                         CFUT_ESERIALIZE);
            for (int i = 0; i < N; i++) {
                int want = i == 7 ? CFUT_ESERIALIZE : i == 12 || i == 30 ? CFUT_ETASK : CFUT_OK;
                if (st[i] != want)
                    th_fail(__FILE__, __LINE__, "chunksize %zu unordered %d item %d: %s", sizes[k],
                            u, i, cfut_status_name(st[i]));
                if (want == CFUT_OK)
                    CHECK_EQ(out[i], 2 * i);
            }
        }
    }
    /* Without the short result the first failure is item 12's. */
    in[7] = item(NULL, 7, OP_OK);
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), NULL, 0, NULL, NULL),
                 CFUT_ESERIALIZE); /* result_size 0: every 8-byte result is the wrong size */
    int64_t out[N];
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, NULL, NULL),
                 CFUT_ETASK);
    executor_free(ex);
}
ON_BOTH(first_failure)

/* A result whose size differs from result_size fails that item alone with
 * CFUT_ESERIALIZE; the lazy form hands over whatever size came back. */
static void wrong_size(be b)
{
    executor_t *ex = ex_new(b, 2);
    enum { N = 9 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(NULL, i, i == 4 ? OP_SHORT : OP_OK);
    int64_t out[N];
    int st[N];
    cfut_map_options o = {.chunksize = 3};
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st, &o),
                 CFUT_ESERIALIZE);
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(st[i], i == 4 ? CFUT_ESERIALIZE : CFUT_OK);
        if (i != 4)
            CHECK_EQ(out[i], 2 * i);
    }
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    for (size_t i = 0; i < N; i++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK_EQ(idx, i);
        CHECK_EQ(len, i == 4 ? 4 : 8);
        if (i == 4) {
            int32_t v;
            memcpy(&v, data, 4);
            CHECK_EQ(v, 4);
        }
    }
    NEXT_END(m);
    cfut_map_close(m);
    executor_free(ex);
}
ON_BOTH(wrong_size)

/* executor.py test_map_timeout_from_callable: a task that fails with a
 * timeout-like code of its own (cfut_fail(CFUT_ETIMEDOUT)) is an ordinary
 * failure (CFUT_ETASK), not the map's deadline, with or without a deadline
 * set; iteration goes on. */
static void timeout_from_callable(be b)
{
    executor_t *ex = ex_new(b, 2);
    mitem in[4];
    for (int i = 0; i < 4; i++)
        in[i] = item(NULL, i, i == 1 ? OP_FAIL_TIMEDOUT : OP_OK);
    static const double timeouts[] = {0, 60};
    for (int k = 0; k < 2; k++) {
        cfut_map_options o = {.timeout = timeouts[k]};
        cfut_map *m = start(ex, task_item, in, 4, sizeof(mitem), &o);
        NEXT_I64(m, 0, 0);
        NEXT_FAIL(m, 1, CFUT_ETASK);
        NEXT_I64(m, 2, 4);
        NEXT_I64(m, 3, 6);
        NEXT_END(m);
        cfut_map_close(m);
        int st[4];
        int64_t out[4];
        CHECK_STATUS(executor_map(ex, task_item, in, 4, sizeof(mitem), out, 8, st, &o),
                     CFUT_ETASK);
        CHECK_STATUS(st[1], CFUT_ETASK);
        CHECK(st[0] == CFUT_OK && st[2] == CFUT_OK && st[3] == CFUT_OK);
    }
    executor_free(ex);
}
ON_BOTH(timeout_from_callable)

/* cfut_map_error: the last item's own code and message when it failed
 * (cfut_fail's), the chunk's when the chunk failed as a whole (a worker's
 * death, a refused submission), NULL and 0 after a success; NULL map
 * gives NULL. */
static void map_errors(be b)
{
    executor_t *ex = ex_new(b, 2);
    mitem in[4] = {item(NULL, 0, OP_OK), item(NULL, 7, OP_FAIL), item(NULL, 2, OP_FAIL_TIMEDOUT),
                   item(NULL, 3, OP_OK)};
    cfut_map_options o = {.chunksize = 4};
    cfut_map *m = start(ex, task_item, in, 4, sizeof(mitem), &o);
    int code = -1;
    NEXT_I64(m, 0, 0);
    CHECK(cfut_map_error(m, &code) == NULL);
    CHECK_EQ(code, 0);
    NEXT_FAIL(m, 1, CFUT_ETASK);
    CHECK_CONTAINS(cfut_map_error(m, &code), "item 7 failed");
    CHECK_EQ(code, 107);
    NEXT_FAIL(m, 2, CFUT_ETASK);
    CHECK_CONTAINS(cfut_map_error(m, &code), "a timeout of the task's own");
    CHECK_EQ(code, CFUT_ETIMEDOUT);
    NEXT_I64(m, 3, 6);
    CHECK(cfut_map_error(m, &code) == NULL);
    CHECK_EQ(code, 0);
    NEXT_END(m);
    cfut_map_close(m);
    code = -1;
    CHECK(cfut_map_error(NULL, &code) == NULL);
    CHECK_EQ(code, 0);
    CHECK(cfut_map_error(NULL, NULL) == NULL);

    /* A chunk refused as a whole: after shutdown, each item says why. */
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    m = start(ex, task_item, in, 2, sizeof(mitem), &o);
    NEXT_FAIL(m, 0, CFUT_ESHUTDOWN);
    CHECK(cfut_map_error(m, &code) != NULL);
    NEXT_FAIL(m, 1, CFUT_ESHUTDOWN);
    CHECK(cfut_map_error(m, &code) != NULL);
    NEXT_END(m);
    cfut_map_close(m);
    executor_free(ex);

    if (remote(b)) {
        ex = ex_new(b, 1);
        mitem crash[2] = {item(NULL, 0, OP_OK), item(NULL, 1, OP_CRASH)};
        m = start(ex, task_item, crash, 2, sizeof(mitem), &o);
        NEXT_FAIL(m, 0, CFUT_EWORKER);
        CHECK_CONTAINS(cfut_map_error(m, &code), "worker pid");
        NEXT_FAIL(m, 1, CFUT_EWORKER);
        CHECK_CONTAINS(cfut_map_error(m, &code), "signal 11");
        NEXT_END(m);
        cfut_map_close(m);
        executor_free(ex);
    }
}
ON_BOTH(map_errors)

/* task_timeout applies to a whole chunk. Threads: the item running when it
 * passes sees cfut_should_stop() and reports what it likes (here success);
 * the chunk's items after it report CFUT_EDEADLINE; the next chunk has its
 * own time. Processes: the worker is killed, the whole chunk reports
 * CFUT_EDEADLINE; the next chunk runs on a new worker. */
static void map_task_timeout(be b)
{
    executor_options eo;
    memset(&eo, 0, sizeof eo);
    eo.max_workers = 1;
    eo.task_timeout = 0.2 * th_scale();
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, b.kind, &eo), CFUT_OK);
    enum { N = 6 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(NULL, i, i == 0 ? OP_UNTIL_STOP : OP_OK);
    cfut_map_options o = {.chunksize = 3};
    int64_t out[N];
    int st[N];
    int rc = executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st, &o);
    CHECK_STATUS(rc, CFUT_EDEADLINE);
    CHECK_STATUS(st[0], remote(b) ? CFUT_EDEADLINE : CFUT_OK);
    CHECK_STATUS(st[1], CFUT_EDEADLINE);
    CHECK_STATUS(st[2], CFUT_EDEADLINE);
    for (int i = 3; i < N; i++) {
        CHECK_STATUS(st[i], CFUT_OK);
        CHECK_EQ(out[i], 2 * i);
    }
    executor_free(ex);
}
ON_BOTH(map_task_timeout)

/* ---- deadlines ------------------------------------------------------------------- */

/* Runs one trivial map so that the worker exists before a timed map. */
static void warm_up(executor_t *ex)
{
    int32_t x = 1, y = 0;
    CHECK_STATUS(executor_map(ex, task_inc, &x, 1, sizeof x, &y, sizeof y, NULL, NULL), CFUT_OK);
    CHECK_EQ(y, 2);
}

/* executor.py test_map_timeout: map(time.sleep, [0, 0, 6], timeout=5)
 * yields two results, then the deadline. Here on one worker, chunksize 1:
 * items 0 and 1 succeed, item 2 (running, held at its gate) reports
 * CFUT_ETIMEDOUT when the deadline passes, and the items queued behind it
 * are cancelled: CFUT_ECANCELLED, and they never run. executor_map returns
 * at the deadline, without waiting for the running item, with the first
 * failure (CFUT_ETIMEDOUT). Time is the subject: the deadline really
 * elapses. */
static void map_timeout(be b)
{
    executor_t *ex = ex_new(b, 1);
    warm_up(ex);
    size_t base = submitted(ex);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 6 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 2 ? OP_GATE_BOUNDED : OP_OK);
    double timeout = 0.3 * th_scale();
    cfut_map_options o = {.chunksize = 1, .timeout = timeout};
    int64_t out[N];
    int st[N];
    double t0 = th_now();
    int rc = executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st, &o);
    double took = th_now() - t0;
    CHECK_STATUS(rc, CFUT_ETIMEDOUT);
    CHECK_STATUS(st[0], CFUT_OK);
    CHECK_STATUS(st[1], CFUT_OK);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[1], 2);
    CHECK_STATUS(st[2], CFUT_ETIMEDOUT);
    for (int i = 3; i < N; i++)
        CHECK_STATUS(st[i], CFUT_ECANCELLED);
    CHECK(took >= timeout - 0.01);
    if (took > timeout + 2 * th_scale())
        th_fail(__FILE__, __LINE__, "executor_map took %.2f s with a %.2f s deadline", took,
                timeout);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    CHECK_EQ(xgate_drain(&g, ran, N), 3);
    CHECK(ran[0] && ran[1] && ran[2]);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, 3);
    CHECK_EQ(submitted(ex) - base, N);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_timeout)

/* The same through the lazy iterator (as CPython's): the two results, the
 * deadline on item 2 once it is known to be running, then the cancelled
 * rest, then the end, twice. */
static void map_timeout_lazy(be b)
{
    executor_t *ex = ex_new(b, 1);
    warm_up(ex);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 5 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 2 ? OP_GATE_BOUNDED : OP_OK);
    double timeout = 0.3 * th_scale();
    cfut_map_options o = {.chunksize = 1, .timeout = timeout};
    double t0 = th_now();
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    NEXT_I64(m, 0, 0);
    NEXT_I64(m, 1, 2);
    CHECK_EQ(xgate_started(&g), 0);
    CHECK_EQ(xgate_started(&g), 1);
    CHECK_EQ(xgate_started(&g), 2); /* item 2 is running */
    NEXT_FAIL(m, 2, CFUT_ETIMEDOUT);
    CHECK(th_now() - t0 >= timeout - 0.01);
    NEXT_FAIL(m, 3, CFUT_ECANCELLED);
    NEXT_FAIL(m, 4, CFUT_ECANCELLED);
    NEXT_END(m);
    NEXT_END(m);
    cfut_map_close(m);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    CHECK_EQ(xgate_drain(&g, ran, N), 0); /* 3 and 4 never ran */
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_timeout_lazy)

/* With a buffersize, items never submitted when the deadline passes are
 * reported CFUT_ECANCELLED too, and nothing more is submitted after it. */
static void map_timeout_buffersize(be b)
{
    executor_t *ex = ex_new(b, 1);
    warm_up(ex);
    size_t base = submitted(ex);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 10 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 0 ? OP_GATE_BOUNDED : OP_OK);
    double timeout = 0.2 * th_scale();
    cfut_map_options o = {.chunksize = 1, .buffersize = 4, .timeout = timeout};
    int64_t out[N];
    int st[N];
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st, &o),
                 CFUT_ETIMEDOUT);
    CHECK_STATUS(st[0], CFUT_ETIMEDOUT);
    for (int i = 1; i < N; i++)
        CHECK_STATUS(st[i], CFUT_ECANCELLED);
    CHECK_EQ(submitted(ex) - base, 4);
    CHECK_EQ(stats(ex).cancelled, 3);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    CHECK_EQ(xgate_drain(&g, ran, N), 1);
    CHECK(ran[0]);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_timeout_buffersize)

/* An unordered map past its deadline: the finished items as they ended,
 * the running one CFUT_ETIMEDOUT, the queued ones CFUT_ECANCELLED. */
static void map_timeout_unordered(be b)
{
    executor_t *ex = ex_new(b, 1);
    warm_up(ex);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 4 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 1 ? OP_GATE_BOUNDED : OP_OK);
    cfut_map_options o = {.chunksize = 1, .timeout = 0.2 * th_scale(), .unordered = true};
    int64_t out[N];
    int st[N];
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, sizeof *out, st, &o),
                 CFUT_ETIMEDOUT);
    CHECK_STATUS(st[0], CFUT_OK);
    CHECK_STATUS(st[1], CFUT_ETIMEDOUT);
    /* Queued when the deadline passed: cancelled. The first item yielded
     * after the deadline is "the item waited on" and may say so instead. */
    for (int i = 2; i < N; i++)
        CHECK(st[i] == CFUT_ECANCELLED || st[i] == CFUT_ETIMEDOUT);
    CHECK(st[2] == CFUT_ECANCELLED || st[3] == CFUT_ECANCELLED);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    CHECK_EQ(xgate_drain(&g, ran, N), 2);
    CHECK(ran[0] && ran[1]); /* 2 and 3 never ran */
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_timeout_unordered)

/* The item waited on when the deadline passes reports CFUT_ETIMEDOUT even
 * if it never started (here it is queued behind a task that holds the only
 * worker); it never runs; the later ones are CFUT_ECANCELLED. cfut_map_error
 * says which it was. */
static void map_timeout_waited_not_started(be b)
{
    executor_t *ex = ex_new(b, 1);
    th_xgate g;
    th_xgate_init(&g, "map");
    mitem hold = item(&g, 99, OP_GATE);
    future_t *busy = executor_submit(ex, task_item, &hold, sizeof hold);
    CHECK_EQ(xgate_started(&g), 99);
    enum { N = 3 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, OP_OK);
    cfut_map_options o = {.chunksize = 1, .timeout = 0.2 * th_scale()};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    NEXT_FAIL(m, 0, CFUT_ETIMEDOUT);
    int code = -1;
    CHECK_CONTAINS(cfut_map_error(m, &code), "timeout");
    CHECK_EQ(code, 0);
    NEXT_FAIL(m, 1, CFUT_ECANCELLED);
    CHECK(cfut_map_error(m, NULL) != NULL);
    NEXT_FAIL(m, 2, CFUT_ECANCELLED);
    NEXT_END(m);
    CHECK(cfut_map_error(m, &code) == NULL);
    CHECK_EQ(code, 0);
    cfut_map_close(m);
    th_xgate_open(&g, 1);
    CHECK_STATUS(future_wait(busy, TH_LONG_WAIT), CFUT_OK);
    future_release(busy);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[100] = {false};
    CHECK_EQ(xgate_drain(&g, ran, 100), 0); /* no map item ever ran */
    CHECK_EQ(stats(ex).cancelled, N);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_timeout_waited_not_started)

/* ---- close ---------------------------------------------------------------------- */

typedef struct closer {
    cfut_map *m;
    th_gate closed;
} closer;

static void close_thread(void *p)
{
    closer *c = p;
    cfut_map_close(c->m);
    th_gate_open(&c->closed, 1);
}

/* Closes m on another thread and fails if that blocks (map.h: "does not
 * block"), instead of hanging the case. */
static void close_promptly(cfut_map *m)
{
    closer c = {.m = m};
    th_gate_init(&c.closed);
    th_thread *t = th_spawn(close_thread, &c);
    if (!th_gate_timedwait(&c.closed, TH_LONG_WAIT))
        th_fail(__FILE__, __LINE__, "cfut_map_close blocked while a chunk was running");
    th_join(t);
    th_gate_destroy(&c.closed);
}

/* executor.py test_map_close: after one result, close() ends the map.
 * Here: one worker, chunksize 1; item 1 is running (held), items 2..5
 * queued. cfut_map_close returns at once (it does not wait for item 1),
 * cancels the queued items, which never run; item 1 finishes in the
 * background, its result dropped; the executor goes on working. */
static void map_close(be b)
{
    executor_t *ex = ex_new(b, 1);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 6 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 1 ? OP_GATE : OP_OK);
    cfut_map_options o = {.chunksize = 1};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    NEXT_I64(m, 0, 0);
    CHECK_EQ(xgate_started(&g), 0);
    CHECK_EQ(xgate_started(&g), 1);
    close_promptly(m);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, N - 2);
    CHECK_EQ(s.running, 1); /* item 1, still held */
    th_xgate_open(&g, 1);
    int32_t x = 1, y = 0; /* the executor goes on working */
    CHECK_STATUS(executor_map(ex, task_inc, &x, 1, 4, &y, 4, NULL, NULL), CFUT_OK);
    CHECK_EQ(y, 2);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    CHECK_EQ(xgate_drain(&g, ran, N), 0); /* nothing after item 1 ran */
    s = stats(ex);
    CHECK_EQ(s.cancelled, N - 2);
    CHECK_EQ(s.completed, 3);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_close)

/* The same with chunksize 3 (CPython's second half): items 0..2 are one
 * chunk, running while item 1 is held; closing cancels the queued chunk
 * (items 3..5 never run) and leaves the running one to finish in the
 * background (thread pools also ask it to stop, so its item 2 may be
 * skipped; process pools run it: "chunks already running finish"). */
static void map_close_chunked(be b)
{
    executor_t *ex = ex_new(b, 1);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 6 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 1 ? OP_GATE : OP_OK);
    cfut_map_options o = {.chunksize = 3};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    CHECK_EQ(xgate_started(&g), 0);
    CHECK_EQ(xgate_started(&g), 1);
    close_promptly(m);
    CHECK_EQ(stats(ex).cancelled, 1);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[N] = {false};
    xgate_drain(&g, ran, N);
    CHECK(!ran[3] && !ran[4] && !ran[5]);
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, 1);
    CHECK_EQ(s.completed + s.failed, 1);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_close_chunked)

/* Closing with results not yet consumed, chunks done, running and queued,
 * and without a single next: nothing leaks (valgrind), nothing blocks. */
static void map_close_leaks_nothing(be b)
{
    executor_t *ex = ex_new(b, 2);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 40 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(i == 9 ? &g : NULL, i, i == 9 ? OP_GATE : OP_OK);
    cfut_map_options o = {.chunksize = 4};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    for (int i = 0; i < 3; i++)
        NEXT_I64(m, (size_t)i, 2 * i);
    CHECK_EQ(xgate_started(&g), 9);
    close_promptly(m);
    m = start(ex, task_item, in, 8, sizeof(mitem), &o); /* never iterated */
    cfut_map_close(m);
    th_xgate_open(&g, 1);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(map_close_leaks_nothing)

/* ---- order ----------------------------------------------------------------------- */

/* Ordered: results in input order even when later items finish first
 * (item 0 is held until every other item has started). */
static void input_order(be b)
{
    executor_t *ex = ex_new(b, 2);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 8 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(&g, i, i == 0 ? OP_GATE : OP_OK);
    cfut_map_options o = {.chunksize = 1};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    for (int k = 0; k < N; k++)
        xgate_started(&g);
    th_xgate_open(&g, 1);
    for (int i = 0; i < N; i++)
        NEXT_I64(m, (size_t)i, 2 * i);
    NEXT_END(m);
    cfut_map_close(m);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(input_order)

/* Unordered: items come as they complete: with item 0 held, the seven
 * others come first; then item 0 once let go; each index exactly once. */
static void unordered_gated(be b)
{
    executor_t *ex = ex_new(b, 2);
    th_xgate g;
    th_xgate_init(&g, "map");
    enum { N = 8 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(i == 0 ? &g : NULL, i, i == 0 ? OP_GATE : OP_OK);
    cfut_map_options o = {.chunksize = 1, .unordered = true};
    cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
    CHECK_EQ(xgate_started(&g), 0);
    bool seen[N] = {false};
    for (int k = 0; k < N - 1; k++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK(idx >= 1 && idx < N && !seen[idx]);
        seen[idx] = true;
        int64_t v;
        CHECK_EQ(len, 8);
        memcpy(&v, data, 8);
        CHECK_EQ(v, 2 * (int64_t)idx);
    }
    th_xgate_open(&g, 1);
    NEXT_I64(m, 0, 0);
    NEXT_END(m);
    cfut_map_close(m);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(unordered_gated)

/* Unordered over many items and chunk sizes: each index exactly once,
 * failures included, with the right result or status. */
static void unordered_each_once(be b)
{
    executor_t *ex = ex_new(b, 3);
    enum { N = 1000 };
    mitem *in = malloc(N * sizeof *in);
    CHECK(in != NULL);
    for (int i = 0; i < N; i++)
        in[i] = item(NULL, i, i % 97 == 5 ? OP_FAIL : OP_OK);
    static const size_t sizes[] = {1, 7, 1000, 0};
    for (size_t k = 0; k < 4; k++) {
        cfut_map_options o = {.chunksize = sizes[k], .unordered = true};
        cfut_map *m = start(ex, task_item, in, N, sizeof(mitem), &o);
        static int count[N];
        memset(count, 0, sizeof count);
        for (;;) {
            size_t idx;
            int st = next_any(m, &idx);
            if (idx == SIZE_MAX) {
                CHECK_STATUS(st, CFUT_OK);
                break;
            }
            CHECK(idx < N);
            count[idx]++;
            CHECK_STATUS(st, idx % 97 == 5 ? CFUT_ETASK : CFUT_OK);
        }
        for (int i = 0; i < N; i++)
            if (count[i] != 1)
                th_fail(__FILE__, __LINE__, "chunksize %zu: index %d yielded %d times",
                        sizes[k], i, count[i]);
        cfut_map_close(m);
        int64_t out[N];
        int st[N];
        CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, 8, st, &o),
                     CFUT_ETASK);
        for (int i = 0; i < N; i++) {
            CHECK_STATUS(st[i], i % 97 == 5 ? CFUT_ETASK : CFUT_OK);
            if (st[i] == CFUT_OK)
                CHECK_EQ(out[i], 2 * i);
        }
    }
    free(in);
    executor_free(ex);
}
ON_BOTH(unordered_each_once)

/* ---- buffersize ------------------------------------------------------------------- */

/* executor.py test_map_buffersize: map(str, range(4), buffersize=b) for b
 * in 1, 2, 4, 8 gives "0".."3". (test_map_buffersize_value_validation: in
 * C, buffersize 0 means no bound, so it is checked to work too.) */
static void buffersize_results(be b)
{
    executor_t *ex = ex_new(b, 2);
    int64_t ints[4] = {0, 1, 2, 3};
    static const size_t bs[] = {1, 2, 4, 8, 0, SIZE_MAX};
    for (size_t k = 0; k < sizeof bs / sizeof bs[0]; k++) {
        cfut_map_options o = {.buffersize = bs[k]};
        cfut_map *m = start(ex, task_str, ints, 4, sizeof ints[0], &o);
        for (size_t i = 0; i < 4; i++) {
            size_t idx;
            const void *data;
            size_t len;
            CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
            CHECK_EQ(idx, i);
            CHECK_EQ(len, 1);
            CHECK_EQ(*(const char *)data, (char)('0' + i));
        }
        NEXT_END(m);
        cfut_map_close(m);
    }
    executor_free(ex);
}
ON_BOTH(buffersize_results)

/* executor.py test_map_buffersize_on_multiple_iterables: map(add, ints,
 * ints, buffersize=b) gives [0, 2, 4, 6]; with executor_map_call, two input
 * arrays, and with a task over pairs. */
static void buffersize_multiple_inputs(be b)
{
    executor_t *ex = ex_new(b, 2);
    int64_t ints[4] = {0, 1, 2, 3};
    pair pairs[4] = {{0, 0}, {1, 1}, {2, 2}, {3, 3}};
    static const size_t bs[] = {1, 2, 4, 8};
    for (size_t k = 0; k < 4; k++) {
        cfut_map_options o = {.buffersize = bs[k]};
        int64_t out[4] = {-1, -1, -1, -1};
        const void *in[2] = {ints, ints};
        CHECK_STATUS(executor_map_call(ex, (cfut_fn)c_add, "q:qq", 4, out, in, NULL, &o),
                     CFUT_OK);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(out[i], 2 * i);
        memset(out, 0xff, sizeof out);
        CHECK_STATUS(executor_map(ex, task_add, pairs, 4, sizeof(pair), out, 8, NULL, &o),
                     CFUT_OK);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(out[i], 2 * i);
    }
    executor_free(ex);
}
ON_BOTH(buffersize_multiple_inputs)

/* A pull source counting how many items it has produced. `limit` < 0:
 * never ends (itertools.count()). */
typedef struct counter {
    int64_t next, limit;
    int calls;
    pthread_t consumer;
    bool wrong_thread;
} counter;

static bool count_source(void *item, void *user)
{
    counter *c = user;
    if (!pthread_equal(pthread_self(), c->consumer))
        c->wrong_thread = true;
    c->calls++;
    if (c->limit >= 0 && c->next >= c->limit)
        return false;
    int64_t v = c->next++;
    memcpy(item, &v, sizeof v);
    return true;
}

static bool pair_source(void *item, void *user)
{
    counter *c = user;
    c->calls++;
    pair p = {c->next, c->next};
    c->next++;
    memcpy(item, &p, sizeof p);
    return true;
}

static cfut_map *pull(executor_t *ex, cfut_task_fn fn, cfut_map_source src, counter *c,
                      size_t item_size, const cfut_map_options *o)
{
    c->consumer = pthread_self();
    cfut_map *m = executor_map_pull(ex, fn, src, c, item_size, o);
    CHECK(m != NULL);
    return m;
}

/* executor.py test_map_buffersize_on_infinite_iterable and
 * _on_multiple_infinite_iterables: map(str, itertools.count(),
 * buffersize=2) yields "0", "1", "2"; only buffersize items are pulled
 * ahead; closing stops the stream. */
static void buffersize_infinite(be b)
{
    executor_t *ex = ex_new(b, 2);
    counter c = {.limit = -1};
    cfut_map_options o = {.buffersize = 2};
    cfut_map *m = pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    CHECK_EQ(c.next, 2);
    for (int i = 0; i < 3; i++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK_EQ(idx, (size_t)i);
        CHECK(len == 1 && *(const char *)data == '0' + i);
        CHECK_EQ(c.next, i + 3); /* one more pulled as each is consumed */
    }
    cfut_map_close(m);
    CHECK(!c.wrong_thread);

    counter p = {.limit = -1};
    m = pull(ex, task_add, pair_source, &p, sizeof(pair), &o);
    NEXT_I64(m, 0, 0);
    NEXT_I64(m, 1, 2);
    NEXT_I64(m, 2, 4);
    CHECK_EQ(p.next, 5);
    cfut_map_close(m);
    executor_free(ex);
}
ON_BOTH(buffersize_infinite)

/* executor.py test_map_buffersize_on_empty_iterable and
 * _without_iterable: nothing to map ends at once, also for a source that
 * has nothing; nothing is submitted. */
static void buffersize_empty(be b)
{
    executor_t *ex = ex_new(b, 2);
    cfut_map_options o = {.buffersize = 2};
    int64_t none[1] = {0};
    cfut_map *m = start(ex, task_str, none, 0, sizeof none[0], &o);
    NEXT_END(m);
    NEXT_END(m);
    cfut_map_close(m);
    m = start(ex, task_str, NULL, 0, sizeof none[0], &o);
    NEXT_END(m);
    cfut_map_close(m);
    counter c = {.limit = 0};
    m = pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    NEXT_END(m);
    NEXT_END(m);
    cfut_map_close(m);
    CHECK_EQ(c.next, 0);
    CHECK_EQ(submitted(ex), 0);
    CHECK_EQ(stats(ex).workers_started, 0);
    executor_free(ex);
}
ON_BOTH(buffersize_empty)

/* executor.py test_map_buffersize_when_buffer_is_full: with buffersize 2
 * over 4 items, only 2 are taken from the input before anything is
 * consumed, even once the executor is shut down and every submitted task
 * has run. */
static void buffersize_when_full(be b)
{
    executor_t *ex = ex_new(b, 2);
    counter c = {.limit = 4};
    cfut_map_options o = {.chunksize = 1, .buffersize = 2};
    cfut_map *m = pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    CHECK_EQ(c.next, 2);
    CHECK_EQ(stats(ex).completed, 2); /* two tasks of one item */
    cfut_map_close(m);
    CHECK_EQ(c.next, 2);
    executor_free(ex);
}
ON_BOTH(buffersize_when_full)

/* map.h: with buffersize b, exactly min(b, n) items are submitted before
 * the first cfut_map_next and one more after each item is consumed, counted
 * as tasks (chunksize 1) in executor_get_stats. One worker; every item is
 * held at its gate and let go one at a time, so the counts cannot move
 * under the check. Also counted through a pull source, with chunks of 3. */
static void buffersize_exact(be b)
{
    static const struct {
        size_t n, b;
        bool unordered;
    } cases[] = {{6, 3, false}, {4, 10, false}, {5, 1, false}, {6, 2, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        executor_t *ex = ex_new(b, 1);
        th_xgate g;
        th_xgate_init(&g, "map");
        size_t n = cases[k].n, bs = cases[k].b;
        mitem in[10];
        for (size_t i = 0; i < n; i++)
            in[i] = item(&g, (int)i, OP_GATE);
        cfut_map_options o = {.chunksize = 1, .buffersize = bs, .unordered = cases[k].unordered};
        cfut_map *m = start(ex, task_item, in, n, sizeof(mitem), &o);
        CHECK_EQ(submitted(ex), bs < n ? bs : n);
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ(xgate_started(&g), (int)i);
            CHECK_EQ(submitted(ex), bs + i < n ? bs + i : n); /* still */
            th_xgate_open(&g, 1);
            NEXT_I64(m, i, 2 * (int64_t)i);
            size_t want = bs + i + 1 < n ? bs + i + 1 : n;
            if (submitted(ex) != want)
                th_fail(__FILE__, __LINE__, "n %zu b %zu: after item %zu, %zu submitted, want %zu",
                        n, bs, i, submitted(ex), want);
            CHECK_EQ(stats(ex).completed, i + 1);
        }
        NEXT_END(m);
        cfut_map_close(m);
        executor_free(ex);
        th_xgate_free(&g);
    }

    /* Pulled items, with chunks of 3 and a window of 5 over 20 items. */
    executor_t *ex = ex_new(b, 2);
    counter c = {.limit = 20};
    cfut_map_options o = {.chunksize = 3, .buffersize = 5};
    cfut_map *m = pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    CHECK_EQ(c.next, 5);
    for (int i = 0; i < 20; i++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK_EQ(idx, (size_t)i);
        CHECK_EQ(c.next, 5 + i + 1 < 20 ? 5 + i + 1 : 20);
    }
    NEXT_END(m);
    cfut_map_close(m);
    CHECK(!c.wrong_thread);
    executor_free(ex);
}
ON_BOTH(buffersize_exact)

/* executor.py test_shutdown_race_issue12456: map over workers + 1 items,
 * then shut down: what was submitted still runs. Items a window had not
 * submitted yet cannot be any more: CFUT_ESHUTDOWN, each at its index. */
static void shutdown_during_map(be b)
{
    executor_t *ex = ex_new(b, 2);
    int64_t ints[3] = {5, 6, 7};
    cfut_map *m = start(ex, task_str, ints, 3, sizeof ints[0], NULL);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    for (size_t i = 0; i < 3; i++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK(idx == i && len == 1 && *(const char *)data == (char)('5' + i));
    }
    NEXT_END(m);
    cfut_map_close(m);
    executor_free(ex);

    ex = ex_new(b, 2);
    cfut_map_options o = {.buffersize = 1};
    m = start(ex, task_str, ints, 3, sizeof ints[0], &o);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    size_t idx;
    const void *data;
    size_t len;
    CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
    CHECK(idx == 0 && len == 1 && *(const char *)data == '5');
    NEXT_FAIL(m, 1, CFUT_ESHUTDOWN);
    NEXT_FAIL(m, 2, CFUT_ESHUTDOWN);
    NEXT_END(m);
    cfut_map_close(m);
    int st[3];
    char out[3];
    CHECK_STATUS(executor_map(ex, task_str, ints, 3, sizeof ints[0], out, 1, st, NULL),
                 CFUT_ESHUTDOWN);
    for (int i = 0; i < 3; i++)
        CHECK_STATUS(st[i], CFUT_ESHUTDOWN);
    executor_free(ex);
}
ON_BOTH(shutdown_during_map)

/* ---- progress ------------------------------------------------------------------- */

typedef struct progress_log {
    pthread_t consumer;
    bool wrong_thread, backwards;
    size_t calls, last_done, last_total;
    double times[4096];
    size_t dones[4096], totals[4096];
} progress_log;

static void on_progress(size_t done, size_t total, void *user)
{
    progress_log *p = user;
    if (!pthread_equal(pthread_self(), p->consumer))
        p->wrong_thread = true;
    if (p->calls && done < p->last_done)
        p->backwards = true;
    if (p->calls < 4096) {
        p->times[p->calls] = th_now();
        p->dones[p->calls] = done;
        p->totals[p->calls] = total;
    }
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* Checks the log of a finished map of n items that took `took` seconds:
 * every call on the consumer, done never going back, at most one call per
 * 50 ms but the final one, which says done == total == n. */
static void check_progress(const progress_log *p, size_t n, double took, bool total_known)
{
    CHECK(!p->wrong_thread);
    CHECK(!p->backwards);
    CHECK(p->calls >= 1 && p->calls <= 4096);
    CHECK_EQ(p->last_done, n);
    CHECK_EQ(p->last_total, n);
    for (size_t k = 0; k < p->calls; k++) {
        CHECK(p->dones[k] <= n);
        if (total_known)
            CHECK_EQ(p->totals[k], n);
        else /* 0 (unknown) until the source has ended, then n */
            CHECK(p->totals[k] == 0 ? k == 0 || p->totals[k - 1] == 0 : p->totals[k] == n);
    }
    /* Bounded rate: the non-final calls are 50 ms apart. */
    for (size_t k = 1; k + 1 < p->calls; k++)
        if (p->times[k] - p->times[k - 1] < 0.045)
            th_fail(__FILE__, __LINE__, "progress calls %zu and %zu only %.1f ms apart", k - 1,
                    k, (p->times[k] - p->times[k - 1]) * 1000);
    if ((double)p->calls > took / 0.05 + 2)
        th_fail(__FILE__, __LINE__, "%zu progress calls in %.2f s", p->calls, took);
    if (p->calls >= n / 10 + 2)
        th_fail(__FILE__, __LINE__, "%zu progress calls for %zu items", p->calls, n);
}

/* The progress callback of a fast 100k-item map: called on the consuming
 * thread, at a bounded rate, last with done == total. */
static void progress_eager(be b)
{
    executor_t *ex = ex_new(b, 0);
    enum { N = 100000 };
    int32_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    CHECK(in && out);
    for (int i = 0; i < N; i++)
        in[i] = i;
    static progress_log p;
    memset(&p, 0, sizeof p);
    p.consumer = pthread_self();
    cfut_map_options o = {.progress = on_progress, .progress_user = &p};
    double t0 = th_now();
    CHECK_STATUS(executor_map(ex, task_inc, in, N, sizeof *in, out, sizeof *out, NULL, &o),
                 CFUT_OK);
    double took = th_now() - t0;
    for (int i = 0; i < N; i++)
        CHECK_EQ(out[i], i + 1);
    check_progress(&p, N, took, true);
    free(in);
    free(out);
    executor_free(ex);
}
ON_BOTH(progress_eager)

typedef struct lazy_consumer {
    cfut_map *m;
    progress_log *p;
    size_t count;
    double took;
    bool again;                       /* ask once more past the end */
    size_t calls_at_end, calls_after; /* progress calls at the end, and after
                                         asking again */
} lazy_consumer;

static void consume_all(void *arg)
{
    lazy_consumer *lc = arg;
    lc->p->consumer = pthread_self();
    double t0 = th_now();
    for (;;) {
        size_t idx;
        const void *data;
        size_t len;
        if (cfut_map_next(lc->m, &idx, &data, &len) != CFUT_OK || idx == SIZE_MAX)
            break;
        lc->count++;
    }
    lc->took = th_now() - t0;
    lc->calls_at_end = lc->p->calls;
    if (lc->again) {
        size_t idx;
        cfut_map_next(lc->m, &idx, NULL, NULL); /* the end again */
    }
    lc->calls_after = lc->p->calls;
}

/* Lazy maps: the progress callback runs on the thread that calls
 * cfut_map_next (not the one that started the map, nor a worker or the
 * manager thread); for a pull source the total is 0 until the source ends. */
static void progress_lazy(be b)
{
    executor_t *ex = ex_new(b, 2);
    enum { N = 3000 };
    static int32_t in[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    static progress_log p;
    memset(&p, 0, sizeof p);
    p.consumer = pthread_self(); /* replaced by the consumer's */
    cfut_map_options o = {.chunksize = 7, .progress = on_progress, .progress_user = &p};
    lazy_consumer lc = {.m = start(ex, task_inc, in, N, sizeof in[0], &o), .p = &p};
    th_thread *t = th_spawn(consume_all, &lc);
    th_join(t);
    CHECK_EQ(lc.count, N);
    cfut_map_close(lc.m);
    check_progress(&p, N, lc.took, true);

    /* An array with a window: its total is known from the start. */
    memset(&p, 0, sizeof p);
    o.buffersize = 64;
    lc = (lazy_consumer){.m = start(ex, task_inc, in, N, sizeof in[0], &o), .p = &p};
    t = th_spawn(consume_all, &lc);
    th_join(t);
    CHECK_EQ(lc.count, N);
    cfut_map_close(lc.m);
    check_progress(&p, N, lc.took, true);

    memset(&p, 0, sizeof p);
    counter c = {.limit = N};
    o.buffersize = 100;
    lc = (lazy_consumer){.p = &p};
    c.consumer = pthread_self();
    /* The source is called on the consuming thread too: started here, the
     * first window is pulled here; the rest by the consumer. */
    lc.m = executor_map_pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    CHECK(lc.m != NULL);
    t = th_spawn(consume_all, &lc);
    th_join(t);
    CHECK_EQ(lc.count, N);
    cfut_map_close(lc.m);
    check_progress(&p, N, lc.took, false);
    executor_free(ex);
}
ON_BOTH(progress_lazy)

/* map.h: progress is called "once at the end": asking cfut_map_next again
 * past the end (as NEXT_END twice does, and as CPython's
 * StopIteration-twice tests do) does not report the end again. */
static void progress_once_at_end(be b)
{
    executor_t *ex = ex_new(b, 2);
    static int32_t in[20];
    static progress_log p;
    memset(&p, 0, sizeof p);
    cfut_map_options o = {.progress = on_progress, .progress_user = &p};
    lazy_consumer lc = {.m = start(ex, task_inc, in, 20, sizeof in[0], &o), .p = &p,
                        .again = true};
    th_thread *t = th_spawn(consume_all, &lc);
    th_join(t);
    cfut_map_close(lc.m);
    CHECK_EQ(lc.count, 20);
    CHECK_EQ(p.dones[lc.calls_at_end - 1], 20);
    if (lc.calls_after != lc.calls_at_end)
        th_fail(__FILE__, __LINE__, "cfut_map_next past the end called progress again "
                "(%zu calls at the end, %zu after)", lc.calls_at_end, lc.calls_after);
    executor_free(ex);
}
ON_BOTH(progress_once_at_end)

/* ---- pull sources ------------------------------------------------------------------- */

/* executor_map_pull over a finite source: every item, in order, and the
 * source is not called again once it said it was done. Over an infinite
 * source with a window: close stops it after what was consumed. */
static void pull_sources(be b)
{
    executor_t *ex = ex_new(b, 2);
    counter c = {.limit = 1000};
    cfut_map_options o = {.chunksize = 16};
    cfut_map *m = pull(ex, task_str, count_source, &c, sizeof(int64_t), &o);
    for (size_t i = 0; i < 1000; i++) {
        size_t idx;
        const void *data;
        size_t len;
        CHECK_STATUS(cfut_map_next(m, &idx, &data, &len), CFUT_OK);
        CHECK_EQ(idx, i);
        char want[16];
        int wl = snprintf(want, sizeof want, "%zu", i);
        CHECK(len == (size_t)wl && memcmp(data, want, len) == 0);
    }
    NEXT_END(m);
    NEXT_END(m);
    int calls = c.calls;
    CHECK_EQ(calls, 1001); /* 1000 items and the "no more" */
    cfut_map_close(m);
    CHECK_EQ(c.calls, calls);
    CHECK(!c.wrong_thread);

    counter inf = {.limit = -1};
    o.buffersize = 8;
    m = pull(ex, task_str, count_source, &inf, sizeof(int64_t), &o);
    for (size_t i = 0; i < 50; i++) {
        size_t idx;
        CHECK_STATUS(next_any(m, &idx), CFUT_OK);
        CHECK_EQ(idx, i);
    }
    CHECK_EQ(inf.next, 58);
    cfut_map_close(m);
    CHECK_EQ(inf.next, 58);
    executor_free(ex);
}
ON_BOTH(pull_sources)

/* A stream past its deadline: the running item reports CFUT_ETIMEDOUT,
 * the rest of the window CFUT_ECANCELLED, then the map ends and the source
 * is not asked for more. */
typedef struct gated_stream {
    const th_xgate *g;
    int next;
    pthread_t consumer;
    bool wrong_thread;
} gated_stream;

static bool gated_source(void *out, void *user)
{
    gated_stream *gs = user;
    if (!pthread_equal(pthread_self(), gs->consumer))
        gs->wrong_thread = true;
    mitem it = item(gs->g, gs->next, gs->next == 0 ? OP_GATE_BOUNDED : OP_OK);
    gs->next++;
    memcpy(out, &it, sizeof it);
    return true;
}

static void pull_timeout(be b)
{
    executor_t *ex = ex_new(b, 1);
    warm_up(ex);
    th_xgate g;
    th_xgate_init(&g, "map");
    gated_stream gs = {.g = &g, .consumer = pthread_self()};
    cfut_map_options o = {.chunksize = 1, .buffersize = 3, .timeout = 0.2 * th_scale()};
    cfut_map *m = executor_map_pull(ex, task_item, gated_source, &gs, sizeof(mitem), &o);
    CHECK(m != NULL);
    CHECK_EQ(gs.next, 3);
    NEXT_FAIL(m, 0, CFUT_ETIMEDOUT);
    NEXT_FAIL(m, 1, CFUT_ECANCELLED);
    NEXT_FAIL(m, 2, CFUT_ECANCELLED);
    NEXT_END(m);
    NEXT_END(m);
    CHECK_EQ(gs.next, 3); /* nothing pulled after the deadline */
    CHECK(!gs.wrong_thread);
    cfut_map_close(m);
    th_xgate_open(&g, 1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    bool ran[3] = {false};
    CHECK_EQ(xgate_drain(&g, ran, 3), 1);
    CHECK(ran[0]);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(pull_timeout)

/* Large items and results (chunks of megabytes, which cross to worker
 * processes through shared memory): every byte arrives and comes back. */
enum { BIG = 200 * 1024 };

static int task_big(cfut_task *t, const void *arg, size_t len)
{
    if (len != BIG)
        return cfut_fail(t, 1000, "task_big: %zu-byte argument", len);
    /* The result: the item reversed. */
    unsigned char *r = malloc(BIG);
    if (!r)
        return cfut_fail(t, 1001, "no memory");
    const unsigned char *a = arg;
    for (size_t i = 0; i < BIG; i++)
        r[i] = a[BIG - 1 - i];
    int rc = cfut_return(t, r, BIG);
    free(r);
    return rc;
}

static void large_values(be b)
{
    executor_t *ex = ex_new(b, 2);
    enum { N = 12 };
    unsigned char *in = malloc((size_t)N * BIG), *out = malloc((size_t)N * BIG);
    CHECK(in && out);
    for (size_t i = 0; i < (size_t)N * BIG; i++)
        in[i] = (unsigned char)(i * 31 + (i >> 13));
    int st[N];
    static const size_t sizes[] = {1, 5, 0};
    for (size_t k = 0; k < 3; k++) {
        memset(out, 0, (size_t)N * BIG);
        cfut_map_options o = {.chunksize = sizes[k], .buffersize = k == 1 ? 7 : 0};
        CHECK_STATUS(executor_map(ex, task_big, in, N, BIG, out, BIG, st, &o), CFUT_OK);
        for (size_t i = 0; i < N; i++) {
            CHECK_STATUS(st[i], CFUT_OK);
            const unsigned char *a = in + i * BIG, *r = out + i * BIG;
            for (size_t j = 0; j < BIG; j++)
                if (r[j] != a[BIG - 1 - j])
                    th_fail(__FILE__, __LINE__, "chunksize %zu item %zu byte %zu differs",
                            sizes[k], i, j);
        }
    }
    free(in);
    free(out);
    executor_free(ex);
}
ON_BOTH(large_values)

/* ---- executor_map_call --------------------------------------------------------- */

static cfut_fn sym(void *handle, const char *name)
{
    return as_fn(dlsym(handle, name));
}

/* sqrt over a million doubles (libm, a shared library), values checked bit
 * for bit against sqrt called here; statuses all CFUT_OK. */
static void map_call_sqrt(be b)
{
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (!libm)
        th_skip("no libm.so.6");
    double (*msqrt)(double) = (double (*)(double))sym(libm, "sqrt");
    CHECK(msqrt != NULL);
    executor_t *ex = ex_new(b, 0);
    enum { N = 1000000 };
    double *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    int *st = malloc(N * sizeof *st);
    CHECK(in && out && st);
    for (int i = 0; i < N; i++)
        in[i] = (double)i * 0.75 + 0.125;
    memset(out, 0xff, N * sizeof *out);
    const void *arrays[1] = {in};
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)msqrt, "d:d", N, out, arrays, st, NULL), CFUT_OK);
    for (int i = 0; i < N; i++) {
        double w = msqrt(in[i]);
        if (st[i] != CFUT_OK || memcmp(&w, &out[i], sizeof w) != 0)
            th_fail(__FILE__, __LINE__, "item %d: %s, sqrt(%g) = %.17g, want %.17g", i,
                    cfut_status_name(st[i]), in[i], out[i], w);
    }
    free(in);
    free(out);
    free(st);
    executor_free(ex);
    dlclose(libm);
}
ON_BOTH(map_call_sqrt)

/* pow over two input arrays (libm), with a window and chunks. */
static void map_call_pow(be b)
{
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (!libm)
        th_skip("no libm.so.6");
    double (*mpow)(double, double) = (double (*)(double, double))sym(libm, "pow");
    CHECK(mpow != NULL);
    executor_t *ex = ex_new(b, 2);
    enum { N = 5000 };
    static double x[N], y[N], out[N];
    for (int i = 0; i < N; i++) {
        x[i] = 1 + i % 7;
        y[i] = (double)(i % 11) - 5.5;
    }
    const void *arrays[2] = {x, y};
    cfut_map_options o = {.chunksize = 100, .buffersize = 1000};
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)mpow, "d:dd", N, out, arrays, NULL, &o), CFUT_OK);
    for (int i = 0; i < N; i++) {
        double w = mpow(x[i], y[i]);
        CHECK(memcmp(&w, &out[i], sizeof w) == 0);
    }
    executor_free(ex);
    dlclose(libm);
}
ON_BOTH(map_call_pow)

/* Every scalar code as argument and packed return array: extremes come
 * back bit for bit (narrow types packed at their own size). */
static void map_call_types(be b)
{
    executor_t *ex = ex_new(b, 2);
    struct {
        const char *sig;
        cfut_fn fn;
        size_t size;
        unsigned char vals[4][8];
    } t[13];
    size_t nt = 0;
#define TYPE4(code, type, fnp, a, b_, c, d)                                    \
    do {                                                                       \
        type v_[4] = {a, b_, c, d};                                            \
        t[nt].sig = code ":" code;                                             \
        t[nt].fn = (cfut_fn)fnp;                                               \
        t[nt].size = sizeof(type);                                             \
        for (int k_ = 0; k_ < 4; k_++)                                         \
            memcpy(t[nt].vals[k_], &v_[k_], sizeof(type));                     \
        nt++;                                                                  \
    } while (0)
    TYPE4("c", signed char, id_c, SCHAR_MIN, SCHAR_MAX, -1, 0);
    TYPE4("C", unsigned char, id_C, 0, UCHAR_MAX, 0x80, 1);
    TYPE4("h", short, id_h, SHRT_MIN, SHRT_MAX, -1, 0);
    TYPE4("H", unsigned short, id_H, 0, USHRT_MAX, 0x8000, 1);
    TYPE4("i", int, id_i, INT_MIN, INT_MAX, -1, 0);
    TYPE4("I", unsigned, id_I, 0, UINT_MAX, 0x80000000u, 1);
    TYPE4("l", long, id_l, LONG_MIN, LONG_MAX, -1, 0);
    TYPE4("L", unsigned long, id_L, 0, ULONG_MAX, 1ul << 63, 1);
    TYPE4("q", int64_t, id_q, INT64_MIN, INT64_MAX, -1, 0);
    TYPE4("Q", uint64_t, id_Q, 0, UINT64_MAX, 1ull << 63, 1);
    TYPE4("z", size_t, id_z, 0, SIZE_MAX, SIZE_MAX / 2 + 1, 1);
    TYPE4("f", float, id_f, FLT_MAX, -FLT_TRUE_MIN, -0.0f, (float)INFINITY);
    TYPE4("d", double, id_d, -DBL_MAX, DBL_TRUE_MIN, -0.0, -INFINITY);
#undef TYPE4
    for (size_t k = 0; k < nt; k++) {
        unsigned char in[4 * 8], out[4 * 8 + 8];
        for (int i = 0; i < 4; i++)
            memcpy(in + i * t[k].size, t[k].vals[i], t[k].size);
        memset(out, 0xa5, sizeof out);
        const void *arrays[1] = {in};
        int st[4];
        cfut_map_options o = {.chunksize = 3};
        CHECK_STATUS(executor_map_call(ex, t[k].fn, t[k].sig, 4, out, arrays, st, &o), CFUT_OK);
        if (memcmp(in, out, 4 * t[k].size) != 0)
            th_fail(__FILE__, __LINE__, "%s: values differ", t[k].sig);
        CHECK_EQ(out[4 * t[k].size], 0xa5); /* nothing written past the array */
    }
    executor_free(ex);
}
ON_BOTH(map_call_types)

/* 'y' and 's' inputs: arrays of cfut_buffer and of const char * (NULL
 * strings included), libc's strlen and static functions; a 'y' with NULL
 * data and a length fails its own item (chunksize 1) with CFUT_EINVAL. */
static void map_call_buffers_strings(be b)
{
    executor_t *ex = ex_new(b, 2);
    enum { N = 100 };
    static unsigned char bytes[N * N];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 13);
    cfut_buffer bufs[N];
    uint64_t hashes[N];
    for (int i = 0; i < N; i++) {
        bufs[i] = (cfut_buffer){i == 3 ? NULL : bytes + i * N, i == 3 ? 0 : (size_t)i};
        hashes[i] = y_hash(bufs[i].data, bufs[i].len);
    }
    const void *arrays[1] = {bufs};
    uint64_t hout[N];
    int st[N];
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)y_hash, "Q:y", N, hout, arrays, st, NULL),
                 CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK(st[i] == CFUT_OK && hout[i] == hashes[i]);

    bufs[5] = (cfut_buffer){NULL, 5};
    cfut_map_options one = {.chunksize = 1};
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)y_hash, "Q:y", N, hout, arrays, st, &one),
                 CFUT_EINVAL);
    for (int i = 0; i < N; i++)
        CHECK_STATUS(st[i], i == 5 ? CFUT_EINVAL : CFUT_OK);

    static char strs[N][N + 1];
    const char *sp[N];
    for (int i = 0; i < N; i++) {
        memset(strs[i], 'a' + i % 26, (size_t)i);
        strs[i][i] = '\0';
        sp[i] = strs[i];
    }
    const void *sarr[1] = {sp};
    size_t zout[N];
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)strlen, "z:s", N, zout, sarr, st, NULL), CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(zout[i], i);
    sp[7] = NULL;
    int32_t lout[N];
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)s_len, "i:s", N, lout, sarr, st, NULL), CFUT_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(lout[i], i == 7 ? -1 : i);
    executor_free(ex);
}
ON_BOTH(map_call_buffers_strings)

/* A 'v' return: out may be NULL; on a thread pool the calls' effects are
 * visible. */
static void map_call_void(be b)
{
    executor_t *ex = ex_new(b, 2);
    enum { N = 64 };
    int idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    memset(seen_by_note, 0, sizeof seen_by_note);
    const void *arrays[1] = {idx};
    int st[N];
    cfut_map_options o = {.chunksize = 5};
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)note, "v:i", N, NULL, arrays, st, &o), CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(st[i], CFUT_OK);
        CHECK_EQ(seen_by_note[i], remote(b) ? 0 : 1);
    }
    executor_free(ex);
}
ON_BOTH(map_call_void)

/* A function of no arguments ("i:") maps too, with in_arrays NULL. (The
 * regression test of a chunk sanity check that refused a chunk with no
 * argument bytes: every item failed CFUT_ETASK; fixed in 697e563.) */
static void map_call_no_args(be b)
{
    executor_t *ex = ex_new(b, 2);
    int32_t out[10];
    int st[10];
    memset(st, 0x7f, sizeof st);
    int rc = executor_map_call(ex, (cfut_fn)no_args, "i:", 10, out, NULL, st, NULL);
    for (int i = 0; i < 10; i++)
        if (st[i] != CFUT_OK)
            th_fail(__FILE__, __LINE__, "\"i:\" item %d: %s (returned %s)", i,
                    cfut_status_name(st[i]), cfut_status_name(rc));
    CHECK_STATUS(rc, CFUT_OK);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(out[i], 4242);
    executor_free(ex);
}
ON_BOTH(map_call_no_args)

/* 'p' maps on a thread pool (the addresses are the caller's). */
static void test_map_call_pointers_threads(void)
{
    executor_t *ex = ex_new(THREADS, 2);
    int x;
    const void *ps[4] = {&x, NULL, &x, NULL};
    const void *arrays[1] = {ps};
    int out[4];
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)p_isnull, "i:p", 4, out, arrays, NULL, NULL),
                 CFUT_OK);
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 0 && out[3] == 1);
    executor_free(ex);
}

/* Signatures executor_map_call cannot take: 'o' (an output buffer per item
 * has nowhere to go), an 's' return (not a packed array), 'p' across
 * processes, and the parser's errors: CFUT_EINVAL, nothing run, statuses
 * and out untouched. */
static void map_call_refused(be b)
{
    executor_t *ex = ex_new(b, 2);
    int64_t in[4] = {1, 2, 3, 4};
    const void *arrays[2] = {in, in};
    int64_t out[4] = {-7, -7, -7, -7};
    int st[4] = {-9, -9, -9, -9};
    const char *bad[] = {"v:o", "i:io", "s:q", "y:q", "o:q", "", "q", "q:x", "q:v", "x:q",
                         "q:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq" /* 33 */};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = executor_map_call(ex, (cfut_fn)id_q, bad[k], 4, out, arrays, st, NULL);
        if (rc != CFUT_EINVAL)
            th_fail(__FILE__, __LINE__, "\"%s\": %s", bad[k], cfut_status_name(rc));
    }
    if (remote(b)) {
        CHECK_STATUS(executor_map_call(ex, (cfut_fn)p_isnull, "i:p", 4, out, arrays, st, NULL),
                     CFUT_EINVAL);
        CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_q, "p:q", 4, out, arrays, st, NULL),
                     CFUT_EINVAL);
        /* Not code in a loaded object. */
        CHECK_STATUS(executor_map_call(ex, as_fn(&not_code), "q:q", 4, out, arrays, st, NULL),
                     CFUT_EINVAL);
    }
    for (int i = 0; i < 4; i++)
        CHECK(out[i] == -7 && st[i] == -9);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_started, 0);
    CHECK_EQ(submitted(ex), 0);
    executor_free(ex);
}
ON_BOTH(map_call_refused)

/* ---- bad arguments ---------------------------------------------------------------- */

static bool never(void *item, void *user)
{
    (void)item, (void)user;
    return false;
}

/* NULL executor, function, items, results, source or index; item_size 0;
 * a NaN timeout: CFUT_EINVAL (or NULL) and nothing run. n == 0 is fine
 * with NULL arrays and submits nothing. */
static void bad_arguments(be b)
{
    executor_t *ex = ex_new(b, 2);
    int32_t in[2] = {1, 2}, out[2];
    int st[2] = {-9, -9};
    cfut_map_options nan_o = {.timeout = NAN};
    CHECK_STATUS(executor_map(NULL, task_inc, in, 2, 4, out, 4, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map(ex, NULL, in, 2, 4, out, 4, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map(ex, task_inc, NULL, 2, 4, out, 4, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map(ex, task_inc, in, 2, 4, NULL, 4, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map(ex, task_inc, in, 2, 0, out, 4, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map(ex, task_inc, in, 2, 4, out, 4, st, &nan_o), CFUT_EINVAL);
    CHECK(st[0] == -9 && st[1] == -9);
    CHECK(executor_map_start(NULL, task_inc, in, 2, 4, NULL) == NULL);
    CHECK(executor_map_start(ex, NULL, in, 2, 4, NULL) == NULL);
    CHECK(executor_map_start(ex, task_inc, NULL, 2, 4, NULL) == NULL);
    CHECK(executor_map_start(ex, task_inc, in, 2, 0, NULL) == NULL);
    CHECK(executor_map_start(ex, task_inc, in, 2, 4, &nan_o) == NULL);
    counter c = {.limit = 3};
    CHECK(executor_map_pull(NULL, task_str, count_source, &c, 8, NULL) == NULL);
    CHECK(executor_map_pull(ex, NULL, count_source, &c, 8, NULL) == NULL);
    CHECK(executor_map_pull(ex, task_str, NULL, &c, 8, NULL) == NULL);
    CHECK(executor_map_pull(ex, task_str, count_source, &c, 0, NULL) == NULL);
    CHECK(executor_map_pull(ex, task_str, count_source, &c, 8, &nan_o) == NULL);
    CHECK_EQ(c.calls, 0);

    const void *arrays[1] = {in};
    const void *null_array[1] = {NULL};
    CHECK_STATUS(executor_map_call(NULL, (cfut_fn)id_i, "i:i", 2, out, arrays, st, NULL),
                 CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, NULL, "i:i", 2, out, arrays, st, NULL), CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, NULL, 2, out, arrays, st, NULL),
                 CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, "i:i", 2, NULL, arrays, st, NULL),
                 CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, "i:i", 2, out, NULL, st, NULL),
                 CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, "i:i", 2, out, null_array, st, NULL),
                 CFUT_EINVAL);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, "i:i", 2, out, arrays, st, &nan_o),
                 CFUT_EINVAL);
    CHECK(st[0] == -9 && st[1] == -9);

    size_t idx = 7;
    const void *data = (const void *)1;
    size_t len = 5;
    CHECK_STATUS(cfut_map_next(NULL, &idx, &data, &len), CFUT_EINVAL);
    CHECK(data == NULL && len == 0);
    cfut_map *m = start(ex, task_inc, in, 2, 4, NULL);
    CHECK_STATUS(cfut_map_next(m, NULL, &data, &len), CFUT_EINVAL);
    CHECK_STATUS(cfut_map_next(m, &idx, NULL, NULL), CFUT_OK); /* data, len optional */
    CHECK_EQ(idx, 0);
    CHECK_STATUS(cfut_map_next(m, &idx, NULL, NULL), CFUT_OK);
    CHECK_EQ(idx, 1);
    NEXT_END(m);
    cfut_map_close(m);
    cfut_map_close(NULL);

    /* Nothing to do: fine with NULL arrays, and nothing is submitted. */
    size_t before = submitted(ex);
    CHECK_STATUS(executor_map(ex, task_inc, NULL, 0, 4, NULL, 4, NULL, NULL), CFUT_OK);
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)id_i, "i:i", 0, NULL, NULL, NULL, NULL),
                 CFUT_OK);
    m = executor_map_pull(ex, task_str, never, NULL, 8, NULL);
    CHECK(m != NULL);
    NEXT_END(m);
    cfut_map_close(m);
    CHECK_EQ(submitted(ex), before);
    executor_free(ex);

    /* An empty map on a fresh executor starts no worker. */
    ex = ex_new(b, 2);
    CHECK_STATUS(executor_map(ex, task_inc, in, 0, 4, out, 4, st, NULL), CFUT_OK);
    CHECK_EQ(stats(ex).workers_started, 0);
    executor_free(ex);
}
ON_BOTH(bad_arguments)

/* On a process pool a task function that is not code in a loaded object
 * fails every item with CFUT_EINVAL; nothing runs. */
static void test_map_not_code_processes(void)
{
    executor_t *ex = ex_new(PROCESSES, 2);
    int32_t in[3] = {1, 2, 3}, out[3];
    int st[3];
    cfut_task_fn bogus;
    cfut_fn f = as_fn(&not_code);
    memcpy(&bogus, &f, sizeof bogus);
    CHECK_STATUS(executor_map(ex, bogus, in, 3, 4, out, 4, st, NULL), CFUT_EINVAL);
    for (int i = 0; i < 3; i++)
        CHECK_STATUS(st[i], CFUT_EINVAL);
    CHECK_EQ(stats(ex).workers_started, 0);
    executor_free(ex);
}

/* A worker that dies inside a chunk (process pools): that chunk's items
 * fail with CFUT_EWORKER, every other item is fine, and the pool replaces
 * the worker. Both for task maps and executor_map_call. */
static void test_worker_crash_in_chunk_processes(void)
{
    executor_t *ex = ex_new(PROCESSES, 2);
    enum { N = 20 };
    mitem in[N];
    for (int i = 0; i < N; i++)
        in[i] = item(NULL, i, i == 7 ? OP_CRASH : OP_OK);
    int64_t out[N];
    int st[N];
    cfut_map_options o = {.chunksize = 5};
    CHECK_STATUS(executor_map(ex, task_item, in, N, sizeof(mitem), out, 8, st, &o),
                 CFUT_EWORKER);
    for (int i = 0; i < N; i++) {
        bool in_chunk = i >= 5 && i < 10;
        CHECK_STATUS(st[i], in_chunk ? CFUT_EWORKER : CFUT_OK);
        if (!in_chunk)
            CHECK_EQ(out[i], 2 * i);
    }
    CHECK_EQ(stats(ex).workers_lost, 1);

    int xs[N];
    for (int i = 0; i < N; i++)
        xs[i] = i == 13 ? 1 : i + 2;
    const void *arrays[1] = {xs};
    int r[N];
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)crash_if_one, "i:i", N, r, arrays, st, &o),
                 CFUT_EWORKER);
    for (int i = 0; i < N; i++) {
        bool in_chunk = i >= 10 && i < 15;
        CHECK_STATUS(st[i], in_chunk ? CFUT_EWORKER : CFUT_OK);
        if (!in_chunk)
            CHECK_EQ(r[i], xs[i] + 100);
    }
    CHECK_EQ(stats(ex).workers_lost, 2);
    executor_free(ex);
}

TH_CASES(
    BOTH_CASES(map_basic),
    BOTH_CASES(chunk_counts),
    BOTH_CASES(map_exception),
    BOTH_CASES(first_failure),
    BOTH_CASES(wrong_size),
    BOTH_CASES(timeout_from_callable),
    BOTH_CASES(map_errors),
    BOTH_CASES(map_task_timeout),
    BOTH_CASES(map_timeout),
    BOTH_CASES(map_timeout_lazy),
    BOTH_CASES(map_timeout_buffersize),
    BOTH_CASES(map_timeout_unordered),
    BOTH_CASES(map_timeout_waited_not_started),
    BOTH_CASES(map_close),
    BOTH_CASES(map_close_chunked),
    BOTH_CASES(map_close_leaks_nothing),
    BOTH_CASES(input_order),
    BOTH_CASES(unordered_gated),
    BOTH_CASES(unordered_each_once),
    BOTH_CASES(buffersize_results),
    BOTH_CASES(buffersize_multiple_inputs),
    BOTH_CASES(buffersize_infinite),
    BOTH_CASES(buffersize_empty),
    BOTH_CASES(buffersize_when_full),
    BOTH_CASES(buffersize_exact),
    BOTH_CASES(shutdown_during_map),
    BOTH_CASES(progress_eager),
    BOTH_CASES(progress_lazy),
    BOTH_CASES(progress_once_at_end),
    BOTH_CASES(pull_sources),
    BOTH_CASES(pull_timeout),
    BOTH_CASES(large_values),
    BOTH_CASES(map_call_sqrt),
    BOTH_CASES(map_call_pow),
    BOTH_CASES(map_call_types),
    BOTH_CASES(map_call_buffers_strings),
    BOTH_CASES(map_call_void),
    BOTH_CASES(map_call_no_args),
    TH_CASE(test_map_call_pointers_threads),
    BOTH_CASES(map_call_refused),
    BOTH_CASES(bad_arguments),
    TH_CASE(test_map_not_code_processes),
    TH_CASE(test_worker_crash_in_chunk_processes),
)
