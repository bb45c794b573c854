/*
 * `herdsim check-policy`: a conformance suite for refill policies.
 *
 * It runs one policy (shipped, or a shared object) on the sim backend over
 * a grid of workload shapes, thread counts, core counts, OS profiles and
 * seeds, and checks every run against these invariants:
 *
 *   deadlock            the run ended with foreign threads alive and no
 *                       event pending
 *   timeout             the run passed its simulated-time or event limit
 *   m-lost              at the end, created - freed != the policy's spares
 *   m-duplicated        an M was handed to a thread while another held it,
 *                       released by a thread that did not hold it, or was
 *                       not allocated by the runtime
 *   callbacks-complete  fewer callbacks completed than the workload makes
 *   m-bounded           M's created > 2 * threads_peak + B, where B is the
 *                       policy's `spare` or `batch` parameter (the larger
 *                       of them and `low` + 1 when present) and 1 otherwise.
 *                       The tight bound threads_peak + B does not hold for
 *                       Go's own `waiters` protocol: a thread counted as a
 *                       waiter may take a released M, and the M created
 *                       for its count stays spare, while a thread that
 *                       emptied the list also creates one.  The factor 2
 *                       allows one such extra M per live thread and still
 *                       catches a policy that creates an M per callback
 *                       on the multi shape.
 *   deterministic       a second run of the same point and seed differs in
 *                       a scalar, a lock_stat row, an M row, the status or
 *                       the end; checked on every DETERMINISM_STRIDE-th
 *                       point in grid order (all points of the quick grid)
 *   run-error           any other error the backend reports
 *
 * Shapes: `burst` is the cgocallbackgc scenario (every thread arrives at
 * once and makes one callback with two GCs); `multi` is the milter
 * scenario cut to 5 callbacks per thread (periodic arrivals, sleeps
 * between callbacks).  The grid is fixed; `--seeds N` sets the seeds per
 * point (1 to N) and `--quick` keeps a small grid for tests.  Runs go to
 * a pool of worker threads (simulations share no state); the report names
 * the failing run with the lowest grid index, so it does not depend on
 * the worker count, and prints the `herdsim run` command that replays it.
 *
 * The full grid leaves out one corner, on purpose: the windows profile
 * with 25 or more threads per core (100 burst threads on 4 cores and
 * fewer, 40 threads of the multi shape on 1 core, 300 on 4 cores and
 * fewer, 1000 burst threads on 4 cores).  There usleep(1) is a
 * zero-timeout wait that returns at once, so every thread waiting for an
 * M polls without sleeping.  Under the fair scheduler, with a slice of
 * 31.25 ms, n pollers on one core leave the thread with an M one slice
 * in n.  The runs finish, but slowly.  Under `single` with 100 threads
 * of the multi shape on 1 core, the last thread exits at 54.4 s of
 * simulated time after 361 million events.  100 burst threads on 4 cores
 * pass the scenario's limit of 200 million events at 7.5 s.  Whether such a run falls into the polling herd at all turns on
 * the timing of its first M's.  That is a property of polling on that OS,
 * not a broken invariant, and the corner checks no invariant that the
 * other corners leave unchecked: 1000 threads run on 64 windows cores and
 * on 4 cores of the other profiles.  The quick grid leaves the corner out
 * too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "hostcheck.h"
#include "registry.h"

#define MAX_POINTS 4096
#define MAX_JOBS 8
/* The full grid checks determinism on every DETERMINISM_STRIDE-th point
 * in grid order, the count shifted by one for each seed after the first:
 * a fifth of the runs are repeated.  An OS has 34 points per seed
 * (windows 26) and a seed 130, so the shift moves the sample to another
 * place in each seed.  With 2 seeds it covers both shapes, every OS and
 * seed, every thread count below 10000, and 1 to 64 cores. */
#define DETERMINISM_STRIDE 5

