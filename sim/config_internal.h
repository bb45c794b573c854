/*
 * Private interface between the two halves of the configuration layer:
 * config_parse.c (value syntax, key tables driven by offsetof, the inih
 * reader that knows line numbers) and config.c (lookup of shipped and
 * on-disk files, the three loaders, --set overrides, parameter listing).
 *
 * A key table lists every key of one kind of file: its section, name, type,
 * where it lives in the target struct and its allowed range.  Parsing a file
 * or an override is a lookup in that table followed by cfg_set_value(), so
 * the same checks and messages apply to both.
 */
#ifndef HERDSIM_CONFIG_INTERNAL_H
#define HERDSIM_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

enum cfg_type {
	CFG_DURATION, /* int64_t nanoseconds, written with a unit */
	CFG_SIZE,     /* int64_t bytes, written with B, KiB, MiB or GiB */
	CFG_RATIO,    /* double in [0, 1] */
	CFG_INT,      /* int */
	CFG_INT64,    /* int64_t */
	CFG_UINT64,   /* uint64_t, full range */
	CFG_ENUM,     /* int (an enum), one of `words` by index */
	CFG_STRING,   /* char[size]; min is the minimum length */
	CFG_STEPS,    /* the [callback] steps list of struct hs_scenario */
	CFG_COLD,     /* the switch_cold curve of struct hs_os_profile */
	CFG_SPREAD,   /* struct hs_spread, optional in a profile (none) */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;             /* offset of the field in the target struct */
	size_t size;               /* CFG_STRING: size of the buffer */
	int64_t min, max;          /* inclusive range; durations in ns, sizes in bytes */
	const char *const *words;  /* CFG_ENUM: NULL-terminated, index = value */
};

/* Extra handler for keys a table does not list ([runtime] overrides and
 * [policy] parameters in a scenario).  Returns 1 if it took the key, 0 if
 * the key is unknown, or an HS_E* code with err filled. */
typedef int (*cfg_extra_fn)(void *user, const char *section, const char *key,
			    const char *value, const char *file, int line,
			    struct hs_error *err);

/* One INI text to parse against one table. */
struct cfg_parse {
	const char *file;               /* name used in errors */
	const char *text;               /* embedded text, or NULL */
	FILE *fp;                       /* file on disk when text is NULL */
	const struct cfg_key *keys;
	int nkeys;
	const char *const *sections;    /* NULL-terminated known sections */
	void *base;                     /* struct the table's offsets apply to */
	int *key_lines;                 /* out: line of each key, 0 if absent */
	cfg_extra_fn extra;             /* may be NULL */
	void *extra_user;
};

/* Parses p->text or p->fp.  Strict: unknown sections and keys, duplicate
 * keys, indented lines, over-long lines and bad values are errors naming
 * the file, the line and "section.key".  Returns 0 or an HS_E* code. */
int cfg_parse_ini(const struct cfg_parse *p, struct hs_error *err);

/* Parses `value` for key k and stores it at base + k->offset.  Returns 0,
 * or HS_E_INPUT with msg saying what is wrong and how to write it. */
int cfg_set_value(const struct cfg_key *k, void *base, const char *value,
		  char *msg, size_t msgsize);

/* Writes the stored value of k in base as text: durations and sizes as
 * plain integers (nanoseconds, bytes), enums as their word. */
void cfg_format_value(const struct cfg_key *k, const void *base, char *buf, size_t size);

/* Finds section.key in a table; returns its index or -1. */

int cfg_find_key(const struct cfg_key *keys, int nkeys, const char *section, const char *key);

/*
 * Writes the message for an unknown key of `section` into buf: "unknown
 * key", then "did you mean 'K'?" when one key K of the section is within
 * two edits of `key` (and closer than any other), then the section's keys
 * as "a, b, c".  Only whole keys are listed.  When they do not all fit,
 * the list ends with "and N more" and names docs/model.md.  That file
 * lists the profile keys, and only the profile sections are long enough
 * to be cut.
 */
void cfg_unknown_key(const struct cfg_key *keys, int nkeys, const char *section, const char *key,
		     char *buf, size_t size);

/* Parses a size such as "256KiB" into bytes; msg as for cfg_set_value. */
int cfg_parse_size(const char *text, int64_t *bytes, char *msg, size_t msgsize);

/* Parses a decimal integer with an optional leading '-'. */
int cfg_parse_int64(const char *text, int64_t *out, char *msg, size_t msgsize);

/* Formats ns with the largest unit that divides it exactly ("1500us"). */
void cfg_format_duration(int64_t ns, char *buf, size_t size);

#endif /* HERDSIM_CONFIG_INTERNAL_H */
