/* test/test_wire.c: the serialization layer (lib/wire.c, docs/wire.md).
 *
 * Frames of every kind round-trip with edge values; headers and payloads that
 * are wrong in any one way are refused with CFUT_ESERIALIZE: every truncation,
 * trailing bytes, inner lengths that point past the end, unknown kinds and
 * statuses. A seeded mutation loop checks that decoders never read outside
 * the payload (payloads are copied into exact-size allocations so ASan and
 * valgrind see any over-read). Channel I/O: a lying 1 GiB length costs at
 * most one read step of memory, and a dead peer never raises SIGPIPE.
 *
 * These are internal functions (cfut__*): the test links the static library. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------- */

#define BYTES(s) ((cfut__bytes){(const unsigned char *)(s), sizeof(s) - 1})

static cfut__bytes bytes_of(const void *p, size_t n)
{
    return (cfut__bytes){(const unsigned char *)p, n};
}

static bool same_bytes(cfut__bytes a, const void *p, size_t n)
{
    return a.len == n && (n == 0 || memcmp(a.p, p, n) == 0);
}

/* A copy of n bytes in an allocation of exactly n bytes (1 for n == 0, so
 * the pointer is never NULL): reading past it is caught by ASan/valgrind. */
static unsigned char *exact_copy(const void *p, size_t n)
{
    unsigned char *c = malloc(n ? n : 1);
    CHECK(c != NULL);
    if (n)
        memcpy(c, p, n);
    return c;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed + (i >> 8));
    return p;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Checks the header of the frame at b->data + off and returns its payload. */
static const unsigned char *frame_payload(const cfut__buf *b, size_t off, cfut__wire_kind want,
                                          size_t *n)
{
    cfut__wire_kind kind = 0;
    CHECK_INT(b->len, >=, off + CFUT__WIRE_HEADER);
    CHECK_STATUS(cfut__wire_header(b->data + off, CFUT__WIRE_MAX_DEFAULT, &kind, n), CFUT_OK);
    CHECK_EQ(kind, want);
    CHECK_INT(b->len - off - CFUT__WIRE_HEADER, >=, *n);
    return b->data + off + CFUT__WIRE_HEADER;
}

/* Every decoder in one place, by kind. */
typedef union decoded {
    cfut__wire_init init;
    cfut__wire_task task;
    cfut__wire_outcome outcome;
    cfut__wire_exit exit;
} decoded;

static int decode(cfut__wire_kind kind, const unsigned char *p, size_t n, decoded *d)
{
    memset(d, 0, sizeof *d);
    switch (kind) {
    case CFUT__W_INIT:
        return cfut__wire_get_init(p, n, &d->init);
    case CFUT__W_TASK:
        return cfut__wire_get_task(p, n, &d->task);
    case CFUT__W_READY:
    case CFUT__W_OUTCOME:
        return cfut__wire_get_outcome(p, n, &d->outcome);
    case CFUT__W_FORKED:
    case CFUT__W_EXITED:
        return cfut__wire_get_exit(p, n, &d->exit);
    case CFUT__W_SHUTDOWN:
    case CFUT__W_FORK:
        return cfut__wire_get_empty(p, n);
    default:
        return CFUT_EINVAL;
    }
}

/* A field of an accepted message lies inside the payload. */
static bool inside(cfut__bytes f, const unsigned char *p, size_t n)
{
    if (f.len == 0)
        return true;
    if (!f.p || f.p < p || f.p > p + n)
        return false;
    return f.len <= (size_t)(p + n - f.p);
}

static bool fields_inside(cfut__wire_kind kind, const decoded *d, const unsigned char *p,
                          size_t n)
{
    switch (kind) {
    case CFUT__W_INIT:
        return inside(d->init.name, p, n) && inside(d->init.init_path, p, n) &&
               inside(d->init.initarg, p, n);
    case CFUT__W_TASK:
        return inside(d->task.fn_path, p, n) && inside(d->task.arg, p, n);
    case CFUT__W_READY:
    case CFUT__W_OUTCOME:
        return inside(d->outcome.message, p, n) && inside(d->outcome.result, p, n);
    default:
        return true;
    }
}

/* Valid frames of every kind, with non-empty variable fields, for the
 * truncation, trailing-byte and mutation tests. */
enum { NSAMPLES = 14 };

static cfut__wire_kind sample(int i, cfut__buf *b)
{
    static const unsigned char arg[40] = "an argument of forty bytes, give or take";
    cfut__fnref fn = {"/usr/lib/libexample.so.1", 24, 0x1234};
    cfut__outcome o = {0};
    cfut__wire_kind kind = 0;
    b->len = 0;
    switch (i) {
    case 0: {
        cfut__wire_init m = {.name = BYTES("cfut1_3"), .index = 3, .has_init = 1,
                             .init_path = BYTES("/lib/libinit.so"), .init_offset = 0x4321,
                             .initarg = BYTES("initarg")};
        CHECK_STATUS(cfut__wire_put_init(b, &m), CFUT_OK);
        return CFUT__W_INIT;
    }
    case 1: {
        cfut__wire_init m = {.name = BYTES("w")};
        CHECK_STATUS(cfut__wire_put_init(b, &m), CFUT_OK);
        return CFUT__W_INIT;
    }
    case 2:
        CHECK_STATUS(cfut__wire_put_task(b, 77, &fn, arg, sizeof arg, false), CFUT_OK);
        return CFUT__W_TASK;
    case 3:
        fn = (cfut__fnref){"", 0, 0x1000};
        CHECK_STATUS(cfut__wire_put_task(b, 1, &fn, NULL, 0, false), CFUT_OK);
        return CFUT__W_TASK;
    case 4:
    case 5:
        CHECK_STATUS(cfut__value_set(&o.result, arg, i == 4 ? sizeof arg : 8), CFUT_OK);
        kind = CFUT__W_OUTCOME;
        CHECK_STATUS(cfut__wire_put_outcome(b, kind, 99, &o, 4242, false), CFUT_OK);
        break;
    case 6:
        cfut__outcome_fail(&o, CFUT_ETASK, -7, "the task failed: %d", 3);
        kind = CFUT__W_OUTCOME;
        CHECK_STATUS(cfut__wire_put_outcome(b, kind, 12, &o, 4242, false), CFUT_OK);
        break;
    case 7:
        cfut__outcome_fail(&o, CFUT_ETASK, 5, "initializer said no");
        kind = CFUT__W_READY;
        CHECK_STATUS(cfut__wire_put_outcome(b, kind, 0, &o, 31337, false), CFUT_OK);
        break;
    case 8:
        CHECK_STATUS(cfut__wire_put_exit(b, CFUT__W_FORKED, 1234, 0), CFUT_OK);
        return CFUT__W_FORKED;
    case 9:
        CHECK_STATUS(cfut__wire_put_exit(b, CFUT__W_EXITED, 1234, 0x8b), CFUT_OK);
        return CFUT__W_EXITED;
    case 10:
        CHECK_STATUS(cfut__wire_put_empty(b, CFUT__W_SHUTDOWN), CFUT_OK);
        return CFUT__W_SHUTDOWN;
    case 11:
        CHECK_STATUS(cfut__wire_put_empty(b, CFUT__W_FORK), CFUT_OK);
        return CFUT__W_FORK;
    case 12: /* the argument in shared memory: only its length travels */
        CHECK_STATUS(cfut__wire_put_task(b, 78, &fn, NULL, 1 << 20, true), CFUT_OK);
        return CFUT__W_TASK;
    default: /* the result in shared memory */
        o.result.len = (size_t)1 << 20; /* not read: only its length is written */
        o.result.u.ptr = NULL;
        CHECK_STATUS(cfut__wire_put_outcome(b, CFUT__W_OUTCOME, 100, &o, 4242, true), CFUT_OK);
        return CFUT__W_OUTCOME;
    }
    cfut__outcome_clear(&o);
    return kind;
}

/* ---- round trips --------------------------------------------------------- */

