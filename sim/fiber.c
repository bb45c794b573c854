#include "fiber.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

#if defined(__SANITIZE_ADDRESS__)
#define HS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define HS_TSAN 1
#endif

#ifdef HS_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#endif
#ifdef HS_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#if defined(__x86_64__) && !defined(HS_FIBER_UCONTEXT)
/* hs_fiber_swap(save, next): pushes the callee-saved registers, stores the
 * stack pointer in *save, loads `next` and pops the same registers there.
 * A new fiber's stack is laid out so that the final `ret` enters
 * fiber_trampoline with the argument in r12 and the entry in r13. */
void hs_fiber_swap(void **save, void *next);
void hs_fiber_trampoline(void);
__asm__(".text\n"
	".globl hs_fiber_swap\n"
	".type hs_fiber_swap,@function\n"
	"hs_fiber_swap:\n"
	"\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
	"\tret\n"
	".size hs_fiber_swap, .-hs_fiber_swap\n"
	".globl hs_fiber_trampoline\n"
	".type hs_fiber_trampoline,@function\n"
	"hs_fiber_trampoline:\n"
	"\tmovq %r12, %rdi\n"
	"\tcallq *%r13\n"
	"\tud2\n"
	".size hs_fiber_trampoline, .-hs_fiber_trampoline\n");
#define HS_FIBER_ASM 1
#else
#include <ucontext.h>
#endif

size_t hs_fiber_stack_size(void)
{
#if defined(HS_ASAN) || defined(HS_TSAN)
	return 512 * 1024; /* sanitizers need room for redzones and shadow frames */
#else
	return 64 * 1024;
#endif
}

#ifdef HS_ASAN
/* The fiber that performed the switch in progress on this OS thread.  The
 * resumed side passes its real stack bounds to ASan, because the host's
 * bounds are unknown until it first switches away. */
static __thread struct hs_fiber *san_prev;
#endif

/* First code a new fiber runs. */
static void fiber_start(struct hs_fiber *f)
{
#ifdef HS_ASAN
	__sanitizer_finish_switch_fiber(NULL, &san_prev->san_bottom, &san_prev->san_size);
#endif
	f->entry(f->arg);
	abort(); /* entry must switch away for good instead of returning */
}

#ifndef HS_FIBER_ASM
static void ucontext_entry(unsigned hi, unsigned lo)
{
	fiber_start((struct hs_fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

/* Written at the lowest address of a fiber's stack; a fiber that finds it
 * changed when it switches away has overflowed its stack. */
#define STACK_CANARY 0x5f68657264736d5fULL

/* Stacks of destroyed fibers, kept per OS thread for reuse: a run creates
 * and destroys a stack per simulated thread, and mapping one costs three
 * system calls and its page faults.  At most STACK_CACHE_MAX are kept; the
 * pages they touched stay resident until the process exits. */
#define STACK_CACHE_MAX 1024
static __thread void *stack_cache[STACK_CACHE_MAX];
static __thread int stack_cache_len;

int hs_fiber_init(struct hs_fiber *f, void (*entry)(void *arg), void *arg)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = hs_fiber_stack_size() + page;
	char *mem;

	memset(f, 0, sizeof(*f));
	if (stack_cache_len > 0) {
		mem = stack_cache[--stack_cache_len];
	} else {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (mem == MAP_FAILED)
			return HS_E_NOMEM;
		/* No guard page: an mprotect'ed page splits the mapping, and
		 * the kernel's cap on mappings (vm.max_map_count, 65530 by
		 * default) would then limit a run to about 32,000 live
		 * threads.  Without it, adjacent stacks merge into one mapping,
		 * and the canary below catches an overflow at the next switch. */
	}
#ifdef HS_ASAN
	/* A mapping may reuse the addresses of a fiber that was abandoned in
	 * mid-call; clear the redzones its frames left in ASan's shadow. */
	__asan_unpoison_memory_region(mem + page, size - page);
#endif
	f->stack = mem;
	f->size = size;
	f->entry = entry;
	f->arg = arg;
	f->san_bottom = mem + page;
	f->san_size = size - page;
	f->canary = (uint64_t *)(void *)(mem + page);
	*f->canary = STACK_CANARY;
#ifdef HS_TSAN
	f->san_fiber = __tsan_create_fiber(0);
#endif

#ifdef HS_FIBER_ASM
	{
		uintptr_t top = ((uintptr_t)mem + size) & ~(uintptr_t)15;
		void **sp = (void **)(top - 72);

		sp[0] = 0;                           /* r15 */
		sp[1] = 0;                           /* r14 */
		sp[2] = (void *)fiber_start;         /* r13 */
		sp[3] = f;                           /* r12 */
		sp[4] = 0;                           /* rbx */
		sp[5] = 0;                           /* rbp */
		sp[6] = (void *)hs_fiber_trampoline; /* return address */
		f->sp = sp;
	}
#else
	{
		ucontext_t *uc = calloc(1, sizeof(*uc));

		if (!uc) {
			munmap(mem, size);
			return HS_E_NOMEM;
		}
		getcontext(uc);
		uc->uc_stack.ss_sp = mem + page;
		uc->uc_stack.ss_size = size - page;
		uc->uc_link = NULL;
		makecontext(uc, (void (*)(void))ucontext_entry, 2, (unsigned)((uintptr_t)f >> 32),
			    (unsigned)(uintptr_t)f);
		f->ucontext = uc;
	}
#endif
	return 0;
}

void hs_fiber_init_host(struct hs_fiber *host)
{
	memset(host, 0, sizeof(*host));
#ifdef HS_TSAN
	host->san_fiber = __tsan_get_current_fiber();
#endif
#ifndef HS_FIBER_ASM
	host->ucontext = calloc(1, sizeof(ucontext_t));
#endif
}

void hs_fiber_switch(struct hs_fiber *from, struct hs_fiber *to)
{
	if (from->canary && *from->canary != STACK_CANARY) {
		fputs("herdsim: a simulated thread overflowed its 64 KiB fiber stack; "
		      "a policy hook uses too much stack (large local arrays or deep recursion)\n", stderr);
		abort();
	}
#ifdef HS_ASAN
	void *fake = NULL;

	san_prev = from;
	__sanitizer_start_switch_fiber(&fake, to->san_bottom, to->san_size);
#endif
#ifdef HS_TSAN
	__tsan_switch_to_fiber(to->san_fiber, 0);
#endif
#ifdef HS_FIBER_ASM
	hs_fiber_swap(&from->sp, to->sp);
#else
	swapcontext(from->ucontext, to->ucontext);
#endif
#ifdef HS_ASAN
	__sanitizer_finish_switch_fiber(fake, &san_prev->san_bottom, &san_prev->san_size);
#endif
}

void hs_fiber_destroy(struct hs_fiber *f)
{
#ifdef HS_TSAN
	if (f->stack && f->san_fiber)
		__tsan_destroy_fiber(f->san_fiber);
#endif
#ifdef HS_ASAN
	if (f->stack)
		__asan_unpoison_memory_region(f->stack, f->size);
#endif
	if (f->stack && stack_cache_len < STACK_CACHE_MAX)
		stack_cache[stack_cache_len++] = f->stack;
	else if (f->stack)
		munmap(f->stack, f->size);
#ifndef HS_FIBER_ASM
	free(f->ucontext);
#endif
	memset(f, 0, sizeof(*f));
}
