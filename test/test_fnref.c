/* test/test_fnref.c: function identity across address spaces (lib/fnref.c).
 *
 * A function pointer travels as (loaded object path, offset from its base).
 * cfut__fnref_of() must give back a reference that cfut__fnref_resolve()
 * turns into the same pointer, for static functions of the program, for
 * functions of shared libraries, and for a library the resolving process has
 * not loaded yet (it dlopen()s it). Anything that is not code in a loaded
 * object is refused on both sides, with a message, never a crash.
 *
 * The module test/fnref_mod.c is built by meson and found through
 * CFUT_TEST_FNREF_MOD; it is never linked, so each case decides whether it
 * is loaded. These are internal functions: the test links the static
 * library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fnref.h"
#include "harness.h"

/* ---- helpers ------------------------------------------------------------- */

static int static_target(int x) { return x * 3; }

int fnref_test_extern(int x);
int fnref_test_extern(int x) { return x + 1; }

static int static_data = 5;
static const char static_text[] = "not code";

/* Any address as a function pointer (through an integer: no object-to-
 * function pointer conversion, which ISO C does not define). */
#define FN(p) ((cfut_fn)(uintptr_t)(p))

/* The test module's path; NULL when not run through meson. */
static const char *mod_path_or_null(void)
{
    const char *p = getenv("CFUT_TEST_FNREF_MOD");
    if (!p || !*p) {
        printf("# CFUT_TEST_FNREF_MOD is not set: the module's part is skipped\n");
        return NULL;
    }
    return p;
}

static const char *mod_path(void)
{
    const char *p = mod_path_or_null();
    if (!p)
        th_skip("CFUT_TEST_FNREF_MOD is not set (run through meson test)");
    return p;
}

/* Round trip: of() then resolve() in this process gives fn back. */
static cfut__fnref round_trip(cfut_fn fn)
{
    cfut__fnref r;
    CHECK_STATUS(cfut__fnref_of(fn, &r), CFUT_OK);
    CHECK(r.path != NULL);
    CHECK_EQ(r.path_len, strlen(r.path));
    cfut_fn back = NULL;
    char err[256] = "";
    int rc = cfut__fnref_resolve(r.path, r.path_len, r.offset, &back, err, sizeof err);
    if (rc != CFUT_OK)
        th_fail(__FILE__, __LINE__, "resolve(%s, 0x%llx): %s: %s", r.path,
                (unsigned long long)r.offset, cfut_status_name(rc), err);
    CHECK(back == fn);
    return r;
}

/* resolve() refuses, says why, and leaves *out NULL. */
static void check_refused(const char *path, size_t len, uint64_t offset, int want,
                          const char *says)
{
    cfut_fn out = FN(static_target);
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = cfut__fnref_resolve(path, len, offset, &out, err, sizeof err);
    if (rc != want)
        th_fail(__FILE__, __LINE__, "resolve(%.*s [%zu bytes], 0x%llx): %s, want %s",
                (int)(len < 64 ? len : 64), path, len, (unsigned long long)offset,
                cfut_status_name(rc), cfut_status_name(want));
    CHECK(out == NULL);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    CHECK_INT(strlen(err), >, 0);
    CHECK_CONTAINS(err, says);
}

/* cfut__fnref_of() refuses and clears its output. */
static void check_of_refused(const void *p)
{
    cfut__fnref r = {"junk", 4, 99};
    CHECK_STATUS(cfut__fnref_of(FN(p), &r), CFUT_EINVAL);
    CHECK(r.path == NULL);
    CHECK_EQ(r.path_len, 0);
    CHECK(r.offset == 0);
}

/* The executable segments of one loaded object. */
typedef struct object_info {
    const char *want;   /* name to find; "" = the main program (first object) */
    bool found;
    int index;
    uintptr_t base;
    int nseg;
    uintptr_t seg_start[8], seg_end[8]; /* offsets from base: [start, end) */
} object_info;

static int find_object_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    object_info *o = data;
    (void)size;
    bool match = o->want[0] ? info->dlpi_name && strstr(info->dlpi_name, o->want)
                            : o->index == 0;
    o->index++;
    if (!match)
        return 0;
    o->found = true;
    o->base = (uintptr_t)info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && o->nseg < 8; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        o->seg_start[o->nseg] = ph->p_vaddr;
        o->seg_end[o->nseg] = ph->p_vaddr + ph->p_memsz;
        o->nseg++;
    }
    return 1;
}

