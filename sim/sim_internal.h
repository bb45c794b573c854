/*
 * State of one simulation, shared by the modules of the sim backend:
 * sim.c (the run loop and the record), os.c (cores, run queues, sleeps,
 * yields, futexes), rt.c (P's, the garbage collector, runtime mutexes, M
 * allocation) and env.c (the policy primitives).
 *
 * One simulation is one `struct sim`; there is no global state, so
 * simulations can run in parallel on different OS threads.
 *
 * Execution model.  Each simulated thread is a fiber.  The engine runs on
 * the host stack, pops events in (time, seq) order and resumes fibers.  A
 * fiber runs in zero simulated time until it calls a primitive.  The
 * primitive either spends CPU time (sim_cpu: the thread keeps its core
 * while a burst elapses) or gives up its core (sim_block, sim_os_yield).
 * Both suspend the fiber: it switches to the engine, or straight to the
 * thread whose burst ends next when that is the next event (os.c,
 * suspend), which saves one switch per event.  Simulated time passes only
 * inside primitives, and every shared-memory effect happens at the instant
 * the fiber resumes.
 *
 * Thread states and the functions that move between them:
 *
 *   created --place--> runnable --dispatch, on_cpu--> running
 *   running --sim_block--> sleeping | blocked --wake, place--> runnable
 *   running --slice end with peers queued--> runnable (preempt)
 *   running --wake-up preemption (yield = linux)--> runnable (preempt)
 *   running --yield with peers--> yielding --dispatch--> running
 *   running --exit--> exited
 */
#ifndef HERDSIM_SIM_INTERNAL_H
#define HERDSIM_SIM_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "engine.h"
#include "fiber.h"
#include "lock2.h"
#include "policy.h"
#include "result.h"
#include "stats.h"
#include "workload.h"

#define SIM_MAX_CORES 64
#define SIM_MAX_LOCKS 16
#define SIM_NONE (-1)

enum sim_event_type {
	EV_BURST = 1,   /* a thread's CPU burst ended: resume it */
	EV_TIMER,       /* core `target`'s timer interrupt: expire its timers */
	EV_ONCPU,       /* a dispatched thread reaches its core */
	EV_SLICE,       /* a core's time slice ended */
	EV_BALANCE,     /* idle core `target`'s tick: periodic idle balance */
	EV_LOAD_BALANCE, /* busy core `target`'s tick due for its periodic
	                  * load balance (yield = linux) */
	/* foreign threads of a scenario are created by the main thread (sim.c) */
	EV_TRACE_START, /* replay: the thread of trace entry `target` is created */
	EV_TRACE_ROW,   /* replay: the row read ahead reaches its thread */
};

enum sim_thread_role {
	ROLE_MAIN,      /* runs policy->init */
	ROLE_FOREIGN,   /* a C thread calling into Go */
	ROLE_GC,        /* runs garbage-collection cycles */
	ROLE_MARK,      /* a mark worker */
	ROLE_POLICY,    /* a policy's own runtime thread (spawn) */
};

struct sim;

struct sim_thread {
	hs_env env;             /* must stay first: env pointers are threads */
	struct sim *sim;
	int32_t id;
	enum sim_thread_role role;
	char name[24];
	struct hs_fiber fiber;
	bool started, exited;

