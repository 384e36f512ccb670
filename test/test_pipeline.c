/* test/test_pipeline.c: the process pool's tasks sent ahead (pipelining,
 * docs/processes.md section 12b).
 *
 * With work queued deep, the manager sends a busy worker up to
 * CFUT__PIPELINE tasks (the one it runs and those behind it). The tasks
 * behind stay PENDING, count as queued, can still be cancelled (one
 * compare-and-swap on their slot in the shared control page, raced by the
 * worker's own), are cancelled by shutdown with EXECUTOR_CANCEL_PENDING, and
 * go back to the queue if their worker dies, unless the pool is broken.
 *
 * Making it deterministic: each case's pool has one worker (two in
 * test_worker_dies_broken_*, the second only to break the pool) whose
 * initializer blocks on a FIFO until the test has submitted everything, so
 * the worker's first dispatch finds the whole backlog queued: it sends task
 * 0 and pipelines tasks 1..held_behind() in the same frames, before task 0
 * can report that it runs. Task 0 then waits on another FIFO, so while the
 * test acts, exactly those tasks sit in the worker's channel. Tasks append
 * their index to a file when they run, so the test knows which ran, in
 * which order, and that a cancelled one never did. Nothing sleeps; every
 * wait has a deadline below the harness's timeout.
 *
 * Where the public API cannot show the path taken, the test looks inside:
 * test_cancel_held_* has task 0 read the slots of the shared control page
 * (process.h) in its worker, to prove the cancelled tasks were pipelined
 * ones (a task sent ahead looks like a queued one, by design);
 * test_accounting_* holds the manager thread in a done callback so the
 * worker starts a held task before the parent knows, and the cancel must
 * lose; test_shutdown_cancel_pending_no_memory_* fails shutdown's first
 * allocation (cfut__alloc_fail_nth), and the held tasks must still be
 * cancelled. The small outcomes of tasks sent ahead come back in their
 * slots: test_mixed_routes_* interleaves them with outcomes too large for
 * a slot, and test_slot_outcome_survives_death_* has the worker die right
 * after leaving one there (hook "publish") while the manager sleeps, which
 * it learns from the test's own mapping of the control pages. Every library
 * mutation tried on these paths (no slot CAS on either side, slots not
 * reset, no requeue, requeue reversed, pipelined tasks left out of the
 * stats or miscounted, no cancel of held tasks at shutdown, requeue into a
 * broken or terminated pool, no pipelining, no doorbell, slots not read
 * before a frame, a dead worker's slots not read: the last caught with
 * fork only, where the death comes in the same epoll batch) fails at least
 * one case.
 *
 * The fork start method is skipped under TSan (it cannot follow a fork of
 * a threaded process) and under ASan (gcc 12's libasan can deadlock a child
 * forked while another thread allocates, and here the test submits while
 * the manager forks; see test_faults.c). */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h" /* CFUT__PIPELINE, the slots and the region's layout */

/* Tasks queued behind task 0: deep enough that one worker holds the most
 * it may (16 per worker per extra task held). */
enum { N = 16 * (CFUT__PIPELINE - 1) + 8 };

/* How many tasks pipeline() sends behind task 0 when `queued` tasks wait
 * behind it and `workers` is max_workers (lib/process_pool.c). */
static int held_behind(int queued, int workers)
{
    int depth = 1 + queued / (16 * workers);
    return (depth < CFUT__PIPELINE ? depth : CFUT__PIPELINE) - 1;
}

/* ---- the tasks' side (they run in the workers) -------------------------- */

enum { GATED = 1, SLOTS = 2 };
enum { INIT_FAILED = 4242 }; /* the initializer's error code when told 'f' */

/* Every task gets the gate's directory, its index and what to do. */
typedef struct {
    char dir[32];
    int32_t index, flags;
} step_arg;

typedef struct {
    int32_t value, pid;
    uint32_t slots[CFUT__PIPELINE]; /* SLOTS: the control page as task 0 saw it */
} step_result;

static int32_t value_of(int i) { return 3 * i + 1; }

static void path_in(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%.32s/%s", dir, name);
}

/* Reads one byte from FIFO dir/name (the test holds it open for writing,
 * so this blocks until the test writes, never sees EOF). */
