/* test/test_call.c: calling plain C functions through libffi
 * (executor_call, executor_callv; include/cfut/call.h).
 *
 * CPython has no counterpart (its executors call Python callables); these
 * cases check issue #4's contract: every type code round-trips its extreme
 * values as argument and as return value, through the variadic entry
 * (char/short as int, float as double) and through executor_callv; strings,
 * 'y' buffers, 'o' output buffers, 'p' pointers (threads only); functions in
 * shared libraries and static functions; the 32-argument limit; the
 * signature parser's errors, each naming the character and its position;
 * NULL arguments; and, on process pools, a function pointer that is not code
 * and a function that crashes.
 *
 * Every case runs on the thread pool (_threads) and on the process pool with
 * the default start method (_processes); some also with _spawn and _fork
 * (fork skipped under TSan, which cannot follow a fork of a threaded
 * process). Tasks that must wait are gated on FIFOs (an "xgate", which works
 * across processes), never on sleeps. */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- time and backends -------------------------------------------------- */

typedef struct be {
    executor_kind kind;
    executor_start start;
} be;

static executor_t *ex_new(be b, int max_workers)
{
    executor_options o;
    memset(&o, 0, sizeof o);
    o.max_workers = max_workers;
    o.start = b.start;
    executor_t *ex = NULL;
    CHECK_STATUS(executor_new(&ex, b.kind, &o), CFUT_OK);
    CHECK(ex != NULL);
    return ex;
}

static executor_stats stats(executor_t *ex)
{
    executor_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK_STATUS(executor_get_stats(ex, &s), CFUT_OK);
    return s;
}

static const be THREADS = {EXECUTOR_THREADS, EXECUTOR_START_DEFAULT};
static const be PROCESSES = {EXECUTOR_PROCESSES, EXECUTOR_START_DEFAULT};
static const be SPAWN = {EXECUTOR_PROCESSES, EXECUTOR_START_SPAWN};
static const be FORK = {EXECUTOR_PROCESSES, EXECUTOR_START_FORK};

static void skip_fork_under_tsan(void)
{
    if (TH_TSAN)
        th_skip("TSan cannot follow fork() of a threaded process");
}

/* test_<fn>_threads and test_<fn>_processes (default start method). */
#define ON_BOTH(fn)                                                            \
    static void test_##fn##_threads(void) { fn(THREADS); }                     \
    static void test_##fn##_processes(void) { fn(PROCESSES); }
#define BOTH_CASES(fn) TH_CASE(test_##fn##_threads), TH_CASE(test_##fn##_processes)
/* The same, plus _spawn and _fork. */
#define ON_ALL(fn)                                                             \
    ON_BOTH(fn)                                                                \
    static void test_##fn##_spawn(void) { fn(SPAWN); }                         \
    static void test_##fn##_fork(void)                                         \
    {                                                                          \
        skip_fork_under_tsan();                                                \
        fn(FORK);                                                              \
    }
#define ALL_CASES(fn) BOTH_CASES(fn), TH_CASE(test_##fn##_spawn), TH_CASE(test_##fn##_fork)

/* ---- checking futures ----------------------------------------------------- */

