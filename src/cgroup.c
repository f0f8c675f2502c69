/*
 * Per-worker cgroups (cgroup.h says what they give): clusterd's side,
 * deciding whether and where, setting up, and cleaning up after an earlier
 * clusterd. Each worker's own cgroup is wcgroup.c's; cgfs.c reads and
 * writes the files.
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
 * Events come through one inotify descriptor, kept here: the kernel marks
 * cgroup.events and memory.events modified when a value in them changes,
 * so nothing is polled and an idle cluster never wakes clusterd up. On
 * hybrid hosts the v1 memory cgroup tells through eventfds registered in
 * its cgroup.event_control (wcgroup.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cgfs.h"
#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"
#include "util.h"
#include "values.h"

/* How remove_tree() goes: v1 or v2, with cgroup.kill or without; and
 * what it killed. */
struct removal {
	int		 v2;
	int		 v2home;	/* v1: the v2 home of the same bases, or -1 */
	int		 has_kill;
	int		 killed;
	const char	*where;		/* for the log: the directory above */
};

/*
 * Remove a cgroup an earlier clusterd left, with whatever still runs in it
 * and below: the processes first (cgroup.kill, or SIGKILL to each where
 * the kernel has none, or for v1), then the directories, deepest first.
 * Adds how many processes it killed to rm->killed.
 */
