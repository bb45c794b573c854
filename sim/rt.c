/*
 * The runtime model: GOMAXPROCS P's, runtime.GC() with its stop-the-world
 * pauses, M allocation under sched.lock, and lock statistics.
 *
 * P's.  A thread needs a P to run Go code.  sim_p_acquire (exitsyscall)
 * takes an idle P or waits in a FIFO; sim_p_release hands the P straight
 * to the first waiter.  While the world is stopping, released P's go to
 * the collector instead, and acquirers wait for the restart.
 *
 * Go code runs in chunks of `preempt_chunk`; between chunks a thread that
 * sees a stop-the-world request gives its P up and waits, which is how Go's
 * preemption at safe points is modelled.  Runtime code (M allocation,
 * lock2) does not stop at safe points.
 *
 * Garbage collection.  runtime.GC() returns after a full cycle that began
 * after the call, and concurrent callers share cycles: a caller waits for
 * the mark of the cycle in progress (number n), starts cycle n+1 unless
 * another caller did, and waits for its mark termination, then sweeps.  A
 * collector thread runs each cycle: stop the world and spend `gc_stw1`
 * (sweep termination), restart it, let max(1, round(P * gc_worker_ratio))
 * mark workers take P's and share `gc_mark` of CPU, stop the world again
 * for `gc_stw2` (mark termination), restart, and queue the callers for
 * P's.  The caller gives its P up while it waits, as Go parks the
 * goroutine and its locked M hands the P off, and wakes only when a P is
 * handed to it, as its locked M does.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

enum { GC_IDLE = 0, GC_SWEEP_TERM = 1, GC_MARK = 2, GC_MARK_TERM = 3 };

static void pwait_push(struct sim *s, struct sim_thread *t, bool front)
{
	t->rt_next = NULL;
	if (front) {
		t->rt_next = s->pwait_head;
		s->pwait_head = t;
		if (!s->pwait_tail)
			s->pwait_tail = t;
		return;
	}
	if (s->pwait_tail)
		s->pwait_tail->rt_next = t;
	else
		s->pwait_head = t;
	s->pwait_tail = t;
}

static struct sim_thread *pwait_pop(struct sim *s)
{
	struct sim_thread *t = s->pwait_head;

	if (t) {
		s->pwait_head = t->rt_next;
		if (!s->pwait_head)
			s->pwait_tail = NULL;
		t->rt_next = NULL;
	}
	return t;
}

/*
 * Wakes t for waker, as Go's notewakeup does with one futex wake, and
 * returns the CPU time that costs waker: a system call plus readying t.
 * The caller charges the sum once its wake-ups are done.  During that
 * charge the woken threads run, so a waker that blocks right after its
 * wake-up, waiting for the thread it woke, must not be charged: it would
 * not yet be blocked when that thread wakes it back.  The collector and
 * its mark workers are such pairs and use sim_wake alone, which leaves a
 * few wake-ups per cycle uncharged.
 */
static int64_t wake_by(struct sim *s, struct sim_thread *t, struct sim_thread *waker)
{
	sim_wake(s, t, waker->id);
	return s->os->syscall_ns + sim_wake_send(s, waker, t);
}

/* Hands idle P's to waiting threads; returns waker's cost of the wake-ups. */
static int64_t hand_out_ps(struct sim *s, struct sim_thread *waker)
{
	int64_t cost = 0;

	while (s->pidle > 0 && s->pwait_head && !s->gc.stw_pending) {
		struct sim_thread *t = pwait_pop(s);

		s->pidle--;
		t->holds_p = true;
		cost += wake_by(s, t, waker);
	}
	return cost;
}

void sim_p_acquire(struct sim *s, struct sim_thread *t, bool priority)
{
	assert(!t->holds_p);
	sim_cpu(s, t, s->rt->exitsyscall_ns);
	if (!s->gc.stw_pending && s->pidle > 0) {
		s->pidle--;
		t->holds_p = true;
		return;
	}
	pwait_push(s, t, priority);
	sim_block(s, t, HS_TS_BLOCKED, s->gc.stw_pending ? HS_R_STW : HS_R_P_WAIT);
	assert(t->holds_p);
}

