/* cfut/future.h: futures, waiting on many, and as-completed iteration.
 *
 * A future is a reference-counted, thread-safe, one-shot cell holding the
 * outcome of a piece of work: result bytes, or a failure status with the
 * task's own error code and message. Its states are
 *
 *     PENDING -> RUNNING -> FINISHED        (finished with a result or error)
 *     PENDING -> CANCELLED
 *
 * "Done" means FINISHED or CANCELLED. Executors hand out futures from
 * executor_submit(); programs can also make and complete their own with
 * future_new() (Python's Future() + set_result()).
 *
 * Timeouts are seconds as a double: negative waits forever, 0 polls.
 *
 * Each comment ends with a trailer: thread-safety, whether the call blocks,
 * who runs callbacks, and ownership (owned: you release it; borrowed: valid
 * while you hold a reference; copied: we copied your bytes). */
#ifndef CFUT_FUTURE_H
#define CFUT_FUTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfut/export.h"

CFUT_BEGIN_DECLS

typedef struct future future_t;
typedef void (*future_callback)(future_t *f, void *user);

/* Takes one more reference to `f` and returns `f` (NULL gives NULL).
 * Thread-safe; never blocks. Ownership: the returned reference is owned. */
CFUT_API future_t *future_retain(future_t *f);
/* Drops one reference; the last one frees the future. NULL is fine.
 * Thread-safe; never blocks. */
CFUT_API void future_release(future_t *f);

/* True once the future is finished or cancelled. Thread-safe; never blocks. */
CFUT_API bool future_done(const future_t *f);
/* True while a task is running it. Thread-safe; never blocks. */
CFUT_API bool future_running(const future_t *f);
/* True if it was cancelled. Thread-safe; never blocks. */
CFUT_API bool future_cancelled(const future_t *f);
/* Cancels a PENDING future: it becomes CANCELLED, its task never runs, every
 * waiter wakes and its done callbacks run in this thread before the call
 * returns. Returns true if the future is now cancelled (also when it already
 * was), false if it is running or finished. Cancelling a running executor
 * task fails but asks it to stop: cfut_should_stop() turns true inside it.
 * NULL gives false. Thread-safe; does not block (runs callbacks). */
CFUT_API bool future_cancel(future_t *f);

/* Waits until the future is done. CFUT_OK once done (cancelled included),
 * CFUT_ETIMEDOUT if not done by the deadline (the future is unharmed),
 * CFUT_EINVAL for NULL. Thread-safe; blocks up to `timeout`. */
CFUT_API int future_wait(future_t *f, double timeout);
/* Waits like future_wait(), then: CFUT_OK with *data and *len set to the result
 * (borrowed: owned by the future, valid while you hold a reference; *data is
 * never NULL, even for an empty result, and aligned like malloc's memory).
 * Otherwise the future's failure status (CFUT_ETASK, CFUT_ECANCELLED, ...) or
 * CFUT_ETIMEDOUT, with *data = NULL and *len = 0. `data` and `len` may be
 * NULL. Thread-safe; blocks. */
CFUT_API int future_result(future_t *f, double timeout, const void **data, size_t *len);
/* Like future_result(), then copies a result of exactly `size` bytes into
 * `out`; a result of another size gives CFUT_ESERIALIZE and leaves `out`
 * untouched. Thread-safe; blocks. Ownership: copied into `out`. */
CFUT_API int future_result_copy(future_t *f, double timeout, void *out, size_t size);
/* The status future_result(f, 0, NULL, NULL) would return: CFUT_OK,
 * a failure status, or CFUT_ETIMEDOUT while not done. Never blocks. */
CFUT_API int future_status(const future_t *f);
/* The task's own error code (what it returned or gave cfut_fail()); 0 when
 * the future succeeded or is not done. Never blocks. */
CFUT_API int future_error_code(const future_t *f);
/* The failure's message; NULL when the future succeeded or is not done.
 * Borrowed: valid while you hold a reference. Never blocks. */
CFUT_API const char *future_error_message(const future_t *f);