/* INIT with empty and large fields, max index and offset. */
static void test_roundtrip_init(void)
{
    size_t big = 1 << 20;
    unsigned char *name = pattern(300, 1), *arg = pattern(big, 2);
    cfut__wire_init cases[] = {
        {.name = BYTES("")},
        {.name = bytes_of(name, 300), .index = UINT32_MAX, .has_init = 1,
         .init_path = bytes_of(name, 200), .init_offset = UINT64_MAX,
         .initarg = bytes_of(arg, big)},
        {.name = BYTES("cfut7_12"), .index = 12, .has_init = 1, .init_path = BYTES(""),
         .init_offset = 0x401000, .initarg = BYTES("x")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cfut__wire_init *m = &cases[i];
        cfut__buf b = {0};
        CHECK_STATUS(cfut__wire_put_init(&b, m), CFUT_OK);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, CFUT__W_INIT, &n);
        CHECK_EQ(b.len, CFUT__WIRE_HEADER + n);
        /* name, index, has_init, path, offset, initarg */
        CHECK_EQ(n, 4 + m->name.len + 4 + 1 + 4 + m->init_path.len + 8 + 4 + m->initarg.len);
        cfut__wire_init d;
        CHECK_STATUS(cfut__wire_get_init(p, n, &d), CFUT_OK);
        CHECK(same_bytes(d.name, m->name.p, m->name.len));
        CHECK_EQ(d.index, m->index);
        CHECK_EQ(d.has_init, m->has_init);
        CHECK(same_bytes(d.init_path, m->init_path.p, m->init_path.len));
        CHECK(d.init_offset == m->init_offset);
        CHECK(same_bytes(d.initarg, m->initarg.p, m->initarg.len));
        cfut__buf_free(&b);
    }
    free(name);
    free(arg);
}

/* TASK: id 0 and max, main-program and long paths, empty and 4 MiB args. */
static void test_roundtrip_task(void)
{
    size_t big = 4 << 20;
    unsigned char *arg = pattern(big, 3);
    char path[4096];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    struct {
        uint64_t id;
        cfut__fnref fn;
        size_t arg_len;
    } cases[] = {
        {0, {"", 0, 0}, 0},
        {UINT64_MAX, {path, sizeof path - 1, UINT64_MAX}, big},
        {42, {"/lib/x86_64-linux-gnu/libm.so.6", 31, 0x2f00}, 17},
        {1, {"", 0, 0x1139}, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfut__buf b = {0};
        CHECK_STATUS(
            cfut__wire_put_task(&b, cases[i].id, &cases[i].fn, arg, cases[i].arg_len, false),
            CFUT_OK);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, CFUT__W_TASK, &n);
        CHECK_EQ(b.len, CFUT__WIRE_HEADER + n);
        CHECK_EQ(n, 8 + 4 + cases[i].fn.path_len + 8 + 4 + 4 + cases[i].arg_len);
        cfut__wire_task d;
        CHECK_STATUS(cfut__wire_get_task(p, n, &d), CFUT_OK);
        CHECK(d.id == cases[i].id);
        CHECK(same_bytes(d.fn_path, cases[i].fn.path, cases[i].fn.path_len));
        CHECK(d.fn_offset == cases[i].fn.offset);
        CHECK_EQ(d.flags, 0);
        CHECK(same_bytes(d.arg, arg, cases[i].arg_len));
        cfut__buf_free(&b);
    }
    free(arg);
}

/* OUTCOME and READY, every status code, through the decoder and
 * cfut__wire_outcome_to back into an outcome record. */
static void test_roundtrip_outcome_every_status(void)
{
    unsigned char *res = pattern(1 << 20, 4);
    size_t lens[] = {0, 1, CFUT__INLINE_VALUE, CFUT__INLINE_VALUE + 1, 1 << 20};
    int codes[] = {0, 1, -1, INT32_MIN, INT32_MAX};
    int frames = 0;
    for (int status = 0; status < CFUT_STATUS_COUNT_; status++) {
        for (size_t v = 0; v < sizeof lens / sizeof lens[0]; v++) {
            for (int k = 0; k < 2; k++) {
                cfut__wire_kind kind = k ? CFUT__W_READY : CFUT__W_OUTCOME;
                uint64_t id = k ? 0 : (v % 2 ? UINT64_MAX : v + 1);
                uint32_t pid = v % 2 ? UINT32_MAX : (uint32_t)(1000 + v);
                int code = codes[v % (sizeof codes / sizeof codes[0])];
                cfut__outcome o = {0};
                if (status == CFUT_OK) {
                    CHECK_STATUS(cfut__value_set(&o.result, res, lens[v]), CFUT_OK);
                } else if (lens[v] == 0) {
                    cfut__outcome_fail(&o, status, code, "%s", ""); /* "" message */
                } else {
                    cfut__outcome_fail(&o, status, code, "%.*s", (int)lens[v], (const char *)res);
                }
                CHECK(status == CFUT_OK || o.message != NULL);
                cfut__buf b = {0};
                CHECK_STATUS(cfut__wire_put_outcome(&b, kind, id, &o, pid, false), CFUT_OK);
                size_t n;
                const unsigned char *p = frame_payload(&b, 0, kind, &n);
                CHECK_EQ(b.len, CFUT__WIRE_HEADER + n);
                cfut__wire_outcome m;
                CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
                CHECK(m.id == id);
                CHECK_EQ(m.status, status);
                CHECK_EQ(m.code, o.code);
                CHECK_EQ(m.pid, pid);
                if (status == CFUT_OK) {
                    CHECK_EQ(m.message.len, 0);
                    CHECK(same_bytes(m.result, res, lens[v]));
                } else {
                    CHECK_EQ(m.result.len, 0);
                    CHECK(same_bytes(m.message, o.message, strlen(o.message)));
                }
                cfut__outcome back = {0};
                CHECK_STATUS(cfut__wire_outcome_to(&m, NULL, 0, &back), CFUT_OK);
                CHECK_EQ(back.status, status);
                CHECK_EQ(back.code, o.code);
                if (status == CFUT_OK) {
                    CHECK(back.message == NULL);
                    CHECK_EQ(back.result.len, lens[v]);
                    CHECK(lens[v] == 0 ||
                          memcmp(cfut__value_data(&back.result), res, lens[v]) == 0);
                } else {
                    CHECK_STR(back.message, o.message);
                    CHECK_EQ(back.result.len, 0);
                }
                cfut__outcome_clear(&back);
                cfut__outcome_clear(&o);
                cfut__buf_free(&b);
                frames++;
            }
        }
    }
    CHECK_EQ(frames, CFUT_STATUS_COUNT_ * 5 * 2);
    free(res);
}

/* The encoder never sends a message with a success or a result with a
 * failure; the decoder refuses a failure that carries result bytes. */
static void test_outcome_encoder_drops_the_other_half(void)
{
    cfut__outcome o = {0};
    CHECK_STATUS(cfut__value_set(&o.result, "abc", 3), CFUT_OK);
    o.message = strdup("ignored");
    CHECK(o.message != NULL);
    cfut__buf b = {0};
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 5, &o, 1, false), CFUT_OK);
    size_t n;
    const unsigned char *p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    cfut__wire_outcome m;
    CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
    CHECK_EQ(m.message.len, 0);
    CHECK(same_bytes(m.result, "abc", 3));
    /* A failure whose record still holds result bytes: they are not sent. */
    o.status = CFUT_ETASK;
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 5, &o, 1, false), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
    CHECK(same_bytes(m.message, "ignored", 7));
    CHECK_EQ(m.result.len, 0);
    /* A NULL message on a failure travels as "". */
    cfut__outcome_clear(&o);
    o.status = CFUT_EWORKER;
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 5, &o, 1, false), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
    CHECK_EQ(m.message.len, 0);
    cfut__outcome back = {0};
    CHECK_STATUS(cfut__wire_outcome_to(&m, NULL, 0, &back), CFUT_OK);
    CHECK_STR(back.message, "");
    cfut__outcome_clear(&back);
    cfut__buf_free(&b);
}

/* TASK with the argument in shared memory: flags bit 0, and the value
 * field holds the argument's length as 8 bytes; the bytes are not read. */
