/*
 * cprof_server.h - the one entry point of the server (libcprofserver.a)
 * that the cprof command calls: `cprof server [flags]`.
 */
#ifndef CPROF_SERVER_H
#define CPROF_SERVER_H

/* Run the server until SIGINT or SIGTERM (argv[1] is "server"); returns
 * the exit status (bad flags and config exit 2 from inside). */
int cprof_server_main(int argc, char **argv);

#endif
