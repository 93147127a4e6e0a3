/*
 * test_rt_math.c - the runtime's own exp, log and round (rt_math.c, in
 * libcprof.so so that the preload maps no libm) against libm's: round
 * exactly (halves, signs, the largest values, inf and NaN), exp and log
 * within 4 units in the last place over their whole range, and their
 * edges (overflow, subnormals, 0, negatives, NaN).  The file is included
 * with its functions renamed, so libm's stay reachable here.
 */
#define round rtm_round
#define exp rtm_exp
#define log rtm_log
#include "../../src/runtime/rt_math.c"
#undef round
#undef exp
#undef log

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(void)   /* [0, 1) */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
}

static double ulps(double got, double want)
{
	if (got == want || (isnan(got) && isnan(want)))
		return 0;
	return fabs(got - want) / (nextafter(fabs(want), INFINITY) - fabs(want));
}

static void test_round(void **state)
{
	(void)state;
	const double v[] = { 0.0, -0.0, 0.25, -0.25, 0.5, -0.5, 1.5, -2.5, 2.5,
			     0.49999999999999994, -0.49999999999999994, 4503599627370495.5,
			     -4503599627370495.5, 9007199254740993.0, 1e300, -1e-300, 5e-324,
			     INFINITY, -INFINITY };
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_true(rtm_round(v[i]) == round(v[i]));
		assert_int_equal(signbit(rtm_round(v[i])) != 0, signbit(round(v[i])) != 0);
	}
	assert_true(isnan(rtm_round(NAN)));
	for (int i = 0; i < 200000; i++) {
		double x = (uniform() - 0.5) * 1e7;
		if (i & 1)
			x = floor(x) + 0.5;   /* a half: away from zero */
		assert_true(rtm_round(x) == round(x));
	}
}

static void test_exp(void **state)
{
	(void)state;
	double worst = 0;
	for (int i = 0; i < 300000; i++) {
		double x = (uniform() - 0.5) * 1400;   /* normal results */
		double u = ulps(rtm_exp(x), exp(x));
		worst = u > worst ? u : worst;
	}
	assert_true(worst <= 4);
	assert_true(rtm_exp(0) == 1 && rtm_exp(-0.0) == 1);
	assert_true(isinf(rtm_exp(709.8)) && isinf(rtm_exp(INFINITY)));
	assert_true(rtm_exp(-746) == 0 && rtm_exp(-INFINITY) == 0);
	assert_true(isnan(rtm_exp(NAN)));
	assert_true(rtm_exp(709.78) == exp(709.78));
	/* subnormal results: close in absolute terms */
	assert_true(fabs(rtm_exp(-740) - exp(-740)) <= 4 * 5e-324);
}

static void test_log(void **state)
{
	(void)state;
	double worst = 0;
	for (int i = 0; i < 300000; i++) {
		double x = exp((uniform() - 0.5) * 1400);
		double u = ulps(rtm_log(x), log(x));
		worst = u > worst ? u : worst;
		double y = uniform() + 0x1p-53;   /* (0, 1]: the sampler's draws */
		u = ulps(rtm_log(y), log(y));
		worst = u > worst ? u : worst;
	}
	assert_true(worst <= 4);
	assert_true(rtm_log(1) == 0);
	assert_true(rtm_log(2) == log(2) && rtm_log(0.5) == log(0.5));
	assert_true(rtm_log(5e-324) == log(5e-324) && rtm_log(1e-310) == log(1e-310));
	assert_true(rtm_log(1.7976931348623157e308) == log(1.7976931348623157e308));
	assert_true(isinf(rtm_log(0)) && rtm_log(0) < 0);
	assert_true(isnan(rtm_log(-1)) && isnan(rtm_log(NAN)));
	assert_true(isinf(rtm_log(INFINITY)) && rtm_log(INFINITY) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
