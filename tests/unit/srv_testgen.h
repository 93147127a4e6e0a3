/*
 * srv_testgen.h - the synthetic fleet the server store's unit tests share
 * (test_srv_store.c, and test_srv_clickhouse.c, which ingests the same
 * profiles into both backends): deterministic profiles of a service and an
 * instance, with per-service stack pools and instances that load their
 * binary at different addresses.  Test code only; included by each test.
 */
#ifndef SRV_TESTGEN_H
#define SRV_TESTGEN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cprof_core.h"

#define S(p, x) cprof_intern_cstr(p, x)
#define SEC INT64_C(1000000000)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)
/* 2026-12-01T00:00:00Z */
#define T0 (INT64_C(1796083200) * SEC)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A profile of service svc, instance inst, number seq: nv sample types
 * (1: cpu nanoseconds; 2: heap inuse objects/bytes). */
static cprof_profile *gen(int svc, int inst, int seq, int nv)
{
	uint64_t r = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)svc << 40 | (uint64_t)inst << 20 | (uint64_t)seq);
	rnd(&r);
	cprof_profile *p = cprof_profile_new();
	assert_non_null(p);
	if (nv == 1) {
		cprof_add_vtype(p, S(p, "cpu"), S(p, "nanoseconds"));
		p->period_type.type = S(p, "cpu");
		p->period_type.unit = S(p, "nanoseconds");
		p->period = 10000000;
	} else {
		cprof_add_vtype(p, S(p, "inuse_objects"), S(p, "count"));
		cprof_add_vtype(p, S(p, "inuse_space"), S(p, "bytes"));
		p->period_type.type = S(p, "space");
		p->period_type.unit = S(p, "bytes");
		p->period = 524288;
	}
	uint64_t shift = (uint64_t)inst << 24;
	cprof_mapping m = { .id = 1, .start = 0x400000 + shift, .limit = 0x800000 + shift,
			    .file = S(p, svc ? "/usr/bin/db" : "/usr/bin/api"), .has_functions = true,
			    .build_id = S(p, svc ? "bb01" : "aa01") };
	cprof_add_mapping(p, &m);
	char name[32];
	for (int f = 0; f < 30; f++) {
		snprintf(name, sizeof name, "s%d_fn%d", svc, f);
		cprof_function fn = { .id = (uint64_t)f + 1, .name = S(p, name), .system_name = S(p, name),
				      .filename = S(p, "src.c"), .start_line = f * 10 };
		cprof_add_function(p, &fn);
		cprof_location l = { .id = (uint64_t)f + 1, .address = 0x401000 + shift + (uint64_t)f * 16,
				     .mapping = 0 };
		cprof_line ln = { (uint32_t)f, f * 10 + 3, 0 };
		cprof_add_location(p, &l, &ln, 1);
	}
	cprof_label lab = { S(p, "thread"), S(p, "worker"), 0, 0 };
	int64_t ls = cprof_intern_labels(p, &lab, 1);
	int n = 5 + (int)(rnd(&r) % 15);
	for (int i = 0; i < n; i++) {
		/* stacks from a per-service pool of 40 */
		uint64_t sr = (uint64_t)svc * 1000 + rnd(&r) % 40 + 1;
		int depth = 2 + (int)(sr % 6);
		uint32_t locs[8];
		for (int k = 0; k < depth; k++) {
			sr = sr * 6364136223846793005ULL + 1442695040888963407ULL;
			locs[k] = (uint32_t)((sr >> 33) % 30);
		}
		int64_t st = cprof_intern_stack(p, locs, (size_t)depth);
		int64_t v[2] = { (int64_t)(rnd(&r) % 1000) * 10000000, (int64_t)(rnd(&r) % 5000) };
		if (nv == 2)
			v[0] = (int64_t)(rnd(&r) % 100);
		cprof_add_sample(p, (uint32_t)st, (rnd(&r) % 4 == 0) ? (uint32_t)ls : 0, v);
	}
	return p;
}

#endif
