/* The command line laid over the file's settings, and the result checked. */
#ifndef CLUSTERD_MERGE_H
#define CLUSTERD_MERGE_H

#include "confparse.h"

void	merge_cli(struct parse *, const struct cli *);
void	merge_check(struct parse *, const struct cli *);

#endif
