/* lib/executor.c: the executor front.
 *
 * Validates what the user passes, keeps what every backend shares (options,
 * counters, the reference count that lets futures outlive the handle), and
 * calls the backend through its vtable: there is no switch on the kind here.
 *
 * The registry lists live executors for the fork handlers. Lock order:
 * registry lock -> backend lock -> future lock. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fnref.h"
#include "internal.h"
#include "process.h"

/* The backends this build provides, by kind. A NULL slot is refused with
 * CFUT_EINVAL until its backend exists. */
static const cfut__backend *const backends[] = {
    [EXECUTOR_THREADS] = &cfut__thread_backend,
    [EXECUTOR_PROCESSES] = &cfut__process_backend,
#ifdef CFUT_HAVE_MPI
    [EXECUTOR_MPI] = &cfut__mpi_backend,
#else
    [EXECUTOR_MPI] = NULL,
#endif
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static executor_t *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic unsigned next_id = 1;

/* ---- fork ---------------------------------------------------------------- */

static void prepare(void)
{
    pthread_mutex_lock(&registry_mu);
    for (executor_t *ex = registry; ex; ex = ex->reg_next)
        ex->backend->atfork_prepare(ex);
    cfut__fnref_fork_prepare(); /* last: a pool's lock may be held around it */
}

static void parent(void)
{
    cfut__fnref_fork_parent();
    for (executor_t *ex = registry; ex; ex = ex->reg_next)
        ex->backend->atfork_parent(ex);
    pthread_mutex_unlock(&registry_mu);
}

/* In the child only this thread exists. Every inherited executor loses its
 * workers; what they had queued or running fails with CFUT_EBROKEN, and its
 * callbacks run here, once no lock is held, so they may use the library. */
_Atomic unsigned cfut__forks;

static void child(void)
{
    atomic_fetch_add(&cfut__forks, 1);
    cfut__fnref_fork_child();
    cfut__task *orphans = NULL;
    for (executor_t *ex = registry; ex; ex = ex->reg_next)
        ex->backend->atfork_child(ex, &orphans);
    pthread_mutex_unlock(&registry_mu);
    /* A process-pool worker forked by its manager: the inherited executors
     * now refuse work, and their futures are the parent's business: their
     * callbacks must not run here. They are left as they are. */
    if (!cfut__forking_worker)
        cfut__task_list_finish(orphans);
}

static void install_atfork(void)
{
    pthread_atfork(prepare, parent, child);
}

/* ---- life ---------------------------------------------------------------- */

void cfut__executor_retain(executor_t *ex)
{
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
}

void cfut__executor_release(executor_t *ex)
{
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (ex->impl)
        ex->backend->destroy(ex);
    cfut__free(ex->initarg);
    cfut__free(ex);
}

static int check_options(executor_kind kind, const executor_options *o)
{
    if ((unsigned)kind >= sizeof backends / sizeof backends[0] || !backends[kind])
        return CFUT_EINVAL;
    if (o->max_workers < 0 || (!o->initarg && o->initarg_len > 0) ||
        isnan(o->task_timeout))
        return CFUT_EINVAL;
    switch (o->start) {
    case EXECUTOR_START_DEFAULT:
    case EXECUTOR_START_FORKSERVER:
    case EXECUTOR_START_FORK:
    case EXECUTOR_START_SPAWN:
        return CFUT_OK;
    default:
        return CFUT_EINVAL;
    }
}

int executor_new(executor_t **out, executor_kind kind, const executor_options *opts)
{
    if (!out)
        return CFUT_EINVAL;
    *out = NULL;
    executor_options o = {0};
    if (opts)
        o = *opts;
    int rc = check_options(kind, &o);
    if (rc != CFUT_OK)
        return rc;
    pthread_once(&atfork_once, install_atfork);

    executor_t *ex = cfut__calloc(1, sizeof *ex);
    if (!ex)
        return CFUT_ENOMEM;
    atomic_init(&ex->refs, 1);
    ex->backend = backends[kind];
    ex->kind = kind;
    ex->id = atomic_fetch_add(&next_id, 1);
    ex->opts = o;
    if (o.initarg_len) {
        if (!(ex->initarg = cfut__malloc(o.initarg_len))) {
            cfut__free(ex);
            return CFUT_ENOMEM;
        }
        memcpy(ex->initarg, o.initarg, o.initarg_len);
    }
    ex->opts.initarg = ex->initarg;
    if (!(o.task_timeout > 0 && o.task_timeout < 1e9))
        ex->opts.task_timeout = 0; /* none: <= 0, infinite, or decades */
    ex->opts.name_prefix = NULL; /* not ours to keep: use our copy */
    if (o.name_prefix)
        snprintf(ex->name_prefix, sizeof ex->name_prefix, "%s", o.name_prefix);
    else
        snprintf(ex->name_prefix, sizeof ex->name_prefix, "cfut%u", ex->id);

    rc = ex->backend->init(ex);
    if (rc == CFUT__SERVED) { /* an MPI serving rank, done serving */
        cfut__executor_release(ex);
        return CFUT_OK;
    }
    if (rc != CFUT_OK) {
        cfut__executor_release(ex);
        return rc;
    }
    pthread_mutex_lock(&registry_mu);
    ex->reg_next = registry;
    if (registry)
        registry->reg_prev = ex;
    registry = ex;
    pthread_mutex_unlock(&registry_mu);
    *out = ex;
    return CFUT_OK;
}

future_t *executor_submit(executor_t *ex, cfut_task_fn fn, const void *arg, size_t arg_len)
{
    if (!ex)
        return cfut__future_failed(CFUT_EINVAL, 0, "executor_submit: NULL executor");
    if (!fn)
        return cfut__future_failed(CFUT_EINVAL, 0, "executor_submit: NULL task function");
    if (!arg && arg_len)
        return cfut__future_failed(CFUT_EINVAL, 0,
                                   "executor_submit: NULL argument with length %zu", arg_len);
    cfut__task *t = cfut__task_new(ex, fn, arg, arg_len);
    if (!t)
        return cfut__future_failed(CFUT_ENOMEM, 0, "executor_submit: out of memory");
    ex->backend->submit(ex, t);
    return &t->fut;
}

enum { ALL_FLAGS = EXECUTOR_WAIT | EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL };

int executor_shutdown(executor_t *ex, unsigned flags)
{
    if (!ex || (flags & ~(unsigned)ALL_FLAGS))
        return CFUT_EINVAL;
    if (flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL))
        atomic_store(&ex->stopping, true);
    return ex->backend->shutdown(ex, flags);
}

