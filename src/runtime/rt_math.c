/*
 * rt_math.c - exp, log and round for libcprof.so, so the preload maps no
 * libm.
 *
 * The runtime needs three functions of libm: exp (the Poisson sampler's
 * scaling, heap.c), log (its draws, heap_hooks.c) and round (merging and
 * scaling values, the core's combine.c and merge.c).  For them, every
 * preloaded process mapped libm.so.6: five more mappings, which every
 * fork copies and every child's exit tears down (a fork + _exit + wait
 * loop ran 6 % slower with libm alone preloaded).  These definitions are
 * hidden: the runtime's own references bind to them when libcprof.so is
 * linked, and the program's calls still reach libm (this file is in
 * libcprof.so only; libcprof.a, linked into a program, uses libm).
 *
 * Precision: round is exact (half away from zero, as C's); exp and log
 * agree with glibc's to a few units in the last place (range reduction
 * by ln 2 in two parts, then a Taylor series for exp and the atanh series
 * for log, both far past double precision on the reduced range).  Edge
 * cases as C's: NaN in, NaN out; exp overflows to inf and underflows to
 * 0 (through the subnormals); log(0) is -inf, log(negative) NaN.
 *
 * Thread-safe and async-signal-safe: pure functions, no errno (the
 * runtime never reads it from these).
 */
#include <stdint.h>
#include <string.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN double round(double x);
HIDDEN double exp(double x);
HIDDEN double log(double x);

#define SIGN 0x8000000000000000ull

static double from_bits(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

static uint64_t to_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

/* 2^n for -1022 <= n <= 1023 */
static double pow2(int n)
{
	return from_bits((uint64_t)(n + 1023) << 52);
}

double round(double x)
{
	uint64_t u = to_bits(x);
	int e = (int)((u >> 52) & 0x7ff);
	if (e >= 1023 + 52)     /* integral already, or inf, or NaN */
		return x;
	if (e < 1023 - 1)       /* |x| < 0.5 */
		return from_bits(u & SIGN);
	double a = from_bits(u & ~SIGN);   /* 0.5 <= a < 2^52 */
	double t = (double)(int64_t)a;     /* truncated; a - t is exact */
	if (a - t >= 0.5)
		t += 1.0;
	return from_bits(to_bits(t) | (u & SIGN));
}

static const double ln2_hi = 6.93147180369123816490e-01;   /* low bits zero */
static const double ln2_lo = 1.90821492927058770002e-10;

double exp(double x)
{
	if (x != x)
		return x;
	if (x > 709.782712893384)
		return __builtin_inf();
	if (x < -745.1332191019412)
		return 0.0;
	double kd = x * 1.44269504088896338700 + (x >= 0 ? 0.5 : -0.5);
	int k = (int)kd;
	double r = (x - k * ln2_hi) - k * ln2_lo;   /* |r| <= ~0.35 */
	/* Taylor to r^17/17!: the remainder is below 1e-22 */
	double p = 1.0 / 355687428096000.0;          /* 1/17! */
	static const double inv_fact[17] = {
		1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
		1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
		1.0 / 6227020800.0, 1.0 / 87178291200.0, 1.0 / 1307674368000.0,
		1.0 / 20922789888000.0,
	};
	for (int i = 16; i >= 0; i--)
		p = p * r + inv_fact[i];
	/* times 2^k, in two steps where 2^k alone is out of range */
	if (k > 1023)
		return p * pow2(1023) * pow2(k - 1023);
	if (k < -1022)
		return p * pow2(k + 1000) * pow2(-1000);
	return p * pow2(k);
}

double log(double x)
{
	if (x != x)
		return x;
	if (x < 0)
		return __builtin_nan("");
	if (x == 0)
		return -__builtin_inf();
	if (x == __builtin_inf())
		return x;
	uint64_t u = to_bits(x);
	int e = 0;
	if ((u >> 52) == 0) {   /* subnormal */
		x *= 18014398509481984.0;   /* 2^54 */
		u = to_bits(x);
		e = -54;
	}
	e += (int)(u >> 52) - 1023;
	double m = from_bits((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull);   /* [1, 2) */
	if (m > 1.41421356237309504880) {
		m *= 0.5;
		e++;
	}
	/* log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: to s^25 */
	double s = (m - 1.0) / (m + 1.0);
	double s2 = s * s;
	double q = 1.0 / 25;
	for (int i = 23; i >= 1; i -= 2)
		q = q * s2 + 1.0 / i;
	double lm = 2.0 * s * q;
	return e * ln2_hi + (lm + e * ln2_lo);
}
