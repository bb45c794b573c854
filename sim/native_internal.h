/*
 * Internals of the native backend, shared by native.c (the run),
 * native_env.c (the policy primitives), native_runtime.c (P's, the
 * garbage collector and the workload hooks) and native_replay.c (the trace
 * workload source).  Nothing outside these files and the native tests
 * includes it.
 *
 * One run is one `struct nrun`; nothing is kept in static variables, so runs
 * can follow one another in one process.  Each thread of the run (foreign,
 * runtime daemon, or the main thread that runs the policy's init) owns one
 * `struct nthread`, whose first member is the `hs_env` handed to the policy.
 *
 * Invariants:
 *  1. A thread writes only its own `struct nthread` (counters, record
 *     buffers, current state); the run merges them after every thread has
 *     been joined, so counting needs no shared atomics.
 *  2. A thread's state intervals are contiguous: each set_state() closes the
 *     open interval at the time it opens the next one.
 *  3. Shared run fields are either written before the threads start, or
 *     guarded by `rt_mu` (P's, stop-the-world, GC), `reg_mu` (the thread
 *     registry and the M table's chunks), `done_mu` (live thread counts) or
 *     accessed with __atomic builtins (abort, stopping, M owners).
 *  4. Once `abort` is set (the watchdog fired or thread creation failed),
 *     every primitive and every runtime wait of a foreign or runtime thread
 *     unwinds the thread with longjmp to its entry function, so the thread
 *     exits whatever loop the policy was in.
 */
#ifndef HERDSIM_NATIVE_INTERNAL_H
#define HERDSIM_NATIVE_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "backend.h"
#include "policy.h"
#include "result.h"
#include "workload.h"

#define NATIVE_MAX_LOCKS 16      /* sched.lock, allglock and 14 policy locks */
#define NATIVE_LOCK_SCHED 0
#define NATIVE_LOCK_ALLG 1
#define NATIVE_M_CHUNK 1024      /* M's per chunk of the owner table */
#define NATIVE_M_CHUNKS 4096     /* so at most 4 Mi M's per run */
#define NATIVE_SIGSTACK_BYTES (32 * 1024)
#define NATIVE_GSTACK_BYTES (4 * 1024)
#define NATIVE_PENDING_WAKES 16 /* P grants deferred per rt_mu section; more are sent at once */
#define NATIVE_WAIT_SLICE_NS 2000000 /* longest single nanosleep, so aborts are seen */

/* One M: the policy's view first, then what the backend keeps about it. */
struct nm {
	hs_m m;
	void *sigstack;          /* NATIVE_SIGSTACK_BYTES, mmap'd; NULL once freed */
	void *gstack;            /* NATIVE_GSTACK_BYTES, mmap'd; NULL once freed */
	int32_t owner;           /* holding thread id + 1, 0 when none (atomic) */
	int freed;               /* set by free_m (atomic) */
	struct hs_m_rec rec;
};

/* Per-thread, per-lock annotation state and statistics. */
struct nlockacc {
	int64_t begin_stamp;     /* stamp() of the last lock_begin, -1 if none pending */
	int64_t acquired_stamp;  /* stamp() of the last lock_acquired, -1 if not held */
	uint64_t holds;          /* releases counted in st.hold_* */
	struct hs_lock_stat st;  /* name left empty; merged at the end */
};

struct nrun;
struct nreplay;

struct nthread {
	hs_env env;              /* first, so an hs_env * is a struct nthread * */
	struct nrun *run;
	int32_t id;              /* registry index; -1 for the main thread */
	enum hs_thread_kind kind;
	char name[24];
	pthread_t handle;
	bool started;            /* pthread_create succeeded */
	bool can_unwind;         /* `unwind` is set up (not the main thread) */
	jmp_buf unwind;
	void (*fn)(hs_env *env, void *arg); /* runtime threads */
	void *arg;
	int32_t workload_thread;  /* foreign: trace thread id in a replay, else
	                           * the creation index; --record-trace uses it */
	int32_t replay_index;     /* foreign, replay: index in the replay's
	                           * thread table; -1 otherwise */

	int64_t created_ns, exited_ns;
	void *slot;              /* thread_slot */
	uint64_t rng;            /* splitmix64 state */
	void *sigstack;          /* this thread's alternate signal stack */
	bool sigstack_on_stack;  /* sigstack lives in the thread's entry frame,
	                          * else it was mapped on first use */
	void *stack_map;         /* the thread's stack mapping with its guard
	                          * page, or NULL for glibc's default stack */
	size_t stack_map_bytes;
	hs_word *waiting_on;     /* futex word of a wait in progress (atomic) */
	bool holds_p;

