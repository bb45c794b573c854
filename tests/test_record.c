/*
 * Tests of the SQLite recorder (sim/record.c) on real database files in a
 * fresh temporary directory per test.  Values are read back with plain SQL
 * through hs_db_handle or a second connection, never through the recorder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "result.h"

/* Every table of schema version 1 that contains rows of a run. */
static const char *const run_tables[] = {
	"run_param", "scalar", "lock_stat", "thread", "thread_state",
	"wake", "callback", "m", "histogram", "gauge",
};
#define N_RUN_TABLES (sizeof(run_tables) / sizeof(run_tables[0]))

static const char *const event_tables[] = { "thread_state", "wake", "callback", "gauge" };

struct fixture {
	char dir[64];
	char path[128];
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/hs-test-record-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/out.sqlite", f->dir);
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

static struct hs_db *open_ok(const char *path)
{
	struct hs_db *db = NULL;
	struct hs_error err = { 0 };
	int rc = hs_db_open(&db, path, &err);

	if (rc != 0)
		fail_msg("hs_db_open(%s) = %d: %s", path, rc, err.msg);
	return db;
}

/* Returns the integer result of a one-row query, or fails the test. */
static int64_t query_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("no row from %s: %s", sql, sqlite3_errmsg(h));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t count_rows(sqlite3 *h, const char *table, int64_t run_id)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE run_id = %lld", table,
		 (long long)run_id);
	return query_int(h, sql);
}

static int64_t count_all(sqlite3 *h, const char *table)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return query_int(h, sql);
}

/* Prepares sql and steps it once; the caller reads columns and finalizes. */
static sqlite3_stmt *row(sqlite3 *h, const char *sql, int64_t run_id)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(h));
	sqlite3_bind_int64(st, 1, run_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("no row from %s", sql);
	return st;
}

static void assert_column_text(sqlite3_stmt *st, int col, const char *expected)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	assert_non_null(t);
	assert_string_equal((const char *)t, expected);
}

