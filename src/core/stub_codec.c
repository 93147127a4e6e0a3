/* stub_codec.c - temporary stubs for the codec (pb_decode.c, pb_encode.c, io.c); deleted when those land. */
#include "cprof_core.h"
int cprof_decode(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_decode_file(const char *p, cprof_profile **o, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_pb_decode(const void *d, size_t l, cprof_profile **o, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_pb_encode(const cprof_profile *p, bool gz, void **b, size_t *l, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_pb_write_file(const cprof_profile *p, const char *path, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_gunzip(const void *d, size_t l, size_t m, void **o, size_t *ol, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cprof_read_file(const char *p, size_t m, void **o, size_t *ol, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
