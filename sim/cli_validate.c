/*
 * `herdsim validate`: runs a scenario on real threads (backend native) and
 * in the simulator on this machine's measured OS profile (backend sim),
 * records both, and prints how far the simulation is from the real runs.
 *
 * Both backends run with [machine] cores set to the CPUs this process may
 * use, its affinity mask.  That works as `--set machine.cores=N` would,
 * applied before the user's own --set overrides, so the simulated machine
 * is the one the native runs used.  The simulated runs use --os (default `host`, the profile
 * `herdsim calibrate` wrote).
 *
 * Recording: every run goes to the database with run.backend native or
 * sim.  A native run keeps run.os = the kernel's uname (where it really
 * ran); the profile it was compared with is in its run_param rows
 * (os.name), and the printed table names both.
 *
 * Signals: after the first SIGINT or SIGTERM no further run starts.
 * Native results wait in memory until the simulated runs start, so a
 * signal before then records nothing.  After it, each run that ended is
 * recorded whole (interrupt_watch.h).
 *
 * Seeds: replication r of every policy and backend uses seed S + r, as
 * `herdsim run` does.
 *
 * Figures: for each policy and backend, the median of makespan, CPU time,
 * usleep calls, yields, M's created, context switches, preemptions,
 * migrations and stop-the-world time.  Each median is followed by its
 * distribution-free 95 % interval (hs_median_ci95, from 6 completed runs
 * up), and each row ends with the ratio of the simulated median to the
 * native one.  Then, when both `single` and `waiters` ran, the
 * ratio of the waiters median makespan to the single median on each
 * backend and the difference of the two ratios.  Last, the targets: each
 * policy's sim/native makespan ratio against 1 +- --tolerance, and the
 * ratio difference against +- --ratio-tolerance, each met or missed on the
 * medians.  The native median's distribution-free 95 % interval
 * (hs_median_ci95) shows whether the native runs fix their median to
 * within the tolerance at all.  On a host whose runs are heavy-tailed, a
 * median of a few replications may not be.  The figures cover the
 * completed runs only.  A run that ends in a timeout, deadlock or error
 * has no makespan, so it is recorded, reported on stderr and counted in
 * the table, but left out of the figures.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "backend.h"
#include "calibrate.h"
#include "cli.h"
#include "config.h"
#include "hostcheck.h"
#include "interrupt_watch.h"
#include "record.h"
#include "registry.h"
#include "stats.h"
#include "workload.h"

#define MAX_POLICIES 32
#define DEFAULT_TOLERANCE 0.15
#define DEFAULT_RATIO_TOLERANCE 0.05
#define DEFAULT_DB "results/herdsim.sqlite"
#define NFIG 9      /* figures every validation prints */
#define NFIG_ALL 14 /* and the CPU time by phase with --phase-cpu */

static const char validate_usage[] =
	"usage: herdsim validate SCENARIO [options]\n"
	"\n"
	"Runs SCENARIO natively and simulated on this machine's profile, with\n"
	"machine.cores = the CPUs it may use, records both and compares them.\n"
	"\n"
	"options:\n"
	"  --policy NAME|all     policy to run; repeatable (default: the scenario's)\n"
	"  --os NAME|FILE        OS profile of the simulated runs: host (the\n"
	"                        default, written by `herdsim calibrate`), a\n"
	"                        shipped name (`herdsim list os`) or a file\n"
	"  --reps N              replications per policy and backend\n"
	"  --seed N              seed of replication 0; replication r uses N+r\n"
	"  --db FILE             SQLite database (default results/herdsim.sqlite)\n"
	"  --set SECTION.KEY=V   override a scenario or profile key; repeatable\n"
	"  --calibrate[=SCALE]   measure this machine as `herdsim calibrate --scale\n"
	"                        SCALE` does (default 1), in one pass per native\n"
	"                        replication (at most 9) between the native runs,\n"
	"                        and write the profile that --os names (host, or a\n"
	"                        file path); a machine's speed drifts, so the\n"
	"                        profile then samples the minutes the native runs saw\n"
	"  --tolerance F         target for each policy: |sim/native - 1| <= F for\n"
	"                        the median makespans, 0 < F < 1 (default 0.15)\n"
	"  --ratio-tolerance D   target for waiters/single: the simulated makespan\n"
	"                        ratio within D of the native one, 0 < D < 1\n"
	"                        (default 0.05)\n"
	"  --phase-cpu           also compare the callbacks' CPU time by phase (think,\n"
	"                        needm, P wait, Go code, exit), in us per callback;\n"
	"                        the native threads then read their CPU clock six\n"
	"                        times per callback\n"
	"  --strict              exit with status 4 when a target is missed, so a\n"
	"                        script can stop on it (the targets are judged with\n"
	"                        --quiet too)\n"
	"  --quiet               print no progress and no table\n"
	"\n"
	"On Ctrl-C or SIGTERM no further run starts.  Before the simulated runs\n"
	"nothing is recorded; after, the runs that ended are.\n"
	"\n"
	"Exit status: 0 ok, 1 bad input, 2 bad usage, 3 a run ended in deadlock,\n"
	"timeout or error (it is still recorded, and left out of the figures),\n"
	"4 a target missed under --strict, 130 interrupted.\n";

/* CPU time, context switches and preemptions are the kernel's counts
 * (getrusage) on the native side and the model's on the simulated one.
 * They show whether a makespan gap comes from costlier work or idle CPUs.
 * A migration is a thread starting on another CPU than the one it last
 * ran on.  The native count comes from a perf software counter, and is
 * "-" where the kernel refuses that counter. */
