/* test/test_security.c: the claims of docs/security.md, one case (or one
 * per start method) each.
 *
 * - the descriptors cfut makes in the program are close-on-exec and none has
 *   a name in a filesystem (sockets without a path, a memfd for the shared
 *   memory);
 * - a worker holds exactly 0, 1, 2, its channel and its shared memory, and
 *   those two are close-on-exec, so a program a task runs inherits neither;
 *   the forkserver holds nothing of the program's either;
 * - the shared memory cannot be opened by another user;
 * - a worker that shrinks its shared memory cannot crash the parent;
 * - hostile frames a worker writes on its channel, or an outcome slot it
 *   fills with a length past the slot, fail its task with CFUT_ESERIALIZE,
 *   never more;
 * - the role variables of a spawned process do not reach the task.
 *
 * Workers dying with the parent is test_process_pool's die_with_parent_*;
 * hostile bytes in every decoder are test_wire's and fuzz/'s. */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h" /* the control pages' slots */
#include "wire.h"

/* A value big enough to travel through shared memory (64 KiB .. 64 MiB). */
#define BIG ((size_t)256 << 10)

/* One case per start method, as in test_process_pool.c. */
#define PER_METHOD(fn)                                                         \
    static void test_##fn##_forkserver(void) { fn(EXECUTOR_START_FORKSERVER); } \
    static void test_##fn##_fork(void)                                         \
    {                                                                          \
        if (TH_TSAN)                                                        \
            th_skip("TSan cannot follow fork() of a threaded process");        \
        if (RUNNING_ON_VALGRIND) /* its own descriptors, our memory as leaks */ \
            th_skip("a forked worker runs under valgrind too");                \
        fn(EXECUTOR_START_FORK);                                               \
    }                                                                          \
    static void test_##fn##_spawn(void) { fn(EXECUTOR_START_SPAWN); }
#define METHOD_CASES(fn)                                                       \
    TH_CASE(test_##fn##_forkserver), TH_CASE(test_##fn##_fork),                \
    TH_CASE(test_##fn##_spawn)

static executor_t *pool(executor_start m)
{
    executor_options o;
    memset(&o, 0, sizeof o);
    o.max_workers = 1;
    o.start = m;
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, EXECUTOR_PROCESSES, &o), CFUT_OK);
    return ex;
}

static future_t *submit(executor_t *ex, cfut_task_fn fn, const void *arg, size_t len)
{
    future_t *f = executor_submit(ex, fn, arg, len);
    CHECK(f != NULL);
    return f;
}

/* ---- descriptors ---------------------------------------------------------- */

/* What /proc/<pid>/fd/<fd> points at ("" if gone). */
static void fd_target(const char *dir, int fd, char *buf, size_t n)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%d", dir, fd);
    ssize_t r = readlink(path, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
}

/* The open descriptors listed in `dir` (a /proc/<pid>/fd), sorted, at most
 * `max`; the directory's own descriptor is left out when it is ours. */
static int fd_list(const char *dir, int *fds, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    bool self = strcmp(dir, "/proc/self/fd") == 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (self && fd == dirfd(d))
            continue;
        if (n < max)
            fds[n++] = fd;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen at most */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    return n;
}

static bool in_list(const int *fds, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd)
            return true;
    return false;
}

/* True if the UNIX socket with this inode ("socket:[N]") is bound to a
 * path or an abstract name (a non-empty last column in /proc/net/unix). */
static bool socket_named(const char *target)
{
    unsigned long ino;
    if (sscanf(target, "socket:[%lu]", &ino) != 1)
        return false;
    FILE *f = fopen("/proc/net/unix", "re");
    CHECK(f != NULL);
    char line[512];
    bool named = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long i;
        int at = 0;
        /* Num RefCount Protocol Flags Type St Inode [Path] */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %n", &i, &at) != 1 || i != ino)
            continue;
        named = at > 0 && line[at] != '\0' && line[at] != '\n';
    }
    fclose(f);
    return named;
}

