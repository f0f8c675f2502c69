/*
 * The supervisor across an upgrade: what it saves of itself, and the
 * same cluster set up again from that in the new image.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpus.h"
#include "inherit.h"
#include "leftover.h"
#include "log.h"
#include "rundir.h"
#include "sdnotify.h"
#include "state.h"
#include "supervisor.h"
#include "suppriv.h"
#include "util.h"

/*
 * An upgrade (upgrade.c). What sup_init() sets up from the config is set
 * up here from the state instead: the same generations (their configs
 * read from the text the file held), the same sockets (carried, handed to
 * the config as inherited ones), the same cgroups, notify directory,
 * slots and workers. Nothing is killed, bound, removed or started; on
 * failure nothing is closed either: the caller falls back at once, and
 * the old binary takes the same descriptors over.
 */
static void
save_gen(struct state_out *so, const struct gen *g, unsigned **seen, size_t *nseen)
{
	for (size_t i = 0; i < *nseen; i++)
		if ((*seen)[i] == g->number)
			return;
	*seen = xgrow(*seen, *nseen + 1, sizeof(**seen));
	(*seen)[(*nseen)++] = g->number;
	state_rec(so, "gen");
	state_int(so, "number", g->number);
	state_str(so, "file", g->cfg->file);
	if (g->cfg->text)
		state_bytes(so, "text", g->cfg->text, g->cfg->textlen);
}

const char *
sup_can_save(const struct supervisor *sup)
{
	const struct worker *w;

	if (sup->stopping)
		return "clusterd is stopping";
	if (leftover_pending())
		return "processes a worker left are being stopped";
	TAILQ_FOREACH(w, &sup->wctx.all, entry) {
		if (w->gen->cfg->file && w->gen->cfg->text == NULL)
			return "the config file was too large to keep (over 1 MiB)";
		if (w->slot->removed)
			return "a worker is being scaled away";
		/* Exited, the rest of its cgroup going: a moment at most. */
		if (w->reaped)
			return "the processes a worker left are being stopped";
	}
	if (sup->cur->cfg->file && sup->cur->cfg->text == NULL)
		return "the config file was too large to keep (over 1 MiB)";
	return slots_can_save(&sup->slots);
}

void
sup_save(const struct supervisor *sup, struct state_out *so,
    const struct replace_owner *owners, struct gen *const *extra)
{
	const struct worker *w;
	unsigned *seen = NULL;
	size_t nseen = 0;

	state_rec(so, "sup");
	state_dbl(so, "started", sup->started);
	state_int(so, "last_number", sup->last_number);
	state_int(so, "cur", sup->cur->number);
	state_int(so, "announced", sup->announced);
	state_int(so, "rolling", sup->rolling);
	state_int(so, "recycle_wanted", sup->recycle.wanted);
	state_int(so, "nofile_cur", (long long)sup->wctx.nofile.rlim_cur);
	state_int(so, "nofile_max", (long long)sup->wctx.nofile.rlim_max);
	state_str(so, "pidfile", sup->pidfile);
	/* Each generation something still runs or holds, once. */
	save_gen(so, sup->cur, &seen, &nseen);
	for (size_t i = 0; i < sup->slots.n; i++)
		save_gen(so, sup->slots.v[i]->gen, &seen, &nseen);
	TAILQ_FOREACH(w, &sup->wctx.all, entry)
		save_gen(so, w->gen, &seen, &nseen);
	for (size_t i = 0; extra && extra[i]; i++)
		save_gen(so, extra[i], &seen, &nseen);
	free(seen);
	for (size_t i = 0; i < sup->pool.n; i++) {
		const struct listener *l = sup->pool.v[i];

		state_rec(so, "listener");
		state_str(so, "name", l->cfg->name);
		state_fd(so, "fd", l->fd);
		state_int(so, "dev", (long long)l->dev);
		state_int(so, "ino", (long long)l->ino);
		state_fd(so, "lock", l->lock);
		/* Reuseport: each slot's socket, and the kernel's group order. */
		for (size_t k = 1; k < l->nslot_fd; k++) {
			char key[32];

			snprintf(key, sizeof(key), "slot%zu", k);
			state_fd(so, key, l->slot_fd[k]);
		}
		if (l->ngroup > 0) {
			struct sbuf grp = { 0 };

			for (size_t k = 0; k < l->ngroup; k++)
				sbuf_printf(&grp, "%s%u", k ? "," : "", l->group[k]);
			state_str(so, "group", grp.s);
			sbuf_free(&grp);
		}
	}
	cgroups_save(&sup->cg, so);
	notifydir_save(sup->notify, so);
	if (owners)
		slots_save(&sup->slots, so, owners);
}

