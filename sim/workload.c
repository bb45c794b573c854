#include "workload.h"

#include <assert.h>

const char *const hs_phase_scalar[HS_NPHASES] = {
	"cpu_think_ns", "cpu_needm_ns", "cpu_p_wait_ns", "cpu_go_ns", "cpu_exit_ns",
};

/* Ends phase `ph` of the callback: adds the CPU time since *mark to
 * cpu[ph] and moves the mark.  Does nothing unless phases are measured. */
static void end_phase(hs_env *env, const struct hs_rt_ops *rt, bool on, int64_t *mark,
		      int64_t cpu[HS_NPHASES], enum hs_phase ph)
{
	int64_t now;

	if (!on)
		return;
	now = rt->thread_cpu(env);
	cpu[ph] += now - *mark;
	*mark = now;
}

static void run_steps(hs_env *env, const struct hs_rt_ops *rt, const struct hs_callback_spec *spec)
{
	for (int i = 0; i < spec->nsteps; i++) {
		const struct hs_step *st = &spec->steps[i];

		switch (st->kind) {
		case HS_STEP_WORK:
			rt->go_work(env, st->arg);
			break;
		case HS_STEP_GC:
			rt->gc(env);
			break;
		case HS_STEP_GROW:
			rt->grow(env, st->arg);
			break;
		}
	}
}

int hs_foreign_thread_run(hs_env *env, const struct hs_driver *d)
{
	const struct hs_rt_ops *rt = d->rt;
	const struct hs_policy *pol = d->policy;
	struct hs_callback_spec spec;
	struct hs_thread_counters before, after;
	bool phases = d->phase_cpu && rt->thread_cpu && rt->phase_cpu;
	int seq = 0;
	int rc;

	rt->thread_start(env);
	while ((rc = rt->next_callback(env, seq, &spec)) == 1) {
		struct hs_callback_rec rec = { 0 };
		int64_t cpu[HS_NPHASES] = { 0 };
		int64_t mark = phases ? rt->thread_cpu(env) : 0;
		hs_m *m;

		if (spec.think_ns > 0)
			rt->think(env, spec.think_ns, spec.think_kind);
		end_phase(env, rt, phases, &mark, cpu, HS_PHASE_THINK);

		rt->counters(env, &before);
		rec.seq = seq;
		rec.arrival_ns = env->ops->now(env);

		/* needm */
		m = pol->acquire(env, d->policy_state);
		rt->progress(env);
		if (!m)
			return HS_E_MODEL; /* acquire must return an M */
		if (rt->m_claim)
			rt->m_claim(env, m, true);
		rec.m = (int64_t)m->id;
		if (!d->skip_phase_times)
			rec.m_acquired_ns = env->ops->now(env);
		end_phase(env, rt, phases, &mark, cpu, HS_PHASE_NEEDM);

		/* exitsyscall, then the refill point */
		rt->p_acquire(env);
		if (!d->skip_phase_times)
			rec.p_acquired_ns = env->ops->now(env);
		end_phase(env, rt, phases, &mark, cpu, HS_PHASE_P_WAIT);
		if (pol->entered) {
			pol->entered(env, d->policy_state, m);
			rt->progress(env);
		}

		run_steps(env, rt, &spec);
		end_phase(env, rt, phases, &mark, cpu, HS_PHASE_GO);

		/* return to C, then dropm */
		rt->p_release(env);
		if (rt->m_claim)
			rt->m_claim(env, m, false);
		pol->release(env, d->policy_state, m);
		rt->progress(env);
		rec.done_ns = env->ops->now(env);
		end_phase(env, rt, phases, &mark, cpu, HS_PHASE_EXIT);
		if (phases)
			rt->phase_cpu(env, cpu);

		rt->counters(env, &after);
		rec.sleeps = after.sleeps - before.sleeps;
		rec.yields = after.yields - before.yields;
		rec.cas_failures = after.cas_failures - before.cas_failures;
		rt->callback_done(env, &rec);
		seq++;
	}
	if (pol->thread_exit) {
		pol->thread_exit(env, d->policy_state);
		rt->progress(env);
	}
	rt->thread_end(env);
	return rc < 0 ? rc : 0;
}

int hs_scenario_callback(const struct hs_scenario *sc, int seq, struct hs_callback_spec *spec)
{
	if (seq >= sc->callbacks)
		return 0;
	spec->think_ns = seq > 0 ? sc->think_ns : 0;
	spec->think_kind = sc->think_kind;
	spec->steps = sc->steps;
	spec->nsteps = sc->nsteps;
	return 1;
}
