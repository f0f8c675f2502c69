/*
 * What a worker leaves behind: processes still in its process group after
 * it exited, and (with --subreaper or as PID 1) orphans that left the group
 * but still hold one of clusterd's listening sockets. They get the stop
 * signal, then SIGKILL after stop_timeout, and clusterd exits only once
 * they are gone.
 */
#ifndef CLUSTERD_LEFTOVER_H
#define CLUSTERD_LEFTOVER_H

#include <ev.h>
#include <sys/types.h>

struct sockpool;

/*
 * Set up once, by the cluster: the loop; its sockets, which an orphan may
 * hold (--subreaper); is_worker(arg, pid) says whether pid is a live
 * worker (whose group, led by it, is its to answer for); gone(arg) is
 * called when nothing is left any more.
 */
void	leftover_init(struct ev_loop *, const struct sockpool *,
	    int (*is_worker)(void *, pid_t), void (*gone)(void *), void *arg);
/* What leftovers found from now on get: stop_signal, then SIGKILL after
 * stop_timeout (the current generation's settings). */
void	leftover_settings(int stop_signal, double stop_timeout);
/*
 * Worker id, whose pid led its group, has exited and been reaped. Before
 * the exit is handled, note that its group may hold someone (one system
 * call), so that clusterd cannot end without waiting for it; after it (the
 * replacement forked, the exit logged), leftover_start() reads /proc, then
 * logs and signals what is left, and orphans holding a socket. A worker
 * that was stopping (and maybe killed) had the stop signal sent to its
 * group: what is left gets no other, only SIGKILL when the worker's own
 * deadline, left seconds from now, is over.
 */
void	leftover_collect(pid_t pid, unsigned id, int stopping, int killed, double left);
void	leftover_start(void);
/* Orphans holding a listening socket (--subreaper or PID 1), at stop. */
void	leftover_collect_orphans(void);
/* SIGKILL to everything left, now (a second SIGTERM, SIGQUIT). */
void	leftover_kill_all(void);
/* Something is left: clusterd waits for it before it exits. */
int	leftover_pending(void);
/* Forget them all, at exit. */
void	leftover_free_all(void);

/* pid's state letter in /proc/PID/stat (R, S, T for stopped by a signal,
 * t for a tracer's stop...), or 0 when it cannot be read. */
char	leftover_proc_state(pid_t);

#endif
