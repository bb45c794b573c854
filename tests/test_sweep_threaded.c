/*
 * Tests of `herdsim sweep` and `herdsim merge`: the real binary (HS_BIN)
 * runs on real database files in a fresh temporary directory per test.
 * The name ends in "threaded" so that `make tsan` runs it: sweeps with
 * --jobs 2 then run under ThreadSanitizer, which makes the binary exit
 * non-zero on a report, and every test checks the exit status.
 *
 * Two databases are compared through a content hash: every table, rows
 * sorted, with run ids replaced by run keys and experiment ids by names,
 * and without the wall-clock columns (run.started_at, run.wall_ns,
 * experiment.command, host, started_at, ended_at).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "stats.h"
#include "sweep.h"

/* 2 policies x 2 thread counts x 3 replications = 12 runs, small enough
 * to run quickly under ThreadSanitizer. */
#define SWEEP "sweep cgocallbackgc --vary workload.threads=8,16 --policy single --policy waiters --os linux --reps 3 --quiet"
#define SWEEP_RUNS 12

static const char *const child_tables[] = {
	"run_param", "scalar", "lock_stat", "thread", "thread_state",
	"wake", "callback", "m", "histogram", "gauge",
};

struct fixture {
	char dir[64];
};

/* ---- Helpers --------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hs-test-sweep-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Runs a shell command in the fixture directory with HS_BIN as $HS;
 * returns its exit status, or -1 if it did not exit normally. */
static int shell(const struct fixture *f, const char *fmt, ...)
{
	char cmd[2048];
	int n, status;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && HS='%s' && ", f->dir, HS_BIN);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static sqlite3 *open_db(const struct fixture *f, const char *name)
{
	char path[256];
	sqlite3 *h = NULL;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("cannot open %s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
	return h;
}

static int64_t query_int(const struct fixture *f, const char *db, const char *sql)
{
	sqlite3 *h = open_db(f, db);
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Folds every row of `sql` (its text values, in the order it returns)
 * into h; *rows counts them. */
static uint64_t hash_query(sqlite3 *h, const char *sql, uint64_t hash, int64_t *rows)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			hash = t ? fnv(hash, t, strlen((const char *)t) + 1) : fnv(hash, "\1NULL", 6);
		}
		hash = fnv(hash, "\n", 1);
		(*rows)++;
	}
	sqlite3_finalize(st);
	return hash;
}

/* Returns the comma-separated columns of `table` other than run_id. */
static void data_columns(sqlite3 *h, const char *table, char *out, size_t size)
{
	char sql[128];
	sqlite3_stmt *st;
	size_t used = 0;

	snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s') ORDER BY cid", table);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 0);

		if (strcmp(c, "run_id") != 0)
			used += (size_t)snprintf(out + used, size - used, "%st.%s", used ? ", " : "", c);
	}
	sqlite3_finalize(st);
}

/* Hash of the deterministic content of a database (see the file head). */
static uint64_t content_hash(const struct fixture *f, const char *db, int64_t *rows)
{
	sqlite3 *h = open_db(f, db);
	uint64_t hash = 0xcbf29ce484222325ULL;
	char cols[1024], sql[4096];

	*rows = 0;
	hash = hash_query(h, "SELECT name, version, revision FROM experiment ORDER BY name", hash, rows);
	hash = hash_query(h,
			  "SELECT e.name, r.run_key, r.scenario, r.policy, r.backend, r.os, r.seed,"
			  " r.replication, r.record, r.status, r.error, r.version, r.events, r.end_ns"
			  " FROM run r LEFT JOIN experiment e ON e.id = r.experiment_id"
			  " ORDER BY e.name, r.run_key",
			  hash, rows);
	for (size_t t = 0; t < sizeof(child_tables) / sizeof(child_tables[0]); t++) {
		data_columns(h, child_tables[t], cols, sizeof(cols));
		snprintf(sql, sizeof(sql),
			 "SELECT e.name, r.run_key, %s FROM %s t JOIN run r ON r.id = t.run_id"
			 " LEFT JOIN experiment e ON e.id = r.experiment_id ORDER BY e.name, r.run_key, %s",
			 cols, child_tables[t], cols);
		hash = hash_query(h, sql, hash, rows);
	}
	sqlite3_close(h);
	return hash;
}

