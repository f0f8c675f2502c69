/*
 * Per-worker cgroups (cgroup.h says what they give).
 *
 * Where: clusterd's own v2 cgroup, from /proc/self/cgroup's 0:: line under
 * the cgroup2 mount. Under systemd with Delegate=yes the unit's cgroup is
 * clusterd's to manage (systemd marks it with a delegate xattr) and is the
 * base; elsewhere (no systemd as init, or a container's cgroup namespace
 * root) clusterd makes base = <its cgroup>/clusterd.NAME, so that the next
 * clusterd of that name finds what a killed one left. A cgroup of
 * systemd's that is not delegated is not touched: systemd would move the
 * processes back or remove the directories under us.
 *
 * clusterd moves itself into base/supervisor first: a cgroup with
 * processes cannot give controllers to its children. Each worker gets
 * base/worker-ID.gGEN and starts inside it (spawn.c, CLONE_INTO_CGROUP).
 *
 * Events come through one inotify descriptor: the kernel marks
 * cgroup.events and memory.events modified when a value in them changes,
 * so nothing is polled and an idle cluster wakes clusterd up for nothing.
 * On hybrid hosts the v1 memory cgroup tells through eventfds registered
 * in its cgroup.event_control.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "spawn.h"
#include "strv.h"
#include "util.h"
#include "values.h"

static const char *const controller_names[] = { "memory", "pids", "cpu" };

/* A small cgroup file, NUL-terminated; -1 with errno. */
static int
read_at(int dirfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int
write_at(int dirfd, const char *file, const char *value)
{
	int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC), e;
	ssize_t n;

	if (fd == -1)
		return -1;
	n = write(fd, value, strlen(value));
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* "key value" lines (cgroup.events, memory.events, cpu.stat): key's value,
 * or -1. */
static long long
field(const char *text, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, len) == 0 && p[len] == ' ')
			return strtoll(p + len + 1, NULL, 10);
	return -1;
}

static long long
number_at(int dirfd, const char *file)
{
	char buf[64];

	if (read_at(dirfd, file, buf, sizeof(buf)) == -1)
		return -1;
	return strtoll(buf, NULL, 10);
}

static int
populated_at(int dirfd)
{
	char buf[128];

	if (read_at(dirfd, "cgroup.events", buf, sizeof(buf)) == -1)
		return 0;	/* gone */
	return field(buf, "populated") > 0;
}

/* The pids in a cgroup.procs; fn for each (fn NULL: count them). */
static int
each_pid(int dirfd, void (*fn)(pid_t, int), int arg)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC), n = 0;
	FILE *fp;
	long pid;

	if (fd == -1 || (fp = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	while (fscanf(fp, "%ld", &pid) == 1) {
		if (fn)
			fn((pid_t)pid, arg);
		n++;
	}
	fclose(fp);
	return n;
}

static void
send_signal(pid_t pid, int sig)
{
	kill(pid, sig);
}

static int
has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += len)
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\n' || p[len] == ','))
			return 1;
	return 0;
}

/* The CG_* bits named in a cgroup.controllers. */
static unsigned
controllers_at(int dirfd)
{
	char buf[256];
	unsigned bits = 0;

	if (read_at(dirfd, "cgroup.controllers", buf, sizeof(buf)) == -1)
		return 0;
	for (int i = 0; i < 3; i++)
		if (has_word(buf, controller_names[i]))
			bits |= 1U << i;
	return bits;
}

/*
 * Where hierarchy's mount is and which of its paths it shows: from
 * /proc/self/mountinfo, the first mount of fstype (and, for v1, with
 * option) whose root holds path. Returns the directory of path, malloc'd.
 */
static char *
mounted_dir(const char *fstype, const char *option, const char *path)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *dir = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return NULL;
	while (dir == NULL && getline(&line, &cap, fp) != -1) {
		char *f[12], *save = NULL, *dash;
		int n = 0;

		if ((dash = strstr(line, " - ")) == NULL)
			continue;
		*dash = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save))
			f[n++] = t;
		if (n < 5)
			continue;
		char *type = strtok_r(dash + 3, " ", &save), *src = strtok_r(NULL, " ", &save);
		char *opts = strtok_r(NULL, " \n", &save);
		size_t rl = strlen(f[3]);

		(void)src;
		if (type == NULL || strcmp(type, fstype) != 0 ||
		    (option && (opts == NULL || !has_word(opts, option))))
			continue;
		if (strcmp(f[3], "/") == 0)
			rl = 0;
		else if (strncmp(path, f[3], rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
			continue;
		dir = xasprintf("%s%s", f[4], strcmp(path + rl, "/") == 0 ? "" : path + rl);
	}
	free(line);
	fclose(fp);
	return dir;
}

