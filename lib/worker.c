/* lib/worker.c: the child side of the process pool.
 *
 * A worker reads frames from its channel: INIT once (its name and
 * initializer), then TASKs, answering each with an OUTCOME (or, for a task
 * sent ahead, its outcome in the task's slot: process.h), until SHUTDOWN or
 * EOF. It dies with its parent (PR_SET_PDEATHSIG, and EOF on the channel).
 *
 * The forkserver is a single-threaded process, started by spawn, that forks
 * workers on request, so worker start never forks a threaded parent; it
 * reaps them and reports each exit status to the parent.
 *
 * Spawned processes (spawn start method, forkserver) re-execute the program:
 * the constructor below finds their role in the environment and runs it
 * before main(), which never runs there. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "wire.h"

_Thread_local bool cfut__forking_worker;
bool cfut__worker_process;
const char *cfut__worker_refusal;

/* Test hook: CFUT_TEST_WORKER_CRASH=<stage> makes a worker abort() at that
 * stage of every task, so tests can prove a crash anywhere fails only that
 * task: "read" (task frame header read, payload not yet), "decode" (frame
 * read, not decoded), "encode" (task ran, outcome not yet encoded), "init"
 * (before the initializer), "stall": the worker never reads its channel
 * after INIT (it hangs, alive, so the parent's writes back up), and
 * "publish": a pipelined task's outcome is in its slot, the parent not yet
 * rung (the outcome must stand); only in the pool's first worker, so its
 * replacements finish the work. Read once when the worker starts. */
typedef enum {
    CRASH_NONE, CRASH_READ, CRASH_DECODE, CRASH_ENCODE, CRASH_INIT, CRASH_STALL, CRASH_PUBLISH
} crash_stage;
static crash_stage crash_at;

static void read_crash_hook(void)
{
    const char *s = getenv("CFUT_TEST_WORKER_CRASH");
    static const char *const names[] = {"", "read", "decode", "encode", "init", "stall",
                                        "publish"};
    for (int i = 1; s && i < 7; i++)
        if (strcmp(s, names[i]) == 0)
            crash_at = (crash_stage)i;
}

static void maybe_crash(crash_stage at)
{
    if (crash_at == at)
        abort();
}

/* Dies with `parent`, with every signal unblocked (the pool's threads run
 * with them blocked, and a fork inherits the mask). */
static void become_child_of(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0); /* the parent died before we could ask to follow it */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Resolves a function reference, remembering the last one: a pool usually
 * runs one function many times. */
static int resolve(cfut__bytes path, uint64_t offset, cfut_fn *fn, char *err, size_t errlen)
{
    static char last_path[4096];
    static size_t last_len = SIZE_MAX;
    static uint64_t last_offset;
    static cfut_fn last_fn;
    if (last_fn && path.len == last_len && offset == last_offset &&
        memcmp(path.p, last_path, path.len) == 0) {
        *fn = last_fn;
        return CFUT_OK;
    }
    int rc = cfut__fnref_resolve((const char *)path.p, path.len, offset, fn, err, errlen);
    if (rc == CFUT_OK && path.len < sizeof last_path) {
        memcpy(last_path, path.p, path.len);
        last_len = path.len;
        last_offset = offset;
        last_fn = *fn;
    }
    return rc;
}

/* Runs fn (a cfut_task_fn) on arg into *out. */
static void invoke(cfut_fn fn, const cfut__bytes *arg, cfut__outcome *out)
{
    cfut_task ct = {.arg = arg->len ? arg->p : (const void *)"", .arg_len = arg->len};
    cfut__task_invoke(&ct, (cfut_task_fn)fn);
    *out = ct.out;
    /* What the task printed reaches the terminal before its result does. */
    fflush(stdout);
    fflush(stderr);
}

/* This worker's shared memory with its parent (none: base == NULL). */
static cfut__shm shm = {-1, NULL};

