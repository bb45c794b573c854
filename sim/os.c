/*
 * The OS model: cores, run queues, time slices, wake-up placement,
 * sched_yield, timed sleeps and futexes.
 *
 * Each core runs at most one thread and has a run queue.  A thread
 * keeps its core until it blocks, yields to a queued peer, exits, its
 * time slice ends while a peer is queued on the same core, or (yield =
 * linux or boost only) a woken thread preempts it.  Under yield = linux
 * the slice is the protection below, checked at the core's ticks and
 * when a thread joins its queue (arm_slice, resched_spent).  A core that becomes
 * free takes the next thread of its own queue (the pick below), else
 * steals from the longest other queue, else idles.  Under yield = linux
 * it leaves a cache-hot thread and retries at its ticks (the idle
 * balancing at LINUX_MIGRATION_COST).
 *
 * Which queued thread runs next.  Under the Linux scheduler (profiles
 * with yield = linux, EEVDF from Linux 6.6) the eligible one with the
 * earliest virtual deadline (__pick_eevdf); ties go to the earliest
 * queued.  If none is eligible (only deferred yielders, or a steal from a
 * core whose current thread has the least vruntime), the least key runs.
 * Under yield = boost the least key always runs.  vruntime is the CPU
 * time a thread was charged while on a core, and a thread is eligible
 * when its vruntime is at or below the average of its core's threads.
 * This is the fair share of kernel/sched/fair.c: a thread that sleeps
 * often and runs a few microseconds each time is owed as much CPU as one
 * that never sleeps.  A thread that blocks keeps its
 * lag, the average vruntime of its core's threads (itself included) minus
 * its own, clamped to max(2 slices, 1 tick) (update_entity_lag).  When
 * woken onto a core with n threads it is placed at their average minus
 * lag * (n + 1) / n, on an idle core at min_vruntime with no lag
 * (place_entity).  A thread moved to another core's queue keeps its
 * distance to min_vruntime.  Under yield = linux, sched_yield with peers
 * makes an eligible yielder forfeit the rest of its slice: its vruntime
 * becomes its deadline and its deadline is a slice later (yield_task_fair
 * since upstream commit 79104becf42b, also in 6.12.63 and later; the
 * validation host's 6.18.44 kernel behaves so).  Under yield = boost it moves the yielder's key one
 * slice later for the next pick only and its deadline one slice later, the
 * rule before that commit.  A thread's key is its vruntime, a slice more
 * while it is such a yielder.  Other yield kinds keep a FIFO queue.
 *
 * Wake-up preemption (yield = linux and boost).  Each thread has a
 * virtual deadline: vruntime + slice when placed (half a slice for a new
 * thread, PLACE_DEADLINE_INITIAL), moved to vruntime + slice whenever its
 * vruntime reaches it (update_deadline).  When a thread reaches a core its vprot
 * is its deadline (set_protect_slice with equal slices).  A thread woken
 * or created onto a busy core's queue takes the core when the current
 * thread is not protected (ineligible, or its vruntime at vprot) and the
 * woken thread is eligible with the earliest deadline among the eligible
 * threads of the core, the current one winning ties (__pick_eevdf as
 * check_preempt_wakeup_fair calls it).  Eligible: vruntime at or below
 * the average of the core's current and queued threads (entity_eligible).
 * The current thread goes back to the queue as preempted with the rest
 * of its burst pending; the woken one starts after `wake_local`.  When
 * the current thread is the waker itself, it is preempted at its next
 * CPU burst.  A thread still being switched in is already the current one
 * (the pick sets rq->curr and its protection), so a wake-up is checked
 * against it and it is preempted as it reaches the core.
 *
 * Delayed dequeue (yield = linux; DELAY_DEQUEUE and DELAY_ZERO, Linux 6.12
 * and later).  A thread that sleeps or blocks while not eligible stays in
 * its core's queue, asleep, and still counts in the core's average
 * vruntime.  When a pick chooses it, it leaves the queue with the lag it
 * then has, clipped to 0 when positive, and the pick goes on.  When it is
 * woken first, it is woken where it is queued, with no search for an idle
 * core: it keeps its vruntime and deadline while its lag is 0 or less, and
 * is placed afresh with lag 0 otherwise.  Idle balancing never moves it.
 * The kernel counts it in rq->nr_running, so a sched_yield or a slice end
 * with only delayed threads queued still picks: the yielder forfeits, and
 * the delayed threads the pick prefers leave the queue while the current
 * thread keeps the core (sim_drop_delayed_picks).
 * Not modelled: weights (all nice 0), buddies and PREEMPT_SHORT.
 *
 * A woken or new thread goes to its previous core if that core is idle,
 * else to the lowest-numbered idle core, else to the back of its previous
 * core's queue.  Under yield = linux a woken thread looks for an idle
 * core as select_idle_sibling does instead (idle_core_for).  Reaching an
 * idle core costs `wake_remote` (an inter-processor interrupt and idle
 * exit), or `timer_wake` when a timer woke it on its own idle core.
 * Starting from a queue costs `wake_local` after a wake-up and
 * `context_switch` otherwise.  Either adds the `switch_cold` extra
 * (cold_extra) when other threads ran there since the thread last did.
 * Timers expire in slack windows (sim_timer_irq).  A timer interrupt
 * charges `timer_irq` once, however many timers it expires, and
 * `irq_wake` per sleeper it wakes (plus the remote part of a futex wake
 * for one that goes to another core), to the
 * thread running or being switched in on the core where the timers were
 * armed, and on an idle core is part of `timer_wake` (see irq_charge).  A
 * timed sleep woken onto a busy core costs its own thread `sleep_return`
 * once it is back on the core.  One that ends on its own idle core pays
 * none, because `timer_wake` already includes that part.
 *
 * Cache lines: each hs_word carries a mask of the cores holding its line
 * (shadow[0]).  A read-modify-write or store costs `atomic_local` when
 * this core holds the line alone and `atomic_remote` otherwise; a load
 * costs 1 ns when this core holds the line and `load_remote` when another
 * core wrote it last.
 *
 * Schedule noise (request field schedule_noise = L, 0 to 0.5): every CPU
 * burst given to sim_cpu and every delay sim_place sets before a thread
 * reaches a core is multiplied by a factor uniform in [1 - L, 1 + L],
 * drawn from the HS_STREAM_NOISE stream and rounded to the nearest ns
 * (at least 1 ns for a positive burst).  The order of equal-time events
 * changes only through the perturbed times.  A run with noise is still a
 * pure function of its inputs and seed.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "sim_internal.h"

#define SLEEP_MAX_NS (INT64_MAX / 4) /* longest timed sleep or wait, in ns */
#define PELT_HALF_LIFE_NS 32000000.0 /* PELT halves a share in about 32 ms */
#define PELT_PERIOD_NS 1048576       /* PELT's period, 1024 us of 1024 ns */

static void timer_program(struct sim *s, int c);

#define LOAD_LOCAL_NS 1

/* Returns ns scaled by a noise factor drawn from the noise stream. */
static int64_t noisy_draw(struct sim *s, int64_t ns, double level)
{
	double u = hs_rng_unit(&s->rng_noise), scaled;

	scaled = (double)ns * (1.0 - level + 2.0 * level * u) + 0.5;
	return scaled < 1.0 ? 1 : (int64_t)scaled;
}

/* Returns ns scaled by a noise factor; ns itself when noise is off.  The
 * test stays inline: it runs on every CPU burst of every run. */
static inline int64_t noisy(struct sim *s, int64_t ns)
{
	double level = s->req->schedule_noise;

	if (level <= 0 || ns <= 0)
		return ns;
	return noisy_draw(s, ns, level);
}

/* The Linux fair-share scheduler applies (see the top of the file). */
static bool fair(const struct sim *s)
{
	return s->os->yield_kind == HS_YIELD_LINUX ||
	       s->os->yield_kind == HS_YIELD_BOOST;
}

/* Adds ns to t's vruntime.  A vruntime that reached the deadline gets the
 * next one a slice later (update_deadline). */
static void advance_vruntime(struct sim *s, struct sim_thread *t, int64_t ns)
{
	t->vruntime += ns;
	if (t->vruntime >= t->deadline)
		t->deadline = t->vruntime + s->os->slice_ns;
}

/* Adds the time t has been on its core since exec_start to its vruntime. */
static void charge(struct sim *s, struct sim_thread *t)
{
	/* exec_start lies ahead while an interrupt delays t's switch-in */
	if (t->exec_start >= 0 && s->now > t->exec_start) {
		advance_vruntime(s, t, s->now - t->exec_start);
		t->exec_start = s->now;
	}
}

static void util_set(struct sim *s, struct sim_core *core, bool busy);
static void pelt_touch(struct sim *s, struct sim_thread *t);

/* Adds the CPU time of core's current thread, which leaves it now, to the
 * run's total and the thread's own, and stamps when it left.  A thread
 * that leaves before reaching the core (a wake-up latency not over) used
 * none. */
static void end_busy(struct sim *s, struct sim_core *core)
{
	if (core->current)
		core->current->left_ns = s->now;
	if (core->busy_from >= 0 && s->now > core->busy_from) {
		s->cpu_ns += s->now - core->busy_from;
		if (core->current)
			core->current->cpu_ns += s->now - core->busy_from;
	}
	core->busy_from = -1;
}

/* Sum and count of the vruntimes of core c's current and queued threads,
 * the current one charged up to now; avg_vruntime is sum / n.  The queue's
 * part is kept in rq_vsum, as a queued thread's vruntime never changes. */
static int64_t vsum(struct sim *s, int c, int64_t *n)
{
	struct sim_core *core = &s->cores[c];
	int64_t sum = core->rq_vsum;

	*n = core->rq_len;
	if (core->current) {
		charge(s, core->current);
		sum += core->current->vruntime;
		(*n)++;
	}
	return sum;
}

/* entity_eligible: v at or below the average sum / n (n > 0). */
static bool eligible(int64_t v, int64_t sum, int64_t n)
{
	return v * n <= sum;
}

/* Returns the minimum vruntime of core's queued threads, INT64_MAX for an
 * empty queue, by a walk of the queue. */
static int64_t queue_min_vruntime(const struct sim_core *core)
{
	int64_t m = INT64_MAX;

	for (const struct sim_thread *t = core->rq_head; t; t = t->rq_next)
		if (t->vruntime < m)
			m = t->vruntime;
	return m;
}

void sim_update_min(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t m = INT64_MAX;

	if (core->current)
		m = core->current->vruntime;
	if (core->rq_len > 0) {
		if (!core->rq_vmin_ok) {
			core->rq_vmin = queue_min_vruntime(core);
			core->rq_vmin_ok = true;
		}
#ifdef HS_CHECK_RUNQUEUE
		assert(queue_min_vruntime(core) == core->rq_vmin);
#endif
		if (core->rq_vmin < m)
			m = core->rq_vmin;
	}
	if (m != INT64_MAX && m > core->min_vruntime)
		core->min_vruntime = m;
}

/* Marks core's cached minimum vruntime unknown when it may be t's.  Call
 * it before t, queued on core, leaves the queue or changes vruntime. */
