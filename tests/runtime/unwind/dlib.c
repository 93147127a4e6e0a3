/*
 * dlib.c - a small library the unwinder tests dlopen: a recursion that calls
 * back into the test at its bottom.  Built by tests/unit/test_unwind.c at run
 * time several ways: -O2 with and without frame pointers, and with no unwind
 * tables at all (code the unwinder must cross with frame pointers or stop at).
 */
typedef void (*dlib_cb)(void);

int dlib_rec(int n, dlib_cb cb);

static volatile unsigned sink;

__attribute__((noinline)) int dlib_rec(int n, dlib_cb cb)
{
	if (n <= 0) {
		cb();
		return (int)(sink & 0xff);
	}
	int r = dlib_rec(n - 1, cb);
	sink += (unsigned)r;
	return r + 1;
}
