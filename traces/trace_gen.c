/*
 * Trace generator: writes a synthetic callback trace from a seeded workload
 * model, through the trace writer, so the file appears only when complete.
 *
 * The model.  Thread i starts at start_i (by kind, below).  Before each
 * callback it spends c_time_ns in C, then the callback runs go_work_ns of
 * Go code, so its callbacks arrive at
 *
 *   arrival_0 = start_i + c_time_0
 *   arrival_k = arrival_{k-1} + go_work_ns + c_time_k
 *
 * These arrival times are nominal: they assume that each callback returns
 * as soon as its Go work is done, with no waiting for an M, a P or the
 * garbage collector.  A simulator replaying the trace decides the real
 * times; c_time_ns is the input that stays meaningful there.
 *
 *   kind      thread i starts at                    c_time
 *   burst     0                                     think_ns
 *   poisson   0 for thread 0, then exponential      think_ns
 *             gaps with mean interval_ns
 *   periodic  i * interval_ns                       think_ns
 *   pool      0                                     exponential, mean think_ns
 *
 * Ordering.  Rows leave in (arrival_ns, thread) order: a binary min-heap
 * holds the next callback of every thread, O(threads) memory and
 * O(log threads) per row.  The thread id breaks ties, so the order, like
 * everything else here, depends only on the options.
 *
 * Randomness.  Random stream k is a xoshiro256** generator (Blackman and
 * Vigna, 2018) whose 256-bit state is four outputs of splitmix64 started
 * at seed + k * 0x9E3779B97F4A7C15.  Stream 0 draws the poisson start gaps;
 * stream i + 1 draws thread i's think times, so a thread's sequence does
 * not depend on how many other threads there are.  Exponential draws use
 * log1p() from the C library.
 * NOTE: the same seed gives the same bytes on the same C library; libms
 * that round log1p() differently may change an exponential draw by 1 ns.
 *
 * Limits.  Every trace written here passes the replay checks of
 * hs_replay_scan(), so the generator uses the limits of replay.h: gc_calls
 * at most HS_REPLAY_MAX_GC, grow_frames at most HS_REPLAY_MAX_GROW, and
 * every time at most HS_REPLAY_MAX_NS.  Options past a limit, or whose
 * thread starts and arrivals pass HS_REPLAY_MAX_NS with every random draw
 * 0, are rejected before the file is created.  A random draw that takes a
 * time past the limit stops the generator, which then removes FILE.tmp.
 */
#include "trace.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "replay.h"

static const char *const kind_names[] = {
	[HS_TRACE_GEN_BURST] = "burst",
	[HS_TRACE_GEN_POISSON] = "poisson",
	[HS_TRACE_GEN_PERIODIC] = "periodic",
	[HS_TRACE_GEN_POOL] = "pool",
};
#define NKINDS ((int)(sizeof(kind_names) / sizeof(kind_names[0])))

/* ---- Random numbers --------------------------------------------------- */

/* Seeds stream `stream` of the generator: four outputs of splitmix64
 * started at seed + stream * 0x9E3779B97F4A7C15. */
static void xoshiro_seed(struct hs_rng *x, uint64_t seed, uint64_t stream)
{
	uint64_t state = seed + stream * 0x9E3779B97F4A7C15ull;

	for (int i = 0; i < 4; i++)
		x->s[i] = hs_splitmix64(&state);
}

/*
 * Draws an exponential variate with mean MEAN ns, rounded to whole ns.
 * Returns 0 or HS_E_USAGE when the draw is past HS_REPLAY_MAX_NS.
 */
static int draw_exponential(struct hs_rng *x, int64_t mean, int64_t *out)
{
	/* u is uniform in [0, 1) with 53 random bits, so -log1p(-u) is finite
	 * and at most about 36.7. */
	double u = (double)(hs_rng_next(x) >> 11) * 0x1.0p-53;
	double v = -(double)mean * log1p(-u);

	/* HS_REPLAY_MAX_NS is 2^62, exact as a double. */
	if (v > (double)HS_REPLAY_MAX_NS)
		return HS_E_USAGE;
	*out = llround(v);
	return 0;
}

/* ---- Per-thread sequences and the heap --------------------------------- */

struct gen_thread {
	int64_t arrival_ns; /* of the next callback */
	int64_t c_time_ns;  /* of the next callback */
	int64_t start_ns;
	int64_t remaining;  /* callbacks left, the next one included */
	int32_t thread;
	struct hs_rng rng;
};

static int comes_before(const struct gen_thread *a, const struct gen_thread *b)
{
	if (a->arrival_ns != b->arrival_ns)
		return a->arrival_ns < b->arrival_ns;
	return a->thread < b->thread;
}

