/* peer_glib.c: GLib's GThreadPool, measured by bench_threads's W1 and W2
 * (bench/peer.h), used the way GLib documents it: g_thread_pool_new() with
 * max_threads = the size of cfut's default pool and exclusive = FALSE (the
 * default, shared threads started on demand), g_thread_pool_push() of a
 * pointer to the task's record, and a GAsyncQueue on which every task pushes
 * its record back once done, since GThreadPool itself returns no results.
 *
 * W1: 200,000 records pushed, then 200,000 popped from the result queue (in
 * completion order: GLib's pool has no per-task handle to wait on) and each
 * checked, and checked to come back once. W2: push one record, pop it. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#include "peer.h"

typedef struct record {
    int64_t arg, result;
    int seen;
} record;

typedef struct pool {
    GThreadPool *threads;
    GAsyncQueue *done;
} pool;

/* The no-op task. */
static void run(gpointer data, gpointer user)
{
    record *r = data;
    r->result = r->arg;
    g_async_queue_push(user, r);
}

static void *glib_open(int threads)
{
    pool *p = g_new0(pool, 1);
    GError *err = NULL;
    p->done = g_async_queue_new();
    p->threads = g_thread_pool_new(run, p->done, threads, FALSE, &err);
    if (!p->threads)
        peer_die(err ? err->message : "g_thread_pool_new failed");
    return p;
}

static void glib_close(void *arg)
{
    pool *p = arg;
    g_thread_pool_free(p->threads, FALSE, TRUE);
    g_async_queue_unref(p->done);
    g_free(p);
}

static void push(pool *p, record *r)
{
    GError *err = NULL;
    if (!g_thread_pool_push(p->threads, r, &err))
        peer_die(err ? err->message : "g_thread_pool_push failed");
}

static void glib_w1(void *arg, long tasks)
{
    pool *p = arg;
    record *rs = g_new0(record, tasks);
    for (long i = 0; i < tasks; i++) {
        rs[i].arg = i;
        push(p, &rs[i]);
    }
    for (long n = 0; n < tasks; n++) {
        record *r = g_async_queue_pop(p->done);
        long i = (long)(r - rs);
        if (r->result != i || r->seen++) {
            fprintf(stderr, "peer_glib: W1 task %ld returned %lld (seen %d)\n", i,
                    (long long)r->result, r->seen);
            exit(2);
        }
    }
    g_free(rs);
}

static int64_t glib_trip(void *arg, int64_t v)
{
    pool *p = arg;
    record r = {.arg = v, .result = -1};
    push(p, &r);
    if (g_async_queue_pop(p->done) != &r)
        peer_die("W2: another record came back");
    return r.result;
}

int main(int argc, char **argv)
{
#ifdef RUNNING_ON_VALGRIND
    /* GLib's pool threads are detached and outlive the pool (unused ones
     * wait for the next pool), so memcheck reports their thread-local
     * blocks as possibly lost: GLib's, not this program's. 77: skipped. */
    if (RUNNING_ON_VALGRIND) {
        fprintf(stderr, "peer_glib: skipped under valgrind (GLib's detached threads)\n");
        return 77;
    }
#endif
    static char version[32];
    snprintf(version, sizeof version, "%u.%u.%u", glib_major_version, glib_minor_version,
             glib_micro_version);
    static const peer glib = {
        .impl = "glib",
        .title = "GLib GThreadPool + GAsyncQueue",
        .version = version,
        .open = glib_open,
        .w1 = glib_w1,
        .trip = glib_trip,
        .close = glib_close,
    };
    return peer_main(argc, argv, &glib);
}
