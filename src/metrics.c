/*
 * The counters behind clusterd's metrics: see metrics.h.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "metrics.h"
#include "state.h"
#include "strv.h"
#include "util.h"

const char *const metrics_exit_names[MX_NEXIT] = {
	[MX_CLEAN] = "clean", [MX_EXITED] = "exited", [MX_SIGNAL] = "signal",
	[MX_OOM] = "oom", [MX_WATCHDOG] = "watchdog",
	[MX_READY_TIMEOUT] = "ready_timeout", [MX_HANG] = "hang",
	[MX_RECYCLE] = "recycle", [MX_STOPPED] = "stopped",
	[MX_EXEC_FAILED] = "exec_failed",
};
const char *const metrics_rollout_names[MX_NROLLOUT] = {
	"started", "succeeded", "rolled_back", "aborted",
};
const char *const metrics_reload_names[MX_NRELOAD] = { "applied", "refused", "failed" };
/* Reply codes (clusterctl(8)). */
const char *const metrics_result_names[4] = { "ok", "failed", "bad_request", "degraded" };
const char *const metrics_sink_names[3] = { "stdout", "stderr", "journal" };
const char *const metrics_drop_names[2] = { "full", "write_error" };

static struct metrics_counters mx;

const struct metrics_counters *
metrics_counters(void)
{
	return &mx;
}

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

void
metrics_worker_exit(unsigned slot, enum mx_exit why, int status)
{
	struct mx_slot *s = slot_of(slot);

	s->exits[why]++;
	s->last_exit = ev_time();
	if (why == MX_EXITED)
		mx.codes[WEXITSTATUS(status)]++;
	else if (why == MX_SIGNAL && WIFSIGNALED(status) && WTERMSIG(status) < MX_NSIGS)
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
		snprintf(key, sizeof(key), "rollouts.%s", metrics_rollout_names[i]);
		fn(key, &mx.rollouts[i], arg);
	}
	for (int i = 0; i < MX_NRELOAD; i++) {
		snprintf(key, sizeof(key), "reloads.%s", metrics_reload_names[i]);
		fn(key, &mx.reloads[i], arg);
	}
	fn("autoscale.down", &mx.autoscale[0], arg);
	fn("autoscale.up", &mx.autoscale[1], arg);
	for (int f = 0; f < 3; f++)
		for (int k = 0; k < 2; k++) {
			snprintf(key, sizeof(key), "dropped.%s.%s", metrics_sink_names[f],
			    metrics_drop_names[k]);
			fn(key, &mx.dropped[f][k], arg);
		}
	for (int c = 0; c <= CTL_NCMD; c++)
		for (int r = 0; r < 4; r++) {
			snprintf(key, sizeof(key), "control.%s.%s",
			    c < CTL_NCMD ? ctl_cmd_names[c] : "invalid", metrics_result_names[r]);
			fn(key, &mx.control[c][r], arg);
		}
	for (int c = 1; c < 256; c++) {
		snprintf(key, sizeof(key), "code.%d", c);
		fn(key, &mx.codes[c], arg);
	}
	for (int s = 1; s < MX_NSIGS; s++) {
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
				snprintf(key, sizeof(key), "exit.%s", metrics_exit_names[r]);
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
			snprintf(key, sizeof(key), "exit.%s", metrics_exit_names[k]);
			s->exits[k] = (unsigned long long)rec_int(r, key, 0);
		}
	}
}