/* A descriptor's target is something no other process can find by name:
 * an unnamed socket, an anonymous inode (eventfd, epoll, pidfd, signalfd)
 * or a memfd. */
static bool nameless(const char *target)
{
    if (strncmp(target, "socket:", 7) == 0)
        return !socket_named(target);
    return strncmp(target, "anon_inode:", 11) == 0 || strncmp(target, "/memfd:", 7) == 0;
}

static int task_echo(cfut_task *t, const void *arg, size_t len)
{
    return cfut_return(t, arg, len);
}

/* Every descriptor the pool made in this process while it runs a small and a
 * large task, with an as-completed iterator's descriptor beside it, is
 * close-on-exec and nameless; none is left after executor_free. */
static void parent_cloexec(executor_start m)
{
    int before[256], after[256];
    int nb = fd_list("/proc/self/fd", before, 256);
    CHECK(nb > 0);
    executor_t *ex = pool(m);
    unsigned char *big = calloc(1, BIG);
    CHECK(big != NULL);
    int x = 7;
    future_t *fs[2] = {submit(ex, task_echo, &x, sizeof x), submit(ex, task_echo, big, BIG)};
    futures_iter *it = futures_as_completed(fs, 2);
    CHECK(it != NULL);
    CHECK(futures_iter_fd(it) >= 0);
    for (int i = 0; i < 2; i++) {
        future_t *f = NULL;
        CHECK_STATUS(futures_next(it, TH_LONG_WAIT, &f), CFUT_OK);
        CHECK_STATUS(future_status(f), CFUT_OK);
        future_release(f);
    }
    int na = fd_list("/proc/self/fd", after, 256);
    int fresh = 0, memfds = 0;
    for (int i = 0; i < na; i++) {
        if (in_list(before, nb, after[i]))
            continue;
        fresh++;
        char target[256];
        fd_target("/proc/self/fd", after[i], target, sizeof target);
        int fl = fcntl(after[i], F_GETFD);
        if (fl < 0 || !(fl & FD_CLOEXEC))
            th_fail(__FILE__, __LINE__, "fd %d (%s) is not close-on-exec", after[i], target);
        if (!nameless(target))
            th_fail(__FILE__, __LINE__, "fd %d (%s) has a name others can open", after[i],
                    target);
        memfds += strncmp(target, "/memfd:", 7) == 0;
    }
    /* eventfd, epoll, channel, memfd at least (and the iterator's). */
    CHECK_INT(fresh, >=, 5);
    CHECK_EQ(memfds, 1);
    futures_iter_free(it);
    future_release(fs[0]);
    future_release(fs[1]);
    executor_free(ex);
    free(big);
    CHECK_EQ(fd_list("/proc/self/fd", after, 256), nb);
}
PER_METHOD(parent_cloexec)

/* A worker's view of its descriptors: "fd flags target" per line. */
static int task_fds(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int fds[64];
    int n = fd_list("/proc/self/fd", fds, 64);
    if (n < 0)
        return cfut_fail(t, errno, "cannot list /proc/self/fd");
    char out[4096] = "";
    for (int i = 0; i < n; i++) {
        char target[256];
        fd_target("/proc/self/fd", fds[i], target, sizeof target);
        size_t used = strlen(out);
        snprintf(out + used, sizeof out - used, "%d %d %s\n", fds[i],
                 fcntl(fds[i], F_GETFD), target);
    }
    return cfut_return(t, out, strlen(out) + 1);
}

static void dump(const char *what, const char *list)
{
    fprintf(stderr, "# %s:\n", what);
    for (const char *p = list; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "#   %.*s\n", n, p);
        p += n + (nl != NULL);
    }
}

/* Parses task_fds' list. */
typedef struct {
    int n, sockets, memfds, others;
    bool std[3];
    bool cloexec_ok;  /* channel and memfd close-on-exec */
    bool named;       /* a socket with a name */
} fd_view;

