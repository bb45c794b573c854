/*
 * `herdsim sweep`: runs a scenario over the Cartesian product of --vary
 * values x policies x OS profiles, with replications, on a pool of worker
 * threads, into one experiment of the SQLite database.
 *
 * Enumeration (fixed, and the basis of --shard and of run keys):
 *   point p = (os o, policy q, combination c), numbered
 *       p = o * P + F(q) + c,
 *   where C(q) is the number of value combinations policy q runs, F(q) the
 *   sum of C over the policies before q and P the sum over all policies.
 *   A policy runs every combination of the --vary keys it takes: all keys
 *   except a policy parameter (policy.NAME) that it does not declare.  The
 *   first --vary key it takes varies slowest within c.  Without a varied
 *   policy parameter C(q) is the same for every q, so
 *   p = (o * npolicies + q) * ncombinations + c.  Run i of the sweep is
 *   replication r of point p with i = p * reps + r.
 *
 * Seeds: replication r of every point runs with seed S + r, where S is
 * --seed or the point's scenario seed; this is the rule of `herdsim run`.
 * All points thus see common random numbers in replication r.
 *
 * Invariants:
 *  1. Every point's configuration is loaded and checked before the
 *     database is opened, so bad input writes nothing.
 *  2. Only the main thread touches the database ("writer"); workers run
 *     simulations and hand each result over a bounded queue.  Each run is
 *     committed in its own transaction, so an interrupted sweep keeps
 *     every finished run.
 *  3. The content of every row is a function of the command's arguments
 *     only, never of --jobs, of scheduling or of an earlier interrupt.
 *     Run keys are "<policy>|<os>|<k1=v1,k2=v2>|r<rep>", with the keys
 *     that the policy takes.
 *  4. With --ci-width a point's replications are written in order
 *     r = 0, 1, 2, ... and the decision to stop after n replications looks
 *     only at replications 0..n-1 (details at decide_point), so it does
 *     not depend on --jobs.  Replications that ran past the stop are
 *     discarded.  On resume the decisions are replayed from the makespans
 *     already in the database.
 *
 * Shared state (struct sweep below the line "under mu") is protected by
 * one mutex; workers wait on `work` for a task, the writer on `ready`
 * for a result, workers on `space` for room in the queue.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "hostcheck.h"
#include "interrupt_watch.h"
#include "record.h"
#include "revision.h" /* generated in the build directory */
#include "registry.h"
#include "stats.h"
#include "sweep.h"

#define MAX_POLICIES 32
#define MAX_OSES 8
#define MAX_VARY 16
#define MAX_JOBS 1024
#define MAX_RUNS 10000000LL
#define MIN_CI_REPS 3     /* --ci-width never stops before this many replications */
#define CI_LOOKAHEAD 2    /* replications of a point that may run past the decided prefix */
#define STATUS_PERIOD_S 5 /* seconds between status lines when stderr is not a terminal */
#define DEFAULT_DB "results/herdsim.sqlite"
#define RUN_KEY_SIZE 80   /* sizeof(struct hs_run_result.run_key) */

static const char sweep_usage[] =
	"usage: herdsim sweep SCENARIO --vary SECTION.KEY=V1,V2,... [options]\n"
	"\n"
	"Runs SCENARIO at every combination of the --vary values, for every policy\n"
	"and OS profile, with replications, into one experiment of the database.\n"
	"Values: a comma list; A..B*F (geometric: A, A*F, ... <= B); A..B+D\n"
	"(arithmetic).  Replication r of every point uses seed S+r.\n"
	"\n"
	"options:\n"
	"  --vary KEY=VALUES     vary a scenario or profile key (as --set); repeatable.\n"
	"                        A policy.NAME key varies only the policies that\n"
	"                        declare NAME; the others ignore it\n"
	"  --policy NAME|all     policy to run; repeatable (default: the scenario's)\n"
	"  --os NAME|FILE        OS profile; repeatable (default: the scenario's)\n"
	"  --reps N              replications per point (with --ci-width: the maximum)\n"
	"  --jobs N              worker threads (default: the CPUs it may use)\n"
	"  --seed S              seed of replication 0\n"
	"  --db FILE             SQLite database (default results/herdsim.sqlite)\n"
	"  --name NAME           experiment name (default: scenario and argument hash)\n"
	"  --shard I/N           run only slice I (1-based) of N; merge with herdsim merge\n"
	"  --ci-width P          stop a point once the 95 % CI half-width of the\n"
	"                        makespan is below P percent of its mean (>= 3 reps)\n"
	"  --set SECTION.KEY=V   override a key for every point; repeatable\n"
	"  --record LEVEL        summary or events\n"
	"  --phase-cpu           record the callbacks' CPU time by phase as the\n"
	"                        scalars cpu_think_ns, cpu_needm_ns, cpu_p_wait_ns,\n"
	"                        cpu_go_ns and cpu_exit_ns\n"
	"  --quiet               no progress line and no summary\n"
	"\n"
	"Run the same command again to resume: finished runs are skipped.\n"
	"Exit status: 0 ok, 1 bad input, 2 bad usage, 3 a run ended in deadlock,\n"
	"timeout or error, 130 interrupted.\n";

struct vary {
	char key[2 * HS_NAME_MAX]; /* section.key */
	char **values;
	int nvalues;
};

struct sweep_opts {
	const char *scenario;
	const char *policies[MAX_POLICIES];
	int npolicies;
	const char *oses[MAX_OSES];
	int noses;
	struct vary vary[MAX_VARY];
	int nvary;
	struct hs_override overrides[HS_MAX_OVERRIDES];
	int noverrides;
	const char *db;
	const char *name;
	unsigned long long seed, reps, jobs;
	bool seed_set, reps_set, record_set, quiet, phase_cpu;
	int record;
	unsigned long long shard_index, shard_count; /* 1-based; 0/0 = whole sweep */
	double ci_width;                              /* percent; 0 = off */
};

struct point {
	struct hs_config cfg; /* scenario already reduced to this policy's parameters */
	const struct hs_policy *policy;
	int64_t params[HS_POLICY_MAX_PARAMS];
	uint64_t seed;        /* seed of replication 0 */
	char combo[512];      /* "k1=v1,k2=v2" */
	/* Scheduling state, under sweep.mu. */
	int next_rep;         /* lowest replication not yet handed out */
	int prefix;           /* replications 0..prefix-1 are written or present */
	int stop_n;           /* 0 while undecided, else the replication count kept */
	bool closed;          /* no more tasks will be handed out */
};

enum run_state { RS_SKIP, RS_TODO, RS_RUNNING, RS_ARRIVED, RS_DONE };

struct item {
	int point, rep;
	int rc;
	struct hs_run_result *res;
	struct hs_error err;
};

