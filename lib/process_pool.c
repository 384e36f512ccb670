/* lib/process_pool.c: the EXECUTOR_PROCESSES backend, parent side.
 *
 * One manager thread owns every worker: their channels, their pidfds, their
 * deadlines. Submitting threads only touch the queue (under pp->mu) and wake
 * the manager through an eventfd. The manager loops: hand queued tasks to
 * idle workers, start workers when none is idle, wait (epoll) for replies,
 * deaths and deadlines, complete futures. Because one thread sees both a
 * worker's channel and its death, it always knows which task a dead worker
 * was running: that task fails with CFUT_EWORKER, the worker is replaced,
 * and nothing else is disturbed.
 *
 * A worker's life: STARTING (INIT sent) -> READY received -> IDLE <-> BUSY
 * -> RETIRING (SHUTDOWN sent) -> reaped. Reaping is the only way out, and it
 * is where a task still held by the worker is failed.
 *
 * A busy worker may hold more than the task it runs: when work is queued
 * deep, tasks are sent behind it (pipelined, process.h), so the worker goes
 * from one to the next without waiting for this thread, and the manager
 * reads outcomes in batches. Those tasks stay PENDING until the outcome
 * before them arrives; cancelling one is a compare-and-swap on its slot in
 * the shared control page, which the worker does too before it starts it.
 * Their small outcomes come back in those slots, not as frames: no system
 * call on either side unless this thread sleeps (process.h, cfut__control).
 * If the worker dies, those it never started go back to the queue.
 *
 * Start methods: fork (from the manager thread), spawn (posix_spawn of the
 * program image; worker.c's constructor takes over before main), forkserver
 * (a spawned single-threaded server forks workers on request; the default).
 *
 * Lock order: pp->mu -> future lock. Futures are completed, and so user
 * callbacks run, on the manager thread with no lock held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "wire.h"

extern char **environ;

typedef enum { W_STARTING, W_IDLE, W_BUSY, W_RETIRING } wstate;

/* What an epoll event is about. */
typedef enum { SRC_WAKE, SRC_CHANNEL, SRC_PIDFD, SRC_FS_CHANNEL, SRC_FS_PIDFD } src_kind;
typedef struct source {
    src_kind kind;
    struct pworker *w;
} source;

typedef struct pworker {
    struct pworker *next;
    pid_t pid;             /* 0 until the forkserver tells */
    int fd;                /* channel, non-blocking; -1 once closed */
    int pidfd;             /* -1 if none (forkserver child not yet known) */
    bool own_child;        /* fork/spawn: we reap it; else the forkserver */
    bool in_fs_queue;      /* waiting for the forkserver's FORKED */
    unsigned index;
    wstate state;
    cfut__task *task;      /* BUSY: what it runs, first of those it holds */
    cfut__task *tail;      /* the last it holds (linked by ->next) */
    unsigned held;         /* tasks sent whose outcome is not read yet */
    unsigned nsent;        /* TASK frames sent: numbers the slots */
    _Atomic(cfut__task *) completing; /* as in thread_pool.c, for fork */
    uint64_t deadline_ns;  /* BUSY with task_timeout: when to stop it */
    unsigned ntasks;
    const char *doom;      /* why we stopped it, if we did */
    int doom_status;       /* what its task gets then */
    bool garbled;          /* it broke the protocol: read nothing more */
    bool reap_pending;     /* no pidfd: its channel closed, status not yet */
    bool writing;          /* EPOLLOUT armed */
    size_t out_sent;       /* bytes of `out` already sent */
    cfut__shm shm;         /* large values (shm.c); base NULL: none */
    size_t shm_arg_used;   /* bytes of the argument half last written */
    struct pworker *assigned_next; /* dispatch()'s batch */
    cfut__buf in, out;
    source src_chan, src_pid;
} pworker;

typedef struct ppool {
    pthread_mutex_t mu;    /* guards the queue and everything to `lost` */
    cfut__queue queue;
    size_t running, idle, alive, started, lost;
    size_t pipelined;      /* held by workers, PENDING: counted as queued */
    _Atomic uint64_t pushed; /* submissions so far; written under mu */
    bool shutdown, broken, forked;
    int terminate_sig;     /* SIGTERM / SIGKILL once asked to stop tasks */
    int broken_code;
    char *broken_msg;
    pthread_mutex_t join_mu;
    pthread_t manager;
    bool manager_joined;

    /* The manager thread's own. */
    int wakefd, epfd;
    _Atomic bool asleep;   /* after dispatch() looked at the queue: wake it */
    bool completed_one;    /* a future was completed since dispatch() last ran */
    bool look_again;       /* a submission came after dispatch() looked */
    source src_wake, src_fs_chan, src_fs_pid;
    pworker *workers;      /* the manager's; linked and unlinked under mu */
    size_t max_workers;
    unsigned next_index;
    uint64_t next_id;
    int sent_sig;          /* terminate_sig already delivered */
    char *exe;             /* the program image, for spawn and forkserver */
    char *image;           /* "CFUT_IMAGE=dev:ino" of that image, at init */
    pid_t fs_pid;
    int fs_fd, fs_pidfd;
    pworker *fs_wait[64];  /* FIFO of workers waiting for FORKED */
    size_t fs_wait_head, fs_wait_len;
} ppool;

static ppool *pool_of(executor_t *ex) { return ex->impl; }

static executor_start start_method(const executor_t *ex)
{
    return ex->opts.start == EXECUTOR_START_DEFAULT ? EXECUTOR_START_FORKSERVER
                                                    : ex->opts.start;
}

static void wake(ppool *pp)
{
    uint64_t one = 1;
    ssize_t r = write(pp->wakefd, &one, sizeof one);
    (void)r; /* a full counter already means "wake up" */
}

/* ---- the queue (under pp->mu) -------------------------------------------- */

/* Under pp->mu: an initializer failed or workers cannot start. */
static void break_pool(ppool *pp, cfut__task **list, int code, const char *msg)
{
    if (!pp->broken) {
        pp->broken = true;
        pp->broken_code = code;
        pp->broken_msg = cfut__strdup(msg);
    }
    cfut__queue_drain(&pp->queue, list, CFUT__FINISHED, CFUT_EBROKEN, code, msg);
}

/* ---- epoll --------------------------------------------------------------- */

