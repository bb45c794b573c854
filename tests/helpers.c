#include "helpers.h"
#include "embedded.h"
#include "result.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;
	char sink[4096];

	while ((k = read(fd, n + 1 < size ? buf + n : sink,
			 n + 1 < size ? size - 1 - n : sizeof(sink))) > 0)
		if (n + 1 < size)
			n += (size_t)k;
	buf[n] = '\0';
}

/*
 * Makes system call nr fail with EACCES in this process and in what it
 * executes.  For perf_event_open that is what the kernel does to an
 * unprivileged process's kernel-side counters under
 * kernel.perf_event_paranoid 2.  The filter checks only the system call
 * number of the native ABI, which is all herdsim uses.
 */
static int deny_syscall(long nr)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void spawn(struct cmd_result *r, const char *path, const char *const *args, long deny)
{
	int out[2], err[2];
	const char *argv[64];
	int n = 0, status;
	pid_t pid;

	argv[n++] = path;
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(out) || pipe(err))
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (deny >= 0 && deny_syscall(deny) != 0) {
			perror("seccomp filter");
			_exit(126);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* stderr is small; read stdout first, then stderr */
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	waitpid(pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_herdsim(struct cmd_result *r, const char *const *args)
{
	spawn(r, HS_BIN, args, -1);
}

void run_herdsim_without_perf(struct cmd_result *r, const char *const *args)
{
	spawn(r, HS_BIN, args, SYS_perf_event_open);
}

void run_herdsim_denying(struct cmd_result *r, long syscall_nr, const char *const *args)
{
	spawn(r, HS_BIN, args, syscall_nr);
}

int count_task_threads(int policy)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (policy < 0 || sched_getscheduler((pid_t)atoi(e->d_name)) == policy)
			n++;
	}
	closedir(d);
	return n;
}

int wait_task_threads(int expected, int timeout_ms)
{
	int n = count_task_threads(-1);

	for (int ms = 0; n != expected && ms < timeout_ms; ms++) {
		usleep(1000);
		n = count_task_threads(-1);
	}
	return n;
}

bool sched_fifo_denied(void)
{
	struct sched_param fifo = { .sched_priority = 1 }, other = { .sched_priority = 0 };
	bool denied = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) != 0;

	if (!denied)
		pthread_setschedparam(pthread_self(), SCHED_OTHER, &other);
	return denied;
}

void run_program(struct cmd_result *r, const char *path, const char *const *args)
{
	spawn(r, path, args, -1);
}

/* make_temp_dir() records each directory it makes here, and
 * remove_temp_dirs() deletes them at exit in the process that made them,
 * not in a forked child that calls exit(). */
static char **temp_dirs;
static size_t ntemp_dirs;
static pid_t temp_dirs_owner;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_temp_dirs(void)
{
	if (getpid() != temp_dirs_owner)
		return;
	for (size_t i = 0; i < ntemp_dirs; i++) {
		nftw(temp_dirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(temp_dirs[i]);
	}
	free(temp_dirs);
	temp_dirs = NULL;
	ntemp_dirs = 0;
}

const char *make_temp_dir(void)
{
	static char path[64];
	char **grown;

	snprintf(path, sizeof(path), "/tmp/herdsim-test-XXXXXX");
	if (!mkdtemp(path))
		abort();
	if (!temp_dirs_owner) {
		temp_dirs_owner = getpid();
		if (atexit(remove_temp_dirs) != 0)
			abort();
	}
	grown = realloc(temp_dirs, (ntemp_dirs + 1) * sizeof(*temp_dirs));
	if (!grown || !(grown[ntemp_dirs] = strdup(path)))
		abort();
	temp_dirs = grown;
	ntemp_dirs++;
	return path;
}

void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

void write_shipped_without_key(const char *path, const char *shipped, const char *key)
{
	const char *text = hs_embedded_find(shipped);
	size_t klen = strlen(key);
	bool dropped = false;
	FILE *f = fopen(path, "w");

	if (!text || !f)
		abort();
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
		bool drop = strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '=');

		if (!drop && fwrite(line, 1, len, f) != len)
			abort();
		dropped |= drop;
		line += len;
	}
	if (fclose(f) != 0 || !dropped)
		abort();
}

int64_t db_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static bool skip_column(const char *table, const char *col)
{
	if (strcmp(table, "run") == 0)
		return strcmp(col, "started_at") == 0 || strcmp(col, "wall_ns") == 0;
	if (strcmp(table, "experiment") == 0)
		return strcmp(col, "started_at") == 0 || strcmp(col, "ended_at") == 0 ||
		       strcmp(col, "host") == 0 || strcmp(col, "command") == 0;
	return false;
}

uint64_t db_hash(const char *db)
{
	static const char *const tables[] = { "experiment", "run", "run_param", "scalar", "lock_stat",
					      "thread", "thread_state", "wake", "callback", "m",
					      "histogram", "gauge", NULL };
	uint64_t h = 0xcbf29ce484222325ULL;
	sqlite3 *d;

	if (sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		abort();
	for (int t = 0; tables[t]; t++) {
		char sql[256];
		sqlite3_stmt *st;

		/* rowid order is insertion order, which is deterministic */
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY rowid", tables[t]);
		if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) != SQLITE_OK) {
			snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2, 3", tables[t]);
			if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) != SQLITE_OK)
				abort();
		}
		h = fnv(h, tables[t], strlen(tables[t]));
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *v;

				if (skip_column(tables[t], sqlite3_column_name(st, c)))
					continue;
				v = sqlite3_column_text(st, c);
				h = fnv(h, v ? (const char *)v : "\1NULL", v ? (size_t)sqlite3_column_bytes(st, c) : 5);
				h = fnv(h, "\0", 1);
			}
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(d);
	return h;
}

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

int p_waits_after_gc_wait(const struct hs_run_result *r)
{
	bool after_gc[64] = { false };
	int n = 0;

	for (size_t i = 0; i < r->states.len; i++) {
		const struct hs_state_rec *s = &r->states.data[i];

		if (s->thread < 0 || s->thread >= 64 || s->state != HS_TS_BLOCKED)
			continue;
		if (s->reason == HS_R_GC_WAIT)
			after_gc[s->thread] = true;
		else if (s->reason == HS_R_P_WAIT && after_gc[s->thread])
			n++;
	}
	return n;
}