static void assert_column_null(sqlite3_stmt *st, int col)
{
	assert_int_equal(sqlite3_column_type(st, col), SQLITE_NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Fills r with at least one row for every table, with values that catch
 * swapped columns (all distinct) and the -1 -> NULL mapping. */
static void fill_result(struct hs_run_result *r, enum hs_record_level level)
{
	struct hs_lock_stat *l;
	struct hs_thread_rec *t;
	struct hs_m_rec *m;
	struct hs_hist_rec *h;
	struct hs_state_rec *s;
	struct hs_wake_rec *w;
	struct hs_callback_rec *c;
	struct hs_gauge_rec *g;

	hs_result_init(r);
	snprintf(r->scenario, sizeof(r->scenario), "cgo-callback-gc");
	snprintf(r->policy, sizeof(r->policy), "spin-then-sleep");
	snprintf(r->backend, sizeof(r->backend), "sim");
	snprintf(r->os, sizeof(r->os), "linux-cfs");
	r->seed = UINT64_MAX - 5; /* above 2^63-1: stored as its bit pattern */
	r->replication = 3;
	r->record = level;
	r->status = HS_STATUS_DEADLOCK;
	snprintf(r->error, sizeof(r->error), "every thread blocked at 1200 ns");
	r->events = 123456789;
	r->end_ns = 987654321;
	snprintf(r->started_at, sizeof(r->started_at), "2024-05-06T07:08:09Z");
	r->wall_ns = 4242;

	assert_int_equal(hs_result_param(r, "machine.cores", "4"), 0);
	assert_int_equal(hs_result_param(r, "policy.spin", "30"), 0);
	assert_int_equal(hs_result_scalar(r, "makespan_ns", 1.5e9), 0);
	assert_int_equal(hs_result_scalar(r, "wasted_wakeups", 17), 0);
	assert_int_equal(hs_result_scalar(r, "mean_of_nothing", NAN), 0);

	l = HS_VEC_PUSH(&r->locks);
	*l = (struct hs_lock_stat){ .acquisitions = 100, .contentions = 40,
		.acquisition_bounces = 30, .contention_bounces = 20, .wait_min_ns = 5,
		.wait_max_ns = 5000, .wait_total_ns = 50000, .hold_min_ns = 7,
		.hold_max_ns = 700, .hold_total_ns = 7000 };
	snprintf(l->name, sizeof(l->name), "sched.lock");

	t = HS_VEC_PUSH(&r->threads);
	*t = (struct hs_thread_rec){ .id = 0, .kind = HS_THREAD_FOREIGN, .created_ns = 0,
		.exited_ns = 900 };
	snprintf(t->name, sizeof(t->name), "c0");
	t = HS_VEC_PUSH(&r->threads);
	*t = (struct hs_thread_rec){ .id = 1, .kind = HS_THREAD_RUNTIME, .created_ns = 11,
		.exited_ns = -1 };
	snprintf(t->name, sizeof(t->name), "sysmon");

	m = HS_VEC_PUSH(&r->ms);
	*m = (struct hs_m_rec){ .id = 0, .created_ns = 0, .created_by = -1 };
	snprintf(m->reason, sizeof(m->reason), "start");
	m = HS_VEC_PUSH(&r->ms);
	*m = (struct hs_m_rec){ .id = 1, .created_ns = 333, .created_by = 0 };
	snprintf(m->reason, sizeof(m->reason), "extra");

	h = HS_VEC_PUSH(&r->hists);
	*h = (struct hs_hist_rec){ .lower_ns = 1000, .upper_ns = 2000, .count = 77 };
	snprintf(h->name, sizeof(h->name), "callback_latency");

	s = HS_VEC_PUSH(&r->states);
	*s = (struct hs_state_rec){ .thread = 0, .state = HS_TS_RUNNING, .reason = HS_R_WORK,
		.waker = -1, .start_ns = 10, .end_ns = 20 };
	s = HS_VEC_PUSH(&r->states);
	*s = (struct hs_state_rec){ .thread = 0, .state = HS_TS_SLEEPING, .reason = HS_R_FUTEX,
		.waker = 1, .start_ns = 20, .end_ns = 35 };

	w = HS_VEC_PUSH(&r->wakes);
	*w = (struct hs_wake_rec){ .time_ns = 35, .waker = -1, .woken = 0, .latency_ns = 4,
		.reason = HS_R_USLEEP, .wasted = 1 };
	w = HS_VEC_PUSH(&r->wakes);
	*w = (struct hs_wake_rec){ .time_ns = 50, .waker = 1, .woken = 0, .latency_ns = 9,
		.reason = HS_R_LOCK, .wasted = 0 };

	c = HS_VEC_PUSH(&r->callbacks);
	*c = (struct hs_callback_rec){ .thread = 0, .seq = 2, .arrival_ns = 100,
		.m_acquired_ns = 150, .p_acquired_ns = 180, .done_ns = 260, .m = 1,
		.sleeps = 3, .yields = 4, .cas_failures = 5 };

	g = HS_VEC_PUSH(&r->gauges);
	*g = (struct hs_gauge_rec){ .time_ns = 40, .thread = -1, .value = 6 };
	snprintf(g->name, sizeof(g->name), "m_list_len");
	g = HS_VEC_PUSH(&r->gauges);
	*g = (struct hs_gauge_rec){ .time_ns = 41, .thread = 1, .value = 2 };
	snprintf(g->name, sizeof(g->name), "waiters");
}

/* ---- Opening --------------------------------------------------------- */

static void test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	char path[192];
	struct hs_db *db;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/a/b/new.sqlite", f->dir);
	db = open_ok(path);
	h = hs_db_handle(db);

	assert_int_equal(query_int(h, "PRAGMA user_version"), HS_SCHEMA_VERSION);
	assert_int_equal(query_int(h, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(h, "SELECT value FROM meta WHERE key = 'schema_version'"),
			 HS_SCHEMA_VERSION);
	assert_int_equal(query_int(h, "SELECT count(*) FROM meta WHERE key = 'herdsim_version'"
				   " AND value = '" HS_VERSION "'"), 1);
	assert_int_equal(query_int(h, "SELECT count(*) FROM pragma_journal_mode"
				   " WHERE journal_mode = 'wal'"), 1);
	/* synchronous = NORMAL is 1 */
	assert_int_equal(query_int(h, "PRAGMA synchronous"), 1);
	assert_int_equal(query_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				   " AND name IN ('meta', 'experiment', 'run', 'run_param', 'scalar',"
				   " 'lock_stat', 'thread', 'thread_state', 'wake', 'callback', 'm',"
				   " 'histogram', 'gauge')"), 13);
	hs_db_close(db);

	/* Opening the file again keeps its schema and does not add meta rows:
	 * schema_version, herdsim_version, herdsim_revision, views_version. */
	db = open_ok(path);
	assert_int_equal(query_int(hs_db_handle(db), "SELECT count(*) FROM meta"), 4);
	assert_int_equal(query_int(hs_db_handle(db), "SELECT count(*) FROM sqlite_master"
				   " WHERE type = 'view' AND name IN ('run_summary',"
				   " 'point_summary', 'lock_summary', 'sleep_wake')"), 4);
	hs_db_close(db);
}

static void test_open_reports_bad_directory(void **state)
{
	struct fixture *f = *state;
	char file[192], path[224], dir[224];
	struct hs_db *db = NULL;
	struct hs_error err = { 0 };

	/* A regular file where a parent directory should be. */
	snprintf(file, sizeof(file), "%s/plain", f->dir);
	write_file(file, "x\n");
	snprintf(path, sizeof(path), "%s/sub/out.sqlite", file);
	snprintf(dir, sizeof(dir), "%s/sub", file);

	assert_int_equal(hs_db_open(&db, path, &err), HS_E_IO);
	assert_null(db);
	assert_string_equal(err.file, dir);
	assert_non_null(strstr(err.msg, "creating the database directory failed"));
}

static void test_open_rejects_other_version(void **state)
{
	struct fixture *f = *state;
	struct hs_db *db = open_ok(f->path);
	struct hs_error err = { 0 };

	assert_int_equal(sqlite3_exec(hs_db_handle(db), "PRAGMA user_version = 7", NULL, NULL,
				      NULL), SQLITE_OK);
	hs_db_close(db);

	db = (struct hs_db *)&err; /* any non-NULL value: a failed open sets NULL */
	assert_int_equal(hs_db_open(&db, f->path, &err), HS_E_VERSION);
	assert_null(db);
	assert_int_equal(err.code, HS_E_VERSION);
	assert_string_equal(err.file, f->path);
	assert_non_null(strstr(err.msg, "version 7"));
	assert_non_null(strstr(err.msg, "version 1"));
	assert_non_null(strstr(err.msg, "new --db file"));
}

static void test_open_rejects_foreign_tables(void **state)
{
	struct fixture *f = *state;
	struct hs_db *db = NULL;
	struct hs_error err = { 0 };
	sqlite3 *h;

	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	assert_int_equal(hs_db_open(&db, f->path, &err), HS_E_VERSION);
	assert_null(db);
	assert_string_equal(err.file, f->path);
	assert_non_null(strstr(err.msg, "user_version 0"));
}

static void test_open_rejects_non_database(void **state)
{
	struct fixture *f = *state;
	const char *text = "scenario = cgo-callback-gc\nthis is not a database, but long "
			   "enough to look like a header of one hundred bytes or more......\n";
	struct hs_db *db = NULL;
	struct hs_error err = { 0 };
	char back[256] = { 0 };
	FILE *fp;

	write_file(f->path, text);
	assert_int_equal(hs_db_open(&db, f->path, &err), HS_E_DB);
	assert_null(db);
	assert_int_equal(err.code, HS_E_DB);
	assert_string_equal(err.file, f->path);
	assert_non_null(strstr(err.msg, "not a SQLite database"));

	/* The file is left as it was. */
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back) - 1, fp), strlen(text));
	fclose(fp);
	assert_string_equal(back, text);
}

