// cxx_stl.cc - C++ allocations through every operator new/delete form the
// heap profiler interposes: STL containers (plain new/delete, sized
// delete), over-aligned types (aligned new/delete), arrays, nothrow new.
// The program checks alignment and contents itself and prints a checksum,
// the same with and without the runtime.  Retained at exit (for the
// profile): fill_map's map, keep_aligned's 1000 objects of 256 bytes,
// keep_array's 100 arrays of 1000 ints.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Aligned {
	char data[256];
};

static std::map<int, std::string> *the_map;
static std::vector<Aligned *> kept_aligned;
static std::vector<int *> kept_arrays;

__attribute__((noinline)) static long fill_vector()
{
	std::vector<long> v;
	for (long i = 0; i < 200000; i++)
		v.push_back(i);
	long s = 0;
	for (long x : v)
		s += x;
	return s;
}

__attribute__((noinline)) static long fill_map()
{
	the_map = new std::map<int, std::string>();
	for (int i = 0; i < 20000; i++)
		(*the_map)[i] = std::string(40, (char)('a' + i % 26));
	return (long)the_map->size();
}

__attribute__((noinline)) static long keep_aligned()
{
	long bad = 0;
	for (int i = 0; i < 1000; i++) {
		Aligned *a = new Aligned;
		if ((uintptr_t)a % 64 != 0)
			bad++;
		a->data[0] = (char)i;
		kept_aligned.push_back(a);
	}
	// aligned arrays and nothrow forms, freed again
	for (int i = 0; i < 100; i++) {
		Aligned *arr = new Aligned[3];
		if ((uintptr_t)arr % 64 != 0)
			bad++;
		delete[] arr;
		Aligned *nt = new (std::nothrow) Aligned;
		if (!nt || (uintptr_t)nt % 64 != 0)
			bad++;
		delete nt;
	}
	return bad;
}

__attribute__((noinline)) static long keep_array()
{
	for (int i = 0; i < 100; i++) {
		int *a = new int[1000];
		a[999] = i;
		kept_arrays.push_back(a);
	}
	int *nt = new (std::nothrow) int[10];
	delete[] nt;
	auto sp = std::make_shared<std::string>(100, 'x');
	auto up = std::make_unique<std::vector<int>>(1000, 7);
	return (long)sp->size() + (long)up->size();
}

__attribute__((noinline)) static long churn_strings()
{
	long n = 0;
	for (int i = 0; i < 100000; i++) {
		std::string s(100 + i % 50, 'z');
		n += (long)s.size();
	}
	return n;
}

int main()
{
	long s = fill_vector();
	s += fill_map();
	long bad = keep_aligned();
	s += keep_array();
	s += churn_strings();
	long check = 0;
	for (auto *a : kept_aligned)
		check += a->data[0];
	for (auto *a : kept_arrays)
		check += a[999];
	std::printf("sum %ld check %ld misaligned %ld map %zu\n", s, check, bad, the_map->size());
	return bad ? 1 : 0;
}
