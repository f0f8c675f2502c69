/*
 * clusterd: run N copies of a server that share its listening sockets,
 * the job node:cluster's primary does, for any program.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "inherit.h"
#include "log.h"
#include "sink.h"
#include "supervisor.h"

int
main(int argc, char **argv)
{
	struct supervisor sup;
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
		status = sup_init(&sup, &cli, cfg) == -1 ? 2 : sup_run(&sup);
		cfg = NULL;
	}
	if (cfg) {
		config_free(cfg);
		free(cfg);
	}
	cli_free(&cli);
	return status;
}
