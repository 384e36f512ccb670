/* fuzz/gen_corpus.c: writes the seed corpora under fuzz/corpus/ (run once;
 * the files are committed). Frames come from the library's own encoders, so
 * after a format change, regenerate:
 *
 *     ninja -C build fuzz/gen_corpus && build/fuzz/gen_corpus fuzz/corpus
 *
 * fuzz_wire/: a valid frame of every kind (several variants each) and a few
 * invalid ones. fuzz_fnref/: inputs in fuzz_fnref.c's layout for each mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wire.h"

static const char *root;
static int written;

static void save(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

static void frame(const char *name, cfut__buf *b, int rc)
{
    if (rc != CFUT_OK) {
        fprintf(stderr, "%s: %s\n", name, cfut_status_name(rc));
        exit(1);
    }
    save("fuzz_wire", name, b->data, b->len);
    b->len = 0;
}

#define BYTES(s) ((cfut__bytes){(const unsigned char *)(s), sizeof(s) - 1})

static void wire_corpus(void)
{
    cfut__buf b = {0};
    cfut__wire_init init = {.name = BYTES("cfut1_0"), .index = 0};
    frame("init-plain", &b, cfut__wire_put_init(&b, &init));
    init = (cfut__wire_init){.name = BYTES("pool_12"), .index = 12, .has_init = 1,
                             .init_path = BYTES("/usr/lib/libplugin.so"),
                             .init_offset = 0x11a0, .initarg = BYTES("config=1")};
    frame("init-initializer", &b, cfut__wire_put_init(&b, &init));

    cfut__fnref main_fn = {"", 0, 0x1139};
    cfut__fnref lib_fn = {"/lib/x86_64-linux-gnu/libm.so.6", 31, 0x2f3d0};
    frame("task-empty-arg", &b, cfut__wire_put_task(&b, 1, &main_fn, NULL, 0, false));
    double x = 2.5;
    frame("task-double", &b, cfut__wire_put_task(&b, 2, &main_fn, &x, sizeof x, false));
    frame("task-library", &b, cfut__wire_put_task(&b, 3, &lib_fn, "abcdefghijklmnopq", 17, false));
    frame("task-in-shm", &b, cfut__wire_put_task(&b, 4, &main_fn, NULL, 1 << 20, true));

    cfut__outcome o = {0};
    cfut__value_set(&o.result, &x, sizeof x);
    frame("outcome-ok", &b, cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 2, &o, 4242, false));
    cfut__value_set(&o.result, NULL, 0);
    frame("outcome-ok-empty", &b, cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 1, &o, 4242, false));
    frame("ready-ok", &b, cfut__wire_put_outcome(&b, CFUT__W_READY, 0, &o, 4242, false));
    cfut__outcome big = {0};
    big.result.len = (size_t)1 << 20; /* in shared memory: only the length is written */
    big.result.u.ptr = NULL;
    frame("outcome-in-shm", &b, cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 4, &big, 4242, true));
    big.result.len = 100;
    frame("outcome-in-shm-small", &b,
          cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 4, &big, 4242, true));
    cfut__outcome_fail(&o, CFUT_ETASK, -22, "task returned -22");
    frame("outcome-task-error", &b, cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 3, &o, 4242, false));
    cfut__outcome_fail(&o, CFUT_ESERIALIZE, 0, "the worker could not decode a task frame");
    frame("outcome-serialize", &b, cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 0, &o, 4242, false));
    cfut__outcome_fail(&o, CFUT_ETASK, 3, "initializer: no config");
    frame("ready-failed", &b, cfut__wire_put_outcome(&b, CFUT__W_READY, 0, &o, 4242, false));
    cfut__outcome_clear(&o);

    frame("shutdown", &b, cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN));
    frame("fork", &b, cfut__wire_put_empty(&b, CFUT__W_FORK));
    frame("forked", &b, cfut__wire_put_exit(&b, CFUT__W_FORKED, 31337, 0));
    frame("forked-failed", &b, cfut__wire_put_exit(&b, CFUT__W_FORKED, 0, 11));
    frame("exited-signal", &b, cfut__wire_put_exit(&b, CFUT__W_EXITED, 31337, 0x8b));
    frame("exited-status", &b, cfut__wire_put_exit(&b, CFUT__W_EXITED, 31337, 3 << 8));

    /* Invalid on purpose: a lying length, a truncated payload, two frames. */
    cfut__wire_put_task(&b, 5, &main_fn, "xy", 2, false);
    b.data[8] = 0xff, b.data[9] = 0xff, b.data[10] = 0xff, b.data[11] = 0x3f;
    save("fuzz_wire", "bad-lying-length", b.data, b.len);
    b.len = 0;
    cfut__wire_put_task(&b, 6, &lib_fn, "xy", 2, false);
    save("fuzz_wire", "bad-truncated", b.data, b.len - 3);
    b.len = 0;
    cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN);
    cfut__wire_put_exit(&b, CFUT__W_EXITED, 1, 0);
    save("fuzz_wire", "bad-two-frames", b.data, b.len);
    cfut__buf_free(&b);
}

