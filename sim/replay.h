/*
 * Replay of a callback trace: the checks a trace must pass before a run
 * replays it, shared by the command line and the sim backend.
 *
 * hs_replay_scan() streams a herdsim-trace-v1 file from start to end with
 * the trace reader and adds the limits of a replay (below), so that a
 * trace error is found before the first run and no run is recorded for a
 * bad trace.  Memory stays constant in the number of rows; the reader's
 * per-thread table grows with the number of distinct threads.
 */
#ifndef HERDSIM_REPLAY_H
#define HERDSIM_REPLAY_H

#include <stdint.h>

#include "error.h"
#include "trace.h"

/* Largest runtime.GC() count of one callback that a replay accepts. */
#define HS_REPLAY_MAX_GC 1000
/* Largest recursion depth of one callback, in frames. */
#define HS_REPLAY_MAX_GROW INT64_C(1000000000)
/* Largest time value (2^62 ns, about 146 years), so that simulated
 * times computed from trace times cannot overflow. */
#define HS_REPLAY_MAX_NS (INT64_C(1) << 62)

struct hs_replay_summary {
	int64_t rows;
	int64_t threads;        /* distinct thread ids */
	uint64_t digest;        /* FNV-1a 64 of the row values, in file order */
};

/*
 * Reads the trace at PATH to the end and checks every row.  Calls FN (may
 * be NULL) with each row; FN returns 0 or a negative HS_E_* code with err
 * filled, which stops the scan.  Fills *sum.  Returns 0, or a negative
 * HS_E_* code with err naming the file, line, column and key.
 */
int hs_replay_scan(const char *path, int (*fn)(void *ctx, const struct hs_trace_row *row,
					       struct hs_error *err),
		   void *ctx, struct hs_replay_summary *sum, struct hs_error *err);

/* Writes the digest as 16 lowercase hex digits and a NUL into buf[17]. */
void hs_replay_digest_hex(uint64_t digest, char buf[17]);

#endif /* HERDSIM_REPLAY_H */
