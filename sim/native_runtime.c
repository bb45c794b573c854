/*
 * The runtime model of the native backend on real threads: GOMAXPROCS P's,
 * stop-the-world, the garbage collector's cycles, the workload hooks the
 * driver calls (struct hs_rt_ops), and the M ownership check wrapped around
 * the policy's hooks.
 *
 * P's and the collector share one mutex (rt_mu).  Every change of `stw`,
 * the GC cycle state or the mark workers is made under rt_mu.  A change
 * wakes only the waiters it concerns, each kind on its own condition
 * variable (enum native_cv).  A P given back wakes one P waiter, or the GC
 * daemon while it stops the world.  Restarting the world wakes every P
 * waiter, and the end of a cycle's mark wakes the runtime.GC() callers.
 * Go likewise hands a P to one parked M and readies only the goroutines
 * waiting on the cycle, so a single broadcast to everyone (a herd of 100
 * threads per P hand-off) would be a cost Go does not have.
 *
 * The idle P count `pidle` is atomic instead, so that a thread takes and
 * gives back a P without rt_mu when nobody waits.  Go's exitsyscallfast
 * (src/runtime/proc.go) likewise takes back the P it left at entersyscall
 * with one CAS of the P's status, without sched.lock.  It takes sched.lock
 * only to take another idle P, a case this model does not distinguish.
 * The protocol rests on three pairs of sequentially consistent accesses,
 * each a write followed by a read of the other side's word, so at least
 * one side sees the other:
 *
 *   taker      decrements pidle (CAS from n > 0), then reads stw; if set,
 *              it gives the P back (as a releaser) and waits under rt_mu
 *   stopper    sets stw (under rt_mu), then takes all P's with one CAS of
 *              pidle from nprocs to 0, waiting on the daemon's condition
 *              variable until it succeeds
 *   releaser   increments pidle, then reads stw: if set it signals the
 *              daemon, else if `pwaiters` > 0 it signals one P waiter,
 *              both under rt_mu
 *   P waiter   under rt_mu, increments pwaiters, then tries to take a P
 *              (stw cannot change while it holds rt_mu), and waits
 *
 * So a taker that missed stw holds a P the stopper counts as not idle and
 * waits for; a releaser that missed stw added its P before the stopper's
 * CAS reads pidle; a releaser that missed pwaiters added its P before the
 * waiter's take reads pidle.  A releaser that sees stw or a waiter takes
 * rt_mu before it signals, and the waiter checks and sleeps under rt_mu,
 * so the signal cannot fall between the check and the sleep.  While the
 * world is stopped pidle is 0 and every P is the stopper's, so nobody
 * takes or gives back a P until start_world sets pidle again.
 *
 * Stop-the-world: the GC thread sets `stw`, waits until every P is idle,
 * takes them all, spins for the pause, then gives them back and clears
 * `stw`.  While `stw` is set no thread keeps a P it did not hold before
 * (a taker gives back a P it took after the stop began).  A thread in go_work
 * checks `stw` at each preempt_chunk boundary (Go's safe points) and gives
 * its P back.  Policy code that runs while a thread holds a P (entered)
 * has no safe point, as in Go, so it delays the stop until it returns.
 *
 * runtime.GC() follows Go's contract: with n the number of cycles started
 * when it is called, it waits until the mark of cycle n is over, asks for
 * cycle n+1 unless someone already did, waits until the mark of cycle n+1
 * is over, then sweeps (gc_sweep of Go work).  So concurrent callers share
 * cycles.  The caller gives its P back while it waits.
 *
 * A cycle, run by the GC daemon: STW (gc_stw1), concurrent mark by
 * max(1, round(gomaxprocs * gc_worker_ratio)) worker threads, each taking
 * a P and spinning gc_mark / workers, then STW (gc_stw2), then the cycle's
 * waiters are woken.
 */
#include "native_internal.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- Thread life ---- */

