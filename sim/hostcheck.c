/*
 * The host check (hostcheck.h): usleep(1) pollers on every CPU.
 *
 * Each poller counts its cycles in its own cache line, so that counting
 * moves no line between CPUs.  The caller sums the counters at the start
 * and the end of the window.  The caller sleeps through the window, so
 * it takes about one cycle of CPU time per window, which is within the
 * figure's noise.
 */
#include "hostcheck.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_NS 2000000
#define MIN_WINDOW_NS 1000000

struct poller {
	_Alignas(64) _Atomic long cycles;
	_Atomic int *stop;
};

static void *poll_loop(void *arg)
{
	struct poller *p = arg;

	while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
		usleep(1);
		atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	}
	return NULL;
}

static int64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_for(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static long total_cycles(struct poller *p, int n)
{
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += atomic_load_explicit(&p[i].cycles, memory_order_relaxed);
	return sum;
}

int hs_start_pinned(pthread_t *thread, int cpu_a, int cpu_b, size_t stack,
		    void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t mask;
	int rc;

	if ((rc = pthread_attr_init(&attr)) != 0)
		return rc;
	CPU_ZERO(&mask);
	CPU_SET(cpu_a, &mask);
	if (cpu_b >= 0)
		CPU_SET(cpu_b, &mask);
	rc = pthread_attr_setaffinity_np(&attr, sizeof(mask), &mask);
	if (rc == 0 && stack > 0)
		rc = pthread_attr_setstacksize(&attr, stack);
	if (rc == 0)
		rc = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc;
}

int hs_hostcheck_cycle(int64_t window_ns, double *cycle_ns, struct hs_error *err)
{
	cpu_set_t allowed;
	struct poller *p;
	pthread_t *th;
	_Atomic int stop;
	int ncpu, n, started = 0, rc = 0;
	long c0 = 0, c1 = 0;
	int64_t t0 = 0, t1 = 0;

	if (window_ns < MIN_WINDOW_NS)
		window_ns = MIN_WINDOW_NS;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return hs_error_set(err, HS_E_IO, NULL, 0, NULL, "host check: sched_getaffinity failed");
	ncpu = CPU_COUNT(&allowed);
	n = ncpu * HS_HOSTCHECK_POLLERS;
	p = aligned_alloc(64, sizeof(*p) * (size_t)n);
	th = calloc((size_t)n, sizeof(*th));
	if (!p || !th) {
		free(p);
		free(th);
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "host check: out of memory");
	}
	atomic_init(&stop, 0);
	for (int cpu = 0, k = 0; cpu < CPU_SETSIZE && k < n; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		for (int j = 0; j < HS_HOSTCHECK_POLLERS; j++, k++) {
			atomic_init(&p[k].cycles, 0);
			p[k].stop = &stop;
		}
		for (int j = 0; rc == 0 && j < HS_HOSTCHECK_POLLERS; j++) {
			rc = hs_start_pinned(&th[started], cpu, -1, 64 * 1024, poll_loop, &p[started]);
			if (rc == 0)
				started++;
		}
	}
	if (rc == 0) {
		sleep_for(WARMUP_NS);
		c0 = total_cycles(p, started);
		t0 = process_cpu_ns();
		sleep_for(window_ns);
		c1 = total_cycles(p, started);
		t1 = process_cpu_ns();
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(p);
	free(th);
	if (rc != 0)
		return hs_error_set(err, HS_E_IO, NULL, 0, NULL, "host check: cannot start a poller thread: %s",
				    strerror(rc));
	if (c1 <= c0)
		return hs_error_set(err, HS_E_IO, NULL, 0, NULL,
				    "host check: no usleep(1) cycle completed in %lld ns", (long long)window_ns);
	*cycle_ns = (double)(t1 - t0) / (double)(c1 - c0);
	return 0;
}

long hs_usable_cpus(void)
{
	cpu_set_t allowed;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 && CPU_COUNT(&allowed) > 0)
		return CPU_COUNT(&allowed);
	return sysconf(_SC_NPROCESSORS_ONLN);
}