static void hexdump(const char *what, const void *p, size_t n)
{
    const unsigned char *b = p;
    fprintf(stderr, "# %s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 48; i++)
        fprintf(stderr, " %02x", b[i]);
    fprintf(stderr, "%s\n", n > 48 ? " ..." : "");
}

/* Waits for f, checks that its result is exactly the `size` bytes at
 * `want`, and releases f. */
#define EXPECT_BYTES(f, want, size) expect_bytes((f), (want), (size), __FILE__, __LINE__, #f)
static void expect_bytes(future_t *f, const void *want, size_t size, const char *file,
                         int line, const char *what)
{
    const void *data = NULL;
    size_t len = 0;
    if (!f)
        th_fail(file, line, "%s: NULL future", what);
    int st = future_result(f, TH_LONG_WAIT, &data, &len);
    if (st != CFUT_OK)
        th_fail(file, line, "%s: %s, message \"%s\"", what, cfut_status_name(st),
                future_error_message(f) ? future_error_message(f) : "(null)");
    if (!data)
        th_fail(file, line, "%s: CFUT_OK with NULL data", what);
    if (len != size || (size && memcmp(data, want, size) != 0)) {
        hexdump("want", want, size);
        hexdump("got", data, len);
        th_fail(file, line, "%s: result differs (%zu bytes, want %zu)", what, len, size);
    }
    future_release(f);
}

/* Waits for f (it must end failed with `status` and a message containing
 * each non-NULL needle), then releases it. */
#define EXPECT_FAIL(f, status, ...)                                            \
    expect_fail((f), (status), __FILE__, __LINE__, #f, (const char *[]){__VA_ARGS__, NULL})
static void expect_fail(future_t *f, int status, const char *file, int line, const char *what,
                        const char **needles)
{
    if (!f)
        th_fail(file, line, "%s: NULL future", what);
    if (future_wait(f, TH_LONG_WAIT) != CFUT_OK)
        th_fail(file, line, "%s: not done", what);
    int st = future_status(f);
    const char *msg = future_error_message(f);
    if (st != status)
        th_fail(file, line, "%s: got %s, want %s (message \"%s\")", what, cfut_status_name(st),
                cfut_status_name(status), msg ? msg : "(null)");
    if (!msg)
        th_fail(file, line, "%s: failed without a message", what);
    for (const char **n = needles; *n; n++)
        if (!strstr(msg, *n))
            th_fail(file, line, "%s: message \"%s\" lacks \"%s\"", what, msg, *n);
    const void *data = (const void *)1;
    size_t len = 99;
    if (future_result(f, 0, &data, &len) != status || data != NULL || len != 0)
        th_fail(file, line, "%s: future_result of a failed future gave data", what);
    future_release(f);
}

/* A failure decided at submit: the future is already done. */
#define EXPECT_REFUSED(f, ...)                                                 \
    do {                                                                       \
        future_t *r_ = (f);                                                    \
        CHECK(r_ != NULL);                                                     \
        CHECK(future_done(r_));                                                \
        EXPECT_FAIL(r_, CFUT_EINVAL, __VA_ARGS__);                             \
    } while (0)

/* ---- cross-process gates -------------------------------------------------- */

/* th_xgate (harness.h): a gated task writes one byte to "started", then
 * waits for one from "go". */
static void xgate_started(th_xgate *g)
{
    char c;
    th_xgate_read(g, &c, 1, __FILE__, __LINE__);
}

typedef struct gate_arg {
    char started[64], go[64];
} gate_arg;

/* An ordinary task (executor_submit) that reports its start and waits to be
 * let go: keeps a worker busy. */
static int task_gated(cfut_task *t, const void *arg, size_t len)
{
    gate_arg a;
    if (len != sizeof a)
        return cfut_fail(t, 1000, "task_gated: %zu-byte argument", len);
    memcpy(&a, arg, sizeof a);
    int fd = open(a.started, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "s", 1) != 1)
        return cfut_fail(t, 1001, "reporting the start: %s", strerror(errno));
    close(fd);
    fd = open(a.go, O_RDONLY | O_CLOEXEC);
    char c;
    ssize_t n;
    do
        n = fd >= 0 ? read(fd, &c, 1) : -1;
    while (n < 0 && errno == EINTR);
    if (fd >= 0)
        close(fd);
    return n == 1 ? 0 : cfut_fail(t, 1002, "waiting for the gate: %s", strerror(errno));
}

static future_t *submit_gated(executor_t *ex, const th_xgate *g)
{
    gate_arg a;
    memset(&a, 0, sizeof a);
    memcpy(a.started, g->started, sizeof a.started);
    memcpy(a.go, g->go, sizeof a.go);
    future_t *f = executor_submit(ex, task_gated, &a, sizeof a);
    CHECK(f != NULL);
    return f;
}

/* ---- the functions we call (static: they live in the test program) ------- */

static signed char id_c(signed char x) { return x; }
static unsigned char id_C(unsigned char x) { return x; }
static short id_h(short x) { return x; }
static unsigned short id_H(unsigned short x) { return x; }
static int id_i(int x) { return x; }
static unsigned id_I(unsigned x) { return x; }
static long id_l(long x) { return x; }
static unsigned long id_L(unsigned long x) { return x; }
static int64_t id_q(int64_t x) { return x; }
static uint64_t id_Q(uint64_t x) { return x; }
static size_t id_z(size_t x) { return x; }
static float id_f(float x) { return x; }
static double id_d(double x) { return x; }

static cfut_fn id_fn(char code)
{
    switch (code) {
    case 'c': return (cfut_fn)id_c;
    case 'C': return (cfut_fn)id_C;
    case 'h': return (cfut_fn)id_h;
    case 'H': return (cfut_fn)id_H;
    case 'i': return (cfut_fn)id_i;
    case 'I': return (cfut_fn)id_I;
    case 'l': return (cfut_fn)id_l;
    case 'L': return (cfut_fn)id_L;
    case 'q': return (cfut_fn)id_q;
    case 'Q': return (cfut_fn)id_Q;
    case 'z': return (cfut_fn)id_z;
    case 'f': return (cfut_fn)id_f;
    case 'd': return (cfut_fn)id_d;
    }
    return NULL;
}

/* Narrow arguments as the callee sees them, widened by the callee itself. */
static int widen_c(signed char x) { return x; }
static int widen_C(unsigned char x) { return x; }
static int widen_h(short x) { return x; }
static int widen_H(unsigned short x) { return x; }
static double widen_f(float x) { return x; }

/* Zero-argument functions returning extremes: the return path alone. */
static signed char ret_cmin(void) { return SCHAR_MIN; }
static unsigned char ret_Cmax(void) { return UCHAR_MAX; }
static short ret_hmin(void) { return SHRT_MIN; }
static unsigned short ret_Hmax(void) { return USHRT_MAX; }
static int ret_imin(void) { return INT_MIN; }
static unsigned ret_Imax(void) { return UINT_MAX; }
static float ret_fneg0(void) { return -0.0f; }
static void ret_void(int x) { (void)x; }

/* Every scalar type at once, written into an 'o' buffer: the arguments
 * alone, independent of the return path. */
typedef struct packed {
    signed char c;
    unsigned char C;
    short h;
    unsigned short H;
    int i;
    unsigned I;
    long l;
    unsigned long L;
    int64_t q;
    uint64_t Q;
    size_t z;
    float f;
    double d;
} packed;

static int pack_all(signed char c, unsigned char C, short h, unsigned short H, int i,
                    unsigned I, long l, unsigned long L, int64_t q, uint64_t Q, size_t z,
                    float f, double d, void *out, size_t n)
{
    if (n != sizeof(packed))
        return -1;
    packed p;
    memset(&p, 0, sizeof p);
    p.c = c, p.C = C, p.h = h, p.H = H, p.i = i, p.I = I, p.l = l, p.L = L;
    p.q = q, p.Q = Q, p.z = z, p.f = f, p.d = d;
    memcpy(out, &p, sizeof p);
    return 7;
}

/* Strings. */
static int32_t s_len(const char *s) { return s ? (int32_t)strlen(s) : -1; }
static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static uint64_t s_hash(const char *s) { return s ? fnv(s, strlen(s)) : 0; }
static const char *s_echo(const char *s) { return s; }
static const char *s_pick(int k) { return k == 0 ? NULL : k == 1 ? "" : "hello"; }

/* 'y' buffers. */
static uint64_t y_hash(const void *p, size_t n) { return n ? fnv(p, n) : 12345; }
static int64_t y_mix(int a, const void *p, size_t n, int b)
{
    const unsigned char *c = p;
    return (int64_t)a * 1000000 + (int64_t)n * 1000 + b + (n ? c[n - 1] : 0);
}

/* 'o' output buffers. */
static int o_fill(int seed, void *buf, size_t n)
{
    unsigned char *b = buf;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + (int)i);
    return (int)n;
}
static void o_two(void *a, size_t na, void *b, size_t nb)
{
    memset(a, 'a', na);
    memset(b, 'b', nb);
}
static int32_t o_zeroed(void *buf, size_t n)
{
    /* Counts non-zero bytes: the buffer must arrive zeroed. */
    const unsigned char *b = buf;
    int32_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += b[i] != 0;
    return nz;
}

