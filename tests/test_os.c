/*
 * Timing semantics of the OS primitives on the sim backend.
 *
 * A scripted policy runs the primitive under test inside its acquire hook
 * and logs simulated timestamps.  Each test sets the profile's constants,
 * so the expected times follow from the model's rules by plain arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"
#include "config.h"
#include "policy.h"
#include "result.h"
#include "sim_internal.h"

/* The test in progress: which script each thread runs, and its log. */
enum script {
	S_SLEEP_1US,
	S_SLEEP_20MS,
	S_YIELD,
	S_YIELD_VS_WORKER,
	S_YIELD_LOOP_VS_WORKER,
	S_FUTEX_WAITER_WAKER,
	S_CAS_PINGPONG,
	S_SLEEP_VS_WORKER,
	S_TWO_SLEEPERS_VS_WORKER,
	S_SLEEPER_BESIDE_WORKER,
	S_SLEEPERS_NEAR,
	S_SLEEPERS_FAR,
	S_SPINNER_AMONG_POLLERS,
	S_CANCELLED_TIMER,
	S_WAKE_ON_OTHER_CORE,
	S_TIMED_WAIT_WOKEN_EARLY,
	S_TIMED_WAIT_CHANGED_EARLY,
	S_SLEEP_FOREVER,
};

static struct {
	enum script script;
	int arrivals;        /* acquire calls so far: the thread's role */
	int64_t t[8];        /* timestamps the script logs */
	hs_word word;
	int entered;         /* S_TIMED_WAIT_*: role 0 is in its wait */
	int rc[2];           /* return values the script logs */
} T;

static hs_m *script_acquire(hs_env *env, void *state)
{
	const struct hs_env_ops *o = env->ops;
	int role = T.arrivals++;

	switch (T.script) {
	case S_SLEEP_1US:
		T.t[0] = o->now(env);
		o->sleep(env, 1000);
		T.t[1] = o->now(env);
		break;
	case S_SLEEP_20MS:
		T.t[0] = o->now(env);
		o->sleep(env, 20000000);
		T.t[1] = o->now(env);
		break;
	case S_YIELD:
		T.t[0] = o->now(env);
		o->yield(env);
		T.t[1] = o->now(env);
		break;
	case S_YIELD_VS_WORKER:
		if (role == 0) {
			T.t[0] = o->now(env);
			o->yield(env);
			T.t[1] = o->now(env);
		} else {
			for (int i = 0; i < 100; i++)
				o->work(env, 100000); /* 10 ms in all */
			T.t[2] = o->now(env);
		}
		break;
	case S_YIELD_LOOP_VS_WORKER:
		/* role 0 yields until role 1 has computed 10 ms */
		if (role == 0) {
			while (o->load(env, &T.word) == 0)
				o->yield(env);
		} else {
			T.t[0] = o->now(env);
			for (int i = 0; i < 100; i++)
				o->work(env, 100000);
			T.t[1] = o->now(env);
			o->store(env, &T.word, 1);
		}
		break;
	case S_FUTEX_WAITER_WAKER:
		if (role == 0) {
			o->futex_wait(env, &T.word, 0, -1);
			T.t[1] = o->now(env);
		} else {
			o->work(env, 100000);
			o->store(env, &T.word, 1);
			o->futex_wake(env, &T.word, 1);
			T.t[0] = o->now(env);
			o->work(env, 50000);
			T.t[2] = o->now(env);
		}
		break;
	case S_SLEEP_VS_WORKER:
		if (role == 0) {
			o->sleep(env, 200000);
		} else {
			T.t[2] = o->now(env);
			o->work(env, 1000000); /* the sleeper's timer fires meanwhile */
			T.t[3] = o->now(env);
		}
		break;
	case S_SLEEPER_BESIDE_WORKER:
		/* role 0's timer fires while role 1 computes on the core */
		if (role == 0) {
			T.t[0] = o->now(env);
			o->sleep(env, 200000);
			T.t[1] = o->now(env);
		} else {
			T.t[2] = o->now(env);
			o->work(env, 1000000);
			T.t[3] = o->now(env);
		}
		break;
	case S_TWO_SLEEPERS_VS_WORKER:
		/* both timers end in one interrupt: the second's window opens
		 * before the first's hard expiry */
		if (role < 2) {
			o->sleep(env, 200000);
		} else {
			T.t[2] = o->now(env);
			o->work(env, 1000000);
			T.t[3] = o->now(env);
		}
		break;
	case S_SLEEPERS_NEAR:
	case S_SLEEPERS_FAR:
		/* the second sleeper arms its timer 20 us of work after the first */
		if (role == 1)
			o->work(env, 20000);
		T.t[2 * role] = o->now(env);
		o->sleep(env, role == 1 && T.script == S_SLEEPERS_FAR ? 30000 : 1000);
		T.t[2 * role + 1] = o->now(env);
		break;
	case S_SPINNER_AMONG_POLLERS:
		/* the last of 9 computes 5 ms in 10 us steps; the others poll
		 * with usleep(1) until it is done */
		if (role == 8) {
			T.t[0] = o->now(env);
			for (int i = 0; i < 500; i++)
				o->work(env, 10000);
			T.t[1] = o->now(env);
			o->store(env, &T.word, 1);
		} else {
			while (o->load(env, &T.word) == 0)
				o->sleep(env, 1000);
		}
		break;
	case S_WAKE_ON_OTHER_CORE:
		/* role 1 starts on role 0's core while role 0 sleeps, and
		 * keeps that core for 1 ms from 0.5 ms before role 0's timer
		 * fires.  Role 2, on the other core, is done at once.  So role
		 * 0 wakes there.  The 100 ms sleeps let the cores' utilization
		 * from the new threads decay, so that the search for an idle
		 * core is on. */
		if (role == 0) {
			o->sleep(env, 100000000);
		} else if (role == 1) {
			o->sleep(env, 99500000);
			T.t[4] = o->now(env);
			o->work(env, 1000000);
			T.t[5] = o->now(env);
		}
		break;
	case S_CANCELLED_TIMER:
		/* role 0 waits with a 100 us timeout, role 1 sleeps 120 us, role 2
		 * ends role 0's wait 50 us later */
		if (role == 0) {
			o->futex_wait(env, &T.word, 0, 100000);
		} else if (role == 1) {
			T.t[2] = o->now(env);
			o->sleep(env, 120000);
			T.t[3] = o->now(env);
		} else {
			o->work(env, 50000);
			o->store(env, &T.word, 1);
			o->futex_wake(env, &T.word, 1);
		}
		break;
	case S_SLEEP_FOREVER:
		T.t[0] = o->now(env);
		o->sleep(env, INT64_MAX);
		T.t[1] = o->now(env);
		break;
	case S_TIMED_WAIT_WOKEN_EARLY:
	case S_TIMED_WAIT_CHANGED_EARLY:
		/* Role 1 wakes role 0 1.1 us into its 1 ms timed wait, while
		 * role 0 may still be paying for its timer.  Under
		 * S_TIMED_WAIT_CHANGED_EARLY it changes the word first. */
		if (role == 0) {
			T.t[0] = o->now(env);
			T.entered = 1;
			T.rc[0] = o->futex_wait(env, &T.word, 0, 1000000);
			T.t[1] = o->now(env);
		} else {
			while (!T.entered)
				o->work(env, 100);
			o->work(env, 1100);
			if (T.script == S_TIMED_WAIT_CHANGED_EARLY)
				o->store(env, &T.word, 1);
			T.rc[1] = o->futex_wake(env, &T.word, 1);
		}
		break;
	case S_CAS_PINGPONG: {
		uint64_t expected;

		if (role == 1)
			o->work(env, 100000); /* let thread 0 write the line first */
		expected = o->load(env, &T.word);
		T.t[2 * role] = o->now(env);
		o->cas(env, &T.word, &expected, expected + 1);
		T.t[2 * role + 1] = o->now(env);
		if (role == 0)
			o->work(env, 1000000); /* keep core 0 while thread 1 runs */
		break;
	}
	}
	return o->new_m(env, "test");
}

static void script_release(hs_env *env, void *state, hs_m *m)
{
	env->ops->free_m(env, m);
}

static uint64_t script_spare(void *state)
{
	return 0;
}

static int script_init(hs_env *env, void *state, const int64_t *params)
{
	return 0;
}

static const struct hs_policy script_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "script",
	.summary = "test script",
	.state_size = 8,
	.init = script_init,
	.acquire = script_acquire,
	.release = script_release,
	.spare_count = script_spare,
};

/* A quiet machine with round numbers: every cost is distinct so that a
 * wrong rule shows up as a wrong sum. */
static void setup_config(struct hs_config *cfg, const char *os, int threads, int cores)
{
	struct hs_error err = { 0 };

	assert_int_equal(hs_config_load(cfg, "cgocallbackgc", NULL, 0, os, &err), 0);
	cfg->scenario.threads = threads;
	cfg->scenario.cores = cores;
	cfg->scenario.nsteps = 0;
	cfg->os.syscall_ns = 100;
	cfg->os.context_switch_ns = 2000;
	cfg->os.wake_local_ns = 3000;
	cfg->os.wake_remote_ns = 20000;
	cfg->os.timer_wake_ns = 7000;
	cfg->os.timer_jitter_ns = 0;
	cfg->os.atomic_local_ns = 10;
	cfg->os.atomic_remote_ns = 80;
	cfg->os.load_remote_ns = 60;
}

/* setup_config on linux with a 50 us timer slack, no slack ratio and no
 * sleep floor, so that a sleep's window is [request, request + 50 us]. */
static void setup_slack(struct hs_config *cfg, int threads, int cores)
{
	setup_config(cfg, "linux", threads, cores);
	cfg->os.sleep_slack_ns = 50000;
	cfg->os.sleep_slack_ratio = 0;
	cfg->os.sleep_min_ns = 0;
}

/* Runs script s at the given record level and returns the run's status. */
static enum hs_status run_script_status(struct hs_config *cfg, enum script s,
					enum hs_record_level level, struct hs_run_result *res)
{
	struct hs_run_request req = { 0 };
	struct hs_error err = { 0 };

	memset(&T, 0, sizeof(T));
	T.script = s;
	req.cfg = cfg;
	req.policy = &script_policy;
	req.seed = 1;
	req.record = level;
	hs_result_init(res);
	assert_int_equal(hs_backend_sim.run(&req, res, &err), 0);
	return res->status;
}

static void run_script_at(struct hs_config *cfg, enum script s, enum hs_record_level level,
			  struct hs_run_result *res)
{
	assert_int_equal(run_script_status(cfg, s, level, res), HS_STATUS_OK);
}

static void run_script(struct hs_config *cfg, enum script s, struct hs_run_result *res)
{
	run_script_at(cfg, s, HS_RECORD_SUMMARY, res);
}

