#!/bin/sh
# run.sh: `make bench`. Installs what the benchmarks need and is missing
# (wrk, gnuplot, node and npm from Debian; PM2 from npm into bench/.peers,
# never committed), builds the helpers, runs bench/bench.py.
#
#	top_srcdir=. top_builddir=. sh bench/run.sh [--quick] [--only NAME,...]
#
# bench/autoscale (issue 15) runs this with --only=autoscale.
set -eu

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
bench=$top_srcdir/bench
peers=$bench/.peers

say() { echo "bench: $*"; }

# --only relay, cgroups, upgrade and autoscale need none of the peers: no
# wrk, node or PM2 to install (cgroups and upgrade need strace, for the
# explanation of a miss; upgrade also uses perf when it is there).
peers_needed=yes
upgrade_needed=yes
prev=
for a in "$@"; do
	# "--only NAME" or "--only=NAME", whatever came before
	[ "$prev" = --only ] && a="--only=$a"
	case $a in
	--only?*)
		parts=${a#--only}
		parts=${parts#=}
		peers_needed=
		upgrade_needed=
		for p in $(echo "$parts" | tr , ' '); do
			case $p in
			upgrade) upgrade_needed=yes ;;
			relay|cgroups|autoscale) ;;
			*) peers_needed=yes ;;
			esac
		done
		;;
	esac
	prev=$a
done

# Debian packages: command -> package
missing=
pairs="wrk:wrk gnuplot:gnuplot-nox node:nodejs npm:npm python3:python3 strace:strace"
[ -n "$peers_needed" ] || pairs="python3:python3 strace:strace"
for pair in $pairs; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
	say "installing from Debian:$missing"
	if [ "$(id -u)" != 0 ]; then
		say "not root: install$missing yourself, then run again" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ -n "$peers_needed" ] && [ ! -x "$peers/node_modules/.bin/pm2" ]; then
	say "installing PM2 from npm into $peers (not committed)"
	mkdir -p "$peers"
	npm install --silent --no-audit --no-fund --prefix "$peers" pm2 >/dev/null
fi

# The helpers, optimised as any server would be.
mkdir -p "$top_builddir/bench"
for t in minimal respawn loadgen spawnwatch relay leaker; do
	if [ ! -x "$top_builddir/bench/$t" ] ||
	    [ "$bench/$t.c" -nt "$top_builddir/bench/$t" ] ||
	    [ "$bench/procev.h" -nt "$top_builddir/bench/$t" ]; then
		${CC:-cc} -O2 -Wall -Wextra -o "$top_builddir/bench/$t" "$bench/$t.c"
	fi
done

for f in src/clusterd src/clusterctl examples/hello; do
	if [ ! -x "$top_builddir/$f" ]; then
		say "$top_builddir/$f is missing: run make first" >&2
		exit 1
	fi
done
# upgrade alternates between src/clusterd and a second build of it.
if [ -n "$upgrade_needed" ] && [ ! -x "$top_builddir/t/alt/clusterd" ]; then
	say "$top_builddir/t/alt/clusterd is missing: run make t/alt/clusterd first" >&2
	exit 1
fi

if [ -n "${BENCH_VIA_MAKE:-}" ]; then
	BENCH_COMMAND="make bench${*:+ BENCH_ARGS='$*'}"
else
	BENCH_COMMAND="sh bench/run.sh${*:+ $*}"
fi
export BENCH_COMMAND
exec python3 "$bench/bench.py" "$@"
