/*
 * The command line, run as a user runs it: exit statuses, one-line
 * errors that name the file, line and key, no rows after bad input, the
 * comparison table, and identical database rows for identical commands.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "replay.h"

static char dir[64];
static char db[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "%s", make_temp_dir());
	snprintf(db, sizeof(db), "%s/out.sqlite", dir);
	return 0;
}

static int runs_in_db(void)
{
	if (access(db, F_OK) != 0)
		return 0;
	return (int)db_int(db, "SELECT count(*) FROM run");
}

/* Runs herdsim expecting failure with `status`, one line on stderr that
 * contains every string of `needles`, and no run in the database. */
static void expect_error(const char *const *args, int status, const char *const *needles)
{
	struct cmd_result r;

	run_herdsim(&r, args);
	if (r.status != status)
		print_error("exit %d, stderr: %s\n", r.status, r.err);
	assert_int_equal(r.status, status);
	assert_int_equal(count_lines(r.err), 1);
	assert_true(strncmp(r.err, "herdsim: ", 9) == 0);
	for (int i = 0; needles[i]; i++) {
		if (!strstr(r.err, needles[i]))
			print_error("missing '%s' in: %s", needles[i], r.err);
		assert_non_null(strstr(r.err, needles[i]));
	}
	assert_int_equal(runs_in_db(), 0);
}

/*
 * `herdsim version` names the commit of the source tree the binary was
 * built from, with -dirty for local changes, as git describes it.  A build
 * that kept the revision of an earlier compile would name an older commit.
 * Skipped outside a git checkout.
 */
static void version_names_the_source_revision(void **state)
{
	const char *args[] = { "version", NULL };
	char cmd[1024], expected[128], line[256];
	struct cmd_result r;
	FILE *git;

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "git -C '%s' describe --always --dirty --abbrev=7 --match=NONE 2>/dev/null",
		 HS_SRCDIR);
	git = popen(cmd, "r");
	if (!git)
		skip();
	if (!fgets(expected, sizeof(expected), git)) {
		pclose(git);
		skip();
	}
	pclose(git);
	expected[strcspn(expected, "\n")] = '\0';
	run_herdsim(&r, args);
	assert_int_equal(r.status, 0);
	snprintf(line, sizeof(line), "herdsim " HS_VERSION " (%s)\n", expected);
	assert_string_equal(r.out, line);
}

static void missing_scenario_file(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/nope.ini", dir);
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, NULL });
}

