/* test/soak.c: the soak. Runs many tasks through thread pools and process
 * pools with a seeded random mix of everything that can happen to a future,
 * and checks at the end of every round that nothing was lost or leaked.
 *
 *     test/soak                                   short run (the test suite)
 *     test/soak --tasks 10000000 --seconds 1800   long run (docs/reliability.md)
 *     test/soak --seed 0x1234                     replays a run's choices
 *
 * A run is a sequence of rounds, each on a new executor. The rounds cycle
 * through templates (threads; processes by forkserver, fork and spawn; with
 * task_timeout; with a shutdown racing the submissions; recycling workers)
 * so that even the shortest run covers each once; the seed picks the rest
 * (pool size, counts, every task's action, the consumers' modes). Timing
 * still varies from run to run: a replay makes the same choices, not the
 * same interleavings.
 *
 * In a round, submitter threads submit tasks whose argument says what
 * outcome each must produce: a result, cfut_fail() with a code, a non-zero
 * return, and on process pools a segfault, abort(), _exit(n), or blocking
 * until a killer thread SIGKILLs its worker (the task writes its pid to a
 * FIFO); with task_timeout, a task that never ends. Submitters also go
 * through executor_call, register done callbacks (some releasing their own
 * reference) and cancel some of what they just submitted. Consumer threads
 * take the futures in batches and collect them with future_result (first
 * probing with short timeouts), futures_wait (each condition, with and
 * without timeouts), as-completed iterators, or an iterator's descriptor
 * under poll(). A map thread runs executor_map, the lazy map and
 * executor_map_call on the same pool meanwhile. In race rounds another
 * thread shuts the executor down, with random flags, while the submitters
 * are submitting. Some rounds free the executor while consumers still wait.
 *
 * Every future must then be done exactly once, with the status its task
 * called for or one the documentation allows for what happened to it
 * (CFUT_ECANCELLED after a cancel that returned true or a cancelling
 * shutdown, CFUT_ESHUTDOWN for a submission refused after shutdown,
 * CFUT_EWORKER for a task whose worker a TERMINATE/KILL shutdown stopped,
 * CFUT_EDEADLINE on a pool with task_timeout), with the right result, code
 * and message; each callback ran exactly once; executor_get_stats balances
 * (completed + failed + cancelled = accepted tasks, outcome by outcome, and
 * workers_lost = the workers the round killed); after executor_free no
 * descriptor, thread, child or zombie is left. Memory leaks are for ASan
 * and valgrind (CI runs the short soak under both); a long run reports its
 * RSS.
 *
 * Output: a summary (tasks run, faults injected by kind, lost, violations)
 * on stdout; exit status 0 only if nothing was lost and nothing violated.
 * It prints nothing while a pool exists (a fork start could copy a held
 * stdio lock into a worker): violations are collected and printed between
 * rounds. A watchdog aborts with a diagnosis if no future completes for a
 * long time (a hang). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cfut.h"
#include "tools.h"

/* ---- random numbers --------------------------------------------------- */

static uint64_t rnd(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
static double rnd01(uint64_t *s) { return (double)(rnd(s) >> 11) * 0x1.0p-53; }
static size_t rnd_below(uint64_t *s, size_t n) { return n ? (size_t)(rnd(s) % n) : 0; }
static bool chance(uint64_t *s, double p) { return rnd01(s) < p; }

/* What a task computes from its id and value: checked on every result. */
static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15u ^ b;
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9u;
    return z ^ (z >> 32);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tasks -------------------------------------------------------------- */

/* What a task does. The crashes and A_KILLED only go to process pools,
 * A_HANG only to pools with task_timeout. */
enum { A_OK, A_BIG, A_FAIL, A_RETCODE, A_HANG, A_SEGV, A_ABORT, A_EXIT, A_KILLED, A_COUNT };
static const char *const action_name[A_COUNT] = {
    "ok", "big", "fail", "retcode", "hang", "segv", "abort", "exit", "killed"};
static bool is_crash(int a) { return a >= A_SEGV; }

enum {
    BIG_ARG = 70000,            /* over 64 KiB: through the shared memory */
    BIG_RESULT = 90000,
    HANG_CODE = 4242,           /* a thread-pool A_HANG's code once stopped */
    E_BADARG = 9001,            /* the task saw a corrupt argument */
    E_NOINIT = 9002,            /* the task ran before its initializer */
    E_NOSTOP = 9003,            /* a thread-pool A_HANG was never stopped */
};

/* The argument: plain bytes (it crosses to worker processes), followed by
 * `big` bytes of pattern for A_BIG. */
typedef struct {
    uint64_t id, value;
    uint64_t rec;     /* thread pools: the record, to count runs; else 0 */
    uint32_t action;
    int32_t code;     /* cfut_fail's / the return's / _exit's */
    uint32_t round;   /* non-zero: the initializer must have run */
    uint32_t big;
    char fifo[64];    /* A_KILLED: where to write the pid */
} soak_arg;

typedef struct {
    uint64_t id, value;
} soak_result;

static uint8_t arg_byte(uint64_t id, size_t i) { return (uint8_t)(id * 7 + i * 13); }
static uint8_t res_byte(uint64_t id, size_t i) { return (uint8_t)(id * 3 + i); }

/* Set by the initializer (per worker process, or by every worker thread to
 * the same value); a task of a round with an initializer checks it. */
static _Atomic uint32_t init_round;

static int soak_init(cfut_task *t, const void *arg, size_t len)
{
    uint32_t r;
    if (len != sizeof r)
        return cfut_fail(t, E_BADARG, "soak init: %zu bytes", len);
    memcpy(&r, arg, sizeof r);
    atomic_store(&init_round, r);
    return 0;
}

typedef struct rec rec;
static void count_run(uint64_t rec_addr);

static void crash_segv(void)
{
    /* Not NULL (UBSan would catch that); volatile, so nothing is proven. */
    volatile int *volatile bad = (volatile int *)(uintptr_t)16;
    signal(SIGSEGV, SIG_DFL);
    *bad = 1;
    raise(SIGSEGV);
}

/* Blocks until something kills this process (the killer thread, or
 * task_timeout); never returns. */
static _Noreturn void block_forever(void)
{
    for (;;)
        pause();
}

static int soak_task(cfut_task *t, const void *arg, size_t len)
{
    soak_arg a;
    if (len < sizeof a)
        return cfut_fail(t, E_BADARG, "soak: argument of %zu bytes", len);
    memcpy(&a, arg, sizeof a);
    if (len != sizeof a + a.big)
        return cfut_fail(t, E_BADARG, "soak: argument of %zu bytes, want %zu", len,
                         sizeof a + a.big);
    if (a.rec)
        count_run(a.rec);
    if (a.round && atomic_load(&init_round) != a.round)
        return cfut_fail(t, E_NOINIT, "soak: initializer of round %u not run (%u)", a.round,
                         atomic_load(&init_round));
    const uint8_t *p = (const uint8_t *)arg + sizeof a;
    for (size_t i = 0; i < a.big; i++)
        if (p[i] != arg_byte(a.id, i))
            return cfut_fail(t, E_BADARG, "soak: argument byte %zu corrupt", i);
    switch (a.action) {
    case A_OK: {
        soak_result r = {a.id, mix(a.id, a.value)};
        return cfut_return(t, &r, sizeof r);
    }
    case A_BIG: {
        uint8_t *r = malloc(BIG_RESULT);
        if (!r)
            return cfut_fail(t, E_BADARG, "soak: out of memory");
        for (size_t i = 0; i < BIG_RESULT; i++)
            r[i] = res_byte(a.id, i);
        int rc = cfut_return(t, r, BIG_RESULT);
        free(r);
        return rc;
    }
    case A_FAIL:
        return cfut_fail(t, a.code, "soak fail %" PRIu64, a.id);
    case A_RETCODE:
        return a.code;
    case A_HANG:
        if (a.rec) {
            /* A thread cannot be killed: poll cfut_should_stop() (the
             * deadline, a cancel or a cancelling shutdown), with a bound so
             * a deadline never enforced is a failure, not a hang. */
            double give_up = now() + 600;
            while (!cfut_should_stop(t)) {
                if (now() > give_up)
                    return cfut_fail(t, E_NOSTOP, "soak: never asked to stop");
                nanosleep(&(struct timespec){0, 500000}, NULL);
            }
            return cfut_fail(t, HANG_CODE, "soak stopped %" PRIu64, a.id);
        }
        block_forever();
    case A_SEGV:
        crash_segv();
        break;
    case A_ABORT:
        abort();
    case A_EXIT:
        _exit(a.code);
    case A_KILLED: {
        int fd = open(a.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return cfut_fail(t, E_BADARG, "soak: open %s: %s", a.fifo, strerror(errno));
        int32_t pid = (int32_t)getpid();
        ssize_t n = write(fd, &pid, sizeof pid); /* < PIPE_BUF: atomic */
        close(fd);
        if (n != (ssize_t)sizeof pid)
            return cfut_fail(t, E_BADARG, "soak: write pid: %s", strerror(errno));
        block_forever();
    }
    }
    return cfut_fail(t, E_BADARG, "soak: unknown action %u", a.action);
}

/* For executor_call and executor_map_call: a plain C function. */
static int64_t soak_call(int64_t id, int64_t value)
{
    return (int64_t)mix((uint64_t)id, (uint64_t)value);
}

/* ---- global state ------------------------------------------------------- */

static struct {
    uint64_t seed;
    long long target_tasks; /* stop once this many ran (after a full cycle) */
    double seconds;         /* ... or once this long has passed */
    double crash_rate;      /* of process-pool tasks */
    double hang_rate;       /* of tasks on pools with task_timeout */
    long max_rounds;
    bool verbose;
    double scale;           /* round sizes */
    double tmult;           /* CFUT_TEST_TIMEOUT_MULT: slow-down factor */
    char dir[32], fifo[64];
    int fifo_fd;            /* O_RDWR: never EOF, task-side opens never block */
    int stop_pipe[2];       /* wakes the killer to exit */
} G;

/* Totals, over every round. */
enum {
    C_SUBMITS, C_CALLS, C_MAP_ITEMS, C_MAP_CALL_ITEMS, C_MAPS, C_CHUNKS,
    C_OK, C_TASK_FAIL, C_TASK_RET, C_SEGV, C_ABORT, C_EXIT, C_KILLED, C_KILLS_SENT,
    C_DEADLINE, C_THREAD_STOP, C_SPURIOUS_DEADLINE, C_CANCEL_TRIED, C_CANCELLED,
    C_SHUT_CANCELLED, C_SHUT_STOPPED, C_REFUSED, C_RESULT_TIMEOUTS, C_WAIT_TIMEOUTS,
    C_ITER_TIMEOUTS, C_CALLBACKS, C_CB_RELEASE, C_LATE_CB, C_WAITS, C_ITERS, C_POLLS,
    C_RACES, C_EARLY_FREES, C_ROUNDS, C_PROC_TASKS, C_THREAD_TASKS, C_LOST,
    C_VIOLATIONS, C_BIG, C_CHUNK_CRASHES, C_COUNT
};
static _Atomic long long counters[C_COUNT];
static void count(int c, long long n) { atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed); }
static long long counter(int c) { return atomic_load(&counters[c]); }

/* Progress, for the watchdog: bumped by every outcome checked. */
static _Atomic long long progress;

/* Violations found while a pool exists are kept here, printed later. */
static pthread_mutex_t msg_mu = PTHREAD_MUTEX_INITIALIZER;
static char *msgs[256];
static size_t nmsgs, dropped;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    count(C_VIOLATIONS, 1);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&msg_mu);
    if (nmsgs < sizeof msgs / sizeof msgs[0])
        msgs[nmsgs++] = strdup(buf);
    else
        dropped++;
    pthread_mutex_unlock(&msg_mu);
}