static void vmin_invalidate(struct sim_core *core, const struct sim_thread *t)
{
	if (t->vruntime == core->rq_vmin)
		core->rq_vmin_ok = false;
}

/* Returns the lag of t on core c, t counted in the average: avg_vruntime
 * minus t's vruntime, clamped to max(2 slices, 1 tick) (update_entity_lag). */
static int64_t entity_lag(struct sim *s, struct sim_thread *t, int c)
{
	int64_t limit = 2 * s->os->slice_ns > s->os->tick_ns ? 2 * s->os->slice_ns : s->os->tick_ns;
	int64_t sum, n, lag;

	sum = vsum(s, c, &n);
	lag = sum / n - t->vruntime;
	if (lag < -limit)
		lag = -limit;
	if (lag > limit)
		lag = limit;
	return lag;
}

/* Records the lag of t, the current thread of core c, which leaves to
 * sleep, block or exit: the average vruntime of the core's threads, t
 * included, minus t's (update_entity_lag). */
static void keep_lag(struct sim *s, struct sim_thread *t, int c)
{
	t->vlag = entity_lag(s, t, c);
	t->exec_start = -1;
	sim_update_min(s, c);
}

/* The key a fair pick minimizes. */
static int64_t fair_key(const struct sim *s, const struct sim_thread *t)
{
	return t->vruntime + (t->yielded ? s->os->slice_ns : 0);
}

/*
 * Arms core c's slice check; slices are armed only while a thread is on a
 * core.  Under yield = linux the slice is the current thread's protection
 * (vruntime up to vprot).  The kernel notices that it is spent only in
 * update_curr, at the core's ticks and whenever a thread joins the queue
 * (resched_spent).  HRTICK is off by default (kernel/sched/features.h), so
 * the check is the first tick, a multiple of tick_ns, after the thread has
 * run that long, and then every tick while it keeps the core.  Other kinds
 * end the slice slice_ns after the thread reached the core.
 */
static void arm_slice(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t at = s->now + s->os->slice_ns;

	if (s->os->yield_kind == HS_YIELD_LINUX) {
		const struct sim_thread *t = core->current;
		int64_t ran = t->exec_start >= 0 && s->now > t->exec_start ? s->now - t->exec_start : 0;
		int64_t left = t->vprot - t->vruntime - ran;
		int64_t tick = s->os->tick_ns;

		if (left > 0) {
			at = s->now + left;
			if (tick > 0)
				at = (at + tick - 1) / tick * tick;
		} else if (tick > 0) {
			at = (s->now / tick + 1) * tick; /* already spent */
		}
	}
	core->slice_end = at;
	sim_schedule(s, core->slice_end, EV_SLICE, (uint32_t)c, core->gen);
}

static void rq_push(struct sim *s, int c, struct sim_thread *t)
{
	struct sim_core *core = &s->cores[c];

	t->rq_next = NULL;
	t->core = c;
	if (core->rq_tail)
		core->rq_tail->rq_next = t;
	else
		core->rq_head = t;
	core->rq_tail = t;
	if (core->rq_len == 0) {
		core->rq_vmin = t->vruntime;
		core->rq_vmin_ok = true;
	} else if (t->vruntime < core->rq_vmin) {
		core->rq_vmin = t->vruntime;
	}
	core->rq_len++;
	core->rq_vsum += t->vruntime;
	t->on_rq = true;
	pelt_touch(s, t);
	/* add_nr_running: a second thread on a CPU overloads the root domain */
	if ((core->current ? 1 : 0) + core->rq_len >= 2)
		s->overloaded = true;
}

/* Returns how many of core's queued threads can run.  Delayed ones are
 * asleep and do not count. */
static int runnable_queued(const struct sim_core *core)
{
	return core->rq_len - core->rq_delayed;
}

/* Removes and returns the thread to run next from core c's queue, NULL
 * when it is empty, by the rule of the yield kind (see the top of the
 * file).  A fair pick clears every queued yielder's mark.  Under ULE a
 * yielder still held (not_before in the future) is passed over while a
 * thread that is not held waits.  If all are held, the one released first
 * runs, so that no core idles with work queued. */
struct sim_thread *sim_rq_pick(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *prev = NULL, *pick = NULL, *pick_prev = NULL;

again:
	prev = pick = pick_prev = NULL;
	if (!core->rq_head)
		return NULL;
	if (s->os->yield_kind == HS_YIELD_LINUX) {
		int64_t sum, n;

		/* __pick_eevdf: the eligible thread with the earliest deadline.
		 * The least vruntime of the core's threads is eligible, but it
		 * may be the current one (a steal) or a deferred yielder. */
		struct sim_thread *least = NULL, *least_prev = NULL, *vmin_thread = NULL;
		int64_t least_key = 0, vmin_second = INT64_MAX;

		/* One walk finds the pick, the least key in case none is
		 * eligible, and the two least vruntimes, from which the queue's
		 * least vruntime after the pick follows. */
		sum = vsum(s, c, &n);
		for (struct sim_thread *t = core->rq_head; t; prev = t, t = t->rq_next) {
			int64_t key = fair_key(s, t);

			t->yielded = false; /* a yield defers a thread for one pick only */
			if (!least || key < least_key) {
				least = t;
				least_prev = prev;
				least_key = key;
			}
			if (!vmin_thread || t->vruntime < vmin_thread->vruntime) {
				if (vmin_thread)
					vmin_second = vmin_thread->vruntime;
				vmin_thread = t;
			} else if (t->vruntime < vmin_second) {
				vmin_second = t->vruntime;
			}
			if (eligible(key, sum, n) && (!pick || t->deadline < pick->deadline)) {
				pick = t;
				pick_prev = prev;
			}
		}
		if (!pick) { /* none eligible: the least key */
			pick = least;
			pick_prev = least_prev;
		}
		core->rq_vmin = pick == vmin_thread ? vmin_second : vmin_thread->vruntime;
		core->rq_vmin_ok = true;
	} else if (fair(s)) {
		/* boost: the least vruntime, which a woken thread usually has */
		for (struct sim_thread *t = core->rq_head; t; prev = t, t = t->rq_next) {
			if (!pick || fair_key(s, t) < fair_key(s, pick)) {
				pick = t;
				pick_prev = prev;
			}
		}
		for (struct sim_thread *t = core->rq_head; t; t = t->rq_next)
			t->yielded = false;
	} else if (s->os->yield_kind != HS_YIELD_ULE) {
		pick = core->rq_head;
	} else {
		for (struct sim_thread *t = core->rq_head; t; prev = t, t = t->rq_next) {
			if (t->not_before <= s->now) {
				pick = t;
				pick_prev = prev;
				break;
			}
			if (!pick || t->not_before < pick->not_before) {
				pick = t;
				pick_prev = prev;
			}
		}
	}
	if (pick == core->rq_head)
		pick_prev = NULL;
	/* DELAY_DEQUEUE: a picked sleeper leaves the queue instead of
	 * running, with the lag it has while still counted, clipped to 0 when
	 * positive (DELAY_ZERO), and the pick goes on. */
	if (pick->delayed) {
		pick->vlag = entity_lag(s, pick, c);
		if (pick->vlag > 0)
			pick->vlag = 0;
	}

	/* unlink */
	if (pick_prev)
		pick_prev->rq_next = pick->rq_next;
	else
		core->rq_head = pick->rq_next;
	if (core->rq_tail == pick)
		core->rq_tail = pick_prev;
	core->rq_len--;
	core->rq_vsum -= pick->vruntime;
	if (s->os->yield_kind != HS_YIELD_LINUX)
		vmin_invalidate(core, pick);
	pick->rq_next = NULL;
	pick->not_before = 0;
	pick->on_rq = false;
	if (pick->delayed) {
		pick->delayed = false;
		core->rq_delayed--;
		pelt_touch(s, pick);
		goto again;
	}
	pelt_touch(s, pick);
	return pick;
}

static void arm_load_balance(struct sim *s, int c);

/*
 * Puts t on idle core c after `delay`.  With `switching`, the delay is the
 * CPU time of a context switch on a busy core, which Linux charges to the
 * incoming thread (set_next_entity starts its exec_start at the pick).
 * Otherwise the delay is an idle core's wake-up latency, and t is charged
 * from the moment it reaches the core.
 */
static void start_on(struct sim *s, int c, struct sim_thread *t, int64_t delay, bool switching)
{
	struct sim_core *core = &s->cores[c];

	assert(core->current == NULL);
	util_set(s, core, true);
	core->current = t;
	core->on_cpu = false;
	core->gen++;
	core->oncpu_at = s->now + delay;
	t->core = c;
	t->exec_start = switching && fair(s) ? s->now : -1;
	t->vprot = t->deadline; /* set_protect_slice, at the pick */
	t->resched_to = NULL;
	core->busy_from = switching ? s->now : core->oncpu_at;
	sim_schedule(s, core->oncpu_at, EV_ONCPU, (uint32_t)c, core->gen);
	pelt_touch(s, t);
	arm_load_balance(s, c);
}

/*
 * Returns the switch_cold extra of switching t in on core c.  It is
 * hs_cold_extra() of the switches on c since t last ran there, an upper
 * bound on the distinct threads that ran meanwhile.  A thread that
 * last ran on another core pays the last point.  One that never ran pays
 * nothing, because its creator has just written its stack and task
 * structure.
 */
static int64_t cold_extra(const struct sim *s, int c, const struct sim_thread *t)
{
	if (s->os->nswitch_cold == 0 || t->ran_core < 0)
		return 0;
	if (t->ran_core != c)
		return s->os->switch_cold[s->os->nswitch_cold - 1].ns;
	return hs_cold_extra(s->os, s->cores[c].nswitch - t->ran_stamp);
}

/* Cost of starting t from a queue on core c. */
static int64_t switch_delay(struct sim *s, int c, const struct sim_thread *t)
{
	int64_t ns;

	if (s->cores[c].last == t)
		return 0;
	ns = t->woken_by_wake ? sim_cost(s, HS_COST_WAKE_LOCAL, s->os->wake_local_ns)
			      : s->os->context_switch_ns;
	return ns + cold_extra(s, c, t);
}

static void rq_remove(struct sim *s, int c, struct sim_thread *t);
static void load_update(struct sim *s, int c);
static int idle_scan_depth(struct sim *s);

/*
 * Linux's idle balancing (yield = linux).  A newly idle core pulls only a
 * thread that last ran LINUX_MIGRATION_COST ago or more (task_hot and
 * sysctl_sched_migration_cost, 500 us), and its failures do not count.
 * Otherwise the core idles and balances again at each of its ticks, as
 * the nohz idle balance does, where a cache-hot thread moves once the
 * balance has failed more than cache_nice_tries (1 in a shared-cache
 * domain) times in a row.  The candidate is the queued thread that ran
 * least recently, as detach_tasks takes from the tail of cfs_tasks.
 */
/* NOTE: kernel defaults, not read from the host, so a kernel tuned
 * otherwise (sched/migration_cost_ns in debugfs) is modelled wrong. */
