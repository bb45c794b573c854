/*
 * The discrete-event core: clock, event queue and random streams.
 *
 * Time is an int64 count of nanoseconds.  Events fire in (time, seq)
 * order, where seq is a counter taken when the event is scheduled, so two
 * events at the same time fire in the order they were scheduled and a run
 * is a pure function of its inputs and seed.  Nothing is ordered by a
 * pointer value.  An event names its target by index and carries a
 * generation number; a target that bumps its generation cancels every
 * event it had pending, which the handler recognises and skips.
 *
 * Random numbers come from one xoshiro256** generator per stream,
 * each seeded by splitmix64 from the run seed and the stream's number, so
 * drawing more numbers in one stream leaves the others unchanged.
 */
#ifndef HERDSIM_ENGINE_H
#define HERDSIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hs_event {
	int64_t time;
	uint64_t seq;
	uint16_t type;
	uint32_t target;
	uint32_t gen;
};

/* A binary min-heap of events. */
struct hs_evq {
	struct hs_event *heap;
	size_t len, cap;
	uint64_t next_seq;
};

void hs_evq_init(struct hs_evq *q);
void hs_evq_free(struct hs_evq *q);
/* Schedules an event; returns 0 or HS_E_NOMEM. */
int hs_evq_push(struct hs_evq *q, int64_t time, uint16_t type, uint32_t target, uint32_t gen);
/* Removes the earliest event into *ev; returns false when empty. */
bool hs_evq_pop(struct hs_evq *q, struct hs_event *ev);
/* Time of the earliest event, or INT64_MAX when empty. */
static inline int64_t hs_evq_peek_time(const struct hs_evq *q)
{
	return q->len ? q->heap[0].time : INT64_MAX;
}

enum hs_stream {
	HS_STREAM_WORKLOAD = 1, /* arrivals */
	HS_STREAM_OS = 2,       /* timer jitter */
	HS_STREAM_POLICY = 3,   /* env->ops->random */
	HS_STREAM_NOISE = 4,    /* schedule noise */
	HS_STREAM_COST = 5,     /* draws of the costs with a spread (COST_spread keys) */
	HS_STREAM_SCHED = 6,    /* the newly idle die (newidle = proportional) */
};

struct hs_rng {
	uint64_t s[4];
};

void hs_rng_seed(struct hs_rng *r, uint64_t seed, uint64_t stream);
uint64_t hs_rng_next(struct hs_rng *r);
/* Uniform in [0, 1), from the top 53 bits of one draw. */
double hs_rng_unit(struct hs_rng *r);
/* Uniform in [0, n); 0 when n == 0. */
uint64_t hs_rng_below(struct hs_rng *r, uint64_t n);
/* Exponential with the given mean, rounded to an integer. */
int64_t hs_rng_exp(struct hs_rng *r, int64_t mean);
/* splitmix64 step, also used to derive seeds. */
uint64_t hs_splitmix64(uint64_t *x);

#endif /* HERDSIM_ENGINE_H */