static void flush_violations(void)
{
    pthread_mutex_lock(&msg_mu);
    for (size_t i = 0; i < nmsgs; i++) {
        fprintf(stderr, "soak: VIOLATION: %s\n", msgs[i] ? msgs[i] : "(no memory)");
        free(msgs[i]);
    }
    if (dropped)
        fprintf(stderr, "soak: VIOLATION: ... and %zu more\n", dropped);
    nmsgs = dropped = 0;
    pthread_mutex_unlock(&msg_mu);
}

/* ---- processes, descriptors, threads, memory ------------------------------ */

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int fd_count(void) { return dir_entries("/proc/self/fd") - 1; /* its own */ }
static int thread_count(void) { return dir_entries("/proc/self/task"); }

/* Processes other than us in our process group (workers, the forkserver and
 * its children all land there), and zombies that are our children. */
static int others(char *first, size_t n)
{
    pid_t self = getpid();
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == self)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        char *r = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (!r || sscanf(r + 2, "%c %d %d", &state, &ppid, &pgrp) != 3)
            continue;
        bool zombie = state == 'Z' || state == 'X';
        if (zombie ? ppid != self : pgrp != self && ppid != self)
            continue;
        if (k++ == 0 && first)
            snprintf(first, n, "pid %ld %s", pid, strchr(buf, '('));
    }
    closedir(d);
    return k;
}

/* Resident memory, once malloc has given back what it can: what stays is
 * in use (or fragmentation), not free lists. */
static long rss_kb(void)
{
    malloc_trim(0);
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- the killer ----------------------------------------------------------- */

/* Reads the pids A_KILLED tasks write to the FIFO and SIGKILLs them from
 * outside. Such tasks only run where nothing else kills a worker (no
 * task_timeout, no TERMINATE/KILL shutdown), so the pid is a live worker
 * blocked in the task; the pidfd and the name check make sure a reused pid
 * is never shot all the same. */
static void *killer(void *unused)
{
    (void)unused;
    for (;;) {
        struct pollfd p[2] = {{G.fifo_fd, POLLIN, 0}, {G.stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            violation("killer: poll: %s", strerror(errno));
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        int32_t pid;
        ssize_t n = read(G.fifo_fd, &pid, sizeof pid);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n != (ssize_t)sizeof pid) {
            violation("killer: read %zd bytes", n);
            continue;
        }
        int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
        int cfd = open(path, O_RDONLY | O_CLOEXEC);
        if (cfd >= 0) {
            ssize_t k = read(cfd, comm, sizeof comm - 1);
            comm[k > 0 ? k : 0] = '\0';
            close(cfd);
        }
        if (strncmp(comm, "sk", 2) != 0) {
            violation("killer: pid %ld is not a soak worker (comm \"%s\")", (long)pid, comm);
        } else if (pfd >= 0) {
            if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) != 0)
                violation("killer: pidfd_send_signal %ld: %s", (long)pid, strerror(errno));
            else
                count(C_KILLS_SENT, 1);
        } else if (kill(pid, SIGKILL) != 0) { /* no pidfd_open (old valgrind) */
            violation("killer: kill %ld: %s", (long)pid, strerror(errno));
        } else {
            count(C_KILLS_SENT, 1);
        }
        if (pfd >= 0)
            close(pfd);
    }
}

/* ---- rounds ----------------------------------------------------------------- */

/* One submission and what became of it. */
struct rec {
    future_t *f;
    uint64_t id, value;
    uint8_t action;
    bool call;          /* executor_call, not executor_submit */
    uint8_t cb_mode;    /* 0 no callback, 1 a callback, 2 one that releases
                           a reference of its own */
    uint8_t cancel;     /* 0 not tried, 1 future_cancel false, 2 true */
    bool refused;       /* done with CFUT_ESHUTDOWN at submit */
    int32_t code;
    _Atomic int ran;    /* thread pools: how often the task ran */
    _Atomic int cb_runs, cb_status;
    _Atomic bool cb_not_done;
    int seen;           /* the status the consumer got */
    int yielded;        /* how often a consumer got it */
};

static void count_run(uint64_t rec_addr)
{
    atomic_fetch_add(&((rec *)(uintptr_t)rec_addr)->ran, 1);
}

typedef struct {
    const char *name;
    executor_kind kind;
    executor_start start;
    bool timeout, race, maps, recycle;
} tmpl;

/* Each run goes through these in order, then again. */
static const tmpl templates[] = {
    {"threads", EXECUTOR_THREADS, EXECUTOR_START_DEFAULT, false, false, true, false},
    {"forkserver", EXECUTOR_PROCESSES, EXECUTOR_START_FORKSERVER, false, false, true, false},
    {"threads+timeout", EXECUTOR_THREADS, EXECUTOR_START_DEFAULT, true, false, false, false},
    {"fork", EXECUTOR_PROCESSES, EXECUTOR_START_FORK, false, false, true, false},
    {"threads+race", EXECUTOR_THREADS, EXECUTOR_START_DEFAULT, false, true, true, false},
    {"spawn+timeout", EXECUTOR_PROCESSES, EXECUTOR_START_SPAWN, true, false, true, false},
    {"forkserver+race", EXECUTOR_PROCESSES, EXECUTOR_START_FORKSERVER, false, true, true, false},
    {"fork+recycle", EXECUTOR_PROCESSES, EXECUTOR_START_FORK, false, false, false, true},
    {"forkserver+timeout+race", EXECUTOR_PROCESSES, EXECUTOR_START_FORKSERVER, true, true, true,
     false},
    {"threads+timeout+race", EXECUTOR_THREADS, EXECUTOR_START_DEFAULT, true, true, false, false},
    {"spawn+race", EXECUTOR_PROCESSES, EXECUTOR_START_SPAWN, false, true, false, false},
    {"forkserver+recycle+timeout", EXECUTOR_PROCESSES, EXECUTOR_START_FORKSERVER, true, false,
     true, true},
};
enum { NTEMPLATES = sizeof templates / sizeof templates[0] };

