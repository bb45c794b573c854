/*
 * Loading a run's configuration: the scenario, the OS profile and the
 * runtime profile, with --set overrides.
 *
 * Lookup rule: an argument that contains '/' or ends in ".ini" is a path on
 * disk; anything else is the name of a shipped file, compiled into the
 * binary (traces/scenarios/NAME.ini for scenarios, sim/profiles/NAME.ini
 * for profiles).  A shipped profile is an OS profile if it has an [os]
 * section and a runtime profile if it has a [runtime] section.  The OS
 * profile name "host" is the exception: it is the file `herdsim
 * calibrate` wrote (hs_host_profile_path()), since a measured profile
 * cannot be compiled in.
 *
 * Order of precedence in hs_config_load(), later wins:
 *   scenario defaults < scenario file < --set < os_override (for machine.os);
 *   OS profile < --set os.KEY;
 *   runtime profile < scenario [runtime] keys < --set runtime.KEY.
 * A profile must set every key of its table, but an override can supply a
 * key that the file lacks, so that check runs after the overrides.
 * Every value is checked when it is read, so an override of an unknown key
 * or with a bad value fails before any profile is loaded.
 */
#include "config_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"

#define NS_US INT64_C(1000)
#define NS_MS INT64_C(1000000)
#define NS_S INT64_C(1000000000)
#define KIB INT64_C(1024)

#define SCENARIO_DIR "traces/scenarios/"
#define PROFILE_DIR "sim/profiles/"
#define SET_FILE "--set"

static const char *const yield_words[] = { "linux", "ule", "sleep", "poll", "switch", "boost",
					    NULL };
static const char *const newidle_words[] = { "always", "proportional", NULL };
static const char *const preempt_words[] = { "full", "none", "voluntary", NULL };
static const char *const arrival_words[] = { "burst", "poisson", "periodic", "trace", NULL };
static const char *const think_words[] = { "cpu", "sleep", NULL };
static const char *const record_words[] = { "summary", "events", NULL };

#define OS_DUR(k, field, lo, hi) \
	{ "os", k, CFG_DURATION, offsetof(struct hs_os_profile, field), 0, lo, hi, NULL }

#define OS_SPREAD(k, cost) \
	{ "os", k, CFG_SPREAD, offsetof(struct hs_os_profile, spread) + \
	  (size_t)(cost) * sizeof(struct hs_spread), 0, 0, 0, NULL }

/* [os]: every key is required in a profile, but for the spreads, which
 * default to none, newidle, which defaults to always, preempt, which
 * defaults to full, and newidle_cost
 * and mmap_fault, which default to 0.  Profiles written before those keys
 * existed modelled that behaviour, but for mmap_fault: at 0 the whole of
 * mmap runs under the address-space lock taken for write. */
static const struct cfg_key os_keys[] = {
	{ "os", "name", CFG_STRING, offsetof(struct hs_os_profile, name), HS_NAME_MAX, 1, 0, NULL },
	OS_DUR("slice", slice_ns, NS_US, 10 * NS_S),
	OS_DUR("tick", tick_ns, NS_US, NS_S),
	OS_DUR("context_switch", context_switch_ns, 0, NS_MS),
	OS_DUR("syscall", syscall_ns, 0, NS_MS),
	OS_DUR("signal_syscall", signal_syscall_ns, 0, NS_MS),
	OS_DUR("clock_read", clock_read_ns, 0, NS_MS),
	OS_DUR("atomic_local", atomic_local_ns, 0, NS_MS),
	OS_DUR("atomic_remote", atomic_remote_ns, 0, NS_MS),
	OS_DUR("load_remote", load_remote_ns, 0, NS_MS),
	{ "os", "yield", CFG_ENUM, offsetof(struct hs_os_profile, yield_kind), 0, 0, 0, yield_words },
	{ "os", "yield_hold_ticks", CFG_INT, offsetof(struct hs_os_profile, yield_hold_ticks), 0,
	  0, 100, NULL },
	{ "os", "newidle", CFG_ENUM, offsetof(struct hs_os_profile, newidle), 0, 0, 0,
	  newidle_words },
	OS_DUR("newidle_cost", newidle_cost_ns, 0, NS_MS),
	{ "os", "preempt", CFG_ENUM, offsetof(struct hs_os_profile, preempt), 0, 0, 0,
	  preempt_words },
	OS_DUR("sleep_slack", sleep_slack_ns, 0, NS_S),
	{ "os", "sleep_slack_ratio", CFG_RATIO, offsetof(struct hs_os_profile, sleep_slack_ratio),
	  0, 0, 0, NULL },
	OS_DUR("sleep_min", sleep_min_ns, 0, NS_S),
	OS_DUR("sleep_round", sleep_round_ns, 0, NS_S),
	OS_DUR("sleep_coarse_above", sleep_coarse_above_ns, 0, 3600 * NS_S),
	OS_DUR("sleep_poll_below", sleep_poll_below_ns, 0, NS_S),
	OS_DUR("timer_jitter", timer_jitter_ns, 0, NS_S),
	OS_DUR("wake_local", wake_local_ns, 0, NS_S),
	OS_DUR("wake_remote", wake_remote_ns, 0, NS_S),
	OS_DUR("wake_send_local", wake_send_local_ns, 0, NS_MS),
	OS_DUR("wake_send_remote", wake_send_remote_ns, 0, NS_MS),
	OS_DUR("timer_wake", timer_wake_ns, 0, NS_S),
	OS_DUR("timer_irq", timer_irq_ns, 0, NS_MS),
	OS_DUR("irq_wake", irq_wake_ns, 0, NS_MS),
	OS_DUR("timer_program", timer_program_ns, 0, NS_MS),
	OS_DUR("sleep_return", sleep_return_ns, 0, NS_MS),
	OS_DUR("thread_create", thread_create_ns, 0, NS_S),
	OS_DUR("thread_start", thread_start_ns, 0, NS_S),
	OS_DUR("thread_exit", thread_exit_ns, 0, NS_S),
	OS_DUR("mmap", mmap_ns, 0, NS_S),
	OS_DUR("mmap_fault", mmap_fault_ns, 0, NS_S),
	{ "os", "switch_cold", CFG_COLD, 0, 0, 0, 0, NULL },
	OS_SPREAD("thread_create_spread", HS_COST_THREAD_CREATE),
	OS_SPREAD("thread_exit_spread", HS_COST_THREAD_EXIT),
	OS_SPREAD("mmap_spread", HS_COST_MMAP),
	OS_SPREAD("wake_local_spread", HS_COST_WAKE_LOCAL),
	OS_SPREAD("wake_remote_spread", HS_COST_WAKE_REMOTE),
	OS_SPREAD("wake_send_local_spread", HS_COST_WAKE_SEND_LOCAL),
	OS_SPREAD("wake_send_remote_spread", HS_COST_WAKE_SEND_REMOTE),
};
#define NOS_KEYS ((int)(sizeof(os_keys) / sizeof(os_keys[0])))

