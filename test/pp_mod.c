/* test/pp_mod.c: a tiny shared module for test_process_pool.c, which
 * dlopen()s it by the path meson passes in CFUT_TEST_PP_MOD (it is never
 * linked): a task function living in a library that spawned and forkserver
 * workers must load themselves. It calls nothing from cfut (the test
 * programs link cfut statically and export nothing), so it answers with its
 * return code: 1000 + the first byte of its argument. */
#include <stddef.h>

#include "cfut/task.h"

int pp_mod_task(cfut_task *task, const void *arg, size_t len);

int pp_mod_task(cfut_task *task, const void *arg, size_t len)
{
    (void)task;
    return len ? 1000 + *(const unsigned char *)arg : 999;
}
