/*
 * Tests of self-validation: the host profile that calibration writes, the
 * `host` profile lookup, native runs that hand P's over under contention,
 * and `herdsim validate` writing both backends to the database.
 *
 * The name contains "threaded" so that `make tsan` runs it: calibration
 * and the native backend start real threads.  Nothing here asserts a
 * duration or how close the simulation comes to the native runs; that
 * depends on the machine and is reported in docs/validation.md.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "calibrate.h"
#include "config.h"
#include "helpers.h"
#include "hostcheck.h"
#include "registry.h"
#include "result.h"

/* Calibrates at a small scale, writes the profile and loads it back with
 * the profile parser: name `host`, and every figure that a Linux machine
 * cannot measure as zero is positive. */
static void calibration_parses_back_as_profile(void **unused)
{
	struct hs_calib_opts opts = { .scale = 0.02 };
	struct hs_calib_report *rep = calloc(1, sizeof(*rep));
	struct hs_os_profile os;
	struct hs_error err = { 0 };
	char path[512];

	assert_non_null(rep);
	snprintf(path, sizeof(path), "%s/host.ini", make_temp_dir());
	assert_int_equal(hs_calibrate(&opts, rep, &err), 0);
	assert_int_equal(hs_calibrate_write_profile(rep, path, &err), 0);
	assert_int_equal(hs_os_profile_load(&os, path, &err), 0);

	assert_string_equal(os.name, "host");
	assert_true(os.slice_ns > 0);
	assert_true(os.tick_ns > 0);
	assert_true(os.syscall_ns > 0);
	assert_true(os.atomic_local_ns > 0);
	assert_true(os.atomic_remote_ns > 0);
	assert_true(os.load_remote_ns > 0);
	assert_int_equal(os.yield_kind, HS_YIELD_LINUX);
	assert_true(os.sleep_min_ns > 0);
	assert_true(os.wake_local_ns > 0);
	assert_true(os.wake_remote_ns > 0);
	assert_true(os.timer_wake_ns > 0);
	assert_true(os.thread_create_ns > 0);
	assert_true(os.thread_exit_ns > 0);
	assert_true(os.mmap_ns > 0);
	/* the derived profile is the one written */
	assert_int_equal(os.syscall_ns, rep->profile.syscall_ns);
	assert_int_equal(os.wake_local_ns, rep->profile.wake_local_ns);
	free(rep);
}

/* Reads the file at path into buf, NUL-terminated and cut to size - 1
 * bytes. */
static void read_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* hs_calibrate calls after_pass after each pass, in order, and a non-zero
 * return ends the calibration there with that value. */
struct pass_log {
	int seen[HS_CALIB_MAX_PASSES + 1], n, stop_at;
};

static int log_pass(void *ctx, int pass, int passes, struct hs_error *err)
{
	struct pass_log *l = ctx;

	assert_int_equal(passes, 3);
	l->seen[l->n++] = pass;
	if (pass == l->stop_at)
		return hs_error_set(err, HS_E_IO, NULL, 0, NULL, "stopped after pass %d", pass);
	return 0;
}

static void calibration_calls_back_after_each_pass(void **unused)
{
	struct pass_log log = { .stop_at = 0 };
	struct hs_calib_opts opts = { .scale = 0.02, .passes = 3, .after_pass = log_pass, .pass_ctx = &log };
	struct hs_calib_report *rep = calloc(1, sizeof(*rep));
	struct hs_error err = { 0 };

	assert_non_null(rep);
	assert_int_equal(hs_calibrate(&opts, rep, &err), 0);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.seen[0], 1);
	assert_int_equal(log.seen[1], 2);
	assert_int_equal(log.seen[2], 3);
	assert_int_equal(rep->passes, 3);

	memset(&log, 0, sizeof(log));
	log.stop_at = 2;
	assert_int_equal(hs_calibrate(&opts, rep, &err), HS_E_IO);
	assert_int_equal(log.n, 2);
	assert_non_null(strstr(err.msg, "stopped after pass 2"));
	free(rep);
}

