/* test/test_error.c: status codes, their names and descriptions, and the
 * version.
 *
 * CPython's counterpart is test_future.py's FutureTests.test_class_str (the
 * exception classes have stable, distinct names); in C the "classes" are the
 * CFUT_* status codes, so every code must have its own name and sentence. */
#include "harness.h"

#include <limits.h>
#include <stdlib.h>

/* The list every code must appear in: built from the same X-macro as the
 * enum, so a code added to CFUT_STATUS_MAP is checked here too. */
typedef struct code_info {
    int code;
    const char *name; /* "CFUT_<NAME>" */
    const char *text; /* the sentence in CFUT_STATUS_MAP */
} code_info;

static const code_info codes[] = {
#define XX(name, text) { CFUT_##name, "CFUT_" #name, text },
    CFUT_STATUS_MAP(XX)
#undef XX
};
enum { NCODES = sizeof codes / sizeof codes[0] };

static const int unknown_codes[] = {
    -1, -2, CFUT_STATUS_COUNT_, CFUT_STATUS_COUNT_ + 1, 1000, INT_MIN, INT_MAX,
};
enum { NUNKNOWN = sizeof unknown_codes / sizeof unknown_codes[0] };

/* The enum: 0 is success, codes are consecutive, in the order of DESIGN.md
 * (codes are only appended, so these values are part of the ABI). */
static void test_code_values(void)
{
    CHECK_EQ(CFUT_OK, 0);
    CHECK_EQ(CFUT_ETIMEDOUT, 1);
    CHECK_EQ(CFUT_ECANCELLED, 2);
    CHECK_EQ(CFUT_ETASK, 3);
    CHECK_EQ(CFUT_EWORKER, 4);
    CHECK_EQ(CFUT_EDEADLINE, 5);
    CHECK_EQ(CFUT_EBROKEN, 6);
    CHECK_EQ(CFUT_ESHUTDOWN, 7);
    CHECK_EQ(CFUT_ESERIALIZE, 8);
    CHECK_EQ(CFUT_EINVAL, 9);
    CHECK_EQ(CFUT_ESTATE, 10);
    CHECK_EQ(CFUT_ENOMEM, 11);
    CHECK_EQ(CFUT_ESYS, 12);
    CHECK_EQ(CFUT_STATUS_COUNT_, NCODES);
    for (int i = 0; i < NCODES; i++)
        CHECK_EQ(codes[i].code, i);
}

/* Every code has a non-empty description, the one of the status map, and no
 * two codes share one. */
static void test_strerror_distinct(void)
{
    const char *unknown = cfut_strerror(-1);
    for (int i = 0; i < NCODES; i++) {
        const char *s = cfut_strerror(codes[i].code);
        CHECK(s != NULL);
        CHECK(s[0] != '\0');
        CHECK_STR(s, codes[i].text);
        CHECK(strcmp(s, unknown) != 0);
        for (int j = 0; j < i; j++) {
            if (strcmp(s, cfut_strerror(codes[j].code)) == 0)
                th_fail(__FILE__, __LINE__, "%s and %s share \"%s\"",
                        codes[i].name, codes[j].name, s);
        }
    }
    CHECK_STR(cfut_strerror(CFUT_OK), "success");
    CHECK_STR(cfut_strerror(CFUT_EINVAL), "invalid argument");
}

/* Every code's name is "CFUT_<NAME>", distinct. */
static void test_status_names(void)
{
    for (int i = 0; i < NCODES; i++) {
        const char *n = cfut_status_name(codes[i].code);
        CHECK(n != NULL);
        CHECK_STR(n, codes[i].name);
        CHECK(strncmp(n, "CFUT_", 5) == 0);
        CHECK(strlen(n) > 5);
        CHECK(strcmp(n, "CFUT_UNKNOWN") != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(n, cfut_status_name(codes[j].code)) != 0);
    }
    CHECK_STR(cfut_status_name(CFUT_OK), "CFUT_OK");
    CHECK_STR(cfut_status_name(CFUT_EBROKEN), "CFUT_EBROKEN");
    CHECK_STR(cfut_status_name(CFUT_ESYS), "CFUT_ESYS");
}

/* Codes outside the list: a fixed name and sentence, never NULL. */
static void test_unknown_codes(void)
{
    for (int i = 0; i < NUNKNOWN; i++) {
        int c = unknown_codes[i];
        CHECK(cfut_strerror(c) != NULL);
        CHECK_STR(cfut_strerror(c), "unknown cfut status");
        CHECK(cfut_status_name(c) != NULL);
        CHECK_STR(cfut_status_name(c), "CFUT_UNKNOWN");
    }
}

/* Static storage: the same pointer every time, from any thread. */
typedef struct strings_arg {
    const char *err[NCODES];
    const char *name[NCODES];
} strings_arg;

static void collect_strings(void *p)
{
    strings_arg *a = p;
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < NCODES; i++) {
            a->err[i] = cfut_strerror(codes[i].code);
            a->name[i] = cfut_status_name(codes[i].code);
        }
    }
}

static void test_strings_static_and_thread_safe(void)
{
    enum { NT = 4 };
    strings_arg args[NT];
    th_thread *t[NT];
    for (int i = 0; i < NT; i++)
        t[i] = th_spawn(collect_strings, &args[i]);
    for (int i = 0; i < NT; i++)
        th_join(t[i]);
    for (int i = 0; i < NCODES; i++) {
        const char *e = cfut_strerror(codes[i].code);
        const char *n = cfut_status_name(codes[i].code);
        for (int k = 0; k < NT; k++) {
            CHECK(args[k].err[i] == e);
            CHECK(args[k].name[i] == n);
        }
    }
}

/* The loaded library's version is the headers' version. */
static void test_version(void)
{
    const char *v = cfut_version_string();
    CHECK(v != NULL);
    CHECK_STR(v, CFUT_VERSION_STRING);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", CFUT_VERSION_MAJOR,
             CFUT_VERSION_MINOR, CFUT_VERSION_PATCH);
    CHECK_STR(v, want);
    CHECK_EQ(cfut_version(), CFUT_VERSION_HEX);
    CHECK_EQ(CFUT_VERSION_HEX, (CFUT_VERSION_MAJOR << 16) |
                               (CFUT_VERSION_MINOR << 8) | CFUT_VERSION_PATCH);
    CHECK(cfut_version_string() == v);
}

/* Statuses read back from futures use these names: a cancelled future says
 * CFUT_ECANCELLED, a failed one CFUT_ETASK. */
static void test_status_of_futures(void)
{
    future_t *f = future_new();
    CHECK(f != NULL);
    CHECK_STR(cfut_status_name(future_status(f)), "CFUT_ETIMEDOUT");
    CHECK(future_cancel(f));
    CHECK_STR(cfut_status_name(future_status(f)), "CFUT_ECANCELLED");
    future_release(f);

    f = future_new();
    CHECK(f != NULL);
    CHECK_STATUS(future_set_error(f, 3, "boom"), CFUT_OK);
    CHECK_STR(cfut_status_name(future_status(f)), "CFUT_ETASK");
    CHECK_STR(cfut_strerror(future_status(f)), "the task reported failure");
    future_release(f);
}

TH_CASES(
    TH_CASE(test_code_values),
    TH_CASE(test_strerror_distinct),
    TH_CASE(test_status_names),
    TH_CASE(test_unknown_codes),
    TH_CASE(test_strings_static_and_thread_safe),
    TH_CASE(test_version),
    TH_CASE(test_status_of_futures),
)
