/* test/test_faults.c: fault injection (issue #7).
 *
 * A representative workload runs once with injection off to count what it
 * makes (allocations, or threads, processes, descriptors, mappings: the
 * hooks of lib/alloc.c and lib/fault.c), then once for every n from 1 to
 * that count with the nth one failing. Each run happens in a fresh forked
 * process, so it starts from the same state, a crash or a hang names its n,
 * and the leak checkers (ASan, valgrind) check each run on its own at its
 * exit. Every call must succeed or return a documented failure (CFUT_ENOMEM,
 * CFUT_ESYS, a broken pool...), every future must complete, every callback
 * run exactly once, and nothing may be left behind: no descriptor, no
 * thread, no child process, no memory.
 *
 * The countdown is global to the process: in a process pool the failing
 * allocation may land in the manager thread (and, with the fork start
 * method, in a worker, which inherits the countdown). Both must still end in
 * a status.
 *
 * Last, a worker that stops reading its channel (CFUT_TEST_WORKER_CRASH=
 * stall) with an 8 MiB argument on its way: nothing hangs, task_timeout
 * turns the tasks into CFUT_EDEADLINE, and shutdown(KILL | WAIT) ends the
 * rest.
 *
 * The hooks are internal (cfut__*): the test links the static library. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

/* ---- what a run may end with --------------------------------------------- */

#define BIT(s) (1u << (s))

/* Statuses a future of this workload may end with when something it needed
 * could not be made: out of memory (submitting, completing, or in the task's
 * cfut_return, then as CFUT_ETASK with code CFUT_ENOMEM), no worker could
 * be started (CFUT_ESYS, or CFUT_ENOMEM), and for process pools a broken
 * pool (a worker died while starting) or a worker lost. */
static const unsigned thread_faults = BIT(CFUT_ENOMEM) | BIT(CFUT_ESYS);
static const unsigned process_faults =
    BIT(CFUT_ENOMEM) | BIT(CFUT_ESYS) | BIT(CFUT_EBROKEN) | BIT(CFUT_EWORKER);

/* What one run reports to the loop (shared memory: the run is a child). */
typedef struct report {
    long made;          /* allocations (or resources of the kind) made */
    unsigned seen;      /* BIT(status) for each failure met where success was possible */
    int ctor_failed;    /* constructors that returned NULL / failed */
} report;

static report *rep;

/* Records that `status` was met where the workload hoped for success. */
static void saw(int status)
{
    if (status != CFUT_OK)
        rep->seen |= BIT(status);
}

/* ---- tasks ---------------------------------------------------------------- */

enum { ECHO_LEN = 24, FAIL_CODE = 7, BIG = 100 << 10, MAP_N = 12 };

/* A result of 24 bytes: more than the inline 16, so completing allocates. */
static void echo_expect(int x, unsigned char out[ECHO_LEN])
{
    for (int i = 0; i < ECHO_LEN; i++)
        out[i] = (unsigned char)(x * 31 + i);
}

static int task_echo(cfut_task *t, const void *arg, size_t len)
{
    int x;
    if (len != sizeof x)
        return cfut_fail(t, 1, "bad argument length %zu", len);
    memcpy(&x, arg, sizeof x);
    unsigned char out[ECHO_LEN];
    echo_expect(x, out);
    return cfut_return(t, out, sizeof out);
}

static int task_fail(cfut_task *t, const void *arg, size_t len)
{
    (void)arg;
    return cfut_fail(t, FAIL_CODE, "failing on purpose (%zu-byte argument)", len);
}

/* A large argument comes back reversed: large both ways (shared memory in
 * process pools, when there is some). */
static int task_reverse(cfut_task *t, const void *arg, size_t len)
{
    unsigned char *out = malloc(len ? len : 1);
    if (!out)
        return cfut_fail(t, CFUT_ENOMEM, "no memory in the task");
    for (size_t i = 0; i < len; i++)
        out[i] = ((const unsigned char *)arg)[len - 1 - i];
    int rc = cfut_return(t, out, len);
    free(out);
    return rc;
}

static int task_square(cfut_task *t, const void *arg, size_t len)
{
    int x;
    if (len != sizeof x)
        return cfut_fail(t, 1, "bad item length %zu", len);
    memcpy(&x, arg, sizeof x);
    x *= x;
    return cfut_return(t, &x, sizeof x);
}

