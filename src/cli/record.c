/*
 * record.c - `cprof record`: run a command under the runtime (libcprof.so)
 * and say where its CPU profile went.
 *
 *   cprof record [-o FILE] [--hz N] [--follow-fork] [--heap[=HFILE]]
 *                [--allocs[=AFILE]] -- CMD ARGS...
 *
 * The command runs with LD_PRELOAD naming libcprof.so (found next to the
 * cprof binary, else in ../lib of it, the install layout; CPROF_LIBRARY
 * overrides both) appended to any LD_PRELOAD already set, so a sanitizer
 * runtime preloaded first stays first.  The runtime is told what to do by
 * the environment (set in the child between fork and exec, so cprof's own
 * environment is untouched).
 *
 * Process trees, as perf record: by default every process of the command's
 * tree is profiled, those it execs and those it forks (CPROF_FOLLOW_FORK=1),
 * each to its own file in a private directory beside FILE
 * (.cprof-record-XXXXXX/cpu.%p.pb.gz, outfile.c's pattern); at the end the
 * files are merged into FILE, every sample labelled with its process's
 * pid and comm (the executable's name, from the profile's first mapping),
 * so `cprof -tagfocus=comm=make` or `-tags` tell them apart.  The heap and
 * allocs profiles are followed and merged the same way.  --per-process
 * keeps the files instead (FILE.PID beside FILE) and lists them;
 * --no-follow profiles the command's own process only (CPROF_CPU_PID,
 * CPROF_HEAP_PID: the command through its own execs).  The other exit
 * profiles (--mutex ... --deadlock) name FILE itself, and outfile.c's rule
 * keeps what another process would overwrite (FILE.PID).
 *
 * --heap / --allocs (issue 5) also ask for the heap / allocs profile at
 * exit (CPROF_HEAP_PROFILE / CPROF_ALLOCS_PROFILE, with CPROF_HEAP_PID so
 * only the command's own process writes them; default files heap.pb.gz
 * and allocs.pb.gz).  The malloc hooks only see the program's malloc if
 * libcprof.so comes before any other allocator in the search order, so
 * with these flags libcprof.so goes first in LD_PRELOAD, after any
 * sanitizer runtime (which must stay first).
 *
 * --mutex, --block, --threads, --threadcreate, --deadlock (issue 6) ask for
 * those profiles at exit the same way (extras[] below), and
 * --mutex-fraction, --block-rate, --heap-rate, --heap-sampler and --http pass a setting
 * through to the runtime, which checks it.
 *
 * While the command runs, cprof ignores SIGINT and SIGQUIT as system(3)
 * does: a ^C reaches the command, whose runtime writes the profile on the
 * way down.  When it ends cprof prints where the profile is, then exits with
 * the command's status; a command killed by a signal kills cprof with the
 * same signal, so a shell sees the same outcome as without cprof.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Profiles the runtime writes at exit when asked by the environment
 * (issue 6): `--NAME[=FILE]` sets ENV=FILE (default NAME.pb.gz; a FILE
 * ending in .txt gets Go's debug=1 text).  The runtime's first process
 * owns the files (its pid kept in the environment), so programs the
 * command starts never overwrite them.  To add one: a row here. */
static const struct extra_prof {
	const char *name, *env, *help;
	const char *suffix;       /* of the default FILE; NULL: .pb.gz */
} extras[] = {
	{ "mutex", "CPROF_MUTEX_PROFILE", "lock contention, charged to the unlocker", NULL },
	{ "block", "CPROF_BLOCK_PROFILE", "time blocked in locks, waits and joins", NULL },
	{ "threads", "CPROF_THREADS_PROFILE", "every thread's stack and state at exit", NULL },
	{ "threadcreate", "CPROF_THREADCREATE_PROFILE", "where threads were created", NULL },
	{ "deadlock", "CPROF_DEADLOCK_PROFILE", "lock cycles and stuck waits at exit", NULL },
	{ "trace", "CPROF_TRACE", "execution trace: Chrome JSON for Perfetto, chrome://tracing",
	  ".json" },
};
#define NEXTRAS (sizeof extras / sizeof extras[0])