	/* OS state. */
	enum hs_tstate state;
	enum hs_reason reason;
	int32_t waker;          /* who ended the last wait, for the record */
	int64_t state_since;
	int core;               /* current core, or the last one */
	int ran_core;           /* core of its last stint, -1 none */
	int64_t ran_stamp;      /* that core's nswitch when it ran there */
	int64_t pending_ns;     /* CPU left before the fiber resumes */
	int64_t left_ns;        /* when it last left a core; -1 never ran */
	int recent_core;        /* prev core at its last wake-up placement (recent_used_cpu) */
	int fork_parent;        /* core of the thread that created it, for its first
	                         * placement; SIM_NONE when no thread did */
	int64_t cpu_ns;         /* CPU time on cores up to its last burst's end, switch-ins included */
	int64_t burst_end;
	uint32_t gen;           /* bumps cancel pending EV_BURST/EV_TIMER */
	int64_t not_before;     /* ULE: queued yielder held until then */
	struct sim_thread *rq_next; /* run-queue link */
	bool woken_by_wake;     /* dispatched after a wake-up (latency) */
	bool timer_woke_idle;   /* the last wake-up was a timer's on its own idle
	                         * core, whose timer_wake includes the return */
	/* Fair share (yield = linux): CPU time the scheduler has charged, on
	 * the scale of the core's min_vruntime; the lag kept across a sleep;
	 * when the current stint on a core began (-1: not on a core). */
	int64_t vruntime, vlag, exec_start;
	bool yielded;           /* picked as if its deadline were a slice later */
	bool delayed;           /* asleep but still queued on its core (DELAY_DEQUEUE) */
	bool on_rq;             /* in a core's queue, delayed or not */
	/* Per-thread PELT (yield = linux), in CPUs from 0 to 1.  util and
	 * runnable are the decayed shares of time running and runnable
	 * (util_avg, runnable_avg) as of pelt_at, and pelt_run and
	 * pelt_runnable the state since then.  load_core is the core whose
	 * load counts the thread.  util_est is its estimate (UTIL_EST), which
	 * core est_core counts while it is runnable (SIM_NONE: no core).
	 * est_fresh is true while no PELT period has ended since util_est was
	 * last written (UTIL_AVG_UNCHANGED). */
	double util, runnable, util_est;
	int64_t pelt_at;
	bool pelt_run, pelt_runnable, est_fresh;
	int est_core, load_core;
	/* Wake-up preemption (yield = linux): the virtual deadline, vruntime
	 * + slice when placed or when its vruntime passes it; the vruntime up
	 * to which the current stint is protected (RUN_TO_PARITY); a woken
	 * thread that preempts t at t's next CPU burst, t being the waker. */
	int64_t deadline, vprot;
	struct sim_thread *resched_to;
	/* Depth of kernel sections t is in (system calls, faults).  Under
	 * preempt = none or voluntary a preemption of t waits in resched_to
	 * until t's first CPU burst outside them, its return to user space. */
	int in_kernel;

	/* Waiting. */
	hs_word *futex;         /* address waited on */
	struct sim_thread *wait_next;
	bool mm_reader;         /* queued on the address-space lock to read */
	bool mm_queued;         /* in the address-space lock's queue */
	bool mm_woken;          /* a queued writer woken to try the lock again */
	int wait_result;        /* 0 woken, 1 timed out */
	int64_t wake_time;      /* when the last wake-up was issued */
	int64_t wake_rec;       /* index in result.wakes, or -1 */
	bool policy_wait;       /* the current wait counts for wasted wake-ups */
	bool unproductive;      /* woke from a policy wait, no progress since */

	/* Runtime. */
	bool holds_p;
	uint64_t gc_target;     /* runtime.GC() waits until marked >= this */
	void *slot;             /* policy's per-thread slot */
	struct sim_thread *rt_next; /* P-wait or GC-wait list link */

	/* Record. */
	int64_t last_state_rec; /* index in result.states, or -1 */
	int64_t lock_begin_ns[SIM_MAX_LOCKS];

	/* Counters. */
	struct hs_thread_counters counters;
	int64_t futex_waits, futex_wakes;
	int64_t preempted;      /* times it lost its core to a preemption */

	/* Role-specific. */
	void (*fn)(hs_env *env, void *arg);
	void *fn_arg;
	int64_t arrival_ns;
	int32_t workload_thread; /* foreign: thread id in the trace, or the
	                          * foreign index in a scenario run */
	int32_t replay_index;    /* foreign, replay: entry in the trace table */
};