struct sweep {
	const struct sweep_opts *o;
	const struct hs_backend *be;
	struct point *points;
	int npoints, reps;
	int64_t experiment_id;
	const char *experiment_name;
	struct hs_interrupts *in;
	bool ci;
	pthread_mutex_t mu;
	pthread_cond_t work, ready, space;
	/* under mu */
	unsigned char *state;     /* enum run_state per run index */
	double *makespan;         /* per run index, --ci-width only */
	struct hs_run_result **pending; /* arrived, not yet written; --ci-width only */
	int cursor;               /* points below are all closed */
	struct item *queue;
	int qcap, qhead, qlen;
	int active;               /* workers still running */
	long long in_flight;      /* runs handed out and not yet taken off the queue */
	long long total, written, present, discarded, failed;
	bool fatal;
	struct hs_error fatal_err;
};

/* ---- Arguments -------------------------------------------------------- */

static int parse_vary(struct sweep_opts *o, const char *text, struct hs_error *err)
{
	const char *eq = strchr(text, '=');
	struct vary *v;
	int rc;

	if (o->nvary == MAX_VARY)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--vary", "at most %d --vary keys", MAX_VARY);
	if (!eq || !strchr(text, '.') || strchr(text, '.') > eq || (size_t)(eq - text) >= sizeof(v->key))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--vary",
				    "'%s' is not SECTION.KEY=VALUES, e.g. workload.threads=10..1000*10", text);
	v = &o->vary[o->nvary];
	memcpy(v->key, text, (size_t)(eq - text));
	v->key[eq - text] = '\0';
	for (int i = 0; i < o->nvary; i++)
		if (strcmp(o->vary[i].key, v->key) == 0)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--vary",
					    "key %s is varied twice; give all its values in one --vary", v->key);
	rc = hs_sweep_parse_values(eq + 1, &v->values, &v->nvalues, err);
	if (rc) {
		char item[sizeof(err->key)];

		snprintf(item, sizeof(item), "%s", err->key);
		snprintf(err->key, sizeof(err->key), "--vary %s: '%.60s'", v->key, item);
		return rc;
	}
	o->nvary++;
	return 0;
}

static int parse_shard(struct sweep_opts *o, const char *v, struct hs_error *err)
{
	char *slash = strchr(v, '/');
	char index[32];

	if (!slash || (size_t)(slash - v) >= sizeof(index))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--shard", "invalid shard '%s'; write I/N, e.g. 1/4", v);
	memcpy(index, v, (size_t)(slash - v));
	index[slash - v] = '\0';
	if (!cli_parse_u64(index, &o->shard_index) || !cli_parse_u64(slash + 1, &o->shard_count) ||
	    o->shard_count < 1 || o->shard_index < 1 || o->shard_index > o->shard_count ||
	    o->shard_count > 100000)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--shard",
				    "invalid shard '%s'; write I/N with 1 <= I <= N <= 100000", v);
	return 0;
}

static int parse_count(const char *v, unsigned long long *out, unsigned long long max, const char *name,
		       struct hs_error *err)
{
	if (!cli_parse_u64(v, out) || *out < 1 || *out > max)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, name, "invalid count '%s'; use 1 to %llu", v, max);
	return 0;
}

/* Handles one option that takes a value.  Returns 0, an error code, or 1
 * when argv[*i] is not such an option. */
static int parse_valued(int argc, char **argv, int *i, struct sweep_opts *o, struct hs_error *err)
{
	static const char *const names[] = { "--vary", "--policy", "--os", "--reps", "--jobs", "--seed",
					     "--db", "--name", "--shard", "--ci-width", "--set", "--record" };
	const char *v = NULL;
	bool missing = false;
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if ((v = cli_option(argc, argv, i, names[k], &missing)) || missing)
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return 1;
	if (missing)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, names[k], "needs a value; see `herdsim sweep --help`");

	switch (k) {
	case 0:
		return parse_vary(o, v, err);
	case 1:
		if (o->npolicies == MAX_POLICIES)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--policy", "at most %d policies", MAX_POLICIES);
		o->policies[o->npolicies++] = v;
		return 0;
	case 2:
		if (o->noses == MAX_OSES)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--os", "at most %d profiles", MAX_OSES);
		o->oses[o->noses++] = v;
		return 0;
	case 3:
		o->reps_set = true;
		return parse_count(v, &o->reps, 100000, "--reps", err);
	case 4:
		return parse_count(v, &o->jobs, MAX_JOBS, "--jobs", err);
	case 5:
		o->seed_set = true;
		if (!cli_parse_u64(v, &o->seed))
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--seed",
					    "invalid seed '%s'; use a non-negative integer", v);
		return 0;
	case 6:
		o->db = v;
		return 0;
	case 7:
		if (!*v || strlen(v) >= sizeof(((struct hs_experiment *)0)->name))
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--name",
					    "invalid name '%s'; use 1 to 63 characters", v);
		o->name = v;
		return 0;
	case 8:
		return parse_shard(o, v, err);
	case 9: {
		char *end;

		o->ci_width = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(o->ci_width > 0 && o->ci_width <= 100))
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--ci-width",
					    "invalid width '%s'; use a percentage above 0 and up to 100", v);
		return 0;
	}
	case 10:
		if (o->noverrides == HS_MAX_OVERRIDES)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--set", "at most %d overrides",
					    HS_MAX_OVERRIDES);
		return hs_override_parse(&o->overrides[o->noverrides++], v, err);
	default:
		o->record_set = true;
		if (strcmp(v, "summary") == 0)
			o->record = HS_RECORD_SUMMARY;
		else if (strcmp(v, "events") == 0)
			o->record = HS_RECORD_EVENTS;
		else
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--record",
					    "invalid level '%s'; use summary or events", v);
		return 0;
	}
}

/* Returns 0, 1 for --help, or an error code. */
static int parse_args(int argc, char **argv, struct sweep_opts *o, struct hs_error *err)
{
	for (int i = 0; i < argc; i++) {
		int rc;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(sweep_usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			o->quiet = true;
			continue;
		}
		if (strcmp(argv[i], "--phase-cpu") == 0) {
			o->phase_cpu = true;
			continue;
		}
		rc = parse_valued(argc, argv, &i, o, err);
		if (rc <= 0) {
			if (rc)
				return rc;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return hs_error_set(err, HS_E_USAGE, NULL, 0, argv[i],
					    "unknown option; see `herdsim sweep --help`");
		if (o->scenario)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, argv[i],
					    "unexpected argument: give one scenario");
		o->scenario = argv[i];
	}
	if (!o->scenario)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL,
				    "missing SCENARIO; see `herdsim sweep --help`");
	return 0;
}

/* ---- Points ----------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL; /* separator, so "ab","c" != "a","bc" */
}