/* 'p' pointers. */
static void *p_id(void *p) { return p; }
static void p_store(int *p, int v) { *p = v; }
static int p_isnull(void *p) { return p == NULL; }

/* 32 arguments of four kinds, weighted so that order matters. */
#define QUAD(n) int i##n, double d##n, int64_t q##n, float f##n
static int64_t sum32(QUAD(0), QUAD(1), QUAD(2), QUAD(3), QUAD(4), QUAD(5), QUAD(6), QUAD(7))
{
    int64_t s = 0;
#define ADD(n)                                                                 \
    s += (4 * n + 1) * (int64_t)i##n + (4 * n + 2) * (int64_t)d##n +           \
         (4 * n + 3) * q##n + (4 * n + 4) * (int64_t)f##n;
    ADD(0) ADD(1) ADD(2) ADD(3) ADD(4) ADD(5) ADD(6) ADD(7)
#undef ADD
    return s;
}
#undef QUAD
static int32_t no_args(void) { return 4242; }

/* Crashes the way native code does: 1 SIGSEGV, 2 abort, 3 _exit(3). */
static int crash_call(int how)
{
    if (how == 1) {
        volatile int *volatile bad = (volatile int *)(uintptr_t)16;
        signal(SIGSEGV, SIG_DFL);
        *bad = 1;
        raise(SIGSEGV);
    } else if (how == 2) {
        abort();
    } else if (how == 3) {
        _exit(3);
    }
    return how + 100;
}

static int not_code = 5; /* data, not a function */

