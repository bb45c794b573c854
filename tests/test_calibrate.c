/*
 * Tests of the calibration library: the percentile rule, and the
 * derivation of each profile key from figures given by hand.  A real
 * calibration at a tiny sample scale is checked for structural properties
 * only, so no test depends on how fast this machine is.  The profile
 * writer must put every key once under [os] after a comment, give
 * durations a unit, replace files atomically and name the path in errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "calibrate.h"
#include "calibrate_impl.h"
#include "helpers.h"

#define TINY_SCALE 0.01

/* The [os] keys as sim/config.h defines them, written independently of
 * the library's own table. */
static const char *const os_keys[] = {
	"name", "slice", "tick", "context_switch", "syscall", "signal_syscall", "clock_read",
	"atomic_local", "atomic_remote", "load_remote", "yield", "yield_hold_ticks", "newidle", "newidle_cost",
	"preempt", "sleep_slack", "sleep_slack_ratio", "sleep_min", "sleep_round", "sleep_coarse_above",
	"sleep_poll_below", "timer_jitter", "wake_local", "wake_remote", "wake_send_local",
	"wake_send_remote", "timer_wake", "timer_irq", "irq_wake", "timer_program", "sleep_return", "thread_create",
	"thread_start", "thread_exit", "mmap", "mmap_fault", "switch_cold", "thread_create_spread",
	"thread_exit_spread",
	"mmap_spread", "wake_local_spread", "wake_remote_spread", "wake_send_local_spread",
	"wake_send_remote_spread",
};
#define NKEYS ((int)(sizeof(os_keys) / sizeof(os_keys[0])))

static const char *const figure_names[] = {
	"clock_read", "syscall", "cas_local", "stack_map_4k", "stack_map_32k", "stack_fault_32k",
	"thread_first_run", "thread_create_join", "thread_exit",
	"thread_create_burst", "thread_start", "signal_syscall", "usleep_1us",
	"nanosleep_1us", "nanosleep_100us", "nanosleep_100us_noslack",
	"nanosleep_1ms", "nanosleep_1ms_noslack", "yield_alone", "yield_peer",
	"futex_wake_local", "thread_cpu_pair", "futex_wake_send_local", "futex_wake_remote",
	"futex_wake_send_remote", "cas_handoff", "load_local",
	"load_remote", "sleep_cycle", "sleep_occupancy", "futex_ring_2", "futex_ring_3", "futex_ring_4",
	"futex_ring_8", "futex_ring_32", "futex_ring_128", "futex_ring_256", "futex_ring_512",
	"timer_irq_gap", "timer_arm_first", "timer_arm_later", "irq_wake_16", "irq_wake_64",
	"newidle_cost",
};
#define NFIGURES ((int)(sizeof(figure_names) / sizeof(figure_names[0])))

/* Figures that need a second CPU. */
static bool cross_cpu(const char *name)
{
	return strcmp(name, "futex_wake_remote") == 0 || strcmp(name, "cas_handoff") == 0 ||
	       strcmp(name, "futex_wake_send_remote") == 0 ||
	       strcmp(name, "load_remote") == 0 || strcmp(name, "newidle_cost") == 0;
}

/* The figures with one sample per bisection instead of at least
 * HS_CALIB_MIN_SAMPLES. */
static bool few_samples(const char *name)
{
	return strcmp(name, "newidle_cost") == 0;
}

/* ---- progress recording ---- */

#define MAX_CALLS 20000

struct progress_call {
	char figure[40];
	int done, total;
};

struct progress_log {
	struct progress_call calls[MAX_CALLS];
	int n;
	int irq_wake_fifo_threads; /* max threads under SCHED_FIFO as an irq_wake figure began */
};

/* Counts this process's threads that run under SCHED_FIFO, or returns -1
 * when /proc/self/task cannot be read. */
static void record_progress(void *ctx, const char *figure, int done, int total)
{
	struct progress_log *log = ctx;

	/* an irq_wake figure begins once its sleepers are started */
	if (done == 0 && strncmp(figure, "irq_wake_", 9) == 0) {
		int fifo = count_task_threads(SCHED_FIFO);

		if (fifo > log->irq_wake_fifo_threads)
			log->irq_wake_fifo_threads = fifo;
	}
	if (log->n < MAX_CALLS) {
		snprintf(log->calls[log->n].figure, sizeof(log->calls[0].figure), "%s", figure);
		log->calls[log->n].done = done;
		log->calls[log->n].total = total;
		log->n++;
	}
}

/* ---- shared state: one real calibration at a tiny scale ---- */

struct run {
	struct hs_calib_report report;
	struct progress_log progress;
	cpu_set_t affinity_before, affinity_after;
	int slack_before, slack_after;
	int threads_before, threads_after;
	int policy_after; /* the caller ran calibrate under SCHED_BATCH */
	int rc;
	struct hs_error err;
};

static struct run *run;

static void *idle_thread(void *arg)
{
	return arg;
}

static int setup_run(void **state)
{
	struct hs_calib_opts opts = { 0 };
	pthread_t warm;

	run = calloc(1, sizeof(*run));
	if (!run)
		return -1;
	opts.scale = TINY_SCALE;
	opts.passes = 1; /* the progress checks below follow one pass */
	opts.progress = record_progress;
	opts.ctx = &run->progress;

	sched_getaffinity(0, sizeof(run->affinity_before), &run->affinity_before);
	run->slack_before = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	/* ThreadSanitizer starts a helper thread at the first pthread_create;
	 * let that happen before the count. */
	if (pthread_create(&warm, NULL, idle_thread, NULL) != 0)
		return -1;
	pthread_join(warm, NULL);
	run->threads_before = count_task_threads(-1);
	{
		struct sched_param zero = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_BATCH, &zero);
		run->rc = hs_calibrate(&opts, &run->report, &run->err);
		run->policy_after = sched_getscheduler(0);
		pthread_setschedparam(pthread_self(), SCHED_OTHER, &zero);
	}
	run->threads_after = wait_task_threads(run->threads_before, 1000);
	run->slack_after = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	sched_getaffinity(0, sizeof(run->affinity_after), &run->affinity_after);
	return 0;
}

static int teardown_run(void **state)
{
	free(run);
	run = NULL;
	return 0;
}

/* ---- file helpers ---- */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hs-calib-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			if (remove(path) != 0)
				rmdir(path);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static int count_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Reads a whole text file into lines; returns the count. */
static int read_lines(const char *path, char lines[][512], int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (n < max && fgets(lines[n], 512, f)) {
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* Splits "key = value"; returns false for comments, blanks and sections. */
static bool split_key(char *line, char **key, char **value)
{
	char *eq;

	if (line[0] == '#' || line[0] == ';' || line[0] == '[' || line[0] == '\0')
		return false;
	eq = strchr(line, '=');
	if (!eq)
		return false;
	*eq = '\0';
	*key = line;
	*value = eq + 1;
	for (char *end = eq - 1; end >= line && *end == ' '; end--)
		*end = '\0';
	while (**value == ' ')
		(*value)++;
	return true;
}

static int key_position(const char *key)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(os_keys[i], key) == 0)
			return i;
	return -1;
}

/* The cost whose spread key is key, or -1. */
static int spread_of(const char *key)
{
	for (int k = 0; k < HS_NCOSTS; k++) {
		size_t n = strlen(hs_cost_names[k]);

		if (strncmp(key, hs_cost_names[k], n) == 0 && strcmp(key + n, "_spread") == 0)
			return k;
	}
	return -1;
}

static bool is_duration_key(const char *key)
{
	return strcmp(key, "name") != 0 && strcmp(key, "yield") != 0 && strcmp(key, "newidle") != 0 &&
	       strcmp(key, "preempt") != 0 &&
	       strcmp(key, "yield_hold_ticks") != 0 && strcmp(key, "sleep_slack_ratio") != 0 &&
	       strcmp(key, "switch_cold") != 0 && spread_of(key) < 0;
}

/* ---- a report filled by hand ---- */

static void put_figure(struct hs_calib_report *r, const char *name, int64_t p10, int64_t p50,
		       int64_t p90, int64_t p99, int samples)
{
	struct hs_calib_figure *f = &r->figures[r->nfigures++];

	f->name = name;
	f->p10 = p10;
	f->p50 = p50;
	f->p90 = p90;
	f->p99 = p99;
	f->samples = samples;
}

static void fill_hand_report(struct hs_calib_report *r, bool two_cpus)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->sysname, sizeof(r->sysname), "Linux");
	snprintf(r->release, sizeof(r->release), "6.8.0");
	snprintf(r->machine, sizeof(r->machine), "x86_64");
	r->ncpus = two_cpus ? 2 : 1;
	r->cpu_a = 0;
	r->cpu_b = two_cpus ? 1 : -1;
	r->timer_slack_ns = 50000;
	r->clock_res_ns = 1;
	r->tick_ns = 4000000;
	snprintf(r->tick_source, sizeof(r->tick_source), "given by the test");
	r->slice_ns = 3000000;
	snprintf(r->slice_source, sizeof(r->slice_source), "given by the test");

	put_figure(r, "syscall", 100, 150, 200, 300, 20);
	put_figure(r, "cas_local", 8, 10, 12, 20, 20);
	put_figure(r, "stack_map_4k", 8000, 9000, 11000, 20000, 20);
	put_figure(r, "stack_map_32k", 16000, 18000, 24000, 40000, 20);
	put_figure(r, "thread_first_run", 10000, 11000, 15000, 30000, 20);
	put_figure(r, "thread_create_join", 19000, 20000, 27000, 50000, 20);
	put_figure(r, "thread_exit", 8000, 9000, 10000, 20000, 20);
	put_figure(r, "usleep_1us", 56000, 57000, 58000, 70000, 20);
	put_figure(r, "nanosleep_1us", 56000, 57000, 58000, 70000, 20);
	put_figure(r, "nanosleep_100us", 154000, 155000, 158000, 170000, 20);
	put_figure(r, "nanosleep_100us_noslack", 104000, 105000, 108000, 120000, 20);
	put_figure(r, "nanosleep_1ms_noslack", 1015000, 1025000, 1038000, 1066000, 20);
	put_figure(r, "nanosleep_1ms", 1070000, 1080000, 1100000, 1150000, 20);
	put_figure(r, "yield_alone", 290, 300, 460, 700, 20);
	put_figure(r, "yield_peer", 2500, 2600, 2900, 3000, 20);
	put_figure(r, "futex_wake_local", 1900, 2000, 2500, 2800, 20);
	put_figure(r, "futex_wake_remote", 11000, 12000, 17000, 50000, two_cpus ? 20 : 0);
	put_figure(r, "cas_handoff", 40, 45, 65, 115, two_cpus ? 20 : 0);
	put_figure(r, "load_local", 2, 3, 4, 6, 20);
	put_figure(r, "load_remote", 15, 17, 19, 33, two_cpus ? 20 : 0);
}

/*
 * Ring medians chosen to exercise every rule of switch_cold: futex_ring_3
 * is below futex_ring_2 (clamped to 0), futex_ring_8 and futex_ring_128
 * are below the ring before them (raised to its value).  Differences
 * from futex_ring_2: 2:-100 3:1000 7:800 31:1500 127:1400 255:3000
 * 511:4000.  skip_32 leaves futex_ring_32 out.
 */
static void put_ring_figures(struct hs_calib_report *r, bool skip_32)
{
	put_figure(r, "futex_ring_2", 1950, 2000, 2100, 2200, 20);
	put_figure(r, "futex_ring_3", 1850, 1900, 2000, 2100, 20);
	put_figure(r, "futex_ring_4", 2900, 3000, 3100, 3200, 20);
	put_figure(r, "futex_ring_8", 2700, 2800, 2900, 3000, 20);
	if (!skip_32)
		put_figure(r, "futex_ring_32", 3400, 3500, 3600, 3700, 20);
	put_figure(r, "futex_ring_128", 3300, 3400, 3500, 3600, 20);
	put_figure(r, "futex_ring_256", 4900, 5000, 5100, 5200, 20);
	put_figure(r, "futex_ring_512", 5900, 6000, 6100, 6200, 20);
}

static struct hs_calib_figure *figure(struct hs_calib_report *r, const char *name)
{
	struct hs_calib_figure *f = (struct hs_calib_figure *)hs_calib_find(r, name);

	assert_non_null(f);
	return f;
}

static const char *note_of(const struct hs_calib_report *r, const char *key)
{
	for (int i = 0; i < HS_CALIB_NKEYS; i++)
		if (strcmp(hs_calib_keys[i], key) == 0)
			return r->notes[i];
	return NULL;
}