/* Reads a file of the fixture into buf (empty if missing). */
static void read_text(const struct fixture *f, const char *name, char *buf, size_t size)
{
	char path[256];
	FILE *fp;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "r");
	if (fp) {
		n = fread(buf, 1, size - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

static bool file_exists(const struct fixture *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return access(path, F_OK) == 0;
}

/* ---- Determinism ----------------------------------------------------- */

static void sweep_jobs_identical(void **state)
{
	struct fixture *f = *state;
	int64_t rows1, rows2;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --db one.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db two.sqlite"), 0);
	assert_int_equal(query_int(f, "one.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
	assert_int_equal(query_int(f, "two.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
	assert_int_equal(content_hash(f, "one.sqlite", &rows1), content_hash(f, "two.sqlite", &rows2));
	assert_int_equal(rows1, rows2);
	assert_true(rows1 > 10 * SWEEP_RUNS);
}

static void sweep_rows_content(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --seed 7 --name demo --db out.sqlite"), 0);
	/* One experiment, named, ended, linking every run. */
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM experiment WHERE name = 'demo'"
					 " AND ended_at IS NOT NULL AND host IS NOT NULL"
					 " AND command LIKE 'herdsim sweep cgocallbackgc %'"), 1);
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM run WHERE experiment_id IS NULL"), 0);
	/* Replication r uses seed S + r at every point. */
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM run WHERE seed != 7 + replication"), 0);
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM run WHERE run_key ="
					 " 'waiters|linux|workload.threads=16|r2' AND seed = 9"), 1);
	/* The varied key reaches the run's parameters. */
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM run r JOIN run_param p"
					 " ON p.run_id = r.id AND p.key = 'workload.threads'"
					 " WHERE r.run_key LIKE '%threads=' || p.value || '|%'"), SWEEP_RUNS);
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(DISTINCT run_key) FROM run"), SWEEP_RUNS);
}

/* --phase-cpu reaches every run of a sweep.  Each run records the five
 * phase scalars, which sum to at most its CPU time.  The option makes a
 * sweep of its own (another default name), so a sweep without it does not
 * resume into it. */
static void sweep_phase_cpu(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --phase-cpu --db phase.sqlite"), 0);
	assert_int_equal(query_int(f, "phase.sqlite", "SELECT count(*) FROM scalar WHERE name IN"
					 " ('cpu_think_ns', 'cpu_needm_ns', 'cpu_p_wait_ns', 'cpu_go_ns',"
					 " 'cpu_exit_ns')"), 5 * SWEEP_RUNS);
	assert_int_equal(query_int(f, "phase.sqlite", "SELECT count(*) FROM run r WHERE"
					 " (SELECT sum(value) FROM scalar s WHERE s.run_id = r.id AND s.name LIKE 'cpu\\_%\\_ns'"
					 " ESCAPE '\\' AND s.name != 'cpu_ns') BETWEEN 1 AND"
					 " (SELECT value FROM scalar s WHERE s.run_id = r.id AND s.name = 'cpu_ns')"),
			 SWEEP_RUNS);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db phase.sqlite"), 0);
	assert_int_equal(query_int(f, "phase.sqlite", "SELECT count(*) FROM experiment"), 2);
	assert_int_equal(query_int(f, "phase.sqlite", "SELECT count(*) FROM run"), 2 * SWEEP_RUNS);
}

/* ---- Resume ---------------------------------------------------------- */

static void sweep_kill_resume(void **state)
{
	struct fixture *f = *state;
	int64_t rows_whole, rows_resumed;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db whole.sqlite"), 0);
	/* SIGKILL right after the 5th commit: no handler runs, and the shell
	 * reports 128 + the signal number. */
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=KILL:5 $HS " SWEEP " --jobs 2 --db cut.sqlite"), 128 + 9);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), 5);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db cut.sqlite"), 0);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
	assert_int_equal(content_hash(f, "whole.sqlite", &rows_whole), content_hash(f, "cut.sqlite", &rows_resumed));
	assert_int_equal(rows_whole, rows_resumed);
}

static void sweep_sigint_resume(void **state)
{
	struct fixture *f = *state;
	char msg[2048];
	const char *stopping;
	int64_t rows_whole, rows_resumed, kept;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --db whole.sqlite"), 0);
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=INT:4 $HS " SWEEP " --jobs 2 --db cut.sqlite 2>err.txt"), 130);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "Run the same command again to resume"));
	/* The first Ctrl-C prints one line, before the final message, that
	 * explains what a second one does. */
	stopping = strstr(msg, "herdsim: stopping");
	assert_non_null(stopping);
	assert_true(stopping < strstr(msg, "Run the same command again to resume"));
	assert_true(strstr(msg, "press Ctrl-C again to stop at once") || strstr(msg, "no run is in progress"));
	assert_null(strstr(stopping + 1, "herdsim: stopping"));
	kept = query_int(f, "cut.sqlite", "SELECT count(*) FROM run");
	assert_true(kept >= 4);
	assert_true(kept < SWEEP_RUNS);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM experiment WHERE ended_at IS NULL"), 1);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db cut.sqlite"), 0);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM experiment WHERE ended_at IS NULL"), 0);
	assert_int_equal(content_hash(f, "whole.sqlite", &rows_whole), content_hash(f, "cut.sqlite", &rows_resumed));
	assert_int_equal(rows_whole, rows_resumed);
	/* A finished sweep run again adds nothing. */
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db cut.sqlite"), 0);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
}