/* The task that sleeps until its worker is killed (a worker process's
 * cfut_should_stop() stays false). */
static int task_forever(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    while (!cfut_should_stop(t))
        pause();
    return 0;
}

static int add3(int a, int b, int c) { return a + b + c; }

static unsigned char *big_arg(void)
{
    unsigned char *b = malloc(BIG);
    CHECK(b != NULL);
    for (size_t i = 0; i < BIG; i++)
        b[i] = (unsigned char)(i * 7 + (i >> 9));
    return b;
}

/* ---- checking futures ----------------------------------------------------- */

/* A done future that failed carries a message (docs/errors.md). */
static void check_failed_shape(future_t *f)
{
    CHECK(future_done(f));
    CHECK(future_error_message(f) != NULL);
}

/* A future that should have given `want` (want_len bytes) gave it or ended
 * with an allowed failure: a status in `allowed`, or CFUT_ETASK with code
 * CFUT_ENOMEM (a task whose cfut_return could not copy its result). */
static void check_value(future_t *f, const void *want, size_t want_len, unsigned allowed)
{
    const void *data;
    size_t len;
    int st = future_result(f, 0, &data, &len);
    CHECK(st != CFUT_ETIMEDOUT); /* done by now */
    saw(st);
    if (st == CFUT_OK) {
        CHECK_EQ(len, want_len);
        CHECK(memcmp(data, want, want_len) == 0);
        return;
    }
    check_failed_shape(f);
    if (st == CFUT_ETASK && future_error_code(f) == CFUT_ENOMEM)
        return;
    if (!(allowed & BIT(st)))
        th_fail(__FILE__, __LINE__, "future ended with %s (code %d): %s", cfut_status_name(st),
                future_error_code(f), future_error_message(f));
}

/* The failing task: CFUT_ETASK with its own code, or an allowed failure. */
static void check_fail_task(future_t *f, unsigned allowed)
{
    int st = future_status(f);
    CHECK(st != CFUT_ETIMEDOUT && st != CFUT_OK);
    check_failed_shape(f);
    if (st == CFUT_ETASK && (future_error_code(f) == FAIL_CODE ||
                             future_error_code(f) == CFUT_ENOMEM))
        return;
    saw(st);
    if (!(allowed & BIT(st)))
        th_fail(__FILE__, __LINE__, "failing task ended with %s (code %d): %s",
                cfut_status_name(st), future_error_code(f), future_error_message(f));
}

/* ---- callbacks ------------------------------------------------------------ */

enum { MAX_FUTS = 8 };

typedef struct cb_count {
    _Atomic int runs[MAX_FUTS];
    bool registered[MAX_FUTS];
} cb_count;

static void on_done(future_t *f, void *user)
{
    CHECK(future_done(f));
    atomic_fetch_add((_Atomic int *)user, 1);
}

static void add_callback(cb_count *c, future_t *f, int i)
{
    int rc = future_add_done_callback(f, on_done, &c->runs[i]);
    if (rc != CFUT_OK) {
        CHECK_STATUS(rc, CFUT_ENOMEM);
        saw(rc);
    }
    c->registered[i] = rc == CFUT_OK;
}

/* Each callback that was registered ran exactly once; the others never. */
static void check_callbacks(cb_count *c, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(atomic_load(&c->runs[i]), c->registered[i] ? 1 : 0);
}

/* ---- as-completed --------------------------------------------------------- */

static bool fd_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* An iterator (and its descriptor) over fs, made before they complete. */
typedef struct iter {
    futures_iter *it;
    int fd;
} iter;

static iter iter_start(future_t *const *fs, int n)
{
    iter r = {futures_as_completed(fs, (size_t)n), -1};
    if (!r.it) {
        rep->ctor_failed++;
        saw(CFUT_ENOMEM);
        return r;
    }
    errno = 0;
    r.fd = futures_iter_fd(r.it);
    if (r.fd < 0) {
        CHECK(errno == EMFILE || errno == ENFILE || errno == ENOMEM);
        rep->ctor_failed++;
        saw(CFUT_ESYS);
    }
    return r;
}

/* Once every future is done: the descriptor is readable, each distinct
 * future comes out once, then the end. */
