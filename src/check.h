/* clusterd --check: the settings in effect, as a config file would say them. */
#ifndef CLUSTERD_CHECK_H
#define CLUSTERD_CHECK_H

#include <stdio.h>

struct config;

void	config_print(const struct config *, FILE *);

#endif
