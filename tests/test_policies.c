/*
 * Tests of the shipped policies on the sim backend: each conserves M's and
 * completes every callback over a grid of seeds, thread counts and OS
 * profiles; bind creates at most one M per thread and skips the signal
 * system calls on repeat calls; handoff never calls usleep; watermark
 * ends with at least K spare M's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "config.h"
#include "registry.h"

/* Runs `policy` on scenario with the overrides; fills *res. */
static void run_policy(const char *policy, const char *scenario, const char *os, uint64_t seed,
		       const char *const *sets, struct hs_run_result *res)
{
	struct hs_override ov[8];
	struct hs_config cfg;
	struct hs_scenario sc;
	struct hs_error err = { 0 };
	struct hs_run_request req = { 0 };
	const struct hs_policy *p = hs_policy_find(policy);
	int n = 0;

	assert_non_null(p);
	for (; sets && sets[n]; n++)
		assert_int_equal(hs_override_parse(&ov[n], sets[n], &err), 0);
	assert_int_equal(hs_config_load(&cfg, scenario, ov, n, os, &err), 0);
	hs_scenario_for_policy(&cfg.scenario, p, &sc);
	cfg.scenario = sc;
	assert_int_equal(hs_policy_params(p, &cfg.scenario, req.policy_params, &err), 0);
	req.cfg = &cfg;
	req.policy = p;
	req.seed = seed;
	hs_result_init(res);
	assert_int_equal(hs_backend_sim.run(&req, res, &err), 0);
}

static void test_policies_conserve_ms(void **state)
{
	static const char *const threads[] = { "workload.threads=1", "workload.threads=7",
					       "workload.threads=64" };

	for (int p = 0; hs_policies[p]; p++)
		for (int t = 0; t < 3; t++)
			for (uint64_t seed = 1; seed <= 3; seed++) {
				const char *os = seed == 2 ? "freebsd" : "linux";
				const char *sets[] = { threads[t], NULL };
				struct hs_run_result res;
				int nthreads = t == 0 ? 1 : t == 1 ? 7 : 64;

				run_policy(hs_policies[p]->name, "cgocallbackgc", os, seed, sets, &res);
				if (res.status != HS_STATUS_OK)
					fail_msg("%s, %d threads, seed %llu: %s", hs_policies[p]->name, nthreads,
						 (unsigned long long)seed, res.error);
				assert_int_equal((int)hs_result_get(&res, "callbacks", -1), nthreads);
				/* every M is back on the list at the end */
				assert_int_equal((int)hs_result_get(&res, "m_spare_end", -1),
						 (int)hs_result_get(&res, "m_created", -2));
				hs_result_free(&res);
			}
}

static void test_bind_one_m_per_thread(void **state)
{
	const char *sets[] = { "workload.threads=20", "workload.callbacks=10", "workload.arrival=periodic",
			       "workload.interval=1us", NULL };
	struct hs_run_result res;

	run_policy("bind", "cgocallbackgc", "linux", 1, sets, &res);
	assert_int_equal(res.status, HS_STATUS_OK);
	assert_int_equal((int)hs_result_get(&res, "callbacks", -1), 200);
	/* at most one M per thread, plus the one made at start */
	assert_true(hs_result_get(&res, "m_created", 1e9) <= 21);
	hs_result_free(&res);
}

static void test_bind_skips_signals(void **state)
{
	/* One thread, 1000 trivial callbacks; the signal set-up costs
	 * needm_syscalls + dropm_syscalls signal system calls per unbound call.
	 * With bind only the first needm and the exit's dropm pay them, so
	 * the makespan drops by at least (calls - 1) * that cost. */
	const char *sets[] = { "workload.callbacks=1000", NULL };
	struct hs_run_result wr, br;
	struct hs_config cfg;
	struct hs_error err = { 0 };
	double per_call_sig;

	assert_int_equal(hs_config_load(&cfg, "cthread-loop", NULL, 0, "linux", &err), 0);
	per_call_sig = (double)(cfg.runtime.needm_syscalls + cfg.runtime.dropm_syscalls) *
		       (double)cfg.os.signal_syscall_ns;
	assert_true(per_call_sig > 0);
	run_policy("waiters", "cthread-loop", "linux", 1, sets, &wr);
	run_policy("bind", "cthread-loop", "linux", 1, sets, &br);
	assert_int_equal(wr.status, HS_STATUS_OK);
	assert_int_equal(br.status, HS_STATUS_OK);
	assert_true(hs_result_get(&wr, "makespan_ns", 0) - hs_result_get(&br, "makespan_ns", 0) >=
		    999 * per_call_sig);
	/* the start M, and the one the first call makes after emptying the list */
	assert_int_equal((int)hs_result_get(&br, "m_created", -1), 2);
	hs_result_free(&wr);
	hs_result_free(&br);
}

