/*
 * outfile.c - where a profile named by the environment goes, and how it is
 * written: never truncating the old file first, never overwriting another
 * process's profile (rt_out, rt_profile.h).
 *
 * Writing.  A profile is written to a temporary file in FILE's directory
 * (FILE.cprof-tmp.PID, created exclusively) and renamed over FILE once
 * complete, so a reader never sees half a profile and a run that dies
 * while writing leaves the old FILE as it was.
 *
 * Process trees.  Every process started from a profiled one inherits the
 * preload and CPROF_*_PROFILE: wrappers (timeout, env, nohup, sh -c,
 * make), the program meant, and whatever else it runs.  The rule:
 *
 *  - A pattern with %p (CPROF_CPU_PROFILE=cpu.%p.pb.gz) gives every
 *    process its own file; %e (program name), %h (host), %t (start time)
 *    and %% expand too.
 *  - Without %p, the first process to see FILE is the tree's root for it:
 *    its constructor records, in NAME_TREE (e.g. CPROF_CPU_PROFILE_TREE),
 *    its pid, a hash of FILE's name and FILE's identity then (device,
 *    inode, mtime; "-" when absent).  Every process inherits that.
 *  - At the end, a process that recorded no sample writes nothing, unless
 *    it is the root (the pid that started the tree: an exec keeps it) and
 *    no other process wrote FILE meanwhile.  So a wrapper that spent its
 *    life in waitpid never overwrites the real profile, and a lone
 *    program with nothing sampled still leaves an (empty) profile.
 *  - A process with samples takes FILE if FILE is still what it was when
 *    the tree started (or what this same pid wrote itself); a descendant
 *    that does so also links its file as FILE.PID.  The root, if it has
 *    samples and used more CPU itself than the programs it waited for (it
 *    was not a wrapper: make, timeout or a shell that ran a command take a
 *    sample now and then), takes FILE even then (the descendant's stays as FILE.PID,
 *    one line says so); if it has none, it leaves FILE to the descendant
 *    and removes the extra name.  Otherwise (FILE written by another
 *    process of the run that is not so linked) this one's profile goes to
 *    FILE.PID.  Only the root speaks on stderr, at its end: where its own
 *    profile went, and one line naming the FILE.PID files of the run's
 *    other processes written since the tree started.  A descendant says
 *    nothing: its parent may read its stderr (Tcl's exec fails on any
 *    byte there).  So FILE is the root's profile
 *    when the root ran anything, else the first descendant's to finish
 *    with samples: the program behind any chain of wrappers.
 *    The check and the rename are done under an exclusive flock of FILE's
 *    directory (bounded wait, then FILE.PID), so two processes ending at
 *    once cannot both take FILE.
 * Nothing is lost: at most the first process to finish with samples holds
 * FILE and the others are beside it.  `cprof record` gives every process
 * its own file (%p) and merges them.
 *
 * Threads: rt_out_init runs in constructors, once per rt_out, on static
 * storage (getenv, setenv: before the program's threads); rt_out_write
 * runs at exit or on a runtime thread (open, flock, rename; no signal
 * handler).  One rt_out is written by one
 * thread at a time (its owner's exit path claims it).
 */
#include "rt_base.h"
#include "rt_profile.h"
#include "rt_env.h"
#include "cprof.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- symbolizing in a helper process (rt_profile.h) ------------------------ */

static __thread int sym_defer_ms;   /* > 0: inside a bracket, its bound */
static __thread bool sym_pending;   /* a build left addresses to name */

void rt_sym_defer_begin(int timeout_ms)
{
	sym_defer_ms = timeout_ms > 0 ? timeout_ms : 1;
	sym_pending = false;
}

void rt_sym_defer_end(void)
{
	sym_defer_ms = 0;
	sym_pending = false;
}

int rt_sym_deferring(void)
{
	return sym_defer_ms;
}

void rt_sym_mark_pending(void)
{
	if (sym_defer_ms > 0)
		sym_pending = true;
}

static int sym_timeout = -1;
static pthread_once_t sym_timeout_once = PTHREAD_ONCE_INIT;

static void sym_timeout_init(void)
{
	long s = 60;
	(void)rt_env_long("CPROF_SYMBOLIZE_TIMEOUT", 1, 3600, "60 seconds", &s);
	sym_timeout = (int)(s * 1000);
}

int rt_sym_timeout_ms(void)
{
	pthread_once(&sym_timeout_once, sym_timeout_init);
	return sym_timeout;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h;
}

