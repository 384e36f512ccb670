/* lib/map.c: map a task or a C function over items (include/cfut/map.h).
 *
 * Items are submitted in chunks: one ordinary task per chunk, on every
 * backend, so mapping ten million items does not make ten million futures.
 * The chunk's task runs each item on its own and returns every item's
 * outcome, so one failing item fails only itself.
 *
 * Task chunk:  argument  call.c's function header | u32 count | count x bytes item
 *              result    u32 count | count x (u32 status | u32 code |
 *                                             bytes message | bytes result)
 * Call chunk:  see cfut__call_chunk_task (call.c): packed return values.
 *
 * The window: `in_window` items are submitted and not yet yielded; with a
 * buffersize b it never exceeds b, and an item is submitted as soon as one
 * is yielded. Ordered iteration drains the oldest chunk; unordered takes
 * any chunk that is done (futures_wait FIRST_COMPLETED over the live ones).
 * A deadline, once passed, cancels what has not started and reports the rest
 * without waiting: done items as they ended, the others CFUT_ETIMEDOUT
 * (running) or CFUT_ECANCELLED (never ran). */
#define _GNU_SOURCE
#include <string.h>

#include "call.h"

typedef enum { MAP_TASKS, MAP_CALLS } map_mode;

/* One item's outcome, borrowed from its chunk's future. */
typedef struct item_out {
    int status;
    int code;                  /* the item's own error code */
    const unsigned char *data; /* result, or message when it failed */
    size_t len;
} item_out;

typedef struct chunk {
    future_t *f;
    size_t first, count;
    size_t next;          /* the next of its items to yield */
    bool decoded;
    item_out *items;      /* count outcomes, once decoded */
} chunk;

struct cfut_map {
    executor_t *ex;
    map_mode mode;
    cfut_task_fn fn;                 /* MAP_TASKS */
    cfut_fn cfn;                     /* MAP_CALLS */
    const char *sig;
    cfut__sig psig;
    const void *const *in_arrays;
    size_t rsize;
    const unsigned char *items;      /* array input */
    size_t item_size;
    cfut_map_source source;          /* pulled input */
    void *user;
    unsigned char *scratch;
    bool exhausted;                  /* no more input */
    size_t n;                        /* total, or SIZE_MAX while unknown */
    size_t chunksize, buffersize;
    bool unordered;
    cfut__deadline deadline;
    bool timed, expired;
    void (*progress)(size_t done, size_t total, void *user);
    void *progress_user;
    uint64_t last_progress;
    bool reported_end;               /* the final progress call was made */
    chunk **live;                    /* live[head..head+nlive): submitted, not
                                        fully yielded; oldest first (ordered) */
    size_t head, nlive, cap;
    bool timed_out;                  /* the next item reports CFUT_ETIMEDOUT */
    int err_code;                    /* the last item's failure, for cfut_map_error */
    char *err_msg;
    chunk *draining;                 /* unordered: the done chunk being yielded */
    chunk *spent;                    /* yielded last; freed on the next call */
    size_t next_item, in_window, yielded;
};

/* ---- the chunk task ------------------------------------------------------ */

