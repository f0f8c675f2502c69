/* The signals clusterd answers (§4): each is a request to the cluster. */
#ifndef CLUSTERD_SIGNALS_H
#define CLUSTERD_SIGNALS_H

#include <ev.h>

struct ops;
struct supervisor;
struct upgrade;

struct signals {
	struct supervisor *sup;
	struct ops	*ops;
	struct upgrade	*up;		/* NULL until the cluster runs */
	ev_signal	 sigs[9];
};

/* Catch them now (before sockets are bound: a TERM then must stop
 * clusterd in order, not kill it); they are answered once the loop runs. */
void	signals_start(struct signals *, struct ev_loop *, struct supervisor *,
	    struct ops *);
void	signals_stop(struct signals *, struct ev_loop *);

#endif
