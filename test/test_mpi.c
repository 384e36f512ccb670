/* test/test_mpi.c: the MPI executor (EXECUTOR_MPI), run under
 * `mpiexec -n 3` (test/meson.build registers it in suite 'mpi').
 *
 * Ports what applies of CPython's Lib/test/test_concurrent_futures/
 * (test_process_pool.py, test_init.py, test_shutdown.py, test_wait.py,
 * test_as_completed.py) and of mpi4py's test/test_futures.py
 * (MPICommExecutor: the collective executor, rank 0 the only client).
 *
 * The harness's th_main() forks every case, which MPI does not survive, so
 * this program has its own runner. Every rank runs the same cases in the
 * same order, and every case starts by calling executor_new(EXECUTOR_MPI)
 * on every rank (a new round each time): rank 0 gets the executor and does
 * the checks; ranks 1 and 2 serve inside that call, get CFUT_OK with
 * ex == NULL when rank 0 shuts it down, and go on to the next case. Only
 * rank 0 prints TAP to stdout. A failed check ends the case on rank 0
 * (longjmp back to the runner, which shuts the executor down so the serving
 * ranks move on) instead of exiting: an exiting rank would take the whole
 * job down. What serving ranks see themselves (executor_new's answer) is
 * gathered at the end, once no executor exists, into one last TAP line.
 *
 * Modes (argv[1]):
 *   (none)          the library initialises MPI (first executor_new) and
 *                   finalises it at exit: mpiexec fails the job if it does not
 *   --own-init      the program calls MPI_Init_thread(MULTIPLE) itself, and
 *                   MPI_Finalize at the end: the library must not finalise
 *                   what it did not initialise, and the program's own
 *                   messages on MPI_COMM_WORLD never mix with the pool's
 *   --single        run with -n 1: EXECUTOR_MPI with no rank to serve is
 *                   CFUT_EINVAL, and exit still finalises
 *   --thread-single the program calls plain MPI_Init (MPI_THREAD_SINGLE):
 *                   every rank gets CFUT_EINVAL, nothing hangs
 *
 * Serving ranks are other processes on this host (the test runs them all
 * locally), so tasks are gated on two named FIFOs in a mkdtemp() directory
 * (an "xgate", as in test_process_pool.c): a gated task writes one byte to
 * "started", then blocks reading one byte from "go"; the test reads and
 * writes those bytes. Closing "go" releases every gated task (EOF). Every
 * wait has a deadline; nothing sleeps to synchronise.
 *
 * CFUT_TEST_MPI_HUGE=1 adds the largest values that travel (an argument
 * and a result of just under 1 GiB, whose frames are split into two MPI
 * messages) and the ones just too large (CFUT_ESERIALIZE): about 9 GiB of
 * memory, too big for CI, skipped otherwise. */
#define _GNU_SOURCE
#include <cfut.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

/* ---- the runner ------------------------------------------------------- */

static int my_rank = -1; /* known once MPI is initialised */
static int world = 0;
static jmp_buf case_env;
static executor_t *case_ex;   /* rank 0: the case's executor, while open */
static const char *case_skip; /* rank 0: why the case was skipped */
static int serving_failures;  /* what serving ranks saw that they should not */
static bool own_init;         /* the program initialised MPI itself */

static void note_rank(void)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (inited && my_rank < 0) {
        MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &world);
    }
}

/* The harness's slow-down factor (10 under valgrind). */
static double scale(void)
{
    const char *s = getenv("CFUT_TEST_TIMEOUT_MULT");
    double v = s ? strtod(s, NULL) : 1;
    return v >= 1 ? v : 1;
}

/* How long anything may take before we call it a hang. */
#define LONG_WAIT (30.0 * scale())

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ends the current case as failed (rank 0 only: the checks run there). */
__attribute__((format(printf, 3, 4), noreturn))
static void fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("# %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    longjmp(case_env, 1);
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);               \
    } while (0)
#define CHECK_INT(a, op, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (!(a_ op b_))                                                       \
            fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b,    \
                 a_, b_);                                                      \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)
#define CHECK_STATUS(expr, want)                                               \
    do {                                                                       \
        int got_ = (expr), want_ = (want);                                     \
        if (got_ != want_)                                                     \
            fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d)", #expr,   \
                 cfut_status_name(got_), got_, cfut_status_name(want_), want_); \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !strstr(h_, n_))                                            \
            fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay,   \
                 n_, h_ ? h_ : "(null)");                                      \
    } while (0)
/* The future's status, and its message when it is not the one wanted. */
#define CHECK_FUTURE(f, want)                                                  \
    do {                                                                       \
        future_t *ff_ = (f);                                                   \
        int got_ = future_wait(ff_, LONG_WAIT) == CFUT_OK ? future_status(ff_) \
                                                          : CFUT_ETIMEDOUT;    \
        if (got_ != (want))                                                    \
            fail(__FILE__, __LINE__, "%s: got %s (%s), want %s", #f,           \
                 cfut_status_name(got_),                                       \
                 future_error_message(ff_) ? future_error_message(ff_) : "",   \
                 cfut_status_name(want));                                      \
    } while (0)

/* Every rank: executor_new(EXECUTOR_MPI). True on rank 0, with *ex the
 * case's executor; false on a serving rank once it is released (then the
 * case returns). */
static bool open_pool(executor_t **ex, const executor_options *o)
{
    *ex = (executor_t *)(uintptr_t)1; /* must be overwritten on every path */
    int rc = executor_new(ex, EXECUTOR_MPI, o);
    note_rank();
    if (my_rank != 0) {
        if (rc != CFUT_OK || *ex != NULL) {
            fprintf(stderr, "# rank %d: executor_new: %s, ex %p (want CFUT_OK, NULL)\n",
                    my_rank, cfut_status_name(rc), (void *)*ex);
            serving_failures++;
        }
        return false;
    }
    CHECK_STATUS(rc, CFUT_OK);
    CHECK(*ex != NULL);
    case_ex = *ex;
    return true;
}

static void close_pool(executor_t *ex)
{
    executor_free(ex);
    if (ex == case_ex)
        case_ex = NULL;
}

static void skip(const char *why)
{
    case_skip = why;
    longjmp(case_env, 2);
}

/* ---- gates across processes of this host ------------------------------ */

static char gate_dir[64]; /* made by rank 0, known to every rank */

typedef struct xgate {
    char go[96], started[96];
    int go_fd, started_fd;
} xgate;

/* Static, not on a case's stack: the runner closes what a failed case left
 * open, after longjmp has discarded that case's frame. */
static xgate gates[4];

/* Rank 0: makes the FIFOs and holds both open read-write, so a task's open
 * never blocks and a task's read of "go" blocks until a byte (or EOF once
 * xgate_close has run). Serving ranks get an unused slot: they only use the
 * paths they are given. */