/* "dev:ino:mtime" of a file (fd >= 0: the open one), "-" when absent. */
static void identity(const char *path, int fd, char *out, size_t n)
{
	struct stat st;
	if (fd >= 0 ? fstat(fd, &st) != 0 : stat(path, &st) != 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%lx:%lx:%lld.%09ld", (unsigned long)st.st_dev,
			 (unsigned long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static int expand(const rt_out *o, long pid, char *out, size_t n)
{
	char host[72] = "";
	if (strstr(o->pattern, "%h"))
		gethostname(host, sizeof host - 1);
	return rt_expand_pattern(o->pattern, pid, program_invocation_short_name, host,
				 o->start_time, out, n);
}

static bool out_init(rt_out *o, const char *env, const char *what, bool tree);

/* Runtime work in a constructor (setenv allocates): never the program's. */
bool rt_out_init(rt_out *o, const char *env, const char *what, bool tree)
{
	rt_self_enter();
	bool ok = out_init(o, env, what, tree);
	rt_self_leave();
	return ok;
}

static bool out_init(rt_out *o, const char *env, const char *what, bool tree)
{
	/* not asked (the common case, in every preloaded process): o is not
	 * touched.  The callers' rt_outs are static storage, zero (inactive)
	 * until initialised, and each is initialised once, by a constructor;
	 * clearing the nine 12 KiB rt_outs was 114,000 instructions and ~27
	 * page faults of every preloaded process's start */
	if (!getenv(env))
		return false;
	memset(o, 0, sizeof *o);
	o->env = env;
	o->what = what;
	o->start_time = (long long)time(NULL);
	char conseq[64];
	snprintf(conseq, sizeof conseq, "no %s profile", what);
	const char *v;
	if (rt_env_pattern(env, conseq, &v) != RT_ENV_OK)
		return false;
	if (strlen(v) >= sizeof o->pattern - 32) {
		rt_env_complain(env, v, "path too long", conseq);
		return false;
	}
	snprintf(o->pattern, sizeof o->pattern, "%s", v);
	const char *why;
	(void)rt_parse_pattern(o->pattern, &o->per_process, &why);
	o->tree = tree;
	o->active = true;
	long me = (long)getpid();
	if (!tree) {
		o->root = true;
		return true;
	}
	/* NAME_TREE=ROOTPID:HASH:IDENTITY */
	char var[96], val[256];
	snprintf(var, sizeof var, "%s_TREE", env);
	uint64_t h = name_hash(o->pattern);
	const char *t = getenv(var);
	char *end;
	long rp = t ? strtol(t, &end, 10) : 0;
	unsigned long long th = 0;
	if (t && rp > 0 && *end == ':') {
		th = strtoull(end + 1, &end, 16);
		if (*end != ':')
			rp = 0;
	}
	if (!t || rp <= 0 || th != h) {
		/* this process starts the tree for FILE */
		char path[PATH_MAX];
		if (o->per_process || expand(o, me, path, sizeof path) != 0)
			snprintf(o->was, sizeof o->was, "-");
		else
			identity(path, -1, o->was, sizeof o->was);
		snprintf(val, sizeof val, "%ld:%llx:%s", me, (unsigned long long)h, o->was);
		setenv(var, val, 1);
		o->root = true;
	} else {
		snprintf(o->was, sizeof o->was, "%s", end + 1);
		o->root = rp == me;
	}
	return true;
}

void rt_out_forked(rt_out *o)
{
	/* a followed fork child: never the root, nothing written yet */
	o->root = false;
	o->mine[0] = 0;
}

/* Take FILE's directory's lock: the open directory (-1: none).  *busy when
 * another process held it for the whole bound (3 s): then this one's
 * profile goes to FILE.PID.  Where locks do not work (an unreadable
 * directory, a file system without flock) it goes on unlocked. */
static int lock_dir(const char *path, bool *busy)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	*busy = false;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (int i = 0; i < 300; i++) {   /* at most 3 s */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return fd;                /* no locks here */
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	*busy = true;
	return fd;
}

/* The FILE.PID names of FILE (path) in its open directory dfd, one by one:
 * each, as a path beside FILE, into out and fn(ctx, name in dfd, out);
 * the walk stops when fn returns true.  false when the directory cannot
 * be listed. */
static bool each_numbered(const char *path, int dfd, bool (*fn)(void *ctx, int dfd,
								  const char *name, const char *full),
			  void *ctx)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bl = strlen(base);
	int d2 = dfd >= 0 ? dup(dfd) : -1;
	DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
	if (!d) {
		if (d2 >= 0)
			close(d2);
		return false;
	}
	rewinddir(d);   /* the dup shares dfd's offset: an earlier walk left it at the end */
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *p = e->d_name + bl + 1;
		if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.' || !*p ||
		    strspn(p, "0123456789") != strlen(p))
			continue;
		char full[PATH_MAX + 24];
		snprintf(full, sizeof full, "%.*s%s", (int)(base - path), path, e->d_name);
		if (fn(ctx, dfd, e->d_name, full))
			break;
	}
	closedir(d);
	return true;
}

typedef struct alias_ctx {
	struct stat st;
	char *out;
	size_t n;
	bool found;
} alias_ctx;

