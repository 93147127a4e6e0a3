/*
 * timeparse.c - the server's times and durations: RFC 3339, Unix time,
 * `now`, `now-1h`, and Prometheus-style durations (`15s`, `1h30m`, `7d`).
 *
 * Everything is integer arithmetic on int64 nanoseconds with every
 * multiplication and addition overflow-checked, so no text can wrap a
 * time around; fractions are taken digit by digit (at most nanosecond
 * precision, extra digits are ignored).  Pure functions: thread-safe and
 * allocation-free.
 *
 * Unix times: an integer of up to 11 digits is seconds; 12-14 digits are
 * milliseconds, 15-17 microseconds, 18-19 nanoseconds (the magnitudes
 * Pyroscope's `from`/`until` and Grafana send); an optional fraction
 * ("1733533323.25") is allowed on seconds only.
 */
#include "store.h"

#include <string.h>

#define NS_PER_S INT64_C(1000000000)

static int terr(cprof_error *err, const char *what, const char *s, size_t len)
{
	char q[64];
	cprof_escape(q, sizeof q, s, len < 48 ? len : 48);
	return cprof_seterr(err, CPROF_EINVAL, "%s \"%s%s\"", what, q, len > 48 ? "..." : "");
}

static bool mul_add(int64_t a, int64_t m, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(a, m, &r) || __builtin_add_overflow(r, b, &r))
		return false;
	*out = r;
	return true;
}

/* Digits at s[*i..len) as a non-negative int64 (at least one digit,
 * at most maxd): false on none, too many or overflow. */
static bool digits(const char *s, size_t len, size_t *i, int maxd, int64_t *v, int *nd)
{
	int64_t x = 0;
	int k = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (k == maxd || !mul_add(x, 10, s[*i] - '0', &x))
			return false;
		(*i)++;
		k++;
	}
	if (k == 0)
		return false;
	*v = x;
	if (nd)
		*nd = k;
	return true;
}

/* A fraction ".ddd" at s[*i] as a multiple of unit (ns of one unit),
 * truncated to whole nanoseconds. */
static bool fraction(const char *s, size_t len, size_t *i, int64_t unit, int64_t *ns)
{
	*ns = 0;
	if (*i >= len || s[*i] != '.')
		return true;
	(*i)++;
	int64_t scale = unit;
	size_t start = *i;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		scale /= 10;
		*ns += (s[*i] - '0') * scale;   /* scale <= unit: no overflow */
		(*i)++;
	}
	return *i > start;
}

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "ms", 1000000 },
	{ "s", NS_PER_S }, { "m", 60 * NS_PER_S }, { "h", 3600 * NS_PER_S },
	{ "d", 86400 * NS_PER_S }, { "w", 7 * 86400 * NS_PER_S },
	{ "y", 365 * 86400 * NS_PER_S },
};

int srv_duration_parse(const char *s, size_t len, int64_t *out_ns, cprof_error *err)
{
	size_t i = 0;
	int64_t total = 0;
	if (len == 0)
		return terr(err, "empty duration", s, len);
	while (i < len) {
		size_t nstart = i;
		int64_t whole;
		if (!digits(s, len, &i, 19, &whole, NULL))
			return terr(err, "bad duration", s, len);
		size_t fstart = i;
		int64_t frac_probe;
		/* find the unit after an optional fraction */
		size_t j = i;
		if (j < len && s[j] == '.') {
			j++;
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
		}
		int64_t unit = 0;
		size_t ulen = 0;
		for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
			size_t n = strlen(units[u].name);
			if (n > ulen && j + n <= len && memcmp(s + j, units[u].name, n) == 0) {
				/* "m" must not be taken for the start of "ms" */
				unit = units[u].ns;
				ulen = n;
			}
		}
		if (ulen == 0) {
			if (j != len || nstart != 0)
				return terr(err, "bad duration (units: ns us ms s m h d w y)", s, len);
			unit = NS_PER_S;        /* a bare number: seconds */
		}
		i = fstart;
		if (!fraction(s, len, &i, unit, &frac_probe) || i != j)
			return terr(err, "bad duration", s, len);
		int64_t part;
		if (!mul_add(whole, unit, frac_probe, &part) ||
		    __builtin_add_overflow(total, part, &total))
			return terr(err, "duration out of range", s, len);
		i = j + ulen;
	}
	*out_ns = total;
	return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool fixed(const char *s, size_t len, size_t *i, int n, int64_t *v)
{
	int64_t x = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		x = x * 10 + (s[(*i)++] - '0');
	}
	*v = x;
	return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i < len && (s[*i] == c || (c == 'T' && (s[*i] == 't' || s[*i] == ' ')))) {
		(*i)++;
		return true;
	}
	return false;
}

