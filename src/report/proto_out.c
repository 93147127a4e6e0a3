/*
 * proto_out.c - the -proto report: the profile as the pipeline left it,
 * re-encoded as gzipped profile.proto (pprof's printProto).
 *
 * report.c has already applied the tag pseudo frames, every filter and the
 * aggregation (address granularity with inline frames kept, which leaves
 * locations as they are), so what is written is the filtered, merged profile
 * that the other reports would have summarised.  As pprof does, -divide_by
 * is applied to every value of every sample (truncated toward zero) before
 * encoding; -sample_index, -mean and the output unit do not change the
 * profile, only how a later report reads it.
 */
#include "report_int.h"

#include <stdlib.h>

int cpr_print_proto(cpr_ctx *c, cprof_error *err)
{
	cprof_profile *p = c->p;
	if (c->ratio > 0 && c->ratio != 1)
		for (size_t i = 0; i < p->values.n; i++)
			p->values.v[i] = cpr_d2i64((double)p->values.v[i] * c->ratio);
	void *buf = NULL;
	size_t len = 0;
	int rc = cprof_pb_encode(p, true, &buf, &len, err);
	if (rc < 0)
		return rc;
	if (len && fwrite(buf, 1, len, c->out) != len)
		rc = cprof_seterr(err, CPROF_EIO, "writing the profile failed");
	free(buf);
	return rc;
}
