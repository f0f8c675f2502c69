/*
 * Rolling restarts (SIGUSR2, clusterctl restart, a reload that changes the
 * program), their rollback, reloads, and the queue of such requests.
 *
 * surge (default): each slot's successor starts beside the serving worker
 * and the old one is stopped only once the new one is ready, so the
 * cluster never has fewer ready workers than it should. replace: the old
 * one is stopped first, for programs that own per-slot resources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "log.h"
#include "sdnotify.h"
#include "starter.h"
#include "supervisor.h"
#include "util.h"

static void rollout_step(struct supervisor *);

void
rollout_start(struct supervisor *sup, struct gen *to)
{
	struct rollout *ro = &sup->ro;
	const struct config *cfg = to->cfg;

	ro->active = 1;
	ro->to = to;
	gen_ref(to);
	ro->from = sup->cur;
	gen_ref(ro->from);
	ro->next = 0;
	ro->inflight = 0;
	gen_unref(&sup->pool, sup->cur);
	sup->cur = to;
	gen_ref(to);
	if (!ro->rollback) {
		sdnotify("RELOADING=1\nMONOTONIC_USEC=%lld", (long long)(mono_now() * 1e6));
		log_info("rolling restart to generation %u (%zu worker%s, %d at a time%s)",
		    to->number, sup->nslots, sup->nslots == 1 ? "" : "s",
		    cfg->restart_batch,
		    cfg->prog.restart_mode == RESTART_REPLACE ? ", replace" : "");
	}
	rollout_step(sup);
}

static void
rollout_end(struct supervisor *sup)
{
	struct rollout *ro = &sup->ro;

	for (size_t i = 0; i < sup->nslots; i++)
		slot_unqueue(&sup->slots[i]->start_next);
	gen_unref(&sup->pool, ro->to);
	gen_unref(&sup->pool, ro->from);
	free(ro->failure);
	memset(ro, 0, sizeof(*ro));
}

static void
rollout_done(struct supervisor *sup)
{
	struct rollout *ro = &sup->ro;
	char msg[900];
	int code = 0;

	if (ro->rollback) {
		snprintf(msg, sizeof(msg), "rolling restart to generation %u failed: %s; "
		    "rolled back", ro->failed_number, ro->failure);
		log_warnx("rolled back to generation %u", ro->to->number);
		code = 1;
	} else {
		snprintf(msg, sizeof(msg), "rolling restart to generation %u done",
		    ro->to->number);
		log_info("%s", msg);
	}
	rollout_end(sup);
	ops_finish(sup, code, msg, NULL);
	sdnotify("READY=1");
	sup_check_ready(sup);
	ops_run_next(sup);
}

static void
rollout_step(struct supervisor *sup)
{
	struct rollout *ro = &sup->ro;
	const struct program_cfg *pc = &ro->to->cfg->prog;
	int batch = ro->to->cfg->restart_batch > 0 ? ro->to->cfg->restart_batch : 1;

	while (ro->active && ro->inflight < batch && ro->next < sup->nslots) {
		struct slot *s = sup->slots[ro->next++];

		if (s->gen == ro->to)
			continue;
		if (s->w == NULL) {
			/* Empty or in backoff: its next start runs the new program. */
			slot_set_gen(s, ro->to);
			continue;
		}
		ro->inflight++;
		if (pc->restart_mode == RESTART_REPLACE) {
			s->replace_wait = 1;
			worker_stop(s->w, NULL);
		} else
			slot_start_next(s);	/* a slice at a time: starter.c */
	}
	if (ro->active && ro->inflight == 0 && ro->next >= sup->nslots)
		rollout_done(sup);
}

void
rollout_worker_ready(struct supervisor *sup, struct worker *w)
{
	struct slot *s = w->slot;
	struct worker *old = s->w;

	s->w = w;
	s->next = NULL;
	s->streak = 0;
	slot_set_gen(s, w->gen);
	if (old)
		worker_stop(old, NULL);
	if (sup->ro.active) {
		sup->ro.inflight--;
		rollout_step(sup);
	}
}