/* First act of every started thread: runnable since creation -> running. */
void native_thread_begin(struct nthread *t)
{
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

/*
 * Last act: closes the open interval at the exit time and tells the run.
 * `stopped` says a daemon was unwound at the end of the run; it keeps
 * exited_ns at -1 (alive at the end).
 */
void native_thread_finish(struct nthread *t, bool stopped)
{
	struct nrun *run = t->run;
	int64_t now = native_now(run);

	if (t->sigstack) {
		stack_t ss = { .ss_flags = SS_DISABLE };

		sigaltstack(&ss, NULL);
	}
	native_set_state(t, now, HS_TS_RUNNING, HS_R_EXIT, -1);
	t->exited_ns = stopped ? -1 : now;
	if (stopped)
		t->cur_start = now; /* nothing after the end */

	pthread_mutex_lock(&run->done_mu);
	if (t->kind == HS_THREAD_FOREIGN)
		run->live_foreign--;
	else
		run->live_daemons--;
	pthread_cond_broadcast(&run->done_cv);
	pthread_mutex_unlock(&run->done_mu);
}

/*
 * Starts t on entry with a stack of stack_bytes (0: the default), counting
 * it live first.  0, or HS_E_MODEL when pthread_create fails.
 */
int native_start_thread(struct nrun *run, struct nthread *t, size_t stack_bytes,
			void *(*entry)(void *))
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	if (stack_bytes > 0) {
		if (stack_bytes < (size_t)PTHREAD_STACK_MIN)
			stack_bytes = PTHREAD_STACK_MIN;
		pthread_attr_setstacksize(&attr, stack_bytes);
	}
	pthread_mutex_lock(&run->done_mu);
	if (t->kind == HS_THREAD_FOREIGN)
		run->live_foreign++;
	else
		run->live_daemons++;
	pthread_mutex_unlock(&run->done_mu);

	t->created_ns = native_now(run);
	t->cur_start = t->created_ns;
	rc = pthread_create(&t->handle, &attr, entry, t);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_lock(&run->done_mu);
		if (t->kind == HS_THREAD_FOREIGN)
			run->live_foreign--;
		else
			run->live_daemons--;
		pthread_mutex_unlock(&run->done_mu);
		native_violation(run, "pthread_create of thread %d (%s) failed: error %d", t->id,
				 t->name, rc);
		return HS_E_MODEL;
	}
	t->started = true;
	return 0;
}

/* Entry of a daemon the policy spawned. */
void *native_runtime_entry(void *arg)
{
	struct nthread *t = arg;
	int how;

	native_thread_begin(t);
	how = setjmp(t->unwind);
	if (how == 0) {
		t->can_unwind = true;
		t->fn(&t->env, t->arg);
	}
	t->can_unwind = false;
	native_thread_finish(t, how == 2);
	return NULL;
}

/* ---- P's and stop-the-world ---- */

/* Unwinds t on abort (rt_mu held), first taking it out of the count
 * `waiting` (NULL for none) and unlocking rt_mu. */
static void rt_unwind_if_aborted(struct nthread *t, int *waiting)
{
	struct nrun *run = t->run;

	if (!__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST) || !t->can_unwind)
		return;
	if (waiting)
		__atomic_sub_fetch(waiting, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&run->rt_mu);
	native_check_abort(t);
}

/* Waits on rt_cv[cv] (rt_mu held) in state blocked for `why`; unwinds on
 * abort, leaving the count `waiting` as rt_unwind_if_aborted does. */
static void rt_wait(struct nthread *t, enum native_cv cv, enum hs_reason why, int *waiting)
{
	struct nrun *run = t->run;

	rt_unwind_if_aborted(t, waiting);
	if (t->cur_state != HS_TS_BLOCKED || t->cur_reason != why)
		native_enter_state(t, HS_TS_BLOCKED, why, -1);
	pthread_cond_wait(&run->rt_cv[cv], &run->rt_mu);
	rt_unwind_if_aborted(t, waiting);
}

/* Takes an idle P if pidle > 0 (the first step of a taker, see the file
 * header); the caller checks stw afterwards or holds rt_mu. */
