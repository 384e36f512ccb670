/* lib/process.h: what the process pool's two sides share: the parent
 * (process_pool.c) and the worker and forkserver (worker.c). */
#ifndef CFUT_PROCESS_H
#define CFUT_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "internal.h"

/* A spawned process finds its role in one of these, "fd:parent-pid". The
 * library's constructor reads them before main() and never returns. */
#define CFUT__ENV_WORKER "CFUT_WORKER"
#define CFUT__ENV_FORKSERVER "CFUT_FORKSERVER"
/* The descriptor a spawned worker or forkserver gets its channel on. */
enum { CFUT__CHILD_FD = 3 };

/* Serves tasks on channel `fd` until EOF or SHUTDOWN, then _exit()s. */
_Noreturn void cfut__worker_main(int fd, pid_t parent);
/* Forks workers on request over `fd` (a SOCK_SEQPACKET socket carrying
 * their channels as SCM_RIGHTS) and reports their exits. */
_Noreturn void cfut__forkserver_main(int fd, pid_t parent);

/* True on a thread that is forking a worker (fork start method): the
 * library's atfork child handler then only releases its locks. */
extern _Thread_local bool cfut__forking_worker;

#endif /* CFUT_PROCESS_H */
