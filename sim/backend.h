/*
 * Backends: where a run executes.  `sim` runs it in simulated time on
 * fibers; `native` runs it on real pthreads.  Both take the same request
 * and fill the same record, so the front end, the recorder and the reports
 * do not care which ran.
 */
#ifndef HERDSIM_BACKEND_H
#define HERDSIM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "policy.h"
#include "result.h"

struct hs_run_request {
	const struct hs_config *cfg;
	const struct hs_policy *policy;
	int64_t policy_params[HS_POLICY_MAX_PARAMS]; /* resolved, in the policy's order */
	uint64_t seed;                               /* seed of this replication */
	int replication;
	enum hs_record_level record;
	/* Workload source: NULL runs the scenario's [workload] and [callback];
	 * a path replays that herdsim-trace-v1 file instead (see
	 * traces/README.md).  A backend without replay rejects a non-NULL
	 * path with HS_E_USAGE. */
	const char *trace_path;
	/* Fill out->workload with one row per callback (--record-trace). */
	bool record_workload;
	/* Schedule noise L in [0, 0.5]: each CPU burst and each wake-up or
	 * placement delay is multiplied by a factor drawn uniformly from
	 * [1 - L, 1 + L] from the seed's HS_STREAM_NOISE stream.  0 is off. */
	double schedule_noise;
	/* Record the callbacks' CPU time by phase as the scalars
	 * hs_phase_scalar names (sim/workload.h).  The native backend then
	 * reads the thread's CPU clock six times per callback: at its start
	 * and at the end of each of the HS_NPHASES phases. */
	bool phase_cpu;
};

struct hs_backend {
	const char *name;
	/* Runs one replication and fills *out (identity, status, scalars,
	 * locks, threads, M's and, at HS_RECORD_EVENTS, the event tables).
	 * A run that ends in deadlock or timeout is not an error: it returns 0
	 * with out->status set.  Returns a negative HS_E_* code only when the
	 * run could not be carried out at all. */
	int (*run)(const struct hs_run_request *req, struct hs_run_result *out,
		   struct hs_error *err);
};

extern const struct hs_backend hs_backend_sim;
extern const struct hs_backend hs_backend_native;

/* Returns the backend with this name, or NULL. */
const struct hs_backend *hs_backend_find(const char *name);


#endif /* HERDSIM_BACKEND_H */