#define LINUX_MIGRATION_COST 500000
#define LINUX_CACHE_NICE_TRIES 1

/* Returns the core other than c with the most runnable queued threads,
 * lowest index on ties, or -1 when no other core has one. */
static int longest_other_queue(const struct sim *s, int c)
{
	int victim = -1;

	for (int i = 0; i < s->ncores; i++)
		if (i != c && runnable_queued(&s->cores[i]) > 0 &&
		    (victim < 0 || runnable_queued(&s->cores[i]) > runnable_queued(&s->cores[victim])))
			victim = i;
	return victim;
}

/* Returns the runnable queued thread of core c that left a core longest
 * ago; one that never ran comes first.  A delayed thread is asleep and
 * stays. */
static struct sim_thread *least_recent(const struct sim *s, int c)
{
	struct sim_thread *best = NULL;

	for (struct sim_thread *u = s->cores[c].rq_head; u; u = u->rq_next)
		if (!u->delayed && (!best || u->left_ns < best->left_ns))
			best = u;
	return best;
}

static bool cache_hot(const struct sim *s, const struct sim_thread *t)
{
	return t->left_ns >= 0 && s->now - t->left_ns < LINUX_MIGRATION_COST;
}

/*
 * newidle = proportional, Linux's NI_RANDOM scheduler feature
 * (kernel/sched/fair.c, sched_balance_newidle and update_newidle_stats).
 * Each newly idle balance of an overloaded root domain is a call.  A throw
 * d of a 1024-sided die runs it when d <= 1 + ratio, and a run that
 * pulls adds 1024 / (1 + ratio), rounded, to the successes, so that the
 * successes estimate how many of the calls would have pulled had all of
 * them run.  Every 1024 calls the ratio becomes the successes, and calls
 * and successes halve: the ratio is the success rate, in 1024ths, of
 * about the last 1024 calls.  A balance that does not run leaves the core
 * idle until its next idle balance, as a failed one does.
 * NOTE: the NI_RATE term of later kernels is left out.  It raises the
 * ratio of a core that balances fewer than 128 times a second, and adds
 * about 40 in 1024 at the thousands of balances a second where the die
 * matters.
 */
#define NEWIDLE_DIE_SIDES 1024u
#define NEWIDLE_WINDOW 1024u /* calls between two updates of the ratio */

/* Counts one newly idle call of core that added `success` successes. */
static void newidle_stats(struct sim_core *core, unsigned success)
{
	core->ni_call++;
	core->ni_success += success;
	if (core->ni_call >= NEWIDLE_WINDOW) {
		core->ni_ratio = core->ni_success;
		core->ni_call /= 2;
		core->ni_success /= 2;
	}
}

/*
 * A core's average idle time, Linux's rq->avg_idle (update_avg in
 * kernel/sched/core.c).  A newly idle balance stamps when the core's idle
 * time began, and a pull clears the stamp.  The next wake-up placed on the
 * core takes the time since the stamp as a sample: the average moves an
 * eighth of the way to it (integer division, as the kernel's s64
 * arithmetic) and is capped at sim_avg_idle_cap.  A new thread's first
 * placement is not a wake-up (wake_up_new_task) and takes no sample; nor
 * does the wake-up of a thread still queued (ttwu_runnable).  Every core
 * starts at the cap, the value of a CPU that has idled for long.
 *
 * A newly idle balance is skipped while the average is below the
 * profile's newidle_cost (avg_idle < max_newidle_lb_cost in
 * sched_balance_newidle), with either newidle kind.  The kernel's figure
 * is the largest balance cost the domain has seen, decayed by 1 % a
 * second.  herdsim calibrate measures it as the shortest idle period at
 * which a newly idle CPU pulls threads, and the model keeps it constant.
 */
int64_t sim_avg_idle_cap(const struct sim *s)
{
	int64_t cost = s->os->newidle_cost_ns;

	return 2 * (cost > LINUX_MIGRATION_COST ? cost : LINUX_MIGRATION_COST);
}

/* Takes core c's idle time since its stamp as a sample of its average idle
 * time, at a wake-up placed on c. */
static void idle_sample(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t cap;

	if (core->idle_stamp < 0)
		return;
	core->avg_idle += (s->now - core->idle_stamp - core->avg_idle) / 8;
	cap = sim_avg_idle_cap(s);
	if (core->avg_idle > cap)
		core->avg_idle = cap;
	core->idle_stamp = -1;
}

/* Returns whether some core has more than one thread, current included:
 * the overload flag that update_sd_lb_stats writes at the top domain. */
static bool any_overloaded(const struct sim *s)
{
	for (int i = 0; i < s->ncores; i++)
		if ((s->cores[i].current ? 1 : 0) + s->cores[i].rq_len > 1)
			return true;
	return false;
}

/*
 * Runs core c's newly idle balance under yield = linux.  Returns the queued
 * thread of core victim (-1: none) to pull, or NULL when the core stays
 * idle.  With newidle = always the balance always runs and pulls the
 * least recent thread unless it is cache-hot.  With proportional it runs
 * only while the root domain is overloaded and the die allows it.  With
 * either, it does not run while the core's average idle time is below
 * newidle_cost.
 */
static struct sim_thread *newidle_pull(struct sim *s, int c, int victim)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *t = victim >= 0 ? least_recent(s, victim) : NULL;
	unsigned weight;

	core->idle_stamp = s->now;
	if (s->os->newidle != HS_NEWIDLE_PROPORTIONAL) {
		if (core->avg_idle < s->os->newidle_cost_ns || !t || cache_hot(s, t))
			return NULL;
		core->idle_stamp = -1;
		return t;
	}
	if (!s->overloaded || core->avg_idle < s->os->newidle_cost_ns)
		return NULL;
	weight = 1 + core->ni_ratio;
	if ((unsigned)hs_rng_below(&s->rng_sched, NEWIDLE_DIE_SIDES) > weight) {
		newidle_stats(core, 0);
		return NULL;
	}
	weight = (NEWIDLE_DIE_SIDES + weight / 2) / weight;
	s->overloaded = any_overloaded(s);
	if (t && cache_hot(s, t))
		t = NULL;
	newidle_stats(core, t ? weight : 0);
	if (t)
		core->idle_stamp = -1;
	return t;
}

/* Schedules core c's next idle balance at its next tick (tick_ns is at
 * least 1 us by the profile's range). */
static void arm_balance(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t tick = s->os->tick_ns;

	if (core->balance_armed)
		return;
	core->balance_armed = true;
	sim_schedule(s, (s->now / tick + 1) * tick, EV_BALANCE, (uint32_t)c, 0);
}

/*
 * Arms the idle balance of every idle core.  A Linux wake-up may queue a
 * thread on a busy core while another core idles, because the search
 * for an idle core is cut short.  That idle core went idle with nothing
 * to take and has no balance pending, so without this it would not look
 * at the queue again until its own threads woke.  Linux's busy core kicks
 * the nohz idle balance at its tick when it has more than one thread
 * (nohz_balancer_kick).
 */
static void arm_idle_balances(struct sim *s)
{
	for (int c = 0; c < s->ncores; c++)
		if (s->cores[c].current == NULL)
			arm_balance(s, c);
}

/* Moves t from core victim's queue to idle core c and starts it there,
 * keeping its distances to min_vruntime.  The move clears its yield
 * mark, as a pick does. */
static void steal(struct sim *s, int c, int victim, struct sim_thread *t)
{
	int64_t shift = s->cores[c].min_vruntime - s->cores[victim].min_vruntime;

	rq_remove(s, victim, t);
	t->yielded = false;
	t->vruntime += shift;
	t->deadline += shift;
	start_on(s, c, t, switch_delay(s, c, t), true);
}

void sim_dispatch(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *t;
	int64_t shift;

	sim_update_min(s, c);
	t = sim_rq_pick(s, c);

	if (!t) {
		int victim = longest_other_queue(s, c);

		if (s->os->yield_kind == HS_YIELD_LINUX) {
			/* newidle balance: when it leaves a queued thread, the
			 * core tries again at its ticks */
			t = newidle_pull(s, c, victim);
			if (!t) {
				util_set(s, core, false);
				if (victim >= 0)
					arm_balance(s, c);
				return;
			}
			steal(s, c, victim, t);
			return;
		}
		if (victim < 0) {
			util_set(s, core, false); /* idle */
			return;
		}
		t = sim_rq_pick(s, victim);
		/* keep its distances to min_vruntime on the new core */
		shift = core->min_vruntime - s->cores[victim].min_vruntime;
		t->vruntime += shift;
		t->deadline += shift;
	}
	start_on(s, c, t, switch_delay(s, c, t), true);
}

/*
 * Linux's periodic load balance (sched_balance_domains).  The model keeps
 * its timing and one effect.  Each balance writes the limit of the search
 * for an idle core from the cores' utilization at that moment
 * (update_idle_cpu_scan), and wake-ups read it until the next one.  A
 * core balances at a tick at least its interval after its last balance.
 * The interval is the domain's balance_interval, times busy_factor (16)
 * on a busy core, in whole ticks rounded up (msecs_to_jiffies) and at
 * most HZ * ncores / 10 ticks (max_load_balance_interval).  An idle core
 * balances at the ticks of its idle balance (EV_BALANCE), a busy one at
 * its EV_LOAD_BALANCE.  The interval returns to its minimum after a
 * balance that found a busier core and doubles, up to twice the minimum,
 * after one that did not (sched_balance_rq).
 * NOTE: a busy core's balance moves no thread here; Linux's may pull
 * queued threads from a busier core.
 */
#define LINUX_BUSY_FACTOR 16

/* Returns core c's balance interval in ticks. */
static int64_t lb_ticks(const struct sim *s, int c, bool busy)
{
	int64_t tick = s->os->tick_ns;
	int64_t ns = s->cores[c].lb_interval * (busy ? LINUX_BUSY_FACTOR : 1);
	int64_t n = (ns + tick - 1) / tick;
	int64_t max = (int64_t)s->ncores * 100000000 / tick;

	if (n > max)
		n = max;
	return n > 1 ? n : 1;
}

/* Returns whether core c's periodic balance is due at the tick `now`. */
static bool lb_due(const struct sim *s, int c, bool busy)
{
	int64_t tick = s->os->tick_ns;
	int64_t last = s->cores[c].lb_last;

	return last == INT64_MIN || s->now / tick >= last / tick + lb_ticks(s, c, busy);
}

/* Returns whether a core other than c has more than one runnable thread
 * and a higher PELT load than c: the busiest group that
 * sched_balance_find_src_group would find. */
static bool busier_core(struct sim *s, int c)
{
	load_update(s, c);
	for (int i = 0; i < s->ncores; i++) {
		const struct sim_core *o = &s->cores[i];

		if (i == c || (o->current ? 1 : 0) + runnable_queued(o) < 2)
			continue;
		load_update(s, i);
		if (o->load > s->cores[c].load)
			return true;
	}
	return false;
}

/* Runs core c's periodic balance: writes the search limit and tunes the
 * interval. */
