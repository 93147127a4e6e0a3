/*
 * cxx_sort.cc - C++ code the unwinder tests call into (built as a shared
 * library at test time): std::sort with a comparator that calls back into
 * the test once, and std::call_once, whose callable runs under libstdc++'s
 * __once_proxy and libc's pthread_once (code without frame pointers), and
 * a std::thread whose body calls back (under libstdc++'s
 * execute_native_thread_routine).
 */
#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

extern "C" int cxx_sort_call(void (*cb)(void));
extern "C" int cxx_once_call(void (*cb)(void));
extern "C" int cxx_thread_call(void (*cb)(void));

static volatile int called;

extern "C" int cxx_sort_call(void (*cb)(void))
{
	std::vector<int> v;
	for (int i = 0; i < 64; i++)
		v.push_back((i * 37) % 64);
	called = 0;
	std::sort(v.begin(), v.end(), [cb](int a, int b) {
		if (!called) {
			called = 1;
			cb();
		}
		return a < b;
	});
	return v[0];
}

extern "C" int cxx_once_call(void (*cb)(void))
{
	static std::once_flag flag;
	std::call_once(flag, [cb]() { cb(); });
	return 0;
}

extern "C" int cxx_thread_call(void (*cb)(void))
{
	std::thread t([cb]() {
		cb();
		called = 2;
	});
	t.join();
	return called;
}