static int take_byte(const char *dir, const char *name, char *c)
{
    char path[64];
    path_in(path, sizeof path, dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, c, 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n == 1 ? 0 : -1;
}

/* Writes whole `len` bytes (at most PIPE_BUF: one atomic write) to dir/name,
 * opening it with `flags`. */
static int put_bytes(const char *dir, const char *name, int flags, const void *p, size_t len)
{
    char path[64];
    path_in(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = write(fd, p, len);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* This process's view of a worker's control pages: its shared memory is
 * the one mapping of a memfd "cfut-shm" of CFUT__SHM_SIZE bytes (a forked
 * worker may map it twice, and its parent maps it too; every view is the
 * same file). In the test process, with one worker alive, it is that
 * worker's. */
static cfut__control *find_control(void)
{
    cfut__shm s = {-1, th_find_mapping("memfd:cfut-shm", CFUT__SHM_SIZE)};
    return s.base ? cfut__shm_control(&s) : NULL;
}

static bool read_slots(uint32_t *out)
{
    cfut__control *c = find_control();
    for (unsigned i = 0; c && i < CFUT__PIPELINE; i++)
        out[i] = atomic_load(&c->slot[i].state);
    return c != NULL;
}

/* GATED: reports {index, pid} on FIFO "started", then waits for a byte on
 * FIFO "go". Then appends its index to "ran" and returns {3 index + 1,
 * pid}: 8 bytes, small enough for its slot when it was sent ahead, or with
 * SLOTS the whole step_result (too large: its OUTCOME frame carries it). */
static int task_step(cfut_task *t, const void *arg, size_t len)
{
    step_arg a;
    if (len != sizeof a)
        return cfut_fail(t, 1000, "task_step: %zu-byte argument", len);
    memcpy(&a, arg, sizeof a);
    step_result r;
    memset(&r, 0, sizeof r);
    r.pid = (int32_t)getpid();
    if (a.flags & GATED) {
        int32_t msg[2] = {a.index, r.pid};
        char c;
        if (put_bytes(a.dir, "started", 0, msg, sizeof msg) != 0)
            return cfut_fail(t, 1001, "reporting the start: %s", strerror(errno));
        if (take_byte(a.dir, "go", &c) != 0)
            return cfut_fail(t, 1002, "waiting for the gate: %s", strerror(errno));
    }
    if ((a.flags & SLOTS) && !read_slots(r.slots))
        return cfut_fail(t, 1003, "no shared memory region in /proc/self/maps");
    if (put_bytes(a.dir, "ran", O_CREAT | O_APPEND, &a.index, sizeof a.index) != 0)
        return cfut_fail(t, 1004, "recording the run: %s", strerror(errno));
    r.value = value_of(a.index);
    return cfut_return(t, &r, (a.flags & SLOTS) ? sizeof r : 2 * sizeof(int32_t));
}

/* The initializer: every worker waits here for one byte on FIFO "init";
 * 'f' makes it fail (the pool breaks). */
static int init_gate(cfut_task *t, const void *arg, size_t len)
{
    char dir[32], c;
    if (len != sizeof dir)
        return cfut_fail(t, 1000, "init_gate: %zu-byte argument", len);
    memcpy(dir, arg, sizeof dir);
    if (take_byte(dir, "init", &c) != 0)
        return cfut_fail(t, 1005, "waiting for the init gate: %s", strerror(errno));
    if (c == 'f')
        return cfut_fail(t, INIT_FAILED, "told to fail");
    return 0;
}

/* task_sized's argument: it returns `len` bytes of sized_byte(index, k),
 * or with `fail` fails with code `index` and those bytes as its message. */
typedef struct {
    int32_t index, len, fail;
} sized_arg;

static char sized_byte(int index, int k) { return (char)('a' + (index * 7 + k) % 26); }

static int task_sized(cfut_task *t, const void *arg, size_t len)
{
    sized_arg a;
    char buf[256];
    if (len != sizeof a)
        return cfut_fail(t, 1000, "task_sized: %zu-byte argument", len);
    memcpy(&a, arg, sizeof a);
    if (a.len < 0 || a.len >= (int)sizeof buf)
        return cfut_fail(t, 1000, "task_sized: length %d", (int)a.len);
    for (int k = 0; k < a.len; k++)
        buf[k] = sized_byte(a.index, k);
    buf[a.len] = '\0';
    if (a.fail)
        return cfut_fail(t, a.index, "%s", buf);
    return cfut_return(t, buf, (size_t)a.len);
}

/* ---- the test's side ---------------------------------------------------- */

/* A directory with three FIFOs (workers inherit nothing from the test under
 * spawn and forkserver, so gates are named) and the "ran" file. The test
 * holds each FIFO O_RDWR: tasks' opens never block and never see EOF. */
typedef struct {
    char dir[32];
    int started, go, init;
} gate;

static void gate_init(gate *g)
{
    memset(g, 0, sizeof *g); /* tasks get copies of dir: no garbage */
    snprintf(g->dir, sizeof g->dir, "/tmp/cfut-pl-XXXXXX");
    if (!mkdtemp(g->dir))
        th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    const char *names[] = {"started", "go", "init"};
    int *fds[] = {&g->started, &g->go, &g->init};
    for (int i = 0; i < 3; i++) {
        char path[64];
        path_in(path, sizeof path, g->dir, names[i]);
        CHECK(mkfifo(path, 0600) == 0);
        *fds[i] = open(path, O_RDWR | O_CLOEXEC | (i == 0 ? O_NONBLOCK : 0));
        CHECK(*fds[i] >= 0);
    }
}

static void gate_free(gate *g)
{
    close(g->started);
    close(g->go);
    close(g->init);
    const char *names[] = {"started", "go", "init", "ran"};
    for (int i = 0; i < 4; i++) {
        char path[64];
        path_in(path, sizeof path, g->dir, names[i]);
        unlink(path);
    }
    rmdir(g->dir);
}

/* Writes n bytes `c` to a FIFO: n gated tasks (or initializers) go. */
static void gate_put(int fd, char c, unsigned n)
{
    while (n--) {
        ssize_t w;
        do
            w = write(fd, &c, 1);
        while (w < 0 && errno == EINTR);
        CHECK_EQ(w, 1);
    }
}

/* Waits for a gated task to report its start: its index and pid. */
typedef struct { int32_t index, pid; } started_msg;
#define STARTED(g) gate_started((g), __FILE__, __LINE__)
static started_msg gate_started(gate *g, const char *file, int line)
{
    double deadline = th_now() + TH_LONG_WAIT;
    for (;;) {
        started_msg m;
        ssize_t n = read(g->started, &m, sizeof m);
        if (n == (ssize_t)sizeof m)
            return m;
        if (n >= 0 || (errno != EAGAIN && errno != EINTR))
            th_fail(file, line, "reading the started FIFO: %zd (%s)", n, strerror(errno));
        double left = deadline - th_now();
        if (left <= 0)
            th_fail(file, line, "no gated task started within %.0f s", TH_LONG_WAIT);
        struct pollfd p = {g->started, POLLIN, 0};
        poll(&p, 1, (int)(left * 1000) + 1);
    }
}

/* The indices of the tasks that ran, in the order they ran; how many. */
static int ran(const gate *g, int32_t *out, int max)
{
    char path[64];
    path_in(path, sizeof path, g->dir, "ran");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        CHECK_EQ(errno, ENOENT); /* nothing ran */
        return 0;
    }
    ssize_t n = read(fd, out, (size_t)max * sizeof *out);
    close(fd);
    CHECK(n >= 0 && n % (ssize_t)sizeof *out == 0 && n < (ssize_t)(max * sizeof *out));
    return (int)(n / (ssize_t)sizeof *out);
}

/* The run record is exactly `want[0..n)`. */
#define CHECK_RAN(g, want, n) check_ran((g), (want), (n), __FILE__, __LINE__)
static void check_ran(const gate *g, const int32_t *want, int n, const char *file, int line)
{
    int32_t got[N + 8];
    int k = ran(g, got, N + 8);
    for (int i = 0; i < k && i < n; i++)
        if (got[i] != want[i])
            th_fail(file, line, "run %d was task %d, want task %d", i, got[i], want[i]);
    if (k != n)
        th_fail(file, line, "%d tasks ran, want %d (the %s one: task %d)", k, n,
                k > n ? "first extra" : "first missing", k > n ? got[n] : want[k]);
}

static void skip_method(executor_start m)
{
    if (m == EXECUTOR_START_FORK && TH_TSAN)
        th_skip("TSan cannot follow fork() of a threaded process");
    if (m == EXECUTOR_START_FORK && TH_ASAN)
        th_skip("gcc 12's libasan can deadlock a child forked while another thread "
                "allocates (see test_faults.c)");
}

/* A process pool whose workers wait on g's "init" FIFO before serving. */
static executor_t *pool(executor_start m, int workers, const gate *g)
{
    executor_options o;
    memset(&o, 0, sizeof o);
    o.max_workers = workers;
    o.start = m;
    o.initializer = init_gate;
    o.initarg = g->dir;
    o.initarg_len = sizeof g->dir;
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static future_t *submit_step(executor_t *ex, const gate *g, int i, int flags)
{
    step_arg a;
    memset(&a, 0, sizeof a);
    memcpy(a.dir, g->dir, sizeof a.dir);
    a.index = i;
    a.flags = flags;
    future_t *f = executor_submit(ex, task_step, &a, sizeof a);
    CHECK(f != NULL);
    return f;
}

/* Submits tasks 0..n with `flags0` on task 0 and `flags_at` on task `at`
 * (-1: none), while the workers wait in their initializer. */
static void submit_all(executor_t *ex, const gate *g, future_t **fs, int n, int flags0,
                       int at, int flags_at)
{
    for (int i = 0; i <= n; i++)
        fs[i] = submit_step(ex, g, i, i == 0 ? flags0 : i == at ? flags_at : 0);
}

/* A task_step's result, either size; CFUT_ESERIALIZE for another. */
static int step_result_of(future_t *f, step_result *r)
{
    const void *p;
    size_t len;
    memset(r, 0xff, sizeof *r);
    int rc = future_result(f, TH_LONG_WAIT, &p, &len);
    if (rc == CFUT_OK && len != sizeof *r && len != 2 * sizeof(int32_t))
        return CFUT_ESERIALIZE;
    if (rc == CFUT_OK)
        memcpy(r, p, len);
    return rc;
}

static step_result result_of(future_t *f)
{
    step_result r;
    CHECK_STATUS(step_result_of(f, &r), CFUT_OK);
    return r;
}

/* Task i finished with its own value; returns the pid that ran it. */
#define CHECK_DONE_OK(fs, i) check_done_ok((fs), (i), __FILE__, __LINE__)
static int32_t check_done_ok(future_t **fs, int i, const char *file, int line)
{
    step_result r;
    int rc = step_result_of(fs[i], &r);
    if (rc != CFUT_OK)
        th_fail(file, line, "task %d: %s (%s)", i, cfut_status_name(rc),
                future_error_message(fs[i]) ? future_error_message(fs[i]) : "no message");
    if (r.value != value_of(i))
        th_fail(file, line, "task %d returned %d, want %d", i, r.value, value_of(i));
    return r.pid;
}

#define CHECK_CANCELLED(f)                                                     \
    do {                                                                       \
        CHECK(future_done(f));                                                 \
        CHECK(future_cancelled(f));                                            \
        CHECK_STATUS(future_status(f), CFUT_ECANCELLED);                       \
    } while (0)

static executor_stats stats(executor_t *ex)
{
    executor_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    return s;
}

static void release_all(future_t **fs, int n)
{
    for (int i = 0; i < n; i++)
        future_release(fs[i]);
}

/* After executor_free(): no worker, forkserver or zombie left. */
static void check_no_child(void)
{
    int st;
    errno = 0;
    pid_t r = waitpid(-1, &st, WNOHANG);
    if (!(r == -1 && errno == ECHILD))
        th_fail(__FILE__, __LINE__, "waitpid(-1, WNOHANG) = %ld (%s): a child is left",
                (long)r, strerror(errno));
}

/* The start of a case: skipped where its start method cannot run here, a
 * new gate, and a pool of `workers` waiting on it. */
static executor_t *begin(executor_start m, int workers, gate *g)
{
    skip_method(m);
    gate_init(g);
    return pool(m, workers, g);
}

/* The end of a case: its futures released, the pool freed with no child
 * left behind, the gate's FIFOs removed. */
static void finish(executor_t *ex, future_t **fs, int n, gate *g)
{
    release_all(fs, n);
    executor_free(ex);
    check_no_child();
    gate_free(g);
}

/* ---- the cases ---------------------------------------------------------- */

/* Cancelling tasks sent ahead behind a running one: each cancel wins, the
 * future is CANCELLED at once, the worker skips the task, and every other
 * task still runs in order with its own result. Task 0 reports the slots as
 * its worker sees them: the cancelled ones were pipelined (CANCELLED in
 * their slot), the others still FREE. */
static void cancel_held(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED | SLOTS, -1, 0);
    gate_put(g.init, 'g', 1);
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);

    int held = held_behind(N, 1);
    CHECK_EQ(held, CFUT__PIPELINE - 1);
    /* Sent ahead, still PENDING. */
    CHECK(future_running(fs[0]));
    for (int i = 1; i <= held; i++)
        CHECK(!future_done(fs[i]) && !future_running(fs[i]));
    /* Held ones (first, next-but-one, one inside, last) and queued ones
     * behind them. */
    const int cancel[] = {1, 2, 5, held, held + 1, N};
    enum { NC = sizeof cancel / sizeof cancel[0] };
    bool cancelled[N + 1] = {false};
    for (int k = 0; k < NC; k++) {
        CHECK(future_cancel(fs[cancel[k]]));
        CHECK_CANCELLED(fs[cancel[k]]);
        cancelled[cancel[k]] = true;
    }
    CHECK(future_cancel(fs[1])); /* again: still cancelled */
    CHECK(!future_cancel(fs[0])); /* running */
    executor_stats st = stats(ex);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.queued, N - NC);
    CHECK_EQ(st.cancelled, NC);
    CHECK_EQ(st.completed, 0);

    gate_put(g.go, 'g', 1);
    step_result r0 = result_of(fs[0]);
    CHECK_EQ(r0.value, value_of(0));
    CHECK_EQ(r0.pid, s.pid);
    /* Task 0 went alone (slot 0, never pipelined); task i behind it in slot i. */
    CHECK_EQ(r0.slots[0], CFUT__SLOT_FREE);
    for (int i = 1; i < CFUT__PIPELINE; i++)
        if (r0.slots[i] != (cancelled[i] ? CFUT__SLOT_CANCELLED : CFUT__SLOT_FREE))
            th_fail(__FILE__, __LINE__, "slot %d is %u, want %u (task %d %s)", i,
                    r0.slots[i], cancelled[i] ? CFUT__SLOT_CANCELLED : CFUT__SLOT_FREE, i,
                    cancelled[i] ? "cancelled" : "not cancelled");

    int32_t want[N + 1];
    int nw = 0;
    for (int i = 0; i <= N; i++) {
        if (cancelled[i]) {
            CHECK_CANCELLED(fs[i]);
            continue;
        }
        CHECK_EQ(CHECK_DONE_OK(fs, i), s.pid);
        want[nw++] = i;
    }
    CHECK_RAN(&g, want, nw);
    st = stats(ex);
    CHECK_EQ(st.completed, N + 1 - NC);
    CHECK_EQ(st.cancelled, NC);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.workers_lost, 0);
    finish(ex, fs, N + 1, &g);
}

