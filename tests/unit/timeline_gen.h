/*
 * timeline_gen.h - traces for the timeline's unit tests (test_timeline.c,
 * test_timeline_load.c), built as text: n events of 3 threads (blocked
 * slices with args spanning lines, thread names, flow pairs, counters,
 * running slices) in the runtime's layout.  kind 0: 4 reasons; 1: 20
 * reasons; 2: as 0 with the last event broken (when n > 4).  And a
 * trace broken at one byte.
 */
#ifndef TIMELINE_GEN_H
#define TIMELINE_GEN_H

#include <stdio.h>
#include <string.h>

/* t[0..tl) into buf with byte i replaced by c, or removed when c is 0:
 * the new length, 0 when c is already there (nothing to try). */
static inline size_t tl_break(char *buf, const char *t, size_t tl, size_t i, char c)
{
	memcpy(buf, t, tl);
	if (c == 0) {
		memmove(buf + i, buf + i + 1, tl - i - 1);
		return tl - 1;
	}
	if (buf[i] == c)
		return 0;
	buf[i] = c;
	return tl;
}

/* The trace into buf (64 KiB is enough for n < 200): its length. */
static inline size_t tl_gen(char *buf, int kind, int n)
{
	static const char *const rs[] = { "mutex", "join", "sleep", "read" };
	static const char *const many[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
					     "k", "l", "m", "n", "o", "p", "q", "r", "s", "t" };
	size_t o = (size_t)sprintf(buf, "{\"traceEvents\":[\n");
	for (int i = 0; i < n; i++) {
		int tid = 1 + (i * 7) % 3;
		const char *r = kind == 1 ? many[i % 20] : rs[i % 4];
		switch (i % 5) {
		case 0:
			o += (size_t)sprintf(buf + o, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"blocked: %s\",\"cat\":\"blocked\",\"ts\":%d.5,\"dur\":3,\"args\":{\"reason\":\"%s\",\"stack\":[\n\"a\",\n{\"x\":1}]}}", tid, r, i * 10, r);
			break;
		case 1:
			o += (size_t)sprintf(buf + o, "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":\"t%d\"}}", tid, i);
			break;
		case 2:
			o += (size_t)sprintf(buf + o, "{\"ph\":\"s\",\"pid\":1,\"tid\":%d,\"name\":\"wake\",\"cat\":\"wake\",\"ts\":%d,\"id\":%d},\n"
					     "{\"ph\":\"f\",\"pid\":1,\"tid\":%d,\"name\":\"wake\",\"cat\":\"wake\",\"bp\":\"e\",\"ts\":%d,\"id\":%d}",
					     tid, i * 10 + 1, i / 3, 3 - tid + 1, i * 10 + 2, i / 3);
			break;
		case 3:
			o += (size_t)sprintf(buf + o, "{\"ph\":\"C\",\"pid\":1,\"tid\":1,\"name\":\"c%d\",\"ts\":%d,\"args\":{\"v\":%d}}", i % 2, i * 10, i);
			break;
		default:
			o += (size_t)sprintf(buf + o, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"running\",\"cat\":\"running\",\"ts\":%d,\"dur\":2.25}", tid, i * 10 + 4);
		}
		o += (size_t)sprintf(buf + o, "%s\n", i + 1 < n ? "," : "");
	}
	if (kind == 2 && n > 4)
		buf[o - 3] = 'x';   /* the last event broken */
	o += (size_t)sprintf(buf + o, "],\"otherData\":{}}");
	return o;
}

#endif
