/*
 * Loading out-of-tree policies from shared objects.
 *
 * An object exports one `struct hs_policy` named HS_POLICY_SYMBOL.  It is
 * opened with RTLD_NOW | RTLD_LOCAL, so an unresolved symbol fails at load
 * time rather than in the middle of a run, and it is never closed: the
 * policy's functions and strings are used until the process exits.
 * Opening the same file twice returns the same handle and the same policy
 * pointer, so repeats are dropped by pointer like shipped policies.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

bool hs_policy_is_path(const char *name)
{
	size_t n = strlen(name);

	return strchr(name, '/') != NULL || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

int hs_policy_load(const char *path, const struct hs_policy **out, struct hs_error *err)
{
	char local[HS_PATH_MAX + 2];
	const struct hs_policy *p;
	const char *open_path = path;
	const char *why;
	void *handle;

	*out = NULL;
	if (!strchr(path, '/')) {
		/* dlopen would search the library path for a bare name */
		if (strlen(path) >= HS_PATH_MAX)
			return hs_error_set(err, HS_E_USAGE, path, 0, NULL, "policy path is too long");
		snprintf(local, sizeof(local), "./%s", path);
		open_path = local;
	}
	dlerror();
	handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		why = dlerror();
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL,
				    "cannot load policy: %s; give the path of a shared object built against policy.h",
				    why ? why : "dlopen failed");
	}
	p = dlsym(handle, HS_POLICY_SYMBOL);
	if (!p)
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, HS_POLICY_SYMBOL,
				    "symbol not found; a policy object exports `const struct hs_policy %s`",
				    HS_POLICY_SYMBOL);
	if (p->abi_version != HS_POLICY_ABI_VERSION)
		return hs_error_set(err, HS_E_VERSION, path, 0, NULL,
				    "policy built for contract version %d, but this herdsim has version %d; rebuild it against this herdsim's policy.h",
				    p->abi_version, HS_POLICY_ABI_VERSION);
	if (!p->name || !p->name[0] || !p->acquire || !p->release || !p->init)
		return hs_error_set(err, HS_E_INPUT, path, 0, HS_POLICY_SYMBOL,
				    "policy lacks a name, init, acquire or release; set every required field");
	*out = p;
	return 0;
}