/* ---- tests: percentiles ---- */

static void summarize_nearest_rank(void **state)
{
	int64_t v[100];
	struct hs_calib_figure f = { "x", 0, 0, 0, 0, 0 };

	for (int i = 0; i < 100; i++)
		v[i] = (i * 37) % 100 + 1; /* 1..100, shuffled */
	hs_calib_summarize(v, 100, &f);
	assert_int_equal(f.samples, 100);
	assert_int_equal(f.p10, 10);
	assert_int_equal(f.p50, 50);
	assert_int_equal(f.p90, 90);
	assert_int_equal(f.p99, 99);
	assert_string_equal(f.name, "x");
}

static void summarize_small_and_empty(void **state)
{
	int64_t one[1] = { 42 };
	int64_t three[3] = { 30, 10, 20 };
	struct hs_calib_figure f = { "x", 7, 7, 7, 7, 7 };

	hs_calib_summarize(one, 1, &f);
	assert_int_equal(f.samples, 1);
	assert_int_equal(f.p10, 42);
	assert_int_equal(f.p99, 42);

	hs_calib_summarize(three, 3, &f);
	assert_int_equal(f.p10, 10); /* rank ceil(0.3) = 1 */
	assert_int_equal(f.p50, 20); /* rank ceil(1.5) = 2 */
	assert_int_equal(f.p90, 30);
	assert_int_equal(f.p99, 30);

	hs_calib_summarize(NULL, 0, &f);
	assert_int_equal(f.samples, 0);
	assert_int_equal(f.p10, 0);
	assert_int_equal(f.p50, 0);
	assert_int_equal(f.p99, 0);
}

/* ---- tests: derivation from a report filled by hand ---- */

static void derive_two_cpus(void **state)
{
	static struct hs_calib_report r;
	const struct hs_os_profile *p = &r.profile;

	fill_hand_report(&r, true);
	hs_calib_derive(&r);

	assert_string_equal(p->name, "host");
	assert_int_equal(p->slice_ns, 3000000);
	assert_int_equal(p->tick_ns, 4000000);
	assert_int_equal(p->context_switch_ns, 2600 / 2 - 300);
	assert_int_equal(p->syscall_ns, 150);
	assert_int_equal(p->signal_syscall_ns, 150); /* no signal_syscall figure */
	assert_int_equal(p->atomic_local_ns, 10);
	assert_int_equal(p->atomic_remote_ns, 45);
	assert_int_equal(p->load_remote_ns, 17);
	assert_int_equal(p->yield_kind, HS_YIELD_LINUX);
	assert_int_equal(p->yield_hold_ticks, 0);
	assert_int_equal(p->timer_wake_ns, 105000 - 100000);
	assert_int_equal(p->sleep_slack_ns, 155000 - 105000);
	/* slack part 55000 at 1 ms against 50000 at 100 us, over 900 us */
	assert_true(fabs(p->sleep_slack_ratio - 0.0056) < 1e-9);
	assert_int_equal(p->sleep_min_ns, 57000 - 50000 - 5000);
	assert_int_equal(p->sleep_round_ns, 0);
	assert_int_equal(p->sleep_coarse_above_ns, 0);
	assert_int_equal(p->sleep_poll_below_ns, 0);
	assert_int_equal(p->timer_jitter_ns, 158000 - 154000);
	assert_int_equal(p->wake_local_ns, 2000);
	assert_int_equal(p->wake_remote_ns, 12000);
	assert_int_equal(p->thread_create_ns, 20000 - 9000);
	assert_int_equal(p->thread_exit_ns, 9000);
	assert_int_equal(p->mmap_ns, 18000);
	assert_int_equal(p->mmap_fault_ns, 0); /* no stack_fault_32k in the hand report */

	for (int i = 0; i < HS_CALIB_NKEYS; i++)
		assert_true(r.notes[i][0] != '\0');
	assert_non_null(strstr(note_of(&r, "wake_remote"), "futex_wake_remote: 20 samples; p10 11000, median 12000, p90 17000, p99 50000 ns"));
	assert_non_null(strstr(note_of(&r, "slice"), "given by the test"));
}

/* mmap_fault is the median of stack_fault_32k, at most mmap. */
static void derive_mmap_fault_from_figure(void **state)
{
	static struct hs_calib_report r;

	(void)state;
	fill_hand_report(&r, true);
	put_figure(&r, "stack_fault_32k", 9000, 11000, 12000, 30000, 20);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.mmap_fault_ns, 11000);
	assert_non_null(strstr(note_of(&r, "mmap_fault"), "20 samples; p10 9000, median 11000"));

	fill_hand_report(&r, true);
	put_figure(&r, "stack_fault_32k", 19000, 25000, 26000, 30000, 20);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.mmap_fault_ns, r.profile.mmap_ns);
}

