/*
 * The exposition and the counters behind it: see metrics.h.
 *
 * Naming (Prometheus conventions): every name starts with clusterd_
 * (but process_start_time_seconds, the name every exporter uses); base
 * units (_seconds, _bytes); counters end in _total in the text format,
 * and their OpenMetrics family is named without it; workers are labelled
 * by slot (CLUSTERD_WORKER_ID), never by pid, and every label takes a
 * value from a fixed set or from the configuration (socket names), so
 * the number of series is bounded by the slots and sockets.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlproto.h"
#include "metrics.h"
#include "queue.h"
#include "state.h"
#include "strv.h"
#include "supervisor.h"
#include "util.h"
#include "values.h"

#ifndef CLUSTERD_VERSION_TAG
#define CLUSTERD_VERSION_TAG	""	/* t/alt/clusterd's is "-alt" */
#endif

static const char *const exit_names[MX_NEXIT] = {
	[MX_CLEAN] = "clean", [MX_EXITED] = "exited", [MX_SIGNAL] = "signal",
	[MX_OOM] = "oom", [MX_WATCHDOG] = "watchdog",
	[MX_READY_TIMEOUT] = "ready_timeout", [MX_HANG] = "hang",
	[MX_RECYCLE] = "recycle", [MX_STOPPED] = "stopped",
	[MX_EXEC_FAILED] = "exec_failed",
};
static const char *const rollout_names[MX_NROLLOUT] = {
	"started", "succeeded", "rolled_back", "aborted",
};
static const char *const reload_names[MX_NRELOAD] = { "applied", "refused", "failed" };
/* Reply codes (clusterctl(8)). */
static const char *const result_names[4] = { "ok", "failed", "bad_request", "degraded" };
static const char *const sink_names[] = { "stdout", "stderr", "journal" };
static const char *const drop_names[2] = { "full", "write_error" };

#define NSIGS	65	/* Linux signals are 1..64 */

struct mx_slot {
	unsigned long long starts, restarts, hangs, exits[MX_NEXIT];
	double		 last_exit;	/* wall clock; 0: none yet */
};

/* One set per process, as clusterd runs one cluster. */
static struct {
	struct mx_slot	*slot;		/* by slot id, every id seen so far */
	size_t		 nslot, cap;
	unsigned long long rollouts[MX_NROLLOUT];
	unsigned long long reloads[MX_NRELOAD];
	unsigned long long autoscale[2];	/* down, up */
	unsigned long long dropped[3][2];	/* by sink_names, by drop_names */
	unsigned long long control[CTL_NCMD + 1][4];	/* last: not understood */
	unsigned long long codes[256];		/* exits counted as "exited" */
	unsigned long long signals[NSIGS];	/* exits counted as "signal" */
} mx;

static struct mx_slot *
slot_of(unsigned id)
{
	if (id >= mx.nslot) {
		/* Doubled: a scale to thousands adds ids one by one. */
		if (id >= mx.cap) {
			size_t cap = mx.cap ? mx.cap : 16;

			while (cap <= id)
				cap *= 2;
			mx.slot = xreallocarray(mx.slot, cap, sizeof(*mx.slot));
			mx.cap = cap;
		}
		memset(mx.slot + mx.nslot, 0, (id + 1 - mx.nslot) * sizeof(*mx.slot));
		mx.nslot = id + 1;
	}
	return &mx.slot[id];
}

void
metrics_worker_start(unsigned slot)
{
	slot_of(slot)->starts++;
}

void
metrics_worker_restart(unsigned slot)
{
	slot_of(slot)->restarts++;
}

void
metrics_worker_hang(unsigned slot)
{
	slot_of(slot)->hangs++;
}

