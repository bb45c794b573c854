/*
 * Fibers: one stack per simulated thread, switched cooperatively.
 *
 * A fiber runs until it calls hs_fiber_switch to give control back; no
 * signal masks are saved, so a switch costs a few nanoseconds (x86-64
 * assembly; other architectures fall back to ucontext).  Stacks are mmap'ed
 * without guard pages, so that tens of thousands fit under the kernel's
 * cap on mappings; a canary word at the bottom of each stack is checked at
 * every switch away from it, and an overflow aborts with a message.  Under AddressSanitizer and ThreadSanitizer each switch is
 * announced to the sanitizer.
 */
#ifndef HERDSIM_FIBER_H
#define HERDSIM_FIBER_H

#include <stddef.h>
#include <stdint.h>

struct hs_fiber {
	void *sp;         /* saved stack pointer while switched out */
	void *stack;      /* mapping; NULL for the host */
	uint64_t *canary; /* lowest word of the stack; NULL for the host */
	size_t size;      /* bytes mapped */
	void *ucontext;   /* fallback context; NULL on x86-64 */
	void *san_fiber;  /* sanitizer fiber handle */
	const void *san_bottom;
	size_t san_size;
	void (*entry)(void *arg);
	void *arg;
};

/* Stack bytes a fiber gets, guard page excluded. */
size_t hs_fiber_stack_size(void);

/* Prepares `f` to run entry(arg) on a new stack when first switched to.
 * entry must never return: it ends by switching away for good.  Returns 0
 * or HS_E_NOMEM. */
int hs_fiber_init(struct hs_fiber *f, void (*entry)(void *arg), void *arg);

/* Makes `host` stand for the calling OS thread's own stack. */
void hs_fiber_init_host(struct hs_fiber *host);

/* Saves the running context into `from` and resumes `to`. */
void hs_fiber_switch(struct hs_fiber *from, struct hs_fiber *to);

/* Unmaps the stack.  The fiber must not be running. */
void hs_fiber_destroy(struct hs_fiber *f);

#endif /* HERDSIM_FIBER_H */
