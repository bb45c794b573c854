/*
 * Expansion of `herdsim sweep --vary` value lists (syntax in sweep.h).
 * Pure string work: no I/O, no global state.
 */
#include "sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_MAX 8

/* A number with an optional unit suffix, as written in a range. */
struct number {
	double value;
	int64_t integer;
	bool is_integer;
	char unit[UNIT_MAX];
};

struct value_list {
	char **data;
	int n;
};

/* Parses "[-]DIGITS[.DIGITS][UNIT]" from text[0..len). */
static bool parse_number(const char *text, size_t len, struct number *num)
{
	char buf[64], *end;
	size_t unit_len;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (!isdigit((unsigned char)buf[0]) && !(buf[0] == '-' && isdigit((unsigned char)buf[1])))
		return false;
	errno = 0;
	num->value = strtod(buf, &end);
	if (errno || !isfinite(num->value))
		return false;
	unit_len = strlen(end);
	if (unit_len >= UNIT_MAX)
		return false;
	for (size_t i = 0; i < unit_len; i++)
		if (!isalpha((unsigned char)end[i]))
			return false;
	memcpy(num->unit, end, unit_len + 1);
	*end = '\0';
	num->is_integer = strpbrk(buf, ".eE") == NULL;
	if (num->is_integer) {
		errno = 0;
		num->integer = strtoll(buf, NULL, 10);
		if (errno)
			return false;
	}
	return true;
}

static int add_value(struct value_list *list, const char *value, const char *item,
		     struct hs_error *err)
{
	char **grown;

	for (int i = 0; i < list->n; i++)
		if (strcmp(list->data[i], value) == 0)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
					    "value '%s' appears twice; give each value once", value);
	if (list->n == HS_SWEEP_MAX_VALUES)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "more than %d values; use a coarser range", HS_SWEEP_MAX_VALUES);
	grown = realloc(list->data, (size_t)(list->n + 1) * sizeof(*grown));
	if (!grown)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, item, "out of memory");
	list->data = grown;
	list->data[list->n] = strdup(value);
	if (!list->data[list->n])
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, item, "out of memory");
	list->n++;
	return 0;
}

/* Appends the values of A..B (step `step`, geometric when `op` is '*'). */
static int expand_range(struct value_list *list, const struct number *a, const struct number *b,
			const struct number *step, char op, const char *item, struct hs_error *err)
{
	char text[96];
	int rc = 0;

	if (op == '*' && (a->value <= 0 || step->value <= 1))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "a geometric range A..B*F needs A > 0 and F > 1");
	if (op == '+' && step->value <= 0)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "an arithmetic range A..B+D needs D > 0");
	if (a->value > b->value)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "the range starts above its end; write A..B with A <= B");

	if (a->is_integer && b->is_integer && step->is_integer) {
		/* Exact: stop before overflow as well as above B. */
		for (int64_t v = a->integer; rc == 0 && v <= b->integer;) {
			snprintf(text, sizeof(text), "%lld%s", (long long)v, a->unit);
			rc = add_value(list, text, item, err);
			if (op == '*' ? v > INT64_MAX / step->integer : v > INT64_MAX - step->integer)
				break;
			v = op == '*' ? v * step->integer : v + step->integer;
		}
		return rc;
	}

	/* Each value is computed from A directly, so rounding does not
	 * accumulate; the relative tolerance keeps B itself in the list. */
	for (int i = 0; rc == 0; i++) {
		double v = op == '*' ? a->value * pow(step->value, i) : a->value + i * step->value;

		if (v > b->value + 1e-9 * fabs(b->value) || i > HS_SWEEP_MAX_VALUES)
			break;
		snprintf(text, sizeof(text), "%.10g%s", v, a->unit);
		rc = add_value(list, text, item, err);
	}
	return rc;
}

/* Parses one item "A..B*F" or "A..B+D" (dots already found at `dots`). */
static int parse_range(struct value_list *list, const char *item, const char *dots,
		       struct hs_error *err)
{
	const char *rest = dots + 2;
	const char *op = strrchr(rest, '*');
	struct number a, b, step;

	if (!op)
		op = strrchr(rest, '+');
	if (!op)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "a range needs a step: A..B*F (geometric) or A..B+D (arithmetic)");
	if (!parse_number(item, (size_t)(dots - item), &a) ||
	    !parse_number(rest, (size_t)(op - rest), &b) ||
	    !parse_number(op + 1, strlen(op + 1), &step))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "malformed range; write numbers with an optional unit, "
				    "e.g. 10..10000*10 or 0us..50us+10us");
	if (strcmp(a.unit, b.unit) != 0)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "the two ends have different units ('%s' and '%s'); use one unit",
				    a.unit, b.unit);
	if (*op == '*' && step.unit[0] != '\0')
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "the factor of a geometric range is a plain number");
	if (*op == '+' && step.unit[0] != '\0' && strcmp(step.unit, a.unit) != 0)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, item,
				    "the step has unit '%s' but the range has '%s'; use one unit",
				    step.unit, a.unit);
	return expand_range(list, &a, &b, &step, *op, item, err);
}

/* Copies text[0..len) without leading and trailing blanks. */
static void copy_trimmed(char *out, size_t size, const char *text, size_t len)
{
	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(out, text, len);
	out[len] = '\0';
}

int hs_sweep_parse_values(const char *text, char ***values, int *n, struct hs_error *err)
{
	struct value_list list = { 0 };
	const char *p = text;
	int rc = 0;

	*values = NULL;
	*n = 0;
	while (rc == 0) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[256];
		const char *dots;

		if (len >= sizeof(item)) {
			rc = hs_error_set(err, HS_E_USAGE, NULL, 0, text, "a value is longer than %zu characters",
					  sizeof(item) - 1);
			break;
		}
		copy_trimmed(item, sizeof(item), p, len);
		dots = strstr(item, "..");
		if (item[0] == '\0')
			rc = hs_error_set(err, HS_E_USAGE, NULL, 0, text,
					  "empty value in the list; separate values with single commas");
		else if (dots)
			rc = parse_range(&list, item, dots, err);
		else
			rc = add_value(&list, item, item, err);
		if (!comma)
			break;
		p = comma + 1;
	}
	if (rc) {
		hs_sweep_free_values(list.data, list.n);
		return rc;
	}
	*values = list.data;
	*n = list.n;
	return 0;
}

void hs_sweep_free_values(char **values, int n)
{
	for (int i = 0; i < n; i++)
		free(values[i]);
	free(values);
}
