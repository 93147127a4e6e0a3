// deep.cc - a deep C++ program for the web UI's tests: a recursive class
// template, Rec<N>::run calling Rec<N-1>::run down to N = 0, so each stack
// is about DEPTH frames deep (the flame graph's root far below the fold).
// The bottom does the program's own work, allocates through libstdc++
// (operator new, std::string) into libc (malloc), and calls libm, so the
// stacks hold frames of four modules.  Runs for about argv[1] seconds of CPU
// (default 1).
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#ifndef DEPTH
#define DEPTH 110
#endif

static volatile double sink;

namespace deep {

// the program's own hot loop
__attribute__((noinline)) double crunch(long n)
{
	double x = 1;
	for (long i = 0; i < n; i++)
		x = x * 1.0000001 + (double)(i & 7);
	return x;
}

// libstdc++ (operator new, std::string) and libc (malloc, memcpy, free)
__attribute__((noinline)) size_t churn(int n)
{
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		std::string s(200 + (i & 63), 'x');
		std::vector<std::string> v(4, s);
		total += v[3].size();
	}
	return total;
}

// libm
__attribute__((noinline)) double trig(int n)
{
	volatile double a = 0.5, r = 0;
	for (int i = 0; i < n; i++)
		r = r + std::cbrt(a + i) + std::log1p(a * i);
	return r;
}

template <int N> struct Rec {
	__attribute__((noinline)) static double run(int k)
	{
		double r = Rec<N - 1>::run(k + 1);
		asm volatile("" ::: "memory"); // no tail call: every level stays a frame
		return r + 1;
	}
};

template <> struct Rec<0> {
	__attribute__((noinline)) static double run(int k)
	{
		return crunch(20000) + (double)churn(40) + trig(1000) + k;
	}
};

} // namespace deep

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	clock_t end = clock() + (clock_t)(secs * CLOCKS_PER_SEC);
	while (clock() < end)
		sink = sink + deep::Rec<DEPTH>::run(0);
	return 0;
}
