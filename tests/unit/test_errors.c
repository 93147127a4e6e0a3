/*
 * test_errors.c - cprof's one error vocabulary (cprof_errors.h): the
 * runtime API's CPROF_ERR_* names are the core's codes under other names,
 * keep the values programs were built with, and both string functions
 * are one table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cprof.h"
#include "cprof_core.h"

static void test_aliases_keep_their_values(void **state)
{
	(void)state;
	/* the values of the runtime's ABI, as first released */
	assert_int_equal(CPROF_ERR_NOMEM, -1);
	assert_int_equal(CPROF_ERR_IO, -2);
	assert_int_equal(CPROF_ERR_INVAL, -6);
	assert_int_equal(CPROF_ERR_BUSY, -20);
	assert_int_equal(CPROF_ERR_NOT_RUNNING, -21);
	assert_int_equal(CPROF_ERR_SIGNAL, -22);
	assert_int_equal(CPROF_ERR_SYSTEM, -23);
	assert_int_equal(CPROF_ERR_NOMEM, CPROF_ENOMEM);
	assert_int_equal(CPROF_ERR_BUSY, CPROF_EBUSY);
#if CPROF_ERR_SYSTEM != -23
#error "the aliases must stay usable in #if"
#endif
}

static void test_one_string_table(void **state)
{
	(void)state;
	for (int c = -30; c <= 1; c++) {
		assert_ptr_equal(cprof_error_string(c), cprof_strerror(c));
		assert_non_null(cprof_strerror(c));
	}
	assert_string_equal(cprof_strerror(CPROF_ENOMEM), "out of memory");
	assert_string_equal(cprof_strerror(CPROF_EBUSY), "cpu profiling already in use");
	assert_string_equal(cprof_strerror(CPROF_ENOTRUNNING), "cpu profiling not running");
	assert_string_equal(cprof_strerror(CPROF_EMISMATCH), "incompatible profiles");
	assert_string_equal(cprof_strerror(-10), "unknown error");
	assert_string_equal(cprof_strerror(12345), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases_keep_their_values),
		cmocka_unit_test(test_one_string_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
