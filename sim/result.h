/*
 * The record of one run, in memory, as the backends fill it and the
 * recorder writes it.
 *
 * A run keeps everything in growable arrays and the recorder writes it to
 * SQLite in one transaction at the end, so an interrupted run leaves no
 * partial rows.  With HS_RECORD_SUMMARY the per-event arrays (states,
 * wakes, callbacks, gauges) stay empty; threads and M's are kept at both
 * levels.  Times are nanoseconds from the start of the run.
 */
#ifndef HERDSIM_RESULT_H
#define HERDSIM_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A growable array of T: `data`, `len`, `cap`. */
#define HS_VEC(T) struct { T *data; size_t len, cap; }

/* Appends one element; returns a pointer to it, zeroed, or NULL on OOM. */
#define HS_VEC_PUSH(v) \
	(((v)->len < (v)->cap || hs_vec_grow((void **)&(v)->data, &(v)->cap, sizeof(*(v)->data)) == 0) \
		 ? hs_vec_zero(&(v)->data[(v)->len++], sizeof(*(v)->data)) : NULL)

#define HS_VEC_FREE(v) do { free((v)->data); (v)->data = NULL; (v)->len = (v)->cap = 0; } while (0)

int hs_vec_grow(void **data, size_t *cap, size_t elem);
/* Makes an empty vector's capacity n; 0 or HS_E_NOMEM. */
int hs_vec_reserve(void **data, size_t *cap, size_t elem, size_t n);
#define HS_VEC_RESERVE(v, n) hs_vec_reserve((void **)&(v)->data, &(v)->cap, sizeof(*(v)->data), (n))
void *hs_vec_zero(void *p, size_t n);

enum hs_status {
	HS_STATUS_OK = 0,
	HS_STATUS_DEADLOCK = 1, /* every live thread blocked, no event pending */
	HS_STATUS_TIMEOUT = 2,  /* simulated-time, event or wall-clock limit hit */
	HS_STATUS_ERROR = 3,    /* a model invariant broke; see error */
};

enum hs_thread_kind {
	HS_THREAD_FOREIGN = 0,
	HS_THREAD_RUNTIME = 1,
};

enum hs_tstate {
	HS_TS_RUNNING = 0,
	HS_TS_RUNNABLE = 1,
	HS_TS_SLEEPING = 2,
	HS_TS_BLOCKED = 3,
	HS_TS_YIELDING = 4, /* runnable after sched_yield, or held by ULE */
	HS_TS_COUNT
};

/* Why a thread entered a state; names in hs_reason_name(). */
enum hs_reason {
	HS_R_NONE = 0,
	HS_R_CREATE,     /* running thread creation, runnable before first run */
	HS_R_EXIT,
	HS_R_WORK,       /* running its own code */
	HS_R_PREEMPT,    /* time slice ended with others waiting */
	HS_R_WAKE,       /* between a wake-up and getting a core */
	HS_R_YIELD,
	HS_R_USLEEP,
	HS_R_FUTEX,
	HS_R_LOCK,       /* runtime mutex (futex sleep inside lock2) */
	HS_R_P_WAIT,     /* exitsyscall waiting for a P */
	HS_R_STW,        /* stopped by the garbage collector */
	HS_R_GC_WAIT,    /* runtime.GC() waiting for its cycle */
	HS_R_THINK,      /* C code sleeping between callbacks */
	HS_R_IDLE,       /* runtime daemon with nothing to do */
	HS_R_MMAP_LOCK,  /* the address-space lock (mmap_lock) */
	HS_R_COUNT
};

const char *hs_tstate_name(enum hs_tstate s);
const char *hs_reason_name(enum hs_reason r);
const char *hs_status_name(enum hs_status s);

struct hs_lock_stat {
	char name[32];
	uint64_t acquisitions;
	uint64_t contentions;         /* acquisitions that had to wait */
	uint64_t acquisition_bounces; /* acquired on another core than the last */
	uint64_t contention_bounces;  /* contended and acquired on another core */
	int64_t wait_min_ns, wait_max_ns, wait_total_ns;
	int64_t hold_min_ns, hold_max_ns, hold_total_ns;
};

struct hs_thread_rec {
	int32_t id;                /* 0-based, in creation order */
	enum hs_thread_kind kind;
	char name[24];
	int64_t created_ns;
	int64_t exited_ns;         /* -1 if still alive at the end */
};

