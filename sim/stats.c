#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_hist_init(struct hs_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Bucket of v: below 128 the value itself, else 64 buckets per octave. */
static int bucket_of(uint64_t v)
{
	int octave, sub;

	if (v < 128)
		return (int)v;
	octave = 63 - __builtin_clzll(v);          /* 7 .. 63 */
	sub = (int)((v >> (octave - 6)) & (HS_HIST_SUB - 1));
	return 128 + (octave - 7) * HS_HIST_SUB + sub;
}

static void bucket_range(int b, int64_t *lo, int64_t *hi)
{
	int octave, sub;

	if (b < 128) {
		*lo = b;
		*hi = b + 1;
		return;
	}
	octave = (b - 128) / HS_HIST_SUB + 7;
	sub = (b - 128) % HS_HIST_SUB;
	*lo = (int64_t)((uint64_t)(HS_HIST_SUB + sub) << (octave - 6));
	*hi = *lo + ((int64_t)1 << (octave - 6));
}

void hs_hist_add(struct hs_hist *h, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	if (h->count == 0 || ns < h->min)
		h->min = ns;
	if (h->count == 0 || ns > h->max)
		h->max = ns;
	h->count++;
	h->sum += (double)ns;
	h->buckets[bucket_of((uint64_t)ns)]++;
}

int64_t hs_hist_quantile(const struct hs_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* The nearest-rank definition: the smallest value with at least
	 * ceil(q * n) values at or below it. */
	rank = (uint64_t)ceil(q * (double)h->count);
	for (int b = 0; b < HS_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			int64_t lo, hi, mid;

			bucket_range(b, &lo, &hi);
			if (hi - lo == 1)
				return lo;
			mid = lo + (hi - lo) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}

int hs_hist_record(const struct hs_hist *h, const char *name, struct hs_run_result *r)
{
	for (int b = 0; b < HS_HIST_BUCKETS; b++) {
		struct hs_hist_rec *rec;

		if (!h->buckets[b])
			continue;
		rec = HS_VEC_PUSH(&r->hists);
		if (!rec)
			return HS_E_NOMEM;
		snprintf(rec->name, sizeof(rec->name), "%s", name);
		bucket_range(b, &rec->lower_ns, &rec->upper_ns);
		rec->count = h->buckets[b];
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double hs_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool hs_median_ci95(double *v, size_t n, double *lo, double *hi)
{
	/* P(Binomial(n, 1/2) = k) is summed upwards from k = 0 while the
	 * lower tail stays within 2.5 %.  It is computed in logarithms
	 * (lgamma), so that large n neither overflows nor underflows. */
	double tail = 0, ln_n1 = lgamma((double)n + 1), ln_half = (double)n * log(0.5);
	size_t k = 0;

	while (k < n / 2) {
		double p = exp(ln_n1 - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) + ln_half);

		if (tail + p > 0.025)
			break;
		tail += p;
		k++;
	}
	if (k == 0)
		return false;
	qsort(v, n, sizeof(*v), cmp_double);
	*lo = v[k - 1];
	*hi = v[n - k];
	return true;
}

bool hs_median_ratio_ci90(double *num, size_t nn, double *den, size_t nd, double *lo, double *hi)
{
	double nlo, nhi, dlo, dhi;

	if (!hs_median_ci95(num, nn, &nlo, &nhi) || !hs_median_ci95(den, nd, &dlo, &dhi) || !(dlo > 0))
		return false;
	*lo = nlo / dhi;
	*hi = nhi / dlo;
	return true;
}

double hs_t95(int df)
{
	/* Two-sided 97.5 % quantiles of Student's t for df = 1..30, then
	 * the normal approximation with a 1/df correction. */
	static const double t[30] = {
		12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
	};

	if (df < 1)
		return 0;
	if (df <= 30)
		return t[df - 1];
	return 1.959964 + 2.4 / (double)df;
}

double hs_ci95_halfwidth(const double *v, size_t n)
{
	double mean = 0, ss = 0;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		mean += v[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - mean) * (v[i] - mean);
	return hs_t95((int)n - 1) * sqrt(ss / (double)(n - 1)) / sqrt((double)n);
}
