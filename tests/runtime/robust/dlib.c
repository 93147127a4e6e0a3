/*
 * dlib.c - the small shared library dlopen_loop.c loads and unloads.
 */
#include "burn.h"

int dlib_work(int n);
int dlib_work(int n)
{
	return (int)(burn((uint64_t)n * 1000) & 1) + n;
}