static void periodic_balance(struct sim *s, int c, bool imbalanced)
{
	struct sim_core *core = &s->cores[c];

	core->lb_last = s->now;
	s->nr_idle_scan = idle_scan_depth(s);
	if (imbalanced)
		core->lb_interval = LINUX_LB_MIN_INTERVAL(s->ncores);
	else if (core->lb_interval < 2 * LINUX_LB_MIN_INTERVAL(s->ncores))
		core->lb_interval *= 2;
}

/* Schedules busy core c's next periodic balance, at the first tick after
 * now that is due. */
static void arm_load_balance(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t tick = s->os->tick_ns;
	int64_t at = (s->now / tick + 1) * tick;

	if (core->lb_armed || s->os->yield_kind != HS_YIELD_LINUX)
		return;
	if (core->lb_last != INT64_MIN) {
		int64_t due = (core->lb_last / tick + lb_ticks(s, c, true)) * tick;

		if (due > at)
			at = due;
	}
	core->lb_armed = true;
	sim_schedule(s, at, EV_LOAD_BALANCE, (uint32_t)c, 0);
}

void sim_load_balance(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];

	core->lb_armed = false;
	if (!core->current)
		return; /* an idle core balances at its idle balance's ticks */
	if (lb_due(s, c, true))
		periodic_balance(s, c, busier_core(s, c));
	arm_load_balance(s, c);
}

void sim_idle_balance(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *t;
	int victim;

	core->balance_armed = false;
	s->overloaded = any_overloaded(s);
	victim = core->current ? -1 : longest_other_queue(s, c);
	if (!core->current && lb_due(s, c, false))
		periodic_balance(s, c, victim >= 0);
	if (victim < 0) {
		core->balance_failed = 0;
		return;
	}
	t = least_recent(s, victim);
	if (cache_hot(s, t) && core->balance_failed <= LINUX_CACHE_NICE_TRIES) {
		core->balance_failed++;
		arm_balance(s, c);
		return;
	}
	core->balance_failed = 0;
	steal(s, c, victim, t);
}

/* The core with the shortest queue, lowest index on ties. */
static int shortest_queue(const struct sim *s)
{
	int c = 0;

	for (int i = 1; i < s->ncores; i++)
		if (runnable_queued(&s->cores[i]) < runnable_queued(&s->cores[c]))
			c = i;
	return c;
}

static void util_update(struct sim *s, struct sim_core *core);
static double cpu_util(struct sim *s, int c);

/* Group types of find_idlest_group, in Linux's order: a lower one is
 * idler. */
enum { GROUP_HAS_SPARE = 0, GROUP_FULLY_BUSY = 1, GROUP_OVERLOADED = 2 };

/* The one-core scheduling group statistics that fork balancing reads. */
struct fork_group {
	int type;
	int idle;     /* idle_cpus: 1 when the core has no thread */
	int64_t load; /* avg_load, taken as 1024 per thread on the core */
	double util;
};

/*
 * Fills g for core c, as group_classify does with one CPU per group and
 * imbalance_pct 117.  A core is overloaded when more than one thread is
 * on it and its utilization exceeds 100/117 of its capacity.  It is fully
 * busy when one thread is on it and the utilization does, and otherwise
 * it has spare capacity.  The utilization is cpu_util's, which counts
 * each new thread's initial share (pelt_init), so a few queued children
 * make their creator's core overloaded and later ones go to another core.
 * The runnable_avg tests of group_is_overloaded and group_has_capacity
 * are left out, as the model tracks no runnable average per core.
 */
static void fork_group_of(struct sim *s, int c, struct fork_group *g)
{
	struct sim_core *core = &s->cores[c];
	int nr = (core->current ? 1 : 0) + runnable_queued(core);
	bool full;

	g->util = cpu_util(s, c);
	g->idle = nr == 0;
	g->load = (int64_t)nr * 1024;
	full = g->util * 117 > 100;
	g->type = nr > 1 && full ? GROUP_OVERLOADED : nr >= 1 && full ? GROUP_FULLY_BUSY
								   : GROUP_HAS_SPARE;
}

/*
 * Returns the core for a new thread created on core `parent` under
 * yield = linux: sched_balance_find_dst_cpu and find_idlest_group
 * (kernel/sched/fair.c, SD_BALANCE_FORK) with one core per group.  The
 * idlest other core is the one of the lowest type.  Among cores with spare
 * capacity an idle one wins, then the one of least utilization, and among
 * busy ones the one of least load.  Ties go to the first core after
 * `parent`, wrapping, because Linux lists a domain's groups from the local
 * CPU's (build_sched_groups, for_each_cpu_wrap) and update_pick_idlest
 * keeps the earlier one.  The thread stays on its parent's core unless
 * that core is of a busier type than the idlest one.  Of the same type,
 * it moves when both have spare capacity and only the other core is idle,
 * or when both are busy and its load exceeds the other's by more than
 * 17 %.  So early in a run, while utilization is low, new threads queue
 * behind their creator unless a core is idle.
 */
static int fork_core(struct sim *s, int parent)
{
	struct fork_group local, best = { 0 }, g;
	int idlest = -1;

	fork_group_of(s, parent, &local);
	for (int k = 1; k < s->ncores; k++) {
		int c = (parent + k) % s->ncores;

		fork_group_of(s, c, &g);
		if (idlest < 0 || g.type < best.type ||
		    (g.type == best.type &&
		     (g.type == GROUP_HAS_SPARE
			      ? g.idle > best.idle || (g.idle == best.idle && g.util < best.util)
			      : g.load < best.load))) {
			idlest = c;
			best = g;
		}
	}
	if (idlest < 0 || local.type < best.type)
		return parent;
	if (local.type > best.type)
		return idlest;
	if (local.type == GROUP_HAS_SPARE)
		return local.idle >= best.idle ? parent : idlest;
	if (best.load >= local.load + 1024 * 17 / 100 || 100 * local.load <= 117 * best.load)
		return parent;
	return idlest;
}

/* place_entity: sets t's vruntime and deadline for joining core c.  On a
 * core with n threads, the average vruntime minus the kept lag scaled by
 * (n + 1) / n, so that the lag survives t's own weight in the average; on
 * an idle core min_vruntime, lag dropped (the kernel applies lag only to a
 * non-empty queue).  The deadline is a slice later, half a slice for a
 * new thread (PLACE_DEADLINE_INITIAL). */
static void place_entity(struct sim *s, struct sim_thread *t, int c, bool initial)
{
	int64_t sum, n;

	sim_update_min(s, c);
	sum = vsum(s, c, &n);
	if (n > 0)
		t->vruntime = sum / n - t->vlag * (n + 1) / n;
	else
		t->vruntime = s->cores[c].min_vruntime;
	t->deadline = t->vruntime + (initial ? s->os->slice_ns / 2 : s->os->slice_ns);
}

/* Unlinks t from core c's queue. */
static void rq_remove(struct sim *s, int c, struct sim_thread *t)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *prev = NULL;

	for (struct sim_thread *u = core->rq_head; u; prev = u, u = u->rq_next) {
		if (u != t)
			continue;
		if (prev)
			prev->rq_next = t->rq_next;
		else
			core->rq_head = t->rq_next;
		if (core->rq_tail == t)
			core->rq_tail = prev;
		core->rq_len--;
		core->rq_vsum -= t->vruntime;
		vmin_invalidate(core, t);
		t->rq_next = NULL;
		t->on_rq = false;
		pelt_touch(s, t);
		return;
	}
}

/* Returns whether t runs kernel code that its kernel does not preempt
 * (preempt = none or voluntary).  A preemption of t then waits for its
 * return to user space, its first CPU burst after the section. */
static bool kernel_held(const struct sim *s, const struct sim_thread *t)
{
	return t->in_kernel > 0 && s->os->preempt != HS_PREEMPT_FULL;
}

/* Takes core c from its current thread cur, whose CPU burst has `left` ns
 * to go, queues cur as preempted, and starts `next` if it is still queued
 * on c, else the usual pick. */
static void preempt_current(struct sim *s, int c, struct sim_thread *cur, int64_t left,
			    struct sim_thread *next)
{
	struct sim_core *core = &s->cores[c];
	bool queued = false;

	/* running -> runnable (preempt): the rest of the burst waits */
	charge(s, cur);
	end_busy(s, core);
	cur->exec_start = -1;
	cur->pending_ns = left;
	cur->resched_to = NULL;
	cur->gen++;
	s->preemptions++;
	cur->preempted++;
	sim_set_state(s, cur, HS_TS_RUNNABLE, HS_R_PREEMPT, SIM_NONE);
	core->current = NULL;
	core->on_cpu = false;
	core->gen++;
	rq_push(s, c, cur);
	for (struct sim_thread *u = core->rq_head; next && u; u = u->rq_next)
		queued |= u == next;
	if (!queued) {
		sim_dispatch(s, c);
		return;
	}
	sim_update_min(s, c);
	rq_remove(s, c, next);
	next->not_before = 0;
	start_on(s, c, next, switch_delay(s, c, next), true);
}

/*
 * Returns the pick of a Linux schedule() on core c whose current thread
 * cur is no longer protected, or NULL when cur keeps the core.  The pick
 * is the eligible thread with the earliest deadline among the queued ones
 * and cur, and cur wins ties.  Delayed sleepers the pick prefers leave the
 * queue on the way, as in sim_rq_pick.  When cur keeps the core its
 * protection stays spent, because set_next_entity runs only for another
 * thread.
 */
static struct sim_thread *resched_pick(struct sim *s, int c, struct sim_thread *cur)
{
	struct sim_core *core = &s->cores[c];

	for (;;) {
		struct sim_thread *best = NULL;
		int64_t sum, n;

		sum = vsum(s, c, &n);
		for (struct sim_thread *u = core->rq_head; u; u = u->rq_next)
			if (eligible(fair_key(s, u), sum, n) && (!best || u->deadline < best->deadline))
				best = u;
		if (!best || (eligible(cur->vruntime, sum, n) && cur->deadline <= best->deadline))
			return NULL;
		if (!best->delayed)
			return best;
		best->vlag = entity_lag(s, best, c);
		if (best->vlag > 0)
			best->vlag = 0;
		rq_remove(s, c, best);
		best->delayed = false;
		core->rq_delayed--;
	}
}

/*
 * Drops from core c's queue the delayed sleepers that a Linux schedule()
 * prefers to the current thread t, when no queued thread is runnable.  The
 * kernel counts delayed sleepers in rq->nr_running, so a sched_yield with
 * only delayed peers still reaches __pick_eevdf.  t keeps the core with no
 * switch, because resched_pick finds no runnable thread to return.
 */
void sim_drop_delayed_picks(struct sim *s, int c, struct sim_thread *t)
{
	struct sim_thread *next = resched_pick(s, c, t);

	assert(!next);
	(void)next;
}

/*
 * Reschedules core c as update_curr does under yield = linux: when the
 * current thread has run past its protection (vruntime at vprot) and
 * another thread, runnable or delayed, is queued there.  The picked thread
 * takes the core at once when the current thread is in a CPU burst.  When
 * the current thread is the caller, or runs kernel code that its kernel
 * does not preempt (kernel_held), the picked thread takes the core at the
 * current thread's next burst outside such code.
 */
