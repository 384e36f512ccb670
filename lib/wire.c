/* lib/wire.c: frames and their fields (see wire.h and docs/wire.md).
 *
 * Fields are little-endian fixed-width integers and length-prefixed byte
 * strings (u32 length, then the bytes). A decoder reads through a cursor that
 * turns sticky-bad on the first field that does not fit; the message is
 * accepted only if the cursor ends good and exactly at the payload's end. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* ---- buffers ------------------------------------------------------------- */

void cfut__buf_free(cfut__buf *b)
{
    cfut__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cfut__buf_consume(cfut__buf *b, size_t n)
{
    CFUT_ASSERT(n <= b->len);
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int cfut__buf_reserve(cfut__buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return CFUT_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return CFUT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *d = cfut__realloc(b->data, cap);
    if (!d)
        return CFUT_ENOMEM;
    b->data = d;
    b->cap = cap;
    return CFUT_OK;
}

/* ---- writing ------------------------------------------------------------- */

/* A frame being written: fields go straight into the buffer; the header's
 * length is filled in at the end. A failed reservation sticks. */

static void put(cfut__wr *w, const void *p, size_t n)
{
    if (w->rc != CFUT_OK)
        return;
    if ((w->rc = cfut__buf_reserve(w->b, n)) != CFUT_OK)
        return;
    if (n)
        memcpy(w->b->data + w->b->len, p, n);
    w->b->len += n;
}

void cfut__wr_u8(cfut__wr *w, uint8_t v) { put(w, &v, 1); }

void cfut__wr_u32(cfut__wr *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(w, b, 4);
}

void cfut__wr_u64(cfut__wr *w, uint64_t v)
{
    cfut__wr_u32(w, (uint32_t)v);
    cfut__wr_u32(w, (uint32_t)(v >> 32));
}

void cfut__wr_bytes(cfut__wr *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        if (w->rc == CFUT_OK)
            w->rc = CFUT_ESERIALIZE;
        return;
    }
    cfut__wr_u32(w, (uint32_t)n);
    put(w, p, n);
}

void cfut__wr_init(cfut__wr *w, cfut__buf *b)
{
    *w = (cfut__wr){b, b->len, CFUT_OK};
}

int cfut__wr_done(cfut__wr *w)
{
    if (w->rc != CFUT_OK)
        w->b->len = w->start;
    return w->rc;
}

static cfut__wr begin(cfut__buf *b, cfut__wire_kind kind)
{
    cfut__wr w = {b, b->len, CFUT_OK};
    cfut__wr_u32(&w, CFUT__WIRE_MAGIC);
    cfut__wr_u8(&w, CFUT__WIRE_VERSION);
    cfut__wr_u8(&w, (uint8_t)kind);
    cfut__wr_u8(&w, 0);
    cfut__wr_u8(&w, 0);
    cfut__wr_u32(&w, 0); /* payload length, set by end() */
    return w;
}

static int end(cfut__wr *w)
{
    if (w->rc == CFUT_OK) {
        size_t n = w->b->len - w->start - CFUT__WIRE_HEADER;
        /* Never send what the other side's reader would refuse. */
        if (n > CFUT__WIRE_MAX_DEFAULT) {
            w->rc = CFUT_ESERIALIZE;
        } else {
            unsigned char *len = w->b->data + w->start + 8;
            for (int i = 0; i < 4; i++)
                len[i] = (unsigned char)(n >> (8 * i));
        }
    }
    if (w->rc != CFUT_OK)
        w->b->len = w->start; /* never leave half a frame behind */
    return w->rc;
}

int cfut__wire_put_init(cfut__buf *b, const cfut__wire_init *m)
{
    cfut__wr w = begin(b, CFUT__W_INIT);
    cfut__wr_bytes(&w, m->name.p, m->name.len);
    cfut__wr_u32(&w, m->index);
    cfut__wr_u8(&w, m->has_init ? 1 : 0);
    cfut__wr_bytes(&w, m->init_path.p, m->init_path.len);
    cfut__wr_u64(&w, m->init_offset);
    cfut__wr_bytes(&w, m->initarg.p, m->initarg.len);
    return end(&w);
}

/* A value's bytes, or (in shared memory) its length as a u64 field. */
static void put_value(cfut__wr *w, const void *p, size_t len, bool in_shm)
{
    if (in_shm) {
        unsigned char n[8];
        for (int i = 0; i < 8; i++)
            n[i] = (unsigned char)((uint64_t)len >> (8 * i));
        cfut__wr_bytes(w, n, sizeof n);
    } else {
        cfut__wr_bytes(w, p, len);
    }
}

int cfut__wire_put_task(cfut__buf *b, uint64_t id, const cfut__fnref *fn, const void *arg,
                        size_t len, uint32_t flags)
{
    cfut__wr w = begin(b, CFUT__W_TASK);
    cfut__wr_u64(&w, id);
    cfut__wr_bytes(&w, fn->path, fn->path_len);
    cfut__wr_u64(&w, fn->offset);
    cfut__wr_u32(&w, flags & CFUT__WIRE_TASK_FLAGS);
    put_value(&w, arg, len, flags & CFUT__WIRE_IN_SHM);
    return end(&w);
}

int cfut__wire_put_outcome(cfut__buf *b, cfut__wire_kind kind, uint64_t id,
                           const cfut__outcome *o, uint32_t pid, bool in_shm)
{
    bool ok = o->status == CFUT_OK;
    cfut__wr w = begin(b, kind);
    cfut__wr_u64(&w, id);
    cfut__wr_u32(&w, (uint32_t)o->status);
    cfut__wr_u32(&w, (uint32_t)o->code);
    cfut__wr_u32(&w, pid);
    cfut__wr_u32(&w, ok && in_shm ? CFUT__WIRE_IN_SHM : 0);
    const char *msg = o->message ? o->message : "";
    cfut__wr_bytes(&w, msg, ok ? 0 : strlen(msg));
    put_value(&w, cfut__value_data(&o->result), ok ? o->result.len : 0, ok && in_shm);
    return end(&w);
}

int cfut__wire_put_exit(cfut__buf *b, cfut__wire_kind kind, uint32_t pid, int32_t status)
{
    cfut__wr w = begin(b, kind);
    cfut__wr_u32(&w, pid);
    cfut__wr_u32(&w, (uint32_t)status);
    return end(&w);
}

int cfut__wire_put_empty(cfut__buf *b, cfut__wire_kind kind)
{
    cfut__wr w = begin(b, kind);
    return end(&w);
}

/* ---- reading ------------------------------------------------------------- */


static const unsigned char *take(cfut__rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

uint8_t cfut__rd_u8(cfut__rd *r)
{
    const unsigned char *p = take(r, 1);
    return p ? p[0] : 0;
}

uint32_t cfut__rd_u32(cfut__rd *r)
{
    const unsigned char *p = take(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t cfut__rd_u64(cfut__rd *r)
{
    uint64_t lo = cfut__rd_u32(r);
    return lo | (uint64_t)cfut__rd_u32(r) << 32;
}

cfut__bytes cfut__rd_bytes(cfut__rd *r)
{
    uint32_t n = cfut__rd_u32(r);
    const unsigned char *p = take(r, n);
    return (cfut__bytes){p, p ? n : 0};
}

/* The bytes field of a value: its bytes, or in shared memory its length. */
static void get_value(cfut__rd *r, uint32_t flags, cfut__bytes *bytes, uint64_t *shm_len)
{
    *bytes = cfut__rd_bytes(r);
    *shm_len = 0;
    if (!(flags & CFUT__WIRE_IN_SHM) || r->bad)
        return;
    if (bytes->len != 8) {
        r->bad = true;
        return;
    }
    for (int i = 0; i < 8; i++)
        *shm_len |= (uint64_t)bytes->p[i] << (8 * i);
    *bytes = (cfut__bytes){NULL, 0};
}

int cfut__rd_done(const cfut__rd *r)
{
    return r->bad || r->p != r->end ? CFUT_ESERIALIZE : CFUT_OK;
}

int cfut__wire_header(const unsigned char *hdr, size_t max, cfut__wire_kind *kind,
                      size_t *payload_len)
{
    cfut__rd r = {hdr, hdr + CFUT__WIRE_HEADER, false};
    uint32_t magic = cfut__rd_u32(&r);
    uint8_t version = cfut__rd_u8(&r);
    uint8_t k = cfut__rd_u8(&r);
    uint8_t r0 = cfut__rd_u8(&r), r1 = cfut__rd_u8(&r);
    uint32_t len = cfut__rd_u32(&r);
    if (magic != CFUT__WIRE_MAGIC || version != CFUT__WIRE_VERSION || k == 0 ||
        k >= CFUT__W_KIND_END || r0 || r1 || len > max)
        return CFUT_ESERIALIZE;
    *kind = (cfut__wire_kind)k;
    *payload_len = len;
    return CFUT_OK;
}

int cfut__wire_get_init(const unsigned char *p, size_t n, cfut__wire_init *m)
{
    cfut__rd r = {p, p + n, false};
    m->name = cfut__rd_bytes(&r);
    m->index = cfut__rd_u32(&r);
    m->has_init = cfut__rd_u8(&r);
    m->init_path = cfut__rd_bytes(&r);
    m->init_offset = cfut__rd_u64(&r);
    m->initarg = cfut__rd_bytes(&r);
    if (m->has_init > 1)
        return CFUT_ESERIALIZE;
    return cfut__rd_done(&r);
}

int cfut__wire_get_task(const unsigned char *p, size_t n, cfut__wire_task *m)
{
    cfut__rd r = {p, p + n, false};
    m->id = cfut__rd_u64(&r);
    m->fn_path = cfut__rd_bytes(&r);
    m->fn_offset = cfut__rd_u64(&r);
    m->flags = cfut__rd_u32(&r);
    if (m->flags & ~(uint32_t)CFUT__WIRE_TASK_FLAGS)
        return CFUT_ESERIALIZE;
    get_value(&r, m->flags, &m->arg, &m->shm_len);
    return cfut__rd_done(&r);
}

int cfut__wire_get_outcome(const unsigned char *p, size_t n, cfut__wire_outcome *m)
{
    cfut__rd r = {p, p + n, false};
    m->id = cfut__rd_u64(&r);
    m->status = (int32_t)cfut__rd_u32(&r);
    m->code = (int32_t)cfut__rd_u32(&r);
    m->pid = cfut__rd_u32(&r);
    m->flags = cfut__rd_u32(&r);
    m->message = cfut__rd_bytes(&r);
    if (m->flags & ~(uint32_t)CFUT__WIRE_FLAGS)
        return CFUT_ESERIALIZE;
    get_value(&r, m->flags, &m->result, &m->shm_len);
    if (m->status < 0 || m->status >= CFUT_STATUS_COUNT_ ||
        (m->status != CFUT_OK && (m->result.len || m->flags)))
        return CFUT_ESERIALIZE;
    return cfut__rd_done(&r);
}

int cfut__wire_get_exit(const unsigned char *p, size_t n, cfut__wire_exit *m)
{
    cfut__rd r = {p, p + n, false};
    m->pid = cfut__rd_u32(&r);
    m->wait_status = (int32_t)cfut__rd_u32(&r);
    return cfut__rd_done(&r);
}

int cfut__wire_get_empty(const unsigned char *p, size_t n)
{
    (void)p;
    return n == 0 ? CFUT_OK : CFUT_ESERIALIZE;
}

int cfut__wire_outcome_to(const cfut__wire_outcome *m, const unsigned char *shm_result,
                          size_t shm_cap, cfut__outcome *o)
{
    cfut__outcome_clear(o);
    o->status = m->status;
    o->code = m->code;
    if (m->status == CFUT_OK && (m->flags & CFUT__WIRE_IN_SHM)) {
        if (!shm_result || m->shm_len > shm_cap)
            return CFUT_ESERIALIZE;
        return cfut__value_set(&o->result, shm_result, (size_t)m->shm_len);
    }
    if (m->status == CFUT_OK)
        return cfut__value_set(&o->result, m->result.p, m->result.len);
    o->message = cfut__malloc(m->message.len + 1);
    if (!o->message)
        return CFUT_ENOMEM;
    if (m->message.len)
        memcpy(o->message, m->message.p, m->message.len);
    o->message[m->message.len] = '\0';
    return CFUT_OK;
}

/* ---- blocking channel I/O ------------------------------------------------ */

int cfut__wire_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        /* send(MSG_NOSIGNAL): a dead peer must never SIGPIPE the program. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CFUT_ESYS;
        }
        p += n;
        len -= (size_t)n;
    }
    return CFUT_OK;
}

static int read_exact(int fd, unsigned char *p, size_t len)
{
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n == 0) {
            errno = 0;
            return CFUT_ESYS;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CFUT_ESYS;
        }
        p += n;
        len -= (size_t)n;
    }
    return CFUT_OK;
}

int cfut__wire_read_frame(int fd, cfut__buf *b, size_t max, cfut__wire_kind *kind,
                          const unsigned char **payload, size_t *len)
{
    unsigned char hdr[CFUT__WIRE_HEADER];
    int rc = read_exact(fd, hdr, sizeof hdr);
    if (rc != CFUT_OK)
        return rc;
    if ((rc = cfut__wire_header(hdr, max, kind, len)) != CFUT_OK)
        return rc;
    /* Grow with the bytes that actually arrive, not with what the header
     * claims: a lying length costs at most one step of memory. */
    b->len = 0;
    if ((rc = cfut__buf_reserve(b, 1)) != CFUT_OK) /* data is never NULL */
        return rc;
    while (b->len < *len) {
        size_t step = *len - b->len;
        if (step > ((size_t)1 << 20))
            step = (size_t)1 << 20;
        if ((rc = cfut__buf_reserve(b, step)) != CFUT_OK)
            return rc;
        if ((rc = read_exact(fd, b->data + b->len, step)) != CFUT_OK)
            return rc;
        b->len += step;
    }
    *payload = b->data;
    return CFUT_OK;
}