struct sim_core {
	struct sim_thread *current;   /* running or about to run; NULL idle */
	struct sim_thread *last;      /* last thread that ran here */
	struct sim_thread *rq_head, *rq_tail;
	int rq_len;                   /* queued threads, delayed ones included */
	int rq_delayed;               /* of which asleep (DELAY_DEQUEUE) */
	int64_t rq_vsum;              /* sum of the queued threads' vruntimes */
	/* The minimum vruntime of the queued threads, valid while rq_vmin_ok
	 * is true.  Removing that thread or changing its vruntime clears
	 * rq_vmin_ok, so sim_update_min walks the queue again.  A zeroed
	 * core starts with rq_vmin_ok false. */
	int64_t rq_vmin;
	bool rq_vmin_ok;
	int64_t slice_end;
	uint32_t gen;                 /* bumps cancel EV_ONCPU/EV_SLICE */
	bool on_cpu;                  /* current has reached the core */
	int64_t oncpu_at;             /* when current reaches the core (EV_ONCPU) */
	int64_t min_vruntime;         /* fair share: never decreases */
	int64_t busy_from;            /* when current's CPU time began; -1 idle */
	int64_t nswitch;              /* threads switched in here so far */
	/* Linux only.  util is the decayed share of time with a thread (PELT
	 * util_avg, 0 to 1) as of util_at, and util_busy the state since
	 * then.  balance_failed counts failed idle balances in a row, and
	 * balance_armed tells whether an EV_BALANCE is pending. */
	double util;
	int64_t util_at;
	bool util_busy;
	int balance_failed;
	bool balance_armed;
	/* Linux only.  util_est_sum is the util_est of the runnable threads
	 * here, running one included.  load is the decayed count of threads
	 * queued here, running or delayed ones included (cfs_rq load_avg over
	 * a nice-0 weight) as of load_at, and load_n that count since. */
	double util_est_sum;
	double load;
	int64_t load_at;
	int load_n;
	/* Linux only.  The core's periodic load balance in its domain: the
	 * time of the last one (INT64_MIN before any), the domain's
	 * balance_interval in ns (before the busy factor), and whether an
	 * EV_LOAD_BALANCE is pending. */
	int64_t lb_last;
	int64_t lb_interval;
	bool lb_armed;
	/* newidle = proportional: the core's counts of newly idle balances,
	 * Linux's newidle_call, newidle_success and newidle_ratio of its
	 * sched_domain (see newidle_stats in os.c). */
	unsigned ni_call, ni_success, ni_ratio;
	/* Linux only.  The core's average idle time in ns (rq->avg_idle), and
	 * when its idle time began (rq->idle_stamp, -1 for none).  idle_sample
	 * in os.c updates both. */
	int64_t avg_idle, idle_stamp;
	/* Timers armed here: a min-heap on (hard, soft, thread); the time
	 * the interrupt is programmed for (INT64_MAX none) and its gen. */
	struct sim_timer *timers;
	int ntimers, cap_timers;
	int64_t timer_at;
	uint32_t timer_gen;
};

/* A timer armed on a core by a sleep or timed wait, which may expire from
 * `soft` on and must by `hard`.  `gen` is the thread's gen when armed, so
 * a wake-up that bumped it has cancelled the timer. */
struct sim_timer {
	int64_t hard, soft;
	int32_t thread;
	uint32_t gen;
};

struct sim_lock {
	const char *name;
	struct hs_lock_stat stat;
	int64_t acquired_at;
	int last_core;
};

/* A queue of threads waiting on one futex address. */
struct sim_futex_q {
	hs_word *addr;
	struct sim_thread *head, *tail;
};

struct sim_gc {
	uint64_t cycle;          /* number of the latest cycle started */
	uint64_t marked;         /* latest cycle whose mark termination ended */
	int phase;               /* 0 idle, 1 sweep termination, 2 mark, 3 mark termination */
	bool stw_pending;        /* the world is stopping or stopped */
	int workers_running;
	struct sim_thread *thread;
	struct sim_thread *waiters; /* runtime.GC() callers, unordered list */
	int nworkers;
	struct sim_thread **workers;
	int64_t cycles_done;
	int64_t stw_ns;          /* total time the world was stopped */
	int64_t stw_begin;
};

struct sim_replay;

/*
 * The process's address-space lock (Linux mm->mmap_lock, a read-write
 * semaphore).  One writer, or any number of readers; the queue is FIFO.
 */
struct sim_mm_lock {
	struct sim_thread *writer;            /* the holding writer, or NULL */
	int readers;                          /* readers holding it */
	struct sim_thread *head, *tail;       /* sleeping waiters, via wait_next */
	bool nonspinnable;                    /* set when a writer's spin on readers
					       * times out, cleared when a writer takes it */
};

/* Whether a writer's attempt on the address-space lock may spin. */
enum sim_mm_spin {
	SIM_MM_MAY_SPIN,
	SIM_MM_SPIN_EXPIRED, /* its spin on readers reached the limit: mark the lock */
	SIM_MM_NO_SPIN,      /* it was preempted or must give up its core */
};