static bool p_take(struct nrun *run)
{
	int idle = __atomic_load_n(&run->pidle, __ATOMIC_SEQ_CST);

	while (idle > 0) {
		if (__atomic_compare_exchange_n(&run->pidle, &idle, idle - 1, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return true;
	}
	return false;
}

/* Gives a P back and wakes the stopper or one P waiter if one may need it
 * (a releaser, see the file header). */
static void p_put(struct nrun *run)
{
	enum native_cv cv;

	__atomic_add_fetch(&run->pidle, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&run->stw, __ATOMIC_SEQ_CST))
		cv = NATIVE_CV_DAEMON;
	else if (__atomic_load_n(&run->pwaiters, __ATOMIC_SEQ_CST) > 0)
		cv = NATIVE_CV_P;
	else
		return;
	pthread_mutex_lock(&run->rt_mu);
	pthread_cond_signal(&run->rt_cv[cv]);
	pthread_mutex_unlock(&run->rt_mu);
}

/* exitsyscall: takes a P without rt_mu when one is idle and no stop is
 * pending, else waits for one under rt_mu as a P waiter. */
static void p_acquire(struct nthread *t)
{
	struct nrun *run = t->run;
	bool waited = false;

	native_check_abort(t);
	if (!__atomic_load_n(&run->stw, __ATOMIC_SEQ_CST) && p_take(run)) {
		if (!__atomic_load_n(&run->stw, __ATOMIC_SEQ_CST)) {
			t->holds_p = true;
			return;
		}
		p_put(run); /* a stop began after the first check: it needs this P */
	}

	pthread_mutex_lock(&run->rt_mu);
	__atomic_add_fetch(&run->pwaiters, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&run->stw, __ATOMIC_SEQ_CST) || !p_take(run)) {
		rt_wait(t, NATIVE_CV_P, run->stw ? HS_R_STW : HS_R_P_WAIT, &run->pwaiters);
		waited = true;
	}
	__atomic_sub_fetch(&run->pwaiters, 1, __ATOMIC_SEQ_CST);
	t->holds_p = true;
	pthread_mutex_unlock(&run->rt_mu);
	if (waited)
		native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

static void p_release(struct nthread *t)
{
	t->holds_p = false;
	p_put(t->run);
}

/* Spins ns of Go code in preempt_chunk slices, giving the P back at a
 * slice boundary while the world is being stopped. */
static void go_work(struct nthread *t, int64_t ns)
{
	int64_t chunk = t->run->cfg->runtime.preempt_chunk_ns;

	if (chunk <= 0)
		chunk = ns > 0 ? ns : 1;
	while (ns > 0) {
		int64_t step = ns < chunk ? ns : chunk;

		if (t->holds_p && __atomic_load_n(&t->run->stw, __ATOMIC_SEQ_CST)) {
			p_release(t);
			p_acquire(t);
		}
		native_spin(t, step);
		ns -= step;
	}
}

/* Stops the world (rt_mu held): no new P's, then take every P at once
 * (the stopper, see the file header). */
static void stop_world(struct nthread *t)
{
	struct nrun *run = t->run;
	int all = run->nprocs;

	__atomic_store_n(&run->stw, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_compare_exchange_n(&run->pidle, &all, 0, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST)) {
		all = run->nprocs;
		rt_wait(t, NATIVE_CV_DAEMON, HS_R_STW, NULL);
	}
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

/* Restarts the world (rt_mu held).  Every P is the stopper's, so nobody
 * else changes pidle until stw is cleared. */
static void start_world(struct nrun *run)
{
	__atomic_store_n(&run->pidle, run->nprocs, __ATOMIC_SEQ_CST);
	__atomic_store_n(&run->stw, 0, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&run->rt_cv[NATIVE_CV_P]);
}

/* ---- The garbage collector ---- */

static bool mark_done(const struct nrun *run, uint64_t n)
{
	return run->gc_cycles + (run->gc_marking ? 0 : 1) > n;
}

/* One cycle, on the GC daemon, entered and left with rt_mu held. */
static void gc_cycle(struct nthread *t)
{
	struct nrun *run = t->run;
	const struct hs_runtime_profile *rp = &run->cfg->runtime;

	/* sweep termination: STW1 */
	stop_world(t);
	run->gc_cycles++;
	run->gc_marking = true;
	pthread_mutex_unlock(&run->rt_mu);
	native_spin(t, rp->gc_stw1_ns);
	pthread_mutex_lock(&run->rt_mu);
	start_world(run);

	/* concurrent mark */
	run->mark_running = run->gc_workers;
	run->mark_gen++;
	pthread_cond_broadcast(&run->rt_cv[NATIVE_CV_MARK]);
	while (run->mark_running > 0)
		rt_wait(t, NATIVE_CV_DAEMON, HS_R_GC_WAIT, NULL);
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

	/* mark termination: STW2, then wake the cycle's waiters */
	stop_world(t);
	pthread_mutex_unlock(&run->rt_mu);
	native_spin(t, rp->gc_stw2_ns);
	pthread_mutex_lock(&run->rt_mu);
	run->gc_marking = false;
	pthread_cond_broadcast(&run->rt_cv[NATIVE_CV_GC]);
	start_world(run);
}

static void *gc_entry(void *arg)
{
	struct nthread *t = arg;
	struct nrun *run = t->run;

	native_thread_begin(t);
	if (setjmp(t->unwind) == 0) {
		t->can_unwind = true;
		pthread_mutex_lock(&run->rt_mu);
		for (;;) {
			while (run->gc_request <= run->gc_cycles &&
			       !__atomic_load_n(&run->stopping, __ATOMIC_SEQ_CST))
				rt_wait(t, NATIVE_CV_DAEMON, HS_R_IDLE, NULL);
			if (run->gc_request <= run->gc_cycles)
				break;
			native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
			gc_cycle(t);
		}
		pthread_mutex_unlock(&run->rt_mu);
	}
	t->can_unwind = false;
	native_thread_finish(t, true);
	return NULL;
}

/* A mark worker: per cycle, takes a P and spins its share of gc_mark. */
static void mark_loop(struct nthread *t)
{
	struct nrun *run = t->run;
	const struct hs_runtime_profile *rp = &run->cfg->runtime;
	uint64_t seen = 0;

	for (;;) {
		pthread_mutex_lock(&run->rt_mu);
		while (run->mark_gen == seen && !__atomic_load_n(&run->stopping, __ATOMIC_SEQ_CST))
			rt_wait(t, NATIVE_CV_MARK, HS_R_IDLE, NULL);
		if (run->mark_gen == seen) {
			pthread_mutex_unlock(&run->rt_mu);
			return;
		}
		seen = run->mark_gen;
		pthread_mutex_unlock(&run->rt_mu);
		native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

		p_acquire(t);
		go_work(t, rp->gc_mark_ns / run->gc_workers);
		p_release(t);

		pthread_mutex_lock(&run->rt_mu);
		run->mark_running--;
		pthread_cond_signal(&run->rt_cv[NATIVE_CV_DAEMON]);
		pthread_mutex_unlock(&run->rt_mu);
	}
}

static void *mark_entry(void *arg)
{
	struct nthread *t = arg;

	native_thread_begin(t);
	if (setjmp(t->unwind) == 0) {
		t->can_unwind = true;
		mark_loop(t);
	}
	t->can_unwind = false;
	native_thread_finish(t, true);
	return NULL;
}

static int start_daemon(struct nrun *run, const char *name, void *(*entry)(void *))
{
	struct nthread *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return HS_E_NOMEM;
	native_thread_init(run, t, -1, HS_THREAD_RUNTIME, name);
	rc = native_register_thread(run, t);
	if (rc < 0) {
		free(t);
		return rc;
	}
	return native_start_thread(run, t, 0, entry);
}

/* Starts the GC daemon and its mark workers.  0 or a negative HS_E_* code. */
int native_gc_start(struct nrun *run, struct hs_error *err)
{
	double want = (double)run->nprocs * run->cfg->runtime.gc_worker_ratio;
	int rc;

	run->gc_workers = (int)lround(want);
	if (run->gc_workers < 1)
		run->gc_workers = 1;
	rc = start_daemon(run, "gc", gc_entry);
	for (int i = 0; rc == 0 && i < run->gc_workers; i++) {
		char name[24];

		snprintf(name, sizeof(name), "gc-mark-%d", i);
		rc = start_daemon(run, name, mark_entry);
	}
	if (rc < 0)
		return hs_error_set(err, rc, NULL, 0, NULL,
				    "could not start the garbage collector threads: %s",
				    run->violated ? run->violation : hs_strerror(rc));
	return 0;
}

/* ---- struct hs_rt_ops ---- */

static void rt_thread_start(hs_env *env)
{
	native_check_abort(nthread_of(env));
}

static void rt_thread_end(hs_env *env)
{
	native_check_abort(nthread_of(env));
}

static void rt_think(hs_env *env, int64_t ns, enum hs_think_kind kind)
{
	struct nthread *t = nthread_of(env);

	if (kind == HS_THINK_SLEEP)
		native_timed_sleep(t, ns, HS_R_THINK, false);
	else
		native_spin(t, ns);
}

static void rt_p_acquire(hs_env *env)
{
	p_acquire(nthread_of(env));
}

static void rt_p_release(hs_env *env)
{
	p_release(nthread_of(env));
}

static void rt_go_work(hs_env *env, int64_t ns)
{
	go_work(nthread_of(env), ns);
}

static void rt_gc(hs_env *env)
{
	struct nthread *t = nthread_of(env);
	struct nrun *run = t->run;
	uint64_t n;

	native_check_abort(t);
	if (!run->has_gc) {
		native_violation(run, "a callback called runtime.GC() but the scenario's steps have no gc");
		return;
	}
	if (t->holds_p)
		p_release(t);

	pthread_mutex_lock(&run->rt_mu);
	n = run->gc_cycles;
	while (!mark_done(run, n))
		rt_wait(t, NATIVE_CV_GC, HS_R_GC_WAIT, NULL);
	if (run->gc_request < n + 1) {
		run->gc_request = n + 1;
		pthread_cond_signal(&run->rt_cv[NATIVE_CV_DAEMON]);
	}
	while (!mark_done(run, n + 1))
		rt_wait(t, NATIVE_CV_GC, HS_R_GC_WAIT, NULL);
	pthread_mutex_unlock(&run->rt_mu);
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

	p_acquire(t);
	go_work(t, run->cfg->runtime.gc_sweep_ns);
}

/*
 * A recursion `frames` deep costs stack_frame_ns per frame, spun in
 * go_work slices.  It is not a real recursion: a foreign thread's stack is
 * thread_stack bytes (256 KiB by default) and 10000 C frames of about 100
 * bytes would overflow it, while Go grows the goroutine stack instead.
 */
static void rt_grow(hs_env *env, int64_t frames)
{
	struct nthread *t = nthread_of(env);

	go_work(t, frames * t->run->cfg->runtime.stack_frame_ns);
}

static void rt_progress(hs_env *env)
{
	struct nthread *t = nthread_of(env);

	t->wake_pending = false;
	t->wake_pending_row = -1;
}

static void rt_counters(hs_env *env, struct hs_thread_counters *c)
{
	struct nthread *t = nthread_of(env);

	c->sleeps = (int32_t)t->sleeps;
	c->yields = (int32_t)t->yields;
	c->cas_failures = (int32_t)t->cas_failures;
}

/*
 * Appends the trace row of a finished callback to t->workload, with the
 * real times: thread_start_ns is the thread's creation and arrival_ns the
 * time the callback entered Go, both run-relative.  A replay takes the
 * other columns from its row; a scenario run sums the scenario's steps and
 * records `think` as c_time_ns (0 for the first callback), as the sim
 * backend does.
 */
static void record_workload(struct nthread *t, const struct hs_callback_rec *rec)
{
	const struct hs_scenario *sc = &t->run->cfg->scenario;
	struct hs_workload_rec *w = HS_VEC_PUSH(&t->workload);

	if (!w) {
		native_violation(t->run, "out of memory while recording the workload");
		return;
	}
	memset(w, 0, sizeof(*w));
	w->thread = t->workload_thread;
	w->seq = rec->seq;
	w->thread_start_ns = t->created_ns;
	w->arrival_ns = rec->arrival_ns;
	if (t->run->replay) {
		native_replay_workload(t, rec->seq, w);
		return;
	}
	w->c_time_ns = rec->seq > 0 ? sc->think_ns : 0;
	for (int i = 0; i < sc->nsteps; i++) {
		if (sc->steps[i].kind == HS_STEP_WORK)
			w->go_work_ns += sc->steps[i].arg;
		else if (sc->steps[i].kind == HS_STEP_GROW)
			w->grow_frames += sc->steps[i].arg;
		else
			w->gc_calls++;
	}
}

static void rt_callback_done(hs_env *env, const struct hs_callback_rec *rec)
{
	struct nthread *t = nthread_of(env);
	int64_t *lat;

	if (t->run->req->record_workload)
		record_workload(t, rec);

	t->callbacks_done++;
	lat = HS_VEC_PUSH(&t->latencies);
	if (lat)
		*lat = rec->done_ns - rec->arrival_ns;
	else
		native_violation(t->run, "out of memory while recording callback latencies");
	if (t->run->events) {
		struct hs_callback_rec *r = HS_VEC_PUSH(&t->callbacks);

		if (!r) {
			native_violation(t->run, "out of memory while recording callbacks");
			return;
		}
		*r = *rec;
		r->thread = t->id;
	}
}

static int rt_next_callback(hs_env *env, int seq, struct hs_callback_spec *spec)
{
	struct nthread *t = nthread_of(env);

	if (t->run->replay)
		return native_replay_next(t, seq, spec);
	return hs_scenario_callback(&t->run->cfg->scenario, seq, spec);
}

const struct hs_rt_ops hs_native_rt_ops = {
	.thread_start = rt_thread_start,
	.thread_end = rt_thread_end,
	.think = rt_think,
	.p_acquire = rt_p_acquire,
	.p_release = rt_p_release,
	.go_work = rt_go_work,
	.gc = rt_gc,
	.grow = rt_grow,
	.progress = rt_progress,
	.counters = rt_counters,
	.callback_done = rt_callback_done,
	.next_callback = rt_next_callback,
};

/* ---- M ownership around the policy's hooks ---- */

/* Marks m held by t; a second holder, or an M new_m never made, is a
 * violation of the policy contract. */
static void own_m(struct nthread *t, hs_m *m)
{
	struct nm *nm = m ? native_m_lookup(t->run, m->id) : NULL;
	int32_t expected = 0;

	if (!nm || &nm->m != m) {
		native_violation(t->run, "acquire returned to thread %d an M that new_m did not allocate (id %llu)",
				 t->id, m ? (unsigned long long)m->id : 0ULL);
		return;
	}
	if (__atomic_load_n(&nm->freed, __ATOMIC_SEQ_CST))
		native_violation(t->run, "acquire returned freed M %llu to thread %d",
				 (unsigned long long)m->id, t->id);
	if (!__atomic_compare_exchange_n(&nm->owner, &expected, t->id + 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		native_violation(t->run, "acquire returned M %llu to thread %d while thread %d holds it",
				 (unsigned long long)m->id, t->id, expected - 1);
}

static void disown_m(struct nthread *t, hs_m *m)
{
	struct nm *nm = m ? native_m_lookup(t->run, m->id) : NULL;
	int32_t expected = t->id + 1;

	if (!nm || &nm->m != m)
		return; /* already reported by own_m */
	if (!__atomic_compare_exchange_n(&nm->owner, &expected, 0, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		native_violation(t->run, "thread %d released M %llu held by thread %d", t->id,
				 (unsigned long long)m->id, expected - 1);
}

static hs_m *wrap_acquire(hs_env *env, void *state)
{
	struct nthread *t = nthread_of(env);
	hs_m *m = t->run->policy->acquire(env, state);

	if (!m) {
		/* The driver cannot go on without an M: end the run. */
		native_violation(t->run, "acquire returned NULL to thread %d", t->id);
		__atomic_store_n(&t->run->abort, 1, __ATOMIC_SEQ_CST);
		native_check_abort(t);
	}
	own_m(t, m);
	return m;
}

static void wrap_release(hs_env *env, void *state, hs_m *m)
{
	struct nthread *t = nthread_of(env);

	disown_m(t, m);
	t->run->policy->release(env, state, m);
}

/* Builds run->wrapped and run->driver from run->policy. */
void native_wrap_policy(struct nrun *run)
{
	run->wrapped = *run->policy;
	run->wrapped.acquire = wrap_acquire;
	run->wrapped.release = wrap_release;
	run->driver.rt = &hs_native_rt_ops;
	run->driver.policy = &run->wrapped;
	run->driver.policy_state = run->pstate;
	run->driver.skip_phase_times = !run->events;
}