/* Returns true once the fixture file `name` exists and, when text is not
 * NULL, contains text; false after timeout_s seconds. */
static bool wait_for_file(const struct fixture *f, const char *name, const char *text, int timeout_s)
{
	char buf[4096];

	for (int ms = 0; ms < timeout_s * 1000; ms += 10) {
		if (file_exists(f, name)) {
			if (!text)
				return true;
			read_text(f, name, buf, sizeof(buf));
			if (strstr(buf, text))
				return true;
		}
		usleep(10000);
	}
	return false;
}

/* Kills and reaps child pid, then fails the test with message. */
static void end_child(pid_t pid, const char *message)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s", message);
}

/* A second SIGINT, sent by the hook before the first run is written,
 * ends the sweep at once by the signal.  The new database, its -wal and
 * -shm files and the directories made for it are removed; a database
 * that existed keeps its runs. */
static void sweep_second_sigint_removes_new_db(void **state)
{
	struct fixture *f = *state;
	char db[160], top[160];
	struct cmd_result r;

	snprintf(db, sizeof(db), "%s/new/sub/cut.sqlite", f->dir);
	snprintf(top, sizeof(top), "%s/new", f->dir);
	setenv("HS_SWEEP_TEST_SIGNAL", "INT2:0", 1);
	run_herdsim(&r, (const char *[]){ "sweep", "cgocallbackgc", "--vary", "workload.threads=8,16", "--policy",
					  "single", "--os", "linux", "--reps", "3", "--jobs", "2", "--quiet", "--db",
					  db, NULL });
	unsetenv("HS_SWEEP_TEST_SIGNAL");
	assert_int_equal(r.status, 128 + SIGINT);
	assert_non_null(strstr(r.err, "herdsim: stopping"));
	assert_false(file_exists(f, "new/sub/cut.sqlite"));
	assert_false(file_exists(f, "new/sub/cut.sqlite-wal"));
	assert_false(file_exists(f, "new/sub/cut.sqlite-shm"));
	assert_int_equal(access(top, F_OK), -1);

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --shard 1/4 --db old.sqlite"), 0);
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=INT2:0 $HS " SWEEP " --jobs 2 --name other --db old.sqlite"
			       " 2>err.txt"), 128 + SIGINT);
	assert_int_equal(query_int(f, "old.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS / 4);
}

/* SIGINT from another process: the first prints the line about stopping
 * at once, and a second ends the sweep by the signal.  A database that the
 * sweep created is removed unless a run was recorded in between, which a
 * run of 20000 threads makes unlikely.  The first signal may also come
 * before the worker takes its run.  The sweep then ends on its own with
 * status 130 and likewise removes the database.  The test waits for each state
 * rather than for a fixed time, so it does not depend on the machine's
 * speed. */
static void sweep_sigint_twice_from_outside(void **state)
{
	struct fixture *f = *state;
	char err_path[160];
	int status = 0;
	pid_t pid;

	snprintf(err_path, sizeof(err_path), "%s/err.txt", f->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* A signal ignored on entry stays ignored, as in a background job. */
		signal(SIGINT, SIG_DFL);
		if (fd < 0 || chdir(f->dir) != 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(127);
		execl(HS_BIN, HS_BIN, "sweep", "cgocallbackgc", "--vary", "workload.threads=20000", "--policy", "single",
		      "--os", "linux", "--reps", "2", "--jobs", "1", "--quiet", "--db", "new.sqlite", (char *)NULL);
		_exit(127);
	}
	if (!wait_for_file(f, "new.sqlite", NULL, 60))
		end_child(pid, "the sweep created no database within 60 s");
	assert_int_equal(kill(pid, SIGINT), 0);
	if (!wait_for_file(f, "err.txt", "herdsim: stopping", 60))
		end_child(pid, "no line about stopping within 60 s of the first SIGINT");
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status)) {
		/* The first signal came before the worker took its run, so the
		 * sweep had nothing to wait for and ended with status 130. */
		print_message("no run was in progress at the first signal\n");
		assert_int_equal(WEXITSTATUS(status), 130);
	} else {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGINT);
	}
	if (file_exists(f, "new.sqlite")) {
		print_message("a run was recorded between the two signals; the database stays\n");
		assert_true(query_int(f, "new.sqlite", "SELECT count(*) FROM run") >= 1);
	} else {
		assert_false(file_exists(f, "new.sqlite-wal"));
		assert_false(file_exists(f, "new.sqlite-shm"));
	}
}

