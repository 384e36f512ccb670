/* lib/mpi_pool.c: the EXECUTOR_MPI backend, on Open MPI (built with
 * -Dmpi=auto|enabled when MPI is found).
 *
 * Every rank of `mpiexec -n N prog` calls executor_new(EXECUTOR_MPI). Rank 0
 * gets the executor; ranks 1..N-1 serve tasks inside that call, with the same
 * worker loop and the same wire frames as process-pool workers
 * (cfut__worker_serve over an MPI channel), and return CFUT_OK with
 * *out = NULL once rank 0 shuts the executor down (like mpi4py's
 * MPICommExecutor). Functions travel as object + offset: every rank runs the
 * same binary.
 *
 * On rank 0 a manager thread owns the communicator (a duplicate of
 * MPI_COMM_WORLD, so the program's own messages never mix with ours): it
 * hands queued tasks to idle ranks, probes for replies and enforces
 * deadlines. MPI has no descriptor to sleep on, so while ranks are busy it
 * probes with a backoff (a short spin, then sleeps up to 1 ms); while none is
 * busy it sleeps on an eventfd until a submission arrives, costing nothing.
 *
 * What MPI cannot do: kill a rank. A task past task_timeout fails with
 * CFUT_EDEADLINE, and its rank is used again only once it has answered.
 * TERMINATE and KILL act as CANCEL_PENDING. A rank that dies takes the job
 * with it under Open MPI (the runtime aborts every rank); errors that MPI
 * does return (MPI_ERRORS_RETURN on our communicator) fail the task with
 * CFUT_EWORKER and retire the rank.
 *
 * Lock order: mp->mu -> future lock. Callbacks run on the manager thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "process.h"
#include "wire.h"

enum { TAG_FRAME = 0xcf01, TAG_MORE = 0xcf02 };
/* Frames travel in messages of at most this many bytes: MPI counts are ints. */
#define MSG_MAX ((size_t)1 << 30)

typedef enum { R_STARTING, R_IDLE, R_BUSY, R_LATE, R_GONE } rstate;

typedef struct mrank {
    int rank;
    rstate state;
    cfut__task *task;      /* R_BUSY */
    uint64_t deadline_ns;
    unsigned ntasks;
} mrank;

typedef struct mpool {
    pthread_mutex_t mu;    /* guards the queue and the counters */
    cfut__queue queue;
    size_t running, idle, alive, lost;
    bool shutdown, broken;
    int broken_code;
    char *broken_msg;
    pthread_mutex_t join_mu;
    pthread_t manager;
    bool manager_joined;
    int wakefd;
    /* The manager's own. */
    MPI_Comm comm;
    mrank *ranks;
    size_t nranks;
    cfut__buf in, out;
} mpool;

static mpool *pool_of(executor_t *ex) { return ex->impl; }

/* ---- MPI set-up ---------------------------------------------------------- */

/* Executors rank 0 still has at exit (the program returned from main()
 * without executor_free): their serving ranks wait for SHUTDOWN, and their
 * manager threads must stop calling MPI before MPI_Finalize. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static executor_t *live[16];

static void track(executor_t *ex, bool add)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (add ? !live[i] : live[i] == ex) {
            live[i] = add ? ex : NULL;
            break;
        }
    pthread_mutex_unlock(&live_mu);
}

static void finalize_at_exit(void)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i])
            executor_shutdown(live[i], EXECUTOR_WAIT);
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}

/* Initialises MPI if the program has not (asking for SERIALIZED: rank 0's
 * manager thread makes the calls), and finalises it at exit: only what we
 * initialised. */
static int mpi_ready(char *err, size_t errlen)
{
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Init_thread failed");
            return CFUT_ESYS;
        }
        atexit(finalize_at_exit);
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        snprintf(err, errlen, "MPI provides thread level %d; cfut needs MPI_THREAD_SERIALIZED",
                 provided);
        return CFUT_EINVAL;
    }
    return CFUT_OK;
}

