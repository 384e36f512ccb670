/* lib/internal.h: what the pieces of lib/ share, and nothing else sees.
 *
 * Map of the library (one file per concept):
 *   alloc.c        allocation wrappers (a test can fail the Nth allocation)
 *   fault.c        wrappers for threads, processes, descriptors, mappings
 *                  (a test can fail the Nth of each kind)
 *   error.c        status codes, version
 *   future.c       the future: states, outcome, callbacks, single waits
 *   wait.c         waiting on many futures: futures_wait, as-completed
 *   task.c         the task record and the in-task API (cfut_return...)
 *   executor.c     the front: validation, options, stats, backend vtable,
 *                  the registry used by fork handlers
 *   thread_pool.c  the EXECUTOR_THREADS backend
 *   process_pool.c the EXECUTOR_PROCESSES backend (parent side)
 *   worker.c       worker and forkserver processes (child side)
 *   wire.c         frames that cross address spaces (wire.h)
 *   fnref.c        function identity across processes (fnref.h)
 *   shm.c          shared memory for large process-pool values
 *   call.c         calls through libffi (call.h)
 *   map.c          map over arrays, in chunks
 *   mpi_pool.c     the EXECUTOR_MPI backend (built when MPI is found)
 *
 * Lock order, everywhere: registry lock -> executor (backend queue) lock ->
 * future lock -> waiter (iterator) lock. User code (tasks, callbacks) never
 * runs with any of them held. Internal non-static names are cfut__*; every
 * one is hidden from the shared library by visibility and lib/cfut.map. */
#ifndef CFUT_INTERNAL_H
#define CFUT_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cfut.h"

/* ---- invariants ---------------------------------------------------------- */

/* Internal invariants. Always on: they guard states that would otherwise
 * corrupt memory, and cost a predictable branch. */