void sim_p_release(struct sim *s, struct sim_thread *t)
{
	struct sim_gc *gc = &s->gc;

	assert(t->holds_p);
	t->holds_p = false;
	s->pidle++;
	if (gc->stw_pending) {
		if (s->pidle == s->nprocs && gc->thread->state == HS_TS_BLOCKED &&
		    gc->thread->reason == HS_R_STW)
			sim_cpu_waker(s, t, wake_by(s, gc->thread, t));
		return;
	}
	sim_cpu_waker(s, t, hand_out_ps(s, t));
}

void sim_go_work(struct sim *s, struct sim_thread *t, int64_t ns)
{
	while (ns > 0) {
		int64_t chunk = ns < s->rt->preempt_chunk_ns ? ns : s->rt->preempt_chunk_ns;

		sim_cpu(s, t, sim_spin_ns(s, chunk));
		ns -= chunk;

		/* safe point: give the P to a stopping world */
		if (s->gc.stw_pending && t->holds_p) {
			sim_p_release(s, t);
			sim_p_acquire(s, t, false);
		}
	}
}

/* Waits, without a P, until cycle `target` has finished marking. */
static void wait_marked(struct sim *s, struct sim_thread *t, uint64_t target)
{
	if (s->gc.marked >= target)
		return;
	sim_p_release(s, t);
	t->gc_target = target;
	t->rt_next = s->gc.waiters;
	s->gc.waiters = t;
	sim_block(s, t, HS_TS_BLOCKED, HS_R_GC_WAIT);
	assert(t->holds_p); /* gc_ready_callers queued it for a P */
}

static void gc_kick(struct sim *s, struct sim_thread *waker)
{
	struct sim_thread *g = s->gc.thread;

	if (g->state == HS_TS_BLOCKED && g->reason == HS_R_IDLE)
		sim_cpu_waker(s, waker, wake_by(s, g, waker));
}

void sim_gc_call(struct sim *s, struct sim_thread *t)
{
	struct sim_gc *gc = &s->gc;
	uint64_t n = gc->cycle;

	if (gc->phase != GC_IDLE)
		wait_marked(s, t, n);
	if (gc->cycle == n) {
		gc->cycle = n + 1;
		gc_kick(s, t);
	}
	wait_marked(s, t, n + 1);
	sim_go_work(s, t, s->rt->gc_sweep_ns);
}

static void stop_the_world(struct sim *s, struct sim_thread *g)
{
	s->gc.stw_pending = true;
	s->gc.stw_begin = s->now;
	while (s->pidle < s->nprocs)
		sim_block(s, g, HS_TS_BLOCKED, HS_R_STW);
	s->pidle = 0;
}

static void start_the_world(struct sim *s, struct sim_thread *g)
{
	s->pidle = s->nprocs;
	s->gc.stw_pending = false;
	s->gc.stw_ns += s->now - s->gc.stw_begin;
	sim_cpu_waker(s, g, hand_out_ps(s, g));
}

/*
 * Queues the callers whose cycle has marked for a P, oldest first, and
 * hands out the idle P's.  Go readies their goroutines, and each runs when
 * its locked M is handed a P, so a caller wakes only with a P in hand and
 * a cycle's end wakes no more threads than there are P's to run them.
 */
static void gc_ready_callers(struct sim *s, struct sim_thread *g)
{
	struct sim_thread **pp = &s->gc.waiters;
	struct sim_thread *woken = NULL, **tail = &woken;

	/* Collect in list order first, then queue oldest first: the list is
	 * LIFO, so reverse it for FIFO order. */
	while (*pp) {
		struct sim_thread *t = *pp;

		if (t->gc_target <= s->gc.marked) {
			*pp = t->rt_next;
			t->rt_next = NULL;
			*tail = t;
			tail = &t->rt_next;
		} else {
			pp = &t->rt_next;
		}
	}
	{
		struct sim_thread *rev = NULL;

		while (woken) {
			struct sim_thread *next = woken->rt_next;

			woken->rt_next = rev;
			rev = woken;
			woken = next;
		}
		while (rev) {
			struct sim_thread *next = rev->rt_next;

			rev->rt_next = NULL;
			pwait_push(s, rev, false);
			rev = next;
		}
	}
	sim_cpu_waker(s, g, hand_out_ps(s, g));
}

