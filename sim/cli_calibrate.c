/*
 * `herdsim calibrate`: measures this machine with hs_calibrate(), prints
 * the figures and writes the host OS profile.
 *
 * Progress goes to standard error: one line redrawn in place when standard
 * error is a terminal, else one line per figure when it ends, so a log
 * stays readable.  The table of figures goes to standard output.
 *
 * The profile goes to --out, else $HERDSIM_HOST_PROFILE, else
 * results/host.ini (HS_HOST_PROFILE_DEFAULT), which is where `--os host`
 * looks for it; the directory is created when missing.  The file is
 * written whole or not at all (hs_calibrate_write_profile renames a
 * temporary file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calibrate.h"
#include "cli.h"
#include "config.h"

static const char calibrate_usage[] =
	"usage: herdsim calibrate [--out FILE] [--scale X] [--passes N] [--quiet]\n"
	"\n"
	"Measures this machine's kernel and hardware costs (about 10 s on an idle\n"
	"2-CPU machine at scale 1, under a minute in any case) and writes them as\n"
	"the `host` OS profile, which `--os host` loads.\n"
	"\n"
	"options:\n"
	"  --out FILE   where to write the profile (default: $HERDSIM_HOST_PROFILE,\n"
	"               else results/host.ini); a missing last directory is created\n"
	"  --scale X    multiply every sample count by X, 0 < X <= 100 (default 1)\n"
	"  --passes N   measure every figure in N passes of 1/N of the samples and\n"
	"               keep each percentile's median over the passes, 1 to 9\n"
	"               (default 3 at scale 1, fewer below), so that a few seconds\n"
	"               of a slower host do not move the profile\n"
	"  --quiet      print no progress and no table\n";

struct progress {
	bool tty;
	bool quiet;
};

static void show_progress(void *ctx, const char *figure, int done, int total)
{
	struct progress *p = ctx;

	if (p->quiet)
		return;
	if (p->tty) {
		/* ESC [ K clears the rest of the line, because a name with a
		 * pass is longer than the one before it. */
		fprintf(stderr, "\r\033[Kcalibrating %s %3d%%", figure,
			total > 0 ? (int)(100LL * done / total) : 100);
		fflush(stderr);
	} else if (done == total) {
		fprintf(stderr, "calibrated %s: %d sample%s\n", figure, total, total == 1 ? "" : "s");
	}
}

