/*
 * Tests of `herdsim replay`, `--record-trace`, `herdsim trace gen` and
 * `herdsim export`, run through the real binary (HS_BIN) on real files in
 * a fresh temporary directory per test.  Database contents are read back
 * with plain SQL, and the Perfetto file with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA HS_SRCDIR "/tests/data/traces/"

struct fixture {
	char dir[64];
	char err[128];   /* stderr of the last command */
};

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hs-test-replay-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->err, sizeof(f->err), "%s/stderr.txt", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Path of NAME in the test directory.  The result is a static buffer,
 * one of 16 in rotation, so keep a copy of a path used for long. */
static const char *in_dir(const struct fixture *f, const char *name)
{
	static char bufs[16][256];
	static int next;
	char *b = bufs[next++ % 16];

	snprintf(b, 256, "%s/%s", f->dir, name);
	return b;
}

/* Runs HS_BIN with the NULL-terminated arguments, stdout to /dev/null and
 * stderr to f->err; returns the exit status. */
static int herdsim(const struct fixture *f, ...)
{
	const char *argv[64] = { HS_BIN };
	int argc = 1, status;
	va_list ap;
	pid_t pid;

	va_start(ap, f);
	while ((argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen(f->err, "w", stderr))
			_exit(127);
		execv(HS_BIN, (char **)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* As herdsim(), but the arguments come as a NULL-terminated array and a
 * process that a signal ended returns 128 + the signal number. */
static int herdsim_argv(const struct fixture *f, const char *const *argv)
{
	const char *full[64] = { HS_BIN };
	int argc = 1, status;
	pid_t pid;

	while (argv[argc - 1] && argc < 63) {
		full[argc] = argv[argc - 1];
		argc++;
	}
	full[argc] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen(f->err, "w", stderr))
			_exit(127);
		execv(HS_BIN, (char **)full);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

static int64_t query_int(const char *db_path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Hash of every row of run 1 except the wall-clock columns run.started_at
 * and run.wall_ns, each table in a fixed order. */
static uint64_t content_hash(const char *db_path)
{
	static const char *const sql[] = {
		"SELECT scenario, policy, backend, os, seed, replication, record, status, error, events, "
		"end_ns FROM run WHERE id = 1",
		"SELECT * FROM run_param WHERE run_id = 1 ORDER BY key",
		"SELECT * FROM scalar WHERE run_id = 1 ORDER BY name",
		"SELECT * FROM lock_stat WHERE run_id = 1 ORDER BY lock",
		"SELECT * FROM thread WHERE run_id = 1 ORDER BY thread",
		"SELECT * FROM thread_state WHERE run_id = 1 ORDER BY thread, start_ns",
		"SELECT * FROM wake WHERE run_id = 1 ORDER BY rowid",
		"SELECT * FROM callback WHERE run_id = 1 ORDER BY thread, seq",
		"SELECT * FROM m WHERE run_id = 1 ORDER BY m",
		"SELECT * FROM histogram WHERE run_id = 1 ORDER BY name, lower_ns",
		"SELECT * FROM gauge WHERE run_id = 1 ORDER BY rowid",
	};
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, sql[i], -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *t = sqlite3_column_text(st, c);

				h = fnv(h, t ? (const char *)t : "\x01NULL", t ? strlen((const char *)t) + 1 : 6);
			}
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return h;
}

static int count_lines(const char *path)
{
	char *text = slurp(path, NULL);
	int n = 0;

	for (char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

static void gen_pool(const struct fixture *f, const char *name)
{
	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "pool", "--threads", "8", "--callbacks", "20",
				 "--gc", "1", "--seed", "7", "--out", in_dir(f, name), NULL), 0);
}

/* ---- Tests ----------------------------------------------------------- */

static void round_trip_identical_rows(void **state)
{
	struct fixture *f = *state;
	char *t1, *t2;
	size_t n1, n2;

	gen_pool(f, "gen.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "gen.csv"), "--policy", "waiters", "--reps", "1",
				 "--record", "events", "--db", in_dir(f, "a.sqlite"), "--record-trace",
				 in_dir(f, "rec1.csv"), "--quiet", NULL), 0);
	assert_int_equal(herdsim(f, "replay", in_dir(f, "rec1.csv"), "--policy", "waiters", "--reps", "1",
				 "--record", "events", "--db", in_dir(f, "b.sqlite"), "--record-trace",
				 in_dir(f, "rec2.csv"), "--quiet", NULL), 0);

	assert_int_equal(query_int(in_dir(f, "a.sqlite"), "SELECT count(*) FROM callback"), 160);
	assert_int_equal(query_int(in_dir(f, "a.sqlite"),
				   "SELECT value FROM scalar WHERE name = 'callbacks'"), 160);
	assert_true(query_int(in_dir(f, "a.sqlite"), "SELECT count(*) FROM thread_state") > 160);
	assert_true(content_hash(in_dir(f, "a.sqlite")) == content_hash(in_dir(f, "b.sqlite")));

	/* A replay records the rows it was given, so the recordings match. */
	t1 = slurp(in_dir(f, "rec1.csv"), &n1);
	t2 = slurp(in_dir(f, "rec2.csv"), &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(t1, t2, n1);
	free(t2);
	t2 = slurp(in_dir(f, "gen.csv"), &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(t1, t2, n1);
	free(t1);
	free(t2);
}

static void scenario_recording_replays(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(herdsim(f, "run", "milter", "--policy", "waiters", "--reps", "1", "--set",
				 "workload.threads=20", "--db", in_dir(f, "s.sqlite"), "--record-trace",
				 in_dir(f, "milter.csv"), "--quiet", NULL), 0);
	assert_int_equal(count_lines(in_dir(f, "milter.csv")), 2 + 20 * 20);
	assert_int_equal(herdsim(f, "replay", in_dir(f, "milter.csv"), "--scenario", "milter", "--policy",
				 "waiters", "--reps", "1", "--db", in_dir(f, "r.sqlite"), "--quiet", NULL), 0);
	assert_int_equal(query_int(in_dir(f, "r.sqlite"), "SELECT value FROM scalar WHERE name = 'callbacks'"),
			 400);
	assert_int_equal(query_int(in_dir(f, "r.sqlite"), "SELECT value FROM scalar WHERE name = 'threads'"),
			 20);
	assert_int_equal(query_int(in_dir(f, "r.sqlite"),
				   "SELECT count(*) FROM run_param WHERE key = 'trace.rows' AND value = '400'"), 1);
}

static void malformed_traces_rejected(void **state)
{
	static const struct {
		const char *file;
		const char *where; /* expected "FILE:LINE:COL:" suffix */
	} cases[] = {
		{ "bad_number.csv", "bad_number.csv:4:4: go_work_ns:" },
		{ "missing_column.csv", "missing_column.csv:4:7: c_time_ns:" },
		{ "unterminated_quote.csv", "unterminated_quote.csv:4:3: arrival_ns:" },
		{ "thread_time_backwards.csv", "thread_time_backwards.csv:5:3: arrival_ns:" },
		{ "unknown_version.csv", "unknown_version.csv:1:1: format:" },
		{ "empty.csv", "empty.csv: format: empty file" },
	};
	struct fixture *f = *state;
	char db[256];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	/* One good run first, so the database exists and must stay at one run. */
	gen_pool(f, "good.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "good.csv"), "--policy", "single", "--reps", "1",
				 "--db", db, "--quiet", NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512], *text;

		snprintf(path, sizeof(path), DATA "%s", cases[i].file);
		assert_int_equal(herdsim(f, "replay", path, "--policy", "all", "--db", db, NULL), 1);
		text = slurp(f->err, NULL);
		assert_non_null(strstr(text, cases[i].where));
		assert_int_equal(strncmp(text, "herdsim: " HS_SRCDIR, strlen("herdsim: " HS_SRCDIR)), 0);
		assert_non_null(strchr(text, '\n'));
		assert_string_equal(strchr(text, '\n'), "\n"); /* one line */
		free(text);
		assert_int_equal(query_int(db, "SELECT count(*) FROM run"), 1);
	}
}

/* The native backend replays too; --record-trace still takes one run. */
static void native_runs_and_many_runs_rejected(void **state)
{
	struct fixture *f = *state;

	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--backend", "native", "--policy",
				 "single", "--reps", "1", "--db", in_dir(f, "native.sqlite"), "--quiet",
				 NULL), 0);
	assert_int_equal(query_int(in_dir(f, "native.sqlite"), "SELECT backend = 'native' FROM run"), 1);
	assert_int_equal(query_int(in_dir(f, "native.sqlite"), "SELECT status = 'ok' FROM run"), 1);
	assert_int_equal(query_int(in_dir(f, "native.sqlite"),
				   "SELECT value FROM scalar WHERE name = 'callbacks'"), 160);

	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--policy", "all", "--reps", "2",
				 "--record-trace", in_dir(f, "out.csv"), "--db", in_dir(f, "db.sqlite"), NULL), 2);
	assert_int_equal(access(in_dir(f, "out.csv"), F_OK), -1);
	assert_int_equal(access(in_dir(f, "db.sqlite"), F_OK), -1);
}

