/*
 * mutex: an example out-of-tree policy.  It includes <policy.h> alone and
 * is built as a shared object:
 *
 *   cc $(pkg-config --cflags herdsim) -shared -fPIC -o mutex.so mutex.c
 *   herdsim run --policy ./mutex.so
 *
 * State: a LIFO list of spare M's, chained through hs_m.link, and its
 * length, both guarded by a runtime mutex (env->ops->lock, Go's lock2).
 *
 * Protocol:
 *   acquire   lock; pop the head, or, if the list is empty, create an M
 *             while holding the lock; unlock
 *   release   lock; push; unlock
 *
 * Invariants: an M is created only when the list is empty, so M's created
 * <= 1 + (threads in callbacks at once).  No thread ever sleeps: a thread
 * that finds no M makes one itself, paying allocm under the lock.
 *
 * Mirrors no runtime: it shows the contract in its simplest form.
 */
#include <policy.h>

struct mutex_state {
	hs_rtmutex mu;
	hs_m *head;    /* guarded by mu */
	uint64_t count; /* guarded by mu */
};

static int mutex_init(hs_env *env, void *state, const int64_t *params)
{
	struct mutex_state *s = state;

	(void)params;
	s->mu.lock_id = env->ops->lock_register(env, "mutex-list");
	s->head = env->ops->new_m(env, "start");
	s->count = 1;
	return 0;
}

static hs_m *mutex_acquire(hs_env *env, void *state)
{
	struct mutex_state *s = state;
	hs_m *m;

	env->ops->lock(env, &s->mu);
	m = s->head;
	if (m) {
		s->head = m->link;
		s->count--;
		m->link = NULL;
	} else {
		m = env->ops->new_m(env, "empty");
	}
	env->ops->unlock(env, &s->mu);
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void mutex_release(hs_env *env, void *state, hs_m *m)
{
	struct mutex_state *s = state;

	env->ops->signals(env, HS_SIG_DROPM);
	env->ops->lock(env, &s->mu);
	m->link = s->head;
	s->head = m;
	s->count++;
	env->ops->unlock(env, &s->mu);
}

static uint64_t mutex_spare(void *state)
{
	return ((struct mutex_state *)state)->count;
}

const struct hs_policy herdsim_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "mutex",
	.summary = "a list under a runtime mutex; a thread that finds it empty creates an M",
	.state_size = sizeof(struct mutex_state),
	.init = mutex_init,
	.acquire = mutex_acquire,
	.release = mutex_release,
	.spare_count = mutex_spare,
};
