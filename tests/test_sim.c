/*
 * The sim backend end to end: conservation of M's for Go's two historical
 * policies (single and waiters) over many seeds and sizes, deadlock and timeout detection,
 * the completeness of the event record, and determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"
#include "config.h"
#include "helpers.h"
#include "registry.h"
#include "result.h"
#include "workload.h"

/* Go's two historical policies; `check-policy` covers every shipped one. */
static const char *const go_policies[] = { "single", "waiters", NULL };

static void load(struct hs_config *cfg, const char *scenario, const char *os)
{
	struct hs_error err = { 0 };

	assert_int_equal(hs_config_load(cfg, scenario, NULL, 0, os, &err), 0);
}

static void run(const struct hs_config *cfg, const struct hs_policy *p, uint64_t seed,
		enum hs_record_level level, struct hs_run_result *res)
{
	struct hs_run_request req = { 0 };
	struct hs_error err = { 0 };

	req.cfg = cfg;
	req.policy = p;
	req.seed = seed;
	req.record = level;
	hs_result_init(res);
	assert_int_equal(hs_backend_sim.run(&req, res, &err), 0);
}

/* Every M created is spare at the end, every callback completes, and no
 * M was held by two threads (the backend fails the run otherwise). */
static void check_conservation(const struct hs_run_result *res, int threads, int callbacks)
{
	if (res->status != HS_STATUS_OK)
		print_error("run failed: %s: %s\n", hs_status_name(res->status), res->error);
	assert_int_equal(res->status, HS_STATUS_OK);
	assert_int_equal(hs_result_get(res, "m_created", -1), hs_result_get(res, "m_spare_end", -2));
	assert_int_equal(hs_result_get(res, "callbacks", -1), threads * callbacks);
	assert_true(hs_result_get(res, "m_created", 0) >= 1);
	/* Each callback adds at most one M as a counted waiter and one as
	 * the thread that emptied the list.  waiters can create more M's
	 * than threads: a thread counted as a waiter may take an M that
	 * another thread's dropm returned before the refill. */
	assert_true(hs_result_get(res, "m_created", 0) <= 2 * threads * callbacks + 1);
}

static void policies_conserve_ms(void **state)
{
	static const int threads[] = { 1, 2, 7, 50, 200 };
	static const int cores[] = { 1, 2, 16 };
	static const char *const oses[] = { "linux", "freebsd", "darwin", "windows" };
	int runs = 0;

	for (int p = 0; go_policies[p]; p++) {
		for (int o = 0; o < 4; o++) {
			struct hs_config cfg;

			load(&cfg, "cgocallbackgc", oses[o]);
			/* NOTE: on the windows profile a sleep of 1 us is a poll, so a
			 * burst of 200 threads spins for seconds of simulated time.
			 * The grid stops at 50 threads there to keep the test short. */
			for (int t = 0; t < (o == 3 ? 4 : 5); t++) {
				for (int c = 0; c < 3; c++) {
					for (uint64_t seed = 1; seed <= 2; seed++) {
						struct hs_run_result res;

						cfg.scenario.threads = threads[t];
						cfg.scenario.cores = cores[c];
						run(&cfg, hs_policy_find(go_policies[p]), seed * 7919 + (uint64_t)t, HS_RECORD_SUMMARY, &res);
						check_conservation(&res, threads[t], 1);
						hs_result_free(&res);
						runs++;
					}
				}
			}
		}
	}
	assert_true(runs >= 2 * (3 * 5 + 4) * 3 * 2);
}

static void policies_conserve_over_repeated_callbacks(void **state)
{
	for (int p = 0; go_policies[p]; p++) {
		struct hs_config cfg;

		load(&cfg, "milter", "linux");
		cfg.scenario.threads = 40;
		cfg.scenario.callbacks = 5;
		for (uint64_t seed = 1; seed <= 10; seed++) {
			struct hs_run_result res;

			run(&cfg, hs_policy_find(go_policies[p]), seed, HS_RECORD_SUMMARY, &res);
			check_conservation(&res, 40, 5);
			hs_result_free(&res);
		}
	}
}

/* single refills one M at a time; waiters makes one per counted waiter.
 * With one core, no GC and a burst, single creates exactly one M per
 * thread that found the list empty and never more than one per refill. */