static void unknown_key_names_file_line_key(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/bad.ini", dir);
	write_file(path, "[scenario]\nname = bad\n\n[workload]\nthreads = 4\nthreadz = 5\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":6:", "workload.threadz", NULL });
}

/* A policy parameter given with --set is reported against --set's key,
 * not against the scenario file, which never mentions it.  One set in a
 * file is reported at its file and line. */
static void policy_param_error_names_its_source(void **state)
{
	struct cmd_result r;
	char path[160];

	run_herdsim(&r, (const char *[]){ "run", "--policy", "watermark", "--set", "policy.spare=5000",
					  "--db", db, NULL });
	assert_int_equal(r.status, 1);
	assert_int_equal(count_lines(r.err), 1);
	assert_non_null(strstr(r.err, "herdsim: policy.spare: value 5000 is out of range; use 1 to 1000"));
	assert_null(strstr(r.err, ".ini"));
	assert_int_equal(runs_in_db(), 0);

	snprintf(path, sizeof(path), "%s/spare.ini", dir);
	write_file(path, "[scenario]\nname = spare\n[workload]\nthreads = 4\n[policy]\nname = watermark\n"
			 "spare = 0\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":7:", "spare: value 0 is out of range", NULL });
}

static void negative_duration_rejected(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/neg.ini", dir);
	write_file(path, "[workload]\nthink = -5us\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":2:", "workload.think", NULL });
}

static void unitless_duration_rejected(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/unit.ini", dir);
	write_file(path, "[scenario]\ntime_limit = 5\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":2:", "scenario.time_limit", NULL });
}

static void bad_override_rejected(void **state)
{
	expect_error((const char *[]){ "run", "--set", "workload.think=7", "--db", db, NULL }, 1,
		     (const char *[]){ "--set", "workload.think", NULL });
	expect_error((const char *[]){ "run", "--set", "machine.coresx=7", "--db", db, NULL }, 1,
		     (const char *[]){ "machine.coresx", NULL });
}

static void unknown_policy_rejected(void **state)
{
	expect_error((const char *[]){ "run", "--policy", "nosuch", "--db", db, NULL }, 1,
		     (const char *[]){ "nosuch", "herdsim list policies", NULL });
}

/* run, validate and sweep report a scenario's unknown [policy] name at
 * the line that set it, with the shipped names. */
static void unknown_policy_in_file_named(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/pol.ini", dir);
	write_file(path, "[scenario]\nname = x\n\n[policy]\nname = nosuch\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":5:", "policy.name", "'nosuch'", "single, waiters", NULL });
	expect_error((const char *[]){ "validate", path, "--os", "linux", "--db", db, NULL }, 1,
		     (const char *[]){ path, ":5:", "policy.name", "'nosuch'", "single, waiters", NULL });
	expect_error((const char *[]){ "sweep", path, "--vary", "workload.threads=2,3", "--db", db, NULL }, 1,
		     (const char *[]){ path, ":5:", "policy.name", "'nosuch'", "single, waiters", NULL });

	/* a name from --set is reported against --set */
	expect_error((const char *[]){ "run", "--set", "policy.name=zz", "--db", db, NULL }, 1,
		     (const char *[]){ "--set: policy.name", "'zz'", "herdsim list policies", NULL });
}

static void unknown_profile_rejected(void **state)
{
	expect_error((const char *[]){ "run", "--os", "plan9", "--db", db, NULL }, 1,
		     (const char *[]){ "plan9", NULL });
}

static void unknown_profile_in_file_named(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/os.ini", dir);
	write_file(path, "[scenario]\nname = x\n\n[machine]\nos = solaris\n");
	expect_error((const char *[]){ "run", path, "--db", db, NULL }, 1,
		     (const char *[]){ path, ":5:", "machine.os", "solaris", NULL });
}

/* An OS profile that lacks a key is rejected with the key, the file and
 * both fixes.  --set supplies the key, and the run records its value. */
static void set_supplies_missing_os_key(void **state)
{
	char prof[160];
	struct cmd_result r;

	snprintf(prof, sizeof(prof), "%s/old-host.ini", dir);
	write_shipped_without_key(prof, "sim/profiles/linux.ini", "timer_irq");
	expect_error((const char *[]){ "run", "--os", prof, "--policy", "single", "--db", db, NULL }, 1,
		     (const char *[]){ prof, "os.timer_irq", "missing key", "herdsim calibrate",
				       "--set os.timer_irq=VALUE", NULL });

	run_herdsim(&r, (const char *[]){ "run", "--os", prof, "--policy", "single", "--reps", "1",
					  "--set", "workload.threads=10", "--set", "os.timer_irq=2us",
					  "--db", db, "--quiet", NULL });
	if (r.status != 0)
		print_error("stderr: %s\n", r.err);
	assert_int_equal(r.status, 0);
	assert_int_equal(runs_in_db(), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param WHERE key = 'os.timer_irq' AND value = '2000'"), 1);
}

static void bad_usage_exits_2(void **state)
{
	expect_error((const char *[]){ "run", "--reps", "zero", "--db", db, NULL }, 2,
		     (const char *[]){ "--reps", NULL });
	expect_error((const char *[]){ "run", "--frobnicate", "--db", db, NULL }, 2,
		     (const char *[]){ "--frobnicate", NULL });
	expect_error((const char *[]){ "bogus", NULL }, 2, (const char *[]){ "bogus", NULL });
}

/* `replay` takes every option of `run` except the positional scenario,
 * so its help lists each of them, and a missing value points to its own
 * help. */
static void replay_help_lists_run_options(void **state)
{
	static const char *const options[] = {
		"--scenario", "--policy", "--os", "--backend", "--seed", "--reps", "--db", "--record ",
		"--set", "--record-trace", "--schedule-noise", "--phase-cpu", "--quiet", NULL,
	};
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "replay", "--help", NULL });
	assert_int_equal(r.status, 0);
	for (int i = 0; options[i]; i++) {
		if (!strstr(r.out, options[i]))
			print_error("replay --help lacks %s\n", options[i]);
		assert_non_null(strstr(r.out, options[i]));
	}
	expect_error((const char *[]){ "replay", "trace.csv", "--db", NULL }, 2,
		     (const char *[]){ "--db", "`herdsim replay --help`", NULL });
}

/* `validate --help` gives the exit statuses, as `run --help` does, so a
 * script can tell an incomplete run (3) from bad input (1). */
static void validate_help_gives_exit_status(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "validate", "--help", NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "Exit status: 0 ok, 1 bad input, 2 bad usage, 3 a run"));
	assert_non_null(strstr(r.out, "left out of the figures"));
	assert_non_null(strstr(r.out, "--tolerance F"));
}

/* A tolerance outside (0, 1) is a usage error that names the option. */
static void validate_rejects_bad_tolerance(void **state)
{
	expect_error((const char *[]){ "validate", "cthread-loop", "--tolerance", "1.5", "--db", db, NULL }, 2,
		     (const char *[]){ "--tolerance", "'1.5'", "above 0 and below 1", "0.15", NULL });
	expect_error((const char *[]){ "validate", "cthread-loop", "--ratio-tolerance=0", "--db", db, NULL }, 2,
		     (const char *[]){ "--ratio-tolerance", "'0'", "above 0 and below 1", "0.05", NULL });
	expect_error((const char *[]){ "validate", "cthread-loop", "--tolerance", "x", "--db", db, NULL }, 2,
		     (const char *[]){ "--tolerance", "'x'", NULL });
}

static void run_prints_table_and_records(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--os", "freebsd", "--reps", "2",
					  "--policy", "single", "--policy", "waiters",
					  "--set", "workload.threads=20", "--db", db, NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "single     linux"));
	assert_non_null(strstr(r.out, "waiters    linux"));
	assert_non_null(strstr(r.out, "single     freebsd"));
	assert_non_null(strstr(r.out, "waiters    freebsd"));
	assert_non_null(strstr(r.out, "makespan"));

	/* one run row per policy, profile and replication */
	assert_int_equal(runs_in_db(), 2 * 2 * 2);
	assert_int_equal(db_int(db, "SELECT count(DISTINCT policy || os || replication) FROM run"), 8);
	assert_int_equal(db_int(db, "SELECT count(*) FROM scalar WHERE name = 'makespan_ns'"), 8);
	assert_int_equal(db_int(db, "SELECT count(*) FROM lock_stat WHERE lock = 'extram'"), 8);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE status = 'ok'"), 8);
	/* replication r runs with seed S + r */
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE seed = 1 + replication"), 8);
	/* summary level: no per-event rows */
	assert_int_equal(db_int(db, "SELECT count(*) FROM thread_state"), 0);
	assert_true(db_int(db, "SELECT count(*) FROM run_param WHERE key = 'workload.threads' AND value = '20'") == 8);
}

