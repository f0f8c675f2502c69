/* Reading and writing cgroupfs (cgfs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cgfs.h"
#include "cgroup.h"
#include "spawn.h"
#include "strv.h"

const char *const cgfs_controllers[] = { "memory", "pids", "cpu" };

/* A small cgroup file, NUL-terminated; -1 with errno. */
int
cgfs_read_at(int dirfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return 0;
}

int
cgfs_write_at(int dirfd, const char *file, const char *value)
{
	int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC), e;
	ssize_t n;

	if (fd == -1)
		return -1;
	n = write(fd, value, strlen(value));
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* "key value" lines (cgroup.events, memory.events, cpu.stat): key's value,
 * or -1. */
long long
cgfs_field(const char *text, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, len) == 0 && p[len] == ' ')
			return strtoll(p + len + 1, NULL, 10);
	return -1;
}

long long
cgfs_number_at(int dirfd, const char *file)
{
	char buf[64];

	if (cgfs_read_at(dirfd, file, buf, sizeof(buf)) == -1)
		return -1;
	return strtoll(buf, NULL, 10);
}

int
cgfs_populated_at(int dirfd)
{
	char buf[128];

	/* Only a cgroup that is gone is empty for sure: one that cannot be
	 * read now (EMFILE) may still hold processes. */
	if (cgfs_read_at(dirfd, "cgroup.events", buf, sizeof(buf)) == -1)
		return errno != ENOENT && errno != ENODEV;
	return cgfs_field(buf, "populated") > 0;
}

/* The pids in a cgroup.procs; fn for each (fn NULL: count them). */
int
cgfs_each_pid(int dirfd, void (*fn)(pid_t, int), int arg)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC), n = 0;
	FILE *fp;
	long pid;

	if (fd == -1 || (fp = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	while (fscanf(fp, "%ld", &pid) == 1) {
		/* A process outside our pid namespace reads as 0: it counts,
		 * but kill(0) would signal clusterd's own group. */
		if (fn && pid > 0)
			fn((pid_t)pid, arg);
		n++;
	}
	fclose(fp);
	return n;
}

void
cgfs_send_signal(pid_t pid, int sig)
{
	kill(pid, sig);
}

int
cgfs_has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += len)
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\n' || p[len] == ','))
			return 1;
	return 0;
}

/* The CG_* bits named in a cgroup.controllers. */
unsigned
cgfs_controllers_at(int dirfd)
{
	char buf[256];
	unsigned bits = 0;

	if (cgfs_read_at(dirfd, "cgroup.controllers", buf, sizeof(buf)) == -1)
		return 0;
	for (int i = 0; i < CG_N; i++)
		if (cgfs_has_word(buf, cgfs_controllers[i]))
			bits |= 1U << i;
	return bits;
}

/*
 * Where hierarchy's mount is and which of its paths it shows: from
 * /proc/self/mountinfo, the first mount of fstype (and, for v1, with
 * option) whose root holds path. Returns the directory of path, malloc'd.
 */
char *
cgfs_mounted_dir(const char *fstype, const char *option, const char *path)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *dir = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return NULL;
	while (dir == NULL && getline(&line, &cap, fp) != -1) {
		char *f[12], *save = NULL, *dash;
		int n = 0;

		if ((dash = strstr(line, " - ")) == NULL)
			continue;
		*dash = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
			f[n++] = t;
		if (n < 5)
			continue;
		char *type = strtok_r(dash + 3, " ", &save), *src = strtok_r(NULL, " ", &save);
		char *opts = strtok_r(NULL, " \n", &save);
		size_t rl = strlen(f[3]);

		(void)src;
		if (type == NULL || strcmp(type, fstype) != 0 ||
		    (option && (opts == NULL || !cgfs_has_word(opts, option))))
			continue;
		if (strcmp(f[3], "/") == 0)
			rl = 0;
		else if (strncmp(path, f[3], rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
			continue;
		dir = xasprintf("%s%s", f[4], strcmp(path + rl, "/") == 0 ? "" : path + rl);
	}
	free(line);
	fclose(fp);
	return dir;
}

/* clusterd's path in the hierarchy of /proc/self/cgroup whose controller
 * list has ctl ("" for the v2 line), malloc'd, or NULL. */
char *
cgfs_own_path(const char *ctl)
{
	FILE *fp = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *path = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return NULL;
	while (path == NULL && getline(&line, &cap, fp) != -1) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 == NULL)
			continue;
		*c1 = *c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if ((*ctl == '\0' && strcmp(line, "0") == 0 && c1[1] == '\0') ||
		    (*ctl != '\0' && cgfs_has_word(c1 + 1, ctl)))
			path = xstrdup(c2 + 1);
	}
	free(line);
	fclose(fp);
	return path;
}

void
cgfs_each_subdir(int dirfd, const char *prefix,
    void (*fn)(int dirfd, const char *name, void *arg), void *arg)
{
	/* A copy to read: closedir() closes the descriptor it was given. */
	int dfd = dup(dirfd);
	DIR *d = dfd == -1 ? NULL : fdopendir(dfd);
	struct dirent *e;

	if (d == NULL) {
		if (dfd != -1)
			close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
		    strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			fn(dirfd, e->d_name, arg);
	closedir(d);
}

int
cgfs_open_dir(int at, const char *path)
{
	int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd == -1 ? -1 : spawn_park_fd(fd);
}

void
cgfs_pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}
