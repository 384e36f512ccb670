/* lib/shm.c: the shared memory a process-pool worker and its parent use for
 * large values.
 *
 * One region per worker: a memfd of 2 * CFUT__SHM_HALF bytes, mapped shared
 * by both. The parent writes a large argument in the first half before it
 * sends the TASK frame; the worker writes a large result in the second half
 * before it sends the OUTCOME frame. A worker runs one task at a time and the
 * frames order every access, so the halves need no lock. The file is sparse:
 * untouched pages cost nothing, and pages past CFUT__SHM_KEEP are given back
 * after each large transfer.
 *
 * Private to the pool: a memfd has no name in any filesystem, is
 * close-on-exec, and only reaches the worker as an inherited or passed
 * descriptor. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process.h"

int cfut__shm_create(cfut__shm *s)
{
    s->fd = cfut__memfd("cfut-shm");
    s->base = NULL;
    if (s->fd < 0)
        return errno;
    if (ftruncate(s->fd, (off_t)CFUT__SHM_SIZE) != 0) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        return e;
    }
    /* A worker holds a writable descriptor of the region: without these
     * seals it could shrink the file under the parent's mapping, and the
     * parent's next access would die of SIGBUS. */
    if (fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        return e;
    }
    int rc = cfut__shm_map(s, s->fd);
    if (rc != 0) {
        close(s->fd);
        s->fd = -1;
    }
    return rc;
}

int cfut__shm_map(cfut__shm *s, int fd)
{
    struct stat st;
    s->fd = fd;
    s->base = NULL;
    if (fstat(fd, &st) != 0)
        return errno;
    if ((size_t)st.st_size != CFUT__SHM_SIZE)
        return EINVAL; /* not one of ours */
    void *p = cfut__mmap_shared(CFUT__SHM_SIZE, fd);
    if (p == MAP_FAILED)
        return errno;
    s->base = p;
    return 0;
}

void cfut__shm_close(cfut__shm *s)
{
    if (s->base)
        munmap(s->base, CFUT__SHM_SIZE);
    if (s->fd >= 0)
        close(s->fd);
    s->base = NULL;
    s->fd = -1;
}

void cfut__shm_trim(cfut__shm *s, size_t half_offset, size_t used)
{
    if (!s->base || used <= CFUT__SHM_KEEP)
        return;
    /* Give the pages back to the system; the next large value faults them
     * in again, zeroed. */
    madvise(s->base + half_offset + CFUT__SHM_KEEP, used - CFUT__SHM_KEEP, MADV_REMOVE);
}