/* The preemption model from each source's text, as Linux writes it. */
static void preempt_model_from_each_source(void **state)
{
	enum hs_preempt m = HS_PREEMPT_FULL;

	(void)state;
	assert_int_equal(hs_preempt_from_debugfs("none (voluntary) full lazy\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_VOLUNTARY);
	assert_int_equal(hs_preempt_from_debugfs("(none) voluntary full\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_NONE);
	assert_int_equal(hs_preempt_from_debugfs("none voluntary (full) lazy\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_FULL);
	assert_int_equal(hs_preempt_from_debugfs("none voluntary full\n", &m), 0);

	m = HS_PREEMPT_FULL;
	assert_int_equal(hs_preempt_from_cmdline("console=ttyS0 quiet panic=1\n", &m), 0);
	assert_int_equal(hs_preempt_from_cmdline("quiet preempt=none ro\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_NONE);
	/* the last one counts, as for the kernel's own parsing */
	assert_int_equal(hs_preempt_from_cmdline("preempt=none preempt=full\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_FULL);
	assert_int_equal(hs_preempt_from_cmdline("nopreempt=none\n", &m), 0);

	m = HS_PREEMPT_FULL;
	assert_int_equal(hs_preempt_from_config("CONFIG_PREEMPT_BUILD=y\nCONFIG_PREEMPT_NONE=y\n"
						"# CONFIG_PREEMPT_VOLUNTARY is not set\n"
						"# CONFIG_PREEMPT is not set\nCONFIG_PREEMPT_DYNAMIC=y\n",
						&m), 1);
	assert_int_equal(m, HS_PREEMPT_NONE);
	assert_int_equal(hs_preempt_from_config("CONFIG_PREEMPT_VOLUNTARY=y\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_VOLUNTARY);
	assert_int_equal(hs_preempt_from_config("CONFIG_PREEMPT=y\nCONFIG_PREEMPT_COUNT=y\n", &m), 1);
	assert_int_equal(m, HS_PREEMPT_FULL);
	assert_int_equal(hs_preempt_from_config("CONFIG_PREEMPT_COUNT=y\nCONFIG_PREEMPTION=y\n", &m),
			 0);
}

/* newidle_cost is the median of its figure, and 0, with a note saying
 * why, when the figure has no samples. */
static void derive_newidle_cost_from_figure(void **state)
{
	static struct hs_calib_report r;

	(void)state;
	fill_hand_report(&r, true);
	put_figure(&r, "newidle_cost", 12000, 14000, 19000, 19000, 3);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.newidle_cost_ns, 14000);
	assert_non_null(strstr(note_of(&r, "newidle_cost"), "max_newidle_lb_cost"));
	assert_non_null(strstr(note_of(&r, "newidle_cost"), "3 samples; p10 12000, median 14000"));

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.newidle_cost_ns, 0);
	assert_non_null(strstr(note_of(&r, "newidle_cost"), "not measured"));
}

/* newidle follows the kernel release: NI_RANDOM is in mainline from 6.19
 * and in the stable series from 6.18.5, 6.12.66 and 6.6.121. */
static void derive_newidle_from_release(void **state)
{
	static struct hs_calib_report r;
	static const struct {
		const char *sysname, *release;
		enum hs_newidle want;
	} cases[] = {
		{ "Linux", "6.8.0", HS_NEWIDLE_ALWAYS },
		{ "Linux", "6.18.4", HS_NEWIDLE_ALWAYS },
		{ "Linux", "6.18.5", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "6.18.44-fc-v1272", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "6.19", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "7.0.1-generic", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "6.12.65", HS_NEWIDLE_ALWAYS },
		{ "Linux", "6.12.66+deb13-amd64", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "6.6.120", HS_NEWIDLE_ALWAYS },
		{ "Linux", "6.6.121", HS_NEWIDLE_PROPORTIONAL },
		{ "Linux", "6.1.160", HS_NEWIDLE_ALWAYS },
		{ "Linux", "5.15.0-91-generic", HS_NEWIDLE_ALWAYS },
		{ "Linux", "unknown", HS_NEWIDLE_ALWAYS },
		{ "FreeBSD", "15.0-RELEASE", HS_NEWIDLE_ALWAYS },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_hand_report(&r, true);
		snprintf(r.sysname, sizeof(r.sysname), "%s", cases[i].sysname);
		snprintf(r.release, sizeof(r.release), "%s", cases[i].release);
		hs_calib_derive(&r);
		if (r.profile.newidle != cases[i].want)
			fail_msg("release %s %s: newidle %d, want %d", cases[i].sysname,
				 cases[i].release, (int)r.profile.newidle, (int)cases[i].want);
		assert_non_null(strstr(note_of(&r, "newidle"), cases[i].release));
	}
}

static void derive_one_cpu_falls_back(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, false);
	hs_calib_derive(&r);

	assert_int_equal(r.profile.wake_remote_ns, 2000);    /* futex_wake_local */
	assert_int_equal(r.profile.atomic_remote_ns, 10);    /* cas_local */
	assert_int_equal(r.profile.load_remote_ns, 3);       /* load_local */
	assert_non_null(strstr(note_of(&r, "wake_remote"), "one CPU"));
	assert_non_null(strstr(note_of(&r, "atomic_remote"), "one CPU"));
	assert_non_null(strstr(note_of(&r, "load_remote"), "one CPU"));
}

/* wake_send_*: the waker's median minus the clock reads and a system
 * call; wake_local gives the same-CPU part up to the waker. */
static void derive_wake_send(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	put_figure(&r, "futex_wake_send_local", 1100, 1250, 2500, 4000, 20);
	put_figure(&r, "futex_wake_send_remote", 4000, 5050, 9000, 13000, 20);
	r.send_local_rejected = 3;
	hs_calib_derive(&r);

	assert_int_equal(r.profile.wake_send_local_ns, 1250 - 400 - 150);
	assert_int_equal(r.profile.wake_send_remote_ns, 5050 - 400 - 150);
	assert_int_equal(r.profile.wake_local_ns, 2000 - 700);
	n = note_of(&r, "wake_send_local");
	assert_non_null(strstr(n, "(1250 - 400 - 150 ns)"));
	assert_non_null(strstr(n, "SCHED_IDLE"));
	assert_non_null(strstr(n, "3 samples rejected"));
	assert_non_null(strstr(note_of(&r, "wake_send_remote"), "kept busy"));
	assert_non_null(strstr(note_of(&r, "wake_local"), "(2000 - 700 ns, at least 1000 ns)"));
}

/* Each per-call cost's spread is its figure's percentiles over the key,
 * with the part of the figure charged elsewhere kept fixed.  A cost whose
 * figure is missing stays exact. */
static void derive_cost_spreads(void **state)
{
	static struct hs_calib_report r;
	const struct hs_spread *sp = r.profile.spread;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	put_figure(&r, "futex_wake_send_local", 1100, 1250, 2500, 4000, 20);
	hs_calib_derive(&r);

	/* stack_map_32k 16000 18000 24000 40000 over mmap = 18000 */
	assert_true(fabs(sp[HS_COST_MMAP].p10 - 16000.0 / 18000) < 1e-12);
	assert_true(fabs(sp[HS_COST_MMAP].p90 - 24000.0 / 18000) < 1e-12);
	assert_true(fabs(sp[HS_COST_MMAP].p99 - 40000.0 / 18000) < 1e-12);
	/* thread_create = thread_create_join minus thread_exit: 9000 ns fixed */
	assert_int_equal(r.profile.thread_create_ns, 11000);
	assert_true(fabs(sp[HS_COST_THREAD_CREATE].p10 - 10000.0 / 11000) < 1e-12);
	assert_true(fabs(sp[HS_COST_THREAD_CREATE].p99 - 41000.0 / 11000) < 1e-12);
	/* wake_local = 2000 - 700: futex_wake_local 1900 2000 2500 2800 */
	assert_int_equal(r.profile.wake_local_ns, 1300);
	assert_true(fabs(sp[HS_COST_WAKE_LOCAL].p10 - 1200.0 / 1300) < 1e-12);
	assert_true(fabs(sp[HS_COST_WAKE_LOCAL].p90 - 1800.0 / 1300) < 1e-12);
	assert_true(fabs(sp[HS_COST_WAKE_LOCAL].p99 - 2100.0 / 1300) < 1e-12);
	/* wake_send_local = 1250 - 550: p10 (1100 - 550) / 700 */
	assert_true(fabs(sp[HS_COST_WAKE_SEND_LOCAL].p10 - 550.0 / 700) < 1e-12);
	assert_true(fabs(sp[HS_COST_WAKE_SEND_LOCAL].p99 - 3450.0 / 700) < 1e-12);
	/* futex_wake_send_remote was not measured */
	assert_true(sp[HS_COST_WAKE_SEND_REMOTE].p10 == 0);
	n = note_of(&r, "wake_send_remote_spread");
	assert_non_null(strstr(n, "not measured"));
	n = note_of(&r, "mmap_spread");
	assert_non_null(strstr(n, "stack_map_32k"));
	assert_non_null(strstr(n, "mean of"));
	assert_null(strstr(n, "kept fixed"));
	n = note_of(&r, "thread_create_spread");
	assert_non_null(strstr(n, "9000 ns of the figure are charged elsewhere"));
	assert_non_null(strstr(n, "thread_exit, as thread_create_join includes the join"));
}

/* thread_start is the new thread's CPU at its first line minus half a
 * pair of clock reads, and 0 when the figure is missing. */
static void derive_thread_start(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.thread_start_ns, 0);
	assert_non_null(strstr(note_of(&r, "thread_start"), "not measured"));

	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	put_figure(&r, "thread_start", 4000, 5200, 7000, 12000, 20);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.thread_start_ns, 5200 - 200);
	assert_non_null(strstr(note_of(&r, "thread_start"), "(5200 - 200 ns)"));
}

/* The p10 of a figure below the fixed part is clamped to 0.01 of the
 * key. */
static void derive_cost_spread_clamps(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	/* wake_send_local = 1000 - 550 = 450; p10 500 - 550 < 0 */
	put_figure(&r, "futex_wake_send_local", 500, 1000, 1100, 1200, 20);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.wake_send_local_ns, 450);
	assert_true(r.profile.spread[HS_COST_WAKE_SEND_LOCAL].p10 == 0.01);
	assert_true(fabs(r.profile.spread[HS_COST_WAKE_SEND_LOCAL].p90 - 550.0 / 450) < 1e-12);
}

/* A waker's part above the whole wake-to-run leaves wake_local at
 * context_switch (2600 / 2 - 300 = 1000 ns in the hand report). */
static void derive_wake_local_floor(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	put_figure(&r, "futex_wake_send_local", 2000, 2500, 2600, 3000, 20);
	hs_calib_derive(&r);

	assert_int_equal(r.profile.wake_send_local_ns, 2500 - 400 - 150);
	assert_int_equal(r.profile.context_switch_ns, 1000);
	assert_int_equal(r.profile.wake_local_ns, 1000);
	assert_non_null(strstr(note_of(&r, "wake_local"), "(2000 - 1950 ns, at least 1000 ns)"));
}

/* One CPU: the remote figure is missing, so the local one is used.  A
 * median below the reads and the system call gives 0. */
static void derive_wake_send_one_cpu(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, false);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 20);
	put_figure(&r, "futex_wake_send_local", 300, 500, 700, 900, 20);
	put_figure(&r, "futex_wake_send_remote", 0, 0, 0, 0, 0);
	hs_calib_derive(&r);

	assert_int_equal(r.profile.wake_send_local_ns, 0); /* 500 - 400 - 150 < 0 */
	assert_int_equal(r.profile.wake_send_remote_ns, 0);
	assert_int_equal(r.profile.wake_local_ns, 2000);
	assert_non_null(strstr(note_of(&r, "wake_send_remote"), "one CPU"));
}

static void derive_burst_and_signal_figures(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	put_figure(&r, "thread_create_burst", 22000, 26000, 40000, 90000, 20);
	put_figure(&r, "signal_syscall", 300, 340, 420, 600, 20);
	put_figure(&r, "clock_read", 20, 29, 31, 45, 20);
	hs_calib_derive(&r);
	/* the median read of the native backend's clock, as measured */
	assert_int_equal(r.profile.clock_read_ns, 29);
	assert_non_null(strstr(note_of(&r, "clock_read"), "native backend's clock"));
	/* the burst figure replaces create + join minus exit (20000 - 9000) */
	assert_int_equal(r.profile.thread_create_ns, 26000);
	assert_int_equal(r.profile.signal_syscall_ns, 340);
	assert_int_equal(r.profile.syscall_ns, 150);
	assert_non_null(strstr(note_of(&r, "thread_create"), "thread_create_burst: 20 samples"));
	assert_non_null(strstr(note_of(&r, "signal_syscall"), "rt_sigprocmask"));
}

static void derive_clamps_negative_differences(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	/* yield_peer / 2 below yield_alone, and a slack run faster than the
	 * slack-free one: both differences are noise and must not go below 0 */
	figure(&r, "yield_peer")->p50 = 500;
	figure(&r, "nanosleep_100us")->p50 = 104000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.context_switch_ns, 0);
	assert_int_equal(r.profile.sleep_slack_ns, 0);
	assert_true(r.profile.sleep_slack_ratio >= 0.0);
	assert_true(r.profile.sleep_slack_ratio <= 1.0);
}

static void derive_without_figures_writes_zero(void **state)
{
	static struct hs_calib_report r;

	memset(&r, 0, sizeof(r));
	snprintf(r.sysname, sizeof(r.sysname), "Linux");
	r.clock_res_ns = 1;
	r.timer_slack_ns = 50000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.syscall_ns, 0);
	assert_int_equal(r.profile.wake_local_ns, 0);
	assert_int_equal(r.profile.sleep_slack_ns, 50000); /* PR_GET_TIMERSLACK */
	assert_non_null(strstr(note_of(&r, "syscall"), "not measured"));
}

/* Without timer_irq_gap, timer_irq is 0 and not measured, and
 * sleep_return is the median usleep(1) cycle minus the sleep call
 * (syscall 150) and the switch-in (futex_wake_local 2000). */
static void derive_timer_irq_from_sleep_cycle(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	r.sleep_cycle_rejected = 2;
	r.sleep_cycle_wall_ns = 500000000;
	r.sleep_cycle_cpu_ns = 495000000;
	r.sleep_cycle_busy = true;
	r.sleep_cycle_busy_cpu_ns = 4000000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.syscall_ns, 150);
	assert_int_equal(r.profile.wake_local_ns, 2000);
	assert_int_equal(r.profile.timer_irq_ns, 0);
	assert_string_equal(note_of(&r, "timer_irq"),
			    "timer_irq: not measured (timer_irq_gap has no samples); 0");
	assert_int_equal(r.profile.sleep_return_ns, 3600 - 150 - 2000);
	n = note_of(&r, "sleep_return");
	assert_non_null(strstr(n, "median sleep_cycle minus syscall, wake_local, the "
				  "switch_cold extra at 31 other threads, irq_wake and the cycle's "
				  "share of timer_program"));
	assert_non_null(strstr(n, "(3600 - 150 - 2000 - 0 - 0 - 0 ns)"));
	assert_non_null(strstr(n, "share of timer_program: 0, because CPU A's timer interrupts "
				  "could not be counted"));
	assert_non_null(strstr(n, "switch_cold is none, so the cold extra is 0"));
	assert_non_null(strstr(n, "a SCHED_IDLE thread kept CPU A busy during the windows "
				  "(4000 us of its CPU time)"));
	assert_null(strstr(n, "below 0"));
	assert_non_null(strstr(n, "sleep_cycle: 100 samples; p10 3400, median 3600, p90 3900, "
				  "p99 4800 ns"));
	assert_non_null(strstr(n, "2 windows without a completed cycle or poller CPU time were rejected"));
	assert_non_null(strstr(n, "the pollers' CPU time was 99 % of the windows' wall time, and a "
				  "sample counts only that CPU time"));
	assert_null(strstr(n, "WARNING"));
}

/*
 * With sleep_occupancy, sleep_return is what a cycle takes from its CPU
 * less every part the model charges for it there: syscall 150, wake_local
 * 2000, the interrupts' share (timer_irq 15000 ns x 1000 interrupts /
 * 32000 cycles = 468) and the idle thread's switches back (context_switch
 * 1000 x 800 switches / 32000 cycles = 25): 5200 - 150 - 2000 - 468 - 25 =
 * 2557.  Without a count of those switches it falls back on sleep_cycle.
 */
static void derive_sleep_return_from_occupancy(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	put_figure(&r, "sleep_occupancy", 5000, 5200, 5400, 5600, 100);
	put_figure(&r, "timer_irq_gap", 14000, 15000, 16000, 30000, 2000);
	r.sleep_cycle_busy = true;
	r.sleep_cycle_wall_ns = 500000000;
	r.sleep_cycle_cpu_ns = 250000000;
	r.sleep_cycle_irqs = 1000;
	r.sleep_cycle_cycles = 32000;
	r.sleep_cycle_spin_switches = 800;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.context_switch_ns, 1000);
	assert_int_equal(r.profile.timer_irq_ns, 15000);
	assert_int_equal(r.profile.sleep_return_ns, 2557);
	n = note_of(&r, "sleep_return");
	assert_non_null(strstr(n, "median sleep_occupancy minus syscall, wake_local"));
	assert_non_null(strstr(n, "(5200 - 150 - 2000 - 0 - 0 - 0 - 468 - 25 ns)"));
	assert_non_null(strstr(n, "timer_irq 15000 ns x 1000 timer interrupts of CPU A, "
				  "(context_switch 1000 + 0) ns x 800 switches back of the idle "
				  "thread, over 32000 cycles"));
	assert_non_null(strstr(n, "sleep_occupancy: 100 samples; p10 5000, median 5200"));
	assert_non_null(strstr(n, "sleep_cycle: 100 samples; p10 3400, median 3600"));

	/* the idle thread's switches could not be read: sleep_cycle as before */
	r.sleep_cycle_spin_switches = -1;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 3600 - 150 - 2000);
	assert_non_null(strstr(note_of(&r, "sleep_return"), "median sleep_cycle minus syscall"));

	/* no SCHED_IDLE thread, no occupancy: the same */
	r.sleep_cycle_spin_switches = 800;
	figure(&r, "sleep_occupancy")->samples = 0;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 3600 - 150 - 2000);

	/* an occupancy below the parts writes 0 and notes the difference */
	figure(&r, "sleep_occupancy")->samples = 100;
	figure(&r, "sleep_occupancy")->p50 = 2500;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 0);
	assert_non_null(strstr(note_of(&r, "sleep_return"), "the difference is -143 ns, below 0"));
}

/* A figure whose median lies more than a quarter above its p10 was
 * measured on a busy host: the profile's first comment warns of it, and a
 * tight figure gives no warning.  The values are those of a calibration
 * taken while the validation host was noisy. */
static void derive_warns_of_wide_figures(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "sleep_cycle", 3886, 5223, 6298, 6663, 100);
	hs_calib_derive(&r);
	n = note_of(&r, "name");
	assert_non_null(strstr(n, "WARNING: the median of sleep_cycle, 5223 ns, is 34 % above its "
				  "p10 of 3886 ns"));
	assert_non_null(strstr(n, "calibrate again on an idle host"));

	figure(&r, "sleep_cycle")->p50 = 4000;
	hs_calib_derive(&r);
	assert_null(strstr(note_of(&r, "name"), "WARNING: the median of sleep_cycle"));
}

/* With timer_irq_gap, timer_irq is its median (what the interrupt of a
 * timer with no waiter took from a computing thread).  The pollers'
 * interrupt mostly finds their CPU idle, so the rest of a usleep(1) cycle
 * beyond syscall 150 and the switch-in (futex_wake_local 2000) is the
 * sleeper's own, sleep_return: 3600 - 150 - 2000 = 1450. */