/* `host` names $HERDSIM_HOST_PROFILE, and the error for a missing file asks to run
 * `herdsim calibrate`. */
static void host_name_finds_the_profile_file(void **unused)
{
	struct hs_os_profile os;
	struct hs_error err = { 0 };
	char path[512];

	snprintf(path, sizeof(path), "%s/absent.ini", make_temp_dir());
	setenv("HERDSIM_HOST_PROFILE", path, 1);
	assert_int_equal(hs_os_profile_load(&os, "host", &err), HS_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "herdsim calibrate"));

	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/freebsd.ini", 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(hs_os_profile_load(&os, "host", &err), 0);
	assert_string_equal(os.name, "freebsd");
	assert_int_equal(os.yield_kind, HS_YIELD_ULE);
	unsetenv("HERDSIM_HOST_PROFILE");
}

/* Runs 12 threads that all call runtime.GC() with one P, so P's and the
 * stopped world pass through the runtime's separate wait queues.  Every
 * callback completes and every M is spare at the end. */
static void native_gc_with_one_p_conserves_ms(void **unused)
{
	static const char *const names[] = { "single", "waiters" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct hs_policy *p = hs_policy_find(names[i]);
		struct hs_config cfg;
		struct hs_run_request req = { 0 };
		struct hs_run_result r;
		struct hs_error err = { 0 };

		assert_non_null(p);
		assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, NULL, &err), 0);
		cfg.scenario.threads = 12;
		cfg.scenario.cores = 2;
		cfg.scenario.time_limit_ns = 30000000000LL;
		cfg.runtime.gomaxprocs = 1;
		cfg.runtime.gc_mark_ns = 200000;
		req.cfg = &cfg;
		req.policy = p;
		req.seed = 1;
		req.record = HS_RECORD_SUMMARY;
		assert_int_equal(hs_policy_params(p, &cfg.scenario, req.policy_params, &err), 0);
		hs_result_init(&r);
		assert_int_equal(hs_backend_native.run(&req, &r, &err), 0);
		if (r.status != HS_STATUS_OK)
			fprintf(stderr, "%s: %s: %s\n", names[i], hs_status_name(r.status), r.error);
		assert_int_equal(r.status, HS_STATUS_OK);
		assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 12);
		assert_int_equal((int)hs_result_get(&r, "m_created", -1),
				 (int)hs_result_get(&r, "m_spare_end", -2));
		assert_true(hs_result_get(&r, "gc_cycles", 0) >= 1);
		hs_result_free(&r);
	}
}

static const char tiny_scenario[] =
	"[scenario]\n"
	"name = tiny\n"
	"time_limit = 30s\n"
	"seed = 3\n"
	"[workload]\n"
	"threads = 4\n"
	"arrival = burst\n"
	"callbacks = 2\n"
	"[callback]\n"
	"steps = work:20us, gc\n"
	"[policy]\n"
	"name = all\n";

/* Writes tiny_scenario into a new temporary directory and fills scen with
 * its path and db with a database path there.  Returns the directory. */
static const char *write_tiny(char scen[512], char db[512])
{
	const char *dir = make_temp_dir();

	snprintf(scen, 512, "%s/tiny.ini", dir);
	snprintf(db, 512, "%s/v.sqlite", dir);
	write_file(scen, tiny_scenario);
	return dir;
}

/* `herdsim validate` with the host profile taken from
 * $HERDSIM_HOST_PROFILE runs every policy on both backends and records
 * reps runs of each policy per backend. */
