/*
 * Removal of a command's partial output on SIGINT and SIGTERM, shared by
 * the single-threaded commands that write files: `export`, `trace gen`
 * and `report`.  (`run`, `replay` and `sweep` take these signals on a
 * watcher thread instead, see interrupt_watch.h.)
 *
 * A command calls hs_cleanup_watch with the line to print, registers each
 * partial file or directory as it creates it, and calls hs_cleanup_unwatch
 * once nothing partial is left.  On a signal the handler kills and reaps
 * the child of hs_cleanup_fork, removes the registered paths in the
 * reverse order of registration, prints the line and ends the process by
 * the signal, as the default action would.  A signal that the process
 * inherited as ignored (as in a background job of a non-interactive
 * shell) stays ignored and removes nothing.
 *
 * The functions that change the list block SIGINT and SIGTERM meanwhile,
 * so the handler never reads a half-written entry.  They are for one
 * thread only.
 */
#ifndef HERDSIM_INTERRUPT_CLEANUP_H
#define HERDSIM_INTERRUPT_CLEANUP_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Maximum number of registered paths, and the size of a path with its
 * NUL.  A longer path is not registered: no file of that name can exist,
 * because Linux rejects a path argument longer than PATH_MAX (4096).
 * hs_cleanup_add_* aborts the process when the list is full, which is a
 * bug of the caller. */
#define HS_CLEANUP_MAX 8
#define HS_CLEANUP_PATH_MAX 4400

/* Installs the handler for SIGINT and SIGTERM, except where ignored, and
 * sets the line that it prints.  message is the whole line with its '\n',
 * or NULL for none.  The list of paths starts empty. */
void hs_cleanup_watch(const char *message);

/* Restores the actions that hs_cleanup_watch replaced and empties the
 * list. */
void hs_cleanup_unwatch(void);

/* Registers file path, which the handler unlinks. */
void hs_cleanup_add_file(const char *path);

/* Registers directory path, which the handler removes if it is empty. */
void hs_cleanup_add_dir(const char *path);

/* Registers directory path and its ancestors whose paths are longer than
 * keep bytes, which the handler removes deepest first, each only if it is
 * empty.  For the directories that a command created with their parents. */
void hs_cleanup_add_dirs(const char *path, size_t keep);

/* Registers directory path, whose entries the handler unlinks before it
 * removes the directory.  One level only: a subdirectory is removed only
 * if it is empty, and then so is path. */
void hs_cleanup_add_tree(const char *path);

/* Empties the list and sets the line that a signal prints from now on
 * (NULL prints nothing), for a command whose output is complete. */
void hs_cleanup_reset(const char *message);

/* Blocks SIGINT and SIGTERM, storing the previous mask in *old, around a
 * step that a signal must not cut in half.  A signal that arrives
 * meanwhile is handled at hs_cleanup_unblock. */
void hs_cleanup_block(sigset_t *old);
void hs_cleanup_unblock(const sigset_t *old);

/* Forks.  The child gets the signal actions and mask that
 * hs_cleanup_watch found, so a signal ends it by its own action.  The
 * parent registers the child, which the handler kills with SIGKILL and
 * reaps before it removes any path.  Returns as fork(). */
pid_t hs_cleanup_fork(void);

/* Waits for child pid of hs_cleanup_fork to end, unregisters and reaps it.
 * Waiting without reaping first keeps pid from being reused while it is
 * registered.  Returns 0 and *status as waitpid() fills it, or -1 with
 * errno set. */
int hs_cleanup_wait(pid_t pid, int *status);

#endif /* HERDSIM_INTERRUPT_CLEANUP_H */
