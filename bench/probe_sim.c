/*
 * The spinner or the sleeper among pollers, in the simulator (see
 * probe_native.c).
 *
 * usage: probe_sim [--sleeper | --ring] PROFILE POLLERS WORK_MS [CORES [SEEDS]]
 *
 * POLLERS simulated threads loop on usleep(1) on CORES cores (default 1)
 * of the OS profile PROFILE (a shipped name or a file, such as one that
 * `herdsim calibrate` wrote).  As in probe_native, the pollers sleep 1 ms
 * at a time for the first 20 ms, then loop on usleep(1).  5 ms later one
 * more thread, the measured one, starts.  The spinner computes WORK_MS in
 * 10 us bursts.  The sleeper, for WORK_MS of simulated time, computes
 * 20 us and sleeps 500 us in turn.  The ring (--ring) is two more
 * threads that pass a token for WORK_MS: each computes 20 us, wakes the
 * other through a futex word and waits on its own.
 * Printed per seed (default 1), as probe_native prints them.  For the
 * spinner: the wall time of that work, its share of a CPU, its work
 * share (WORK_MS over the wall time), its own preemptions and the
 * pollers' cycles per ms, all in the window.  For the sleeper: its
 * cycles, its CPU time per cycle, how late its sleeps ended (mean,
 * median, 90th percentile) and the pollers' cycles per ms.  For the ring:
 * its hand-offs, the time from each wake call to the woken thread's
 * return from its wait (mean, median, 90th percentile) and the pollers'
 * cycles per ms.  A
 * thread's CPU time is the model's own count over the window: its time
 * on a core, its switch-ins and the interrupts charged to it, as
 * CLOCK_THREAD_CPUTIME_ID counts it on a kernel without
 * IRQ_TIME_ACCOUNTING.  The threads run inside the acquire hook of a
 * policy.  Each gets its M only after the work is done, outside the
 * window, so M creation is not measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "policy.h"
#include "probe_args.h"
#include "result.h"
#include "sim_internal.h"

#define STEP_NS 10000
#define SLEEPER_WORK_NS 20000
#define SLEEPER_SLEEP_NS 500000
#define RING_WORK_NS 20000
#define MAX_CYCLES 1000000
#define START_NS 20000000 /* the pollers start polling */
#define SETTLE_NS 5000000 /* the work starts after that */
#define MAX_POLLERS 999999 /* workload.threads is at most 1000000 */
#define MAX_SEEDS 1000000

static struct {
	int arrivals, pollers;
	bool sleeper, ring;
	int64_t work_ns, t0, t1;
	int64_t cpu0, cpu1; /* the measured thread's CPU time at t0 and t1 */
	int64_t pre0, pre1; /* its preemptions at t0 and t1 */
	long polls, p0, p1;
	hs_word go, done;
	int64_t *late;  /* per sleeper cycle: sleep wall time minus the request;
			 * per ring hand-off: wake call to the woken thread's run */
	long cycles;
	hs_word token[2]; /* 1 while ring thread i may run */
	int64_t woken_at;  /* the last wake call's time */
	bool stop;
	int ring_done;     /* ring threads that have stopped */
} P;

/* Runs ring thread i: waits for its token, computes RING_WORK_NS and
 * passes the token on, until P.work_ns after P.t0. */
static void ring_loop(hs_env *env, int i)
{
	const struct hs_env_ops *o = env->ops;

	for (;;) {
		while (o->load(env, &P.token[i]) == 0)
			o->futex_wait(env, &P.token[i], 0, -1);
		if (P.stop)
			return;
		o->store(env, &P.token[i], 0);
		if (P.cycles > 0 && P.cycles <= MAX_CYCLES)
			P.late[P.cycles - 1] = o->now(env) - P.woken_at;
		o->work(env, RING_WORK_NS);
		if (o->now(env) - P.t0 >= P.work_ns || P.cycles >= MAX_CYCLES) {
			P.stop = true;
			o->store(env, &P.token[1 - i], 1);
			o->futex_wake(env, &P.token[1 - i], 1);
			return;
		}
		P.cycles++;
		P.woken_at = o->now(env);
		o->store(env, &P.token[1 - i], 1);
		o->futex_wake(env, &P.token[1 - i], 1);
	}
}

/* The sleeper's loop: SLEEPER_WORK_NS of CPU, then a SLEEPER_SLEEP_NS
 * sleep, for P.work_ns of simulated time. */
static void sleeper_loop(hs_env *env)
{
	const struct hs_env_ops *o = env->ops;

	while (o->now(env) - P.t0 < P.work_ns && P.cycles < MAX_CYCLES) {
		int64_t before;

		o->work(env, SLEEPER_WORK_NS);
		before = o->now(env);
		o->sleep(env, SLEEPER_SLEEP_NS);
		P.late[P.cycles++] = o->now(env) - before - SLEEPER_SLEEP_NS;
	}
}

/* The calling simulated thread's CPU time up to now, as its thread CPU
 * clock would read: the count kept up to its last burst's end, plus its
 * time on the core since then. */
static int64_t thread_cpu_now(hs_env *env)
{
	const struct sim_thread *t = sim_thread_of(env);
	const struct sim_core *core = &t->sim->cores[t->core];
	int64_t cpu = t->cpu_ns;

	if (core->current == t && core->busy_from >= 0 && t->sim->now > core->busy_from)
		cpu += t->sim->now - core->busy_from;
	return cpu;
}

/* Starts the pollers at START_NS, then opens the measured window
 * SETTLE_NS later. */
static void open_window(hs_env *env)
{
	const struct hs_env_ops *o = env->ops;

	o->sleep(env, START_NS);
	o->store(env, &P.go, 1);
	o->sleep(env, SETTLE_NS);
	P.t0 = o->now(env);
	P.p0 = P.polls;
}