/* ---- frames over MPI ----------------------------------------------------- */

static int send_frame(MPI_Comm comm, int dest, const unsigned char *p, size_t len)
{
    int tag = TAG_FRAME;
    do {
        size_t n = len < MSG_MAX ? len : MSG_MAX;
        if (MPI_Send(p, (int)n, MPI_BYTE, dest, tag, comm) != MPI_SUCCESS)
            return CFUT_ESYS;
        p += n;
        len -= n;
        tag = TAG_MORE;
    } while (len);
    return CFUT_OK;
}

/* Receives the frame whose first message `st` announces. */
static int recv_frame(MPI_Comm comm, MPI_Status *st, cfut__buf *b, cfut__wire_kind *kind,
                      const unsigned char **p, size_t *n)
{
    int count;
    MPI_Get_count(st, MPI_BYTE, &count);
    b->len = 0;
    if (count < CFUT__WIRE_HEADER || cfut__buf_reserve(b, (size_t)count) != CFUT_OK) {
        MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, TAG_FRAME, comm, MPI_STATUS_IGNORE);
        return CFUT_ESERIALIZE;
    }
    int src = st->MPI_SOURCE;
    if (MPI_Recv(b->data, count, MPI_BYTE, src, TAG_FRAME, comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
        return CFUT_ESYS;
    b->len = (size_t)count;
    size_t want;
    int rc = cfut__wire_header(b->data, UINT32_MAX, kind, &want);
    if (rc != CFUT_OK)
        return rc;
    want += CFUT__WIRE_HEADER;
    while (b->len < want) {
        MPI_Status more;
        MPI_Probe(src, TAG_MORE, comm, &more);
        MPI_Get_count(&more, MPI_BYTE, &count);
        if (count <= 0 || (size_t)count > want - b->len ||
            cfut__buf_reserve(b, (size_t)count) != CFUT_OK)
            return CFUT_ESERIALIZE;
        if (MPI_Recv(b->data + b->len, count, MPI_BYTE, src, TAG_MORE, comm,
                     MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return CFUT_ESYS;
        b->len += (size_t)count;
    }
    if (b->len != want)
        return CFUT_ESERIALIZE;
    *p = b->data + CFUT__WIRE_HEADER;
    *n = want - CFUT__WIRE_HEADER;
    return CFUT_OK;
}

/* Sleeps a little longer each time nothing arrives: spin, yield, then up
 * to 1 ms. */
static void backoff(unsigned *spins)
{
    unsigned s = (*spins)++;
    if (s < 64)
        return;
    if (s < 128) {
        sched_yield();
        return;
    }
    long ns = 1000L << (s - 128 < 10 ? s - 128 : 10);
    struct timespec ts = {0, ns > 1000000 ? 1000000 : ns};
    nanosleep(&ts, NULL);
}

/* ---- a serving rank ------------------------------------------------------ */

typedef struct mpi_channel {
    cfut__channel base;
    MPI_Comm comm;
} mpi_channel;

static int rank_read(cfut__channel *ch, cfut__buf *b, cfut__wire_kind *kind,
                     const unsigned char **p, size_t *n)
{
    MPI_Comm comm = ((mpi_channel *)ch)->comm;
    MPI_Status st;
    int flag = 0;
    unsigned spins = 0;
    /* A blocking receive would spin a core at 100% while idle. */
    while (!flag) {
        if (MPI_Iprobe(0, TAG_FRAME, comm, &flag, &st) != MPI_SUCCESS)
            return CFUT_ESYS;
        if (!flag)
            backoff(&spins);
    }
    return recv_frame(comm, &st, b, kind, p, n);
}

static bool rank_write(cfut__channel *ch, const void *data, size_t len)
{
    return send_frame(((mpi_channel *)ch)->comm, 0, data, len) == CFUT_OK;
}

static void serve(MPI_Comm comm, int rank)
{
    char name[17] = "";
    prctl(PR_GET_NAME, name); /* serving renames this thread: put it back */
    mpi_channel ch = {{rank_read, rank_write, (uint32_t)rank}, comm};
    bool was = cfut__worker_process;
    cfut__worker_serve(&ch.base);
    cfut__worker_process = was;
    prctl(PR_SET_NAME, name);
}

/* ---- rank 0: the manager ------------------------------------------------- */

static void fail_task(cfut__task *t, int status, const char *fmt, ...) CFUT_PRINTF(3, 4);

static void fail_task(cfut__task *t, int status, const char *fmt, ...)
{
    cfut__outcome o = {0};
    va_list ap;
    va_start(ap, fmt);
    cfut__outcome_vfail(&o, status, 0, fmt, ap);
    va_end(ap);
    cfut__executor_finish(t, &o);
    future_release(&t->fut);
}

/* Sends `b` to r; on an MPI error the rank is retired and its task failed. */
static bool send_to(executor_t *ex, mpool *mp, mrank *r, cfut__buf *b)
{
    if (send_frame(mp->comm, r->rank, b->data, b->len) == CFUT_OK)
        return true;
    cfut__task *t = NULL;
    pthread_mutex_lock(&mp->mu);
    if (r->state == R_BUSY) {
        t = r->task;
        mp->running--;
    } else if (r->state == R_IDLE) {
        mp->idle--;
    }
    r->state = R_GONE;
    r->task = NULL;
    mp->alive--;
    mp->lost++;
    pthread_mutex_unlock(&mp->mu);
    if (t)
        fail_task(t, CFUT_EWORKER, "MPI could not reach rank %d", r->rank);
    return false;
}

static void on_ready(executor_t *ex, mpool *mp, mrank *r, const unsigned char *p, size_t n)
{
    cfut__wire_outcome m;
    cfut__task *orphans = NULL;
    pthread_mutex_lock(&mp->mu);
    if (cfut__wire_get_outcome(p, n, &m) == CFUT_OK && m.status == CFUT_OK) {
        r->state = R_IDLE;
        mp->idle++;
    } else {
        r->state = R_GONE; /* its initializer failed: it serves no more */
        mp->alive--;
        if (!mp->broken) {
            mp->broken = true;
            mp->broken_code = m.code;
            mp->broken_msg = cfut__asprintf("the initializer failed on rank %d (code %d): %.*s",
                                            r->rank, m.code, (int)m.message.len,
                                            (const char *)m.message.p);
        }
        cfut__queue_drain(&mp->queue, &orphans, CFUT__FINISHED, CFUT_EBROKEN, mp->broken_code,
                          mp->broken_msg ? mp->broken_msg : "an initializer failed");
    }
    pthread_mutex_unlock(&mp->mu);
    cfut__task_list_finish(orphans);
    (void)ex;
}

static void on_outcome(executor_t *ex, mpool *mp, mrank *r, const unsigned char *p, size_t n)
{
    cfut__wire_outcome m;
    cfut__outcome o = {0};
    int rc = cfut__wire_get_outcome(p, n, &m);
    if (rc == CFUT_OK)
        rc = cfut__wire_outcome_to(&m, NULL, 0, &o);
    pthread_mutex_lock(&mp->mu);
    cfut__task *t = r->state == R_BUSY ? r->task : NULL;
    if (r->state == R_BUSY)
        mp->running--;
    if (r->state == R_BUSY || r->state == R_LATE) {
        r->state = R_IDLE;
        mp->idle++;
    }
    r->task = NULL;
    r->ntasks++;
    pthread_mutex_unlock(&mp->mu);
    if (!t) { /* a late answer: its future already failed at the deadline */
        cfut__outcome_clear(&o);
        return;
    }
    if (rc != CFUT_OK)
        cfut__outcome_fail(&o, CFUT_ESERIALIZE, 0, "rank %d's reply could not be decoded",
                           r->rank);
    else if (o.status != CFUT_OK && o.message) {
        char *with = cfut__asprintf("%s [rank %d]", o.message, r->rank);
        if (with) {
            cfut__free(o.message);
            o.message = with;
        }
    }
    cfut__executor_finish(t, &o);
    future_release(&t->fut);
}

static mrank *rank_of(mpool *mp, int rank)
{
    return rank >= 1 && (size_t)rank <= mp->nranks ? &mp->ranks[rank - 1] : NULL;
}

/* Receives everything that has arrived; true if anything did. */
static bool receive(executor_t *ex, mpool *mp)
{
    bool any = false;
    for (;;) {
        MPI_Status st;
        int flag = 0;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_FRAME, mp->comm, &flag, &st) != MPI_SUCCESS || !flag)
            return any;
        any = true;
        cfut__wire_kind kind;
        const unsigned char *p;
        size_t n;
        mrank *r = rank_of(mp, st.MPI_SOURCE);
        int rc = recv_frame(mp->comm, &st, &mp->in, &kind, &p, &n);
        if (!r)
            continue; /* not one of our ranks: nothing to attribute it to */
        if (rc != CFUT_OK) {
            /* MPI keeps message boundaries, so the next frame is still
             * good: fail what this rank ran, and keep the rank. */
            static const char bad[] = "";
            on_outcome(ex, mp, r, (const unsigned char *)bad, 0);
            continue;
        }
        if (kind == CFUT__W_READY && r->state == R_STARTING)
            on_ready(ex, mp, r, p, n);
        else if (kind == CFUT__W_OUTCOME)
            on_outcome(ex, mp, r, p, n);
    }
}

/* Hands queued tasks to idle ranks; at shutdown, retires them. Returns false
 * once the pool is finished. Sets *busy when ranks are working. */
static bool dispatch(executor_t *ex, mpool *mp, bool *busy)
{
    uint64_t now = cfut__now_ns();
    pthread_mutex_lock(&mp->mu);
    size_t working = 0;
    for (size_t i = 0; i < mp->nranks; i++) {
        mrank *r = &mp->ranks[i];
        if (r->state == R_IDLE && mp->queue.head) {
            cfut__task *t = cfut__queue_pop(&mp->queue);
            bool started = cfut__future_start(&t->fut);
            CFUT_ASSERT(started);
            r->state = R_BUSY;
            r->task = t;
            r->deadline_ns = ex->opts.task_timeout > 0
                                 ? now + (uint64_t)(ex->opts.task_timeout * 1e9) : 0;
            mp->idle--;
            mp->running++;
            pthread_mutex_unlock(&mp->mu);
            mp->out.len = 0;
            cfut__fnref fr;
            int rc = cfut__fnref_of((cfut_fn)t->fn, &fr);
            if (rc == CFUT_OK)
                rc = cfut__wire_put_task(&mp->out, (uint64_t)(uintptr_t)t, &fr,
                                         cfut__task_arg(t), cfut__task_arg_len(t), false);
            if (rc != CFUT_OK) {
                pthread_mutex_lock(&mp->mu);
                r->state = R_IDLE;
                r->task = NULL;
                mp->idle++;
                mp->running--;
                pthread_mutex_unlock(&mp->mu);
                fail_task(t, rc, "the task could not be encoded for rank %d", r->rank);
            } else {
                send_to(ex, mp, r, &mp->out);
            }
            pthread_mutex_lock(&mp->mu);
        }
        working += r->state == R_BUSY || r->state == R_STARTING || r->state == R_LATE;
    }
    bool finish = mp->shutdown && !mp->queue.head && working == 0;
    pthread_mutex_unlock(&mp->mu);
    *busy = working > 0;
    if (!finish)
        return true;
    mp->out.len = 0;
    cfut__wire_put_empty(&mp->out, CFUT__W_SHUTDOWN);
    for (size_t i = 0; i < mp->nranks; i++)
        if (mp->ranks[i].state != R_GONE) /* gone ones left serving already */
            send_frame(mp->comm, mp->ranks[i].rank, mp->out.data, mp->out.len);
    return false;
}

/* Fails tasks past their deadline; their ranks answer later (R_LATE). */
static void deadlines(executor_t *ex, mpool *mp)
{
    uint64_t now = cfut__now_ns();
    for (size_t i = 0; i < mp->nranks; i++) {
        mrank *r = &mp->ranks[i];
        cfut__task *t = NULL;
        pthread_mutex_lock(&mp->mu);
        if (r->state == R_BUSY && r->deadline_ns && now >= r->deadline_ns) {
            t = r->task;
            r->task = NULL;
            r->state = R_LATE;
            mp->running--;
        }
        pthread_mutex_unlock(&mp->mu);
        if (t)
            fail_task(t, CFUT_EDEADLINE,
                      "the task ran past its task_timeout on rank %d (an MPI rank cannot "
                      "be stopped: it is used again once it answers)", r->rank);
    }
}

static void *manager_main(void *arg)
{
    executor_t *ex = arg;
    mpool *mp = pool_of(ex);
    char name[16];
    snprintf(name, sizeof name, "%.11s_mpi", ex->name_prefix);
    pthread_setname_np(pthread_self(), name);
    unsigned spins = 0;
    bool busy;
    while (dispatch(ex, mp, &busy)) {
        if (receive(ex, mp)) {
            spins = 0;
            continue;
        }
        deadlines(ex, mp);
        /* Replies come through MPI, which has no descriptor: while ranks are
         * busy, probe again soon (spin, yield, then 1 ms naps); otherwise
         * sleep until a submission. Either way a submission wakes us. */
        int timeout = -1;
        if (busy && spins < 128)
            backoff(&spins), timeout = 0;
        else if (busy)
            timeout = 1;
        struct pollfd pfd = {mp->wakefd, POLLIN, 0};
        if (timeout != 0 && poll(&pfd, 1, timeout) > 0)
            spins = 0;
        uint64_t v;
        ssize_t r = read(mp->wakefd, &v, sizeof v);
        (void)r;
    }
    cfut__executor_release(ex); /* the manager's reference */
    return NULL;
}

/* ---- the backend --------------------------------------------------------- */

static int mp_init(executor_t *ex)
{
    char err[160];
    int rc = mpi_ready(err, sizeof err);
    if (rc != CFUT_OK)
        return rc;
    MPI_Comm comm;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS)
        return CFUT_ESYS;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (rank != 0) {
        serve(comm, rank);
        MPI_Comm_free(&comm);
        return CFUT__SERVED;
    }
    mpool *mp = cfut__calloc(1, sizeof *mp);
    size_t serving = size > 1 ? (size_t)size - 1 : 0;
    size_t n = ex->opts.max_workers && (size_t)ex->opts.max_workers < serving
                   ? (size_t)ex->opts.max_workers : serving;
    if (mp)
        mp->ranks = cfut__calloc(serving ? serving : 1, sizeof *mp->ranks);
    if (!mp || !mp->ranks || serving == 0) {
        /* Ranks beyond max_workers, or none at all, must still be let go. */
        cfut__buf b = {0};
        cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN);
        for (int r = 1; r < size; r++)
            send_frame(comm, r, b.data, b.len);
        cfut__buf_free(&b);
        MPI_Comm_free(&comm);
        if (mp)
            cfut__free(mp->ranks);
        cfut__free(mp);
        return serving == 0 ? CFUT_EINVAL : CFUT_ENOMEM;
    }
    pthread_mutex_init(&mp->mu, NULL);
    pthread_mutex_init(&mp->join_mu, NULL);
    mp->comm = comm;
    mp->nranks = n;
    mp->manager_joined = true;
    ex->impl = mp;
    /* Every serving rank gets its INIT now; ranks past max_workers are
     * released at once. */
    cfut__fnref fr = {"", 0, 0};
    cfut__wire_init init = {0};
    if (ex->opts.initializer &&
        cfut__fnref_of((cfut_fn)ex->opts.initializer, &fr) == CFUT_OK) {
        init.has_init = 1;
        init.init_path = (cfut__bytes){(const unsigned char *)fr.path, fr.path_len};
        init.init_offset = fr.offset;
        init.initarg = (cfut__bytes){ex->initarg, ex->opts.initarg_len};
    }
    for (size_t i = 0; i < serving; i++) {
        int r = (int)i + 1;
        mp->out.len = 0;
        if (i < n) {
            char name[32];
            snprintf(name, sizeof name, "%.10s_r%d", ex->name_prefix, r);
            name[15] = '\0'; /* the kernel keeps 15 bytes of a name */
            init.name = (cfut__bytes){(const unsigned char *)name, strlen(name)};
            init.index = (uint32_t)i;
            cfut__wire_put_init(&mp->out, &init);
            mp->ranks[i] = (mrank){.rank = r, .state = R_STARTING};
            mp->alive++;
        } else {
            cfut__wire_put_empty(&mp->out, CFUT__W_SHUTDOWN);
        }
        send_frame(comm, r, mp->out.data, mp->out.len);
    }
    mp->wakefd = cfut__eventfd();
    if (mp->wakefd < 0)
        return CFUT_ESYS;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    cfut__executor_retain(ex);
    rc = cfut__thread_create(&mp->manager, manager_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub(&ex->refs, 1);
        return CFUT_ESYS;
    }
    mp->manager_joined = false;
    track(ex, true);
    return CFUT_OK;
}