static void single_refills_one_at_a_time(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	const struct hs_policy *single = hs_policy_find("single");

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 20;
	cfg.scenario.nsteps = 0;
	run(&cfg, single, 1, HS_RECORD_EVENTS, &res);
	check_conservation(&res, 20, 1);
	assert_true(hs_result_get(&res, "m_created", 0) <= 20 + 1);
	for (size_t i = 0; i < res.ms.len; i++) {
		if (i == 0)
			assert_string_equal(res.ms.data[i].reason, "start");
		else
			assert_string_equal(res.ms.data[i].reason, "needextram");
	}
	hs_result_free(&res);
}

/* runtime.GC() callers outnumber the P: each wakes only with a P handed
 * to it, as a goroutine locked to its M runs only when the M gets a P. */
static void gc_callers_wake_with_a_p(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 12;
	cfg.runtime.gomaxprocs = 1;
	cfg.runtime.gc_sweep_ns = 0; /* no safe point that may wait for a P */
	cfg.scenario.steps[0] = (struct hs_step){ HS_STEP_GC, 0 };
	cfg.scenario.nsteps = 1;
	run(&cfg, hs_policy_find("bind"), 1, HS_RECORD_EVENTS, &res);
	check_conservation(&res, 12, 1);
	assert_true(hs_result_get(&res, "gc_cycles", 0) >= 1);
	assert_int_equal(p_waits_after_gc_wait(&res), 0);
	hs_result_free(&res);
}

static void waiters_counts_sleepers(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int waiter_ms = 0;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 50;
	run(&cfg, hs_policy_find("waiters"), 1, HS_RECORD_SUMMARY, &res);
	check_conservation(&res, 50, 1);
	for (size_t i = 0; i < res.ms.len; i++)
		if (strcmp(res.ms.data[i].reason, "waiter") == 0)
			waiter_ms++;
	assert_true(waiter_ms > 0); /* refills came from the waiter count */
	hs_result_free(&res);
}

/* The extra-M lock's hold time runs from the CAS that locks the list to
 * the store that unlocks it, so it is never 0 once the lock was taken. */
static void extram_hold_includes_store(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	const struct hs_lock_stat *l = NULL;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 20;
	run(&cfg, hs_policy_find("waiters"), 1, HS_RECORD_SUMMARY, &res);
	check_conservation(&res, 20, 1);
	for (size_t i = 0; i < res.locks.len; i++)
		if (strcmp(res.locks.data[i].name, "extram") == 0)
			l = &res.locks.data[i];
	assert_non_null(l);
	assert_true(l->acquisitions >= 40); /* a pop and a push per callback */
	assert_true(l->hold_min_ns >= cfg.os.atomic_local_ns);
	assert_true(l->hold_total_ns >= (int64_t)l->acquisitions * cfg.os.atomic_local_ns);
	hs_result_free(&res);
}

/* A policy that parks on a futex that no thread wakes deadlocks the run. */
static hs_m *stuck_acquire(hs_env *env, void *state)
{
	hs_word *w = state;

	env->ops->futex_wait(env, w, 0, -1);
	return NULL;
}

static void stuck_release(hs_env *env, void *state, hs_m *m)
{
}

static int stuck_init(hs_env *env, void *state, const int64_t *params)
{
	return 0;
}

static const struct hs_policy stuck = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "stuck",
	.state_size = sizeof(hs_word),
	.init = stuck_init,
	.acquire = stuck_acquire,
	.release = stuck_release,
};

static void deadlock_is_detected(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 3;
	run(&cfg, &stuck, 1, HS_RECORD_SUMMARY, &res);
	assert_int_equal(res.status, HS_STATUS_DEADLOCK);
	assert_non_null(strstr(res.error, "3 of 3 foreign threads alive"));
	hs_result_free(&res);
}

/* A policy that polls forever: the simulated-time limit ends the run. */
static hs_m *polling_acquire(hs_env *env, void *state)
{
	for (int i = 0; i < 1000000000; i++)
		env->ops->sleep(env, 1000);
	return NULL;
}

static const struct hs_policy polling = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "polling",
	.state_size = 8,
	.init = stuck_init,
	.acquire = polling_acquire,
	.release = stuck_release,
};

static void time_limit_gives_timeout(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 2;
	cfg.scenario.time_limit_ns = 5000000;
	run(&cfg, &polling, 1, HS_RECORD_SUMMARY, &res);
	assert_int_equal(res.status, HS_STATUS_TIMEOUT);
	assert_true(res.end_ns <= 5000000);
	hs_result_free(&res);

	cfg.scenario.time_limit_ns = 60000000000LL;
	cfg.scenario.event_limit = 1000;
	run(&cfg, &polling, 1, HS_RECORD_SUMMARY, &res);
	assert_int_equal(res.status, HS_STATUS_TIMEOUT);
	assert_true(res.events <= 1000);
	hs_result_free(&res);
}

