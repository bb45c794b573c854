/*
 * Calibration: measures the costs of this machine's kernel and hardware
 * that the OS model needs, and writes them as a `host` OS profile.
 *
 * hs_calibrate() takes a fixed list of figures (named below).  Each figure
 * is a series of samples in nanoseconds summarized as percentiles; the
 * profile keys are derived from the medians as docs/calibration.md
 * describes.  The measurement is Linux-only (futexes, CPU affinity, timer
 * slack).
 *
 * Invariants:
 *   - the calling thread's CPU affinity and timer slack are the same on
 *     return as on entry, on success and on every error path;
 *   - every thread the calibration starts is joined before it returns;
 *   - a figure with samples == 0 was not measured (a cross-core figure
 *     when the caller may run on only one CPU, the irq_wake figures
 *     without permission for SCHED_FIFO) or had every sample rejected;
 *     otherwise p10 <= p50 <= p90 <= p99;
 *   - hs_calibrate_write_profile() never leaves a partial file at the path:
 *     it writes PATH.tmp and renames it, and removes PATH.tmp on failure.
 *
 * Figure names, in the order they are measured:
 *   clock_read          one read of the native backend's clock (the time
 *                       stamp counter scaled to ns where the kernel keeps
 *                       time with it, else CLOCK_MONOTONIC), mean of 100
 *   syscall             one syscall(SYS_getppid), mean of 100
 *   cas_local           one uncontended compare-and-swap, mean of 1000
 *   mmap_8k, mmap_32k   mmap, write to every page, munmap
 *   thread_first_run    pthread_create called -> first line of the thread
 *   thread_create_join  pthread_create called -> pthread_join returned
 *   thread_exit         last line of the thread -> pthread_join returned
 *   thread_create_burst one pthread_create call with a fresh 256 KiB stack,
 *                       100 threads alive at once
 *   thread_start        CPU time of each thread of thread_create_burst at
 *                       the first line of its start routine
 *   signal_syscall      one rt_sigprocmask or sigaltstack call of the
 *                       needm/dropm sequence, mean of 800
 *   usleep_1us          usleep(1), whole call
 *   nanosleep_1us       nanosleep(1 us), whole call
 *   nanosleep_100us     nanosleep(100 us) under the caller's timer slack
 *   nanosleep_100us_noslack  nanosleep(100 us) with the slack set to 1 ns,
 *                       sampled alternately with nanosleep_100us
 *   nanosleep_1ms       nanosleep(1 ms) under the caller's timer slack
 *   nanosleep_1ms_noslack    the same with the slack set to 1 ns, sampled
 *                       alternately with nanosleep_1ms
 *   yield_alone         sched_yield with no peer on its CPU, mean of 100
 *   yield_peer          sched_yield that switched to a peer on the same CPU
 *                       and back (a round trip of two switches)
 *   futex_wake_local    FUTEX_WAKE -> the woken thread runs, same CPU
 *   futex_wake_remote   FUTEX_WAKE -> the woken thread runs, idle other CPU
 *   cas_handoff         one-way handoff of a line by compare-and-swap
 *                       between two CPUs, mean of 400
 *   load_local          dependent load of a line this CPU holds, mean of 256
 *   load_remote         dependent load of a line the other CPU just wrote,
 *                       mean of 256
 *   sleep_cycle         CPU time of one usleep(1) cycle (system call, the
 *                       interrupt's part billed to the woken thread, switch
 *                       to it) of HS_CALIB_SLEEP_POLLERS threads looping on
 *                       usleep(1) on a CPU that a SCHED_IDLE thread keeps
 *                       busy: their CPU time in a 5 ms window / cycles
 *   sleep_occupancy     in the same windows, the wall time less the time
 *                       the SCHED_IDLE thread's own loop ran, / cycles:
 *                       what a cycle takes from the other threads of its
 *                       CPU, interrupts and switches included
 *   futex_ring_K        one hop of a futex token passed around a ring of K
 *                       SCHED_BATCH threads pinned to one CPU (a wake, a
 *                       wait and a switch to a thread that last ran K - 1
 *                       switch-ins ago), for K = 2, 3, 4, 8, 32, 128, 256,
 *                       512: wall time of a 1 ms window / hops
 *   timer_irq_gap       the longest gap in a clock loop on a CPU across the
 *                       expiry of a timer that wakes no thread
 *   timer_arm_first     timerfd_settime of a timer that becomes the CPU's
 *                       earliest (the timer device is reprogrammed)
 *   timer_arm_later     timerfd_settime of a timer behind an earlier one
 *   irq_wake_16, irq_wake_64  the longest gap in a SCHED_FIFO clock loop
 *                       across one timer interrupt that wakes 16 (64)
 *                       SCHED_OTHER sleepers on the same CPU
 *   newidle_cost        the shortest idle period of CPU B at which its newly
 *                       idle balance pulls threads from a busy CPU A, to
 *                       1/32, one sample per bisection (calibrate_newidle.c)
 */
