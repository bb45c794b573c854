/*
 * `herdsim trace gen`: writes a synthetic callback trace with
 * hs_trace_gen() (traces/trace_gen.c describes the model of each kind).
 * The same options, seed included, give the same bytes, and the file
 * appears only complete, because SIGINT and SIGTERM remove the partial
 * FILE.tmp and print one line.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "interrupt_cleanup.h"
#include "replay.h"
#include "trace.h"

static const char gen_usage[] =
	"usage: herdsim trace gen --kind KIND --out FILE [options]\n"
	"\n"
	"Writes a herdsim-trace-v1 file (traces/README.md) for `herdsim replay`.\n"
	"\n"
	"options:\n"
	"  --kind burst|poisson|periodic|pool  when threads start (required)\n"
	"  --out FILE         trace to write (required); written to FILE.tmp, then renamed,\n"
	"                     which replaces an existing FILE without a warning\n"
	"  --threads N        threads (default 4)\n"
	"  --callbacks N      callbacks per thread (default 10)\n"
	"  --interval DUR     poisson: mean gap between thread starts; periodic: the gap\n"
	"                     (default 100us)\n"
	"  --think DUR        C time before each callback; pool: its mean (default 10us)\n"
	"  --go-work DUR      CPU time of the Go code of each callback (default 5us)\n"
	"  --gc N             runtime.GC() calls per callback, 0 to %d (default 0)\n"
	"  --grow N           recursion depth per callback in frames, 0 to %lld\n"
	"                     (default 0)\n"
	"  --seed S           seed of the random streams (default 1)\n"
	"\n"
	"DUR is a number with a unit: ns, us, ms or s (\"50us\").  Every time in the\n"
	"trace, from the DUR options to the thread starts and arrivals they give, must\n"
	"be at most %lldns (about 146 years).  These limits are the ones\n"
	"`herdsim replay` checks.\n"
	"On an error, Ctrl-C or SIGTERM, FILE.tmp is removed and an existing FILE\n"
	"is left as it was.\n";

/* The usage text, with the limits of replay.h filled in. */
static void print_gen_usage(void)
{
	printf(gen_usage, HS_REPLAY_MAX_GC, (long long)HS_REPLAY_MAX_GROW,
	       (long long)HS_REPLAY_MAX_NS);
}

/* Parses an integer from min to max.  SUFFIX follows the range in the
 * error ("" for none).  The generator checks these bounds too, but its
 * errors name the option's field ("threads"), not the option
 * ("--threads"). */
static int parse_count(const char *name, const char *v, long long min, long long max,
		       const char *suffix, int64_t *out, struct hs_error *err)
{
	unsigned long long u;

	if (!cli_parse_u64(v, &u) || u < (unsigned long long)min || u > (unsigned long long)max)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
				    "invalid count '%s'; use an integer from %lld to %lld%s", v, min,
				    max, suffix);
	*out = (int64_t)u;
	return 0;
}

/* Parses a duration from 0 to HS_REPLAY_MAX_NS, the longest time a replay
 * accepts in a trace. */
static int parse_dur(const char *name, const char *v, int64_t *out, struct hs_error *err)
{
	int rc = hs_parse_duration(v, out, err);

	if (rc) {
		snprintf(err->key, sizeof(err->key), "%s", name);
		err->code = HS_E_USAGE;
		return HS_E_USAGE;
	}
	if (*out > HS_REPLAY_MAX_NS)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
				    "duration '%s' is out of range; use 0 to %lldns (about 146 "
				    "years), the maximum a replay accepts", v,
				    (long long)HS_REPLAY_MAX_NS);
	return 0;
}

/* Parses one option at argv[*i] into o; returns 0, 1 if it was not a
 * generator option, or a negative code. */
