/*
 * The command-line front end.  Each command is a function taking argc and
 * argv after the command word and returning the process exit status:
 *
 *   0  success
 *   1  bad input (a file, value, policy or profile)
 *   2  bad usage (unknown command or option)
 *   3  a run ended in deadlock, timeout or error
 *   130  interrupted by SIGINT or SIGTERM (128 + SIGINT, as a shell reports
 *        a process that SIGINT ended)
 *
 * Errors are printed as one line on standard error by cli_error().
 */
#ifndef HERDSIM_CLI_H
#define HERDSIM_CLI_H

#include <stdbool.h>

#include "error.h"

enum {
	CLI_OK = 0,
	CLI_INPUT = 1,
	CLI_USAGE = 2,
	CLI_RUN_FAILED = 3,
	CLI_TARGET_MISSED = 4, /* validate --strict: a target was missed */
	CLI_INTERRUPTED = 130,
};

/* Prints "herdsim: " and the formatted error; returns the exit status
 * that fits its code. */
int cli_error(const struct hs_error *err);
/* Prints "herdsim: MESSAGE" for a usage error and returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns the value of option `name` at argv[*i] ("--name V" or
 * "--name=V"), advancing *i past it; NULL if argv[*i] is another option.
 * Sets *missing when the option is there without a value. */
const char *cli_option(int argc, char **argv, int *i, const char *name, bool *missing);

/* Parses a decimal scale in (0, 100] into *out.  Only digits, a point and
 * an exponent are valid, so strtod's hexadecimal, infinity and NaN forms
 * are rejected.  Returns false if text is invalid or out of range. */
bool cli_parse_scale(const char *text, double *out);

/* Parses a non-negative integer option value; false if malformed. */
bool cli_parse_u64(const char *text, unsigned long long *v);

int cli_run(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_trace(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_check_policy(int argc, char **argv);
int cli_calibrate(int argc, char **argv);
/* cli_calibrate with after_pass called after each measurement pass (see
 * hs_calib_opts); its error is reported as the calibration's. */
int cli_calibrate_between(int argc, char **argv,
			  int (*after_pass)(void *ctx, int pass, int passes, struct hs_error *err),
			  void *ctx);
int cli_validate(int argc, char **argv);

#endif /* HERDSIM_CLI_H */