typedef struct round {
    unsigned no;
    const tmpl *t;
    executor_start start;
    bool proc;
    int workers;
    double task_timeout;
    unsigned max_tasks;
    bool init;
    unsigned shut_flags;   /* race rounds: what the racing shutdown passes */
    bool shut_wait_again;  /* ... then once more adding EXECUTOR_WAIT */
    bool early_free;       /* free while consumers still wait */
    bool killed_ok;        /* A_KILLED allowed */
    size_t n;
    int nsub, ncons;
    size_t batch;
    uint64_t seed;
    executor_t *ex;
    rec *recs;

    /* batches from submitters to consumers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t (*q)[2];
    size_t qhead, qtail;
    int subs_left;

    /* the racing shutdown: after shut_at submissions, or after shut_at
     * outcomes (so that workers are busy, not still starting) */
    _Atomic size_t submitted, consumed;
    size_t shut_at;
    bool shut_on_outcomes;
    sem_t shut_sem;
    _Atomic bool shut_called, shut_returned;

    _Atomic bool subs_done; /* the map thread stops starting maps */

    /* maps: chunk outcomes as executor_get_stats counts them */
    _Atomic long chunks_accepted, chunks_completed, chunks_failed, chunks_cancelled,
        chunks_lost_workers;
    bool map_ambiguous;    /* thread-pool chunks asked to stop count as
                              completed with cancelled items: only the total
                              can be checked */
} round;

/* The round the watchdog reports on. */
static _Atomic(round *) current;

static unsigned status_bit(int st) { return st >= 0 && st < 32 ? 1u << st : 0; }

/* The statuses x may end with. */
static unsigned allowed(const round *R, const rec *x)
{
    if (x->refused)
        return status_bit(CFUT_ESHUTDOWN);
    if (x->cancel == 2)
        return status_bit(CFUT_ECANCELLED);
    unsigned m;
    if (x->call || x->action == A_OK || x->action == A_BIG)
        m = status_bit(CFUT_OK);
    else if (x->action == A_FAIL || x->action == A_RETCODE)
        m = status_bit(CFUT_ETASK);
    else if (x->action == A_HANG)
        m = status_bit(R->proc ? CFUT_EDEADLINE : CFUT_ETASK);
    else
        m = status_bit(CFUT_EWORKER);
    /* A process-pool task held up past task_timeout (a busy machine) is
     * stopped like any other: documented, and counted apart. */
    if (R->proc && R->task_timeout > 0)
        m |= status_bit(CFUT_EDEADLINE);
    if (R->t->race) {
        if (R->shut_flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL))
            m |= status_bit(CFUT_ECANCELLED);
        if (R->proc && (R->shut_flags & (EXECUTOR_TERMINATE | EXECUTOR_KILL)))
            m |= status_bit(CFUT_EWORKER);
    }
    return m;
}

static bool contains(const char *s, const char *needle) { return s && strstr(s, needle); }

/* A consumer got status st (and the result) for x: check and count it. */
static void check_outcome(round *R, rec *x, int st, const void *data, size_t len)
{
    atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
    if (R->shut_on_outcomes && atomic_fetch_add(&R->consumed, 1) == R->shut_at)
        sem_post(&R->shut_sem);
    if (x->yielded++) {
        violation("round %u id %" PRIu64 ": delivered twice", R->no, x->id);
        return;
    }
    x->seen = st;
    if (!future_done(x->f))
        violation("round %u id %" PRIu64 ": a status (%s) but not done", R->no, x->id,
                  cfut_status_name(st));
    if (!(allowed(R, x) & status_bit(st))) {
        violation("round %u (%s) id %" PRIu64 ": %s%s%s got %s (\"%s\")", R->no, R->t->name,
                  x->id, x->call ? "call" : action_name[x->action],
                  x->cancel == 2 ? ", cancelled" : "", x->refused ? ", refused" : "",
                  cfut_status_name(st), future_error_message(x->f) ? future_error_message(x->f) : "");
        return;
    }
    const char *msg = future_error_message(x->f);
    int code = future_error_code(x->f);
    switch (st) {
    case CFUT_OK:
        count(C_OK, 1);
        if (x->call) {
            int64_t v;
            if (len != sizeof v || (memcpy(&v, data, sizeof v), v != soak_call((int64_t)x->id,
                                                                              (int64_t)x->value)))
                violation("round %u id %" PRIu64 ": wrong call result (%zu bytes)", R->no, x->id,
                          len);
        } else if (x->action == A_BIG) {
            const uint8_t *p = data;
            size_t bad = len == BIG_RESULT ? 0 : 1;
            for (size_t i = 0; !bad && i < BIG_RESULT; i++)
                bad = p[i] != res_byte(x->id, i);
            if (bad)
                violation("round %u id %" PRIu64 ": wrong big result (%zu bytes)", R->no, x->id,
                          len);
        } else {
            soak_result r;
            if (len != sizeof r || (memcpy(&r, data, sizeof r), r.id != x->id ||
                                    r.value != mix(x->id, x->value)))
                violation("round %u id %" PRIu64 ": wrong result (%zu bytes)", R->no, x->id,
                          len);
        }
        if (data == NULL || (st == CFUT_OK && msg != NULL))
            violation("round %u id %" PRIu64 ": OK with NULL data or a message", R->no, x->id);
        break;
    case CFUT_ETASK: {
        int want = x->action == A_HANG ? HANG_CODE : x->code;
        if (code != want)
            violation("round %u id %" PRIu64 ": %s: code %d, want %d (\"%s\")", R->no, x->id,
                      action_name[x->action], code, want, msg ? msg : "");
        if (x->action == A_FAIL) {
            char want_msg[64];
            snprintf(want_msg, sizeof want_msg, "soak fail %" PRIu64, x->id);
            if (!contains(msg, want_msg))
                violation("round %u id %" PRIu64 ": message \"%s\"", R->no, x->id,
                          msg ? msg : "(null)");
        }
        count(x->action == A_FAIL ? C_TASK_FAIL : x->action == A_RETCODE ? C_TASK_RET
                                                                          : C_THREAD_STOP, 1);
        break;
    }
    case CFUT_EWORKER: {
        if (!is_crash(x->action)) { /* a TERMINATE/KILL shutdown stopped it */
            if (!contains(msg, "stopped by executor_shutdown"))
                violation("round %u id %" PRIu64 ": EWORKER \"%s\"", R->no, x->id,
                          msg ? msg : "(null)");
            count(C_SHUT_STOPPED, 1);
            break;
        }
        char want_msg[64];
        int c = C_SEGV;
        switch (x->action) {
        case A_SEGV: snprintf(want_msg, sizeof want_msg, "killed by signal %d (SEGV)", SIGSEGV); break;
        case A_ABORT: snprintf(want_msg, sizeof want_msg, "killed by signal %d (ABRT)", SIGABRT); c = C_ABORT; break;
        case A_EXIT:
            /* Under valgrind a forked worker's exit status is memcheck's. */
            if (RUNNING_ON_VALGRIND && R->start == EXECUTOR_START_FORK)
                snprintf(want_msg, sizeof want_msg, "exited with status");
            else
                snprintf(want_msg, sizeof want_msg, "exited with status %d while", x->code);
            c = C_EXIT;
            break;
        default: snprintf(want_msg, sizeof want_msg, "killed by signal %d (KILL)", SIGKILL); c = C_KILLED; break;
        }
        /* A shutdown's signal may have got there first. */
        bool by_shutdown = R->t->race && (R->shut_flags & (EXECUTOR_TERMINATE | EXECUTOR_KILL)) &&
                           contains(msg, "stopped by executor_shutdown");
        if (!contains(msg, "worker pid") || (!contains(msg, want_msg) && !by_shutdown))
            violation("round %u id %" PRIu64 ": %s: \"%s\" lacks \"%s\"", R->no, x->id,
                      action_name[x->action], msg ? msg : "(null)", want_msg);
        if (code != 0)
            violation("round %u id %" PRIu64 ": EWORKER with code %d", R->no, x->id, code);
        count(by_shutdown ? C_SHUT_STOPPED : c, 1);
        break;
    }
    case CFUT_EDEADLINE:
        if (!contains(msg, "ran past its task_timeout"))
            violation("round %u id %" PRIu64 ": EDEADLINE \"%s\"", R->no, x->id,
                      msg ? msg : "(null)");
        count(x->action == A_HANG ? C_DEADLINE : C_SPURIOUS_DEADLINE, 1);
        break;
    case CFUT_ECANCELLED:
        count(x->cancel == 2 ? C_CANCELLED : C_SHUT_CANCELLED, 1);
        break;
    case CFUT_ESHUTDOWN:
        count(C_REFUSED, 1);
        break;
    }
    if (st != CFUT_OK && data != NULL)
        violation("round %u id %" PRIu64 ": %s with data", R->no, x->id, cfut_status_name(st));
}

static void on_done(future_t *f, void *user)
{
    rec *x = user;
    if (!future_done(f))
        atomic_store(&x->cb_not_done, true);
    atomic_store(&x->cb_status, future_status(f));
    atomic_fetch_add(&x->cb_runs, 1);
    if (x->cb_mode == 2)
        future_release(f); /* its own reference, taken at registration */
}

static void on_done_late(future_t *f, void *user)
{
    (void)f;
    (*(int *)user)++;
}

/* ---- submitters ------------------------------------------------------------ */

typedef struct {
    round *R;
    size_t lo, hi;
    int idx;
} sub_ctx;

static void publish(round *R, size_t lo, size_t hi)
{
    pthread_mutex_lock(&R->mu);
    R->q[R->qtail][0] = lo;
    R->q[R->qtail][1] = hi;
    R->qtail++;
    pthread_cond_signal(&R->cv);
    pthread_mutex_unlock(&R->mu);
}

