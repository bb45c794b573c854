/*
 * Scenario, OS profile and runtime profile: the resolved inputs of a run.
 *
 * All three are INI files read with inih.  A scenario names an OS profile
 * and may override any runtime parameter; `--set section.key=value` on the
 * command line overrides any scenario key.  Parsing is strict: an unknown
 * section or key, a duration without a unit, a negative duration, a value
 * out of range or a malformed number is an error that names the file, the
 * line and the key.
 *
 * Value syntax:
 *   duration  integer or decimal followed by a unit: ns, us, ms, s
 *             ("1.5us", "50us", "0ns"); no unit is an error, except "0"
 *   size      integer followed by B, KiB, MiB or GiB
 *   ratio     decimal number in [0, 1]
 *   integer   decimal, within the range each key states
 *   enum      one of the listed words
 *
 * Durations are stored in nanoseconds as int64_t.
 */
#ifndef HERDSIM_CONFIG_H
#define HERDSIM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define HS_NAME_MAX 64
#define HS_PATH_MAX 256
#define HS_MAX_STEPS 32
#define HS_MAX_PARAMS 16
#define HS_MAX_OVERRIDES 64

enum hs_yield_kind {
	HS_YIELD_LINUX = 0, /* EEVDF: no-op when alone, else the deadline
	                     * moves a slice later and the pick passes it over once */
	HS_YIELD_ULE = 1,   /* FreeBSD ULE: always switches; held behind peers */
	HS_YIELD_SLEEP = 2, /* the yield is a usleep(1) (Go's osyield on Darwin) */
	HS_YIELD_POLL = 3,  /* a zero-timeout wait: a system call, no switch */
	HS_YIELD_SWITCH = 4, /* SwitchToThread: as linux, with FIFO run queues
	                      * and no wake-up preemption */
	HS_YIELD_BOOST = 5,  /* as linux, but the least vruntime runs next
	                      * instead of EEVDF's earliest eligible deadline:
	                      * woken threads run first, standing in for the
	                      * Windows dispatcher's wake-up priority boost */
};

/* When a Linux core that runs out of threads looks for one to pull from
 * another core's queue (sched_balance_newidle). */
enum hs_newidle {
	HS_NEWIDLE_ALWAYS = 0,       /* whenever another core queues a thread
	                              * (kernels before the NI_RANDOM feature) */
	HS_NEWIDLE_PROPORTIONAL = 1, /* NI_RANDOM: with a probability equal to the
	                              * core's recent share of balances that pulled */
};

/* Whether the kernel preempts a thread that runs kernel code: a system
 * call, a page fault.  Linux's preemption model (CONFIG_PREEMPT_*, or
 * `preempt=` on the command line under PREEMPT_DYNAMIC). */
enum hs_preempt {
	HS_PREEMPT_FULL = 0,      /* at once, even in the kernel (preempt=full) */
	HS_PREEMPT_NONE = 1,      /* only on the way back to user space */
	HS_PREEMPT_VOLUNTARY = 2, /* as none in the model: its extra preemption
	                           * points (might_resched) are not in the
	                           * sections the model prices */
};

/* Most points of the switch_cold curve. */
#define HS_COLD_POINTS 8

/* A point of the switch_cold curve: a thread that `threads` other threads
 * followed on its core since it last ran there costs `ns` more to switch
 * back in (its caches and TLB entries were evicted meanwhile). */
struct hs_cold_point {
	int32_t threads;
	int64_t ns;
};

/*
 * The OS costs that may carry a spread (the [os] keys COST_spread): each
 * is charged per call, and calibration measures it per call.  The names
 * are the [os] keys of the costs.
 */
enum hs_cost {
	HS_COST_THREAD_CREATE,
	HS_COST_THREAD_EXIT,
	HS_COST_MMAP,
	HS_COST_WAKE_LOCAL,
	HS_COST_WAKE_REMOTE,
	HS_COST_WAKE_SEND_LOCAL,
	HS_COST_WAKE_SEND_REMOTE,
	HS_NCOSTS
};

extern const char *const hs_cost_names[HS_NCOSTS];

/* A cost's spread: its 10th, 90th and 99th percentiles over its median,
 * 0 < p10 <= 1 <= p90 <= p99 <= HS_SPREAD_MAX.  All zero: the cost is
 * exact, its key's value every time. */
struct hs_spread {
	double p10, p90, p99;
};

#define HS_SPREAD_MAX 100.0

