/* cfut/call.h: call any C function through libffi, on any executor.
 *
 *     double hyp(double x, int n);
 *     future_t *f = executor_call(ex, (cfut_fn)hyp, "d:di", 3.0, 4);
 *     double y;
 *     future_result_copy(f, -1, &y, sizeof y);
 *
 * The signature is the return type's code, ':', then one code per argument
 * (docs/signatures.md has the table):
 *
 *     v void (return only)      c/C char / unsigned char   h/H short / unsigned
 *     i/I int / unsigned        l/L long / unsigned long   q/Q int64_t / uint64_t
 *     z size_t                  f float                    d double
 *     s NUL-terminated string (copied; as a return: the string with its NUL)
 *     p pointer (thread pools only: an address means nothing elsewhere)
 *     y a (const void *, size_t) buffer pair (copied): two C arguments
 *     o an output buffer: the caller gives its size; the function receives
 *       (void *buf, size_t size), zeroed, and its bytes come back after the
 *       return value's: two C arguments
 *
 * The future's result is the return value's bytes (a double is 8 bytes, an
 * int 4), followed by each 'o' buffer in order. */
#ifndef CFUT_CALL_H
#define CFUT_CALL_H

#include <stddef.h>

#include "cfut/executor.h"
#include "cfut/export.h"

CFUT_BEGIN_DECLS

/* Any function pointer; cast yours to it: (cfut_fn)sqrt. */
typedef void (*cfut_fn)(void);

/* A buffer for the 'y' code in executor_callv() and executor_map_call(). */
typedef struct cfut_buffer {
    const void *data;
    size_t len;
} cfut_buffer;

/* Calls fn with the variadic arguments described by sig (read with the
 * usual promotions: char and short as int, float as double; 'y' takes two
 * arguments, a pointer and a size_t; 'o' one size_t). Never NULL: a bad
 * signature, too many arguments (more than 32), a code the backend cannot
 * carry ('p' on processes) or fn not being code in a loaded object (process
 * pools) gives a done future with CFUT_EINVAL and a message naming the bad
 * character and its position. Values are copied at the call.
 * Thread-safe. Ownership: the future is owned; strings and buffers copied. */
CFUT_API CFUT_OWNED future_t *executor_call(executor_t *ex, cfut_fn fn, const char *sig, ...);
/* The same, with args[k] pointing at argument k's value (its C type; a
 * cfut_buffer for 'y'; a size_t for 'o'). */
CFUT_API CFUT_OWNED future_t *executor_callv(executor_t *ex, cfut_fn fn, const char *sig,
                                             const void *const *args);

CFUT_END_DECLS

#endif /* CFUT_CALL_H */
