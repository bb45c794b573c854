/*
 * The policy registry: the shipped policies in display order, lookup by
 * name or by the path of an out-of-tree shared object, and parameter
 * resolution.
 */
#include "registry.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern const struct hs_policy hs_policy_single;
extern const struct hs_policy hs_policy_waiters;
extern const struct hs_policy hs_policy_bind;
extern const struct hs_policy hs_policy_watermark;
extern const struct hs_policy hs_policy_handoff;
extern const struct hs_policy hs_policy_background;

const struct hs_policy *const hs_policies[] = {
	&hs_policy_single,
	&hs_policy_waiters,
	&hs_policy_bind,
	&hs_policy_watermark,
	&hs_policy_handoff,
	&hs_policy_background,
	NULL,
};

const struct hs_policy *hs_policy_find(const char *name)
{
	for (int i = 0; hs_policies[i]; i++)
		if (strcmp(hs_policies[i]->name, name) == 0)
			return hs_policies[i];
	return NULL;
}

/* Returns the file an error about policy parameter k of sc names: the
 * scenario file, or none for a parameter given on the command line (--set,
 * or a sweep's --vary), whose line is 0.  param_key then gives the key
 * with its section. */
static const char *param_file(const struct hs_scenario *sc, int k)
{
	return sc->policy_param_lines[k] > 0 ? sc->file : NULL;
}

static const char *param_key(const struct hs_scenario *sc, int k, char *buf, size_t size)
{
	if (sc->policy_param_lines[k] > 0)
		return sc->policy_param_names[k];
	snprintf(buf, size, "policy.%s", sc->policy_param_names[k]);
	return buf;
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
		char where[HS_NAME_MAX + 8];
		int found = -1;

		for (int i = 0; i < n; i++)
			if (strcmp(p->params[i].name, key) == 0)
				found = i;
		if (found < 0)
			return hs_error_set(err, HS_E_INPUT, param_file(sc, k), sc->policy_param_lines[k],
					    param_key(sc, k, where, sizeof(where)),
					    "policy %s has no parameter '%s'; remove it or pick a policy that has it",
					    p->name, key);
		if (v < p->params[found].min_value || v > p->params[found].max_value)
			return hs_error_set(err, HS_E_INPUT, param_file(sc, k), sc->policy_param_lines[k],
					    param_key(sc, k, where, sizeof(where)),
					    "value %lld is out of range; use %lld to %lld",
					    (long long)v, (long long)p->params[found].min_value,
					    (long long)p->params[found].max_value);
		values[found] = v;
	}
	return 0;
}

/* Writes the shipped policy names as "a, b, c" for error messages. */
static void list_names(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; hs_policies[i] && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", hs_policies[i]->name);
}

int hs_policy_resolve(const char *const *names, int nnames, const struct hs_policy **out, int max,
		      int *n, struct hs_error *err)
{
	*n = 0;
	for (int i = 0; i < nnames; i++) {
		if (strcmp(names[i], "all") == 0) {
			for (int k = 0; hs_policies[k] && *n < max; k++)
				out[(*n)++] = hs_policies[k];
			continue;
		}
		const struct hs_policy *p = NULL;

		if (hs_policy_is_path(names[i])) {
			int rc = hs_policy_load(names[i], &p, err);

			if (rc)
				return rc;
		} else {
			p = hs_policy_find(names[i]);
		}
		if (!p) {
			char known[256];

			list_names(known, sizeof(known));
			return hs_error_set(err, HS_E_NOTFOUND, NULL, 0, names[i],
					    "unknown policy; use %s or all, or the path of a policy .so "
					    "(`herdsim list policies` describes each)", known);
		}
		if (*n == max)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, names[i], "at most %d policies", max);
		out[(*n)++] = p;
	}

	/* drop duplicates, keeping the first */
	for (int i = 0; i < *n; i++)
		for (int j = i + 1; j < *n; j++)
			if (out[j] == out[i]) {
				memmove(&out[j], &out[j + 1], (size_t)(*n - j - 1) * sizeof(*out));
				(*n)--;
				j--;
			}
	return 0;
}

int hs_policy_resolve_scenario(const struct hs_scenario *sc, const struct hs_policy **out, int max,
			       int *n, struct hs_error *err)
{
	const char *name = sc->policy;
	char known[256];
	int rc = hs_policy_resolve(&name, 1, out, max, n, err);

	/* a path that fails to load keeps the error naming that file */
	if (rc != HS_E_NOTFOUND || hs_policy_is_path(name))
		return rc;
	list_names(known, sizeof(known));
	return hs_error_set(err, HS_E_NOTFOUND, sc->policy_file[0] ? sc->policy_file : NULL,
			    sc->policy_line, "policy.name",
			    "unknown policy '%s'; use %s or all, or the path of a policy .so "
			    "(`herdsim list policies` describes each)", name, known);
}

void hs_scenario_for_policy(const struct hs_scenario *sc, const struct hs_policy *p,
			    struct hs_scenario *copy)
{
	*copy = *sc;
	copy->npolicy_params = 0;
	for (int k = 0; k < sc->npolicy_params; k++) {
		for (int i = 0; p->params && p->params[i].name; i++) {
			if (strcmp(p->params[i].name, sc->policy_param_names[k]) != 0)
				continue;
			int j = copy->npolicy_params++;

			memcpy(copy->policy_param_names[j], sc->policy_param_names[k], HS_NAME_MAX);
			copy->policy_param_values[j] = sc->policy_param_values[k];
			copy->policy_param_lines[j] = sc->policy_param_lines[k];
		}
	}
}

int hs_policy_check_params(const struct hs_scenario *sc, const struct hs_policy *const *pols, int n,
			   struct hs_error *err)
{
	for (int k = 0; k < sc->npolicy_params; k++) {
		bool known = false;

		for (int p = 0; p < n && !known; p++)
			for (int i = 0; pols[p]->params && pols[p]->params[i].name; i++)
				if (strcmp(pols[p]->params[i].name, sc->policy_param_names[k]) == 0)
					known = true;
		if (!known) {
			char where[HS_NAME_MAX + 8];

			return hs_error_set(err, HS_E_INPUT, param_file(sc, k), sc->policy_param_lines[k],
					    param_key(sc, k, where, sizeof(where)),
					    "no selected policy has this parameter; remove it or select a policy that has it");
		}
	}
	for (int p = 0; p < n; p++) {
		struct hs_scenario copy;
		int64_t values[HS_POLICY_MAX_PARAMS];
		int rc;

		hs_scenario_for_policy(sc, pols[p], &copy);
		rc = hs_policy_params(pols[p], &copy, values, err);
		if (rc)
			return rc;
	}
	return 0;
}
