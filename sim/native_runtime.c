/*
 * The runtime model of the native backend on real threads: GOMAXPROCS P's,
 * stop-the-world, the garbage collector's cycles, the workload hooks the
 * driver calls (struct hs_rt_ops), and the M ownership check wrapped around
 * the policy's hooks.
 *
 * P's and the collector share one mutex (rt_mu).  Every change of `pidle`,
 * `stw`, the GC cycle state, the P-wait queue or the mark workers is made
 * under rt_mu.  A thread that needs a P and finds none idle (or the world
 * stopping, or others already queued) joins the P-wait queue, FIFO except
 * that mark workers go to the front, and waits on its own condition
 * variable.  A P given back goes straight to the oldest waiter, which
 * wakes holding it.  While the world is being stopped, it goes to the GC
 * daemon instead.  runtime.GC() callers wait in their own list, and the
 * end of a cycle's mark moves the callers it satisfies to the P-wait
 * queue.  Go likewise hands a P to one parked M.  A goroutine locked to its
 * M, as a callback's is, runs only when its M is handed a P, so a cycle's
 * end wakes no more threads than there are P's.  The daemon and the mark
 * workers wait on condition variables of their own (enum native_cv).
 *
 * Stop-the-world: the GC thread sets `stw`, waits until every P is idle,
 * takes them all, spins for the pause, then gives them back and clears
 * `stw`.  While `stw` is set no thread gets a P.  A thread in go_work
 * checks `stw` at each preempt_chunk boundary (Go's safe points) and gives
 * its P back.  Policy code that runs while a thread holds a P (entered)
 * has no safe point, as in Go, so it delays the stop until it returns.
 *
 * runtime.GC() follows Go's contract: with n the number of cycles started
 * when it is called, it waits until the mark of cycle n is over, asks for
 * cycle n+1 unless someone already did, waits until the mark of cycle n+1
 * is over, then sweeps (gc_sweep of Go work).  So concurrent callers share
 * cycles.  The caller gives its P back while it waits and wakes with one.
 *
 * A cycle, run by the GC daemon: STW (gc_stw1), concurrent mark by
 * max(1, round(gomaxprocs * gc_worker_ratio)) worker threads, each taking
 * a P and spinning gc_mark / workers, then STW (gc_stw2), then the
 * callers the cycle satisfies are queued for P's.
 */
#include "native_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- Thread life ---- */

/* First act of every started thread: takes its herdsim name in the kernel
 * (cut to 15 bytes) for perf and top, then goes from runnable to running. */
void native_thread_begin(struct nthread *t)
{
	char comm[16];
	size_t len = strnlen(t->name, sizeof(comm) - 1);

	memcpy(comm, t->name, len);
	comm[len] = '\0';
	pthread_setname_np(pthread_self(), comm);
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
	bool wake;

	if (t->sigstack) {
		stack_t ss = { .ss_flags = SS_DISABLE };

		sigaltstack(&ss, NULL);
	}
	native_set_state(t, now, HS_TS_RUNNING, HS_R_EXIT, -1);
	t->exited_ns = stopped ? -1 : now;
	if (stopped)
		t->cur_start = now; /* nothing after the end */

	/* The run waits for no foreign thread left, then for no daemon left,
	 * so only the exits that end such a wait wake it: waking it at every
	 * exit would let it preempt threads still in their callbacks. */
	pthread_mutex_lock(&run->done_mu);
	if (t->kind == HS_THREAD_FOREIGN)
		run->live_foreign--;
	else
		run->live_daemons--;
	wake = run->live_foreign == 0;
	pthread_mutex_unlock(&run->done_mu);
	if (wake)
		pthread_cond_broadcast(&run->done_cv);
}

/*
 * Maps a fresh stack of `bytes` (rounded up to pages) below one guard page
 * for t and sets it in attr, as glibc's allocate_stack does for a stack
 * its cache cannot serve.  glibc keeps the stacks of joined threads for
 * reuse, so its own allocation would give the first replication of a
 * process fresh stacks and the later ones recycled, cheaper stacks, and
 * the replications would not be alike.  0, or an errno value.
 */
static int map_thread_stack(struct nthread *t, size_t bytes, pthread_attr_t *attr)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t usable = (bytes + page - 1) / page * page;
	char *base;
	int rc;

#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer keeps its own state in a caller-provided stack and
	 * rejects one under about 900 KiB, so TSan builds let glibc map it. */
	(void)t;
	(void)base;
	(void)rc;
	return pthread_attr_setstacksize(attr, usable);