/* Returns true when policy p takes the varied key: every key except a
 * policy parameter ("policy.NAME" other than policy.name) that p does not
 * declare.  A policy that does not take a key runs no point per value of
 * it, because those runs would all be the same run. */
static bool policy_takes(const struct hs_policy *p, const char *key)
{
	if (strncmp(key, "policy.", 7) != 0 || strcmp(key, "policy.name") == 0)
		return true;
	for (int i = 0; p->params && p->params[i].name; i++)
		if (strcmp(p->params[i].name, key + 7) == 0)
			return true;
	return false;
}

/* Returns the number of value combinations policy p runs: the product of
 * the value counts of the keys it takes (1 when it takes none). */
static long policy_combos(const struct sweep_opts *o, const struct hs_policy *p)
{
	long n = 1;

	for (int k = 0; k < o->nvary; k++)
		if (policy_takes(p, o->vary[k].key))
			n *= o->vary[k].nvalues;
	return n;
}

/* Splits combination `combo` of all varied keys into one value index per
 * key (mixed radix, first key slowest). */
static void combo_index(const struct sweep_opts *o, long combo, int index[MAX_VARY])
{
	for (int k = o->nvary - 1; k >= 0; k--) {
		index[k] = (int)(combo % o->vary[k].nvalues);
		combo /= o->vary[k].nvalues;
	}
}

/* Returns policy p's own number of the combination `index` (mixed radix
 * over the keys p takes, first key slowest).  Returns -1 when a key that p
 * does not take is past its first value, because p then runs the same as
 * at the first value and has no point of its own. */
static long policy_combo(const struct sweep_opts *o, const struct hs_policy *p, const int index[MAX_VARY])
{
	long c = 0;

	for (int k = 0; k < o->nvary; k++) {
		if (policy_takes(p, o->vary[k].key))
			c = c * o->vary[k].nvalues + index[k];
		else if (index[k] != 0)
			return -1;
	}
	return c;
}

/* Writes "k1=v1,k2=v2" for the keys that p takes (every key when p is
 * NULL).  Returns HS_E_USAGE when the text does not fit. */
static int combo_text(const struct sweep_opts *o, const struct hs_policy *p, const int index[MAX_VARY],
		      char *text, size_t size, struct hs_error *err)
{
	size_t used = 0;

	text[0] = '\0';
	for (int k = 0; k < o->nvary; k++) {
		if (p && !policy_takes(p, o->vary[k].key))
			continue;
		used += (size_t)snprintf(text + used, used < size ? size - used : 0, "%s%s=%s", used ? "," : "",
					 o->vary[k].key, o->vary[k].values[index[k]]);
	}
	if (used >= size)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--vary",
				    "the varied keys and values are longer than %zu characters", size - 1);
	return 0;
}

/* Fills ov[] with the base overrides followed by one per varied key, the
 * values chosen by index[].  Returns the number of overrides. */
static int combo_overrides(const struct sweep_opts *o, const int index[MAX_VARY], struct hs_override *ov,
			   struct hs_error *err)
{
	int n = o->noverrides;

	memcpy(ov, o->overrides, (size_t)n * sizeof(*ov));
	for (int k = 0; k < o->nvary; k++) {
		char set[2 * HS_NAME_MAX + HS_PATH_MAX + 2];
		const char *value = o->vary[k].values[index[k]];
		int rc;

		snprintf(set, sizeof(set), "%s=%s", o->vary[k].key, value);
		rc = hs_override_parse(&ov[n++], set, err);
		if (rc) {
			snprintf(err->key, sizeof(err->key), "--vary %s: '%s'", o->vary[k].key, value);
			return rc;
		}
	}
	return n;
}

/* Prefixes err with the --vary key and value at fault.  The prefix does not
 * call the value invalid, because the key itself may be unknown, and it
 * drops the "--set" file name, because the user wrote --vary. */
static void blame_vary(struct hs_error *err, const char *key, const char *value)
{
	char detail[600];

	if (strcmp(err->file, "--set") == 0)
		err->file[0] = '\0';
	hs_error_format(err, detail, sizeof(detail));
	hs_error_set(err, HS_E_INPUT, NULL, 0, NULL, "--vary %s=%s: %s", key, value, detail);
}

/* Loads every single --vary value on its own, so a bad one is reported by
 * its key and value rather than as part of a combination. */
static int check_each_value(const struct sweep_opts *o, struct hs_error *err)
{
	struct hs_override ov[HS_MAX_OVERRIDES + 1];
	struct hs_config *cfg = malloc(sizeof(*cfg));
	int rc = 0;

	if (!cfg)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	memcpy(ov, o->overrides, (size_t)o->noverrides * sizeof(*ov));
	for (int k = 0; rc == 0 && k < o->nvary; k++) {
		for (int v = 0; rc == 0 && v < o->vary[k].nvalues; v++) {
			char set[2 * HS_NAME_MAX + HS_PATH_MAX + 2];

			snprintf(set, sizeof(set), "%s=%s", o->vary[k].key, o->vary[k].values[v]);
			rc = hs_override_parse(&ov[o->noverrides], set, err);
			for (int s = 0; rc == 0 && s < (o->noses ? o->noses : 1); s++)
				rc = hs_config_load(cfg, o->scenario, ov, o->noverrides + 1,
						    o->noses ? o->oses[s] : NULL, err);
			if (rc)
				blame_vary(err, o->vary[k].key, o->vary[k].values[v]);
		}
	}
	free(cfg);
	return rc;
}

/* Loads and checks the configuration of combination `index` under profile
 * `os` (NULL for the scenario's), into cfg. */
static int load_combo(const struct sweep_opts *o, const int index[MAX_VARY], const char *os,
		      const struct hs_policy *const *pols, int npols, struct hs_config *cfg, struct hs_error *err)
{
	struct hs_override ov[HS_MAX_OVERRIDES + MAX_VARY];
	char combo[512];
	int nov = combo_overrides(o, index, ov, err);
	int rc = nov < 0 ? nov : combo_text(o, NULL, index, combo, sizeof(combo), err);

	if (rc)
		return rc;
	rc = hs_config_load(cfg, o->scenario, ov, nov, os, err);
	if (rc == 0)
		rc = hs_policy_check_params(&cfg->scenario, pols, npols, err);
	if (rc && o->nvary) {
		char detail[600];

		hs_error_format(err, detail, sizeof(detail));
		hs_error_set(err, HS_E_INPUT, NULL, 0, NULL, "--vary: invalid combination %s: %s", combo, detail);
	}
	return rc;
}

/* Builds every point in enumeration order (see the file head) and checks
 * its configuration.  Every combination of all varied keys is loaded and
 * checked, and policy q gets a point for it only when policy_combo numbers
 * it. */
