/*
 * The spinner or the sleeper among pollers, on real threads.  The spinner
 * shows how much CPU a thread that only computes gets beside threads that
 * loop on usleep(1).  The sleeper shows how late a thread that sleeps now
 * and then gets its CPU back among them.
 *
 * usage: probe_native [--sleeper | --ring] POLLERS WORK_MS [all]
 *
 * POLLERS threads loop on usleep(1).  Once they run, the main thread is
 * measured.  The spinner computes until its own CPU clock has advanced
 * WORK_MS, and reports the wall time that took, its share of a CPU (its
 * CPU clock over the wall time), its work share (the wall time its loop
 * ran between interrupts and switches, over the wall time), its
 * involuntary switches and the pollers' cycles per ms in that window.
 * The sleeper (--sleeper), for WORK_MS of wall time, computes 20 us of
 * CPU time and sleeps 500 us in turn.  It reports its cycles, its CPU
 * time per cycle, how late its sleeps ended (mean, median, 90th
 * percentile) and the pollers' cycles per ms.  The ring (--ring) is two
 * threads that pass a token back and forth for WORK_MS of wall time.
 * Each computes 20 us of CPU time, hands the token over with a futex wake
 * and waits on its own futex word.  The ring reports the hand-offs and
 * how long each took from the wake call to the woken thread's return from
 * its wait (mean, median, 90th percentile), like a P hand-off among
 * polling threads in the scenarios.  The thread CPU clock counts
 * interrupt time on a kernel without IRQ_TIME_ACCOUNTING.  Every
 * thread is pinned to CPU 0, or with `all` left to the scheduler on every
 * CPU.  probe_sim runs the same experiments in the simulator;
 * docs/validation.md compares them.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe_args.h"

#define MAX_POLLERS 4096
#define SLEEPER_WORK_NS 20000
#define SLEEPER_SLEEP_NS 500000
#define RING_WORK_NS 20000
#define MAX_CYCLES 1000000
#define STEP_LIMIT_MIN_NS 1000 /* minimum step limit; a loop step took about 0.4 us on the validation guest */
#define STEP_PROBE 256         /* steps timed to set the limit */

/* One counter per cache line, so that counting moves no line between
 * CPUs. */
struct poller {
	_Alignas(64) _Atomic long cycles;
};

static struct poller pollers[MAX_POLLERS];
static _Atomic int go, done;
static int pin_all = 1;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pin_to_cpu0(void)
{
	cpu_set_t mask;

	if (!pin_all)
		return;
	CPU_ZERO(&mask);
	CPU_SET(0, &mask);
	if (sched_setaffinity(0, sizeof(mask), &mask) != 0) {
		perror("probe_native: sched_setaffinity");
		exit(1);
	}
}

static void *poll_loop(void *arg)
{
	struct poller *p = arg;

	pin_to_cpu0();
	while (!atomic_load(&go))
		usleep(1000);
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		usleep(1);
		atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	}
	return NULL;
}

static long total_cycles(int n)
{
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += atomic_load_explicit(&pollers[i].cycles, memory_order_relaxed);
	return sum;
}

/* The step limit of compute: the larger of STEP_LIMIT_MIN_NS and 5 times
 * the mean of STEP_PROBE steps of its loop, so that a host whose clock
 * reads are slow still has its steps counted. */
static int64_t step_limit_ns(void)
{
	int64_t t0 = clock_ns(CLOCK_MONOTONIC), limit;

	for (int i = 0; i < STEP_PROBE; i++) {
		(void)clock_ns(CLOCK_THREAD_CPUTIME_ID);
		(void)clock_ns(CLOCK_MONOTONIC);
	}
	limit = 5 * (clock_ns(CLOCK_MONOTONIC) - t0) / STEP_PROBE;
	return limit > STEP_LIMIT_MIN_NS ? limit : STEP_LIMIT_MIN_NS;
}

/* Computes until the calling thread's CPU clock has advanced ns.
 * Returns the wall time the loop itself ran: the sum of the steps between
 * two of its wall clock reads that are shorter than limit.  A longer step
 * is an interrupt or a switch away, which the CPU clock may count but
 * which did no work. */
static int64_t compute(int64_t ns, int64_t limit)
{
	int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), last = clock_ns(CLOCK_MONOTONIC);
	int64_t worked = 0;

	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0 < ns) {
		int64_t now = clock_ns(CLOCK_MONOTONIC);

		if (now - last < limit)
			worked += now - last;
		last = now;
	}
	return worked;
}

/*
 * The sleeper: for work_ms of wall time, SLEEPER_WORK_NS of CPU, then a
 * SLEEPER_SLEEP_NS sleep.  Prints its line, or returns 1 when the records
 * cannot be allocated.
 */
