/*
 * Tests of the configuration layer: value syntax, the shipped profiles and
 * scenarios, strict error reporting (file, line, key) on real temporary
 * files, --set overrides and the parameter listing.
 *
 * Duration syntax decisions checked here: "5" (no unit) is rejected and
 * only a bare "0" is allowed; "-3us" is rejected as negative; "1.5us" is
 * 1500 ns; "2 s" (a space before the unit) is rejected; ".5us" and "1.us"
 * are rejected because a decimal needs digits on both sides of the point.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "embedded.h"
#include "helpers.h"
#include "registry.h"

/* Writes text to a new temporary .ini file; path receives its name. */
static void write_temp(char *path, size_t size, const char *text)
{
	snprintf(path, size, "/tmp/herdsim-test-config-XXXXXX.ini");
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

struct duration_case {
	const char *text;
	int ok;
	int64_t ns;
};

static const struct duration_case duration_cases[] = {
	{ "0", 1, 0 },
	{ "0ns", 1, 0 },
	{ "1ns", 1, 1 },
	{ "50us", 1, 50000 },
	{ "1.5us", 1, 1500 },
	{ "2ms", 1, 2000000 },
	{ "1s", 1, 1000000000 },
	{ "0.25s", 1, 250000000 },
	{ "1.0005us", 1, 1001 },      /* 1000.5 ns rounds half up */
	{ "1.0004us", 1, 1000 },
	{ "0.4ns", 1, 0 },
	{ "15625us", 1, 15625000 },
	{ "9223372036s", 1, INT64_C(9223372036000000000) },
	{ "9223372037s", 0, 0 },      /* overflow */
	{ "99999999999999999999ns", 0, 0 },
	{ "5", 0, 0 },                /* no unit */
	{ "1.5", 0, 0 },
	{ "-3us", 0, 0 },             /* negative */
	{ "-0", 0, 0 },
	{ "2 s", 0, 0 },              /* space before unit */
	{ "", 0, 0 },
	{ "us", 0, 0 },
	{ ".5us", 0, 0 },
	{ "1.us", 0, 0 },
	{ "1e3us", 0, 0 },
	{ "+1us", 0, 0 },
	{ "5sec", 0, 0 },
	{ "5US", 0, 0 },
	{ "1.2.3us", 0, 0 },
};

static void duration_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
		const struct duration_case *c = &duration_cases[i];
		struct hs_error err;
		int64_t ns = -1;
		int rc = hs_parse_duration(c->text, &ns, &err);

		if (c->ok) {
			if (rc != 0)
				fail_msg("'%s' rejected: %s", c->text, err.msg);
			assert_int_equal(ns, c->ns);
		} else {
			if (rc != HS_E_INPUT)
				fail_msg("'%s' accepted as %lld", c->text, (long long)ns);
			assert_true(err.msg[0] != '\0');
		}
	}
}

static void duration_messages_give_fix(void **state)
{
	struct hs_error err;
	int64_t ns;

	(void)state;
	assert_int_equal(hs_parse_duration("5", &ns, &err), HS_E_INPUT);
	assert_non_null(strstr(err.msg, "e.g. 5ns or 5us"));
	assert_int_equal(hs_parse_duration("-3us", &ns, &err), HS_E_INPUT);
	assert_non_null(strstr(err.msg, "negative"));
}

static void shipped_profiles_load(void **state)
{
	const char *const *names = hs_os_profile_names();
	struct hs_error err;
	int n = 0;

	(void)state;
	for (; names[n]; n++) {
		struct hs_os_profile os;

		if (hs_os_profile_load(&os, names[n], &err) != 0)
			fail_msg("%s: %s:%d: %s: %s", names[n], err.file, err.line, err.key, err.msg);
		assert_string_equal(os.name, names[n]);
		assert_true(os.slice_ns > 0);
		assert_true(os.tick_ns > 0);
		assert_string_not_equal(names[n], "go");
	}
	assert_int_equal(n, 4);

	struct hs_os_profile os;
	assert_int_equal(hs_os_profile_load(&os, "linux", &err), 0);
	assert_int_equal(os.yield_kind, HS_YIELD_LINUX);
	assert_int_equal(os.sleep_slack_ns, 50000);
	assert_int_equal(os.tick_ns, 4000000);
	assert_string_equal(os.file, "sim/profiles/linux.ini");

	assert_int_equal(hs_os_profile_load(&os, "freebsd", &err), 0);
	assert_int_equal(os.yield_kind, HS_YIELD_ULE);
	assert_true(os.yield_hold_ticks >= 1);
	assert_true(os.sleep_slack_ratio == 0.0625);
	assert_int_equal(os.sleep_coarse_above_ns, 16000000);

	assert_int_equal(hs_os_profile_load(&os, "darwin", &err), 0);
	assert_int_equal(os.yield_kind, HS_YIELD_SLEEP);

	assert_int_equal(hs_os_profile_load(&os, "windows", &err), 0);
	assert_int_equal(os.yield_kind, HS_YIELD_BOOST);
	assert_int_equal(os.sleep_poll_below_ns, 1000000);

	struct hs_runtime_profile rt;
	assert_int_equal(hs_runtime_profile_load(&rt, "go", &err), 0);
	assert_string_equal(rt.name, "go");
	assert_int_equal(rt.needm_syscalls, 5);
	assert_int_equal(rt.needm_syscalls, 5);
	assert_int_equal(rt.dropm_syscalls, 3);
	assert_int_equal(rt.lock_spin, 4);
	assert_int_equal(rt.lock_passive_spin, 1);
	assert_true(rt.gc_worker_ratio == 0.25);

	/* go is a runtime profile, not an OS profile, and the reverse. */
	assert_int_equal(hs_os_profile_load(&os, "go", &err), HS_E_NOTFOUND);
	assert_int_equal(hs_runtime_profile_load(&rt, "linux", &err), HS_E_NOTFOUND);
}