static void gc_main(hs_env *env, void *arg)
{
	struct sim_thread *g = sim_thread_of(env);
	struct sim *s = g->sim;
	struct sim_gc *gc = &s->gc;

	for (;;) {
		while (gc->marked < gc->cycle) {
			/* sweep termination */
			gc->phase = GC_SWEEP_TERM;
			stop_the_world(s, g);
			sim_cpu(s, g, sim_spin_ns(s, s->rt->gc_stw1_ns));
			start_the_world(s, g);

			/* concurrent mark */
			gc->phase = GC_MARK;
			gc->workers_running = gc->nworkers;
			for (int i = 0; i < gc->nworkers; i++)
				sim_wake(s, gc->workers[i], g->id);
			while (gc->workers_running > 0)
				sim_block(s, g, HS_TS_BLOCKED, HS_R_GC_WAIT);

			/* mark termination */
			gc->phase = GC_MARK_TERM;
			stop_the_world(s, g);
			sim_cpu(s, g, sim_spin_ns(s, s->rt->gc_stw2_ns));
			gc->marked = gc->cycle;
			gc->cycles_done++;
			start_the_world(s, g);
			gc->phase = GC_IDLE;
			gc_ready_callers(s, g);
		}
		sim_block(s, g, HS_TS_BLOCKED, HS_R_IDLE);
	}
}

static void mark_worker_main(hs_env *env, void *arg)
{
	struct sim_thread *w = sim_thread_of(env);
	struct sim *s = w->sim;

	for (;;) {
		sim_p_acquire(s, w, true);
		sim_go_work(s, w, s->rt->gc_mark_ns / s->gc.nworkers);
		sim_p_release(s, w);
		if (--s->gc.workers_running == 0)
			sim_wake(s, s->gc.thread, w->id);
		sim_block(s, w, HS_TS_BLOCKED, HS_R_IDLE);
	}
}

void sim_rt_init(struct sim *s)
{
	struct sim_gc *gc = &s->gc;
	long nw = lround((double)s->nprocs * s->rt->gc_worker_ratio);

	s->pidle = s->nprocs;
	s->sched_lock.lock_id = sim_lock_register(s, "sched.lock");
	s->allg_lock.lock_id = sim_lock_register(s, "allglock");

	/* The collector and its workers start blocked: they exist from
	 * runtime start and first run when a cycle begins. */
	gc->nworkers = nw < 1 ? 1 : (int)nw;
	gc->thread = sim_thread_new(s, ROLE_GC, "gc", gc_main, NULL);
	gc->workers = calloc((size_t)gc->nworkers, sizeof(*gc->workers));
	for (int i = 0; i < gc->nworkers && gc->workers; i++) {
		char name[24];

		snprintf(name, sizeof(name), "gc-mark-%d", i);
		gc->workers[i] = sim_thread_new(s, ROLE_MARK, name, mark_worker_main, NULL);
	}
	if (!gc->workers)
		sim_fail(s, "out of memory for the mark workers");
}

