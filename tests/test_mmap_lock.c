/*
 * The address-space lock's rules (sim/mmap_lock.c): who takes it, who
 * spins, who sleeps, and whom a release grants it to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_internal.h"

/* A writer takes a free lock; a second writer spins while the holder is
 * on a core and queues once the holder is off it.  A writer that may not
 * spin queues at once, and still takes a free lock.  A release wakes the
 * queued writer without handing it the lock: it takes it when it runs. */
static void writer_spins_on_a_running_writer(void **state)
{
	struct sim_mm_lock l = { 0 };
	struct sim_thread w1 = { 0 }, w2 = { 0 }, w3 = { 0 }, w4 = { 0 };

	(void)state;
	assert_int_equal(sim_mm_try_write(&l, &w1, SIM_MM_MAY_SPIN), SIM_MM_TAKEN);
	assert_ptr_equal(l.writer, &w1);

	w1.state = HS_TS_RUNNING;
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_MAY_SPIN), SIM_MM_SPIN);
	assert_null(l.head);

	/* a writer that must give up its core does not spin */
	assert_int_equal(sim_mm_try_write(&l, &w4, SIM_MM_NO_SPIN), SIM_MM_QUEUED);
	assert_ptr_equal(l.head, &w4);
	assert_ptr_equal(sim_mm_release(&l, &w1), &w4);
	assert_null(l.writer);
	assert_true(w4.mm_woken);
	assert_int_equal(sim_mm_try_write(&l, &w4, SIM_MM_MAY_SPIN), SIM_MM_TAKEN);
	assert_null(l.head);
	assert_null(l.tail);
	assert_false(w4.mm_queued);
	assert_null(sim_mm_release(&l, &w4));
	assert_int_equal(sim_mm_try_write(&l, &w1, SIM_MM_NO_SPIN), SIM_MM_TAKEN);

	w1.state = HS_TS_RUNNABLE; /* preempted while holding it */
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_MAY_SPIN), SIM_MM_QUEUED);
	w1.state = HS_TS_RUNNING;
	assert_int_equal(sim_mm_try_write(&l, &w3, SIM_MM_MAY_SPIN), SIM_MM_SPIN);
	assert_ptr_equal(l.head, &w2);
	assert_ptr_equal(l.tail, &w2);

	/* the release wakes w2 alone, once; w3 takes the free lock first */
	assert_ptr_equal(sim_mm_release(&l, &w1), &w2);
	assert_null(l.writer);
	assert_int_equal(sim_mm_try_write(&l, &w3, SIM_MM_MAY_SPIN), SIM_MM_TAKEN);
	assert_null(sim_mm_release(&l, &w3)); /* w2 is awake already */
	assert_int_equal(sim_mm_try_write(&l, &w3, SIM_MM_MAY_SPIN), SIM_MM_TAKEN);

	/* w2 runs, finds it held and sleeps again in its place */
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_MAY_SPIN), SIM_MM_QUEUED);
	assert_false(w2.mm_woken);
	assert_ptr_equal(l.head, &w2);
	assert_ptr_equal(sim_mm_release(&l, &w3), &w2);
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_NO_SPIN), SIM_MM_TAKEN);
	assert_ptr_equal(l.writer, &w2);
	assert_null(l.head);
	assert_null(l.tail);
	assert_null(sim_mm_release(&l, &w2));
	assert_null(l.writer);
}

/* Readers share the lock and never spin.  A writer spins on them until
 * its limit, then marks the lock and queues; the next writer queues at
 * once.  The last reader's release wakes the first writer, whose taking
 * the lock clears the mark. */