static void derive_sleep_return_from_gap(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	put_figure(&r, "timer_irq_gap", 14000, 15500, 17000, 30000, 2000);
	r.timer_irq_rejected = 3;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_irq_ns, 15500);
	assert_int_equal(r.profile.sleep_return_ns, 1450);
	n = note_of(&r, "timer_irq");
	assert_non_null(strstr(n, "median gap that the interrupt of a timer with no waiter left"));
	assert_non_null(strstr(n, "timer_irq_gap: 2000 samples; p10 14000, median 15500"));
	assert_non_null(strstr(n, "3 rounds were rejected: a gap above 100 us"));
	n = note_of(&r, "sleep_return");
	assert_non_null(strstr(n, "(3600 - 150 - 2000 - 0 - 0 - 0 ns)"));

	/* a cycle cheaper than its parts leaves 0 */
	figure(&r, "sleep_cycle")->p50 = 2100;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_irq_ns, 15500);
	assert_int_equal(r.profile.sleep_return_ns, 0);
	assert_non_null(strstr(note_of(&r, "sleep_return"),
			       "the difference is -50 ns, below 0, so 0 is written"));
}

/* timer_program is the median arm of a timer that becomes the CPU's
 * earliest less the median arm of one behind it: 6600 - 250 = 6350; 0
 * when the later arm is the dearer; 0 and "not measured" without
 * either figure. */
static void derive_timer_program(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "timer_arm_first", 5800, 6600, 7100, 9200, 2000);
	put_figure(&r, "timer_arm_later", 240, 250, 280, 400, 2000);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_program_ns, 6350);
	n = note_of(&r, "timer_program");
	assert_non_null(strstr(n, "(6600 - 250 ns)"));
	assert_non_null(strstr(n, "timer_arm_first: 2000 samples; p10 5800, median 6600"));

	/* a usleep(1) cycle contains its share of the rearming: 6350 ns x 1000
	 * interrupts / 32000 cycles = 198 ns, so sleep_return is 3600 - 150
	 * - 2000 - 198 = 1252 */
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	r.sleep_cycle_irqs = 1000;
	r.sleep_cycle_cycles = 32000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 1252);
	n = note_of(&r, "sleep_return");
	assert_non_null(strstr(n, "(3600 - 150 - 2000 - 0 - 0 - 198 ns)"));
	assert_non_null(strstr(n, "share of timer_program: 6350 ns x 1000 timer interrupts of CPU A "
				  "/ 32000 cycles"));

	figure(&r, "timer_arm_later")->p50 = 7000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_program_ns, 0);

	figure(&r, "timer_arm_later")->samples = 0;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_program_ns, 0);
	assert_non_null(strstr(note_of(&r, "timer_program"), "timer_program: not measured"));
}

/* Each usleep(1) cycle also contains the wake-up that ends the sleep, which
 * the timer interrupt does and the model charges at irq_wake.  Without the
 * irq_wake figures that is wake_send_local: futex_wake_send_local 1400 -
 * thread_cpu_pair 400 - syscall 150 = 850, so wake_local is 2000 - 850 =
 * 1150 and sleep_return 3600 - 150 - 1150 - 0 - 850 = 1450. */
static void derive_sleep_return_subtracts_the_wake(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	put_figure(&r, "futex_wake_send_local", 1300, 1400, 1600, 2000, 100);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 100);
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	put_figure(&r, "timer_irq_gap", 14000, 15500, 17000, 30000, 2000);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.wake_send_local_ns, 850);
	assert_int_equal(r.profile.wake_local_ns, 1150);
	assert_int_equal(r.profile.irq_wake_ns, 850);
	assert_non_null(strstr(note_of(&r, "irq_wake"), "irq_wake: wake_send_local, because "
				  "irq_wake_16 has no samples"));
	assert_int_equal(r.profile.sleep_return_ns, 1450);
	assert_non_null(strstr(note_of(&r, "sleep_return"), "(3600 - 150 - 1150 - 0 - 850 - 0 ns)"));
}

/* irq_wake is the slope of the interrupt's gap from 16 to 64 sleepers:
 * (100000 - 40000) / 48 = 1250.  sleep_return is the rest of the cycle
 * after it: 3600 - 150 - 1150 - 0 - 1250 = 1050. */
static void derive_irq_wake_from_the_slope(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "futex_wake_send_local", 1300, 1400, 1600, 2000, 100);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 100);
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	put_figure(&r, "irq_wake_16", 30000, 40000, 60000, 90000, 200);
	put_figure(&r, "irq_wake_64", 80000, 100000, 130000, 160000, 200);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.irq_wake_ns, 1250);
	n = note_of(&r, "irq_wake");
	assert_non_null(strstr(n, "((100000 - 40000) / 48 ns)"));
	assert_non_null(strstr(n, "irq_wake_16: 200 samples; p10 30000, median 40000"));
	assert_int_equal(r.profile.wake_send_local_ns, 850);
	assert_int_equal(r.profile.wake_local_ns, 1150);
	assert_int_equal(r.profile.sleep_return_ns, 1050);
	assert_non_null(strstr(note_of(&r, "sleep_return"), "(3600 - 150 - 1150 - 0 - 1250 - 0 ns)"));

	/* fewer gaps with more sleepers: at least 0 */
	figure(&r, "irq_wake_64")->p50 = 39000;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.irq_wake_ns, 0);
}

/* irq_wake falls back to wake_send_local (850) when either figure has no
 * samples, and its comment states whether SCHED_FIFO was denied or every
 * round was rejected. */
static void derive_irq_wake_fallback_reasons(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_figure(&r, "futex_wake_send_local", 1300, 1400, 1600, 2000, 100);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 100);
	put_figure(&r, "irq_wake_16", 0, 0, 0, 0, 0);
	put_figure(&r, "irq_wake_64", 0, 0, 0, 0, 0);
	r.irq_wake_no_fifo = true;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.irq_wake_ns, 850);
	n = note_of(&r, "irq_wake");
	assert_non_null(strstr(n, "irq_wake_16 and irq_wake_64 were not measured (they need "
				  "SCHED_FIFO"));

	/* measured, but every round of irq_wake_64 rejected */
	fill_hand_report(&r, true);
	put_figure(&r, "futex_wake_send_local", 1300, 1400, 1600, 2000, 100);
	put_figure(&r, "thread_cpu_pair", 380, 400, 420, 500, 100);
	put_figure(&r, "irq_wake_16", 30000, 40000, 60000, 90000, 200);
	put_figure(&r, "irq_wake_64", 0, 0, 0, 0, 0);
	r.irq_wake_rejected = 12;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.irq_wake_ns, 850);
	n = note_of(&r, "irq_wake");
	assert_non_null(strstr(n, "because irq_wake_64 has no samples (12 rounds rejected"));
	assert_null(strstr(n, "SCHED_FIFO"));

	/* both measured, some rounds rejected: the slope, with the count */
	fill_hand_report(&r, true);
	put_figure(&r, "irq_wake_16", 30000, 40000, 60000, 90000, 200);
	put_figure(&r, "irq_wake_64", 80000, 100000, 130000, 160000, 200);
	r.irq_wake_rejected = 3;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.irq_wake_ns, 1250);
	assert_non_null(strstr(note_of(&r, "irq_wake"), "  3 rounds in which a sleeper had not "
				  "started its sleep"));
}

/* Derives r from a sleep_cycle of median 1800 ns, below the parts of a
 * cycle, with 3 rejected windows and the pollers at 80 % of the wall
 * time, so that the note has every optional line.  Returns the
 * sleep_return note. */
static const char *derive_short_cycle(struct hs_calib_report *r, bool busy)
{
	fill_hand_report(r, true);
	put_figure(r, "sleep_cycle", 1700, 1800, 1900, 2000, 100);
	r->sleep_cycle_rejected = 3;
	r->sleep_cycle_wall_ns = 500000000;
	r->sleep_cycle_cpu_ns = 400000000;
	r->sleep_cycle_busy = busy;
	hs_calib_derive(r);
	return note_of(r, "sleep_return");
}

static void derive_timer_irq_negative_is_zero(void **state)
{
	static struct hs_calib_report r;
	const char *n = derive_short_cycle(&r, true);

	assert_int_equal(r.profile.sleep_return_ns, 0); /* 1800 - 150 - 2000 < 0 */
	assert_non_null(strstr(n, "at least 0"));
	assert_non_null(strstr(n, "the difference is -350 ns, below 0, so 0 is written"));
	assert_non_null(strstr(n, "3 windows without a completed cycle or poller CPU time were rejected"));
	/* The CPU idled a fifth of the time.  The samples are CPU time per
	 * cycle, so that is not an error. */
	assert_null(strstr(n, "WARNING"));
	/* the last words of the note: nothing was cut at HS_CALIB_KEY_NOTE_MAX */
	assert_non_null(strstr(n, "the pollers' CPU time was 80 % of the windows' wall time, and a "
				  "sample counts only that CPU time"));
}

/* Without SCHED_IDLE CPU A idled between the interrupts, so the note warns
 * that sleep_return may be high.  That makes the longest note, and its
 * last words must survive. */
static void derive_sleep_return_warns_idle_cpu(void **state)
{
	static struct hs_calib_report r;
	const char *n = derive_short_cycle(&r, false);

	assert_non_null(strstr(n, "WARNING: SCHED_IDLE was not permitted, so CPU A idled between "
				  "the interrupts and the cycle includes its exits from idle"));
	assert_null(strstr(n, "kept CPU A busy"));
	assert_non_null(strstr(n, "the pollers' CPU time was 80 % of the windows' wall time, and a "
				  "sample counts only that CPU time"));
}

static void derive_timer_irq_missing_is_zero(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	put_figure(&r, "sleep_cycle", 0, 0, 0, 0, 0); /* measured with no samples */
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_irq_ns, 0);
	assert_string_equal(note_of(&r, "timer_irq"),
			    "timer_irq: not measured (timer_irq_gap has no samples); 0");
	assert_int_equal(r.profile.sleep_return_ns, 0);
	assert_string_equal(note_of(&r, "sleep_return"),
			    "sleep_return: not measured (sleep_cycle has no samples); 0");

	fill_hand_report(&r, true); /* no sleep_cycle figure at all */
	hs_calib_derive(&r);
	assert_int_equal(r.profile.timer_irq_ns, 0);
	assert_non_null(strstr(note_of(&r, "timer_irq"), "not measured"));
}

/* sleep_return comes from sleep_cycle alone: usleep_1us is not needed. */
static void derive_timer_irq_without_usleep(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true);
	figure(&r, "usleep_1us")->samples = 0;
	put_figure(&r, "sleep_cycle", 3400, 3600, 3900, 4800, 100);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 1450);
	/* no windows recorded: no CPU-share line */
	assert_null(strstr(note_of(&r, "sleep_return"), "CPU time was"));
}

/* The hand ring figures give the points of put_ring_figures() after the
 * clamp to 0 and the rise to the point before. */
static void derive_switch_cold_from_rings(void **state)
{
	static const struct hs_cold_point want[] = {
		{ 1, 0 }, { 2, 0 }, { 3, 1000 }, { 7, 1000 },
		{ 31, 1500 }, { 127, 1500 }, { 255, 3000 }, { 511, 4000 },
	};
	static struct hs_calib_report r;
	const struct hs_os_profile *p = &r.profile;
	const char *n;

	fill_hand_report(&r, true);
	put_ring_figures(&r, false);
	r.ring_rejected = 4;
	for (int i = 0; i < HS_CALIB_NRINGS; i++) {
		r.ring_hops[i] = 1000;
		r.ring_waits[i] = 1000 - 10 * i;
	}
	r.ring_waits[1] = 900; /* the ring of 3 skipped a tenth of its waits */
	hs_calib_derive(&r);

	assert_int_equal(p->nswitch_cold, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(p->switch_cold[i].threads, want[i].threads);
		assert_int_equal(p->switch_cold[i].ns, want[i].ns);
	}
	n = note_of(&r, "switch_cold");
	assert_non_null(strstr(n, "median futex_ring_K minus median futex_ring_2"));
	assert_non_null(strstr(n, "never decreases (2 points raised)"));
	assert_non_null(strstr(n, "D:ns: 2:-100 3:1000 7:800 31:1500 127:1400 255:3000 511:4000"));
	assert_non_null(strstr(n, "4 windows in which the token made no hop were rejected"));
	assert_non_null(strstr(n, "ring of K = D + 1 SCHED_BATCH threads"));
	assert_non_null(strstr(n, "K:waits: 2:1.000 3:0.900 4:0.980 8:0.970 32:0.960 128:0.950 "
				  "256:0.940 512:0.930"));
	assert_non_null(strstr(n, "WARNING: fewer than 0.95 waits per hop in the rings of K = 3 256 "
				  "512: "));
	assert_null(strstr(n, "SCHED_BATCH (")); /* every ring thread switched */
	assert_non_null(strstr(n, "futex_ring_2: 20 samples; p10 1950, median 2000, p90 2100, "
				  "p99 2200 ns"));
	/* the last figure line: nothing was cut at HS_CALIB_KEY_NOTE_MAX */
	assert_non_null(strstr(n, "futex_ring_512: 20 samples; p10 5900, median 6000, p90 6100, "
				  "p99 6200 ns"));
}