static void iter_finish(iter *r, int n)
{
    if (!r->it)
        return;
    if (r->fd >= 0)
        CHECK(fd_readable(r->fd));
    int yielded = 0;
    for (;;) {
        future_t *f;
        CHECK_STATUS(futures_next(r->it, 5, &f), CFUT_OK);
        if (!f)
            break;
        CHECK(future_done(f));
        future_release(f);
        yielded++;
    }
    CHECK_EQ(yielded, n);
    CHECK_EQ(futures_iter_pending(r->it), 0);
    if (r->fd >= 0)
        CHECK(fd_readable(r->fd)); /* all yielded: stays readable */
    futures_iter_free(r->it);
}

/* Waits for all, with futures_wait (which may fail for want of memory: then
 * one by one, which never allocates). */
static void wait_all(future_t *const *fs, int n)
{
    int rc = futures_wait(fs, (size_t)n, -1, FUTURES_ALL_COMPLETED);
    if (rc != CFUT_OK) {
        CHECK_STATUS(rc, CFUT_ENOMEM);
        saw(rc);
        for (int i = 0; i < n; i++)
            CHECK_STATUS(future_wait(fs[i], -1), CFUT_OK);
    }
    for (int i = 0; i < n; i++)
        CHECK(future_done(fs[i]));
}

/* ---- the executor workload ------------------------------------------------ */

typedef struct pool_cfg {
    executor_kind kind;
    executor_start start;
} pool_cfg;

/* executor_new, four submissions (a failing one, a large one), callbacks,
 * an as-completed iterator and its descriptor, futures_wait, executor_call,
 * executor_map, a submission after shutdown, free. */
static void executor_workload(const void *arg)
{
    const pool_cfg *cfg = arg;
    bool procs = cfg->kind == EXECUTOR_PROCESSES;
    unsigned allowed = procs ? process_faults : thread_faults;
    executor_options o = {.max_workers = 2, .start = cfg->start};
    executor_t *ex = (executor_t *)1;
    int rc = executor_new(&ex, cfg->kind, &o);
    if (rc != CFUT_OK) {
        CHECK(ex == NULL);
        CHECK(rc == CFUT_ENOMEM || rc == CFUT_ESYS);
        rep->ctor_failed++;
        saw(rc);
        return;
    }
    unsigned char *big = big_arg();
    int xs[2] = {3, 4};
    future_t *fs[MAX_FUTS];
    int n = 0;
    fs[n++] = executor_submit(ex, task_echo, &xs[0], sizeof xs[0]);
    fs[n++] = executor_submit(ex, task_fail, big, 100); /* heap argument */
    fs[n++] = executor_submit(ex, task_reverse, big, BIG);
    fs[n++] = executor_submit(ex, task_echo, &xs[1], sizeof xs[1]);
    for (int i = 0; i < n; i++)
        CHECK(fs[i] != NULL);
    cb_count cbs = {0};
    for (int i = 0; i < n; i++)
        add_callback(&cbs, fs[i], i);
    iter it = iter_start(fs, n);
    fs[n++] = executor_call(ex, (cfut_fn)add3, "i:iii", 1, 2, 3);
    CHECK(fs[n - 1] != NULL);

    wait_all(fs, 4);
    int items[MAP_N], squares[MAP_N], statuses[MAP_N];
    for (int i = 0; i < MAP_N; i++) {
        items[i] = i + 1;
        squares[i] = -1;
        statuses[i] = -1;
    }
    cfut_map_options mo = {.chunksize = 4};
    int mrc = executor_map(ex, task_square, items, MAP_N, sizeof(int), squares, sizeof(int),
                           statuses, &mo);
    CHECK_STATUS(future_wait(fs[4], -1), CFUT_OK);
    iter_finish(&it, 4);

    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    future_t *late = executor_submit(ex, task_echo, &xs[0], sizeof xs[0]);
    /* A broken process pool says so first (its workers died starting). */
    int lst = future_status(late);
    if (lst != CFUT_ESHUTDOWN && lst != CFUT_ENOMEM && !(procs && lst == CFUT_EBROKEN))
        th_fail(__FILE__, __LINE__, "a submission after shutdown ended with %s: %s",
                cfut_status_name(lst), future_error_message(late));
    future_release(late);
    check_callbacks(&cbs, 4);

    unsigned char want[ECHO_LEN];
    echo_expect(3, want);
    check_value(fs[0], want, ECHO_LEN, allowed);
    check_fail_task(fs[1], allowed);
    unsigned char *rev = malloc(BIG);
    CHECK(rev != NULL);
    for (size_t i = 0; i < BIG; i++)
        rev[i] = big[BIG - 1 - i];
    check_value(fs[2], rev, BIG, allowed);
    free(rev);
    echo_expect(4, want);
    check_value(fs[3], want, ECHO_LEN, allowed);
    int six = 6;
    check_value(fs[4], &six, sizeof six, allowed);

    /* The map: each item its square or an allowed failure; an item never
     * reported only when the map says it ran out of memory. */
    saw(mrc);
    bool any_bad = false;
    for (int i = 0; i < MAP_N; i++) {
        if (statuses[i] == -1) {
            CHECK_STATUS(mrc, CFUT_ENOMEM);
            any_bad = true;
            continue;
        }
        saw(statuses[i]);
        if (statuses[i] == CFUT_OK) {
            CHECK_EQ(squares[i], items[i] * items[i]);
            continue;
        }
        any_bad = true;
        /* ETASK: a chunk's cfut_return failed (code CFUT_ENOMEM). */
        if (statuses[i] != CFUT_ETASK && !(allowed & BIT(statuses[i])))
            th_fail(__FILE__, __LINE__, "map item %d ended with %s", i,
                    cfut_status_name(statuses[i]));
    }
    CHECK_EQ(mrc == CFUT_OK, !any_bad);

    executor_stats s;
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    CHECK_EQ(s.queued, 0);
    CHECK_EQ(s.running, 0);
    CHECK_EQ(s.workers, 0);
    for (int i = 0; i < n; i++)
        future_release(fs[i]);
    free(big);
    executor_free(ex);
}