static void test_roundtrip_task_in_shm(void)
{
    size_t lens[] = {0, 1, (size_t)64 << 10, (size_t)64 << 20, SIZE_MAX};
    cfut__fnref fn = {"/lib/libm.so.6", 14, 0x2f00};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        cfut__buf b = {0};
        CHECK_STATUS(cfut__wire_put_task(&b, i, &fn, NULL, lens[i], true), CFUT_OK);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, CFUT__W_TASK, &n);
        CHECK_EQ(n, 8 + 4 + 14 + 8 + 4 + 4 + 8);
        CHECK_EQ(rd32(p + n - 12), 8); /* the value field's length */
        cfut__wire_task d;
        CHECK_STATUS(cfut__wire_get_task(p, n, &d), CFUT_OK);
        CHECK(d.id == i);
        CHECK(same_bytes(d.fn_path, "/lib/libm.so.6", 14));
        CHECK(d.fn_offset == 0x2f00);
        CHECK_EQ(d.flags, CFUT__WIRE_IN_SHM);
        CHECK_EQ(d.arg.len, 0);
        CHECK(d.shm_len == (uint64_t)lens[i]);
        cfut__buf_free(&b);
    }
}

/* OUTCOME/READY with the result in shared memory; outcome_to copies it from
 * the region it is given, refusing a missing region or a length beyond it.
 * A failure never carries the flag, whatever the caller asks. */
static void test_roundtrip_outcome_in_shm(void)
{
    enum { CAP = 100000 };
    unsigned char *region = pattern(CAP, 9);
    size_t lens[] = {0, 1, 17, CAP - 1, CAP, CAP + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int k = 0; k < 2; k++) {
            cfut__wire_kind kind = k ? CFUT__W_READY : CFUT__W_OUTCOME;
            cfut__outcome o = {0};
            o.result.len = lens[i]; /* never read, never cleared */
            if (lens[i] > CFUT__INLINE_VALUE)
                o.result.u.ptr = NULL;
            cfut__buf b = {0};
            CHECK_STATUS(cfut__wire_put_outcome(&b, kind, 7, &o, 99, true), CFUT_OK);
            size_t n;
            const unsigned char *p = frame_payload(&b, 0, kind, &n);
            CHECK_EQ(n, 8 + 4 + 4 + 4 + 4 + 4 + 4 + 8);
            cfut__wire_outcome m;
            CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
            CHECK_EQ(m.status, CFUT_OK);
            CHECK_EQ(m.flags, CFUT__WIRE_IN_SHM);
            CHECK_EQ(m.result.len, 0);
            CHECK_EQ(m.message.len, 0);
            CHECK(m.shm_len == (uint64_t)lens[i]);
            cfut__outcome back = {0};
            CHECK_STATUS(cfut__wire_outcome_to(&m, NULL, CAP, &back), CFUT_ESERIALIZE);
            cfut__outcome_clear(&back);
            int want = lens[i] <= CAP ? CFUT_OK : CFUT_ESERIALIZE;
            CHECK_STATUS(cfut__wire_outcome_to(&m, region, CAP, &back), want);
            if (want == CFUT_OK) {
                CHECK_EQ(back.result.len, lens[i]);
                CHECK(lens[i] == 0 ||
                      memcmp(cfut__value_data(&back.result), region, lens[i]) == 0);
            }
            cfut__outcome_clear(&back);
            cfut__buf_free(&b);
        }
    }
    /* A failure sent with in_shm: flags 0, the message travels. */
    cfut__outcome o = {0};
    cfut__outcome_fail(&o, CFUT_ETASK, 4, "no");
    cfut__buf b = {0};
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 7, &o, 99, true), CFUT_OK);
    size_t n;
    const unsigned char *p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    cfut__wire_outcome m;
    CHECK_STATUS(cfut__wire_get_outcome(p, n, &m), CFUT_OK);
    CHECK_EQ(m.flags, 0);
    CHECK(same_bytes(m.message, "no", 2));
    cfut__outcome_clear(&o);
    cfut__buf_free(&b);
    free(region);
}

/* A payload built by hand, field by field, as docs/wire.md describes. */
typedef struct raw {
    unsigned char d[256];
    size_t n;
} raw;

static void raw_put(raw *r, const void *p, size_t n)
{
    CHECK_INT(r->n + n, <=, sizeof r->d);
    memcpy(r->d + r->n, p, n);
    r->n += n;
}

static void raw_u8(raw *r, uint8_t v) { raw_put(r, &v, 1); }

static void raw_u32(raw *r, uint32_t v)
{
    unsigned char b[4];
    wr32(b, v);
    raw_put(r, b, 4);
}

static void raw_u64(raw *r, uint64_t v)
{
    raw_u32(r, (uint32_t)v);
    raw_u32(r, (uint32_t)(v >> 32));
}

static void raw_bytes(raw *r, const char *s, size_t n)
{
    raw_u32(r, (uint32_t)n);
    raw_put(r, s, n);
}

/* The encoders produce exactly the documented bytes, frame by frame. */
static void test_encoding_matches_docs(void)
{
    cfut__buf b = {0};
    size_t n;
    const unsigned char *p;

    raw r = {.n = 0}; /* INIT */
    raw_bytes(&r, "w_1", 3);
    raw_u32(&r, 1);
    raw_u8(&r, 1);
    raw_bytes(&r, "", 0);
    raw_u64(&r, 0x1122334455667788ull);
    raw_bytes(&r, "ia", 2);
    cfut__wire_init im = {.name = BYTES("w_1"), .index = 1, .has_init = 1,
                          .init_path = BYTES(""), .init_offset = 0x1122334455667788ull,
                          .initarg = BYTES("ia")};
    CHECK_STATUS(cfut__wire_put_init(&b, &im), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_INIT, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);

    r.n = 0; /* TASK, argument inline */
    raw_u64(&r, 5);
    raw_bytes(&r, "/l.so", 5);
    raw_u64(&r, 0x40);
    raw_u32(&r, 0);
    raw_bytes(&r, "arg", 3);
    cfut__fnref fn = {"/l.so", 5, 0x40};
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_task(&b, 5, &fn, "arg", 3, false), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_TASK, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);

    r.n = 0; /* TASK, argument in shared memory */
    raw_u64(&r, 5);
    raw_bytes(&r, "/l.so", 5);
    raw_u64(&r, 0x40);
    raw_u32(&r, CFUT__WIRE_IN_SHM);
    raw_u32(&r, 8);
    raw_u64(&r, 70000);
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_task(&b, 5, &fn, NULL, 70000, true), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_TASK, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);

    r.n = 0; /* OUTCOME, failure */
    raw_u64(&r, 6);
    raw_u32(&r, CFUT_ETASK);
    raw_u32(&r, (uint32_t)-3);
    raw_u32(&r, 4321);
    raw_u32(&r, 0);
    raw_bytes(&r, "bad", 3);
    raw_bytes(&r, "", 0);
    cfut__outcome o = {0};
    cfut__outcome_fail(&o, CFUT_ETASK, -3, "bad");
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 6, &o, 4321, false), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);
    cfut__outcome_clear(&o);

    r.n = 0; /* READY, success with an inline result */
    raw_u64(&r, 0);
    raw_u32(&r, CFUT_OK);
    raw_u32(&r, 0);
    raw_u32(&r, 4321);
    raw_u32(&r, 0);
    raw_bytes(&r, "", 0);
    raw_bytes(&r, "ok", 2);
    CHECK_STATUS(cfut__value_set(&o.result, "ok", 2), CFUT_OK);
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_READY, 0, &o, 4321, false), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_READY, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);
    cfut__outcome_clear(&o);

    r.n = 0; /* EXITED */
    raw_u32(&r, 77);
    raw_u32(&r, 0x0100);
    b.len = 0;
    CHECK_STATUS(cfut__wire_put_exit(&b, CFUT__W_EXITED, 77, 0x0100), CFUT_OK);
    p = frame_payload(&b, 0, CFUT__W_EXITED, &n);
    CHECK(n == r.n && memcmp(p, r.d, n) == 0);
    cfut__buf_free(&b);
}

/* The shared-memory flag's value field must be exactly 8 bytes; unknown flag
 * bits are refused; a failure cannot carry the flag. */