static void empty_trace_runs(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(herdsim(f, "replay", DATA "header_only.csv", "--policy", "single", "--reps", "1",
				 "--db", in_dir(f, "db.sqlite"), "--quiet", NULL), 0);
	assert_int_equal(query_int(in_dir(f, "db.sqlite"), "SELECT status = 'ok' FROM run"), 1);
	assert_int_equal(query_int(in_dir(f, "db.sqlite"),
				   "SELECT value FROM scalar WHERE name = 'callbacks'"), 0);
}

/* One thread whose nominal arrivals outrun the simulated callbacks, so
 * more rows queue than the replay pool holds and delivery must wait. */
static void lagging_thread_completes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "burst", "--threads", "1", "--callbacks",
				 "100000", "--think", "0", "--go-work", "500ns", "--out", in_dir(f, "lag.csv"), NULL), 0);
	assert_int_equal(herdsim(f, "replay", in_dir(f, "lag.csv"), "--policy", "single", "--reps", "1",
				 "--db", in_dir(f, "db.sqlite"), "--quiet", NULL), 0);
	assert_int_equal(query_int(in_dir(f, "db.sqlite"), "SELECT value FROM scalar WHERE name = 'callbacks'"),
			 100000);
	/* Each callback costs more than its 500 ns of Go work (about 2.2 us
	 * with the linux profile), so the run lasts longer than the trace's
	 * nominal 50 ms, and after about 30 ms more than 65536 rows wait. */
	assert_true(query_int(in_dir(f, "db.sqlite"), "SELECT value FROM scalar WHERE name = 'makespan_ns'") >
		    150000000);
}

