/* cfut/task.h: what a task is, and what it may call while it runs.
 *
 * A task is a function `int fn(cfut_task *t, const void *arg, size_t len)`.
 * It reads its argument (borrowed: valid until it returns), gives its result
 * with cfut_return() and returns 0; or it fails by returning non-zero or by
 * calling cfut_fail(). Long tasks poll cfut_should_stop(). */
#ifndef CFUT_TASK_H
#define CFUT_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include "cfut/export.h"

CFUT_BEGIN_DECLS

typedef struct cfut_task cfut_task;

/* Returns 0 on success. A non-zero return fails the future with status
 * CFUT_ETASK and that error code, unless cfut_fail() already said more. */
typedef int (*cfut_task_fn)(cfut_task *task, const void *arg, size_t arg_len);

/* Sets the task's result to a copy of the `len` bytes at `data` (a later call
 * replaces an earlier one; an empty result is fine). CFUT_OK; CFUT_EINVAL for
 * a NULL task or NULL data with len > 0; CFUT_ENOMEM. Call it only from the
 * thread running the task. Ownership: copied. */
CFUT_API int cfut_return(cfut_task *t, const void *data, size_t len);
/* Fails the task: its future finishes with status CFUT_ETASK, error code
 * `code` (0 included: still a failure) and the printf-formatted message
 * (fmt may be NULL). The failure stands whatever the task then returns, and
 * any result is dropped. Returns `code`, so `return cfut_fail(t, 5, "...")`
 * reads well. Only from the thread running the task. */
CFUT_API int cfut_fail(cfut_task *t, int code, const char *fmt, ...) CFUT_PRINTF(3, 4);
/* True once the task has been asked to stop: its executor is shutting down
 * with EXECUTOR_CANCEL_PENDING / EXECUTOR_TERMINATE / EXECUTOR_KILL, its
 * future's cancel was attempted while it ran, or it passed task_timeout.
 * That is on thread pools. In a worker process or on an MPI rank it stays
 * false: process pools stop such a task by killing its worker (deadline,
 * TERMINATE, KILL), and an MPI rank cannot be reached while it runs.
 * Thread-safe; never blocks. NULL gives false. */
CFUT_API bool cfut_should_stop(const cfut_task *t);
/* The task running on this thread (also inside an initializer), or NULL.
 * Borrowed: valid until that task returns. */
CFUT_API cfut_task *cfut_current(void);

CFUT_END_DECLS

#endif /* CFUT_TASK_H */
