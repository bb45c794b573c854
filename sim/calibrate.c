/*
 * Calibration driver: the sampler, percentiles, host facts (uname, timer
 * slack, tick, base slice) and the figures that need no pinning (clock,
 * system call, local compare-and-swap, mmap, thread creation, sleeps).
 * The pinned figures are in calibrate_sched.c, the derivation of the
 * profile and the writer in calibrate_profile.c.
 *
 * Every sample is a whole operation timed with CLOCK_MONOTONIC, except
 * where an operation is shorter than a clock read can resolve: then a
 * sample is the mean of a batch, as the figure list in calibrate.h states.
 */
#include "calibrate_impl.h"
#include "native_internal.h"

#include <assert.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

/* Per-figure time cap at scale 1.0.  With 18 capped measurement loops
 * and the futex rings, whose work is bounded (about a second), the whole
 * run stays under a minute even on a host where every loop hits its cap. */
#define CAP_NS_AT_SCALE_1 2500000000LL
#define MIN_CAP_NS 200000000LL

#define THREAD_STACK_BYTES (256 * 1024)

int64_t hs_calib_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t hs_calib_mean_ns(int64_t total_ns, int64_t count)
{
	int64_t mean = (total_ns + count - 1) / count;

	return mean > 0 ? mean : 1;
}

int hs_calib_fail(struct hs_error *err, const char *call, int errnum)
{
	return hs_error_set(err, HS_E_IO, NULL, 0, call,
			    "calibration failed: %s: %s; run it again, or check the "
			    "process limits (threads, memory, CPU affinity)",
			    call, strerror(errnum));
}

static double opts_scale(const struct hs_calib_opts *o)
{
	return (o && o->scale > 0) ? o->scale : 1.0;
}

int hs_calib_sampler_begin(struct hs_calib_sampler *s, const struct hs_calib_opts *o,
			   const char *name, int base_count, struct hs_error *err)
{
	double scale = opts_scale(o);
	double target = base_count * scale;

	memset(s, 0, sizeof(*s));
	s->opts = o;
	s->name = name;
	s->target = target < HS_CALIB_MIN_SAMPLES ? HS_CALIB_MIN_SAMPLES : (int)target;
	s->step = s->target / 50 > 0 ? s->target / 50 : 1;
	s->cap_ns = (int64_t)(CAP_NS_AT_SCALE_1 * scale);
	if (s->cap_ns < MIN_CAP_NS)
		s->cap_ns = MIN_CAP_NS;
	s->values = malloc(sizeof(*s->values) * (size_t)s->target);
	if (!s->values)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, name,
				    "out of memory for %d samples", s->target);
	if (o && o->progress)
		o->progress(o->ctx, name, 0, s->target);
	s->start_ns = hs_calib_now();
	return 0;
}

bool hs_calib_sampler_more(const struct hs_calib_sampler *s)
{
	int64_t elapsed;

	if (s->n >= s->target)
		return false;
	elapsed = hs_calib_now() - s->start_ns;
	if (elapsed > 2 * s->cap_ns)
		return false;
	return s->n < HS_CALIB_MIN_SAMPLES || elapsed <= s->cap_ns;
}

void hs_calib_sampler_add(struct hs_calib_sampler *s, int64_t ns)
{
	if (s->n >= s->target)
		return;
	s->values[s->n++] = ns;
	if (s->opts && s->opts->progress && s->n % s->step == 0 && s->n < s->target)
		s->opts->progress(s->opts->ctx, s->name, s->n, s->target);
}

/* Returns the next free figure of r.  The table has room for every figure
 * that calibrate measures and a few more, so a figure past
 * HS_CALIB_MAX_FIGURES is a programming error. */
static struct hs_calib_figure *next_figure(struct hs_calib_report *r)
{
	assert(r->nfigures < HS_CALIB_MAX_FIGURES);
	return &r->figures[r->nfigures++];
}

void hs_calib_sampler_end(struct hs_calib_sampler *s, struct hs_calib_report *r)
{
	struct hs_calib_figure *fig = next_figure(r);

	fig->name = s->name;
	hs_calib_summarize(s->values, s->n, fig);
	if (s->opts && s->opts->progress)
		s->opts->progress(s->opts->ctx, s->name, s->n, s->n);
	hs_calib_sampler_abort(s);
}

void hs_calib_sampler_abort(struct hs_calib_sampler *s)
{
	free(s->values);
	s->values = NULL;
}

void hs_calib_record_figure(struct hs_calib_report *r, const char *name, int64_t *values, int n)
{
	struct hs_calib_figure *fig = next_figure(r);

	fig->name = name;
	hs_calib_summarize(values, n, fig);
}