static void validate_writes_both_backends(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));
	int64_t npol;

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--reps", "2", "--db", db, NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	if (r->status != 0)
		fprintf(stderr, "%s", r->err);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "makespan ratio waiters/single: native"));
	assert_non_null(strstr(r->out, "\n  CPU time ms "));
	assert_non_null(strstr(r->out, "\n  preemptions "));
	/* two replications give the median no 95 % interval, and the
	 * targets still read met or missed on the medians */
	assert_non_null(strstr(r->out, "\ntargets: sim median makespan within 15 % of native"));
	assert_non_null(strstr(r->out, "2 native runs; a 95 % interval of the median needs at least 6\n"));
	assert_non_null(strstr(r->out, "\n  waiters/single "));

	for (npol = 0; hs_policies[npol]; npol++)
		;
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native' AND status = 'ok'"),
			 2 * npol);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim' AND status = 'ok'"),
			 2 * npol);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim' AND os = 'linux'"),
			 2 * npol);
	/* both backends ran on this machine's CPU count, and the native runs
	 * name the profile they were compared with */
	assert_int_equal(db_int(db, "SELECT count(DISTINCT value) FROM run_param WHERE key = 'machine.cores'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param p JOIN run r ON r.id = p.run_id "
				    "WHERE r.backend = 'native' AND p.key = 'os.name' AND p.value = 'linux'"),
			 2 * npol);
	/* both backends report CPU time: every run spent some */
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar WHERE name = 'cpu_ns' AND value > 0"),
			 4 * npol);
	/* every callback of every run completed: 4 threads x 2 callbacks */
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar WHERE name = 'callbacks' AND value = 8"),
			 4 * npol);
	/* a host check before each native run, none for the simulated ones */
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar s JOIN run r ON r.id = s.run_id "
				    "WHERE s.name = 'host_cycle_ns' AND s.value > 0 AND r.backend = 'native'"),
			 2 * npol);
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar WHERE name = 'host_cycle_ns'"), 2 * npol);
	assert_non_null(strstr(r->out, "\nhost check, a usleep(1) cycle with every CPU busy: "));
	/* the native runs go replication by replication, every policy in
	 * turn, so that each policy meets the same states of the host */
	assert_int_equal(db_int(db, "SELECT count(*) FROM run a JOIN run b ON b.backend = 'native' "
				    "AND b.id > a.id AND b.replication < a.replication "
				    "WHERE a.backend = 'native'"),
			 0);
	assert_int_equal(db_int(db, "SELECT count(DISTINCT policy) FROM run WHERE backend = 'native' "
				    "AND replication = 0"),
			 npol);
	free(r);
}

/* Where the kernel refuses the perf counter, a native run stores NULL
 * for migrations, and validate prints "-" for its median and its
 * half-width, not a 0 that reads as measured.  The simulated figures stay. */
static void validate_without_perf_counter(void **unused)
{
	char scen[512], db[512], row[128];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim_without_perf(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "1",
							  "--db", db, NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	if (r->status != 0)
		fprintf(stderr, "%s", r->err);
	assert_int_equal(r->status, 0);

	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar s JOIN run r ON r.id = s.run_id "
				    "WHERE s.name = 'migrations' AND s.value IS NULL AND r.backend = 'native'"),
			 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar s JOIN run r ON r.id = s.run_id "
				    "WHERE s.name = 'migrations' AND s.value >= 0 AND r.backend = 'sim'"),
			 1);
	/* the native median and its interval, then the simulated median */
	snprintf(row, sizeof(row), "\n  %-14s %12s %17s ", "migrations", "-", "-");
	if (!strstr(r->out, row))
		fprintf(stderr, "no row starting '%s' in:\n%s", row + 1, r->out);
	assert_non_null(strstr(r->out, row));
	free(r);
}

/* --strict turns a missed target into exit status 4, with --quiet too.
 * Two backends' medians do not agree to within a tolerance of 1e-9 in
 * practice, and the same runs without --strict exit 0. */
