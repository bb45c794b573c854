/*
 * CSV export of one run's event tables, and the file and run checks that
 * both exports share.
 *
 * Each table becomes one file with a header line of column names and one
 * line per row, in a fixed order (thread_state by thread and start,
 * wake by time and insertion, callback by thread and seq), so the same
 * database gives the same bytes.  Integers are written in decimal, NULL
 * as an empty field, and text through libcsv's csv_fwrite, which quotes it.
 */
#include <csv.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"

FILE *hs_export_create(const char *path, char *tmp, size_t size, struct hs_error *err)
{
	FILE *f;

	if ((size_t)snprintf(tmp, size, "%s.tmp", path) >= size) {
		hs_error_set(err, HS_E_USAGE, path, 0, NULL, "the output path is too long");
		return NULL;
	}
	f = fopen(tmp, "w");
	if (!f)
		hs_error_set(err, HS_E_IO, tmp, 0, NULL, "cannot create the file: %s", strerror(errno));
	return f;
}

/* Flushes, syncs and closes F.  Returns 0, or HS_E_IO after removing TMP. */
static int close_tmp(FILE *f, const char *tmp, struct hs_error *err)
{
	int failed = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
	int saved = errno;

	if (fclose(f) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		unlink(tmp);
		return hs_error_set(err, HS_E_IO, tmp, 0, NULL, "write failed: %s", strerror(saved));
	}
	return 0;
}

/* Renames TMP to PATH.  Returns 0, or HS_E_IO after removing TMP. */
static int rename_tmp(const char *tmp, const char *path, struct hs_error *err)
{
	int saved;

	if (rename(tmp, path) == 0)
		return 0;
	saved = errno;
	unlink(tmp);
	return hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot rename %s to it: %s", tmp,
			    strerror(saved));
}

int hs_export_finish(FILE *f, const char *tmp, const char *path, int commit, struct hs_error *err)
{
	int rc;

	if (!commit) {
		fclose(f);
		unlink(tmp);
		return 0;
	}
	rc = close_tmp(f, tmp, err);
	return rc ? rc : rename_tmp(tmp, path, err);
}

int hs_export_check_run(sqlite3 *db, const char *db_name, int64_t run_id, struct hs_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT record FROM run WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, db_name, 0, NULL, "not a herdsim database: %s",
				    sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, run_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return hs_error_set(err, HS_E_DB, db_name, 0, NULL, "reading run %lld failed: %s",
					    (long long)run_id, sqlite3_errmsg(db));
		return hs_error_set(err, HS_E_NOTFOUND, db_name, 0, "--run",
				    "no run with id %lld; `sqlite3 %s 'SELECT id, scenario, policy FROM run'` "
				    "lists the runs", (long long)run_id, db_name);
	}
	rc = strcmp((const char *)sqlite3_column_text(st, 0), "events") == 0;
	sqlite3_finalize(st);
	if (!rc)
		return hs_error_set(err, HS_E_INPUT, db_name, 0, "--run",
				    "run %lld was recorded without events, so it has no thread states to "
				    "export; rerun it with --record events", (long long)run_id);
	return 0;
}

/* Writes the result rows of ST to F as CSV lines.  Returns 0 or HS_E_DB. */
static int write_rows(FILE *f, sqlite3 *db, sqlite3_stmt *st, struct hs_error *err)
{
	int ncol = sqlite3_column_count(st), rc;

	for (int c = 0; c < ncol; c++)
		fprintf(f, "%s%s", c ? "," : "", sqlite3_column_name(st, c));
	fputc('\n', f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < ncol; c++) {
			const unsigned char *text;

			if (c)
				fputc(',', f);
			switch (sqlite3_column_type(st, c)) {
			case SQLITE_NULL:
				break;
			case SQLITE_INTEGER:
				fprintf(f, "%lld", (long long)sqlite3_column_int64(st, c));
				break;
			default:
				text = sqlite3_column_text(st, c);
				csv_fwrite(f, text, (size_t)sqlite3_column_bytes(st, c));
				break;
			}
		}
		fputc('\n', f);
	}
	if (rc != SQLITE_DONE)
		return hs_error_set(err, HS_E_DB, NULL, 0, NULL, "reading the run failed: %s",
				    sqlite3_errmsg(db));
	return 0;
}

/* Writes table NAME of the run to TMP, synced and closed.  On failure
 * TMP is removed. */
static int export_table(sqlite3 *db, int64_t run_id, const char *name, const char *sql,
			const char *path, char *tmp, size_t tmp_size, struct hs_error *err)
{
	sqlite3_stmt *st;
	FILE *f;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, NULL, 0, name, "cannot read the table: %s",
				    sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, run_id);
	f = hs_export_create(path, tmp, tmp_size, err);
	if (!f) {
		sqlite3_finalize(st);
		return err->code;
	}
	rc = write_rows(f, db, st, err);
	sqlite3_finalize(st);
	if (rc) {
		hs_export_finish(f, tmp, path, 0, NULL);
		return rc;
	}
	return close_tmp(f, tmp, err);
}

const char *const hs_export_csv_tables[HS_EXPORT_CSV_TABLES] = { "thread_state", "wake", "callback" };

int hs_export_csv(sqlite3 *db, int64_t run_id, const char *dir, struct hs_error *err)
{
	/* One query per entry of hs_export_csv_tables, in the same order. */
	static const char *const queries[HS_EXPORT_CSV_TABLES] = {
		"SELECT thread, start_ns, end_ns, state, reason, waker FROM thread_state "
		"WHERE run_id = ? ORDER BY thread, start_ns",
		"SELECT time_ns, waker, woken, latency_ns, reason, wasted FROM wake "
		"WHERE run_id = ? ORDER BY time_ns, rowid",
		"SELECT thread, seq, arrival_ns, m_acquired_ns, p_acquired_ns, done_ns, m, "
		"sleeps, yields, cas_failures FROM callback WHERE run_id = ? ORDER BY thread, seq",
	};
	char paths[HS_EXPORT_CSV_TABLES][4096], tmps[HS_EXPORT_CSV_TABLES][4200];
	size_t written = 0;
	int rc = 0;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return hs_error_set(err, HS_E_IO, dir, 0, NULL, "cannot create the directory: %s",
				    strerror(errno));
	for (size_t i = 0; i < HS_EXPORT_CSV_TABLES; i++) {
		if ((size_t)snprintf(paths[i], sizeof(paths[i]), "%s/%s.csv", dir, hs_export_csv_tables[i]) >=
		    sizeof(paths[i]))
			return hs_error_set(err, HS_E_USAGE, dir, 0, NULL, "the output directory path is too long");
	}

	/* Every table goes to its FILE.tmp first, and only a complete set is
	 * renamed, so that DIR never mixes files of two exports. */
	for (; written < HS_EXPORT_CSV_TABLES; written++) {
		rc = export_table(db, run_id, hs_export_csv_tables[written], queries[written], paths[written],
				  tmps[written], sizeof(tmps[written]), err);
		if (rc)
			break;
	}
	if (rc) {
		for (size_t i = 0; i < written; i++)
			unlink(tmps[i]);
		return rc;
	}
	/* NOTE: a signal or crash between two of these renames still leaves
	 * a mixed set; the window is three rename calls long. */
	for (size_t i = 0; i < HS_EXPORT_CSV_TABLES; i++) {
		rc = rename_tmp(tmps[i], paths[i], err);
		if (rc) {
			for (size_t k = i + 1; k < HS_EXPORT_CSV_TABLES; k++)
				unlink(tmps[k]);
			return rc;
		}
	}
	return 0;
}