static future_t *submit_one(round *R, rec *x)
{
    if (x->call)
        return executor_call(R->ex, (cfut_fn)soak_call, "q:qq", (int64_t)x->id,
                             (int64_t)x->value);
    union {
        soak_arg a;
        unsigned char bytes[sizeof(soak_arg)];
    } u;
    memset(&u, 0, sizeof u);
    u.a.id = x->id;
    u.a.value = x->value;
    u.a.rec = R->proc ? 0 : (uint64_t)(uintptr_t)x;
    u.a.action = x->action;
    u.a.code = x->code;
    u.a.round = R->init ? R->no : 0;
    if (x->action == A_KILLED)
        snprintf(u.a.fifo, sizeof u.a.fifo, "%s", G.fifo);
    if (x->action != A_BIG)
        return executor_submit(R->ex, soak_task, &u, sizeof u);
    u.a.big = BIG_ARG;
    unsigned char *buf = malloc(sizeof u + BIG_ARG);
    if (!buf)
        return executor_submit(R->ex, soak_task, &u, 1); /* fails E_BADARG: reported */
    memcpy(buf, &u, sizeof u);
    for (size_t i = 0; i < BIG_ARG; i++)
        buf[sizeof u + i] = arg_byte(x->id, i);
    future_t *f = executor_submit(R->ex, soak_task, buf, sizeof u + BIG_ARG);
    free(buf);
    return f;
}

static void *submitter(void *p)
{
    sub_ctx *c = p;
    round *R = c->R;
    uint64_t rng = R->seed ^ (0x5b5b5b5bu * (uint64_t)(c->idx + 1));
    bool refused_seen = false;
    size_t batch_lo = c->lo;
    for (size_t i = c->lo; i < c->hi; i++) {
        rec *x = &R->recs[i];
        bool after = atomic_load(&R->shut_returned);
        x->f = submit_one(R, x);
        if (R->t->race && !R->shut_on_outcomes &&
            atomic_fetch_add(&R->submitted, 1) == R->shut_at)
            sem_post(&R->shut_sem);
        x->refused = future_done(x->f) && future_status(x->f) == CFUT_ESHUTDOWN;
        if (x->refused) {
            if (!atomic_load(&R->shut_called))
                violation("round %u id %" PRIu64 ": refused before any shutdown", R->no, x->id);
            refused_seen = true;
        } else if (refused_seen || after) {
            violation("round %u id %" PRIu64 ": accepted after %s", R->no, x->id,
                      refused_seen ? "a refusal" : "the shutdown returned");
        }
        if (x->cb_mode) {
            if (x->cb_mode == 2)
                future_retain(x->f);
            int rc = future_add_done_callback(x->f, on_done, x);
            if (rc != CFUT_OK) {
                violation("round %u id %" PRIu64 ": add_done_callback: %s", R->no, x->id,
                          cfut_status_name(rc));
                if (x->cb_mode == 2)
                    future_release(x->f);
                x->cb_mode = 0;
            }
        }
        /* Cancel one of this batch, often one still queued. */
        if (chance(&rng, 0.04)) {
            size_t back = rnd_below(&rng, 16);
            rec *y = &R->recs[i - (back > i - batch_lo ? i - batch_lo : back)];
            if (!y->refused) {
                bool ok = future_cancel(y->f);
                count(C_CANCEL_TRIED, 1);
                if (ok) {
                    y->cancel = 2;
                    /* Its callbacks ran in this thread, before the return
                     * (in race rounds a cancelling shutdown may be running
                     * them right now instead). */
                    if (!R->t->race && y->cb_mode && atomic_load(&y->cb_runs) != 1)
                        violation("round %u id %" PRIu64 ": cancelled, callbacks ran %d times",
                                  R->no, y->id, atomic_load(&y->cb_runs));
                } else if (y->cancel == 2) {
                    violation("round %u id %" PRIu64 ": cancelled, then cancel false", R->no,
                              y->id);
                } else {
                    y->cancel = 1;
                }
            }
        }
        if (i + 1 - batch_lo == R->batch || i + 1 == c->hi) {
            publish(R, batch_lo, i + 1);
            batch_lo = i + 1;
        }
    }
    pthread_mutex_lock(&R->mu);
    if (--R->subs_left == 0)
        pthread_cond_broadcast(&R->cv);
    pthread_mutex_unlock(&R->mu);
    return NULL;
}

static void *shutter(void *p)
{
    round *R = p;
    while (sem_wait(&R->shut_sem) != 0 && errno == EINTR)
        ;
    atomic_store(&R->shut_called, true);
    int rc = executor_shutdown(R->ex, R->shut_flags);
    atomic_store(&R->shut_returned, true);
    if (rc != CFUT_OK)
        violation("round %u: executor_shutdown: %s", R->no, cfut_status_name(rc));
    if (R->shut_wait_again) {
        rc = executor_shutdown(R->ex, R->shut_flags | EXECUTOR_WAIT);
        if (rc != CFUT_OK)
            violation("round %u: executor_shutdown WAIT: %s", R->no, cfut_status_name(rc));
    }
    return NULL;
}

/* ---- consumers ------------------------------------------------------------- */

typedef struct {
    round *R;
    int idx;
    uint64_t rng;
} cons_ctx;

static void consume_result(cons_ctx *c, rec *x)
{
    const void *data = (const void *)x;
    size_t len = 12345;
    int st;
    if (chance(&c->rng, 0.3)) {
        /* A result timeout: must leave the future unharmed. */
        st = future_result(x->f, chance(&c->rng, 0.5) ? 0 : 1e-4, &data, &len);
        if (st != CFUT_ETIMEDOUT) {
            check_outcome(c->R, x, st, data, len);
            return;
        }
        count(C_RESULT_TIMEOUTS, 1);
        if (data != NULL || len != 0)
            violation("round %u id %" PRIu64 ": ETIMEDOUT left data", c->R->no, x->id);
    }
    st = future_result(x->f, -1, &data, &len);
    check_outcome(c->R, x, st, data, len);
}

static const double some_timeouts[] = {-1, 0, 1e-4, 1e-3};

static void consume_wait(cons_ctx *c, size_t lo, size_t hi)
{
    round *R = c->R;
    size_t n = hi - lo, k = n;
    rec **pend = malloc(n * sizeof *pend);
    future_t **fs = malloc((n + 1) * sizeof *fs);
    if (!pend || !fs) {
        free(pend);
        free(fs);
        for (size_t i = lo; i < hi; i++)
            consume_result(c, &R->recs[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        pend[i] = &R->recs[lo + i];
    while (k > 0) {
        size_t m = k;
        for (size_t i = 0; i < k; i++)
            fs[i] = pend[i]->f;
        if (chance(&c->rng, 0.1))
            fs[m++] = fs[rnd_below(&c->rng, k)]; /* duplicates count once */
        futures_return_when when = (futures_return_when)rnd_below(&c->rng, 3);
        double timeout = some_timeouts[rnd_below(&c->rng, 4)];
        int rc = futures_wait(fs, m, timeout, when);
        count(C_WAITS, 1);
        if (rc == CFUT_ETIMEDOUT) {
            count(C_WAIT_TIMEOUTS, 1);
        } else if (rc != CFUT_OK) {
            violation("round %u: futures_wait: %s", R->no, cfut_status_name(rc));
            break;
        } else {
            /* Futures only become done, so what held at the return holds. */
            size_t done = 0, failed = 0;
            for (size_t i = 0; i < k; i++)
                if (future_done(fs[i])) {
                    done++;
                    int st = future_status(fs[i]);
                    failed += st != CFUT_OK && st != CFUT_ECANCELLED;
                }
            if ((when == FUTURES_ALL_COMPLETED && done != k) ||
                (when == FUTURES_FIRST_COMPLETED && done == 0) ||
                (when == FUTURES_FIRST_EXCEPTION && failed == 0 && done != k))
                violation("round %u: futures_wait(%d) returned OK with %zu of %zu done, "
                          "%zu failed", R->no, (int)when, done, k, failed);
        }
        size_t j = 0;
        for (size_t i = 0; i < k; i++) {
            if (future_done(pend[i]->f)) {
                const void *data;
                size_t len;
                int st = future_result(pend[i]->f, 0, &data, &len);
                check_outcome(R, pend[i], st, data, len);
            } else {
                pend[j++] = pend[i];
            }
        }
        k = j;
    }
    for (size_t i = 0; i < k; i++) /* only after a violation */
        consume_result(c, pend[i]);
    free(pend);
    free(fs);
}

typedef struct {
    future_t *f;
    rec *x;
} fmap;

static int fmap_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const fmap *)a)->f, y = (uintptr_t)((const fmap *)b)->f;
    return x < y ? -1 : x > y;
}