/* An object pointer as a function pointer (ISO C has no cast for it). */
static cfut_fn as_fn(void *p)
{
    cfut_fn fn;
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

/* ---- round trips ------------------------------------------------------------ */

typedef struct rt_value {
    char code;
    size_t size;
    unsigned char bytes[8];
    bool callv_only; /* a value the variadic promotion cannot carry (sNaN) */
    const char *what;
} rt_value;

static rt_value rt_values[128];
static size_t rt_count;

static void rt_push(char code, const void *v, size_t size, const char *what, bool callv_only)
{
    CHECK(rt_count < sizeof rt_values / sizeof rt_values[0]);
    rt_value *r = &rt_values[rt_count++];
    memset(r, 0, sizeof *r);
    r->code = code;
    r->size = size;
    memcpy(r->bytes, v, size);
    r->callv_only = callv_only;
    r->what = what;
}

#define RT(code, type, expr)                                                   \
    do {                                                                       \
        type v_ = (expr);                                                      \
        rt_push(code, &v_, sizeof v_, "code " #code ": " #expr, false);                \
    } while (0)
#define RT_BITS(code, type, utype, bits, callv_only)                           \
    do {                                                                       \
        utype b_ = (bits);                                                     \
        type v_;                                                               \
        memcpy(&v_, &b_, sizeof v_);                                           \
        rt_push(code, &v_, sizeof v_, "code " #code ": bits " #bits, callv_only);      \
    } while (0)

static void rt_table(void)
{
    rt_count = 0;
    RT('c', signed char, SCHAR_MIN); RT('c', signed char, SCHAR_MAX);
    RT('c', signed char, -1);        RT('c', signed char, 0);
    RT('C', unsigned char, 0);       RT('C', unsigned char, UCHAR_MAX);
    RT('C', unsigned char, 0x80);
    RT('h', short, SHRT_MIN);        RT('h', short, SHRT_MAX);   RT('h', short, -1);
    RT('H', unsigned short, 0);      RT('H', unsigned short, USHRT_MAX);
    RT('H', unsigned short, 0x8000);
    RT('i', int, INT_MIN);           RT('i', int, INT_MAX);      RT('i', int, -1);
    RT('I', unsigned, 0);            RT('I', unsigned, UINT_MAX);
    RT('I', unsigned, 0x80000000u);
    RT('l', long, LONG_MIN);         RT('l', long, LONG_MAX);    RT('l', long, -1);
    RT('L', unsigned long, 0);       RT('L', unsigned long, ULONG_MAX);
    RT('q', int64_t, INT64_MIN);     RT('q', int64_t, INT64_MAX);
    RT('q', int64_t, -1);            RT('q', int64_t, (int64_t)1 << 40);
    RT('Q', uint64_t, 0);            RT('Q', uint64_t, UINT64_MAX);
    RT('Q', uint64_t, (uint64_t)1 << 63);
    RT('z', size_t, 0);              RT('z', size_t, SIZE_MAX);
    RT('z', size_t, SIZE_MAX / 2 + 1);
    RT('f', float, FLT_MAX);         RT('f', float, -FLT_MAX);
    RT('f', float, FLT_MIN);         RT('f', float, -FLT_MIN);
    RT('f', float, FLT_TRUE_MIN);    RT('f', float, -FLT_TRUE_MIN); /* denormals */
    RT('f', float, 0.0f);            RT('f', float, -0.0f);
    RT('f', float, (float)INFINITY); RT('f', float, -(float)INFINITY);
    RT('f', float, 1.0f / 3.0f);
    RT_BITS('f', float, uint32_t, 0x7fc01234u, false); /* quiet NaN, payload */
    RT_BITS('f', float, uint32_t, 0xffc00001u, false); /* negative quiet NaN */
    RT_BITS('f', float, uint32_t, 0x007fffffu, false); /* largest denormal */
    RT_BITS('f', float, uint32_t, 0x7fa00001u, true);  /* signalling NaN */
    RT('d', double, DBL_MAX);        RT('d', double, -DBL_MAX);
    RT('d', double, DBL_MIN);        RT('d', double, -DBL_MIN);
    RT('d', double, DBL_TRUE_MIN);   RT('d', double, -DBL_TRUE_MIN);
    RT('d', double, 0.0);            RT('d', double, -0.0);
    RT('d', double, INFINITY);       RT('d', double, -INFINITY);
    RT('d', double, 1.0 / 3.0);
    RT_BITS('d', double, uint64_t, 0x7ff8000000001234ull, false); /* quiet NaN */
    RT_BITS('d', double, uint64_t, 0xfff8000000000001ull, false);
    RT_BITS('d', double, uint64_t, 0x000fffffffffffffull, false); /* denormal */
    RT_BITS('d', double, uint64_t, 0x7ff0000000000001ull, false); /* sNaN: no
        conversion on the way, so even the variadic path keeps it */
}

/* executor_call with the value as the variadic promotions want it. */
static future_t *call_typed(executor_t *ex, const rt_value *r)
{
    char sig[4] = {r->code, ':', r->code, '\0'};
    cfut_fn fn = id_fn(r->code);
    const void *b = r->bytes;
#define GET(type) (*(const type *)b)
    switch (r->code) {
    case 'c': { signed char v; memcpy(&v, b, 1); return executor_call(ex, fn, sig, v); }
    case 'C': { unsigned char v; memcpy(&v, b, 1); return executor_call(ex, fn, sig, v); }
    case 'h': { short v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'H': { unsigned short v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'i': { int v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'I': { unsigned v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'l': { long v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'L': { unsigned long v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'q': { int64_t v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'Q': { uint64_t v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'z': { size_t v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    case 'f': { float v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, (double)v); }
    case 'd': { double v; memcpy(&v, b, sizeof v); return executor_call(ex, fn, sig, v); }
    }
#undef GET
    th_fail(__FILE__, __LINE__, "no such code %c", r->code);
}

/* Issue #4: every type code round-trips its extreme values, as argument and
 * as return value, through executor_call (promotions: char and short passed
 * as int, float as double) and executor_callv (args[k] points at the value
 * in its own type). Floats compare by bit pattern: NaN payloads, signed
 * zeros and denormals included. */
static void roundtrip(be b)
{
    executor_t *ex = ex_new(b, 2);
    rt_table();
    future_t *fv[128], *fc[128];
    for (size_t k = 0; k < rt_count; k++) {
        const rt_value *r = &rt_values[k];
        char sig[4] = {r->code, ':', r->code, '\0'};
        const void *args[1] = {r->bytes};
        fv[k] = executor_callv(ex, id_fn(r->code), sig, args);
        fc[k] = r->callv_only ? NULL : call_typed(ex, r);
    }
    for (size_t k = 0; k < rt_count; k++) {
        const rt_value *r = &rt_values[k];
        expect_bytes(fv[k], r->bytes, r->size, __FILE__, __LINE__, r->what);
        if (fc[k])
            expect_bytes(fc[k], r->bytes, r->size, __FILE__, __LINE__, r->what);
    }
    executor_free(ex);
}
ON_ALL(roundtrip)

/* Narrow arguments reach the callee properly sign- or zero-extended, and
 * narrow returns come back right through libffi's ffi_arg slot. Also a
 * zero-argument call and a 'v' return (an empty result). */
static void narrow_values(be b)
{
    executor_t *ex = ex_new(b, 2);
    int32_t want;
    want = SCHAR_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_c, "i:c", SCHAR_MIN), &want, 4);
    want = -1;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_c, "i:c", 0x1ff), &want, 4); /* truncated */
    want = UCHAR_MAX;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_C, "i:C", UCHAR_MAX), &want, 4);
    want = 0xff;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_C, "i:C", -1), &want, 4);
    want = SHRT_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_h, "i:h", SHRT_MIN), &want, 4);
    want = USHRT_MAX;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_H, "i:H", USHRT_MAX), &want, 4);
    double dw = (double)FLT_TRUE_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_f, "d:f", (double)FLT_TRUE_MIN), &dw, 8);
    dw = (double)(float)0.1; /* a double argument is narrowed to float */
    EXPECT_BYTES(executor_call(ex, (cfut_fn)widen_f, "d:f", 0.1), &dw, 8);
    float fw = 0.1f;
    const void *fa[1] = {&fw};
    dw = (double)fw;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)widen_f, "d:f", fa), &dw, 8);

    signed char c = SCHAR_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_cmin, "c:"), &c, 1);
    unsigned char C = UCHAR_MAX;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_Cmax, "C:"), &C, 1);
    short h = SHRT_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_hmin, "h:"), &h, 2);
    unsigned short H = USHRT_MAX;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_Hmax, "H:"), &H, 2);
    int i = INT_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_imin, "i:"), &i, 4);
    unsigned I = UINT_MAX;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)ret_Imax, "I:", NULL), &I, 4);
    float f = -0.0f;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_fneg0, "f:"), &f, 4);
    int32_t na = 4242;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)no_args, "i:"), &na, 4);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)ret_void, "v:i", 3), "", 0);
    executor_free(ex);
}
ON_BOTH(narrow_values)