/* A new worker died or missed ready_timeout: undo what was done. */
void
rollout_worker_failed(struct supervisor *sup, struct worker *w, const char *what)
{
	struct rollout *ro = &sup->ro;
	struct gen *back;

	(void)w;
	if (!ro->active)
		return;
	if (ro->rollback) {
		/* The old program failed too: its slots restart by the usual rules. */
		log_errx("rollback to generation %u: %s", ro->to->number, what);
		ro->inflight--;
		for (size_t i = 0; i < sup->nslots; i++) {
			struct slot *s = sup->slots[i];

			if (s->w == NULL && s->next == NULL && !s->replace_wait)
				slot_start(s);
		}
		rollout_step(sup);
		return;
	}
	log_errx("rolling restart to generation %u failed: %s; rolling back",
	    ro->to->number, what);
	for (size_t i = 0; i < sup->nslots; i++) {
		struct slot *s = sup->slots[i];

		if (s->next) {
			worker_stop(s->next, NULL);
			s->next = NULL;
		}
		s->replace_wait = 0;
	}
	/* replace mode: a slot whose old worker is already gone needs one now. */
	for (size_t i = 0; i < sup->nslots; i++) {
		struct slot *s = sup->slots[i];

		if (s->w == NULL && s->gen == ro->from && !ev_is_active(&s->backoff))
			slot_start(s);
	}
	back = ro->from;
	gen_ref(back);
	ro->failure = xstrdup(what);
	ro->failed_number = ro->to->number;

	/* The slots already moved go back the same way, new beside old. */
	char *failure = ro->failure;
	unsigned failed_number = ro->failed_number;

	ro->failure = NULL;
	rollout_end(sup);
	ro->rollback = 1;
	ro->failure = failure;
	ro->failed_number = failed_number;
	rollout_start(sup, back);
	gen_unref(&sup->pool, back);
}

void
rollout_slot_removed(struct supervisor *sup, struct slot *s)
{
	if (sup->ro.active && (s->next || s->replace_wait || s->start_next.queued))
		sup->ro.inflight--;
	slot_unqueue(&s->start_next);
	s->replace_wait = 0;
	if (sup->ro.active)
		rollout_step(sup);
}

void
rollout_abort(struct supervisor *sup)
{
	if (!sup->ro.active)
		return;
	rollout_end(sup);
	ops_finish(sup, 1, "clusterd is stopping", NULL);
	while (sup->ops)
		ops_finish(sup, 1, "clusterd is stopping", NULL);
}

/* The request queue. */

static void
op_free(struct op *op)
{
	free(op->waiters);
	free(op);
}

void
ops_finish(struct supervisor *sup, int code, const char *msg, const char *body)
{
	struct op *op = sup->ops;

	if (op == NULL)
		return;
	sup->ops = op->next;
	for (size_t i = 0; i < op->nwaiters; i++)
		ctl_reply(op->waiters[i], code, msg, body);
	op_free(op);
}