static int chunk_task(cfut_task *t, const void *arg, size_t len)
{
    cfut__rd r = {arg, (const unsigned char *)arg + len, false};
    char err[200] = "";
    cfut_fn fn;
    int rc = cfut__call_read_fn(&r, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_map: %s", err);
    uint32_t count = cfut__rd_u32(&r);
    if (r.bad || count > (size_t)(r.end - r.p) / 4)
        return cfut_fail(t, CFUT_ESERIALIZE, "executor_map: bad chunk header");
    cfut__buf out = {0};
    cfut__wr w;
    cfut__wr_init(&w, &out);
    cfut__wr_u32(&w, count);
    for (uint32_t i = 0; i < count; i++) {
        cfut__bytes item = cfut__rd_bytes(&r);
        cfut_task sub = {.arg = item.len ? item.p : (const void *)"", .arg_len = item.len,
                         .fut = t->fut, .ex = t->ex, .deadline_ns = t->deadline_ns};
        if (r.bad)
            cfut__outcome_fail(&sub.out, CFUT_ESERIALIZE, 0, "truncated item");
        else if (t->deadline_ns && cfut__now_ns() >= t->deadline_ns)
            cfut__outcome_fail(&sub.out, CFUT_EDEADLINE, 0,
                               "the chunk ran past its task_timeout before this item");
        else if (cfut_should_stop(t))
            cfut__outcome_fail(&sub.out, CFUT_ECANCELLED, 0, "the chunk was asked to stop");
        else
            cfut__task_invoke(&sub, (cfut_task_fn)fn);
        bool ok = sub.out.status == CFUT_OK;
        cfut__wr_u32(&w, (uint32_t)sub.out.status);
        cfut__wr_u32(&w, (uint32_t)sub.out.code);
        const char *msg = sub.out.message ? sub.out.message : "";
        cfut__wr_bytes(&w, msg, ok ? 0 : strlen(msg));
        cfut__wr_bytes(&w, cfut__value_data(&sub.out.result), ok ? sub.out.result.len : 0);
        cfut__outcome_clear(&sub.out);
    }
    rc = cfut__wr_done(&w);
    if (rc == CFUT_OK)
        rc = cfut_return(t, out.data, out.len);
    cfut__buf_free(&out);
    return rc == CFUT_OK ? 0 : cfut_fail(t, rc, "executor_map: the chunk's results could "
                                                "not be encoded");
}

/* ---- submitting ---------------------------------------------------------- */

static size_t choose_chunksize(cfut_map *m)
{
    if (m->chunksize)
        return m->chunksize;
    size_t workers = m->ex->backend->capacity(m->ex);
    if (m->n == SIZE_MAX)
        return 64;
    size_t c = m->n / (4 * (workers ? workers : 1));
    return c < 1 ? 1 : c > 4096 ? 4096 : c;
}

/* The next input item, or NULL at the end. */
static const void *next_input(cfut_map *m)
{
    if (m->exhausted)
        return NULL;
    if (m->source) {
        if (m->source(m->scratch, m->user))
            return m->scratch;
        m->exhausted = true;
        m->n = m->next_item;
        return NULL;
    }
    if (m->next_item >= m->n) {
        m->exhausted = true;
        return NULL;
    }
    if (m->mode == MAP_CALLS)
        return m; /* the values come from in_arrays by index: any non-NULL */
    return m->items + m->next_item * m->item_size;
}

/* Writes one item into a chunk payload. */
static int put_item(cfut_map *m, cfut__wr *w, const void *item, size_t index)
{
    if (m->mode == MAP_TASKS) {
        cfut__wr_bytes(w, item, m->item_size);
        return CFUT_OK;
    }
    for (unsigned k = 0; k < m->psig.nargs; k++) {
        size_t size = cfut__sig_arg_size(m->psig.args[k]);
        const unsigned char *a = (const unsigned char *)m->in_arrays[k] + index * size;
        int rc = cfut__call_put_arg(w, m->psig.args[k], a);
        if (rc != CFUT_OK)
            return rc;
    }
    return CFUT_OK;
}

/* A chunk that failed before it was submitted: all its items get status. */
static future_t *failed_chunk(int status, const char *what)
{
    return cfut__future_failed(status, 0, "executor_map: %s", what);
}

static int add_live(cfut_map *m, chunk *c)
{
    if (m->head && m->head + m->nlive == m->cap) { /* slide down: amortised O(1) */
        memmove(m->live, m->live + m->head, m->nlive * sizeof *m->live);
        m->head = 0;
    }
    if (m->head + m->nlive == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        chunk **live = cfut__realloc(m->live, cap * sizeof *live);
        if (!live)
            return CFUT_ENOMEM;
        m->live = live;
        m->cap = cap;
    }
    m->live[m->head + m->nlive++] = c;
    return CFUT_OK;
}

/* Submits chunks until the window is full or the input ends. */
static void fill(cfut_map *m)
{
    size_t size = choose_chunksize(m);
    while (!m->expired && !m->exhausted) {
        size_t room = m->buffersize ? m->buffersize - m->in_window : size;
        if (m->buffersize && m->in_window >= m->buffersize)
            return;
        size_t want = size < room ? size : room;
        chunk *c = cfut__calloc(1, sizeof *c);
        if (!c || add_live(m, c) != CFUT_OK) {
            cfut__free(c);
            return; /* next() finds the window short and reports ENOMEM */
        }
        c->first = m->next_item;
        cfut__buf b = {0};
        cfut__wr w;
        cfut__wr_init(&w, &b);
        int rc = m->mode == MAP_TASKS
                     ? cfut__call_put_fn(&w, m->ex, (cfut_fn)m->fn)
                     : cfut__call_put_header(&w, m->ex, m->cfn, m->sig, strlen(m->sig));
        size_t count_at = b.len;
        cfut__wr_u32(&w, 0);
        const void *item;
        while (c->count < want && (item = next_input(m))) {
            if (rc == CFUT_OK)
                rc = put_item(m, &w, item, m->next_item);
            c->count++;
            m->next_item++;
        }
        if (rc == CFUT_OK)
            rc = cfut__wr_done(&w);
        if (c->count == 0) { /* the input ended exactly at a chunk boundary */
            m->nlive--;
            cfut__free(c);
            cfut__buf_free(&b);
            return;
        }
        if (rc == CFUT_OK) {
            for (int i = 0; i < 4; i++)
                b.data[count_at + i] = (unsigned char)(c->count >> (8 * i));
            c->f = executor_submit(m->ex, m->mode == MAP_TASKS ? chunk_task
                                                               : cfut__call_chunk_task,
                                   b.data, b.len);
        } else {
            c->f = failed_chunk(rc, rc == CFUT_ENOMEM ? "out of memory"
                                    : "an item could not be encoded (a 'y' buffer with "
                                      "NULL data, or a function not in a loaded object)");
        }
        cfut__buf_free(&b);
        m->in_window += c->count;
    }
}

/* ---- reading chunk results ----------------------------------------------- */

static void decode(cfut_map *m, chunk *c)
{
    c->decoded = true;
    c->items = cfut__calloc(c->count, sizeof *c->items);
    int status = future_status(c->f);
    const void *data = NULL;
    size_t len = 0;
    if (status == CFUT_OK)
        future_result(c->f, 0, &data, &len);
    if (!c->items) {
        c->count = 0; /* cannot even say how each ended */
        return;
    }
    bool bad = status != CFUT_OK;
    if (!bad && m->mode == MAP_CALLS) {
        bad = len != c->count * m->rsize;
        for (size_t i = 0; !bad && i < c->count; i++)
            c->items[i] = (item_out){CFUT_OK, 0, (const unsigned char *)data + i * m->rsize,
                                     m->rsize};
    } else if (!bad) {
        cfut__rd r = {data, (const unsigned char *)data + len, false};
        bad = cfut__rd_u32(&r) != c->count;
        for (size_t i = 0; !bad && i < c->count; i++) {
            uint32_t st = cfut__rd_u32(&r);
            int32_t code = (int32_t)cfut__rd_u32(&r);
            cfut__bytes msg = cfut__rd_bytes(&r);
            cfut__bytes res = cfut__rd_bytes(&r);
            bad = r.bad || st >= CFUT_STATUS_COUNT_;
            c->items[i] = st == CFUT_OK ? (item_out){CFUT_OK, 0, res.p, res.len}
                                        : (item_out){(int)st, code, msg.p, msg.len};
        }
        bad = bad || cfut__rd_done(&r) != CFUT_OK;
        if (bad)
            status = CFUT_ESERIALIZE;
    }
    if (bad) {
        /* The chunk failed as a whole (its worker died, it was cancelled,
         * ...): every item reports that, with the chunk's message. */
        const char *msg = status == CFUT_OK ? "the chunk's results could not be decoded"
                                            : future_error_message(c->f);
        for (size_t i = 0; i < c->count; i++)
            c->items[i] = (item_out){status == CFUT_OK ? CFUT_ESERIALIZE : status,
                                     future_error_code(c->f), (const unsigned char *)msg,
                                     msg ? strlen(msg) : 0};
    }
}

static void free_chunk(chunk *c)
{
    if (!c)
        return;
    future_release(c->f);
    cfut__free(c->items);
    cfut__free(c);
}

/* Ordered maps drain the oldest chunk (O(1)); unordered ones any (swap with
 * the last: their order does not matter). */
static void remove_live(cfut_map *m, chunk *c)
{
    chunk **live = m->live + m->head;
    if (live[0] == c) {
        m->head++;
        m->nlive--;
        return;
    }
    for (size_t i = 1; i < m->nlive; i++)
        if (live[i] == c) {
            live[i] = live[m->nlive - 1];
            m->nlive--;
            return;
        }
}

/* The deadline passed: nothing more is submitted, what has not started is
 * cancelled. */
static void expire(cfut_map *m)
{
    m->expired = true;
    m->timed_out = true; /* the item waited on reports the deadline */
    for (size_t i = 0; i < m->nlive; i++)
        future_cancel(m->live[m->head + i]->f);
}

/* Waits for c (or polls, once expired); true once it is done. */
static bool wait_chunk(cfut_map *m, chunk *c)
{
    if (future_done(c->f))
        return true;
    double timeout = -1;
    if (m->expired) {
        timeout = 0;
    } else if (m->timed) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        timeout = (double)(m->deadline.at.tv_sec - now.tv_sec) +
                  (double)(m->deadline.at.tv_nsec - now.tv_nsec) / 1e9;
        if (timeout < 0)
            timeout = 0;
    }
    if (future_wait(c->f, timeout) == CFUT_OK)
        return true;
    if (!m->expired)
        expire(m);
    return future_done(c->f);
}

