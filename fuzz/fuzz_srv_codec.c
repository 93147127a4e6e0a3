/*
 * fuzz_srv_codec.c - libFuzzer target for the server store's packed
 * samples (src/server/store_codec.c, compiled in): the varint reader, the
 * summing accumulator and the packer with its per-type divisors.
 *
 * Input: one byte (the number of sample types, mod 5), then a packed
 * sample blob as a store row holds it.  Checks: decoding never reads past
 * the blob (ASan) and either fails with CPROF_EFORMAT or sums into the
 * accumulator; what was summed packs and decodes again to the same rows
 * and values (the divisors are exact), and packing that is stable.
 * Seeds: fuzz/seeds/fuzz_srv_codec.
 */
#include "store_codec.c"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_srv_codec: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int nv = data[0] % 5;
	acc a, b;
	acc_init(&a, nv);
	acc_init(&b, nv);
	sbuf p1 = { 0 }, p2 = { 0 };
	int rc = acc_add_packed(&a, data + 1, size - 1);
	CHECK(rc == 0 || rc == CPROF_EFORMAT || rc == CPROF_ENOMEM, "code %d", rc);
	if (rc == 0 && a.n < 100000) {
		CHECK(acc_pack(&a, &p1) == 0, "pack");
		CHECK(acc_add_packed(&b, p1.p, p1.n) == 0, "re-decode");
		/* every non-zero row of a is in b with the same values */
		size_t live = 0;
		for (size_t i = 0; i < a.n; i++) {
			const int64_t *va = a.val + i * (size_t)nv;
			bool zero = true;
			for (int k = 0; k < nv; k++)
				zero &= va[k] == 0;
			if (zero)
				continue;
			live++;
			uint64_t key = a.key[i];
			size_t j = 0;
			while (j < b.n && b.key[j] != key)
				j++;
			CHECK(j < b.n, "row lost");
			CHECK(memcmp(va, b.val + j * (size_t)nv, (size_t)nv * sizeof *va) == 0,
			      "values changed");
		}
		CHECK(live == b.n, "rows added");
		CHECK(acc_pack(&b, &p2) == 0 && p1.n == p2.n && memcmp(p1.p, p2.p, p1.n) == 0,
		      "packing not stable");
	}
	sb_free(&p1);
	sb_free(&p2);
	acc_free(&a);
	acc_free(&b);
	return 0;
}