static void linux_sleep_adds_slack_and_timer_wake(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 1, 1);
	cfg.os.sleep_slack_ns = 50000;
	cfg.os.sleep_slack_ratio = 0;
	run_script(&cfg, S_SLEEP_1US, &res);
	/* system call, the request, the slack, then the idle core wakes */
	assert_int_equal(T.t[1] - T.t[0], 100 + 1000 + 50000 + 7000);
	assert_int_equal(hs_result_get(&res, "usleep_calls", -1), 1);
	hs_result_free(&res);

	/* on its own idle core the sleeper pays no sleep_return, because
	 * timer_wake, measured as a whole sleep, includes it */
	cfg.os.sleep_return_ns = 400;
	run_script(&cfg, S_SLEEP_1US, &res);
	assert_int_equal(T.t[1] - T.t[0], 100 + 1000 + 50000 + 7000);
	hs_result_free(&res);
}

/* A sleeper woken onto a busy core pays sleep_return once it is back on
 * the core: the same run with 400 ns more of it ends its sleep 400 ns
 * later. */
static void busy_core_sleep_pays_return(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t span;

	setup_slack(&cfg, 2, 1);
	run_script(&cfg, S_SLEEPER_BESIDE_WORKER, &res);
	span = T.t[1] - T.t[0];
	hs_result_free(&res);
	cfg.os.sleep_return_ns = 400;
	run_script(&cfg, S_SLEEPER_BESIDE_WORKER, &res);
	assert_int_equal(T.t[1] - T.t[0], span + 400);
	hs_result_free(&res);
}

/* Runs script sc twice, without and with a timer_program of 6000 ns, and
 * returns how much more CPU time the second run used. */
static int64_t program_extra(struct hs_config *cfg, enum script sc)
{
	struct hs_run_result res;
	int64_t cpu;

	cfg->os.timer_program_ns = 0;
	run_script(cfg, sc, &res);
	cpu = hs_result_get(&res, "cpu_ns", -1);
	hs_result_free(&res);
	cfg->os.timer_program_ns = 6000;
	run_script(cfg, sc, &res);
	cpu = hs_result_get(&res, "cpu_ns", -1) - cpu;
	hs_result_free(&res);
	return cpu;
}

/* A sleep whose timer becomes its core's earliest expiry pays
 * timer_program; one behind an earlier timer, or behind the next tick,
 * pays nothing.  The expiry is fixed before the reprogramming, so the
 * lone sleep still ends 100 + 1000 + 50000 + 7000 ns after it began. */
static void timer_program_paid_by_the_earliest(void **state)
{
	struct hs_config cfg;

	setup_slack(&cfg, 1, 1);
	assert_int_equal(program_extra(&cfg, S_SLEEP_1US), 6000);
	assert_int_equal(T.t[1] - T.t[0], 100 + 1000 + 50000 + 7000);
	/* 20 ms ahead lies behind the 4 ms tick */
	assert_int_equal(cfg.os.tick_ns, 4000000);
	assert_int_equal(program_extra(&cfg, S_SLEEP_20MS), 0);
	/* the second sleeper's window lies behind the first's */
	setup_slack(&cfg, 2, 1);
	assert_int_equal(program_extra(&cfg, S_SLEEPERS_NEAR), 6000);
}

/* A timed futex wait is queued before it pays for its timer, so a wake
 * during that burst finds it.  The wait then returns 0 (woken) at once,
 * and the wake counts one thread, whether or not the word changed and
 * with or without timer_program. */
static void timed_wait_woken_while_arming(void **state)
{
	static const enum script scripts[] = { S_TIMED_WAIT_WOKEN_EARLY, S_TIMED_WAIT_CHANGED_EARLY };
	static const int64_t program[] = { 0, 6000 };

	for (int i = 0; i < 4; i++) {
		struct hs_config cfg;
		struct hs_run_result res;

		setup_slack(&cfg, 2, 2);
		cfg.os.timer_program_ns = program[i % 2];
		run_script(&cfg, scripts[i / 2], &res);
		assert_int_equal(T.rc[0], 0);
		assert_int_equal(T.rc[1], 1);
		assert_true(T.t[1] - T.t[0] < 100000);
		hs_result_free(&res);
	}
}

/* A sleep of INT64_MAX ns does not wrap simulated time around: the run
 * reaches its time limit with the thread still asleep. */
static void endless_sleep_reaches_the_limit(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_slack(&cfg, 1, 1);
	assert_int_equal(run_script_status(&cfg, S_SLEEP_FOREVER, HS_RECORD_SUMMARY, &res),
			 HS_STATUS_TIMEOUT);
	assert_int_equal(T.t[1], 0);
	hs_result_free(&res);
}

static void freebsd_sleep_adds_a_sixteenth(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 1, 1);
	cfg.os.sleep_slack_ns = 2000;
	cfg.os.sleep_slack_ratio = 0.0625;
	cfg.os.sleep_min_ns = 0;
	run_script(&cfg, S_SLEEP_1US, &res);
	/* 1000 ns + 2000 ns + 1000/16 (62 ns) */
	assert_int_equal(T.t[1] - T.t[0], 100 + 1000 + 2000 + 62 + 7000);
	hs_result_free(&res);
}

static void long_sleep_rounds_to_tick(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 1, 1);
	cfg.os.sleep_slack_ns = 0;
	cfg.os.sleep_slack_ratio = 0;
	cfg.os.sleep_coarse_above_ns = 16000000;
	cfg.os.tick_ns = 1000000;
	run_script(&cfg, S_SLEEP_20MS, &res);
	/* the timer fires at the first tick boundary at or after the end */
	{
		int64_t start = T.t[0] + 100;
		int64_t end = (start + 20000000 + 999999) / 1000000 * 1000000;

		assert_int_equal(T.t[1], end + 7000);
	}
	hs_result_free(&res);
}

static void short_sleep_polls_when_profile_says(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "windows", 1, 1);
	cfg.os.sleep_poll_below_ns = 1000000;
	run_script(&cfg, S_SLEEP_1US, &res);
	assert_int_equal(T.t[1] - T.t[0], 100); /* only the system call */
	hs_result_free(&res);
}

/* The timer interrupt runs on the sleeper's core and delays the thread
 * computing there by timer_irq, and by irq_wake for each sleeper its
 * handler wakes; ULE does not preempt it for the woken sleeper. */
static void timer_expiry_delays_thread_on_its_core(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 2, 1);
	cfg.os.timer_irq_ns = 1500;
	run_script(&cfg, S_SLEEP_VS_WORKER, &res);
	assert_int_equal(T.t[3] - T.t[2], 1000000 + 1500);
	hs_result_free(&res);

	cfg.os.timer_irq_ns = 0;
	run_script(&cfg, S_SLEEP_VS_WORKER, &res);
	assert_int_equal(T.t[3] - T.t[2], 1000000);
	hs_result_free(&res);

	/* two sleeps that end in one interrupt cost the worker one charge */
	setup_config(&cfg, "freebsd", 3, 1);
	cfg.os.timer_irq_ns = 1500;
	cfg.os.sleep_slack_ns = 50000;
	cfg.os.sleep_slack_ratio = 0;
	cfg.os.sleep_min_ns = 0;
	run_script(&cfg, S_TWO_SLEEPERS_VS_WORKER, &res);
	assert_int_equal(hs_result_get(&res, "usleep_calls", -1), 2);
	assert_int_equal(T.t[3] - T.t[2], 1000000 + 1500);
	hs_result_free(&res);

	/* and one wake-up each */
	cfg.os.irq_wake_ns = 700;
	run_script(&cfg, S_TWO_SLEEPERS_VS_WORKER, &res);
	assert_int_equal(T.t[3] - T.t[2], 1000000 + 1500 + 2 * 700);
	hs_result_free(&res);

	setup_config(&cfg, "freebsd", 2, 1);
	cfg.os.timer_irq_ns = 1500;
	cfg.os.irq_wake_ns = 700;
	run_script(&cfg, S_SLEEP_VS_WORKER, &res);
	assert_int_equal(T.t[3] - T.t[2], 1000000 + 1500 + 700);
	hs_result_free(&res);
}

/* On one core under linux the woken sleeper preempts the worker at once.
 * The interrupt ran first, so the sleeper reaches the core timer_irq +
 * irq_wake later.  The worker does not carry that time as a debt: the
 * run's CPU time counts it once, and the worker's 1 ms burst ends when the
 * sleeper's time on the core and the interrupt are over. */
static void preempting_timer_wake_waits_for_the_interrupt(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t back, worker_end;
	double cpu;

	setup_slack(&cfg, 2, 1);
	run_script(&cfg, S_SLEEPER_BESIDE_WORKER, &res);
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
	back = T.t[1];
	worker_end = T.t[3];
	cpu = hs_result_get(&res, "cpu_ns", -1);
	hs_result_free(&res);

	cfg.os.timer_irq_ns = 1500;
	cfg.os.irq_wake_ns = 700;
	run_script(&cfg, S_SLEEPER_BESIDE_WORKER, &res);
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
	assert_int_equal(T.t[1], back + 1500 + 700);
	assert_int_equal(T.t[3], worker_end + 1500 + 700);
	assert_int_equal(hs_result_get(&res, "cpu_ns", -1), cpu + 1500 + 700);
	hs_result_free(&res);
}

/* A sleeper whose timer fires on a busy core and which goes to the other,
 * idle core costs the interrupted thread irq_wake and the
 * inter-processor interrupt, wake_send_remote - wake_send_local. */
static void timer_wake_elsewhere_costs_a_remote_send(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_slack(&cfg, 3, 2);
	cfg.os.timer_irq_ns = 1500;
	cfg.os.irq_wake_ns = 900;
	cfg.os.wake_send_local_ns = 700;
	cfg.os.wake_send_remote_ns = 5000;
	run_script(&cfg, S_WAKE_ON_OTHER_CORE, &res);
	assert_int_equal(hs_result_get(&res, "migrations", -1), 1);
	assert_int_equal(T.t[5] - T.t[4], 1000000 + 1500 + 900 + 5000 - 700);
	hs_result_free(&res);
}

static void linux_yield_alone_returns_at_once(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 1, 1);
	run_script(&cfg, S_YIELD, &res);
	assert_int_equal(T.t[1] - T.t[0], 100);
	assert_int_equal(hs_result_get(&res, "yields", -1), 1);
	hs_result_free(&res);
}

static void ule_yield_alone_switches(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 1, 1);
	run_script(&cfg, S_YIELD, &res);
	assert_int_equal(T.t[1] - T.t[0], 100 + 2000);
	hs_result_free(&res);
}

static void linux_yield_runs_peer_until_slice_end(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 2, 1);
	cfg.os.slice_ns = 500000;
	cfg.os.tick_ns = 1000000;
	run_script(&cfg, S_YIELD_VS_WORKER, &res);
	/* After the system call the new worker starts (wake_local) and spends
	 * its protection, half a slice for a new thread, 250 us later.  The
	 * next tick (1 ms) preempts it, and the yielder switches back in.  A
	 * slice timer would have ended the worker's turn at T.t[0] + 100 +
	 * 3000 + 500000. */
	assert_true(T.t[0] + 100 + 3000 + 250000 < 1000000);
	assert_int_equal(T.t[1], 1000000 + 2000);
	assert_true(T.t[1] < T.t[2]);
	assert_true(hs_result_get(&res, "preemptions", -1) >= 1);
	hs_result_free(&res);
}