static const char check_usage[] =
	"usage: herdsim check-policy NAME|PATH.so [options]\n"
	"\n"
	"Runs the policy over a grid of workloads (1 to 10000 threads, 1 to 64\n"
	"cores, every OS profile, several seeds) and checks that no run\n"
	"deadlocks or times out, no M is lost or held twice, every callback\n"
	"completes, M's created stay within twice threads_peak plus the policy's spares,\n"
	"and a run replays identically (every fifth run; every run with --quick).\n"
	"\n"
	"options:\n"
	"  --seeds N             seeds per grid point (default 2)\n"
	"  --quick               a small grid (seconds, for tests)\n"
	"  --schedule-noise L    perturb costs by a factor in [1-L, 1+L], 0 to 0.5\n"
	"  --set SECTION.KEY=V   override a scenario or profile key; repeatable\n"
	"  --jobs N              worker threads (default: the CPUs it may use, at most 8)\n"
	"\n"
	"Exit status: 0 every run passed, 1 bad input, 2 bad usage, 3 a run\n"
	"broke an invariant (the first one is reported with a replay command).\n";

struct shape {
	const char *label;
	const char *scenario;
	const char *set; /* an extra override, or NULL */
	int callbacks;   /* per thread, after `set` */
};

static const struct shape shapes[] = {
	{ "burst", "cgocallbackgc", NULL, 1 },
	{ "multi", "milter", "workload.callbacks=5", 5 },
};

/* One grid point: a shape on an OS with threads and cores, one seed. */
struct point {
	int shape;
	const char *os;
	int threads;
	int cores;
	uint64_t seed;
};

struct verdict {
	const char *invariant; /* NULL when the run passed */
	char detail[600];
};

struct check {
	const struct hs_policy *policy;
	const char *policy_arg;
	int64_t bound_extra; /* B in the m-bounded invariant */
	double noise;
	struct hs_override user[HS_MAX_OVERRIDES];
	int nuser;
	const char *user_text[HS_MAX_OVERRIDES];

	struct point points[MAX_POINTS];
	struct verdict verdicts[MAX_POINTS];
	int npoints;

	int det_stride; /* check determinism on points i with (i + seed - 1) % det_stride == 0 */

	pthread_mutex_t mu;
	int next, done;
	int first_fail; /* lowest failing index so far, or npoints */
	int progress_step;
};

static void add_point(struct check *c, int shape, const char *os, int threads, int cores, uint64_t seed)
{
	if (c->npoints < MAX_POINTS)
		c->points[c->npoints++] = (struct point){ shape, os, threads, cores, seed };
}

/* True for a point of the windows profile with 25 or more threads per
 * core, which both grids leave out (see the top of the file). */
static bool windows_polling_corner(const char *os, int threads, int cores)
{
	return strcmp(os, "windows") == 0 && threads >= 25 * cores;
}

/* True for a grid point of the full grid: every burst and multi point but
 * 1000 burst threads on 1 or 2 cores (on any OS), and on the windows
 * profile every point with 25 or more threads per core. */
static bool in_full_grid(int shape, const char *os, int threads, int cores)
{
	if (windows_polling_corner(os, threads, cores))
		return false;
	if (shape != 0 || threads < 1000)
		return true;
	return cores >= 4;
}

/* Fills the grid.  The full grid is sized to finish in about a minute on
 * two cores: 10000 threads appear only at two points, where a run takes
 * about a second. */
