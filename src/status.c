/*
 * `clusterctl status`: the state the supervisor keeps, shown as a table or
 * as JSON. Nothing here recomputes what the supervisor already knows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "status.h"
#include "supervisor.h"
#include "upgrade.h"
#include "util.h"

static void
uptime(char *buf, size_t len, double secs)
{
	long s = (long)secs;

	if (s < 60)
		snprintf(buf, len, "%lds", s);
	else if (s < 3600)
		snprintf(buf, len, "%ldm%lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%ldh%ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%ldh", s / 86400, s % 86400 / 3600);
}

/* The [socket:NAME] options that differ from the kernel's defaults. */
static void
sock_options(const struct listener *l, char *buf, size_t len)
{
	const struct sock_cfg *sc = l->cfg;
	size_t n = 0;

	buf[0] = '\0';
#define OPT(cond, ...) \
	if ((cond) && n < len) \
		n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__)
	OPT(sc->adopt_fd >= 0 && !sc->carried, " inherited");
	OPT(sc->reuseport > 0, " reuseport");
	OPT(sc->backlog > 0, " backlog=%d", sc->backlog);
	OPT(sc->nodelay > 0, " nodelay");
	OPT(sc->keepalive > 0, " keepalive");
	OPT(sc->defer_accept > 0, " defer_accept=%gs", sc->defer_accept);
	OPT(sc->rcvbuf > 0, " rcvbuf=%d", sc->rcvbuf);
	OPT(sc->sndbuf > 0, " sndbuf=%d", sc->sndbuf);
	OPT(sc->freebind > 0, " freebind");
	OPT(sc->transparent > 0, " transparent");
	OPT(sc->ipv6only >= 0, " ipv6only=%s", sc->ipv6only ? "yes" : "no");
	OPT(sc->mode >= 0, " mode=%04o", (unsigned)sc->mode);
#undef OPT
	if (n > 0)
		memmove(buf, buf + 1, strlen(buf));
}

/* A slot's own socket (reuseport: the first such socket's), or -1. */
static int
slot_fd(const struct gen *g, unsigned id)
{
	for (size_t i = 0; i < g->nlst; i++) {
		const struct listener *l = g->lst[i];

		if (l->cfg->reuseport > 0 && l->addr.type == SOCK_STREAM)
			return id < l->nslot_fd ? l->slot_fd[id] : -1;
	}
	return -1;
}

static void
queue_text(char *buf, size_t len, char *drops, size_t dlen, int fd)
{
	struct queue_stat q;

	if (fd == -1 || queue_read(fd, &q) == -1) {
		snprintf(buf, len, "-");
		snprintf(drops, dlen, "-");
		return;
	}
	snprintf(buf, len, "%d/%d", q.depth, q.limit);
	if (q.drops >= 0)
		snprintf(drops, dlen, "%lld", q.drops);
	else
		snprintf(drops, dlen, "-");
}

static void
json_queue(struct sbuf *b, int fd, int stalled)
{
	struct queue_stat q;

	if (fd == -1 || queue_read(fd, &q) == -1) {
		sbuf_printf(b, "null");
		return;
	}
	sbuf_printf(b, "{\"depth\":%d,\"limit\":%d,\"drops\":", q.depth, q.limit);
	if (q.drops >= 0)
		sbuf_printf(b, "%lld", q.drops);
	else
		sbuf_printf(b, "null");
	if (stalled >= 0)
		sbuf_printf(b, ",\"stalled\":%s", stalled ? "true" : "false");
	sbuf_printf(b, "}");
}

/* The autoscaler's range and its last decision, or nothing. */
static void
autoscale_text(const struct supervisor *sup, struct sbuf *b, double wall)
{
	const struct autoscale *a = &sup->load.as;
	int lo, hi;

	if (!autoscale_range(a, sup->cur->cfg, &lo, &hi))
		return;
	sbuf_printf(b, "autoscale: %d..%d workers, queue target %d; last: ", lo, hi,
	    sup->cur->cfg->scale_queue);
	if (a->last.wall > 0) {
		char ago[32];

		uptime(ago, sizeof(ago), wall - a->last.wall);
		sbuf_printf(b, "%zu -> %zu workers %s ago (%s)\n", a->last.from, a->last.to,
		    ago, a->last.why);
	} else
		sbuf_printf(b, "none yet\n");
}