/* The worker dies (SIGKILL from outside) while running task 0 with tasks
 * sent ahead: task 0 fails with CFUT_EWORKER, the held tasks it never
 * started go back to the front of the queue and run, in order, on its
 * replacement; one cancelled while held stays cancelled and never runs.
 * With `shut`, executor_shutdown(0) came first: queued work still runs, so
 * the requeued tasks do too. */
static void worker_dies(executor_start m, bool shut)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED, -1, 0);
    gate_put(g.init, 'g', 2); /* the first worker and its replacement */
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);
    int held = held_behind(N, 1);
    CHECK(held >= 3);
    CHECK(future_cancel(fs[3])); /* held */
    CHECK(future_cancel(fs[N])); /* queued */
    if (shut) {
        CHECK_STATUS(executor_shutdown(ex, 0), CFUT_OK);
        future_t *late = executor_submit(ex, task_step, NULL, 0);
        CHECK_STATUS(future_status(late), CFUT_ESHUTDOWN);
        future_release(late);
    }
    CHECK_EQ(kill(s.pid, SIGKILL), 0);

    CHECK_STATUS(future_wait(fs[0], TH_LONG_WAIT), CFUT_OK);
    CHECK_STATUS(future_status(fs[0]), CFUT_EWORKER);
    CHECK_CONTAINS(future_error_message(fs[0]), "killed by signal 9");
    int32_t want[N + 1];
    int nw = 0;
    for (int i = 1; i <= N; i++) {
        if (i == 3 || i == N) {
            CHECK_STATUS(future_wait(fs[i], 0), CFUT_OK);
            CHECK_CANCELLED(fs[i]);
            continue;
        }
        int32_t pid = CHECK_DONE_OK(fs, i);
        CHECK(pid != s.pid);
        want[nw++] = i;
    }
    CHECK_RAN(&g, want, nw);
    if (shut)
        CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    executor_stats st = stats(ex);
    CHECK_EQ(st.completed, N - 2);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.cancelled, 2);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.workers_started, 2);
    CHECK_EQ(st.workers_lost, 1);
    CHECK_EQ(st.workers, shut ? 0 : 1);
    finish(ex, fs, N + 1, &g);
}
static void worker_dies_holding(executor_start m) { worker_dies(m, false); }
static void worker_dies_after_shutdown(executor_start m) { worker_dies(m, true); }

