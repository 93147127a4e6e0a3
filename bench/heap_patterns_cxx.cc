/*
 * heap_patterns_cxx.cc - a C++ allocation pattern for the heap profiler's
 * overhead benchmark (bench/heap_overhead_patterns.sh): THREADS threads,
 * each keeping a std::map<int, std::string> of up to 4,096 entries and
 * doing OPS operations: insert or replace a key's value (a string of 16..200
 * characters: a heap block), or erase a key.  operator new/delete through
 * libstdc++ (the hooks' operator new forms).  Prints a checksum.
 *
 *   heap_patterns_cxx [THREADS [OPS]]
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

static long ops = 1000000;

static void worker(uint64_t seed, uint64_t *out)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
	std::map<int, std::string> m;
	uint64_t sum = 0;
	for (long i = 0; i < ops; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		int k = (int)(s & 4095);
		if ((s >> 12) % 4 == 0) {
			m.erase(k);
		} else {
			std::string v((size_t)(16 + (s >> 20) % 185), (char)('a' + i % 26));
			m[k] = std::move(v);
			sum += m[k].size();
		}
	}
	*out = sum + m.size();
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 2;
	if (argc > 2)
		ops = atol(argv[2]);
	if (nth < 1 || nth > 64)
		nth = 2;
	std::vector<std::thread> th;
	std::vector<uint64_t> res((size_t)nth);
	for (int i = 0; i < nth; i++)
		th.emplace_back(worker, (uint64_t)(i + 1), &res[(size_t)i]);
	uint64_t sum = 0;
	for (int i = 0; i < nth; i++) {
		th[(size_t)i].join();
		sum += res[(size_t)i];
	}
	printf("cxx threads %d ops %ld sum %llu\n", nth, ops, (unsigned long long)sum);
	return 0;
}