static void test_shm_flag_rejects(void)
{
    decoded d;
    for (uint32_t vlen = 0; vlen <= 16; vlen++) {
        raw r = {.n = 0};
        raw_u64(&r, 5);
        raw_bytes(&r, "", 0);
        raw_u64(&r, 0x40);
        raw_u32(&r, CFUT__WIRE_IN_SHM);
        raw_bytes(&r, "0123456789abcdef", vlen);
        unsigned char *c = exact_copy(r.d, r.n);
        CHECK_STATUS(decode(CFUT__W_TASK, c, r.n, &d), vlen == 8 ? CFUT_OK : CFUT_ESERIALIZE);
        free(c);
        for (int st = 0; st < 2; st++) {
            r.n = 0;
            raw_u64(&r, 5);
            raw_u32(&r, st ? CFUT_ETASK : CFUT_OK);
            raw_u32(&r, 0);
            raw_u32(&r, 1);
            raw_u32(&r, CFUT__WIRE_IN_SHM);
            raw_bytes(&r, "", 0);
            raw_bytes(&r, "0123456789abcdef", vlen);
            c = exact_copy(r.d, r.n);
            CHECK_STATUS(decode(CFUT__W_OUTCOME, c, r.n, &d),
                         vlen == 8 && !st ? CFUT_OK : CFUT_ESERIALIZE);
            free(c);
        }
    }
    /* Unknown bits, alone or with the known one. */
    for (int bit = 1; bit < 32; bit++) {
        uint32_t flags[] = {1u << bit, (1u << bit) | CFUT__WIRE_IN_SHM};
        for (int f = 0; f < 2; f++) {
            raw r = {.n = 0};
            raw_u64(&r, 5);
            raw_bytes(&r, "", 0);
            raw_u64(&r, 0x40);
            raw_u32(&r, flags[f]);
            raw_bytes(&r, "01234567", 8);
            unsigned char *c = exact_copy(r.d, r.n);
            /* CFUT__WIRE_PIPELINED is known to TASK frames, not OUTCOMEs. */
            bool task_knows = (1u << bit) == CFUT__WIRE_PIPELINED;
            CHECK_STATUS(decode(CFUT__W_TASK, c, r.n, &d),
                         task_knows ? CFUT_OK : CFUT_ESERIALIZE);
            free(c);
            r.n = 0;
            raw_u64(&r, 5);
            raw_u32(&r, CFUT_OK);
            raw_u32(&r, 0);
            raw_u32(&r, 1);
            raw_u32(&r, flags[f]);
            raw_bytes(&r, "", 0);
            raw_bytes(&r, "01234567", 8);
            c = exact_copy(r.d, r.n);
            CHECK_STATUS(decode(CFUT__W_OUTCOME, c, r.n, &d), CFUT_ESERIALIZE);
            free(c);
        }
    }
}

/* FORKED / EXITED with extreme pids and wait statuses; the empty kinds. */
static void test_roundtrip_exit_and_empty(void)
{
    uint32_t pids[] = {0, 1, UINT32_MAX};
    int32_t sts[] = {0, INT32_MIN, -1, INT32_MAX, 0x8b};
    for (int k = 0; k < 2; k++) {
        cfut__wire_kind kind = k ? CFUT__W_EXITED : CFUT__W_FORKED;
        for (size_t i = 0; i < 3; i++) {
            for (size_t j = 0; j < 5; j++) {
                cfut__buf b = {0};
                CHECK_STATUS(cfut__wire_put_exit(&b, kind, pids[i], sts[j]), CFUT_OK);
                size_t n;
                const unsigned char *p = frame_payload(&b, 0, kind, &n);
                CHECK_EQ(n, 8);
                cfut__wire_exit m;
                CHECK_STATUS(cfut__wire_get_exit(p, n, &m), CFUT_OK);
                CHECK_EQ(m.pid, pids[i]);
                CHECK_EQ(m.wait_status, sts[j]);
                cfut__buf_free(&b);
            }
        }
    }
    cfut__wire_kind empties[] = {CFUT__W_SHUTDOWN, CFUT__W_FORK};
    for (int i = 0; i < 2; i++) {
        cfut__buf b = {0};
        CHECK_STATUS(cfut__wire_put_empty(&b, empties[i]), CFUT_OK);
        CHECK_EQ(b.len, CFUT__WIRE_HEADER);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, empties[i], &n);
        CHECK_EQ(n, 0);
        CHECK_STATUS(cfut__wire_get_empty(p, 0), CFUT_OK);
        cfut__buf_free(&b);
    }
}

/* The header byte by byte, as docs/wire.md gives it; frames append. */
static void test_header_layout_and_appending(void)
{
    cfut__buf b = {0};
    CHECK_STATUS(cfut__wire_put_exit(&b, CFUT__W_EXITED, 0x01020304, 0x05060708), CFUT_OK);
    CHECK_STATUS(cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN), CFUT_OK);
    static const unsigned char want[] = {
        'C', 'F', 'U', 'T', 1, CFUT__W_EXITED, 0, 0, 8, 0, 0, 0, /* header */
        4, 3, 2, 1, 8, 7, 6, 5,                                  /* pid, status */
        'C', 'F', 'U', 'T', 1, CFUT__W_SHUTDOWN, 0, 0, 0, 0, 0, 0,
    };
    CHECK_EQ(b.len, sizeof want);
    CHECK(memcmp(b.data, want, sizeof want) == 0);
    size_t n;
    frame_payload(&b, 0, CFUT__W_EXITED, &n);
    CHECK_EQ(n, 8);
    frame_payload(&b, CFUT__WIRE_HEADER + 8, CFUT__W_SHUTDOWN, &n);
    CHECK_EQ(n, 0);
    cfut__buf_consume(&b, CFUT__WIRE_HEADER + 8);
    frame_payload(&b, 0, CFUT__W_SHUTDOWN, &n);
    CHECK_EQ(b.len, CFUT__WIRE_HEADER);
    cfut__buf_free(&b);
}

/* Bad magic, version, kind 0 and >= END, reserved bytes, length > max. */
static void test_header_rejects(void)
{
    cfut__buf b = {0};
    CHECK_STATUS(cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN), CFUT_OK);
    unsigned char good[CFUT__WIRE_HEADER];
    memcpy(good, b.data, sizeof good);
    cfut__buf_free(&b);
    cfut__wire_kind kind = 0;
    size_t len = 12345;
    CHECK_STATUS(cfut__wire_header(good, 0, &kind, &len), CFUT_OK);
    CHECK_EQ(kind, CFUT__W_SHUTDOWN);
    CHECK_EQ(len, 0);

    unsigned char h[CFUT__WIRE_HEADER];
    /* Every known kind passes. */
    for (int k = 1; k < CFUT__W_KIND_END; k++) {
        memcpy(h, good, sizeof h);
        h[5] = (unsigned char)k;
        CHECK_STATUS(cfut__wire_header(h, 0, &kind, &len), CFUT_OK);
        CHECK_EQ(kind, k);
    }
    /* Any single change to the magic. */
    for (int i = 0; i < 4; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(h, good, sizeof h);
            h[i] ^= (unsigned char)(1u << bit);
            CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_ESERIALIZE);
        }
    }
    /* Big-endian magic ("TUFC"). */
    memcpy(h, good, sizeof h);
    wr32(h, 0x43465554u);
    CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_ESERIALIZE);
    /* Versions other than 1. */
    for (int v = 0; v < 256; v++) {
        if (v == CFUT__WIRE_VERSION)
            continue;
        memcpy(h, good, sizeof h);
        h[4] = (unsigned char)v;
        CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_ESERIALIZE);
    }
    /* Kind 0 and every kind >= END. */
    for (int k = 0; k < 256; k++) {
        if (k >= 1 && k < CFUT__W_KIND_END)
            continue;
        memcpy(h, good, sizeof h);
        h[5] = (unsigned char)k;
        CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_ESERIALIZE);
    }
    /* Either reserved byte non-zero. */
    for (int i = 6; i < 8; i++) {
        for (int v = 1; v < 256; v++) {
            memcpy(h, good, sizeof h);
            h[i] = (unsigned char)v;
            CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_ESERIALIZE);
        }
    }
    /* Length against max: equal passes, one more fails. */
    uint32_t lens[] = {1, 100, 65536, 1u << 30, UINT32_MAX - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(h, good, sizeof h);
        wr32(h + 8, lens[i]);
        CHECK_STATUS(cfut__wire_header(h, lens[i], &kind, &len), CFUT_OK);
        CHECK_EQ(len, lens[i]);
        CHECK_STATUS(cfut__wire_header(h, lens[i] - 1, &kind, &len), CFUT_ESERIALIZE);
    }
    memcpy(h, good, sizeof h);
    wr32(h + 8, UINT32_MAX);
    CHECK_STATUS(cfut__wire_header(h, CFUT__WIRE_MAX_DEFAULT, &kind, &len), CFUT_ESERIALIZE);
    CHECK_STATUS(cfut__wire_header(h, SIZE_MAX, &kind, &len), CFUT_OK);
    CHECK_EQ(len, UINT32_MAX);
    wr32(h + 8, (uint32_t)CFUT__WIRE_MAX_DEFAULT + 1);
    CHECK_STATUS(cfut__wire_header(h, CFUT__WIRE_MAX_DEFAULT, &kind, &len), CFUT_ESERIALIZE);
}

