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
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
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
	return 0;
}

/* Opens DB read-only and checks its schema version. */
static int open_db(const char *path, sqlite3 **db, struct hs_error *err)
{
	sqlite3_stmt *st;
	bool read = false;
	int version = -1;

	if (access(path, F_OK) != 0)
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL, "database not found: %s; "
				    "record a run with `herdsim run --record events --db %s` first",
				    strerror(errno), path);
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
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

/* What remove_tmp_on_signal removes and prints, set up before the export
 * starts: the FILE.tmp names, OUT if the export created it, and the line. */
static char signal_tmps[HS_EXPORT_CSV_TABLES][4200];
static char signal_new_dir[4096];
static char signal_message[4400];
static struct sigaction saved_actions[2];
static const int watched_signals[2] = { SIGINT, SIGTERM };

/* Removes the partial FILE.tmp files and a directory that this export
 * created, prints signal_message and ends the process by the signal as
 * its default action would.  unlink, rmdir, write, sigaction and raise
 * are async-signal-safe. */
static void remove_tmp_on_signal(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	ssize_t ignored;

	for (size_t i = 0; i < HS_EXPORT_CSV_TABLES; i++)
		if (signal_tmps[i][0])
			unlink(signal_tmps[i]);
	if (signal_new_dir[0])
		rmdir(signal_new_dir); /* removes it only if it is empty */
	ignored = write(STDERR_FILENO, signal_message, strlen(signal_message));
	(void)ignored;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

/* Installs remove_tmp_on_signal for the files that exporting to OUT
 * writes, except for a signal that is ignored (as in a background job of a
 * non-interactive shell).  The same FILE.tmp names as hs_export_create. */
static void watch_interrupts(const char *out, bool perfetto)
{
	struct sigaction sa = { .sa_handler = remove_tmp_on_signal };

	if (perfetto) {
		snprintf(signal_tmps[0], sizeof(signal_tmps[0]), "%s.tmp", out);
	} else {
		for (size_t i = 0; i < HS_EXPORT_CSV_TABLES; i++)
			snprintf(signal_tmps[i], sizeof(signal_tmps[i]), "%s/%s.csv.tmp", out,
				 hs_export_csv_tables[i]);
		if (access(out, F_OK) != 0)
			snprintf(signal_new_dir, sizeof(signal_new_dir), "%s", out);
	}
	snprintf(signal_message, sizeof(signal_message),
		 perfetto ? "herdsim: export interrupted; %s is left as it was\n"
			  : "herdsim: export interrupted; the CSV files in %s are left as they were\n", out);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 2; i++) {
		sigaction(watched_signals[i], NULL, &saved_actions[i]);
		if (saved_actions[i].sa_handler != SIG_IGN)
			sigaction(watched_signals[i], &sa, NULL);
	}
}

/* Restores the actions that watch_interrupts replaced, once the export
 * has committed or failed and no FILE.tmp is left. */
static void unwatch_interrupts(void)
{
	for (size_t i = 0; i < 2; i++)
		sigaction(watched_signals[i], &saved_actions[i], NULL);
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
		/* NOTE: a signal between the last rename and unwatch_interrupts
		 * prints that the output is left as it was, but it was replaced
		 * by the complete export. */
		watch_interrupts(o.out, perfetto);
		rc = perfetto ? hs_export_perfetto(db, (int64_t)o.run, o.out, &err)
			      : hs_export_csv(db, (int64_t)o.run, o.out, &err);
		unwatch_interrupts();
	}
	sqlite3_close(db);
	if (rc)
		return cli_error(&err);
	return CLI_OK;
}
