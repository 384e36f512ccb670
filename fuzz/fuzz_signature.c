/* fuzz/fuzz_signature.c: the signature parser and what consumes a parsed
 * signature (lib/call.c, docs/signatures.md).
 *
 * Input: the signature is the bytes before the first NUL (all of them when
 * there is none); the bytes after that NUL are a stream of values (missing
 * bytes read as 0).
 *
 *  1. The whole input, NULs included, through cfut__sig_parse() under each
 *     of the four rule sets (a worker parses whatever bytes a call payload
 *     holds), and the part before the NUL as a C string (a NUL-terminated
 *     copy, as executor_call() gets it). Oracle: a reference parser written
 *     here from docs/signatures.md section 1 and 7 gives the same verdict,
 *     the same codes, and for a refusal the position the message names; the
 *     message quotes the signature's first 40 bytes; an exact-size error
 *     buffer of 0-63 bytes is never overrun and gets a prefix of the message.
 *  2. When the signature parses: cfut__sig_ret_size()/cfut__sig_arg_size()
 *     against the C types, then a call payload is made as executor_call()
 *     makes it on a thread pool (cfut__call_put_header, cfut__call_put_arg
 *     with values from the stream) and run by cfut__call_task(), the task a
 *     worker runs, against a libffi closure built here from our own reading
 *     of the signature: every argument must arrive as it was encoded (bit
 *     for bit; strings and 'y' buffers with their bytes, an empty 'y' as a
 *     non-NULL pointer, 'o' buffers zeroed and of the asked size), and the
 *     result must be the closure's return value then each 'o' buffer.
 *  3. Damaged payloads: a strict prefix of that payload (cut chosen from the
 *     stream) and the payload plus one byte fail with CFUT_ESERIALIZE and
 *     never call the function; the same payload in a worker process
 *     (cfut__worker_process) is refused (a call by address); the stream's raw
 *     bytes as the argument fields either fail with CFUT_ESERIALIZE or make
 *     the call with every string and buffer inside the payload (signatures
 *     without 'o': a raw 'o' size may ask for 4 GiB, which libFuzzer's malloc
 *     limit would report).
 *  4. Under the map rules: a chunk of 0-3 items through
 *     cfut__call_chunk_task(), each item's arguments checked by the closure
 *     and its return value at its place in the packed result.
 *  5. Under the process rules: the payload with the function as object +
 *     offset (cfut__fnref), run as a worker process runs it, resolved to a
 *     function of this program. That one ignores its arguments (calling it
 *     with more than it declares is harmless in the x86-64 and AArch64
 *     calling conventions, where the caller owns the stack arguments).
 *
 * Payloads are exact-size copies so that a read past one is an ASan error.
 * Built twice by fuzz/meson.build: with driver.c (replays the corpus under
 * meson test) and, with -Dfuzzing=true and clang, as a libFuzzer binary. */
#define _GNU_SOURCE
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_signature: %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

static const unsigned rule_sets[] = {0, CFUT__SIG_REMOTE, CFUT__SIG_MAP,
                                     CFUT__SIG_REMOTE | CFUT__SIG_MAP};

