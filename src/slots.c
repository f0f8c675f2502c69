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
#include "slotpriv.h"
#include "sockpool.h"
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
		if (t->v[k]->w && t->v[k]->w->state == W_READY)
			live[nlive++] = t->v[k]->id;
	sockpool_steer(t->pool, live, nlive);
	free(live);
}
