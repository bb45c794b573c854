/*
 * bind: the refill policy of Go 1.21 and later.
 *
 * List words: the extram word of extram.h (0 empty, 1 locked, else head)
 * and extraMWaiters, exactly as in `waiters`.  Each foreign thread also
 * has a slot (env->ops->thread_slot) that is NULL or the M bound to it.
 *
 * Protocol:
 *   acquire      with a bound M: return it, with no lockextra and no
 *                signal set-up.  Otherwise pop as `waiters` does and do
 *                the needm signal set-up.
 *   entered      as `waiters`: refill when this M emptied the list or the
 *                waiter count is above 0 (a load on every callback).
 *   release      keep the M in the slot; no dropm, no signal calls
 *   thread_exit  (the pthread key destructor) dropm: undo the signal
 *                set-up and push the bound M back
 *
 * Invariants: a thread holds at most one M from its first callback to its
 * exit, so the policy creates at most one M per live thread plus the
 * spares `waiters` creates.  Every M created is on the list or bound to a
 * live thread; at the end of a run every M is back on the list.
 *
 * Mirrors needm, dropm, cgocallbackg and cgoBindM in src/runtime/proc.go
 * and cgocall.go after golang/go commit c426c87012 (CL 495855, Go 1.21).
 */
#include "extram.h"
#include "policy.h"

#define NEEDEXTRAM 1u

struct bind_state {
	struct extram x;
};

static int bind_init(hs_env *env, void *state, const int64_t *params)
{
	struct bind_state *s = state;

	extram_init(env, &s->x);
	extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return 0;
}

static hs_m *bind_acquire(hs_env *env, void *state)
{
	struct bind_state *s = state;
	void **slot = env->ops->thread_slot(env);
	bool emptied;
	hs_m *m;

	if (*slot)
		return *slot; /* the fast path: the M is still bound */
	m = extram_pop(env, &s->x, true, &emptied);
	if (emptied)
		m->flags |= NEEDEXTRAM;
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void bind_entered(hs_env *env, void *state, hs_m *m)
{
	struct bind_state *s = state;
	const struct hs_env_ops *o = env->ops;

	if (!(m->flags & NEEDEXTRAM) && o->load(env, &s->x.waiters) == 0)
		return;
	m->flags &= ~NEEDEXTRAM;

	extram_newextram(env, &s->x);
}

static void bind_release(hs_env *env, void *state, hs_m *m)
{
	*env->ops->thread_slot(env) = m;
}

static void bind_thread_exit(hs_env *env, void *state)
{
	struct bind_state *s = state;
	void **slot = env->ops->thread_slot(env);
	hs_m *m = *slot;

	if (!m)
		return;
	*slot = NULL;
	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
}

static uint64_t bind_spare(void *state)
{
	return extram_length(&((struct bind_state *)state)->x);
}

const struct hs_policy hs_policy_bind = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "bind",
	.summary = "as waiters, but the C thread keeps its M until it exits (Go 1.21 and later)",
	.state_size = sizeof(struct bind_state),
	.init = bind_init,
	.acquire = bind_acquire,
	.entered = bind_entered,
	.release = bind_release,
	.thread_exit = bind_thread_exit,
	.spare_count = bind_spare,
};
