/*
 * The workload driver: what a foreign thread does, written once for both
 * backends.
 *
 * A foreign thread is created, then makes its callbacks one after another.
 * Each callback walks the steps of Go's cgocallback path:
 *
 *   C code (think time)
 *   needm          policy->acquire        the M, and its signal set-up
 *   exitsyscall    rt->p_acquire          wait for a P (and for STW to end)
 *   refill point   policy->entered
 *   Go code        rt->go_work, rt->gc, rt->grow
 *   return         rt->p_release
 *   dropm          policy->release
 *
 * and at exit calls policy->thread_exit.  The backend supplies the runtime
 * model through `struct hs_rt_ops`: the sim backend with simulated costs
 * and fibers, the native backend with real threads.  The driver itself has
 * no notion of time beyond env->ops->now().
 */
#ifndef HERDSIM_WORKLOAD_H
#define HERDSIM_WORKLOAD_H

#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "result.h"

struct hs_callback_spec {
	int64_t think_ns;              /* C time before the callback */
	enum hs_think_kind think_kind;
	const struct hs_step *steps;   /* the Go function's body */
	int nsteps;
};

/*
 * Phases of a callback whose CPU time the driver measures when asked
 * (hs_driver.phase_cpu): think time, needm (policy->acquire), exitsyscall
 * (rt->p_acquire), the Go code on the P (policy->entered and the steps),
 * and the return with dropm (rt->p_release, policy->release).
 */
enum hs_phase { HS_PHASE_THINK, HS_PHASE_NEEDM, HS_PHASE_P_WAIT, HS_PHASE_GO, HS_PHASE_EXIT,
		HS_NPHASES };

/* Scalar names of the phases' CPU time summed over a run's callbacks:
 * cpu_think_ns, cpu_needm_ns, cpu_p_wait_ns, cpu_go_ns, cpu_exit_ns. */
extern const char *const hs_phase_scalar[HS_NPHASES];

/* Per-thread callback counters the backend keeps for the callback table. */
struct hs_thread_counters {
	int32_t sleeps, yields, cas_failures;
};

struct hs_rt_ops {
	/* Pays for thread creation; the thread's first act. */
	void (*thread_start)(hs_env *env);
	/* Pays for thread exit; the thread's last act. */
	void (*thread_end)(hs_env *env);
	/* C code between callbacks. */
	void (*think)(hs_env *env, int64_t ns, enum hs_think_kind kind);
	/* exitsyscall: blocks until this thread holds a P. */
	void (*p_acquire)(hs_env *env);
	/* Gives the P back (the callback returns to C). */
	void (*p_release)(hs_env *env);
	/* Go code on a P for `ns` of CPU, stopping at safe points for STW. */
	void (*go_work)(hs_env *env, int64_t ns);
	/* runtime.GC(): returns after a full cycle that started after the call. */
	void (*gc)(hs_env *env);
	/* Recursion `frames` deep, growing the goroutine stack. */
	void (*grow)(hs_env *env, int64_t frames);
	/* Marks that a policy hook returned: a wake-up since the last mark
	 * was not wasted. */
	void (*progress)(hs_env *env);
	/* Reads this thread's running counters. */
	void (*counters)(hs_env *env, struct hs_thread_counters *c);
	/* Records a finished callback (rec->thread is filled by the backend). */
	void (*callback_done)(hs_env *env, const struct hs_callback_rec *rec);
	/* Optional: claims m for this thread (claim true, after needm) or
	 * gives it back (claim false, before dropm), so the backend can check
	 * that no M is held by two threads at once.  May be NULL. */
	void (*m_claim)(hs_env *env, hs_m *m, bool claim);
	/* Returns the next callback of this thread in *spec: 1, or 0 when the
	 * thread has no more, or a negative HS_E_* code on a bad workload. */
	int (*next_callback)(hs_env *env, int seq, struct hs_callback_spec *spec);
	/* Optional, used when hs_driver.phase_cpu is set: returns the CPU
	 * time this thread has used so far, ns. */
	int64_t (*thread_cpu)(hs_env *env);
	/* Optional, as thread_cpu: adds one callback's CPU time by phase,
	 * ns, to the run's totals. */
	void (*phase_cpu)(hs_env *env, const int64_t cpu[HS_NPHASES]);
};

/* Everything the driver needs besides the env. */
struct hs_driver {
	const struct hs_rt_ops *rt;
	const struct hs_policy *policy;
	void *policy_state;
	/* When set, the driver leaves m_acquired_ns and p_acquired_ns at 0
	 * instead of reading now() for them.  A backend sets it when it keeps
	 * no callback rows, the only place those two times are recorded. */
	bool skip_phase_times;
	/* When set, and rt has thread_cpu and phase_cpu, the driver reads the
	 * thread's CPU time at each phase boundary and reports the phases. */
	bool phase_cpu;
};

/*
 * Runs one foreign thread from creation to exit.  Returns 0, HS_E_MODEL
 * when the policy's acquire returned NULL (the thread stops there), or the
 * negative code next_callback returned.  Records each callback through
 * rt->callback_done.
 */
int hs_foreign_thread_run(hs_env *env, const struct hs_driver *d);

/* Fills *spec with callback `seq` of the scenario's fixed workload; returns
 * 1, or 0 after sc->callbacks callbacks. */
int hs_scenario_callback(const struct hs_scenario *sc, int seq, struct hs_callback_spec *spec);

#endif /* HERDSIM_WORKLOAD_H */
