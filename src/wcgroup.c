/*
 * Each worker's cgroup (cgroup.h): made before its start with its limits,
 * watched (cgroup.events, memory.events through clusterd's one inotify
 * descriptor; v1 memory through eventfds), signalled, killed, read for
 * status, and removed once empty.
 */
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
#include <unistd.h>

#include "cgfs.h"
#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"
#include "util.h"

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

	if (cgfs_read_at(wc->fd, "memory.events", buf, sizeof(buf)) == -1)
		return;
	high = cgfs_field(buf, "high");
	kills = cgfs_field(buf, "oom_kill");
	group = cgfs_field(buf, "oom_group_kill");
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
			/* Told once: a worker held at memory.high changes the file
			 * every few milliseconds, for nothing more to do. Its OOM
			 * kills are read when it exits (wcg_oom). */
			unwatch(wc, &wc->memory_wd);
			wc->hook(wc, WCG_HIGH);
		}
	}
}

void
wcg_inotify_cb(struct ev_loop *loop, ev_io *io, int revents)
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
			    !cgfs_populated_at(wc->fd)) {
				wc->empty = 1;
				wc->hook(wc, WCG_EMPTY);
			}
		}
	}
}

/*
 * v1: an eventfd of the worker's memory cgroup fired: the usage crossed
 * memory_high (either way: the usage says which), or the OOM killer runs
 * in it (told before it kills).
 */
static void
v1_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct wcgroup *wc = io->data;
	unsigned long long count;

	(void)loop;
	(void)revents;
	if (read(io->fd, &count, sizeof(count)) != (ssize_t)sizeof(count))
		return;
	if (io == &wc->v1high) {
		if (!wc->high_told &&
		    cgfs_number_at(wc->v1fd, "memory.usage_in_bytes") >= wc->memory_high) {
			wc->high_seen++;
			wc->high_told = 1;
			wc->hook(wc, WCG_HIGH);
		}
		return;
	}
	wc->oom_kills++;
	if (!wc->oom) {
		wc->oom = 1;
		wc->hook(wc, WCG_OOM);
	}
}

/* Watch one of its v1 eventfds (made here, or carried by an upgrade). */
static void
watch_event(struct wcgroup *wc, ev_io *io, int fd)
{
	ev_io_init(io, v1_cb, fd, EV_READ);
	io->data = wc;
	ev_io_start(wc->cg->loop, io);
	ev_unref(wc->cg->loop);
}

/* An eventfd for a v1 memory cgroup's file (cgroup.event_control). */
static int
v1_event(struct wcgroup *wc, ev_io *io, const char *file, const char *args)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), ffd = -1, r = -1;
	char line[96];

	if (efd == -1)
		return -1;
	efd = spawn_park_fd(efd);
	if ((ffd = openat(wc->v1fd, file, O_RDONLY | O_CLOEXEC)) != -1) {
		snprintf(line, sizeof(line), "%d %d%s%s", efd, ffd, args ? " " : "",
		    args ? args : "");
		r = cgfs_write_at(wc->v1fd, "cgroup.event_control", line);
		close(ffd);
	}
	if (r == -1) {
		close(efd);
		return -1;
	}
	watch_event(wc, io, efd);
	return 0;
}

