/* Reading the config file: open it (a regular one, without blocking), read
 * it through conf_reader (inih's ini_parse_stream reader), close it. */
#ifndef CLUSTERD_CONFFILE_H
#define CLUSTERD_CONFFILE_H

#include "confparse.h"

int	conf_open(struct parse *, const char *path);
char	*conf_reader(char *str, int num, void *arg);
void	conf_close(struct parse *);

#endif