static void resched_spent(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *cur = core->current, *next;

	if (!cur || !core->on_cpu || cur->state != HS_TS_RUNNING || core->rq_len == 0)
		return;
	charge(s, cur);
	if (cur->vruntime < cur->vprot)
		return;
	next = resched_pick(s, c, cur);
	if (!next)
		return;
	if (cur == s->running || kernel_held(s, cur)) {
		cur->resched_to = next;
		return;
	}
	preempt_current(s, c, cur, cur->burst_end - s->now, next);
}

/*
 * Wake-up preemption of EEVDF (check_preempt_wakeup_fair, renamed
 * wakeup_preempt_fair, and __pick_eevdf with protection): w was just
 * queued on core c.  The current thread keeps the core while it is
 * eligible and its vruntime is below vprot (RUN_TO_PARITY: vprot is its
 * deadline when it was picked, all slices being equal).  Otherwise, if w
 * is eligible and has the earliest deadline among the eligible threads of
 * the core, the current one included and winning ties, w takes the core:
 * at once when the current thread is in a CPU burst, at the current
 * thread's next burst when it is the waker itself or runs kernel code
 * that its kernel does not preempt (kernel_held).  Under yield = linux,
 * if the current thread has spent its protection, the core reschedules
 * even when w is not the pick (resched_spent), because update_curr in the
 * enqueue runs before this check.
 */
static void wakeup_preempt(struct sim *s, int c, struct sim_thread *w)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *cur = core->current, *best = NULL;
	int64_t sum, n;

	if (!cur || (core->on_cpu && cur->state != HS_TS_RUNNING))
		return;
	sum = vsum(s, c, &n);
	if (s->os->yield_kind == HS_YIELD_LINUX && core->on_cpu && cur->vruntime >= cur->vprot) {
		resched_spent(s, c);
		return;
	}
	if (eligible(cur->vruntime, sum, n)) {
		if (cur->vruntime < cur->vprot)
			return;
		best = cur;
	}
	if (!eligible(w->vruntime, sum, n))
		return;
	for (struct sim_thread *u = core->rq_head; u; u = u->rq_next)
		if (eligible(u->vruntime, sum, n) && (!best || u->deadline < best->deadline))
			best = u;
	if (best != w)
		return;
	if (!core->on_cpu || cur == s->running || kernel_held(s, cur)) {
		cur->resched_to = w;
		return;
	}
	preempt_current(s, c, cur, cur->burst_end - s->now, w);
}

/*
 * Brings core's PELT utilization up to now: its share of time with a
 * thread, decayed with a half-life of 32 ms (kernel/sched/pelt.c), over
 * util_at to now in the state util_busy.
 */
static void util_update(struct sim *s, struct sim_core *core)
{
	int64_t dt = s->now - core->util_at;
	double keep;

	if (dt <= 0)
		return;
	keep = exp2(-(double)dt / PELT_HALF_LIFE_NS);
	core->util = core->util * keep + (core->util_busy ? 1.0 - keep : 0.0);
	core->util_at = s->now;
}

/* Records that core turns busy or idle now.  A switch from one thread to
 * the next leaves the state as it is and costs nothing.  Only the Linux
 * wake-up search reads the utilization. */
static void util_set(struct sim *s, struct sim_core *core, bool busy)
{
	if (s->os->yield_kind != HS_YIELD_LINUX || busy == core->util_busy)
		return;
	util_update(s, core);
	core->util_busy = busy;
}

/* Brings core c's load (the decayed count of threads queued there) up to
 * now, with the count load_n held since load_at. */
static void load_update(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t dt = s->now - core->load_at;

	if (dt > 0) {
		double keep = exp2(-(double)dt / PELT_HALF_LIFE_NS);

		core->load = core->load * keep + core->load_n * (1.0 - keep);
		core->load_at = s->now;
	}
}

/* Records core c's count of queued threads after a change that may have
 * altered it.  The load is brought up to now only when the count changes,
 * because decaying over one stretch of a constant count gives the same
 * load as decaying over its parts. */
static void load_sync(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int n = (core->current ? 1 : 0) + core->rq_len;

	if (n == core->load_n)
		return;
	load_update(s, c);
	core->load_n = n;
}

double sim_util_est(double est, double util, double runnable)
{
	const double margin = 1.0 / 100; /* UTIL_EST_MARGIN */

	if (est <= util)
		return util;
	if (est - util < margin || util + margin < runnable)
		return est;
	return est - (est - util) / 4;
}

/* Revises t's estimate as util_est_update does when t goes to sleep.  The
 * estimate is left alone while no PELT period has ended since it was
 * written (UTIL_AVG_UNCHANGED). */
static void util_est_update(struct sim_thread *t)
{
	if (t->est_fresh)
		return;
	t->util_est = sim_util_est(t->util_est, t->util, t->runnable);
	t->est_fresh = true;
}

/*
 * Records a change of t's state (running, queued, delayed or its core) and
 * moves its util_est and load to the core where they now count.  The PELT
 * shares are brought up to now only when t starts or stops running or
 * being runnable, because they decay alike over one stretch of a constant
 * state and over its parts.  A thread that stops running without staying
 * runnable ends an activation.  Its util_est is then revised after it
 * leaves the core's sum, as dequeue_task_fair does.  Does nothing unless
 * yield = linux.
 */
static void pelt_touch(struct sim *s, struct sim_thread *t)
{
	bool run, runnable;
	int core, est_core;

	if (s->os->yield_kind != HS_YIELD_LINUX)
		return;
	core = t->core >= 0 && t->core < s->ncores ? t->core : SIM_NONE;
	run = core != SIM_NONE && s->cores[core].current == t;
	runnable = run || (t->on_rq && !t->delayed);
	if ((run != t->pelt_run || runnable != t->pelt_runnable) && s->now > t->pelt_at) {
		double keep = exp2(-(double)(s->now - t->pelt_at) / PELT_HALF_LIFE_NS);

		t->util = t->util * keep + (t->pelt_run ? 1.0 - keep : 0.0);
		t->runnable = t->runnable * keep + (t->pelt_runnable ? 1.0 - keep : 0.0);
		if (s->now / PELT_PERIOD_NS != t->pelt_at / PELT_PERIOD_NS)
			t->est_fresh = false; /* util_avg was recomputed */
		t->pelt_at = s->now;
	}
	est_core = runnable ? core : SIM_NONE;
	if (t->est_core != est_core && t->est_core != SIM_NONE)
		s->cores[t->est_core].util_est_sum -= t->util_est;
	if (t->pelt_run && !runnable)
		util_est_update(t);
	if (t->est_core != est_core && est_core != SIM_NONE)
		s->cores[est_core].util_est_sum += t->util_est;
	t->est_core = est_core;
	t->pelt_run = run;
	t->pelt_runnable = runnable;
	if (t->load_core != SIM_NONE)
		load_sync(s, t->load_core);
	if (core != SIM_NONE && core != t->load_core)
		load_sync(s, core);
	t->load_core = (run || t->on_rq) ? core : SIM_NONE;
}

#ifdef HS_CHECK_RUNQUEUE
void sim_check_pelt(const struct sim *s)
{
	if (s->os->yield_kind != HS_YIELD_LINUX)
		return;
	for (int c = 0; c < s->ncores; c++) {
		const struct sim_core *core = &s->cores[c];
		double sum = 0;

		for (int i = 0; i < s->nthreads; i++) {
			const struct sim_thread *u = s->threads[i];
			bool runnable = u->core == c && (core->current == u || (u->on_rq && !u->delayed));

			assert(runnable == (u->est_core == c));
			if (u->est_core == c)
				sum += u->util_est;
		}
		assert(fabs(sum - core->util_est_sum) < 1e-9);
		assert(core->load_n == (core->current ? 1 : 0) + core->rq_len);
	}
}
#endif

/*
 * Sets the PELT shares of a new thread joining core c, as
 * post_init_entity_util_avg and attach_entity_load_avg do.  Its util (and
 * runnable) starts at the core's util over its load, at most half the
 * core's spare capacity.  On a core of no util it is half a CPU, and on a
 * full core nothing.  The core's util and load take the thread's share at
 * once, as a CPU's do in Linux.
 */
static void pelt_init(struct sim *s, struct sim_thread *t, int c)
{
	struct sim_core *core = &s->cores[c];
	double cap, init = 0;

	if (s->os->yield_kind != HS_YIELD_LINUX)
		return;
	util_update(s, core);
	load_update(s, c);
	cap = (1.0 - core->util) / 2;
	if (cap > 0)
		init = core->util > 0 ? fmin(core->util / (core->load + 1.0 / 1024), cap) : cap;
	t->util = t->runnable = init;
	t->util_est = 0;
	t->est_fresh = false;
	t->pelt_run = t->pelt_runnable = false;
	t->est_core = t->load_core = SIM_NONE;
	t->pelt_at = s->now;
	core->util += init;
	core->load += 1.0;
}

/* Returns core c's utilization as cpu_util_cfs does: its PELT util or,
 * when higher, the util_est of its runnable threads, at most one CPU. */
static double cpu_util(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];

	util_update(s, core);
	return fmin(1.0, fmax(core->util, core->util_est_sum));
}

int sim_idle_scan_depth(double util, int ncores)
{
	double x = 1.17 * util, y = ncores * (1.0 - x * x);

	return y > 0 ? (int)y : 0;
}

/* Returns sim_idle_scan_depth for this run's cores, their utilization
 * brought up to now.  Wake-ups read it as the periodic balances wrote it
 * (nr_idle_scan), not as it is now. */
static int idle_scan_depth(struct sim *s)
{
	double sum = 0;

	for (int c = 0; c < s->ncores; c++)
		sum += cpu_util(s, c);
	return sim_idle_scan_depth(sum / s->ncores, s->ncores);
}

static bool any_idle_core(const struct sim *s)
{
	for (int c = 0; c < s->ncores; c++)
		if (s->cores[c].current == NULL)
			return true;
	return false;
}

/*
 * Returns the idle core a woken thread goes to, or -1 for the queue of
 * its previous core.  Linux (select_idle_sibling): the previous core, then
 * the one before it (recent_used_cpu), then a search of idle_scan_depth
 * other cores from the next one up.  Other kinds: the previous core,
 * else the lowest-numbered idle one.
 */
static int idle_core_for(struct sim *s, struct sim_thread *t, int prev)
{
	if (s->os->yield_kind == HS_YIELD_LINUX && prev >= 0 && prev < s->ncores) {
		int recent;
		int depth;

		if (s->cores[prev].current == NULL)
			return prev;
		/* recent_used_cpu moves on only when the previous core is busy */
		recent = t->recent_core;
		t->recent_core = prev;
		if (recent >= 0 && recent != prev && s->cores[recent].current == NULL)
			return recent;
		if (!any_idle_core(s))
			return -1; /* the search could find nothing */
		depth = s->nr_idle_scan;
		for (int k = 1; k < s->ncores && k <= depth; k++)
			if (s->cores[(prev + k) % s->ncores].current == NULL)
				return (prev + k) % s->ncores;
		return -1;
	}
	if (prev >= 0 && prev < s->ncores && s->cores[prev].current == NULL)
		return prev;
	for (int i = 0; i < s->ncores; i++)
		if (s->cores[i].current == NULL)
			return i;
	return -1;
}