/* The run_summary and point_summary views carry the CPU time, in all and
 * by phase: each run's columns equal its scalars, and a point's means are
 * their averages.  Without --phase-cpu the phase columns are NULL. */
static void summary_views_carry_phase_cpu(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--policy", "waiters", "--reps", "2",
					  "--phase-cpu", "--quiet", "--db", db, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_summary v JOIN scalar s ON s.run_id = v.run_id"
				    " AND s.name = 'cpu_go_ns' WHERE v.cpu_go_ns = s.value AND v.cpu_go_ns > 0"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_summary v JOIN scalar s ON s.run_id = v.run_id"
				    " AND s.name = 'cpu_ns' WHERE v.cpu_ns = s.value"), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM point_summary p WHERE p.n = 2 AND"
				    " abs(p.cpu_needm_mean_ns - (SELECT avg(value) FROM scalar"
				    " WHERE name = 'cpu_needm_ns')) < 1"), 1);

	run_herdsim(&r, (const char *[]){ "run", "--os", "freebsd", "--policy", "waiters", "--reps", "1",
					  "--quiet", "--db", db, NULL });
	assert_int_equal(r.status, 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_summary WHERE os = 'freebsd'"
				    " AND cpu_think_ns IS NULL AND cpu_ns > 0"), 1);
}