/* Every scalar code in one call, minimums then maximums, written by the
 * callee into an 'o' buffer: mixed integer/float registers and the stack. */
static void pack_case(executor_t *ex, const packed *p)
{
    unsigned char want[4 + sizeof(packed)];
    int32_t seven = 7;
    memcpy(want, &seven, 4);
    memcpy(want + 4, p, sizeof *p);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)pack_all, "i:cChHiIlLqQzfdo", p->c, p->C, p->h,
                               p->H, p->i, p->I, p->l, p->L, p->q, p->Q, p->z, (double)p->f,
                               p->d, sizeof(packed)),
                 want, sizeof want);
    size_t osize = sizeof(packed);
    const void *args[] = {&p->c, &p->C, &p->h, &p->H, &p->i, &p->I, &p->l,
                          &p->L, &p->q, &p->Q, &p->z, &p->f, &p->d, &osize};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)pack_all, "i:cChHiIlLqQzfdo", args), want,
                 sizeof want);
}

static void all_types_at_once(be b)
{
    executor_t *ex = ex_new(b, 1);
    packed p;
    memset(&p, 0, sizeof p);
    p.c = SCHAR_MIN, p.C = 0, p.h = SHRT_MIN, p.H = 0, p.i = INT_MIN, p.I = 0;
    p.l = LONG_MIN, p.L = 0, p.q = INT64_MIN, p.Q = 0, p.z = 0, p.f = -FLT_MAX;
    p.d = -DBL_MAX;
    pack_case(ex, &p);
    memset(&p, 0, sizeof p);
    p.c = SCHAR_MAX, p.C = UCHAR_MAX, p.h = SHRT_MAX, p.H = USHRT_MAX, p.i = INT_MAX;
    p.I = UINT_MAX, p.l = LONG_MAX, p.L = ULONG_MAX, p.q = INT64_MAX, p.Q = UINT64_MAX;
    p.z = SIZE_MAX, p.f = FLT_TRUE_MIN, p.d = DBL_TRUE_MIN;
    pack_case(ex, &p);
    executor_free(ex);
}
ON_ALL(all_types_at_once)

/* ---- strings, buffers, output buffers, pointers ------------------------------ */

/* 's' arguments: "", NULL (the function gets NULL) and a 1 MiB string;
 * 's' returns: the string with its NUL, "" as one byte, NULL as an empty
 * (0-byte) result with CFUT_OK. */
static void strings(be b)
{
    executor_t *ex = ex_new(b, 2);
    size_t big_len = 1 << 20;
    char *big = malloc(big_len + 1);
    CHECK(big != NULL);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    big[big_len] = '\0';

    int32_t len;
    len = 0;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_len, "i:s", ""), &len, 4);
    len = -1;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_len, "i:s", (const char *)NULL), &len, 4);
    len = (int32_t)big_len;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_len, "i:s", big), &len, 4);
    uint64_t h = fnv(big, big_len);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_hash, "Q:s", big), &h, 8);

    const char *sp = NULL;
    const void *args[1] = {&sp};
    len = -1;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)s_len, "i:s", args), &len, 4);
    sp = "";
    len = 0;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)s_len, "i:s", args), &len, 4);
    sp = big;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)s_hash, "Q:s", args), &h, 8);

    /* Returns. */
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_echo, "s:s", "hello"), "hello", 6);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_echo, "s:s", ""), "", 1);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_echo, "s:s", (const char *)NULL), "", 0);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_echo, "s:s", big), big, big_len + 1);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_pick, "s:i", 0), "", 0);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_pick, "s:i", 1), "", 1);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)s_pick, "s:i", 2), "hello", 6);
    free(big);
    executor_free(ex);
}
ON_ALL(strings)

/* 'y' buffers: empty (with and without data), 1 MiB, between other
 * arguments; NULL data with a length is refused with CFUT_EINVAL. */
static void buffers(be b)
{
    executor_t *ex = ex_new(b, 2);
    size_t mib = 1 << 20;
    unsigned char *big = malloc(mib);
    CHECK(big != NULL);
    for (size_t i = 0; i < mib; i++)
        big[i] = (unsigned char)(i * 7 + (i >> 11));

    uint64_t empty = 12345, h = fnv(big, mib);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)y_hash, "Q:y", "x", (size_t)0), &empty, 8);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)y_hash, "Q:y", (const void *)NULL, (size_t)0),
                 &empty, 8);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)y_hash, "Q:y", (const void *)big, mib), &h, 8);
    cfut_buffer yb = {big, mib};
    const void *args[1] = {&yb};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)y_hash, "Q:y", args), &h, 8);
    yb = (cfut_buffer){NULL, 0};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)y_hash, "Q:y", args), &empty, 8);

    int64_t mix = (int64_t)-3 * 1000000 + 5 * 1000 + 77 + 'e';
    EXPECT_BYTES(executor_call(ex, (cfut_fn)y_mix, "q:iyi", -3, "abcde", (size_t)5, 77), &mix,
                 8);
    int ia = -3, ib = 77;
    cfut_buffer yb2 = {"abcde", 5};
    const void *margs[3] = {&ia, &yb2, &ib};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)y_mix, "q:iyi", margs), &mix, 8);

    EXPECT_REFUSED(executor_call(ex, (cfut_fn)y_hash, "Q:y", (const void *)NULL, (size_t)5),
                   "argument 0", "'y'");
    yb = (cfut_buffer){NULL, 5};
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)y_hash, "Q:y", args), "argument 0", "'y'");
    free(big);
    executor_free(ex);
}
ON_BOTH(buffers)

/* 'o' output buffers: the function fills them; their bytes follow the
 * return value's in the result, in order; a 0-byte one adds nothing; they
 * arrive zeroed; 1 MiB comes back whole. */
