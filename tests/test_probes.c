/*
 * The spinner, sleeper and ring probes (bench/probe_native.c, probe_sim.c),
 * run as a user runs them.  A wrong argument gives one line on standard
 * error that names it, exit status 2 and no figures.  A profile that
 * cannot be loaded gives one line and exit status 1.  The native probe
 * runs with no poller and a few ms of work at most, and its figures are
 * checked only against bounds that hold at any speed.  The Makefile
 * builds both
 * probes next to HS_BIN before this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"

/* Writes the path of the probe `name`, which sits beside HS_BIN. */
static void probe_path(char *path, size_t size, const char *name)
{
	const char *slash = strrchr(HS_BIN, '/');

	snprintf(path, size, "%.*s/%s", (int)(slash - HS_BIN), HS_BIN, name);
}

/* Runs the probe `name` expecting `status`, no standard output and one
 * line on standard error that contains `needle`. */
static void expect_rejected(const char *name, const char *const *args, int status, const char *needle)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];

	assert_non_null(r);
	probe_path(path, sizeof(path), name);
	run_program(r, path, args);
	if (!strstr(r->err, needle))
		fprintf(stderr, "%s %s: expected '%s' in: %s", name, args[0] ? args[0] : "", needle, r->err);
	assert_int_equal(r->status, status);
	assert_string_equal(r->out, "");
	assert_int_equal(count_lines(r->err), 1);
	assert_non_null(strstr(r->err, needle));
	free(r);
}

static void native_probe_rejects_bad_args(void **unused)
{
	expect_rejected("probe_native", (const char *const[]){ NULL }, 2, "usage: probe_native");
	expect_rejected("probe_native", (const char *const[]){ "4", NULL }, 2, "usage: probe_native");
	expect_rejected("probe_native", (const char *const[]){ "4", "10", "some", NULL }, 2, "usage: probe_native");
	expect_rejected("probe_native", (const char *const[]){ "-1", "10", NULL }, 2, "invalid POLLERS '-1'");
	expect_rejected("probe_native", (const char *const[]){ "abc", "10", NULL }, 2, "invalid POLLERS 'abc'");
	expect_rejected("probe_native", (const char *const[]){ "10x", "10", NULL }, 2, "invalid POLLERS '10x'");
	expect_rejected("probe_native", (const char *const[]){ "4097", "10", NULL }, 2, "from 0 to 4096");
	expect_rejected("probe_native", (const char *const[]){ "4", "-5", NULL }, 2, "invalid WORK_MS '-5'");
	expect_rejected("probe_native", (const char *const[]){ "4", "0", NULL }, 2, "invalid WORK_MS '0'");
	expect_rejected("probe_native", (const char *const[]){ "4", "inf", NULL }, 2, "invalid WORK_MS 'inf'");
	expect_rejected("probe_native", (const char *const[]){ "4", "1e400", NULL }, 2, "invalid WORK_MS '1e400'");
	expect_rejected("probe_native", (const char *const[]){ "4", "nan", NULL }, 2, "invalid WORK_MS 'nan'");
	expect_rejected("probe_native", (const char *const[]){ "4", "10ms", NULL }, 2, "invalid WORK_MS '10ms'");
}

static void sim_probe_rejects_bad_args(void **unused)
{
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", NULL }, 2, "usage: probe_sim");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "-1", "10", NULL }, 2,
			"invalid POLLERS '-1'");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "abc", "10", NULL }, 2,
			"invalid POLLERS 'abc'");
	/* one more than the pollers is workload.threads, at most 1000000 */
	expect_rejected("probe_sim", (const char *const[]){ "linux", "2147483647", "10", NULL }, 2,
			"from 0 to 999999");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", "-5", NULL }, 2, "invalid WORK_MS '-5'");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", "inf", NULL }, 2, "invalid WORK_MS 'inf'");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", "10", "0", NULL }, 2, "invalid CORES '0'");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", "10", "2x", NULL }, 2,
			"invalid CORES '2x'");
	expect_rejected("probe_sim", (const char *const[]){ "linux", "4", "10", "1", "-1", NULL }, 2,
			"invalid SEEDS '-1'");
	expect_rejected("probe_sim", (const char *const[]){ "/nonexistent/host.ini", "4", "10", NULL }, 1,
			"/nonexistent/host.ini: OS profile file not found");
	expect_rejected("probe_sim", (const char *const[]){ "no-such-profile", "4", "10", NULL }, 1,
			"no shipped OS profile named 'no-such-profile'");
}

/* A valid command prints one line per seed and nothing on standard
 * error. */
