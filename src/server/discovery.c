/*
 * discovery.c - file_sd_configs: a job's targets from files of target
 * groups, as Prometheus' file-based service discovery reads them.
 *
 *   file_sd_configs:
 *     - files: [sd/tg_*.json, more.yaml]      # glob in the last part
 *       refresh_interval: 5m
 *
 * Each file is a YAML or JSON list of {targets: [HOST:PORT...], labels:
 * {...}} (config.c's srv_sd_parse); each target gets its group's labels
 * and __meta_filepath, then the job's relabel_configs (relabel.c).
 *
 * srv_sd_poll is called about once a second (the scrapers' discovery
 * thread).  It expands the patterns (glob), stats each file and re-reads
 * the files whose modification time, size or inode changed, and every
 * file once per refresh_interval; a file no longer matched drops its
 * targets.  A file that cannot be read or parsed keeps the targets it had
 * (as Prometheus does) and its problem is one line on stderr, once per
 * version of the file; it is tried again at each poll until it reads.
 * The job's targets are its static ones then each file's, in path order.
 *
 * Bounds: a file is read up to 4 MiB, SD_MAX_FILES files per job,
 * SD_MAX_TARGETS targets per file.
 *
 * Threads: an srv_sd belongs to one thread (the discovery thread); the
 * job config it reads is immutable.
 */
#include "server_int.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SD_MAX_FILE ((size_t)4 << 20)
#define SD_MAX_FILES 256
#define SD_MAX_TARGETS 5000

typedef struct sd_file {
	char path[SRV_PATH_MAX];
	bool seen;                  /* matched at this poll */
	bool ok;                    /* the last read succeeded */
	int64_t mtime_ns;
	off_t size;
	ino_t ino;
	srv_target_cfg *targets;    /* the last good read's; malloc'd */
	size_t n;
} sd_file;

struct srv_sd {
	const srv_job_cfg *job;
	sd_file *files;
	size_t nfiles;
	int64_t next_refresh_ns;
	bool first;
};

static void sd_targets_free(srv_target_cfg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		srv_target_cfg_clear(&v[i]);
	free(v);
}

srv_sd *srv_sd_new(const srv_job_cfg *j)
{
	srv_sd *d = calloc(1, sizeof *d);
	if (d) {
		d->job = j;
		d->first = true;
	}
	return d;
}

void srv_sd_free(srv_sd *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfiles; i++)
		sd_targets_free(d->files[i].targets, d->files[i].n);
	free(d->files);
	free(d);
}

typedef struct collect {
	const srv_job_cfg *job;
	srv_target_cfg *v;
	size_t n, cap;
} collect;

static int on_target(void *ctx, const char *addr, const srv_lset *labels, char *err, size_t errsz)
{
	collect *c = ctx;
	if (c->n >= SD_MAX_TARGETS) {
		snprintf(err, errsz, "more than %d targets in a file", SD_MAX_TARGETS);
		return -1;
	}
	if (cprof_reserve((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v)) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	int rc = srv_target_build(c->job, addr, labels, &c->v[c->n], err, errsz);
	if (rc == 0)
		c->n++;
	return rc < 0 ? -1 : 0;
}

/* Re-read f: true when its targets changed. */
static bool sd_read(srv_sd *d, sd_file *f)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error e = { 0 };
	char err[1024];
	collect c = { .job = d->job };
	int rc;
	if (cprof_read_file(f->path, SD_MAX_FILE, &buf, &len, &e)) {
		snprintf(err, sizeof err, "%s: %s", f->path, e.msg);
		rc = -1;
	} else {
		rc = srv_sd_parse(f->path, buf, len, on_target, &c, err, sizeof err);
	}
	free(buf);
	if (rc) {
		sd_targets_free(c.v, c.n);
		if (f->ok || d->first)
			fprintf(stderr, "cprof server: file_sd of job %s: %s (its previous targets are kept)\n",
				d->job->name, err);
		f->ok = false;
		return false;
	}
	f->ok = true;
	bool same = c.n == f->n;
	for (size_t i = 0; same && i < c.n; i++)
		same = c.v[i].key == f->targets[i].key;
	sd_targets_free(f->targets, f->n);
	f->targets = c.v;
	f->n = c.n;
	return !same;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const sd_file *)a)->path, ((const sd_file *)b)->path);
}

