/* bench/common.c: see common.h. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int echo(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

uint32_t chain(uint32_t h, uint64_t steps)
{
    for (uint64_t i = 0; i < steps; i++) {
        h ^= h >> 13;
        h = h * 0x5bd1e995u + (uint32_t)i;
    }
    return h;
}

/* ---- W3's ceiling -------------------------------------------------------- */

struct share {
    long first, items, stride;
    uint64_t steps;
    uint32_t *out; /* out[i] = chain(i + 1, steps) for i in this share */
};

static void compute_share(const struct share *s)
{
    for (long i = s->first; i < s->items; i += s->stride)
        s->out[i] = chain((uint32_t)i + 1, s->steps);
}

static void *share_thread(void *arg)
{
    compute_share(arg);
    return NULL;
}

static void bare_die(const char *what)
{
    fprintf(stderr, "bench: W3 ceiling: %s: %s\n", what, strerror(errno));
    exit(2);
}

double chain_bare_threads(long items, int workers, bool caller_computes, uint64_t steps,
                          uint32_t *out)
{
    int first = caller_computes ? 1 : 0;
    pthread_t *tids = malloc((size_t)workers * sizeof *tids);
    struct share *sh = malloc((size_t)workers * sizeof *sh);
    if (!tids || !sh)
        bare_die("malloc");
    double t0 = now();
    for (int k = 0; k < workers; k++)
        sh[k] = (struct share){k, items, workers, steps, out};
    for (int k = first; k < workers; k++) {
        errno = pthread_create(&tids[k], NULL, share_thread, &sh[k]);
        if (errno)
            bare_die("pthread_create");
    }
    if (caller_computes)
        compute_share(&sh[0]);
    for (int k = first; k < workers; k++)
        pthread_join(tids[k], NULL);
    double t1 = now();
    free(tids);
    free(sh);
    return t1 - t0;
}

/* Each child writes its share of out[] to the pipe as (index, hash) pairs. */
double chain_bare_processes(long items, int workers, bool caller_computes, uint64_t steps,
                            uint32_t *out)
{
    int first = caller_computes ? 1 : 0;
    int fds[2];
    pid_t *pids = malloc((size_t)workers * sizeof *pids);
    if (!pids)
        bare_die("malloc");
    if (pipe(fds) != 0)
        bare_die("pipe");
    double t0 = now();
    for (int k = first; k < workers; k++) {
        pid_t pid = pids[k] = fork();
        if (pid < 0)
            bare_die("fork");
        if (pid == 0) {
            free(pids); /* the parent's: leak checkers see the child's heap too */
            close(fds[0]);
            struct share s = {k, items, workers, steps, out};
            compute_share(&s);
            for (long i = k; i < items; i += workers) {
                uint32_t pair[2] = {(uint32_t)i, out[i]};
                if (write(fds[1], pair, sizeof pair) != (ssize_t)sizeof pair)
                    _exit(3);
            }
            _exit(0);
        }
    }
    close(fds[1]);
    long got = 0;
    if (caller_computes) {
        struct share mine = {0, items, workers, steps, out};
        compute_share(&mine);
        got = (items + workers - 1) / workers;
    }
    /* A pipe's writes of 8 bytes are atomic, so each read is one pair. */
    for (;;) {
        uint32_t pair[2];
        ssize_t n = read(fds[0], pair, sizeof pair);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof pair || pair[0] >= (uint32_t)items)
            break; /* end of file (every child done), or nonsense: counted below */
        out[pair[0]] = pair[1];
        got++;
    }
    close(fds[0]);
    int ok = got == items;
    for (int k = first; k < workers; k++) {
        int ws; /* by pid: a pool's forkserver is a child of this process too */
        if (waitpid(pids[k], &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            ok = 0;
    }
    double t1 = now();
    free(pids);
    if (!ok) {
        fprintf(stderr, "bench: W3 ceiling: a child failed (%ld of %ld items)\n", got, items);
        exit(2);
    }
    return t1 - t0;
}

void w3_without_pool(struct w3_figures *w, bool processes, long items, int workers,
                     uint64_t steps, const uint32_t *want)
{
    double (*run)(long, int, bool, uint64_t, uint32_t *) =
        processes ? chain_bare_processes : chain_bare_threads;
    uint32_t *got = calloc((size_t)items, sizeof *got);
    if (!got)
        bare_die("malloc");
    for (int caller_computes = 1; caller_computes >= 0; caller_computes--) {
        memset(got, 0, (size_t)items * sizeof *got);
        double s = run(items, workers, caller_computes, steps, got);
        *(caller_computes ? &w->ceiling_s : &w->shape_s) = s;
        for (long i = 0; i < items; i++)
            if (got[i] != want[i]) {
                fprintf(stderr, "bench: W3 without a pool: item %ld: %" PRIu32 " vs %" PRIu32
                        "\n", i, got[i], want[i]);
                exit(2);
            }
    }
    free(got);
    w->speedup = w->seq_s / w->pool_s;
    w->ceiling_speedup = w->seq_s / w->ceiling_s;
    w->shape_speedup = w->seq_s / w->shape_s;
}

void w3_print_json(const struct w3_figures *w)
{
    printf("\"w3_seq_s\": %.6f, \"w3_pool_s\": %.6f, \"w3_speedup\": %.4f, "
           "\"w3_ceiling_s\": %.6f, \"w3_shape_s\": %.6f, \"w3_checksum\": %" PRIu32,
           w->seq_s, w->pool_s, w->speedup, w->ceiling_s, w->shape_s, w->checksum);
}