/* A worker dies holding tasks sent ahead after the pool broke (the other
 * worker's initializer failed): those tasks cannot run anywhere, so they
 * fail with CFUT_EBROKEN and the initializer's code, like the queue. */
static void worker_dies_broken(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 2, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED, -1, 0);
    gate_put(g.init, 'g', 1); /* whichever worker reads it runs task 0 */
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);
    int held = held_behind(N, 2);
    CHECK(held >= 1);
    gate_put(g.init, 'f', 1); /* only the other one is still in its initializer */
    /* The queue is drained as the pool breaks; what the worker holds waits. */
    CHECK_STATUS(future_wait(fs[N], TH_LONG_WAIT), CFUT_OK);
    CHECK_STATUS(future_status(fs[N]), CFUT_EBROKEN);
    for (int i = 1; i <= held; i++)
        CHECK(!future_done(fs[i]));
    CHECK_EQ(kill(s.pid, SIGKILL), 0);

    CHECK_STATUS(future_wait(fs[0], TH_LONG_WAIT), CFUT_OK);
    CHECK_STATUS(future_status(fs[0]), CFUT_EWORKER);
    for (int i = 1; i <= N; i++) {
        CHECK_STATUS(future_wait(fs[i], TH_LONG_WAIT), CFUT_OK);
        CHECK_STATUS(future_status(fs[i]), CFUT_EBROKEN);
        CHECK_EQ(future_error_code(fs[i]), INIT_FAILED);
        CHECK_CONTAINS(future_error_message(fs[i]), "told to fail");
    }
    CHECK_RAN(&g, NULL, 0);
    executor_stats st = stats(ex);
    CHECK_EQ(st.failed, N + 1);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    finish(ex, fs, N + 1, &g);
}