static object_info find_object(const char *want)
{
    object_info o = {.want = want};
    dl_iterate_phdr(find_object_cb, &o);
    return o;
}

/* Is base + off in any executable segment of o? */
static bool is_code(const object_info *o, uintptr_t off)
{
    for (int i = 0; i < o->nseg; i++)
        if (off >= o->seg_start[i] && off < o->seg_end[i])
            return true;
    return false;
}

/* ---- the main program ---------------------------------------------------- */

/* A static function of the program: path "" (the main program), and the
 * reference resolves back to the very same function, which still works. */
static void test_static_function_round_trip(void)
{
    cfut__fnref r = round_trip(FN(static_target));
    CHECK_STR(r.path, "");
    CHECK_EQ(r.path_len, 0);
    object_info main_prog = find_object("");
    CHECK(main_prog.found);
    CHECK(r.offset == (uint64_t)((uintptr_t)static_target - main_prog.base));
    cfut_fn back;
    char err[64];
    CHECK_STATUS(cfut__fnref_resolve("", 0, r.offset, &back, err, sizeof err), CFUT_OK);
    CHECK_EQ(((int (*)(int))back)(5), 15);
}

/* Extern functions of the program, and the library's own functions (linked
 * statically into this program): all the main program. */
static void test_program_and_static_library_functions(void)
{
    cfut_fn fns[] = {FN(fnref_test_extern), FN(cfut__fnref_of), FN(cfut__fnref_resolve),
                     FN(executor_submit), FN(future_new), FN(th_main)};
    uint64_t seen[6];
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        cfut__fnref r = round_trip(fns[i]);
        CHECK_STR(r.path, "");
        seen[i] = r.offset;
        for (size_t j = 0; j < i; j++)
            CHECK(seen[j] != seen[i]); /* distinct functions, distinct offsets */
    }
}

/* First and last byte of every executable segment of the program are code;
 * one before and one past are not (unless another segment is there). */
static void test_segment_boundaries(void)
{
    const char *objs[] = {"", "libc.so"};
    for (size_t k = 0; k < 2; k++) {
        object_info o = find_object(objs[k]);
        CHECK(o.found);
        CHECK_INT(o.nseg, >=, 1);
        cfut__fnref r;
        CHECK_STATUS(cfut__fnref_of(FN(o.base + o.seg_start[0]), &r), CFUT_OK);
        const char *path = r.path;
        size_t len = r.path_len;
        for (int s = 0; s < o.nseg; s++) {
            uintptr_t in[] = {o.seg_start[s], o.seg_end[s] - 1};
            for (int i = 0; i < 2; i++) {
                CHECK_STATUS(cfut__fnref_of(FN(o.base + in[i]), &r), CFUT_OK);
                CHECK_STR(r.path, path);
                CHECK(r.offset == in[i]);
                cfut_fn out;
                char err[128];
                CHECK_STATUS(cfut__fnref_resolve(path, len, in[i], &out, err, sizeof err),
                             CFUT_OK);
                CHECK((uintptr_t)out == o.base + in[i]);
            }
            uintptr_t out_of[] = {o.seg_start[s] - 1, o.seg_end[s]};
            for (int i = 0; i < 2; i++) {
                if (is_code(&o, out_of[i]))
                    continue;
                check_refused(path, len, out_of[i], CFUT_EINVAL, "is not code");
                cfut__fnref q;
                int rc = cfut__fnref_of(FN(o.base + out_of[i]), &q);
                /* Another object may start right there; never this one. */
                CHECK(rc == CFUT_EINVAL || strcmp(q.path, path) != 0);
            }
        }
    }
}

/* ---- shared libraries ---------------------------------------------------- */

/* Functions of libc (loaded at start), libm (dlopen()ed here) and the test
 * module (dlopen()ed by absolute path) resolve to the same addresses. */
