/* lib/call.c: calling plain C functions through libffi (include/cfut/call.h).
 *
 * A call is an ordinary task: its function is cfut__call_task, and its
 * argument is a payload that says which function to call (an address on a
 * thread pool; object + offset across processes), the signature, and the
 * values. Values are little-endian 64-bit slots (integers sign- or
 * zero-extended, floats as their bit patterns), strings and buffers as byte
 * fields. The side that runs the call parses the signature again and
 * prepares its own ffi_cif: a cif holds pointers into its own address space.
 *
 * Payload: u8 version (1) | u8 mode (0 address, 1 object+offset) |
 *          mode 0: u64 address | mode 1: bytes path, u64 offset |
 *          bytes signature | one field per argument code.
 * docs/wire.md and docs/signatures.md describe it for users. */
#define _GNU_SOURCE
#include <ffi.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "fnref.h"
#include "process.h"

enum { CALL_VERSION = 1, MODE_ADDRESS = 0, MODE_FNREF = 1 };

/* ---- signatures ---------------------------------------------------------- */

typedef struct code_info {
    char code;
    size_t size;  /* of the C type; 0 for v, s, y, o */
    bool is_signed;
    bool is_float;
} code_info;

static const code_info codes[] = {
    {'v', 0, false, false},
    {'c', sizeof(signed char), true, false},   {'C', sizeof(unsigned char), false, false},
    {'h', sizeof(short), true, false},         {'H', sizeof(unsigned short), false, false},
    {'i', sizeof(int), true, false},           {'I', sizeof(unsigned), false, false},
    {'l', sizeof(long), true, false},          {'L', sizeof(unsigned long), false, false},
    {'q', sizeof(int64_t), true, false},       {'Q', sizeof(uint64_t), false, false},
    {'z', sizeof(size_t), false, false},
    {'f', sizeof(float), false, true},         {'d', sizeof(double), false, true},
    {'p', sizeof(void *), false, false},
    {'s', 0, false, false}, {'y', 0, false, false}, {'o', 0, false, false},
};

static const code_info *info(char c)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == c)
            return &codes[i];
    return NULL;
}

static void describe(char *buf, size_t n, char c)
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", (unsigned char)c);
}

int cfut__sig_parse(const char *sig, size_t len, unsigned rules, cfut__sig *out, char *err,
                    size_t errlen)
{
    char what[16];
#define BAD(pos, ...)                                                          \
    do {                                                                       \
        char why_[96];                                                         \
        snprintf(why_, sizeof why_, __VA_ARGS__);                              \
        snprintf(err, errlen, "bad signature \"%.*s\": %s at position %zu",    \
                 (int)(len > 40 ? 40 : len), sig, why_, (size_t)(pos));        \
        return CFUT_EINVAL;                                                    \
    } while (0)
    memset(out, 0, sizeof *out);
    if (len == 0)
        BAD(0, "empty (want a return code, ':', then argument codes)");
    const code_info *r = info(sig[0]);
    describe(what, sizeof what, sig[0]);
    if (!r)
        BAD(0, "unknown return type code %s", what);
    if (sig[0] == 'y' || sig[0] == 'o')
        BAD(0, "%s cannot be a return type", what);
    if (sig[0] == 'p' && (rules & CFUT__SIG_REMOTE))
        BAD(0, "'p' (a pointer) cannot come back from another process");
    if (sig[0] == 's' && (rules & CFUT__SIG_MAP))
        BAD(0, "'s' cannot be returned into a packed array");
    out->ret = sig[0];
    if (len < 2 || sig[1] != ':') {
        describe(what, sizeof what, len < 2 ? '\0' : sig[1]);
        BAD(1, "expected ':' after the return type, found %s", len < 2 ? "the end" : what);
    }
    for (size_t i = 2; i < len; i++) {
        char c = sig[i];
        describe(what, sizeof what, c);
        if (!info(c))
            BAD(i, "unknown argument type code %s", what);
        if (c == 'v')
            BAD(i, "'v' (void) cannot be an argument");
        if (c == 'p' && (rules & CFUT__SIG_REMOTE))
            BAD(i, "'p' (a pointer) cannot cross to a worker process");
        if (c == 'o' && (rules & CFUT__SIG_MAP))
            BAD(i, "'o' (an output buffer) cannot be mapped");
        if (out->nargs == CFUT__MAX_ARGS)
            BAD(i, "more than %d arguments", CFUT__MAX_ARGS);
        out->args[out->nargs++] = c;
    }
    return CFUT_OK;
#undef BAD
}