#define RT_DUR(k, field, lo, hi) \
	{ "runtime", k, CFG_DURATION, offsetof(struct hs_runtime_profile, field), 0, lo, hi, NULL }
#define RT_INT(k, field, lo, hi) \
	{ "runtime", k, CFG_INT, offsetof(struct hs_runtime_profile, field), 0, lo, hi, NULL }

/* [runtime]: every key is required in a profile; a scenario may override any. */
static const struct cfg_key runtime_keys[] = {
	RT_INT("gomaxprocs", gomaxprocs, 0, 1024),
	RT_DUR("allocm", allocm_ns, 0, NS_S),
	RT_DUR("sched_lock_hold", sched_lock_hold_ns, 0, NS_S),
	RT_DUR("malg", malg_ns, 0, NS_S),
	RT_DUR("allgadd", allgadd_ns, 0, NS_S),
	RT_INT("needm_syscalls", needm_syscalls, 0, 100),
	RT_INT("dropm_syscalls", dropm_syscalls, 0, 100),
	RT_DUR("exitsyscall", exitsyscall_ns, 0, NS_S),
	RT_DUR("preempt_chunk", preempt_chunk_ns, 1, NS_S),
	RT_DUR("stack_frame", stack_frame_ns, 0, NS_MS),
	RT_DUR("gc_stw1", gc_stw1_ns, 0, 10 * NS_S),
	RT_DUR("gc_mark", gc_mark_ns, 0, 100 * NS_S),
	RT_DUR("gc_stw2", gc_stw2_ns, 0, 10 * NS_S),
	RT_DUR("gc_sweep", gc_sweep_ns, 0, 100 * NS_S),
	{ "runtime", "gc_worker_ratio", CFG_RATIO,
	  offsetof(struct hs_runtime_profile, gc_worker_ratio), 0, 0, 0, NULL },
	RT_INT("lock_spin", lock_spin, 0, 100),
	RT_DUR("lock_spin_ns", lock_spin_ns, 0, NS_MS),
	RT_INT("lock_passive_spin", lock_passive_spin, 0, 100),
};
#define NRUNTIME_KEYS ((int)(sizeof(runtime_keys) / sizeof(runtime_keys[0])))

#define SC(sec, k, type, field, lo, hi, words) \
	{ sec, k, type, offsetof(struct hs_scenario, field), \
	  sizeof(((struct hs_scenario *)0)->field), lo, hi, words }

/* Scenario keys; [runtime] keys other than `profile` and [policy] keys
 * other than `name` are handled by scenario_extra(). */
static const struct cfg_key scenario_keys[] = {
	SC("scenario", "name", CFG_STRING, name, 1, 0, NULL),
	SC("scenario", "description", CFG_STRING, description, 0, 0, NULL),
	SC("scenario", "time_limit", CFG_DURATION, time_limit_ns, NS_US, 1000000 * NS_S, NULL),
	SC("scenario", "event_limit", CFG_INT64, event_limit, 1, INT64_C(1000000000000000), NULL),
	SC("scenario", "seed", CFG_UINT64, seed, 0, 0, NULL),
	SC("scenario", "reps", CFG_INT, reps, 1, 100000, NULL),
	SC("machine", "os", CFG_STRING, os, 1, 0, NULL),
	SC("machine", "cores", CFG_INT, cores, 1, 1024, NULL),
	SC("runtime", "profile", CFG_STRING, runtime, 1, 0, NULL),
	SC("workload", "threads", CFG_INT, threads, 1, 1000000, NULL),
	SC("workload", "arrival", CFG_ENUM, arrival, 0, 0, arrival_words),
	SC("workload", "interval", CFG_DURATION, interval_ns, 0, 3600 * NS_S, NULL),
	SC("workload", "callbacks", CFG_INT, callbacks, 1, 1000000000, NULL),
	SC("workload", "think", CFG_DURATION, think_ns, 0, 3600 * NS_S, NULL),
	SC("workload", "think_kind", CFG_ENUM, think_kind, 0, 0, think_words),
	/* 16 KiB is glibc's PTHREAD_STACK_MIN on x86-64. */
	SC("workload", "thread_stack", CFG_SIZE, thread_stack_bytes, 16 * KIB, KIB * KIB * KIB, NULL),
	SC("workload", "trace", CFG_STRING, trace, 0, 0, NULL),
	SC("callback", "steps", CFG_STEPS, steps, 0, 0, NULL),
	SC("policy", "name", CFG_STRING, policy, 1, 0, NULL),
	SC("record", "level", CFG_ENUM, record, 0, 0, record_words),
};
#define NSCENARIO_KEYS ((int)(sizeof(scenario_keys) / sizeof(scenario_keys[0])))