void hs_calib_skip_figure(struct hs_calib_report *r, const char *name)
{
	struct hs_calib_figure *fig = next_figure(r);

	memset(fig, 0, sizeof(*fig));
	fig->name = name;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the ceil(q * n)-th smallest sample, q in percent. */
static int64_t nearest_rank(const int64_t *sorted, int n, int q)
{
	long rank = ((long)q * n + 99) / 100;

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

void hs_calib_summarize(int64_t *samples, int n, struct hs_calib_figure *fig)
{
	fig->samples = n;
	if (n <= 0) {
		fig->samples = 0;
		fig->p10 = fig->p50 = fig->p90 = fig->p99 = 0;
		return;
	}
	qsort(samples, (size_t)n, sizeof(*samples), compare_int64);
	fig->p10 = nearest_rank(samples, n, 10);
	fig->p50 = nearest_rank(samples, n, 50);
	fig->p90 = nearest_rank(samples, n, 90);
	fig->p99 = nearest_rank(samples, n, 99);
}

const struct hs_calib_figure *hs_calib_find(const struct hs_calib_report *r, const char *name)
{
	for (int i = 0; i < r->nfigures; i++)
		if (strcmp(r->figures[i].name, name) == 0)
			return &r->figures[i];
	return NULL;
}

/* ---- figures that need no pinning ---- */

/* Keeps the compiler from removing a result. */
static volatile int64_t sink;

static int measure_batches(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   const char *name, int batches, int per_batch,
			   void (*op)(void), struct hs_error *err)
{
	struct hs_calib_sampler s;
	int rc = hs_calib_sampler_begin(&s, o, name, batches, err);

	if (rc)
		return rc;
	while (hs_calib_sampler_more(&s)) {
		int64_t t0 = hs_calib_now();

		for (int i = 0; i < per_batch; i++)
			op();
		hs_calib_sampler_add(&s, hs_calib_mean_ns(hs_calib_now() - t0, per_batch));
	}
	hs_calib_sampler_end(&s, r);
	return 0;
}

/* Reads the native backend's clock once, the read that the simulator
 * charges as clock_read.  native_clock_init must have run. */
static void op_clock_read(void)
{
	sink += native_clock();
}

static void op_getppid(void)
{
	/* Through syscall(2), so that libc cannot return a cached value. */
	sink += syscall(SYS_getppid);
}

static _Alignas(128) _Atomic int64_t cas_word;

static void op_cas(void)
{
	int64_t expected = atomic_load_explicit(&cas_word, memory_order_relaxed);

	atomic_compare_exchange_strong(&cas_word, &expected, expected + 1);
}

/* Times mapping a stack as new_m does: an anonymous private mmap of
 * `bytes` and a write to its first page.  The munmap comes after the
 * clock read, because an M's stacks stay mapped. */
static int measure_stack_map(const struct hs_calib_opts *o, struct hs_calib_report *r,
			     const char *name, const char *fault_name, size_t bytes,
			     struct hs_error *err)
{
	struct hs_calib_sampler s, f;
	int rc = hs_calib_sampler_begin(&s, o, name, 5000, err);

	if (rc)
		return rc;
	if (fault_name && (rc = hs_calib_sampler_begin(&f, o, fault_name, 5000, err)) != 0) {
		hs_calib_sampler_abort(&s);
		return rc;
	}
	while (hs_calib_sampler_more(&s)) {
		int64_t t0 = hs_calib_now(), t1, t2;
		char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			hs_calib_sampler_abort(&s);
			if (fault_name)
				hs_calib_sampler_abort(&f);
			return hs_calib_fail(err, "mmap", errno);
		}
		t1 = hs_calib_now();
		*(volatile char *)p = 1;
		t2 = hs_calib_now();
		hs_calib_sampler_add(&s, t2 - t0);
		if (fault_name)
			hs_calib_sampler_add(&f, t2 - t1);
		munmap(p, bytes);
	}
	hs_calib_sampler_end(&s, r);
	if (fault_name)
		hs_calib_sampler_end(&f, r);
	return 0;
}

struct thread_stamps {
	_Atomic int64_t first; /* first line of the thread */
	_Atomic int64_t last;  /* last line before it returns */
};

static void *stamp_thread(void *arg)
{
	struct thread_stamps *st = arg;

	atomic_store(&st->first, hs_calib_now());
	atomic_store(&st->last, hs_calib_now());
	return NULL;
}

/* One pass yields three figures: first run, create + join, and exit. */
static int measure_threads(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err)
{
	struct hs_calib_sampler first, total, exit_part;
	pthread_attr_t attr;
	int rc;

	if ((rc = pthread_attr_init(&attr)) != 0)
		return hs_calib_fail(err, "pthread_attr_init", rc);
	if ((rc = pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES)) != 0) {
		pthread_attr_destroy(&attr);
		return hs_calib_fail(err, "pthread_attr_setstacksize", rc);
	}
	if ((rc = hs_calib_sampler_begin(&first, o, "thread_first_run", 4000, err)) != 0)
		goto out_attr;
	if ((rc = hs_calib_sampler_begin(&total, o, "thread_create_join", 4000, err)) != 0)
		goto out_first;
	if ((rc = hs_calib_sampler_begin(&exit_part, o, "thread_exit", 4000, err)) != 0)
		goto out_total;

	while (hs_calib_sampler_more(&total)) {
		struct thread_stamps st = { 0, 0 };
		pthread_t thread;
		int64_t t0 = hs_calib_now(), t3;

		rc = pthread_create(&thread, &attr, stamp_thread, &st);
		if (rc != 0) {
			rc = hs_calib_fail(err, "pthread_create", rc);
			hs_calib_sampler_abort(&exit_part);
			goto out_total;
		}
		pthread_join(thread, NULL);
		t3 = hs_calib_now();
		hs_calib_sampler_add(&first, atomic_load(&st.first) - t0);
		hs_calib_sampler_add(&total, t3 - t0);
		hs_calib_sampler_add(&exit_part, t3 - atomic_load(&st.last));
	}
	hs_calib_sampler_end(&first, r);
	hs_calib_sampler_end(&total, r);
	hs_calib_sampler_end(&exit_part, r);
	pthread_attr_destroy(&attr);
	return 0;

out_total:
	hs_calib_sampler_abort(&total);
out_first:
	hs_calib_sampler_abort(&first);
out_attr:
	pthread_attr_destroy(&attr);
	return rc;
}

