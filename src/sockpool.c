/*
 * The pool of bound sockets. A socket is bound once and kept for as long
 * as a generation names it, so that a reload never binds an address twice
 * (a second bind fails, or with SO_REUSEPORT joins the same group and
 * steals its connections) and a rollback finds the old sockets still open.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "inherit.h"
#include "log.h"
#include "sockpool.h"
#include "steer.h"

struct listener *
sockpool_get(struct sockpool *p, const struct sock_cfg *sc, struct strv *errors)
{
	struct listener *l;

	for (size_t i = 0; i < p->n; i++) {
		l = p->v[i];
		if (sock_cfg_equal(l->cfg, sc)) {
			l->refs++;
			return l;
		}
		/* The same socket with other options: changed in place, never
		 * bound twice. */
		if (sock_cfg_same_socket(l->cfg, sc)) {
			if (listener_update(l, sc) == -1) {
				strv_push(errors, xstrdup(listener_error()));
				return NULL;
			}
			l->refs++;
			return l;
		}
	}
	l = xcalloc(1, sizeof(*l));
	if (listener_open(l, sc) == -1) {
		strv_push(errors, xstrdup(listener_error()));
		free(l);
		return NULL;
	}
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = l;
	l->refs = 1;
	return l;
}

void
sockpool_put(struct sockpool *p, struct listener *l)
{
	if (--l->refs > 0)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i] == l) {
			p->v[i] = p->v[--p->n];
			break;
		}
	if (!p->quiet)
		log_info("closing %s (%s)", l->bound, l->cfg->name);
	/* A reload dropped it: the fd store must not hold the port either.
	 * Stopping, the store keeps it for the next clusterd (a restart);
	 * the manager closes it itself when the service stays stopped. */
	if (l->stored && !p->quiet) {
		/* Until the manager reads the removal its copy listens on:
		 * shutdown stops the socket itself (see inherit_drop_stored). */
		shutdown(l->fd, SHUT_RDWR);
		fdstore_remove(l->cfg->name);
		/* That took every socket of the name: one that replaced it
		 * (a new address) goes back in. */
		for (size_t i = 0; i < p->n; i++)
			if (p->v[i]->stored && str_equal(p->v[i]->cfg->name, l->cfg->name))
				p->v[i]->stored = fdstore_put(p->v[i]->cfg->name, p->v[i]->fd);
	}
	steer_free(l);
	listener_close(l);
	free(l);
}

void
sockpool_quiet(struct sockpool *p)
{
	p->quiet = 1;
}

void
sockpool_free(struct sockpool *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int
sockpool_reuseport(const struct sockpool *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->cfg->reuseport > 0 && p->v[i]->ngroup > 0)
			return 1;
	return 0;
}

int
sockpool_queued(const struct sockpool *p, unsigned id)
{
	int n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->cfg->reuseport > 0)
			n += steer_queue_len(p->v[i], id);
	return n;
}

void
sockpool_steer(struct sockpool *p, const unsigned *live, size_t nlive)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->cfg->reuseport > 0 && p->v[i]->ngroup > 0)
			steer_update(p->v[i], live, nlive);
}

void
sockpool_slot_close(struct sockpool *p, unsigned id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->cfg->reuseport > 0)
			steer_slot_close(p->v[i], id);
}