/* executor_shutdown(EXECUTOR_CANCEL_PENDING) while tasks are sent ahead:
 * it returns at once with every one of them (and the queue) CANCELLED;
 * the running task finishes; none of the others ever runs. */
static void shutdown_cancel_pending(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED, -1, 0);
    gate_put(g.init, 'g', 1);
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    for (int i = 1; i <= N; i++)
        CHECK_CANCELLED(fs[i]);
    CHECK(future_running(fs[0]));
    executor_stats st = stats(ex);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.cancelled, N);

    gate_put(g.go, 'g', 1);
    CHECK_EQ(CHECK_DONE_OK(fs, 0), s.pid);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    const int32_t only0[] = {0};
    CHECK_RAN(&g, only0, 1);
    st = stats(ex);
    CHECK_EQ(st.workers, 0);
    CHECK_EQ(st.completed, 1);
    CHECK_EQ(st.cancelled, N);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.workers_lost, 0);
    finish(ex, fs, N + 1, &g);
}

/* executor_shutdown(EXECUTOR_TERMINATE | EXECUTOR_WAIT) while tasks are
 * sent ahead: the running task fails (its worker got SIGTERM), the held and
 * queued ones are CANCELLED, nothing else ran, and the call returns with
 * no future left pending. */
static void shutdown_terminate(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED, -1, 0);
    gate_put(g.init, 'g', 1);
    CHECK_EQ(STARTED(&g).index, 0);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_TERMINATE | EXECUTOR_WAIT), CFUT_OK);
    CHECK(future_done(fs[0]));
    CHECK_STATUS(future_status(fs[0]), CFUT_EWORKER);
    CHECK_CONTAINS(future_error_message(fs[0]), "stopped by executor_shutdown");
    for (int i = 1; i <= N; i++)
        CHECK_CANCELLED(fs[i]);
    CHECK_RAN(&g, NULL, 0);
    executor_stats st = stats(ex);
    CHECK_EQ(st.workers, 0);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.cancelled, N);
    finish(ex, fs, N + 1, &g);
}

