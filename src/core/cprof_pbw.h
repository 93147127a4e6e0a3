/*
 * cprof_pbw.h - a small protobuf writer on the profile.proto encoder's
 * primitives (pb_encode.c), for the other protobuf formats cprof writes
 * (the Perfetto trace, trace_perfetto.c).  Fields are written in call
 * order; a nested message is cprof_pbw_begin .. cprof_pbw_end (its
 * length patched in at the end).  Out of memory is sticky: later calls do
 * nothing and cprof_pbw_take returns CPROF_ENOMEM.  One writer per thread;
 * not async-signal-safe.
 */
#ifndef CPROF_PBW_H
#define CPROF_PBW_H

#include <stddef.h>
#include <stdint.h>

typedef struct cprof_pbw cprof_pbw;

cprof_pbw *cprof_pbw_new(void);
void cprof_pbw_free(cprof_pbw *w);
void cprof_pbw_varint(cprof_pbw *w, unsigned field, uint64_t v);
void cprof_pbw_fixed64(cprof_pbw *w, unsigned field, uint64_t v);
void cprof_pbw_double(cprof_pbw *w, unsigned field, double d);
void cprof_pbw_bytes(cprof_pbw *w, unsigned field, const void *p, size_t n);
/* A nested message: its body's start, for cprof_pbw_end. */
size_t cprof_pbw_begin(cprof_pbw *w, unsigned field);
void cprof_pbw_end(cprof_pbw *w, size_t body);
/* The bytes written (the caller frees them with free) and the writer
 * emptied: 0 or CPROF_ENOMEM. */
int cprof_pbw_take(cprof_pbw *w, void **buf, size_t *len);

#endif
