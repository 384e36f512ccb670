/* cfut/map.h: map a task, or a plain C function, over an array of items.
 *
 *     int squares[N];
 *     executor_map(ex, square, items, N, sizeof(int),
 *                  squares, sizeof(int), statuses, NULL);
 *
 * Work is sent in chunks of items (one task, one message per chunk), on
 * every backend; within a chunk each item still has its own outcome, so a
 * failing item fails only itself. A chunk that fails as a whole fails all
 * its items with its status: a worker process that dies running it
 * (CFUT_EWORKER), its cancellation (CFUT_ECANCELLED). task_timeout applies
 * to a whole chunk. See docs/map.md. */
#ifndef CFUT_MAP_H
#define CFUT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h> /* SIZE_MAX: cfut_map_next's end marker */

#include "cfut/call.h"
#include "cfut/executor.h"
#include "cfut/export.h"

CFUT_BEGIN_DECLS

/* All-zero (or NULL) means defaults. Fields are only appended. */
typedef struct cfut_map_options {
    size_t chunksize;   /* items per task; 0: chosen from n and the workers */
    size_t buffersize;  /* items submitted and not yet consumed, at most;
                           0: no bound (everything is submitted at once) */
    double timeout;     /* one deadline from the call, seconds; <= 0: none.
                           When it passes, the item waited on reports
                           CFUT_ETIMEDOUT, what has not started is cancelled
                           (CFUT_ECANCELLED) and nothing more is submitted */
    bool   unordered;   /* yield items as they complete, not in input order */
    /* Called as items complete, on the thread that consumes them
     * (cfut_map_next / executor_map), at most every 50 ms and once at the
     * end; done counts items yielded so far. */
    void (*progress)(size_t done, size_t total, void *user);
    void  *progress_user;
} cfut_map_options;

/* Runs fn over items[0..n) (item i is the item_size bytes at
 * items + i * item_size) and blocks until every item is done. Item i's
 * result goes to results + i * result_size (a result of another size fails
 * that item with CFUT_ESERIALIZE); statuses[i], if statuses is not NULL, gets
 * its status. Returns CFUT_OK if every item succeeded, else the status of the
 * first failed item in input order; CFUT_EINVAL (nothing run) for a NULL
 * executor or fn, NULL items or results with n > 0, or item_size 0.
 * Thread-safe; blocks. Ownership: items copied as they are submitted. */
CFUT_API int executor_map(executor_t *ex, cfut_task_fn fn, const void *items, size_t n,
                          size_t item_size, void *results, size_t result_size, int *statuses,
                          const cfut_map_options *opts);

typedef struct cfut_map cfut_map;

/* A lazy map, like Python's: items are submitted as the window allows and
 * pulled with cfut_map_next(). `items` must stay valid until cfut_map_close().
 * NULL on bad arguments (as executor_map) or no memory.
 * Ownership: owned; close it with cfut_map_close(). */
CFUT_API CFUT_OWNED cfut_map *executor_map_start(executor_t *ex, cfut_task_fn fn,
                                                 const void *items, size_t n, size_t item_size,
                                                 const cfut_map_options *opts);

/* Produces the next item into `item` (item_size bytes) and returns true, or
 * returns false when there are no more. Called on the consuming thread. */
typedef bool (*cfut_map_source)(void *item, void *user);

/* A lazy map over items that a function produces one at a time, for inputs
 * with no length (a stream): with buffersize = b only b items are ever held.
 * Otherwise as executor_map_start(); the total given to progress is 0 until
 * the source is exhausted. */
CFUT_API CFUT_OWNED cfut_map *executor_map_pull(executor_t *ex, cfut_task_fn fn,
                                                cfut_map_source source, void *user,
                                                size_t item_size,
                                                const cfut_map_options *opts);

/* The next item: CFUT_OK with *index and its result (*data and *len borrowed:
 * valid until the next call on m or cfut_map_close), or the item's failure
 * status with *index set and *data = NULL, *len = 0 (iteration goes on after
 * a failed item); at the end CFUT_OK with *index = SIZE_MAX. CFUT_EINVAL for
 * NULL m or index. Blocks; single consumer. */
CFUT_API int cfut_map_next(cfut_map *m, size_t *index, const void **data, size_t *len);
/* The error code and message of the item cfut_map_next() last returned,
 * when it failed: the task's own code and message (cfut_fail), or the
 * chunk's when it failed as a whole. NULL (and *code = 0) when it
 * succeeded. Borrowed: valid until the next call on m. */
CFUT_API const char *cfut_map_error(const cfut_map *m, int *code);
/* Cancels what has not started and frees everything; chunks already running
 * finish in the background and their results are dropped (they hold their
 * own copies of the items). Does not block. NULL is fine. */
CFUT_API void cfut_map_close(cfut_map *m);

/* out[i] = fn(in_arrays[0][i], in_arrays[1][i], ...): in_arrays[k] is a
 * packed array of argument k's C type (a cfut_buffer array for 'y'; 'o' is
 * refused) and out a packed array of the return type (NULL for 'v').
 * statuses as in executor_map. The same returns as executor_map, and the
 * signature errors of executor_call (reported through the return value,
 * nothing run). Thread-safe; blocks. */
CFUT_API int executor_map_call(executor_t *ex, cfut_fn fn, const char *sig, size_t n,
                               void *out, const void *const *in_arrays, int *statuses,
                               const cfut_map_options *opts);

CFUT_END_DECLS

#endif /* CFUT_MAP_H */