static void shipped_scenarios_load(void **state)
{
	const char *const *names = hs_scenario_names();
	struct hs_error err;
	struct hs_config cfg;
	int n = 0;

	(void)state;
	for (; names[n]; n++)
		if (hs_config_load(&cfg, names[n], NULL, 0, NULL, &err) != 0)
			fail_msg("%s: %s:%d: %s: %s", names[n], err.file, err.line, err.key, err.msg);
	assert_int_equal(n, 3);

	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, NULL, &err), 0);
	const struct hs_scenario *sc = &cfg.scenario;
	assert_string_equal(sc->name, "cgocallbackgc");
	assert_int_equal(sc->threads, 100);
	assert_int_equal(sc->arrival, HS_ARRIVAL_BURST);
	assert_int_equal(sc->thread_stack_bytes, 256 * 1024);
	assert_int_equal(sc->callbacks, 1);
	assert_int_equal(sc->nsteps, 3);
	assert_int_equal(sc->steps[0].kind, HS_STEP_GC);
	assert_int_equal(sc->steps[1].kind, HS_STEP_GROW);
	assert_int_equal(sc->steps[1].arg, 10000);
	assert_int_equal(sc->steps[2].kind, HS_STEP_GC);
	assert_int_equal(sc->cores, 4);
	assert_int_equal(cfg.runtime.needm_syscalls, 5);
	assert_int_equal(cfg.runtime.gomaxprocs, 0);
	assert_string_equal(cfg.os.name, "linux");

	assert_int_equal(hs_config_load(&cfg, "milter", NULL, 0, NULL, &err), 0);
	assert_int_equal(cfg.scenario.threads, 300);
	assert_int_equal(cfg.scenario.think_kind, HS_THINK_SLEEP);
	assert_int_equal(cfg.scenario.steps[0].arg, 20000);

	assert_int_equal(hs_config_load(&cfg, "cthread-loop", NULL, 0, NULL, &err), 0);
	assert_int_equal(cfg.scenario.callbacks, 100000);
	assert_int_equal(cfg.scenario.steps[0].kind, HS_STEP_WORK);
	assert_int_equal(cfg.scenario.steps[0].arg, 100);
}

static void scenario_defaults_apply(void **state)
{
	char path[64];
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	write_temp(path, sizeof(path), "# nothing but a section\n[scenario]\n");
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), 0);
	const struct hs_scenario *sc = &cfg.scenario;
	assert_int_equal(sc->time_limit_ns, INT64_C(60000000000));
	assert_int_equal(sc->event_limit, 200000000);
	assert_int_equal(sc->seed, 1);
	assert_int_equal(sc->reps, 5);
	assert_string_equal(sc->os, "linux");
	assert_int_equal(sc->cores, 4);
	assert_string_equal(sc->runtime, "go");
	assert_int_equal(sc->threads, 100);
	assert_int_equal(sc->arrival, HS_ARRIVAL_BURST);
	assert_int_equal(sc->interval_ns, 1000000);
	assert_int_equal(sc->callbacks, 1);
	assert_int_equal(sc->think_ns, 0);
	assert_int_equal(sc->think_kind, HS_THINK_CPU);
	assert_int_equal(sc->thread_stack_bytes, 256 * 1024);
	assert_int_equal(sc->nsteps, 0);
	assert_string_equal(sc->policy, "all");
	assert_int_equal(sc->record, HS_RECORD_SUMMARY);
	/* The name defaults to the file name without ".ini". */
	assert_non_null(strstr(path, sc->name));
	assert_null(strstr(sc->name, ".ini"));
	unlink(path);
}

struct error_case {
	const char *text;
	int line;
	const char *key;
	const char *msg_part;
};

static const struct error_case error_cases[] = {
	{ "[workload]\nthreads = 10\nthreadz = 5\n", 3, "workload.threadz", "unknown key" },
	{ "[scenario]\n\n[bogus]\nx = 1\n", 3, "", "unknown section [bogus]" },
	{ "[workload]\nthink = 5\n", 2, "workload.think", "e.g. 5ns or 5us" },
	{ "[workload]\n# c\nthink = -3us\n", 3, "workload.think", "negative" },
	{ "[workload]\nthreads = 0\n", 2, "workload.threads", "out of range" },
	{ "[workload]\nthreads = 12x\n", 2, "workload.threads", "not an integer" },
	{ "[workload]\narrival = sometimes\n", 2, "workload.arrival",
	  "not one of: burst, poisson, periodic, trace" },
	{ "[workload]\nthreads = 1\nthreads = 2\n", 3, "workload.threads", "duplicate key" },
	{ "[workload]\nthread_stack = 256\n", 2, "workload.thread_stack", "256KiB" },
	{ "[workload]\nthread_stack = 1KiB\n", 2, "workload.thread_stack", "out of range" },
	{ "[callback]\nsteps = gc, jump\n", 2, "callback.steps", "not a step" },
	{ "[callback]\nsteps = gc,,gc\n", 2, "callback.steps", "empty step" },
	{ "[callback]\nsteps = grow:0\n", 2, "callback.steps", "out of range" },
	{ "[callback]\nsteps = work:5\n", 2, "callback.steps", "no unit" },
	{ "[runtime]\nprofile = go\nneedm_syscalls = 5000\n", 3, "runtime.needm_syscalls", "out of range" },
	{ "[runtime]\nnot_a_key = 1\n", 2, "runtime.not_a_key", "unknown key" },
	{ "[runtime]\nneedm_syscalls = 1\nneedm_syscalls = 2\n", 3, "runtime.needm_syscalls", "duplicate key" },
	{ "[runtime]\ngc_worker_ratio = 1.5\n", 2, "runtime.gc_worker_ratio", "out of range" },
	{ "[policy]\nname = all\nbatch = many\n", 3, "policy.batch", "not an integer" },
	{ "[workload]\n  threads = 10\n", 2, "workload.threads", "whitespace" },
	{ "[workload]\nthreads = 10\n\tthink = 5us\n", 3, "workload.think", "whitespace" },
	{ "[machine]\nos = linux\n  cores : 8\n", 3, "machine.cores", "whitespace" },
	{ "[machine]\nos = linux\n  cores 8\n", 3, "", "whitespace" },
	{ "[workload]\nthreads\n", 2, "", "key = value" },
	{ "threads = 1\n", 1, "threads", "before any [section]" },
	{ "[workload]\narrival = trace\n", 2, "workload.arrival", "trace file" },
	{ "[workload]\narrival = periodic\ninterval = 0\n", 2, "workload.arrival", "interval > 0" },
	{ "[scenario]\nseed = -1\n", 2, "scenario.seed", "unsigned" },
};

