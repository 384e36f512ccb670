/* lib/task.c: the task record and the API a running task calls.
 *
 * A submitted task is one allocation: its future first, then the function;
 * the argument bytes are kept in the future's result until it completes
 * (inline when small, in the allocation's tail up to TAIL_ARG). The running task
 * (struct cfut_task) lives on the worker's stack; cfut_current() finds it
 * through a thread-local pointer. */
#include <string.h>

#include "internal.h"

/* Arguments up to this size are stored inside the task allocation; larger
 * ones on the heap, so completion frees them at once. */
enum { TAIL_ARG = 64 };

/* A task with an argument of up to 8 bytes (the common case: an integer or
 * a pointer) must fit glibc's 128-byte malloc chunk: 120 bytes, as the
 * header comment of the task's struct says. bench_memory measures it. */
_Static_assert(offsetof(cfut__task, tail) <= 120, "a task no longer fits a 128-byte chunk");
_Static_assert(sizeof(future_t) == 80, "the future grew");

static _Thread_local cfut_task *current;

static bool task_cancel(future_t *f)
{
    cfut__task *t = cfut__task_of(f);
    return t->ex->backend->cancel(t->ex, t);
}

static void task_destroy(future_t *f)
{
    cfut__task *t = cfut__task_of(f);
    executor_t *ex = t->ex;
    cfut__free(t);
    cfut__executor_release(ex);
}

static const cfut__future_class task_class = {
    .cancel = task_cancel,
    .destroy = task_destroy,
};

cfut__task *cfut__task_new(executor_t *ex, cfut_task_fn fn, const void *arg, size_t len)
{
    bool tail = len > CFUT__INLINE_VALUE && len <= TAIL_ARG;
    cfut__task *t = cfut__malloc(offsetof(cfut__task, tail) + (tail ? len : 0));
    if (!t)
        return NULL;
    cfut__future_init(&t->fut, &task_class, 2);
    if (tail) {
        memcpy(t->tail, arg, len);
        t->fut.result.u.ptr = t->tail;
        t->fut.result.len = len;
        t->fut.result_borrowed = true;
    } else if (cfut__value_set(&t->fut.result, arg, len) != CFUT_OK) {
        cfut__free(t);
        return NULL;
    }
    t->ex = ex;
    t->next = t->u.prev = NULL;
    t->drained_state = 0;
    t->fn = fn;
    t->queued = false;
    cfut__executor_retain(ex);
    return t;
}

/* Completes t's future with `o` (taken) and pushes t on *list, for
 * cfut__task_list_finish(). */
static void drain_with(cfut__task *t, cfut__task **list, uint32_t state, cfut__outcome *o)
{
    t->queued = false;
    cfut__completion c;
    if (cfut__future_complete_begin(&t->fut, state, o, &c) == CFUT_OK) {
        cfut__executor_count(t->ex, state, o->status);
        t->u.done_cbs = c.callbacks;
        t->drained_state = c.old_state;
    } else { /* already done: nothing left but the reference */
        t->u.done_cbs = NULL;
        t->drained_state = 0;
    }
    cfut__outcome_clear(o);
    t->next = *list;
    *list = t;
}

void cfut__task_drain(cfut__task *t, cfut__task **list, uint32_t state, int status, int code,
                      const char *fmt, ...)
{
    cfut__outcome o = {0};
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(&o, status, code, fmt, ap);
    va_end(ap);
    drain_with(t, list, state, &o);
}

void cfut__task_drain_running_here(cfut__task *t, cfut__task **list, int status)
{
    /* Borrowed: completion takes the argument's length away without
     * freeing it, and with no message nothing is written in its place. */
    t->fut.result_borrowed = true;
    cfut__outcome o = {.status = status};
    drain_with(t, list, CFUT__FINISHED, &o);
}

