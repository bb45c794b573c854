/*
 * From calibration figures to a `host` OS profile, and the profile writer.
 *
 * hs_calib_derive() sets every [os] key from the medians (p50) of the
 * figures and from the host facts.  Beside each key it writes a comment
 * with the derivation: the formula, and the figures it used with their
 * sample count and percentiles.  A key whose figure is missing falls back to a
 * related figure, or to 0, and its comment says so.  Negative differences
 * (noise when two medians are close) are written as 0.
 *
 * The writer prints the keys in hs_calib_keys[] order, durations as
 * integer nanoseconds with the "ns" unit, the ratio as a decimal, and the
 * yield kind as a word, each after its full-line '#' comment.
 */
#include "calibrate_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#ifndef HS_VERSION
#define HS_VERSION "unknown"
#endif

/* Width of a comment line: wide enough for one figure's percentiles, and
 * well under the 200-byte line limit (INI_MAX_LINE) of inih as Debian
 * builds it. */
#define COMMENT_WIDTH 100

enum key_type { DURATION, INTEGER, RATIO, WORD, CURVE, SPREAD };

struct key_spec {
	const char *name;
	enum key_type type;
	size_t offset; /* in struct hs_os_profile */
};

#define KEY(n, t, field) { n, t, offsetof(struct hs_os_profile, field) }

static const struct key_spec key_specs[HS_CALIB_NKEYS] = {
	KEY("name", WORD, name),
	KEY("slice", DURATION, slice_ns),
	KEY("tick", DURATION, tick_ns),
	KEY("context_switch", DURATION, context_switch_ns),
	KEY("syscall", DURATION, syscall_ns),
	KEY("signal_syscall", DURATION, signal_syscall_ns),
	KEY("clock_read", DURATION, clock_read_ns),
	KEY("atomic_local", DURATION, atomic_local_ns),
	KEY("atomic_remote", DURATION, atomic_remote_ns),
	KEY("load_remote", DURATION, load_remote_ns),
	KEY("yield", WORD, yield_kind),
	KEY("yield_hold_ticks", INTEGER, yield_hold_ticks),
	KEY("newidle", WORD, newidle),
	KEY("newidle_cost", DURATION, newidle_cost_ns),
	KEY("preempt", WORD, preempt),
	KEY("sleep_slack", DURATION, sleep_slack_ns),
	KEY("sleep_slack_ratio", RATIO, sleep_slack_ratio),
	KEY("sleep_min", DURATION, sleep_min_ns),
	KEY("sleep_round", DURATION, sleep_round_ns),
	KEY("sleep_coarse_above", DURATION, sleep_coarse_above_ns),
	KEY("sleep_poll_below", DURATION, sleep_poll_below_ns),
	KEY("timer_jitter", DURATION, timer_jitter_ns),
	KEY("wake_local", DURATION, wake_local_ns),
	KEY("wake_remote", DURATION, wake_remote_ns),
	KEY("wake_send_local", DURATION, wake_send_local_ns),
	KEY("wake_send_remote", DURATION, wake_send_remote_ns),
	KEY("timer_wake", DURATION, timer_wake_ns),
	KEY("timer_irq", DURATION, timer_irq_ns),
	KEY("irq_wake", DURATION, irq_wake_ns),
	KEY("timer_program", DURATION, timer_program_ns),
	KEY("sleep_return", DURATION, sleep_return_ns),
	KEY("thread_create", DURATION, thread_create_ns),
	KEY("thread_start", DURATION, thread_start_ns),
	KEY("thread_exit", DURATION, thread_exit_ns),
	KEY("mmap", DURATION, mmap_ns),
	KEY("mmap_fault", DURATION, mmap_fault_ns),
	KEY("switch_cold", CURVE, switch_cold),
	KEY("thread_create_spread", SPREAD, spread[HS_COST_THREAD_CREATE]),
	KEY("thread_exit_spread", SPREAD, spread[HS_COST_THREAD_EXIT]),
	KEY("mmap_spread", SPREAD, spread[HS_COST_MMAP]),
	KEY("wake_local_spread", SPREAD, spread[HS_COST_WAKE_LOCAL]),
	KEY("wake_remote_spread", SPREAD, spread[HS_COST_WAKE_REMOTE]),
	KEY("wake_send_local_spread", SPREAD, spread[HS_COST_WAKE_SEND_LOCAL]),
	KEY("wake_send_remote_spread", SPREAD, spread[HS_COST_WAKE_SEND_REMOTE]),
};

const char *const hs_calib_keys[HS_CALIB_NKEYS] = {
	"name", "slice", "tick", "context_switch", "syscall", "signal_syscall", "clock_read",
	"atomic_local", "atomic_remote", "load_remote", "yield", "yield_hold_ticks", "newidle", "newidle_cost", "preempt",
	"sleep_slack",
	"sleep_slack_ratio", "sleep_min", "sleep_round", "sleep_coarse_above",
	"sleep_poll_below", "timer_jitter", "wake_local", "wake_remote", "wake_send_local",
	"wake_send_remote", "timer_wake", "timer_irq", "irq_wake", "timer_program", "sleep_return", "thread_create",
	"thread_start", "thread_exit", "mmap", "mmap_fault", "switch_cold", "thread_create_spread", "thread_exit_spread",
	"mmap_spread", "wake_local_spread", "wake_remote_spread", "wake_send_local_spread",
	"wake_send_remote_spread",
};

/* ---- derivation ---- */

static int key_index(const char *key)
{
	for (int i = 0; i < HS_CALIB_NKEYS; i++)
		if (strcmp(hs_calib_keys[i], key) == 0)
			return i;
	return -1;
}

