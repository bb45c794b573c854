/*
 * Argument parsing and delay figures shared by probe_native and probe_sim.
 * Each argument must be a whole number in its range, so that a typo is
 * reported, not read as 0.
 */
#ifndef HS_PROBE_ARGS_H
#define HS_PROBE_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORK_MS 3600000.0 /* an hour, so that the ns fit an int64_t */

/* The measured thread: a spinner (no flag), --sleeper or --ring. */
enum probe_mode { PROBE_SPINNER, PROBE_SLEEPER, PROBE_RING };

/* Reads an optional mode flag at argv[1] into *mode and removes it from
 * *argc and *argv.  Returns 0, after one line on stderr naming prog and
 * the flag, when another flag follows it. */
static inline int parse_mode(const char *prog, int *argc, char ***argv, enum probe_mode *mode)
{
	*mode = PROBE_SPINNER;
	if (*argc > 1 && strcmp((*argv)[1], "--sleeper") == 0)
		*mode = PROBE_SLEEPER;
	else if (*argc > 1 && strcmp((*argv)[1], "--ring") == 0)
		*mode = PROBE_RING;
	if (*mode != PROBE_SPINNER) {
		(*argv)++;
		(*argc)--;
	}
	if (*argc > 1 && strncmp((*argv)[1], "--", 2) == 0) {
		fprintf(stderr, "%s: unknown or second mode '%s'; give at most one of --sleeper and --ring first\n",
			prog, (*argv)[1]);
		return 0;
	}
	return 1;
}

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

/* Mean, median and 90th percentile of a series of delays, in us. */
struct delay_summary {
	double mean_us, p50_us, p90_us;
};

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Summarises the n delays of ns (n above 0) and sorts them in place. */
static inline struct delay_summary summarize_delays(int64_t *ns, long n)
{
	struct delay_summary d;
	double sum = 0;

	for (long i = 0; i < n; i++)
		sum += (double)ns[i];
	qsort(ns, (size_t)n, sizeof(ns[0]), cmp_i64);
	d.mean_us = sum / 1e3 / (double)n;
	d.p50_us = (double)ns[n / 2] / 1e3;
	d.p90_us = (double)ns[n * 9 / 10] / 1e3;
	return d;
}

#endif