static void
reload(struct supervisor *sup)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct strv errors = { 0 };
	struct gen *g;
	char msg[256];
	int restart, old_workers = sup->cur->cfg->workers;

	if (config_load(cfg, sup->cli, &errors) == -1) {
		struct sbuf body = { 0 };

		for (size_t i = 0; i < errors.n; i++) {
			log_errx("reload refused: %s", errors.v[i]);
			sbuf_printf(&body, "%s\n", errors.v[i]);
		}
		config_free(cfg);
		free(cfg);
		ops_finish(sup, 1, "reload refused: the config has errors", body.s);
		sbuf_free(&body);
		strv_free(&errors);
		return;
	}
	g = gen_new(&sup->pool, cfg, 0, &errors);
	if (g == NULL) {
		struct sbuf body = { 0 };

		for (size_t i = 0; i < errors.n; i++) {
			log_errx("reload refused: %s", errors.v[i]);
			sbuf_printf(&body, "%s\n", errors.v[i]);
		}
		ops_finish(sup, 1, "reload refused", body.s);
		sbuf_free(&body);
		strv_free(&errors);
		return;
	}
	/* Same program: same generation number; otherwise the next one. */
	g->number = gen_program_differs(g, sup->cur) ? sup->last_number + 1 :
	    sup->cur->number;
	restart = g->number != sup->cur->number;
	{
		const struct config *o = sup->cur->cfg;
		int same = str_equal(o->name, cfg->name) &&
		    str_equal(o->control, cfg->control) &&
		    str_equal(o->pidfile, cfg->pidfile) && o->subreaper == cfg->subreaper;

		if (!same)
			log_warnx("reload: name, control, pidfile and subreaper take "
			    "effect when clusterd itself restarts");
	}
	if (cfg->workers != old_workers) {
		snprintf(msg, sizeof(msg), "reload: workers %d -> %d", old_workers,
		    cfg->workers);
		log_info("%s", msg);
	}
	if (!restart) {
		/* Settings only: they take effect for what happens next. */
		for (size_t i = 0; i < sup->nslots; i++)
			slot_set_gen(sup->slots[i], g);
		gen_unref(&sup->pool, sup->cur);
		sup->cur = g;
		if (cfg->workers != old_workers) {
			sup_scale(sup, (size_t)cfg->workers, msg, sizeof(msg));
			snprintf(msg, sizeof(msg), "reloaded: workers %d -> %d", old_workers,
			    cfg->workers);
		} else {
			snprintf(msg, sizeof(msg), "reloaded: no changes");
			log_info("reload: no changes");
		}
		ops_finish(sup, 0, msg, NULL);
		ops_run_next(sup);
		return;
	}
	log_info("reload: program changed; rolling restart");
	sup->last_number = g->number;
	rollout_start(sup, g);
	gen_unref(&sup->pool, g);
	if (cfg->workers != old_workers)
		sup_scale(sup, (size_t)cfg->workers, msg, sizeof(msg));
}

void
ops_run_next(struct supervisor *sup)
{
	while (sup->ops && !sup->ro.active && !sup->stopping) {
		if (sup->ops->kind == OP_RELOAD) {
			reload(sup);
			continue;
		}
		struct gen *cur = sup->cur;
		struct strv errors = { 0 };
		struct gen *g = gen_new(&sup->pool, cur->cfg, ++sup->last_number, &errors);

		strv_free(&errors);	/* same sockets: nothing to bind, cannot fail */
		if (g == NULL) {
			ops_finish(sup, 1, "restart failed", NULL);
			continue;
		}
		rollout_start(sup, g);
		gen_unref(&sup->pool, g);
	}
}

void
sup_request(struct supervisor *sup, enum op_kind kind, struct ctl_conn *conn)
{
	struct op **tail = &sup->ops, *last = NULL;

	if (sup->stopping) {
		if (conn)
			ctl_reply(conn, 1, "clusterd is stopping", NULL);
		return;
	}
	for (; *tail; tail = &(*tail)->next)
		last = *tail;
	/* Two waiting requests of a kind are one: it runs once for both. */
	if (last && last->kind == kind && (last != sup->ops || !sup->ro.active)) {
		if (conn) {
			last->waiters = xreallocarray(last->waiters, last->nwaiters + 1,
			    sizeof(*last->waiters));
			last->waiters[last->nwaiters++] = conn;
		}
		return;
	}
	struct op *op = xcalloc(1, sizeof(*op));

	op->kind = kind;
	if (conn) {
		op->waiters = xmalloc(sizeof(*op->waiters));
		op->waiters[op->nwaiters++] = conn;
	}
	*tail = op;
	if (sup->ro.active)
		log_info("%s queued behind the rolling restart in progress",
		    kind == OP_RELOAD ? "reload" : "restart");
	ops_run_next(sup);
}

void
sup_forget_conn(struct supervisor *sup, struct ctl_conn *conn)
{
	for (struct op *op = sup->ops; op; op = op->next)
		for (size_t i = 0; i < op->nwaiters; i++)
			if (op->waiters[i] == conn)
				op->waiters[i] = op->waiters[--op->nwaiters];
}