/* Checks the complete events of thread T against its thread_state rows. */
static void check_thread_slices(sqlite3 *db, json_t *events, int64_t thread)
{
	sqlite3_stmt *st;
	size_t i, k = 0;
	json_t *e;
	int64_t rows = 0;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT start_ns, end_ns, state FROM thread_state "
					    "WHERE run_id = 1 AND thread = ? ORDER BY start_ns", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, thread);
	json_array_foreach(events, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "ph")), "X") != 0 ||
		    json_integer_value(json_object_get(e, "tid")) != thread + 1)
			continue;
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		rows++;
		assert_int_equal(llround(json_number_value(json_object_get(e, "ts")) * 1000),
				 sqlite3_column_int64(st, 0));
		assert_int_equal(llround(json_number_value(json_object_get(e, "dur")) * 1000),
				 sqlite3_column_int64(st, 1) - sqlite3_column_int64(st, 0));
		assert_string_equal(json_string_value(json_object_get(e, "name")),
				    (const char *)sqlite3_column_text(st, 2));
		k++;
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE); /* no row left over */
	sqlite3_finalize(st);
	assert_int_equal(k, rows);
}

static void perfetto_matches_states(void **state)
{
	struct fixture *f = *state;
	char db_path[256];
	json_error_t jerr;
	json_t *root, *events, *e;
	sqlite3 *db;
	size_t i, flows = 0, counters = 0, names = 0;
	int64_t nthreads;

	snprintf(db_path, sizeof(db_path), "%s", in_dir(f, "db.sqlite"));
	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--policy", "waiters", "--reps", "1",
				 "--record", "events", "--db", db_path, "--quiet", NULL), 0);
	assert_int_equal(herdsim(f, "export", db_path, "--run", "1", "--format", "perfetto", "--out",
				 in_dir(f, "run.json"), NULL), 0);
	root = json_load_file(in_dir(f, "run.json"), 0, &jerr);
	assert_non_null(root);
	events = json_object_get(root, "traceEvents");
	assert_true(json_is_array(events));
	json_array_foreach(events, i, e) {
		const char *ph = json_string_value(json_object_get(e, "ph"));

		flows += strcmp(ph, "s") == 0;
		counters += strcmp(ph, "C") == 0;
		names += strcmp(ph, "M") == 0 &&
			 strcmp(json_string_value(json_object_get(e, "name")), "thread_name") == 0;
	}
	nthreads = query_int(db_path, "SELECT count(*) FROM thread");
	assert_int_equal(names, nthreads);
	assert_int_equal(flows, query_int(db_path, "SELECT count(*) FROM wake WHERE waker IS NOT NULL"));
	assert_int_equal(counters, query_int(db_path, "SELECT count(*) FROM gauge"));
	assert_true(counters > 0);
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (int64_t t = 0; t < nthreads; t++)
		check_thread_slices(db, events, t);
	sqlite3_close(db);
	json_decref(root);
}