/*
 * A thread that loops on sched_yield beside one that computes, both on
 * one core.  On the validation host (Linux 6.18.44) the computing thread
 * got 1.991 of 2 s of CPU, and the yielder made 1479 yields, about one per
 * slice.  An eligible yielder gives up the rest of its slice in vruntime,
 * so the worker runs a whole slice between two yields.
 */
static void linux_yield_loop_forfeits_slices(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t yields;

	setup_config(&cfg, "linux", 2, 1);
	cfg.os.slice_ns = 1000000;
	run_script(&cfg, S_YIELD_LOOP_VS_WORKER, &res);
	yields = hs_result_get(&res, "yields", -1);
	/* 10 ms of work: at most one yield per slice, plus the start */
	assert_true(yields >= 9);
	assert_true(yields <= 12);
	/* each yield costs the worker a switch out and back (2 x 2000 ns)
	 * and the yield call (100 ns) */
	assert_true(T.t[1] - T.t[0] >= 10000000);
	assert_true(T.t[1] - T.t[0] <= 10000000 + 12 * 4100 + 3000);
	hs_result_free(&res);
}

static void ule_yield_is_held_for_ticks(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 2, 1);
	cfg.os.slice_ns = 500000;
	cfg.os.tick_ns = 1000000;
	cfg.os.yield_hold_ticks = 2;
	run_script(&cfg, S_YIELD_VS_WORKER, &res);
	/* held until the second tick boundary after the yield: the worker
	 * keeps the core at the slice ends before it */
	{
		int64_t yield_at = T.t[0] + 100;
		int64_t release = (yield_at / 1000000 + 2) * 1000000;

		assert_true(T.t[1] >= release);
		assert_true(T.t[1] < release + 500000 + 2 * 2000);
		assert_true(T.t[1] < T.t[2]); /* before the worker finished */
	}
	hs_result_free(&res);
}

static void futex_wake_to_idle_core_costs_remote(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 2, 2);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	/* the waiter's core is idle: inter-processor wake-up */
	assert_int_equal(T.t[1] - T.t[0], 20000);
	hs_result_free(&res);
}

/*
 * After the wake-up the waker pays wake_send_remote when the woken thread
 * went to the other, idle core, or wake_send_local when it was queued on
 * the waker's core.  So the waker's clock moves on by that much, and the
 * woken thread's start, counted from the wake-up, does not.
 */
static void futex_wake_charges_the_waker(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t base_wake, base_run;

	setup_config(&cfg, "linux", 2, 2);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	base_wake = T.t[0];
	base_run = T.t[1];
	hs_result_free(&res);

	setup_config(&cfg, "linux", 2, 2);
	cfg.os.wake_send_local_ns = 1000;
	cfg.os.wake_send_remote_ns = 4000;
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	assert_int_equal(T.t[0], base_wake + 4000);
	assert_int_equal(T.t[1], base_run);
	assert_int_equal(T.t[2] - T.t[0], 50000);
	hs_result_free(&res);

	/* one core under linux: the woken thread preempts the waker, but
	 * only after the waker's part, as Linux preempts on the way out of
	 * the wake call */
	setup_config(&cfg, "linux", 2, 1);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	base_wake = T.t[0];
	hs_result_free(&res);

	setup_config(&cfg, "linux", 2, 1);
	cfg.os.wake_send_local_ns = 3000;
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	assert_int_equal(T.t[0], base_wake + 3000);
	assert_int_equal(T.t[1] - T.t[0], 3000); /* wake_local */
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
	hs_result_free(&res);

	/* one core, no wake-up preemption: the woken thread waits behind the
	 * waker on its core */
	setup_config(&cfg, "freebsd", 2, 1);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	base_wake = T.t[0];
	hs_result_free(&res);

	setup_config(&cfg, "freebsd", 2, 1);
	cfg.os.wake_send_local_ns = 1000;
	cfg.os.wake_send_remote_ns = 4000;
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	assert_int_equal(T.t[0], base_wake + 1000);
	assert_true(T.t[1] >= T.t[2] + 3000);
	hs_result_free(&res);
}

/*
 * One core under linux with a 101 us slice and a tick at 157 us, which
 * falls inside the waker's 3 us part of its wake-up (156.2 to 159.2 us),
 * after the waker's protection is spent.  The tick switches to the woken
 * thread, which runs to its exit.  That switch spends the preemption the
 * wake-up requested, so the waker's next burst runs without another.
 */
static void slice_end_spends_wakeup_preemption(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 2, 1);
	cfg.os.wake_send_local_ns = 3000;
	cfg.os.slice_ns = 101000;
	cfg.os.tick_ns = 157000;
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	assert_int_equal(T.t[1], 157000 + 3000); /* the tick, then wake_local */
	assert_true(T.t[1] < T.t[0]); /* the waiter ran inside the wake call */
	assert_int_equal(T.t[2] - T.t[0], 50000);
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
	hs_result_free(&res);
}

/*
 * The same run under preempt = none and voluntary: the tick at 157 us falls
 * inside the waker's futex_wake call, kernel code that such a kernel does
 * not preempt.  The waker finishes the call, whose wake part ends at
 * 159.2 us.  It loses the core at its next burst, on its way back to user
 * space, and the woken thread starts after wake_local.
 */
static void preempt_none_defers_kernel_preemption(void **state)
{
	static const enum hs_preempt models[] = { HS_PREEMPT_NONE, HS_PREEMPT_VOLUNTARY };
	struct hs_config cfg;
	struct hs_run_result res;

	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		setup_config(&cfg, "linux", 2, 1);
		cfg.os.wake_send_local_ns = 3000;
		cfg.os.slice_ns = 101000;
		cfg.os.tick_ns = 157000;
		cfg.os.preempt = models[i];
		run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
		assert_int_equal(T.t[0], 156210 + 3000); /* the whole call ran */
		assert_int_equal(T.t[1], T.t[0] + 3000);  /* then wake_local */
		assert_true(T.t[2] >= T.t[1] + 50000);     /* the waker's work waited */
		assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
		hs_result_free(&res);
	}
}

static void futex_wake_on_busy_core_preempts_under_linux(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 2, 1);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	/* One core.  At the wake-up the waker has run longer than the waiter
	 * (vruntime 122610 ns against 115210 ns), so it is above the average
	 * and not eligible.  RUN_TO_PARITY protects only an eligible current
	 * thread, so the eligible waiter takes the core at the waker's next
	 * burst after wake_local (3000 ns), and the waker finishes later. */
	assert_int_equal(T.t[0], 156210);
	assert_int_equal(T.t[1] - T.t[0], 3000);
	assert_true(T.t[2] > T.t[1] + 50000);
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 1);
	hs_result_free(&res);
}

static void futex_wake_on_busy_core_waits_its_turn_under_ule(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "freebsd", 2, 1);
	run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
	/* no wake-up preemption: the woken thread is queued behind the waker
	 * and starts after the waker blocks or exits, paying the local wake
	 * cost */
	assert_true(T.t[1] >= T.t[2] + 3000);
	assert_int_equal(hs_result_get(&res, "preemptions", -1), 0);
	hs_result_free(&res);
}

/* Returns the total time of the recorded running states of a run, ns. */
static int64_t running_ns(const struct hs_run_result *res)
{
	int64_t sum = 0;

	for (size_t i = 0; i < res->states.len; i++)
		if (res->states.data[i].state == HS_TS_RUNNING)
			sum += res->states.data[i].end_ns - res->states.data[i].start_ns;
	return sum;
}

/*
 * cpu_ns is the time cores spent on threads: the running states (which
 * include the timer interrupts a thread pays for) plus the switch-in cost
 * charged to each thread started on a busy core.  With free switches it is
 * exactly the running time; with a switch cost of 2000 ns it exceeds the
 * running time by whole switches.  The scripts leave a core by sleeping,
 * yielding, blocking, preemption and exit.
 */
static void cpu_time_adds_switches(void **state)
{
	static const enum script scripts[] = { S_YIELD_VS_WORKER, S_SLEEP_VS_WORKER,
					       S_FUTEX_WAITER_WAKER };

	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct hs_config cfg;
		struct hs_run_result res;
		int64_t run, cpu, extra;

		setup_config(&cfg, "linux", 2, 1);
		cfg.os.context_switch_ns = 0;
		cfg.os.wake_local_ns = 0;
		run_script_at(&cfg, scripts[i], HS_RECORD_EVENTS, &res);
		run = running_ns(&res);
		assert_true(run > 0);
		assert_int_equal((int64_t)hs_result_get(&res, "cpu_ns", -1), run);
		hs_result_free(&res);

		setup_config(&cfg, "linux", 2, 1);
		cfg.os.context_switch_ns = 2000;
		cfg.os.wake_local_ns = 2000;
		run_script_at(&cfg, scripts[i], HS_RECORD_EVENTS, &res);
		cpu = (int64_t)hs_result_get(&res, "cpu_ns", -1);
		extra = cpu - running_ns(&res);
		assert_true(extra >= 2000);
		assert_int_equal(extra % 2000, 0);
		assert_true(cpu <= res.end_ns);
		hs_result_free(&res);
	}
}

/* Returns the time of the n-th timer wake-up (waker -1) of a run. */
static int64_t timer_wake_at(const struct hs_run_result *res, int n)
{
	for (size_t i = 0; i < res->wakes.len; i++)
		if (res->wakes.data[i].waker < 0 && n-- == 0)
			return res->wakes.data[i].time_ns;
	fail_msg("no timer wake-up number %d", n);
	return -1;
}

/*
 * Timer slack windows on one core.  The interrupt comes at the earliest
 * hard expiry (request + slack after the system call) and ends every
 * sleep whose request has passed.  So the second sleeper of 1 us wakes
 * with the first, 20 us of work and switches before its own hard
 * expiry.  A second sleeper of 30 us has not reached its request then and
 * keeps its own expiry.
 */
static void timers_in_one_window_expire_together(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;
	int64_t first_hard;

	setup_slack(&cfg, 2, 1);
	run_script_at(&cfg, S_SLEEPERS_NEAR, HS_RECORD_EVENTS, &res);
	first_hard = T.t[0] + 100 + 1000 + 50000;
	assert_true(T.t[2] + 100 + 1000 < first_hard);
	assert_int_equal(timer_wake_at(&res, 0), first_hard);
	assert_int_equal(timer_wake_at(&res, 1), first_hard);
	assert_true(first_hard < T.t[2] + 100 + 1000 + 50000);
	hs_result_free(&res);

	setup_slack(&cfg, 2, 1);
	run_script_at(&cfg, S_SLEEPERS_FAR, HS_RECORD_EVENTS, &res);
	first_hard = T.t[0] + 100 + 1000 + 50000;
	assert_true(T.t[2] + 100 + 30000 > first_hard);
	assert_int_equal(timer_wake_at(&res, 0), first_hard);
	assert_int_equal(timer_wake_at(&res, 1), T.t[2] + 100 + 30000 + 50000);
	hs_result_free(&res);
}

/*
 * switch_cold: the waiter of S_FUTEX_WAITER_WAKER is switched back in
 * after one other switch-in on its core, so it pays the point at 1
 * thread on top of wake_local.  A curve whose first point is above 1
 * thread gives the first point's cost, and none gives nothing.
 */