/* clusterd's path in the hierarchy of /proc/self/cgroup whose controller
 * list has ctl ("" for the v2 line), malloc'd, or NULL. */
static char *
own_path(const char *ctl)
{
	FILE *fp = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *path = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return NULL;
	while (path == NULL && getline(&line, &cap, fp) != -1) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 == NULL)
			continue;
		*c1 = *c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if ((*ctl == '\0' && strcmp(line, "0") == 0 && c1[1] == '\0') ||
		    (*ctl != '\0' && has_word(c1 + 1, ctl)))
			path = xstrdup(c2 + 1);
	}
	free(line);
	fclose(fp);
	return path;
}

static int
open_dir(int at, const char *path)
{
	int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd == -1 ? -1 : spawn_park_fd(fd);
}

static void
pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Remove a cgroup an earlier clusterd left, with whatever still runs in it
 * and below: the processes first (cgroup.kill, or SIGKILL to each where
 * the kernel has none, or for v1), then the directories, deepest first.
 * Returns how many processes it killed.
 */
static int
remove_tree(int parent, const char *name, int v2, int has_kill)
{
	int fd = open_dir(parent, name), n = 0, dfd;
	DIR *d;
	struct dirent *e;

	if (fd == -1)
		return 0;
	n = each_pid(fd, NULL, 0);
	if (v2 && has_kill)
		write_at(fd, "cgroup.kill", "1");
	/* Children first: their processes, then their directories. */
	if ((dfd = dup(fd)) != -1 && (d = fdopendir(dfd)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_type == DT_DIR && e->d_name[0] != '.')
				n += remove_tree(fd, e->d_name, v2, has_kill);
		closedir(d);
	} else if (dfd != -1)
		close(dfd);
	for (int i = 0; i < 2500; i++) {	/* 5 s at most */
		if (!(v2 && has_kill))
			each_pid(fd, send_signal, SIGKILL);
		if (v2 ? !populated_at(fd) : each_pid(fd, NULL, 0) == 0)
			break;
		pause_ms(2);
	}
	close(fd);
	if (unlinkat(parent, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		log_warn("cgroups: cannot remove %s", name);
	return n;
}

/* What an earlier clusterd of this name left: its workers' cgroups. */
static void
remove_leftovers(int basefd, const char *where, int v2, int has_kill)
{
	int dfd = dup(basefd);
	DIR *d = dfd == -1 ? NULL : fdopendir(dfd);
	struct dirent *e;

	if (d == NULL) {
		if (dfd != -1)
			close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		int n;

		if (e->d_type != DT_DIR || strncmp(e->d_name, "worker-", 7) != 0)
			continue;
		n = remove_tree(basefd, e->d_name, v2, has_kill);
		if (n > 0)
			log_warnx("cgroups: killed %d process%s left in %s/%s by an earlier "
			    "clusterd", n, n == 1 ? "" : "es", where, e->d_name);
	}
	closedir(d);
}

/*
 * A clusterd without a name has a base of its own, clusterd.pidPID. Once
 * that clusterd is dead (nothing in its supervisor leaf, or for v1 no such
 * process), no later clusterd would ever look there: whoever starts next
 * ends what it left.
 */
static void
remove_dead_bases(int homefd, const char *home, int v2, int has_kill)
{
	int dfd = dup(homefd);
	DIR *d = dfd == -1 ? NULL : fdopendir(dfd);
	struct dirent *e;

	if (d == NULL) {
		if (dfd != -1)
			close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *end, *where;
		long pid;
		int fd, sup, dead;

		if (e->d_type != DT_DIR || strncmp(e->d_name, "clusterd.pid", 12) != 0)
			continue;
		pid = strtol(e->d_name + 12, &end, 10);
		if (*end != '\0' || pid <= 0 || (pid_t)pid == getpid())
			continue;
		if ((fd = open_dir(homefd, e->d_name)) == -1)
			continue;
		if (v2) {
			sup = open_dir(fd, "supervisor");
			dead = sup != -1 && each_pid(sup, NULL, 0) == 0;
			if (sup != -1)
				close(sup);
		} else
			dead = kill((pid_t)pid, 0) == -1 && errno == ESRCH;
		if (dead) {
			where = xasprintf("%s/%s", home, e->d_name);
			remove_leftovers(fd, where, v2, has_kill);
			unlinkat(fd, "supervisor", AT_REMOVEDIR);
			if (unlinkat(homefd, e->d_name, AT_REMOVEDIR) == 0)
				log_info("cgroups: removed %s, left by a clusterd that died", where);
			free(where);
		}
		close(fd);
	}
	closedir(d);
}

static void	inotify_cb(struct ev_loop *, ev_io *, int);

static void
set_missing(struct cgroups *cg, int i, char *why)
{
	free(cg->missing[i]);
	cg->missing[i] = why;
}

/* Which controllers the workers get, and why not the others. */
static void
enable_controllers(struct cgroups *cg, int homefd)
{
	unsigned base_has = controllers_at(cg->basefd), home_has;

	if (cg->own_base && (base_has & 7) != 7) {
		/* Give base what clusterd's own cgroup has: possible when nothing
		 * else runs in it (a container's root, once clusterd moved). */
		home_has = controllers_at(homefd);
		for (int i = 0; i < 3; i++) {
			char plus[16];

			if ((base_has & (1U << i)) || !(home_has & (1U << i)))
				continue;
			snprintf(plus, sizeof(plus), "+%s", controller_names[i]);
			if (write_at(homefd, "cgroup.subtree_control", plus) == 0)
				cg->enabled_home |= 1U << i;
			else
				set_missing(cg, i, xasprintf("cannot enable it in %s: %s "
				    "(other processes in that cgroup?)", cg->home,
				    strerror(errno)));
		}
		base_has = controllers_at(cg->basefd);
	}
	for (int i = 0; i < 3; i++) {
		char plus[16], *v1;

		if (base_has & (1U << i)) {
			snprintf(plus, sizeof(plus), "+%s", controller_names[i]);
			if (write_at(cg->basefd, "cgroup.subtree_control", plus) == 0)
				cg->have |= 1U << i;
			else
				set_missing(cg, i, xasprintf("cannot enable it in %s: %s",
				    cg->base, strerror(errno)));
			continue;
		}
		if (cg->missing[i])
			continue;
		if ((v1 = own_path(controller_names[i])) != NULL)
			set_missing(cg, i, xasprintf("it is bound to cgroup v1 on this host, "
			    "not to cgroup v2"));
		else
			set_missing(cg, i, xasprintf("cgroup v2 does not give it to %s",
			    cg->base));
		free(v1);
	}
}

/* Hybrid hosts: the v1 memory cgroup the workers' memory cgroups go in. */
static void
setup_v1_memory(struct cgroups *cg, const char *name)
{
	char *path = own_path("memory"), *home;
	int homefd;

	if (path == NULL)
		return;
	home = mounted_dir("cgroup", "memory", path);
	free(path);
	if (home == NULL)
		return;
	homefd = open_dir(AT_FDCWD, home);
	if (homefd == -1 || (mkdirat(homefd, name, 0755) == -1 && errno != EEXIST) ||
	    (cg->v1memfd = open_dir(homefd, name)) == -1) {
		set_missing(cg, 0, xasprintf("it is bound to cgroup v1 on this host, and "
		    "%s/%s cannot be made: %s", home, name, strerror(errno)));
		if (homefd != -1)
			close(homefd);
		free(home);
		return;
	}
	cg->v1mem = xasprintf("%s/%s", home, name);
	remove_leftovers(cg->v1memfd, cg->v1mem, 0, 0);
	remove_dead_bases(homefd, home, 0, 0);
	close(homefd);
	free(home);
}

static int
delegated(const char *dir)
{
	char v[8];

	return getxattr(dir, "trusted.delegate", v, sizeof(v)) > 0 ||
	    getxattr(dir, "user.delegate", v, sizeof(v)) > 0;
}

/* Set up the base, or say why not in *why. */
static int
setup(struct cgroups *cg, const struct config *cfg, char **why)
{
	char *path = own_path(""), *name, pidbuf[32];
	int homefd = -1, other = 0, sup;

	if (path == NULL) {
		*why = xstrdup("clusterd is in no cgroup v2 hierarchy (/proc/self/cgroup "
		    "has no 0:: line)");
		return -1;
	}
	cg->home = mounted_dir("cgroup2", NULL, path);
	if (cg->home == NULL) {
		*why = xasprintf("its cgroup v2 (%s) is not mounted here", path);
		free(path);
		return -1;
	}
	if (faccessat(AT_FDCWD, cg->home, W_OK, AT_EACCESS) == -1) {
		*why = xasprintf("%s is not writable: %s", cg->home, strerror(errno));
		free(path);
		return -1;
	}
	if (delegated(cg->home))
		cg->base = xstrdup(cg->home);
	else if (strcmp(path, "/") != 0 && access("/run/systemd/system", F_OK) == 0) {
		*why = xasprintf("%s is systemd's and not delegated to clusterd (run it "
		    "in a unit with Delegate=yes)", cg->home);
		free(path);
		return -1;
	}
	free(path);
	homefd = open_dir(AT_FDCWD, cg->home);
	if (cg->base == NULL) {
		name = cfg->name ? xasprintf("clusterd.%s", cfg->name) :
		    xasprintf("clusterd.pid%d", (int)getpid());
		cg->base = xasprintf("%s/%s", cg->home, name);
		cg->own_base = 1;
		if (homefd == -1 || (mkdirat(homefd, name, 0755) == -1 && errno != EEXIST)) {
			*why = xasprintf("cannot make %s: %s", cg->base, strerror(errno));
			free(name);
			goto fail;
		}
		free(name);
	}
	if ((cg->basefd = open_dir(AT_FDCWD, cg->base)) == -1) {
		*why = xasprintf("%s: %s", cg->base, strerror(errno));
		goto fail;
	}
	/* Another clusterd of the same name runs: its workers are not leftovers. */
	if ((sup = open_dir(cg->basefd, "supervisor")) != -1) {
		FILE *fp;
		long pid;
		int fd = openat(sup, "cgroup.procs", O_RDONLY | O_CLOEXEC);

		if (fd != -1 && (fp = fdopen(fd, "r")) != NULL) {
			while (fscanf(fp, "%ld", &pid) == 1)
				if ((pid_t)pid != getpid())
					other = (int)pid;
			fclose(fp);
		} else if (fd != -1)
			close(fd);
		close(sup);
	}
	if (other) {
		*why = xasprintf("%s/supervisor holds pid %d: another clusterd%s%s runs",
		    cg->base, other, cfg->name ? " named " : "", cfg->name ? cfg->name : "");
		cg->own_base = 0;	/* not ours to remove */
		goto fail;
	}
	cg->has_kill = faccessat(cg->basefd, "cgroup.kill", F_OK, 0) == 0;
	remove_leftovers(cg->basefd, cg->base, 1, cg->has_kill);
	if (cg->own_base)
		remove_dead_bases(homefd, cg->home, 1, cg->has_kill);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	if ((mkdirat(cg->basefd, "supervisor", 0755) == -1 && errno != EEXIST) ||
	    (sup = open_dir(cg->basefd, "supervisor")) == -1) {
		*why = xasprintf("cannot make %s/supervisor: %s", cg->base, strerror(errno));
		goto fail;
	}
	if (write_at(sup, "cgroup.procs", pidbuf) == -1) {
		*why = xasprintf("cannot move clusterd into %s/supervisor: %s", cg->base,
		    strerror(errno));
		close(sup);
		goto fail;
	}
	close(sup);
	enable_controllers(cg, homefd);
	if (!(cg->have & CG_MEMORY)) {
		name = cfg->name ? xasprintf("clusterd.%s", cfg->name) :
		    xasprintf("clusterd.pid%d", (int)getpid());
		setup_v1_memory(cg, name);
		free(name);
	}
	if ((cg->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		*why = xasprintf("inotify: %s", strerror(errno));
		goto fail;
	}
	cg->inotify = spawn_park_fd(cg->inotify);
	ev_io_init(&cg->io, inotify_cb, cg->inotify, EV_READ);
	ev_io_start(cg->loop, &cg->io);
	ev_unref(cg->loop);	/* it never keeps the loop running by itself */
	if (homefd != -1)
		close(homefd);
	return 0;
fail:
	if (homefd != -1)
		close(homefd);
	return -1;
}

int
cgroups_init(struct cgroups *cg, struct ev_loop *loop, const struct config *cfg)
{
	char *why = NULL, msg[512];

	memset(cg, 0, sizeof(*cg));
	cg->basefd = cg->v1memfd = cg->inotify = -1;
	cg->loop = loop;
	if (cfg->cgroups == CGROUPS_NO)
		cg->reason = xstrdup("cgroups = no");
	else if (setup(cg, cfg, &why) == -1) {
		if (cfg->cgroups == CGROUPS_YES) {
			log_errx("cgroups = yes, but %s", why);
			free(why);
			cgroups_free(cg);
			return -1;
		}
		log_warnx("cgroups: off: %s", why);
		cgroups_free(cg);
		cg->reason = why;
	} else
		cg->on = 1;
	if (cg->on) {
		cgroups_describe(cg, msg, sizeof(msg));
		log_info("cgroups: workers in %s", msg + 3);
	}
	if (cgroups_check(cg, &cfg->prog, msg, sizeof(msg)) == -1) {
		log_errx("%s", msg);
		return -1;
	}
	return 0;
}

int
cgroups_check(const struct cgroups *cg, const struct program_cfg *pc, char *buf,
    size_t len)
{
	const char *key = pc->memory_max >= 0 ? "memory_max" :
	    pc->memory_high >= 0 ? "memory_high" : pc->pids_max >= 0 ? "pids_max" :
	    pc->cpu_weight >= 0 ? "cpu_weight" : pc->cpu_max >= 0 ? "cpu_max" : NULL;
	char a[32], b[32];

	if (key == NULL)
		return 0;
	if (!cg->on) {
		snprintf(buf, len, "%s needs per-worker cgroups (cgroups: off: %s)", key,
		    cg->reason ? cg->reason : "not set up");
		return -1;
	}
	if ((pc->memory_max >= 0 || pc->memory_high >= 0) && !(cg->have & CG_MEMORY) &&
	    cg->v1mem == NULL) {
		snprintf(buf, len, "%s needs the memory controller: %s",
		    pc->memory_max >= 0 ? "memory_max" : "memory_high",
		    cg->missing[0] ? cg->missing[0] : "not available");
		return -1;
	}
	if (pc->pids_max >= 0 && !(cg->have & CG_PIDS)) {
		snprintf(buf, len, "pids_max needs the pids controller in cgroup v2: %s",
		    cg->missing[1] ? cg->missing[1] : "not available");
		return -1;
	}
	if ((pc->cpu_weight >= 0 || pc->cpu_max >= 0) && !(cg->have & CG_CPU)) {
		snprintf(buf, len, "%s needs the cpu controller in cgroup v2: %s",
		    pc->cpu_weight >= 0 ? "cpu_weight" : "cpu_max",
		    cg->missing[2] ? cg->missing[2] : "not available");
		return -1;
	}
	if (pc->memory_high >= 0 && pc->memory_max >= 0 && pc->memory_high >= pc->memory_max) {
		format_bytes(a, sizeof(a), pc->memory_high);
		format_bytes(b, sizeof(b), pc->memory_max);
		snprintf(buf, len, "memory_high (%s) must be below memory_max (%s)", a, b);
		return -1;
	}
	return 0;
}

const char *
cgroups_mode(const struct cgroups *cg)
{
	if (!cg->on)
		return "off";
	return !(cg->have & CG_MEMORY) && cg->v1mem ? "v2+v1-memory" : "v2";
}

void
cgroups_describe(const struct cgroups *cg, char *buf, size_t len)
{
	size_t n;

	if (!cg->on) {
		snprintf(buf, len, "off: %s", cg->reason ? cg->reason : "not set up");
		return;
	}
	n = (size_t)snprintf(buf, len, "v2 %s, controllers:%s%s%s%s", cg->base,
	    cg->have & CG_MEMORY ? " memory" : "", cg->have & CG_PIDS ? " pids" : "",
	    cg->have & CG_CPU ? " cpu" : "", cg->have ? "" : " none");
	if (n < len && !(cg->have & CG_MEMORY) && cg->v1mem)
		snprintf(buf + n, len - n, ", memory: cgroup v1 %s", cg->v1mem);
}

void
cgroups_free(struct cgroups *cg)
{
	char pidbuf[32], minus[64];
	int homefd;

	if (cg->inotify != -1) {
		ev_ref(cg->loop);
		ev_io_stop(cg->loop, &cg->io);
		close(cg->inotify);
		cg->inotify = -1;
	}
	tdestroy(cg->wds, free);
	cg->wds = NULL;
	if (cg->v1memfd != -1) {
		close(cg->v1memfd);
		cg->v1memfd = -1;
		if (cg->v1mem && rmdir(cg->v1mem) == -1)
			log_debug("cgroups: cannot remove %s: %s", cg->v1mem, strerror(errno));
	}
	/* Leave as it was: controllers off, clusterd back home, base removed. */
	if (cg->own_base && cg->basefd != -1 && cg->home &&
	    (homefd = open_dir(AT_FDCWD, cg->home)) != -1) {
		write_at(cg->basefd, "cgroup.subtree_control", "-memory -pids -cpu");
		minus[0] = '\0';
		for (int i = 0; i < 3; i++)
			if (cg->enabled_home & (1U << i)) {
				strcat(minus, minus[0] ? " -" : "-");
				strcat(minus, controller_names[i]);
			}
		if (minus[0])
			write_at(homefd, "cgroup.subtree_control", minus);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		if (write_at(homefd, "cgroup.procs", pidbuf) == 0) {
			unlinkat(cg->basefd, "supervisor", AT_REMOVEDIR);
			if (rmdir(cg->base) == -1)
				log_debug("cgroups: cannot remove %s: %s", cg->base,
				    strerror(errno));
		}
		close(homefd);
	}
	if (cg->basefd != -1)
		close(cg->basefd);
	cg->basefd = -1;
	free(cg->base);
	free(cg->home);
	free(cg->v1mem);
	free(cg->reason);
	for (int i = 0; i < 3; i++)
		free(cg->missing[i]);
	cg->base = cg->home = cg->v1mem = cg->reason = NULL;
	memset(cg->missing, 0, sizeof(cg->missing));
	cg->on = 0;
}

/* The watch descriptors' tree: wd -> its worker's cgroup. */
struct wdent {
	int		 wd;
	struct wcgroup	*wc;
};

static int
wd_cmp(const void *a, const void *b)
{
	const struct wdent *x = a, *y = b;

	return (x->wd > y->wd) - (x->wd < y->wd);
}

static int
watch(struct wcgroup *wc, const char *file)
{
	struct cgroups *cg = wc->cg;
	char *path = xasprintf("%s/%s/%s", cg->base, wc->name, file);
	int wd = inotify_add_watch(cg->inotify, path, IN_MODIFY);
	struct wdent *e;

	free(path);
	if (wd == -1)
		return -1;
	e = xcalloc(1, sizeof(*e));
	e->wd = wd;
	e->wc = wc;
	tsearch(e, &cg->wds, wd_cmp);
	return wd;
}

static void
unwatch(struct wcgroup *wc, int *wd)
{
	struct wdent key = { *wd, NULL }, **found;

	if (*wd == -1)
		return;
	inotify_rm_watch(wc->cg->inotify, *wd);
	if ((found = tfind(&key, &wc->cg->wds, wd_cmp)) != NULL) {
		struct wdent *e = *found;

		tdelete(&key, &wc->cg->wds, wd_cmp);
		free(e);
	}
	*wd = -1;
}

static void
memory_events(struct wcgroup *wc)
{
	char buf[512];
	long long high, kills, group;

	if (read_at(wc->fd, "memory.events", buf, sizeof(buf)) == -1)
		return;
	high = field(buf, "high");
	kills = field(buf, "oom_kill");
	group = field(buf, "oom_group_kill");
	if (kills > (long long)wc->oom_kills || group > 0) {
		wc->oom_kills = (unsigned long long)(kills > 0 ? kills : 0);
		if (!wc->oom) {
			wc->oom = 1;
			wc->hook(wc, WCG_OOM);
		}
	}
	if (high > (long long)wc->high_seen) {
		wc->high_seen = (unsigned long long)high;
		if (wc->memory_high >= 0 && !wc->high_told) {
			wc->high_told = 1;
			wc->hook(wc, WCG_HIGH);
		}
	}
}

static void
inotify_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct cgroups *cg = container_of(io, struct cgroups, io);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)loop;
	(void)revents;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct wdent key = { ev->wd, NULL }, **found;

			p += sizeof(*ev) + ev->len;
			/* A hook may have released a cgroup watched further on. */
			if ((ev->mask & IN_MODIFY) == 0 ||
			    (found = tfind(&key, &cg->wds, wd_cmp)) == NULL)
				continue;
			struct wcgroup *wc = (*found)->wc;

			if (ev->wd == wc->memory_wd)
				memory_events(wc);
			else if (ev->wd == wc->events_wd && !wc->empty &&
			    !populated_at(wc->fd)) {
				wc->empty = 1;
				wc->hook(wc, WCG_EMPTY);
			}
		}
	}
}

