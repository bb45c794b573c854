/*
 * Value syntax and strict INI parsing for scenarios and profiles.
 *
 * inih does the tokenising.  Debian builds it without INI_HANDLER_LINENO,
 * so the handler does not receive line numbers.  Every file is therefore
 * read through ini_parse_stream() with a reader that hands inih one line per
 * call and counts them: when inih calls the handler, the counter is the line
 * of that key.  The reader also sees each raw line, which lets it reject
 * unknown [section] headers (inih reports sections only through keys) and
 * indented lines (which inih would silently join to the previous value).
 *
 * Invariants:
 *   1. Only the first error is reported; later lines are still read by
 *      inih but their handler calls do nothing.
 *   2. A key's value is stored only after it parsed and passed its range.
 *   3. Durations are exact: the decimal text is converted with integer
 *      arithmetic and rounded to the nearest nanosecond, halves up.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <ini.h>

#define NS_PER_US INT64_C(1000)
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

/* Longest fraction kept when parsing a duration; 10^18 fits in uint64_t and
 * is far below a nanosecond for every unit. */
#define MAX_FRACTION_DIGITS 18

struct unit {
	const char *name;
	int64_t factor;
};

static const struct unit duration_units[] = {
	{ "ns", 1 }, { "us", NS_PER_US }, { "ms", NS_PER_MS }, { "s", NS_PER_S }, { NULL, 0 },
};

static const struct unit size_units[] = {
	{ "B", 1 }, { "KiB", INT64_C(1) << 10 }, { "MiB", INT64_C(1) << 20 },
	{ "GiB", INT64_C(1) << 30 }, { NULL, 0 },
};

static const struct unit *find_unit(const struct unit *units, const char *name)
{
	for (const struct unit *u = units; u->name; u++)
		if (strcmp(u->name, name) == 0)
			return u;
	return NULL;
}

/* Parses the digits at *p into *out (no sign).  Returns the number of digits
 * read, or -1 on overflow past INT64_MAX. */
static int parse_digits(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (isdigit((unsigned char)**p)) {
		unsigned d = (unsigned)(**p - '0');

		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		(*p)++;
		n++;
	}
	*out = v;
	return n;
}

void cfg_format_duration(int64_t ns, char *buf, size_t size)
{
	if (ns != 0 && ns % NS_PER_S == 0)
		snprintf(buf, size, "%" PRId64 "s", ns / NS_PER_S);
	else if (ns != 0 && ns % NS_PER_MS == 0)
		snprintf(buf, size, "%" PRId64 "ms", ns / NS_PER_MS);
	else if (ns != 0 && ns % NS_PER_US == 0)
		snprintf(buf, size, "%" PRId64 "us", ns / NS_PER_US);
	else
		snprintf(buf, size, "%" PRId64 "ns", ns);
}

/* Duration syntax: DIGITS [ "." DIGITS ] UNIT, or the bare "0".  Decimals
 * need digits on both sides of the point; no sign, exponent or space. */
