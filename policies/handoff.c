/*
 * handoff: threads that find the list empty park on a futex and are
 * handed an M directly, instead of polling with usleep(1).
 *
 * List word: the extram word of extram.h (0 empty, 1 locked, else head).
 * Guarded by the same lock: a FIFO of parked waiters (`first`, `last`),
 * and `parked`, their number, which is also mirrored in the shared word
 * `nparked` so that `entered` can test it with one load.  Each waiter is
 * a node on its own stack whose word `ready` is 0 while it waits and 1
 * once `m` holds the M handed to it.
 *
 * Protocol:
 *   acquire   lock; pop the head if there is one.  Otherwise queue a node,
 *             unlock, and futex_wait on node.ready until it is 1.
 *   entered   (holding a P) when this M emptied the list or nparked > 0:
 *             detach every parked node under the lock, create one M per
 *             node, hand each over and wake its thread.  If no one was
 *             parked and the list is still empty, create one spare.
 *   release   hand the M to the oldest parked waiter if there is one,
 *             else push it.
 *
 * The refiller creates as many M's as there are parked waiters and wakes
 * exactly that many.  Each waiter parks on its own word, so each wake-up
 * (futex_wake of 1) reaches the thread whose M is ready: with one shared
 * word, a futex_wake of n could wake threads that queued after the count
 * was taken and leave a counted waiter asleep.
 *
 * Invariants: the waiter FIFO is non-empty only while the list is empty.
 * An M handed to a node belongs to that node's thread alone, and a node is
 * handed at most one M, because it leaves the FIFO under the lock before
 * it is handed one.  A thread never calls usleep.  The spare creation
 * happens only when the list is empty and no refill is pending, so
 * created <= 1 + (threads alive at once).
 *
 * Mirrors no runtime.  Go parks threads on futexes this way in its own
 * lock2 and notesleep, but never for the extra-M list.
 */
#include "extram.h"
#include "policy.h"

#define NEEDEXTRAM 1u

struct waiter {
	hs_word ready;
	hs_m *m;
	struct waiter *next;
};

struct handoff_state {
	struct extram x;
	hs_word nparked;
	struct waiter *first, *last; /* guarded by the extram lock */
	int64_t parked;              /* guarded by the extram lock */
	int64_t pending;             /* spares promised; guarded */
};

static int handoff_init(hs_env *env, void *state, const int64_t *params)
{
	struct handoff_state *s = state;

	extram_init(env, &s->x);
	extram_push(env, &s->x, env->ops->new_m(env, "start"));
	return 0;
}

static void set_parked(hs_env *env, struct handoff_state *s, int64_t n)
{
	s->parked = n;
	env->ops->store(env, &s->nparked, (uint64_t)n);
	env->ops->gauge(env, "extram_waiters", n);
}

/* Gives m to node w and wakes its thread; called without the lock. */
static void hand_over(hs_env *env, struct waiter *w, hs_m *m)
{
	w->m = m;
	env->ops->store(env, &w->ready, 1);
	/* NOTE: the woken thread may return and drop its stack frame before
	 * this wake runs; the address is only a key, as with futex(2). */
	env->ops->futex_wake(env, &w->ready, 1);
}

static hs_m *handoff_acquire(hs_env *env, void *state)
{
	struct handoff_state *s = state;
	const struct hs_env_ops *o = env->ops;
	struct waiter self = { .ready = HS_WORD_INIT(0), .m = NULL, .next = NULL };
	hs_m *m = extram_lock(env, &s->x, true, false);

	if (m) {
		if (!m->link)
			m->flags |= NEEDEXTRAM;
		s->x.count--;
		extram_unlock(env, &s->x, m->link);
		m->link = NULL;
		o->signals(env, HS_SIG_NEEDM);
		return m;
	}

	/* the list is empty: queue and park */
	if (s->last)
		s->last->next = &self;
	else
		s->first = &self;
	s->last = &self;
	set_parked(env, s, s->parked + 1);
	extram_unlock(env, &s->x, NULL);

	while (o->load(env, &self.ready) == 0)
		o->futex_wait(env, &self.ready, 0, -1);
	o->signals(env, HS_SIG_NEEDM);
	return self.m;
}

/* With the list locked: dequeues the oldest parked waiter and returns it,
 * so that the caller hands m to it; with no waiter, pushes m onto the list
 * (*head) and returns NULL. */
static struct waiter *take_waiter_or_push(hs_env *env, struct handoff_state *s, hs_m *m, hs_m **head)
{
	struct waiter *w = s->first;

	if (!w) {
		m->link = *head;
		*head = m;
		s->x.count++;
		return NULL;
	}
	s->first = w->next;
	if (!s->first)
		s->last = NULL;
	set_parked(env, s, s->parked - 1);
	return w;
}

static void handoff_entered(hs_env *env, void *state, hs_m *m)
{
	struct handoff_state *s = state;
	const struct hs_env_ops *o = env->ops;
	struct waiter *batch;
	hs_m *head;
	bool spare = false;

	if (!(m->flags & NEEDEXTRAM) && o->load(env, &s->nparked) == 0)
		return;
	m->flags &= ~NEEDEXTRAM;

	head = extram_lock(env, &s->x, true, false);
	batch = s->first;
	s->first = s->last = NULL;
	if (!batch && !head && s->pending == 0) {
		s->pending = 1;
		spare = true;
	}
	if (batch)
		set_parked(env, s, 0);
	extram_unlock(env, &s->x, head);

	while (batch) {
		struct waiter *next = batch->next; /* read before the node can go away */

		hand_over(env, batch, o->new_m(env, "waiter"));
		batch = next;
	}
	if (spare) {
		hs_m *fresh = o->new_m(env, "empty");
		struct waiter *w;

		/* a thread may have parked meanwhile: it gets the new M */
		head = extram_lock(env, &s->x, true, false);
		s->pending = 0;
		w = take_waiter_or_push(env, s, fresh, &head);
		extram_unlock(env, &s->x, head);
		if (w)
			hand_over(env, w, fresh);
	}
}

static void handoff_release(hs_env *env, void *state, hs_m *m)
{
	struct handoff_state *s = state;
	struct waiter *w;
	hs_m *head;

	env->ops->signals(env, HS_SIG_DROPM);
	head = extram_lock(env, &s->x, true, false);
	w = take_waiter_or_push(env, s, m, &head);
	extram_unlock(env, &s->x, head);
	if (w)
		hand_over(env, w, m);
}

static uint64_t handoff_spare(void *state)
{
	return extram_length(&((struct handoff_state *)state)->x);
}

const struct hs_policy hs_policy_handoff = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "handoff",
	.summary = "park waiters on futexes; hand each an M from a release or a new one",
	.state_size = sizeof(struct handoff_state),
	.init = handoff_init,
	.acquire = handoff_acquire,
	.entered = handoff_entered,
	.release = handoff_release,
	.spare_count = handoff_spare,
};