/* ---- malformed payloads -------------------------------------------------- */

/* Every proper prefix of every sample's payload is refused. */
static void test_every_truncation_rejected(void)
{
    int tried = 0;
    for (int s = 0; s < NSAMPLES; s++) {
        cfut__buf b = {0};
        cfut__wire_kind kind = sample(s, &b);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, kind, &n);
        decoded d;
        unsigned char *whole = exact_copy(p, n);
        CHECK_STATUS(decode(kind, whole, n, &d), CFUT_OK);
        free(whole);
        for (size_t cut = 0; cut < n; cut++) {
            unsigned char *c = exact_copy(p, cut);
            int rc = decode(kind, c, cut, &d);
            if (rc != CFUT_ESERIALIZE)
                th_fail(__FILE__, __LINE__, "sample %d (kind %d) cut to %zu of %zu: %s", s,
                        kind, cut, n, cfut_status_name(rc));
            free(c);
            tried++;
        }
        cfut__buf_free(&b);
    }
    CHECK_INT(tried, >, 400);
}

/* One or more bytes after the last field: refused, whatever their value. */
static void test_trailing_bytes_rejected(void)
{
    for (int s = 0; s < NSAMPLES; s++) {
        cfut__buf b = {0};
        cfut__wire_kind kind = sample(s, &b);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, kind, &n);
        for (size_t extra = 1; extra <= 9; extra += 4) {
            for (int v = 0; v < 256; v += 85) {
                unsigned char *c = malloc(n + extra);
                CHECK(c != NULL);
                if (n)
                    memcpy(c, p, n);
                memset(c + n, v, extra);
                decoded d;
                CHECK_STATUS(decode(kind, c, n + extra, &d), CFUT_ESERIALIZE);
                free(c);
            }
        }
        cfut__buf_free(&b);
    }
}

/* Byte offsets of the u32 length fields in each variable-length sample. */
#define AFTER_MESSAGE SIZE_MAX
typedef struct len_field {
    int sample;
    size_t off; /* in the payload */
} len_field;

/* An inner length that points past the frame's end (by one, by a lot, up to
 * UINT32_MAX) is refused: never an over-read, never a wrap. */
static void test_inner_length_past_end(void)
{
    /* sample 0 INIT: name@0 ("cfut1_3", 7), index, has_init, path, offset, initarg */
    /* sample 2 TASK: id, path@8, offset, flags, arg */
    /* sample 12 TASK, argument in shared memory: its 8-byte field@48 */
    /* samples 4, 6, 13 OUTCOME: id, status, code, pid, flags, message@24, result */
    const len_field fields[] = {
        {0, 0},  {0, 4 + 7 + 4 + 1}, {0, 4 + 7 + 4 + 1 + 4 + 15 + 8},
        {2, 8},  {2, 8 + 4 + 24 + 8 + 4},
        {12, 8}, {12, 8 + 4 + 24 + 8 + 4},
        {4, 24}, {4, 28},
        {6, 24}, {6, AFTER_MESSAGE},
        {13, 24}, {13, 28},
    };
    int tried = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        cfut__buf b = {0};
        cfut__wire_kind kind = sample(fields[i].sample, &b);
        size_t n;
        const unsigned char *p = frame_payload(&b, 0, kind, &n);
        size_t off = fields[i].off;
        if (off == AFTER_MESSAGE) /* OUTCOME: the result's length follows the message */
            off = 28 + rd32(p + 24);
        CHECK_INT(off + 4, <=, n);
        uint32_t len = rd32(p + off);
        size_t left = n - off - 4; /* bytes after the length field */
        CHECK_INT(len, <=, left);  /* the table points at a real length */
        uint32_t bad[] = {(uint32_t)left + 1, (uint32_t)left + 4096, 0x7fffffffu,
                          0x80000000u, UINT32_MAX - 1, UINT32_MAX};
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            unsigned char *c = exact_copy(p, n);
            wr32(c + off, bad[j]);
            decoded d;
            CHECK_STATUS(decode(kind, c, n, &d), CFUT_ESERIALIZE);
            free(c);
            tried++;
        }
        /* A length that still fits but leaves the rest misaligned is also
         * refused (the remaining fields no longer add up). */
        if (len + 1 <= left) {
            unsigned char *c = exact_copy(p, n);
            wr32(c + off, len + 1);
            decoded d;
            CHECK_STATUS(decode(kind, c, n, &d), CFUT_ESERIALIZE);
            free(c);
        }
        cfut__buf_free(&b);
    }
    CHECK_EQ(tried, 13 * 6);
}

/* Status outside the known codes, a failure with result bytes, has_init
 * other than 0/1, task flags other than 0: refused. */
static void test_semantic_rejects(void)
{
    cfut__buf b = {0};
    size_t n;
    const unsigned char *p;
    decoded d;

    sample(4, &b); /* OUTCOME, CFUT_OK, 40-byte result */
    p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    uint32_t statuses[] = {(uint32_t)-1, CFUT_STATUS_COUNT_, CFUT_STATUS_COUNT_ + 1, 255,
                           0x7fffffffu, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        unsigned char *c = exact_copy(p, n);
        wr32(c + 8, statuses[i]);
        CHECK_STATUS(decode(CFUT__W_OUTCOME, c, n, &d), CFUT_ESERIALIZE);
        CHECK_STATUS(decode(CFUT__W_READY, c, n, &d), CFUT_ESERIALIZE);
        free(c);
    }
    /* Every failure status with the 40 result bytes still attached. */
    for (int st = 1; st < CFUT_STATUS_COUNT_; st++) {
        unsigned char *c = exact_copy(p, n);
        wr32(c + 8, (uint32_t)st);
        CHECK_STATUS(decode(CFUT__W_OUTCOME, c, n, &d), CFUT_ESERIALIZE);
        free(c);
    }
    /* Every known status with an empty result is fine. */
    sample(6, &b); /* OUTCOME, CFUT_ETASK, message */
    p = frame_payload(&b, 0, CFUT__W_OUTCOME, &n);
    for (int st = 0; st < CFUT_STATUS_COUNT_; st++) {
        unsigned char *c = exact_copy(p, n);
        wr32(c + 8, (uint32_t)st);
        CHECK_STATUS(decode(CFUT__W_OUTCOME, c, n, &d), CFUT_OK);
        CHECK_EQ(d.outcome.status, st);
        free(c);
    }

    sample(0, &b); /* INIT: has_init at 4 + 7 + 4 */
    p = frame_payload(&b, 0, CFUT__W_INIT, &n);
    for (int v = 0; v < 256; v++) {
        unsigned char *c = exact_copy(p, n);
        c[4 + 7 + 4] = (unsigned char)v;
        CHECK_STATUS(decode(CFUT__W_INIT, c, n, &d), v <= 1 ? CFUT_OK : CFUT_ESERIALIZE);
        free(c);
    }

    sample(2, &b); /* TASK: flags after id, path (4 + 24), offset */
    p = frame_payload(&b, 0, CFUT__W_TASK, &n);
    size_t flags_at = 8 + 4 + 24 + 8;
    CHECK_EQ(rd32(p + flags_at), 0);
    uint32_t flags[] = {1, 4, 0x80000000u, UINT32_MAX}; /* 2: PIPELINED, valid */
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        unsigned char *c = exact_copy(p, n);
        wr32(c + flags_at, flags[i]);
        CHECK_STATUS(decode(CFUT__W_TASK, c, n, &d), CFUT_ESERIALIZE);
        free(c);
    }
    cfut__buf_free(&b);
}

