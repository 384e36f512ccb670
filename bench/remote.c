/* bench/remote.c: see remote.h. */
#include "remote.h"

#include <string.h>
#ifdef BENCH_HAVE_ZLIB
#include <zlib.h>
#endif

#include "common.h"

int chain_task(cfut_task *t, const void *arg, size_t len)
{
    struct chain_arg a;
    if (len != sizeof a)
        return cfut_fail(t, 1, "chain_task: %zu-byte argument", len);
    memcpy(&a, arg, sizeof a);
    uint32_t h = chain(a.seed, a.steps);
    return cfut_return(t, &h, sizeof h);
}

#ifdef BENCH_HAVE_ZLIB
const char adler_impl[] = "zlib " ZLIB_VERSION;
uint32_t adler32_of(const unsigned char *p, size_t n)
{
    uLong a = adler32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? 1u << 30 : (uInt)n;
        a = adler32(a, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)a;
}
#else
const char adler_impl[] = "plain C";
uint32_t adler32_of(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    while (n > 0) {
        size_t k = n < 5552 ? n : 5552; /* no overflow before the modulo */
        n -= k;
        while (k--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}
#endif

int checksum_task(cfut_task *t, const void *arg, size_t len)
{
    uint32_t c = adler32_of(arg, len);
    return cfut_return(t, &c, sizeof c);
}
