# Starting many workers does not stall clusterd's loop (issue 11 §4): each
# start waits for its child's exec, so clusterd starts them a slice at a
# time and serves signals and control requests in between. During
# `scale 0` -> `scale N` (a few hundred small sleepers) and a rolling
# restart that replaces them all at once (restart_batch), every `status`
# is answered within the bound and shows the workers coming up, and a
# SIGTERM in the middle of a scale-up stops clusterd at once: the workers
# not started yet are never started. The bound is generous for a loaded
# machine (the bench measures the 50 ms goal); before, clusterd was silent
# for the whole scale-up (0.9-2.5 s for 1000).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time sleep);
use Clusterd;

my $N = 300;
my $BOUND = timeout(0.25);
my $ctl = "$TMPDIR/latency.sock";
my $conf = write_file("$TMPDIR/latency.conf", <<'END');
[clusterd]
workers = 0
restart_batch = 1000
[program]
command = sleep 1000
END
my $c = start_clusterd(args => ['-c', $conf, '-l', 'none', '-s', $ctl]);
ok(wait_log($c, qr/no workers to start/, 5), 'clusterd runs with no worker');

# One request on a new connection; returns (seconds, answer).
sub timed {
	my ($line) = @_;
	my $t0 = time();
	my ($code, $msg, $body, $raw) = ctl_request($ctl, $line, 10);
	return (time() - $t0, $raw // '');
}

# Send a request without waiting for the answer (a clusterd that stalls
# answers it only once every worker is started).
sub send_only {
	my ($line) = @_;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ctl)
	    or die "connect $ctl: $!";
	syswrite($s, $line);
	return $s;
}

# The bound for this round: $BOUND, or five times the slowest of ten
# status answers at rest just before it, if the machine is that loaded now
# (a stalled loop shows in the count of ready workers jumping anyway).
sub bound {
	my $rest = 0;
	for (1 .. 10) {
		my ($s) = timed("status\n");
		$rest = $s if $s > $rest;
	}
	my $b = $BOUND > 5 * $rest ? $BOUND : 5 * $rest;
	diag(sprintf('status at rest: the slowest of 10 %.1f ms; the bound %.0f ms', $rest * 1000,
	    $b * 1000));
	return $b;
}

sub count_started { scalar(() = log_text($c) =~ /\) started(?: \(generation \d+\))?$/mg) }

for my $round (1, 2) {
	my $bound = bound();
	my $scale = send_only("scale $N\n");
	my ($max, $n, $seen, %counts) = (0, 0, 0);
	my $end = time() + timeout(30);
	while (time() < $end) {
		my ($s, $a) = timed("status\n");
		$n++;
		$max = $s if $s > $max;
		($seen) = $a =~ /(\d+) of $N workers ready/;
		$counts{$seen} = 1 if defined $seen;
		last if defined $seen && $seen == $N;
	}
	like(Clusterd::read_all($scale, 10), qr/^0 /, "round $round: scale $N answered");
	is($seen, $N, "round $round: $N workers ready");
	my $between = grep { $_ > 0 && $_ < $N } keys %counts;
	diag(sprintf('round %d: %d status answers during the scale-up, %d different counts '
	    . 'of ready workers, the slowest answer %.1f ms', $round, $n, $between, $max * 1000));
	# A stalled loop answers only before and after: the count jumps to N.
	cmp_ok($between, '>=', 3, "round $round: status answered as the workers came up");
	cmp_ok($max, '<', $bound, sprintf('round %d: every status answered within %.0f ms', $round,
	    $bound * 1000));

	# A rolling restart that replaces them all at once.
	my $restart = send_only("restart\n");
	($max, $n) = (0, 0);
	my $done;
	while (time() < $end + timeout(30)) {
		my ($s, $a) = timed("status\n");
		$n++;
		$max = $s if $s > $max;
		last if $done = $a =~ /generation @{[ $round + 1 ]}, $N of $N workers ready/
		    && $a !~ /rolling restart in progress/;
	}
	like(Clusterd::read_all($restart, 10), qr/^0 /, "round $round: restart answered");
	ok($done, "round $round: $N workers replaced");
	diag(sprintf('round %d: %d status answers during the rolling restart, the slowest %.1f ms',
	    $round, $n, $max * 1000));
	cmp_ok($max, '<', $bound, sprintf('round %d: every status answered within %.0f ms', $round,
	    $bound * 1000));

	my ($t, $ans) = timed("scale 0\n");
	like($ans, qr/^0 /, "round $round: scale 0");
	# The wait is the check: read again at once, a worker in its last
	# moments (exiting, its handlers gone) can count as not live and then
	# as live, a false alarm seen twice in CI.
	ok(wait_for(sub { !live_workers($c->pid) }, 20, 'the workers to be gone'),
	    "round $round: no worker left")
	    or diag(join("\n", map {
		my ($st, $env) = (proc_stat($_) // {}, proc_env($_) // {});
		"left: pid $_ comm " . ($st->{comm} // '?') . ' state ' . ($st->{state} // '?')
		    . ' worker ' . ($env->{CLUSTERD_WORKER_ID} // '?') . ' generation '
		    . ($env->{CLUSTERD_GENERATION} // '?') . ' cgroup '
		    . ((slurp("/proc/$_/cgroup") // '') =~ /^0::(\S*)/m ? $1 : '?')
	    } live_workers($c->pid)), log_text($c) =~ /^(clusterd: (?!worker \d+ \(pid \d+\) (?:started|killed by signal 15$)).*)$/mg);
}

# SIGTERM in the middle of a scale-up.
my $bound = bound();
my $before = count_started();
my $scale = send_only("scale $N\n");
wait_for(sub { count_started() >= $before + 20 }, 10, '20 workers started');
my $t0 = time();
kill('TERM', $c->pid);
my $told;
wait_for(sub {
	return 0 unless log_text($c) =~ /stopping \d+ workers?/;
	$told //= time();
	return 1;
}, 20, 'the stop to begin');
my $lat = ($told // time()) - $t0;
diag(sprintf('SIGTERM handled after %.1f ms', $lat * 1000));
cmp_ok($lat, '<', $bound, sprintf('SIGTERM handled within %.0f ms during a scale-up', $bound * 1000));
is(wait_exit($c, 20), 0, 'clusterd stopped, exit 0');
my $log = log_text($c);
my ($stopping) = $log =~ /stopping (\d+) workers?/;
my $started = count_started() - $before;
cmp_ok($started, '<', $N, "the scale-up was cut short ($started of $N started)");
is($stopping, $started, 'every started worker was stopped');
my ($after) = $log =~ /stopping \d+ workers?[^\n]*\n(.*)/s;
unlike($after // '', qr/\) started(?: \(generation \d+\))?$/m, 'none started after the stop began');

done_testing();
