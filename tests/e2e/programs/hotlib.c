/* hotlib.c - the shared library of the symbolization tests: one hot
 * function, so a profile has samples in a PIC mapping at a random base. */
__attribute__((noinline)) double lib_spin(long n);
__attribute__((noinline)) double lib_spin(long n)
{
	double x = 1;
	for (long i = 0; i < n; i++)
		x = x * 0.9999999 + 1e-7 * (double)(i & 3);
	return x;
}
