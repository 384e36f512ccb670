/* test/harness.c: runs each case in a forked child with a timeout and prints
 * TAP. See harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SKIP_EXIT = 77 };

static bool in_child;

void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "# %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void th_skip(const char *why)
{
    printf("# SKIP %s\n", why);
    fflush(stdout);
    _exit(in_child ? SKIP_EXIT : 0);
}

double th_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void *th_find_mapping(const char *name, size_t size)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return NULL;
    char line[512];
    void *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo == size && strstr(line, name))
            found = (void *)lo;
    }
    fclose(f);
    return found;
}

void th_gate_init(th_gate *g)
{
    if (sem_init(&g->sem, 0, 0) != 0)
        th_fail(__FILE__, __LINE__, "sem_init: %s", strerror(errno));
}

void th_gate_destroy(th_gate *g) { sem_destroy(&g->sem); }

void th_gate_open(th_gate *g, unsigned n)
{
    while (n--)
        sem_post(&g->sem);
}

void th_gate_wait(th_gate *g)
{
    while (sem_wait(&g->sem) != 0 && errno == EINTR)
        ;
}

bool th_gate_timedwait(th_gate *g, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    for (;;) {
        if (sem_timedwait(&g->sem, &ts) == 0)
            return true;
        if (errno != EINTR)
            return false;
    }
}

struct th_thread {
    pthread_t tid;
    void (*fn)(void *);
    void *arg;
};

static void *thread_main(void *p)
{
    th_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

th_thread *th_spawn(void (*fn)(void *), void *arg)
{
    th_thread *t = malloc(sizeof *t);
    if (!t)
        th_fail(__FILE__, __LINE__, "out of memory");
    t->fn = fn;
    t->arg = arg;
    int rc = pthread_create(&t->tid, NULL, thread_main, t);
    if (rc != 0)
        th_fail(__FILE__, __LINE__, "pthread_create: %s", strerror(rc));
    return t;
}

void th_join(th_thread *t)
{
    pthread_join(t->tid, NULL);
    free(t);
}

static double env_double(const char *name, double dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    double v = strtod(s, &end);
    return (*end || v <= 0) ? dflt : v;
}

double th_scale(void)
{
    double m = env_double("CFUT_TEST_TIMEOUT_MULT", 1);
    return m > 1 ? m : 1;
}

/* ---- cross-process gates ------------------------------------------------- */

void th_xgate_init(th_xgate *g, const char *name)
{
    memset(g, 0, sizeof *g); /* its paths are copied whole into task arguments */
    snprintf(g->dir, sizeof g->dir, "/tmp/cfut-%.8s-XXXXXX", name);
    if (!mkdtemp(g->dir))
        th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    snprintf(g->started, sizeof g->started, "%s/started", g->dir);
    snprintf(g->go, sizeof g->go, "%s/go", g->dir);
    CHECK(mkfifo(g->started, 0600) == 0);
    CHECK(mkfifo(g->go, 0600) == 0);
    g->sfd = open(g->started, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    g->gfd = open(g->go, O_RDWR | O_CLOEXEC);
    CHECK(g->sfd >= 0 && g->gfd >= 0);
}

void th_xgate_free(th_xgate *g)
{
    close(g->sfd);
    close(g->gfd);
    DIR *d = opendir(g->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[300];
        snprintf(path, sizeof path, "%s/%s", g->dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(g->dir);
}

void th_xgate_read(th_xgate *g, void *buf, size_t n, const char *file, int line)
{
    double deadline = th_now() + TH_LONG_WAIT;
    for (;;) {
        ssize_t r = read(g->sfd, buf, n);
        if (r == (ssize_t)n)
            return;
        if (r >= 0 || (errno != EAGAIN && errno != EINTR))
            th_fail(file, line, "reading the started FIFO: %zd (%s)", r, strerror(errno));
        double left = deadline - th_now();
        if (left <= 0)
            th_fail(file, line, "no gated task started within %.0f s", TH_LONG_WAIT);
        struct pollfd p = {g->sfd, POLLIN, 0};
        poll(&p, 1, (int)(left * 1000) + 1);
    }
}

bool th_xgate_quiet(th_xgate *g)
{
    struct pollfd p = {g->sfd, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

void th_xgate_open(th_xgate *g, unsigned n)
{
    char buf[64];
    memset(buf, 'g', sizeof buf);
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        ssize_t w = write(g->gfd, buf, k);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        n -= (unsigned)w;
    }
}

static bool selected(int argc, char **argv, const char *name)
{
    if (argc <= 1)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

/* Runs one case in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_forked(const th_case *c, double timeout)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        printf("# fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        in_child = true;
        /* Its own process group, so whatever it forks dies with it. */
        setpgid(0, 0);
        /* The child's own timer: SIGALRM's default action ends it, and the
         * parent reports the signal. */
        alarm((unsigned)(timeout + 0.999));
        c->fn();
        fflush(stdout);
        fflush(stderr);
        exit(0); /* exit(), not _exit(): leak checkers report at exit */
    }
    setpgid(pid, pid); /* both sides set it: no race with the child */
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            printf("# waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    /* A hung grandchild would keep meson's pipe open past the timeout. */
    kill(-pid, SIGKILL);
    if (WIFEXITED(st)) {
        if (WEXITSTATUS(st) == 0)
            return 0;
        if (WEXITSTATUS(st) == SKIP_EXIT)
            return 2;
        printf("# exit status %d\n", WEXITSTATUS(st));
        return 1;
    }
    if (WIFSIGNALED(st)) {
        if (WTERMSIG(st) == SIGALRM)
            printf("# timed out after %.0f s\n", timeout);
        else
            printf("# killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
    }
    return 1;
}

int th_main(int argc, char **argv, const th_case *cases, size_t n)
{
    double timeout = env_double("CFUT_TEST_TIMEOUT", 30) *
                     env_double("CFUT_TEST_TIMEOUT_MULT", 1);
    const char *nf = getenv("CFUT_TEST_NOFORK");
    bool nofork = nf && *nf && strcmp(nf, "0") != 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += selected(argc, argv, cases[i].name);

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("TAP version 13\n1..%zu\n", count);
    int failed = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!selected(argc, argv, cases[i].name))
            continue;
        k++;
        int r;
        if (nofork) {
            cases[i].fn();
            r = 0;
        } else {
            r = run_forked(&cases[i], timeout);
        }
        if (r == 2)
            printf("ok %zu - %s # SKIP\n", k, cases[i].name);
        else
            printf("%sok %zu - %s\n", r ? "not " : "", k, cases[i].name);
        failed += r == 1;
    }
    return failed ? 1 : 0;
}