/* Task 0's done callback: it holds the manager thread (callbacks run
 * there) until the test lets it go, so outcomes after task 0's stay unread. */
typedef struct {
    th_gate entered, leave;
} manager_hold;

static void hold_manager(future_t *f, void *user)
{
    manager_hold *h = user;
    (void)f;
    th_gate_open(&h->entered, 1);
    if (!th_gate_timedwait(&h->leave, TH_LONG_WAIT))
        th_fail(__FILE__, __LINE__, "the test never let the manager go");
}

/* Accounting as tasks sent ahead start: while task 0 runs, the N behind it
 * (some held, the rest queued) are all `queued`. Task 3, held and gated
 * too, starts in the worker while the manager is held in task 0's callback,
 * before it has read the outcomes of tasks 1 and 2: cancelling task 3 then
 * loses to the worker (false; the future is RUNNING at once, and its result
 * stands). Once task 2 is done the parent counts task 3 running and N - 3
 * queued. Everything runs once, in order. */
static void accounting(executor_start m)
{
    manager_hold h;
    th_gate_init(&h.entered);
    th_gate_init(&h.leave);
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    CHECK(held_behind(N, 1) >= 4);
    submit_all(ex, &g, fs, N, GATED, 3, GATED);
    CHECK_STATUS(future_add_done_callback(fs[0], hold_manager, &h), CFUT_OK);
    gate_put(g.init, 'g', 1);
    started_msg s0 = STARTED(&g);
    CHECK_EQ(s0.index, 0);
    executor_stats st = stats(ex);
    CHECK_EQ(st.workers, 1);
    CHECK_EQ(st.idle, 0);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.queued, N);
    CHECK_EQ(st.completed, 0);

    gate_put(g.go, 'g', 1);
    started_msg s3 = STARTED(&g);
    CHECK_EQ(s3.index, 3);
    CHECK_EQ(s3.pid, s0.pid);
    CHECK(th_gate_timedwait(&h.entered, TH_LONG_WAIT));
    CHECK(future_done(fs[0]));
    CHECK(!future_done(fs[2]) && !future_running(fs[2])); /* its outcome is unread */
    CHECK(!future_cancel(fs[3])); /* its slot says STARTED */
    CHECK(!future_cancelled(fs[3]));
    CHECK(future_running(fs[3]));
    th_gate_open(&h.leave, 1);
    CHECK_EQ(CHECK_DONE_OK(fs, 2), s0.pid);
    CHECK(future_running(fs[3]));
    CHECK(!future_done(fs[4]) && !future_running(fs[4]));
    st = stats(ex);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.queued, N - 3);
    CHECK_EQ(st.completed, 3);
    CHECK_EQ(st.cancelled, 0);

    gate_put(g.go, 'g', 1);
    int32_t want[N + 1];
    for (int i = 0; i <= N; i++) {
        CHECK_EQ(CHECK_DONE_OK(fs, i), s0.pid);
        want[i] = i;
    }
    CHECK_RAN(&g, want, N + 1);
    st = stats(ex);
    CHECK_EQ(st.workers, 1);
    CHECK_EQ(st.idle, 1);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.completed, N + 1);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.cancelled, 0);
    finish(ex, fs, N + 1, &g);
    th_gate_destroy(&h.entered);
    th_gate_destroy(&h.leave);
}