/* Threads alive at once in one round of thread_create_burst: the burst
 * of the cgocallbackgc scenario, which creates 100 foreign threads. */
#define BURST_THREADS 100
/* Rounds after which the burst's stack size starts again at 256 KiB. */
#define BURST_SIZE_PERIOD 256

struct burst_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};

/* One thread of a burst: its gate, and the CPU time it had used when its
 * start routine began, in ns. */
struct burst_thread {
	struct burst_gate *gate;
	int64_t start_cpu;
};

static void *gate_thread(void *arg)
{
	struct burst_thread *bt = arg;
	struct burst_gate *g = bt->gate;
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	bt->start_cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* Opens the gate and joins the first n threads of th. */
static void release_burst(struct burst_gate *g, pthread_t *th, int n)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* Creates one round of up to BURST_THREADS threads with a stack of
 * stack_bytes, timing each pthread_create call, then joins them.  Appends
 * each thread's CPU time at its first line to starts, from *nstarts on. */
static int burst_round(struct hs_calib_sampler *s, size_t stack_bytes, pthread_t *th,
		       int64_t *starts, int *nstarts, struct hs_error *err)
{
	struct burst_gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	struct burst_thread bt[BURST_THREADS];
	pthread_attr_t attr;
	int n = 0, rc;

	if ((rc = pthread_attr_init(&attr)) != 0)
		return hs_calib_fail(err, "pthread_attr_init", rc);
	rc = pthread_attr_setstacksize(&attr, stack_bytes);
	while (rc == 0 && n < BURST_THREADS && hs_calib_sampler_more(s)) {
		int64_t t0 = hs_calib_now();

		bt[n].gate = &g;
		bt[n].start_cpu = -1;
		rc = pthread_create(&th[n], &attr, gate_thread, &bt[n]);
		if (rc != 0)
			break;
		hs_calib_sampler_add(s, hs_calib_now() - t0);
		n++;
	}
	pthread_attr_destroy(&attr);
	release_burst(&g, th, n);
	for (int i = 0; i < n; i++)
		if (bt[i].start_cpu >= 0)
			starts[(*nstarts)++] = bt[i].start_cpu;
	return rc ? hs_calib_fail(err, "pthread_create", rc) : 0;
}

/*
 * thread_start: the CPU time each thread of thread_create_burst had used
 * when its start routine began (CLOCK_THREAD_CPUTIME_ID at its first
 * line): the kernel's return from clone and the C library's set-up of the
 * thread before it calls the start routine.
 */
static void thread_start_figure(const struct hs_calib_opts *o, struct hs_calib_report *r,
				int64_t *starts, int n)
{
	struct hs_calib_figure *fig = next_figure(r);

	if (o && o->progress)
		o->progress(o->ctx, "thread_start", 0, n);
	fig->name = "thread_start";
	hs_calib_summarize(starts, n, fig);
	if (o && o->progress)
		o->progress(o->ctx, "thread_start", n, n);
}

/*
 * thread_create_burst: the creator's time in each pthread_create of a
 * burst, with a 256 KiB stack and every thread of the round alive (each
 * waits on a condition variable until the round ends), as a workload's
 * burst creates its foreign threads.  glibc keeps the stacks of joined
 * threads in a cache (40 MiB by default) and reuses one only when it is at
 * least the requested size and at most four times it (allocate_stack and
 * get_cached_stack in nptl/allocatestack.c).  So each round asks for one
 * page more than the round before: no cached stack fits, and every call
 * maps a fresh stack and guard page, as the first burst of a process does.
 * After BURST_SIZE_PERIOD rounds the size starts again at 256 KiB, and the
 * stacks still cached are then more than four times that size.
 */
static int measure_thread_burst(const struct hs_calib_opts *o, struct hs_calib_report *r,
				struct hs_error *err)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	pthread_t th[BURST_THREADS];
	struct hs_calib_sampler s;
	int64_t *starts = NULL;
	int nstarts = 0;
	int rc = hs_calib_sampler_begin(&s, o, "thread_create_burst", 2000, err);

	if (rc == 0 && !(starts = malloc(sizeof(*starts) * (size_t)(s.target + BURST_THREADS)))) {
		hs_calib_sampler_abort(&s);
		return hs_calib_fail(err, "malloc", ENOMEM);
	}
	for (int round = 0; rc == 0 && hs_calib_sampler_more(&s); round++)
		rc = burst_round(&s, THREAD_STACK_BYTES + (size_t)(round % BURST_SIZE_PERIOD) * page,
				 th, starts, &nstarts, err);
	if (rc) {
		hs_calib_sampler_abort(&s);
		free(starts);
		return rc;
	}
	hs_calib_sampler_end(&s, r);
	thread_start_figure(o, r, starts, nstarts);
	free(starts);
	return 0;
}