static void cold_switch_in_pays_the_curve(void **state)
{
	static const struct {
		int n;
		struct hs_cold_point pts[2];
		int64_t extra;
	} cases[] = {
		{ 0, { { 0, 0 } }, 0 },
		{ 2, { { 1, 500 }, { 4, 900 } }, 500 },
		{ 2, { { 2, 700 }, { 8, 900 } }, 700 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs_config cfg;
		struct hs_run_result res;

		setup_config(&cfg, "linux", 2, 1);
		cfg.os.nswitch_cold = cases[i].n;
		memcpy(cfg.os.switch_cold, cases[i].pts, sizeof(cases[i].pts));
		run_script(&cfg, S_FUTEX_WAITER_WAKER, &res);
		assert_int_equal(T.t[1] - T.t[0], 3000 + cases[i].extra);
		hs_result_free(&res);
	}
}

/*
 * A wake-up that comes while a thread is being switched in is checked
 * against that thread, as Linux checks it against rq->curr, which the
 * pick has already set, and the thread reschedules as it reaches the
 * core.  On one core with 8 usleep(1) pollers, most wake-ups come while
 * a poller is being switched in.  Checked, they preempt a spinner with
 * 5 ms of work more than 55 times.  (This profile gives 65 preemptions,
 * and a model that skips them 42.)
 */
static void wakeup_during_switch_in_preempts(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_slack(&cfg, 9, 1);
	cfg.os.timer_irq_ns = 0;
	run_script(&cfg, S_SPINNER_AMONG_POLLERS, &res);
	assert_true(hs_result_get(&res, "preemptions", -1) > 55);
	assert_true(T.t[1] - T.t[0] > 5000000);
	hs_result_free(&res);
}

/*
 * A timed wait that a futex wake ends cancels its timer, and the core's
 * interrupt moves to the next timer.  The sleeper of 120 us, whose window
 * opens before the cancelled wait's hard expiry, still wakes at its own
 * hard expiry and not at the cancelled one.
 */
static void cancelled_timer_does_not_fire(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_slack(&cfg, 3, 1);
	run_script_at(&cfg, S_CANCELLED_TIMER, HS_RECORD_EVENTS, &res);
	assert_int_equal(timer_wake_at(&res, 0), T.t[2] + 100 + 120000 + 50000);
	hs_result_free(&res);
}

/*
 * A thread woken while its last core is busy and the other idle runs on
 * the other core: the run counts one migration.  On one core the same
 * script has none.
 */
static void wakeup_elsewhere_counts_a_migration(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_slack(&cfg, 3, 2);
	run_script(&cfg, S_WAKE_ON_OTHER_CORE, &res);
	assert_int_equal(hs_result_get(&res, "migrations", -1), 1);
	hs_result_free(&res);

	setup_slack(&cfg, 3, 1);
	run_script(&cfg, S_WAKE_ON_OTHER_CORE, &res);
	assert_int_equal(hs_result_get(&res, "migrations", -1), 0);
	hs_result_free(&res);
}

/* Sets core's rq_vsum from its queue, for queues a test links by hand. */
static void sum_queue(struct sim_core *core)
{
	core->rq_vsum = 0;
	for (struct sim_thread *t = core->rq_head; t; t = t->rq_next)
		core->rq_vsum += t->vruntime;
}

/* Queues threads with the given vruntimes and deadlines on core 0 of an
 * otherwise empty machine with yield kind `kind`, bit i of `yielded`
 * marking thread i as a yielder, picks one and returns its index.  Checks
 * that the pick leaves the others queued in their order, with rq_tail
 * and rq_len right and no yielder mark left. */
static int pick_of(enum hs_yield_kind kind, const int64_t *vruntime, const int64_t *deadline,
		   int n, unsigned yielded)
{
	static struct hs_os_profile os;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread *t[8], *got, *u;
	int index = -1;

	assert_non_null(s);
	assert_true(n <= 8);
	os.yield_kind = kind;
	os.slice_ns = 1000000;
	s->os = &os;
	s->ncores = 1;
	for (int i = 0; i < n; i++) {
		t[i] = calloc(1, sizeof(*t[i]));
		assert_non_null(t[i]);
		t[i]->vruntime = vruntime[i];
		t[i]->deadline = deadline[i];
		t[i]->exec_start = -1;
		t[i]->yielded = (yielded >> i) & 1;
		if (i > 0)
			t[i - 1]->rq_next = t[i];
	}
	s->cores[0].rq_head = t[0];
	s->cores[0].rq_tail = t[n - 1];
	s->cores[0].rq_len = n;
	sum_queue(&s->cores[0]);
	got = sim_rq_pick(s, 0);
	for (int i = 0; i < n; i++)
		if (t[i] == got)
			index = i;
	assert_true(index >= 0);
	assert_null(got->rq_next);
	assert_int_equal(s->cores[0].rq_len, n - 1);
	u = s->cores[0].rq_head;
	for (int i = 0; i < n; i++) {
		if (i == index)
			continue;
		assert_ptr_equal(u, t[i]);
		if (kind == HS_YIELD_LINUX || kind == HS_YIELD_BOOST)
			assert_false(u->yielded);
		if (u->rq_next == NULL)
			assert_ptr_equal(s->cores[0].rq_tail, u);
		u = u->rq_next;
	}
	assert_null(u);
	if (n == 1)
		assert_null(s->cores[0].rq_tail);
	for (int i = 0; i < n; i++)
		free(t[i]);
	free(s);
	return index;
}

/*
 * The pick is __pick_eevdf's.  Among the threads whose vruntime is at or
 * below the queue's average (here 250), the earliest deadline wins, even
 * over an eligible thread with less vruntime.  A thread above the average
 * is passed over whatever its deadline.  Ties go to the earliest queued.
 */
static void pick_is_earliest_eligible_deadline(void **state)
{
	static const int64_t v1[] = { 100, 150, 500 }, d1[] = { 1000, 400, 600 };
	static const int64_t v2[] = { 100, 150, 500 }, d2[] = { 1000, 400, 300 };
	static const int64_t v3[] = { 100, 150, 500 }, d3[] = { 400, 400, 900 };
	/* average 200: the eligible tail has the earliest deadline */
	static const int64_t v4[] = { 300, 200, 100 }, d4[] = { 900, 800, 300 };
	static const int64_t v5[] = { 300, 100, 200 };

	assert_int_equal(pick_of(HS_YIELD_LINUX, v1, d1, 3, 0), 1);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v2, d2, 3, 0), 1);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v3, d3, 3, 0), 0);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v4, d4, 3, 0), 2);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v4, d4, 1, 0), 0);
	/* a yielder's key is a slice later, so the tail is no longer
	 * eligible; the middle thread, at the average, is */
	assert_int_equal(pick_of(HS_YIELD_LINUX, v4, d4, 3, 4), 1);
	/* all yielders, none eligible: the least key, at the head, in the
	 * middle or at the tail */
	assert_int_equal(pick_of(HS_YIELD_LINUX, v1, d1, 3, 7), 0);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v5, d4, 3, 7), 1);
	assert_int_equal(pick_of(HS_YIELD_LINUX, v4, d4, 3, 7), 2);
	/* boost (the windows profile) runs the least vruntime instead */
	assert_int_equal(pick_of(HS_YIELD_BOOST, v1, d1, 3, 0), 0);
	assert_int_equal(pick_of(HS_YIELD_BOOST, v2, d2, 3, 0), 0);
	assert_int_equal(pick_of(HS_YIELD_BOOST, v4, d4, 3, 0), 2);
	assert_int_equal(pick_of(HS_YIELD_BOOST, v4, d4, 3, 4), 1);
}

/* Returns a zeroed one-core sim under yield = linux with a 1 ms slice,
 * for tests that build its run queue by hand; the caller frees it. */
static struct sim *linux_one_core_sim(void)
{
	static struct hs_os_profile os;
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	os.yield_kind = HS_YIELD_LINUX;
	os.slice_ns = 1000000;
	s->os = &os;
	s->ncores = 1;
	return s;
}

/*
 * A steal picks from a busy core, whose current thread counts in the
 * average.  With the current thread at vruntime 0 and the queued ones at
 * 300 and 200, the average is 166, so no queued thread is eligible and
 * the least vruntime runs.
 */
static void steal_pick_without_eligible_thread(void **state)
{
	struct sim *s = linux_one_core_sim();
	struct sim_thread cur = { 0 }, a = { 0 }, b = { 0 };

	(void)state;
	cur.exec_start = -1;
	a.vruntime = 300;
	a.deadline = 400;
	a.exec_start = -1;
	a.rq_next = &b;
	b.vruntime = 200;
	b.deadline = 900;
	b.exec_start = -1;
	s->cores[0].current = &cur;
	s->cores[0].rq_head = &a;
	s->cores[0].rq_tail = &b;
	s->cores[0].rq_len = 2;
	sum_queue(&s->cores[0]);
	assert_ptr_equal(sim_rq_pick(s, 0), &b);
	assert_ptr_equal(s->cores[0].rq_head, &a);
	assert_ptr_equal(s->cores[0].rq_tail, &a);
	assert_null(a.rq_next);
	assert_int_equal(s->cores[0].rq_len, 1);
	free(s);
}

/*
 * min_vruntime follows the queue.  With the current thread at 1000 and
 * threads at 100, 300 and 200 queued, it is 100.  Once the pick takes the
 * thread at 100 (eligible, earliest deadline), it rises to 200, the least
 * of those left: the cached least vruntime leaves with its thread.
 */
static void min_vruntime_follows_the_queue(void **state)
{
	struct sim *s = linux_one_core_sim();
	struct sim_thread cur = { 0 }, a = { 0 }, b = { 0 }, c = { 0 };

	(void)state;
	cur.vruntime = 1000;
	cur.exec_start = -1;
	a.vruntime = 100;
	a.deadline = 500;
	a.rq_next = &b;
	b.vruntime = 300;
	b.deadline = 900;
	b.rq_next = &c;
	c.vruntime = 200;
	c.deadline = 800;
	a.exec_start = b.exec_start = c.exec_start = -1;
	s->cores[0].current = &cur;
	s->cores[0].rq_head = &a;
	s->cores[0].rq_tail = &c;
	s->cores[0].rq_len = 3;
	sum_queue(&s->cores[0]);
	sim_update_min(s, 0);
	assert_int_equal(s->cores[0].min_vruntime, 100);
	assert_ptr_equal(sim_rq_pick(s, 0), &a);
	sim_update_min(s, 0);
	assert_int_equal(s->cores[0].min_vruntime, 200);
	assert_ptr_equal(sim_rq_pick(s, 0), &c);
	sim_update_min(s, 0);
	assert_int_equal(s->cores[0].min_vruntime, 300);
	free(s);
}

/* Sets up s as two idle Linux cores on os, with a 1 ms slice, a 4 ms tick
 * and a 2 us switch, and puts cur on core 0. */