static void sim_probe_prints_each_seed(void **unused)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_sim");
	run_program(r, path, (const char *const[]){ "linux", "2", "1", "1", "2", NULL });
	assert_int_equal(r->status, 0);
	assert_string_equal(r->err, "");
	assert_int_equal(count_lines(r->out), 2);
	assert_non_null(strstr(r->out, "pollers=2 cores=1 seed=1 wall_ms="));
	assert_non_null(strstr(r->out, "\npollers=2 cores=1 seed=2 wall_ms="));
	free(r);
}

/* --sleeper prints, per seed, the sleeper's cycles, CPU time per cycle and
 * lateness.  Among no pollers the sleeper wakes at its timer, so it is at
 * most a timer slack late. */
static void sim_probe_runs_the_sleeper(void **unused)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];
	double late = -1;
	long cycles = 0;
	const char *p;

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_sim");
	run_program(r, path, (const char *const[]){ "--sleeper", "linux", "0", "20", "1", "2", NULL });
	assert_int_equal(r->status, 0);
	assert_string_equal(r->err, "");
	assert_int_equal(count_lines(r->out), 2);
	assert_non_null(strstr(r->out, "pollers=0 cores=1 seed=1 mode=sleeper cycles="));
	assert_non_null(strstr(r->out, "\npollers=0 cores=1 seed=2 mode=sleeper cycles="));
	p = strstr(r->out, "cycles=");
	assert_int_equal(sscanf(p, "cycles=%ld", &cycles), 1);
	/* 20 ms of 20 us of work and a 500 us sleep (plus its slack) */
	assert_true(cycles >= 20000 / 600 && cycles <= 20000 / 520 + 1);
	p = strstr(r->out, "late_mean_us=");
	assert_int_equal(sscanf(p, "late_mean_us=%lf", &late), 1);
	assert_true(late >= 0 && late <= 100);
	free(r);

	expect_rejected("probe_sim", (const char *const[]){ "--sleeper", "linux", "4", NULL }, 2,
			"usage: probe_sim [--sleeper | --ring]");
	expect_rejected("probe_native", (const char *const[]){ "--sleeper", "4", NULL }, 2,
			"usage: probe_native [--sleeper | --ring]");
	expect_rejected("probe_native", (const char *const[]){ "--sleeper", "x", "10", NULL }, 2,
			"invalid POLLERS 'x'");
	expect_rejected("probe_native", (const char *const[]){ "--ring", "--sleeper", "4", "10", NULL }, 2,
			"unknown or second mode '--sleeper'");
	expect_rejected("probe_sim", (const char *const[]){ "--ring", "--sleeper", "linux", "4", "10", NULL }, 2,
			"unknown or second mode '--sleeper'");
	expect_rejected("probe_native", (const char *const[]){ "--sleeper", "0", "0.0000001", NULL }, 2,
			"WORK_MS '0.0000001' is below 1 ns");
}

/* Runs probe_sim with args and returns the number after `field=` in its
 * output, or -1 when the run failed or printed no such field. */
static double sim_probe_field(const char *const *args, const char *field)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096], key[64];
	double value = -1;
	const char *p;

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_sim");
	run_program(r, path, args);
	snprintf(key, sizeof(key), " %s=", field);
	p = strstr(r->out, key);
	if (r->status == 0 && p && sscanf(p + strlen(key), "%lf", &value) != 1)
		value = -1;
	free(r);
	return value;
}

/* The measured thread's CPU time counts over the window only, as the
 * native probe reads it.  So a spinner alone on its core has a share of
 * exactly 1, however short the work.  A sleeper alone costs the same CPU
 * per cycle over 1 ms as over 20 ms, and its M, created after the window,
 * is not in either. */
static void sim_probe_counts_window_cpu(void **unused)
{
	double share, short_cycle, long_cycle;

	share = sim_probe_field((const char *const[]){ "linux", "0", "1", NULL }, "share");
	assert_true(share == 1.0);
	/* and 15 us of work, one and a half steps, takes 15 us of wall time */
	share = sim_probe_field((const char *const[]){ "linux", "0", "0.015", NULL }, "work_share");
	assert_true(share == 1.0);
	short_cycle = sim_probe_field((const char *const[]){ "--sleeper", "linux", "0", "1", NULL },
				      "cpu_per_cycle_us");
	long_cycle = sim_probe_field((const char *const[]){ "--sleeper", "linux", "0", "20", NULL },
				     "cpu_per_cycle_us");
	assert_true(short_cycle >= 20.0);
	assert_true(long_cycle >= 20.0);
	assert_true(short_cycle == long_cycle);
}

/* probe_sim counts the measured thread's own preemptions, as probe_native
 * counts its involuntary switches: none alone, some among 16 pollers. */