/* Ring threads left under the caller's policy are warned of with the
 * reason, and a ring with no counted hops has no waits entry. */
static void derive_switch_cold_warns_not_batch(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_ring_figures(&r, false);
	r.ring_hops[0] = 500;
	r.ring_waits[0] = 500;
	r.ring_not_batch = 7;
	r.ring_batch_errno = EPERM;
	hs_calib_derive(&r);
	n = note_of(&r, "switch_cold");
	assert_non_null(strstr(n, "K:waits: 2:1.000\n"));
	assert_non_null(strstr(n, "WARNING: 7 ring threads could not switch to SCHED_BATCH "
				  "(Operation not permitted)"));
	assert_null(strstr(n, "WARNING: fewer than"));

	/* Without the ring of 2 no curve is derived, and the note still says
	 * why the rings may have failed. */
	figure(&r, "futex_ring_2")->samples = 0;
	hs_calib_derive(&r);
	n = note_of(&r, "switch_cold");
	assert_non_null(strstr(n, "switch_cold: not measured (futex_ring_2 has no samples); none"));
	assert_non_null(strstr(n, "WARNING: 7 ring threads could not switch to SCHED_BATCH"));
}

/* A ring figure that is missing leaves its point out. */
static void derive_switch_cold_skips_missing(void **state)
{
	static struct hs_calib_report r;
	const struct hs_os_profile *p = &r.profile;

	fill_hand_report(&r, true);
	put_ring_figures(&r, true);
	hs_calib_derive(&r);

	assert_int_equal(p->nswitch_cold, 7);
	assert_int_equal(p->switch_cold[3].threads, 7);
	assert_int_equal(p->switch_cold[3].ns, 1000);
	assert_int_equal(p->switch_cold[4].threads, 127);
	assert_int_equal(p->switch_cold[4].ns, 1400); /* 3400 - 2000, above 7:1000 */
	assert_null(strstr(note_of(&r, "switch_cold"), "futex_ring_32"));
}

static void derive_switch_cold_not_measured(void **state)
{
	static struct hs_calib_report r;

	fill_hand_report(&r, true); /* no ring figure at all */
	hs_calib_derive(&r);
	assert_int_equal(r.profile.nswitch_cold, 0);
	assert_string_equal(note_of(&r, "switch_cold"),
			    "switch_cold: not measured (futex_ring_2 has no samples); none");

	fill_hand_report(&r, true); /* the base ring only */
	put_figure(&r, "futex_ring_2", 1950, 2000, 2100, 2200, 20);
	put_figure(&r, "futex_ring_3", 0, 0, 0, 0, 0);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.nswitch_cold, 0);
	assert_non_null(strstr(note_of(&r, "switch_cold"), "no futex_ring_K figure with K >= 3"));

	fill_hand_report(&r, true); /* the base ring without samples */
	put_ring_figures(&r, false);
	figure(&r, "futex_ring_2")->samples = 0;
	hs_calib_derive(&r);
	assert_int_equal(r.profile.nswitch_cold, 0);
	assert_non_null(strstr(note_of(&r, "switch_cold"), "not measured"));
}

/* Each poller's switch-in follows 31 others: sleep_return also subtracts
 * the switch_cold extra at 31, here the point 31:1500ns. */
static void derive_timer_irq_subtracts_cold(void **state)
{
	static struct hs_calib_report r;
	const char *n;

	fill_hand_report(&r, true);
	put_ring_figures(&r, false);
	put_figure(&r, "sleep_cycle", 4800, 5000, 5300, 6000, 100);
	hs_calib_derive(&r);
	assert_int_equal(r.profile.sleep_return_ns, 5000 - 150 - 2000 - 1500);
	n = note_of(&r, "sleep_return");
	assert_non_null(strstr(n, "(5000 - 150 - 2000 - 1500 - 0 - 0 ns)"));
	assert_null(strstr(n, "switch_cold is none"));
}

/* Without futex_ring_32 the extra at 31 is interpolated in log2 between
 * 7:1000ns and 127:1400ns, as the OS model does. */
static void derive_timer_irq_interpolates_cold(void **state)
{
	static struct hs_calib_report r;
	int64_t cold;

	fill_hand_report(&r, true);
	put_ring_figures(&r, true);
	put_figure(&r, "sleep_cycle", 4800, 5000, 5300, 6000, 100);
	hs_calib_derive(&r);
	cold = hs_cold_extra(&r.profile, 31);
	/* 1000 + 400 * (log2 31 - log2 7) / (log2 127 - log2 7) = 1205.3 */
	assert_int_equal(cold, 1205);
	assert_int_equal(r.profile.sleep_return_ns, 5000 - 150 - 2000 - 1205);
	assert_non_null(strstr(note_of(&r, "sleep_return"), "(5000 - 150 - 2000 - 1205 - 0 - 0 ns)"));
}

/* ---- tests: a real calibration at a tiny scale ---- */

static void calibrate_succeeds(void **state)
{
	char buf[1024];

	hs_error_format(&run->err, buf, sizeof(buf));
	if (run->rc != 0)
		fail_msg("hs_calibrate returned %d: %s", run->rc, buf);
	assert_int_equal(run->rc, 0);
}

static void calibrate_has_every_figure(void **state)
{
	const struct hs_calib_report *r = &run->report;

	assert_int_equal(r->nfigures, NFIGURES);
	for (int i = 0; i < NFIGURES; i++) {
		const struct hs_calib_figure *f = hs_calib_find(r, figure_names[i]);

		if (!f)
			fail_msg("figure %s is missing", figure_names[i]);
		assert_non_null(f);
	}
	assert_null(hs_calib_find(r, "no_such_figure"));
}

static void calibrate_percentiles_ordered(void **state)
{
	const struct hs_calib_report *r = &run->report;

	for (int i = 0; i < r->nfigures; i++) {
		const struct hs_calib_figure *f = &r->figures[i];

		if (f->samples == 0 && strncmp(f->name, "irq_wake_", 9) == 0) {
			/* skipped without permission for SCHED_FIFO, or every
			 * round rejected */
			if (r->irq_wake_no_fifo)
				assert_true(sched_fifo_denied());
			else
				assert_true(r->irq_wake_rejected > 0);
			continue;
		}
		if (f->samples == 0 && strcmp(f->name, "newidle_cost") == 0 && r->ncpus > 1) {
			/* skipped when too few spinners a second reach the longest
			 * idle period, which a loaded host or a tiny scale causes */
			continue;
		}
		if (f->samples == 0) {
			/* only cross-CPU figures may be skipped, and only on one CPU */
			if (!cross_cpu(f->name) || r->ncpus != 1)
				fail_msg("figure %s has no samples on %d CPUs", f->name, r->ncpus);
			continue;
		}
		if (f->samples < (few_samples(f->name) ? 1 : 10) || f->p10 <= 0 || f->p10 > f->p50 ||
		    f->p50 > f->p90 || f->p90 > f->p99)
			fail_msg("%s: %d samples, p10 %lld p50 %lld p90 %lld p99 %lld", f->name,
				 f->samples, (long long)f->p10, (long long)f->p50,
				 (long long)f->p90, (long long)f->p99);
		assert_true(f->p10 > 0);
		assert_true(f->p10 <= f->p50);
		assert_true(f->p50 <= f->p90);
		assert_true(f->p90 <= f->p99);
	}
}

/* sleep_cycle ran beside a SCHED_IDLE thread on CPU A (any user may set
 * that policy on its own thread), and that thread's CPU time in the
 * windows was read.  On a slow host the pollers fill the CPU and leave a
 * SCHED_IDLE thread nothing, so 0 is a valid reading. */
static void calibrate_sleep_cycle_busy(void **state)
{
	const struct hs_calib_report *r = &run->report;

	assert_true(r->sleep_cycle_busy);
	assert_true(r->sleep_cycle_busy_cpu_ns >= 0);
	assert_true(r->sleep_cycle_busy_cpu_ns <= r->sleep_cycle_wall_ns);
}

static void calibrate_sleeps_last_request(void **state)
{
	const struct hs_calib_report *r = &run->report;

	assert_true(hs_calib_find(r, "usleep_1us")->p10 >= 1000);
	assert_true(hs_calib_find(r, "nanosleep_1us")->p10 >= 1000);
	assert_true(hs_calib_find(r, "nanosleep_100us")->p10 >= 100000);
	assert_true(hs_calib_find(r, "nanosleep_100us_noslack")->p10 >= 100000);
	assert_true(hs_calib_find(r, "nanosleep_1ms")->p10 >= 1000000);
	assert_true(hs_calib_find(r, "nanosleep_1ms_noslack")->p10 >= 1000000);
}

/* While the irq_wake figures are measured only the caller runs under
 * SCHED_FIFO.  The sleepers are ordinary threads, woken as the pollers
 * that the model charges irq_wake for are. */
static void calibrate_irq_sleepers_not_fifo(void **state)
{
	assert_int_equal(run->report.irq_wake_no_fifo, sched_fifo_denied());
	if (hs_calib_find(&run->report, "irq_wake_16")->samples == 0)
		skip(); /* no permission for SCHED_FIFO */
	assert_int_equal(run->progress.irq_wake_fifo_threads, 1);
}

static void calibrate_restores_caller(void **state)
{
	assert_true(CPU_EQUAL(&run->affinity_before, &run->affinity_after));
	assert_int_equal(run->slack_before, run->slack_after);
	assert_int_equal(run->threads_before, run->threads_after);
	assert_int_equal(run->policy_after, SCHED_BATCH);
}

static void calibrate_reports_host(void **state)
{
	const struct hs_calib_report *r = &run->report;
	cpu_set_t set;

	sched_getaffinity(0, sizeof(set), &set);
	assert_string_equal(r->sysname, "Linux");
	assert_int_equal(r->ncpus, CPU_COUNT(&set));
	assert_true(CPU_ISSET(r->cpu_a, &set));
	if (r->ncpus > 1)
		assert_true(CPU_ISSET(r->cpu_b, &set) && r->cpu_b != r->cpu_a);
	else
		assert_int_equal(r->cpu_b, -1);
	assert_int_equal(r->timer_slack_ns, run->slack_before);
	assert_true(r->tick_ns > 0);
	assert_true(r->slice_ns > 0);
	assert_true(r->tick_source[0] != '\0');
	assert_true(r->slice_source[0] != '\0');
}

