/* lib/fault.c: every call that makes an operating-system resource (a thread,
 * a process, a descriptor, a mapping) goes through here, so a test can make
 * the Nth one of a kind fail and check that the failure becomes a status on
 * the futures or a broken pool: never a crash, a hang or a leak (issue #7).
 * Allocations have their own hook in alloc.c. Off, each wrapper costs one
 * relaxed load. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static _Atomic long countdown[CFUT__FAULT_KINDS];
static _Atomic long made[CFUT__FAULT_KINDS];

long cfut__fault_nth(cfut__fault_kind kind, long n)
{
    atomic_store(&countdown[kind], n < 0 ? 0 : n);
    return atomic_exchange(&made[kind], 0);
}

/* True when this call of `kind` is the one to fail. */
static bool inject(cfut__fault_kind kind)
{
    atomic_fetch_add_explicit(&made[kind], 1, memory_order_relaxed);
    if (atomic_load_explicit(&countdown[kind], memory_order_relaxed) == 0)
        return false;
    return atomic_fetch_sub_explicit(&countdown[kind], 1, memory_order_relaxed) == 1;
}

int cfut__thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (inject(CFUT__FAULT_THREAD))
        return EAGAIN;
    return pthread_create(t, NULL, fn, arg);
}

pid_t cfut__fork(void)
{
    if (inject(CFUT__FAULT_PROCESS)) {
        errno = EAGAIN;
        return -1;
    }
    return fork();
}

int cfut__spawn_fault(void)
{
    return inject(CFUT__FAULT_PROCESS) ? EAGAIN : 0;
}

int cfut__socketpair(int type, int sv[2])
{
    if (inject(CFUT__FAULT_FD)) {
        errno = EMFILE;
        return -1;
    }
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv);
}

int cfut__eventfd(void)
{
    if (inject(CFUT__FAULT_FD)) {
        errno = EMFILE;
        return -1;
    }
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int cfut__memfd(const char *name)
{
    if (inject(CFUT__FAULT_FD)) {
        errno = EMFILE;
        return -1;
    }
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

void *cfut__mmap_shared(size_t len, int fd)
{
    if (inject(CFUT__FAULT_MMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}