static void export_needs_events(void **state)
{
	struct fixture *f = *state;
	char *text;

	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--policy", "single", "--reps", "1",
				 "--db", in_dir(f, "db.sqlite"), "--quiet", NULL), 0);
	assert_int_equal(herdsim(f, "export", in_dir(f, "db.sqlite"), "--run", "1", "--format", "perfetto",
				 "--out", in_dir(f, "x.json"), NULL), 1);
	text = slurp(f->err, NULL);
	assert_non_null(strstr(text, "rerun it with --record events"));
	free(text);
	assert_int_equal(access(in_dir(f, "x.json"), F_OK), -1);
}

static void export_names_bad_database(void **state)
{
	struct fixture *f = *state;
	char *text;
	FILE *fp;

	assert_int_equal(herdsim(f, "export", in_dir(f, "none.sqlite"), "--run", "1", "--format", "csv",
				 "--out", in_dir(f, "csv"), NULL), 1);
	text = slurp(f->err, NULL);
	assert_non_null(strstr(text, "none.sqlite: database not found"));
	free(text);

	/* A text file is no database, whatever its name. */
	fp = fopen(in_dir(f, "text.sqlite"), "w");
	assert_non_null(fp);
	assert_true(fputs("not a database\n", fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(herdsim(f, "export", in_dir(f, "text.sqlite"), "--run", "1", "--format",
				 "perfetto", "--out", in_dir(f, "x.json"), NULL), 1);
	text = slurp(f->err, NULL);
	assert_non_null(strstr(text, "text.sqlite: not a SQLite database"));
	assert_null(strstr(text, "user_version"));
	free(text);
	assert_int_equal(access(in_dir(f, "x.json"), F_OK), -1);
	assert_int_equal(access(in_dir(f, "csv"), F_OK), -1);
}

static void csv_export_counts(void **state)
{
	static const char *const tables[] = { "thread_state", "wake", "callback" };
	struct fixture *f = *state;
	char db[256], path[512], sql[128];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--policy", "waiters", "--reps", "1",
				 "--record", "events", "--db", db, "--quiet", NULL), 0);
	assert_int_equal(herdsim(f, "export", db, "--run", "1", "--format", "csv", "--out", in_dir(f, "csv"),
				 NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		int64_t rows;

		snprintf(path, sizeof(path), "%s/csv/%s.csv", f->dir, tables[i]);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		rows = query_int(db, sql);
		assert_true(rows > 0);
		assert_int_equal(count_lines(path), rows + 1); /* header line */
	}
}

/* Asserts that f->err contains exactly one line, and that the line contains TEXT. */
static void assert_one_error_line(const struct fixture *f, const char *text)
{
	char *err = slurp(f->err, NULL);
	int lines = 0;

	for (char *p = err; *p; p++)
		lines += *p == '\n';
	assert_non_null(strstr(err, text));
	assert_int_equal(lines, 1);
	free(err);
}

/* Starts a trace gen that would run for hours, waits until its FILE.tmp
 * exists, sends sig and checks that the process dies of it, leaves
 * neither FILE nor FILE.tmp and prints one line. */
static void interrupt_trace_gen(const struct fixture *f, int sig)
{
	char out[256], tmp[264];
	int status;
	pid_t pid;

	snprintf(out, sizeof(out), "%s", in_dir(f, "endless.csv"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (!freopen(f->err, "w", stderr))
			_exit(127);
		execl(HS_BIN, HS_BIN, "trace", "gen", "--kind", "burst", "--threads", "1",
		      "--callbacks", "1000000000000", "--go-work", "0us", "--think", "0us", "--out",
		      out, (char *)NULL);
		_exit(127);
	}
	/* Up to 60 s for the file to appear, in steps of 10 ms. */
	for (int i = 0; i < 6000 && access(tmp, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(access(out, F_OK), -1);
	assert_one_error_line(f, "herdsim: trace gen interrupted; ");
}

static void interrupted_gen_leaves_nothing(void **state)
{
	interrupt_trace_gen(*state, SIGINT);
	interrupt_trace_gen(*state, SIGTERM);
}

/* Writes a trace of 8 threads x 200 callbacks to NAME and records one
 * replay of it with events in DB, so that its exports fill many pipe
 * buffers (about 250 KB of Perfetto JSON and 70 KB of callback.csv). */
static void record_large_run(const struct fixture *f, const char *name, const char *db)
{
	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "pool", "--threads", "8", "--callbacks",
				 "200", "--seed", "7", "--out", in_dir(f, name), NULL), 0);
	assert_int_equal(herdsim(f, "replay", in_dir(f, name), "--policy", "waiters", "--reps", "1",
				 "--record", "events", "--db", db, "--quiet", NULL), 0);
}

/* Writes TEXT to PATH, replacing the file. */
static void write_file_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* Asserts that the file at PATH contains exactly TEXT. */
static void assert_file_text(const char *path, const char *text)
{
	size_t len;
	char *got = slurp(path, &len);

	assert_string_equal(got, text);
	assert_int_equal(len, strlen(text));
	free(got);
}

/* Runs `herdsim export DB --run 1 --format FORMAT --out OUT` with FIFO, a
 * named pipe in place of one of its FILE.tmp, reads the first bytes of
 * that file, sends SIG while the export is blocked writing the rest, and
 * checks that the process dies of SIG.  The pipe buffer is set to one
 * page, so the export cannot finish before the signal. */
static void interrupt_export(const struct fixture *f, const char *db, const char *format,
			     const char *out, const char *fifo, int sig)
{
	struct pollfd readable;
	char buf[512];
	int fd, status;
	pid_t pid;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* O_NONBLOCK: the open returns before the export opens the other end. */
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_SETPIPE_SZ, 4096) >= 4096);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (!freopen("/dev/null", "w", stdout) || !freopen(f->err, "w", stderr))
			_exit(127);
		execl(HS_BIN, HS_BIN, "export", db, "--run", "1", "--format", format, "--out", out,
		      (char *)NULL);
		_exit(127);
	}
	readable = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&readable, 1, 60000), 1); /* up to 60 s for the first bytes */
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
}

