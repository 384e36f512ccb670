/* demo.c: a tour of cfut, printing what happens.
 *
 *   1. a future made and completed by hand, with a done callback
 *   2. a thread pool: named workers, an initializer, results, stats
 *   3. errors: a failing task's status, code and message
 *   4. callbacks on executor futures
 *   5. futures_wait(), as-completed, and futures_iter_fd() with poll()
 *   6. cancellation and shutdown
 *   7. a process pool: a task that crashes its worker fails alone
 *
 * Build and run it with examples/run-demo (or: meson setup build &&
 * ninja -C build && build/examples/demo). It exits non-zero if anything
 * behaved otherwise than described, so `meson test` runs it too.
 *
 * The short sleeps below are there to make tasks take visibly different
 * times; cfut itself never needs them. */
#define _GNU_SOURCE
#include <cfut.h>

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures;

/* Prints a line for an expectation that did not hold, and counts it. */
#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("  !! unexpected (%s:%d): %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static const char *thread_name(char buf[16])
{
    if (pthread_getname_np(pthread_self(), buf, 16) != 0)
        strcpy(buf, "?");
    return buf;
}

static void section(const char *title)
{
    printf("\n== %s\n", title);
}

/* ------------------------------------------------------------------------ */
/* 1. A future completed by hand (Python's Future() and set_result()). */

/* Labels for on_done_print (the callback's user pointer is not const). */
static char first[] = "first", second[] = "second", late[] = "late",
            queued0[] = "queued[0]";

static void on_done_print(future_t *f, void *user)
{
    char name[16];
    printf("  callback '%s' in thread %s: status %s\n", (const char *)user,
           thread_name(name), cfut_status_name(future_status(f)));
}

static void *producer(void *arg)
{
    future_t *f = arg;
    sleep_ms(20);
    if (future_set_running_or_notify_cancel(f)) {
        const char msg[] = "hello from another thread";
        future_set_result(f, msg, sizeof msg); /* copied; callbacks run here */
    }
    return NULL;
}

static void demo_manual_future(void)
{
    section("1. a future completed by hand");
    future_t *f = future_new();
    if (!f) {
        failures++;
        return;
    }
    future_add_done_callback(f, on_done_print, first);
    future_add_done_callback(f, on_done_print, second);

    pthread_t th;
    pthread_create(&th, NULL, producer, f);

    int st = future_result(f, 0, NULL, NULL); /* timeout 0: just poll */
    printf("  polled at once: %s (the future is still pending)\n",
           cfut_status_name(st));
    const void *data;
    size_t len;
    st = future_result(f, -1, &data, &len); /* negative: wait for ever */
    printf("  waited: %s, %zu bytes: \"%s\"\n", cfut_status_name(st), len,
           st == CFUT_OK ? (const char *)data : "");
    EXPECT(st == CFUT_OK);
    pthread_join(th, NULL);

    /* A callback added to a done future runs at once, in this thread. */
    future_add_done_callback(f, on_done_print, late);
    /* Completing it again is refused and keeps the first outcome. */
    st = future_set_result(f, "x", 1);
    printf("  second set_result: %s\n", cfut_status_name(st));
    EXPECT(st == CFUT_ESTATE);
    future_release(f);
}

/* ------------------------------------------------------------------------ */
/* 2. The thread pool. */

static atomic_int inits;

static int init_worker(cfut_task *t, const void *arg, size_t len)
{
    char name[16];
    atomic_fetch_add(&inits, 1);
    printf("  initializer in %s (initarg \"%.*s\")\n", thread_name(name),
           (int)len, (const char *)arg);
    return 0;
}

struct sum_result {
    uint64_t sum;
    char worker[16];
};

/* Sums 1..n and says which worker did it. */
static int sum_to(cfut_task *t, const void *arg, size_t len)
{
    uint64_t n, s = 0;
    memcpy(&n, arg, sizeof n);
    for (uint64_t i = 1; i <= n; i++)
        s += i;
    struct sum_result r = { .sum = s };
    thread_name(r.worker);
    return cfut_return(t, &r, sizeof r);
}

