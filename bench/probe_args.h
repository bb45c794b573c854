/*
 * Argument parsing shared by probe_native and probe_sim: each argument must
 * be a whole number in its range, so that a typo is reported, not read as 0.
 */
#ifndef HS_PROBE_ARGS_H
#define HS_PROBE_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define MAX_WORK_MS 3600000.0 /* an hour, so that the ns fit an int64_t */

/* Parses all of text as a decimal integer from lo to hi into *out.
 * Returns 1 on success and 0 otherwise. */
static inline int parse_count(const char *text, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno == 0 && end != text && *end == '\0' && *out >= lo && *out <= hi;
}

/* Parses all of text as a number of ms above 0 and at most MAX_WORK_MS.
 * Returns 1 on success and 0 otherwise. */
static inline int parse_ms(const char *text, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	return errno == 0 && end != text && *end == '\0' && isfinite(*out) && *out > 0 &&
	       *out <= MAX_WORK_MS;
}

#endif
