/* A policy built for a later contract version; the loader must reject it
 * with a message naming both versions. */
#include <policy.h>

static hs_m *wrong_acquire(hs_env *env, void *state)
{
	(void)state;
	return env->ops->new_m(env, "unused");
}

static void wrong_release(hs_env *env, void *state, hs_m *m)
{
	(void)env;
	(void)state;
	(void)m;
}

static int wrong_init(hs_env *env, void *state, const int64_t *params)
{
	(void)env;
	(void)state;
	(void)params;
	return 0;
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION + 41,
	.name = "wrong-abi",
	.summary = "built for another contract version",
	.init = wrong_init,
	.acquire = wrong_acquire,
	.release = wrong_release,
};
