/*
 * The default control socket path (§5), shared by clusterd and clusterctl;
 * claiming a UNIX socket path (the control socket, unix: listeners).
 */
#ifndef CLUSTERD_CTLPATH_H
#define CLUSTERD_CTLPATH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * 1 if name can be a clusterd name ([clusterd] name, clusterctl -N):
 * one or more of A-Z a-z 0-9 _ . -; else 0.
 */
int	 ctl_valid_name(const char *name);

/*
 * Write the default control socket path into buf: DIR/clusterd.sock, or
 * DIR/clusterd-NAME.sock when name is not NULL, where DIR is /run/clusterd
 * for root (euid 0), else $XDG_RUNTIME_DIR/clusterd when that is set and
 * absolute, else /tmp/clusterd-EUID.
 * create = 0 only builds the path (clusterctl). create = 1 (clusterd) also
 * makes DIR with mode 0700 if it is missing (its parent must exist) and then
 * checks it with ctl_check_dir().
 * Returns 0, or -1 with a one-line message in err (a bad name, a path too
 * long for a UNIX socket or for buf, DIR refused).  Nothing is logged.
 */
int	 ctl_default_path(const char *name, char *buf, size_t len, int create,
	    char *err, size_t errlen);

/*
 * Check that dir (no trailing slash) is safe to hold a control socket: not
 * a symbolic link (lstat), a directory, owned by the effective uid, and no
 * permission bits for group or others.  Returns 0, or -1 with a message
 * naming dir in err.
 */
int	 ctl_check_dir(const char *dir, char *err, size_t errlen);

/*
 * Whoever holds the lock file path.lock (flock LOCK_EX, created 0600) owns
 * the socket path; the lock is kept for as long as the socket is.
 *
 * sockpath_lock() takes it without waiting: returns its fd (close-on-exec),
 * or -1 with a message in err, and *busy = 1 when another process holds it.
 * sockpath_clear(), with the lock held, makes way for a socket of type at
 * path: a socket file nobody listens on is stale and removed; one that
 * answers is some other program's (*busy = 1, "Address already in use");
 * anything else is an error in err.  sockpath_claim() does both.
 * sockpath_release() removes the socket file if it is still the one with
 * dev and ino (ino 0: none), then the lock file if it is still ours, and
 * closes lock (-1: none).
 */
int	 sockpath_lock(const char *path, int *busy, char *err, size_t errlen);
int	 sockpath_clear(const char *path, int type, int *busy, char *err,
	    size_t errlen);
int	 sockpath_claim(const char *path, int type, int *busy, char *err,
	    size_t errlen);
void	 sockpath_release(const char *path, int lock, dev_t dev, ino_t ino);

#endif