static fd_view view_of(const char *list)
{
    fd_view v = {.cloexec_ok = true};
    for (const char *p = list; *p;) {
        int fd, flags, used = 0;
        char target[256] = "";
        if (sscanf(p, "%d %d %255s%n", &fd, &flags, target, &used) < 3)
            break;
        v.n++;
        if (fd >= 0 && fd <= 2) {
            v.std[fd] = true;
        } else if (strncmp(target, "socket:", 7) == 0) {
            v.sockets++;
            v.named = v.named || socket_named(target);
            v.cloexec_ok = v.cloexec_ok && (flags & FD_CLOEXEC);
        } else if (strncmp(target, "/memfd:cfut-shm", 15) == 0) {
            v.memfds++;
            v.cloexec_ok = v.cloexec_ok && (flags & FD_CLOEXEC);
        } else {
            v.others++;
        }
        const char *nl = strchr(p + used, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    return v;
}

/* Opens /dev/null at exactly `fd`, not close-on-exec, as a program might
 * have it. */
static void plant(int fd)
{
    int d = open("/dev/null", O_RDONLY);
    CHECK(d >= 0);
    if (d != fd) {
        CHECK_EQ(dup2(d, fd), fd);
        close(d);
    }
}

/* A worker holds 0, 1, 2, one unnamed socket (its channel) and its memfd:
 * nothing of the program's, even descriptors without close-on-exec at the
 * very numbers the worker's own land on (3, 4) and above. */
static void worker_fds_exact(executor_start m)
{
    plant(3);
    plant(4);
    plant(9);
    executor_t *ex = pool(m);
    future_t *f = submit(ex, task_fds, NULL, 0);
    const void *data;
    size_t len;
    CHECK_STATUS(future_result(f, TH_LONG_WAIT, &data, &len), CFUT_OK);
    fd_view v = view_of(data);
    if (v.n != 5 || !v.std[0] || !v.std[1] || !v.std[2] || v.sockets != 1 || v.memfds != 1 ||
        v.named) {
        dump("the worker's descriptors (fd, F_GETFD, target)", data);
        th_fail(__FILE__, __LINE__, "the worker holds descriptors that are not its own");
    }
    future_release(f);
    executor_free(ex);
}
PER_METHOD(worker_fds_exact)

/* A child of this process with this name (0: none). */
static long find_child(const char *comm)
{
    DIR *d = opendir("/proc");
    CHECK(d != NULL);
    long found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* pid (comm) state ppid */
        char *l = strchr(buf, '('), *r = strrchr(buf, ')');
        long ppid;
        if (l && r && r > l && sscanf(r + 2, "%*c %ld", &ppid) == 1 && ppid == getpid() &&
            (size_t)(r - l - 1) == strlen(comm) && strncmp(l + 1, comm, strlen(comm)) == 0)
            found = atol(buf);
    }
    closedir(d);
    return found;
}

/* The forkserver holds 0, 1, 2, its channel and its signalfd: nothing of
 * the program's, which its workers would inherit. */
static void test_forkserver_fds_exact(void)
{
    plant(3);
    plant(4);
    plant(9);
    executor_t *ex = pool(EXECUTOR_START_FORKSERVER);
    future_t *f = submit(ex, task_fds, NULL, 0);
    CHECK_STATUS(future_wait(f, TH_LONG_WAIT), CFUT_OK);
    future_release(f);
    long fs = find_child("cfut-forkserver");
    CHECK(fs > 0);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", fs);
    int fds[64];
    int n = fd_list(dir, fds, 64);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        char target[256];
        fd_target(dir, fds[i], target, sizeof target);
        if (fds[i] <= 2)
            continue;
        if (strcmp(target, "/dev/null") == 0 || !nameless(target))
            th_fail(__FILE__, __LINE__, "the forkserver holds fd %d (%s)", fds[i], target);
    }
    CHECK_EQ(n, 5); /* 0, 1, 2, channel, signalfd */
    executor_free(ex);
}

/* The worker's channel and shared memory are close-on-exec in the worker:
 * a program a task starts (system(), popen()) inherits neither. */
