/*
 * The policy registry: the policies compiled into herdsim, looked up by
 * name, and the resolution of a policy's parameters.
 */
#ifndef HERDSIM_REGISTRY_H
#define HERDSIM_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "policy.h"

/* NULL-terminated list of the shipped policies, in display order. */
extern const struct hs_policy *const hs_policies[];

/* Returns the shipped policy with this name, or NULL. */
const struct hs_policy *hs_policy_find(const char *name);

/*
 * Resolves a policy's parameters: each takes its default, then the value
 * the scenario's [policy] section gives.  A scenario key that names no
 * parameter of this policy, or a value out of range, is HS_E_INPUT naming
 * the scenario file, line and key.  `values` receives one entry per
 * parameter, in the policy's order.
 */
int hs_policy_params(const struct hs_policy *p, const struct hs_scenario *sc,
		     int64_t values[HS_POLICY_MAX_PARAMS], struct hs_error *err);

/*
 * Resolves policy names ("all" expands to every shipped policy) into at
 * most `max` policies, dropping repeats.  A name that hs_policy_is_path
 * accepts is loaded with hs_policy_load.  An unknown name is
 * HS_E_NOTFOUND.
 */
int hs_policy_resolve(const char *const *names, int nnames, const struct hs_policy **out, int max,
		      int *n, struct hs_error *err);

/*
 * Resolves the scenario's [policy] name as hs_policy_resolve does.  A name
 * that is neither a shipped policy, "all" nor a path is HS_E_NOTFOUND.
 * The error names sc->policy_file and sc->policy_line, where the key was
 * set, the key policy.name, the value and the shipped names.
 */
int hs_policy_resolve_scenario(const struct hs_scenario *sc, const struct hs_policy **out, int max,
			       int *n, struct hs_error *err);

/* Returns true when `name` names a shared object rather than a shipped
 * policy: it contains '/' or ends in ".so". */
bool hs_policy_is_path(const char *name);

/*
 * Loads an out-of-tree policy: dlopen()s `path` (a name without '/' is
 * taken relative to the current directory) and reads its exported
 * HS_POLICY_SYMBOL.  The object stays loaded until the process exits.
 * Errors name the file: HS_E_NOTFOUND when dlopen fails or the symbol is
 * missing, HS_E_VERSION when its abi_version is not
 * HS_POLICY_ABI_VERSION (the message gives both), HS_E_INPUT when a
 * required field (name, acquire, release) is NULL.
 */
int hs_policy_load(const char *path, const struct hs_policy **out, struct hs_error *err);

/* Copies sc keeping only the [policy] parameters that p declares, so one
 * scenario can carry the parameters of several policies. */
void hs_scenario_for_policy(const struct hs_scenario *sc, const struct hs_policy *p,
			    struct hs_scenario *copy);

/* Checks that every [policy] parameter of sc belongs to at least one of
 * the n policies and is in range for each policy that has it. */
int hs_policy_check_params(const struct hs_scenario *sc, const struct hs_policy *const *pols, int n,
			   struct hs_error *err);

#endif /* HERDSIM_REGISTRY_H */
