/*
 * The policy primitives (struct hs_env_ops) and the runtime operations
 * of the workload driver (struct hs_rt_ops) on the sim backend.
 *
 * Every memory primitive first spends its cost, which depends on where
 * the word's cache line is (see os.c), and then takes effect at the
 * instant the fiber resumes, so effects are ordered by simulated time.
 *
 * A wake-up is wasted when the woken thread waits again (sleep or futex
 * wait) before it makes progress: before a policy hook returns or a lock
 * annotated by lock_acquired is taken.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

static inline struct sim *sim_of(hs_env *env)
{
	return sim_thread_of(env)->sim;
}

static uint64_t env_load(hs_env *env, hs_word *w)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_cpu(t->sim, t, sim_mem_cost(t->sim, t, w, false));
	return w->value;
}

static void env_store(hs_env *env, hs_word *w, uint64_t v)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_cpu(t->sim, t, sim_mem_cost(t->sim, t, w, true));
	w->value = v;
}

static bool env_cas(hs_env *env, hs_word *w, uint64_t *expected, uint64_t desired)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_cpu(t->sim, t, sim_mem_cost(t->sim, t, w, true));
	if (w->value == *expected) {
		w->value = desired;
		return true;
	}
	*expected = w->value;
	t->counters.cas_failures++;
	return false;
}

static uint64_t env_fetch_add(hs_env *env, hs_word *w, uint64_t delta)
{
	struct sim_thread *t = sim_thread_of(env);
	uint64_t old;

	sim_cpu(t->sim, t, sim_mem_cost(t->sim, t, w, true));
	old = w->value;
	w->value = old + delta;
	return old;
}

static uint64_t env_exchange(hs_env *env, hs_word *w, uint64_t v)
{
	struct sim_thread *t = sim_thread_of(env);
	uint64_t old;

	sim_cpu(t->sim, t, sim_mem_cost(t->sim, t, w, true));
	old = w->value;
	w->value = v;
	return old;
}

static void env_yield(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	t->counters.yields++;
	sim_os_yield(t->sim, t);
}

/* Called before a policy wait; counts the previous wake-up as wasted if
 * the thread made no progress since. */
static void before_wait(struct sim *s, struct sim_thread *t)
{
	if (!t->unproductive)
		return;
	s->wasted++;
	t->unproductive = false;
	if (t->wake_rec >= 0)
		s->out->wakes.data[t->wake_rec].wasted = 1;
}

static void env_sleep(hs_env *env, int64_t ns)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	uint32_t gen = t->gen;

	t->counters.sleeps++;
	before_wait(s, t);
	sim_os_sleep(s, t, ns, HS_R_USLEEP);
	if (t->gen != gen)
		t->unproductive = true; /* it slept and was woken */
}

static int env_futex_wait(hs_env *env, hs_word *w, uint64_t expected, int64_t timeout_ns)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	int rc;

	before_wait(s, t);
	rc = sim_futex_wait(s, t, w, expected, timeout_ns, HS_R_FUTEX);
	if (rc != 2)
		t->unproductive = true;
	return rc;
}

static int env_futex_wake(hs_env *env, hs_word *w, int n)
{
	struct sim_thread *t = sim_thread_of(env);

	return sim_futex_wake(t->sim, t, w, n);
}

static void env_lock(hs_env *env, hs_rtmutex *mu)
{
	struct sim *s = sim_of(env);
	const struct hs_runtime_profile *rt = s->rt;

	hs_lock2(env, mu, s->ncores > 1 ? rt->lock_spin : 0, rt->lock_spin_ns, rt->lock_passive_spin);
}

static void env_unlock(hs_env *env, hs_rtmutex *mu)
{
	hs_unlock2(env, mu);
}

static hs_m *env_new_m(hs_env *env, const char *reason)
{
	struct sim_thread *t = sim_thread_of(env);

	return sim_new_m(t->sim, t, reason);
}

static void env_free_m(hs_env *env, hs_m *m)
{
	struct sim *s = sim_of(env);

	/* M's stay allocated until the run ends so that ids stay valid; a
	 * freed M no longer counts towards the conservation check. */
	m->flags = 0;
	m->link = NULL;
	s->m_freed++;
}

