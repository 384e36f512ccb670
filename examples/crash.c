/* crash.c: native code that crashes or hangs, run on the process pool.
 *
 * parse_value() stands for code you cannot fix or trust, say a legacy parser.
 * It has two bugs: a line without '=' makes it read through a NULL pointer
 * (the process dies with SIGSEGV), and a value with a non-digit makes it spin
 * for ever. On EXECUTOR_PROCESSES each crash fails only the future of the
 * input that caused it (CFUT_EWORKER), task_timeout stops the hang
 * (CFUT_EDEADLINE), the pool replaces the lost workers, and every other
 * input gets its result. The program exits 0 when that is what happened. */
#include <cfut.h>
#include <stdio.h>
#include <string.h>

/* "key=digits" -> the number. The untrusted code. */
static long parse_value(const char *line)
{
    const char *p = strchr(line, '=') + 1; /* bug 1: no '=' means NULL + 1 */
    long v = 0;
    for (;;) {
        char c = *p;
        if (c == '\0')
            return v;
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            p++;
        } /* bug 2: any other character is never consumed */
    }
}

/* The task: the argument is the line with its NUL, the result a long. */
static int parse_task(cfut_task *t, const void *arg, size_t len)
{
    long v = parse_value(arg);
    return cfut_return(t, &v, sizeof v);
}

int main(void)
{
    const char *lines[] = {"a=1", "b=22", "no equals sign", "c=333", "d=4x4", "e=55555"};
    const int want[] = {CFUT_OK, CFUT_OK, CFUT_EWORKER, CFUT_OK, CFUT_EDEADLINE, CFUT_OK};
    enum { N = sizeof lines / sizeof lines[0] };

    executor_options opts = {.max_workers = 2, .task_timeout = 0.5};
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_PROCESSES, &opts) != CFUT_OK)
        return 1;
    future_t *fs[N];
    for (int i = 0; i < N; i++) /* the line is copied to the worker */
        fs[i] = executor_submit(ex, parse_task, lines[i], strlen(lines[i]) + 1);

    int unexpected = 0;
    for (int i = 0; i < N; i++) {
        long v;
        int st = future_result_copy(fs[i], -1, &v, sizeof v);
        if (st == CFUT_OK)
            printf("%-16s -> %ld\n", lines[i], v);
        else
            printf("%-16s -> %s: %s\n", lines[i], cfut_status_name(st),
                   future_error_message(fs[i]));
        unexpected += st != want[i];
        future_release(fs[i]);
    }

    executor_stats s;
    executor_get_stats(ex, &s);
    printf("%zu completed, %zu failed, %zu workers lost and replaced\n", s.completed,
           s.failed, s.workers_lost);
    unexpected += s.workers_lost != 2;
    executor_free(ex);
    return unexpected ? 1 : 0;
}
