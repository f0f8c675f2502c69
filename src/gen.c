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
#include "confkeys.h"
#include "sockpool.h"

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

static void
gen_free(struct sockpool *pool, struct gen *g)
{
	for (size_t i = 0; i < g->nlst; i++)
		if (g->lst[i])
			sockpool_put(pool, g->lst[i]);
	free(g->lst);
	free(g->groups);
	if (--g->cfg->refs == 0) {
		config_free(g->cfg);
		free(g->cfg);
	}
	free(g);
}

struct gen *
gen_new(struct sockpool *pool, struct config *cfg, unsigned number,
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
	for (size_t i = 0; i < cfg->nsocks && errors->n == 0; i++)
		g->lst[i] = sockpool_get(pool, &cfg->socks[i], errors);
	if (errors->n) {
		gen_free(pool, g);
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
gen_unref(struct sockpool *pool, struct gen *g)
{
	if (--g->refs == 0)
		gen_free(pool, g);
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