/* v1: memory usage crossed memory_high, either way. */
static void
v1high_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct wcgroup *wc = container_of(io, struct wcgroup, v1high);
	unsigned long long count;

	(void)loop;
	(void)revents;
	if (read(io->fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
		return;
	if (!wc->high_told && number_at(wc->v1fd, "memory.usage_in_bytes") >= wc->memory_high) {
		wc->high_seen++;
		wc->high_told = 1;
		wc->hook(wc, WCG_HIGH);
	}
}

/* v1: the OOM killer runs in it (told before it kills). */
static void
v1oom_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct wcgroup *wc = container_of(io, struct wcgroup, v1oom);
	unsigned long long count;

	(void)loop;
	(void)revents;
	if (read(io->fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
		return;
	wc->oom_kills++;
	if (!wc->oom) {
		wc->oom = 1;
		wc->hook(wc, WCG_OOM);
	}
}

/* An eventfd for a v1 memory cgroup's file (cgroup.event_control). */
static int
v1_event(struct wcgroup *wc, ev_io *io, void (*cb)(struct ev_loop *, ev_io *, int),
    const char *file, const char *args)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), ffd = -1, r = -1;
	char line[96];

	if (efd == -1)
		return -1;
	efd = spawn_park_fd(efd);
	if ((ffd = openat(wc->v1fd, file, O_RDONLY | O_CLOEXEC)) != -1) {
		snprintf(line, sizeof(line), "%d %d%s%s", efd, ffd, args ? " " : "",
		    args ? args : "");
		r = write_at(wc->v1fd, "cgroup.event_control", line);
		close(ffd);
	}
	if (r == -1) {
		close(efd);
		return -1;
	}
	ev_io_init(io, cb, efd, EV_READ);
	ev_io_start(wc->cg->loop, io);
	ev_unref(wc->cg->loop);
	return 0;
}