/* ---- Writing runs ---------------------------------------------------- */

static void check_run_row(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *st = row(h, "SELECT experiment_id, run_key, scenario, policy, backend, os,"
			       " seed, replication, record, status, error, version, started_at,"
			       " events, end_ns, wall_ns FROM run WHERE id = ?", id);

	assert_column_null(st, 0);
	assert_column_null(st, 1);
	assert_column_text(st, 2, "cgo-callback-gc");
	assert_column_text(st, 3, "spin-then-sleep");
	assert_column_text(st, 4, "sim");
	assert_column_text(st, 5, "linux-cfs");
	assert_true((uint64_t)sqlite3_column_int64(st, 6) == UINT64_MAX - 5);
	assert_int_equal(sqlite3_column_int(st, 7), 3);
	assert_column_text(st, 8, "events");
	assert_column_text(st, 9, "deadlock");
	assert_column_text(st, 10, "every thread blocked at 1200 ns");
	assert_column_text(st, 11, HS_VERSION);
	assert_column_text(st, 12, "2024-05-06T07:08:09Z");
	assert_int_equal(sqlite3_column_int64(st, 13), 123456789);
	assert_int_equal(sqlite3_column_int64(st, 14), 987654321);
	assert_int_equal(sqlite3_column_int64(st, 15), 4242);
	sqlite3_finalize(st);
}