static void errors_name_file_line_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		char path[64];
		struct hs_config cfg;
		struct hs_error err;

		write_temp(path, sizeof(path), c->text);
		int rc = hs_config_load(&cfg, path, NULL, 0, NULL, &err);
		if (rc != HS_E_INPUT)
			fail_msg("case %zu: rc %d, expected an input error", i, rc);
		assert_string_equal(err.file, path);
		if (err.line != c->line)
			fail_msg("case %zu: line %d, expected %d (%s)", i, err.line, c->line, err.msg);
		assert_string_equal(err.key, c->key);
		if (!strstr(err.msg, c->msg_part))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, c->msg_part);
		unlink(path);
	}
}

static void long_line_rejected(void **state)
{
	char text[400], path[64];
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	snprintf(text, sizeof(text), "[scenario]\nseed = 2\ndescription = %0250d\n", 0);
	write_temp(path, sizeof(path), text);
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), HS_E_INPUT);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "longer than"));
	unlink(path);
}

/* Writes n bytes, which may contain NUL, to a new temporary .ini file. */
static void write_temp_bytes(char *path, size_t size, const char *bytes, size_t n)
{
	snprintf(path, size, "/tmp/herdsim-test-config-XXXXXX.ini");
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	close(fd);
}

/* A line of exactly the limit loads, one character more is rejected, and
 * the message gives the limit that the reader enforces. */
static void line_limit_matches_message(void **state)
{
	char text[400], path[64];
	struct hs_config cfg;
	struct hs_error err;
	const int limit = 198; /* inih's 200-byte buffer minus '\n' and NUL */
	const int prefix = (int)strlen("description = ");

	(void)state;
	snprintf(text, sizeof(text), "[scenario]\ndescription = %0*d\n", limit - prefix, 0);
	write_temp(path, sizeof(path), text);
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), 0);
	assert_int_equal((int)strlen(cfg.scenario.description), limit - prefix);
	unlink(path);

	snprintf(text, sizeof(text), "[scenario]\ndescription = %0*d\n", limit - prefix + 1, 0);
	write_temp(path, sizeof(path), text);
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), HS_E_INPUT);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "longer than 198 characters"));
	unlink(path);
}

/* A NUL byte would end the line for inih and drop the rest silently, so
 * "cores = 1<NUL>6" must not load as cores = 1. */
static void nul_byte_rejected(void **state)
{
	static const char text[] = "[machine]\ncores = 1\0" "6\n[workload]\nthreads = 4\n";
	char path[64];
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	write_temp_bytes(path, sizeof(path), text, sizeof(text) - 1);
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), HS_E_INPUT);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "NUL byte"));
	unlink(path);

	static const char lead[] = "\0\0[scenario]\nseed = 3\n";
	write_temp_bytes(path, sizeof(path), lead, sizeof(lead) - 1);
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), HS_E_INPUT);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "NUL byte"));
	unlink(path);
}

static void profile_missing_key(void **state)
{
	char path[64];
	struct hs_os_profile os;
	struct hs_error err;

	(void)state;
	write_temp(path, sizeof(path), "[os]\nname = tiny\nslice = 1ms\n");
	assert_int_equal(hs_os_profile_load(&os, path, &err), HS_E_INPUT);
	assert_string_equal(err.file, path);
	assert_string_equal(err.key, "os.tick");
	assert_non_null(strstr(err.msg, "missing key"));
	unlink(path);
}

/* newidle is optional: a profile without it, such as one calibrated
 * before the key existed, balances at every newly idle moment.  A wrong
 * word names the key and the words it takes. */