static void calibrate_profile_from_medians(void **state)
{
	const struct hs_calib_report *r = &run->report;
	const struct hs_os_profile *p = &r->profile;
	int64_t irq, send, wake;
	const struct hs_calib_figure *occupancy;
	bool by_occupancy;

	assert_string_equal(p->name, "host");
	assert_int_equal(p->syscall_ns, hs_calib_find(r, "syscall")->p50);
	assert_int_equal(p->atomic_local_ns, hs_calib_find(r, "cas_local")->p50);
	send = hs_calib_find(r, "futex_wake_send_local")->p50 -
	       hs_calib_find(r, "thread_cpu_pair")->p50 - p->syscall_ns;
	assert_int_equal(p->wake_send_local_ns, send > 0 ? send : 0);
	if (r->cpu_b >= 0) {
		send = hs_calib_find(r, "futex_wake_send_remote")->p50 -
		       hs_calib_find(r, "thread_cpu_pair")->p50 - p->syscall_ns;
		assert_int_equal(p->wake_send_remote_ns, send > 0 ? send : 0);
	}
	wake = hs_calib_find(r, "futex_wake_local")->p50;
	if (p->wake_send_local_ns > 0 && wake > 0) {
		wake -= p->wake_send_local_ns;
		if (wake < p->context_switch_ns)
			wake = p->context_switch_ns;
	}
	assert_int_equal(p->wake_local_ns, wake);
	assert_int_equal(p->thread_exit_ns, hs_calib_find(r, "thread_exit")->p50);
	assert_int_equal(p->mmap_ns, hs_calib_find(r, "stack_map_32k")->p50);
	/* the fault alone, timed inside the same calls, is at most the whole */
	assert_int_equal(p->mmap_fault_ns, hs_calib_find(r, "stack_fault_32k")->p50 < p->mmap_ns ?
			 hs_calib_find(r, "stack_fault_32k")->p50 : p->mmap_ns);
	assert_true(p->mmap_fault_ns > 0);
	assert_int_equal(p->timer_wake_ns,
			 hs_calib_find(r, "nanosleep_100us_noslack")->p50 - 100000);
	if (hs_calib_find(r, "irq_wake_16")->samples > 0) {
		int64_t slope = (hs_calib_find(r, "irq_wake_64")->p50 -
				 hs_calib_find(r, "irq_wake_16")->p50) / 48;

		assert_int_equal(p->irq_wake_ns, slope > 0 ? slope : 0);
	} else {
		assert_int_equal(p->irq_wake_ns, p->wake_send_local_ns);
	}
	/* sleep_return comes from the occupancy when the idle thread ran and
	 * its switches and CPU A's interrupts were counted, else from the
	 * pollers' own CPU time */
	occupancy = hs_calib_find(r, "sleep_occupancy");
	assert_non_null(occupancy);
	if (occupancy->samples > 0) {
		assert_true(r->sleep_cycle_busy);
		assert_true(occupancy->samples <= hs_calib_find(r, "sleep_cycle")->samples);
	}
	by_occupancy = occupancy->samples > 0 && r->sleep_cycle_irqs > 0 &&
		       r->sleep_cycle_spin_switches >= 0;
	irq = (by_occupancy ? occupancy->p50 : hs_calib_find(r, "sleep_cycle")->p50) -
	      p->syscall_ns - p->wake_local_ns - hs_cold_extra(p, HS_CALIB_SLEEP_POLLERS - 1) -
	      p->irq_wake_ns;
	if (by_occupancy)
		irq -= p->timer_irq_ns * r->sleep_cycle_irqs / r->sleep_cycle_cycles +
		       (p->context_switch_ns + hs_cold_extra(p, HS_CALIB_SLEEP_POLLERS - 1)) *
			       r->sleep_cycle_spin_switches / r->sleep_cycle_cycles;
	assert_true(r->sleep_cycle_wall_ns > 0);
	assert_true(r->sleep_cycle_cpu_ns > 0);
	/* A sample is CPU time per cycle, not wall time per cycle, so the
	 * median is near the total CPU time over the total cycles. */
	assert_true(r->sleep_cycle_cycles > 0);
	{
		double mean = (double)r->sleep_cycle_cpu_ns / (double)r->sleep_cycle_cycles;
		double median = (double)hs_calib_find(r, "sleep_cycle")->p50;

		assert_true(median > 0.75 * mean);
		assert_true(median < 1.25 * mean);
	}
	if (hs_calib_find(r, "timer_irq_gap")->samples > 0) {
		const struct hs_calib_figure *first = hs_calib_find(r, "timer_arm_first");
		const struct hs_calib_figure *later = hs_calib_find(r, "timer_arm_later");

		/* rounds the host interrupted for longer are not samples */
		assert_true(hs_calib_find(r, "timer_irq_gap")->p10 > 0);
		assert_true(hs_calib_find(r, "timer_irq_gap")->p99 <= HS_CALIB_TIMER_GAP_MAX_US * 1000);
		assert_int_equal(p->timer_irq_ns, hs_calib_find(r, "timer_irq_gap")->p50);
		/* the three figures come from the same rounds */
		assert_int_equal(first->samples, hs_calib_find(r, "timer_irq_gap")->samples);
		assert_int_equal(later->samples, first->samples);
		assert_int_equal(p->timer_program_ns,
				 first->p50 > later->p50 ? first->p50 - later->p50 : 0);
	} else {
		assert_int_equal(p->timer_irq_ns, 0);
	}
	/* CPU A's timer interrupts were counted (the tick alone gives some) or
	 * could not be read.  Each cycle contains its share of the rearming
	 * that follows them. */
	assert_true(r->sleep_cycle_irqs == -1 || r->sleep_cycle_irqs > 0);
	if (r->sleep_cycle_irqs > 0)
		irq -= p->timer_program_ns * r->sleep_cycle_irqs / r->sleep_cycle_cycles;
	assert_int_equal(p->sleep_return_ns, irq > 0 ? irq : 0);
	assert_int_equal(p->yield_kind, HS_YIELD_LINUX);
	assert_true(p->context_switch_ns >= 0);
	assert_true(p->sleep_slack_ns >= 0);
	assert_true(p->sleep_min_ns >= 1);
	assert_true(p->sleep_slack_ratio >= 0.0 && p->sleep_slack_ratio <= 1.0);
}

/* Every ring was measured, and switch_cold has one point per ring after
 * 1:0ns, each the difference of medians or the point before if higher. */
static void calibrate_measures_rings(void **state)
{
	static const int ring_threads[] = { 2, 3, 4, 8, 32, 128, 256, 512 };
	const struct hs_calib_report *r = &run->report;
	const struct hs_os_profile *p = &r->profile;
	int64_t base = hs_calib_find(r, "futex_ring_2")->p50;
	char name[32];

	assert_int_equal(p->nswitch_cold, 8);
	assert_int_equal(p->switch_cold[0].threads, 1);
	assert_int_equal(p->switch_cold[0].ns, 0);
	for (int i = 0; i < 8; i++) {
		const struct hs_calib_figure *f;
		int64_t diff, before;

		snprintf(name, sizeof(name), "futex_ring_%d", ring_threads[i]);
		f = hs_calib_find(r, name);
		assert_non_null(f);
		if (f->samples < 10)
			fail_msg("%s has %d samples", name, f->samples);
		assert_true(f->p10 > 0);
		if (i == 0)
			continue;
		diff = f->p50 - base > 0 ? f->p50 - base : 0;
		before = p->switch_cold[i - 1].ns;

		assert_int_equal(p->switch_cold[i].threads, ring_threads[i] - 1);
		assert_int_equal(p->switch_cold[i].ns, diff > before ? diff : before);
	}
	/* Every ring thread switched to SCHED_BATCH, and every ring counted
	 * its hops and waits. */
	assert_int_equal(r->ring_not_batch, 0);
	for (int i = 0; i < 8; i++) {
		if (r->ring_hops[i] <= 0)
			fail_msg("futex_ring_%d counted no hops", ring_threads[i]);
		assert_true(r->ring_waits[i] > 0);
	}
}

/* The rings alone, from a caller under SCHED_OTHER: each ring thread
 * switches itself to SCHED_BATCH, so the ring of 2 enters a wait at
 * nearly every hop.  Without the switch its woken thread preempts the
 * waker, which then finds its token back and skips its wait in a third
 * or more of the hops (0.59 waits per hop on Linux 6.18).  The test
 * requires 0.8 waits per hop, between the two, because a busy or
 * sanitized run under SCHED_BATCH came out at 0.950, just under the
 * profile's warning threshold HS_CALIB_RING_MIN_WAITS. */
#define BATCH_RING_MIN_WAITS 0.8
static void ring_of_two_waits_under_batch(void **state)
{
	struct hs_calib_opts opts = { .scale = TINY_SCALE, .passes = 1 };
	struct sched_param zero = { .sched_priority = 0 };
	struct hs_calib_report *r = calloc(1, sizeof(*r));
	struct hs_error err = { 0 };
	struct sched_param before;
	int policy;

	assert_non_null(r);
	pthread_getschedparam(pthread_self(), &policy, &before);
	r->cpu_a = 0;
	r->cpu_b = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : -1;
	assert_int_equal(pthread_setschedparam(pthread_self(), SCHED_OTHER, &zero), 0);
	assert_int_equal(hs_calib_measure_rings(&opts, r, &err), 0);
	pthread_setschedparam(pthread_self(), policy, &before);

	assert_int_equal(r->ring_not_batch, 0);
	assert_non_null(hs_calib_find(r, "futex_ring_2"));
	assert_true(r->ring_hops[0] > 0);
	if ((double)r->ring_waits[0] < BATCH_RING_MIN_WAITS * (double)r->ring_hops[0])
		fail_msg("the ring of 2 entered %" PRId64 " waits in %" PRId64 " hops",
			 r->ring_waits[0], r->ring_hops[0]);
	free(r);
}

static void calibrate_progress_reported(void **state)
{
	const struct progress_log *log = &run->progress;
	const struct hs_calib_report *r = &run->report;
	int fig = 0;

	assert_true(log->n > 0);
	for (int i = 0; i < log->n; i++) {
		const struct progress_call *c = &log->calls[i];

		assert_true(c->done >= 0);
		assert_true(c->done <= c->total);
		if (i > 0 && strcmp(c->figure, log->calls[i - 1].figure) == 0)
			assert_true(c->done >= log->calls[i - 1].done);
		if (c->done != c->total || strcmp(c->figure, "tick") == 0)
			continue;
		/* a figure's last call: the next measured figure, in order */
		while (fig < r->nfigures && r->figures[fig].samples == 0)
			fig++;
		assert_true(fig < r->nfigures);
		assert_string_equal(c->figure, r->figures[fig].name);
		assert_int_equal(c->done, r->figures[fig].samples);
		fig++;
	}
	while (fig < r->nfigures && r->figures[fig].samples == 0)
		fig++;
	assert_int_equal(fig, r->nfigures);
}

/* Three passes, the second on a slower host: every percentile is the
 * middle pass's, samples and rejections add up, a figure one pass could
 * not measure takes the others' values, and the host facts stay. */
static void merge_keeps_the_median_pass(void **state)
{
	static struct hs_calib_report a, b, c, out;
	struct hs_calib_report *const pass[] = { &a, &b, &c };

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&out, 0, sizeof(out));
	out.ncpus = 2;
	out.tick_ns = 4000000;
	put_figure(&a, "yield_peer", 900, 950, 1000, 1100, 100);
	put_figure(&b, "yield_peer", 1700, 1800, 1900, 2500, 100);
	put_figure(&c, "yield_peer", 880, 940, 990, 1200, 90);
	put_figure(&a, "futex_wake_remote", 0, 0, 0, 0, 0);
	put_figure(&b, "futex_wake_remote", 3000, 3500, 4000, 5000, 20);
	put_figure(&c, "futex_wake_remote", 3100, 3700, 4100, 4800, 20);
	put_figure(&a, "cas_handoff", 0, 0, 0, 0, 0);
	put_figure(&b, "cas_handoff", 0, 0, 0, 0, 0);
	put_figure(&c, "cas_handoff", 0, 0, 0, 0, 0);
	a.yield_peer_rejected = 1;
	b.yield_peer_rejected = 5;
	a.ring_hops[1] = 1000;
	a.ring_waits[1] = 999;
	c.ring_hops[1] = 2000;
	c.ring_waits[1] = 2000;
	c.ring_not_batch = 3;
	c.ring_batch_errno = EPERM;
	a.sleep_cycle_cycles = 10;
	b.sleep_cycle_cycles = 20;
	c.sleep_cycle_cycles = 30;
	a.sleep_cycle_irqs = 4;
	b.sleep_cycle_irqs = 5;
	c.sleep_cycle_irqs = 6;
	a.sleep_cycle_busy = b.sleep_cycle_busy = c.sleep_cycle_busy = true;
	b.irq_wake_no_fifo = true;

	hs_calib_merge_passes(&out, pass, 3);
	assert_int_equal(out.nfigures, 3);
	assert_string_equal(out.figures[0].name, "yield_peer");
	assert_int_equal(out.figures[0].samples, 290);
	assert_int_equal(out.figures[0].p10, 900);
	assert_int_equal(out.figures[0].p50, 950);
	assert_int_equal(out.figures[0].p90, 1000);
	assert_int_equal(out.figures[0].p99, 1200);
	/* Two passes measured it, so each percentile is the lower one. */
	assert_int_equal(out.figures[1].samples, 40);
	assert_int_equal(out.figures[1].p50, 3500);
	assert_int_equal(out.figures[1].p99, 4800);
	assert_int_equal(out.figures[2].samples, 0);
	assert_int_equal(out.figures[2].p50, 0);
	assert_int_equal(out.yield_peer_rejected, 6);
	assert_int_equal(out.ring_hops[1], 3000);
	assert_int_equal(out.ring_waits[1], 2999);
	assert_int_equal(out.ring_hops[0], 0);
	assert_int_equal(out.ring_not_batch, 3);
	assert_int_equal(out.ring_batch_errno, EPERM);
	assert_int_equal(out.sleep_cycle_cycles, 60);
	assert_int_equal(out.sleep_cycle_irqs, 15);
	assert_true(out.sleep_cycle_busy);
	assert_true(out.irq_wake_no_fifo);
	assert_int_equal(out.ncpus, 2);
	assert_int_equal(out.tick_ns, 4000000);

	/* Merged again into the same report, with one pass that could not
	 * read /proc/interrupts and one with an idle CPU.  The counters start
	 * from zero, not from the first merge's sums. */
	b.sleep_cycle_irqs = -1;
	c.sleep_cycle_busy = false;
	hs_calib_merge_passes(&out, pass, 3);
	assert_int_equal(out.sleep_cycle_irqs, -1);
	assert_false(out.sleep_cycle_busy);
	assert_int_equal(out.yield_peer_rejected, 6);
	assert_int_equal(out.ring_hops[1], 3000);
	assert_int_equal(out.sleep_cycle_cycles, 60);
	assert_int_equal(out.figures[0].samples, 290);
}