/* Creates the directory that will hold path, one level (results/). */
static int make_dir_of(const char *path, struct hs_error *err)
{
	char dir[HS_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return 0;
	if ((size_t)(slash - path) >= sizeof(dir))
		return hs_error_set(err, HS_E_USAGE, path, 0, "--out", "path too long");
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return hs_error_set(err, HS_E_IO, dir, 0, NULL,
				    "cannot create the directory of the profile: %s; create it or "
				    "choose another --out path", strerror(errno));
	return 0;
}

/*
 * Checks that the profile writer will be able to create PATH.tmp, which it
 * renames over path, by creating and removing it.  0 or HS_E_IO.
 */
static int check_writable(const char *path, struct hs_error *err)
{
	char tmp[4096];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return hs_error_set(err, HS_E_IO, path, 0, "--out", "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return hs_error_set(err, HS_E_IO, path, 0, "--out",
				    "cannot create %s: %s; check that the directory exists and is writable",
				    tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return 0;
}

static void print_figures(const struct hs_calib_report *r)
{
	printf("%-24s %8s %12s %12s %12s %12s\n", "figure", "samples", "median ns", "p10 ns", "p90 ns",
	       "p99 ns");
	for (int i = 0; i < r->nfigures; i++) {
		const struct hs_calib_figure *f = &r->figures[i];

		if (f->samples == 0) {
			const char *status = "not measured", *reason = "";

			/* the irq_wake figures need a real-time caller, and
			 * irq_wake falls back when either has no samples */
			if (strncmp(f->name, "irq_wake_", 9) == 0 && r->irq_wake_no_fifo) {
				reason = ": needs SCHED_FIFO (root, CAP_SYS_NICE or RLIMIT_RTPRIO above 0); "
				      "irq_wake falls back to wake_send_local";
			} else if (strncmp(f->name, "irq_wake_", 9) == 0) {
				status = "no samples";
				reason = ": every round rejected (a thread not ready before the interrupt); "
				      "irq_wake falls back to wake_send_local";
			}
			printf("%-24s %8s %12s%s\n", f->name, "-", status, reason);
			continue;
		}
		printf("%-24s %8d %12lld %12lld %12lld %12lld\n", f->name, f->samples, (long long)f->p50,
		       (long long)f->p10, (long long)f->p90, (long long)f->p99);
	}
	printf("\n%s %s %s, %d CPU%s, timer slack %lld ns, tick %lld ns, slice %lld ns\n", r->sysname,
	       r->release, r->machine, r->ncpus, r->ncpus == 1 ? "" : "s", (long long)r->timer_slack_ns,
	       (long long)r->tick_ns, (long long)r->slice_ns);
}

/* Prints the WARNING lines of the profile's first comment (hs_calib_keys[0],
 * "name") to standard error, one line each, quiet or not. */
static void print_warnings(const struct hs_calib_report *r)
{
	const char *line = r->notes[0];

	while (line && *line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);

		if (strncmp(line, "WARNING: ", 9) == 0)
			fprintf(stderr, "herdsim: warning: %.*s\n", len - 9, line + 9);
		line = end ? end + 1 : NULL;
	}
}

int cli_calibrate(int argc, char **argv)
{
	return cli_calibrate_between(argc, argv, NULL, NULL);
}

/* Rewrites an error about the profile file in validate's terms.  validate
 * names that file with --os, and it records no run, native runs included,
 * when the profile cannot be written. */
static void reword_for_validate(struct hs_error *err)
{
	size_t n = strlen(err->msg);

	if (strcmp(err->key, "--out") == 0)
		snprintf(err->key, sizeof(err->key), "--os");
	snprintf(err->msg + n, sizeof(err->msg) - n, "; no run is recorded");
}

int cli_calibrate_between(int argc, char **argv,
			  int (*after_pass)(void *ctx, int pass, int passes, struct hs_error *err),
			  void *ctx)
{
	const char *out = NULL;
	double scale = 1.0;
	long passes = 0; /* the library's default for the scale */
	struct progress prog = { .tty = isatty(STDERR_FILENO) != 0 };
	struct hs_calib_opts opts = { 0 };
	struct hs_calib_report *rep;
	struct hs_error err = { 0 };
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(calibrate_usage, stdout);
			return CLI_OK;
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			prog.quiet = true;
		} else if (strcmp(a, "--out") == 0 || strncmp(a, "--out=", 6) == 0) {
			out = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
			if (!out || !*out)
				return cli_usage_error("--out needs a file name");
		} else if (strcmp(a, "--scale") == 0 || strncmp(a, "--scale=", 8) == 0) {
			const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v)
				return cli_usage_error("--scale needs a value");
			if (!cli_parse_scale(v, &scale))
				return cli_usage_error("invalid --scale '%s'; use a decimal number in (0, 100]", v);
		} else if (strcmp(a, "--passes") == 0 || strncmp(a, "--passes=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;

			if (!v)
				return cli_usage_error("--passes needs a value");
			errno = 0;
			passes = strtol(v, &end, 10);
			if (errno || *end || end == v || passes < 1 || passes > HS_CALIB_MAX_PASSES)
				return cli_usage_error("invalid --passes '%s'; use a whole number from 1 to %d",
						       v, HS_CALIB_MAX_PASSES);
		} else {
			return cli_usage_error("unexpected argument '%s'; see `herdsim calibrate --help`", a);
		}
	}
	if (!out)
		out = hs_host_profile_path();

	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return cli_error(&(struct hs_error){ .code = HS_E_NOMEM, .msg = "out of memory" });
	opts.scale = scale;
	opts.passes = (int)passes;
	opts.progress = show_progress;
	opts.ctx = &prog;
	opts.after_pass = after_pass;
	opts.pass_ctx = ctx;
	rc = make_dir_of(out, &err);
	{
		struct stat st;

		/* check the destination before the seconds of measuring */
		if (rc == 0 && stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			rc = hs_error_set(&err, HS_E_INPUT, out, 0, "--out", "is a directory; give a file name");
		if (rc == 0)
			rc = check_writable(out, &err);
	}
	if (rc && after_pass)
		reword_for_validate(&err);
	if (rc == 0)
		rc = hs_calibrate(&opts, rep, &err);
	if (prog.tty && !prog.quiet)
		fputs("\r\033[K", stderr);
	if (rc == 0) {
		rc = hs_calibrate_write_profile(rep, out, &err);
		if (rc && after_pass)
			reword_for_validate(&err);
	}
	if (rc) {
		free(rep);
		return cli_error(&err);
	}
	if (!prog.quiet) {
		print_figures(rep);
		printf("profile '%s' written to %s\n", rep->profile.name, out);
	}
	print_warnings(rep);
	free(rep);
	return CLI_OK;
}