/* Message bytes are copied as given; an embedded NUL ends the C string (the
 * encoder never produces one: it sends strlen(message) bytes). */
static void test_outcome_to_copies(void)
{
    static const unsigned char payload[] = {
        7, 0, 0, 0, 0, 0, 0, 0,   /* id */
        CFUT_ETASK, 0, 0, 0,      /* status */
        0xfe, 0xff, 0xff, 0xff,   /* code -2 */
        1, 0, 0, 0,               /* pid */
        0, 0, 0, 0,               /* flags */
        5, 0, 0, 0, 'a', 'b', 0, 'c', 'd', /* message with a NUL */
        0, 0, 0, 0,               /* result */
    };
    unsigned char *c = exact_copy(payload, sizeof payload);
    cfut__wire_outcome m;
    CHECK_STATUS(cfut__wire_get_outcome(c, sizeof payload, &m), CFUT_OK);
    CHECK_EQ(m.code, -2);
    cfut__outcome o = {0};
    /* Twice into the same record: the first copy is released, not leaked. */
    CHECK_STATUS(cfut__wire_outcome_to(&m, NULL, 0, &o), CFUT_OK);
    CHECK_STATUS(cfut__wire_outcome_to(&m, NULL, 0, &o), CFUT_OK);
    free(c); /* the record owns its copy */
    CHECK_EQ(o.status, CFUT_ETASK);
    CHECK_EQ(o.code, -2);
    CHECK_STR(o.message, "ab");
    CHECK(memcmp(o.message, "ab\0cd", 6) == 0);
    cfut__outcome_clear(&o);
}

/* A field or frame over the format's 32-bit limit: CFUT_ESERIALIZE, and
 * the buffer keeps exactly the frames it had (no half frame). The length is
 * checked before the bytes are read, so a dummy pointer is safe here. */
static void test_encoder_limits_leave_no_half_frame(void)
{
    static const unsigned char dummy[1];
    size_t huge = (size_t)UINT32_MAX + 1;
    cfut__buf b = {0};
    CHECK_STATUS(cfut__wire_put_empty(&b, CFUT__W_SHUTDOWN), CFUT_OK);
    size_t before = b.len;
    cfut__fnref fn = {"", 0, 1};
    CHECK_STATUS(cfut__wire_put_task(&b, 1, &fn, dummy, huge, false), CFUT_ESERIALIZE);
    CHECK_EQ(b.len, before);
    cfut__fnref longpath = {(const char *)dummy, huge, 1};
    CHECK_STATUS(cfut__wire_put_task(&b, 1, &longpath, NULL, 0, false), CFUT_ESERIALIZE);
    CHECK_EQ(b.len, before);
    cfut__wire_init m = {.name = bytes_of(dummy, huge)};
    CHECK_STATUS(cfut__wire_put_init(&b, &m), CFUT_ESERIALIZE);
    CHECK_EQ(b.len, before);
    m = (cfut__wire_init){.name = BYTES("n"), .has_init = 1, .init_path = BYTES("p"),
                          .initarg = bytes_of(dummy, huge)};
    CHECK_STATUS(cfut__wire_put_init(&b, &m), CFUT_ESERIALIZE);
    CHECK_EQ(b.len, before);
    cfut__outcome o = {0};
    o.result.len = huge; /* never cleared: the pointer is not ours */
    o.result.u.ptr = (unsigned char *)(uintptr_t)dummy;
    CHECK_STATUS(cfut__wire_put_outcome(&b, CFUT__W_OUTCOME, 1, &o, 1, false), CFUT_ESERIALIZE);
    CHECK_EQ(b.len, before);
    /* The buffer still holds its one good frame and takes more. */
    size_t n;
    frame_payload(&b, 0, CFUT__W_SHUTDOWN, &n);
    CHECK_STATUS(cfut__wire_put_exit(&b, CFUT__W_FORKED, 9, 0), CFUT_OK);
    frame_payload(&b, before, CFUT__W_FORKED, &n);
    cfut__buf_free(&b);
}

/* Every allocation of an encode/decode/copy failing in turn: CFUT_ENOMEM,
 * no half frame, no leak (valgrind). */
static void test_allocation_failures(void)
{
    unsigned char *big = pattern(100000, 5);
    cfut__fnref fn = {"/lib/libx.so", 12, 0x10};
    int failures = 0;
    for (long nth = 1; nth < 64; nth++) {
        cfut__buf b = {0};
        cfut__alloc_fail_nth(nth);
        int rc = cfut__wire_put_task(&b, 3, &fn, big, 100000, false);
        if (rc == CFUT_OK)
            rc = cfut__wire_put_task(&b, 4, &fn, big, 100000, false);
        long made = cfut__alloc_fail_nth(0);
        if (rc == CFUT_OK) {
            CHECK_INT(made, <, nth);
            cfut__buf_free(&b);
            break;
        }
        failures++;
        CHECK_STATUS(rc, CFUT_ENOMEM);
        CHECK(b.len == 0 || b.len == CFUT__WIRE_HEADER + 8 + 4 + 12 + 8 + 4 + 4 + 100000);
        cfut__buf_free(&b);
    }
    CHECK_INT(failures, >=, 1);

    /* outcome_to: the message and the heap result allocations. */
    cfut__wire_outcome ok = {.id = 1, .status = CFUT_OK, .pid = 1, .result = {big, 1000}};
    cfut__wire_outcome bad = {.id = 1, .status = CFUT_ETASK, .code = 3, .pid = 1,
                              .message = {big, 1000}};
    cfut__wire_outcome *ms[] = {&ok, &bad};
    for (int i = 0; i < 2; i++) {
        cfut__outcome o = {0};
        cfut__alloc_fail_nth(1);
        CHECK_STATUS(cfut__wire_outcome_to(ms[i], NULL, 0, &o), CFUT_ENOMEM);
        cfut__alloc_fail_nth(0);
        cfut__outcome_clear(&o);
        CHECK_STATUS(cfut__wire_outcome_to(ms[i], NULL, 0, &o), CFUT_OK);
        cfut__outcome_clear(&o);
    }
    free(big);
}

/* ---- random mutations ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: fixed seed, same sequence everywhere. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t mutate(unsigned char *d, size_t n, size_t cap)
{
    int rounds = 1 + (int)(rnd() % 4);
    for (int r = 0; r < rounds; r++) {
        uint64_t x = rnd();
        size_t at = n ? (size_t)(x >> 16) % n : 0;
        switch (x % 8) {
        case 0: /* flip a bit */
            if (n)
                d[at] ^= (unsigned char)(1u << ((x >> 8) % 8));
            break;
        case 1: /* random byte */
            if (n)
                d[at] = (unsigned char)(x >> 8);
            break;
        case 2: /* interesting byte */
            if (n)
                d[at] = (unsigned char[]){0, 1, 0x7f, 0x80, 0xff}[(x >> 8) % 5];
            break;
        case 3: /* interesting u32, often a length */
            if (n >= 4) {
                at %= n - 3;
                uint32_t vals[] = {0, 1, (uint32_t)n, (uint32_t)n - 1, (uint32_t)n + 1,
                                   (uint32_t)(n - at), (uint32_t)(n - at - 4), 0x7fffffffu,
                                   0x80000000u, UINT32_MAX};
                wr32(d + at, vals[(x >> 8) % 10]);
            }
            break;
        case 4: /* truncate */
            n = n ? (size_t)(x >> 8) % n : 0;
            break;
        case 5: /* append random bytes */
            for (size_t k = (x >> 8) % 9; k && n < cap; k--)
                d[n++] = (unsigned char)rnd();
            break;
        case 6: /* delete a run */
            if (n) {
                size_t k = 1 + (size_t)(x >> 8) % 8;
                if (k > n - at)
                    k = n - at;
                memmove(d + at, d + at + k, n - at - k);
                n -= k;
            }
            break;
        default: /* duplicate a run */
            if (n) {
                size_t k = 1 + (size_t)(x >> 8) % 8;
                if (k > n - at)
                    k = n - at;
                if (n + k <= cap) {
                    memmove(d + at + k, d + at, n - at);
                    n += k;
                }
            }
            break;
        }
    }
    return n;
}

