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
#include "rt_int.h"
#include "ehframe.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bound on rows for hostile inputs (a real libc has ~30k). */
#define MAX_ROWS (1u << 24)

/* A row while building: its start and its rule. */
typedef struct brow {
	uint32_t start;
	rt_urow r;
} brow;

typedef struct rowvec {
	brow *v;
	size_t n, cap;   /* cap in bytes of the mapping */
	int oom;
} rowvec;

static bool same_rule(const rt_urow *a, const rt_urow *b)
{
	return a->kind == b->kind && a->cfa_off == b->cfa_off && a->ra_off == b->ra_off &&
	       a->rbp_off == b->rbp_off && a->rbp_rule == b->rbp_rule;
}

static void push(void *ctx, uint32_t start, const rt_urow *r)
{
	rowvec *rv = ctx;
	if (rv->oom)
		return;
	if (rv->n > 0) {
		brow *p = &rv->v[rv->n - 1];
		if (start <= p->start) {
			/* overlapping FDEs: keep the first, drop what goes backwards */
			return;
		}
		if (same_rule(&p->r, r))
			return;
	}
	if ((rv->n + 1) * sizeof(brow) > rv->cap) {
		void *v = rv->v;
		if (rv->n + 1 > MAX_ROWS || !rt_map_grow(&v, &rv->cap, (rv->n + 1) * sizeof(brow))) {
			rv->oom = 1;
			return;
		}
		rv->v = v;
	}
	rv->v[rv->n].start = start;
	rv->v[rv->n].r = *r;
	rv->n++;
}

static int cmp_rule(const rt_urow *a, const rt_urow *b)
{
	return memcmp(a, b, sizeof(rt_urow));
}

/* Sort rules in memcmp order (heap sort: in place, no allocation). */
static void rule_sift(rt_urow *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && cmp_rule(&v[c + 1], &v[c]) > 0)
			c++;
		if (cmp_rule(&v[c], &v[i]) <= 0)
			return;
		rt_urow t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void sort_rules(rt_urow *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		rule_sift(v, i, n);
	for (size_t k = n; k-- > 1;) {
		rt_urow t = v[0];
		v[0] = v[k];
		v[k] = t;
		rule_sift(v, 0, k);
	}
}

static size_t table_bytes(size_t nrules, size_t nrows)
{
	return sizeof(rt_utable) + nrules * sizeof(rt_urow) + nrows * (sizeof(uint32_t) + sizeof(uint16_t));
}

/* The rules' hash: an open-addressed set of palette indexes while
 * packing (distinct rules are a few hundred; rows tens of thousands). */
static uint32_t rule_hash(const rt_urow *r)
{
	uint64_t h = (uint64_t)(uint32_t)r->cfa_off * 0x9E3779B97F4A7C15u;
	h ^= ((uint64_t)(uint16_t)r->ra_off << 32 | (uint64_t)(uint16_t)r->rbp_off << 16 |
	      (uint64_t)r->kind << 8 | r->rbp_rule) * 0xC2B2AE3D27D4EB4Fu;
	return (uint32_t)(h >> 32);
}

/* The final table: distinct rules sorted (a palette), then the starts and
 * each row's index in the palette, in one mapping. */
static rt_utable *pack(const rowvec *rv, uintptr_t lo, uintptr_t hi)
{
	/* distinct rules through a hash set sized for every row (a ceiling) */
	size_t slots = 1024;
	while (slots < 2 * rv->n)
		slots *= 2;
	size_t work = slots * sizeof(uint32_t) + rv->n * sizeof(rt_urow) + rv->n * sizeof(uint32_t);
	uint32_t *set = rt_map_alloc(work);   /* zero-filled: 0 is an empty slot */
	if (!set)
		return NULL;
	rt_urow *pal = (rt_urow *)(set + slots);
	uint32_t *slot_of = (uint32_t *)(pal + rv->n);   /* row -> its slot */
	size_t np = 0;
	for (size_t i = 0; i < rv->n; i++) {
		rt_urow key = rv->v[i].r;
		key.pad = 0;
		size_t h = rule_hash(&key) & (slots - 1);
		while (set[h] && cmp_rule(&pal[set[h] - 1], &key) != 0)
			h = (h + 1) & (slots - 1);
		if (!set[h]) {
			pal[np] = key;
			set[h] = (uint32_t)++np;
		}
		slot_of[i] = (uint32_t)h;
	}
	rt_utable *t = np <= UINT16_MAX + 1u ? rt_map_alloc(table_bytes(np, rv->n)) : NULL;
	if (!t) {
		rt_map_free(set, work);
		return NULL;
	}
	/* the palette in memcmp order; each set entry then names its rank */
	memcpy(t->rules, pal, np * sizeof *pal);
	sort_rules(t->rules, np);
	for (size_t k = 0; k < np; k++) {
		size_t h = rule_hash(&t->rules[k]) & (slots - 1);
		while (cmp_rule(&pal[set[h] - 1], &t->rules[k]) != 0)
			h = (h + 1) & (slots - 1);
		set[h] = (uint32_t)k + 1;
	}
	t->lo = lo;
	t->hi = hi;
	t->nrows = rv->n;
	t->nrules = np;
	uint32_t *starts = (uint32_t *)(t->rules + np);
	uint16_t *rule = (uint16_t *)(starts + rv->n);
	for (size_t i = 0; i < rv->n; i++) {
		starts[i] = rv->v[i].start;
		rule[i] = (uint16_t)(set[slot_of[i]] - 1);
	}
	t->starts = starts;
	t->rule = rule;
	rt_map_free(set, work);
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
	/* link-time range of the module's code */
	bool ok = rt_ehf_rows(&e, lo - bias, hi - bias, push, &rv);
	rt_utable *t = ok && !rv.oom && rv.n > 0 ? pack(&rv, lo, hi) : NULL;
	rt_map_free(rv.v, rv.cap);
	return t;
}

rt_utable *rt_utable_from_file(const char *path, uintptr_t bias, uintptr_t lo, uintptr_t hi)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	rt_utable *t = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		size_t size = (size_t)st.st_size;
		void *img = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			t = build(img, size, bias, lo, hi);
			munmap(img, size);
		}
	}
	close(fd);
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
