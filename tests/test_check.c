/*
 * Tests of `herdsim check-policy` and out-of-tree policies, through the
 * built binary (HS_BIN): every shipped policy passes the quick grid; each
 * broken fixture fails with the invariant it breaks and a seed; the
 * example policy builds against an installed policy.h found with
 * pkg-config, loads and passes; a policy of another ABI version is
 * rejected naming both versions.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry.h"

/* Runs a shell command; returns its exit status and its output (stdout
 * and stderr) in out. */
static int run_cmd(const char *cmd, char *out, size_t size)
{
	char full[4096];
	FILE *f;
	size_t n;
	int st;

	snprintf(full, sizeof(full), "(%s) 2>&1", cmd);
	f = popen(full, "r");
	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The build directory: the directory of HS_BIN. */
static const char *build_dir(void)
{
	static char dir[1024];

	snprintf(dir, sizeof(dir), "%s", HS_BIN);
	return dirname(dir);
}

static void test_shipped_policies_pass(void **state)
{
	static char out[65536];

	for (int i = 0; hs_policies[i]; i++) {
		char cmd[2048];
		int rc;

		snprintf(cmd, sizeof(cmd), "%s check-policy %s --quick", HS_BIN, hs_policies[i]->name);
		rc = run_cmd(cmd, out, sizeof(out));
		if (rc != 0)
			fail_msg("%s: exit %d: %s", hs_policies[i]->name, rc, out);
		assert_non_null(strstr(out, "PASS"));
	}
}

struct broken_case {
	const char *file;
	const char *invariants[2]; /* any of these */
};

static void test_broken_policies_fail(void **state)
{
	static const struct broken_case cases[] = {
		{ "broken_unlock.so", { "invariant deadlock", "invariant timeout" } },
		{ "broken_lose.so", { "invariant m-lost", NULL } },
		{ "broken_nowake.so", { "invariant deadlock", NULL } },
		{ "broken_unbounded.so", { "invariant m-bounded", NULL } },
	};
	static char out[65536];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cmd[2048];
		int rc;

		snprintf(cmd, sizeof(cmd), "%s check-policy %s/tests/policies/%s --quick", HS_BIN, build_dir(),
			 cases[i].file);
		rc = run_cmd(cmd, out, sizeof(out));
		assert_int_equal(rc, 3);
		if (!strstr(out, cases[i].invariants[0]) &&
		    !(cases[i].invariants[1] && strstr(out, cases[i].invariants[1])))
			fail_msg("%s: expected %s: %s", cases[i].file, cases[i].invariants[0], out);
		assert_non_null(strstr(out, "at seed 1"));
		assert_non_null(strstr(out, "replay: herdsim run "));
	}
}

static void test_broken_replay_reproduces(void **state)
{
	static char out[65536];
	char cmd[4096], *replay, *nl;

	snprintf(cmd, sizeof(cmd), "%s check-policy %s/tests/policies/broken_lose.so --quick", HS_BIN, build_dir());
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 3);
	replay = strstr(out, "replay: herdsim run ");
	assert_non_null(replay);
	replay += strlen("replay: herdsim ");
	nl = strchr(replay, '\n');
	if (nl)
		*nl = '\0';
	snprintf(cmd, sizeof(cmd), "%s %s --db /tmp/herdsim-test-check-%d.sqlite -q; rc=$?; rm -f /tmp/herdsim-test-check-%d.sqlite; exit $rc",
		 HS_BIN, replay, (int)getpid(), (int)getpid());
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 3);
	assert_non_null(strstr(out, "M's lost"));
}

static void test_example_builds_installed(void **state)
{
	static char out[65536];
	char prefix[] = "/tmp/herdsim-test-prefix-XXXXXX";
	char cmd[4096];

	assert_non_null(mkdtemp(prefix));
	snprintf(cmd, sizeof(cmd), "make -s -C %s BUILD=%s PREFIX=%s install", HS_SRCDIR, build_dir(), prefix);
	if (run_cmd(cmd, out, sizeof(out)) != 0)
		fail_msg("make install: %s", out);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && cc -std=c17 -Wall -Wextra -Werror $(PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags herdsim) "
		 "-shared -fPIC -o mutex.so %s/policies/examples/mutex.c",
		 prefix, prefix, HS_SRCDIR);
	if (run_cmd(cmd, out, sizeof(out)) != 0)
		fail_msg("build against the install: %s", out);
	/* the flags point into the prefix, not the source tree */
	snprintf(cmd, sizeof(cmd), "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags herdsim", prefix);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, prefix));
	assert_non_null(strstr(out, "/include/herdsim"));

	snprintf(cmd, sizeof(cmd), "cd %s && %s/bin/herdsim check-policy ./mutex.so --quick", prefix, prefix);
	if (run_cmd(cmd, out, sizeof(out)) != 0)
		fail_msg("check-policy ./mutex.so: %s", out);
	assert_non_null(strstr(out, "PASS mutex"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", prefix);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
}

static void test_wrong_abi_rejected(void **state)
{
	static char out[8192];
	char cmd[2048], expect[128];

	snprintf(cmd, sizeof(cmd), "%s check-policy %s/tests/policies/wrong_abi.so --quick", HS_BIN, build_dir());
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "wrong_abi.so"));
	assert_non_null(strstr(out, "version 42"));
	snprintf(expect, sizeof(expect), "has version %d", HS_POLICY_ABI_VERSION);
	assert_non_null(strstr(out, expect));
	/* one line */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void test_loader_errors_name_file(void **state)
{
	const struct hs_policy *p = NULL;
	struct hs_error err = { 0 };
	char path[1200];

	assert_int_equal(hs_policy_load("./no-such-policy.so", &p, &err), HS_E_NOTFOUND);
	assert_string_equal(err.file, "./no-such-policy.so");
	assert_null(p);

	/* a shared object without the symbol: the sqlite library */
	assert_int_equal(hs_policy_load("/lib/x86_64-linux-gnu/libsqlite3.so.0", &p, &err), HS_E_NOTFOUND);
	assert_string_equal(err.key, HS_POLICY_SYMBOL);

	snprintf(path, sizeof(path), "%s/examples/mutex.so", build_dir());
	assert_int_equal(hs_policy_load(path, &p, &err), 0);
	assert_string_equal(p->name, "mutex");
	assert_true(hs_policy_is_path("x.so"));
	assert_true(hs_policy_is_path("dir/x"));
	assert_false(hs_policy_is_path("waiters"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_policies_pass),
		cmocka_unit_test(test_broken_policies_fail),
		cmocka_unit_test(test_broken_replay_reproduces),
		cmocka_unit_test(test_example_builds_installed),
		cmocka_unit_test(test_wrong_abi_rejected),
		cmocka_unit_test(test_loader_errors_name_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
