/* clusterd's files at run time. */
#ifndef CLUSTERD_RUNDIR_H
#define CLUSTERD_RUNDIR_H

/* Written beside and renamed into place, never through a symlink. */
int	 write_pidfile(const char *path);
/* Removed only if it still holds our pid. */
void	 remove_pidfile(const char *path);
/*
 * A new private directory for the workers' notify sockets, beside the
 * control directory of the cluster called name (NULL: unnamed). When that
 * cannot be had: NULL if required, else "" (workers go without).
 */
char	*rundir_notify(const char *name, int required);
void	 rundir_notify_remove(const char *dir);

#endif