static void newidle_defaults_to_always(void **state)
{
	const char *dir = make_temp_dir();
	char os_path[128];
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_os_profile os;
	struct hs_error err;

	(void)state;
	assert_int_equal(hs_os_profile_load(&os, "linux", &err), 0);
	assert_int_equal(os.newidle, HS_NEWIDLE_PROPORTIONAL);

	snprintf(os_path, sizeof(os_path), "%s/old-host.ini", dir);
	write_shipped_without_key(os_path, "sim/profiles/linux.ini", "newidle");
	assert_int_equal(hs_os_profile_load(&os, os_path, &err), 0);
	assert_int_equal(os.newidle, HS_NEWIDLE_ALWAYS);

	assert_int_equal(hs_override_parse(&ov, "os.newidle=proportional", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), 0);
	assert_int_equal(cfg.os.newidle, HS_NEWIDLE_PROPORTIONAL);

	assert_int_equal(hs_override_parse(&ov, "os.newidle=sometimes", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.newidle");
	assert_non_null(strstr(err.msg, "always"));
	assert_non_null(strstr(err.msg, "proportional"));
	unlink(os_path);
	rmdir(dir);
}

/* preempt is optional and full when absent, so older profiles keep
 * preempting kernel code at once.  none and voluntary need yield = linux,
 * and a word outside none, voluntary and full names the key. */
static void preempt_optional_and_linux_only(void **state)
{
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_os_profile os;
	struct hs_error err;

	(void)state;
	/* the shipped linux profile has no preempt key */
	assert_null(strstr(hs_embedded_find("sim/profiles/linux.ini"), "\npreempt"));
	assert_int_equal(hs_os_profile_load(&os, "linux", &err), 0);
	assert_int_equal(os.preempt, HS_PREEMPT_FULL);

	assert_int_equal(hs_override_parse(&ov, "os.preempt=none", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "linux", &err), 0);
	assert_int_equal(cfg.os.preempt, HS_PREEMPT_NONE);
	assert_int_equal(hs_override_parse(&ov, "os.preempt=voluntary", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "linux", &err), 0);
	assert_int_equal(cfg.os.preempt, HS_PREEMPT_VOLUNTARY);

	assert_int_equal(hs_override_parse(&ov, "os.preempt=lazy", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "linux", &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.preempt");

	assert_int_equal(hs_override_parse(&ov, "os.preempt=none", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "freebsd", &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.preempt");
	assert_non_null(strstr(err.msg, "yield = ule"));
	assert_non_null(strstr(err.msg, "drop `--set os.preempt`"));
}

/* newidle_cost is optional and 0 when absent.  It is a duration up to 1 ms,
 * and a value above 0 needs yield = linux, because the skip it models is
 * Linux's.  Each error names the key. */
static void newidle_cost_optional_and_linux_only(void **state)
{
	const char *dir = make_temp_dir();
	char os_path[128];
	struct hs_override ov, three[3];
	struct hs_config cfg;
	struct hs_os_profile os;
	struct hs_error err;

	(void)state;
	snprintf(os_path, sizeof(os_path), "%s/old-host.ini", dir);
	write_shipped_without_key(os_path, "sim/profiles/linux.ini", "newidle_cost");
	assert_int_equal(hs_os_profile_load(&os, os_path, &err), 0);
	assert_int_equal(os.newidle_cost_ns, 0);

	assert_int_equal(hs_override_parse(&ov, "os.newidle_cost=15us", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), 0);
	assert_int_equal(cfg.os.newidle_cost_ns, 15000);

	assert_int_equal(hs_override_parse(&ov, "os.newidle_cost=2ms", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.newidle_cost");

	assert_int_equal(hs_override_parse(&ov, "os.newidle_cost=15us", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "freebsd", &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.newidle_cost");
	assert_non_null(strstr(err.msg, "yield = ule"));
	assert_non_null(strstr(err.msg, "drop `--set os.newidle_cost`"));

	assert_int_equal(hs_override_parse(&three[0], "os.newidle_cost=0", &err), 0);
	assert_int_equal(hs_override_parse(&three[1], "os.yield=ule", &err), 0);
	assert_int_equal(hs_override_parse(&three[2], "os.newidle=always", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", three, 3, "linux", &err), 0);
	unlink(os_path);
	rmdir(dir);
}

/* mmap_fault is optional and 0 when absent.  It is part of mmap, so a
 * value above mmap is rejected, naming the key, its line and the bound. */
static void mmap_fault_optional_and_within_mmap(void **state)
{
	const char *dir = make_temp_dir();
	char os_path[128];
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_os_profile os;
	struct hs_error err;
	FILE *f;

	(void)state;
	snprintf(os_path, sizeof(os_path), "%s/host.ini", dir);
	/* the shipped profiles give no mmap_fault */
	write_shipped_without_key(os_path, "sim/profiles/linux.ini", "newidle_cost");
	assert_int_equal(hs_os_profile_load(&os, os_path, &err), 0);
	assert_int_equal(os.mmap_fault_ns, 0);

	assert_int_equal(hs_override_parse(&ov, "os.mmap_fault=1ns", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), 0);
	assert_int_equal(cfg.os.mmap_fault_ns, 1);

	assert_int_equal(hs_override_parse(&ov, "os.mmap_fault=1s", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.mmap_fault");
	assert_non_null(strstr(err.msg, "give at most mmap"));

	/* in the file: the error names its line */
	f = fopen(os_path, "a");
	assert_non_null(f);
	fprintf(f, "mmap_fault = 1s\n");
	fclose(f);
	assert_int_equal(hs_os_profile_load(&os, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.mmap_fault");
	assert_true(err.line > 0);
	unlink(os_path);
	rmdir(dir);
}

/* newidle = proportional is Linux's balance and the model reads it only
 * under yield = linux.  With another yield kind the error names the key,
 * the file line that set it or the --set that gave it, and the fix. */
static void newidle_proportional_needs_linux(void **state)
{
	const char *dir = make_temp_dir();
	char os_path[128];
	char text[256];
	struct hs_override ov, two[2];
	struct hs_config cfg;
	struct hs_error err;
	FILE *f;
	int line = 0, newidle_line = 0;

	(void)state;
	assert_int_equal(hs_override_parse(&ov, "os.newidle=proportional", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", &ov, 1, "freebsd", &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.newidle");
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "yield = ule"));
	assert_non_null(strstr(err.msg, "--set os.newidle=proportional"));

	snprintf(os_path, sizeof(os_path), "%s/linux-copy.ini", dir);
	write_shipped_without_key(os_path, "sim/profiles/linux.ini", "timer_irq");
	f = fopen(os_path, "r");
	assert_non_null(f);
	while (fgets(text, sizeof(text), f)) {
		line++;
		if (strncmp(text, "newidle =", 9) == 0)
			newidle_line = line;
	}
	fclose(f);
	assert_true(newidle_line > 0);

	assert_int_equal(hs_override_parse(&two[0], "os.yield=boost", &err), 0);
	assert_int_equal(hs_override_parse(&two[1], "os.timer_irq=2us", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", two, 2, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.file, os_path);
	assert_int_equal(err.line, newidle_line);
	assert_string_equal(err.key, "os.newidle");
	assert_non_null(strstr(err.msg, "yield = boost"));
	assert_non_null(strstr(err.msg, "remove the key"));

	assert_int_equal(hs_override_parse(&two[0], "os.yield=linux", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "milter", two, 2, os_path, &err), 0);
	assert_int_equal(cfg.os.newidle, HS_NEWIDLE_PROPORTIONAL);
	unlink(os_path);
	rmdir(dir);
}

/* A key that a profile file lacks may come from --set or a scenario
 * [runtime] key.  Without one, the error names the file and the key and
 * offers both fixes. */
static void override_supplies_missing_key(void **state)
{
	const char *dir = make_temp_dir();
	char os_path[128], rt_path[128], scen[64], text[200];
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	snprintf(os_path, sizeof(os_path), "%s/old-host.ini", dir);
	snprintf(rt_path, sizeof(rt_path), "%s/old-go.ini", dir);
	write_shipped_without_key(os_path, "sim/profiles/linux.ini", "timer_irq");
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.file, os_path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.key, "os.timer_irq");
	assert_non_null(strstr(err.msg, "missing key"));
	assert_non_null(strstr(err.msg, "herdsim calibrate"));
	assert_non_null(strstr(err.msg, "--set os.timer_irq=VALUE"));

	assert_int_equal(hs_override_parse(&ov, "os.timer_irq=3us", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, os_path, &err), 0);
	assert_int_equal(cfg.os.timer_irq_ns, 3000);
	assert_string_equal(cfg.os.file, os_path);
	/* the override applies to this load only, so the profile alone still fails */
	struct hs_os_profile os;
	assert_int_equal(hs_os_profile_load(&os, os_path, &err), HS_E_INPUT);
	assert_string_equal(err.key, "os.timer_irq");

	/* a runtime profile: a scenario [runtime] key or --set supplies it */
	write_shipped_without_key(rt_path, "sim/profiles/go.ini", "allocm");
	snprintf(text, sizeof(text), "[runtime]\nprofile = %s\n", rt_path);
	write_temp(scen, sizeof(scen), text);
	assert_int_equal(hs_config_load(&cfg, scen, NULL, 0, "linux", &err), HS_E_INPUT);
	assert_string_equal(err.file, rt_path);
	assert_string_equal(err.key, "runtime.allocm");
	assert_non_null(strstr(err.msg, "--set runtime.allocm=VALUE"));
	assert_int_equal(hs_override_parse(&ov, "runtime.allocm=4us", &err), 0);
	assert_int_equal(hs_config_load(&cfg, scen, &ov, 1, "linux", &err), 0);
	assert_int_equal(cfg.runtime.allocm_ns, 4000);
	unlink(scen);

	snprintf(text, sizeof(text), "[runtime]\nprofile = %s\nallocm = 5us\n", rt_path);
	write_temp(scen, sizeof(scen), text);
	assert_int_equal(hs_config_load(&cfg, scen, NULL, 0, "linux", &err), 0);
	assert_int_equal(cfg.runtime.allocm_ns, 5000);
	unlink(scen);
	unlink(rt_path);
	unlink(os_path);
	rmdir(dir);
}

static void scenario_runtime_and_policy(void **state)
{
	char path[64];
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	write_temp(path, sizeof(path),
		   "[runtime]\nprofile = go\nneedm_syscalls = 7\nallocm = 1.5us\n"
		   "[policy]\nname = batch\nmax_batch = 8\nlimit = -2\n");
	assert_int_equal(hs_config_load(&cfg, path, NULL, 0, NULL, &err), 0);
	assert_int_equal(cfg.runtime.needm_syscalls, 7);
	assert_int_equal(cfg.runtime.allocm_ns, 1500);
	assert_int_equal(cfg.runtime.dropm_syscalls, 3); /* from go.ini */
	assert_string_equal(cfg.scenario.policy, "batch");
	assert_int_equal(cfg.scenario.npolicy_params, 2);
	assert_string_equal(cfg.scenario.policy_param_names[0], "max_batch");
	assert_int_equal(cfg.scenario.policy_param_values[0], 8);
	assert_int_equal(cfg.scenario.policy_param_lines[0], 7);
	assert_string_equal(cfg.scenario.policy_param_names[1], "limit");
	assert_int_equal(cfg.scenario.policy_param_values[1], -2);

	/* no policy is named batch: the error points at line 6, where the
	 * name was set */
	const struct hs_policy *pols[8];
	int npols;

	assert_string_equal(cfg.scenario.policy_file, path);
	assert_int_equal(cfg.scenario.policy_line, 6);
	assert_int_equal(hs_policy_resolve_scenario(&cfg.scenario, pols, 8, &npols, &err), HS_E_NOTFOUND);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 6);
	assert_string_equal(err.key, "policy.name");
	assert_non_null(strstr(err.msg, "'batch'"));
	assert_non_null(strstr(err.msg, "single, waiters"));

	/* --set policy.name: the error names --set, with no line */
	struct hs_override ov;

	assert_int_equal(hs_override_parse(&ov, "policy.name=nosuch", &err), 0);
	assert_int_equal(hs_config_load(&cfg, path, &ov, 1, NULL, &err), 0);
	assert_string_equal(cfg.scenario.policy_file, "--set");
	assert_int_equal(cfg.scenario.policy_line, 0);
	assert_int_equal(hs_policy_resolve_scenario(&cfg.scenario, pols, 8, &npols, &err), HS_E_NOTFOUND);
	assert_string_equal(err.file, "--set");
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "'nosuch'"));

	/* a known name resolves */
	assert_int_equal(hs_override_parse(&ov, "policy.name=waiters", &err), 0);
	assert_int_equal(hs_config_load(&cfg, path, &ov, 1, NULL, &err), 0);
	assert_int_equal(hs_policy_resolve_scenario(&cfg.scenario, pols, 8, &npols, &err), 0);
	assert_int_equal(npols, 1);
	assert_string_equal(pols[0]->name, "waiters");
	unlink(path);
}

static void overrides_apply_in_order(void **state)
{
	const char *texts[] = {
		"workload.threads=7", "workload.threads = 9", "runtime.needm_syscalls=3",
		"os.sleep_slack=10us", "policy.max_batch=4", "callback.steps=work:1us",
		"machine.os=freebsd",
	};
	struct hs_override ov[7];
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_int_equal(hs_override_parse(&ov[i], texts[i], &err), 0);
	assert_string_equal(ov[1].section, "workload");
	assert_string_equal(ov[1].key, "threads");
	assert_string_equal(ov[1].value, "9");
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", ov, 7, NULL, &err), 0);
	assert_int_equal(cfg.scenario.threads, 9);
	assert_int_equal(cfg.runtime.needm_syscalls, 3);
	assert_string_equal(cfg.os.name, "freebsd");
	assert_int_equal(cfg.os.sleep_slack_ns, 10000);
	assert_int_equal(cfg.scenario.npolicy_params, 1);
	assert_int_equal(cfg.scenario.policy_param_values[0], 4);
	assert_int_equal(cfg.scenario.nsteps, 1);
	assert_int_equal(cfg.scenario.steps[0].arg, 1000);

	/* os_override wins over [machine] os and --set machine.os. */
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", ov, 7, "darwin", &err), 0);
	assert_string_equal(cfg.os.name, "darwin");
}

/* Loads cgocallbackgc with the one --set `text`, which must parse and
 * then fail as bad input; fills *err. */
static void load_bad_override(const char *text, struct hs_error *err)
{
	struct hs_override ov;
	struct hs_config cfg;

	assert_int_equal(hs_override_parse(&ov, text, err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, err), HS_E_INPUT);
}

static void override_errors(void **state)
{
	const struct {
		const char *text;
		const char *key;
		const char *msg_part;
	} cases[] = {
		{ "workload.threadz=1", "workload.threadz", "unknown key" },
		{ "runtime.nope=1", "runtime.nope", "unknown key" },
		{ "os.nope=1us", "os.nope", "unknown key" },
		{ "bogus.x=1", "bogus.x", "unknown section" },
		{ "workload.think=5", "workload.think", "no unit" },
		{ "runtime.allocm=-1us", "runtime.allocm", "negative" },
		{ "os.yield=maybe", "os.yield", "not one of" },
		{ "machine.cores=2000", "machine.cores", "out of range" },
		{ "os.switch_cold=3us", "os.switch_cold", "has no ':'" },
		{ "os.switch_cold=4:1us 2:2us", "os.switch_cold", "must be greater than 4" },
		{ "os.switch_cold=0:1us", "os.switch_cold", "out of range" },
		{ "os.switch_cold=4:2ms", "os.switch_cold", "over 1ms" },
		{ "os.switch_cold=4:2", "os.switch_cold", "no unit" },
		{ "os.switch_cold=1:0 2:0 3:0 4:0 5:0 6:0 7:0 8:0 9:0", "os.switch_cold",
		  "more than 8 points" },
		{ "os.switch_cold=", "os.switch_cold", "empty curve" },
		{ "os.mmap_spread=0.9 1.4", "os.mmap_spread", "too few numbers" },
		{ "os.mmap_spread=0.9 1.4 2 3", "os.mmap_spread", "more than three" },
		{ "os.mmap_spread=", "os.mmap_spread", "empty value" },
		{ "os.mmap_spread=1.2 1.4 2", "os.mmap_spread", "out of order" },
		{ "os.mmap_spread=0.9 0.95 2", "os.mmap_spread", "out of order" },
		{ "os.mmap_spread=0.9 1.4 1.3", "os.mmap_spread", "out of order" },
		{ "os.mmap_spread=0 1.4 2", "os.mmap_spread", "P10 is '0'" },
		{ "os.mmap_spread=0.9 1.4 101", "os.mmap_spread", "at most 100" },
		{ "os.wake_local_spread=0.9 x 2", "os.wake_local_spread", "P90 is 'x'" },
		{ "os.mmap_spread=0x0.8 1 2", "os.mmap_spread", "P10 is '0x0.8'" },
		{ "os.mmap_spread=0.5 0x1p1 2", "os.mmap_spread", "P90 is '0x1p1'" },
		{ "os.mmap_spread=+0.5 1 2", "os.mmap_spread", "P10 is '+0.5'" },
		{ "os.mmap_spread=.5 1 2", "os.mmap_spread", "P10 is '.5'" },
		{ "os.mmap_spread=0.5 1 2e", "os.mmap_spread", "P99 is '2e'" },
		{ "os.mmap_spread=0.5 1 infinity", "os.mmap_spread", "P99 is 'infinity'" },
		{ "os.syscall_spread=0.9 1.4 2", "os.syscall_spread", "unknown key" },
	};
	struct hs_override ov;
	struct hs_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_bad_override(cases[i].text, &err);
		assert_string_equal(err.file, "--set");
		assert_int_equal(err.line, 0);
		assert_string_equal(err.key, cases[i].key);
		if (!strstr(err.msg, cases[i].msg_part))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].text, err.msg,
				 cases[i].msg_part);
	}
	assert_int_equal(hs_override_parse(&ov, "threads=5", &err), HS_E_USAGE);
	assert_int_equal(hs_override_parse(&ov, "workload.threads", &err), HS_E_USAGE);
	assert_int_equal(hs_override_parse(&ov, ".threads=5", &err), HS_E_USAGE);
}

/* A --set text over a limit names the key and gives the limit, instead of
 * echoing the whole text as the key. */
static void override_too_long(void **state)
{
	char text[400];
	struct hs_override ov;
	struct hs_error err;

	(void)state;
	snprintf(text, sizeof(text), "scenario.description=%0300d", 0);
	assert_int_equal(hs_override_parse(&ov, text, &err), HS_E_USAGE);
	assert_string_equal(err.file, "--set");
	assert_string_equal(err.key, "scenario.description");
	assert_non_null(strstr(err.msg, "300 characters"));
	assert_non_null(strstr(err.msg, "maximum is 255"));

	snprintf(text, sizeof(text), "workload.%070d=1", 0);
	assert_int_equal(hs_override_parse(&ov, text, &err), HS_E_USAGE);
	assert_string_equal(err.key, "");
	assert_non_null(strstr(err.msg, "at most 63 characters"));

	snprintf(text, sizeof(text), "scenario.description=%0255d", 0);
	assert_int_equal(hs_override_parse(&ov, text, &err), 0);
	assert_int_equal((int)strlen(ov.value), 255);
}

/*
 * An unknown key's message suggests the one key within two edits, lists
 * the section's keys whole, and when they do not all fit gives the count
 * left out and where they are all listed.  Two equally close keys
 * make no suggestion.
 */
static void unknown_key_suggests_and_lists(void **state)
{
	const struct {
		const char *text;
		const char *part;     /* must be in the message */
		const char *absent;   /* must not be, or NULL */
	} cases[] = {
		{ "os.slise=1ms", "unknown key; did you mean 'slice'? keys of [os]: name, slice,", NULL },
		{ "os.sleep_slak=1us", "did you mean 'sleep_slack'?", NULL },
		{ "workload.threadz=1", "did you mean 'threads'? keys of [workload]: threads,", "more" },
		{ "workload.zzzzzz=1", "unknown key; keys of [workload]: threads, arrival,", "did you mean" },
		{ "runtime.gc_stw=1us", "unknown key; keys of [runtime]: gomaxprocs,", "did you mean" },
		{ "os.zzz=1", "more (docs/model.md lists every key)", "did you mean" },
	};
	struct hs_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_bad_override(cases[i].text, &err);
		if (!strstr(err.msg, cases[i].part))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].text, err.msg,
				 cases[i].part);
		if (cases[i].absent && strstr(err.msg, cases[i].absent))
			fail_msg("'%s': message '%s' has '%s'", cases[i].text, err.msg,
				 cases[i].absent);
	}
	/* the keys of [workload] fit, and the list ends with the last one */
	load_bad_override("workload.threadz=1", &err);
	assert_string_equal(err.msg + strlen(err.msg) - strlen(", trace"), ", trace");
}

static void missing_files(void **state)
{
	struct hs_config cfg;
	struct hs_os_profile os;
	struct hs_error err;

	(void)state;
	assert_int_equal(hs_config_load(&cfg, "/nonexistent/x.ini", NULL, 0, NULL, &err),
			 HS_E_NOTFOUND);
	assert_string_equal(err.file, "/nonexistent/x.ini");
	assert_non_null(strstr(err.msg, "herdsim list scenarios"));

	assert_int_equal(hs_config_load(&cfg, "no-such-scenario", NULL, 0, NULL, &err),
			 HS_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "herdsim list scenarios"));

	assert_int_equal(hs_os_profile_load(&os, "plan9", &err), HS_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "herdsim list os"));

	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, "missing.ini", &err),
			 HS_E_NOTFOUND);
	assert_string_equal(err.file, "missing.ini");
}

struct collected {
	int n;
	char keys[128][64];
	char values[128][64];
};

static void collect(void *ctx, const char *key, const char *value)
{
	struct collected *c = ctx;

	assert_true(c->n < 128);
	snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
	snprintf(c->values[c->n], sizeof(c->values[0]), "%s", value);
	c->n++;
}

static const char *lookup(const struct collected *c, const char *key)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->keys[i], key) == 0)
			return c->values[i];
	return NULL;
}

