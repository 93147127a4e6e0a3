/*
 * plugin.c - a library the heap tests load with dlopen
 * (alloc_family.c): plugin_keep keeps 4 MiB in 64 KiB blocks, allocated
 * through the library's own GOT.
 */
#include <stdlib.h>
#include <string.h>

void *plugin_kept[64];

__attribute__((noinline)) void plugin_keep(void)
{
	for (int i = 0; i < 64; i++) {
		plugin_kept[i] = malloc(64 << 10);
		memset(plugin_kept[i], 2, 64);
	}
}
