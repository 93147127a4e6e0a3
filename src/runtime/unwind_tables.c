/*
 * unwind_tables.c - compact unwind tables for one module (x86-64), built
 * outside signal handlers from the module's .eh_frame by the runtime's own
 * CFI reader (ehframe.c), which computes the rules; here they are
 * flattened and packed.
 *
 * The rows come in address order, one per range where the rule changes
 * (see ehframe.c for how FDEs and CFA programs become rows).  Each row is
 * reduced to the only rules the handler can follow cheaply: CFA = rsp or
 * rbp + offset, return address and rbp saved at CFA-relative offsets (or
 * rbp unchanged / undefined).  Distinct rules are few (a few hundred in
 * libc), so rows keep a 4-byte start and a 2-byte index into a palette of
 * rules.  Three special shapes are recognised: the PLT's CFA expression
 * (rsp + 8, + 8 more past a threshold in each 16-byte entry), signal
 * frames (the CIE's 'S' augmentation: __restore_rt), and the outermost
 * frame (return address undefined: _start, clone's child).  Any other rule
 * (an expression, a register other than rsp/rbp, offsets that do not fit)
 * makes the row RT_ROW_UNKNOWN, where the unwinder stops or falls back to
 * frame pointers.  Adjacent rows with equal rules are merged.
 *
 * Memory: the file is mapped read-only, rows grow in an anonymous mapping
 * and the table is one anonymous mapping (rt_utable_free unmaps it): no
 * malloc, no stdio, no lock, so building is safe while the program holds
 * its allocator's lock, and async-signal-safe.
 *
 * Invariants of a built table: starts strictly increasing, every start
 * < hi - lo, every rule index < nrules; the table is immutable, so a signal
 * handler can binary-search it without locks.
 */
#include "rt_unwind.h"
#include "ehframe.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bound on rows for hostile inputs (a real libc has ~30k). */
#define MAX_ROWS (1u << 24)
/* Distinct rules a table can index (2-byte indexes). */
#define MAX_RULES (UINT16_MAX + 1u)

/* A row while building: its start and its rule's index in the palette. */
typedef struct brow {
	uint32_t start, rule;
} brow;

/* Rows and the palette of distinct rules, interned as rows come (rules
 * are a few hundred, rows tens of thousands), all in anonymous mappings:
 * rows reserved once for the most an .eh_frame of that size can give
 * (pages are only touched as rows come), the palette and its hash set
 * grown by doubling. */
typedef struct rowvec {
	brow *v;
	size_t n, cap;       /* cap in bytes of the mapping */
	rt_urow *pal;        /* distinct rules, in order of first use */
	size_t np, pal_cap;  /* pal_cap in bytes */
	uint32_t *set;       /* open addressing: palette index + 1, 0 empty */
	size_t slots;
	int oom;
} rowvec;

static int cmp_rule(const rt_urow *a, const rt_urow *b)
{
	return memcmp(a, b, sizeof(rt_urow));
}

/* Equal rules (pad too: RT_PAD_RA_REG), inline: the hot test of interning. */
static bool same_rule(const rt_urow *a, const rt_urow *b)
{
	return a->cfa_off == b->cfa_off && a->ra_off == b->ra_off && a->rbp_off == b->rbp_off &&
	       a->kind == b->kind && a->rbp_rule == b->rbp_rule && a->pad == b->pad;
}

static uint32_t rule_hash(const rt_urow *r)
{
	uint64_t h = (uint64_t)(uint32_t)r->cfa_off * 0x9E3779B97F4A7C15u;
	h ^= ((uint64_t)(uint16_t)r->ra_off << 32 | (uint64_t)(uint16_t)r->rbp_off << 16 |
	      (uint64_t)r->kind << 8 | r->rbp_rule | (uint64_t)r->pad << 48) * 0xC2B2AE3D27D4EB4Fu;
	return (uint32_t)(h >> 32);
}

