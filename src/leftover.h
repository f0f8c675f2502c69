/*
 * What a worker leaves behind: processes still in its process group after
 * it exited, and (with --subreaper or as PID 1) orphans that left the group
 * but still hold one of clusterd's listening sockets. They get the stop
 * signal, then SIGKILL after stop_timeout, and clusterd exits only once
 * they are gone.
 */
#ifndef CLUSTERD_LEFTOVER_H
#define CLUSTERD_LEFTOVER_H

struct supervisor;
struct worker;

/*
 * Worker w has exited and been reaped. Before the exit is handled, note
 * that its group may hold someone (one system call), so that clusterd
 * cannot end without waiting for it; after it (the replacement forked,
 * the exit logged), leftover_start() reads /proc, then logs and signals
 * what is left, and orphans holding a socket.
 */
void	leftover_collect(struct worker *w);
void	leftover_start(struct supervisor *);
/* Orphans holding a listening socket (--subreaper or PID 1), at stop. */
void	leftover_collect_orphans(struct supervisor *);
/* SIGKILL to everything left, now (a second SIGTERM, SIGQUIT). */
void	leftover_kill_all(struct supervisor *);
/* Something is left: clusterd waits for it before it exits. */
int	leftover_pending(void);
/* Forget them all, at exit. */
void	leftover_free_all(void);

#endif