static unsigned char *exact_copy(const void *p, size_t n)
{
    unsigned char *c = malloc(n ? n : 1);
    REQUIRE(c != NULL);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ---- the reference parser ------------------------------------------------ */

typedef struct ref_sig {
    bool ok;
    size_t pos; /* of the refusal */
    char ret;
    unsigned nargs;
    char args[CFUT__MAX_ARGS];
} ref_sig;

static bool known(unsigned char c)
{
    return c != '\0' && strchr("vcChHiIlLqQzfdpsyo", c) != NULL;
}

static ref_sig ref_parse(const unsigned char *s, size_t len, unsigned rules)
{
    ref_sig r = {0};
    bool remote = rules & CFUT__SIG_REMOTE, map = rules & CFUT__SIG_MAP;
    if (len == 0)
        return r;
    unsigned char c = s[0];
    if (!known(c) || c == 'y' || c == 'o' || (c == 'p' && remote) || (c == 's' && map))
        return r;
    r.ret = (char)c;
    if (len < 2 || s[1] != ':') {
        r.pos = 1;
        return r;
    }
    for (size_t i = 2; i < len; i++) {
        c = s[i];
        if (!known(c) || c == 'v' || (c == 'p' && remote) || (c == 'o' && map) ||
            r.nargs == CFUT__MAX_ARGS) {
            r.pos = i;
            return r;
        }
        r.args[r.nargs++] = (char)c;
    }
    r.ok = true;
    return r;
}

/* The size of a code's C type; 0 for v, s, y, o. */
static size_t c_size(char code)
{
    switch (code) {
    case 'c': return sizeof(signed char);
    case 'C': return sizeof(unsigned char);
    case 'h': return sizeof(short);
    case 'H': return sizeof(unsigned short);
    case 'i': return sizeof(int);
    case 'I': return sizeof(unsigned);
    case 'l': return sizeof(long);
    case 'L': return sizeof(unsigned long);
    case 'q': return sizeof(int64_t);
    case 'Q': return sizeof(uint64_t);
    case 'z': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'p': return sizeof(void *);
    default: return 0;
    }
}

/* Parses s[0..len) under `rules` and checks it against the reference. */
static bool check_parse(const unsigned char *s, size_t len, unsigned rules, cfut__sig *out)
{
    ref_sig want = ref_parse(s, len, rules);
    char err[200] = "";
    int rc = cfut__sig_parse((const char *)s, len, rules, out, err, sizeof err);
    REQUIRE(rc == (want.ok ? CFUT_OK : CFUT_EINVAL));
    if (want.ok) {
        REQUIRE(out->ret == want.ret && out->nargs == want.nargs);
        REQUIRE(memcmp(out->args, want.args, want.nargs) == 0);
        return true;
    }
    /* bad signature "<first 40 bytes, up to a NUL>": <why> at position <pos> */
    static const char head[] = "bad signature \"";
    size_t msg_len = strlen(err);
    REQUIRE(msg_len < sizeof err - 1 && strncmp(err, head, sizeof head - 1) == 0);
    size_t quoted = strnlen((const char *)s, len > 40 ? 40 : len);
    REQUIRE(strncmp(err + sizeof head - 1, (const char *)s, quoted) == 0);
    REQUIRE(strncmp(err + sizeof head - 1 + quoted, "\": ", 3) == 0);
    char tail[48];
    snprintf(tail, sizeof tail, " at position %zu", want.pos);
    REQUIRE(msg_len >= strlen(tail) && strcmp(err + msg_len - strlen(tail), tail) == 0);

    /* A short buffer of exactly errlen bytes gets a prefix; 0 is not touched. */
    size_t errlen = (len + rules) % 64;
    char *small = malloc(errlen ? errlen : 1);
    REQUIRE(small != NULL);
    small[0] = 'X';
    cfut__sig tmp;
    REQUIRE(cfut__sig_parse((const char *)s, len, rules, &tmp, small, errlen) == CFUT_EINVAL);
    if (errlen == 0)
        REQUIRE(small[0] == 'X');
    else
        REQUIRE(strlen(small) < errlen && strncmp(small, err, strlen(small)) == 0 &&
                strlen(small) == (msg_len < errlen - 1 ? msg_len : errlen - 1));
    free(small);
    return false;
}

/* ---- values from the stream ---------------------------------------------- */

typedef struct stream {
    const unsigned char *p;
    size_t n;
} stream;

static uint64_t take(stream *st, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t byte = 0;
        if (st->n) {
            byte = *st->p++;
            st->n--;
        }
        v |= byte << (8 * i);
    }
    return v;
}

enum { MAX_STR = 24, MAX_ITEMS = 3, TOO_BIG_OUT = 0xff };

/* One argument as the caller gives it to cfut__call_put_arg. */
typedef struct value {
    union {
        unsigned char raw[8]; /* a scalar's C value */
        const char *s;
        cfut_buffer y;
        size_t o;
    } u;
    char str[MAX_STR + 1];
} value;

/* One call: its arguments and what the function returns. */
typedef struct item {
    value v[CFUT__MAX_ARGS];
    unsigned char ret[8];
    const char *ret_s;
    char ret_str[MAX_STR + 1];
} item;