static const char *const os_sections[] = { "os", NULL };
static const char *const runtime_sections[] = { "runtime", NULL };
static const char *const scenario_sections[] = {
	"scenario", "machine", "runtime", "workload", "callback", "policy", "record", NULL,
};

/* A profile key set after its profile loads: from a scenario's [runtime]
 * section or from --set. */
struct pending {
	int key;                  /* index in os_keys or runtime_keys */
	char value[HS_PATH_MAX];
	const char *file;         /* scenario file or "--set" */
	int line;
};

#define MAX_PENDING (NRUNTIME_KEYS + HS_MAX_OVERRIDES)

/* Working state of hs_config_load(). */
struct loader {
	struct hs_scenario *sc;
	int key_lines[NSCENARIO_KEYS];
	const char *key_files[NSCENARIO_KEYS]; /* where each key was last set */
	struct pending runtime[MAX_PENDING];
	int nruntime;
	struct pending os[HS_MAX_OVERRIDES];
	int nos;
};

/* Origin of a configuration file: embedded text or an open file. */
struct source {
	char file[HS_PATH_MAX]; /* path on disk or embedded path, for errors */
	const char *text;       /* embedded text, or NULL */
	FILE *fp;               /* open file on disk, or NULL */
};

static bool is_path(const char *arg)
{
	size_t n = strlen(arg);

	return strchr(arg, '/') || (n >= 4 && strcmp(arg + n - 4, ".ini") == 0);
}

/* Returns whether `text` has a line that is exactly "[section]", ignoring
 * surrounding blanks. */
static bool has_section(const char *text, const char *section)
{
	size_t n = strlen(section);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (p[0] == '[' && strncmp(p + 1, section, n) == 0 && p[n + 1] == ']')
			return true;
	}
	return false;
}

/* Opens `arg` as described in the file header.  `dir` is the embedded
 * directory, `section` (may be NULL) the section a shipped file must have,
 * `list_hint` the command that lists the shipped names. */
static int open_source(struct source *src, const char *arg, const char *dir, const char *section,
		       const char *what, const char *list_hint, struct hs_error *err)
{
	memset(src, 0, sizeof(*src));
	if (arg[0] == '\0')
		return hs_error_set(err, HS_E_NOTFOUND, NULL, 0, NULL,
				    "empty %s name; run `%s`", what, list_hint);
	if (is_path(arg)) {
		struct stat st;

		snprintf(src->file, sizeof(src->file), "%s", arg);
		if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
			return hs_error_set(err, HS_E_INPUT, arg, 0, NULL,
					    "is a directory; give the path of an .ini file");
		src->fp = fopen(arg, "r");
		if (!src->fp && errno == ENOENT)
			return hs_error_set(err, HS_E_NOTFOUND, arg, 0, NULL,
					    "%s file not found; check the path, or run `%s` "
					    "for the shipped ones", what, list_hint);
		if (!src->fp)
			return hs_error_set(err, HS_E_IO, arg, 0, NULL, "cannot open %s file: %s",
					    what, strerror(errno));
		return 0;
	}
	snprintf(src->file, sizeof(src->file), "%s%s.ini", dir, arg);
	src->text = hs_embedded_find(src->file);
	if (!src->text || (section && !has_section(src->text, section)))
		return hs_error_set(err, HS_E_NOTFOUND, NULL, 0, arg,
				    "no shipped %s named '%s'; run `%s`, or give a path to "
				    "an .ini file", what, arg, list_hint);
	return 0;
}

static void close_source(struct source *src)
{
	if (src->fp)
		fclose(src->fp);
	src->fp = NULL;
}

/* Sets name to the file name of `file` without directory and ".ini". */
static void base_name(char *name, size_t size, const char *file)
{
	const char *slash = strrchr(file, '/');
	const char *start = slash ? slash + 1 : file;
	size_t n = strlen(start);

	if (n >= 4 && strcmp(start + n - 4, ".ini") == 0)
		n -= 4;
	if (n >= size)
		n = size - 1;
	memcpy(name, start, n);
	name[n] = '\0';
}

/* Returns whether a profile may leave key k out (the list above os_keys). */
static bool optional_key(const struct cfg_key *k)
{
	return k->type == CFG_SPREAD || k->words == newidle_words || k->words == preempt_words ||
	       (strcmp(k->section, "os") == 0 && (strcmp(k->key, "newidle_cost") == 0 ||
						 strcmp(k->key, "mmap_fault") == 0));
}

/* Reports the first key of a profile table that neither the file nor an
 * override set: lines[i] is 0 for such a key. */