static void validate_strict_fails_on_missed_target(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "1",
					      "--tolerance", "1e-9", "--strict", "--quiet", "--db", db,
					      NULL });
	assert_int_equal(r->status, 4);
	assert_non_null(strstr(r->err, "1 validation target missed (--strict); run without --quiet to see which\n"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run"), 2);

	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "1",
					      "--tolerance", "1e-9", "--strict", "--db", db, NULL });
	assert_int_equal(r->status, 4);
	assert_non_null(strstr(r->err, "1 validation target missed (--strict); the targets lines "
					"above name them\n"));

	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "1",
					      "--tolerance", "1e-9", "--db", db, NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "missed"));
	free(r);
}

/* From 6 runs up the table gives each median's distribution-free 95 %
 * interval.  For 6 runs that is the smallest to the largest value, read
 * here from the database for both backends. */
static void validate_prints_median_intervals(void **unused)
{
	static const char *const backend[2] = { "native", "sim" };
	char scen[512], db[512], want[2][64], got[2][64];
	struct cmd_result *r = calloc(1, sizeof(*r));
	const char *line;
	double median[2];

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "6", "--db", db,
					      NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	if (r->status != 0)
		fprintf(stderr, "%s", r->err);
	assert_int_equal(r->status, 0);
	for (int b = 0; b < 2; b++) {
		char sql[2][256];
		int64_t lo, hi;

		for (int m = 0; m < 2; m++)
			snprintf(sql[m], sizeof(sql[m]),
				 "SELECT CAST(%s(s.value) AS INTEGER) FROM scalar s JOIN run r ON r.id = s.run_id "
				 "WHERE s.name = 'makespan_ns' AND r.backend = '%s'",
				 m == 0 ? "min" : "max", backend[b]);
		lo = db_int(db, sql[0]);
		hi = db_int(db, sql[1]);
		assert_true(lo > 0 && lo <= hi);
		snprintf(want[b], sizeof(want[b]), "%.2f-%.2f", (double)lo / 1e6, (double)hi / 1e6);
	}
	assert_non_null(strstr(r->out, "\nmedians; CI is the median's distribution-free 95% interval"));
	line = strstr(r->out, "\n  makespan ms ");
	assert_non_null(line);
	assert_int_equal(sscanf(line, " makespan ms %lf %63s %lf %63s", &median[0], got[0], &median[1], got[1]), 4);
	assert_string_equal(got[0], want[0]);
	assert_string_equal(got[1], want[1]);
	free(r);
}

/* A simulated run that times out has no makespan.  validate records it,
 * leaves it out of the figures, prints how many runs were left out and
 * exits with 3, while the native figures stay.  A thread start of 1 s of
 * simulated CPU time puts every simulated run past a 2 s limit.  The
 * native runs do not read the OS profile, so they take milliseconds. */
static void validate_leaves_out_timeouts(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--policy", "waiters",
					      "--reps", "2", "--set", "os.thread_create=1s", "--set",
					      "scenario.time_limit=2s", "--db", db, NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	assert_int_equal(r->status, 3);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim' AND status = 'timeout'"),
			 4);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native' AND status = 'ok'"),
			 4);
	assert_non_null(strstr(r->out, "left out above: native 0 of 2, sim 2 of 2\n"));
	/* with no simulated makespan each target line names the backend that had no completed run */
	assert_non_null(strstr(r->out, "\n  single                -  no completed simulated runs\n"));
	assert_non_null(strstr(r->out, "\n  waiters/single        -  no completed simulated runs\n"));
	/* no simulated figure: dashes, no ratio, and no ratio of ratios */
	assert_non_null(strstr(r->out, "\n  makespan ms "));
	assert_null(strstr(r->out, "nan"));
	assert_null(strstr(r->out, "makespan ratio waiters/single"));
	assert_non_null(strstr(r->err, "timeout"));
	free(r);
}

/* `herdsim validate --os FILE` with a profile that lacks a key names the
 * key and offers --set, and runs both backends once --set supplies it. */