static void watch(ppool *pp, int fd, source *s, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = s};
    epoll_ctl(pp->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void unwatch(ppool *pp, int fd)
{
    if (fd >= 0)
        epoll_ctl(pp->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- starting workers ---------------------------------------------------- */

/* A copy of fd above the ones the child gets, so dup2() onto those always
 * makes a new descriptor without CLOEXEC. The original stays open. */
static int above_child_fds(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, CFUT__CHILD_SHM_FD + 1);
}

/* Spawns the program image with `role`=CHILD_FD:our-pid[:CHILD_SHM_FD],
 * `chan` as CHILD_FD and `shm_fd` (if >= 0) as CHILD_SHM_FD, every other
 * descriptor closed, signals default and unblocked. */
static int spawn_role(ppool *pp, const char *role, int chan, int shm_fd, pid_t *pid)
{
    int c = above_child_fds(chan), m = shm_fd >= 0 ? above_child_fds(shm_fd) : -1;
    if (c < 0 || (shm_fd >= 0 && m < 0)) {
        int e = errno;
        if (c >= 0)
            close(c);
        return e;
    }
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = cfut__calloc(n + 3, sizeof *envp);
    char *marker = m >= 0 ? cfut__asprintf("%s=%d:%ld:%d", role, CFUT__CHILD_FD,
                                           (long)getpid(), CFUT__CHILD_SHM_FD)
                          : cfut__asprintf("%s=%d:%ld", role, CFUT__CHILD_FD, (long)getpid());
    if (!envp || !marker) {
        cfut__free(envp);
        cfut__free(marker);
        close(c);
        if (m >= 0)
            close(m);
        return ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CFUT_WORKER=", 12) != 0 &&
            strncmp(environ[i], "CFUT_FORKSERVER=", 16) != 0 &&
            strncmp(environ[i], CFUT__ENV_IMAGE "=", sizeof CFUT__ENV_IMAGE) != 0)
            envp[k++] = environ[i];
    envp[k++] = marker;
    if (pp->image)
        envp[k++] = pp->image;
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, c, CFUT__CHILD_FD);
    if (m >= 0)
        posix_spawn_file_actions_adddup2(&fa, m, CFUT__CHILD_SHM_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, m >= 0 ? CFUT__CHILD_SHM_FD + 1 : CFUT__CHILD_FD + 1);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {program_invocation_name, NULL};
    int rc = cfut__spawn_fault();
    if (rc == 0)
        rc = posix_spawn(pid, pp->exe, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    cfut__free(marker);
    cfut__free(envp);
    close(c);
    if (m >= 0)
        close(m);
    return rc;
}

static void close_pool_fds(ppool *pp)
{
    for (pworker *w = pp->workers; w; w = w->next) {
        if (w->fd >= 0)
            close(w->fd);
        if (w->pidfd >= 0)
            close(w->pidfd);
        if (w->shm.fd >= 0)
            close(w->shm.fd);
        w->fd = w->pidfd = w->shm.fd = -1;
    }
    if (pp->fs_fd >= 0)
        close(pp->fs_fd);
    if (pp->fs_pidfd >= 0)
        close(pp->fs_pidfd);
    if (pp->epfd >= 0)
        close(pp->epfd);
    if (pp->wakefd >= 0)
        close(pp->wakefd);
    pp->fs_fd = pp->fs_pidfd = pp->epfd = pp->wakefd = -1;
}

static int start_forkserver(ppool *pp)
{
    int sv[2];
    if (cfut__socketpair(SOCK_SEQPACKET, sv) != 0)
        return errno;
    pid_t pid;
    int rc = spawn_role(pp, CFUT__ENV_FORKSERVER, sv[1], -1, &pid);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return rc;
    }
    pp->fs_pid = pid;
    pp->fs_fd = sv[0];
    pp->fs_pidfd = pidfd_open(pid, 0);
    watch(pp, pp->fs_fd, &pp->src_fs_chan, EPOLLIN);
    if (pp->fs_pidfd >= 0)
        watch(pp, pp->fs_pidfd, &pp->src_fs_pid, EPOLLIN);
    return 0;
}

/* Asks the forkserver for a worker on channel `chan` with shared memory
 * `shm_fd` (-1: none). */
static int request_fork(ppool *pp, int chan, int shm_fd)
{
    if (pp->fs_fd < 0) {
        int rc = start_forkserver(pp);
        if (rc != 0)
            return rc;
    }
    if (pp->fs_wait_len == sizeof pp->fs_wait / sizeof pp->fs_wait[0])
        return EAGAIN;
    cfut__buf b = {0};
    if (cfut__wire_put_empty(&b, CFUT__W_FORK) != CFUT_OK)
        return ENOMEM;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    int fds[2] = {chan, shm_fd};
    size_t nfds = shm_fd >= 0 ? 2 : 1;
    struct iovec iov = {b.data, b.len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    ssize_t r;
    do
        r = sendmsg(pp->fs_fd, &msg, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    int e = r < 0 ? errno : 0;
    cfut__buf_free(&b);
    return e;
}

/* Forks a worker from this (the manager) thread. */
static int fork_worker(ppool *pp, int chan, int parent_end, int shm_fd, pid_t *pid)
{
    pid_t self = getpid();
    fflush(stdout); /* or the child's copies would print them again */
    fflush(stderr);
    cfut__forking_worker = true;
    *pid = cfut__fork();
    cfut__forking_worker = false;
    if (*pid < 0)
        return errno;
    if (*pid == 0) {
        /* Like a spawned worker, keep stdin, stdout, stderr, the channel
         * (CHILD_FD) and the shared memory (CHILD_SHM_FD), nothing else: a
         * worker holding another pool's channel or forkserver socket would
         * keep that pool from ever seeing EOF. */
        (void)parent_end;
        /* Nor its siblings' shared memory (the mappings survive the close). */
        for (pworker *s = pp->workers; s; s = s->next)
            if (s->shm.base)
                munmap(s->shm.base, CFUT__SHM_SIZE);
        int c = fcntl(chan, F_DUPFD, CFUT__CHILD_SHM_FD + 1);
        int m = shm_fd >= 0 ? fcntl(shm_fd, F_DUPFD, CFUT__CHILD_SHM_FD + 1) : -1;
        if (c < 0 || dup2(c, CFUT__CHILD_FD) < 0 ||
            (m >= 0 && dup2(m, CFUT__CHILD_SHM_FD) < 0))
            _exit(2);
        close_range(m >= 0 ? CFUT__CHILD_SHM_FD + 1 : CFUT__CHILD_FD + 1, ~0U, 0);
        cfut__worker_main(CFUT__CHILD_FD, self, m >= 0 ? CFUT__CHILD_SHM_FD : -1);
    }
    return 0;
}

static void stop_worker(pworker *w, int sig, const char *why, int status);

/* Starts one worker (STARTING, INIT queued). errno-style code on failure. */
static int start_worker(executor_t *ex, ppool *pp)
{
    pworker *w = cfut__calloc(1, sizeof *w);
    if (!w)
        return ENOMEM;
    int sv[2];
    if (cfut__socketpair(SOCK_STREAM, sv) != 0) {
        int e = errno;
        cfut__free(w);
        return e;
    }
    w->index = pp->next_index;
    w->pidfd = -1;
    /* Without shared memory the worker still works: values then all go
     * through its channel. */
    if (cfut__shm_create(&w->shm) != 0)
        w->shm = (cfut__shm){-1, NULL};
    int rc = 0;
    switch (start_method(ex)) {
    case EXECUTOR_START_FORK:
        rc = fork_worker(pp, sv[1], sv[0], w->shm.fd, &w->pid);
        w->own_child = true;
        break;
    case EXECUTOR_START_SPAWN:
        rc = spawn_role(pp, CFUT__ENV_WORKER, sv[1], w->shm.fd, &w->pid);
        w->own_child = true;
        break;
    default:
        rc = request_fork(pp, sv[1], w->shm.fd);
        break;
    }
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        cfut__shm_close(&w->shm);
        cfut__free(w);
        return rc;
    }
    pp->next_index++;
    w->fd = sv[0];
    fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
    w->src_chan = (source){SRC_CHANNEL, w};
    w->src_pid = (source){SRC_PIDFD, w};
    if (w->own_child) {
        w->pidfd = pidfd_open(w->pid, 0);
        if (w->pidfd >= 0)
            watch(pp, w->pidfd, &w->src_pid, EPOLLIN);
    } else {
        w->in_fs_queue = true;
        pp->fs_wait[(pp->fs_wait_head + pp->fs_wait_len++) % 64] = w;
    }
    watch(pp, w->fd, &w->src_chan, EPOLLIN);

    char name[16];
    int digits = snprintf(NULL, 0, "_%u", w->index);
    snprintf(name, sizeof name, "%.*s_%u", 15 - digits, ex->name_prefix, w->index);
    cfut__wire_init init = {.name = {(const unsigned char *)name, strlen(name)},
                            .index = w->index};
    cfut__fnref fr = {"", 0, 0};
    if (ex->opts.initializer &&
        cfut__fnref_of((cfut_fn)ex->opts.initializer, &fr) == CFUT_OK) {
        init.has_init = 1;
        init.init_path = (cfut__bytes){(const unsigned char *)fr.path, fr.path_len};
        init.init_offset = fr.offset;
        init.initarg = (cfut__bytes){ex->initarg, ex->opts.initarg_len};
    }
    if (cfut__wire_put_init(&w->out, &init) != CFUT_OK) /* it waits for INIT: stop it */
        stop_worker(w, SIGKILL, "its INIT frame could not be encoded", CFUT_ENOMEM);

    w->state = W_STARTING;
    pthread_mutex_lock(&pp->mu); /* cancel and shutdown walk the list under it */
    w->next = pp->workers;
    pp->workers = w;
    pp->alive++;
    pp->started++;
    pthread_mutex_unlock(&pp->mu);
    return 0;
}

/* ---- talking to workers (manager thread) --------------------------------- */

static void stop_worker(pworker *w, int sig, const char *why, int status)
{
    if (!w->doom) {
        w->doom = why;
        w->doom_status = status;
    }
    if (w->pidfd >= 0)
        pidfd_send_signal(w->pidfd, sig, NULL, 0);
    else if (w->pid > 0)
        kill(w->pid, sig);
}

/* Writes what it can of w->out; arms EPOLLOUT for the rest. */
static void flush(ppool *pp, pworker *w)
{
    /* The buffer empties when all of it is sent; until then an offset
     * moves, not the bytes (a 100 MiB frame is sent in many pieces). */
    while (w->out_sent < w->out.len && w->fd >= 0) {
        ssize_t n = send(w->fd, w->out.data + w->out_sent, w->out.len - w->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            w->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        w->out_sent = w->out.len; /* the worker is gone: its death says the rest */
        break;
    }
    if (w->out_sent == w->out.len)
        w->out.len = w->out_sent = 0;
    bool want = w->out.len > 0 && w->fd >= 0;
    if (want != w->writing && w->fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.ptr = &w->src_chan};
        epoll_ctl(pp->epfd, EPOLL_CTL_MOD, w->fd, &ev);
        w->writing = want;
    }
}

static void describe_exit(char *buf, size_t n, int how, int value)
{
    if (how == CLD_EXITED && value < 0)
        snprintf(buf, n, "exited (reaped by someone else: status unknown)");
    else if (how == CLD_EXITED)
        snprintf(buf, n, "exited with status %d", value);
    else
        snprintf(buf, n, "was killed by signal %d (%s)", value, sigabbrev_np(value)
                 ? sigabbrev_np(value) : "unknown");
}

static void read_channel(executor_t *ex, ppool *pp, pworker *w);
static bool read_slots(executor_t *ex, ppool *pp, pworker *w);

/* Whether w, dead or being killed, never started t: t was sent ahead and
 * its slot is still FREE. Then it never will: the slot says CANCELLED. */
static bool never_started(pworker *w, cfut__task *t)
{
    return t->pipelined && w->shm.base && cfut__slot_take(&w->shm, t->slot, CFUT__SLOT_CANCELLED);
}

/* The worker is dead (reaped): fail what it held, forget it. */
static void worker_gone(executor_t *ex, ppool *pp, pworker *w, int how, int value)
{
    read_channel(ex, pp, w); /* an outcome sent just before dying counts */
    read_slots(ex, pp, w);   /* and one left in a slot */
    char exit_text[96];
    describe_exit(exit_text, sizeof exit_text, how, value);
    cfut__task *orphans = NULL, *unstarted = NULL;
    pthread_mutex_lock(&pp->mu);
    cfut__task *t = w->task;
    w->task = w->tail = NULL;
    w->held = 0;
    while (t) {
        cfut__task *next = t->next;
        t->next = NULL;
        if (future_running(&t->fut) && never_started(w, t) && cfut__future_unstart(&t->fut)) {
            /* Marked running when the outcome before it was read; its slot
             * says the worker never got to it. */
            pp->running--;
            pp->pipelined++;
        }
        if (future_running(&t->fut)) {
            pp->running--;
            if (w->doom)
                cfut__task_drain(t, &orphans, CFUT__FINISHED, w->doom_status, 0,
                                 "worker pid %ld %s: %s", (long)w->pid, exit_text, w->doom);
            else
                cfut__task_drain(t, &orphans, CFUT__FINISHED, CFUT_EWORKER, 0,
                                 "worker pid %ld %s while running the task", (long)w->pid,
                                 exit_text);
        } else if (future_done(&t->fut)) { /* cancelled while held: only a reference */
            cfut__task_drain(t, &orphans, CFUT__CANCELLED, CFUT_ECANCELLED, 0, "cancelled");
        } else if (pp->broken) {
            pp->pipelined--;
            cfut__task_drain(t, &orphans, CFUT__FINISHED, CFUT_EBROKEN, pp->broken_code, "%s",
                             pp->broken_msg ? pp->broken_msg : "executor is broken");
        } else if (pp->terminate_sig) {
            pp->pipelined--;
            cfut__task_drain(t, &orphans, CFUT__CANCELLED, CFUT_ECANCELLED, 0,
                             "cancelled by executor_shutdown");
        } else { /* never started: it goes back to the queue, in order */
            pp->pipelined--;
            t->next = unstarted;
            unstarted = t;
        }
        t = next;
    }
    while (unstarted) {
        cfut__task *next = unstarted->next;
        cfut__queue_push_front(&pp->queue, unstarted);
        unstarted = next;
    }
    if (w->state == W_STARTING && !w->doom && !pp->shutdown) {
        /* It died before saying READY: its initializer (or its start)
         * killed it. Starting more would die the same way. */
        char msg[160];
        snprintf(msg, sizeof msg, "a worker died while starting: pid %ld %s", (long)w->pid,
                 exit_text);
        break_pool(pp, &orphans, 0, msg);
    }
    if (w->state == W_IDLE)
        pp->idle--;
    if (w->state != W_RETIRING || w->doom)
        pp->lost++;
    pp->alive--;
    /* Off the list under the lock: cancel and shutdown walk it there, and
     * w is freed below. */
    for (pworker **pw = &pp->workers; *pw; pw = &(*pw)->next)
        if (*pw == w) {
            *pw = w->next;
            break;
        }
    pthread_mutex_unlock(&pp->mu);
    cfut__task_list_finish(orphans);

    if (w->fd >= 0) {
        unwatch(pp, w->fd);
        close(w->fd);
    }
    if (w->pidfd >= 0) {
        unwatch(pp, w->pidfd);
        close(w->pidfd);
    }
    cfut__shm_close(&w->shm);
    cfut__buf_free(&w->in);
    cfut__buf_free(&w->out);
    cfut__free(w);
}

/* Tells a RETIRING worker to exit; one that cannot be told is stopped (it
 * would wait for a frame forever, and the pool for its exit). */
static void tell_to_exit(ppool *pp, pworker *w)
{
    if (cfut__wire_put_empty(&w->out, CFUT__W_SHUTDOWN) == CFUT_OK)
        flush(pp, w);
    else
        stop_worker(w, SIGKILL, "it could not be told to exit (out of memory)", CFUT_ENOMEM);
}

static void protocol_error(pworker *w, const char *why)
{
    w->garbled = true;
    stop_worker(w, SIGKILL, why, CFUT_ESERIALIZE);
}

static void on_ready(executor_t *ex, ppool *pp, pworker *w, const unsigned char *p, size_t n)
{
    cfut__wire_outcome m;
    if (w->state != W_STARTING || cfut__wire_get_outcome(p, n, &m) != CFUT_OK) {
        protocol_error(w, "the worker sent a malformed READY frame");
        return;
    }
    /* Its pid comes from fork, spawn or the forkserver, never from what it
     * says: a pid the parent would signal must not be the worker's choice. */
    if (m.status == CFUT_OK) {
        /* A worker that could not map the region says so: then every value
         * goes through its channel. */
        if (!(m.flags & CFUT__WIRE_IN_SHM))
            cfut__shm_close(&w->shm);
        pthread_mutex_lock(&pp->mu);
        w->state = W_IDLE;
        pp->idle++;
        pthread_mutex_unlock(&pp->mu);
        return;
    }
    /* The initializer failed: the pool breaks. The worker exits by itself;
     * SHUTDOWN says so too, should it not know it failed. */
    char *msg = cfut__asprintf("a worker's initializer failed (code %d): %.*s", m.code,
                               (int)m.message.len, (const char *)m.message.p);
    cfut__task *orphans = NULL;
    pthread_mutex_lock(&pp->mu);
    w->state = W_RETIRING;
    break_pool(pp, &orphans, m.code, msg ? msg : "a worker's initializer failed");
    pthread_mutex_unlock(&pp->mu);
    tell_to_exit(pp, w);
    cfut__free(msg);
    cfut__task_list_finish(orphans);
    (void)ex;
}

static void on_outcome(executor_t *ex, ppool *pp, pworker *w, const unsigned char *p, size_t n)
{
    cfut__wire_outcome m;
    cfut__outcome o = {0};
    cfut__task *t = w->task;
    if (w->state != W_BUSY || !t) {
        protocol_error(w, "the worker sent an outcome it was not asked for");
        return;
    }
    int rc = cfut__wire_get_outcome(p, n, &m);
    if (rc == CFUT_OK && m.id != 0 && m.id != (uint64_t)(uintptr_t)t)
        rc = CFUT_ESERIALIZE;
    if (rc == CFUT_OK)
        rc = cfut__wire_outcome_to(&m, w->shm.base ? w->shm.base + CFUT__SHM_RESULT : NULL,
                                   CFUT__SHM_HALF, &o);
    if (rc == CFUT_OK && (m.flags & CFUT__WIRE_IN_SHM))
        cfut__shm_trim(&w->shm, CFUT__SHM_RESULT, (size_t)m.shm_len);
    cfut__shm_trim(&w->shm, 0, w->shm_arg_used);
    w->shm_arg_used = 0;
    if (rc == CFUT_ENOMEM) {
        /* A good reply, and no memory to keep its value: the task fails,
         * the worker (its channel in step) stays. */
        cfut__outcome_clear(&o);
        cfut__outcome_fail(&o, CFUT_ENOMEM, 0, "out of memory for the task's result");
    } else if (rc != CFUT_OK) {
        /* Its answer is lost; so is our trust in its channel. */
        protocol_error(w, "its reply could not be decoded");
        return;
    }
    unsigned max = ex->opts.max_tasks_per_worker;
    pthread_mutex_lock(&pp->mu);
    w->task = t->next;
    if (!w->task)
        w->tail = NULL;
    w->held--;
    t->next = NULL;
    bool ghost = future_done(&t->fut); /* cancelled while it waited there */
    if (!ghost)
        pp->running--;
    atomic_store_explicit(&w->completing, t, memory_order_relaxed);
    w->ntasks++;
    if (w->task) {
        /* The worker starts the next one now (or skips it, cancelled). */
        if (cfut__future_start(&w->task->fut)) {
            pp->pipelined--;
            pp->running++;
        }
        w->deadline_ns = ex->opts.task_timeout > 0
                             ? cfut__now_ns() + (uint64_t)(ex->opts.task_timeout * 1e9) : 0;
    } else if (max && w->ntasks >= max) {
        w->state = W_RETIRING; /* replaced on demand by dispatch() */
    } else {
        w->state = W_IDLE;
        pp->idle++;
    }
    pthread_mutex_unlock(&pp->mu);
    if (ghost) {
        cfut__outcome_clear(&o);
        atomic_store_explicit(&w->completing, NULL, memory_order_release);
        future_release(&t->fut); /* the queue's reference */
        return;
    }
    if (w->state == W_RETIRING)
        tell_to_exit(pp, w);
    if (o.status != CFUT_OK && o.message && m.pid) {
        /* Say where it failed: the worker's pid is the origin. */
        char *with = cfut__asprintf("%s [worker pid %u]", o.message, m.pid);
        if (with) {
            cfut__free(o.message);
            o.message = with;
        }
    }
    cfut__executor_finish(t, &o);
    pp->completed_one = true;
    atomic_store_explicit(&w->completing, NULL, memory_order_release);
    future_release(&t->fut); /* the queue's reference */
}

/* Completes, in order, the outcomes w's worker left in the slots of the
 * tasks at the front of those it holds (process.h, cfut__control). True if
 * it found any. */
static bool read_slots(executor_t *ex, ppool *pp, pworker *w)
{
    bool found = false;
    while (w->state == W_BUSY && w->task && w->shm.base && !w->garbled) {
        cfut__slot *s = cfut__shm_slot_of(&w->shm, w->task->slot);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != CFUT__SLOT_DONE)
            break;
        /* A copy: the worker's memory is not ours to trust twice (the length
         * is read once, atomically, so the compiler cannot read it again). */
        unsigned char p[CFUT__SLOT_OUTCOME];
        uint32_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
        if (len > sizeof p) {
            protocol_error(w, "the worker left a malformed outcome in its slot");
            break;
        }
        memcpy(p, s->outcome, len);
        on_outcome(ex, pp, w, p, len);
        found = true;
    }
    return found;
}

/* Reads every worker's slots; true if an outcome was found. */
static bool read_all_slots(executor_t *ex, ppool *pp)
{
    bool found = false;
    for (pworker *w = pp->workers; w; w = w->next)
        found |= read_slots(ex, pp, w);
    return found;
}

/* Before the manager sleeps: asks each busy worker to ring when it leaves
 * an outcome in a slot (process.h), then looks at the slots once more.
 * True if it found an outcome there (do not sleep). */
static bool ask_for_doorbells(executor_t *ex, ppool *pp)
{
    for (pworker *w = pp->workers; w; w = w->next)
        if (w->state == W_BUSY && w->shm.base)
            atomic_store(&cfut__shm_control(&w->shm)->parent_asleep, 1);
    /* Store, then load: read_slots()'s acquire loads could otherwise be
     * ordered before the stores above, and both sides miss each other. */
    atomic_thread_fence(memory_order_seq_cst);
    return read_all_slots(ex, pp);
}

static void stop_asking(ppool *pp)
{
    for (pworker *w = pp->workers; w; w = w->next)
        if (w->shm.base)
            atomic_store_explicit(&cfut__shm_control(&w->shm)->parent_asleep, 0,
                                  memory_order_relaxed);
}

static void read_channel(executor_t *ex, ppool *pp, pworker *w)
{
    while (w->fd >= 0) {
        if (cfut__buf_reserve(&w->in, 65536) != CFUT_OK)
            break;
        size_t room = w->in.cap - w->in.len;
        ssize_t n = recv(w->fd, w->in.data + w->in.len, room, MSG_DONTWAIT);
        if (n > 0) {
            w->in.len += (size_t)n;
            /* Whole frames only. A worker being stopped may still finish
             * its task first: that outcome stands. */
            while (w->in.len >= CFUT__WIRE_HEADER && !w->garbled) {
                cfut__wire_kind kind;
                size_t len;
                if (cfut__wire_header(w->in.data, CFUT__WIRE_MAX_DEFAULT, &kind, &len) !=
                    CFUT_OK) {
                    protocol_error(w, "the worker sent a malformed frame header");
                    break;
                }
                if (w->in.len - CFUT__WIRE_HEADER < len)
                    break;
                const unsigned char *p = w->in.data + CFUT__WIRE_HEADER;
                /* Outcomes left in slots come before this frame's. */
                read_slots(ex, pp, w);
                if (w->garbled)
                    break;
                if (kind == CFUT__W_READY)
                    on_ready(ex, pp, w, p, len);
                else if (kind == CFUT__W_OUTCOME)
                    on_outcome(ex, pp, w, p, len);
                else if (kind == CFUT__W_DOORBELL)
                    ; /* the manager reads every slot after its events */
                else
                    protocol_error(w, "the worker sent a frame of the wrong kind");
                cfut__buf_consume(&w->in, CFUT__WIRE_HEADER + len);
            }
            if (w->garbled)
                w->in.len = 0;
            /* A short read emptied the socket (a stream socket's recv takes
             * every queued message that fits, as long as no credentials or
             * descriptors travel on it, and none do on a worker's
             * channel): what comes next, or EOF,
             * wakes the level-triggered epoll again. Not asking once more
             * only to hear EAGAIN saves a system call per wake-up. */
            if ((size_t)n < room)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* EOF or error: the worker is exiting; its death comes separately
         * (its pidfd, the forkserver's EXITED, or reap_without_pidfd). */
        unwatch(pp, w->fd);
        close(w->fd);
        w->fd = -1;
        if (w->own_child && w->pidfd < 0)
            w->reap_pending = true;
        return;
    }
}

static void reap_own(executor_t *ex, ppool *pp, pworker *w)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) != 0) {
        if (errno != ECHILD)
            return;
        /* Reaped behind our back (SIGCHLD ignored, or a waitpid(-1) loop
         * in the program): it is gone all the same. */
        worker_gone(ex, pp, w, CLD_EXITED, -1);
        return;
    }
    if (si.si_pid == 0)
        return; /* not yet */
    worker_gone(ex, pp, w, si.si_code == CLD_EXITED ? CLD_EXITED : CLD_KILLED, si.si_status);
}

