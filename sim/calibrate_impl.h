/*
 * Internals shared by the calibration files: the sampler that collects
 * one figure, pinning, and the measurement groups each file implements.
 *
 * A sampler stops a figure when it has its target count, or when it has
 * at least HS_CALIB_MIN_SAMPLES and has run longer than its time cap.  It
 * also stops at twice its cap whatever the count, so a figure whose
 * samples keep being rejected ends with fewer samples, maybe none.
 */
#ifndef HERDSIM_CALIBRATE_IMPL_H
#define HERDSIM_CALIBRATE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "calibrate.h"

#define HS_CALIB_MIN_SAMPLES 10

struct hs_calib_sampler {
	const struct hs_calib_opts *opts;
	const char *name;
	int64_t *values;
	int n, target, step;
	int64_t start_ns, cap_ns;
};

/* Reads CLOCK_MONOTONIC in nanoseconds. */
int64_t hs_calib_now(void);

/* Returns total_ns / count rounded up, at least 1: a batch mean stays
 * positive however fast the operation. */
int64_t hs_calib_mean_ns(int64_t total_ns, int64_t count);

/* Starts figure name with base_count samples at scale 1.0.  Returns 0 or
 * HS_E_NOMEM. */
int hs_calib_sampler_begin(struct hs_calib_sampler *s, const struct hs_calib_opts *o,
			   const char *name, int base_count, struct hs_error *err);
/* Returns true while the figure wants another sample. */
bool hs_calib_sampler_more(const struct hs_calib_sampler *s);
/* Records one sample in nanoseconds and reports progress. */
void hs_calib_sampler_add(struct hs_calib_sampler *s, int64_t ns);
/* Summarizes the samples into the next figure of r and frees them. */
void hs_calib_sampler_end(struct hs_calib_sampler *s, struct hs_calib_report *r);
/* Frees the samples without recording a figure (error paths). */
void hs_calib_sampler_abort(struct hs_calib_sampler *s);
/* Appends figure name summarized from values[0..n), n >= 1, and sorts values. */
void hs_calib_record_figure(struct hs_calib_report *r, const char *name, int64_t *values, int n);
/* Appends figure name with samples == 0: not measured on this host. */
void hs_calib_skip_figure(struct hs_calib_report *r, const char *name);

/*
 * Fills out's figures and counters from n passes (1 to HS_CALIB_MAX_PASSES)
 * that measured the same figures in the same order; out's host facts stay.
 * A figure's samples are the sum over the passes, and each of its
 * percentiles the median (the lower one for an even count) of that
 * percentile over the passes that measured it.  Rejection counts and the
 * sleep_cycle totals add up.  The interrupt count is -1 when a pass could
 * not read it, and CPU A counts as busy only when every pass kept it busy.
 */
void hs_calib_merge_passes(struct hs_calib_report *out, struct hs_calib_report *const *pass,
			   int n);

/* Fills err with HS_E_IO naming the failed call and strerror(errnum). */
int hs_calib_fail(struct hs_error *err, const char *call, int errnum);

/* Spin-wait hint (PAUSE on x86, YIELD on Arm). */
static inline void hs_calib_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
	__asm__ __volatile__("yield");
#endif
}

/* Measures yield_alone, yield_peer, futex_wake_local, futex_wake_remote,
 * cas_handoff, load_local, load_remote, sleep_cycle and futex_ring_K for
 * every K of hs_calib_ring_threads, pinned to
 * r->cpu_a and r->cpu_b.  Restores the caller's affinity before it
 * returns. */
int hs_calib_measure_sched(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err);

/* Measures only the futex_ring_K figures, as hs_calib_measure_sched
 * does.  The tests call it. */
int hs_calib_measure_rings(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err);

/* Most samples of newidle_cost, one per bisection. */
#define HS_CALIB_NEWIDLE_MAX_SAMPLES 64
/* Measures newidle_cost on r->cpu_a and r->cpu_b (see calibrate_newidle.c),
 * or skips it with one CPU.  Leaves the caller's affinity as it was. */
int hs_calib_measure_newidle(const struct hs_calib_opts *o, struct hs_calib_report *r,
			     struct hs_error *err);
#endif /* HERDSIM_CALIBRATE_IMPL_H */