/*
 * signal_syscall: one signal system call, the mean over the sequence a
 * callback on a thread without an M makes (the native backend's signals
 * hook): in needm, block every signal saving the mask, read the alternate
 * signal stack, install one, restore the mask, read the mask; in dropm,
 * block every signal, disable the alternate stack, restore the mask.
 * Each sample is the mean of 100 such sequences of 8 calls.  The caller's
 * alternate signal stack is restored on return.
 */
static int measure_signal_calls(const struct hs_calib_opts *o, struct hs_calib_report *r,
				struct hs_error *err)
{
	static char alt[32 * 1024];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0 };
	stack_t off = { .ss_flags = SS_DISABLE }, old_ss, caller_ss;
	sigset_t all, old, cur;
	struct hs_calib_sampler s;
	int rc = hs_calib_sampler_begin(&s, o, "signal_syscall", 2000, err);

	if (rc)
		return rc;
	if (sigaltstack(NULL, &caller_ss) != 0) {
		hs_calib_sampler_abort(&s);
		return hs_calib_fail(err, "sigaltstack", errno);
	}
	sigfillset(&all);
	while (hs_calib_sampler_more(&s)) {
		int64_t t0 = hs_calib_now();

		for (int i = 0; i < 100; i++) {
			pthread_sigmask(SIG_SETMASK, &all, &old);
			sigaltstack(NULL, &old_ss);
			sigaltstack(&ss, NULL);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_sigmask(SIG_BLOCK, NULL, &cur);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			sigaltstack(&off, NULL);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		hs_calib_sampler_add(&s, hs_calib_mean_ns(hs_calib_now() - t0, 800));
	}
	caller_ss.ss_flags &= ~SS_ONSTACK;
	sigaltstack(&caller_ss, NULL);
	hs_calib_sampler_end(&s, r);
	return 0;
}

/* Times one usleep(1), or one nanosleep of request_ns.  Returns -1 when a
 * signal interrupted the call. */
static int64_t time_sleep(int64_t request_ns, bool use_usleep)
{
	struct timespec req = { request_ns / 1000000000LL, request_ns % 1000000000LL };
	int64_t t0 = hs_calib_now();
	int ret = use_usleep ? usleep(1) : nanosleep(&req, NULL);
	int64_t t1 = hs_calib_now();

	return ret == 0 ? t1 - t0 : -1;
}

static int measure_sleep(const struct hs_calib_opts *o, struct hs_calib_report *r,
			 const char *name, int count, int64_t request_ns, bool use_usleep,
			 struct hs_error *err)
{
	struct hs_calib_sampler s;
	int rc = hs_calib_sampler_begin(&s, o, name, count, err);

	if (rc)
		return rc;
	while (hs_calib_sampler_more(&s)) {
		int64_t ns = time_sleep(request_ns, use_usleep);

		if (ns < 0)
			r->sleep_rejected++;
		else
			hs_calib_sampler_add(&s, ns);
	}
	hs_calib_sampler_end(&s, r);
	return 0;
}

/*
 * Measures nanosleep of request_ns under the caller's timer slack (figure
 * name) and with the slack set to 1 ns (quiet_name), alternating sample by
 * sample so that both see the same load on the host.  A slack of 1 ns
 * leaves the timer wake-up alone in the overshoot; 0 would restore the
 * default slack instead.  Restores the caller's slack on every path.
 */
static int measure_sleep_pair(const struct hs_calib_opts *o, struct hs_calib_report *r,
			      const char *name, const char *quiet_name, int count,
			      int64_t request_ns, struct hs_error *err)
{
	unsigned long slack = (unsigned long)r->timer_slack_ns;
	struct hs_calib_sampler s, quiet;
	int rc;

	if ((rc = hs_calib_sampler_begin(&s, o, name, count, err)) != 0)
		return rc;
	if ((rc = hs_calib_sampler_begin(&quiet, o, quiet_name, count, err)) != 0) {
		hs_calib_sampler_abort(&s);
		return rc;
	}
	while (hs_calib_sampler_more(&s)) {
		int64_t ns = time_sleep(request_ns, false), quiet_ns;

		/* A thread with a real-time policy has no slack to remove. */
		if (slack > 0 && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0) {
			rc = hs_calib_fail(err, "prctl(PR_SET_TIMERSLACK)", errno);
			break;
		}
		quiet_ns = time_sleep(request_ns, false);
		if (slack > 0)
			prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0);

		if (ns < 0 || quiet_ns < 0) {
			r->sleep_rejected++;
			continue;
		}
		hs_calib_sampler_add(&s, ns);
		hs_calib_sampler_add(&quiet, quiet_ns);
	}
	if (rc) {
		hs_calib_sampler_abort(&s);
		hs_calib_sampler_abort(&quiet);
		return rc;
	}
	hs_calib_sampler_end(&s, r);
	hs_calib_sampler_end(&quiet, r);
	return 0;
}