static int parse_gen_option(int argc, char **argv, int *i, struct hs_trace_gen_opts *o,
			    const char **out, struct hs_error *err)
{
	static const char limit_suffix[] = ", the maximum a replay accepts";
	static const char *const names[] = { "--kind", "--out", "--threads", "--callbacks", "--interval",
					     "--think", "--go-work", "--gc", "--grow", "--seed" };
	int64_t n = 0;
	int rc = 0;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		bool missing;
		const char *v = cli_option(argc, argv, i, names[k], &missing);

		if (missing)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, names[k],
					    "needs a value; see `herdsim trace gen --help`");
		if (!v)
			continue;
		switch (k) {
		case 0: return hs_trace_gen_kind_parse(v, &o->kind, err);
		case 1: *out = v; return 0;
		case 2:
			rc = parse_count(names[k], v, 1, INT32_MAX, "", &n, err);
			o->threads = (int32_t)n;
			return rc;
		case 3: return parse_count(names[k], v, 1, INT64_MAX, "", &o->callbacks, err);
		case 4: return parse_dur(names[k], v, &o->interval_ns, err);
		case 5: return parse_dur(names[k], v, &o->think_ns, err);
		case 6: return parse_dur(names[k], v, &o->go_work_ns, err);
		case 7:
			return parse_count(names[k], v, 0, HS_REPLAY_MAX_GC, limit_suffix,
					   &o->gc_calls, err);
		case 8:
			return parse_count(names[k], v, 0, HS_REPLAY_MAX_GROW, limit_suffix,
					   &o->grow_frames, err);
		default:
			rc = parse_count(names[k], v, 0, INT64_MAX, "", &n, err);
			o->seed = (uint64_t)n;
			return rc;
		}
	}
	return 1;
}

/* Registers OUT.tmp, the trace being written, for removal on SIGINT or
 * SIGTERM, and sets the line printed then. */
static void watch_interrupts(const char *out)
{
	char path[HS_CLEANUP_PATH_MAX], line[HS_CLEANUP_PATH_MAX + 80];

	snprintf(line, sizeof(line), "herdsim: trace gen interrupted; %s is left as it was\n", out);
	hs_cleanup_watch(line);
	snprintf(path, sizeof(path), "%s.tmp", out);
	hs_cleanup_add_file(path);
}

static int trace_gen(int argc, char **argv)
{
	struct hs_trace_gen_opts o = {
		.kind = -1, .threads = 4, .callbacks = 10, .interval_ns = 100000,
		.think_ns = 10000, .go_work_ns = 5000, .seed = 1,
	};
	struct hs_error err = { 0 };
	const char *out = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_gen_usage();
			return CLI_OK;
		}
		rc = parse_gen_option(argc, argv, &i, &o, &out, &err);
		if (rc == 1)
			return cli_usage_error("unknown argument '%s'; see `herdsim trace gen --help`", argv[i]);
		if (rc)
			return cli_error(&err);
	}
	if ((int)o.kind < 0)
		return cli_usage_error("--kind is required: burst, poisson, periodic or pool");
	if (!out)
		return cli_usage_error("--out FILE is required");
	if (out[0] == '\0')
		return cli_usage_error("--out: the file name is empty; give a file name");
	/* NOTE: a signal between the rename and hs_cleanup_unwatch prints
	 * that FILE is left as it was, but FILE is the complete new trace. */
	watch_interrupts(out);
	rc = hs_trace_gen(&o, out, &err);
	hs_cleanup_unwatch();
	if (rc)
		return cli_error(&err);
	return CLI_OK;
}

int cli_trace(int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : NULL;

	if (what && strcmp(what, "gen") == 0)
		return trace_gen(argc - 1, argv + 1);
	if (what && (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0)) {
		print_gen_usage();
		return CLI_OK;
	}
	if (!what)
		return cli_usage_error("trace needs a command; use `herdsim trace gen` (see --help)");
	return cli_usage_error("unknown trace command '%s'; use `herdsim trace gen` (see --help)", what);
}