static xgate *xgate_open(const char *name)
{
    static xgate none = {.go_fd = -1, .started_fd = -1};
    if (my_rank != 0)
        return &none;
    xgate *g = NULL;
    for (size_t i = 0; i < sizeof gates / sizeof gates[0] && !g; i++)
        if (!gates[i].go[0])
            g = &gates[i];
    CHECK(g != NULL);
    snprintf(g->go, sizeof g->go, "%s/%s-go", gate_dir, name);
    snprintf(g->started, sizeof g->started, "%s/%s-started", gate_dir, name);
    unlink(g->go);
    unlink(g->started);
    g->go_fd = g->started_fd = -1;
    CHECK(mkfifo(g->go, 0600) == 0);
    CHECK(mkfifo(g->started, 0600) == 0);
    g->go_fd = open(g->go, O_RDWR | O_CLOEXEC);
    g->started_fd = open(g->started, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    CHECK(g->go_fd >= 0 && g->started_fd >= 0);
    return g;
}

/* Lets n gated tasks through. */
static void xgate_release(xgate *g, int n)
{
    for (int i = 0; i < n; i++)
        CHECK(write(g->go_fd, "g", 1) == 1);
}

/* Waits until n gated tasks have started (or a released rank announced
 * itself); false if not within `timeout` seconds. */
static bool xgate_started(xgate *g, int n, double timeout)
{
    double end = now() + timeout;
    while (n > 0) {
        char c[8];
        ssize_t r = read(g->started_fd, c, (size_t)n < sizeof c ? (size_t)n : sizeof c);
        if (r > 0) {
            n -= (int)r;
            continue;
        }
        double left = end - now();
        if (left <= 0)
            return false;
        struct pollfd p = {g->started_fd, POLLIN, 0};
        poll(&p, 1, (int)(left * 1000) + 1);
    }
    return true;
}

/* Releases every gated task for good (EOF) and removes the FIFOs. */
static void xgate_close(xgate *g)
{
    if (!g->go[0])
        return;
    if (g->go_fd >= 0)
        close(g->go_fd);
    if (g->started_fd >= 0)
        close(g->started_fd);
    g->go_fd = g->started_fd = -1;
    unlink(g->go);
    unlink(g->started);
    g->go[0] = g->started[0] = '\0';
}

/* On a serving rank: announces itself on the gate's "started" FIFO. */
static int announce(const char *started)
{
    int fd = open(started, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, "s", 1);
    close(fd);
    return w == 1 ? 0 : -1;
}

/* ---- tasks (they run on the serving ranks) ---------------------------- */

static int rank_here(void)
{
    int r = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

static int task_echo(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

static int task_rank(cfut_task *t, const void *arg, size_t len)
{
    int r = rank_here();
    return cfut_return(t, &r, sizeof r);
}

static int task_fail(cfut_task *t, const void *arg, size_t len)
{
    int x;
    memcpy(&x, arg, sizeof x);
    return cfut_fail(t, 7, "bad item %d", x);
}

static int task_return3(cfut_task *t, const void *arg, size_t len)
{
    return 3;
}

/* x -> x * x; item 500 fails with code 11. */
static int task_square(cfut_task *t, const void *arg, size_t len)
{
    int x;
    if (len != sizeof x)
        return cfut_fail(t, 1, "task_square: %zu-byte argument", len);
    memcpy(&x, arg, sizeof x);
    if (x == 500)
        return cfut_fail(t, 11, "refusing %d", x);
    int y = x * x;
    return cfut_return(t, &y, sizeof y);
}

/* Set by init_set on the serving rank; task_gated reports it. */
static int init_value = -1;
static int init_saw_task = -1;

typedef struct gate_arg {
    char go[96], started[96];
    int id;
} gate_arg;

typedef struct gate_out {
    int rank, id;
    int init_value, init_saw_task; /* what init_set left, if it ran */
} gate_out;

/* Says it started, then waits for its byte on "go" (or EOF). */
static int task_gated(cfut_task *t, const void *arg, size_t len)
{
    gate_arg a;
    if (len != sizeof a)
        return cfut_fail(t, 1, "task_gated: %zu-byte argument", len);
    memcpy(&a, arg, sizeof a);
    int fd = open(a.go, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cfut_fail(t, 2, "open %s: %s", a.go, strerror(errno));
    fcntl(fd, F_SETFL, 0); /* now block in read (EOF if the test closed it) */
    if (announce(a.started) != 0) {
        close(fd);
        return cfut_fail(t, 3, "cannot announce on %s", a.started);
    }
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(fd);
    gate_out o = {rank_here(), a.id, init_value, init_saw_task};
    return cfut_return(t, &o, sizeof o);
}

static gate_arg gated(const xgate *g, int id)
{
    gate_arg a;
    memset(&a, 0, sizeof a);
    snprintf(a.go, sizeof a.go, "%s", g->go);
    snprintf(a.started, sizeof a.started, "%s", g->started);
    a.id = id;
    return a;
}

static uint64_t digest(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h ^ n;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(((i + seed) * 2654435761u) >> 13);
}

/* The argument's length and digest. */
static int task_digest(cfut_task *t, const void *arg, size_t len)
{
    uint64_t out[2] = {len, digest(arg, len)};
    return cfut_return(t, out, sizeof out);
}

/* arg: {size_t n; unsigned seed}: returns n bytes of fill(seed). */
struct make_arg {
    size_t n;
    unsigned seed;
};

static int task_make(cfut_task *t, const void *arg, size_t len)
{
    struct make_arg a;
    memcpy(&a, arg, sizeof a);
    unsigned char *b = malloc(a.n ? a.n : 1);
    if (!b)
        return cfut_fail(t, 1, "cannot allocate %zu bytes", a.n);
    fill(b, a.n, a.seed);
    int rc = cfut_return(t, b, a.n);
    free(b);
    return rc;
}

/* The serving thread's name (/proc/self/comm of the rank's main thread). */
static int task_comm(cfut_task *t, const void *arg, size_t len)
{
    char name[17] = "";
    prctl(PR_GET_NAME, name);
    return cfut_return(t, name, strlen(name) + 1);
}


static int init_set(cfut_task *t, const void *arg, size_t len)
{
    int v;
    if (len != sizeof v)
        return cfut_fail(t, 1, "init_set: %zu-byte initarg", len);
    memcpy(&v, arg, sizeof v);
    init_value = v * 100 + rank_here();
    init_saw_task = cfut_current() == t;
    return 0;
}

static int init_fail(cfut_task *t, const void *arg, size_t len)
{
    return cfut_fail(t, 9, "init refused on rank %d", rank_here());
}

static const int not_code_data[4] = {1, 2, 3, 4};

/* x -> 10 x, in a worker process; item 2 crashes its worker. */
static int task_crashy(cfut_task *t, const void *arg, size_t len)
{
    int x;
    memcpy(&x, arg, sizeof x);
    if (x == 2)
        raise(SIGSEGV);
    int y = 10 * x;
    return cfut_return(t, &y, sizeof y);
}

/* On a serving rank: runs task_crashy over 0..3 in a process pool of its
 * own, and returns the four statuses and values. */
static int task_local_pool(cfut_task *t, const void *arg, size_t len)
{
    executor_t *pp;
    executor_options o = {.max_workers = 2};
    int rc = executor_new(&pp, EXECUTOR_PROCESSES, &o);
    if (rc != CFUT_OK)
        return cfut_fail(t, 1, "executor_new(PROCESSES): %s", cfut_status_name(rc));
    int out[8];
    for (int i = 0; i < 4; i++) {
        future_t *f = executor_submit(pp, task_crashy, &i, sizeof i);
        out[2 * i + 1] = -1;
        out[2 * i] = future_result_copy(f, 60, &out[2 * i + 1], sizeof out[0]);
        future_release(f);
    }
    executor_free(pp);
    return cfut_return(t, out, sizeof out);
}

/* ---- helpers on rank 0 ------------------------------------------------ */

static int result_int(future_t *f)
{
    int v = -1;
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, &v, sizeof v), CFUT_OK);
    return v;
}

static executor_stats stats(executor_t *ex)
{
    executor_stats s;
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    return s;
}

/* ---- cases ------------------------------------------------------------ */

/* The first round: unless the program did, MPI is not initialised before
 * it (the library does it, at MPI_THREAD_SERIALIZED or better); it is not
 * finalised after it. */
static void test_first_round_initialises_mpi(void)
{
    int inited = 1;
    MPI_Initialized(&inited);
    bool was = inited;
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    CHECK_EQ(was, own_init);
    MPI_Initialized(&inited);
    CHECK(inited);
    int provided = -1;
    MPI_Query_thread(&provided);
    CHECK_INT(provided, >=, MPI_THREAD_SERIALIZED);
    CHECK_EQ(world, 3);
    close_pool(ex);
    int finalized = 1;
    MPI_Finalized(&finalized);
    CHECK(!finalized); /* only at exit */
}

/* test_process_pool.py: ExecutorTest.test_submit */
static void test_submit_result(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    int64_t v = 424242;
    future_t *f = executor_submit(ex, task_echo, &v, sizeof v);
    CHECK_FUTURE(f, CFUT_OK);
    const void *data;
    size_t len;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK_EQ(len, sizeof v);
    int64_t got;
    memcpy(&got, data, sizeof got);
    CHECK_EQ(got, v);
    future_release(f);

    /* An empty result is an empty result, not NULL. */
    f = executor_submit(ex, task_echo, NULL, 0);
    CHECK_FUTURE(f, CFUT_OK);
    data = NULL;
    len = 99;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK(data != NULL);
    CHECK_EQ(len, 0);
    future_release(f);

    /* The task ran on a serving rank, not here. */
    f = executor_submit(ex, task_rank, NULL, 0);
    int r = result_int(f);
    CHECK(r == 1 || r == 2);
    future_release(f);
    close_pool(ex);
}

/* Errors carry the task's code and message, and the rank that ran it. */
static void test_error_names_rank(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    int x = 5;
    future_t *f = executor_submit(ex, task_fail, &x, sizeof x);
    CHECK_FUTURE(f, CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 7);
    CHECK_CONTAINS(future_error_message(f), "bad item 5");
    CHECK_CONTAINS(future_error_message(f), " [rank ");
    const char *m = strstr(future_error_message(f), "[rank ");
    CHECK(m && (!strcmp(m, "[rank 1]") || !strcmp(m, "[rank 2]")));
    const void *data = (const void *)1;
    size_t len = 1;
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_ETASK);
    CHECK(data == NULL);
    CHECK_EQ(len, 0);
    future_release(f);

    f = executor_submit(ex, task_return3, NULL, 0);
    CHECK_FUTURE(f, CFUT_ETASK);
    CHECK_EQ(future_error_code(f), 3);
    CHECK_CONTAINS(future_error_message(f), "3");
    CHECK_CONTAINS(future_error_message(f), " [rank ");
    future_release(f);

    /* The pool goes on after failures. */
    f = executor_submit(ex, task_rank, NULL, 0);
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
}

/* Many small tasks, all results right, every one counted. */
static void test_many_tasks(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    enum { N = 10000 };
    future_t **fs = malloc(N * sizeof *fs);
    CHECK(fs != NULL);
    for (int i = 0; i < N; i++) {
        int64_t v = (int64_t)i * 3 + 1;
        fs[i] = executor_submit(ex, task_echo, &v, sizeof v);
    }
    for (int i = 0; i < N; i++) {
        int64_t v = -1;
        CHECK_FUTURE(fs[i], CFUT_OK);
        CHECK_STATUS(future_result_copy(fs[i], 0, &v, sizeof v), CFUT_OK);
        CHECK_EQ(v, (int64_t)i * 3 + 1);
        future_release(fs[i]);
    }
    free(fs);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, N);
    CHECK_EQ(s.failed, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    close_pool(ex);
}

/* Under saturation both serving ranks run a task at once (two tasks that
 * only finish together ran on different ranks), the rest stays queued, and
 * the stats say so. test_process_pool.py: test_saturation. */
static void test_saturation_uses_every_rank(void)
{
    xgate *g = xgate_open("saturation");
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    future_t *fs[5];
    for (int i = 0; i < 5; i++) {
        gate_arg a = gated(g, i);
        fs[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 2, LONG_WAIT));
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, 2);
    CHECK_EQ(s.running, 2);
    CHECK_EQ(s.queued, 3);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.workers_started, 2);
    CHECK(future_running(fs[0]));
    CHECK(future_running(fs[1]));
    CHECK(!future_running(fs[2]) && !future_done(fs[2]));
    xgate_release(g, 5);
    int seen[3] = {0};
    for (int i = 0; i < 5; i++) {
        gate_out o;
        CHECK_FUTURE(fs[i], CFUT_OK);
        CHECK_STATUS(future_result_copy(fs[i], 0, &o, sizeof o), CFUT_OK);
        CHECK_EQ(o.id, i);
        CHECK(o.rank == 1 || o.rank == 2);
        if (i < 2)
            seen[o.rank]++;
        future_release(fs[i]);
    }
    CHECK_EQ(seen[1], 1);
    CHECK_EQ(seen[2], 1);
    s = stats(ex);
    CHECK_EQ(s.idle, 2);
    CHECK_EQ(s.completed, 5);
    close_pool(ex);
    xgate_close(g);
}