struct hs_state_rec {
	int32_t thread;
	uint8_t state;             /* enum hs_tstate */
	uint8_t reason;            /* enum hs_reason */
	int32_t waker;             /* thread that ended the previous wait, -1 none */
	int64_t start_ns, end_ns;  /* [start, end) */
};

struct hs_wake_rec {
	int64_t time_ns;           /* when the wake-up was issued */
	int32_t waker;             /* -1 for a timer */
	int32_t woken;
	int64_t latency_ns;        /* wake-up to running */
	uint8_t reason;            /* what the woken thread waited for */
	uint8_t wasted;            /* woke, found nothing, waited again */
};

struct hs_callback_rec {
	int32_t thread;
	int32_t seq;               /* 0-based per thread */
	int64_t arrival_ns;        /* entry from C */
	int64_t m_acquired_ns;     /* needm done */
	int64_t p_acquired_ns;     /* exitsyscall done */
	int64_t done_ns;           /* dropm done */
	int64_t m;                 /* id of the M used */
	int32_t sleeps, yields, cas_failures;
};

/* One callback as the workload gave it, for --record-trace: the columns
 * of a herdsim-trace-v1 row plus the keys that order the rows. */
struct hs_workload_rec {
	int32_t thread;            /* trace thread id, or the foreign index */
	int32_t seq;               /* 0-based per thread */
	int64_t thread_start_ns;
	int64_t arrival_ns;
	int64_t go_work_ns;
	int64_t gc_calls;
	int64_t grow_frames;
	int64_t c_time_ns;
	int64_t order;             /* tie-break after arrival_ns: the input
	                            * line in a replay, 0 otherwise */
};

struct hs_m_rec {
	int64_t id;
	int64_t created_ns;
	int32_t created_by;        /* thread, -1 at runtime start */
	char reason[24];
};

struct hs_gauge_rec {
	int64_t time_ns;
	int32_t thread;
	char name[24];
	int64_t value;
};

struct hs_hist_rec {
	char name[32];
	int64_t lower_ns, upper_ns; /* [lower, upper) */
	uint64_t count;
};

struct hs_scalar_rec {
	char name[32];
	double value;
};

struct hs_param_rec {
	char key[64];
	char value[HS_PATH_MAX];
};

struct hs_run_result {
	/* Identity (the `run` row). */
	char scenario[HS_NAME_MAX];
	char policy[HS_PATH_MAX];
	char backend[16];           /* "sim" or "native" */
	char os[HS_NAME_MAX];
	uint64_t seed;
	int replication;
	char run_key[80];           /* identifies a run within an experiment */
	int64_t experiment_id;      /* 0 for none */
	enum hs_record_level record;

	/* Outcome. */
	enum hs_status status;
	char error[512];            /* why, when status is not ok */
	uint64_t events;
	int64_t end_ns;             /* simulated (or real) time at the end */
	char started_at[32];        /* UTC, ISO 8601; wall clock */
	int64_t wall_ns;            /* real time the run took; wall clock */

	HS_VEC(struct hs_param_rec) params;
	HS_VEC(struct hs_scalar_rec) scalars;
	HS_VEC(struct hs_lock_stat) locks;
	HS_VEC(struct hs_thread_rec) threads;
	HS_VEC(struct hs_m_rec) ms;
	HS_VEC(struct hs_hist_rec) hists;
	HS_VEC(struct hs_state_rec) states;
	HS_VEC(struct hs_wake_rec) wakes;
	HS_VEC(struct hs_callback_rec) callbacks;
	HS_VEC(struct hs_gauge_rec) gauges;
	HS_VEC(struct hs_workload_rec) workload; /* only with record_workload */
};

void hs_result_init(struct hs_run_result *r);
void hs_result_free(struct hs_run_result *r);
/* Adds or replaces a scalar. Returns 0 or HS_E_NOMEM. */
int hs_result_scalar(struct hs_run_result *r, const char *name, double value);
/* Returns the scalar's value, or `missing` if absent. */
double hs_result_get(const struct hs_run_result *r, const char *name, double missing);
int hs_result_param(struct hs_run_result *r, const char *key, const char *value);

#endif /* HERDSIM_RESULT_H */