/*
 * Wakes t on core c, where it is still queued as delayed, with no search
 * for an idle core (requeue_delayed_entity under DELAY_ZERO).  t keeps its
 * vruntime and deadline unless its lag has turned positive, and is then
 * placed afresh with no lag.  Returns false, with t no longer queued, if c
 * has no current thread, which the picks rule out.
 */
static bool requeue_delayed(struct sim *s, struct sim_thread *t, bool from_wake)
{
	int c = t->core;
	struct sim_core *core = &s->cores[c];
	int64_t lag = entity_lag(s, t, c);

	t->delayed = false;
	core->rq_delayed--;
	pelt_touch(s, t);
	if (!core->current) {
		rq_remove(s, c, t);
		t->vlag = lag > 0 ? 0 : lag;
		return false;
	}
	t->woken_by_wake = from_wake;
	if (lag > 0) {
		rq_remove(s, c, t);
		t->vlag = 0;
		place_entity(s, t, c, false);
		rq_push(s, c, t);
	}
	arm_idle_balances(s);
	wakeup_preempt(s, c, t);
	return true;
}

void sim_place(struct sim *s, struct sim_thread *t, bool from_wake, bool from_timer)
{
	int prev, idle;
	bool initial;

	t->timer_woke_idle = false;
	if (t->delayed && requeue_delayed(s, t, from_wake))
		return;
	prev = t->core;
	initial = prev < 0 || prev >= s->ncores;
	if (initial && s->os->yield_kind == HS_YIELD_LINUX && t->fork_parent >= 0 &&
	    t->fork_parent < s->ncores) {
		/* a new thread with a creator: fork balancing */
		prev = fork_core(s, t->fork_parent);
		idle = s->cores[prev].current == NULL ? prev : -1;
	} else {
		idle = idle_core_for(s, t, prev);
		if (idle < 0 && initial)
			prev = shortest_queue(s); /* a new thread */
	}

	t->woken_by_wake = from_wake;
	if (initial)
		pelt_init(s, t, idle >= 0 ? idle : prev);
	place_entity(s, t, idle >= 0 ? idle : prev, initial);
	if (!initial)
		idle_sample(s, idle >= 0 ? idle : prev);
	if (idle >= 0) {
		int64_t delay = (from_timer && idle == prev)
					? s->os->timer_wake_ns
					: sim_cost(s, HS_COST_WAKE_REMOTE, s->os->wake_remote_ns);

		t->timer_woke_idle = from_timer && idle == prev;

		start_on(s, idle, t, noisy(s, delay), false);
		return;
	}
	rq_push(s, prev, t);
	if (s->os->yield_kind == HS_YIELD_LINUX)
		arm_idle_balances(s);
	if (fair(s))
		wakeup_preempt(s, prev, t);
}

void sim_on_cpu(struct sim *s, int c, uint32_t gen)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *t = core->current;

	if (gen != core->gen || !t)
		return;
	core->on_cpu = true;
	if (core->last != t) {
		s->switches++;
		core->nswitch++;
	}
	if (t->ran_core >= 0 && t->ran_core != c)
		s->migrations++;
	t->ran_core = c;
	t->ran_stamp = core->nswitch;
	core->last = t;
	if (t->exec_start < 0)
		t->exec_start = s->now;
	if (t->woken_by_wake) {
		if (t->wake_rec >= 0)
			s->out->wakes.data[t->wake_rec].latency_ns = s->now - t->wake_time;
		t->woken_by_wake = false;
	}
	sim_set_state(s, t, HS_TS_RUNNING, HS_R_WORK, SIM_NONE);
	arm_slice(s, c);
	if (t->resched_to && !kernel_held(s, t)) {
		/* a wake-up while t was being switched in chose another thread:
		 * t reschedules as soon as it reaches the core */
		struct sim_thread *w = t->resched_to;
		bool queued = false;

		for (struct sim_thread *u = core->rq_head; u; u = u->rq_next)
			queued |= u == w;
		t->resched_to = NULL;
		if (queued) {
			preempt_current(s, c, t, t->pending_ns, w);
			return;
		}
	}
	if (t->pending_ns > 0) {
		t->burst_end = s->now + t->pending_ns;
		sim_schedule(s, t->burst_end, EV_BURST, (uint32_t)t->id, t->gen);
		return;
	}
	sim_resume(s, t);
}

void sim_slice_end(struct sim *s, int c, uint32_t gen)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *t = core->current;

	if (gen != core->gen || !t || !core->on_cpu)
		return;
	if (s->os->yield_kind == HS_YIELD_LINUX) {
		/* The tick's update_curr.  A thread that keeps its core with its
		 * protection spent is checked again at every tick, because the
		 * kernel reschedules at each one while a peer is queued. */
		charge(s, t);
		if (t->vruntime >= t->vprot)
			resched_spent(s, c);
		if (core->gen == gen && core->current == t)
			arm_slice(s, c);
		return;
	}
	if (runnable_queued(core) == 0) {
		arm_slice(s, c);
		return;
	}

	preempt_current(s, c, t, t->burst_end - s->now, NULL);
}

void sim_burst_end(struct sim *s, struct sim_thread *t, uint32_t gen)
{
	if (gen != t->gen || t->state != HS_TS_RUNNING)
		return;
	t->pending_ns = 0;
	sim_resume(s, t);
}

/*
 * Suspends t, which is running on the host's behalf, until an event
 * resumes it.  When the next event is the end of another running
 * thread's CPU burst, the host would only pop it and resume that thread;
 * this pops it here, with the host's limit checks and event count, and
 * switches to that thread directly, which saves a fiber switch per event.
 * Everything else goes back to the host's loop.  The event order, clock
 * and counts are those of the host's loop.
 */
static void suspend(struct sim *s, struct sim_thread *t)
{
	const struct hs_scenario *sc = &s->cfg->scenario;
	const struct hs_event *head = s->q.len ? &s->q.heap[0] : NULL;
	struct sim_thread *u;
	struct hs_event ev;

	if (head && !s->stop && head->type == EV_BURST && head->time <= sc->time_limit_ns &&
	    s->nevents < (uint64_t)sc->event_limit) {
		u = s->threads[head->target];
		if (u != t && head->gen == u->gen && u->state == HS_TS_RUNNING) {
			hs_evq_pop(&s->q, &ev);
			s->now = ev.time;
			s->nevents++;
			u->pending_ns = 0; /* as sim_burst_end */
			s->running = u;
			hs_fiber_switch(&t->fiber, &u->fiber);
			return;
		}
	}
	hs_fiber_switch(&t->fiber, &s->host);
}

void sim_cpu(struct sim *s, struct sim_thread *t, int64_t ns)
{
	assert(s->running == t);
	if (ns <= 0)
		return;
	ns = noisy(s, ns);
	if (t->resched_to && !kernel_held(s, t)) {
		/* a thread t woke preempts it: the burst runs later */
		preempt_current(s, t->core, t, ns, t->resched_to);
		suspend(s, t);
		return;
	}

	/* Nothing can happen before now + ns, so the burst needs no event:
	 * advance the clock and go on.  An event at exactly now + ns was
	 * scheduled earlier and must fire first, hence the strict test. */
	if (hs_evq_peek_time(&s->q) > s->now + ns && s->now + ns <= s->cfg->scenario.time_limit_ns &&
	    s->nevents + 1 < (uint64_t)s->cfg->scenario.event_limit) {
		s->now += ns;
		s->nevents++;
		return;
	}
	t->pending_ns = ns;
	t->burst_end = s->now + ns;
	sim_schedule(s, t->burst_end, EV_BURST, (uint32_t)t->id, t->gen);
	suspend(s, t);
}

void sim_leave_core(struct sim *s, struct sim_thread *t, bool sleep)
{
	struct sim_core *core = &s->cores[t->core];
	bool delay = false;

	assert(core->current == t);
	t->resched_to = NULL;
	if (sleep && s->os->yield_kind == HS_YIELD_LINUX) {
		int64_t sum, n;

		sum = vsum(s, t->core, &n);
		delay = !eligible(t->vruntime, sum, n);
	}
	if (delay) {
		t->exec_start = -1;
		sim_update_min(s, t->core);
	} else {
		keep_lag(s, t, t->core);
	}
	end_busy(s, core);
	core->current = NULL;
	core->on_cpu = false;
	core->gen++;
	core->last = t;
	if (delay) {
		t->delayed = true;
		core->rq_delayed++;
		rq_push(s, t->core, t);
	}
	pelt_touch(s, t);
	sim_dispatch(s, t->core);
}

void sim_block(struct sim *s, struct sim_thread *t, enum hs_tstate st, enum hs_reason r)
{
	/* running -> sleeping | blocked */
	sim_set_state(s, t, st, r, SIM_NONE);
	sim_leave_core(s, t, true);
	suspend(s, t);
}

void sim_wake(struct sim *s, struct sim_thread *t, int32_t waker)
{
	struct hs_wake_rec *w;

	assert(t->state == HS_TS_SLEEPING || t->state == HS_TS_BLOCKED);
	t->gen++; /* cancels a pending timer */
	/* A cancelled timer that was its core's earliest must not fire: the
	 * woken thread cancels it on that core (hrtimer_cancel reprograms a
	 * local clock event). */
	if (t->core >= 0 && t->core < s->ncores && s->cores[t->core].timer_at != INT64_MAX)
		timer_program(s, t->core);
	t->wake_time = s->now;
	t->wake_rec = -1;
	if (s->events && (w = HS_VEC_PUSH(&s->out->wakes)) != NULL) {
		w->time_ns = s->now;
		w->waker = waker;
		w->woken = t->id;
		w->reason = (uint8_t)t->reason;
		t->wake_rec = (int64_t)s->out->wakes.len - 1;
	}
	/* sleeping | blocked -> runnable (wake) */
	sim_set_state(s, t, HS_TS_RUNNABLE, HS_R_WAKE, waker);
	sim_place(s, t, true, waker == SIM_NONE);
}

/* Whether t is in core c's queue. */
static bool queued_on(const struct sim *s, int c, const struct sim_thread *t)
{
	for (const struct sim_thread *u = s->cores[c].rq_head; u; u = u->rq_next)
		if (u == t)
			return true;
	return false;
}

/*
 * Charges ns of interrupt time on core c to cur, the thread on the core
 * when the interrupt came (NULL: an idle core, where timer_wake
 * contains it).  Without IRQ_TIME_ACCOUNTING the kernel counts interrupt time as
 * the current thread's own, so cur's burst ends ns later and its vruntime
 * pays, or it reaches the core ns later if it is being switched in.
 *
 * If a wake-up of the same interrupt preempted cur, the interrupt still
 * ran first: cur's CPU time and vruntime pay for it at once, and the
 * thread switched in reaches the core ns later.  Carrying ns in cur's
 * pending burst instead would let the woken threads run, sleep and be
 * woken again at no cost while the debt grows on a preempted thread.
 */
