/*
 * The newidle_cost figure: the shortest idle period at which a newly idle
 * CPU pulls threads from a busy one.
 *
 * Linux skips a CPU's newly idle balance while the CPU's average idle time
 * (rq->avg_idle) is below the largest recent cost of that balance in its
 * domain (max_newidle_lb_cost, in sched_balance_newidle).  Neither value
 * can be read without root and debugfs, but the skip shows from user space:
 *
 *   - one thread on CPU B computes for NEWIDLE_SPIN_NS and sleeps for L
 *     with its timer slack at 1 ns, so that B goes idle for about L at a
 *     time and its average idle time settles near L;
 *   - NEWIDLE_SPINNERS threads that never sleep start on CPU A and may run
 *     on A and B.  One that finds itself on B within NEWIDLE_EARLY_NS of
 *     the start of the idler's sleep counts an arrival.  Either way it
 *     moves back to A.
 *
 * While B balances when it goes idle, a spinner arrives right after the
 * idler's switch-out, hundreds of times a second or more.  While B skips
 * the balance, only its periodic balance at a tick moves spinners, at any
 * point of the sleep, and at most a few hundred times a second (the
 * domain's 2 ms balance interval at HZ = 1000); counting only the early
 * arrivals keeps most of those out for L above NEWIDLE_EARLY_NS.  A step
 * runs one L for NEWIDLE_WARMUP_NS, which lets the average settle, then
 * counts arrivals for NEWIDLE_WINDOW_NS.  Before the first bisection
 * NEWIDLE_PRIMER_NS at NEWIDLE_HI_NS lets successful pulls raise the
 * balance's success ratio (NI_RANDOM), which earlier work may have left
 * low.  A bisection over L from NEWIDLE_LO_NS to NEWIDLE_HI_NS finds the
 * shortest L whose arrival rate is at least a third of the rate at
 * NEWIDLE_HI_NS, to 1/32 of L; that L is one sample.  The threshold is
 * relative because a slow or busy host lowers every rate: on the
 * validation guest a pulling L gave 650 to 1,300 early arrivals a second
 * and a skipping one 90 or fewer.  The requested L
 * stands for the average idle time, which on the validation guest read
 * within 0.4 us of it up to 20 us in /sys/kernel/debug/sched/debug.
 *
 * Every thread is created with its CPUs set and is joined before the figure
 * ends.  The figure is skipped with one CPU, and when no L up to
 * NEWIDLE_HI_NS brings the spinners over (no pull to measure against).
 * A kernel whose periodic idle balance alone moved spinners early that
 * often would read low; Linux's 2 ms interval on two CPUs stays below.
 */
#include "calibrate_impl.h"
#include "hostcheck.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#define NEWIDLE_SPINNERS 3
#define NEWIDLE_SPIN_NS 5000
#define NEWIDLE_LO_NS 1000
#define NEWIDLE_HI_NS 256000
#define NEWIDLE_EARLY_NS 50000
#define NEWIDLE_PRIMER_NS 300000000
#define NEWIDLE_WARMUP_NS 60000000
#define NEWIDLE_WINDOW_NS 150000000
#define NEWIDLE_MIN_RATE 300 /* fewer arrivals a second at NEWIDLE_HI_NS: no pull to measure */
#define NEWIDLE_BISECTIONS 2  /* samples at scale 1 */

struct newidle {
	int cpu_a, cpu_b;
	_Atomic int64_t idle_ns; /* L of the current step */
	_Atomic long arrivals;
	_Atomic int64_t asleep_since; /* when the idler began its sleep, 0 while awake */
	_Atomic int stop;
	int64_t warmup_ns, window_ns; /* a step's two parts at this scale */
};

