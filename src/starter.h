/* Worker starts, run from the loop a slice of its time at a time. */
#ifndef CLUSTERD_STARTER_H
#define CLUSTERD_STARTER_H

struct supervisor;
struct slot;
struct start;

void	starter_init(struct supervisor *);
/* Queue a start of the slot's serving worker, or (slot_start_next) of its
 * successor in a rolling restart; a start already queued stays as it is. */
void	slot_start(struct slot *);
void	slot_start_next(struct slot *);
void	slot_unqueue(struct start *);
void	sup_unqueue_all(struct supervisor *);

#endif