size_t cfut__sig_ret_size(char code)
{
    const code_info *ci = info(code);
    return ci ? ci->size : 0;
}

size_t cfut__sig_arg_size(char code)
{
    switch (code) {
    case 's':
        return sizeof(const char *);
    case 'y':
        return sizeof(cfut_buffer);
    case 'o':
        return sizeof(size_t);
    default:
        return cfut__sig_ret_size(code);
    }
}

/* ---- encoding ------------------------------------------------------------ */

int cfut__call_put_header(cfut__wr *w, executor_t *ex, cfut_fn fn, const char *sig,
                          size_t sig_len)
{
    int rc = cfut__call_put_fn(w, ex, fn);
    cfut__wr_bytes(w, sig, sig_len);
    return rc;
}

int cfut__call_put_fn(cfut__wr *w, executor_t *ex, cfut_fn fn)
{
    cfut__wr_u8(w, CALL_VERSION);
    if (ex->backend->remote) {
        cfut__fnref fr;
        if (cfut__fnref_of(fn, &fr) != CFUT_OK)
            return CFUT_EINVAL;
        cfut__wr_u8(w, MODE_FNREF);
        cfut__wr_bytes(w, fr.path, fr.path_len);
        cfut__wr_u64(w, fr.offset);
    } else {
        cfut__wr_u8(w, MODE_ADDRESS);
        cfut__wr_u64(w, (uint64_t)(uintptr_t)fn);
    }
    return CFUT_OK;
}

int cfut__call_put_arg(cfut__wr *w, char code, const void *v)
{
    uint64_t slot = 0;
    switch (code) {
#define SLOT(c, type) case c: { type x; memcpy(&x, v, sizeof x); slot = (uint64_t)x; break; }
    SLOT('c', signed char)
    SLOT('C', unsigned char)
    SLOT('h', short)
    SLOT('H', unsigned short)
    SLOT('i', int)
    SLOT('I', unsigned)
    SLOT('l', long)
    SLOT('L', unsigned long)
    SLOT('q', int64_t)
    SLOT('Q', uint64_t)
    SLOT('z', size_t)
    SLOT('o', size_t)
#undef SLOT
    case 'p': {
        void *x;
        memcpy(&x, v, sizeof x);
        slot = (uint64_t)(uintptr_t)x;
        break;
    }
    case 'f': {
        float x;
        uint32_t bits;
        memcpy(&x, v, sizeof x);
        memcpy(&bits, &x, sizeof bits);
        slot = bits;
        break;
    }
    case 'd':
        memcpy(&slot, v, sizeof slot);
        break;
    case 's': {
        const char *s;
        memcpy(&s, v, sizeof s);
        /* NULL travels as an empty field; "" as its lone NUL. */
        cfut__wr_bytes(w, s, s ? strlen(s) + 1 : 0);
        return CFUT_OK;
    }
    case 'y': {
        cfut_buffer b;
        memcpy(&b, v, sizeof b);
        if (!b.data && b.len)
            return CFUT_EINVAL;
        cfut__wr_bytes(w, b.data, b.len);
        return CFUT_OK;
    }
    default:
        return CFUT_EINVAL;
    }
    cfut__wr_u64(w, slot);
    return CFUT_OK;
}

/* ---- running ------------------------------------------------------------- */

/* One C-level argument's storage. */
typedef union cval {
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
    void *p;
    const void *cp;
} cval;