	/* Parking in the runtime model, guarded by rt_mu.  A thread that waits
	 * for a P, or for a GC cycle and then a P, waits on its own p_cv until
	 * another thread hands it a P (p_granted), as Go hands a P to one
	 * parked M. */
	pthread_cond_t p_cv;
	bool p_granted;
	struct nthread *pw_next;  /* next in the run's P-wait queue */
	struct nthread *gcw_next; /* next in the run's runtime.GC() wait list */
	uint64_t gc_target;       /* the cycle whose mark it waits for */

	/* Counters, summed at the end. */
	uint64_t ops, yields, sleeps, cas_failures, futex_waits, futex_wakes, wasted;
	uint64_t callbacks_done;
	int64_t phase_cpu[HS_NPHASES]; /* callbacks' CPU time by phase, when requested */
	bool wake_pending;       /* a wait returned and progress() was not called since */
	ptrdiff_t wake_pending_row; /* its row in `wakes`, or -1 */

	/* The open state interval. */
	uint8_t cur_state, cur_reason;
	int32_t cur_waker;
	int64_t cur_start;

	HS_VEC(struct hs_state_rec) states;
	HS_VEC(struct hs_wake_rec) wakes;
	HS_VEC(struct hs_callback_rec) callbacks;
	HS_VEC(struct hs_gauge_rec) gauges;
	HS_VEC(int64_t) latencies; /* done - arrival of each callback */
	HS_VEC(struct hs_workload_rec) workload; /* only with record_workload */
	struct nlockacc locks[NATIVE_MAX_LOCKS];
};

/* The runtime's own threads, each kind on its own condition variable;
 * P waiters and runtime.GC() callers wait on their thread's p_cv. */
enum native_cv {
	NATIVE_CV_DAEMON = 0, /* the GC daemon: a request, a P for the stop, a worker done */
	NATIVE_CV_MARK,     /* mark workers: a cycle's mark started */
	NATIVE_NCV
};

/* Wake-ups decided under rt_mu: P waiters handed a P, and whether the GC
 * daemon or the mark workers are to be signalled. */
struct native_wakes {
	struct nthread *p_waiters[NATIVE_PENDING_WAKES];
	int n;
	bool daemon, mark;
};

struct nrun {
	const struct hs_run_request *req;
	const struct hs_config *cfg;
	const struct hs_policy *policy;
	void *pstate;
	struct hs_policy wrapped;   /* policy hooks with the M ownership check */
	struct hs_driver driver;
	bool events;                /* record at HS_RECORD_EVENTS */
	bool multi_cpu;             /* the process may use more than one CPU
	                             * at run start, so lock2 spins actively */
	int64_t t0;                 /* CLOCK_MONOTONIC at run start, ns */
	int64_t cpu_read_ns;        /* cost of one thread CPU clock read (phase_cpu), ns */
	struct rusage ru0, ru1;     /* this process's usage at start and end */
	int migr_fd;                /* perf counter of CPU migrations of the run
	                             * thread and the threads it starts, -1 if the
	                             * kernel refused it */
	int abort;                  /* atomic: unwind every thread */
	int stopping;               /* atomic: 1 unwind daemons when they block, 2 at once */
	struct nreplay *replay;     /* the trace of a replay, read-only once
	                             * threads start; NULL for a scenario run */

	pthread_mutex_t reg_mu;
	HS_VEC(struct nthread *) threads;
	struct nthread main_thread;

	/* M table: chunk c contains ids c*CHUNK+1 .. (c+1)*CHUNK. */
	struct nm **mchunks[NATIVE_M_CHUNKS];
	uint64_t m_count;           /* ids handed out (guarded by reg_mu) */
	/* The M's themselves, NATIVE_M_CHUNK per chunk, in allocation order. */
	struct nm *mpool[NATIVE_M_CHUNKS];
	uint64_t m_slots;           /* pool slots handed out (atomic) */
	uint64_t m_freed;           /* atomic */
	hs_rtmutex sched_lock, allglock;

	char lock_names[NATIVE_MAX_LOCKS][32];
	int nlocks;
	int lock_last_cpu[NATIVE_MAX_LOCKS]; /* atomic; -1 before the first acquisition */

