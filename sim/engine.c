#include "engine.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

void hs_evq_init(struct hs_evq *q)
{
	q->heap = NULL;
	q->len = q->cap = 0;
	q->next_seq = 0;
}

void hs_evq_free(struct hs_evq *q)
{
	free(q->heap);
	hs_evq_init(q);
}

static inline bool before(const struct hs_event *a, const struct hs_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

int hs_evq_push(struct hs_evq *q, int64_t time, uint16_t type, uint32_t target, uint32_t gen)
{
	struct hs_event ev = { time, q->next_seq++, type, target, gen };
	size_t i;

	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 256;
		struct hs_event *h = realloc(q->heap, ncap * sizeof(*h));

		if (!h)
			return HS_E_NOMEM;
		q->heap = h;
		q->cap = ncap;
	}

	/* sift up */
	i = q->len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(&ev, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = ev;
	return 0;
}

bool hs_evq_pop(struct hs_evq *q, struct hs_event *ev)
{
	struct hs_event last;
	size_t i = 0;

	if (q->len == 0)
		return false;
	*ev = q->heap[0];
	last = q->heap[--q->len];

	/* sift the last element down from the root */
	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= q->len)
			break;
		if (child + 1 < q->len && before(&q->heap[child + 1], &q->heap[child]))
			child++;
		if (!before(&q->heap[child], &last))
			break;
		q->heap[i] = q->heap[child];
		i = child;
	}
	if (q->len)
		q->heap[i] = last;
	return true;
}

uint64_t hs_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void hs_rng_seed(struct hs_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = hs_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t hs_rng_next(struct hs_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double hs_rng_unit(struct hs_rng *r)
{
	return (double)(hs_rng_next(r) >> 11) * 0x1p-53;
}

uint64_t hs_rng_below(struct hs_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Lemire's multiply-shift; the bias is below 2^-64 * n, negligible
	 * for the ranges used here (at most a few milliseconds in ns). */
	return (uint64_t)(((unsigned __int128)hs_rng_next(r) * n) >> 64);
}

int64_t hs_rng_exp(struct hs_rng *r, int64_t mean)
{
	/* 53 random bits give u in (0, 1]; -log(u) is exponential with mean 1. */
	double u = ((double)(hs_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;

	return (int64_t)llround(-log(u) * (double)mean);
}