/* A string of 0-24 bytes (cut at a NUL), or NULL for a length byte 0xff. */
static const char *take_string(stream *st, char *buf)
{
    unsigned b = (unsigned)take(st, 1);
    if (b == 0xff)
        return NULL;
    size_t n = b % (MAX_STR + 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)take(st, 1);
    buf[n] = '\0';
    return buf;
}

/* Fills an item; false if one of its 'o' sizes is too large (refused). */
static bool take_item(stream *st, const cfut__sig *sig, item *it)
{
    bool fits = true;
    memset(it, 0, sizeof *it);
    for (unsigned k = 0; k < sig->nargs; k++) {
        value *v = &it->v[k];
        switch (sig->args[k]) {
        case 's':
            v->u.s = take_string(st, v->str);
            break;
        case 'y': {
            size_t n = (size_t)take(st, 1) % 64;
            size_t have = st->n < n ? st->n : n;
            /* Data NULL with length 0 is allowed; it arrives non-NULL. */
            v->u.y = (cfut_buffer){n ? st->p : NULL, have};
            st->p += have;
            st->n -= have;
            break;
        }
        case 'o': {
            unsigned b = (unsigned)take(st, 1);
            v->u.o = b == TOO_BIG_OUT ? ((size_t)1 << 32) + 1 : (size_t)b * 4;
            fits = fits && b != TOO_BIG_OUT;
            break;
        }
        default: {
            uint64_t bits = take(st, 8);
            memcpy(v->u.raw, &bits, sizeof bits);
            break;
        }
        }
    }
    uint64_t bits = take(st, 8);
    memcpy(it->ret, &bits, sizeof bits);
    if (sig->ret == 's')
        it->ret_s = take_string(st, it->ret_str);
    return fits;
}

/* The result bytes the function's return value gives. */
static size_t ret_bytes(const cfut__sig *sig, const item *it, const unsigned char **p)
{
    if (sig->ret == 's') {
        *p = (const unsigned char *)it->ret_s;
        return it->ret_s ? strlen(it->ret_s) + 1 : 0;
    }
    *p = it->ret;
    return c_size(sig->ret);
}

static unsigned char out_pattern(unsigned k, size_t i)
{
    return (unsigned char)(k * 31 + i * 7 + 1);
}

/* ---- the function called: a libffi closure -------------------------------- */

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
    default: return &ffi_type_pointer; /* p s y o */
    }
}

/* What the closure checks its arguments against. */
static struct {
    const cfut__sig *sig;
    const item *items; /* NULL: raw arguments, only bounds are checked */
    unsigned nitems, called;
} expect;

static void write_ret(char code, const item *it, void *ret)
{
    /* libffi: integer returns narrower than ffi_arg are widened in it. */
    switch (code) {
    case 'v': break;
    case 'c': { signed char x; memcpy(&x, it->ret, 1); *(ffi_sarg *)ret = x; break; }
    case 'C': { unsigned char x; memcpy(&x, it->ret, 1); *(ffi_arg *)ret = x; break; }
    case 'h': { short x; memcpy(&x, it->ret, sizeof x); *(ffi_sarg *)ret = x; break; }
    case 'H': { unsigned short x; memcpy(&x, it->ret, sizeof x); *(ffi_arg *)ret = x; break; }
    case 'i': { int x; memcpy(&x, it->ret, sizeof x); *(ffi_sarg *)ret = x; break; }
    case 'I': { unsigned x; memcpy(&x, it->ret, sizeof x); *(ffi_arg *)ret = x; break; }
    case 's': memcpy(ret, &it->ret_s, sizeof it->ret_s); break;
    default: memcpy(ret, it->ret, c_size(code)); break;
    }
}

static volatile unsigned char touched;