static void report_progress(cfut_map *m, bool final)
{
    if (!m->progress || m->reported_end)
        return;
    m->reported_end = final; /* once at the end, however often next() is called */
    uint64_t now = cfut__now_ns();
    if (!final && now - m->last_progress < 50000000u)
        return;
    m->last_progress = now;
    size_t total = m->source ? (m->exhausted ? m->n : 0) : m->n;
    m->progress(m->yielded, total, m->progress_user);
}

/* Takes the next item of c: its outcome, or `status` if c is not done. */
static int take(cfut_map *m, chunk *c, size_t *index, const void **data, size_t *len)
{
    *index = c->first + c->next;
    int status;
    if (!c->decoded && future_done(c->f))
        decode(m, c);
    if (!c->decoded) {
        /* Past the deadline and still running (cancelled ones are done). */
        status = CFUT_ETIMEDOUT;
    } else if (c->next >= c->count || !c->items) {
        status = CFUT_ENOMEM;
    } else {
        item_out *it = &c->items[c->next];
        status = it->status;
        if (status == CFUT_OK) {
            *data = it->data ? (const void *)it->data : (const void *)"";
            *len = it->len;
        } else {
            m->err_code = it->code;
            m->err_msg = cfut__malloc(it->len + 1);
            if (m->err_msg) {
                if (it->len)
                    memcpy(m->err_msg, it->data, it->len);
                m->err_msg[it->len] = '\0';
            }
        }
    }
    if (m->timed_out && status != CFUT_OK) {
        /* The item that was waited on when the deadline passed. */
        status = CFUT_ETIMEDOUT;
        m->err_code = 0;
        cfut__free(m->err_msg);
        m->err_msg = cfut__strdup("the map's timeout passed while waiting for this item");
    }
    m->timed_out = false;
    c->next++;
    m->in_window--;
    m->yielded++;
    if (c->next >= c->count) {
        remove_live(m, c);
        if (m->draining == c)
            m->draining = NULL;
        m->spent = c;
    }
    fill(m);
    report_progress(m, false);
    return status;
}