/* Double the hash set (slots stay a power of two, under half full). */
static bool grow_set(rowvec *rv)
{
	size_t ns = rv->slots ? rv->slots * 2 : 1024;
	uint32_t *set = rt_map_alloc(ns * sizeof *set);
	if (!set)
		return false;
	for (size_t k = 0; k < rv->np; k++) {
		size_t h = rule_hash(&rv->pal[k]) & (ns - 1);
		while (set[h])
			h = (h + 1) & (ns - 1);
		set[h] = (uint32_t)k + 1;
	}
	rt_map_free(rv->set, rv->slots * sizeof *set);
	rv->set = set;
	rv->slots = ns;
	return true;
}

/* The palette index of rule r, added when new; -1 when out of room. */
static int64_t intern(rowvec *rv, const rt_urow *r)
{
	rt_urow key = *r;
	if (2 * (rv->np + 1) > rv->slots && !grow_set(rv))
		return -1;
	size_t h = rule_hash(&key) & (rv->slots - 1);
	while (rv->set[h]) {
		if (same_rule(&rv->pal[rv->set[h] - 1], &key))
			return rv->set[h] - 1;
		h = (h + 1) & (rv->slots - 1);
	}
	void *pal = rv->pal;
	if (rv->np == MAX_RULES || !rt_map_grow(&pal, &rv->pal_cap, (rv->np + 1) * sizeof key))
		return -1;
	rv->pal = pal;
	rv->pal[rv->np] = key;
	rv->set[h] = (uint32_t)++rv->np;
	return (int64_t)rv->np - 1;
}

static void push(void *ctx, uint32_t start, const rt_urow *r)
{
	rowvec *rv = ctx;
	if (rv->oom)
		return;
	if (rv->n > 0 && start <= rv->v[rv->n - 1].start)
		return;   /* overlapping FDEs: keep the first, drop what goes backwards */
	if (rv->n > 0 && same_rule(&rv->pal[rv->v[rv->n - 1].rule], r))
		return;   /* the same rule goes on */
	int64_t k = intern(rv, r);
	if (k < 0) {
		rv->oom = 1;
		return;
	}
	if (rv->n > 0 && rv->v[rv->n - 1].rule == (uint32_t)k)
		return;   /* the same rule goes on */
	if ((rv->n + 1) * sizeof(brow) > rv->cap) {
		void *v = rv->v;
		if (rv->n + 1 > MAX_ROWS || !rt_map_grow(&v, &rv->cap, (rv->n + 1) * sizeof(brow))) {
			rv->oom = 1;
			return;
		}
		rv->v = v;
	}
	rv->v[rv->n].start = start;
	rv->v[rv->n].rule = (uint32_t)k;
	rv->n++;
}

/* Sort palette indexes by their rules in memcmp order (heap sort: in
 * place, no allocation). */
static void rule_sift(uint32_t *v, const rt_urow *pal, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && cmp_rule(&pal[v[c + 1]], &pal[v[c]]) > 0)
			c++;
		if (cmp_rule(&pal[v[c]], &pal[v[i]]) <= 0)
			return;
		uint32_t t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void sort_rules(uint32_t *v, const rt_urow *pal, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		rule_sift(v, pal, i, n);
	for (size_t k = n; k-- > 1;) {
		uint32_t t = v[0];
		v[0] = v[k];
		v[k] = t;
		rule_sift(v, pal, 0, k);
	}
}

static size_t table_bytes(size_t nrules, size_t nrows)
{
	return sizeof(rt_utable) + nrules * sizeof(rt_urow) + nrows * (sizeof(uint32_t) + sizeof(uint16_t));
}

/* The final table: the palette sorted, then the starts and each row's
 * index in the sorted palette, in one mapping. */
