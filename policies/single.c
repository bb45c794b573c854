/*
 * single: the refill policy of Go 1.5 and 1.6.
 *
 * List word: the extram word of extram.h (0 empty, 1 locked, else head).
 *
 * Protocol:
 *   acquire   pop the head, sleeping with usleep(1) while the list is
 *             empty; if the pop took the last M, mark it NEEDEXTRAM
 *   entered   (holding a P) an M marked NEEDEXTRAM creates exactly one new
 *             M and pushes it
 *   release   push the M back
 *
 * Invariants: only the thread that emptied the list refills it, and it
 * adds one M, so a burst of N threads with one spare M passes through one
 * thread at a time.  Every M created is on the list or held by a thread in
 * a callback.
 *
 * Mirrors needm, cgocallbackg and newextram in src/runtime/proc.go and
 * cgocall.go at the parent of golang/go commit 50048a4e.
 */
#include "extram.h"
#include "policy.h"

#define NEEDEXTRAM 1u

struct single_state {
	struct extram x;
};

static int single_init(hs_env *env, void *state, const int64_t *params)
{
	struct single_state *s = state;

	extram_init(env, &s->x);
	extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return 0;
}

static hs_m *single_acquire(hs_env *env, void *state)
{
	struct single_state *s = state;
	bool emptied;
	hs_m *m = extram_pop(env, &s->x, false, &emptied);

	if (emptied)
		m->flags |= NEEDEXTRAM;
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void single_entered(hs_env *env, void *state, hs_m *m)
{
	struct single_state *s = state;

	if (!(m->flags & NEEDEXTRAM))
		return;
	m->flags &= ~NEEDEXTRAM;
	extram_push(env, &s->x, env->ops->new_m(env, "needextram"));
}

static void single_release(hs_env *env, void *state, hs_m *m)
{
	struct single_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
}

static uint64_t single_spare(void *state)
{
	return extram_length(&((struct single_state *)state)->x);
}

const struct hs_policy hs_policy_single = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "single",
	.summary = "the thread that took the last M creates one more (Go 1.5 to 1.6)",
	.state_size = sizeof(struct single_state),
	.init = single_init,
	.acquire = single_acquire,
	.entered = single_entered,
	.release = single_release,
	.spare_count = single_spare,
};