static int
by_slot(const void *a, const void *b)
{
	const struct worker *x = *(const struct worker *const *)a;
	const struct worker *y = *(const struct worker *const *)b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->started < y->started ? -1 : x->started > y->started;
}

/* Every worker, ordered by slot id and age; the caller frees the array. */
static struct worker **
sorted_workers(const struct supervisor *sup, size_t *n)
{
	struct worker *w, **v;
	size_t count = 0;

	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		count++;
	v = xcalloc(count, sizeof(*v));
	count = 0;
	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		v[count++] = w;
	qsort(v, count, sizeof(*v), by_slot);
	*n = count;
	return v;
}

static const char *
state_of(const struct worker *w)
{
	return worker_state_name(w->state);
}

/* Slots with no worker at all (in backoff, or done). */
static void
empty_slots(const struct supervisor *sup, struct worker **v, size_t n, int *empty)
{
	for (size_t i = 0; i < sup->slots.n; i++)
		empty[i] = 1;
	for (size_t i = 0; i < n; i++)
		if (v[i]->id < sup->slots.n && !v[i]->slot->removed)
			empty[v[i]->id] = 0;
}

static void
bytes(char *buf, size_t len, long long v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else if (v < 1024 * 1024)
		snprintf(buf, len, "%.1fK", (double)v / 1024);
	else if (v < 1024LL * 1024 * 1024)
		snprintf(buf, len, "%.1fM", (double)v / (1024 * 1024));
	else
		snprintf(buf, len, "%.2fG", (double)v / (1024 * 1024 * 1024));
}

/* Each worker's cgroup figures, read now: a table of their own, so the
 * worker table reads the same with cgroups on or off. */
static void
cgroup_table(struct sbuf *b, struct worker **v, size_t n)
{
	sbuf_printf(b, "%-4s %-8s %-9s %-10s %-6s %-4s %s\n", "ID", "PID", "MEMORY",
	    "CPU", "TASKS", "OOM", "CGROUP");
	for (size_t i = 0; i < n; i++) {
		struct wcg_stats st;
		char mem[32], cpu[32], tasks[24], oom[24];

		if (v[i]->cg.cg == NULL)
			continue;
		wcg_stats(&v[i]->cg, &st);
		bytes(mem, sizeof(mem), st.memory);
		if (st.cpu_usec >= 0)
			snprintf(cpu, sizeof(cpu), "%.2fs", (double)st.cpu_usec / 1e6);
		else
			snprintf(cpu, sizeof(cpu), "-");
		snprintf(tasks, sizeof(tasks), "%lld", st.tasks);
		if (st.oom_kills >= 0)
			snprintf(oom, sizeof(oom), "%lld", st.oom_kills);
		else
			snprintf(oom, sizeof(oom), "-");
		sbuf_printf(b, "%-4u %-8d %-9s %-10s %-6s %-4s %s\n", v[i]->id,
		    (int)v[i]->pid, mem, cpu, tasks, oom, v[i]->cg.name);
	}
}

/* Reuseport queues, hung workers, recycles by age: a table of their own,
 * when any of them can say something. */