/* Settings passed through to the runtime as they are (it checks them). */
static const struct pass_opt {
	const char *name, *env;
} passes[] = {
	{ "mutex-fraction", "CPROF_MUTEX_FRACTION" },
	{ "block-rate", "CPROF_BLOCK_RATE" },
	{ "heap-rate", "CPROF_HEAP_RATE" },
	{ "heap-sampler", "CPROF_HEAP_SAMPLER" },
	{ "http", "CPROF_HTTP" },
};
#define NPASSES (sizeof passes / sizeof passes[0])

static void record_usage(FILE *f)
{
	fputs("usage: cprof record [-o FILE] [--hz N] [--follow-fork] [--PROFILE[=FILE]]... -- CMD ARGS...\n"
	      "\n"
	      "Runs CMD under the cprof runtime (LD_PRELOAD=libcprof.so), which samples\n"
	      "the CPU use of every thread and writes a profile when CMD exits.\n"
	      "\n"
	      "    -o FILE          where the profile goes (default cpu.pb.gz)\n"
	      "    --hz N           samples per CPU-second (1..10000; default 100)\n"
	      "    --no-follow      profile CMD's own process only (default: every process it\n"
	      "                     starts or forks, merged into FILE, labelled pid and comm)\n"
	      "    --per-process    keep one file per process (FILE.PID) instead of merging\n"
	      "    --follow-fork    the default (kept for older command lines)\n"
	      "    --heap[=FILE]    also write CMD's heap profile at exit (default heap.pb.gz)\n"
	      "    --allocs[=FILE]  also write CMD's allocs profile at exit (default allocs.pb.gz)\n"
	      "                     (sampling rate: CPROF_HEAP_RATE, default 524288 bytes)\n",
	      f);
	for (size_t i = 0; i < NEXTRAS; i++)
	{
		int pad = 8 - (int)strlen(extras[i].name);
		fprintf(f, "    --%s[=FILE]%*s%s (default %s%s)\n", extras[i].name,
			pad > 0 ? pad : 1, "", extras[i].help, extras[i].name,
			extras[i].suffix ? extras[i].suffix : ".pb.gz");
	}
	fputs("    --mutex-fraction=N  record 1 in N lock contentions (default 10)\n"
	      "    --block-rate=NS  sample blocking events of NS nanoseconds on average (default 10ms)\n"
	      "    --heap-rate=B    sample an allocation every B bytes on average\n"
	      "    --heap-sampler=S stratified (default) or poisson (Go's)\n"
	      "    --http=ADDR      serve /debug/pprof/ from CMD on ADDR (e.g. 127.0.0.1:6060)\n"
	      "\nA FILE ending in .txt gets Go's text format (debug=1).\n",
	      f);
}

/* The directory of the running cprof binary, into buf. */
static int self_dir(char *buf, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", buf, n - 1);
	if (len <= 0 || (size_t)len >= n - 1)
		return -1;
	buf[len] = 0;
	char *slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return 0;
}

/* Find libcprof.so: $CPROF_LIBRARY, next to cprof, or in ../lib. */
static void find_library(char *out, size_t n)
{
	const char *env = getenv("CPROF_LIBRARY");
	if (env && *env) {
		if (access(env, R_OK) != 0)
			cli_die("CPROF_LIBRARY=%s: %s", env, strerror(errno));
		if ((size_t)snprintf(out, n, "%s", env) >= n)
			cli_die("CPROF_LIBRARY: path too long");
		return;
	}
	char dir[PATH_MAX];
	if (self_dir(dir, sizeof dir) != 0)
		cli_die("record: cannot find the cprof binary's directory (set CPROF_LIBRARY)");
	static const char *const rel[] = { "/libcprof.so", "/../lib/libcprof.so" };
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		if ((size_t)snprintf(out, n, "%s%s", dir, rel[i]) >= n)
			continue;
		if (access(out, R_OK) == 0) {
			char real[PATH_MAX];
			if (realpath(out, real) && strlen(real) < n)
				memcpy(out, real, strlen(real) + 1);
			return;
		}
	}
	cli_die("record: libcprof.so not found next to %s or in %s/../lib (set CPROF_LIBRARY)", dir, dir);
}