/* switch_cold reads as points or none and writes back in the same form. */
static void switch_cold_curve(void **state)
{
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_error err;
	static struct collected got;

	(void)state;
	assert_int_equal(hs_override_parse(&ov, "os.switch_cold=1:0ns 3:1.7us 255:2950ns", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, &err), 0);
	assert_int_equal(cfg.os.nswitch_cold, 3);
	assert_int_equal(cfg.os.switch_cold[0].threads, 1);
	assert_int_equal(cfg.os.switch_cold[0].ns, 0);
	assert_int_equal(cfg.os.switch_cold[1].threads, 3);
	assert_int_equal(cfg.os.switch_cold[1].ns, 1700);
	assert_int_equal(cfg.os.switch_cold[2].threads, 255);
	assert_int_equal(cfg.os.switch_cold[2].ns, 2950);
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.switch_cold"), "1:0ns 3:1700ns 255:2950ns");

	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, NULL, &err), 0);
	assert_int_equal(cfg.os.nswitch_cold, 0);
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.switch_cold"), "none");
}

/* A spread reads as three ratios or none, writes back in the same form,
 * and is optional: a profile without it gives an exact cost. */
static void spread_keys(void **state)
{
	struct hs_override ov[2];
	struct hs_config cfg;
	struct hs_error err;
	static struct collected got;

	(void)state;
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", NULL, 0, NULL, &err), 0);
	for (int k = 0; k < HS_NCOSTS; k++) {
		assert_true(cfg.os.spread[k].p10 == 0);
		assert_true(cfg.os.spread[k].p99 == 0);
	}
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.mmap_spread"), "none");
	assert_string_equal(lookup(&got, "os.wake_send_remote_spread"), "none");

	assert_int_equal(hs_override_parse(&ov[0], "os.mmap_spread=0.9 1.35 2.5", &err), 0);
	assert_int_equal(hs_override_parse(&ov[1], "os.thread_create_spread= 1 1 1 ", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", ov, 2, NULL, &err), 0);
	assert_true(cfg.os.spread[HS_COST_MMAP].p10 == 0.9);
	assert_true(cfg.os.spread[HS_COST_MMAP].p90 == 1.35);
	assert_true(cfg.os.spread[HS_COST_MMAP].p99 == 2.5);
	assert_true(cfg.os.spread[HS_COST_THREAD_CREATE].p10 == 1);
	assert_true(cfg.os.spread[HS_COST_WAKE_LOCAL].p10 == 0);
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.mmap_spread"), "0.9 1.35 2.5");
	assert_string_equal(lookup(&got, "os.thread_create_spread"), "1 1 1");

	assert_int_equal(hs_override_parse(&ov[1], "os.mmap_spread=none", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", ov, 2, NULL, &err), 0);
	assert_true(cfg.os.spread[HS_COST_MMAP].p10 == 0);
}

/* run_param rows keep a spread's digits past the 4 that calibrate writes,
 * so two runs that differ only there stay distinct, and the row reads
 * back as the same spread. */
static void spread_param_precision(void **state)
{
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_error err;
	static struct collected got;

	(void)state;
	assert_int_equal(hs_override_parse(&ov, "os.mmap_spread=0.123456 1.00001 2.5", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, &err), 0);
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.mmap_spread"), "0.123456 1.00001 2.5");

	/* "%.15g" writes 1e-05 for a P10 of 0.00001; it parses back */
	assert_int_equal(hs_override_parse(&ov, "os.mmap_spread=0.00001 1 2", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, &err), 0);
	memset(&got, 0, sizeof(got));
	hs_config_each_param(&cfg, collect, &got);
	assert_string_equal(lookup(&got, "os.mmap_spread"), "1e-05 1 2");
	assert_int_equal(hs_override_parse(&ov, "os.mmap_spread=1e-05 1 2", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, &err), 0);
	assert_true(cfg.os.spread[HS_COST_MMAP].p10 == 0.00001);
}

/* The factor at a quantile follows the knots, and the mean is the area
 * under the distribution's inverse. */
static void spread_quantiles_and_mean(void **state)
{
	const struct hs_spread sp = { 0.8, 1.5, 3.0 }, exact = { 0, 0, 0 };
	double sum = 0;
	const int n = 1000000;

	(void)state;
	assert_true(hs_spread_at(&sp, 0) == 0.8);
	assert_true(hs_spread_at(&sp, 0.05) == 0.8);
	assert_true(fabs(hs_spread_at(&sp, 0.1) - 0.8) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.3) - 0.9) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.5) - 1.0) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.7) - 1.25) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.9) - 1.5) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.945) - 2.25) < 1e-12);
	assert_true(fabs(hs_spread_at(&sp, 0.995) - 3.0) < 1e-12);
	assert_true(hs_spread_at(&sp, 1) == 3.0);
	/* 0.1*0.8 + 0.4*0.9 + 0.4*1.25 + 0.09*2.25 + 0.01*3 */
	assert_true(fabs(hs_spread_mean(&sp) - 1.1725) < 1e-12);
	for (int i = 0; i < n; i++)
		sum += hs_spread_at(&sp, (i + 0.5) / n);
	assert_true(fabs(sum / n - hs_spread_mean(&sp)) < 1e-6);
	assert_true(hs_spread_at(&exact, 0.99) == 1);
	assert_true(hs_spread_mean(&exact) == 1);
}