/* ---- the executor-less workload ------------------------------------------- */

/* future_new, callbacks, an iterator, set_result / set_error / cancel. */
static void future_workload(const void *arg)
{
    (void)arg;
    future_t *fs[3];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        future_t *f = future_new();
        if (!f) {
            rep->ctor_failed++;
            saw(CFUT_ENOMEM);
            continue;
        }
        fs[n++] = f;
    }
    cb_count cbs = {0};
    for (int i = 0; i < n; i++) {
        add_callback(&cbs, fs[i], i);
        add_callback(&cbs, fs[i], MAX_FUTS - 1 - i);
    }
    iter it = iter_start(fs, n);
    unsigned char want[ECHO_LEN];
    echo_expect(5, want);
    for (int i = 0; i < n; i++) {
        if (i < 2)
            CHECK(future_set_running_or_notify_cancel(fs[i]));
        int rc;
        if (i == 0) {
            rc = future_set_result(fs[i], want, sizeof want);
        } else if (i == 1) {
            rc = future_set_error(fs[i], FAIL_CODE, "failing on purpose (%d)", i);
        } else {
            CHECK(future_cancel(fs[i]));
            rc = CFUT_OK;
        }
        if (rc != CFUT_OK) {
            /* Nothing happened: the future is still running, and a second
             * try with injection spent completes it. */
            CHECK_STATUS(rc, CFUT_ENOMEM);
            saw(rc);
            CHECK(!future_done(fs[i]));
            CHECK(cbs.runs[i] == 0);
            rc = i == 0 ? future_set_result(fs[i], want, sizeof want)
                        : future_set_error(fs[i], FAIL_CODE, "failing on purpose (%d)", i);
            CHECK_STATUS(rc, CFUT_OK);
        }
        CHECK_STATUS(future_set_result(fs[i], "x", 1), CFUT_ESTATE);
    }
    wait_all(fs, n);
    iter_finish(&it, n);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(atomic_load(&cbs.runs[i]), cbs.registered[i]);
        CHECK_EQ(atomic_load(&cbs.runs[MAX_FUTS - 1 - i]), cbs.registered[MAX_FUTS - 1 - i]);
    }
    /* Which future is which depends on which future_new failed; the
     * outcome follows the order of completion calls, not of creation. */
    if (n > 0) {
        const void *d;
        size_t len;
        CHECK_STATUS(future_result(fs[0], 0, &d, &len), CFUT_OK);
        CHECK(len == sizeof want && memcmp(d, want, len) == 0);
    }
    if (n > 1) {
        CHECK_STATUS(future_status(fs[1]), CFUT_ETASK);
        CHECK_EQ(future_error_code(fs[1]), FAIL_CODE);
        check_failed_shape(fs[1]);
    }
    if (n > 2) {
        CHECK_STATUS(future_status(fs[2]), CFUT_ECANCELLED);
        check_failed_shape(fs[2]);
    }
    for (int i = 0; i < n; i++)
        future_release(fs[i]);
}