static int check_required(const struct cfg_key *keys, int nkeys, const int *lines,
			  const char *file, struct hs_error *err)
{
	for (int i = 0; i < nkeys; i++) {
		if (lines[i] || optional_key(&keys[i]))
			continue;
		char key[2 * HS_NAME_MAX + 2];

		snprintf(key, sizeof(key), "%s.%s", keys[i].section, keys[i].key);
		return hs_error_set(err, HS_E_INPUT, file, 0, key,
				    "missing key; add `%s = VALUE` to [%s], with a comment "
				    "giving its source (for a host profile, run `herdsim calibrate` "
				    "again to measure it), or give it on the command line with "
				    "`--set %s=VALUE`", keys[i].key, keys[i].section, key);
	}
	return 0;
}

/* Reads one profile file into base without checking for missing keys.
 * file_field receives its path, and lines[i] the line of keys[i] or 0 if
 * the file does not set it. */
static int read_profile(const struct cfg_key *keys, int nkeys, const char *const *sections,
			void *base, char *file_field, const char *arg, const char *what,
			const char *list_hint, int *lines, struct hs_error *err)
{
	struct source src;
	int rc = open_source(&src, arg, PROFILE_DIR, sections[0], what, list_hint, err);

	if (rc < 0)
		return rc;
	struct cfg_parse p = {
		.file = src.file, .text = src.text, .fp = src.fp, .keys = keys, .nkeys = nkeys,
		.sections = sections, .base = base, .key_lines = lines,
	};
	rc = cfg_parse_ini(&p, err);
	close_source(&src);
	if (rc < 0)
		return rc;
	snprintf(file_field, HS_PATH_MAX, "%s", src.file);
	return 0;
}

const char *hs_host_profile_path(void)
{
	const char *env = getenv("HERDSIM_HOST_PROFILE");

	return env && *env ? env : HS_HOST_PROFILE_DEFAULT;
}

/* Reads an OS profile as hs_os_profile_load() does, but without the
 * check for missing keys.  lines is as for read_profile(). */
static int read_os_profile(struct hs_os_profile *os, const char *name_or_path, int *lines,
			   struct hs_error *err)
{
	memset(os, 0, sizeof(*os));
	if (name_or_path && strcmp(name_or_path, "host") == 0) {
		/* "host" is this machine's measured profile, not a shipped file */
		const char *path = hs_host_profile_path();

		if (access(path, F_OK) != 0 && path == getenv("HERDSIM_HOST_PROFILE"))
			return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL,
					    "no host profile at HERDSIM_HOST_PROFILE; run `herdsim "
					    "calibrate` first (it writes that file), or point the "
					    "variable at a profile file");
		if (access(path, F_OK) != 0)
			return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL,
					    "no host profile; run `herdsim calibrate` first (it writes "
					    "%s), or set HERDSIM_HOST_PROFILE to a profile file",
					    HS_HOST_PROFILE_DEFAULT);
		name_or_path = path;
	}
	return read_profile(os_keys, NOS_KEYS, os_sections, os, os->file, name_or_path,
			    "OS profile", "herdsim list os", lines, err);
}

/* Reads a runtime profile as hs_runtime_profile_load() does, without the
 * check for missing keys. */
static int read_runtime_profile(struct hs_runtime_profile *rt, const char *name_or_path,
				int *lines, struct hs_error *err)
{
	int rc;

	memset(rt, 0, sizeof(*rt));
	rc = read_profile(runtime_keys, NRUNTIME_KEYS, runtime_sections, rt, rt->file,
			  name_or_path, "runtime profile",
			  "herdsim list os` for OS profiles; the shipped runtime profile is `go",
			  lines, err);
	if (rc == 0)
		base_name(rt->name, sizeof(rt->name), rt->file);
	return rc;
}

/* Fails with one line naming os.KEY, which os_keys[i] set at file line
 * lines[i] (-1: a --set), a value that needs yield = linux: `what`, then
 * the fix for a file or for a --set. */
static int reject_without_linux(const struct hs_os_profile *os, const int *lines, int i,
				const char *what, const char *file_fix, const char *set_fix,
				struct hs_error *err)
{
	char key[HS_NAME_MAX + 4];

	snprintf(key, sizeof(key), "os.%s", os_keys[i].key);
	return hs_error_set(err, HS_E_INPUT, lines[i] > 0 ? os->file : NULL,
			    lines[i] > 0 ? lines[i] : 0, key,
			    "%s and needs `yield = linux`, but profile '%s' has `yield = %s`; %s",
			    what, os->name, yield_words[os->yield_kind],
			    lines[i] > 0 ? file_fix : set_fix);
}

/* Rejects an mmap_fault above mmap, which includes it.  Rejects newidle =
 * proportional, a newidle_cost above 0 or preempt other than full, with a
 * yield kind other than
 * linux, because the model runs Linux's newly idle balance only under
 * yield = linux and would ignore the value. */
static int check_os_combination(const struct hs_os_profile *os, const int *lines,
				struct hs_error *err)
{
	if (os->mmap_fault_ns > os->mmap_ns) {
		int i = cfg_find_key(os_keys, NOS_KEYS, "os", "mmap_fault");

		return hs_error_set(err, HS_E_INPUT, lines[i] > 0 ? os->file : NULL,
				    lines[i] > 0 ? lines[i] : 0, "os.mmap_fault",
				    "%lld ns is more than mmap (%lld ns), which includes it; give at most mmap",
				    (long long)os->mmap_fault_ns, (long long)os->mmap_ns);
	}
	if (os->yield_kind == HS_YIELD_LINUX)
		return 0;
	if (os->newidle == HS_NEWIDLE_PROPORTIONAL)
		return reject_without_linux(os, lines, cfg_find_key(os_keys, NOS_KEYS, "os", "newidle"),
					    "`proportional` models Linux's NI_RANDOM balance",
					    "remove the key or set it to `always`",
					    "drop `--set os.newidle=proportional` or give `always`", err);
	if (os->newidle_cost_ns > 0)
		return reject_without_linux(os, lines,
					    cfg_find_key(os_keys, NOS_KEYS, "os", "newidle_cost"),
					    "a cost above 0 models Linux's skip of a newly idle balance",
					    "remove the key or set it to 0",
					    "drop `--set os.newidle_cost` or give 0", err);
	if (os->preempt != HS_PREEMPT_FULL)
		return reject_without_linux(os, lines, cfg_find_key(os_keys, NOS_KEYS, "os", "preempt"),
					    "a value other than `full` models Linux's kernel preemption",
					    "remove the key or set it to `full`",
					    "drop `--set os.preempt` or give `full`", err);
	return 0;
}