/* Appends one formatted line to the comment of key. */
static void note(struct hs_calib_report *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(struct hs_calib_report *r, const char *key, const char *fmt, ...)
{
	char *buf = r->notes[key_index(key)];
	size_t len = strlen(buf);
	va_list ap;

	if (len > 0 && len + 1 < HS_CALIB_KEY_NOTE_MAX)
		buf[len++] = '\n';
	va_start(ap, fmt);
	vsnprintf(buf + len, HS_CALIB_KEY_NOTE_MAX - len, fmt, ap);
	va_end(ap);
}

/* The figure called name if it was measured, else NULL. */
static const struct hs_calib_figure *measured(const struct hs_calib_report *r, const char *name)
{
	const struct hs_calib_figure *f = hs_calib_find(r, name);

	return f && f->samples > 0 ? f : NULL;
}

/* Adds a line with the figure's percentiles to the comment of key. */
static void note_figure(struct hs_calib_report *r, const char *key,
			const struct hs_calib_figure *f)
{
	note(r, key, "  %s: %d samples; p10 %" PRId64 ", median %" PRId64 ", p90 %" PRId64
	     ", p99 %" PRId64 " ns", f->name, f->samples, f->p10, f->p50, f->p90, f->p99);
}

static int64_t at_least_zero(int64_t v)
{
	return v > 0 ? v : 0;
}

/* Sets key to the median of figure name; 0 if it was not measured. */
static int64_t from_median(struct hs_calib_report *r, const char *key, const char *name,
			   const char *what)
{
	const struct hs_calib_figure *f = measured(r, name);

	if (!f) {
		note(r, key, "%s: not measured on this host (figure %s has no samples); 0", key, name);
		return 0;
	}
	note(r, key, "%s: median of %s", key, what);
	note_figure(r, key, f);
	return f->p50;
}

/*
 * newidle: proportional on the Linux releases known to carry the NI_RANDOM
 * scheduler feature (kernel/sched/features.h), always elsewhere.  The
 * feature runs a newly idle balance with a probability equal to its recent
 * success rate.  Mainline has it from 6.19, the stable series from 6.18.5,
 * 6.12.66 and 6.6.121.  The feature file is readable only by root with
 * debugfs mounted, so the release decides.
 */
static void derive_newidle(struct hs_calib_report *r, struct hs_os_profile *p)
{
	int major = 0, minor = 0, sub = 0;
	bool known = strcmp(r->sysname, "Linux") == 0 &&
		     sscanf(r->release, "%d.%d.%d", &major, &minor, &sub) >= 2;

	bool stable = major == 6 && ((minor == 18 && sub >= 5) || (minor == 12 && sub >= 66) ||
				     (minor == 6 && sub >= 121));

	p->newidle = known && (major > 6 || (major == 6 && minor >= 19) || stable)
			     ? HS_NEWIDLE_PROPORTIONAL
			     : HS_NEWIDLE_ALWAYS;
	note(r, "newidle", "newidle: not measurable, read from uname: %s %s; the NI_RANDOM "
	     "scheduler feature (Linux 6.19, and 6.18.5, 6.12.66 and 6.6.121 on) runs a newly "
	     "idle balance in proportion to its success rate.  Other stable series may carry "
	     "it too: set proportional by hand on such a kernel", r->sysname, r->release);
}

/*
 * newidle_cost: the median shortest idle period at which a newly idle CPU
 * pulled threads (figure newidle_cost).  Linux skips a CPU's newly idle
 * balance while its average idle time is below the domain's largest
 * recent balance cost, which that period measures.  0, no skip, when the
 * figure was not measured.
 */
static void derive_newidle_cost(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *f = measured(r, "newidle_cost");

	if (!f) {
		p->newidle_cost_ns = 0;
		note(r, "newidle_cost", "newidle_cost: not measured on this host (figure "
		     "newidle_cost has no samples: one CPU, or no newly idle pull at any idle "
		     "period tried); 0, so a newly idle balance is never skipped");
		return;
	}
	p->newidle_cost_ns = f->p50;
	note(r, "newidle_cost", "newidle_cost: median shortest idle period of one CPU at which "
	     "its newly idle balance pulled spinning threads from the other, to 1/32; Linux "
	     "skips the balance while the CPU's average idle time is below the domain's "
	     "largest recent balance cost (max_newidle_lb_cost)");
	note_figure(r, "newidle_cost", f);
}

static void derive_scheduler(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *alone = measured(r, "yield_alone");
	const struct hs_calib_figure *peer = measured(r, "yield_peer");

	p->slice_ns = r->slice_ns;
	note(r, "slice", "slice: base time slice; %s", r->slice_source);
	p->tick_ns = r->tick_ns;
	note(r, "tick", "tick: scheduler clock tick; %s", r->tick_source);

	if (alone && peer) {
		p->context_switch_ns = at_least_zero(peer->p50 / 2 - alone->p50);
		note(r, "context_switch",
		     "context_switch: half the median sched_yield that switched to a peer on the "
		     "same CPU and back (two yields, two switches), minus the median sched_yield "
		     "with no peer (the system call part); %d yields that did not run the peer "
		     "exactly once were rejected", r->yield_peer_rejected);
		note_figure(r, "context_switch", peer);
		note_figure(r, "context_switch", alone);
	} else {
		p->context_switch_ns = from_median(r, "context_switch", "futex_wake_local",
						   "a same-CPU futex wake-to-run, which contains one "
						   "switch, because no yield switched to the peer");
	}

	if (strcmp(r->sysname, "Linux") == 0) {
		p->yield_kind = HS_YIELD_LINUX;
		note(r, "yield", "yield: not measurable, read from uname: %s %s; Linux CFS and "
		     "EEVDF return from sched_yield at once when no other thread is runnable on "
		     "the CPU, else switch to a peer (see yield_alone and yield_peer above)",
		     r->sysname, r->release);
	} else {
		p->yield_kind = HS_YIELD_LINUX;
		note(r, "yield", "yield: not measurable; %s is not Linux, and linux is written "
		     "only because the calibration itself requires Linux: check this value",
		     r->sysname);
	}
	derive_newidle(r, p);
	derive_newidle_cost(r, p);
	p->preempt = r->preempt;
	note(r, "preempt", "preempt: not measurable, the kernel's preemption model; %s.  "
	     "Under none and voluntary a thread in a system call or fault keeps its core "
	     "until it returns to user space", r->preempt_source);
	p->yield_hold_ticks = 0;
	note(r, "yield_hold_ticks", "yield_hold_ticks: not measurable; 0 because Linux never "
	     "holds a yielding thread behind its peers for whole ticks (FreeBSD ULE does)");
}

/*
 * mmap_fault: the median of stack_fault_32k, the write to the first page
 * of stack_map_32k's mapping timed alone, at most mmap.  0 when the
 * figure has no samples: the whole of mmap is then the call.
 */
static void derive_mmap_fault(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *f = measured(r, "stack_fault_32k");

	if (!f) {
		p->mmap_fault_ns = 0;
		note(r, "mmap_fault", "mmap_fault: not measured (figure stack_fault_32k has no "
		     "samples), so 0");
		return;
	}
	p->mmap_fault_ns = f->p50 < p->mmap_ns ? f->p50 : p->mmap_ns;
	note(r, "mmap_fault", "mmap_fault: median of the first write to a fresh 32 KiB "
	     "mapping, timed alone, at most mmap");
	note_figure(r, "mmap_fault", f);
}

/* thread_start: median(thread_start) minus half of median(thread_cpu_pair),
 * the part of the clock read before it samples the clock.  It is 0 when
 * the figure was not measured. */
static void derive_thread_start(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *f = measured(r, "thread_start");
	const struct hs_calib_figure *pair = measured(r, "thread_cpu_pair");
	int64_t read = pair ? pair->p50 / 2 : 0;

	if (!f) {
		p->thread_start_ns = 0;
		note(r, "thread_start", "thread_start: not measured on this host (figure "
		     "thread_start has no samples); 0");
		return;
	}
	p->thread_start_ns = at_least_zero(f->p50 - read);
	note(r, "thread_start", "thread_start: median CPU time of a new thread of "
	     "thread_create_burst when its start routine began (CLOCK_THREAD_CPUTIME_ID at its "
	     "first line), minus half a pair of clock reads (%" PRId64 " - %" PRId64 " ns)",
	     f->p50, read);
	note_figure(r, "thread_start", f);
	if (pair)
		note_figure(r, "thread_start", pair);
}

static void derive_costs(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *create = measured(r, "thread_create_join");
	const struct hs_calib_figure *exit_part = measured(r, "thread_exit");
	const struct hs_calib_figure *first = measured(r, "thread_first_run");
	const struct hs_calib_figure *burst = measured(r, "thread_create_burst");

	p->syscall_ns = from_median(r, "syscall", "syscall",
				    "syscall(SYS_getppid), each sample the mean of 100 calls");
	if (measured(r, "signal_syscall"))
		p->signal_syscall_ns = from_median(r, "signal_syscall", "signal_syscall",
						   "one call of the needm and dropm sequence of "
						   "rt_sigprocmask and sigaltstack, each sample the "
						   "mean of 100 sequences of 8 calls");
	else
		p->signal_syscall_ns = from_median(r, "signal_syscall", "syscall",
						   "syscall(SYS_getppid), because the signal calls "
						   "were not timed");
	p->clock_read_ns = from_median(r, "clock_read", "clock_read",
				       "one read of the native backend's clock, each sample the "
				       "mean of 100; the simulator charges it where the native "
				       "backend reads its clock");
	p->atomic_local_ns = from_median(r, "atomic_local", "cas_local",
					 "an uncontended compare-and-swap on a line this CPU "
					 "owns, each sample the mean of 1000");
	if (measured(r, "cas_handoff"))
		p->atomic_remote_ns = from_median(r, "atomic_remote", "cas_handoff",
						  "the one-way handoff of a line between two CPUs "
						  "by compare-and-swap ping-pong, each sample the "
						  "mean of 400 handoffs");
	else
		p->atomic_remote_ns = from_median(r, "atomic_remote", "cas_local",
						  "a local compare-and-swap, because with one CPU "
						  "no line comes from another core");
	if (measured(r, "load_remote"))
		p->load_remote_ns = from_median(r, "load_remote", "load_remote",
						"a dependent load of a line the other CPU has just "
						"written, each sample the mean of 256 loads");
	else
		p->load_remote_ns = from_median(r, "load_remote", "load_local",
						"a dependent load of a cached line, because with "
						"one CPU no line comes from another core");

	if (burst) {
		p->thread_create_ns = from_median(r, "thread_create", "thread_create_burst",
						  "one pthread_create call with a fresh 256 KiB "
						  "stack, 100 threads alive at once, no cached stack");
		if (create)
			note_figure(r, "thread_create", create);
	} else if (create && exit_part) {
		p->thread_create_ns = at_least_zero(create->p50 - exit_part->p50);
		note(r, "thread_create", "thread_create: median pthread_create + pthread_join "
		     "with a 256 KiB stack minus the median exit part (thread_exit)");
		note_figure(r, "thread_create", create);
		note_figure(r, "thread_create", exit_part);
		if (first) {
			note(r, "thread_create", "  for reference, pthread_create called to the "
			     "first line of the new thread:");
			note_figure(r, "thread_create", first);
		}
	} else {
		p->thread_create_ns = from_median(r, "thread_create", "thread_create_join",
						  "pthread_create + pthread_join");
	}
	derive_thread_start(r, p);
	p->thread_exit_ns = from_median(r, "thread_exit", "thread_exit",
					"the last line of a thread to pthread_join returning");
	p->mmap_ns = from_median(r, "mmap", "stack_map_32k",
				 "mmap of 32 KiB and a write to its first page");
	if (measured(r, "stack_map_4k"))
		note_figure(r, "mmap", measured(r, "stack_map_4k"));
	derive_mmap_fault(r, p);
}

/*
 * wake_send_local or wake_send_remote (key): the median of figure name,
 * the waker's CPU time around one FUTEX_WAKE, minus the median
 * thread_cpu_pair (the clock reads around it) and syscall_ns (charged
 * apart).  -1 when the figure was not measured.
 */
static int64_t derive_send(struct hs_calib_report *r, struct hs_os_profile *p, const char *key,
			   const char *name, const char *what, int rejected)
{
	const struct hs_calib_figure *f = measured(r, name);
	const struct hs_calib_figure *pair = measured(r, "thread_cpu_pair");
	int64_t reads = pair ? pair->p50 : 0;
	int64_t diff;

	if (!f)
		return -1;
	diff = f->p50 - reads - p->syscall_ns;
	note(r, key, "%s: median of the waker's CPU time (CLOCK_THREAD_CPUTIME_ID) around a "
	     "FUTEX_WAKE that readied a blocked thread %s, minus the median of two back-to-back "
	     "reads of that clock and minus syscall, at least 0 (%" PRId64 " - %" PRId64
	     " - %" PRId64 " ns)", key, what, f->p50, reads, p->syscall_ns);
	note_figure(r, key, f);
	if (pair)
		note_figure(r, key, pair);
	else
		note(r, key, "  thread_cpu_pair has no samples, so the reads count as 0");
	note(r, key, "  %d samples rejected (no thread woken%s)", rejected,
	     strcmp(key, "wake_send_local") == 0 ? ", or the woken thread ran between the reads"
						: "");
	return at_least_zero(diff);
}

static void derive_wakes(struct hs_calib_report *r, struct hs_os_profile *p)
{
	int64_t send = derive_send(r, p, "wake_send_local", "futex_wake_send_local",
				   "pinned to the waker's CPU under SCHED_IDLE, so that it "
				   "cannot preempt the waker", r->send_local_rejected);

	if (send < 0) {
		note(r, "wake_send_local", "wake_send_local: not measured on this host (figure "
		     "futex_wake_send_local has no samples); 0");
		send = 0;
	}
	p->wake_send_local_ns = send;
	send = derive_send(r, p, "wake_send_remote", "futex_wake_send_remote",
			   "pinned to the other CPU, which a spinning thread kept busy",
			   r->send_remote_rejected);
	if (send < 0) {
		note(r, "wake_send_remote", "wake_send_remote: wake_send_local, because this "
		     "process may run on one CPU only");
		send = p->wake_send_local_ns;
	}
	p->wake_send_remote_ns = send;

	p->wake_local_ns = from_median(r, "wake_local", "futex_wake_local",
				       "FUTEX_WAKE to the woken thread running, both threads "
				       "pinned to one CPU and the waker blocking right after");
	note(r, "wake_local", "  %d samples where the waiter had not yet blocked were rejected",
	     r->futex_local_rejected);
	if (p->wake_local_ns > 0 && p->wake_send_local_ns > 0) {
		int64_t diff = p->wake_local_ns - p->wake_send_local_ns;

		/* A switch-in after a wake-up is taken to cost at least one
		 * after a yield. */
		note(r, "wake_local", "  minus wake_send_local, which the model charges to the "
		     "waker, at least context_switch (%" PRId64 " - %" PRId64 " ns, at least %"
		     PRId64 " ns)", p->wake_local_ns, p->wake_send_local_ns, p->context_switch_ns);
		p->wake_local_ns = diff > p->context_switch_ns ? diff : p->context_switch_ns;
	}
	if (measured(r, "futex_wake_remote")) {
		p->wake_remote_ns = from_median(r, "wake_remote", "futex_wake_remote",
						"FUTEX_WAKE to the woken thread running on another, "
						"idle CPU (CPUs pinned as in the header)");
		note(r, "wake_remote", "  %d samples where the waiter had not yet blocked were "
		     "rejected", r->futex_remote_rejected);
	} else {
		p->wake_remote_ns = from_median(r, "wake_remote", "futex_wake_local",
						"a same-CPU wake, because this process may run on "
						"one CPU only");
	}
}

/* Rounding, coarse timers and polling: properties of the timer code that
 * the figures confirm rather than measure; and the jitter. */
static void derive_timer_rules(struct hs_calib_report *r, struct hs_os_profile *p,
			       const struct hs_calib_figure *ns1,
			       const struct hs_calib_figure *ns100)
{
	if (r->clock_res_ns > 1000) {
		p->sleep_round_ns = r->clock_res_ns;
		note(r, "sleep_round", "sleep_round: read: clock_getres(CLOCK_MONOTONIC) = %" PRId64
		     " ns, low-resolution timers, so expiries round up to it", r->clock_res_ns);
	} else {
		p->sleep_round_ns = 0;
		note(r, "sleep_round", "sleep_round: read: clock_getres(CLOCK_MONOTONIC) = %" PRId64
		     " ns, high-resolution timers, so expiries are not rounded (0)",
		     r->clock_res_ns);
	}

	p->sleep_coarse_above_ns = 0;
	note(r, "sleep_coarse_above", "sleep_coarse_above: not measured; 0 (never) because "
	     "Linux nanosleep uses the high-resolution timer for requests of every length");

	p->sleep_poll_below_ns = 0;
	if (ns1)
		note(r, "sleep_poll_below", "sleep_poll_below: 0 (never): nanosleep(1 us) took a "
		     "median %" PRId64 " ns, a real sleep and not a zero-timeout return", ns1->p50);
	else
		note(r, "sleep_poll_below", "sleep_poll_below: not measured; 0 (never) because "
		     "Linux sleeps for requests of every length");

	if (ns100) {
		p->timer_jitter_ns = ns100->p90 - ns100->p10;
		note(r, "timer_jitter", "timer_jitter: p90 - p10 of nanosleep(100 us) under the "
		     "default timer slack (other timers that expire inside the slack window end "
		     "the sleep early, so the spread includes the slack's effect)");
		note_figure(r, "timer_jitter", ns100);
	} else {
		p->timer_jitter_ns = 0;
		note(r, "timer_jitter", "timer_jitter: not measured; 0");
	}
}

/* Timer keys: see docs/calibration.md for the decomposition of a sleep. */
static void derive_timers(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *ns1 = measured(r, "nanosleep_1us");
	const struct hs_calib_figure *us1 = measured(r, "usleep_1us");
	const struct hs_calib_figure *ns100 = measured(r, "nanosleep_100us");
	const struct hs_calib_figure *quiet = measured(r, "nanosleep_100us_noslack");
	const struct hs_calib_figure *ms1 = measured(r, "nanosleep_1ms");
	const struct hs_calib_figure *ms1_quiet = measured(r, "nanosleep_1ms_noslack");

	if (quiet) {
		p->timer_wake_ns = at_least_zero(quiet->p50 - 100000);
		note(r, "timer_wake", "timer_wake: median nanosleep(100 us) with the timer slack "
		     "set to 1 ns, minus the 100 us request: timer interrupt, wake-up and return");
		note_figure(r, "timer_wake", quiet);
	} else {
		note(r, "timer_wake", "timer_wake: not measured (nanosleep_100us_noslack has no "
		     "samples); 0");
	}

	if (ns100 && quiet) {
		p->sleep_slack_ns = at_least_zero(ns100->p50 - quiet->p50);
		note(r, "sleep_slack", "sleep_slack: median nanosleep(100 us) under the default "
		     "timer slack minus the same with the slack set to 1 ns (both contain the same "
		     "timer_wake); PR_GET_TIMERSLACK reports %" PRId64 " ns", r->timer_slack_ns);
		note_figure(r, "sleep_slack", ns100);
		note_figure(r, "sleep_slack", quiet);
	} else {
		p->sleep_slack_ns = r->timer_slack_ns;
		note(r, "sleep_slack", "sleep_slack: not measured; PR_GET_TIMERSLACK of the caller");
	}

	if (ns100 && quiet && ms1 && ms1_quiet) {
		int64_t slack_100us = ns100->p50 - quiet->p50;
		int64_t slack_1ms = ms1->p50 - ms1_quiet->p50;
		double ratio = (double)(slack_1ms - slack_100us) / 900000.0;

		if (ratio < 0)
			ratio = 0;
		if (ratio > 1)
			ratio = 1;
		p->sleep_slack_ratio = (double)(int64_t)(ratio * 10000 + 0.5) / 10000;
		note(r, "sleep_slack_ratio", "sleep_slack_ratio: growth of the part the slack adds "
		     "(median with the default slack minus median with 1 ns) from a 100 us request "
		     "(%" PRId64 " ns) to a 1 ms request (%" PRId64 " ns), over the 900 us between "
		     "them, to 4 decimals; Linux timer slack is a fixed duration, so only noise "
		     "makes this differ from 0", slack_100us, slack_1ms);
		note_figure(r, "sleep_slack_ratio", ms1);
		note_figure(r, "sleep_slack_ratio", ms1_quiet);
	} else {
		p->sleep_slack_ratio = 0;
		note(r, "sleep_slack_ratio", "sleep_slack_ratio: not measured; 0, because Linux "
		     "timer slack is a fixed duration");
	}

	if (ns1) {
		int64_t floor = r->clock_res_ns > 0 ? r->clock_res_ns : 1;

		p->sleep_min_ns = ns1->p50 - p->sleep_slack_ns - p->timer_wake_ns;
		if (p->sleep_min_ns < floor)
			p->sleep_min_ns = floor;
		note(r, "sleep_min", "sleep_min: median nanosleep(1 us) minus sleep_slack and "
		     "timer_wake, at least the clock resolution: a sleep of r on an idle CPU then "
		     "lasts max(r, sleep_min) + sleep_slack + timer_wake after the system call, "
		     "which gives back the median");
		note_figure(r, "sleep_min", ns1);
		if (us1)
			note_figure(r, "sleep_min", us1);
	} else {
		p->sleep_min_ns = r->clock_res_ns;
		note(r, "sleep_min", "sleep_min: not measured; the clock resolution");
	}

	derive_timer_rules(r, p, ns1, ns100);
}

/* The futex_ring_K figure for the K of hs_calib_ring_threads[index], if
 * it was measured. */
static const struct hs_calib_figure *ring_figure(const struct hs_calib_report *r, int index)
{
	char name[32];

	snprintf(name, sizeof(name), "futex_ring_%d", hs_calib_ring_threads[index]);
	return measured(r, name);
}

/* Notes the futex waits per hop of each ring.  Warns of rings with fewer
 * than HS_CALIB_RING_MIN_WAITS, whose hops then hold less work, and of
 * ring threads that ran under the caller's policy. */
static void note_ring_waits(struct hs_calib_report *r)
{
	char waits[256] = "", few[128] = "";
	size_t len = 0, nfew = 0;

	for (int i = 0; i < HS_CALIB_NRINGS; i++) {
		double per_hop;

		if (r->ring_hops[i] <= 0)
			continue;
		per_hop = (double)r->ring_waits[i] / (double)r->ring_hops[i];
		if (len < sizeof(waits))
			len += (size_t)snprintf(waits + len, sizeof(waits) - len, " %d:%.3f",
						hs_calib_ring_threads[i], per_hop);
		if (per_hop < HS_CALIB_RING_MIN_WAITS && nfew < sizeof(few))
			nfew += (size_t)snprintf(few + nfew, sizeof(few) - nfew, " %d",
						 hs_calib_ring_threads[i]);
	}
	if (len > 0)
		note(r, "switch_cold", "  futex waits per hop, K:waits:%s", waits);
	if (nfew > 0)
		note(r, "switch_cold", "  WARNING: fewer than %.2f waits per hop in the rings of K =%s: "
		     "a thread preempted between its wake and its wait skips the wait, so their "
		     "hops hold less work than the ring of 2's", HS_CALIB_RING_MIN_WAITS, few);
	if (r->ring_not_batch > 0)
		note(r, "switch_cold", "  WARNING: %d ring threads could not switch to SCHED_BATCH "
		     "(%s), so their wake-ups could preempt the waker", r->ring_not_batch,
		     strerror(r->ring_batch_errno));
}

/*
 * switch_cold from the futex_ring_K figures: a point (K - 1, median
 * futex_ring_K - median futex_ring_2) for each measured K >= 3, after the
 * point 1:0ns.  A negative difference is 0, and a point below the one
 * before takes that one's value, so the curve never decreases.  Without
 * futex_ring_2, or without any larger ring, the curve is written as none.
 */
static void derive_switch_cold(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *base = ring_figure(r, 0);
	char diffs[256] = "";
	size_t len = 0;
	int raised = 0;

	p->nswitch_cold = 0;
	if (!base) {
		note(r, "switch_cold", "switch_cold: not measured (futex_ring_2 has no samples); none");
		note_ring_waits(r);
		return;
	}
	p->switch_cold[0] = (struct hs_cold_point){ 1, 0 };
	p->nswitch_cold = 1;
	for (int i = 1; i < HS_CALIB_NRINGS && p->nswitch_cold < HS_COLD_POINTS; i++) {
		const struct hs_calib_figure *f = ring_figure(r, i);
		int64_t diff, extra, previous = p->switch_cold[p->nswitch_cold - 1].ns;

		if (!f)
			continue;
		diff = f->p50 - base->p50;
		extra = at_least_zero(diff);
		if (extra < previous) {
			extra = previous;
			raised++;
		}
		p->switch_cold[p->nswitch_cold++] =
			(struct hs_cold_point){ hs_calib_ring_threads[i] - 1, extra };
		if (len < sizeof(diffs))
			len += (size_t)snprintf(diffs + len, sizeof(diffs) - len, " %d:%" PRId64,
						hs_calib_ring_threads[i] - 1, diff);
	}
	if (p->nswitch_cold == 1) {
		p->nswitch_cold = 0;
		note(r, "switch_cold", "switch_cold: not measured (no futex_ring_K figure with "
		     "K >= 3 has samples); none");
		note_ring_waits(r);
		return;
	}
	note(r, "switch_cold", "switch_cold: a point D:X for each ring of K = D + 1 SCHED_BATCH "
	     "threads pinned to one CPU, X = median futex_ring_K minus median futex_ring_2: what a "
	     "switch-in costs beyond a hot one when D other threads ran on the CPU since the "
	     "thread last did.  Under SCHED_BATCH no wake-up preempts its waker, so nearly every "
	     "hop is one wake, one wait and one switch in every ring.  The first point is 1:0ns.  "
	     "Negative differences are written as 0, and a point below the one before takes "
	     "that one's value, so the curve never decreases (%d point%s raised)", raised,
	     raised == 1 ? "" : "s");
	note(r, "switch_cold", "  differences before those rules, D:ns:%s", diffs);
	note_ring_waits(r);
	if (r->ring_rejected > 0)
		note(r, "switch_cold", "  %d windows in which the token made no hop were rejected",
		     r->ring_rejected);
	for (int i = 0; i < HS_CALIB_NRINGS; i++)
		if (ring_figure(r, i))
			note_figure(r, "switch_cold", ring_figure(r, i));
}

/* Notes the pollers' CPU time as a share of the sleep_cycle windows' wall
 * time.  The rest (the spinner, idle time, other processes and steal)
 * is not in the samples. */
static void note_cpu_share(struct hs_calib_report *r, const char *key)
{
	if (r->sleep_cycle_wall_ns <= 0)
		return;
	note(r, key, "  the pollers' CPU time was %" PRId64 " %% of the windows' wall time, and a "
	     "sample counts only that CPU time", r->sleep_cycle_cpu_ns * 100 / r->sleep_cycle_wall_ns);
}

/*
 * irq_wake, after derive_wakes: the slope of the interrupt's gap from
 * HS_CALIB_IRQ_WAKE_MIN to HS_CALIB_IRQ_WAKE_MAX sleepers woken at once,
 * (median irq_wake_64 - median irq_wake_16) / 48, at least 0.  Both gaps
 * contain the interrupt itself, which the slope leaves out.  When either
 * figure has no samples (no permission for SCHED_FIFO, or every round
 * rejected) it falls back to wake_send_local, the waker's part of a
 * futex wake, which a busy host can inflate.
 */
static void derive_irq_wake(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *few = measured(r, "irq_wake_16");
	const struct hs_calib_figure *many = measured(r, "irq_wake_64");
	int64_t extra = HS_CALIB_IRQ_WAKE_MAX - HS_CALIB_IRQ_WAKE_MIN;

	if (!few || !many) {
		p->irq_wake_ns = p->wake_send_local_ns;
		if (r->irq_wake_no_fifo)
			note(r, "irq_wake", "irq_wake: wake_send_local, because irq_wake_16 and "
			     "irq_wake_64 were not measured (they need SCHED_FIFO: run as root, or with "
			     "CAP_SYS_NICE or an RLIMIT_RTPRIO above 0)");
		else
			note(r, "irq_wake", "irq_wake: wake_send_local, because %s has no samples "
			     "(%d rounds rejected: a sleeper had not started its sleep, or the caller was "
			     "not reading the clock, when the window before the interrupt opened)",
			     few ? "irq_wake_64" : "irq_wake_16", r->irq_wake_rejected);
		return;
	}
	p->irq_wake_ns = at_least_zero((many->p50 - few->p50) / extra);
	note(r, "irq_wake", "irq_wake: what a timer interrupt spends on each thread it wakes: the "
	     "median gap it left in a SCHED_FIFO thread's clock loop when it woke %d sleepers "
	     "minus the median when it woke %d, divided by %" PRId64 ", at least 0 ((%" PRId64
	     " - %" PRId64 ") / %" PRId64 " ns)", HS_CALIB_IRQ_WAKE_MAX, HS_CALIB_IRQ_WAKE_MIN,
	     extra, many->p50, few->p50, extra);
	if (r->irq_wake_rejected > 0)
		note(r, "irq_wake", "  %d rounds in which a sleeper had not started its sleep, or the "
		     "caller was not reading the clock, when the window before the interrupt opened "
		     "were rejected", r->irq_wake_rejected);
	note_figure(r, "irq_wake", few);
	note_figure(r, "irq_wake", many);
}

/*
 * timer_program: the median arm of a timer that becomes its CPU's
 * earliest, less the median arm of one behind an earlier timer, at least
 * 0.  The difference is the reprogramming of the timer device, which on
 * a virtual machine exits to the hypervisor.
 */
static void derive_timer_program(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *first = measured(r, "timer_arm_first");
	const struct hs_calib_figure *later = measured(r, "timer_arm_later");

	if (!first || !later) {
		p->timer_program_ns = 0;
		note(r, "timer_program", "timer_program: not measured (timer_arm_first or "
		     "timer_arm_later has no samples); 0");
		return;
	}
	p->timer_program_ns = at_least_zero(first->p50 - later->p50);
	note(r, "timer_program", "timer_program: median timer_arm_first minus median "
	     "timer_arm_later, at least 0 (%" PRId64 " - %" PRId64 " ns): the reprogramming of "
	     "the timer device when a new timer becomes the CPU's earliest", first->p50,
	     later->p50);
	note_figure(r, "timer_program", first);
	note_figure(r, "timer_program", later);
}

/* Writes the last lines of sleep_return's comment: the caveats on its
 * parts, the figures it came from (occupancy may be NULL) and the rejected
 * windows. */
static void note_sleep_return_end(struct hs_calib_report *r, const struct hs_os_profile *p,
				  int64_t rest, const struct hs_calib_figure *occupancy,
				  const struct hs_calib_figure *cycle)
{
	if (p->nswitch_cold == 0)
		note(r, "sleep_return", "  switch_cold is none, so the cold extra is 0");
	if (rest < 0)
		note(r, "sleep_return", "  the difference is %" PRId64 " ns, below 0, so 0 is written",
		     rest);
	if (occupancy)
		note_figure(r, "sleep_return", occupancy);
	note_figure(r, "sleep_return", cycle);
	if (r->sleep_cycle_rejected > 0)
		note(r, "sleep_return", "  %d windows without a completed cycle or poller CPU time "
		     "were rejected", r->sleep_cycle_rejected);
	note_cpu_share(r, "sleep_return");
}

/* Derives sleep_return from the median sleep_occupancy, as derive_timer_irq
 * describes.  cold and program are the cycle's switch_cold extra and its
 * share of timer_program. */
static void derive_sleep_return_from_occupancy(struct hs_calib_report *r, struct hs_os_profile *p,
					       const struct hs_calib_figure *occupancy,
					       const struct hs_calib_figure *cycle, int64_t cold,
					       int64_t program)
{
	int64_t irq = p->timer_irq_ns * r->sleep_cycle_irqs / r->sleep_cycle_cycles;
	int64_t spin = (p->context_switch_ns + cold) * r->sleep_cycle_spin_switches /
		       r->sleep_cycle_cycles;
	int64_t rest = occupancy->p50 - p->syscall_ns - p->wake_local_ns - cold - p->irq_wake_ns -
		       program - irq - spin;

	p->sleep_return_ns = at_least_zero(rest);
	note(r, "sleep_return", "sleep_return: median sleep_occupancy minus syscall, wake_local, "
	     "the switch_cold extra at %d other threads, irq_wake, the cycle's shares of "
	     "timer_program, of timer_irq and of the idle thread's switches back, at least 0 (%"
	     PRId64 " - %" PRId64 " - %" PRId64 " - %" PRId64 " - %" PRId64 " - %" PRId64 " - %"
	     PRId64 " - %" PRId64 " ns).  What a usleep(1) cycle takes from its CPU beyond the "
	     "sleep call, the cold switch to the woken thread, the interrupt and its wake-up of "
	     "it and the rearming of the CPU's earliest timer is the sleeper's own: setting up "
	     "its timer and the way back from the call",
	     HS_CALIB_SLEEP_POLLERS - 1, occupancy->p50, p->syscall_ns, p->wake_local_ns, cold,
	     p->irq_wake_ns, program, irq, spin);
	note(r, "sleep_return", "  shares per cycle: timer_program %" PRId64 " ns and timer_irq %"
	     PRId64 " ns x %" PRId64 " timer interrupts of CPU A, (context_switch %" PRId64
	     " + %" PRId64 ") ns x %" PRId64 " switches back of the idle thread, over %" PRId64
	     " cycles", p->timer_program_ns, p->timer_irq_ns, r->sleep_cycle_irqs,
	     p->context_switch_ns, cold, r->sleep_cycle_spin_switches, r->sleep_cycle_cycles);
	note(r, "sleep_return", "  the pollers' own CPU time per cycle (sleep_cycle) contains only "
	     "part of the interrupts: Linux bills the rest of an interrupt whose wake-up preempts "
	     "the interrupted thread to the woken one");
	note_sleep_return_end(r, p, rest, occupancy, cycle);
}

/*
 * timer_irq and sleep_return, after derive_costs, derive_wakes,
 * derive_switch_cold and derive_timer_program.  timer_irq is the median
 * timer_irq_gap: what the interrupt of a timer that wakes no thread took
 * from the thread it interrupted; 0 when not measured.  The pollers of
 * sleep_cycle take CPU A in turn, so each poller's switch-in follows
 * HS_CALIB_SLEEP_POLLERS - 1 others and pays the switch_cold extra at that
 * distance on top of wake_local.  Each cycle also contains the wake-up
 * that ends the poller's sleep, which the interrupt does at irq_wake.
 * Under the timer slack their sleeps end together, one interrupt for
 * many, and a SCHED_IDLE thread keeps CPU A busy until it comes.  A
 * sample of sleep_cycle is the pollers' CPU time divided by their cycles,
 * so the part of each interrupt billed to that thread is not in it, as
 * the model charges timer_irq to the thread it interrupts.  After each
 * interrupt the first poller to
 * sleep again arms CPU A's earliest timer and pays timer_program, which
 * the model charges on its own: CPU A's local timer interrupts over the
 * windows, times timer_program, over the cycles, is that share.  What a
 * cycle costs beyond syscall, the switch-in, the wake-up and that share
 * is the sleeper's own part of the call: sleep_return.
 *
 * With sleep_occupancy measured, sleep_return comes from it instead: the
 * CPU time a cycle takes from its CPU, however the kernel bills it,
 * less every part the model charges for it there.  Those are the parts
 * above, the interrupts (timer_irq times CPU A's timer interrupts over
 * the cycles) and the SCHED_IDLE thread's switches back (context_switch
 * plus the switch_cold extra at HS_CALIB_SLEEP_POLLERS - 1, times its
 * involuntary switches over the cycles).  Linux bills the rest of an
 * interrupt whose wake-up preempts the interrupted thread to the woken
 * one, so the pollers' CPU time contains part of the interrupts and the
 * interrupted thread's the rest.  The occupancy does not depend on that
 * split.
 */
static void derive_timer_irq(struct hs_calib_report *r, struct hs_os_profile *p)
{
	const struct hs_calib_figure *cycle = measured(r, "sleep_cycle");
	const struct hs_calib_figure *gap = measured(r, "timer_irq_gap");
	const struct hs_calib_figure *occupancy = measured(r, "sleep_occupancy");
	int64_t cold, rest, program = 0;

	if (gap) {
		p->timer_irq_ns = gap->p50;
		note(r, "timer_irq", "timer_irq: median gap that the interrupt of a timer with no "
		     "waiter left in a clock loop on its CPU: delivery, handler and the "
		     "reprogramming of the timer device for the next expiry");
		note_figure(r, "timer_irq", gap);
	} else {
		p->timer_irq_ns = 0;
		note(r, "timer_irq", "timer_irq: not measured (timer_irq_gap has no samples); 0");
	}
	if (r->timer_irq_rejected > 0)
		note(r, "timer_irq", "  %d rounds were rejected: a gap above %d us, the host taking the "
		     "CPU, or arms so slow that the loop started after its window opened",
		     r->timer_irq_rejected, HS_CALIB_TIMER_GAP_MAX_US);
	if (!cycle) {
		p->sleep_return_ns = 0;
		note(r, "sleep_return", "sleep_return: not measured (sleep_cycle has no samples); 0");
		return;
	}
	cold = hs_cold_extra(p, HS_CALIB_SLEEP_POLLERS - 1);
	if (r->sleep_cycle_irqs > 0 && r->sleep_cycle_cycles > 0)
		program = p->timer_program_ns * r->sleep_cycle_irqs / r->sleep_cycle_cycles;
	if (occupancy && r->sleep_cycle_busy && r->sleep_cycle_irqs > 0 &&
	    r->sleep_cycle_spin_switches >= 0 && r->sleep_cycle_cycles > 0) {
		derive_sleep_return_from_occupancy(r, p, occupancy, cycle, cold, program);
		return;
	}
	rest = cycle->p50 - p->syscall_ns - p->wake_local_ns - cold - p->irq_wake_ns - program;
	p->sleep_return_ns = at_least_zero(rest);
	note(r, "sleep_return", "sleep_return: median sleep_cycle minus syscall, wake_local, the "
	     "switch_cold extra at %d other threads, irq_wake and the cycle's share of "
	     "timer_program, at least 0 (%" PRId64 " - %" PRId64 " - %" PRId64 " - %" PRId64
	     " - %" PRId64 " - %" PRId64 " ns).  What a usleep(1) cycle costs in CPU time beyond "
	     "the sleep call, the cold switch to the woken thread, the interrupt's wake-up of it "
	     "and the rearming of the CPU's earliest timer is the sleeper's own: setting up its "
	     "timer and the way back from the call.  The pollers' sleeps end together, so one "
	     "interrupt ends many, and it is billed mostly to the thread it interrupts",
	     HS_CALIB_SLEEP_POLLERS - 1, cycle->p50, p->syscall_ns, p->wake_local_ns, cold,
	     p->irq_wake_ns, program);
	if (r->sleep_cycle_irqs > 0)
		note(r, "sleep_return", "  share of timer_program: %" PRId64 " ns x %" PRId64
		     " timer interrupts of CPU A / %" PRId64 " cycles", p->timer_program_ns,
		     r->sleep_cycle_irqs, r->sleep_cycle_cycles);
	else
		note(r, "sleep_return", "  share of timer_program: 0, because CPU A's timer "
		     "interrupts could not be counted (/proc/interrupts)");
	if (r->sleep_cycle_busy)
		note(r, "sleep_return", "  a SCHED_IDLE thread kept CPU A busy during the windows "
		     "(%" PRId64 " us of its CPU time), so the sleeps ended on a busy CPU, where the "
		     "model charges sleep_return", r->sleep_cycle_busy_cpu_ns / 1000);
	else
		note(r, "sleep_return", "  WARNING: SCHED_IDLE was not permitted%s, so CPU A idled "
		     "between the interrupts and the cycle includes its exits from idle.  "
		     "sleep_return may be about 0.3 us too high",
		     r->passes > 1 ? " in at least one pass" : "");
	note_sleep_return_end(r, p, rest, NULL, cycle);
}

/*
 * COST_spread: for each cost measured one call per sample, the figure's
 * p10, p90 and p99 as ratios to the key's value.  A key derived as the
 * figure minus a part charged elsewhere (wake_local minus wake_send_local)
 * keeps that part fixed: the ratio at quantile q is (figure_q - (figure
 * median - key)) / key, at least 0.01.  A cost whose key is 0 or whose
 * figure was not measured stays exact (none).
 */
/* Returns the name of what a cost's figure contains beyond the key's
 * value. */
static const char *fixed_part(enum hs_cost cost)
{
	switch (cost) {
	case HS_COST_THREAD_CREATE:
		return "thread_exit, as thread_create_join includes the join";
	case HS_COST_WAKE_LOCAL:
		return "wake_send_local, charged to the waker";
	case HS_COST_WAKE_SEND_LOCAL:
	case HS_COST_WAKE_SEND_REMOTE:
		return "the system call and the clock reads around it";
	default:
		return "a part the model charges elsewhere";
	}
}

static void derive_cost_spread(struct hs_calib_report *r, struct hs_os_profile *p)
{
	static const struct {
		enum hs_cost cost;
		const char *figure;
		size_t offset; /* of the key's value in struct hs_os_profile */
	} from[] = {
		{ HS_COST_THREAD_CREATE, "thread_create_burst",
		  offsetof(struct hs_os_profile, thread_create_ns) },
		{ HS_COST_THREAD_EXIT, "thread_exit", offsetof(struct hs_os_profile, thread_exit_ns) },
		{ HS_COST_MMAP, "stack_map_32k", offsetof(struct hs_os_profile, mmap_ns) },
		{ HS_COST_WAKE_LOCAL, "futex_wake_local",
		  offsetof(struct hs_os_profile, wake_local_ns) },
		{ HS_COST_WAKE_REMOTE, "futex_wake_remote",
		  offsetof(struct hs_os_profile, wake_remote_ns) },
		{ HS_COST_WAKE_SEND_LOCAL, "futex_wake_send_local",
		  offsetof(struct hs_os_profile, wake_send_local_ns) },
		{ HS_COST_WAKE_SEND_REMOTE, "futex_wake_send_remote",
		  offsetof(struct hs_os_profile, wake_send_remote_ns) },
	};

	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		const struct hs_calib_figure *f = measured(r, from[i].figure);
		const char *name = hs_cost_names[from[i].cost];
		int64_t key = *(const int64_t *)(const void *)((const char *)p + from[i].offset);
		struct hs_spread *sp = &p->spread[from[i].cost];
		char spread_key[64];
		double fixed, q[3];

		snprintf(spread_key, sizeof(spread_key), "%s_spread", name);
		if (from[i].cost == HS_COST_THREAD_CREATE && !f)
			f = measured(r, "thread_create_join");
		if (!f || key <= 0) {
			note(r, spread_key, "%s: none, every call costs %s exactly, because %s",
			     spread_key, name, key <= 0 ? "its value is 0" : "its figure was not measured");
			continue;
		}
		fixed = (double)(f->p50 - key);
		q[0] = ((double)f->p10 - fixed) / (double)key;
		q[1] = ((double)f->p90 - fixed) / (double)key;
		q[2] = ((double)f->p99 - fixed) / (double)key;
		for (int j = 0; j < 3; j++) {
			if (q[j] < 0.01)
				q[j] = 0.01;
			if (q[j] > HS_SPREAD_MAX)
				q[j] = HS_SPREAD_MAX;
		}
		/* Nearest-rank percentiles are ordered already, and these clamps
		 * keep p10 <= 1 <= p90 <= p99 after the ones above. */
		sp->p10 = q[0] < 1 ? q[0] : 1;
		sp->p90 = q[1] > 1 ? q[1] : 1;
		sp->p99 = q[2] > sp->p90 ? q[2] : sp->p90;
		note(r, spread_key, "%s: p10, p90 and p99 of %s over its median; a simulated call "
		     "draws its cost from them, for a mean of %.3f times %s", spread_key, f->name,
		     hs_spread_mean(sp), name);
		if (fixed > 0)
			note(r, spread_key, "  %.0f ns of the figure are charged elsewhere and kept "
			     "fixed (%s)", fixed, fixed_part(from[i].cost));
		else if (fixed < 0)
			note(r, spread_key, "  the value is %.0f ns above the figure's median (it "
			     "is at least context_switch), and that part is kept fixed", -fixed);
		note_figure(r, spread_key, f);
	}
}