/* FILE made absolute against the current directory (the file need not exist). */
static void absolute(const char *path, char *out, size_t n)
{
	if (path[0] == '/') {
		if ((size_t)snprintf(out, n, "%s", path) >= n)
			cli_die("record: -o %s: path too long", path);
		return;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		cli_die("record: current directory: %s", strerror(errno));
	if ((size_t)snprintf(out, n, "%s/%s", cwd, path) >= n)
		cli_die("record: -o %s: path too long", path);
}

static int parse_hz(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 10000)
		cli_die("record: --hz %s: want a whole number of samples per second, 1 to 10000", s);
	return (int)v;
}

/* The child: set the runtime's environment and exec CMD; never returns. */
/* issue 5: a sanitizer runtime, which must stay first in LD_PRELOAD */
static bool is_sanitizer(const char *w, size_t n)
{
	static const char *const names[] = { "libasan", "libtsan", "libmsan", "liblsan",
					     "libubsan", "libhwasan", "libclang_rt" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		for (size_t k = 0; k + strlen(names[i]) <= n; k++)
			if (strncmp(w + k, names[i], strlen(names[i])) == 0)
				return true;
	return false;
}

/* LD_PRELOAD with lib inserted: last, or (heap) first after sanitizers. */
static void preload_value(char *buf, size_t n, const char *old, const char *lib, bool first)
{
	if (!old || !*old) {
		snprintf(buf, n, "%s", lib);
		return;
	}
	if (!first) {
		snprintf(buf, n, "%s %s", old, lib);
		return;
	}
	size_t len = 0;
	bool placed = false;
	buf[0] = 0;
	for (const char *p = old; *p;) {
		size_t w = strcspn(p, " :");
		if (w > 0) {
			if (!placed && !is_sanitizer(p, w)) {
				len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? " " : "", lib);
				placed = true;
			}
			len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%.*s", len ? " " : "", (int)w, p);
		}
		p += w;
		if (*p)
			p++;
	}
	if (!placed)
		snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? " " : "", lib);
}

/* Remove every CPROF_*_TREE variable: the runtime's marks of which
 * process started a tree, when cprof itself runs under a profiled one. */
static void unset_tree_marks(void)
{
	extern char **environ;
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			if (strncmp(*e, "CPROF_", 6) != 0 || !eq || eq - *e < 5 ||
			    strncmp(eq - 5, "_TREE", 5) != 0)
				continue;
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
			unsetenv(name);
			again = true;   /* environ changed under us */
			break;
		}
	}
}

