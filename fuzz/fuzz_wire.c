/* fuzz/fuzz_wire.c: every wire decoder on arbitrary bytes (docs/wire.md).
 *
 * One input is used four ways:
 *  1. as a frame: cfut__wire_header() on its first 12 bytes (with the
 *     maximum of every reader), then the payload decoder for the header's
 *     kind on the payload;
 *  2. the bytes after the header (or the whole input when shorter) as the
 *     payload of every kind, so payload decoders are reached without the
 *     fuzzer first finding a valid header;
 *  3. through cfut__wire_read_frame() over a pipe, which must agree with 1;
 *  4. every accepted outcome through cfut__wire_outcome_to().
 *
 * Oracles (abort() on violation, so libFuzzer and the replay driver report
 * it): an accepted message's byte fields lie inside the payload, its flags
 * and status are ones the format knows, and encoding the decoded message
 * again gives back exactly the input bytes (every field is canonical), except
 * where the format documents a choice: an OUTCOME's message when the status
 * is CFUT_OK (the encoder never sends one), and a message with a NUL in it
 * (the encoder sends strlen(message) bytes). Payloads are copied into
 * allocations of their exact size so that a read past one is an ASan error.
 *
 * Built twice by fuzz/meson.build: with driver.c (replays the corpus under
 * meson test) and, with -Dfuzzing=true and clang, as a libFuzzer binary. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_wire: %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Results in "shared memory" for outcome_to. */
static unsigned char shm_region[1 << 16];

static unsigned char *exact_copy(const void *p, size_t n)
{
    unsigned char *c = malloc(n ? n : 1);
    REQUIRE(c != NULL);
    if (n)
        memcpy(c, p, n);
    return c;
}

static bool inside(cfut__bytes f, const unsigned char *p, size_t n)
{
    if (f.len == 0)
        return true;
    return f.p && f.p >= p && f.p <= p + n && f.len <= (size_t)(p + n - f.p);
}

/* Encodes the frame again and compares with header + payload. */
static void same_frame(const cfut__buf *b, cfut__wire_kind kind, const unsigned char *p,
                       size_t n)
{
    REQUIRE(b->len == CFUT__WIRE_HEADER + n);
    cfut__wire_kind k;
    size_t len;
    REQUIRE(cfut__wire_header(b->data, CFUT__WIRE_MAX_DEFAULT, &k, &len) == CFUT_OK);
    REQUIRE(k == kind && len == n);
    REQUIRE(n == 0 || memcmp(b->data + CFUT__WIRE_HEADER, p, n) == 0);
}

static void check_init(const unsigned char *p, size_t n)
{
    cfut__wire_init m;
    if (cfut__wire_get_init(p, n, &m) != CFUT_OK)
        return;
    REQUIRE(inside(m.name, p, n) && inside(m.init_path, p, n) && inside(m.initarg, p, n));
    REQUIRE(m.has_init <= 1);
    cfut__buf b = {0};
    REQUIRE(cfut__wire_put_init(&b, &m) == CFUT_OK);
    same_frame(&b, CFUT__W_INIT, p, n);
    cfut__buf_free(&b);
}

static void check_task(const unsigned char *p, size_t n)
{
    cfut__wire_task m;
    if (cfut__wire_get_task(p, n, &m) != CFUT_OK)
        return;
    REQUIRE(inside(m.fn_path, p, n) && inside(m.arg, p, n));
    REQUIRE((m.flags & ~(uint32_t)CFUT__WIRE_TASK_FLAGS) == 0);
    bool in_shm = m.flags & CFUT__WIRE_IN_SHM;
    REQUIRE(!in_shm || m.arg.len == 0);
    REQUIRE(in_shm || m.shm_len == 0);
    cfut__fnref fn = {(const char *)m.fn_path.p, m.fn_path.len, m.fn_offset};
    cfut__buf b = {0};
    REQUIRE(cfut__wire_put_task(&b, m.id, &fn, m.arg.p, in_shm ? (size_t)m.shm_len : m.arg.len,
                                m.flags) == CFUT_OK);
    same_frame(&b, CFUT__W_TASK, p, n);
    cfut__buf_free(&b);
}