static void closure_fn(ffi_cif *cif, void *ret, void **args, void *user)
{
    (void)cif;
    (void)user;
    const cfut__sig *sig = expect.sig;
    REQUIRE(expect.called < expect.nitems);
    const item *it = expect.items ? &expect.items[expect.called] : NULL;
    expect.called++;
    unsigned j = 0;
    for (unsigned k = 0; k < sig->nargs; k++) {
        char c = sig->args[k];
        const value *v = it ? &it->v[k] : NULL;
        switch (c) {
        case 's': {
            const char *s = *(const char **)args[j++];
            if (v)
                REQUIRE(v->u.s ? s && strcmp(s, v->u.s) == 0 : s == NULL);
            else if (s)
                (void)strlen(s); /* inside the payload: ASan checks */
            break;
        }
        case 'y': {
            const unsigned char *p = *(const unsigned char **)args[j++];
            size_t n = *(size_t *)args[j++];
            REQUIRE(p != NULL);
            if (v)
                REQUIRE(n == v->u.y.len && (n == 0 || memcmp(p, v->u.y.data, n) == 0));
            for (size_t i = 0; i < n; i++)
                touched += p[i]; /* inside the payload: ASan checks */
            break;
        }
        case 'o': {
            unsigned char *p = *(unsigned char **)args[j++];
            size_t n = *(size_t *)args[j++];
            REQUIRE(p != NULL && v && n == v->u.o);
            for (size_t i = 0; i < n; i++) {
                REQUIRE(p[i] == 0);
                p[i] = out_pattern(k, i);
            }
            break;
        }
        default:
            if (v)
                REQUIRE(memcmp(args[j], v->u.raw, c_size(c)) == 0);
            j++;
            break;
        }
    }
    static const item zero;
    write_ret(sig->ret, it ? it : &zero, ret);
}

static ffi_closure *closure;
static void *closure_code;

/* Points the closure at a cif for `sig`, prepared from our own reading. */
static cfut_fn make_closure(const cfut__sig *sig, ffi_cif *cif, ffi_type **types)
{
    if (!closure) {
        closure = ffi_closure_alloc(sizeof(ffi_closure), &closure_code);
        REQUIRE(closure != NULL);
    }
    unsigned n = 0;
    for (unsigned k = 0; k < sig->nargs; k++) {
        types[n++] = ffi_of(sig->args[k]);
        if (sig->args[k] == 'y' || sig->args[k] == 'o')
            types[n++] = ffi_of('z');
    }
    REQUIRE(ffi_prep_cif(cif, FFI_DEFAULT_ABI, n, ffi_of(sig->ret), types) == FFI_OK);
    REQUIRE(ffi_prep_closure_loc(closure, cif, closure_fn, NULL, closure_code) == FFI_OK);
    return (cfut_fn)(uintptr_t)closure_code;
}

/* The function a process-pool payload names: code in this program. */
static unsigned sink_calls;
static const char *sink(void)
{
    sink_calls++;
    return "sink";
}

/* ---- payloads ------------------------------------------------------------ */

static const cfut__backend thread_backend = {.name = "fuzz-threads", .remote = false};
static const cfut__backend process_backend = {.name = "fuzz-processes", .remote = true};
static executor_t thread_ex = {.backend = &thread_backend};
static executor_t process_ex = {.backend = &process_backend};

static void put_item(cfut__wr *w, const cfut__sig *sig, const item *it)
{
    for (unsigned k = 0; k < sig->nargs; k++)
        REQUIRE(cfut__call_put_arg(w, sig->args[k], &it->v[k].u) == CFUT_OK);
}

/* Runs `fn` (cfut__call_task or cfut__call_chunk_task) on an exact copy of
 * p[0..n) in a task record of our own; the caller clears t->out. */
static void run(cfut_task_fn fn, const unsigned char *p, size_t n, cfut_task *t, bool worker)
{
    unsigned char *arg = exact_copy(p, n);
    *t = (cfut_task){.arg = arg, .arg_len = n};
    expect.called = 0;
    cfut__worker_process = worker;
    cfut__task_invoke(t, fn);
    cfut__worker_process = false;
    free(arg);
}

static void require_refused(const cfut_task *t, int code)
{
    REQUIRE(t->failed && t->out.status == CFUT_ETASK && t->out.code == code);
    REQUIRE(t->out.message != NULL && t->out.result.len == 0);
    REQUIRE(expect.called == 0);
}

