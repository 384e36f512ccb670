/* lib/wait.c: waiting on many futures at once.
 *
 * A multi-waiter links one node into each future it watches. Completion
 * (future.c) calls the waiter's notify() under that future's lock and unlinks
 * the node, so notify() and unwatch() never race: once unwatch() returns, no
 * completion can touch the node or its waiter again, and the waiter may be
 * freed. notify() only counts, queues and wakes: it never runs user code.
 *
 * Lock order: future lock -> iterator lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

/* ---- watch lists --------------------------------------------------------- */

bool cfut__future_watch(future_t *f, cfut__wait_node *n, cfut__waiter *w)
{
    n->w = w;
    n->prev = NULL;
    cfut__lock_acquire(&f->lock);
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    if ((s & CFUT__STATE_MASK) >= CFUT__FINISHED) {
        cfut__lock_release(&f->lock);
        n->linked = false;
        return false;
    }
    n->next = f->waiters;
    if (f->waiters)
        f->waiters->prev = n;
    f->waiters = n;
    n->linked = true;
    cfut__lock_release(&f->lock);
    return true;
}

void cfut__future_unwatch(future_t *f, cfut__wait_node *n)
{
    cfut__lock_acquire(&f->lock);
    if (n->linked) {
        if (n->prev)
            n->prev->next = n->next;
        else
            f->waiters = n->next;
        if (n->next)
            n->next->prev = n->prev;
        n->linked = false;
    }
    cfut__lock_release(&f->lock);
}

void cfut__waiters_fire(future_t *f, uint32_t state)
{
    cfut__wait_node *n = f->waiters;
    f->waiters = NULL;
    while (n) {
        cfut__wait_node *next = n->next;
        n->linked = false;
        n->w->notify(n->w, f, state);
        n = next;
    }
}

static bool failed_state(const future_t *f, uint32_t state)
{
    return state == CFUT__FINISHED && f->status != CFUT_OK;
}

/* The distinct futures of fs[0..n), in a new array; *m gets their count.
 * CFUT_EINVAL for a NULL element. */
static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (future_t *const *)a, y = (uintptr_t) * (future_t *const *)b;
    return (x > y) - (x < y);
}

static int distinct(future_t *const *fs, size_t n, future_t ***out, size_t *m)
{
    *out = NULL;
    *m = 0;
    if (n > SIZE_MAX / sizeof(future_t *))
        return CFUT_ENOMEM;
    future_t **d = cfut__malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return CFUT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i]) {
            cfut__free(d);
            return CFUT_EINVAL;
        }
        d[i] = fs[i];
    }
    qsort(d, n, sizeof *d, cmp_ptr);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || d[k - 1] != d[i])
            d[k++] = d[i];
    *out = d;
    *m = k;
    return CFUT_OK;
}

/* ---- futures_wait -------------------------------------------------------- */

typedef struct multi_wait {
    cfut__waiter base;
    _Atomic uint32_t seq; /* futex word: bumped by every notify */
    _Atomic size_t done, failed;
} multi_wait;

static void multi_notify(cfut__waiter *w, future_t *f, uint32_t state)
{
    multi_wait *mw = (multi_wait *)w;
    if (failed_state(f, state))
        atomic_fetch_add_explicit(&mw->failed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mw->done, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mw->seq, 1, memory_order_release);
    cfut__futex_wake(&mw->seq, 1);
}

static bool holds(futures_return_when when, size_t done, size_t failed, size_t total)
{
    switch (when) {
    case FUTURES_FIRST_COMPLETED:
        return done > 0 || total == 0;
    case FUTURES_FIRST_EXCEPTION:
        return failed > 0 || done == total;
    case FUTURES_ALL_COMPLETED:
    default:
        return done == total;
    }
}