static _Noreturn void run_child(char **cmd, const char *lib, const char *file, int hz, bool follow,
				const char *heap, const char *allocs, const char *const *xfile,
				const char *const *pass)
{
	for (size_t i = 0; i < NEXTRAS; i++) {
		unsetenv(extras[i].env);
		if (xfile[i] && setenv(extras[i].env, xfile[i], 1) != 0)
			goto fail;
	}
	unset_tree_marks();
	for (size_t i = 0; i < NPASSES; i++)
		if (pass[i] && setenv(passes[i].env, pass[i], 1) != 0)
			goto fail;
	char buf[PATH_MAX * 4 + 2];
	preload_value(buf, sizeof buf, getenv("LD_PRELOAD"), lib, heap || allocs);
	char num[32];
	if (setenv("LD_PRELOAD", buf, 1) != 0 || setenv("CPROF_CPU_PROFILE", file, 1) != 0)
		goto fail;
	unsetenv("CPROF_HEAP_PID");
	unsetenv("CPROF_HEAP_PROFILE");
	unsetenv("CPROF_ALLOCS_PROFILE");
	unsetenv("CPROF_CPU_FOLLOW");
	unsetenv("CPROF_CPU_PID");
	if ((heap && setenv("CPROF_HEAP_PROFILE", heap, 1) != 0) ||
	    (allocs && setenv("CPROF_ALLOCS_PROFILE", allocs, 1) != 0))
		goto fail;
	if (hz > 0) {
		snprintf(num, sizeof num, "%d", hz);
		if (setenv("CPROF_CPU_HZ", num, 1) != 0)
			goto fail;
	}
	snprintf(num, sizeof num, "%ld", (long)getpid());
	if (follow) {
		if (setenv("CPROF_FOLLOW_FORK", "1", 1) != 0)
			goto fail;
	} else {
		unsetenv("CPROF_FOLLOW_FORK");
		if (setenv("CPROF_CPU_PID", num, 1) != 0 ||
		    ((heap || allocs) && setenv("CPROF_HEAP_PID", num, 1) != 0))
			goto fail;
	}
	execvp(cmd[0], cmd);
	fprintf(stderr, "cprof: record: %s: %s\n", cmd[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
fail:
	fprintf(stderr, "cprof: record: environment: %s\n", strerror(errno));
	_exit(126);
}

/* FILE's directory, into dir. */
static void dir_of(const char *file, char *dir, size_t n)
{
	snprintf(dir, n, "%s", file);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, n, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
}

/* An output must be writable before the command runs (one line, exit 2). */
static void check_writable(const char *what, const char *file)
{
	char dir[PATH_MAX];
	dir_of(file, dir, sizeof dir);
	struct stat st;
	if (stat(dir, &st) != 0)
		cli_die("record: %s %s: cannot write in %s: %s", what, file, dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		cli_die("record: %s %s: %s is not a directory", what, file, dir);
	if (access(dir, W_OK | X_OK) != 0)
		cli_die("record: %s %s: cannot write in %s: %s", what, file, dir, strerror(errno));
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode))
		cli_die("record: %s %s: is a directory", what, file);
}

/* The merge of a followed tree: every DIR/PREFIX.PID.pb.gz, each sample
 * labelled pid=PID and comm=NAME, into out (tmp + rename).  Returns how
 * many processes were merged; the per-process files are removed. */
static int merge_tree(const char *dir, const char *prefix, const char *out, const char *what)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct { cprof_profile **v; size_t n, cap; } ps = { 0 };
	char pids[512] = "";
	size_t plen = 0, pl = strlen(prefix);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, pl) != 0 || e->d_name[pl] != '.')
			continue;
		const char *pid = e->d_name + pl + 1;
		size_t dl = strspn(pid, "0123456789");
		if (dl == 0 || strcmp(pid + dl, ".pb.gz") != 0)
			continue;
		char path[PATH_MAX * 2], num[32];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(num, sizeof num, "%.*s", (int)dl, pid);
		cprof_profile *p = NULL;
		cprof_error err = { 0 };
		if (cprof_decode_file(path, &p, &err) < 0) {
			fprintf(stderr, "cprof: record: %s profile of process %s: %s (left in %s)\n", what,
				num, err.msg, path);
			continue;
		}
		const char *comm = "?";
		if (p->mappings.n > 0) {
			const char *f = cprof_s(p, p->mappings.v[0].file);
			const char *b = strrchr(f, '/');
			comm = b ? b + 1 : f;
			if (!*comm)
				comm = "?";
		}
		char commbuf[256];
		snprintf(commbuf, sizeof commbuf, "%s", comm);
		if (ps.n == ps.cap) {
			ps.cap = ps.cap ? ps.cap * 2 : 16;
			cprof_profile **nv = realloc(ps.v, ps.cap * sizeof *nv);
			if (!nv)
				cli_die("record: out of memory merging the %s profiles", what);
			ps.v = nv;
		}
		if (cprof_add_label_all(p, "pid", num) < 0 || cprof_add_label_all(p, "comm", commbuf) < 0)
			cli_die("record: out of memory merging the %s profiles", what);
		ps.v[ps.n++] = p;
		unlink(path);
		n++;
		if (plen + 48 < sizeof pids)
			plen += (size_t)snprintf(pids + plen, sizeof pids - plen, "%s%s(%s)",
						 plen ? " " : "", num, commbuf);
	}
	closedir(d);
	if (n == 0)
		return 0;
	cprof_profile *m = NULL;
	cprof_error err = { 0 };
	void *buf = NULL;
	size_t len = 0;
	if (cprof_merge(ps.v, ps.n, &m, &err) < 0 || cprof_pb_encode(m, true, &buf, &len, &err) < 0)
		cli_die("record: merging the %s profiles: %s", what, err.msg);
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.cprof-tmp.%ld", out, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0 || rename(tmp, out) != 0) {
		unlink(tmp);
		cli_die("record: %s: %s", out, strerror(errno));
	}
	free(buf);
	cprof_profile_free(m);
	for (size_t i = 0; i < ps.n; i++)
		cprof_profile_free(ps.v[i]);
	free(ps.v);
	fprintf(stderr, "cprof: %s%sprofile written to %s; read it with: cprof -top %s "
		"(%d process%s merged, labelled pid and comm: %s%s)\n", strcmp(what, "CPU") ? what : "",
		strcmp(what, "CPU") ? " " : "", out, out, n, n == 1 ? "" : "es", pids,
		plen + 48 >= sizeof pids ? " ..." : "");
	return n;
}