/* Unordered: a chunk that is done (waiting for one if none is). */
static chunk *any_done(cfut_map *m)
{
    chunk **live = m->live + m->head;
    for (size_t i = 0; i < m->nlive; i++)
        if (future_done(live[i]->f))
            return live[i];
    if (m->expired)
        return live[0]; /* reported without waiting */
    future_t **fs = cfut__malloc(m->nlive * sizeof *fs);
    if (!fs)
        return live[0]; /* fall back to input order */
    for (size_t i = 0; i < m->nlive; i++)
        fs[i] = live[i]->f;
    double timeout = -1;
    if (m->timed) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        timeout = (double)(m->deadline.at.tv_sec - now.tv_sec) +
                  (double)(m->deadline.at.tv_nsec - now.tv_nsec) / 1e9;
        if (timeout < 0)
            timeout = 0;
    }
    int rc = futures_wait(fs, m->nlive, timeout, FUTURES_FIRST_COMPLETED);
    cfut__free(fs);
    if (rc == CFUT_ETIMEDOUT)
        expire(m);
    for (size_t i = 0; i < m->nlive; i++)
        if (future_done(live[i]->f))
            return live[i];
    return live[0];
}

int cfut_map_next(cfut_map *m, size_t *index, const void **data, size_t *len)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!m || !index) {
        if (index)
            *index = SIZE_MAX;
        return CFUT_EINVAL;
    }
    const void *d = NULL;
    size_t l = 0;
    free_chunk(m->spent);
    m->spent = NULL;
    cfut__free(m->err_msg);
    m->err_msg = NULL;
    m->err_code = 0;
    if (m->nlive == 0) {
        if (m->expired && !m->exhausted && !m->source && m->next_item < m->n) {
            /* Never submitted: cancelled by the deadline. */
            *index = m->next_item++;
            m->yielded++;
            report_progress(m, false);
            m->err_msg = cfut__strdup("the map's timeout passed before this item started");
            return CFUT_ECANCELLED;
        }
        if (m->expired && m->source)
            m->exhausted = true, m->n = m->next_item;
        *index = SIZE_MAX;
        report_progress(m, true);
        return CFUT_OK;
    }
    chunk *c;
    if (m->unordered) {
        c = m->draining ? m->draining : (m->draining = any_done(m));
    } else {
        c = m->live[m->head];
        wait_chunk(m, c);
    }
    int status = take(m, c, index, &d, &l);
    if (data)
        *data = status == CFUT_OK ? d : NULL;
    if (len)
        *len = status == CFUT_OK ? l : 0;
    return status;
}