static void build_grid(struct check *c, int seeds, bool quick)
{
	static const int burst_threads[] = { 1, 2, 8, 100, 1000 };
	static const int multi_threads[] = { 1, 3, 40, 300 };
	static const int cores[] = { 1, 2, 4, 64 };
	static const int quick_threads[] = { 1, 8, 100 };
	static const int quick_cores[] = { 1, 4 };
	const char *const *oses = hs_os_profile_names();

	for (int s = 1; s <= seeds; s++) {
		for (int o = 0; oses[o]; o++) {
			if (quick) {
				for (size_t t = 0; t < 3; t++)
					for (size_t k = 0; k < 2; k++) {
						if (windows_polling_corner(oses[o], quick_threads[t],
									   quick_cores[k]))
							continue;
						add_point(c, 0, oses[o], quick_threads[t], quick_cores[k], (uint64_t)s);
						add_point(c, 1, oses[o], quick_threads[t], quick_cores[k], (uint64_t)s);
					}
				continue;
			}
			for (size_t t = 0; t < sizeof(burst_threads) / sizeof(*burst_threads); t++)
				for (size_t k = 0; k < sizeof(cores) / sizeof(*cores); k++)
					if (in_full_grid(0, oses[o], burst_threads[t], cores[k]))
						add_point(c, 0, oses[o], burst_threads[t], cores[k], (uint64_t)s);
			for (size_t t = 0; t < sizeof(multi_threads) / sizeof(*multi_threads); t++)
				for (size_t k = 0; k < sizeof(cores) / sizeof(*cores); k++)
					if (in_full_grid(1, oses[o], multi_threads[t], cores[k]))
						add_point(c, 1, oses[o], multi_threads[t], cores[k], (uint64_t)s);
		}
		if (!quick) {
			/* 64 cores: under `single` a burst of 10000 GC callbacks on
			 * 2 or 8 cores takes 6 to over 60 s of simulated time, one
			 * thread at a time, which is the policy's known cost. */
			add_point(c, 0, "linux", 10000, 64, (uint64_t)s);
			add_point(c, 1, "freebsd", 10000, 8, (uint64_t)s);
		}
	}
}

/* Returns B: the largest of `spare`, `batch` and `low` + 1 among the
 * policy's resolved parameters, or 1 if it has none of them. */
static int64_t spare_bound(const struct hs_policy *p, const int64_t *values)
{
	int64_t b = 0;

	for (int i = 0; p->params && p->params[i].name && i < HS_POLICY_MAX_PARAMS; i++) {
		const char *n = p->params[i].name;
		int64_t v = values[i];

		if (strcmp(n, "low") == 0)
			v++;
		else if (strcmp(n, "spare") != 0 && strcmp(n, "batch") != 0)
			continue;
		if (v > b)
			b = v;
	}
	return b > 0 ? b : 1;
}

/* Loads the configuration of grid point pt: the shape's scenario, then
 * the grid's overrides, then the user's. */
static int load_point(const struct check *c, const struct point *pt, struct hs_config *cfg,
		      struct hs_error *err)
{
	struct hs_override ov[HS_MAX_OVERRIDES + 3];
	char text[64];
	int n = 0, rc;

	snprintf(text, sizeof(text), "workload.threads=%d", pt->threads);
	if ((rc = hs_override_parse(&ov[n++], text, err)) != 0)
		return rc;
	snprintf(text, sizeof(text), "machine.cores=%d", pt->cores);
	if ((rc = hs_override_parse(&ov[n++], text, err)) != 0)
		return rc;
	if (shapes[pt->shape].set && (rc = hs_override_parse(&ov[n++], shapes[pt->shape].set, err)) != 0)
		return rc;
	for (int i = 0; i < c->nuser; i++)
		ov[n++] = c->user[i];
	return hs_config_load(cfg, shapes[pt->shape].scenario, ov, n, pt->os, err);
}

static const char *classify_error(const char *msg)
{
	if (strstr(msg, "M's lost"))
		return "m-lost";
	if (strstr(msg, "handed to thread") || strstr(msg, "does not hold") || strstr(msg, "did not allocate"))
		return "m-duplicated";
	if (strstr(msg, "callbacks completed"))
		return "callbacks-complete";
	return "run-error";
}