/* The outcome of an attempt on the address-space lock. */
enum sim_mm_take {
	SIM_MM_TAKEN,    /* the caller holds it */
	SIM_MM_SPIN,     /* a running writer holds it: spin and try again */
	SIM_MM_SPIN_READERS, /* readers hold it: spin up to sim_mm_reader_spin_ns */
	SIM_MM_QUEUED,   /* queued: sleep until a release grants it */
};

struct sim {
	const struct hs_run_request *req;
	const struct hs_config *cfg;
	const struct hs_os_profile *os;
	const struct hs_runtime_profile *rt;
	const struct hs_policy *policy;
	void *policy_state;
	struct hs_driver driver;
	struct hs_run_result *out;
	bool events;             /* record per-event tables */

	int64_t now;
	uint64_t nevents;
	struct hs_evq q;
	struct hs_fiber host;
	struct sim_thread *running; /* fiber being executed, or NULL */
	struct sim_thread *exited;  /* thread whose fiber just ended, or NULL */
	struct hs_rng rng_workload, rng_os, rng_policy, rng_noise, rng_cost, rng_sched;
	/* Linux's root-domain overload flag (rd->overloaded): set when a
	 * core gets a second thread, recomputed by every balance.  Read only
	 * under newidle = proportional. */
	bool overloaded;
	/* Linux's limit on the search for an idle core (nr_idle_scan of the
	 * shared cache domain), as the last periodic balance wrote it. */
	int nr_idle_scan;

	struct sim_thread **threads;
	int nthreads, cap_threads;
	int foreign_total, foreign_created, foreign_exited, foreign_peak;
	int64_t first_arrival, last_exit;
	bool init_done;

	int ncores;
	struct sim_core cores[SIM_MAX_CORES];

	/* Futex wait queues: open addressing on the word's address. */
	struct sim_futex_q *fq;
	/* Scratch for the timers one interrupt expires. */
	struct sim_timer *expired;
	int cap_expired;
	int fq_cap, fq_len;

	/* Runtime model. */
	int nprocs;
	int pidle;
	struct sim_thread *pwait_head, *pwait_tail; /* exitsyscall waiters */
	struct sim_gc gc;
	hs_rtmutex sched_lock, allg_lock;
	struct sim_mm_lock mm_lock;

	/* Locks for lock_stat, registered by the runtime and the policy. */
	struct sim_lock locks[SIM_MAX_LOCKS];
	int nlocks;

	/* M's. */
	hs_m **ms;
	int32_t *m_holder;       /* thread holding each M in a callback, or -1 */
	int nms, cap_ms;
	int m_freed;

	/* Totals. */
	struct hs_hist latency;
	int64_t callbacks_done;
	int64_t wasted, preemptions, switches;
	int64_t migrations; /* starts on a core other than the thread's last */
	int64_t cpu_ns;          /* CPU time of all threads, ns (busy cores) */
	int64_t phase_cpu[HS_NPHASES]; /* callbacks' CPU time by phase, when requested */

	/* Replay of a trace (replay.c); NULL for a scenario workload. */
	struct sim_replay *replay;
	int64_t replay_rows;     /* rows in the trace: the callbacks expected */

	/* Set when the run must stop (limit, deadlock, invariant). */
	enum hs_status status;
	bool stop;
};

/* sim.c */
struct sim_thread *sim_thread_new(struct sim *s, enum sim_thread_role role, const char *name,
				  void (*fn)(hs_env *env, void *arg), void *arg);
void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_set_state(struct sim *s, struct sim_thread *t, enum hs_tstate st, enum hs_reason r,
		   int32_t waker);
void sim_schedule(struct sim *s, int64_t time, uint16_t type, uint32_t target, uint32_t gen);
/* Resumes t's fiber from the engine; returns when t switches back. */
void sim_resume(struct sim *s, struct sim_thread *t);

/* os.c */
void sim_cpu(struct sim *s, struct sim_thread *t, int64_t ns);
/* sim_kernel_enter and sim_kernel_exit bracket a kernel section of t, and
 * sections nest.  Every CPU burst inside one is kernel code, which
 * preempt = none or voluntary does not preempt. */
static inline void sim_kernel_enter(struct sim_thread *t)
{
	t->in_kernel++;
}

static inline void sim_kernel_exit(struct sim_thread *t)
{
	assert(t->in_kernel > 0);
	t->in_kernel--;
}

