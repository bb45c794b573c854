/*
 * A quick reading of how fast this host runs the work that the pile-up
 * scenarios are made of, taken while a validation runs.
 *
 * On a shared virtual machine the cost of a sleep and wake-up cycle with
 * every CPU busy can change by a factor of two within minutes, with no
 * steal time to show it (docs/validation.md).  A calibrated profile
 * describes the host as it was when calibrated, and this check shows
 * whether the native runs of a validation met the same host.
 */
#ifndef HS_HOSTCHECK_H
#define HS_HOSTCHECK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Pollers per CPU.  At 1.6 us or more per cycle, 32 of them keep a CPU
 * busy through the 50 us default timer slack. */
#define HS_HOSTCHECK_POLLERS 32

/*
 * Runs HS_HOSTCHECK_POLLERS threads pinned to each CPU of the caller's
 * affinity mask, each looping on usleep(1), for a 2 ms warm-up and then
 * `window_ns` of wall time (at least 1 ms).  Stores in *cycle_ns the CPU
 * time of one cycle: the process's CPU time in the window over the
 * cycles completed in it.  Every CPU is busy, so this is the cost of a
 * cycle with all CPUs busy, unlike calibrate's `sleep_cycle`, which keeps
 * one CPU busy.  Returns 0, or a negative HS_E_* code with err set
 * when a thread cannot be started or no cycle completed.  Every thread it
 * started is joined in both cases.
 */
int hs_hostcheck_cycle(int64_t window_ns, double *cycle_ns, struct hs_error *err);

/* Starts fn(arg) on a thread allowed only on CPU cpu_a and, when cpu_b is
 * not -1, CPU cpu_b, with a stack of `stack` bytes (0: the default).
 * Returns 0 or the pthread error number. */
int hs_start_pinned(pthread_t *thread, int cpu_a, int cpu_b, size_t stack,
		    void *(*fn)(void *), void *arg);

/* Returns the number of CPUs this process may run on: its affinity mask,
 * which taskset and cpusets narrow, as Go's runtime counts CPUs for
 * GOMAXPROCS.  Falls back to the online CPUs when the mask is unreadable. */
long hs_usable_cpus(void);

#endif