/*
 * Warns, in the comment of `name`, of a figure whose median lies more than
 * a quarter above its p10.  The samples of these figures repeat one short
 * operation on a pinned CPU, so on an idle host they bunch near the
 * fastest.  A long upper half means other work on the host (another
 * tenant on a shared core, a busy sibling CPU) slowed some of them, and
 * the keys derived from the median come out too high.
 */
static void note_spread(struct hs_calib_report *r)
{
	static const char *const names[] = { "syscall", "yield_peer", "futex_wake_local",
					     "futex_wake_send_local", "sleep_cycle" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct hs_calib_figure *f = measured(r, names[i]);

		if (!f || f->p10 <= 0 || f->p50 * 4 <= f->p10 * 5)
			continue;
		note(r, "name", "WARNING: the median of %s, %" PRId64 " ns, is %" PRId64 " %% above "
		     "its p10 of %" PRId64 " ns: the host was busy or noisy while it was measured, "
		     "so the keys derived from it may be too high; calibrate again on an idle host",
		     names[i], f->p50, (f->p50 - f->p10) * 100 / f->p10, f->p10);
	}
}

void hs_calib_derive(struct hs_calib_report *r)
{
	struct hs_os_profile *p = &r->profile;

	memset(p, 0, sizeof(*p));
	memset(r->notes, 0, sizeof(r->notes));
	snprintf(p->name, sizeof(p->name), "host");
	note(r, "name", "name: OS profile of the host that ran herdsim calibrate %s: %s %s %s, "
	     "%d CPUs in the affinity mask; pinned figures used CPU %d and CPU %d",
	     HS_VERSION, r->sysname, r->release, r->machine, r->ncpus, r->cpu_a, r->cpu_b);
	if (r->passes > 1)
		note(r, "name", "Each figure was measured in %d passes; its percentiles are the "
		     "medians over the passes of each pass's nearest-rank percentiles, and each "
		     "value below is derived from medians as docs/calibration.md describes.",
		     r->passes);
	else
		note(r, "name", "Percentiles are nearest-rank over the samples; each value below is "
		     "derived from medians as docs/calibration.md describes.");

	derive_scheduler(r, p);
	derive_costs(r, p);
	derive_wakes(r, p);
	derive_timers(r, p);
	derive_switch_cold(r, p);
	derive_irq_wake(r, p);
	derive_timer_program(r, p);
	derive_timer_irq(r, p);
	derive_cost_spread(r, p);
	note_spread(r);
}

