/* peer_naive.c: the floor any pool should beat. The thread pool a C
 * programmer writes in an afternoon, measured by bench_threads's W1 and W2
 * (bench/peer.h):
 *
 *   - one FIFO of malloc'd task records under one mutex, with one condition
 *     variable that every submission signals;
 *   - N worker threads, made up front, that pop, run and complete a task;
 *   - per task a futex completion word: 0 pending, 1 done, 2 pending with a
 *     waiter asleep; the worker calls FUTEX_WAKE only in the last case, and
 *     a waiter sleeps at once (no spinning).
 *
 * No batching, no free lists, no spinning: what it costs is a malloc, a lock
 * round and a signal per submission, and a futex sleep and wake whenever the
 * caller waits for a result that is not there yet. */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "peer.h"

enum { PENDING, DONE, SLEEPER };

typedef struct task {
    struct task *next;
    int64_t arg, result;
    _Atomic uint32_t state;
} task;

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    task *head, *tail;
    int stopping;
    int nthreads;
    pthread_t threads[];
} pool;

static void futex(_Atomic uint32_t *word, int op, uint32_t val)
{
    syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void complete(task *t)
{
    if (atomic_exchange(&t->state, DONE) == SLEEPER)
        futex(&t->state, FUTEX_WAKE, INT_MAX);
}

static void wait_done(task *t)
{
    uint32_t s = atomic_load(&t->state);
    while (s != DONE) {
        if (s == SLEEPER || atomic_compare_exchange_weak(&t->state, &s, SLEEPER))
            futex(&t->state, FUTEX_WAIT, SLEEPER);
        s = atomic_load(&t->state);
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->work, &p->lock);
        task *t = p->head;
        if (!t) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);

        t->result = t->arg; /* the no-op task */
        complete(t);
    }
}

static task *submit(pool *p, int64_t arg)
{
    task *t = malloc(sizeof *t);
    if (!t)
        peer_die("out of memory");
    t->next = NULL;
    t->arg = arg;
    atomic_init(&t->state, PENDING);
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_mutex_unlock(&p->lock);
    pthread_cond_signal(&p->work);
    return t;
}

/* Waits for t, frees it and returns its result. */
static int64_t collect(task *t)
{
    wait_done(t);
    int64_t r = t->result;
    free(t);
    return r;
}

static void *naive_open(int threads)
{
    pool *p = calloc(1, sizeof *p + (size_t)threads * sizeof p->threads[0]);
    if (!p)
        peer_die("out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    for (; p->nthreads < threads; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            peer_die("pthread_create failed");
    return p;
}

static void naive_close(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_mutex_unlock(&p->lock);
    pthread_cond_broadcast(&p->work);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void naive_w1(void *arg, long tasks)
{
    pool *p = arg;
    task **ts = malloc((size_t)tasks * sizeof *ts);
    if (!ts)
        peer_die("out of memory");
    for (long i = 0; i < tasks; i++)
        ts[i] = submit(p, i);
    for (long i = 0; i < tasks; i++) {
        int64_t r = collect(ts[i]);
        if (r != i) {
            fprintf(stderr, "peer_naive: W1 task %ld returned %lld\n", i, (long long)r);
            exit(2);
        }
    }
    free(ts);
}

static int64_t naive_trip(void *p, int64_t v)
{
    return collect(submit(p, v));
}

int main(int argc, char **argv)
{
    static const peer naive = {
        .impl = "naive",
        .title = "naive pool (mutex + condvar queue, futex per task)",
        .version = "bench",
        .open = naive_open,
        .w1 = naive_w1,
        .trip = naive_trip,
        .close = naive_close,
    };
    return peer_main(argc, argv, &naive);
}
