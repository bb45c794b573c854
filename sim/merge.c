/*
 * `herdsim merge OUT IN...`: copies the experiments and runs of each input
 * database into OUT, for sweeps that ran in shards on several machines.
 *
 * Invariants:
 *  1. Each input is ATTACHed and copied in one transaction, so OUT
 *     contains all of an input or none of it.
 *  2. Every input is checked before any is copied: an input that is
 *     missing, not a herdsim database, or of another PRAGMA user_version
 *     than HS_SCHEMA_VERSION stops the merge with OUT unchanged.  The
 *     column lists below are those of that schema version.
 *  3. Experiments are matched by name.  A run is skipped when OUT already
 *     contains it: by (experiment name, run_key) when it has a run key,
 *     else by experiment, every identity column (scenario, policy,
 *     backend, os, seed, replication, record), started_at, wall_ns, end_ns
 *     and events, so that only a true copy is skipped.  Merging an input
 *     twice therefore adds nothing.  A keyed run whose key is in OUT with
 *     another scenario, backend, seed, record level or parameter value
 *     rejects its input (check_conflicts).
 *  4. Run ids are new in OUT; child rows follow their run through a
 *     temporary map from input id to OUT id.  Rows of tables without a
 *     primary key are copied in the input's rowid order.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "record.h"

static const char merge_usage[] =
	"usage: herdsim merge OUT.sqlite IN.sqlite...\n"
	"\n"
	"Copies every experiment and run of each IN into OUT (created if missing).\n"
	"Runs already in OUT are skipped, so merging an input twice adds nothing.\n";

/* Child tables of run and their columns after run_id, schema version 1. */
static const struct {
	const char *table;
	const char *columns;
} child_tables[] = {
	{ "run_param", "key, value" },
	{ "scalar", "name, value" },
	{ "lock_stat", "lock, acquisitions, contentions, acquisition_bounces, contention_bounces,"
		       " wait_min_ns, wait_max_ns, wait_total_ns, hold_min_ns, hold_max_ns, hold_total_ns" },
	{ "thread", "thread, kind, name, created_ns, exited_ns" },
	{ "thread_state", "thread, start_ns, end_ns, state, reason, waker" },
	{ "wake", "time_ns, waker, woken, latency_ns, reason, wasted" },
	{ "callback", "thread, seq, arrival_ns, m_acquired_ns, p_acquired_ns, done_ns, m, sleeps,"
		      " yields, cas_failures" },
	{ "m", "m, created_ns, created_by, reason" },
	{ "histogram", "name, lower_ns, upper_ns, count" },
	{ "gauge", "time_ns, thread, name, value" },
};

#define RUN_COLUMNS "run_key, scenario, policy, backend, os, seed, replication, record, status," \
		    " error, version, started_at, events, end_ns, wall_ns"

/* Runs of src not yet in main, with the id of their experiment in main. */
static const char new_runs_sql[] =
	"INSERT INTO temp.merge_map (src_id, dst_experiment)"
	" SELECT r.id, (SELECT d.id FROM main.experiment d WHERE d.name = e.name)"
	" FROM src.run r LEFT JOIN src.experiment e ON e.id = r.experiment_id"
	" WHERE NOT EXISTS (SELECT 1 FROM main.run o"
	"   LEFT JOIN main.experiment oe ON oe.id = o.experiment_id"
	"   WHERE oe.name IS e.name AND ("
	"     (r.run_key IS NOT NULL AND o.run_key = r.run_key) OR"
	"     (r.run_key IS NULL AND o.run_key IS NULL AND o.scenario = r.scenario"
	"      AND o.policy = r.policy AND o.backend = r.backend AND o.os = r.os"
	"      AND o.seed = r.seed AND o.replication = r.replication AND o.record = r.record"
	"      AND o.started_at IS r.started_at AND o.wall_ns = r.wall_ns"
	"      AND o.end_ns = r.end_ns AND o.events = r.events)))"
	" ORDER BY r.id";

/* The first run of src whose (experiment name, run key) is in main but
 * whose scenario, backend, seed, record level or a parameter that both
 * runs have differs: a run of another sweep that was given the same
 * --name.  Parameters present in only one run are not compared, so that
 * a key that a later herdsim adds does not count as a difference. */
static const char conflict_sql[] =
	"SELECT name, run_key, what FROM (SELECT r.id AS id, e.name AS name, r.run_key AS run_key, COALESCE("
	"   CASE WHEN o.scenario IS NOT r.scenario"
	"     THEN printf('scenario %s here, %s there', r.scenario, o.scenario) END,"
	"   CASE WHEN o.backend IS NOT r.backend"
	"     THEN printf('backend %s here, %s there', r.backend, o.backend) END,"
	"   CASE WHEN o.seed IS NOT r.seed THEN printf('seed %lld here, %lld there', r.seed, o.seed) END,"
	"   CASE WHEN o.record IS NOT r.record"
	"     THEN printf('record level %s here, %s there', r.record, o.record) END,"
	"   (SELECT printf('%s = %s here, %s there', sp.key, sp.value, op.value) FROM src.run_param sp"
	"    JOIN main.run_param op ON op.run_id = o.id AND op.key = sp.key"
	"    WHERE sp.run_id = r.id AND op.value IS NOT sp.value ORDER BY sp.key LIMIT 1)) AS what"
	"  FROM src.run r"
	"  JOIN src.experiment e ON e.id = r.experiment_id"
	"  JOIN main.experiment oe ON oe.name = e.name"
	"  JOIN main.run o ON o.experiment_id = oe.id AND o.run_key = r.run_key"
	"  WHERE r.run_key IS NOT NULL)"
	" WHERE what IS NOT NULL ORDER BY id LIMIT 1";

