/* test/harness.h: the small TAP harness every test program uses.
 *
 * A test program lists its cases and hands them to th_main():
 *
 *     static void test_cancel_pending(void) { ... CHECK(...); ... }
 *     TH_CASES(
 *         TH_CASE(test_cancel_pending),
 *     )
 *
 * Each case runs in its own forked process with a timeout (CFUT_TEST_TIMEOUT
 * seconds, default 30, times CFUT_TEST_TIMEOUT_MULT), so a crash or a hang
 * fails that case alone. Output is TAP for `meson test`. Arguments: case
 * names to run only those; CFUT_TEST_NOFORK=1 runs cases in-process (for gdb).
 *
 * Checks print both sides and end the case at the first failure. There is no
 * assert() in tests: they must fail under NDEBUG too. */
#ifndef CFUT_TEST_HARNESS_H
#define CFUT_TEST_HARNESS_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cfut.h"
#include "tools.h"

typedef struct th_case {
    const char *name;
    void (*fn)(void);
} th_case;

int th_main(int argc, char **argv, const th_case *cases, size_t n);

#define TH_CASE(fn) { #fn, fn }
#define TH_CASES(...)                                                          \
    static const th_case th_cases_[] = { __VA_ARGS__ };                        \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        return th_main(argc, argv, th_cases_,                                  \
                       sizeof th_cases_ / sizeof th_cases_[0]);                \
    }

/* The slow-down factor, CFUT_TEST_TIMEOUT_MULT (10 under valgrind), at
 * least 1. Waits that would mean a hang scale with it. */
double th_scale(void);
/* How long anything may take before a case calls it a hang: well below the
 * case's own timeout, so the hang is reported at the line that waited. */
#define TH_LONG_WAIT (15.0 * th_scale())

/* A gate across processes: two FIFOs in a fresh /tmp/cfut-NAME-XXXXXX
 * directory. A task given the paths writes a start report to `started`
 * (whatever bytes the test wants: a byte, an index, its pid), then may block
 * reading one byte from `go`. The test holds both open O_RDWR, so a task's
 * opens never block and its reads never see EOF. Works for threads and
 * processes alike. */
typedef struct th_xgate {
    char dir[32], started[64], go[64];
    int sfd, gfd;
} th_xgate;
void th_xgate_init(th_xgate *g, const char *name); /* name: up to 8 chars */
/* Closes the FIFOs, removes the directory and whatever a test left in it. */
void th_xgate_free(th_xgate *g);
/* Reads the next n-byte start report into buf; fails the case (naming
 * file:line) if none comes within TH_LONG_WAIT. */
void th_xgate_read(th_xgate *g, void *buf, size_t n, const char *file, int line);
/* True if no start report is waiting (a look, not a wait). */
bool th_xgate_quiet(th_xgate *g);
/* Lets n gated tasks through. */
void th_xgate_open(th_xgate *g, unsigned n);

/* Ends the current case as failed, after printing where and why. */
_Noreturn void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the current case as skipped (TAP "# SKIP why"). */
_Noreturn void th_skip(const char *why);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            th_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);            \
    } while (0)

#define CHECK_INT(a, op, b)                                                    \
    do {                                                                       \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);              \
        if (!(th_a_ op th_b_))                                                 \
            th_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b, \
                    th_a_, th_b_);                                             \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

/* Compares two cfut status codes and prints their names. */
#define CHECK_STATUS(expr, want)                                               \
    do {                                                                       \
        int th_got_ = (expr), th_want_ = (want);                               \
        if (th_got_ != th_want_)                                               \
            th_fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d)",       \
                    #expr, cfut_status_name(th_got_), th_got_,                 \
                    cfut_status_name(th_want_), th_want_);                     \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *th_a_ = (a), *th_b_ = (b);                                 \
        if (!th_a_ || !th_b_ || strcmp(th_a_, th_b_) != 0)                     \
            th_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b,  \
                    th_a_ ? th_a_ : "(null)", th_b_ ? th_b_ : "(null)");       \
    } while (0)

/* `hay` contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                            \
    do {                                                                       \
        const char *th_h_ = (hay), *th_n_ = (needle);                          \
        if (!th_h_ || !strstr(th_h_, th_n_))                                   \
            th_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, \
                    th_n_, th_h_ ? th_h_ : "(null)");                          \
    } while (0)

/* A gate: tasks block on it until the test opens it. Counting semaphore
 * semantics (process-private). Waits are bounded by the case timeout. */
typedef struct th_gate { sem_t sem; } th_gate;
void th_gate_init(th_gate *g);
void th_gate_destroy(th_gate *g);
void th_gate_open(th_gate *g, unsigned n);  /* lets n waiters through */
void th_gate_wait(th_gate *g);
/* Waits up to `seconds`; false if it timed out. */
bool th_gate_timedwait(th_gate *g, double seconds);

/* Runs fn(arg) on a new thread; th_join() waits for it. */
typedef struct th_thread th_thread;
th_thread *th_spawn(void (*fn)(void *), void *arg);
void th_join(th_thread *t);

/* Monotonic seconds, for computing deadlines in tests (never for asserting
 * speed). */
double th_now(void);

/* The start of this process's first mapping of exactly `size` bytes whose
 * /proc/self/maps line contains `name` (e.g. "memfd:cfut-shm"), or NULL. */
void *th_find_mapping(const char *name, size_t size);

#endif /* CFUT_TEST_HARNESS_H */