static void consume_iter(cons_ctx *c, size_t lo, size_t hi, bool use_poll)
{
    round *R = c->R;
    size_t n = hi - lo;
    fmap *map = malloc(n * sizeof *map);
    future_t **fs = malloc((n + 1) * sizeof *fs);
    futures_iter *it = NULL;
    if (map && fs) {
        for (size_t i = 0; i < n; i++) {
            map[i].f = fs[i] = R->recs[lo + i].f;
            map[i].x = &R->recs[lo + i];
        }
        size_t m = n;
        if (chance(&c->rng, 0.2))
            fs[m++] = fs[rnd_below(&c->rng, n)]; /* yielded once all the same */
        qsort(map, n, sizeof *map, fmap_cmp);
        it = futures_as_completed(fs, m);
    }
    if (!it) {
        violation("round %u: futures_as_completed failed", R->no);
        for (size_t i = lo; i < hi; i++)
            consume_result(c, &R->recs[i]);
        free(map);
        free(fs);
        return;
    }
    count(use_poll ? C_POLLS : C_ITERS, 1);
    if (futures_iter_pending(it) != n)
        violation("round %u: iterator pending %zu, want %zu", R->no, futures_iter_pending(it), n);
    /* Sometimes drop the iterator half-way: the rest are waited on alone. */
    size_t stop_after = chance(&c->rng, 0.1) ? n / 2 : n + 1;
    size_t got = 0;
    int fd = use_poll ? futures_iter_fd(it) : -1;
    if (use_poll && fd < 0) {
        violation("round %u: futures_iter_fd: %s", R->no, strerror(errno));
        use_poll = false;
    }
    while (got < stop_after) {
        future_t *f = (future_t *)fs; /* garbage: must be overwritten */
        int rc;
        if (use_poll) {
            struct pollfd p = {fd, POLLIN, 0};
            int pr = poll(&p, 1, (int)rnd_below(&c->rng, 3) - 1);
            if (pr == 0) {
                count(C_ITER_TIMEOUTS, 1);
                continue;
            }
            if (pr < 0 && errno == EINTR)
                continue;
            rc = futures_next(it, 0, &f);
            if (rc == CFUT_ETIMEDOUT) {
                char path[64], target[128] = "?";
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                ssize_t tl = readlink(path, target, sizeof target - 1);
                target[tl > 0 ? tl : 0] = '\0';
                violation("round %u (%s): the iterator's fd %d (%s) was readable (poll %d, "
                          "revents %#x), futures_next timed out (%zu of %zu yielded, pending "
                          "%zu)", R->no, R->t->name, fd, target, pr, p.revents, got, n,
                          futures_iter_pending(it));
                use_poll = false; /* it would stay readable: report it once */
            }
        } else {
            rc = futures_next(it, some_timeouts[rnd_below(&c->rng, 4)], &f);
        }
        if (rc == CFUT_ETIMEDOUT) {
            if (f != NULL)
                violation("round %u: futures_next ETIMEDOUT with a future", R->no);
            count(C_ITER_TIMEOUTS, 1);
            continue;
        }
        if (rc != CFUT_OK) {
            violation("round %u: futures_next: %s", R->no, cfut_status_name(rc));
            break;
        }
        if (f == NULL) {
            if (got != n)
                violation("round %u: iterator ended after %zu of %zu", R->no, got, n);
            break;
        }
        fmap key = {f, NULL}, *hit = bsearch(&key, map, n, sizeof *map, fmap_cmp);
        if (!hit) {
            violation("round %u: futures_next gave a future not in the set", R->no);
            future_release(f);
            break;
        }
        got++;
        const void *data;
        size_t len;
        int st = future_result(f, 0, &data, &len);
        check_outcome(R, hit->x, st, data, len);
        future_release(f);
        if (futures_iter_pending(it) != n - got)
            violation("round %u: iterator pending %zu after %zu of %zu", R->no,
                      futures_iter_pending(it), got, n);
    }
    futures_iter_free(it);
    for (size_t i = lo; i < hi; i++)
        if (!R->recs[i].yielded)
            consume_result(c, &R->recs[i]);
    free(map);
    free(fs);
}

static void *consumer(void *p)
{
    cons_ctx *c = p;
    round *R = c->R;
    for (;;) {
        pthread_mutex_lock(&R->mu);
        while (R->qhead == R->qtail && R->subs_left > 0)
            pthread_cond_wait(&R->cv, &R->mu);
        if (R->qhead == R->qtail) {
            pthread_mutex_unlock(&R->mu);
            return NULL;
        }
        size_t lo = R->q[R->qhead][0], hi = R->q[R->qhead][1];
        R->qhead++;
        pthread_mutex_unlock(&R->mu);
        switch (rnd_below(&c->rng, 4)) {
        case 0:
            for (size_t i = lo; i < hi; i++)
                consume_result(c, &R->recs[i]);
            break;
        case 1: consume_wait(c, lo, hi); break;
        case 2: consume_iter(c, lo, hi, false); break;
        default: consume_iter(c, lo, hi, true); break;
        }
        /* A callback added once done runs at once, in this thread. */
        for (size_t i = lo; i < hi; i++) {
            if (!chance(&c->rng, 0.02))
                continue;
            int ran = 0;
            if (future_add_done_callback(R->recs[i].f, on_done_late, &ran) != CFUT_OK || ran != 1)
                violation("round %u id %" PRIu64 ": a late callback ran %d times", R->no,
                          R->recs[i].id, ran);
            count(C_LATE_CB, 1);
        }
    }
}

/* ---- maps ------------------------------------------------------------------- */

static size_t map_chunksize(const round *R, size_t n, size_t cs)
{
    if (cs)
        return cs;
    size_t c = n / (4 * (size_t)R->workers);
    return c < 1 ? 1 : c > 4096 ? 4096 : c;
}

/* The statuses an item may end with beyond its own, its chunk having
 * failed as a whole (or been refused, cancelled, stopped). */
static unsigned chunk_allowed(const round *R)
{
    unsigned m = 0;
    if (R->task_timeout > 0)
        m |= status_bit(CFUT_EDEADLINE);
    if (R->t->race) {
        m |= status_bit(CFUT_ESHUTDOWN);
        if (R->shut_flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL))
            m |= status_bit(CFUT_ECANCELLED);
        if (R->proc && (R->shut_flags & (EXECUTOR_TERMINATE | EXECUTOR_KILL)))
            m |= status_bit(CFUT_EWORKER);
    }
    return m;
}

/* Items' statuses in, chunk outcomes (as the stats count them) out. */
static void account_chunks(round *R, const soak_arg *items, const int *st, size_t n,
                           size_t cs, const char *what)
{
    unsigned extra = chunk_allowed(R);
    for (size_t lo = 0; lo < n; lo += cs) {
        size_t hi = lo + cs < n ? lo + cs : n;
        bool crash = false;
        for (size_t i = lo; i < hi && items; i++)
            crash |= is_crash((int)items[i].action);
        int first = st[lo];
        bool whole = first == CFUT_EWORKER || first == CFUT_EDEADLINE ||
                     first == CFUT_ESHUTDOWN || (first == CFUT_ECANCELLED && R->proc);
        if (crash && !(first == CFUT_EWORKER || (extra & status_bit(first))))
            violation("round %u %s: a chunk with a crash: item %zu %s", R->no, what, lo,
                      cfut_status_name(first));
        for (size_t i = lo; i < hi; i++) {
            int own = !items ? CFUT_OK
                      : items[i].action == A_OK ? CFUT_OK : CFUT_ETASK;
            bool ok = whole ? st[i] == first
                            : st[i] == own || (extra & status_bit(st[i]));
            if (crash && !whole)
                ok = false;
            if (!ok) {
                violation("round %u %s: item %zu: %s (chunk %zu: %s)", R->no, what, i,
                          cfut_status_name(st[i]), lo, cfut_status_name(first));
                break;
            }
        }
        if (crash && first == CFUT_EWORKER)
            count(C_CHUNK_CRASHES, 1);
        if (first == CFUT_ESHUTDOWN) {
            continue; /* refused: counted nowhere */
        }
        atomic_fetch_add(&R->chunks_accepted, 1);
        if (first == CFUT_EWORKER || first == CFUT_EDEADLINE) {
            atomic_fetch_add(&R->chunks_failed, 1);
            atomic_fetch_add(&R->chunks_lost_workers, 1);
        } else if (first == CFUT_ECANCELLED && R->proc) {
            atomic_fetch_add(&R->chunks_cancelled, 1);
        } else {
            atomic_fetch_add(&R->chunks_completed, 1);
        }
        count(C_CHUNKS, 1);
    }
    atomic_fetch_add_explicit(&progress, (long long)n, memory_order_relaxed);
}