/* SIGINT or SIGTERM while the Perfetto file is written removes FILE.tmp,
 * prints one line and leaves the existing file as it was. */
static void interrupted_perfetto_keeps_old(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct fixture *f = *state;
	char db[256], out[256], tmp[264];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	snprintf(out, sizeof(out), "%s", in_dir(f, "run.json"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	record_large_run(f, "g.csv", db);
	for (size_t i = 0; i < 2; i++) {
		write_file_text(out, "old\n");
		interrupt_export(f, db, "perfetto", out, tmp, sigs[i]);
		assert_int_equal(access(tmp, F_OK), -1);
		assert_file_text(out, "old\n");
		assert_one_error_line(f, "herdsim: export interrupted; ");
	}
}

/* SIGINT or SIGTERM while callback.csv, the last table, is written
 * removes every FILE.tmp, prints one line and leaves all three existing
 * files as they were, including the two tables already written. */
static void interrupted_csv_keeps_old(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	static const char *const tables[] = { "thread_state", "wake", "callback" };
	struct fixture *f = *state;
	char db[256], out[256], path[320], fifo[320];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	snprintf(out, sizeof(out), "%s", in_dir(f, "csv"));
	record_large_run(f, "g.csv", db);
	assert_int_equal(mkdir(out, 0700), 0);
	snprintf(fifo, sizeof(fifo), "%s/callback.csv.tmp", out);
	for (size_t i = 0; i < 2; i++) {
		for (size_t t = 0; t < 3; t++) {
			snprintf(path, sizeof(path), "%s/%s.csv", out, tables[t]);
			write_file_text(path, "old\n");
		}
		interrupt_export(f, db, "csv", out, fifo, sigs[i]);
		for (size_t t = 0; t < 3; t++) {
			snprintf(path, sizeof(path), "%s/%s.csv", out, tables[t]);
			assert_file_text(path, "old\n");
			snprintf(path, sizeof(path), "%s/%s.csv.tmp", out, tables[t]);
			assert_int_equal(access(path, F_OK), -1);
		}
		assert_one_error_line(f, "herdsim: export interrupted; ");
	}
}

/* Replays g.csv with --record-trace OUT and HS_RUN_TEST_SIGNAL set to
 * HOOK, which signals the process after the first row of OUT.tmp is
 * written.  Returns the exit status, 128 + the signal for a process that
 * the signal ended. */
static int replay_with_signal(const struct fixture *f, const char *db, const char *out, const char *hook)
{
	int status;

	setenv("HS_RUN_TEST_SIGNAL", hook, 1);
	status = herdsim_argv(f, (const char *const[]){ "replay", in_dir(f, "g.csv"), "--policy", "waiters",
							"--reps", "1", "--db", db, "--quiet",
							"--record-trace", out, NULL });
	unsetenv("HS_RUN_TEST_SIGNAL");
	return status;
}

/* A second SIGINT or SIGTERM while --record-trace is written ends the
 * process at once: FILE.tmp is removed, the existing FILE is left as it
 * was, and the new database, which received no run, is removed. */
static void record_trace_second_signal_keeps_old(void **state)
{
	static const char *const hooks[] = { "INT2:trace", "TERM2:trace" };
	static const int sigs[] = { SIGINT, SIGTERM };
	struct fixture *f = *state;
	char db[256], out[256], tmp[264];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	snprintf(out, sizeof(out), "%s", in_dir(f, "again.csv"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	gen_pool(f, "g.csv");
	for (size_t i = 0; i < 2; i++) {
		write_file_text(out, "old\n");
		assert_int_equal(replay_with_signal(f, db, out, hooks[i]), 128 + sigs[i]);
		assert_int_equal(access(tmp, F_OK), -1);
		assert_file_text(out, "old\n");
		assert_int_equal(access(db, F_OK), -1);
		assert_one_error_line(f, "herdsim: stopping after the run in progress");
	}
}

/* A first SIGINT while --record-trace is written lets the run in
 * progress finish: the trace is written whole, the run is recorded, no
 * FILE.tmp is left, and the command exits 130. */
static void record_trace_first_signal_completes(void **state)
{
	struct fixture *f = *state;
	char db[256], ref_db[256], out[256], ref[256], tmp[264];
	char *got, *want, *err;
	size_t ngot, nwant;

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	snprintf(ref_db, sizeof(ref_db), "%s", in_dir(f, "ref.sqlite"));
	snprintf(out, sizeof(out), "%s", in_dir(f, "again.csv"));
	snprintf(ref, sizeof(ref), "%s", in_dir(f, "ref.csv"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", in_dir(f, "g.csv"), "--policy", "waiters", "--reps", "1",
				 "--db", ref_db, "--quiet", "--record-trace", ref, NULL), 0);
	write_file_text(out, "old\n");
	assert_int_equal(replay_with_signal(f, db, out, "INT:trace"), 130);
	err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "herdsim: stopping after the run in progress"));
	assert_non_null(strstr(err, "herdsim: interrupted; 1 run recorded in "));
	free(err);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM run"), 1);
	got = slurp(out, &ngot);
	want = slurp(ref, &nwant);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, nwant);
	free(got);
	free(want);
}

/* Runs SQL on the database at PATH; aborts the test if it fails. */
static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* When the run cannot be written to the database after its trace is
 * complete, `replay --record-trace FILE` and `run --record-trace FILE`
 * leave an existing FILE as it was and no FILE.tmp, and print one line.
 * A trigger that rejects every new run row makes the write fail. */
static void record_trace_db_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	char db[256], out[256], tmp[264];
	const char *const commands[2][14] = {
		{ "replay", NULL, "--policy", "waiters", "--reps", "1", "--db", db, "--quiet",
		  "--record-trace", out, NULL },
		{ "run", "milter", "--policy", "waiters", "--os", "freebsd", "--reps", "1", "--db", db,
		  "--quiet", "--record-trace", out, NULL },
	};
	char trace[256];

	snprintf(db, sizeof(db), "%s", in_dir(f, "db.sqlite"));
	snprintf(out, sizeof(out), "%s", in_dir(f, "again.csv"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	snprintf(trace, sizeof(trace), "%s", in_dir(f, "g.csv"));
	gen_pool(f, "g.csv");
	assert_int_equal(herdsim(f, "replay", trace, "--policy", "waiters", "--reps", "1", "--db", db,
				 "--quiet", NULL), 0);
	exec_sql(db, "CREATE TRIGGER reject_run BEFORE INSERT ON run "
		     "BEGIN SELECT RAISE(ABORT, 'test trigger rejects the run'); END");
	for (size_t i = 0; i < 2; i++) {
		const char *argv[14];

		memcpy(argv, commands[i], sizeof(argv));
		if (i == 0)
			argv[1] = trace;
		write_file_text(out, "old\n");
		assert_int_equal(herdsim_argv(f, argv), 1);
		assert_file_text(out, "old\n");
		assert_int_equal(access(tmp, F_OK), -1);
		assert_one_error_line(f, "test trigger rejects the run");
		assert_one_error_line(f, "again.csv is left as it was");
		assert_int_equal(query_int(db, "SELECT count(*) FROM run"), 1);
	}
}

static void trace_gen_deterministic(void **state)
{
	struct fixture *f = *state;
	char *a, *b, *c;
	size_t na, nb, nc;

	gen_pool(f, "a.csv");
	gen_pool(f, "b.csv");
	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "pool", "--threads", "8", "--callbacks", "20",
				 "--gc", "1", "--seed", "8", "--out", in_dir(f, "c.csv"), NULL), 0);
	a = slurp(in_dir(f, "a.csv"), &na);
	b = slurp(in_dir(f, "b.csv"), &nb);
	c = slurp(in_dir(f, "c.csv"), &nc);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	assert_false(na == nc && memcmp(a, c, na) == 0); /* the seed matters */
	assert_int_equal(count_lines(in_dir(f, "a.csv")), 2 + 160);
	free(a);
	free(b);
	free(c);
	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "sometimes", "--out", in_dir(f, "d.csv"), NULL), 2);
	assert_int_equal(access(in_dir(f, "d.csv"), F_OK), -1);
}