static int build_points(struct sweep_opts *o, const struct hs_policy *const *pols, int npols,
			struct point **out, int *npoints, struct hs_error *err)
{
	long ncombos = 1, per_os = 0, first[MAX_POLICIES];
	int noses = o->noses ? o->noses : 1;
	struct hs_config *cfg = malloc(sizeof(*cfg));
	struct point *points;
	int rc = 0;

	for (int k = 0; k < o->nvary; k++)
		ncombos *= o->vary[k].nvalues;
	for (int q = 0; q < npols; q++) {
		first[q] = per_os;
		per_os += policy_combos(o, pols[q]);
	}
	if (!cfg || per_os * noses * (long long)o->reps > MAX_RUNS) {
		free(cfg);
		return cfg ? hs_error_set(err, HS_E_USAGE, NULL, 0, "--vary",
					  "the sweep has more than %lld runs; split it", MAX_RUNS)
			   : hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	}
	points = calloc((size_t)(per_os * noses), sizeof(*points));
	if (!points) {
		free(cfg);
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	}
	for (int s = 0; rc == 0 && s < noses; s++) {
		for (long c = 0; rc == 0 && c < ncombos; c++) {
			int index[MAX_VARY];

			combo_index(o, c, index);
			rc = load_combo(o, index, o->noses ? o->oses[s] : NULL, pols, npols, cfg, err);
			for (int q = 0; rc == 0 && q < npols; q++) {
				long own = policy_combo(o, pols[q], index);
				struct point *p;

				if (own < 0)
					continue;
				p = &points[s * per_os + first[q] + own];
				p->cfg = *cfg;
				hs_scenario_for_policy(&cfg->scenario, pols[q], &p->cfg.scenario);
				p->policy = pols[q];
				rc = hs_policy_params(pols[q], &p->cfg.scenario, p->params, err);
				p->seed = o->seed_set ? o->seed : cfg->scenario.seed;
				if (rc == 0)
					rc = combo_text(o, pols[q], index, p->combo, sizeof(p->combo), err);
			}
		}
	}
	free(cfg);
	if (rc) {
		free(points);
		return rc;
	}
	*out = points;
	*npoints = (int)(per_os * noses);
	return 0;
}

/* Rejects two profiles with the same name, which would share run keys. */
static int check_os_names(const struct point *points, int npoints, int per_os, struct hs_error *err)
{
	for (int a = 0; a < npoints; a += per_os)
		for (int b = a + per_os; b < npoints; b += per_os)
			if (strcmp(points[a].cfg.os.name, points[b].cfg.os.name) == 0)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, "--os",
						    "two profiles are named '%s'; give each --os once",
						    points[a].cfg.os.name);
	return 0;
}

/* Writes the run key of replication `rep` of p.  A key that would not fit
 * RUN_KEY_SIZE replaces the policy, profile and values by "#" and their
 * 64-bit FNV-1a hash in hex, which is still a function of the point. */
static void run_key(const struct point *p, int rep, char *key)
{
	char full[1024];

	snprintf(full, sizeof(full), "%s|%s|%s", p->policy->name, p->cfg.os.name, p->combo);
	if (snprintf(key, RUN_KEY_SIZE, "%s|r%d", full, rep) >= RUN_KEY_SIZE)
		snprintf(key, RUN_KEY_SIZE, "#%016llx|r%d", (unsigned long long)fnv1a(0xcbf29ce484222325ULL, full),
			 rep);
}

/* ---- Experiment ------------------------------------------------------- */

/* Derives "<scenario>-<hash>" from every argument that changes what the
 * sweep computes; --jobs, --shard, --db and --quiet are left out, so the
 * shards and resumptions of one sweep share the name. */
static void default_name(const struct sweep_opts *o, const struct point *points, int npoints, char *name,
			 size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[128];

	h = fnv1a(h, o->scenario);
	for (int i = 0; i < o->noverrides; i++) {
		snprintf(buf, sizeof(buf), "%s.%s", o->overrides[i].section, o->overrides[i].key);
		h = fnv1a(fnv1a(h, buf), o->overrides[i].value);
	}
	for (int i = 0; i < npoints; i++) {
		h = fnv1a(fnv1a(fnv1a(h, points[i].policy->name), points[i].cfg.os.name), points[i].combo);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)points[i].seed);
		h = fnv1a(h, buf);
	}
	snprintf(buf, sizeof(buf), "reps=%llu record=%d ci=%.17g", o->reps, o->record, o->ci_width);
	h = fnv1a(h, buf);
	if (o->phase_cpu) /* only when set, so that older sweeps keep their names */
		h = fnv1a(h, "phase-cpu");
	snprintf(name, size, "%.40s-%012llx", points[0].cfg.scenario.name,
		 (unsigned long long)(h & 0xffffffffffffULL));
}

static void fill_experiment(struct hs_experiment *e, const char *name, int argc, char **argv)
{
	struct utsname u;
	size_t used;

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	used = (size_t)snprintf(e->command, sizeof(e->command), "herdsim sweep");
	for (int i = 0; i < argc && used < sizeof(e->command); i++)
		used += (size_t)snprintf(e->command + used, sizeof(e->command) - used,
					 strpbrk(argv[i], " \t'\"") ? " '%s'" : " %s", argv[i]);
	snprintf(e->version, sizeof(e->version), "%s", HS_VERSION);
	snprintf(e->revision, sizeof(e->revision), "%s", HS_REVISION);
	if (uname(&u) == 0)
		snprintf(e->host, sizeof(e->host), "%s", u.nodename);
	hs_utc_now(e->started_at, sizeof(e->started_at));
}

/* ---- Plan: what this invocation runs ----------------------------------- */

/* Reads the makespan of an existing run, for replaying --ci-width
 * decisions; NaN when the run has no makespan. */
static int read_makespan(sqlite3 *h, int64_t experiment_id, const char *key, double *value,
			 struct hs_error *err)
{
	static const char sql[] = "SELECT s.value FROM run r JOIN scalar s ON s.run_id = r.id"
				  " AND s.name = 'makespan_ns' WHERE r.experiment_id = ? AND r.run_key = ?";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);

	*value = NAN;
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, experiment_id);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			*value = sqlite3_column_double(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hs_error_set(err, HS_E_DB, NULL, 0, key, "reading the makespan of a recorded run failed: %s",
				    sqlite3_errmsg(h));
	return 0;
}

static bool in_shard(const struct sweep *s, long long index)
{
	const struct sweep_opts *o = s->o;

	return o->shard_count == 0 || index % (long long)o->shard_count == (long long)o->shard_index - 1;
}

static void add_param(void *ctx, const char *key, const char *value)
{
	hs_result_param(ctx, key, value);
}

