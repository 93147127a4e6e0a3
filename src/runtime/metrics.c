/*
 * metrics.c - /metrics: the process and the profiler in Prometheus' text
 * exposition format (version 0.0.4), accepted by `promtool check metrics`.
 *
 * Process figures follow the Prometheus client libraries' names
 * (process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, ...) and are read from /proc and getrusage when asked;
 * the profiler's own come from its counters (cprof_cpu_get_stats,
 * cprof_heap_get_stats when the heap profiler is built in, the HTTP
 * server's counters).  Nothing is cached: each scrape costs a few reads of
 * /proc and a directory listing of /proc/self/fd.
 */
#include "http_int.h"
#include "rt_base.h"
#include "rt_unwind.h"
#include "cprof.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static struct timespec t_load;

__attribute__((constructor))
static void metrics_init(void)
{
	clock_gettime(CLOCK_MONOTONIC, &t_load);
}

double rt_uptime_seconds(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t_load.tv_sec) + (double)(now.tv_nsec - t_load.tv_nsec) / 1e9;
}

static void metric(rt_buf *b, const char *name, const char *type, const char *help)
{
	rt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One metric with a single unlabelled value. */
static void metric_u64(rt_buf *b, const char *name, const char *type, const char *help,
		       unsigned long long v)
{
	metric(b, name, type, help);
	rt_buf_printf(b, "%s %llu\n", name, v);
}

static long count_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1 >= 0 && strcmp(path, "/proc/self/fd") == 0 ? n - 1 : n;   /* the DIR's own fd */
}

static int read_small(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sz - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

int rt_metrics_render(rt_buf *b)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		metric(b, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		rt_buf_printf(b, "process_cpu_seconds_total %.6f\n",
			      (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	char statm[256];
	unsigned long vsz = 0, rss = 0;
	if (read_small("/proc/self/statm", statm, sizeof statm) == 0 &&
	    sscanf(statm, "%lu %lu", &vsz, &rss) == 2) {
		long pg = sysconf(_SC_PAGESIZE);
		metric(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		rt_buf_printf(b, "process_resident_memory_bytes %lu\n", rss * (unsigned long)pg);
		metric(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		rt_buf_printf(b, "process_virtual_memory_bytes %lu\n", vsz * (unsigned long)pg);
	}
	long fds = count_dir("/proc/self/fd");
	if (fds >= 0) {
		metric_u64(b, "process_open_fds", "gauge", "Number of open file descriptors.",
			   (unsigned long long)fds);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		metric_u64(b, "process_max_fds", "gauge",
			   "Maximum number of open file descriptors.",
			   rl.rlim_cur);
	}
	long threads = count_dir("/proc/self/task");
	if (threads >= 0) {
		metric_u64(b, "process_threads", "gauge", "Number of OS threads in the process.",
			   (unsigned long long)threads);
	}
	metric(b, "cprof_uptime_seconds", "gauge", "Seconds since the cprof runtime was loaded.");
	rt_buf_printf(b, "cprof_uptime_seconds %.3f\n", rt_uptime_seconds());

	cprof_heap_stats hs;
	if (cprof_heap_get_stats(&hs) == 0) {
		metric_u64(b, "cprof_heap_inuse_bytes", "gauge",
			   "Estimated bytes of live heap objects (sampled heap profile).",
			   hs.inuse_bytes);
		metric_u64(b, "cprof_heap_inuse_objects", "gauge",
			   "Estimated live heap objects.",
			   hs.inuse_objects);
		metric_u64(b, "cprof_heap_allocated_bytes_total", "counter",
			   "Estimated bytes allocated since start.",
			   hs.alloc_bytes);
		metric_u64(b, "cprof_heap_allocated_objects_total", "counter",
			   "Estimated objects allocated since start.",
			   hs.alloc_objects);
		metric_u64(b, "cprof_heap_sampling_interval_bytes", "gauge",
			   "Mean bytes between sampled allocations.",
			   hs.rate);
		metric_u64(b, "cprof_heap_samples_dropped_total", "counter",
			   "Heap samples not recorded (table full or no memory).",
			   hs.dropped);
		metric_u64(b, "cprof_heap_table_bytes", "gauge",
			   "Memory of the heap profiler's own tables.",
			   hs.table_bytes);
	}

	cprof_cpu_stats cs;
	if (cprof_cpu_get_stats(&cs) == 0) {
		metric(b, "cprof_cpu_profiling", "gauge", "1 while a CPU profile runs.");
		rt_buf_printf(b, "cprof_cpu_profiling %d\n", cprof_cpu_running());
		metric_u64(b, "cprof_cpu_samples_total", "counter",
			   "CPU samples recorded by the current or last CPU profile.",
			   cs.samples);
		metric(b, "cprof_cpu_samples_lost_total", "counter", "CPU samples lost, by reason.");
		rt_buf_printf(b, "cprof_cpu_samples_lost_total{reason=\"ring_full\"} %llu\n",
			      (unsigned long long)cs.lost_ring_full);
		rt_buf_printf(b, "cprof_cpu_samples_lost_total{reason=\"unwind\"} %llu\n",
			      (unsigned long long)cs.lost_unwind);
		metric_u64(b, "cprof_cpu_samples_truncated_total", "counter",
			   "CPU samples whose stack was cut short.",
			   cs.truncated);
		metric(b, "cprof_cpu_handler_seconds_total", "counter",
		       "Time spent in the SIGPROF handler, in seconds.");
		rt_buf_printf(b, "cprof_cpu_handler_seconds_total %.9f\n", (double)cs.handler_ns / 1e9);
	}

	metric_u64(b, "cprof_unwind_tables_asked_total", "counter",
		   "Stacks cut at a module whose unwind table was not built yet "
		   "(the runtime's builder thread was asked for it).",
		   atomic_load_explicit(&rt_modules_asked, memory_order_relaxed));

	rt_http_counters hc;
	rt_http_get_counters(&hc);
	metric_u64(b, "cprof_http_requests_total", "counter",
		   "Requests received by the endpoint.",
		   hc.requests);
	metric(b, "cprof_http_rejected_total", "counter", "Requests refused, by reason.");
	rt_buf_printf(b, "cprof_http_rejected_total{reason=\"auth\"} %llu\n",
		      (unsigned long long)hc.rejected_auth);
	rt_buf_printf(b, "cprof_http_rejected_total{reason=\"rate\"} %llu\n",
		      (unsigned long long)hc.rejected_rate);
	rt_buf_printf(b, "cprof_http_rejected_total{reason=\"busy\"} %llu\n",
		      (unsigned long long)hc.rejected_busy);
	return b->oom ? CPROF_ERR_NOMEM : 0;
}