/* The shipped recorded traces are what their README's commands give: the
 * milter trace is rebuilt by its recording run and compared byte for
 * byte, and pool-16x50.csv by its generator command. */
static void shipped_traces_rebuild(void **state)
{
	struct fixture *f = *state;
	const char *shipped[2] = { HS_SRCDIR "/traces/recorded/milter-waiters-freebsd.csv",
				   HS_SRCDIR "/traces/recorded/pool-16x50.csv" };
	const char *built[2];
	char *a, *b;
	size_t na, nb;

	built[0] = in_dir(f, "milter.csv");
	assert_int_equal(herdsim(f, "run", "milter", "--policy", "waiters", "--os", "freebsd", "--reps", "1",
				 "--seed", "1", "--record-trace", built[0], "--db", in_dir(f, "m.sqlite"),
				 "--quiet", NULL),
			 0);
	built[1] = in_dir(f, "pool.csv");
	assert_int_equal(herdsim(f, "trace", "gen", "--kind", "pool", "--threads", "16", "--callbacks", "50",
				 "--think", "20us", "--go-work", "10us", "--seed", "3", "--out", built[1], NULL),
			 0);
	for (int i = 0; i < 2; i++) {
		a = slurp(shipped[i], &na);
		b = slurp(built[i], &nb);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_identical_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(scenario_recording_replays, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_traces_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(native_runs_and_many_runs_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_trace_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(lagging_thread_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(perfetto_matches_states, setup, teardown),
		cmocka_unit_test_setup_teardown(export_needs_events, setup, teardown),
		cmocka_unit_test_setup_teardown(csv_export_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(export_names_bad_database, setup, teardown),
		cmocka_unit_test_setup_teardown(trace_gen_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_gen_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_perfetto_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_csv_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(record_trace_second_signal_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(record_trace_first_signal_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(record_trace_db_failure_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(shipped_traces_rebuild, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