/* With events recorded, each thread's intervals tile its life. */
static void states_cover_each_life(void **state)
{
	for (int p = 0; go_policies[p]; p++) {
		struct hs_config cfg;
		struct hs_run_result res;
		size_t wakes_seen = 0;

		load(&cfg, "cgocallbackgc", "freebsd");
		cfg.scenario.threads = 30;
		run(&cfg, hs_policy_find(go_policies[p]), 3, HS_RECORD_EVENTS, &res);
		check_conservation(&res, 30, 1);
		for (size_t t = 0; t < res.threads.len; t++) {
			const struct hs_thread_rec *th = &res.threads.data[t];
			int64_t cursor = th->created_ns;
			int64_t end = th->exited_ns >= 0 ? th->exited_ns : res.end_ns;

			for (size_t i = 0; i < res.states.len; i++) {
				const struct hs_state_rec *s = &res.states.data[i];

				if (s->thread != th->id)
					continue;
				assert_int_equal(s->start_ns, cursor); /* no gap, no overlap */
				assert_true(s->end_ns > s->start_ns);
				cursor = s->end_ns;
				if (s->state == HS_TS_RUNNABLE && s->reason == HS_R_WAKE)
					wakes_seen++;
			}
			if (th->kind == HS_THREAD_FOREIGN)
				assert_true(th->exited_ns > th->created_ns);
			/* a daemon never woken has no interval before the end */
			assert_true(cursor == end || (th->kind == HS_THREAD_RUNTIME && cursor == th->created_ns));
		}
		/* every wake-up produced one runnable interval and one wake row */
		assert_int_equal(wakes_seen, res.wakes.len);
		for (size_t i = 0; i < res.wakes.len; i++)
			assert_true(res.wakes.data[i].latency_ns > 0);
		assert_int_equal(res.callbacks.len, 30);
		hs_result_free(&res);
	}
}

/*
 * With phase_cpu the run records each phase's CPU time.  One thread alone
 * on two cores never waits for a core.  So its think time (CPU, 30 us
 * before each callback after the first) is exactly the requested time,
 * and its Go code takes at least its 100 us steps.  The phases are part
 * of all the CPU time of the run.  Without the request there are no such rows.
 */
static void phase_cpu_adds_up(void **state)
{
	struct hs_run_request req = { 0 };
	struct hs_error err = { 0 };
	struct hs_run_result res;
	struct hs_config cfg;
	double sum = 0;

	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 1;
	cfg.scenario.cores = 2;
	cfg.scenario.callbacks = 4;
	cfg.scenario.think_ns = 30000;
	cfg.scenario.think_kind = HS_THINK_CPU;
	cfg.scenario.steps[0] = (struct hs_step){ HS_STEP_WORK, 100000 };
	cfg.scenario.nsteps = 1;
	req.cfg = &cfg;
	req.policy = hs_policy_find("single");
	req.seed = 1;
	req.record = HS_RECORD_SUMMARY;
	req.phase_cpu = true;
	hs_result_init(&res);
	assert_int_equal(hs_backend_sim.run(&req, &res, &err), 0);
	assert_int_equal(res.status, HS_STATUS_OK);

	assert_int_equal(hs_result_get(&res, "cpu_think_ns", -1), 3 * 30000);
	assert_true(hs_result_get(&res, "cpu_go_ns", -1) >= 4 * 100000);
	for (int i = 0; i < HS_NPHASES; i++) {
		double v = hs_result_get(&res, hs_phase_scalar[i], -1);

		assert_true(v >= 0);
		sum += v;
	}
	assert_true(hs_result_get(&res, "cpu_needm_ns", -1) > 0); /* signal calls */
	assert_true(hs_result_get(&res, "cpu_exit_ns", -1) > 0);
	assert_true(sum <= hs_result_get(&res, "cpu_ns", -1));
	hs_result_free(&res);

	req.phase_cpu = false;
	hs_result_init(&res);
	assert_int_equal(hs_backend_sim.run(&req, &res, &err), 0);
	assert_int_equal(hs_result_get(&res, "cpu_go_ns", -1), -1);
	hs_result_free(&res);
}

/* Checks that two runs recorded the same events, thread states and
 * wake-ups. */
