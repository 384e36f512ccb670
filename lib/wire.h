/* lib/wire.h: the serialization layer shared by every backend that crosses
 * an address space. docs/wire.md describes the format byte by byte.
 *
 * A frame is a 12-byte header (magic "CFUT", version, kind, reserved, payload
 * length, all little-endian) and a payload of fields. Encoders append whole
 * frames to a growable buffer. Decoders take a payload and fill a message
 * whose byte fields point into that payload (no copy); they check every
 * length against what is left of the frame, accept no trailing bytes, and
 * return CFUT_ESERIALIZE on anything malformed. */
#ifndef CFUT_WIRE_H
#define CFUT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "fnref.h"
#include "internal.h"

enum {
    CFUT__WIRE_MAGIC = 0x54554643u, /* "CFUT" read as a little-endian u32 */
    CFUT__WIRE_VERSION = 1,
    CFUT__WIRE_HEADER = 12,
};
/* The largest payload a decoder accepts unless told otherwise. */
#define CFUT__WIRE_MAX_DEFAULT ((size_t)1 << 30)

typedef enum cfut__wire_kind {
    CFUT__W_INIT = 1, /* parent -> worker: who it is, its initializer */
    CFUT__W_READY,    /* worker -> parent: pid and the initializer's outcome */
    CFUT__W_TASK,     /* parent -> worker: run this */
    CFUT__W_OUTCOME,  /* worker -> parent: how it ended */
    CFUT__W_SHUTDOWN, /* parent -> worker: exit now */
    CFUT__W_FORK,     /* parent -> forkserver: fork a worker (fd attached) */
    CFUT__W_FORKED,   /* forkserver -> parent: its pid */
    CFUT__W_EXITED,   /* forkserver -> parent: a worker's wait status */
    CFUT__W_DOORBELL, /* worker -> parent: an outcome waits in a slot (process.h) */
    CFUT__W_KIND_END
} cfut__wire_kind;

/* A growable byte buffer. */
typedef struct cfut__buf {
    unsigned char *data;
    size_t len, cap;
} cfut__buf;
void cfut__buf_free(cfut__buf *b);
/* Drops the first n bytes. */
void cfut__buf_consume(cfut__buf *b, size_t n);
int  cfut__buf_reserve(cfut__buf *b, size_t extra);

/* Bytes inside a decoded payload (borrowed from it). */
typedef struct cfut__bytes {
    const unsigned char *p;
    size_t len;
} cfut__bytes;

/* Fields, for payloads that travel inside a frame (typed calls, map chunks:
 * call.c, map.c): little-endian integers and u32-length-prefixed bytes. A
 * writer appends to a buffer; its first failure sticks and cfut__wr_done()
 * then removes what it wrote. A reader turns sticky-bad on the first field
 * that does not fit; cfut__rd_done() is CFUT_ESERIALIZE if it went bad or
 * did not end exactly at the end. */
typedef struct cfut__wr {
    cfut__buf *b;
    size_t start;
    int rc;
} cfut__wr;
void cfut__wr_init(cfut__wr *w, cfut__buf *b);
void cfut__wr_u8(cfut__wr *w, uint8_t v);
void cfut__wr_u32(cfut__wr *w, uint32_t v);
void cfut__wr_u64(cfut__wr *w, uint64_t v);
void cfut__wr_bytes(cfut__wr *w, const void *p, size_t n);
int  cfut__wr_done(cfut__wr *w);

typedef struct cfut__rd {
    const unsigned char *p, *end;
    bool bad;
} cfut__rd;
uint8_t     cfut__rd_u8(cfut__rd *r);
uint32_t    cfut__rd_u32(cfut__rd *r);
uint64_t    cfut__rd_u64(cfut__rd *r);
cfut__bytes cfut__rd_bytes(cfut__rd *r);
int         cfut__rd_done(const cfut__rd *r);

typedef struct cfut__wire_init {
    cfut__bytes name;       /* the worker's name */
    uint32_t index;
    uint8_t has_init;
    cfut__bytes init_path;  /* the initializer's fnref, if has_init */
    uint64_t init_offset;
    cfut__bytes initarg;
} cfut__wire_init;

