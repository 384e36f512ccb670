/* lib/call.h: signatures and typed values, shared by call.c and map.c. */
#ifndef CFUT_CALL_INTERNAL_H
#define CFUT_CALL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "wire.h"

enum { CFUT__MAX_ARGS = 32 };

/* A parsed signature: the return code and the argument codes. */
typedef struct cfut__sig {
    char ret;
    unsigned nargs;
    char args[CFUT__MAX_ARGS];
} cfut__sig;

/* What a signature may contain. */
enum {
    CFUT__SIG_REMOTE = 1, /* crosses processes: no 'p' */
    CFUT__SIG_MAP = 2,    /* executor_map_call: no 'o', no 's' return */
};

/* Parses sig[0..len). CFUT_EINVAL with a sentence naming the bad character
 * and its position in err. Safe on any bytes (workers parse what arrives). */
int cfut__sig_parse(const char *sig, size_t len, unsigned rules, cfut__sig *out, char *err,
                    size_t errlen);
/* The size of a return code's C type ('v': 0, 's': 0 as it varies). */
size_t cfut__sig_ret_size(char code);
/* The size of an argument code's C type in an executor_callv / map_call
 * array ('y': a cfut_buffer, 'o': a size_t). */
size_t cfut__sig_arg_size(char code);

/* Appends the call header: version, the function (its address on a thread
 * pool, its object and offset across processes) and the signature.
 * CFUT_EINVAL if fn is not code in a loaded object. */
int cfut__call_put_header(cfut__wr *w, executor_t *ex, cfut_fn fn, const char *sig,
                          size_t sig_len);
/* The function part of the header alone (version, mode, function), for
 * payloads that carry no signature (map chunks of tasks). */
int cfut__call_put_fn(cfut__wr *w, executor_t *ex, cfut_fn fn);
/* Reads it back: an address only in the process that made it (never in a
 * worker process), else the object + offset, resolved. */
int cfut__call_read_fn(cfut__rd *r, cfut_fn *fn, char *err, size_t errlen);

/* Appends argument `code`'s value read from v (its C type; a cfut_buffer
 * for 'y'; a size_t for 'o'). CFUT_EINVAL for a 'y' buffer with NULL data
 * and a non-zero length. */
int cfut__call_put_arg(cfut__wr *w, char code, const void *v);

/* The task functions that run a call and a chunk of map_call items. */
int cfut__call_task(cfut_task *t, const void *arg, size_t len);
int cfut__call_chunk_task(cfut_task *t, const void *arg, size_t len);

#endif /* CFUT_CALL_INTERNAL_H */
