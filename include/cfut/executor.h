/* cfut/executor.h: executors, which run tasks and complete their futures.
 *
 *     executor_t *ex;
 *     executor_new(&ex, EXECUTOR_THREADS, NULL);
 *     future_t *f = executor_submit(ex, square, &x, sizeof x);
 *     future_result_copy(f, -1, &y, sizeof y);
 *     future_release(f);
 *     executor_free(ex);
 *
 * One API serves every backend: EXECUTOR_THREADS runs tasks on a pool of
 * threads; EXECUTOR_PROCESSES on a pool of worker processes, so a task that
 * crashes, aborts or hangs fails its own future and nothing else (see
 * docs/processes.md); EXECUTOR_MPI on the ranks of `mpiexec -n N prog`
 * (docs/mpi.md), when the library is built with MPI (else CFUT_EINVAL).
 *
 * MPI: every rank calls executor_new(EXECUTOR_MPI) with the same options;
 * rank 0 gets the executor, the other ranks serve tasks inside the call and
 * get CFUT_OK with *out == NULL once rank 0 shuts down. max_workers
 * defaults to N - 1; one rank alone is CFUT_EINVAL. A rank cannot be
 * stopped: task_timeout fails the future (CFUT_EDEADLINE) and the rank is
 * used again once it answers; TERMINATE and KILL act as CANCEL_PENDING.
 *
 * On a process pool the task function must be code in the program or in a
 * loaded shared library (it travels as object + offset), its argument and
 * result are plain bytes (no pointers into the caller's memory), and future
 * callbacks run on the pool's manager thread: they must not block on the
 * same pool's futures. */
#ifndef CFUT_EXECUTOR_H
#define CFUT_EXECUTOR_H

#include <stddef.h>

#include "cfut/export.h"
#include "cfut/future.h"
#include "cfut/task.h"

CFUT_BEGIN_DECLS

typedef struct executor executor_t;

typedef enum { EXECUTOR_THREADS, EXECUTOR_PROCESSES, EXECUTOR_MPI } executor_kind;
typedef enum { EXECUTOR_START_DEFAULT, EXECUTOR_START_FORKSERVER,
               EXECUTOR_START_FORK, EXECUTOR_START_SPAWN } executor_start;

/* All-zero (or a NULL pointer) means defaults. Fields are only appended. */
typedef struct executor_options {
    int            max_workers;  /* 0: default (threads: min(32, cpus + 4);
                                    processes: cpus; cpus from the affinity
                                    mask; MPI: ranks - 1); < 0: CFUT_EINVAL */
    const char    *name_prefix;  /* worker names are "<prefix>_<n>"; a long
                                    prefix is cut so the name fits the
                                    kernel's 15 bytes and keeps its "_<n>";
                                    NULL: "cfut<executor id>" */
    cfut_task_fn   initializer;  /* runs once in every worker before its first
                                    task; failing it breaks the executor */
    const void    *initarg;      /* copied at executor_new */
    size_t         initarg_len;
    executor_start start;        /* process pools: how workers start
                                    (DEFAULT = FORKSERVER); checked, else
                                    ignored, by thread pools */
    unsigned       max_tasks_per_worker; /* process pools: a worker retires
                                    after this many tasks; 0: never */
    double         task_timeout; /* seconds from the task's start; <= 0 or
                                    infinite: none. Process pools kill the
                                    worker (CFUT_EDEADLINE) and replace it;
                                    threads cannot be killed, so a thread-pool
                                    task only sees cfut_should_stop() turn true */
} executor_options;

/* Makes an executor. CFUT_OK and *out set; otherwise *out = NULL and
 * CFUT_EINVAL (NULL out, unknown or unavailable kind, max_workers < 0,
 * unknown start method, initarg NULL with initarg_len > 0, NaN timeout),
 * CFUT_ENOMEM or CFUT_ESYS. Workers start lazily, on demand.
 * Thread-safe. Ownership: *out is owned; free it with executor_free(). */
CFUT_API int executor_new(executor_t **out, executor_kind kind, const executor_options *opts);

/* Queues fn(task, copy of arg, arg_len) and returns its future. Never NULL:
 * a submission that cannot run returns a future that is already done with
 * the reason: CFUT_ESHUTDOWN (after shutdown), CFUT_EBROKEN (an initializer
 * failed; the message says how), CFUT_EINVAL (NULL ex or fn, NULL arg with
 * arg_len > 0, on a process pool a fn that is not code in a loaded object),
 * CFUT_ENOMEM or CFUT_ESYS (no worker could be started). On a process pool
 * the future may also fail with CFUT_EWORKER (its worker died running it:
 * the message names the pid and the signal or exit status), CFUT_EDEADLINE
 * (task_timeout) or CFUT_ESERIALIZE (a value could not cross over). When
 * even that future cannot be allocated, a shared static future failed with
 * CFUT_ENOMEM is returned (retain/release on it are no-ops).
 * Thread-safe (tasks may submit, also to other executors); never blocks on
 * running work. Ownership: the future is owned; arg is copied. */
CFUT_API CFUT_OWNED future_t *executor_submit(executor_t *ex, cfut_task_fn fn,
                                              const void *arg, size_t arg_len);

enum {
    EXECUTOR_WAIT           = 1, /* return once every worker has exited */
    EXECUTOR_CANCEL_PENDING = 2, /* cancel queued futures; running tasks see
                                    cfut_should_stop() */
    EXECUTOR_TERMINATE      = 4, /* as CANCEL_PENDING, and stop running tasks
                                    (process pools: SIGTERM their workers, and
                                    their futures fail with CFUT_EWORKER) */
    EXECUTOR_KILL           = 8  /* as TERMINATE with SIGKILL */
};
/* Stops accepting work: later submissions fail with CFUT_ESHUTDOWN. Queued
 * tasks still run unless a cancel flag is given. Idempotent: a later call can
 * add flags (e.g. WAIT). CFUT_OK; CFUT_EINVAL for NULL or unknown flag bits.
 * Without EXECUTOR_WAIT it returns promptly. From one of a thread pool's own
 * workers (a task or a callback), WAIT waits for every other worker to exit
 * or to be waiting the same way; from a process pool's manager thread (its
 * callbacks), it does not wait.
 * Thread-safe; blocks with EXECUTOR_WAIT; cancelled futures' callbacks run in
 * this thread. */
CFUT_API int executor_shutdown(executor_t *ex, unsigned flags);
/* Shuts down (waiting, queued work still runs) if that was not done, joins
 * the workers and frees the executor. NULL is fine. Futures outlive it. Must
 * not race other calls on the same executor, nor run inside its own task. */
CFUT_API void executor_free(executor_t *ex);

typedef struct executor_stats {
    size_t workers;                /* alive now */
    size_t idle;                   /* alive and waiting for work */
    size_t queued, running;        /* tasks */
    size_t completed, failed, cancelled; /* finished tasks, by outcome */
    size_t workers_started, workers_lost; /* lost: died or were killed */
} executor_stats;
/* Fills *out with a snapshot (exact when the executor is quiescent).
 * CFUT_OK; CFUT_EINVAL for NULL (then *out, if given, is zeroed).
 * Thread-safe; never blocks on running work. */
CFUT_API int executor_get_stats(executor_t *ex, executor_stats *out);

CFUT_END_DECLS

#endif /* CFUT_EXECUTOR_H */