static int measure_sleeps(const struct hs_calib_opts *o, struct hs_calib_report *r,
			  struct hs_error *err)
{
	int rc;

	if ((rc = measure_sleep(o, r, "usleep_1us", 8000, 1000, true, err)) != 0)
		return rc;
	if ((rc = measure_sleep(o, r, "nanosleep_1us", 8000, 1000, false, err)) != 0)
		return rc;
	if ((rc = measure_sleep_pair(o, r, "nanosleep_100us", "nanosleep_100us_noslack", 8000,
				     100000, err)) != 0)
		return rc;
	return measure_sleep_pair(o, r, "nanosleep_1ms", "nanosleep_1ms_noslack", 1000, 1000000,
				  err);
}

/* ---- host facts ---- */

static void note(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, HS_CALIB_NOTE_MAX, fmt, ap);
	va_end(ap);
}

/* Reads the first "jiffies: N" line of /proc/timer_list (root only). */
static bool read_jiffies(int64_t *jiffies)
{
	FILE *f = fopen("/proc/timer_list", "r");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "jiffies: %" SCNd64, jiffies) == 1;
	fclose(f);
	return found;
}

/* Reads CONFIG_HZ from /boot/config-RELEASE. */
static int read_config_hz(const char *release)
{
	char path[160], line[256];
	int hz = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/boot/config-%s", release);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (hz == 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "CONFIG_HZ=%d", &hz) != 1)
			hz = 0;
	fclose(f);
	return hz;
}

/* Finds the tick: measured from jiffies over a sleep, else CONFIG_HZ of
 * the installed kernel config, else the Kconfig default HZ=250. */
static void find_tick(const struct hs_calib_opts *o, struct hs_calib_report *r)
{
	static const int standard_hz[] = { 100, 250, 300, 1000 };
	int64_t j0, j1, t0, t1;
	int64_t wait_ns = (int64_t)(200000000 * opts_scale(o));
	int hz;

	if (o && o->progress)
		o->progress(o->ctx, "tick", 0, 1);
	if (wait_ns < 100000000)
		wait_ns = 100000000;
	if (wait_ns > 200000000)
		wait_ns = 200000000;
	t0 = hs_calib_now();
	if (read_jiffies(&j0)) {
		struct timespec ts = { 0, (long)wait_ns };

		nanosleep(&ts, NULL);
		if (read_jiffies(&j1) && j1 > j0) {
			double measured;
			int best = 0;

			t1 = hs_calib_now();
			measured = (double)(j1 - j0) * 1e9 / (double)(t1 - t0);
			for (size_t i = 0; i < sizeof(standard_hz) / sizeof(standard_hz[0]); i++)
				if (measured > standard_hz[i] * 0.9 && measured < standard_hz[i] * 1.1)
					best = standard_hz[i];
			hz = best ? best : (int)(measured + 0.5);
			r->tick_ns = 1000000000LL / hz;
			note(r->tick_source,
			     "measured: jiffies in /proc/timer_list advanced %" PRId64
			     " in %.1f ms, %.1f per second, taken as HZ=%d",
			     j1 - j0, (double)(t1 - t0) / 1e6, measured, hz);
			goto done;
		}
	}
	hz = read_config_hz(r->release);
	if (hz > 0) {
		r->tick_ns = 1000000000LL / hz;
		note(r->tick_source, "read: CONFIG_HZ=%d in /boot/config-%s", hz, r->release);
	} else {
		r->tick_ns = 4000000;
		note(r->tick_source,
		     "not found: /proc/timer_list and /boot/config-%s are not readable, so this "
		     "is HZ=250, the Kconfig default of Linux", r->release);
	}
done:
	if (o && o->progress)
		o->progress(o->ctx, "tick", 1, 1);
}

static bool read_ns_file(const char *path, int64_t *ns)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%" SCNd64, ns) == 1 && *ns > 0;
	fclose(f);
	return ok;
}

/* Finds the base slice: read from the scheduler's tunables if they are
 * visible, else the default of the running kernel family. */
/* Sets *out to the model named by the `len` bytes at `word` and returns 1,
 * or returns 0 for an unknown name. */
static int preempt_word(const char *word, size_t len, enum hs_preempt *out)
{
	static const struct {
		const char *name;
		enum hs_preempt model;
	} words[] = {
		{ "none", HS_PREEMPT_NONE }, { "voluntary", HS_PREEMPT_VOLUNTARY },
		{ "full", HS_PREEMPT_FULL }, { "lazy", HS_PREEMPT_FULL }, { "rt", HS_PREEMPT_FULL },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].name) == len && strncmp(word, words[i].name, len) == 0) {
			*out = words[i].model;
			return 1;
		}
	}
	return 0;
}

int hs_preempt_from_debugfs(const char *text, enum hs_preempt *out)
{
	const char *open = strchr(text, '('), *close = open ? strchr(open, ')') : NULL;

	return close ? preempt_word(open + 1, (size_t)(close - open - 1), out) : 0;
}