/* Runs cb(f, user) once the future is done: in the thread that completes it,
 * with no cfut lock held, after every waiter has been woken; or at once in
 * this thread if the future is already done. Callbacks registered before
 * completion run in registration order, all before the completing call
 * returns. A callback may release its own reference to `f`; the future stays
 * valid during the call. CFUT_OK: cb will run exactly once. On failure
 * (CFUT_EINVAL, CFUT_ENOMEM) cb never runs. Thread-safe. */
CFUT_API int future_add_done_callback(future_t *f, future_callback cb, void *user);

/* A new PENDING future that the program completes itself.
 * NULL only when out of memory. Ownership: owned (one reference). */
CFUT_API CFUT_OWNED future_t *future_new(void);
/* Python's set_running_or_notify_cancel(): a PENDING future becomes RUNNING
 * and true is returned; a CANCELLED one gives false. Any other state (or a
 * future owned by an executor, or NULL) is misuse and gives false.
 * Thread-safe; never blocks. */
CFUT_API bool future_set_running_or_notify_cancel(future_t *f);
/* Finishes the future with a result: the `len` bytes at `data` are copied.
 * CFUT_ESTATE if the future is already done (the first outcome is kept),
 * CFUT_EINVAL for NULL `f`, NULL `data` with len > 0, or a future owned by
 * an executor; CFUT_ENOMEM. Wakes waiters, then runs the done callbacks in
 * this thread before returning. Thread-safe. Ownership: copied. */
CFUT_API int future_set_result(future_t *f, const void *data, size_t len);
/* Finishes the future as failed: status CFUT_ETASK, error code `code` (0 is
 * still a failure) and the printf-formatted message (fmt may be NULL: no
 * message). Same errors and callback rules as future_set_result(). */
CFUT_API int future_set_error(future_t *f, int code, const char *fmt, ...) CFUT_PRINTF(3, 4);

typedef enum {
    FUTURES_FIRST_COMPLETED, /* any future is done */
    FUTURES_FIRST_EXCEPTION, /* any future finished with a failure (a cancel
                                is not one), or all are done */
    FUTURES_ALL_COMPLETED    /* every future is done */
} futures_return_when;

/* Waits until the condition holds over fs[0..n). CFUT_OK when it does,
 * CFUT_ETIMEDOUT if not by the deadline (no future is harmed), CFUT_EINVAL
 * for NULL fs with n > 0, a NULL element or an unknown `when`, CFUT_ENOMEM.
 * Duplicates count once; n = 0 holds at once. Read future_done() on each to
 * partition them into done and not done. Cancelling a future wakes this.
 * Thread-safe; blocks up to `timeout`. Borrowed: fs is only read. */
CFUT_API int futures_wait(future_t *const *fs, size_t n, double timeout,
                          futures_return_when when);

typedef struct futures_iter futures_iter;

/* An iterator yielding the futures of fs[0..n) as they become done (Python's
 * as_completed): those already done first, then each as it completes, each
 * distinct future once. It takes its own reference to each future. NULL on
 * bad input (NULL fs with n > 0, a NULL element) or no memory.
 * Thread-safe to create. Ownership: owned; free with futures_iter_free(). */
CFUT_API CFUT_OWNED futures_iter *futures_as_completed(future_t *const *fs, size_t n);
/* CFUT_OK with *out = the next done future (owned: release it), or
 * *out = NULL once every future has been yielded; CFUT_ETIMEDOUT with
 * *out = NULL if none is done in time (the iterator stays usable);
 * CFUT_EINVAL for NULL arguments. Blocks up to `timeout`. The iterator is
 * single-consumer: call it from one thread at a time. */
CFUT_API int futures_next(futures_iter *it, double timeout, future_t **out);
/* How many distinct futures have not been yielded yet. Never blocks. */
CFUT_API size_t futures_iter_pending(const futures_iter *it);
/* A descriptor that is readable exactly when futures_next() would not
 * block (a future is ready, or all have been yielded), for poll() or an
 * event loop. Do not read or close it; it lives until futures_iter_free().
 * -1 with errno set if it cannot be made. */
CFUT_API int futures_iter_fd(futures_iter *it);
/* Frees the iterator and the references it still holds. NULL is fine.
 * Must not race another call on the same iterator. */
CFUT_API void futures_iter_free(futures_iter *it);

CFUT_END_DECLS

#endif /* CFUT_FUTURE_H */