static const char *const fig_names[NFIG_ALL] = {
	"makespan ms", "CPU time ms", "usleep calls", "yields", "M's created", "switches",
	"preemptions", "migrations", "stop-world ms", "think us/cb", "needm us/cb", "P wait us/cb", "Go us/cb", "exit us/cb",
};
/* The phase figures (from index NFIG) are the scalars hs_phase_scalar
 * names, in the same order, divided by the run's callbacks. */
static const char *const fig_keys[NFIG] = { "makespan_ns", "cpu_ns", "usleep_calls", "yields",
					    "m_created", "context_switches", "preemptions", "migrations",
					    "stw_ns" };
static const double fig_scale[NFIG_ALL] = { 1e6, 1e6, 1, 1, 1, 1, 1, 1, 1e6, 1e3, 1e3, 1e3, 1e3, 1e3 };
static const int fig_decimals[NFIG_ALL] = { 2, 2, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2 };

struct val_opts {
	const char *scenario;
	const char *policies[MAX_POLICIES];
	int npolicies;
	const char *os;
	const char *db;
	unsigned long long seed, reps;
	double tolerance, ratio_tolerance;
	bool seed_set, reps_set, quiet, phase_cpu, strict;
	const char *calibrate_scale; /* --calibrate: the scale, "1" when bare; NULL: no */
	struct hs_override overrides[HS_MAX_OVERRIDES];
	int noverrides;
};

/* Values of the figures over the replications of one policy on one
 * backend: v[figure][replication]. */
struct series {
	double *v[NFIG_ALL];
	int n;          /* completed runs, whose figures are in v */
	int incomplete; /* runs that ended in a timeout, deadlock or error */
	/* CPU seconds other processes used while the runs of this series
	 * ran, and the wall-clock seconds of those runs (native only). */
	double other_cpu_s, wall_s;
	/* The host check before each native run (hostcheck.h), ns of CPU
	 * per cycle, and how many were taken. */
	double *host;
	int nhost;
};

/* Wall time of the host check before each native run, and the change of
 * its median from the check after calibrating that the table flags. */
#define HOSTCHECK_WINDOW_NS 20000000
#define HOST_DRIFT 0.15

/* Busy CPU time of the whole machine and of this process, in seconds,
 * and the monotonic clock. */
struct cpu_sample {
	double machine_s, self_s, now_s;
	bool ok;
};

/* Reads the busy time of every CPU (user, nice, system, irq, softirq and
 * steal jiffies of the first line of /proc/stat) and this process's user
 * and system time (getrusage).  ok is false where /proc/stat is missing. */
static struct cpu_sample cpu_sample_take(void)
{
	struct cpu_sample c = { 0, 0, 0, false };
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
	struct rusage ru;
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");

	if (f) {
		c.ok = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys,
			      &idle, &iowait, &irq, &softirq, &steal) == 8 && hz > 0;
		fclose(f);
	}
	if (c.ok)
		c.machine_s = (double)(user + nice + sys + irq + softirq + steal) / (double)hz;
	getrusage(RUSAGE_SELF, &ru);
	c.self_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c.now_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return c;
}

static const char *take_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool is_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Returns 0, 1 for --help, or a negative HS_E_* code with err filled. */
static int parse_args(int argc, char **argv, struct val_opts *o, struct hs_error *err)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(validate_usage, stdout);
			return 1;
		}
		if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			o->quiet = true;
			continue;
		}
		if (strcmp(a, "--phase-cpu") == 0) {
			o->phase_cpu = true;
			continue;
		}
		if (strcmp(a, "--strict") == 0) {
			o->strict = true;
			continue;
		}
		if (strcmp(a, "--calibrate") == 0 || strncmp(a, "--calibrate=", 12) == 0) {
			double scale;

			o->calibrate_scale = a[11] == '=' ? a + 12 : "1";
			if (!cli_parse_scale(o->calibrate_scale, &scale))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--calibrate",
						    "invalid scale '%s'; use a decimal number in (0, 100]",
						    o->calibrate_scale);
			continue;
		}
		if (a[0] != '-') {
			if (o->scenario)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a,
						    "unexpected argument: give one scenario%s",
						    o->calibrate_scale ? " (a calibration scale is "
						    "written --calibrate=SCALE)" : "");
			o->scenario = a;
			continue;
		}
		static const char *const names[] = { "--policy", "--os", "--reps", "--seed", "--db", "--set",
						     "--tolerance", "--ratio-tolerance" };
		const char *name = NULL;

		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !name; k++)
			if (is_opt(a, names[k]))
				name = names[k];
		if (!name)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, a,
					    "unknown option; see `herdsim validate --help`");
		v = take_value(argc, argv, &i, name);
		if (!v)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
					    "needs a value; see `herdsim validate --help`");
		if (strcmp(name, "--policy") == 0) {
			if (o->npolicies == MAX_POLICIES)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, name, "at most %d policies",
						    MAX_POLICIES);
			o->policies[o->npolicies++] = v;
		} else if (strcmp(name, "--os") == 0) {
			o->os = v;
		} else if (strcmp(name, "--db") == 0) {
			o->db = v;
		} else if (strcmp(name, "--reps") == 0) {
			if (!cli_parse_u64(v, &o->reps) || o->reps < 1 || o->reps > 100000)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
						    "invalid count '%s'; use 1 to 100000", v);
			o->reps_set = true;
		} else if (strcmp(name, "--tolerance") == 0 || strcmp(name, "--ratio-tolerance") == 0) {
			double *target = strcmp(name, "--tolerance") == 0 ? &o->tolerance : &o->ratio_tolerance;
			char *end;

			errno = 0;
			*target = strtod(v, &end);
			if (errno || *end || end == v || !(*target > 0 && *target < 1))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
						    "invalid value '%s'; use a number above 0 and below 1, such as %s",
						    v, strcmp(name, "--tolerance") == 0 ? "0.15" : "0.05");
		} else if (strcmp(name, "--seed") == 0) {
			if (!cli_parse_u64(v, &o->seed))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, name,
						    "invalid seed '%s'; use a non-negative integer", v);
			o->seed_set = true;
		} else {
			int rc;

			if (o->noverrides == HS_MAX_OVERRIDES - 1)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, name, "at most %d overrides",
						    HS_MAX_OVERRIDES - 1);
			rc = hs_override_parse(&o->overrides[o->noverrides], v, err);
			if (rc)
				return rc;
			o->noverrides++;
		}
	}
	if (!o->scenario)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL,
				    "give a scenario: a shipped name (herdsim list scenarios) or an .ini path");
	return 0;
}