/* A sweep given the --name of another sweep in the same database finds
 * that sweep's runs under its own run keys.  It rejects them, naming the
 * first difference, instead of skipping them as done, and writes nothing.
 * The same command after an interrupt still resumes. */
static void sweep_rejects_reused_name(void **state)
{
	struct fixture *f = *state;
	int64_t rows_before, rows_after, rows_resumed;
	uint64_t before;
	char msg[2048];

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --name same --set machine.cores=2 --db a.sqlite"), 0);
	before = content_hash(f, "a.sqlite", &rows_before);

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --name same --set machine.cores=8 --db a.sqlite"
			       " 2>err.txt"), 1);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "herdsim: a.sqlite: run 'single|linux|workload.threads=8|r0' of experiment "
				    "'same' differs from this sweep's run with that key"));
	assert_non_null(strstr(msg, "(machine.cores = 2 recorded, 8 in this sweep)"));
	assert_non_null(strstr(msg, "give this sweep another --name or another --db"));
	assert_int_equal(count_lines(msg), 1);
	assert_int_equal(content_hash(f, "a.sqlite", &rows_after), before);
	assert_int_equal(rows_after, rows_before);
	assert_int_equal(query_int(f, "a.sqlite", "SELECT count(*) FROM experiment WHERE ended_at IS NULL"), 0);

	/* Another scenario with the same keys. */
	assert_int_equal(shell(f, "$HS sweep milter --vary workload.threads=8,16 --policy single --policy waiters"
			       " --os linux --reps 3 --quiet --jobs 1 --name same --db a.sqlite 2>err.txt"), 1);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "(scenario cgocallbackgc recorded, milter in this sweep)"));
	assert_int_equal(content_hash(f, "a.sqlite", &rows_after), before);

	/* Another seed. */
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --name same --set machine.cores=2 --seed 9 --db a.sqlite"
			       " 2>err.txt"), 1);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "(seed 1 recorded, 9 in this sweep)"));
	assert_int_equal(content_hash(f, "a.sqlite", &rows_after), before);

	/* The same command, cut after 5 runs and run again, resumes. */
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=KILL:5 $HS " SWEEP " --jobs 2 --name same"
			       " --set machine.cores=2 --db cut.sqlite"), 128 + 9);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), 5);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --name same --set machine.cores=2 --db cut.sqlite"), 0);
	assert_int_equal(content_hash(f, "cut.sqlite", &rows_resumed), before);
	assert_int_equal(rows_resumed, rows_before);
}

/* ---- Shards and merge ------------------------------------------------ */

static void shards_merge_whole(void **state)
{
	struct fixture *f = *state;
	int64_t rows_whole, rows_merged, rows_again;
	uint64_t merged;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 2 --db whole.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " SWEEP " --shard 1/2 --jobs 1 --db p1.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " SWEEP " --shard 2/2 --jobs 2 --db p2.sqlite"), 0);
	assert_int_equal(query_int(f, "p1.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS / 2);
	assert_int_equal(query_int(f, "p2.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS / 2);
	assert_int_equal(shell(f, "$HS merge all.sqlite p1.sqlite p2.sqlite >/dev/null"), 0);
	merged = content_hash(f, "all.sqlite", &rows_merged);
	assert_int_equal(content_hash(f, "whole.sqlite", &rows_whole), merged);
	assert_int_equal(rows_whole, rows_merged);

	/* Merging the same inputs again adds nothing. */
	assert_int_equal(shell(f, "$HS merge all.sqlite p2.sqlite p1.sqlite >/dev/null"), 0);
	assert_int_equal(content_hash(f, "all.sqlite", &rows_again), merged);
	assert_int_equal(rows_again, rows_merged);
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM experiment"), 1);
}

/* A merge that fails on a corrupt input leaves neither the new output
 * nor the directories created for it, and keeps a directory that existed. */
static void merge_corrupt_input_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(shell(f, "echo 'not a database' > bad.sqlite && mkdir kept"), 0);
	assert_int_equal(shell(f, "$HS merge new/sub/all.sqlite bad.sqlite 2>err.txt"), 1);
	assert_false(file_exists(f, "new"));
	assert_int_equal(shell(f, "$HS merge kept/sub/all.sqlite bad.sqlite 2>err.txt"), 1);
	assert_true(file_exists(f, "kept"));
	assert_false(file_exists(f, "kept/sub"));
	/* The directory of an output that already existed stays with it. */
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --shard 1/4 --db old/all.sqlite"), 0);
	assert_int_equal(shell(f, "$HS merge old/all.sqlite bad.sqlite 2>err.txt"), 1);
	assert_true(file_exists(f, "old/all.sqlite"));
}

/* Two sweeps given the same --name produce the same run keys.  Merging
 * the second after the first rejects it, naming the run and the
 * difference, instead of skipping its runs as copies. */
static void merge_rejects_same_key_other_run(void **state)
{
	struct fixture *f = *state;
	char msg[2048];

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --name same --set machine.cores=2 --db a.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --name same --set machine.cores=8 --db b.sqlite"), 0);
	assert_int_equal(shell(f, "$HS merge all.sqlite a.sqlite >/dev/null"), 0);
	assert_int_equal(shell(f, "$HS merge all.sqlite b.sqlite >/dev/null 2>err.txt"), 1);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "herdsim: b.sqlite: run 'single|linux|workload.threads=8|r0' of experiment "
				    "'same' differs from the run with that key in all.sqlite"));
	assert_non_null(strstr(msg, "(machine.cores = 8 here, 2 there)"));
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM run_param WHERE key = 'machine.cores'"
					  " AND value = '8'"), 0);

	/* A true copy is still skipped. */
	assert_int_equal(shell(f, "$HS merge all.sqlite a.sqlite >/dev/null"), 0);
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM run"), SWEEP_RUNS);
}