/* Flags of TASK and OUTCOME frames. */
enum {
    /* The value (TASK: argument, OUTCOME: result) is not in the frame but in
     * the worker's shared memory; the frame's bytes field holds its length
     * as a u64 (see shm.c for where it lies). */
    CFUT__WIRE_IN_SHM = 1u,
    /* TASK only: sent while the worker still held other tasks. Before it
     * runs it, the worker claims its slot in the shared control page (the
     * parent may have cancelled it there), and its result never goes
     * through the result half of shared memory (the parent may not have
     * read the last one). A small outcome goes in the slot instead of an
     * OUTCOME frame (process.h, cfut__control). */
    CFUT__WIRE_PIPELINED = 2u,
    CFUT__WIRE_FLAGS = CFUT__WIRE_IN_SHM, /* every OUTCOME flag this version knows */
    CFUT__WIRE_TASK_FLAGS = CFUT__WIRE_IN_SHM | CFUT__WIRE_PIPELINED,
};

typedef struct cfut__wire_task {
    uint64_t id;
    cfut__bytes fn_path;
    uint64_t fn_offset;
    uint32_t flags;         /* CFUT__WIRE_IN_SHM, CFUT__WIRE_PIPELINED */
    cfut__bytes arg;        /* the argument, when not in shared memory */
    uint64_t shm_len;       /* its length, when it is */
} cfut__wire_task;

typedef struct cfut__wire_outcome {
    uint64_t id;            /* 0 in READY: the initializer */
    int32_t status, code;
    uint32_t pid;           /* origin: the worker that ran it */
    uint32_t flags;         /* CFUT__WIRE_IN_SHM or 0 */
    cfut__bytes message;
    cfut__bytes result;     /* the result, when not in shared memory */
    uint64_t shm_len;       /* its length, when it is */
} cfut__wire_outcome;

typedef struct cfut__wire_exit {
    uint32_t pid;
    int32_t wait_status;    /* as from waitpid() */
} cfut__wire_exit;

/* Encoders: append one frame to b. CFUT_ENOMEM; CFUT_ESERIALIZE when a field
 * or the frame exceeds the format's 32-bit lengths. */
int cfut__wire_put_init(cfut__buf *b, const cfut__wire_init *m);
/* flags: CFUT__WIRE_IN_SHM (the `len` bytes are already in shared memory;
 * arg is not read), CFUT__WIRE_PIPELINED. */
int cfut__wire_put_task(cfut__buf *b, uint64_t id, const cfut__fnref *fn, const void *arg,
                        size_t len, uint32_t flags);
/* kind is CFUT__W_READY (id 0: the initializer) or CFUT__W_OUTCOME. in_shm:
 * the result is already in shared memory; only its length is written. */
int cfut__wire_put_outcome(cfut__buf *b, cfut__wire_kind kind, uint64_t id,
                           const cfut__outcome *o, uint32_t pid, bool in_shm);
int cfut__wire_put_exit(cfut__buf *b, cfut__wire_kind kind, uint32_t pid, int32_t status);
int cfut__wire_put_empty(cfut__buf *b, cfut__wire_kind kind);

/* Checks a header: magic, version, known kind, payload <= max. */
int cfut__wire_header(const unsigned char *hdr, size_t max, cfut__wire_kind *kind,
                      size_t *payload_len);
int cfut__wire_get_init(const unsigned char *p, size_t n, cfut__wire_init *m);
int cfut__wire_get_task(const unsigned char *p, size_t n, cfut__wire_task *m);
int cfut__wire_get_outcome(const unsigned char *p, size_t n, cfut__wire_outcome *m);
int cfut__wire_get_exit(const unsigned char *p, size_t n, cfut__wire_exit *m);
int cfut__wire_get_empty(const unsigned char *p, size_t n);

/* Copies a decoded outcome into an outcome record. A result in shared
 * memory is read from `shm_result` (NULL: refused), which holds `shm_cap`
 * bytes. CFUT_ENOMEM or CFUT_ESERIALIZE. */
int cfut__wire_outcome_to(const cfut__wire_outcome *m, const unsigned char *shm_result,
                          size_t shm_cap, cfut__outcome *o);

/* Blocking channel I/O on a socket. write_all retries on EINTR and short
 * writes and never raises SIGPIPE; read_frame reads one whole frame into b (replacing its
 * contents). Both return CFUT_OK, CFUT_ESYS (errno set; errno 0 on EOF) or,
 * for read_frame, CFUT_ESERIALIZE for a bad header. */
int cfut__wire_write_all(int fd, const void *data, size_t len);
int cfut__wire_read_frame(int fd, cfut__buf *b, size_t max, cfut__wire_kind *kind,
                          const unsigned char **payload, size_t *len);

#endif /* CFUT_WIRE_H */
