/*
 * Parameter sweeps: the value lists of `herdsim sweep --vary` and the
 * commands `herdsim sweep` and `herdsim merge`.
 *
 * A --vary value list is a comma-separated list of items.  An item is a
 * literal value ("50us", "linux") or a range:
 *
 *   A..B*F   geometric: A, A*F, A*F^2, ... while <= B  (A > 0, F > 1)
 *   A..B+D   arithmetic: A, A+D, A+2D, ... while <= B  (D > 0)
 *
 * A and B may carry a unit suffix ("1us..1ms*10"), which must be the same
 * on both; D may carry the same unit or none.  When A, B and the step are
 * integers the values are computed exactly in 64-bit integers, otherwise in
 * double precision and printed with 10 significant digits.
 */
#ifndef HERDSIM_SWEEP_H
#define HERDSIM_SWEEP_H

#include "error.h"

/* Upper bound on the values one --vary list expands to. */
#define HS_SWEEP_MAX_VALUES 10000

/* Expands a value list into *values (an array of *n malloc'ed strings that
 * the caller frees with hs_sweep_free_values).  A malformed item, an empty
 * item, a repeated value or more than HS_SWEEP_MAX_VALUES values is
 * HS_E_USAGE with err->key set to the item; *values is then NULL. */
int hs_sweep_parse_values(const char *text, char ***values, int *n, struct hs_error *err);
void hs_sweep_free_values(char **values, int n);

#endif /* HERDSIM_SWEEP_H */