int futures_wait(future_t *const *fs, size_t n, double timeout, futures_return_when when)
{
    cfut__deadline d;
    if ((!fs && n) || cfut__deadline_from(timeout, &d) != CFUT_OK ||
        (when != FUTURES_FIRST_COMPLETED && when != FUTURES_FIRST_EXCEPTION &&
         when != FUTURES_ALL_COMPLETED))
        return CFUT_EINVAL;

    /* A first look, without allocating: most calls end here. Duplicates do
     * not change whether a condition holds, only the count. */
    size_t done = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i])
            return CFUT_EINVAL;
        uint32_t s = atomic_load_explicit(&fs[i]->state, memory_order_acquire) &
                     CFUT__STATE_MASK;
        done += s >= CFUT__FINISHED;
        failed += failed_state(fs[i], s);
    }
    if (holds(when, done, failed, n))
        return CFUT_OK;
    if (timeout == 0)
        return CFUT_ETIMEDOUT;

    future_t **u;
    size_t m;
    int rc = distinct(fs, n, &u, &m);
    if (rc != CFUT_OK)
        return rc;
    cfut__wait_node *nodes = cfut__malloc(m * sizeof *nodes);
    if (!nodes) {
        cfut__free(u);
        return CFUT_ENOMEM;
    }
    multi_wait mw = {.base.notify = multi_notify};
    size_t done0 = 0, failed0 = 0;
    for (size_t i = 0; i < m; i++) {
        if (!cfut__future_watch(u[i], &nodes[i], &mw.base)) {
            done0++;
            failed0 += failed_state(u[i], atomic_load_explicit(&u[i]->state,
                                                               memory_order_acquire) &
                                               CFUT__STATE_MASK);
        }
    }
    rc = CFUT_ETIMEDOUT;
    for (;;) {
        uint32_t seq = atomic_load_explicit(&mw.seq, memory_order_acquire);
        if (holds(when, done0 + atomic_load(&mw.done), failed0 + atomic_load(&mw.failed), m)) {
            rc = CFUT_OK;
            break;
        }
        if (!cfut__futex_wait(&mw.seq, seq, &d))
            break;
    }
    if (rc != CFUT_OK &&
        holds(when, done0 + atomic_load(&mw.done), failed0 + atomic_load(&mw.failed), m))
        rc = CFUT_OK; /* it came true as the deadline passed */
    for (size_t i = 0; i < m; i++)
        cfut__future_unwatch(u[i], &nodes[i]);
    cfut__free(nodes);
    cfut__free(u);
    return rc;
}

/* ---- as-completed -------------------------------------------------------- */

struct futures_iter {
    cfut__waiter base;
    cfut__lock lock;          /* guards ready, head, nready, efd_set */
    future_t **fs;            /* the distinct futures; we hold a reference
                                 to each until futures_iter_free() */
    cfut__wait_node *nodes;
    size_t m;
    future_t **ready;         /* ring of done futures not yet yielded */
    size_t head, nready;
    _Atomic size_t pending;   /* not yet yielded */
    _Atomic uint32_t seq;     /* futex word: bumped by every notify */
    int efd;                  /* -1 until futures_iter_fd() */
    bool efd_set;             /* efd's counter is non-zero */
    unsigned efd_forks;       /* cfut__forks when efd was made */
};

/* An eventfd made before a fork is shared with the other process: the side
 * that did not make it leaves its counter alone (and makes its own when
 * asked for one). */
static bool efd_ours(const futures_iter *it)
{
    return it->efd >= 0 && it->efd_forks == atomic_load_explicit(&cfut__forks,
                                                                 memory_order_relaxed);
}

static void efd_raise(futures_iter *it)
{
    if (efd_ours(it) && !it->efd_set) {
        uint64_t one = 1;
        ssize_t r = write(it->efd, &one, sizeof one);
        (void)r; /* cannot fail: the counter is 0 and the fd non-blocking */
        it->efd_set = true;
    }
}

static void efd_lower(futures_iter *it)
{
    if (efd_ours(it) && it->efd_set) {
        uint64_t v;
        ssize_t r = read(it->efd, &v, sizeof v);
        (void)r;
        it->efd_set = false;
    }
}

/* Under the iterator lock. */
static void push_ready(futures_iter *it, future_t *f)
{
    CFUT_ASSERT(it->nready < it->m);
    it->ready[(it->head + it->nready) % it->m] = f;
    it->nready++;
    efd_raise(it);
}

