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

EXTRA_DIST += t/lib/Clusterd.pm t/lib/Nspawn.pm t/bin/notify-worker $(TESTS)

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

# Issue 11: the clock and the config file (monotonic durations, regular files only).
TESTS += \
	t/config-file.t \
	t/clock.t

# t/clock.t steps clusterd's wall clock through this preloaded library
# (never sanitized: like the bind shim, it goes into other programs).
check_PROGRAMS = t/lib/clockshift.so
t_lib_clockshift_so_SOURCES = t/lib/clockshift.c
t_lib_clockshift_so_CFLAGS = -std=c11 $(WARN_CFLAGS) -fPIC
t_lib_clockshift_so_LDFLAGS = -shared
t_lib_clockshift_so_LDADD = -ldl

# Issue 11: runtime files and descriptor exhaustion.
TESTS += \
	t/ctl-emfile.t \
	t/runfiles.t \
	t/sockpath-race.t

# Issue 11: a fresh machine, the checkout anywhere: the units under a real
# systemd (booted with systemd-nspawn).
TESTS += \
	t/systemd.t

# Issue 11: supervision never waits on a log write.
TESTS += \
	t/log-sink.t

# Issue 11: nothing of a dead worker survives it (leftover processes).
TESTS += \
	t/leftover.t \
	t/peer-nginx.t

EXTRA_DIST += t/bin/leftover-worker

# Issue 11: the spawn path (descriptor faults, the workers' PATH, a loop
# that answers while workers start).
TESTS += \
	t/spawn-faults.t \
	t/spawn-path.t \
	t/spawn-latency.t

# Issue 11: reuseport steering for any number of slots.
TESTS += \
	t/steer-prog.t \
	t/steer-scale.t
check_PROGRAMS += t/steer-prog
t_steer_prog_SOURCES = t/steer-prog.c src/steerprog.c src/steerprog.h \
	src/strv.c src/strv.h src/log.c src/log.h
t_steer_prog_CPPFLAGS = -I$(top_srcdir)/src
t_steer_prog_LDADD = -lm

# Issue 12: the socket pool generations share (closing, quiet stop).
TESTS += \
	t/sockpool.t

# Issue 12: every slot transition, and rolling restarts that fail or run
# under load, with status checked at the end of each.
TESTS += \
	t/rollout-fail.t \
	t/rollout-load.t \
	t/slot-states.t

EXTRA_DIST += t/bin/slot-worker

# Issue 12: one table per config key.
TESTS += \
	t/config-table.t

# Issue 12: slot_state in status --json, transitions in the -v log.
TESTS += \
	t/slot-json.t

# Issue 13: per-worker cgroups: containment, accounting, memory limits.
TESTS += \
	t/cgroup.t \
	t/cgroup-memory.t \
	t/cgroup-limits.t \
	t/cgroup-recycle.t \
	t/cgroup-pidns.t

EXTRA_DIST += t/bin/family-worker t/bin/leak-worker t/bin/fork-worker

# Issue 13: tests that need a pure cgroup v2 hierarchy, run inside a small
# qemu VM (skipped without qemu, a kernel in /boot or a static libc).
TESTS += \
	t/cgroup-vm.t

EXTRA_DIST += t/lib/VM.pm t/vm/init.c

# Issue 14: upgrading clusterd in place.
TESTS += \
	t/upgrade.t

# Issue 16: the metrics, through clusterctl metrics (the counters across
# an upgrade too).
TESTS += \
	t/metrics.t \
	t/grafana.t

# Issue 15: accept-queue figures against ss, hang and stall detection.
TESTS += \
	t/queue.t \
	t/hang.t

# Issue 15: the adaptive worker count (workers = MIN..MAX) and staggered
# recycling by age (max_age).
TESTS += \
	t/autoscale.t \
	t/max-age.t

# Issue 16: the metrics endpoint (HTTP, hostile scrapers, reload, upgrade).
TESTS += \
	t/metrics-http.t

# Issue 16: journald fields (the native protocol) and JSON logs.
TESTS += \
	t/journal.t \
	t/json-log.t
EXTRA_DIST += t/bin/journal-recv
