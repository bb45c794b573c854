/*
 * Export of one recorded run from a herdsim database (analysis/schema.sql)
 * into files other tools read:
 *
 *   - Perfetto: a Chrome trace-event JSON file that ui.perfetto.dev and
 *     chrome://tracing open.  One process, one track per thread, a complete
 *     event per thread_state row, a flow arrow per wake-up that a thread
 *     issued, and a counter track per gauge name.
 *   - CSV: thread_state.csv, wake.csv and callback.csv in a directory,
 *     one file per table, written with libcsv.
 *
 * Both need a run recorded at level events, because the other levels keep
 * no per-event rows.  Every file is written to FILE.tmp and renamed, so a
 * failed export leaves no partial file.  Nothing here prints.
 */
#ifndef HERDSIM_EXPORT_H
#define HERDSIM_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct sqlite3 sqlite3;

/*
 * Checks that run RUN_ID exists in DB and was recorded at level events.
 * Returns 0, HS_E_NOTFOUND for a missing run, or HS_E_INPUT.  DB_NAME is
 * the file name used in errors.
 */
int hs_export_check_run(sqlite3 *db, const char *db_name, int64_t run_id, struct hs_error *err);

/* Writes the run as Chrome trace-event JSON to PATH.  Thread t is
 * tid t + 1 of pid 1 (tid 0 is avoided because some viewers treat it as
 * the idle task); times are microseconds with three decimals, so
 * nanoseconds are exact. */
int hs_export_perfetto(sqlite3 *db, int64_t run_id, const char *path, struct hs_error *err);

/* Tables that the CSV export writes, each as DIR/NAME.csv, in this order. */
#define HS_EXPORT_CSV_TABLES 3
extern const char *const hs_export_csv_tables[HS_EXPORT_CSV_TABLES];

/* Writes DIR/thread_state.csv, DIR/wake.csv and DIR/callback.csv, creating
 * DIR if missing.  A NULL column (no waker) is an empty field.  All three
 * FILE.tmp are written before the first rename, so a failure or a signal
 * while writing leaves every existing file of DIR as it was. */
int hs_export_csv(sqlite3 *db, int64_t run_id, const char *dir, struct hs_error *err);

/* Opens PATH.tmp for writing; its name is kept in tmp[size]. */
FILE *hs_export_create(const char *path, char *tmp, size_t size, struct hs_error *err);
/* Flushes, syncs, closes F and renames TMP to PATH; with a stream error or
 * COMMIT false removes TMP instead.  Returns 0 or HS_E_IO. */
int hs_export_finish(FILE *f, const char *tmp, const char *path, int commit, struct hs_error *err);

#endif /* HERDSIM_EXPORT_H */
