/* What `clusterctl status` shows, read from the supervisor's state. */
#ifndef CLUSTERD_STATUS_H
#define CLUSTERD_STATUS_H

#include "strv.h"

struct supervisor;

void	status_text(const struct supervisor *, struct sbuf *);
void	status_json(const struct supervisor *, struct sbuf *);

#endif