const char *cfut_map_error(const cfut_map *m, int *code)
{
    if (code)
        *code = m ? m->err_code : 0;
    return m ? m->err_msg : NULL;
}

void cfut_map_close(cfut_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nlive; i++) {
        chunk *c = m->live[m->head + i];
        future_cancel(c->f); /* what has not run never will */
        free_chunk(c);
    }
    free_chunk(m->spent);
    cfut__free(m->err_msg);
    cfut__free(m->live);
    cfut__free(m->scratch);
    cfut__free(m);
}

/* ---- starting ------------------------------------------------------------ */

static cfut_map *new_map(executor_t *ex, size_t n, size_t item_size, const cfut_map_options *opts)
{
    cfut_map *m = cfut__calloc(1, sizeof *m);
    if (!m)
        return NULL;
    cfut_map_options o = {0};
    if (opts)
        o = *opts;
    m->ex = ex;
    m->n = n;
    m->item_size = item_size;
    m->chunksize = o.chunksize;
    m->buffersize = o.buffersize;
    m->unordered = o.unordered;
    m->progress = o.progress;
    m->progress_user = o.progress_user;
    if (o.timeout > 0) {
        m->timed = true;
        cfut__deadline_from(o.timeout, &m->deadline);
    }
    return m;
}

static bool bad_options(const cfut_map_options *o)
{
    return o && o->timeout != o->timeout; /* NaN */
}

