/*
 * The policy registry: the policies compiled into herdsim, looked up by
 * name, and the resolution of a policy's parameters.
 */
#ifndef HERDSIM_REGISTRY_H
#define HERDSIM_REGISTRY_H

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

#endif /* HERDSIM_REGISTRY_H */
