/* Breaks: every callback gets a new M and every M is kept on the list,
 * so M's grow with callbacks, not threads (expected verdict: m-bounded). */
#include "broken.h"

static hs_m *unbounded_acquire(hs_env *env, void *state)
{
	(void)state;
	return env->ops->new_m(env, "every-call");
}

static void unbounded_release(hs_env *env, void *state, hs_m *m)
{
	struct broken_state *s = state;

	env->ops->lock(env, &s->mu);
	broken_push(s, m);
	env->ops->unlock(env, &s->mu);
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "broken-unbounded",
	.summary = "creates an M on every callback",
	.state_size = sizeof(struct broken_state),
	.init = broken_init,
	.acquire = unbounded_acquire,
	.release = unbounded_release,
	.spare_count = broken_spare,
};