static void add_param(void *ctx, const char *key, const char *value)
{
	hs_result_param(ctx, key, value);
}

static bool series_alloc(struct series *s, int reps)
{
	for (int f = 0; f < NFIG_ALL; f++)
		if (!(s->v[f] = calloc((size_t)reps, sizeof(double))))
			return false;
	return (s->host = calloc((size_t)reps, sizeof(double))) != NULL;
}

static void series_free(struct series *s)
{
	for (int f = 0; f < NFIG_ALL; f++)
		free(s->v[f]);
	free(s->host);
}

/* Copies base into *out, with policy p's own [policy] keys in its scenario. */
static void policy_config(const struct hs_config *base, const struct hs_policy *p, struct hs_config *out)
{
	*out = *base;
	hs_scenario_for_policy(&base->scenario, p, &out->scenario);
}

/* Runs one replication on one backend and adds its figures to s.  The
 * result stays in *res, which the caller has initialized and frees; a
 * simulated run's result already carries cfg's parameters.  Returns 0,
 * CLI_RUN_FAILED when the run ended badly (its result is still kept for
 * the database), or a negative HS_E_* code. */
static int run_one(const struct hs_backend *be, const struct hs_config *cfg, const struct hs_policy *p,
		   uint64_t seed, int rep, bool phase_cpu, struct series *s, struct hs_run_result *res,
		   struct hs_error *err)
{
	struct hs_run_request req = { 0 };
	struct cpu_sample before, after;
	bool native = strcmp(be->name, "native") == 0;
	double cycle = NAN;
	int rc;

	req.cfg = cfg;
	req.policy = p;
	req.seed = seed;
	req.replication = rep;
	req.record = HS_RECORD_SUMMARY;
	req.phase_cpu = phase_cpu;
	rc = hs_policy_params(p, &cfg->scenario, req.policy_params, err);
	if (rc)
		return rc;
	if (native) {
		struct hs_error check_err = { 0 };

		/* the check only informs: a failure leaves it out (NaN, stored
		 * as NULL) and the run goes on */
		if (hs_hostcheck_cycle(HOSTCHECK_WINDOW_NS, &cycle, &check_err) != 0) {
			fprintf(stderr, "herdsim: warning: %s; this native run has no host check\n",
				check_err.msg);
			cycle = NAN;
		}
		s->host[s->nhost++] = cycle;
	} else {
		hs_config_each_param(cfg, add_param, res);
	}
	before = cpu_sample_take();
	rc = be->run(&req, res, err);
	after = cpu_sample_take();
	if (native && hs_result_scalar(res, "host_cycle_ns", cycle) != 0 && rc == 0)
		rc = hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	if (before.ok && after.ok && native) {
		double other = (after.machine_s - before.machine_s) - (after.self_s - before.self_s);

		/* /proc/stat counts whole ticks, so a short run can come out
		 * slightly negative */
		s->other_cpu_s += other > 0 ? other : 0;
		s->wall_s += after.now_s - before.now_s;
	}
	if (rc == 0 && res->status != HS_STATUS_OK) {
		/* an incomplete run has no makespan: it is recorded and counted,
		 * and the figures summarize the completed runs */
		fprintf(stderr, "herdsim: %s on %s, seed %llu: %s: %s\n", p->name, be->name,
			(unsigned long long)seed, hs_status_name(res->status), res->error);
		s->incomplete++;
		rc = CLI_RUN_FAILED;
	} else if (rc == 0) {
		double callbacks = hs_result_get(res, "callbacks", 0);

		for (int f = 0; f < NFIG; f++)
			s->v[f][s->n] = hs_result_get(res, fig_keys[f], 0);
		for (int ph = 0; phase_cpu && callbacks > 0 && ph < HS_NPHASES; ph++)
			s->v[NFIG + ph][s->n] = hs_result_get(res, hs_phase_scalar[ph], 0) / callbacks;
		s->n++;
	}
	return rc;
}

/* Copies the numbers of v[0..n) into out, leaving out NaN, which marks a
 * figure a backend could not measure; returns how many it copied. */
static int copy_numbers(const double *v, int n, double *out)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			out[k++] = v[i];
	return k;
}

