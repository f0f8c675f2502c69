/*
 * Reading and writing cgroupfs, for cgroup.c (clusterd's side) and
 * wcgroup.c (each worker's): small files read whole, "key value" lines,
 * pids, controllers, and where a hierarchy is mounted.
 */
#ifndef CLUSTERD_CGFS_H
#define CLUSTERD_CGFS_H

#include <ev.h>
#include <stddef.h>
#include <sys/types.h>

/* Indexed as the CG_* bits: memory, pids, cpu. */
extern const char *const cgfs_controllers[];

/* A small file at dirfd, NUL-terminated; -1 with errno. */
int	 cgfs_read_at(int dirfd, const char *file, char *buf, size_t len);
int	 cgfs_write_at(int dirfd, const char *file, const char *value);
/* key's value in "key value" lines (cgroup.events, memory.events,
 * cpu.stat), or -1. */
long long cgfs_field(const char *text, const char *key);
long long cgfs_number_at(int dirfd, const char *file);
/* cgroup.events says populated 1 (0 too when the cgroup is gone). */
int	 cgfs_populated_at(int dirfd);
/* fn(pid, arg) for each pid of a cgroup.procs (fn NULL: count them). */
int	 cgfs_each_pid(int dirfd, void (*fn)(pid_t, int), int arg);
void	 cgfs_send_signal(pid_t, int sig);
/* word in a list separated by spaces, commas or newlines. */
int	 cgfs_has_word(const char *list, const char *word);
/* The CG_* bits of a cgroup.controllers. */
unsigned cgfs_controllers_at(int dirfd);
/* The directory of path in the hierarchy of fstype ("cgroup2", or
 * "cgroup" with option), from /proc/self/mountinfo; malloc'd or NULL. */
char	*cgfs_mounted_dir(const char *fstype, const char *option, const char *path);
/* clusterd's path in the hierarchy whose controllers include ctl ("":
 * the v2 line), from /proc/self/cgroup; malloc'd or NULL. */
char	*cgfs_own_path(const char *ctl);
/* fn(dirfd, name, arg) for each subdirectory of dirfd whose name starts
 * with prefix ("": any but . and ..). */
void	 cgfs_each_subdir(int dirfd, const char *prefix,
	    void (*fn)(int dirfd, const char *name, void *arg), void *arg);
/* A directory, opened and parked above the workers' descriptors. */
int	 cgfs_open_dir(int at, const char *path);
void	 cgfs_pause_ms(long ms);

#endif