int hs_preempt_from_cmdline(const char *text, enum hs_preempt *out)
{
	int found = 0;

	for (const char *p = text; (p = strstr(p, "preempt=")) != NULL; p += 8) {
		if (p != text && p[-1] != ' ')
			continue; /* part of another parameter's name */
		found = preempt_word(p + 8, strcspn(p + 8, " \t\n"), out) || found;
	}
	return found;
}

int hs_preempt_from_config(const char *text, enum hs_preempt *out)
{
	static const struct {
		const char *line;
		enum hs_preempt model;
	} choices[] = {
		{ "CONFIG_PREEMPT_RT=y", HS_PREEMPT_FULL },
		{ "CONFIG_PREEMPT=y", HS_PREEMPT_FULL },
		{ "CONFIG_PREEMPT_LAZY=y", HS_PREEMPT_FULL },
		{ "CONFIG_PREEMPT_VOLUNTARY=y", HS_PREEMPT_VOLUNTARY },
		{ "CONFIG_PREEMPT_NONE=y", HS_PREEMPT_NONE },
	};

	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		size_t n = strlen(choices[i].line);

		for (const char *p = text; (p = strstr(p, choices[i].line)) != NULL; p += n) {
			if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
				*out = choices[i].model;
				return 1;
			}
		}
	}
	return 0;
}

/* Reads at most size - 1 bytes of a file, gzip-compressed or not, into
 * buf as a string.  Returns 1, or 0 when the file cannot be read. */
static int read_text(const char *path, char *buf, size_t size)
{
	gzFile f = gzopen(path, "rb");
	int n;

	if (!f)
		return 0;
	n = gzread(f, buf, (unsigned)(size - 1));
	gzclose(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

/* Finds the kernel's preemption model: the live setting when debugfs
 * shows it, else the boot parameter, else the build's choice. */
static void find_preempt(struct hs_calib_report *r)
{
	/* A longer file is cut at this size.  The CONFIG_PREEMPT_* choice sits
	 * in a config's "General setup", 3 KiB into this host's 100 KiB one. */
	static char text[1 << 18];
	char boot[320], from[400];

	r->preempt = HS_PREEMPT_FULL;
	snprintf(boot, sizeof(boot), "/boot/config-%s", r->release);
	if (read_text("/sys/kernel/debug/sched/preempt", text, sizeof(text)) &&
	    hs_preempt_from_debugfs(text, &r->preempt)) {
		snprintf(from, sizeof(from), "/sys/kernel/debug/sched/preempt");
	} else if (read_text("/proc/cmdline", text, sizeof(text)) &&
		   hs_preempt_from_cmdline(text, &r->preempt)) {
		snprintf(from, sizeof(from), "preempt= in /proc/cmdline");
	} else if (read_text("/proc/config.gz", text, sizeof(text)) &&
		   hs_preempt_from_config(text, &r->preempt)) {
		snprintf(from, sizeof(from), "the CONFIG_PREEMPT_* choice in /proc/config.gz");
	} else if (read_text(boot, text, sizeof(text)) && hs_preempt_from_config(text, &r->preempt)) {
		snprintf(from, sizeof(from), "the CONFIG_PREEMPT_* choice in %s", boot);
	} else {
		note(r->preempt_source, "not found in /sys/kernel/debug/sched/preempt, "
		     "/proc/cmdline, /proc/config.gz or %s: full, which preempts kernel code at "
		     "once; set none or voluntary by hand if the kernel runs so", boot);
		return;
	}
	note(r->preempt_source, "read: %s (%s)", from,
	     r->preempt == HS_PREEMPT_NONE ? "none" :
	     r->preempt == HS_PREEMPT_VOLUNTARY ? "voluntary" : "full, rt or lazy");
}

static void find_slice(struct hs_calib_report *r)
{
	static const char *const files[] = {
		"/sys/kernel/debug/sched/base_slice_ns",      /* EEVDF, 6.6+ */
		"/proc/sys/kernel/sched_base_slice_ns",
		"/sys/kernel/debug/sched/min_granularity_ns", /* CFS, 5.13 to 6.5 */
		"/proc/sys/kernel/sched_min_granularity_ns",  /* CFS, before 5.13 */
	};
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int major = 0, minor = 0, factor = 1;
	int64_t base;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (read_ns_file(files[i], &r->slice_ns)) {
			note(r->slice_source, "read: %s", files[i]);
			return;
		}
	}

	/* The kernel scales the base by 1 + log2(min(online CPUs, 8))
	 * (SCHED_TUNABLESCALING_LOG, the default). */
	for (long cpus = online < 8 ? online : 8; cpus > 1; cpus >>= 1)
		factor++;
	sscanf(r->release, "%d.%d", &major, &minor);
	if (major > 6 || (major == 6 && minor >= 12)) {
		/* NOTE: 6.13, 6.14 and early 6.12 point releases still used
		 * 0.75 ms; 6.12.32 and 6.18 sources have 0.70 ms. */
		base = 700000;
	} else {
		base = 750000;
	}
	r->slice_ns = base * factor;
	note(r->slice_source,
	     "not readable (debugfs is not mounted or not permitted): the default of Linux %d.%d, "
	     "%.2f ms x (1 + log2(min(%ld online CPUs, 8))) = %.2f ms%s",
	     major, minor, (double)base / 1e6, online, (double)r->slice_ns / 1e6,
	     major < 6 || (major == 6 && minor < 6)
		     ? "; before 6.6 (CFS) this is the minimum granularity, and a slice "
		       "is longer when few threads are runnable"
		     : "");
}

static int count_cpus(struct hs_calib_report *r, struct hs_error *err)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return hs_calib_fail(err, "sched_getaffinity", errno);
	r->ncpus = CPU_COUNT(&set);
	r->cpu_a = r->cpu_b = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (r->cpu_a < 0)
			r->cpu_a = cpu;
		else if (r->cpu_b < 0)
			r->cpu_b = cpu;
	}
	return 0;
}

