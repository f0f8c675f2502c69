# bench.mk: `make bench` (issue 7), included from Makefile.am.  Never part
# of `make check`: it installs its peers (wrk, gnuplot, PM2), takes about
# 20 minutes (8 of them the autoscale part) and writes bench/RESULTS.md and
# bench/*.png in the source tree.
# `make bench BENCH_ARGS=--quick` is a smoke run of a minute or two;
# BENCH_ARGS=--only=throughput,respawn picks benchmarks.  t/alt/clusterd (a
# second build, another version string) is what the upgrade part alternates
# with src/clusterd.  bench/autoscale (the autoscaler's settle time and
# oscillation, issue 15) is a part of it kept in its own file: `make bench
# BENCH_ARGS=--only=autoscale`, or run bench/autoscale from the build tree.

EXTRA_DIST += \
	bench/bench.mk bench/run.sh bench/bench.py bench/package.json \
	bench/minimal.c bench/respawn.c bench/loadgen.c bench/spawnwatch.c bench/relay.c bench/leaker.c bench/procev.h \
	bench/seed-cluster.js bench/seed-worker.js bench/autoscale \
	bench/RESULTS.md bench/throughput.png bench/respawn.png bench/scale.png \
	bench/rolling.png

BENCH_ARGS =

.PHONY: bench
bench: all t/alt/clusterd
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	BENCH_VIA_MAKE=1 \
	$(SHELL) $(abs_top_srcdir)/bench/run.sh $(BENCH_ARGS)