/* TASK frames read so far: the next one's slot (process.h). */
static unsigned tasks_read;

/* Writes a pipelined task's outcome, the OUTCOME payload `p`, in its slot
 * and rings the parent if its manager sleeps (process.h, cfut__control);
 * false if the other side is gone. */
static bool publish(cfut__channel *ch, cfut__buf *out, cfut__slot *slot, const unsigned char *p,
                    size_t n)
{
    memcpy(slot->outcome, p, n);
    atomic_store_explicit(&slot->len, (uint32_t)n, memory_order_relaxed);
    atomic_store(&slot->state, CFUT__SLOT_DONE);
    maybe_crash(CRASH_PUBLISH);
    _Atomic uint32_t *asleep = &cfut__shm_control(&shm)->parent_asleep;
    if (!atomic_load(asleep) || !atomic_exchange(asleep, 0))
        return true;
    out->len = 0; /* its capacity holds a header: no allocation */
    if (cfut__wire_put_empty(out, CFUT__W_DOORBELL) != CFUT_OK)
        abort(); /* a lost doorbell would leave the outcome unread */
    return ch->write(ch, out->data, out->len);
}

/* Sends an outcome (or READY); false if the other side is gone, or if the
 * READY sent says this worker cannot serve. A result may go through shared
 * memory unless `pipelined`; `slot`: the pipelined task's slot, where its
 * outcome goes if it fits. */
static bool answer(cfut__channel *ch, cfut__buf *out, cfut__wire_kind kind, uint64_t id,
                   cfut__outcome *o, bool pipelined, cfut__slot *slot)
{
    size_t len = o->result.len;
    bool in_shm = o->status == CFUT_OK && shm.base && !pipelined && len >= CFUT__SHM_MIN &&
                  len <= CFUT__SHM_HALF;
    if (kind == CFUT__W_READY) /* IN_SHM there: "I have mapped the region" */
        in_shm = o->status == CFUT_OK && shm.base;
    else if (in_shm)
        memcpy(shm.base + CFUT__SHM_RESULT, cfut__value_data(&o->result), len);
    out->len = 0;
    if (cfut__wire_put_outcome(out, kind, id, o, ch->origin, in_shm) != CFUT_OK) {
        cfut__outcome_fail(o, CFUT_ESERIALIZE, 0,
                           "the result (%zu bytes) could not be encoded for the parent", len);
        out->len = 0;
        if (cfut__wire_put_outcome(out, kind, id, o, ch->origin, false) != CFUT_OK)
            abort(); /* out of memory twice: the parent reports the death */
    }
    /* What was sent decides, not what was meant: a READY whose outcome
     * could not be encoded went out as a failure, and the parent, told the
     * worker cannot serve, expects it to exit. */
    bool serving = kind != CFUT__W_READY || o->status == CFUT_OK;
    cfut__outcome_clear(o);
    size_t payload = out->len - CFUT__WIRE_HEADER;
    if (slot && payload <= CFUT__SLOT_OUTCOME)
        return publish(ch, out, slot, out->data + CFUT__WIRE_HEADER, payload);
    return ch->write(ch, out->data, out->len) && serving;
}