static void worker_fds_cloexec(executor_start m)
{
    executor_t *ex = pool(m);
    future_t *f = submit(ex, task_fds, NULL, 0);
    const void *data;
    size_t len;
    CHECK_STATUS(future_result(f, TH_LONG_WAIT, &data, &len), CFUT_OK);
    fd_view v = view_of(data);
    CHECK_EQ(v.sockets, 1);
    if (!v.cloexec_ok) {
        dump("the worker's descriptors (fd, F_GETFD, target)", data);
        th_fail(__FILE__, __LINE__, "the worker's channel or shared memory is inherited by "
                                    "programs its tasks run");
    }
    future_release(f);
    executor_free(ex);
}
PER_METHOD(worker_fds_cloexec)

/* ---- the shared memory ------------------------------------------------------ */

/* This process's descriptor of the worker's shared memory (-1: none). */
static int find_memfd(void)
{
    int fds[256];
    int n = fd_list("/proc/self/fd", fds, 256);
    for (int i = 0; i < n; i++) {
        char target[256];
        fd_target("/proc/self/fd", fds[i], target, sizeof target);
        if (strncmp(target, "/memfd:cfut-shm", 15) == 0)
            return fds[i];
    }
    return -1;
}

/* Another user cannot open the shared memory (its only name is
 * /proc/<pid>/fd/<n>, which needs ptrace access to the process), neither
 * the parent's descriptor nor the worker's. Needs root to become another
 * user. */
static int task_pid(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int32_t pid = (int32_t)getpid();
    return cfut_return(t, &pid, sizeof pid);
}

static void test_shm_other_user(void)
{
    if (geteuid() != 0)
        th_skip("needs root to try as another user");
    executor_t *ex = pool(EXECUTOR_START_SPAWN); /* its region is the worker's fd 4 */
    future_t *f = submit(ex, task_pid, NULL, 0);
    int32_t worker = 0;
    CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &worker, sizeof worker), CFUT_OK);
    future_release(f);
    int mine = find_memfd();
    CHECK(mine >= 0);
    struct stat st;
    CHECK_EQ(fstat(mine, &st), 0);
    CHECK_EQ(st.st_uid, geteuid());
    char paths[2][64];
    snprintf(paths[0], sizeof paths[0], "/proc/%ld/fd/%d", (long)getpid(), mine);
    snprintf(paths[1], sizeof paths[1], "/proc/%ld/fd/4", (long)worker);
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char verdict[2] = {'?', '?'};
        if (setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
            setresuid(65534, 65534, 65534) == 0)
            for (int i = 0; i < 2; i++) {
                int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
                verdict[i] = fd >= 0 ? 'o' : errno == EACCES ? 'a' : 'e';
            }
        _exit(write(p[1], verdict, 2) == 2 ? 0 : 1);
    }
    close(p[1]);
    char verdict[2] = {0};
    CHECK_EQ(read(p[0], verdict, 2), 2);
    close(p[0]);
    int st2;
    CHECK_EQ(waitpid(child, &st2, 0), child);
    CHECK(verdict[0] != '?'); /* dropped to nobody */
    CHECK_EQ(verdict[0], 'a'); /* the parent's region: EACCES */
    CHECK_EQ(verdict[1], 'a'); /* the worker's: EACCES */
    executor_free(ex);
}

/* Shrinks this worker's shared memory to nothing: its errno (0 if done). */
static int task_shrink_shm(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int fd = find_memfd();
    if (fd < 0)
        return cfut_fail(t, 1, "no shared memory here");
    int32_t e = ftruncate(fd, 0) == 0 ? 0 : errno;
    return cfut_return(t, &e, sizeof e);
}

static int task_len(cfut_task *t, const void *arg, size_t len)
{
    const unsigned char *p = arg;
    uint64_t sum = len;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return cfut_return(t, &sum, sizeof sum);
}

