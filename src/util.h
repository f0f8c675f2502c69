/* Small things every module may need. */
#ifndef CLUSTERD_UTIL_H
#define CLUSTERD_UTIL_H

#include <stddef.h>

/* From a watcher embedded in its owner back to the owner. */
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