static int
limit(struct wcgroup *wc, int fd, const char *file, long long v, const char **what)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	if (write_at(fd, file, buf) == -1) {
		*what = file;
		return -1;
	}
	(void)wc;
	return 0;
}

int
wcg_create(struct cgroups *cg, struct wcgroup *wc, unsigned id, unsigned gen,
    const struct program_cfg *pc, const char **what)
{
	char name[64], buf[64];
	int e;

	memset(wc, 0, sizeof(*wc));
	wc->fd = wc->v1fd = wc->v1procs = -1;
	wc->events_wd = wc->memory_wd = -1;
	wc->v1high.fd = wc->v1oom.fd = -1;
	wc->memory_high = pc->memory_high;
	wc->memory_max = pc->memory_max;
	/* A worker of the same slot and generation may still be going. */
	for (int k = 1;; k++) {
		if (k == 1)
			snprintf(name, sizeof(name), "worker-%u.g%u", id, gen);
		else
			snprintf(name, sizeof(name), "worker-%u.g%u-%d", id, gen, k);
		if (mkdirat(cg->basefd, name, 0755) == 0)
			break;
		if (errno != EEXIST || k == 1000) {
			*what = "cgroup";
			return -1;
		}
	}
	wc->cg = cg;
	wc->name = xstrdup(name);
	if ((wc->fd = open_dir(cg->basefd, name)) == -1) {
		*what = "cgroup";
		goto fail;
	}
	if (cg->have & CG_MEMORY) {
		/* An OOM kill takes the whole worker, never half of it. */
		if (limit(wc, wc->fd, "memory.oom.group", 1, what) == -1 ||
		    (pc->memory_max >= 0 &&
		    limit(wc, wc->fd, "memory.max", pc->memory_max, what) == -1) ||
		    (pc->memory_high >= 0 &&
		    limit(wc, wc->fd, "memory.high", pc->memory_high, what) == -1))
			goto fail;
	}
	if (pc->pids_max >= 0 && limit(wc, wc->fd, "pids.max", pc->pids_max, what) == -1)
		goto fail;
	if (pc->cpu_weight >= 0 && limit(wc, wc->fd, "cpu.weight", pc->cpu_weight, what) == -1)
		goto fail;
	if (pc->cpu_max >= 0) {
		snprintf(buf, sizeof(buf), "%lld 100000", (long long)pc->cpu_max * 1000);
		if (write_at(wc->fd, "cpu.max", buf) == -1) {
			*what = "cpu.max";
			goto fail;
		}
	}
	if ((wc->events_wd = watch(wc, "cgroup.events")) == -1) {
		*what = "inotify";
		goto fail;
	}
	if ((cg->have & CG_MEMORY) && pc->memory_high >= 0 &&
	    (wc->memory_wd = watch(wc, "memory.events")) == -1) {
		*what = "inotify";
		goto fail;
	}
	if (!(cg->have & CG_MEMORY) && cg->v1mem && (pc->memory_max >= 0 || pc->memory_high >= 0)) {
		if (mkdirat(cg->v1memfd, name, 0755) == -1 ||
		    (wc->v1fd = open_dir(cg->v1memfd, name)) == -1 ||
		    (wc->v1procs = openat(wc->v1fd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) == -1) {
			*what = "v1 memory cgroup";
			goto fail;
		}
		wc->v1procs = spawn_park_fd(wc->v1procs);
		if (pc->memory_max >= 0 && (limit(wc, wc->v1fd, "memory.limit_in_bytes",
		    pc->memory_max, what) == -1 ||
		    v1_event(wc, &wc->v1oom, v1oom_cb, "memory.oom_control", NULL) == -1)) {
			*what = "v1 memory.limit_in_bytes";
			goto fail;
		}
		if (pc->memory_high >= 0) {
			snprintf(buf, sizeof(buf), "%lld", pc->memory_high);
			if (v1_event(wc, &wc->v1high, v1high_cb, "memory.usage_in_bytes",
			    buf) == -1) {
				*what = "v1 memory threshold";
				goto fail;
			}
		}
	}
	return 0;
fail:
	e = errno;
	wcg_release(wc);
	errno = e;
	return -1;
}

void
wcg_started(struct wcgroup *wc)
{
	if (wc->cg && wc->v1procs != -1)
		close(wc->v1procs);
	wc->v1procs = -1;
}

int
wcg_signal(struct wcgroup *wc, int sig)
{
	return wc->cg ? each_pid(wc->fd, send_signal, sig) : 0;
}

void
wcg_kill(struct wcgroup *wc)
{
	if (wc->cg == NULL)
		return;
	if (!wc->cg->has_kill || write_at(wc->fd, "cgroup.kill", "1") == -1)
		each_pid(wc->fd, send_signal, SIGKILL);
}

int
wcg_oom(struct wcgroup *wc)
{
	char buf[512];

	if (wc->cg == NULL)
		return 0;
	if ((wc->cg->have & CG_MEMORY) && !wc->oom &&
	    read_at(wc->fd, "memory.events", buf, sizeof(buf)) == 0 &&
	    (field(buf, "oom_kill") > 0 || field(buf, "oom_group_kill") > 0))
		wc->oom = 1;
	return wc->oom;
}

int
wcg_populated(struct wcgroup *wc)
{
	return wc->cg ? populated_at(wc->fd) : 0;
}

void
wcg_stats(const struct wcgroup *wc, struct wcg_stats *st)
{
	char buf[1024];

	st->memory = st->cpu_usec = st->tasks = st->oom_kills = -1;
	if (wc->cg == NULL)
		return;
	if (wc->cg->have & CG_MEMORY) {
		st->memory = number_at(wc->fd, "memory.current");
		if (read_at(wc->fd, "memory.events", buf, sizeof(buf)) == 0)
			st->oom_kills = field(buf, "oom_kill");
	} else if (wc->v1fd != -1) {
		st->memory = number_at(wc->v1fd, "memory.usage_in_bytes");
		if (read_at(wc->v1fd, "memory.oom_control", buf, sizeof(buf)) == 0)
			st->oom_kills = field(buf, "oom_kill");
	}
	if (read_at(wc->fd, "cpu.stat", buf, sizeof(buf)) == 0)
		st->cpu_usec = field(buf, "usage_usec");
	st->tasks = wc->cg->have & CG_PIDS ? number_at(wc->fd, "pids.current") :
	    each_pid(wc->fd, NULL, 0);
}

static void
close_event(struct wcgroup *wc, ev_io *io)
{
	if (io->fd < 0)
		return;
	ev_ref(wc->cg->loop);
	ev_io_stop(wc->cg->loop, io);
	close(io->fd);
	io->fd = -1;
}

void
wcg_release(struct wcgroup *wc)
{
	struct cgroups *cg = wc->cg;

	if (cg == NULL)
		return;
	unwatch(wc, &wc->events_wd);
	unwatch(wc, &wc->memory_wd);
	close_event(wc, &wc->v1high);
	close_event(wc, &wc->v1oom);
	wcg_started(wc);
	if (wc->fd != -1)
		close(wc->fd);
	if (unlinkat(cg->basefd, wc->name, AT_REMOVEDIR) == -1)
		log_debug("cgroups: cannot remove %s: %s", wc->name, strerror(errno));
	if (wc->v1fd != -1) {
		close(wc->v1fd);
		if (unlinkat(cg->v1memfd, wc->name, AT_REMOVEDIR) == -1)
			log_debug("cgroups: cannot remove v1 %s: %s", wc->name,
			    strerror(errno));
	}
	free(wc->name);
	wc->name = NULL;
	wc->fd = wc->v1fd = -1;
	wc->cg = NULL;
}
