/*
 * clusterd's metrics in the Prometheus text exposition format 0.0.4 or
 * OpenMetrics 1.0.0: metrics.c's counters, and the gauges read now from
 * the supervisor (workers by state, accept queues, cgroups). The names
 * and labels: clusterd.conf(5), METRICS.
 *
 * Naming (Prometheus conventions): every name starts with clusterd_
 * (but process_start_time_seconds, the name every exporter uses); base
 * units (_seconds, _bytes); counters end in _total in the text format,
 * and their OpenMetrics family is named without it; workers are labelled
 * by slot (CLUSTERD_WORKER_ID), never by pid, and every label takes a
 * value from a fixed set or from the configuration (socket names), so
 * the number of series is bounded by the slots and sockets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exposition.h"
#include "metrics.h"
#include "queue.h"
#include "strv.h"
#include "supervisor.h"
#include "util.h"
#include "values.h"

#ifndef CLUSTERD_VERSION_TAG
#define CLUSTERD_VERSION_TAG	""	/* t/alt/clusterd's is "-alt" */
#endif

static const struct metrics_counters *mx;

struct out {
	struct sbuf	*b;
	int		 om;
};

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	const char *suffix = "";

	if (!o->om && strcmp(type, "counter") == 0)
		suffix = "_total";
	else if (!o->om && strcmp(type, "info") == 0) {
		suffix = "_info";
		type = "gauge";
	}
	sbuf_printf(o->b, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, suffix, help, name,
	    suffix, type);
}

/* A label value as the formats want it: \\, \" and \n escaped. */
static void
label_value(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sbuf_add(b, "\\n", 2);
		else
			sbuf_add(b, v, 1);
	}
}

/* A sample: name (with suffix), labels as "k", "v" pairs up to NULL. */
static void
sample(struct out *o, const char *name, const char *suffix, const char *value, ...)
{
	va_list ap;
	const char *k, *v;
	int first = 1;

	sbuf_printf(o->b, "%s%s", name, suffix);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		sbuf_printf(o->b, "%s%s=\"", first ? "{" : ",", k);
		label_value(o->b, v);
		sbuf_add(o->b, "\"", 1);
		first = 0;
	}
	va_end(ap);
	sbuf_printf(o->b, "%s %s\n", first ? "" : "}", value);
}

static const char *
num(char *buf, size_t len, unsigned long long v)
{
	snprintf(buf, len, "%llu", v);
	return buf;
}

static const char *
real(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.6f", v);
	return buf;
}

/* When this process started (the same across an upgrade: the same pid),
 * as the kernel says: /proc/self/stat's starttime after boot. */