/* [os] section of an OS profile. */
struct hs_os_profile {
	char name[HS_NAME_MAX];
	char file[HS_PATH_MAX];        /* where it was read from */
	int64_t slice_ns;              /* slice = time slice before preemption */
	int64_t tick_ns;               /* tick = scheduler clock tick */
	int64_t context_switch_ns;     /* context_switch */
	int64_t syscall_ns;            /* syscall = round trip of a trivial system call */
	int64_t signal_syscall_ns;     /* signal_syscall = one rt_sigprocmask or sigaltstack
	                                * call of a callback's signal set-up */
	int64_t clock_read_ns;         /* clock_read = one read of the native backend's clock,
	                                * charged where that backend reads it (0: none) */
	int64_t atomic_local_ns;       /* atomic_local = RMW on a line this core owns */
	int64_t atomic_remote_ns;      /* atomic_remote = RMW on a line another core wrote */
	int64_t load_remote_ns;        /* load_remote = load of a line another core wrote */
	enum hs_yield_kind yield_kind; /* yield = linux | ule | sleep | poll | switch | boost */
	int yield_hold_ticks;          /* yield_hold_ticks = ticks a ULE yielder waits behind peers (0..100) */
	enum hs_newidle newidle;       /* newidle = always | proportional (yield = linux only;
	                                * optional, always when absent) */
	int64_t newidle_cost_ns;       /* newidle_cost = the domain's largest recent newly idle
	                                * balance cost (max_newidle_lb_cost): a core whose
	                                * average idle time is shorter skips the balance
	                                * (yield = linux only; optional, 0 when absent) */
	enum hs_preempt preempt;       /* preempt = full | none | voluntary (yield = linux
	                                * only; optional, full when absent) */
	int64_t sleep_slack_ns;        /* sleep_slack = absolute slack added to timed sleeps */
	double sleep_slack_ratio;      /* sleep_slack_ratio = slack as a fraction of the request */
	int64_t sleep_min_ns;          /* sleep_min = shortest possible timed sleep */
	int64_t sleep_round_ns;        /* sleep_round = sleeps round up to a multiple (0: none) */
	int64_t sleep_coarse_above_ns; /* sleep_coarse_above = longer sleeps use tick rounding (0: never) */
	int64_t sleep_poll_below_ns;   /* sleep_poll_below = shorter sleeps become a zero-timeout
	                                * wait that returns at once (0: never) */
	int64_t timer_jitter_ns;       /* timer_jitter = uniform noise added to each timer expiry */
	int64_t wake_local_ns;         /* wake_local = wake-to-run when queued on a busy core */
	int64_t wake_remote_ns;        /* wake_remote = wake-to-run on an idle core (IPI, idle exit) */
	int64_t wake_send_local_ns;    /* wake_send_local = the waker's CPU time, beyond the
	                                * system call, to ready a thread on its own core */
	int64_t wake_send_remote_ns;   /* wake_send_remote = the same for a thread that goes
	                                * to another core */
	int64_t timer_wake_ns;         /* timer_wake = timer interrupt to run on an idle core */
	int64_t timer_irq_ns;          /* timer_irq = CPU time a timer interrupt takes from
	                                * the thread it interrupts, once per interrupt,
	                                * beyond the wake-ups it does */
	int64_t irq_wake_ns;           /* irq_wake = CPU time a timer interrupt spends on
	                                * each thread it wakes, wherever that thread goes */
	int64_t timer_program_ns;      /* timer_program = CPU time to reprogram a core's
	                                * timer device, paid by a thread whose timer
	                                * becomes the core's earliest expiry */
	int64_t sleep_return_ns;       /* sleep_return = CPU time a timed sleep costs the
	                                * sleeper beyond syscall and its switch-in */
	int64_t thread_create_ns;      /* thread_create = pthread_create with a 256 KiB stack */
	int64_t thread_start_ns;       /* thread_start = CPU time of a new thread before its
	                                * start routine runs */
	int64_t thread_exit_ns;        /* thread_exit */
	int64_t mmap_ns;               /* mmap = mmap plus first touch of a small mapping */
	int64_t mmap_fault_ns;         /* mmap_fault = that first touch alone, the part
	                                  under the address-space lock taken for read */
	/* switch_cold = THREADS:DURATION ... or none: the extra cost of a
	 * switch-in by how many threads ran on the core since the incoming one
	 * last did, threads strictly increasing */
	int nswitch_cold;
	struct hs_cold_point switch_cold[HS_COLD_POINTS];
	/* COST_spread = P10 P90 P99, or none when left out: the spread of
	 * each cost, indexed by enum hs_cost */
	struct hs_spread spread[HS_NCOSTS];
};