/* Median of the numbers in v[0..n) (hs_median sorts a copy in place);
 * NaN when there is no number. */
static double median_of(const double *v, int n)
{
	double tmp[n > 0 ? n : 1];
	int k = copy_numbers(v, n, tmp);

	return k > 0 ? hs_median(tmp, (size_t)k) : NAN;
}

/* Writes x with d decimals into cell (32 bytes), or "-" when no run of
 * the series completed or the figure was not measured. */
static void format_cell(char *cell, int n, double x, int d)
{
	if (n > 0 && !isnan(x))
		snprintf(cell, 32, "%.*f", d, x);
	else
		snprintf(cell, 32, "-");
}

/* Writes the distribution-free 95 % interval of the median of the numbers
 * in v[0..n) (hs_median_ci95) into cell (32 bytes), as "LO-HI" divided by
 * scale with d decimals.  Below 6 numbers no such interval exists, and the
 * cell reads "-". */
static void format_median_ci(char *cell, const double *v, int n, double scale, int d)
{
	double tmp[n > 0 ? n : 1], lo, hi;
	int k = copy_numbers(v, n, tmp);

	if (k > 0 && hs_median_ci95(tmp, (size_t)k, &lo, &hi))
		snprintf(cell, 32, "%.*f-%.*f", d, lo / scale, d, hi / scale);
	else
		snprintf(cell, 32, "-");
}

static void print_policy(const struct hs_policy *p, const struct series *nat, const struct series *sim,
			 long ncpu, bool phase_cpu)
{
	printf("\n%s\n", p->name);
	printf("  %-14s %12s %17s %12s %17s %9s\n", "figure", "native med", "95% CI", "sim med",
	       "95% CI", "sim/nat");
	for (int f = 0; f < (phase_cpu ? NFIG_ALL : NFIG); f++) {
		double sc = fig_scale[f];
		double mn = median_of(nat->v[f], nat->n), ms = median_of(sim->v[f], sim->n);
		char ratio[32] = "-";
		int d = fig_decimals[f];

		char cells[4][32];

		if (mn > 0 && nat->n > 0 && sim->n > 0)
			snprintf(ratio, sizeof(ratio), "%.3f", ms / mn);
		format_cell(cells[0], nat->n, mn / sc, d);
		format_median_ci(cells[1], nat->v[f], nat->n, sc, d);
		format_cell(cells[2], sim->n, ms / sc, d);
		format_median_ci(cells[3], sim->v[f], sim->n, sc, d);
		printf("  %-14s %12s %17s %12s %17s %9s\n", fig_names[f], cells[0], cells[1], cells[2],
		       cells[3], ratio);
	}
	if (nat->incomplete > 0 || sim->incomplete > 0)
		printf("  incomplete runs (timeout, deadlock or error), left out above: native %d of %d, "
		       "sim %d of %d\n",
		       nat->incomplete, nat->n + nat->incomplete, sim->incomplete, sim->n + sim->incomplete);
	/* Other processes compete with the native threads for the CPUs, and
	 * the simulated machine has none: a high share makes the native
	 * figures slower than this machine alone would give. */
	if (nat->wall_s > 0 && ncpu > 0)
		printf("  other processes used %.0f %% of the %ld CPUs during the native runs\n",
		       100.0 * nat->other_cpu_s / (nat->wall_s * (double)ncpu), ncpu);
}

/* How far the host ran from its calibrated state: the host check after
 * calibrating (NaN without --calibrate) against the checks before the
 * native runs.  The sim runs on the calibrated figures, so a native
 * series that met a slower or faster host is not comparable to it. */
static void print_host(const struct series *nat, int npols, double at_calibration)
{
	double lo = INFINITY, hi = -INFINITY, med, *all;
	int n = 0, total = 0;

	for (int p = 0; p < npols; p++)
		total += nat[p].nhost;
	/* the checks are in the database too (scalar host_cycle_ns), so a
	 * failed allocation only leaves out this line */
	if (total == 0 || !(all = malloc((size_t)total * sizeof(*all))))
		return;
	for (int p = 0; p < npols; p++)
		for (int i = 0; i < nat[p].nhost; i++) {
			all[n++] = nat[p].host[i];
			lo = fmin(lo, nat[p].host[i]);
			hi = fmax(hi, nat[p].host[i]);
		}
	med = median_of(all, n);
	free(all);
	if (isnan(med))
		return; /* every check failed, each with a warning */
	printf("\nhost check, a usleep(1) cycle with every CPU busy: %.2f us of CPU before the native runs "
	       "(median; %.2f to %.2f)",
	       med / 1e3, lo / 1e3, hi / 1e3);
	if (isnan(at_calibration)) {
		printf("\n");
		return;
	}
	printf(", %.2f us after the calibration passes (median)\n", at_calibration / 1e3);
	if (fabs(med / at_calibration - 1) > HOST_DRIFT)
		printf("the host was %.0f %% %s during the native runs than when calibrated; the simulated runs "
		       "use the calibrated figures\n",
		       fabs(med / at_calibration - 1) * 100, med > at_calibration ? "slower" : "faster");
}

static int find_policy(const struct hs_policy *const *pols, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(pols[i]->name, name) == 0)
			return i;
	return -1;
}

/* Sets the median makespan ratio waiters/single of each backend.  False
 * when a policy did not run or a backend completed no run of one of
 * them.  *ran is set to whether both policies ran. */
