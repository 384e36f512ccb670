/* lib/alloc.c: every allocation in cfut goes through here, so a test can make
 * the Nth one fail (fault injection, issue #7) and check that each failure
 * becomes a status, never a crash or a leak. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* 0: injection off. n > 0: the allocation that brings it from 1 to 0 fails. */
static _Atomic long countdown;
static _Atomic long made;

static bool inject(void)
{
    atomic_fetch_add_explicit(&made, 1, memory_order_relaxed);
    if (atomic_load_explicit(&countdown, memory_order_relaxed) == 0)
        return false;
    return atomic_fetch_sub_explicit(&countdown, 1, memory_order_relaxed) == 1;
}

long cfut__alloc_fail_nth(long n)
{
    atomic_store(&countdown, n < 0 ? 0 : n);
    return atomic_exchange(&made, 0);
}

void *cfut__malloc(size_t n)
{
    return inject() ? NULL : malloc(n ? n : 1);
}

void *cfut__calloc(size_t n, size_t size)
{
    return inject() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *cfut__realloc(void *p, size_t n)
{
    return inject() ? NULL : realloc(p, n ? n : 1);
}

void cfut__free(void *p)
{
    free(p);
}

char *cfut__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cfut__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *cfut__vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = cfut__malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *cfut__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cfut__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void cfut__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "cfut: internal error: %s (%s:%d)\n", expr, file, line);
    abort();
}