enum mx_exit
metrics_exit_reason(const struct worker *w, int status)
{
	/* What clusterd knew of it first: the exit status of a worker it
	 * stopped says only how it took the stop signal. */
	if (w->failed)
		return MX_EXEC_FAILED;
	if (w->cg.oom)
		return MX_OOM;
	if (w->timed_out == WT_WATCHDOG)
		return MX_WATCHDOG;
	if (w->timed_out == WT_READY)
		return MX_READY_TIMEOUT;
	if (w->state == W_STOPPING && w->hung)
		return MX_HANG;
	/* recycle.c gives the recycle as the stop's why once it replaces it. */
	if (w->state == W_STOPPING && w->recycle && w->why && strcmp(w->why, w->recycle) == 0)
		return MX_RECYCLE;
	if (w->state == W_STOPPING)
		return MX_STOPPED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? MX_CLEAN : MX_EXITED;
	return MX_SIGNAL;
}

void
metrics_worker_exit(const struct worker *w, int status)
{
	struct mx_slot *s = slot_of(w->id);
	enum mx_exit why = metrics_exit_reason(w, status);

	s->exits[why]++;
	s->last_exit = ev_time();
	if (why == MX_EXITED)
		mx.codes[WEXITSTATUS(status)]++;
	else if (why == MX_SIGNAL && WIFSIGNALED(status) && WTERMSIG(status) < NSIGS)
		mx.signals[WTERMSIG(status)]++;
}

void
metrics_rollout(enum mx_rollout o)
{
	mx.rollouts[o]++;
}

void
metrics_reload(enum mx_reload o)
{
	mx.reloads[o]++;
}

void
metrics_autoscale(int up)
{
	mx.autoscale[up != 0]++;
}

void
metrics_log_dropped(int sink, int write_error, unsigned long lines)
{
	if (sink >= 0 && sink < 3)
		mx.dropped[sink][write_error != 0] += lines;
}

void
metrics_control(int cmd, int code)
{
	if (cmd < 0 || cmd >= CTL_NCMD)
		cmd = CTL_NCMD;
	if (code >= 0 && code < 4)
		mx.control[cmd][code]++;
}

/*
 * The exposition. A family: its HELP and TYPE lines, then its samples.
 * A counter's family is named without _total in OpenMetrics, with it in
 * the text format, where the TYPE line names the samples; an info
 * family is a gauge named ..._info in the text format.
 */
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
	for (size_t i = 0; i < mx.nslot; i++)
		sample(o, "clusterd_worker_starts", "_total", num(v, sizeof(v),
		    mx.slot[i].starts), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_exits", "counter",
	    "Worker processes ended, by slot and reason.");
	for (size_t i = 0; i < mx.nslot; i++)
		for (int r = 0; r < MX_NEXIT; r++)
			sample(o, "clusterd_worker_exits", "_total", num(v, sizeof(v),
			    mx.slot[i].exits[r]), "slot", num(id, sizeof(id), i), "reason",
			    exit_names[r], NULL);
	family(o, "clusterd_worker_restarts", "counter",
	    "Deaths of a slot's serving worker that clusterd restarted, by slot.");
	for (size_t i = 0; i < mx.nslot; i++)
		sample(o, "clusterd_worker_restarts", "_total", num(v, sizeof(v),
		    mx.slot[i].restarts), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_hangs", "counter",
	    "Workers found hung (hang_timeout: their queue not served), by slot.");
	for (size_t i = 0; i < mx.nslot; i++)
		sample(o, "clusterd_worker_hangs", "_total", num(v, sizeof(v),
		    mx.slot[i].hangs), "slot", num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_last_exit_timestamp_seconds", "gauge",
	    "When a worker of the slot last ended, since the epoch, in seconds.");
	for (size_t i = 0; i < mx.nslot; i++)
		if (mx.slot[i].last_exit > 0)
			sample(o, "clusterd_worker_last_exit_timestamp_seconds", "",
			    real(v, sizeof(v), mx.slot[i].last_exit), "slot",
			    num(id, sizeof(id), i), NULL);
	family(o, "clusterd_worker_exit_codes", "counter",
	    "Exits counted with reason exited, by exit status.");
	for (int c = 1; c < 256; c++)
		if (mx.codes[c])
			sample(o, "clusterd_worker_exit_codes", "_total", num(v, sizeof(v),
			    mx.codes[c]), "code", num(id, sizeof(id), (unsigned)c), NULL);
	family(o, "clusterd_worker_exit_signals", "counter",
	    "Exits counted with reason signal, by signal.");
	for (int s = 1; s < NSIGS; s++) {
		char name[24];

		if (mx.signals[s] == 0)
			continue;
		if (strcmp(signal_name(s), "?") == 0)
			snprintf(name, sizeof(name), "%d", s);
		else
			snprintf(name, sizeof(name), "SIG%s", signal_name(s));
		sample(o, "clusterd_worker_exit_signals", "_total", num(v, sizeof(v),
		    mx.signals[s]), "signal", name, NULL);
	}
}