static void wake(mpool *mp)
{
    uint64_t one = 1;
    ssize_t r = write(mp->wakefd, &one, sizeof one);
    (void)r;
}

static void mp_submit(executor_t *ex, cfut__task *t)
{
    mpool *mp = pool_of(ex);
    cfut__fnref fr;
    cfut__outcome o = {0};
    if (cfut__fnref_of((cfut_fn)t->fn, &fr) != CFUT_OK)
        cfut__outcome_fail(&o, CFUT_EINVAL, 0,
                           "the task function is not code in any loaded object, so another "
                           "rank cannot find it");
    pthread_mutex_lock(&mp->mu);
    if (o.status == CFUT_OK && mp->broken)
        cfut__outcome_fail(&o, CFUT_EBROKEN, mp->broken_code, "%s",
                           mp->broken_msg ? mp->broken_msg : "executor is broken");
    else if (o.status == CFUT_OK && mp->shutdown)
        cfut__outcome_fail(&o, CFUT_ESHUTDOWN, 0, "executor_submit after executor_shutdown");
    if (o.status != CFUT_OK) {
        pthread_mutex_unlock(&mp->mu);
        cfut__future_complete(&t->fut, CFUT__FINISHED, &o);
        cfut__outcome_clear(&o);
        future_release(&t->fut);
        return;
    }
    cfut__queue_push(&mp->queue, t);
    pthread_mutex_unlock(&mp->mu);
    wake(mp);
}

