/*
 * Reuseport mode (§7): one SO_REUSEPORT socket per slot, all held by
 * clusterd, and a classic BPF program that steers new connections to the
 * slots that have a ready worker.
 */
#ifndef CLUSTERD_STEER_H
#define CLUSTERD_STEER_H

#include <stddef.h>

struct listener;

/* Slot k's socket, opened (and joined to the group) on first use; -1 on
 * error (logged). */
int	steer_slot_fd(struct listener *, unsigned slot);
/* Close slot k's socket: it leaves the group. */
void	steer_slot_close(struct listener *, unsigned slot);
/* Connections waiting in slot k's accept queue (TCP), or 0. */
int	steer_queue_len(const struct listener *, unsigned slot);
/* Steer new connections to the live slots only; none live: any. */
void	steer_update(struct listener *, const unsigned *live, size_t nlive);
void	steer_free(struct listener *);

#endif
