/* lib/process.h: what the process pool's two sides share: the parent
 * (process_pool.c) and the worker and forkserver (worker.c). */
#ifndef CFUT_PROCESS_H
#define CFUT_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "internal.h"
#include "wire.h"

/* A spawned process finds its role in one of these, "fd:parent-pid[:shm-fd]". The
 * library's constructor reads them before main() and never returns. */
#define CFUT__ENV_WORKER "CFUT_WORKER"
#define CFUT__ENV_FORKSERVER "CFUT_FORKSERVER"
/* "dev:ino" of the program image the pool started with. */
#define CFUT__ENV_IMAGE "CFUT_IMAGE"
/* The descriptors a spawned worker or forkserver gets its channel and its
 * shared memory on. */
enum { CFUT__CHILD_FD = 3, CFUT__CHILD_SHM_FD = 4 };

/* ---- shared memory for large values (shm.c) ----------------------------- */

/* Values of at least CFUT__SHM_MIN bytes and at most CFUT__SHM_HALF travel
 * through the worker's region instead of its channel. */
#define CFUT__SHM_MIN ((size_t)64 << 10)
#define CFUT__SHM_HALF ((size_t)64 << 20)
/* Touched pages kept mapped between transfers. */
#define CFUT__SHM_KEEP ((size_t)4 << 20)
/* The result half starts here. */
#define CFUT__SHM_RESULT CFUT__SHM_HALF
/* Then the control pages (cfut__control). */
#define CFUT__SHM_CONTROL (2 * CFUT__SHM_HALF)
#define CFUT__SHM_SIZE (CFUT__SHM_CONTROL + 2 * 4096)

/* A worker holds at most this many tasks: the one it runs and the ones sent
 * behind it (CFUT__WIRE_PIPELINED), so it never waits for the parent while
 * work is queued. The nth TASK frame sent to a worker (both sides count)
 * owns slot n % CFUT__PIPELINE, free again once its outcome is read. A
 * power of two (n wraps), at most 256 (cfut__task.slot).
 *
 * Deep enough to cover the manager's wake-up: tiny tasks take about a
 * microsecond each in the worker, and the manager needs tens to wake, read
 * outcomes and send more. W1 (200,000 no-op tasks, 2 workers, 3 interleaved
 * rounds of bench_process --runs 3): 8 -> 2.8-3.4 us/task, 16 -> 2.2-2.5,
 * 32 -> 1.6-1.75, 64 and 128 no better than 32. */
enum { CFUT__PIPELINE = 32 };
/* A slot's states: the worker moves FREE -> STARTED before it runs the
 * task, the parent FREE -> CANCELLED to cancel it; one compare-and-swap
 * each, so exactly one of them wins. The parent stores FREE before it sends
 * the slot's next task, whether pipelined or not. DONE: the worker has
 * written the task's outcome in the slot (a pipelined task's small outcome
 * goes there, not through the channel). */
enum { CFUT__SLOT_FREE = 0, CFUT__SLOT_STARTED = 1, CFUT__SLOT_CANCELLED = 2,
       CFUT__SLOT_DONE = 3 };

/* An OUTCOME payload of at most this many bytes fits in a slot: status,
 * code, origin and an 8-byte result with room to spare, or a short message. */
enum { CFUT__SLOT_OUTCOME = 120 };

typedef struct cfut__slot {
    _Atomic uint32_t state;
    _Atomic uint32_t len;                      /* DONE: bytes of `outcome` */
    unsigned char outcome[CFUT__SLOT_OUTCOME]; /* DONE: an OUTCOME payload */
} cfut__slot;

/* The control pages at CFUT__SHM_CONTROL.
 *
 * Outcomes in slots need no system call while the parent's manager is
 * awake: it looks at the slots of the tasks a worker holds each time round
 * its loop. Before it sleeps it sets parent_asleep and looks once more; a
 * worker that writes an outcome then reads parent_asleep, and if it is set,
 * clears it and sends a DOORBELL frame. Both sides store, then load
 * (sequentially consistent), so one of them sees the other: no outcome
 * waits for a sleeping manager (the manager's load follows a sequentially
 * consistent fence: an acquire load alone could pass its store). A worker
 * that dies leaves its outcomes in the region, which the parent still
 * maps: they stand. */
