/* Breaks: release takes the mutex to push the M and never unlocks it, so
 * the next acquire blocks forever (expected verdict: deadlock). */
#include "broken.h"

static hs_m *unlock_acquire(hs_env *env, void *state)
{
	struct broken_state *s = state;
	hs_m *m;

	env->ops->lock(env, &s->mu);
	m = broken_pop(s);
	if (!m)
		m = env->ops->new_m(env, "empty");
	env->ops->unlock(env, &s->mu);
	return m;
}

static void unlock_release(hs_env *env, void *state, hs_m *m)
{
	struct broken_state *s = state;

	env->ops->lock(env, &s->mu);
	broken_push(s, m);
	/* the unlock is missing */
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "broken-unlock",
	.summary = "forgets to unlock the list in release",
	.state_size = sizeof(struct broken_state),
	.init = broken_init,
	.acquire = unlock_acquire,
	.release = unlock_release,
	.spare_count = broken_spare,
};
