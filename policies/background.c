/*
 * background: a runtime thread of the policy's own refills the list.
 *
 * List word: the extram word of extram.h (0 empty, 1 locked, else head).
 * `kick` is the refiller's futex word: 0 while it may sleep, 1 once a
 * thread asked for a refill.  Threads that find the list empty park on
 * the futex word `gen`, which every push increments, and count themselves
 * in `parked` while they wait.  `inflight` counts M's the refiller created
 * and has not put on the list yet; only the refiller touches it.
 *
 * Protocol:
 *   init      create `batch` M's and spawn the refiller
 *   acquire   pop the head.  A pop that leaves `low` or fewer M's, or
 *             finds none, sets kick to 1 and, if it was 0, wakes the
 *             refiller (futex_wake 1).  On an empty list: add 1 to
 *             parked, read gen, check the list again, futex_wait on gen,
 *             subtract 1 from parked and retry.
 *             Waiters park rather than poll with usleep(1) as Go's
 *             lockextra does: on one core, with an OS whose usleep(1)
 *             returns at once (windows), polling threads keep the core
 *             for whole time slices and starve the refiller.
 *   entered   nothing: refills never run on a callback's P
 *   release   push the M back
 *   push      (release and refiller) after the M is on the list,
 *             increment gen and, if parked > 0, wake one waiter
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
 * spare_count adds `inflight`.  No wake-up is lost: a waiter counts
 * itself and reads gen before it checks the list, and a pusher puts the
 * M on the list before it increments gen and reads parked, so either the
 * waiter sees the M, or its futex_wait sees a new gen, or the pusher sees
 * it parked and wakes a waiter.
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
	hs_word gen;    /* futex word of parked waiters; bumped by every push */
	hs_word parked; /* threads between counting themselves and waking */
	int64_t low, target; /* read-only after init */
	int64_t inflight;    /* the refiller's own */
};

static const struct hs_policy_param background_params[] = {
	{ "low", "wake the refiller when a pop leaves this many M's or fewer", 1, 0, 1000 },
	{ "batch", "spare M's the refiller restores, at least low + 1", 4, 1, 1000 },
	{ NULL, NULL, 0, 0, 0 },
};

/* Announces a push: wakes one parked waiter, if any. */
static void announce(hs_env *env, struct background_state *s)
{
	env->ops->fetch_add(env, &s->gen, 1);
	if (env->ops->load(env, &s->parked) > 0)
		env->ops->futex_wake(env, &s->gen, 1);
}

static void kick_refiller(hs_env *env, struct background_state *s)
{
	if (env->ops->exchange(env, &s->kick, 1) == 0)
		env->ops->futex_wake(env, &s->kick, 1);
}

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
		announce(env, s);
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
	hs_m *m;
	bool low;

	for (;;) {
		m = extram_lock(env, &s->x, true, false);
		if (m)
			break;
		extram_unlock(env, &s->x, NULL);
		kick_refiller(env, s);

		/* park until a push changes gen */
		o->fetch_add(env, &s->parked, 1);
		uint64_t g = o->load(env, &s->gen);

		m = extram_lock(env, &s->x, true, false);
		extram_unlock(env, &s->x, m);
		if (!m)
			o->futex_wait(env, &s->gen, g, -1);
		o->fetch_add(env, &s->parked, (uint64_t)-1);
	}
	s->x.count--;
	low = s->x.count <= s->low;
	extram_unlock(env, &s->x, m->link);
	m->link = NULL;
	if (low)
		kick_refiller(env, s);
	o->signals(env, HS_SIG_NEEDM);
	return m;
}

static void background_release(hs_env *env, void *state, hs_m *m)
{
	struct background_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	extram_push(env, &s->x, m);
	announce(env, s);
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