/* A task that shrinks its worker's shared memory (a bug, or malice) must
 * not crash the parent: the next large argument is written to that memory
 * by the parent, and a result read from it. The parent survives, and the
 * large round trip either works or fails that one future. */
static void shm_shrink(executor_start m)
{
    executor_t *ex = pool(m);
    future_t *f = submit(ex, task_shrink_shm, NULL, 0);
    int32_t e = -1;
    CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &e, sizeof e), CFUT_OK);
    future_release(f);
    unsigned char *big = malloc(BIG);
    CHECK(big != NULL);
    uint64_t want = BIG;
    for (size_t i = 0; i < BIG; i++) {
        big[i] = (unsigned char)(i * 31);
        want += big[i];
    }
    f = submit(ex, task_len, big, BIG);      /* the parent writes the region */
    future_t *g = submit(ex, task_echo, big, BIG); /* the worker writes, the parent reads */
    uint64_t got = 0;
    int rc = future_result_copy(f, TH_LONG_WAIT, &got, sizeof got);
    if (rc == CFUT_OK)
        CHECK_EQ(got, want);
    CHECK_STATUS(future_wait(g, TH_LONG_WAIT), CFUT_OK);
    const void *data;
    size_t len;
    if (future_result(g, 0, &data, &len) == CFUT_OK)
        CHECK(len == BIG && memcmp(data, big, BIG) == 0);
    future_release(f);
    future_release(g);
    /* The pool still works. */
    int x = 5, y = 0;
    f = submit(ex, task_echo, &x, sizeof x);
    CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &y, sizeof y), CFUT_OK);
    CHECK_EQ(y, 5);
    future_release(f);
    executor_free(ex);
    free(big);
}
PER_METHOD(shm_shrink)

/* ---- hostile frames from a worker ------------------------------------------ */

typedef enum { H_MAGIC, H_HUGE, H_SHM_LEN, H_WRONG_ID, H_READY, H_SLOT_LEN, H_COUNT } hostile;

/* The worker's channel: its only socket. */
static int find_channel(void)
{
    int fds[64];
    int n = fd_list("/proc/self/fd", fds, 64);
    for (int i = 0; i < n; i++) {
        char target[256];
        fd_target("/proc/self/fd", fds[i], target, sizeof target);
        if (strncmp(target, "socket:", 7) == 0)
            return fds[i];
    }
    return -1;
}

/* Marks every slot of this worker's control pages (process.h) as holding
 * an outcome of 2^32 - 1 bytes, 120 being the most a slot holds; false if
 * the region is not mapped here. */
static bool scribble_on_slots(void)
{
    cfut__shm shm = {-1, th_find_mapping("memfd:cfut-shm", CFUT__SHM_SIZE)};
    for (unsigned i = 0; shm.base && i < CFUT__PIPELINE; i++) {
        cfut__slot *sl = cfut__shm_slot_of(&shm, i);
        atomic_store(&sl->len, UINT32_MAX);
        atomic_store(&sl->state, CFUT__SLOT_DONE);
    }
    return shm.base != NULL;
}

/* Writes a hostile frame on its own channel, as a task that scribbles on
 * the wrong descriptor (or a malicious one) would, then waits to be
 * killed. */