/* ---- writer ---- */

/* Writes one note line as '#' comment lines of at most COMMENT_WIDTH
 * bytes, broken at spaces; continuation lines are indented by two. */
static void write_comment_line(FILE *f, const char *line, int len)
{
	const char *prefix = "# ";

	while (len > 0) {
		int room = COMMENT_WIDTH - (int)strlen(prefix);
		int take = len;

		if (take > room) {
			take = room;
			while (take > 0 && line[take] != ' ')
				take--;
			if (take == 0)
				take = room; /* a word longer than the line: cut it */
		}
		fprintf(f, "%s%.*s\n", prefix, take, line);
		line += take;
		len -= take;
		while (len > 0 && *line == ' ') {
			line++;
			len--;
		}
		prefix = "#   ";
	}
}

static void write_comment(FILE *f, const char *text)
{
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);

		write_comment_line(f, line, len);
		line += len + (end ? 1 : 0);
	}
}

static void write_value(FILE *f, const struct hs_os_profile *p, const struct key_spec *k)
{
	const char *base = (const char *)p + k->offset;

	switch (k->type) {
	case DURATION:
		fprintf(f, "%s = %" PRId64 "ns\n", k->name, *(const int64_t *)(const void *)base);
		break;
	case INTEGER:
		fprintf(f, "%s = %d\n", k->name, *(const int *)(const void *)base);
		break;
	case RATIO:
		fprintf(f, "%s = %.4f\n", k->name, *(const double *)(const void *)base);
		break;
	case CURVE: {
		char curve[256];

		hs_cold_format(p, curve, sizeof(curve));
		fprintf(f, "%s = %s\n", k->name, curve);
		break;
	}
	case SPREAD: {
		char spread[64];

		hs_spread_format((const struct hs_spread *)(const void *)base, spread, sizeof(spread));
		fprintf(f, "%s = %s\n", k->name, spread);
		break;
	}
	case WORD:
		if (strcmp(k->name, "yield") == 0) {
			static const char *const kinds[] = { "linux", "ule", "sleep", "poll", "switch",
							     "boost" };

			fprintf(f, "%s = %s\n", k->name, kinds[p->yield_kind]);
		} else if (strcmp(k->name, "preempt") == 0) {
			static const char *const models[] = { "full", "none", "voluntary" };

			fprintf(f, "%s = %s\n", k->name, models[p->preempt]);
		} else if (strcmp(k->name, "newidle") == 0) {
			fprintf(f, "%s = %s\n", k->name,
				p->newidle == HS_NEWIDLE_PROPORTIONAL ? "proportional" : "always");
		} else {
			fprintf(f, "%s = %s\n", k->name, base);
		}
		break;
	}
}

