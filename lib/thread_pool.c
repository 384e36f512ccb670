/* lib/thread_pool.c: the EXECUTOR_THREADS backend.
 *
 * One mutex guards the queue and the worker bookkeeping (libuv's
 * src/threadpool.c shape). Workers start lazily, one per submission that
 * finds no idle worker to take it (counting those already signalled and
 * the idle ones they will signal: one task each), up to max_workers, and
 * live until shutdown.
 *
 * Idle workers are a stack, and a submission hands its task to one of them
 * by name: it pops the worker and raises the worker's own wake word
 * (CPython's idle semaphore, made exact and addressed). So `idle` is exact,
 * and a worker is idle *before* it completes its task's future: a caller
 * that saw the result and submits again reuses it.
 *
 * Waking a sleeping thread costs 25-30 us on the VMs we measure on, more
 * than a no-op task by far, so an idle worker first spins on its wake word
 * for a bounded time (SPIN_NS), one spinner per spare CPU, and only then
 * sleeps on it (a futex). A submission signals an idle worker only when no
 * other signalled worker is on its way: in a burst, that worker takes the
 * queued tasks after its own and signals the next idle worker itself
 * (idle_claim), so the submitting thread pays for one hand-off per burst,
 * not one per task. A busy worker finishing a task takes
 * the next one, marks itself idle if there is none, in the same critical
 * section: one lock per task.
 *
 * Cancel unlinks a queued task under the mutex; a worker takes a task and
 * marks it RUNNING under the same mutex, so the two never both win.
 *
 * Lock order: tp->mu -> future lock. No user code (task, initializer,
 * callback) runs with tp->mu held: drains change state under it and run the
 * callbacks after (cfut__task_drain / cfut__task_list_finish).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "process.h"

/* A worker's wake word. */
enum { AWAKE = 0, SIGNALLED = 1, SLEEPING = 2 };

typedef struct worker {
    pthread_t tid;
    executor_t *ex;
    _Atomic uint32_t wake;    /* AWAKE while idle and spinning; futex word */
    struct worker *next_idle; /* on the idle stack, under tp->mu */
    bool signalled;           /* popped off the stack, not back at work yet */
    cfut__task *current;  /* the task it runs, for fork */
    /* The task whose future it is completing, outside tp->mu. Cleared with
     * release ordering before the worker drops its reference, so a fork
     * child that still sees it knows the task is alive. */
    _Atomic(cfut__task *) completing;
    unsigned index;
    bool joined;          /* joined or detached: its tid is spent */
} worker;

typedef struct tpool {
    pthread_mutex_t mu;
    cfut__queue queue;
    size_t running;
    size_t alive;              /* started and not exited */
    worker *idle_stack;        /* waiting for a signal, newest first */
    size_t idle;               /* its depth */
    size_t waking;             /* signalled workers not back at work yet */
    _Atomic unsigned spinners; /* idle workers spinning now */
    size_t max_workers;
    worker **workers;          /* every worker ever started */
    size_t nworkers, cap;
    bool shutdown;             /* no more submissions */
    bool broken;               /* an initializer failed */
    bool forked;               /* inherited by a fork child: no workers */
    int broken_code;
    char *broken_msg;
    pthread_mutex_t join_mu;   /* one joiner at a time */
    pthread_cond_t exit_cv;    /* a worker exited, or began waiting inside */
    size_t waiting_inside;     /* workers in shutdown(WAIT) of their own pool */
} tpool;

static tpool *pool_of(executor_t *ex) { return ex->impl; }

/* The executor whose worker this thread is (tasks and callbacks run here). */
static _Thread_local executor_t *worker_of;

static size_t default_workers(void)
{
    cpu_set_t set;
    long cpus = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cpus = CPU_COUNT(&set);
    if (cpus < 1)
        cpus = 1;
    return cpus + 4 < 32 ? (size_t)cpus + 4 : 32;
}

static int tp_init(executor_t *ex)
{
    tpool *tp = cfut__calloc(1, sizeof *tp);
    if (!tp)
        return CFUT_ENOMEM;
    /* Adaptive: it spins a little before sleeping. Its holders never block
     * and hold it for a few hundred nanoseconds. */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&tp->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&tp->join_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tp->exit_cv, &ca);
    pthread_condattr_destroy(&ca);
    tp->max_workers = ex->opts.max_workers ? (size_t)ex->opts.max_workers : default_workers();
    ex->impl = tp;
    return CFUT_OK;
}