void cfut__task_list_finish(cfut__task *list)
{
    /* The list is newest first; finish in queue order. */
    cfut__task *ordered = NULL;
    while (list) {
        cfut__task *next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        cfut__task *next = ordered->next;
        cfut__completion c = {&ordered->fut, ordered->drained_state, ordered->u.done_cbs};
        cfut__future_complete_end(&c);
        future_release(&ordered->fut);
        ordered = next;
    }
}

/* ---- the backends' queue ------------------------------------------------- */

void cfut__queue_push(cfut__queue *q, cfut__task *t)
{
    t->next = NULL;
    t->u.prev = q->tail;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    t->queued = true;
    q->len++;
}

void cfut__queue_push_front(cfut__queue *q, cfut__task *t)
{
    t->u.prev = NULL;
    t->next = q->head;
    if (q->head)
        q->head->u.prev = t;
    else
        q->tail = t;
    q->head = t;
    t->queued = true;
    q->len++;
}

void cfut__queue_unlink(cfut__queue *q, cfut__task *t)
{
    if (t->u.prev)
        t->u.prev->next = t->next;
    else
        q->head = t->next;
    if (t->next)
        t->next->u.prev = t->u.prev;
    else
        q->tail = t->u.prev;
    t->next = t->u.prev = NULL;
    t->queued = false;
    q->len--;
}

cfut__task *cfut__queue_pop(cfut__queue *q)
{
    cfut__task *t = q->head;
    if (t)
        cfut__queue_unlink(q, t);
    return t;
}

void cfut__queue_drain(cfut__queue *q, cfut__task **list, uint32_t state, int status, int code,
                       const char *msg)
{
    cfut__task *t;
    while ((t = cfut__queue_pop(q)))
        cfut__task_drain(t, list, state, status, code, "%s", msg);
}

bool cfut__queue_cancel(cfut__queue *q, pthread_mutex_t *mu, cfut__task *t)
{
    cfut__task *list = NULL;
    pthread_mutex_lock(mu);
    if (!t->queued) {
        /* A worker took it (or a drain finished it) after the caller looked. */
        pthread_mutex_unlock(mu);
        if (future_running(&t->fut))
            atomic_fetch_or(&t->fut.state, CFUT__STOP);
        return future_cancelled(&t->fut);
    }
    cfut__queue_unlink(q, t);
    cfut__task_drain(t, &list, CFUT__CANCELLED, CFUT_ECANCELLED, 0, "cancelled");
    pthread_mutex_unlock(mu);
    cfut__task_list_finish(list);
    return true;
}

void cfut__queue_reset_locks(cfut__queue *q)
{
    for (cfut__task *t = q->head; t; t = t->next)
        cfut__future_reset_lock(&t->fut);
}

void cfut__task_invoke(cfut_task *t, cfut_task_fn fn)
{
    t->prev = current;
    current = t;
    int rc = fn(t, t->arg, t->arg_len);
    current = t->prev;
    if (t->failed)
        return;
    if (rc != 0)
        cfut__outcome_fail(&t->out, CFUT_ETASK, rc, "task returned %d", rc);
}

int cfut_return(cfut_task *t, const void *data, size_t len)
{
    if (!t || (!data && len))
        return CFUT_EINVAL;
    return cfut__value_set(&t->out.result, data, len);
}

int cfut_fail(cfut_task *t, int code, const char *fmt, ...)
{
    if (!t)
        return CFUT_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(&t->out, CFUT_ETASK, code, fmt, ap);
    va_end(ap);
    t->failed = true;
    return code;
}

bool cfut_should_stop(const cfut_task *t)
{
    if (!t)
        return false;
    if (t->fut && (atomic_load_explicit(&t->fut->state, memory_order_relaxed) & CFUT__STOP))
        return true;
    if (t->ex && atomic_load_explicit(&t->ex->stopping, memory_order_relaxed))
        return true;
    return t->deadline_ns && cfut__now_ns() >= t->deadline_ns;
}

cfut_task *cfut_current(void)
{
    return current;
}
