/* Breaks: release drops every M with an even id instead of pushing it
 * (expected verdict: m-lost). */
#include "broken.h"

static hs_m *lose_acquire(hs_env *env, void *state)
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

static void lose_release(hs_env *env, void *state, hs_m *m)
{
	struct broken_state *s = state;

	if (m->id % 2 == 0)
		return; /* lost */
	env->ops->lock(env, &s->mu);
	broken_push(s, m);
	env->ops->unlock(env, &s->mu);
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "broken-lose",
	.summary = "loses every M with an even id in release",
	.state_size = sizeof(struct broken_state),
	.init = broken_init,
	.acquire = lose_acquire,
	.release = lose_release,
	.spare_count = broken_spare,
};