int hs_os_profile_load(struct hs_os_profile *os, const char *name_or_path, struct hs_error *err)
{
	int lines[NOS_KEYS] = { 0 };
	int rc = read_os_profile(os, name_or_path, lines, err);

	if (rc == 0)
		rc = check_required(os_keys, NOS_KEYS, lines, os->file, err);
	return rc < 0 ? rc : check_os_combination(os, lines, err);
}

int hs_runtime_profile_load(struct hs_runtime_profile *rt, const char *name_or_path,
			    struct hs_error *err)
{
	int lines[NRUNTIME_KEYS] = { 0 };
	int rc = read_runtime_profile(rt, name_or_path, lines, err);

	return rc < 0 ? rc : check_required(runtime_keys, NRUNTIME_KEYS, lines, rt->file, err);
}

static void scenario_defaults(struct hs_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->time_limit_ns = 60 * NS_S;
	sc->event_limit = 200000000;
	sc->seed = 1;
	sc->reps = 5;
	snprintf(sc->os, sizeof(sc->os), "linux");
	sc->cores = 4;
	snprintf(sc->runtime, sizeof(sc->runtime), "go");
	sc->threads = 100;
	sc->arrival = HS_ARRIVAL_BURST;
	sc->interval_ns = NS_MS;
	sc->callbacks = 1;
	sc->think_ns = 0;
	sc->think_kind = HS_THINK_CPU;
	sc->thread_stack_bytes = 256 * KIB;
	sc->nsteps = 0;
	snprintf(sc->policy, sizeof(sc->policy), "all");
	sc->record = HS_RECORD_SUMMARY;
}

/* Checks a profile key override and queues it.  Returns 0 or HS_E_INPUT. */
static int queue_pending(struct pending *list, int *n, int max, const struct cfg_key *keys,
			 int nkeys, const char *section, const char *key, const char *value,
			 const char *file, int line, struct hs_error *err)
{
	char name[2 * HS_NAME_MAX + 2];
	char msg[sizeof(err->msg)];
	union {
		struct hs_os_profile os;
		struct hs_runtime_profile rt;
	} scratch;
	int i = cfg_find_key(keys, nkeys, section, key);

	snprintf(name, sizeof(name), "%s.%s", section, key);
	if (i < 0) {
		char text[400];

		cfg_unknown_key(keys, nkeys, section, key, text, sizeof(text));
		return hs_error_set(err, HS_E_INPUT, file, line, name, "%s", text);
	}
	if (strlen(value) >= sizeof(list[0].value))
		return hs_error_set(err, HS_E_INPUT, file, line, name, "value is too long");
	if (cfg_set_value(&keys[i], &scratch, value, msg, sizeof(msg)) < 0)
		return hs_error_set(err, HS_E_INPUT, file, line, name, "%s", msg);
	if (*n == max)
		return hs_error_set(err, HS_E_INPUT, file, line, name,
				    "more than %d overrides of [%s] keys", max, section);
	list[*n].key = i;
	snprintf(list[*n].value, sizeof(list[*n].value), "%s", value);
	list[*n].file = file;
	list[*n].line = line;
	(*n)++;
	return 0;
}

/* Sets or replaces a [policy] parameter. */
static int set_policy_param(struct hs_scenario *sc, const char *key, const char *value,
			    const char *file, int line, bool from_file, struct hs_error *err)
{
	char name[2 * HS_NAME_MAX + 2];
	char msg[sizeof(err->msg)];
	int64_t v;
	int i;

	snprintf(name, sizeof(name), "policy.%s", key);
	if (strlen(key) >= HS_NAME_MAX)
		return hs_error_set(err, HS_E_INPUT, file, line, name,
				    "parameter name is longer than %d characters", HS_NAME_MAX - 1);
	if (cfg_parse_int64(value, &v, msg, sizeof(msg)) < 0)
		return hs_error_set(err, HS_E_INPUT, file, line, name,
				    "%s; policy parameters are integers", msg);
	for (i = 0; i < sc->npolicy_params; i++)
		if (strcmp(sc->policy_param_names[i], key) == 0)
			break;
	if (i < sc->npolicy_params && from_file)
		return hs_error_set(err, HS_E_INPUT, file, line, name,
				    "duplicate key, first set on line %d; remove one",
				    sc->policy_param_lines[i]);
	if (i == HS_MAX_PARAMS)
		return hs_error_set(err, HS_E_INPUT, file, line, name,
				    "more than %d policy parameters", HS_MAX_PARAMS);
	if (i == sc->npolicy_params) {
		snprintf(sc->policy_param_names[i], HS_NAME_MAX, "%s", key);
		sc->npolicy_params++;
	}
	sc->policy_param_values[i] = v;
	sc->policy_param_lines[i] = line;
	return 0;
}