static ffi_type *ffi_of(char code)
{
    switch (code) {
    case 'v': return &ffi_type_void;
    case 'c': return &ffi_type_schar;
    case 'C': return &ffi_type_uchar;
    case 'h': return &ffi_type_sshort;
    case 'H': return &ffi_type_ushort;
    case 'i': return &ffi_type_sint;
    case 'I': return &ffi_type_uint;
    case 'l': return &ffi_type_slong;
    case 'L': return &ffi_type_ulong;
    case 'q': return &ffi_type_sint64;
    case 'Q': return &ffi_type_uint64;
    case 'z': return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    case 'f': return &ffi_type_float;
    case 'd': return &ffi_type_double;
    default:  return &ffi_type_pointer; /* p s y o (their data pointer) */
    }
}

/* A prepared call: the cif and its types, for one signature. */
typedef struct prepared {
    cfut__sig sig;
    ffi_cif cif;
    ffi_type *types[2 * CFUT__MAX_ARGS];
    unsigned nffi;
} prepared;

static int prepare(prepared *pc, cfut__bytes sig, unsigned rules, char *err, size_t errlen)
{
    int rc = cfut__sig_parse((const char *)sig.p, sig.len, rules, &pc->sig, err, errlen);
    if (rc != CFUT_OK)
        return rc;
    pc->nffi = 0;
    for (unsigned k = 0; k < pc->sig.nargs; k++) {
        char c = pc->sig.args[k];
        pc->types[pc->nffi++] = ffi_of(c);
        if (c == 'y' || c == 'o')
            pc->types[pc->nffi++] = ffi_of('z'); /* its length */
    }
    if (ffi_prep_cif(&pc->cif, FFI_DEFAULT_ABI, pc->nffi, ffi_of(pc->sig.ret), pc->types) !=
        FFI_OK) {
        snprintf(err, errlen, "libffi could not prepare the call");
        return CFUT_EINVAL;
    }
    return CFUT_OK;
}

/* Reads the function of a call header. Addresses are only trusted in the
 * process that made them: a worker process accepts object + offset only. */
int cfut__call_read_fn(cfut__rd *r, cfut_fn *fn, char *err, size_t errlen)
{
    uint8_t version = cfut__rd_u8(r), mode = cfut__rd_u8(r);
    if (r->bad || version != CALL_VERSION) {
        snprintf(err, errlen, "not a call payload of version %d", CALL_VERSION);
        return CFUT_ESERIALIZE;
    }
    if (mode == MODE_ADDRESS && !cfut__worker_process) {
        *fn = (cfut_fn)(uintptr_t)cfut__rd_u64(r);
        return r->bad ? CFUT_ESERIALIZE : CFUT_OK;
    }
    if (mode != MODE_FNREF) {
        snprintf(err, errlen, "a call by address cannot run in a worker process");
        return CFUT_ESERIALIZE;
    }
    cfut__bytes path = cfut__rd_bytes(r);
    uint64_t offset = cfut__rd_u64(r);
    if (r->bad) {
        snprintf(err, errlen, "truncated function reference");
        return CFUT_ESERIALIZE;
    }
    return cfut__fnref_resolve((const char *)path.p, path.len, offset, fn, err, errlen);
}

/* Decodes one item's arguments into vals/ptrs. Output buffers are
 * allocated (zeroed) into outs[]; the caller frees them. */
