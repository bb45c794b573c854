/*
 * background: a runtime thread of the policy's own refills the list.
 *
 * List word: the extram word of extram.h (0 empty, 1 locked, else head).
 * `kick` is the refiller's futex word: 0 while it may sleep, 1 once a
 * thread asked for a refill.  `inflight` counts M's the refiller created
 * and has not put on the list yet; only the refiller touches it.
 *
 * Protocol:
 *   init      create `batch` M's and spawn the refiller
 *   acquire   pop the head, sleeping with usleep(1) while the list is
 *             empty, as Go's lockextra does.  A pop that leaves `low` or
 *             fewer M's sets kick to 1 and, if it was 0, wakes the
 *             refiller (futex_wake 1).
 *   entered   nothing: refills never run on a callback's P
 *   release   push the M back
 *   refiller  loop: futex_wait while kick is 0; store 0 to kick; read
 *             count under the lock and, if it is `low` or less, create
 *             target - count M's, target = max(batch, low + 1), pushing
 *             each as it is made
 *
 * Invariants: only the refiller creates M's after init, and only up to
 * the target, so created <= target + (threads in callbacks at once).
 * The refiller clears kick before it reads count, so a pop that empties
 * the list after that read sets kick again and is not lost.  At the end of
 * a run the refiller may be between creating an M and pushing it, so
 * spare_count adds `inflight`.
 *
 * Mirrors no runtime: it is the design of moving M creation off the
 * callback path to a helper thread, as Go's templateThread does for
 * locked threads.
 */
#include "extram.h"
#include "policy.h"

enum { PARAM_LOW, PARAM_BATCH };

struct background_state {
	struct extram x;
	hs_word kick;
	int64_t low, target; /* read-only after init */
	int64_t inflight;    /* the refiller's own */
};

static const struct hs_policy_param background_params[] = {
	{ "low", "wake the refiller when a pop leaves this many M's or fewer", 1, 0, 1000 },
	{ "batch", "spare M's the refiller restores, at least low + 1", 4, 1, 1000 },
	{ NULL, NULL, 0, 0, 0 },
};

/* Creates M's until the list holds the target; one refill pass. */
static void refill(hs_env *env, struct background_state *s)
{
	hs_m *head = extram_lock(env, &s->x, true, false);
	int64_t count = s->x.count;

	extram_unlock(env, &s->x, head);
	if (count > s->low)
		return;
	for (int64_t i = count; i < s->target; i++) {
		hs_m *m = env->ops->new_m(env, "background");

		s->inflight++;
		head = extram_lock(env, &s->x, true, false);
		m->link = head;
		s->x.count++;
		s->inflight--;
		extram_unlock(env, &s->x, m);
	}
}

static void refiller_main(hs_env *env, void *arg)
{
	struct background_state *s = arg;
	const struct hs_env_ops *o = env->ops;

	for (;;) {
		while (o->load(env, &s->kick) == 0)
			o->futex_wait(env, &s->kick, 0, -1);
		o->store(env, &s->kick, 0);
		refill(env, s);
	}
}

static int background_init(hs_env *env, void *state, const int64_t *params)
{
	struct background_state *s = state;

	s->low = params[PARAM_LOW];
	s->target = params[PARAM_BATCH] > s->low ? params[PARAM_BATCH] : s->low + 1;
	extram_init(env, &s->x);
	for (int64_t i = 0; i < s->target; i++)
		extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return env->ops->spawn(env, "extram-refill", refiller_main, s);
}

static hs_m *background_acquire(hs_env *env, void *state)
{
	struct background_state *s = state;
	const struct hs_env_ops *o = env->ops;
	hs_m *m = extram_lock(env, &s->x, false, false);
	bool low;

	s->x.count--;
	low = s->x.count <= s->low;
	extram_unlock(env, &s->x, m->link);
	m->link = NULL;
	if (low && o->exchange(env, &s->kick, 1) == 0)
		o->futex_wake(env, &s->kick, 1);
	o->signals(env, HS_SIG_NEEDM);
	return m;
}

static void background_release(hs_env *env, void *state, hs_m *m)
{
	struct background_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
}

static uint64_t background_spare(void *state)
{
	const struct background_state *s = state;

	/* The refiller may hold the lock at the end of a run, when the list
	 * word reads 1; count is exact whenever no foreign thread runs. */
	return (uint64_t)(s->x.count + s->inflight);
}

const struct hs_policy hs_policy_background = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "background",
	.summary = "a runtime thread refills the list when it runs low",
	.state_size = sizeof(struct background_state),
	.params = background_params,
	.init = background_init,
	.acquire = background_acquire,
	.release = background_release,
	.spare_count = background_spare,
};