static int scenario_extra(void *user, const char *section, const char *key, const char *value,
			  const char *file, int line, struct hs_error *err)
{
	struct loader *ld = user;

	if (strcmp(section, "runtime") == 0) {
		char name[2 * HS_NAME_MAX + 2];

		snprintf(name, sizeof(name), "runtime.%s", key);
		for (int i = 0; i < ld->nruntime; i++)
			if (strcmp(runtime_keys[ld->runtime[i].key].key, key) == 0)
				return hs_error_set(err, HS_E_INPUT, file, line, name,
						    "duplicate key, first set on line %d; remove one",
						    ld->runtime[i].line);
		int rc = queue_pending(ld->runtime, &ld->nruntime, MAX_PENDING, runtime_keys,
				       NRUNTIME_KEYS, section, key, value, file, line, err);
		return rc < 0 ? rc : 1;
	}
	if (strcmp(section, "policy") == 0) {
		int rc = set_policy_param(ld->sc, key, value, file, line, true, err);

		return rc < 0 ? rc : 1;
	}
	return 0;
}

/* Applies one --set override. */
static int apply_override(struct loader *ld, const struct hs_override *ov, struct hs_error *err)
{
	char name[2 * HS_NAME_MAX + 2];
	char msg[sizeof(err->msg)];
	int i;

	snprintf(name, sizeof(name), "%s.%s", ov->section, ov->key);
	if (strcmp(ov->section, "os") == 0)
		return queue_pending(ld->os, &ld->nos, HS_MAX_OVERRIDES, os_keys, NOS_KEYS, "os",
				     ov->key, ov->value, SET_FILE, 0, err);
	if (strcmp(ov->section, "runtime") == 0 && strcmp(ov->key, "profile") != 0)
		return queue_pending(ld->runtime, &ld->nruntime, MAX_PENDING, runtime_keys,
				     NRUNTIME_KEYS, "runtime", ov->key, ov->value, SET_FILE, 0, err);
	if (strcmp(ov->section, "policy") == 0 && strcmp(ov->key, "name") != 0)
		return set_policy_param(ld->sc, ov->key, ov->value, SET_FILE, 0, false, err);

	i = cfg_find_key(scenario_keys, NSCENARIO_KEYS, ov->section, ov->key);
	if (i < 0) {
		char list[400];
		bool known = false;

		for (int s = 0; scenario_sections[s]; s++)
			known |= strcmp(scenario_sections[s], ov->section) == 0;
		if (!known)
			return hs_error_set(err, HS_E_INPUT, SET_FILE, 0, name,
					    "unknown section [%s]; use scenario, machine, runtime, "
					    "workload, callback, policy, record or os", ov->section);
		cfg_unknown_key(scenario_keys, NSCENARIO_KEYS, ov->section, ov->key, list,
				sizeof(list));
		return hs_error_set(err, HS_E_INPUT, SET_FILE, 0, name, "%s", list);
	}
	if (cfg_set_value(&scenario_keys[i], ld->sc, ov->value, msg, sizeof(msg)) < 0)
		return hs_error_set(err, HS_E_INPUT, SET_FILE, 0, name, "%s", msg);
	ld->key_lines[i] = 0;
	ld->key_files[i] = SET_FILE;
	return 0;
}

/* Points a not-found error for a profile name at the scenario key that
 * gave the name, when a scenario file or --set gave it. */
static void blame_key(const struct loader *ld, const char *section, const char *key,
		      struct hs_error *err)
{
	int i = cfg_find_key(scenario_keys, NSCENARIO_KEYS, section, key);

	if (i < 0 || (!ld->key_lines[i] && !ld->key_files[i]) || err->file[0])
		return;
	snprintf(err->file, sizeof(err->file), "%s", ld->key_files[i] ? ld->key_files[i] : ld->sc->file);
	err->line = ld->key_lines[i];
	snprintf(err->key, sizeof(err->key), "%s.%s", section, key);
}

/* Checks rules between keys once every source has been applied. */
static int check_scenario(const struct loader *ld, struct hs_error *err)
{
	const struct hs_scenario *sc = ld->sc;
	int a = cfg_find_key(scenario_keys, NSCENARIO_KEYS, "workload", "arrival");
	const char *file = ld->key_files[a] ? ld->key_files[a] : sc->file;

	if (sc->arrival == HS_ARRIVAL_TRACE && sc->trace[0] == '\0')
		return hs_error_set(err, HS_E_INPUT, file, ld->key_lines[a], "workload.arrival",
				    "arrival = trace needs a trace file; add `trace = FILE.csv` "
				    "to [workload]");
	if ((sc->arrival == HS_ARRIVAL_POISSON || sc->arrival == HS_ARRIVAL_PERIODIC) &&
	    sc->interval_ns <= 0)
		return hs_error_set(err, HS_E_INPUT, file, ld->key_lines[a], "workload.arrival",
				    "arrival = %s needs interval > 0; set [workload] interval, "
				    "e.g. interval = 1ms", arrival_words[sc->arrival]);
	return 0;
}

/* Sets each queued key in base and marks it present in lines (its
 * scenario line, or -1 for --set), so that a key the profile file lacks
 * counts as given when an override sets it. */
