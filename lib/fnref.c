/* lib/fnref.c: function identity across address spaces.
 *
 * A function pointer means nothing in another process. It travels as the
 * loaded object that contains it (its path; "" for the main program) and its
 * offset from that object's load base (dl_iterate_phdr's dlpi_addr). The
 * worker runs the same binary, so the same object at its own base plus the
 * same offset is the same function, under ASLR, for static functions, for
 * fork, spawn and MPI workers alike.
 *
 * Both directions check that the address lies in an executable PT_LOAD
 * segment of the object: a data pointer, a freed JIT buffer or a garbage
 * offset from the wire is refused, never called. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fnref.h"

/* Does [base + vaddr, + memsz) of an executable segment hold addr? */
static bool in_code(const struct dl_phdr_info *info, uintptr_t addr)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        if (addr >= start && addr - start < ph->p_memsz)
            return true;
    }
    return false;
}

/* ---- the loader's list, and fork ------------------------------------------ */

/* dl_iterate_phdr() and dlopen() hold glibc's dl_load_write_lock, which
 * glibc's fork() does not reset in the child: a worker forked while another
 * thread of ours walked the list would deadlock in its first resolve (the
 * soak found it). So our walks take walk_mu, and every fork() takes it too
 * (executor.c's atfork handlers, after the pools' locks: send_task() walks
 * under a pool's lock). Code outside cfut that walks the list while the
 * program forks (a C++ unwinder, say) is the fork start method's known
 * hazard: docs/processes.md. */
static pthread_mutex_t walk_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP; /* see resolve */

void cfut__fnref_fork_prepare(void) { pthread_mutex_lock(&walk_mu); }
void cfut__fnref_fork_parent(void) { pthread_mutex_unlock(&walk_mu); }

void cfut__fnref_fork_child(void)
{
    /* Held by a thread the child does not have (a recursive mutex knows
     * its owner): a fresh one. */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&walk_mu, &a);
    pthread_mutexattr_destroy(&a);
}

static void walk(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    pthread_mutex_lock(&walk_mu);
    dl_iterate_phdr(cb, data);
    pthread_mutex_unlock(&walk_mu);
}

/* ---- pointer -> reference ------------------------------------------------ */

struct find_ptr {
    uintptr_t addr;
    int index;
    bool found;
    bool main_program;
    const char *path;
    uintptr_t base;
    unsigned long long generation; /* dlpi_adds + dlpi_subs */
};

static int find_ptr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct find_ptr *fp = data;
    int index = fp->index++;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        fp->generation = info->dlpi_adds + info->dlpi_subs;
    if (!in_code(info, fp->addr))
        return 0;
    fp->found = true;
    /* The main program is the first object, with an empty name. */
    fp->main_program = index == 0;
    fp->path = info->dlpi_name ? info->dlpi_name : "";
    fp->base = (uintptr_t)info->dlpi_addr;
    return 1;
}

/* The loader names a dlopen()ed object by the path it was given, which may
 * be relative to a directory the program has since left. The kernel knows
 * the mapped file's absolute path: ask /proc/self/maps, once per object. */
static pthread_mutex_t abs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t abs_once = PTHREAD_ONCE_INIT;
static struct {
    uintptr_t base;
    char *path;
} abs_cache[32];
/* The loader's load and unload counts when the cache was filled: any
 * change (a library closed, another opened at the same address) empties it. */
static unsigned long long abs_generation;

/* A fork child may have inherited the lock held by a thread it does not
 * have. */
static void abs_reset(void)
{
    pthread_mutex_init(&abs_mu, NULL);
}

static void abs_setup(void)
{
    pthread_atfork(NULL, NULL, abs_reset);
}