static void env_work(hs_env *env, int64_t ns)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_cpu(t->sim, t, sim_spin_ns(t->sim, ns));
}

static void env_signals(hs_env *env, enum hs_sig_phase phase)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	int n = phase == HS_SIG_NEEDM ? s->rt->needm_syscalls : s->rt->dropm_syscalls;

	/* Each call costs signal_syscall: rt_sigprocmask and sigaltstack copy
	 * signal sets and stack descriptors, and cost more than the trivial
	 * system call that `syscall` times (herdsim calibrate times both). */
	sim_kernel_enter(t);
	sim_cpu(s, t, (int64_t)n * s->os->signal_syscall_ns);
	sim_kernel_exit(t);
}

static int env_spawn(hs_env *env, const char *name, void (*fn)(hs_env *env, void *arg), void *arg)
{
	struct sim *s = sim_of(env);
	struct sim_thread *u;

	if (s->init_done)
		return HS_E_USAGE;
	u = sim_thread_new(s, ROLE_POLICY, name, fn, arg);
	if (!u)
		return HS_E_NOMEM;
	sim_place(s, u, false, false);
	return 0;
}

/* Returns the time after one read of the native backend's clock.  The read
 * is charged only to the running thread, since sim_cpu charges no other. */
static int64_t env_now(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;

	if (s->running == t)
		sim_clock_read(s, t);
	return s->now;
}

static int env_lock_register(hs_env *env, const char *name)
{
	return sim_lock_register(sim_of(env), name);
}

static void env_lock_begin(hs_env *env, int id)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_lock_begin(t->sim, t, id);
}

static void env_lock_acquired(hs_env *env, int id, bool contended)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_lock_acquired(t->sim, t, id, contended);
}

static void env_lock_released(hs_env *env, int id)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_lock_released(t->sim, t, id);
}

static void env_gauge(hs_env *env, const char *name, int64_t value)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	struct hs_gauge_rec *g;

	if (!s->events || !(g = HS_VEC_PUSH(&s->out->gauges)))
		return;
	g->time_ns = s->now;
	g->thread = t->id;
	strncpy(g->name, name, sizeof(g->name) - 1);
	g->value = value;
}

static void **env_thread_slot(hs_env *env)
{
	return &sim_thread_of(env)->slot;
}

static uint64_t env_random(hs_env *env)
{
	return hs_rng_next(&sim_of(env)->rng_policy);
}

const struct hs_env_ops sim_env_ops = {
	.load = env_load,
	.store = env_store,
	.cas = env_cas,
	.fetch_add = env_fetch_add,
	.exchange = env_exchange,
	.yield = env_yield,
	.sleep = env_sleep,
	.futex_wait = env_futex_wait,
	.futex_wake = env_futex_wake,
	.lock = env_lock,
	.unlock = env_unlock,
	.new_m = env_new_m,
	.free_m = env_free_m,
	.work = env_work,
	.signals = env_signals,
	.spawn = env_spawn,
	.now = env_now,
	.lock_register = env_lock_register,
	.lock_begin = env_lock_begin,
	.lock_acquired = env_lock_acquired,
	.lock_released = env_lock_released,
	.gauge = env_gauge,
	.thread_slot = env_thread_slot,
	.random = env_random,
};

/* The workload driver's runtime operations. */

/* Charges the new thread thread_start, its own CPU time before its start
 * routine runs.  The creating thread paid thread_create (sim.c). */
static void rt_thread_start(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_cpu(t->sim, t, t->sim->os->thread_start_ns);
}

static void rt_thread_end(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_kernel_enter(t);
	sim_cpu(t->sim, t, sim_cost(t->sim, HS_COST_THREAD_EXIT, t->sim->os->thread_exit_ns));
	sim_kernel_exit(t);
}

static void rt_think(hs_env *env, int64_t ns, enum hs_think_kind kind)
{
	struct sim_thread *t = sim_thread_of(env);

	if (kind == HS_THINK_CPU)
		sim_cpu(t->sim, t, sim_spin_ns(t->sim, ns));
	else
		sim_os_sleep(t->sim, t, ns, HS_R_THINK);
}

