/* Event queue order, random streams and fibers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine.h"
#include "fiber.h"
#include "stats.h"

static void evq_orders_by_time_then_seq(void **state)
{
	struct hs_evq q;
	struct hs_event ev;
	/* (time, target) in scheduling order; equal times keep this order */
	static const int64_t times[] = { 50, 10, 30, 10, 50, 0, 30, 10 };
	static const uint32_t expected[] = { 5, 1, 3, 7, 2, 6, 0, 4 };

	hs_evq_init(&q);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(hs_evq_push(&q, times[i], 1, i, 0), 0);
	assert_int_equal(hs_evq_peek_time(&q), 0);
	for (int i = 0; i < 8; i++) {
		assert_true(hs_evq_pop(&q, &ev));
		assert_int_equal(ev.target, expected[i]);
	}
	assert_false(hs_evq_pop(&q, &ev));
	assert_int_equal(hs_evq_peek_time(&q), INT64_MAX);
	hs_evq_free(&q);
}

static void evq_random_matches_sort(void **state)
{
	struct hs_evq q;
	struct hs_rng r;
	struct hs_event ev, prev = { 0 };
	enum { N = 20000 };

	hs_evq_init(&q);
	hs_rng_seed(&r, 7, 1);
	for (uint32_t i = 0; i < N; i++)
		hs_evq_push(&q, (int64_t)hs_rng_below(&r, 1000), 1, i, 0);
	for (int i = 0; i < N; i++) {
		assert_true(hs_evq_pop(&q, &ev));
		if (i > 0) {
			assert_true(ev.time >= prev.time);
			if (ev.time == prev.time)
				assert_true(ev.seq > prev.seq);
		}
		prev = ev;
	}
	hs_evq_free(&q);
}

static void rng_streams_are_independent(void **state)
{
	struct hs_rng a, b, c;
	uint64_t first[4];

	hs_rng_seed(&a, 42, HS_STREAM_OS);
	for (int i = 0; i < 4; i++)
		first[i] = hs_rng_next(&a);

	/* same seed and stream: same numbers */
	hs_rng_seed(&b, 42, HS_STREAM_OS);
	for (int i = 0; i < 4; i++)
		assert_int_equal(hs_rng_next(&b), first[i]);

	/* another stream of the same seed: different numbers */
	hs_rng_seed(&c, 42, HS_STREAM_POLICY);
	assert_int_not_equal(hs_rng_next(&c), first[0]);
}

