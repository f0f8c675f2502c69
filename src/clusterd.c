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
#include <string.h>

#include "config.h"
#include "cli.h"
#include "check.h"
#include "control.h"
#include "inherit.h"
#include "log.h"
#include "metricsrv.h"
#include "ops.h"
#include "signals.h"
#include "sink.h"
#include "state.h"
#include "upgrade.h"
#include "values.h"
#include "supervisor.h"

/* What clients reach clusterd through: the control socket, the metrics
 * endpoint. */
struct clients {
	struct ctl	*ctl;
	struct metricsrv *metrics;
};

/* Their part of an upgrade's state. */
static void
save_clients(const void *arg, struct state_out *so, const void *waiting)
{
	const struct clients *cl = arg;

	ctl_save(cl->ctl, so, waiting);
	metricsrv_save(cl->metrics, so);
}

/* The metrics endpoint, where the config says; a new cluster fails to
 * start when it cannot be bound, an adopted one runs on without it. */
static int
metrics_start(struct supervisor *sup, struct metricsrv *ms, int adopted)
{
	char err[512];

	if (metricsrv_set(ms, sup->cur->cfg->metrics, err, sizeof(err)) == 0)
		return 0;
	if (adopted) {
		log_warnx("%s; running without the metrics endpoint", err);
		return 0;
	}
	log_errx("%s", err);
	return -1;
}

/* The cluster runs: a new one, or (st) one an upgrade carried over. */
static int
run(struct cli *cli, struct config *cfg, const struct state_in *st)
{
	struct supervisor sup;
	struct signals sigs;
	struct ops ops;
	struct upgrade up;
	struct clients cl = { NULL, NULL };
	struct ev_loop *loop;
	char msg[512];
	int status = 2, code;

	/* signalfd: no wake-up pipe, and signals wait in the queue, not a handler. */
	if ((loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD)) == NULL)
		fatalx(1, "cannot initialise libev");
	sink_start(loop);
	signals_start(&sigs, loop, &sup, &ops);
	if (st) {
		if (sup_adopt(&sup, loop, cli, st, upgrade_owners(&sup, &ops)) == -1)
			upgrade_restore_failed();
	} else if (sup_init(&sup, loop, cli, cfg) == -1)
		return 2;
	ops_init(&ops, &sup);
	cl.metrics = ops.metrics = metricsrv_new(&sup);
	upgrade_init(&up, loop, &sup, &ops);
	if (st) {
		if (ctl_adopt(&sup, &ops, state_first(st, "ctl"), &cl.ctl) == -1 ||
		    ops_adopt(&ops, st, ctl_adopt_waiter, cl.ctl) == -1)
			upgrade_restore_failed();
		sup_adopt_release(&sup);
		metricsrv_adopt(cl.metrics, state_first(st, "metricsrv"));
		metrics_start(&sup, cl.metrics, 1);
		ctl_set_upgrade(cl.ctl, &up);
		upgrade_set_clients(&up, &cl, save_clients, ctl_conn_fd);
		sigs.up = &up;
		upgrade_restore_done(&code, msg, sizeof(msg));
		ctl_adopt_reply(cl.ctl, state_first(st, "ctl"), code, msg);
		upgrade_restore_end();
		status = sup_run_adopted(&sup);
	} else if (ctl_start(&sup, &ops, &cl.ctl) == 0 &&
	    metrics_start(&sup, cl.metrics, 0) == 0 && sup_write_pidfile(&sup) == 0) {
		ctl_set_upgrade(cl.ctl, &up);
		upgrade_set_clients(&up, &cl, save_clients, ctl_conn_fd);
		sigs.up = &up;
		status = sup_run(&sup);
	}
	sigs.up = NULL;
	upgrade_free(&up);
	ops_free(&ops);
	metricsrv_free(cl.metrics);
	ctl_close(cl.ctl);
	signals_stop(&sigs, loop);
	sup_free(&sup);
	return status;
}

/* An upgrade's own flags come first: --check-upgrade=FD, or
 * --upgrade-state=FD and maybe --upgrade-fallback. They are taken off
 * before the command line is parsed. */
static int
upgrade_flag(int *argc, char ***argv, const char *name, long *fd)
{
	size_t n = strlen(name);

	if (*argc < 2 || strncmp((*argv)[1], name, n) != 0)
		return 0;
	if (fd && ((*argv)[1][n] != '=' || parse_long((*argv)[1] + n + 1, 0, 1 << 20, fd) == -1))
		fatalx(2, "%s: bad descriptor", (*argv)[1]);
	(*argv)[1] = (*argv)[0];
	(*argv)++;
	(*argc)--;
	return 1;
}

int
main(int argc, char **argv)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct state_in *st = NULL;
	struct cli cli;
	long check = -1, state = -1;
	int status, fallback = 0;

	log_init();
	sink_init();
	upgrade_args(argc, argv);
	if (!upgrade_flag(&argc, &argv, "--check-upgrade", &check) &&
	    upgrade_flag(&argc, &argv, "--upgrade-state", &state))
		fallback = upgrade_flag(&argc, &argv, "--upgrade-fallback", NULL);
	cli_parse(&cli, argc, argv);
	log_set_verbosity(cli.verbosity);
	/* From the first line on: the file's log_format comes once it is read. */
	if (cli.log_format >= 0)
		log_set_format(cli.log_format);
	if (check >= 0) {
		status = upgrade_check_main((int)check, &cli);
		free(cfg);
		cli_free(&cli);
		return status;
	}
	if (state >= 0) {
		upgrade_restore_begin((int)state, fallback, &st);
		free(cfg);
		status = run(&cli, NULL, st);
		upgrade_restore_end();
		cli_free(&cli);
		return status;
	}
	inherit_scan();
	if (config_load(cfg, &cli, NULL) == -1)
		status = 2;
	else if (cli.check) {
		config_print(cfg, stdout);
		status = 0;
	} else {
		/* The file's log_format for the lines of set-up too. */
		log_set_format(cfg->log_format);
		log_set_name(cfg->name);
		/* The supervisor's generations own cfg from here on. */
		status = run(&cli, cfg, NULL);
		cfg = NULL;
	}
	if (cfg) {
		config_free(cfg);
		free(cfg);
	}
	cli_free(&cli);
	return status;
}