/* With --per-process: print every FILE.PID written since start. */
static int report_followed(const char *file, time_t since)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", file);
	char *slash = strrchr(dir, '/');
	const char *base = slash + 1;
	if (slash == dir)
		dir[1] = 0, base = file + 1;
	else
		*slash = 0;
	size_t blen = strlen(base);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.')
			continue;
		const char *p = e->d_name + blen + 1;
		if (!*p || strspn(p, "0123456789") != strlen(p))
			continue;
		char path[PATH_MAX * 2];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name);
		if (stat(path, &st) != 0 || st.st_mtime < since || st.st_size == 0)
			continue;
		fprintf(stderr, "cprof: profile of process %s written to %s; read it with: cprof -top %s\n",
			p, path, path);
		found++;
	}
	closedir(d);
	return found;
}

/* issue 5: say where a heap/allocs profile went */
static void report_heap(const char *what, const char *file, bool launched)
{
	struct stat st;
	if (stat(file, &st) == 0 && st.st_size > 0 && strcmp(what, "trace") == 0)
		fprintf(stderr, "cprof: trace written to %s; open it in Perfetto or chrome://tracing\n", file);
	else if (stat(file, &st) == 0 && st.st_size > 0)
		fprintf(stderr, "cprof: %s profile written to %s; read it with: cprof -top %s\n", what, file, file);
	else if (launched)
		fprintf(stderr, "cprof: no %s profile was written to %s\n", what, file);
}

/* --NAME, --NAME=FILE of extras[]; --NAME=VALUE of passes[].  true when
 * a is one of them. */
static bool parse_extra(const char *a, const char **xout, const char **pass)
{
	const char *n = a[1] == '-' ? a + 2 : a + 1;
	size_t len = strcspn(n, "=");
	for (size_t k = 0; k < NEXTRAS; k++)
		if (strlen(extras[k].name) == len && strncmp(n, extras[k].name, len) == 0) {
			if (n[len] == '=') {
				xout[k] = n + len + 1;
			} else {
				static char defaults[NEXTRAS][32];
				snprintf(defaults[k], sizeof defaults[k], "%s%s", extras[k].name,
					 extras[k].suffix ? extras[k].suffix : ".pb.gz");
				xout[k] = defaults[k];
			}
			return true;
		}
	for (size_t k = 0; k < NPASSES; k++)
		if (strlen(passes[k].name) == len && strncmp(n, passes[k].name, len) == 0) {
			if (n[len] != '=' || !n[len + 1])
				cli_die("record: --%s needs a value (--%s=VALUE)", passes[k].name,
					passes[k].name);
			pass[k] = n + len + 1;
			return true;
		}
	return false;
}