static void check_summary_rows(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *st;

	st = row(h, "SELECT group_concat(key || '=' || value, ';') FROM"
		 " (SELECT key, value FROM run_param WHERE run_id = ? ORDER BY key)", id);
	assert_column_text(st, 0, "machine.cores=4;policy.spin=30");
	sqlite3_finalize(st);

	st = row(h, "SELECT (SELECT value FROM scalar WHERE run_id = ?1 AND name = 'makespan_ns'),"
		 " (SELECT value FROM scalar WHERE run_id = ?1 AND name = 'wasted_wakeups'),"
		 " (SELECT value FROM scalar WHERE run_id = ?1 AND name = 'mean_of_nothing')", id);
	assert_true(sqlite3_column_double(st, 0) == 1.5e9);
	assert_true(sqlite3_column_double(st, 1) == 17.0);
	assert_column_null(st, 2);
	sqlite3_finalize(st);
	assert_int_equal(count_rows(h, "scalar", id), 3);

	st = row(h, "SELECT lock, acquisitions, contentions, acquisition_bounces,"
		 " contention_bounces, wait_min_ns, wait_max_ns, wait_total_ns, hold_min_ns,"
		 " hold_max_ns, hold_total_ns FROM lock_stat WHERE run_id = ?", id);
	assert_column_text(st, 0, "sched.lock");
	{
		static const int64_t expected[] = { 100, 40, 30, 20, 5, 5000, 50000, 7, 700, 7000 };

		for (int i = 0; i < 10; i++)
			assert_int_equal(sqlite3_column_int64(st, i + 1), expected[i]);
	}
	sqlite3_finalize(st);
}