static void events_level_records_states(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--policy", "waiters", "--reps", "1",
					  "--record", "events", "--set", "workload.threads=10", "--db", db,
					  "--quiet", NULL });
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	assert_true(db_int(db, "SELECT count(*) FROM thread_state") > 10);
	assert_int_equal(db_int(db, "SELECT count(*) FROM callback"), 10);
	/* a wake row for every wake-up: every runnable interval that follows
	 * a wake-up */
	assert_int_equal(db_int(db, "SELECT count(*) FROM wake"),
			 db_int(db, "SELECT count(*) FROM thread_state WHERE state = 'runnable' AND reason = 'wake'"));
	/* no gap and no overlap: consecutive intervals of a thread touch */
	assert_int_equal(db_int(db, "SELECT count(*) FROM thread_state a JOIN thread_state b "
				    "ON a.run_id = b.run_id AND a.thread = b.thread AND b.start_ns > a.start_ns "
				    "WHERE b.start_ns < a.end_ns"), 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM thread t WHERE t.kind = 'foreign' AND "
				    "(SELECT min(start_ns) FROM thread_state s WHERE s.run_id = t.run_id AND s.thread = t.thread) != t.created_ns "
				    "OR (SELECT max(end_ns) FROM thread_state s WHERE s.run_id = t.run_id AND s.thread = t.thread) != t.exited_ns"), 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM thread t WHERE kind = 'foreign' AND "
				    "(SELECT sum(end_ns - start_ns) FROM thread_state s WHERE s.run_id = t.run_id AND s.thread = t.thread) "
				    "!= t.exited_ns - t.created_ns"), 0);
}

static void same_command_same_rows(void **state)
{
	char db2[160];
	struct cmd_result r;
	const char *args1[] = { "run", "--os", "freebsd", "--reps", "2", "--record", "events", "--policy", "waiters",
				"--set", "workload.threads=30", "--db", db, "--quiet", NULL };
	const char *args2[] = { "run", "--os", "freebsd", "--reps", "2", "--record", "events", "--policy", "waiters",
				"--set", "workload.threads=30", "--db", db2, "--quiet", NULL };

	snprintf(db2, sizeof(db2), "%s/again.sqlite", dir);
	run_herdsim(&r, args1);
	assert_int_equal(r.status, 0);
	run_herdsim(&r, args2);
	assert_int_equal(r.status, 0);
	assert_true(db_int(db, "SELECT count(*) FROM thread_state") > 100);
	assert_true(db_hash(db) == db_hash(db2));

	/* a different seed gives different rows: the hash can tell */
	unlink(db2);
	run_herdsim(&r, (const char *[]){ "run", "--os", "freebsd", "--reps", "2", "--seed", "9", "--policy", "waiters", "--record",
					  "events", "--set", "workload.threads=30", "--db", db2, "--quiet", NULL });
	assert_int_equal(r.status, 0);
	assert_true(db_hash(db) != db_hash(db2));
}

/* A native run uses no OS profile: its table row names this machine's
 * kernel, as run.os does, and not the --os profile. */
static void native_run_names_kernel(void **state)
{
	struct cmd_result r;
	struct utsname u;
	char kernel[128], sql[256];

	assert_int_equal(uname(&u), 0);
	snprintf(kernel, sizeof(kernel), "%.20s %.40s", u.sysname, u.release);
	run_herdsim(&r, (const char *[]){ "run", "--backend", "native", "--os", "freebsd", "--policy", "single",
					  "--reps", "1", "--set", "workload.threads=4", "--db", db, NULL });
	if (r.status != 0)
		print_error("stderr: %s\n", r.err);
	assert_int_equal(r.status, 0);
	assert_null(strstr(r.out, "freebsd"));
	assert_non_null(strstr(r.out, "single     "));
	assert_non_null(strstr(r.out, kernel));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run WHERE backend = 'native' AND os = '%s'", kernel);
	assert_int_equal(db_int(db, sql), 1);
}

static void list_commands(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "list", "policies", NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "single"));
	assert_non_null(strstr(r.out, "waiters"));
	run_herdsim(&r, (const char *[]){ "list", "os", NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "linux\n"));
	assert_non_null(strstr(r.out, "freebsd\n"));
	run_herdsim(&r, (const char *[]){ "list", "scenarios", NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "cgocallbackgc\n"));
	assert_non_null(strstr(r.out, "milter\n"));
	assert_non_null(strstr(r.out, "cthread-loop\n"));
}