static bool makespan_ratios(const struct hs_policy *const *pols, int npols, const struct series *nat,
			    const struct series *sim, double *native, double *simulated, bool *ran)
{
	int s = find_policy(pols, npols, "single"), w = find_policy(pols, npols, "waiters");

	*ran = s >= 0 && w >= 0;
	if (!*ran)
		return false;
	double ns = median_of(nat[s].v[0], nat[s].n), nw = median_of(nat[w].v[0], nat[w].n);
	double ss = median_of(sim[s].v[0], sim[s].n), sw = median_of(sim[w].v[0], sim[w].n);

	if (!(ns > 0) || !(ss > 0) || isnan(nw) || isnan(sw))
		return false;
	*native = nw / ns;
	*simulated = sw / ss;
	return true;
}

static void print_ratios(const struct hs_policy *const *pols, int npols, struct series *nat, struct series *sim)
{
	double native, simulated;
	bool ran;

	if (makespan_ratios(pols, npols, nat, sim, &native, &simulated, &ran))
		printf("\nmakespan ratio waiters/single: native %.3f, sim %.3f, sim - native %+.3f\n", native,
		       simulated, simulated - native);
}

/* Writes x as a signed percentage with one decimal into buf (16 bytes)
 * and returns buf. */
static const char *percent(char *buf, double x)
{
	snprintf(buf, 16, "%+.1f %%", 100 * x);
	return buf;
}

/* Returns the reason a target has no value: the backends with no completed run. */
static const char *no_runs(int nat_runs, int sim_runs)
{
	if (nat_runs == 0 && sim_runs == 0)
		return "no completed runs on either backend";
	return nat_runs == 0 ? "no completed native runs" : "no completed simulated runs";
}

/* Returns 1 when a target is missed, else 0.  When `print`, prints its
 * line: the name, the value, met or missed, then `rest`. */
static int judge_target(bool print, const char *name, const char *value, bool met,
			const char *rest)
{
	if (print)
		printf("  %-15s %7s  %-6s  %s\n", name, value, met ? "met" : "missed", rest);
	return met ? 0 : 1;
}

/* Returns how many targets (see the top of the file) the medians miss.  A
 * target without completed runs is not missed.  When `print`, prints each
 * target with how precisely the native runs fix their median makespan. */
static int judge_targets(bool print, const struct val_opts *o, const struct hs_policy *const *pols,
			 int npols, struct series *nat, struct series *sim)
{
	int missed = 0;
	double native, simulated;
	bool ran, known = makespan_ratios(pols, npols, nat, sim, &native, &simulated, &ran);
	char value[32];

	if (print) {
		printf("\ntargets: sim median makespan within %g %% of native", 100 * o->tolerance);
		if (ran)
			printf("; waiters/single ratio within %g", o->ratio_tolerance);
		printf("\n");
	}
	for (int p = 0; p < npols; p++) {
		double mn = median_of(nat[p].v[0], nat[p].n), ms = median_of(sim[p].v[0], sim[p].n);
		double tmp[nat[p].n > 0 ? nat[p].n : 1], lo, hi;
		char rest[160], pl[16], ph[16];
		int k = copy_numbers(nat[p].v[0], nat[p].n, tmp);

		if (!(mn > 0) || isnan(ms)) {
			if (print)
				printf("  %-15s %7s  %s\n", pols[p]->name, "-", no_runs(nat[p].n, sim[p].n));
			continue;
		}
		snprintf(value, sizeof(value), "%.3f", ms / mn);
		if (!hs_median_ci95(tmp, (size_t)k, &lo, &hi))
			snprintf(rest, sizeof(rest),
				 "%d native run%s; a 95 %% interval of the median needs at least 6", k,
				 k == 1 ? "" : "s");
		else
			snprintf(rest, sizeof(rest), "native median %.2f ms, 95 %% interval %.2f to %.2f (%s to %s)%s",
				 mn / 1e6, lo / 1e6, hi / 1e6, percent(pl, lo / mn - 1), percent(ph, hi / mn - 1),
				 lo < mn * (1 - o->tolerance) || hi > mn * (1 + o->tolerance)
				 ? ", wider than the target" : "");
		missed += judge_target(print, pols[p]->name, value, fabs(ms / mn - 1) <= o->tolerance,
				       rest);
	}
	if (!ran)
		return missed;
	if (!known) {
		int s = find_policy(pols, npols, "single"), w = find_policy(pols, npols, "waiters");

		if (print)
			printf("  %-15s %7s  %s\n", "waiters/single", "-",
			       no_runs(nat[s].n > 0 && nat[w].n > 0, sim[s].n > 0 && sim[w].n > 0));
		return missed;
	}
	int s = find_policy(pols, npols, "single"), w = find_policy(pols, npols, "waiters");
	double single[nat[s].n], waiters[nat[w].n], lo, hi;
	int nsingle = copy_numbers(nat[s].v[0], nat[s].n, single);
	int nwaiters = copy_numbers(nat[w].v[0], nat[w].n, waiters);
	char rest[160];

	if (hs_median_ratio_ci90(waiters, (size_t)nwaiters, single, (size_t)nsingle, &lo, &hi))
		snprintf(rest, sizeof(rest), "sim minus native; native ratio %.3f, 90 %% interval %.3f to %.3f%s",
			 native, lo, hi,
			 lo < native - o->ratio_tolerance || hi > native + o->ratio_tolerance
			 ? ", wider than the target" : "");
	else
		snprintf(rest, sizeof(rest), "sim minus native; native ratio %.3f", native);
	snprintf(value, sizeof(value), "%+.3f", simulated - native);
	missed += judge_target(print, "waiters/single", value,
			       fabs(simulated - native) <= o->ratio_tolerance, rest);
	return missed;
}

