/*
 * plugin_sym.c - the entry of libcprof-sym.so, the plugin that carries
 * what needs libdw, libelf, libstdc++ and zlib: the core's symbolizer and
 * demangler, and zlib's deflate for the profile encoder (see plugin.h).
 * Its one exported function returns a constant table; the plugin holds no
 * state of its own beyond what the core's functions keep in the
 * symbolizer objects the runtime owns.  Thread-safe as the functions it
 * lists are.
 */
#include "plugin.h"

const rt_sym_api *cprof_plugin_sym(uint32_t abi);

static const rt_sym_api api = {
	.abi = RT_PLUGIN_ABI,
	.size = sizeof(rt_sym_api),
	.symbolizer_new = cprof_symbolizer_new,
	.symbolizer_free = cprof_symbolizer_free,
	.symbolizer_run = cprof_symbolizer_run,
	.demangle_profile = cprof_demangle_profile,
	.elf_build_id = cprof_elf_build_id,
	.decode = cprof_decode,
	.deflate_init2 = deflateInit2_,
	.deflate = deflate,
	.deflate_end = deflateEnd,
};

__attribute__((visibility("default")))
const rt_sym_api *cprof_plugin_sym(uint32_t abi)
{
	return abi == RT_PLUGIN_ABI ? &api : NULL;
}