static void output_buffers(be b)
{
    executor_t *ex = ex_new(b, 2);
    unsigned char want[4 + 300];
    int32_t n = 300;
    memcpy(want, &n, 4);
    for (int i = 0; i < 300; i++)
        want[4 + i] = (unsigned char)(9 + i);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_fill, "i:io", 9, (size_t)300), want, sizeof want);
    int seed = 9;
    size_t osz = 300;
    const void *args[2] = {&seed, &osz};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)o_fill, "i:io", args), want, sizeof want);

    n = 0; /* size 0: the function gets 0, the result is the return value only */
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_fill, "i:io", 9, (size_t)0), &n, 4);

    char two[8];
    memcpy(two, "aaabbbbb", 8);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_two, "v:oo", (size_t)3, (size_t)5), two, 8);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_two, "v:oo", (size_t)0, (size_t)0), "", 0);

    size_t mib = 1 << 20;
    unsigned char *big = malloc(4 + mib);
    CHECK(big != NULL);
    int32_t z = 0;
    memset(big, 0, 4 + mib);
    memcpy(big, &z, 4);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_zeroed, "i:o", mib), big, 4 + mib);
    n = (int32_t)mib;
    memcpy(big, &n, 4);
    for (size_t i = 0; i < mib; i++)
        big[4 + i] = (unsigned char)(1 + (int)i);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)o_fill, "i:io", 1, mib), big, 4 + mib);
    free(big);

    /* An absurd size fails the call (never runs it), it does not try to
     * allocate 8 GiB. */
    future_t *f = executor_call(ex, (cfut_fn)o_fill, "i:io", 1, (size_t)1 << 33);
    CHECK_STATUS(future_wait(f, TH_LONG_WAIT), CFUT_OK);
    CHECK(future_status(f) != CFUT_OK);
    CHECK_CONTAINS(future_error_message(f), "output buffer");
    future_release(f);
    executor_free(ex);
}
ON_ALL(output_buffers)

/* 'p' on a thread pool: the pointer itself round-trips, and the function
 * can write through it into the caller's memory. */
static void test_pointers_threads(void)
{
    executor_t *ex = ex_new(THREADS, 2);
    int target = 0;
    void *p = &target;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)p_id, "p:p", p), &p, sizeof p);
    const void *args[1] = {&p};
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)p_id, "p:p", args), &p, sizeof p);
    void *np = NULL;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)p_id, "p:p", np), &np, sizeof np);
    void *top = (void *)UINTPTR_MAX;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)p_id, "p:p", top), &top, sizeof top);
    int32_t one = 1;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)p_isnull, "i:p", np), &one, 4);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)p_store, "v:pi", &target, 31337), "", 0);
    CHECK_EQ(target, 31337);
    executor_free(ex);
}

/* 'p' on a process pool: an address means nothing in another process, so
 * it is refused at submit, as argument and as return, and nothing runs. */
static void test_pointers_refused_processes(void)
{
    executor_t *ex = ex_new(PROCESSES, 2);
    int target = 0;
    void *p = &target;
    EXPECT_REFUSED(executor_call(ex, (cfut_fn)p_id, "p:p", p), "'p'", "position 0");
    EXPECT_REFUSED(executor_call(ex, (cfut_fn)p_isnull, "i:p", p), "'p'", "position 2");
    EXPECT_REFUSED(executor_call(ex, (cfut_fn)p_store, "v:ip", 1, p), "'p'", "position 3");
    const void *args[1] = {&p};
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)p_isnull, "i:p", args), "'p'", "position 2");
    CHECK_EQ(stats(ex).workers_started, 0);
    CHECK_EQ(target, 0);
    executor_free(ex);
}

/* ---- functions from shared libraries ------------------------------------------ */

static cfut_fn sym(void *handle, const char *name)
{
    return as_fn(dlsym(handle, name));
}

/* libm's sqrt, pow and ldexp (a shared library: it travels as its object
 * and offset to worker processes), a dlopen()ed module's function, and the
 * static functions of this program (all the cases above). */
static void shared_library(be b)
{
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (!libm)
        th_skip("no libm.so.6");
    double (*msqrt)(double) = (double (*)(double))sym(libm, "sqrt");
    double (*mpow)(double, double) = (double (*)(double, double))sym(libm, "pow");
    double (*mldexp)(double, int) = (double (*)(double, int))sym(libm, "ldexp");
    CHECK(msqrt && mpow && mldexp);
    executor_t *ex = ex_new(b, 2);
    double w;
    w = msqrt(2.0);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)msqrt, "d:d", 2.0), &w, 8);
    w = msqrt(DBL_MAX);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)msqrt, "d:d", DBL_MAX), &w, 8);
    w = msqrt(INFINITY);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)msqrt, "d:d", INFINITY), &w, 8);
    future_t *f = executor_call(ex, (cfut_fn)msqrt, "d:d", -1.0);
    CHECK_STATUS(future_result_copy(f, TH_LONG_WAIT, &w, sizeof w), CFUT_OK);
    CHECK(isnan(w));
    future_release(f);
    w = 1024.0;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)mpow, "d:dd", 2.0, 10.0), &w, 8);
    w = mpow(2.0, 0.5);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)mpow, "d:dd", 2.0, 0.5), &w, 8);
    double x = 3.0, y = -2.0;
    const void *args[2] = {&x, &y};
    w = mpow(3.0, -2.0);
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)mpow, "d:dd", args), &w, 8);
    w = DBL_TRUE_MIN;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)mldexp, "d:di", 1.0, -1074), &w, 8);
    w = mldexp(1.0, 1023);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)mldexp, "d:di", 1.0, 1023), &w, 8);

    /* A module loaded at run time only (never linked). */
    const char *mod = getenv("CFUT_TEST_FNREF_MOD");
    void *h = mod ? dlopen(mod, RTLD_NOW) : NULL;
    if (h) {
        int (*answer)(int) = (int (*)(int))sym(h, "fnref_mod_answer");
        CHECK(answer != NULL);
        int32_t a = 43;
        EXPECT_BYTES(executor_call(ex, (cfut_fn)answer, "i:i", 1), &a, 4);
    } else {
        fprintf(stderr, "# CFUT_TEST_FNREF_MOD not loadable: module part skipped\n");
    }
    executor_free(ex);
    if (h)
        dlclose(h);
    dlclose(libm);
}
ON_ALL(shared_library)