static void iter_notify(cfut__waiter *w, future_t *f, uint32_t state)
{
    futures_iter *it = (futures_iter *)w;
    cfut__lock_acquire(&it->lock);
    push_ready(it, f);
    cfut__lock_release(&it->lock);
    atomic_fetch_add_explicit(&it->seq, 1, memory_order_release);
    cfut__futex_wake(&it->seq, 1);
}

futures_iter *futures_as_completed(future_t *const *fs, size_t n)
{
    if (!fs && n)
        return NULL;
    futures_iter *it = cfut__calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->base.notify = iter_notify;
    it->efd = -1;
    if (distinct(fs, n, &it->fs, &it->m) != CFUT_OK) {
        cfut__free(it);
        return NULL;
    }
    it->nodes = cfut__malloc((it->m ? it->m : 1) * sizeof *it->nodes);
    it->ready = cfut__malloc((it->m ? it->m : 1) * sizeof *it->ready);
    if (!it->nodes || !it->ready) {
        cfut__free(it->nodes);
        cfut__free(it->ready);
        cfut__free(it->fs);
        cfut__free(it);
        return NULL;
    }
    atomic_init(&it->pending, it->m);
    for (size_t i = 0; i < it->m; i++) {
        future_retain(it->fs[i]);
        if (!cfut__future_watch(it->fs[i], &it->nodes[i], &it->base)) {
            cfut__lock_acquire(&it->lock);
            push_ready(it, it->fs[i]);
            cfut__lock_release(&it->lock);
        }
    }
    return it;
}

int futures_next(futures_iter *it, double timeout, future_t **out)
{
    cfut__deadline d;
    if (out)
        *out = NULL;
    if (!it || !out || cfut__deadline_from(timeout, &d) != CFUT_OK)
        return CFUT_EINVAL;
    for (;;) {
        uint32_t seq = atomic_load_explicit(&it->seq, memory_order_acquire);
        cfut__lock_acquire(&it->lock);
        if (it->nready > 0) {
            future_t *f = it->ready[it->head];
            it->head = (it->head + 1) % it->m;
            it->nready--;
            size_t left = atomic_fetch_sub(&it->pending, 1) - 1;
            if (it->nready == 0 && left > 0)
                efd_lower(it);
            cfut__lock_release(&it->lock);
            *out = future_retain(f); /* the caller's; we keep ours */
            return CFUT_OK;
        }
        bool finished = atomic_load(&it->pending) == 0;
        cfut__lock_release(&it->lock);
        if (finished)
            return CFUT_OK;
        if (timeout == 0 || !cfut__futex_wait(&it->seq, seq, &d)) {
            /* One last look, then report the timeout. */
            cfut__lock_acquire(&it->lock);
            bool ready = it->nready > 0;
            cfut__lock_release(&it->lock);
            if (!ready)
                return CFUT_ETIMEDOUT;
        }
    }
}

size_t futures_iter_pending(const futures_iter *it)
{
    return it ? atomic_load(&it->pending) : 0;
}

int futures_iter_fd(futures_iter *it)
{
    if (!it) {
        errno = EINVAL;
        return -1;
    }
    cfut__lock_acquire(&it->lock);
    if (it->efd >= 0 && !efd_ours(it)) { /* inherited across fork() */
        close(it->efd);
        it->efd = -1;
        it->efd_set = false;
    }
    if (it->efd < 0) {
        it->efd_forks = atomic_load(&cfut__forks);
        it->efd = cfut__eventfd();
        if (it->efd >= 0 && (it->nready > 0 || atomic_load(&it->pending) == 0))
            efd_raise(it);
    }
    int fd = it->efd;
    cfut__lock_release(&it->lock);
    return fd;
}

void futures_iter_free(futures_iter *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->m; i++)
        cfut__future_unwatch(it->fs[i], &it->nodes[i]);
    for (size_t i = 0; i < it->m; i++)
        future_release(it->fs[i]);
    cfut__free(it->nodes);
    cfut__free(it->ready);
    cfut__free(it->fs);
    if (it->efd >= 0)
        close(it->efd);
    cfut__free(it);
}
