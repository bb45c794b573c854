/*
 * Error paths of the calibration that need a failing system call.  This
 * binary defines pthread_create, so that the calibration code linked
 * into it calls this definition, which forwards to the C library's
 * unless a test has armed a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calibrate.h"
#include "helpers.h"
#include "calibrate_impl.h"

/* Seconds a calibration that failed may take to return.  Without the
 * failure the scheduler figures take about 1 s at scale 0.01. */
#define RETURN_TIMEOUT_S 30

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* The pthread_create call, among those that ask for an explicit
 * scheduling policy, that fails with EAGAIN; 0 fails none. */
static _Atomic int fail_explicit_call;
static _Atomic int explicit_calls;

/* Only the irq_wake sleepers of calibrate_sched.c are started with
 * PTHREAD_EXPLICIT_SCHED, so the armed failure hits one of them. */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn real;
	int inherit = PTHREAD_INHERIT_SCHED;

	if (!real)
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (attr)
		pthread_attr_getinheritsched(attr, &inherit);
	if (inherit == PTHREAD_EXPLICIT_SCHED && atomic_load(&fail_explicit_call) > 0 &&
	    atomic_fetch_add(&explicit_calls, 1) + 1 == atomic_load(&fail_explicit_call))
		return EAGAIN;
	return real(thread, attr, fn, arg);
}

struct sched_job {
	struct hs_calib_opts opts;
	struct hs_calib_report report;
	struct hs_error err;
	int rc;
};

static void *run_sched_figures(void *arg)
{
	struct sched_job *job = arg;

	job->rc = hs_calib_measure_sched(&job->opts, &job->report, &job->err);
	return NULL;
}

/* A sleeper that could not be started ends the irq_wake figure with an
 * error.  The sleepers started before it have not run yet, since the
 * caller outranks them on their CPU, and must still see the stop. */
static void irq_wake_start_failure_joins(void **state)
{
	struct sched_job *job;
	struct timespec deadline;
	cpu_set_t set;
	pthread_t th;
	int before, rc;

	if (sched_fifo_denied())
		skip(); /* the irq_wake figures are skipped without SCHED_FIFO */
	job = calloc(1, sizeof(*job));
	assert_non_null(job);
	job->opts.scale = 0.01;
	sched_getaffinity(0, sizeof(set), &set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			job->report.cpu_a = c;
			break;
		}
	job->report.cpu_b = -1; /* one CPU is enough for the sleepers */

	before = count_task_threads(-1);
	atomic_store(&explicit_calls, 0);
	atomic_store(&fail_explicit_call, 2);
	assert_int_equal(pthread_create(&th, NULL, run_sched_figures, job), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += RETURN_TIMEOUT_S;
	rc = pthread_timedjoin_np(th, NULL, &deadline);
	atomic_store(&fail_explicit_call, 0);
	if (rc == ETIMEDOUT)
		fail_msg("the calibration did not return within %d s after a sleeper failed to start",
			 RETURN_TIMEOUT_S);
	assert_int_equal(rc, 0);

	assert_int_equal(job->rc, HS_E_IO);
	assert_non_null(strstr(job->err.msg, "pthread_create"));
	assert_int_equal(atomic_load(&explicit_calls), 2);
	assert_int_equal(wait_task_threads(before, 1000), before);
	free(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(irq_wake_start_failure_joins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
