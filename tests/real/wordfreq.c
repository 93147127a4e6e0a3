/*
 * wordfreq.c - the C program the real-program tests compile with gcc under
 * the runtime (tests/e2e/test_real_programs.py).
 *
 * A self-contained, deterministic program of a few hundred lines, so that
 * cc1 does real work (parsing, inlining, loop optimization at -O2) and the
 * object it produces can be linked and run: its output is compared with
 * the output of the same file compiled without the runtime.  It generates
 * pseudo-random text from a fixed seed, counts the words in an open-
 * addressing hash table, sorts them, prints the most frequent ones, a
 * histogram of word lengths, a CRC-32 of the sorted list and a small
 * matrix computation.  Nothing here depends on the time, the environment
 * or addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 32
#define TABLE_BITS 15
#define TABLE_SIZE (1u << TABLE_BITS)
#define N_WORDS 200000

struct entry {
	char word[MAX_WORD];
	unsigned len;
	unsigned long count;
	int used;
};

struct table {
	struct entry *slots;
	size_t used;
	size_t probes;
};

/* xorshift64*: the text's only source of randomness, fixed seed */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

static const char *const syllables[] = {
	"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa",
	"qu", "or", "en", "al", "is", "th", "ch", "st", "ow", "ee",
};
#define N_SYLL (sizeof syllables / sizeof syllables[0])

/* One word of 1..3 syllables, skewed towards short common words. */
static unsigned make_word(char *out)
{
	unsigned n = 1 + rng_below(3);
	if (rng_below(3) == 0)
		n = 1;
	unsigned len = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned s = rng_below(N_SYLL);
		if (rng_below(4) == 0)
			s = s % 5;
		const char *syl = syllables[s];
		size_t l = strlen(syl);
		memcpy(out + len, syl, l);
		len += (unsigned)l;
	}
	out[len] = 0;
	return len;
}

/* FNV-1a */
static uint32_t hash_word(const char *w, unsigned len)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < len; i++) {
		h ^= (unsigned char)w[i];
		h *= 16777619u;
	}
	return h;
}

static int table_init(struct table *t)
{
	t->slots = calloc(TABLE_SIZE, sizeof *t->slots);
	t->used = 0;
	t->probes = 0;
	return t->slots ? 0 : -1;
}

static struct entry *table_find(struct table *t, const char *w, unsigned len)
{
	uint32_t h = hash_word(w, len) & (TABLE_SIZE - 1);
	for (;;) {
		struct entry *e = &t->slots[h];
		t->probes++;
		if (!e->used)
			return e;
		if (e->len == len && memcmp(e->word, w, len) == 0)
			return e;
		h = (h + 1) & (TABLE_SIZE - 1);
	}
}

static int table_add(struct table *t, const char *w, unsigned len)
{
	struct entry *e = table_find(t, w, len);
	if (!e->used) {
		if (t->used + 1 >= TABLE_SIZE / 2)
			return -1;
		memcpy(e->word, w, len + 1);
		e->len = len;
		e->used = 1;
		t->used++;
	}
	e->count++;
	return 0;
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->word, y->word);
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* A small dense matrix product, so the optimizer has loops to work on. */
#define DIM 48
static void matmul(double (*a)[DIM], double (*b)[DIM], double (*c)[DIM])
{
	for (int i = 0; i < DIM; i++)
		for (int j = 0; j < DIM; j++) {
			double s = 0;
			for (int k = 0; k < DIM; k++)
				s += a[i][k] * b[k][j];
			c[i][j] = s;
		}
}

static double trace(double (*m)[DIM])
{
	double s = 0;
	for (int i = 0; i < DIM; i++)
		s += m[i][i];
	return s;
}

static void matrix_part(void)
{
	static double a[DIM][DIM], b[DIM][DIM], c[DIM][DIM];
	for (int i = 0; i < DIM; i++)
		for (int j = 0; j < DIM; j++) {
			a[i][j] = (double)((i * 7 + j * 3) % 11) - 5.0;
			b[i][j] = (double)((i * 5 + j * 13) % 17) / 4.0;
		}
	for (int round = 0; round < 3; round++) {
		matmul(a, b, c);
		for (int i = 0; i < DIM; i++)
			for (int j = 0; j < DIM; j++)
				a[i][j] = c[i][j] / 64.0;
	}
	printf("matrix trace %.6f\n", trace(a));
}

/* Word lengths, as a text histogram of at most 40 columns. */
static void histogram(struct entry **sorted, size_t n)
{
	unsigned long by_len[MAX_WORD] = { 0 };
	unsigned long max = 0;
	for (size_t i = 0; i < n; i++) {
		by_len[sorted[i]->len] += sorted[i]->count;
		if (by_len[sorted[i]->len] > max)
			max = by_len[sorted[i]->len];
	}
	for (unsigned l = 1; l < MAX_WORD; l++) {
		if (!by_len[l])
			continue;
		int bar = (int)(by_len[l] * 40 / max);
		printf("%2u %8lu ", l, by_len[l]);
		for (int i = 0; i < bar; i++)
			putchar('#');
		putchar('\n');
	}
}

struct stats {
	unsigned long total, distinct, longest;
	double mean_len;
};

static struct stats summarize(struct entry **sorted, size_t n)
{
	struct stats s = { 0, n, 0, 0 };
	unsigned long letters = 0;
	for (size_t i = 0; i < n; i++) {
		s.total += sorted[i]->count;
		letters += sorted[i]->count * sorted[i]->len;
		if (sorted[i]->len > s.longest)
			s.longest = sorted[i]->len;
	}
	s.mean_len = s.total ? (double)letters / (double)s.total : 0;
	return s;
}

int main(int argc, char **argv)
{
	unsigned long words = N_WORDS;
	if (argc > 1)
		words = strtoul(argv[1], NULL, 10);
	struct table t;
	if (table_init(&t) != 0) {
		fprintf(stderr, "wordfreq: out of memory\n");
		return 1;
	}
	char w[MAX_WORD];
	for (unsigned long i = 0; i < words; i++) {
		unsigned len = make_word(w);
		if (table_add(&t, w, len) != 0) {
			fprintf(stderr, "wordfreq: table full\n");
			return 1;
		}
	}
	struct entry **sorted = malloc(t.used * sizeof *sorted);
	if (!sorted)
		return 1;
	size_t n = 0;
	for (size_t i = 0; i < TABLE_SIZE; i++)
		if (t.slots[i].used)
			sorted[n++] = &t.slots[i];
	qsort(sorted, n, sizeof *sorted, by_count);

	struct stats s = summarize(sorted, n);
	printf("words %lu distinct %lu longest %lu mean %.4f\n", s.total, s.distinct, s.longest,
	       s.mean_len);
	for (size_t i = 0; i < n && i < 10; i++)
		printf("%-12s %lu\n", sorted[i]->word, sorted[i]->count);
	histogram(sorted, n);

	crc_init();
	uint32_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc = crc32_update(crc, sorted[i]->word, sorted[i]->len);
		crc = crc32_update(crc, &sorted[i]->count, sizeof sorted[i]->count);
	}
	printf("crc %08x\n", crc);
	matrix_part();
	free(sorted);
	free(t.slots);
	return 3;
}
