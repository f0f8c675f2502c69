/*
 * Rolling restarts (SIGUSR2, clusterctl restart, a reload that changes the
 * program) and their rollback: which slots move when, asked of slot.c a
 * batch at a time; the outcomes come back from the slots.
 */
#ifndef CLUSTERD_ROLLOUT_H
#define CLUSTERD_ROLLOUT_H

struct gen;
struct supervisor;

/* code 0 done, 1 failed (rolled back, or clusterd stops); msg says how. */
typedef void	rollout_done_cb(int code, const char *msg, void *arg);

struct rollout {
	struct supervisor *sup;
	int		 active;
	int		 rollback;	/* this one undoes a failed rollout */
	struct gen	*to;
	struct gen	*from;
	size_t		 next;		/* next slot index to move */
	int		 inflight;	/* replaces asked for, outcome not yet heard */
	char		*failure;	/* why the forward rollout failed */
	unsigned	 failed_number;
	rollout_done_cb	*done;
	void		*done_arg;
};

void	rollout_init(struct rollout *, struct supervisor *);
/* Move every slot to generation to; done is called once at the end. */
void	rollout_start(struct rollout *, struct gen *to, rollout_done_cb *, void *arg);
/* An upgrade: the callback the slots' replaces report to, the rollout as
 * a record, and taken over from it (r NULL: none ran) with its
 * generations (sup_adopted_gen()) and whoever waits; its generations, for
 * the state to carry (v: room for 3, NULL-terminated). */
struct state_out;
struct state_rec;
#include "slot.h"
replace_cb *rollout_replace_cb(void);
void	rollout_save(const struct rollout *, struct state_out *);
int	rollout_adopt(struct rollout *, const struct state_rec *, rollout_done_cb *,
	    void *arg);
void	rollout_gens(const struct rollout *, struct gen **v);

#endif
