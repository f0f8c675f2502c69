/*
 * clusterd: run N copies of a server that share its listening sockets,
 * the job node:cluster's primary does, for any program.
 *
 * The parts, from the top: signals.c and control.c take requests;
 * ops.c queues restarts and reloads, which rollout.c carries out over
 * the slots; supervisor.c keeps the cluster, slot.c each slot's life,
 * worker.c each process.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "cli.h"
#include "check.h"
#include "control.h"
#include "inherit.h"
#include "log.h"
#include "ops.h"
#include "signals.h"
#include "sink.h"
#include "supervisor.h"

static int
run(struct cli *cli, struct config *cfg)
{
	struct supervisor sup;
	struct signals sigs;
	struct ops ops;
	struct ctl *ctl = NULL;
	struct ev_loop *loop;
	int status = 2;

	/* signalfd: no wake-up pipe, and signals wait in the queue, not a handler. */
	if ((loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD)) == NULL)
		fatalx(1, "cannot initialise libev");
	sink_start(loop);
	signals_start(&sigs, loop, &sup, &ops);
	if (sup_init(&sup, loop, cli, cfg) == -1)
		return 2;
	ops_init(&ops, &sup);
	if (ctl_start(&sup, &ops, &ctl) == 0 && sup_write_pidfile(&sup) == 0)
		status = sup_run(&sup);
	ops_free(&ops);
	ctl_close(ctl);
	signals_stop(&sigs, loop);
	sup_free(&sup);
	return status;
}

int
main(int argc, char **argv)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct cli cli;
	int status;

	log_init();
	sink_init();
	cli_parse(&cli, argc, argv);
	log_set_verbosity(cli.verbosity);
	inherit_scan();
	if (config_load(cfg, &cli, NULL) == -1)
		status = 2;
	else if (cli.check) {
		config_print(cfg, stdout);
		status = 0;
	} else {
		/* The supervisor's generations own cfg from here on. */
		status = run(&cli, cfg);
		cfg = NULL;
	}
	if (cfg) {
		config_free(cfg);
		free(cfg);
	}
	cli_free(&cli);
	return status;
}