static int apply_pending(const struct cfg_key *keys, const struct pending *list, int n,
			 void *base, int *lines, struct hs_error *err)
{
	char msg[sizeof(err->msg)];

	for (int i = 0; i < n; i++) {
		const struct cfg_key *k = &keys[list[i].key];
		char name[2 * HS_NAME_MAX + 2];

		snprintf(name, sizeof(name), "%s.%s", k->section, k->key);
		if (cfg_set_value(k, base, list[i].value, msg, sizeof(msg)) < 0)
			return hs_error_set(err, HS_E_INPUT, list[i].file, list[i].line, name,
					    "%s", msg);
		lines[list[i].key] = list[i].line > 0 ? list[i].line : -1;
	}
	return 0;
}

/* Records where [policy] name was set, so that a name no policy has can
 * be reported at that line once the policies are resolved. */
static void note_policy_origin(const struct loader *ld)
{
	int i = cfg_find_key(scenario_keys, NSCENARIO_KEYS, "policy", "name");
	struct hs_scenario *sc = ld->sc;

	if (ld->key_files[i])
		snprintf(sc->policy_file, sizeof(sc->policy_file), "%s", ld->key_files[i]);
	else if (ld->key_lines[i])
		snprintf(sc->policy_file, sizeof(sc->policy_file), "%s", sc->file);
	sc->policy_line = ld->key_lines[i];
}

static int load_scenario(struct loader *ld, const char *arg, struct hs_error *err)
{
	struct source src;
	int rc = open_source(&src, arg, SCENARIO_DIR, NULL, "scenario",
			     "herdsim list scenarios", err);

	if (rc < 0)
		return rc;
	snprintf(ld->sc->file, sizeof(ld->sc->file), "%s", src.file);
	struct cfg_parse p = {
		.file = src.file, .text = src.text, .fp = src.fp, .keys = scenario_keys,
		.nkeys = NSCENARIO_KEYS, .sections = scenario_sections, .base = ld->sc,
		.key_lines = ld->key_lines, .extra = scenario_extra, .extra_user = ld,
	};
	rc = cfg_parse_ini(&p, err);
	close_source(&src);
	if (rc < 0)
		return rc;
	if (ld->sc->name[0] == '\0')
		base_name(ld->sc->name, sizeof(ld->sc->name), ld->sc->file);
	return 0;
}

int hs_config_load(struct hs_config *cfg, const char *scenario,
		   const struct hs_override *overrides, int noverrides,
		   const char *os_override, struct hs_error *err)
{
	struct loader ld;
	int os_lines[NOS_KEYS] = { 0 };
	int runtime_lines[NRUNTIME_KEYS] = { 0 };
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&ld, 0, sizeof(ld));
	ld.sc = &cfg->scenario;
	scenario_defaults(ld.sc);
	rc = load_scenario(&ld, scenario, err);
	for (int i = 0; rc == 0 && i < noverrides; i++)
		rc = apply_override(&ld, &overrides[i], err);
	if (rc == 0 && os_override) {
		if (os_override[0] == '\0' || strlen(os_override) >= sizeof(ld.sc->os))
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--os",
					    "empty or too long OS profile; run `herdsim list os`");
		snprintf(ld.sc->os, sizeof(ld.sc->os), "%s", os_override);
	}
	if (rc == 0)
		rc = check_scenario(&ld, err);
	if (rc == 0)
		note_policy_origin(&ld);
	if (rc == 0) {
		rc = read_os_profile(&cfg->os, ld.sc->os, os_lines, err);
		if (rc == HS_E_NOTFOUND && !os_override)
			blame_key(&ld, "machine", "os", err);
	}
	if (rc == 0)
		rc = apply_pending(os_keys, ld.os, ld.nos, &cfg->os, os_lines, err);
	if (rc == 0)
		rc = check_required(os_keys, NOS_KEYS, os_lines, cfg->os.file, err);
	if (rc == 0)
		rc = check_os_combination(&cfg->os, os_lines, err);
	if (rc == 0) {
		rc = read_runtime_profile(&cfg->runtime, ld.sc->runtime, runtime_lines, err);
		if (rc == HS_E_NOTFOUND)
			blame_key(&ld, "runtime", "profile", err);
	}
	if (rc == 0)
		rc = apply_pending(runtime_keys, ld.runtime, ld.nruntime, &cfg->runtime,
				   runtime_lines, err);
	if (rc == 0)
		rc = check_required(runtime_keys, NRUNTIME_KEYS, runtime_lines, cfg->runtime.file,
				    err);
	return rc;
}

static void copy_trimmed(char *dst, size_t size, const char *start, const char *end)
{
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t n = (size_t)(end - start);
	if (n >= size)
		n = size - 1;
	memcpy(dst, start, n);
	dst[n] = '\0';
}

int hs_override_parse(struct hs_override *ov, const char *text, struct hs_error *err)
{
	const char *eq = strchr(text, '=');
	const char *dot = strchr(text, '.');

	memset(ov, 0, sizeof(*ov));
	if (!eq || !dot || dot > eq)
		return hs_error_set(err, HS_E_USAGE, SET_FILE, 0, text,
				    "expected section.key=value, e.g. workload.threads=200");
	if ((size_t)(dot - text) >= sizeof(ov->section) || (size_t)(eq - dot - 1) >= sizeof(ov->key))
		return hs_error_set(err, HS_E_USAGE, SET_FILE, 0, NULL,
				    "'%.40s...': a section or key name is at most %zu characters; "
				    "docs/model.md lists the keys", text, sizeof(ov->key) - 1);
	if (strlen(eq + 1) >= sizeof(ov->value)) {
		char key[2 * HS_NAME_MAX];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - text), text);
		return hs_error_set(err, HS_E_USAGE, SET_FILE, 0, key,
				    "value is %zu characters long; the maximum is %zu",
				    strlen(eq + 1), sizeof(ov->value) - 1);
	}
	copy_trimmed(ov->section, sizeof(ov->section), text, dot);
	copy_trimmed(ov->key, sizeof(ov->key), dot + 1, eq);
	copy_trimmed(ov->value, sizeof(ov->value), eq + 1, eq + 1 + strlen(eq + 1));
	if (ov->section[0] == '\0' || ov->key[0] == '\0')
		return hs_error_set(err, HS_E_USAGE, SET_FILE, 0, text,
				    "empty section or key; expected section.key=value, "
				    "e.g. workload.threads=200");
	return 0;
}