int cli_record(int argc, char **argv)
{
	const char *out = "cpu.pb.gz";
	const char *heap_out = NULL, *allocs_out = NULL;
	const char *xout[NEXTRAS] = { 0 }, *pass[NPASSES] = { 0 };
	char xfile[NEXTRAS][PATH_MAX];
	const char *xabs[NEXTRAS] = { 0 };
	int hz = 0;
	bool follow = true, per_process = false;
	int i = 2;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0) {
			record_usage(stdout);
			return 0;
		}
		if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "-output") == 0) {
			if (++i >= argc)
				cli_die("record: %s needs a file name", a);
			out = argv[i];
		} else if (strncmp(a, "-o", 2) == 0 && a[2]) {
			out = a + 2;
		} else if (strncmp(a, "--output=", 9) == 0) {
			out = a + 9;
		} else if (strcmp(a, "--hz") == 0 || strcmp(a, "-hz") == 0) {
			if (++i >= argc)
				cli_die("record: %s needs a number", a);
			hz = parse_hz(argv[i]);
		} else if (strncmp(a, "--hz=", 5) == 0) {
			hz = parse_hz(a + 5);
		} else if (strcmp(a, "--follow-fork") == 0 || strcmp(a, "-follow-fork") == 0) {
			follow = true;       /* the default; kept for older command lines */
		} else if (strcmp(a, "--no-follow") == 0 || strcmp(a, "-no-follow") == 0) {
			follow = false;
		} else if (strcmp(a, "--per-process") == 0 || strcmp(a, "-per-process") == 0) {
			per_process = true;
		} else if (strcmp(a, "--heap") == 0 || strcmp(a, "-heap") == 0) {
			heap_out = "heap.pb.gz";
		} else if (strncmp(a, "--heap=", 7) == 0) {
			heap_out = a + 7;
		} else if (strcmp(a, "--allocs") == 0 || strcmp(a, "-allocs") == 0) {
			allocs_out = "allocs.pb.gz";
		} else if (strncmp(a, "--allocs=", 9) == 0) {
			allocs_out = a + 9;
		} else if (!parse_extra(a, xout, pass)) {
			cli_die("record: unknown option %s (see 'cprof record --help')", a);
		}
	}
	if (i >= argc)
		cli_die("record: no command given (usage: cprof record [-o FILE] [--hz N] [--no-follow] [--per-process] [--PROFILE[=FILE]]... -- CMD ARGS...; see cprof record --help)");
	if (!*out)
		cli_die("record: -o: empty file name");
	char **cmd = argv + i;

	char lib[PATH_MAX], file[PATH_MAX], hfile[PATH_MAX], afile[PATH_MAX];
	find_library(lib, sizeof lib);
	absolute(out, file, sizeof file);
	if (heap_out && !*heap_out)
		cli_die("record: --heap=: empty file name");
	if (allocs_out && !*allocs_out)
		cli_die("record: --allocs=: empty file name");
	if (heap_out)
		absolute(heap_out, hfile, sizeof hfile);
	if (allocs_out)
		absolute(allocs_out, afile, sizeof afile);
	if ((heap_out && (strcmp(hfile, file) == 0 || (allocs_out && strcmp(hfile, afile) == 0))) ||
	    (allocs_out && strcmp(afile, file) == 0))
		cli_die("record: the CPU, heap and allocs profiles need different files");
	if (per_process && !follow)
		cli_die("record: --per-process needs the processes followed (not --no-follow)");
	/* before the command runs: a path that cannot be written fails now */
	check_writable("-o", file);
	if (heap_out)
		check_writable("--heap", hfile);
	if (allocs_out)
		check_writable("--allocs", afile);
	if (heap_out && unlink(hfile) != 0 && errno != ENOENT)
		cli_die("record: %s: %s", hfile, strerror(errno));
	if (allocs_out && unlink(afile) != 0 && errno != ENOENT)
		cli_die("record: %s: %s", afile, strerror(errno));
	for (size_t k = 0; k < NEXTRAS; k++) {
		if (!xout[k])
			continue;
		if (!*xout[k])
			cli_die("record: --%s=: empty file name", extras[k].name);
		absolute(xout[k], xfile[k], sizeof xfile[k]);
		check_writable(extras[k].name, xfile[k]);
		if (strcmp(xfile[k], file) == 0 || (heap_out && strcmp(xfile[k], hfile) == 0) ||
		    (allocs_out && strcmp(xfile[k], afile) == 0))
			cli_die("record: --%s: %s is already another profile's file", extras[k].name, xfile[k]);
		for (size_t j = 0; j < k; j++)
			if (xabs[j] && strcmp(xabs[j], xfile[k]) == 0)
				cli_die("record: --%s and --%s need different files", extras[j].name,
					extras[k].name);
		if (unlink(xfile[k]) != 0 && errno != ENOENT)
			cli_die("record: %s: %s", xfile[k], strerror(errno));
		xabs[k] = xfile[k];
	}
	if (strchr(lib, ' ') || strchr(lib, ':'))
		cli_die("record: %s: LD_PRELOAD cannot name a path with a space or colon", lib);

	/* A stale profile must not pass for this run's. */
	if (unlink(file) != 0 && errno != ENOENT)
		cli_die("record: %s: %s", file, strerror(errno));

	if (strchr(file, '%') && !(follow && !per_process))
		cli_die("record: -o %s: a %% in the file name (the runtime reads it as a pattern)", file);
	/* Where the processes write: FILE itself (--no-follow), FILE.%p
	 * (--per-process), or a private directory merged at the end. */
	char tdir[PATH_MAX], cpat[PATH_MAX + 32], hpat[PATH_MAX + 32], apat[PATH_MAX + 32];
	tdir[0] = 0;
	const char *cenv = file, *henv = heap_out ? hfile : NULL, *aenv = allocs_out ? afile : NULL;
	if (follow && per_process) {
		snprintf(cpat, sizeof cpat, "%s.%%p", file);
		cenv = cpat;
		if (heap_out) {
			snprintf(hpat, sizeof hpat, "%s.%%p", hfile);
			henv = hpat;
		}
		if (allocs_out) {
			snprintf(apat, sizeof apat, "%s.%%p", afile);
			aenv = apat;
		}
	} else if (follow) {
		char d[PATH_MAX];
		dir_of(file, d, sizeof d);
		if ((size_t)snprintf(tdir, sizeof tdir, "%s/.cprof-record-XXXXXX", d) >= sizeof tdir)
			cli_die("record: -o %s: path too long", file);
		if (!mkdtemp(tdir))
			cli_die("record: cannot create a directory in %s: %s", d, strerror(errno));
		snprintf(cpat, sizeof cpat, "%s/cpu.%%p.pb.gz", tdir);
		snprintf(hpat, sizeof hpat, "%s/heap.%%p.pb.gz", tdir);
		snprintf(apat, sizeof apat, "%s/allocs.%%p.pb.gz", tdir);
		cenv = cpat;
		henv = heap_out ? hpat : NULL;
		aenv = allocs_out ? apat : NULL;
	}

	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	time_t start = time(NULL);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		cli_die("record: fork: %s", strerror(errno));
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		run_child(cmd, lib, cenv, hz, follow, henv, aenv, xabs, pass);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			cli_die("record: waitpid: %s", strerror(errno));
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);

	bool launched = !(WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127));
	if (tdir[0]) {
		if (merge_tree(tdir, "cpu", file, "CPU") == 0 && launched)
			fprintf(stderr, "cprof: no profile was written to %s\n", file);
		if (heap_out && merge_tree(tdir, "heap", hfile, "heap") == 0 && launched)
			fprintf(stderr, "cprof: no heap profile was written to %s\n", hfile);
		if (allocs_out && merge_tree(tdir, "allocs", afile, "allocs") == 0 && launched)
			fprintf(stderr, "cprof: no allocs profile was written to %s\n", afile);
		if (rmdir(tdir) != 0)
			fprintf(stderr, "cprof: record: files left in %s\n", tdir);
		heap_out = allocs_out = NULL;   /* reported above */
	} else if (per_process) {
		if (report_followed(file, start) == 0 && launched)
			fprintf(stderr, "cprof: no profile was written to %s.PID\n", file);
		if (heap_out)
			report_followed(hfile, start);
		if (allocs_out)
			report_followed(afile, start);
		heap_out = allocs_out = NULL;
	} else {
		struct stat st;
		if (stat(file, &st) == 0 && st.st_size > 0)
			fprintf(stderr, "cprof: profile written to %s; read it with: cprof -top %s\n", file, file);
		else if (launched)
			fprintf(stderr, "cprof: no profile was written to %s\n", file);
	}
	if (heap_out)
		report_heap("heap", hfile, launched);
	if (allocs_out)
		report_heap("allocs", afile, launched);
	for (size_t k = 0; k < NEXTRAS; k++)
		if (xabs[k])
			report_heap(extras[k].name, xabs[k], launched);

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		fflush(NULL);
		signal(sig, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(sig);
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