#ifndef HERDSIM_CALIBRATE_H
#define HERDSIM_CALIBRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define HS_CALIB_MAX_FIGURES 48
#define HS_CALIB_NOTE_MAX 256
#define HS_CALIB_NKEYS 44     /* keys of the [os] section */
#define HS_CALIB_KEY_NOTE_MAX 2048
#define HS_CALIB_SLEEP_POLLERS 32 /* threads looping on usleep(1) for sleep_cycle */
#define HS_CALIB_TIMER_GAP_MAX_US 100 /* a longer timer_irq_gap is the host's */
#define HS_CALIB_IRQ_WAKE_MIN 16  /* sleepers one interrupt wakes in irq_wake_16 */
#define HS_CALIB_IRQ_WAKE_MAX 64  /* and in irq_wake_64 */
#define HS_CALIB_NRINGS 8     /* futex_ring_K figures */
#define HS_CALIB_RING_MIN_WAITS 0.95 /* fewer futex waits per hop are warned of */

/* The K of each futex_ring_K figure, in the order they are measured:
 * 2, 3, 4, 8, 32, 128, 256, 512. */
extern const int hs_calib_ring_threads[HS_CALIB_NRINGS];

/* Percentiles of one measured figure, in nanoseconds (nearest rank). */
struct hs_calib_figure {
	const char *name; /* one of the names above; static storage */
	int64_t p10, p50, p90, p99;
	int samples;      /* 0: not measured */
};

struct hs_calib_opts {
	/* Multiplies every sample count; 1.0 takes about 10 s on an idle
	 * 2-CPU machine.  Valid range (0, 100]; 0 means 1.0.  Every figure
	 * takes at least 10 samples whatever the scale. */
	double scale;
	/* Called after every 2 % of a figure's samples and once when it ends
	 * (then done == total).  done and total count samples of that figure;
	 * total may shrink at the end when the figure's time cap stopped it
	 * early.  May be NULL. */
	void (*progress)(void *ctx, const char *figure, int done, int total);
	void *ctx;
	/* Number of measurement passes, 1 to HS_CALIB_MAX_PASSES.  0 means
	 * HS_CALIB_PASSES at scale 1 and above, and floor(scale *
	 * HS_CALIB_PASSES), at least 1, below it.  Each pass measures every
	 * figure with scale / passes of the samples.  Each percentile of a
	 * figure is the median of that percentile over the passes, so a few
	 * seconds of a slower host move one pass and not the profile.  With
	 * more than one pass, the progress callback's figure names end in
	 * " (pass P of N)", in a buffer that is valid only during the call. */
	int passes;
	/* Called after each pass with its number (1 to passes) and the number
	 * of passes, so that a caller can run its own measurements between the
	 * passes and the profile samples the same stretch of time as they do.
	 * A non-zero return ends the calibration with that value, a negative
	 * HS_E_* code after the callback has set err.  May be NULL. */
	int (*after_pass)(void *ctx, int pass, int passes, struct hs_error *err);
	void *pass_ctx;
};

#define HS_CALIB_PASSES 3
#define HS_CALIB_MAX_PASSES 9

/* Everything hs_calibrate() found: the figures, facts read from the
 * system, and the profile derived from both. */
struct hs_calib_report {
	struct hs_calib_figure figures[HS_CALIB_MAX_FIGURES];
	int nfigures;

	char sysname[65];        /* uname: "Linux" */
	char release[65];        /* uname: "6.8.0-45-generic" */
	char machine[65];        /* uname: "x86_64" */
	int ncpus;               /* CPUs in the caller's affinity mask */
	int passes;              /* measurement passes merged into figures[] */
	int cpu_a, cpu_b;        /* the CPUs used by pinned figures; cpu_b is -1
	                          * when ncpus == 1 */
	int64_t timer_slack_ns;  /* PR_GET_TIMERSLACK of the caller */
	int64_t clock_res_ns;    /* clock_getres(CLOCK_MONOTONIC) */

	int64_t tick_ns;                     /* scheduler clock tick */
	char tick_source[HS_CALIB_NOTE_MAX];  /* how tick_ns was found */
	int64_t slice_ns;                    /* base time slice */
	char slice_source[HS_CALIB_NOTE_MAX]; /* how slice_ns was found */
	enum hs_preempt preempt;             /* the kernel's preemption model */
	char preempt_source[HS_CALIB_NOTE_MAX]; /* how preempt was found */