typedef struct cfut__control {
    cfut__slot slot[CFUT__PIPELINE];
    _Alignas(64) _Atomic uint32_t parent_asleep;
} cfut__control;
_Static_assert(sizeof(cfut__control) <= 2 * 4096, "the control pages");

typedef struct cfut__shm {
    int fd;               /* -1: none */
    unsigned char *base;  /* CFUT__SHM_SIZE bytes, shared */
} cfut__shm;

static inline cfut__control *cfut__shm_control(const cfut__shm *s)
{
    return (cfut__control *)(void *)(s->base + CFUT__SHM_CONTROL);
}

/* The slot of the seq-th TASK frame sent to the worker. */
static inline cfut__slot *cfut__shm_slot_of(const cfut__shm *s, unsigned seq)
{
    return &cfut__shm_control(s)->slot[seq % CFUT__PIPELINE];
}

static inline _Atomic uint32_t *cfut__shm_slot(const cfut__shm *s, unsigned seq)
{
    return &cfut__shm_slot_of(s, seq)->state;
}

/* FREE -> `to` on the seq-th task's slot: the one compare-and-swap by which
 * the worker starts a task sent ahead (STARTED) and the parent cancels it
 * (CANCELLED). True for the side that won. */
static inline bool cfut__slot_take(const cfut__shm *s, unsigned seq, uint32_t to)
{
    uint32_t free_slot = CFUT__SLOT_FREE;
    return atomic_compare_exchange_strong(cfut__shm_slot(s, seq), &free_slot, to);
}

/* errno-style results. */
int  cfut__shm_create(cfut__shm *s);
int  cfut__shm_map(cfut__shm *s, int fd);
void cfut__shm_close(cfut__shm *s);
/* Returns the pages of [half_offset + KEEP, half_offset + used). */
void cfut__shm_trim(cfut__shm *s, size_t half_offset, size_t used);

/* ---- serving tasks --------------------------------------------------------- */

/* Where a worker's frames come from and go to: a worker process's socket, or
 * an MPI serving rank's communicator. */
typedef struct cfut__channel {
    /* Reads one whole frame into b: CFUT_OK, or anything else at the end. */
    int (*read)(struct cfut__channel *ch, cfut__buf *b, cfut__wire_kind *kind,
                const unsigned char **p, size_t *n);
    /* Sends bytes; false if the other side is gone. */
    bool (*write)(struct cfut__channel *ch, const void *data, size_t len);
    uint32_t origin; /* what outcomes name as where they ran: pid, or rank */
} cfut__channel;

/* Reads INIT and runs the initializer (answering READY), then runs TASKs
 * (answering OUTCOMEs) until SHUTDOWN, the end of the channel or a frame of
 * another kind. Returns. */
void cfut__worker_serve(cfut__channel *ch);

/* Set in a spawned process that finds it is not the program image its pool
 * started with: it then answers INIT with this failure and serves nothing. */
extern const char *cfut__worker_refusal;

/* ---- the two kinds of child ---------------------------------------------- */

/* Serves tasks on channel `fd` until EOF or SHUTDOWN, then _exit()s. Large
 * values go through the region on `shm_fd` (-1: none, all by channel). */
_Noreturn void cfut__worker_main(int fd, pid_t parent, int shm_fd);
/* Forks workers on request over `fd` (a SOCK_SEQPACKET socket carrying
 * their channels as SCM_RIGHTS) and reports their exits. */
_Noreturn void cfut__forkserver_main(int fd, pid_t parent);

/* True in a worker process: nothing there may trust an address from the
 * wire. */
extern bool cfut__worker_process;

/* True on a thread that is forking a worker (fork start method): the
 * library's atfork child handler then only releases its locks. */
extern _Thread_local bool cfut__forking_worker;
/* In a fork child: true if it is to be a process pool's worker. Then the
 * backends' atfork_child handlers complete none of the inherited futures
 * (they are the parent's): completing one notifies its waiters, and an
 * iterator's lock may be held by a parent thread the child does not have. */
static inline bool cfut__child_is_worker(void) { return cfut__forking_worker; }

#endif /* CFUT_PROCESS_H */