static void validate_set_supplies_missing_key(void **unused)
{
	const char *dir;
	char scen[512], db[512], prof[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	dir = write_tiny(scen, db);
	snprintf(prof, sizeof(prof), "%s/old-host.ini", dir);
	write_shipped_without_key(prof, "sim/profiles/linux.ini", "timer_irq");

	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", prof, "--policy", "single",
					      "--reps", "1", "--db", db, NULL });
	assert_int_equal(r->status, 1);
	assert_non_null(strstr(r->err, prof));
	assert_non_null(strstr(r->err, "os.timer_irq"));
	assert_non_null(strstr(r->err, "--set os.timer_irq=VALUE"));
	assert_int_equal(access(db, F_OK), -1);

	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", prof, "--policy", "single",
					      "--reps", "1", "--set", "os.timer_irq=2us", "--db", db, NULL });
	if (r->status != 0)
		fprintf(stderr, "%s", r->err);
	assert_int_equal(r->status, 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim' AND status = 'ok'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native' AND status = 'ok'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param p JOIN run r ON r.id = p.run_id "
				    "WHERE r.backend = 'sim' AND p.key = 'os.timer_irq' AND p.value = '2000'"), 1);
	free(r);
}

/* `herdsim validate --calibrate=SCALE` measures the machine into the file
 * --os names, in passes between the native runs, and the simulated runs
 * use that profile. */
static void validate_calibrates_first(void **unused)
{
	const char *dir;
	char scen[512], db[512], prof[512], text[65536];
	struct cmd_result *r = calloc(1, sizeof(*r));
	struct hs_config cfg;
	struct hs_error err = { 0 };

	assert_non_null(r);
	dir = write_tiny(scen, db);
	snprintf(prof, sizeof(prof), "%s/measured.ini", dir);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "2",
					      "--os", prof, "--calibrate=0.01", "--db", db, NULL });
	if (r->status != 0)
		fprintf(stderr, "%s", r->err);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "profile 'host' written to"));
	assert_int_equal(hs_config_load(&cfg, scen, NULL, 0, prof, &err), 0);
	assert_string_equal(cfg.os.name, "host");
	/* one calibration pass per replication (at most 9), with the native
	 * runs between them */
	read_text(prof, text, sizeof(text));
	assert_non_null(strstr(text, "Each figure was measured in 2 passes"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim' AND os = 'host'"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native'"), 2);
	/* the native runs name the measured profile, written after they ran */
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param p JOIN run r ON r.id = p.run_id "
				    "WHERE r.backend = 'native' AND p.key = 'os.name' AND p.value = 'host'"),
			 2);
	/* the host check after the passes is printed beside the native ones */
	assert_non_null(strstr(r->out, " us after the calibration passes (median)\n"));

	/* a shipped profile cannot be written: rejected before any run */
	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", "linux", "--calibrate",
					      "--db", db, NULL });
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->err, "--calibrate"));
	assert_non_null(strstr(r->err, "reads as the name of a shipped profile"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run"), 4);
	free(r);
}

/* A signal before the simulated runs records nothing and leaves no new
 * database.  One during them keeps the runs that ended, native and
 * simulated, and the exit status is 130. */
static void validate_interrupt_keeps_whole_runs(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	setenv("HS_VALIDATE_TEST_SIGNAL", "INT:1", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "2",
					      "--db", db, NULL });
	assert_int_equal(r->status, 130);
	assert_non_null(strstr(r->err, "herdsim: interrupted; no run is recorded\n"));
	assert_int_equal(access(db, F_OK), -1);

	memset(r, 0, sizeof(*r));
	setenv("HS_VALIDATE_TEST_SIGNAL", "TERM:3", 1);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "2",
					      "--db", db, NULL });
	unsetenv("HS_VALIDATE_TEST_SIGNAL");
	unsetenv("HERDSIM_HOST_PROFILE");
	assert_int_equal(r->status, 130);
	assert_non_null(strstr(r->err, "herdsim: interrupted; 3 runs recorded in "));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native'"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'sim'"), 1);
	assert_null(strstr(r->out, "\ntargets: "));
	free(r);
}

