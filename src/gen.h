/*
 * A generation: one config and the sockets it names, as the workers that
 * run it see them. Workers hold a reference, so a rolling restart can run
 * the new generation beside the old and roll back to it.
 */
#ifndef CLUSTERD_GEN_H
#define CLUSTERD_GEN_H

#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "listen.h"
#include "strv.h"

struct sockpool;

struct gen {
	unsigned	 number;	/* CLUSTERD_GENERATION */
	struct config	*cfg;		/* owned */
	struct listener	**lst;		/* fd 3 + i; shared with other generations */
	size_t		 nlst;
	int		 drop;		/* workers change to uid/gid/groups */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;
	int		 ngroups;
	int		 refs;
};

/* Take a reference to cfg (malloc'd; freed with its last generation) and
 * take its sockets from the pool, which binds those no older generation
 * has. NULL on error, with messages pushed to errors. */
struct gen	*gen_new(struct sockpool *, struct config *cfg, unsigned number,
		    struct strv *errors);
void		 gen_ref(struct gen *);
void		 gen_unref(struct sockpool *, struct gen *);
/* Would workers of a and b be started differently? */
int		 gen_program_differs(const struct gen *a, const struct gen *b);

#endif