static int read_host(const struct hs_calib_opts *o, struct hs_calib_report *r,
		     struct hs_error *err)
{
	struct utsname u;
	struct timespec res;
	int slack;

	if (uname(&u) != 0)
		return hs_calib_fail(err, "uname", errno);
	snprintf(r->sysname, sizeof(r->sysname), "%s", u.sysname);
	snprintf(r->release, sizeof(r->release), "%s", u.release);
	snprintf(r->machine, sizeof(r->machine), "%s", u.machine);

	slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack < 0)
		return hs_calib_fail(err, "prctl(PR_GET_TIMERSLACK)", errno);
	r->timer_slack_ns = slack;
	clock_getres(CLOCK_MONOTONIC, &res);
	r->clock_res_ns = (int64_t)res.tv_sec * 1000000000LL + res.tv_nsec;

	find_slice(r);
	find_preempt(r);
	find_tick(o, r);
	return count_cpus(r, err);
}

/* Measures every figure once into r, whose host facts are already read. */
static int measure_pass(const struct hs_calib_opts *o, struct hs_calib_report *r,
			struct hs_error *err)
{
	int rc;

	native_clock_init();
	if ((rc = measure_batches(o, r, "clock_read", 2000, 100, op_clock_read, err)) != 0)
		return rc;
	if ((rc = measure_batches(o, r, "syscall", 2000, 100, op_getppid, err)) != 0)
		return rc;
	if ((rc = measure_batches(o, r, "cas_local", 2000, 1000, op_cas, err)) != 0)
		return rc;
	if ((rc = measure_stack_map(o, r, "stack_map_4k", NULL, 4096, err)) != 0)
		return rc;
	if ((rc = measure_stack_map(o, r, "stack_map_32k", "stack_fault_32k", 32768, err)) != 0)
		return rc;
	if ((rc = measure_threads(o, r, err)) != 0)
		return rc;
	if ((rc = measure_thread_burst(o, r, err)) != 0)
		return rc;
	if ((rc = measure_signal_calls(o, r, err)) != 0)
		return rc;
	if ((rc = measure_sleeps(o, r, err)) != 0)
		return rc;
	if ((rc = hs_calib_measure_sched(o, r, err)) != 0)
		return rc;
	return hs_calib_measure_newidle(o, r, err);
}

/* The caller's progress callback, the pass it reports for, and a buffer
 * for the figure's name with that pass. */
struct pass_progress {
	const struct hs_calib_opts *user;
	int pass, passes;
	char name[96];
};

/* Forwards a pass's progress to the caller's callback, with the pass in
 * the figure's name. */
static void show_pass_progress(void *ctx, const char *figure, int done, int total)
{
	struct pass_progress *pp = ctx;

	snprintf(pp->name, sizeof(pp->name), "%s (pass %d of %d)", figure, pp->pass, pp->passes);
	pp->user->progress(pp->user->ctx, pp->name, done, total);
}

/* Returns the lower median of v[0..n-1] (n > 0), sorting v in place. */
static int64_t median_of(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_int64);
	return v[(n - 1) / 2];
}

