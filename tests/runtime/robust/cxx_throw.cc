/*
 * cxx_throw.cc - C++ exceptions thrown through deep stacks (200 frames,
 * with destructors to run on the way) in several threads while the
 * profiler samples: the unwinder of the runtime and the C++ runtime's own
 * must not disturb each other.  Prints how many exceptions were caught.
 */
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::atomic<long> destroyed{0};

struct Guard {
	~Guard() { destroyed++; }
};

static __attribute__((noinline)) long dive(int depth, long acc)
{
	Guard g;
	volatile long x = acc;
	for (int i = 0; i < 200; i++)
		x = x * 31 + i;
	if (depth == 0)
		throw std::runtime_error("bottom " + std::to_string(acc & 1));
	return dive(depth - 1, x) + 1;
}

static long worker(int n)
{
	long caught = 0;
	for (int i = 0; i < n; i++) {
		try {
			dive(200, i);
		} catch (const std::runtime_error &e) {
			if (e.what()[0] == 'b')
				caught++;
		}
	}
	return caught;
}

int main()
{
	std::vector<std::thread> ts;
	std::vector<long> res(4);
	for (int t = 0; t < 4; t++)
		ts.emplace_back([t, &res] { res[t] = worker(500); });
	for (auto &t : ts)
		t.join();
	long total = 0;
	for (long r : res)
		total += r;
	std::printf("caught %ld destroyed %ld\n", total, destroyed.load());
	return total == 2000 ? 0 : 1;
}
