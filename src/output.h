/* log_prefix: a worker's stdout and stderr, read from pipes and written
 * to clusterd's own with "worker ID (pid PID): " in front of each line. */
#ifndef CLUSTERD_OUTPUT_H
#define CLUSTERD_OUTPUT_H

#include <ev.h>
#include <sys/types.h>

/* A line longer than this goes out in pieces of this size, each prefixed
 * and ended with a newline; it is also what a new pipe holds. */
#define OUTPUT_PIECE	(64 * 1024)

struct relay;

struct output {
	ev_io		 io;
	int		 to;		/* 1 or 2: where its lines go */
	int		 open;		/* output_open() made its pipe */
	size_t		 psize;		/* what its pipe holds when made */
	struct relay	*relay;		/* from output_start() to output_close() */
};

/* Make the pipe; *child_end is for the worker's fd 1 or 2. -1 on error. */
int	output_open(struct output *, int to, int *child_end);
/* Relay the pipe's lines for worker id, pid of generation gen; ident: the
 * program (its base name is SYSLOG_IDENTIFIER in the journal). */
void	output_start(struct ev_loop *, struct output *, unsigned id, pid_t pid,
	    unsigned gen, const char *ident);
/* Take what is left in the pipe and close it; what was read is still
 * written, a last line without newline too. */
void	output_close(struct ev_loop *, struct output *);
struct state_out;
struct state_rec;
/* An upgrade: the pipe and what was read of it, as a record of kind; and
 * the same taken over by the new image (-1: the pipe is not there). */
void	output_save(const struct output *, struct state_out *, const char *kind);
int	output_adopt(struct ev_loop *, struct output *, const struct state_rec *,
	    unsigned id, pid_t pid, unsigned gen, const char *ident);
/* At exit (final): say how many lines were dropped and not yet said. */
void	output_report(int final);

#endif