static bool mp_cancel(executor_t *ex, cfut__task *t)
{
    mpool *mp = pool_of(ex);
    return cfut__queue_cancel(&mp->queue, &mp->mu, t);
}

static void join_manager(mpool *mp)
{
    pthread_mutex_lock(&mp->join_mu);
    if (!mp->manager_joined) {
        if (pthread_equal(mp->manager, pthread_self()))
            pthread_detach(mp->manager);
        else
            pthread_join(mp->manager, NULL);
        mp->manager_joined = true;
    }
    pthread_mutex_unlock(&mp->join_mu);
}

static int mp_shutdown(executor_t *ex, unsigned flags)
{
    mpool *mp = pool_of(ex);
    cfut__task *cancelled = NULL;
    pthread_mutex_lock(&mp->mu);
    mp->shutdown = true;
    /* Ranks cannot be killed: TERMINATE and KILL cancel what is queued. */
    if (flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL))
        cfut__queue_drain(&mp->queue, &cancelled, CFUT__CANCELLED, CFUT_ECANCELLED, 0,
                          "cancelled by executor_shutdown");
    pthread_mutex_unlock(&mp->mu);
    cfut__task_list_finish(cancelled);
    wake(mp);
    if (flags & EXECUTOR_WAIT)
        join_manager(mp);
    return CFUT_OK;
}