/*
 * The runs of one validation.  The native runs go replication by
 * replication, each policy in turn, so that every policy meets the same
 * states of a host whose speed drifts.  With --calibrate they go between
 * the calibration's passes (after_pass), and the profile, the median over
 * the passes, samples the same minutes as the native runs.  Their results
 * wait in native_results until that profile is loaded, so that their run_param
 * rows name the profile they are compared with and a failed calibration
 * records nothing.  The simulated runs follow, on the final profile.
 */
struct val_runs {
	const struct val_opts *o;
	const struct hs_config *cfg; /* the scenario; its profile once loaded */
	const struct hs_policy *const *pols;
	int npols;
	struct series *nat, *sim;
	struct hs_run_result *native_results; /* [rep * npols + policy], written after the calibration */
	unsigned long long next_rep; /* first native replication not yet run */
	int done, total, status;
	bool tty;
	struct hs_interrupts *in; /* the signal watcher; in->recorded counts the runs written */
	double host_after_pass[HS_CALIB_MAX_PASSES]; /* host checks after the passes */
	int nhost_after_pass;
};

static void show_run(struct val_runs *v, const struct hs_policy *p, const char *backend,
		     unsigned long long rep)
{
	if (v->tty)
		fprintf(stderr, "\r\033[Krun %d/%d: %s, %s, replication %llu", v->done + 1, v->total, p->name,
			backend, rep);
}

/* Test hook: HS_VALIDATE_TEST_SIGNAL="INT:N" or "TERM:N" sends that
 * signal once N runs (native and simulated) have ended, before the next
 * one starts, and waits for the watcher to take it. */
static void test_signal_hook(struct val_runs *v)
{
	const char *hook = getenv("HS_VALIDATE_TEST_SIGNAL");
	const char *colon = hook ? strchr(hook, ':') : NULL;

	if (!colon || !v->in->started || atoi(colon + 1) != v->done)
		return;
	hs_interrupts_test_signal(v->in, strncmp(hook, "TERM", 4) == 0 ? SIGTERM : SIGINT, 1);
}

/* Returns true, with v->status CLI_INTERRUPTED, once a signal has asked
 * the command to stop; checked before each run. */
static bool stopping(struct val_runs *v)
{
	test_signal_hook(v);
	if (!atomic_load(&v->in->first))
		return false;
	v->status = CLI_INTERRUPTED;
	return true;
}

/* Counts a run that ended with rc 0 or CLI_RUN_FAILED. */
static void count_run(struct val_runs *v, int rc)
{
	if (rc == CLI_RUN_FAILED)
		v->status = CLI_RUN_FAILED;
	v->done++;
}

/* Runs the native replications from v->next_rep up to `end`, each policy
 * in turn.  Returns 0 or a negative HS_E_* code; a run that did not
 * complete sets v->status. */
static int run_native_until(struct val_runs *v, unsigned long long end, struct hs_error *err)
{
	for (; v->next_rep < end; v->next_rep++) {
		unsigned long long r = v->next_rep;

		for (int p = 0; p < v->npols; p++) {
			struct hs_config cfg;
			int rc;

			if (stopping(v))
				return 0;
			policy_config(v->cfg, v->pols[p], &cfg);
			show_run(v, v->pols[p], "native", r);
			rc = run_one(&hs_backend_native, &cfg, v->pols[p], v->o->seed + r, (int)r,
				     v->o->phase_cpu, &v->nat[p], &v->native_results[r * (unsigned)v->npols + p], err);
			if (rc < 0)
				return rc;
			count_run(v, rc);
		}
	}
	return 0;
}

/* hs_calib_opts.after_pass: a host check, then the share of the native
 * replications that falls after pass `pass` of `passes`. */
static int native_after_pass(void *ctx, int pass, int passes, struct hs_error *err)
{
	struct val_runs *v = ctx;
	struct hs_error check_err = { 0 };
	double cycle;
	int rc;

	if (v->nhost_after_pass < HS_CALIB_MAX_PASSES &&
	    hs_hostcheck_cycle(HOSTCHECK_WINDOW_NS, &cycle, &check_err) == 0)
		v->host_after_pass[v->nhost_after_pass++] = cycle;
	rc = run_native_until(v, v->o->reps * (unsigned)pass / (unsigned)passes, err);
	if (rc == 0 && v->status == CLI_INTERRUPTED)
		return hs_error_set(err, HS_E_IO, NULL, 0, NULL, "interrupted; no run is recorded");
	return rc;
}

/* Writes res under the watcher's lock, so that a second signal finds it
 * written or not started, and counts it. */
static int write_counted(struct val_runs *v, struct hs_db *db, const struct hs_run_result *res,
			 struct hs_error *err)
{
	int rc;

	pthread_mutex_lock(&v->in->db_mu);
	rc = hs_db_write_run(db, res, NULL, err);
	if (rc == 0)
		v->in->recorded++;
	pthread_mutex_unlock(&v->in->db_mu);
	return rc;
}

/* Writes the native results, with the parameters of v->cfg, then runs
 * and writes the simulated replications until a signal stops them.
 * Returns 0 or a negative HS_E_* code; a run that did not complete or a
 * signal sets v->status. */
