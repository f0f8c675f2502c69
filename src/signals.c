/*
 * Signals: TERM and INT stop (again: kill), QUIT kills, HUP reloads (or
 * restarts, without a config file), USR2 restarts, TTIN and TTOU scale,
 * USR1 upgrades clusterd to its own binary's path.
 * The loop reads them from a signalfd, so they wait in the queue.
 */
#include <signal.h>

#include "log.h"
#include "ops.h"
#include "signals.h"
#include "supervisor.h"
#include "upgrade.h"
#include "util.h"

static void
signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct signals *s = sig->data;
	struct supervisor *sup = s->sup;
	char msg[128];

	(void)loop;
	(void)revents;
	switch (sig->signum) {
	case SIGTERM:
	case SIGINT:
		if (sup->stopping) {
			log_info("SIG%s again: killing the workers now",
			    signal_name(sig->signum));
			sup_kill_all(sup);
		} else
			sup_stop(sup, 0);
		break;
	case SIGQUIT:
		log_info("SIGQUIT: killing the workers now");
		sup_kill_all(sup);
		break;
	case SIGHUP:
		ops_request(s->ops, sup->cli->config ? OP_RELOAD : OP_RESTART, NULL, NULL,
		    NULL);
		break;
	case SIGUSR2:
		ops_request(s->ops, OP_RESTART, NULL, NULL, NULL);
		break;
	case SIGTTIN:
		if (sup_scale(sup, sup->slots.n + 1, msg, sizeof(msg)) == -1)
			log_warnx("SIGTTIN: %s", msg);
		break;
	case SIGTTOU:
		if (sup->slots.n > 0 && sup_scale(sup, sup->slots.n - 1, msg, sizeof(msg)) == -1)
			log_warnx("SIGTTOU: %s", msg);
		break;
	case SIGUSR1:
		/* Its outcome is logged: there is nobody to answer. */
		if (s->up)
			upgrade_request(s->up, NULL, NULL, NULL);
		break;
	default:
		log_warnx("SIG%s: ignored (clusterctl signal %s reaches the workers)",
		    signal_name(sig->signum), signal_name(sig->signum));
		break;
	}
}

void
signals_start(struct signals *s, struct ev_loop *loop, struct supervisor *sup,
    struct ops *ops)
{
	/* WINCH is caught only so a stray one cannot end clusterd. */
	static const int signums[] = {
		SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU,
		SIGUSR1, SIGWINCH,
	};

	s->sup = sup;
	s->ops = ops;
	s->up = NULL;
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		ev_signal_init(&s->sigs[i], signal_cb, signums[i]);
		s->sigs[i].data = s;
		ev_signal_start(loop, &s->sigs[i]);
	}
}

void
signals_stop(struct signals *s, struct ev_loop *loop)
{
	for (size_t i = 0; i < sizeof(s->sigs) / sizeof(s->sigs[0]); i++)
		ev_signal_stop(loop, &s->sigs[i]);
}
