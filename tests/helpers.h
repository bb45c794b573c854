/*
 * Shared test helpers: running the herdsim binary, temporary directories,
 * and reading a SQLite database back.
 */
#ifndef HERDSIM_TEST_HELPERS_H
#define HERDSIM_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmd_result {
	int status;        /* exit status, or 128 + signal */
	char out[65536];   /* standard output, truncated */
	char err[8192];    /* standard error, truncated */
};

/* Runs HS_BIN with the NULL-terminated arguments; fills *r. */
void run_herdsim(struct cmd_result *r, const char *const *args);

/* As run_herdsim, but perf_event_open fails with EACCES in the child, as
 * an unprivileged process meets it under kernel.perf_event_paranoid 2.
 * Status 126 when the filter that does so cannot be installed. */
void run_herdsim_without_perf(struct cmd_result *r, const char *const *args);

/* As run_herdsim, but system call syscall_nr (a SYS_ number) fails with
 * EACCES in the child.  Status 126 when the filter cannot be installed. */
void run_herdsim_denying(struct cmd_result *r, long syscall_nr, const char *const *args);

/* Counts this process's threads, or only those under scheduling policy
 * `policy` (SCHED_FIFO, ...) when it is 0 or more.  -1 when
 * /proc/self/task cannot be read. */
int count_task_threads(int policy);

/* Returns count_task_threads(-1) once it equals `expected`, or its last
 * value after timeout_ms.  A joined thread can stay listed for a moment
 * after pthread_join returns, since the kernel clears the join word
 * before it releases the task. */
int wait_task_threads(int expected, int timeout_ms);

/* Whether this process may not switch a thread to SCHED_FIFO, the
 * condition under which calibrate skips the irq_wake figures. */
bool sched_fifo_denied(void);

/* Runs the program at path with the NULL-terminated arguments; fills *r. */
void run_program(struct cmd_result *r, const char *path, const char *const *args);

/* Creates a fresh directory under /tmp; returns a static-lifetime path
 * (valid until the next call).  The directory and everything in it are
 * removed when the test program exits. */
const char *make_temp_dir(void);

/* Writes text to path; aborts the test on failure. */
void write_file(const char *path, const char *text);

/* Writes the shipped file `shipped` ("sim/profiles/linux.ini") to path
 * without the line that sets `key`; aborts if the file has no such line. */
void write_shipped_without_key(const char *path, const char *shipped, const char *key);

/* Runs a query returning one integer; -1 if the query fails. */
int64_t db_int(const char *db, const char *sql);

/* Hashes the rows of every table of the database in a fixed order,
 * skipping the wall-clock columns (run.started_at, run.wall_ns, experiment
 * started_at, ended_at, host, command).  Same rows, same hash. */
uint64_t db_hash(const char *db);

/* Number of lines in s. */
int count_lines(const char *s);

struct hs_run_result;
/* Number of p_wait intervals of threads 0 to 63 that follow a gc_wait
 * interval of the same thread in r's states: a runtime.GC() caller woken
 * at its cycle's end without a P. */
int p_waits_after_gc_wait(const struct hs_run_result *r);

#endif /* HERDSIM_TEST_HELPERS_H */