static void each_param_lists_all(void **state)
{
	static struct collected first, second;
	struct hs_override ov;
	struct hs_config cfg;
	struct hs_error err;

	(void)state;
	assert_int_equal(hs_override_parse(&ov, "policy.max_batch=4", &err), 0);
	assert_int_equal(hs_config_load(&cfg, "cgocallbackgc", &ov, 1, NULL, &err), 0);
	hs_config_each_param(&cfg, collect, &first);
	hs_config_each_param(&cfg, collect, &second);
	/* 20 scenario keys, 44 OS keys, 18 runtime keys, 1 policy parameter. */
	assert_int_equal(first.n, 20 + 44 + 18 + 1);
	assert_memory_equal(&first, &second, sizeof(first));
	assert_string_equal(lookup(&first, "os.slice"), "2250000");
	assert_string_equal(lookup(&first, "os.yield"), "linux");
	assert_string_equal(lookup(&first, "os.newidle"), "proportional");
	assert_string_equal(lookup(&first, "os.newidle_cost"), "0");
	assert_string_equal(lookup(&first, "os.mmap_fault"), "0");
	assert_string_equal(lookup(&first, "os.sleep_slack_ratio"), "0");
	assert_string_equal(lookup(&first, "os.timer_program"), "0");
	assert_string_equal(lookup(&first, "os.clock_read"), "0");
	assert_string_equal(lookup(&first, "runtime.gc_worker_ratio"), "0.25");
	assert_string_equal(lookup(&first, "workload.thread_stack"), "262144");
	assert_string_equal(lookup(&first, "callback.steps"), "gc,grow:10000,gc");
	assert_string_equal(lookup(&first, "scenario.time_limit"), "60000000000");
	assert_string_equal(lookup(&first, "policy.max_batch"), "4");
	assert_string_equal(first.keys[0], "scenario.name");
	assert_string_equal(first.keys[first.n - 1], "policy.max_batch");
}

