/*
 * read_file.c - reading a whole file into memory (cprof_read_file), on its
 * own so that what needs only this (the runtime's endpoint plugin, for
 * TLS keys) does not link the readers of io.c and their libraries.
 */
#include "pb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cprof_read_file(const char *path, size_t max, void **out, size_t *outlen,
		    cprof_error *err)
{
	if (!path || !out || !outlen)
		return cprof_seterr(err, CPROF_EINVAL, "cprof_read_file: bad arguments");
	*out = NULL;
	*outlen = 0;
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cprof_seterr(err, CPROF_EIO, "cannot open: %s", strerror(errno));
	int rc = 0;
	uint8_t *buf = NULL;
	size_t n = 0, cap, hard = cp_add(max, 1);
	struct stat st;
	if (fstat(fd, &st)) {
		rc = cprof_seterr(err, CPROF_EIO, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = cprof_seterr(err, CPROF_EIO, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > max) {
			rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
			goto out;
		}
		cap = (size_t)st.st_size + 1;   /* +1 sees a file that grew */
	} else {
		cap = 64 * 1024;
	}
	if (cap > hard)
		cap = hard;
	if (!(buf = malloc(cap ? cap : 1))) {
		rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= hard) {
				rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
				goto out;
			}
			size_t ncap = cp_mul(cap, 2);
			if (ncap > hard)
				ncap = hard;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t want = cap - n;
		ssize_t r = read(fd, buf + n, want > ((size_t)1 << 30) ? ((size_t)1 << 30) : want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = cprof_seterr(err, CPROF_EIO, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max)
		rc = cprof_seterr(err, CPROF_ELIMIT, "input is larger than the limit of %zu bytes", max);
out:
	if (!is_stdin)
		close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = n;
	return 0;
}
