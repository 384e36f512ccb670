/* mpi_map.c: map a function over an array on the ranks of an MPI job.
 *
 *     mpiexec -n 3 ./examples/mpi_map [n]          default n: 4000
 *
 * Every rank runs this same program, and every rank makes the same
 * executor_new(EXECUTOR_MPI) call (it is collective, like MPI_Init). Rank 0
 * gets the executor and maps a task over an array of n items with
 * executor_map(); the other ranks serve the chunks inside executor_new()
 * and return from it, with ex == NULL, once rank 0 has freed the executor.
 * cfut initialised MPI (the program did not), so it finalises it at exit.
 * See docs/mpi.md.
 *
 * Item i stands for the 1000 numbers from 1000 i + 1 to 1000 (i + 1): its
 * task finds the one among them whose Collatz sequence takes the most steps
 * to reach 1, and says which process ran it. Rank 0 prints the longest
 * chain overall, how the items were shared between the serving processes,
 * the time, and checks every result against a plain loop of its own. */
#include <cfut.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 1000 }; /* numbers per item */

/* What one item's task gives back. */
struct longest {
    uint64_t start;  /* the number with the longest chain in the block */
    uint32_t steps;  /* its chain's length */
    int32_t pid;     /* the serving process that computed it */
};

static uint32_t collatz(uint64_t x)
{
    uint32_t steps = 0;
    while (x != 1) {
        x = x % 2 ? 3 * x + 1 : x / 2;
        steps++;
    }
    return steps;
}

/* The longest chain among the numbers of block b. */
static struct longest longest_in(uint64_t b)
{
    struct longest best = {b * BLOCK + 1, 0, 0};
    for (uint64_t x = b * BLOCK + 1; x <= (b + 1) * BLOCK; x++) {
        uint32_t s = collatz(x);
        if (s > best.steps) {
            best.start = x;
            best.steps = s;
        }
    }
    return best;
}

/* Runs on a serving rank: the argument is one item, a block number. The
 * function travels as an offset in this program, which every rank runs. */
static int longest_task(cfut_task *t, const void *arg, size_t len)
{
    uint64_t b;
    if (len != sizeof b)
        return cfut_fail(t, 1, "expected a uint64_t, got %zu bytes", len);
    memcpy(&b, arg, sizeof b);
    struct longest l = longest_in(b);
    l.pid = (int32_t)getpid();
    return cfut_return(t, &l, sizeof l);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000;
    if (n == 0) {
        fprintf(stderr, "usage: mpiexec -n 3 %s [n]\n", argv[0]);
        return 2;
    }

    /* Every rank: rank 0 returns with the executor, the others return
     * with NULL when rank 0 is done. */
    executor_t *ex;
    int rc = executor_new(&ex, EXECUTOR_MPI, NULL);
    if (rc != CFUT_OK) {
        fprintf(stderr, "mpi_map: executor_new: %s\n%s", cfut_strerror(rc),
                rc == CFUT_EINVAL ? "  (run it with at least 2 ranks: mpiexec -n 3 mpi_map)\n"
                                  : "");
        return 1;
    }
    if (!ex)
        return 0; /* a serving rank: its part is done */

    executor_stats st;
    executor_get_stats(ex, &st);
    uint64_t *items = malloc(n * sizeof *items);
    struct longest *out = malloc(n * sizeof *out);
    int *status = malloc(n * sizeof *status);
    if (!items || !out || !status) {
        fprintf(stderr, "mpi_map: out of memory\n");
        executor_free(ex); /* lets the serving ranks go */
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = i;

    double t0 = now();
    rc = executor_map(ex, longest_task, items, n, sizeof *items, out, sizeof *out, status,
                      NULL);
    double t1 = now();
    executor_free(ex); /* the serving ranks return from executor_new now */

    if (rc != CFUT_OK) {
        for (size_t i = 0; i < n; i++)
            if (status[i] != CFUT_OK) {
                fprintf(stderr, "mpi_map: item %zu: %s\n", i, cfut_status_name(status[i]));
                break;
            }
        return 1;
    }

    /* The summary, and the check against a plain loop here. */
    size_t best = 0, wrong = 0;
    int32_t pids[64];
    size_t counts[64], npids = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i].steps > out[best].steps)
            best = i;
        size_t k = 0;
        while (k < npids && pids[k] != out[i].pid)
            k++;
        if (k == npids && npids < 64) {
            pids[npids] = out[i].pid;
            counts[npids++] = 0;
        }
        if (k < npids)
            counts[k]++;
    }
    double t2 = now();
    for (size_t i = 0; i < n; i++) {
        struct longest l = longest_in(items[i]);
        wrong += out[i].steps != l.steps || out[i].start != l.start;
    }
    double t3 = now();

    printf("mapped %zu items (the numbers 1 to %zu) on %zu serving ranks in %.3f s; "
           "the plain loop here: %.3f s\n", n, n * BLOCK, st.workers_started, t1 - t0, t3 - t2);
    printf("longest Collatz chain: %" PRIu32 " steps, from %" PRIu64 "\n", out[best].steps,
           out[best].start);
    for (size_t k = 0; k < npids; k++)
        printf("  process %" PRId32 " computed %zu items (%.1f%%)\n", pids[k], counts[k],
               100.0 * (double)counts[k] / (double)n);
    printf("%s\n", wrong ? "MISMATCH against the plain loop" : "every result checked");
    free(items);
    free(out);
    free(status);
    return wrong ? 1 : 0;
}
