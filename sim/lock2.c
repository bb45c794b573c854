/*
 * Go's runtime mutex (lock_futex.go: lock2 and unlock2), written against
 * the policy primitives so that it runs on either backend.
 *
 * Key states: 0 unlocked, 1 locked, 2 locked with sleepers.  A locker
 * swaps in 1; if the mutex was held it spins `spin` times (each spin
 * `spin_ns` of procyield) watching for 0, then yields
 * `passive_spin` times, then swaps in 2 and sleeps on the futex.
 * Unlock swaps in 0 and wakes one sleeper if the old value was 2.  Go
 * spins actively only on a multiprocessor; `spin` is 0 on one core.
 */
#include "lock2.h"

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2 };

static bool try_take(hs_env *env, hs_rtmutex *mu, uint64_t wait)
{
	const struct hs_env_ops *o = env->ops;
	uint64_t expected = MUTEX_UNLOCKED;

	return o->load(env, &mu->key) == MUTEX_UNLOCKED && o->cas(env, &mu->key, &expected, wait);
}

void hs_lock2(hs_env *env, hs_rtmutex *mu, int spin, int64_t spin_ns, int passive_spin)
{
	const struct hs_env_ops *o = env->ops;
	uint64_t v, wait;

	o->lock_begin(env, mu->lock_id);
	v = o->exchange(env, &mu->key, MUTEX_LOCKED);
	if (v == MUTEX_UNLOCKED) {
		o->lock_acquired(env, mu->lock_id, false);
		return;
	}

	/* Keep the sleeping state if we overwrote it, so unlock still wakes. */
	wait = v;
	for (;;) {
		for (int i = 0; i < spin; i++) {
			if (try_take(env, mu, wait))
				goto acquired;
			o->work(env, spin_ns);
		}
		for (int i = 0; i < passive_spin; i++) {
			if (try_take(env, mu, wait))
				goto acquired;
			o->yield(env);
		}
		v = o->exchange(env, &mu->key, MUTEX_SLEEPING);
		if (v == MUTEX_UNLOCKED)
			goto acquired;
		wait = MUTEX_SLEEPING;
		o->futex_wait(env, &mu->key, MUTEX_SLEEPING, -1);
	}
acquired:
	o->lock_acquired(env, mu->lock_id, true);
}

void hs_unlock2(hs_env *env, hs_rtmutex *mu)
{
	const struct hs_env_ops *o = env->ops;

	o->lock_released(env, mu->lock_id);
	if (o->exchange(env, &mu->key, MUTEX_UNLOCKED) == MUTEX_SLEEPING)
		o->futex_wake(env, &mu->key, 1);
}