/* The host check measures a cycle of a plausible size and joins every
 * poller it started.  A cycle is a system call, a timer and a switch:
 * more than 100 ns and less than 1 ms of CPU on any machine that runs the
 * tests. */
static void host_check_measures_a_cycle(void **unused)
{
	struct hs_error err = { 0 };
	double cycle = 0;
	int before = count_task_threads(-1);

	assert_int_equal(hs_hostcheck_cycle(5000000, &cycle, &err), 0);
	assert_true(cycle > 100);
	assert_true(cycle < 1000000);
	assert_int_equal(wait_task_threads(before, 1000), before);
}

/* A host check that cannot start its pinned pollers (sched_setaffinity
 * refused) leaves the check out of each native run with a warning, and
 * the runs go on: the figure only informs. */
static void validate_goes_on_without_host_check(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	run_herdsim_denying(r, SYS_sched_setaffinity,
			    (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "2",
						   "--db", db, NULL });
	unsetenv("HERDSIM_HOST_PROFILE");
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->err, "herdsim: warning: host check: "));
	assert_non_null(strstr(r->err, "this native run has no host check"));
	assert_null(strstr(r->out, "host check, a usleep(1) cycle"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE backend = 'native' AND status = 'ok'"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar WHERE name = 'host_cycle_ns' AND value IS NULL"), 2);
	free(r);
}

/* Without permission for SCHED_FIFO (sched_setscheduler refused),
 * calibrate skips the irq_wake figures, prints why in its table, and
 * writes irq_wake = wake_send_local with the reason in the profile. */
static void calibrate_without_fifo_falls_back(void **unused)
{
	char prof[512];
	struct cmd_result *r = calloc(1, sizeof(*r));
	FILE *f;
	char line[512];
	long wake = -1, irq = -2;

	assert_non_null(r);
	snprintf(prof, sizeof(prof), "%s/host.ini", make_temp_dir());
	run_herdsim_denying(r, SYS_sched_setscheduler,
			    (const char *const[]){ "calibrate", "--scale", "0.02", "--out", prof, NULL });
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "irq_wake_16"));
	assert_non_null(strstr(r->out, "not measured: needs SCHED_FIFO"));
	f = fopen(prof, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "wake_send_local = %ld", &wake);
		sscanf(line, "irq_wake = %ld", &irq);
	}
	fclose(f);
	assert_true(wake >= 0);
	assert_int_equal(irq, wake);
	free(r);
}

/* validate sizes both machines by the affinity mask: run under one CPU,
 * it records machine.cores = 1 for the native and the simulated runs.
 * Skipped where this process has a single CPU to begin with. */
static void validate_uses_the_affinity_mask(void **unused)
{
	char scen[512], db[512];
	struct cmd_result *r = calloc(1, sizeof(*r));
	cpu_set_t all, first_cpu;

	assert_non_null(r);
	if (sched_getaffinity(0, sizeof(all), &all) != 0 || CPU_COUNT(&all) < 2) {
		free(r);
		skip();
	}
	CPU_ZERO(&first_cpu);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &first_cpu);
			break;
		}
	write_tiny(scen, db);
	setenv("HERDSIM_HOST_PROFILE", HS_SRCDIR "/sim/profiles/linux.ini", 1);
	assert_int_equal(sched_setaffinity(0, sizeof(first_cpu), &first_cpu), 0);
	run_herdsim(r, (const char *const[]){ "validate", scen, "--policy", "single", "--reps", "1", "--db", db,
					      NULL });
	assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	unsetenv("HERDSIM_HOST_PROFILE");
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "on 1 CPU: native runs"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param WHERE key = 'machine.cores' AND value = '1'"),
			 2);
	free(r);
}

/* Inputs that validate --calibrate and calibrate reject before measuring:
 * no figure is measured, no profile or database is written. */
