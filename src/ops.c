/*
 * The queue of restart and reload requests, and what a reload does: read
 * the config again, and either apply its settings or roll out the new
 * program (rollout.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "gen.h"
#include "confkeys.h"
#include "log.h"
#include "metricsrv.h"
#include "sdnotify.h"
#include "state.h"
#include "ops.h"
#include "metrics.h"
#include "supervisor.h"
#include "util.h"

struct request {
	TAILQ_ENTRY(request) entry;
	request_cb	*done;
	void		*cookie;
};

struct op {
	enum op_kind	 kind;
	int		 started;	/* the service manager heard RELOADING=1 */
	TAILQ_HEAD(, request) waiters;
	struct op	*next;
};

static void	run_next(struct ops *);

void
ops_init(struct ops *ops, struct supervisor *sup)
{
	memset(ops, 0, sizeof(*ops));
	ops->sup = sup;
	rollout_init(&ops->ro, sup);
}

int
ops_rolling(const struct ops *ops)
{
	return ops->ro.active;
}

/* The head op is over: tell its waiters. */
static void
finish(struct ops *ops, int code, const char *msg, const char *body)
{
	struct op *op = ops->head;
	struct request *r;

	if (op == NULL)
		return;
	/* Type=notify-reload (systemd 253): whatever the outcome, the reload
	 * is over once READY=1 comes. */
	if (op->started && ops->sup->announced && !ops->sup->stopping)
		sdnotify("READY=1");
	ops->head = op->next;
	while ((r = TAILQ_FIRST(&op->waiters)) != NULL) {
		TAILQ_REMOVE(&op->waiters, r, entry);
		r->done(code, msg, body, r->cookie);
		free(r);
	}
	free(op);
}

void
ops_free(struct ops *ops)
{
	while (ops->head)
		finish(ops, 1, "clusterd is stopping", NULL);
}

static void
rolled(int code, const char *msg, void *arg)
{
	struct ops *ops = arg;

	if (ops->head && ops->head->kind == OP_RELOAD)
		metrics_reload(code == 0 ? MX_RELOAD_APPLIED : MX_RELOAD_FAILED);
	finish(ops, code, msg, NULL);
	run_next(ops);
}

static void
refuse(struct ops *ops, const char *msg, struct strv *errors)
{
	struct sbuf body = { 0 };

	metrics_reload(MX_RELOAD_REFUSED);
	for (size_t i = 0; i < errors->n; i++) {
		log_ev(LOG_LVL_ERR, LOG_EV_RELOAD_REFUSED, "reload refused: %s",
		    errors->v[i]);
		sbuf_printf(&body, "%s\n", errors->v[i]);
	}
	finish(ops, 1, msg, body.s);
	sbuf_free(&body);
	strv_free(errors);
}

/* The keys a reload changed, by what a change of each does (confkeys.c). */
struct changed_keys {
	struct sbuf	 list[EFFECT_CLUSTERD + 1];
	int		 n[EFFECT_CLUSTERD + 1];
};

static void
changed_key(const char *key, enum key_effect e, void *arg)
{
	struct changed_keys *ck = arg;

	/* The worker count has its own line, with the numbers. */
	if (strcmp(key, "workers") != 0)
		sbuf_printf(&ck->list[e], "%s%s", ck->n[e]++ ? ", " : "", key);
}

static void
changed_keys_free(struct changed_keys *ck)
{
	for (int e = 0; e <= EFFECT_CLUSTERD; e++)
		sbuf_free(&ck->list[e]);
}