static int read_args(cfut__rd *r, const prepared *pc, cval *vals, void **ptrs,
                     unsigned char **outs, size_t *out_lens, unsigned *nouts, char *err,
                     size_t errlen)
{
    unsigned j = 0;
    *nouts = 0;
    for (unsigned k = 0; k < pc->sig.nargs; k++) {
        char c = pc->sig.args[k];
        cval *v = &vals[j];
        if (c == 's' || c == 'y') {
            cfut__bytes b = cfut__rd_bytes(r);
            if (c == 's' && b.len && b.p[b.len - 1] != '\0') {
                snprintf(err, errlen, "argument %u: string without its NUL", k);
                return CFUT_ESERIALIZE;
            }
            v->cp = c == 's' && !b.len ? NULL : (b.len ? b.p : (const void *)"");
            ptrs[j] = v;
            j++;
            if (c == 'y') {
                vals[j].z = b.len;
                ptrs[j] = &vals[j];
                j++;
            }
            continue;
        }
        uint64_t slot = cfut__rd_u64(r);
        switch (c) {
        case 'c': v->c = (signed char)slot; break;
        case 'C': v->C = (unsigned char)slot; break;
        case 'h': v->h = (short)slot; break;
        case 'H': v->H = (unsigned short)slot; break;
        case 'i': v->i = (int)slot; break;
        case 'I': v->I = (unsigned)slot; break;
        case 'l': v->l = (long)slot; break;
        case 'L': v->L = (unsigned long)slot; break;
        case 'q': v->q = (int64_t)slot; break;
        case 'Q': v->Q = slot; break;
        case 'z': v->z = (size_t)slot; break;
        case 'p': v->p = (void *)(uintptr_t)slot; break;
        case 'f': { uint32_t bits = (uint32_t)slot; memcpy(&v->f, &bits, sizeof v->f); break; }
        case 'd': memcpy(&v->d, &slot, sizeof v->d); break;
        case 'o': {
            if (slot > ((uint64_t)1 << 32)) {
                snprintf(err, errlen, "argument %u: output buffer of %llu bytes", k,
                         (unsigned long long)slot);
                return CFUT_EINVAL;
            }
            unsigned char *buf = cfut__calloc(1, slot ? (size_t)slot : 1);
            if (!buf)
                return CFUT_ENOMEM;
            outs[*nouts] = buf;
            out_lens[(*nouts)++] = (size_t)slot;
            v->p = buf;
            ptrs[j] = v;
            j++;
            vals[j].z = (size_t)slot;
            ptrs[j] = &vals[j];
            j++;
            continue;
        }
        default:
            return CFUT_ESERIALIZE;
        }
        ptrs[j] = v;
        j++;
    }
    if (r->bad) {
        snprintf(err, errlen, "the arguments do not match the signature");
        return CFUT_ESERIALIZE;
    }
    return CFUT_OK;
}

/* The return value's bytes, read back per libffi's rules: the slot is at
 * least an ffi_arg, and narrow integers come back widened in it. */
typedef union rval {
    ffi_arg a;
    ffi_sarg s;
    float f;
    double d;
    void *p;
    uint64_t q;
} rval;

static size_t ret_bytes(char code, const rval *rv, unsigned char *dst)
{
    cval v;
    switch (code) {
    case 'c': v.c = (signed char)rv->s; break;
    case 'C': v.C = (unsigned char)rv->a; break;
    case 'h': v.h = (short)rv->s; break;
    case 'H': v.H = (unsigned short)rv->a; break;
    case 'i': v.i = (int)rv->s; break;
    case 'I': v.I = (unsigned)rv->a; break;
    case 'l': v.l = (long)rv->s; break;
    case 'L': v.L = (unsigned long)rv->a; break;
    case 'q': v.q = (int64_t)rv->q; break;
    case 'Q': v.Q = rv->q; break;
    case 'z': v.z = (size_t)rv->a; break;
    case 'f': v.f = rv->f; break;
    case 'd': v.d = rv->d; break;
    case 'p': v.p = rv->p; break;
    default: return 0;
    }
    size_t n = cfut__sig_ret_size(code);
    memcpy(dst, &v, n);
    return n;
}