static int run_sleeper(int n, double work_ms)
{
	int64_t *late = malloc(MAX_CYCLES * sizeof(*late));
	int64_t w0, w1, c0, c1, end;
	long p0, p1, cycles = 0;
	struct delay_summary d;

	if (!late) {
		fprintf(stderr, "probe_native: out of memory for %d sleep records\n", MAX_CYCLES);
		return 1;
	}
	p0 = total_cycles(n);
	w0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	end = w0 + (int64_t)(work_ms * 1e6);
	while (clock_ns(CLOCK_MONOTONIC) < end && cycles < MAX_CYCLES) {
		struct timespec ts = { 0, SLEEPER_SLEEP_NS };
		int64_t before;

		compute(SLEEPER_WORK_NS, STEP_LIMIT_MIN_NS);
		before = clock_ns(CLOCK_MONOTONIC);
		nanosleep(&ts, NULL);
		late[cycles++] = clock_ns(CLOCK_MONOTONIC) - before - SLEEPER_SLEEP_NS;
	}
	c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	w1 = clock_ns(CLOCK_MONOTONIC);
	p1 = total_cycles(n);
	if (cycles == 0) {
		/* WORK_MS ended before the first cycle: no figure to average */
		printf("pollers=%d cpus=%s mode=sleeper cycles=0\n", n, pin_all ? "cpu0" : "all");
		free(late);
		return 0;
	}
	d = summarize_delays(late, cycles);
	printf("pollers=%d cpus=%s mode=sleeper cycles=%ld cpu_per_cycle_us=%.2f late_mean_us=%.1f "
	       "late_p50_us=%.1f late_p90_us=%.1f polls_per_ms=%.1f\n",
	       n, pin_all ? "cpu0" : "all", cycles, (double)(c1 - c0) / 1e3 / (double)cycles,
	       d.mean_us, d.p50_us, d.p90_us, (double)(p1 - p0) * 1e6 / (double)(w1 - w0));
	free(late);
	return 0;
}

/* The ring's state: token[i] is 1 while ring thread i may run. */
static struct {
	_Alignas(64) _Atomic int token[2];
	_Alignas(64) _Atomic int64_t woken_at; /* the last wake call's clock */
	int64_t end;                           /* the ring stops at this clock */
	int64_t *delay;                        /* per hand-off, wake call to run */
	_Atomic long handoffs;
	_Atomic int stop;
} R;

static void futex_wait_word(_Atomic int *w, int expected)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_word(_Atomic int *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Runs ring thread i: waits for its token, computes RING_WORK_NS and
 * passes the token on.  The thread that finds the time up stops both. */
static void *ring_loop(void *arg)
{
	int i = (int)(intptr_t)arg;

	pin_to_cpu0();
	for (;;) {
		long h;

		while (atomic_load(&R.token[i]) == 0 && !atomic_load(&R.stop))
			futex_wait_word(&R.token[i], 0);
		if (atomic_load(&R.stop))
			return NULL;
		atomic_store(&R.token[i], 0);
		h = atomic_load(&R.handoffs);
		if (h > 0 && h <= MAX_CYCLES)
			R.delay[h - 1] = clock_ns(CLOCK_MONOTONIC) - atomic_load(&R.woken_at);
		compute(RING_WORK_NS, STEP_LIMIT_MIN_NS);
		if (clock_ns(CLOCK_MONOTONIC) >= R.end || h >= MAX_CYCLES || atomic_load(&R.stop)) {
			atomic_store(&R.stop, 1);
			atomic_store(&R.token[1 - i], 1);
			futex_wake_word(&R.token[1 - i]);
			return NULL;
		}
		atomic_store(&R.handoffs, h + 1);
		atomic_store(&R.woken_at, clock_ns(CLOCK_MONOTONIC));
		atomic_store(&R.token[1 - i], 1);
		futex_wake_word(&R.token[1 - i]);
	}
}

/* Runs the ring's two threads for work_ms of wall time.  Prints its line,
 * or returns 1 when its records cannot be allocated or a thread cannot
 * start. */
static int run_ring(int n, double work_ms)
{
	pthread_t ring[2];
	int64_t w0, w1;
	long p0, p1, count;
	struct delay_summary d;

	R.delay = malloc(MAX_CYCLES * sizeof(*R.delay));
	if (!R.delay) {
		fprintf(stderr, "probe_native: out of memory for %d hand-off records\n", MAX_CYCLES);
		return 1;
	}
	p0 = total_cycles(n);
	w0 = clock_ns(CLOCK_MONOTONIC);
	R.end = w0 + (int64_t)(work_ms * 1e6);
	atomic_store(&R.token[0], 1);
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&ring[i], NULL, ring_loop, (void *)(intptr_t)i) == 0)
			continue;
		fprintf(stderr, "probe_native: failed to start ring thread %d; lower POLLERS or raise the thread limit\n",
			i);
		/* Stop a started ring thread.  It checks the flag before each
		 * wait and after each step, so the wake below cannot be lost. */
		atomic_store(&R.stop, 1);
		atomic_store(&R.token[0], 1);
		futex_wake_word(&R.token[0]);
		if (i == 1)
			pthread_join(ring[0], NULL);
		free(R.delay);
		return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(ring[i], NULL);
	w1 = clock_ns(CLOCK_MONOTONIC);
	p1 = total_cycles(n);
	count = atomic_load(&R.handoffs);
	if (count > MAX_CYCLES)
		count = MAX_CYCLES;
	if (count == 0) {
		printf("pollers=%d cpus=%s mode=ring handoffs=0\n", n, pin_all ? "cpu0" : "all");
		free(R.delay);
		return 0;
	}
	d = summarize_delays(R.delay, count);
	printf("pollers=%d cpus=%s mode=ring handoffs=%ld delay_mean_us=%.1f delay_p50_us=%.1f "
	       "delay_p90_us=%.1f polls_per_ms=%.1f\n",
	       n, pin_all ? "cpu0" : "all", count, d.mean_us, d.p50_us, d.p90_us,
	       (double)(p1 - p0) * 1e6 / (double)(w1 - w0));
	free(R.delay);
	return 0;
}

