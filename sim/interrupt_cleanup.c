/*
 * The SIGINT and SIGTERM handler of interrupt_cleanup.h.  The handler
 * calls only kill, waitpid, open, getdents64, lseek, unlinkat, close,
 * rmdir, write, sigaction, raise and the string functions strcmp, strlen
 * and strrchr.  POSIX.1-2017 lists all but getdents64 as
 * async-signal-safe.  getdents64 is the Linux system call that glibc
 * (2.30 and later) wraps without locks or allocation, which readdir
 * cannot promise.
 */
#include "interrupt_cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum entry_kind { ENTRY_FILE, ENTRY_DIR, ENTRY_DIRS, ENTRY_TREE };

struct entry {
	enum entry_kind kind;
	size_t keep;                /* ENTRY_DIRS: length of the ancestor to keep */
	char path[HS_CLEANUP_PATH_MAX];
};

static const int watched[2] = { SIGINT, SIGTERM };
static struct sigaction saved[2];
static bool watching;

static struct entry entries[HS_CLEANUP_MAX];
static volatile sig_atomic_t nentries;
static volatile sig_atomic_t child;  /* pid of the registered child, or 0 */
static char message[HS_CLEANUP_PATH_MAX + 256];

/* Unlinks the entries of the open directory fd, then rereads it until a
 * pass removes nothing, since removing entries while reading may make
 * getdents64 skip some. */
static void remove_entries(int fd)
{
	static char buf[8192] __attribute__((aligned(8)));
	bool removed = true;

	for (int pass = 0; removed && pass < 16; pass++) {
		ssize_t n;

		removed = false;
		if (lseek(fd, 0, SEEK_SET) != 0)
			return;
		while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *e = (struct dirent64 *)(buf + off);

				off += e->d_reclen;
				if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
					continue;
				if (unlinkat(fd, e->d_name, 0) == 0 ||
				    unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0)
					removed = true;
			}
		}
	}
}

/* Removes ENTRY_DIRS: the directory, then each ancestor longer than keep. */
static void remove_dirs(struct entry *e)
{
	char *slash;

	for (;;) {
		rmdir(e->path);
		if (strlen(e->path) <= e->keep)
			return;
		slash = strrchr(e->path, '/');
		if (!slash || slash == e->path)
			return;
		*slash = '\0';
	}
}

static void remove_on_signal(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	ssize_t ignored;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	for (int i = nentries - 1; i >= 0; i--) {
		struct entry *e = &entries[i];
		int fd;

		switch (e->kind) {
		case ENTRY_FILE:
			unlink(e->path);
			break;
		case ENTRY_DIR:
			rmdir(e->path);
			break;
		case ENTRY_DIRS:
			remove_dirs(e);
			break;
		case ENTRY_TREE:
			fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				remove_entries(fd);
				close(fd);
			}
			rmdir(e->path);
			break;
		}
	}
	if (message[0]) {
		ignored = write(STDERR_FILENO, message, strlen(message));
		(void)ignored;
	}
	sigaction(sig, &dfl, NULL);
	raise(sig); /* pending until the handler returns, as sig is blocked in it */
}

void hs_cleanup_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

void hs_cleanup_unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

static void set_message(const char *text)
{
	snprintf(message, sizeof(message), "%s", text ? text : "");
}

void hs_cleanup_watch(const char *text)
{
	struct sigaction sa = { .sa_handler = remove_on_signal };
	sigset_t old;

	hs_cleanup_block(&old);
	nentries = 0;
	child = 0;
	set_message(text);
	/* Both signals stay blocked in the handler, so a second one cannot
	 * start the removals again halfway. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	for (size_t i = 0; i < 2; i++) {
		sigaction(watched[i], NULL, &saved[i]);
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(watched[i], &sa, NULL);
	}
	watching = true;
	hs_cleanup_unblock(&old);
}

void hs_cleanup_unwatch(void)
{
	sigset_t old;

	if (!watching)
		return;
	hs_cleanup_block(&old);
	for (size_t i = 0; i < 2; i++)
		sigaction(watched[i], &saved[i], NULL);
	watching = false;
	nentries = 0;
	hs_cleanup_unblock(&old);
}

static void add_entry(enum entry_kind kind, const char *path, size_t keep)
{
	sigset_t old;
	struct entry *e;

	if (strlen(path) >= HS_CLEANUP_PATH_MAX)
		return;
	if (nentries >= HS_CLEANUP_MAX) {
		fprintf(stderr, "herdsim: internal error: more than %d paths to remove on a signal; "
			"%s is the first one left out\n", HS_CLEANUP_MAX, path);
		abort();
	}
	hs_cleanup_block(&old);
	e = &entries[nentries];
	e->kind = kind;
	e->keep = keep;
	memcpy(e->path, path, strlen(path) + 1);
	nentries = nentries + 1;
	hs_cleanup_unblock(&old);
}

void hs_cleanup_add_file(const char *path)
{
	add_entry(ENTRY_FILE, path, 0);
}

void hs_cleanup_add_dir(const char *path)
{
	add_entry(ENTRY_DIR, path, 0);
}

void hs_cleanup_add_dirs(const char *path, size_t keep)
{
	add_entry(ENTRY_DIRS, path, keep);
}

void hs_cleanup_add_tree(const char *path)
{
	add_entry(ENTRY_TREE, path, 0);
}

void hs_cleanup_reset(const char *text)
{
	sigset_t old;

	hs_cleanup_block(&old);
	nentries = 0;
	set_message(text);
	hs_cleanup_unblock(&old);
}

pid_t hs_cleanup_fork(void)
{
	sigset_t old;
	pid_t pid;

	hs_cleanup_block(&old);
	pid = fork();
	if (pid == 0) {
		if (watching)
			for (size_t i = 0; i < 2; i++)
				sigaction(watched[i], &saved[i], NULL);
		hs_cleanup_unblock(&old);
		return 0;
	}
	if (pid > 0)
		child = pid;
	hs_cleanup_unblock(&old);
	return pid;
}

int hs_cleanup_wait(pid_t pid, int *status)
{
	siginfo_t info;
	sigset_t old;
	int rc;

	while ((rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT)) != 0 && errno == EINTR)
		;
	hs_cleanup_block(&old);
	if (child == pid)
		child = 0;
	if (rc == 0)
		while ((rc = waitpid(pid, status, 0) < 0 ? -1 : 0) != 0 && errno == EINTR)
			;
	hs_cleanup_unblock(&old);
	return rc;
}