static void sift_down(struct gen_thread *heap, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct gen_thread tmp;

		if (l < n && comes_before(&heap[l], &heap[m]))
			m = l;
		if (r < n && comes_before(&heap[r], &heap[m]))
			m = r;
		if (m == i)
			return;
		tmp = heap[i];
		heap[i] = heap[m];
		heap[m] = tmp;
		i = m;
	}
}

static int options_error(struct hs_error *err, const char *key, const char *msg)
{
	return hs_error_set(err, HS_E_USAGE, NULL, 0, key, "%s", msg);
}

/* Rejects VALUE of the option KEY unless it is from 0 to MAX.  UNIT is
 * " ns" for times and "" for counts. */
static int check_range(const char *key, int64_t value, int64_t max, const char *unit,
		       struct hs_error *err)
{
	if (value >= 0 && value <= max)
		return 0;
	return hs_error_set(err, HS_E_USAGE, NULL, 0, key, "%" PRId64 "%s is out of range; use 0 "
			    "to %" PRId64 "%s, the maximum a replay accepts", value, unit, max, unit);
}

static int check_options(const struct hs_trace_gen_opts *o, struct hs_error *err)
{
	int rc;

	if ((int)o->kind < 0 || (int)o->kind >= NKINDS)
		return options_error(err, "kind", "unknown generator kind; use burst, poisson, "
				     "periodic or pool");
	if (o->threads < 1)
		return options_error(err, "threads", "threads must be at least 1");
	if (o->callbacks < 1)
		return options_error(err, "callbacks", "callbacks per thread must be at least 1");
	if ((rc = check_range("interval", o->interval_ns, HS_REPLAY_MAX_NS, " ns", err)) ||
	    (rc = check_range("think", o->think_ns, HS_REPLAY_MAX_NS, " ns", err)) ||
	    (rc = check_range("go_work", o->go_work_ns, HS_REPLAY_MAX_NS, " ns", err)) ||
	    (rc = check_range("gc_calls", o->gc_calls, HS_REPLAY_MAX_GC, "", err)) ||
	    (rc = check_range("grow_frames", o->grow_frames, HS_REPLAY_MAX_GROW, "", err)))
		return rc;
	return 0;
}

_Static_assert(HS_REPLAY_MAX_NS == INT64_C(1) << 62,
	       "the error messages and draw_exponential() assume a limit of 2^62 ns");

/* Reports a time past HS_REPLAY_MAX_NS that a random draw gave, so no
 * single option is at fault. */
static int time_limit_error(struct hs_error *err)
{
	return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL, "the random draws give times past %"
			    PRId64 " ns (2^62 ns, about 146 years), the maximum a replay accepts; "
			    "reduce the threads, callbacks, interval or think time, or try "
			    "another seed", HS_REPLAY_MAX_NS);
}

/* Reports that the options alone put EVENT ("the last arrival") at
 * TIME ns, past HS_REPLAY_MAX_NS. */
static int options_time_error(struct hs_error *err, const char *event, __int128 time)
{
	char shown[32];

	if (time > INT64_MAX)
		snprintf(shown, sizeof(shown), "more than %" PRId64, INT64_MAX);
	else
		snprintf(shown, sizeof(shown), "%" PRId64, (int64_t)time);
	return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL, "the options put %s at %s ns, past "
			    "%" PRId64 " ns (2^62 ns, about 146 years), the most a replay "
			    "accepts; reduce the threads, callbacks, interval, think time or Go "
			    "work", event, shown, HS_REPLAY_MAX_NS);
}

/* Sets *sum to A + B.  Returns false when the sum is past HS_REPLAY_MAX_NS
 * or does not fit in an int64_t. */
static bool add_time(int64_t a, int64_t b, int64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum) && *sum <= HS_REPLAY_MAX_NS;
}

/* Rejects options whose last thread start or last arrival is past
 * HS_REPLAY_MAX_NS even with every random draw 0, before any row is
 * written.  Without this check the error shows only at that row, after up
 * to callbacks x threads rows on disk.  The bound is exact for burst and
 * periodic and a lower bound for poisson and pool, whose later rows may
 * still pass the limit. */
static int check_last_arrival(const struct hs_trace_gen_opts *o, struct hs_error *err)
{
	/* In 128 bits, exact: callbacks x (go_work + think) is below 2^126. */
	__int128 think = o->kind == HS_TRACE_GEN_POOL ? 0 : o->think_ns;
	__int128 start = 0, last;

	if (o->kind == HS_TRACE_GEN_PERIODIC)
		start = (__int128)(o->threads - 1) * o->interval_ns;
	last = start + (__int128)(o->callbacks - 1) * (o->go_work_ns + think) + think;
	if (start > HS_REPLAY_MAX_NS)
		return options_time_error(err, "the last thread start", start);
	if (last > HS_REPLAY_MAX_NS)
		return options_time_error(err, "the last arrival", last);
	return 0;
}