/* A curve of 1:0ns 4:2000ns 64:3000ns: linear in log2(d) between points. */
static void cold_extra_interpolates(void **state)
{
	struct hs_os_profile os;

	memset(&os, 0, sizeof(os));
	os.nswitch_cold = 3;
	os.switch_cold[0] = (struct hs_cold_point){ 1, 0 };
	os.switch_cold[1] = (struct hs_cold_point){ 4, 2000 };
	os.switch_cold[2] = (struct hs_cold_point){ 64, 3000 };

	/* exact at the points */
	assert_int_equal(hs_cold_extra(&os, 1), 0);
	assert_int_equal(hs_cold_extra(&os, 4), 2000);
	assert_int_equal(hs_cold_extra(&os, 64), 3000);
	/* log2 midpoints: 2 between 1 and 4, 16 between 4 and 64 */
	assert_int_equal(hs_cold_extra(&os, 2), 1000);
	assert_int_equal(hs_cold_extra(&os, 16), 2500);
	/* a quarter of the way in log2 from 4 to 64 */
	assert_int_equal(hs_cold_extra(&os, 8), 2250);
	/* flat above the last point */
	assert_int_equal(hs_cold_extra(&os, 65), 3000);
	assert_int_equal(hs_cold_extra(&os, 100000), 3000);
}