static bool alias_fn(void *ctx, int dfd, const char *name, const char *full)
{
	alias_ctx *a = ctx;
	struct stat s;
	if (fstatat(dfd, name, &s, 0) == 0 && s.st_ino == a->st.st_ino && s.st_dev == a->st.st_dev) {
		snprintf(a->out, a->n, "%s", full);
		a->found = true;
	}
	return a->found;
}

/* FILE (path) holds a descendant's profile that is also linked as
 * FILE.PID (outfile.c's rule): true, with that name in out.  dfd: FILE's
 * directory, open. */
static bool alias_of(const char *path, int dfd, char *out, size_t n)
{
	alias_ctx a = { .out = out, .n = n };
	if (dfd < 0 || stat(path, &a.st) != 0 || a.st.st_nlink < 2)
		return false;
	(void)each_numbered(path, dfd, alias_fn, &a);
	return a.found;
}

typedef struct others_ctx {
	long long since;
	const char *skip1, *skip2;
	char line[1024];
	size_t used;
	int named, more;
} others_ctx;

static bool others_fn(void *ctx, int dfd, const char *name, const char *full)
{
	others_ctx *o = ctx;
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
	    (long long)st.st_mtime < o->since || (o->skip1 && strcmp(full, o->skip1) == 0) ||
	    (o->skip2 && strcmp(full, o->skip2) == 0))
		return false;
	int k = o->named < 8 ? snprintf(o->line + o->used, sizeof o->line - o->used, "%s%s",
					 o->named ? ", " : "", full) : -1;
	if (k > 0 && (size_t)k < sizeof o->line - o->used) {
		o->used += (size_t)k;
		o->named++;
	} else {
		o->line[o->used] = 0;
		o->more++;
	}
	return false;
}

/* The root's line about its run's other files: FILE.PID names in FILE's
 * directory dfd, written since the tree started (since), other than
 * skip1 and skip2 (named already), on one line of stderr: at most 8
 * named, then how many more.  A descendant says nothing on stderr: the
 * program that started it may read that stream (Tcl's exec fails on any
 * byte there, test harnesses compare it). */
static void name_others(const char *path, int dfd, const char *what, long long since,
			const char *skip1, const char *skip2)
{
	others_ctx o = { .since = since, .skip1 = skip1, .skip2 = skip2 };
	if (!each_numbered(path, dfd, others_fn, &o) || !o.named)
		return;
	if (o.more)
		fprintf(stderr, "cprof: other processes of this run wrote their %s profiles beside %s: "
			"%s and %d more\n", what, path, o.line, o.more);
	else
		fprintf(stderr, "cprof: other processes of this run wrote their %s profiles beside %s: %s\n",
			what, path, o.line);
}

/* Did the programs this process started and waited for use more CPU than
 * it did itself?  Then it was a wrapper (make, timeout, a shell running a
 * command): whatever it sampled of its own, FILE stays the program's. */
static bool waited_for_more(void)
{
	struct rusage self, kids;
	if (getrusage(RUSAGE_SELF, &self) != 0 || getrusage(RUSAGE_CHILDREN, &kids) != 0)
		return false;
	double s = (double)self.ru_utime.tv_sec + (double)self.ru_stime.tv_sec +
		   ((double)self.ru_utime.tv_usec + (double)self.ru_stime.tv_usec) / 1e6;
	double k = (double)kids.ru_utime.tv_sec + (double)kids.ru_stime.tv_sec +
		   ((double)kids.ru_utime.tv_usec + (double)kids.ru_stime.tv_usec) / 1e6;
	return k > s;
}

/* The root sampled nothing: FILE stays the descendant's, under one name. */
static void drop_alias(const char *path, int dfd)
{
	char other[PATH_MAX + 24];
	if (alias_of(path, dfd, other, sizeof other))
		unlink(other);
}

