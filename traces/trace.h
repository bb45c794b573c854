/*
 * Callback traces: a CSV log of foreign-thread callbacks into Go, read as a
 * stream, written atomically, and generated from a seeded workload model.
 *
 * The format is described with a worked example in traces/README.md.  In
 * short, line 1 names the format and version (`herdsim-trace-v1`), line 2
 * names the columns, and every later row is one callback:
 *
 *   thread,thread_start_ns,arrival_ns,go_work_ns,gc_calls,grow_frames,c_time_ns
 *
 * Invariants that the reader checks and the writer enforces, so that any
 * file the writer produces is read back without error:
 *   1. Every field is a decimal integer of digits only: no sign, no spaces,
 *      no empty field.  `thread` is at most INT32_MAX; the others are at most
 *      INT64_MAX.
 *   2. Rows are ordered by arrival_ns (ties allowed), so a replay can stream
 *      the file and never look ahead.
 *   3. Within a thread, arrival_ns never decreases, thread_start_ns is the
 *      same on every row, and thread_start_ns <= arrival_ns.
 *
 * Memory: the reader keeps one fixed-size chunk buffer, the libcsv field
 * buffer (fields are at most 256 bytes) and a hash table of 32-byte slots,
 * 2 to 4 per distinct thread id seen.  That table grows with the number of
 * distinct threads, not with the number of rows.
 *
 * Nothing here prints.  Errors return a negative HS_E_* code and fill a
 * struct hs_error whose column is the 1-based field number in the row and
 * whose key is the column name.
 */
#ifndef HERDSIM_TRACE_H
#define HERDSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Line 1 of every trace: the format name and its version. */
#define HS_TRACE_FORMAT "herdsim-trace-v1"
/* Line 2 of every trace: the column names, in row order. */
#define HS_TRACE_COLUMNS \
	"thread,thread_start_ns,arrival_ns,go_work_ns,gc_calls,grow_frames,c_time_ns"
#define HS_TRACE_NCOLUMNS 7

/* Bytes the file reader reads per call to read(2). */
#define HS_TRACE_CHUNK 65536
/* Longest path the writer accepts, terminating NUL included. */
#define HS_TRACE_PATH_MAX 4096

/* One callback.  All times are nanoseconds on the recording's clock. */
struct hs_trace_row {
	int32_t thread;          /* thread id, 0..INT32_MAX */
	int64_t thread_start_ns; /* when the thread started */
	int64_t arrival_ns;      /* when C code called into Go */
	int64_t go_work_ns;      /* CPU time of the Go code in the callback */
	int64_t gc_calls;        /* runtime.GC() calls in the callback */
	int64_t grow_frames;     /* recursion depth in frames, growing the stack */
	int64_t c_time_ns;       /* time in C before this callback, since the
	                          * thread started or its previous callback
	                          * returned */
	int64_t line;            /* line of the row in its file (reader only) */
};

/* Figures a parser keeps about its own memory, for tests and diagnostics. */
struct hs_trace_stats {
	uint64_t rows;          /* data rows delivered */
	size_t threads;         /* distinct thread ids seen */
	size_t thread_capacity; /* slots in the per-thread table */
	size_t csv_buffer_max;  /* largest libcsv field buffer, in bytes */
};

/* ---- Push parser ------------------------------------------------------ */

struct hs_trace_parser;

/*
 * Receives each data row.  Returns 0 to go on, HS_TRACE_PAUSE to make
 * hs_trace_parser_feed() return right after this row, or a negative HS_E_*
 * code to stop the parser.  On a negative code the callback fills ERR, and
 * the parser keeps that error and returns it from feed and finish.
 */
typedef int (*hs_trace_row_fn)(void *ctx, const struct hs_trace_row *row,
			       struct hs_error *err);
#define HS_TRACE_PAUSE 1

/*
 * Creates a parser.  NAME is the file name used in errors (may be NULL).
 * Returns NULL and fills err when out of memory.
 */
struct hs_trace_parser *hs_trace_parser_new(const char *name, hs_trace_row_fn fn,
					    void *ctx, struct hs_error *err);

/*
 * Parses LEN bytes, split anywhere.  Returns the number of bytes consumed,
 * which is LEN unless the callback paused (then the caller feeds the rest
 * later), or a negative HS_E_* code with err filled.  Errors are sticky:
 * once one is returned, every later feed or finish returns it again.
 */
long hs_trace_parser_feed(struct hs_trace_parser *p, const void *buf, size_t len,
			  struct hs_error *err);

/*
 * Ends the input: delivers a last row that has no line break and checks
 * that the file was not empty and had no open quote.  Returns 0 or a
 * negative HS_E_* code with err filled.
 */
int hs_trace_parser_finish(struct hs_trace_parser *p, struct hs_error *err);