static bool run_task(cfut__channel *ch, cfut__buf *out, const unsigned char *p, size_t n)
{
    cfut__wire_task m;
    cfut__outcome o = {0};
    unsigned seq = tasks_read++;
    maybe_crash(CRASH_DECODE);
    if (cfut__wire_get_task(p, n, &m) != CFUT_OK) {
        cfut__outcome_fail(&o, CFUT_ESERIALIZE, 0, "the worker could not decode a task frame");
        return answer(ch, out, CFUT__W_OUTCOME, 0, &o, true, NULL);
    }
    bool pipelined = m.flags & CFUT__WIRE_PIPELINED;
    cfut__slot *slot = NULL;
    if (pipelined) {
        if (!shm.base) {
            cfut__outcome_fail(&o, CFUT_ESERIALIZE, 0,
                               "the worker has no shared memory for a pipelined task");
            return answer(ch, out, CFUT__W_OUTCOME, m.id, &o, true, NULL);
        }
        slot = cfut__shm_slot_of(&shm, seq);
        if (!cfut__slot_take(&shm, seq, CFUT__SLOT_STARTED)) {
            /* The parent cancelled it while it waited here. */
            cfut__outcome_fail(&o, CFUT_ECANCELLED, 0, "cancelled");
            return answer(ch, out, CFUT__W_OUTCOME, m.id, &o, true, slot);
        }
    }
    if (m.flags & CFUT__WIRE_IN_SHM) {
        if (!shm.base || m.shm_len > CFUT__SHM_HALF) {
            cfut__outcome_fail(&o, CFUT_ESERIALIZE, 0,
                               "the worker cannot read a %llu-byte argument from shared memory",
                               (unsigned long long)m.shm_len);
            return answer(ch, out, CFUT__W_OUTCOME, m.id, &o, pipelined, slot);
        }
        m.arg = (cfut__bytes){shm.base, (size_t)m.shm_len};
    }
    cfut_fn fn;
    char err[256];
    int rc = resolve(m.fn_path, m.fn_offset, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        cfut__outcome_fail(&o, rc, 0, "task function: %s", err);
    else
        invoke(fn, &m.arg, &o);
    maybe_crash(CRASH_ENCODE);
    return answer(ch, out, CFUT__W_OUTCOME, m.id, &o, pipelined, slot);
}

void cfut__worker_serve(cfut__channel *ch)
{
    cfut__worker_process = true;
    read_crash_hook();
    cfut__buf in = {0}, out = {0};
    cfut__wire_kind kind;
    const unsigned char *p;
    size_t n;
    cfut__wire_init m;
    if (ch->read(ch, &in, &kind, &p, &n) != CFUT_OK || kind != CFUT__W_INIT ||
        cfut__wire_get_init(p, n, &m) != CFUT_OK)
        goto done;
    if (crash_at == CRASH_PUBLISH && m.index != 0)
        crash_at = CRASH_NONE; /* see read_crash_hook() */
    char name[16];
    size_t len = m.name.len < sizeof name - 1 ? m.name.len : sizeof name - 1;
    memcpy(name, m.name.p, len);
    name[len] = '\0';
    prctl(PR_SET_NAME, name);

    cfut__outcome init = {0};
    maybe_crash(CRASH_INIT);
    if (cfut__worker_refusal)
        cfut__outcome_fail(&init, CFUT_EBROKEN, 0, "%s", cfut__worker_refusal);
    else if (m.has_init) {
        cfut_fn fn;
        char err[256];
        int rc = resolve(m.init_path, m.init_offset, &fn, err, sizeof err);
        if (rc != CFUT_OK)
            cfut__outcome_fail(&init, rc, 0, "initializer: %s", err);
        else
            invoke(fn, &m.initarg, &init);
    }
    if (!answer(ch, &out, CFUT__W_READY, 0, &init, false, NULL))
        goto done; /* a READY that says we failed: the parent breaks the pool */
    /* EOF means the pool is gone; garbage leaves nothing safe to do. */
    while (ch->read(ch, &in, &kind, &p, &n) == CFUT_OK && kind == CFUT__W_TASK)
        if (!run_task(ch, &out, p, n))
            break;
done:
    cfut__buf_free(&in);
    cfut__buf_free(&out);
}

/* A worker process's channel: its socket. */
typedef struct fd_channel {
    cfut__channel base;
    int fd;
} fd_channel;

/* Bytes read from the channel and not yet served: one recv() usually brings
 * several frames when tasks are pipelined (process.h), so a task costs no
 * read of its own. The frame last returned lies at the front until the next
 * read. */
static cfut__buf ahead;
static size_t served; /* bytes of `ahead` that frame takes */

static int fd_read(cfut__channel *ch, cfut__buf *b, cfut__wire_kind *kind,
                   const unsigned char **p, size_t *n)
{
    (void)b;
    int fd = ((fd_channel *)ch)->fd;
    static unsigned frames;
    cfut__buf_consume(&ahead, served);
    served = 0;
    if (crash_at == CRASH_READ && frames++ > 0) { /* INIT is read normally */
        unsigned char hdr[CFUT__WIRE_HEADER];
        if (ahead.len >= sizeof hdr ||
            recv(fd, hdr, sizeof hdr, MSG_WAITALL) == (ssize_t)sizeof hdr)
            abort(); /* the rest of the frame is still in flight */
        return CFUT_ESYS;
    }
    if (crash_at == CRASH_STALL && frames++ > 0)
        for (;;)
            pause();
    for (;;) {
        size_t len = 0;
        if (ahead.len >= CFUT__WIRE_HEADER) {
            int rc = cfut__wire_header(ahead.data, CFUT__WIRE_MAX_DEFAULT, kind, &len);
            if (rc != CFUT_OK)
                return rc;
            if (ahead.len - CFUT__WIRE_HEADER >= len) {
                *p = ahead.data + CFUT__WIRE_HEADER;
                *n = len;
                served = CFUT__WIRE_HEADER + len;
                return CFUT_OK;
            }
        }
        /* Grow with the bytes that arrive, not with what a header claims:
         * a lying length costs at most one step of memory. */
        size_t want = CFUT__WIRE_HEADER + len - ahead.len;
        if (want < ((size_t)64 << 10))
            want = (size_t)64 << 10;
        if (want > ((size_t)1 << 20))
            want = (size_t)1 << 20;
        if (cfut__buf_reserve(&ahead, want) != CFUT_OK)
            return CFUT_ENOMEM;
        ssize_t r = recv(fd, ahead.data + ahead.len, ahead.cap - ahead.len, 0);
        if (r > 0)
            ahead.len += (size_t)r;
        else if (r == 0 || errno != EINTR)
            return CFUT_ESYS; /* the parent is gone */
    }
}

static bool fd_write(cfut__channel *ch, const void *data, size_t len)
{
    return cfut__wire_write_all(((fd_channel *)ch)->fd, data, len) == CFUT_OK;
}

_Noreturn void cfut__worker_main(int fd, pid_t parent, int shm_fd)
{
    become_child_of(parent);
    /* Not for programs a task runs. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (shm_fd >= 0)
        fcntl(shm_fd, F_SETFD, FD_CLOEXEC);
    if (shm_fd >= 0 && cfut__shm_map(&shm, shm_fd) != 0)
        shm.base = NULL; /* large values then fail with a message, not a crash */
    fd_channel ch = {{fd_read, fd_write, (uint32_t)getpid()}, fd};
    cfut__worker_serve(&ch.base);
    _exit(0);
}

/* ---- the forkserver ------------------------------------------------------ */

static void report(int fd, cfut__wire_kind kind, pid_t pid, int status)
{
    cfut__buf b = {0};
    if (cfut__wire_put_exit(&b, kind, (uint32_t)pid, status) != CFUT_OK ||
        cfut__wire_write_all(fd, b.data, b.len) != CFUT_OK)
        _exit(0); /* the parent is gone */
    cfut__buf_free(&b);
}

/* Receives one FORK request and the channel and shared memory it carries
 * (the latter -1 if absent); false at EOF. */
static bool receive_request(int fd, int *chan, int *shm_fd)
{
    unsigned char hdr[CFUT__WIRE_HEADER];
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t r;
    do
        r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    *chan = *shm_fd = -1;
    if (r <= 0)
        return false;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fds[2] = {-1, -1};
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds, CMSG_DATA(c), (n > 2 ? 2 : n) * sizeof(int));
        *chan = fds[0];
        *shm_fd = n >= 2 ? fds[1] : -1;
    }
    cfut__wire_kind kind;
    size_t len;
    if (r != (ssize_t)sizeof hdr || *chan < 0 ||
        cfut__wire_header(hdr, 0, &kind, &len) != CFUT_OK || kind != CFUT__W_FORK) {
        if (*chan >= 0)
            close(*chan);
        if (*shm_fd >= 0)
            close(*shm_fd);
        return false; /* only the parent talks to us: garbage means it is gone */
    }
    return true;
}