static void check_outcome(cfut__wire_kind kind, const unsigned char *p, size_t n)
{
    cfut__wire_outcome m;
    if (cfut__wire_get_outcome(p, n, &m) != CFUT_OK)
        return;
    REQUIRE(inside(m.message, p, n) && inside(m.result, p, n));
    REQUIRE(m.status >= 0 && m.status < CFUT_STATUS_COUNT_);
    REQUIRE((m.flags & ~(uint32_t)CFUT__WIRE_FLAGS) == 0);
    bool in_shm = m.flags & CFUT__WIRE_IN_SHM;
    REQUIRE(m.status == CFUT_OK || (m.result.len == 0 && !in_shm));
    REQUIRE(!in_shm || m.result.len == 0);

    cfut__outcome o = {0};
    /* No region: a result said to be in shared memory is refused. */
    int rc = cfut__wire_outcome_to(&m, NULL, 0, &o);
    REQUIRE(in_shm ? rc == CFUT_ESERIALIZE : rc == CFUT_OK);
    cfut__outcome_clear(&o);
    rc = cfut__wire_outcome_to(&m, shm_region, sizeof shm_region, &o);
    if (in_shm && m.shm_len > sizeof shm_region) {
        REQUIRE(rc == CFUT_ESERIALIZE);
        cfut__outcome_clear(&o);
        return;
    }
    REQUIRE(rc == CFUT_OK);
    REQUIRE(o.status == m.status && o.code == m.code);
    if (m.status == CFUT_OK) {
        size_t want = in_shm ? (size_t)m.shm_len : m.result.len;
        const unsigned char *src = in_shm ? shm_region : m.result.p;
        REQUIRE(o.message == NULL && o.result.len == want);
        REQUIRE(want == 0 || memcmp(cfut__value_data(&o.result), src, want) == 0);
    } else {
        REQUIRE(o.message != NULL && o.result.len == 0);
        REQUIRE(strlen(o.message) <= m.message.len);
        REQUIRE(m.message.len == 0 || memcmp(o.message, m.message.p, strlen(o.message)) == 0);
    }
    /* Canonical unless the format documents the difference. */
    bool canonical = m.status == CFUT_OK ? m.message.len == 0
                                         : strlen(o.message) == m.message.len;
    if (canonical) {
        cfut__buf b = {0};
        if (in_shm) {
            /* Only the length is sent; the bytes (NULL here) are not read. */
            cfut__outcome sent = {.status = o.status, .code = o.code};
            sent.result.len = (size_t)m.shm_len;
            sent.result.u.ptr = NULL;
            REQUIRE(cfut__wire_put_outcome(&b, kind, m.id, &sent, m.pid, true) == CFUT_OK);
        } else {
            REQUIRE(cfut__wire_put_outcome(&b, kind, m.id, &o, m.pid, false) == CFUT_OK);
        }
        same_frame(&b, kind, p, n);
        cfut__buf_free(&b);
    }
    cfut__outcome_clear(&o);
}

static void check_exit(cfut__wire_kind kind, const unsigned char *p, size_t n)
{
    cfut__wire_exit m;
    if (cfut__wire_get_exit(p, n, &m) != CFUT_OK)
        return;
    REQUIRE(n == 8);
    cfut__buf b = {0};
    REQUIRE(cfut__wire_put_exit(&b, kind, m.pid, m.wait_status) == CFUT_OK);
    same_frame(&b, kind, p, n);
    cfut__buf_free(&b);
}

static void check_empty(cfut__wire_kind kind, const unsigned char *p, size_t n)
{
    if (cfut__wire_get_empty(p, n) != CFUT_OK)
        return;
    REQUIRE(n == 0);
    cfut__buf b = {0};
    REQUIRE(cfut__wire_put_empty(&b, kind) == CFUT_OK);
    same_frame(&b, kind, p, n);
    cfut__buf_free(&b);
}

/* One payload as the given kind, from an exact-size copy. */
static void check_payload(cfut__wire_kind kind, const unsigned char *data, size_t n)
{
    unsigned char *p = exact_copy(data, n);
    switch (kind) {
    case CFUT__W_INIT:
        check_init(p, n);
        break;
    case CFUT__W_TASK:
        check_task(p, n);
        break;
    case CFUT__W_READY:
    case CFUT__W_OUTCOME:
        check_outcome(kind, p, n);
        break;
    case CFUT__W_FORKED:
    case CFUT__W_EXITED:
        check_exit(kind, p, n);
        break;
    case CFUT__W_SHUTDOWN:
    case CFUT__W_FORK:
    case CFUT__W_DOORBELL:
        check_empty(kind, p, n);
        break;
    default:
        REQUIRE(!"a kind the header check let through");
    }
    free(p);
}

/* 3: the same bytes through read_frame over a pipe (non-blocking read end:
 * a short frame ends with EAGAIN instead of waiting). Only inputs that fit
 * in the pipe. */