/* fuzz_fnref.c's layout: object, mode, errlen, u64, path. */
static void fnref_input(const char *name, int object, int mode, int errlen, uint64_t v,
                        const void *path, size_t plen)
{
    unsigned char buf[8192];
    buf[0] = (unsigned char)object;
    buf[1] = (unsigned char)mode;
    buf[2] = (unsigned char)errlen;
    for (int i = 0; i < 8; i++)
        buf[3 + i] = (unsigned char)(v >> (8 * i));
    if (plen)
        memcpy(buf + 11, path, plen);
    save("fuzz_fnref", name, buf, 11 + plen);
}

static void fnref_corpus(void)
{
    fnref_input("program-offset-0", 0, 0, 255, 0, NULL, 0);
    fnref_input("program-offset-huge", 0, 0, 255, UINT64_MAX, NULL, 0);
    fnref_input("program-seg-start", 0, 1, 255, 64, NULL, 0);
    fnref_input("program-seg-before", 0, 1, 255, 63, NULL, 0);
    fnref_input("program-seg-inside", 0, 1, 200, 0x1234, NULL, 0);
    fnref_input("lib1-seg-start", 1, 1, 255, 64, NULL, 0);
    fnref_input("lib2-seg-inside", 2, 1, 100, 0x100040, NULL, 0);
    fnref_input("lib3-seg-second", 3, 1, 255, ((uint64_t)1 << 32) | 64, NULL, 0);
    fnref_input("lib2-offset-raw", 2, 0, 16, 0x1000, NULL, 0);
    fnref_input("errlen-1", 0, 0, 1, UINT64_MAX, NULL, 0);
    fnref_input("errlen-0", 0, 0, 0, UINT64_MAX, NULL, 0);
    fnref_input("path-empty", 0, 2, 255, 0x1000, NULL, 0);
    fnref_input("path-nul", 0, 2, 255, 0x1000, "/lib/libc.so.6\0junk", 19);
    fnref_input("path-only-nul", 0, 2, 255, 0, "\0", 1);
    fnref_input("path-libc", 0, 2, 255, 0x28000, "/lib/x86_64-linux-gnu/libc.so.6", 31);
    fnref_input("path-vdso", 0, 2, 255, 0x800, "linux-vdso.so.1", 15);
    static char longp[4096];
    memset(longp, 'a', sizeof longp);
    fnref_input("path-4096", 0, 2, 255, 0, longp, sizeof longp);
    fnref_input("of-program-code", 0, 3, 255, 0x200, NULL, 0);
    fnref_input("of-lib1-code", 1, 3, 255, 0x4000, NULL, 0);
    fnref_input("of-null", 0, 3, 255, 0, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-ROOT (fuzz/corpus)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    wire_corpus();
    fnref_corpus();
    printf("%d files written under %s\n", written, root);
    return 0;
}