/* A database path is a file name: an empty one is rejected before any
 * run, and ":memory:" or "file:..." (which SQLite would open in memory or
 * as a URI, so that the runs vanish) name files in the current directory. */
static void db_path_names_a_file(void **state)
{
	struct fixture *f = *state;
	char msg[2048];

	assert_int_equal(shell(f, "$HS run cgocallbackgc --set workload.threads=8 --os linux --reps 1 --quiet"
			       " --policy single --db '' 2>err.txt"), 2);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "herdsim: the database path is empty; give a file name"));
	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --db '' 2>err.txt"), 2);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "the database path is empty"));

	assert_int_equal(shell(f, "$HS run cgocallbackgc --set workload.threads=8 --os linux --reps 1 --quiet"
			       " --policy single --db ':memory:'"), 0);
	assert_int_equal(query_int(f, ":memory:", "SELECT count(*) FROM run"), 1);
	assert_int_equal(shell(f, "$HS merge '' ':memory:' >/dev/null 2>err.txt"), 2);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "the database path is empty"));
	assert_int_equal(shell(f, "$HS merge 'file:m.sqlite?mode=memory' ':memory:' >/dev/null"), 0);
	assert_int_equal(query_int(f, "file:m.sqlite?mode=memory", "SELECT count(*) FROM run"), 1);
}

/* Two different key-less runs with the same identity (policy, OS, seed,
 * replication) are both kept, even when they started in the same second. */
static void merge_keeps_distinct_runs(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(shell(f, "$HS run cgocallbackgc --set workload.threads=5 --os linux --reps 1 --quiet"
			       " --policy single --db d1.sqlite"), 0);
	assert_int_equal(shell(f, "$HS run cgocallbackgc --set workload.threads=50 --os linux --reps 1 --quiet"
			       " --policy single --db d2.sqlite"), 0);
	/* give both the same start second, as two runs started together have */
	assert_int_equal(shell(f, "sqlite3 d2.sqlite \"UPDATE run SET started_at ="
			       " (SELECT started_at FROM run)\" && sqlite3 d1.sqlite"
			       " \"ATTACH 'd2.sqlite' AS o; UPDATE o.run SET started_at = (SELECT started_at FROM main.run)\""),
			 0);
	assert_int_equal(shell(f, "$HS merge dm.sqlite d1.sqlite d2.sqlite >/dev/null"), 0);
	assert_int_equal(query_int(f, "dm.sqlite", "SELECT count(*) FROM run"), 2);
	assert_int_equal(shell(f, "$HS merge dm.sqlite d1.sqlite d2.sqlite >/dev/null"), 0);
	assert_int_equal(query_int(f, "dm.sqlite", "SELECT count(*) FROM run"), 2);
}

static void merge_runs_without_key(void **state)
{
	struct fixture *f = *state;

	/* `herdsim run` writes runs with no experiment and no run key. */
	assert_int_equal(shell(f, "$HS run cgocallbackgc --set workload.threads=8 --os linux --reps 2 --quiet"
			       " --policy single --policy waiters"
			       " --db plain.sqlite"), 0);
	assert_int_equal(shell(f, "$HS merge all.sqlite plain.sqlite >/dev/null"), 0);
	assert_int_equal(shell(f, "$HS merge all.sqlite plain.sqlite >/dev/null"), 0);
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM run"), 4);
	assert_int_equal(query_int(f, "all.sqlite", "SELECT count(*) FROM scalar"),
			 query_int(f, "plain.sqlite", "SELECT count(*) FROM scalar"));
}

