/*
 * The default worker count, the way node's availableParallelism() would
 * count if it knew about containers: a container limited to 1.5 CPUs by
 * its cgroup gets 2 workers, not one per host core.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cpus.h"
#include "strv.h"

static double
cgroup_quota(void)
{
	char line[PATH_MAX] = "", path[PATH_MAX + 64];
	double best = 0;
	FILE *fp;

	if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	/* cgroup v2 has one line: "0::/some/path". */
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "0::", 3) == 0)
			break;
	if (strncmp(line, "0::", 3) != 0) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	line[strcspn(line, "\n")] = '\0';

	/* Every ancestor's cpu.max limits us too; the smallest wins. */
	for (char *dir = line + 3;;) {
		char max[64];
		double quota, period;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max", dir);
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(max, sizeof(max), f) != NULL &&
			    sscanf(max, "%lf %lf", &quota, &period) == 2 &&
			    period > 0 && (best == 0 || quota / period < best))
				best = quota / period;
			fclose(f);
		}
		char *slash = strrchr(dir, '/');

		if (slash == NULL || slash == dir)
			break;
		*slash = '\0';
	}
	return best;
}

int
cpus_available(void)
{
	cpu_set_t set;
	int n = 1;
	double quota;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	quota = cgroup_quota();
	if (quota > 0) {
		int whole = (int)quota;

		if (whole < quota)
			whole++;	/* 1.5 CPUs: 2 workers */
		if (whole < n)
			n = whole;
	}
	return n > 0 ? n : 1;
}

int
cpus_list(int **out)
{
	cpu_set_t set;
	int n = 0;

	*out = NULL;
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		return 0;
	*out = xcalloc(CPU_COUNT(&set), sizeof(int));
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			(*out)[n++] = cpu;
	return n;
}