/* Without a pidfd (pidfd_open() is ENOSYS under valgrind 3.19, on kernels
 * before 5.3 and in some sandboxes) an own child's death shows as EOF on its
 * channel, which only it holds; its status follows shortly. Tries to reap
 * every such worker: 1 if one was reaped (dispatch must look again), 0 if
 * some are still pending, -1 if none is. */
static int reap_without_pidfd(executor_t *ex, ppool *pp)
{
    int result = -1;
    pworker *w = pp->workers;
    while (w) {
        pworker *next = w->next;
        if (w->reap_pending) {
            int st;
            pid_t r = waitpid(w->pid, &st, WNOHANG);
            if (r == w->pid) {
                worker_gone(ex, pp, w, WIFEXITED(st) ? CLD_EXITED : CLD_KILLED,
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                result = 1;
            } else if (r < 0 && errno == ECHILD) {
                worker_gone(ex, pp, w, CLD_EXITED, -1); /* reaped by someone else */
                result = 1;
            } else if (result < 0) {
                result = 0;
            }
        }
        w = next;
    }
    return result;
}

static pworker *find_pid(ppool *pp, pid_t pid)
{
    for (pworker *w = pp->workers; w; w = w->next)
        if (!w->own_child && w->pid == pid)
            return w;
    return NULL;
}

static void forkserver_gone(executor_t *ex, ppool *pp)
{
    /* Its workers die with it (PR_SET_PDEATHSIG). */
    if (pp->fs_fd >= 0) {
        unwatch(pp, pp->fs_fd);
        close(pp->fs_fd);
    }
    if (pp->fs_pidfd >= 0) {
        unwatch(pp, pp->fs_pidfd);
        close(pp->fs_pidfd);
    }
    if (pp->fs_pid > 0)
        waitpid(pp->fs_pid, NULL, 0);
    pp->fs_fd = pp->fs_pidfd = -1;
    pp->fs_pid = 0;
    pp->fs_wait_len = 0;
    pworker *w = pp->workers;
    while (w) {
        pworker *next = w->next;
        if (!w->own_child) {
            stop_worker(w, SIGKILL, "its forkserver died", CFUT_EWORKER);
            worker_gone(ex, pp, w, CLD_KILLED, SIGKILL);
        }
        w = next;
    }
}

static void read_forkserver(executor_t *ex, ppool *pp)
{
    for (;;) {
        unsigned char buf[64];
        ssize_t n = recv(pp->fs_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        cfut__wire_kind kind;
        size_t len;
        cfut__wire_exit m;
        if (n <= 0 || cfut__wire_header(buf, 64, &kind, &len) != CFUT_OK ||
            (size_t)n != CFUT__WIRE_HEADER + len ||
            cfut__wire_get_exit(buf + CFUT__WIRE_HEADER, len, &m) != CFUT_OK) {
            forkserver_gone(ex, pp); /* EOF or nonsense: start a new one later */
            return;
        }
        if (kind == CFUT__W_FORKED && pp->fs_wait_len) {
            pworker *w = pp->fs_wait[pp->fs_wait_head];
            pp->fs_wait_head = (pp->fs_wait_head + 1) % 64;
            pp->fs_wait_len--;
            w->in_fs_queue = false;
            if (m.pid == 0) { /* fork failed in the server */
                stop_worker(w, SIGKILL, "the forkserver could not fork it", CFUT_ESYS);
                worker_gone(ex, pp, w, CLD_EXITED, m.wait_status);
                continue;
            }
            w->pid = (pid_t)m.pid;
            w->pidfd = pidfd_open(w->pid, 0); /* for signals only */
            if (w->doom) /* stopped before we knew whom to signal */
                stop_worker(w, SIGKILL, w->doom, w->doom_status);
        } else if (kind == CFUT__W_EXITED) {
            pworker *w = find_pid(pp, (pid_t)m.pid);
            int st = m.wait_status;
            if (w)
                worker_gone(ex, pp, w, WIFEXITED(st) ? CLD_EXITED : CLD_KILLED,
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        } else {
            forkserver_gone(ex, pp);
            return;
        }
    }
}

/* ---- the manager loop ---------------------------------------------------- */

/* Under pp->mu: w holds t from now on (sent, outcome awaited). */
static void hold(pworker *w, cfut__task *t)
{
    t->next = NULL;
    if (w->tail)
        w->tail->next = t;
    else
        w->task = t;
    w->tail = t;
    w->held++;
}

/* Appends t's TASK frame to w->out. A task that runs first (not pipelined)
 * may have its argument, and its result, in the shared memory. */
static int send_task(pworker *w, cfut__task *t, bool pipelined)
{
    cfut__fnref fr;
    int rc = cfut__fnref_of((cfut_fn)t->fn, &fr);
    if (rc != CFUT_OK)
        return rc;
    const void *arg = cfut__task_arg(t);
    size_t len = cfut__task_arg_len(t);
    bool in_shm = !pipelined && w->shm.base && len >= CFUT__SHM_MIN && len <= CFUT__SHM_HALF;
    if (in_shm) {
        memcpy(w->shm.base, arg, len);
        w->shm_arg_used = len;
    }
    t->slot = (uint8_t)(w->nsent % CFUT__PIPELINE);
    t->pipelined = pipelined;
    if (w->shm.base) /* its last user's outcome has been read (held < PIPELINE) */
        atomic_store(cfut__shm_slot(&w->shm, w->nsent), CFUT__SLOT_FREE);
    rc = cfut__wire_put_task(&w->out, (uint64_t)(uintptr_t)t, &fr, arg, len,
                             (in_shm ? CFUT__WIRE_IN_SHM : 0u) |
                             (pipelined ? CFUT__WIRE_PIPELINED : 0u));
    if (rc == CFUT_OK)
        w->nsent++;
    return rc;
}

/* With work queued deeper than the pool is wide, sends tasks behind those
 * that busy workers run, round robin, at most `depth` held per worker; the
 * depth grows with the backlog, so a short queue still goes to whichever
 * worker frees first. Only small arguments: the shared memory belongs to the
 * task a worker runs. A task that cannot be encoded stays queued; it fails
 * when it goes to a worker on its own. */
static void pipeline(executor_t *ex, ppool *pp)
{
    pthread_mutex_lock(&pp->mu);
    size_t depth = 1 + pp->queue.len / (16 * pp->max_workers);
    if (depth > CFUT__PIPELINE)
        depth = CFUT__PIPELINE;
    unsigned max = ex->opts.max_tasks_per_worker;
    for (bool more = depth > 1; more;) {
        more = false;
        for (pworker *w = pp->workers; w && pp->queue.head; w = w->next) {
            cfut__task *t = pp->queue.head;
            if (w->state != W_BUSY || w->doom || w->fd < 0 || !w->shm.base || w->held >= depth ||
                (max && w->nsent >= max) || cfut__task_arg_len(t) >= CFUT__SHM_MIN)
                continue;
            cfut__queue_pop(&pp->queue);
            if (send_task(w, t, true) != CFUT_OK) {
                cfut__queue_push_front(&pp->queue, t);
                goto out;
            }
            hold(w, t);
            pp->pipelined++;
            more = true;
        }
    }
out:
    pthread_mutex_unlock(&pp->mu);
}

/* Spins for up to CFUT__SPIN_NS until a submission is made after `seen`;
 * true if one was. Otherwise leaves pp->asleep set, as dispatch() does
 * before a sleep. A caller that waits for each result before it submits
 * again (W2) then costs neither its eventfd write nor our wake-up: on the
 * VMs we measure on, a wake-up is tens of microseconds. */
static bool await_submission(ppool *pp, uint64_t seen)
{
    uint64_t until = cfut__now_ns() + CFUT__SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&pp->pushed, memory_order_relaxed) != seen)
            return true;
        __builtin_ia32_pause();
        if (i % 64 == 0 && cfut__now_ns() >= until)
            break;
    }
    pthread_mutex_lock(&pp->mu);
    bool more = atomic_load_explicit(&pp->pushed, memory_order_relaxed) != seen;
    atomic_store(&pp->asleep, !more);
    pthread_mutex_unlock(&pp->mu);
    return more;
}

