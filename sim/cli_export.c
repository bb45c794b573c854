/*
 * `herdsim export DB --run ID --format perfetto|csv [--out PATH]`: writes
 * one run recorded with --record events for a trace viewer or as CSV
 * (traces/export.h).  The database is opened read-only and must have the
 * schema version of this build.
 *
 * An existing output file is replaced, and only by a complete one, because
 * each file is written to FILE.tmp and renamed.  On SIGINT or SIGTERM a
 * handler removes every FILE.tmp, prints one line and ends the process by
 * the signal, so existing files stay as they were.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
#include "interrupt_cleanup.h"
#include "record.h"

static const char export_usage[] =
	"usage: herdsim export DB --run ID --format perfetto|csv [--out PATH]\n"
	"\n"
	"Writes run ID of the database DB; the run needs --record events.\n"
	"\n"
	"  --run ID            id of the run (the run table's id column)\n"
	"  --format perfetto   Chrome trace-event JSON for ui.perfetto.dev\n"
	"                      (default PATH: herdsim-run-ID.json)\n"
	"  --format csv        PATH/thread_state.csv, PATH/wake.csv, PATH/callback.csv\n"
	"                      (default PATH: herdsim-run-ID)\n"
	"  --out PATH          file (perfetto) or directory (csv) to write\n"
	"\n"
	"An existing PATH (perfetto), or the three files in PATH (csv), are replaced\n"
	"without a warning; other files in PATH are kept.  Each file is written to\n"
	"FILE.tmp and renamed once all are complete, so an error, Ctrl-C or SIGTERM\n"
	"leaves the existing files as they were.\n";

struct export_opts {
	const char *db, *format, *out;
	unsigned long long run;
	bool run_set;
};

static int parse_export(int argc, char **argv, struct export_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(export_usage, stdout);
			return 1;
		}
		if (strcmp(a, "--format") == 0)
			dst = &o->format;
		else if (strcmp(a, "--out") == 0)
			dst = &o->out;
		if (dst || strcmp(a, "--run") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("%s needs a value; see `herdsim export --help`", a);
			if (dst) {
				*dst = argv[++i];
			} else if (!cli_parse_u64(argv[++i], &o->run) || o->run > INT64_MAX) {
				return cli_usage_error("invalid run id '%s'; use the id column of the run table",
						       argv[i]);
			} else {
				o->run_set = true;
			}
		} else if (a[0] == '-') {
			return cli_usage_error("unknown option '%s'; see `herdsim export --help`", a);
		} else if (!o->db) {
			o->db = a;
		} else {
			return cli_usage_error("unexpected argument '%s': give one database", a);
		}
	}
	if (!o->db || !o->run_set || !o->format)
		return cli_usage_error("give DB, --run ID and --format; see `herdsim export --help`");
	if (strcmp(o->format, "perfetto") != 0 && strcmp(o->format, "csv") != 0)
		return cli_usage_error("invalid format '%s'; use perfetto or csv", o->format);
	if (o->out && o->out[0] == '\0')
		return cli_usage_error("--out: the path is empty; give a file (perfetto) or directory (csv) name, "
				       "or leave --out out for the default");
	return 0;
}

/* Opens DB read-only and checks its schema version. */
static int open_db(const char *path, sqlite3 **db, struct hs_error *err)
{
	sqlite3_stmt *st;
	bool read = false;
	int version = -1, rc;
	char *name;

	if (access(path, F_OK) != 0)
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL, "database not found: %s; "
				    "record a run with `herdsim run --record events --db %s` first",
				    strerror(errno), path);
	name = hs_db_file_name(path);
	if (!name)
		return hs_error_set(err, HS_E_NOMEM, path, 0, NULL, "out of memory");
	rc = sqlite3_open_v2(name, db, SQLITE_OPEN_READONLY, NULL);
	free(name);
	if (rc != SQLITE_OK) {
		hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL, "cannot open the database: %s",
			     *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return err->code;
	}
	/* Reading the first page is what finds a file that is not a database. */
	if (sqlite3_prepare_v2(*db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		read = sqlite3_step(st) == SQLITE_ROW;
		if (read)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (!read) {
		hs_error_set(err, HS_E_INPUT, path, 0, NULL, "not a SQLite database (%s); give "
			     "a database that herdsim created", sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return err->code;
	}
	if (version != HS_SCHEMA_VERSION) {
		sqlite3_close(*db);
		*db = NULL;
		return hs_error_set(err, HS_E_VERSION, path, 0, NULL,
				    "not a herdsim database of schema version %d (user_version is %d)",
				    HS_SCHEMA_VERSION, version);
	}
	return 0;
}

/* Registers for removal on SIGINT or SIGTERM the FILE.tmp names that
 * exporting to OUT writes (the names of hs_export_create), and OUT if the
 * export will create it, and sets the line printed then. */
static void watch_interrupts(const char *out, bool perfetto)
{
	char path[HS_CLEANUP_PATH_MAX], line[HS_CLEANUP_PATH_MAX + 80];

	snprintf(line, sizeof(line),
		 perfetto ? "herdsim: export interrupted; %s is left as it was\n"
			  : "herdsim: export interrupted; the CSV files in %s are left as they were\n", out);
	hs_cleanup_watch(line);
	if (perfetto) {
		snprintf(path, sizeof(path), "%s.tmp", out);
		hs_cleanup_add_file(path);
		return;
	}
	if (access(out, F_OK) != 0)
		hs_cleanup_add_dir(out); /* removed after the files, and only if empty */
	for (size_t i = 0; i < HS_EXPORT_CSV_TABLES; i++) {
		snprintf(path, sizeof(path), "%s/%s.csv.tmp", out, hs_export_csv_tables[i]);
		hs_cleanup_add_file(path);
	}
}

int cli_export(int argc, char **argv)
{
	struct export_opts o = { 0 };
	struct hs_error err = { 0 };
	char out[64];
	sqlite3 *db;
	int rc = parse_export(argc, argv, &o);

	if (rc == 1)
		return CLI_OK;
	if (rc)
		return rc;
	rc = open_db(o.db, &db, &err);
	if (rc)
		return cli_error(&err);
	rc = hs_export_check_run(db, o.db, (int64_t)o.run, &err);
	if (rc == 0) {
		bool perfetto = strcmp(o.format, "perfetto") == 0;

		if (!o.out) {
			snprintf(out, sizeof(out), perfetto ? "herdsim-run-%llu.json" : "herdsim-run-%llu", o.run);
			o.out = out;
		}
		/* NOTE: a signal between the last rename and hs_cleanup_unwatch
		 * prints that the output is left as it was, but it was replaced
		 * by the complete export. */
		watch_interrupts(o.out, perfetto);
		rc = perfetto ? hs_export_perfetto(db, (int64_t)o.run, o.out, &err)
			      : hs_export_csv(db, (int64_t)o.run, o.out, &err);
		hs_cleanup_unwatch();
	}
	sqlite3_close(db);
	if (rc)
		return cli_error(&err);
	return CLI_OK;
}