static void one_map(round *R, uint64_t *rng, unsigned serial)
{
    size_t max = (size_t)(300 * G.scale) + 2;
    size_t n = 1 + rnd_below(rng, max);
    size_t cs_opt = chance(rng, 0.2) ? 0 : 1 + rnd_below(rng, 64);
    size_t cs = map_chunksize(R, n, cs_opt);
    int variant = (int)rnd_below(rng, 4);
    int *st = malloc(n * sizeof *st);
    soak_arg *items = calloc(n, sizeof *items);
    soak_result *res = calloc(n, sizeof *res);
    int64_t *ids = malloc(n * sizeof *ids), *vals = malloc(n * sizeof *vals),
            *out = malloc(n * sizeof *out);
    if (!st || !items || !res || !ids || !vals || !out) {
        violation("round %u: out of memory for a map", R->no);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].id = ((uint64_t)R->no << 40) | ((uint64_t)serial << 20) | i;
        items[i].value = rnd(rng);
        items[i].round = R->init ? R->no : 0;
        double u = rnd01(rng);
        items[i].action = u < 0.85 ? A_OK : A_FAIL;
        items[i].code = (int32_t)(rnd(rng) % 2001) - 1000;
        if (R->proc && variant != 3 && chance(rng, G.crash_rate / 4))
            items[i].action = A_SEGV + (uint32_t)rnd_below(rng, 3);
        ids[i] = (int64_t)items[i].id;
        vals[i] = (int64_t)items[i].value;
        st[i] = -1;
    }
    cfut_map_options o = {.chunksize = cs_opt, .unordered = variant == 2};
    const char *what = "executor_map";
    int rc;
    if (variant == 0) {
        rc = executor_map(R->ex, soak_task, items, n, sizeof *items, res, sizeof *res, st, &o);
        for (size_t i = 0; i < n; i++)
            if (st[i] == CFUT_OK && (res[i].id != items[i].id ||
                                     res[i].value != mix(items[i].id, items[i].value)))
                violation("round %u executor_map: item %zu: wrong result", R->no, i);
        int first = CFUT_OK;
        for (size_t i = 0; i < n && first == CFUT_OK; i++)
            first = st[i];
        if (rc != first)
            violation("round %u executor_map: returned %s, first failure %s", R->no,
                      cfut_status_name(rc), cfut_status_name(first));
    } else if (variant == 3) {
        what = "executor_map_call";
        const void *in[] = {ids, vals};
        rc = executor_map_call(R->ex, (cfut_fn)soak_call, "q:qq", n, out, in, st, &o);
        for (size_t i = 0; i < n; i++)
            if (st[i] == CFUT_OK && out[i] != soak_call(ids[i], vals[i]))
                violation("round %u executor_map_call: item %zu: wrong result", R->no, i);
        (void)rc;
        count(C_MAP_CALL_ITEMS, (long long)n);
    } else {
        what = variant == 1 ? "map_start" : "map_start unordered";
        cfut_map *m = executor_map_start(R->ex, soak_task, items, n, sizeof *items, &o);
        if (!m) {
            violation("round %u: executor_map_start returned NULL", R->no);
            goto done;
        }
        size_t got = 0, last = SIZE_MAX;
        for (;;) {
            size_t idx;
            const void *data;
            size_t len;
            rc = cfut_map_next(m, &idx, &data, &len);
            if (idx == SIZE_MAX)
                break;
            if (idx >= n || st[idx] != -1) {
                violation("round %u %s: index %zu out of range or twice", R->no, what, idx);
                break;
            }
            if (variant == 1 && last != SIZE_MAX && idx != last + 1)
                violation("round %u %s: index %zu after %zu", R->no, what, idx, last);
            last = idx;
            got++;
            st[idx] = rc;
            int code;
            const char *msg = cfut_map_error(m, &code);
            if (rc == CFUT_OK) {
                soak_result r;
                if (len != sizeof r || (memcpy(&r, data, sizeof r), r.id != items[idx].id))
                    violation("round %u %s: item %zu: wrong result", R->no, what, idx);
            } else if (rc == CFUT_ETASK && (code != items[idx].code || !msg)) {
                violation("round %u %s: item %zu: code %d, want %d", R->no, what, idx, code,
                          items[idx].code);
            }
        }
        cfut_map_close(m);
        if (got != n)
            violation("round %u %s: %zu items of %zu", R->no, what, got, n);
    }
    count(C_MAPS, 1);
    count(C_MAP_ITEMS, (long long)n);
    account_chunks(R, variant == 3 ? NULL : items, st, n, cs, what);
done:
    free(st);
    free(items);
    free(res);
    free(ids);
    free(vals);
    free(out);
}

static void *mapper(void *p)
{
    round *R = p;
    uint64_t rng = R->seed ^ 0xa5a5a5a5a5a5u;
    unsigned serial = 0;
    do
        one_map(R, &rng, serial++);
    while (!atomic_load(&R->subs_done) && !atomic_load(&R->shut_returned) && serial < 1000);
    return NULL;
}

/* ---- the watchdog ------------------------------------------------------------- */

static sem_t watchdog_stop;

static void *watchdog(void *unused)
{
    (void)unused;
    double limit = 120 * G.tmult, last_change = now();
    long long last = atomic_load(&progress);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (sem_timedwait(&watchdog_stop, &ts) == 0)
            return NULL;
        long long p = atomic_load(&progress);
        if (p != last) {
            last = p;
            last_change = now();
            continue;
        }
        if (now() - last_change < limit)
            continue;
        round *R = atomic_load(&current);
        fprintf(stderr, "soak: HANG: nothing completed for %.0f s (seed 0x%" PRIx64 ")\n",
                limit, G.seed);
        if (R) {
            size_t undone = 0;
            for (size_t i = 0; i < R->n; i++)
                undone += R->recs[i].f && !future_done(R->recs[i].f);
            fprintf(stderr, "soak: round %u (%s), %zu tasks, %d workers, %zu not done\n",
                    R->no, R->t->name, R->n, R->workers, undone);
        }
        flush_violations();
        abort();
    }
}

/* ---- one round ------------------------------------------------------------------ */

static void plan_round(round *R, unsigned no, uint64_t *rng)
{
    memset(R, 0, sizeof *R);
    R->no = no;
    R->seed = rnd(rng);
    R->t = &templates[(no - 1) % NTEMPLATES];
    R->proc = R->t->kind == EXECUTOR_PROCESSES;
    R->start = R->t->start;
    /* TSan cannot follow fork() of a threaded process. Nor, here, can ASan:
     * gcc 12's libasan does not lock its allocator around fork(), so a
     * worker forked while one of our many threads allocates can deadlock in
     * its first malloc (seen: worker.c fd_read -> realloc, in
     * SizeClassAllocator64::GetFromAllocator). Under valgrind a forked
     * worker is a slow memcheck copy. The process tests cover fork there. */
    if (R->start == EXECUTOR_START_FORK && (TH_TSAN || TH_ASAN || RUNNING_ON_VALGRIND))
        R->start = TH_TSAN ? EXECUTOR_START_SPAWN : EXECUTOR_START_FORKSERVER;
    R->workers = R->proc ? 1 + (int)rnd_below(rng, 4) : 1 + (int)rnd_below(rng, 6);
    if (R->t->timeout)
        R->task_timeout = (R->proc ? 0.25 : 0.02) * G.tmult;
    if (R->t->recycle)
        R->max_tasks = 20 + (unsigned)rnd_below(rng, 500);
    R->init = chance(rng, 0.5);
    if (R->t->race) {
        static const unsigned flags[] = {
            0, EXECUTOR_WAIT, EXECUTOR_CANCEL_PENDING, EXECUTOR_CANCEL_PENDING | EXECUTOR_WAIT,
            EXECUTOR_TERMINATE, EXECUTOR_KILL, EXECUTOR_TERMINATE | EXECUTOR_WAIT};
        R->shut_flags = flags[rnd_below(rng, sizeof flags / sizeof flags[0])];
        R->shut_wait_again = chance(rng, 0.5);
    }
    R->killed_ok = R->proc && !R->t->timeout &&
                   !(R->t->race && (R->shut_flags & (EXECUTOR_TERMINATE | EXECUTOR_KILL)));
    R->early_free = chance(rng, 0.3);
    double base = (R->proc ? 1500 : 4000) * G.scale;
    R->n = 1 + (size_t)(base * (0.5 + rnd01(rng)));
    R->nsub = 1 + (int)rnd_below(rng, 3);
    R->ncons = 1 + (int)rnd_below(rng, 2);
    R->batch = 16 + rnd_below(rng, 497);
    R->map_ambiguous = !R->proc && R->t->race &&
                       (R->shut_flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE |
                                         EXECUTOR_KILL));
}

static void plan_tasks(round *R, uint64_t *rng)
{
    for (size_t i = 0; i < R->n; i++) {
        rec *x = &R->recs[i];
        x->id = ((uint64_t)R->no << 32) | i;
        x->value = rnd(rng);
        x->call = chance(rng, 0.05);
        double u = rnd01(rng);
        x->action = u < 0.80 ? A_OK : u < 0.90 ? A_FAIL : u < 0.95 ? A_RETCODE : A_OK;
        if (chance(rng, 0.002))
            x->action = A_BIG;
        x->code = x->action == A_RETCODE ? 1 + (int32_t)rnd_below(rng, 1000)
                                         : (int32_t)(rnd(rng) % 2001) - 1000;
        x->cb_mode = (uint8_t)(chance(rng, 0.25) ? 0 : chance(rng, 0.33) ? 2 : 1);
    }
    /* Faults: at a rate, and at least one of each kind per round. */
    int kinds[4], nk = 0;
    if (R->proc) {
        kinds[nk++] = A_SEGV;
        kinds[nk++] = A_ABORT;
        kinds[nk++] = A_EXIT;
        if (R->killed_ok)
            kinds[nk++] = A_KILLED;
    }
    for (int k = 0; k < nk; k++) {
        size_t extra = (size_t)((double)R->n * G.crash_rate / nk * (0.5 + rnd01(rng)));
        for (size_t j = 0; j < 1 + extra; j++) {
            rec *x = &R->recs[rnd_below(rng, R->n)];
            x->call = false;
            x->action = (uint8_t)kinds[k];
            x->code = (int32_t)rnd_below(rng, 126); /* _exit's status, 0 included */
        }
    }
    if (R->task_timeout > 0) {
        size_t hangs = 1 + (size_t)((double)R->n * G.hang_rate * rnd01(rng));
        for (size_t j = 0; j < hangs; j++) {
            rec *x = &R->recs[rnd_below(rng, R->n)];
            x->call = false;
            x->action = A_HANG;
        }
    }
    if (R->t->race) {
        R->shut_at = rnd_below(rng, R->n);
        R->shut_on_outcomes = chance(rng, 0.5);
    }
}

