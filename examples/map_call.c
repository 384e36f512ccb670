/* map_call.c: a libm function over an array of doubles, on a thread pool
 * and on a process pool, with executor_map_call(): no task wrapper, the
 * library calls the C function itself, in chunks (docs/map.md).
 *
 *     map_call [n [sqrt|cbrt|erf|tgamma]]     default: 10000000 sqrt
 *
 * Prints the time of the plain loop and of each pool, and checks that the
 * pools computed exactly what the loop did. A progress bar goes to stderr
 * when stderr is a terminal.
 *
 * Each item costs the pool some tens of nanoseconds (the call through
 * libffi, the copy to the worker and back), so a function as cheap as sqrt
 * runs faster in the plain loop: mapping pays off for functions that cost
 * hundreds of nanoseconds or more per call, on a machine with idle cores,
 * or to keep a crash-prone function away in worker processes. */
#include <cfut.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Called on this thread, inside executor_map_call(), at most every 50 ms
 * and once at the end with done == total. */
static void bar(size_t done, size_t total, void *user)
{
    size_t pct = total ? 100 * done / total : 100;
    fprintf(stderr, "\r%-10s [%-40.*s] %3zu%%", *(const char **)user, (int)(pct * 40 / 100),
            "########################################", pct);
    if (done == total)
        fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    static const struct { const char *name; double (*fn)(double); } fns[] = {
        {"sqrt", sqrt}, {"cbrt", cbrt}, {"erf", erf}, {"tgamma", tgamma}};
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
    size_t k = 0;
    while (argc > 2 && k < 4 && strcmp(fns[k].name, argv[2]) != 0)
        k++;
    if (k == 4 || n == 0) {
        fprintf(stderr, "usage: map_call [n [sqrt|cbrt|erf|tgamma]]\n");
        return 2;
    }
    double (*fn)(double) = fns[k].fn;

    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *x), *y = malloc(n * sizeof *x);
    if (!x || !want || !y)
        return 1;
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5 + 10.0 * (double)i / (double)n;
    memset(want, 0, n * sizeof *want); /* touch the pages before timing */
    memset(y, 0, n * sizeof *y);

    double t0 = now();
    for (size_t i = 0; i < n; i++)
        want[i] = fn(x[i]);
    printf("%s over %zu doubles\n  %-10s %8.3f s\n", fns[k].name, n, "loop", now() - t0);

    int bad = 0;
    const executor_kind kinds[] = {EXECUTOR_THREADS, EXECUTOR_PROCESSES};
    const char *names[] = {"threads", "processes"};
    for (int j = 0; j < 2; j++) {
        executor_t *ex;
        if (executor_new(&ex, kinds[j], NULL) != CFUT_OK)
            return 1;
        cfut_map_options opts = {0}; /* chunksize 0: chosen from n and the workers */
        if (isatty(STDERR_FILENO)) {
            opts.progress = bar;
            opts.progress_user = &names[j];
        }
        const void *in[] = {x}; /* in[k]: a packed array of argument k */
        t0 = now();
        int st = executor_map_call(ex, (cfut_fn)fn, "d:d", n, y, in, NULL, &opts);
        double t = now() - t0;
        executor_free(ex);
        printf("  %-10s %8.3f s  %s\n", names[j], t, cfut_status_name(st));
        bad += st != CFUT_OK || memcmp(y, want, n * sizeof *y) != 0;
        memset(y, 0, n * sizeof *y);
    }
    free(x);
    free(want);
    free(y);
    return bad != 0;
}
