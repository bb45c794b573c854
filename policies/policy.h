/*
 * herdsim policy contract.
 *
 * A policy decides how a language runtime hands its per-thread context (an
 * "M" in Go's terms) to a foreign thread that enters the runtime, and how
 * the pool of spare M's is refilled.  It is written as straight-line C, the
 * way a runtime writes it: it loads and compare-and-swaps words, yields,
 * sleeps, parks on futexes and allocates M's.  It reaches the world only
 * through the environment handle declared here, so the same compiled object
 * runs on both backends:
 *
 *   sim     every primitive is a point where simulated time passes, and the
 *           engine decides from its OS model when the calling fiber resumes;
 *   native  every primitive is the real thing on a real pthread.
 *
 * A policy built outside the tree includes this header alone and exports
 * one symbol, `herdsim_policy`, of type `struct hs_policy`.  The loader
 * rejects an object whose `abi_version` differs from HS_POLICY_ABI_VERSION.
 *
 * Concurrency contract: hooks run concurrently on many threads.  A policy
 * keeps its shared state in the block of `state_size` bytes the backend
 * allocates and zeroes for it, and touches shared words only through the
 * memory primitives below.  Plain loads and stores of shared state are data
 * races on the native backend and are invisible to the simulator's cost
 * model.  Fields of `struct hs_m` belong to whichever thread holds the M.
 */
#ifndef HERDSIM_POLICY_H
#define HERDSIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct layout or a function table below changes. */
#define HS_POLICY_ABI_VERSION 1

/*
 * A shared 64-bit word.  `value` is the only field a policy may name; the
 * backend keeps its cache-coherence bookkeeping in `shadow`.  Initialise a
 * word with HS_WORD_INIT(v) or by zeroing it.
 */
typedef struct hs_word {
	uint64_t value;
	uint64_t shadow[2];
} hs_word;

#define HS_WORD_INIT(v) { .value = (v), .shadow = { 0, 0 } }

/*
 * A runtime context.  The backend allocates it with `new_m`; `id` counts
 * from 1 in creation order within a run.  `link` chains spare M's in a
 * policy's list, and `flags` is free for the policy (Go's needextram).
 */
typedef struct hs_m {
	struct hs_m *link;
	uint64_t id;
	uint64_t flags;
	void *policy_data;
} hs_m;

/* A runtime mutex with Go's lock2 protocol: spin, then park on a futex. */
typedef struct hs_rtmutex {
	hs_word key;
	int lock_id;
} hs_rtmutex;

/* Sizes of the signal set-up a callback performs on entry and on return. */
enum hs_sig_phase {
	HS_SIG_NEEDM = 0, /* save and block signals, install the signal stack */
	HS_SIG_DROPM = 1, /* undo it before the M goes back to the list */
};

typedef struct hs_env hs_env;

/*
 * Primitives.  Each receives the calling thread's environment handle.
 * Times are nanoseconds.  On the sim backend each call costs simulated time
 * as the OS and runtime profiles say; on the native backend each is a real
 * operation.
 */
struct hs_env_ops {
	/* Shared memory, sequentially consistent. */
	uint64_t (*load)(hs_env *env, hs_word *w);
	void (*store)(hs_env *env, hs_word *w, uint64_t v);
	/* Returns true and stores `desired` if *w equalled *expected;
	 * otherwise returns false and writes the current value to *expected. */
	bool (*cas)(hs_env *env, hs_word *w, uint64_t *expected, uint64_t desired);
	uint64_t (*fetch_add)(hs_env *env, hs_word *w, uint64_t delta);
	uint64_t (*exchange)(hs_env *env, hs_word *w, uint64_t v);

	/* Operating system. */
	void (*yield)(hs_env *env);          /* sched_yield() */
	void (*sleep)(hs_env *env, int64_t ns); /* usleep/nanosleep */
	/* Blocks while *w == expected, until woken or `timeout_ns` passes
	 * (timeout_ns < 0 waits forever).  Returns 0 when woken, 1 on
	 * timeout, 2 if *w differed on entry.  Spurious returns are allowed,
	 * as with futex(2), so callers re-check their condition. */
	int (*futex_wait)(hs_env *env, hs_word *w, uint64_t expected, int64_t timeout_ns);
	/* Wakes up to n threads waiting on w; returns how many it woke. */
	int (*futex_wake)(hs_env *env, hs_word *w, int n);

