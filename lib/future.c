/* lib/future.c: the future, a reference-counted one-shot cell.
 *
 * The state word (future.state) is the single source of truth for "done" and
 * is also the futex single waiters sleep on: readers never take the lock.
 * Everything else (outcome, callbacks, multi-waiters) is guarded by the
 * future's 4-byte lock and published by the release-exchange of the state.
 *
 * Completion: under the lock, move the outcome in, fire the multi-waiters
 * (futures_wait, iterators: short, no user code), detach the callbacks and
 * exchange the state; then, without any lock, wake the futex sleepers and
 * run the callbacks in registration order.
 *
 * Lock order: an owner's lock (executor queue) -> future lock -> waiter lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

struct cfut__callback {
    cfut__callback *next;
    future_callback fn;
    void *user;
};

/* ---- time ---------------------------------------------------------------- */

uint64_t cfut__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cfut__deadline_from(double timeout, cfut__deadline *d)
{
    if (isnan(timeout))
        return CFUT_EINVAL;
    d->forever = timeout < 0 || timeout > 1e9; /* 30 years is forever */
    if (d->forever)
        return CFUT_OK;
    clock_gettime(CLOCK_MONOTONIC, &d->at);
    time_t whole = (time_t)timeout; /* 0 <= timeout <= 1e9: truncation is floor */
    d->at.tv_sec += whole;
    d->at.tv_nsec += (long)((timeout - (double)whole) * 1e9);
    if (d->at.tv_nsec >= 1000000000L) {
        d->at.tv_sec++;
        d->at.tv_nsec -= 1000000000L;
    }
    return CFUT_OK;
}

bool cfut__deadline_passed(const cfut__deadline *d)
{
    if (d->forever)
        return false;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->at.tv_sec ||
           (now.tv_sec == d->at.tv_sec && now.tv_nsec >= d->at.tv_nsec);
}

/* ---- futex --------------------------------------------------------------- */

unsigned cfut__spare_cpus(void)
{
    static _Atomic unsigned spare = UINT_MAX;
    unsigned n = atomic_load_explicit(&spare, memory_order_relaxed);
    if (n == UINT_MAX) {
        cpu_set_t set;
        int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        n = cpus > 1 ? (unsigned)cpus - 1 : 0;
        atomic_store_explicit(&spare, n, memory_order_relaxed);
    }
    return n;
}

bool cfut__futex_wait(_Atomic uint32_t *addr, uint32_t expected, const cfut__deadline *d)
{
    const struct timespec *ts = NULL;
    if (d && !d->forever) {
        if (cfut__deadline_passed(d))
            return false;
        ts = &d->at;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so
     * spurious wake-ups and EINTR never stretch the wait. */
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                     ts, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == -1 && errno == ETIMEDOUT)
        return false;
    return true;
}

void cfut__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