static void check_leaks(round *R, int fd0, int thr0, int others0)
{
    int fds = fd_count();
    if (fds != fd0)
        violation("round %u: descriptors: %d before, %d after executor_free", R->no, fd0, fds);
    char who[160] = "";
    int k = others(who, sizeof who);
    if (k != others0)
        violation("round %u: %d process(es) left after executor_free (e.g. %s)", R->no,
                  k - others0, who);
    /* A joined thread can stay listed for a moment: poll briefly. */
    double give_up = now() + 5 * G.tmult;
    int thr;
    while ((thr = thread_count()) != thr0 && now() < give_up)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (thr != thr0)
        violation("round %u: threads: %d before, %d after executor_free", R->no, thr0, thr);
}

static void run_round(round *R)
{
    int fd0 = fd_count(), thr0 = thread_count(), others0 = others(NULL, 0);
    R->recs = calloc(R->n, sizeof *R->recs);
    R->q = calloc(R->n + (size_t)R->nsub + 1, sizeof *R->q);
    if (!R->recs || !R->q) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    uint64_t rng = R->seed;
    plan_tasks(R, &rng);
    pthread_mutex_init(&R->mu, NULL);
    pthread_cond_init(&R->cv, NULL);
    sem_init(&R->shut_sem, 0, 0);
    R->subs_left = R->nsub;

    char prefix[16];
    snprintf(prefix, sizeof prefix, "sk%u", R->no % 1000);
    uint32_t initarg = R->no;
    executor_options o = {
        .max_workers = R->workers,
        .name_prefix = prefix,
        .initializer = R->init ? soak_init : NULL,
        .initarg = R->init ? &initarg : NULL,
        .initarg_len = R->init ? sizeof initarg : 0,
        .start = R->start,
        .max_tasks_per_worker = R->max_tasks,
        .task_timeout = R->task_timeout,
    };
    int rc = executor_new(&R->ex, R->t->kind, &o);
    if (rc != CFUT_OK) {
        violation("round %u: executor_new: %s", R->no, cfut_status_name(rc));
        goto out;
    }
    atomic_store(&current, R);

    pthread_t subs[3], cons[2], shut, map;
    sub_ctx sc[3];
    cons_ctx cc[2];
    for (int i = 0; i < R->ncons; i++) {
        cc[i] = (cons_ctx){R, i, R->seed ^ (0xc0c0u + (uint64_t)i)};
        pthread_create(&cons[i], NULL, consumer, &cc[i]);
    }
    if (R->t->race)
        pthread_create(&shut, NULL, shutter, R);
    if (R->t->maps)
        pthread_create(&map, NULL, mapper, R);
    for (int i = 0; i < R->nsub; i++) {
        sc[i] = (sub_ctx){R, R->n * (size_t)i / (size_t)R->nsub,
                          R->n * (size_t)(i + 1) / (size_t)R->nsub, i};
        pthread_create(&subs[i], NULL, submitter, &sc[i]);
    }
    for (int i = 0; i < R->nsub; i++)
        pthread_join(subs[i], NULL);
    atomic_store(&R->subs_done, true);
    if (R->t->maps)
        pthread_join(map, NULL);
    if (R->t->race)
        pthread_join(shut, NULL);

    executor_stats s;
    bool have_stats = false;
    if (R->early_free) {
        /* Consumers still wait: executor_free lets queued work run and the
         * futures outlive it. Nothing else calls on the executor now. */
        executor_free(R->ex);
        R->ex = NULL;
        count(C_EARLY_FREES, 1);
    }
    for (int i = 0; i < R->ncons; i++)
        pthread_join(cons[i], NULL);
    if (R->ex) {
        rc = executor_shutdown(R->ex, EXECUTOR_WAIT);
        if (rc != CFUT_OK)
            violation("round %u: executor_shutdown: %s", R->no, cfut_status_name(rc));
        rc = executor_get_stats(R->ex, &s);
        have_stats = rc == CFUT_OK;
        executor_free(R->ex);
        R->ex = NULL;
    }

    /* Every future: done once, as the consumer saw it, callbacks once. */
    long long accepted = 0, ok = 0, failed = 0, cancelled = 0, lost_workers = 0;
    for (size_t i = 0; i < R->n; i++) {
        rec *x = &R->recs[i];
        if (!x->f) {
            violation("round %u id %" PRIu64 ": no future", R->no, x->id);
            count(C_LOST, 1);
            continue;
        }
        if (!future_done(x->f) || x->yielded != 1) {
            violation("round %u id %" PRIu64 ": %s, delivered %d times", R->no, x->id,
                      future_done(x->f) ? "done" : "NOT DONE", x->yielded);
            count(C_LOST, 1);
        }
        int st = future_status(x->f);
        if (x->yielded && st != x->seen)
            violation("round %u id %" PRIu64 ": status %s, the consumer saw %s", R->no, x->id,
                      cfut_status_name(st), cfut_status_name(x->seen));
        int runs = atomic_load(&x->cb_runs);
        if (runs != (x->cb_mode ? 1 : 0) || atomic_load(&x->cb_not_done) ||
            (runs && atomic_load(&x->cb_status) != st)) {
            violation("round %u id %" PRIu64 ": callback ran %d times (status %s, now %s)",
                      R->no, x->id, runs, cfut_status_name(atomic_load(&x->cb_status)),
                      cfut_status_name(st));
            if (runs == 0)
                count(C_LOST, 1);
        }
        count(C_CALLBACKS, runs);
        count(C_CB_RELEASE, x->cb_mode == 2 && runs);
        int ran = atomic_load(&x->ran);
        if (!R->proc && !x->call &&
            (ran > 1 || ((st == CFUT_ECANCELLED || x->refused) && ran != 0) ||
             (st == CFUT_OK && ran != 1)))
            violation("round %u id %" PRIu64 ": %s, the task ran %d times", R->no, x->id,
                      cfut_status_name(st), ran);
        count(x->call ? C_CALLS : C_SUBMITS, 1);
        if (x->action == A_BIG)
            count(C_BIG, 1);
        if (x->refused)
            continue;
        accepted++;
        ok += st == CFUT_OK;
        failed += st == CFUT_ETASK || st == CFUT_EWORKER || st == CFUT_EDEADLINE;
        cancelled += st == CFUT_ECANCELLED;
        lost_workers += R->proc && (st == CFUT_EWORKER || st == CFUT_EDEADLINE);
        future_release(x->f);
    }
    for (size_t i = 0; i < R->n; i++)
        if (R->recs[i].f && R->recs[i].refused)
            future_release(R->recs[i].f);
    count(R->proc ? C_PROC_TASKS : C_THREAD_TASKS, (long long)R->n);

    if (have_stats) {
        long long ca = atomic_load(&R->chunks_accepted);
        long long want_c = ok + atomic_load(&R->chunks_completed),
                  want_f = failed + atomic_load(&R->chunks_failed),
                  want_x = cancelled + atomic_load(&R->chunks_cancelled);
        long long got_sum = (long long)(s.completed + s.failed + s.cancelled);
        if (got_sum != accepted + ca)
            violation("round %u: stats completed %zu + failed %zu + cancelled %zu = %lld, "
                      "accepted %lld tasks + %lld chunks", R->no, s.completed, s.failed,
                      s.cancelled, got_sum, accepted, ca);
        else if (!R->map_ambiguous &&
                 ((long long)s.completed != want_c || (long long)s.failed != want_f ||
                  (long long)s.cancelled != want_x))
            violation("round %u: stats completed/failed/cancelled %zu/%zu/%zu, want "
                      "%lld/%lld/%lld", R->no, s.completed, s.failed, s.cancelled, want_c,
                      want_f, want_x);
        if (s.workers || s.idle || s.queued || s.running)
            violation("round %u: after shutdown(WAIT): workers %zu idle %zu queued %zu "
                      "running %zu", R->no, s.workers, s.idle, s.queued, s.running);
        long long want_lost = lost_workers + atomic_load(&R->chunks_lost_workers);
        bool stopping = R->t->race && (R->shut_flags & (EXECUTOR_TERMINATE | EXECUTOR_KILL));
        if (!R->proc ? s.workers_lost != 0
                     : stopping ? (long long)s.workers_lost < want_lost
                                : (long long)s.workers_lost != want_lost)
            violation("round %u: workers_lost %zu, want %s%lld", R->no, s.workers_lost,
                      stopping ? ">= " : "", want_lost);
    }
out:
    atomic_store(&current, NULL);
    check_leaks(R, fd0, thr0, others0);
    count(C_ROUNDS, 1);
    count(C_RACES, R->t->race);
    free(R->recs);
    free(R->q);
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->cv);
    sem_destroy(&R->shut_sem);
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: soak [--tasks N] [--seconds S] [--seed X] [--crash-rate R]\n"
            "            [--hang-rate R] [--rounds N] [--scale F] [--verbose]\n"
            "Runs rounds until N tasks ran or S seconds passed, after at least one of each\n"
            "round template. Default: a short run (a few seconds; less under sanitizers,\n"
            "one small cycle under valgrind).\n");
    exit(2);
}

