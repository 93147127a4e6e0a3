/* drop_caps.c - drops root in two steps, as daemons that keep one
 * capability do: PR_SET_KEEPCAPS, setresuid to nobody (the capabilities
 * stay, being kept), then capset down to none.  Capabilities are per
 * thread and glibc broadcasts set*id calls but not capset: the runtime's
 * threads must drop them too, or the process keeps threads that hold
 * root's capabilities as nobody.  Prints "caps dropped" and exits 0 when
 * no thread of the process has an effective or permitted capability left,
 * else names the threads that do (status 1).  Must run as root with the
 * runtime's threads started (a CPU profile, CPROF_HTTP). */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int capset(cap_user_header_t hdr, const cap_user_data_t data);

static volatile unsigned long sink;

int main(void)
{
	/* some work, so the runtime's threads (collector, endpoint) run */
	for (unsigned long i = 0; i < 50000000UL; i++)
		sink += i;
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 || setresgid(65534, 65534, 65534) != 0 ||
	    setresuid(65534, 65534, 65534) != 0) {
		perror("drop");
		return 2;
	}
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof d);
	if (capset(&h, d) != 0) {
		perror("capset");
		return 2;
	}
	int bad = 0;
	DIR *t = opendir("/proc/self/task");
	struct dirent *de;
	while (t && (de = readdir(t))) {
		if (de->d_name[0] == '.')
			continue;
		char path[320], line[256];
		snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof line, f))
			if ((!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7)) &&
			    strstr(line, "0000000000000000") == NULL) {
				printf("thread %s: %s", de->d_name, line);
				bad = 1;
			}
		if (f)
			fclose(f);
	}
	if (t)
		closedir(t);
	if (!bad)
		puts("caps dropped");
	return bad;
}