static void sleep_for(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int set_cpus(int a, int b)
{
	cpu_set_t mask;

	CPU_ZERO(&mask);
	CPU_SET(a, &mask);
	if (b >= 0)
		CPU_SET(b, &mask);
	return sched_setaffinity(0, sizeof(mask), &mask);
}

/* Runs the thread on CPU B, which computes and then sleeps the step's L. */
static void *idler_thread(void *arg)
{
	struct newidle *n = arg;

	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	while (!atomic_load_explicit(&n->stop, memory_order_relaxed)) {
		int64_t t0 = hs_calib_now();

		while (hs_calib_now() - t0 < NEWIDLE_SPIN_NS)
			;
		atomic_store_explicit(&n->asleep_since, hs_calib_now(), memory_order_relaxed);
		sleep_for(atomic_load_explicit(&n->idle_ns, memory_order_relaxed));
		atomic_store_explicit(&n->asleep_since, 0, memory_order_relaxed);
	}
	return NULL;
}

/* Runs a thread that never sleeps, allowed on A and B.  It moves itself
 * back to A whenever it finds itself on B. */
static void *spinner_thread(void *arg)
{
	struct newidle *n = arg;

	while (!atomic_load_explicit(&n->stop, memory_order_relaxed)) {
		if (sched_getcpu() == n->cpu_b) {
			int64_t since = atomic_load_explicit(&n->asleep_since, memory_order_relaxed);

			if (since > 0 && hs_calib_now() - since < NEWIDLE_EARLY_NS)
				atomic_fetch_add_explicit(&n->arrivals, 1, memory_order_relaxed);
			set_cpus(n->cpu_a, -1);
			set_cpus(n->cpu_a, n->cpu_b);
		}
	}
	return NULL;
}

/* Runs one step at idle period L and returns its early arrivals a second. */
static double rate_at(struct newidle *n, int64_t idle_ns)
{
	atomic_store(&n->idle_ns, idle_ns);
	sleep_for(n->warmup_ns);
	atomic_store(&n->arrivals, 0);
	sleep_for(n->window_ns);
	return (double)atomic_load(&n->arrivals) * 1e9 / (double)n->window_ns;
}

/* Runs one bisection and returns the shortest L found to pull, or 0 when
 * even NEWIDLE_HI_NS does not pull. */
static int64_t bisect(struct newidle *n, bool first)
{
	int64_t lo = NEWIDLE_LO_NS, hi = NEWIDLE_HI_NS;

	if (first) {
		atomic_store(&n->idle_ns, hi);
		sleep_for(NEWIDLE_PRIMER_NS);
	}
	double pulling = rate_at(n, hi) / 3;

	if (pulling * 3 < NEWIDLE_MIN_RATE)
		return 0;
	if (rate_at(n, lo) >= pulling)
		return lo;
	while (hi - lo > hi / 32) {
		int64_t mid = lo + (hi - lo) / 2;

		if (rate_at(n, mid) >= pulling)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

int hs_calib_measure_newidle(const struct hs_calib_opts *o, struct hs_calib_report *r,
			     struct hs_error *err)
{
	struct newidle n = { .cpu_a = r->cpu_a, .cpu_b = r->cpu_b, .idle_ns = NEWIDLE_HI_NS };
	pthread_t idler, spinners[NEWIDLE_SPINNERS];
	int64_t values[HS_CALIB_NEWIDLE_MAX_SAMPLES];
	int started = 0, rc, count = 0, want;
	double scale = o && o->scale > 0 ? o->scale : 1.0;

	if (r->cpu_b < 0) {
		hs_calib_skip_figure(r, "newidle_cost");
		return 0;
	}
	want = (int)(NEWIDLE_BISECTIONS * scale + 0.5);
	if (want < 1)
		want = 1;
	if (want > HS_CALIB_NEWIDLE_MAX_SAMPLES)
		want = HS_CALIB_NEWIDLE_MAX_SAMPLES;
	/* Below scale 1 the steps shorten too, to a fifth at most. */
	if (scale < 0.2)
		scale = 0.2;
	n.window_ns = scale < 1 ? (int64_t)(NEWIDLE_WINDOW_NS * scale) : NEWIDLE_WINDOW_NS;
	n.warmup_ns = NEWIDLE_WARMUP_NS * n.window_ns / NEWIDLE_WINDOW_NS;
	if ((rc = hs_start_pinned(&idler, r->cpu_b, -1, 0, idler_thread, &n)) != 0)
		return hs_calib_fail(err, "pthread_create", rc);
	for (; started < NEWIDLE_SPINNERS; started++)
		if ((rc = hs_start_pinned(&spinners[started], r->cpu_a, r->cpu_b, 0, spinner_thread, &n)) != 0)
			break;
	if (rc == 0) {
		for (int i = 0; i < want; i++) {
			int64_t v;

			if (o && o->progress)
				o->progress(o->ctx, "newidle_cost", i, want);
			if ((v = bisect(&n, i == 0)) > 0)
				values[count++] = v;
		}
	}
	atomic_store(&n.stop, 1);
	pthread_join(idler, NULL);
	for (int i = 0; i < started; i++)
		pthread_join(spinners[i], NULL);
	if (rc != 0)
		return hs_calib_fail(err, "pthread_create", rc);
	if (count == 0) {
		hs_calib_skip_figure(r, "newidle_cost");
		return 0;
	}
	hs_calib_record_figure(r, "newidle_cost", values, count);
	if (o && o->progress)
		o->progress(o->ctx, "newidle_cost", count, count);
	return 0;
}