static void
render_events(struct out *o)
{
	char v[64];

	family(o, "clusterd_rollouts", "counter", "Rolling restarts, by outcome: started, "
	    "succeeded, rolled_back (a new worker failed), aborted (clusterd stopped).");
	for (int i = 0; i < MX_NROLLOUT; i++)
		sample(o, "clusterd_rollouts", "_total", num(v, sizeof(v), mx.rollouts[i]),
		    "outcome", rollout_names[i], NULL);
	family(o, "clusterd_reloads", "counter", "Configuration reloads, by result: applied, "
	    "refused (a bad config, nothing changed), failed (its rolling restart did not finish).");
	for (int i = 0; i < MX_NRELOAD; i++)
		sample(o, "clusterd_reloads", "_total", num(v, sizeof(v), mx.reloads[i]),
		    "result", reload_names[i], NULL);
	family(o, "clusterd_autoscale_changes", "counter",
	    "Worker count changes made by the autoscaler, by direction.");
	sample(o, "clusterd_autoscale_changes", "_total", num(v, sizeof(v), mx.autoscale[1]),
	    "direction", "up", NULL);
	sample(o, "clusterd_autoscale_changes", "_total", num(v, sizeof(v), mx.autoscale[0]),
	    "direction", "down", NULL);
	family(o, "clusterd_log_lines_dropped", "counter",
	    "Lines clusterd could not write to its stdout, stderr or the journal: full "
	    "(the reader did not keep up), write_error (the write failed).");
	for (int f = 0; f < 3; f++)
		for (int k = 0; k < 2; k++)
			sample(o, "clusterd_log_lines_dropped", "_total", num(v, sizeof(v),
			    mx.dropped[f][k]), "sink", sink_names[f], "reason",
			    drop_names[k], NULL);
	family(o, "clusterd_control_requests", "counter",
	    "Control socket requests answered, by command and result.");
	for (int c = 0; c <= CTL_NCMD; c++)
		for (int r = 0; r < 4; r++)
			if (mx.control[c][r])
				sample(o, "clusterd_control_requests", "_total",
				    num(v, sizeof(v), mx.control[c][r]), "command",
				    c < CTL_NCMD ? ctl_cmd_names[c] : "invalid", "result",
				    result_names[r], NULL);
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
metrics_render(struct supervisor *sup, struct sbuf *out, int openmetrics)
{
	struct out o = { out, openmetrics };

	render_process(&o, sup);
	render_workers(&o, sup);
	render_slots(&o);
	render_events(&o);
	render_sockets(&o, sup);
	render_cgroups(&o, sup);
	if (openmetrics)
		sbuf_printf(out, "# EOF\n");
}

/*
 * An upgrade. The cluster-wide counters are one record, "metrics", each
 * non-zero one a field named for it; each slot seen is a "metrics_slot"
 * record. A reader takes the fields it knows: a newer writer's are
 * skipped, and a state without them (an older clusterd's) leaves zeros.
 */
typedef void	counter_fn(const char *key, unsigned long long *, void *arg);

static void
each_counter(counter_fn *fn, void *arg)
{
	char key[64];

	for (int i = 0; i < MX_NROLLOUT; i++) {
		snprintf(key, sizeof(key), "rollouts.%s", rollout_names[i]);
		fn(key, &mx.rollouts[i], arg);
	}
	for (int i = 0; i < MX_NRELOAD; i++) {
		snprintf(key, sizeof(key), "reloads.%s", reload_names[i]);
		fn(key, &mx.reloads[i], arg);
	}
	fn("autoscale.down", &mx.autoscale[0], arg);
	fn("autoscale.up", &mx.autoscale[1], arg);
	for (int f = 0; f < 3; f++)
		for (int k = 0; k < 2; k++) {
			snprintf(key, sizeof(key), "dropped.%s.%s", sink_names[f],
			    drop_names[k]);
			fn(key, &mx.dropped[f][k], arg);
		}
	for (int c = 0; c <= CTL_NCMD; c++)
		for (int r = 0; r < 4; r++) {
			snprintf(key, sizeof(key), "control.%s.%s",
			    c < CTL_NCMD ? ctl_cmd_names[c] : "invalid", result_names[r]);
			fn(key, &mx.control[c][r], arg);
		}
	for (int c = 1; c < 256; c++) {
		snprintf(key, sizeof(key), "code.%d", c);
		fn(key, &mx.codes[c], arg);
	}
	for (int s = 1; s < NSIGS; s++) {
		snprintf(key, sizeof(key), "signal.%d", s);
		fn(key, &mx.signals[s], arg);
	}
}

static void
save_one(const char *key, unsigned long long *v, void *arg)
{
	if (*v)
		state_int(arg, key, (long long)*v);
}

static void
adopt_one(const char *key, unsigned long long *v, void *arg)
{
	long long n = rec_int(arg, key, 0);

	*v = n > 0 ? (unsigned long long)n : 0;
}

void
metrics_save(struct state_out *so)
{
	char key[48];

	/* t/metrics.t: the state of a clusterd that kept no metrics. */
	if (getenv("CLUSTERD_TEST_NO_METRICS_STATE"))
		return;
	state_rec(so, "metrics");
	each_counter(save_one, so);
	for (size_t i = 0; i < mx.nslot; i++) {
		const struct mx_slot *s = &mx.slot[i];

		state_rec(so, "metrics_slot");
		state_int(so, "id", (long long)i);
		state_int(so, "starts", (long long)s->starts);
		state_int(so, "restarts", (long long)s->restarts);
		state_int(so, "hangs", (long long)s->hangs);
		state_dbl(so, "last_exit", s->last_exit);
		for (int r = 0; r < MX_NEXIT; r++)
			if (s->exits[r]) {
				snprintf(key, sizeof(key), "exit.%s", exit_names[r]);
				state_int(so, key, (long long)s->exits[r]);
			}
	}
}

void
metrics_adopt(const struct state_in *in)
{
	const struct state_rec *r = state_first(in, "metrics");
	char key[48];
	size_t i = 0;

	if (r)
		each_counter(adopt_one, (void *)r);
	while ((r = state_next(in, "metrics_slot", &i)) != NULL) {
		long long id = rec_int(r, "id", -1);
		struct mx_slot *s;

		if (id < 0 || id >= CTL_SCALE_MAX)
			continue;
		s = slot_of((unsigned)id);
		s->starts = (unsigned long long)rec_int(r, "starts", 0);
		s->restarts = (unsigned long long)rec_int(r, "restarts", 0);
		s->hangs = (unsigned long long)rec_int(r, "hangs", 0);
		s->last_exit = rec_dbl(r, "last_exit", 0);
		for (int k = 0; k < MX_NEXIT; k++) {
			snprintf(key, sizeof(key), "exit.%s", exit_names[k]);
			s->exits[k] = (unsigned long long)rec_int(r, key, 0);
		}
	}
}
