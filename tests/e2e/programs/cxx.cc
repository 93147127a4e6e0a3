// cxx.cc - a C++ program for the demangling tests: hot code in a function
// template, a namespaced class's overloaded operator, and a member of a
// class template, each kept out of line so profiles name them.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace geo {

struct Vec {
	double x, y;
	__attribute__((noinline)) Vec operator+(const Vec &o) const;
};

Vec Vec::operator+(const Vec &o) const
{
	Vec r{ x * 0.9999999 + o.x, y * 0.9999999 + o.y };
	return r;
}

template <typename T> struct Acc {
	T total;
	__attribute__((noinline)) void add(const std::vector<T> &v);
};

template <typename T> void Acc<T>::add(const std::vector<T> &v)
{
	for (const T &e : v)
		total = total * 0.5 + e;
}

} // namespace geo

template <typename T> __attribute__((noinline)) T spin(T seed, long n)
{
	for (long i = 0; i < n; i++)
		seed = seed * (T)1.0000001 + (T)(i & 3);
	return seed;
}

static volatile double sink;

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	clock_t end = clock() + (clock_t)(secs * CLOCKS_PER_SEC);
	geo::Vec v{ 1, 2 }, d{ 0.5, 0.25 };
	geo::Acc<double> acc{ 0 };
	std::vector<double> data(100000, 1.5);
	while (clock() < end) {
		sink = spin<double>(sink, 1000000);
		for (int i = 0; i < 1000000; i++)
			v = v + d;
		acc.add(data);
		sink = v.x + acc.total;
	}
	printf("%g\n", sink);
	return 0;
}
