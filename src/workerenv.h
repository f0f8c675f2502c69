/* A worker's argv and environment, built for each start. */
#ifndef CLUSTERD_WORKERENV_H
#define CLUSTERD_WORKERENV_H

#include <stddef.h>

#include "strv.h"

struct gen;
struct spawn;

/* Who the worker is, as its argv and environment say it. */
struct workerenv {
	const struct gen *gen;		/* what it runs; {generation}, {fd:}, {port:} */
	unsigned	 id;		/* {worker}, CLUSTERD_WORKER_ID */
	size_t		 nworkers;	/* {workers}, CLUSTERD_WORKERS */
	const struct strv *base;	/* clusterd's environment, LISTEN_* removed */
	const char	*notify_path;	/* NOTIFY_SOCKET, or NULL: none */
};

/* The command's words, placeholders expanded, pushed to argv. */
void	 workerenv_argv(const struct workerenv *, struct strv *argv);
/*
 * The environment, pushed to env. The pids the child alone knows are left
 * for it to write in place: sp's listen_pid, watchdog_pid and pidfd_id
 * point into env for that.
 */
void	 workerenv_env(const struct workerenv *, struct spawn *sp, struct strv *env);
/* argv with "/bin/sh" and path in front of its arguments, for a script
 * without #!, as execvp runs one; the strings stay argv's. */
char	**workerenv_sh_argv(const struct strv *argv, const char *path);

#endif