#else
	base = mmap(NULL, usable + page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return errno;
	if (mprotect(base, page, PROT_NONE) != 0) {
		rc = errno;
		munmap(base, usable + page);
		return rc;
	}
	t->stack_map = base;
	t->stack_map_bytes = usable + page;
	return pthread_attr_setstack(attr, base + page, usable);
#endif
}

/*
 * Starts t on entry with a stack of stack_bytes (0: glibc's default),
 * counting it live first.  0, or HS_E_MODEL when the stack cannot be
 * mapped or pthread_create fails.
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
	}
	pthread_mutex_lock(&run->done_mu);
	if (t->kind == HS_THREAD_FOREIGN)
		run->live_foreign++;
	else
		run->live_daemons++;
	pthread_mutex_unlock(&run->done_mu);

	t->created_ns = native_now(run);
	t->cur_start = t->created_ns;
	rc = stack_bytes > 0 ? map_thread_stack(t, stack_bytes, &attr) : 0;
	if (rc == 0)
		rc = pthread_create(&t->handle, &attr, entry, t);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_lock(&run->done_mu);
		if (t->kind == HS_THREAD_FOREIGN)
			run->live_foreign--;
		else
			run->live_daemons--;
		pthread_mutex_unlock(&run->done_mu);
		native_violation(run, "creating thread %d (%s) failed: %s", t->id, t->name,
				 strerror(rc));
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

/*
 * True if the calling thread holds rt_mu.  glibc records the owner's
 * thread id in every mutex it locks, a condition wait's relock included.
 * With another C library it returns false, so the assertion in
 * send_wakes checks nothing there.
 */
static bool rt_mu_held(struct nrun *run)
{
#ifdef __GLIBC__
	static _Thread_local pid_t self;

	if (self == 0)
		self = gettid();
	return run->rt_mu.__data.__owner == self;
#else
	(void)run;
	return false;
#endif
}

/* True if w names no thread to wake. */
static bool wakes_empty(const struct native_wakes *w)
{
	return w->n == 0 && !w->daemon && !w->mark;
}

/* Signals the threads w names.  The caller has released rt_mu, so that a
 * woken thread that preempts it does not wait for the lock. */
static void send_wakes(struct nrun *run, const struct native_wakes *w)
{
	assert(wakes_empty(w) || !rt_mu_held(run));
	for (int i = 0; i < w->n; i++)
		pthread_cond_signal(&w->p_waiters[i]->p_cv);
	if (w->daemon)
		pthread_cond_signal(&run->rt_cv[NATIVE_CV_DAEMON]);
	if (w->mark)
		pthread_cond_broadcast(&run->rt_cv[NATIVE_CV_MARK]);
}

/*
 * Unlocks rt_mu, then sends the wake-ups deferred while it was held.  Go
 * likewise unlocks sched.lock before notewakeup.  A woken thread often
 * preempts its waker, and if the waker still held the lock, the woken
 * thread would block on it until the waker ran again.  A signal after the
 * unlock cannot be lost, because each waiter checks its condition under
 * rt_mu before it waits.  The signalled p_cv stays valid, because a
 * thread's p_cv is destroyed only after every thread has been joined.
 */
static void rt_unlock(struct nrun *run)
{
	struct native_wakes w = run->pending;

	memset(&run->pending, 0, sizeof(run->pending));
	pthread_mutex_unlock(&run->rt_mu);
	send_wakes(run, &w);
}

/*
 * Sends the wake-ups deferred in the current rt_mu section before the
 * holder itself waits (rt_mu held on entry and on return).  It sends them
 * through rt_unlock, then locks rt_mu again.  A woken thread may preempt the
 * sender at the end of the futex call.  If the sender still held rt_mu,
 * the woken thread, and every thread that needs a P meanwhile, would wait
 * for a thread that no longer runs.  Go's woken M's wait on notes of
 * their own and need no lock to return.  Returns true if it sent any.
 * The caller must then check its condition again before it waits, because
 * the condition may have changed while rt_mu was free.
 */
static bool flush_wakes_before_wait(struct nrun *run)
{
	if (wakes_empty(&run->pending))
		return false;
	rt_unlock(run);
	pthread_mutex_lock(&run->rt_mu);
	return true;
}

/* Waits on rt_cv[cv] (rt_mu held) in state blocked for `why`; unwinds on
 * abort.  Returns at once, without waiting, after it sent deferred
 * wake-ups, so every caller waits in a loop that checks its condition. */