static void check_entity_rows(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *st;

	st = row(h, "SELECT thread, kind, name, created_ns, exited_ns FROM thread"
		 " WHERE run_id = ? ORDER BY thread", id);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	assert_column_text(st, 1, "foreign");
	assert_column_text(st, 2, "c0");
	assert_int_equal(sqlite3_column_int64(st, 3), 0);
	assert_int_equal(sqlite3_column_int64(st, 4), 900);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	assert_column_text(st, 1, "runtime");
	assert_column_text(st, 2, "sysmon");
	assert_int_equal(sqlite3_column_int64(st, 3), 11);
	assert_column_null(st, 4);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	st = row(h, "SELECT m, created_ns, created_by, reason FROM m WHERE run_id = ?"
		 " ORDER BY m", id);
	assert_int_equal(sqlite3_column_int64(st, 0), 0);
	assert_int_equal(sqlite3_column_int64(st, 1), 0);
	assert_column_null(st, 2);
	assert_column_text(st, 3, "start");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1);
	assert_int_equal(sqlite3_column_int64(st, 1), 333);
	assert_int_equal(sqlite3_column_int64(st, 2), 0);
	assert_column_text(st, 3, "extra");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	st = row(h, "SELECT name, lower_ns, upper_ns, count FROM histogram WHERE run_id = ?", id);
	assert_column_text(st, 0, "callback_latency");
	assert_int_equal(sqlite3_column_int64(st, 1), 1000);
	assert_int_equal(sqlite3_column_int64(st, 2), 2000);
	assert_int_equal(sqlite3_column_int64(st, 3), 77);
	sqlite3_finalize(st);
}

static void check_event_rows(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *st;

	st = row(h, "SELECT thread, start_ns, end_ns, state, reason, waker FROM thread_state"
		 " WHERE run_id = ? ORDER BY thread, start_ns", id);
	assert_int_equal(sqlite3_column_int64(st, 1), 10);
	assert_int_equal(sqlite3_column_int64(st, 2), 20);
	assert_column_text(st, 3, "running");
	assert_column_text(st, 4, "work");
	assert_column_null(st, 5);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	assert_int_equal(sqlite3_column_int64(st, 1), 20);
	assert_int_equal(sqlite3_column_int64(st, 2), 35);
	assert_column_text(st, 3, "sleeping");
	assert_column_text(st, 4, "futex");
	assert_int_equal(sqlite3_column_int(st, 5), 1);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	st = row(h, "SELECT time_ns, waker, woken, latency_ns, reason, wasted FROM wake"
		 " WHERE run_id = ? ORDER BY time_ns", id);
	assert_int_equal(sqlite3_column_int64(st, 0), 35);
	assert_column_null(st, 1);
	assert_int_equal(sqlite3_column_int(st, 2), 0);
	assert_int_equal(sqlite3_column_int64(st, 3), 4);
	assert_column_text(st, 4, "usleep");
	assert_int_equal(sqlite3_column_int(st, 5), 1);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 50);
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	assert_int_equal(sqlite3_column_int64(st, 3), 9);
	assert_column_text(st, 4, "lock");
	assert_int_equal(sqlite3_column_int(st, 5), 0);
	sqlite3_finalize(st);

	st = row(h, "SELECT thread, seq, arrival_ns, m_acquired_ns, p_acquired_ns, done_ns, m,"
		 " sleeps, yields, cas_failures FROM callback WHERE run_id = ?", id);
	{
		static const int64_t expected[] = { 0, 2, 100, 150, 180, 260, 1, 3, 4, 5 };

		for (int i = 0; i < 10; i++)
			assert_int_equal(sqlite3_column_int64(st, i), expected[i]);
	}
	sqlite3_finalize(st);

	st = row(h, "SELECT time_ns, thread, name, value FROM gauge WHERE run_id = ?"
		 " ORDER BY time_ns", id);
	assert_int_equal(sqlite3_column_int64(st, 0), 40);
	assert_column_null(st, 1);
	assert_column_text(st, 2, "m_list_len");
	assert_int_equal(sqlite3_column_int64(st, 3), 6);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 41);
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	assert_column_text(st, 2, "waiters");
	assert_int_equal(sqlite3_column_int64(st, 3), 2);
	sqlite3_finalize(st);
}

