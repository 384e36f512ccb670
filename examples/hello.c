/* hello.c: the example in README.md, built and run by `meson test`. */
#include <cfut.h>
#include <stdio.h>

static int square(cfut_task *t, const void *arg, size_t len)
{
    int x = *(const int *)arg;
    if (x == 3)
        return cfut_fail(t, 42, "refusing to square %d", x);
    int y = x * x;
    return cfut_return(t, &y, sizeof y);
}

int main(void)
{
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, NULL) != CFUT_OK)
        return 1;
    future_t *fs[5];
    for (int i = 0; i < 5; i++)
        fs[i] = executor_submit(ex, square, &i, sizeof i); /* i is copied */
    for (int i = 0; i < 5; i++) {
        int y;
        if (future_result_copy(fs[i], -1, &y, sizeof y) == CFUT_OK)
            printf("square(%d) = %d\n", i, y);
        else
            printf("square(%d) failed: %s (code %d)\n", i,
                   future_error_message(fs[i]), future_error_code(fs[i]));
        future_release(fs[i]);
    }
    executor_free(ex);
    return 0;
}
