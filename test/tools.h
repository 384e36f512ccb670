/* test/tools.h: what the tests run under.
 *
 * Checks scale their counts and skip what a tool cannot do:
 * RUNNING_ON_VALGRIND (10x slower; pidfd_open is ENOSYS), TH_ASAN (gcc 12's
 * libasan does not lock its allocator around fork(): a child forked while
 * another thread allocates can deadlock in its first malloc), TH_TSAN (no
 * fork with threads; slower). */
#ifndef CFUT_TEST_TOOLS_H
#define CFUT_TEST_TOOLS_H

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif
#ifndef RUNNING_ON_VALGRIND
#  define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define TH_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define TH_ASAN 1
#  endif
#endif
#ifndef TH_ASAN
#  define TH_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#  define TH_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define TH_TSAN 1
#  endif
#endif
#ifndef TH_TSAN
#  define TH_TSAN 0
#endif

#endif
