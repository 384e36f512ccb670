/* fuzz/gen_corpus.c: writes the seed corpora under fuzz/corpus/ (run once;
 * the files are committed). Frames come from the library's own encoders, so
 * after a format change, regenerate:
 *
 *     ninja -C build fuzz/gen_corpus && build/fuzz/gen_corpus fuzz/corpus
 *
 * fuzz_wire/: a valid frame of every kind (several variants each) and a few
 * invalid ones. fuzz_fnref/: inputs in fuzz_fnref.c's layout for each mode.
 * fuzz_signature/: signatures (every code as return and argument, 32 and 33
 * arguments, misplaced ':', refused codes), each followed by a NUL and the
 * values fuzz_signature.c draws from the bytes after it. */
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
    frame("doorbell", &b, cfut__wire_put_empty(&b, CFUT__W_DOORBELL));
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

/* fuzz_signature.c's layout: the signature, a NUL, then value bytes (nval of
 * them; values[] holds a counting pattern, or the given bytes). */
static void sig_input(const char *name, const char *sig, const void *values, size_t nval)
{
    unsigned char buf[1024];
    size_t n = strlen(sig);
    memcpy(buf, sig, n);
    if (values || nval) {
        buf[n++] = '\0';
        for (size_t i = 0; i < nval; i++)
            buf[n++] = values ? ((const unsigned char *)values)[i]
                              : (unsigned char)(i * 37 + 11); /* never 0xff: no NULL */
    }
    save("fuzz_signature", name, buf, n);
}

static void sig_corpus(void)
{
    /* Every code as the return and as the argument. */
    static const char codes[] = "vcChHiIlLqQzfdpsyo";
    for (const char *c = codes; *c; c++) {
        char sig[8], name[32];
        if (*c != 'y' && *c != 'o') {
            snprintf(sig, sizeof sig, "%c:", *c);
            snprintf(name, sizeof name, "ret-%c%s", *c, *c >= 'a' ? "" : "-upper");
            sig_input(name, sig, NULL, 40);
        }
        if (*c != 'v') {
            snprintf(sig, sizeof sig, "i:%c", *c);
            snprintf(name, sizeof name, "arg-%c%s", *c, *c >= 'a' ? "" : "-upper");
            sig_input(name, sig, NULL, 40);
        }
    }
    sig_input("all-codes", "d:cChHiIlLqQzfdpsyo", NULL, 300);
    sig_input("pow", "d:dd", "\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\x24\x40", 16);
    sig_input("no-values", "i:isy", NULL, 0);
    sig_input("values-short", "q:qqqq", NULL, 12);

    /* 32 arguments (the most), 33 (one too many), each kind of field. */
    char sig[64];
    static const char many[] = "ihsyo";
    for (const char *c = many; *c; c++) {
        char name[32];
        memset(sig, *c, sizeof sig);
        sig[0] = 'i', sig[1] = ':', sig[34] = '\0';
        snprintf(name, sizeof name, "args-32-%c", *c);
        sig_input(name, sig, NULL, 900);
        sig[34] = *c, sig[35] = '\0';
        snprintf(name, sizeof name, "args-33-%c", *c);
        sig_input(name, sig, NULL, 900);
    }

    /* ':' and the return code. */
    sig_input("empty", "", NULL, 0);
    sig_input("empty-with-values", "", NULL, 8);
    sig_input("colon-only", ":", NULL, 0);
    sig_input("colon-first", ":d", NULL, 0);
    sig_input("colon-missing", "dd", NULL, 0);
    sig_input("colon-missing-end", "d", NULL, 0);
    sig_input("colon-twice", "d::", NULL, 0);
    sig_input("colon-in-args", "d:d:d", NULL, 0);
    sig_input("void-void", "v:", NULL, 0);

    /* Refused codes (some only under the process or map rules). */
    sig_input("bad-ret-unknown", "x:d", NULL, 0);
    sig_input("bad-ret-y", "y:d", NULL, 0);
    sig_input("bad-ret-o", "o:d", NULL, 0);
    sig_input("bad-arg-unknown", "d:dx", NULL, 0);
    sig_input("bad-arg-v", "v:v", NULL, 0);
    sig_input("bad-arg-space", "d: d", NULL, 0);
    sig_input("bad-arg-byte", "d:\x01", NULL, 0);
    sig_input("bad-arg-high-byte", "d:\xe9", NULL, 0);
    sig_input("remote-p-ret", "p:z", NULL, 8);
    sig_input("remote-p-arg", "v:p", NULL, 8);
    sig_input("map-s-ret", "s:s", NULL, 30);
    sig_input("map-o-arg", "i:oi", NULL, 12);
    memset(sig, 'd', sizeof sig);
    sig[0] = 'v', sig[1] = ':', sig[45] = 'x', sig[46] = '\0';
    sig_input("bad-after-40-bytes", sig, NULL, 0);
    static const unsigned char nul_inside[] = {'d', ':', 'd', 0, 'd', 0};
    save("fuzz_signature", "nul-inside", nul_inside, sizeof nul_inside);

    /* 'o' sizes (byte b: b * 4 bytes; 0xff: over 4 GiB, refused). */
    sig_input("o-size-0", "i:o", "\0", 1);
    sig_input("o-size-4", "i:o", "\x01", 1);
    sig_input("o-size-1016", "i:o", "\xfe", 1);
    sig_input("o-size-too-big", "i:o", "\xff", 1);
    sig_input("o-three", "s:ooo", "\x01\x02\x03\0\0\0\0\0\0\0\0\x05hello", 17);
    sig_input("o-then-too-big", "i:oo", "\x10\xff", 2);

    /* Strings and buffers: NULL (0xff), empty, with a NUL; empty 'y'. */
    sig_input("s-null", "s:s", "\xff\0\0\0\0\0\0\0\0\xff", 10);
    sig_input("s-empty", "s:s", "\0\0\0\0\0\0\0\0\0\0", 10);
    sig_input("s-cut-at-nul", "z:s", "\x05" "ab\0cd", 6);
    sig_input("y-empty", "z:y", "\0", 1);
    sig_input("y-long", "z:y", "\x3f" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
              64);
    /* Raw argument bytes that end inside a field (after what the values use). */
    sig_input("raw-lying-length", "v:s", "\x01x\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
              "\xff\xff\xff\x7f", 21);
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
    sig_corpus();
    printf("%d files written under %s\n", written, root);
    return 0;
}