static void merge_rejects_schema_version(void **state)
{
	struct fixture *f = *state;
	char msg[2048];
	sqlite3 *h;

	assert_int_equal(shell(f, "$HS " SWEEP " --shard 1/2 --db p1.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " SWEEP " --shard 2/2 --db p2.sqlite"), 0);
	h = open_db(f, "p2.sqlite");
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(shell(f, "$HS merge all.sqlite p1.sqlite p2.sqlite >/dev/null 2>err.txt"), 1);
	read_text(f, "err.txt", msg, sizeof(msg));
	assert_non_null(strstr(msg, "p2.sqlite"));
	assert_non_null(strstr(msg, "schema version 2"));
	assert_non_null(strstr(msg, "version 1"));
	/* Every input is checked first: nothing is merged, and the new
	 * output is not left behind. */
	assert_int_equal(shell(f, "test ! -e all.sqlite"), 0);
}

static void parallel_shards_merge(void **state)
{
	struct fixture *f = *state;
	int64_t rows_whole, rows_merged;

	if (shell(f, "command -v parallel >/dev/null") != 0) {
		print_message("GNU parallel is not installed (scripts/deps.sh installs it); skipping\n");
		skip();
	}
	assert_int_equal(shell(f, "$HS " SWEEP " --db whole.sqlite"), 0);
	assert_int_equal(shell(f, "parallel --will-cite \"$HS\" " SWEEP " --jobs 1 --shard {}/2 --db part{}.sqlite"
			       " ::: 1 2 && \"$HS\" merge all.sqlite part*.sqlite >/dev/null"), 0);
	assert_int_equal(content_hash(f, "whole.sqlite", &rows_whole), content_hash(f, "all.sqlite", &rows_merged));
	assert_int_equal(rows_whole, rows_merged);
}

/* ---- Policy parameters ----------------------------------------------- */

/* policy.spare is a parameter of watermark only: watermark runs 2 thread
 * counts x 2 spare values x 2 replications = 8 runs, single 2 x 2 = 4. */
#define POLICY_SWEEP "sweep cgocallbackgc --vary workload.threads=8,16 --vary policy.spare=1,4" \
	" --policy single --policy watermark --os linux --reps 2 --quiet"
#define POLICY_SWEEP_RUNS 12

static void sweep_policy_param_once(void **state)
{
	struct fixture *f = *state;
	int64_t rows_whole, rows_merged, rows_resumed;
	uint64_t whole;

	assert_int_equal(shell(f, "$HS " POLICY_SWEEP " --jobs 2 --db whole.sqlite"), 0);
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run"), POLICY_SWEEP_RUNS);
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run WHERE policy = 'single'"), 4);
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run WHERE policy = 'watermark'"), 8);
	/* single's keys leave the parameter out; watermark's name it. */
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run WHERE run_key ="
					 " 'single|linux|workload.threads=16|r1'"), 1);
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run WHERE run_key ="
					 " 'watermark|linux|workload.threads=16,policy.spare=4|r1'"), 1);
	/* No two runs of one policy and replication are the same run. */
	assert_int_equal(query_int(f, "whole.sqlite", "SELECT count(*) FROM run a JOIN run b"
					 " ON a.id < b.id AND a.policy = b.policy AND a.seed = b.seed"
					 " AND (SELECT group_concat(key || '=' || value) FROM run_param WHERE run_id = a.id)"
					 " = (SELECT group_concat(key || '=' || value) FROM run_param WHERE run_id = b.id)"), 0);
	whole = content_hash(f, "whole.sqlite", &rows_whole);

	/* Shards number the same runs. */
	assert_int_equal(shell(f, "$HS " POLICY_SWEEP " --shard 1/2 --jobs 1 --db p1.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " POLICY_SWEEP " --shard 2/2 --jobs 1 --db p2.sqlite"), 0);
	assert_int_equal(query_int(f, "p1.sqlite", "SELECT count(*) FROM run"), POLICY_SWEEP_RUNS / 2);
	assert_int_equal(shell(f, "$HS merge all.sqlite p1.sqlite p2.sqlite >/dev/null"), 0);
	assert_int_equal(content_hash(f, "all.sqlite", &rows_merged), whole);
	assert_int_equal(rows_merged, rows_whole);

	/* Resumption by run key. */
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=KILL:5 $HS " POLICY_SWEEP " --jobs 2 --db cut.sqlite"),
			 128 + 9);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), 5);
	assert_int_equal(shell(f, "$HS " POLICY_SWEEP " --jobs 2 --db cut.sqlite"), 0);
	assert_int_equal(content_hash(f, "cut.sqlite", &rows_resumed), whole);
	assert_int_equal(rows_resumed, rows_whole);
}

/* A sweep that varies no policy parameter keeps its default name and run
 * keys, so that databases written before policy parameters were enumerated
 * per policy still resume.  The name hashes the arguments and the
 * scenario's seed. */
