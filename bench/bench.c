/*
 * make bench: speed and memory figures of the engine and of whole runs.
 * Each figure is the median of several repetitions; nothing here is a
 * test, and the numbers depend on the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "engine.h"
#include "fiber.h"
#include "record.h"
#include "registry.h"
#include "stats.h"

#define REPEAT 9

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Event queue: push and pop N events with random times, 64 pending. */
static double bench_evq(void)
{
	enum { N = 4000000, PENDING = 64 };
	struct hs_evq q;
	struct hs_rng r;
	struct hs_event ev;
	double t0;

	hs_evq_init(&q);
	hs_rng_seed(&r, 1, 1);
	for (int i = 0; i < PENDING; i++)
		hs_evq_push(&q, (int64_t)hs_rng_below(&r, 1000), 1, 0, 0);
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		hs_evq_pop(&q, &ev);
		hs_evq_push(&q, ev.time + (int64_t)hs_rng_below(&r, 1000), 1, 0, 0);
	}
	t0 = now_s() - t0;
	hs_evq_free(&q);
	return N / t0;
}

static struct hs_fiber host, ping;
static volatile long switches;

static void ping_main(void *arg)
{
	for (;;) {
		switches++;
		hs_fiber_switch(&ping, &host);
	}
}

/* Nanoseconds per fiber switch (one direction). */
static double bench_switch(void)
{
	enum { N = 5000000 };
	double t0;

	hs_fiber_init_host(&host);
	hs_fiber_init(&ping, ping_main, NULL);
	t0 = now_s();
	for (int i = 0; i < N; i++)
		hs_fiber_switch(&host, &ping);
	t0 = now_s() - t0;
	hs_fiber_destroy(&ping);
	return t0 * 1e9 / (2.0 * N);
}

/* One run of a scenario; returns wall seconds and the events it took. */
static double bench_run(const char *scenario, const char *os, const char *policy, int threads,
			enum hs_record_level level, uint64_t *events, struct hs_run_result *keep)
{
	struct hs_config cfg;
	struct hs_error err = { 0 };
	struct hs_run_request req = { 0 };
	struct hs_run_result res;
	double t0;

	if (hs_config_load(&cfg, scenario, NULL, 0, os, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		exit(1);
	}
	if (threads > 0)
		cfg.scenario.threads = threads;
	req.cfg = &cfg;
	req.policy = hs_policy_find(policy);
	req.seed = 1;
	req.record = level;
	hs_result_init(&res);
	t0 = now_s();
	hs_backend_sim.run(&req, &res, &err);
	t0 = now_s() - t0;
	if (events)
		*events = res.events;
	if (keep)
		*keep = res;
	else
		hs_result_free(&res);
	return t0;
}

static double median_of(double *v, int n)
{
	return hs_median(v, (size_t)n);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(void)
{
	double v[REPEAT];
	uint64_t events = 0;

	printf("herdsim %s benchmarks, median of %d repetitions\n\n", HS_VERSION, REPEAT);

	for (int i = 0; i < REPEAT; i++)
		v[i] = bench_evq();
	printf("%-44s %12.1f M events/s\n", "event queue push+pop (64 pending)", median_of(v, REPEAT) / 1e6);

	for (int i = 0; i < REPEAT; i++)
		v[i] = bench_switch();
	printf("%-44s %12.2f ns\n", "fiber switch", median_of(v, REPEAT));

	static const char *const policies[] = { "single", "waiters" };
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < REPEAT; i++)
			v[i] = bench_run("cgocallbackgc", "linux", policies[p], 0, HS_RECORD_SUMMARY, &events, NULL);
		double med = median_of(v, REPEAT);
		char label[80];

		snprintf(label, sizeof(label), "cgocallbackgc run, %s, linux, summary", policies[p]);
		printf("%-44s %12.2f ms  (%llu events, %.1f M events/s)\n", label, med * 1e3,
		       (unsigned long long)events, (double)events / med / 1e6);
		snprintf(label, sizeof(label), "cgocallbackgc run, %s, freebsd, summary", policies[p]);
		for (int i = 0; i < REPEAT; i++)
			v[i] = bench_run("cgocallbackgc", "freebsd", policies[p], 0, HS_RECORD_SUMMARY, &events, NULL);
		med = median_of(v, REPEAT);
		printf("%-44s %12.2f ms  (%llu events, %.1f M events/s)\n", label, med * 1e3,
		       (unsigned long long)events, (double)events / med / 1e6);
	}

	for (int i = 0; i < REPEAT; i++)
		v[i] = bench_run("milter", "linux", "waiters", 0, HS_RECORD_SUMMARY, &events, NULL);
	printf("%-44s %12.2f ms  (%llu events)\n", "milter run, waiters, linux, summary",
	       median_of(v, REPEAT) * 1e3, (unsigned long long)events);
	for (int i = 0; i < 3; i++)
		v[i] = bench_run("cthread-loop", "linux", "waiters", 0, HS_RECORD_SUMMARY, &events, NULL);
	printf("%-44s %12.2f ms  (%llu events)\n", "cthread-loop run, waiters, linux, summary",
	       median_of(v, 3) * 1e3, (unsigned long long)events);

	/* Rows per second into SQLite: an events-level run written to a
	 * temporary database. */
	{
		struct hs_run_result res;
		struct hs_db *db;
		struct hs_error err = { 0 };
		char path[] = "/tmp/herdsim-bench-XXXXXX";
		char file[64];
		size_t rows;
		double t0;

		bench_run("cgocallbackgc", "freebsd", "single", 0, HS_RECORD_EVENTS, NULL, &res);
		res.record = HS_RECORD_EVENTS;
		rows = res.states.len + res.wakes.len + res.callbacks.len + res.gauges.len + res.threads.len +
		       res.ms.len + res.hists.len + res.scalars.len;
		if (!mkdtemp(path))
			return 1;
		snprintf(file, sizeof(file), "%s/b.sqlite", path);
		if (hs_db_open(&db, file, &err) != 0) {
			fprintf(stderr, "bench: %s\n", err.msg);
			return 1;
		}
		for (int i = 0; i < 5; i++) {
			t0 = now_s();
			hs_db_write_run(db, &res, NULL, &err);
			v[i] = (double)rows / (now_s() - t0);
		}
		printf("%-44s %12.0f rows/s  (%zu rows a run)\n", "SQLite writer, events level", median_of(v, 5), rows);
		hs_db_close(db);
		hs_result_free(&res);
		snprintf(file, sizeof(file), "rm -rf %s", path);
		if (system(file) != 0)
			return 1;
	}

	/* Memory per simulated thread: peak RSS growth from 1,000 to 10,000
	 * threads of a burst without GC. */
	{
		long before, after;

		bench_run("cthread-loop", "linux", "waiters", 1, HS_RECORD_SUMMARY, NULL, NULL);
		before = max_rss_kib();
		bench_run("milter", "linux", "waiters", 10000, HS_RECORD_SUMMARY, NULL, NULL);
		after = max_rss_kib();
		printf("%-44s %12.1f KiB  (peak RSS %ld KiB after 10000 threads)\n",
		       "memory per simulated thread", (double)(after - before) / 10000.0, after);
	}
	return 0;
}