static int sql_fail(sqlite3 *h, const char *file, const char *what, struct hs_error *err)
{
	return hs_error_set(err, HS_E_DB, file, 0, NULL, "%s failed: %s", what, sqlite3_errmsg(h));
}

static int exec(sqlite3 *h, const char *file, const char *sql, const char *what, struct hs_error *err)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(h, file, what, err);
	return 0;
}

static int query_int(sqlite3 *h, const char *sql, long long *value)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*value = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Attaches `path` as src and checks its schema version. */
static int attach(sqlite3 *h, const char *out, const char *path, struct hs_error *err)
{
	struct stat in_st, out_st;
	sqlite3_stmt *st;
	long long version = -1, tables = 0;
	char *name;
	int rc;

	if (stat(path, &in_st) != 0)
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL,
				    "input database not found; give the path of a herdsim database");
	if (stat(out, &out_st) == 0 && in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
		return hs_error_set(err, HS_E_USAGE, path, 0, NULL, "this is the output database; give another input");
	name = hs_db_file_name(path);
	if (!name)
		return hs_error_set(err, HS_E_NOMEM, path, 0, NULL, "out of memory");
	rc = sqlite3_prepare_v2(h, "ATTACH DATABASE ? AS src", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	free(name);
	if (rc != SQLITE_OK) {
		hs_error_set(err, HS_E_DB, path, 0, NULL, "cannot attach the input database: %s", sqlite3_errmsg(h));
		sqlite3_finalize(st);
		return HS_E_DB;
	}
	sqlite3_finalize(st);
	if (query_int(h, "PRAGMA src.user_version", &version) != SQLITE_OK ||
	    query_int(h, "SELECT count(*) FROM src.sqlite_master", &tables) != SQLITE_OK)
		rc = hs_error_set(err, HS_E_DB, path, 0, NULL,
				  "cannot read the input: %s; is it a herdsim database?", sqlite3_errmsg(h));
	else if (version == 0)
		rc = hs_error_set(err, HS_E_INPUT, path, 0, NULL,
				  "not a herdsim database (no schema version); give a database that herdsim wrote");
	else if (version != HS_SCHEMA_VERSION)
		rc = hs_error_set(err, HS_E_VERSION, path, 0, NULL,
				  "schema version %lld, but %s has version %d; merge only databases "
				  "written by the same herdsim schema version",
				  version, out, HS_SCHEMA_VERSION);
	if (rc)
		sqlite3_exec(h, "DETACH DATABASE src", NULL, NULL, NULL);
	return rc;
}

/* Inserts each mapped run into main and records its new id. */
static int copy_runs(sqlite3 *h, const char *path, struct hs_error *err)
{
	static const char select_sql[] = "SELECT src_id, dst_experiment FROM temp.merge_map ORDER BY src_id";
	static const char insert_sql[] = "INSERT INTO main.run (experiment_id, " RUN_COLUMNS ")"
					 " SELECT ?, " RUN_COLUMNS " FROM src.run WHERE id = ?";
	static const char update_sql[] = "UPDATE temp.merge_map SET dst_id = ? WHERE src_id = ?";
	sqlite3_stmt *sel = NULL, *ins = NULL, *upd = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(h, select_sql, -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, insert_sql, -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, update_sql, -1, &upd, NULL) != SQLITE_OK)
		rc = sql_fail(h, path, "preparing the run copy", err);
	while (rc == 0 && sqlite3_step(sel) == SQLITE_ROW) {
		sqlite3_int64 src_id = sqlite3_column_int64(sel, 0);

		if (sqlite3_column_type(sel, 1) == SQLITE_NULL)
			sqlite3_bind_null(ins, 1);
		else
			sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 1));
		sqlite3_bind_int64(ins, 2, src_id);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			rc = sql_fail(h, path, "copying a run", err);
			break;
		}
		sqlite3_reset(ins);
		sqlite3_bind_int64(upd, 1, sqlite3_last_insert_rowid(h));
		sqlite3_bind_int64(upd, 2, src_id);
		if (sqlite3_step(upd) != SQLITE_DONE)
			rc = sql_fail(h, path, "mapping a run id", err);
		sqlite3_reset(upd);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	return rc;
}

/* Rejects src when a run of it has the key of a different run of the same
 * experiment in main (see conflict_sql), because skipping it as a copy
 * would drop it without a word. */
