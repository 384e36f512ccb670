/* ffi_call.c: call plain C functions on a pool through libffi, with no task
 * wrapper: pow and hypot from libm, strlen from libc, and two functions of
 * this program, one of which fills an output buffer ('o'). The same calls
 * run on a thread pool and on a process pool; then a bad signature shows
 * the error a caller gets. docs/signatures.md has the codes.
 * Exits 0 when every result is the expected one. */
#include <cfut.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Takes a buffer ('y' passes a pointer and a length). */
static uint32_t adler32(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

/* Writes into a buffer the caller asked for ('o': a pointer and a size). */
static int describe(char *buf, size_t size, int id, double x)
{
    return snprintf(buf, size, "item %d: %.3f", id, x);
}

static int run(executor_t *ex, const char *name)
{
    int bad = 0;
    double y = 0;

    future_t *f = executor_call(ex, (cfut_fn)pow, "d:dd", 2.0, 10.0);
    if (future_result_copy(f, -1, &y, sizeof y) == CFUT_OK)
        printf("%s: pow(2, 10) = %g\n", name, y);
    bad += y != 1024.0;
    future_release(f);

    /* callv: args[k] points at argument k, in its own C type. */
    double a = 3, b = 4;
    y = 0;
    const void *args[] = {&a, &b};
    f = executor_callv(ex, (cfut_fn)hypot, "d:dd", args);
    if (future_result_copy(f, -1, &y, sizeof y) == CFUT_OK)
        printf("%s: hypot(3, 4) = %g\n", name, y);
    bad += y != 5.0;
    future_release(f);

    size_t len = 0; /* the string is copied: the worker gets its own */
    f = executor_call(ex, (cfut_fn)strlen, "z:s", "concurrent.futures");
    if (future_result_copy(f, -1, &len, sizeof len) == CFUT_OK)
        printf("%s: strlen(\"concurrent.futures\") = %zu\n", name, len);
    bad += len != 18;
    future_release(f);

    const char text[] = "Wikipedia";
    uint32_t sum = 0; /* 'I': unsigned int; 'y': pointer + length, copied */
    f = executor_call(ex, (cfut_fn)adler32, "I:y", text, strlen(text));
    if (future_result_copy(f, -1, &sum, sizeof sum) == CFUT_OK)
        printf("%s: adler32(\"%s\") = 0x%08x\n", name, text, (unsigned)sum);
    bad += sum != 0x11e60398;
    future_release(f);

    /* The result: the int return value, then the 32-byte buffer. */
    struct { int n; char text[32]; } out = {0};
    f = executor_call(ex, (cfut_fn)describe, "i:oid", sizeof out.text, 7, 2.5);
    if (future_result_copy(f, -1, &out, sizeof out) == CFUT_OK)
        printf("%s: describe() = %d, \"%s\"\n", name, out.n, out.text);
    bad += strcmp(out.text, "item 7: 2.500") != 0;
    future_release(f);
    return bad;
}

int main(void)
{
    int bad = 0;
    executor_t *ex;
    if (executor_new(&ex, EXECUTOR_THREADS, NULL) != CFUT_OK)
        return 1;
    bad += run(ex, "threads");
    executor_free(ex);

    if (executor_new(&ex, EXECUTOR_PROCESSES, NULL) != CFUT_OK)
        return 1;
    bad += run(ex, "processes");

    /* A bad signature: a done future, CFUT_EINVAL, nothing runs. */
    future_t *f = executor_call(ex, (cfut_fn)pow, "d:dx", 2.0, 10.0);
    printf("bad signature: %s: %s\n", cfut_status_name(future_status(f)),
           future_error_message(f));
    bad += future_status(f) != CFUT_EINVAL;
    future_release(f);
    executor_free(ex);
    return bad != 0;
}