/* True when the database or one of its WAL companions exists. */
static bool db_files_left(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char path[160];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* Runs 2 policies x 2 replications with HS_RUN_TEST_SIGNAL set to `hook`,
 * which signals the process at a known point. */
static void run_with_signal(struct cmd_result *r, const char *hook)
{
	setenv("HS_RUN_TEST_SIGNAL", hook, 1);
	run_herdsim(r, (const char *[]){ "run", "--os", "linux", "--reps", "2", "--policy", "single",
					 "--policy", "waiters", "--set", "workload.threads=8", "--db", db, NULL });
	unsetenv("HS_RUN_TEST_SIGNAL");
}

/* SIGINT after 3 of 4 runs: the command prints that it stops after the
 * run in progress, keeps the 3 runs, starts no fourth, closes the
 * database and exits 130. */
static void run_sigint_keeps_runs(void **state)
{
	struct cmd_result r;
	char wal[160];

	run_with_signal(&r, "INT:3");
	assert_int_equal(r.status, 130);
	assert_non_null(strstr(r.err, "herdsim: stopping after the run in progress; press Ctrl-C again"));
	assert_non_null(strstr(r.err, "herdsim: interrupted; 3 runs recorded in "));
	/* Checked before the queries below open the database. */
	snprintf(wal, sizeof(wal), "%s-wal", db);
	assert_int_equal(access(wal, F_OK), -1);
	assert_int_equal(runs_in_db(), 3);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE status = 'ok'"), 3);
}

/* SIGTERM is handled as SIGINT, and the line names SIGTERM. */
static void run_sigterm_keeps_runs(void **state)
{
	struct cmd_result r;

	run_with_signal(&r, "TERM:1");
	assert_int_equal(r.status, 130);
	assert_non_null(strstr(r.err, "send SIGTERM again"));
	assert_int_equal(runs_in_db(), 1);
}

/* A signal before the first run ends leaves no new database, WAL or
 * shared-memory file behind. */
static void run_sigint_removes_new_db(void **state)
{
	struct cmd_result r;

	run_with_signal(&r, "INT:0");
	assert_int_equal(r.status, 130);
	assert_non_null(strstr(r.err, "is not kept"));
	assert_false(db_files_left());
}

/* An interrupt before the first run also removes the directories that
 * opening a new database created, and keeps the ones that existed. */
static void run_sigint_removes_new_dirs(void **state)
{
	struct cmd_result r;
	char top[160], deep[200];

	snprintf(top, sizeof(top), "%s/new", dir);
	snprintf(deep, sizeof(deep), "%s/new/deeper/out.sqlite", dir);
	setenv("HS_RUN_TEST_SIGNAL", "INT:0", 1);
	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--reps", "2", "--policy", "single",
					  "--set", "workload.threads=8", "--db", deep, NULL });
	unsetenv("HS_RUN_TEST_SIGNAL");
	assert_int_equal(r.status, 130);
	assert_non_null(strstr(r.err, "is not kept"));
	assert_int_equal(access(top, F_OK), -1);
	assert_int_equal(access(dir, F_OK), 0);
}

/* A second SIGINT ends the process at once, by the signal, and still
 * removes a new database that has no run. */
static void run_second_sigint_ends_at_once(void **state)
{
	struct cmd_result r;

	run_with_signal(&r, "INT2:0");
	assert_int_equal(r.status, 128 + SIGINT);
	assert_false(db_files_left());
}

/* A database that existed before keeps its runs after an interrupt. */
static void run_sigint_keeps_old_db(void **state)
{
	struct cmd_result r;

	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--reps", "1", "--policy", "single",
					  "--set", "workload.threads=8", "--db", db, "--quiet", NULL });
	assert_int_equal(r.status, 0);
	run_with_signal(&r, "INT:0");
	assert_int_equal(r.status, 130);
	assert_int_equal(runs_in_db(), 1);
}

/* A count below the generator's minimum is reported against the option
 * as the user wrote it, and no trace is written. */
static void trace_gen_count_names_option(void **state)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/gen.csv", dir);
	expect_error((const char *[]){ "trace", "gen", "--kind", "burst", "--threads", "0", "--out", path, NULL },
		     2, (const char *[]){ "herdsim: --threads: invalid count '0'; use an integer from 1", NULL });
	expect_error((const char *[]){ "trace", "gen", "--kind", "burst", "--callbacks", "0", "--out", path,
				       NULL },
		     2, (const char *[]){ "herdsim: --callbacks: invalid count '0'; use an integer from 1", NULL });
	assert_int_equal(access(path, F_OK), -1);
}

