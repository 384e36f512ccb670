/* cfut/error.h: status codes.
 *
 * Every cfut function that can fail returns an int status: CFUT_OK (0) on
 * success, one of the codes below otherwise. Details of a task's failure (its
 * own code and message) live on its future: see future_error_code() and
 * future_error_message(). There is no thread-local "last error". */
#ifndef CFUT_ERROR_H
#define CFUT_ERROR_H

#include "cfut/export.h"

CFUT_BEGIN_DECLS

/* One list generates the enum, cfut_strerror() and cfut_status_name(), so
 * they cannot drift apart. XX(name, description). Codes are only appended. */
#define CFUT_STATUS_MAP(XX)                                                    \
    XX(OK,         "success")                                                  \
    XX(ETIMEDOUT,  "the deadline passed before the future was done")           \
    XX(ECANCELLED, "the future was cancelled")                                 \
    XX(ETASK,      "the task reported failure")                                \
    XX(EWORKER,    "the worker process died while running the task")           \
    XX(EDEADLINE,  "the task ran past its time limit and was stopped")         \
    XX(EBROKEN,    "the executor is broken")                                   \
    XX(ESHUTDOWN,  "the executor has been shut down")                          \
    XX(ESERIALIZE, "a value could not be encoded or decoded")                  \
    XX(EINVAL,     "invalid argument")                                         \
    XX(ESTATE,     "invalid state change")                                     \
    XX(ENOMEM,     "out of memory")                                            \
    XX(ESYS,       "a system call failed")

enum {
#define CFUT_STATUS_ENUM_(name, text) CFUT_##name,
    CFUT_STATUS_MAP(CFUT_STATUS_ENUM_)
#undef CFUT_STATUS_ENUM_
    CFUT_STATUS_COUNT_ /* not a status: one past the last code */
};

/* A sentence describing `status`, e.g. "the executor is broken". Never NULL:
 * an unknown code gives "unknown cfut status". Thread-safe; static storage. */
CFUT_API const char *cfut_strerror(int status);

/* The code's name, e.g. "CFUT_EBROKEN"; "CFUT_UNKNOWN" for an unknown code.
 * Thread-safe; static storage. */
CFUT_API const char *cfut_status_name(int status);

CFUT_END_DECLS

#endif /* CFUT_ERROR_H */