static void linux_two_cores(struct sim *s, struct hs_os_profile *os, struct sim_thread *cur)
{
	os->yield_kind = HS_YIELD_LINUX;
	os->slice_ns = 1000000;
	os->tick_ns = 4000000;
	os->context_switch_ns = 2000;
	s->os = os;
	s->ncores = 2;
	hs_evq_init(&s->q);
	for (int c = 0; c < 2; c++) {
		s->cores[c].busy_from = -1;
		s->cores[c].lb_last = INT64_MIN;
		s->cores[c].lb_interval = LINUX_LB_MIN_INTERVAL(2);
	}
	s->nr_idle_scan = 2;
	for (int c = 0; c < 2; c++) {
		s->cores[c].avg_idle = sim_avg_idle_cap(s);
		s->cores[c].idle_stamp = -1;
	}
	cur->core = 0;
	s->cores[0].current = cur;
}

/* Sets up s as two Linux cores: core 0 runs cur and queues a then b, and
 * core 1 is idle. */
static void two_cores_one_busy(struct sim *s, struct hs_os_profile *os, struct sim_thread *cur,
			       struct sim_thread *a, struct sim_thread *b)
{
	linux_two_cores(s, os, cur);
	a->core = b->core = 0;
	a->ran_core = b->ran_core = SIM_NONE;
	a->rq_next = b;
	s->cores[0].rq_head = a;
	s->cores[0].rq_tail = b;
	s->cores[0].rq_len = 2;
	sum_queue(&s->cores[0]);
}

/*
 * Idle balancing under Linux.  Core 1 is idle and core 0 runs one thread
 * with two queued.  A newly idle core takes only a thread that left a
 * core 500 us ago or more, the one that left longest ago.  With both
 * queued threads hotter it stays idle and tries again at its next tick
 * (4 ms).  There a hot thread moves after more than one failed try in a
 * row (cache_nice_tries).
 */