/* Under tp->mu: w waits for a signal from now on. */
static void idle_push(tpool *tp, worker *w)
{
    atomic_store_explicit(&w->wake, AWAKE, memory_order_relaxed);
    w->next_idle = tp->idle_stack;
    tp->idle_stack = w;
    tp->idle++;
}

/* Under tp->mu: the newest idle worker (the likeliest to be spinning still),
 * claimed; wake_worker() it next, preferably after dropping tp->mu. */
static worker *idle_pop(tpool *tp)
{
    worker *w = tp->idle_stack;
    if (w) {
        tp->idle_stack = w->next_idle;
        tp->idle--;
        w->signalled = true;
        tp->waking++;
    }
    return w;
}

/* Under tp->mu, with a task just queued: the idle worker to hand it to, or
 * NULL. None while a signalled worker is on its way: that one takes this
 * task after its own, and signals the next idle worker itself if work is
 * left (see worker_main). Signalling costs the submitter a system call for
 * a sleeper (tens of microseconds on a VM), and for a spinner still a
 * hand-off through tp->mu and the worker's wake word. Leaving a burst to
 * the chain took W1 (bench_threads --runs 3, 6 interleaved rounds) from
 * 0.74-0.96x libuv's ns/task to 0.50-0.89x (medians 0.80x -> 0.62x). */
static worker *idle_claim(tpool *tp)
{
    if (!tp->idle_stack || tp->waking > 0)
        return NULL;
    return idle_pop(tp);
}

static void wake_worker(worker *w)
{
    if (atomic_exchange_explicit(&w->wake, SIGNALLED, memory_order_release) == SLEEPING)
        cfut__futex_wake(&w->wake, 1);
}

/* Under tp->mu: every idle worker looks at the pool again (shutdown, broken). */
static void signal_all(tpool *tp)
{
    worker *w;
    while ((w = idle_pop(tp)))
        wake_worker(w);
}

/* An idle worker (on the stack, tp->mu not held) waits for its signal:
 * spins first when a CPU is spare, then sleeps. */
static void idle_wait(tpool *tp, worker *w)
{
    unsigned spinners = atomic_fetch_add_explicit(&tp->spinners, 1, memory_order_relaxed);
    if (spinners < cfut__spare_cpus()) {
        uint64_t until = cfut__now_ns() + CFUT__SPIN_NS;
        for (unsigned i = 1;; i++) {
            if (atomic_load_explicit(&w->wake, memory_order_acquire) == SIGNALLED)
                break;
            __builtin_ia32_pause();
            if (i % 64 == 0 && cfut__now_ns() >= until)
                break;
        }
    }
    atomic_fetch_sub_explicit(&tp->spinners, 1, memory_order_relaxed);
    uint32_t awake = AWAKE;
    if (atomic_compare_exchange_strong_explicit(&w->wake, &awake, SLEEPING,
                                                memory_order_acquire, memory_order_acquire))
        while (atomic_load_explicit(&w->wake, memory_order_acquire) == SLEEPING)
            cfut__futex_wait(&w->wake, SLEEPING, NULL);
}

/* ---- workers ------------------------------------------------------------- */

