/*
 * clusterd: run N copies of a server that share its listening sockets,
 * the job node:cluster's primary does, for any program.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "supervisor.h"

int
main(int argc, char **argv)
{
	struct supervisor sup;
	struct config cfg;
	struct cli cli;
	int status;

	log_init();
	cli_parse(&cli, argc, argv);
	log_set_verbosity(cli.verbosity);
	if (config_load(&cfg, &cli) == -1)
		status = 2;
	else if (cli.check) {
		config_print(&cfg, stdout);
		status = 0;
	} else if (sup_init(&sup, &cfg) == -1)
		status = 2;
	else
		status = sup_run(&sup);
	config_free(&cfg);
	cli_free(&cli);
	return status;
}
