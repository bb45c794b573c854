/*
 * `herdsim run`: runs a scenario under each requested policy and OS
 * profile, with replications, records every run to SQLite and prints a
 * comparison table.
 *
 * Every input is resolved and checked before the first run starts, so bad
 * input leaves the database untouched.  Each run is written in its own
 * transaction as soon as it ends.
 *
 * Seeds: replication r (counted from 0) of every policy and profile runs
 * with seed S + r, where S is --seed or the scenario's seed.  All policies
 * thus see the same random numbers in replication r, and any replication
 * can be rerun alone with --seed S+r --reps 1.
 *
 * `herdsim replay TRACE.csv` is the same command with the workload read
 * from a trace instead of the scenario's [workload] and [callback]
 * sections; the scenario (--scenario, default cgocallbackgc) still gives
 * the machine, the runtime, the limits and think_kind.  The whole trace is
 * checked before the first run.  A replay does not store the trace's path:
 * run_param holds its row count, thread count and a digest of its rows, so
 * two files with the same rows give the same database rows.
 *
 * --record-trace FILE writes the workload of the run in the trace format
 * after the run (see write_workload).  It takes exactly one run.
 *
 * Interrupts (interrupt_watch.h): the first SIGINT or SIGTERM lets the
 * run in progress finish and be recorded, then the command stops with
 * status CLI_INTERRUPTED.  A second one ends the process at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "interrupt_watch.h"
#include "record.h"
#include "registry.h"
#include "replay.h"
#include "stats.h"
#include "trace.h"

#define MAX_POLICIES 32
#define MAX_OSES 8
#define DEFAULT_DB "results/herdsim.sqlite"
#define DEFAULT_SCENARIO "cgocallbackgc"

static const char run_usage[] =
	"usage: herdsim run [SCENARIO] [options]\n"
	"\n"
	"SCENARIO is a shipped name (herdsim list scenarios) or an .ini path;\n"
	"the default is cgocallbackgc.\n"
	"\n"
	"options:\n"
	"  --policy NAME|all     policy to run; repeatable (default: the scenario's)\n"
	"  --os NAME|FILE        OS profile; repeatable (default: the scenario's)\n"
	"  --backend sim|native  where to run (default sim)\n"
	"  --seed N              seed of replication 0; replication r uses N+r\n"
	"  --reps N              replications per policy and profile\n"
	"  --db FILE             SQLite database (default results/herdsim.sqlite)\n"
	"  --record LEVEL        summary (default) or events (every state and wake-up)\n"
	"  --set SECTION.KEY=V   override a scenario or profile key; repeatable\n"
	"  --record-trace FILE   write the run's callbacks as a trace (one run only)\n"
	"  --schedule-noise L    scale each CPU burst and wake-up delay by a random\n"
	"                        factor in [1-L, 1+L], L from 0 to 0.5 (default 0)\n"
	"  --phase-cpu           record the callbacks' CPU time by phase as the\n"
	"                        scalars cpu_think_ns, cpu_needm_ns, cpu_p_wait_ns,\n"
	"                        cpu_go_ns and cpu_exit_ns\n"
	"  --quiet               print no progress and no table\n"
	"\n"
	"With no arguments: cgocallbackgc, every policy, --os linux --os freebsd.\n"
	"On Ctrl-C or SIGTERM the run in progress finishes and is recorded, then\n"
	"the command stops; a second Ctrl-C stops it at once.\n"
	"Exit status: 0 ok, 1 bad input, 2 bad usage, 3 a run ended in deadlock,\n"
	"timeout or error (it is still recorded), 130 interrupted.\n";

static const char replay_usage[] =
	"usage: herdsim replay TRACE.csv [options]\n"
	"\n"
	"Runs the callbacks of a herdsim-trace-v1 file (traces/README.md) under\n"
	"each requested policy and OS profile and records every run to SQLite.\n"
	"The scenario gives everything except the workload: machine, runtime,\n"
	"limits, think_kind, seed and replications.\n"
	"\n"
	"options:\n"
	"  --scenario NAME|FILE  scenario for the machine and runtime (default cgocallbackgc)\n"
	"  --policy NAME|all     policy to run; repeatable (default: the scenario's)\n"
	"  --os NAME|FILE        OS profile; repeatable (default: the scenario's)\n"
	"  --backend sim|native  where to run (default sim); native replays on\n"
	"                        real threads, in real time\n"
	"  --seed N              seed of replication 0; replication r uses N+r\n"
	"  --reps N              replications per policy and profile\n"
	"  --db FILE             SQLite database (default results/herdsim.sqlite)\n"
	"  --record LEVEL        summary (default) or events (every state and wake-up)\n"
	"  --set SECTION.KEY=V   override a scenario or profile key; repeatable\n"
	"  --record-trace FILE   write the replayed callbacks as a trace (one run only)\n"
	"  --schedule-noise L    scale each CPU burst and wake-up delay by a random\n"
	"                        factor in [1-L, 1+L], L from 0 to 0.5 (default 0)\n"
	"  --phase-cpu           record the callbacks' CPU time by phase as the\n"
	"                        scalars cpu_think_ns, cpu_needm_ns, cpu_p_wait_ns,\n"
	"                        cpu_go_ns and cpu_exit_ns\n"
	"  --quiet               print no progress and no table\n"
	"\n"
	"A trace error stops the command before the first run with one line\n"
	"naming the file, line and column, and nothing is recorded.\n"
	"On Ctrl-C or SIGTERM the run in progress finishes and is recorded, then\n"
	"the command stops; a second Ctrl-C stops it at once.\n"
	"Exit status: 0 ok, 1 bad input, 2 bad usage, 3 a run ended in deadlock,\n"
	"timeout or error (it is still recorded), 130 interrupted.\n";

struct run_opts {
	bool replay;             /* `herdsim replay`: positional is the trace */
	const char *trace;
	const char *record_trace;
	struct hs_replay_summary trace_sum;
	const char *scenario;
	const char *policies[MAX_POLICIES];
	int npolicies;
	const char *oses[MAX_OSES];
	int noses;
	const char *backend;
	const char *db;
	unsigned long long seed;
	bool seed_set;
	unsigned long long reps;
	bool reps_set;
	int record;
	bool record_set;
	bool quiet;
	bool phase_cpu;
	double noise;
	struct hs_override overrides[HS_MAX_OVERRIDES];
	int noverrides;
};