/* The result: the return value's bytes (their value checked when check_ret),
 * then every 'o' buffer (filled by the closure, or left zeroed). */
static void require_result(const cfut_task *t, const cfut__sig *sig, const item *it,
                           bool check_ret, bool filled)
{
    REQUIRE(!t->failed && t->out.status == CFUT_OK && t->out.message == NULL);
    const unsigned char *r = cfut__value_data(&t->out.result), *want;
    size_t at = ret_bytes(sig, it, &want);
    REQUIRE(t->out.result.len >= at);
    if (check_ret)
        REQUIRE(at == 0 || memcmp(r, want, at) == 0);
    for (unsigned k = 0; k < sig->nargs; k++) {
        if (sig->args[k] != 'o')
            continue;
        size_t n = it->v[k].u.o;
        REQUIRE(t->out.result.len - at >= n);
        for (size_t i = 0; i < n; i++)
            REQUIRE(r[at + i] == (filled ? out_pattern(k, i) : 0));
        at += n;
    }
    REQUIRE(t->out.result.len == at);
}

/* 2 and 3: one call on a thread pool, and its damaged payloads. */
static void check_call(const cfut__sig *sig, const char *s, size_t len, cfut_fn fn, stream *st)
{
    static item it;
    bool fits = take_item(st, sig, &it);
    cfut__buf b = {0};
    cfut__wr w;
    cfut__wr_init(&w, &b);
    REQUIRE(cfut__call_put_header(&w, &thread_ex, fn, s, len) == CFUT_OK);
    put_item(&w, sig, &it);
    REQUIRE(cfut__wr_done(&w) == CFUT_OK);

    cfut_task t;
    expect.items = &it;
    expect.nitems = 1;
    run(cfut__call_task, b.data, b.len, &t, false);
    if (fits) {
        REQUIRE(expect.called == 1);
        require_result(&t, sig, &it, true, true);
    } else {
        require_refused(&t, CFUT_EINVAL); /* an 'o' over 4 GiB */
    }
    cfut__outcome_clear(&t.out);

    /* In a worker process a call by address is refused. */
    run(cfut__call_task, b.data, b.len, &t, true);
    require_refused(&t, CFUT_ESERIALIZE);
    cfut__outcome_clear(&t.out);

    if (fits) {
        size_t cut = (size_t)take(st, 2) % b.len;
        run(cfut__call_task, b.data, cut, &t, false);
        require_refused(&t, CFUT_ESERIALIZE);
        cfut__outcome_clear(&t.out);
        REQUIRE(cfut__buf_reserve(&b, 1) == CFUT_OK);
        b.data[b.len] = (unsigned char)take(st, 1);
        run(cfut__call_task, b.data, b.len + 1, &t, false);
        require_refused(&t, CFUT_ESERIALIZE);
        cfut__outcome_clear(&t.out);
    }

    /* The rest of the stream as raw argument fields. */
    if (!memchr(s, 'o', len)) {
        b.len = 0;
        cfut__wr_init(&w, &b);
        REQUIRE(cfut__call_put_header(&w, &thread_ex, fn, s, len) == CFUT_OK);
        REQUIRE(cfut__wr_done(&w) == CFUT_OK && cfut__buf_reserve(&b, st->n) == CFUT_OK);
        if (st->n)
            memcpy(b.data + b.len, st->p, st->n);
        expect.items = NULL;
        run(cfut__call_task, b.data, b.len + st->n, &t, false);
        if (t.failed)
            require_refused(&t, CFUT_ESERIALIZE);
        else
            REQUIRE(expect.called == 1 && t.out.status == CFUT_OK);
        cfut__outcome_clear(&t.out);
    }
    cfut__buf_free(&b);
}

