/*
 * The spinner among pollers, in the simulator (see probe_native.c).
 *
 * usage: probe_sim PROFILE POLLERS WORK_MS [CORES [SEEDS]]
 *
 * POLLERS simulated threads loop on usleep(1) on CORES cores (default 1)
 * of the OS profile PROFILE (a shipped name or a file, such as one that
 * `herdsim calibrate` wrote).  As in probe_native, the pollers sleep 1 ms
 * at a time for the first 20 ms, then loop on usleep(1).  5 ms later one
 * more thread computes WORK_MS in 10 us bursts.
 * Printed per seed (default 1): the wall time of that work, its share of
 * a CPU, the run's preemptions and the pollers' cycles per ms in the
 * window.  The threads run inside the acquire hook of a policy.  Each gets
 * its M only after the work is done, so M creation is not measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "policy.h"
#include "probe_args.h"
#include "result.h"

#define STEP_NS 10000
#define START_NS 20000000 /* the pollers start polling */
#define SETTLE_NS 5000000 /* the work starts after that */
#define MAX_POLLERS 999999 /* workload.threads is at most 1000000 */
#define MAX_SEEDS 1000000

static struct {
	int arrivals, pollers;
	int64_t work_ns, t0, t1;
	long polls, p0, p1;
	hs_word go, done;
} P;

static hs_m *probe_acquire(hs_env *env, void *state)
{
	const struct hs_env_ops *o = env->ops;

	if (P.arrivals++ == P.pollers) {
		o->sleep(env, START_NS);
		o->store(env, &P.go, 1);
		o->sleep(env, SETTLE_NS);
		P.t0 = o->now(env);
		P.p0 = P.polls;
		for (int64_t w = 0; w < P.work_ns; w += STEP_NS)
			o->work(env, STEP_NS);
		P.t1 = o->now(env);
		P.p1 = P.polls;
		o->store(env, &P.done, 1);
	} else {
		while (o->load(env, &P.go) == 0)
			o->sleep(env, 1000000);
		while (o->load(env, &P.done) == 0) {
			o->sleep(env, 1000);
			P.polls++;
		}
	}
	return o->new_m(env, "probe");
}

static void probe_release(hs_env *env, void *state, hs_m *m)
{
	env->ops->free_m(env, m);
}

static uint64_t probe_spare(void *state)
{
	return 0;
}

static int probe_init(hs_env *env, void *state, const int64_t *params)
{
	return 0;
}

static const struct hs_policy probe_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "probe",
	.summary = "a spinner among usleep(1) pollers",
	.state_size = 8,
	.init = probe_init,
	.acquire = probe_acquire,
	.release = probe_release,
	.spare_count = probe_spare,
};

/* Parses argument `name` into *out, from lo to hi.  Returns 0 after
 * printing one line when it is not such an integer. */
static int parse_arg(const char *name, const char *text, long lo, long hi, long *out)
{
	if (parse_count(text, lo, hi, out))
		return 1;
	fprintf(stderr, "probe_sim: invalid %s '%s'; give an integer from %ld to %ld\n", name, text, lo, hi);
	return 0;
}

int main(int argc, char **argv)
{
	struct hs_config cfg;
	struct hs_error err = { 0 };
	long pollers, cores = 1, seeds = 1;
	double work_ms;

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: probe_sim PROFILE POLLERS WORK_MS [CORES [SEEDS]]\n");
		return 2;
	}
	/* the sim backend rejects more cores than it models, naming its limit */
	if (!parse_arg("POLLERS", argv[2], 0, MAX_POLLERS, &pollers) ||
	    (argc > 4 && !parse_arg("CORES", argv[4], 1, INT32_MAX, &cores)) ||
	    (argc > 5 && !parse_arg("SEEDS", argv[5], 1, MAX_SEEDS, &seeds)))
		return 2;
	if (!parse_ms(argv[3], &work_ms)) {
		fprintf(stderr, "probe_sim: invalid WORK_MS '%s'; give a number of ms above 0 and at most %.0f\n",
			argv[3], MAX_WORK_MS);
		return 2;
	}
	P.pollers = (int)pollers;
	P.work_ns = (int64_t)(work_ms * 1e6);
	if (P.work_ns <= 0) {
		fprintf(stderr, "probe_sim: WORK_MS '%s' is below 1 ns; give a larger number of ms\n", argv[3]);
		return 2;
	}
	if (hs_config_load(&cfg, "cgocallbackgc", NULL, 0, argv[1], &err) != 0) {
		fprintf(stderr, "probe_sim: %s%s%s\n", err.file, err.file[0] ? ": " : "", err.msg);
		return 1;
	}
	cfg.scenario.threads = P.pollers + 1;
	cfg.scenario.cores = (int)cores;
	cfg.scenario.nsteps = 0;
	for (long seed = 1; seed <= seeds; seed++) {
		struct hs_run_request req = { 0 };
		struct hs_run_result res;
		double wall;

		memset(&P.go, 0, sizeof(P.go));
		memset(&P.done, 0, sizeof(P.done));
		P.arrivals = 0;
		P.polls = 0;
		req.cfg = &cfg;
		req.policy = &probe_policy;
		req.seed = (uint64_t)seed;
		req.record = HS_RECORD_SUMMARY;
		hs_result_init(&res);
		if (hs_backend_sim.run(&req, &res, &err) != 0 || res.status != HS_STATUS_OK) {
			fprintf(stderr, "probe_sim: the run failed: %s\n", err.msg[0] ? err.msg : res.error);
			hs_result_free(&res);
			return 1;
		}
		wall = (double)(P.t1 - P.t0);
		printf("pollers=%d cores=%ld seed=%ld wall_ms=%.2f share=%.3f run_preemptions=%.0f polls_per_ms=%.1f\n",
		       P.pollers, cores, seed, wall / 1e6, (double)P.work_ns / wall,
		       hs_result_get(&res, "preemptions", -1), (double)(P.p1 - P.p0) * 1e6 / wall);
		hs_result_free(&res);
	}
	return 0;
}
