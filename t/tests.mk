# TAP tests against the real binary; included from the top Makefile.am.
# Each runs by hand too: prove -v t/hello.t (from the build directory).
TESTS = \
	t/options.t \
	t/config.t \
	t/check.t \
	t/hello.t \
	t/env.t \
	t/port0.t \
	t/default-port.t \
	t/ncpus.t \
	t/bind.t \
	t/unix.t \
	t/ipv6.t \
	t/udp.t \
	t/exec.t \
	t/restart.t \
	t/backoff.t \
	t/giveup.t \
	t/batch.t \
	t/stop.t \
	t/pdeathsig.t \
	t/subreaper.t \
	t/peer-python.t \
	t/peer-node.t \
	t/notify.t \
	t/watchdog.t \
	t/rolling.t \
	t/rolling-modes.t \
	t/rollback.t \
	t/reload.t \
	t/scale.t \
	t/control.t \
	t/clusterctl.t

EXTRA_DIST += t/lib/Clusterd.pm t/bin/notify-worker $(TESTS)

# Issue 5: systemd, containers, privileges, worker output, real servers.
TESTS += \
	t/socket-activate.t \
	t/sd-notify.t \
	t/pid1.t \
	t/dockerfile.t \
	t/privileges.t \
	t/log-prefix.t \
	t/log-format.t \
	t/compat.t \
	t/bind-shim.t \
	t/peer-gunicorn.t \
	t/peer-uvicorn.t \
	t/units.t

EXTRA_DIST += t/bin/sd-notify-recv t/bin/peer_gunicorn_app.py \
	t/bin/peer_uvicorn_app.py examples/Dockerfile

# Issue 6: reuseport mode, balance and lossless distribution.
TESTS += \
	t/reuseport.t \
	t/balance.t

# Issue 8: chaos, crash loops, hostile input, a short fuzzing run.
TESTS += \
	t/chaos.t \
	t/crashloop.t \
	t/hostile.t \
	t/fuzz-smoke.t

# Issue 11: reuseport steering for any number of slots.
TESTS += \
	t/steer-prog.t \
	t/steer-scale.t
check_PROGRAMS = t/steer-prog
t_steer_prog_SOURCES = t/steer-prog.c src/steerprog.c src/steerprog.h \
	src/strv.c src/strv.h src/log.c src/log.h
t_steer_prog_CPPFLAGS = -I$(top_srcdir)/src
t_steer_prog_LDADD = -lm
