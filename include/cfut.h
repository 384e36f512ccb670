/* cfut.h: Python's concurrent.futures for C.
 *
 * Include this one header. Each concept also has its own self-contained
 * header under cfut/: error, future, task, executor, call, map, version. */
#ifndef CFUT_H
#define CFUT_H

#include "cfut/export.h"
#include "cfut/version.h"
#include "cfut/error.h"
#include "cfut/future.h"
#include "cfut/task.h"
#include "cfut/executor.h"
#include "cfut/call.h"
#include "cfut/map.h"

#endif /* CFUT_H */