/* Returns true if two runs of one seed agree on everything but wall time. */
static bool same_run(const struct hs_run_result *a, const struct hs_run_result *b, char *why, size_t size)
{
	if (a->status != b->status || a->end_ns != b->end_ns || a->events != b->events ||
	    strcmp(a->error, b->error) != 0) {
		snprintf(why, size, "status, end time or event count differ (%lld vs %lld ns, %llu vs %llu events)",
			 (long long)a->end_ns, (long long)b->end_ns, (unsigned long long)a->events,
			 (unsigned long long)b->events);
		return false;
	}
	if (a->scalars.len != b->scalars.len || a->locks.len != b->locks.len || a->ms.len != b->ms.len) {
		snprintf(why, size, "the number of scalars, lock rows or M rows differs");
		return false;
	}
	for (size_t i = 0; i < a->scalars.len; i++)
		if (strcmp(a->scalars.data[i].name, b->scalars.data[i].name) != 0 ||
		    a->scalars.data[i].value != b->scalars.data[i].value) {
			snprintf(why, size, "scalar %s differs: %g vs %g", a->scalars.data[i].name,
				 a->scalars.data[i].value, b->scalars.data[i].value);
			return false;
		}
	for (size_t i = 0; i < a->locks.len; i++)
		if (memcmp(&a->locks.data[i], &b->locks.data[i], sizeof(a->locks.data[i])) != 0) {
			snprintf(why, size, "lock_stat row %s differs", a->locks.data[i].name);
			return false;
		}
	for (size_t i = 0; i < a->ms.len; i++) {
		const struct hs_m_rec *x = &a->ms.data[i], *y = &b->ms.data[i];

		if (x->id != y->id || x->created_ns != y->created_ns || x->created_by != y->created_by ||
		    strcmp(x->reason, y->reason) != 0) {
			snprintf(why, size, "M row %lld differs", (long long)x->id);
			return false;
		}
	}
	return true;
}

/* Runs grid point pt once; returns a negative HS_E_* code only when the
 * run could not be carried out. */
static int run_once(const struct check *c, const struct point *pt, struct hs_run_result *res, int64_t *bound,
		    struct hs_error *err)
{
	struct hs_config cfg;
	struct hs_scenario sc;
	struct hs_run_request req = { 0 };
	int rc = load_point(c, pt, &cfg, err);

	if (rc)
		return rc;
	hs_scenario_for_policy(&cfg.scenario, c->policy, &sc);
	cfg.scenario = sc;
	rc = hs_policy_params(c->policy, &sc, req.policy_params, err);
	if (rc)
		return rc;
	*bound = spare_bound(c->policy, req.policy_params);
	req.cfg = &cfg;
	req.policy = c->policy;
	req.seed = pt->seed;
	req.record = HS_RECORD_SUMMARY;
	req.schedule_noise = c->noise;
	hs_result_init(res);
	return hs_backend_sim.run(&req, res, err);
}

/* Checks grid point i; fills *v. */
static void check_point(const struct check *c, int i, struct verdict *v)
{
	const struct point *pt = &c->points[i];
	struct hs_run_result a, b;
	struct hs_error err = { 0 };
	int64_t bound = 1;
	double made, peak, done;
	int64_t expected = (int64_t)pt->threads * shapes[pt->shape].callbacks;

	v->invariant = NULL;
	if (run_once(c, pt, &a, &bound, &err) != 0) {
		v->invariant = "run-error";
		hs_error_format(&err, v->detail, sizeof(v->detail));
		hs_result_free(&a);
		return;
	}
	made = hs_result_get(&a, "m_created", 0);
	peak = hs_result_get(&a, "threads_peak", 0);
	done = hs_result_get(&a, "callbacks", 0);
	if (a.status == HS_STATUS_DEADLOCK || a.status == HS_STATUS_TIMEOUT) {
		v->invariant = a.status == HS_STATUS_DEADLOCK ? "deadlock" : "timeout";
		snprintf(v->detail, sizeof(v->detail), "%s", a.error);
	} else if (a.status != HS_STATUS_OK) {
		v->invariant = classify_error(a.error);
		snprintf(v->detail, sizeof(v->detail), "%s", a.error);
	} else if (done != (double)expected) {
		v->invariant = "callbacks-complete";
		snprintf(v->detail, sizeof(v->detail), "%.0f of %lld callbacks completed", done, (long long)expected);
	} else if (made > 2 * peak + (double)bound) {
		v->invariant = "m-bounded";
		snprintf(v->detail, sizeof(v->detail), "%.0f M's created for a peak of %.0f threads; at most %.0f allowed",
			 made, peak, 2 * peak + (double)bound);
	} else if ((i + c->points[i].seed - 1) % (uint64_t)c->det_stride == 0) {
		struct hs_error err2 = { 0 };

		if (run_once(c, pt, &b, &bound, &err2) != 0) {
			v->invariant = "run-error";
			hs_error_format(&err2, v->detail, sizeof(v->detail));
		} else if (!same_run(&a, &b, v->detail, sizeof(v->detail))) {
			v->invariant = "deterministic";
		}
		hs_result_free(&b);
	}
	hs_result_free(&a);
}