static void check_read_frame(const uint8_t *data, size_t size, int header_rc,
                             size_t payload_len)
{
    static int pfd[2] = {-1, -1};
    static cfut__buf in;
    if (size > 60000)
        return;
    if (pfd[0] < 0) {
        REQUIRE(pipe2(pfd, O_CLOEXEC) == 0);
        REQUIRE(fcntl(pfd[0], F_SETFL, O_NONBLOCK) == 0);
    }
    for (size_t off = 0; off < size;) {
        ssize_t w = write(pfd[1], data + off, size - off);
        REQUIRE(w > 0);
        off += (size_t)w;
    }
    cfut__wire_kind kind;
    const unsigned char *p = NULL;
    size_t n = 0;
    int rc = cfut__wire_read_frame(pfd[0], &in, CFUT__WIRE_MAX_DEFAULT, &kind, &p, &n);
    if (size < CFUT__WIRE_HEADER) {
        REQUIRE(rc == CFUT_ESYS && errno == EAGAIN);
    } else if (header_rc != CFUT_OK) {
        REQUIRE(rc == CFUT_ESERIALIZE);
    } else if (payload_len > size - CFUT__WIRE_HEADER) {
        REQUIRE(rc == CFUT_ESYS && errno == EAGAIN);
        REQUIRE(in.cap <= ((size_t)2 << 20)); /* never what the header claims */
    } else {
        REQUIRE(rc == CFUT_OK && n == payload_len && p != NULL);
        REQUIRE(n == 0 || memcmp(p, data + CFUT__WIRE_HEADER, n) == 0);
    }
    unsigned char drain[4096];
    while (read(pfd[0], drain, sizeof drain) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cfut__wire_kind kinds[] = {
        CFUT__W_INIT,     CFUT__W_READY, CFUT__W_TASK,   CFUT__W_OUTCOME,
        CFUT__W_SHUTDOWN, CFUT__W_FORK,  CFUT__W_FORKED, CFUT__W_EXITED,
        CFUT__W_DOORBELL,
    };
    _Static_assert(sizeof kinds / sizeof kinds[0] == CFUT__W_KIND_END - 1,
                   "every kind is fuzzed");

    /* 1: a frame. */
    int header_rc = CFUT_ESERIALIZE;
    size_t len = 0;
    if (size >= CFUT__WIRE_HEADER) {
        unsigned char *h = exact_copy(data, CFUT__WIRE_HEADER);
        cfut__wire_kind kind = 0;
        header_rc = cfut__wire_header(h, CFUT__WIRE_MAX_DEFAULT, &kind, &len);
        REQUIRE(header_rc == CFUT_OK || header_rc == CFUT_ESERIALIZE);
        /* The other maxima readers use: 0 (the forkserver's FORK), 64 (the
         * parent reading its forkserver), UINT32_MAX (MPI rank 0): the same
         * verdict on everything but the length. */
        cfut__wire_kind any_kind = 0;
        size_t any_len = 0;
        int any_rc = cfut__wire_header(h, SIZE_MAX, &any_kind, &any_len);
        REQUIRE(header_rc == CFUT_OK ? any_rc == CFUT_OK && any_kind == kind && any_len == len
                                     : any_rc != CFUT_OK || any_len > CFUT__WIRE_MAX_DEFAULT);
        static const size_t maxima[] = {0, 64, UINT32_MAX};
        for (size_t m = 0; m < sizeof maxima / sizeof maxima[0]; m++) {
            cfut__wire_kind k2 = 0;
            size_t len2 = 0;
            int rc2 = cfut__wire_header(h, maxima[m], &k2, &len2);
            REQUIRE(rc2 == (any_rc == CFUT_OK && any_len <= maxima[m] ? CFUT_OK
                                                                       : CFUT_ESERIALIZE));
            REQUIRE(rc2 != CFUT_OK || (k2 == any_kind && len2 == any_len));
        }
        free(h);
        if (header_rc == CFUT_OK) {
            REQUIRE(kind >= 1 && kind < CFUT__W_KIND_END);
            REQUIRE(len <= CFUT__WIRE_MAX_DEFAULT);
            REQUIRE(data[0] == 'C' && data[1] == 'F' && data[2] == 'U' && data[3] == 'T');
            REQUIRE(data[4] == CFUT__WIRE_VERSION && data[6] == 0 && data[7] == 0);
            size_t avail = size - CFUT__WIRE_HEADER;
            check_payload(kind, data + CFUT__WIRE_HEADER, len <= avail ? len : avail);
        }
    }

    /* 2: the payload as every kind. */
    size_t off = size >= CFUT__WIRE_HEADER ? CFUT__WIRE_HEADER : 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        check_payload(kinds[k], data + off, size - off);
    if (off)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            check_payload(kinds[k], data, size);

    /* 3: the channel reader agrees with the header check. */
    check_read_frame(data, size, header_rc, len);
    return 0;
}