/* ---- the loop ------------------------------------------------------------- */

enum { ALLOC = -1 }; /* the kind for allocations; others: cfut__fault_kind */

static const char *kind_name(int kind)
{
    switch (kind) {
    case ALLOC: return "allocation";
    case CFUT__FAULT_THREAD: return "pthread_create";
    case CFUT__FAULT_PROCESS: return "fork/posix_spawn";
    case CFUT__FAULT_FD: return "socketpair/eventfd/memfd";
    case CFUT__FAULT_MMAP: return "mmap";
    default: return "?";
    }
}

static long arm(int kind, long n)
{
    return kind == ALLOC ? cfut__alloc_fail_nth(n) : cfut__fault_nth((cfut__fault_kind)kind, n);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Open descriptors (the one opendir() uses counts in both counts). */
static int count_fds(void) { return count_entries("/proc/self/fd"); }
static int count_threads(void) { return count_entries("/proc/self/task"); }

/* pthread_join() returns when the kernel clears the thread's tid, a moment
 * before its /proc/self/task entry goes: allow that moment (up to 2 s). */
static int settled_threads(void)
{
    int n = count_threads();
    for (int i = 0; i < 2000 && n > 1; i++) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
        n = count_threads();
    }
    return n;
}

/* Seconds one run may take (times CFUT_TEST_TIMEOUT_MULT): a few hundred
 * times what it needs. */
enum { ITER_TIMEOUT = 5 };

/* One run in a fresh child: arm the nth failure, run, check that nothing is
 * left. Returns the child's wait status. */
static int run_once(void (*workload)(const void *), const void *cfg, int kind, long n)
{
    memset(rep, 0, sizeof *rep);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm((unsigned)(ITER_TIMEOUT * th_scale())); /* a hang names its n */
        int fds = count_fds();
        arm(kind, n);
        workload(cfg);
        rep->made = arm(kind, 0);
        CHECK_EQ(count_fds(), fds);
        CHECK_EQ(settled_threads(), 1);
        errno = 0;
        CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
        fflush(stdout);
        exit(0); /* exit(): the leak checkers report now */
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        CHECK_EQ(errno, EINTR);
    return st;
}

static void describe(int st, char *buf, size_t len)
{
    if (WIFEXITED(st))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        snprintf(buf, len, "hung (no end in %.0f s)", ITER_TIMEOUT * th_scale());
    else
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* Runs the workload with the nth `kind` failing for every n it reaches, and
 * prints what the runs ended with. */
static void loop(const char *what, void (*workload)(const void *), const void *cfg, int kind)
{
    rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(rep != MAP_FAILED);
    char why[96];
    int st = run_once(workload, cfg, kind, 0);
    describe(st, why, sizeof why);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        th_fail(__FILE__, __LINE__, "%s: the run without injection failed: %s", what, why);
    CHECK_EQ(rep->seen, 0);
    long count = rep->made;
    /* Threads make their allocations in an order (and a number) that varies
     * from run to run: look a little past the count. */
    long last = count + (kind == ALLOC ? count / 8 + 2 : 1);
    long stride = RUNNING_ON_VALGRIND ? 7 : 1;
    long runs = 0, fired = 0, absorbed = 0, ctor = 0, bad = 0, hung = 0;
    long by_status[CFUT_STATUS_COUNT_] = {0};
    for (long n = 1; n <= last; n += stride) {
        st = run_once(workload, cfg, kind, n);
        runs++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            describe(st, why, sizeof why);
            printf("# %s, %s #%ld failing: %s\n", what, kind_name(kind), n, why);
            /* Enough to say; a hang costs ITER_TIMEOUT. */
            bool alarm_hit = WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM;
            hung += alarm_hit;
            if (++bad >= 6 || hung >= 2)
                break;
            continue;
        }
        if (rep->made < n)
            continue; /* this run never reached an nth */
        fired++;
        absorbed += rep->seen == 0;
        ctor += rep->ctor_failed > 0;
        for (int s = 0; s < CFUT_STATUS_COUNT_; s++)
            by_status[s] += (rep->seen & BIT(s)) != 0;
    }
    printf("# %s, %s failing: %ld made without injection; %ld runs%s, %ld reached the "
           "failure: %ld absorbed (every call succeeded), %ld with a constructor failing\n",
           what, kind_name(kind), count, runs,
           stride > 1 ? " (every 7th n: under valgrind)" : "", fired, absorbed, ctor);
    for (int s = 0; s < CFUT_STATUS_COUNT_; s++)
        if (by_status[s])
            printf("#   %ld runs met %s\n", by_status[s], cfut_status_name(s));
    munmap(rep, sizeof *rep);
    rep = NULL;
    if (bad)
        th_fail(__FILE__, __LINE__, "%s: %ld runs failed (see above)", what, bad);
    CHECK_INT(fired, >, 0);
}