static void
load_table(const struct supervisor *sup, struct sbuf *b, struct worker **v, size_t n)
{
	const struct config *cfg = sup->cur->cfg;
	double now = mono_now(), wall = ev_time();
	int reuseport = slot_fd(sup->cur, 0) != -1;

	if (!reuseport && cfg->hang_timeout <= 0 && cfg->max_age <= 0)
		return;
	sbuf_printf(b, "%-4s %-8s %-11s %-6s %-5s %s\n", "ID", "PID", "QUEUE", "DROPS",
	    "HUNG", "RECYCLE");
	for (size_t i = 0; i < n; i++) {
		const struct worker *w = v[i];
		char q[32], drops[24], at[48] = "-";

		if (w->slot->removed || w != w->slot->w)
			continue;
		queue_text(q, sizeof(q), drops, sizeof(drops), slot_fd(sup->cur, w->id));
		if (w->recycle_at > 0) {
			time_t t = (time_t)(wall + (w->recycle_at - now));
			struct tm tm;

			strftime(at, sizeof(at), "%H:%M:%S", localtime_r(&t, &tm));
		}
		sbuf_printf(b, "%-4u %-8d %-11s %-6s %-5s %s\n", w->id, (int)w->pid, q, drops,
		    w->hung ? "yes" : "no", at);
	}
}

void
status_text(const struct supervisor *sup, struct sbuf *b)
{
	double now = mono_now();
	size_t n;
	struct worker **v = sorted_workers(sup, &n);
	int *empty = xcalloc(sup->slots.n, sizeof(int));
	char up[32];

	uptime(up, sizeof(up), now - sup->started);
	sbuf_printf(b, "clusterd%s%s (pid %d), up %s, generation %u, %d of %zu "
	    "workers ready\n", sup->cur->cfg->name ? " " : "",
	    sup->cur->cfg->name ? sup->cur->cfg->name : "", (int)getpid(),
	    up, sup->cur->number, sup_ready_count(sup), sup->slots.n);
	sbuf_printf(b, "version: %s\n", upgrade_version());
	sbuf_printf(b, "command: %s\n", sup->cur->cfg->prog.command);
	char cgs[512];

	cgroups_describe(&sup->cg, cgs, sizeof(cgs));
	sbuf_printf(b, "cgroups: %s\n", cgs);
	if (strcmp(sup_state(sup), "running") != 0)
		sbuf_printf(b, "state: %s\n", sup->rolling ?
		    "rolling restart in progress" : sup_state(sup));
	autoscale_text(sup, b, ev_time());
	if (sup->cur->nlst > 0)
		sbuf_printf(b, "%-12s %-32s %-3s %-11s %-6s %s\n", "SOCKET", "ADDRESS", "FD",
		    "QUEUE", "DROPS", "OPTIONS");
	for (size_t i = 0; i < sup->cur->nlst; i++) {
		const struct listener *l = sup->cur->lst[i];
		char opts[256], q[32], drops[24];

		sock_options(l, opts, sizeof(opts));
		/* Reuseport: the queues are the slots', below. */
		queue_text(q, sizeof(q), drops, sizeof(drops), l->cfg->reuseport > 0 ? -1 : l->fd);
		if (load_stalled(&sup->load, i))
			snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%sSTALLED",
			    opts[0] ? " " : "");
		sbuf_printf(b, "%-12s %-32s %-3zu %-11s %-6s %s\n", sup->cur->cfg->socks[i].name,
		    l->bound, 3 + i, q, drops, opts);
	}
	sbuf_printf(b, "%-4s %-8s %-9s %-4s %-8s %-8s %-28s %s\n", "ID", "PID", "STATE",
	    "GEN", "UPTIME", "RESTARTS", "LAST EXIT", "STATUS");
	empty_slots(sup, v, n, empty);
	size_t j = 0;

	for (size_t id = 0; id <= sup->slots.n; id++) {
		for (; j < n && (id == sup->slots.n || v[j]->id <= id); j++) {
			const struct worker *w = v[j];

			uptime(up, sizeof(up), now - w->started);
			sbuf_printf(b, "%-4u %-8d %-9s %-4u %-8s %-8u %-28.28s %s\n",
			    w->id, (int)w->pid, state_of(w), w->gen->number, up,
			    w->slot->restarts, w->slot->last_exit ? w->slot->last_exit : "-",
			    w->status ? w->status : "");
		}
		if (id < sup->slots.n && empty[id]) {
			const struct slot *s = sup->slots.v[id];

			sbuf_printf(b, "%-4zu %-8s %-9s %-4s %-8s %-8u %-28.28s\n", id, "-",
			    slot_empty_state(s), "-", "-", s->restarts,
			    s->last_exit ? s->last_exit : "-");
		}
	}
	if (sup->cg.on)
		cgroup_table(b, v, n);
	load_table(sup, b, v, n);
	free(empty);
	free(v);
}

