/*
 * Text files compiled into the binary: the shipped scenarios
 * (traces/scenarios/NAME.ini), profiles (sim/profiles/NAME.ini) and SQL, so that
 * herdsim runs from any directory.  A file on disk with the same path, as
 * given on the command line, is read from disk instead.
 */
#ifndef HERDSIM_EMBEDDED_H
#define HERDSIM_EMBEDDED_H

struct hs_embedded_file {
	const char *path;    /* path relative to the source tree */
	const char *content; /* NUL-terminated text */
};

/* Terminated by an entry whose path is NULL. */
extern const struct hs_embedded_file hs_embedded_files[];

/* Returns the content of the embedded file at `path`, or NULL. */
const char *hs_embedded_find(const char *path);

#endif /* HERDSIM_EMBEDDED_H */