void cfut__lock_acquire(cfut__lock *l)
{
    uint32_t c = 0;
    if (atomic_compare_exchange_strong_explicit(&l->v, &c, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    /* Spin briefly: the holders of a future's lock never block and hold it
     * for a few hundred nanoseconds, much less than a futex sleep costs. */
    for (int i = 0; i < 100; i++) {
        __builtin_ia32_pause();
        c = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &c, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    while (c != 0) {
        cfut__futex_wait(&l->v, 2, NULL);
        c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    }
}

void cfut__lock_release(cfut__lock *l)
{
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
        cfut__futex_wake(&l->v, 1);
}

/* ---- values and outcomes ------------------------------------------------- */

int cfut__value_set(cfut__value *v, const void *data, size_t len)
{
    cfut__value_clear(v);
    if (len <= CFUT__INLINE_VALUE) {
        if (len)
            memcpy(v->u.buf, data, len);
    } else {
        unsigned char *p = cfut__malloc(len);
        if (!p)
            return CFUT_ENOMEM;
        memcpy(p, data, len);
        v->u.ptr = p;
    }
    v->len = len;
    return CFUT_OK;
}

void cfut__value_clear(cfut__value *v)
{
    /* Length first: a fork() by another thread between the two leaves the
     * child a value that is empty, not one it would free a second time
     * (its fork handler completes the futures that were being completed). */
    size_t len = v->len;
    v->len = 0;
    if (len > CFUT__INLINE_VALUE)
        cfut__free(v->u.ptr);
}

void cfut__outcome_clear(cfut__outcome *o)
{
    cfut__free(o->message);
    cfut__value_clear(&o->result);
    o->message = NULL;
    o->status = CFUT_OK;
    o->code = 0;
}

void cfut__outcome_vfail(cfut__outcome *o, int status, int code, const char *fmt, va_list ap)
{
    cfut__outcome_clear(o);
    o->status = status;
    o->code = code;
    o->message = fmt ? cfut__vasprintf(fmt, ap) : cfut__strdup("");
}

void cfut__outcome_fail(cfut__outcome *o, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(o, status, code, fmt, ap);
    va_end(ap);
}

/* ---- life ---------------------------------------------------------------- */

/* The future handed out when even a failed future cannot be allocated. Its
 * reference count is never touched. */
static future_t enomem_future = {
    .state = CFUT__FINISHED,
    .refs = 1,
    .status = CFUT_ENOMEM, /* no message: cfut_strerror's stands in */
};

void cfut__future_init(future_t *f, const cfut__future_class *cls, uint32_t refs)
{
    memset(f, 0, sizeof *f);
    atomic_init(&f->state, CFUT__PENDING);
    atomic_init(&f->refs, refs);
    f->cls = cls;
}

future_t *future_new(void)
{
    future_t *f = cfut__malloc(sizeof *f);
    if (f)
        cfut__future_init(f, NULL, 1);
    return f;
}

future_t *future_retain(future_t *f)
{
    if (f && f != &enomem_future)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

/* Drops what f->result holds: an outcome, or a task's argument. */
static void clear_result(future_t *f)
{
    if (f->result_borrowed) /* the owner frees it with the future */
        f->result.len = 0;
    else
        cfut__value_clear(&f->result);
    f->result_borrowed = false;
}

/* Stores a failure's message as the result, with its NUL; takes msg. */
static void set_message(future_t *f, char *msg)
{
    if (!msg)
        return; /* future_error_message() falls back to the status text */
    size_t n = strlen(msg) + 1;
    if (n <= CFUT__INLINE_VALUE) {
        memcpy(f->result.u.buf, msg, n);
        cfut__free(msg);
    } else {
        f->result.u.ptr = (unsigned char *)msg;
    }
    f->result.len = n;
}

static void destroy(future_t *f)
{
    cfut__callback *cb = f->callbacks;
    while (cb) { /* never completed: its callbacks can never run */
        cfut__callback *next = cb->next;
        cfut__free(cb);
        cb = next;
    }
    CFUT_ASSERT(f->waiters == NULL);
    clear_result(f);
    if (f->cls)
        f->cls->destroy(f);
    else
        cfut__free(f);
}

void future_release(future_t *f)
{
    if (!f || f == &enomem_future)
        return;
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    CFUT_ASSERT(old > 0);
    if (old == 1)
        destroy(f);
}

void cfut__future_reset_lock(future_t *f)
{
    atomic_store_explicit(&f->lock.v, 0, memory_order_relaxed);
}

/* ---- state --------------------------------------------------------------- */

static uint32_t state_of(const future_t *f)
{
    return atomic_load_explicit(&f->state, memory_order_acquire) &
           CFUT__STATE_MASK;
}

static bool is_done(uint32_t s)
{
    return (s & CFUT__STATE_MASK) >= CFUT__FINISHED;
}

bool future_done(const future_t *f)
{
    return f && is_done(state_of(f));
}

bool future_running(const future_t *f)
{
    return f && state_of(f) == CFUT__RUNNING;
}

bool future_cancelled(const future_t *f)
{
    return f && state_of(f) == CFUT__CANCELLED;
}

bool cfut__future_start(future_t *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    while ((s & CFUT__STATE_MASK) == CFUT__PENDING) {
        if (atomic_compare_exchange_weak_explicit(&f->state, &s,
                                                  (s & ~CFUT__STATE_MASK) | CFUT__RUNNING,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

bool cfut__future_unstart(future_t *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    while ((s & CFUT__STATE_MASK) == CFUT__RUNNING) {
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, (s & ~(uint32_t)(CFUT__STATE_MASK | CFUT__STOP)) | CFUT__PENDING,
                memory_order_acq_rel, memory_order_relaxed))
            return true;
    }
    return false;
}

/* ---- completion ---------------------------------------------------------- */

int cfut__future_complete_begin(future_t *f, uint32_t state, cfut__outcome *o,
                                cfut__completion *c)
{
    CFUT_ASSERT(state == CFUT__FINISHED || state == CFUT__CANCELLED);
    c->f = f;
    c->callbacks = NULL;
    c->old_state = 0;
    cfut__lock_acquire(&f->lock);
    uint32_t now = atomic_load_explicit(&f->state, memory_order_relaxed);
    /* Only a PENDING future can be cancelled: one that started running
     * after the canceller looked has won the race. */
    if (is_done(now) ||
        (state == CFUT__CANCELLED && (now & CFUT__STATE_MASK) == CFUT__RUNNING)) {
        cfut__lock_release(&f->lock);
        return CFUT_ESTATE;
    }
    f->status = o->status;
    f->code = o->code;
    clear_result(f); /* a task's argument: its work is over */
    if (o->status == CFUT_OK) {
        f->result = o->result;
        o->result.len = 0;
        cfut__free(o->message);
    } else {
        cfut__value_clear(&o->result);
        set_message(f, o->message);
    }
    o->message = NULL;
    c->callbacks = f->callbacks;
    f->callbacks = NULL;
    c->old_state = atomic_exchange_explicit(&f->state, state, memory_order_acq_rel);
    /* After the exchange: whoever a waiter hands the future to must see it
     * done. Still under the lock, so unwatch() cannot race it. */
    cfut__waiters_fire(f, state);
    cfut__lock_release(&f->lock);
    return CFUT_OK;
}

void cfut__future_complete_end(cfut__completion *c)
{
    if (c->old_state & CFUT__WAITERS)
        cfut__futex_wake(&c->f->state, INT_MAX);
    /* Registered newest first: reverse to run them in registration order. */
    cfut__callback *cb = c->callbacks, *ordered = NULL;
    while (cb) {
        cfut__callback *next = cb->next;
        cb->next = ordered;
        ordered = cb;
        cb = next;
    }
    while (ordered) {
        cfut__callback *next = ordered->next;
        ordered->fn(c->f, ordered->user);
        cfut__free(ordered);
        ordered = next;
    }
    c->callbacks = NULL;
}

int cfut__future_complete(future_t *f, uint32_t state, cfut__outcome *o)
{
    cfut__completion c;
    int rc = cfut__future_complete_begin(f, state, o, &c);
    if (rc == CFUT_OK)
        cfut__future_complete_end(&c);
    return rc;
}

future_t *cfut__future_failed(int status, int code, const char *fmt, ...)
{
    future_t *f = future_new();
    if (!f)
        return &enomem_future;
    cfut__outcome o = {0};
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(&o, status, code, fmt, ap);
    va_end(ap);
    cfut__future_complete(f, CFUT__FINISHED, &o);
    return f;
}

/* ---- the user's completion calls ----------------------------------------- */

bool future_set_running_or_notify_cancel(future_t *f)
{
    if (!f || f->cls || f == &enomem_future)
        return false;
    cfut__lock_acquire(&f->lock);
    bool ok = cfut__future_start(f);
    cfut__lock_release(&f->lock);
    return ok;
}

static int set_outcome(future_t *f, cfut__outcome *o)
{
    int rc = cfut__future_complete(f, CFUT__FINISHED, o);
    cfut__outcome_clear(o);
    return rc;
}

int future_set_result(future_t *f, const void *data, size_t len)
{
    if (!f || (!data && len) || f->cls)
        return CFUT_EINVAL;
    if (future_done(f))
        return CFUT_ESTATE; /* skip the copy; complete_begin decides races */
    cfut__outcome o = {0};
    if (cfut__value_set(&o.result, data, len) != CFUT_OK)
        return CFUT_ENOMEM;
    return set_outcome(f, &o);
}

int future_set_error(future_t *f, int code, const char *fmt, ...)
{
    if (!f || f->cls)
        return CFUT_EINVAL;
    if (future_done(f))
        return CFUT_ESTATE;
    cfut__outcome o = {0};
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(&o, CFUT_ETASK, code, fmt, ap);
    va_end(ap);
    if (!o.message)
        return CFUT_ENOMEM;
    return set_outcome(f, &o);
}

bool future_cancel(future_t *f)
{
    if (!f)
        return false;
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    switch (s & CFUT__STATE_MASK) {
    case CFUT__CANCELLED:
        return true;
    case CFUT__FINISHED:
        return false;
    case CFUT__RUNNING:
        /* Cannot cancel a running task; ask it to stop instead. */
        atomic_fetch_or_explicit(&f->state, CFUT__STOP, memory_order_relaxed);
        return false;
    default:
        break;
    }
    if (f->cls)
        return f->cls->cancel(f);
    cfut__outcome o = {.status = CFUT_ECANCELLED};
    o.message = cfut__strdup("cancelled");
    int rc = cfut__future_complete(f, CFUT__CANCELLED, &o);
    cfut__outcome_clear(&o);
    if (rc == CFUT_OK)
        return true;
    /* Lost a race: to another cancel (true), a completion (false), or the
     * future started running (false, and it is asked to stop). */
    if (state_of(f) == CFUT__RUNNING)
        atomic_fetch_or_explicit(&f->state, CFUT__STOP, memory_order_relaxed);
    return state_of(f) == CFUT__CANCELLED;
}

/* ---- waiting and reading ------------------------------------------------- */

/* Spins on the state word for up to CFUT__SPIN_NS (or the deadline) while
 * a CPU is spare; true once done. It yields now and then: the thread that
 * will complete the future (a process pool's manager, woken by a worker's
 * reply) may be waiting for this very CPU. */
static bool spin_done(future_t *f, const cfut__deadline *d)
{
    static _Atomic unsigned spinners;
    bool done = false;
    if (atomic_fetch_add_explicit(&spinners, 1, memory_order_relaxed) < cfut__spare_cpus()) {
        uint64_t until = cfut__now_ns() + CFUT__SPIN_NS;
        if (!d->forever) {
            uint64_t at = (uint64_t)d->at.tv_sec * 1000000000u + (uint64_t)d->at.tv_nsec;
            until = at < until ? at : until;
        }
        for (unsigned i = 1; !(done = is_done(atomic_load_explicit(&f->state,
                                                                   memory_order_acquire)));
             i++) {
            __builtin_ia32_pause();
            if (i % 64 == 0) {
                if (cfut__now_ns() >= until)
                    break;
                sched_yield();
            }
        }
    }
    atomic_fetch_sub_explicit(&spinners, 1, memory_order_relaxed);
    return done;
}

/* Sleeps on the state word until done or the deadline; true once done. */
static bool wait_done(future_t *f, const cfut__deadline *d)
{
    if (spin_done(f, d))
        return true;
    for (;;) {
        uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
        if (is_done(s))
            return true;
        if (!(s & CFUT__WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&f->state, &s, s | CFUT__WAITERS,
                                                       memory_order_acq_rel,
                                                       memory_order_acquire))
                continue;
            s |= CFUT__WAITERS;
        }
        if (!cfut__futex_wait(&f->state, s, d))
            return is_done(atomic_load_explicit(&f->state, memory_order_acquire));
    }
}

int future_wait(future_t *f, double timeout)
{
    cfut__deadline d;
    if (!f || cfut__deadline_from(timeout, &d) != CFUT_OK)
        return CFUT_EINVAL;
    if (is_done(state_of(f)))
        return CFUT_OK;
    if (timeout == 0)
        return CFUT_ETIMEDOUT;
    return wait_done(f, &d) ? CFUT_OK : CFUT_ETIMEDOUT;
}

int future_result(future_t *f, double timeout, const void **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    int rc = future_wait(f, timeout);
    if (rc != CFUT_OK)
        return rc;
    if (f->status != CFUT_OK)
        return f->status;
    if (data)
        *data = cfut__value_data(&f->result);
    if (len)
        *len = f->result.len;
    return CFUT_OK;
}

int future_result_copy(future_t *f, double timeout, void *out, size_t size)
{
    if (!out && size)
        return CFUT_EINVAL;
    const void *data;
    size_t len;
    int rc = future_result(f, timeout, &data, &len);
    if (rc != CFUT_OK)
        return rc;
    if (len != size)
        return CFUT_ESERIALIZE;
    if (size)
        memcpy(out, data, size);
    return CFUT_OK;
}

int future_status(const future_t *f)
{
    if (!f)
        return CFUT_EINVAL;
    return is_done(state_of(f)) ? f->status : CFUT_ETIMEDOUT;
}

int future_error_code(const future_t *f)
{
    return f && is_done(state_of(f)) ? f->code : 0;
}

const char *future_error_message(const future_t *f)
{
    if (!f || !is_done(state_of(f)) || f->status == CFUT_OK)
        return NULL;
    /* A message that could not be allocated falls back to the status text. */
    return f->result.len ? (const char *)cfut__value_data(&f->result)
                         : cfut_strerror(f->status);
}

/* ---- callbacks ----------------------------------------------------------- */

int future_add_done_callback(future_t *f, future_callback cb, void *user)
{
    if (!f || !cb)
        return CFUT_EINVAL;
    if (!is_done(state_of(f))) {
        cfut__callback *node = cfut__malloc(sizeof *node);
        if (!node)
            return CFUT_ENOMEM;
        node->fn = cb;
        node->user = user;
        cfut__lock_acquire(&f->lock);
        if (!is_done(atomic_load_explicit(&f->state, memory_order_relaxed))) {
            node->next = f->callbacks;
            f->callbacks = node;
            cfut__lock_release(&f->lock);
            return CFUT_OK;
        }
        cfut__lock_release(&f->lock);
        cfut__free(node);
    }
    cb(f, user);
    return CFUT_OK;
}