static void irq_charge(struct sim *s, int c, struct sim_thread *cur, int64_t ns)
{
	struct sim_core *core = &s->cores[c];

	if (ns <= 0 || !cur)
		return;
	if (core->current != cur) {
		struct sim_thread *next = core->current;

		if (cur->state == HS_TS_RUNNABLE && queued_on(s, c, cur)) {
			cur->cpu_ns += ns;
			s->cpu_ns += ns;
			vmin_invalidate(core, cur);
			advance_vruntime(s, cur, ns);
			core->rq_vsum += ns;
		}
		if (next && !core->on_cpu) {
			core->gen++;
			core->oncpu_at += ns;
			if (core->busy_from >= 0)
				core->busy_from += ns;
			if (next->exec_start >= 0)
				next->exec_start += ns;
			sim_schedule(s, core->oncpu_at, EV_ONCPU, (uint32_t)c, core->gen);
		}
		return;
	}
	if (!core->on_cpu) {
		core->gen++;
		core->oncpu_at += ns;
		sim_schedule(s, core->oncpu_at, EV_ONCPU, (uint32_t)c, core->gen);
		return;
	}
	/* On its core and back in the host loop: cur is in a CPU burst. */
	assert(cur->state == HS_TS_RUNNING);
	assert(s->running == NULL);
	cur->gen++;
	cur->burst_end += ns;
	sim_schedule(s, cur->burst_end, EV_BURST, (uint32_t)cur->id, cur->gen);
}

/* Ends t's sleep or timed wait: its timer expired on its core. */
static void expire(struct sim *s, struct sim_thread *t)
{
	if (t->futex) {
		/* a timed futex wait expired: leave the queue */
		for (int i = 0; i < s->fq_cap; i++) {
			struct sim_futex_q *q = &s->fq[i];
			struct sim_thread *prev = NULL;

			if (q->addr != t->futex)
				continue;
			for (struct sim_thread *u = q->head; u; prev = u, u = u->wait_next) {
				if (u != t)
					continue;
				if (prev)
					prev->wait_next = u->wait_next;
				else
					q->head = u->wait_next;
				if (q->tail == u)
					q->tail = prev;
				break;
			}
			break;
		}
		t->futex = NULL;
		t->wait_result = 1;
	}
	sim_wake(s, t, SIM_NONE);
}

/* Heap order of armed timers: hard expiry, then soft, then thread id, so
 * that equal timers expire in a fixed order. */
static bool timer_before(const struct sim_timer *a, const struct sim_timer *b)
{
	if (a->hard != b->hard)
		return a->hard < b->hard;
	if (a->soft != b->soft)
		return a->soft < b->soft;
	return a->thread < b->thread;
}

static void timer_pop(struct sim_core *core)
{
	struct sim_timer last = core->timers[--core->ntimers];
	int i = 0;

	for (;;) {
		int l = 2 * i + 1, m = i;

		if (l < core->ntimers && timer_before(&core->timers[l], &last))
			m = l;
		if (l + 1 < core->ntimers &&
		    timer_before(&core->timers[l + 1], m == i ? &last : &core->timers[m]))
			m = l + 1;
		if (m == i)
			break;
		core->timers[i] = core->timers[m];
		i = m;
	}
	if (core->ntimers > 0)
		core->timers[i] = last;
}