/* Reuseport: the slots' sockets and the group's order, as they were. */
static int
adopt_group(struct listener *l, const struct state_rec *r)
{
	const char *grp = rec_str(r, "group");
	size_t n = 1;
	char *copy, *tok, *save = NULL;

	if (grp == NULL)
		return 0;
	for (size_t i = 0; i < r->nf; i++)
		if (strncmp(r->f[i].key, "slot", 4) == 0) {
			long long k = strtoll(r->f[i].key + 4, NULL, 10);

			if (k > 0 && k < 1000000 && (size_t)k + 1 > n)
				n = (size_t)k + 1;
		}
	l->slot_fd = xreallocarray(NULL, n, sizeof(*l->slot_fd));
	l->nslot_fd = n;
	l->slot_fd[0] = l->fd;
	for (size_t k = 1; k < n; k++) {
		char key[32];

		snprintf(key, sizeof(key), "slot%zu", k);
		if ((l->slot_fd[k] = rec_fd(r, key)) == -1 && rec_field(r, key))
			return -1;
	}
	copy = xstrdup(grp);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long slot = strtoul(tok, NULL, 10);

		if (slot >= n || l->slot_fd[slot] == -1) {
			free(copy);
			return -1;
		}
		l->group = xreallocarray(l->group, l->ngroup + 1, sizeof(*l->group));
		l->group[l->ngroup++] = (unsigned)slot;
	}
	free(copy);
	return 0;
}

/* slots_adopt()'s view of sup_adopted_gen(). */
static struct gen *
gen_of(void *arg, unsigned number)
{
	return sup_adopted_gen(arg, number);
}