static int check_conflicts(sqlite3 *h, const char *out, const char *path, struct hs_error *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h, conflict_sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(h, path, "comparing runs with the same key", err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = hs_error_set(err, HS_E_INPUT, path, 0, NULL,
				  "run '%s' of experiment '%s' differs from the run with that key in %s (%s), "
				  "so the two are different sweeps with the same name; merge them into separate "
				  "databases, or rerun one with another --name",
				  (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 0),
				  out, (const char *)sqlite3_column_text(st, 2));
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = sql_fail(h, path, "comparing runs with the same key", err);
	sqlite3_finalize(st);
	return rc;
}

/* Copies one attached input in one transaction; *added receives the
 * number of new runs. */
static int merge_one(sqlite3 *h, const char *out, const char *path, long long *added, struct hs_error *err)
{
	char sql[1024];
	int rc;

	rc = exec(h, path, "BEGIN IMMEDIATE; DELETE FROM temp.merge_map", "starting the merge", err);
	if (rc == 0)
		rc = exec(h, path,
			  "INSERT INTO main.experiment (name, command, version, revision, host, started_at, ended_at)"
			  " SELECT name, command, version, revision, host, started_at, ended_at"
			  " FROM src.experiment WHERE true ORDER BY id ON CONFLICT (name) DO NOTHING",
			  "copying experiments", err);
	if (rc == 0)
		rc = check_conflicts(h, out, path, err);
	if (rc == 0)
		rc = exec(h, path, new_runs_sql, "finding new runs", err);
	if (rc == 0)
		rc = copy_runs(h, path, err);
	for (size_t t = 0; rc == 0 && t < sizeof(child_tables) / sizeof(child_tables[0]); t++) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO main.%s (run_id, %s) SELECT m.dst_id, %s FROM src.%s c"
			 " JOIN temp.merge_map m ON m.src_id = c.run_id ORDER BY c.rowid",
			 child_tables[t].table, child_tables[t].columns, child_tables[t].columns,
			 child_tables[t].table);
		/* WITHOUT ROWID tables have no rowid; their key order is fine. */
		if (strstr("run_param scalar lock_stat thread callback m histogram", child_tables[t].table))
			*strstr(sql, " ORDER BY") = '\0';
		rc = exec(h, path, sql, child_tables[t].table, err);
	}
	if (rc == 0 && query_int(h, "SELECT count(*) FROM temp.merge_map", added) != SQLITE_OK)
		rc = sql_fail(h, path, "counting new runs", err);
	if (rc == 0)
		rc = exec(h, path, "COMMIT", "committing the merge", err);
	if (rc)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int cli_merge(int argc, char **argv)
{
	struct hs_error err = { 0 };
	struct hs_db *db = NULL;
	sqlite3 *h;
	bool existed, merged_any = false;
	size_t kept_dirs;
	int rc;

	if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		fputs(merge_usage, stdout);
		return CLI_OK;
	}
	if (argc < 2)
		return cli_usage_error("merge needs an output and at least one input database; "
				       "see `herdsim merge --help`");
	existed = access(argv[0], F_OK) == 0;
	kept_dirs = hs_db_existing_parent_length(argv[0]);
	rc = hs_db_open(&db, argv[0], &err);
	if (rc) {
		hs_db_remove_new_dirs(argv[0], kept_dirs);
		return cli_error(&err);
	}
	h = hs_db_handle(db);
	rc = exec(h, argv[0], "CREATE TEMP TABLE IF NOT EXISTS merge_map (src_id INTEGER PRIMARY KEY,"
		  " dst_experiment INTEGER, dst_id INTEGER)", "creating the id map", &err);
	/* Check every input before merging any, so a bad input late in the
	 * list leaves the output as it was. */
	for (int i = 1; rc == 0 && i < argc; i++) {
		rc = attach(h, argv[0], argv[i], &err);
		if (rc == 0)
			sqlite3_exec(h, "DETACH DATABASE src", NULL, NULL, NULL);
	}
	for (int i = 1; rc == 0 && i < argc; i++) {
		long long added = 0;

		rc = attach(h, argv[0], argv[i], &err);
		if (rc)
			break;
		rc = merge_one(h, argv[0], argv[i], &added, &err);
		sqlite3_exec(h, "DETACH DATABASE src", NULL, NULL, NULL);
		if (rc == 0) {
			merged_any = true;
			printf("%s: %lld run%s added to %s\n", argv[i], added, added == 1 ? "" : "s", argv[0]);
		}
	}
	hs_db_close(db);
	if (rc && !existed && !merged_any) {
		/* leave no empty output, and no directory made for it, behind */
		char side[HS_PATH_MAX + 8];

		unlink(argv[0]);
		snprintf(side, sizeof(side), "%s-wal", argv[0]);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", argv[0]);
		unlink(side);
		hs_db_remove_new_dirs(argv[0], kept_dirs);
	}
	return rc ? cli_error(&err) : CLI_OK;
}