/* A libm function through libffi: sqrt, ldexp, and a string argument. */
static void test_call(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    future_t *f = executor_call(ex, (cfut_fn)sqrt, "d:d", 2.0);
    double y = 0;
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, &y, sizeof y), CFUT_OK);
    CHECK(y == sqrt(2.0));
    future_release(f);

    f = executor_call(ex, (cfut_fn)ldexp, "d:di", 3.0, 4);
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, &y, sizeof y), CFUT_OK);
    CHECK(y == 48.0);
    future_release(f);

    f = executor_call(ex, (cfut_fn)strlen, "z:s", "seventeen letters");
    size_t n = 0;
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, &n, sizeof n), CFUT_OK);
    CHECK_EQ(n, 17);
    future_release(f);

    /* A pointer means nothing on another rank; a bad signature is named. */
    int local = 0;
    f = executor_call(ex, (cfut_fn)task_echo, "i:p", &local);
    CHECK_FUTURE(f, CFUT_EINVAL);
    future_release(f);
    f = executor_call(ex, (cfut_fn)sqrt, "d:dx", 1.0, 2);
    CHECK_FUTURE(f, CFUT_EINVAL);
    CHECK_CONTAINS(future_error_message(f), "'x'");
    future_release(f);
    close_pool(ex);
}

/* executor_map_call(sqrt) over an array, in chunks across the ranks. */
static void test_map_call_sqrt(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    enum { N = 5000 };
    double *in = malloc(N * sizeof *in), *out = calloc(N, sizeof *out);
    int *st = malloc(N * sizeof *st);
    CHECK(in && out && st);
    for (int i = 0; i < N; i++) {
        in[i] = i * 0.5;
        st[i] = -1;
    }
    const void *const args[] = {in};
    cfut_map_options mo = {.chunksize = 64};
    CHECK_STATUS(executor_map_call(ex, (cfut_fn)sqrt, "d:d", N, out, args, st, &mo), CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(st[i], CFUT_OK);
        CHECK(out[i] == sqrt(in[i]));
    }
    free(in);
    free(out);
    free(st);
    close_pool(ex);
}

