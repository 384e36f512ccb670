/* test/fnref_mod.c: a tiny shared module for test_fnref.c, which dlopen()s it
 * by the path meson passes in CFUT_TEST_FNREF_MOD (it is never linked), so
 * the test controls when, and whether, it is loaded. */
int fnref_mod_answer(int x);
extern int fnref_mod_data;

int fnref_mod_data = 7;

int fnref_mod_answer(int x)
{
    return x + 42;
}