	/* Runtime. */
	void (*lock)(hs_env *env, hs_rtmutex *mu);
	void (*unlock)(hs_env *env, hs_rtmutex *mu);
	/* Allocates an M as Go's allocm and oneNewExtraM do, paying their
	 * costs and taking sched.lock.  `reason` is recorded (static string). */
	hs_m *(*new_m)(hs_env *env, const char *reason);
	void (*free_m)(hs_env *env, hs_m *m);
	/* Spends `ns` of CPU time in runtime code. */
	void (*work)(hs_env *env, int64_t ns);
	/* Performs the signal system calls of one callback phase. */
	void (*signals)(hs_env *env, enum hs_sig_phase phase);
	/* Starts a runtime thread running fn(env, arg).  Runtime threads are
	 * daemons: a run ends when every foreign thread has exited, whatever
	 * they are doing.  Callable from `init` only. */
	int (*spawn)(hs_env *env, const char *name, void (*fn)(hs_env *env, void *arg), void *arg);

	/* Observation. */
	int64_t (*now)(hs_env *env);
	/* Registers a lock the policy builds from words; returns its id.
	 * Callable from `init` only.  `name` must be static. */
	int (*lock_register)(hs_env *env, const char *name);
	/* Annotations, as ThreadSanitizer's mutex annotations: call
	 * lock_begin before the first attempt, lock_acquired once the lock
	 * is held (contended: at least one attempt failed), and
	 * lock_released when it is given up. */
	void (*lock_begin)(hs_env *env, int lock_id);
	void (*lock_acquired)(hs_env *env, int lock_id, bool contended);
	void (*lock_released)(hs_env *env, int lock_id);
	/* Publishes a named gauge (list length, waiter count) for traces. */
	void (*gauge)(hs_env *env, const char *name, int64_t value);

	/* Per-thread slot the policy may use (a bound M); starts NULL. */
	void **(*thread_slot)(hs_env *env);
	/* A uniform random number from the policy's own seeded stream. */
	uint64_t (*random)(hs_env *env);
};

struct hs_env {
	const struct hs_env_ops *ops;
};

/* One tunable of a policy, settable as policy.NAME in a scenario or with
 * --set policy.NAME=VALUE.  Values are integers. */
struct hs_policy_param {
	const char *name;
	const char *help;
	int64_t default_value;
	int64_t min_value;
	int64_t max_value;
};

#define HS_POLICY_MAX_PARAMS 8

struct hs_policy {
	int abi_version; /* HS_POLICY_ABI_VERSION */
	const char *name;
	const char *summary;
	/* Bytes of shared state the backend allocates, zeroed, per run. */
	size_t state_size;
	const struct hs_policy_param *params; /* NULL-name terminated, or NULL */

	/* Runs once at runtime start on the runtime's main thread.  `params`
	 * contains the resolved value of each entry of `params`, in order.
	 * Returns 0, or a negative value to abort the run. */
	int (*init)(hs_env *env, void *state, const int64_t *params);
	/* needm: returns an M for a thread that has none.  Must not return
	 * NULL and must not return an M another thread holds. */
	hs_m *(*acquire)(hs_env *env, void *state);
	/* Called once the thread holds a P, before the Go code runs. */
	void (*entered)(hs_env *env, void *state, hs_m *m);
	/* dropm: the callback returned and the thread gives up m. */
	void (*release)(hs_env *env, void *state, hs_m *m);
	/* The foreign thread is exiting (pthread key destructor). May be NULL. */
	void (*thread_exit)(hs_env *env, void *state);
	/* Counts the spare M's the policy holds.  Called when no thread runs,
	 * at the end of a run, for the conservation check. */
	uint64_t (*spare_count)(void *state);
};

/* The symbol an out-of-tree policy exports. */
#define HS_POLICY_SYMBOL "herdsim_policy"

#ifdef __cplusplus
}
#endif

#endif /* HERDSIM_POLICY_H */
