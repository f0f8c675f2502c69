#ifndef CLUSTERD_CPUS_H
#define CLUSTERD_CPUS_H

/* The CPUs this process may use: its affinity mask, capped by any cgroup
 * v2 cpu.max quota on the way to the root (rounded up), at least 1. */
int	cpus_available(void);
/* The numbers of the CPUs in our affinity mask (malloc'd); their count. */
int	cpus_list(int **out);

#endif