void executor_free(executor_t *ex)
{
    if (!ex)
        return;
    ex->backend->shutdown(ex, EXECUTOR_WAIT);
    ex->backend->finalize(ex);
    pthread_mutex_lock(&registry_mu);
    if (ex->reg_prev)
        ex->reg_prev->reg_next = ex->reg_next;
    else
        registry = ex->reg_next;
    if (ex->reg_next)
        ex->reg_next->reg_prev = ex->reg_prev;
    pthread_mutex_unlock(&registry_mu);
    cfut__executor_release(ex);
}

/* ---- counters ------------------------------------------------------------ */

void cfut__executor_count(executor_t *ex, uint32_t state, int status)
{
    _Atomic size_t *c = state == CFUT__CANCELLED ? &ex->cancelled
                        : status == CFUT_OK      ? &ex->completed
                                                 : &ex->failed;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void cfut__executor_finish(cfut__task *t, cfut__outcome *o)
{
    cfut__executor_count(t->ex, CFUT__FINISHED, o->status);
    cfut__future_complete(&t->fut, CFUT__FINISHED, o);
    cfut__outcome_clear(o);
}

int executor_get_stats(executor_t *ex, executor_stats *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!ex || !out)
        return CFUT_EINVAL;
    ex->backend->stats(ex, out);
    out->completed = atomic_load(&ex->completed);
    out->failed = atomic_load(&ex->failed);
    out->cancelled = atomic_load(&ex->cancelled);
    return CFUT_OK;
}