	/* Runtime model, guarded by rt_mu. */
	pthread_mutex_t rt_mu;
	/* One condition variable per kind of runtime thread (indexed by enum
	 * native_cv), so that an event wakes only the threads it concerns. */
	pthread_cond_t rt_cv[NATIVE_NCV];
	int nprocs, pidle;
	struct nthread *pw_head, *pw_tail; /* P waiters, oldest first */
	/* Wake-ups decided under rt_mu and sent after it is unlocked
	 * (rt_unlock).  Otherwise a woken thread could preempt the one that
	 * still holds rt_mu and then block on it. */
	struct native_wakes pending;
	struct nthread *gcw_head;          /* runtime.GC() callers waiting for a mark */
	int stw;                    /* stop requested or in effect; read atomically in go_work */
	uint64_t gc_cycles;         /* cycles started (Go's work.cycles) */
	int64_t stw_begin;          /* when the stop-the-world in progress was requested */
	int64_t stw_ns;             /* total from each stop request to the restart, ns */
	bool gc_marking;            /* cycle gc_cycles between its start and mark termination */
	uint64_t gc_request;        /* highest cycle number a caller asked for */
	int gc_workers;
	uint64_t mark_gen;          /* bumped to start the mark workers */
	int mark_running;           /* workers still marking this cycle */
	bool has_gc;

	/* Liveness, guarded by done_mu. */
	pthread_mutex_t done_mu;
	pthread_cond_t done_cv;     /* CLOCK_MONOTONIC */
	int live_foreign, live_daemons;
	int first_rc;               /* first negative code from the driver */

	/* The first broken invariant, guarded by err_mu. */
	pthread_mutex_t err_mu;
	bool violated;
	char violation[256];
};

static inline struct nthread *nthread_of(hs_env *env)
{
	return (struct nthread *)env;
}

/* native_env.c */
extern const struct hs_env_ops hs_native_env_ops;
/* Sets up native_clock; call once before a run's threads start. */
void native_clock_init(void);
/* CLOCK_MONOTONIC in ns, from the time stamp counter where it is safe. */
int64_t native_clock(void);
/* Returns the median cost of one CLOCK_THREAD_CPUTIME_ID read on this
 * thread, ns: the difference of two back-to-back reads, over 201 pairs. */
int64_t native_cpu_read_cost(void);
int64_t native_now(struct nrun *run);
void native_check_abort(struct nthread *t);
int64_t native_event_time(struct nthread *t);
void native_set_state(struct nthread *t, int64_t now, enum hs_tstate st, enum hs_reason why,
		      int32_t waker);
void native_enter_state(struct nthread *t, enum hs_tstate st, enum hs_reason why, int32_t waker);
void native_spin(struct nthread *t, int64_t ns);
void native_timed_sleep(struct nthread *t, int64_t ns, enum hs_reason why, bool policy_call);
void native_thread_init(struct nrun *run, struct nthread *t, int32_t id, enum hs_thread_kind kind,
			const char *name);
void native_thread_free(struct nthread *t);
void native_violation(struct nrun *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct nm *native_m_lookup(struct nrun *run, uint64_t id);
void *native_map_zeroed(size_t bytes, bool populate);
void native_rtmutex_lock(struct nthread *t, hs_rtmutex *mu, int lock_id);
void native_rtmutex_unlock(struct nthread *t, hs_rtmutex *mu, int lock_id);
int native_register_thread(struct nrun *run, struct nthread *t);
void native_wake_waiters(struct nrun *run);
void native_thread_begin(struct nthread *t);
void native_thread_finish(struct nthread *t, bool stopped);

/* native.c */
int native_create_foreign(struct nrun *run, const char *name, int32_t workload_thread,
			  int32_t replay_index);

/* native_replay.c */
int native_replay_open(struct nrun *run, struct hs_error *err);
bool native_replay_has_gc(const struct nrun *run);
int64_t native_replay_rows(const struct nrun *run);
bool native_replay_create_all(struct nrun *run, int64_t deadline);
int native_replay_next(struct nthread *t, int seq, struct hs_callback_spec *spec);
void native_replay_workload(const struct nthread *t, int seq, struct hs_workload_rec *w);
void native_replay_free(struct nrun *run);

/* native_runtime.c */
extern const struct hs_rt_ops hs_native_rt_ops;
void native_wrap_policy(struct nrun *run);
int native_gc_start(struct nrun *run, struct hs_error *err);
int native_start_thread(struct nrun *run, struct nthread *t, size_t stack_bytes,
			void *(*entry)(void *));
void *native_runtime_entry(void *arg);

#endif /* HERDSIM_NATIVE_INTERNAL_H */