static void rng_below_stays_in_range(void **state)
{
	struct hs_rng r;
	int seen[10] = { 0 };

	hs_rng_seed(&r, 1, 1);
	for (int i = 0; i < 10000; i++) {
		uint64_t v = hs_rng_below(&r, 10);

		assert_true(v < 10);
		seen[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(seen[i] > 800 && seen[i] < 1200);
	assert_int_equal(hs_rng_below(&r, 0), 0);
}

static void rng_exp_has_its_mean(void **state)
{
	struct hs_rng r;
	double sum = 0;
	enum { N = 100000 };

	hs_rng_seed(&r, 3, 1);
	for (int i = 0; i < N; i++) {
		int64_t v = hs_rng_exp(&r, 1000);

		assert_true(v >= 0);
		sum += (double)v;
	}
	/* the standard error of the mean is 1000/sqrt(N), about 3.2 */
	assert_true(sum / N > 980 && sum / N < 1020);
}

/* The median's 95 % interval: the order statistics of the binomial
 * table, for values given in reverse so that the sort matters.  n = 9
 * gives the 2nd and 8th (P(X <= 1) = 10/512), n = 100 the 40th and 61st
 * (P(X <= 39) = 0.0176, P(X <= 40) = 0.0284), and n = 5 none, since even
 * the extremes miss the median with 2/32 > 5 %. */
static void median_interval_is_binomial(void **state)
{
	double v[100], lo = -1, hi = -1;

	for (int i = 0; i < 100; i++)
		v[i] = 100 - i; /* the k-th smallest is k */
	assert_false(hs_median_ci95(v, 5, &lo, &hi));
	assert_true(lo == -1);
	assert_true(hi == -1);
	for (int i = 0; i < 6; i++)
		v[i] = 6 - i;
	assert_true(hs_median_ci95(v, 6, &lo, &hi));
	assert_true(lo == 1);
	assert_true(hi == 6);
	for (int i = 0; i < 9; i++)
		v[i] = 9 - i;
	assert_true(hs_median_ci95(v, 9, &lo, &hi));
	assert_true(lo == 2);
	assert_true(hi == 8);
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;
	assert_true(hs_median_ci95(v, 100, &lo, &hi));
	assert_true(lo == 40);
	assert_true(hi == 61);
}

/* The ratio interval divides the numerator's median interval by the
 * denominator's, lower end by upper end: 9 values each give the 2nd and
 * 8th, so (2 to 8) over (20 to 80) is 2/80 to 8/20.  Too few values, or a
 * denominator interval that reaches 0, give none. */
static void median_ratio_interval_divides_the_ends(void **state)
{
	double num[9], den[9], lo = -1, hi = -1;

	(void)state;
	for (int i = 0; i < 9; i++) {
		num[i] = 9 - i;
		den[i] = 10 * (i + 1);
	}
	assert_true(hs_median_ratio_ci90(num, 9, den, 9, &lo, &hi));
	assert_true(lo == 2.0 / 80);
	assert_true(hi == 8.0 / 20);
	lo = hi = -1;
	assert_false(hs_median_ratio_ci90(num, 9, den, 5, &lo, &hi));
	assert_false(hs_median_ratio_ci90(num, 5, den, 9, &lo, &hi));
	den[0] = den[1] = 0; /* the 2nd smallest, the interval's lower end, is 0 */
	assert_false(hs_median_ratio_ci90(num, 9, den, 9, &lo, &hi));
	assert_true(lo == -1 && hi == -1);
}

/* Fibers: a ping-pong between the host and two fibers records the order. */
struct pingpong {
	struct hs_fiber host, a, b;
	int log[16];
	int n;
};

static void fiber_a(void *arg)
{
	struct pingpong *p = arg;

	for (int i = 0; i < 3; i++) {
		p->log[p->n++] = 10 + i;
		hs_fiber_switch(&p->a, &p->b);
	}
	hs_fiber_switch(&p->a, &p->host);
	abort();
}

static void fiber_b(void *arg)
{
	struct pingpong *p = arg;

	for (int i = 0; i < 3; i++) {
		p->log[p->n++] = 20 + i;
		hs_fiber_switch(&p->b, i < 2 ? &p->a : &p->host);
	}
	abort();
}

static void fibers_switch_in_order(void **state)
{
	static struct pingpong p;
	static const int expected[] = { 10, 20, 11, 21, 12, 22 };

	hs_fiber_init_host(&p.host);
	assert_int_equal(hs_fiber_init(&p.a, fiber_a, &p), 0);
	assert_int_equal(hs_fiber_init(&p.b, fiber_b, &p), 0);
	hs_fiber_switch(&p.host, &p.a);
	assert_int_equal(p.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(p.log[i], expected[i]);
	hs_fiber_destroy(&p.a);
	hs_fiber_destroy(&p.b);
}

/* Locals on a fiber's stack survive switches. */
struct counter {
	struct hs_fiber host, f;
	long total;
};

static void fiber_sum(void *arg)
{
	struct counter *c = arg;
	volatile long local[64];

	for (int i = 0; i < 64; i++)
		local[i] = i;
	for (int round = 0; round < 100; round++) {
		hs_fiber_switch(&c->f, &c->host);
		for (int i = 0; i < 64; i++)
			c->total += local[i];
	}
	hs_fiber_switch(&c->f, &c->host);
	abort();
}

static void fiber_keeps_its_stack(void **state)
{
	static struct counter c;

	hs_fiber_init_host(&c.host);
	assert_int_equal(hs_fiber_init(&c.f, fiber_sum, &c), 0);
	for (int i = 0; i < 101; i++)
		hs_fiber_switch(&c.host, &c.f);
	assert_int_equal(c.total, 100L * (63 * 64 / 2));
	hs_fiber_destroy(&c.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(evq_orders_by_time_then_seq),
		cmocka_unit_test(evq_random_matches_sort),
		cmocka_unit_test(rng_streams_are_independent),
		cmocka_unit_test(rng_below_stays_in_range),
		cmocka_unit_test(rng_exp_has_its_mean),
		cmocka_unit_test(median_interval_is_binomial),
		cmocka_unit_test(median_ratio_interval_divides_the_ends),
		cmocka_unit_test(fibers_switch_in_order),
		cmocka_unit_test(fiber_keeps_its_stack),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