hs_m *sim_new_m(struct sim *s, struct sim_thread *t, const char *reason)
{
	const struct hs_runtime_profile *rt = s->rt;
	int spin = s->ncores > 1 ? rt->lock_spin : 0;
	struct hs_m_rec *rec;
	hs_m *m;

	/* allocm: the M's id and count under sched.lock */
	hs_lock2(&t->env, &s->sched_lock, spin, rt->lock_spin_ns, rt->lock_passive_spin);
	sim_cpu(s, t, sim_spin_ns(s, rt->sched_lock_hold_ns));
	hs_unlock2(&t->env, &s->sched_lock);

	/* the M and its 32 KiB signal stack, then the goroutine and its
	 * 4 KiB stack: one mmap each */
	sim_cpu(s, t, sim_spin_ns(s, rt->allocm_ns));
	sim_map_stack(s, t);
	sim_cpu(s, t, sim_spin_ns(s, rt->malg_ns));
	sim_map_stack(s, t);

	/* allgadd */
	hs_lock2(&t->env, &s->allg_lock, spin, rt->lock_spin_ns, rt->lock_passive_spin);
	sim_cpu(s, t, sim_spin_ns(s, rt->allgadd_ns));
	hs_unlock2(&t->env, &s->allg_lock);

	if (s->nms == s->cap_ms) {
		int ncap = s->cap_ms ? s->cap_ms * 2 : 64;
		hs_m **ms = realloc(s->ms, (size_t)ncap * sizeof(*ms));
		int32_t *holder = realloc(s->m_holder, (size_t)ncap * sizeof(*holder));

		if (ms)
			s->ms = ms;
		if (holder)
			s->m_holder = holder;
		if (!ms || !holder) {
			sim_fail(s, "out of memory allocating M %d", s->nms + 1);
			sim_block(s, t, HS_TS_BLOCKED, HS_R_IDLE); /* never resumed */
		}
		s->cap_ms = ncap;
	}
	m = calloc(1, sizeof(*m));
	rec = HS_VEC_PUSH(&s->out->ms);
	if (!m || !rec) {
		sim_fail(s, "out of memory allocating M %d", s->nms + 1);
		sim_block(s, t, HS_TS_BLOCKED, HS_R_IDLE);
	}
	m->id = (uint64_t)s->nms + 1;
	s->ms[s->nms] = m;
	s->m_holder[s->nms] = SIM_NONE;
	s->nms++;
	rec->id = (int64_t)m->id;
	rec->created_ns = s->now;
	rec->created_by = t->id;
	snprintf(rec->reason, sizeof(rec->reason), "%s", reason ? reason : "");
	return m;
}

int sim_lock_register(struct sim *s, const char *name)
{
	struct sim_lock *l;

	for (int i = 0; i < s->nlocks; i++)
		if (strcmp(s->locks[i].name, name) == 0)
			return i;
	if (s->nlocks == SIM_MAX_LOCKS) {
		sim_fail(s, "more than %d locks registered", SIM_MAX_LOCKS);
		return 0;
	}
	l = &s->locks[s->nlocks];
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->last_core = -1;
	snprintf(l->stat.name, sizeof(l->stat.name), "%s", name);
	l->stat.wait_min_ns = INT64_MAX;
	l->stat.hold_min_ns = INT64_MAX;
	return s->nlocks++;
}

void sim_lock_begin(struct sim *s, struct sim_thread *t, int id)
{
	if (id < 0 || id >= s->nlocks)
		return;
	sim_clock_read(s, t);
	t->lock_begin_ns[id] = s->now;
}

void sim_lock_acquired(struct sim *s, struct sim_thread *t, int id, bool contended)
{
	struct sim_lock *l;
	int64_t wait;

	if (id < 0 || id >= s->nlocks)
		return;
	sim_clock_read(s, t);
	l = &s->locks[id];
	wait = s->now - t->lock_begin_ns[id];
	l->stat.acquisitions++;
	if (contended)
		l->stat.contentions++;
	if (l->last_core >= 0 && l->last_core != t->core) {
		l->stat.acquisition_bounces++;
		if (contended)
			l->stat.contention_bounces++;
	}
	l->last_core = t->core;
	if (wait < l->stat.wait_min_ns)
		l->stat.wait_min_ns = wait;
	if (wait > l->stat.wait_max_ns)
		l->stat.wait_max_ns = wait;
	l->stat.wait_total_ns += wait;
	l->acquired_at = s->now;
	t->unproductive = false;
}

void sim_lock_released(struct sim *s, struct sim_thread *t, int id)
{
	struct sim_lock *l;
	int64_t hold;

	if (id < 0 || id >= s->nlocks)
		return;
	/* NOTE: the native backend skips this read for a release with no
	 * recorded acquisition; the shipped policies always pair the two. */
	sim_clock_read(s, t);
	l = &s->locks[id];
	hold = s->now - l->acquired_at;
	if (hold < l->stat.hold_min_ns)
		l->stat.hold_min_ns = hold;
	if (hold > l->stat.hold_max_ns)
		l->stat.hold_max_ns = hold;
	l->stat.hold_total_ns += hold;
}