/* Draws the C time before thread T's next callback. */
static int next_c_time(const struct hs_trace_gen_opts *o, struct gen_thread *t,
		       struct hs_error *err)
{
	if (o->kind != HS_TRACE_GEN_POOL) {
		t->c_time_ns = o->think_ns;
		return 0;
	}
	if (draw_exponential(&t->rng, o->think_ns, &t->c_time_ns) < 0)
		return time_limit_error(err);
	return 0;
}

/* Fills the first callback of every thread, in thread order. */
static int init_threads(const struct hs_trace_gen_opts *o, struct gen_thread *threads,
			struct hs_error *err)
{
	struct hs_rng starts;
	int64_t start = 0;

	xoshiro_seed(&starts, o->seed, 0);
	for (int32_t i = 0; i < o->threads; i++) {
		struct gen_thread *t = &threads[i];
		int64_t gap = 0;

		if (i > 0 && o->kind == HS_TRACE_GEN_PERIODIC)
			gap = o->interval_ns;
		else if (i > 0 && o->kind == HS_TRACE_GEN_POISSON &&
			 draw_exponential(&starts, o->interval_ns, &gap) < 0)
			return time_limit_error(err);
		if (!add_time(start, gap, &start))
			return time_limit_error(err);

		t->thread = i;
		t->start_ns = start;
		t->remaining = o->callbacks;
		xoshiro_seed(&t->rng, o->seed, (uint64_t)i + 1);
		if (next_c_time(o, t, err) < 0)
			return HS_E_USAGE;
		if (!add_time(t->start_ns, t->c_time_ns, &t->arrival_ns))
			return time_limit_error(err);
	}
	return 0;
}

/* Writes every row in arrival order, consuming the heap. */
static int write_rows(const struct hs_trace_gen_opts *o, struct gen_thread *heap, size_t n,
		      struct hs_trace_writer *w, struct hs_error *err)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(heap, n, i);

	while (n > 0) {
		struct gen_thread *t = &heap[0];
		struct hs_trace_row row = {
			.thread = t->thread,
			.thread_start_ns = t->start_ns,
			.arrival_ns = t->arrival_ns,
			.go_work_ns = o->go_work_ns,
			.gc_calls = o->gc_calls,
			.grow_frames = o->grow_frames,
			.c_time_ns = t->c_time_ns,
		};
		int rc = hs_trace_writer_row(w, &row, err);

		if (rc < 0)
			return rc;
		if (--t->remaining == 0) {
			heap[0] = heap[--n];
		} else {
			int64_t arrival;

			if (next_c_time(o, t, err) < 0)
				return HS_E_USAGE;
			if (!add_time(t->arrival_ns, o->go_work_ns, &arrival) ||
			    !add_time(arrival, t->c_time_ns, &t->arrival_ns))
				return time_limit_error(err);
		}
		sift_down(heap, n, 0);
	}
	return 0;
}

int hs_trace_gen(const struct hs_trace_gen_opts *o, const char *path, struct hs_error *err)
{
	struct hs_trace_writer *w;
	struct gen_thread *threads;
	struct hs_error local;
	int rc;

	if (!err)
		err = &local;
	rc = check_options(o, err);
	if (rc == 0)
		rc = check_last_arrival(o, err);
	if (rc < 0)
		return rc;
	threads = calloc((size_t)o->threads, sizeof(*threads));
	if (!threads)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, "threads", "out of memory for %d "
				    "generator threads; use fewer threads", (int)o->threads);
	rc = init_threads(o, threads, err);
	if (rc < 0)
		goto out;
	w = hs_trace_writer_open(path, err);
	if (!w) {
		rc = err->code;
		goto out;
	}
	rc = write_rows(o, threads, (size_t)o->threads, w, err);
	if (rc < 0)
		hs_trace_writer_close(w, 0, NULL);
	else
		rc = hs_trace_writer_close(w, 1, err);
out:
	free(threads);
	return rc;
}

const char *hs_trace_gen_kind_name(enum hs_trace_gen_kind kind)
{
	if ((int)kind < 0 || (int)kind >= NKINDS)
		return NULL;
	return kind_names[kind];
}

int hs_trace_gen_kind_parse(const char *name, enum hs_trace_gen_kind *kind,
			    struct hs_error *err)
{
	for (int i = 0; i < NKINDS; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum hs_trace_gen_kind)i;
			return 0;
		}
	}
	return hs_error_set(err, HS_E_USAGE, NULL, 0, name, "unknown generator kind; use "
			    "burst, poisson, periodic or pool");
}