static void assert_same_schedule(const struct hs_run_result *a, const struct hs_run_result *b)
{
	assert_int_equal(a->events, b->events);
	assert_int_equal(a->states.len, b->states.len);
	assert_memory_equal(a->states.data, b->states.data, a->states.len * sizeof(*a->states.data));
	assert_int_equal(a->wakes.len, b->wakes.len);
	assert_memory_equal(a->wakes.data, b->wakes.data, a->wakes.len * sizeof(*a->wakes.data));
}

/* On the linux profile the newly idle die is thrown: the same seed gives
 * the same schedule, and the die changes it against newidle = always. */
static void newidle_die_is_deterministic(void **state)
{
	struct hs_config cfg;
	struct hs_run_result a, b;

	(void)state;
	load(&cfg, "milter", "linux");
	assert_int_equal(cfg.os.newidle, HS_NEWIDLE_PROPORTIONAL);
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_EVENTS, &a);
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_EVENTS, &b);
	assert_same_schedule(&a, &b);
	hs_result_free(&b);

	cfg.os.newidle = HS_NEWIDLE_ALWAYS;
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_EVENTS, &b);
	assert_true(a.events != b.events ||
		    hs_result_get(&a, "makespan_ns", 0) != hs_result_get(&b, "makespan_ns", 0));
	hs_result_free(&a);
	hs_result_free(&b);
}

static void same_seed_same_result(void **state)
{
	struct hs_config cfg;
	struct hs_run_result a, b;

	load(&cfg, "cgocallbackgc", "freebsd");
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_EVENTS, &a);
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_EVENTS, &b);
	assert_same_schedule(&a, &b);
	assert_int_equal(a.scalars.len, b.scalars.len);
	for (size_t i = 0; i < a.scalars.len; i++)
		assert_true(a.scalars.data[i].value == b.scalars.data[i].value);
	hs_result_free(&a);
	hs_result_free(&b);

	/* a different seed changes the timer jitter, hence the schedule */
	run(&cfg, hs_policy_find("waiters"), 11, HS_RECORD_SUMMARY, &a);
	run(&cfg, hs_policy_find("waiters"), 12, HS_RECORD_SUMMARY, &b);
	assert_true(hs_result_get(&a, "makespan_ns", 0) != hs_result_get(&b, "makespan_ns", 0));
	hs_result_free(&a);
	hs_result_free(&b);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Gaps between the creations of consecutive foreign threads, in ns,
 * into gaps (at most cap); returns how many.  With a core for every
 * thread the creator is never preempted, so each gap is one
 * thread_create.
 */
static int creation_gaps(const struct hs_run_result *res, int64_t *gaps, int cap)
{
	int64_t prev = -1;
	int n = 0;

	for (size_t t = 0; t < res->threads.len; t++) {
		const struct hs_thread_rec *th = &res->threads.data[t];

		if (th->kind != HS_THREAD_FOREIGN)
			continue;
		if (prev >= 0 && n < cap)
			gaps[n++] = th->created_ns - prev;
		prev = th->created_ns;
	}
	return n;
}

/* A cost with a spread is drawn per call: the creations of 60 threads in
 * 8 runs show thread_create's percentiles, the same seed gives the same
 * draws, and without the spread every call costs the value. */