static double env_mult(void)
{
    const char *s = getenv("CFUT_TEST_TIMEOUT_MULT");
    double v = s ? strtod(s, NULL) : 1;
    return v >= 1 ? v : 1;
}

static void print_summary(double wall, long rss0, long rss1, long rss2)
{
    long long tasks = counter(C_SUBMITS) + counter(C_CALLS) + counter(C_MAP_ITEMS);
    long long crashes = counter(C_SEGV) + counter(C_ABORT) + counter(C_EXIT) +
                        counter(C_KILLED) + counter(C_CHUNK_CRASHES);
    printf("soak: seed 0x%" PRIx64 ", %lld rounds in %.1f s: %lld tasks run (%lld submits, "
           "%lld calls, %lld map items in %lld maps / %lld chunks; threads %lld, processes "
           "%lld single tasks)\n",
           G.seed, counter(C_ROUNDS), wall, tasks, counter(C_SUBMITS), counter(C_CALLS),
           counter(C_MAP_ITEMS), counter(C_MAPS), counter(C_CHUNKS), counter(C_THREAD_TASKS),
           counter(C_PROC_TASKS));
    printf("soak: faults: %lld crashes (segv %lld, abort %lld, _exit %lld, sigkill %lld of "
           "%lld sent, in map chunks %lld), deadlines %lld (thread stops %lld, late tasks %lld), "
           "task failures %lld (cfut_fail %lld, return %lld), cancels %lld of %lld tried, "
           "shutdown races %lld (refused %lld, cancelled %lld, stopped %lld), result "
           "timeouts %lld, wait timeouts %lld, iterator timeouts %lld\n",
           crashes, counter(C_SEGV), counter(C_ABORT), counter(C_EXIT), counter(C_KILLED),
           counter(C_KILLS_SENT), counter(C_CHUNK_CRASHES), counter(C_DEADLINE),
           counter(C_THREAD_STOP), counter(C_SPURIOUS_DEADLINE),
           counter(C_TASK_FAIL) + counter(C_TASK_RET), counter(C_TASK_FAIL),
           counter(C_TASK_RET), counter(C_CANCELLED), counter(C_CANCEL_TRIED),
           counter(C_RACES), counter(C_REFUSED), counter(C_SHUT_CANCELLED),
           counter(C_SHUT_STOPPED), counter(C_RESULT_TIMEOUTS), counter(C_WAIT_TIMEOUTS),
           counter(C_ITER_TIMEOUTS));
    printf("soak: also: callbacks %lld (%lld releasing their reference, %lld added late), "
           "futures_wait %lld, as-completed %lld, poll %lld, big values %lld, early frees "
           "%lld; RSS %ld kB at start, %ld kB after round 1, %ld kB at the end\n",
           counter(C_CALLBACKS), counter(C_CB_RELEASE), counter(C_LATE_CB), counter(C_WAITS),
           counter(C_ITERS), counter(C_POLLS), counter(C_BIG), counter(C_EARLY_FREES), rss0,
           rss1, rss2);
    printf("soak: lost %lld, violations %lld\n", counter(C_LOST), counter(C_VIOLATIONS));
}

int main(int argc, char **argv)
{
    bool slow = TH_ASAN || TH_TSAN;
    G.seed = 0;
    G.target_tasks = 0;
    G.seconds = RUNNING_ON_VALGRIND ? 0 : slow ? 2 : 4;
    G.crash_rate = 0.002;
    G.hang_rate = 0.0005;
    G.max_rounds = 0;
    G.scale = RUNNING_ON_VALGRIND ? 0.04 : slow ? 0.25 : 1;
    G.tmult = env_mult();
    bool seeded = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) {
            G.verbose = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--tasks"))
            G.target_tasks = strtoll(v, NULL, 0);
        else if (!strcmp(a, "--seconds"))
            G.seconds = strtod(v, NULL);
        else if (!strcmp(a, "--seed"))
            G.seed = strtoull(v, NULL, 0), seeded = true;
        else if (!strcmp(a, "--crash-rate"))
            G.crash_rate = strtod(v, NULL);
        else if (!strcmp(a, "--hang-rate"))
            G.hang_rate = strtod(v, NULL);
        else if (!strcmp(a, "--rounds"))
            G.max_rounds = strtol(v, NULL, 0);
        else if (!strcmp(a, "--scale"))
            G.scale = strtod(v, NULL);
        else
            usage();
    }
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        G.seed = rnd(&s);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("soak: seed 0x%" PRIx64 " (replay with --seed 0x%" PRIx64 ")%s%s%s\n", G.seed,
           G.seed, TH_ASAN ? " [asan]" : "", TH_TSAN ? " [tsan]" : "",
           RUNNING_ON_VALGRIND ? " [valgrind]" : "");

    /* Our own process group, so that every worker, the forkserver and its
     * children are found by others() (meson and shells make one already). */
    if (getpgrp() != getpid())
        setpgid(0, 0);

    snprintf(G.dir, sizeof G.dir, "/tmp/cfut-soak-XXXXXX");
    if (!mkdtemp(G.dir)) {
        perror("soak: mkdtemp");
        return 2;
    }
    snprintf(G.fifo, sizeof G.fifo, "%s/pids", G.dir);
    if (mkfifo(G.fifo, 0600) != 0 ||
        (G.fifo_fd = open(G.fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0 ||
        pipe2(G.stop_pipe, O_CLOEXEC) != 0) {
        perror("soak: fifo");
        return 2;
    }
    sem_init(&watchdog_stop, 0, 0);
    pthread_t kill_thread, dog;
    pthread_create(&kill_thread, NULL, killer, NULL);
    pthread_create(&dog, NULL, watchdog, NULL);

    uint64_t rng = G.seed;
    long rss0 = rss_kb(), rss1 = -1;
    double t0 = now(), last_report = t0;
    for (unsigned no = 1;; no++) {
        long long ran = counter(C_SUBMITS) + counter(C_CALLS) + counter(C_MAP_ITEMS);
        bool cycled = no > NTEMPLATES;
        if (G.max_rounds ? (long)no > G.max_rounds
                         : cycled && ((G.target_tasks > 0 && ran >= G.target_tasks) ||
                                      now() - t0 >= G.seconds))
            break;
        round R;
        plan_round(&R, no, &rng);
        if (G.verbose)
            fprintf(stderr, "soak: round %u %s: %zu tasks, %d workers, %s, timeout %g, "
                    "max_tasks %u, flags %u, %d sub %d cons, batch %zu%s%s\n", no, R.t->name,
                    R.n, R.workers, R.start == EXECUTOR_START_FORK ? "fork"
                    : R.start == EXECUTOR_START_SPAWN ? "spawn" : "forkserver/default",
                    R.task_timeout, R.max_tasks, R.shut_flags, R.nsub, R.ncons, R.batch,
                    R.init ? ", init" : "", R.early_free ? ", early free" : "");
        run_round(&R);
        flush_violations();
        if (no == 1)
            rss1 = rss_kb();
        if (now() - last_report >= 30) {
            last_report = now();
            fprintf(stderr, "soak: %.0f s: %u rounds, %lld tasks, %lld crashes, %lld "
                    "violations, RSS %ld kB\n", last_report - t0, no, ran,
                    counter(C_SEGV) + counter(C_ABORT) + counter(C_EXIT) + counter(C_KILLED),
                    counter(C_VIOLATIONS), rss_kb());
        }
    }
    double wall = now() - t0;

    if (write(G.stop_pipe[1], "x", 1) != 1)
        perror("soak: stop the killer");
    pthread_join(kill_thread, NULL);
    sem_post(&watchdog_stop);
    pthread_join(dog, NULL);
    sem_destroy(&watchdog_stop);
    close(G.fifo_fd);
    close(G.stop_pipe[0]);
    close(G.stop_pipe[1]);
    unlink(G.fifo);
    rmdir(G.dir);
    flush_violations();

    /* Every kill sent ended its task, and nothing else ends one. */
    if (counter(C_KILLS_SENT) != counter(C_KILLED))
        violation("%lld kills sent, %lld tasks died of them", counter(C_KILLS_SENT),
                  counter(C_KILLED));
    flush_violations();
    print_summary(wall, rss0, rss1, rss_kb());
    bool bad = counter(C_LOST) != 0 || counter(C_VIOLATIONS) != 0;
    printf("soak: %s\n", bad ? "FAILED" : "passed");
    return bad ? 1 : 0;
}