static void demo_pool(void)
{
    section("2. a thread pool");
    executor_options opts = {
        .max_workers = 3,
        .name_prefix = "demo",
        .initializer = init_worker,
        .initarg = "hi",
        .initarg_len = 2,
    };
    executor_t *ex;
    int st = executor_new(&ex, EXECUTOR_THREADS, &opts);
    EXPECT(st == CFUT_OK);
    if (st != CFUT_OK)
        return;

    executor_stats s;
    executor_get_stats(ex, &s);
    printf("  before the first submit: %zu workers (they start lazily)\n",
           s.workers);
    EXPECT(s.workers == 0);

    enum { N = 8 };
    future_t *fs[N];
    for (uint64_t i = 0; i < N; i++) {
        uint64_t n = 1000000 * (i + 1);
        fs[i] = executor_submit(ex, sum_to, &n, sizeof n);
    }
    for (int i = 0; i < N; i++) {
        struct sum_result r;
        st = future_result_copy(fs[i], -1, &r, sizeof r);
        uint64_t n = 1000000 * (uint64_t)(i + 1);
        printf("  sum(1..%7llu) = %15llu  by %s\n", (unsigned long long)n,
               (unsigned long long)r.sum, st == CFUT_OK ? r.worker : "-");
        EXPECT(st == CFUT_OK && r.sum == n * (n + 1) / 2);
        future_release(fs[i]);
    }
    executor_get_stats(ex, &s);
    printf("  stats: %zu workers started (max 3), %zu completed, %zu failed, "
           "%zu idle\n", s.workers_started, s.completed, s.failed, s.idle);
    EXPECT(s.workers_started >= 1 && s.workers_started <= 3);
    EXPECT(s.completed == N);
    EXPECT((size_t)atomic_load(&inits) == s.workers_started);
    executor_free(ex); /* waits for the workers */
}

/* ------------------------------------------------------------------------ */
/* 3. Errors. */

static int parse_port(cfut_task *t, const void *arg, size_t len)
{
    const char *s = arg;
    int port = 0;
    for (size_t i = 0; i < len && s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return cfut_fail(t, 22, "bad digit '%c' at %zu in '%s'", s[i], i, s);
        port = port * 10 + (s[i] - '0');
        if (port > 65535)
            return cfut_fail(t, 34, "port %s out of range", s);
    }
    return cfut_return(t, &port, sizeof port);
}

static int just_fails(cfut_task *t, const void *arg, size_t len)
{
    return -5; /* no cfut_fail(): the future's code is -5 */
}

static void report(const char *what, future_t *f)
{
    int st = future_wait(f, -1) == CFUT_OK ? future_status(f) : CFUT_ETIMEDOUT;
    if (st == CFUT_OK) {
        int v = 0;
        future_result_copy(f, 0, &v, sizeof v);
        printf("  %-18s -> %s, value %d\n", what, cfut_status_name(st), v);
    } else {
        printf("  %-18s -> %s (%s)\n     code %d, message \"%s\"\n", what,
               cfut_status_name(st), cfut_strerror(st), future_error_code(f),
               future_error_message(f));
    }
}

static void demo_errors(void)
{
    section("3. errors");
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, NULL) != CFUT_OK) {
        failures++;
        return;
    }
    const char *inputs[] = { "8080", "80a0", "99999" };
    for (int i = 0; i < 3; i++) {
        future_t *f = executor_submit(ex, parse_port, inputs[i],
                                      strlen(inputs[i]) + 1);
        char what[32];
        snprintf(what, sizeof what, "parse_port(\"%s\")", inputs[i]);
        report(what, f);
        EXPECT(future_status(f) == (i == 0 ? CFUT_OK : CFUT_ETASK));
        EXPECT(i == 0 || future_error_code(f) == (i == 1 ? 22 : 34));
        future_release(f);
    }

    future_t *f = executor_submit(ex, just_fails, NULL, 0);
    report("just_fails()", f);
    EXPECT(future_status(f) == CFUT_ETASK && future_error_code(f) == -5);
    future_release(f);

    /* Reading a result of the wrong size is an error, not an overflow. */
    f = executor_submit(ex, parse_port, "443", 4);
    double d;
    int st = future_result_copy(f, -1, &d, sizeof d);
    printf("  int result read as a double -> %s\n", cfut_status_name(st));
    EXPECT(st == CFUT_ESERIALIZE);
    future_release(f);

    /* Misuse gives a done future, never a crash or NULL. */
    f = executor_submit(ex, NULL, NULL, 0);
    report("submit(NULL fn)", f);
    EXPECT(future_status(f) == CFUT_EINVAL);
    future_release(f);

    executor_shutdown(ex, EXECUTOR_WAIT);
    f = executor_submit(ex, just_fails, NULL, 0);
    report("after shutdown", f);
    EXPECT(future_status(f) == CFUT_ESHUTDOWN);
    future_release(f);
    executor_free(ex);
}

/* ------------------------------------------------------------------------ */
/* 4. Callbacks on executor futures. */

static atomic_int callbacks_run;