static void
remove_tree(int parent, const char *name, void *arg)
{
	struct removal *rm = arg;
	int fd = cgfs_open_dir(parent, name);

	if (fd == -1)
		return;
	rm->killed += cgfs_each_pid(fd, NULL, 0);
	if (rm->v2 && rm->has_kill)
		cgfs_write_at(fd, "cgroup.kill", "1");
	/* Children first: their processes, then their directories. */
	cgfs_each_subdir(fd, "", remove_tree, rm);
	for (int i = 0; i < 2500; i++) {	/* 5 s at most */
		if (!(rm->v2 && rm->has_kill))
			cgfs_each_pid(fd, cgfs_send_signal, SIGKILL);
		if (rm->v2 ? !cgfs_populated_at(fd) : cgfs_each_pid(fd, NULL, 0) == 0)
			break;
		cgfs_pause_ms(2);
	}
	close(fd);
	if (unlinkat(parent, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		log_warn("cgroups: cannot remove %s", name);
}

/* One worker's cgroup an earlier clusterd of this name left. */
static void
remove_leftover(int basefd, const char *name, void *arg)
{
	struct removal *rm = arg;
	int before = rm->killed, n;

	remove_tree(basefd, name, rm);
	if ((n = rm->killed - before) > 0)
		log_warnx("cgroups: killed %d process%s left in %s/%s by an earlier "
		    "clusterd", n, n == 1 ? "" : "es", rm->where, name);
}

static void
remove_leftovers(int basefd, const char *where, int v2, int has_kill)
{
	struct removal rm = { .v2 = v2, .v2home = -1, .has_kill = has_kill,
	    .where = where };

	cgfs_each_subdir(basefd, "worker-", remove_leftover, &rm);
}

/*
 * A clusterd without a name has a base of its own, clusterd.pidPID. Once
 * that clusterd is dead (nothing in its supervisor leaf, or for v1 no such
 * process), no later clusterd would ever look there: whoever starts next
 * ends what it left.
 */
static void
remove_dead_base(int homefd, const char *name, void *arg)
{
	const struct removal *rm = arg;
	char *end, *where;
	long pid = strtol(name + 12, &end, 10);
	int fd, sup, v2, dead;

	if (*end != '\0' || pid <= 0 || (pid_t)pid == getpid() ||
	    (fd = cgfs_open_dir(homefd, name)) == -1)
		return;
	if (rm->v2) {
		sup = cgfs_open_dir(fd, "supervisor");
		dead = sup != -1 && cgfs_each_pid(sup, NULL, 0) == 0;
		if (sup != -1)
			close(sup);
	} else if (rm->v2home >= 0 && (v2 = cgfs_open_dir(rm->v2home, name)) != -1) {
		/* Its v2 base says whether it lives, in any pid namespace:
		 * the pid in the name may be one we cannot see. */
		sup = cgfs_open_dir(v2, "supervisor");
		dead = sup != -1 && cgfs_each_pid(sup, NULL, 0) == 0;
		if (sup != -1)
			close(sup);
		close(v2);
	} else
		dead = kill((pid_t)pid, 0) == -1 && errno == ESRCH;
	if (dead) {
		where = xasprintf("%s/%s", rm->where, name);
		remove_leftovers(fd, where, rm->v2, rm->has_kill);
		unlinkat(fd, "supervisor", AT_REMOVEDIR);
		if (unlinkat(homefd, name, AT_REMOVEDIR) == 0)
			log_info("cgroups: removed %s, left by a clusterd that died", where);
		free(where);
	}
	close(fd);
}

static void
remove_dead_bases(int homefd, const char *home, int v2, int v2home, int has_kill)
{
	struct removal rm = { .v2 = v2, .v2home = v2home, .has_kill = has_kill,
	    .where = home };

	cgfs_each_subdir(homefd, "clusterd.pid", remove_dead_base, &rm);
}

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
	unsigned base_has = cgfs_controllers_at(cg->basefd), home_has;

	if (cg->own_base && (base_has & CG_ALL) != CG_ALL) {
		/* Give base what clusterd's own cgroup has: possible when nothing
		 * else runs in it (a container's root, once clusterd moved). */
		home_has = cgfs_controllers_at(homefd);
		for (int i = 0; i < CG_N; i++) {
			char plus[16];

			if ((base_has & (1U << i)) || !(home_has & (1U << i)))
				continue;
			snprintf(plus, sizeof(plus), "+%s", cgfs_controllers[i]);
			if (cgfs_write_at(homefd, "cgroup.subtree_control", plus) == 0)
				cg->enabled_home |= 1U << i;
			else
				set_missing(cg, i, xasprintf("cannot enable it in %s: %s "
				    "(other processes in that cgroup?)", cg->home,
				    strerror(errno)));
		}
		base_has = cgfs_controllers_at(cg->basefd);
	}
	for (int i = 0; i < CG_N; i++) {
		char plus[16], *v1;

		if (base_has & (1U << i)) {
			snprintf(plus, sizeof(plus), "+%s", cgfs_controllers[i]);
			if (cgfs_write_at(cg->basefd, "cgroup.subtree_control", plus) == 0)
				cg->have |= 1U << i;
			else
				set_missing(cg, i, xasprintf("cannot enable it in %s: %s",
				    cg->base, strerror(errno)));
			continue;
		}
		if (cg->missing[i])
			continue;
		if ((v1 = cgfs_own_path(cgfs_controllers[i])) != NULL)
			set_missing(cg, i, xasprintf("it is bound to cgroup v1 on this host, "
			    "not to cgroup v2"));
		else
			set_missing(cg, i, xasprintf("cgroup v2 does not give it to %s",
			    cg->base));
		free(v1);
	}
}

/* Hybrid hosts: the v1 memory cgroup the workers' memory cgroups go in.
 * v2home: where the v2 bases of the same names are. */
static void
setup_v1_memory(struct cgroups *cg, const char *name, int v2home)
{
	char *path = cgfs_own_path("memory"), *home;
	int homefd;

	if (path == NULL)
		return;
	home = cgfs_mounted_dir("cgroup", "memory", path);
	free(path);
	if (home == NULL)
		return;
	homefd = cgfs_open_dir(AT_FDCWD, home);
	if (homefd == -1 || (mkdirat(homefd, name, 0755) == -1 && errno != EEXIST) ||
	    (cg->v1memfd = cgfs_open_dir(homefd, name)) == -1) {
		set_missing(cg, 0, xasprintf("it is bound to cgroup v1 on this host, and "
		    "%s/%s cannot be made: %s", home, name, strerror(errno)));
		if (homefd != -1)
			close(homefd);
		free(home);
		return;
	}
	cg->v1mem = xasprintf("%s/%s", home, name);
	remove_leftovers(cg->v1memfd, cg->v1mem, 0, 0);
	remove_dead_bases(homefd, home, 0, v2home, 0);
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
	char *path = cgfs_own_path(""), *name, pidbuf[32];
	int homefd = -1, other = 0, sup;

	if (path == NULL) {
		*why = xstrdup("clusterd is in no cgroup v2 hierarchy (/proc/self/cgroup "
		    "has no 0:: line)");
		return -1;
	}
	cg->home = cgfs_mounted_dir("cgroup2", NULL, path);
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
	homefd = cgfs_open_dir(AT_FDCWD, cg->home);
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
	if ((cg->basefd = cgfs_open_dir(AT_FDCWD, cg->base)) == -1) {
		*why = xasprintf("%s: %s", cg->base, strerror(errno));
		goto fail;
	}
	/* Another clusterd of the same name runs: its workers are not leftovers. */
	if ((sup = cgfs_open_dir(cg->basefd, "supervisor")) != -1) {
		FILE *fp;
		long pid;
		int fd = openat(sup, "cgroup.procs", O_RDONLY | O_CLOEXEC);

		if (fd != -1 && (fp = fdopen(fd, "r")) != NULL) {
			while (fscanf(fp, "%ld", &pid) == 1)
				if ((pid_t)pid != getpid())
					other = pid > 0 ? (int)pid : -1;	/* -1: another pid namespace's */
			fclose(fp);
		} else if (fd != -1)
			close(fd);
		close(sup);
	}
	if (other) {
		char who[64];

		if (other > 0)
			snprintf(who, sizeof(who), "pid %d", other);
		else
			snprintf(who, sizeof(who), "a process of another pid namespace");
		*why = xasprintf("%s/supervisor holds %s: another clusterd%s%s runs",
		    cg->base, who, cfg->name ? " named " : "", cfg->name ? cfg->name : "");
		cg->own_base = 0;	/* not ours to remove */
		goto fail;
	}
	cg->has_kill = faccessat(cg->basefd, "cgroup.kill", F_OK, 0) == 0;
	remove_leftovers(cg->basefd, cg->base, 1, cg->has_kill);
	if (cg->own_base)
		remove_dead_bases(homefd, cg->home, 1, -1, cg->has_kill);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	if ((mkdirat(cg->basefd, "supervisor", 0755) == -1 && errno != EEXIST) ||
	    (sup = cgfs_open_dir(cg->basefd, "supervisor")) == -1) {
		*why = xasprintf("cannot make %s/supervisor: %s", cg->base, strerror(errno));
		goto fail;
	}
	if (cgfs_write_at(sup, "cgroup.procs", pidbuf) == -1) {
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
		setup_v1_memory(cg, name, homefd);
		free(name);
	}
	if ((cg->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		*why = xasprintf("inotify: %s", strerror(errno));
		goto fail;
	}
	cg->inotify = spawn_park_fd(cg->inotify);
	ev_io_init(&cg->io, wcg_inotify_cb, cg->inotify, EV_READ);
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
	    (homefd = cgfs_open_dir(AT_FDCWD, cg->home)) != -1) {
		cgfs_write_at(cg->basefd, "cgroup.subtree_control", "-memory -pids -cpu");
		minus[0] = '\0';
		for (int i = 0; i < CG_N; i++)
			if (cg->enabled_home & (1U << i)) {
				strcat(minus, minus[0] ? " -" : "-");
				strcat(minus, cgfs_controllers[i]);
			}
		if (minus[0])
			cgfs_write_at(homefd, "cgroup.subtree_control", minus);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		if (cgfs_write_at(homefd, "cgroup.procs", pidbuf) == 0) {
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
	for (int i = 0; i < CG_N; i++)
		free(cg->missing[i]);
	cg->base = cg->home = cg->v1mem = cg->reason = NULL;
	memset(cg->missing, 0, sizeof(cg->missing));
	cg->on = 0;
}

void
cgroups_save(const struct cgroups *cg, struct state_out *so)
{
	char key[32];

	state_rec(so, "cgroups");
	state_int(so, "on", cg->on);
	state_str(so, "reason", cg->reason);
	state_str(so, "base", cg->base);
	state_int(so, "own_base", cg->own_base);
	state_str(so, "home", cg->home);
	state_int(so, "have", cg->have);
	state_int(so, "enabled_home", cg->enabled_home);
	for (int i = 0; i < CG_N; i++) {
		snprintf(key, sizeof(key), "missing_%s", cgfs_controllers[i]);
		state_str(so, key, cg->missing[i]);
	}
	state_str(so, "v1mem", cg->v1mem);
	state_int(so, "has_kill", cg->has_kill);
}

int
cgroups_adopt(struct cgroups *cg, struct ev_loop *loop, const struct state_rec *r)
{
	const char *v;
	char key[32];

	memset(cg, 0, sizeof(*cg));
	cg->basefd = cg->v1memfd = cg->inotify = -1;
	cg->loop = loop;
	cg->reason = rec_dup(r, "reason");
	if (r == NULL || !rec_int(r, "on", 0)) {
		if (cg->reason == NULL)
			cg->reason = xstrdup("off");
		return 0;
	}
	if ((v = rec_str(r, "base")) == NULL || (cg->base = xstrdup(v),
	    (cg->basefd = cgfs_open_dir(AT_FDCWD, cg->base)) == -1)) {
		log_warn("cgroups: cannot take over %s", v ? v : "(none)");
		return -1;
	}
	cg->home = rec_dup(r, "home");
	cg->own_base = rec_int(r, "own_base", 0) != 0;
	cg->have = (unsigned)rec_int(r, "have", 0) & CG_ALL;
	cg->enabled_home = (unsigned)rec_int(r, "enabled_home", 0) & CG_ALL;
	for (int i = 0; i < CG_N; i++) {
		snprintf(key, sizeof(key), "missing_%s", cgfs_controllers[i]);
		cg->missing[i] = rec_dup(r, key);
	}
	if ((v = rec_str(r, "v1mem")) != NULL) {
		cg->v1mem = xstrdup(v);
		/* An empty base may have been taken for a dead clusterd's by
		 * one in another pid namespace, or by an admin: it is ours. */
		if (mkdir(v, 0755) == 0)
			log_warnx("cgroups: %s was removed; made it again", v);
		if ((cg->v1memfd = cgfs_open_dir(AT_FDCWD, v)) == -1) {
			log_warn("cgroups: cannot take over %s", v);
			return -1;
		}
	}
	cg->has_kill = rec_int(r, "has_kill", 0) != 0;
	if ((cg->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("cgroups: inotify");
		return -1;
	}
	cg->inotify = spawn_park_fd(cg->inotify);
	ev_io_init(&cg->io, wcg_inotify_cb, cg->inotify, EV_READ);
	ev_io_start(cg->loop, &cg->io);
	ev_unref(cg->loop);
	cg->on = 1;
	return 0;
}