void hs_trace_parser_stats(const struct hs_trace_parser *p, struct hs_trace_stats *out);
void hs_trace_parser_free(struct hs_trace_parser *p);

/* ---- File reader ------------------------------------------------------ */

struct hs_trace_reader;

/* Opens PATH.  Returns NULL and fills err (HS_E_NOTFOUND, HS_E_IO, ...). */
struct hs_trace_reader *hs_trace_open(const char *path, struct hs_error *err);

/*
 * Reads the next row into *row.  Returns 1 for a row, 0 at the end of the
 * file, or a negative HS_E_* code with err filled.  After 0 or an error,
 * later calls return the same result.
 */
int hs_trace_next(struct hs_trace_reader *r, struct hs_trace_row *row,
		  struct hs_error *err);

void hs_trace_reader_stats(const struct hs_trace_reader *r, struct hs_trace_stats *out);
void hs_trace_close(struct hs_trace_reader *r);

/* ---- Writer ----------------------------------------------------------- */

struct hs_trace_writer;

/*
 * Creates PATH.tmp and writes the two header lines.  The file appears under
 * PATH only when hs_trace_writer_close() commits.  Returns NULL and fills
 * err on failure.
 */
struct hs_trace_writer *hs_trace_writer_open(const char *path, struct hs_error *err);

/*
 * Appends one row after checking the invariants above (row->line is
 * ignored).  Returns 0, HS_E_INPUT for a row the reader would reject, or
 * HS_E_IO.  A failed write makes the writer unable to commit.
 */
int hs_trace_writer_row(struct hs_trace_writer *w, const struct hs_trace_row *row,
			struct hs_error *err);

/*
 * Flushes and syncs PATH.tmp and closes the file without renaming it, so
 * that the caller can do a step that may fail before PATH is replaced.
 * Rows cannot follow.  Returns 0 or HS_E_IO, after which only a rollback
 * is possible.
 */
int hs_trace_writer_sync(struct hs_trace_writer *w, struct hs_error *err);

/*
 * Closes the writer and frees it.  With COMMIT and no earlier write error,
 * flushes, syncs and renames PATH.tmp to PATH; otherwise removes PATH.tmp
 * and leaves PATH as it was.  Returns 0 or a negative HS_E_* code; a
 * rollback that was asked for (COMMIT false) returns 0.
 */
int hs_trace_writer_close(struct hs_trace_writer *w, int commit, struct hs_error *err);

/* ---- Generator -------------------------------------------------------- */

enum hs_trace_gen_kind {
	HS_TRACE_GEN_BURST = 0,    /* every thread starts at 0 */
	HS_TRACE_GEN_POISSON = 1,  /* thread starts with exponential gaps */
	HS_TRACE_GEN_PERIODIC = 2, /* one thread start every interval */
	HS_TRACE_GEN_POOL = 3,     /* threads start at 0; think time is
	                            * exponential around think_ns */
};

/* The upper limits are those of a replay, in sim/replay.h. */
struct hs_trace_gen_opts {
	enum hs_trace_gen_kind kind;
	int32_t threads;      /* 1..INT32_MAX */
	int64_t callbacks;    /* callbacks per thread, >= 1 */
	int64_t interval_ns;  /* poisson: mean gap; periodic: gap between starts;
	                       * 0..HS_REPLAY_MAX_NS */
	int64_t think_ns;     /* C time before each callback (pool: the mean);
	                       * 0..HS_REPLAY_MAX_NS */
	int64_t go_work_ns;   /* every callback; 0..HS_REPLAY_MAX_NS */
	int64_t gc_calls;     /* every callback; 0..HS_REPLAY_MAX_GC */
	int64_t grow_frames;  /* every callback; 0..HS_REPLAY_MAX_GROW */
	uint64_t seed;
};

/*
 * Writes a trace to PATH through the writer, so PATH appears only complete.
 * The same options give the same bytes.  Returns 0 or a negative HS_E_*
 * code with err filled.  HS_E_USAGE is for invalid options, for options
 * whose thread starts or arrivals pass HS_REPLAY_MAX_NS, and for a random
 * draw in poisson or pool that takes a time past it.  On any error
 * PATH.tmp is removed and an existing PATH is left as it was.
 */
int hs_trace_gen(const struct hs_trace_gen_opts *o, const char *path, struct hs_error *err);

/* Name of a kind ("burst", ...), or NULL for an invalid value. */
const char *hs_trace_gen_kind_name(enum hs_trace_gen_kind kind);
/* Kind for NAME; returns 0 or HS_E_USAGE with err filled. */
int hs_trace_gen_kind_parse(const char *name, enum hs_trace_gen_kind *kind,
			    struct hs_error *err);

#endif /* HERDSIM_TRACE_H */