/* executor_map in chunks: results in input order, a failing item fails
 * only itself; the lazy form with a bounded window yields every index.
 * test_process_pool.py: test_map, test_map_exception. */
static void test_map_chunks(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    enum { N = 1000 };
    int items[N], out[N], st[N];
    for (int i = 0; i < N; i++) {
        items[i] = i;
        out[i] = -1;
    }
    cfut_map_options mo = {.chunksize = 7};
    CHECK_STATUS(executor_map(ex, task_square, items, N, sizeof(int), out, sizeof(int), st, &mo),
                 CFUT_ETASK);
    for (int i = 0; i < N; i++) {
        if (i == 500) {
            CHECK_STATUS(st[i], CFUT_ETASK);
            continue;
        }
        CHECK_STATUS(st[i], CFUT_OK);
        CHECK_EQ(out[i], i * i);
    }

    cfut_map_options lo = {.chunksize = 3, .buffersize = 40, .unordered = true};
    cfut_map *m = executor_map_start(ex, task_square, items, N, sizeof(int), &lo);
    CHECK(m != NULL);
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    size_t count = 0;
    for (;;) {
        size_t idx;
        const void *data;
        size_t len;
        int rc = cfut_map_next(m, &idx, &data, &len);
        if (idx == SIZE_MAX)
            break;
        CHECK_INT(idx, <, N);
        CHECK(!seen[idx]);
        seen[idx] = true;
        count++;
        if (idx == 500) {
            CHECK_STATUS(rc, CFUT_ETASK);
            continue;
        }
        CHECK_STATUS(rc, CFUT_OK);
        int y;
        CHECK_EQ(len, sizeof y);
        memcpy(&y, data, sizeof y);
        CHECK_EQ(y, (int)(idx * idx));
    }
    CHECK_EQ(count, N);
    cfut_map_close(m);
    close_pool(ex);
}

/* Large values cross whole, both ways: an argument of n bytes, and a
 * result of n bytes made on the serving rank. */
static void arg_trip(executor_t *ex, size_t n)
{
    unsigned char *b = malloc(n);
    CHECK(b != NULL);
    fill(b, n, 7);
    uint64_t want = digest(b, n);
    future_t *f = executor_submit(ex, task_digest, b, n);
    free(b); /* the argument was copied at submit */
    uint64_t got[2] = {0, 0};
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, got, sizeof got), CFUT_OK);
    CHECK_EQ(got[0], n);
    CHECK(got[1] == want);
    future_release(f);
}

static void result_trip(executor_t *ex, size_t n)
{
    struct make_arg a = {n, 3};
    future_t *f = executor_submit(ex, task_make, &a, sizeof a);
    unsigned char *b = malloc(n);
    CHECK(b != NULL);
    fill(b, n, 3);
    const void *data;
    size_t len;
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK_EQ(len, n);
    CHECK(memcmp(data, b, n) == 0);
    future_release(f);
    free(b);
}

static void round_trip(executor_t *ex, size_t n)
{
    arg_trip(ex, n);
    result_trip(ex, n);
}

static void test_large_8mib(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    round_trip(ex, (size_t)8 << 20);
    /* And the echo of a large argument. */
    size_t n = ((size_t)8 << 20) + 3;
    unsigned char *b = malloc(n);
    CHECK(b != NULL);
    fill(b, n, 11);
    future_t *f = executor_submit(ex, task_echo, b, n);
    const void *data;
    size_t len;
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result(f, 0, &data, &len), CFUT_OK);
    CHECK_EQ(len, n);
    CHECK(memcmp(data, b, n) == 0);
    future_release(f);
    free(b);
    close_pool(ex);
}

static void test_large_64mib(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    round_trip(ex, (size_t)64 << 20);
    close_pool(ex);
}

/* Frames over MSG_MAX (1 GiB, lib/mpi_pool.c) travel as several MPI
 * messages. The wire itself caps a frame's payload at 1 GiB
 * (CFUT__WIRE_MAX_DEFAULT), so the largest values that cross are those
 * whose frame is just over 1 GiB: an argument of 1 GiB - 28 bytes (a task
 * frame's payload adds id, the main program's empty path, offset, flags and
 * length) and a result of 1 GiB - 32 bytes (id, status, code, origin, flags,
 * empty message, length); their frames, 12 bytes of header more, are split
 * in two. One byte more fails with CFUT_ESERIALIZE, and so does 1.5 GiB:
 * no hang, and the pool goes on. Opt-in (CFUT_TEST_MPI_HUGE=1): it needs
 * about 9 GiB of memory across the ranks. */
static void test_huge_split(void)
{
    const char *e = getenv("CFUT_TEST_MPI_HUGE");
    bool on = e && *e && strcmp(e, "0") != 0;
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    if (!on)
        skip("set CFUT_TEST_MPI_HUGE=1 for 1 GiB round trips (about 9 GiB of memory)");
    const size_t gib = (size_t)1 << 30;
    arg_trip(ex, gib - 28);
    result_trip(ex, gib - 32);

    size_t n = gib - 27;
    unsigned char *b = calloc(1, n);
    CHECK(b != NULL);
    future_t *f = executor_submit(ex, task_digest, b, n);
    free(b);
    CHECK_FUTURE(f, CFUT_ESERIALIZE);
    future_release(f);
    n = gib + gib / 2;
    b = calloc(1, n);
    CHECK(b != NULL);
    f = executor_submit(ex, task_digest, b, n);
    free(b);
    CHECK_FUTURE(f, CFUT_ESERIALIZE);
    future_release(f);

    struct make_arg a = {gib - 31, 1};
    f = executor_submit(ex, task_make, &a, sizeof a);
    CHECK_FUTURE(f, CFUT_ESERIALIZE);
    CHECK_CONTAINS(future_error_message(f), "could not be encoded");
    future_release(f);

    f = executor_submit(ex, task_rank, NULL, 0); /* the pool is fine */
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
}

/* test_init.py: InitializerMixin.test_initializer: the initializer runs on
 * every serving rank before its first task, with its own copy of initarg,
 * and cfut_current() is its task. */
static void test_initializer_every_rank(void)
{
    xgate *g = xgate_open("init");
    int arg = 5;
    executor_options o = {.initializer = init_set, .initarg = &arg, .initarg_len = sizeof arg};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    arg = 6; /* copied at executor_new */
    /* Two gated tasks run at once: one on each rank. */
    future_t *fs[2];
    for (int i = 0; i < 2; i++) {
        gate_arg a = gated(g, i);
        fs[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 2, LONG_WAIT));
    xgate_release(g, 2);
    int ranks = 0;
    for (int i = 0; i < 2; i++) {
        gate_out go;
        CHECK_FUTURE(fs[i], CFUT_OK);
        CHECK_STATUS(future_result_copy(fs[i], 0, &go, sizeof go), CFUT_OK);
        CHECK(go.rank == 1 || go.rank == 2);
        ranks |= 1 << go.rank;
        CHECK_EQ(go.init_value, 500 + go.rank);
        CHECK_EQ(go.init_saw_task, 1); /* cfut_current() was the initializer's task */
        future_release(fs[i]);
    }
    CHECK_EQ(ranks, 6);
    close_pool(ex);
    xgate_close(g);
}

