/*
 * waiters: the refill policy of Go 1.7 to 1.20.
 *
 * List words: the extram word of extram.h (0 empty, 1 locked, else head)
 * and extraMWaiters, a count of threads that found the list empty.  A
 * thread adds 1 to the count once per wait, before its first usleep(1).
 *
 * Protocol:
 *   acquire   pop the head as `single` does, counting itself as a waiter
 *             while the list is empty
 *   entered   (holding a P) if this M emptied the list or the count is
 *             above 0: swap the count to 0 and create that many M's; with
 *             a count of 0, create one only if the list is still empty
 *   release   push the M back
 *
 * Invariants: every thread that counted itself is matched by one created
 * M, unless a concurrent refill swapped the count first, in which case
 * that refill created its M.  Every M created is on the list or held by a
 * thread in a callback.
 *
 * Mirrors lockextra, needm, cgocallbackg and newextram after golang/go
 * commit 50048a4e (CL 25047, Go 1.7).
 */
#include "extram.h"
#include "policy.h"

#define NEEDEXTRAM 1u

struct waiters_state {
	struct extram x;
};

static int waiters_init(hs_env *env, void *state, const int64_t *params)
{
	struct waiters_state *s = state;

	extram_init(env, &s->x);
	extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return 0;
}

static hs_m *waiters_acquire(hs_env *env, void *state)
{
	struct waiters_state *s = state;
	bool emptied;
	hs_m *m = extram_pop(env, &s->x, true, &emptied);

	if (emptied)
		m->flags |= NEEDEXTRAM;
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void waiters_entered(hs_env *env, void *state, hs_m *m)
{
	struct waiters_state *s = state;
	const struct hs_env_ops *o = env->ops;

	if (!(m->flags & NEEDEXTRAM) && o->load(env, &s->x.waiters) == 0)
		return;
	m->flags &= ~NEEDEXTRAM;

	extram_newextram(env, &s->x);
}

static void waiters_release(hs_env *env, void *state, hs_m *m)
{
	struct waiters_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
}

static uint64_t waiters_spare(void *state)
{
	return extram_length(&((struct waiters_state *)state)->x);
}

const struct hs_policy hs_policy_waiters = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "waiters",
	.summary = "count the threads that found the list empty and create that many M's (Go 1.7 to 1.20)",
	.state_size = sizeof(struct waiters_state),
	.init = waiters_init,
	.acquire = waiters_acquire,
	.entered = waiters_entered,
	.release = waiters_release,
	.spare_count = waiters_spare,
};