static int write_all(FILE *f, const struct hs_calib_report *r)
{
	fprintf(f, "# OS profile measured by herdsim calibrate; see docs/calibration.md.\n"
		   "# Percentiles in the comments are in nanoseconds.\n\n[os]\n");
	for (int i = 0; i < HS_CALIB_NKEYS; i++) {
		const char *text = r->notes[i][0] ? r->notes[i] : "no note recorded";

		write_comment(f, text);
		write_value(f, &r->profile, &key_specs[i]);
		if (i + 1 < HS_CALIB_NKEYS)
			fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

int hs_calibrate_write_profile(const struct hs_calib_report *r, const char *path,
			       struct hs_error *err)
{
	char tmp[HS_PATH_MAX + 8];
	FILE *f;
	int saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return hs_error_set(err, HS_E_IO, path, 0, NULL,
				    "path is too long (more than %d bytes): choose a shorter "
				    "output path", HS_PATH_MAX - 1);
	f = fopen(tmp, "w");
	if (!f)
		return hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot create %s: %s; check "
				    "that the directory exists and is writable", tmp, strerror(errno));
	if (write_all(f, r) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		saved = errno;
		fclose(f);
		unlink(tmp);
		return hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot write %s: %s", tmp,
				    strerror(saved));
	}
	if (fclose(f) != 0) {
		saved = errno;
		unlink(tmp);
		return hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot write %s: %s", tmp,
				    strerror(saved));
	}
	if (rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		return hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot replace the file with "
				    "%s: %s; remove or rename what is at the path", tmp, strerror(saved));
	}
	return 0;
}