static int record_and_simulate(struct val_runs *v, struct hs_db *db, struct hs_error *err)
{
	if (v->status == CLI_INTERRUPTED)
		return 0;
	for (unsigned long long r = 0; r < v->o->reps; r++)
		for (int p = 0; p < v->npols; p++) {
			struct hs_run_result *res = &v->native_results[r * (unsigned)v->npols + p];
			struct hs_config cfg;
			int rc;

			policy_config(v->cfg, v->pols[p], &cfg);
			hs_config_each_param(&cfg, add_param, res);
			rc = write_counted(v, db, res, err);
			if (rc)
				return rc;
		}
	for (int p = 0; p < v->npols; p++) {
		struct hs_config cfg;

		policy_config(v->cfg, v->pols[p], &cfg);
		for (unsigned long long r = 0; r < v->o->reps; r++) {
			struct hs_run_result res;
			int rc;

			if (stopping(v))
				return 0;
			show_run(v, v->pols[p], "sim", r);
			hs_result_init(&res);
			rc = run_one(&hs_backend_sim, &cfg, v->pols[p], v->o->seed + r, (int)r, v->o->phase_cpu,
				     &v->sim[p], &res, err);
			if (rc >= 0) {
				int wrc = write_counted(v, db, &res, err);

				if (wrc)
					rc = wrc;
			}
			hs_result_free(&res);
			if (rc < 0)
				return rc;
			count_run(v, rc);
		}
	}
	return 0;
}

/* Loads the scenario with machine.cores = the usable CPUs, then the user's
 * overrides, and the OS profile `os`. */
static int load_config(const struct val_opts *o, const char *os, struct hs_config *cfg, struct hs_error *err)
{
	struct hs_override ov[HS_MAX_OVERRIDES];
	long ncpu = hs_usable_cpus();
	char text[64];
	int rc;

	snprintf(text, sizeof(text), "machine.cores=%ld", ncpu > 0 ? ncpu : 1L);
	rc = hs_override_parse(&ov[0], text, err);
	if (rc)
		return rc;
	memcpy(&ov[1], o->overrides, (size_t)o->noverrides * sizeof(ov[0]));
	return hs_config_load(cfg, o->scenario, ov, o->noverrides + 1, os, err);
}

/*
 * --calibrate: the profile file to write, the one --os names, "host"
 * meaning hs_host_profile_path().  A shipped profile name and a directory
 * are rejected, since calibration writes a file.  Returns 0 or a negative
 * HS_E_* code.
 */
static int calibration_target(const struct val_opts *o, const char **out, struct hs_error *err)
{
	bool is_file = strchr(o->os, '/') != NULL || strstr(o->os, ".ini") != NULL;
	struct stat st;

	*out = strcmp(o->os, "host") == 0 ? hs_host_profile_path() : o->os;
	if (strcmp(o->os, "host") != 0 && !is_file)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--calibrate",
				    "writes a profile file, but --os '%s' reads as the name of a "
				    "shipped profile; use --os host, or a path that contains '/' or "
				    "ends in .ini",
				    o->os);
	if (stat(*out, &st) == 0 && S_ISDIR(st.st_mode))
		return hs_error_set(err, HS_E_INPUT, *out, 0, "--os",
				    "is a directory; give the profile file --calibrate should write");
	return 0;
}

/* Runs `herdsim calibrate --out OUT --scale SCALE --passes N`, N = the
 * replications, at most HS_CALIB_MAX_PASSES, with the native runs between
 * the passes.  Returns 0, or the exit status when the calibration or a
 * native run failed; the calibration has printed the error then. */
static int calibrate_between_runs(const struct val_opts *o, const char *out, struct val_runs *v)
{
	char passes[16];
	const char *args[8] = { "--out", out, "--scale", o->calibrate_scale, "--passes", passes, NULL, NULL };
	int nargs = 6;
	unsigned long long n = o->reps < HS_CALIB_MAX_PASSES ? o->reps : HS_CALIB_MAX_PASSES;

	snprintf(passes, sizeof(passes), "%llu", n > 0 ? n : 1);
	if (o->quiet)
		args[nargs++] = "--quiet";
	return cli_calibrate_between(nargs, (char **)args, native_after_pass, v);
}