/* Hands queued tasks to idle workers (and pipelines more), starts workers,
 * retires idle ones at shutdown. Returns false once the pool is finished. */
static bool dispatch(executor_t *ex, ppool *pp)
{
    pworker *assigned = NULL;
    cfut__task *failed = NULL;
    pthread_mutex_lock(&pp->mu);
    uint64_t seen = atomic_load_explicit(&pp->pushed, memory_order_relaxed);
    for (pworker *w = pp->workers; w && pp->queue.head; w = w->next) {
        /* A closed channel: the worker is dying (its last outcome may have
         * made it idle); a task given to it would be blamed for the death. */
        if (w->state != W_IDLE || w->doom || w->fd < 0)
            continue;
        cfut__task *t = cfut__queue_pop(&pp->queue);
        bool started = cfut__future_start(&t->fut);
        CFUT_ASSERT(started);
        hold(w, t);
        w->state = W_BUSY;
        pp->idle--;
        pp->running++;
        w->assigned_next = assigned;
        assigned = w;
    }
    size_t starting = 0, busy = 0;
    for (pworker *w = pp->workers; w; w = w->next) {
        starting += w->state == W_STARTING;
        busy += w->state == W_BUSY;
    }
    size_t want = pp->queue.len > starting ? pp->queue.len - starting : 0;
    size_t room = pp->max_workers > pp->alive ? pp->max_workers - pp->alive : 0;
    size_t to_start = pp->broken ? 0 : (want < room ? want : room);
    int sig = pp->terminate_sig;
    bool retire = pp->shutdown && !pp->queue.head && busy == 0 && starting == 0;
    bool finished = retire && pp->alive == 0;
    pthread_mutex_unlock(&pp->mu);

    uint64_t now = cfut__now_ns();
    for (pworker *w = assigned; w; w = w->assigned_next) {
        cfut__task *t = w->task;
        int rc = send_task(w, t, false);
        if (rc != CFUT_OK) {
            pthread_mutex_lock(&pp->mu);
            w->task = w->tail = NULL;
            w->held = 0;
            w->state = W_IDLE;
            pp->idle++;
            pp->running--;
            pthread_mutex_unlock(&pp->mu);
            cfut__outcome o = {0};
            cfut__outcome_fail(&o, rc, 0, rc == CFUT_ESERIALIZE
                               ? "the argument (%zu bytes) is too large for the wire"
                               : "the task could not be encoded (%zu-byte argument)",
                               cfut__task_arg_len(t));
            cfut__executor_finish(t, &o);
            future_release(&t->fut);
            continue;
        }
        w->deadline_ns = ex->opts.task_timeout > 0
                             ? now + (uint64_t)(ex->opts.task_timeout * 1e9) : 0;
    }
    pipeline(ex, pp);

    for (size_t i = 0; i < to_start; i++) {
        int rc = start_worker(ex, pp);
        if (rc == 0)
            continue;
        pthread_mutex_lock(&pp->mu);
        if (pp->alive == 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "cannot start a worker process: %s", strerror(rc));
            cfut__queue_drain(&pp->queue, &failed, CFUT__FINISHED, rc == ENOMEM ? CFUT_ENOMEM : CFUT_ESYS,
                        0, msg);
        }
        pthread_mutex_unlock(&pp->mu);
        break;
    }
    cfut__task_list_finish(failed);

    for (pworker *w = pp->workers; w; w = w->next) {
        if (sig && pp->sent_sig != sig && w->state != W_RETIRING)
            stop_worker(w, sig, "stopped by executor_shutdown", CFUT_EWORKER);
        if (w->out.len > w->out_sent && !w->writing)
            flush(pp, w); /* INIT and TASK frames */
        if (retire && w->state == W_IDLE) {
            pthread_mutex_lock(&pp->mu);
            w->state = W_RETIRING;
            pp->idle--;
            pthread_mutex_unlock(&pp->mu);
            tell_to_exit(pp, w);
        }
    }
    if (sig)
        pp->sent_sig = sig;
    /* From here until epoll_wait() returns, a submission must wake us; one
     * made since we looked at the queue, we look at again. Having just
     * completed a future with no worker busy, we first wait a little for
     * the next submission without sleeping, if a CPU is spare. */
    pthread_mutex_lock(&pp->mu);
    bool more = atomic_load_explicit(&pp->pushed, memory_order_relaxed) != seen;
    bool spin = !more && pp->completed_one && pp->running == 0 && !pp->queue.head &&
                !pp->shutdown && cfut__spare_cpus() > 0;
    atomic_store(&pp->asleep, !more && !spin);
    pthread_mutex_unlock(&pp->mu);
    pp->completed_one = false;
    pp->look_again = more || (spin && await_submission(pp, seen));
    return !finished;
}