/* 4: a chunk of map_call items. */
static void check_chunk(const cfut__sig *sig, const char *s, size_t len, cfut_fn fn, stream *st)
{
    static item items[MAX_ITEMS];
    unsigned count = (unsigned)take(st, 1) % (MAX_ITEMS + 1);
    for (unsigned i = 0; i < count; i++)
        REQUIRE(take_item(st, sig, &items[i])); /* no 'o' under the map rules */
    cfut__buf b = {0};
    cfut__wr w;
    cfut__wr_init(&w, &b);
    REQUIRE(cfut__call_put_header(&w, &thread_ex, fn, s, len) == CFUT_OK);
    cfut__wr_u32(&w, count);
    for (unsigned i = 0; i < count; i++)
        put_item(&w, sig, &items[i]);
    REQUIRE(cfut__wr_done(&w) == CFUT_OK);

    cfut_task t;
    expect.items = items;
    expect.nitems = count;
    run(cfut__call_chunk_task, b.data, b.len, &t, false);
    REQUIRE(!t.failed && t.out.status == CFUT_OK && expect.called == count);
    size_t rsize = c_size(sig->ret);
    REQUIRE(cfut__sig_ret_size(sig->ret) == rsize && t.out.result.len == count * rsize);
    for (unsigned i = 0; i < count; i++)
        REQUIRE(rsize == 0 ||
                memcmp(cfut__value_data(&t.out.result) + i * rsize, items[i].ret, rsize) == 0);
    cfut__outcome_clear(&t.out);

    /* A trailing byte fails the chunk after its items ran. */
    REQUIRE(cfut__buf_reserve(&b, 1) == CFUT_OK);
    b.data[b.len] = 0;
    run(cfut__call_chunk_task, b.data, b.len + 1, &t, false);
    REQUIRE(t.failed && t.out.code == CFUT_ESERIALIZE && expect.called == count);
    cfut__outcome_clear(&t.out);
    cfut__buf_free(&b);
}

/* 5: across processes, the function travels as object + offset. */
static void check_remote(const cfut__sig *sig, const char *s, size_t len, stream *st)
{
    static item it;
    if (!take_item(st, sig, &it))
        return;
    cfut__buf b = {0};
    cfut__wr w;
    cfut__wr_init(&w, &b);
    REQUIRE(cfut__call_put_header(&w, &process_ex, (cfut_fn)sink, s, len) == CFUT_OK);
    put_item(&w, sig, &it);
    REQUIRE(cfut__wr_done(&w) == CFUT_OK);
    cfut_task t;
    unsigned before = sink_calls;
    if (sig->ret == 's')
        it.ret_s = "sink";
    run(cfut__call_task, b.data, b.len, &t, true);
    REQUIRE(sink_calls == before + 1);
    require_result(&t, sig, &it, sig->ret == 's', false);
    cfut__outcome_clear(&t.out);
    cfut__buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1: the raw bytes, then the C string. */
    unsigned char *raw = exact_copy(data, size);
    cfut__sig sig;
    for (size_t r = 0; r < sizeof rule_sets / sizeof rule_sets[0]; r++)
        check_parse(raw, size, rule_sets[r], &sig);
    free(raw);

    const unsigned char *nul = memchr(data, '\0', size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *s = malloc(len + 1);
    REQUIRE(s != NULL);
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    bool ok[4];
    for (size_t r = 4; r-- > 0;) /* the last, with no rules, is the one used */
        ok[r] = check_parse((const unsigned char *)s, strlen(s), rule_sets[r], &sig);
    if (!ok[0]) {
        free(s);
        return 0;
    }

    /* 2-5. */
    REQUIRE(cfut__sig_ret_size(sig.ret) == c_size(sig.ret));
    for (unsigned k = 0; k < sig.nargs; k++) {
        char c = sig.args[k];
        size_t want = c == 's' ? sizeof(const char *) : c == 'y' ? sizeof(cfut_buffer)
                    : c == 'o' ? sizeof(size_t) : c_size(c);
        REQUIRE(cfut__sig_arg_size(c) == want && want != 0);
    }
    stream st = {nul ? nul + 1 : data + size, nul ? size - len - 1 : 0};
    ffi_cif cif;
    ffi_type *types[2 * CFUT__MAX_ARGS];
    cfut_fn fn = make_closure(&sig, &cif, types);
    expect.sig = &sig;
    check_call(&sig, s, len, fn, &st);
    if (ok[2])
        check_chunk(&sig, s, len, fn, &st);
    if (ok[1])
        check_remote(&sig, s, len, &st);
    free(s);
    return 0;
}
