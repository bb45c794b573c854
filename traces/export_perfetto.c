/*
 * Perfetto export: one run as a Chrome trace-event JSON file.
 *
 * Layout of the file: {"displayTimeUnit":"ns","traceEvents":[...]} with,
 * in this order,
 *   - metadata events ("ph":"M"): the process name, and per thread its
 *     name and its sort index, so tracks appear in thread-id order;
 *   - one complete event ("ph":"X") per thread_state row, named after the
 *     state (running, runnable, sleeping, blocked, yielding), with the
 *     reason and the waker in args;
 *   - per wake row that has a waker thread, a flow start ("ph":"s") on the
 *     waker's track and a flow end ("ph":"f", "bp":"e") on the woken
 *     thread's track, both at the wake-up time and with the same id.  A
 *     timer's wake-up (waker NULL) has no source track and no flow;
 *   - one counter event ("ph":"C") per gauge row, one counter track per
 *     gauge name (extram_len, extram_waiters).
 *
 * Times are nanoseconds in the database and microseconds in the format;
 * they are written as integer microseconds and three decimals, so no
 * precision is lost and no floating-point rounding enters the output.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "export.h"

/* Writes S as a JSON string literal. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Writes nanoseconds as microseconds with three decimals. */
static void micros(FILE *f, int64_t ns)
{
	fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

static const char *text_or(sqlite3_stmt *st, int col, const char *missing)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : missing;
}

/* Runs SQL with the run id bound and calls EMIT for each row. */
static int each_row(sqlite3 *db, const char *sql, int64_t run_id, FILE *f,
		    void (*emit)(FILE *f, sqlite3_stmt *st, int64_t index), struct hs_error *err)
{
	sqlite3_stmt *st;
	int64_t index = 0;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, NULL, 0, NULL, "reading the run failed: %s",
				    sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		emit(f, st, index++);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return hs_error_set(err, HS_E_DB, NULL, 0, NULL, "reading the run failed: %s",
				    sqlite3_errmsg(db));
	return 0;
}

static void emit_process(FILE *f, sqlite3_stmt *st, int64_t index)
{
	char name[512];

	snprintf(name, sizeof(name), "herdsim run %lld: %s, %s, %s, seed %lld", sqlite3_column_int64(st, 0),
		 text_or(st, 1, ""), text_or(st, 2, ""), text_or(st, 3, ""), sqlite3_column_int64(st, 4));
	fputs("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":", f);
	json_string(f, name);
	fputs("}}", f);
}

static void emit_thread(FILE *f, sqlite3_stmt *st, int64_t index)
{
	long long tid = sqlite3_column_int64(st, 0) + 1;

	fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%lld,\"name\":\"thread_name\",\"args\":{\"name\":", tid);
	json_string(f, text_or(st, 1, ""));
	fprintf(f, "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%lld,\"name\":\"thread_sort_index\","
		"\"args\":{\"sort_index\":%lld}}", tid, tid - 1);
}

static void emit_state(FILE *f, sqlite3_stmt *st, int64_t index)
{
	int64_t start = sqlite3_column_int64(st, 1), end = sqlite3_column_int64(st, 2);

	fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%lld,\"ts\":", sqlite3_column_int64(st, 0) + 1);
	micros(f, start);
	fputs(",\"dur\":", f);
	micros(f, end - start);
	fputs(",\"cat\":\"state\",\"name\":", f);
	json_string(f, text_or(st, 3, ""));
	fputs(",\"args\":{\"reason\":", f);
	json_string(f, text_or(st, 4, ""));
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		fprintf(f, ",\"waker\":%lld", sqlite3_column_int64(st, 5));
	fputs("}}", f);
}

static void emit_flow(FILE *f, sqlite3_stmt *st, int64_t index)
{
	int64_t t = sqlite3_column_int64(st, 0);

	fprintf(f, ",\n{\"ph\":\"s\",\"id\":%lld,\"pid\":1,\"tid\":%lld,\"ts\":", (long long)index + 1,
		sqlite3_column_int64(st, 1) + 1);
	micros(f, t);
	fputs(",\"cat\":\"wake\",\"name\":\"wake\"}", f);
	fprintf(f, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"id\":%lld,\"pid\":1,\"tid\":%lld,\"ts\":",
		(long long)index + 1, sqlite3_column_int64(st, 2) + 1);
	micros(f, t);
	fputs(",\"cat\":\"wake\",\"name\":\"wake\",\"args\":{\"reason\":", f);
	json_string(f, text_or(st, 3, ""));
	fprintf(f, ",\"latency_ns\":%lld}}", sqlite3_column_int64(st, 4));
}

static void emit_counter(FILE *f, sqlite3_stmt *st, int64_t index)
{
	fputs(",\n{\"ph\":\"C\",\"pid\":1,\"ts\":", f);
	micros(f, sqlite3_column_int64(st, 0));
	fputs(",\"name\":", f);
	json_string(f, text_or(st, 1, ""));
	fprintf(f, ",\"args\":{\"value\":%lld}}", sqlite3_column_int64(st, 2));
}

int hs_export_perfetto(sqlite3 *db, int64_t run_id, const char *path, struct hs_error *err)
{
	static const struct {
		const char *sql;
		void (*emit)(FILE *f, sqlite3_stmt *st, int64_t index);
	} parts[] = {
		{ "SELECT id, scenario, policy, os, seed FROM run WHERE id = ?", emit_process },
		{ "SELECT thread, name FROM thread WHERE run_id = ? ORDER BY thread", emit_thread },
		{ "SELECT thread, start_ns, end_ns, state, reason, waker FROM thread_state "
		  "WHERE run_id = ? ORDER BY thread, start_ns", emit_state },
		{ "SELECT time_ns, waker, woken, reason, latency_ns FROM wake "
		  "WHERE run_id = ? AND waker IS NOT NULL ORDER BY time_ns, rowid", emit_flow },
		{ "SELECT time_ns, name, value FROM gauge WHERE run_id = ? ORDER BY name, time_ns, rowid",
		  emit_counter },
	};
	char tmp[4200];
	FILE *f = hs_export_create(path, tmp, sizeof(tmp), err);
	int rc = 0;

	if (!f)
		return err->code;
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
	for (size_t i = 0; rc == 0 && i < sizeof(parts) / sizeof(parts[0]); i++)
		rc = each_row(db, parts[i].sql, run_id, f, parts[i].emit, err);
	fputs("\n]}\n", f);
	if (rc) {
		hs_export_finish(f, tmp, path, 0, NULL);
		return rc;
	}
	return hs_export_finish(f, tmp, path, 1, err);
}