static void *worker(void *arg)
{
	struct check *c = arg;

	for (;;) {
		int i;

		pthread_mutex_lock(&c->mu);
		i = c->next++;
		pthread_mutex_unlock(&c->mu);
		if (i >= c->npoints)
			return NULL;

		pthread_mutex_lock(&c->mu);
		bool skip = i > c->first_fail;
		pthread_mutex_unlock(&c->mu);
		if (!skip)
			check_point(c, i, &c->verdicts[i]);

		pthread_mutex_lock(&c->mu);
		if (!skip && c->verdicts[i].invariant && i < c->first_fail)
			c->first_fail = i;
		c->done++;
		if (c->done % c->progress_step == 0 || c->done == c->npoints)
			fprintf(stderr, "check-policy %s: %d/%d runs\n", c->policy->name, c->done, c->npoints);
		pthread_mutex_unlock(&c->mu);
	}
}

/* Prints the `herdsim run` command that replays grid point pt. */
static void print_replay(const struct check *c, const struct point *pt)
{
	printf("  replay: herdsim run %s --policy %s --os %s --seed %llu --reps 1 --set workload.threads=%d --set machine.cores=%d",
	       shapes[pt->shape].scenario, c->policy_arg, pt->os, (unsigned long long)pt->seed, pt->threads,
	       pt->cores);
	if (shapes[pt->shape].set)
		printf(" --set %s", shapes[pt->shape].set);
	for (int i = 0; i < c->nuser; i++)
		printf(" --set %s", c->user_text[i]);
	if (c->noise > 0)
		printf(" --schedule-noise %g", c->noise);
	putchar('\n');
}

static int parse_check_args(int argc, char **argv, struct check *c, int *seeds, bool *quick, int *jobs,
			    struct hs_error *err)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long n;
		char *end;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(check_usage, stdout);
			return 1;
		} else if (strcmp(a, "--quick") == 0) {
			*quick = true;
		} else if (strcmp(a, "--seeds") == 0 || strcmp(a, "--jobs") == 0) {
			if (!cli_parse_u64(v, &n) || n < 1 || n > (strcmp(a, "--seeds") == 0 ? 100 : MAX_JOBS))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "invalid count '%s'; use 1 to %d",
						    v ? v : "", strcmp(a, "--seeds") == 0 ? 100 : MAX_JOBS);
			*(strcmp(a, "--seeds") == 0 ? seeds : jobs) = (int)n;
			i++;
		} else if (strcmp(a, "--schedule-noise") == 0) {
			c->noise = v ? strtod(v, &end) : -1;
			if (!v || end == v || *end != '\0' || !(c->noise >= 0 && c->noise <= 0.5))
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a,
						    "invalid level '%s'; use a number from 0 to 0.5", v ? v : "");
			i++;
		} else if (strcmp(a, "--set") == 0) {
			int rc;

			if (!v)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "needs SECTION.KEY=VALUE");
			if (c->nuser == HS_MAX_OVERRIDES - 3)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "at most %d overrides",
						    HS_MAX_OVERRIDES - 3);
			if ((rc = hs_override_parse(&c->user[c->nuser], v, err)) != 0)
				return rc;
			{
				/* the grid sets these itself for every run */
				static const char *const grid_keys[] = { "workload.threads", "machine.cores",
									 "machine.os", "workload.callbacks", NULL };
				char key[2 * HS_NAME_MAX + 2];

				snprintf(key, sizeof(key), "%s.%s", c->user[c->nuser].section,
					 c->user[c->nuser].key);
				for (int k = 0; grid_keys[k]; k++)
					if (strcmp(key, grid_keys[k]) == 0)
						return hs_error_set(err, HS_E_USAGE, NULL, 0, key,
								    "the conformance grid sets this key for each run; "
								    "leave it out of --set");
			}
			c->user_text[c->nuser++] = v;
			i++;
		} else if (a[0] == '-') {
			return hs_error_set(err, HS_E_USAGE, NULL, 0, a,
					    "unknown option; see `herdsim check-policy --help`");
		} else if (!c->policy_arg) {
			c->policy_arg = a;
		} else {
			return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "unexpected argument: give one policy");
		}
	}
	if (!c->policy_arg)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL,
				    "missing policy; usage: herdsim check-policy NAME|PATH.so [--seeds N] [--quick]");
	return 0;
}