static void sim_probe_counts_own_preemptions(void **unused)
{
	double alone, among;

	alone = sim_probe_field((const char *const[]){ "linux", "0", "5", NULL }, "preemptions");
	among = sim_probe_field((const char *const[]){ "linux", "16", "5", "1", NULL }, "preemptions");
	assert_true(alone == 0.0);
	assert_true(among >= 1.0);
}

/* The native spinner's work share counts only the steps of its own loop,
 * so it lies above 0 and never above the wall time it ran in. */
static void native_work_share_within_wall(void **unused)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];
	const char *p;
	double share = -1, work = -1;

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_native");
	run_program(r, path, (const char *const[]){ "0", "2", "all", NULL });
	assert_int_equal(r->status, 0);
	p = strstr(r->out, " share=");
	assert_non_null(p);
	assert_int_equal(sscanf(p, " share=%lf work_share=%lf", &share, &work), 2);
	assert_true(work > 0.0);
	assert_true(work <= 1.0005);
	free(r);
}

/* A native sleeper whose WORK_MS (1 ns) ends before its first cycle prints
 * cycles=0 and no averages over zero cycles.  It starts no poller and
 * pins nothing (`all`). */
static void native_sleeper_without_cycles(void **unused)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_native");
	run_program(r, path, (const char *const[]){ "--sleeper", "0", "0.000001", "all", NULL });
	assert_int_equal(r->status, 0);
	assert_string_equal(r->err, "");
	assert_string_equal(r->out, "pollers=0 cpus=all mode=sleeper cycles=0\n");
	free(r);
}

/* --ring on the linux profile.  On one core each hand-off waits for the
 * waker to block, then costs wake_local (5 us) and the futex calls, so a
 * 20 us step and its hand-off take 25.4 us.  On two idle cores the woken
 * thread starts on the other one after wake_remote (30 us). */
static void sim_probe_runs_the_ring(void **unused)
{
	double one_core, two_cores, handoffs;

	handoffs = sim_probe_field((const char *const[]){ "--ring", "linux", "0", "20", NULL }, "handoffs");
	one_core = sim_probe_field((const char *const[]){ "--ring", "linux", "0", "20", NULL },
				   "delay_p50_us");
	two_cores = sim_probe_field((const char *const[]){ "--ring", "linux", "0", "20", "2", NULL },
				    "delay_p50_us");
	assert_true(handoffs == 786);
	assert_true(one_core >= 5.0 && one_core < 6.0);
	assert_true(two_cores >= 30.0 && two_cores < 31.0);
	expect_rejected("probe_sim", (const char *const[]){ "--ring", "linux", "4", NULL }, 2,
			"usage: probe_sim [--sleeper | --ring]");
	expect_rejected("probe_native", (const char *const[]){ "--ring", "4", NULL }, 2,
			"usage: probe_native [--sleeper | --ring]");
}

/* The native ring: each hand-off follows 20 us of CPU time, so 50 ms hold
 * at most 2,500.  50 ms, not less, so that a loaded machine still completes
 * a hand-off.  A ring whose time ends within its first step hands off
 * nothing and prints no averages. */
static void native_ring_counts_handoffs(void **unused)
{
	struct cmd_result *r = calloc(1, sizeof(*r));
	char path[4096];
	const char *p;
	long handoffs = -1;
	double mean = -1;

	assert_non_null(r);
	probe_path(path, sizeof(path), "probe_native");
	run_program(r, path, (const char *const[]){ "--ring", "0", "50", NULL });
	assert_int_equal(r->status, 0);
	p = strstr(r->out, "handoffs=");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "handoffs=%ld delay_mean_us=%lf", &handoffs, &mean), 2);
	assert_true(handoffs >= 1 && handoffs <= 2500);
	assert_true(mean >= 0);
	run_program(r, path, (const char *const[]){ "--ring", "0", "0.000001", "all", NULL });
	assert_int_equal(r->status, 0);
	assert_string_equal(r->out, "pollers=0 cpus=all mode=ring handoffs=0\n");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(native_probe_rejects_bad_args),
		cmocka_unit_test(sim_probe_rejects_bad_args),
		cmocka_unit_test(sim_probe_prints_each_seed),
		cmocka_unit_test(sim_probe_runs_the_sleeper),
		cmocka_unit_test(sim_probe_counts_window_cpu),
		cmocka_unit_test(sim_probe_counts_own_preemptions),
		cmocka_unit_test(native_work_share_within_wall),
		cmocka_unit_test(native_sleeper_without_cycles),
		cmocka_unit_test(sim_probe_runs_the_ring),
		cmocka_unit_test(native_ring_counts_handoffs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
