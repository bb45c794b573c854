/* The watcher thread of interrupt_watch.h. */
#include "interrupt_watch.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

/* Ends the process by `sig` on a second signal, after the removals that
 * interrupt_watch.h lists.  Holding db_mu keeps them from racing the
 * write of a run and the rename of the trace.
 * NOTE: a second signal during the write of a run therefore takes effect
 * when that write ends, which for a large run at --record events can take
 * seconds. */
static void end_now(struct hs_interrupts *in, int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t sig_only;

	pthread_mutex_lock(&in->db_mu);
	if (in->db_new && in->recorded == 0)
		hs_db_remove(in->db_path, in->db_kept_dirs);
	if (in->trace_tmp[0])
		unlink(in->trace_tmp);
	sigaction(sig, &dfl, NULL);
	sigemptyset(&sig_only);
	sigaddset(&sig_only, sig);
	pthread_sigmask(SIG_UNBLOCK, &sig_only, NULL);
	raise(sig);
	_exit(128 + sig); /* not reached: the default action of sig ends the process */
}

/* Takes SIGINT and SIGTERM.  The first sets in->first and calls
 * in->announce, and the second calls end_now.  Returns once in->stop is
 * set, which hs_interrupts_stop follows with a signal to this thread.
 * (Cancelling the thread instead trips AddressSanitizer, whose thread exit
 * then reads the stack that cancellation unwound.) */
static void *watch_signals(void *arg)
{
	struct hs_interrupts *in = arg;

	for (;;) {
		int sig = 0, none = 0;

		if (sigwait(&in->set, &sig) != 0)
			continue;
		if (atomic_load(&in->stop))
			return NULL;
		if (!atomic_compare_exchange_strong(&in->first, &none, sig))
			end_now(in, sig);
		if (in->announce)
			in->announce(in->announce_ctx, sig);
	}
	return NULL;
}

void hs_interrupts_start(struct hs_interrupts *in, const char *db_path)
{
	static const int sigs[] = { SIGINT, SIGTERM };

	in->db_path = db_path;
	in->db_new = access(db_path, F_OK) != 0;
	in->db_kept_dirs = hs_db_existing_parent_length(db_path);
	pthread_mutex_init(&in->db_mu, NULL);
	sigemptyset(&in->set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction now;

		if (sigaction(sigs[i], NULL, &now) == 0 && now.sa_handler != SIG_IGN)
			sigaddset(&in->set, sigs[i]);
	}
	if (sigisemptyset(&in->set))
		return;
	pthread_sigmask(SIG_BLOCK, &in->set, &in->old_mask);
	in->started = pthread_create(&in->thread, NULL, watch_signals, in) == 0;
	if (!in->started)
		pthread_sigmask(SIG_SETMASK, &in->old_mask, NULL);
}

void hs_interrupts_announce_stop(void *ctx, int sig)
{
	fprintf(stderr, "%sherdsim: stopping after the run in progress; %s to stop at once without it\n",
		isatty(STDERR_FILENO) ? "\n" : "", sig == SIGINT ? "press Ctrl-C again" : "send SIGTERM again");
}

void hs_interrupts_stop(struct hs_interrupts *in)
{
	if (in->started) {
		int wake = sigismember(&in->set, SIGINT) ? SIGINT : SIGTERM;

		atomic_store(&in->stop, true);
		pthread_kill(in->thread, wake);
		pthread_join(in->thread, NULL);
		pthread_sigmask(SIG_SETMASK, &in->old_mask, NULL);
	}
	pthread_mutex_destroy(&in->db_mu);
}

void hs_interrupts_test_signal(struct hs_interrupts *in, int sig, int times)
{
	for (int t = 0; t < times; t++) {
		kill(getpid(), sig);
		for (int i = 0; i < 10000 && !atomic_load(&in->first); i++)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (times == 2) /* the watcher ends the process meanwhile */
		nanosleep(&(struct timespec){ .tv_sec = 10 }, NULL);
}