static void
reload(struct ops *ops)
{
	struct supervisor *sup = ops->sup;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct changed_keys ck = { 0 };
	struct strv errors = { 0 };
	struct gen *g;
	char msg[256];
	int restart, old_workers = sup->cur->cfg->workers;
	int old_max = sup->cur->cfg->workers_max, workers_changed;

	if (config_load(cfg, sup->cli, &errors) == -1) {
		config_free(cfg);
		free(cfg);
		refuse(ops, "reload refused: the config has errors", &errors);
		return;
	}
	/* Limits the workers' cgroups cannot carry would fail every start. */
	if (cgroups_check(&sup->cg, &cfg->prog, msg, sizeof(msg)) == -1) {
		strv_pushf(&errors, "%s", msg);
		config_free(cfg);
		free(cfg);
		refuse(ops, "reload refused", &errors);
		return;
	}
	/* A new metrics address is bound now; one that cannot be refuses
	 * the reload, and the old one stays. */
	if (ops->metrics &&
	    metricsrv_prepare(ops->metrics, cfg->metrics, msg, sizeof(msg)) == -1) {
		strv_pushf(&errors, "%s", msg);
		config_free(cfg);
		free(cfg);
		refuse(ops, "reload refused", &errors);
		return;
	}
	if ((g = gen_new(&sup->pool, cfg, 0, &errors)) == NULL) {
		if (ops->metrics)
			metricsrv_abort(ops->metrics);
		refuse(ops, "reload refused", &errors);
		return;
	}
	if (ops->metrics)
		metricsrv_commit(ops->metrics, cfg->metrics);
	/* A new program (or a socket the workers see change): the next
	 * generation number and a rolling restart; settings only: the same. */
	restart = gen_program_differs(g, sup->cur);
	g->number = restart ? sup_take_number(sup) : sup->cur->number;
	config_diff(sup->cur->cfg, cfg, changed_key, &ck);
	if (ck.n[EFFECT_CLUSTERD])
		log_ev(LOG_LVL_WARN, LOG_EV_RELOAD,
		    "reload: %s take%s effect when clusterd itself restarts",
		    ck.list[EFFECT_CLUSTERD].s, ck.n[EFFECT_CLUSTERD] == 1 ? "s" : "");
	if (ck.n[EFFECT_LIVE])
		log_ev(LOG_LVL_INFO, LOG_EV_RELOAD, "reload: %s appl%s now",
		    ck.list[EFFECT_LIVE].s,
		    ck.n[EFFECT_LIVE] == 1 ? "ies" : "y");
	if (restart && ck.n[EFFECT_WORKERS])
		log_ev(LOG_LVL_INFO, LOG_EV_RELOAD, "reload: %s changed",
		    ck.list[EFFECT_WORKERS].s);
	/* A `scale MIN..MAX` range lasts until a reload, any reload. */
	workers_changed = cfg->workers != old_workers || cfg->workers_max != old_max ||
	    sup->load.as.hi > 0;
	if (workers_changed) {
		char was[32], now[32];

		workers_format(was, sizeof(was), old_workers, old_max);
		workers_format(now, sizeof(now), cfg->workers, cfg->workers_max);
		snprintf(msg, sizeof(msg), "reload: workers %s -> %s", was, now);
		log_ev(LOG_LVL_INFO, LOG_EV_SCALE, "%s", msg);
	}
	if (!restart) {
		/* Settings only: they take effect for what happens next. */
		sup_set_gen(sup, g, 1);
		gen_unref(&sup->pool, g);
		if (workers_changed) {
			char was[32], now[32];

			sup_workers_setting(sup, msg, sizeof(msg));
			workers_format(was, sizeof(was), old_workers, old_max);
			workers_format(now, sizeof(now), cfg->workers, cfg->workers_max);
			snprintf(msg, sizeof(msg), "reloaded: workers %s -> %s", was, now);
		} else if (ck.n[EFFECT_LIVE]) {
			snprintf(msg, sizeof(msg), "reloaded: %s appl%s now",
			    ck.list[EFFECT_LIVE].s, ck.n[EFFECT_LIVE] == 1 ? "ies" : "y");
		} else {
			snprintf(msg, sizeof(msg), "reloaded: no changes");
			log_ev(LOG_LVL_INFO, LOG_EV_RELOAD, "reload: no changes");
		}
		changed_keys_free(&ck);
		metrics_reload(MX_RELOAD_APPLIED);
		finish(ops, 0, msg, NULL);
		return;
	}
	changed_keys_free(&ck);
	log_ev(LOG_LVL_INFO, LOG_EV_RELOAD, "reload: program changed; rolling restart");
	rollout_start(&ops->ro, g, rolled, ops);
	gen_unref(&sup->pool, g);
	if (workers_changed)
		sup_workers_setting(sup, msg, sizeof(msg));
}

static void
run_next(struct ops *ops)
{
	struct supervisor *sup = ops->sup;

	if (sup->stopping) {
		ops_free(ops);
		return;
	}
	while (ops->head && !ops->ro.active && !sup->stopping) {
		/* Each request, a reload that changes nothing or is refused
		 * too, is one reload to the service manager: RELOADING=1 with
		 * the time now, and READY=1 when it is over (finish()). Not
		 * before the first READY=1: that one says the start is over. */
		if (!ops->head->started && sup->announced) {
			ops->head->started = 1;
			sdnotify("RELOADING=1\nMONOTONIC_USEC=%lld",
			    (long long)(mono_now() * 1e6));
		}
		if (ops->head->kind == OP_RELOAD) {
			reload(ops);
			continue;
		}
		struct strv errors = { 0 };
		struct gen *g = gen_new(&sup->pool, sup->cur->cfg, sup_take_number(sup),
		    &errors);

		strv_free(&errors);	/* same sockets: nothing to bind, cannot fail */
		if (g == NULL) {
			finish(ops, 1, "restart failed", NULL);
			continue;
		}
		rollout_start(&ops->ro, g, rolled, ops);
		gen_unref(&sup->pool, g);
	}
}