/* Runs the initializer; false (and the pool broken) if it failed. */
static bool run_initializer(executor_t *ex, tpool *tp)
{
    cfut_task ct = {.arg = ex->initarg, .arg_len = ex->opts.initarg_len, .ex = ex};
    cfut__task_invoke(&ct, ex->opts.initializer);
    if (ct.out.status == CFUT_OK) {
        cfut__outcome_clear(&ct.out);
        return true;
    }
    cfut__task *orphans = NULL;
    pthread_mutex_lock(&tp->mu);
    if (!tp->broken) {
        tp->broken = true;
        tp->broken_code = ct.out.code;
        tp->broken_msg = cfut__asprintf("a worker's initializer failed (code %d): %s",
                                        ct.out.code, ct.out.message ? ct.out.message : "");
    }
    cfut__queue_drain(&tp->queue, &orphans, CFUT__FINISHED, CFUT_EBROKEN, tp->broken_code,
                tp->broken_msg ? tp->broken_msg : "a worker's initializer failed");
    signal_all(tp); /* idle workers exit */
    pthread_mutex_unlock(&tp->mu);
    cfut__outcome_clear(&ct.out);
    cfut__task_list_finish(orphans);
    return false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    executor_t *ex = w->ex;
    tpool *tp = pool_of(ex);
    char name[16];
    int digits = snprintf(NULL, 0, "_%u", w->index);
    snprintf(name, sizeof name, "%.*s_%u", 15 - digits, ex->name_prefix, w->index);
    pthread_setname_np(pthread_self(), name);
    worker_of = ex;

    bool ok = !ex->opts.initializer || run_initializer(ex, tp);
    cfut__task *done = NULL; /* ran; its future is not completed yet */
    cfut_task ct;
    pthread_mutex_lock(&tp->mu);
    for (;;) {
        cfut__task *t = NULL;
        worker *next = NULL;
        bool stay = ok && !tp->shutdown && !tp->broken && !tp->forked;
        if (w->signalled) {
            w->signalled = false;
            tp->waking--;
        }
        if (ok && tp->queue.head) {
            t = cfut__queue_pop(&tp->queue);
            bool started = cfut__future_start(&t->fut);
            CFUT_ASSERT(started); /* cancel unlinks under tp->mu */
            tp->running++;
            w->current = t;
            if (tp->queue.head && tp->waking == 0)
                next = idle_pop(tp); /* more work: a helper (see idle_claim) */
        } else if (stay) {
            idle_push(tp, w); /* idle before `done` completes (see top) */
        }
        pthread_mutex_unlock(&tp->mu);
        if (next)
            wake_worker(next);
        if (done) {
            cfut__executor_finish(done, &ct.out);
            atomic_store_explicit(&w->completing, NULL, memory_order_release);
            future_release(&done->fut); /* the queue's reference */
            done = NULL;
        }
        if (t) {
            ct = (cfut_task){.arg = cfut__task_arg(t), .arg_len = cfut__task_arg_len(t),
                             .fut = &t->fut, .ex = ex};
            if (ex->opts.task_timeout > 0)
                ct.deadline_ns = cfut__now_ns() + (uint64_t)(ex->opts.task_timeout * 1e9);
            cfut__task_invoke(&ct, t->fn);
            done = t;
        } else if (stay) {
            idle_wait(tp, w);
        } else {
            break;
        }
        pthread_mutex_lock(&tp->mu);
        if (done) {
            tp->running--;
            w->current = NULL;
            atomic_store_explicit(&w->completing, done, memory_order_relaxed);
        }
    }
    pthread_mutex_lock(&tp->mu);
    tp->alive--;
    pthread_cond_broadcast(&tp->exit_cv);
    pthread_mutex_unlock(&tp->mu);
    /* Last: a worker detached by executor_free() inside its own task may
     * hold the executor's last reference. */
    cfut__executor_release(ex);
    return NULL;
}

/* Under tp->mu. Starts one more worker with every signal blocked (the
 * application's handlers then run on its own threads). */
static int start_worker(executor_t *ex, tpool *tp)
{
    if (tp->nworkers == tp->cap) {
        size_t cap = tp->cap ? tp->cap * 2 : 4;
        worker **ws = cfut__realloc(tp->workers, cap * sizeof *ws);
        if (!ws)
            return ENOMEM;
        tp->workers = ws;
        tp->cap = cap;
    }
    worker *w = cfut__calloc(1, sizeof *w);
    if (!w)
        return ENOMEM;
    w->ex = ex;
    w->index = (unsigned)tp->nworkers;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    cfut__executor_retain(ex); /* the worker's, dropped as it exits */
    int rc = cfut__thread_create(&w->tid, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub(&ex->refs, 1); /* never the last: the caller has one */
        cfut__free(w);
        return rc;
    }
    tp->workers[tp->nworkers++] = w;
    tp->alive++;
    return 0;
}

/* ---- the backend --------------------------------------------------------- */