/* ---- limits and errors ----------------------------------------------------------- */

#define IV(n) (-(n) * 1000 - 1)
#define DV(n) ((double)((n) * 3 + 1))
#define QV(n) (((int64_t)1 << 40) + (n))
#define FV(n) ((float)(7 - (n) * 2))
#define V4(n) IV(n), DV(n), (int64_t)QV(n), (double)FV(n)

/* 32 argument codes work (both entries); a 33rd is refused, naming its
 * position. */
static void many_args(be b)
{
    executor_t *ex = ex_new(b, 1);
    const char *sig32 = "q:idqfidqfidqfidqfidqfidqfidqfidqf";
    CHECK_EQ(strlen(sig32), 34);
    int64_t want = 0;
    for (int n = 0; n < 8; n++)
        want += (4 * n + 1) * (int64_t)IV(n) + (4 * n + 2) * (int64_t)DV(n) +
                (4 * n + 3) * QV(n) + (4 * n + 4) * (int64_t)FV(n);
    EXPECT_BYTES(executor_call(ex, (cfut_fn)sum32, sig32, V4(0), V4(1), V4(2), V4(3), V4(4),
                               V4(5), V4(6), V4(7)),
                 &want, 8);
    int iv[8];
    double dv[8];
    int64_t qv[8];
    float fv[8];
    const void *args[32];
    for (int n = 0; n < 8; n++) {
        iv[n] = IV(n), dv[n] = DV(n), qv[n] = QV(n), fv[n] = FV(n);
        args[4 * n] = &iv[n], args[4 * n + 1] = &dv[n];
        args[4 * n + 2] = &qv[n], args[4 * n + 3] = &fv[n];
    }
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)sum32, sig32, args), &want, 8);

    char sig33[40] = "q:";
    memset(sig33 + 2, 'i', 33);
    sig33[35] = '\0';
    EXPECT_REFUSED(executor_call(ex, (cfut_fn)sum32, sig33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                 27, 28, 29, 30, 31, 32, 33),
                   "more than 32", "position 34");
    const void *args33[33];
    int one = 1;
    for (int k = 0; k < 33; k++)
        args33[k] = &one;
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)sum32, sig33, args33), "more than 32",
                   "position 34");
    executor_free(ex);
}
ON_BOTH(many_args)

/* The signature parser: each error is CFUT_EINVAL, at submit (nothing
 * runs, no worker starts), with a message naming the character and its
 * position. */
static void bad_signatures(be b)
{
    executor_t *ex = ex_new(b, 1);
    cfut_fn fn = (cfut_fn)id_i;
    static const struct {
        const char *sig, *what, *where;
    } cases[] = {
        {"", "empty", "position 0"},
        {"i", "expected ':'", "position 1"},
        {"ii", "found 'i'", "position 1"},
        {"x:i", "unknown return type code 'x'", "position 0"},
        {":i", "unknown return type code ':'", "position 0"},
        {"y:i", "'y' cannot be a return type", "position 0"},
        {"o:", "'o' cannot be a return type", "position 0"},
        {"i:v", "'v' (void) cannot be an argument", "position 2"},
        {"i:iiv", "'v'", "position 4"},
        {"d:dx", "unknown argument type code 'x'", "position 3"},
        {"i::", "unknown argument type code ':'", "position 2"},
        {"i:i i", "byte 0x20", "position 3"},
        {"i:\x01", "byte 0x01", "position 2"},
        {"i:i\x7f", "byte 0x7f", "position 3"},
        {"i:\xff", "byte 0xff", "position 2"},
        {"\x02:i", "byte 0x02", "position 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        EXPECT_REFUSED(executor_call(ex, fn, cases[k].sig, 1), "executor_call: bad signature",
                       cases[k].what, cases[k].where);
        int one = 1;
        const void *args[4] = {&one, &one, &one, &one};
        EXPECT_REFUSED(executor_callv(ex, fn, cases[k].sig, args),
                       "executor_callv: bad signature", cases[k].what, cases[k].where);
    }
    /* The message, exactly, for the example of the docs. */
    future_t *f = executor_call(ex, (cfut_fn)id_d, "d:dx", 1.0, 2);
    CHECK(future_done(f));
    CHECK_STATUS(future_status(f), CFUT_EINVAL);
    CHECK_STR(future_error_message(f),
              "executor_call: bad signature \"d:dx\": unknown argument type code 'x' at "
              "position 3");
    CHECK_EQ(future_error_code(f), 0);
    future_release(f);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_started, 0);
    CHECK_EQ(s.completed + s.failed + s.queued + s.running, 0);
    executor_free(ex);
}
ON_BOTH(bad_signatures)

/* NULL executor, function, signature or argument array: CFUT_EINVAL
 * futures, never a crash. An args array may be NULL only with no argument
 * codes. After shutdown: CFUT_ESHUTDOWN. */
