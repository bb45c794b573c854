/* Breaks: a thread that finds the list empty parks on a futex, and the
 * refill in `entered` pushes new M's but never wakes it (expected
 * verdict: deadlock). */
#include "broken.h"

static hs_m *nowake_acquire(hs_env *env, void *state)
{
	struct broken_state *s = state;
	hs_m *m;

	for (;;) {
		uint64_t g;

		env->ops->lock(env, &s->mu);
		m = broken_pop(s);
		if (m) {
			env->ops->unlock(env, &s->mu);
			return m;
		}
		s->parked++;
		g = env->ops->load(env, &s->gen);
		env->ops->unlock(env, &s->mu);
		env->ops->futex_wait(env, &s->gen, g, -1);
	}
}

static void nowake_entered(hs_env *env, void *state, hs_m *m)
{
	struct broken_state *s = state;
	int64_t n;

	(void)m;
	env->ops->lock(env, &s->mu);
	n = s->parked;
	s->parked = 0;
	env->ops->unlock(env, &s->mu);
	for (int64_t i = 0; i < n; i++) {
		hs_m *fresh = env->ops->new_m(env, "waiter");

		env->ops->lock(env, &s->mu);
		broken_push(s, fresh);
		env->ops->unlock(env, &s->mu);
		/* the futex_wake on s->gen is missing */
	}
}

static void nowake_release(hs_env *env, void *state, hs_m *m)
{
	struct broken_state *s = state;

	env->ops->lock(env, &s->mu);
	broken_push(s, m);
	env->ops->unlock(env, &s->mu);
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "broken-nowake",
	.summary = "never wakes a parked waiter",
	.state_size = sizeof(struct broken_state),
	.init = broken_init,
	.acquire = nowake_acquire,
	.entered = nowake_entered,
	.release = nowake_release,
	.spare_count = broken_spare,
};
