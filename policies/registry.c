#include "registry.h"

#include <string.h>

extern const struct hs_policy hs_policy_single;
extern const struct hs_policy hs_policy_waiters;

const struct hs_policy *const hs_policies[] = {
	&hs_policy_single,
	&hs_policy_waiters,
	NULL,
};

const struct hs_policy *hs_policy_find(const char *name)
{
	for (int i = 0; hs_policies[i]; i++)
		if (strcmp(hs_policies[i]->name, name) == 0)
			return hs_policies[i];
	return NULL;
}

int hs_policy_params(const struct hs_policy *p, const struct hs_scenario *sc,
		     int64_t values[HS_POLICY_MAX_PARAMS], struct hs_error *err)
{
	int n = 0;

	for (; p->params && p->params[n].name && n < HS_POLICY_MAX_PARAMS; n++)
		values[n] = p->params[n].default_value;
	for (int i = n; i < HS_POLICY_MAX_PARAMS; i++)
		values[i] = 0;

	for (int k = 0; k < sc->npolicy_params; k++) {
		const char *key = sc->policy_param_names[k];
		int64_t v = sc->policy_param_values[k];
		int found = -1;

		for (int i = 0; i < n; i++)
			if (strcmp(p->params[i].name, key) == 0)
				found = i;
		if (found < 0)
			return hs_error_set(err, HS_E_INPUT, sc->file, sc->policy_param_lines[k], key,
					    "policy %s has no parameter '%s'; remove it or pick a policy that has it",
					    p->name, key);
		if (v < p->params[found].min_value || v > p->params[found].max_value)
			return hs_error_set(err, HS_E_INPUT, sc->file, sc->policy_param_lines[k], key,
					    "value %lld is out of range; use %lld to %lld",
					    (long long)v, (long long)p->params[found].min_value,
					    (long long)p->params[found].max_value);
		values[found] = v;
	}
	return 0;
}