static void on_task_done(future_t *f, void *user)
{
    char name[16];
    int v = -1;
    future_result_copy(f, 0, &v, sizeof v); /* any cfut call is fine here */
    printf("  callback for item %d in thread %s: result %d\n",
           (int)(intptr_t)user, thread_name(name), v);
    atomic_fetch_add(&callbacks_run, 1);
    future_release(f); /* the callback owns the reference it was given */
}

static int triple(cfut_task *t, const void *arg, size_t len)
{
    int x;
    memcpy(&x, arg, sizeof x);
    sleep_ms(5 * x);
    x *= 3;
    return cfut_return(t, &x, sizeof x);
}

static void demo_callbacks(void)
{
    section("4. callbacks");
    executor_options opts = { .max_workers = 2, .name_prefix = "cb" };
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, &opts) != CFUT_OK) {
        failures++;
        return;
    }
    for (int i = 1; i <= 4; i++) {
        future_t *f = executor_submit(ex, triple, &i, sizeof i);
        /* Hand our reference over to the callback: fire and forget. */
        if (future_add_done_callback(f, on_task_done, (void *)(intptr_t)i) != CFUT_OK)
            future_release(f);
    }
    executor_free(ex); /* queued work still runs; callbacks have all run */
    printf("  %d callbacks ran before executor_free() returned\n",
           atomic_load(&callbacks_run));
    EXPECT(atomic_load(&callbacks_run) == 4);
}

/* ------------------------------------------------------------------------ */
/* 5. Waiting on many: futures_wait(), as-completed, poll(). */

static int nap(cfut_task *t, const void *arg, size_t len)
{
    int ms;
    memcpy(&ms, arg, sizeof ms);
    sleep_ms(ms);
    return cfut_return(t, &ms, sizeof ms);
}

static void demo_wait(void)
{
    section("5. futures_wait, as-completed, poll()");
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, NULL) != CFUT_OK) {
        failures++;
        return;
    }
    enum { N = 4 };
    const int naps[N] = { 120, 10, 60, 30 };
    future_t *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = executor_submit(ex, nap, &naps[i], sizeof naps[i]);

    int st = futures_wait(fs, N, -1, FUTURES_FIRST_COMPLETED);
    int done = 0;
    for (int i = 0; i < N; i++)
        done += future_done(fs[i]);
    printf("  FIRST_COMPLETED: %s, %d of %d done\n", cfut_status_name(st),
           done, N);
    EXPECT(st == CFUT_OK && done >= 1);

    st = futures_wait(fs, N, 0.001, FUTURES_ALL_COMPLETED);
    printf("  ALL_COMPLETED within 1 ms: %s\n", cfut_status_name(st));

    /* As completed: in the order the naps end. */
    futures_iter *it = futures_as_completed(fs, N);
    EXPECT(it != NULL);
    printf("  as completed:");
    future_t *f;
    int yielded = 0;
    while (it && futures_next(it, -1, &f) == CFUT_OK && f) {
        int ms = 0;
        future_result_copy(f, 0, &ms, sizeof ms);
        printf(" %d ms", ms);
        yielded++;
        future_release(f); /* futures_next gives an owned reference */
    }
    printf("\n");
    EXPECT(yielded == N);
    futures_iter_free(it);
    for (int i = 0; i < N; i++)
        future_release(fs[i]);

    /* The same from an event loop: poll() the iterator's descriptor. */
    for (int i = 0; i < N; i++)
        fs[i] = executor_submit(ex, nap, &naps[i], sizeof naps[i]);
    it = futures_as_completed(fs, N);
    for (int i = 0; i < N; i++)
        future_release(fs[i]); /* the iterator holds its own references */
    int fd = it ? futures_iter_fd(it) : -1;
    EXPECT(fd >= 0);
    int wakeups = 0;
    yielded = 0;
    while (fd >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) <= 0) {
            printf("  poll timed out\n");
            failures++;
            break;
        }
        wakeups++;
        if (futures_next(it, 0, &f) != CFUT_OK) /* 0: the fd said it's ready */
            continue;
        if (!f)
            break; /* all yielded */
        int ms = 0;
        future_result_copy(f, 0, &ms, sizeof ms);
        printf("  poll() woke: %d ms nap done, %zu still pending\n", ms,
               futures_iter_pending(it));
        yielded++;
        future_release(f);
    }
    EXPECT(yielded == N);
    futures_iter_free(it);
    executor_free(ex);
}

/* ------------------------------------------------------------------------ */
/* 6. Cancellation and shutdown. */

static sem_t started;

/* Works until asked to stop, then reports how far it got. */
static int long_job(cfut_task *t, const void *arg, size_t len)
{
    sem_post(&started);
    int rounds = 0;
    while (!cfut_should_stop(t)) {
        sleep_ms(1);
        rounds++;
    }
    return cfut_fail(t, 1, "stopped after %d rounds", rounds);
}