/* executor_shutdown(EXECUTOR_CANCEL_PENDING) with its first allocation
 * failing: the tasks sent ahead are cancelled all the same (shutdown needs
 * no memory for them), none of them runs, and task 0 finishes. */
static void shutdown_cancel_pending_no_memory(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    submit_all(ex, &g, fs, N, GATED, -1, 0);
    gate_put(g.init, 'g', 1);
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);
    /* The manager sleeps: it has nothing to read until task 0 ends. */
    cfut__alloc_fail_nth(1);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_CANCEL_PENDING), CFUT_OK);
    cfut__alloc_fail_nth(0);
    for (int i = 1; i <= N; i++)
        CHECK_CANCELLED(fs[i]);
    gate_put(g.go, 'g', 1);
    CHECK_EQ(CHECK_DONE_OK(fs, 0), s.pid);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    const int32_t only0[] = {0};
    CHECK_RAN(&g, only0, 1);
    executor_stats st = stats(ex);
    CHECK_EQ(st.workers, 0);
    CHECK_EQ(st.completed, 1);
    CHECK_EQ(st.cancelled, N);
    finish(ex, fs, N + 1, &g);
}

/* The outcomes of tasks sent ahead take two routes back: one whose OUTCOME
 * payload fits CFUT__SLOT_OUTCOME bytes (a result or message of at most 88
 * bytes) is left in the task's slot, a larger one comes as a frame. Here
 * they interleave, results and failures, on both sides of the limit: every
 * future still gets its own outcome, byte for byte. */
static void mixed_routes(executor_start m)
{
    gate g;
    executor_t *ex = begin(m, 1, &g);
    future_t *fs[N + 1];
    fs[0] = submit_step(ex, &g, 0, GATED);
    int failures = 0;
    for (int i = 1; i <= N; i++) {
        sized_arg a = {i, 78 + i % 21, i % 5 == 0}; /* payloads of 110..130 bytes */
        failures += a.fail;
        fs[i] = executor_submit(ex, task_sized, &a, sizeof a);
        CHECK(fs[i] != NULL);
    }
    gate_put(g.init, 'g', 1);
    started_msg s = STARTED(&g);
    CHECK_EQ(s.index, 0);
    gate_put(g.go, 'g', 1);
    CHECK_EQ(CHECK_DONE_OK(fs, 0), s.pid);
    for (int i = 1; i <= N; i++) {
        int len = 78 + i % 21;
        char want[128];
        for (int k = 0; k < len; k++)
            want[k] = sized_byte(i, k);
        want[len] = '\0';
        const void *p;
        size_t n;
        int rc = future_result(fs[i], TH_LONG_WAIT, &p, &n);
        if (i % 5 == 0) {
            CHECK_STATUS(rc, CFUT_ETASK);
            CHECK_EQ(future_error_code(fs[i]), i);
            const char *msg = future_error_message(fs[i]);
            if (!msg || strncmp(msg, want, (size_t)len) != 0 || msg[len] != ' ')
                th_fail(__FILE__, __LINE__, "task %d: message \"%s\", want \"%s [worker...\"",
                        i, msg ? msg : "(none)", want);
        } else {
            CHECK_STATUS(rc, CFUT_OK);
            if (n != (size_t)len || memcmp(p, want, n) != 0)
                th_fail(__FILE__, __LINE__, "task %d: %zu-byte result, want %d bytes \"%s\"", i,
                        n, len, want);
        }
    }
    /* Some outcomes did take the slot route. */
    cfut__control *c = find_control();
    CHECK(c != NULL);
    int done = 0;
    for (int i = 0; i < CFUT__PIPELINE; i++)
        done += atomic_load(&c->slot[i].state) == CFUT__SLOT_DONE;
    CHECK(done > 0);
    executor_stats st = stats(ex);
    CHECK_EQ(st.completed, N + 1 - failures);
    CHECK_EQ(st.failed, failures);
    CHECK_EQ(st.workers_lost, 0);
    finish(ex, fs, N + 1, &g);
}

/* The worker dies just after it has left a task's outcome in the task's
 * slot, before it could ring the manager, which sleeps (hook "publish"):
 * the outcome stands, since the parent reads a dead worker's slots, and the
 * death is blamed on no task. Task 2, sent ahead behind task 1 and marked
 * running once task 1's outcome is read, never started (its slot is still
 * FREE): it goes back to the queue and runs on the replacement (the hook
 * fires in a pool's first worker only). While the manager is held in task
 * 1's done callback, task 2 shows as running and a cancel of it fails, as
 * for any running task; it is PENDING again once the death is handled,
 * and runs to its own result. */