/* Summary of the replications of one policy on one profile. */
struct cell {
	const struct hs_policy *policy;
	char os[HS_NAME_MAX];    /* the OS the runs ran on, as os_label() names it */
	int n;
	double *makespan, *p50, *p99, *m_created, *usleeps, *wasted, *yields, *cas, *contentions;
};

static int parse_args(int argc, char **argv, struct run_opts *o, struct hs_error *err)
{
	for (int i = 0; i < argc; i++) {
		const char *v;
		bool missing;

#define OPT(name) ((v = cli_option(argc, argv, &i, name, &missing)) != NULL || \
		   (missing && (hs_error_set(err, HS_E_USAGE, NULL, 0, name, "needs a value; see `herdsim %s --help`", \
					     o->replay ? "replay" : "run"), 1)))
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(o->replay ? replay_usage : run_usage, stdout);
			return 1;
		} else if (OPT("--record-trace")) {
			if (!v)
				return HS_E_USAGE;
			o->record_trace = v;
		} else if (o->replay && OPT("--scenario")) {
			if (!v)
				return HS_E_USAGE;
			o->scenario = v;
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			o->quiet = true;
		} else if (strcmp(argv[i], "--phase-cpu") == 0) {
			o->phase_cpu = true;
		} else if (OPT("--policy")) {
			if (!v)
				return HS_E_USAGE;
			if (o->npolicies == MAX_POLICIES)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--policy", "at most %d policies", MAX_POLICIES);
			o->policies[o->npolicies++] = v;
		} else if (OPT("--os")) {
			if (!v)
				return HS_E_USAGE;
			bool repeated = false;

			for (int k = 0; k < o->noses; k++)
				repeated |= strcmp(o->oses[k], v) == 0;
			if (repeated)
				continue; /* a profile runs once, as a repeated --policy does */
			if (o->noses == MAX_OSES)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--os", "at most %d profiles", MAX_OSES);
			o->oses[o->noses++] = v;
		} else if (OPT("--backend")) {
			if (!v)
				return HS_E_USAGE;
			o->backend = v;
		} else if (OPT("--db")) {
			if (!v)
				return HS_E_USAGE;
			o->db = v;
		} else if (OPT("--seed")) {
			if (!v)
				return HS_E_USAGE;
			if (!cli_parse_u64(v, &o->seed))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--seed",
						    "invalid seed '%s'; use a non-negative integer", v);
			o->seed_set = true;
		} else if (OPT("--reps")) {
			if (!v)
				return HS_E_USAGE;
			if (!cli_parse_u64(v, &o->reps) || o->reps < 1 || o->reps > 100000)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--reps",
						    "invalid count '%s'; use 1 to 100000", v);
			o->reps_set = true;
		} else if (OPT("--schedule-noise")) {
			char *end;

			if (!v)
				return HS_E_USAGE;
			o->noise = strtod(v, &end);
			if (end == v || *end != '\0' || !(o->noise >= 0 && o->noise <= 0.5))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--schedule-noise",
						    "invalid level '%s'; use a number from 0 to 0.5", v);
		} else if (OPT("--record")) {
			if (!v)
				return HS_E_USAGE;
			if (strcmp(v, "summary") == 0)
				o->record = HS_RECORD_SUMMARY;
			else if (strcmp(v, "events") == 0)
				o->record = HS_RECORD_EVENTS;
			else
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--record",
						    "invalid level '%s'; use summary or events", v);
			o->record_set = true;
		} else if (OPT("--set")) {
			int rc;

			if (!v)
				return HS_E_USAGE;
			if (o->noverrides == HS_MAX_OVERRIDES)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--set", "at most %d overrides",
						    HS_MAX_OVERRIDES);
			rc = hs_override_parse(&o->overrides[o->noverrides], v, err);
			if (rc)
				return rc;
			o->noverrides++;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if (err->code)
				return err->code;
			return hs_error_set(err, HS_E_USAGE, NULL, 0, argv[i],
					    o->replay ? "unknown option; see `herdsim replay --help`" :
					    "unknown option; see `herdsim run --help`");
		} else if (o->replay && !o->trace) {
			o->trace = argv[i];
		} else if (!o->replay && !o->scenario) {
			o->scenario = argv[i];
		} else {
			return hs_error_set(err, HS_E_USAGE, NULL, 0, argv[i], o->replay ?
					    "unexpected argument: give one trace" :
					    "unexpected argument: give one scenario");
		}
