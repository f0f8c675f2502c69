/* Between supervisor.c and supadopt.c, which sets the same supervisor up
 * from an upgrade's state instead of from the config. */
#ifndef CLUSTERD_SUPPRIV_H
#define CLUSTERD_SUPPRIV_H

struct supervisor;
struct ev_loop;
struct cli;

/* What every supervisor starts from: its parts initialised, no sockets,
 * no workers. */
void	sup_setup(struct supervisor *, struct ev_loop *, const struct cli *);
/* Run until the cluster ends: its exit status. */
int	sup_run_loop(struct supervisor *);

#endif