/* test_init.py: FailingInitializerMixin.test_initializer: the pool is
 * broken; every task fails CFUT_EBROKEN with the initializer's message and
 * code, and so do later submissions. The serving ranks return. */
static void test_initializer_fails(void)
{
    executor_options o = {.initializer = init_fail};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    future_t *fs[4];
    for (int i = 0; i < 4; i++)
        fs[i] = executor_submit(ex, task_rank, NULL, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_FUTURE(fs[i], CFUT_EBROKEN);
        CHECK_EQ(future_error_code(fs[i]), 9);
        CHECK_CONTAINS(future_error_message(fs[i]), "init refused on rank ");
        future_release(fs[i]);
    }
    future_t *f = executor_submit(ex, task_rank, NULL, 0);
    CHECK_FUTURE(f, CFUT_EBROKEN);
    CHECK_CONTAINS(future_error_message(f), "init refused");
    future_release(f);
    f = executor_call(ex, (cfut_fn)sqrt, "d:d", 1.0);
    CHECK_FUTURE(f, CFUT_EBROKEN);
    future_release(f);
    close_pool(ex);
}

/* task_timeout: the future fails CFUT_EDEADLINE at the deadline (without
 * waiting for the task); the rank cannot be stopped, so it gets no other
 * task until it has answered; then it is used again. */
static void test_task_timeout(void)
{
    xgate *g = xgate_open("timeout");
    executor_options o = {.max_workers = 1, .task_timeout = 0.5};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    double t0 = now();
    gate_arg a = gated(g, 1);
    future_t *f1 = executor_submit(ex, task_gated, &a, sizeof a);
    CHECK(xgate_started(g, 1, LONG_WAIT));
    CHECK_FUTURE(f1, CFUT_EDEADLINE);
    CHECK(now() - t0 >= 0.45);
    CHECK_CONTAINS(future_error_message(f1), "task_timeout");
    CHECK_CONTAINS(future_error_message(f1), "rank 1");
    future_t *f2 = executor_submit(ex, task_rank, NULL, 0);
    /* Time is what is under test: the late rank gets nothing meanwhile. */
    CHECK_STATUS(future_wait(f2, 0.2), CFUT_ETIMEDOUT);
    executor_stats s = stats(ex);
    CHECK_EQ(s.queued, 1);
    CHECK_EQ(s.running, 0);
    xgate_release(g, 1);
    CHECK_EQ(result_int(f2), 1);
    CHECK_STATUS(future_status(f1), CFUT_EDEADLINE); /* the late answer changes nothing */
    s = stats(ex);
    CHECK_EQ(s.completed, 1);
    CHECK_EQ(s.failed, 1);
    CHECK_EQ(s.workers, 1);
    CHECK_EQ(s.workers_lost, 0);
    future_release(f1);
    future_release(f2);
    close_pool(ex);
    xgate_close(g);
}

/* test_shutdown.py: test_shutdown_no_wait-like: without a cancel flag the
 * queued tasks still run; WAIT returns once they have. */
static void test_shutdown_wait_runs_queued(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    enum { N = 40 };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = executor_submit(ex, task_rank, NULL, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    for (int i = 0; i < N; i++) {
        CHECK(future_done(fs[i]));
        CHECK_INT(result_int(fs[i]), >=, 1);
        future_release(fs[i]);
    }
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK); /* idempotent */
    close_pool(ex);
}

/* test_shutdown.py: test_cancel_futures: CANCEL_PENDING (and TERMINATE and
 * KILL, which cannot stop a rank and so act the same) cancels what is
 * queued; what runs finishes; shutdown without WAIT returns promptly. */
static void shutdown_cancels(unsigned flag, const char *name)
{
    xgate *g = xgate_open(name);
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    enum { N = 7 };
    future_t *fs[N];
    for (int i = 0; i < N; i++) {
        gate_arg a = gated(g, i);
        fs[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 2, LONG_WAIT));
    double t0 = now();
    CHECK_STATUS(executor_shutdown(ex, flag), CFUT_OK);
    CHECK(now() - t0 < 5.0 * scale()); /* does not wait for the gated two */
    CHECK(!future_done(fs[0]) && !future_done(fs[1]));
    for (int i = 2; i < N; i++) {
        CHECK(future_cancelled(fs[i]));
        CHECK_STATUS(future_status(fs[i]), CFUT_ECANCELLED);
    }
    future_t *late = executor_submit(ex, task_rank, NULL, 0);
    CHECK_FUTURE(late, CFUT_ESHUTDOWN);
    future_release(late);
    xgate_release(g, 2);
    for (int i = 0; i < 2; i++)
        CHECK_FUTURE(fs[i], CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats s = stats(ex);
    CHECK_EQ(s.completed, 2);
    CHECK_EQ(s.cancelled, N - 2);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);
    close_pool(ex);
    xgate_close(g);
}

static void test_shutdown_cancel_pending(void)
{
    shutdown_cancels(EXECUTOR_CANCEL_PENDING, "cancel");
}

static void test_shutdown_terminate(void)
{
    shutdown_cancels(EXECUTOR_TERMINATE, "terminate");
}

static void test_shutdown_kill(void)
{
    shutdown_cancels(EXECUTOR_KILL, "kill");
}

/* test_shutdown.py / ExecutorTest.test_submit_after_shutdown (as
 * RuntimeError there): CFUT_ESHUTDOWN; shutdown is idempotent; unknown
 * flags are refused. A queued future can be cancelled on its own. */
static void test_submit_after_shutdown(void)
{
    xgate *g = xgate_open("after");
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    future_t *hold[2];
    for (int i = 0; i < 2; i++) {
        gate_arg a = gated(g, i);
        hold[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 2, LONG_WAIT));
    future_t *q = executor_submit(ex, task_rank, NULL, 0);
    CHECK(!future_cancel(hold[0])); /* running */
    CHECK(future_cancel(q));        /* queued */
    CHECK_STATUS(future_status(q), CFUT_ECANCELLED);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
    CHECK_STATUS(executor_shutdown(ex, 64), CFUT_EINVAL);
    future_t *f = executor_submit(ex, task_rank, NULL, 0);
    CHECK_FUTURE(f, CFUT_ESHUTDOWN);
    future_release(f);
    f = executor_call(ex, (cfut_fn)sqrt, "d:d", 4.0);
    CHECK_FUTURE(f, CFUT_ESHUTDOWN);
    future_release(f);
    xgate_release(g, 2);
    for (int i = 0; i < 2; i++) {
        CHECK_FUTURE(hold[i], CFUT_OK);
        future_release(hold[i]);
    }
    executor_stats s = stats(ex);
    CHECK_EQ(s.cancelled, 1);
    future_release(q);
    close_pool(ex);
    xgate_close(g);
}

/* max_workers = 1 with two ranks to spare: only rank 1 serves, rank 2 is
 * let go at once (it announces itself while the pool still works). */