/* Stops tasks past their deadline; returns the epoll timeout (ms). */
static int deadlines(ppool *pp)
{
    uint64_t now = cfut__now_ns(), next = UINT64_MAX;
    for (pworker *w = pp->workers; w; w = w->next) {
        if (w->state != W_BUSY || !w->deadline_ns || w->doom)
            continue;
        if (now >= w->deadline_ns)
            stop_worker(w, SIGKILL, "the task ran past its task_timeout", CFUT_EDEADLINE);
        else if (w->deadline_ns < next)
            next = w->deadline_ns;
    }
    if (next == UINT64_MAX)
        return -1;
    uint64_t ms = (next - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void *manager_main(void *arg)
{
    executor_t *ex = arg;
    ppool *pp = pool_of(ex);
    char name[16];
    snprintf(name, sizeof name, "%.11s_mgr", ex->name_prefix);
    pthread_setname_np(pthread_self(), name);
    while (dispatch(ex, pp)) {
        struct epoll_event evs[32];
        int timeout = deadlines(pp);
        int reaped = reap_without_pidfd(ex, pp);
        if (reaped > 0)
            continue; /* a worker is gone: dispatch() decides what follows */
        if (reaped == 0 && (timeout < 0 || timeout > 5))
            timeout = 5; /* its exit status is about to exist: look again soon */
        if (pp->look_again)
            timeout = 0; /* still collect replies and deaths, but do not sleep */
        bool asked = timeout != 0;
        if (asked && ask_for_doorbells(ex, pp))
            timeout = 0;
        int n = epoll_wait(pp->epfd, evs, 32, timeout);
        atomic_store(&pp->asleep, false);
        if (asked)
            stop_asking(pp);
        for (int i = 0; i < n; i++) {
            source *s = evs[i].data.ptr;
            switch (s->kind) {
            case SRC_WAKE: {
                uint64_t v;
                ssize_t r = read(pp->wakefd, &v, sizeof v);
                (void)r;
                break;
            }
            case SRC_CHANNEL:
                if (evs[i].events & EPOLLOUT)
                    flush(pp, s->w);
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    read_channel(ex, pp, s->w);
                break;
            case SRC_PIDFD:
                reap_own(ex, pp, s->w);
                /* The worker may be gone: the rest of this batch may name it. */
                n = 0;
                break;
            case SRC_FS_CHANNEL:
                read_forkserver(ex, pp);
                n = 0;
                break;
            case SRC_FS_PIDFD:
                forkserver_gone(ex, pp);
                n = 0;
                break;
            }
        }
        read_all_slots(ex, pp);
    }
    if (pp->fs_fd >= 0) {
        close(pp->fs_fd); /* EOF: the forkserver exits */
        pp->fs_fd = -1;
        if (pp->fs_pid > 0)
            waitpid(pp->fs_pid, NULL, 0);
        pp->fs_pid = 0;
    }
    /* Last: if a callback on this thread detached it, the executor may
     * live only through this reference. */
    cfut__executor_release(ex);
    return NULL;
}

/* ---- the backend --------------------------------------------------------- */

static size_t default_workers(void)
{
    cpu_set_t set;
    long cpus = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cpus = CPU_COUNT(&set);
    return cpus < 1 ? 1 : (size_t)cpus;
}

static void pp_destroy(executor_t *ex)
{
    ppool *pp = pool_of(ex);
    close_pool_fds(pp);
    pworker *w = pp->workers;
    while (w) {
        pworker *next = w->next;
        cfut__shm_close(&w->shm);
        cfut__buf_free(&w->in);
        cfut__buf_free(&w->out);
        cfut__free(w);
        w = next;
    }
    cfut__free(pp->broken_msg);
    cfut__free(pp->exe);
    cfut__free(pp->image);
    pthread_mutex_destroy(&pp->mu);
    pthread_mutex_destroy(&pp->join_mu);
    cfut__free(pp);
}

static int pp_init(executor_t *ex)
{
    ppool *pp = cfut__calloc(1, sizeof *pp);
    if (!pp)
        return CFUT_ENOMEM;
    pthread_mutex_init(&pp->mu, NULL);
    pthread_mutex_init(&pp->join_mu, NULL);
    pp->fs_fd = pp->fs_pidfd = -1;
    pp->max_workers = ex->opts.max_workers ? (size_t)ex->opts.max_workers : default_workers();
    pp->src_wake = (source){SRC_WAKE, NULL};
    pp->src_fs_chan = (source){SRC_FS_CHANNEL, NULL};
    pp->src_fs_pid = (source){SRC_FS_PIDFD, NULL};
    pp->manager_joined = true; /* until it exists */
    ex->impl = pp;
    /* The program image, as the kernel knows it (valgrind and other
     * launchers virtualise this link to the real program). */
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) {
        path[n] = '\0';
        pp->exe = cfut__strdup(path);
    }
    /* What the image is now: a spawned process checks it runs the same one
     * (the file may be replaced while the program runs, by a rebuild or an
     * upgrade, and the offsets of its functions would point elsewhere). */
    struct stat st; /* the path, not /proc/self/exe: under valgrind that is valgrind */
    if (pp->exe && stat(pp->exe, &st) == 0)
        pp->image = cfut__asprintf("%s=%llu:%llu", CFUT__ENV_IMAGE,
                                   (unsigned long long)st.st_dev,
                                   (unsigned long long)st.st_ino);
    pp->wakefd = cfut__eventfd();
    pp->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!pp->exe || pp->wakefd < 0 || pp->epfd < 0)
        return pp->exe ? CFUT_ESYS : CFUT_ENOMEM;
    watch(pp, pp->wakefd, &pp->src_wake, EPOLLIN);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    cfut__executor_retain(ex); /* the manager's, dropped as it exits */
    int rc = cfut__thread_create(&pp->manager, manager_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub(&ex->refs, 1); /* never the last: the caller has one */
        return rc == EAGAIN || rc == ENOMEM ? CFUT_ENOMEM : CFUT_ESYS;
    }
    pp->manager_joined = false;
    return CFUT_OK;
}