static rt_utable *pack(const rowvec *rv, uintptr_t lo, uintptr_t hi)
{
	size_t np = rv->np;
	uint32_t *order = rt_map_alloc(2 * np * sizeof *order);   /* order, then rank */
	if (!order)
		return NULL;
	uint32_t *rank = order + np;
	for (size_t k = 0; k < np; k++)
		order[k] = (uint32_t)k;
	sort_rules(order, rv->pal, np);
	for (size_t k = 0; k < np; k++)
		rank[order[k]] = (uint32_t)k;
	rt_utable *t = rt_map_alloc(table_bytes(np, rv->n));
	if (!t) {
		rt_map_free(order, 2 * np * sizeof *order);
		return NULL;
	}
	t->lo = lo;
	t->hi = hi;
	t->nrows = rv->n;
	t->nrules = np;
	for (size_t k = 0; k < np; k++)
		t->rules[k] = rv->pal[order[k]];
	uint32_t *starts = (uint32_t *)(t->rules + np);
	uint16_t *rule = (uint16_t *)(starts + rv->n);
	for (size_t i = 0; i < rv->n; i++) {
		starts[i] = rv->v[i].start;
		rule[i] = (uint16_t)rank[rv->v[i].rule];
	}
	t->starts = starts;
	t->rule = rule;
	rt_map_free(order, 2 * np * sizeof *order);
	return t;
}

static rt_utable *build(const void *img, size_t size, uintptr_t bias, uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo || hi - lo > UINT32_MAX)
		return NULL;
	rt_ehf e;
	if (!rt_ehf_open(&e, img, size))
		return NULL;
	rowvec rv = { 0 };
	/* every row but an FDE's first and its gap costs at least one byte
	 * of CFI, and an FDE at least 16: reserve that much (pages are only
	 * touched as rows come), so the rows never move */
	size_t most = e.eh_size + e.eh_size / 8 + 16;
	if (most > MAX_ROWS)
		most = MAX_ROWS;
	void *v = NULL;
	if (rt_map_grow(&v, &rv.cap, most * sizeof(brow)))
		rv.v = v;
	/* link-time range of the module's code */
	bool ok = rt_ehf_rows(&e, lo - bias, hi - bias, push, &rv);
	rt_utable *t = ok && !rv.oom && rv.n > 0 ? pack(&rv, lo, hi) : NULL;
	rt_map_free(rv.v, rv.cap);
	rt_map_free(rv.pal, rv.pal_cap);
	rt_map_free(rv.set, rv.slots * sizeof *rv.set);
	return t;
}

/* The descriptor is this thread's for microseconds only (open, fstat,
 * mmap), never while the table is built: a program that closes every
 * descriptor (a daemon's closefrom) and opens a file of its own that gets
 * the same number would otherwise have that file closed by us.  Before
 * closing, the descriptor must still be the file we opened (same device
 * and inode); if the program closed it and the number is reused, it is
 * the program's and is left alone. */
rt_utable *rt_utable_from_file(const char *path, uintptr_t bias, uintptr_t lo, uintptr_t hi)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st, now;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return NULL;
	}
	void *img = MAP_FAILED;
	size_t size = 0;
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		size = (size_t)st.st_size;
		img = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	}
	if (fstat(fd, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
		close(fd);
	if (img == MAP_FAILED)
		return NULL;
	rt_utable *t = build(img, size, bias, lo, hi);
	munmap(img, size);
	return t;
}

rt_utable *rt_utable_from_image(const void *img, size_t size, uintptr_t bias, uintptr_t lo,
				uintptr_t hi)
{
	/* read in place: nothing here writes to the image */
	return build(img, size, bias, lo, hi);
}

void rt_utable_free(rt_utable *t)
{
	if (t)
		rt_map_free(t, table_bytes(t->nrules, t->nrows));
}

size_t rt_utable_bytes(const rt_utable *t)
{
	return t ? sizeof *t + t->nrules * sizeof(rt_urow) +
			   t->nrows * (sizeof(uint32_t) + sizeof(uint16_t))
		 : 0;
}

const rt_urow *rt_utable_find(const rt_utable *t, uintptr_t addr)
{
	if (!t || addr < t->lo || addr >= t->hi || t->nrows == 0)
		return NULL;
	uint32_t off = (uint32_t)(addr - t->lo);
	/* branchless lower bound (the compiler emits cmov) over the 4-byte
	 * starts: the last row whose start <= off; a search with branches
	 * mispredicts on every step */
	const uint32_t *base = t->starts;
	size_t n = t->nrows;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half] <= off ? base + half : base;
		n -= half;
	}
	if (*base > off)
		return NULL;
	return &t->rules[t->rule[base - t->starts]];
}