static void test_max_workers_one(void)
{
    xgate *g = xgate_open("one");
    xgate *rel = xgate_open("released");
    executor_options o = {.max_workers = 1};
    executor_t *ex;
    if (!open_pool(&ex, &o)) {
        if (my_rank == 2) { /* released: say so */
            char path[128];
            snprintf(path, sizeof path, "%s/released-started", gate_dir);
            if (announce(path) != 0) {
                fprintf(stderr, "# rank 2: cannot announce on %s\n", path);
                serving_failures++;
            }
        }
        return;
    }
    gate_arg a = gated(g, 0);
    future_t *hold = executor_submit(ex, task_gated, &a, sizeof a);
    CHECK(xgate_started(g, 1, LONG_WAIT));
    CHECK(xgate_started(rel, 1, LONG_WAIT)); /* rank 2 is free already */
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers, 1);
    CHECK_EQ(s.workers_started, 1);
    CHECK_EQ(s.running, 1);
    future_t *fs[20];
    for (int i = 0; i < 20; i++)
        fs[i] = executor_submit(ex, task_rank, NULL, 0);
    xgate_release(g, 1);
    gate_out go;
    CHECK_FUTURE(hold, CFUT_OK);
    CHECK_STATUS(future_result_copy(hold, 0, &go, sizeof go), CFUT_OK);
    CHECK_EQ(go.rank, 1);
    future_release(hold);
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(result_int(fs[i]), 1);
        future_release(fs[i]);
    }
    int x = 1;
    future_t *f = executor_submit(ex, task_fail, &x, sizeof x);
    CHECK_FUTURE(f, CFUT_ETASK);
    CHECK_CONTAINS(future_error_message(f), "[rank 1]");
    future_release(f);
    close_pool(ex);
    xgate_close(g);
    xgate_close(rel);
}

/* Stats when quiescent; stats of a NULL executor. */
static void test_stats(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    executor_stats s;
    CHECK_STATUS(executor_get_stats(NULL, &s), CFUT_EINVAL);
    s = stats(ex);
    CHECK_EQ(s.workers_started, 2);
    CHECK_EQ(s.completed + s.failed + s.cancelled, 0);
    CHECK_EQ(s.queued + s.running, 0);
    future_t *fs[30];
    for (int i = 0; i < 30; i++) {
        int x = i;
        fs[i] = i % 3 == 0 ? executor_submit(ex, task_fail, &x, sizeof x)
                           : executor_submit(ex, task_rank, NULL, 0);
    }
    for (int i = 0; i < 30; i++) {
        CHECK_FUTURE(fs[i], i % 3 == 0 ? CFUT_ETASK : CFUT_OK);
        future_release(fs[i]);
    }
    future_t *bad = executor_submit(ex, (cfut_task_fn)(uintptr_t)not_code_data, NULL, 0);
    CHECK_FUTURE(bad, CFUT_EINVAL); /* refused at submit: counted nowhere */
    future_release(bad);
    s = stats(ex);
    CHECK_EQ(s.completed, 20);
    CHECK_EQ(s.failed, 10);
    CHECK_EQ(s.cancelled, 0);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.workers, 2);
    CHECK_EQ(s.workers_lost, 0);
    CHECK_EQ(s.workers_started, 2);
    close_pool(ex);
}

/* test_wait.py and test_as_completed.py on MPI futures: FIRST_COMPLETED
 * times out while everything is gated, then holds; FIRST_EXCEPTION sees a
 * failure; as-completed yields each future once, in completion order. */
static void test_wait_and_as_completed(void)
{
    xgate *g = xgate_open("wait");
    executor_options o = {.max_workers = 1};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    future_t *fs[3];
    for (int i = 0; i < 3; i++) {
        gate_arg a = gated(g, i);
        fs[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 1, LONG_WAIT));
    CHECK_STATUS(futures_wait(fs, 3, 0.1, FUTURES_FIRST_COMPLETED), CFUT_ETIMEDOUT);
    futures_iter *it = futures_as_completed(fs, 3);
    CHECK(it != NULL);
    CHECK_EQ(futures_iter_pending(it), 3);
    future_t *out = (future_t *)(uintptr_t)1;
    CHECK_STATUS(futures_next(it, 0.05, &out), CFUT_ETIMEDOUT);
    CHECK(out == NULL);
    struct pollfd p = {futures_iter_fd(it), POLLIN, 0};
    CHECK(p.fd >= 0);
    CHECK_EQ(poll(&p, 1, 0), 0);

    xgate_release(g, 1); /* one at a time, in order: one rank serves */
    CHECK_STATUS(futures_wait(fs, 3, LONG_WAIT, FUTURES_FIRST_COMPLETED), CFUT_OK);
    CHECK(future_done(fs[0]));
    CHECK_EQ(poll(&p, 1, (int)(LONG_WAIT * 1000)), 1);
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            CHECK(xgate_started(g, 1, LONG_WAIT));
            xgate_release(g, 1);
        }
        CHECK_STATUS(futures_next(it, LONG_WAIT, &out), CFUT_OK);
        CHECK(out == fs[i]);
        future_release(out);
    }
    CHECK_STATUS(futures_next(it, 0, &out), CFUT_OK);
    CHECK(out == NULL);
    futures_iter_free(it);
    CHECK_STATUS(futures_wait(fs, 3, LONG_WAIT, FUTURES_ALL_COMPLETED), CFUT_OK);

    /* FIRST_EXCEPTION returns on a failure while others still run. */
    gate_arg a = gated(g, 9);
    future_t *two[2];
    int x = 4;
    two[0] = executor_submit(ex, task_fail, &x, sizeof x);
    two[1] = executor_submit(ex, task_gated, &a, sizeof a);
    CHECK_STATUS(futures_wait(two, 2, LONG_WAIT, FUTURES_FIRST_EXCEPTION), CFUT_OK);
    CHECK_STATUS(future_status(two[0]), CFUT_ETASK);
    CHECK(xgate_started(g, 1, LONG_WAIT));
    CHECK(!future_done(two[1]));
    xgate_release(g, 1);
    CHECK_STATUS(futures_wait(two, 2, LONG_WAIT, FUTURES_ALL_COMPLETED), CFUT_OK);
    CHECK_STATUS(future_status(two[1]), CFUT_OK);
    for (int i = 0; i < 2; i++)
        future_release(two[i]);
    for (int i = 0; i < 3; i++)
        future_release(fs[i]);
    close_pool(ex);
    xgate_close(g);
}

/* A task function must be code: another rank finds it as object + offset.
 * Data pointers are refused at submit with CFUT_EINVAL; no rank runs them. */
static void test_not_code(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    void *heap = malloc(64);
    int on_stack = 0;
    cfut_task_fn bad[] = {
        (cfut_task_fn)(uintptr_t)not_code_data,
        (cfut_task_fn)(uintptr_t)heap,
        (cfut_task_fn)(uintptr_t)&on_stack,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        future_t *f = executor_submit(ex, bad[i], NULL, 0);
        CHECK(future_done(f));
        CHECK_STATUS(future_status(f), CFUT_EINVAL);
        CHECK(future_error_message(f) != NULL);
        future_release(f);
        f = executor_call(ex, (cfut_fn)(uintptr_t)bad[i], "i:i", 1);
        CHECK(future_done(f));
        CHECK_STATUS(future_status(f), CFUT_EINVAL);
        future_release(f);
    }
    free(heap);
    future_t *f = executor_submit(ex, NULL, NULL, 0);
    CHECK_STATUS(future_status(f), CFUT_EINVAL);
    future_release(f);
    f = executor_submit(ex, task_echo, NULL, 5);
    CHECK_STATUS(future_status(f), CFUT_EINVAL);
    future_release(f);
    f = executor_submit(ex, task_rank, NULL, 0); /* the pool is fine */
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
}

