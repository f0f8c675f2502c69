/*
 * The table of slots: making and removing them as the cluster scales,
 * starting the first, stopping or killing them all, and what the cluster
 * asks of them as a whole (ready count, batch pool over, reuseport
 * steering). Each slot's own life is slot.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gen.h"
#include "log.h"
#include "output.h"
#include "slotpriv.h"
#include "sockpool.h"
#include "state.h"
#include "util.h"
#include "worker.h"

void
slots_init(struct slots *t, struct ev_loop *loop, struct worker_ctx *wctx,
    struct sockpool *pool, const struct slot_hooks *h, void *owner)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->wctx = wctx;
	t->pool = pool;
	t->hooks = h;
	t->owner = owner;
	starter_init(&t->starter, loop);
}

void
slots_set_gen(struct slots *t, struct gen *g, int every_slot)
{
	if (t->cur != g) {
		gen_ref(g);
		if (t->cur)
			gen_unref(t->pool, t->cur);
		t->cur = g;
	}
	if (every_slot)
		for (size_t i = 0; i < t->n; i++)
			slot_set_gen(t->v[i], g);
}

void
slots_resize(struct slots *t, size_t n)
{
	size_t old = t->n;

	if (n > old) {
		t->v = xreallocarray(t->v, n, sizeof(*t->v));
		for (size_t i = old; i < n; i++)
			t->v[i] = slot_new(t, (unsigned)i);
		t->n = n;
		for (size_t i = old; i < n; i++)
			slot_queue_start(t->v[i]);
		return;
	}
	/* The highest slots go, each worker stopped gracefully. */
	t->n = n;
	for (size_t i = n; i < old; i++)
		slot_event(t->v[i], SE_REMOVE, NULL);
}

int
slots_start_first(struct slots *t)
{
	struct slot *s = t->v[0];
	struct worker *w;
	char what[512];
	int status;

	if ((w = slot_start_now(s)) == NULL || worker_wait_exec(w) == 0)
		return 0;
	worker_describe_exit(w, 0, what, sizeof(what));
	log_errx("%s", what);
	ev_child_stop(t->loop, &w->child);
	while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR)
		;
	s->w = NULL;
	s->nworkers--;
	status = w->fail.stage != STAGE_EXEC ? 2 : w->fail.err == ENOENT ? 127 : 126;
	worker_free(w);
	return status;
}

static void
stop_all(struct slots *t, int kill)
{
	struct slot_evdata d = { .status = kill };
	struct worker *w;

	t->stopping = 1;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->state != SLOT_STOPPING && t->v[i]->state != SLOT_GONE)
			slot_event(t->v[i], SE_STOP, &d);
	starter_clear(&t->starter);
	/* Scaled-away slots still draining, and retired workers. */
	TAILQ_FOREACH(w, &t->wctx->all, entry) {
		if (w->slot->state == SLOT_DRAINING)
			slot_event(w->slot, SE_STOP, &d);
		if (kill)
			worker_kill(w);
		else
			worker_stop(w, NULL);
	}
}

void
slots_stop(struct slots *t)
{
	stop_all(t, 0);
}

void
slots_kill(struct slots *t)
{
	stop_all(t, 1);
}

void
slots_free(struct slots *t)
{
	starter_clear(&t->starter);
	for (size_t i = 0; i < t->n; i++)
		slot_free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
	if (t->cur)
		gen_unref(t->pool, t->cur);
	t->cur = NULL;
}

int
slots_ready(const struct slots *t)
{
	int n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->w && t->v[i]->w->state == W_READY)
			n++;
	return n;
}

int
slots_all_done(const struct slots *t, int *failed)
{
	*failed = 0;
	if (t->n == 0)
		return 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i]->state != SLOT_DONE)
			return 0;
		*failed |= t->v[i]->failed;
	}
	return 1;
}

void
slots_steer(struct slots *t)
{
	unsigned *live;
	size_t nlive = 0;

	if (!sockpool_reuseport(t->pool))
		return;
	live = xcalloc(t->n + 1, sizeof(*live));
	for (size_t k = 0; k < t->n; k++)
		if (t->v[k]->w && t->v[k]->w->state == W_READY && !t->v[k]->w->hung)
			live[nlive++] = t->v[k]->id;
	sockpool_steer(t->pool, live, nlive);
	free(live);
}

/*
 * An upgrade: the table as records, and rebuilt from them. A slot is its
 * state, generation, restart figures, timers and queued starts, and who
 * waits for its replace (by owner name: the callbacks are found again by
 * name in the new image); its workers follow it, each with its role
 * (serving, successor, or retired: stopping, no longer counted). Slots
 * being drained or scaled away are not carried (slots_can_save).
 */
const char *
slots_can_save(const struct slots *t)
{
	if (t->stopping)
		return "clusterd is stopping";
	for (size_t i = 0; i < t->n; i++) {
		const struct slot *s = t->v[i];

		if (s->state == SLOT_DRAINING || s->state == SLOT_STOPPING ||
		    s->state == SLOT_GONE || s->removed)
			return "a worker is being scaled away";
	}
	return NULL;
}

static const char *
owner_name(const struct slot *s, const struct replace_owner *owners)
{
	for (; owners && owners->name; owners++)
		if (owners->cb == s->done && owners->arg == s->done_arg)
			return owners->name;
	return NULL;
}