static const cfut__wire_kind all_kinds[] = {CFUT__W_INIT,     CFUT__W_READY,  CFUT__W_TASK,
                                            CFUT__W_OUTCOME,  CFUT__W_SHUTDOWN, CFUT__W_FORK,
                                            CFUT__W_FORKED,   CFUT__W_EXITED};

/* 100k mutated frames: every decoder either refuses or returns fields that
 * lie inside the payload; accepted outcomes convert and copy correctly. */
static void test_random_mutations(void)
{
    cfut__buf samples[NSAMPLES];
    for (int s = 0; s < NSAMPLES; s++) {
        samples[s] = (cfut__buf){0};
        sample(s, &samples[s]);
    }
    rng_state = 0x9e3779b97f4a7c15ull;
    enum { ITER = 100000, CAP = 512 };
    unsigned char work[CAP];
    long accepted = 0, headers_ok = 0, decoded_frames = 0;
    for (int it = 0; it < ITER; it++) {
        int s = (int)(rnd() % NSAMPLES);
        size_t n = samples[s].len;
        CHECK_INT(n, <=, CAP);
        memcpy(work, samples[s].data, n);
        n = mutate(work, n, CAP);
        /* Whole frame: header, then the payload by its kind. */
        if (n >= CFUT__WIRE_HEADER) {
            unsigned char *h = exact_copy(work, CFUT__WIRE_HEADER);
            cfut__wire_kind kind;
            size_t len;
            int rc = cfut__wire_header(h, CFUT__WIRE_MAX_DEFAULT, &kind, &len);
            free(h);
            if (rc == CFUT_OK) {
                headers_ok++;
                CHECK(kind >= 1 && kind < CFUT__W_KIND_END);
                CHECK_INT(len, <=, CFUT__WIRE_MAX_DEFAULT);
                if (len <= n - CFUT__WIRE_HEADER) {
                    unsigned char *p = exact_copy(work + CFUT__WIRE_HEADER, len);
                    decoded d;
                    if (decode(kind, p, len, &d) == CFUT_OK) {
                        decoded_frames++;
                        if (!fields_inside(kind, &d, p, len))
                            th_fail(__FILE__, __LINE__, "iteration %d: field outside", it);
                    }
                    free(p);
                }
            } else {
                CHECK_STATUS(rc, CFUT_ESERIALIZE);
            }
        }
        /* The bytes after the header, as every kind of payload. */
        size_t off = n >= CFUT__WIRE_HEADER ? CFUT__WIRE_HEADER : 0;
        unsigned char *p = exact_copy(work + off, n - off);
        for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
            decoded d;
            int rc = decode(all_kinds[k], p, n - off, &d);
            if (rc != CFUT_OK) {
                CHECK_STATUS(rc, CFUT_ESERIALIZE);
                continue;
            }
            accepted++;
            if (!fields_inside(all_kinds[k], &d, p, n - off))
                th_fail(__FILE__, __LINE__, "iteration %d kind %d: field outside", it,
                        all_kinds[k]);
            if (all_kinds[k] == CFUT__W_TASK && (d.task.flags & CFUT__WIRE_IN_SHM))
                CHECK(d.task.arg.len == 0);
            if (all_kinds[k] == CFUT__W_OUTCOME) {
                static unsigned char shm[4096];
                cfut__outcome o = {0};
                bool in_shm = d.outcome.flags & CFUT__WIRE_IN_SHM;
                if (in_shm) {
                    CHECK_EQ(d.outcome.status, CFUT_OK);
                    CHECK_EQ(d.outcome.result.len, 0);
                    int want = d.outcome.shm_len <= sizeof shm ? CFUT_OK : CFUT_ESERIALIZE;
                    CHECK_STATUS(cfut__wire_outcome_to(&d.outcome, NULL, 0, &o),
                                 CFUT_ESERIALIZE);
                    CHECK_STATUS(cfut__wire_outcome_to(&d.outcome, shm, sizeof shm, &o), want);
                    if (want == CFUT_OK)
                        CHECK_EQ(o.result.len, d.outcome.shm_len);
                    cfut__outcome_clear(&o);
                    continue;
                }
                CHECK_STATUS(cfut__wire_outcome_to(&d.outcome, NULL, 0, &o), CFUT_OK);
                CHECK_EQ(o.status, d.outcome.status);
                if (o.status == CFUT_OK) {
                    CHECK_EQ(o.result.len, d.outcome.result.len);
                    CHECK(o.result.len == 0 ||
                          memcmp(cfut__value_data(&o.result), d.outcome.result.p,
                                 o.result.len) == 0);
                } else {
                    CHECK(o.message != NULL);
                    CHECK_INT(strlen(o.message), <=, d.outcome.message.len);
                }
                cfut__outcome_clear(&o);
            }
        }
        free(p);
    }
    for (int s = 0; s < NSAMPLES; s++)
        cfut__buf_free(&samples[s]);
    printf("# %d mutated frames: %ld headers valid, %ld frames decoded, %ld payload "
           "decodes accepted\n",
           ITER, headers_ok, decoded_frames, accepted);
    /* The mutations must leave a good share valid, or the loop tests
     * nothing but the first check. */
    CHECK_INT(decoded_frames, >, ITER / 20);
    CHECK_INT(accepted, >, ITER / 20);
}

/* ---- channel I/O --------------------------------------------------------- */

static void socket_pair(int sv[2])
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

struct writer_arg {
    int fd;
    const unsigned char *data;
    size_t len, chunk;
    int rc;
};

static void writer(void *p)
{
    struct writer_arg *w = p;
    w->rc = CFUT_OK;
    for (size_t off = 0; off < w->len && w->rc == CFUT_OK; off += w->chunk) {
        size_t k = w->len - off < w->chunk ? w->len - off : w->chunk;
        w->rc = cfut__wire_write_all(w->fd, w->data + off, k);
    }
    close(w->fd);
}

/* Frames written in odd-sized pieces, one larger than the 1 MiB read step,
 * come back whole and in order; then EOF. */
static void test_read_frame_roundtrip(void)
{
    size_t big = (3 << 20) + 7;
    unsigned char *arg = pattern(big, 6);
    cfut__buf out = {0};
    cfut__fnref fn = {"", 0, 0x40};
    CHECK_STATUS(cfut__wire_put_task(&out, 1, &fn, "hi", 2, false), CFUT_OK);
    CHECK_STATUS(cfut__wire_put_task(&out, 2, &fn, arg, big, false), CFUT_OK);
    CHECK_STATUS(cfut__wire_put_empty(&out, CFUT__W_SHUTDOWN), CFUT_OK);
    int sv[2];
    socket_pair(sv);
    struct writer_arg w = {sv[1], out.data, out.len, 65521, -1};
    th_thread *t = th_spawn(writer, &w);
    cfut__buf in = {0};
    cfut__wire_kind kind;
    const unsigned char *p;
    size_t n;
    cfut__wire_task m;
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n),
                 CFUT_OK);
    CHECK_EQ(kind, CFUT__W_TASK);
    CHECK_STATUS(cfut__wire_get_task(p, n, &m), CFUT_OK);
    CHECK(m.id == 1 && same_bytes(m.arg, "hi", 2));
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n),
                 CFUT_OK);
    CHECK_EQ(kind, CFUT__W_TASK);
    CHECK_STATUS(cfut__wire_get_task(p, n, &m), CFUT_OK);
    CHECK(m.id == 2 && same_bytes(m.arg, arg, big));
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n),
                 CFUT_OK);
    CHECK_EQ(kind, CFUT__W_SHUTDOWN);
    CHECK_EQ(n, 0);
    CHECK(p != NULL);
    errno = EINVAL;
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n),
                 CFUT_ESYS);
    CHECK_EQ(errno, 0); /* EOF */
    th_join(t);
    CHECK_STATUS(w.rc, CFUT_OK);
    close(sv[0]);
    cfut__buf_free(&in);
    cfut__buf_free(&out);
    free(arg);
}

static long vm_size_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
            break;
    fclose(f);
    CHECK_INT(kib, >, 0);
    return kib;
}

