/* fuzz/fuzz_fnref.c: function references from the wire (lib/fnref.c).
 *
 * A worker resolves the (path, offset) of every TASK and INIT frame it gets;
 * both come from the wire. This target feeds the resolver fuzzer-chosen
 * paths and offsets, and cfut__fnref_of() fuzzer-chosen addresses, and
 * checks both against an independent reading of the loaded objects'
 * program headers: resolve succeeds exactly when base + offset lies in an
 * executable PT_LOAD segment of the named object, returns that address, and
 * cfut__fnref_of() of it gives the same reference back.
 *
 * Input: byte 0 picks a loaded object (index modulo their number; 0 is the
 * main program, path ""); byte 1 the mode; byte 2 the size of the error
 * buffer (0-255, allocated to exactly that size); bytes 3-10 a u64 (little
 * endian, missing bytes 0); the rest path bytes (mode 2 only).
 *   mode 0: resolve(object, u64 as the offset)
 *   mode 1: resolve(object, an offset within 64 bytes of one of its
 *           executable segments: the boundaries)
 *   mode 2: resolve(the raw path bytes, u64)
 *   mode 3: cfut__fnref_of(an address near the object's code, and the u64
 *           itself as an address), then resolve what it returns
 *
 * Why raw paths are filtered: resolve() dlopen()s a path that names no
 * loaded object. dlopen() of fuzzer-made paths would load whatever
 * libraries the machine has (running their constructors inside the fuzzer,
 * leaking handles, making runs depend on the host's files), so mode 2 only
 * passes paths that resolve() refuses before opening anything (an embedded
 * NUL, 4096 bytes or more) or that are exactly the name of an object already
 * loaded (found without dlopen); any other input is dropped. The dlopen()
 * path itself is covered by test/test_fnref.c with a module of our own. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_fnref: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

enum { MAX_OBJECTS = 64, MAX_SEGS = 8 };

typedef struct object {
    const char *path; /* "" for the main program */
    uintptr_t base;
    int nseg;
    uint64_t start[MAX_SEGS], end[MAX_SEGS]; /* offsets from base: [start, end) */
} object;

static object objects[MAX_OBJECTS];
static int nobjects;

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (nobjects == MAX_OBJECTS)
        return 1;
    object *o = &objects[nobjects];
    o->path = nobjects == 0 ? "" : (info->dlpi_name ? info->dlpi_name : "");
    o->base = (uintptr_t)info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && o->nseg < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        o->start[o->nseg] = ph->p_vaddr;
        o->end[o->nseg] = ph->p_vaddr + ph->p_memsz;
        o->nseg++;
    }
    nobjects++;
    return 0;
}

static bool is_code(const object *o, uint64_t off)
{
    for (int i = 0; i < o->nseg; i++)
        if (off >= o->start[i] && off < o->end[i])
            return true;
    return false;
}

/* The object whose code holds addr (the first, as dl_iterate_phdr finds
 * it), or NULL. */
static const object *owner(uintptr_t addr)
{
    for (int i = 0; i < nobjects; i++)
        if (addr >= objects[i].base && is_code(&objects[i], addr - objects[i].base))
            return &objects[i];
    return NULL;
}

/* The loaded object named exactly p[0..n), or NULL ("" is the program). */
static const object *named(const unsigned char *p, size_t n)
{
    for (int i = 0; i < nobjects; i++)
        if (strlen(objects[i].path) == n && memcmp(objects[i].path, p, n) == 0 &&
            (i == 0 || n > 0))
            return &objects[i];
    return NULL;
}

static void check_message(int rc, const char *err, size_t errlen)
{
    if (rc == CFUT_OK || errlen == 0)
        return;
    REQUIRE(memchr(err, '\0', errlen) != NULL);
    REQUIRE(errlen == 1 || err[0] != '\0');
}

/* resolve(path, offset) against the object it names (NULL: refused before
 * any lookup). */