int rt_out_write(rt_out *o, bool (*has)(void *ctx), int (*write_fn)(int fd, void *ctx), void *ctx)
{
	if (!o->active)
		return 0;
	long me = (long)getpid();
	char path[PATH_MAX], tmp[PATH_MAX + 80];
	if (expand(o, me, path, sizeof path - 24) != 0) {
		rt_set_error("cannot write the %s profile: %s=%s: path too long", o->what, o->env,
			     o->pattern);
		return CPROF_ERR_IO;
	}
	bool has_samples = true, has_known = false;
	if (o->tree && (!o->root || o->at_exec)) {
		has_samples = has ? has(ctx) : true;
		has_known = true;
		if (!has_samples)
			return 0;    /* a wrapper's empty profile never replaces anything */
	}
	snprintf(tmp, sizeof tmp, "%s.cprof-tmp.%ld", o->exec_to[0] ? o->exec_to : path, me);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rt_set_error("cannot write the %s profile to %s: %s", o->what, path, strerror(errno));
		return CPROF_ERR_IO;
	}
	int rc = write_fn(fd, ctx);
	char ident[160];
	identity(NULL, fd, ident, sizeof ident);
	if (close(fd) != 0 && rc == 0) {
		rt_set_error("cannot write the %s profile to %s: %s", o->what, path, strerror(errno));
		rc = CPROF_ERR_IO;
	}
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	if (sym_pending && rt_sym_helper_run) {
		/* named by the helper process, in place, before it is renamed:
		 * FILE only ever holds whole profiles, and the rule below sees
		 * the file as it will stay */
		sym_pending = false;
		if (rt_sym_helper_run(tmp, o->exec_to[0] ? o->exec_to : path, o->what, sym_defer_ms))
			identity(tmp, -1, ident, sizeof ident);
	}
	const char *dest = o->exec_to[0] ? o->exec_to : path;
	char alt[PATH_MAX + 24], other[PATH_MAX + 24] = "";
	snprintf(alt, sizeof alt, "%s.%ld", path, me);
	int dfd = -1;
	bool busy = false, alias = false;
	if (o->tree && !o->per_process && !o->exec_to[0]) {
		dfd = lock_dir(path, &busy);
		char cur[160];
		identity(path, -1, cur, sizeof cur);
		bool unchanged = strcmp(cur, o->was) == 0 || (o->mine[0] && strcmp(cur, o->mine) == 0);
		if (!has_known)
			has_samples = has ? has(ctx) : true;
		if (busy) {
			dest = alt;
		} else if (!unchanged && o->root && has_samples && waited_for_more()) {
			/* a wrapper that took a sample of its own: FILE stays the
			 * program's, under one name; this one goes beside it */
			drop_alias(path, dfd);
			dest = alt;
		} else if (!unchanged && o->root && has_samples &&
			   alias_of(path, dfd, other, sizeof other)) {
			/* FILE holds a descendant's profile, also linked as
			 * FILE.PID: the root's own profile takes FILE */
		} else if (!unchanged) {
			if (!has_samples) {
				if (o->root) {   /* FILE stays the descendant's: drop its alias */
					drop_alias(path, dfd);
					name_others(path, dfd, o->what, o->start_time, NULL, NULL);
				}
				unlink(tmp);
				if (dfd >= 0)
					close(dfd);   /* releases the lock */
				return 0;
			}
			dest = alt;
		} else if (!o->root) {
			/* a descendant takes FILE for now, and keeps FILE.PID too: the
			 * root, if it sampled, takes FILE at its end without loss */
			alias = link(tmp, alt) == 0;
		}
	}
	if (rename(tmp, dest) != 0) {
		rt_set_error("cannot write the %s profile to %s: %s", o->what, dest, strerror(errno));
		unlink(tmp);
		if (alias)
			unlink(alt);
		rc = CPROF_ERR_IO;
	} else if (dest == path) {
		snprintf(o->mine, sizeof o->mine, "%s", ident);
		if (other[0])
			fprintf(stderr, "cprof: the %s profile of process %ld (%s) is in %s; %s is in %s\n",
				o->what, me, program_invocation_short_name, path,
				"another process's of this run", other);
	} else if (dest != o->exec_to && o->root) {
		fprintf(stderr, "cprof: %s was written by another process of this run; the %s profile "
			"of process %ld (%s) is in %s\n", path, o->what, me,
			program_invocation_short_name, dest);
	}
	if (rc == 0 && o->root && o->tree && !o->per_process && !o->exec_to[0])
		name_others(path, dfd, o->what, o->start_time, dest == path ? NULL : dest,
			    other[0] ? other : NULL);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int rt_out_path(const rt_out *o, char *out, size_t n)
{
	return expand(o, (long)getpid(), out, n);
}

bool rt_out_writable(const rt_out *o)
{
	char path[PATH_MAX];
	if (expand(o, (long)getpid(), path, sizeof path - 24) != 0)
		return false;
	char *slash = strrchr(path, '/');
	if (!slash)
		return access(".", W_OK | X_OK) == 0;
	if (slash == path)
		return access("/", W_OK | X_OK) == 0;
	*slash = 0;
	return access(path, W_OK | X_OK) == 0;
}

bool rt_out_set_path(rt_out *o, const char *path, const char *what)
{
	memset(o, 0, sizeof *o);
	o->env = "path";
	o->what = what;
	o->start_time = (long long)time(NULL);
	size_t k = 0;
	for (const char *c = path; *c; c++) {
		if (k + 3 >= sizeof o->pattern - 32)
			return false;
		if (*c == '%')
			o->pattern[k++] = '%';   /* the API's path is literal */
		o->pattern[k++] = *c;
	}
	o->pattern[k] = 0;
	o->active = o->root = true;
	return true;
}
