/*
 * cprof_errors.h - cprof's one error vocabulary, shared by the runtime
 * (cprof.h, libcprof) and the profile core (cprof_core.h, libcprofcore.a):
 * every function of either that can fail returns 0 or one of these
 * negative codes, and cprof_strerror names any of them.
 *
 * The runtime's API first spelled its codes CPROF_ERR_*; those names stay,
 * as aliases with the same values, for programs written against them
 * (CPROF_ERR_NOMEM is CPROF_ENOMEM, and so on).  Values never change:
 * programs compare against them.  Installed next to cprof.h and with the
 * core's header.
 */
#ifndef CPROF_ERRORS_H
#define CPROF_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#define CPROF_OK          0
#define CPROF_ENOMEM      (-1)   /* out of memory */
#define CPROF_EIO         (-2)   /* read or write failed (errno kept in message) */
#define CPROF_EFORMAT     (-3)   /* malformed input in a recognised format */
#define CPROF_EGZIP       (-4)   /* broken gzip stream */
#define CPROF_EUNKNOWN    (-5)   /* input in no format we recognise */
#define CPROF_EINVAL      (-6)   /* bad argument */
#define CPROF_ELIMIT      (-7)   /* input exceeds a size limit */
#define CPROF_EMISMATCH   (-8)   /* profiles that cannot be combined */
#define CPROF_EEMPTY      (-9)   /* empty input */
#define CPROF_EBUSY       (-20)  /* cpu profiling (or the endpoint) already in use */
#define CPROF_ENOTRUNNING (-21)  /* no cpu profile is running */
#define CPROF_ESIGNAL     (-22)  /* the program has its own SIGPROF handler */
#define CPROF_ESYSTEM     (-23)  /* a system call failed (timers, threads) */

/* The runtime API's names (cprof.h), aliases of the above. */
#define CPROF_ERR_NOMEM       CPROF_ENOMEM
#define CPROF_ERR_IO          CPROF_EIO
#define CPROF_ERR_INVAL       CPROF_EINVAL
#define CPROF_ERR_BUSY        CPROF_EBUSY
#define CPROF_ERR_NOT_RUNNING CPROF_ENOTRUNNING
#define CPROF_ERR_SIGNAL      CPROF_ESIGNAL
#define CPROF_ERR_SYSTEM      CPROF_ESYSTEM

/* A static string naming code ("unknown error" for a code not above).
 * Thread-safe, async-signal-safe.  The runtime's cprof_error_string is the
 * same function under its first name. */
const char *cprof_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif /* CPROF_ERRORS_H */
