/*
 * Summary statistics shared by the backends, the front end and reports.
 *
 * struct hs_hist is a log-linear histogram of non-negative nanosecond
 * values in constant memory: values below 128 ns get a bucket each, and
 * every power-of-two range above is split into 64 equal buckets, so a
 * bucket's width is at most 1/64 of its lower bound.  A percentile read
 * from it is the midpoint of the bucket holding that rank, within 0.8 %
 * of the exact order statistic.
 */
#ifndef HERDSIM_STATS_H
#define HERDSIM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

#define HS_HIST_SUB 64
#define HS_HIST_BUCKETS (128 + 57 * HS_HIST_SUB)

struct hs_hist {
	uint64_t count;
	int64_t min, max;
	double sum;
	uint32_t buckets[HS_HIST_BUCKETS];
};

void hs_hist_init(struct hs_hist *h);
void hs_hist_add(struct hs_hist *h, int64_t ns);
/* Value at quantile q in [0,1]; 0 when empty. */
int64_t hs_hist_quantile(const struct hs_hist *h, double q);
/* Appends the non-empty buckets to r->hists under `name`. */
int hs_hist_record(const struct hs_hist *h, const char *name, struct hs_run_result *r);

/* Median of n values (sorted in place). */
double hs_median(double *v, size_t n);
/* Half-width of the two-sided 95 % Student-t confidence interval of the
 * mean of n values; 0 for n < 2. */
double hs_ci95_halfwidth(const double *v, size_t n);
/* Distribution-free 95 % confidence interval of the median of n values,
 * which are sorted in place: the k-th smallest and the k-th largest, k the
 * largest rank with P(Binomial(n, 1/2) < k) at most 2.5 %, so that the
 * interval contains the population median with probability at least 95 %
 * whatever the distribution.  False, with lo and hi untouched, for n < 6:
 * then even the smallest and largest value cover it with less than 95 %. */
bool hs_median_ci95(double *v, size_t n, double *lo, double *hi);
/* Interval of the ratio of two population medians, num's over den's,
 * from independent samples: num's interval (hs_median_ci95) over den's,
 * lo = num lo / den hi and hi = num hi / den lo.  Both intervals hold
 * together with probability at least 0.95 * 0.95, so the ratio's
 * interval covers the ratio with at least 90 %.  May sort both arrays.
 * False, with lo and hi untouched, when either sample has fewer than 6
 * values or den's interval reaches 0 or below. */
bool hs_median_ratio_ci90(double *num, size_t nn, double *den, size_t nd, double *lo, double *hi);
/* Two-sided 95 % quantile of Student's t with `df` degrees of freedom. */
double hs_t95(int df);

#endif /* HERDSIM_STATS_H */