static void mp_finalize(executor_t *ex)
{
    join_manager(pool_of(ex));
    track(ex, false);
}

static void mp_destroy(executor_t *ex)
{
    mpool *mp = pool_of(ex);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && mp->comm != MPI_COMM_NULL)
        MPI_Comm_free(&mp->comm);
    if (mp->wakefd >= 0)
        close(mp->wakefd);
    cfut__buf_free(&mp->in);
    cfut__buf_free(&mp->out);
    cfut__free(mp->ranks);
    cfut__free(mp->broken_msg);
    pthread_mutex_destroy(&mp->mu);
    pthread_mutex_destroy(&mp->join_mu);
    cfut__free(mp);
}

static void mp_stats(executor_t *ex, executor_stats *out)
{
    mpool *mp = pool_of(ex);
    pthread_mutex_lock(&mp->mu);
    out->workers = mp->alive;
    out->idle = mp->idle;
    out->queued = mp->queue.len;
    out->running = mp->running;
    out->workers_started = mp->nranks;
    out->workers_lost = mp->lost;
    pthread_mutex_unlock(&mp->mu);
}

static size_t mp_capacity(executor_t *ex)
{
    return pool_of(ex)->nranks;
}

/* MPI and fork() do not mix; a forked child keeps no MPI executor working,
 * and a rank is never forked by cfut. These only keep the lock sane. */