static void writer_spins_on_readers_then_sleeps(void **state)
{
	struct sim_mm_lock l = { 0 };
	struct sim_thread r1 = { 0 }, r2 = { 0 }, w = { 0 }, r3 = { 0 }, w2 = { 0 };

	(void)state;
	r1.state = HS_TS_RUNNING;
	assert_int_equal(sim_mm_try_read(&l, &r1), SIM_MM_TAKEN);
	assert_int_equal(sim_mm_try_read(&l, &r2), SIM_MM_TAKEN);
	assert_int_equal(l.readers, 2);
	assert_int_equal(sim_mm_reader_spin_ns(&l), 11000);
	assert_int_equal(sim_mm_try_write(&l, &w, SIM_MM_MAY_SPIN), SIM_MM_SPIN_READERS);
	assert_null(l.head);
	assert_int_equal(sim_mm_try_write(&l, &w, SIM_MM_SPIN_EXPIRED), SIM_MM_QUEUED);
	assert_false(w.mm_reader);
	assert_true(l.nonspinnable);
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_MAY_SPIN), SIM_MM_QUEUED);
	assert_ptr_equal(l.tail, &w2);

	/* a reader still takes it while no writer holds it */
	assert_int_equal(sim_mm_try_read(&l, &r3), SIM_MM_TAKEN);
	assert_int_equal(l.readers, 3);

	assert_null(sim_mm_release(&l, &r1));
	assert_null(sim_mm_release(&l, &r3));
	assert_ptr_equal(sim_mm_release(&l, &r2), &w);
	assert_int_equal(l.readers, 0);
	assert_true(l.nonspinnable);
	assert_int_equal(sim_mm_try_write(&l, &w, SIM_MM_NO_SPIN), SIM_MM_TAKEN);
	assert_ptr_equal(l.writer, &w);
	assert_false(l.nonspinnable);
	assert_ptr_equal(l.head, &w2);
}

/* The spin limit on readers is (10 + readers / 2) us, readers capped at 30. */
static void reader_spin_limit_grows_with_readers(void **state)
{
	struct sim_mm_lock l = { 0 };

	(void)state;
	l.readers = 1;
	assert_int_equal(sim_mm_reader_spin_ns(&l), 10500);
	l.readers = 30;
	assert_int_equal(sim_mm_reader_spin_ns(&l), 25000);
	l.readers = 200;
	assert_int_equal(sim_mm_reader_spin_ns(&l), 25000);
}

/* Behind a writer, readers and writers queue in order.  The writer's
 * release grants every queued reader at once.  The queued writer keeps
 * its place until the last of them is done. */
static void release_grants_every_queued_reader(void **state)
{
	struct sim_mm_lock l = { 0 };
	struct sim_thread w1 = { 0 }, r1 = { 0 }, w2 = { 0 }, r2 = { 0 }, *g;

	(void)state;
	assert_int_equal(sim_mm_try_write(&l, &w1, SIM_MM_MAY_SPIN), SIM_MM_TAKEN);
	w1.state = HS_TS_BLOCKED;
	assert_int_equal(sim_mm_try_read(&l, &r1), SIM_MM_QUEUED);
	assert_true(r1.mm_reader);
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_MAY_SPIN), SIM_MM_QUEUED);
	assert_int_equal(sim_mm_try_read(&l, &r2), SIM_MM_QUEUED);

	g = sim_mm_release(&l, &w1);
	assert_ptr_equal(g, &r1);
	assert_ptr_equal(r1.wait_next, &r2);
	assert_null(r2.wait_next);
	assert_int_equal(l.readers, 2);
	assert_null(l.writer);
	assert_ptr_equal(l.head, &w2);
	assert_ptr_equal(l.tail, &w2);
	assert_null(w2.wait_next);

	/* a writer arriving now spins on the readers, then queues behind w2 */
	struct sim_thread w3 = { 0 };

	assert_int_equal(sim_mm_try_write(&l, &w3, SIM_MM_MAY_SPIN), SIM_MM_SPIN_READERS);
	assert_int_equal(sim_mm_try_write(&l, &w3, SIM_MM_SPIN_EXPIRED), SIM_MM_QUEUED);
	assert_ptr_equal(l.tail, &w3);
	assert_null(sim_mm_release(&l, &r2));
	assert_ptr_equal(sim_mm_release(&l, &r1), &w2);
	assert_int_equal(sim_mm_try_write(&l, &w2, SIM_MM_NO_SPIN), SIM_MM_TAKEN);
	assert_ptr_equal(l.writer, &w2);
	assert_ptr_equal(l.head, &w3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writer_spins_on_a_running_writer),
		cmocka_unit_test(writer_spins_on_readers_then_sleeps),
		cmocka_unit_test(reader_spin_limit_grows_with_readers),
		cmocka_unit_test(release_grants_every_queued_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