static void tp_submit(executor_t *ex, cfut__task *t)
{
    tpool *tp = pool_of(ex);
    cfut__task *failed = NULL;
    worker *idle = NULL;
    pthread_mutex_lock(&tp->mu);
    if (tp->forked || tp->broken || tp->shutdown) {
        /* Refused at the door: not a task that ran, so not counted. */
        cfut__outcome o = {0};
        if (tp->forked)
            cfut__outcome_fail(&o, CFUT_EBROKEN, 0,
                               "executor inherited across fork(): its workers are gone");
        else if (tp->broken)
            cfut__outcome_fail(&o, CFUT_EBROKEN, tp->broken_code, "%s",
                               tp->broken_msg ? tp->broken_msg : "executor is broken");
        else
            cfut__outcome_fail(&o, CFUT_ESHUTDOWN, 0, "executor_submit after executor_shutdown");
        pthread_mutex_unlock(&tp->mu);
        cfut__future_complete(&t->fut, CFUT__FINISHED, &o);
        cfut__outcome_clear(&o);
        future_release(&t->fut);
        return;
    }
    cfut__queue_push(&tp->queue, t);
    if ((idle = idle_claim(tp)) || tp->queue.len <= tp->waking + tp->idle) {
        /* signalled below, after the unlock it would otherwise wait for;
         * or left to the signalled workers on their way and the idle ones
         * they will signal: one task each. Beyond those, a task gets a
         * worker of its own, up to max_workers, or a task waiting for a
         * later one of the same burst could wait for ever. */
    } else if (tp->alive < tp->max_workers) {
        int rc = start_worker(ex, tp);
        if (rc != 0 && tp->alive == 0) {
            /* Nobody would ever run the queue: fail it now. */
            char msg[96];
            snprintf(msg, sizeof msg, "cannot start a worker thread: %s", strerror(rc));
            cfut__queue_drain(&tp->queue, &failed, CFUT__FINISHED, rc == ENOMEM ? CFUT_ENOMEM : CFUT_ESYS,
                        0, msg);
        }
    }
    pthread_mutex_unlock(&tp->mu);
    if (idle)
        wake_worker(idle);
    cfut__task_list_finish(failed);
}

static bool tp_cancel(executor_t *ex, cfut__task *t)
{
    tpool *tp = pool_of(ex);
    return cfut__queue_cancel(&tp->queue, &tp->mu, t);
}

/* Joins every worker (never called from one of them). */
static void join_workers(tpool *tp)
{
    pthread_mutex_lock(&tp->join_mu);
    pthread_mutex_lock(&tp->mu);
    for (size_t i = 0; i < tp->nworkers; i++) {
        worker *w = tp->workers[i];
        if (w->joined)
            continue;
        pthread_t tid = w->tid;
        pthread_mutex_unlock(&tp->mu);
        pthread_join(tid, NULL);
        pthread_mutex_lock(&tp->mu);
        w->joined = true;
    }
    pthread_mutex_unlock(&tp->mu);
    pthread_mutex_unlock(&tp->join_mu);
}

/* shutdown(WAIT) from one of the pool's own workers (a task or a callback
 * on it). It cannot join: it would join itself, or a joiner may be joining
 * it. It waits instead until every other worker has exited or is waiting
 * here too (two tasks that both wait must not wait for each other). */
static void wait_inside(tpool *tp)
{
    pthread_mutex_lock(&tp->mu);
    tp->waiting_inside++;
    pthread_cond_broadcast(&tp->exit_cv);
    while (tp->alive > tp->waiting_inside)
        pthread_cond_wait(&tp->exit_cv, &tp->mu);
    tp->waiting_inside--;
    pthread_mutex_unlock(&tp->mu);
}

static int tp_shutdown(executor_t *ex, unsigned flags)
{
    tpool *tp = pool_of(ex);
    cfut__task *cancelled = NULL;
    pthread_mutex_lock(&tp->mu);
    tp->shutdown = true;
    /* Threads cannot be killed: TERMINATE and KILL cancel what is queued
     * and ask running tasks to stop, like CANCEL_PENDING. */
    if (flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL))
        cfut__queue_drain(&tp->queue, &cancelled, CFUT__CANCELLED, CFUT_ECANCELLED, 0,
                    "cancelled by executor_shutdown");
    signal_all(tp);
    bool forked = tp->forked;
    pthread_mutex_unlock(&tp->mu);
    cfut__task_list_finish(cancelled);
    if ((flags & EXECUTOR_WAIT) && !forked) {
        if (worker_of != ex)
            join_workers(tp);
        else
            wait_inside(tp);
    }
    return CFUT_OK;
}