static int duration_from_text(const char *text, int64_t *ns, char *msg, size_t msgsize)
{
	const char *p = text;
	uint64_t whole, frac = 0, den = 1;
	int nfrac = 0;
	const struct unit *u;

	if (text[0] == '\0') {
		snprintf(msg, msgsize, "empty duration; write a number and a unit, e.g. 50us");
		return HS_E_INPUT;
	}
	if (text[0] == '-') {
		snprintf(msg, msgsize, "negative duration '%s'; a duration is 0 or more", text);
		return HS_E_INPUT;
	}
	if (strcmp(text, "0") == 0) {
		*ns = 0;
		return 0;
	}
	int nwhole = parse_digits(&p, &whole);
	if (nwhole < 0)
		goto too_large;
	if (nwhole == 0)
		goto malformed;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (nfrac < MAX_FRACTION_DIGITS) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				den *= 10;
			}
			nfrac++;
			p++;
		}
		if (nfrac == 0)
			goto malformed;
	}
	if (*p == '\0') {
		snprintf(msg, msgsize, "duration '%s' has no unit; write it with one, e.g. %sns "
			 "or %sus (units: ns, us, ms, s)", text, text, text);
		return HS_E_INPUT;
	}
	if (isspace((unsigned char)*p)) {
		snprintf(msg, msgsize, "space between number and unit in '%s'; "
			 "write the unit right after the number, e.g. 50us", text);
		return HS_E_INPUT;
	}
	u = find_unit(duration_units, p);
	if (!u) {
		if (isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+')
			goto malformed;
		snprintf(msg, msgsize, "unknown unit '%s' in '%s'; use ns, us, ms or s", p, text);
		return HS_E_INPUT;
	}

	/* whole * factor + round(frac / den * factor), all in 128 bits. */
	unsigned __int128 total = (unsigned __int128)whole * (uint64_t)u->factor;
	unsigned __int128 part = (unsigned __int128)frac * (uint64_t)u->factor;
	total += (part * 2 + den) / ((unsigned __int128)den * 2);
	if (total > (unsigned __int128)INT64_MAX)
		goto too_large;
	*ns = (int64_t)total;
	return 0;

too_large:
	snprintf(msg, msgsize, "duration '%s' is too large; the maximum is "
		 "9223372036s (about 292 years)", text);
	return HS_E_INPUT;
malformed:
	snprintf(msg, msgsize, "'%s' is not a duration; write a number and a unit, "
		 "e.g. 50us or 1.5ms", text);
	return HS_E_INPUT;
}

int hs_parse_duration(const char *text, int64_t *ns, struct hs_error *err)
{
	char msg[sizeof(err->msg)];
	int rc = duration_from_text(text, ns, msg, sizeof(msg));

	if (rc < 0)
		return hs_error_set(err, rc, NULL, 0, NULL, "%s", msg);
	return 0;
}

int cfg_parse_size(const char *text, int64_t *bytes, char *msg, size_t msgsize)
{
	const char *p = text;
	uint64_t n;
	const struct unit *u;

	if (text[0] == '-') {
		snprintf(msg, msgsize, "negative size '%s'; a size is 0 or more", text);
		return HS_E_INPUT;
	}
	int ndigits = parse_digits(&p, &n);
	if (ndigits <= 0 || *p == '.') {
		snprintf(msg, msgsize, "'%s' is not a size; write an integer and a unit, "
			 "e.g. 256KiB (units: B, KiB, MiB, GiB)", text);
		return HS_E_INPUT;
	}
	if (*p == '\0') {
		snprintf(msg, msgsize, "size '%s' has no unit; write it with one, e.g. %sB or "
			 "%sKiB (units: B, KiB, MiB, GiB)", text, text, text);
		return HS_E_INPUT;
	}
	u = find_unit(size_units, p);
	if (!u) {
		snprintf(msg, msgsize, "unknown unit '%s' in '%s'; use B, KiB, MiB or GiB "
			 "with no space before it", p, text);
		return HS_E_INPUT;
	}
	if (n > (uint64_t)INT64_MAX / (uint64_t)u->factor) {
		snprintf(msg, msgsize, "size '%s' is too large", text);
		return HS_E_INPUT;
	}
	*bytes = (int64_t)n * u->factor;
	return 0;
}