static double
start_time(void)
{
	char buf[1024], *p;
	unsigned long long ticks = 0, btime = 0;
	FILE *f;
	size_t n;
	int i;

	if ((f = fopen("/proc/self/stat", "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's name, which may hold anything: field 3 on. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (i = 3, p++; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu", &ticks) != 1)
		return -1;
	if ((f = fopen("/proc/stat", "re")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	if (btime == 0)
		return -1;
	return (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

static void
render_process(struct out *o, struct supervisor *sup)
{
	char v[64];
	double t = start_time();

	family(o, "clusterd_build", "info", "The clusterd build that runs: version and commit.");
	sample(o, "clusterd_build", "_info", "1", "version",
	    PACKAGE_VERSION CLUSTERD_VERSION_TAG,
	    "commit", CLUSTERD_COMMIT, NULL);
	if (t >= 0) {
		family(o, "process_start_time_seconds", "gauge",
		    "Start time of the clusterd process since the epoch, in seconds "
		    "(kept across an upgrade: the same process).");
		sample(o, "process_start_time_seconds", "", real(v, sizeof(v), t), NULL);
	}
	family(o, "clusterd_generation", "gauge",
	    "The generation new workers run (rises on each rolling restart).");
	sample(o, "clusterd_generation", "", num(v, sizeof(v), sup->cur->number), NULL);
}

static void
render_workers(struct out *o, struct supervisor *sup)
{
	static const char *const states[] = { "ready", "starting", "stopping", "backoff",
		"done" };
	unsigned long long n[5] = { 0 };
	const struct worker *w;
	char v[64];

	n[0] = (unsigned long long)sup_ready_count(sup);
	TAILQ_FOREACH(w, &sup->wctx.all, entry) {
		if (w->state == W_STARTING)
			n[1]++;
		else if (w->state == W_STOPPING)
			n[2]++;
	}
	for (size_t i = 0; i < sup->slots.n; i++) {
		if (sup->slots.v[i]->state == SLOT_BACKOFF && sup->slots.v[i]->w == NULL)
			n[3]++;
		else if (sup->slots.v[i]->state == SLOT_DONE)
			n[4]++;
	}
	family(o, "clusterd_workers_desired", "gauge",
	    "The number of workers clusterd is asked to run (workers, scale, autoscaler).");
	sample(o, "clusterd_workers_desired", "", num(v, sizeof(v), sup->slots.n), NULL);
	family(o, "clusterd_workers", "gauge",
	    "Workers by state: ready (slots serving, as clusterctl status counts), "
	    "starting and stopping (processes), backoff and done (slots without one).");
	for (size_t i = 0; i < 5; i++)
		sample(o, "clusterd_workers", "", num(v, sizeof(v), n[i]), "state", states[i],
		    NULL);
}

static void
render_slots(struct out *o)
{
	char v[64], id[24];

	family(o, "clusterd_worker_starts", "counter", "Worker processes started, by slot.");
	for (size_t i = 0; i < mx->nslot; i++)
		sample(o, "clusterd_worker_starts", "_total", num(v, sizeof(v),
		    mx->slot[i].starts), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_exits", "counter",
	    "Worker processes ended, by slot and reason.");
	for (size_t i = 0; i < mx->nslot; i++)
		for (int r = 0; r < MX_NEXIT; r++)
			sample(o, "clusterd_worker_exits", "_total", num(v, sizeof(v),
			    mx->slot[i].exits[r]), "slot", num(id, sizeof(id), i), "reason",
			    metrics_exit_names[r], NULL);
	family(o, "clusterd_worker_restarts", "counter",
	    "Deaths of a slot's serving worker that clusterd restarted, by slot.");
	for (size_t i = 0; i < mx->nslot; i++)
		sample(o, "clusterd_worker_restarts", "_total", num(v, sizeof(v),
		    mx->slot[i].restarts), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_hangs", "counter",
	    "Workers found hung (hang_timeout: their queue not served), by slot.");
	for (size_t i = 0; i < mx->nslot; i++)
		sample(o, "clusterd_worker_hangs", "_total", num(v, sizeof(v),
		    mx->slot[i].hangs), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_last_exit_timestamp_seconds", "gauge",
	    "When a worker of the slot last ended, since the epoch, in seconds.");
	for (size_t i = 0; i < mx->nslot; i++)
		if (mx->slot[i].last_exit > 0)
			sample(o, "clusterd_worker_last_exit_timestamp_seconds", "",
			    real(v, sizeof(v), mx->slot[i].last_exit), "slot",
			    num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_exit_codes", "counter",
	    "Exits counted with reason exited, by exit status.");
	for (int c = 1; c < 256; c++)
		if (mx->codes[c])
			sample(o, "clusterd_worker_exit_codes", "_total", num(v, sizeof(v),
			    mx->codes[c]), "code", num(id, sizeof(id), (unsigned)c), NULL);
	family(o, "clusterd_worker_exit_signals", "counter",
	    "Exits counted with reason signal, by signal.");
	for (int s = 1; s < MX_NSIGS; s++) {
		char name[24];

		if (mx->signals[s] == 0)
			continue;
		if (strcmp(signal_name(s), "?") == 0)
			snprintf(name, sizeof(name), "%d", s);
		else
			snprintf(name, sizeof(name), "SIG%s", signal_name(s));
		sample(o, "clusterd_worker_exit_signals", "_total", num(v, sizeof(v),
		    mx->signals[s]), "signal", name, NULL);
	}
}

static void
render_events(struct out *o)
{
	char v[64];

	family(o, "clusterd_rollouts", "counter", "Rolling restarts, by outcome: started, "
	    "succeeded, rolled_back (a new worker failed), aborted (clusterd stopped).");
	for (int i = 0; i < MX_NROLLOUT; i++)
		sample(o, "clusterd_rollouts", "_total", num(v, sizeof(v), mx->rollouts[i]),
		    "outcome", metrics_rollout_names[i], NULL);
	family(o, "clusterd_reloads", "counter", "Configuration reloads, by result: applied, "
	    "refused (a bad config, nothing changed), failed (its rolling restart did not finish).");
	for (int i = 0; i < MX_NRELOAD; i++)
		sample(o, "clusterd_reloads", "_total", num(v, sizeof(v), mx->reloads[i]),
		    "result", metrics_reload_names[i], NULL);
	family(o, "clusterd_autoscale_changes", "counter",
	    "Worker count changes made by the autoscaler, by direction.");
	sample(o, "clusterd_autoscale_changes", "_total", num(v, sizeof(v), mx->autoscale[1]),
	    "direction", "up", NULL);
	sample(o, "clusterd_autoscale_changes", "_total", num(v, sizeof(v), mx->autoscale[0]),
	    "direction", "down", NULL);
	family(o, "clusterd_log_lines_dropped", "counter",
	    "Lines clusterd could not write to its stdout, stderr or the journal: full "
	    "(the reader did not keep up), write_error (the write failed).");
	for (int f = 0; f < 3; f++)
		for (int k = 0; k < 2; k++)
			sample(o, "clusterd_log_lines_dropped", "_total", num(v, sizeof(v),
			    mx->dropped[f][k]), "sink", metrics_sink_names[f], "reason",
			    metrics_drop_names[k], NULL);
	family(o, "clusterd_control_requests", "counter",
	    "Control socket requests answered, by command and result.");
	for (int c = 0; c <= CTL_NCMD; c++)
		for (int r = 0; r < 4; r++)
			if (mx->control[c][r])
				sample(o, "clusterd_control_requests", "_total",
				    num(v, sizeof(v), mx->control[c][r]), "command",
				    c < CTL_NCMD ? ctl_cmd_names[c] : "invalid", "result",
				    metrics_result_names[r], NULL);
}

/* A socket's accept queue, read now; a reuseport socket's is the sum of
 * its slots' queues. -1: none to read (UDP). */
static int
socket_queue(const struct listener *l, size_t nslots, struct queue_stat *sum)
{
	struct queue_stat q;
	int any = 0;

	memset(sum, 0, sizeof(*sum));
	if (l->cfg->reuseport <= 0)
		return queue_read(l->fd, sum);
	for (size_t k = 0; k < l->nslot_fd && k < nslots; k++) {
		if (l->slot_fd[k] == -1 || queue_read(l->slot_fd[k], &q) == -1)
			continue;
		sum->depth += q.depth;
		sum->limit += q.limit;
		if (q.drops < 0 || sum->drops < 0)
			sum->drops = -1;
		else
			sum->drops += q.drops;
		any = 1;
	}
	return any ? 0 : -1;
}

static void
render_sockets(struct out *o, struct supervisor *sup)
{
	const struct gen *g = sup->cur;
	struct queue_stat *q;
	int *ok;
	char v[64];

	if (g->nlst == 0)
		return;
	q = xcalloc(g->nlst, sizeof(*q));
	ok = xcalloc(g->nlst, sizeof(*ok));
	for (size_t i = 0; i < g->nlst; i++)
		ok[i] = socket_queue(g->lst[i], sup->slots.n, &q[i]) == 0;
	static const struct {
		const char	*name, *type, *suffix, *help;
	} fam[] = {
		{ "clusterd_socket_queue_depth", "gauge", "",
		  "Connections waiting in the socket's accept queue, read at scrape time." },
		{ "clusterd_socket_queue_limit", "gauge", "",
		  "The socket's accept queue limit (its backlog as the kernel took it)." },
		{ "clusterd_socket_drops", "counter", "_total",
		  "Connections the kernel dropped for a full accept queue, where it says so." },
	};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		family(o, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < g->nlst; i++) {
			long long x = f == 0 ? q[i].depth : f == 1 ? q[i].limit : q[i].drops;

			if (ok[i] && x >= 0)
				sample(o, fam[f].name, fam[f].suffix, num(v, sizeof(v),
				    (unsigned long long)x), "socket", g->cfg->socks[i].name,
				    NULL);
		}
	}
	free(q);
	free(ok);
}

/* Each slot's serving worker's cgroup, read now (status.c's readers). */
static void
render_cgroups(struct out *o, struct supervisor *sup)
{
	static const char *const names[] = { "clusterd_worker_memory_bytes",
		"clusterd_worker_cpu_seconds", "clusterd_worker_pids",
		"clusterd_worker_oom_kills" };
	static const char *const types[] = { "gauge", "counter", "gauge", "counter" };
	static const char *const helps[] = {
		"Memory the slot's worker's cgroup uses (memory.current).",
		"CPU time the slot's worker's cgroup used (cpu.stat usage_usec), in seconds.",
		"Processes and threads in the slot's worker's cgroup (pids.current).",
		"OOM kills in the slot's worker's cgroup (memory.events oom_kill).",
	};
	size_t n = sup->slots.n;
	struct wcg_stats *st;
	char v[64], id[24];

	if (!sup->cg.on)
		return;
	st = xcalloc(n > 0 ? n : 1, sizeof(*st));
	for (size_t i = 0; i < n; i++) {
		const struct worker *w = sup->slots.v[i]->w;

		if (w && w->cg.cg)
			wcg_stats(&w->cg, &st[i]);
		else
			st[i].memory = st[i].cpu_usec = st[i].tasks = st[i].oom_kills = -1;
	}
	for (int m = 0; m < 4; m++) {
		family(o, names[m], types[m], helps[m]);
		for (size_t i = 0; i < n; i++) {
			long long x = m == 0 ? st[i].memory : m == 1 ? st[i].cpu_usec :
			    m == 2 ? st[i].tasks : st[i].oom_kills;

			if (x < 0)
				continue;
			if (m == 1)
				real(v, sizeof(v), (double)x / 1e6);
			else
				num(v, sizeof(v), (unsigned long long)x);
			sample(o, names[m], types[m][0] == 'c' ? "_total" : "", v, "slot",
			    num(id, sizeof(id), i), NULL);
		}
	}
	free(st);
}

void
exposition_render(struct supervisor *sup, struct sbuf *out, int openmetrics)
{
	struct out o = { out, openmetrics };

	mx = metrics_counters();
	render_process(&o, sup);
	render_workers(&o, sup);
	render_slots(&o);
	render_events(&o);
	render_sockets(&o, sup);
	render_cgroups(&o, sup);
	if (openmetrics)
		sbuf_printf(out, "# EOF\n");
}