static int compare_param_keys(const void *a, const void *b)
{
	return strcmp(((const struct hs_param_rec *)a)->key, ((const struct hs_param_rec *)b)->key);
}

/* The statements that read recorded runs, and the parameters of the point
 * that plan_runs compares them with. */
struct recorded {
	sqlite3 *h;
	sqlite3_stmt *run;   /* id, scenario, backend, seed and record level of a keyed run */
	sqlite3_stmt *params; /* key and value of a run's parameters, by key */
	int point;           /* the point that `planned` describes; -1 for none */
	struct hs_run_result planned; /* only params is used, sorted by key */
};

static const char recorded_run_sql[] =
	"SELECT id, scenario, backend, seed, record FROM run WHERE experiment_id = ? AND run_key = ?";
static const char recorded_params_sql[] = "SELECT key, value FROM run_param WHERE run_id = ? ORDER BY key";

static const char *column_text(sqlite3_stmt *st, int column)
{
	const unsigned char *text = sqlite3_column_text(st, column);

	return text ? (const char *)text : "";
}

/* Writes into difference[size] the first difference in scenario,
 * backend, seed or record level between the current row of rec->run and
 * replication r of point p.  Leaves difference empty when there is none. */
static void row_difference(const struct sweep *s, const struct recorded *rec, int p, int r, char *difference,
			   size_t size)
{
	const struct point *pt = &s->points[p];
	const char *record = s->o->record == HS_RECORD_EVENTS ? "events" : "summary";
	uint64_t seed = (uint64_t)sqlite3_column_int64(rec->run, 3);

	if (strcmp(column_text(rec->run, 1), pt->cfg.scenario.name) != 0)
		snprintf(difference, size, "scenario %.60s recorded, %s in this sweep", column_text(rec->run, 1),
			 pt->cfg.scenario.name);
	else if (strcmp(column_text(rec->run, 2), s->be->name) != 0)
		snprintf(difference, size, "backend %.20s recorded, %s in this sweep", column_text(rec->run, 2),
			 s->be->name);
	else if (seed != pt->seed + (uint64_t)r)
		snprintf(difference, size, "seed %llu recorded, %llu in this sweep", (unsigned long long)seed,
			 (unsigned long long)(pt->seed + (uint64_t)r));
	else if (strcmp(column_text(rec->run, 4), record) != 0)
		snprintf(difference, size, "record level %.20s recorded, %s in this sweep", column_text(rec->run, 4),
			 record);
}

/* Writes into difference[size] the first parameter, by key, whose
 * recorded value in run `run_id` differs from rec->planned.  Leaves
 * difference empty when there is none.  A parameter that only one side
 * has is not compared, so that a key that another herdsim version records
 * is no difference.  Returns 0 or an SQLite error code. */