static void each_key(const struct cfg_key *keys, int nkeys, const void *base, const char *prefix,
		     void (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
	char key[2 * HS_NAME_MAX + 2];
	char value[HS_PATH_MAX * 4];

	for (int i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "%s.%s", prefix ? prefix : keys[i].section, keys[i].key);
		cfg_format_value(&keys[i], base, value, sizeof(value));
		fn(ctx, key, value);
	}
}

void hs_config_each_param(const struct hs_config *cfg,
			  void (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
	const struct hs_scenario *sc = &cfg->scenario;
	char key[2 * HS_NAME_MAX + 2];
	char value[32];

	each_key(scenario_keys, NSCENARIO_KEYS, sc, NULL, fn, ctx);
	each_key(os_keys, NOS_KEYS, &cfg->os, NULL, fn, ctx);
	each_key(runtime_keys, NRUNTIME_KEYS, &cfg->runtime, NULL, fn, ctx);
	for (int i = 0; i < sc->npolicy_params; i++) {
		snprintf(key, sizeof(key), "policy.%s", sc->policy_param_names[i]);
		snprintf(value, sizeof(value), "%lld", (long long)sc->policy_param_values[i]);
		fn(ctx, key, value);
	}
}

/* Shipped names, filled once from the embedded file list. */
#define MAX_NAMES 64
static char os_name_buf[MAX_NAMES][HS_NAME_MAX];
static const char *os_names[MAX_NAMES + 1];
static char scenario_name_buf[MAX_NAMES][HS_NAME_MAX];
static const char *scenario_names[MAX_NAMES + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void fill_names(void)
{
	int nos = 0, nsc = 0;
	size_t plen = strlen(PROFILE_DIR), slen = strlen(SCENARIO_DIR);

	for (const struct hs_embedded_file *f = hs_embedded_files; f->path; f++) {
		size_t n = strlen(f->path);

		if (n < 4 || strcmp(f->path + n - 4, ".ini") != 0)
			continue;
		if (strncmp(f->path, PROFILE_DIR, plen) == 0 && nos < MAX_NAMES &&
		    has_section(f->content, "os")) {
			base_name(os_name_buf[nos], HS_NAME_MAX, f->path);
			os_names[nos] = os_name_buf[nos];
			nos++;
		} else if (strncmp(f->path, SCENARIO_DIR, slen) == 0 && nsc < MAX_NAMES) {
			base_name(scenario_name_buf[nsc], HS_NAME_MAX, f->path);
			scenario_names[nsc] = scenario_name_buf[nsc];
			nsc++;
		}
	}
	os_names[nos] = NULL;
	scenario_names[nsc] = NULL;
}

const char *const *hs_os_profile_names(void)
{
	pthread_once(&names_once, fill_names);
	return os_names;
}

const char *const *hs_scenario_names(void)
{
	pthread_once(&names_once, fill_names);
	return scenario_names;
}

/* The knots of hs_spread_at: quantiles and their factors. */
static void spread_knots(const struct hs_spread *sp, double u[6], double f[6])
{
	static const double at[6] = { 0, 0.1, 0.5, 0.9, 0.99, 1 };

	for (int i = 0; i < 6; i++)
		u[i] = at[i];
	f[0] = f[1] = sp->p10;
	f[2] = 1;
	f[3] = sp->p90;
	f[4] = f[5] = sp->p99;
}

double hs_spread_at(const struct hs_spread *sp, double u)
{
	double at[6], f[6];

	if (sp->p10 <= 0)
		return 1;
	spread_knots(sp, at, f);
	if (u <= 0)
		return f[0];
	for (int i = 1; i < 6; i++)
		if (u <= at[i])
			return f[i - 1] + (f[i] - f[i - 1]) * (u - at[i - 1]) / (at[i] - at[i - 1]);
	return f[5];
}

double hs_spread_mean(const struct hs_spread *sp)
{
	double at[6], f[6], sum = 0;

	if (sp->p10 <= 0)
		return 1;
	spread_knots(sp, at, f);
	for (int i = 1; i < 6; i++)
		sum += (at[i] - at[i - 1]) * (f[i] + f[i - 1]) / 2;
	return sum;
}

int64_t hs_cold_extra(const struct hs_os_profile *os, int64_t d)
{
	const struct hs_cold_point *p = os->switch_cold;
	int n = os->nswitch_cold;

	if (n == 0)
		return 0;
	if (d <= p[0].threads)
		return p[0].ns;
	for (int i = 1; i < n; i++) {
		if (d <= p[i].threads) {
			double a = log2((double)p[i - 1].threads), b = log2((double)p[i].threads);
			double f = (log2((double)d) - a) / (b - a);

			return p[i - 1].ns + (int64_t)((double)(p[i].ns - p[i - 1].ns) * f);
		}
	}
	return p[n - 1].ns;
}