static int task_hostile(cfut_task *t, const void *arg, size_t len)
{
    (void)len;
    hostile h = *(const hostile *)arg;
    int ch = find_channel();
    if (ch < 0)
        return cfut_fail(t, 1, "no channel");
    cfut__buf b = {0};
    cfut__outcome o = {0};
    int rc = CFUT_OK;
    switch (h) {
    case H_MAGIC:
        rc = cfut__buf_reserve(&b, 64);
        if (rc == CFUT_OK) {
            memset(b.data, 0x41, 64);
            b.len = 64;
        }
        break;
    case H_HUGE: /* a header claiming 4 GiB - 1 */
        rc = cfut__wire_put_empty(&b, CFUT__W_OUTCOME);
        if (rc == CFUT_OK)
            memset(b.data + 8, 0xff, 4);
        break;
    case H_SHM_LEN: { /* a result "in shared memory" far past the region */
        static const unsigned char tiny[8];
        cfut__value_set(&o.result, tiny, sizeof tiny);
        rc = cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 0, &o, (uint32_t)getpid(), true);
        if (rc == CFUT_OK) /* the 8-byte length field is the frame's last */
            memset(b.data + b.len - 8, 0x7f, 8);
        cfut__outcome_clear(&o);
        break;
    }
    case H_WRONG_ID:
        rc = cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 0x4141414141414141ull, &o,
                                    (uint32_t)getpid(), false);
        break;
    case H_READY: /* READY again, naming the parent's pid as its own */
        rc = cfut__wire_put_outcome(&b, CFUT__W_READY, 0, &o, (uint32_t)getppid(), false);
        break;
    case H_SLOT_LEN: /* its own slot says DONE, with a length past the slot */
        if (!scribble_on_slots())
            return cfut_fail(t, 3, "no shared memory region in /proc/self/maps");
        rc = cfut__wire_put_empty(&b, CFUT__W_DOORBELL); /* should the manager sleep */
        break;
    case H_COUNT:
        break;
    }
    if (rc != CFUT_OK || cfut__wire_write_all(ch, b.data, b.len) != CFUT_OK) {
        cfut__buf_free(&b);
        return cfut_fail(t, 2, "could not write the frame");
    }
    cfut__buf_free(&b);
    for (;;)
        pause(); /* the parent kills us */
}

/* Each hostile frame fails its own future with CFUT_ESERIALIZE (the worker
 * is killed and replaced), the parent goes on, and the next task works. */
static void hostile_frames(executor_start m)
{
    executor_t *ex = pool(m);
    for (int h = 0; h < H_COUNT; h++) {
        future_t *f = submit(ex, task_hostile, &h, sizeof h);
        CHECK_STATUS(future_wait(f, TH_LONG_WAIT), CFUT_OK);
        if (future_status(f) != CFUT_ESERIALIZE)
            th_fail(__FILE__, __LINE__, "hostile frame %d: %s: %s", h,
                    cfut_status_name(future_status(f)), future_error_message(f));
        if (h == H_SLOT_LEN)
            CHECK_CONTAINS(future_error_message(f), "malformed outcome in its slot");
        future_release(f);
        int x = h, y = -1;
        f = submit(ex, task_echo, &x, sizeof x);
        CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &y, sizeof y), CFUT_OK);
        CHECK_EQ(y, h);
        future_release(f);
    }
    executor_stats s;
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    CHECK_EQ(s.workers_lost, H_COUNT);
    executor_free(ex);
}
PER_METHOD(hostile_frames)

/* ---- environment ------------------------------------------------------------- */

static int task_env(cfut_task *t, const void *arg, size_t len)
{
    (void)arg, (void)len;
    int32_t seen = (getenv("CFUT_WORKER") ? 1 : 0) | (getenv("CFUT_FORKSERVER") ? 2 : 0) |
                   (getenv("CFUT_IMAGE") ? 4 : 0);
    return cfut_return(t, &seen, sizeof seen);
}

/* The variables that give a spawned process its role are gone before any
 * task runs, so a program a task starts is an ordinary program. */
static void env_not_inherited(executor_start m)
{
    executor_t *ex = pool(m);
    future_t *f = submit(ex, task_env, NULL, 0);
    int32_t seen = -1;
    CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &seen, sizeof seen), CFUT_OK);
    CHECK_EQ(seen, 0);
    future_release(f);
    executor_free(ex);
}
PER_METHOD(env_not_inherited)

TH_CASES(
    METHOD_CASES(parent_cloexec),
    METHOD_CASES(worker_fds_exact),
    TH_CASE(test_forkserver_fds_exact),
    METHOD_CASES(worker_fds_cloexec),
    TH_CASE(test_shm_other_user),
    METHOD_CASES(shm_shrink),
    METHOD_CASES(hostile_frames),
    METHOD_CASES(env_not_inherited),
)