static int rfc3339(const char *s, size_t len, int64_t *out, cprof_error *err)
{
	size_t i = 0;
	int64_t y, mo, d, h, mi, se, frac = 0;
	if (!fixed(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !fixed(s, len, &i, 2, &mo) ||
	    !expect(s, len, &i, '-') || !fixed(s, len, &i, 2, &d) || !expect(s, len, &i, 'T') ||
	    !fixed(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !fixed(s, len, &i, 2, &mi) ||
	    !expect(s, len, &i, ':') || !fixed(s, len, &i, 2, &se) ||
	    !fraction(s, len, &i, NS_PER_S, &frac))
		return terr(err, "bad time (RFC 3339, Unix seconds or now-1h)", s, len);
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || se > 60)
		return terr(err, "time out of range", s, len);
	int64_t off = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1;
		int64_t oh, om;
		if (!fixed(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
		    !fixed(s, len, &i, 2, &om) || oh > 23 || om > 59)
			return terr(err, "bad time zone offset in", s, len);
		off = sign * (oh * 3600 + om * 60);
	} else {
		return terr(err, "time without a zone (Z or +hh:mm)", s, len);
	}
	if (i != len)
		return terr(err, "bad time (RFC 3339, Unix seconds or now-1h)", s, len);
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	/* int64 nanoseconds reach 1677..2262: other years are out of range */
	if (!mul_add(secs, NS_PER_S, frac, out))
		return terr(err, "time out of range", s, len);
	return 0;
}

int srv_time_parse(const char *s, size_t len, int64_t now_ns, int64_t *out_ns, cprof_error *err)
{
	if (len == 0)
		return terr(err, "empty time", s, len);
	if (len >= 3 && memcmp(s, "now", 3) == 0) {
		if (len == 3) {
			*out_ns = now_ns;
			return 0;
		}
		if (s[3] != '-' && s[3] != '+')
			return terr(err, "bad time", s, len);
		int64_t d;
		if (srv_duration_parse(s + 4, len - 4, &d, NULL))
			return terr(err, "bad duration in time", s, len);
		int64_t r;
		if (s[3] == '-' ? __builtin_sub_overflow(now_ns, d, &r)
				: __builtin_add_overflow(now_ns, d, &r))
			return terr(err, "time out of range", s, len);
		*out_ns = r;
		return 0;
	}
	size_t i = 0;
	int64_t v;
	int nd;
	if (digits(s, len, &i, 19, &v, &nd) && (i == len || s[i] == '.')) {
		if (i == len) {
			int64_t mult = nd <= 11 ? NS_PER_S : nd <= 14 ? 1000000 : nd <= 17 ? 1000 : 1;
			if (!mul_add(v, mult, 0, out_ns))
				return terr(err, "time out of range", s, len);
			return 0;
		}
		int64_t frac;
		if (nd > 11 || !fraction(s, len, &i, NS_PER_S, &frac) || i != len)
			return terr(err, "bad Unix time", s, len);
		if (!mul_add(v, NS_PER_S, frac, out_ns))
			return terr(err, "time out of range", s, len);
		return 0;
	}
	return rfc3339(s, len, out_ns, err);
}
