/*
 * Settings: the INI file (-c) and the command line, merged into one struct
 * config. Command-line options win over the file. The merge is a pure
 * function of (file, struct cli) so a reload can run it again.
 */
#ifndef CLUSTERD_CONFIG_H
#define CLUSTERD_CONFIG_H

#include <stdio.h>
#include <sys/types.h>

#include "addr.h"
#include "values.h"
#include "strv.h"

struct cli;

enum ready_mode { READY_EXEC, READY_NOTIFY, READY_DELAY };
enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum restart_mode { RESTART_SURGE, RESTART_REPLACE };
enum compat { COMPAT_EINHORN = 1, COMPAT_SERVER_STARTER = 2 };
enum cgroups_mode { CGROUPS_AUTO, CGROUPS_YES, CGROUPS_NO };

struct program_cfg {
	struct strv	 argv;		/* command words, {placeholders} unexpanded */
	char		*command;	/* as written, for messages and --check */
	char		*directory;
	char		*user;
	char		*group;
	int		 umask;		/* -1: inherit */
	long		 rlimit_nofile;	/* -1: clusterd's original soft limit */
	enum ready_mode	 ready;
	double		 ready_delay;	/* READY_DELAY: seconds alive */
	double		 ready_timeout;
	enum restart_policy restart;
	double		 backoff_initial;
	double		 backoff_max;
	double		 stable_after;
	int		 stop_signal;
	double		 watchdog;	/* 0: off */
	int		 parent_death_signal;
	enum restart_mode restart_mode;
	int		 cpu_affinity;	/* 0 none, 1 auto */
	/* Per-worker cgroup limits (cgroup.c); unset -1. */
	long long	 memory_max;
	long long	 memory_high;
	int		 pids_max;
	int		 cpu_weight;
	int		 cpu_max;	/* percent of one CPU */
};

struct config {
	int		 refs;		/* generations sharing it */
	char		*file;		/* -c path, or NULL */
	char		*text;		/* what file held when read, or NULL (too big) */
	size_t		 textlen;
	int		 workers;	/* with a range, its low end: what starts */
	int		 workers_max;	/* a range's high end (autoscale.c), or -1 */
	char		*control;
	char		*metrics;	/* the metrics endpoint's address, or NULL: off */
	char		*pidfile;
	char		*name;
	double		 stop_timeout;
	int		 give_up_after;
	int		 log_prefix;
	unsigned	 compat;	/* enum compat bits */
	int		 subreaper;
	int		 bind_shim;
	int		 restart_batch;
	int		 cgroups;	/* enum cgroups_mode */
	int		 recycle_batch;
	int		 scale_queue;	/* the queue depth the autoscaler keeps under */
	double		 scale_window;
	double		 scale_down_after;
	double		 scale_cooldown;
	double		 hang_timeout;	/* 0: off */
	double		 max_age;	/* 0: off */
	int		 max_age_jitter;	/* percent */
	int		 log_format;	/* enum log_format */
	struct sock_cfg	*socks;
	size_t		 nsocks;
	struct program_cfg prog;
	struct strv	 env;		/* KEY=VALUE from [env], then -e */
};

/* Build the effective config. On errors return -1, and either push them
 * to errors or, when errors is NULL, log them all. */
int	config_load(struct config *, const struct cli *, struct strv *errors);
/* The same from text that was the file's (an upgrade carries it over):
 * the file is not read, but its name stays the config's. */
int	config_load_text(struct config *, const struct cli *, const char *text,
	    size_t len, struct strv *errors);
void	config_free(struct config *);

/* The --bind-shim library: $CLUSTERD_SHIM, else the build tree's when
 * this clusterd is the build tree's, else the installed one. */
const char *config_shim_path(void);


#endif