static void slot_outcome_survives_death(executor_start m)
{
    manager_hold h;
    th_gate_init(&h.entered);
    th_gate_init(&h.leave);
    CHECK_EQ(setenv("CFUT_TEST_WORKER_CRASH", "publish", 1), 0);
    gate g;
    executor_t *ex = begin(m, 1, &g);
    enum { M = 32 }; /* queued behind task 0: tasks 1 and 2 are sent ahead */
    CHECK_EQ(held_behind(M, 1), 2);
    future_t *fs[M + 1];
    submit_all(ex, &g, fs, M, GATED, 1, GATED);
    gate_put(g.init, 'g', 2); /* the first worker and its replacement */
    started_msg s0 = STARTED(&g);
    CHECK_EQ(s0.index, 0);
    gate_put(g.go, 'g', 1);
    started_msg s1 = STARTED(&g);
    CHECK_EQ(s1.index, 1);
    CHECK_EQ(s1.pid, s0.pid);
    CHECK_EQ(CHECK_DONE_OK(fs, 0), s0.pid);
    CHECK(future_running(fs[1]));
    CHECK(!future_running(fs[2]) && !future_done(fs[2]));
    CHECK_STATUS(future_add_done_callback(fs[1], hold_manager, &h), CFUT_OK);
    /* Task 0's outcome is read; the manager, with nothing else to do, asks
     * to be rung and sleeps. Nothing signals that: poll, with a deadline. */
    cfut__control *c = find_control();
    CHECK(c != NULL);
    double deadline = th_now() + TH_LONG_WAIT;
    while (!atomic_load(&c->parent_asleep)) {
        if (th_now() > deadline)
            th_fail(__FILE__, __LINE__, "the manager never asked to be rung");
        sched_yield();
    }
    gate_put(g.go, 'g', 1);
    CHECK(th_gate_timedwait(&h.entered, TH_LONG_WAIT));
    CHECK(future_running(fs[2])); /* marked so as task 1's outcome was read */
    CHECK(!future_cancel(fs[2]));
    th_gate_open(&h.leave, 1);
    CHECK_EQ(CHECK_DONE_OK(fs, 1), s0.pid);
    int32_t want[M + 1];
    want[0] = 0;
    want[1] = 1;
    for (int i = 2; i <= M; i++) {
        CHECK(CHECK_DONE_OK(fs, i) != s0.pid);
        want[i] = i;
    }
    CHECK_RAN(&g, want, M + 1);
    executor_stats st = stats(ex);
    CHECK_EQ(st.completed, M + 1);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.workers_started, 2);
    CHECK_EQ(st.workers_lost, 1);
    finish(ex, fs, M + 1, &g);
    CHECK_EQ(unsetenv("CFUT_TEST_WORKER_CRASH"), 0);
    th_gate_destroy(&h.entered);
    th_gate_destroy(&h.leave);
}

/* One case per start method: test_<fn>_forkserver, _fork and _spawn. */
#define PER_METHOD(fn)                                                         \
    static void test_##fn##_forkserver(void) { fn(EXECUTOR_START_FORKSERVER); } \
    static void test_##fn##_fork(void) { fn(EXECUTOR_START_FORK); }             \
    static void test_##fn##_spawn(void) { fn(EXECUTOR_START_SPAWN); }
#define METHOD_CASES(fn)                                                       \
    TH_CASE(test_##fn##_forkserver), TH_CASE(test_##fn##_fork),                \
    TH_CASE(test_##fn##_spawn)

PER_METHOD(cancel_held)
PER_METHOD(worker_dies_holding)
PER_METHOD(worker_dies_after_shutdown)
PER_METHOD(shutdown_cancel_pending)
PER_METHOD(shutdown_terminate)
PER_METHOD(shutdown_cancel_pending_no_memory)
PER_METHOD(accounting)
PER_METHOD(mixed_routes)
PER_METHOD(slot_outcome_survives_death)
static void test_worker_dies_broken_forkserver(void)
{
    worker_dies_broken(EXECUTOR_START_FORKSERVER);
}

TH_CASES(
    METHOD_CASES(cancel_held),
    METHOD_CASES(worker_dies_holding),
    METHOD_CASES(worker_dies_after_shutdown),
    TH_CASE(test_worker_dies_broken_forkserver),
    METHOD_CASES(shutdown_cancel_pending),
    METHOD_CASES(shutdown_terminate),
    METHOD_CASES(shutdown_cancel_pending_no_memory),
    METHOD_CASES(accounting),
    METHOD_CASES(mixed_routes),
    METHOD_CASES(slot_outcome_survives_death),
)