	/* Samples thrown away because they did not measure the figure: a
	 * yield that found no peer to run, a futex wait that returned before
	 * it blocked, a sleep interrupted by a signal, a sleep_cycle window in
	 * which no poller completed a cycle, a futex_ring_K window in which
	 * the token made no hop. */
	int yield_peer_rejected;
	int futex_local_rejected;
	int futex_remote_rejected;
	int send_local_rejected;  /* no thread woken, or the woken one ran between the reads */
	int send_remote_rejected; /* no thread woken */
	int sleep_rejected;
	int sleep_cycle_rejected;
	int ring_rejected;
	/* Over the futex_ring_K windows with a hop, by ring (the order of
	 * hs_calib_ring_threads): the hops and the futex waits entered.  A
	 * waker preempted before its wait finds its token set and skips it. */
	int64_t ring_hops[HS_CALIB_NRINGS];
	int64_t ring_waits[HS_CALIB_NRINGS];
	/* Ring threads that could not switch themselves to SCHED_BATCH, so
	 * their wake-ups may preempt, and the errno of the last failure. */
	int ring_not_batch;
	int ring_batch_errno;
	int timer_irq_rejected;  /* timer_irq_gap rounds without samples */
	/* irq_wake_K rounds without a sample: a sleeper had not started its
	 * sleep, or the caller was not yet reading the clock, when the window
	 * before T opened. */
	int irq_wake_rejected;
	/* The caller may not switch to SCHED_FIFO, so the irq_wake figures
	 * were skipped. */
	bool irq_wake_no_fifo;

	/* Totals over the accepted sleep_cycle windows: wall time, the
	 * pollers' CPU time (the process's less the caller's) and their
	 * cycles.  Idle time, other threads and steal on CPU A make the CPU
	 * time smaller than the wall time. */
	int64_t sleep_cycle_wall_ns;
	int64_t sleep_cycle_cpu_ns;
	int64_t sleep_cycle_cycles;
	/* CPU A's local timer interrupts over those windows, from
	 * /proc/interrupts; -1 when it could not be read. */
	int64_t sleep_cycle_irqs;
	/* Whether a SCHED_IDLE thread kept CPU A busy during the windows
	 * (false when SCHED_IDLE was not permitted), and its CPU time over
	 * the accepted windows. */
	bool sleep_cycle_busy;
	int64_t sleep_cycle_busy_cpu_ns;
	/* Involuntary switches of that thread over the windows, which are its
	 * switches back after the pollers, read from /proc.  The value is -1
	 * when they could not be read or no such thread ran. */
	int64_t sleep_cycle_spin_switches;

	/* Derived by hs_calib_derive(): the profile, and for each key of
	 * hs_calib_keys[] (same index) the comment written above it, lines
	 * separated by '\n'. */
	struct hs_os_profile profile;
	char notes[HS_CALIB_NKEYS][HS_CALIB_KEY_NOTE_MAX];
};

/* The keys of the [os] section in the order they are written. */
extern const char *const hs_calib_keys[HS_CALIB_NKEYS];

/*
 * Measures every figure, reads the host facts and fills out->profile
 * through hs_calib_derive().  o may be NULL (scale 1.0, no progress).
 * Returns 0, HS_E_USAGE for a scale or a number of passes out of range,
 * HS_E_NOMEM when a pass's report cannot be allocated, or HS_E_IO when a
 * system call that the measurement needs failed (thread creation, CPU
 * affinity, mmap).  err then names the call and the errno text.
 */
int hs_calibrate(const struct hs_calib_opts *o, struct hs_calib_report *out,
		 struct hs_error *err);

/*
 * Derives r->profile from r's figures and host facts.  Pure: reads no
 * clock and no file, so a report filled by hand gives the same profile
 * every time.  Figures missing from r (samples == 0 or absent) fall back
 * as docs/calibration.md lists.
 */
void hs_calib_derive(struct hs_calib_report *r);

/*
 * Writes r->profile to path as an INI file with one [os] section, every
 * key preceded by '#' comment lines saying how its value was measured or
 * where it came from.  Writes PATH.tmp, flushes it to disk and renames it
 * over path.  Returns 0 or HS_E_IO with err naming the path; on failure
 * path is left as it was and PATH.tmp is removed.
 */
int hs_calibrate_write_profile(const struct hs_calib_report *r, const char *path,
			       struct hs_error *err);

/* Returns the figure called name in r, or NULL. */
const struct hs_calib_figure *hs_calib_find(const struct hs_calib_report *r, const char *name);

/*
 * Sorts samples[0..n) in place and fills fig's percentiles with the
 * nearest-rank method: pXX is the smallest sample such that at least XX %
 * of the samples are <= it.  n == 0 gives all zeros.  Does not touch
 * fig->name.
 */
void hs_calib_summarize(int64_t *samples, int n, struct hs_calib_figure *fig);

/*
 * Linux's preemption model from the text of one source.  Each returns 1
 * and sets *out when the text names a model, else 0.
 *   debugfs:  /sys/kernel/debug/sched/preempt, "none (voluntary) full"
 *             with the active model in parentheses;
 *   cmdline:  /proc/cmdline, its last preempt= word;
 *   config:   the kernel's .config, the CONFIG_PREEMPT_* choice, which
 *             is also the boot default of a PREEMPT_DYNAMIC kernel.
 * full, rt and lazy read as full (lazy preempts kernel code at the next
 * tick, which the model does not separate from at once).
 */
int hs_preempt_from_debugfs(const char *text, enum hs_preempt *out);
int hs_preempt_from_cmdline(const char *text, enum hs_preempt *out);
int hs_preempt_from_config(const char *text, enum hs_preempt *out);

#endif /* HERDSIM_CALIBRATE_H */