static void pp_submit(executor_t *ex, cfut__task *t)
{
    ppool *pp = pool_of(ex);
    cfut__fnref fr;
    cfut__outcome o = {0};
    if (cfut__fnref_of((cfut_fn)t->fn, &fr) != CFUT_OK)
        cfut__outcome_fail(&o, CFUT_EINVAL, 0,
                           "the task function is not code in any loaded object, so a worker "
                           "process cannot find it");
    pthread_mutex_lock(&pp->mu);
    if (o.status == CFUT_OK) {
        if (pp->forked)
            cfut__outcome_fail(&o, CFUT_EBROKEN, 0,
                               "executor inherited across fork(): its manager is gone");
        else if (pp->broken)
            cfut__outcome_fail(&o, CFUT_EBROKEN, pp->broken_code, "%s",
                               pp->broken_msg ? pp->broken_msg : "executor is broken");
        else if (pp->shutdown)
            cfut__outcome_fail(&o, CFUT_ESHUTDOWN, 0, "executor_submit after executor_shutdown");
    }
    if (o.status != CFUT_OK) {
        pthread_mutex_unlock(&pp->mu);
        cfut__future_complete(&t->fut, CFUT__FINISHED, &o);
        cfut__outcome_clear(&o);
        future_release(&t->fut);
        return;
    }
    cfut__queue_push(&pp->queue, t);
    atomic_store_explicit(&pp->pushed, atomic_load_explicit(&pp->pushed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    pthread_mutex_unlock(&pp->mu);
    /* An eventfd write costs a system call; the manager needs one only when
     * it may sleep without having seen this task (see dispatch()), and only
     * one: the first submitter to clear `asleep` writes, and the manager,
     * once awake, sees every task queued by then. */
    if (atomic_load(&pp->asleep) && atomic_exchange(&pp->asleep, false))
        wake(pp);
}

/* Under pp->mu: cancels t, which w holds PENDING (pipelined), unless the
 * worker has started it. Run cfut__future_complete_end(c) after unlocking
 * when it returns true. t stays held: its outcome ("cancelled") still comes. */
static bool cancel_held(ppool *pp, pworker *w, cfut__task *t, cfut__completion *c)
{
    if (!cfut__slot_take(&w->shm, t->slot, CFUT__SLOT_CANCELLED)) {
        /* The worker won: it runs t now. */
        if (cfut__future_start(&t->fut)) {
            pp->pipelined--;
            pp->running++;
        }
        return false;
    }
    pp->pipelined--;
    cfut__outcome o = {0};
    cfut__outcome_fail(&o, CFUT_ECANCELLED, 0, "cancelled");
    int rc = cfut__future_complete_begin(&t->fut, CFUT__CANCELLED, &o, c);
    cfut__outcome_clear(&o);
    if (rc != CFUT_OK)
        return false;
    cfut__executor_count(t->ex, CFUT__CANCELLED, CFUT_ECANCELLED);
    return true;
}

static pworker *holder_of(ppool *pp, cfut__task *t)
{
    for (pworker *w = pp->workers; w; w = w->next)
        for (cfut__task *h = w->task; h; h = h->next)
            if (h == t)
                return w;
    return NULL;
}

static bool pp_cancel(executor_t *ex, cfut__task *t)
{
    ppool *pp = pool_of(ex);
    cfut__task *list = NULL;
    cfut__completion c;
    bool unqueued = false, held = false;
    pthread_mutex_lock(&pp->mu);
    if (t->queued) {
        cfut__queue_unlink(&pp->queue, t);
        cfut__task_drain(t, &list, CFUT__CANCELLED, CFUT_ECANCELLED, 0, "cancelled");
        unqueued = true;
    } else if (!future_done(&t->fut) && !future_running(&t->fut)) {
        pworker *w = holder_of(pp, t);
        held = w && cancel_held(pp, w, t, &c);
    }
    pthread_mutex_unlock(&pp->mu);
    cfut__task_list_finish(list);
    if (held)
        cfut__future_complete_end(&c);
    if (unqueued || held)
        return true;
    if (future_running(&t->fut))
        atomic_fetch_or(&t->fut.state, CFUT__STOP);
    return future_cancelled(&t->fut);
}

/* Under pp->mu: cancels one pipelined task not started yet, into *c; false
 * if none is left. */
static bool cancel_one_held(ppool *pp, cfut__completion *c)
{
    for (pworker *w = pp->workers; w; w = w->next)
        for (cfut__task *t = w->task; t; t = t->next)
            if (!future_done(&t->fut) && !future_running(&t->fut) && cancel_held(pp, w, t, c))
                return true;
    return false;
}

static void join_manager(ppool *pp)
{
    pthread_mutex_lock(&pp->join_mu);
    if (!pp->manager_joined) {
        if (pthread_equal(pp->manager, pthread_self())) {
            pthread_detach(pp->manager); /* a callback freeing its pool */
        } else {
            pthread_join(pp->manager, NULL);
        }
        pp->manager_joined = true;
    }
    pthread_mutex_unlock(&pp->join_mu);
}

static int pp_shutdown(executor_t *ex, unsigned flags)
{
    ppool *pp = pool_of(ex);
    cfut__task *cancelled = NULL;
    bool cancel = flags & (EXECUTOR_CANCEL_PENDING | EXECUTOR_TERMINATE | EXECUTOR_KILL);
    pthread_mutex_lock(&pp->mu);
    pp->shutdown = true;
    if (cancel)
        cfut__queue_drain(&pp->queue, &cancelled, CFUT__CANCELLED, CFUT_ECANCELLED, 0,
                    "cancelled by executor_shutdown");
    if (flags & EXECUTOR_KILL)
        pp->terminate_sig = SIGKILL;
    else if ((flags & EXECUTOR_TERMINATE) && pp->terminate_sig != SIGKILL)
        pp->terminate_sig = SIGTERM;
    bool forked = pp->forked;
    pthread_mutex_unlock(&pp->mu);
    cfut__task_list_finish(cancelled);
    /* Then the tasks sent ahead, one at a time: each completion ends with
     * no lock held, and this way needs no memory. The queue is empty, so
     * none is sent ahead meanwhile; the one a worker starts first runs. */
    while (cancel) {
        cfut__completion c;
        pthread_mutex_lock(&pp->mu);
        bool one = cancel_one_held(pp, &c);
        pthread_mutex_unlock(&pp->mu);
        if (!one)
            break;
        cfut__future_complete_end(&c);
    }
    if (!forked && pp->wakefd >= 0)
        wake(pp);
    if ((flags & EXECUTOR_WAIT) && !forked)
        join_manager(pp);
    return CFUT_OK;
}

static void pp_finalize(executor_t *ex)
{
    ppool *pp = pool_of(ex);
    if (!pp->forked)
        join_manager(pp);
}

static void pp_stats(executor_t *ex, executor_stats *out)
{
    ppool *pp = pool_of(ex);
    pthread_mutex_lock(&pp->mu);
    out->workers = pp->alive;
    out->idle = pp->idle;
    out->queued = pp->queue.len + pp->pipelined;
    out->running = pp->running;
    out->workers_started = pp->started;
    out->workers_lost = pp->lost;
    pthread_mutex_unlock(&pp->mu);
}

static size_t pp_capacity(executor_t *ex)
{
    return pool_of(ex)->max_workers;
}

static void pp_atfork_prepare(executor_t *ex)
{
    pthread_mutex_lock(&pool_of(ex)->mu);
}

static void pp_atfork_parent(executor_t *ex)
{
    pthread_mutex_unlock(&pool_of(ex)->mu);
}

static void pp_atfork_child(executor_t *ex, cfut__task **orphans)
{
    ppool *pp = pool_of(ex);
    pthread_mutex_init(&pp->join_mu, NULL);
    static const char msg[] = "the executor's manager did not survive fork()";
    bool quiet = cfut__child_is_worker(); /* then the futures stay as they are */
    for (pworker *w = pp->workers; w; w = w->next) {
        cfut__task *t = atomic_load(&w->completing);
        if (t && !quiet) {
            cfut__future_reset_lock(&t->fut);
            cfut__task_drain(t, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
            atomic_store(&w->completing, NULL);
        }
        for (t = quiet ? NULL : w->task; t;) {
            cfut__task *next = t->next;
            cfut__future_reset_lock(&t->fut);
            cfut__task_drain(t, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
            t = next;
        }
        w->task = w->tail = NULL;
        w->held = 0;
    }
    if (quiet) {
        pp->queue = (cfut__queue){0};
    } else {
        cfut__queue_reset_locks(&pp->queue); /* vanished threads may hold them */
        cfut__queue_drain(&pp->queue, orphans, CFUT__FINISHED, CFUT_EBROKEN, 0, msg);
    }
    /* The workers are the parent's: let go of our copies of their channels. */
    close_pool_fds(pp);
    pp->forked = true;
    pp->manager_joined = true;
    pp->alive = pp->idle = pp->running = pp->pipelined = 0;
    pthread_mutex_unlock(&pp->mu);
}

const cfut__backend cfut__process_backend = {
    .name = "processes",
    .remote = true,
    .init = pp_init,
    .submit = pp_submit,
    .cancel = pp_cancel,
    .shutdown = pp_shutdown,
    .stats = pp_stats,
    .capacity = pp_capacity,
    .finalize = pp_finalize,
    .destroy = pp_destroy,
    .atfork_prepare = pp_atfork_prepare,
    .atfork_parent = pp_atfork_parent,
    .atfork_child = pp_atfork_child,
};