static void calibration_inputs_checked_first(void **unused)
{
	const char *dir;
	char scen[512], db[512], prof[512], blocker[512], under_file[512];
	struct cmd_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	dir = write_tiny(scen, db);
	snprintf(prof, sizeof(prof), "%s/measured.ini", dir);
	snprintf(blocker, sizeof(blocker), "%s/plain-file", dir);
	snprintf(under_file, sizeof(under_file), "%s/plain-file/x.ini", dir);
	write_file(blocker, "not a directory\n");

	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", prof, "--calibrate=abc",
					      "--db", db, NULL });
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->err, "invalid scale 'abc'"));
	assert_null(strchr(strchr(r->err, '\n') + 1, '\n')); /* one line */

	/* strtod's hexadecimal and infinity forms are not scales */
	for (int i = 0; i < 2; i++) {
		const char *arg = i == 0 ? "--calibrate=0x1" : "--calibrate=INF";

		memset(r, 0, sizeof(*r));
		run_herdsim(r, (const char *const[]){ "validate", scen, "--os", prof, arg, "--db", db,
						      NULL });
		assert_int_equal(r->status, 2);
		assert_non_null(strstr(r->err, "invalid scale"));
		assert_int_equal(access(db, F_OK), -1);
	}
	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "calibrate", "--scale", "0x1", "--out", prof, NULL });
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->err, "invalid --scale '0x1'"));

	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", prof, "--calibrate=0.01",
					      "--policy", "nosuch", "--db", db, NULL });
	assert_int_not_equal(r->status, 0);
	assert_non_null(strstr(r->err, "unknown policy"));
	assert_null(strstr(r->err, "calibrated"));

	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", dir, "--calibrate=0.01",
					      "--db", db, NULL });
	assert_int_not_equal(r->status, 0);
	assert_non_null(strstr(r->err, "is a directory"));

	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "calibrate", "--scale", "0.01", "--out", under_file, NULL });
	assert_int_not_equal(r->status, 0);
	assert_non_null(strstr(r->err, "cannot create"));
	assert_null(strstr(r->err, "calibrated"));

	/* a profile that cannot be written fails the calibration, and the
	 * database it opened first is not kept */
	memset(r, 0, sizeof(*r));
	run_herdsim(r, (const char *const[]){ "validate", scen, "--os", "/proc/herdsim-profile.ini",
					      "--calibrate=0.01", "--db", db, NULL });
	assert_int_not_equal(r->status, 0);
	assert_non_null(strstr(r->err, "/proc/herdsim-profile.ini"));
	/* the message names validate's option and says that nothing is kept */
	assert_non_null(strstr(r->err, "--os"));
	assert_null(strstr(r->err, "--out"));
	assert_non_null(strstr(r->err, "no run is recorded"));
	assert_null(strchr(strchr(r->err, '\n') + 1, '\n')); /* one line */

	assert_int_equal(access(prof, F_OK), -1);
	assert_int_equal(access(db, F_OK), -1);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(calibration_parses_back_as_profile),
		cmocka_unit_test(calibration_calls_back_after_each_pass),
		cmocka_unit_test(host_name_finds_the_profile_file),
		cmocka_unit_test(native_gc_with_one_p_conserves_ms),
		cmocka_unit_test(validate_writes_both_backends),
		cmocka_unit_test(validate_without_perf_counter),
		cmocka_unit_test(validate_prints_median_intervals),
		cmocka_unit_test(validate_strict_fails_on_missed_target),
		cmocka_unit_test(validate_leaves_out_timeouts),
		cmocka_unit_test(validate_set_supplies_missing_key),
		cmocka_unit_test(validate_calibrates_first),
		cmocka_unit_test(validate_interrupt_keeps_whole_runs),
		cmocka_unit_test(calibration_inputs_checked_first),
		cmocka_unit_test(host_check_measures_a_cycle),
		cmocka_unit_test(validate_goes_on_without_host_check),
		cmocka_unit_test(validate_uses_the_affinity_mask),
		cmocka_unit_test(calibrate_without_fifo_falls_back),
	};

	return cmocka_run_group_tests_name("validation", tests, NULL, NULL);
}
