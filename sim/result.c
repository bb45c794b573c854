#include "result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hs_vec_grow(void **data, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p = realloc(*data, ncap * elem);

	if (!p)
		return HS_E_NOMEM;
	*data = p;
	*cap = ncap;
	return 0;
}

int hs_vec_reserve(void **data, size_t *cap, size_t elem, size_t n)
{
	void *p;

	if (*data || n == 0)
		return 0;
	p = malloc(n * elem);
	if (!p)
		return HS_E_NOMEM;
	*data = p;
	*cap = n;
	return 0;
}

void *hs_vec_zero(void *p, size_t n)
{
	return memset(p, 0, n);
}

static const char *const tstate_names[HS_TS_COUNT] = {
	"running", "runnable", "sleeping", "blocked", "yielding",
};

static const char *const reason_names[HS_R_COUNT] = {
	"none", "create", "exit", "work", "preempt", "wake", "yield", "usleep",
	"futex", "lock", "p_wait", "stw", "gc_wait", "think", "idle", "mmap_lock",
};

const char *hs_tstate_name(enum hs_tstate s)
{
	return (unsigned)s < HS_TS_COUNT ? tstate_names[s] : "unknown";
}

const char *hs_reason_name(enum hs_reason r)
{
	return (unsigned)r < HS_R_COUNT ? reason_names[r] : "unknown";
}

const char *hs_status_name(enum hs_status s)
{
	switch (s) {
	case HS_STATUS_OK: return "ok";
	case HS_STATUS_DEADLOCK: return "deadlock";
	case HS_STATUS_TIMEOUT: return "timeout";
	case HS_STATUS_ERROR: return "error";
	}
	return "error";
}

void hs_result_init(struct hs_run_result *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->backend, sizeof(r->backend), "sim");
}

void hs_result_free(struct hs_run_result *r)
{
	HS_VEC_FREE(&r->params);
	HS_VEC_FREE(&r->scalars);
	HS_VEC_FREE(&r->locks);
	HS_VEC_FREE(&r->threads);
	HS_VEC_FREE(&r->ms);
	HS_VEC_FREE(&r->hists);
	HS_VEC_FREE(&r->states);
	HS_VEC_FREE(&r->wakes);
	HS_VEC_FREE(&r->callbacks);
	HS_VEC_FREE(&r->gauges);
	HS_VEC_FREE(&r->workload);
}

int hs_result_scalar(struct hs_run_result *r, const char *name, double value)
{
	struct hs_scalar_rec *s;

	for (size_t i = 0; i < r->scalars.len; i++) {
		if (strcmp(r->scalars.data[i].name, name) == 0) {
			r->scalars.data[i].value = value;
			return 0;
		}
	}
	s = HS_VEC_PUSH(&r->scalars);
	if (!s)
		return HS_E_NOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->value = value;
	return 0;
}

double hs_result_get(const struct hs_run_result *r, const char *name, double missing)
{
	for (size_t i = 0; i < r->scalars.len; i++)
		if (strcmp(r->scalars.data[i].name, name) == 0)
			return r->scalars.data[i].value;
	return missing;
}

int hs_result_param(struct hs_run_result *r, const char *key, const char *value)
{
	struct hs_param_rec *p = HS_VEC_PUSH(&r->params);

	if (!p)
		return HS_E_NOMEM;
	snprintf(p->key, sizeof(p->key), "%s", key);
	snprintf(p->value, sizeof(p->value), "%s", value);
	return 0;
}