/* A real calibration in two passes: each figure's samples are the sum of
 * its two passes, the progress names each pass, and pass 1 ends before
 * pass 2 begins. */
static void calibrate_in_two_passes(void **state)
{
	static struct hs_calib_report r;
	static struct progress_log log;
	struct hs_calib_opts opts = { 0 };
	struct hs_error err;
	int last_pass1 = -1, first_pass2 = -1;

	memset(&log, 0, sizeof(log));
	opts.scale = TINY_SCALE;
	opts.passes = 2;
	opts.progress = record_progress;
	opts.ctx = &log;
	assert_int_equal(hs_calibrate(&opts, &r, &err), 0);
	assert_int_equal(r.passes, 2);
	assert_non_null(strstr(r.notes[0], "measured in 2 passes"));
	for (int i = 0; i < log.n; i++) {
		const char *fig = log.calls[i].figure;
		const char *tag = strstr(fig, " (pass ");

		if (strcmp(fig, "tick") == 0) /* read once, before the passes */
			continue;
		assert_non_null(tag);
		assert_true(strcmp(tag, " (pass 1 of 2)") == 0 || strcmp(tag, " (pass 2 of 2)") == 0);
		if (tag[7] == '1')
			last_pass1 = i;
		else if (first_pass2 < 0)
			first_pass2 = i;
	}
	assert_true(last_pass1 >= 0 && first_pass2 > last_pass1);
	for (int i = 0; i < r.nfigures; i++) {
		const struct hs_calib_figure *f = &r.figures[i];
		int sum = 0;

		if (f->samples == 0)
			continue;
		for (int k = 1; k <= 2; k++) {
			char name[96];
			int last = -1;

			snprintf(name, sizeof(name), "%s (pass %d of 2)", f->name, k);
			for (int j = 0; j < log.n; j++)
				if (strcmp(log.calls[j].figure, name) == 0 &&
				    log.calls[j].done == log.calls[j].total)
					last = log.calls[j].done;
			if (last > 0)
				sum += last;
		}
		assert_int_equal(f->samples, sum);
		assert_true(f->samples >= (few_samples(f->name) ? 1 : 10));
		assert_true(f->p10 <= f->p50 && f->p50 <= f->p90 && f->p90 <= f->p99);
	}
}

static void calibrate_invalid_passes(void **state)
{
	static struct hs_calib_report r;
	const int bad[] = { -1, HS_CALIB_MAX_PASSES + 1 };
	struct hs_error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hs_calib_opts opts = { .scale = TINY_SCALE, .passes = bad[i] };

		memset(&err, 0, sizeof(err));
		assert_int_equal(hs_calibrate(&opts, &r, &err), HS_E_USAGE);
		assert_string_equal(err.key, "passes");
		assert_non_null(strstr(err.msg, "1 to 9"));
	}
}

static void calibrate_invalid_scale(void **state)
{
	static struct hs_calib_report r;
	const double bad[] = { -1.0, 101.0, NAN };
	struct hs_error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hs_calib_opts opts = { .scale = bad[i] };

		memset(&err, 0, sizeof(err));
		assert_int_equal(hs_calibrate(&opts, &r, &err), HS_E_USAGE);
		assert_int_equal(err.code, HS_E_USAGE);
		assert_string_equal(err.key, "scale");
		assert_non_null(strstr(err.msg, "(0, 100]"));
	}
}

/* Restricts this thread to one CPU, so the cross-CPU figures are skipped
 * and their keys fall back. */
static void calibrate_one_cpu(void **state)
{
	static struct hs_calib_report r;
	struct hs_calib_opts opts = { .scale = TINY_SCALE };
	cpu_set_t before, one, after;
	struct hs_error err;
	int cpu = -1, rc;

	sched_getaffinity(0, sizeof(before), &before);
	for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
		if (CPU_ISSET(i, &before))
			cpu = i;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	rc = hs_calibrate(&opts, &r, &err);
	sched_getaffinity(0, sizeof(after), &after);
	sched_setaffinity(0, sizeof(before), &before);

	assert_int_equal(rc, 0);
	assert_int_equal(r.passes, 1); /* the default below scale 2/3 */
	assert_true(CPU_EQUAL(&after, &one));
	assert_int_equal(r.ncpus, 1);
	assert_int_equal(r.cpu_a, cpu);
	assert_int_equal(r.cpu_b, -1);
	assert_int_equal(hs_calib_find(&r, "futex_wake_remote")->samples, 0);
	assert_int_equal(hs_calib_find(&r, "futex_wake_send_remote")->samples, 0);
	assert_true(hs_calib_find(&r, "futex_wake_send_local")->samples >= 10);
	assert_int_equal(hs_calib_find(&r, "cas_handoff")->samples, 0);
	assert_int_equal(hs_calib_find(&r, "load_remote")->samples, 0);
	assert_true(hs_calib_find(&r, "load_local")->samples >= 10);
	assert_true(hs_calib_find(&r, "sleep_cycle")->samples >= 10); /* same-CPU figure */
	assert_true(hs_calib_find(&r, "futex_ring_2")->samples >= 10);
	assert_true(hs_calib_find(&r, "futex_ring_512")->samples >= 10);
	assert_int_equal(r.profile.nswitch_cold, 8);
	assert_int_equal(r.profile.wake_remote_ns, hs_calib_find(&r, "futex_wake_local")->p50);
	assert_int_equal(r.profile.wake_send_remote_ns, r.profile.wake_send_local_ns);
	assert_int_equal(r.profile.atomic_remote_ns, r.profile.atomic_local_ns);
	assert_int_equal(r.profile.load_remote_ns, hs_calib_find(&r, "load_local")->p50);
}

/* ---- tests: the profile file ---- */

static int64_t profile_duration(const struct hs_os_profile *p, const char *key)
{
	static const struct { const char *key; size_t offset; } fields[] = {
		{ "slice", offsetof(struct hs_os_profile, slice_ns) },
		{ "tick", offsetof(struct hs_os_profile, tick_ns) },
		{ "context_switch", offsetof(struct hs_os_profile, context_switch_ns) },
		{ "syscall", offsetof(struct hs_os_profile, syscall_ns) },
		{ "signal_syscall", offsetof(struct hs_os_profile, signal_syscall_ns) },
		{ "clock_read", offsetof(struct hs_os_profile, clock_read_ns) },
		{ "atomic_local", offsetof(struct hs_os_profile, atomic_local_ns) },
		{ "atomic_remote", offsetof(struct hs_os_profile, atomic_remote_ns) },
		{ "load_remote", offsetof(struct hs_os_profile, load_remote_ns) },
		{ "sleep_slack", offsetof(struct hs_os_profile, sleep_slack_ns) },
		{ "sleep_min", offsetof(struct hs_os_profile, sleep_min_ns) },
		{ "sleep_round", offsetof(struct hs_os_profile, sleep_round_ns) },
		{ "sleep_coarse_above", offsetof(struct hs_os_profile, sleep_coarse_above_ns) },
		{ "sleep_poll_below", offsetof(struct hs_os_profile, sleep_poll_below_ns) },
		{ "timer_jitter", offsetof(struct hs_os_profile, timer_jitter_ns) },
		{ "wake_local", offsetof(struct hs_os_profile, wake_local_ns) },
		{ "wake_remote", offsetof(struct hs_os_profile, wake_remote_ns) },
		{ "wake_send_local", offsetof(struct hs_os_profile, wake_send_local_ns) },
		{ "wake_send_remote", offsetof(struct hs_os_profile, wake_send_remote_ns) },
		{ "timer_wake", offsetof(struct hs_os_profile, timer_wake_ns) },
		{ "timer_irq", offsetof(struct hs_os_profile, timer_irq_ns) },
		{ "irq_wake", offsetof(struct hs_os_profile, irq_wake_ns) },
		{ "timer_program", offsetof(struct hs_os_profile, timer_program_ns) },
		{ "sleep_return", offsetof(struct hs_os_profile, sleep_return_ns) },
		{ "thread_create", offsetof(struct hs_os_profile, thread_create_ns) },
		{ "thread_start", offsetof(struct hs_os_profile, thread_start_ns) },
		{ "thread_exit", offsetof(struct hs_os_profile, thread_exit_ns) },
		{ "mmap", offsetof(struct hs_os_profile, mmap_ns) },
		{ "mmap_fault", offsetof(struct hs_os_profile, mmap_fault_ns) },
		{ "newidle_cost", offsetof(struct hs_os_profile, newidle_cost_ns) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].key, key) == 0)
			return *(const int64_t *)(const void *)((const char *)p + fields[i].offset);
	fail_msg("no duration field for %s", key);
	return -1;
}

/* The switch_cold curve of p as the profile writes it. */
static void cold_text(const struct hs_os_profile *p, char *buf, size_t size)
{
	size_t n = 0;

	snprintf(buf, size, "none");
	for (int i = 0; i < p->nswitch_cold && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%d:%lldns", i ? " " : "",
				      (int)p->switch_cold[i].threads, (long long)p->switch_cold[i].ns);
}

/* Checks the file line by line as an INI reader would see it. */
static void check_profile_file(const char *path, const struct hs_os_profile *p)
{
	static char lines[2000][512];
	int seen[NKEYS] = { 0 };
	int sections = 0;
	regex_t duration;
	int n = read_lines(path, lines, 2000);

	assert_int_equal(regcomp(&duration, "^[0-9]+(\\.[0-9]+)?(ns|us|ms|s)$", REG_EXTENDED), 0);
	for (int i = 0; i < n; i++) {
		char copy[512], *key, *value;
		int k;

		if (strlen(lines[i]) > 100)
			fail_msg("line %d is %zu bytes long", i + 1, strlen(lines[i]));
		if (lines[i][0] == '[') {
			assert_string_equal(lines[i], "[os]");
			sections++;
			continue;
		}
		memcpy(copy, lines[i], sizeof(copy));
		if (!split_key(copy, &key, &value)) {
			/* anything else is a blank line or a full-line comment */
			assert_true(lines[i][0] == '\0' || lines[i][0] == '#');
			continue;
		}
		k = key_position(key);
		if (k < 0)
			fail_msg("unknown key '%s' on line %d", key, i + 1);
		assert_int_equal(sections, 1); /* under [os] */
		seen[k]++;
		if (i == 0 || lines[i - 1][0] != '#')
			fail_msg("key %s on line %d has no comment above it", key, i + 1);

		if (is_duration_key(key)) {
			if (regexec(&duration, value, 0, NULL, 0) != 0)
				fail_msg("%s = '%s' is not a duration with a unit", key, value);
			assert_int_equal(strtoll(value, NULL, 10), profile_duration(p, key));
		} else if (strcmp(key, "sleep_slack_ratio") == 0) {
			char *end;
			double ratio = strtod(value, &end);

			assert_true(*end == '\0' && strchr(value, '.') != NULL);
			assert_true(ratio >= 0.0 && ratio <= 1.0);
		} else if (strcmp(key, "switch_cold") == 0) {
			char want[256];

			cold_text(p, want, sizeof(want));
			assert_string_equal(value, want);
		} else if (spread_of(key) >= 0) {
			char want[64];

			hs_spread_format(&p->spread[spread_of(key)], want, sizeof(want));
			assert_string_equal(value, want);
		} else if (strcmp(key, "yield") == 0) {
			assert_string_equal(value, "linux");
		} else if (strcmp(key, "yield_hold_ticks") == 0) {
			assert_string_equal(value, "0");
		} else if (strcmp(key, "newidle") == 0) {
			assert_string_equal(value, p->newidle == HS_NEWIDLE_PROPORTIONAL ? "proportional"
											 : "always");
		} else if (strcmp(key, "preempt") == 0) {
			assert_string_equal(value, p->preempt == HS_PREEMPT_NONE	  ? "none"
						   : p->preempt == HS_PREEMPT_VOLUNTARY ? "voluntary"
											: "full");
		} else {
			assert_string_equal(value, "host");
		}
	}
	regfree(&duration);
	assert_int_equal(sections, 1);
	for (int k = 0; k < NKEYS; k++) {
		if (seen[k] != 1)
			fail_msg("key %s appears %d times", os_keys[k], seen[k]);
		assert_int_equal(seen[k], 1);
	}
}