#define CFUT_ASSERT(cond)                                                      \
    do {                                                                       \
        if (__builtin_expect(!(cond), 0))                                      \
            cfut__assert_fail(#cond, __FILE__, __LINE__);                      \
    } while (0)
_Noreturn void cfut__assert_fail(const char *expr, const char *file, int line);

/* ---- allocation (alloc.c) ------------------------------------------------ */

void *cfut__malloc(size_t n);
void *cfut__calloc(size_t n, size_t size);
void *cfut__realloc(void *p, size_t n);
void  cfut__free(void *p);
char *cfut__strdup(const char *s);
/* printf into a new string; NULL when out of memory. */
char *cfut__vasprintf(const char *fmt, va_list ap) CFUT_PRINTF(1, 0);
char *cfut__asprintf(const char *fmt, ...) CFUT_PRINTF(1, 2);
/* Test hook: the nth allocation from now fails (1 = the next one); 0 turns
 * injection off. Returns how many allocations were made since the last call,
 * so a test can loop n over every allocation of a workload. */
long  cfut__alloc_fail_nth(long n);

/* ---- operating-system resources (fault.c) -------------------------------- */

/* The kinds of resource whose creation a test can make fail. */
typedef enum cfut__fault_kind {
    CFUT__FAULT_THREAD,  /* pthread_create: EAGAIN */
    CFUT__FAULT_PROCESS, /* fork, posix_spawn: EAGAIN */
    CFUT__FAULT_FD,      /* socketpair, eventfd, memfd_create: EMFILE */
    CFUT__FAULT_MMAP,    /* mmap: ENOMEM */
    CFUT__FAULT_KINDS
} cfut__fault_kind;

/* Test hook, like cfut__alloc_fail_nth for one kind: the nth creation from
 * now fails (0: off); returns how many were made since the last call. */
long  cfut__fault_nth(cfut__fault_kind kind, long n);
/* The wrappers lib/ calls instead of the system's. Each returns what the
 * call it wraps returns (errno set), with the options cfut always uses:
 * default thread attributes, CLOEXEC, non-blocking eventfds. */
int   cfut__thread_create(pthread_t *t, void *(*fn)(void *), void *arg);
pid_t cfut__fork(void);
int   cfut__spawn_fault(void); /* 0, or the errno posix_spawn should fail with */
int   cfut__socketpair(int type, int sv[2]);
int   cfut__eventfd(void);
int   cfut__memfd(const char *name);
void *cfut__mmap_shared(size_t len, int fd);

/* Forks this process has come through as a child (executor.c's atfork child
 * handler counts them): descriptors made before a fork are shared with the
 * parent, so their state is not ours to change after it. */
extern _Atomic unsigned cfut__forks;

/* ---- time ---------------------------------------------------------------- */

/* A wait's deadline. `forever` for a negative timeout; otherwise an absolute
 * CLOCK_MONOTONIC time. */
typedef struct cfut__deadline {
    bool forever;
    struct timespec at;
} cfut__deadline;

/* CFUT_EINVAL for a NaN timeout; CFUT_OK otherwise. */
int  cfut__deadline_from(double timeout, cfut__deadline *d);
bool cfut__deadline_passed(const cfut__deadline *d);
uint64_t cfut__now_ns(void);

/* ---- futex and a 4-byte lock (future.c) ---------------------------------- */

/* A thread that expects an event soon spins for up to this long before it
 * sleeps: on the VMs we measure on a futex wake-up costs 25-30 us, so a
 * shorter spin pays for itself whenever the event comes in time, and a
 * longer one would only burn the CPU. */
enum { CFUT__SPIN_NS = 50 * 1000 };
/* How many threads may spin at once: the CPUs this process may run on, less
 * one (0 on one CPU, where spinning only delays the thread waited for). */
unsigned cfut__spare_cpus(void);

/* Sleeps while *addr == expected, until woken or the deadline. Returns false
 * once the deadline has passed, true otherwise (woken, spurious, changed). */
bool cfut__futex_wait(_Atomic uint32_t *addr, uint32_t expected, const cfut__deadline *d);
void cfut__futex_wake(_Atomic uint32_t *addr, int n);

/* Drepper's three-state futex mutex ("Futexes are tricky", mutex3): 4 bytes,
 * so every future can have its own. 0 free, 1 locked, 2 locked + sleepers. */
typedef struct cfut__lock {
    _Atomic uint32_t v;
} cfut__lock;
void cfut__lock_acquire(cfut__lock *l);
void cfut__lock_release(cfut__lock *l);

/* ---- values and outcomes ------------------------------------------------- */

enum { CFUT__INLINE_VALUE = 16 };

/* Result bytes: up to CFUT__INLINE_VALUE inline, else on the heap. */
typedef struct cfut__value {
    union {
        unsigned char *ptr;
        /* Aligned like malloc's memory, so a caller may read any type in
         * place; the union first, so the struct is 32 bytes, not 48. */
        _Alignas(max_align_t) unsigned char buf[CFUT__INLINE_VALUE];
    } u;
    size_t len;
} cfut__value;

static inline const unsigned char *cfut__value_data(const cfut__value *v)
{
    return v->len <= CFUT__INLINE_VALUE ? v->u.buf : v->u.ptr;
}
int  cfut__value_set(cfut__value *v, const void *data, size_t len);
void cfut__value_clear(cfut__value *v);

/* How a piece of work ended: what a backend hands to the future. Crosses
 * process boundaries through the wire in later backends, so it holds only
 * plain data. */
typedef struct cfut__outcome {
    int status;     /* CFUT_OK or a failure status */
    int code;       /* the task's own code (CFUT_ETASK, CFUT_EBROKEN) */
    char *message;  /* owned; NULL only for success */
    cfut__value result;
} cfut__outcome;

void cfut__outcome_clear(cfut__outcome *o);
/* Sets a failure; if the message cannot be allocated the static text of
 * cfut_strerror(status) is used instead, so a failure never loses its
 * status. */
void cfut__outcome_fail(cfut__outcome *o, int status, int code, const char *fmt, ...)
    CFUT_PRINTF(4, 5);
void cfut__outcome_vfail(cfut__outcome *o, int status, int code, const char *fmt, va_list ap)
    CFUT_PRINTF(4, 0);

/* ---- futures (future.c) -------------------------------------------------- */

enum {
    CFUT__PENDING = 0,
    CFUT__RUNNING = 1,
    CFUT__FINISHED = 2,
    CFUT__CANCELLED = 3,
    CFUT__STATE_MASK = 3,
    CFUT__WAITERS = 4, /* a thread sleeps on the state word: wake it */
    CFUT__STOP = 8,    /* a cancel was attempted while running */
};

/* How the owner of a future (an executor) takes part in its life. */
typedef struct cfut__future_class {
    /* Cancels a PENDING future if it can still be taken off its queue;
     * returns what future_cancel() returns. */
    bool (*cancel)(future_t *f);
    /* Frees the future's allocation (the future is the head of it). */
    void (*destroy)(future_t *f);
} cfut__future_class;

typedef struct cfut__callback cfut__callback;
typedef struct cfut__wait_node cfut__wait_node;
typedef struct cfut__task cfut__task;

/* 80 bytes: a task (future first) with a small argument must fit one
 * 128-byte malloc chunk, so every word here earns its place. */
struct future {
    _Atomic uint32_t state;  /* CFUT__* state | flags; futex word */
    _Atomic uint32_t refs;
    cfut__lock lock;         /* guards everything below */
    int status;              /* valid once done */
    int code;
    bool result_borrowed;    /* result points into the owner's allocation */
    const cfut__future_class *cls; /* NULL: made by future_new() */
    /* Once done: the result bytes on success, the error message (with its
     * NUL; empty if it could not be allocated) on failure. Before, a task
     * keeps its argument here: nothing reads the result until the future is
     * done, and nothing reads the argument after. */
    cfut__value result;
    cfut__callback *callbacks;     /* newest first */
    cfut__wait_node *waiters;      /* futures_wait calls, iterators */
};

/* A completion split in two, so an owner can change the state under its own
 * lock and run the rest (wake-ups, user callbacks) after dropping it. */
typedef struct cfut__completion {
    future_t *f;
    uint32_t old_state;
    cfut__callback *callbacks;
} cfut__completion;

void cfut__future_init(future_t *f, const cfut__future_class *cls, uint32_t refs);
/* Moves `o` into `f` and makes it FINISHED (or CANCELLED if `state` says
 * so), notifying multi-waiters. Takes f's lock. CFUT_ESTATE (and `o`
 * untouched) if f is already done. Run cfut__future_complete_end() next,
 * with no lock held. The caller holds a reference to f throughout. */
int  cfut__future_complete_begin(future_t *f, uint32_t state, cfut__outcome *o,
                                 cfut__completion *c);
void cfut__future_complete_end(cfut__completion *c);
/* begin + end. */
int  cfut__future_complete(future_t *f, uint32_t state, cfut__outcome *o);
/* PENDING -> RUNNING; false if it is not pending (cancelled). Owners call it
 * under the lock that decides cancellation. */
bool cfut__future_start(future_t *f);
/* RUNNING -> PENDING, for a task its owner marked running ahead of time and
 * then learned had never started (process pool: a task sent ahead whose
 * worker died first); false if it is not running. A cancel attempted in
 * between failed and is forgotten (CFUT__STOP cleared). Same lock rule. */
bool cfut__future_unstart(future_t *f);
/* A new future, already done with a failure (never NULL: the static
 * out-of-memory future when even that cannot be allocated). */
future_t *cfut__future_failed(int status, int code, const char *fmt, ...) CFUT_PRINTF(3, 4);
/* Resets the lock of a future whose holder vanished (fork child only). */
void cfut__future_reset_lock(future_t *f);

/* ---- waiting on many (wait.c) -------------------------------------------- */

/* A thread (or iterator) waiting on several futures. notify() runs under the
 * completed future's lock, so it must be short and call no user code. */
typedef struct cfut__waiter {
    void (*notify)(struct cfut__waiter *w, future_t *f, uint32_t state);
} cfut__waiter;

struct cfut__wait_node {
    cfut__wait_node *next, *prev;
    cfut__waiter *w;
    bool linked;
};

/* Links `n` into f's waiters; false (nothing linked) if f is already done. */
bool cfut__future_watch(future_t *f, cfut__wait_node *n, cfut__waiter *w);
/* Unlinks `n` if completion has not already done so. */
void cfut__future_unwatch(future_t *f, cfut__wait_node *n);
/* Called by completion, under f's lock: notifies and unlinks every node. */
void cfut__waiters_fire(future_t *f, uint32_t state);

/* ---- tasks (task.c) ------------------------------------------------------ */

/* A submitted task. Its future is its first member: one allocation per task,
 * freed when the last reference to the future goes. The argument lives in
 * the future's result until the task completes (see struct future): inline
 * up to 16 bytes, in this allocation's tail up to 64, on the heap beyond
 * (freed as soon as the task completes). 120 bytes with a small argument. */
struct cfut__task {
    future_t fut;
    executor_t *ex;               /* holds a reference */
    cfut__task *next;             /* backend queue, or a drained list */
    union {
        cfut__task *prev;         /* while queued */
        cfut__callback *done_cbs; /* once drained: callbacks still to run */
    } u;
    cfut_task_fn fn;
    bool queued;                  /* linked in a backend queue */
    uint8_t slot;                 /* process pool: its slot on its worker */
    bool pipelined;               /* process pool: sent ahead (process.h) */
    uint32_t drained_state;       /* once drained: the state it replaced */
    unsigned char tail[];         /* medium arguments live here */
};

/* The running task, as the task function sees it (public name cfut_task). */
struct cfut_task {
    const void *arg;
    size_t arg_len;
    cfut__outcome out;
    bool failed;               /* cfut_fail() was called */
    future_t *fut;             /* NULL inside an initializer */
    executor_t *ex;
    uint64_t deadline_ns;      /* 0: none */
    cfut_task *prev;           /* the task this thread ran before (nesting) */
};

/* Allocates a task with 2 references (the caller's and the queue's) and a
 * copy of arg. NULL when out of memory. */
cfut__task *cfut__task_new(executor_t *ex, cfut_task_fn fn, const void *arg, size_t len);
/* Drains a task that is no longer queued nor running: completes its
 * future's state with a failure (or a cancel) under the caller's locks, counts
 * it, and pushes it on *list. cfut__task_list_finish() then runs the wake-ups
 * and callbacks and drops the queue's references, with no lock held. */
void cfut__task_drain(cfut__task *t, cfut__task **list, uint32_t state, int status, int code,
                      const char *fmt, ...) CFUT_PRINTF(6, 7);
void cfut__task_list_finish(cfut__task *list);
/* Fork child: drains the task that the forking thread is running. That
 * thread goes on running it in the child, still reading the argument kept
 * in the future's result, so the future fails without a message of its own
 * (future_error_message() gives the status text) and nothing overwrites or
 * frees those bytes: the child keeps them. */
void cfut__task_drain_running_here(cfut__task *t, cfut__task **list, int status);

/* A backend's queue of submitted tasks, guarded by the backend's lock.
 * Doubly linked, so cancel unlinks in O(1). */
typedef struct cfut__queue {
    cfut__task *head, *tail;
    size_t len;
} cfut__queue;
void cfut__queue_push(cfut__queue *q, cfut__task *t);
/* At the head: a task handed back unstarted (its worker died). */
void cfut__queue_push_front(cfut__queue *q, cfut__task *t);
void cfut__queue_unlink(cfut__queue *q, cfut__task *t);
/* Takes the head (NULL if empty). */
cfut__task *cfut__queue_pop(cfut__queue *q);
/* Drains every queued task onto *list (see cfut__task_drain). */
void cfut__queue_drain(cfut__queue *q, cfut__task **list, uint32_t state, int status, int code,
                       const char *msg);
/* future_cancel() of a PENDING task, for backends: unlinks it under `mu` if
 * it is still queued and cancels it; else reports what the worker made of
 * it (and asks a running task to stop). */
bool cfut__queue_cancel(cfut__queue *q, pthread_mutex_t *mu, cfut__task *t);
/* Fork child: the locks of the queued futures may belong to vanished
 * threads. */
void cfut__queue_reset_locks(cfut__queue *q);
/* Runs fn on this thread with cfut_current() set; fills t->out. */
void cfut__task_invoke(cfut_task *t, cfut_task_fn fn);
static inline cfut__task *cfut__task_of(future_t *f) { return (cfut__task *)f; }
/* The argument of a task that has not completed. */
static inline const unsigned char *cfut__task_arg(const cfut__task *t)
{
    return cfut__value_data(&t->fut.result);
}
static inline size_t cfut__task_arg_len(const cfut__task *t) { return t->fut.result.len; }

/* ---- executors (executor.c) ---------------------------------------------- */

/* A backend: how one kind of executor runs tasks. executor.c calls these;
 * it never switches on the kind. Each call gets the executor, whose `impl`
 * the backend owns. */
/* What init returns on an MPI serving rank: it served tasks until rank 0
 * shut the executor down, and there is no executor here. */
enum { CFUT__SERVED = -1 };

typedef struct cfut__backend {
    const char *name;
    bool remote; /* tasks run in other address spaces: no pointers cross */
    int  (*init)(executor_t *ex);
    /* Takes over the queue's reference to t. On failure the backend has
     * already completed t's future with the reason. */
    void (*submit)(executor_t *ex, cfut__task *t);
    /* Cancels t if it is still queued (future_cancel on a PENDING task). */
    bool (*cancel)(executor_t *ex, cfut__task *t);
    int  (*shutdown)(executor_t *ex, unsigned flags);
    void (*stats)(executor_t *ex, executor_stats *out);
    /* How many tasks it runs at once when saturated (max_workers). */
    size_t (*capacity)(executor_t *ex);
    /* Joins what is left (after shutdown). */
    void (*finalize)(executor_t *ex);
    /* Frees impl, once the last reference to the executor is gone. */
    void (*destroy)(executor_t *ex);
    /* fork: lock everything (prepare), unlock (parent), reset (child). In
     * the child no worker exists: the backend drains what was queued or
     * running onto *orphans (cfut__task_drain), failed with CFUT_EBROKEN. */
    void (*atfork_prepare)(executor_t *ex);
    void (*atfork_parent)(executor_t *ex);
    void (*atfork_child)(executor_t *ex, cfut__task **orphans);
} cfut__backend;

extern const cfut__backend cfut__thread_backend;
extern const cfut__backend cfut__process_backend;
extern const cfut__backend cfut__mpi_backend; /* only with CFUT_HAVE_MPI */

struct executor {
    _Atomic uint32_t refs;        /* the handle + one per live task */
    const cfut__backend *backend;
    void *impl;
    unsigned id;
    executor_kind kind;
    executor_options opts;        /* initarg points at our copy */
    void *initarg;
    char name_prefix[16];
    _Atomic bool stopping;        /* tasks should stop (cancel/terminate) */
    _Atomic size_t completed, failed, cancelled;
    executor_t *reg_next, *reg_prev; /* the registry, for fork handlers */
};

void cfut__executor_retain(executor_t *ex);
void cfut__executor_release(executor_t *ex);
/* Counts a finished task in the stats, by how it ended. */
void cfut__executor_count(executor_t *ex, uint32_t state, int status);
/* Finishes a task's future with `o`, counting it. No lock may be held. */
void cfut__executor_finish(cfut__task *t, cfut__outcome *o);

#endif /* CFUT_INTERNAL_H */