int cfut__call_task(cfut_task *t, const void *arg, size_t len)
{
    cfut__rd r = {arg, (const unsigned char *)arg + len, false};
    char err[200] = "";
    cfut_fn fn;
    int rc = cfut__call_read_fn(&r, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_call: %s", err);
    prepared pc;
    cfut__bytes sig = cfut__rd_bytes(&r);
    rc = r.bad ? CFUT_ESERIALIZE : prepare(&pc, sig, 0, err, sizeof err);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_call: %s", err[0] ? err : "truncated signature");
    cval vals[2 * CFUT__MAX_ARGS];
    void *ptrs[2 * CFUT__MAX_ARGS];
    unsigned char *outs[CFUT__MAX_ARGS];
    size_t out_lens[CFUT__MAX_ARGS];
    unsigned nouts = 0;
    rc = read_args(&r, &pc, vals, ptrs, outs, out_lens, &nouts, err, sizeof err);
    if (rc == CFUT_OK && cfut__rd_done(&r) != CFUT_OK) {
        rc = CFUT_ESERIALIZE;
        snprintf(err, sizeof err, "trailing bytes after the arguments");
    }
    if (rc == CFUT_OK) {
        rval rv = {0};
        ffi_call(&pc.cif, fn, &rv, ptrs);
        /* The result: the return value, then each output buffer. */
        size_t total = 0;
        unsigned char head[16];
        const char *str = pc.sig.ret == 's' ? rv.p : NULL;
        size_t hn = pc.sig.ret == 's' ? (str ? strlen(str) + 1 : 0) : ret_bytes(pc.sig.ret, &rv, head);
        total = hn;
        for (unsigned i = 0; i < nouts; i++)
            total += out_lens[i];
        unsigned char *res = cfut__malloc(total ? total : 1);
        if (!res) {
            rc = CFUT_ENOMEM;
            snprintf(err, sizeof err, "no memory for a %zu-byte result", total);
        } else {
            memcpy(res, str ? (const void *)str : head, hn);
            size_t at = hn;
            for (unsigned i = 0; i < nouts; i++) {
                memcpy(res + at, outs[i], out_lens[i]);
                at += out_lens[i];
            }
            rc = cfut_return(t, res, total);
            cfut__free(res);
        }
    }
    for (unsigned i = 0; i < nouts; i++)
        cfut__free(outs[i]);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_call: %s", err[0] ? err : cfut_strerror(rc));
    return 0;
}

/* A chunk of map_call items: the call header, a u32 count, then each
 * item's arguments. Its result: the count return values, packed. A C
 * function has no way to fail, so the items share one outcome. */
int cfut__call_chunk_task(cfut_task *t, const void *arg, size_t len)
{
    cfut__rd r = {arg, (const unsigned char *)arg + len, false};
    char err[200] = "";
    cfut_fn fn;
    int rc = cfut__call_read_fn(&r, &fn, err, sizeof err);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_map_call: %s", err);
    prepared pc;
    cfut__bytes sig = cfut__rd_bytes(&r);
    rc = r.bad ? CFUT_ESERIALIZE : prepare(&pc, sig, CFUT__SIG_MAP, err, sizeof err);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_map_call: %s", err[0] ? err : "truncated signature");
    uint32_t count = cfut__rd_u32(&r);
    size_t rsize = cfut__sig_ret_size(pc.sig.ret);
    /* Bound what a lying count could make us allocate: an item with
     * arguments takes at least 4 bytes of the payload; one without takes
     * none, so those chunks are capped outright. */
    size_t most = pc.sig.nargs ? (size_t)(r.end - r.p) / 4 : (size_t)1 << 24;
    if (r.bad || count > most)
        return cfut_fail(t, CFUT_ESERIALIZE, "executor_map_call: bad chunk header");
    size_t total = rsize * count;
    unsigned char *res = cfut__malloc(total ? total : 1);
    if (!res)
        return cfut_fail(t, CFUT_ENOMEM, "executor_map_call: no memory for the results");
    for (uint32_t i = 0; i < count; i++) {
        cval vals[2 * CFUT__MAX_ARGS];
        void *ptrs[2 * CFUT__MAX_ARGS];
        unsigned char *outs[1];
        size_t out_lens[1];
        unsigned nouts;
        rc = read_args(&r, &pc, vals, ptrs, outs, out_lens, &nouts, err, sizeof err);
        if (rc != CFUT_OK)
            break;
        rval rv = {0};
        ffi_call(&pc.cif, fn, &rv, ptrs);
        ret_bytes(pc.sig.ret, &rv, res + (size_t)i * rsize);
    }
    if (rc == CFUT_OK && cfut__rd_done(&r) != CFUT_OK) {
        rc = CFUT_ESERIALIZE;
        snprintf(err, sizeof err, "trailing bytes after the items");
    }
    if (rc == CFUT_OK)
        rc = cfut_return(t, res, total);
    cfut__free(res);
    if (rc != CFUT_OK)
        return cfut_fail(t, rc, "executor_map_call: %s", err[0] ? err : cfut_strerror(rc));
    return 0;
}

/* ---- the public calls ---------------------------------------------------- */

/* Reads variadic argument `code` into *v (its C type; y: cfut_buffer). */
static void read_vararg(va_list *ap, char code, cval *v, cfut_buffer *buf)
{
    switch (code) {
    case 'c': v->c = (signed char)va_arg(*ap, int); break;
    case 'C': v->C = (unsigned char)va_arg(*ap, int); break;
    case 'h': v->h = (short)va_arg(*ap, int); break;
    case 'H': v->H = (unsigned short)va_arg(*ap, int); break;
    case 'i': v->i = va_arg(*ap, int); break;
    case 'I': v->I = va_arg(*ap, unsigned); break;
    case 'l': v->l = va_arg(*ap, long); break;
    case 'L': v->L = va_arg(*ap, unsigned long); break;
    case 'q': v->q = va_arg(*ap, int64_t); break;
    case 'Q': v->Q = va_arg(*ap, uint64_t); break;
    case 'z': case 'o': v->z = va_arg(*ap, size_t); break;
    case 'f': v->f = (float)va_arg(*ap, double); break;
    case 'd': v->d = va_arg(*ap, double); break;
    case 's': v->cp = va_arg(*ap, const char *); break;
    case 'p': v->p = va_arg(*ap, void *); break;
    case 'y':
        buf->data = va_arg(*ap, const void *);
        buf->len = va_arg(*ap, size_t);
        break;
    default: break;
    }
}

static future_t *submit_call(executor_t *ex, cfut_fn fn, const char *sig, va_list *ap,
                             const void *const *args)
{
    const char *who = ap ? "executor_call" : "executor_callv";
    if (!ex || !fn || !sig)
        return cfut__future_failed(CFUT_EINVAL, 0, "%s: NULL %s", who,
                                   !ex ? "executor" : !fn ? "function" : "signature");
    cfut__sig s;
    char err[200];
    size_t sig_len = strlen(sig);
    unsigned rules = ex->backend->remote ? CFUT__SIG_REMOTE : 0;
    if (cfut__sig_parse(sig, sig_len, rules, &s, err, sizeof err) != CFUT_OK)
        return cfut__future_failed(CFUT_EINVAL, 0, "%s: %s", who, err);
    if (!ap && !args && s.nargs)
        return cfut__future_failed(CFUT_EINVAL, 0, "%s: NULL argument array", who);
    cfut__buf b = {0};
    cfut__wr w;
    cfut__wr_init(&w, &b);
    if (cfut__call_put_header(&w, ex, fn, sig, sig_len) != CFUT_OK) {
        cfut__buf_free(&b);
        return cfut__future_failed(CFUT_EINVAL, 0,
                                   "%s: the function is not code in any loaded object, so a "
                                   "worker process cannot find it", who);
    }
    for (unsigned k = 0; k < s.nargs; k++) {
        cval v;
        cfut_buffer yb;
        const void *p;
        if (ap) {
            read_vararg(ap, s.args[k], &v, &yb);
            p = s.args[k] == 'y' ? (const void *)&yb : (const void *)&v;
        } else {
            p = args[k];
        }
        if (!p || cfut__call_put_arg(&w, s.args[k], p) != CFUT_OK) {
            cfut__buf_free(&b);
            return cfut__future_failed(CFUT_EINVAL, 0, "%s: argument %u ('%c'): %s", who, k,
                                       s.args[k], !p ? "NULL pointer in args"
                                                     : "a buffer with NULL data and a length");
        }
    }
    int rc = cfut__wr_done(&w);
    if (rc != CFUT_OK) {
        cfut__buf_free(&b);
        return cfut__future_failed(rc, 0, "%s: the arguments could not be encoded", who);
    }
    future_t *f = executor_submit(ex, cfut__call_task, b.data, b.len);
    cfut__buf_free(&b);
    return f;
}

future_t *executor_call(executor_t *ex, cfut_fn fn, const char *sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    future_t *f = submit_call(ex, fn, sig, &ap, NULL);
    va_end(ap);
    return f;
}

future_t *executor_callv(executor_t *ex, cfut_fn fn, const char *sig, const void *const *args)
{
    return submit_call(ex, fn, sig, NULL, args);
}