/* The trace gen options whose values go into a trace column unchanged,
 * each with the largest value `herdsim replay` accepts there.  The
 * generator runs one callback per thread with no think time or Go work,
 * so the option alone sets the largest value in the trace.  A replay of a
 * time at 2^62 ns passes the scenario's time limit and ends in a timeout
 * (status 3), but the run is recorded, so the trace was accepted. */
static const struct {
	const char *option;
	const char *kind;
	const char *threads;
	long long limit;
	const char *unit; /* "" for a count, "ns" for a duration */
	int replay_status;
} gen_limits[] = {
	{ "--gc", "burst", "1", HS_REPLAY_MAX_GC, "", 0 },
	{ "--grow", "burst", "1", HS_REPLAY_MAX_GROW, "", 0 },
	{ "--go-work", "burst", "1", HS_REPLAY_MAX_NS, "ns", 3 },
	{ "--think", "burst", "1", HS_REPLAY_MAX_NS, "ns", 3 },
	{ "--interval", "periodic", "2", HS_REPLAY_MAX_NS, "ns", 3 },
};

/* Runs trace gen for gen_limits[i] with VALUE written to PATH. */
static void run_gen_limit(struct cmd_result *r, size_t i, long long value, const char *path)
{
	char arg[64];

	snprintf(arg, sizeof(arg), "%lld%s", value, gen_limits[i].unit);
	run_herdsim(r, (const char *[]){ "trace", "gen", "--kind", gen_limits[i].kind, "--threads",
					 gen_limits[i].threads, "--callbacks", "1", "--think", "0",
					 "--go-work", "0", gen_limits[i].option, arg, "--out", path,
					 NULL });
}

/* A value at the replay limit gives a trace that `herdsim replay` runs.
 * One more is rejected by trace gen itself with one line that names the
 * option, the value and the range, and leaves no trace or FILE.tmp. */