/* Resolves the policy and checks the user's overrides on one point. */
static int prepare(struct check *c, struct hs_error *err)
{
	const struct hs_policy *pols[1];
	struct hs_config cfg;
	int n, rc;

	if (strcmp(c->policy_arg, "all") == 0)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "all", "check one policy at a time");
	rc = hs_policy_resolve(&c->policy_arg, 1, pols, 1, &n, err);
	if (rc)
		return rc;
	c->policy = pols[0];
	rc = load_point(c, &c->points[0], &cfg, err);
	if (rc == 0)
		rc = hs_policy_check_params(&cfg.scenario, pols, 1, err);
	return rc;
}

int cli_check_policy(int argc, char **argv)
{
	struct check *c = calloc(1, sizeof(*c));
	struct hs_error err = { 0 };
	pthread_t tids[MAX_JOBS];
	int seeds = 2, jobs = 0, rc, status;
	bool quick = false;
	long cpus;

	if (!c)
		return cli_error(&(struct hs_error){ .code = HS_E_NOMEM, .msg = "out of memory" });
	rc = parse_check_args(argc, argv, c, &seeds, &quick, &jobs, &err);
	if (rc == 1) {
		free(c);
		return CLI_OK;
	}
	build_grid(c, quick ? 1 : seeds, quick);
	if (rc == 0)
		rc = prepare(c, &err);
	if (rc) {
		free(c);
		return cli_error(&err);
	}
	if (jobs == 0) {
		cpus = hs_usable_cpus();
		if (cpus < 1)
			cpus = 1;
		if (cpus > MAX_JOBS)
			cpus = MAX_JOBS;
		jobs = (int)cpus;
	}
	c->first_fail = c->npoints;
	c->det_stride = quick ? 1 : DETERMINISM_STRIDE;
	c->progress_step = c->npoints / 10 > 0 ? c->npoints / 10 : 1;
	pthread_mutex_init(&c->mu, NULL);
	printf("check-policy %s: %d runs (%s grid, %d seed%s, schedule noise %g, %d job%s)\n", c->policy->name,
	       c->npoints, quick ? "quick" : "full", quick ? 1 : seeds, (quick ? 1 : seeds) == 1 ? "" : "s",
	       c->noise, jobs, jobs == 1 ? "" : "s");
	fflush(stdout);
	/* With one job the runs stay on the main thread. */
	if (jobs == 1)
		jobs = 0;
	for (int i = 0; i < jobs; i++)
		if (pthread_create(&tids[i], NULL, worker, c) != 0) {
			jobs = i;
			break;
		}
	if (jobs == 0)
		worker(c);
	for (int i = 0; i < jobs; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&c->mu);

	if (c->first_fail < c->npoints) {
		const struct point *pt = &c->points[c->first_fail];
		const struct verdict *v = &c->verdicts[c->first_fail];

		printf("FAIL %s: invariant %s broken at seed %llu (%s shape, %s, %d threads, %d cores): %s\n",
		       c->policy->name, v->invariant, (unsigned long long)pt->seed, shapes[pt->shape].label, pt->os,
		       pt->threads, pt->cores, v->detail);
		print_replay(c, pt);
		status = CLI_RUN_FAILED;
	} else {
		printf("PASS %s: %d runs; no deadlock or timeout, no M lost or duplicated, every callback completed, "
		       "M's bounded, %s replayed identically\n",
		       c->policy->name, c->npoints, c->det_stride == 1 ? "every run" : "every fifth run");
		status = CLI_OK;
	}
	free(c);
	return status;
}
