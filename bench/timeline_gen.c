/*
 * timeline_gen.c - a large execution trace in the runtime's format
 * (src/runtime/trace_json.c) for bench/timeline.sh: THREADS threads, each
 * a tiling of cycles "running, blocked (a reason, an object, a 4-frame
 * stack), runnable" with the wake-up flow ("s" on another thread, "f" at
 * the wait's end): 5 events per cycle, EVENTS in all.  Times are µs with
 * ns precision; lengths vary with a fixed-seed generator, so every run
 * writes the same file.
 *
 *   timeline_gen EVENTS THREADS OUT.json
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: timeline_gen EVENTS THREADS OUT.json\n");
		return 2;
	}
	long long events = atoll(argv[1]);
	int threads = atoi(argv[2]);
	if (events < 5 || threads < 2) {
		fprintf(stderr, "timeline_gen: want EVENTS >= 5 and THREADS >= 2\n");
		return 2;
	}
	FILE *f = fopen(argv[3], "w");
	if (!f) {
		perror(argv[3]);
		return 2;
	}
	static const char *const reasons[] = { "mutex", "cond", "read", "sleep", "semaphore" };
	static const char *const fns[] = { "pthread_mutex_lock", "pthread_cond_wait", "read",
					   "nanosleep", "sem_wait" };
	long long cycles = events / 5, per = cycles / threads;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	fputs("{\"traceEvents\":[\n", f);
	for (int t = 0; t < threads; t++)
		fprintf(f, "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":\"worker%d\"}},\n",
			100 + t, t);
	uint64_t id = 0;
	for (int t = 0; t < threads; t++) {
		int64_t ns = 0;
		for (long long c = 0; c < per; c++) {
			int64_t run = 2000 + (int64_t)(next() % 40000);
			int64_t blk = 1000 + (int64_t)(next() % 80000);
			int64_t rnb = 100 + (int64_t)(next() % 3000);
			int r = (int)(next() % 5);
			int waker = 100 + (int)((t + 1 + next() % (uint64_t)(threads - 1)) % (uint64_t)threads);
			fprintf(f, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"running\",\"cat\":\"running\",\"ts\":%" PRId64 ".%03d,\"dur\":%" PRId64 ".%03d},\n",
				100 + t, ns / 1000, (int)(ns % 1000), run / 1000, (int)(run % 1000));
			ns += run;
			fprintf(f, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"blocked: %s\",\"cat\":\"blocked\",\"ts\":%" PRId64 ".%03d,\"dur\":%" PRId64 ".%03d,"
				"\"args\":{\"reason\":\"%s\",\"object\":\"0x%" PRIx64 "\",\"runnable_us\":%" PRId64 ".%03d,\"waker_tid\":%d,"
				"\"stack\":[\"%s libc.c:%d\",\"work%d app.c:%d\",\"start_thread pthread_create.c:442\",\"clone3 clone3.S:81\"]}},\n",
				100 + t, reasons[r], ns / 1000, (int)(ns % 1000), blk / 1000, (int)(blk % 1000),
				reasons[r], (uint64_t)0x5500000000ULL + (next() % 64) * 64, rnb / 1000,
				(int)(rnb % 1000), waker, fns[r], 100 + r, (int)(c % 50), (int)(10 + c % 50));
			ns += blk;
			int64_t wake = ns - 500;
			fprintf(f, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"runnable\",\"cat\":\"runnable\",\"ts\":%" PRId64 ".%03d,\"dur\":%" PRId64 ".%03d},\n",
				100 + t, ns / 1000, (int)(ns % 1000), rnb / 1000, (int)(rnb % 1000));
			ns += rnb;
			id++;
			fprintf(f, "{\"ph\":\"s\",\"pid\":1,\"tid\":%d,\"name\":\"wake\",\"cat\":\"wake\",\"ts\":%" PRId64 ".%03d,\"id\":%" PRIu64 "},\n",
				waker, wake / 1000, (int)(wake % 1000), id);
			fprintf(f, "{\"ph\":\"f\",\"pid\":1,\"tid\":%d,\"name\":\"wake\",\"cat\":\"wake\",\"bp\":\"e\",\"ts\":%" PRId64 ".%03d,\"id\":%" PRIu64 "},\n",
				100 + t, ns / 1000, (int)(ns % 1000), id);
		}
	}
	fputs("{\"ph\":\"i\",\"pid\":1,\"tid\":100,\"name\":\"end\",\"ts\":0}\n],\"otherData\":{\"producer\":\"timeline_gen\"}}\n", f);
	if (fclose(f) != 0) {
		perror(argv[3]);
		return 2;
	}
	return 0;
}