static void mp_atfork_prepare(executor_t *ex)
{
    pthread_mutex_lock(&pool_of(ex)->mu);
}

static void mp_atfork_parent(executor_t *ex)
{
    pthread_mutex_unlock(&pool_of(ex)->mu);
}

static void mp_atfork_child(executor_t *ex, cfut__task **orphans)
{
    mpool *mp = pool_of(ex);
    static const char msg[] = "an MPI executor does not survive fork()";
    /* Tasks running on ranks answer the parent, never this child. */
    bool quiet = cfut__child_is_worker(); /* then the futures stay as they are */
    for (size_t i = 0; i < mp->nranks; i++) {
        mrank *r = &mp->ranks[i];
        if (r->state == R_BUSY && r->task && !quiet) {
            cfut__future_reset_lock(&r->task->fut);
            cfut__task_drain(r->task, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
            r->task = NULL;
        }
    }
    if (quiet) {
        mp->queue = (cfut__queue){0};
    } else {
        cfut__queue_reset_locks(&mp->queue);
        cfut__queue_drain(&mp->queue, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
    }
    mp->broken = true;
    mp->manager_joined = true;
    mp->comm = MPI_COMM_NULL;
    pthread_mutex_unlock(&mp->mu);
}

const cfut__backend cfut__mpi_backend = {
    .name = "mpi",
    .remote = true,
    .init = mp_init,
    .submit = mp_submit,
    .cancel = mp_cancel,
    .shutdown = mp_shutdown,
    .stats = mp_stats,
    .capacity = mp_capacity,
    .finalize = mp_finalize,
    .destroy = mp_destroy,
    .atfork_prepare = mp_atfork_prepare,
    .atfork_parent = mp_atfork_parent,
    .atfork_child = mp_atfork_child,
};