void sim_block(struct sim *s, struct sim_thread *t, enum hs_tstate st, enum hs_reason r);
void sim_wake(struct sim *s, struct sim_thread *t, int32_t waker);
/*
 * CPU time that waker spends readying t, which sim_wake has just placed,
 * on top of a system call: wake_send_local when t went to waker's core,
 * else wake_send_remote.  The caller charges it with sim_cpu once its
 * wake-ups are done.
 */
int64_t sim_wake_send(struct sim *s, const struct sim_thread *waker,
		      const struct sim_thread *t);
/*
 * Returns one call's cost of OS cost k whose profile value is ns: ns
 * scaled by hs_spread_at(spread of k, u), u drawn from the HS_STREAM_COST
 * stream, rounded to the nearest ns.  An exact cost or an ns of 0 returns
 * ns without a draw.
 */
int64_t sim_cost(struct sim *s, enum hs_cost k, int64_t ns);
/*
 * Charges waker the ns of its wake-ups before a preemption one of them
 * requested takes effect: Linux does that work inside the wake call and
 * preempts on the way out of it.
 */
void sim_cpu_waker(struct sim *s, struct sim_thread *waker, int64_t ns);
void sim_place(struct sim *s, struct sim_thread *t, bool from_wake, bool from_timer);
/*
 * Frees t's core and hands it on; t must be running.  Under yield = linux
 * a thread that goes to sleep (`sleep`) while not eligible stays queued as
 * delayed (DELAY_DEQUEUE, Linux 6.12 and later).  It keeps counting in its
 * core's average vruntime and is never stolen.  It leaves the queue when a
 * pick chooses it, with its lag then clipped to 0 when positive, or when it
 * is woken, on the same core with no search for an idle one.
 */
void sim_leave_core(struct sim *s, struct sim_thread *t, bool sleep);
struct sim_thread *sim_rq_pick(struct sim *s, int c);
/* Raises core c's min_vruntime to the least vruntime of its current and
 * queued threads; it never decreases. */
void sim_update_min(struct sim *s, int c);
/* Under yield = linux, with no runnable thread queued on core c: drops
 * the delayed sleepers a pick would choose over the current thread t. */
void sim_drop_delayed_picks(struct sim *s, int c, struct sim_thread *t);
void sim_dispatch(struct sim *s, int core);
void sim_on_cpu(struct sim *s, int core, uint32_t gen);
void sim_slice_end(struct sim *s, int core, uint32_t gen);
/* EV_BALANCE: an idle core's periodic balance (yield = linux). */
void sim_idle_balance(struct sim *s, int c);
/* The balance interval of a Linux domain of n CPUs after a periodic
 * balance that found an imbalance (sd_init's min_interval, n ms).  It
 * doubles up to 2n ms (max_interval) after each that found none. */
#define LINUX_LB_MIN_INTERVAL(n) ((int64_t)(n) * 1000000)
/* The cap of a core's average idle time in ns, and its value at the start
 * of a run: twice the larger of Linux's migration cost (500 us) and the
 * profile's newidle_cost (max_idle_balance_cost). */
int64_t sim_avg_idle_cap(const struct sim *s);
/* EV_LOAD_BALANCE: a busy core's periodic load balance (yield = linux). */
void sim_load_balance(struct sim *s, int c);
/*
 * Returns how many other cores a Linux wake-up may search for an idle one
 * (SIS_UTIL in select_idle_cpu), from the cores' average utilization
 * `util` (0 to 1).  It is ncores * (1 - (1.17 util)^2) rounded down.  So
 * it is 0 from 85 % up (imbalance_pct 117), and on 2 cores above 60 %.
 */
int sim_idle_scan_depth(double util, int ncores);

/* A thread's utilization estimate after an activation, as util_est_update
 * (kernel/sched/fair.c) computes it from the estimate est and the
 * thread's PELT util and runnable shares at its dequeue, all 0 to 1 of a
 * CPU.  The estimate rises to util at once.  It stays when within 1 % of
 * a CPU (UTIL_EST_MARGIN) above util, or when runnable exceeds util by
 * more than that margin, because the thread then waited for a CPU and
 * util understates its need.  Otherwise it moves a quarter of the way
 * down to util. */
double sim_util_est(double est, double util, double runnable);

#ifdef HS_CHECK_RUNQUEUE
/* Asserts that every core's util_est_sum is the estimates of the threads
 * running or runnable there and its load_n their count, delayed ones
 * included.  Holds between events. */