static void rt_wait(struct nthread *t, enum native_cv cv, enum hs_reason why)
{
	struct nrun *run = t->run;

	if (__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST) && t->can_unwind) {
		rt_unlock(run);
		native_check_abort(t);
	}
	if (t->cur_state != HS_TS_BLOCKED || t->cur_reason != why)
		native_enter_state(t, HS_TS_BLOCKED, why, -1);
	if (flush_wakes_before_wait(run))
		return;
	pthread_cond_wait(&run->rt_cv[cv], &run->rt_mu);
	if (__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST) && t->can_unwind) {
		rt_unlock(run);
		native_check_abort(t);
	}
}

/* Queues t for a P, at the front for a GC mark worker (Go's schedule()
 * looks for a GC worker before other goroutines). */
static void pw_push(struct nrun *run, struct nthread *t, bool front)
{
	t->pw_next = NULL;
	if (front) {
		t->pw_next = run->pw_head;
		run->pw_head = t;
		if (!run->pw_tail)
			run->pw_tail = t;
		return;
	}
	if (run->pw_tail)
		run->pw_tail->pw_next = t;
	else
		run->pw_head = t;
	run->pw_tail = t;
}

/* Hands idle P's to queued P waiters, oldest first, unless the world is
 * stopping (rt_mu held).  Each waiter wakes holding its P, so no woken
 * thread finds the P taken and waits again. */
static void grant_idle_ps(struct nrun *run)
{
	while (!run->stw && run->pidle > 0 && run->pw_head) {
		struct nthread *w = run->pw_head;

		run->pw_head = w->pw_next;
		if (!run->pw_head)
			run->pw_tail = NULL;
		w->pw_next = NULL;
		run->pidle--;
		w->p_granted = true;
		/* NOTE: past NATIVE_PENDING_WAKES grants in one section (more
		 * than 16 P's) the signal goes out with rt_mu held, so the
		 * woken thread may wait for the lock as send_wakes avoids. */
		if (run->pending.n < NATIVE_PENDING_WAKES)
			run->pending.p_waiters[run->pending.n++] = w;
		else
			pthread_cond_signal(&w->p_cv);
	}
}

/* Waits (rt_mu held) in state blocked for `why` until a P is handed to t;
 * returns with the P and rt_mu held.  Unwinds on abort. */
static void p_park(struct nthread *t, enum hs_reason why)
{
	struct nrun *run = t->run;

	if (t->cur_state != HS_TS_BLOCKED || t->cur_reason != why)
		native_enter_state(t, HS_TS_BLOCKED, why, -1);
	while (!t->p_granted) {
		if (__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST) && t->can_unwind) {
			rt_unlock(run);
			native_check_abort(t);
		}
		if (flush_wakes_before_wait(run))
			continue;
		pthread_cond_wait(&t->p_cv, &run->rt_mu);
	}
	t->p_granted = false;
	t->holds_p = true;
}

/* Gives t's P back (rt_mu held): to the GC daemon while it stops the
 * world, else to the oldest P waiter. */
static void p_release_locked(struct nthread *t)
{
	struct nrun *run = t->run;

	run->pidle++;
	t->holds_p = false;
	if (run->stw)
		run->pending.daemon = true;
	else
		grant_idle_ps(run);
}

/* exitsyscall: takes an idle P when no one waits for one and the world is
 * not stopping, else queues for one. */
static void p_acquire(struct nthread *t, bool front)
{
	struct nrun *run = t->run;

	native_check_abort(t);
	pthread_mutex_lock(&run->rt_mu);
	if (!run->stw && run->pidle > 0 && !run->pw_head) {
		run->pidle--;
		t->holds_p = true;
		rt_unlock(run);
		return;
	}
	pw_push(run, t, front);
	p_park(t, run->stw ? HS_R_STW : HS_R_P_WAIT);
	rt_unlock(run);
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

static void p_release(struct nthread *t)
{
	struct nrun *run = t->run;

	pthread_mutex_lock(&run->rt_mu);
	p_release_locked(t);
	rt_unlock(run);
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
			p_acquire(t, false);
		}
		native_spin(t, step);
		ns -= step;
	}
}