static void rt_p_acquire(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_p_acquire(t->sim, t, false);
}

static void rt_p_release(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_p_release(t->sim, t);
}

static void rt_go_work(hs_env *env, int64_t ns)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_go_work(t->sim, t, ns);
}

static void rt_gc(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_gc_call(t->sim, t);
}

static void rt_grow(hs_env *env, int64_t frames)
{
	struct sim_thread *t = sim_thread_of(env);

	sim_go_work(t->sim, t, frames * t->sim->rt->stack_frame_ns);
}

static void rt_progress(hs_env *env)
{
	sim_thread_of(env)->unproductive = false;
}

static void rt_counters(hs_env *env, struct hs_thread_counters *c)
{
	*c = sim_thread_of(env)->counters;
}

/*
 * Appends the trace row of a finished callback to out->workload.  A replay
 * records the row it was given (arrival_ns as in the trace); a scenario
 * run records the simulated arrival and its thread's creation time.
 */
static void record_workload(struct sim *s, struct sim_thread *t, const struct hs_callback_rec *rec)
{
	const struct hs_scenario *sc = &s->cfg->scenario;
	struct hs_workload_rec *w = HS_VEC_PUSH(&s->out->workload);

	if (!w) {
		sim_fail(s, "out of memory recording the workload");
		return;
	}
	w->thread = t->workload_thread;
	w->seq = rec->seq;
	if (s->replay) {
		sim_replay_workload(s, t, w);
		return;
	}
	w->thread_start_ns = s->out->threads.data[t->id].created_ns;
	w->arrival_ns = rec->arrival_ns;
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
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	struct hs_callback_rec *r;

	s->callbacks_done++;
	hs_hist_add(&s->latency, rec->done_ns - rec->arrival_ns);
	if (s->events && (r = HS_VEC_PUSH(&s->out->callbacks)) != NULL) {
		*r = *rec;
		r->thread = t->id;
	}
	if (s->req->record_workload)
		record_workload(s, t, rec);
}

static void rt_m_claim(hs_env *env, hs_m *m, bool claim)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	int32_t *holder;

	if (m->id < 1 || m->id > (uint64_t)s->nms || s->ms[m->id - 1] != m) {
		sim_fail(s, "policy %s returned an M that the runtime did not allocate", s->policy->name);
		return;
	}
	holder = &s->m_holder[m->id - 1];
	if (claim && *holder != SIM_NONE)
		sim_fail(s, "M %llu handed to thread %d while thread %d holds it", (unsigned long long)m->id,
			 t->id, *holder);
	else if (!claim && *holder != t->id)
		sim_fail(s, "thread %d released M %llu that it does not hold", t->id, (unsigned long long)m->id);
	*holder = claim ? t->id : SIM_NONE;
}

/* Returns the thread's CPU time so far, the burst in progress included. */
static int64_t rt_thread_cpu(hs_env *env)
{
	struct sim_thread *t = sim_thread_of(env);
	struct sim *s = t->sim;
	int64_t ns = t->cpu_ns;

	if (t->core >= 0 && t->core < s->ncores) {
		const struct sim_core *core = &s->cores[t->core];

		if (core->current == t && core->busy_from >= 0 && s->now > core->busy_from)
			ns += s->now - core->busy_from;
	}
	return ns;
}

static void rt_phase_cpu(hs_env *env, const int64_t cpu[HS_NPHASES])
{
	struct sim *s = sim_thread_of(env)->sim;

	for (int i = 0; i < HS_NPHASES; i++)
		s->phase_cpu[i] += cpu[i];
}

static int rt_next_callback(hs_env *env, int seq, struct hs_callback_spec *spec)
{
	struct sim_thread *t = sim_thread_of(env);

	if (t->sim->replay)
		return sim_replay_next(t->sim, t, spec);
	return hs_scenario_callback(&t->sim->cfg->scenario, seq, spec);
}

const struct hs_rt_ops sim_rt_ops = {
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
	.m_claim = rt_m_claim,
	.next_callback = rt_next_callback,
	.thread_cpu = rt_thread_cpu,
	.phase_cpu = rt_phase_cpu,
};