static hs_m *probe_acquire(hs_env *env, void *state)
{
	const struct hs_env_ops *o = env->ops;
	int arrival = P.arrivals++;

	if (P.ring && arrival >= P.pollers) {
		if (arrival == P.pollers) {
			open_window(env);
		} else {
			o->sleep(env, START_NS + SETTLE_NS);
		}
		ring_loop(env, arrival - P.pollers);
		if (++P.ring_done == 2) {
			P.t1 = o->now(env);
			P.p1 = P.polls;
			o->store(env, &P.done, 1);
		}
	} else if (arrival == P.pollers) {
		open_window(env);
		P.cpu0 = thread_cpu_now(env);
		P.pre0 = sim_thread_of(env)->preempted;
		o->gauge(env, "measured", 1); /* marks this thread in the record */
		if (P.sleeper)
			sleeper_loop(env);
		else
			for (int64_t w = 0; w < P.work_ns; w += STEP_NS)
				o->work(env, P.work_ns - w < STEP_NS ? P.work_ns - w : STEP_NS);
		P.t1 = o->now(env);
		P.cpu1 = thread_cpu_now(env);
		P.pre1 = sim_thread_of(env)->preempted;
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

/* One line of figures for the run just done with `seed`. */
static void print_run(long cores, long seed)
{
	double wall = (double)(P.t1 - P.t0);
	double polls = (double)(P.p1 - P.p0) * 1e6 / wall;
	double cpu = (double)(P.cpu1 - P.cpu0);

	struct delay_summary d;

	if (P.ring) {
		long n = P.cycles < MAX_CYCLES ? P.cycles : MAX_CYCLES;

		if (n == 0) {
			printf("pollers=%d cores=%ld seed=%ld mode=ring handoffs=0\n", P.pollers, cores, seed);
			return;
		}
		d = summarize_delays(P.late, n);
		printf("pollers=%d cores=%ld seed=%ld mode=ring handoffs=%ld delay_mean_us=%.1f "
		       "delay_p50_us=%.1f delay_p90_us=%.1f polls_per_ms=%.1f\n",
		       P.pollers, cores, seed, n, d.mean_us, d.p50_us, d.p90_us, polls);
		return;
	}
	if (!P.sleeper) {
		printf("pollers=%d cores=%ld seed=%ld wall_ms=%.2f share=%.3f work_share=%.3f "
		       "preemptions=%lld polls_per_ms=%.1f\n",
		       P.pollers, cores, seed, wall / 1e6, cpu / wall, (double)P.work_ns / wall,
		       (long long)(P.pre1 - P.pre0), polls);
		return;
	}
	if (P.cycles == 0) {
		printf("pollers=%d cores=%ld seed=%ld mode=sleeper cycles=0\n", P.pollers, cores, seed);
		return;
	}
	d = summarize_delays(P.late, P.cycles);
	printf("pollers=%d cores=%ld seed=%ld mode=sleeper cycles=%ld cpu_per_cycle_us=%.2f "
	       "late_mean_us=%.1f late_p50_us=%.1f late_p90_us=%.1f polls_per_ms=%.1f\n",
	       P.pollers, cores, seed, P.cycles, cpu / 1e3 / (double)P.cycles, d.mean_us, d.p50_us,
	       d.p90_us, polls);
}

int main(int argc, char **argv)
{
	struct hs_config cfg;
	struct hs_error err = { 0 };
	enum probe_mode mode;
	long pollers, cores = 1, seeds = 1;
	double work_ms;

	if (!parse_mode("probe_sim", &argc, &argv, &mode))
		return 2;
	P.sleeper = mode == PROBE_SLEEPER;
	P.ring = mode == PROBE_RING;
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: probe_sim [--sleeper | --ring] PROFILE POLLERS WORK_MS [CORES [SEEDS]]\n");
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
	if ((P.sleeper || P.ring) && !(P.late = malloc(MAX_CYCLES * sizeof(*P.late)))) {
		fprintf(stderr, "probe_sim: out of memory for %d records\n", MAX_CYCLES);
		return 1;
	}
	if (hs_config_load(&cfg, "cgocallbackgc", NULL, 0, argv[1], &err) != 0) {
		fprintf(stderr, "probe_sim: %s%s%s\n", err.file, err.file[0] ? ": " : "", err.msg);
		return 1;
	}
	cfg.scenario.threads = P.pollers + (P.ring ? 2 : 1);
	cfg.scenario.cores = (int)cores;
	cfg.scenario.nsteps = 0;
	for (long seed = 1; seed <= seeds; seed++) {
		struct hs_run_request req = { 0 };
		struct hs_run_result res;

		memset(&P.go, 0, sizeof(P.go));
		memset(&P.done, 0, sizeof(P.done));
		P.arrivals = 0;
		P.polls = 0;
		P.cycles = 0;
		memset(P.token, 0, sizeof(P.token));
		P.token[0].value = 1;
		P.stop = false;
		P.ring_done = 0;
		req.cfg = &cfg;
		req.policy = &probe_policy;
		req.seed = (uint64_t)seed;
		req.record = HS_RECORD_EVENTS;
		hs_result_init(&res);
		if (hs_backend_sim.run(&req, &res, &err) != 0 || res.status != HS_STATUS_OK) {
			fprintf(stderr, "probe_sim: the run failed: %s\n", err.msg[0] ? err.msg : res.error);
			hs_result_free(&res);
			return 1;
		}
		print_run(cores, seed);
		hs_result_free(&res);
	}
	free(P.late);
	return 0;
}