/* ---- cases: allocations ---------------------------------------------------- */

static const pool_cfg threads = {EXECUTOR_THREADS, EXECUTOR_START_DEFAULT};
static const pool_cfg fork_pool = {EXECUTOR_PROCESSES, EXECUTOR_START_FORK};
static const pool_cfg forkserver_pool = {EXECUTOR_PROCESSES, EXECUTOR_START_FORKSERVER};
static const pool_cfg spawn_pool = {EXECUTOR_PROCESSES, EXECUTOR_START_SPAWN};

static void alloc_futures(void) { loop("futures", future_workload, NULL, ALLOC); }
static void alloc_threads(void) { loop("thread pool", executor_workload, &threads, ALLOC); }
/* gcc 12's libasan does not lock its allocator around fork(): a worker
 * forked while another thread allocates can deadlock in its first malloc.
 * So the fork start method is left to the other configurations there. */
#define SKIP_FORK_UNDER_ASAN()                                                 \
    do {                                                                       \
        if (TH_ASAN) {                                                         \
            printf("# fork start method skipped under ASan (not fork-safe)\n"); \
            return;                                                            \
        }                                                                      \
    } while (0)

static void alloc_fork(void)
{
    SKIP_FORK_UNDER_ASAN();
    loop("process pool (fork)", executor_workload, &fork_pool, ALLOC);
}
static void alloc_forkserver(void)
{
    loop("process pool (forkserver)", executor_workload, &forkserver_pool, ALLOC);
}
static void alloc_spawn(void) { loop("process pool (spawn)", executor_workload, &spawn_pool, ALLOC); }

/* ---- cases: threads, processes, descriptors, mappings ---------------------- */

static void each_kind(const char *what, const pool_cfg *cfg)
{
    for (int k = 0; k < CFUT__FAULT_KINDS; k++) {
        /* A kind this workload never makes has nothing to loop over. */
        if (cfg->kind == EXECUTOR_THREADS && (k == CFUT__FAULT_PROCESS || k == CFUT__FAULT_MMAP))
            continue;
        loop(what, executor_workload, cfg, k);
    }
}

static void faults_threads(void) { each_kind("thread pool", &threads); }
static void faults_fork(void)
{
    SKIP_FORK_UNDER_ASAN();
    each_kind("process pool (fork)", &fork_pool);
}
static void faults_forkserver(void) { each_kind("process pool (forkserver)", &forkserver_pool); }
static void faults_spawn(void) { each_kind("process pool (spawn)", &spawn_pool); }

/* The first pthread_create of a thread pool fails: no worker is alive, so
 * the submission that needed one fails with CFUT_ESYS and says why; the next
 * submission starts a worker and runs (executor.h: "CFUT_ESYS (no worker
 * could be started)"). */