static const char *absolute_path(uintptr_t base, uintptr_t addr, unsigned long long generation)
{
    const char *found = NULL;
    pthread_once(&abs_once, abs_setup);
    pthread_mutex_lock(&abs_mu);
    if (generation != abs_generation) {
        for (size_t i = 0; i < sizeof abs_cache / sizeof abs_cache[0]; i++) {
            cfut__free(abs_cache[i].path);
            abs_cache[i].path = NULL;
        }
        abs_generation = generation;
    }
    for (size_t i = 0; i < sizeof abs_cache / sizeof abs_cache[0]; i++) {
        if (abs_cache[i].path && abs_cache[i].base == base) {
            found = abs_cache[i].path;
            goto out;
        }
    }
    FILE *maps = fopen("/proc/self/maps", "re");
    char line[4352];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        int at = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &at) < 2 || !at)
            continue;
        if (addr < lo || addr >= hi || line[at] != '/')
            continue;
        line[strcspn(line, "\n")] = '\0';
        for (size_t i = 0; i < sizeof abs_cache / sizeof abs_cache[0]; i++) {
            if (!abs_cache[i].path) {
                abs_cache[i].base = base;
                abs_cache[i].path = cfut__strdup(line + at); /* kept while loaded */
                found = abs_cache[i].path;
                break;
            }
        }
        break;
    }
    if (maps)
        fclose(maps);
out:
    pthread_mutex_unlock(&abs_mu);
    return found;
}

int cfut__fnref_of(cfut_fn fn, cfut__fnref *out)
{
    out->path = NULL;
    out->path_len = 0;
    out->offset = 0;
    if (!fn)
        return CFUT_EINVAL;
    struct find_ptr fp = {.addr = (uintptr_t)fn};
    walk(find_ptr_cb, &fp);
    if (!fp.found || (!fp.main_program && !fp.path[0]))
        return CFUT_EINVAL; /* nowhere, or an anonymous object: no way back */
    out->path = fp.main_program ? "" : fp.path;
    if (out->path[0] && out->path[0] != '/') {
        const char *abs = absolute_path(fp.base, fp.addr, fp.generation);
        if (abs)
            out->path = abs;
    }
    out->path_len = strlen(out->path);
    out->offset = (uint64_t)(fp.addr - fp.base);
    return CFUT_OK;
}

/* ---- reference -> pointer ------------------------------------------------ */

struct find_obj {
    const char *path; /* NUL-terminated; "" for the main program */
    uint64_t offset;
    int index;
    bool found;       /* the object is loaded */
    bool code;        /* base + offset is in its code */
    uintptr_t addr;
};

static int find_obj_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct find_obj *fo = data;
    (void)size;
    bool match = fo->path[0] ? (info->dlpi_name && strcmp(info->dlpi_name, fo->path) == 0)
                             : fo->index == 0;
    fo->index++;
    if (!match)
        return 0;
    fo->found = true;
    uintptr_t addr = (uintptr_t)info->dlpi_addr + (uintptr_t)fo->offset;
    if (fo->offset <= UINTPTR_MAX - (uintptr_t)info->dlpi_addr && in_code(info, addr)) {
        fo->code = true;
        fo->addr = addr;
    }
    return 1;
}

int cfut__fnref_resolve(const char *path, size_t path_len, uint64_t offset, cfut_fn *out,
                        char *err, size_t errlen)
{
    *out = NULL;
    char buf[4096];
    if (path_len >= sizeof buf || memchr(path, '\0', path_len)) {
        snprintf(err, errlen, "bad function reference: object path of %zu bytes", path_len);
        return CFUT_ESERIALIZE;
    }
    memcpy(buf, path, path_len);
    buf[path_len] = '\0';
    struct find_obj fo = {.path = buf, .offset = offset};
    walk(find_obj_cb, &fo);
    if (!fo.found && buf[0]) {
        /* Not loaded here yet (the parent dlopen()ed it): load it for good. */
        pthread_mutex_lock(&walk_mu); /* recursive: constructors may call us */
        bool loaded = dlopen(buf, RTLD_NOW | RTLD_LOCAL) != NULL;
        pthread_mutex_unlock(&walk_mu);
        if (!loaded) {
            const char *why = dlerror();
            snprintf(err, errlen, "cannot load %s: %s", buf, why ? why : "dlopen failed");
            return CFUT_EINVAL;
        }
        fo = (struct find_obj){.path = buf, .offset = offset};
        walk(find_obj_cb, &fo);
    }
    if (!fo.found) {
        snprintf(err, errlen, "object %s is not loaded", buf[0] ? buf : "(main program)");
        return CFUT_EINVAL;
    }
    if (!fo.code) {
        snprintf(err, errlen, "offset 0x%llx is not code in %s", (unsigned long long)offset,
                 buf[0] ? buf : "the main program");
        return CFUT_EINVAL;
    }
    /* A function pointer from an address: the platform ABI makes the two one. */
    *out = (cfut_fn)fo.addr;
    return CFUT_OK;
}