static double
timer_left(struct ev_loop *loop, const ev_timer *t)
{
	return ev_is_active(t) ? ev_timer_remaining(loop, (ev_timer *)t) : -1;
}

void
slots_save(const struct slots *t, struct state_out *so, const struct replace_owner *owners)
{
	const struct worker *w;

	state_rec(so, "slots");
	state_int(so, "n", (long long)t->n);
	state_int(so, "cur", t->cur->number);
	for (size_t i = 0; i < t->n; i++) {
		const struct slot *s = t->v[i];

		state_rec(so, "slot");
		state_int(so, "id", s->id);
		state_str(so, "state", slot_state_name(s->state));
		state_int(so, "gen", s->gen->number);
		state_int(so, "streak", s->streak);
		state_int(so, "restarts", s->restarts);
		state_str(so, "last_exit", s->last_exit);
		state_int(so, "failed", s->failed);
		state_int(so, "queued", s->start_w.queued);
		state_int(so, "queued_next", s->start_next.queued);
		state_dbl(so, "backoff", timer_left(t->loop, &s->backoff));
		/* A replace whose owner is not known here goes on unowned. */
		state_str(so, "owner", owner_name(s, owners));
	}
	/* Oldest first, as they were started. */
	TAILQ_FOREACH(w, &t->wctx->all, entry) {
		worker_save(w, so);
		state_int(so, "slot", w->slot->id);
		state_str(so, "role", w == w->slot->w ? "serving" :
		    w == w->slot->next ? "successor" : "retired");
		if (w->out) {
			output_save(&w->out[0], so, "worker_out");
			output_save(&w->out[1], so, "worker_out");
		}
	}
}

static int
adopt_slot(struct slots *t, const struct state_rec *r, size_t id,
    struct gen *(*gen_of)(void *, unsigned), void *arg,
    const struct replace_owner *owners)
{
	struct slot *s;
	struct gen *g = gen_of(arg, (unsigned)rec_int(r, "gen", 0));
	const char *owner = rec_str(r, "owner");
	int st = rec_index(r, "state", slot_state_names, SLOT_GONE + 1);
	double left;

	if (rec_int(r, "id", -1) != (long long)id || g == NULL || st < 0 ||
	    st > SLOT_DONE)
		return -1;
	s = slot_new(t, (unsigned)id);
	t->v[id] = s;
	t->n = id + 1;
	slot_set_gen(s, g);
	s->state = st;
	s->streak = (unsigned)rec_int(r, "streak", 0);
	s->restarts = (unsigned)rec_int(r, "restarts", 0);
	s->last_exit = rec_dup(r, "last_exit");
	s->failed = rec_int(r, "failed", 0) != 0;
	for (; owner && owners && owners->name; owners++)
		if (strcmp(owners->name, owner) == 0) {
			s->done = owners->cb;
			s->done_arg = owners->arg;
		}
	if ((left = rec_dbl(r, "backoff", -1)) >= 0) {
		ev_timer_set(&s->backoff, left, 0);
		ev_timer_start(t->loop, &s->backoff);
	}
	if (rec_int(r, "queued", 0))
		starter_queue(&t->starter, &s->start_w);
	if (rec_int(r, "queued_next", 0))
		starter_queue(&t->starter, &s->start_next);
	return 0;
}

int
slots_adopt(struct slots *t, const struct state_in *in,
    struct gen *(*gen_of)(void *, unsigned), void *arg,
    const struct replace_owner *owners)
{
	const struct state_rec *tr = state_first(in, "slots");
	size_t n = (size_t)rec_int(tr, "n", 0), nslot = 0;

	if (tr == NULL || n > 100000)
		return -1;
	t->v = xreallocarray(NULL, n ? n : 1, sizeof(*t->v));
	for (size_t i = 0; i < in->n; i++) {
		const struct state_rec *r = &in->r[i], *o[2] = { NULL, NULL };
		struct worker_spec ws;
		struct worker *w;
		const char *role;
		struct slot *s;
		long long id;

		if (strcmp(r->kind, "slot") == 0) {
			if (nslot >= n || adopt_slot(t, r, nslot, gen_of, arg, owners) == -1)
				return -1;
			nslot++;
			continue;
		}
		if (strcmp(r->kind, "worker") != 0)
			continue;
		/* Its pipes follow it. */
		for (int j = 0; j < 2 && i + 1 < in->n &&
		    strcmp(in->r[i + 1].kind, "worker_out") == 0; j++)
			o[j] = &in->r[++i];
		id = rec_int(r, "slot", -1);
		role = rec_str(r, "role");
		if (id < 0 || (size_t)id >= nslot || role == NULL)
			return -1;
		s = t->v[id];
		ws = (struct worker_spec){ .id = s->id, .nworkers = n,
		    .gen = gen_of(arg, (unsigned)rec_int(r, "gen", 0)),
		    .owner = s, .hooks = slot_worker_hooks() };
		if (ws.gen == NULL || (w = worker_adopt(t->wctx, &ws, r, o[0], o[1])) == NULL)
			return -1;
		s->nworkers++;
		if (strcmp(role, "serving") == 0 && s->w == NULL)
			s->w = w;
		else if (strcmp(role, "successor") == 0 && s->next == NULL)
			s->next = w;
		else if (strcmp(role, "retired") != 0)
			return -1;
	}
	return nslot == n ? 0 : -1;
}
