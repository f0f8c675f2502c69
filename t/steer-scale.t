# Reuseport steering with thousands of slots (issue 11, contract §7).  The
# steering program is classic BPF, at most 4096 instructions; a list of the
# live slots overflowed it past ~2000 of them, the kernel refused the new
# program and the old one stayed: slots that became ready later never got
# a connection, and slots whose worker went away kept getting them.  Here,
# with $N slots (CLUSTERD_STEER_SLOTS, default 3000):
# - all ready: every program is taken, nearly every slot answers and the
#   load spreads as evenly as the clients' ports allow;
# - 40 slots not ready (their worker alive but never READY=1, ready =
#   notify), spread over the whole range: no connection goes to them, all
#   are answered by the others;
# - every second slot not ready (1500 runs, more than one program holds):
#   clusterd says once that it leaves some ready slots out, and still no
#   connection goes to a slot that is not ready;
# - all back: every slot is steered to again, and says so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use Clusterd;

my $N = $ENV{CLUSTERD_STEER_SLOTS} || 3000;

# clusterd holds a socket and a few descriptors per slot; its workers
# inherit its soft limit (see clusterd(8)), so raise both to the hard one.
my $hard = `sh -c 'ulimit -Hn'` // '';
chomp($hard);
plan(skip_all => "the hard RLIMIT_NOFILE ($hard) is too low for $N slots")
    if $hard ne 'unlimited' && $hard < 5 * $N;
$hard = 1048576 if $hard eq 'unlimited';