static void idle_core_leaves_hot_threads(void **state)
{
	static struct hs_os_profile os;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread cur = { 0 }, a = { 0 }, b = { 0 };
	struct hs_event ev;

	(void)state;
	assert_non_null(s);
	two_cores_one_busy(s, &os, &cur, &a, &b);

	/* newly idle at 1 ms: a left 100 us ago, b 400 us ago */
	s->now = 1000000;
	a.left_ns = 900000;
	b.left_ns = 600000;
	sim_dispatch(s, 1);
	assert_null(s->cores[1].current);
	assert_int_equal(s->cores[0].rq_len, 2);
	assert_true(s->cores[1].balance_armed);
	assert_int_equal(hs_evq_pop(&s->q, &ev), 1);
	assert_int_equal(ev.time, 4000000);
	assert_int_equal(ev.type, EV_BALANCE);
	assert_int_equal(ev.target, 1);

	/* ticks at 4 and 8 ms, b 100 us before each: two failures */
	s->now = 4000000;
	b.left_ns = 3900000;
	a.left_ns = 3950000;
	sim_idle_balance(s, 1);
	assert_null(s->cores[1].current);
	assert_int_equal(s->cores[1].balance_failed, 1);
	assert_int_equal(hs_evq_pop(&s->q, &ev), 1);
	assert_int_equal(ev.time, 8000000);
	s->now = 8000000;
	b.left_ns = 7900000;
	a.left_ns = 7950000;
	sim_idle_balance(s, 1);
	assert_null(s->cores[1].current);
	assert_int_equal(s->cores[1].balance_failed, 2);
	assert_int_equal(hs_evq_pop(&s->q, &ev), 1);

	/* the third try at 12 ms moves b although it is hot, and the move
	 * clears its yield mark as a pick does */
	s->now = 12000000;
	b.left_ns = 11900000;
	a.left_ns = 11950000;
	b.yielded = true;
	sim_idle_balance(s, 1);
	assert_ptr_equal(s->cores[1].current, &b);
	assert_false(b.yielded);
	assert_int_equal(s->cores[1].balance_failed, 0);
	assert_int_equal(s->cores[0].rq_len, 1);
	assert_ptr_equal(s->cores[0].rq_head, &a);

	/* newly idle again later, with a cold (600 us) thread queued: it moves
	 * at once */
	s->cores[1].current = NULL;
	s->now = 20000000;
	a.left_ns = 19400000;
	sim_dispatch(s, 1);
	assert_ptr_equal(s->cores[1].current, &a);
	assert_int_equal(s->cores[0].rq_len, 0);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * The skip of a newly idle balance (newidle_cost 20 us, newidle = always).
 * Core 1 starts at the cap of its average idle time, 2 * 500 us, and its
 * balance pulls a cold thread, which clears its idle stamp.  With its
 * average at 15 us it goes idle at 2 ms and leaves cold b queued, but
 * stamps the time.  A wake-up onto it at 2.1 ms moves the average an
 * eighth of the way to the 100 us it idled: 15 + 85 / 8 = 25.625 us,
 * truncated as the kernel's s64 division.  Now above the cost, the next
 * newly idle moment pulls b.  A new thread's first placement samples
 * nothing.
 */
static void newidle_skipped_below_average_idle(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread cur = { 0 }, a = { 0 }, b = { 0 }, w = { 0 }, n = { 0 };
	struct sim_core *idle;

	(void)state;
	assert_non_null(s);
	os.newidle_cost_ns = 20000;
	two_cores_one_busy(s, &os, &cur, &a, &b);
	s->req = &req;
	idle = &s->cores[1];
	assert_int_equal(sim_avg_idle_cap(s), 1000000);
	assert_int_equal(idle->avg_idle, 1000000);

	/* at 1 ms a left 700 us ago, longer than b: it moves */
	s->now = 1000000;
	a.left_ns = 300000;
	b.left_ns = 400000;
	sim_dispatch(s, 1);
	assert_ptr_equal(idle->current, &a);
	assert_int_equal(idle->idle_stamp, -1);

	/* idle again at 2 ms with an average of 15 us: b stays queued */
	idle->current = NULL;
	idle->avg_idle = 15000;
	s->now = 2000000;
	sim_dispatch(s, 1);
	assert_null(idle->current);
	assert_ptr_equal(s->cores[0].rq_head, &b);
	assert_int_equal(idle->idle_stamp, 2000000);

	/* a wake-up placed on core 1 at 2.1 ms takes the sample */
	w.core = 1;
	w.recent_core = SIM_NONE;
	w.ran_core = SIM_NONE;
	w.exec_start = -1;
	s->now = 2100000;
	sim_place(s, &w, true, false);
	assert_ptr_equal(idle->current, &w);
	assert_int_equal(idle->avg_idle, 15000 + (100000 - 15000) / 8);
	assert_int_equal(idle->idle_stamp, -1);

	/* newly idle at 2.2 ms, above the cost now: b moves */
	idle->current = NULL;
	s->now = 2200000;
	sim_dispatch(s, 1);
	assert_ptr_equal(idle->current, &b);
	assert_int_equal(idle->idle_stamp, -1);

	/* a new thread placed on a stamped core takes no sample */
	idle->idle_stamp = 2000000;
	idle->current = NULL;
	n.core = SIM_NONE;
	n.recent_core = SIM_NONE;
	n.ran_core = SIM_NONE;
	n.fork_parent = SIM_NONE;
	n.exec_start = -1;
	sim_place(s, &n, false, false);
	assert_int_equal(idle->avg_idle, 25625);
	assert_int_equal(idle->idle_stamp, 2000000);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * newidle = proportional (NI_RANDOM).  Core 1 goes newly idle while core
 * 0 runs one thread and queues two.  With a ratio of 1023 every throw of
 * the 1024-sided die runs the balance, and a pull counts
 * (1024 + 512) / 1024 = 1 success.  The 1024th call sets the ratio to the
 * successes and halves both counts.  At a ratio of 101 a throw above 102
 * skips the balance, and a pull counts (1024 + 51) / 102 = 10.  A domain
 * that is not overloaded makes no call at all.
 */
static void proportional_newidle_throws_a_die(void **state)
{
	static struct hs_os_profile os;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread cur = { 0 }, a = { 0 }, b = { 0 };
	struct sim_core *idle;
	struct hs_rng predict;
	int skips = 0;
	bool pulled = false;

	(void)state;
	assert_non_null(s);
	two_cores_one_busy(s, &os, &cur, &a, &b);
	os.newidle = HS_NEWIDLE_PROPORTIONAL;
	idle = &s->cores[1];
	hs_rng_seed(&s->rng_sched, 7, HS_STREAM_SCHED);
	s->overloaded = true;
	idle->ni_call = 1022;
	idle->ni_success = 100;
	idle->ni_ratio = 1023;

	/* at 1 ms a left 600 us ago (cold) and b 100 us ago (hot): a moves */
	s->now = 1000000;
	a.left_ns = 400000;
	b.left_ns = 900000;
	sim_dispatch(s, 1);
	assert_ptr_equal(idle->current, &a);
	assert_int_equal(idle->ni_call, 1023);
	assert_int_equal(idle->ni_success, 101);
	assert_int_equal(idle->ni_ratio, 1023);
	assert_true(s->overloaded); /* core 0 still has two threads */

	/* idle again at 1.1 ms with only hot b queued: the balance runs,
	 * fails, and the 1024th call sets the ratio */
	idle->current = NULL;
	s->now = 1100000;
	sim_dispatch(s, 1);
	assert_null(idle->current);
	assert_true(idle->balance_armed);
	assert_int_equal(idle->ni_ratio, 101);
	assert_int_equal(idle->ni_call, 512);
	assert_int_equal(idle->ni_success, 50);

	/* b is cold from 2 ms on: each call throws the die, and b moves on the
	 * first throw of 102 or less */
	s->now = 2000000;
	for (int i = 0; i < 200 && !pulled; i++) {
		unsigned call = idle->ni_call;
		uint64_t d;

		predict = s->rng_sched;
		d = hs_rng_below(&predict, 1024);
		sim_dispatch(s, 1);
		assert_int_equal(idle->ni_call, call + 1);
		if (d > 102) {
			assert_null(idle->current);
			assert_int_equal(idle->ni_success, 50);
			skips++;
		} else {
			assert_ptr_equal(idle->current, &b);
			assert_int_equal(idle->ni_success, 60);
			pulled = true;
		}
	}
	assert_true(pulled);
	assert_true(skips > 0);

	/* core 0 left with one thread: a newly idle core 1 makes no call */
	idle->current = NULL;
	s->overloaded = false;
	idle->balance_armed = false;
	{
		unsigned call = idle->ni_call;

		sim_dispatch(s, 1);
		assert_null(idle->current);
		assert_int_equal(idle->ni_call, call);
		assert_false(idle->balance_armed);
	}
	hs_evq_free(&s->q);
	free(s);
}

/*
 * Under Linux a wake-up that finds no idle core within its search queues
 * on its busy previous core.  Core 1 went idle with nothing to take, so
 * the queued thread makes it balance at its next tick (4 ms), where it
 * takes the thread, which left a core long ago.  Both cores at full
 * utilization cut the search to no core (2 cores above 60 %).
 */
static void queued_wakeup_arms_idle_balance(void **state)
{
	static struct hs_os_profile os;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread cur = { 0 }, w = { 0 };
	struct hs_event ev;

	(void)state;
	assert_non_null(s);
	os.yield_kind = HS_YIELD_LINUX;
	os.slice_ns = 1000000;
	os.tick_ns = 4000000;
	os.context_switch_ns = 2000;
	s->os = &os;
	s->ncores = 2;
	hs_evq_init(&s->q);
	s->now = 1000000;
	for (int c = 0; c < 2; c++) {
		s->cores[c].busy_from = -1;
		s->cores[c].util = 1.0;
		s->cores[c].util_at = s->now;
	}
	cur.core = 0;
	cur.exec_start = -1;
	s->cores[0].current = &cur;
	w.core = 0;
	w.recent_core = SIM_NONE;
	w.ran_core = SIM_NONE;
	w.exec_start = -1;
	w.left_ns = 0;

	sim_place(s, &w, true, false);
	assert_ptr_equal(s->cores[0].rq_head, &w);
	assert_null(s->cores[1].current);
	assert_true(s->cores[1].balance_armed);
	assert_false(s->cores[0].balance_armed);
	assert_int_equal(hs_evq_pop(&s->q, &ev), 1);
	assert_int_equal(ev.time, 4000000);
	assert_int_equal(ev.type, EV_BALANCE);
	assert_int_equal(ev.target, 1);
	assert_int_equal(hs_evq_pop(&s->q, &ev), 0);

	s->now = 4000000;
	sim_idle_balance(s, 1);
	assert_ptr_equal(s->cores[1].current, &w);
	assert_int_equal(s->cores[0].rq_len, 0);
	assert_false(s->cores[1].balance_armed);
	hs_evq_free(&s->q);
	free(s);
}

/* A 2-core Linux sim with core 0 running cur; the caller frees it. */
static struct sim *delay_sim(struct hs_os_profile *os, struct sim_thread *cur)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	linux_two_cores(s, os, cur);
	os->wake_local_ns = 3000;
	os->wake_remote_ns = 20000;
	cur->exec_start = -1;
	cur->state = HS_TS_RUNNING;
	s->cores[0].on_cpu = true;
	return s;
}

/* Queues u alone on core 0 of s, as a thread that has not run yet.  Set
 * its vruntime first, because the queue's sum counts it. */
static void queue_alone(struct sim *s, struct sim_thread *u)
{
	u->core = 0;
	u->exec_start = -1;
	u->ran_core = SIM_NONE;
	s->cores[0].rq_head = u;
	s->cores[0].rq_tail = u;
	s->cores[0].rq_len = 1;
	sum_queue(&s->cores[0]);
}

/*
 * DELAY_DEQUEUE, the sleep.  Core 0 runs t (vruntime 500) with a queued
 * (vruntime 0): the average is 250, so t is not eligible and stays queued
 * as delayed while a runs.  A thread that sleeps while eligible leaves
 * with its lag, the average minus its vruntime.  An exit never delays.
 */
static void ineligible_sleeper_stays_queued(void **state)
{
	static struct hs_os_profile os;
	struct sim_thread t = { 0 }, a = { 0 };
	struct sim *s = delay_sim(&os, &t);

	(void)state;
	t.vruntime = 500;
	t.deadline = 1500;
	a.deadline = 1000000;
	queue_alone(s, &a);
	sim_leave_core(s, &t, true);
	assert_ptr_equal(s->cores[0].current, &a);
	assert_true(t.delayed);
	assert_int_equal(s->cores[0].rq_delayed, 1);
	assert_int_equal(s->cores[0].rq_len, 1);
	assert_ptr_equal(s->cores[0].rq_head, &t);
	assert_int_equal(t.vruntime, 500);
	assert_int_equal(t.deadline, 1500);
	hs_evq_free(&s->q);
	free(s);

	/* eligible (vruntime 0 against a's 500): it leaves, lag 250 */
	memset(&t, 0, sizeof(t));
	memset(&a, 0, sizeof(a));
	s = delay_sim(&os, &t);
	a.vruntime = 500;
	queue_alone(s, &a);
	sim_leave_core(s, &t, true);
	assert_false(t.delayed);
	assert_int_equal(t.vlag, 250);
	assert_int_equal(s->cores[0].rq_len, 0);
	assert_int_equal(s->cores[0].rq_delayed, 0);
	assert_ptr_equal(s->cores[0].current, &a);
	hs_evq_free(&s->q);
	free(s);

	/* not eligible but exiting: no delay */
	memset(&t, 0, sizeof(t));
	memset(&a, 0, sizeof(a));
	s = delay_sim(&os, &t);
	t.vruntime = 500;
	queue_alone(s, &a);
	sim_leave_core(s, &t, false);
	assert_false(t.delayed);
	assert_int_equal(t.vlag, -250);
	assert_int_equal(s->cores[0].rq_len, 0);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * DELAY_DEQUEUE, the pick and the balance.  A delayed thread that the
 * pick chooses (eligible, earliest deadline) leaves the queue with lag 0
 * (DELAY_ZERO clips its positive lag) and the pick goes on to the next.
 * An idle core never steals a delayed thread.
 */
static void picked_delayed_thread_leaves_queue(void **state)
{
	static struct hs_os_profile os;
	struct sim_thread cur = { 0 }, d = { 0 }, r = { 0 };
	struct sim *s = delay_sim(&os, &cur);

	(void)state;
	cur.vruntime = 300;
	d.core = r.core = 0;
	d.exec_start = r.exec_start = -1;
	d.vruntime = 0;
	d.deadline = 100;
	d.delayed = true;
	d.state = HS_TS_SLEEPING;
	d.rq_next = &r;
	r.vruntime = 0;
	r.deadline = 900;
	s->cores[0].rq_head = &d;
	s->cores[0].rq_tail = &r;
	s->cores[0].rq_len = 2;
	sum_queue(&s->cores[0]);
	s->cores[0].rq_delayed = 1;

	/* core 1 is idle: a runnable thread is there to take, the delayed
	 * one never */
	s->now = 10000000;
	d.left_ns = 0;
	r.left_ns = 9900000; /* hot: left 100 us ago */
	sim_dispatch(s, 1);
	assert_null(s->cores[1].current);
	assert_int_equal(s->cores[0].rq_len, 2);
	s->cores[1].balance_armed = false;
	hs_evq_free(&s->q);
	hs_evq_init(&s->q);

	/* average 100: d is eligible with the earliest deadline, so the pick
	 * takes it out with its lag of 100 clipped to 0, then returns r */
	assert_ptr_equal(sim_rq_pick(s, 0), &r);
	assert_false(d.delayed);
	assert_int_equal(d.vlag, 0);
	assert_null(s->cores[0].rq_head);
	assert_int_equal(s->cores[0].rq_len, 0);
	assert_int_equal(s->cores[0].rq_delayed, 0);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * DELAY_DEQUEUE, the wake-up.  A delayed thread is woken where it is
 * queued, though core 1 idles.  At vruntime 300 against the running
 * thread's 0 it has had more than its share, so it keeps its vruntime and
 * deadline.  At vruntime 0 against 300 it is owed CPU.  It is then placed
 * afresh with no lag, at the average of the others, and its deadline is a
 * slice later.
 */
static void delayed_thread_wakes_in_place(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread cur = { 0 }, d = { 0 };
	struct sim *s;

	(void)state;
	for (int owed = 0; owed < 2; owed++) {
		memset(&cur, 0, sizeof(cur));
		memset(&d, 0, sizeof(d));
		s = delay_sim(&os, &cur);
		s->req = &req;
		cur.vruntime = owed ? 300 : 0;
		cur.vprot = INT64_MAX; /* protected: no wake-up preemption */
		d.recent_core = SIM_NONE;
		d.vruntime = owed ? 0 : 300;
		d.deadline = 777;
		d.delayed = true;
		d.state = HS_TS_SLEEPING;
		queue_alone(s, &d);
		s->cores[0].rq_delayed = 1;
		sim_place(s, &d, true, true);
		assert_null(s->cores[1].current);
		assert_ptr_equal(s->cores[0].rq_head, &d);
		assert_int_equal(s->cores[0].rq_len, 1);
		assert_int_equal(s->cores[0].rq_delayed, 0);
		assert_false(d.delayed);
		assert_true(d.woken_by_wake);
		if (owed) {
			assert_int_equal(d.vruntime, 300);
			assert_int_equal(d.deadline, 300 + os.slice_ns);
		} else {
			assert_int_equal(d.vruntime, 300);
			assert_int_equal(d.deadline, 777);
		}
		hs_evq_free(&s->q);
		free(s);
	}
}

/*
 * A Linux wake-up to an idle previous core leaves recent_used_cpu as it
 * was (select_idle_sibling returns before reading it).  When the previous
 * core is busy, the core before it is tried and the previous core becomes
 * the recent one.
 */
static void wakeup_to_idle_prev_keeps_recent_core(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_thread cur = { 0 }, t = { 0 };

	(void)state;
	assert_non_null(s);
	os.yield_kind = HS_YIELD_LINUX;
	os.slice_ns = 1000000;
	os.tick_ns = 4000000;
	os.wake_remote_ns = 20000;
	s->os = &os;
	s->req = &req;
	s->ncores = 2;
	hs_evq_init(&s->q);
	for (int c = 0; c < 2; c++)
		s->cores[c].busy_from = -1;
	t.core = 0;
	t.recent_core = 1;
	t.ran_core = SIM_NONE;
	t.left_ns = -1;
	t.state = HS_TS_BLOCKED;
	sim_place(s, &t, true, false);
	assert_ptr_equal(s->cores[0].current, &t);
	assert_int_equal(t.recent_core, 1);

	/* core 0 busy now, core 1 idle and recent: it goes there */
	s->cores[0].current = &cur;
	s->cores[0].busy_from = 0;
	s->cores[0].util = 1.0; /* the search for an idle core is off */
	s->cores[1].util = 1.0;
	t.core = 0;
	sim_place(s, &t, true, false);
	assert_ptr_equal(s->cores[1].current, &t);
	assert_int_equal(t.recent_core, 0);
	hs_evq_free(&s->q);
	free(s);
}

/* Places a new thread whose creator runs on core `parent` of s and returns
 * the core it went to: the one it runs on, or the one whose queue it
 * joined. */
static int place_new_thread_from(struct sim *s, struct sim_thread *t, int parent)
{
	memset(t, 0, sizeof(*t));
	t->core = SIM_NONE;
	t->recent_core = SIM_NONE;
	t->ran_core = SIM_NONE;
	t->left_ns = -1;
	t->exec_start = -1;
	t->fork_parent = parent;
	t->state = HS_TS_RUNNABLE;
	sim_place(s, t, true, false);
	for (int c = 0; c < s->ncores; c++) {
		if (s->cores[c].current == t)
			return c;
		for (struct sim_thread *u = s->cores[c].rq_head; u; u = u->rq_next)
			if (u == t)
				return c;
	}
	return -1;
}

/* Places a new thread whose creator runs on core 0 of s, as
 * place_new_thread_from does. */
static int place_new_thread(struct sim *s, struct sim_thread *t)
{
	return place_new_thread_from(s, t, 0);
}

/* Removes t from the queue of s that contains it. */
static void unqueue(struct sim *s, struct sim_thread *t)
{
	for (int c = 0; c < s->ncores; c++) {
		struct sim_core *core = &s->cores[c];
		struct sim_thread **pp = &core->rq_head, *prev = NULL;

		for (; *pp; prev = *pp, pp = &(*pp)->rq_next)
			if (*pp == t) {
				*pp = t->rq_next;
				if (core->rq_tail == t)
					core->rq_tail = prev;
				core->rq_len--;
				sum_queue(core);
				return;
			}
	}
}

/*
 * Fork balancing (find_idlest_group).  With both cores busy and spare
 * capacity, a new thread queues behind its creator even when the
 * creator's queue is the longer one, and an idle core takes it.  With
 * both cores over 100/117 utilized it leaves the creator's overloaded
 * core (2 threads) for the fully busy one (1 thread), and stays with its
 * creator when the loads are equal.
 */
static void new_thread_stays_with_its_creator(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread creator = { 0 }, other = { 0 }, queued = { 0 }, t;
	struct sim *s = delay_sim(&os, &creator);

	(void)state;
	s->req = &req;
	s->cores[0].busy_from = 0;
	other.core = 1;
	other.state = HS_TS_RUNNING;
	other.exec_start = -1;
	s->cores[1].current = &other;
	s->cores[1].on_cpu = true;
	s->cores[1].busy_from = 0;
	queue_alone(s, &queued);
	s->cores[0].util = 0.2;
	s->cores[1].util = 0.2;
	s->cores[0].util_at = s->cores[1].util_at = 0;
	assert_int_equal(place_new_thread(s, &t), 0);
	unqueue(s, &t);

	s->cores[1].current = NULL;
	s->cores[1].on_cpu = false;
	assert_int_equal(place_new_thread(s, &t), 1);
	assert_ptr_equal(s->cores[1].current, &t);
	s->cores[1].current = &other;
	s->cores[1].on_cpu = true;

	/* both cores full: 2 threads on core 0 against 1 on core 1 */
	s->cores[0].util = 1.0;
	s->cores[1].util = 1.0;
	assert_int_equal(place_new_thread(s, &t), 1);
	unqueue(s, &t);

	/* equal loads: it stays */
	unqueue(s, &queued);
	assert_int_equal(place_new_thread(s, &t), 0);
	unqueue(s, &t);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * Fork balancing on 4 cores with the creator on core 2.  Among equally
 * idle cores, or equally loaded busy ones, Linux takes the first after
 * the creator's, wrapping (its groups are listed from the local CPU's),
 * so core 3 and not core 0.  A busy core takes the thread when the
 * creator's carries more than 17 % more load, here 3 threads against 2.
 */
static void new_thread_tie_goes_after_creator(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread creator = { 0 }, other[4] = { 0 }, queued[4] = { 0 }, extra = { 0 }, t;
	struct sim *s = delay_sim(&os, &creator);

	(void)state;
	s->req = &req;
	s->ncores = 4;
	s->cores[0].current = NULL;
	s->cores[0].on_cpu = false;
	creator.core = 2;
	s->cores[2].current = &creator;
	s->cores[2].on_cpu = true;
	for (int c = 0; c < 4; c++) {
		s->cores[c].busy_from = c == 2 ? 0 : -1;
		s->cores[c].util = 0.0;
		s->cores[c].util_at = 0;
	}

	/* cores 0, 1 and 3 idle with the same utilization */
	assert_int_equal(place_new_thread_from(s, &t, 2), 3);
	assert_ptr_equal(s->cores[3].current, &t);
	s->cores[3].current = NULL;
	s->cores[3].on_cpu = false;

	/* cores 0, 1 and 3 fully busy with one thread each, core 2 overloaded */
	for (int c = 0; c < 4; c++) {
		s->cores[c].util = 1.0;
		s->cores[c].util_busy = true;
		if (c == 2)
			continue;
		other[c].core = c;
		other[c].state = HS_TS_RUNNING;
		other[c].exec_start = -1;
		s->cores[c].current = &other[c];
		s->cores[c].on_cpu = true;
		s->cores[c].busy_from = 0;
	}
	queued[2].core = 2;
	queued[2].exec_start = -1;
	queued[2].ran_core = SIM_NONE;
	s->cores[2].rq_head = s->cores[2].rq_tail = &queued[2];
	s->cores[2].rq_len = 1;
	sum_queue(&s->cores[2]);
	assert_int_equal(place_new_thread_from(s, &t, 2), 3);
	unqueue(s, &t);

	/* all overloaded: 2 threads on cores 0, 1 and 3, 3 on core 2 */
	for (int c = 0; c < 4; c++) {
		if (c == 2)
			continue;
		queued[c].core = c;
		queued[c].exec_start = -1;
		queued[c].ran_core = SIM_NONE;
		s->cores[c].rq_head = s->cores[c].rq_tail = &queued[c];
		s->cores[c].rq_len = 1;
		sum_queue(&s->cores[c]);
	}
	extra.core = 2;
	extra.exec_start = -1;
	extra.ran_core = SIM_NONE;
	queued[2].rq_next = &extra;
	s->cores[2].rq_tail = &extra;
	s->cores[2].rq_len = 2;
	sum_queue(&s->cores[2]);
	assert_int_equal(place_new_thread_from(s, &t, 2), 3);
	unqueue(s, &t);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * The number of other cores a Linux wake-up searches for an idle one
 * (SIS_UTIL): n * (1 - (1.17 x)^2) rounded down, x the cores' average
 * utilization.
 */
static void idle_search_shrinks_with_utilization(void **state)
{
	(void)state;
	assert_int_equal(sim_idle_scan_depth(0.0, 2), 2);
	assert_int_equal(sim_idle_scan_depth(0.6, 2), 1);   /* 2 * (1 - 0.493) */
	assert_int_equal(sim_idle_scan_depth(0.61, 2), 0);  /* 2 * (1 - 0.509) */
	assert_int_equal(sim_idle_scan_depth(0.5, 8), 5);   /* 8 * (1 - 0.342) */
	assert_int_equal(sim_idle_scan_depth(0.85, 8), 0);
	assert_int_equal(sim_idle_scan_depth(1.0, 64), 0);
}

/* Asserts that x is y to within 1e-12. */
static void assert_near(double x, double y)
{
	if (!(fabs(x - y) < 1e-12))
		fail_msg("%.15g is not %.15g", x, y);
}

/*
 * util_est_update.  The estimate rises to util at once.  It stays when it
 * is within 1 % of a CPU above util, or when the thread waited (runnable
 * over util by more than 1 %).  Otherwise it moves a quarter of the way
 * down.
 */
static void utilization_estimate_follows_util_est_update(void **state)
{
	(void)state;
	assert_near(sim_util_est(0.2, 0.3, 0.3), 0.3);
	assert_near(sim_util_est(0.305, 0.3, 0.3), 0.305);
	assert_near(sim_util_est(0.5, 0.1, 0.4), 0.5);
	assert_near(sim_util_est(0.5, 0.1, 0.105), 0.4);
}

/*
 * post_init_entity_util_avg.  Core 1 is full, so new threads created on
 * core 0 stay there.  The first, on a core of no utilization or load,
 * starts at half a CPU and the core's utilization takes it.  The next
 * gets half the spare capacity left, 0.25, less than the core's
 * utilization over its load (0.5 / 1.001).  On a full core a new thread
 * gets nothing: with core 0 full too, and overloaded by its queue, the
 * third goes to core 1.
 */
static void new_threads_take_half_the_spare_capacity(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread creator = { 0 }, other = { 0 }, a, b, c;
	struct sim *s = delay_sim(&os, &creator);

	(void)state;
	s->req = &req;
	s->cores[0].busy_from = 0;
	other.core = 1;
	other.state = HS_TS_RUNNING;
	other.exec_start = -1;
	s->cores[1].current = &other;
	s->cores[1].on_cpu = true;
	s->cores[1].busy_from = 0;
	s->cores[1].util = 1.0;
	s->cores[1].util_busy = true;

	assert_int_equal(place_new_thread(s, &a), 0);
	assert_near(a.util, 0.5);
	assert_near(s->cores[0].util, 0.5);
	assert_near(s->cores[0].load, 1.0);

	assert_int_equal(place_new_thread(s, &b), 0);
	assert_near(b.util, 0.25);
	assert_near(s->cores[0].util, 0.75);

	s->cores[0].util = 1.0;
	assert_int_equal(place_new_thread(s, &c), 1);
	assert_near(c.util, 0.0);
	assert_near(s->cores[1].util, 1.0);
	hs_evq_free(&s->q);
	free(s);
}

/* Returns two Linux cores for the search limit tests: core 0 runs cur at
 * utilization util0, and core 1 idles at util1. */
static struct sim *util_sim(struct hs_os_profile *os, struct hs_run_request *req,
			    struct sim_thread *cur, double util0, double util1)
{
	struct sim *s = delay_sim(os, cur);

	s->req = req;
	s->cores[0].busy_from = 0;
	s->cores[0].util = util0;
	s->cores[0].util_busy = true;
	s->cores[1].util = util1;
	return s;
}

/* Wakes t, last on core 0, as a thread that has not run yet, and returns
 * the core it went to: 0 when it queued there, 1 when it started on
 * idle core 1.  Leaves core 1 idle and t off every queue. */
static int wake_from_core_0(struct sim *s, struct sim_thread *t)
{
	memset(t, 0, sizeof(*t));
	t->core = 0;
	t->recent_core = SIM_NONE;
	t->ran_core = SIM_NONE;
	t->left_ns = -1;
	t->exec_start = -1;
	t->est_core = t->load_core = SIM_NONE;
	t->state = HS_TS_BLOCKED;
	sim_place(s, t, true, false);
	if (s->cores[1].current == t) {
		s->cores[1].current = NULL;
		s->cores[1].on_cpu = false;
		return 1;
	}
	assert_ptr_equal(s->cores[0].rq_head, t);
	unqueue(s, t);
	return 0;
}

/*
 * cpu_util counts the estimates of a core's runnable threads, and the
 * search for an idle core reads its limit as the last periodic balance
 * wrote it.  Core 0 runs cur at utilization 0.1, its runnable threads'
 * estimates summing to 0.9, and core 1 is idle at 0.4.  The test moves
 * the cores' PELT clocks with now, so nothing decays.  Core 0's balance at tick 0 finds the average,
 * 0.65, too high for any search, and a woken thread queues on core 0.
 * With the estimates down to 0.1 it still queues there until the next
 * balance.  That balance is due 64 ms later: 2 ms doubled to 4 ms by the
 * balance that found no busier core, times 16 on a busy core, 16 ticks
 * of 4 ms.  At 60 ms nothing changes; at 64 ms the average is 0.25, the
 * search looks at one core, and the thread goes to core 1.
 */
static void runnable_estimates_turn_the_idle_search_off(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread cur = { 0 }, t;
	struct sim *s = util_sim(&os, &req, &cur, 0.1, 0.4);

	(void)state;
	s->cores[0].util_est_sum = 0.9;
	sim_load_balance(s, 0);
	assert_int_equal(s->nr_idle_scan, 0);
	assert_int_equal(s->cores[0].lb_interval, 4000000);
	assert_int_equal(wake_from_core_0(s, &t), 0);

	s->cores[0].util_est_sum = 0.1;
	assert_int_equal(wake_from_core_0(s, &t), 0);
	s->now = s->cores[0].util_at = s->cores[1].util_at = 60000000;
	sim_load_balance(s, 0);
	assert_int_equal(wake_from_core_0(s, &t), 0);
	s->now = s->cores[0].util_at = s->cores[1].util_at = 64000000;
	sim_load_balance(s, 0);
	assert_int_equal(s->nr_idle_scan, 1);
	assert_int_equal(s->cores[0].lb_last, 64000000);
	assert_int_equal(wake_from_core_0(s, &t), 1);
	hs_evq_free(&s->q);
	free(s);
}

/*
 * An idle core's balance writes the limit too, once per balance interval
 * (2 ms, one 4 ms tick), and a balance that finds a busier core keeps the
 * interval at its minimum.  Core 0 runs cur and queues q (two runnable
 * threads, load 2) at utilization 1.0, and idle core 1 is at 0.8: the
 * average, 0.9, allows no search.  The balance pulls q.
 */
static void idle_balance_writes_the_search_limit(void **state)
{
	static struct hs_os_profile os;
	static struct hs_run_request req;
	struct sim_thread cur = { 0 }, q = { 0 };
	struct sim *s = util_sim(&os, &req, &cur, 1.0, 0.8);

	(void)state;
	queue_alone(s, &q);
	q.left_ns = -1;
	s->now = 4000000;
	s->cores[0].util_at = s->cores[1].util_at = s->now;
	sim_idle_balance(s, 1);
	assert_int_equal(s->nr_idle_scan, 0);
	assert_int_equal(s->cores[1].lb_last, 4000000);
	assert_int_equal(s->cores[1].lb_interval, 2000000);
	assert_ptr_equal(s->cores[1].current, &q);
	hs_evq_free(&s->q);
	free(s);
}

static void cas_on_remote_line_costs_more(void **state)
{
	struct hs_config cfg;
	struct hs_run_result res;

	setup_config(&cfg, "linux", 2, 2);
	run_script(&cfg, S_CAS_PINGPONG, &res);
	/* first thread: the line is unowned, a local CAS */
	assert_int_equal(T.t[1] - T.t[0], 10);
	/* second thread on another core: the first thread wrote the line */
	assert_int_equal(T.t[3] - T.t[2], 80);
	hs_result_free(&res);
}

/*
 * A slice end with only delayed sleepers queued.  The kernel counts them
 * in rq->nr_running, so it picks: d1 (vruntime 0, deadline 100) is
 * eligible against the average 300 with an earlier deadline than the
 * current thread's, and leaves the queue with its lag of 300 clipped to
 * 0.  Then the average is 450, d2 (vruntime 600) is not eligible, and the
 * current thread keeps the core, with no preemption.
 */
/*
 * update_curr on an enqueue.  Core 0 runs cur (vruntime 300) past its
 * protection, with q queued (vruntime 200, deadline 900); core 1 is busy.
 * A thread w woken onto core 0 is placed at the average, 250, with a
 * deadline a slice later, so it is not the pick.  The kernel still
 * reschedules, because cur's protection is spent, and q, the eligible
 * thread with the earliest deadline, takes the core.  While cur is
 * protected the same wake-up switches nothing.
 */
static void enqueue_after_spent_protection_reschedules(void **state)
{
	for (int spent = 0; spent <= 1; spent++) {
		static struct hs_os_profile os;
		struct sim_thread cur = { 0 }, q = { 0 }, w = { 0 }, other = { 0 };
		struct sim *s = delay_sim(&os, &cur);

		(void)state;
		cur.vruntime = 300;
		cur.deadline = 1300;
		cur.vprot = spent ? 300 : 1300;
		cur.burst_end = 5000000;
		q.vruntime = 200;
		q.deadline = 900;
		q.state = HS_TS_RUNNABLE;
		queue_alone(s, &q);
		other.state = HS_TS_RUNNING;
		s->cores[1].current = &other;
		w.core = 0;
		w.recent_core = SIM_NONE;
		w.exec_start = -1;
		w.state = HS_TS_RUNNABLE;

		sim_place(s, &w, true, false);
		assert_int_equal(w.vruntime, 250);
		assert_int_equal(w.deadline, 250 + os.slice_ns);
		if (spent) {
			assert_ptr_equal(s->cores[0].current, &q);
			assert_int_equal(s->preemptions, 1);
			assert_int_equal(cur.pending_ns, 5000000);
			assert_int_equal(s->cores[0].rq_len, 2); /* w and cur */
		} else {
			assert_ptr_equal(s->cores[0].current, &cur);
			assert_int_equal(s->preemptions, 0);
			assert_int_equal(s->cores[0].rq_len, 2); /* q and w */
		}
		hs_evq_free(&s->q);
		free(s);
	}
}

/*
 * A thread that keeps its core at a tick with its protection spent is
 * checked again at the next tick.  Core 0 runs cur (vruntime 1 ms, at
 * its protection) with q queued at 1.5 ms, above the average, so q is
 * not eligible and cur wins the pick at the 4 ms tick.  The next check
 * is the 8 ms tick; without it cur would keep the core for good.
 */
static void spent_slice_rechecked_next_tick(void **state)
{
	static struct hs_os_profile os;
	struct sim_thread cur = { 0 }, q = { 0 };
	struct sim *s = delay_sim(&os, &cur);

	(void)state;
	s->now = 4000000;
	cur.vruntime = 1000000;
	cur.vprot = 1000000;
	cur.deadline = 2000000;
	cur.burst_end = 50000000;
	q.vruntime = 1500000;
	q.deadline = 2500000;
	q.state = HS_TS_RUNNABLE;
	queue_alone(s, &q);

	sim_slice_end(s, 0, s->cores[0].gen);
	assert_ptr_equal(s->cores[0].current, &cur);
	assert_int_equal(s->preemptions, 0);
	assert_int_equal(s->q.len, 1);
	assert_int_equal(hs_evq_peek_time(&s->q), 8000000);
	hs_evq_free(&s->q);
	free(s);
}

static void slice_end_drops_delayed_picks(void **state)
{
	static struct hs_os_profile os;
	struct sim_thread cur = { 0 }, d1 = { 0 }, d2 = { 0 };
	struct sim *s = delay_sim(&os, &cur);

	(void)state;
	cur.vruntime = 300;
	cur.deadline = 1300;
	d1.core = d2.core = 0;
	d1.exec_start = d2.exec_start = -1;
	d1.vruntime = 0;
	d1.deadline = 100;
	d2.vruntime = 600;
	d2.deadline = 1600;
	d1.delayed = d2.delayed = true;
	d1.state = d2.state = HS_TS_SLEEPING;
	d1.rq_next = &d2;
	s->cores[0].rq_head = &d1;
	s->cores[0].rq_tail = &d2;
	s->cores[0].rq_len = 2;
	s->cores[0].rq_delayed = 2;
	sum_queue(&s->cores[0]);

	sim_slice_end(s, 0, s->cores[0].gen);
	assert_ptr_equal(s->cores[0].current, &cur);
	assert_int_equal(s->preemptions, 0);
	assert_false(d1.delayed);
	assert_int_equal(d1.vlag, 0);
	assert_true(d2.delayed);
	assert_ptr_equal(s->cores[0].rq_head, &d2);
	assert_int_equal(s->cores[0].rq_len, 1);
	assert_int_equal(s->cores[0].rq_delayed, 1);
	assert_int_equal(s->cores[0].rq_vsum, 600);

	/* the current thread wins a tie on the deadline */
	d2.deadline = 1300;
	cur.vruntime = 700; /* average 650: d2 eligible, cur not */
	sim_drop_delayed_picks(s, 0, &cur);
	assert_false(d2.delayed);
	assert_int_equal(s->cores[0].rq_len, 0);
	hs_evq_free(&s->q);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linux_sleep_adds_slack_and_timer_wake),
		cmocka_unit_test(freebsd_sleep_adds_a_sixteenth),
		cmocka_unit_test(long_sleep_rounds_to_tick),
		cmocka_unit_test(short_sleep_polls_when_profile_says),
		cmocka_unit_test(timer_expiry_delays_thread_on_its_core),
		cmocka_unit_test(timer_wake_elsewhere_costs_a_remote_send),
		cmocka_unit_test(preempting_timer_wake_waits_for_the_interrupt),
		cmocka_unit_test(linux_yield_alone_returns_at_once),
		cmocka_unit_test(ule_yield_alone_switches),
		cmocka_unit_test(linux_yield_runs_peer_until_slice_end),
		cmocka_unit_test(linux_yield_loop_forfeits_slices),
		cmocka_unit_test(busy_core_sleep_pays_return),
		cmocka_unit_test(timer_program_paid_by_the_earliest),
		cmocka_unit_test(timed_wait_woken_while_arming),
		cmocka_unit_test(endless_sleep_reaches_the_limit),
		cmocka_unit_test(ule_yield_is_held_for_ticks),
		cmocka_unit_test(futex_wake_to_idle_core_costs_remote),
		cmocka_unit_test(futex_wake_charges_the_waker),
		cmocka_unit_test(futex_wake_on_busy_core_preempts_under_linux),
		cmocka_unit_test(futex_wake_on_busy_core_waits_its_turn_under_ule),
		cmocka_unit_test(slice_end_spends_wakeup_preemption),
		cmocka_unit_test(preempt_none_defers_kernel_preemption),
		cmocka_unit_test(cas_on_remote_line_costs_more),
		cmocka_unit_test(cpu_time_adds_switches),
		cmocka_unit_test(timers_in_one_window_expire_together),
		cmocka_unit_test(cold_switch_in_pays_the_curve),
		cmocka_unit_test(wakeup_during_switch_in_preempts),
		cmocka_unit_test(cancelled_timer_does_not_fire),
		cmocka_unit_test(pick_is_earliest_eligible_deadline),
		cmocka_unit_test(steal_pick_without_eligible_thread),
		cmocka_unit_test(min_vruntime_follows_the_queue),
		cmocka_unit_test(idle_core_leaves_hot_threads),
		cmocka_unit_test(proportional_newidle_throws_a_die),
		cmocka_unit_test(newidle_skipped_below_average_idle),
		cmocka_unit_test(idle_search_shrinks_with_utilization),
		cmocka_unit_test(utilization_estimate_follows_util_est_update),
		cmocka_unit_test(new_threads_take_half_the_spare_capacity),
		cmocka_unit_test(runnable_estimates_turn_the_idle_search_off),
		cmocka_unit_test(idle_balance_writes_the_search_limit),
		cmocka_unit_test(new_thread_stays_with_its_creator),
		cmocka_unit_test(new_thread_tie_goes_after_creator),
		cmocka_unit_test(wakeup_to_idle_prev_keeps_recent_core),
		cmocka_unit_test(queued_wakeup_arms_idle_balance),
		cmocka_unit_test(ineligible_sleeper_stays_queued),
		cmocka_unit_test(picked_delayed_thread_leaves_queue),
		cmocka_unit_test(delayed_thread_wakes_in_place),
		cmocka_unit_test(wakeup_elsewhere_counts_a_migration),
		cmocka_unit_test(slice_end_drops_delayed_picks),
		cmocka_unit_test(enqueue_after_spent_protection_reschedules),
		cmocka_unit_test(spent_slice_rechecked_next_tick),
	};

	return cmocka_run_group_tests_name("os model", tests, NULL, NULL);
}