#undef OPT
		if (err->code)
			return err->code;
	}
	return 0;
}

static void add_param(void *ctx, const char *key, const char *value)
{
	hs_result_param(ctx, key, value);
}

/* Replay: the scenario's workload keys do not apply, so they are left
 * out and the trace is described by its content instead of its path. */
static void add_replay_param(void *ctx, const char *key, const char *value)
{
	if (strncmp(key, "workload.", 9) == 0 || strncmp(key, "callback.", 9) == 0)
		return;
	hs_result_param(ctx, key, value);
}

static void add_trace_params(struct hs_run_result *res, const struct hs_replay_summary *sum)
{
	char buf[32];

	hs_result_param(res, "workload.arrival", "trace");
	snprintf(buf, sizeof(buf), "%lld", (long long)sum->rows);
	hs_result_param(res, "trace.rows", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)sum->threads);
	hs_result_param(res, "trace.threads", buf);
	hs_replay_digest_hex(sum->digest, buf);
	hs_result_param(res, "trace.digest", buf);
}

static int compare_workload(const void *a, const void *b)
{
	const struct hs_workload_rec *x = a, *y = b;

	if (x->arrival_ns != y->arrival_ns)
		return x->arrival_ns < y->arrival_ns ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void test_signal_hook(struct hs_interrupts *in, const char *point);

/*
 * Writes the callbacks of a run to PATH.tmp as a trace, sorted by
 * arrival_ns, then by the input line (replay), then by thread and seq, and
 * syncs the file.  A replay records the rows it was given, in the order it
 * read them, so replaying the written file repeats the run exactly.  On
 * success *out is the writer, whose hs_trace_writer_close(*out, 1, ...)
 * renames PATH.tmp to PATH.  Sorts res->workload in place.
 */
static int write_workload(const char *path, struct hs_run_result *res, struct hs_interrupts *in,
			  struct hs_trace_writer **out, struct hs_error *err)
{
	struct hs_trace_writer *w;
	int rc = 0;

	qsort(res->workload.data, res->workload.len, sizeof(*res->workload.data), compare_workload);
	w = hs_trace_writer_open(path, err);
	if (!w)
		return err->code;
	for (size_t i = 0; rc == 0 && i < res->workload.len; i++) {
		const struct hs_workload_rec *x = &res->workload.data[i];
		struct hs_trace_row row = {
			.thread = x->thread,
			.thread_start_ns = x->thread_start_ns,
			.arrival_ns = x->arrival_ns,
			.go_work_ns = x->go_work_ns,
			.gc_calls = x->gc_calls,
			.grow_frames = x->grow_frames,
			.c_time_ns = x->c_time_ns,
		};

		rc = hs_trace_writer_row(w, &row, err);
		if (i == 0)
			test_signal_hook(in, "trace");
	}
	if (rc == 0)
		rc = hs_trace_writer_sync(w, err);
	if (rc) {
		hs_trace_writer_close(w, 0, NULL);
		return rc;
	}
	*out = w;
	return 0;
}

/* Appends to err's message what became of the --record-trace FILE when
 * the run or the rename of FILE.tmp failed, so that cli_error prints it
 * on the same line. */
static void add_trace_outcome(struct hs_error *err, const char *path, bool recorded)
{
	size_t n = strlen(err->msg);

	snprintf(err->msg + n, sizeof(err->msg) - n,
		 recorded ? "; the run is recorded, but the trace is not written and %s is left as it was"
			  : "; the run is not recorded, the trace is not written and %s is left as it was",
		 path);
}

static bool alloc_cell(struct cell *c, int reps)
{
	double **cols[] = { &c->makespan, &c->p50, &c->p99, &c->m_created, &c->usleeps,
			    &c->wasted, &c->yields, &c->cas, &c->contentions };

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (!(*cols[i] = calloc((size_t)reps, sizeof(double))))
			return false;
	return true;
}

static void free_cell(struct cell *c)
{
	free(c->makespan);
	free(c->p50);
	free(c->p99);
	free(c->m_created);
	free(c->usleeps);
	free(c->wasted);
	free(c->yields);
	free(c->cas);
	free(c->contentions);
}

static void collect(struct cell *c, const struct hs_run_result *r)
{
	int i = c->n++;
	double cont = 0;

	for (size_t k = 0; k < r->locks.len; k++)
		if (strcmp(r->locks.data[k].name, "extram") == 0)
			cont = (double)r->locks.data[k].contentions;
	c->makespan[i] = hs_result_get(r, "makespan_ns", 0);
	c->p50[i] = hs_result_get(r, "cb_latency_p50_ns", 0);
	c->p99[i] = hs_result_get(r, "cb_latency_p99_ns", 0);
	c->m_created[i] = hs_result_get(r, "m_created", 0);
	c->usleeps[i] = hs_result_get(r, "usleep_calls", 0);
	c->wasted[i] = hs_result_get(r, "wasted_wakeups", 0);
	c->yields[i] = hs_result_get(r, "yields", 0);
	c->cas[i] = hs_result_get(r, "cas_failures", 0);
	c->contentions[i] = cont;
}

static double min_of(const double *v, int n)
{
	double m = n ? v[0] : 0;

	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static double max_of(const double *v, int n)
{
	double m = n ? v[0] : 0;

	for (int i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* Copies the finite values of v (runs that completed) into out; returns
 * how many there are. */
static int finite_values(const double *v, int n, double *out)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			out[k++] = v[i];
	return k;
}

/*
 * Names the OS of a run for the progress line and the table.  A sim run
 * names its OS profile.  A native run uses no profile and runs on this
 * machine's kernel, so it names the kernel by uname, as run.os records it.
 */
static void os_label(const struct hs_backend *be, const struct hs_config *cfg, char *buf, size_t size)
{
	struct utsname u;

	if (be != &hs_backend_native)
		snprintf(buf, size, "%s", cfg->os.name);
	else if (uname(&u) == 0)
		snprintf(buf, size, "%.20s %.40s", u.sysname, u.release);
	else
		snprintf(buf, size, "this kernel");
}

static void print_table(struct cell *cells, int ncells, const struct hs_config *cfgs, int reps)
{
	double *done = malloc((size_t)(reps > 0 ? reps : 1) * sizeof(double));
	int os_width = 8; /* wider only for a longer name, such as a native run's kernel */

	for (int i = 0; i < ncells; i++)
		if ((int)strlen(cells[i].os) > os_width)
			os_width = (int)strlen(cells[i].os);
	printf("\n%s: medians over %d replication%s (range of makespan in brackets)\n\n",
	       cfgs[0].scenario.name, reps, reps == 1 ? "" : "s");
	printf("%-10s %-*s %10s %21s %10s %10s %6s %8s %8s %8s %8s %8s\n", "policy", os_width, "os",
	       "makespan", "[min - max] ms", "cb p50", "cb p99", "Ms", "usleeps", "wasted", "yields",
	       "CAS fail", "extram");
	printf("%-10s %-*s %10s %21s %10s %10s %6s %8s %8s %8s %8s %8s\n", "", os_width, "", "ms", "",
	       "us", "us", "made", "", "wakeups", "", "", "contend");
	for (int i = 0; done && i < ncells; i++) {
		struct cell *c = &cells[i];
		int k = finite_values(c->makespan, c->n, done);
		char range[64], median[32];

		/* the makespan of runs that ended in deadlock or timeout is unknown */
		if (k > 0) {
			snprintf(range, sizeof(range), "[%.2f - %.2f]", min_of(done, k) / 1e6, max_of(done, k) / 1e6);
			snprintf(median, sizeof(median), "%.2f", hs_median(done, (size_t)k) / 1e6);
		} else {
			snprintf(range, sizeof(range), "-");
			snprintf(median, sizeof(median), "-");
		}
		printf("%-10s %-*s %10s %21s %10.1f %10.1f %6.0f %8.0f %8.0f %8.0f %8.0f %8.0f\n",
		       c->policy->name, os_width, c->os, median, range,
		       hs_median(c->p50, (size_t)c->n) / 1e3, hs_median(c->p99, (size_t)c->n) / 1e3,
		       hs_median(c->m_created, (size_t)c->n), hs_median(c->usleeps, (size_t)c->n),
		       hs_median(c->wasted, (size_t)c->n), hs_median(c->yields, (size_t)c->n),
		       hs_median(c->cas, (size_t)c->n), hs_median(c->contentions, (size_t)c->n));
	}
	free(done);
}

/* ---- Interrupts -------------------------------------------------------- */

/* Test hook: HS_RUN_TEST_SIGNAL="INT:N" or "TERM:N" sends that signal to
 * the process once N runs have ended, before the next one starts, and
 * waits up to 10 s for the watcher to take it, so that tests interrupt at
 * a known point.  "INT:trace" sends it after the first row of
 * --record-trace is written.  "INT2:..." and "TERM2:..." send it a second
 * time after that.  POINT is the decimal run count or "trace". */
static void test_signal_hook(struct hs_interrupts *in, const char *point)
{
	const char *hook = getenv("HS_RUN_TEST_SIGNAL");
	const char *colon = hook ? strchr(hook, ':') : NULL;
	int sig, times;

	if (!colon || !in->started || strcmp(colon + 1, point) != 0)
		return;
	sig = strncmp(hook, "TERM", 4) == 0 ? SIGTERM : SIGINT;
	times = colon[-1] == '2' ? 2 : 1;
	hs_interrupts_test_signal(in, sig, times);
}

/* Runs every policy x profile x replication; returns the exit status.
 * After a SIGINT or SIGTERM it starts no more runs and returns
 * CLI_INTERRUPTED. */
static int run_all(const struct run_opts *o, const struct hs_backend *be, struct hs_config *cfgs, int ncfgs,
		   const struct hs_policy *const *pols, int npols, struct hs_db *db, struct cell *cells,
		   struct hs_interrupts *in)
{
	int total = ncfgs * npols * (int)o->reps, done = 0, status = CLI_OK;
	bool progress = !o->quiet && isatty(STDERR_FILENO);

	for (int c = 0; c < ncfgs; c++) {
		for (int p = 0; p < npols; p++) {
			struct cell *cell = &cells[c * npols + p];
			struct hs_scenario sc;

			hs_scenario_for_policy(&cfgs[c].scenario, pols[p], &sc);
			cell->policy = pols[p];
			os_label(be, &cfgs[c], cell->os, sizeof(cell->os));
			for (unsigned long long r = 0; r < o->reps; r++) {
				struct hs_config cfg = cfgs[c];
				struct hs_run_request req = { 0 };
				struct hs_run_result res;
				struct hs_error err = { 0 };
				struct hs_trace_writer *trace = NULL;
				char point[16];
				int rc;

				snprintf(point, sizeof(point), "%d", done);
				test_signal_hook(in, point);
				if (atomic_load(&in->first)) {
					if (progress)
						fputc('\n', stderr);
					return CLI_INTERRUPTED;
				}
				cfg.scenario = sc;
				/* record what ran, not what the scenario asked for */
				cfg.scenario.record = o->record;
				cfg.scenario.reps = (int)o->reps;
				cfg.scenario.seed = o->seed;
				snprintf(cfg.scenario.policy, sizeof(cfg.scenario.policy), "%s", pols[p]->name);
				req.cfg = &cfg;
				req.policy = pols[p];
				req.seed = o->seed + r;
				req.replication = (int)r;
				req.record = o->record;
				req.trace_path = o->replay ? o->trace : NULL;
				req.record_workload = o->record_trace != NULL;
				req.schedule_noise = o->noise;
				req.phase_cpu = o->phase_cpu;
				hs_policy_params(pols[p], &sc, req.policy_params, &err);
				if (progress)
					fprintf(stderr, "\rrun %d/%d: %s on %s, replication %llu   ", done + 1, total,
						pols[p]->name, cell->os, r);
				hs_result_init(&res);
				if (o->replay) {
					hs_config_each_param(&cfg, add_replay_param, &res);
					add_trace_params(&res, &o->trace_sum);
				} else {
					hs_config_each_param(&cfg, add_param, &res);
				}
				rc = be->run(&req, &res, &err);
				/* The trace first, up to a synced FILE.tmp: if it
				 * fails, the run is not recorded either.  FILE.tmp is
				 * renamed to FILE only after the run is in the
				 * database, so a failed database write leaves an
				 * existing FILE as it was.  The write and the rename
				 * share db_mu, so a second signal finds either both
				 * or neither. */
				if (rc == 0 && o->record_trace && res.status == HS_STATUS_OK)
					rc = write_workload(o->record_trace, &res, in, &trace, &err);
				if (rc == 0) {
					pthread_mutex_lock(&in->db_mu);
					rc = hs_db_write_run(db, &res, NULL, &err);
					if (rc == 0)
						in->recorded++;
					if (rc && trace) {
						hs_trace_writer_close(trace, 0, NULL);
						add_trace_outcome(&err, o->record_trace, false);
					} else if (trace && (rc = hs_trace_writer_close(trace, 1, &err)) != 0) {
						/* NOTE: the run stays recorded without its
						 * trace.  The rename in FILE's own directory
						 * rarely fails, because probe_output created
						 * FILE.tmp there before the run. */
						add_trace_outcome(&err, o->record_trace, true);
					}
					pthread_mutex_unlock(&in->db_mu);
				}
				if (rc) {
					hs_result_free(&res);
					if (progress)
						fputc('\n', stderr);
					return cli_error(&err);
				}
				if (res.status != HS_STATUS_OK) {
					if (progress)
						fputc('\n', stderr);
					fprintf(stderr, "herdsim: %s on %s, seed %llu: %s: %s\n", pols[p]->name,
						cell->os, (unsigned long long)req.seed, hs_status_name(res.status),
						res.error);
					if (o->record_trace)
						fprintf(stderr, "herdsim: %s not written: the run did not complete\n",
							o->record_trace);
					status = CLI_RUN_FAILED;
				}
				collect(cell, &res);
				hs_result_free(&res);
				done++;
			}
		}
	}
	if (progress)
		fprintf(stderr, "\r%*s\r", 70, "");
	/* A signal during the last run stops the command like one before it. */
	if (atomic_load(&in->first))
		return CLI_INTERRUPTED;
	return status;
}

/* Resolves the backend.  Both backends replay a trace. */
static const struct hs_backend *find_backend(const struct run_opts *o, struct hs_error *err)
{
	const struct hs_backend *be = hs_backend_find(o->backend);

	if (!be)
		hs_error_set(err, HS_E_USAGE, NULL, 0, "--backend", "unknown backend '%s'; use sim or native",
			     o->backend);
	return be;
}

/* Checks that path can be created as a file, leaving nothing behind. */
static int probe_output(const char *path, const char *option, struct hs_error *err)
{
	char tmp[HS_PATH_MAX + 8];
	struct stat st;
	FILE *f;

	if (path[0] == '\0')
		return hs_error_set(err, HS_E_USAGE, NULL, 0, option, "the file name is empty; give a file name");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return hs_error_set(err, HS_E_INPUT, path, 0, option, "is a directory; give a file name");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return hs_error_set(err, HS_E_IO, path, 0, option, "cannot create the file: %s; give a writable path",
				    strerror(errno));
	fclose(f);
	unlink(tmp);
	return 0;
}

/* The checks of a replay and of --record-trace that need no run. */
static int check_inputs(struct run_opts *o, const struct hs_config *cfgs, int ncfgs, int nruns,
			struct hs_error *err)
{
	int rc;

	if (strcmp(o->backend, "sim") == 0) {
		for (int i = 0; i < ncfgs; i++)
			if (cfgs[i].scenario.cores > 64)
				return hs_error_set(err, HS_E_INPUT, NULL, 0, "machine.cores",
						    "the sim backend models 1 to 64 cores; got %d; set it to 64 or less",
						    cfgs[i].scenario.cores);
	}
	if (o->record_trace && nruns != 1)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--record-trace",
				    "records exactly one run, and this command makes %d; give one --policy, "
				    "one --os and --reps 1", nruns);
	if (o->record_trace && (rc = probe_output(o->record_trace, "--record-trace", err)) != 0)
		return rc;
	if (!o->replay)
		return 0;
	return hs_replay_scan(o->trace, NULL, NULL, &o->trace_sum, err);
}

static int run_command(int argc, char **argv, bool replay)
{
	struct run_opts o = { .replay = replay };
	struct hs_error err = { 0 };
	struct hs_config *cfgs = NULL;
	const struct hs_policy *pols[MAX_POLICIES];
	struct cell *cells = NULL;
	const struct hs_backend *be;
	struct hs_db *db = NULL;
	struct hs_interrupts in = { 0 };
	int npols = 0, ncfgs, rc, status;

	rc = parse_args(argc, argv, &o, &err);
	if (rc == 1)
		return CLI_OK; /* --help */
	if (rc)
		return cli_error(&err);
	if (replay && (!o.trace || o.trace[0] == '\0')) {
		hs_error_set(&err, HS_E_USAGE, NULL, 0, NULL, "give the trace to replay: herdsim replay TRACE.csv");
		return cli_error(&err);
	}
	if (argc == 0 && !replay) {
		/* the default job: every policy on both reference profiles */
		o.oses[o.noses++] = "linux";
		o.oses[o.noses++] = "freebsd";
		o.policies[o.npolicies++] = "all";
	}
	if (!o.scenario)
		o.scenario = DEFAULT_SCENARIO;
	if (!o.db)
		o.db = DEFAULT_DB;
	if (!o.backend)
		o.backend = "sim";
	be = find_backend(&o, &err);
	if (!be)
		return cli_error(&err);

	/* Resolve every input before the first run. */
	ncfgs = o.noses ? o.noses : 1;
	cfgs = calloc((size_t)ncfgs, sizeof(*cfgs));
	if (!cfgs)
		return cli_error(&(struct hs_error){ .code = HS_E_NOMEM, .msg = "out of memory" });
	for (int i = 0; i < ncfgs; i++) {
		rc = hs_config_load(&cfgs[i], o.scenario, o.overrides, o.noverrides, o.noses ? o.oses[i] : NULL,
				    &err);
		if (rc)
			goto fail;
	}
	if (o.npolicies)
		rc = hs_policy_resolve(o.policies, o.npolicies, pols, MAX_POLICIES, &npols, &err);
	else
		rc = hs_policy_resolve_scenario(&cfgs[0].scenario, pols, MAX_POLICIES, &npols, &err);
	if (rc == 0)
		rc = hs_policy_check_params(&cfgs[0].scenario, pols, npols, &err);
	if (rc)
		goto fail;
	if (!o.seed_set)
		o.seed = cfgs[0].scenario.seed;
	if (!o.reps_set)
		o.reps = (unsigned long long)cfgs[0].scenario.reps;
	if (!o.record_set)
		o.record = cfgs[0].scenario.record;
	if (o.seed > UINT64_MAX - (o.reps - 1)) {
		hs_error_set(&err, HS_E_USAGE, NULL, 0, "--seed",
			     "seed %llu + %llu replications passes 2^64 - 1; give a smaller seed",
			     (unsigned long long)o.seed, o.reps);
		goto fail;
	}
	rc = check_inputs(&o, cfgs, ncfgs, ncfgs * npols * (int)o.reps, &err);
	if (rc)
		goto fail;

	cells = calloc((size_t)(ncfgs * npols), sizeof(*cells));
	for (int i = 0; cells && i < ncfgs * npols; i++)
		if (!alloc_cell(&cells[i], (int)o.reps))
			goto oom;
	if (!cells)
		goto oom;
	if (o.record_trace)
		snprintf(in.trace_tmp, sizeof(in.trace_tmp), "%s.tmp", o.record_trace);
	in.announce = hs_interrupts_announce_stop;
	hs_interrupts_start(&in, o.db);
	rc = hs_db_open(&db, o.db, &err);
	if (rc) {
		if (in.db_new)
			hs_db_remove_new_dirs(o.db, in.db_kept_dirs);
		hs_interrupts_stop(&in);
		goto fail;
	}

	status = run_all(&o, be, cfgs, ncfgs, pols, npols, db, cells, &in);
	hs_db_close(db);
	if (in.db_new && in.recorded == 0)
		hs_db_remove(o.db, in.db_kept_dirs); /* nothing ran: leave nothing behind */
	hs_interrupts_stop(&in);
	if (status == CLI_INTERRUPTED && in.recorded == 0 && in.db_new)
		fprintf(stderr, "herdsim: interrupted before the first run ended; %s is not kept\n", o.db);
	else if (status == CLI_INTERRUPTED)
		fprintf(stderr, "herdsim: interrupted; %lld run%s recorded in %s\n", in.recorded,
			in.recorded == 1 ? "" : "s", o.db);
	if (!o.quiet && (status == CLI_OK || status == CLI_RUN_FAILED)) {
		print_table(cells, ncfgs * npols, cfgs, (int)o.reps);
		printf("\n%d run%s recorded in %s\n", ncfgs * npols * (int)o.reps,
		       ncfgs * npols * o.reps == 1 ? "" : "s", o.db);
	}
	for (int i = 0; i < ncfgs * npols; i++)
		free_cell(&cells[i]);
	free(cells);
	free(cfgs);
	return status;

oom:
	hs_error_set(&err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
fail:
	for (int i = 0; cells && i < ncfgs * npols; i++)
		free_cell(&cells[i]);
	free(cells);
	free(cfgs);
	return cli_error(&err);
}

int cli_run(int argc, char **argv)
{
	return run_command(argc, argv, false);
}

int cli_replay(int argc, char **argv)
{
	return run_command(argc, argv, true);
}
