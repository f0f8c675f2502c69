/* Generations: a config, its sockets and its credentials, shared by the
 * workers started from it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen.h"
#include "log.h"
#include "supervisor.h"

static int
resolve_user(struct gen *g, const struct program_cfg *pc, struct strv *errors)
{
	struct passwd *pw = NULL;
	struct group *gr;
	int n = 64;

	if (pc->user == NULL && pc->group == NULL)
		return 0;
	g->drop = 1;
	g->uid = getuid();
	g->gid = getgid();
	if (pc->user) {
		if ((pw = getpwnam(pc->user)) == NULL) {
			strv_pushf(errors, "unknown user \"%s\"", pc->user);
			return -1;
		}
		g->uid = pw->pw_uid;
		g->gid = pw->pw_gid;
	}
	if (pc->group) {
		if ((gr = getgrnam(pc->group)) == NULL) {
			strv_pushf(errors, "unknown group \"%s\"", pc->group);
			return -1;
		}
		g->gid = gr->gr_gid;
	}
	/* The user's supplementary groups, as a login would give them. */
	g->groups = xreallocarray(NULL, n, sizeof(gid_t));
	if (pw) {
		if (getgrouplist(pw->pw_name, g->gid, g->groups, &n) == -1) {
			g->groups = xreallocarray(g->groups, n, sizeof(gid_t));
			getgrouplist(pw->pw_name, g->gid, g->groups, &n);
		}
	} else {
		g->groups[0] = g->gid;
		n = 1;
	}
	g->ngroups = n;
	return 0;
}

/* The bound socket for sc: the one an older generation has, or a new one. */
static struct listener *
listener_get(struct supervisor *sup, const struct sock_cfg *sc, struct strv *errors)
{
	struct listener *l;

	for (size_t i = 0; i < sup->npool; i++) {
		l = sup->pool[i];
		if (sock_cfg_equal(l->cfg, sc))
			return l;
		/* The same socket with other options: changed in place, never
		 * bound twice (a second bind would fail, or with SO_REUSEPORT join
		 * the same group and steal its connections). */
		if (sock_cfg_same_socket(l->cfg, sc)) {
			if (listener_update(l, sc) == -1) {
				strv_push(errors, xstrdup(listener_error()));
				return NULL;
			}
			return l;
		}
	}
	l = xcalloc(1, sizeof(*l));
	if (listener_open(l, sc) == -1) {
		strv_push(errors, xstrdup(listener_error()));
		free(l);
		return NULL;
	}
	sup->pool = xreallocarray(sup->pool, sup->npool + 1, sizeof(*sup->pool));
	sup->pool[sup->npool++] = l;
	return l;
}

static void
listener_unref(struct supervisor *sup, struct listener *l)
{
	if (--l->refs > 0)
		return;
	for (size_t i = 0; i < sup->npool; i++)
		if (sup->pool[i] == l) {
			sup->pool[i] = sup->pool[--sup->npool];
			break;
		}
	if (!sup->stopping)
		log_info("closing %s (%s)", l->bound, l->cfg->name);
	listener_close(l);
	free(l);
}

static void
gen_free(struct supervisor *sup, struct gen *g)
{
	for (size_t i = 0; i < g->nlst; i++)
		if (g->lst[i])
			listener_unref(sup, g->lst[i]);
	free(g->lst);
	free(g->groups);
	if (--g->cfg->refs == 0) {
		config_free(g->cfg);
		free(g->cfg);
	}
	free(g);
}

struct gen *
gen_new(struct supervisor *sup, struct config *cfg, unsigned number,
    struct strv *errors)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	const struct program_cfg *pc = &cfg->prog;
	struct stat st;

	g->number = number;
	g->cfg = cfg;
	cfg->refs++;
	g->refs = 1;
	if (pc->directory && stat(pc->directory, &st) == -1)
		strv_pushf(errors, "directory %s: %s", pc->directory, strerror(errno));
	else if (pc->directory && !S_ISDIR(st.st_mode))
		strv_pushf(errors, "directory %s: %s", pc->directory, strerror(ENOTDIR));
	if (errors->n == 0)
		resolve_user(g, pc, errors);
	g->lst = xcalloc(cfg->nsocks, sizeof(*g->lst));
	g->nlst = cfg->nsocks;
	for (size_t i = 0; i < cfg->nsocks && errors->n == 0; i++) {
		if ((g->lst[i] = listener_get(sup, &cfg->socks[i], errors)) != NULL)
			g->lst[i]->refs++;
	}
	if (errors->n) {
		gen_free(sup, g);
		return NULL;
	}
	return g;
}

void
gen_ref(struct gen *g)
{
	g->refs++;
}

void
gen_unref(struct supervisor *sup, struct gen *g)
{
	if (--g->refs == 0)
		gen_free(sup, g);
}

static void
note_workers(const char *key, enum key_effect e, void *arg)
{
	(void)key;
	if (e == EFFECT_WORKERS)
		*(int *)arg = 1;
}

/* A new generation is needed when the workers' sockets are other ones, or
 * a key whose change restarts them changed (config_diff; a socket's own
 * such keys are the ones that make it another socket). */
int
gen_program_differs(const struct gen *a, const struct gen *b)
{
	int workers = 0;

	if (a->nlst != b->nlst)
		return 1;
	for (size_t i = 0; i < a->nlst; i++)
		if (a->lst[i] != b->lst[i] ||
		    strcmp(a->cfg->socks[i].name, b->cfg->socks[i].name) != 0)
			return 1;
	config_diff(b->cfg, a->cfg, note_workers, &workers);
	return workers;
}