/* A rank's task may run crash-prone code in a process pool of its own
 * machine: the crash fails one future there, and the job goes on (a crash
 * of the rank itself would abort the whole job). docs/mpi.md section 7. */
static void test_process_pool_on_a_rank(void)
{
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    future_t *f = executor_submit(ex, task_local_pool, NULL, 0);
    int out[8];
    CHECK_FUTURE(f, CFUT_OK);
    CHECK_STATUS(future_result_copy(f, 0, out, sizeof out), CFUT_OK);
    for (int i = 0; i < 4; i++) {
        if (i == 2) {
            CHECK_STATUS(out[2 * i], CFUT_EWORKER);
            continue;
        }
        CHECK_STATUS(out[2 * i], CFUT_OK);
        CHECK_EQ(out[2 * i + 1], 10 * i);
    }
    future_release(f);
    f = executor_submit(ex, task_rank, NULL, 0); /* the rank is fine */
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
}

/* test_fork.c's rule on an MPI executor: in a child forked while a task
 * runs on a rank and another is queued, the inherited futures are done with
 * CFUT_EBROKEN, and a new submission fails the same way; the parent is
 * unaffected. (The child makes no MPI call.) */
static void test_fork_child_futures(void)
{
    xgate *g = xgate_open("fork");
    executor_options o = {.max_workers = 1};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    if (TH_TSAN)
        skip("TSan cannot follow a fork of a threaded process");
    gate_arg a = gated(g, 0);
    future_t *run = executor_submit(ex, task_gated, &a, sizeof a);
    CHECK(xgate_started(g, 1, LONG_WAIT));
    future_t *queued = executor_submit(ex, task_rank, NULL, 0);
    /* The child reports through a pipe: under valgrind its exit status is
     * valgrind's (the child leaks what its missing manager thread held). */
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int bad = 0;
        if (future_wait(run, 2.0 * scale()) != CFUT_OK || future_status(run) != CFUT_EBROKEN)
            bad |= 1;
        if (future_wait(queued, 2.0 * scale()) != CFUT_OK ||
            future_status(queued) != CFUT_EBROKEN)
            bad |= 2;
        future_t *f = executor_submit(ex, task_rank, NULL, 0);
        if (future_status(f) != CFUT_EBROKEN)
            bad |= 4;
        ssize_t w = write(fds[1], &bad, sizeof bad);
        _exit(w == (ssize_t)sizeof bad ? 0 : 1);
    }
    close(fds[1]);
    int bad = -1;
    ssize_t r = read(fds[0], &bad, sizeof bad);
    close(fds[0]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    xgate_release(g, 1);
    CHECK_FUTURE(run, CFUT_OK);
    CHECK_INT(result_int(queued), >=, 1);
    future_release(run);
    future_release(queued);
    close_pool(ex);
    xgate_close(g);
    CHECK(WIFEXITED(st));
    CHECK_EQ(r, sizeof bad);
    if (bad & 1)
        fail(__FILE__, __LINE__, "in the child, the future of the task running on a rank "
             "is not done with CFUT_EBROKEN (report %d)", bad);
    CHECK_EQ(bad, 0);
}

/* Serving ranks carry the pool's name while they serve. */
static void test_rank_names(void)
{
    xgate *g = xgate_open("names");
    executor_options o = {.name_prefix = "mpit"};
    executor_t *ex;
    if (!open_pool(&ex, &o))
        return;
    future_t *hold[2];
    for (int i = 0; i < 2; i++) {
        gate_arg a = gated(g, i);
        hold[i] = executor_submit(ex, task_gated, &a, sizeof a);
    }
    CHECK(xgate_started(g, 2, LONG_WAIT));
    future_t *fs[2];
    for (int i = 0; i < 2; i++)
        fs[i] = executor_submit(ex, task_comm, NULL, 0);
    xgate_release(g, 2);
    for (int i = 0; i < 2; i++) {
        CHECK_FUTURE(fs[i], CFUT_OK);
        const void *data;
        size_t len;
        CHECK_STATUS(future_result(fs[i], 0, &data, &len), CFUT_OK);
        CHECK(len > 0 && ((const char *)data)[len - 1] == '\0');
        CHECK(!strcmp(data, "mpit_r1") || !strcmp(data, "mpit_r2"));
        future_release(fs[i]);
        CHECK_FUTURE(hold[i], CFUT_OK);
        future_release(hold[i]);
    }
    close_pool(ex);
    xgate_close(g);
}

/* Bad options are refused on every rank before any message moves, so the
 * next round is not disturbed. */
static void test_bad_options_every_rank(void)
{
    executor_options o = {.max_workers = -1};
    executor_t *ex = (executor_t *)(uintptr_t)1;
    int rc = executor_new(&ex, EXECUTOR_MPI, &o);
    note_rank();
    if (my_rank != 0) {
        if (rc != CFUT_EINVAL || ex != NULL) {
            fprintf(stderr, "# rank %d: bad options: %s (want CFUT_EINVAL)\n", my_rank,
                    cfut_status_name(rc));
            serving_failures++;
        }
    } else {
        CHECK_STATUS(rc, CFUT_EINVAL);
        CHECK(ex == NULL);
    }
    o = (executor_options){.task_timeout = NAN};
    rc = executor_new(&ex, EXECUTOR_MPI, &o);
    if (my_rank != 0) {
        if (rc != CFUT_EINVAL || ex != NULL)
            serving_failures++;
    } else {
        CHECK_STATUS(rc, CFUT_EINVAL);
        CHECK(ex == NULL);
    }
    /* And a good round right after. */
    if (!open_pool(&ex, NULL))
        return;
    future_t *f = executor_submit(ex, task_rank, NULL, 0);
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
}

/* The pool talks on its own communicator: the program's messages on
 * MPI_COMM_WORLD, even with the pool's own tag numbers, are left alone, and
 * the program can use MPI between rounds. (mpi4py: MPICommExecutor leaves
 * the communicator usable after the with-block.) */