static void trace_gen_replay_limits(void **state)
{
	char path[160], tmp[168];

	snprintf(path, sizeof(path), "%s/gen.csv", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	for (size_t i = 0; i < sizeof(gen_limits) / sizeof(gen_limits[0]); i++) {
		struct cmd_result r;
		char option[32], value[48], range[64];

		unlink(db);
		run_gen_limit(&r, i, gen_limits[i].limit, path);
		if (r.status != 0)
			print_error("%s: exit %d, stderr: %s\n", gen_limits[i].option, r.status, r.err);
		assert_int_equal(r.status, 0);
		run_herdsim(&r, (const char *[]){ "replay", path, "--os", "linux", "--policy", "single",
						  "--reps", "1", "--db", db, "--quiet", NULL });
		if (r.status != gen_limits[i].replay_status)
			print_error("%s: replay exit %d, stderr: %s\n", gen_limits[i].option, r.status,
				    r.err);
		assert_int_equal(r.status, gen_limits[i].replay_status);
		assert_int_equal(runs_in_db(), 1);
		assert_int_equal(unlink(path), 0);

		snprintf(option, sizeof(option), "herdsim: %s: ", gen_limits[i].option);
		snprintf(value, sizeof(value), "'%lld%s'", gen_limits[i].limit + 1, gen_limits[i].unit);
		snprintf(range, sizeof(range), "0 to %lld%s", gen_limits[i].limit, gen_limits[i].unit);
		run_gen_limit(&r, i, gen_limits[i].limit + 1, path);
		if (r.status != 2)
			print_error("%s: exit %d, stderr: %s\n", gen_limits[i].option, r.status, r.err);
		assert_int_equal(r.status, 2);
		assert_int_equal(count_lines(r.err), 1);
		assert_ptr_equal(strstr(r.err, option), r.err);
		assert_non_null(strstr(r.err, value));
		assert_non_null(strstr(r.err, range));
		assert_int_equal(access(path, F_OK), -1);
		assert_int_equal(access(tmp, F_OK), -1);
	}

	/* Options that are each in range can still put a thread start past
	 * the limit: 2 x (2^61 + 1) ns. */
	unlink(db);
	expect_error((const char *[]){ "trace", "gen", "--kind", "periodic", "--threads", "3", "--callbacks",
				       "1", "--think", "0", "--interval", "2305843009213693953ns", "--out",
				       path, NULL },
		     2, (const char *[]){ "herdsim: the options put the last thread start at "
					  "4611686018427387906 ns, past 4611686018427387904 ns", NULL });
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
}

/* An empty output path is a usage error before any run or file is
 * written, not a rename of ".tmp" after the run was recorded. */
static void empty_output_path_rejected(void **state)
{
	char trace[160];

	snprintf(trace, sizeof(trace), "%s/t.csv", dir);
	write_file(trace, "herdsim-trace-v1\n"
			  "thread,thread_start_ns,arrival_ns,go_work_ns,gc_calls,grow_frames,c_time_ns\n"
			  "0,0,1000,5000,1,0,1000\n");
	expect_error((const char *[]){ "run", "--os", "linux", "--reps", "1", "--policy", "single", "--db", db,
				       "--quiet", "--record-trace", "", NULL },
		     2, (const char *[]){ "--record-trace: the file name is empty", NULL });
	expect_error((const char *[]){ "replay", trace, "--os", "linux", "--reps", "1", "--policy", "single",
				       "--db", db, "--quiet", "--record-trace", "", NULL },
		     2, (const char *[]){ "--record-trace: the file name is empty", NULL });
	assert_int_equal(access(db, F_OK), -1);
	expect_error((const char *[]){ "replay", "", "--db", db, "--quiet", NULL }, 2,
		     (const char *[]){ "give the trace to replay", NULL });
	expect_error((const char *[]){ "trace", "gen", "--kind", "burst", "--out", "", NULL }, 2,
		     (const char *[]){ "--out: the file name is empty", NULL });
	expect_error((const char *[]){ "export", db, "--run", "1", "--format", "csv", "--out", "", NULL }, 2,
		     (const char *[]){ "--out: the path is empty", NULL });
	expect_error((const char *[]){ "report", db, "--out", "", NULL }, 2,
		     (const char *[]){ "--out: the directory name is empty", NULL });
}

/* A database path that cannot be opened gives SQLite's message once, not
 * followed by the same text of its result code. */
static void db_open_error_once(void **state)
{
	struct cmd_result r;
	const char *first;

	assert_int_equal(mkdir(db, 0755), 0); /* a directory where the file should be */
	run_herdsim(&r, (const char *[]){ "run", "--os", "linux", "--reps", "1", "--policy", "single",
					  "--db", db, "--quiet", NULL });
	assert_int_equal(r.status, 1);
	assert_int_equal(count_lines(r.err), 1);
	first = strstr(r.err, "unable to open database file");
	assert_non_null(first);
	assert_null(strstr(first + 1, "unable to open database file"));
	assert_non_null(strstr(r.err, "opening the database failed: unable to open database file; check"));
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(version_names_the_source_revision),
		T(missing_scenario_file),
		T(unknown_key_names_file_line_key),
		T(policy_param_error_names_its_source),
		T(negative_duration_rejected),
		T(unitless_duration_rejected),
		T(bad_override_rejected),
		T(unknown_policy_rejected),
		T(unknown_policy_in_file_named),
		T(unknown_profile_rejected),
		T(unknown_profile_in_file_named),
		T(set_supplies_missing_os_key),
		T(bad_usage_exits_2),
		T(replay_help_lists_run_options),
		T(validate_help_gives_exit_status),
		T(validate_rejects_bad_tolerance),
		T(run_prints_table_and_records),
		T(summary_views_carry_phase_cpu),
		T(events_level_records_states),
		T(same_command_same_rows),
		T(native_run_names_kernel),
		T(list_commands),
		T(run_sigint_keeps_runs),
		T(run_sigterm_keeps_runs),
		T(run_sigint_removes_new_db),
		T(run_sigint_removes_new_dirs),
		T(run_second_sigint_ends_at_once),
		T(run_sigint_keeps_old_db),
		T(trace_gen_count_names_option),
		T(trace_gen_replay_limits),
		T(db_open_error_once),
		T(empty_output_path_rejected),
	};

	return cmocka_run_group_tests_name("command line", tests, NULL, NULL);
}