static int param_difference(struct recorded *rec, int64_t run_id, char *difference, size_t size)
{
	int rc;

	sqlite3_bind_int64(rec->params, 1, run_id);
	while ((rc = sqlite3_step(rec->params)) == SQLITE_ROW) {
		struct hs_param_rec probe;
		const struct hs_param_rec *planned;
		const char *value = column_text(rec->params, 1);

		snprintf(probe.key, sizeof(probe.key), "%s", column_text(rec->params, 0));
		planned = bsearch(&probe, rec->planned.params.data, rec->planned.params.len, sizeof(probe),
				  compare_param_keys);
		if (planned && strcmp(planned->value, value) != 0) {
			snprintf(difference, size, "%s = %.40s recorded, %.40s in this sweep", probe.key, value,
				 planned->value);
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(rec->params);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Fills rec->planned with the parameters of point p, sorted by key, unless
 * it contains them already. */
static void load_planned(const struct sweep *s, struct recorded *rec, int p)
{
	if (rec->point == p)
		return;
	hs_result_free(&rec->planned);
	hs_result_init(&rec->planned);
	rec->point = p;
	hs_config_each_param(&s->points[p].cfg, add_param, &rec->planned);
	qsort(rec->planned.params.data, rec->planned.params.len, sizeof(*rec->planned.params.data),
	      compare_param_keys);
}

/* Sets *exists to whether replication r of point p, with run key `key`,
 * is recorded.  Rejects a recorded run that differs from it in scenario,
 * backend, seed, record level or a parameter: another sweep was given the
 * same experiment name, and skipping its runs as done would leave this
 * sweep unrun. */
static int find_recorded(struct sweep *s, struct recorded *rec, int p, int r, const char *key, bool *exists,
			 struct hs_error *err)
{
	char difference[256] = "";
	int64_t run_id = 0;
	int rc;

	sqlite3_bind_int64(rec->run, 1, s->experiment_id);
	sqlite3_bind_text(rec->run, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(rec->run);
	*exists = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		run_id = sqlite3_column_int64(rec->run, 0);
		row_difference(s, rec, p, r, difference, sizeof(difference));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	}
	sqlite3_reset(rec->run);
	if (rc == 0 && *exists && !difference[0]) {
		load_planned(s, rec, p);
		rc = param_difference(rec, run_id, difference, sizeof(difference));
	}
	if (rc)
		return hs_error_set(err, HS_E_DB, s->o->db, 0, key, "reading a recorded run failed: %s",
				    sqlite3_errmsg(rec->h));
	if (difference[0])
		return hs_error_set(err, HS_E_INPUT, s->o->db, 0, NULL,
				    "run '%s' of experiment '%s' differs from this sweep's run with that key (%s), "
				    "so another sweep was given the same name; give this sweep another --name "
				    "or another --db",
				    key, s->experiment_name, difference);
	return 0;
}

/* Marks each run SKIP (other shard), DONE (already recorded) or TODO.
 * Writes nothing, so a rejected recorded run leaves the database as it
 * was. */
static int plan_runs(struct sweep *s, struct hs_db *db, struct hs_error *err)
{
	struct recorded rec = { .h = hs_db_handle(db), .point = -1 };
	int rc = 0;

	hs_result_init(&rec.planned);
	if (sqlite3_prepare_v2(rec.h, recorded_run_sql, -1, &rec.run, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(rec.h, recorded_params_sql, -1, &rec.params, NULL) != SQLITE_OK)
		rc = hs_error_set(err, HS_E_DB, s->o->db, 0, NULL, "reading the recorded runs failed: %s",
				  sqlite3_errmsg(rec.h));
	for (int p = 0; rc == 0 && p < s->npoints; p++) {
		/* --ci-width shards whole points, because its decisions need
		 * every replication of a point in one process. */
		bool point_in = s->ci ? in_shard(s, p) : true;

		for (int r = 0; rc == 0 && r < s->reps; r++) {
			long long i = (long long)p * s->reps + r;
			char key[RUN_KEY_SIZE];
			bool exists = false;

			if (!point_in || (!s->ci && !in_shard(s, i))) {
				s->state[i] = RS_SKIP;
				continue;
			}
			run_key(&s->points[p], r, key);
			rc = find_recorded(s, &rec, p, r, key, &exists, err);
			if (rc == 0 && exists && s->ci)
				rc = read_makespan(rec.h, s->experiment_id, key, &s->makespan[i], err);
			if (rc)
				break;
			s->state[i] = exists ? RS_DONE : RS_TODO;
			if (exists)
				s->present++;
			else
				s->total++;
		}
	}
	sqlite3_finalize(rec.run);
	sqlite3_finalize(rec.params);
	hs_result_free(&rec.planned);
	return rc;
}

/* ---- Scheduling (callers hold mu) ------------------------------------- */

/*
 * --ci-width rule.  After replications 0..n-1 of a point are all known, in
 * order, the point stops with n replications if n >= 3 and the 95 %
 * Student-t half-width of their makespans is below P percent of their mean,
 * or if n == --reps.  The rule reads nothing else, so batching and --jobs
 * cannot change the outcome.  Appends to out[] the results that must now be
 * written and returns their number.
 */
static int decide_point(struct sweep *s, int pt, struct hs_run_result **out)
{
	struct point *p = &s->points[pt];
	long long base = (long long)pt * s->reps;
	int nout = 0;

	while (p->stop_n == 0 && p->prefix < s->reps) {
		long long i = base + p->prefix;
		double mean = 0;
		int n;

		if (s->state[i] == RS_ARRIVED) {
			out[nout++] = s->pending[i];
			s->pending[i] = NULL;
			s->state[i] = RS_DONE;
		} else if (s->state[i] != RS_DONE) {
			break;
		}
		n = ++p->prefix;
		for (int r = 0; r < n; r++)
			mean += s->makespan[base + r] / n;
		if (n == s->reps || (n >= MIN_CI_REPS && hs_ci95_halfwidth(&s->makespan[base], (size_t)n) <
								 s->o->ci_width / 100 * fabs(mean)))
			p->stop_n = n;
	}
	if (p->stop_n == 0)
		return nout;

	/* Runs past the stop are never written; they leave the total. */
	p->closed = true;
	for (int r = p->stop_n; r < s->reps; r++) {
		long long i = base + r;

		if (s->state[i] == RS_ARRIVED) {
			hs_result_free(s->pending[i]);
			free(s->pending[i]);
			s->pending[i] = NULL;
		}
		if (s->state[i] == RS_TODO || s->state[i] == RS_RUNNING || s->state[i] == RS_ARRIVED) {
			s->total--;
			s->discarded++;
		}
		s->state[i] = RS_SKIP; /* a running one is freed when it arrives */
	}
	return nout;
}

/* Picks the next run to start.  Returns 1 with *pt and *rep set, 0 when
 * nothing can start until a result is processed, -1 when the sweep has
 * nothing left to hand out. */
static int pick(struct sweep *s, int *pt, int *rep)
{
	if (s->fatal || atomic_load(&s->in->first))
		return -1;
	for (int q = s->cursor; q < s->npoints; q++) {
		struct point *p = &s->points[q];
		long long base = (long long)q * s->reps;

		while (!p->closed && p->next_rep < s->reps && s->state[base + p->next_rep] != RS_TODO)
			p->next_rep++;
		if (p->next_rep >= s->reps)
			p->closed = true;
		if (p->closed) {
			if (q == s->cursor)
				s->cursor++;
			continue;
		}
		if (s->ci && p->next_rep >= (p->prefix + CI_LOOKAHEAD > MIN_CI_REPS ? p->prefix + CI_LOOKAHEAD
										 : MIN_CI_REPS))
			continue;
		*pt = q;
		*rep = p->next_rep++;
		s->state[base + *rep] = RS_RUNNING;
		s->in_flight++;
		return 1;
	}
	return s->cursor >= s->npoints ? -1 : 0;
}

/* ---- Workers ---------------------------------------------------------- */

/* Runs one replication; the result goes to it->res (NULL on OOM). */
static void run_one(const struct sweep *s, struct item *it)
{
	const struct point *p = &s->points[it->point];
	struct hs_run_request req = { 0 };

	it->res = malloc(sizeof(*it->res));
	if (!it->res) {
		it->rc = hs_error_set(&it->err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
		return;
	}
	req.cfg = &p->cfg;
	req.policy = p->policy;
	memcpy(req.policy_params, p->params, sizeof(req.policy_params));
	req.seed = p->seed + (uint64_t)it->rep;
	req.replication = it->rep;
	req.record = s->o->record;
	req.phase_cpu = s->o->phase_cpu;
	hs_result_init(it->res);
	hs_config_each_param(&p->cfg, add_param, it->res);
	it->rc = s->be->run(&req, it->res, &it->err);
	it->res->experiment_id = s->experiment_id;
	run_key(p, it->rep, it->res->run_key);
}

static void *worker(void *arg)
{
	struct sweep *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct item it = { 0 };
		int got = pick(s, &it.point, &it.rep);

		if (got < 0)
			break;
		if (got == 0) {
			pthread_cond_wait(&s->work, &s->mu);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		run_one(s, &it);
		pthread_mutex_lock(&s->mu);
		while (s->qlen == s->qcap)
			pthread_cond_wait(&s->space, &s->mu);
		s->queue[(s->qhead + s->qlen++) % s->qcap] = it;
		pthread_cond_signal(&s->ready);
	}
	s->active--;
	pthread_cond_broadcast(&s->ready);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- Writer ----------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Prints progress: a bar redrawn in place on a terminal, otherwise one line
 * every STATUS_PERIOD_S seconds.  `last` holds the time of the last line. */
static void progress(const struct sweep *s, double start, double *last, bool tty, bool final)
{
	double now = now_s(), rate, eta;
	long long done = s->written;
	char bar[21];
	int fill;

	if (!final && now - *last < (tty ? 0.2 : STATUS_PERIOD_S))
		return;
	*last = now;
	rate = now > start ? (double)done / (now - start) : 0;
	eta = rate > 0 ? (double)(s->total - done) / rate : 0;
	if (!tty) {
		fprintf(stderr, "herdsim: sweep: %lld/%lld runs, %.1f runs/s, ETA %.0f s\n", done, s->total, rate,
			eta);
		return;
	}
	fill = s->total ? (int)(20 * done / s->total) : 20;
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r[%s] %lld/%lld runs  %.1f runs/s  ETA %d:%02d  ", bar, done, s->total, rate,
		(int)eta / 60, (int)eta % 60);
	if (final)
		fputc('\n', stderr);
}

/* Test hook: HS_SWEEP_TEST_SIGNAL="KILL:N" raises SIGKILL right after the
 * N-th commit.  "INT:N" sends SIGINT then and waits for the watcher to
 * take it, and "INT2:N" sends it twice (hs_interrupts_test_signal).  N = 0
 * acts once the workers have started.  Tests thus interrupt a sweep at a
 * known point instead of racing a timer. */
static void test_signal_hook(struct sweep *s, long long committed)
{
	const char *hook = getenv("HS_SWEEP_TEST_SIGNAL");
	const char *colon = hook ? strchr(hook, ':') : NULL;

	if (!colon || atoll(colon + 1) != committed)
		return;
	if (strncmp(hook, "KILL", 4) == 0)
		raise(SIGKILL);
	else if (s->in->started)
		hs_interrupts_test_signal(s->in, SIGINT, colon[-1] == '2' ? 2 : 1);
}

static void write_results(struct sweep *s, struct hs_db *db, struct hs_run_result **res, int n)
{
	for (int k = 0; k < n; k++) {
		struct hs_error err = { 0 };
		int rc = 0;

		if (!s->fatal) {
			pthread_mutex_lock(&s->in->db_mu);
			rc = hs_db_write_run(db, res[k], NULL, &err);
			if (rc == 0)
				s->in->recorded++;
			pthread_mutex_unlock(&s->in->db_mu);
		}
		pthread_mutex_lock(&s->mu);
		if (rc && !s->fatal) {
			s->fatal = true;
			s->fatal_err = err;
			pthread_cond_broadcast(&s->work);
		} else if (rc == 0 && !s->fatal) {
			s->written++;
			if (res[k]->status != HS_STATUS_OK) {
				s->failed++;
				fprintf(stderr, "%sherdsim: %s: %s: %s\n", isatty(STDERR_FILENO) ? "\n" : "",
					res[k]->run_key, hs_status_name(res[k]->status), res[k]->error);
			}
		}
		pthread_mutex_unlock(&s->mu);
		if (rc == 0 && !s->fatal)
			test_signal_hook(s, s->written);
		hs_result_free(res[k]);
		free(res[k]);
	}
}

/* Prints, on the first SIGINT or SIGTERM, that no run starts any more and
 * how many runs in progress the sweep waits for, and wakes the workers
 * and the writer.  Runs on the watcher thread (interrupt_watch.h), whose
 * second signal ends the process at once, and the runs in progress are
 * then lost. */
static void announce_stop(void *ctx, int sig)
{
	struct sweep *s = ctx;
	const char *again = sig == SIGINT ? "press Ctrl-C again" : "send SIGTERM again";
	const char *newline = isatty(STDERR_FILENO) ? "\n" : "";

	pthread_mutex_lock(&s->mu);
	if (!s->fatal && s->in_flight == 0)
		fprintf(stderr, "%sherdsim: stopping; no run is in progress\n", newline);
	else if (!s->fatal)
		fprintf(stderr, "%sherdsim: stopping after the %lld run%s in progress; %s to stop at once "
			"without %s\n", newline, s->in_flight, s->in_flight == 1 ? "" : "s", again,
			s->in_flight == 1 ? "it" : "them");
	pthread_cond_broadcast(&s->work);
	pthread_cond_broadcast(&s->ready);
	pthread_mutex_unlock(&s->mu);
}

/* Takes results off the queue and writes them until every worker has
 * ended and the queue is empty.  Runs on the main thread. */
static void write_loop(struct sweep *s, struct hs_db *db, bool show)
{
	bool tty = isatty(STDERR_FILENO);
	double start = now_s(), last = start;
	struct hs_run_result **batch = calloc((size_t)s->reps + 1, sizeof(*batch));

	test_signal_hook(s, 0);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct item it;
		int n = 0;

		while (s->qlen == 0 && s->active > 0) {
			struct timespec t;

			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += 200000000;
			t.tv_sec += t.tv_nsec / 1000000000;
			t.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&s->ready, &s->mu, &t);
			if (show)
				progress(s, start, &last, tty, false);
		}
		if (s->qlen == 0)
			break;
		it = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		s->in_flight--;
		pthread_cond_signal(&s->space);

		if ((it.rc || !batch) && !s->fatal) {
			s->fatal = true;
			s->fatal_err = it.rc ? it.err : (struct hs_error){ .code = HS_E_NOMEM, .msg = "out of memory" };
			pthread_cond_broadcast(&s->work);
		}
		if (it.rc || !batch || s->fatal) {
			if (it.res)
				hs_result_free(it.res);
			free(it.res);
			continue;
		}
		if (!s->ci) {
			batch[n++] = it.res;
			s->state[(long long)it.point * s->reps + it.rep] = RS_DONE;
		} else {
			long long i = (long long)it.point * s->reps + it.rep;

			if (s->state[i] != RS_RUNNING) { /* ran past its point's stop */
				hs_result_free(it.res);
				free(it.res);
				s->state[i] = RS_SKIP;
				continue;
			}
			s->state[i] = RS_ARRIVED;
			s->pending[i] = it.res;
			s->makespan[i] = hs_result_get(it.res, "makespan_ns", NAN);
			n = decide_point(s, it.point, batch);
			pthread_cond_broadcast(&s->work);
		}
		pthread_mutex_unlock(&s->mu);
		write_results(s, db, batch, n);
		if (show)
			progress(s, start, &last, tty, false);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	if (show)
		progress(s, start, &last, tty, true);
	free(batch);
}

/* ---- Driver ----------------------------------------------------------- */

static int init_sweep(struct sweep *s, struct hs_error *err)
{
	long long nruns = (long long)s->npoints * s->reps;

	s->state = calloc((size_t)nruns, 1);
	s->qcap = 2 * (int)s->o->jobs;
	s->queue = calloc((size_t)s->qcap, sizeof(*s->queue));
	if (s->ci) {
		s->makespan = calloc((size_t)nruns, sizeof(*s->makespan));
		s->pending = calloc((size_t)nruns, sizeof(*s->pending));
	}
	if (!s->state || !s->queue || (s->ci && (!s->makespan || !s->pending)))
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->ready, NULL);
	pthread_cond_init(&s->space, NULL);
	return 0;
}

static void free_sweep(struct sweep *s)
{
	long long nruns = (long long)s->npoints * s->reps;

	for (long long i = 0; s->pending && i < nruns; i++) {
		if (s->pending[i]) {
			hs_result_free(s->pending[i]);
			free(s->pending[i]);
		}
	}
	free(s->pending);
	free(s->makespan);
	free(s->state);
	free(s->queue);
}

/* Starts the workers, which inherit the signal mask of
 * hs_interrupts_start, so that only the watcher takes SIGINT and SIGTERM.
 * Then runs the writer loop and joins the workers. */
static int run_pool(struct sweep *s, struct hs_db *db, struct hs_error *err)
{
	int jobs = (int)s->o->jobs, started = 0;
	pthread_t *threads = calloc((size_t)jobs, sizeof(*threads));

	if (!threads)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	pthread_mutex_lock(&s->mu);
	for (; started < jobs; started++) {
		if (pthread_create(&threads[started], NULL, worker, s) != 0)
			break;
		s->active++;
	}
	pthread_mutex_unlock(&s->mu);

	if (started == 0) {
		free(threads);
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, "--jobs", "cannot start a worker thread");
	}
	write_loop(s, db, !s->o->quiet);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return 0;
}

/* Loads the scenario into base under every --os in turn, so that a bad
 * profile is reported as such and not by check_each_value as a bad --vary
 * value.  Leaves base loaded under the first --os, or under the scenario's
 * profile when there is none. */
static int load_base(const struct sweep_opts *o, struct hs_config *base, struct hs_error *err)
{
	int rc = hs_config_load(base, o->scenario, o->overrides, o->noverrides, o->noses ? o->oses[0] : NULL, err);

	for (int i = 1; rc == 0 && i < o->noses; i++)
		rc = hs_config_load(base, o->scenario, o->overrides, o->noverrides, o->oses[i], err);
	if (rc == 0 && o->noses > 1)
		rc = hs_config_load(base, o->scenario, o->overrides, o->noverrides, o->oses[0], err);
	return rc;
}

/* Resolves the policies, defaults and points; prints and returns an exit
 * status on failure, 0 on success. */
static int resolve(struct sweep_opts *o, const struct hs_policy **pols, int *npols, struct point **points,
		   int *npoints, struct hs_error *err)
{
	struct hs_config *base = malloc(sizeof(*base));
	int rc;

	if (!base)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	rc = load_base(o, base, err);
	if (rc == 0 && o->npolicies)
		rc = hs_policy_resolve(o->policies, o->npolicies, pols, MAX_POLICIES, npols, err);
	else if (rc == 0)
		rc = hs_policy_resolve_scenario(&base->scenario, pols, MAX_POLICIES, npols, err);
	if (rc == 0) {
		if (!o->reps_set)
			o->reps = (unsigned long long)base->scenario.reps;
		if (!o->record_set)
			o->record = base->scenario.record;
		rc = check_each_value(o, err);
	}
	free(base);
	if (rc == 0)
		rc = build_points(o, pols, *npols, points, npoints, err);
	if (rc == 0)
		rc = check_os_names(*points, *npoints, *npoints / (o->noses ? o->noses : 1), err);
	return rc;
}

static int report(const struct sweep *s, const char *name, int status)
{
	const struct sweep_opts *o = s->o;

	if (atomic_load(&s->in->first) && !s->fatal && s->in->db_new && s->in->recorded == 0) {
		fprintf(stderr, "herdsim: interrupted before the first run ended; %s is not kept\n", o->db);
		return CLI_INTERRUPTED;
	}
	if (atomic_load(&s->in->first) && !s->fatal) {
		fprintf(stderr,
			"herdsim: interrupted; %lld runs of experiment '%s' are recorded in %s. "
			"Run the same command again to resume.\n",
			s->present + s->written, name, o->db);
		return CLI_INTERRUPTED;
	}
	if (s->fatal)
		return cli_error(&s->fatal_err);
	if (!o->quiet) {
		printf("%lld runs of experiment %s recorded in %s: %lld new, %lld already present",
		       s->present + s->written, name, o->db, s->written, s->present);
		if (s->ci)
			printf(", %lld not needed under --ci-width", s->discarded);
		printf("\n");
	}
	return s->failed ? CLI_RUN_FAILED : status;
}

int cli_sweep(int argc, char **argv)
{
	struct sweep_opts o = { .jobs = 0 };
	struct hs_interrupts in = { .announce = announce_stop };
	struct sweep s = { .o = &o, .in = &in };
	struct hs_error err = { 0 };
	const struct hs_policy *pols[MAX_POLICIES];
	struct hs_experiment exp;
	struct hs_db *db = NULL;
	char name[64];
	int npols = 0, rc, status;
	bool watching;

	rc = parse_args(argc, argv, &o, &err);
	if (rc == 1)
		return CLI_OK;
	if (rc == 0)
		rc = resolve(&o, pols, &npols, &s.points, &s.npoints, &err);
	if (rc) {
		for (int k = 0; k < o.nvary; k++)
			hs_sweep_free_values(o.vary[k].values, o.vary[k].nvalues);
		return cli_error(&err);
	}
	if (!o.db)
		o.db = DEFAULT_DB;
	if (!o.jobs) {
		long cpus = hs_usable_cpus();

		if (cpus < 1)
			cpus = 1;
		if (cpus > MAX_JOBS)
			cpus = MAX_JOBS;
		o.jobs = (unsigned long long)cpus;
	}
	s.be = &hs_backend_sim;
	s.reps = (int)o.reps;
	s.ci = o.ci_width > 0;
	if (o.name)
		snprintf(name, sizeof(name), "%s", o.name);
	else
		default_name(&o, s.points, s.npoints, name, sizeof(name));
	fill_experiment(&exp, name, argc, argv);
	s.experiment_name = name;

	rc = init_sweep(&s, &err);
	watching = rc == 0; /* announce_stop needs the mutex of init_sweep */
	if (watching) {
		in.announce_ctx = &s;
		hs_interrupts_start(&in, o.db);
		rc = hs_db_open(&db, o.db, &err);
	}
	if (rc == 0)
		rc = hs_db_experiment(db, &exp, &s.experiment_id, &err);
	if (rc == 0)
		rc = plan_runs(&s, db, &err);
	for (int p = 0; rc == 0 && s.ci && p < s.npoints; p++) {
		struct hs_run_result *none[1];

		decide_point(&s, p, none); /* replays decisions from recorded runs; writes nothing */
	}
	if (rc == 0)
		rc = run_pool(&s, db, &err);
	status = rc ? cli_error(&err) : report(&s, name, CLI_OK);
	if (status == CLI_OK || status == CLI_RUN_FAILED) {
		char ended[32];

		hs_utc_now(ended, sizeof(ended));
		if (hs_db_experiment_end(db, s.experiment_id, ended, &err))
			status = cli_error(&err);
	}
	hs_db_close(db);
	if (watching) {
		/* A sweep that stopped early leaves no new database without runs.
		 * One that ended keeps it, so that an empty shard still merges. */
		if (in.db_new && in.recorded == 0 && status != CLI_OK)
			hs_db_remove(o.db, in.db_kept_dirs);
		hs_interrupts_stop(&in);
	}
	free_sweep(&s);
	free(s.points);
	for (int k = 0; k < o.nvary; k++)
		hs_sweep_free_values(o.vary[k].values, o.vary[k].nvalues);
	return status;
}