void sim_check_pelt(const struct sim *s);
#endif
void sim_burst_end(struct sim *s, struct sim_thread *t, uint32_t gen);
void sim_timer_irq(struct sim *s, int c, uint32_t gen);
void sim_os_yield(struct sim *s, struct sim_thread *t);
void sim_os_sleep(struct sim *s, struct sim_thread *t, int64_t ns, enum hs_reason r);
int sim_futex_wait(struct sim *s, struct sim_thread *t, hs_word *w, uint64_t expected,
		   int64_t timeout_ns, enum hs_reason r);
int sim_futex_wake(struct sim *s, struct sim_thread *t, hs_word *w, int n);
void sim_thread_exit(struct sim *s, struct sim_thread *t);
int64_t sim_mem_cost(struct sim *s, struct sim_thread *t, hs_word *w, bool write);

/* rt.c */
void sim_rt_init(struct sim *s);
void sim_p_acquire(struct sim *s, struct sim_thread *t, bool priority);
void sim_p_release(struct sim *s, struct sim_thread *t);
void sim_go_work(struct sim *s, struct sim_thread *t, int64_t ns);
void sim_gc_call(struct sim *s, struct sim_thread *t);
hs_m *sim_new_m(struct sim *s, struct sim_thread *t, const char *reason);

/* The address-space lock (mmap_lock.c). */
void sim_mmap_call(struct sim *s, struct sim_thread *t, int64_t ns);
void sim_mmap_fault(struct sim *s, struct sim_thread *t, int64_t ns);
void sim_map_stack(struct sim *s, struct sim_thread *t);
void sim_create_stack(struct sim *s, struct sim_thread *t, int64_t total);
enum sim_mm_take sim_mm_try_write(struct sim_mm_lock *l, struct sim_thread *t, enum sim_mm_spin spin);
int64_t sim_mm_reader_spin_ns(const struct sim_mm_lock *l);
enum sim_mm_take sim_mm_try_read(struct sim_mm_lock *l, struct sim_thread *t);
struct sim_thread *sim_mm_release(struct sim_mm_lock *l, struct sim_thread *t);
int sim_lock_register(struct sim *s, const char *name);

/*
 * Returns the CPU time of a spin of ns as the native backend spins.  That
 * spin reads its clock once to start, then again until the time between
 * reads adds up to ns.  Reads are clock_read apart, so ns rounds up to
 * whole reads, plus the first.  With clock_read 0 the result is ns.  It is
 * inline because it runs on every CPU burst of Go work.
 */
static inline int64_t sim_spin_ns(const struct sim *s, int64_t ns)
{
	int64_t c = s->os->clock_read_ns;

	if (c <= 0)
		return ns;
	if (ns <= 0)
		return c;
	return c + (ns + c - 1) / c * c;
}

/* Charges t one read of the native backend's clock, unless clock_read
 * is 0. */
static inline void sim_clock_read(struct sim *s, struct sim_thread *t)
{
	if (s->os->clock_read_ns > 0)
		sim_cpu(s, t, s->os->clock_read_ns);
}

void sim_lock_begin(struct sim *s, struct sim_thread *t, int id);
void sim_lock_acquired(struct sim *s, struct sim_thread *t, int id, bool contended);
void sim_lock_released(struct sim *s, struct sim_thread *t, int id);

/* replay.c */
/* Checks the trace, counts its threads (sets foreign_total) and opens it
 * for the run. */
int sim_replay_open(struct sim *s, struct hs_error *err);
/* Reads the first row once init has returned. */
void sim_replay_start(struct sim *s);
void sim_replay_create(struct sim *s, uint32_t index);
void sim_replay_deliver(struct sim *s);
/* next_callback of a replayed thread; may block until its row arrives. */
int sim_replay_next(struct sim *s, struct sim_thread *t, struct hs_callback_spec *spec);
/* Fills the trace columns of t's current callback. */
void sim_replay_workload(struct sim *s, struct sim_thread *t, struct hs_workload_rec *w);
void sim_replay_free(struct sim *s);

/* env.c */
extern const struct hs_env_ops sim_env_ops;
extern const struct hs_rt_ops sim_rt_ops;


static inline struct sim_thread *sim_thread_of(hs_env *env)
{
	return (struct sim_thread *)env;
}

#endif /* HERDSIM_SIM_INTERNAL_H */