static void test_round_trip_events(void **state)
{
	struct fixture *f = *state;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db;
	int64_t id = 0;
	sqlite3 *h;

	fill_result(&r, HS_RECORD_EVENTS);
	db = open_ok(f->path);
	assert_int_equal(hs_db_write_run(db, &r, &id, &err), 0);
	assert_true(id > 0);
	hs_db_close(db);

	/* Read back through a new connection, so the rows must be committed. */
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	check_run_row(h, id);
	check_summary_rows(h, id);
	check_entity_rows(h, id);
	check_event_rows(h, id);
	assert_int_equal(count_rows(h, "run_param", id), 2);
	assert_int_equal(count_rows(h, "lock_stat", id), 1);
	assert_int_equal(count_rows(h, "thread", id), 2);
	assert_int_equal(count_rows(h, "m", id), 2);
	assert_int_equal(count_rows(h, "histogram", id), 1);
	assert_int_equal(count_rows(h, "thread_state", id), 2);
	assert_int_equal(count_rows(h, "wake", id), 2);
	assert_int_equal(count_rows(h, "callback", id), 1);
	assert_int_equal(count_rows(h, "gauge", id), 2);
	sqlite3_close(h);
	hs_result_free(&r);
}

static void test_summary_writes_no_events(void **state)
{
	struct fixture *f = *state;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	sqlite3 *h = hs_db_handle(db);
	int64_t id = 0;

	/* The event arrays are filled on purpose: the level alone decides. */
	fill_result(&r, HS_RECORD_SUMMARY);
	assert_int_equal(hs_db_write_run(db, &r, &id, &err), 0);

	for (size_t i = 0; i < sizeof(event_tables) / sizeof(event_tables[0]); i++)
		assert_int_equal(count_all(h, event_tables[i]), 0);
	assert_int_equal(query_int(h, "SELECT count(*) FROM run WHERE record = 'summary'"), 1);
	check_summary_rows(h, id);
	check_entity_rows(h, id);
	hs_db_close(db);
	hs_result_free(&r);
}

/* Checks that a trigger aborting inserts into `table` makes the write fail
 * after the run row and the summary rows went in, and that none remain. */
static void check_fault_rolls_back(const char *path, const char *table)
{
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(path);
	sqlite3 *h = hs_db_handle(db);
	int64_t first = 0, id = -5, again = 0;
	char sql[256];

	fill_result(&r, HS_RECORD_EVENTS);
	assert_int_equal(hs_db_write_run(db, &r, &first, &err), 0);
	snprintf(sql, sizeof(sql), "CREATE TRIGGER fail_%s BEFORE INSERT ON %s BEGIN"
		 " SELECT RAISE(ABORT, 'injected fault'); END", table, table);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);

	assert_int_equal(hs_db_write_run(db, &r, &id, &err), HS_E_DB);
	assert_int_equal(id, -5);
	assert_string_equal(err.key, table);
	assert_string_equal(err.file, path);
	assert_non_null(strstr(err.msg, "injected fault"));
	assert_int_equal(sqlite3_get_autocommit(h), 1);

	/* Only the first run remains, in every table. */
	assert_int_equal(count_all(h, "run"), 1);
	for (size_t i = 0; i < N_RUN_TABLES; i++)
		assert_int_equal(count_all(h, run_tables[i]), count_rows(h, run_tables[i], first));

	/* The connection and its statements still work once the fault is gone. */
	snprintf(sql, sizeof(sql), "DROP TRIGGER fail_%s", table);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(hs_db_write_run(db, &r, &again, &err), 0);
	assert_int_equal(count_rows(h, table, again), count_rows(h, table, first));
	assert_int_equal(count_rows(h, "thread_state", again), 2);
	hs_db_close(db);
	hs_result_free(&r);
}

static void test_fault_in_wake_rolls_back(void **state)
{
	check_fault_rolls_back(((struct fixture *)*state)->path, "wake");
}

static void test_fault_in_gauge_rolls_back(void **state)
{
	/* gauge is the last table written. */
	check_fault_rolls_back(((struct fixture *)*state)->path, "gauge");
}