cfut_map *executor_map_start(executor_t *ex, cfut_task_fn fn, const void *items, size_t n,
                             size_t item_size, const cfut_map_options *opts)
{
    if (!ex || !fn || (!items && n) || !item_size || bad_options(opts))
        return NULL;
    cfut_map *m = new_map(ex, n, item_size, opts);
    if (!m)
        return NULL;
    m->mode = MAP_TASKS;
    m->fn = fn;
    m->items = items;
    m->exhausted = n == 0;
    fill(m);
    return m;
}

cfut_map *executor_map_pull(executor_t *ex, cfut_task_fn fn, cfut_map_source source,
                            void *user, size_t item_size, const cfut_map_options *opts)
{
    if (!ex || !fn || !source || !item_size || bad_options(opts))
        return NULL;
    cfut_map *m = new_map(ex, SIZE_MAX, item_size, opts);
    if (!m)
        return NULL;
    m->mode = MAP_TASKS;
    m->fn = fn;
    m->source = source;
    m->user = user;
    if (!(m->scratch = cfut__malloc(item_size))) {
        cfut__free(m);
        return NULL;
    }
    fill(m);
    return m;
}

/* Drains m into results/statuses; the first failure in input order. */
static int drain(cfut_map *m, size_t n, void *results, size_t result_size, int *statuses)
{
    size_t first_bad = SIZE_MAX;
    int first_status = CFUT_OK;
    size_t seen = 0;
    for (;;) {
        size_t i;
        const void *data;
        size_t len;
        int st = cfut_map_next(m, &i, &data, &len);
        if (i == SIZE_MAX)
            break;
        if (st == CFUT_OK && len != result_size)
            st = CFUT_ESERIALIZE;
        if (st == CFUT_OK && result_size)
            memcpy((unsigned char *)results + i * result_size, data, result_size);
        if (statuses)
            statuses[i] = st;
        if (st != CFUT_OK && i < first_bad) {
            first_bad = i;
            first_status = st;
        }
        seen++;
    }
    if (seen < n && first_status == CFUT_OK)
        first_status = CFUT_ENOMEM; /* items lost for want of memory */
    cfut_map_close(m);
    return first_status;
}

int executor_map(executor_t *ex, cfut_task_fn fn, const void *items, size_t n,
                 size_t item_size, void *results, size_t result_size, int *statuses,
                 const cfut_map_options *opts)
{
    if (!ex || !fn || (!items && n) || (!results && n && result_size) || !item_size ||
        bad_options(opts))
        return CFUT_EINVAL;
    cfut_map *m = executor_map_start(ex, fn, items, n, item_size, opts);
    if (!m)
        return CFUT_ENOMEM;
    return drain(m, n, results, result_size, statuses);
}

int executor_map_call(executor_t *ex, cfut_fn fn, const char *sig, size_t n, void *out,
                      const void *const *in_arrays, int *statuses,
                      const cfut_map_options *opts)
{
    if (!ex || !fn || !sig || bad_options(opts))
        return CFUT_EINVAL;
    cfut__sig s;
    char err[200];
    unsigned rules = CFUT__SIG_MAP | (ex->backend->remote ? CFUT__SIG_REMOTE : 0);
    if (cfut__sig_parse(sig, strlen(sig), rules, &s, err, sizeof err) != CFUT_OK)
        return CFUT_EINVAL;
    size_t rsize = cfut__sig_ret_size(s.ret);
    if (n && ((rsize && !out) || (s.nargs && !in_arrays)))
        return CFUT_EINVAL;
    for (unsigned k = 0; n && k < s.nargs; k++)
        if (!in_arrays[k])
            return CFUT_EINVAL;
    if (ex->backend->remote) {
        cfut__fnref fr;
        if (cfut__fnref_of(fn, &fr) != CFUT_OK)
            return CFUT_EINVAL;
    }
    cfut_map *m = new_map(ex, n, 1, opts);
    if (!m)
        return CFUT_ENOMEM;
    m->mode = MAP_CALLS;
    m->cfn = fn;
    m->sig = sig;
    m->psig = s;
    m->in_arrays = in_arrays;
    m->rsize = rsize;
    m->exhausted = n == 0;
    fill(m);
    return drain(m, n, out, rsize, statuses);
}