/* Stops the world (rt_mu held): no new P's, then wait for every P. */
static void stop_world(struct nthread *t)
{
	struct nrun *run = t->run;

	run->stw_begin = native_clock();
	__atomic_store_n(&run->stw, 1, __ATOMIC_SEQ_CST);
	while (run->pidle < run->nprocs)
		rt_wait(t, NATIVE_CV_DAEMON, HS_R_STW);
	run->pidle = 0;
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

static void start_world(struct nrun *run)
{
	run->pidle = run->nprocs;
	run->stw_ns += native_clock() - run->stw_begin;
	__atomic_store_n(&run->stw, 0, __ATOMIC_SEQ_CST);
	grant_idle_ps(run);
}

/* ---- The garbage collector ---- */

static bool mark_done(const struct nrun *run, uint64_t n)
{
	return run->gc_cycles + (run->gc_marking ? 0 : 1) > n;
}

/*
 * Moves the runtime.GC() callers whose mark has ended to the P-wait queue,
 * in the order they started waiting (rt_mu held).  Go readies their
 * goroutines, and each runs when its locked M is handed a P, so a cycle's
 * end wakes no more threads than there are P's to run them.
 */
static void ready_gc_callers(struct nrun *run)
{
	struct nthread **pp = &run->gcw_head;

	while (*pp) {
		struct nthread *w = *pp;

		if (mark_done(run, w->gc_target)) {
			*pp = w->gcw_next;
			w->gcw_next = NULL;
			pw_push(run, w, false);
		} else {
			pp = &w->gcw_next;
		}
	}
}

/* Parks runtime.GC() caller t (rt_mu held, no P) until the mark of cycle
 * `target` has ended and a P is handed to it. */
static void gc_park(struct nthread *t, uint64_t target)
{
	struct nrun *run = t->run;
	struct nthread **pp = &run->gcw_head;

	while (*pp)
		pp = &(*pp)->gcw_next;
	t->gc_target = target;
	t->gcw_next = NULL;
	*pp = t;
	p_park(t, HS_R_GC_WAIT);
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
	rt_unlock(run);
	native_spin(t, rp->gc_stw1_ns);
	pthread_mutex_lock(&run->rt_mu);
	start_world(run);

	/* concurrent mark */
	run->mark_running = run->gc_workers;
	run->mark_gen++;
	run->pending.mark = true;
	while (run->mark_running > 0)
		rt_wait(t, NATIVE_CV_DAEMON, HS_R_GC_WAIT);
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

	/* mark termination: STW2, then wake the cycle's waiters */
	stop_world(t);
	rt_unlock(run);
	native_spin(t, rp->gc_stw2_ns);
	pthread_mutex_lock(&run->rt_mu);
	run->gc_marking = false;
	ready_gc_callers(run);
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
				rt_wait(t, NATIVE_CV_DAEMON, HS_R_IDLE);
			if (run->gc_request <= run->gc_cycles)
				break;
			native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
			gc_cycle(t);
		}
		rt_unlock(run);
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
			rt_wait(t, NATIVE_CV_MARK, HS_R_IDLE);
		if (run->mark_gen == seen) {
			rt_unlock(run);
			return;
		}
		seen = run->mark_gen;
		rt_unlock(run);
		native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

		p_acquire(t, true);
		go_work(t, rp->gc_mark_ns / run->gc_workers);
		p_release(t);

		pthread_mutex_lock(&run->rt_mu);
		run->mark_running--;
		run->pending.daemon = true;
		rt_unlock(run);
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

/* The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), ns. */
static int64_t rt_thread_cpu(hs_env *env)
{
	struct timespec ts;

	(void)env;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int64_t native_cpu_read_cost(void)
{
	int64_t d[201];

	for (int i = 0; i < 201; i++) {
		int64_t a = rt_thread_cpu(NULL);

		d[i] = rt_thread_cpu(NULL) - a;
	}
	qsort(d, 201, sizeof(d[0]), compare_i64);
	return d[100];
}

/* Adds one callback's phases to the thread's own totals, so that counting
 * takes no lock.  Each phase spans one clock read, whose cost comes off. */
static void rt_phase_cpu(hs_env *env, const int64_t cpu[HS_NPHASES])
{
	struct nthread *t = nthread_of(env);
	int64_t read = t->run->cpu_read_ns;

	for (int i = 0; i < HS_NPHASES; i++)
		t->phase_cpu[i] += cpu[i] > read ? cpu[i] - read : 0;
}

static void rt_p_acquire(hs_env *env)
{
	p_acquire(nthread_of(env), false);
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
	pthread_mutex_lock(&run->rt_mu);
	if (t->holds_p)
		p_release_locked(t);
	n = run->gc_cycles;
	if (!mark_done(run, n))
		gc_park(t, n);
	if (run->gc_request < n + 1) {
		run->gc_request = n + 1;
		run->pending.daemon = true;
	}
	if (!mark_done(run, n + 1)) {
		if (t->holds_p)
			p_release_locked(t);
		gc_park(t, n + 1);
	}
	rt_unlock(run);
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);

	if (!t->holds_p)
		p_acquire(t, false);
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
	.thread_cpu = rt_thread_cpu,
	.phase_cpu = rt_phase_cpu,
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
	run->driver.phase_cpu = run->req->phase_cpu;
}