# A worker of examples/hello takes 1.5 MB, 5.3 MB built with ASan (the
# sanitizer build): skip where $N of them would not fit in memory.
my $asan = (slurp($HELLO) // '') =~ /AddressSanitizer/;
my ($avail) = (slurp('/proc/meminfo') // '') =~ /^MemAvailable:\s+(\d+) kB$/m;
my $need = $N * ($asan ? 8 : 2) * 1024 + 1024 * 1024;
plan(skip_all => sprintf('%d workers%s need about %.1f GB, %.1f GB available', $N,
    $asan ? ' built with ASan' : '', $need / 1048576, ($avail // 0) / 1048576))
    if ($avail // 0) < $need;

my $port = free_port();
my $ctl = "$TMPDIR/ctl";
my $conf = write_file("$TMPDIR/steer.conf", <<"END");
[clusterd]
workers = $N
control = $ctl
stop_timeout = 30s
[socket:http]
listen = 127.0.0.1:$port
reuseport = yes
[program]
command = /bin/sh -c 'test -e $TMPDIR/down.{worker} && exec sleep 1000; exec $HELLO'
ready = notify
ready_timeout = 1h
backoff_initial = 100ms
backoff_max = 100ms
[env]
HELLO_NOTIFY = 1
END

my $t0 = time();
my $c = start_clusterd(binary => '/bin/sh', args => ['-c',
    'ulimit -n "$0" && exec "$@"', $hard, $CLUSTERD, '-v', '-c', $conf]);
ok($c->wait_log(qr/^clusterd: $N workers ready$/m, 30 + $N / 25), "$N workers ready")
    or BAIL_OUT("$N workers do not start");
diag(sprintf('%d workers ready in %.1fs; clusterd holds %d descriptors', $N, time() - $t0,
    fd_count($c->pid) // -1));
my $log = log_text($c);
ok($log !~ /SO_ATTACH_REUSEPORT_CBPF/, 'every steering program was taken')
    or diag(($log =~ /^(.*SO_ATTACH_REUSEPORT_CBPF.*)$/m)[0]);
ok($log =~ /^clusterd: 127\.0\.0\.1:$port: steering to $N of $N sockets \(24 instructions\)$/m,
    "log: steering to $N of $N sockets (24 instructions: all in one run)")
    or diag(join("\n", grep { defined } (grep { /steering/ } split(/\n/, $log))[-3 .. -1]));

# {slot => pid} of the ready workers, and how many there are in all.
sub ready_slots {
	my $st = ctl_status($ctl) // return ({}, 0);
	my @w = @{ $st->{workers} // [] };
	return ({ map { ($_->{id} => $_->{pid}) } grep { ($_->{state} // '') eq 'ready' } @w },
	    scalar(@w));
}

# Wait until exactly the slots not in %$down are ready.
sub wait_ready_except {
	my ($down, $what) = @_;
	my $n = $N - keys(%$down);
	return wait_for(sub {
		my ($r, $all) = ready_slots();
		return $all == $N && keys(%$r) == $n && !grep { exists $r->{$_} } keys %$down;
	}, 20 + $N / 50, $what);
}

# Requests from 8 clients; returns the burst's result after checking that
# all were answered, only by ready slots.
sub spread {
	my ($what, $requests, $down) = @_;
	my $t = time();
	my $r = burst(port => $port, clients => 8, requests => $requests, timeout => 3);
	my @counts = map { $r->{ids}{$_} // 0 } grep { !$down->{$_} } 0 .. $N - 1;
	my $mean = ($r->{ok} || 1) / @counts;
	my $var = 0;
	$var += ($_ - $mean)**2 for @counts;
	$var /= @counts;
	my @sorted = sort { $b <=> $a } @counts;
	$r->{answered} = grep { $_ } @counts;
	$r->{dispersion} = $var / $mean;
	diag(sprintf('%s: %d requests in %.1fs, answered by %d of %d ready slots; '
	    . 'per slot: mean %.2f, variance/mean %.2f, busiest %d', $what, $r->{ok},
	    time() - $t, $r->{answered}, scalar(@counts), $mean, $r->{dispersion}, $sorted[0]));
	is($r->{failed}, 0, "$what: all $requests requests answered")
	    or diag(join("\n", @{ $r->{errors} }));
	my @wrong = grep { $down->{$_} || $_ >= $N } keys %{ $r->{ids} };
	is(scalar(@wrong), 0, "$what: none by a slot that is not ready")
	    or diag("answered by: @wrong");
	return $r;
}

# --- All ready ---
my $r = spread('all ready', 4 * $N, {});
# A client reuses some of its ports, and a port always lands on the same
# slot, so the counts vary more than chance alone (variance/mean 1): 1.2
# to 1.7 measured here.  The hash itself is checked for fairness, exactly,
# by t/steer-prog.t.
cmp_ok($r->{answered}, '>=', 0.9 * $N, "all ready: at least 90% of the $N slots answer");
cmp_ok($r->{dispersion}, '<=', 2.5, 'all ready: the load spreads evenly (variance/mean <= 2.5)');

# --- 40 slots not ready, all over the range ---
# Each gets a worker that never says READY=1.
my %down;
sub take_down {
	my ($slots, $what) = @_;
	my ($pids) = ready_slots();
	write_file("$TMPDIR/down.$_", '') for @$slots;
	my $killed = grep { kill(KILL => $pids->{$_} // 0) } @$slots;
	is($killed, scalar(@$slots), "$what: kill -9 the workers of " . scalar(@$slots) . ' slots');
	$down{$_} = 1 for @$slots;
	ok(wait_ready_except(\%down, "$what: the others ready"),
	    "$what: their new workers are not ready; every other slot is");
}

my @forty = map { int($_ * $N / 40) + 7 } 0 .. 39;
take_down(\@forty, '40 down');
ok($c->wait_log(qr/^clusterd: 127\.0\.0\.1:$port: steering to ${\ ($N - 40) } of $N sockets \(\d+ instructions\)$/m),
    'log: steering to ' . ($N - 40) . " of $N sockets");
$r = spread('40 not ready', 2 * $N, \%down);
cmp_ok($r->{answered}, '>=', 0.75 * ($N - 40), '40 not ready: at least 75% of the others answer');

# --- Every second slot not ready: more runs than one program holds ---
my @odd = grep { $_ % 2 && !$down{$_} } 0 .. $N - 1;
# A start of 3000 in random order may have been scattered too (said then,
# once): this phase's lines are counted from here.
my $mark = length(log_text($c));
take_down(\@odd, 'every 2nd down');
my $half = $N - keys(%down);
my ($left) = $c->wait_log(qr/^clusterd: 127\.0\.0\.1:$port: the ready slots are scattered in more runs than one steering program holds: (\d+) of \d+ get no new connections until more are ready$/m);
ok(defined $left, 'log: the ready slots are in more runs than a program holds')
    or diag(join("\n", grep { /steer/ } split(/\n/, log_text($c))));
ok(wait_for(sub { log_text($c) =~ /^clusterd: 127\.0\.0\.1:$port: steering to (\d+) of $N sockets \(\d+ instructions\)\n(?!.*steering to)/ms
    && $1 > $half * 0.8 && $1 < $half }, 5, 'the last program'),
    'steering to most but not all of the ready slots');
$r = spread('every 2nd not ready', 2 * $N, \%down);
cmp_ok($r->{answered}, '>=', 0.7 * $half, "every 2nd not ready: at least 70% of the $half ready slots answer");

# --- All back ---
unlink("$TMPDIR/down.$_") for keys %down;
# Those waiting for their file are killed so their next ones find it; a
# slot in backoff (no pid) starts anew with the file gone anyway.
my @waiting = grep { $down{ $_->{id} } } @{ (ctl_status($ctl) // {})->{workers} // [] };
my $sleepers = grep { kill(KILL => $_) } grep { defined } map { $_->{pid} } @waiting;
cmp_ok($sleepers, '>', 0, "kill the workers that are not ready ($sleepers running, "
    . scalar(@waiting) . ' slots)');
ok(wait_ready_except({}, 'all ready again'), "all back: $N ready");
ok($c->wait_log(qr/^clusterd: 127\.0\.0\.1:$port: steering to every ready slot again \(\d+\)$/m),
    'log: steering to every ready slot again');
# Said once a spell, not at each of the thousands of programs since: while
# 1500 workers are killed and come back, the ready set may be whole again
# for a moment and the next spell said again (seen under distcheck's load).
my @lines = substr(log_text($c), $mark) =~ /(scattered in more runs)/g;
my @updates = substr(log_text($c), $mark) =~ /(steering to \d+ of)/g;
ok(@lines >= 1 && @lines <= 3 && @updates > 100,
    'log: said that some were left out once a spell, not once a program ('
    . scalar(@lines) . ' times, ' . scalar(@updates) . ' programs)');
$r = spread('all back', 3 * $N, {});
cmp_ok($r->{answered}, '>=', 0.85 * $N, "all back: at least 85% of the $N slots answer");
cmp_ok(scalar(grep { $r->{ids}{$_} } @forty), '>=', 30, 'all back: so do the 40 that were down');

kill TERM => $c->pid;
is(wait_exit($c, 60), 0, 'exit 0');

done_testing();