int cfg_parse_int64(const char *text, int64_t *out, char *msg, size_t msgsize)
{
	const char *p = text;
	bool negative = false;
	uint64_t v;

	if (*p == '-') {
		negative = true;
		p++;
	}
	int ndigits = parse_digits(&p, &v);
	if (ndigits == 0 || *p != '\0') {
		snprintf(msg, msgsize, "'%s' is not an integer; write decimal digits, e.g. 100",
			 text);
		return HS_E_INPUT;
	}
	if (ndigits < 0) {
		snprintf(msg, msgsize, "integer '%s' is too large", text);
		return HS_E_INPUT;
	}
	*out = negative ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Ratio syntax: DIGITS [ "." DIGITS ], value in [0, 1]. */
static int parse_ratio(const char *text, double *out, char *msg, size_t msgsize)
{
	const char *p = text;
	int before = 0, after = 0;

	while (isdigit((unsigned char)*p)) {
		p++;
		before++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			after++;
		}
		if (after == 0)
			before = 0;
	}
	if (before == 0 || *p != '\0') {
		snprintf(msg, msgsize, "'%s' is not a ratio; write a decimal number from 0 to 1, "
			 "e.g. 0.25", text);
		return HS_E_INPUT;
	}
	double v = strtod(text, NULL);
	if (v > 1.0) {
		snprintf(msg, msgsize, "ratio '%s' is out of range [0, 1]", text);
		return HS_E_INPUT;
	}
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Upper bounds of step arguments. */
#define MAX_GROW_FRAMES 10000000
#define MAX_WORK_NS (3600 * NS_PER_S)

static int parse_step(char *item, struct hs_step *step, char *msg, size_t msgsize)
{
	char *colon = strchr(item, ':');
	char *arg = NULL;
	int64_t v;

	if (colon) {
		*colon = '\0';
		arg = trim(colon + 1);
		item = trim(item);
	}
	if (strcmp(item, "gc") == 0 && !arg) {
		step->kind = HS_STEP_GC;
		step->arg = 0;
		return 0;
	}
	if (strcmp(item, "grow") == 0 && arg) {
		if (cfg_parse_int64(arg, &v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (v < 1 || v > MAX_GROW_FRAMES) {
			snprintf(msg, msgsize, "grow:%s is out of range; write grow:N with N "
				 "frames from 1 to %d", arg, MAX_GROW_FRAMES);
			return HS_E_INPUT;
		}
		step->kind = HS_STEP_GROW;
		step->arg = v;
		return 0;
	}
	if (strcmp(item, "work") == 0 && arg) {
		if (duration_from_text(arg, &v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (v > MAX_WORK_NS) {
			snprintf(msg, msgsize, "work:%s is out of range; the maximum is 3600s", arg);
			return HS_E_INPUT;
		}
		step->kind = HS_STEP_WORK;
		step->arg = v;
		return 0;
	}
	snprintf(msg, msgsize, "'%s%s%s' is not a step; write gc, grow:FRAMES or "
		 "work:DURATION, separated by commas", item, arg ? ":" : "", arg ? arg : "");
	return HS_E_INPUT;
}

/* Steps syntax: items separated by commas, spaces allowed around items;
 * an empty value means a callback that does nothing. */
static int parse_steps(const char *text, struct hs_scenario *sc, char *msg, size_t msgsize)
{
	char buf[HS_PATH_MAX * 4];
	struct hs_step steps[HS_MAX_STEPS];
	int n = 0;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(msg, msgsize, "steps list is longer than %zu characters", sizeof(buf) - 1);
		return HS_E_INPUT;
	}
	strcpy(buf, text);
	if (trim(buf)[0] == '\0') {
		sc->nsteps = 0;
		return 0;
	}
	char *rest = buf;
	for (;;) {
		char *comma = strchr(rest, ',');
		if (comma)
			*comma = '\0';
		char *item = trim(rest);
		if (item[0] == '\0') {
			snprintf(msg, msgsize, "empty step in '%s'; remove the extra comma", text);
			return HS_E_INPUT;
		}
		if (n == HS_MAX_STEPS) {
			snprintf(msg, msgsize, "more than %d steps; merge adjacent work steps",
				 HS_MAX_STEPS);
			return HS_E_INPUT;
		}
		if (parse_step(item, &steps[n], msg, msgsize) < 0)
			return HS_E_INPUT;
		n++;
		if (!comma)
			break;
		rest = comma + 1;
	}
	memcpy(sc->steps, steps, sizeof(steps[0]) * (size_t)n);
	sc->nsteps = n;
	return 0;
}

static void format_steps(const struct hs_scenario *sc, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < sc->nsteps && n < size; i++) {
		const struct hs_step *s = &sc->steps[i];
		const char *sep = i ? "," : "";

		if (s->kind == HS_STEP_GC)
			n += (size_t)snprintf(buf + n, size - n, "%sgc", sep);
		else if (s->kind == HS_STEP_GROW)
			n += (size_t)snprintf(buf + n, size - n, "%sgrow:%" PRId64, sep, s->arg);
		else
			n += (size_t)snprintf(buf + n, size - n, "%swork:%" PRId64 "ns", sep, s->arg);
	}
}

/*
 * Curve syntax: `none`, or points THREADS:DURATION separated by spaces,
 * e.g. `1:0ns 3:1.7us 255:2.95us`, with 1 <= THREADS <= 1000000 strictly
 * increasing and each duration at most 1 ms.
 */
static int parse_cold(const char *text, struct hs_os_profile *os, char *msg, size_t msgsize)
{
	char buf[512];
	struct hs_cold_point pts[HS_COLD_POINTS];
	char *save = NULL;
	int n = 0;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(msg, msgsize, "curve is longer than %zu characters", sizeof(buf) - 1);
		return HS_E_INPUT;
	}
	strcpy(buf, text);
	if (strcmp(trim(buf), "none") == 0) {
		os->nswitch_cold = 0;
		return 0;
	}
	for (char *item = strtok_r(buf, " \t", &save); item; item = strtok_r(NULL, " \t", &save)) {
		char *colon = strchr(item, ':');
		int64_t threads, ns;

		if (!colon) {
			snprintf(msg, msgsize, "point '%s' has no ':'; write THREADS:DURATION, "
				 "e.g. 255:2.9us, or none", item);
			return HS_E_INPUT;
		}
		*colon = '\0';
		if (n == HS_COLD_POINTS) {
			snprintf(msg, msgsize, "more than %d points; drop some", HS_COLD_POINTS);
			return HS_E_INPUT;
		}
		if (cfg_parse_int64(item, &threads, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (threads < 1 || threads > 1000000) {
			snprintf(msg, msgsize, "thread count %s is out of range; counts run from 1 "
				 "to 1000000, strictly increasing", item);
			return HS_E_INPUT;
		}
		if (n > 0 && threads <= pts[n - 1].threads) {
			snprintf(msg, msgsize, "thread count %s must be greater than %d, the count "
				 "of the point before; counts are strictly increasing", item,
				 (int)pts[n - 1].threads);
			return HS_E_INPUT;
		}
		if (duration_from_text(colon + 1, &ns, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (ns > 1000000) {
			snprintf(msg, msgsize, "duration %s of point %s is over 1ms", colon + 1, item);
			return HS_E_INPUT;
		}
		pts[n].threads = (int32_t)threads;
		pts[n].ns = ns;
		n++;
	}
	if (n == 0) {
		snprintf(msg, msgsize, "empty curve; write none or points such as 1:0ns 255:2.9us");
		return HS_E_INPUT;
	}
	memcpy(os->switch_cold, pts, sizeof(pts[0]) * (size_t)n);
	os->nswitch_cold = n;
	return 0;
}

const char *const hs_cost_names[HS_NCOSTS] = {
	"thread_create", "thread_exit", "mmap", "wake_local", "wake_remote", "wake_send_local",
	"wake_send_remote",
};

/*
 * Returns whether text is a decimal number: DIGITS [ "." DIGITS ] with an
 * optional exponent [eE] [+-] DIGITS.  strtod alone would also take hex
 * floats, inf, nan and a sign.  The exponent is accepted because "%.15g"
 * writes one for a value below 1e-4, and a run_param value must read back.
 */
static bool is_decimal(const char *text)
{
	const char *p = text;
	int n = 0;

	while (isdigit((unsigned char)*p)) {
		p++;
		n++;
	}
	if (n == 0)
		return false;
	if (*p == '.') {
		p++;
		for (n = 0; isdigit((unsigned char)*p); p++)
			n++;
		if (n == 0)
			return false;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		for (n = 0; isdigit((unsigned char)*p); p++)
			n++;
		if (n == 0)
			return false;
	}
	return *p == '\0';
}

/*
 * Spread syntax: `none`, or three decimal numbers P10 P90 P99 separated by
 * spaces, the cost's 10th, 90th and 99th percentiles over its value, with
 * 0 < P10 <= 1 <= P90 <= P99 <= HS_SPREAD_MAX, for example `0.89 1.36 2.35`.
 */
static int parse_spread(const char *text, struct hs_spread *out, char *msg, size_t msgsize)
{
	static const char *const which[3] = { "P10", "P90", "P99" };
	char buf[128];
	char *save = NULL, *item;
	double v[3];
	int n = 0;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(msg, msgsize, "value is longer than %zu characters; write P10 P90 P99, "
			 "e.g. 0.89 1.36 2.35, or none", sizeof(buf) - 1);
		return HS_E_INPUT;
	}
	strcpy(buf, text);
	if (strcmp(trim(buf), "none") == 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	for (item = strtok_r(buf, " \t", &save); item; item = strtok_r(NULL, " \t", &save)) {
		char *end;

		if (n == 3) {
			snprintf(msg, msgsize, "more than three numbers; write P10 P90 P99, "
				 "e.g. 0.89 1.36 2.35, or none");
			return HS_E_INPUT;
		}
		errno = 0;
		v[n] = strtod(item, &end);
		if (!is_decimal(item) || end == item || *end != '\0' || errno != 0 ||
		    !isfinite(v[n]) || v[n] <= 0 || v[n] > HS_SPREAD_MAX) {
			snprintf(msg, msgsize, "%s is '%s'; write a decimal number above 0 and at "
				 "most %g, the percentile over the cost's value", which[n], item,
				 HS_SPREAD_MAX);
			return HS_E_INPUT;
		}
		n++;
	}
	if (n < 3) {
		snprintf(msg, msgsize, "%s; write three numbers P10 P90 P99, e.g. 0.89 1.36 2.35, "
			 "or none", n == 0 ? "empty value" : "too few numbers");
		return HS_E_INPUT;
	}
	if (v[0] > 1 || v[1] < 1 || v[2] < v[1]) {
		snprintf(msg, msgsize, "percentiles %g %g %g are out of order; they need "
			 "P10 <= 1 <= P90 <= P99", v[0], v[1], v[2]);
		return HS_E_INPUT;
	}
	out->p10 = v[0];
	out->p90 = v[1];
	out->p99 = v[2];
	return 0;
}

/* Writes sp with `digits` significant digits per number, or none. */
static void format_spread(const struct hs_spread *sp, int digits, char *buf, size_t size)
{
	if (sp->p10 > 0)
		snprintf(buf, size, "%.*g %.*g %.*g", digits, sp->p10, digits, sp->p90, digits,
			 sp->p99);
	else
		snprintf(buf, size, "none");
}

void hs_spread_format(const struct hs_spread *sp, char *buf, size_t size)
{
	format_spread(sp, 4, buf, size);
}

void hs_cold_format(const struct hs_os_profile *os, char *buf, size_t size)
{
	size_t n = 0;

	snprintf(buf, size, "none");
	for (int i = 0; i < os->nswitch_cold && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%d:%" PRId64 "ns", i ? " " : "",
				      (int)os->switch_cold[i].threads, os->switch_cold[i].ns);
}

static void format_range(const struct cfg_key *k, char *buf, size_t size)
{
	char lo[32], hi[32];

	if (k->type == CFG_DURATION) {
		cfg_format_duration(k->min, lo, sizeof(lo));
		cfg_format_duration(k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%" PRId64, k->min);
		snprintf(hi, sizeof(hi), "%" PRId64, k->max);
		if (k->type == CFG_SIZE) {
			strncat(lo, "B", sizeof(lo) - strlen(lo) - 1);
			strncat(hi, "B", sizeof(hi) - strlen(hi) - 1);
		}
	}
	snprintf(buf, size, "[%s, %s]", lo, hi);
}

static int check_range(const struct cfg_key *k, const char *text, int64_t v,
		       char *msg, size_t msgsize)
{
	char range[80];

	if (v >= k->min && v <= k->max)
		return 0;
	format_range(k, range, sizeof(range));
	snprintf(msg, msgsize, "'%s' is out of range %s", text, range);
	return HS_E_INPUT;
}

static int set_enum(const struct cfg_key *k, void *field, const char *value,
		    char *msg, size_t msgsize)
{
	char words[128] = "";

	for (int i = 0; k->words[i]; i++) {
		if (strcmp(k->words[i], value) == 0) {
			*(int *)field = i;
			return 0;
		}
		if (i)
			strncat(words, ", ", sizeof(words) - strlen(words) - 1);
		strncat(words, k->words[i], sizeof(words) - strlen(words) - 1);
	}
	snprintf(msg, msgsize, "'%s' is not one of: %s", value, words);
	return HS_E_INPUT;
}

int cfg_set_value(const struct cfg_key *k, void *base, const char *value,
		  char *msg, size_t msgsize)
{
	char *field = (char *)base + k->offset;
	int64_t v;
	double r;
	size_t len;

	switch (k->type) {
	case CFG_DURATION:
	case CFG_SIZE:
	case CFG_INT:
	case CFG_INT64:
		if (k->type == CFG_DURATION && duration_from_text(value, &v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (k->type == CFG_SIZE && cfg_parse_size(value, &v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if ((k->type == CFG_INT || k->type == CFG_INT64) &&
		    cfg_parse_int64(value, &v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (check_range(k, value, v, msg, msgsize) < 0)
			return HS_E_INPUT;
		if (k->type == CFG_INT)
			*(int *)field = (int)v;
		else
			*(int64_t *)field = v;
		return 0;
	case CFG_UINT64: {
		char *end;

		if (!isdigit((unsigned char)value[0])) {
			snprintf(msg, msgsize, "'%s' is not an unsigned integer; write decimal "
				 "digits, e.g. 42", value);
			return HS_E_INPUT;
		}
		errno = 0;
		unsigned long long u = strtoull(value, &end, 10);
		if (*end != '\0' || errno == ERANGE) {
			snprintf(msg, msgsize, "'%s' is not an unsigned 64-bit integer", value);
			return HS_E_INPUT;
		}
		*(uint64_t *)field = (uint64_t)u;
		return 0;
	}
	case CFG_RATIO:
		if (parse_ratio(value, &r, msg, msgsize) < 0)
			return HS_E_INPUT;
		*(double *)field = r;
		return 0;
	case CFG_ENUM:
		return set_enum(k, field, value, msg, msgsize);
	case CFG_STRING:
		len = strlen(value);
		if (len >= k->size) {
			snprintf(msg, msgsize, "value is %zu characters long; the maximum is %zu",
				 len, k->size - 1);
			return HS_E_INPUT;
		}
		if ((int64_t)len < k->min) {
			snprintf(msg, msgsize, "empty value; write a name or a path");
			return HS_E_INPUT;
		}
		memcpy(field, value, len + 1);
		return 0;
	case CFG_STEPS:
		return parse_steps(value, (struct hs_scenario *)base, msg, msgsize);
	case CFG_COLD:
		return parse_cold(value, (struct hs_os_profile *)base, msg, msgsize);
	case CFG_SPREAD:
		return parse_spread(value, (struct hs_spread *)(void *)field, msg, msgsize);
	}
	snprintf(msg, msgsize, "key has an unknown type");
	return HS_E_INPUT;
}

void cfg_format_value(const struct cfg_key *k, const void *base, char *buf, size_t size)
{
	const char *field = (const char *)base + k->offset;

	switch (k->type) {
	case CFG_DURATION:
	case CFG_SIZE:
	case CFG_INT64:
		snprintf(buf, size, "%" PRId64, *(const int64_t *)field);
		return;
	case CFG_INT:
		snprintf(buf, size, "%d", *(const int *)field);
		return;
	case CFG_UINT64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *)field);
		return;
	case CFG_RATIO:
		snprintf(buf, size, "%.15g", *(const double *)field);
		return;
	case CFG_ENUM:
		snprintf(buf, size, "%s", k->words[*(const int *)field]);
		return;
	case CFG_STRING:
		snprintf(buf, size, "%s", field);
		return;
	case CFG_STEPS:
		format_steps((const struct hs_scenario *)base, buf, size);
		return;
	case CFG_COLD:
		hs_cold_format((const struct hs_os_profile *)base, buf, size);
		return;
	case CFG_SPREAD:
		/* 15 digits, as a ratio: a run_param row must tell apart two
		 * spreads that differ past the 4 digits calibrate writes. */
		format_spread((const struct hs_spread *)(const void *)field, 15, buf, size);
		return;
	}
	buf[0] = '\0';
}

int cfg_find_key(const struct cfg_key *keys, int nkeys, const char *section, const char *key)
{
	for (int i = 0; i < nkeys; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return i;
	return -1;
}

/* Returns the Levenshtein distance of a and b, capped at 3: 3 means more
 * than 2. */
static int edit_distance_capped(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[HS_NAME_MAX + 1];

	if (la > HS_NAME_MAX || lb > HS_NAME_MAX || (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0], best;

		row[0] = (int)i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int d = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < d)
				d = up + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			diag = up;
			if (d < best)
				best = d;
		}
		if (best > 2)
			return 3;
	}
	return row[lb] > 2 ? 3 : row[lb];
}

void cfg_unknown_key(const struct cfg_key *keys, int nkeys, const char *section, const char *key,
		     char *buf, size_t size)
{
	const char *close = NULL;
	int best = 3, ties = 0, left = 0;
	size_t n;

	for (int i = 0; i < nkeys; i++) {
		int d;

		if (strcmp(keys[i].section, section) != 0)
			continue;
		d = edit_distance_capped(key, keys[i].key);
		if (d < best) {
			best = d;
			close = keys[i].key;
			ties = 0;
		} else if (d == best && d < 3) {
			ties++;
		}
	}
	n = (size_t)snprintf(buf, size, "unknown key");
	if (close && ties == 0 && n < size)
		n += (size_t)snprintf(buf + n, size - n, "; did you mean '%s'?", close);
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, "%skeys of [%s]:", close && ties == 0 ? " " : "; ",
				      section);
	for (int i = 0; i < nkeys; i++) {
		size_t need;

		if (strcmp(keys[i].section, section) != 0)
			continue;
		/* keep room for the note on the keys left out */
		need = strlen(keys[i].key) + 2 + 56;
		if (left > 0 || n + need >= size) {
			left++;
			continue;
		}
		n += (size_t)snprintf(buf + n, size - n, "%s %s", buf[n - 1] == ':' ? "" : ",",
				      keys[i].key);
	}
	if (left > 0 && n < size)
		snprintf(buf + n, size - n, ", and %d more (docs/model.md lists every key)", left);
}

/* State of one ini_parse_stream() call. */
struct reader {
	const struct cfg_parse *p;
	const char *pos;        /* next character of p->text */
	int line;               /* line last handed to inih */
	bool indented;          /* that line starts with a space or tab */
	char indented_name[HS_NAME_MAX]; /* its key, or "" if it has no '=' or ':' */
	char section[HS_NAME_MAX];
	struct hs_error *err;
	int rc;                 /* first error, 0 if none */
	int err_line;
};

static bool known_section(const struct cfg_parse *p, const char *name)
{
	for (int i = 0; p->sections[i]; i++)
		if (strcmp(p->sections[i], name) == 0)
			return true;
	return false;
}

static void fail(struct reader *r, int code, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the first error at the current line; later calls do nothing. */
static void fail(struct reader *r, int code, const char *key, const char *fmt, ...)
{
	char msg[sizeof(r->err->msg)];
	va_list ap;

	if (r->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->rc = hs_error_set(r->err, code, r->p->file, r->line, key, "%s", msg);
	r->err_line = r->line;
}

/* Checks a "[name]" header line seen by the reader. */
static void check_header(struct reader *r, const char *line)
{
	const char *close = strchr(line, ']');
	size_t len;

	if (!close)
		return; /* inih reports the missing ']' itself */
	len = (size_t)(close - line - 1);
	if (len >= sizeof(r->section))
		len = sizeof(r->section) - 1;
	memcpy(r->section, line + 1, len);
	r->section[len] = '\0';
	if (!known_section(r->p, r->section)) {
		char list[256] = "";

		for (int i = 0; r->p->sections[i]; i++) {
			if (i)
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			strncat(list, r->p->sections[i], sizeof(list) - strlen(list) - 1);
		}
		fail(r, HS_E_INPUT, NULL, "unknown section [%s]; known sections: %s", r->section,
		     list);
	}
}

static int next_char(struct reader *r)
{
	if (r->p->text)
		return *r->pos ? (unsigned char)*r->pos++ : EOF;
	return fgetc(r->p->fp);
}

/* Copies the key of a `key = value` line (inih also accepts ':') into
 * name, or "" when the line has neither separator. */
static void copy_key_name(char *name, size_t size, const char *line)
{
	size_t len = strcspn(line, "=:");

	name[0] = '\0';
	if (line[len] == '\0')
		return;
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(name, line, len);
	name[len] = '\0';
}

/* fgets-style reader for inih: one whole line per call.  A line may have at
 * most num - 2 characters besides its '\n', because inih passes the size of
 * its buffer as num and this reader keeps one byte spare. */
static char *read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	int c, n = 0;
	bool truncated = false, nul = false;

	c = next_char(r);
	if (c == EOF)
		return NULL;
	for (; c != EOF; c = next_char(r)) {
		if (c == '\0')
			nul = true;
		if (n < num - 2)
			str[n++] = (char)c;
		else if (c != '\n')
			truncated = true;
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	r->line++;
	/* inih stops at the first NUL, so the rest of the line would be lost. */
	if (nul)
		fail(r, HS_E_INPUT, NULL, "line contains a NUL byte, so this is not a text file; "
		     "give a plain-text .ini file");
	if (truncated) {
		fail(r, HS_E_INPUT, NULL, "line is longer than %d characters; shorten it",
		     num - 2);
	}
	r->indented = (str[0] == ' ' || str[0] == '\t');
	const char *s = str;
	while (*s == ' ' || *s == '\t')
		s++;
	if (r->indented)
		copy_key_name(r->indented_name, sizeof(r->indented_name), s);
	if (*s == '[')
		check_header(r, s);
	return str;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct reader *r = user;
	const struct cfg_parse *p = r->p;
	char key[2 * HS_NAME_MAX + 2];
	char msg[sizeof(r->err->msg)];

	if (r->rc)
		return 0;
	snprintf(key, sizeof(key), "%s.%s", section, name);
	if (section[0] == '\0') {
		fail(r, HS_E_INPUT, name, "key before any [section]; move it under its section");
		return 0;
	}
	if (!known_section(p, section))
		return 0; /* already reported by the reader */
	if (r->indented) {
		/* After a key, inih takes an indented line as more of that key's
		 * value and passes that key's name, so name the line's own key. */
		snprintf(key, sizeof(key), "%s.%s", section, r->indented_name);
		fail(r, HS_E_INPUT, r->indented_name[0] ? key : NULL,
		     "line starts with whitespace; remove the indentation "
		     "(an indented line would continue the previous value)");
		return 0;
	}

	int i = cfg_find_key(p->keys, p->nkeys, section, name);
	if (i < 0 && p->extra) {
		int rc = p->extra(p->extra_user, section, name, value, p->file, r->line, r->err);

		if (rc < 0) {
			r->rc = rc;
			r->err_line = r->line;
			return 0;
		}
		if (rc > 0)
			return 1;
	}
	if (i < 0) {
		char text[400];

		cfg_unknown_key(p->keys, p->nkeys, section, name, text, sizeof(text));
		fail(r, HS_E_INPUT, key, "%s", text);
		return 0;
	}
	if (p->key_lines[i]) {
		fail(r, HS_E_INPUT, key, "duplicate key, first set on line %d; remove one",
		     p->key_lines[i]);
		return 0;
	}
	if (cfg_set_value(&p->keys[i], p->base, value, msg, sizeof(msg)) < 0) {
		fail(r, HS_E_INPUT, key, "%s", msg);
		return 0;
	}
	p->key_lines[i] = r->line;
	return 1;
}

int cfg_parse_ini(const struct cfg_parse *p, struct hs_error *err)
{
	struct reader r = { .p = p, .pos = p->text, .err = err };
	struct hs_error scratch;

	if (!r.err)
		r.err = &scratch;
	int rc = ini_parse_stream(read_line, &r, handle_key, &r);

	if (rc == -2)
		return hs_error_set(err, HS_E_NOMEM, p->file, 0, NULL, "out of memory reading the file");
	if (p->fp && ferror(p->fp))
		return hs_error_set(err, HS_E_IO, p->file, 0, NULL, "read failed");
	if (rc > 0 && (!r.rc || rc < r.err_line))
		return hs_error_set(err, HS_E_INPUT, p->file, rc, NULL,
				    "not a `key = value` line or a `[section]` header; "
				    "comments start with # or ;");
	return r.rc;
}