_Noreturn void cfut__forkserver_main(int fd, pid_t parent)
{
    become_child_of(parent);
    prctl(PR_SET_NAME, "cfut-forkserver");
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        _exit(2);
    pid_t self = getpid();
    for (;;) {
        struct pollfd pfd[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(2);
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            int st;
            pid_t pid;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
                report(fd, CFUT__W_EXITED, pid, st);
        }
        if (!pfd[0].revents)
            continue;
        int chan, shm_fd;
        if (!receive_request(fd, &chan, &shm_fd))
            _exit(0); /* the parent closed us: our workers die with us */
        pid_t pid = fork();
        if (pid == 0) {
            close(fd);
            close(sfd);
            cfut__worker_main(chan, self, shm_fd);
        }
        int err = pid < 0 ? errno : 0;
        close(chan);
        if (shm_fd >= 0)
            close(shm_fd);
        report(fd, CFUT__W_FORKED, pid < 0 ? 0 : pid, err);
    }
}

/* ---- taking over a spawned process --------------------------------------- */

/* "fd:parent-pid[:shm-fd]" */
static bool parse_role(const char *s, int *fd, pid_t *parent, int *shm_fd)
{
    char *end;
    errno = 0;
    long f = strtol(s, &end, 10);
    if (errno || end == s || *end != ':' || f < 0 || f > 65535)
        return false;
    const char *q = end + 1;
    long p = strtol(q, &end, 10);
    if (errno || end == q || (*end && *end != ':') || p <= 0)
        return false;
    long m = -1;
    if (*end == ':') {
        q = end + 1;
        m = strtol(q, &end, 10);
        if (errno || end == q || *end || m < 0 || m > 65535)
            return false;
    }
    *fd = (int)f;
    *parent = (pid_t)p;
    *shm_fd = (int)m;
    return true;
}