void hs_calib_merge_passes(struct hs_calib_report *out, struct hs_calib_report *const *pass,
			   int n)
{
	out->yield_peer_rejected = out->futex_local_rejected = out->futex_remote_rejected = 0;
	out->send_local_rejected = out->send_remote_rejected = out->sleep_rejected = 0;
	out->sleep_cycle_rejected = out->ring_rejected = out->timer_irq_rejected = 0;
	out->irq_wake_rejected = 0;
	out->irq_wake_no_fifo = false;
	memset(out->ring_hops, 0, sizeof(out->ring_hops));
	memset(out->ring_waits, 0, sizeof(out->ring_waits));
	out->ring_not_batch = out->ring_batch_errno = 0;
	out->sleep_cycle_wall_ns = out->sleep_cycle_cpu_ns = out->sleep_cycle_cycles = 0;
	out->sleep_cycle_busy_cpu_ns = 0;
	out->sleep_cycle_spin_switches = 0;
	out->sleep_cycle_irqs = 0;
	out->sleep_cycle_busy = true;

	out->nfigures = pass[0]->nfigures;
	for (int i = 0; i < out->nfigures; i++) {
		struct hs_calib_figure *f = &out->figures[i];
		int64_t p10[HS_CALIB_MAX_PASSES], p50[HS_CALIB_MAX_PASSES];
		int64_t p90[HS_CALIB_MAX_PASSES], p99[HS_CALIB_MAX_PASSES];
		int m = 0;

		memset(f, 0, sizeof(*f));
		f->name = pass[0]->figures[i].name;
		for (int k = 0; k < n; k++) {
			const struct hs_calib_figure *g = hs_calib_find(pass[k], f->name);

			if (!g || g->samples <= 0)
				continue;
			f->samples += g->samples;
			p10[m] = g->p10;
			p50[m] = g->p50;
			p90[m] = g->p90;
			p99[m] = g->p99;
			m++;
		}
		if (m == 0)
			continue;
		f->p10 = median_of(p10, m);
		f->p50 = median_of(p50, m);
		f->p90 = median_of(p90, m);
		f->p99 = median_of(p99, m);
	}

	for (int k = 0; k < n; k++) {
		const struct hs_calib_report *r = pass[k];

		out->yield_peer_rejected += r->yield_peer_rejected;
		out->futex_local_rejected += r->futex_local_rejected;
		out->futex_remote_rejected += r->futex_remote_rejected;
		out->send_local_rejected += r->send_local_rejected;
		out->send_remote_rejected += r->send_remote_rejected;
		out->sleep_rejected += r->sleep_rejected;
		out->sleep_cycle_rejected += r->sleep_cycle_rejected;
		out->ring_rejected += r->ring_rejected;
		for (int i = 0; i < HS_CALIB_NRINGS; i++) {
			out->ring_hops[i] += r->ring_hops[i];
			out->ring_waits[i] += r->ring_waits[i];
		}
		out->ring_not_batch += r->ring_not_batch;
		if (r->ring_batch_errno)
			out->ring_batch_errno = r->ring_batch_errno;
		out->timer_irq_rejected += r->timer_irq_rejected;
		out->irq_wake_rejected += r->irq_wake_rejected;
		out->irq_wake_no_fifo |= r->irq_wake_no_fifo;
		out->sleep_cycle_wall_ns += r->sleep_cycle_wall_ns;
		out->sleep_cycle_cpu_ns += r->sleep_cycle_cpu_ns;
		out->sleep_cycle_cycles += r->sleep_cycle_cycles;
		if (r->sleep_cycle_irqs < 0 || out->sleep_cycle_irqs < 0)
			out->sleep_cycle_irqs = -1;
		else
			out->sleep_cycle_irqs += r->sleep_cycle_irqs;
		out->sleep_cycle_busy &= r->sleep_cycle_busy;
		out->sleep_cycle_busy_cpu_ns += r->sleep_cycle_busy_cpu_ns;
		if (r->sleep_cycle_spin_switches < 0 || out->sleep_cycle_spin_switches < 0)
			out->sleep_cycle_spin_switches = -1;
		else
			out->sleep_cycle_spin_switches += r->sleep_cycle_spin_switches;
	}
}

int hs_calibrate(const struct hs_calib_opts *o, struct hs_calib_report *out,
		 struct hs_error *err)
{
	struct hs_calib_report *pass[HS_CALIB_MAX_PASSES] = { NULL };
	struct hs_calib_opts popts = { 0 };
	struct pass_progress pp = { 0 };
	int passes = HS_CALIB_PASSES, rc = 0;

	if (o && (o->scale < 0 || o->scale > 100 || o->scale != o->scale))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "scale",
				    "invalid sample scale %g: use a number in (0, 100], "
				    "1 for the full calibration", o->scale);
	if (o && (o->passes < 0 || o->passes > HS_CALIB_MAX_PASSES))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "passes",
				    "invalid number of passes %d: use 1 to %d, or 0 for the default",
				    o->passes, HS_CALIB_MAX_PASSES);
	if (o && o->passes > 0) {
		passes = o->passes;
	} else if (opts_scale(o) < 1.0) {
		/* By default each pass keeps at least a third of the full
		 * samples, because each pass repeats its set-up and takes at
		 * least HS_CALIB_MIN_SAMPLES per figure. */
		passes = (int)(opts_scale(o) * HS_CALIB_PASSES);
		if (passes < 1)
			passes = 1;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = read_host(o, out, err)) != 0)
		return rc;

	popts.scale = opts_scale(o) / passes;
	if (o && o->progress) {
		pp.user = o;
		pp.passes = passes;
		popts.progress = passes > 1 ? show_pass_progress : o->progress;
		popts.ctx = passes > 1 ? (void *)&pp : o->ctx;
	}
	for (int k = 0; k < passes && rc == 0; k++) {
		pass[k] = malloc(sizeof(*pass[k]));
		if (!pass[k]) {
			rc = hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL,
					  "out of memory for calibration pass %d", k + 1);
			break;
		}
		*pass[k] = *out; /* the host facts */
		pp.pass = k + 1;
		rc = measure_pass(&popts, pass[k], err);
		if (rc == 0 && o && o->after_pass)
			rc = o->after_pass(o->pass_ctx, k + 1, passes, err);
	}
	if (rc == 0) {
		out->passes = passes;
		hs_calib_merge_passes(out, pass, passes);
		hs_calib_derive(out);
	}
	for (int k = 0; k < passes; k++)
		free(pass[k]);
	return rc;
}