static void
json_str(struct sbuf *b, const char *s)
{
	if (s == NULL) {
		sbuf_add(b, "null", 4);
		return;
	}
	sbuf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			sbuf_printf(b, "\\u%04x", c);
		else
			sbuf_add(b, (const char *)&c, 1);
	}
	sbuf_add(b, "\"", 1);
}

/* The uptime is monotonic; "started" is a date, so it is today's wall
 * clock less the uptime: after a step of the clock it moves with it. */
static void
json_worker(struct sbuf *b, const struct worker *w, double now, double wall)
{
	sbuf_printf(b, "{\"id\":%u,\"pid\":%d,\"state\":\"%s\",\"generation\":%u,"
	    "\"started\":%.3f,\"uptime\":%.3f,\"restarts\":%u,\"last_exit\":",
	    w->id, (int)w->pid, state_of(w), w->gen->number,
	    wall - (now - w->started), now - w->started, w->slot->restarts);
	json_str(b, w->slot->last_exit);
	sbuf_add(b, ",\"status\":", 10);
	json_str(b, w->status);
	sbuf_printf(b, ",\"slot_state\":\"%s\",\"queue\":", slot_state_name(w->slot->state));
	json_queue(b, w == w->slot->w ? slot_fd(w->gen, w->id) : -1, -1);
	sbuf_printf(b, ",\"hung\":%s,\"recycle_at\":", w->hung ? "true" : "false");
	if (w->recycle_at > 0)
		sbuf_printf(b, "%.3f", wall + (w->recycle_at - now));
	else
		sbuf_printf(b, "null");
	if (w->cg.cg) {
		struct wcg_stats st;

		wcg_stats(&w->cg, &st);
		sbuf_printf(b, ",\"cgroup\":{\"path\":");
		json_str(b, w->cg.name);
#define NUM(key, v) \
	if ((v) >= 0) \
		sbuf_printf(b, ",\"" key "\":%lld", (v)); \
	else \
		sbuf_printf(b, ",\"" key "\":null")
		NUM("memory_current", st.memory);
		NUM("cpu_usec", st.cpu_usec);
		NUM("pids_current", st.tasks);
		NUM("oom_kills", st.oom_kills);
#undef NUM
		sbuf_printf(b, ",\"recycle\":");
		json_str(b, w->recycle);
		sbuf_add(b, "}", 1);
	} else
		sbuf_printf(b, ",\"cgroup\":null");
	sbuf_add(b, "}", 1);
}