int cli_validate(int argc, char **argv)
{
	struct val_opts o = { 0 };
	struct hs_error err = { 0 };
	struct hs_config *cfg = calloc(1, sizeof(*cfg));
	const struct hs_policy *pols[MAX_POLICIES];
	struct series nat[MAX_POLICIES] = { 0 }, sim[MAX_POLICIES] = { 0 };
	struct hs_db *db = NULL;
	int npols = 0, rc, status = CLI_INPUT, missed = 0;
	const char *profile_out = NULL;
	double host_at_calibration = NAN;
	struct val_runs v = { 0 };
	struct hs_interrupts in = { 0 };
	bool watching = false;
	size_t nresults = 0;

	if (!cfg)
		return cli_error(&(struct hs_error){ .code = HS_E_NOMEM, .msg = "out of memory" });
	rc = parse_args(argc, argv, &o, &err);
	if (rc == 1) {
		free(cfg);
		return CLI_OK;
	}
	if (!o.os)
		o.os = "host";
	if (!(o.tolerance > 0))
		o.tolerance = DEFAULT_TOLERANCE;
	if (!(o.ratio_tolerance > 0))
		o.ratio_tolerance = DEFAULT_RATIO_TOLERANCE;
	if (!o.db)
		o.db = DEFAULT_DB;
	/* With --calibrate, every input is checked before the seconds of
	 * measuring, on a shipped profile because the host file may not exist
	 * yet.  The native runs need no OS profile; the measured one is loaded
	 * once the calibration has written it, before any run is recorded. */
	if (rc == 0)
		rc = load_config(&o, o.calibrate_scale ? "linux" : o.os, cfg, &err);
	if (rc == 0 && o.npolicies)
		rc = hs_policy_resolve(o.policies, o.npolicies, pols, MAX_POLICIES, &npols, &err);
	else if (rc == 0)
		rc = hs_policy_resolve_scenario(&cfg->scenario, pols, MAX_POLICIES, &npols, &err);
	if (rc == 0)
		rc = hs_policy_check_params(&cfg->scenario, pols, npols, &err);
	if (rc == 0 && o.calibrate_scale)
		rc = calibration_target(&o, &profile_out, &err);
	if (rc)
		goto out;
	in.announce = hs_interrupts_announce_stop;
	hs_interrupts_start(&in, o.db);
	watching = true;
	rc = hs_db_open(&db, o.db, &err); /* before any run, so that a bad --db fails at once */
	if (rc)
		goto out;
	if (!o.seed_set)
		o.seed = cfg->scenario.seed;
	if (!o.reps_set)
		o.reps = (unsigned long long)cfg->scenario.reps;
	for (int p = 0; p < npols; p++)
		if (!series_alloc(&nat[p], (int)o.reps) || !series_alloc(&sim[p], (int)o.reps)) {
			rc = hs_error_set(&err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
			goto out;
		}
	nresults = (size_t)o.reps * (size_t)npols;
	v.native_results = calloc(nresults, sizeof(*v.native_results));
	if (!v.native_results) {
		rc = hs_error_set(&err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < nresults; k++)
		hs_result_init(&v.native_results[k]);
	v.o = &o;
	v.cfg = cfg;
	v.pols = pols;
	v.npols = npols;
	v.nat = nat;
	v.sim = sim;
	v.total = 2 * npols * (int)o.reps;
	v.tty = !o.quiet && isatty(STDERR_FILENO);
	v.in = &in;
	if (o.calibrate_scale) {
		status = calibrate_between_runs(&o, profile_out, &v);
		if (v.status == CLI_INTERRUPTED)
			status = CLI_INTERRUPTED;
		if (status != CLI_OK)
			goto out; /* reported by the calibration */
		status = CLI_INPUT;
		host_at_calibration = median_of(v.host_after_pass, v.nhost_after_pass);
		rc = load_config(&o, o.os, cfg, &err);
	}
	if (rc == 0)
		rc = run_native_until(&v, o.reps, &err);
	if (rc == 0)
		rc = record_and_simulate(&v, db, &err);
	if (v.tty)
		fputs("\r\033[K", stderr);
	if (rc < 0)
		goto out;
	status = v.status;
	if (status == CLI_INTERRUPTED && in.recorded == 0)
		fprintf(stderr, "herdsim: interrupted; no run is recorded\n");
	else if (status == CLI_INTERRUPTED)
		fprintf(stderr, "herdsim: interrupted; %lld run%s recorded in %s\n", in.recorded,
			in.recorded == 1 ? "" : "s", o.db);
	if (!o.quiet && status != CLI_INTERRUPTED) {
		long ncpu = hs_usable_cpus();

		printf("%s on %ld CPU%s: native runs against the sim on OS profile '%s' (%s), %llu "
		       "replication%s each\n",
		       cfg->scenario.name, ncpu, ncpu == 1 ? "" : "s", cfg->os.name, cfg->os.file, o.reps,
		       o.reps == 1 ? "" : "s");
		printf("medians; CI is the median's distribution-free 95%% interval, from 6 runs up\n");
		for (int p = 0; p < npols; p++)
			print_policy(pols[p], &nat[p], &sim[p], sysconf(_SC_NPROCESSORS_ONLN),
				     o.phase_cpu);
		print_ratios(pols, npols, nat, sim);
		missed = judge_targets(true, &o, pols, npols, nat, sim);
		print_host(nat, npols, host_at_calibration);
		printf("\n%llu runs recorded in %s (run.backend native and sim)\n", 2 * npols * o.reps, o.db);
	} else if (o.strict && status == CLI_OK) {
		missed = judge_targets(false, &o, pols, npols, nat, sim);
	}
	if (o.strict && missed > 0 && status == CLI_OK) {
		fprintf(stderr, "herdsim: %d validation target%s missed (--strict); %s\n", missed,
			missed == 1 ? "" : "s",
			o.quiet ? "run without --quiet to see which" : "the targets lines above name them");
		status = CLI_TARGET_MISSED;
	}
out:
	if (db)
		hs_db_close(db);
	if (watching) {
		if (in.db_new && in.recorded == 0)
			hs_db_remove(o.db, in.db_kept_dirs); /* nothing recorded: leave nothing behind */
		hs_interrupts_stop(&in);
	}
	for (size_t k = 0; v.native_results && k < nresults; k++)
		hs_result_free(&v.native_results[k]);
	free(v.native_results);
	for (int p = 0; p < MAX_POLICIES; p++) {
		series_free(&nat[p]);
		series_free(&sim[p]);
	}
	free(cfg);
	if (rc < 0)
		return cli_error(&err);
	return status;
}