static bool timer_push(struct sim_core *core, struct sim_timer tm)
{
	int i;

	if (core->ntimers == core->cap_timers) {
		int ncap = core->cap_timers ? 2 * core->cap_timers : 16;
		struct sim_timer *nt = realloc(core->timers, (size_t)ncap * sizeof(*nt));

		if (!nt)
			return false;
		core->timers = nt;
		core->cap_timers = ncap;
	}
	i = core->ntimers++;
	while (i > 0 && timer_before(&tm, &core->timers[(i - 1) / 2])) {
		core->timers[i] = core->timers[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	core->timers[i] = tm;
	return true;
}

static bool timer_cancelled(const struct sim *s, const struct sim_timer *tm)
{
	return s->threads[tm->thread]->gen != tm->gen;
}

/* Programs core c's timer interrupt for the earliest hard expiry of the
 * timers still armed there, dropping cancelled ones from the top. */
static void timer_program(struct sim *s, int c)
{
	struct sim_core *core = &s->cores[c];
	int64_t at;

	while (core->ntimers > 0 && timer_cancelled(s, &core->timers[0]))
		timer_pop(core);
	at = core->ntimers > 0 ? core->timers[0].hard : INT64_MAX;
	if (at == core->timer_at)
		return;
	core->timer_at = at;
	core->timer_gen++;
	if (at != INT64_MAX)
		sim_schedule(s, at, EV_TIMER, (uint32_t)c, core->timer_gen);
}

/* Arms a timer for t, which is about to sleep or wait on its core, to
 * expire between soft and hard. */
static void arm_timer(struct sim *s, struct sim_thread *t, int64_t soft, int64_t hard)
{
	struct sim_core *core = &s->cores[t->core];
	struct sim_timer tm = { hard, soft, t->id, t->gen };

	if (!timer_push(core, tm)) {
		sim_fail(s, "out of memory for a timer");
		return;
	}
	if (hard < core->timer_at)
		timer_program(s, t->core);
}

/*
 * The reprogramming of the timer device that arming a timer at `hard` on
 * t's core costs, in ns: timer_program when the timer becomes the core's
 * earliest expiry, else 0.  A core with a thread on it runs the periodic
 * tick, so the tick's next expiry counts as an armed timer: Linux stops
 * the tick only on an idle core (NO_HZ_IDLE).
 */
static int64_t program_cost(const struct sim *s, const struct sim_thread *t, int64_t hard)
{
	const struct hs_os_profile *os = s->os;
	int64_t first = s->cores[t->core].timer_at;

	if (os->timer_program_ns <= 0)
		return 0;
	if (os->tick_ns > 0) {
		int64_t tick = (s->now / os->tick_ns + 1) * os->tick_ns;

		if (tick < first)
			first = tick;
	}
	return hard < first ? os->timer_program_ns : 0;
}

/*
 * The timer interrupt of core c, at the earliest hard expiry of its
 * timers.  Like Linux's __hrtimer_run_queues, it walks the timers in hard
 * order and expires each whose soft expiry has passed, stopping at the
 * first that has not.  So every sleep whose slack window contains this
 * instant ends now, and sleepers that went to sleep close together wake
 * together.  All expire before any woken thread runs.
 */
void sim_timer_irq(struct sim *s, int c, uint32_t gen)
{
	struct sim_core *core = &s->cores[c];
	struct sim_thread *hit = core->current;
	int64_t irq = 0;
	int n = 0;

	if (gen != core->timer_gen)
		return;
	core->timer_at = INT64_MAX;
	while (core->ntimers > 0) {
		struct sim_timer tm = core->timers[0];

		if (!timer_cancelled(s, &tm) && tm.soft > s->now)
			break;
		timer_pop(core);
		if (timer_cancelled(s, &tm))
			continue;
		if (n == s->cap_expired) {
			int ncap = s->cap_expired ? 2 * s->cap_expired : 16;
			struct sim_timer *ne = realloc(s->expired, (size_t)ncap * sizeof(*ne));

			if (!ne) {
				sim_fail(s, "out of memory expiring timers");
				return;
			}
			s->expired = ne;
			s->cap_expired = ncap;
		}
		s->expired[n++] = tm;
	}
	/* One interrupt costs timer_irq however many timers it expires, and
	 * irq_wake for each sleeper it wakes.  A sleeper that goes to another
	 * core also costs the inter-processor interrupt, the remote part of a
	 * futex wake. */
	if (n > 0)
		irq = s->os->timer_irq_ns;
	for (int i = 0; i < n; i++) {
		struct sim_thread *t = s->threads[s->expired[i].thread];

		/* an earlier expiry's wake-up cannot touch a sleeping thread */
		if (t->gen != s->expired[i].gen)
			continue;
		expire(s, t);
		irq += s->os->irq_wake_ns;
		if (t->core != c && s->os->wake_send_remote_ns > s->os->wake_send_local_ns)
			irq += s->os->wake_send_remote_ns - s->os->wake_send_local_ns;
	}
	irq_charge(s, c, hit, irq);
	timer_program(s, c);
}

/* yield_task_fair with the forfeit (see the top of the file): an eligible
 * yielder t's vruntime jumps to its deadline and its deadline a slice
 * beyond, and an ineligible one keeps both. */
static void forfeit(struct sim *s, struct sim_thread *t)
{
	int64_t sum, n;

	sum = vsum(s, t->core, &n);
	if (eligible(t->vruntime, sum, n)) {
		t->vruntime = t->deadline;
		t->deadline = t->vruntime + s->os->slice_ns;
	}
}

static void os_yield(struct sim *s, struct sim_thread *t)
{
	const struct hs_os_profile *os = s->os;
	struct sim_core *core;

	switch (os->yield_kind) {
	case HS_YIELD_SLEEP:
		sim_os_sleep(s, t, 1000, HS_R_YIELD);
		return;
	case HS_YIELD_POLL:
		sim_cpu(s, t, os->syscall_ns);
		return;
	case HS_YIELD_LINUX:
	case HS_YIELD_ULE:
	case HS_YIELD_SWITCH:
	case HS_YIELD_BOOST:
		break;
	}
	sim_cpu(s, t, os->syscall_ns);
	core = &s->cores[t->core];
	if (runnable_queued(core) == 0) {
		/* CFS returns at once; ULE switches to itself.  Linux with only
		 * delayed peers still forfeits and picks (yield_task_fair
		 * returns early only when rq->nr_running is 1). */
		if (os->yield_kind == HS_YIELD_ULE)
			sim_cpu(s, t, os->context_switch_ns);
		if (os->yield_kind == HS_YIELD_LINUX && core->rq_len > 0) {
			forfeit(s, t);
			sim_drop_delayed_picks(s, t->core, t);
		}
		return;
	}
	if (os->yield_kind == HS_YIELD_ULE && os->yield_hold_ticks > 0) {
		int64_t next_tick = (s->now / os->tick_ns + 1) * os->tick_ns;

		t->not_before = next_tick + (int64_t)(os->yield_hold_ticks - 1) * os->tick_ns;
	}

	/* running -> yielding: back of this core's queue (FIFO), or later in
	 * the fair order */
	if (os->yield_kind == HS_YIELD_LINUX)
		forfeit(s, t);
	charge(s, t);
	t->exec_start = -1;
	t->resched_to = NULL;
	t->yielded = os->yield_kind == HS_YIELD_BOOST;
	if (t->yielded)
		t->deadline += os->slice_ns; /* yield_task_fair before the forfeit */
	sim_set_state(s, t, HS_TS_YIELDING, HS_R_YIELD, SIM_NONE);
	end_busy(s, core);
	core->current = NULL;
	core->on_cpu = false;
	core->gen++;
	core->last = t;
	rq_push(s, t->core, t);
	sim_dispatch(s, t->core);
	suspend(s, t);
}

/*
 * The expiry window of a timed sleep or wait of `ns` from now, as the
 * profile's timers deliver it.  The hard expiry, which an otherwise idle
 * core honours, is the request (at least sleep_min) plus the slack:
 * sleep_slack plus sleep_slack_ratio of the request.  It is rounded up to
 * sleep_round or, past sleep_coarse_above, to the next tick, and a
 * uniform draw below timer_jitter is added.  The soft expiry is
 * max(request, sleep_min): from then on an interrupt for another timer on
 * the same core ends the sleep (Linux timer slack; FreeBSD's callout
 * precision works alike).  A rounded or tick-bound expiry has no window:
 * soft equals hard.  Both are absolute times.
 */
static void sleep_window(struct sim *s, int64_t ns, int64_t *soft, int64_t *hard)
{
	const struct hs_os_profile *os = s->os;
	int64_t base = ns, d;
	bool window = true;

	/* Requests past SLEEP_MAX_NS (73 years) are cut to it, so that no
	 * sum below overflows. */
	if (base > SLEEP_MAX_NS)
		base = SLEEP_MAX_NS;
	if (base < os->sleep_min_ns)
		base = os->sleep_min_ns;
	d = base + os->sleep_slack_ns + (int64_t)(os->sleep_slack_ratio * (double)base);
	if (os->sleep_round_ns > 0) {
		d = (d + os->sleep_round_ns - 1) / os->sleep_round_ns * os->sleep_round_ns;
		window = false;
	}
	if (os->sleep_coarse_above_ns > 0 && ns > os->sleep_coarse_above_ns && os->tick_ns > 0) {
		int64_t end = s->now + d;

		d = (end + os->tick_ns - 1) / os->tick_ns * os->tick_ns - s->now;
		window = false;
	}
	if (os->timer_jitter_ns > 0)
		d += (int64_t)hs_rng_below(&s->rng_os, (uint64_t)os->timer_jitter_ns + 1);
	*hard = s->now + d;
	*soft = window ? s->now + base : *hard;
}

/*
 * The window of t's timed sleep or wait of `ns` (sleep_window), after
 * charging t the device reprogramming when the timer will become its
 * core's earliest (program_cost).  Linux computes the expiry, queues the
 * timer and reprograms with interrupts off.  The model charges the burst
 * before the caller queues the timer, so that the timer cannot fire
 * while t still runs.  Under preempt = full, unlike Linux's, the burst
 * can be preempted, and t may then queue its timer on another core than
 * the one it paid for.  A
 * window that the burst overran ends now.  A timed futex wait is queued
 * on its futex before this, so a wake during the burst finds it.
 */
static void pay_for_timer(struct sim *s, struct sim_thread *t, int64_t ns, int64_t *soft,
			  int64_t *hard)
{
	int64_t cost;

	sleep_window(s, ns, soft, hard);
	cost = program_cost(s, t, *hard);
	if (cost <= 0)
		return;
	sim_cpu(s, t, cost);
	if (*hard < s->now)
		*hard = s->now;
	if (*soft > *hard)
		*soft = *hard;
}

static void os_sleep(struct sim *s, struct sim_thread *t, int64_t ns, enum hs_reason r)
{
	int64_t soft, hard;

	sim_cpu(s, t, s->os->syscall_ns);
	if (s->os->sleep_poll_below_ns > 0 && ns < s->os->sleep_poll_below_ns)
		return; /* a zero-timeout wait: the call returns at once */
	pay_for_timer(s, t, ns, &soft, &hard);
	arm_timer(s, t, soft, hard);
	sim_block(s, t, HS_TS_SLEEPING, r);
	/* The rest of the call, once back on a core.  A sleep that ended on
	 * its own idle core skips it, because timer_wake includes it. */
	if (!t->timer_woke_idle)
		sim_cpu(s, t, s->os->sleep_return_ns);
}

static struct sim_futex_q *futex_queue(struct sim *s, hs_word *w)
{
	uintptr_t h;

	if (s->fq_len * 2 >= s->fq_cap) {
		int ncap = s->fq_cap ? s->fq_cap * 2 : 64;
		struct sim_futex_q *nq = calloc((size_t)ncap, sizeof(*nq));

		if (!nq)
			return NULL;
		for (int i = 0; i < s->fq_cap; i++) {
			if (!s->fq[i].addr)
				continue;
			h = ((uintptr_t)s->fq[i].addr >> 3) * 0x9e3779b97f4a7c15ULL;
			for (int j = (int)(h % (uintptr_t)ncap);; j = (j + 1) % ncap) {
				if (!nq[j].addr) {
					nq[j] = s->fq[i];
					break;
				}
			}
		}
		free(s->fq);
		s->fq = nq;
		s->fq_cap = ncap;
	}
	h = ((uintptr_t)w >> 3) * 0x9e3779b97f4a7c15ULL;
	for (int j = (int)(h % (uintptr_t)s->fq_cap);; j = (j + 1) % s->fq_cap) {
		if (s->fq[j].addr == w)
			return &s->fq[j];
		if (!s->fq[j].addr) {
			s->fq[j].addr = w;
			s->fq_len++;
			return &s->fq[j];
		}
	}
}

static int futex_wait(struct sim *s, struct sim_thread *t, hs_word *w, uint64_t expected,
		      int64_t timeout_ns, enum hs_reason r)
{
	struct sim_futex_q *q;
	int64_t soft, hard;

	sim_cpu(s, t, s->os->syscall_ns);
	t->futex_waits++;
	if (w->value != expected)
		return 2;
	q = futex_queue(s, w);
	if (!q) {
		sim_fail(s, "out of memory for a futex queue");
		return 2;
	}
	t->futex = w;
	t->wait_next = NULL;
	t->wait_result = 0;
	if (q->tail)
		q->tail->wait_next = t;
	else
		q->head = t;
	q->tail = t;
	if (timeout_ns >= 0) {
		/* Queued first, as Linux queues the waiter before it arms the
		 * timer: a wake during the burst dequeues t and ends the
		 * wait before it blocks (sim_futex_wake). */
		pay_for_timer(s, t, timeout_ns, &soft, &hard);
		if (!t->futex)
			return t->wait_result;
		arm_timer(s, t, soft, hard);
	}
	sim_block(s, t, HS_TS_BLOCKED, r);
	return t->wait_result;
}

int64_t sim_wake_send(struct sim *s, const struct sim_thread *waker,
		      const struct sim_thread *t)
{
	if (t->core == waker->core)
		return sim_cost(s, HS_COST_WAKE_SEND_LOCAL, s->os->wake_send_local_ns);
	return sim_cost(s, HS_COST_WAKE_SEND_REMOTE, s->os->wake_send_remote_ns);
}

int64_t sim_cost(struct sim *s, enum hs_cost k, int64_t ns)
{
	const struct hs_spread *sp = &s->os->spread[k];

	if (sp->p10 <= 0 || ns <= 0)
		return ns;
	return llround((double)ns * hs_spread_at(sp, hs_rng_unit(&s->rng_cost)));
}

void sim_cpu_waker(struct sim *s, struct sim_thread *t, int64_t ns)
{
	struct sim_thread *next = t->resched_to;
	int c = t->core;
	uint32_t gen = s->cores[c].gen;

	t->resched_to = NULL;
	sim_cpu(s, t, ns);
	/* A switch during the burst (a slice end, another wake-up's
	 * preemption, a move by idle balancing) already rescheduled t, so the
	 * request is spent, as schedule() clears TIF_NEED_RESCHED. */
	if (!t->resched_to && t->core == c && s->cores[c].gen == gen)
		t->resched_to = next;
}

static int futex_wake(struct sim *s, struct sim_thread *t, hs_word *w, int n)
{
	struct sim_futex_q *q;
	int64_t send = 0;
	int woken = 0;

	sim_cpu(s, t, s->os->syscall_ns);
	t->futex_wakes++;
	q = futex_queue(s, w);
	while (q && q->head && woken < n) {
		struct sim_thread *u = q->head;

		q->head = u->wait_next;
		if (!q->head)
			q->tail = NULL;
		u->wait_next = NULL;
		u->futex = NULL;
		u->wait_result = 0;
		woken++;
		/* A waiter still paying for its timer has not blocked yet:
		 * dequeuing it is the whole wake-up. */
		if (u->state != HS_TS_SLEEPING && u->state != HS_TS_BLOCKED)
			continue;
		sim_wake(s, u, t->id);
		send += sim_wake_send(s, t, u);
	}
	if (send > 0)
		sim_cpu_waker(s, t, send);
	return woken;
}

void sim_thread_exit(struct sim *s, struct sim_thread *t)
{
	struct hs_thread_rec *rec = &s->out->threads.data[t->id];

	sim_set_state(s, t, HS_TS_COUNT, HS_R_EXIT, SIM_NONE); /* closes the last interval */
	t->exited = true;
	rec->exited_ns = s->now;
	if (t->role == ROLE_FOREIGN) {
		s->foreign_exited++;
		s->last_exit = s->now;
		if (s->foreign_exited == s->foreign_total)
			s->stop = true;
	}
	sim_leave_core(s, t, false);
	s->exited = t; /* the engine frees the stack once off it */
	hs_fiber_switch(&t->fiber, &s->host);
	abort(); /* an exited fiber is never resumed */
}

int64_t sim_mem_cost(struct sim *s, struct sim_thread *t, hs_word *w, bool write)
{
	uint64_t bit = 1ULL << t->core;
	uint64_t sharers = w->shadow[0];
	int64_t cost;

	if (write) {
		cost = (sharers & ~bit) ? s->os->atomic_remote_ns : s->os->atomic_local_ns;
		w->shadow[0] = bit;
		w->shadow[1] = (uint64_t)t->core + 1; /* last writer */
		return cost;
	}
	if (sharers & bit)
		return LOAD_LOCAL_NS;
	cost = (w->shadow[1] && w->shadow[1] != (uint64_t)t->core + 1) ? s->os->load_remote_ns
								       : LOAD_LOCAL_NS;
	w->shadow[0] = sharers | bit;
	return cost;
}

/* System calls as the policies and the runtime make them.  Each is a
 * kernel section (sim_kernel_enter). */
void sim_os_yield(struct sim *s, struct sim_thread *t)
{
	sim_kernel_enter(t);
	os_yield(s, t);
	sim_kernel_exit(t);
}

void sim_os_sleep(struct sim *s, struct sim_thread *t, int64_t ns, enum hs_reason r)
{
	sim_kernel_enter(t);
	os_sleep(s, t, ns, r);
	sim_kernel_exit(t);
}

int sim_futex_wait(struct sim *s, struct sim_thread *t, hs_word *w, uint64_t expected,
		   int64_t timeout_ns, enum hs_reason r)
{
	int rc;

	sim_kernel_enter(t);
	rc = futex_wait(s, t, w, expected, timeout_ns, r);
	sim_kernel_exit(t);
	return rc;
}

int sim_futex_wake(struct sim *s, struct sim_thread *t, hs_word *w, int n)
{
	int woken;

	sim_kernel_enter(t);
	woken = futex_wake(s, t, w, n);
	sim_kernel_exit(t);
	return woken;
}