static void test_shared_library_functions(void)
{
    cfut__fnref r = round_trip(FN(getpid));
    CHECK_CONTAINS(r.path, "libc.so");
    CHECK(r.path[0] == '/');

    void *libm = dlopen("libm.so.6", RTLD_NOW);
    CHECK(libm != NULL);
    void *cos_p = dlsym(libm, "cos");
    CHECK(cos_p != NULL);
    r = round_trip(FN(cos_p));
    CHECK_CONTAINS(r.path, "libm.so");
    cfut_fn back;
    char err[128];
    CHECK_STATUS(cfut__fnref_resolve(r.path, r.path_len, r.offset, &back, err, sizeof err),
                 CFUT_OK);
    CHECK(((double (*)(double))back)(0.0) == 1.0);

    dlclose(libm);
    const char *path = mod_path_or_null();
    if (!path)
        return;
    void *mod = dlopen(path, RTLD_NOW);
    CHECK(mod != NULL);
    void *answer = dlsym(mod, "fnref_mod_answer");
    CHECK(answer != NULL);
    r = round_trip(FN(answer));
    CHECK_STR(r.path, path);
    CHECK_STATUS(cfut__fnref_resolve(r.path, r.path_len, r.offset, &back, err, sizeof err),
                 CFUT_OK);
    CHECK_EQ(((int (*)(int))back)(1), 43);
    dlclose(mod);
}

/* Writes (status, offset, path) of fn_name in the module to fd: what a
 * parent that loaded the module would put in a TASK frame. */
static void describe_in_child(int fd, const char *dlopen_as, const char *cwd_before,
                              const char *cwd_after)
{
    if (cwd_before && chdir(cwd_before) != 0)
        _exit(10);
    void *mod = dlopen(dlopen_as, RTLD_NOW);
    if (!mod)
        _exit(11);
    void *answer = dlsym(mod, "fnref_mod_answer");
    if (cwd_after && chdir(cwd_after) != 0)
        _exit(12);
    cfut__fnref r;
    int rc = cfut__fnref_of(FN(answer), &r);
    char msg[4200];
    int n = snprintf(msg, sizeof msg, "%d %llu %s", rc, (unsigned long long)r.offset,
                     rc == CFUT_OK ? r.path : "");
    if (write(fd, msg, (size_t)n) != n)
        _exit(13);
    _exit(0);
}

/* Forks a child that loads the module and describes fnref_mod_answer. */
static void describe_module_function(const char *dlopen_as, const char *cwd_before,
                                     const char *cwd_after, char *path, size_t pathlen,
                                     uint64_t *offset)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        describe_in_child(fds[1], dlopen_as, cwd_before, cwd_after);
    }
    close(fds[1]);
    char msg[4200];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    msg[got] = '\0';
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    int rc;
    unsigned long long off;
    int used = 0;
    CHECK_EQ(sscanf(msg, "%d %llu %n", &rc, &off, &used), 2);
    CHECK_STATUS(rc, CFUT_OK);
    snprintf(path, pathlen, "%s", msg + used);
    *offset = off;
}

/* The resolving process has not loaded the library (a spawned worker whose
 * parent dlopen()ed it): resolve() loads it, and the function is the
 * module's. */