int main(int argc, char **argv)
{
	static pthread_t th[MAX_POLLERS];
	struct rusage r0, r1;
	long poller_count;
	int n;
	double work_ms;
	int64_t w0, w1, target, worked, step_limit;
	long p0, p1;
	enum probe_mode mode;
	int sleeper, ring, rc = 0;

	if (!parse_mode("probe_native", &argc, &argv, &mode))
		return 2;
	sleeper = mode == PROBE_SLEEPER;
	ring = mode == PROBE_RING;
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "all") != 0)) {
		fprintf(stderr, "usage: probe_native [--sleeper | --ring] POLLERS WORK_MS [all]\n");
		return 2;
	}
	if (!parse_count(argv[1], 0, MAX_POLLERS, &poller_count)) {
		fprintf(stderr, "probe_native: invalid POLLERS '%s'; give an integer from 0 to %d\n", argv[1],
			MAX_POLLERS);
		return 2;
	}
	if (!parse_ms(argv[2], &work_ms)) {
		fprintf(stderr, "probe_native: invalid WORK_MS '%s'; give a number of ms above 0 and at most %.0f\n",
			argv[2], MAX_WORK_MS);
		return 2;
	}
	if ((int64_t)(work_ms * 1e6) <= 0) {
		fprintf(stderr, "probe_native: WORK_MS '%s' is below 1 ns; give a larger number of ms\n",
			argv[2]);
		return 2;
	}
	n = (int)poller_count;
	pin_all = argc == 3;
	pin_to_cpu0();
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, poll_loop, &pollers[i]) != 0) {
			fprintf(stderr, "probe_native: cannot start poller %d\n", i);
			return 1;
		}
	usleep(20000);
	atomic_store(&go, 1);
	usleep(5000); /* the pollers reach their loop */

	if (sleeper || ring) {
		rc = sleeper ? run_sleeper(n, work_ms) : run_ring(n, work_ms);
		atomic_store(&done, 1);
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		return rc;
	}
	getrusage(RUSAGE_THREAD, &r0);
	p0 = total_cycles(n);
	w0 = clock_ns(CLOCK_MONOTONIC);
	target = (int64_t)(work_ms * 1e6);
	step_limit = step_limit_ns();
	worked = compute(target, step_limit);
	w1 = clock_ns(CLOCK_MONOTONIC);
	p1 = total_cycles(n);
	getrusage(RUSAGE_THREAD, &r1);

	atomic_store(&done, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("pollers=%d cpus=%s wall_ms=%.2f share=%.3f work_share=%.3f preemptions=%ld "
	       "polls_per_ms=%.1f step_limit_ns=%lld\n", n,
	       pin_all ? "cpu0" : "all", (w1 - w0) / 1e6, work_ms * 1e6 / (double)(w1 - w0),
	       (double)worked / (double)(w1 - w0),
	       r1.ru_nivcsw - r0.ru_nivcsw, (double)(p1 - p0) * 1e6 / (double)(w1 - w0),
	       (long long)step_limit);
	return 0;
}
