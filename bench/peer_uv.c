/* peer_uv.c: libuv's thread pool, measured by bench_threads's W1 and W2
 * (bench/peer.h), used the way libuv documents it: uv_queue_work() on a
 * loop, the work callback on one of libuv's threads, the after-work callback
 * back on the loop's thread (where the result is collected and checked),
 * uv_run() to drive it. The pool is libuv's global one, sized by
 * UV_THREADPOOL_SIZE, which is set to the size of cfut's default pool before
 * the first uv_queue_work() starts it (libuv reads it once per process).
 *
 * W1: 200,000 uv_queue_work() calls, then one uv_run(UV_RUN_DEFAULT), which
 * returns once every after-work callback has run. W2: one uv_queue_work()
 * and one uv_run(). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "peer.h"

typedef struct record {
    uv_work_t req;
    int64_t arg, result;
    int seen;
} record;

typedef struct pool {
    uv_loop_t loop;
    long collected;
} pool;

/* The no-op task. */
static void work(uv_work_t *req)
{
    record *r = (record *)req;
    r->result = r->arg;
}

static void after_work(uv_work_t *req, int status)
{
    record *r = (record *)req;
    pool *p = req->loop->data;
    if (status != 0 || r->result != r->arg || r->seen++) {
        fprintf(stderr, "peer_uv: task %lld returned %lld (status %d, seen %d)\n",
                (long long)r->arg, (long long)r->result, status, r->seen);
        exit(2);
    }
    p->collected++;
}

static void *uv_open(int threads)
{
    static int sized;
    if (!sized) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        setenv("UV_THREADPOOL_SIZE", n, 1);
        sized = 1;
    }
    pool *p = calloc(1, sizeof *p);
    if (!p || uv_loop_init(&p->loop) != 0)
        peer_die("uv_loop_init failed");
    p->loop.data = p;
    return p;
}

static void uv_close_pool(void *arg)
{
    pool *p = arg;
    if (uv_loop_close(&p->loop) != 0)
        peer_die("uv_loop_close: the loop is busy");
    free(p);
}

static void queue(pool *p, record *r)
{
    int e = uv_queue_work(&p->loop, &r->req, work, after_work);
    if (e != 0)
        peer_die(uv_strerror(e));
}

static void uv_w1(void *arg, long tasks)
{
    pool *p = arg;
    record *rs = calloc((size_t)tasks, sizeof *rs);
    if (!rs)
        peer_die("out of memory");
    p->collected = 0;
    for (long i = 0; i < tasks; i++) {
        rs[i].arg = i;
        queue(p, &rs[i]);
    }
    uv_run(&p->loop, UV_RUN_DEFAULT);
    if (p->collected != tasks) {
        fprintf(stderr, "peer_uv: W1 collected %ld of %ld\n", p->collected, tasks);
        exit(2);
    }
    free(rs);
}

static int64_t uv_trip(void *arg, int64_t v)
{
    pool *p = arg;
    record r = {.arg = v, .result = -1};
    queue(p, &r);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return r.result;
}

int main(int argc, char **argv)
{
    static const peer uv = {
        .impl = "libuv",
        .title = "libuv uv_queue_work",
        .open = uv_open,
        .w1 = uv_w1,
        .trip = uv_trip,
        .close = uv_close_pool,
    };
    peer p = uv;
    p.version = uv_version_string();
    return peer_main(argc, argv, &p);
}
