/*
 * Rolling restarts and their rollback. A rollout asks slots for replaces
 * (slot_replace), restart_batch at a time, and hears how each went through
 * its callback; it keeps no slot's state itself.
 *
 * surge (default): each slot's successor starts beside the serving worker
 * and the old one is stopped only once the new one is ready, so the
 * cluster never has fewer ready workers than it should. replace: the old
 * one is stopped first, for programs that own per-slot resources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "rollout.h"
#include "slot.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"

static void	step(struct rollout *);

void
rollout_init(struct rollout *ro, struct supervisor *sup)
{
	memset(ro, 0, sizeof(*ro));
	ro->sup = sup;
}

static void
begin(struct rollout *ro, struct gen *to)
{
	struct supervisor *sup = ro->sup;
	const struct config *cfg = to->cfg;

	ro->active = 1;
	ro->to = to;
	gen_ref(to);
	ro->from = sup->cur;
	gen_ref(ro->from);
	ro->next = 0;
	ro->inflight = 0;
	sup_set_gen(sup, to, 0);
	sup_rolling(sup, 1);
	if (!ro->rollback) {
		log_gen(LOG_LVL_INFO, LOG_EV_ROLLOUT_STARTED, to->number,
		    "rolling restart to generation %u (%zu worker%s, %d at a time%s)",
		    to->number, sup->slots.n, sup->slots.n == 1 ? "" : "s",
		    cfg->restart_batch,
		    cfg->prog.restart_mode == RESTART_REPLACE ? ", replace" : "");
	}
	step(ro);
}

void
rollout_start(struct rollout *ro, struct gen *to, rollout_done_cb *done, void *arg)
{
	ro->done = done;
	ro->done_arg = arg;
	ro->rollback = 0;
	metrics_rollout(MX_RO_STARTED);
	begin(ro, to);
}

static void
end(struct rollout *ro)
{
	gen_unref(&ro->sup->pool, ro->to);
	gen_unref(&ro->sup->pool, ro->from);
	free(ro->failure);
	ro->failure = NULL;
	ro->active = 0;
	ro->to = ro->from = NULL;
	sup_rolling(ro->sup, 0);
}

/* The rollout is over: the cluster may be all ready again, then the
 * one who asked hears how it went. */
static void
finish(struct rollout *ro, int code, const char *msg)
{
	rollout_done_cb *done = ro->done;
	void *arg = ro->done_arg;

	end(ro);
	if (!ro->sup->stopping)
		sup_check_ready(ro->sup);
	ro->done = NULL;
	ro->done_arg = NULL;
	if (done)
		done(code, msg, arg);
}

static void
over(struct rollout *ro)
{
	char msg[900];
	int code = 0;

	if (ro->rollback) {
		snprintf(msg, sizeof(msg), "rolling restart to generation %u failed: %s; "
		    "rolled back", ro->failed_number, ro->failure);
		log_gen(LOG_LVL_WARN, LOG_EV_ROLLBACK, ro->to->number,
		    "rolled back to generation %u", ro->to->number);
		code = 1;
	} else {
		snprintf(msg, sizeof(msg), "rolling restart to generation %u done",
		    ro->to->number);
		log_gen(LOG_LVL_INFO, LOG_EV_ROLLOUT_DONE, ro->to->number, "%s", msg);
	}
	metrics_rollout(ro->rollback ? MX_RO_ROLLED_BACK : MX_RO_SUCCEEDED);
	finish(ro, code, msg);
}

static void	outcome(struct slot *, enum replace_outcome, const char *, void *);

static void
step(struct rollout *ro)
{
	struct supervisor *sup = ro->sup;
	int batch = ro->to->cfg->restart_batch > 0 ? ro->to->cfg->restart_batch : 1;

	if (sup->stopping) {
		if (ro->inflight == 0) {
			metrics_rollout(MX_RO_ABORTED);
			finish(ro, 1, "clusterd is stopping");
		}
		return;
	}
	while (ro->active && ro->inflight < batch && ro->next < sup->slots.n) {
		struct slot *s = sup->slots.v[ro->next++];

		if (s->gen != ro->to && slot_replace(s, ro->to, outcome, ro))
			ro->inflight++;
	}
	if (ro->active && ro->inflight == 0 && ro->next >= sup->slots.n)
		over(ro);
}

/* The forward rollout failed: the slots already moved go back the same
 * way, new beside old. */
static void
roll_back(struct rollout *ro, const char *what)
{
	struct supervisor *sup = ro->sup;
	struct gen *back = ro->from;
	char *failure = xstrdup(what);
	unsigned failed_number = ro->to->number;

	log_gen(LOG_LVL_ERR, LOG_EV_ROLLOUT_FAILED, ro->to->number,
	    "rolling restart to generation %u failed: %s; rolling back",
	    ro->to->number, what);
	for (size_t i = 0; i < sup->slots.n; i++)
		slot_cancel_replace(sup->slots.v[i], back);
	gen_ref(back);
	end(ro);
	ro->rollback = 1;
	ro->failure = failure;
	ro->failed_number = failed_number;
	begin(ro, back);
	gen_unref(&sup->pool, back);
}

static void
outcome(struct slot *s, enum replace_outcome o, const char *why, void *arg)
{
	struct rollout *ro = arg;

	(void)s;
	if (!ro->active)
		return;
	ro->inflight--;
	if (o == REPLACE_FAILED && !ro->rollback) {
		roll_back(ro, why);
		return;
	}
	if (o == REPLACE_FAILED)
		/* The old program failed too: its slots restart by the usual rules. */
		log_gen(LOG_LVL_ERR, LOG_EV_ROLLOUT_FAILED, ro->to->number,
		    "rollback to generation %u: %s", ro->to->number, why);
	step(ro);
}

replace_cb *
rollout_replace_cb(void)
{
	return outcome;
}

void
rollout_save(const struct rollout *ro, struct state_out *so)
{
	if (!ro->active)
		return;
	state_rec(so, "rollout");
	state_int(so, "rollback", ro->rollback);
	state_int(so, "to", ro->to->number);
	state_int(so, "from", ro->from->number);
	state_int(so, "next", (long long)ro->next);
	state_int(so, "inflight", ro->inflight);
	state_str(so, "failure", ro->failure);
	state_int(so, "failed_number", ro->failed_number);
}

int
rollout_adopt(struct rollout *ro, const struct state_rec *r, rollout_done_cb *done,
    void *arg)
{
	struct gen *to, *from;

	if (r == NULL)
		return 0;
	to = sup_adopted_gen(ro->sup, (unsigned)rec_int(r, "to", 0));
	from = sup_adopted_gen(ro->sup, (unsigned)rec_int(r, "from", 0));
	if (to == NULL || from == NULL)
		return -1;
	ro->active = 1;
	ro->rollback = rec_int(r, "rollback", 0) != 0;
	ro->to = to;
	gen_ref(to);
	ro->from = from;
	gen_ref(from);
	ro->next = (size_t)rec_int(r, "next", 0);
	ro->inflight = (int)rec_int(r, "inflight", 0);
	ro->failure = rec_dup(r, "failure");
	ro->failed_number = (unsigned)rec_int(r, "failed_number", 0);
	ro->done = done;
	ro->done_arg = arg;
	return 0;
}

void
rollout_gens(const struct rollout *ro, struct gen **v)
{
	v[0] = ro->active ? ro->to : NULL;
	v[1] = ro->active ? ro->from : NULL;
	v[2] = NULL;
}