static void test_program_messages_untouched(void)
{
    int tags[] = {0xcf01, 0xcf02, 0};
    if (my_rank > 0) { /* before the round: messages rank 0 reads after it */
        for (int i = 0; i < 3; i++) {
            int v = my_rank * 10 + i;
            MPI_Send(&v, 1, MPI_INT, 0, tags[i], MPI_COMM_WORLD);
        }
    }
    executor_t *ex;
    if (!open_pool(&ex, NULL))
        return;
    future_t *f = executor_submit(ex, task_rank, NULL, 0);
    CHECK_INT(result_int(f), >=, 1);
    future_release(f);
    close_pool(ex);
    for (int r = 1; r < world; r++)
        for (int i = 0; i < 3; i++) {
            int flag = 0;
            double end = now() + LONG_WAIT;
            while (!flag && now() < end)
                MPI_Iprobe(r, tags[i], MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            CHECK(flag);
            int got = -1;
            MPI_Recv(&got, 1, MPI_INT, r, tags[i], MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            CHECK_EQ(got, r * 10 + i);
        }
}

/* Two executors in a row inside one case: rounds chain. */
static void test_rounds(void)
{
    for (int round = 0; round < 3; round++) {
        executor_t *ex;
        if (!open_pool(&ex, NULL))
            continue; /* a serving rank: on to the next round */
        future_t *f = executor_submit(ex, task_rank, NULL, 0);
        CHECK_INT(result_int(f), >=, 1);
        future_release(f);
        close_pool(ex);
    }
}

/* ---- -n 1 and MPI_THREAD_SINGLE ---------------------------------------- */

/* No rank to serve: CFUT_EINVAL, *out NULL, and again on a second call. */
static void test_one_rank_einval(void)
{
    executor_t *ex = (executor_t *)(uintptr_t)1;
    int rc = executor_new(&ex, EXECUTOR_MPI, NULL);
    note_rank();
    CHECK_STATUS(rc, CFUT_EINVAL);
    CHECK(ex == NULL);
    CHECK_EQ(world, 1);
    int inited = 0;
    MPI_Initialized(&inited);
    CHECK(inited); /* the library initialised it: it finalises at exit */
    ex = (executor_t *)(uintptr_t)1;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_MPI, NULL), CFUT_EINVAL);
    CHECK(ex == NULL);
    /* The other backends are unaffected. */
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, NULL), CFUT_OK);
    future_t *f = executor_submit(ex, task_echo, "x", 1);
    CHECK_FUTURE(f, CFUT_OK);
    future_release(f);
    executor_free(ex);
}

/* The program initialised MPI at MPI_THREAD_SINGLE: rank 0 would need a
 * manager thread, so every rank refuses (CFUT_EINVAL) and nothing hangs. */
static void test_thread_single_refused(void)
{
    executor_t *ex = (executor_t *)(uintptr_t)1;
    int rc = executor_new(&ex, EXECUTOR_MPI, NULL);
    if (my_rank != 0) {
        if (rc != CFUT_EINVAL || ex != NULL) {
            fprintf(stderr, "# rank %d: MPI_THREAD_SINGLE: %s (want CFUT_EINVAL)\n", my_rank,
                    cfut_status_name(rc));
            serving_failures++;
        }
        return;
    }
    CHECK_STATUS(rc, CFUT_EINVAL);
    CHECK(ex == NULL);
}

/* ---- main ------------------------------------------------------------- */

typedef struct mcase {
    const char *name;
    void (*fn)(void);
} mcase;

#define CASE(fn) { #fn, fn }

static const mcase full[] = {
    CASE(test_first_round_initialises_mpi),
    CASE(test_submit_result),
    CASE(test_error_names_rank),
    CASE(test_many_tasks),
    CASE(test_saturation_uses_every_rank),
    CASE(test_call),
    CASE(test_map_call_sqrt),
    CASE(test_map_chunks),
    CASE(test_large_8mib),
    CASE(test_large_64mib),
    CASE(test_huge_split),
    CASE(test_initializer_every_rank),
    CASE(test_initializer_fails),
    CASE(test_task_timeout),
    CASE(test_shutdown_wait_runs_queued),
    CASE(test_shutdown_cancel_pending),
    CASE(test_shutdown_terminate),
    CASE(test_shutdown_kill),
    CASE(test_submit_after_shutdown),
    CASE(test_max_workers_one),
    CASE(test_stats),
    CASE(test_wait_and_as_completed),
    CASE(test_not_code),
    CASE(test_rank_names),
    CASE(test_process_pool_on_a_rank),
    CASE(test_fork_child_futures),
    CASE(test_bad_options_every_rank),
    CASE(test_program_messages_untouched),
    CASE(test_rounds),
};

static const mcase single[] = {
    CASE(test_one_rank_einval),
};

static const mcase thread_single[] = {
    CASE(test_thread_single_refused),
};

static int tap_k, tap_failed;
static size_t tap_plan;

static void report(const char *name, bool ok, const char *why)
{
    if (my_rank != 0)
        return;
    if (tap_plan) {
        printf("1..%zu\n", tap_plan);
        tap_plan = 0;
    }
    tap_k++;
    if (!ok)
        tap_failed++;
    printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", tap_k, name, why ? " # SKIP " : "",
           why ? why : "");
    fflush(stdout);
}

static void run(const mcase *c)
{
    case_ex = NULL;
    case_skip = NULL;
    int jumped = setjmp(case_env);
    if (jumped == 0)
        c->fn();
    note_rank();
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++)
        xgate_close(&gates[i]); /* lets any gated task finish */
    if (case_ex) { /* a failed check left it open: let the serving ranks go */
        executor_shutdown(case_ex, EXECUTOR_CANCEL_PENDING);
        executor_free(case_ex);
        case_ex = NULL;
    }
    report(c->name, jumped != 1, jumped == 2 ? case_skip : NULL);
}

/* Rank 0 makes the gates' directory; every rank learns its name. */
static void share_gate_dir(void)
{
    if (my_rank == 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(gate_dir, sizeof gate_dir, "%s/cfut-mpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(gate_dir)) {
            printf("Bail out! mkdtemp: %s\n", strerror(errno));
            fflush(stdout);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    MPI_Bcast(gate_dir, sizeof gate_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
}

/* Once no executor exists: what the serving ranks saw, and MPI is still
 * the program's (initialised, not finalised, usable). */
static void final_checks(void)
{
    int total = 0;
    MPI_Reduce(&serving_failures, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (my_rank == 0 && total)
        printf("# serving ranks saw %d unexpected answers (their stderr says which)\n", total);
    report("serving_ranks_saw_what_they_should", total == 0, NULL);
    int finalized = 1, sum = 0, one = 1;
    MPI_Finalized(&finalized);
    bool ok = !finalized && MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) ==
                                MPI_SUCCESS && sum == world;
    report("mpi_still_usable_after_the_rounds", ok, NULL);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const mcase *cases = full;
    size_t n = sizeof full / sizeof full[0];
    if (!strcmp(mode, "--own-init")) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
        own_init = true;
    } else if (!strcmp(mode, "--single")) {
        cases = single;
        n = sizeof single / sizeof single[0];
    } else if (!strcmp(mode, "--thread-single")) {
        MPI_Init(&argc, &argv);
        own_init = true;
        cases = thread_single;
        n = sizeof thread_single / sizeof thread_single[0];
    } else if (*mode) {
        fprintf(stderr, "usage: %s [--own-init|--single|--thread-single]\n", argv[0]);
        return 2;
    }
    note_rank();
    /* Rank 0 prints the plan before its first result: it knows it is rank 0
     * only once MPI is initialised (by the first case, unless own_init). */
    tap_plan = n + (cases == single ? 0 : cases == full ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        run(&cases[i]);
        if (i == 0 && cases == full)
            share_gate_dir();
    }
    if (cases == full)
        final_checks();
    else if (cases == thread_single) {
        int total = 0;
        MPI_Reduce(&serving_failures, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
        report("serving_ranks_saw_what_they_should", total == 0, NULL);
    }
    if (my_rank == 0 && *gate_dir)
        rmdir(gate_dir);
    if (own_init)
        MPI_Finalize(); /* ours to do: the library must not have */
    /* Otherwise the library finalises at exit (mpiexec fails the job if a
     * rank exits without finalising). */
    return my_rank == 0 && tap_failed ? 1 : 0;
}