static void test_not_yet_loaded_library_is_dlopened(void)
{
    const char *path = mod_path();
    char got[4096];
    uint64_t offset;
    describe_module_function(path, NULL, NULL, got, sizeof got, &offset);
    CHECK_STR(got, path);
    CHECK(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL); /* not loaded here */
    cfut_fn fn = NULL;
    char err[256] = "";
    int rc = cfut__fnref_resolve(got, strlen(got), offset, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        th_fail(__FILE__, __LINE__, "resolve: %s: %s", cfut_status_name(rc), err);
    void *mod = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    CHECK(mod != NULL); /* loaded now */
    CHECK(FN(dlsym(mod, "fnref_mod_answer")) == fn);
    CHECK_EQ(((int (*)(int))fn)(8), 50);
    /* Once loaded, the same reference resolves without loading again. */
    cfut_fn again = NULL;
    CHECK_STATUS(cfut__fnref_resolve(got, strlen(got), offset, &again, err, sizeof err),
                 CFUT_OK);
    CHECK(again == fn);
    dlclose(mod);
}

/* A library the program dlopen()ed by a relative path ("./plugin.so"), after
 * which it changed directory: the reference must still name the library,
 * so a worker in another directory loads the same file. The dynamic loader
 * keeps the name as given ("./libfnref_mod.so"); cfut__fnref_of must not
 * pass that on as is. (Regression test: the relative name used to travel,
 * and resolving it from another directory failed or found another file.) */
static void test_relative_dlopen_path_survives_chdir(void)
{
    const char *path = mod_path();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    CHECK(slash != NULL);
    *slash = '\0';
    char rel[4200];
    snprintf(rel, sizeof rel, "./%s", slash + 1);
    char got[4096];
    uint64_t offset;
    describe_module_function(rel, dir, "/", got, sizeof got, &offset);
    printf("# dlopen(\"%s\") in %s, then chdir(\"/\"): fnref path \"%s\"\n", rel, dir, got);
    CHECK_EQ(chdir("/"), 0);
    cfut_fn fn = NULL;
    char err[512] = "";
    int rc = cfut__fnref_resolve(got, strlen(got), offset, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        th_fail(__FILE__, __LINE__, "resolve(\"%s\") from /: %s: %s", got,
                cfut_status_name(rc), err);
    CHECK_EQ(((int (*)(int))fn)(0), 42);
}

/* Copies the file at `from` to `to`. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK(in != NULL && out != NULL);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        CHECK_EQ(fwrite(buf, 1, n, out), n);
    CHECK_EQ(fclose(in), 0);
    CHECK_EQ(fclose(out), 0);
}

/* Plugin reload: "./libplug.so" loaded from one directory, unloaded, then a
 * different file loaded as "./libplug.so" from another directory. The
 * loader tends to put the second at the same base as the first; the
 * reference must name the second file, not the first (the absolute path of
 * a relatively loaded object must not be remembered past its unloading). */
static void test_reloaded_library_is_named_afresh(void)
{
    const char *path = mod_path();
    char d1[] = "/tmp/cfut-fnref-a.XXXXXX", d2[] = "/tmp/cfut-fnref-b.XXXXXX";
    CHECK(mkdtemp(d1) != NULL && mkdtemp(d2) != NULL);
    char real1[4096], real2[4096], f1[4200], f2[4200], want1[4200], want2[4200];
    CHECK(realpath(d1, real1) != NULL && realpath(d2, real2) != NULL);
    snprintf(f1, sizeof f1, "%s/libplug.so", d1);
    snprintf(f2, sizeof f2, "%s/libplug.so", d2);
    snprintf(want1, sizeof want1, "%s/libplug.so", real1);
    snprintf(want2, sizeof want2, "%s/libplug.so", real2);
    copy_file(path, f1);
    copy_file(path, f2);

    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_EQ(chdir(d1), 0);
    void *h = dlopen("./libplug.so", RTLD_NOW);
    CHECK(h != NULL);
    void *fn = dlsym(h, "fnref_mod_answer");
    cfut__fnref r;
    CHECK_STATUS(cfut__fnref_of(FN(fn), &r), CFUT_OK);
    CHECK_STR(r.path, want1);
    uintptr_t base1 = (uintptr_t)fn - (uintptr_t)r.offset;
    CHECK_EQ(dlclose(h), 0);
    bool unloaded = dlopen("./libplug.so", RTLD_NOW | RTLD_NOLOAD) == NULL;

    CHECK_EQ(chdir(d2), 0);
    h = dlopen("./libplug.so", RTLD_NOW);
    CHECK(h != NULL);
    fn = dlsym(h, "fnref_mod_answer");
    CHECK_STATUS(cfut__fnref_of(FN(fn), &r), CFUT_OK);
    uintptr_t base2 = (uintptr_t)fn - (uintptr_t)r.offset;
    printf("# first at %#lx, second at %#lx%s: reference names \"%s\"\n",
           (unsigned long)base1, (unsigned long)base2, unloaded ? "" : " (not unloaded)",
           r.path);
    bool ok = strcmp(r.path, want2) == 0;
    dlclose(h);
    CHECK_EQ(chdir(cwd), 0);
    unlink(f1);
    unlink(f2);
    rmdir(d1);
    rmdir(d2);
    if (!ok)
        th_fail(__FILE__, __LINE__, "the reference names \"%s\", want \"%s\"", r.path, want2);
}

/* ---- refusals ------------------------------------------------------------ */

/* NULL, data, heap, stack, an anonymous executable mapping (a JIT buffer),
 * unmapped addresses and a function of an unloaded library: not code of any
 * loaded object, so no reference. */
static void test_of_refuses_non_code(void)
{
    int on_stack = 1;
    void *heap = malloc(64);
    CHECK(heap != NULL);
    check_of_refused(NULL);
    check_of_refused(&static_data);
    check_of_refused(heap);
    check_of_refused(&on_stack);
    check_of_refused((const void *)(uintptr_t)1);
    check_of_refused((const void *)(uintptr_t)4096);
    check_of_refused((const void *)UINTPTR_MAX);
    /* The string literal's segment is read-only, not executable, unless the
     * program was linked without a separate code segment. */
    object_info main_prog = find_object("");
    if (!is_code(&main_prog, (uintptr_t)static_text - main_prog.base))
        check_of_refused(static_text);

    long page = sysconf(_SC_PAGESIZE);
    unsigned char *jit = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE | PROT_EXEC,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (jit == MAP_FAILED) /* W^X policies may refuse it; a plain mapping then */
        jit = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(jit != MAP_FAILED);
    check_of_refused(jit);
    check_of_refused(jit + 100);
    munmap(jit, (size_t)page);
    check_of_refused(jit); /* unmapped now */
    free(heap);

    /* A function of a library that has since been unloaded. */
    const char *path = mod_path_or_null();
    if (!path)
        return;
    void *mod = dlopen(path, RTLD_NOW);
    CHECK(mod != NULL);
    void *answer = dlsym(mod, "fnref_mod_answer");
    CHECK(answer != NULL);
    round_trip(FN(answer));
    CHECK_EQ(dlclose(mod), 0);
    if (dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL)
        check_of_refused(answer);
}

/* Offsets that are not code: past every segment, huge, wrapping around the
 * address space, in the data segment (of the program, of a library). */
static void test_resolve_refuses_bad_offsets(void)
{
    object_info main_prog = find_object("");
    CHECK(main_prog.found);
    uint64_t data_off = (uint64_t)((uintptr_t)&static_data - main_prog.base);
    check_refused("", 0, data_off, CFUT_EINVAL, "is not code in the main program");
    check_refused("", 0, UINT64_MAX, CFUT_EINVAL, "is not code");
    check_refused("", 0, (uint64_t)1 << 47, CFUT_EINVAL, "is not code");
    check_refused("", 0, (uint64_t)1 << 63, CFUT_EINVAL, "is not code");
    if (!is_code(&main_prog, 0))
        check_refused("", 0, 0, CFUT_EINVAL, "is not code");

    /* libc: an offset that wraps base + offset around to the program's code
     * (which lies below libc) is still not libc's code. */
    object_info libc = find_object("libc.so");
    CHECK(libc.found);
    cfut__fnref r;
    CHECK_STATUS(cfut__fnref_of(FN(getpid), &r), CFUT_OK);
    uintptr_t target = (uintptr_t)static_target;
    if (target < libc.base) {
        uint64_t wrap = (uint64_t)(target - libc.base); /* modulo 2^64 */
        check_refused(r.path, r.path_len, wrap, CFUT_EINVAL, "is not code");
    }
    check_refused(r.path, r.path_len, UINT64_MAX, CFUT_EINVAL, "is not code");

    /* The module's data symbol. */
    const char *path = mod_path_or_null();
    if (!path)
        return;
    void *mod = dlopen(path, RTLD_NOW);
    CHECK(mod != NULL);
    void *data = dlsym(mod, "fnref_mod_data");
    void *answer = dlsym(mod, "fnref_mod_answer");
    CHECK(data != NULL && answer != NULL);
    cfut__fnref m;
    CHECK_STATUS(cfut__fnref_of(FN(answer), &m), CFUT_OK);
    uint64_t mod_base = (uint64_t)(uintptr_t)answer - m.offset;
    check_refused(m.path, m.path_len, (uint64_t)(uintptr_t)data - mod_base, CFUT_EINVAL,
                  "is not code");
    dlclose(mod);
}

/* Paths that name nothing loadable, or that are malformed: refused with a
 * message; the malformed ones before anything is opened. */
static void test_resolve_refuses_bad_paths(void)
{
    check_refused("/nonexistent/libcfut-nope.so", 28, 0x1000, CFUT_EINVAL, "cannot load");
    check_refused("/dev/null", 9, 0x1000, CFUT_EINVAL, "cannot load /dev/null");
    check_refused("/", 1, 0x1000, CFUT_EINVAL, "cannot load /");
    check_refused("libcfut-no-such-library.so.9", 28, 0, CFUT_EINVAL, "cannot load");
    /* Embedded NUL: "/dev/null" would load nothing, but the rest must not be
     * silently dropped either. */
    check_refused("/dev/null\0/lib/x.so", 19, 0, CFUT_ESERIALIZE, "bad function reference");
    check_refused("\0", 1, 0, CFUT_ESERIALIZE, "bad function reference");
    /* A loaded library's name with a NUL and junk after it. */
    cfut__fnref r;
    CHECK_STATUS(cfut__fnref_of(FN(getpid), &r), CFUT_OK);
    char with_nul[4200];
    memcpy(with_nul, r.path, r.path_len);
    memcpy(with_nul + r.path_len, "\0junk", 5);
    check_refused(with_nul, r.path_len + 5, r.offset, CFUT_ESERIALIZE,
                  "bad function reference");
    /* Over-long: 4096 bytes and more are refused as malformed; 4095 reaches
     * the loader, which finds nothing. */
    size_t big = 100000;
    char *longp = malloc(big);
    CHECK(longp != NULL);
    memset(longp, 'a', big);
    check_refused(longp, big, 0, CFUT_ESERIALIZE, "100000 bytes");
    check_refused(longp, 4096, 0, CFUT_ESERIALIZE, "4096 bytes");
    check_refused(longp, 4095, 0, CFUT_EINVAL, "cannot load");
    longp[0] = '/';
    check_refused(longp, 4095, 0, CFUT_EINVAL, "cannot load");
    free(longp);
}

/* The message never overruns the caller's buffer, however small. */
static void test_resolve_error_buffer_bounds(void)
{
    size_t sizes[] = {1, 2, 8, 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char buf[64];
        memset(buf, '#', sizeof buf);
        cfut_fn out = FN(static_target);
        CHECK_STATUS(cfut__fnref_resolve("", 0, UINT64_MAX, &out, buf, sizes[i]),
                     CFUT_EINVAL);
        CHECK(out == NULL);
        CHECK_EQ(strlen(buf), sizes[i] - 1);
        for (size_t k = sizes[i]; k < sizeof buf; k++)
            CHECK_EQ(buf[k], '#');
        memset(buf, '#', sizeof buf);
        CHECK_STATUS(cfut__fnref_resolve("\0", 1, 0, &out, buf, sizes[i]), CFUT_ESERIALIZE);
        CHECK_EQ(strlen(buf), sizes[i] - 1);
        for (size_t k = sizes[i]; k < sizeof buf; k++)
            CHECK_EQ(buf[k], '#');
    }
    /* No buffer at all. */
    cfut_fn out;
    CHECK_STATUS(cfut__fnref_resolve("", 0, UINT64_MAX, &out, NULL, 0), CFUT_EINVAL);
    CHECK_STATUS(cfut__fnref_resolve("/nonexistent/x.so", 17, 0, &out, NULL, 0), CFUT_EINVAL);
}

TH_CASES(
    TH_CASE(test_static_function_round_trip),
    TH_CASE(test_program_and_static_library_functions),
    TH_CASE(test_segment_boundaries),
    TH_CASE(test_shared_library_functions),
    TH_CASE(test_not_yet_loaded_library_is_dlopened),
    TH_CASE(test_relative_dlopen_path_survives_chdir),
    TH_CASE(test_reloaded_library_is_named_afresh),
    TH_CASE(test_of_refuses_non_code),
    TH_CASE(test_resolve_refuses_bad_offsets),
    TH_CASE(test_resolve_refuses_bad_paths),
    TH_CASE(test_resolve_error_buffer_bounds),
)