/* The total lock acquisitions of a run, over all its locks. */
static uint64_t lock_acquisitions(const struct hs_run_result *res)
{
	uint64_t n = 0;

	for (size_t i = 0; i < res->locks.len; i++)
		n += res->locks.data[i].acquisitions;
	return n;
}

/*
 * With clock_read c the sim charges c for each read of its clock that the
 * native backend makes.  A callback reads it twice (arrival and return), a
 * lock acquisition three times (the lock statistics).  A spin (a work
 * step, a step of an M's allocation) reads once to start and then rounds
 * up to whole reads.  At 30 ns a read, the 100 ns work step costs
 * 30 + 4 x 30 = 150 ns, 50 more; an M's allocm (3 us), sched_lock_hold
 * (200 ns), malg (1 us) and allgadd (100 ns) cost 30, 40, 50 and 50 more.
 * One thread alone on four cores adds them up exactly.  The policy's init,
 * before the makespan starts, makes the first M (four spins, sched.lock
 * and allglock) and lists it (the extra-M lock): three acquisitions and
 * four spins that the makespan does not see.
 */
static void test_clock_reads_charged(void **state)
{
	const char *plain[] = { "workload.callbacks=1000", NULL };
	const char *timed[] = { "workload.callbacks=1000", "os.clock_read=30ns", NULL };
	struct hs_run_result a, b;
	int64_t ms, reads, spun;

	run_policy("single", "cthread-loop", "linux", 1, plain, &a);
	run_policy("single", "cthread-loop", "linux", 1, timed, &b);
	assert_int_equal(a.status, HS_STATUS_OK);
	assert_int_equal(b.status, HS_STATUS_OK);
	assert_int_equal(lock_acquisitions(&a), lock_acquisitions(&b));
	assert_true(lock_acquisitions(&b) >= 1000);
	ms = (int64_t)hs_result_get(&b, "m_created", -1);
	assert_int_equal(ms, (int64_t)hs_result_get(&a, "m_created", -2));
	reads = 2 * 1000 + 3 * ((int64_t)lock_acquisitions(&b) - 3);
	spun = 50 * 1000 + (30 + 40 + 50 + 50) * (ms - 1);
	assert_int_equal((int64_t)hs_result_get(&b, "makespan_ns", 0) -
				 (int64_t)hs_result_get(&a, "makespan_ns", 0),
			 30 * reads + spun);
	hs_result_free(&a);
	hs_result_free(&b);
}

static void test_handoff_never_sleeps(void **state)
{
	static const char *const oses[] = { "linux", "freebsd", "darwin", "windows" };

	for (int o = 0; o < 4; o++) {
		const char *sets[] = { "workload.threads=200", NULL };
		struct hs_run_result res;

		run_policy("handoff", "cgocallbackgc", oses[o], 1, sets, &res);
		assert_int_equal(res.status, HS_STATUS_OK);
		assert_int_equal((int)hs_result_get(&res, "usleep_calls", -1), 0);
		/* the burst did make threads park */
		assert_true(hs_result_get(&res, "futex_waits", 0) > 0);
		hs_result_free(&res);
	}
}

static void test_watermark_keeps_spares(void **state)
{
	static const char *const spares[] = { "policy.spare=1", "policy.spare=4", "policy.spare=16" };
	static const int k[] = { 1, 4, 16 };

	for (int i = 0; i < 3; i++) {
		const char *sets[] = { spares[i], "workload.threads=50", NULL };
		struct hs_run_result res;

		run_policy("watermark", "cgocallbackgc", "linux", 1, sets, &res);
		assert_int_equal(res.status, HS_STATUS_OK);
		assert_true(hs_result_get(&res, "m_spare_end", 0) >= k[i]);
		/* refills never go beyond K spare: created <= K + 50 threads */
		assert_true(hs_result_get(&res, "m_created", 1e9) <= k[i] + 50);
		hs_result_free(&res);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies_conserve_ms),
		cmocka_unit_test(test_bind_one_m_per_thread),
		cmocka_unit_test(test_bind_skips_signals),
		cmocka_unit_test(test_clock_reads_charged),
		cmocka_unit_test(test_handoff_never_sleeps),
		cmocka_unit_test(test_watermark_keeps_spares),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