/* [runtime] section of a runtime profile, overridable in a scenario. */
struct hs_runtime_profile {
	char name[HS_NAME_MAX];
	char file[HS_PATH_MAX];
	int gomaxprocs;              /* gomaxprocs = 0 means the number of cores (0..1024) */
	int64_t allocm_ns;           /* allocm = allocm work outside sched.lock */
	int64_t sched_lock_hold_ns;  /* sched_lock_hold = allocm's critical section */
	int64_t malg_ns;             /* malg = allocating the callback goroutine */
	int64_t allgadd_ns;          /* allgadd = critical section under allglock */
	int needm_syscalls;          /* needm_syscalls = signal system calls in needm (0..100) */
	int dropm_syscalls;          /* dropm_syscalls = signal system calls in dropm (0..100) */
	int64_t exitsyscall_ns;      /* exitsyscall = fast path that takes an idle P */
	int64_t preempt_chunk_ns;    /* preempt_chunk = Go work between safe points */
	int64_t stack_frame_ns;      /* stack_frame = cost per frame of a deep recursion,
	                              * stack copying included */
	int64_t gc_stw1_ns;          /* gc_stw1 = sweep termination pause */
	int64_t gc_mark_ns;          /* gc_mark = CPU time of the concurrent mark */
	int64_t gc_stw2_ns;          /* gc_stw2 = mark termination pause */
	int64_t gc_sweep_ns;         /* gc_sweep = sweep that runtime.GC() does before it returns */
	double gc_worker_ratio;      /* gc_worker_ratio = fraction of P's the mark uses (0.25) */
	int lock_spin;               /* lock_spin = active spins of lock2 before yielding (0..100) */
	int64_t lock_spin_ns;        /* lock_spin_ns = one active spin (procyield) */
	int lock_passive_spin;       /* lock_passive_spin = yields of lock2 before parking (0..100) */
};

enum hs_arrival {
	HS_ARRIVAL_BURST = 0,    /* every thread starts at time 0 */
	HS_ARRIVAL_POISSON = 1,  /* exponential gaps with mean `interval` */
	HS_ARRIVAL_PERIODIC = 2, /* one thread every `interval` */
	HS_ARRIVAL_TRACE = 3,    /* from `trace` */
};

enum hs_think_kind {
	HS_THINK_CPU = 0,   /* C code runs on the CPU between callbacks */
	HS_THINK_SLEEP = 1, /* the thread sleeps (waits on I/O) between callbacks */
};

enum hs_step_kind {
	HS_STEP_WORK = 0, /* Go code: `arg` nanoseconds of CPU */
	HS_STEP_GC = 1,   /* runtime.GC() */
	HS_STEP_GROW = 2, /* recursion `arg` frames deep, growing the stack */
};

struct hs_step {
	enum hs_step_kind kind;
	int64_t arg;
};

enum hs_record_level {
	HS_RECORD_SUMMARY = 0,
	HS_RECORD_EVENTS = 1,
};

struct hs_scenario {
	char name[HS_NAME_MAX];           /* [scenario] name */
	char file[HS_PATH_MAX];
	char description[256];            /* [scenario] description */
	int64_t time_limit_ns;            /* [scenario] time_limit: simulated time */
	int64_t event_limit;              /* [scenario] event_limit */
	uint64_t seed;                    /* [scenario] seed */
	int reps;                         /* [scenario] reps (1..100000) */

	char os[HS_PATH_MAX];             /* [machine] os = profile name or file */
	int cores;                        /* [machine] cores (1..1024) */

	char runtime[HS_PATH_MAX];        /* [runtime] profile = go (or a file) */

	int threads;                      /* [workload] threads (1..1000000) */
	enum hs_arrival arrival;          /* [workload] arrival */
	int64_t interval_ns;              /* [workload] interval */
	int callbacks;                    /* [workload] callbacks per thread (1..1e9) */
	int64_t think_ns;                 /* [workload] think */
	enum hs_think_kind think_kind;    /* [workload] think_kind */
	int64_t thread_stack_bytes;       /* [workload] thread_stack */
	char trace[HS_PATH_MAX];          /* [workload] trace */

	struct hs_step steps[HS_MAX_STEPS]; /* [callback] steps = gc, grow:10000, work:5us */
	int nsteps;