/* Below the first point the first duration applies, and no curve costs 0. */
static void cold_extra_flat_and_empty(void **state)
{
	struct hs_os_profile os;

	memset(&os, 0, sizeof(os));
	os.nswitch_cold = 2;
	os.switch_cold[0] = (struct hs_cold_point){ 3, 500 };
	os.switch_cold[1] = (struct hs_cold_point){ 12, 900 };
	assert_int_equal(hs_cold_extra(&os, 0), 500);
	assert_int_equal(hs_cold_extra(&os, 1), 500);
	assert_int_equal(hs_cold_extra(&os, 3), 500);
	/* 6 is the log2 midpoint of 3 and 12; log2 of 3 is inexact, so the
	 * truncated value may be one below 700 */
	assert_in_range(hs_cold_extra(&os, 6), 699, 700);
	assert_int_equal(hs_cold_extra(&os, 12), 900);
	assert_int_equal(hs_cold_extra(&os, 13), 900);

	os.nswitch_cold = 0;
	assert_int_equal(hs_cold_extra(&os, 0), 0);
	assert_int_equal(hs_cold_extra(&os, 5), 0);
	assert_int_equal(hs_cold_extra(&os, 1000000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_table),
		cmocka_unit_test(duration_messages_give_fix),
		cmocka_unit_test(shipped_profiles_load),
		cmocka_unit_test(shipped_scenarios_load),
		cmocka_unit_test(scenario_defaults_apply),
		cmocka_unit_test(errors_name_file_line_key),
		cmocka_unit_test(long_line_rejected),
		cmocka_unit_test(line_limit_matches_message),
		cmocka_unit_test(nul_byte_rejected),
		cmocka_unit_test(profile_missing_key),
		cmocka_unit_test(override_supplies_missing_key),
		cmocka_unit_test(newidle_defaults_to_always),
		cmocka_unit_test(newidle_proportional_needs_linux),
		cmocka_unit_test(newidle_cost_optional_and_linux_only),
		cmocka_unit_test(preempt_optional_and_linux_only),
		cmocka_unit_test(mmap_fault_optional_and_within_mmap),
		cmocka_unit_test(scenario_runtime_and_policy),
		cmocka_unit_test(overrides_apply_in_order),
		cmocka_unit_test(override_errors),
		cmocka_unit_test(override_too_long),
		cmocka_unit_test(unknown_key_suggests_and_lists),
		cmocka_unit_test(switch_cold_curve),
		cmocka_unit_test(missing_files),
		cmocka_unit_test(spread_keys),
		cmocka_unit_test(spread_param_precision),
		cmocka_unit_test(spread_quantiles_and_mean),
		cmocka_unit_test(each_param_lists_all),
		cmocka_unit_test(cold_extra_interpolates),
		cmocka_unit_test(cold_extra_flat_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
