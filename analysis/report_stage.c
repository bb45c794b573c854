/*
 * The staging directory of a report: the output directory and its
 * parents, and the move of the finished files into the output directory.
 *
 * rp_stage_commit moves the files one by one, in name order.  Before a
 * file replaces an existing one, the existing file gets a second name in
 * the backup directory STAGE/.replaced (a hard link, or the file itself
 * renamed where the file system has no hard links).  When a move fails,
 * the files moved so far are moved back: each earlier file returns from
 * the backup and each new name is removed.
 *
 * NOTE: what the rollback cannot cover.  SIGKILL or a crash during the
 * moves leaves the new files moved so far beside the older others, and
 * the staging directory with the rest and the backups.  A failed move
 * back is reported and leaves that earlier file in STAGE/.replaced.
 * Where the file system has no hard links, the name of a replaced file is
 * missing between its two renames.
 */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BACKUP_DIR ".replaced"

/* Creates dir and its missing parents.  Sets *first_new to the length of
 * the shallowest directory that this call created (0 when it created
 * none), also when it fails, so rp_remove_new_dirs can undo it. */
int rp_make_dirs(const char *dir, size_t *first_new, struct hs_error *err)
{
	char buf[4096];

	*first_new = 0;
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) == 0) {
			if (*first_new == 0)
				*first_new = strlen(buf);
		} else if (errno != EEXIST) {
			return hs_error_set(err, HS_E_IO, buf, 0, "--out", "cannot create the output "
					    "directory: %s", strerror(errno));
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* Removes dir and its parents down to the prefix of length first_new,
 * which rp_make_dirs created, so a failed report leaves no new directory.
 * rmdir keeps a directory that is not empty. */
void rp_remove_new_dirs(const char *dir, size_t first_new)
{
	char buf[4096];

	if (first_new == 0)
		return;
	snprintf(buf, sizeof(buf), "%s", dir);
	for (;;) {
		char *slash;

		rmdir(buf);
		if (strlen(buf) <= first_new)
			return;
		slash = strrchr(buf, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
}

/* Unlinks every entry of dir and removes dir, one level deep: a
 * subdirectory is removed only if it is empty. */
static void remove_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char path[4400];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

void rp_stage_discard(const char *stage)
{
	char backup[4200];

	snprintf(backup, sizeof(backup), "%s/" BACKUP_DIR, stage);
	remove_dir_files(backup);
	remove_dir_files(stage);
}

/* One file of the staging directory and what the move did with it. */
struct staged_file {
	char name[256];
	enum {
		STAGED,            /* not moved */
		MOVED_NEW,         /* moved; no file of that name existed */
		MOVED_LINKED,      /* moved; the existing file is hard-linked in the backup */
		MOVED_ASIDE,       /* moved; the existing file was renamed into the backup */
	} state;
};

static int compare_names(const void *a, const void *b)
{
	return strcmp(((const struct staged_file *)a)->name, ((const struct staged_file *)b)->name);
}

/* Lists the files of the staging directory, sorted by name so that the
 * moves run in a fixed order. */
static int list_stage(const char *stage, struct staged_file **files, size_t *n,
		      struct hs_error *err)
{
	DIR *d = opendir(stage);
	struct dirent *e;
	size_t cap = 0;

	*files = NULL;
	*n = 0;
	if (!d)
		return hs_error_set(err, HS_E_IO, stage, 0, NULL, "cannot read the staging "
				    "directory: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			size_t grown = cap ? 2 * cap : 64;
			struct staged_file *more = realloc(*files, grown * sizeof(**files));

			if (!more) {
				closedir(d);
				return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
			}
			*files = more;
			cap = grown;
		}
		snprintf((*files)[*n].name, sizeof((*files)[*n].name), "%s", e->d_name);
		(*files)[*n].state = STAGED;
		(*n)++;
	}
	closedir(d);
	qsort(*files, *n, sizeof(**files), compare_names);
	return 0;
}

/* Moves file f of the staging directory to out, after giving an existing
 * file of that name a second name in backup.  On failure nothing has
 * changed: the backup name is removed again, or a file renamed aside is
 * renamed back. */
static int move_one(const char *stage, const char *backup, const char *out,
		    struct staged_file *f, struct hs_error *err)
{
	char from[4500], to[4500], old[4500];
	struct stat sb;
	int saved;

	snprintf(from, sizeof(from), "%s/%s", stage, f->name);
	snprintf(to, sizeof(to), "%s/%s", out, f->name);
	snprintf(old, sizeof(old), "%s/%s", backup, f->name);
	if (lstat(to, &sb) == 0) {
		/* A directory would be renamed aside and replaced, which the
		 * user did not ask for. */
		if (S_ISDIR(sb.st_mode))
			return hs_error_set(err, HS_E_IO, to, 0, NULL, "is a directory, so the report "
					    "file of that name cannot replace it; remove or rename it");
		if (link(to, old) == 0)
			f->state = MOVED_LINKED;
		else if (rename(to, old) == 0)
			f->state = MOVED_ASIDE;
		else
			return hs_error_set(err, HS_E_IO, to, 0, NULL, "cannot keep the existing file "
					    "while it is replaced: %s", strerror(errno));
	} else if (errno != ENOENT) {
		return hs_error_set(err, HS_E_IO, to, 0, NULL, "cannot check the existing file: %s",
				    strerror(errno));
	} else {
		f->state = MOVED_NEW;
	}
	if (rename(from, to) == 0)
		return 0;
	saved = errno;
	if (f->state == MOVED_ASIDE)
		rename(old, to);
	else if (f->state == MOVED_LINKED)
		unlink(old);
	f->state = STAGED;
	return hs_error_set(err, HS_E_IO, to, 0, NULL, "cannot move the file into place: %s",
			    strerror(saved));
}

/* Undoes the moves of files[0..n), last first.  Returns the number of
 * earlier files that could not be moved back, which stay in backup. */
static size_t roll_back(const char *backup, const char *out, struct staged_file *files, size_t n)
{
	size_t failed = 0;

	while (n-- > 0) {
		char to[4500], old[4500];

		snprintf(to, sizeof(to), "%s/%s", out, files[n].name);
		snprintf(old, sizeof(old), "%s/%s", backup, files[n].name);
		if (files[n].state == MOVED_NEW)
			unlink(to);
		else if (files[n].state != STAGED && rename(old, to) != 0)
			failed++;
	}
	return failed;
}

int rp_stage_commit(const char *stage, const char *out, struct hs_error *err)
{
	struct staged_file *files;
	char backup[4200];
	size_t n, moved = 0, failed, len;
	int rc = list_stage(stage, &files, &n, err);

	snprintf(backup, sizeof(backup), "%s/" BACKUP_DIR, stage);
	if (rc == 0 && mkdir(backup, 0700) != 0)
		rc = hs_error_set(err, HS_E_IO, backup, 0, NULL, "cannot create the backup "
				  "directory: %s", strerror(errno));
	while (rc == 0 && moved < n) {
		rc = move_one(stage, backup, out, &files[moved], err);
		if (rc == 0)
			moved++;
	}
	if (rc == 0) {
		free(files);
		rp_stage_discard(stage);
		return 0;
	}
	failed = roll_back(backup, out, files, moved);
	free(files);
	if (failed == 0) {
		rp_stage_discard(stage);
		return rc;
	}
	/* The staging directory stays, because its backup directory contains
	 * the earlier files that could not be moved back. */
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, "; %zu earlier file%s could not be "
		 "moved back and %s kept in %s", failed, failed == 1 ? "" : "s",
		 failed == 1 ? "is" : "are", backup);
	return rc;
}