static void test_check_constraint_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	sqlite3 *h = hs_db_handle(db);

	fill_result(&r, HS_RECORD_EVENTS);
	r.states.data[1].state = HS_TS_COUNT; /* stored as "unknown" */
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), HS_E_DB);
	assert_string_equal(err.key, "thread_state");
	assert_non_null(strstr(err.msg, "constraint"));
	assert_int_equal(count_all(h, "run"), 0);
	for (size_t i = 0; i < N_RUN_TABLES; i++)
		assert_int_equal(count_all(h, run_tables[i]), 0);

	snprintf(r.backend, sizeof(r.backend), "gpu");
	r.states.data[1].state = HS_TS_BLOCKED;
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), HS_E_DB);
	assert_string_equal(err.key, "run");
	assert_int_equal(count_all(h, "run"), 0);
	hs_db_close(db);
	hs_result_free(&r);
}

static void test_runs_get_distinct_ids(void **state)
{
	struct fixture *f = *state;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	sqlite3 *h = hs_db_handle(db);
	int64_t a = 0, b = 0;

	fill_result(&r, HS_RECORD_EVENTS);
	assert_int_equal(hs_db_write_run(db, &r, &a, &err), 0);
	r.seed = 2;
	assert_int_equal(hs_db_write_run(db, &r, &b, &err), 0);
	assert_true(a > 0);
	assert_true(b > 0);
	assert_true(a != b);
	assert_int_equal(count_all(h, "run"), 2);
	for (size_t i = 0; i < N_RUN_TABLES; i++)
		assert_int_equal(count_rows(h, run_tables[i], a), count_rows(h, run_tables[i], b));
	assert_true(query_int(h, "SELECT count(*) FROM run WHERE seed = 2") == 1);
	hs_db_close(db);
	hs_result_free(&r);
}

static void test_delete_run_cascades(void **state)
{
	struct fixture *f = *state;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	sqlite3 *h = hs_db_handle(db);
	int64_t a = 0, b = 0;
	char sql[64];

	fill_result(&r, HS_RECORD_EVENTS);
	assert_int_equal(hs_db_write_run(db, &r, &a, &err), 0);
	assert_int_equal(hs_db_write_run(db, &r, &b, &err), 0);
	snprintf(sql, sizeof(sql), "DELETE FROM run WHERE id = %lld", (long long)a);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < N_RUN_TABLES; i++) {
		assert_int_equal(count_rows(h, run_tables[i], a), 0);
		assert_true(count_rows(h, run_tables[i], b) > 0);
	}
	hs_db_close(db);
	hs_result_free(&r);
}

/* ---- Experiments ----------------------------------------------------- */

static void make_experiment(struct hs_experiment *e, const char *name)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->command, sizeof(e->command), "herdsim sweep default --vary machine.cores=2,4");
	snprintf(e->version, sizeof(e->version), "0.1.0");
	snprintf(e->revision, sizeof(e->revision), "abc1234");
	snprintf(e->host, sizeof(e->host), "node17");
	snprintf(e->started_at, sizeof(e->started_at), "2024-01-02T03:04:05Z");
}

static void test_experiment_get_or_create(void **state)
{
	struct fixture *f = *state;
	struct hs_experiment e;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	sqlite3 *h = hs_db_handle(db);
	int64_t a = 0, again = 0, other = 0;
	sqlite3_stmt *st;

	make_experiment(&e, "cores");
	assert_int_equal(hs_db_experiment(db, &e, &a, &err), 0);
	snprintf(e.host, sizeof(e.host), "elsewhere"); /* ignored: the row exists */
	assert_int_equal(hs_db_experiment(db, &e, &again, &err), 0);
	assert_int_equal(again, a);
	make_experiment(&e, "spin");
	assert_int_equal(hs_db_experiment(db, &e, &other, &err), 0);
	assert_true(other != a);
	assert_int_equal(count_all(h, "experiment"), 2);

	assert_int_equal(hs_db_experiment_end(db, a, "2024-01-02T05:00:00Z", &err), 0);
	st = row(h, "SELECT name, command, version, revision, host, started_at, ended_at"
		 " FROM experiment WHERE id = ?", a);
	assert_column_text(st, 0, "cores");
	assert_column_text(st, 1, "herdsim sweep default --vary machine.cores=2,4");
	assert_column_text(st, 2, "0.1.0");
	assert_column_text(st, 3, "abc1234");
	assert_column_text(st, 4, "node17");
	assert_column_text(st, 5, "2024-01-02T03:04:05Z");
	assert_column_text(st, 6, "2024-01-02T05:00:00Z");
	sqlite3_finalize(st);

	assert_int_equal(hs_db_experiment_end(db, 999, "2024-01-02T05:00:00Z", &err),
			 HS_E_NOTFOUND);
	make_experiment(&e, "");
	assert_int_equal(hs_db_experiment(db, &e, &other, &err), HS_E_INPUT);
	hs_db_close(db);
}