	char policy[HS_PATH_MAX];         /* [policy] name = NAME | all | ./lib.so */
	char policy_file[HS_PATH_MAX];    /* where `policy` was set: the scenario file,
	                                   * "--set", or empty for the default */
	int policy_line;                  /* its line in policy_file; 0 for --set or the default */
	int npolicy_params;               /* [policy] any other key: a policy parameter */
	char policy_param_names[HS_MAX_PARAMS][HS_NAME_MAX];
	int64_t policy_param_values[HS_MAX_PARAMS];
	int policy_param_lines[HS_MAX_PARAMS];

	enum hs_record_level record;      /* [record] level = summary | events */
};

/* A --set override: "section.key=value", kept for error messages. */
struct hs_override {
	char section[HS_NAME_MAX];
	char key[HS_NAME_MAX];
	char value[HS_PATH_MAX];
};

/* Everything a run needs, resolved. */
struct hs_config {
	struct hs_scenario scenario;
	struct hs_os_profile os;
	struct hs_runtime_profile runtime;
};

/*
 * Loads a scenario by path, or by name from the shipped scenarios
 * ("cgocallbackgc" finds traces/scenarios/cgocallbackgc.ini), applies the
 * overrides in order, then loads the OS and runtime profiles it names
 * (`os_override`, if not NULL, replaces [machine] os) and applies the
 * [runtime] overrides of the scenario.  Returns 0 or an HS_E* code with
 * err filled.
 */
int hs_config_load(struct hs_config *cfg, const char *scenario,
		   const struct hs_override *overrides, int noverrides,
		   const char *os_override, struct hs_error *err);

/* Parses "section.key=value" into *ov. */
int hs_override_parse(struct hs_override *ov, const char *text, struct hs_error *err);

/* Where `herdsim calibrate` writes the host profile by default, relative
 * to the working directory. */
#define HS_HOST_PROFILE_DEFAULT "results/host.ini"

/* The file the profile name "host" stands for: $HERDSIM_HOST_PROFILE if
 * set and not empty, else HS_HOST_PROFILE_DEFAULT. */
const char *hs_host_profile_path(void);

/*
 * Returns the switch_cold extra in nanoseconds of a switch-in after d
 * other switch-ins on the core since the thread last ran there.  Between
 * two points it interpolates their durations linearly in log2(d).  At or
 * below the first point's thread count it returns the first duration,
 * and above the last point the last duration.  A curve of none gives 0.
 */
int64_t hs_cold_extra(const struct hs_os_profile *os, int64_t d);

/* Writes the switch_cold curve of os in profile syntax, `none` when it is
 * empty; 256 bytes hold the longest curve. */
void hs_cold_format(const struct hs_os_profile *os, char *buf, size_t size);

/*
 * Returns the factor by which a cost with spread sp is scaled at quantile
 * u in [0, 1].  It is the inverse of a distribution function that is linear
 * between the points (0, p10), (0.1, p10), (0.5, 1), (0.9, p90),
 * (0.99, p99) and (1, p99).  Its median is 1 and its mean is
 * hs_spread_mean(sp).  An exact cost (all zero) gives 1.
 */
double hs_spread_at(const struct hs_spread *sp, double u);

/* Returns the mean of hs_spread_at over u in [0, 1]. */
double hs_spread_mean(const struct hs_spread *sp);

/* Writes sp in profile syntax with 4 significant digits, as calibrate
 * writes a profile, `none` for an exact cost.  64 bytes contain the
 * longest.  run_param rows carry 15 digits instead. */
void hs_spread_format(const struct hs_spread *sp, char *buf, size_t size);

/* Loads an OS profile by name ("linux", or "host": the file of
 * hs_host_profile_path(), HS_E_NOTFOUND if it is missing) or by path. */
int hs_os_profile_load(struct hs_os_profile *os, const char *name_or_path, struct hs_error *err);
/* Loads a runtime profile by name ("go") or by path. */
int hs_runtime_profile_load(struct hs_runtime_profile *rt, const char *name_or_path,
			    struct hs_error *err);

/* Parses a duration such as "50us" into nanoseconds. Returns 0 or HS_E_INPUT
 * with err->msg saying what is wrong (the caller adds file, line and key). */
int hs_parse_duration(const char *text, int64_t *ns, struct hs_error *err);

/* Writes the resolved parameters as "section.key" = "value" pairs through
 * fn, in a fixed order, for the run_param table. */
void hs_config_each_param(const struct hs_config *cfg,
			  void (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* Lists of what is shipped, NULL-terminated. */
const char *const *hs_os_profile_names(void);
const char *const *hs_scenario_names(void);

#endif /* HERDSIM_CONFIG_H */
