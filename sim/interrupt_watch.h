/*
 * SIGINT and SIGTERM for the commands that record runs: `run`, `replay`
 * and `sweep`.  While runs execute, every thread blocks both signals and
 * one watcher thread takes them with sigwait, so no system call of a
 * native run returns early with EINTR.
 *
 * The first signal sets `first` and calls `announce`, which prints what
 * the command does now: it starts no further run, lets the runs in
 * progress finish and records them.  A second signal ends the process at
 * once by that signal, so the shell reports status 128 + its number
 * (130 for SIGINT).  Before that it removes a database that the command
 * created and that contains no run, with its -wal and -shm files and the
 * directories made for it, and the partial trace `trace_tmp` of `run
 * --record-trace`.  A signal that the process inherited as ignored (as in
 * a background job of a non-interactive shell) stays ignored.
 */
#ifndef HERDSIM_INTERRUPT_WATCH_H
#define HERDSIM_INTERRUPT_WATCH_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct hs_interrupts {
	/* Set by the caller before hs_interrupts_start. */
	void (*announce)(void *ctx, int sig); /* prints the line of the first signal; runs on the watcher */
	void *announce_ctx;
	char trace_tmp[HS_PATH_MAX + 8];      /* partial file to remove on a second signal, or empty */

	/* Set by hs_interrupts_start. */
	sigset_t set;           /* the signals watched: SIGINT and SIGTERM unless ignored */
	sigset_t old_mask;      /* the caller's signal mask, restored by hs_interrupts_stop */
	pthread_t thread;
	bool started;           /* the watcher thread runs */
	atomic_bool stop;       /* set by hs_interrupts_stop to make the watcher return */
	atomic_int first;       /* the first signal taken, 0 before */
	const char *db_path;
	bool db_new;            /* the database did not exist at hs_interrupts_start */
	size_t db_kept_dirs;    /* hs_db_existing_parent_length before the open */

	/* The caller locks db_mu while it writes a run and counts it in
	 * `recorded`, and while it renames trace_tmp into place.  So a second
	 * signal finds each of them done or not started. */
	pthread_mutex_t db_mu;
	long long recorded;     /* runs written to the database */
};

/* An `announce` for commands that finish the run in progress: prints that
 * the command stops after it, and how to stop at once. */
void hs_interrupts_announce_stop(void *ctx, int sig);

/* Notes whether the database at db_path exists, blocks SIGINT and SIGTERM
 * in this thread, and so in every thread it starts later, and starts the
 * watcher.  Call it before the database is opened.  If the watcher cannot
 * start, the mask is restored and the signals keep their default action. */
void hs_interrupts_start(struct hs_interrupts *in, const char *db_path);

/* Stops the watcher and restores the signal mask.  A signal that arrives
 * from here on no longer interrupts the command, whose runs are over. */
void hs_interrupts_stop(struct hs_interrupts *in);

/* Test hook: sends sig to the process `times` (1 or 2) times and waits up
 * to 10 s for the watcher to take the first.  After a second signal it
 * waits 10 s more, during which the watcher ends the process. */
void hs_interrupts_test_signal(struct hs_interrupts *in, int sig, int times);

#endif /* HERDSIM_INTERRUPT_WATCH_H */