static void spread_draws_each_call(void **state)
{
	enum { THREADS = 60, SEEDS = 8, GAPS = SEEDS * (THREADS - 1) };
	static int64_t gaps[GAPS], again[THREADS];
	struct hs_config cfg;
	struct hs_run_result res;
	double sum = 0;
	int n = 0;

	(void)state;
	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = THREADS;
	cfg.scenario.cores = 64;
	cfg.runtime.gomaxprocs = 4;
	cfg.os.thread_create_ns = 10000;
	/* no time under the address-space lock, whose waits would lengthen
	 * the creator's gaps */
	cfg.os.mmap_ns = 0;
	cfg.os.mmap_fault_ns = 0;
	run(&cfg, hs_policy_find("waiters"), 5, HS_RECORD_EVENTS, &res);
	check_conservation(&res, THREADS, 1);
	n = creation_gaps(&res, gaps, THREADS);
	assert_int_equal(n, THREADS - 1);
	assert_int_equal(gaps[0], 10000);
	assert_int_equal(gaps[n - 1], 10000);
	hs_result_free(&res);

	cfg.os.spread[HS_COST_THREAD_CREATE] = (struct hs_spread){ 0.8, 1.5, 3.0 };
	n = 0;
	for (int seed = 5; seed < 5 + SEEDS; seed++) {
		run(&cfg, hs_policy_find("waiters"), (uint64_t)seed, HS_RECORD_EVENTS, &res);
		check_conservation(&res, THREADS, 1);
		n += creation_gaps(&res, gaps + n, GAPS - n);
		hs_result_free(&res);
	}
	assert_int_equal(n, GAPS);
	qsort(gaps, (size_t)n, sizeof(gaps[0]), cmp_i64);
	for (int i = 0; i < n; i++)
		sum += (double)gaps[i];
	/* The lowest tenth costs p10, and no call costs more than p99. */
	assert_int_equal(gaps[0], 8000);
	assert_int_equal(gaps[n / 20], 8000);
	assert_true(gaps[n - 1] <= 30000);
	/* a quantile over 472 draws is within a few percent where the
	 * distribution is not steep: the median is 1, the 80th percentile
	 * 1 + 0.3 / 0.4 * (1.5 - 1) = 1.375 */
	assert_in_range(gaps[n / 2], 9500, 10500);
	assert_in_range(gaps[n * 8 / 10], 13000, 14500);
	assert_in_range((int64_t)(sum / n), 11200, 12300); /* mean 1.1725 * 10 us */

	run(&cfg, hs_policy_find("waiters"), 5, HS_RECORD_EVENTS, &res);
	n = creation_gaps(&res, gaps, THREADS);
	hs_result_free(&res);
	run(&cfg, hs_policy_find("waiters"), 5, HS_RECORD_EVENTS, &res);
	assert_int_equal(creation_gaps(&res, again, THREADS), n);
	assert_memory_equal(gaps, again, sizeof(gaps[0]) * (size_t)n);
	hs_result_free(&res);
	run(&cfg, hs_policy_find("waiters"), 6, HS_RECORD_EVENTS, &res);
	assert_int_equal(creation_gaps(&res, again, THREADS), n);
	assert_memory_not_equal(gaps, again, sizeof(gaps[0]) * (size_t)n);
	hs_result_free(&res);
}

/* An M's creation maps two stacks, the 32 KiB signal stack and the
 * 4 KiB goroutine stack, at one `mmap` each: 10 us more per mmap makes
 * the runtime's first M ready exactly 20 us later. */
static void new_m_maps_two_stacks(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t ready[2];

	(void)state;
	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 1;
	cfg.scenario.cores = 1;
	for (int i = 0; i < 2; i++) {
		cfg.os.mmap_ns = i * 10000;
		run(&cfg, hs_policy_find("single"), 1, HS_RECORD_EVENTS, &res);
		check_conservation(&res, 1, 1);
		assert_true(res.ms.len >= 1);
		assert_string_equal(res.ms.data[0].reason, "start");
		ready[i] = res.ms.data[0].created_ns;
		hs_result_free(&res);
	}
	assert_int_equal(ready[1] - ready[0], 20000);
}

/* A new thread pays thread_start before its first step: with one thread
 * the whole run is one chain, so the makespan grows by exactly that. */
static void thread_start_delays_new_thread(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t before;

	(void)state;
	load(&cfg, "cgocallbackgc", "linux");
	cfg.scenario.threads = 1;
	run(&cfg, hs_policy_find("single"), 3, HS_RECORD_SUMMARY, &res);
	check_conservation(&res, 1, 1);
	before = hs_result_get(&res, "makespan_ns", -1);
	hs_result_free(&res);

	cfg.os.thread_start_ns = 50000;
	run(&cfg, hs_policy_find("single"), 3, HS_RECORD_SUMMARY, &res);
	check_conservation(&res, 1, 1);
	assert_int_equal(hs_result_get(&res, "makespan_ns", -1), before + 50000);
	hs_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policies_conserve_ms),
		cmocka_unit_test(policies_conserve_over_repeated_callbacks),
		cmocka_unit_test(single_refills_one_at_a_time),
		cmocka_unit_test(gc_callers_wake_with_a_p),
		cmocka_unit_test(waiters_counts_sleepers),
		cmocka_unit_test(extram_hold_includes_store),
		cmocka_unit_test(deadlock_is_detected),
		cmocka_unit_test(time_limit_gives_timeout),
		cmocka_unit_test(states_cover_each_life),
		cmocka_unit_test(phase_cpu_adds_up),
		cmocka_unit_test(same_seed_same_result),
		cmocka_unit_test(newidle_die_is_deterministic),
		cmocka_unit_test(spread_draws_each_call),
		cmocka_unit_test(new_m_maps_two_stacks),
		cmocka_unit_test(thread_start_delays_new_thread),
	};

	return cmocka_run_group_tests_name("sim backend", tests, NULL, NULL);
}
