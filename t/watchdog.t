# The per-worker watchdog: workers get WATCHDOG_USEC and WATCHDOG_PID; one
# that keeps sending WATCHDOG=1 keeps running, one that stops is stopped
# and replaced, and the log says watchdog.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Time::HiRes qw(time);

my $conf = write_file("$TMPDIR/wd.conf", <<"END");
[clusterd]
stop_timeout = 2s
control = $TMPDIR/ctl.sock
[program]
watchdog = 1s
END
my $c = start_clusterd(args => ['-n', 2, '-l', 'none', '-c', $conf, '--',
    $PYTHON3, $NOTIFY_WORKER, "ping=$TMPDIR/quiet-{worker}"]);
my @w = wait_workers($c->pid, 2, 5, 'python3');
is(scalar(@w), 2, 'two workers');
my %pid;
for my $p (@w) {
	my $env = proc_env($p);
	$pid{$env->{CLUSTERD_WORKER_ID}} = $p;
	is($env->{WATCHDOG_USEC}, 1000000, "$p: WATCHDOG_USEC=1000000");
	is($env->{WATCHDOG_PID}, $p, "$p: WATCHDOG_PID is its own pid");
	ok($env->{NOTIFY_SOCKET}, "$p: NOTIFY_SOCKET to ping");
}

# Pinging workers outlive the watchdog interval several times over.
my $t0 = time();
wait_for(sub { time() - $t0 > 2.5 || grep { !alive($_) } @w }, 5,
    'two and a half watchdog intervals');
# A timer due by now runs before clusterd answers a request that came
# later: the answer proves a missed watchdog would be in the log.
ok(defined((ctl_request("$TMPDIR/ctl.sock", "status\n", 5))[0]), 'status answers after 2.5s');
ok(!(grep { !alive($_) } @w), 'workers that ping keep running (2.5s)');
ok(!$c->log_matches(qr/watchdog/), 'no watchdog line in the log');

my ($p0, $p1) = @pid{0, 1};

# Worker 1 stops pinging.
my $quiet = time();
write_file("$TMPDIR/quiet-1", '');
my $to = dur_re(1);
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $p1\) watchdog timeout \(no WATCHDOG=1 within $to\); stopping it$/m, 5),
    'log: worker 1 (pid X) watchdog timeout (no WATCHDOG=1 within 1s); stopping it');
my $took = time() - $quiet;
cmp_ok($took, '>', 0.5, sprintf('not before the interval (%.2fs)', $took));
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $p1\) (exited|killed) .*; restarting/m),
    'then the normal exit line: restarting');
my ($new) = $c->wait_log(qr/^clusterd: worker 1 \(pid (?!$p1\))(\d+)\) started(?: \(generation \d+\))?$/m);
ok($new, 'worker 1 is replaced');
ok(wait_for(sub { !alive($pid{1}) }, 5), 'the silent worker is gone');
wait_workers($c->pid, 2, 5, 'python3');	# the replacement has exec'd
is((proc_env($new // 0) // {})->{WATCHDOG_PID}, $new,
    'the replacement has its own WATCHDOG_PID');
ok(alive($pid{0}), 'worker 0 untouched');

# The replacement pings again and is left alone.
$t0 = time();
wait_for(sub { time() - $t0 > 1.8 || !alive($new // 0) }, 5,
    'the replacement to live two intervals');
ok(defined((ctl_request("$TMPDIR/ctl.sock", "status\n", 5))[0]), 'status answers after 1.8s');
ok(alive($new // 0), 'the replacement keeps running');
is(scalar(() = log_text($c) =~ /watchdog timeout .*; stopping it$/mg), 1,
    'one watchdog timeout in all');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