static void null_arguments(be b)
{
    executor_t *ex = ex_new(b, 1);
    int one = 1;
    const void *args[1] = {&one};
    EXPECT_REFUSED(executor_call(NULL, (cfut_fn)id_i, "i:i", 1), "NULL");
    EXPECT_REFUSED(executor_call(ex, NULL, "i:i", 1), "NULL");
    EXPECT_REFUSED(executor_call(ex, (cfut_fn)id_i, NULL), "NULL");
    EXPECT_REFUSED(executor_callv(NULL, (cfut_fn)id_i, "i:i", args), "NULL");
    EXPECT_REFUSED(executor_callv(ex, NULL, "i:i", args), "NULL");
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)id_i, NULL, args), "NULL");
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)id_i, "i:i", NULL), "NULL");
    const void *nullarg[1] = {NULL};
    EXPECT_REFUSED(executor_callv(ex, (cfut_fn)id_i, "i:i", nullarg), "NULL", "argument 0");
    int32_t na = 4242;
    EXPECT_BYTES(executor_callv(ex, (cfut_fn)no_args, "i:", NULL), &na, 4);
    CHECK_STATUS(executor_shutdown(ex, EXECUTOR_WAIT), CFUT_OK);
    future_t *f = executor_call(ex, (cfut_fn)id_i, "i:i", 1);
    CHECK(future_done(f));
    CHECK_STATUS(future_status(f), CFUT_ESHUTDOWN);
    future_release(f);
    executor_free(ex);
}
ON_BOTH(null_arguments)

/* Values are copied at the call: the caller may overwrite its string and
 * buffer at once, even while the call is still queued behind busy work. */
static void copied_at_call(be b)
{
    executor_t *ex = ex_new(b, 1);
    th_xgate g;
    th_xgate_init(&g, "call");
    future_t *busy = submit_gated(ex, &g);
    xgate_started(&g);
    char s[32] = "copied string";
    unsigned char y[16];
    memset(y, 0x5a, sizeof y);
    future_t *fs = executor_call(ex, (cfut_fn)s_echo, "s:s", s);
    future_t *fy = executor_call(ex, (cfut_fn)y_hash, "Q:y", (const void *)y, sizeof y);
    CHECK(!future_done(fs) && !future_done(fy));
    uint64_t hy = fnv(y, sizeof y);
    memset(s, 'X', sizeof s - 1);
    memset(y, 0, sizeof y);
    th_xgate_open(&g, 1);
    EXPECT_BYTES(busy, "", 0);
    EXPECT_BYTES(fs, "copied string", 14);
    EXPECT_BYTES(fy, &hy, 8);
    executor_free(ex);
    th_xgate_free(&g);
}
ON_BOTH(copied_at_call)

/* On a process pool the function must be code in a loaded object: a data
 * pointer, a heap pointer or a stack pointer cast to a function is refused
 * at submit, and nothing runs. */
static void test_not_code_processes(void)
{
    executor_t *ex = ex_new(PROCESSES, 1);
    EXPECT_REFUSED(executor_call(ex, as_fn(&not_code), "i:i", 1), "not code");
    void *heap = malloc(64);
    CHECK(heap != NULL);
    EXPECT_REFUSED(executor_call(ex, as_fn(heap), "i:i", 1), "not code");
    int local = 0;
    int one = 1;
    const void *args[1] = {&one};
    EXPECT_REFUSED(executor_callv(ex, as_fn(&local), "i:i", args), "not code");
    free(heap);
    CHECK_EQ(stats(ex).workers_started, 0);
    int32_t w = 9;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)id_i, "i:i", 9), &w, 4); /* still fine */
    executor_free(ex);
}

/* A C function that crashes on a process pool fails only its own call,
 * with CFUT_EWORKER and a message naming the worker and the signal or exit
 * status; calls around it succeed, and the pool goes on. */
static void crashing_function(be b)
{
    executor_t *ex = ex_new(b, 2);
    future_t *ok[6];
    for (int k = 0; k < 3; k++)
        ok[k] = executor_call(ex, (cfut_fn)crash_call, "i:i", 10 + k);
    future_t *segv = executor_call(ex, (cfut_fn)crash_call, "i:i", 1);
    for (int k = 3; k < 6; k++)
        ok[k] = executor_call(ex, (cfut_fn)crash_call, "i:i", 10 + k);
    EXPECT_FAIL(segv, CFUT_EWORKER, "worker pid", "signal 11");
    for (int k = 0; k < 6; k++) {
        int32_t w = 110 + k;
        EXPECT_BYTES(ok[k], &w, 4);
    }
    EXPECT_FAIL(executor_call(ex, (cfut_fn)crash_call, "i:i", 2), CFUT_EWORKER, "worker pid",
                "signal 6");
    EXPECT_FAIL(executor_call(ex, (cfut_fn)crash_call, "i:i", 3), CFUT_EWORKER, "worker pid",
                "exited with status 3");
    int32_t w = 107;
    EXPECT_BYTES(executor_call(ex, (cfut_fn)crash_call, "i:i", 7), &w, 4);
    executor_stats s = stats(ex);
    CHECK_EQ(s.workers_lost, 3);
    CHECK_EQ(s.failed, 3);
    executor_free(ex);
}
static void test_crashing_function_processes(void) { crashing_function(PROCESSES); }
static void test_crashing_function_spawn(void) { crashing_function(SPAWN); }

TH_CASES(
    ALL_CASES(roundtrip),
    BOTH_CASES(narrow_values),
    ALL_CASES(all_types_at_once),
    ALL_CASES(strings),
    BOTH_CASES(buffers),
    ALL_CASES(output_buffers),
    TH_CASE(test_pointers_threads),
    TH_CASE(test_pointers_refused_processes),
    ALL_CASES(shared_library),
    BOTH_CASES(many_args),
    BOTH_CASES(bad_signatures),
    BOTH_CASES(null_arguments),
    BOTH_CASES(copied_at_call),
    TH_CASE(test_not_code_processes),
    TH_CASE(test_crashing_function_processes),
    TH_CASE(test_crashing_function_spawn),
)