static int
limit(int fd, const char *file, long long v, const char **what)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	if (cgfs_write_at(fd, file, buf) == -1) {
		*what = file;
		return -1;
	}
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
	/* O_PATH: enough for CLONE_INTO_CGROUP and as the base of openat(). */
	if ((wc->fd = openat(cg->basefd, name, O_PATH | O_DIRECTORY | O_CLOEXEC)) != -1)
		wc->fd = spawn_park_fd(wc->fd);
	if (wc->fd == -1) {
		*what = "cgroup";
		goto fail;
	}
	if (cg->have & CG_MEMORY) {
		/* An OOM kill takes the whole worker, never half of it. */
		if (limit(wc->fd, "memory.oom.group", 1, what) == -1 ||
		    (pc->memory_max >= 0 &&
		    limit(wc->fd, "memory.max", pc->memory_max, what) == -1) ||
		    (pc->memory_high >= 0 &&
		    limit(wc->fd, "memory.high", pc->memory_high, what) == -1))
			goto fail;
	}
	if (pc->pids_max >= 0 && limit(wc->fd, "pids.max", pc->pids_max, what) == -1)
		goto fail;
	if (pc->cpu_weight >= 0 && limit(wc->fd, "cpu.weight", pc->cpu_weight, what) == -1)
		goto fail;
	if (pc->cpu_max >= 0) {
		snprintf(buf, sizeof(buf), "%lld 100000", (long long)pc->cpu_max * 1000);
		if (cgfs_write_at(wc->fd, "cpu.max", buf) == -1) {
			*what = "cpu.max";
			goto fail;
		}
	}
	if ((cg->have & CG_MEMORY) && pc->memory_high >= 0 &&
	    (wc->memory_wd = watch(wc, "memory.events")) == -1) {
		*what = "inotify";
		goto fail;
	}
	if (!(cg->have & CG_MEMORY) && cg->v1mem && (pc->memory_max >= 0 || pc->memory_high >= 0)) {
		if (mkdirat(cg->v1memfd, name, 0755) == -1 ||
		    (wc->v1fd = cgfs_open_dir(cg->v1memfd, name)) == -1 ||
		    (wc->v1procs = openat(wc->v1fd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) == -1) {
			*what = "v1 memory cgroup";
			goto fail;
		}
		wc->v1procs = spawn_park_fd(wc->v1procs);
		if (pc->memory_max >= 0 && (limit(wc->v1fd, "memory.limit_in_bytes",
		    pc->memory_max, what) == -1 ||
		    v1_event(wc, &wc->v1oom, "memory.oom_control", NULL) == -1)) {
			*what = "v1 memory.limit_in_bytes";
			goto fail;
		}
		if (pc->memory_high >= 0) {
			snprintf(buf, sizeof(buf), "%lld", pc->memory_high);
			if (v1_event(wc, &wc->v1high, "memory.usage_in_bytes", buf) == -1) {
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
	return wc->cg ? cgfs_each_pid(wc->fd, cgfs_send_signal, sig) : 0;
}

void
wcg_kill(struct wcgroup *wc)
{
	if (wc->cg == NULL)
		return;
	if (!wc->cg->has_kill || cgfs_write_at(wc->fd, "cgroup.kill", "1") == -1)
		cgfs_each_pid(wc->fd, cgfs_send_signal, SIGKILL);
}

int
wcg_oom(struct wcgroup *wc)
{
	char buf[512];

	if (wc->cg == NULL)
		return 0;
	if ((wc->cg->have & CG_MEMORY) && !wc->oom &&
	    cgfs_read_at(wc->fd, "memory.events", buf, sizeof(buf)) == 0 &&
	    (cgfs_field(buf, "oom_kill") > 0 || cgfs_field(buf, "oom_group_kill") > 0))
		wc->oom = 1;
	return wc->oom;
}

/*
 * Most workers leave nothing when they exit, so cgroup.events is watched
 * only once one has: a watch for every worker would cost two system calls
 * a start for nothing. Read again once watched, so that the last process
 * going in between is not missed.
 */
int
wcg_wait_empty(struct wcgroup *wc)
{
	if (wc->cg == NULL || wc->empty || !cgfs_populated_at(wc->fd))
		return 0;
	if (wc->events_wd == -1 && (wc->events_wd = watch(wc, "cgroup.events")) == -1) {
		/* Not told when it empties: its stop deadline, cgroup.kill and
		 * the give-up after it end the wait instead. */
		log_warn("cgroups: cannot watch %s/cgroup.events", wc->name);
		return 1;
	}
	return cgfs_populated_at(wc->fd);
}

void
wcg_stats(const struct wcgroup *wc, struct wcg_stats *st)
{
	char buf[1024];

	st->memory = st->cpu_usec = st->tasks = st->oom_kills = -1;
	if (wc->cg == NULL)
		return;
	if (wc->cg->have & CG_MEMORY) {
		st->memory = cgfs_number_at(wc->fd, "memory.current");
		if (cgfs_read_at(wc->fd, "memory.events", buf, sizeof(buf)) == 0)
			st->oom_kills = cgfs_field(buf, "oom_kill");
	} else if (wc->v1fd != -1) {
		st->memory = cgfs_number_at(wc->v1fd, "memory.usage_in_bytes");
		if (cgfs_read_at(wc->v1fd, "memory.oom_control", buf, sizeof(buf)) == 0)
			st->oom_kills = cgfs_field(buf, "oom_kill");
	}
	if (cgfs_read_at(wc->fd, "cpu.stat", buf, sizeof(buf)) == 0)
		st->cpu_usec = cgfs_field(buf, "usage_usec");
	st->tasks = wc->cg->have & CG_PIDS ? cgfs_number_at(wc->fd, "pids.current") :
	    cgfs_each_pid(wc->fd, NULL, 0);
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
		log_warn("cgroups: cannot remove %s", wc->name);
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

void
wcg_save(const struct wcgroup *wc, struct state_out *so)
{
	if (wc->cg == NULL)
		return;
	state_str(so, "cg_name", wc->name);
	/* Kept open: cheaper than a lookup in cgroupfs by name, 1000 times. */
	state_fd(so, "cg_fd", wc->fd);
	state_int(so, "cg_memory_high", wc->memory_high);
	state_int(so, "cg_memory_max", wc->memory_max);
	state_int(so, "cg_high_seen", (long long)wc->high_seen);
	state_int(so, "cg_oom_kills", (long long)wc->oom_kills);
	state_int(so, "cg_high_told", wc->high_told);
	state_int(so, "cg_oom", wc->oom);
	state_int(so, "cg_v1", wc->v1fd != -1);
	/* Registered with cgroup.event_control: the same eventfds go on. */
	state_fd(so, "cg_v1high", wc->v1high.fd);
	state_fd(so, "cg_v1oom", wc->v1oom.fd);
}

int
wcg_adopt(struct cgroups *cg, struct wcgroup *wc, const struct state_rec *r)
{
	const char *name = rec_str(r, "cg_name");
	int fd;

	memset(wc, 0, sizeof(*wc));
	wc->fd = wc->v1fd = wc->v1procs = -1;
	wc->events_wd = wc->memory_wd = -1;
	wc->v1high.fd = wc->v1oom.fd = -1;
	if (name == NULL)
		return cg == NULL || !cg->on ? 0 : -1;
	if (cg == NULL || !cg->on || strchr(name, '/'))
		return -1;
	wc->cg = cg;
	wc->name = xstrdup(name);
	wc->memory_high = rec_int(r, "cg_memory_high", -1);
	wc->memory_max = rec_int(r, "cg_memory_max", -1);
	wc->high_seen = (unsigned long long)rec_int(r, "cg_high_seen", 0);
	wc->oom_kills = (unsigned long long)rec_int(r, "cg_oom_kills", 0);
	wc->high_told = rec_int(r, "cg_high_told", 0) != 0;
	wc->oom = rec_int(r, "cg_oom", 0) != 0;
	if ((wc->fd = rec_fd(r, "cg_fd")) == -1) {
		if ((wc->fd = openat(cg->basefd, name, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
			goto fail;
		wc->fd = spawn_park_fd(wc->fd);
	}
	if ((cg->have & CG_MEMORY) && wc->memory_high >= 0 && !wc->high_told &&
	    (wc->memory_wd = watch(wc, "memory.events")) == -1)
		goto fail;
	if (rec_int(r, "cg_v1", 0) && cg->v1mem &&
	    (wc->v1fd = cgfs_open_dir(cg->v1memfd, name)) == -1)
		goto fail;
	if ((fd = rec_fd(r, "cg_v1high")) != -1)
		watch_event(wc, &wc->v1high, fd);
	if ((fd = rec_fd(r, "cg_v1oom")) != -1)
		watch_event(wc, &wc->v1oom, fd);
	/* An event while clusterd was being replaced: read it now. */
	if (wc->memory_wd != -1)
		memory_events(wc);
	return 0;
fail:
	log_warn("cgroups: cannot take over %s", name);
	/* Not removed: its worker lives in it. */
	if (wc->fd != -1)
		close(wc->fd);
	free(wc->name);
	memset(wc, 0, sizeof(*wc));
	wc->fd = wc->v1fd = wc->v1procs = -1;
	wc->events_wd = wc->memory_wd = -1;
	wc->v1high.fd = wc->v1oom.fd = -1;
	return -1;
}

void
wcg_forget(struct wcgroup *wc)
{
	if (wc->cg == NULL)
		return;
	unwatch(wc, &wc->events_wd);
	unwatch(wc, &wc->memory_wd);
	close_event(wc, &wc->v1high);
	close_event(wc, &wc->v1oom);
	if (wc->fd != -1)
		close(wc->fd);
	if (wc->v1fd != -1)
		close(wc->v1fd);
	free(wc->name);
	wc->name = NULL;
	wc->fd = wc->v1fd = -1;
	wc->cg = NULL;
}
