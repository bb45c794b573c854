/*
 * Go's extra-M list: one word that is both the list head and a spin lock.
 *
 *   value 0          the list is empty (and unlocked)
 *   value 1          a thread holds the lock (EXTRAM_LOCKED)
 *   any other value  pointer to the first spare M, unlocked; the rest are
 *                    chained through hs_m.link
 *
 * Transitions, made only by the functions below:
 *
 *   head|0 --extram_lock CAS--> 1 --extram_unlock store--> new head|0
 *
 * extram_lock follows lockextra() in src/runtime/proc.go (Go 1.5 to 1.20):
 * a locked word makes the caller sched_yield(); an empty word makes a
 * caller that needs an M usleep(1), while a caller that may take an empty
 * list (nilokay) locks it as it is; a failed CAS yields.  The waiter
 * counting of Go 1.7 is an option so that `single` (Go 1.5 to 1.6) and
 * `waiters` (Go 1.7 to 1.20) share the one protocol.
 *
 * `count` mirrors the list length; it is read and written only by the
 * lock holder, and published as the gauge "extram_len".
 */
#ifndef HERDSIM_EXTRAM_H
#define HERDSIM_EXTRAM_H

#include "policy.h"

#define EXTRAM_LOCKED 1

struct extram {
	hs_word head;
	hs_word waiters; /* Go 1.7's extraMWaiters */
	int64_t count;   /* spare M's on the list; guarded by the lock */
	int lock_id;
};

static inline void extram_init(hs_env *env, struct extram *x)
{
	x->lock_id = env->ops->lock_register(env, "extram");
}

/*
 * Locks the list and returns its old head (NULL when empty).  With
 * nilokay false the caller sleeps until the list is non-empty; with
 * count_waiter also true it adds itself once to x->waiters first.
 */
static inline hs_m *extram_lock(hs_env *env, struct extram *x, bool nilokay, bool count_waiter)
{
	const struct hs_env_ops *o = env->ops;
	bool counted = false, contended = false;

	o->lock_begin(env, x->lock_id);
	for (;;) {
		uint64_t old = o->load(env, &x->head);

		if (old == EXTRAM_LOCKED) {
			contended = true;
			o->yield(env);
			continue;
		}
		if (old == 0 && !nilokay) {
			if (count_waiter && !counted) {
				uint64_t before = o->fetch_add(env, &x->waiters, 1);

				o->gauge(env, "extram_waiters", (int64_t)before + 1);
				counted = true;
			}
			contended = true;
			o->sleep(env, 1000);
			continue;
		}
		if (o->cas(env, &x->head, &old, EXTRAM_LOCKED)) {
			o->lock_acquired(env, x->lock_id, contended);
			return (hs_m *)(uintptr_t)old;
		}
		contended = true;
		o->yield(env);
	}
}

/* Unlocks the list, making `head` its first element.  The hold ends when
 * the store has taken effect, so a holder preempted before its store
 * counts the time it was off the core. */
static inline void extram_unlock(hs_env *env, struct extram *x, hs_m *head)
{
	env->ops->gauge(env, "extram_len", x->count);
	env->ops->store(env, &x->head, (uint64_t)(uintptr_t)head);
	env->ops->lock_released(env, x->lock_id);
}

/* Pushes m onto the list (never sleeps). */
static inline void extram_push(hs_env *env, struct extram *x, hs_m *m)
{
	hs_m *head = extram_lock(env, x, true, false);

	m->link = head;
	x->count++;
	extram_unlock(env, x, m);
}

/* Pops the head, sleeping while the list is empty.  Sets *emptied when the
 * pop took the last M. */
static inline hs_m *extram_pop(hs_env *env, struct extram *x, bool count_waiter, bool *emptied)
{
	hs_m *m = extram_lock(env, x, false, count_waiter);

	*emptied = m->link == NULL;
	x->count--;
	extram_unlock(env, x, m->link);
	m->link = NULL;
	return m;
}

/*
 * Go 1.7's newextram: swaps the waiter count to 0 and creates that many
 * M's; with a count of 0, creates one only if the list is still empty.
 */
static inline void extram_newextram(hs_env *env, struct extram *x)
{
	const struct hs_env_ops *o = env->ops;
	uint64_t count = o->exchange(env, &x->waiters, 0);
	hs_m *head;

	o->gauge(env, "extram_waiters", 0);
	if (count > 0) {
		for (uint64_t i = 0; i < count; i++)
			extram_push(env, x, o->new_m(env, "waiter"));
		return;
	}
	head = extram_lock(env, x, true, false);
	extram_unlock(env, x, head);
	if (!head)
		extram_push(env, x, o->new_m(env, "empty"));
}

/* Counts the list; only when no thread runs. */
static inline uint64_t extram_length(const struct extram *x)
{
	uint64_t n = 0;

	for (const hs_m *m = (const hs_m *)(uintptr_t)x->head.value; m && (uintptr_t)m != EXTRAM_LOCKED;
	     m = m->link)
		n++;
	return n;
}

#endif /* HERDSIM_EXTRAM_H */
