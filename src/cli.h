/* The command line (§1), parsed but not yet merged with the file. */
#ifndef CLUSTERD_CLI_H
#define CLUSTERD_CLI_H

#include "strv.h"

struct cli {
	int		 workers;	/* -1: unset */
	int		 workers_max;	/* -n MIN..MAX's high end, or -1 */
	struct strv	 listen;	/* [NAME=]ADDR as given */
	const char	*config;
	const char	*control;
	double		 stop_timeout;	/* < 0: unset */
	const char	*ready;
	struct strv	 env;
	const char	*user;
	const char	*directory;
	int		 subreaper;
	int		 bind_shim;
	int		 cgroups;	/* enum cgroups_mode, -1: unset */
	int		 reuseport;
	int		 check;
	int		 verbosity;
	int		 log_format;	/* enum log_format, -1: unset */
	struct strv	 argv;		/* worker command */
};

void	cli_parse(struct cli *, int argc, char **argv);
void	cli_free(struct cli *);

#endif