static void sweep_name_stable(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(shell(f, "$HS " SWEEP " --jobs 1 --shard 1/4 --db out.sqlite"), 0);
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM experiment"
					 " WHERE name = 'cgocallbackgc-6061d065dd54'"), 1);
	/* Runs 0, 4 and 8 of the enumeration: point p contains runs 3p..3p+2. */
	assert_int_equal(query_int(f, "out.sqlite", "SELECT count(*) FROM run WHERE run_key IN"
					 " ('single|linux|workload.threads=8|r0', 'single|linux|workload.threads=16|r1',"
					 " 'waiters|linux|workload.threads=8|r2')"), 3);
}

/* ---- Values ---------------------------------------------------------- */

static void range_parsing_table(void **state)
{
	static const struct {
		const char *text;
		const char *expected; /* values joined by spaces, NULL if invalid */
	} cases[] = {
		{ "10..10000*10", "10 100 1000 10000" },
		{ "10..9999*10", "10 100 1000" },
		{ "1..10*3", "1 3 9" },
		{ "0..10+5", "0 5 10" },
		{ "1us..10us+3us", "1us 4us 7us 10us" },
		{ "1us..10us+3", "1us 4us 7us 10us" },
		{ "1ms..100ms*10", "1ms 10ms 100ms" },
		{ "0.5..2*2", "0.5 1 2" },
		{ "0.1..0.3+0.1", "0.1 0.2 0.3" },
		{ "burst, poisson,periodic", "burst poisson periodic" },
		{ "1,10..30+10", "1 10 20 30" },
		{ "7", "7" },
		{ "10..1*2", NULL },
		{ "1..10", NULL },
		{ "0..10*2", NULL },
		{ "1..10*1", NULL },
		{ "1..10+0", NULL },
		{ "1us..10ms*10", NULL },
		{ "1us..10us*2us", NULL },
		{ "a..b*2", NULL },
		{ "a,,b", NULL },
		{ "a,a", NULL },
		{ "1,1..3+1", NULL },
		{ "1..100000+1", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs_error err = { 0 };
		char **values = NULL, joined[256] = "";
		int n = -1, rc = hs_sweep_parse_values(cases[i].text, &values, &n, &err);
		size_t used = 0;

		if (!cases[i].expected) {
			if (rc == 0)
				fail_msg("'%s' was accepted", cases[i].text);
			assert_null(values);
			assert_true(err.msg[0] != '\0');
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' was rejected: %s", cases[i].text, err.msg);
		for (int k = 0; k < n; k++)
			used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", k ? " " : "", values[k]);
		assert_string_equal(joined, cases[i].expected);
		hs_sweep_free_values(values, n);
	}
}

static void bad_vary_rejected(void **state)
{
	static const char *const bad[] = {
		"--vary workload.threads=8,abc",
		"--vary os.slice=1..10+3",
		"--vary workload.bogus=1,2",
		"--vary workload.arrival=burst,sometimes",
		"--vary workload.threads=0,8",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[2048], key[64];
		const char *eq = strchr(bad[i], '=');

		assert_int_equal(shell(f, "$HS sweep cgocallbackgc %s --os linux --quiet --db bad.sqlite 2>err.txt",
				       bad[i]), 1);
		read_text(f, "err.txt", msg, sizeof(msg));
		snprintf(key, sizeof(key), "%.*s", (int)(eq - bad[i]), bad[i]);
		if (!strstr(msg, key))
			fail_msg("message of `%s` does not name the key: %s", bad[i], msg);
		assert_int_equal(strchr(msg, '\n') - msg, (long)strlen(msg) - 1); /* one line */
		assert_false(file_exists(f, "bad.sqlite"));
		/* The user wrote --vary, and an unknown key is not an invalid value. */
		if (strstr(msg, "--set") || strstr(msg, "invalid value"))
			fail_msg("message of `%s` blames --set or the value: %s", bad[i], msg);
	}
	/* A malformed range is a usage error. */
	assert_int_equal(shell(f, "$HS sweep cgocallbackgc --vary workload.threads=10..1*2 --quiet"
			       " --db bad.sqlite 2>/dev/null"), 2);
	assert_false(file_exists(f, "bad.sqlite"));
}

/* Every --os is loaded before the --vary values are checked, so a bad
 * later profile is reported as a profile, not as a bad --vary value, and
 * no database is created. */
static void bad_later_os_rejected(void **state)
{
	static const struct {
		const char *os;
		const char *expected;
	} cases[] = {
		{ "nosuch", "herdsim: nosuch: no shipped OS profile named 'nosuch'; run `herdsim list os`" },
		{ "missing.ini", "herdsim: missing.ini: OS profile file not found; check the path" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char msg[2048];

		assert_int_equal(shell(f, "$HS sweep cgocallbackgc --os linux --os %s --vary workload.threads=10"
				       " --quiet --db bad.sqlite 2>err.txt", cases[i].os), 1);
		read_text(f, "err.txt", msg, sizeof(msg));
		if (strncmp(msg, cases[i].expected, strlen(cases[i].expected)) != 0)
			fail_msg("--os %s: expected a line starting '%s', got: %s", cases[i].os, cases[i].expected,
				 msg);
		assert_null(strstr(msg, "--vary"));
		assert_int_equal(count_lines(msg), 1);
		assert_false(file_exists(f, "bad.sqlite"));
	}
}

/* ---- Sequential stopping --------------------------------------------- */

#define CI_SWEEP "sweep cgocallbackgc --vary workload.threads=8,32 --policy single --policy waiters --os linux --reps 10" \
		 " --ci-width 8 --quiet"

/* Checks that each point of db kept the number of replications the
 * --ci-width rule gives for its makespans; returns the number of points
 * that stopped before --reps. */
static int check_ci_rule(const struct fixture *f, const char *db, int reps, double width)
{
	sqlite3 *h = open_db(f, db);
	sqlite3_stmt *st;
	char point[128] = "";
	double values[64];
	int n = 0, early = 0, points = 0;
	const char *sql = "SELECT substr(r.run_key, 1, instr(r.run_key, '|r') - 1), r.replication, s.value"
			  " FROM run r JOIN scalar s ON s.run_id = r.id AND s.name = 'makespan_ns'"
			  " ORDER BY 1, r.replication";

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	for (bool more = true; more;) {
		const char *p;

		more = sqlite3_step(st) == SQLITE_ROW;
		p = more ? (const char *)sqlite3_column_text(st, 0) : "";
		if (n > 0 && strcmp(p, point) != 0) {
			/* Point finished: n replications, 0..n-1 in order. */
			for (int k = 3; k <= n; k++) {
				double mean = 0;
				bool stop;

				for (int i = 0; i < k; i++)
					mean += values[i] / k;
				stop = k == reps || hs_ci95_halfwidth(values, (size_t)k) < width / 100 * mean;
				if (stop != (k == n))
					fail_msg("%s: %d replications kept, the rule says %s at %d", point, n,
						 stop ? "stop" : "continue", k);
			}
			early += n < reps;
			points++;
			n = 0;
		}
		if (!more)
			break;
		snprintf(point, sizeof(point), "%s", p);
		assert_int_equal(sqlite3_column_int(st, 1), n);
		values[n++] = sqlite3_column_double(st, 2);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	assert_int_equal(points, 4);
	return early;
}

static void ci_width_stops_early(void **state)
{
	struct fixture *f = *state;
	int64_t rows1, rows2, rows3;

	assert_int_equal(shell(f, "$HS " CI_SWEEP " --jobs 1 --db one.sqlite"), 0);
	assert_int_equal(shell(f, "$HS " CI_SWEEP " --jobs 2 --db two.sqlite"), 0);
	assert_true(check_ci_rule(f, "one.sqlite", 10, 8.0) >= 1);
	check_ci_rule(f, "two.sqlite", 10, 8.0);
	assert_true(query_int(f, "one.sqlite", "SELECT count(*) FROM run") < 40);
	assert_int_equal(content_hash(f, "one.sqlite", &rows1), content_hash(f, "two.sqlite", &rows2));
	assert_int_equal(rows1, rows2);

	/* Interrupted after 4 commits and resumed: the same decisions. */
	assert_int_equal(shell(f, "HS_SWEEP_TEST_SIGNAL=KILL:4 $HS " CI_SWEEP " --jobs 2 --db cut.sqlite"), 128 + 9);
	assert_int_equal(query_int(f, "cut.sqlite", "SELECT count(*) FROM run"), 4);
	assert_int_equal(shell(f, "$HS " CI_SWEEP " --jobs 2 --db cut.sqlite"), 0);
	assert_int_equal(content_hash(f, "cut.sqlite", &rows3), content_hash(f, "one.sqlite", &rows1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sweep_jobs_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_rows_content, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_phase_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_kill_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_sigint_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_second_sigint_removes_new_db, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_sigint_twice_from_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_rejects_reused_name, setup, teardown),
		cmocka_unit_test_setup_teardown(shards_merge_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_runs_without_key, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_rejects_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_keeps_distinct_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_corrupt_input_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(db_path_names_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_rejects_same_key_other_run, setup, teardown),
		cmocka_unit_test_setup_teardown(parallel_shards_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_policy_param_once, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_name_stable, setup, teardown),
		cmocka_unit_test(range_parsing_table),
		cmocka_unit_test_setup_teardown(bad_vary_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_later_os_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(ci_width_stops_early, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
