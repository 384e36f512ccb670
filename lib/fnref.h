/* lib/fnref.h: function identity across address spaces (see fnref.c). */
#ifndef CFUT_FNREF_H
#define CFUT_FNREF_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* A function as (loaded object, offset from its base). `path` is "" for the
 * main program; it is borrowed from the dynamic loader and valid while the
 * object stays loaded (encode it at once). */
typedef struct cfut__fnref {
    const char *path;
    size_t path_len;
    uint64_t offset;
} cfut__fnref;

/* CFUT_EINVAL if fn lies in no executable segment of a loaded object. */
int cfut__fnref_of(cfut_fn fn, cfut__fnref *out);

/* In a worker: finds (or dlopen()s) the object and checks that the offset is
 * code. CFUT_EINVAL / CFUT_ESERIALIZE with a sentence in err otherwise. */
int cfut__fnref_resolve(const char *path, size_t path_len, uint64_t offset, cfut_fn *out,
                        char *err, size_t errlen);

/* fork() around our walks of the loader's list (executor.c's atfork
 * handlers; see fnref.c). */
void cfut__fnref_fork_prepare(void);
void cfut__fnref_fork_parent(void);
void cfut__fnref_fork_child(void);

#endif /* CFUT_FNREF_H */