__attribute__((constructor)) static void take_over(void)
{
    const char *w = getenv(CFUT__ENV_WORKER), *s = getenv(CFUT__ENV_FORKSERVER);
    if (!w && !s)
        return;
    /* A set-user-ID (or capability-raising) program must not obey its
     * environment: these variables would make it run code named by frames
     * from whoever started it. */
    if (getauxval(AT_SECURE)) {
        unsetenv(CFUT__ENV_WORKER);
        unsetenv(CFUT__ENV_FORKSERVER);
        unsetenv(CFUT__ENV_IMAGE);
        return;
    }
    int fd, shm_fd;
    pid_t parent;
    bool ok = parse_role(w ? w : s, &fd, &parent, &shm_fd);
    const char *image = getenv(CFUT__ENV_IMAGE);
    struct stat st;
    char now[64];
    if (image && stat("/proc/self/exe", &st) == 0) {
        snprintf(now, sizeof now, "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        if (strcmp(now, image) != 0)
            cfut__worker_refusal = "the program file was replaced since the pool started: "
                                   "a worker running the new file would call the wrong code";
    }
    /* Not for our children: a task may run this program again. */
    unsetenv(CFUT__ENV_WORKER);
    unsetenv(CFUT__ENV_FORKSERVER);
    unsetenv(CFUT__ENV_IMAGE);
    if (!ok || getppid() != parent)
        return; /* a stale or foreign marker: be a normal program */
    if (w)
        cfut__worker_main(fd, parent, shm_fd);
    cfut__forkserver_main(fd, parent);
}