void
ops_request(struct ops *ops, enum op_kind kind, request_cb *done, void *cookie,
    struct request **handle)
{
	struct op **tail = &ops->head, *last = NULL, *op;
	struct request *r = NULL;

	if (handle)
		*handle = NULL;
	if (ops->sup->stopping) {
		if (done)
			done(1, "clusterd is stopping", NULL, cookie);
		return;
	}
	for (; *tail; tail = &(*tail)->next)
		last = *tail;
	/* Two waiting requests of a kind are one: it runs once for both. */
	if (last && last->kind == kind && (last != ops->head || !ops->ro.active))
		op = last;
	else {
		op = xcalloc(1, sizeof(*op));
		op->kind = kind;
		TAILQ_INIT(&op->waiters);
		*tail = op;
		if (ops->ro.active)
			log_info("%s queued behind the rolling restart in progress",
			    kind == OP_RELOAD ? "reload" : "restart");
	}
	if (done) {
		r = xcalloc(1, sizeof(*r));
		r->done = done;
		r->cookie = cookie;
		TAILQ_INSERT_TAIL(&op->waiters, r, entry);
		if (handle)
			*handle = r;
	}
	if (op != last)
		run_next(ops);
}

void
ops_cancel(struct ops *ops, struct request *r)
{
	for (struct op *op = ops->head; op; op = op->next) {
		struct request *x;

		TAILQ_FOREACH(x, &op->waiters, entry)
			if (x == r) {
				TAILQ_REMOVE(&op->waiters, r, entry);
				free(r);
				return;
			}
	}
}

/*
 * An upgrade: the rollout under way and the queue of requests, each with
 * the descriptors of the clients waiting for it (fd_of: the control
 * module's), and the same taken over; the clients' connections are made
 * again by attach, which returns the cookie and callback to answer them.
 */
void
ops_save(const struct ops *ops, struct state_out *so, int (*fd_of)(void *cookie))
{
	rollout_save(&ops->ro, so);
	for (const struct op *op = ops->head; op; op = op->next) {
		const struct request *r;
		char key[32];
		int n = 0;

		state_rec(so, "op");
		state_str(so, "kind", op->kind == OP_RELOAD ? "reload" : "restart");
		state_int(so, "running", op == ops->head && ops->ro.active);
		TAILQ_FOREACH(r, &op->waiters, entry) {
			snprintf(key, sizeof(key), "waiter%d", n++);
			state_fd(so, key, fd_of ? fd_of(r->cookie) : -1);
		}
	}
}

int
ops_adopt(struct ops *ops, const struct state_in *in,
    void *(*attach)(int fd, request_cb **done, struct request ***handle, void *arg),
    void *arg)
{
	const struct state_rec *r;
	struct op **tail = &ops->head;
	size_t i = 0;

	if (rollout_adopt(&ops->ro, state_first(in, "rollout"), rolled, ops) == -1)
		return -1;
	while ((r = state_next(in, "op", &i)) != NULL) {
		struct op *op = xcalloc(1, sizeof(*op));
		const char *kind = rec_str(r, "kind");

		op->kind = kind && strcmp(kind, "reload") == 0 ? OP_RELOAD : OP_RESTART;
		TAILQ_INIT(&op->waiters);
		*tail = op;
		tail = &op->next;
		for (int n = 0;; n++) {
			char key[32];
			struct request *q, **handle = NULL;
			request_cb *done = NULL;
			void *cookie;
			int fd;

			snprintf(key, sizeof(key), "waiter%d", n);
			if (rec_field(r, key) == NULL)
				break;
			if ((fd = rec_fd(r, key)) == -1 ||
			    (cookie = attach(fd, &done, &handle, arg)) == NULL)
				continue;
			q = xcalloc(1, sizeof(*q));
			q->done = done;
			q->cookie = cookie;
			TAILQ_INSERT_TAIL(&op->waiters, q, entry);
			if (handle)
				*handle = q;
		}
	}
	/* A queued one whose rollout ended in the exec's moment runs now. */
	if (ops->head && !ops->ro.active)
		run_next(ops);
	return 0;
}