static void tp_finalize(executor_t *ex)
{
    tpool *tp = pool_of(ex);
    if (tp->forked)
        return;
    if (worker_of != ex) {
        join_workers(tp);
        return;
    }
    /* executor_free() from one of its own workers: nobody is left to join
     * them. Detached, each drops its executor reference as it exits. */
    pthread_mutex_lock(&tp->mu);
    for (size_t i = 0; i < tp->nworkers; i++) {
        worker *w = tp->workers[i];
        if (!w->joined) {
            pthread_detach(w->tid);
            w->joined = true;
        }
    }
    pthread_mutex_unlock(&tp->mu);
}

static void tp_destroy(executor_t *ex)
{
    tpool *tp = pool_of(ex);
    for (size_t i = 0; i < tp->nworkers; i++)
        cfut__free(tp->workers[i]);
    cfut__free(tp->workers);
    cfut__free(tp->broken_msg);
    pthread_cond_destroy(&tp->exit_cv);
    pthread_mutex_destroy(&tp->mu);
    pthread_mutex_destroy(&tp->join_mu);
    cfut__free(tp);
}

static void tp_stats(executor_t *ex, executor_stats *out)
{
    tpool *tp = pool_of(ex);
    pthread_mutex_lock(&tp->mu);
    out->workers = tp->alive;
    out->idle = tp->idle;
    out->queued = tp->queue.len;
    out->running = tp->running;
    out->workers_started = tp->nworkers;
    out->workers_lost = 0;
    pthread_mutex_unlock(&tp->mu);
}

static size_t tp_capacity(executor_t *ex)
{
    return pool_of(ex)->max_workers;
}

static void tp_atfork_prepare(executor_t *ex)
{
    pthread_mutex_lock(&pool_of(ex)->mu);
}

static void tp_atfork_parent(executor_t *ex)
{
    pthread_mutex_unlock(&pool_of(ex)->mu);
}

static void tp_atfork_child(executor_t *ex, cfut__task **orphans)
{
    tpool *tp = pool_of(ex);
    /* We hold mu (prepare took it); the condition variable and join_mu may
     * hold state of threads that do not exist here: make them new. */
    pthread_cond_init(&tp->exit_cv, NULL);
    pthread_mutex_init(&tp->join_mu, NULL);
    static const char msg[] = "the executor's workers did not survive fork()";
    bool quiet = cfut__child_is_worker(); /* then the futures stay as they are */
    for (size_t i = 0; i < tp->nworkers; i++) {
        worker *w = tp->workers[i];
        /* A worker may be completing one task's future while it has
         * already taken the next. */
        cfut__task *ts[2] = {w->current, atomic_load(&w->completing)};
        for (int k = 0; k < 2; k++) {
            if (!ts[k] || quiet)
                continue;
            /* Its worker may have held the future's lock at the fork. A
             * future it had already completed stays as it is; either way
             * the worker's reference is ours to drop. */
            cfut__future_reset_lock(&ts[k]->fut);
            if (k == 0 && pthread_equal(w->tid, pthread_self()))
                /* Its task called fork(): it runs on here, on its argument. */
                cfut__task_drain_running_here(ts[k], orphans, CFUT_EBROKEN);
            else
                cfut__task_drain(ts[k], orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
        }
        w->current = NULL;
        atomic_store(&w->completing, NULL);
        w->joined = true; /* nothing to join in this process */
    }
    if (quiet) {
        tp->queue = (cfut__queue){0};
    } else {
        cfut__queue_reset_locks(&tp->queue); /* vanished threads may hold them */
        cfut__queue_drain(&tp->queue, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
    }
    /* The vanished workers' references; the handle keeps the executor. */
    atomic_fetch_sub(&ex->refs, (uint32_t)tp->alive);
    tp->forked = true;
    tp->idle_stack = NULL;
    tp->alive = tp->idle = tp->running = tp->waking = 0;
    pthread_mutex_unlock(&tp->mu);
}

const cfut__backend cfut__thread_backend = {
    .name = "threads",
    .remote = false,
    .init = tp_init,
    .submit = tp_submit,
    .cancel = tp_cancel,
    .shutdown = tp_shutdown,
    .stats = tp_stats,
    .capacity = tp_capacity,
    .finalize = tp_finalize,
    .destroy = tp_destroy,
    .atfork_prepare = tp_atfork_prepare,
    .atfork_parent = tp_atfork_parent,
    .atfork_child = tp_atfork_child,
};