static void test_run_exists(void **state)
{
	struct fixture *f = *state;
	struct hs_experiment e;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct hs_db *db = open_ok(f->path);
	int64_t exp_a = 0, exp_b = 0;
	int exists = -1;

	make_experiment(&e, "a");
	assert_int_equal(hs_db_experiment(db, &e, &exp_a, &err), 0);
	make_experiment(&e, "b");
	assert_int_equal(hs_db_experiment(db, &e, &exp_b, &err), 0);

	assert_int_equal(hs_db_run_exists(db, exp_a, "cores=4/rep=0", &exists, &err), 0);
	assert_int_equal(exists, 0);

	fill_result(&r, HS_RECORD_SUMMARY);
	r.experiment_id = exp_a;
	snprintf(r.run_key, sizeof(r.run_key), "cores=4/rep=0");
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), 0);

	assert_int_equal(hs_db_run_exists(db, exp_a, "cores=4/rep=0", &exists, &err), 0);
	assert_int_equal(exists, 1);
	assert_int_equal(hs_db_run_exists(db, exp_b, "cores=4/rep=0", &exists, &err), 0);
	assert_int_equal(exists, 0);
	assert_int_equal(hs_db_run_exists(db, exp_a, "cores=4/rep=1", &exists, &err), 0);
	assert_int_equal(exists, 0);
	assert_int_equal(hs_db_run_exists(db, 0, "cores=4/rep=0", &exists, &err), 0);
	assert_int_equal(exists, 0);

	/* The same key twice in one experiment is rejected ... */
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), HS_E_DB);
	assert_string_equal(err.key, "run");
	/* ... but allowed in another experiment and outside any experiment. */
	r.experiment_id = exp_b;
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), 0);
	r.experiment_id = 0;
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), 0);
	assert_int_equal(hs_db_write_run(db, &r, NULL, &err), 0);
	assert_int_equal(hs_db_run_exists(db, 0, "cores=4/rep=0", &exists, &err), 0);
	assert_int_equal(exists, 1);
	assert_int_equal(count_all(hs_db_handle(db), "run"), 4);
	hs_db_close(db);
	hs_result_free(&r);
}

static void test_utc_now_format(void **state)
{
	char buf[32];
	char small[8] = "xxxxxxx";
	int y, mo, d, h, mi, s;
	char z;

	hs_utc_now(buf, sizeof(buf));
	assert_int_equal(strlen(buf), 20);
	assert_int_equal(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z), 7);
	assert_true(y >= 2024);
	assert_true(mo >= 1 && mo <= 12);
	assert_int_equal(z, 'Z');

	/* Too small a buffer gives an empty string, not a cut-off time. */
	hs_utc_now(small, sizeof(small));
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reports_bad_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_rejects_other_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_rejects_foreign_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_rejects_non_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_writes_no_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_in_wake_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_in_gauge_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_constraint_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_get_distinct_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_run_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_experiment_get_or_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_exists, setup, teardown),
		cmocka_unit_test(test_utc_now_format),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