static void demo_cancel(void)
{
    section("6. cancellation and shutdown");
    sem_init(&started, 0, 0);
    executor_options opts = { .max_workers = 1 };
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, &opts) != CFUT_OK) {
        failures++;
        return;
    }
    future_t *running = executor_submit(ex, long_job, NULL, 0);
    sem_wait(&started); /* the single worker is now busy */
    future_t *queued[3];
    for (int i = 0; i < 3; i++) {
        int ms = 1;
        queued[i] = executor_submit(ex, nap, &ms, sizeof ms);
    }
    future_add_done_callback(queued[0], on_done_print, queued0);

    bool c = future_cancel(queued[0]);
    printf("  cancel(queued[0]): %s, status %s\n", c ? "true" : "false",
           cfut_status_name(future_status(queued[0])));
    EXPECT(c && future_cancelled(queued[0]));

    /* Stop taking work, cancel what is queued, ask running tasks to stop. */
    int st = executor_shutdown(ex, EXECUTOR_CANCEL_PENDING);
    printf("  shutdown(CANCEL_PENDING): %s\n", cfut_status_name(st));
    for (int i = 1; i < 3; i++) {
        printf("  queued[%d]: %s\n", i,
               cfut_status_name(future_status(queued[i])));
        EXPECT(future_status(queued[i]) == CFUT_ECANCELLED);
    }

    c = future_cancel(running);
    printf("  cancel(running task): %s (a running task cannot be cancelled;"
           " it was asked to stop)\n", c ? "true" : "false");
    future_wait(running, -1);
    printf("  running task: %s, \"%s\"\n",
           cfut_status_name(future_status(running)),
           future_error_message(running));
    EXPECT(future_status(running) == CFUT_ETASK);

    executor_shutdown(ex, EXECUTOR_WAIT); /* adds WAIT: idempotent */
    executor_stats s;
    executor_get_stats(ex, &s);
    printf("  stats: completed %zu, failed %zu, cancelled %zu\n", s.completed,
           s.failed, s.cancelled);
    EXPECT(s.cancelled == 3 && s.failed == 1 && s.completed == 0);

    future_release(running);
    for (int i = 0; i < 3; i++)
        future_release(queued[i]);
    executor_free(ex);
    sem_destroy(&started);
}

/* ------------------------------------------------------------------------ */
/* 7. A process pool: the same API, and a crash costs one future. */

/* Stands for native code that crashes on some input. */
static int crashes(cfut_task *t, const void *arg, size_t len)
{
    raise(SIGSEGV);
    return 0;
}

static void demo_processes(void)
{
    section("7. a process pool: a crashing task fails alone");
    executor_options opts = { .max_workers = 2, .name_prefix = "proc" };
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_PROCESSES, &opts) != CFUT_OK) {
        failures++;
        return;
    }
    /* Task functions must be code in the program or a loaded library: they
     * travel to the workers as (object, offset). Arguments are copied bytes. */
    enum { N = 5 };
    future_t *fs[N];
    for (uint64_t i = 0; i < N; i++) {
        uint64_t n = 1000 * (i + 1);
        fs[i] = i == 2 ? executor_submit(ex, crashes, NULL, 0)
                       : executor_submit(ex, sum_to, &n, sizeof n);
    }
    for (int i = 0; i < N; i++) {
        struct sum_result r;
        int st = future_result_copy(fs[i], -1, &r, sizeof r);
        if (st == CFUT_OK)
            printf("  task %d: %llu, in worker process %s\n", i,
                   (unsigned long long)r.sum, r.worker);
        else
            printf("  task %d: %s: %s\n", i, cfut_status_name(st),
                   future_error_message(fs[i]));
        EXPECT(st == (i == 2 ? CFUT_EWORKER : CFUT_OK));
        future_release(fs[i]);
    }
    executor_stats s;
    executor_get_stats(ex, &s);
    printf("  stats: %zu completed, %zu failed, %zu worker lost, %zu started\n",
           s.completed, s.failed, s.workers_lost, s.workers_started);
    EXPECT(s.completed == N - 1 && s.failed == 1 && s.workers_lost == 1);
    executor_free(ex);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("cfut %s (headers %s)\n", cfut_version_string(), CFUT_VERSION_STRING);
    demo_manual_future();
    demo_pool();
    demo_errors();
    demo_callbacks();
    demo_wait();
    demo_cancel();
    demo_processes();
    printf("\n%s\n", failures ? "demo: something unexpected happened"
                              : "demo: everything behaved as described");
    return failures ? 1 : 0;
}
