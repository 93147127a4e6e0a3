/* main.c - placeholder; replaced by the command's real entry point. */
#include <stdio.h>
#include "cprof_core.h"
int main(void) { cprof_profile *p = cprof_profile_new(); cprof_profile_free(p); puts("cprof"); return 0; }
