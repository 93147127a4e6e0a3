// cxx_mutex.cc - std::mutex and std::condition_variable reach the
// interposed pthread calls through libstdc++ (its PLT): holder() holds a
// std::mutex across 200 us sleeps while taker() threads take it briefly,
// and one thread waits on a condition variable for 20 ms.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

static std::mutex mu;
static std::condition_variable cv;
static int ready, waiting;

__attribute__((noinline)) static void holder()
{
	for (int i = 0; i < 200; i++) {
		std::lock_guard<std::mutex> g(mu);
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

__attribute__((noinline)) static void taker()
{
	for (int i = 0; i < 400; i++) {
		{ std::lock_guard<std::mutex> g(mu); }
		std::this_thread::sleep_for(std::chrono::microseconds(100));
	}
}

__attribute__((noinline)) static void cond_waiter()
{
	std::unique_lock<std::mutex> l(mu);
	waiting = 1;   /* under mu, which cv.wait releases atomically */
	cv.wait(l, [] { return ready != 0; });
}

int main()
{
	std::vector<std::thread> t;
	t.emplace_back(holder);
	for (int i = 0; i < 3; i++)
		t.emplace_back(taker);
	std::thread w(cond_waiter);
	/* however late the waiter starts (a loaded machine), it really waits */
	for (;;) {
		{
			std::lock_guard<std::mutex> g(mu);
			if (waiting)
				break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	{
		std::lock_guard<std::mutex> g(mu);
		ready = 1;
	}
	cv.notify_all();
	w.join();
	for (auto &x : t)
		x.join();
	std::puts("ok");
}