static void thread_create_fails_first(void)
{
    executor_t *ex;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_THREADS, &(executor_options){.max_workers = 1}),
                 CFUT_OK);
    cfut__fault_nth(CFUT__FAULT_THREAD, 1);
    int x = 2;
    future_t *f = executor_submit(ex, task_echo, &x, sizeof x);
    CHECK_STATUS(future_status(f), CFUT_ESYS);
    CHECK_CONTAINS(future_error_message(f), "cannot start a worker thread");
    future_t *g = executor_submit(ex, task_echo, &x, sizeof x);
    unsigned char want[ECHO_LEN];
    echo_expect(2, want);
    CHECK_STATUS(future_result_copy(g, -1, want, sizeof want), CFUT_OK);
    CHECK_EQ(cfut__fault_nth(CFUT__FAULT_THREAD, 0), 2);
    future_release(f);
    future_release(g);
    executor_free(ex);
}

/* The first fork of a process pool fails: the queued tasks fail with
 * CFUT_ESYS naming the cause; the pool is not broken and the next
 * submission starts a worker. */
static void fork_fails_first(void)
{
    executor_t *ex;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES,
                              &(executor_options){.max_workers = 1,
                                                  .start = EXECUTOR_START_FORK}),
                 CFUT_OK);
    cfut__fault_nth(CFUT__FAULT_PROCESS, 1);
    int x = 2;
    future_t *f = executor_submit(ex, task_echo, &x, sizeof x);
    CHECK_STATUS(future_wait(f, -1), CFUT_OK);
    CHECK_STATUS(future_status(f), CFUT_ESYS);
    CHECK_CONTAINS(future_error_message(f), "cannot start a worker process");
    future_t *g = executor_submit(ex, task_echo, &x, sizeof x);
    unsigned char want[ECHO_LEN];
    CHECK_STATUS(future_result_copy(g, -1, want, sizeof want), CFUT_OK);
    future_release(f);
    future_release(g);
    executor_free(ex);
    cfut__fault_nth(CFUT__FAULT_PROCESS, 0);
}

/* Without shared memory (its mmap failed) a large value still travels,
 * through the channel, both ways. */
static void mmap_fails_large_values_travel(void)
{
    int fds = count_fds();
    executor_t *ex;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES,
                              &(executor_options){.max_workers = 1,
                                                  .start = EXECUTOR_START_FORK}),
                 CFUT_OK);
    cfut__fault_nth(CFUT__FAULT_MMAP, 1);
    unsigned char *big = big_arg();
    future_t *f = executor_submit(ex, task_reverse, big, BIG);
    const void *d;
    size_t len;
    CHECK_STATUS(future_result(f, -1, &d, &len), CFUT_OK);
    CHECK_EQ(len, BIG);
    for (size_t i = 0; i < BIG; i++)
        if (((const unsigned char *)d)[i] != big[BIG - 1 - i])
            th_fail(__FILE__, __LINE__, "byte %zu differs", i);
    CHECK_EQ(cfut__fault_nth(CFUT__FAULT_MMAP, 0), 1);
    future_release(f);
    free(big);
    executor_free(ex);
    CHECK_EQ(count_fds(), fds);
}

/* Few descriptors left (RLIMIT_NOFILE): every call that makes one can fail,
 * also those without a hook (epoll_create1, pidfd_open, dup). */
static void low_nofile(void)
{
    /* valgrind 3.19 emulates the limit for its guest, and its socketpair()
     * wrapper, when the second descriptor lands above it, closes both and
     * still reports success: the pool then holds a closed channel whose
     * number the next memfd_create() reuses, and waits on it forever. */
    if (RUNNING_ON_VALGRIND)
        th_skip("valgrind's socketpair() over RLIMIT_NOFILE returns closed descriptors");
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    int base = count_fds();
    /* Above base + 24 the workload has all it needs. */
    for (int extra = 0; extra <= 24; extra++) {
        static const pool_cfg *const cfgs[] = {&threads, &fork_pool, &forkserver_pool};
        for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
            if (TH_ASAN && cfgs[c] == &fork_pool)
                continue; /* see SKIP_FORK_UNDER_ASAN */
            rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
            CHECK(rep != MAP_FAILED);
            memset(rep, 0, sizeof *rep);
            fflush(stdout);
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                alarm((unsigned)(ITER_TIMEOUT * th_scale()));
                struct rlimit lim = {(rlim_t)(base + extra), old.rlim_max};
                CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
                executor_workload(cfgs[c]);
                CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
                CHECK_EQ(count_fds(), base);
                exit(0);
            }
            int st;
            while (waitpid(pid, &st, 0) < 0)
                CHECK_EQ(errno, EINTR);
            munmap(rep, sizeof *rep);
            rep = NULL;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char why[96];
                describe(st, why, sizeof why);
                th_fail(__FILE__, __LINE__, "%zu descriptors (+%d) for config %zu: %s",
                        (size_t)base, extra, c, why);
            }
        }
    }
}

