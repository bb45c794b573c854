/*
 * The base of the deliberately broken policies the conformance tests
 * load: a list of spare M's under a runtime mutex, as the `mutex` example.
 * Each broken_*.c breaks one invariant on purpose and says which.
 * Test fixtures only; never shipped.
 */
#ifndef HERDSIM_TEST_BROKEN_H
#define HERDSIM_TEST_BROKEN_H

#include <policy.h>

struct broken_state {
	hs_rtmutex mu;
	hs_m *head;      /* guarded by mu */
	uint64_t count;  /* guarded by mu */
	hs_word gen;     /* futex word of parked threads (broken_nowake) */
	int64_t parked;  /* guarded by mu */
};

static inline int broken_init(hs_env *env, void *state, const int64_t *params)
{
	struct broken_state *s = state;

	(void)params;
	s->mu.lock_id = env->ops->lock_register(env, "broken-list");
	s->head = env->ops->new_m(env, "start");
	s->count = 1;
	return 0;
}

/* Pops the head or returns NULL; the caller holds mu. */
static inline hs_m *broken_pop(struct broken_state *s)
{
	hs_m *m = s->head;

	if (m) {
		s->head = m->link;
		s->count--;
		m->link = NULL;
	}
	return m;
}

/* Pushes m; the caller holds mu. */
static inline void broken_push(struct broken_state *s, hs_m *m)
{
	m->link = s->head;
	s->head = m;
	s->count++;
}

static inline uint64_t broken_spare(void *state)
{
	return ((struct broken_state *)state)->count;
}

#endif
