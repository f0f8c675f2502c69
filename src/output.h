/* log_prefix: a worker's stdout and stderr, read line by line and written
 * to clusterd's own with "worker ID (pid PID): " in front. */
#ifndef CLUSTERD_OUTPUT_H
#define CLUSTERD_OUTPUT_H

#include <ev.h>
#include <sys/types.h>

/* A piece and its prefix fit PIPE_BUF, so a write to a pipe is atomic. */
#define OUTPUT_LINE_MAX (4096 - 64)

struct output {
	ev_io		 io;
	int		 to;		/* 1 or 2: where its lines go */
	unsigned	 id;
	pid_t		 pid;
	size_t		 len;
	char		 buf[OUTPUT_LINE_MAX];
};

/* Make the pipe; *child_end is for the worker's fd 1 or 2. -1 on error. */
int	output_open(struct output *, int to, int *child_end);
void	output_start(struct ev_loop *, struct output *, unsigned id, pid_t pid);
/* Write out what is left (a last line without newline) and close. */
void	output_close(struct ev_loop *, struct output *);
/* Say how many lines were dropped for a reader that did not keep up. */
void	output_report(int final);

#endif
