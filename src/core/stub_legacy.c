/* stub_legacy.c - temporary stubs for legacy formats and merge; deleted when those land. */
#include "cprof_core.h"
int cprof_legacy_gperf_cpu(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return CPROF_EUNKNOWN; }
int cprof_legacy_heap(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return CPROF_EUNKNOWN; }
int cprof_legacy_count(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return CPROF_EUNKNOWN; }
int cprof_legacy_contention(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return CPROF_EUNKNOWN; }
int cprof_folded_decode(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return CPROF_EUNKNOWN; }
int cprof_merge(cprof_profile *const *s, size_t n, cprof_profile **o, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
void cprof_scale(cprof_profile *p, double r) { }
int cprof_add_label_all(cprof_profile *p, const char *k, const char *v) { return CPROF_EINVAL; }
