/*
 * Upgrading clusterd in place (clusterd(8), UPGRADING CLUSTERD): the state
 * goes into a memfd, the descriptors it names stay open, and the same
 * process execs the new binary, which takes everything over: same pid,
 * same sockets, same workers.
 */
#ifndef CLUSTERD_UPGRADE_H
#define CLUSTERD_UPGRADE_H

#include <ev.h>

#include "ops.h"

struct cli;

struct state_in;
struct state_out;
struct supervisor;

struct upgrade {
	struct ev_loop	*loop;
	struct supervisor *sup;
	struct ops	*ops;
	/* The clients' part of the state, the control socket's (given by
	 * clusterd.c: control.c calls this module, not the other way). */
	void		(*client_save)(const void *, struct state_out *,
			    const void *waiting);
	int		(*client_fd)(void *cookie);
	const void	*clients;
	int		 checking;	/* the new binary's check runs */
	pid_t		 pid;
	ev_child	 child;
	ev_io		 out;		/* what the check says */
	ev_timer	 timer;		/* how long it may take */
	char		 said[512];
	size_t		 nsaid;
	int		 exe;		/* O_PATH of the new binary */
	char		*path;
	int		 memfd;		/* the state the check reads */
	int		 format;	/* of the state written */
	int		 retried;	/* the check ran again with an older format */
	double		 asked;		/* mono_now() of the request */
	request_cb	*done;
	void		*cookie;
};

/* At start: the command line, and this binary (kept open for a fallback;
 * its path is where SIGUSR1 and a bare "clusterctl upgrade" look). */
void	upgrade_args(int argc, char **argv);
/* "0.1.0 (abc123def456)" */
const char *upgrade_version(void);

void	upgrade_init(struct upgrade *, struct ev_loop *, struct supervisor *,
	    struct ops *);
void	upgrade_set_clients(struct upgrade *, const void *clients,
	    void (*save)(const void *clients, struct state_out *, const void *waiting),
	    int (*fd_of)(void *cookie));
/* Upgrade to path (NULL: the binary clusterd was started as). done hears
 * a refusal or a failure; success is said by the new image, to the
 * descriptor the control socket's part of the state carries, or in the log. */
void	upgrade_request(struct upgrade *, const char *path, request_cb *done,
	    void *cookie);
/* Whoever asked is gone. */
void	upgrade_cancel(struct upgrade *, void *cookie);
void	upgrade_free(struct upgrade *);
/* Who may wait for a slot's replace, by name, for sup_save/sup_adopt. */
struct replace_owner;
const struct replace_owner *upgrade_owners(struct supervisor *, struct ops *);

/* The new image, from main(): --check-upgrade=FD (its exit status), and
 * --upgrade-state=FD: read the state (exits when it cannot), then either
 * the cluster is taken over (done: the requester is answered) or it
 * failed (falls back to the old binary: never returns). */
int	upgrade_check_main(int fd, const struct cli *);
/* The descriptors the state names come without close-on-exec: the
 * adopters take them as they are, and upgrade_restore_done() sets it on
 * all of them at once (nothing is exec'd before). */
int	upgrade_restore_begin(int fd, int fallback, struct state_in **);
void	upgrade_restore_failed(void) __attribute__((noreturn));
/* Taken over: what to answer whoever asked (*code 0: upgraded; 1: the
 * fallback took over), also logged. */
void	upgrade_restore_done(int *code, char *msg, size_t len);
void	upgrade_restore_end(void);

#endif
