/*
 * The SQLite recorder.
 *
 * A database holds any number of runs.  hs_db_open creates schema version
 * HS_SCHEMA_VERSION in a new file (analysis/schema.sql, kept in
 * PRAGMA user_version) and rejects a file with another version.  Each run
 * is written with prepared statements inside one transaction, so a failure
 * or an interrupt leaves no partial run.  The database uses WAL mode so that
 * readers can follow a sweep while it runs.
 */
#ifndef HERDSIM_RECORD_H
#define HERDSIM_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "result.h"

#define HS_SCHEMA_VERSION 1

struct hs_db;
typedef struct sqlite3 sqlite3;

/* Returns, in a string to free, the name under which SQLite opens the file
 * at path: path itself, or "./path" for ":memory:" and for a path that
 * starts with "file:".  SQLite would open the first in memory and, when
 * built with SQLITE_USE_URI (as Debian 12's libsqlite3 is), read the
 * second as a URI, so that no file of that name is read or written.
 * NULL when out of memory. */
char *hs_db_file_name(const char *path);

/* Opens or creates the database at path.  Creates the parent directory if
 * it is missing.  An empty path is rejected with HS_E_USAGE. */
int hs_db_open(struct hs_db **db, const char *path, struct hs_error *err);

/* Returns the length of the deepest parent directory of path that exists
 * (0 when none does).  Taken before hs_db_open, it marks which of the
 * directories above path hs_db_open then created. */
size_t hs_db_existing_parent_length(const char *path);

/* Removes the parent directories of path that are longer than `keep`
 * characters, deepest first: those hs_db_open created, with keep from
 * hs_db_existing_parent_length.  rmdir leaves a directory that is not
 * empty. */
void hs_db_remove_new_dirs(const char *path, size_t keep);

/* Removes the database file at path, its -wal and -shm files and the
 * directories above it that hs_db_remove_new_dirs(path, keep) removes:
 * the cleanup of a new database that received no run. */
void hs_db_remove(const char *path, size_t keep);
void hs_db_close(struct hs_db *db);
sqlite3 *hs_db_handle(struct hs_db *db);

/* Writes one run and every row of r that its record level asks for, in one
 * transaction.  Stores the new run id in *run_id (may be NULL). */
int hs_db_write_run(struct hs_db *db, const struct hs_run_result *r, int64_t *run_id,
		    struct hs_error *err);

/* Experiments group the runs of one sweep. */
struct hs_experiment {
	char name[64];
	char command[1024];
	char version[32];
	char revision[64];
	char host[128];
	char started_at[32];
	char ended_at[32];
};

/* Returns the id of the experiment with this name, creating it if absent. */
int hs_db_experiment(struct hs_db *db, const struct hs_experiment *e, int64_t *id,
		     struct hs_error *err);
int hs_db_experiment_end(struct hs_db *db, int64_t id, const char *ended_at,
			 struct hs_error *err);
/* Sets *exists to 1 if a run with this key is recorded in the experiment. */
int hs_db_run_exists(struct hs_db *db, int64_t experiment_id, const char *run_key,
		     int *exists, struct hs_error *err);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ". */
void hs_utc_now(char *buf, int size);

#endif /* HERDSIM_RECORD_H */
