// spin.cc - a C++ program for the -disasm test of demangled names: the hot
// function is a template in a namespace (mangled _ZN2ns4spinImEET_S1_).
#include <cstdio>
#include <cstdlib>

namespace ns {
template <typename T> __attribute__((noinline)) T spin(T n)
{
	T s = 0;
	for (T i = 0; i < n; i++)
		s += (i * i) % 7 + (s >> 3);
	return s;
}
}  // namespace ns

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200, s = 0;
	for (unsigned long k = 0; k < n; k++)
		s += ns::spin<unsigned long>(1000000 + k);
	std::printf("%lu\n", s);
	return 0;
}