/* Loads path with the OS profile loader of `--os FILE` and checks that
 * the curve and the durations come back as written. */
static void check_profile_loads(const char *path, const struct hs_os_profile *p)
{
	static struct hs_os_profile loaded;
	struct hs_error err;
	char buf[512];

	memset(&err, 0, sizeof(err));
	if (hs_os_profile_load(&loaded, path, &err) != 0) {
		hs_error_format(&err, buf, sizeof(buf));
		fail_msg("loading %s: %s", path, buf);
	}
	assert_int_equal(loaded.nswitch_cold, p->nswitch_cold);
	for (int i = 0; i < p->nswitch_cold; i++) {
		assert_int_equal(loaded.switch_cold[i].threads, p->switch_cold[i].threads);
		assert_int_equal(loaded.switch_cold[i].ns, p->switch_cold[i].ns);
	}
	assert_int_equal(loaded.timer_irq_ns, p->timer_irq_ns);
	assert_int_equal(loaded.wake_local_ns, p->wake_local_ns);
	assert_int_equal(loaded.newidle, p->newidle);
	for (int k = 0; k < HS_NCOSTS; k++) {
		char want[64], got[64];

		hs_spread_format(&p->spread[k], want, sizeof(want));
		hs_spread_format(&loaded.spread[k], got, sizeof(got));
		assert_string_equal(got, want);
	}
}

static void write_profile_real_report(void **state)
{
	char path[256];
	struct hs_error err;

	snprintf(path, sizeof(path), "%s/host.ini", tmpdir);
	assert_int_equal(hs_calibrate_write_profile(&run->report, path, &err), 0);
	check_profile_file(path, &run->report.profile);
	check_profile_loads(path, &run->report.profile);
	assert_int_equal(count_dir_entries(tmpdir), 1); /* no host.ini.tmp left */
	remove(path);
}

struct parsed_profile {
	int count[NKEYS];
	char values[NKEYS][128];
	int other_sections, unknown_keys;
};

static int collect_key(void *user, const char *section, const char *name, const char *value)
{
	struct parsed_profile *pp = user;
	int k = key_position(name);

	if (strcmp(section, "os") != 0)
		pp->other_sections++;
	if (k < 0) {
		pp->unknown_keys++;
		return 1;
	}
	pp->count[k]++;
	snprintf(pp->values[k], sizeof(pp->values[k]), "%s", value);
	return 1;
}

/* inih, the INI reader the profile loader uses, sees every key once in
 * [os] with the value written, and no stray key from the comments. */
static void write_profile_parses_with_inih(void **state)
{
	static struct hs_calib_report r;
	static struct parsed_profile pp;
	char path[256], expected[64];
	struct hs_error err;

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	snprintf(path, sizeof(path), "%s/inih.ini", tmpdir);
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), 0);

	memset(&pp, 0, sizeof(pp));
	assert_int_equal(ini_parse(path, collect_key, &pp), 0);
	assert_int_equal(pp.other_sections, 0);
	assert_int_equal(pp.unknown_keys, 0);
	for (int k = 0; k < NKEYS; k++) {
		if (pp.count[k] != 1)
			fail_msg("inih saw key %s %d times", os_keys[k], pp.count[k]);
		assert_int_equal(pp.count[k], 1);
		if (!is_duration_key(os_keys[k]))
			continue;
		snprintf(expected, sizeof(expected), "%lldns",
			 (long long)profile_duration(&r.profile, os_keys[k]));
		assert_string_equal(pp.values[k], expected);
	}
	assert_string_equal(pp.values[key_position("name")], "host");
	assert_string_equal(pp.values[key_position("yield")], "linux");
	assert_string_equal(pp.values[key_position("yield_hold_ticks")], "0");
	assert_string_equal(pp.values[key_position("newidle")], "always"); /* 6.8.0 */
	assert_string_equal(pp.values[key_position("sleep_slack_ratio")], "0.0056");
	assert_string_equal(pp.values[key_position("wake_remote")], "12000ns");
	remove(path);
}

/* A curve derived from hand ring figures is written on one line that
 * inih and the profile loader read back. */
static void write_profile_switch_cold(void **state)
{
	static struct hs_calib_report r;
	static struct parsed_profile pp;
	char path[256];
	struct hs_error err;

	fill_hand_report(&r, true);
	put_ring_figures(&r, false);
	snprintf(r.release, sizeof(r.release), "6.19.2");
	hs_calib_derive(&r);
	assert_int_equal(r.profile.newidle, HS_NEWIDLE_PROPORTIONAL);
	snprintf(path, sizeof(path), "%s/cold.ini", tmpdir);
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), 0);
	check_profile_file(path, &r.profile);

	memset(&pp, 0, sizeof(pp));
	assert_int_equal(ini_parse(path, collect_key, &pp), 0);
	assert_string_equal(pp.values[key_position("switch_cold")],
			    "1:0ns 2:0ns 3:1000ns 7:1000ns 31:1500ns 127:1500ns 255:3000ns 511:4000ns");
	check_profile_loads(path, &r.profile);
	remove(path);
}

static void write_profile_hand_report(void **state)
{
	static struct hs_calib_report r;
	static char lines[2000][512];
	char path[256];
	struct hs_error err;
	bool switch_line = false, ratio_line = false;
	int n;

	fill_hand_report(&r, false);
	hs_calib_derive(&r);
	snprintf(path, sizeof(path), "%s/hand.ini", tmpdir);
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), 0);
	check_profile_file(path, &r.profile);

	n = read_lines(path, lines, 2000);
	for (int i = 0; i < n; i++) {
		if (strcmp(lines[i], "context_switch = 1000ns") == 0)
			switch_line = true;
		if (strcmp(lines[i], "sleep_slack_ratio = 0.0056") == 0)
			ratio_line = true;
	}
	assert_true(switch_line);
	assert_true(ratio_line);
	remove(path);
}

static void write_profile_replaces_whole_file(void **state)
{
	static struct hs_calib_report r;
	char path[256], line[512];
	struct hs_error err;
	FILE *f;
	bool stale = false;

	snprintf(path, sizeof(path), "%s/old.ini", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 5000; i++)
		fprintf(f, "stale_key_%d = 1\n", i);
	fclose(f);

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "stale_key_"))
			stale = true;
	fclose(f);
	assert_false(stale);
	check_profile_file(path, &r.profile);
	assert_int_equal(count_dir_entries(tmpdir), 1);
	remove(path);
}

static void write_profile_missing_directory(void **state)
{
	static struct hs_calib_report r;
	char dir[256], path[300], tmp[310];
	struct hs_error err;

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	snprintf(dir, sizeof(dir), "%s/no-such-dir", tmpdir);
	snprintf(path, sizeof(path), "%s/host.ini", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	memset(&err, 0, sizeof(err));
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), HS_E_IO);
	assert_int_equal(err.code, HS_E_IO);
	assert_string_equal(err.file, path);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	assert_false(exists(path));
	assert_false(exists(tmp));
	assert_false(exists(dir));
}

/* rename() onto a directory fails after PATH.tmp is complete: the
 * temporary file must go and the directory must stay. */
static void write_profile_onto_directory(void **state)
{
	static struct hs_calib_report r;
	char path[256], tmp[270];
	struct hs_error err;
	struct stat st;

	fill_hand_report(&r, true);
	hs_calib_derive(&r);
	snprintf(path, sizeof(path), "%s/a-directory", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(mkdir(path, 0700), 0);

	memset(&err, 0, sizeof(err));
	assert_int_equal(hs_calibrate_write_profile(&r, path, &err), HS_E_IO);
	assert_string_equal(err.file, path);
	assert_false(exists(tmp));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(summarize_nearest_rank),
		cmocka_unit_test(summarize_small_and_empty),
		cmocka_unit_test(derive_two_cpus),
		cmocka_unit_test(derive_one_cpu_falls_back),
		cmocka_unit_test(derive_newidle_from_release),
		cmocka_unit_test(derive_mmap_fault_from_figure),
		cmocka_unit_test(derive_newidle_cost_from_figure),
		cmocka_unit_test(preempt_model_from_each_source),
		cmocka_unit_test(derive_wake_send),
		cmocka_unit_test(derive_wake_send_one_cpu),
		cmocka_unit_test(derive_wake_local_floor),
		cmocka_unit_test(derive_cost_spreads),
		cmocka_unit_test(derive_cost_spread_clamps),
		cmocka_unit_test(derive_thread_start),
		cmocka_unit_test(derive_burst_and_signal_figures),
		cmocka_unit_test(derive_clamps_negative_differences),
		cmocka_unit_test(derive_without_figures_writes_zero),
		cmocka_unit_test(derive_timer_irq_from_sleep_cycle),
		cmocka_unit_test(derive_sleep_return_from_occupancy),
		cmocka_unit_test(derive_sleep_return_from_gap),
		cmocka_unit_test(derive_sleep_return_subtracts_the_wake),
		cmocka_unit_test(derive_timer_program),
		cmocka_unit_test(derive_irq_wake_from_the_slope),
		cmocka_unit_test(derive_irq_wake_fallback_reasons),
		cmocka_unit_test(derive_warns_of_wide_figures),
		cmocka_unit_test(derive_timer_irq_negative_is_zero),
		cmocka_unit_test(derive_sleep_return_warns_idle_cpu),
		cmocka_unit_test(derive_timer_irq_missing_is_zero),
		cmocka_unit_test(derive_timer_irq_without_usleep),
		cmocka_unit_test(derive_switch_cold_from_rings),
		cmocka_unit_test(derive_switch_cold_warns_not_batch),
		cmocka_unit_test(ring_of_two_waits_under_batch),
		cmocka_unit_test(derive_switch_cold_skips_missing),
		cmocka_unit_test(derive_switch_cold_not_measured),
		cmocka_unit_test(derive_timer_irq_subtracts_cold),
		cmocka_unit_test(derive_timer_irq_interpolates_cold),
		cmocka_unit_test(calibrate_invalid_scale),
		cmocka_unit_test(calibrate_invalid_passes),
		cmocka_unit_test(merge_keeps_the_median_pass),
		cmocka_unit_test(calibrate_in_two_passes),
	};
	const struct CMUnitTest measured[] = {
		cmocka_unit_test(calibrate_succeeds),
		cmocka_unit_test(calibrate_has_every_figure),
		cmocka_unit_test(calibrate_percentiles_ordered),
		cmocka_unit_test(calibrate_sleeps_last_request),
		cmocka_unit_test(calibrate_sleep_cycle_busy),
		cmocka_unit_test(calibrate_restores_caller),
		cmocka_unit_test(calibrate_irq_sleepers_not_fifo),
		cmocka_unit_test(calibrate_reports_host),
		cmocka_unit_test(calibrate_profile_from_medians),
		cmocka_unit_test(calibrate_measures_rings),
		cmocka_unit_test(calibrate_progress_reported),
		cmocka_unit_test(calibrate_one_cpu),
	};
	const struct CMUnitTest files[] = {
		cmocka_unit_test(write_profile_real_report),
		cmocka_unit_test(write_profile_hand_report),
		cmocka_unit_test(write_profile_parses_with_inih),
		cmocka_unit_test(write_profile_switch_cold),
		cmocka_unit_test(write_profile_replaces_whole_file),
		cmocka_unit_test(write_profile_missing_directory),
		cmocka_unit_test(write_profile_onto_directory),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("calibrate_pure", pure, NULL, NULL);
	if (setup_run(NULL) != 0)
		return 1;
	failed += cmocka_run_group_tests_name("calibrate_measured", measured, NULL, NULL);
	failed += cmocka_run_group_tests_name("calibrate_files", files, setup_tmpdir,
					      teardown_tmpdir);
	teardown_run(NULL);
	return failed ? 1 : 0;
}