void
status_json(const struct supervisor *sup, struct sbuf *b)
{
	double now = mono_now(), wall = ev_time();
	const struct gen *g = sup->cur;
	size_t n;
	struct worker **v = sorted_workers(sup, &n);
	int *empty = xcalloc(sup->slots.n, sizeof(int));
	int first = 1;

	sbuf_printf(b, "{\"pid\":%d,\"version\":\"%s\",\"name\":", (int)getpid(),
	    upgrade_version());
	json_str(b, g->cfg->name);
	sbuf_printf(b, ",\"uptime\":%.3f,\"generation\":%u,\"state\":\"%s\","
	    "\"workers_wanted\":%zu,\"workers_ready\":%d,\"command\":",
	    now - sup->started, g->number, sup_state(sup), sup->slots.n,
	    sup_ready_count(sup));
	json_str(b, g->cfg->prog.command);
	{
		char cgs[512];

		cgroups_describe(&sup->cg, cgs, sizeof(cgs));
		sbuf_printf(b, ",\"cgroups\":{\"mode\":\"%s\",\"path\":",
		    cgroups_mode(&sup->cg));
		json_str(b, sup->cg.base);
		sbuf_printf(b, ",\"v1_memory\":");
		json_str(b, sup->cg.v1mem);
		sbuf_printf(b, ",\"reason\":");
		json_str(b, sup->cg.on ? NULL : sup->cg.reason);
		sbuf_printf(b, ",\"description\":");
		json_str(b, cgs);
		sbuf_add(b, "}", 1);
	}
	sbuf_add(b, ",\"sockets\":[", 12);
	for (size_t i = 0; i < g->nlst; i++) {
		sbuf_add(b, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
		json_str(b, g->cfg->socks[i].name);
		sbuf_add(b, ",\"address\":", 11);
		json_str(b, g->lst[i]->bound);
		char opts[256];

		sock_options(g->lst[i], opts, sizeof(opts));
		if (g->lst[i]->addr.family == AF_UNIX)
			sbuf_printf(b, ",\"port\":null,\"fd\":%zu,\"options\":", 3 + i);
		else
			sbuf_printf(b, ",\"port\":%d,\"fd\":%zu,\"options\":",
			    g->lst[i]->port, 3 + i);
		json_str(b, opts);
		sbuf_add(b, ",\"queue\":", 9);
		json_queue(b, g->lst[i]->cfg->reuseport > 0 ? -1 : g->lst[i]->fd,
		    load_stalled(&sup->load, i));
		/* What the kernel counts of accepted ones: those still open. */
		int open = g->lst[i]->addr.type == SOCK_STREAM && g->lst[i]->port > 0 ?
		    queue_inflight(g->lst[i]->port) : -1;

		if (open >= 0)
			sbuf_printf(b, ",\"connections\":%d", open);
		else
			sbuf_printf(b, ",\"connections\":null");
		sbuf_add(b, "}", 1);
	}
	sbuf_add(b, "]", 1);
	{
		const struct autoscale *a = &sup->load.as;
		int lo, hi;

		if (autoscale_range(a, g->cfg, &lo, &hi)) {
			sbuf_printf(b, ",\"autoscale\":{\"min\":%d,\"max\":%d,\"queue_target\":%d,"
			    "\"last\":", lo, hi, g->cfg->scale_queue);
			if (a->last.wall > 0) {
				sbuf_printf(b, "{\"time\":%.3f,\"from\":%zu,\"to\":%zu,\"why\":",
				    a->last.wall, a->last.from, a->last.to);
				json_str(b, a->last.why);
				sbuf_add(b, "}", 1);
			} else
				sbuf_printf(b, "null");
			sbuf_add(b, "}", 1);
		} else
			sbuf_printf(b, ",\"autoscale\":null");
	}
	sbuf_add(b, ",\"workers\":[", 12);
	empty_slots(sup, v, n, empty);
	for (size_t i = 0; i < n; i++) {
		if (!first)
			sbuf_add(b, ",", 1);
		first = 0;
		json_worker(b, v[i], now, wall);
	}
	for (size_t id = 0; id < sup->slots.n; id++) {
		const struct slot *s = sup->slots.v[id];

		if (!empty[id])
			continue;
		if (!first)
			sbuf_add(b, ",", 1);
		first = 0;
		sbuf_printf(b, "{\"id\":%zu,\"pid\":null,\"state\":\"%s\",\"generation\":null,"
		    "\"started\":null,\"uptime\":null,\"restarts\":%u,\"last_exit\":", id,
		    slot_empty_state(s), s->restarts);
		json_str(b, s->last_exit);
		sbuf_printf(b, ",\"status\":null,\"slot_state\":\"%s\",\"queue\":",
		    slot_state_name(s->state));
		json_queue(b, slot_fd(g, (unsigned)id), -1);
		sbuf_printf(b, ",\"hung\":false,\"recycle_at\":null,\"cgroup\":null}");
	}
	sbuf_add(b, "]}\n", 3);
	free(empty);
	free(v);
}
