/*
 * watermark: keep K spare M's on the list (a low-water mark).
 *
 * List word: the extram word of extram.h (0 empty, 1 locked, else head).
 * Beside it, guarded by the same lock: `count` (extram.h) and `pending`,
 * the M's a refiller has promised and not pushed yet.
 *
 * Protocol:
 *   init      create K M's
 *   acquire   pop the head, sleeping with usleep(1) while the list is
 *             empty, as Go's lockextra does; mark the M NEEDEXTRAM when
 *             the pop left fewer than K on the list
 *   entered   (holding a P) a NEEDEXTRAM M computes, under the lock,
 *             need = K - count - pending, adds need to pending, and
 *             creates and pushes need M's (each push takes one from
 *             pending)
 *   release   push the M back
 *
 * Invariants: a refill only raises count + pending to K, so every M is
 * held by a thread in a callback, on the list, or promised, and
 * created <= K + (threads in callbacks at once).  A pop that leaves
 * fewer than K always marks its M, so an empty list always has a refill
 * under way or a thread about to release.
 *
 * Mirrors no runtime: it is the obvious fix of keeping a reserve, for
 * comparison with Go's policies.
 */
#include "extram.h"
#include "policy.h"

#define NEEDEXTRAM 1u

enum { PARAM_SPARE };

struct watermark_state {
	struct extram x;
	int64_t spare;   /* K; read-only after init */
	int64_t pending; /* guarded by the extram lock */
};

static const struct hs_policy_param watermark_params[] = {
	{ "spare", "spare M's to keep on the list (K)", 4, 1, 1000 },
	{ NULL, NULL, 0, 0, 0 },
};

static int watermark_init(hs_env *env, void *state, const int64_t *params)
{
	struct watermark_state *s = state;

	s->spare = params[PARAM_SPARE];
	extram_init(env, &s->x);
	for (int64_t i = 0; i < s->spare; i++)
		extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return 0;
}

static hs_m *watermark_acquire(hs_env *env, void *state)
{
	struct watermark_state *s = state;
	hs_m *m = extram_lock(env, &s->x, false, false);

	s->x.count--;
	if (s->x.count < s->spare)
		m->flags |= NEEDEXTRAM;
	extram_unlock(env, &s->x, m->link);
	m->link = NULL;
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void watermark_entered(hs_env *env, void *state, hs_m *m)
{
	struct watermark_state *s = state;
	hs_m *head;
	int64_t need;

	if (!(m->flags & NEEDEXTRAM))
		return;
	m->flags &= ~NEEDEXTRAM;

	head = extram_lock(env, &s->x, true, false);
	need = s->spare - s->x.count - s->pending;
	if (need < 0)
		need = 0;
	s->pending += need;
	extram_unlock(env, &s->x, head);

	for (int64_t i = 0; i < need; i++) {
		hs_m *fresh = env->ops->new_m(env, "watermark");

		head = extram_lock(env, &s->x, true, false);
		fresh->link = head;
		s->x.count++;
		s->pending--;
		extram_unlock(env, &s->x, fresh);
	}
}

static void watermark_release(hs_env *env, void *state, hs_m *m)
{
	struct watermark_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
}

static uint64_t watermark_spare(void *state)
{
	return extram_length(&((struct watermark_state *)state)->x);
}

const struct hs_policy hs_policy_watermark = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "watermark",
	.summary = "keep K spare M's: a pop that leaves fewer makes its thread refill to K",
	.state_size = sizeof(struct watermark_state),
	.params = watermark_params,
	.init = watermark_init,
	.acquire = watermark_acquire,
	.entered = watermark_entered,
	.release = watermark_release,
	.spare_count = watermark_spare,
};