/* A header that claims 1 GiB (the default maximum, so it passes) followed
 * by 10 bytes and EOF: an error, and memory grows by at most one read step,
 * not by the claimed length. Checked three ways: the buffer's capacity, the
 * process's address space, and (without sanitizers or valgrind, which
 * reserve huge address ranges of their own) an RLIMIT_AS that a 1 GiB
 * allocation could not fit under. */
static void test_read_frame_lying_length(void)
{
    if (!TH_ASAN && !TH_TSAN && !RUNNING_ON_VALGRIND) {
        rlim_t lim = (rlim_t)(vm_size_kib() + 256 * 1024) * 1024;
        struct rlimit rl = {lim, lim};
        CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);
        printf("# RLIMIT_AS set to %lu MiB\n", (unsigned long)(lim >> 20));
    }
    int sv[2];
    socket_pair(sv);
    unsigned char frame[CFUT__WIRE_HEADER + 10] = {'C', 'F', 'U', 'T', 1, CFUT__W_TASK, 0, 0};
    wr32(frame + 8, (uint32_t)CFUT__WIRE_MAX_DEFAULT);
    memset(frame + CFUT__WIRE_HEADER, 0xab, 10);
    CHECK_STATUS(cfut__wire_write_all(sv[1], frame, sizeof frame), CFUT_OK);
    close(sv[1]);
    long before = vm_size_kib();
    cfut__buf in = {0};
    cfut__wire_kind kind;
    const unsigned char *p = NULL;
    size_t n = 0;
    errno = EINVAL;
    int rc = cfut__wire_read_frame(sv[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n);
    long after = vm_size_kib();
    CHECK_STATUS(rc, CFUT_ESYS);
    CHECK_EQ(errno, 0); /* EOF, not ENOMEM */
    printf("# buffer capacity %zu bytes, address space grew by %ld KiB\n", in.cap,
           after - before);
    CHECK_INT(in.cap, <=, (size_t)2 << 20);
    CHECK_INT(after - before, <, 64 * 1024);
    cfut__buf_free(&in);
    close(sv[0]);
}

/* Headers that are bad or over the caller's maximum: CFUT_ESERIALIZE before
 * any payload is read; EOF inside a header or a payload: CFUT_ESYS, errno 0. */
static void test_read_frame_bad_input(void)
{
    cfut__buf in = {0};
    cfut__wire_kind kind;
    const unsigned char *p;
    size_t n;
    int sv[2];

    /* Garbage header. */
    socket_pair(sv);
    CHECK_STATUS(cfut__wire_write_all(sv[1], "GET / HTTP/1.1\r\n", 16), CFUT_OK);
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, 1024, &kind, &p, &n), CFUT_ESERIALIZE);
    close(sv[0]);
    close(sv[1]);

    /* Length 100 with a maximum of 99: refused; the payload stays unread. */
    socket_pair(sv);
    unsigned char hdr[CFUT__WIRE_HEADER] = {'C', 'F', 'U', 'T', 1, CFUT__W_TASK, 0, 0};
    wr32(hdr + 8, 100);
    CHECK_STATUS(cfut__wire_write_all(sv[1], hdr, sizeof hdr), CFUT_OK);
    CHECK_STATUS(cfut__wire_write_all(sv[1], "payload", 7), CFUT_OK);
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, 99, &kind, &p, &n), CFUT_ESERIALIZE);
    char rest[8];
    CHECK_EQ(recv(sv[0], rest, sizeof rest, MSG_DONTWAIT), 7);
    close(sv[0]);
    close(sv[1]);

    /* EOF after 5 header bytes. */
    socket_pair(sv);
    CHECK_STATUS(cfut__wire_write_all(sv[1], hdr, 5), CFUT_OK);
    close(sv[1]);
    errno = EINVAL;
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, 1024, &kind, &p, &n), CFUT_ESYS);
    CHECK_EQ(errno, 0);
    close(sv[0]);

    /* EOF after 50 of 100 payload bytes. */
    socket_pair(sv);
    unsigned char part[50] = {0};
    CHECK_STATUS(cfut__wire_write_all(sv[1], hdr, sizeof hdr), CFUT_OK);
    CHECK_STATUS(cfut__wire_write_all(sv[1], part, sizeof part), CFUT_OK);
    close(sv[1]);
    errno = EINVAL;
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, 1024, &kind, &p, &n), CFUT_ESYS);
    CHECK_EQ(errno, 0);
    close(sv[0]);

    /* A closed descriptor: ESYS with EBADF. */
    CHECK_STATUS(cfut__wire_read_frame(sv[0], &in, 1024, &kind, &p, &n), CFUT_ESYS);
    CHECK_EQ(errno, EBADF);
    cfut__buf_free(&in);
}

/* Writing to a socket whose peer is gone: CFUT_ESYS (EPIPE), and the process
 * lives on with SIGPIPE at its default (fatal) action. */
static void test_write_all_closed_peer(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    CHECK_EQ(sigaction(SIGPIPE, &dfl, NULL), 0);
    sigset_t none;
    sigemptyset(&none);
    CHECK_EQ(sigprocmask(SIG_SETMASK, &none, NULL), 0);
    int sv[2];
    socket_pair(sv);
    close(sv[1]);
    errno = 0;
    CHECK_STATUS(cfut__wire_write_all(sv[0], "x", 1), CFUT_ESYS);
    CHECK_EQ(errno, EPIPE);
    size_t big = 1 << 20;
    unsigned char *data = pattern(big, 7);
    CHECK_STATUS(cfut__wire_write_all(sv[0], data, big), CFUT_ESYS);
    CHECK_EQ(errno, EPIPE);
    close(sv[0]);
    free(data);
    /* Zero bytes: nothing to do, even on a bad descriptor. */
    CHECK_STATUS(cfut__wire_write_all(-1, "", 0), CFUT_OK);
}

struct closer_arg {
    int fd;
    size_t read_first;
};

static void read_then_close(void *p)
{
    struct closer_arg *c = p;
    unsigned char buf[4096];
    size_t got = 0;
    while (got < c->read_first) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(c->fd);
}

/* The peer dies in the middle of an 8 MiB write: the writer gets an error
 * (EPIPE or ECONNRESET), not a signal and not a hang. */
static void test_write_all_peer_closes_midway(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    CHECK_EQ(sigaction(SIGPIPE, &dfl, NULL), 0);
    int sv[2];
    socket_pair(sv);
    struct closer_arg c = {sv[1], 256 * 1024};
    th_thread *t = th_spawn(read_then_close, &c);
    size_t big = 8 << 20;
    unsigned char *data = pattern(big, 8);
    errno = 0;
    CHECK_STATUS(cfut__wire_write_all(sv[0], data, big), CFUT_ESYS);
    CHECK(errno == EPIPE || errno == ECONNRESET);
    th_join(t);
    close(sv[0]);
    free(data);
}

TH_CASES(
    TH_CASE(test_roundtrip_init),
    TH_CASE(test_roundtrip_task),
    TH_CASE(test_roundtrip_outcome_every_status),
    TH_CASE(test_outcome_encoder_drops_the_other_half),
    TH_CASE(test_roundtrip_task_in_shm),
    TH_CASE(test_roundtrip_outcome_in_shm),
    TH_CASE(test_roundtrip_exit_and_empty),
    TH_CASE(test_encoding_matches_docs),
    TH_CASE(test_shm_flag_rejects),
    TH_CASE(test_header_layout_and_appending),
    TH_CASE(test_header_rejects),
    TH_CASE(test_every_truncation_rejected),
    TH_CASE(test_trailing_bytes_rejected),
    TH_CASE(test_inner_length_past_end),
    TH_CASE(test_semantic_rejects),
    TH_CASE(test_outcome_to_copies),
    TH_CASE(test_encoder_limits_leave_no_half_frame),
    TH_CASE(test_allocation_failures),
    TH_CASE(test_random_mutations),
    TH_CASE(test_read_frame_roundtrip),
    TH_CASE(test_read_frame_lying_length),
    TH_CASE(test_read_frame_bad_input),
    TH_CASE(test_write_all_closed_peer),
    TH_CASE(test_write_all_peer_closes_midway),
)