int srv_sd_poll(srv_sd *d, int64_t now_ns, const srv_target_cfg ***out, size_t *n)
{
	const srv_job_cfg *j = d->job;
	bool refresh = d->first || now_ns >= d->next_refresh_ns;
	bool changed = d->first;
	if (refresh) {
		int64_t r = INT64_MAX;
		for (size_t i = 0; i < j->nfile_sd; i++)
			if (j->file_sd[i].refresh_ns < r)
				r = j->file_sd[i].refresh_ns;
		d->next_refresh_ns = now_ns + r;
	}
	for (size_t i = 0; i < d->nfiles; i++)
		d->files[i].seen = false;
	for (size_t s = 0; s < j->nfile_sd; s++)
		for (size_t p = 0; p < j->file_sd[s].nfiles; p++) {
			glob_t g;
			if (glob(j->file_sd[s].files[p], 0, NULL, &g))
				continue;
			for (size_t k = 0; k < g.gl_pathc; k++) {
				const char *path = g.gl_pathv[k];
				struct stat sb;
				if (strlen(path) >= SRV_PATH_MAX || stat(path, &sb) || !S_ISREG(sb.st_mode))
					continue;
				sd_file *f = NULL;
				for (size_t i = 0; i < d->nfiles && !f; i++)
					if (!strcmp(d->files[i].path, path))
						f = &d->files[i];
				if (!f) {
					if (d->nfiles >= SD_MAX_FILES)
						continue;
					void *v = realloc(d->files, (d->nfiles + 1) * sizeof *d->files);
					if (!v)
						continue;
					d->files = v;
					f = &d->files[d->nfiles++];
					memset(f, 0, sizeof *f);
					snprintf(f->path, sizeof f->path, "%s", path);
					f->ok = true;       /* a first failure is reported */
					f->mtime_ns = -1;
				}
				if (f->seen)
					continue;
				f->seen = true;
				int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
				bool moved = mt != f->mtime_ns || sb.st_size != f->size || sb.st_ino != f->ino;
				if (moved && !f->ok)
					f->ok = true;       /* a new version: report its problem again */
				if (refresh || moved || !f->ok) {
					f->mtime_ns = mt;
					f->size = sb.st_size;
					f->ino = sb.st_ino;
					changed |= sd_read(d, f);
				}
			}
			globfree(&g);
		}
	for (size_t i = 0; i < d->nfiles;)
		if (!d->files[i].seen) {
			changed = true;
			sd_targets_free(d->files[i].targets, d->files[i].n);
			d->files[i] = d->files[--d->nfiles];
		} else {
			i++;
		}
	d->first = false;
	if (!changed)
		return 0;
	qsort(d->files, d->nfiles, sizeof *d->files, by_path);
	size_t total = j->ntargets;
	for (size_t i = 0; i < d->nfiles; i++)
		total += d->files[i].n;
	const srv_target_cfg **v = malloc((total ? total : 1) * sizeof *v);
	if (!v)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < j->ntargets; i++)
		v[o++] = &j->targets[i];
	for (size_t i = 0; i < d->nfiles; i++)
		for (size_t k = 0; k < d->files[i].n; k++)
			v[o++] = &d->files[i].targets[k];
	*out = v;
	*n = o;
	return 1;
}

int srv_sd_static(const srv_job_cfg *j, const srv_target_cfg ***out, size_t *n)
{
	const srv_target_cfg **v = malloc((j->ntargets ? j->ntargets : 1) * sizeof *v);
	if (!v)
		return -1;
	for (size_t i = 0; i < j->ntargets; i++)
		v[i] = &j->targets[i];
	*out = v;
	*n = j->ntargets;
	return 1;
}