/* ---- a worker that stops reading ------------------------------------------ */

/* Every worker of the pool stalls after INIT (it never reads its channel
 * again). An 8 MiB argument (through the channel, the first worker having
 * no shared memory; then through shared memory) and small ones: submitting
 * never blocks, task_timeout ends each with CFUT_EDEADLINE. A second pool:
 * shutdown(KILL | WAIT) returns and leaves every future done, each failed
 * or cancelled. */
static void stalled_worker(void)
{
    int fds = count_fds();
    size_t huge = (size_t)8 << 20;
    unsigned char *buf = calloc(1, huge);
    CHECK(buf != NULL);
    int x = 1;
    CHECK_EQ(setenv("CFUT_TEST_WORKER_CRASH", "stall", 1), 0);
    static const executor_start starts[] = {EXECUTOR_START_FORK, EXECUTOR_START_FORKSERVER};
    for (size_t k = 0; k < 2; k++) {
        executor_t *ex;
        executor_options o = {.max_workers = 1, .start = starts[k], .task_timeout = 0.3};
        CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
        if (k == 0)
            cfut__fault_nth(CFUT__FAULT_MMAP, 1); /* the first worker: no shared memory */
        future_t *fs[4] = {
            executor_submit(ex, task_reverse, buf, huge),
            executor_submit(ex, task_echo, &x, sizeof x),
            executor_submit(ex, task_reverse, buf, huge),
            executor_submit(ex, task_echo, &x, sizeof x),
        };
        CHECK_STATUS(futures_wait(fs, 4, -1, FUTURES_ALL_COMPLETED), CFUT_OK);
        for (int i = 0; i < 4; i++) {
            CHECK_STATUS(future_status(fs[i]), CFUT_EDEADLINE);
            CHECK_CONTAINS(future_error_message(fs[i]), "task_timeout");
            future_release(fs[i]);
        }
        cfut__fault_nth(CFUT__FAULT_MMAP, 0);
        executor_stats s;
        CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
        CHECK_EQ(s.workers_lost, 4);
        executor_free(ex);

        /* No deadline: shutdown ends it. */
        o.task_timeout = 0;
        CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
        if (k == 0)
            cfut__fault_nth(CFUT__FAULT_MMAP, 1);
        future_t *gs[3] = {
            executor_submit(ex, task_reverse, buf, huge),
            executor_submit(ex, task_echo, &x, sizeof x),
            executor_submit(ex, task_forever, NULL, 0),
        };
        CHECK_STATUS(executor_shutdown(ex, EXECUTOR_KILL | EXECUTOR_WAIT), CFUT_OK);
        for (int i = 0; i < 3; i++) {
            int st = future_status(gs[i]);
            if (st != CFUT_EWORKER && st != CFUT_ECANCELLED)
                th_fail(__FILE__, __LINE__, "start %zu: future %d: %s after shutdown(KILL|WAIT)",
                        k, i, cfut_status_name(st));
            future_release(gs[i]);
        }
        cfut__fault_nth(CFUT__FAULT_MMAP, 0);
        executor_free(ex);
    }
    CHECK_EQ(unsetenv("CFUT_TEST_WORKER_CRASH"), 0);
    free(buf);
    CHECK_EQ(count_fds(), fds);
    CHECK_EQ(settled_threads(), 1);
}

TH_CASES(
    TH_CASE(alloc_futures),
    TH_CASE(alloc_threads),
    TH_CASE(alloc_fork),
    TH_CASE(alloc_forkserver),
    TH_CASE(alloc_spawn),
    TH_CASE(faults_threads),
    TH_CASE(faults_fork),
    TH_CASE(faults_forkserver),
    TH_CASE(faults_spawn),
    TH_CASE(thread_create_fails_first),
    TH_CASE(fork_fails_first),
    TH_CASE(mmap_fails_large_values_travel),
    TH_CASE(low_nofile),
    TH_CASE(stalled_worker),
)