static void check_resolve(const object *o, const char *path, size_t len, uint64_t offset,
                          size_t errlen)
{
    char *err = malloc(errlen ? errlen : 1);
    REQUIRE(err != NULL);
    cfut_fn out = (cfut_fn)(uintptr_t)1;
    int rc = cfut__fnref_resolve(path, len, offset, &out, err, errlen);
    check_message(rc, err, errlen);
    free(err);
    if (!o) {
        REQUIRE(rc == CFUT_ESERIALIZE && out == NULL);
        return;
    }
    bool code = is_code(o, offset) && offset <= UINTPTR_MAX - o->base;
    if (!code) {
        REQUIRE(rc == CFUT_EINVAL && out == NULL);
        return;
    }
    REQUIRE(rc == CFUT_OK);
    REQUIRE((uintptr_t)out == o->base + (uintptr_t)offset);
    /* And back: the same reference (its first owner is this object). */
    cfut__fnref r;
    const object *first = owner((uintptr_t)out);
    REQUIRE(first != NULL);
    rc = cfut__fnref_of(out, &r);
    if (first->path[0] == '\0' && first != &objects[0]) {
        REQUIRE(rc == CFUT_EINVAL); /* an unnamed object: no way back */
        return;
    }
    REQUIRE(rc == CFUT_OK);
    REQUIRE(strcmp(r.path, first->path) == 0 && r.path_len == strlen(first->path));
    REQUIRE(r.offset == (uint64_t)((uintptr_t)out - first->base));
}

/* fnref_of(addr): a reference exactly when addr is code of a named object
 * (or the program), and it resolves back to addr. */
static void check_of(uintptr_t addr, size_t errlen)
{
    cfut__fnref r = {"x", 1, 1};
    int rc = cfut__fnref_of((cfut_fn)addr, &r);
    const object *o = addr ? owner(addr) : NULL;
    if (!o || (o != &objects[0] && o->path[0] == '\0')) {
        REQUIRE(rc == CFUT_EINVAL);
        REQUIRE(r.path == NULL && r.path_len == 0 && r.offset == 0);
        return;
    }
    REQUIRE(rc == CFUT_OK);
    REQUIRE(strcmp(r.path, o->path) == 0);
    REQUIRE(r.offset == (uint64_t)(addr - o->base));
    check_resolve(o, r.path, r.path_len, r.offset, errlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (nobjects == 0) {
        dl_iterate_phdr(collect, NULL);
        REQUIRE(nobjects > 0 && objects[0].nseg > 0);
    }
    if (size < 3)
        return 0;
    const object *o = &objects[data[0] % nobjects];
    if (o->path[0] == '\0')
        o = &objects[0]; /* "" names the program, never an unnamed object */
    int mode = data[1] % 4;
    size_t errlen = data[2];
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && 3 + i < size; i++)
        v |= (uint64_t)data[3 + i] << (8 * i);
    const unsigned char *path = size > 11 ? data + 11 : data + size;
    size_t plen = size > 11 ? size - 11 : 0;

    switch (mode) {
    case 0:
        check_resolve(o, o->path, strlen(o->path), v, errlen);
        break;
    case 1:
        if (o->nseg) {
            int s = (int)((v >> 32) % (uint64_t)o->nseg);
            uint64_t span = o->end[s] - o->start[s] + 128;
            check_resolve(o, o->path, strlen(o->path), o->start[s] + (v % span) - 64, errlen);
        }
        break;
    case 2: {
        bool malformed = memchr(path, '\0', plen) != NULL || plen >= 4096;
        const object *n = malformed ? NULL : named(path, plen);
        if (!malformed && !n)
            return 0; /* would dlopen() a file of the host: not here */
        check_resolve(n, (const char *)path, plen, v, errlen);
        break;
    }
    default:
        if (o->nseg) {
            int s = (int)((v >> 32) % (uint64_t)o->nseg);
            uint64_t span = o->end[s] - o->start[s] + 128;
            check_of(o->base + (uintptr_t)(o->start[s] + (v % span) - 64), errlen);
        }
        check_of((uintptr_t)v, errlen);
        break;
    }
    return 0;
}