int
sup_adopt(struct supervisor *sup, struct ev_loop *loop, const struct cli *cli,
    const struct state_in *in, const struct replace_owner *owners)
{
	const struct state_rec *sr = state_first(in, "sup"), *r;
	struct strv errors = { 0 };
	struct gen *cur = NULL;
	size_t i = 0;
	int ok = -1;

	sup_setup(sup, loop, cli);
	if (sr == NULL) {
		log_errx("upgrade: the state has no sup record");
		return -1;
	}
	sup->started = rec_dbl(sr, "started", mono_now());
	sup->last_number = (unsigned)rec_int(sr, "last_number", 1);
	sup->announced = rec_int(sr, "announced", 0) != 0;
	sup->told_ready = -1;
	sup->wctx.nofile.rlim_cur = (rlim_t)rec_int(sr, "nofile_cur", 1024);
	sup->wctx.nofile.rlim_max = (rlim_t)rec_int(sr, "nofile_max", 4096);

	/* The carried sockets, as a service manager would pass them. */
	while ((r = state_next(in, "listener", &i)) != NULL) {
		int fd = rec_fd(r, "fd");

		if (fd == -1 || inherit_add(fd, rec_str(r, "name")) == -1) {
			log_errx("upgrade: listening socket %s was not carried over",
			    rec_str(r, "name") ? rec_str(r, "name") : "?");
			goto out;
		}
	}
	if (cgroups_adopt(&sup->cg, loop, state_first(in, "cgroups")) == -1)
		goto out;
	if (sup->cg.on)
		sup->wctx.cg = &sup->cg;
	for (i = 0; i < in->n; i++) {
		const struct state_field *text;
		struct config *cfg;
		struct gen *g;

		r = &in->r[i];
		if (strcmp(r->kind, "gen") != 0)
			continue;
		text = rec_field(r, "text");
		cfg = xcalloc(1, sizeof(*cfg));
		if (config_load_text(cfg, cli, text ? text->val : NULL, text ? text->len : 0,
		    &errors) == -1 ||
		    (g = gen_new(&sup->pool, cfg, (unsigned)rec_int(r, "number", 0),
		    &errors)) == NULL) {
			for (size_t k = 0; k < errors.n; k++)
				log_errx("upgrade: generation %lld: %s",
				    rec_int(r, "number", 0), errors.v[k]);
			strv_free(&errors);
			goto out;
		}
		/* Held until sup_adopt_release(): a rollout's generations too. */
		sup->adopted = xgrow(sup->adopted, sup->nadopted + 1, sizeof(*sup->adopted));
		sup->adopted[sup->nadopted++] = g;
	}
	if ((cur = sup_adopted_gen(sup, (unsigned)rec_int(sr, "cur", 0))) == NULL) {
		log_errx("upgrade: the current generation was not carried over");
		goto out;
	}
	/* Sockets clusterd bound are its own to remove at exit, as before. */
	i = 0;
	while ((r = state_next(in, "listener", &i)) != NULL) {
		int fd = rec_fd(r, "fd");

		for (size_t k = 0; k < sup->pool.n; k++) {
			struct listener *l = sup->pool.v[k];

			if (l->fd != fd)
				continue;
			l->dev = (dev_t)rec_int(r, "dev", 0);
			l->ino = (ino_t)rec_int(r, "ino", 0);
			l->lock = rec_fd(r, "lock");
			if (adopt_group(l, r) == -1) {
				log_errx("upgrade: %s: its reuseport sockets were not "
				    "carried over", l->bound);
				goto out;
			}
		}
	}
	sup_set_gen(sup, cur, 0);
	if (cur->cfg->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
	if (notifydir_adopt(loop, state_first(in, "notifydir"), &sup->notify) == -1)
		goto out;
	sup->wctx.notify = sup->notify;
	sup->rolling = rec_int(sr, "rolling", 0) != 0;
	sup->recycle.wanted = rec_int(sr, "recycle_wanted", 0) != 0;
	if (slots_adopt(&sup->slots, in, gen_of, sup, owners) == -1) {
		log_errx("upgrade: the slots and workers were not carried over");
		goto out;
	}
	sup->pidfile = rec_dup(sr, "pidfile");
	ok = 0;
out:
	return ok;
}

struct gen *
sup_adopted_gen(struct supervisor *sup, unsigned number)
{
	for (size_t i = 0; i < sup->nadopted; i++)
		if (sup->adopted[i]->number == number)
			return sup->adopted[i];
	return NULL;
}

void
sup_adopt_release(struct supervisor *sup)
{
	/* The slots, workers, sup->cur and a rollout hold what they use. */
	for (size_t k = 0; k < sup->nadopted; k++)
		gen_unref(&sup->pool, sup->adopted[k]);
	free(sup->adopted);
	sup->adopted = NULL;
	sup->nadopted = 0;
}

int
sup_run_adopted(struct supervisor *sup)
{
	/* Workers that died while clusterd was being replaced. */
	ev_feed_signal_event(sup->loop, SIGCHLD);
	slots_steer(&sup->slots);
	sup->told_ready = -1;
	sup_check_ready(sup);
	/* A worker that was waiting for its turn to be recycled. */
	recycle_kick(&sup->recycle, sup->cur->cfg->recycle_batch, sup->rolling);
	/* Watches start again: the queues, the age limits (drawn anew). */
	load_update(&sup->load);
	aging_update(&sup->aging, sup->rolling);
	return sup_run_loop(sup);
}
