/*
 * Go's runtime mutex (lock2/unlock2) over the policy primitives, shared by
 * both backends.  `spin` active spins of `spin_ns` each, then
 * `passive_spin` yields, then a futex sleep.
 */
#ifndef HERDSIM_LOCK2_H
#define HERDSIM_LOCK2_H

#include "policy.h"

void hs_lock2(hs_env *env, hs_rtmutex *mu, int spin, int64_t spin_ns, int passive_spin);
void hs_unlock2(hs_env *env, hs_rtmutex *mu);

#endif /* HERDSIM_LOCK2_H */
